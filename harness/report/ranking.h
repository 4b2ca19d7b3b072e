/*
 * ranking: the report's "Ranking" section -- per task, the methods ordered by
 * mean dev primary metric over seeds, each with its 95% confidence interval,
 * the methods statistically tied with the best marked, and a warning when
 * fewer than 3 seeds back a claim.
 *
 * The rule (also written into the section, so a reader of report.md sees it):
 *   - each method stands for its best setting on the task (highest mean dev
 *     primary metric; the primary metrics are all higher-is-better);
 *   - mean ± the half-width of the 95% Student-t interval (harness/report/stats.h);
 *   - a method is tied with the best when a two-sided t-test of equal means
 *     at alpha = 0.05 does not reject: paired by seed when both settings have
 *     values for exactly the same seeds (at least 2), Welch's unequal-variance
 *     test (Welch-Satterthwaite df) otherwise; the row says which test ran;
 *   - a method or best with fewer than 2 values cannot be tested ("untested");
 *     every row backed by fewer than 3 seeds is flagged, and the task gets a
 *     warning naming them.
 */
#ifndef HARNESS_RANKING_H
#define HARNESS_RANKING_H

#include "base/strbuf.h"
#include "harness/report/aggregate.h"

#define RANKING_ALPHA     0.05 /* tied when p >= alpha */
#define RANKING_MIN_SEEDS 3    /* fewer: the claim gets a warning */

/* Append "## Ranking" with one table per task of a (tasks in order of first row) to b.
 * Nothing when a has no primary_value column.  Out of memory shows as b->oom. */
void ranking_write(struct strbuf *b, const struct agg *a);

#endif
