/* Tests of tasks/metrics.c: accuracy, F1, macro-F1, MCC, Pearson and Spearman against values
 * worked out by hand (sklearn / scipy conventions for degenerate inputs), and metrics_compute's
 * primary metric and errors. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tests/suites.h"

#define EPS 1e-9

/* ------------------------------------------------------------------ metrics */

START_TEST(test_metric_accuracy_f1)
{
    const int pred[] = {0, 1, 1, 0}, gold[] = {0, 1, 0, 0};
    ck_assert_double_eq_tol(metric_accuracy(pred, gold, 4), 0.75, EPS);
    /* TP = 1, predicted positives 2, gold positives 1: 2 / 3 */
    ck_assert_double_eq_tol(metric_f1(pred, gold, 4), 2.0 / 3.0, EPS);
    const int zeros[] = {0, 0, 0};
    ck_assert_double_eq_tol(metric_f1(zeros, zeros, 3), 0.0, EPS); /* sklearn zero_division */
    ck_assert(isnan(metric_accuracy(pred, gold, 0)));
}
END_TEST

START_TEST(test_metric_macro_f1)
{
    const int pred[] = {0, 0, 1, 2}, gold[] = {0, 1, 1, 2};
    /* class 0: 2*1/(1+2) = 2/3; class 1: 2*1/(2+1) = 2/3; class 2: 1 */
    ck_assert_double_eq_tol(metric_macro_f1(pred, gold, 4), (2.0 / 3 + 2.0 / 3 + 1) / 3, EPS);
    /* a class only predicted (3) counts with F1 0 */
    const int p2[] = {0, 3}, g2[] = {0, 0};
    /* class 0: 2*1/(2+1) = 2/3; class 3: 0 */
    ck_assert_double_eq_tol(metric_macro_f1(p2, g2, 2), (2.0 / 3) / 2, EPS);
}
END_TEST

START_TEST(test_metric_mcc)
{
    const int pred[] = {1, 1, 0, 0, 1}, gold[] = {1, 0, 0, 0, 1};
    /* TP 2 FP 1 TN 2 FN 0: (2*2 - 1*0) / sqrt(3*2*3*2) = 4 / 6 */
    ck_assert_double_eq_tol(metric_mcc(pred, gold, 5), 4.0 / 6.0, EPS);
    const int constant[] = {1, 1, 1, 1, 1};
    ck_assert_double_eq_tol(metric_mcc(constant, gold, 5), 0.0, EPS);     /* sklearn: 0 */
    ck_assert_double_eq_tol(metric_mcc(constant, constant, 5), 0.0, EPS); /* one class only */
    const int inv[] = {0, 1, 1, 1, 0};
    ck_assert_double_eq_tol(metric_mcc(inv, gold, 5), -1.0, EPS);
    /* multiclass (sklearn formula): c = 3, s = 6, t = p = (2,2,2): (18-12)/24 */
    const int p3[] = {0, 1, 2, 0, 1, 2}, g3[] = {0, 1, 2, 1, 2, 0};
    ck_assert_double_eq_tol(metric_mcc(p3, g3, 6), 0.25, EPS);
}
END_TEST

START_TEST(test_metric_correlations)
{
    const float x[] = {1, 2, 3, 4}, y[] = {2, 4, 5, 9};
    /* sxy = 11, sxx = 5, syy = 26 */
    ck_assert_double_eq_tol(metric_pearson(x, y, 4), 11.0 / sqrt(130.0), 1e-7);
    ck_assert_double_eq_tol(metric_spearman(x, y, 4), 1.0, 1e-12);
    /* ties: ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): 4.5 / sqrt(4.5 * 5) (= scipy 0.9486833) */
    const float xt[] = {1, 2, 2, 3}, yt[] = {1, 3, 2, 4};
    ck_assert_double_eq_tol(metric_spearman(xt, yt, 4), 4.5 / sqrt(22.5), 1e-12);
    double r[4];
    const float v[] = {3, 1, 3, 2};
    ck_assert_int_eq(metric_rank(r, v, 4), 0);
    ck_assert_double_eq(r[0], 3.5);
    ck_assert_double_eq(r[1], 1.0);
    ck_assert_double_eq(r[2], 3.5);
    ck_assert_double_eq(r[3], 2.0);
    /* a constant side: undefined (NaN) like scipy; n < 2 too */
    const float c[] = {2, 2, 2, 2};
    ck_assert(isnan(metric_pearson(c, y, 4)));
    ck_assert(isnan(metric_spearman(y, c, 4)));
    ck_assert(isnan(metric_pearson(x, y, 1)));
    const float neg[] = {4, 3, 2, 1};
    ck_assert_double_eq_tol(metric_pearson(x, neg, 4), -1.0, 1e-12);
}
END_TEST

START_TEST(test_metrics_compute_primary)
{
    struct metric_result m;
    struct err e = {0};
    /* STS-B with a constant predictor: Pearson/Spearman NaN, primary 0 (never NaN) */
    const float pc[] = {3, 3, 3}, gold_f[] = {1, 2, 5};
    ck_assert_int_eq(metrics_compute(&m, METRICS_REGRESSION, METRIC_PEARSON_SPEARMAN, NULL, NULL,
                                     pc, gold_f, 3, &e),
                     0);
    ck_assert(isnan(m.value[METRIC_PEARSON]));
    ck_assert_double_eq(m.primary_value, 0.0);
    /* a NaN prediction (diverged model) is a result, not an error */
    const float pn[] = {NAN, 1, 2};
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_REGRESSION, METRIC_PEARSON, NULL, NULL, pn, gold_f, 3, &e), 0);
    ck_assert_double_eq(m.primary_value, 0.0);
    /* MRPC: mean of accuracy and F1 */
    const int pred[] = {0, 1, 1, 0}, gold[] = {0, 1, 0, 0};
    ck_assert_int_eq(metrics_compute(&m, task_find("mrpc")->metrics, METRIC_ACC_F1, pred, gold,
                                     NULL, NULL, 4, &e),
                     0);
    ck_assert_double_eq_tol(m.primary_value, (0.75 + 2.0 / 3) / 2, EPS);
    ck_assert_double_eq_tol(m.value[METRIC_MCC], metric_mcc(pred, gold, 4), EPS);
    /* errors */
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_BINARY, METRIC_ACCURACY, pred, gold, NULL, NULL, 0, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "no examples"));
    const int unl[] = {0, -1};
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_BINARY, METRIC_ACCURACY, pred, unl, NULL, NULL, 2, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "gold label 1 is -1"));
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_MULTI, METRIC_F1, pred, gold, NULL, NULL, 4, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "'f1'"));
    ck_assert_int_eq(metric_find("pearson_spearman"), METRIC_PEARSON_SPEARMAN);
    ck_assert_int_eq(metric_find("nope"), -1);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_metric_accuracy_f1);
    tcase_add_test(tc, test_metric_macro_f1);
    tcase_add_test(tc, test_metric_mcc);
    tcase_add_test(tc, test_metric_correlations);
    tcase_add_test(tc, test_metrics_compute_primary);
    suite_add_tcase(s, tc);
    return s;
}
