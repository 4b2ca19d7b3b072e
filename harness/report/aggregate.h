/*
 * aggregate: a sweep's results.csv in memory, and its trials grouped into
 * settings with statistics over the seeds.
 *
 * A setting is everything that defines a trial except its seed: the model,
 * the task, the method label, every hyperparameter column (method.param) and
 * every train.* column.  For each setting and each measure column
 * (agg_measures: the metrics, parameter counts, throughput, memory, ...) the
 * trials with status ok give (harness/report/stats.h)
 *     n (finite values only: an empty cell is not a value), mean,
 *     std (sample standard deviation, divisor n-1), sem (std / sqrt(n)),
 *     ci95 (half-width of the 95% Student-t confidence interval of the mean,
 *     t(0.975, n-1) * sem), min, max.
 * With one value there is no spread: sem and ci95 are NaN, and std is 0 in
 * the struct (callers that print "mean ± std" keep working) but written
 * empty to summary.csv, like sem and the interval.
 * Diverged and failed trials are counted per setting, never averaged.
 *
 * Settings are kept in order of their first row in the file (plan order), so
 * figures and tables list them as the sweep file does.
 *
 * summary.csv (agg_write_summary): one row per setting:
 *     setting, model, task, method, <hyperparameter columns>, <train.* columns>,
 *     primary_metric, n, n_diverged, n_failed, seeds,
 *     then for each measure M present in results.csv:
 *     M_n, M_mean, M_std, M_sem, M_ci95_low, M_ci95_high, M_min, M_max
 *     (M_n: ok trials with a value of M; std, sem and the interval are empty
 *     when M_n < 2, every statistic is empty when M_n == 0).
 *
 * Library code: nothing here prints; errors go to struct err.
 */
#ifndef HARNESS_AGGREGATE_H
#define HARNESS_AGGREGATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/strbuf.h"

/* ---- results.csv as a table of text cells ------------------------------------- */

struct agg_table {
    char *path;  /* owned copy, for messages */
    char **cols; /* owned: (ncols) header names */
    int ncols;
    char **cells;  /* owned: (nrows * ncols) cell texts, row-major */
    size_t *lines; /* owned: (nrows) physical line of each row in the file (1-based) */
    size_t nrows;
};

/* Read a CSV file with a header line (RFC 4180, via tasks/tsv.h) into *t.
 * Errors: cannot open (ERR_IO), malformed CSV or a row whose field count
 * differs from the header's (ERR_FORMAT, "PATH:LINE: ..."), an empty file or
 * duplicate column names (ERR_FORMAT).  On failure *t is zeroed. */
int agg_table_load(struct agg_table *t, const char *path, struct err *e);

/* Free everything agg_table_load allocated and zero *t (NULL-safe, idempotent). */
void agg_table_free(struct agg_table *t);

/* Index of the column named name, or -1. */
int agg_table_col(const struct agg_table *t, const char *name);

/* Cell text of (row, col); "" when col < 0. */
const char *agg_table_cell(const struct agg_table *t, size_t row, int col);

/* Parse s as a finite number: the whole string, no surrounding space.  False
 * for "", "nan", "inf", "12abc". */
bool agg_parse_num(const char *s, double *v);

/* ---- statistics ------------------------------------------------------------------ */

struct agg_stat {
    double mean, std, min, max; /* NaN when n == 0; std 0 when n == 1 */
    double sem, ci95;           /* NaN when n < 2; the 95% interval is mean ± ci95 */
    int n;                      /* finite values that went in */
};

/* Statistics of the finite values among x[0..n) (NaN/Inf are skipped). */
void agg_stat_compute(struct agg_stat *s, const double *x, size_t n);

/* ---- settings --------------------------------------------------------------------- */

/* Measure columns (NULL-terminated), in summary.csv order.  Those absent from a
 * particular results.csv are left out of its aggregation. */
extern const char *const agg_measures[];

struct agg_setting {
    size_t row;   /* first row of the setting: its key values */
    size_t *rows; /* owned: (nrows) every row of the setting, file order */
    size_t nrows;
    int n_ok, n_diverged, n_failed; /* trials by status ("ok"/"diverged"/other) */
    struct agg_stat *stats;         /* owned: (agg.nmeasures) over the ok trials */
    char *label; /* owned: method plus the keys that vary for it, "lora rank=4" */
};

struct agg {
    const struct agg_table *t; /* borrowed: must outlive the agg */
    int *keys;                 /* owned: (nkeys) columns that define a setting */
    int nkeys;
    int *measures; /* owned: (nmeasures) columns of agg_measures present */
    int nmeasures;
    int col_task, col_method, col_seed, col_status, col_metric; /* -1 when absent */
    struct agg_setting *s; /* owned: (n) in order of first row */
    size_t n;
    bool *varies; /* owned: (n * ncols) column c varies among the settings
                   * sharing setting i's method label */
};

/* Group t's rows into settings.  t must have trial_id, task, method and
 * status columns (ERR_FORMAT naming the file otherwise).  On failure *a is
 * zeroed. */
int agg_build(struct agg *a, const struct agg_table *t, struct err *e);

/* Free everything agg_build allocated and zero *a (NULL-safe, idempotent). */
void agg_free(struct agg *a);

/* Index into agg_setting.stats of the measure column named col, or -1. */
int agg_measure_index(const struct agg *a, const char *col);

/* True when column col is a key (setting-defining) column. */
bool agg_is_key(const struct agg *a, int col);

/* Key columns that are hyperparameters ("method.param") or train settings ("train.x"). */
bool agg_is_hparam_col(const char *name);

/* Short display name of column col for setting s: "lora.rank" -> "rank" when
 * s's method label is "lora", "train.lr" -> "lr"; otherwise the column name. */
const char *agg_short_name(const struct agg *a, const struct agg_setting *s, int col);

/* Write summary.csv (layout above) to path, atomically. */
int agg_write_summary(const struct agg *a, const char *path, struct err *e);


#endif
