/*
 * select: tuned settings grouped into points and the best candidate of each
 * by mean dev metric, with its test or held-out metric (see select.h).
 */
#include "harness/report/select.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"
#include "harness/sweep/results.h"

/* The tuned cell of setting i ("" when untuned). */
static const char *tuned_of(const struct selection *s, size_t i)
{
    return agg_table_cell(s->a->t, s->a->s[i].row, s->col_tuned);
}

/* True when column col is one of the train settings named in tuned ("lr;weight_decay"). */
static bool is_tuned_col(const char *tuned, const char *col)
{
    if (strncmp(col, "train.", 6) != 0)
        return false;
    const char *name = col + 6;
    size_t len = strlen(name);
    for (const char *p = tuned; *p;) {
        size_t n = strcspn(p, ";");
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ';');
    }
    return false;
}

/* Settings i and j are candidates of one point. */
static bool same_point(const struct selection *s, size_t i, size_t j)
{
    const struct agg *a = s->a;
    const char *ti = tuned_of(s, i);
    if (strcmp(ti, tuned_of(s, j)) != 0)
        return false;
    for (int k = 0; k < a->nkeys; k++) {
        int c = a->keys[k];
        if (is_tuned_col(ti, a->t->cols[c]))
            continue;
        if (strcmp(agg_table_cell(a->t, a->s[i].row, c), agg_table_cell(a->t, a->s[j].row, c)))
            return false;
    }
    return true;
}

/* Statistics of measure col for setting i (n = 0 when the column is absent). */
static struct agg_stat stat_of(const struct agg *a, size_t i, const char *col)
{
    int m = agg_measure_index(a, col);
    struct agg_stat none = {NAN, NAN, NAN, NAN, NAN, NAN, 0};
    return m < 0 ? none : a->s[i].stats[m];
}

/* Pick the best candidate of the point whose first candidate is p->first. */
static void choose(struct selection *s, struct sel_point *p)
{
    const struct agg *a = s->a;
    double best = -INFINITY;
    p->chosen = p->first;
    p->ncand = 0;
    for (size_t j = p->first; j < a->n; j++) {
        if (!same_point(s, p->first, j))
            continue;
        p->ncand++;
        struct agg_stat d = stat_of(a, j, "primary_value");
        if (d.n > 0 && d.mean > best) {
            best = d.mean;
            p->chosen = j;
        }
    }
    p->dev = stat_of(a, p->chosen, "primary_value");
    p->eval = stat_of(a, p->chosen, "test_primary_value");
    p->eval_split = "test";
    if (p->eval.n == 0) {
        p->eval = stat_of(a, p->chosen, "heldout_primary_value");
        p->eval_split = p->eval.n > 0 ? "dev-heldout" : NULL;
    }
}

int select_build(struct selection *s, const struct agg *a, struct err *e)
{
    memset(s, 0, sizeof *s);
    s->a = a;
    s->col_tuned = agg_table_col(a->t, "tuned");
    if (s->col_tuned < 0 || a->n == 0)
        return ERR_OK;
    bool *seen = calloc(a->n, sizeof *seen);
    s->p = calloc(a->n, sizeof *s->p);
    if (!seen || !s->p) {
        free(seen);
        select_free(s);
        return ERR_SET(e, ERR_NOMEM, "out of memory selecting tuned settings");
    }
    for (size_t i = 0; i < a->n; i++) {
        if (seen[i] || !*tuned_of(s, i))
            continue;
        for (size_t j = i; j < a->n; j++)
            if (!seen[j] && same_point(s, i, j))
                seen[j] = true;
        struct sel_point *p = &s->p[s->n++];
        p->first = i;
        choose(s, p);
    }
    free(seen);
    return ERR_OK;
}

void select_free(struct selection *s)
{
    if (!s)
        return;
    free(s->p);
    memset(s, 0, sizeof *s);
    s->col_tuned = -1;
}

const char *select_point_label(const struct selection *s, const struct sel_point *p, char *buf,
                               size_t size)
{
    const struct agg *a = s->a;
    const struct agg_setting *st = &a->s[p->first];
    const char *tuned = tuned_of(s, p->first);
    size_t o = str_appendf(buf, size, 0, "%s", agg_table_cell(a->t, st->row, a->col_method));
    for (int k = 0; k < a->nkeys; k++) {
        int c = a->keys[k];
        const char *name = a->t->cols[c];
        if (!agg_is_hparam_col(name) || is_tuned_col(tuned, name) ||
            !a->varies[p->first * (size_t)a->t->ncols + (size_t)c])
            continue;
        o = str_appendf(buf, size, o, " %s=%s", agg_short_name(a, st, c),
                        agg_table_cell(a->t, st->row, c));
    }
    return buf;
}

const char *select_chosen_label(const struct selection *s, const struct sel_point *p, char *buf,
                                size_t size)
{
    const struct agg *a = s->a;
    const char *tuned = tuned_of(s, p->chosen);
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < a->nkeys; k++) {
        int c = a->keys[k];
        if (is_tuned_col(tuned, a->t->cols[c]))
            o = str_appendf(buf, size, o, "%s%s=%s", o ? " " : "", a->t->cols[c] + 6,
                            agg_table_cell(a->t, a->s[p->chosen].row, c));
    }
    return buf;
}

static void csv_stat(struct strbuf *b, const struct agg_stat *st, bool with_std)
{
    strbuf_printf(b, ",%d,", st->n);
    if (st->n > 0)
        strbuf_num(b, st->mean);
    if (with_std) {
        strbuf_str(b, ",");
        if (st->n > 1)
            strbuf_num(b, st->std);
    }
    strbuf_str(b, ",");
    if (st->n > 1)
        strbuf_num(b, st->mean - st->ci95);
    strbuf_str(b, ",");
    if (st->n > 1)
        strbuf_num(b, st->mean + st->ci95);
}

int select_write_csv(const struct selection *s, const char *path, struct err *e)
{
    if (s->n == 0)
        return ERR_OK;
    const struct agg *a = s->a;
    struct strbuf b = {0};
    strbuf_str(&b, "task,method,point,tuned,chosen,candidates,dev_n,dev_mean,"
                   "dev_ci95_low,dev_ci95_high,eval_split,eval_n,eval_mean,eval_std,"
                   "eval_ci95_low,eval_ci95_high\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct sel_point *p = &s->p[i];
        const struct agg_setting *st = &a->s[p->chosen];
        char point[512], chosen[256];
        strbuf_csv(&b, agg_table_cell(a->t, st->row, a->col_task));
        strbuf_str(&b, ",");
        strbuf_csv(&b, agg_table_cell(a->t, st->row, a->col_method));
        strbuf_str(&b, ",");
        strbuf_csv(&b, select_point_label(s, p, point, sizeof point));
        strbuf_str(&b, ",");
        strbuf_csv(&b, tuned_of(s, p->chosen));
        strbuf_str(&b, ",");
        strbuf_csv(&b, select_chosen_label(s, p, chosen, sizeof chosen));
        strbuf_printf(&b, ",%d", p->ncand);
        csv_stat(&b, &p->dev, false);
        strbuf_str(&b, ",");
        strbuf_str(&b, p->eval_split ? p->eval_split : "");
        csv_stat(&b, &p->eval, true);
        strbuf_str(&b, "\n");
    }
    int rc = b.oom ? ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path)
                   : results_write_atomic(path, b.p, b.n, e);
    strbuf_free(&b);
    return rc;
}

/* "0.812 ± 0.013 (n=3)", "0.812 (n=1)" or "-". */
static void md_stat(struct strbuf *b, const struct agg_stat *st)
{
    if (st->n == 0)
        strbuf_str(b, "-");
    else if (st->n == 1 || !isfinite(st->ci95))
        strbuf_printf(b, "%.4f (n=%d)", st->mean, st->n);
    else
        strbuf_printf(b, "%.4f ± %.4f (n=%d)", st->mean, st->ci95, st->n);
}

void select_markdown(struct strbuf *b, const struct selection *s)
{
    if (s->n == 0)
        return;
    const struct agg *a = s->a;
    strbuf_str(b, "\n## Selected on dev\n\n"
                  "Per method and point, the `tune:` setting with the best mean dev metric over "
                  "seeds, and its metric on data selection never saw: the test split when the "
                  "trials evaluated one, else dev-heldout (README, \"Tuning on dev\"). "
                  "Intervals are 95% Student-t over seeds.\n\n"
                  "| task | point | chosen | candidates | dev mean ± CI | held-out | "
                  "held-out mean ± CI |\n|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct sel_point *p = &s->p[i];
        char point[512], chosen[256];
        strbuf_printf(b, "| %s | %s | %s | %d | ",
                      agg_table_cell(a->t, a->s[p->chosen].row, a->col_task),
                      select_point_label(s, p, point, sizeof point),
                      select_chosen_label(s, p, chosen, sizeof chosen), p->ncand);
        md_stat(b, &p->dev);
        strbuf_printf(b, " | %s | ", p->eval_split ? p->eval_split : "none");
        md_stat(b, &p->eval);
        strbuf_str(b, " |\n");
    }
}
