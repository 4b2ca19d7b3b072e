#include "harness/sweep/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/registry.h"
#include "model/arch/precision.h"
#include "base/timer.h"

const char *trial_status_name(enum trial_status s)
{
    switch (s) {
    case TRIAL_OK: return "ok";
    case TRIAL_DIVERGED: return "diverged";
    case TRIAL_FAILED: return "failed";
    case TRIAL_INTERRUPTED: return "interrupted";
    }
    return "?";
}

double train_lr_at(double lr, long step, long total, long warmup)
{
    if (warmup > 0 && step <= warmup)
        return lr * (double)step / (double)warmup;
    if (total <= warmup)
        return lr;
    double left = (double)(total - step) / (double)(total - warmup);
    return lr * (left > 0.0 ? left : 0.0);
}

void train_result_free(struct train_result *r)
{
    if (!r)
        return;
    free(r->epochs);
    r->epochs = NULL;
    r->nepochs = 0;
}

/* ---- evaluation ------------------------------------------------------------ */

static int argmax(const float *v, int n)
{
    int k = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[k])
            k = i;
    return k;
}

int train_predict(struct model *m, const struct tok_split *ts, int batch_size, bool regression,
                  int *pred, float *pred_f, float *logits_out, double *tokens_per_s,
                  struct err *e)
{
    struct batcher b;
    if (batcher_init(&b, ts, batch_size, false, 0, e))
        return e->code;
    batcher_epoch(&b, 0, 0);
    const int C = m->C;
    size_t tokens = 0;
    double t0 = timer_now();
    int rc = ERR_OK;
    for (size_t k = 0; k < batcher_count(&b) && rc == ERR_OK; k++) {
        struct batch bt;
        const size_t *rows;
        size_t real;
        float *logits;
        rc = batcher_get(&b, k, &bt, &rows, &real, e);
        if (rc == ERR_OK)
            rc = model_forward(m, &bt, false, 0, 0, &logits, e);
        if (rc)
            break;
        tokens += real;
        for (int i = 0; i < bt.B; i++) {
            const float *row = logits + (size_t)i * C;
            if (regression && pred_f)
                pred_f[rows[i]] = row[0];
            else if (pred)
                pred[rows[i]] = argmax(row, C);
            if (logits_out)
                memcpy(logits_out + rows[i] * (size_t)C, row, (size_t)C * sizeof(float));
        }
    }
    double dt = timer_now() - t0;
    if (tokens_per_s)
        *tokens_per_s = dt > 0.0 ? (double)tokens / dt : 0.0;
    batcher_free(&b);
    return rc;
}

/* Score split ts (of task split s) into out. */
static int evaluate(const struct train_setup *s, const struct tok_split *ts,
                    const struct split *sp, struct metric_result *out, double *tps,
                    int *pred_keep, struct err *e)
{
    bool reg = s->td->kind == TASK_REGRESSION;
    int *pred = pred_keep ? pred_keep : calloc(ts->n ? ts->n : 1, sizeof(int));
    float *pred_f = calloc(ts->n ? ts->n : 1, sizeof(float));
    int rc = (!pred || !pred_f) ? ERR_SET(e, ERR_NOMEM, "out of memory for predictions") : 0;
    if (rc == ERR_OK)
        rc = train_predict(s->m, ts, s->cfg->eval_batch_size, reg, pred, pred_f, NULL, tps, e);
    if (rc == ERR_OK)
        rc = task_score(s->td, sp, pred, pred_f, out, e);
    if (!pred_keep)
        free(pred);
    free(pred_f);
    return rc;
}

/* ---- best-epoch snapshots --------------------------------------------------- */

struct snapshot {
    float **data; /* (n) per trainable tensor, NULL for frozen ones */
    size_t n;
};

static int snap_take(struct snapshot *sn, const struct model *m, struct err *e)
{
    if (!sn->data) {
        sn->n = m->ps.n;
        sn->data = calloc(sn->n, sizeof *sn->data);
        if (!sn->data)
            return ERR_SET(e, ERR_NOMEM, "out of memory for the best-epoch copy");
    }
    for (size_t i = 0; i < sn->n; i++) {
        const struct param *p = m->ps.items[i];
        if (!p->trainable)
            continue;
        /* the best-epoch copy is scratch memory of the trial: accounted as workspace */
        if (!sn->data[i] && !(sn->data[i] = mem_alloc(m->acct, MEM_WORKSPACE,
                                                      p->numel * sizeof(float))))
            return ERR_SET(e, ERR_NOMEM, "out of memory for the best-epoch copy");
        memcpy(sn->data[i], p->data, p->numel * sizeof(float));
    }
    return ERR_OK;
}

static void snap_restore(const struct snapshot *sn, struct model *m)
{
    for (size_t i = 0; i < sn->n; i++)
        if (sn->data[i])
            memcpy(m->ps.items[i]->data, sn->data[i], m->ps.items[i]->numel * sizeof(float));
}

static void snap_free(struct snapshot *sn, struct model *m)
{
    for (size_t i = 0; sn->data && i < sn->n; i++)
        mem_free(m->acct, sn->data[i]);
    free(sn->data);
    sn->data = NULL;
}

/* ---- the loop ----------------------------------------------------------------- */

struct loop {
    const struct train_setup *s;
    struct train_result *r;
    struct batcher b;
    struct adamw_cfg ac;
    long step, total, warmup;
    size_t tokens;
    double train_time;
    struct train_fault_run fr;        /* the test-only faults in effect */
    size_t pair_every;                /* batches between reference pairs */
    bool ref_warm;                    /* the reference ran once unmeasured (first-touch pages) */
    double pairs[TRAIN_REF_MAX_PAIRS]; /* t_reference / t_step of each pair */
    int npairs;
};

static bool diverged(struct loop *L, double loss, double gnorm)
{
    struct train_result *r = L->r;
    if (isfinite(loss) && isfinite(gnorm) && gnorm <= TRAIN_EXPLODE_NORM)
        return false;
    r->status = TRIAL_DIVERGED;
    r->diverged_step = L->step;
    snprintf(r->message, sizeof r->message,
             "diverged at step %ld: loss %g, gradient norm %g", L->step, loss, gnorm);
    return true;
}

/* The bare reference step (train_setup.ref) on the step's batch bt, timed right after the
 * trial's step of t_step seconds: one pair of throughput_ratio.  Its forward and backward
 * (no update: nothing of it is judged) stand for the frozen backbone's share of any step. */
static int ref_pair(struct loop *L, const struct batch *bt, double t_step, struct err *e)
{
    const struct train_setup *s = L->s;
    double loss;
    for (int warm = L->ref_warm ? 1 : 0; warm < 2; warm++) {
        double t0 = timer_now();
        if (model_forward(s->ref, bt, true, s->seed, (uint64_t)L->step, NULL, e))
            return e->code;
        param_store_zero_grads(&s->ref->ps);
        if (model_loss_backward(s->ref, bt, true, &loss, e))
            return e->code;
        double t_ref = timer_now() - t0;
        if (warm == 1 && t_step > 0.0 && L->npairs < TRAIN_REF_MAX_PAIRS)
            L->pairs[L->npairs++] = t_ref / t_step;
    }
    L->ref_warm = true;
    return ERR_OK;
}

/* One optimizer step on batch k. Returns 0, or an error; sets divergence in r. */
static int one_step(struct loop *L, size_t k, double *loss_out, struct err *e)
{
    const struct train_setup *s = L->s;
    struct batch bt;
    size_t real;
    double loss = (double)NAN;
    double t0 = timer_now();
    L->step++;
    train_fault_step_begin(&L->fr);
    if (batcher_get(&L->b, k, &bt, NULL, &real, e) ||
        model_forward(s->m, &bt, true, s->seed, (uint64_t)L->step, NULL, e))
        return e->code;
    param_store_zero_grads(&s->m->ps);
    if (model_loss_backward(s->m, &bt, true, &loss, e) || train_fault_step_end(&L->fr, e))
        return e->code;
    if (s->fault_nan_step == L->step)
        loss = (double)NAN;
    double gnorm = param_store_grad_norm(&s->m->ps);
    *loss_out = loss;
    if (diverged(L, loss, gnorm))
        return ERR_OK;
    if (s->cfg->grad_clip > 0.0 && gnorm > s->cfg->grad_clip)
        param_store_scale_grads(&s->m->ps, (float)(s->cfg->grad_clip / gnorm));
    L->ac.lr = (float)train_lr_at(s->cfg->lr, L->step, L->total, L->warmup);
    train_fault_before_update(&L->fr);
    adamw_step(&s->m->ps, &L->ac, L->step);
    train_fault_after_update(&L->fr);
    L->tokens += real;
    double dt = timer_now() - t0;
    L->train_time += dt;
    if (s->ref && k % L->pair_every == L->pair_every - 1)
        return ref_pair(L, &bt, dt, e);
    return ERR_OK;
}

static void report(struct loop *L, int epoch, double loss, bool end, double dev)
{
    const struct train_setup *s = L->s;
    if (!s->progress)
        return;
    struct train_progress p = {epoch, s->cfg->epochs, L->step, L->total, loss,
                               L->train_time > 0 ? (double)L->tokens / L->train_time : 0.0,
                               end, dev};
    s->progress(s->user, &p);
}

/* Train one epoch; mean loss into *mean. */
static int run_epoch(struct loop *L, int epoch, double *mean, struct err *e)
{
    const struct train_setup *s = L->s;
    batcher_epoch(&L->b, s->seed, epoch);
    double sum = 0.0;
    long n = 0;
    for (size_t k = 0; k < batcher_count(&L->b); k++) {
        if (s->stop && *s->stop) {
            L->r->status = TRIAL_INTERRUPTED;
            return ERR_OK;
        }
        if (s->cfg->max_steps > 0 && L->step >= s->cfg->max_steps)
            break;
        double loss = 0.0;
        if (one_step(L, k, &loss, e))
            return e->code;
        if (L->r->status != TRIAL_OK)
            return ERR_OK;
        sum += loss;
        n++;
        report(L, epoch, loss, false, 0.0);
    }
    *mean = n ? sum / (double)n : (double)NAN;
    return ERR_OK;
}

static int push_epoch(struct train_result *r, const struct epoch_log *ep, struct err *e)
{
    struct epoch_log *a = realloc(r->epochs, (size_t)(r->nepochs + 1) * sizeof *a);
    if (!a)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the epoch log");
    r->epochs = a;
    r->epochs[r->nepochs++] = *ep;
    return ERR_OK;
}

/* Epoch loop with evaluation, best-epoch tracking and early stopping. */
static int epochs_loop(struct loop *L, struct snapshot *best, struct err *e)
{
    const struct train_setup *s = L->s;
    struct train_result *r = L->r;
    int since_best = 0;
    for (int epoch = 1; epoch <= s->cfg->epochs; epoch++) {
        double t0 = timer_now(), mean = (double)NAN, tps = 0.0;
        if (run_epoch(L, epoch, &mean, e))
            return e->code;
        if (r->status != TRIAL_OK)
            return ERR_OK;
        struct epoch_log ep = {.epoch = epoch, .train_loss = mean};
        if (evaluate(s, s->dev, &s->td->dev, &ep.dev, &tps, NULL, e))
            return e->code;
        r->eval_tokens_per_s = tps;
        r->eval_seconds += timer_now() - t0;
        ep.seconds = timer_now() - t0;
        r->final_train_loss = mean;
        if (push_epoch(r, &ep, e))
            return e->code;
        report(L, epoch, mean, true, ep.dev.primary_value);
        if (r->best_epoch == 0 || ep.dev.primary_value > r->best_dev.primary_value) {
            r->best_epoch = epoch;
            r->best_dev = ep.dev;
            since_best = 0;
            if (snap_take(best, s->m, e))
                return e->code;
        } else if (s->cfg->early_stopping > 0 && ++since_best >= s->cfg->early_stopping) {
            break;
        }
        if (s->cfg->max_steps > 0 && L->step >= s->cfg->max_steps)
            break;
    }
    return ERR_OK;
}

/* Dev evaluation with every method merged: throughput of the zero-overhead
 * inference form, and a check that predictions do not change. */
static int merged_eval(const struct train_setup *s, struct train_result *r, struct err *e)
{
    r->merged_tokens_per_s = (double)NAN;
    int nmerge = 0;
    for (int i = 0; i < s->nm; i++)
        nmerge += s->mi[i].ops->merge != NULL;
    if (s->nm == 0 || nmerge < s->nm)
        return ERR_OK;
    size_t n = s->dev->n ? s->dev->n : 1;
    int *before = calloc(n, sizeof(int)), *after = calloc(n, sizeof(int));
    float *bf = calloc(n, sizeof(float)), *af = calloc(n, sizeof(float));
    bool reg = s->td->kind == TASK_REGRESSION;
    int rc = (!before || !after || !bf || !af) ? ERR_SET(e, ERR_NOMEM, "out of memory") : 0;
    if (rc == ERR_OK)
        rc = train_predict(s->m, s->dev, s->cfg->eval_batch_size, reg, before, bf, NULL, NULL, e);
    /* merging writes fp32 base weights: in bf16 widen them (exact), merge, and run the merged
     * model with its weights stored in bf16 again; the same around the unmerge */
    enum matmul_prec prec = model_precision(s->m);
    struct mem_acct held = *s->m->acct; /* see the end: bf16's merge transient */
    if (rc == ERR_OK)
        rc = model_set_precision(s->m, MATMUL_FP32, e);
    int merged = 0;
    for (int i = 0; rc == ERR_OK && i < s->nm; i++, merged++)
        rc = method_merge(&s->mi[i], s->m, e);
    if (rc == ERR_OK)
        rc = model_set_precision(s->m, prec, e);
    if (rc == ERR_OK)
        rc = train_predict(s->m, s->dev, s->cfg->eval_batch_size, reg, after, af, NULL,
                           &r->merged_tokens_per_s, e);
    struct err e2;
    if (merged && model_set_precision(s->m, MATMUL_FP32, &e2) && rc == ERR_OK)
        rc = ERR_SET(e, e2.code, "%s", e2.msg);
    for (int i = merged; i-- > 0;) {
        if (method_unmerge(&s->mi[i], s->m, &e2) && rc == ERR_OK)
            rc = ERR_SET(e, e2.code, "%s", e2.msg);
    }
    if (merged && model_set_precision(s->m, prec, &e2) && rc == ERR_OK)
        rc = ERR_SET(e, e2.code, "%s", e2.msg);
    if (prec == MATMUL_BF16) {
        /* Merging in bf16 widens the frozen matrices to fp32 for a moment, once per trial
         * after training; the recorded peaks are the trial's in bf16 storage, so that
         * transient is left out of them (the kernel's peak RSS still sees it). */
        memcpy(s->m->acct->peak, held.peak, sizeof held.peak);
        s->m->acct->peak_total = held.peak_total;
    }
    r->merged_same_predictions = rc == ERR_OK && memcmp(before, after, n * sizeof(int)) == 0;
    free(before), free(after), free(bf), free(af);
    return rc;
}

int train_run(const struct train_setup *s, struct train_result *r, struct err *e)
{
    memset(r, 0, sizeof *r);
    r->merged_tokens_per_s = (double)NAN;
    r->throughput_ratio = (double)NAN;
    struct loop L = {.s = s, .r = r};
    if (s->cfg->epochs < 1 || s->cfg->epochs > TRAIN_MAX_EPOCHS)
        return ERR_SET(e, ERR_CONFIG, "train.epochs must be in [1, %d]", TRAIN_MAX_EPOCHS);
    if (s->train->n == 0 || s->dev->n == 0)
        return ERR_SET(e, ERR_CONFIG, "task '%s' has an empty train or dev split",
                       s->td->name);
    if (batcher_init(&L.b, s->train, s->cfg->batch_size, true, BATCH_BUCKET_DEFAULT, e))
        return e->code;
    adamw_default(&L.ac);
    L.ac.beta1 = (float)s->cfg->adam_beta1;
    L.ac.beta2 = (float)s->cfg->adam_beta2;
    L.ac.eps = (float)s->cfg->adam_eps;
    L.ac.weight_decay = (float)s->cfg->weight_decay;
    L.total = (long)batcher_count(&L.b) * s->cfg->epochs;
    if (s->cfg->max_steps > 0 && s->cfg->max_steps < L.total)
        L.total = s->cfg->max_steps;
    L.warmup = (long)ceil(s->cfg->warmup_ratio * (double)L.total);
    L.pair_every = batcher_count(&L.b) / TRAIN_REF_PAIRS_PER_EPOCH;
    L.pair_every = L.pair_every ? L.pair_every : 1;
    struct snapshot best = {0};
    int rc = train_fault_begin(&L.fr, s->fault, s->m, s->mi, s->nm, e);
    if (rc == ERR_OK)
        rc = epochs_loop(&L, &best, e);
    train_fault_end(&L.fr); /* before merging: merge finds its hooks by their function */
    r->steps = L.step;
    r->train_seconds = L.train_time;
    r->train_tokens_per_s = L.train_time > 0 ? (double)L.tokens / L.train_time : 0.0;
    r->ratio_pairs = L.npairs;
    r->throughput_ratio = L.npairs ? timer_median(L.pairs, (size_t)L.npairs) : (double)NAN;
    if (rc == ERR_OK && r->status == TRIAL_OK && r->best_epoch > 0) {
        snap_restore(&best, s->m);
        rc = merged_eval(s, r, e);
        if (rc == ERR_OK && s->cfg->eval_test && s->test && s->td->test.labeled &&
            s->test->n > 0) {
            rc = evaluate(s, s->test, &s->td->test, &r->test, NULL, NULL, e);
            r->has_test = rc == ERR_OK;
        }
    }
    snap_free(&best, s->m);
    batcher_free(&L.b);
    return rc;
}
