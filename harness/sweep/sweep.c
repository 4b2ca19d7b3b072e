/*
 * sweep: a sweep file's top level and sweep_load (see sweep.h).
 *
 * Flow of sweep_load: load the YAML tree with includes (harness/yaml/yaml.h),
 * apply the command-line overrides, validate the top-level keys (this file:
 * name, model, tasks and file tasks, seeds, train, max_trials), then parse
 * each method block and expand the grid into trials with their canonical
 * text and id, refusing duplicate trials (sweep_expand.c).  The tree lives
 * until the end of the load: parsed blocks borrow its nodes.
 */
#include "harness/sweep/sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep/sweep_expand.h"
#include "harness/sweep/sweep_schema.h"
#include "harness/sweep/train_cfg.h"
#include "harness/yaml/yaml.h"
#include "tasks/task.h"

/* ---- top level ----------------------------------------------------------- */

static const char *const top_keys[] = {"sweep", "model",      "data_dir", "tasks", "seeds",
                                       "train", "max_trials", "methods",  "plots", "include"};
#define NTOP ((int)(sizeof top_keys / sizeof *top_keys))

/* Keys a file task may declare; the tasks module interprets them. */
static const char *const file_task_keys[] = {
    "name",   "path",   "train", "dev",    "test",   "format",     "header",        "text",
    "text_a", "text_b", "label", "labels", "metric", "regression", "skip_bad_rows",
};
#define NFTK ((int)(sizeof file_task_keys / sizeof *file_task_keys))

static int parse_file_task(struct sweep *s, const struct ynode *n, struct err *e)
{
    struct file_task_decl *ft = &s->file_tasks[s->nfile_tasks];
    memset(ft, 0, sizeof *ft);
    const struct ynode *name = ynode_get(n, "name");
    if (!name)
        return ynode_fail(e, ERR_CONFIG, n, "file task: expected a 'name:' key, found none");
    if (!ynode_get(n, "path") && !ynode_get(n, "train"))
        return ynode_fail(e, ERR_CONFIG, n,
                     "file task: expected a 'path:' (or 'train:') key with the "
                     "data file, found none");
    if (sweep_get_string(name, "file task name", ft->name, sizeof ft->name, e))
        return e->code;
    if (!sweep_valid_name(ft->name, sizeof ft->name))
        return ynode_fail(e, ERR_CONFIG, name,
                     "file task name: expected letters, digits, '.', '_' "
                     "or '-', found '%.60s'",
                     ft->name);
    if (task_find(ft->name))
        return ynode_fail(e, ERR_CONFIG, name,
                     "file task name '%s' is already a registered task; "
                     "choose another name",
                     ft->name);
    s->nfile_tasks++; /* owns its arrays from here on (sweep_free frees them) */
    ft->keys = calloc(n->n, sizeof *ft->keys);
    ft->values = calloc(n->n, sizeof *ft->values);
    ft->where = calloc(n->n, sizeof *ft->where);
    if (!ft->keys || !ft->values || !ft->where)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->keys[i], *v = n->items[i];
        bool known = false;
        for (int j = 0; j < NFTK; j++)
            known |= strcmp(k->text, file_task_keys[j]) == 0;
        if (!known)
            return sweep_unknown_key(e, k, "a file task", file_task_keys, NFTK);
        if (strcmp(k->text, "name") == 0)
            continue;
        bool ok = (v->kind == YNODE_SCALAR && !ynode_is_null(v)) ||
                  (v->kind == YNODE_SEQ && v->n > 0 && sweep_all_kind(v, YNODE_SCALAR));
        if (!ok)
            return ynode_fail(e, ERR_CONFIG, v,
                              "file task %s.%s: expected a value or a list of "
                              "values, found %s",
                              ft->name, k->text, SWEEP_DESCRIBE(v));
        char w[ERR_MSG_MAX];
        int j = ft->n++;
        ft->keys[j] = strdup(k->text);
        ft->values[j] = sweep_value_text(v);
        ft->where[j] = strdup(ynode_where(v, w, sizeof w));
        if (!ft->keys[j] || !ft->values[j] || !ft->where[j])
            return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int parse_tasks(struct sweep *s, const struct ynode *t, struct err *e)
{
    const struct ynode *const *list = (const struct ynode *const *)&t;
    size_t n = 1;
    if (t->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)t->items;
        n = t->n;
    }
    if (n == 0 || ynode_is_null(t))
        return ynode_fail(e, ERR_CONFIG, t,
                          "tasks: expected a task name or a non-empty list of tasks, "
                          "found %s",
                          n ? SWEEP_DESCRIBE(t) : "[]");
    if (n > SWEEP_MAX_TASKS)
        return ynode_fail(e, ERR_LIMIT, t,
                     "tasks: expected at most %d tasks (SWEEP_MAX_TASKS), found %zu",
                     SWEEP_MAX_TASKS, n);
    s->tasks = calloc(n, sizeof *s->tasks);
    s->file_tasks = calloc(n, sizeof *s->file_tasks);
    if (!s->tasks || !s->file_tasks)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct ynode *x = list[i];
        char name[TASK_NAME_MAX], w[ERR_MSG_MAX];
        if (x->kind == YNODE_MAP) {
            if (parse_file_task(s, x, e))
                return e->code;
            snprintf(name, sizeof name, "%s", s->file_tasks[s->nfile_tasks - 1].name);
        } else {
            if (sweep_get_string(x, "tasks", name, sizeof name, e))
                return e->code;
            if (strcmp(name, "file") == 0)
                return ynode_fail(e, ERR_CONFIG, x,
                             "tasks: 'file' needs a declaration such as "
                             "{name: mytask, path: data.tsv, text: sentence, label: label}");
            if (!task_lookup(name, ynode_where(x, w, sizeof w), e))
                return e->code;
        }
        for (int j = 0; j < s->ntasks; j++)
            if (strcmp(s->tasks[j], name) == 0)
                return ynode_fail(e, ERR_CONFIG, x, "tasks: '%s' is listed twice", name);
        if (!(s->tasks[s->ntasks] = strdup(name)))
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        s->ntasks++;
    }
    return 0;
}

static int parse_seed(const struct ynode *x, uint64_t *out, struct err *e)
{
    bool ok = x->kind == YNODE_SCALAR && x->len > 0 && x->len <= 20;
    for (size_t i = 0; ok && i < x->len; i++)
        ok = x->text[i] >= '0' && x->text[i] <= '9';
    if (ok) {
        errno = 0;
        unsigned long long v = strtoull(x->text, NULL, 10);
        ok = !errno;
        *out = v;
    }
    if (!ok)
        return ynode_fail(e, ERR_CONFIG, x, "seeds: expected a non-negative integer, found %s",
                          SWEEP_DESCRIBE(x));
    return 0;
}

static int parse_seeds(struct sweep *s, const struct ynode *t, struct err *e)
{
    const struct ynode *const *list = (const struct ynode *const *)&t;
    size_t n = 1;
    if (t->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)t->items;
        n = t->n;
    }
    if (n == 0)
        return ynode_fail(e, ERR_CONFIG, t,
                     "seeds: expected an integer or a non-empty list of "
                     "integers, found []");
    if (n > SWEEP_MAX_SEEDS)
        return ynode_fail(e, ERR_LIMIT, t,
                     "seeds: expected at most %d seeds (SWEEP_MAX_SEEDS), found %zu",
                     SWEEP_MAX_SEEDS, n);
    s->seeds = calloc(n, sizeof *s->seeds);
    if (!s->seeds)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (parse_seed(list[i], &v, e))
            return e->code;
        for (int j = 0; j < s->nseeds; j++)
            if (s->seeds[j] == v)
                return ynode_fail(e, ERR_CONFIG, list[i], "seeds: %" PRIu64 " is listed twice", v);
        s->seeds[s->nseeds++] = v;
    }
    return 0;
}

static int parse_top(struct sweep *s, const struct ynode *root, const char *path, struct err *e)
{
    for (size_t i = 0; i < root->n; i++) {
        bool known = false;
        for (int j = 0; j < NTOP; j++)
            known |= strcmp(root->keys[i]->text, top_keys[j]) == 0;
        if (!known)
            return sweep_unknown_key(e, root->keys[i], "the sweep file", top_keys, NTOP);
    }
    const struct ynode *n;
    if ((n = ynode_get(root, "include")))
        return ynode_fail(e, ERR_CONFIG, n,
                     "include: expected in the sweep file itself; overrides "
                     "apply after includes are resolved");
    if ((n = ynode_get(root, "sweep"))) {
        if (sweep_get_string(n, "sweep", s->name, sizeof s->name, e))
            return e->code;
        if (!sweep_valid_name(s->name, sizeof s->name))
            return ynode_fail(e, ERR_CONFIG, n,
                         "sweep: expected a name of letters, digits, '.', '_' "
                         "or '-' (it names results/<sweep>/), found '%.60s'",
                         s->name);
    } else {
        /* default: the file name without directory and extension */
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        const char *dot = strrchr(b, '.');
        size_t len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
        snprintf(s->name, sizeof s->name, "%.*s", (int)(len < 100 ? len : 100), b);
        if (!sweep_valid_name(s->name, sizeof s->name))
            return ynode_fail(e, ERR_CONFIG, root,
                         "expected a 'sweep: NAME' key (the file name '%s' "
                         "cannot serve as one)",
                         b);
    }
    if (!(n = ynode_get(root, "model")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'model' (builtin:NAME or a "
                     "Hugging Face model directory)");
    if (sweep_get_string(n, "model", s->model, sizeof s->model, e))
        return e->code;
    if ((n = ynode_get(root, "data_dir")) && !ynode_is_null(n) &&
        sweep_get_string(n, "data_dir", s->data_dir, sizeof s->data_dir, e))
        return e->code;
    if (!(n = ynode_get(root, "tasks")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'tasks' (a list of task names "
                     "or file-task declarations)");
    if (parse_tasks(s, n, e))
        return e->code;
    if ((n = ynode_get(root, "seeds"))) {
        if (parse_seeds(s, n, e))
            return e->code;
    } else {
        if (!(s->seeds = calloc(1, sizeof *s->seeds)))
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        s->seeds[0] = SWEEP_DEFAULT_SEED;
        s->nseeds = 1;
    }
    train_cfg_default(&s->train);
    if ((n = ynode_get(root, "train")) && train_cfg_parse(&s->train, n, &s->train_given, &s->train_cli, e))
        return e->code;
    s->max_trials = SWEEP_DEFAULT_MAX_TRIALS;
    if ((n = ynode_get(root, "max_trials"))) {
        long long v;
        if (n->kind != YNODE_SCALAR || !yaml_scalar_ll(n->text, &v) || v < 1)
            return ynode_fail(e, ERR_CONFIG, n, "max_trials: expected an integer >= 1, found %s",
                              SWEEP_DESCRIBE(n));
        s->max_trials = (size_t)v;
    }
    if (!(n = ynode_get(root, "methods")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'methods' (a list of method "
                     "blocks such as {method: lora, rank: [4, 8]})");
    if (n->kind != YNODE_SEQ || n->n == 0)
        return ynode_fail(e, ERR_CONFIG, n,
                          "methods: expected a non-empty list of method blocks, "
                          "found %s",
                          n->kind == YNODE_SEQ ? "an empty list" : SWEEP_DESCRIBE(n));
    return 0;
}

/* ---- load ------------------------------------------------------------------ */

int sweep_load(struct sweep *s, const char *path, const struct sweep_opts *o, struct err *e)
{
    struct err scratch;
    if (!e)
        e = &scratch;
    memset(s, 0, sizeof *s);
    err_clear(e);
    if (strlen(path) >= sizeof s->path)
        return ERR_SET(e, ERR_LIMIT, "%.200s...: path longer than %d characters", path,
                       SWEEP_PATH_MAX - 1);
    memcpy(s->path, path, strlen(path) + 1);
    struct ynode *root = NULL;
    int rc = ynode_load_file(&root, path, true, e);
    if (!rc && !root)
        rc = ERR_SET(e, ERR_CONFIG,
                     "%s:1:1: expected a mapping of sweep settings (sweep, model, "
                     "tasks, methods, ...), found an empty file",
                     path);
    for (int i = 0; !rc && o && i < o->noverrides; i++)
        rc = ynode_apply_override(&root, o->overrides[i], e);
    if (!rc && root->kind != YNODE_MAP)
        rc = ynode_fail(e, ERR_CONFIG, root,
                        "expected a mapping of sweep settings (sweep, model, "
                        "tasks, methods, ...), found %s",
                        SWEEP_DESCRIBE(root));
    if (!rc)
        rc = parse_top(s, root, path, e);
    if (!rc && o && o->model_identity)
        o->model_identity(s->model, s->model_id, sizeof s->model_id);
    else if (!rc)
        snprintf(s->model_id, sizeof s->model_id, "%s", s->model);
    if (!rc)
        rc = sweep_expand(s, root, o, e);
    const struct ynode *plots = rc ? NULL : ynode_get(root, "plots");
    if (!rc && plots)
        rc = ynode_emit(plots, &s->plots_yaml, e);
    if (!rc)
        rc = ynode_emit(root, &s->resolved_yaml, e);
    ynode_free(root);
    if (rc)
        sweep_free(s);
    return rc;
}

