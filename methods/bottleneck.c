/*
 * bottleneck: the adapter module (dense or PHM projections), its hooks, and the method
 * instance shared by the adapter methods.  Contract in bottleneck.h.
 */
#include "methods/bottleneck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PHM ops ----------------------------------------------------------------- */

/* Reference layout: W (IN, OUT) with W[p*I + a][q*O + b] = Σ_i A_i[p][q] B_i[a][b] (x @ W, the
 * Compacter code's [in, out] layout).  We store its transpose Wt (OUT, IN) so that the ordinary
 * op_linear_fwd (y = x Wt^T = x W) applies it. */
void phm_kron_fwd(float *Wt, const float *A, const float *B, int n, int IN, int OUT)
{
    const int I = IN / n, O = OUT / n;
    for (int q = 0; q < n; q++)
        for (int b = 0; b < O; b++) {
            float *row = Wt + (size_t)(q * O + b) * IN; /* (IN) */
            for (int p = 0; p < n; p++)
                for (int a = 0; a < I; a++) {
                    float acc = 0.0f;
                    for (int i = 0; i < n; i++)
                        acc += A[((size_t)i * n + p) * n + q] * B[((size_t)i * I + a) * O + b];
                    row[p * I + a] = acc;
                }
        }
}

void phm_kron_bwd(float *dA, float *dB, const float *dWt, const float *A, const float *B, int n,
                  int IN, int OUT)
{
    const int I = IN / n, O = OUT / n;
    for (int q = 0; q < n; q++)
        for (int b = 0; b < O; b++) {
            const float *drow = dWt + (size_t)(q * O + b) * IN; /* (IN) */
            for (int p = 0; p < n; p++)
                for (int a = 0; a < I; a++) {
                    const float d = drow[p * I + a];
                    for (int i = 0; i < n; i++) {
                        const size_t ia = ((size_t)i * n + p) * n + q;
                        const size_t ib = ((size_t)i * I + a) * O + b;
                        if (dA)
                            dA[ia] += d * B[ib];
                        if (dB)
                            dB[ib] += d * A[ia];
                    }
                }
        }
}

void phm_factor_fwd(float *B, const float *s, const float *t, int n, int I, int O, int r)
{
    for (int i = 0; i < n; i++)
        for (int a = 0; a < I; a++)
            for (int b = 0; b < O; b++) {
                float acc = 0.0f;
                for (int k = 0; k < r; k++)
                    acc += s[((size_t)i * I + a) * r + k] * t[((size_t)i * r + k) * O + b];
                B[((size_t)i * I + a) * O + b] = acc;
            }
}

void phm_factor_bwd(float *ds, float *dt, const float *dB, const float *s, const float *t, int n,
                    int I, int O, int r)
{
    for (int i = 0; i < n; i++)
        for (int a = 0; a < I; a++)
            for (int b = 0; b < O; b++) {
                const float d = dB[((size_t)i * I + a) * O + b];
                for (int k = 0; k < r; k++) {
                    const size_t is = ((size_t)i * I + a) * r + k;
                    const size_t it = ((size_t)i * r + k) * O + b;
                    if (ds)
                        ds[is] += d * t[it];
                    if (dt)
                        dt[it] += d * s[is];
                }
            }
}

/* ---- one projection ------------------------------------------------------------ */

static int nomem(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "out of memory for adapter activations");
}

static const float *data_or_null(const struct param *p)
{
    return p ? p->data : NULL;
}

static float *grad_or_null(const struct param *p)
{
    return p ? p->grad : NULL;
}

/* This step's (OUT, IN) weight: the dense tensor, or W^T = (Σ A_i ⊗ B_i)^T materialised. */
static int proj_weight(struct bn_proj *p, struct arena *arena, struct err *e)
{
    if (p->w) {
        p->Wt = p->w->data;
        return ERR_OK;
    }
    const int I = p->IN / p->n, O = p->OUT / p->n;
    const float *B = data_or_null(p->bw);
    if (!p->bw) {
        if (!(p->Bm = arena_floats(arena, (size_t)p->n * I * O)))
            return nomem(e);
        phm_factor_fwd(p->Bm, p->s->data, p->t->data, p->n, I, O, p->r);
        B = p->Bm;
    }
    if (!(p->Wt = arena_floats(arena, (size_t)p->OUT * p->IN)))
        return nomem(e);
    phm_kron_fwd(p->Wt, p->rule->data, B, p->n, p->IN, p->OUT);
    return ERR_OK;
}

/* Scratch for dW of a projection: the dense grad itself, a zeroed (OUT, IN) block for PHM,
 * or NULL when nothing trainable sits behind W. */
static int proj_dw(const struct bn_proj *p, struct arena *arena, float **dW, struct err *e)
{
    *dW = NULL;
    if (p->w) {
        *dW = p->w->grad;
        return ERR_OK;
    }
    if (!grad_or_null(p->rule) && !grad_or_null(p->s) && !grad_or_null(p->t) &&
        !grad_or_null(p->bw))
        return ERR_OK;
    if (!(*dW = arena_zeros(arena, (size_t)p->OUT * p->IN)))
        return nomem(e);
    return ERR_OK;
}

/* dW (OUT, IN) of a PHM projection -> grads of its rule and B (or B's factors). */
static int proj_phm_bwd(const struct bn_proj *p, const float *dW, struct arena *arena,
                        struct err *e)
{
    if (p->w || !dW)
        return ERR_OK;
    const int I = p->IN / p->n, O = p->OUT / p->n;
    if (p->bw) {
        phm_kron_bwd(grad_or_null(p->rule), p->bw->grad, dW, p->rule->data, p->bw->data, p->n,
                     p->IN, p->OUT);
        return ERR_OK;
    }
    float *dB = arena_zeros(arena, (size_t)p->n * I * O); /* (n, I, O) */
    if (!dB)
        return nomem(e);
    phm_kron_bwd(grad_or_null(p->rule), dB, dW, p->rule->data, p->Bm, p->n, p->IN, p->OUT);
    phm_factor_bwd(p->s->grad, p->t->grad, dB, p->s->data, p->t->data, p->n, I, O, p->r);
    return ERR_OK;
}

/* ---- the module ------------------------------------------------------------------ */

int bn_forward(struct bottleneck *bn, float *y, const float *z, int N, struct arena *arena,
               struct err *e)
{
    const int D = bn->D, M = bn->M;
    if (proj_weight(&bn->down, arena, e) || proj_weight(&bn->up, arena, e))
        return e->code;
    bn->N = N;
    bn->u = arena_floats(arena, (size_t)N * M);
    bn->g = arena_floats(arena, (size_t)N * M);
    if (!bn->u || !bn->g)
        return nomem(e);
    op_linear_fwd(bn->u, z, bn->down.Wt, data_or_null(bn->down.b), N, D, M);
    op_act_fwd(bn->act, bn->g, bn->u, (size_t)N * M);
    op_linear_fwd(y, bn->g, bn->up.Wt, data_or_null(bn->up.b), N, M, D);
    return ERR_OK;
}

int bn_backward(struct bottleneck *bn, float *dz, const float *dy, const float *z, int N,
                struct arena *arena, struct err *e)
{
    const int D = bn->D, M = bn->M;
    if (N != bn->N || !bn->u)
        return ERR_SET(e, ERR_STATE, "adapter backward without a matching forward");
    float *dWu, *dWd;
    float *dg = arena_floats(arena, (size_t)N * M); /* (N, M) grad of g, then of u */
    if (!dg)
        return nomem(e);
    if (proj_dw(&bn->up, arena, &dWu, e))
        return e->code;
    op_linear_bwd(dg, dWu, grad_or_null(bn->up.b), dy, bn->g, bn->up.Wt, N, M, D, false);
    if (proj_phm_bwd(&bn->up, dWu, arena, e))
        return e->code;
    op_act_bwd(bn->act, dg, dg, bn->u, (size_t)N * M);
    if (proj_dw(&bn->down, arena, &dWd, e))
        return e->code;
    op_linear_bwd(dz, dWd, grad_or_null(bn->down.b), dg, z, bn->down.Wt, N, D, M, true);
    return proj_phm_bwd(&bn->down, dWd, arena, e);
}

/* ---- hooks --------------------------------------------------------------------- */

/* BN_SEQ / BN_PARALLEL: zsum += s A(h or res).  BN_POST_LN: r = s A(n). */
static int bn_hook_fwd(const struct hook *hk, const struct hook_ctx *c, struct site_io *io,
                       struct err *e)
{
    struct bottleneck *bn = hk->user;
    const size_t ND = (size_t)io->N * bn->D;
    if (bn->placement == BN_POST_LN) {
        if (bn_forward(bn, io->r, io->n, io->N, c->arena, e))
            return e->code;
        for (size_t i = 0; i < ND; i++)
            io->r[i] *= bn->scale;
        return ERR_OK;
    }
    float *y = arena_floats(c->arena, ND); /* (N, D) A(z) */
    if (!y)
        return nomem(e);
    if (bn_forward(bn, y, bn->placement == BN_SEQ ? io->h : io->res, io->N, c->arena, e))
        return e->code;
    op_axpy(io->zsum, bn->scale, y, ND);
    return ERR_OK;
}

/* dA gets s * (dzsum or dr); the input grad goes to dh (seq), dres (parallel; NULL when the
 * encoder needs no grad below) or dn (post-LN). */
static int bn_hook_bwd(const struct hook *hk, const struct hook_ctx *c, struct site_io *io,
                       struct err *e)
{
    struct bottleneck *bn = hk->user;
    const size_t ND = (size_t)io->N * bn->D;
    const float *dout = io->dzsum, *z = io->h;
    float *dz = io->dh;
    if (bn->placement == BN_PARALLEL) {
        z = io->res;
        dz = io->dres;
    } else if (bn->placement == BN_POST_LN) {
        dout = io->dr;
        z = io->n;
        dz = io->dn;
    }
    float *dy = arena_floats(c->arena, ND); /* (N, D) grad of A(z) */
    if (!dy)
        return nomem(e);
    for (size_t i = 0; i < ND; i++)
        dy[i] = bn->scale * dout[i];
    return bn_backward(bn, dz, dy, z, io->N, c->arena, e);
}

/* ---- the method instance ------------------------------------------------------- */

static struct param *reg(struct param_store *ps, const char *name, int ndim, const int *shape,
                         enum param_kind kind, struct err *e)
{
    struct param *p = param_add(ps, name, ndim, shape, kind, PGROUP_METHOD, e);
    if (p && param_set_trainable(ps, p, true, e))
        return NULL;
    return p;
}

/* Registers "<prefix>.<leaf>"; NULL (e filled) on error. */
static struct param *reg_leaf(struct param_store *ps, const char *prefix, const char *leaf,
                              int ndim, const int *shape, enum param_kind kind, struct err *e)
{
    char name[PARAM_NAME_MAX];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", prefix, leaf) >= sizeof name) {
        ERR_SET(e, ERR_LIMIT, "tensor name '%s.%s' is too long", prefix, leaf);
        return NULL;
    }
    return reg(ps, name, ndim, shape, kind, e);
}

/* Tensors of one projection under "<prefix>.down" / "<prefix>.up". */
static int proj_register(struct bn_proj *p, struct param_store *ps, const char *prefix,
                         const struct bn_spec *sp, struct param *shared_rule, struct err *e)
{
    const int OUT = p->OUT, IN = p->IN;
    if (!sp->phm) {
        const int ws[2] = {OUT, IN}, bs[1] = {OUT};
        if (!(p->w = reg_leaf(ps, prefix, "weight", 2, ws, PARAM_WEIGHT, e)) ||
            !(p->b = reg_leaf(ps, prefix, "bias", 1, bs, PARAM_BIAS, e)))
            return e->code;
        return ERR_OK;
    }
    const int n = sp->phm_dim, I = IN / n, O = OUT / n, r = sp->phm_rank;
    p->n = n;
    p->r = sp->factorized ? r : 0;
    p->rule = shared_rule;
    if (!shared_rule) {
        const int rs[3] = {n, n, n};
        if (!(p->rule = reg_leaf(ps, prefix, "phm_rule", 3, rs, PARAM_WEIGHT, e)))
            return e->code;
    }
    if (sp->factorized) {
        const int ss[3] = {n, I, r}, ts[3] = {n, r, O};
        if (!(p->s = reg_leaf(ps, prefix, "phm_s", 3, ss, PARAM_WEIGHT, e)) ||
            !(p->t = reg_leaf(ps, prefix, "phm_t", 3, ts, PARAM_WEIGHT, e)))
            return e->code;
    } else {
        const int bs[3] = {n, I, O};
        if (!(p->bw = reg_leaf(ps, prefix, "phm_w", 3, bs, PARAM_WEIGHT, e)))
            return e->code;
    }
    if (sp->phm_bias) {
        const int bs[1] = {OUT};
        if (!(p->b = reg_leaf(ps, prefix, "bias", 1, bs, PARAM_BIAS, e)))
            return e->code;
    }
    return ERR_OK;
}

static void fill_normal(struct param *p, struct rng *r, float std)
{
    for (size_t i = 0; i < p->numel; i++)
        p->data[i] = std * rng_normal(r);
}

static void fill_uniform(float *x, size_t n, struct rng *r, float bound)
{
    for (size_t i = 0; i < n; i++)
        x[i] = bound * (2.0f * rng_uniform(r) - 1.0f);
}

/* Xavier-uniform on each (rows, cols) slice of an (n, rows, cols) tensor:
 * U(-g sqrt(6 / (rows + cols)), +...), the same bound for every slice. */
static void xavier_slices(struct param *p, struct rng *r, float gain)
{
    const int rows = p->shape[1], cols = p->shape[2];
    const float bound = gain * sqrtf(6.0f / (float)(rows + cols));
    fill_uniform(p->data, p->numel, r, bound);
}

/* Biases stay zero (param_add zeroes). */
static void proj_init(struct bn_proj *p, const struct bn_spec *sp, bool up, struct rng *r)
{
    if (!sp->phm) {
        switch (sp->init) {
        case BN_INIT_BERT:
            fill_normal(p->w, r, 0.02f);
            break;
        case BN_INIT_HOULSBY:
            for (size_t i = 0; i < p->w->numel; i++)
                p->w->data[i] = rng_trunc_normal(r, 1e-2f);
            break;
        case BN_INIT_MAM:
            /* kaiming_uniform(a = sqrt 5): bound = sqrt(6 / ((1 + a^2) fan_in)) = 1/sqrt(IN);
             * the up projection is zero so the adapter starts as exactly 0. */
            if (up)
                memset(p->w->data, 0, p->w->numel * sizeof(float));
            else
                fill_uniform(p->w->data, p->w->numel, r, 1.0f / sqrtf((float)p->IN));
            break;
        }
        return;
    }
    if (!sp->shared_rule)
        fill_normal(p->rule, r, 0.01f); /* both code bases hard-code N(0, 0.01) */
    if (p->s) {
        xavier_slices(p->s, r, sp->b_init_gain);
        xavier_slices(p->t, r, sp->b_init_gain);
    } else {
        xavier_slices(p->bw, r, sp->b_init_gain);
    }
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const char *site_module(enum hook_site s)
{
    return s == SITE_ATTN_BLOCK ? "attention.output" : "output";
}

static int set_layernorms_trainable(struct model *m, struct err *e)
{
    for (size_t i = 0; i < m->ps.n; i++) {
        struct param *p = m->ps.items[i];
        if (p->group == PGROUP_BACKBONE &&
            (p->kind == PARAM_LN_GAMMA || p->kind == PARAM_LN_BETA) &&
            param_set_trainable(&m->ps, p, true, e))
            return e->code;
    }
    return ERR_OK;
}

/* Refuse before touching the model: one Pfeiffer-form adapter per block (METHODS.md §11). */
static int check_post_ln_free(const struct bn_spec *sp, const struct model *m, struct err *e)
{
    if (sp->placement != BN_POST_LN)
        return ERR_OK;
    for (int l = 0; l < m->enc.L; l++)
        for (int k = 0; k < 2; k++) {
            const enum hook_site s = k == 0 ? SITE_ATTN_BLOCK : SITE_FFN_BLOCK;
            const struct hook *other = NULL;
            if ((k == 0 ? !sp->attn : !sp->ffn) ||
                hook_find(&m->enc.hooks, l, s, HOOK_POST_LN, &other, 1) == 0)
                continue;
            return ERR_SET(e, ERR_CONFIG,
                           "%s and %s both need the single post-LayerNorm slot of site '%s' in "
                           "layer %d: two Pfeiffer-form adapters (pfeiffer, compacter++) cannot "
                           "sit on one block",
                           other->owner ? other->owner : "?", sp->name, hook_site_name(s), l);
        }
    return ERR_OK;
}

int bn_method_create(struct bn_method **out, const struct bn_spec *sp, struct model *m,
                     uint64_t seed, struct err *e)
{
    *out = NULL;
    const int D = m->enc.D, L = m->enc.L, nsite = (int)sp->attn + (int)sp->ffn;
    if (sp->M < 1 || nsite == 0)
        return ERR_SET(e, ERR_STATE, "%s: empty adapter specification", sp->name);
    if (sp->phm && (sp->phm_dim < 1 || D % sp->phm_dim || sp->M % sp->phm_dim))
        return ERR_SET(e, ERR_CONFIG, "%s.phm_dim = %d must divide D = %d and the bottleneck %d",
                       sp->name, sp->phm_dim, D, sp->M);
    if (check_post_ln_free(sp, m, e))
        return e->code;
    struct bn_method *bm = calloc(1, sizeof *bm);
    if (!bm || !(bm->mods = calloc((size_t)L * (size_t)nsite, sizeof *bm->mods))) {
        free(bm);
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", sp->name);
    }
    bm->spec = *sp;
    bm->L = L;
    bm->nmod = L * nsite;
    struct param_store *ps = &m->ps;
    struct hook_set *hs = &m->enc.hooks;
    const int hooks0 = hs->n;
    struct rng r;
    rng_seed(&r, rng_hash(seed, name_hash(sp->name), 0xada9));

    if (sp->phm && sp->shared_rule) {
        const int n = sp->phm_dim, rs[3] = {n, n, n};
        if (!(bm->shared_rule = reg_leaf(ps, sp->name, "phm_rule", 3, rs, PARAM_WEIGHT, e)))
            goto fail;
        fill_normal(bm->shared_rule, &r, sp->phm_init_range);
    }
    for (int l = 0, k = 0; l < L; l++)
        for (int si = 0; si < 2; si++) {
            const enum hook_site site = si == 0 ? SITE_ATTN_BLOCK : SITE_FFN_BLOCK;
            if (si == 0 ? !sp->attn : !sp->ffn)
                continue;
            struct bottleneck *bn = &bm->mods[k++];
            bn->D = D;
            bn->M = sp->M;
            bn->act = sp->act;
            bn->scale = sp->scale;
            bn->placement = sp->placement;
            bn->down.IN = bn->up.OUT = D;
            bn->down.OUT = bn->up.IN = sp->M;
            char pre[PARAM_NAME_MAX], pd[PARAM_NAME_MAX], pu[PARAM_NAME_MAX];
            snprintf(pre, sizeof pre, "%s.encoder.layer.%d.%s.adapter", sp->name, l,
                     site_module(site));
            snprintf(pd, sizeof pd, "%.150s.down", pre);
            snprintf(pu, sizeof pu, "%.150s.up", pre);
            if (proj_register(&bn->down, ps, pd, sp, bm->shared_rule, e) ||
                proj_register(&bn->up, ps, pu, sp, bm->shared_rule, e))
                goto fail;
            proj_init(&bn->down, sp, false, &r);
            proj_init(&bn->up, sp, true, &r);
            const struct hook h = {.site = site,
                                   .phase = sp->placement == BN_POST_LN ? HOOK_POST_LN : HOOK_ADD,
                                   .layer = l,
                                   .trainable = true,
                                   .owner = sp->name,
                                   .user = bn,
                                   .fwd = bn_hook_fwd,
                                   .bwd = bn_hook_bwd};
            if (hook_add(hs, &h, e))
                goto fail;
        }
    if (sp->train_layernorm && set_layernorms_trainable(m, e))
        goto fail;
    *out = bm;
    return ERR_OK;
fail:
    hs->n = hooks0; /* hooks are appended: drop ours so none points into freed memory */
    bn_method_destroy(bm);
    return e->code;
}

void bn_method_destroy(struct bn_method *bm)
{
    if (!bm)
        return;
    free(bm->mods);
    free(bm);
}

static size_t phm_proj_count(const struct bn_spec *sp, size_t IN, size_t OUT)
{
    const size_t n = (size_t)sp->phm_dim;
    size_t c = sp->factorized ? (size_t)sp->phm_rank * (IN + OUT) : IN * OUT / n;
    if (sp->phm_bias)
        c += OUT;
    if (!sp->shared_rule)
        c += n * n * n;
    return c;
}

size_t bn_method_count(const struct bn_spec *sp, const struct bert_config *c)
{
    const size_t D = (size_t)c->hidden_size, L = (size_t)c->num_hidden_layers;
    const size_t M = (size_t)sp->M, nsite = (size_t)sp->attn + (size_t)sp->ffn;
    size_t per = sp->phm ? phm_proj_count(sp, D, M) + phm_proj_count(sp, M, D) : 2 * D * M + M + D;
    size_t total = L * nsite * per;
    if (sp->phm && sp->shared_rule)
        total += (size_t)sp->phm_dim * (size_t)sp->phm_dim * (size_t)sp->phm_dim;
    if (sp->train_layernorm)
        total += 4 * D * L + 2 * D;
    return total;
}

/* ---- hyperparameter helpers ----------------------------------------------------- */

int bn_hp_width(const struct hp_values *hp, int D, int def_rf)
{
    if (hp_is_set(hp, "bottleneck"))
        return (int)hp_int(hp, "bottleneck");
    long rf = hp_is_set(hp, "reduction_factor") ? hp_int(hp, "reduction_factor") : def_rf;
    long m = rf > 0 ? D / rf : D;
    return m < 1 ? 1 : (int)m;
}

int bn_hp_check_width(const struct hp_values *hp, const char *method, struct err *e)
{
    if (hp_is_set(hp, "bottleneck") && hp_is_set(hp, "reduction_factor"))
        return ERR_SET(e, ERR_CONFIG,
                       "%s.bottleneck (= %ld) and %s.reduction_factor (= %ld) are both given; "
                       "give one: bottleneck sets the width, reduction_factor sets it to "
                       "max(1, D / reduction_factor)",
                       method, hp_int(hp, "bottleneck"), method, hp_int(hp, "reduction_factor"));
    return ERR_OK;
}

enum act_kind bn_hp_act(const struct hp_values *hp)
{
    static const enum act_kind map[] = {ACT_RELU, ACT_GELU, ACT_SWISH, ACT_TANH};
    int k = hp_enum(hp, "non_linearity");
    return k >= 0 && k < 4 ? map[k] : ACT_RELU;
}
