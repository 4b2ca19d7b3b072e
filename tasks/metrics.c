/*
 * metrics: accuracy, F1, macro-F1, MCC, Pearson, Spearman.  Contract and edge
 * cases in metrics.h.  Everything accumulates in double.
 */
#include "tasks/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[METRIC_COUNT] = {
    "accuracy", "f1", "macro_f1", "mcc", "pearson", "spearman", "acc_f1", "pearson_spearman",
};

const char *metric_name(int id)
{
    return id >= 0 && id < METRIC_COUNT ? metric_names[id] : "?";
}

int metric_find(const char *name)
{
    for (int i = 0; name && i < METRIC_COUNT; i++)
        if (strcmp(metric_names[i], name) == 0)
            return i;
    return -1;
}

bool metric_is_regression(int id)
{
    return id == METRIC_PEARSON || id == METRIC_SPEARMAN || id == METRIC_PEARSON_SPEARMAN;
}

double metric_accuracy(const int *pred, const int *gold, size_t n)
{
    if (n == 0)
        return NAN;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += pred[i] == gold[i];
    return (double)ok / (double)n;
}

double metric_f1(const int *pred, const int *gold, size_t n)
{
    if (n == 0)
        return NAN;
    size_t tp = 0, np = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        np += pred[i] == 1;
        ng += gold[i] == 1;
        tp += pred[i] == 1 && gold[i] == 1;
    }
    return np + ng ? 2.0 * (double)tp / (double)(np + ng) : 0.0;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Per-class counts over the classes occurring in gold or pred. */
struct class_counts {
    size_t k;   /* classes */
    size_t *t;  /* (k) gold count */
    size_t *p;  /* (k) predicted count */
    size_t *tp; /* (k) correct count */
    int *cls;   /* (k) sorted class ids */
};

static void counts_free(struct class_counts *c)
{
    free(c->t);
    free(c->p);
    free(c->tp);
    free(c->cls);
}

static size_t class_index(const struct class_counts *c, int v)
{
    size_t lo = 0, hi = c->k;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->cls[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int counts_build(struct class_counts *c, const int *pred, const int *gold, size_t n)
{
    memset(c, 0, sizeof *c);
    if (n > SIZE_MAX / 2 / sizeof(int))
        return ERR_NOMEM;
    int *all = malloc(2 * n * sizeof *all);
    if (!all)
        return ERR_NOMEM;
    memcpy(all, pred, n * sizeof *all);
    memcpy(all + n, gold, n * sizeof *all);
    qsort(all, 2 * n, sizeof *all, int_cmp);
    size_t k = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (i == 0 || all[i] != all[k - 1])
            all[k++] = all[i];
    c->k = k;
    c->cls = all;
    c->t = calloc(k, sizeof *c->t);
    c->p = calloc(k, sizeof *c->p);
    c->tp = calloc(k, sizeof *c->tp);
    if (!c->t || !c->p || !c->tp) {
        counts_free(c);
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t gi = class_index(c, gold[i]);
        c->t[gi]++;
        c->p[class_index(c, pred[i])]++;
        if (pred[i] == gold[i])
            c->tp[gi]++;
    }
    return ERR_OK;
}

double metric_macro_f1(const int *pred, const int *gold, size_t n)
{
    struct class_counts c;
    if (n == 0 || counts_build(&c, pred, gold, n))
        return NAN;
    double sum = 0;
    for (size_t k = 0; k < c.k; k++)
        sum += 2.0 * (double)c.tp[k] / (double)(c.t[k] + c.p[k]); /* > 0: k occurs */
    double f = sum / (double)c.k;
    counts_free(&c);
    return f;
}

double metric_mcc(const int *pred, const int *gold, size_t n)
{
    struct class_counts c;
    if (n == 0 || counts_build(&c, pred, gold, n))
        return NAN;
    /* sklearn: cov(yt, yp) = c*s - sum t_k p_k; cov(yp, yp) = s^2 - sum p_k^2; ... */
    double s = (double)n, correct = 0, tp = 0, pp = 0, tt = 0;
    for (size_t k = 0; k < c.k; k++) {
        correct += (double)c.tp[k];
        tp += (double)c.t[k] * (double)c.p[k];
        pp += (double)c.p[k] * (double)c.p[k];
        tt += (double)c.t[k] * (double)c.t[k];
    }
    counts_free(&c);
    double cov_tp = correct * s - tp, cov_pp = s * s - pp, cov_tt = s * s - tt;
    if (cov_pp * cov_tt == 0)
        return 0.0;
    return cov_tp / sqrt(cov_tt * cov_pp);
}

static double pearson_d(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0)
        return NAN;
    double r = sxy / sqrt(sxx * syy);
    /* rounding can push |r| a hair past 1 (scipy clips too) */
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static bool all_equal(const float *x, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0])
            return false;
    return true;
}

static bool any_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return true;
    return false;
}

double metric_pearson(const float *x, const float *y, size_t n)
{
    if (n < 2 || any_nonfinite(x, n) || any_nonfinite(y, n) || all_equal(x, n) || all_equal(y, n))
        return NAN;
    double *d = malloc(2 * n * sizeof *d);
    if (!d)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        d[i] = x[i];
        d[n + i] = y[i];
    }
    double r = pearson_d(d, d + n, n);
    free(d);
    return r;
}

struct rank_item {
    float v;
    size_t i;
};

static int rank_cmp(const void *a, const void *b)
{
    const struct rank_item *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int metric_rank(double *rank, const float *x, size_t n)
{
    struct rank_item *it = malloc((n ? n : 1) * sizeof *it);
    if (!it)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        it[i] = (struct rank_item){x[i], i};
    qsort(it, n, sizeof *it, rank_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && it[j].v == it[i].v)
            j++;
        double r = 0.5 * (double)(i + 1 + j); /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            rank[it[k].i] = r;
        i = j;
    }
    free(it);
    return ERR_OK;
}

double metric_spearman(const float *x, const float *y, size_t n)
{
    if (n < 2 || any_nonfinite(x, n) || any_nonfinite(y, n) || all_equal(x, n) || all_equal(y, n))
        return NAN;
    double *r = malloc(2 * n * sizeof *r);
    if (!r)
        return NAN;
    double v = NAN;
    if (metric_rank(r, x, n) == 0 && metric_rank(r + n, y, n) == 0)
        v = pearson_d(r, r + n, n);
    free(r);
    return v;
}

static double nan0(double v)
{
    return isnan(v) ? 0.0 : v;
}

int metrics_compute(struct metric_result *out, unsigned mask, int primary, const int *pred,
                    const int *gold, const float *pred_f, const float *gold_f, size_t n,
                    struct err *e)
{
    memset(out, 0, sizeof *out);
    for (int m = 0; m < METRIC_COUNT; m++)
        out->value[m] = NAN;
    const unsigned reg = METRICS_REGRESSION;
    const unsigned all = METRIC_BIT(METRIC_COUNT) - 1;
    if (mask == 0 || (mask & ~all))
        return ERR_SET(e, ERR_CONFIG, "metrics: invalid metric mask 0x%x", mask);
    if ((mask & reg) && (mask & ~reg))
        return ERR_SET(e, ERR_CONFIG,
                       "metrics: a metric set cannot mix classification and regression metrics");
    if (primary < 0 || primary >= METRIC_COUNT || !(mask & METRIC_BIT(primary)))
        return ERR_SET(e, ERR_CONFIG, "metrics: primary metric '%s' is not among those computed",
                       metric_name(primary));
    if (n == 0)
        return ERR_SET(e, ERR_CONFIG, "metrics: no examples to score");
    bool regression = (mask & reg) != 0;
    if (regression ? !pred_f || !gold_f : !pred || !gold)
        return ERR_SET(e, ERR_CONFIG, "metrics: %s predictions or gold values missing",
                       regression ? "regression" : "class");
    for (size_t i = 0; i < n; i++) {
        if (regression && !isfinite(gold_f[i]))
            return ERR_SET(e, ERR_NUMERIC,
                           "metrics: gold value %zu is not finite (an unlabeled split?)", i);
        if (!regression && gold[i] < 0)
            return ERR_SET(e, ERR_CONFIG,
                           "metrics: gold label %zu is %d (an unlabeled split cannot be scored)", i,
                           gold[i]);
    }

    out->mask = mask;
    out->primary = primary;
    out->n = n;
    if (regression) {
        double p = metric_pearson(pred_f, gold_f, n);
        double s = metric_spearman(pred_f, gold_f, n);
        out->value[METRIC_PEARSON] = p;
        out->value[METRIC_SPEARMAN] = s;
        out->value[METRIC_PEARSON_SPEARMAN] = 0.5 * (nan0(p) + nan0(s));
    } else {
        double acc = metric_accuracy(pred, gold, n), f1 = metric_f1(pred, gold, n);
        out->value[METRIC_ACCURACY] = acc;
        out->value[METRIC_F1] = f1;
        out->value[METRIC_ACC_F1] = 0.5 * (acc + f1);
        if (mask & METRIC_BIT(METRIC_MACRO_F1))
            out->value[METRIC_MACRO_F1] = metric_macro_f1(pred, gold, n);
        if (mask & METRIC_BIT(METRIC_MCC))
            out->value[METRIC_MCC] = metric_mcc(pred, gold, n);
        if (isnan(out->value[METRIC_MACRO_F1]) && (mask & METRIC_BIT(METRIC_MACRO_F1)))
            return ERR_SET(e, ERR_NOMEM, "metrics: out of memory");
        if (isnan(out->value[METRIC_MCC]) && (mask & METRIC_BIT(METRIC_MCC)))
            return ERR_SET(e, ERR_NOMEM, "metrics: out of memory");
    }
    for (int m = 0; m < METRIC_COUNT; m++)
        if (!(mask & METRIC_BIT(m)))
            out->value[m] = NAN;
    out->primary_value = nan0(out->value[primary]);
    return ERR_OK;
}
