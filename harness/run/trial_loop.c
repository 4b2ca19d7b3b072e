/*
 * trial_loop: train and record each selected trial (harness/run/trial_loop.h): the
 * records' JSON, the progress lines, one trial, and the loop with its locks.  Moved out
 * of run.c, which grew too long.
 */
#include "harness/run/trial_loop.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/strfmt.h"
#include "base/timer.h"
#include "harness/run/adapter_record.h"
#include "harness/run/plan_csv.h"
#include "harness/run/run_ctx.h"
#include "harness/run/run_opts.h"
#include "harness/run/trial_lock.h"
#include "harness/run/trial_vary.h"
#include "harness/sweep/results.h"
#include "harness/sweep/train.h"
#include "harness/sweep/train_cfg.h"
#include "methods/persist.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/arch/precision.h"

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
    cJSON_AddStringToObject(o, "precision", matmul_prec_name((enum matmul_prec)t->precision));
    return o;
}

/* "lr" or "lr;weight_decay": the train settings in mask, in schema order. */
static cJSON *tuned_json(train_mask mask)
{
    char buf[256];
    size_t o = 0;
    buf[0] = '\0';
    for (int f = 0; f < train_cfg_nfields(); f++)
        if (mask & TRAIN_BIT(f))
            o = str_appendf(buf, sizeof buf, o, "%s%s", o ? ";" : "", train_cfg_field_name(f));
    return cJSON_CreateString(buf);
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
struct counts trial_count_params(const struct model *m, const struct method_inst *mi, int n)
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
    if (t->tuned) /* the settings its block selects on dev: results.csv `tuned` */
        cJSON_AddItemToObject(r, "tuned", tuned_json(t->tuned));
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
    add_num(th, "ratio", tr->throughput_ratio);
    add_num(th, "ratio_pairs", tr->ratio_pairs);
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

int trial_create_methods(struct model *m, const struct trial *t, struct method_inst *mi,
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

/* The bare reference of the trial's throughput_ratio (train_setup.ref): the same checkpoint,
 * head size, dropout and precision, no method, the embedding LayerNorm trainable so that the
 * backward runs through every frozen layer.  Its memory goes to its own accountant: the
 * trial's recorded memory is the trial's alone. */
static int load_reference(const struct run_ctx *c, const struct trial *t, int nlabels,
                          struct model *ref, struct mem_acct *acct, struct err *e)
{
    mem_acct_init(acct);
    if (model_load_dir(ref, c->model_dir, nlabels, t->seed, acct, e))
        return e->code;
    set_dropout(ref, t->train.dropout);
    if (param_set_trainable(&ref->ps, ref->enc.emb_g, true, e) ||
        param_set_trainable(&ref->ps, ref->enc.emb_b, true, e) ||
        (t->train.precision == MATMUL_BF16 && model_set_precision(ref, MATMUL_BF16, e))) {
        model_destroy(ref);
        return e->code;
    }
    return ERR_OK;
}

/* Run trial t; *rec receives its record (NULL when interrupted). */
static int run_trial(struct run_ctx *c, const struct trial *t, cJSON **rec, struct err *e)
{
    *rec = NULL;
    if (fault_fail_trial(t, e))
        return e->code;
    struct data_entry *d = run_ctx_data(c, t, e);
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
    int rc = trial_create_methods(&m, t, mi, &nm, e);
    /* after the methods: they decide what stays frozen (and so is stored in bf16) */
    if (rc == ERR_OK && t->train.precision == MATMUL_BF16 &&
        (rc = model_set_precision(&m, MATMUL_BF16, e)) == ERR_OK)
        mem_acct_reset_peaks(&acct); /* the recorded peaks are bf16's, not the fp32 load's */
    struct train_result tr = {0};
    struct counts k = trial_count_params(&m, mi, nm);
    struct model ref;
    struct mem_acct ref_acct;
    bool have_ref = false;
    if (rc == ERR_OK)
        have_ref = (rc = load_reference(c, t, d->td.nlabels, &ref, &ref_acct, e)) == ERR_OK;
    if (rc == ERR_OK) {
        struct train_setup s = {&m,     mi,          nm,    &d->td,     &d->train,
                                &d->dev, d->test.n ? &d->test : NULL, &t->train, t->seed,
                                fault_nan_step(), &run_stop_flag, progress, c, &ref, &c->fault};
        rc = train_run(&s, &tr, e);
    }
    if (have_ref)
        model_destroy(&ref);
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

int trial_loop_run(struct run_ctx *c, struct err *e)
{
    for (size_t i = 0, k = 0; i < c->sw.ntrials; i++) {
        const struct trial *t = &c->sw.trials[i];
        if (!run_ctx_selected(c->o, t) || results_trial_done(c->out_dir, t->id, !c->o->skip_failed))
            continue;
        if (run_stop_flag)
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
