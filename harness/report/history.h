/*
 * history: the nightly's memory -- one plain CSV per run under ROOT/history/ (ROOT is
 * results/nightly for `make nightly`), and `peftbench history DIR... [--out ROOT]`
 * (harness/cli/history_cmd.c), which
 * appends each results directory's run and rewrites ROOT/history.html (history_html.h).
 *
 * A run is keyed by its commit, its date and the machine's GEMM calibration, read from its
 * results.csv: git_commit (first non-empty cell, else "unknown"), started_at (the earliest
 * trial start, ISO 8601 UTC; results.csv's modification time when the column is absent or
 * empty) and calibration_gflops (first finite cell).  Its file is
 *     ROOT/history/<date>_<commit>_<calibration>.csv     e.g. 2025-01-31T02-00-05Z_dbc3298_61.4.csv
 * (':' and anything outside [A-Za-z0-9.-] written as '-'; "nocal" without a calibration), so
 * the names sort by date.  Appending the same results directory again rewrites the same file
 * with the same bytes: replaying a commit's results directory (after the fact, or twice) is
 * idempotent, and a run resumed with more trials replaces its earlier, partial row set.
 *
 * History CSV format (RFC 4180, header line, one row per trial, columns in this order):
 *     run_date, git_commit, calibration_gflops   the run's key (repeated on every row, so the
 *                                                files concatenate into one table)
 *     sweep, trial_id, task, method, setting, seed, status
 *                                                setting: method plus the hyperparameters that
 *                                                vary in the sweep ("lora rank=4")
 *     primary_metric, primary_value              the dev metric
 *     train_tokens_per_s, throughput_per_gflop   raw training throughput, and divided by the
 *                                                calibration (empty without one)
 *     mem_peak_total                             accountant's peak memory, bytes
 *     params_trainable, params_total             parameter counts
 *     message                                    why a trial failed or diverged
 * Empty cell: no value.  Numbers as %.9g.
 */
#ifndef HARNESS_REPORT_HISTORY_H
#define HARNESS_REPORT_HISTORY_H

#include <stddef.h>

#include "base/err.h"

#define HISTORY_DIR "history"       /* under ROOT */
#define HISTORY_PAGE "history.html" /* under ROOT */

/* The history CSV's columns, in order (NULL-terminated). */
extern const char *const history_columns[];

/* Append the run in results_dir (its results.csv) to root/history/, creating the directory.
 * The file's name (without directory) goes to name[0..n).  Errors: unusable results.csv, no
 * trials, a write failure. */
int history_append(const char *results_dir, const char *root, char *name, size_t n,
                   struct err *e);

#endif
