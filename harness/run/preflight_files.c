/*
 * preflight_files: the preflight checks of a sweep's file tasks (harness/run/preflight.h).
 *
 * Reads every declared file once, the way tasks/filetask.c will, but instead of stopping at
 * the first problem lists them all: a file that is missing or not a regular file, a column
 * (or JSONL key) that is not there, a row whose field count differs from the header's, a
 * label outside the declared list, a declared label the train split never uses, a dev/test
 * label never seen in train, an empty split.  Row problems are capped per file
 * (PREFLIGHT_MAX_PER_FILE) so a wrong delimiter does not bury the other problems, and are
 * not problems at all under skip_bad_rows (the run skips and counts such rows).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/run/preflight.h"
#include "harness/run/run.h"
#include "harness/sweep/plan.h"
#include "tasks/task.h"
#include "tasks/tsv.h"

/* A small set of label strings (linear search: label sets are small, TASK_MAX_LABELS). */
struct labset {
    char *v[TASK_MAX_LABELS];
    int n;
};

static bool labset_has(const struct labset *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

static void labset_add(struct labset *s, const char *x)
{
    if (s->n < TASK_MAX_LABELS && !labset_has(s, x) && (s->v[s->n] = strdup(x)))
        s->n++;
}

static void labset_free(struct labset *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

/* What one file of a task is checked against. */
struct fcheck {
    struct preflight *p;
    const struct file_task *ft;
    const char *split; /* "train", "dev", "test" */
    const char *path;
    int fmt;
    struct labset *train_labels; /* filled by train, read by dev/test */
    bool skip_bad;               /* skip_bad_rows: the run skips bad rows, so they are fine */
    size_t nrow_problems;
};

/* A row problem, counted against the per-file cap. */
#define ROW_PROBLEM(c, ...)                                                                    \
    do {                                                                                       \
        if (!(c)->skip_bad && (c)->nrow_problems++ < PREFLIGHT_MAX_PER_FILE)                   \
            preflight_add((c)->p, __VA_ARGS__);                                                \
    } while (0)

static bool is_index(const char *s)
{
    if (!*s || strlen(s) > 6)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Column of spec as filetask.c resolves it: header name first, then a 0-based index. */
static int resolve_col(const struct tsv_reader *hdr, const char *spec)
{
    if (!spec)
        return -1;
    for (size_t i = 0; hdr && i < hdr->nfields; i++)
        if (strcmp(hdr->fields[i], spec) == 0)
            return (int)i;
    return is_index(spec) ? atoi(spec) : -1;
}

/* "a, b, c": the header's names, for "no column" messages. */
static void header_list(const struct tsv_reader *r, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < r->nfields && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", r->fields[i]);
}

/* The file exists and is a regular file (a FIFO would block the reader). */
static bool check_path(struct fcheck *c)
{
    struct stat st;
    if (stat(c->path, &st) != 0) {
        preflight_add(c->p, "task %s: %s file %s: %s", c->ft->name, c->split, c->path,
                      strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        preflight_add(c->p, "task %s: %s file %s: expected a regular file, found %s",
                      c->ft->name, c->split, c->path,
                      S_ISDIR(st.st_mode)    ? "a directory"
                      : S_ISFIFO(st.st_mode) ? "a FIFO"
                                             : "a device or socket");
        return false;
    }
    return true;
}

/* Columns of the header (or the first record without one); false when one is missing. */
static bool check_columns(struct fcheck *c, const struct tsv_reader *r, bool header, int col[3],
                          bool *labeled)
{
    const char *spec[3] = {c->ft->text_a, c->ft->text_b, c->ft->label};
    const char *what[3] = {"text", "text_b", "label"};
    bool ok = true, is_test = strcmp(c->split, "test") == 0;
    char names[512];
    header_list(r, names, sizeof names);
    for (int k = 0; k < 3; k++) {
        col[k] = resolve_col(header ? r : NULL, spec[k]);
        bool absent = spec[k] && (col[k] < 0 || (size_t)col[k] >= r->nfields);
        if (k == 2 && is_test) {
            *labeled = !absent; /* an unlabeled test file is fine */
            continue;
        }
        if (absent) {
            preflight_add(c->p, "%s:%zu: task %s: no %s column '%s' (%s %s)", c->path, r->line,
                          c->ft->name, what[k], spec[k],
                          header ? "the header has" : "without a header, columns are 0-based; "
                                                      "the first row has",
                          header ? names : "fewer fields");
            ok = false;
        }
    }
    return ok;
}

/* One row's label: known to the declared list / train split. */
static void check_label(struct fcheck *c, const struct tsv_reader *r, const char *l)
{
    const struct file_task *ft = c->ft;
    if (ft->regression) {
        char *end;
        (void)strtod(l, &end);
        if (end == l || *end)
            ROW_PROBLEM(c, "%s:%zu: label column '%s': expected a number (regression), found '%s'",
                        c->path, r->line, ft->label, l);
        return;
    }
    bool declared = false;
    for (int i = 0; i < ft->nlabels && !declared; i++)
        declared = strcmp(ft->labels[i], l) == 0;
    if (ft->labels && !declared)
        ROW_PROBLEM(c, "%s:%zu: label '%s' is not one of the declared labels of task %s", c->path,
                    r->line, l, ft->name);
    else if (strcmp(c->split, "train") == 0)
        labset_add(c->train_labels, l);
    else if (c->train_labels->n > 0 && !labset_has(c->train_labels, l)) /* train unread: n 0 */
        ROW_PROBLEM(c, "%s:%zu: label '%s' never occurs in the train split (%s)", c->path,
                    r->line, l, ft->train);
}

/* One record of a TSV/CSV file: field count, then its label. */
static void check_row(struct fcheck *c, const struct tsv_reader *r, size_t nexpect,
                      const int col[3], bool labeled)
{
    if (r->nfields != nexpect) {
        ROW_PROBLEM(c, "%s:%zu: expected %zu fields (as the %s), found %zu", c->path, r->line,
                    nexpect, c->ft->header ? "header" : "first row", r->nfields);
        return;
    }
    if (labeled && col[2] >= 0)
        check_label(c, r, r->fields[col[2]]);
}

/* One JSONL record: the keys are there, then its label. */
static void check_json_row(struct fcheck *c, struct tsv_reader *r, bool first, bool *labeled)
{
    const char *keys[3] = {c->ft->text_a, c->ft->text_b, c->ft->label};
    if (first && strcmp(c->split, "test") == 0)
        *labeled = tsv_json_get(r, c->ft->label) != NULL;
    for (int k = 0; k < 3; k++) {
        if (!keys[k] || (k == 2 && !*labeled))
            continue;
        const char *v = tsv_json_get(r, keys[k]);
        if (!v) {
            ROW_PROBLEM(c, "%s:%zu: key '%s': expected a string, number or boolean, found %s",
                        c->path, r->line, keys[k], tsv_json_found(r, keys[k]));
            return;
        }
        if (k == 2)
            check_label(c, r, v);
    }
}

/* Read one file of a task to its end, listing its problems. */
static void check_file(struct fcheck *c)
{
    if (!check_path(c))
        return;
    struct tsv_reader r;
    struct err e;
    err_clear(&e);
    if (tsv_open(&r, c->path, (enum tsv_format)c->fmt, false, &e)) {
        preflight_add(c->p, "task %s: %s", c->ft->name, e.msg);
        return;
    }
    bool header = c->fmt != TSV_JSONL && c->ft->header, labeled = true, first = true;
    int col[3] = {-1, -1, -1}, rc;
    size_t nexpect = 0, nrows = 0;
    if (header) {
        if ((rc = tsv_next(&r, &e)) <= 0) {
            preflight_add(c->p, rc == 0 ? "%s: empty file: expected a header row, found nothing"
                                        : "%s", rc == 0 ? c->path : e.msg);
            tsv_close(&r);
            return;
        }
        nexpect = r.nfields;
        if (!check_columns(c, &r, true, col, &labeled))
            goto done; /* every row would repeat the same problem */
    }
    while ((rc = tsv_next(&r, &e)) == 1) {
        if (c->fmt == TSV_JSONL) {
            check_json_row(c, &r, first, &labeled);
        } else {
            if (first && !header) {
                nexpect = r.nfields;
                if (!check_columns(c, &r, false, col, &labeled))
                    goto done;
            }
            check_row(c, &r, nexpect, col, labeled);
        }
        first = false;
        nrows++;
    }
    if (rc < 0)
        preflight_add(c->p, "%s", e.msg); /* malformed record: the reader cannot go on */
    else if (nrows == 0)
        preflight_add(c->p, "%s: the %s split of task %s is empty: expected data rows, found none",
                      c->path, c->split, c->ft->name);
done:
    if (c->nrow_problems > PREFLIGHT_MAX_PER_FILE)
        preflight_add(c->p, "%s: ... and %zu more row problems", c->path,
                      c->nrow_problems - PREFLIGHT_MAX_PER_FILE);
    tsv_close(&r);
}

/* Declared labels the train split never uses (after train was read). */
static void check_declared(struct preflight *p, const struct file_task *ft,
                           const struct labset *seen)
{
    for (int i = 0; i < ft->nlabels; i++)
        if (!labset_has(seen, ft->labels[i]))
            preflight_add(p, "%s: declared label '%s' of task %s never occurs in the train split",
                          ft->train, ft->labels[i], ft->name);
}

/* Every check of one file task declaration. */
static void check_task(struct preflight *p, const struct file_task_decl *d)
{
    struct task_params tp;
    task_params_init(&tp);
    static const char *labels[TASK_MAX_LABELS];
    int nlabels = 0;
    run_file_task_params(&tp, d, labels, &nlabels);
    const struct file_task *ft = &tp.file;
    if (!ft->train || !ft->dev || !ft->text_a || !ft->label) {
        preflight_add(p, "task %s: a file task needs %s", d->name,
                      !ft->train ? "a train path" : !ft->dev ? "a dev path"
                      : !ft->text_a ? "a text column" : "a label column");
        return;
    }
    int fmt = ft->format >= 0 ? ft->format : tsv_format_from_path(ft->train);
    if (fmt < 0) {
        preflight_add(p, "task %s: cannot tell the format of %s from its extension; set format "
                         "(tsv, tsv-quoted, csv, jsonl)", d->name, ft->train);
        return;
    }
    struct labset seen = {.n = 0};
    const char *paths[3] = {ft->train, ft->dev, ft->test}, *names[3] = {"train", "dev", "test"};
    for (int i = 0; i < 3; i++) {
        if (!paths[i])
            continue;
        struct fcheck c = {p, ft, names[i], paths[i], fmt, &seen, tp.skip_bad_rows, 0};
        check_file(&c);
        if (i == 0 && ft->labels && seen.n > 0) /* train unreadable: nothing to compare */
            check_declared(p, ft, &seen);
    }
    labset_free(&seen);
}

void preflight_file_tasks(struct preflight *p, const struct sweep *s)
{
    for (int i = 0; i < s->nfile_tasks; i++) {
        bool used = false; /* a declared task no trial uses is not read */
        for (int k = 0; k < s->ntasks && !used; k++)
            used = strcmp(s->tasks[k], s->file_tasks[i].name) == 0;
        if (used)
            check_task(p, &s->file_tasks[i]);
    }
}
