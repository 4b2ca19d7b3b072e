/*
 * filetask: a task declared by the caller (struct file_task in task.h): TSV, CSV
 * or JSONL files with named or numbered columns.
 *
 * Columns: with a header, a column is found by its name, else by a decimal
 * 0-based index; without a header only indices work; JSONL uses keys.
 * Labels: with a label list the label column must hold one of those strings
 * exactly (ids in list order); without one, the distinct values of the train
 * split become the labels, sorted numerically when all are integers, else
 * bytewise.  A dev/test value outside the set is a malformed row.
 * Regression: the label column holds a finite real number.
 * Field counts: every TSV/CSV record has the header's field count (without a header, the
 * first record's); another count is a malformed row naming file:line.
 * Test file: labeled when its header (JSONL: first record) has the label column.
 * Metrics: classification reports accuracy, macro-F1 and MCC (and F1 of class
 * id 1 when there are two labels); regression Pearson, Spearman and their mean.
 * The primary is `metric` when given (it must suit the kind), else accuracy /
 * pearson_spearman.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/loaders.h"
#include "tasks/tsv.h"

struct strvec {
    char **v;
    size_t n, cap;
};

static void strvec_free(struct strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int strvec_push(struct strvec *s, const char *x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(x ? x : "")))
        return ERR_NOMEM;
    s->n++;
    return ERR_OK;
}

static bool is_index(const char *s)
{
    if (!*s || strlen(s) > 6)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool is_integer(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return end != s && !*end && !errno;
}

/* Resolve a column spec: header name first, then index; -1 when absent. */
static int resolve_col(const struct tsv_reader *hdr, const char *spec)
{
    if (!spec)
        return -1;
    if (hdr)
        for (size_t i = 0; i < hdr->nfields; i++)
            if (strcmp(hdr->fields[i], spec) == 0)
                return (int)i;
    return is_index(spec) ? atoi(spec) : -1;
}

static const char *field(struct tsv_reader *r, int col, const char *key)
{
    if (r->fmt == TSV_JSONL)
        return key ? tsv_json_get(r, key) : NULL;
    return col >= 0 && (size_t)col < r->nfields ? r->fields[col] : NULL;
}

/* Read one file into s (labels as raw strings into lab, or targets parsed). */
static int read_file(const struct file_task *ft, const struct task_params *p, int fmt,
                     const char *path, bool is_test, bool regression, struct split *s,
                     struct strvec *lab, struct err *e)
{
    struct tsv_reader r;
    int rc = tsv_open(&r, path, (enum tsv_format)fmt, p->skip_bad_rows, e);
    if (rc)
        return err_prefix(e, "task %s", ft->name ? ft->name : "file");
    int ia = -1, ib = -1, il = -1;
    bool header = fmt != TSV_JSONL && ft->header;
    bool first = true;
    size_t nexpect = 0; /* fields of every record: the header's, else the first record's */
    if (header) {
        rc = tsv_next(&r, e);
        if (rc <= 0) {
            if (rc == 0)
                rc = ERR_SET(e, ERR_FORMAT, "%s: empty file (expected a header row)", path);
            goto out;
        }
    }
    if (fmt != TSV_JSONL) {
        ia = resolve_col(header ? &r : NULL, ft->text_a);
        ib = resolve_col(header ? &r : NULL, ft->text_b);
        il = resolve_col(header ? &r : NULL, ft->label);
        const char *bad = ia < 0 ? ft->text_a : ft->text_b && ib < 0 ? ft->text_b : NULL;
        if (!bad && il < 0 && !is_test)
            bad = ft->label;
        if (bad) {
            rc = ERR_SET(e, ERR_CONFIG, "%s: no column '%s'%s", path, bad,
                         header ? " in the header (give a header name or a 0-based index)"
                                : " (without a header, columns are 0-based indices)");
            goto out;
        }
    }
    s->labeled = !is_test || il >= 0;
    nexpect = header ? r.nfields : 0;
    while ((rc = tsv_next(&r, e)) == 1) {
        if (fmt != TSV_JSONL && !nexpect)
            nexpect = r.nfields;
        /* strict: an extra field (a stray TAB) must not shift or add a class silently */
        if (fmt != TSV_JSONL && r.nfields != nexpect) {
            if ((rc = tsv_bad_row(&r, e, "expected %zu fields (as the %s), found %zu", nexpect,
                                  header ? "header" : "first row", r.nfields)) < 0)
                goto out;
            continue;
        }
        if (first && is_test && fmt == TSV_JSONL)
            s->labeled = tsv_json_get(&r, ft->label) != NULL;
        if (first && is_test && !header && fmt != TSV_JSONL)
            s->labeled = il >= 0 && (size_t)il < r.nfields;
        first = false;
        const char *a = field(&r, ia, ft->text_a);
        const char *b = ft->text_b ? field(&r, ib, ft->text_b) : NULL;
        const char *l = s->labeled ? field(&r, il, ft->label) : NULL;
        const char *missing = !a                 ? ft->text_a
                              : ft->text_b && !b ? ft->text_b
                              : s->labeled && !l ? ft->label
                                                 : NULL;
        if (missing) {
            /* JSONL has keys, the other formats fields under column names or numbers */
            rc =
                fmt == TSV_JSONL
                    ? tsv_bad_row(&r, e, "key '%s': expected a string, number or boolean, found %s",
                                  missing, tsv_json_found(&r, missing))
                    : tsv_bad_row(&r, e, "no value for column '%s' (%zu fields)", missing,
                                  r.nfields);
            if (rc < 0)
                goto out;
            continue;
        }
        float target = NAN;
        if (l && regression) {
            char *end;
            double v = strtod(l, &end);
            if (end == l || *end || !isfinite(v)) {
                if ((rc = tsv_bad_row(&r, e, "value '%s' of %s '%s' is not a number", l,
                                      fmt == TSV_JSONL ? "key" : "column", ft->label)) < 0)
                    goto out;
                continue;
            }
            target = (float)v;
        }
        if ((rc = split_push(s, a, b, -1, target, r.line, e)))
            goto out;
        if (!regression && (rc = strvec_push(lab, l)))
            goto nomem;
    }
    goto out;
nomem:
    rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
out:
    s->skipped = r.nbad;
    tsv_close(&r);
    return rc < 0 ? rc : ERR_OK;
}

static int num_cmp(const void *x, const void *y)
{
    long a, b;
    is_integer(*(char *const *)x, &a);
    is_integer(*(char *const *)y, &b);
    return (a > b) - (a < b);
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Label names from the spec or from the train values. */
static int make_labels(struct task_data *t, const struct file_task *ft, int fmt,
                       const struct strvec *tl, struct err *e)
{
    struct strvec names = {0};
    if (ft->labels) {
        if (ft->nlabels < 2)
            return ERR_SET(e, ERR_CONFIG, "task %s: a label list needs at least 2 labels", t->name);
        for (int i = 0; i < ft->nlabels; i++) {
            for (int j = 0; j < i; j++)
                if (strcmp(ft->labels[i], ft->labels[j]) == 0) {
                    strvec_free(&names);
                    return ERR_SET(e, ERR_CONFIG, "task %s: label '%s' listed twice", t->name,
                                   ft->labels[i]);
                }
            if (strvec_push(&names, ft->labels[i]))
                goto nomem;
        }
    } else {
        char **tmp = malloc((tl->n ? tl->n : 1) * sizeof *tmp);
        if (!tmp)
            goto nomem;
        if (tl->n) /* an empty train split has tl->v == NULL: memcpy(_, NULL, 0) is undefined */
            memcpy(tmp, tl->v, tl->n * sizeof *tmp);
        bool numeric = true;
        long v;
        for (size_t i = 0; i < tl->n && numeric; i++)
            numeric = is_integer(tmp[i], &v);
        qsort(tmp, tl->n, sizeof *tmp, numeric ? num_cmp : str_cmp);
        for (size_t i = 0; i < tl->n; i++) {
            if (i > 0 &&
                (numeric ? num_cmp(&tmp[i], &tmp[i - 1]) : strcmp(tmp[i], tmp[i - 1])) == 0)
                continue;
            if (names.n == TASK_MAX_LABELS) {
                free(tmp);
                strvec_free(&names);
                return ERR_SET(e, ERR_LIMIT,
                               "task %s: more than %d distinct labels in the train split (is '%s' "
                               "the label %s? for real values set regression)",
                               t->name, TASK_MAX_LABELS, ft->label,
                               fmt == TSV_JSONL ? "key" : "column");
            }
            if (strvec_push(&names, tmp[i])) {
                free(tmp);
                goto nomem;
            }
        }
        free(tmp);
        if (names.n < 2) {
            int rc = ERR_SET(e, ERR_CONFIG,
                             "task %s: the train split has %s label value%s%s%s; a classification "
                             "task needs at least 2",
                             t->name, names.n ? "a single" : "no", names.n ? " '" : "s",
                             names.n ? names.v[0] : "", names.n ? "'" : "");
            strvec_free(&names);
            return rc;
        }
    }
    t->label_names = names.v;
    t->nlabels = (int)names.n;
    return ERR_OK;
nomem:
    strvec_free(&names);
    return ERR_SET(e, ERR_NOMEM, "task %s: out of memory", t->name);
}

static int map_labels(struct task_data *t, struct split *s, const struct strvec *lab,
                      const char *path, bool skip_bad, struct err *e)
{
    if (!s->labeled)
        return ERR_OK;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        int id = -1;
        for (int c = 0; c < t->nlabels && id < 0; c++)
            if (strcmp(t->label_names[c], lab->v[i]) == 0)
                id = c;
        if (id < 0 && !skip_bad) {
            return ERR_SET(e, ERR_FORMAT,
                           "%s:%llu: label '%s' is not one of the %d labels (%s, %s%s)", path,
                           (unsigned long long)s->ex[i].id, lab->v[i], t->nlabels,
                           t->label_names[0], t->label_names[1], t->nlabels > 2 ? ", ..." : "");
        }
        if (id < 0) {
            free(s->ex[i].a);
            free(s->ex[i].b);
            s->skipped++;
            continue;
        }
        s->ex[i].label = id;
        s->ex[k++] = s->ex[i];
    }
    s->n = s->total = k;
    return ERR_OK;
}

int filetask_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
                  struct err *e)
{
    (void)def;
    const struct file_task *ft = &p->file;
    snprintf(out->name, sizeof out->name, "%s", ft->name && *ft->name ? ft->name : "file");
    if (!ft->train || !ft->dev)
        return ERR_SET(e, ERR_CONFIG, "task %s: a file task needs train and dev paths", out->name);
    if (!ft->text_a || !ft->label)
        return ERR_SET(e, ERR_CONFIG, "task %s: a file task needs the text_a and label columns",
                       out->name);
    int fmt = ft->format >= 0 ? ft->format : tsv_format_from_path(ft->train);
    if (fmt < 0 || fmt > TSV_JSONL)
        return ERR_SET(e, ERR_CONFIG,
                       "task %s: cannot tell the format of %s from its extension; set format "
                       "(tsv, tsv-quoted, csv, jsonl)",
                       out->name, ft->train);
    if (ft->regression && ft->labels)
        return ERR_SET(e, ERR_CONFIG, "task %s: a regression task takes no label list", out->name);

    out->kind = ft->regression ? TASK_REGRESSION : ft->text_b ? TASK_PAIR : TASK_SINGLE;
    struct strvec lab[3] = {{0}};
    const char *paths[3] = {ft->train, ft->dev, ft->test};
    struct split *splits[3] = {&out->train, &out->dev, &out->test};
    int rc = ERR_OK;
    for (int i = 0; i < 3 && !rc; i++)
        if (paths[i])
            rc = read_file(ft, p, fmt, paths[i], i == 2, ft->regression, splits[i], &lab[i], e);
    if (!rc && !ft->regression) {
        rc = make_labels(out, ft, fmt, &lab[0], e);
        for (int i = 0; i < 3 && !rc; i++)
            if (paths[i])
                rc = map_labels(out, splits[i], &lab[i], paths[i], p->skip_bad_rows, e);
    }
    for (int i = 0; i < 3; i++)
        strvec_free(&lab[i]);
    if (rc)
        return rc;

    if (ft->regression) {
        out->nlabels = 1;
        out->metrics = METRICS_REGRESSION;
        out->primary = METRIC_PEARSON_SPEARMAN;
    } else {
        out->metrics = out->nlabels == 2 ? METRICS_CLASS_BINARY : METRICS_CLASS_MULTI;
        out->primary = METRIC_ACCURACY;
    }
    if (ft->metric) {
        int m = metric_find(ft->metric);
        if (m < 0)
            return ERR_SET(e, ERR_CONFIG,
                           "task %s: unknown metric '%s'; valid: accuracy, f1, macro_f1, mcc, "
                           "acc_f1, pearson, spearman, pearson_spearman",
                           out->name, ft->metric);
        if (metric_is_regression(m) != ft->regression)
            return ERR_SET(e, ERR_CONFIG, "task %s: metric '%s' is for %s tasks", out->name,
                           ft->metric, ft->regression ? "classification" : "regression");
        if ((m == METRIC_F1 || m == METRIC_ACC_F1) && out->nlabels != 2)
            return ERR_SET(e, ERR_CONFIG, "task %s: metric '%s' needs 2 labels (the task has %d)",
                           out->name, ft->metric, out->nlabels);
        out->metrics |= METRIC_BIT(m);
        out->primary = m;
    }
    return ERR_OK;
}
