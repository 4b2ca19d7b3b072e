/* ranking: methods ranked per task with confidence intervals and ties (contract in ranking.h). */
#include "harness/report/ranking.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/stats.h"

/* One method of a task: its best setting, and how it compares with the task's best. */
struct rank_row {
    size_t s;       /* setting index into a->s */
    double p;       /* two-sided p against the best; NaN: not tested */
    double df;      /* the test's degrees of freedom */
    bool paired;    /* paired by seed (else Welch) */
    const char *vs; /* "best", "tied", "below", "untested" */
};

/* A markdown table cell: '|' escaped, line breaks as spaces. */
static void cell(struct strbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '|')
            strbuf_str(b, "\\|");
        else
            strbuf_put(b, *p == '\n' || *p == '\r' ? " " : p, 1);
    }
}

static const char *cell_of(const struct agg *a, size_t s, int col)
{
    return agg_table_cell(a->t, a->s[s].row, col);
}

/* Settings of task, one per method (its best by mean primary value), with a value. */
static size_t best_per_method(const struct agg *a, const char *task, int pm, struct rank_row *out)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(cell_of(a, i, a->col_task), task) != 0 || a->s[i].stats[pm].n == 0)
            continue;
        size_t k = 0;
        while (k < n && strcmp(cell_of(a, out[k].s, a->col_method), cell_of(a, i, a->col_method)))
            k++;
        if (k == n)
            out[n++] = (struct rank_row){.s = i};
        else if (a->s[i].stats[pm].mean > a->s[out[k].s].stats[pm].mean)
            out[k].s = i;
    }
    return n;
}

/* Order rows by mean primary value, highest first (ties: plan order).  Insertion sort: a
 * task has one row per method, a dozen at most in practice. */
static void sort_by_mean(const struct agg *a, int pm, struct rank_row *rows, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct rank_row r = rows[i];
        double m = a->s[r.s].stats[pm].mean;
        size_t j = i;
        while (j > 0 && (a->s[rows[j - 1].s].stats[pm].mean < m ||
                         (a->s[rows[j - 1].s].stats[pm].mean == m && rows[j - 1].s > r.s))) {
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
}

/* Seeds and primary values of setting s's ok trials with a value: k of them. */
static size_t seed_values(const struct agg *a, size_t s, int pm_col, const char **seeds,
                          double *vals)
{
    const struct agg_setting *st = &a->s[s];
    size_t k = 0;
    for (size_t i = 0; i < st->nrows; i++) {
        double v;
        if (strcmp(agg_table_cell(a->t, st->rows[i], a->col_status), "ok") != 0 ||
            !agg_parse_num(agg_table_cell(a->t, st->rows[i], pm_col), &v))
            continue;
        seeds[k] = agg_table_cell(a->t, st->rows[i], a->col_seed);
        vals[k++] = v;
    }
    return k;
}

/* Differences x - y by seed into d when x and y have values for exactly the same seeds
 * (each seed once); false otherwise. */
static bool pair_by_seed(const char **sx, const double *x, size_t nx, const char **sy,
                         const double *y, size_t ny, double *d)
{
    if (nx != ny || nx < 2)
        return false;
    for (size_t i = 0; i < nx; i++) {
        size_t hits = 0, at = 0;
        for (size_t j = 0; j < ny; j++)
            if (strcmp(sx[i], sy[j]) == 0)
                hits++, at = j;
        if (hits != 1 || !sx[i][0])
            return false;
        d[i] = x[i] - y[at];
    }
    return true;
}

/* Compare row r with the best row: paired by seed when the seeds match, else Welch. */
static void compare(const struct agg *a, int pm, int pm_col, const struct rank_row *best,
                    struct rank_row *r, const char **sb, double *vb, const char **sr, double *vr,
                    double *d)
{
    const struct agg_stat *x = &a->s[r->s].stats[pm], *y = &a->s[best->s].stats[pm];
    size_t nb = seed_values(a, best->s, pm_col, sb, vb);
    size_t nr = seed_values(a, r->s, pm_col, sr, vr);
    r->paired = pair_by_seed(sr, vr, nr, sb, vb, nb, d);
    if (r->paired) {
        r->p = stats_paired_p(d, nr);
        r->df = (double)nr - 1;
    } else {
        r->p = stats_welch_p(x->mean, x->std, x->n, y->mean, y->std, y->n, &r->df);
    }
    r->vs = isnan(r->p) ? "untested" : r->p >= RANKING_ALPHA ? "tied" : "below";
}

static void row_text(struct strbuf *b, const struct agg *a, int pm, const struct rank_row *r,
                     int rank)
{
    const struct agg_setting *s = &a->s[r->s];
    const struct agg_stat *st = &s->stats[pm];
    strbuf_printf(b, "| %d | ", rank);
    cell(b, cell_of(a, r->s, a->col_method));
    strbuf_str(b, " | ");
    cell(b, s->label);
    if (st->n > 1)
        strbuf_printf(b, " | %.4f ± %.4f | %d", st->mean, st->ci95, st->n);
    else
        strbuf_printf(b, " | %.4f (no interval) | %d", st->mean, st->n);
    strbuf_str(b, st->n < RANKING_MIN_SEEDS ? " ⚠" : "");
    if (strcmp(r->vs, "best") == 0)
        strbuf_str(b, " | **best** | |\n");
    else if (strcmp(r->vs, "untested") == 0)
        strbuf_str(b, " | untested (fewer than 2 seeds on a side) | |\n");
    else
        strbuf_printf(b, " | %s | %s, p = %.3g (df %.1f) |\n",
                      strcmp(r->vs, "tied") == 0 ? "**tied with best**" : "below best",
                      r->paired ? "paired by seed" : "Welch", r->p, r->df);
}

static void task_ranking(struct strbuf *b, const struct agg *a, const char *task, int pm,
                         struct rank_row *rows, const char **sb, double *vb, const char **sr,
                         double *vr, double *d)
{
    int pm_col = a->measures[pm];
    size_t n = best_per_method(a, task, pm, rows);
    if (n == 0)
        return;
    sort_by_mean(a, pm, rows, n);
    rows[0].vs = "best";
    for (size_t i = 1; i < n; i++)
        compare(a, pm, pm_col, &rows[0], &rows[i], sb, vb, sr, vr, d);
    strbuf_str(b, "### ");
    cell(b, task);
    strbuf_printf(b, " (dev %s)\n\n", cell_of(a, rows[0].s, a->col_metric));
    strbuf_str(b, "| rank | method | best setting | mean ± 95% CI | n | vs best | test |\n"
                  "|---|---|---|---|---|---|---|\n");
    int rank = 1;
    for (size_t i = 0; i < n; i++) {
        /* tied methods share the best's rank */
        if (i > 0 && strcmp(rows[i].vs, "tied") != 0)
            rank = (int)i + 1;
        row_text(b, a, pm, &rows[i], strcmp(rows[i].vs, "tied") == 0 ? 1 : rank);
    }
    size_t few = 0;
    for (size_t i = 0; i < n; i++)
        few += a->s[rows[i].s].stats[pm].n < RANKING_MIN_SEEDS;
    if (few) {
        strbuf_printf(b, "\n> **Warning:** fewer than %d seeds back ", RANKING_MIN_SEEDS);
        for (size_t i = 0, k = 0; i < n; i++) {
            if (a->s[rows[i].s].stats[pm].n >= RANKING_MIN_SEEDS)
                continue;
            strbuf_str(b, k++ ? ", " : "");
            cell(b, a->s[rows[i].s].label);
            strbuf_printf(b, " (n = %d)", a->s[rows[i].s].stats[pm].n);
        }
        strbuf_str(b, " (marked ⚠): their intervals are wide or absent and the ranking "
                      "and ties involving them are not reliable; run more seeds.\n");
    }
    strbuf_str(b, "\n");
}

void ranking_write(struct strbuf *b, const struct agg *a)
{
    int pm = agg_measure_index(a, "primary_value");
    if (pm < 0 || a->n == 0)
        return;
    size_t nr = a->t->nrows + 1;
    struct rank_row *rows = calloc(a->n + 1, sizeof *rows);
    const char **sb = calloc(nr, sizeof *sb), **sr = calloc(nr, sizeof *sr);
    double *vb = calloc(nr, sizeof *vb), *vr = calloc(nr, sizeof *vr), *d = calloc(nr, sizeof *d);
    if (!rows || !sb || !sr || !vb || !vr || !d) {
        b->oom = true;
        goto out;
    }
    strbuf_printf(b,
                  "## Ranking\n\n"
                  "Per task, each method by its best setting (highest mean dev metric), ranked "
                  "by mean over seeds ± the half-width of the 95%% Student-t confidence "
                  "interval. A method is **tied with best** when a two-sided t-test of equal "
                  "means does not reject at alpha = %.2g: paired by seed when both settings have "
                  "values for the same seeds, Welch's unequal-variance test otherwise (the "
                  "test column says which). Tied methods share rank 1. Picking each method's "
                  "best setting on dev favours methods with more settings.\n\n",
                  RANKING_ALPHA);
    for (size_t i = 0; i < a->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(cell_of(a, i, a->col_task), cell_of(a, j, a->col_task)) == 0;
        if (!seen)
            task_ranking(b, a, cell_of(a, i, a->col_task), pm, rows, sb, vb, sr, vr, d);
    }
out:
    free(rows);
    free(sb);
    free(sr);
    free(vb);
    free(vr);
    free(d);
}
