#include "harness/run/run.h"
#include "harness/run/trial_vary.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/bench/bench.h"
#include "harness/run/adapter_record.h"
#include "harness/run/plan_csv.h"
#include "harness/run/plan_status.h"
#include "harness/run/preflight.h"
#include "harness/run/run_tally.h"
#include "harness/run/trial_lock.h"
#include "methods/persist.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/text/tokenizer.h"
#include "harness/pretrain/pretrain.h"
#include "harness/report/report.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "tasks/batching.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "base/timer.h"
#include "harness/sweep/train.h"
#include "base/strfmt.h"

#define DATA_CACHE 8

/* A task's data for one (task, seed, sizes, max_seq_len), tokenized. */
struct data_entry {
    bool used;
    char task[64];
    uint64_t seed;
    int max_train, max_dev, max_test, max_seq_len;
    long last_use;
    struct task_data td;
    struct tok_split train, dev, test;
};

struct run_ctx {
    const struct run_opts *o;
    struct sweep sw;
    char out_dir[4096];
    char model_dir[4096];
    struct tokenizer *tok;
    struct data_entry cache[DATA_CACHE];
    long uses;
    double calib_gflops;
    FILE *out, *errf;
    bool tty;
    size_t nselected, ndone_now, nskipped;
    double trials_seconds;      /* wall time of trials finished in this run */
    double trial_t0;
    time_t trial_started;       /* wall clock at the trial's start: the record's started_at */
    const struct trial *cur;
    size_t cur_k;
    char cur_vary[192];         /* the settings of cur that vary in the sweep (trial_vary.h) */
    bool warned_nonfinite; /* the checkpoint's NaN/Inf warning was printed */
    bool fatal;            /* the last trial error stops the sweep (--strict) */
    struct run_tally tally; /* trials finished in this run, for the summary and exit status */
    int nother;             /* records in OUT/trials of trials not in this sweep's plan */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    stop_flag = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- model and data --------------------------------------------------------------- */

int run_resolve_model(const char *model, char *dir, size_t n, FILE *errf)
{
    struct stat st;
    if (strncmp(model, "builtin:", 8) == 0) {
        /* results/models/NAME, (re)built from configs/pretrain/NAME.yaml when missing or
         * when the config changed; the build reports its progress on errf. */
        struct err e;
        err_clear(&e);
        if (pretrain_builtin(model + 8, dir, n, errf, &e) == 0)
            return 0;
        fprintf(errf, "peftbench: %s\n", e.msg);
        return 1;
    }
    snprintf(dir, n, "%s", model);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(errf, "peftbench: model directory %s: %s\n", dir,
                stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return 1;
    }
    return 0;
}

void run_file_task_params(struct task_params *p, const struct file_task_decl *d,
                          const char **labels, int *nlabels)
{
    struct file_task *f = &p->file;
    f->name = d->name;
    for (int i = 0; i < d->n; i++) {
        const char *k = d->keys[i], *v = d->values[i];
        if (strcmp(k, "train") == 0 || strcmp(k, "path") == 0)
            f->train = v;
        else if (strcmp(k, "dev") == 0)
            f->dev = v;
        else if (strcmp(k, "test") == 0)
            f->test = v;
        else if (strcmp(k, "format") == 0)
            f->format = tsv_format_find(v);
        else if (strcmp(k, "header") == 0)
            f->header = strcmp(v, "true") == 0;
        else if (strcmp(k, "text") == 0 || strcmp(k, "text_a") == 0)
            f->text_a = v;
        else if (strcmp(k, "text_b") == 0)
            f->text_b = v;
        else if (strcmp(k, "label") == 0)
            f->label = v;
        else if (strcmp(k, "regression") == 0)
            f->regression = strcmp(v, "true") == 0;
        else if (strcmp(k, "metric") == 0)
            f->metric = v;
        else if (strcmp(k, "skip_bad_rows") == 0)
            p->skip_bad_rows = strcmp(v, "true") == 0;
        else if (strcmp(k, "labels") == 0) {
            /* comma-joined list: split into the static array (views into a copy) */
            static char buf[4096];
            snprintf(buf, sizeof buf, "%s", v);
            *nlabels = 0;
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t && *nlabels < TASK_MAX_LABELS;
                 t = strtok_r(NULL, ",", &s))
                labels[(*nlabels)++] = t;
            f->labels = labels;
            f->nlabels = *nlabels;
        }
    }
}

static int load_entry(struct run_ctx *c, struct data_entry *d, const struct trial *t,
                      struct err *e)
{
    struct task_params p;
    task_params_init(&p);
    const char *env = getenv("PEFTBENCH_DATA");
    p.data_dir = c->sw.data_dir[0] ? c->sw.data_dir : env;
    p.seed = t->seed;
    p.max_train = (size_t)t->train.max_train;
    p.max_dev = (size_t)t->train.max_dev;
    p.max_test = (size_t)t->train.max_test;
    const struct file_task_decl *fd = sweep_file_task(&c->sw, t->task);
    static const char *labels[TASK_MAX_LABELS];
    int nlabels = 0;
    const struct task_def *def;
    if (fd) {
        run_file_task_params(&p, fd, labels, &nlabels);
        def = task_find("file");
    } else {
        def = task_lookup(t->task, c->sw.path, e);
    }
    if (!def)
        return e->code;
    if (task_load(&d->td, def, &p, e))
        return e->code;
    int L = t->train.max_seq_len;
    if (batching_tokenize(&d->train, &d->td.train, d->td.kind, c->tok, L, e) ||
        batching_tokenize(&d->dev, &d->td.dev, d->td.kind, c->tok, L, e) ||
        (d->td.test.n > 0 && d->td.test.labeled &&
         batching_tokenize(&d->test, &d->td.test, d->td.kind, c->tok, L, e)))
        return err_prefix(e, "task %s", t->task);
    return ERR_OK;
}

static void entry_free(struct data_entry *d)
{
    tok_split_free(&d->train);
    tok_split_free(&d->dev);
    tok_split_free(&d->test);
    task_data_free(&d->td);
    memset(d, 0, sizeof *d);
}

static struct data_entry *get_data(struct run_ctx *c, const struct trial *t, struct err *e)
{
    struct data_entry *lru = &c->cache[0];
    for (int i = 0; i < DATA_CACHE; i++) {
        struct data_entry *d = &c->cache[i];
        if (d->used && strcmp(d->task, t->task) == 0 && d->seed == t->seed &&
            d->max_train == t->train.max_train && d->max_dev == t->train.max_dev &&
            d->max_test == t->train.max_test && d->max_seq_len == t->train.max_seq_len) {
            d->last_use = ++c->uses;
            return d;
        }
        if (!d->used || (lru->used && d->last_use < lru->last_use))
            lru = d;
    }
    entry_free(lru);
    if (load_entry(c, lru, t, e)) {
        entry_free(lru);
        return NULL;
    }
    lru->used = true;
    snprintf(lru->task, sizeof lru->task, "%s", t->task);
    lru->seed = t->seed;
    lru->max_train = t->train.max_train;
    lru->max_dev = t->train.max_dev;
    lru->max_test = t->train.max_test;
    lru->max_seq_len = t->train.max_seq_len;
    lru->last_use = ++c->uses;
    return lru;
}

/* ---- records -------------------------------------------------------------------- */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k); /* JSON has no NaN: an absent value */
}

static cJSON *metrics_json(const struct metric_result *m)
{
    cJSON *o = cJSON_CreateObject();
    for (int id = 0; id < METRIC_COUNT; id++)
        if (m->mask & METRIC_BIT(id))
            add_num(o, metric_name(id), m->value[id]);
    return o;
}

static cJSON *train_json(const struct train_cfg *t)
{
    cJSON *o = cJSON_CreateObject();
    add_num(o, "epochs", t->epochs);
    add_num(o, "batch_size", t->batch_size);
    add_num(o, "eval_batch_size", t->eval_batch_size);
    add_num(o, "max_seq_len", t->max_seq_len);
    add_num(o, "lr", t->lr);
    add_num(o, "warmup_ratio", t->warmup_ratio);
    add_num(o, "weight_decay", t->weight_decay);
    add_num(o, "grad_clip", t->grad_clip);
    add_num(o, "adam_beta1", t->adam_beta1);
    add_num(o, "adam_beta2", t->adam_beta2);
    add_num(o, "adam_eps", t->adam_eps);
    add_num(o, "early_stopping", t->early_stopping);
    cJSON_AddBoolToObject(o, "eval_test", t->eval_test);
    add_num(o, "max_train", t->max_train);
    add_num(o, "max_dev", t->max_dev);
    add_num(o, "max_test", t->max_test);
    add_num(o, "max_steps", t->max_steps);
    add_num(o, "dropout", t->dropout);
    return o;
}

static cJSON *methods_json(const struct trial *t)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < t->nmethods; i++) {
        cJSON *o = cJSON_CreateObject(), *hp = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", t->m[i].ops->name);
        for (int k = 0; k < t->m[i].hp.n; k++) {
            char buf[256];
            hp_format(&t->m[i].hp, k, buf, sizeof buf);
            cJSON_AddStringToObject(hp, t->m[i].hp.defs[k].name, buf);
        }
        cJSON_AddItemToObject(o, "hparams", hp);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Parameter counts of a built trial model. */
struct counts {
    size_t method, head, trainable, stored, total, backbone;
};

static struct counts count_params(const struct model *m, const struct method_inst *mi, int n)
{
    struct counts k;
    k.trainable = param_store_trainable(&m->ps, PGROUP_COUNT);
    k.head = param_store_trainable(&m->ps, PGROUP_HEAD);
    k.method = k.trainable - k.head;
    k.total = param_store_numel(&m->ps);
    k.backbone = 0;
    for (size_t i = 0; i < m->ps.n; i++)
        if (m->ps.items[i]->group == PGROUP_BACKBONE)
            k.backbone += m->ps.items[i]->numel;
    k.stored = k.method;
    for (int i = 0; i < n; i++)
        if (mi[i].ops->stored_params)
            k.stored = k.stored - mi[i].ops->count(&mi[i].hp, &m->cfg) +
                       mi[i].ops->stored_params(mi[i].state, m);
    return k;
}

static cJSON *base_record(const struct run_ctx *c, const struct trial *t)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "trial_id", t->id);
    cJSON_AddStringToObject(r, "sweep", c->sw.name);
    cJSON_AddNumberToObject(r, "index", t->index);
    cJSON_AddStringToObject(r, "task", t->task);
    cJSON_AddStringToObject(r, "method", t->label);
    cJSON_AddNumberToObject(r, "seed", (double)t->seed);
    cJSON_AddStringToObject(r, "model", c->sw.model);
    cJSON_AddItemToObject(r, "methods", methods_json(t));
    cJSON_AddItemToObject(r, "train", train_json(&t->train));
    cJSON_AddStringToObject(r, "canonical", t->canonical);
    char started[32];
    struct tm tm;
    gmtime_r(&c->trial_started, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(r, "started_at", started);
    add_num(r, "calibration_gflops", c->calib_gflops);
    cJSON_AddItemToObject(r, "environment", results_environment());
    return r;
}

/* The fraction of the dev split in its most frequent class: the accuracy of always
 * predicting it (the figures' dashed majority-class line).  NaN for regression and for an
 * unlabeled or empty dev split. */
static double dev_majority(const struct task_data *td)
{
    const struct split *d = &td->dev;
    if (td->kind == TASK_REGRESSION || !d->labeled || d->n == 0 || td->nlabels < 1)
        return (double)NAN;
    size_t *count = calloc((size_t)td->nlabels, sizeof *count), best = 0, n = 0;
    if (!count)
        return (double)NAN;
    for (size_t i = 0; i < d->n; i++)
        if (d->ex[i].label >= 0 && d->ex[i].label < td->nlabels)
            n++, count[d->ex[i].label]++;
    for (int c = 0; c < td->nlabels; c++)
        best = count[c] > best ? count[c] : best;
    free(count);
    return n ? (double)best / (double)n : (double)NAN;
}

static void add_results(cJSON *r, const struct train_result *tr, const struct task_data *td,
                        const struct counts *k, const struct mem_acct *acct)
{
    add_num(r, "majority_fraction", dev_majority(td));
    cJSON_AddStringToObject(r, "status", trial_status_name(tr->status));
    cJSON_AddStringToObject(r, "message", tr->message);
    add_num(r, "diverged_step", (double)tr->diverged_step);
    cJSON_AddStringToObject(r, "primary_metric", metric_name(td->primary));
    if (tr->best_epoch > 0) {
        add_num(r, "primary_value", tr->best_dev.primary_value);
        cJSON_AddItemToObject(r, "metrics", metrics_json(&tr->best_dev));
    }
    if (tr->has_test) {
        cJSON *t = metrics_json(&tr->test);
        add_num(t, "primary_value", tr->test.primary_value);
        cJSON_AddItemToObject(r, "test", t);
    }
    cJSON *ep = cJSON_CreateArray();
    for (int i = 0; i < tr->nepochs; i++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "epoch", tr->epochs[i].epoch);
        add_num(o, "train_loss", tr->epochs[i].train_loss);
        add_num(o, "dev_primary", tr->epochs[i].dev.primary_value);
        cJSON_AddItemToObject(o, "dev", metrics_json(&tr->epochs[i].dev));
        add_num(o, "seconds", tr->epochs[i].seconds);
        cJSON_AddItemToArray(ep, o);
    }
    cJSON_AddItemToObject(r, "epochs", ep);
    add_num(r, "best_epoch", tr->best_epoch);
    add_num(r, "epochs_run", tr->nepochs);
    add_num(r, "steps", (double)tr->steps);
    add_num(r, "final_train_loss", tr->final_train_loss);
    cJSON *p = cJSON_CreateObject();
    add_num(p, "method", (double)k->method);
    add_num(p, "head", (double)k->head);
    add_num(p, "trainable", (double)k->trainable);
    add_num(p, "stored", (double)k->stored);
    add_num(p, "total", (double)k->total);
    add_num(p, "backbone", (double)k->backbone);
    add_num(p, "trainable_pct", 100.0 * (double)k->method / (double)k->backbone);
    cJSON_AddItemToObject(r, "params", p);
    cJSON *th = cJSON_CreateObject();
    add_num(th, "train_tokens_per_s", tr->train_tokens_per_s);
    add_num(th, "eval_tokens_per_s", tr->eval_tokens_per_s);
    add_num(th, "merged_tokens_per_s", tr->merged_tokens_per_s);
    cJSON_AddItemToObject(r, "throughput", th);
    cJSON *mem = cJSON_CreateObject();
    for (int cat = 0; cat < MEM_NCAT; cat++)
        add_num(mem, mem_cat_name((enum mem_cat)cat), (double)acct->peak[cat]);
    add_num(mem, "peak_total", (double)acct->peak_total);
    add_num(mem, "peak_rss", (double)mem_peak_rss());
    cJSON_AddItemToObject(r, "memory", mem);
}

/* ---- progress ----------------------------------------------------------------- */

static void stamp(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 90)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 5400)
        snprintf(buf, n, "%.0fm", s / 60);
    else
        snprintf(buf, n, "%.1fh", s / 3600);
}

static void progress(void *user, const struct train_progress *p)
{
    struct run_ctx *c = user;
    if (c->o->quiet || (!c->tty && !p->epoch_end))
        return;
    double el = timer_now() - c->trial_t0;
    double eta_t = p->step > 0 ? el / (double)p->step * (double)(p->steps - p->step) : (double)NAN;
    double per = c->ndone_now > 0 ? c->trials_seconds / (double)c->ndone_now : el + eta_t;
    double eta_s = eta_t + per * (double)(c->nselected - c->ndone_now - 1);
    char a[16], b[16];
    fmt_eta(a, sizeof a, eta_t);
    fmt_eta(b, sizeof b, eta_s);
    const struct trial *t = c->cur;
    if (c->tty) {
        fprintf(c->out,
                "\r\033[K[%d/%zu] %s%s%s %s seed %llu | epoch %d/%d step %ld/%ld loss %.4f | "
                "%.0f tok/s | ETA %s, sweep %s",
                t->index + 1, c->sw.ntrials, t->label, c->cur_vary[0] ? " " : "", c->cur_vary,
                t->task, (unsigned long long)t->seed, p->epoch, p->epochs, p->step, p->steps, p->loss, p->tokens_per_s, a, b);
        if (p->epoch_end)
            fprintf(c->out, " | dev %.4f", p->dev_primary);
    } else {
        char ts[32];
        stamp(ts, sizeof ts);
        fprintf(c->out,
                "%s trial %d/%zu %s%s%s %s seed %llu: epoch %d/%d loss %.4f dev %.4f "
                "(%.0f tok/s, ETA %s, sweep %s)\n",
                ts, t->index + 1, c->sw.ntrials, t->label, c->cur_vary[0] ? " " : "", c->cur_vary,
                t->task, (unsigned long long)t->seed, p->epoch, p->epochs, p->loss, p->dev_primary, p->tokens_per_s, a, b);
    }
    fflush(c->out);
}

/* ---- one trial -------------------------------------------------------------- */

static void set_dropout(struct model *m, double p)
{
    if (p < 0.0)
        return;
    m->enc.hidden_drop = m->enc.attn_drop = m->head_drop = (float)p;
}

/* Testing aids, read from the environment (tests/harness/test_e2e.c uses them):
 *  - PEFTBENCH_FAULT_NAN_STEP=k poisons training step k (the divergence path);
 *  - PEFTBENCH_FAULT_SLOW_WRITE_MS=ms sleeps ms milliseconds between writing a temporary
 *    file and renaming it into place (results_write_atomic), and between a trial's record
 *    and the rebuild of results.csv (finish_trial): a window for SIGKILL during result
 *    writing (results_fault_pause);
 *  - PEFTBENCH_FAULT_FAIL_TRIAL=k makes the trial at plan index k fail with an error before
 *    training (the failed path: summary, exit status 1, retry on the next run). */
static long fault_nan_step(void)
{
    const char *s = getenv("PEFTBENCH_FAULT_NAN_STEP");
    return s ? strtol(s, NULL, 10) : 0;
}

static int fault_fail_trial(const struct trial *t, struct err *e)
{
    const char *s = getenv("PEFTBENCH_FAULT_FAIL_TRIAL");
    if (s && strtol(s, NULL, 10) == t->index)
        return ERR_SET(e, ERR_STATE, "injected failure (PEFTBENCH_FAULT_FAIL_TRIAL=%s)\n"
                                     "second line, not in the summary", s);
    return ERR_OK;
}

/* NaN/Inf in the checkpoint: a warning printed once per run and kept in every record; with
 * --strict an error that stops the sweep, recording nothing (the checkpoint is at fault,
 * not the trial: once it is fixed, a rerun runs the trials). */
static int check_weights(struct run_ctx *c, const struct model *m, struct err *e)
{
    if (m->load_nonfinite == 0)
        return ERR_OK;
    if (c->o->strict) {
        c->fatal = true;
        model_check_finite(m, e);
        return err_prefix(e, "--strict");
    }
    if (!c->warned_nonfinite)
        fprintf(c->errf, "%speftbench: warning: %s (the run goes on; --strict refuses it)\n",
                c->tty ? "\n" : "", m->load_warning);
    c->warned_nonfinite = true;
    return ERR_OK;
}

static int create_methods(struct model *m, const struct trial *t, struct method_inst *mi,
                          int *n, struct err *e)
{
    *n = 0;
    for (int i = 0; i < t->nmethods; i++) {
        if (method_create(&mi[i], t->m[i].ops, &t->m[i].hp, m, t->seed + 1000u * (uint64_t)i,
                          e))
            return e->code;
        (*n)++;
    }
    return ERR_OK;
}

/* Keep the trained method tensors and head under OUT/adapters/<id>/ (methods/persist.h)
 * with the settings predict needs (harness/run/adapter_record.h), and the backbone it was
 * trained on named in a text file beside them (read by predict for older adapters too). */
static int save_adapters(const struct run_ctx *c, const struct trial *t,
                         const struct task_data *td, const struct model *m,
                         const struct method_inst *mi, int nm, struct err *e)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/adapters/%s", c->out_dir, t->id);
    struct persist_meta meta;
    adapter_meta_record(&meta, c->sw.model, c->model_dir, t->task, td,
                        sweep_file_task(&c->sw, t->task) ? c->sw.path : NULL,
                        t->train.max_seq_len, c->tok);
    if (results_mkdirs(dir, e) || persist_save_meta(dir, m, mi, nm, &meta, e))
        return e->code;
    char text[4400];
    int n = snprintf(text, sizeof text, "%s\n", c->model_dir);
    snprintf(path, sizeof path, "%s/base_model.txt", dir);
    return results_write_atomic(path, text, (size_t)n, e);
}

/* Run trial t; *rec receives its record (NULL when interrupted). */
static int run_trial(struct run_ctx *c, const struct trial *t, cJSON **rec, struct err *e)
{
    *rec = NULL;
    if (fault_fail_trial(t, e))
        return e->code;
    struct data_entry *d = get_data(c, t, e);
    if (!d)
        return e->code;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi[SWEEP_MAX_COMPOSE];
    int nm = 0;
    if (model_load_dir(&m, c->model_dir, d->td.nlabels, t->seed, &acct, e))
        return e->code;
    if (check_weights(c, &m, e)) {
        model_destroy(&m);
        return e->code;
    }
    set_dropout(&m, t->train.dropout);
    int rc = create_methods(&m, t, mi, &nm, e);
    struct train_result tr = {0};
    struct counts k = count_params(&m, mi, nm);
    if (rc == ERR_OK) {
        struct train_setup s = {&m,     mi,          nm,    &d->td,     &d->train,
                                &d->dev, d->test.n ? &d->test : NULL, &t->train, t->seed,
                                fault_nan_step(), &stop_flag, progress, c};
        rc = train_run(&s, &tr, e);
    }
    if (rc == ERR_OK && tr.status == TRIAL_OK && t->train.save_adapters)
        rc = save_adapters(c, t, &d->td, &m, mi, nm, e);
    if (rc == ERR_OK && tr.status != TRIAL_INTERRUPTED) {
        *rec = base_record(c, t);
        add_results(*rec, &tr, &d->td, &k, &acct);
        add_num(*rec, "wall_seconds", timer_now() - c->trial_t0);
        if (m.load_warning[0])
            cJSON_AddStringToObject(*rec, "load_warning", m.load_warning);
    }
    train_result_free(&tr);
    for (int i = nm; i-- > 0;)
        method_destroy(&mi[i]);
    model_destroy(&m);
    return rc;
}

/* A trial that failed with an error: recorded as failed with the message. */
static cJSON *failed_record(const struct run_ctx *c, const struct trial *t, const char *msg)
{
    cJSON *r = base_record(c, t);
    cJSON_AddStringToObject(r, "status", "failed");
    cJSON_AddStringToObject(r, "message", msg);
    return r;
}

/* ---- the sweep ---------------------------------------------------------------- */

static bool selected(const struct run_opts *o, const struct trial *t)
{
    if (o->trial_id)
        return strcmp(t->id, o->trial_id) == 0; /* at o->trial: checked by check_trial_id */
    if (o->trial >= 0)
        return t->index == o->trial;
    if (o->shard_n > 0)
        return t->index % o->shard_n == o->shard_i;
    return true;
}

static int prepare_out(struct run_ctx *c, struct err *e)
{
    if (c->o->out_dir)
        snprintf(c->out_dir, sizeof c->out_dir, "%s", c->o->out_dir);
    else
        snprintf(c->out_dir, sizeof c->out_dir, "results/%s", c->sw.name);
    char path[4200];
    if (results_mkdirs(c->out_dir, e))
        return e->code;
    snprintf(path, sizeof path, "%s/trials", c->out_dir);
    if (results_mkdirs(path, e))
        return e->code;
    /* writable before any training: a read-only results dir fails now, not after hours */
    snprintf(path, sizeof path, "%s/trials/.write-test.%ld", c->out_dir, (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return ERR_SET(e, ERR_IO, "results directory %s/trials is not writable: %s", c->out_dir,
                       strerror(errno));
    fclose(f);
    unlink(path);
    snprintf(path, sizeof path, "%s/sweep.yaml", c->out_dir);
    const char *y = c->sw.resolved_yaml ? c->sw.resolved_yaml : "";
    return results_write_atomic(path, y, strlen(y), e);
}

/* vocab.txt (BERT WordPiece) or vocab.json + merges.txt (RoBERTa byte-level BPE). */
static int load_tokenizer(struct run_ctx *c, struct err *e)
{
    return tokenizer_load_dir(&c->tok, c->model_dir, e);
}

static int finish_trial(struct run_ctx *c, cJSON *rec, struct err *e)
{
    int rc = results_write_trial(c->out_dir, rec, e);
    if (rc == ERR_OK && !c->o->no_csv) {
        results_fault_pause();
        rc = run_plan_csv(c->out_dir, &c->sw, NULL, &c->nother, e);
    }
    return rc;
}

static void trial_line(struct run_ctx *c, const struct trial *t, const cJSON *rec)
{
    if (c->o->quiet)
        return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(rec, "primary_value");
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(rec, "primary_metric");
    char ts[32];
    stamp(ts, sizeof ts);
    fprintf(c->out, "%s%s trial %d/%zu %s %s%s%s %s seed %llu: %s", c->tty ? "\r\033[K" : "",
            ts, t->index + 1, c->sw.ntrials, t->id, t->label, c->cur_vary[0] ? " " : "",
            c->cur_vary, t->task, (unsigned long long)t->seed, st->valuestring);
    if (cJSON_IsNumber(pv) && cJSON_IsString(pm))
        fprintf(c->out, " %s %.4f", pm->valuestring, pv->valuedouble);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
    if (cJSON_IsString(msg) && msg->valuestring[0])
        fprintf(c->out, " (%s)", msg->valuestring);
    fprintf(c->out, " [%.1fs]\n", timer_now() - c->trial_t0);
    fflush(c->out);
}

/* The trial's lock (trial_lock.h), *fd = -1 when it is not to be run here: another run holds
 * it ("running elsewhere"), or finished it between our plan and the lock. */
static int lock_trial(struct run_ctx *c, const struct trial *t, int *fd, struct err *e)
{
    if (trial_lock_take(c->out_dir, t->id, fd, e))
        return e->code;
    if (*fd >= 0 && results_trial_done(c->out_dir, t->id, !c->o->skip_failed)) {
        trial_lock_release(*fd);
        *fd = -1;
        return ERR_OK;
    }
    if (*fd < 0) {
        c->tally.busy++;
        if (!c->o->quiet)
            fprintf(c->out, "%speftbench: trial %s (%s %s seed %llu): running elsewhere "
                            "(%s/trials/%s.lock is held), skipped\n",
                    c->tty ? "\r\033[K" : "", t->id, t->label, t->task,
                    (unsigned long long)t->seed, c->out_dir, t->id);
    }
    return ERR_OK;
}

/* Train trial t (its lock held) and record it (*recorded); an interruption records nothing. */
static int run_one(struct run_ctx *c, const struct trial *t, bool *recorded, struct err *e)
{
    cJSON *rec = NULL;
    *recorded = false;
    struct err te;
    err_clear(&te);
    if (run_trial(c, t, &rec, &te)) {
        if (c->fatal) {
            *e = te;
            return e->code;
        }
        rec = failed_record(c, t, te.msg);
    }
    if (!rec) /* interrupted: nothing half-done is recorded */
        return ERR_OK;
    trial_line(c, t, rec);
    int rc = finish_trial(c, rec, e);
    if (rc == ERR_OK) {
        *recorded = true;
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
        char what[256];
        snprintf(what, sizeof what, "%s %s %s seed %llu", t->id, t->label, t->task,
                 (unsigned long long)t->seed);
        run_tally_add(&c->tally, cJSON_GetObjectItemCaseSensitive(rec, "status")->valuestring,
                      what, cJSON_IsString(msg) ? msg->valuestring : "");
    }
    cJSON_Delete(rec);
    return rc;
}

static int run_selected(struct run_ctx *c, struct err *e)
{
    for (size_t i = 0, k = 0; i < c->sw.ntrials; i++) {
        const struct trial *t = &c->sw.trials[i];
        if (!selected(c->o, t) || results_trial_done(c->out_dir, t->id, !c->o->skip_failed))
            continue;
        if (stop_flag)
            return ERR_OK;
        int lock = -1;
        if (lock_trial(c, t, &lock, e))
            return e->code;
        if (lock < 0)
            continue;
        c->cur = t;
        c->cur_k = k++;
        trial_vary_text(&c->sw, t, c->cur_vary, sizeof c->cur_vary);
        c->trial_t0 = timer_now();
        c->trial_started = time(NULL);
        bool recorded;
        int rc = run_one(c, t, &recorded, e);
        trial_lock_release(lock);
        if (rc || !recorded)
            return rc;
        c->ndone_now++;
        c->trials_seconds += timer_now() - c->trial_t0;
    }
    return ERR_OK;
}

/* ---- plan ------------------------------------------------------------------- */

/* Training FLOPs per token of a built trial model (rough: dense layers only,
 * attention at full max_seq_len): forward 2N + 4LTD; backward 2N·(fraction of
 * layers the backward crosses) for dX, plus 2 per trainable weight for dW. */
static double train_flops_per_token(const struct model *m, const struct counts *k, int T)
{
    const struct encoder *enc = &m->enc;
    double N = (double)enc->L * (4.0 * enc->D * enc->D + 2.0 * enc->D * enc->F);
    double fwd = 2.0 * N + 4.0 * enc->L * (double)T * enc->D;
    int low = encoder_lowest_trainable(enc);
    double frac = low >= enc->L ? 0.0 : (double)(enc->L - (low < 0 ? 0 : low)) / enc->L;
    return fwd + frac * fwd + 2.0 * (double)k->trainable;
}

static void hp_summary(const struct trial *t, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->nmethods; i++)
        for (int h = 0; h < t->m[i].hp.n; h++) {
            if (!t->m[i].hp.v[h].given)
                continue;
            char v[128];
            hp_format(&t->m[i].hp, h, v, sizeof v);
            o = str_appendf(buf, n, o, "%s%s=%s", o ? " " : "",
                                  t->m[i].hp.defs[h].name, v);
        }
    if (!buf[0])
        snprintf(buf, n, "(defaults)");
}

static int plan_trial(const struct run_ctx *c, const struct bert_config *cfg,
                      const struct trial *t, FILE *out, struct err *e)
{
    const struct task_def *def = task_find(t->task);
    int C = def && def->nlabels > 0 ? def->nlabels : (def && def->kind == TASK_REGRESSION ? 1 : 2);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi[SWEEP_MAX_COMPOSE];
    int nm = 0;
    if (model_create(&m, cfg, C, &acct, e))
        return e->code;
    int rc = create_methods(&m, t, mi, &nm, e);
    if (rc == ERR_OK) {
        struct counts k = count_params(&m, mi, nm);
        double f = train_flops_per_token(&m, &k, t->train.max_seq_len);
        char hp[512];
        hp_summary(t, hp, sizeof hp);
        fprintf(out, "%5d  %s  %-18s %-16s %6llu  %12zu %12zu %8.3f%%  %9.3f  %-8s  %s\n",
                t->index, t->id, t->label, t->task, (unsigned long long)t->seed, k.method,
                k.total, 100.0 * (double)k.method / (double)k.backbone, f * 1e-6,
                plan_trial_status(c->out_dir, t->id), hp);
    }
    for (int i = nm; i-- > 0;)
        method_destroy(&mi[i]);
    model_destroy(&m);
    return rc;
}

static int plan(struct run_ctx *c, FILE *out, struct err *e)
{
    /* never builds: a builtin model not built yet gives its dimensions from its
     * pretraining config (harness/run/preflight.h), and the state comes from the records */
    struct preflight pf = {0};
    struct bert_config cfg;
    bool built;
    bool ok = preflight_model_dims(&pf, c->sw.model, &cfg, &built);
    if (!ok)
        ERR_SET(e, ERR_CONFIG, "%s", pf.n ? pf.msg[0] : "cannot read the model's dimensions");
    preflight_free(&pf);
    if (!ok)
        return e->code;
    snprintf(c->out_dir, sizeof c->out_dir, "%s", c->o->out_dir ? c->o->out_dir : "");
    if (!c->o->out_dir)
        snprintf(c->out_dir, sizeof c->out_dir, "results/%s", c->sw.name);
    fprintf(out, "# sweep %s: %zu trials, model %s, results in %s\n", c->sw.name, c->sw.ntrials,
            c->sw.model, c->out_dir);
    plan_builtin_note(out, c->sw.model);
    fprintf(out, "%5s  %-16s  %-18s %-16s %6s  %12s %12s %9s  %9s  %-8s  %s\n", "index",
            "trial_id", "method", "task", "seed", "trainable", "total", "train%", "MFLOP/tok",
            "state", "hyperparameters");
    int rc = ERR_OK;
    for (size_t i = 0; i < c->sw.ntrials && rc == ERR_OK; i++)
        if (selected(c->o, &c->sw.trials[i]))
            rc = plan_trial(c, &cfg, &c->sw.trials[i], out, e);
    hfconfig_free(&cfg);
    return rc;
}

/* ---- entry points --------------------------------------------------------------- */

static void ctx_free(struct run_ctx *c)
{
    for (int i = 0; i < DATA_CACHE; i++)
        entry_free(&c->cache[i]);
    tokenizer_free(c->tok);
    sweep_free(&c->sw);
    run_tally_free(&c->tally);
}

static size_t count_todo(struct run_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->sw.ntrials; i++) {
        const struct trial *t = &c->sw.trials[i];
        if (!selected(c->o, t))
            continue;
        if (results_trial_done(c->out_dir, t->id, !c->o->skip_failed))
            c->nskipped++;
        else
            n++;
    }
    return n;
}

/* --trial-id: the sweep still holds the trial, and at --trial's index when given (a job
 * array planned the pair; an edited sweep must not run another trial in its place). */
static int check_trial_id(const struct run_ctx *c, struct err *e)
{
    const struct run_opts *o = c->o;
    if (!o->trial_id)
        return ERR_OK;
    const struct trial *t = NULL;
    for (size_t i = 0; i < c->sw.ntrials && !t; i++)
        if (strcmp(c->sw.trials[i].id, o->trial_id) == 0)
            t = &c->sw.trials[i];
    if (!t)
        return ERR_SET(e, ERR_CONFIG,
                       "--trial-id %s: sweep %s (%s) has no such trial: the file changed since "
                       "the job was planned; run `peftbench slurm` again to plan what is missing",
                       o->trial_id, c->sw.name, c->sw.path);
    if (o->trial >= 0 && t->index != o->trial)
        return ERR_SET(e, ERR_CONFIG,
                       "--trial %ld --trial-id %s: that trial is now at plan index %d of %s (%s): "
                       "the file changed since the job was planned; run `peftbench slurm` again "
                       "to plan what is missing",
                       o->trial, o->trial_id, t->index, c->sw.name, c->sw.path);
    return ERR_OK;
}

static int sweep_body(struct run_ctx *c, struct err *e)
{
    const struct run_opts *o = c->o;
    if (check_trial_id(c, e))
        return e->code;
    if (o->trial >= 0 && (size_t)o->trial >= c->sw.ntrials)
        return ERR_SET(e, ERR_RANGE, "--trial %ld: the sweep has %zu trials (0..%zu)", o->trial,
                       c->sw.ntrials, c->sw.ntrials ? c->sw.ntrials - 1 : 0);
    if (o->dry_run)
        return plan(c, c->out, e);
    if (prepare_out(c, e) || load_tokenizer(c, e))
        return e->code;
    c->nselected = count_todo(c);
    if (!o->quiet)
        fprintf(c->out, "peftbench: sweep %s: %zu trials to run, %zu already done, results in %s\n",
                c->sw.name, c->nselected, c->nskipped, c->out_dir);
    c->calib_gflops = bench_calibrate_gemm(1024, 256, 1024, 3);
    install_signals();
    int rc = run_selected(c, e);
    if (rc == ERR_OK && c->ndone_now == 0 && !o->no_csv) /* nothing ran: a consistent CSV */
        rc = run_plan_csv(c->out_dir, &c->sw, NULL, &c->nother, e);
    return rc;
}

int run_sweep(const struct run_opts *o, FILE *out, FILE *errf)
{
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.out = out;
    c.errf = errf;
    c.tty = isatty(fileno(out)) && !o->quiet;
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    struct err e;
    err_clear(&e);
    struct sweep_opts so = {o->overrides, o->noverrides, o->allow_large};
    if (sweep_load(&c.sw, o->sweep_path, &so, &e)) {
        fprintf(errf, "peftbench: %s\n", e.msg);
        return 1;
    }
    if (preflight_run(&c.sw, errf)) { /* every problem listed, nothing built or recorded */
        ctx_free(&c);
        return 2;
    }
    if (!o->dry_run && /* plan never builds (plan() reads the dimensions itself) */
        run_resolve_model(c.sw.model, c.model_dir, sizeof c.model_dir, errf)) {
        ctx_free(&c);
        return 1;
    }
    int rc = sweep_body(&c, &e);
    if (rc)
        fprintf(errf, "%speftbench: %s\n", c.tty ? "\n" : "", e.msg);
    int status = rc ? 1 : 0;
    if (rc == ERR_OK && stop_flag) {
        fprintf(errf, "%speftbench: interrupted by signal %d: %zu trials finished in this run; "
                      "run the same command again to continue\n",
                c.tty ? "\n" : "", (int)stop_flag, c.ndone_now);
        status = 128 + (int)stop_flag;
    } else if (rc == ERR_OK && !o->dry_run) {
        if (!o->quiet)
            fprintf(out, "peftbench: done: %zu trials run, results in %s/results.csv\n",
                    c.ndone_now, c.out_dir);
        status = c.tally.failed ? 1 : 0;
    }
    /* figures and report.md of the whole sweep (warnings only, never the exit status; failed
     * trials are listed in the report); a cluster slice leaves them to `peftbench plot` once
     * every slice is in */
    bool finished = rc == ERR_OK && !stop_flag && !o->dry_run;
    if (finished && o->trial < 0 && !o->trial_id && o->shard_n == 0 && !o->no_csv)
        report_after_run(c.out_dir, &c.sw, o->quiet, out, errf);
    /* the last lines: what this run did, and why it exits 1 */
    if (finished && c.nother > 0 && !o->quiet)
        fprintf(out, "peftbench: %d records in %s/trials are not in this sweep (the file changed "
                     "since they ran): kept on disk, left out of results.csv, figures and report\n",
                c.nother, c.out_dir);
    if (finished && (c.tally.failed || !o->quiet))
        run_tally_print(&c.tally, c.tally.failed ? errf : out);
    ctx_free(&c);
    return status;
}
