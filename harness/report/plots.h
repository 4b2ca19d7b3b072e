/*
 * plots: a sweep's figures, aggregated in C and drawn by gnuplot.
 *
 * For a results directory DIR (results.csv, trials/), plots_make
 *   1. aggregates results.csv over seeds (harness/report/aggregate.h) and writes
 *      DIR/summary.csv;
 *   2. builds the figure list: the default figures, then the sweep's `plots:`
 *      specs (a spec whose output names a default figure replaces it; the
 *      others are added);
 *   3. writes, per figure, DIR/plots/NAME.dat (the aggregated data, with a
 *      comment header naming the columns) and DIR/plots/NAME.gp, a script
 *      that runs standalone from DIR/plots (`cd DIR/plots && gnuplot NAME.gp`)
 *      and draws NAME.png (pngcairo, or gnuplot's png terminal when pngcairo
 *      is missing) and NAME.svg; and DIR/plots/figures.tsv, the manifest
 *      (NAME <tab> title, in figure order) that the report embeds;
 *   4. unless told not to, runs gnuplot on every script.  Without gnuplot on
 *      PATH it fails with a message saying so; everything of steps 1-3 stays.
 *
 * Default figures (each split into one figure per task when the sweep has
 * several tasks, named NAME-TASK):
 *   params       primary metric vs trainable parameters (log x), one series
 *                per method, mean over seeds with error bars;
 *   hp-PARAM     one per swept hyperparameter (a method.param or train.*
 *                column with more than one value within a method): metric vs
 *                value, a series per method (and per other swept column);
 *                categorical axes for non-numeric values (IA3 targets, ...).
 *                Columns of different methods with one name (houlsby.bottleneck,
 *                pfeiffer.bottleneck) share a figure hp-bottleneck;
 *   throughput   training tokens/s per setting (bars with error bars);
 *   memory       peak memory per setting, stacked by accountant category
 *                (frozen, trainable, grads, optimizer, activations,
 *                workspace; MiB), with the accountant's simultaneous peak as
 *                a point;
 *   curves       dev metric per epoch, one curve per method (its best
 *                setting), mean over seeds with error bars (from the trial JSON records).
 *
 * Plot specs (the sweep's `plots:` list of mappings): fields and defaults in
 * harness/report/plotspec.h, which this header includes with the spec API
 * (plots_parse, plots_load_sweep, plots_specs_free, plots_sanitize).
 *
 * The pieces, one file pair each in harness/report/: plotspec (specs),
 * figures (the default figure set, merged with the specs), plotcols (a
 * spec's columns resolved against results.csv), figctx (what the figure
 * writers share), figtypes (line/scatter, bar and curve figures), gnuplot
 * (script text and running gnuplot); plots.c holds plots_make.
 */
#ifndef HARNESS_PLOTS_H
#define HARNESS_PLOTS_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "harness/report/gnuplot.h"
#include "harness/report/plotspec.h"

struct plots_opts {
    bool render; /* run gnuplot on the scripts */
    FILE *warn;  /* warnings (settings sharing a point, missing trial files); NULL: none */
};

/* Make dir's figures as described at the top.  specs may be NULL (defaults
 * only).  *nfigures (may be NULL) gets the number of figures written.
 * Errors: no or unusable results.csv, a spec naming an unknown column
 * (file:line: field, did-you-mean), a write failure, gnuplot missing
 * (ERR_UNSUPPORTED) or failing on a script (ERR_IO, with its message). */
int plots_make(const char *dir, const struct plot_specs *specs, const struct plots_opts *o,
               int *nfigures, struct err *e);

#endif
