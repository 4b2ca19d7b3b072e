/*
 * predict_input: a task split or a file of texts for `predict`, checked against the
 * adapter's recorded task (see predict_input.h).
 */
#include "harness/run/predict_input.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/run.h"
#include "harness/sweep/sweep.h"
#include "tasks/tsv.h"

/* "a, b, c" of n names into buf (truncated with "..." when long). */
static const char *join_names(char *const *names, int n, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k + 4 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", names[i]);
    if (k + 4 >= size)
        snprintf(buf + size - 4, 4, "...");
    return buf;
}

/* ---- a file of texts -------------------------------------------------------------- */

/* The adapter's pair-ness against the file's (pair: the file has a second text). */
static int check_pairs(const struct persist_meta *meta, bool pair, const char *path,
                       const char *col_b, struct err *e)
{
    if (meta->task_pair == 1 && !pair)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: the adapter was trained on pairs of texts (task %s), the file has no "
                       "second text column '%s' (name it with --text-b-col)",
                       path, meta->task, col_b);
    if (meta->task_pair == 0 && pair)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: the adapter was trained on single texts (task %s), the file has a "
                       "second text column '%s'",
                       path, meta->task, col_b);
    return ERR_OK;
}

struct columns {
    const char *a, *b; /* names */
    bool b_named;      /* --text-b-col given: the column must exist */
    int ia, ib;        /* TSV: indices (-1 absent); JSONL: -1 */
    size_t nfields;    /* TSV: the header's field count */
    int pair;          /* -1 until known */
};

/* TSV header: find the columns. */
static int read_header(struct columns *c, const struct tsv_reader *r, struct err *e)
{
    c->nfields = r->nfields;
    for (size_t k = 0; k < r->nfields; k++) {
        if (c->ia < 0 && strcmp(r->fields[k], c->a) == 0)
            c->ia = (int)k;
        else if (c->ib < 0 && strcmp(r->fields[k], c->b) == 0)
            c->ib = (int)k;
    }
    const char *missing = c->ia < 0 ? c->a : c->b_named && c->ib < 0 ? c->b : NULL;
    if (missing) {
        char cols[512];
        return ERR_SET(e, ERR_FORMAT, "%s:%zu: no column '%s' in the header (columns: %s)", r->path,
                       r->line, missing, join_names(r->fields, (int)r->nfields, cols, sizeof cols));
    }
    c->pair = c->ib >= 0;
    return ERR_OK;
}

/* One record's texts into *a, *b (b NULL for single texts). */
static int record_texts(struct columns *c, struct tsv_reader *r, const char **a, const char **b,
                        struct err *e)
{
    if (r->fmt != TSV_JSONL) {
        if (r->nfields != c->nfields)
            return ERR_SET(e, ERR_FORMAT, "%s:%zu: %zu fields, the header has %zu", r->path,
                           r->line, r->nfields, c->nfields);
        *a = r->fields[c->ia];
        *b = c->ib >= 0 ? r->fields[c->ib] : NULL;
        return ERR_OK;
    }
    *a = tsv_json_get(r, c->a);
    *b = tsv_json_get(r, c->b);
    if (!*a)
        return ERR_SET(e, ERR_FORMAT, "%s:%zu: no key '%s' (the text; --text-col names another)",
                       r->path, r->line, c->a);
    if (c->pair < 0)
        c->pair = *b != NULL || c->b_named;
    if (c->pair != (*b != NULL))
        return ERR_SET(e, ERR_FORMAT, "%s:%zu: %s key '%s'%s", r->path, r->line,
                       *b ? "a second text under" : "no", c->b,
                       *b ? ", which the first record lacks" : " (the second text)");
    return ERR_OK;
}

static int read_input(const struct predict_source *src, const struct persist_meta *meta,
                      struct task_data *td, struct err *e)
{
    int fmt = tsv_format_from_path(src->input);
    struct tsv_reader r;
    if (tsv_open(&r, src->input, fmt < 0 ? TSV_QUOTED : (enum tsv_format)fmt, false, e))
        return e->code;
    struct columns c = {src->text_col ? src->text_col : "text",
                        src->text_b_col ? src->text_b_col : "text_b",
                        src->text_b_col != NULL,
                        -1,
                        -1,
                        0,
                        -1};
    td->nlabels = meta->num_labels;
    int rc;
    bool header = r.fmt != TSV_JSONL;
    while ((rc = tsv_next(&r, e)) == 1) {
        const char *a = NULL, *b = NULL;
        if (header) {
            header = false;
            if ((rc = read_header(&c, &r, e)) != ERR_OK)
                break;
            continue;
        }
        if ((rc = record_texts(&c, &r, &a, &b, e)) != ERR_OK ||
            (rc = split_push(&td->dev, a, b, -1, NAN, r.line, e)) != ERR_OK)
            break;
    }
    if (rc == ERR_OK && td->dev.n == 0)
        rc = ERR_SET(e, ERR_FORMAT, "%s: no examples", src->input);
    if (rc == ERR_OK)
        rc = check_pairs(meta, c.pair == 1, src->input, c.b, e);
    td->pair = c.pair == 1;
    td->kind = meta->num_labels == 1 ? TASK_REGRESSION : td->pair ? TASK_PAIR : TASK_SINGLE;
    td->dev.labeled = false;
    tsv_close(&r);
    return rc < 0 ? rc : ERR_OK;
}

/* ---- a task ------------------------------------------------------------------------- */

/* The task's label set against the adapter's head and recorded names. */
static int check_labels(const struct task_data *td, const char *task,
                        const struct persist_meta *meta, struct err *e)
{
    char a[256] = "", b[256] = "";
    if (td->label_names)
        join_names(td->label_names, td->nlabels, a, sizeof a);
    if (meta->label_names)
        join_names(meta->label_names, meta->num_labels, b, sizeof b);
    bool same = td->nlabels == meta->num_labels;
    for (int i = 0; same && td->label_names && meta->label_names && i < td->nlabels; i++)
        same = strcmp(td->label_names[i], meta->label_names[i]) == 0;
    if (same)
        return ERR_OK;
    return ERR_SET(e, ERR_CONFIG,
                   "--task %s has %d label%s [%s], the adapter (task %s) %d [%s]: not the "
                   "same label set",
                   task, td->nlabels, td->nlabels == 1 ? "" : "s",
                   td->label_names ? a : "regression", meta->task[0] ? meta->task : "?",
                   meta->num_labels,
                   meta->label_names       ? b
                   : meta->num_labels == 1 ? "regression"
                                           : "names not recorded");
}

static const struct split *pick_split(const struct task_data *td, const char *name)
{
    if (strcmp(name, "train") == 0)
        return &td->train;
    if (strcmp(name, "test") == 0)
        return &td->test;
    if (strcmp(name, "dev_mismatched") == 0)
        return &td->dev_mm;
    return strcmp(name, "dev") == 0 ? &td->dev : NULL;
}

/* The sweep file that declares task: --sweep, else the one recorded with the task. */
static const char *sweep_of(const struct predict_source *src, const char *task,
                            const struct persist_meta *meta)
{
    if (src->sweep)
        return src->sweep;
    return strcmp(task, meta->task) == 0 && meta->sweep_file[0] ? meta->sweep_file : NULL;
}

/* The task definition and parameters of task (a registry task, or a file task of sw). */
static const struct task_def *find_task(const char *task, const struct sweep *sw,
                                        const char *sweep_path, struct task_params *p,
                                        struct err *e)
{
    static const char *labels[TASK_MAX_LABELS];
    int nlabels = 0;
    const struct file_task_decl *fd = sweep_path ? sweep_file_task(sw, task) : NULL;
    if (fd) {
        run_file_task_params(p, fd, labels, &nlabels);
        return task_find("file");
    }
    const struct task_def *def = task_lookup(task, "--task", e);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", e->msg);
    if (!def && sweep_path)
        ERR_SET(e, e->code, "%s declares no file task '%s', and %s", sweep_path, task, msg);
    else if (!def)
        ERR_SET(e, e->code,
                "%s (a file task? name the sweep file that declares it with --sweep "
                "FILE)",
                msg);
    return def;
}

static int load_task(const struct predict_source *src, const struct persist_meta *meta,
                     struct task_data *td, FILE *errf, struct err *e)
{
    const char *task = src->task ? src->task : meta->task;
    if (!task[0])
        return ERR_SET(e, ERR_CONFIG,
                       "the adapter records no task (saved before peftbench recorded it, or "
                       "written by PEFT): give --task NAME or --input FILE");
    if (src->task && meta->task[0] && strcmp(src->task, meta->task) != 0)
        fprintf(errf, "peftbench predict: warning: --task %s overrides the adapter's task %s\n",
                src->task, meta->task);
    const char *sweep_path = sweep_of(src, task, meta);
    struct sweep sw;
    memset(&sw, 0, sizeof sw);
    struct sweep_opts so = {.allow_large = true};
    if (sweep_path && sweep_load(&sw, sweep_path, &so, e))
        return src->sweep ? e->code : err_prefix(e, "the sweep file recorded for task %s", task);
    struct task_params p;
    task_params_init(&p);
    const char *env = getenv("PEFTBENCH_DATA");
    p.data_dir = src->data_dir ? src->data_dir : sw.data_dir[0] ? sw.data_dir : env;
    p.seed = (uint64_t)src->seed;
    p.max_train = p.max_dev = p.max_test = (size_t)src->max_examples;
    const struct task_def *def = find_task(task, &sw, sweep_path, &p, e);
    int rc = def ? task_load(td, def, &p, e) : e->code;
    sweep_free(&sw);
    if (rc == ERR_OK)
        rc = check_labels(td, task, meta, e);
    return rc;
}

int predict_input_load(const struct predict_source *src, const struct persist_meta *meta,
                       struct task_data *td, const struct split **sp, FILE *errf, struct err *e)
{
    memset(td, 0, sizeof *td);
    *sp = NULL;
    if (src->input) {
        *sp = &td->dev;
        return read_input(src, meta, td, e);
    }
    if (!pick_split(td, src->split)) /* the name, before any loading */
        return ERR_SET(e, ERR_CONFIG, "--split %s: expected train, dev, test or dev_mismatched",
                       src->split);
    if (load_task(src, meta, td, errf, e))
        return e->code;
    *sp = pick_split(td, src->split);
    if ((*sp)->n == 0)
        return ERR_SET(e, ERR_CONFIG, "--split %s of task %s holds no examples", src->split,
                       td->name);
    return ERR_OK;
}
