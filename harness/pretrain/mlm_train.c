/*
 * pretrain MLM training: the model and head of a build, one masked batch forward and
 * backward, the held-out evaluation and the training loop (contract in mlm_train.h).
 */
#include "harness/pretrain/mlm_train.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/timer.h"
#include "harness/pretrain/build_state.h"
#include "harness/sweep/train.h"
#include "model/arch/mlm.h"
#include "model/arch/model.h"
#include "model/text/tokenizer.h"
#include "model/text/vocab_build.h"
#include "tasks/batching.h"

#define SALT_MASK 0x4d41534bull /* "MASK" */
#define SALT_EVAL 0x4556414cull /* "EVAL" */

static void model_config(const struct pt *p, struct bert_config *bc)
{
    const struct pretrain_cfg *c = p->c;
    hfconfig_default(bc);
    bc->vocab_size = p->nvocab;
    bc->hidden_size = c->hidden;
    bc->num_hidden_layers = c->layers;
    bc->num_attention_heads = c->heads;
    bc->intermediate_size = c->ffn;
    bc->max_position_embeddings = c->max_position;
    bc->type_vocab_size = 2;
    bc->pad_token_id = tokenizer_pad_id(p->tok);
    bc->hidden_dropout_prob = (float)c->dropout;
    bc->attention_probs_dropout_prob = (float)c->attention_dropout;
    bc->initializer_range = (float)c->initializer_range;
    snprintf(bc->hidden_act, sizeof bc->hidden_act, "%s", c->hidden_act);
    snprintf(bc->architectures0, sizeof bc->architectures0, "BertForMaskedLM");
}

int pt_prepare_model(struct pt *p, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct bert_config bc;
    model_config(p, &bc);
    if (hfconfig_validate(&bc, NULL, e) || model_create(&p->m, &bc, 2, &p->acct, e))
        return e->code;
    p->have_model = true;
    model_init_weights(&p->m, (uint64_t)c->seed);
    /* the whole encoder trains; the pooler and classifier are not part of MLM */
    if (model_set_backbone_trainable(&p->m, true, e) || model_set_head_trainable(&p->m, false, e) ||
        param_set_trainable(&p->m.ps, p->m.pool_w, false, e) ||
        param_set_trainable(&p->m.ps, p->m.pool_b, false, e))
        return e->code;
    if (c->train_dropout >= 0.0) /* pretraining's own dropout; config.json keeps model.* */
        p->m.enc.hidden_drop = p->m.enc.attn_drop = (float)c->train_dropout;
    if (mlm_head_create(&p->head, &p->m.enc, &p->acct, e))
        return e->code;
    p->have_head = true;
    mlm_head_init(&p->head, (float)c->initializer_range, (uint64_t)c->seed);
    const int V = p->nvocab;
    p->special = calloc((size_t)V, 1);
    if (!p->special)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < V; i++) /* [PAD] [UNK] [CLS] [SEP] [MASK] */
        p->special[i] = p->vocab[i][0] == '[' && i < VOCAB_NSPECIAL;
    p->mc.prob = (float)c->mask_prob;
    p->mc.mask_frac = (float)c->mask_token;
    p->mc.random_frac = (float)c->random_token;
    p->mc.mask_id = tokenizer_mask_id(p->tok);
    p->mc.V = V;
    p->mc.special = p->special;
    int maxlen = p->train.max_len > p->held.max_len ? p->train.max_len : p->held.max_len;
    int bmax = c->batch_size > c->eval_batch_size ? c->batch_size : c->eval_batch_size;
    p->cells = (size_t)bmax * (size_t)(maxlen > 0 ? maxlen : 1);
    p->mids = malloc(p->cells * sizeof *p->mids);
    p->pos = malloc(p->cells * sizeof *p->pos);
    p->labels = malloc(p->cells * sizeof *p->labels);
    if (!p->mids || !p->pos || !p->labels)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the masking buffers");
    return 0;
}

/* Forward (and with train, backward) of one batch; its MLM statistics into *r and those
 * of the optional [CLS] bag-of-words loss into *rb (rb->M = 0 when off). */
static int mlm_batch(struct pt *p, const struct batch *bt, bool train, uint64_t mask_seed,
                     uint64_t stream, long step, struct mlm_result *r, struct mlm_result *rb,
                     struct err *e)
{
    const int N = bt->B * bt->T, D = p->m.enc.D;
    memset(rb, 0, sizeof *rb);
    int M = mlm_mask(p->mids, p->pos, p->labels, bt->ids, bt->mask, N, &p->mc, mask_seed, stream);
    if (M == 0) { /* a batch of only special tokens: nothing to predict */
        memset(r, 0, sizeof *r);
        return 0;
    }
    struct batch bm = *bt;
    bm.ids = p->mids;
    struct encoder *enc = &p->m.enc;
    if (encoder_begin_step(enc, &bm, train, (uint64_t)p->c->seed, (uint64_t)step, e) ||
        encoder_forward(enc, &bm, e))
        return e->code;
    float *dh = NULL;
    if (train && !(dh = arena_floats(&enc->arena, (size_t)N * (size_t)D)))
        return ERR_SET(e, ERR_NOMEM, "out of memory for the hidden-state gradient");
    if (train) {
        param_store_zero_grads(&p->m.ps);
        param_store_zero_grads(&p->head.ps);
    }
    if (mlm_head_step(&p->head, enc, p->pos, p->labels, M, dh, r, e))
        return e->code;
    const float wb = (float)p->c->cls_bow_weight;
    if (wb > 0.0f && mlm_head_bow_step(&p->head, enc, bt->ids, bt->mask, p->special, wb, dh, rb, e))
        return e->code;
    return train ? encoder_backward(enc, dh, e) : 0;
}

/* Held-out MLM loss and accuracy with fixed masks (the same for every evaluation), and
 * the bag-of-words loss when it is on (else NaN). */
int pt_evaluate(struct pt *p, double *loss, double *acc, double *bow, long long *masked,
                struct err *e)
{
    *loss = *acc = *bow = (double)NAN;
    *masked = 0;
    if (p->held.n == 0)
        return 0;
    struct batcher b;
    if (batcher_init(&b, &p->held, p->c->eval_batch_size, false, 0, e))
        return e->code;
    double sum = 0.0, bsum = 0.0;
    long long correct = 0, M = 0, bM = 0;
    int rc = 0;
    for (size_t k = 0; k < batcher_count(&b) && !rc; k++) {
        struct batch bt;
        struct mlm_result r, rb;
        rc = batcher_get(&b, k, &bt, NULL, NULL, e);
        if (!rc)
            rc = mlm_batch(p, &bt, false, (uint64_t)p->c->seed ^ SALT_EVAL, (uint64_t)k, 0, &r, &rb,
                           e);
        if (!rc) {
            sum += r.loss * r.M;
            correct += r.correct;
            M += r.M;
            bsum += rb.loss * rb.M;
            bM += rb.M;
        }
    }
    batcher_free(&b);
    if (!rc && M > 0) {
        *loss = sum / (double)M;
        *acc = (double)correct / (double)M;
        *masked = M;
    }
    if (!rc && bM > 0)
        *bow = bsum / (double)bM;
    return rc;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 90)
        snprintf(buf, n, "%.0fs", s);
    else
        snprintf(buf, n, "%.1fm", s / 60);
}

static void progress(struct pt *p, long step, long total, double loss, double acc, double bow,
                     double lr, double tps, double el)
{
    FILE *out = p->o->out;
    if (!out)
        return;
    double now = timer_now();
    bool last = step == total;
    if (p->o->tty ? (now - p->last_print < 0.25 && !last)
                  : (step % (total / 10 > 0 ? total / 10 : 1) != 0 && !last))
        return;
    p->last_print = now;
    char eta[16], bows[32] = "";
    fmt_eta(eta, sizeof eta, el / (double)step * (double)(total - step));
    if (p->c->cls_bow_weight > 0.0)
        snprintf(bows, sizeof bows, " bow %.3f", bow);
    fprintf(out,
            "%spretrain %s: step %ld/%ld | mlm loss %.4f acc %.3f%s | lr %.2e | %.0f tok/s | "
            "ETA %s%s",
            p->o->tty ? "\r\033[K" : "", p->c->name, step, total, loss, acc, bows, lr, tps, eta,
            p->o->tty ? "" : "\n");
    fflush(out);
}

/* CPU seconds of the process (all threads): on a shared machine the wall time says
 * how busy the machine was, this says what the build cost. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pt_train_loop(struct pt *p, struct pretrain_stats *st, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct batcher b;
    if (batcher_init(&b, &p->train, c->batch_size, true, BATCH_BUCKET_DEFAULT, e))
        return e->code;
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.beta1 = (float)c->adam_beta1;
    ac.beta2 = (float)c->adam_beta2;
    ac.eps = (float)c->adam_eps;
    ac.weight_decay = (float)c->weight_decay;
    const long total = c->steps, warmup = (long)ceil(c->warmup_ratio * (double)total);
    const long tail = total / 20 > 0 ? total / 20 : 1;
    const size_t nb = batcher_count(&b);
    size_t k = nb;
    int epoch = 0, rc = 0;
    double t0 = timer_now(), c0 = cpu_now(), tail_sum = 0.0, tail_bow = 0.0;
    double ema = (double)NAN, ema_acc = 0.0, ema_bow = (double)NAN;
    long long tokens = 0;
    for (long step = 1; step <= total && !rc; step++) {
        if (pt_stopped(p)) {
            rc = pt_interrupted(e);
            break;
        }
        if (k == nb) {
            batcher_epoch(&b, (uint64_t)c->seed, epoch++);
            k = 0;
        }
        struct batch bt;
        size_t real = 0;
        struct mlm_result r, rb;
        rc = batcher_get(&b, k++, &bt, NULL, &real, e);
        if (!rc)
            rc = mlm_batch(p, &bt, true, (uint64_t)c->seed ^ SALT_MASK, (uint64_t)step, step, &r,
                           &rb, e);
        if (rc || r.M == 0)
            continue;
        double n1 = param_store_grad_norm(&p->m.ps), n2 = param_store_grad_norm(&p->head.ps);
        double gnorm = sqrt(n1 * n1 + n2 * n2);
        if (!isfinite(r.loss) || !isfinite(rb.loss) || !isfinite(gnorm)) {
            rc = ERR_SET(e, ERR_NUMERIC,
                         "pretraining diverged at step %ld (MLM loss %g, gradient norm %g); "
                         "lower train.lr or raise train.warmup_ratio",
                         step, r.loss, gnorm);
            break;
        }
        if (c->grad_clip > 0.0 && gnorm > c->grad_clip) {
            param_store_scale_grads(&p->m.ps, (float)(c->grad_clip / gnorm));
            param_store_scale_grads(&p->head.ps, (float)(c->grad_clip / gnorm));
        }
        double lr = train_lr_at(c->lr, step, total, warmup);
        ac.lr = (float)lr;
        adamw_step(&p->m.ps, &ac, step);
        adamw_step(&p->head.ps, &ac, step);
        tokens += (long long)real;
        st->masked_seen += r.M;
        st->steps = step;
        double acc = (double)r.correct / r.M;
        ema = isnan(ema) ? r.loss : 0.98 * ema + 0.02 * r.loss;
        ema_acc = step == 1 ? acc : 0.98 * ema_acc + 0.02 * acc;
        ema_bow = isnan(ema_bow) ? rb.loss : 0.98 * ema_bow + 0.02 * rb.loss;
        if (step > total - tail) {
            tail_sum += r.loss;
            tail_bow += rb.loss;
        }
        double el = timer_now() - t0;
        progress(p, step, total, ema, ema_acc, ema_bow, lr, el > 0 ? (double)tokens / el : 0.0, el);
    }
    batcher_free(&b);
    st->tokens_seen = tokens;
    st->train_seconds = timer_now() - t0;
    st->train_cpu_seconds = cpu_now() - c0;
    st->final_train_loss = tail_sum / (double)(total < tail ? total : tail);
    st->final_train_bow_loss =
        c->cls_bow_weight > 0.0 ? tail_bow / (double)(total < tail ? total : tail) : (double)NAN;
    return rc;
}
