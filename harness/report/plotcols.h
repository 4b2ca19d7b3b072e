/*
 * plotcols: a spec's columns resolved against the aggregated results.csv
 * (harness/report/aggregate.h), when its figures are made.
 *
 * A name a spec gives (x, y, group_by, split_by, filter columns) stands for:
 *   - "setting", the virtual column of each setting's label;
 *   - an exact results.csv column (a measure column also gets its index into
 *     agg_setting.stats, so its mean over seeds can be plotted);
 *   - a hyperparameter named without its method ("rank": every *.rank column);
 *   - names joined by '|' ("lora.rank|houlsby.bottleneck"), coalesced: a
 *     setting's value is its first non-empty cell among them.
 * Per-trial columns (seed, trial_id, index) are refused: figures aggregate
 * over trials.  Unknown names are ERR_CONFIG naming the spec field's
 * file:line:col, with a did-you-mean among the columns.
 */
#ifndef HARNESS_PLOTCOLS_H
#define HARNESS_PLOTCOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/report/aggregate.h"
#include "harness/report/plotspec.h"

#define PLOTCOLS_MAX_COALESCE 16 /* columns one x/y/group name may stand for */

/* A spec's column, resolved against results.csv. */
struct plotcol {
    int cols[PLOTCOLS_MAX_COALESCE]; /* candidate columns: the first non-empty cell is the value */
    int ncols;
    bool label;  /* the virtual column "setting" */
    int measure; /* index into agg_setting.stats, or -1 */
    char name[PLOT_COL_MAX];
};

/* Every column of one spec, resolved (the type's defaults filled in). */
struct plotcols {
    struct plotcol x, y[PLOT_MAX_LIST], group[PLOT_MAX_LIST], split[PLOT_MAX_LIST];
    struct plotcol filter[PLOT_MAX_FILTER];
    int ny, ngroup, nsplit;
};

/* Resolve sp's columns against a into *rv: x (line/scatter), y (each a measure, except for
 * curves, whose y is an epoch-record key), group_by (default: method, except for bars),
 * split_by (default: task, unless x or group_by names it) and the filter columns.  Errors
 * (ERR_CONFIG, ERR_LIMIT) name the spec field, or "figure OUTPUT" for built-in specs. */
int plotcols_resolve(const struct agg *a, const struct plot_spec *sp, struct plotcols *rv,
                     struct err *e);

/* Setting s passes sp's filter: for every filter column, its value equals one of the
 * filter's values (numbers compare numerically). */
bool plotcols_passes(const struct agg *a, const struct agg_setting *s, const struct plot_spec *sp,
                     const struct plotcols *rv);

/* The text of cr for setting s ("" when every candidate cell is empty). */
const char *plotcols_value(const struct agg *a, const struct agg_setting *s,
                           const struct plotcol *cr);

/* "lora targets=q,v": the values of refs[0..nrefs) for s into out (n bytes), each
 * hyperparameter as name=value; a series name or split part. */
void plotcols_values_text(char *out, size_t n, const struct agg *a, const struct agg_setting *s,
                          const struct plotcol *refs, int nrefs);

/* A column name after its first '.' ("lora.rank" -> "rank"), or the name. */
const char *plotcols_suffix(const char *col);

#endif
