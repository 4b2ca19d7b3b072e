/*
 * Encoder, model and hook-site tests: finite-difference gradients of a whole
 * 2-layer encoder w.r.t. every tensor (backbone, head, test hooks at every
 * site, prefix rows), frozen semantics, determinism, backward stopping,
 * padding invariance and Hugging Face directory round trips (and what they refuse: a
 * vocabulary larger than vocab_size, a FIFO).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/gradcheck.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "model/io/safetensors.h"
#include "tests/suites.h"

/* ---- a tiny model and batch ------------------------------------------- */

enum { TB = 3, TT = 6, TV = 40, TC = 3 };

static void tiny_config(struct bert_config *c, const char *arch)
{
    hfconfig_default(c);
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    c->vocab_size = TV;
    c->hidden_size = 16;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 2;
    c->intermediate_size = 24;
    c->max_position_embeddings = 16;
    c->type_vocab_size = strcmp(arch, "roberta") == 0 ? 1 : 2;
    c->pad_token_id = strcmp(arch, "roberta") == 0 ? 1 : 0;
    c->initializer_range = 0.3f; /* large weights: gradients well above float noise */
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
}

struct tbatch {
    int ids[TB * TT], types[TB * TT], mask[TB * TT], labels[TB];
    float targets[TB];
    struct batch b;
};

static void tiny_batch(struct tbatch *t, bool types, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    const int len[TB] = {TT, 4, 2}; /* rows 1 and 2 are padded */
    for (int i = 0; i < TB; i++) {
        for (int j = 0; j < TT; j++) {
            int n = i * TT + j;
            t->mask[n] = j < len[i];
            t->ids[n] = t->mask[n] ? 2 + (int)rng_below(&r, TV - 2) : 0;
            t->types[n] = types && j >= len[i] / 2 ? 1 : 0;
        }
        t->labels[i] = i % TC;
        t->targets[i] = 0.5f * (float)i - 0.3f;
    }
    t->b = (struct batch){TB, TT, t->ids, types ? t->types : NULL, t->mask, t->labels, t->targets};
}

/* ---- test hooks at every site -------------------------------------------- */

enum th_kind { TH_LIN_IN, TH_LIN_ADD, TH_LIN_OUT, TH_BLK_ADD, TH_BLK_POST };

struct th {
    enum th_kind kind;
    int n;       /* parameters */
    float *p, *g;
    int fwd_calls, bwd_calls;
};

static int th_fwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                  struct err *e)
{
    (void)c, (void)e;
    struct th *t = h->user;
    t->fwd_calls++;
    const int N = io->N, IN = io->IN, OUT = io->OUT;
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < OUT; j++) {
            size_t o = (size_t)n * OUT + j;
            switch (t->kind) {
            case TH_LIN_ADD: io->z[o] += t->p[j] * io->x[(size_t)n * IN + j % IN]; break;
            case TH_LIN_OUT: io->y[o] = io->z[o] * t->p[j]; break;
            case TH_BLK_ADD: io->zsum[o] += t->p[j] * tanhf(io->h[o]) + t->p[OUT + j] * io->res[o]; break;
            case TH_BLK_POST: io->r[o] = t->p[j] * io->n[o]; break;
            case TH_LIN_IN: break;
            }
        }
        if (t->kind == TH_LIN_IN)
            for (int i = 0; i < IN; i++)
                io->x[(size_t)n * IN + i] = io->x0[(size_t)n * IN + i] * t->p[i];
    }
    return 0;
}

static int th_bwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                  struct err *e)
{
    (void)c, (void)e;
    struct th *t = h->user;
    t->bwd_calls++;
    const int N = io->N, IN = io->IN, OUT = io->OUT;
    for (int n = 0; n < N; n++) {
        if (t->kind == TH_LIN_IN) {
            for (int i = 0; i < IN; i++) {
                size_t o = (size_t)n * IN + i;
                t->g[i] += io->dx[o] * io->x0[o];
                if (io->dx0)
                    io->dx0[o] = io->dx[o] * t->p[i];
            }
            continue;
        }
        for (int j = 0; j < OUT; j++) {
            size_t o = (size_t)n * OUT + j, xi = (size_t)n * IN + j % IN;
            switch (t->kind) {
            case TH_LIN_ADD:
                t->g[j] += io->dz[o] * io->x[xi];
                if (io->dx)
                    io->dx[xi] += io->dz[o] * t->p[j];
                break;
            case TH_LIN_OUT:
                t->g[j] += io->dy[o] * io->z[o];
                io->dz[o] = io->dy[o] * t->p[j];
                break;
            case TH_BLK_ADD: {
                float th = tanhf(io->h[o]);
                t->g[j] += io->dzsum[o] * th;
                t->g[OUT + j] += io->dzsum[o] * io->res[o];
                io->dh[o] += io->dzsum[o] * t->p[j] * (1.0f - th * th);
                if (io->dres)
                    io->dres[o] += io->dzsum[o] * t->p[OUT + j];
                break;
            }
            case TH_BLK_POST:
                t->g[j] += io->dr[o] * io->n[o];
                io->dn[o] += io->dr[o] * t->p[j];
                break;
            case TH_LIN_IN: break;
            }
        }
    }
    return 0;
}

/* Prefix provider: (L, P, D) keys and values as plain arrays. */
enum { TP = 2, TL = 2, TD = 16 };
struct tprefix {
    float k[TL * TP * TD], v[TL * TP * TD], dk[TL * TP * TD], dv[TL * TP * TD];
};

static void tp_kv(void *u, int layer, const float **pk, const float **pv)
{
    struct tprefix *p = u;
    *pk = p->k + layer * TP * TD;
    *pv = p->v + layer * TP * TD;
}

static void tp_grad(void *u, int layer, float **dpk, float **dpv)
{
    struct tprefix *p = u;
    *dpk = p->dk + layer * TP * TD;
    *dpv = p->dv + layer * TP * TD;
}

#define MAX_TH 48
struct fixture {
    struct mem_acct acct;
    struct model m;
    struct tbatch tb;
    struct th th[MAX_TH];
    int nth;
    struct tprefix prefix;
    float r[TB * TC]; /* fixed random weights of the scalar loss sum(logits * r) */
    uint64_t seed, step;
};

static struct th *add_th(struct fixture *f, int layer, enum hook_site s, enum hook_phase ph,
                         enum th_kind kind, int n, bool trainable)
{
    ck_assert_int_lt(f->nth, MAX_TH);
    struct th *t = &f->th[f->nth++];
    t->kind = kind;
    t->n = n;
    t->p = calloc((size_t)n, sizeof(float));
    t->g = calloc((size_t)n, sizeof(float));
    struct rng r;
    rng_seed(&r, (uint64_t)(f->nth * 31 + layer));
    for (int i = 0; i < n; i++)
        t->p[i] = (kind == TH_LIN_IN || kind == TH_LIN_OUT) ? 1.0f + 0.3f * rng_normal(&r)
                                                             : 0.3f * rng_normal(&r);
    struct hook h = {s, ph, layer, trainable, "test", t, th_fwd, th_bwd};
    struct err e;
    ck_assert_int_eq(hook_add(&f->m.enc.hooks, &h, &e), 0);
    return t;
}

/* Hooks at every site and phase of both layers, plus a trainable prefix. */
static void attach_everything(struct fixture *f)
{
    const int D = 16, F = 24;
    const int in_w[6] = {D, D, D, D, D, F}, out_w[6] = {D, D, D, D, F, D};
    for (int l = 0; l < 2; l++) {
        for (int s = SITE_Q; s <= SITE_FFN_OUT; s++) {
            add_th(f, l, (enum hook_site)s, HOOK_IN, TH_LIN_IN, in_w[s], true);
            add_th(f, l, (enum hook_site)s, HOOK_ADD, TH_LIN_ADD, out_w[s], true);
            add_th(f, l, (enum hook_site)s, HOOK_OUT, TH_LIN_OUT, out_w[s], true);
        }
        add_th(f, l, SITE_ATTN_BLOCK, HOOK_ADD, TH_BLK_ADD, 2 * D, true);
        add_th(f, l, SITE_FFN_BLOCK, HOOK_ADD, TH_BLK_ADD, 2 * D, true);
        add_th(f, l, SITE_FFN_BLOCK, HOOK_POST_LN, TH_BLK_POST, D, true);
    }
    struct rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < TL * TP * TD; i++) {
        f->prefix.k[i] = 0.5f * rng_normal(&r);
        f->prefix.v[i] = 0.5f * rng_normal(&r);
    }
    struct prefix_provider pp = {TP, true, &f->prefix, tp_kv, tp_grad};
    struct err e;
    ck_assert_int_eq(hook_set_prefix(&f->m.enc.hooks, &pp, "test", &e), 0);
}

static void fixture_init(struct fixture *f, const char *arch, int C)
{
    memset(f, 0, sizeof *f);
    mem_acct_init(&f->acct);
    struct bert_config cfg;
    tiny_config(&cfg, arch);
    struct err e;
    ck_assert_msg(model_create(&f->m, &cfg, C, &f->acct, &e) == 0, "%s", e.msg);
    model_init_weights(&f->m, 5);
    tiny_batch(&f->tb, strcmp(arch, "bert") == 0, 11);
    struct rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < TB * TC; i++)
        f->r[i] = rng_normal(&r);
    f->seed = 1234;
    f->step = 7;
}

static void fixture_free(struct fixture *f)
{
    for (int i = 0; i < f->nth; i++) {
        free(f->th[i].p);
        free(f->th[i].g);
    }
    model_destroy(&f->m);
    ck_assert_uint_eq(f->acct.cur_total, 0); /* every test is a leak test */
}

static double loss_fn(void *ctx)
{
    struct fixture *f = ctx;
    struct err e;
    float *logits;
    ck_assert_msg(model_forward(&f->m, &f->tb.b, true, f->seed, f->step, &logits, &e) == 0, "%s",
                  e.msg);
    double s = 0.0;
    for (int i = 0; i < TB * f->m.C; i++)
        s += (double)logits[i] * (double)f->r[i];
    return s;
}

/* Forward + backward of sum(logits * r) with fresh gradients everywhere. */
static void run_backward(struct fixture *f)
{
    param_store_zero_grads(&f->m.ps);
    for (int i = 0; i < f->nth; i++)
        memset(f->th[i].g, 0, (size_t)f->th[i].n * sizeof(float));
    memset(f->prefix.dk, 0, sizeof f->prefix.dk);
    memset(f->prefix.dv, 0, sizeof f->prefix.dv);
    loss_fn(f);
    struct err e;
    ck_assert_msg(model_backward(&f->m, f->r, &e) == 0, "%s", e.msg);
}

static void check_tensor(struct fixture *f, const char *name, float *x, const float *g, size_t n,
                         size_t k)
{
    char rep[256];
    int rc = gradcheck_tensor_h(name, loss_fn, f, x, g, n, k, 17, 2e-2, 1e-2, 1e-4, rep,
                                sizeof rep);
    ck_assert_msg(rc == 0, "%s", rep);
}

/* ---- gradients ---------------------------------------------------------- */

START_TEST(grad_whole_encoder_all_sites)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    struct err e;
    ck_assert_int_eq(model_set_backbone_trainable(&f.m, true, &e), 0);
    attach_everything(&f);
    run_backward(&f);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        ck_assert_ptr_nonnull(p->grad);
        check_tensor(&f, p->name, p->data, p->grad, p->numel, 6);
    }
    for (int i = 0; i < f.nth; i++) {
        char name[32];
        snprintf(name, sizeof name, "test hook %d", i);
        check_tensor(&f, name, f.th[i].p, f.th[i].g, (size_t)f.th[i].n, 6);
        ck_assert_int_gt(f.th[i].bwd_calls, 0);
    }
    check_tensor(&f, "prefix keys", f.prefix.k, f.prefix.dk, TL * TP * TD, 12);
    check_tensor(&f, "prefix values", f.prefix.v, f.prefix.dv, TL * TP * TD, 12);
    fixture_free(&f);
}
END_TEST

START_TEST(grad_roberta_regression)
{
    struct fixture f;
    fixture_init(&f, "roberta", 1);
    struct err e;
    ck_assert_int_eq(model_set_backbone_trainable(&f.m, true, &e), 0);
    run_backward(&f);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        if (strstr(p->name, "key.bias")) {
            /* Softmax is shift-invariant per query row and q·bk is such a
             * shift: without prefix rows the key bias has zero gradient. */
            for (size_t j = 0; j < p->numel; j++)
                ck_assert(fabsf(p->grad[j]) <= 1e-5f);
            continue;
        }
        check_tensor(&f, p->name, p->data, p->grad, p->numel, 4);
    }
    /* the real MSE loss path as well */
    double loss;
    param_store_zero_grads(&f.m.ps);
    loss_fn(&f);
    ck_assert_int_eq(model_loss_backward(&f.m, &f.tb.b, true, &loss, &e), 0);
    ck_assert(isfinite(loss) && loss > 0.0);
    fixture_free(&f);
}
END_TEST

/* ---- frozen semantics ----------------------------------------------------- */

START_TEST(frozen_backbone_has_no_grad_memory)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    size_t head = 0;
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_BACKBONE) {
            ck_assert_ptr_null(p->grad);
            ck_assert_ptr_null(p->m);
            ck_assert_ptr_null(p->v);
        } else {
            head += p->numel;
        }
    }
    ck_assert_uint_eq(f.acct.cur[MEM_GRADS], head * sizeof(float));
    ck_assert_uint_eq(f.acct.cur[MEM_OPTIM], 2 * head * sizeof(float));
    ck_assert_uint_eq(f.acct.cur[MEM_TRAINABLE], head * sizeof(float));
    ck_assert_uint_eq(f.acct.cur[MEM_FROZEN],
                      (param_store_numel(&f.m.ps) - head) * sizeof(float));
    ck_assert(!encoder_needs_backward(&f.m.enc));
    ck_assert_int_eq(param_store_trainable(&f.m.ps, PGROUP_HEAD), (int)head);
    ck_assert_int_eq(param_store_trainable(&f.m.ps, PGROUP_BACKBONE), 0);
    fixture_free(&f);
}
END_TEST

/* The gradient reaching a trainable prefix must not depend on whether the
 * backbone's weight gradients are computed: dX is the same computation. */
START_TEST(dx_identical_with_and_without_weight_grads)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    attach_everything(&f);
    run_backward(&f);
    float dk[TL * TP * TD], dv[TL * TP * TD], g0[64];
    memcpy(dk, f.prefix.dk, sizeof dk);
    memcpy(dv, f.prefix.dv, sizeof dv);
    memcpy(g0, f.th[0].g, (size_t)f.th[0].n * sizeof(float));
    struct err e;
    ck_assert_int_eq(model_set_backbone_trainable(&f.m, true, &e), 0);
    run_backward(&f);
    ck_assert(memcmp(dk, f.prefix.dk, sizeof dk) == 0);
    ck_assert(memcmp(dv, f.prefix.dv, sizeof dv) == 0);
    ck_assert(memcmp(g0, f.th[0].g, (size_t)f.th[0].n * sizeof(float)) == 0);
    fixture_free(&f);
}
END_TEST

START_TEST(adamw_leaves_frozen_bit_identical)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    attach_everything(&f);
    size_t n = f.m.ps.n;
    float **copy = calloc(n, sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        const struct param *p = f.m.ps.items[i];
        copy[i] = malloc(p->numel * sizeof(float));
        memcpy(copy[i], p->data, p->numel * sizeof(float));
    }
    run_backward(&f);
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.weight_decay = 0.1f;
    adamw_step(&f.m.ps, &ac, 1);
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct param *p = f.m.ps.items[i];
        bool same = memcmp(copy[i], p->data, p->numel * sizeof(float)) == 0;
        if (p->trainable)
            changed += !same;
        else
            ck_assert_msg(same, "frozen tensor %s changed", p->name);
        free(copy[i]);
    }
    free(copy);
    ck_assert_int_eq(changed, 2); /* classifier weight and bias */
    fixture_free(&f);
}
END_TEST

/* ---- backward stopping ---------------------------------------------------- */

START_TEST(backward_stops_below_lowest_trainable)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    struct th *low = add_th(&f, 0, SITE_Q, HOOK_ADD, TH_LIN_ADD, 16, false);
    struct th *high = add_th(&f, 1, SITE_V, HOOK_ADD, TH_LIN_ADD, 16, true);
    ck_assert_int_eq(encoder_lowest_trainable(&f.m.enc), 1);
    run_backward(&f);
    ck_assert_int_eq(low->fwd_calls, 1);
    ck_assert_int_eq(low->bwd_calls, 0); /* layer 0 backward never ran */
    ck_assert_int_eq(high->bwd_calls, 1);
    /* make layer 0 trainable: now it runs */
    struct err e;
    ck_assert_int_eq(param_set_trainable(&f.m.ps, f.m.enc.layers[0].wk, true, &e), 0);
    ck_assert_int_eq(encoder_lowest_trainable(&f.m.enc), 0);
    run_backward(&f);
    ck_assert_int_eq(low->bwd_calls, 1);
    fixture_free(&f);
}
END_TEST

START_TEST(hook_sites_called_once_per_layer)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    attach_everything(&f);
    run_backward(&f);
    for (int i = 0; i < f.nth; i++) {
        ck_assert_int_eq(f.th[i].fwd_calls, 1);
        ck_assert_int_eq(f.th[i].bwd_calls, 1);
    }
    fixture_free(&f);
}
END_TEST

START_TEST(second_single_slot_hook_rejected)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    add_th(&f, 0, SITE_K, HOOK_OUT, TH_LIN_OUT, 16, true);
    struct th extra = {TH_LIN_OUT, 0, NULL, NULL, 0, 0};
    struct hook h = {SITE_K, HOOK_OUT, 0, true, "other", &extra, th_fwd, th_bwd};
    struct err e;
    ck_assert_int_eq(hook_add(&f.m.enc.hooks, &h, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "other"));
    struct hook bad = {SITE_ATTN_BLOCK, HOOK_IN, 0, true, "bad", &extra, th_fwd, th_bwd};
    ck_assert_int_eq(hook_add(&f.m.enc.hooks, &bad, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "attn_block"));
    fixture_free(&f);
}
END_TEST

/* A forward that no backward will follow keeps no per-layer activations. */
START_TEST(frozen_forward_keeps_no_layer_activations)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    struct err e;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, true, 1, 1, NULL, &e), 0);
    size_t frozen = f.m.enc.arena.used;
    ck_assert_int_eq(model_set_backbone_trainable(&f.m, true, &e), 0);
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, true, 1, 1, NULL, &e), 0);
    size_t full = f.m.enc.arena.used;
    ck_assert_msg(2 * frozen < full, "frozen forward kept %zu bytes, full %zu", frozen, full);
    /* a backward after an evaluation forward is refused, not silently wrong */
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, NULL, &e), 0);
    double loss;
    ck_assert_int_eq(model_loss_backward(&f.m, &f.tb.b, true, &loss, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "kept no activations"));
    fixture_free(&f);
}
END_TEST

/* Backward bytes beyond the forward's (arena high-water minus forward use) for a model of L
 * layers with the backbone trainable or frozen under a trainable hook in every layer. */
static size_t backward_extra(int L, bool full, size_t *fwd_bytes)
{
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct bert_config cfg;
    tiny_config(&cfg, "bert");
    cfg.num_hidden_layers = L;
    struct model m;
    struct err e;
    ck_assert_int_eq(model_create(&m, &cfg, TC, &acct, &e), 0);
    model_init_weights(&m, 5);
    struct th hk[8];
    for (int l = 0; l < L && !full; l++) { /* a trainable hook at Q: backward to layer 0 */
        hk[l] = (struct th){TH_LIN_ADD, 16, calloc(16, sizeof(float)), calloc(16, sizeof(float)),
                            0, 0};
        struct hook h = {SITE_Q, HOOK_ADD, l, true, "t", &hk[l], th_fwd, th_bwd};
        ck_assert_int_eq(hook_add(&m.enc.hooks, &h, &e), 0);
    }
    ck_assert_int_eq(model_set_backbone_trainable(&m, full, &e), 0);
    struct tbatch tb;
    tiny_batch(&tb, true, 11);
    double loss;
    ck_assert_int_eq(model_forward(&m, &tb.b, true, 1, 1, NULL, &e), 0);
    *fwd_bytes = m.enc.arena.used;
    ck_assert_int_eq(model_loss_backward(&m, &tb.b, true, &loss, &e), 0);
    size_t extra = m.enc.arena.high - *fwd_bytes;
    model_destroy(&m);
    for (int l = 0; l < L && !full; l++)
        free(hk[l].p), free(hk[l].g);
    ck_assert_uint_eq(acct.cur_total, 0);
    return extra;
}

/* The backward gives each layer's gradient temporaries back: its extra memory does not grow
 * with depth beyond the two ping-pong gradient buffers. */
START_TEST(backward_holds_one_layer_of_temporaries)
{
    size_t f2, f5;
    size_t e2 = backward_extra(2, true, &f2), e5 = backward_extra(5, true, &f5);
    ck_assert_uint_gt(f5, f2); /* the forward does keep every layer */
    ck_assert_msg(e5 == e2, "backward extra %zu bytes at 2 layers, %zu at 5", e2, e5);
}
END_TEST

/* With frozen O and FFN-out weights and no hook there, the attention context and the FFN
 * activation are not kept: a frozen step keeps less per layer than a full one, by at least
 * those two tensors (N*D + N*F floats per layer). */
START_TEST(frozen_weights_keep_no_weight_grad_inputs)
{
    size_t full2, full5, fr2, fr5;
    backward_extra(2, true, &full2), backward_extra(5, true, &full5);
    backward_extra(2, false, &fr2), backward_extra(5, false, &fr5);
    size_t per_full = (full5 - full2) / 3, per_frozen = (fr5 - fr2) / 3;
    size_t N = (size_t)TB * TT, need = (N * 16 + N * 24) * sizeof(float);
    ck_assert_msg(per_full >= per_frozen + need, "per layer: full %zu, frozen %zu bytes",
                  per_full, per_frozen);
}
END_TEST

/* ---- determinism and padding ----------------------------------------------- */

static void train_once(struct fixture *f, float *logits_out, float *grad_out, float *w_out)
{
    struct err e;
    ck_assert_int_eq(model_set_backbone_trainable(&f->m, true, &e), 0);
    float *logits;
    ck_assert_int_eq(model_forward(&f->m, &f->tb.b, true, f->seed, f->step, &logits, &e), 0);
    memcpy(logits_out, logits, TB * TC * sizeof(float));
    param_store_zero_grads(&f->m.ps);
    double loss;
    ck_assert_int_eq(model_loss_backward(&f->m, &f->tb.b, true, &loss, &e), 0);
    struct param *w = f->m.enc.layers[0].wq;
    memcpy(grad_out, w->grad, w->numel * sizeof(float));
    struct adamw_cfg ac;
    adamw_default(&ac);
    adamw_step(&f->m.ps, &ac, 1);
    memcpy(w_out, w->data, w->numel * sizeof(float));
}

START_TEST(same_seed_bit_identical)
{
    float l1[TB * TC], l2[TB * TC], g1[256], g2[256], w1[256], w2[256];
    struct fixture a, b;
    fixture_init(&a, "bert", TC);
    train_once(&a, l1, g1, w1);
    fixture_free(&a);
    fixture_init(&b, "bert", TC);
    train_once(&b, l2, g2, w2);
    ck_assert(memcmp(l1, l2, sizeof l1) == 0);
    ck_assert(memcmp(g1, g2, sizeof g1) == 0);
    ck_assert(memcmp(w1, w2, sizeof w1) == 0);
    /* and a different dropout seed really changes the logits */
    b.seed = 999;
    float *logits;
    struct err e;
    ck_assert_int_eq(model_forward(&b.m, &b.tb.b, true, b.seed, b.step, &logits, &e), 0);
    ck_assert(memcmp(l2, logits, sizeof l2) != 0);
    fixture_free(&b);
}
END_TEST

START_TEST(padding_does_not_change_outputs)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    float *logits, before[TB * TC];
    struct err e;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, &logits, &e), 0);
    memcpy(before, logits, sizeof before);
    for (int n = 0; n < TB * TT; n++)
        if (!f.tb.mask[n])
            f.tb.ids[n] = 7 + n % 5;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, &logits, &e), 0);
    ck_assert(memcmp(before, logits, sizeof before) == 0);
    fixture_free(&f);
}
END_TEST

START_TEST(eval_forward_is_deterministic_and_dropout_free)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    float *logits, a[TB * TC];
    struct err e;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, &logits, &e), 0);
    memcpy(a, logits, sizeof a);
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 2, 9, &logits, &e), 0);
    ck_assert(memcmp(a, logits, sizeof a) == 0);
    fixture_free(&f);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(bad_batches_rejected)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    struct err e;
    f.tb.ids[4] = TV;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, NULL, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "outside vocabulary"));
    f.tb.ids[4] = 3;
    f.tb.types[2] = 5;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, NULL, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "token type 5"));
    f.tb.types[2] = 0;
    struct batch longb = f.tb.b;
    longb.T = 17;
    longb.B = 1;
    ck_assert_int_eq(model_forward(&f.m, &longb, false, 1, 1, NULL, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "16 positions"));
    f.tb.labels[0] = TC;
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, NULL, &e), 0);
    double loss;
    ck_assert_int_eq(model_loss_backward(&f.m, &f.tb.b, false, &loss, &e), ERR_RANGE);
    fixture_free(&f);
}
END_TEST

/* ---- Hugging Face directories ---------------------------------------------- */

static char *tmpdir(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/peftbench-enc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
    return path;
}

static void rm_dir(const char *d)
{
    const char *files[] = {"config.json", "model.safetensors", "vocab.txt",
                           "vocab.json",  "merges.txt",        "pipe"};
    char p[256];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        unlink(p);
    }
    rmdir(d);
}

START_TEST(hf_dir_round_trip_bit_identical)
{
    const char *arch = _i ? "roberta" : "bert";
    struct fixture f;
    fixture_init(&f, arch, TC);
    char *dir = tmpdir();
    struct err e;
    ck_assert_msg(model_save_dir(&f.m, dir, true, NULL, &e) == 0, "%s", e.msg);
    float *logits, a[TB * TC];
    ck_assert_int_eq(model_forward(&f.m, &f.tb.b, false, 1, 1, &logits, &e), 0);
    memcpy(a, logits, sizeof a);
    struct model m2;
    ck_assert_msg(model_load_dir(&m2, dir, TC, 1, &f.acct, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(m2.load_note, "");
    ck_assert_int_eq(model_forward(&m2, &f.tb.b, false, 1, 1, &logits, &e), 0);
    ck_assert(memcmp(a, logits, sizeof a) == 0);
    model_destroy(&m2);
    rm_dir(dir);
    fixture_free(&f);
}
END_TEST

/* A checkpoint saved by BertForPreTraining-style code: "bert." prefix, legacy
 * gamma/beta names, MLM-head tensors, no classifier. */
START_TEST(hf_dir_prefixes_and_legacy_names)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    char *dir = tmpdir();
    struct err e;
    ck_assert_int_eq(model_save_dir(&f.m, dir, false, NULL, &e), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n = f.m.ps.n;
    struct st_write_tensor *t = calloc(n + 1, sizeof *t);
    char (*names)[200] = calloc(n + 1, sizeof *names);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_HEAD)
            continue;
        snprintf(names[k], sizeof names[k], "bert.%s", p->name);
        char *g = strstr(names[k], "LayerNorm.weight");
        if (g)
            strcpy(g, "LayerNorm.gamma");
        char *bb = strstr(names[k], "LayerNorm.bias");
        if (bb)
            strcpy(bb, "LayerNorm.beta");
        t[k].name = names[k];
        t[k].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            t[k].shape[d] = p->shape[d];
        t[k].data = p->data;
        k++;
    }
    float mlm[TV];
    memset(mlm, 0, sizeof mlm);
    t[k] = (struct st_write_tensor){"cls.predictions.bias", 1, {TV}, mlm};
    k++;
    ck_assert_int_eq(st_write(path, t, k, NULL, 0, &e), 0);
    struct model m2;
    ck_assert_msg(model_load_dir(&m2, dir, TC, 1, &f.acct, &e) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(m2.load_note, "newly initialised"));
    const struct param *a = f.m.enc.layers[1].ln2_g, *b = m2.enc.layers[1].ln2_g;
    ck_assert(memcmp(a->data, b->data, a->numel * sizeof(float)) == 0);
    /* now drop a backbone tensor: a clear error naming it */
    t[0].name = "bert.something.else";
    ck_assert_int_eq(st_write(path, t, k, NULL, 0, &e), 0);
    model_destroy(&m2);
    ck_assert_int_eq(model_load_dir(&m2, dir, TC, 1, &f.acct, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "embeddings.word_embeddings.weight"));
    ck_assert_ptr_nonnull(strstr(e.msg, "missing"));
    free(t);
    free(names);
    rm_dir(dir);
    fixture_free(&f);
}
END_TEST

START_TEST(hf_dir_shape_mismatch_named)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    char *dir = tmpdir();
    struct err e;
    ck_assert_int_eq(model_save_dir(&f.m, dir, true, NULL, &e), 0);
    struct model m2;
    /* the saved head has 3 labels; asking for 5 is a shape mismatch */
    ck_assert_int_eq(model_load_dir(&m2, dir, 5, 1, &f.acct, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tensor 'classifier.") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "the config needs [5") != NULL, "%s", e.msg);
    rm_dir(dir);
    ck_assert_int_eq(model_load_dir(&m2, dir, 5, 1, &f.acct, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "config.json"));
    fixture_free(&f);
}
END_TEST

/* Write dir/name with the given text. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A WordPiece vocab.txt of n tokens: the four specials, then "t4", "t5", ... */
static void put_vocab_txt(const char *dir, int n)
{
    static char text[4096];
    size_t o = (size_t)snprintf(text, sizeof text, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    for (int i = 4; i < n; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "t%d\n", i);
    put_file(dir, "vocab.txt", text);
}

/* A vocabulary with more token ids than config.json's vocab_size is refused when the model
 * is loaded, naming both files and both numbers (before, it loaded and failed later at the
 * first out-of-range token id, naming no file).  Fewer is fine (padded tables). */
START_TEST(vocab_larger_than_vocab_size_refused)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    char *dir = tmpdir();
    struct err e;
    ck_assert_int_eq(model_save_dir(&f.m, dir, true, NULL, &e), 0);
    struct model m2;
    char want[512];
    put_vocab_txt(dir, TV + 2);
    ck_assert_int_eq(model_load_dir(&m2, dir, TC, 1, &f.acct, &e), ERR_CONFIG);
    snprintf(want, sizeof want,
             "%s/vocab.txt: a vocabulary of 42 token ids (0..41), more than the vocab_size 40 of "
             "%s/config.json: ids 40..41 would index past the word embedding table",
             dir, dir);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in: %s", want, e.msg);
    ck_assert_int_eq(model_check_vocab(&f.m.cfg, dir, &e), ERR_CONFIG);
    for (int n = TV; n >= TV - 10; n -= 10) { /* exactly vocab_size, and fewer */
        put_vocab_txt(dir, n);
        ck_assert_msg(model_load_dir(&m2, dir, TC, 1, &f.acct, &e) == 0, "%d: %s", n, e.msg);
        model_destroy(&m2);
    }
    /* byte-level BPE: ids come from vocab.json (the largest + 1, whatever the count) */
    char p[256];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    unlink(p);
    put_file(dir, "merges.txt", "#version: 0.2\n");
    put_file(dir, "vocab.json", "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, "
                                "\"a\": 40}");
    ck_assert_int_eq(model_load_dir(&m2, dir, TC, 1, &f.acct, &e), ERR_CONFIG);
    snprintf(want, sizeof want,
             "%s/vocab.json: a vocabulary of 41 token ids (0..40), more than the vocab_size 40 of "
             "%s/config.json",
             dir, dir);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in: %s", want, e.msg);
    rm_dir(dir);
    fixture_free(&f);
}
END_TEST

/* A FIFO as config.json, or as the vocabulary copied into a saved model: an error at once
 * naming it (each used to block in open() until some writer came). */
START_TEST(hf_dir_fifo_refused)
{
    struct fixture f;
    fixture_init(&f, "bert", TC);
    char *dir = tmpdir();
    struct err e;
    char p[256], want[300];
    snprintf(p, sizeof p, "%s/config.json", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    struct model m2;
    alarm(10); /* a regression hangs: fail instead */
    ck_assert_int_eq(model_load_dir(&m2, dir, TC, 1, &f.acct, &e), ERR_IO);
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", p);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in: %s", want, e.msg);
    unlink(p);
    snprintf(p, sizeof p, "%s/pipe", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_int_eq(model_save_dir(&f.m, dir, true, p, &e), ERR_IO);
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", p);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' not in: %s", want, e.msg);
    alarm(0);
    rm_dir(dir);
    fixture_free(&f);
}
END_TEST

Suite *encoder_suite(void)
{
    Suite *s = suite_create("encoder");
    TCase *g = tcase_create("gradients");
    tcase_set_timeout(g, 600);
    tcase_add_test(g, grad_whole_encoder_all_sites);
    tcase_add_test(g, grad_roberta_regression);
    suite_add_tcase(s, g);
    TCase *fr = tcase_create("frozen");
    tcase_set_timeout(fr, 120);
    tcase_add_test(fr, frozen_backbone_has_no_grad_memory);
    tcase_add_test(fr, dx_identical_with_and_without_weight_grads);
    tcase_add_test(fr, adamw_leaves_frozen_bit_identical);
    tcase_add_test(fr, backward_stops_below_lowest_trainable);
    tcase_add_test(fr, hook_sites_called_once_per_layer);
    tcase_add_test(fr, second_single_slot_hook_rejected);
    tcase_add_test(fr, frozen_forward_keeps_no_layer_activations);
    tcase_add_test(fr, backward_holds_one_layer_of_temporaries);
    tcase_add_test(fr, frozen_weights_keep_no_weight_grad_inputs);
    suite_add_tcase(s, fr);
    TCase *d = tcase_create("determinism");
    tcase_set_timeout(d, 120);
    tcase_add_test(d, same_seed_bit_identical);
    tcase_add_test(d, padding_does_not_change_outputs);
    tcase_add_test(d, eval_forward_is_deterministic_and_dropout_free);
    tcase_add_test(d, bad_batches_rejected);
    suite_add_tcase(s, d);
    TCase *io = tcase_create("checkpoints");
    tcase_set_timeout(io, 120);
    tcase_add_loop_test(io, hf_dir_round_trip_bit_identical, 0, 2);
    tcase_add_test(io, hf_dir_prefixes_and_legacy_names);
    tcase_add_test(io, hf_dir_shape_mismatch_named);
    tcase_add_test(io, vocab_larger_than_vocab_size_refused);
    tcase_add_test(io, hf_dir_fifo_refused);
    suite_add_tcase(s, io);
    return s;
}
