/*
 * Bottleneck adapters and Compacter (methods/bottleneck.c, adapters.c, compacter.c):
 * block outputs against an explicit double-precision reference built from the saved block
 * tensors (Houlsby reads h, parallel reads the sublayer input, Pfeiffer reuses the block's
 * LayerNorm), PHM materialisation against a naive Kronecker sum, finite-difference gradients
 * of every trainable tensor, parameter counts (METHODS.md closed forms and registered tensors),
 * composition rules and hyperparameter errors.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/gradcheck.h"
#include "methods/bottleneck.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "tests/suites.h"

/* ---- fixture: a tiny model, a padded batch, attached methods ------------------- */

enum { TB = 3, TT = 6, TC = 3, MAX_MI = 4 };

struct fx {
    struct mem_acct acct;
    struct model m;
    int ids[TB * TT], mask[TB * TT], labels[TB];
    struct batch b;
    float rh[TB * TT * 64]; /* loss = sum(hidden * rh), D <= 64 */
    struct method_inst mi[MAX_MI];
    int nmi;
};

static void tiny_config(struct bert_config *c, int D, int L, int H, int F)
{
    hfconfig_default(c);
    c->vocab_size = 40;
    c->hidden_size = D;
    c->num_hidden_layers = L;
    c->num_attention_heads = H;
    c->intermediate_size = F;
    c->max_position_embeddings = 16;
    c->initializer_range = 0.3f;
}

static void fx_init_dims(struct fx *f, int D, int L, int H, int F)
{
    memset(f, 0, sizeof *f);
    mem_acct_init(&f->acct);
    struct bert_config cfg;
    tiny_config(&cfg, D, L, H, F);
    struct err e;
    ck_assert_msg(model_create(&f->m, &cfg, TC, &f->acct, &e) == 0, "%s", e.msg);
    model_init_weights(&f->m, 5);
    f->m.enc.keep_all = true; /* these tests read enc.save[] after evaluation forwards */
    struct rng r;
    rng_seed(&r, 11);
    const int len[TB] = {TT, 4, 2};
    for (int i = 0; i < TB; i++) {
        for (int j = 0; j < TT; j++) {
            f->mask[i * TT + j] = j < len[i];
            f->ids[i * TT + j] = j < len[i] ? 2 + (int)rng_below(&r, 38) : 0;
        }
        f->labels[i] = i % TC;
    }
    f->b = (struct batch){TB, TT, f->ids, NULL, f->mask, f->labels, NULL};
    for (int i = 0; i < TB * TT * D; i++)
        f->rh[i] = rng_normal(&r);
}

static void fx_init(struct fx *f)
{
    fx_init_dims(f, 16, 2, 2, 24);
}

static void fx_free(struct fx *f)
{
    model_destroy(&f->m); /* hooks go first: they point into the method states */
    for (int i = 0; i < f->nmi; i++)
        method_destroy(&f->mi[i]);
    ck_assert_uint_eq(f->acct.cur_total, 0); /* every test is a leak test */
}

/* "k=v;k=v" -> kv (views into buf). */
static int parse_kv(const char *s, char *buf, size_t bn, struct hp_kv *kv, int max)
{
    snprintf(buf, bn, "%s", s);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok && n < max;
         tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        kv[n++] = (struct hp_kv){tok, eq + 1, NULL};
    }
    return n;
}

static int parse_hp(const char *method, const char *settings, const struct model *m,
                    struct hp_values *hp, struct err *e)
{
    const struct method_ops *ops = method_find(method);
    ck_assert_msg(ops != NULL, "method %s not registered", method);
    char buf[512];
    struct hp_kv kv[HP_MAX];
    int n = parse_kv(settings, buf, sizeof buf, kv, HP_MAX);
    return method_parse(ops, hp, kv, n, m, e);
}

static int attach(struct fx *f, const char *method, const char *settings, struct err *e)
{
    struct hp_values hp;
    if (parse_hp(method, settings, &f->m, &hp, e))
        return e->code;
    ck_assert_int_lt(f->nmi, MAX_MI);
    if (method_create(&f->mi[f->nmi], method_find(method), &hp, &f->m, 77 + (uint64_t)f->nmi, e))
        return e->code;
    f->nmi++;
    return 0;
}

static void attach_ok(struct fx *f, const char *method, const char *settings)
{
    struct err e;
    ck_assert_msg(attach(f, method, settings, &e) == 0, "%s [%s]: %s", method, settings, e.msg);
}

/* Make the adapters' effect large and the LayerNorms non-trivial (gain 1, bias 0 would hide
 * which LayerNorm is applied). */
static void randomize(struct fx *f, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        for (size_t j = 0; j < p->numel; j++) {
            if (p->group == PGROUP_METHOD)
                p->data[j] = 0.4f * rng_normal(&r);
            else if (p->kind == PARAM_LN_GAMMA)
                p->data[j] = 1.0f + 0.3f * rng_normal(&r);
            else if (p->kind == PARAM_LN_BETA)
                p->data[j] = 0.3f * rng_normal(&r);
        }
    }
}

static float *forward(struct fx *f, bool train)
{
    struct err e;
    float *logits = NULL;
    ck_assert_msg(model_forward(&f->m, &f->b, train, 1234, 7, &logits, &e) == 0, "%s", e.msg);
    return logits;
}

/* ---- the double-precision reference --------------------------------------------- */

static double ref_act(enum act_kind a, double x)
{
    switch (a) {
    case ACT_RELU:
        return x > 0 ? x : 0;
    case ACT_GELU:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case ACT_SWISH:
        return x / (1.0 + exp(-x));
    case ACT_TANH:
        return tanh(x);
    default:
        ck_abort_msg("unexpected activation");
        return 0;
    }
}

/* K (ar*br, ac*bc) = A (ar, ac) ⊗ B (br, bc), accumulated. */
static void kron_acc(double *K, const double *A, int ar, int ac, const double *B, int br, int bc)
{
    for (int p = 0; p < ar; p++)
        for (int q = 0; q < ac; q++)
            for (int a = 0; a < br; a++)
                for (int b = 0; b < bc; b++)
                    K[(size_t)(p * br + a) * (size_t)(ac * bc) + (size_t)(q * bc + b)] +=
                        A[p * ac + q] * B[a * bc + b];
}

static const struct param *find(const struct model *m, const char *fmt, const char *a,
                                const char *b)
{
    char name[2 * PARAM_NAME_MAX + 8];
    snprintf(name, sizeof name, fmt, a, b);
    return param_find(&m->ps, name);
}

/* One projection of an adapter as the reference [IN, OUT] matrix (x @ W) and bias.
 * Returns OUT; *W (IN*OUT) and *bias (OUT) are malloc'd. */
static int ref_proj(const struct model *m, const char *method, const char *pre, const char *which,
                    int IN, double **W, double **bias)
{
    char p2[PARAM_NAME_MAX];
    snprintf(p2, sizeof p2, "%s.%s", pre, which);
    const struct param *w = find(m, "%s.%s", p2, "weight");
    int OUT;
    if (w) { /* dense (OUT, IN) */
        OUT = w->shape[0];
        ck_assert_int_eq(w->shape[1], IN);
        *W = calloc((size_t)IN * OUT, sizeof(double));
        for (int i = 0; i < IN; i++)
            for (int o = 0; o < OUT; o++)
                (*W)[i * OUT + o] = w->data[o * IN + i];
    } else { /* PHM: W = Σ_i A_i ⊗ B_i */
        const struct param *rule = find(m, "%s.%s", p2, "phm_rule");
        if (!rule)
            rule = find(m, "%s.%s", method, "phm_rule");
        ck_assert_ptr_nonnull(rule);
        const int n = rule->shape[0], I = IN / n;
        const struct param *bw = find(m, "%s.%s", p2, "phm_w");
        const struct param *s = find(m, "%s.%s", p2, "phm_s"), *t = find(m, "%s.%s", p2, "phm_t");
        ck_assert(bw || (s && t));
        const int O = bw ? bw->shape[2] : t->shape[2];
        OUT = n * O;
        *W = calloc((size_t)IN * OUT, sizeof(double));
        double *A = calloc((size_t)n * n, sizeof(double)),
               *B = calloc((size_t)I * O, sizeof(double));
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < n * n; k++)
                A[k] = rule->data[i * n * n + k];
            for (int a = 0; a < I; a++)
                for (int b = 0; b < O; b++) {
                    double acc = 0;
                    if (bw) {
                        acc = bw->data[(i * I + a) * O + b];
                    } else {
                        const int r = s->shape[2];
                        for (int k = 0; k < r; k++)
                            acc += (double)s->data[(i * I + a) * r + k] *
                                   (double)t->data[(i * r + k) * O + b];
                    }
                    B[a * O + b] = acc;
                }
            kron_acc(*W, A, n, n, B, I, O);
        }
        free(A);
        free(B);
    }
    *bias = calloc((size_t)OUT, sizeof(double));
    const struct param *pb = find(m, "%s.%s", p2, "bias");
    if (pb)
        for (int o = 0; o < OUT; o++)
            (*bias)[o] = pb->data[o];
    return OUT;
}

/* y (N, D) = A(z) of method's adapter at layer l, block k (0 attention, 1 FFN). */
static void ref_adapter(const struct model *m, const char *method, int l, int k, enum act_kind act,
                        const double *z, double *y, int N)
{
    const int D = m->enc.D;
    char pre[PARAM_NAME_MAX];
    snprintf(pre, sizeof pre, "%s.encoder.layer.%d.%s.adapter", method, l,
             k ? "output" : "attention.output");
    double *Wd, *bd, *Wu, *bu;
    const int M = ref_proj(m, method, pre, "down", D, &Wd, &bd);
    ck_assert_int_eq(ref_proj(m, method, pre, "up", M, &Wu, &bu), D);
    double *g = calloc((size_t)M, sizeof(double));
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < M; j++) {
            double u = bd[j];
            for (int i = 0; i < D; i++)
                u += z[n * D + i] * Wd[i * M + j];
            g[j] = ref_act(act, u);
        }
        for (int o = 0; o < D; o++) {
            double acc = bu[o];
            for (int j = 0; j < M; j++)
                acc += g[j] * Wu[j * D + o];
            y[n * D + o] = acc;
        }
    }
    free(g);
    free(Wd);
    free(bd);
    free(Wu);
    free(bu);
}

static void ref_ln(double *y, const double *x, const struct param *g, const struct param *b, int N,
                   int D, double eps)
{
    for (int n = 0; n < N; n++) {
        double mean = 0, var = 0;
        for (int i = 0; i < D; i++)
            mean += x[n * D + i];
        mean /= D;
        for (int i = 0; i < D; i++)
            var += (x[n * D + i] - mean) * (x[n * D + i] - mean);
        var /= D;
        const double rstd = 1.0 / sqrt(var + eps);
        for (int i = 0; i < D; i++)
            y[n * D + i] = (x[n * D + i] - mean) * rstd * (double)g->data[i] + (double)b->data[i];
    }
}

struct term {
    const char *method;
    enum bn_placement pl;
    enum act_kind act;
    double scale;
};

/* Block k of layer l after the last forward must equal
 *   z = h + res + Σ_seq s A(h) + Σ_parallel s A(res);  out = LN(z)  or  LN(z + s A(LN(z)))
 * with the block's own LayerNorm both times. */
static void check_block(const struct fx *f, int l, int k, const struct term *t, int nt)
{
    const struct model *m = &f->m;
    const struct blk_save *sv = &m->enc.save[l].blk[k];
    const struct bert_layer *w = &m->enc.layers[l];
    const struct param *g = k ? w->ln2_g : w->ln1_g, *bb = k ? w->ln2_b : w->ln1_b;
    const int N = m->enc.ctx.N, D = m->enc.D;
    const size_t ND = (size_t)N * D;
    double *h = calloc(ND, sizeof(double)), *res = calloc(ND, sizeof(double));
    double *z = calloc(ND, sizeof(double)), *y = calloc(ND, sizeof(double));
    double *nrm = calloc(ND, sizeof(double)), *out = calloc(ND, sizeof(double));
    for (size_t i = 0; i < ND; i++) {
        h[i] = sv->h[i];
        res[i] = sv->res[i];
        z[i] = h[i] + res[i];
    }
    const struct term *post = NULL;
    for (int j = 0; j < nt; j++) {
        if (t[j].pl == BN_POST_LN) {
            post = &t[j];
            continue;
        }
        ref_adapter(m, t[j].method, l, k, t[j].act, t[j].pl == BN_SEQ ? h : res, y, N);
        for (size_t i = 0; i < ND; i++)
            z[i] += t[j].scale * y[i];
    }
    const double eps = m->cfg.layer_norm_eps;
    ref_ln(nrm, z, g, bb, N, D, eps);
    if (post) {
        ref_adapter(m, post->method, l, k, post->act, nrm, y, N);
        for (size_t i = 0; i < ND; i++)
            z[i] += post->scale * y[i];
        ref_ln(out, z, g, bb, N, D, eps);
        ck_assert_ptr_nonnull(sv->r);
    } else {
        memcpy(out, nrm, ND * sizeof(double));
        ck_assert_ptr_null(sv->r);
    }
    double worst = 0;
    for (size_t i = 0; i < ND; i++)
        worst = fmax(worst, fabs(out[i] - (double)sv->out[i]));
    ck_assert_msg(worst < 2e-4, "layer %d block %d: max |out - ref| = %g", l, k, worst);
    free(h);
    free(res);
    free(z);
    free(y);
    free(nrm);
    free(out);
}

/* ---- placement: block outputs equal the reference ----------------------------- */

START_TEST(houlsby_reads_h)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "houlsby", "bottleneck=4;non_linearity=gelu;scaling=0.7");
    randomize(&f, 1);
    forward(&f, false);
    const struct term t = {"houlsby", BN_SEQ, ACT_GELU, 0.7};
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 2; k++)
            check_block(&f, l, k, &t, 1);
    fx_free(&f);
}
END_TEST

START_TEST(houlsby_default_swish)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "houlsby", "");
    randomize(&f, 2);
    forward(&f, true); /* saved h is after dropout: the reference still holds */
    const struct term t = {"houlsby", BN_SEQ, ACT_SWISH, 1.0};
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 2; k++)
            check_block(&f, l, k, &t, 1);
    fx_free(&f);
}
END_TEST

START_TEST(pfeiffer_same_layernorm_twice)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "pfeiffer", "bottleneck=8;non_linearity=tanh;scaling=1.5");
    randomize(&f, 3);
    forward(&f, false);
    const struct term t = {"pfeiffer", BN_POST_LN, ACT_TANH, 1.5};
    for (int l = 0; l < 2; l++) {
        check_block(&f, l, 0, NULL, 0); /* attention block untouched */
        check_block(&f, l, 1, &t, 1);
    }
    fx_free(&f);
}
END_TEST

START_TEST(parallel_reads_sublayer_input)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "parallel", "placement=both;bottleneck=5;init=bert");
    randomize(&f, 4);
    forward(&f, false);
    const struct term t = {"parallel", BN_PARALLEL, ACT_RELU, 4.0}; /* default scaling 4 */
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 2; k++)
            check_block(&f, l, k, &t, 1);
    fx_free(&f);
}
END_TEST

START_TEST(parallel_placement_ffn_and_attn)
{
    for (int pass = 0; pass < 2; pass++) {
        struct fx f;
        fx_init(&f);
        attach_ok(&f, "parallel", pass ? "placement=attn;scaling=2" : "");
        randomize(&f, 5);
        forward(&f, false);
        const struct term t = {"parallel", BN_PARALLEL, ACT_RELU, pass ? 2.0 : 4.0};
        for (int l = 0; l < 2; l++) {
            check_block(&f, l, pass ? 0 : 1, &t, 1);
            check_block(&f, l, pass ? 1 : 0, NULL, 0);
        }
        fx_free(&f);
    }
}
END_TEST

START_TEST(compacter_forms)
{
    static const char *const settings[] = {
        "reduction_factor=4",
        "reduction_factor=4;phm_dim=2;factorized_phm=false;shared_phm_rule=false",
        "bottleneck=8;phm_rank=2;phm_bias=false;non_linearity=swish",
    };
    const enum act_kind acts[] = {ACT_GELU, ACT_GELU, ACT_SWISH};
    for (int i = 0; i < 3; i++)
        for (int pp = 0; pp < 2; pp++) {
            struct fx f;
            fx_init(&f);
            const char *name = pp ? "compacter++" : "compacter";
            attach_ok(&f, name, settings[i]);
            randomize(&f, 6 + (uint64_t)i);
            forward(&f, false);
            const struct term t = {name, pp ? BN_POST_LN : BN_SEQ, acts[i], 1.0};
            for (int l = 0; l < 2; l++) {
                check_block(&f, l, 1, &t, 1);
                check_block(&f, l, 0, pp ? NULL : &t, pp ? 0 : 1);
            }
            fx_free(&f);
        }
}
END_TEST

/* METHODS.md §11: z = h + x + Σ_parallel s A(x) + Σ_houlsby s A(h); out = LN(z), or
 * LN(z + s A(LN(z))) with one Pfeiffer-form adapter. */
START_TEST(composition_on_one_block)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "houlsby", "bottleneck=3;non_linearity=tanh");
    attach_ok(&f, "parallel", "placement=both;bottleneck=4;scaling=2");
    attach_ok(&f, "compacter++", "reduction_factor=4");
    randomize(&f, 9);
    forward(&f, false);
    const struct term t[3] = {{"houlsby", BN_SEQ, ACT_TANH, 1.0},
                              {"parallel", BN_PARALLEL, ACT_RELU, 2.0},
                              {"compacter++", BN_POST_LN, ACT_GELU, 1.0}};
    for (int l = 0; l < 2; l++) {
        check_block(&f, l, 0, t, 2);
        check_block(&f, l, 1, t, 3);
    }
    fx_free(&f);
}
END_TEST

START_TEST(two_pfeiffer_forms_rejected)
{
    struct fx f;
    fx_init(&f);
    attach_ok(&f, "pfeiffer", "");
    const int nhooks = f.m.enc.hooks.n;
    const size_t ntensors = f.m.ps.n;
    struct err e;
    ck_assert_int_eq(attach(&f, "compacter++", "reduction_factor=4", &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "pfeiffer") && strstr(e.msg, "compacter++"), "%s", e.msg);
    ck_assert_int_eq(attach(&f, "pfeiffer", "bottleneck=2", &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "pfeiffer"), "%s", e.msg);
    /* refused before touching the model: no hooks, no tensors, still runs */
    ck_assert_int_eq(f.m.enc.hooks.n, nhooks);
    ck_assert_uint_eq(f.m.ps.n, ntensors);
    randomize(&f, 10);
    forward(&f, false);
    const struct term t = {"pfeiffer", BN_POST_LN, ACT_RELU, 1.0};
    check_block(&f, 1, 1, &t, 1);
    fx_free(&f);
}
END_TEST

/* ---- identity at init ----------------------------------------------------------- */

START_TEST(identity_at_init)
{
    static const struct {
        const char *method, *settings;
        bool identity;
    } cases[] = {
        {"parallel", "", true},
        {"pfeiffer", "init=mam", true},
        {"houlsby", "init=mam;non_linearity=gelu", true},
        {"houlsby", "", false},
        {"compacter", "reduction_factor=4", false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct fx f;
        fx_init(&f);
        float bare[TB * TC];
        memcpy(bare, forward(&f, false), sizeof bare);
        attach_ok(&f, cases[c].method, cases[c].settings);
        const struct method_ops *ops = method_find(cases[c].method);
        struct hp_values hp;
        struct err e;
        ck_assert_int_eq(parse_hp(cases[c].method, cases[c].settings, &f.m, &hp, &e), 0);
        bool claims = ops->identity_at_init && ops->identity_at_init(&hp);
        ck_assert_int_eq(claims, cases[c].identity);
        const float *now = forward(&f, false);
        if (cases[c].identity)
            ck_assert_int_eq(memcmp(bare, now, sizeof bare), 0);
        else
            ck_assert(memcmp(bare, now, sizeof bare) != 0); /* near identity, not exact */
        fx_free(&f);
    }
}
END_TEST

/* ---- init distributions ---------------------------------------------------------- */

START_TEST(init_ranges)
{
    struct fx f;
    fx_init_dims(&f, 32, 2, 4, 40);
    attach_ok(&f, "houlsby", "init=houlsby;bottleneck=8");
    attach_ok(&f, "parallel", "bottleneck=8");
    attach_ok(&f, "compacter", "reduction_factor=4;b_init_gain=1.4142");
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group != PGROUP_METHOD)
            continue;
        ck_assert(p->trainable && p->grad);
        double mx = 0, ss = 0;
        for (size_t j = 0; j < p->numel; j++) {
            mx = fmax(mx, fabs(p->data[j]));
            ss += (double)p->data[j] * (double)p->data[j];
        }
        if (p->kind == PARAM_BIAS)
            ck_assert_msg(mx == 0, "%s", p->name);
        else if (strncmp(p->name, "houlsby.", 8) == 0)
            ck_assert_msg(mx > 0 && mx <= 2e-2, "%s max %g", p->name, mx);
        else if (strstr(p->name, "parallel.") && strstr(p->name, ".up."))
            ck_assert_msg(mx == 0, "%s", p->name);
        else if (strstr(p->name, "parallel."))
            ck_assert_msg(mx > 0 && mx <= 1.0 / sqrt(32.0), "%s max %g", p->name, mx);
        else if (strcmp(p->name, "compacter.phm_rule") == 0)
            ck_assert_msg(mx > 0 && mx < 1e-3 && sqrt(ss / 64) > 2e-5, "%s max %g", p->name, mx);
        else if (strstr(p->name, "phm_s") || strstr(p->name, "phm_t")) {
            /* Xavier per (rows, cols) slice: bound gain sqrt(6 / (rows + cols)) */
            double bound = 1.4142 * sqrt(6.0 / (p->shape[1] + p->shape[2]));
            ck_assert_msg(mx > 0.3 * bound && mx <= bound * (1 + 1e-6), "%s", p->name);
        } else
            ck_abort_msg("unexpected method tensor %s", p->name);
    }
    ck_assert_ptr_nonnull(param_find(&f.m.ps, "compacter.phm_rule"));
    ck_assert_ptr_nonnull(
        param_find(&f.m.ps, "houlsby.encoder.layer.1.attention.output.adapter.down.weight"));
    ck_assert_ptr_nonnull(param_find(&f.m.ps, "parallel.encoder.layer.0.output.adapter.up.bias"));
    ck_assert_ptr_nonnull(param_find(&f.m.ps, "compacter.encoder.layer.1.output.adapter.up.phm_t"));
    fx_free(&f);
}
END_TEST

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

/* ---- parameter counts -------------------------------------------------------------- */

static size_t count_of(const char *method, const char *settings, const struct bert_config *c)
{
    struct hp_values hp;
    struct err e;
    ck_assert_msg(parse_hp(method, settings, NULL, &hp, &e) == 0, "%s", e.msg);
    return method_find(method)->count(&hp, c);
}

START_TEST(count_bert_base)
{
    struct bert_config c;
    hfconfig_default(&c); /* bert-base: D 768, L 12 */
    ck_assert_uint_eq(count_of("houlsby", "", &c), 1789056);
    ck_assert_uint_eq(count_of("pfeiffer", "", &c), 894528);
    ck_assert_uint_eq(count_of("houlsby", "bottleneck=64", &c), 2379264);
    ck_assert_uint_eq(count_of("houlsby", "reduction_factor=12", &c), 2379264);
    ck_assert_uint_eq(count_of("parallel", "", &c), 7091712);
    ck_assert_uint_eq(count_of("compacter", "", &c), 57088);
    ck_assert_uint_eq(count_of("compacter++", "", &c), 28576);
    /* Houlsby paper recipe: + 36,864 layer LayerNorms + 1,536 embedding LayerNorm */
    ck_assert_uint_eq(count_of("houlsby", "bottleneck=64;train_layernorm=true", &c),
                      2379264 + 36864 + 1536);
    /* r(IN + OUT) per factorised projection: rank 2 doubles the factor part */
    ck_assert_uint_eq(count_of("compacter", "phm_rank=2", &c), 57088 + 24 * 2 * (768 + 24));
    hfconfig_free(&c);
}
END_TEST

/* count() equals the trainable tensors create() registers (method tensors plus unfrozen
 * LayerNorms), for every example and a few more settings, on two model sizes. */
START_TEST(count_matches_registered)
{
    static const char *const methods[] = {"houlsby", "pfeiffer", "parallel", "compacter",
                                          "compacter++"};
    const int dims[2][4] = {{16, 2, 2, 24}, {32, 3, 4, 40}};
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < sizeof methods / sizeof *methods; k++) {
            const struct method_ops *ops = method_find(methods[k]);
            ck_assert_ptr_nonnull(ops);
            ck_assert_ptr_nonnull(ops->examples);
            ck_assert_ptr_nonnull(ops->examples[0]);
            const char *all[16];
            int n = 0;
            for (; ops->examples[n] && n < 14; n++)
                all[n] = ops->examples[n];
            all[n++] = "bottleneck=4;train_layernorm=true";
            all[n++] = "bottleneck=8;train_layernorm=false";
            for (int x = 0; x < n; x++) {
                const char *settings = all[x];
                struct fx f;
                fx_init_dims(&f, dims[d][0], dims[d][1], dims[d][2], dims[d][3]);
                attach_ok(&f, methods[k], settings);
                struct hp_values hp;
                struct err e;
                ck_assert_int_eq(parse_hp(methods[k], settings, &f.m, &hp, &e), 0);
                size_t want = ops->count(&hp, &f.m.cfg);
                size_t got = param_store_trainable(&f.m.ps, PGROUP_METHOD) +
                             param_store_trainable(&f.m.ps, PGROUP_BACKBONE);
                ck_assert_msg(got == want, "%s [%s] D=%d: registered %zu, count() %zu", methods[k],
                              settings, dims[d][0], got, want);
                char prefix[32];
                snprintf(prefix, sizeof prefix, "%s.", methods[k]);
                for (size_t i = 0; i < f.m.ps.n; i++) {
                    const struct param *p = f.m.ps.items[i];
                    if (p->group == PGROUP_METHOD)
                        ck_assert_msg(strncmp(p->name, prefix, strlen(prefix)) == 0 && p->trainable,
                                      "%s", p->name);
                }
                fx_free(&f);
            }
        }
}
END_TEST

/* ---- errors ------------------------------------------------------------------------- */

static void expect_error(const char *method, const char *settings, bool with_model, int code,
                         const char *k1, const char *k2)
{
    struct fx f;
    fx_init(&f);
    struct hp_values hp;
    struct err e;
    err_clear(&e);
    int rc = parse_hp(method, settings, with_model ? &f.m : NULL, &hp, &e);
    ck_assert_msg(rc == code, "%s [%s]: rc %d (%s)", method, settings, rc, e.msg);
    ck_assert_msg(strstr(e.msg, k1) && (!k2 || strstr(e.msg, k2)), "%s [%s]: '%s' lacks %s/%s",
                  method, settings, e.msg, k1, k2 ? k2 : "");
    fx_free(&f);
}

START_TEST(errors_name_the_key)
{
    const char *both = "bottleneck=4;reduction_factor=2";
    expect_error("houlsby", both, false, ERR_CONFIG, "houlsby.bottleneck", "reduction_factor");
    expect_error("pfeiffer", both, true, ERR_CONFIG, "bottleneck", "reduction_factor");
    expect_error("parallel", both, true, ERR_CONFIG, "bottleneck", "reduction_factor");
    expect_error("compacter", both, true, ERR_CONFIG, "bottleneck", "reduction_factor");
    expect_error("compacter++", both, false, ERR_CONFIG, "bottleneck", "reduction_factor");
    /* phm_dim must divide D and the width R */
    expect_error("compacter", "phm_dim=3;reduction_factor=4", true, ERR_CONFIG,
                 "compacter.phm_dim = 3", "D = 16");
    expect_error("compacter", "bottleneck=6", true, ERR_CONFIG, "compacter.phm_dim = 4", "R = 6");
    expect_error("compacter++", "bottleneck=6", false, ERR_CONFIG, "phm_dim", "bottleneck = 6");
    /* the defaults (R = max(1, 16/32) = 1) do not fit the tiny model: say what would */
    expect_error("compacter", "", true, ERR_CONFIG, "phm_dim", "values that fit: 1");
    expect_error("houlsby", "non_linearity=sigmoid", false, ERR_CONFIG, "houlsby.non_linearity",
                 "sigmoid");
    expect_error("compacter", "non_linearity=gelu_new", false, ERR_CONFIG,
                 "compacter.non_linearity", NULL);
    expect_error("houlsby", "init=xavier", false, ERR_CONFIG, "houlsby.init", NULL);
    expect_error("parallel", "placement=q", false, ERR_CONFIG, "parallel.placement", NULL);
    expect_error("houlsby", "bottleneck=0", false, ERR_RANGE, "houlsby.bottleneck", NULL);
    expect_error("compacter", "phm_rank=0", false, ERR_RANGE, "compacter.phm_rank", NULL);
    expect_error("pfeiffer", "reduction_factr=4", false, ERR_CONFIG, "reduction_factr",
                 "reduction_factor");
    /* valid without a model, refused on it (and create refuses it too) */
    struct fx f;
    fx_init(&f);
    struct hp_values hp;
    struct err e;
    ck_assert_int_eq(parse_hp("compacter", "reduction_factor=8;phm_dim=4", NULL, &hp, &e), 0);
    ck_assert_int_eq(method_create(&f.mi[0], method_find("compacter"), &hp, &f.m, 1, &e),
                     ERR_CONFIG); /* R = 2 */
    ck_assert_msg(strstr(e.msg, "phm_dim"), "%s", e.msg);
    ck_assert_int_eq(f.m.enc.hooks.n, 0);
    fx_free(&f);
}
END_TEST

/* ---- frozen backbone, determinism --------------------------------------------------- */

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

START_TEST(init_is_seeded)
{
    float a[64], b[64];
    for (int pass = 0; pass < 3; pass++) {
        struct fx f;
        fx_init(&f);
        struct hp_values hp;
        struct err e;
        ck_assert_int_eq(parse_hp("houlsby", "bottleneck=4", &f.m, &hp, &e), 0);
        ck_assert_int_eq(
            method_create(&f.mi[0], method_find("houlsby"), &hp, &f.m, pass == 2 ? 2 : 1, &e), 0);
        f.nmi = 1;
        const struct param *w =
            param_find(&f.m.ps, "houlsby.encoder.layer.1.output.adapter.up.weight");
        memcpy(pass ? b : a, w->data, 64 * sizeof(float));
        if (pass == 1)
            ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        if (pass == 2)
            ck_assert(memcmp(a, b, sizeof a) != 0);
        fx_free(&f);
    }
}
END_TEST

Suite *adapters_suite(void)
{
    Suite *s = suite_create("adapters");
    TCase *tc = tcase_create("placement");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, houlsby_reads_h);
    tcase_add_test(tc, houlsby_default_swish);
    tcase_add_test(tc, pfeiffer_same_layernorm_twice);
    tcase_add_test(tc, parallel_reads_sublayer_input);
    tcase_add_test(tc, parallel_placement_ffn_and_attn);
    tcase_add_test(tc, compacter_forms);
    tcase_add_test(tc, composition_on_one_block);
    tcase_add_test(tc, two_pfeiffer_forms_rejected);
    tcase_add_test(tc, identity_at_init);
    tcase_add_test(tc, init_ranges);
    tcase_add_test(tc, init_is_seeded);
    suite_add_tcase(s, tc);

    tc = tcase_create("numerics");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, phm_materialised_equals_naive_kron);
    tcase_add_test(tc, phm_ops_gradcheck);
    tcase_add_loop_test(tc, module_gradcheck, 0, (int)(sizeof grad_cases / sizeof *grad_cases));
    tcase_add_loop_test(tc, grad_all_trainable, 0, (int)(sizeof grad_cases / sizeof *grad_cases));
    tcase_add_test(tc, grad_composition);
    tcase_add_test(tc, frozen_backbone_untouched_by_step);
    suite_add_tcase(s, tc);

    tc = tcase_create("counts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, count_bert_base);
    tcase_add_test(tc, count_matches_registered);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, errors_name_the_key);
    suite_add_tcase(s, tc);
    return s;
}
