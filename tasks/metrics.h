/*
 * metrics: evaluation metrics of classification and regression tasks.
 *
 * Definitions follow scikit-learn / SciPy so that numbers are comparable with
 * published GLUE results; edge cases are decided as follows (and tested):
 *  - n == 0: every metric is NaN (there is nothing to score; metrics_compute
 *    refuses it with ERR_CONFIG instead).
 *  - F1 (binary, positive class 1): 2TP / (2TP + FP + FN); 0 when the
 *    denominator is 0 (no positive in gold nor prediction), as sklearn's
 *    zero_division default.
 *  - macro-F1: unweighted mean of the per-class F1 over the classes that occur
 *    in gold or prediction (sklearn's default `labels`), each class's F1 being
 *    0 when undefined as above.
 *  - MCC: the multiclass generalisation (Gorodkin 2004), as sklearn's
 *    matthews_corrcoef; 0 when either gold or prediction has a single class
 *    (the denominator is 0: sklearn returns 0).
 *  - Pearson / Spearman: NaN when n < 2 or either side is constant, as
 *    scipy.stats (the correlation is undefined there).  Spearman is Pearson on
 *    average ranks (ties share the mean of the ranks they span).
 *  - Primary metrics are never NaN: the combined "pearson_spearman" score and
 *    every metric used as a task's primary read an undefined correlation as 0
 *    (a constant predictor has no skill), so best-epoch selection and sweeps
 *    compare finite numbers.  The individual NaN stays visible in results.
 */
#ifndef TASKS_METRICS_H
#define TASKS_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

enum metric_id {
    METRIC_ACCURACY = 0,
    METRIC_F1, /* binary F1 of class 1 */
    METRIC_MACRO_F1,
    METRIC_MCC,
    METRIC_PEARSON,
    METRIC_SPEARMAN,
    METRIC_ACC_F1,           /* (accuracy + F1) / 2: GLUE MRPC, QQP */
    METRIC_PEARSON_SPEARMAN, /* (Pearson + Spearman) / 2, NaN read as 0: GLUE STS-B */
    METRIC_COUNT
};

#define METRIC_BIT(m) (1u << (m))
#define METRICS_CLASS_BINARY                                                                       \
    (METRIC_BIT(METRIC_ACCURACY) | METRIC_BIT(METRIC_F1) | METRIC_BIT(METRIC_MACRO_F1) |           \
     METRIC_BIT(METRIC_MCC))
#define METRICS_CLASS_MULTI                                                                        \
    (METRIC_BIT(METRIC_ACCURACY) | METRIC_BIT(METRIC_MACRO_F1) | METRIC_BIT(METRIC_MCC))
#define METRICS_REGRESSION                                                                         \
    (METRIC_BIT(METRIC_PEARSON) | METRIC_BIT(METRIC_SPEARMAN) | METRIC_BIT(METRIC_PEARSON_SPEARMAN))

/* Canonical name ("accuracy", "f1", "macro_f1", "mcc", "pearson", "spearman",
 * "acc_f1", "pearson_spearman"); "?" for an invalid id. */
const char *metric_name(int id);
/* Id of a canonical name, or -1. */
int metric_find(const char *name);
/* True for the metrics of regression tasks (Pearson, Spearman and their mean). */
bool metric_is_regression(int id);

/* Class-id metrics over pred[0..n), gold[0..n).  Labels are ints >= 0 (a negative
 * label is a class like any other: callers validate ranges). */
double metric_accuracy(const int *pred, const int *gold, size_t n);
double metric_f1(const int *pred, const int *gold, size_t n);
double metric_macro_f1(const int *pred, const int *gold, size_t n);
double metric_mcc(const int *pred, const int *gold, size_t n);

/* Correlations of x[0..n) and y[0..n) (double accumulation). */
double metric_pearson(const float *x, const float *y, size_t n);
double metric_spearman(const float *x, const float *y, size_t n);

/* Average ranks (1-based; ties get the mean of their ranks) of x[0..n) into rank[0..n).
 * Returns 0 or ERR_NOMEM. */
int metric_rank(double *rank, const float *x, size_t n);

struct metric_result {
    unsigned mask;              /* METRIC_BIT of each metric computed */
    double value[METRIC_COUNT]; /* value[id] valid when mask has id; may be NaN (see top) */
    int primary;                /* enum metric_id */
    double primary_value;       /* value[primary] with NaN read as 0: never NaN */
    size_t n;                   /* examples scored */
};

/* Compute the metrics of `mask` and the primary one.  Classification: pred and
 * gold (n) class ids; regression: pred_f and gold_f (n) values (the other pair
 * may be NULL; a mask may not mix both kinds).  A non-finite prediction is a
 * result (a diverged model): the correlations become NaN and the primary 0.
 * Errors: n == 0, a needed array NULL, an empty or mixed mask, a primary outside
 * the mask (ERR_CONFIG); a negative gold label, i.e. an unlabeled split
 * (ERR_CONFIG, naming the index); a non-finite gold value (ERR_NUMERIC, naming
 * the index); out of memory. */
int metrics_compute(struct metric_result *out, unsigned mask, int primary, const int *pred,
                    const int *gold, const float *pred_f, const float *gold_f, size_t n,
                    struct err *e);

#endif
