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
 * Plot specs (the sweep's `plots:` list of mappings):
 *   output    figure name (file stem; [A-Za-z0-9._-]); default "<y>-vs-<x>"
 *             or "<type>-<y>".  Naming a default figure replaces it.
 *   type      line (default) | scatter | bar | curve
 *   x         line/scatter: a results.csv column: a measure (its mean over
 *             seeds is used), a hyperparameter ("lora.rank", or just "rank":
 *             every column named *.rank, first non-empty), task, method, ...
 *             Not used by bar and curve.
 *   y         a measure column (default primary_value); bar: a list stacks;
 *             curve: dev_primary (default) or train_loss.
 *   group_by  column or list: one series per distinct value (default method;
 *             "setting" is the setting's label).  Not used by bar.
 *   split_by  column or list: one figure per distinct value (default task,
 *             unless task is x or in group_by; [] for none).
 *   filter    mapping column: value or [values]: keep settings whose cell
 *             equals one of them (numbers compare numerically).
 *   logx, logy  true | false (default: automatic for x, off for y)
 *   errors    std (default) | sem | minmax | none
 *   title, xlabel, ylabel   text
 *   enabled   false drops the figure (e.g. a default)
 * Unknown fields are errors naming file:line:col with a did-you-mean; column
 * names are checked against results.csv when the figures are made, with the
 * position of the spec field in the message.
 */
#ifndef HARNESS_PLOTS_H
#define HARNESS_PLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "harness/sweep/yaml.h"
#include "base/err.h"

#define PLOT_MAX_LIST   16 /* y columns, group_by/split_by columns, filter values */
#define PLOT_MAX_FILTER 8
#define PLOT_NAME_MAX   96
#define PLOT_COL_MAX    128
#define PLOT_WHERE_MAX  200
#define PLOT_TEXT_MAX   256

enum plot_type { PLOT_LINE = 0, PLOT_SCATTER, PLOT_BAR, PLOT_CURVE };
enum plot_errors { PLOT_ERRORS_STD = 0, PLOT_ERRORS_SEM, PLOT_ERRORS_MINMAX, PLOT_ERRORS_NONE };

/* A column named by a spec, with where it was named. */
struct plot_ref {
    char name[PLOT_COL_MAX];
    char where[PLOT_WHERE_MAX]; /* "file:line:col: plots[i].field" ("" for built-in specs) */
};

struct plot_filter {
    struct plot_ref col;
    char values[PLOT_MAX_LIST][PLOT_COL_MAX];
    int nvalues;
};

struct plot_spec {
    char output[PLOT_NAME_MAX]; /* file stem in plots/ */
    char where[PLOT_WHERE_MAX]; /* "file:line:col" of the spec, for messages */
    enum plot_type type;
    struct plot_ref x; /* name "" when not given */
    struct plot_ref y[PLOT_MAX_LIST];
    int ny;
    struct plot_ref group_by[PLOT_MAX_LIST];
    int ngroup;
    bool group_given; /* false: the type's default */
    struct plot_ref split_by[PLOT_MAX_LIST];
    int nsplit;
    bool split_given;
    struct plot_filter filter[PLOT_MAX_FILTER];
    int nfilter;
    int logx, logy; /* -1 automatic, 0 off, 1 on */
    enum plot_errors errors;
    char title[PLOT_TEXT_MAX], xlabel[PLOT_TEXT_MAX], ylabel[PLOT_TEXT_MAX];
    bool enabled;
    bool builtin; /* a default figure: no "settings share a point" warnings */
};

struct plot_specs {
    struct plot_spec *v; /* owned: (n) */
    int n;
};

/* Parse and validate a `plots:` node (NULL or null: no specs) into *ps.
 * Errors (ERR_CONFIG) name file:line:col and the field: not a list, an item
 * that is not a mapping, an unknown field (did-you-mean), a bad type/errors
 * value, a list where one value is expected, a duplicate output name.  On
 * failure *ps is empty. */
int plots_parse(struct plot_specs *ps, const struct ynode *plots, struct err *e);

/* Load a sweep YAML file (includes resolved) and parse its `plots:`; name
 * (size n) receives the sweep name (the `sweep:` key, else the file name
 * without extension). */
int plots_load_sweep(struct plot_specs *ps, char *name, size_t n, const char *yaml_path,
                     struct err *e);

/* Free the specs (NULL-safe, idempotent). */
void plots_specs_free(struct plot_specs *ps);

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

/* `gnuplot --version` into buf (e.g. "gnuplot 5.4 patchlevel 4"); ERR_UNSUPPORTED
 * with an install hint when gnuplot cannot be run. */
int plots_gnuplot_version(char *buf, size_t n, struct err *e);

/* Output name stem from any text: characters outside [A-Za-z0-9._-] become '_'. */
void plots_sanitize(char *out, size_t n, const char *in);

#endif
