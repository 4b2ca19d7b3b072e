#include "harness/report/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"
#include "harness/report/aggregate.h"

void compare_opts_default(struct compare_opts *o)
{
    o->metric_tol = 0.01;
    o->speed_tol = 0.15;
    o->sweep_speed_tol = 0.10;
    o->ratio_tol = 0.10;
    o->mem_tol = 0.10;
    o->allow_missing = false;
}

/* Columns without which a file cannot be compared. */
static const char *const required[] = {
    "trial_id",           "status",
    "primary_value",      "params_trainable",
    "train_tokens_per_s", "calibration_gflops",
    "mem_peak_total",
};
#define NREQUIRED (sizeof required / sizeof *required)

static const char *const param_cols[] = {"params_method", "params_head", "params_trainable",
                                         "params_stored", "params_total"};
#define NPARAMS (sizeof param_cols / sizeof *param_cols)

struct id_row {
    const char *id; /* view into the table */
    size_t row;
};

/* One side: its table and its rows sorted by trial_id. */
struct side {
    const char *what; /* "baseline" / "current" */
    struct agg_table t;
    struct id_row *by_id; /* owned: (t.nrows) sorted by id */
    int id;               /* trial_id column */
};

static int cmp_id(const void *x, const void *y)
{
    return strcmp(((const struct id_row *)x)->id, ((const struct id_row *)y)->id);
}

static int side_load(struct side *s, const char *path, const char *what, struct err *e)
{
    memset(s, 0, sizeof *s);
    s->what = what;
    if (agg_table_load(&s->t, path, e))
        return e->code == ERR_FORMAT
                   ? err_prefix(e, "%s %s is not a usable results.csv", what, path)
                   : err_prefix(e, "%s", what);
    char missing[400] = "";
    size_t o = 0;
    for (size_t k = 0; k < NREQUIRED; k++)
        if (agg_table_col(&s->t, required[k]) < 0)
            o = str_appendf(missing, sizeof missing, o, "%s%s", o ? ", " : "", required[k]);
    if (agg_table_col(&s->t, "trial_id") < 0)
        return ERR_SET(e, ERR_FORMAT,
                       "%s %s: not a peftbench results.csv (no trial_id column in its header)",
                       what, path);
    if (missing[0])
        return ERR_SET(e, ERR_FORMAT,
                       "%s %s: missing required column(s) %s (is it a results.csv written by "
                       "this version of peftbench?)",
                       what, path, missing);
    s->id = agg_table_col(&s->t, "trial_id");
    s->by_id = malloc((s->t.nrows + 1) * sizeof *s->by_id);
    if (!s->by_id)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t r = 0; r < s->t.nrows; r++) {
        if (!agg_table_cell(&s->t, r, s->id)[0])
            return ERR_SET(e, ERR_FORMAT, "%s %s:%zu: empty trial_id", what, path, s->t.lines[r]);
        s->by_id[r] = (struct id_row){agg_table_cell(&s->t, r, s->id), r};
    }
    qsort(s->by_id, s->t.nrows, sizeof *s->by_id, cmp_id);
    for (size_t i = 1; i < s->t.nrows; i++) {
        size_t a = s->by_id[i - 1].row, b = s->by_id[i].row;
        if (strcmp(s->by_id[i - 1].id, s->by_id[i].id) == 0)
            return ERR_SET(e, ERR_FORMAT, "%s %s: trial_id %s appears twice (lines %zu and %zu)",
                           what, path, agg_table_cell(&s->t, a, s->id), s->t.lines[a],
                           s->t.lines[b]);
    }
    return ERR_OK;
}

/* The baseline is the reference every verdict is measured against: with no trials, or with an
 * ok trial whose metric cannot be read, every comparison would pass without measuring
 * anything.  Both are unusable input, named by file, line and column. */
static int baseline_check(const struct side *s, const char *path, struct err *e)
{
    if (s->t.nrows == 0)
        return ERR_SET(e, ERR_FORMAT,
                       "baseline %s: no data rows (expected one row per trial under the header; "
                       "a baseline without trials would pass any comparison)",
                       path);
    int st = agg_table_col(&s->t, "status"), pv = agg_table_col(&s->t, "primary_value");
    for (size_t r = 0; r < s->t.nrows; r++) {
        const char *v = agg_table_cell(&s->t, r, pv);
        double x;
        if (strcmp(agg_table_cell(&s->t, r, st), "ok") != 0 || agg_parse_num(v, &x))
            continue;
        char found[80];
        if (v[0])
            snprintf(found, sizeof found, "'%.60s'", v);
        else
            snprintf(found, sizeof found, "an empty cell");
        return ERR_SET(e, ERR_FORMAT,
                       "baseline %s:%zu: column %d (primary_value): trial %.40s has status ok, so "
                       "a finite number was expected, found %s",
                       path, s->t.lines[r], pv + 1, agg_table_cell(&s->t, r, s->id), found);
    }
    return ERR_OK;
}

static void side_free(struct side *s)
{
    agg_table_free(&s->t);
    free(s->by_id);
    memset(s, 0, sizeof *s);
}

/* Row of trial id in s, or -1. */
static long side_find(const struct side *s, const char *id)
{
    size_t lo = 0, hi = s->t.nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_id[mid].id, id);
        if (c == 0)
            return (long)s->by_id[mid].row;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static double num(const struct side *s, size_t row, const char *col)
{
    double v;
    return agg_parse_num(agg_table_cell(&s->t, row, agg_table_col(&s->t, col)), &v) ? v
                                                                                    : (double)NAN;
}

static const char *cell(const struct side *s, size_t row, const char *col)
{
    return agg_table_cell(&s->t, row, agg_table_col(&s->t, col));
}

/* The verdict of one matched trial, and the cells of its table row. */
struct row_cmp {
    bool regressed, improved;
    double speed_ratio; /* current / baseline normalized throughput, NaN when not comparable
                           or when a calibration is missing (a raw tok/s ratio compares the
                           machines too: it is judged for the trial, not pooled for the sweep) */
    char why[160];      /* "metric, speed" */
    char better[160];
    char metric[96], speed[96], mem[96], params[96];
};

static void note(char *buf, size_t n, const char *what)
{
    size_t o = strlen(buf);
    snprintf(buf + o, n - o, "%s%s", o ? ", " : "", what);
}

static void cmp_status(struct row_cmp *r, const char *sb, const char *sc)
{
    bool okb = strcmp(sb, "ok") == 0, okc = strcmp(sc, "ok") == 0;
    if (okb && !okc) {
        r->regressed = true;
        note(r->why, sizeof r->why, "status");
    } else if (!okb && okc) {
        r->improved = true;
        note(r->better, sizeof r->better, "status");
    }
    if (strcmp(sb, sc) != 0 || !okb)
        snprintf(r->metric, sizeof r->metric, "%.20s -> %.20s", sb, sc);
}

static void cmp_params(struct row_cmp *r, const struct side *b, size_t rb, const struct side *c,
                       size_t rc)
{
    snprintf(r->params, sizeof r->params, "=");
    for (size_t k = 0; k < NPARAMS; k++) {
        if (agg_table_col(&b->t, param_cols[k]) < 0 || agg_table_col(&c->t, param_cols[k]) < 0)
            continue;
        const char *vb = cell(b, rb, param_cols[k]), *vc = cell(c, rc, param_cols[k]);
        if (!vb[0] || !vc[0] || strcmp(vb, vc) == 0)
            continue; /* a failed trial has no counts: its status says so */
        snprintf(r->params, sizeof r->params, "%s %.20s -> %.20s", param_cols[k] + 7, vb, vc);
        r->regressed = true;
        note(r->why, sizeof r->why, "params");
        return;
    }
}

static void cmp_metric(struct row_cmp *r, double mb, double mc, double tol)
{
    if (r->metric[0])
        return; /* a status change already fills the cell */
    if (!isfinite(mb) || !isfinite(mc)) {
        snprintf(r->metric, sizeof r->metric, "-");
        if (isfinite(mb)) {
            r->regressed = true;
            note(r->why, sizeof r->why, "metric missing");
        }
        return;
    }
    double d = mc - mb;
    snprintf(r->metric, sizeof r->metric, "%.4f -> %.4f (%+.4f)", mb, mc, d);
    if (d < -tol) {
        r->regressed = true;
        note(r->why, sizeof r->why, "metric");
    } else if (d > tol) {
        r->improved = true;
        note(r->better, sizeof r->better, "metric");
    }
}

/* Speed judged on throughput_ratio (the trial's step against the bare reference step timed
 * beside it in the same process): q = current / baseline of the two ratios. */
static void cmp_speed_ratio(struct row_cmp *r, double qb, double qc, double tol)
{
    double q = qc / qb;
    snprintf(r->speed, sizeof r->speed, "ratio %.3f -> %.3f (x%.2f)", qb, qc, q);
    r->speed_ratio = q;
    if (q < 1.0 - tol) {
        r->regressed = true;
        note(r->why, sizeof r->why, "speed");
    } else if (q > 1.0 + tol) {
        r->improved = true;
        note(r->better, sizeof r->better, "speed");
    }
}

static void cmp_speed(struct row_cmp *r, double tb, double cb, double tc, double cc, double tol)
{
    r->speed_ratio = (double)NAN;
    if (!(tb > 0) || !(tc > 0)) {
        snprintf(r->speed, sizeof r->speed, "-");
        return;
    }
    bool calibrated = cb > 0 && cc > 0;
    double nb = calibrated ? tb / cb : tb, nc = calibrated ? tc / cc : tc, ratio = nc / nb;
    snprintf(r->speed, sizeof r->speed, "%.1f -> %.1f (x%.2f)%s", nb, nc, ratio,
             calibrated ? "" : " raw tok/s");
    r->speed_ratio = calibrated ? ratio : (double)NAN;
    if (ratio < 1.0 - tol) {
        r->regressed = true;
        note(r->why, sizeof r->why, "speed");
    } else if (ratio > 1.0 + tol) {
        r->improved = true;
        note(r->better, sizeof r->better, "speed");
    }
}

static void cmp_mem(struct row_cmp *r, double mb, double mc, double tol)
{
    if (!(mb > 0) || !(mc > 0)) {
        snprintf(r->mem, sizeof r->mem, "-");
        return;
    }
    double ratio = mc / mb;
    snprintf(r->mem, sizeof r->mem, "%.2f -> %.2f (x%.2f)", mb / 1048576.0, mc / 1048576.0, ratio);
    if (ratio > 1.0 + tol) {
        r->regressed = true;
        note(r->why, sizeof r->why, "memory");
    } else if (ratio < 1.0 - tol) {
        r->improved = true;
        note(r->better, sizeof r->better, "memory");
    }
}

/* A row's throughput_ratio: optional (results.csv files older than it have no column), NaN
 * when absent or not a positive finite number. */
static double ratio_of(const struct side *s, size_t row)
{
    double v;
    int col = agg_table_col(&s->t, "throughput_ratio");
    if (col < 0 || !agg_parse_num(agg_table_cell(&s->t, row, col), &v) || !isfinite(v) ||
        !(v > 0))
        return (double)NAN;
    return v;
}

static void compare_row(struct row_cmp *r, const struct side *b, size_t rb, const struct side *c,
                        size_t rc, const struct compare_opts *o)
{
    memset(r, 0, sizeof *r);
    r->speed_ratio = (double)NAN;
    const char *sb = cell(b, rb, "status"), *sc = cell(c, rc, "status");
    cmp_status(r, sb, sc);
    cmp_params(r, b, rb, c, rc);
    bool both_ok = strcmp(sb, "ok") == 0 && strcmp(sc, "ok") == 0;
    if (both_ok) {
        cmp_metric(r, num(b, rb, "primary_value"), num(c, rc, "primary_value"), o->metric_tol);
        double qb = ratio_of(b, rb), qc = ratio_of(c, rc);
        if (qb > 0 && qc > 0)
            cmp_speed_ratio(r, qb, qc, o->ratio_tol);
        else
            cmp_speed(r, num(b, rb, "train_tokens_per_s"), num(b, rb, "calibration_gflops"),
                      num(c, rc, "train_tokens_per_s"), num(c, rc, "calibration_gflops"),
                      o->speed_tol);
        cmp_mem(r, num(b, rb, "mem_peak_total"), num(c, rc, "mem_peak_total"), o->mem_tol);
    } else {
        snprintf(r->speed, sizeof r->speed, "-");
        snprintf(r->mem, sizeof r->mem, "-");
    }
}

static void print_row(FILE *out, const struct side *c, size_t rc, const struct row_cmp *r)
{
    char verdict[200];
    if (r->regressed)
        snprintf(verdict, sizeof verdict, "REGRESSION: %s", r->why);
    else if (r->improved)
        snprintf(verdict, sizeof verdict, "improved: %s", r->better);
    else
        snprintf(verdict, sizeof verdict, "ok");
    fprintf(out, "%-16s  %-16.16s %-14.14s %-30s %-28s %-26s %-16s %s\n",
            agg_table_cell(&c->t, rc, c->id), cell(c, rc, "method"), cell(c, rc, "task"), r->metric,
            r->speed, r->mem, r->params, verdict);
}

static void print_missing(FILE *out, const struct side *from, const struct side *other,
                          const char *title, int *count)
{
    int n = 0;
    for (size_t r = 0; r < from->t.nrows; r++) { /* file (plan) order */
        const char *id = agg_table_cell(&from->t, r, from->id);
        if (side_find(other, id) >= 0)
            continue;
        if (n++ == 0)
            fprintf(out, "\n%s:\n", title);
        fprintf(out, "  %-16s  %s %s seed %s (%s)\n", id, cell(from, r, "method"),
                cell(from, r, "task"), cell(from, r, "seed"), cell(from, r, "status"));
    }
    *count = n;
}

/* The sweep as a whole: the geometric mean of the per-trial throughput ratios.  A broad slowdown
 * shows here even when each trial's own change is within its (noisier) tolerance. */
static void sweep_speed(struct compare_summary *sum, double logsum, const struct compare_opts *o,
                        FILE *out)
{
    sum->speed_gmean = sum->speed_trials ? exp(logsum / sum->speed_trials) : (double)NAN;
    if (sum->speed_trials < COMPARE_SWEEP_MIN_TRIALS) {
        /* The mean of one ratio is that trial's own, already judged at its own tolerance:
         * judging it again, tighter, would contradict the verdict printed on its line. */
        if (sum->matched)
            fprintf(out,
                    "throughput over the sweep: not judged (%d trial%s with a calibration "
                    "on both sides; it takes %d)\n",
                    sum->speed_trials, sum->speed_trials == 1 ? "" : "s", COMPARE_SWEEP_MIN_TRIALS);
        return;
    }
    sum->sweep_slower = sum->speed_gmean < 1.0 - o->sweep_speed_tol;
    sum->regressions += sum->sweep_slower;
    fprintf(out,
            "%sthroughput over the sweep (geometric mean of %d trials' ratios): x%.3f "
            "(tolerance %g%%)\n",
            sum->sweep_slower ? "REGRESSION: " : "", sum->speed_trials, sum->speed_gmean,
            100.0 * o->sweep_speed_tol);
}

int compare_files(const char *baseline, const char *current, const struct compare_opts *o,
                  FILE *out, struct compare_summary *sum, struct err *e)
{
    memset(sum, 0, sizeof *sum);
    if (!(o->metric_tol >= 0) || !(o->speed_tol >= 0 && o->speed_tol < 1) || !(o->mem_tol >= 0) ||
        !(o->sweep_speed_tol >= 0 && o->sweep_speed_tol < 1) ||
        !(o->ratio_tol >= 0 && o->ratio_tol < 1))
        return ERR_SET(e, ERR_RANGE,
                       "tolerances: --metric-tol and --mem-tol must be >= 0, --speed-tol, "
                       "--ratio-tol and --sweep-speed-tol in [0, 1) (got %g, %g, %g, %g, %g)",
                       o->metric_tol, o->speed_tol, o->mem_tol, o->sweep_speed_tol,
                       o->ratio_tol);
    struct side b, c;
    memset(&c, 0, sizeof c);
    int rc = side_load(&b, baseline, "baseline", e);
    if (rc == ERR_OK)
        rc = baseline_check(&b, baseline, e);
    if (rc == ERR_OK)
        rc = side_load(&c, current, "current", e);
    if (rc) {
        side_free(&b);
        side_free(&c);
        return rc;
    }
    fprintf(out, "peftbench compare: baseline %s (%zu trials) vs current %s (%zu trials)\n",
            baseline, b.t.nrows, current, c.t.nrows);
    fprintf(out,
            "tolerances: metric +-%g absolute (primary_value); throughput +-%g%% on "
            "throughput_ratio (against the bare reference step) where both files have it, else "
            "+-%g%% after dividing by the GEMM calibration (tok/s per GFLOP/s); peak memory "
            "+-%g%%; parameter counts exact\n\n",
            o->metric_tol, 100.0 * o->ratio_tol, 100.0 * o->speed_tol, 100.0 * o->mem_tol);
    fprintf(out, "%-16s  %-16s %-14s %-30s %-28s %-26s %-16s %s\n", "trial_id", "method", "task",
            "metric (base -> current)", "throughput/calibration", "peak memory MiB", "params",
            "verdict");
    double logsum = 0.0;
    /* in the current file's order: plan order */
    for (size_t rcur = 0; rcur < c.t.nrows; rcur++) {
        long rb = side_find(&b, agg_table_cell(&c.t, rcur, c.id));
        if (rb < 0)
            continue;
        struct row_cmp r;
        compare_row(&r, &b, (size_t)rb, &c, rcur, o);
        print_row(out, &c, rcur, &r);
        sum->matched++;
        sum->regressed += r.regressed;
        sum->improved += !r.regressed && r.improved;
        if (r.speed_ratio > 0)
            logsum += log(r.speed_ratio), sum->speed_trials++;
    }
    print_missing(out, &b, &c,
                  o->allow_missing ? "missing from current (allowed by --allow-missing)"
                                   : "REGRESSION: missing from current (in the baseline only)",
                  &sum->missing);
    print_missing(out, &c, &b, "new in current (not in the baseline)", &sum->added);
    sum->regressions = sum->regressed + (o->allow_missing ? 0 : sum->missing);
    fprintf(out,
            "\n%d matched: %d regressed, %d improved, %d unchanged; %d missing from current, %d "
            "new\n",
            sum->matched, sum->regressed, sum->improved,
            sum->matched - sum->regressed - sum->improved, sum->missing, sum->added);
    sweep_speed(sum, logsum, o, out);
    fprintf(out, "%s\n", sum->regressions ? "RESULT: REGRESSION" : "RESULT: no regression");
    side_free(&b);
    side_free(&c);
    return ERR_OK;
}
