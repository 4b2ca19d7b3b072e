/*
 * plan_csv: results.csv holds the trials of the current plan only.
 *
 * A sweep file edited between runs leaves records of trials it no longer plans in
 * OUT/trials/.  They stay on disk (nothing is deleted; a revert finds them again) but are left
 * out of results.csv, and so of summary.csv, the figures and report.md, which read it: never
 * a duplicate plan index, never two grids in one figure.  `run` and `collect` report how many
 * records were left out ("not in this sweep").
 */
#ifndef HARNESS_RUN_PLAN_CSV_H
#define HARNESS_RUN_PLAN_CSV_H

#include "base/err.h"

struct sweep;

/* Rebuild out_dir/results.csv from the records of sw's trials (results_rebuild_csv_plan);
 * *nrows and *nother (each may be NULL) get the rows written and the records left out. */
int run_plan_csv(const char *out_dir, const struct sweep *sw, int *nrows, int *nother,
                 struct err *e);

#endif
