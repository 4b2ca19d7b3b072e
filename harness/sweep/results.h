/*
 * results: per-trial JSON records and the sweep's results.csv.
 *
 *   OUT/trials/<trial_id>.json   one record per finished trial (ok, diverged
 *                                or failed), written to a temporary file,
 *                                fsynced and renamed: a record is whole or absent.
 *   OUT/results.csv              rebuilt from every record after each trial
 *                                (and by `peftbench collect`): never appended in
 *                                place, so concurrent trials cannot corrupt it.
 */
#ifndef HARNESS_RESULTS_H
#define HARNESS_RESULTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

/* Write text to path atomically (path.tmp.<pid>, fsync, rename, fsync dir). */
int results_write_atomic(const char *path, const char *text, size_t len, struct err *e);

/* Testing aid: sleep PEFTBENCH_FAULT_SLOW_WRITE_MS milliseconds when that is set (a window
 * for killing a writer mid-write; harness/run/run.c lists the testing aids). */
void results_fault_pause(void);

/* mkdir -p */
int results_mkdirs(const char *path, struct err *e);

/* Write OUT/trials/<id>.json from a record (must hold "trial_id"). */
int results_write_trial(const char *out_dir, const cJSON *record, struct err *e);

/* Read OUT/trials/<id>.json; NULL with ERR_IO when absent (e->code == ERR_IO,
 * errno ENOENT tells "not there") or ERR_FORMAT when unreadable. */
cJSON *results_read_trial(const char *out_dir, const char *id, struct err *e);

/* True when a complete record for id exists (status ok or diverged; failed
 * counts too unless retry_failed). */
bool results_trial_done(const char *out_dir, const char *id, bool retry_failed);

/* Rebuild OUT/results.csv from every OUT/trials/<id>.json (sorted by "index",
 * then trial_id).  A corrupt record is an error naming its file.  *nrows gets
 * the row count. */
int results_rebuild_csv(const char *out_dir, int *nrows, struct err *e);

/* The same for the trials of one plan only: records whose trial_id is not among ids[0..nids)
 * (a sweep file changed between runs) stay on disk but are left out of results.csv, so the
 * CSV, summary, figures and report hold the current plan alone (never two grids, never a
 * duplicate index); *nother (may be NULL) gets their count.  ids == NULL: every record. */
int results_rebuild_csv_plan(const char *out_dir, const char *const *ids, size_t nids,
                             int *nrows, int *nother, struct err *e);

/* The fixed CSV columns, in order (NULL-terminated), for the README and tests. */
extern const char *const results_fixed_columns[];

/* Environment object for records: version, git commit, compiler, OpenBLAS
 * config and threads, CPU model, host. */
cJSON *results_environment(void);

#endif
