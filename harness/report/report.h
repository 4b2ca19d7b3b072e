/*
 * report: DIR/report.md, the markdown summary of a sweep's results.
 *
 * Sections: the sweep (name, model, tasks, seeds, trial counts by status and
 * the resolved sweep.yaml), the environment (from the trial records'
 * "environment" objects, with a note when the records come from more than
 * one environment), one table per task (method, hyperparameters that vary,
 * primary metric mean ± std over seeds, seeds, trainable %, training
 * tokens/s, accountant peak memory), the best setting per method and task,
 * and the figures listed in DIR/plots/figures.tsv (embedded by relative PNG
 * path; figures not drawn yet are named with the command that draws them).
 */
#ifndef HARNESS_REPORT_H
#define HARNESS_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

struct sweep;

/* Write dir/report.md from dir/results.csv, dir/trials/ and dir/plots/.
 * Errors: no or unusable results.csv, a write failure. */
int report_write(const char *dir, struct err *e);

/* The end of `peftbench run`: figures (the defaults plus sw's `plots:`, read
 * from sw->path so that messages name its lines) and the report.  Never
 * fails: a problem is printed to errf as a warning, with the command that
 * retries it. */
void report_after_run(const char *dir, const struct sweep *sw, bool quiet, FILE *out, FILE *errf);

#endif
