/*
 * Seed statistics (harness/report/stats.h) against hand-computed values: mean,
 * sample std, standard error and the 95% Student-t interval of small samples;
 * t quantiles against published tables and t CDFs against closed forms; the
 * Welch and paired t-test p-values on worked examples (references computed by
 * direct numerical integration of the t density, independent of the
 * incomplete beta used here); n = 1 giving no spread rather than 0.  Then the
 * report's ranking (harness/report/ranking.h) on a hand-made results.csv: the
 * order, mean ± CI, a tie by the paired test, a tie by Welch's test, a method
 * below the best, and the fewer-than-3-seeds warning.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "harness/report/aggregate.h"
#include "harness/report/ranking.h"
#include "harness/report/stats.h"
#include "tests/suites.h"

START_TEST(sample_summary_hand_computed)
{
    const double x[] = {1, 2, 3, 4};
    struct stats_summary s;
    stats_summarize(&s, x, 4);
    ck_assert_int_eq(s.n, 4);
    ck_assert_double_eq_tol(s.mean, 2.5, 1e-12);
    ck_assert_double_eq_tol(s.std, 1.2909944, 1e-7);
    ck_assert_double_eq_tol(s.sem, 0.6454972, 1e-7);
    ck_assert_double_eq_tol(s.ci95, 2.0542603, 1e-6); /* 3.1824463 * 0.6454972 */

    /* non-finite values are not values */
    const double y[] = {NAN, 0.70, INFINITY, 0.74, 0.72};
    stats_summarize(&s, y, 5);
    ck_assert_int_eq(s.n, 3);
    ck_assert_double_eq_tol(s.mean, 0.72, 1e-12);
    ck_assert_double_eq_tol(s.std, 0.02, 1e-12);
    ck_assert_double_eq_tol(s.ci95, 4.3026527 * 0.02 / sqrt(3.0), 1e-7);
}
END_TEST

START_TEST(one_value_has_no_spread)
{
    const double x[] = {5.5};
    struct stats_summary s;
    stats_summarize(&s, x, 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 5.5);
    ck_assert(isnan(s.std) && isnan(s.sem) && isnan(s.ci95));
    stats_summarize(&s, NULL, 0);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.mean) && isnan(s.std));
    ck_assert(isnan(stats_ci95_half(1.0, 1)) && isnan(stats_sem(1.0, 0)));

    /* the aggregate keeps std 0 for callers printing mean ± std, but sem/ci95 are NaN */
    struct agg_stat a;
    agg_stat_compute(&a, x, 1);
    ck_assert_double_eq(a.std, 0.0);
    ck_assert(isnan(a.sem) && isnan(a.ci95));
    const double q[] = {1, 2, 3, 4};
    agg_stat_compute(&a, q, 4);
    ck_assert_double_eq_tol(a.sem, 0.6454972, 1e-7);
    ck_assert_double_eq_tol(a.ci95, 2.0542603, 1e-6);
}
END_TEST

START_TEST(t_quantiles_match_tables)
{
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 1), 12.7062047, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 2), 4.3026527, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 3), 3.1824463, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 5), 2.5705818, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 30), 2.0422725, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.975, 1000), 1.9623391, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.995, 10), 3.1692727, 1e-6);
    ck_assert_double_eq_tol(stats_t_quantile(0.025, 5), -2.5705818, 1e-6);
    ck_assert_double_eq(stats_t_quantile(0.5, 7), 0.0);
    ck_assert(isnan(stats_t_quantile(0.975, 0)) && isnan(stats_t_quantile(1.0, 3)));
}
END_TEST

START_TEST(t_cdf_closed_forms)
{
    /* df 1 is Cauchy: 1/2 + atan(t)/pi; df 2: 1/2 + t / (2 sqrt(2 + t^2)) */
    const double ts[] = {-3.0, -0.5, 0.0, 0.3, 1.0, 2.5, 40.0};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        double t = ts[i];
        ck_assert_double_eq_tol(stats_t_cdf(t, 1), 0.5 + atan(t) / M_PI, 1e-12);
        ck_assert_double_eq_tol(stats_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-12);
    }
    ck_assert_double_eq_tol(stats_t_cdf(2.0, 5), 0.9490302606, 1e-9);
    /* the incomplete beta at a symmetric point, and its ends */
    ck_assert_double_eq_tol(stats_betai(2.5, 2.5, 0.5), 0.5, 1e-13);
    ck_assert_double_eq_tol(stats_betai(1, 1, 0.3), 0.3, 1e-13);
    ck_assert_double_eq(stats_betai(2, 3, 0), 0.0);
    ck_assert_double_eq(stats_betai(2, 3, 1), 1.0);
}
END_TEST

START_TEST(welch_and_paired_p_values)
{
    /* {1,2,3,4} vs {3,4,5,6,8}: t = -2.5104967, Welch df = 6.8690005, p = 0.0409899 */
    double df = 0;
    double p = stats_welch_p(2.5, 1.2909944487, 4, 5.2, 1.9235384062, 5, &df);
    ck_assert_double_eq_tol(df, 6.8690005, 1e-6);
    ck_assert_double_eq_tol(p, 0.0409899, 1e-6);
    /* Wikipedia's Welch example 1 (A1, A2; 15 each): t = -2.4554, df = 24.9885, p = 0.021378 */
    const double a1[] = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                         21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
    const double a2[] = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                         24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
    struct stats_summary s1, s2;
    stats_summarize(&s1, a1, 15);
    stats_summarize(&s2, a2, 15);
    p = stats_welch_p(s1.mean, s1.std, 15, s2.mean, s2.std, 15, &df);
    ck_assert_double_eq_tol(df, 24.9885293, 1e-6);
    ck_assert_double_eq_tol(p, 0.0213780, 1e-6);
    /* symmetric in the two samples */
    ck_assert_double_eq_tol(stats_welch_p(s2.mean, s2.std, 15, s1.mean, s1.std, 15, NULL), p,
                            1e-14);
    /* untestable and degenerate cases */
    ck_assert(isnan(stats_welch_p(1, 0.1, 1, 2, 0.1, 3, &df)) && isnan(df));
    ck_assert_double_eq(stats_welch_p(1, 0, 3, 1, 0, 3, NULL), 1.0);
    ck_assert_double_eq(stats_welch_p(1, 0, 3, 2, 0, 3, NULL), 0.0);

    /* paired: d = {0.01, 0.03, 0.02}: t = 2 sqrt(3), df 2, p = 1 - t / sqrt(2 + t^2) */
    const double d[] = {0.01, 0.03, 0.02};
    double t = 2 * sqrt(3.0);
    ck_assert_double_eq_tol(stats_paired_p(d, 3), 1 - t / sqrt(2 + t * t), 1e-9);
    ck_assert_double_eq_tol(stats_paired_p(d, 3), 0.0741799, 1e-6);
    ck_assert(isnan(stats_paired_p(d, 1)));
    const double same[] = {0.1, 0.1};
    ck_assert_double_eq(stats_paired_p(same, 2), 0.0);
}
END_TEST

/* ---- ranking on a hand-made results.csv ----------------------------------------------- */

/* Task t1:
 *   m1 seeds 1,2,3: 0.80 0.82 0.84 (mean 0.82, sd 0.02): the best;
 *   m2 seeds 1,2,3: 0.79 0.83 0.81: same seeds, so paired; d = -0.01 0.01 -0.03,
 *       t = -0.866, df 2, p = 0.478: tied;
 *   m4 seeds 4,5,6: 0.80 0.81 0.79: other seeds, so Welch; t = 1.549, df 2.94, p = 0.22: tied;
 *   m3 seeds 1,2 (lr 1e-3) 0.50 0.52, (lr 1e-4) 0.40 0.41: best setting lr=0.001, Welch,
 *       far below; only 2 seeds: warned. */
static const char *const ranking_csv =
    "trial_id,task,method,seed,status,primary_metric,primary_value,train.lr\n"
    "a1,t1,m1,1,ok,accuracy,0.80,\n"
    "a2,t1,m1,2,ok,accuracy,0.82,\n"
    "a3,t1,m1,3,ok,accuracy,0.84,\n"
    "b1,t1,m2,1,ok,accuracy,0.79,\n"
    "b2,t1,m2,2,ok,accuracy,0.83,\n"
    "b3,t1,m2,3,ok,accuracy,0.81,\n"
    "c1,t1,m3,1,ok,accuracy,0.50,0.001\n"
    "c2,t1,m3,2,ok,accuracy,0.52,0.001\n"
    "c3,t1,m3,3,failed,accuracy,,0.001\n"
    "c4,t1,m3,1,ok,accuracy,0.40,0.0001\n"
    "c5,t1,m3,2,ok,accuracy,0.41,0.0001\n"
    "d1,t1,m4,4,ok,accuracy,0.80,\n"
    "d2,t1,m4,5,ok,accuracy,0.81,\n"
    "d3,t1,m4,6,ok,accuracy,0.79,\n"
    "e1,t2,m1,1,ok,f1,0.6,\n";

static char *ranking_text(void)
{
    char dir[] = "/tmp/peftbench-stats-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(ranking_csv, f);
    fclose(f);
    struct agg_table t;
    struct agg a;
    struct err e;
    ck_assert_msg(agg_table_load(&t, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(agg_build(&a, &t, &e) == 0, "%s", e.msg);
    struct strbuf b = {0};
    ranking_write(&b, &a);
    ck_assert(!b.oom);
    agg_free(&a);
    agg_table_free(&t);
    unlink(path);
    rmdir(dir);
    return strbuf_take(&b);
}

/* The table line of rank table row starting "| RANK | METHOD |". */
static const char *line_of(const char *text, const char *start)
{
    const char *p = strstr(text, start);
    ck_assert_msg(p != NULL, "no line starting '%s' in:\n%s", start, text);
    return p;
}

START_TEST(ranking_marks_ties_and_few_seeds)
{
    char *r = ranking_text();
    ck_assert_ptr_nonnull(strstr(r, "## Ranking"));
    ck_assert_ptr_nonnull(strstr(r, "### t1 (dev accuracy)"));
    ck_assert_ptr_nonnull(strstr(r, "### t2 (dev f1)"));
    /* m1 best: 0.82 ± 4.3026527 * 0.02 / sqrt(3) = 0.0497 */
    const char *l = line_of(r, "| 1 | m1 |");
    ck_assert_msg(strncmp(l, "| 1 | m1 | m1 | 0.8200 ± 0.0497 | 3 | **best** |", 48) == 0, "%s", l);
    /* m2: the same seeds: paired, tied, shares rank 1 */
    l = line_of(r, "| 1 | m2 |");
    ck_assert_msg(strstr(l, "**tied with best** | paired by seed, p = 0.478") ==
                      l + strcspn(l, "*"),
                  "%.200s", l);
    /* m4: other seeds: Welch, tied */
    l = line_of(r, "| 1 | m4 |");
    ck_assert_msg(strncmp(strstr(l, "**tied"), "**tied with best** | Welch, p = 0.2", 35) == 0,
                  "%.200s", l);
    /* m3: its best setting (lr 0.001), 2 seeds, below, flagged and warned about */
    l = line_of(r, "| 4 | m3 | m3 lr=0.001 | 0.5100 ± 0.1271 | 2 ⚠ | below best | Welch, p = ");
    ck_assert_ptr_nonnull(l);
    ck_assert_ptr_nonnull(strstr(r, "**Warning:** fewer than 3 seeds back m3 lr=0.001 (n = 2)"));
    /* t2: one seed: no interval, the warning */
    ck_assert_ptr_nonnull(strstr(r, "| 1 | m1 | m1 | 0.6000 (no interval) | 1 ⚠ | **best** |"));
    ck_assert_ptr_nonnull(strstr(r, "fewer than 3 seeds back m1 (n = 1)"));
    ck_assert_ptr_nonnull(strstr(r, "paired by seed when both settings have values for the same "
                                    "seeds, Welch's unequal-variance test otherwise"));
    free(r);
}
END_TEST

Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("numerics");
    tcase_add_test(tc, sample_summary_hand_computed);
    tcase_add_test(tc, one_value_has_no_spread);
    tcase_add_test(tc, t_quantiles_match_tables);
    tcase_add_test(tc, t_cdf_closed_forms);
    tcase_add_test(tc, welch_and_paired_p_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("ranking");
    tcase_add_test(tc, ranking_marks_ties_and_few_seeds);
    suite_add_tcase(s, tc);
    return s;
}
