/*
 * preflight: the list of problems and the checks of a sweep that need no data files --
 * GLUE data present, hyperparameters against the model's dimensions, plot spec columns --
 * plus printing.  File tasks are read in preflight_files.c.  See preflight.h.
 *
 * Why here and not in the loaders: the loaders stop at the first error (their callers can
 * do nothing else), while a researcher fixing a sweep wants every problem at once.  The
 * checks reuse the loaders' own code where it exists (a GLUE task's `sizes`, each method's
 * `check`, plotcols_resolve) so that preflight and the run agree.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/pretrain/cache.h"
#include "harness/pretrain/command.h"
#include "harness/pretrain/config.h"
#include "harness/report/aggregate.h"
#include "harness/report/plotcols.h"
#include "harness/report/plotspec.h"
#include "harness/run/preflight.h"
#include "harness/sweep/plan.h"
#include "harness/sweep/results.h"
#include "model/arch/model.h"
#include "model/engine/bf16.h"
#include "model/engine/matmul.h"
#include "model/io/hfconfig.h"
#include "tasks/task.h"

/* ---- the list ------------------------------------------------------------------- */

void preflight_add(struct preflight *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->msg[i], buf) == 0)
            return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        char **v = realloc(p->msg, cap * sizeof *v);
        if (!v) {
            p->nomem = true;
            return;
        }
        p->msg = v;
        p->cap = cap;
    }
    if (!(p->msg[p->n] = strdup(buf)))
        p->nomem = true;
    else
        p->n++;
}

void preflight_free(struct preflight *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->msg[i]);
    free(p->msg);
    memset(p, 0, sizeof *p);
}

int preflight_print(const struct preflight *p, FILE *errf)
{
    if (p->n == 0 && !p->nomem)
        return 0;
    fprintf(errf, "peftbench: %zu problem%s found before any training (nothing was run or "
                  "recorded):\n",
            p->n, p->n == 1 ? "" : "s");
    for (size_t i = 0; i < p->n; i++)
        fprintf(errf, "  %s\n", p->msg[i]);
    if (p->nomem)
        fprintf(errf, "  (out of memory: more problems may not be listed)\n");
    return 2;
}

/* ---- model dimensions ------------------------------------------------------------ */

/* Dimensions of configs/pretrain/NAME.yaml, as the build will make them; *current: the
 * build in results/models/NAME is of this config (its config.json then says the same). */
static bool dims_from_pretrain(struct preflight *p, const char *name, struct bert_config *cfg,
                               bool *current)
{
    char path[PRETRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s.yaml", PRETRAIN_CONFIG_DIR, name);
    struct pretrain_cfg pc;
    struct err e;
    err_clear(&e);
    if (pretrain_cfg_load(&pc, path, &e)) {
        preflight_add(p, "model builtin:%s: %s", name, e.msg);
        return false;
    }
    hfconfig_default(cfg);
    cfg->num_hidden_layers = pc.layers, cfg->hidden_size = pc.hidden;
    cfg->num_attention_heads = pc.heads, cfg->intermediate_size = pc.ffn;
    cfg->max_position_embeddings = pc.max_position, cfg->vocab_size = pc.vocab_size;
    snprintf(path, sizeof path, "%s/%s", PRETRAIN_MODEL_DIR, name);
    *current = pretrain_is_current(path, pc.key);
    pretrain_cfg_free(&pc);
    return true;
}

bool preflight_model_dims(struct preflight *p, const char *model, struct bert_config *cfg,
                          bool *built)
{
    char path[SWEEP_PATH_MAX + 64];
    struct stat st;
    bool builtin = strncmp(model, "builtin:", 8) == 0;
    if (builtin)
        snprintf(path, sizeof path, "%s/%s/config.json", PRETRAIN_MODEL_DIR, model + 8);
    else
        snprintf(path, sizeof path, "%s/config.json", model);
    *built = stat(path, &st) == 0;
    /* a builtin model not built, or built from an older config, gets (re)built by `run`
     * first: the dimensions are those of its config (plan must not build it) */
    if (builtin) {
        if (!dims_from_pretrain(p, model + 8, cfg, built))
            return false;
        if (!*built)
            return true;
        /* a current build: its config.json (read below) has every field */
    }
    struct err e;
    err_clear(&e);
    if (!builtin && (stat(model, &st) != 0 || !S_ISDIR(st.st_mode))) {
        preflight_add(p, "model %s: expected a model directory (config.json, model.safetensors, "
                         "vocab), found %s", model,
                      stat(model, &st) != 0 ? "nothing at that path" : "a file");
        return false;
    }
    if (hfconfig_read(cfg, path, &e)) {
        preflight_add(p, "model %s: %s", model, e.msg);
        return false;
    }
    return true;
}

/* ---- tasks ---------------------------------------------------------------------- */

/* A registry task's data are there (GLUE: the folder and split files, through the task's
 * own `sizes`, so the advice is the one the run would give). */
static void check_registry_task(struct preflight *p, const struct sweep *s, const char *task,
                                const char *data_dir)
{
    struct err e;
    err_clear(&e);
    const struct task_def *def = task_lookup(task, s->path, &e);
    if (!def) {
        preflight_add(p, "%s", e.msg);
        return;
    }
    if (!def->sizes || strcmp(def->source, "glue") != 0)
        return;
    struct task_params tp;
    task_params_init(&tp);
    tp.data_dir = data_dir;
    size_t n[4];
    if (def->sizes(def, &tp, n, &e))
        preflight_add(p, "%s", e.msg);
}

/* ---- hyperparameters against the model ------------------------------------------- */

/* Checks no method's `check` makes, in terms of the trial's train settings. */
static void check_trial_dims(struct preflight *p, const struct trial *t,
                             const struct bert_config *cfg)
{
    /* the encoder's own limit (model/arch/encoder.c): RoBERTa's table starts after pad + 1 */
    bool roberta = strcmp(cfg->arch, "roberta") == 0;
    int P = cfg->max_position_embeddings - (roberta ? cfg->pad_token_id + 1 : 0);
    if (t->train.max_seq_len > P)
        preflight_add(p, "train.max_seq_len = %d: expected <= the model's %d positions "
                         "(max_position_embeddings = %d%s)",
                      (int)t->train.max_seq_len, P, cfg->max_position_embeddings,
                      roberta ? ", less pad_token_id + 1" : "");
    for (int i = 0; i < t->nmethods; i++) {
        const struct hp_values *hp = &t->m[i].hp;
        if (hp_index(hp, "bottleneck") >= 0 && hp_is_set(hp, "bottleneck") &&
            hp_int(hp, "bottleneck") > cfg->hidden_size)
            preflight_add(p, "%s.bottleneck = %ld: expected <= the model's hidden size %d",
                          t->m[i].ops->name, hp_int(hp, "bottleneck"), cfg->hidden_size);
    }
}

/* Each method's own model-dependent check on a model of cfg's shape (weights allocated,
 * never initialised: only the dimensions are read). */
static void check_methods(struct preflight *p, const struct sweep *s, const struct bert_config *cfg)
{
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct err e;
    err_clear(&e);
    if (model_create(&m, cfg, 2, &acct, &e)) {
        preflight_add(p, "model %s: %s", s->model, e.msg);
        return;
    }
    for (size_t i = 0; i < s->ntrials; i++) {
        const struct trial *t = &s->trials[i];
        check_trial_dims(p, t, cfg);
        for (int k = 0; k < t->nmethods; k++) {
            const struct method_ops *ops = t->m[k].ops;
            err_clear(&e);
            if (ops->check && ops->check(&t->m[k].hp, &m, &e))
                preflight_add(p, "%s (model %s: hidden %d, %d layers)", e.msg, s->model,
                              cfg->hidden_size, cfg->num_hidden_layers);
        }
    }
    model_destroy(&m);
}

/* ---- plot specs ------------------------------------------------------------------ */

/* The train.* columns results.csv writes (harness/sweep/results.c). */
static const char *const train_cols[] = {
    "epochs",       "batch_size",   "eval_batch_size", "max_seq_len", "lr",
    "warmup_ratio", "weight_decay", "grad_clip",       "adam_beta1",  "adam_beta2",
    "adam_eps",     "early_stopping", "eval_test",     "max_train",   "max_dev",
    "max_test",     "max_steps",    "dropout",
};

static bool has_col(char **cols, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i], name) == 0)
            return true;
    return false;
}

/* The header results.csv will have for this sweep: fixed, train.* and method.param. */
static int sweep_columns(const struct sweep *s, char ***out)
{
    int cap = 1024, n = 0; /* fixed + train.* + every method's parameters fit easily */
    char **cols = calloc((size_t)cap, sizeof *cols);
    char name[160];
    for (const char *const *c = results_fixed_columns; cols && *c && n < cap; c++)
        cols[n++] = strdup(*c);
    for (size_t k = 0; cols && k < sizeof train_cols / sizeof *train_cols && n < cap; k++) {
        snprintf(name, sizeof name, "train.%s", train_cols[k]);
        cols[n++] = strdup(name);
    }
    for (size_t i = 0; cols && i < s->ntrials; i++)
        for (int m = 0; m < s->trials[i].nmethods; m++) {
            const struct method_ops *ops = s->trials[i].m[m].ops;
            for (int h = 0; h < ops->nhps && n < cap; h++) {
                snprintf(name, sizeof name, "%s.%s", ops->name, ops->hps[h].name);
                if (!has_col(cols, n, name))
                    cols[n++] = strdup(name);
            }
        }
    *out = cols;
    return cols ? n : -1;
}

/* Every plot spec's columns resolve against the sweep's results.csv header. */
static void check_plots(struct preflight *p, const struct sweep *s)
{
    if (!s->plots_yaml)
        return;
    struct plot_specs ps = {0};
    char name[SWEEP_NAME_MAX];
    struct err e;
    err_clear(&e);
    if (plots_load_sweep(&ps, name, sizeof name, s->path, &e)) {
        preflight_add(p, "%s", e.msg);
        return;
    }
    struct agg_table t = {0};
    char tpath[] = "results.csv (of this sweep)";
    t.path = tpath;
    t.ncols = sweep_columns(s, &t.cols);
    struct agg a;
    if (t.ncols > 0 && agg_build(&a, &t, &e) == ERR_OK) {
        for (int i = 0; i < ps.n; i++) {
            struct plotcols rv;
            err_clear(&e);
            if (ps.v[i].enabled && plotcols_resolve(&a, &ps.v[i], &rv, &e))
                preflight_add(p, "%s", e.msg);
        }
        agg_free(&a);
    }
    for (int i = 0; i < t.ncols; i++)
        free(t.cols[i]);
    free(t.cols);
    plots_specs_free(&ps);
}

/* ---- the sweep ------------------------------------------------------------------- */

/* bf16 runs only where the CPU has bf16 dot products: never silently fp32 (issue 18). */
static void check_precision(struct preflight *p, const struct sweep *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ntrials; i++)
        n += s->trials[i].train.precision == MATMUL_BF16;
    if (n && !bf16_cpu_ok())
        preflight_add(p, "train.precision bf16 (%zu trial%s) needs a CPU with AVX512_BF16 or "
                         "AMX-BF16, and this one has neither; set train.precision: fp32",
                      n, n == 1 ? "" : "s");
}

void preflight_sweep(struct preflight *p, const struct sweep *s, const char *data_dir,
                     const struct bert_config *cfg)
{
    for (int i = 0; i < s->ntasks; i++)
        if (!sweep_file_task(s, s->tasks[i]))
            check_registry_task(p, s, s->tasks[i], data_dir);
    preflight_file_tasks(p, s);
    check_precision(p, s);
    if (cfg)
        check_methods(p, s, cfg);
    check_plots(p, s);
}

int preflight_run(const struct sweep *s, FILE *errf)
{
    struct preflight p = {0};
    const char *data_dir = s->data_dir[0] ? s->data_dir : getenv("PEFTBENCH_DATA");
    struct bert_config cfg;
    bool built = false;
    bool have_dims = preflight_model_dims(&p, s->model, &cfg, &built);
    preflight_sweep(&p, s, data_dir, have_dims ? &cfg : NULL);
    if (have_dims)
        hfconfig_free(&cfg);
    int rc = preflight_print(&p, errf);
    preflight_free(&p);
    return rc;
}
