/*
 * Bottleneck adapters and Compacter (methods/bottleneck.c, adapters.c, compacter.c): PHM
 * materialisation against a naive Kronecker sum, finite-difference gradients of the PHM ops, of
 * each module through its hook and of every trainable tensor through the whole model, and a
 * frozen backbone left bit-identical by an optimizer step.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/bottleneck.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "tests/gradcheck.h"
#include "tests/methods/adapter_fixture.h"
#include "tests/methods/adapter_ref.h"
#include "tests/suites.h"

/* ---- PHM ops ---------------------------------------------------------------------- */

START_TEST(phm_materialised_equals_naive_kron)
{
    const int n = 2, IN = 6, OUT = 4, I = 3, O = 2, r = 2;
    float A[8], s[12], t[8], B[12], Wt[24];
    struct rng g;
    rng_seed(&g, 21);
    for (int i = 0; i < 8; i++)
        A[i] = rng_normal(&g), t[i] = rng_normal(&g);
    for (int i = 0; i < 12; i++)
        s[i] = rng_normal(&g);
    phm_factor_fwd(B, s, t, n, I, O, r);
    phm_kron_fwd(Wt, A, B, n, IN, OUT);
    double K[24] = {0}; /* (IN, OUT) */
    for (int i = 0; i < n; i++) {
        double Ai[4], Bi[6] = {0};
        for (int k = 0; k < 4; k++)
            Ai[k] = A[i * 4 + k];
        for (int a = 0; a < I; a++)
            for (int b = 0; b < O; b++)
                for (int k = 0; k < r; k++)
                    Bi[a * O + b] +=
                        (double)s[(i * I + a) * r + k] * (double)t[(i * r + k) * O + b];
        kron_acc(K, Ai, n, n, Bi, I, O);
    }
    for (int i = 0; i < IN; i++)
        for (int o = 0; o < OUT; o++)
            ck_assert_double_eq_tol(Wt[o * IN + i], K[i * OUT + o], 1e-5);

    /* and in a live module: this step's W of every projection */
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "compacter", "reduction_factor=4;phm_rank=2");
    randomize(&f, 12);
    forward(&f, false);
    const struct bn_method *bm = f.mi[0].state;
    ck_assert_int_eq(bm->nmod, 4);
    for (int k = 0; k < bm->nmod; k++) {
        const struct bottleneck *bn = &bm->mods[k];
        const int l = k / 2, blk = k % 2;
        char pre[PARAM_NAME_MAX];
        snprintf(pre, sizeof pre, "compacter.encoder.layer.%d.%s.adapter", l,
                 blk ? "output" : "attention.output");
        for (int pj = 0; pj < 2; pj++) {
            const struct bn_proj *p = pj ? &bn->up : &bn->down;
            double *W, *b;
            int out = ref_proj(&f.m, "compacter", pre, pj ? "up" : "down", p->IN, &W, &b);
            ck_assert_int_eq(out, p->OUT);
            ck_assert_ptr_eq(p->rule, bm->shared_rule);
            for (int i = 0; i < p->IN; i++)
                for (int o = 0; o < p->OUT; o++)
                    ck_assert_double_eq_tol(p->Wt[o * p->IN + i], W[i * p->OUT + o], 1e-5);
            free(W);
            free(b);
        }
    }
    fx_free(&f);
}
END_TEST

struct phm_ctx {
    float A[8], s[12], t[8], R[24];
};

static double phm_loss(void *ctx)
{
    struct phm_ctx *c = ctx;
    float B[12], Wt[24];
    phm_factor_fwd(B, c->s, c->t, 2, 3, 2, 2);
    phm_kron_fwd(Wt, c->A, B, 2, 6, 4);
    double l = 0;
    for (int i = 0; i < 24; i++)
        l += (double)Wt[i] * (double)c->R[i];
    return l;
}

START_TEST(phm_ops_gradcheck)
{
    struct phm_ctx c;
    struct rng g;
    rng_seed(&g, 22);
    for (int i = 0; i < 8; i++)
        c.A[i] = rng_normal(&g), c.t[i] = rng_normal(&g);
    for (int i = 0; i < 12; i++)
        c.s[i] = rng_normal(&g);
    for (int i = 0; i < 24; i++)
        c.R[i] = rng_normal(&g);
    float B[12], dA[8] = {0}, dB[12] = {0}, ds[12] = {0}, dt[8] = {0};
    phm_factor_fwd(B, c.s, c.t, 2, 3, 2, 2);
    phm_kron_bwd(dA, dB, c.R, c.A, B, 2, 6, 4); /* dWt = R */
    phm_factor_bwd(ds, dt, dB, c.s, c.t, 2, 3, 2, 2);
    char rep[256];
    ck_assert_msg(
        gradcheck_tensor("phm dA", phm_loss, &c, c.A, dA, 8, 0, 1, 1e-3, rep, sizeof rep) == 0,
        "%s", rep);
    ck_assert_msg(
        gradcheck_tensor("phm ds", phm_loss, &c, c.s, ds, 12, 0, 1, 1e-3, rep, sizeof rep) == 0,
        "%s", rep);
    ck_assert_msg(
        gradcheck_tensor("phm dt", phm_loss, &c, c.t, dt, 8, 0, 1, 1e-3, rep, sizeof rep) == 0,
        "%s", rep);
}
END_TEST

/* ---- gradients through the whole model --------------------------------------------- */

/* sum(hidden * rh) over every token of the final hidden states: every row's adapter outputs
 * matter (a loss on the logits would see only the first token of the last layer, leaving the
 * adapter gradients small next to float32 noise of the loss).  So the last layer runs for
 * every token (all_rows). */
static double model_loss(void *ctx)
{
    struct fx *f = ctx;
    f->m.all_rows = true;
    forward(f, true);
    ck_assert_int_eq(f->m.enc.hidden_rows, TB * TT);
    const float *hid = f->m.enc.hidden;
    double s = 0;
    for (int i = 0; i < TB * TT * f->m.enc.D; i++)
        s += (double)hid[i] * (double)f->rh[i];
    return s;
}

/* Fresh gradients of model_loss for every trainable tensor. */
static void model_grads(struct fx *f)
{
    param_store_zero_grads(&f->m.ps);
    model_loss(f);
    const size_t ND = (size_t)TB * TT * f->m.enc.D;
    float *dh = malloc(ND * sizeof(float));
    memcpy(dh, f->rh, ND * sizeof(float)); /* encoder_backward may modify it */
    struct err e;
    ck_assert_msg(encoder_backward(&f->m.enc, dh, &e) == 0, "%s", e.msg);
    free(dh);
}

/*
 * Finite-difference check of tensor p's gradient g through the whole model, along a random
 * direction v: (L(x + h v) - L(x - h v)) / 2h against g.v.  A single coordinate of an adapter
 * tensor moves this loss too little to stand out of its float32 noise (about 1e-6), so
 * coordinate probes (gradcheck_tensor) are used on the module alone (module_gradcheck) and the
 * whole-model check perturbs every coordinate of the tensor at once.  The best of two step
 * sizes is kept (noise falls with h, truncation error grows with it).  The 3% tolerance makes
 * this an integration check (a wrong placement, scale or missing input gradient is off by far
 * more); exactness is module_gradcheck's job.
 */
static void dir_check(struct fx *f, struct param *p, const char *what, uint64_t seed)
{
    const size_t n = p->numel;
    float *x0 = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    memcpy(x0, p->data, n * sizeof(float));
    struct rng r;
    rng_seed(&r, seed);
    double gv = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = rng_normal(&r);
        gv += (double)p->grad[i] * (double)v[i];
    }
    double best = HUGE_VAL, best_num = 0;
    const double hs[2] = {1e-3, 4e-3};
    for (int k = 0; k < 2; k++) {
        const float h = (float)hs[k];
        for (size_t i = 0; i < n; i++)
            p->data[i] = x0[i] + h * v[i];
        double lp = model_loss(f);
        for (size_t i = 0; i < n; i++)
            p->data[i] = x0[i] - h * v[i];
        double lm = model_loss(f);
        memcpy(p->data, x0, n * sizeof(float));
        double num = (lp - lm) / (2.0 * hs[k]);
        double err = fabs(num - gv) / fmax(1e-6, fabs(num) + fabs(gv));
        if (err < best)
            best = err, best_num = num;
    }
    ck_assert_msg(best < 3e-2, "%s: %s: directional derivative %.7g, numeric %.7g (rel %.3g)", what,
                  p->name, gv, best_num, best);
    free(x0);
    free(v);
}

static const struct {
    const char *method, *settings;
} grad_cases[] = {
    {"houlsby", "bottleneck=4;non_linearity=gelu"},
    {"houlsby", "reduction_factor=4;train_layernorm=true;non_linearity=tanh"},
    {"pfeiffer", "bottleneck=8;non_linearity=tanh;scaling=1.5"},
    {"pfeiffer", "bottleneck=3;non_linearity=swish;train_layernorm=true"},
    {"parallel", "placement=both;bottleneck=5;non_linearity=gelu"},   /* layer 0 attn: dres NULL */
    {"parallel", "placement=attn;bottleneck=3;train_layernorm=true"}, /* ... and non-NULL */
    {"compacter", "reduction_factor=4"},
    {"compacter", "reduction_factor=4;phm_dim=2;factorized_phm=false;shared_phm_rule=false"},
    {"compacter", "bottleneck=8;phm_rank=2;phm_bias=false;non_linearity=tanh"},
    {"compacter++", "reduction_factor=4;non_linearity=tanh"},
    {"compacter++", "bottleneck=4;phm_dim=2;shared_phm_rule=false;train_layernorm=true"},
};

/* ---- one module through its hook, with coordinate probes ---------------------------- */

struct hk_ctx {
    const struct hook *hook;
    struct hook_ctx c;
    struct arena arena;
    int N, D;
    float *h, *res, *z0, *nin, *R; /* (N, D) inputs, the pre-hook zsum (0 in the loss: it would
                                      only add rounding noise), loss weights */
    float *out;                    /* (N, D) zsum after ADD, or r after POST_LN */
    /* the module, for the double-precision reference */
    const struct model *m;
    const char *method;
    int layer, blk;
    const struct bottleneck *bn;
};

/* The same loss from the double-precision reference: free of float32 rounding, so coordinate
 * probes of even tiny gradients are exact to the truncation error. */
static double hk_loss_ref(void *ctx)
{
    const struct hk_ctx *k = ctx;
    const size_t ND = (size_t)k->N * k->D;
    const float *x = k->bn->placement == BN_SEQ        ? k->h
                     : k->bn->placement == BN_PARALLEL ? k->res
                                                       : k->nin;
    double *xd = calloc(ND, sizeof(double)), *y = calloc(ND, sizeof(double));
    for (size_t i = 0; i < ND; i++)
        xd[i] = x[i];
    ref_adapter(k->m, k->method, k->layer, k->blk, k->bn->act, xd, y, k->N);
    double s = 0;
    for (size_t i = 0; i < ND; i++)
        s += (double)k->bn->scale * y[i] * (double)k->R[i];
    free(xd);
    free(y);
    return s;
}

/* loss = sum(out * R): out = zsum after an ADD hook, r after a POST_LN hook. */
static double hk_loss(void *ctx)
{
    struct hk_ctx *k = ctx;
    const size_t ND = (size_t)k->N * k->D;
    arena_reset(&k->arena);
    struct site_io io;
    memset(&io, 0, sizeof io);
    io.layer = k->hook->layer;
    io.site = k->hook->site;
    io.N = k->N;
    io.IN = io.OUT = k->D;
    io.h = k->h;
    io.res = k->res;
    if (k->hook->phase == HOOK_ADD) {
        memcpy(k->out, k->z0, ND * sizeof(float));
        io.zsum = k->out;
    } else {
        io.n = k->nin;
        io.r = k->out;
    }
    struct err e;
    ck_assert_msg(k->hook->fwd(k->hook, &k->c, &io, &e) == 0, "%s", e.msg);
    double s = 0;
    for (size_t i = 0; i < ND; i++)
        s += (double)k->out[i] * (double)k->R[i];
    return s;
}

static float *randn(size_t n, struct rng *r)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = rng_normal(r);
    return x;
}

/* Every trainable tensor of the first and last module of the method instance, and the input
 * the placement reads (h, res or n), by coordinate probes; the inputs it must not read get
 * exactly zero gradient. */
START_TEST(module_gradcheck)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, grad_cases[_i].method, grad_cases[_i].settings);
    randomize(&f, 50 + (uint64_t)_i);
    const struct bn_method *bm = f.mi[0].state;
    struct hk_ctx k;
    memset(&k, 0, sizeof k);
    k.N = TB * TT;
    k.D = f.m.enc.D;
    const size_t ND = (size_t)k.N * k.D;
    arena_init(&k.arena, &f.acct, MEM_ACTIVATIONS);
    k.c = (struct hook_ctx){TB, TT, k.N, f.mask, true, 1, 2, &k.arena};
    struct rng r;
    rng_seed(&r, 60 + (uint64_t)_i);
    k.h = randn(ND, &r), k.res = randn(ND, &r), k.z0 = calloc(ND, sizeof(float));
    k.nin = randn(ND, &r), k.R = randn(ND, &r);
    k.out = malloc(ND * sizeof(float));
    float *dh = calloc(ND, sizeof(float)), *dres = calloc(ND, sizeof(float));
    float *dn = calloc(ND, sizeof(float));
    const int nsite = (int)bm->spec.attn + (int)bm->spec.ffn;
    k.m = &f.m;
    k.method = bm->spec.name;
    for (int which = 0; which < 2; which++) {
        const int idx = which ? bm->nmod - 1 : 0;
        const struct bottleneck *bn = &bm->mods[idx];
        k.bn = bn;
        k.layer = idx / nsite;
        k.blk = nsite == 2 ? idx % 2 : (bm->spec.ffn ? 1 : 0);
        k.hook = NULL;
        for (int i = 0; i < f.m.enc.hooks.n; i++)
            if (f.m.enc.hooks.items[i].user == bn)
                k.hook = &f.m.enc.hooks.items[i];
        ck_assert_ptr_nonnull(k.hook);
        param_store_zero_grads(&f.m.ps);
        memset(dh, 0, ND * sizeof(float));
        memset(dres, 0, ND * sizeof(float));
        memset(dn, 0, ND * sizeof(float));
        hk_loss(&k);
        struct site_io io;
        memset(&io, 0, sizeof io);
        io.N = k.N;
        io.IN = io.OUT = k.D;
        io.h = k.h, io.res = k.res, io.n = k.nin;
        io.dzsum = k.R, io.dr = k.R; /* d loss / d out */
        io.dh = dh, io.dres = dres, io.dn = dn;
        struct err e;
        ck_assert_msg(k.hook->bwd(k.hook, &k.c, &io, &e) == 0, "%s", e.msg);
        char rep[256];
        const double lf = hk_loss(&k), lr = hk_loss_ref(&k); /* float hook == reference */
        ck_assert_msg(fabs(lf - lr) <= 1e-5 * (1 + fabs(lr)), "loss %.9g vs reference %.9g", lf,
                      lr);
        const struct bn_proj *pj[2] = {&bn->down, &bn->up};
        for (int q = 0; q < 2; q++) {
            struct param *ps[6] = {pj[q]->w, pj[q]->b, pj[q]->s, pj[q]->t, pj[q]->bw, pj[q]->rule};
            for (int t = 0; t < 6; t++) {
                if (!ps[t])
                    continue;
                ck_assert_ptr_nonnull(ps[t]->grad);
                ck_assert_msg(gradcheck_tensor(ps[t]->name, hk_loss_ref, &k, ps[t]->data,
                                               ps[t]->grad, ps[t]->numel, 0, 7, 2e-3, rep,
                                               sizeof rep) == 0,
                              "%s: %s", grad_cases[_i].settings, rep);
            }
        }
        /* the input grad goes exactly where the placement reads */
        float *x = bn->placement == BN_SEQ ? k.h : bn->placement == BN_PARALLEL ? k.res : k.nin;
        float *dx = bn->placement == BN_SEQ ? dh : bn->placement == BN_PARALLEL ? dres : dn;
        ck_assert_msg(gradcheck_tensor("adapter input", hk_loss_ref, &k, x, dx, ND, 0, 8,
                                       GRADCHECK_TOL, rep, sizeof rep) == 0,
                      "%s: %s", grad_cases[_i].settings, rep);
        if (k.hook->phase == HOOK_ADD) { /* ADD hooks add into zsum, never overwrite it */
            float *a = malloc(ND * sizeof(float));
            hk_loss(&k);
            memcpy(a, k.out, ND * sizeof(float));
            for (size_t i = 0; i < ND; i++)
                k.z0[i] = (float)i;
            hk_loss(&k);
            for (size_t i = 0; i < ND; i++) {
                ck_assert(fabsf(k.out[i] - (a[i] + (float)i)) < 1e-3f);
                k.z0[i] = 0.0f;
            }
            free(a);
        }
        float *others[3] = {dh, dres, dn};
        for (int o = 0; o < 3; o++)
            if (others[o] != dx)
                for (size_t i = 0; i < ND; i++)
                    ck_assert(others[o][i] == 0.0f);
    }
    /* a parallel adapter with no residual grad wanted (dres NULL) still fills its own grads */
    if (bm->spec.placement == BN_PARALLEL) {
        param_store_zero_grads(&f.m.ps);
        hk_loss(&k);
        struct site_io io;
        memset(&io, 0, sizeof io);
        io.N = k.N;
        io.IN = io.OUT = k.D;
        io.h = k.h, io.res = k.res, io.dzsum = k.R, io.dh = dh;
        struct err e;
        ck_assert_int_eq(k.hook->bwd(k.hook, &k.c, &io, &e), 0);
        ck_assert(bm->mods[bm->nmod - 1].up.b->grad[0] != 0.0f);
    }
    free(k.h), free(k.res), free(k.z0), free(k.nin), free(k.R), free(k.out);
    free(dh), free(dres), free(dn);
    arena_destroy(&k.arena);
    fx_free(&f);
}
END_TEST

START_TEST(grad_all_trainable)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, grad_cases[_i].method, grad_cases[_i].settings);
    randomize(&f, 30 + (uint64_t)_i);
    model_grads(&f);
    int checked = 0;
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_HEAD)
            continue;
        if (p->group == PGROUP_BACKBONE && p->kind != PARAM_LN_GAMMA && p->kind != PARAM_LN_BETA) {
            ck_assert_msg(!p->trainable && !p->grad, "%s should stay frozen", p->name);
            continue;
        }
        if (!p->trainable)
            continue;
        dir_check(&f, p, grad_cases[_i].settings, 17 + i);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
    fx_free(&f);
}
END_TEST

/* Houlsby + parallel + compacter++ on one block: gradients still match. */
START_TEST(grad_composition)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "houlsby", "bottleneck=3;non_linearity=tanh");
    attach_ok(&f, "parallel", "placement=both;bottleneck=4;scaling=2;non_linearity=gelu");
    attach_ok(&f, "compacter++", "reduction_factor=4");
    randomize(&f, 40);
    model_grads(&f);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        if (p->group != PGROUP_METHOD)
            continue;
        dir_check(&f, p, "composition", 18 + i);
    }
    fx_free(&f);
}
END_TEST

/* ---- frozen backbone --------------------------------------------------------------- */

START_TEST(frozen_backbone_untouched_by_step)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "houlsby", "bottleneck=4");
    attach_ok(&f, "compacter++", "reduction_factor=4");
    size_t nb = 0;
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (f.m.ps.items[i]->group == PGROUP_BACKBONE)
            nb += f.m.ps.items[i]->numel;
    float *copy = malloc(nb * sizeof(float)), *mcopy = malloc(4096 * sizeof(float));
    for (size_t i = 0, o = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_BACKBONE) {
            ck_assert(!p->trainable && !p->grad);
            memcpy(copy + o, p->data, p->numel * sizeof(float));
            o += p->numel;
        }
    }
    const struct param *w =
        param_find(&f.m.ps, "houlsby.encoder.layer.0.attention.output.adapter.down.weight");
    ck_assert_ptr_nonnull(w);
    memcpy(mcopy, w->data, w->numel * sizeof(float));
    model_grads(&f);
    struct adamw_cfg c;
    adamw_default(&c);
    c.lr = 1e-2f;
    adamw_step(&f.m.ps, &c, 1);
    for (size_t i = 0, o = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_BACKBONE) {
            ck_assert_int_eq(memcmp(copy + o, p->data, p->numel * sizeof(float)), 0);
            o += p->numel;
        }
    }
    ck_assert(memcmp(mcopy, w->data, w->numel * sizeof(float)) != 0); /* the adapter moved */
    free(copy);
    free(mcopy);
    fx_free(&f);
}
END_TEST

Suite *adapters_numerics_suite(void)
{
    Suite *s = suite_create("adapters_numerics");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, phm_materialised_equals_naive_kron);
    tcase_add_test(tc, phm_ops_gradcheck);
    tcase_add_loop_test(tc, module_gradcheck, 0, (int)(sizeof grad_cases / sizeof *grad_cases));
    tcase_add_loop_test(tc, grad_all_trainable, 0, (int)(sizeof grad_cases / sizeof *grad_cases));
    tcase_add_test(tc, grad_composition);
    tcase_add_test(tc, frozen_backbone_untouched_by_step);
    suite_add_tcase(s, tc);
    return s;
}
