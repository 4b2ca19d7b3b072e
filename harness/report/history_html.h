/*
 * history_html: ROOT/history.html, the nightly's history page, from the run files in
 * ROOT/history/ (format: history.h).
 *
 * Runs in file-name order (date, commit).  Per trial and per measure -- dev metric,
 * throughput per GFLOP/s of calibration, peak memory, trainable parameters -- a line over the
 * runs (inline SVG polyline; gaps where a run lacks the trial), with each change between a
 * run and the previous run holding the trial marked as compare judges it
 * (harness/report/compare.h, same rules and tolerances): red a regression, green an
 * improvement.  Then the latest run's verdicts against the run before it, in a sortable,
 * filterable table (status select: the verdict), and trials of the previous run missing
 * from the latest.
 */
#ifndef HARNESS_REPORT_HISTORY_HTML_H
#define HARNESS_REPORT_HISTORY_HTML_H

#include "base/err.h"
#include "harness/report/compare.h"

/* Write root/history.html from the .csv files in root/history/.  Errors: no run files, an unusable run
 * file (named), a write failure. */
int history_html_write(const char *root, const struct compare_opts *o, struct err *e);

#endif
