/*
 * select: the "selected on dev" view of a sweep whose method blocks have
 * `tune:` settings (harness/sweep/sweep_block.h), for report.md and
 * selected.csv.
 *
 * A tuned trial's results.csv row names the train settings its block selects
 * on dev in the `tuned` column ("lr", or "lr;weight_decay").  Settings
 * (harness/report/aggregate.h) with the same tuned cell that agree on every
 * key column except the tuned train.* ones (model, task, method, the other
 * hyperparameters and train settings) are the candidates of one point, e.g.
 * "lora rank=8 on wn-pos".  Per point the candidate with the highest mean dev
 * primary metric over its ok seeds is selected (every primary metric is
 * higher-is-better; a tie goes to the first candidate in plan order;
 * candidates without a dev value are never selected), and its evaluation
 * metric is reported: test_primary_value when its trials have one (eval_test
 * on a labeled test split), else heldout_primary_value (the dev-heldout part
 * that selection never saw, see README "Tuning on dev"), else nothing.
 *
 * selected.csv (select_write_csv): one row per point:
 *     task, method, point, tuned, chosen, candidates, dev_n, dev_mean, dev_ci95_low, dev_ci95_high,
 *     eval_split ("test", "dev-heldout" or ""), eval_n, eval_mean, eval_std,
 *     eval_ci95_low, eval_ci95_high
 * (statistics as in summary.csv: empty when undefined).
 *
 * Library code: nothing here prints; errors go to struct err.
 */
#ifndef HARNESS_SELECT_H
#define HARNESS_SELECT_H

#include <stddef.h>

#include "base/err.h"
#include "base/strbuf.h"
#include "harness/report/aggregate.h"

struct sel_point {
    size_t first;            /* setting index of the point's first candidate */
    size_t chosen;           /* setting index of the selected candidate */
    int ncand;               /* candidates (settings) of the point */
    const char *eval_split;  /* "test", "dev-heldout" or NULL */
    struct agg_stat dev;     /* primary_value of the chosen candidate */
    struct agg_stat eval;    /* its test or held-out primary value (n = 0: none) */
};

struct selection {
    const struct agg *a;     /* borrowed */
    int col_tuned;           /* -1: no tuned column, nothing selected */
    struct sel_point *p;     /* owned: (n) in order of the first candidate */
    size_t n;
};

/* Group a's tuned settings into points and select one per point.  A sweep
 * without tuned trials gives n = 0 (not an error). */
int select_build(struct selection *s, const struct agg *a, struct err *e);
void select_free(struct selection *s);

/* The point's label ("lora rank=8": method and the untuned keys that vary
 * among its method's settings) and the chosen setting ("lr=0.001") into buf. */
const char *select_point_label(const struct selection *s, const struct sel_point *p, char *buf,
                               size_t size);
const char *select_chosen_label(const struct selection *s, const struct sel_point *p, char *buf,
                                size_t size);

/* Write selected.csv (layout above) atomically; nothing is written when s->n == 0. */
int select_write_csv(const struct selection *s, const char *path, struct err *e);

/* The report.md section "Selected on dev" (nothing when s->n == 0). */
void select_markdown(struct strbuf *b, const struct selection *s);

#endif
