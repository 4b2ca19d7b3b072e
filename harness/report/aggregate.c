#include "harness/report/aggregate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/stats.h"
#include "harness/sweep/results.h"
#include "tasks/tsv.h"

/* ---- table ------------------------------------------------------------------------ */

bool agg_parse_num(const char *s, double *v)
{
    if (!s || !*s || strchr(" \t\r\n", *s))
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || end == s || !isfinite(d))
        return false;
    *v = d;
    return true;
}

void agg_table_free(struct agg_table *t)
{
    if (!t)
        return;
    for (int c = 0; t->cols && c < t->ncols; c++)
        free(t->cols[c]);
    for (size_t i = 0; t->cells && i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cols);
    free(t->cells);
    free(t->lines);
    free(t->path);
    memset(t, 0, sizeof *t);
}

int agg_table_col(const struct agg_table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return c;
    return -1;
}

const char *agg_table_cell(const struct agg_table *t, size_t row, int col)
{
    if (col < 0 || col >= t->ncols || row >= t->nrows)
        return "";
    return t->cells[row * (size_t)t->ncols + (size_t)col];
}

static int table_header(struct agg_table *t, const struct tsv_reader *r, struct err *e)
{
    t->cols = calloc(r->nfields, sizeof *t->cols);
    if (!t->cols)
        return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", t->path);
    for (size_t c = 0; c < r->nfields; c++) {
        if (!r->fields[c][0])
            return ERR_SET(e, ERR_FORMAT, "%s:%zu: column %zu of the header has no name", t->path,
                           r->line, c + 1);
        for (size_t k = 0; k < c; k++)
            if (strcmp(r->fields[k], r->fields[c]) == 0)
                return ERR_SET(e, ERR_FORMAT, "%s:%zu: column '%.60s' appears twice in the header",
                               t->path, r->line, r->fields[c]);
        if (!(t->cols[c] = strdup(r->fields[c])))
            return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", t->path);
        t->ncols++;
    }
    return ERR_OK;
}

static int table_row(struct agg_table *t, struct tsv_reader *r, size_t *cap, struct err *e)
{
    if (r->nfields != (size_t)t->ncols)
        return tsv_bad_row(r, e, "expected %d fields as in the header, found %zu", t->ncols,
                           r->nfields) < 0
                   ? e->code
                   : ERR_OK;
    if (t->nrows == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        char **cells = realloc(t->cells, ncap * (size_t)t->ncols * sizeof *cells);
        if (!cells)
            return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", t->path);
        t->cells = cells;
        size_t *lines = realloc(t->lines, ncap * sizeof *lines);
        if (!lines)
            return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", t->path);
        t->lines = lines;
        *cap = ncap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(r->fields[c]);
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", t->path);
        }
    }
    t->lines[t->nrows++] = r->line;
    return ERR_OK;
}

int agg_table_load(struct agg_table *t, const char *path, struct err *e)
{
    memset(t, 0, sizeof *t);
    if (!(t->path = strdup(path)))
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    struct tsv_reader r;
    if (tsv_open(&r, path, TSV_CSV, false, e)) {
        agg_table_free(t);
        return e->code;
    }
    size_t cap = 0;
    int rc = tsv_next(&r, e);
    if (rc == 0)
        rc = ERR_SET(e, ERR_FORMAT, "%s: empty file (expected a CSV header line)", path);
    else if (rc > 0)
        rc = table_header(t, &r, e);
    while (rc == ERR_OK) {
        int k = tsv_next(&r, e);
        if (k <= 0) {
            rc = k;
            break;
        }
        rc = table_row(t, &r, &cap, e);
    }
    tsv_close(&r);
    if (rc)
        agg_table_free(t);
    return rc;
}

/* ---- statistics ------------------------------------------------------------------- */

void agg_stat_compute(struct agg_stat *s, const double *x, size_t n)
{
    struct stats_summary ss;
    stats_summarize(&ss, x, n);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    s->n = ss.n;
    s->mean = ss.mean;
    s->std = ss.n == 1 ? 0.0 : ss.std; /* NaN when n == 0 */
    s->sem = ss.sem;
    s->ci95 = ss.ci95;
    s->min = ss.n ? lo : (double)NAN;
    s->max = ss.n ? hi : (double)NAN;
}

/* ---- settings --------------------------------------------------------------------- */

const char *const agg_measures[] = {
    "primary_value",
    "accuracy",
    "f1",
    "macro_f1",
    "mcc",
    "pearson",
    "spearman",
    "acc_f1",
    "pearson_spearman",
    "test_primary_value",
    "heldout_primary_value",
    "params_method",
    "params_head",
    "params_trainable",
    "params_stored",
    "params_total",
    "trainable_pct",
    "best_epoch",
    "epochs_run",
    "steps",
    "final_train_loss",
    "train_tokens_per_s",
    "eval_tokens_per_s",
    "merged_tokens_per_s",
    "throughput_ratio",
    "mem_frozen",
    "mem_trainable",
    "mem_grads",
    "mem_optimizer",
    "mem_activations",
    "mem_workspace",
    "mem_peak_total",
    "peak_rss",
    "wall_seconds",
    "calibration_gflops",
    NULL,
};

bool agg_is_hparam_col(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot && dot != name && dot[1];
}

/* model, task, method, then hyperparameter and train.* columns in file order. */
static bool is_key_name(const char *name)
{
    return strcmp(name, "model") == 0 || strcmp(name, "task") == 0 || strcmp(name, "method") == 0 ||
           agg_is_hparam_col(name);
}

bool agg_is_key(const struct agg *a, int col)
{
    for (int k = 0; k < a->nkeys; k++)
        if (a->keys[k] == col)
            return true;
    return false;
}

int agg_measure_index(const struct agg *a, const char *col)
{
    for (int m = 0; m < a->nmeasures; m++)
        if (strcmp(a->t->cols[a->measures[m]], col) == 0)
            return m;
    return -1;
}

const char *agg_short_name(const struct agg *a, const struct agg_setting *s, int col)
{
    const char *name = a->t->cols[col];
    if (strncmp(name, "train.", 6) == 0)
        return name + 6;
    const char *label = agg_table_cell(a->t, s->row, a->col_method);
    size_t n = strlen(label);
    if (strncmp(name, label, n) == 0 && name[n] == '.')
        return name + n + 1;
    return name;
}

void agg_free(struct agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->s && i < a->n; i++) {
        free(a->s[i].rows);
        free(a->s[i].stats);
        free(a->s[i].label);
    }
    free(a->s);
    free(a->keys);
    free(a->measures);
    free(a->varies);
    memset(a, 0, sizeof *a);
}

/* Sorting rows by their key cells (then by row) groups each setting's rows. */
struct key_sort {
    const struct agg *a;
    size_t row;
};

static int cmp_key_rows(const void *x, const void *y)
{
    const struct key_sort *p = x, *q = y;
    const struct agg *a = p->a;
    for (int k = 0; k < a->nkeys; k++) {
        int c = strcmp(agg_table_cell(a->t, p->row, a->keys[k]),
                       agg_table_cell(a->t, q->row, a->keys[k]));
        if (c)
            return c;
    }
    return p->row < q->row ? -1 : p->row > q->row;
}

static bool same_key(const struct agg *a, size_t r1, size_t r2)
{
    for (int k = 0; k < a->nkeys; k++)
        if (strcmp(agg_table_cell(a->t, r1, a->keys[k]), agg_table_cell(a->t, r2, a->keys[k])))
            return false;
    return true;
}

static int cmp_setting_row(const void *x, const void *y)
{
    const struct agg_setting *p = x, *q = y;
    return p->row < q->row ? -1 : p->row > q->row;
}

static int group_rows(struct agg *a, struct err *e)
{
    const struct agg_table *t = a->t;
    struct key_sort *ks = malloc((t->nrows ? t->nrows : 1) * sizeof *ks);
    a->s = calloc(t->nrows ? t->nrows : 1, sizeof *a->s);
    if (!ks || !a->s) {
        free(ks);
        return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", t->path);
    }
    for (size_t i = 0; i < t->nrows; i++)
        ks[i] = (struct key_sort){a, i};
    qsort(ks, t->nrows, sizeof *ks, cmp_key_rows);
    for (size_t i = 0; i < t->nrows;) {
        size_t j = i + 1;
        while (j < t->nrows && same_key(a, ks[i].row, ks[j].row))
            j++;
        struct agg_setting *s = &a->s[a->n++];
        s->row = ks[i].row; /* ties sort by row: the first is the earliest */
        s->nrows = j - i;
        if (!(s->rows = malloc(s->nrows * sizeof *s->rows))) {
            free(ks);
            return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", t->path);
        }
        for (size_t k = i; k < j; k++)
            s->rows[k - i] = ks[k].row;
        i = j;
    }
    free(ks);
    qsort(a->s, a->n, sizeof *a->s, cmp_setting_row);
    return ERR_OK;
}

static int setting_stats(struct agg *a, struct agg_setting *s, double *scratch, struct err *e)
{
    s->stats = calloc(a->nmeasures ? (size_t)a->nmeasures : 1, sizeof *s->stats);
    if (!s->stats)
        return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", a->t->path);
    for (size_t i = 0; i < s->nrows; i++) {
        const char *st = agg_table_cell(a->t, s->rows[i], a->col_status);
        if (strcmp(st, "ok") == 0)
            s->n_ok++;
        else if (strcmp(st, "diverged") == 0)
            s->n_diverged++;
        else
            s->n_failed++;
    }
    for (int m = 0; m < a->nmeasures; m++) {
        size_t k = 0;
        for (size_t i = 0; i < s->nrows; i++) {
            if (strcmp(agg_table_cell(a->t, s->rows[i], a->col_status), "ok") != 0)
                continue;
            double v;
            scratch[k++] = agg_parse_num(agg_table_cell(a->t, s->rows[i], a->measures[m]), &v)
                               ? v
                               : (double)NAN;
        }
        agg_stat_compute(&s->stats[m], scratch, k);
    }
    return ERR_OK;
}

/* varies[i][c]: column c takes more than one value among the settings with
 * setting i's method label.  Settings are sorted by label so that each
 * label's group is compared against its first member: O(n log n + n keys). */
struct by_method {
    const char *m; /* view into the table */
    size_t i;
};

static int cmp_by_method(const void *x, const void *y)
{
    const struct by_method *p = x, *q = y;
    int c = strcmp(p->m, q->m);
    return c ? c : (p->i < q->i ? -1 : p->i > q->i);
}

static int find_varying(struct agg *a, struct err *e)
{
    size_t nc = (size_t)a->t->ncols;
    a->varies = calloc(a->n * nc + 1, sizeof *a->varies);
    struct by_method *ord = malloc((a->n + 1) * sizeof *ord);
    if (!a->varies || !ord) {
        free(ord);
        return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", a->t->path);
    }
    for (size_t i = 0; i < a->n; i++)
        ord[i] = (struct by_method){agg_table_cell(a->t, a->s[i].row, a->col_method), i};
    qsort(ord, a->n, sizeof *ord, cmp_by_method);
    for (size_t g = 0; g < a->n;) {
        size_t h = g + 1;
        while (h < a->n && strcmp(ord[g].m, ord[h].m) == 0)
            h++;
        for (int k = 0; k < a->nkeys; k++) {
            int c = a->keys[k];
            const char *first = agg_table_cell(a->t, a->s[ord[g].i].row, c);
            bool v = false;
            for (size_t i = g + 1; i < h && !v; i++)
                v = strcmp(first, agg_table_cell(a->t, a->s[ord[i].i].row, c)) != 0;
            for (size_t i = g; i < h; i++)
                a->varies[ord[i].i * nc + (size_t)c] = v;
        }
        g = h;
    }
    free(ord);
    return ERR_OK;
}

static int make_label(struct agg *a, struct agg_setting *s, size_t i, struct err *e)
{
    struct strbuf b = {0};
    strbuf_str(&b, agg_table_cell(a->t, s->row, a->col_method));
    for (int k = 0; k < a->nkeys; k++) {
        int c = a->keys[k];
        if (c == a->col_task || c == a->col_method ||
            !a->varies[i * (size_t)a->t->ncols + (size_t)c])
            continue;
        const char *v = agg_table_cell(a->t, s->row, c);
        strbuf_printf(&b, " %s=%s", agg_short_name(a, s, c), v[0] ? v : "default");
    }
    if (b.oom) {
        strbuf_free(&b);
        return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", a->t->path);
    }
    s->label = b.p;
    return ERR_OK;
}

int agg_build(struct agg *a, const struct agg_table *t, struct err *e)
{
    memset(a, 0, sizeof *a);
    a->t = t;
    static const char *const required[] = {"trial_id", "task", "method", "status"};
    for (size_t k = 0; k < sizeof required / sizeof *required; k++)
        if (agg_table_col(t, required[k]) < 0)
            return ERR_SET(e, ERR_FORMAT,
                           "%s: not a peftbench results.csv (no '%s' column); expected the "
                           "file `peftbench run` writes",
                           t->path, required[k]);
    a->col_task = agg_table_col(t, "task");
    a->col_method = agg_table_col(t, "method");
    a->col_seed = agg_table_col(t, "seed");
    a->col_status = agg_table_col(t, "status");
    a->col_metric = agg_table_col(t, "primary_metric");
    a->keys = calloc((size_t)t->ncols + 1, sizeof *a->keys);
    a->measures = calloc((size_t)t->ncols + 1, sizeof *a->measures);
    if (!a->keys || !a->measures) {
        agg_free(a);
        return ERR_SET(e, ERR_NOMEM, "out of memory aggregating %s", t->path);
    }
    for (int c = 0; c < t->ncols; c++)
        if (is_key_name(t->cols[c]))
            a->keys[a->nkeys++] = c;
    for (const char *const *m = agg_measures; *m; m++) {
        int c = agg_table_col(t, *m);
        if (c >= 0)
            a->measures[a->nmeasures++] = c;
    }
    double *scratch = malloc((t->nrows ? t->nrows : 1) * sizeof *scratch);
    int rc = scratch ? group_rows(a, e) : ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ERR_OK && i < a->n; i++)
        rc = setting_stats(a, &a->s[i], scratch, e);
    free(scratch);
    if (rc == ERR_OK)
        rc = find_varying(a, e);
    for (size_t i = 0; rc == ERR_OK && i < a->n; i++)
        rc = make_label(a, &a->s[i], i, e);
    if (rc) {
        agg_free(a);
        a->t = NULL;
    }
    return rc;
}

/* ---- summary.csv ------------------------------------------------------------------ */

static void summary_seeds(struct strbuf *b, const struct agg *a, const struct agg_setting *s)
{
    struct strbuf seeds = {0};
    for (size_t i = 0; i < s->nrows; i++)
        strbuf_printf(&seeds, "%s%s", i ? ";" : "", agg_table_cell(a->t, s->rows[i], a->col_seed));
    strbuf_csv(b, seeds.p ? seeds.p : "");
    b->oom |= seeds.oom;
    strbuf_free(&seeds);
}

/* Per-measure columns, in order (aggregate.h). */
static const char *const summary_stats[] = {"n",        "mean",      "std", "sem",
                                            "ci95_low", "ci95_high", "min", "max"};
#define SUMMARY_NSTATS ((int)(sizeof summary_stats / sizeof *summary_stats))

/* One measure's cells: a statistic a sample cannot give is an empty cell, never 0 or "nan". */
static void summary_measure(struct strbuf *b, const struct agg_stat *st)
{
    bool spread = st->n > 1;
    const double v[SUMMARY_NSTATS - 1] = {
        st->mean,
        spread ? st->std : (double)NAN,
        st->sem,
        st->mean - st->ci95,
        st->mean + st->ci95,
        st->min,
        st->max,
    };
    strbuf_printf(b, ",%d", st->n);
    for (int k = 0; k < SUMMARY_NSTATS - 1; k++) {
        strbuf_str(b, ",");
        strbuf_num(b, v[k]);
    }
}

int agg_write_summary(const struct agg *a, const char *path, struct err *e)
{
    struct strbuf b = {0};
    strbuf_str(&b, "setting");
    for (int k = 0; k < a->nkeys; k++) {
        strbuf_str(&b, ",");
        strbuf_csv(&b, a->t->cols[a->keys[k]]);
    }
    strbuf_str(&b, ",primary_metric,n,n_diverged,n_failed,seeds");
    for (int m = 0; m < a->nmeasures; m++)
        for (int k = 0; k < SUMMARY_NSTATS; k++)
            strbuf_printf(&b, ",%s_%s", a->t->cols[a->measures[m]], summary_stats[k]);
    strbuf_str(&b, "\n");
    for (size_t i = 0; i < a->n; i++) {
        const struct agg_setting *s = &a->s[i];
        strbuf_csv(&b, s->label);
        for (int k = 0; k < a->nkeys; k++) {
            strbuf_str(&b, ",");
            strbuf_csv(&b, agg_table_cell(a->t, s->row, a->keys[k]));
        }
        strbuf_str(&b, ",");
        strbuf_csv(&b, agg_table_cell(a->t, s->row, a->col_metric));
        strbuf_printf(&b, ",%d,%d,%d,", s->n_ok, s->n_diverged, s->n_failed);
        summary_seeds(&b, a, s);
        for (int m = 0; m < a->nmeasures; m++)
            summary_measure(&b, &s->stats[m]);
        strbuf_str(&b, "\n");
    }
    int rc = b.oom ? ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path)
                   : results_write_atomic(path, b.p, b.n, e);
    strbuf_free(&b);
    return rc;
}
