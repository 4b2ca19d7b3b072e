/*
 * LoRA, IA3 and the HF PEFT layout: forward against hand-built references,
 * rsLoRA scaling, dropout only in training, merge == unmerged (alone and
 * composed, with the merge-order rule), PEFT files (names, shapes, JSON fields),
 * PEFT load round trips and bad adapter_config.json files.
 * (tests/methods/test_methods.c gradient-checks and counts every registry example.)
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/gradcheck.h"
#include "methods/peft_format.h"
#include "methods/registry.h"
#include "model/engine/rng.h"
#include "model/io/safetensors.h"
#include "tests/suites.h"

enum { TB = 3, TT = 6, TV = 40, TC = 3, TD = 16, TF = 24, TL = 2, MAXI = 2 };

struct fx {
    struct mem_acct acct;
    struct model m;
    struct method_inst mi[MAXI];
    int n;
    int ids[TB * TT], mask[TB * TT], labels[TB];
    struct batch b;
    float r[TB * TC];
};

static void fx_init_arch(struct fx *f, float drop, const char *arch)
{
    memset(f, 0, sizeof *f);
    mem_acct_init(&f->acct);
    struct bert_config c;
    hfconfig_default(&c);
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    c.vocab_size = TV;
    c.hidden_size = TD;
    c.num_attention_heads = 2;
    c.intermediate_size = TF;
    c.num_hidden_layers = TL;
    c.max_position_embeddings = 16;
    c.initializer_range = 0.3f;
    c.hidden_dropout_prob = drop;
    c.attention_probs_dropout_prob = drop;
    if (strcmp(arch, "roberta") == 0) {
        c.type_vocab_size = 1;
        c.pad_token_id = 1;
    }
    struct err e;
    ck_assert_msg(model_create(&f->m, &c, TC, &f->acct, &e) == 0, "%s", e.msg);
    model_init_weights(&f->m, 11);
    f->m.enc.keep_all = true; /* these tests read enc.save[] after evaluation forwards */
    struct rng r;
    rng_seed(&r, 5);
    const int len[TB] = {TT, 4, 2};
    for (int i = 0; i < TB; i++) {
        for (int j = 0; j < TT; j++) {
            int q = i * TT + j;
            f->mask[q] = j < len[i];
            f->ids[q] = f->mask[q] ? 2 + (int)rng_below(&r, TV - 2) : 0;
        }
        f->labels[i] = i % TC;
    }
    for (int i = 0; i < TB * TC; i++)
        f->r[i] = rng_normal(&r);
    f->b = (struct batch){TB, TT, f->ids, NULL, f->mask, f->labels, NULL};
}

static void fx_init(struct fx *f, float drop)
{
    fx_init_arch(f, drop, "bert");
}

static void fx_free(struct fx *f)
{
    hook_set_clear(&f->m.enc.hooks);
    for (int i = f->n; i-- > 0;)
        method_destroy(&f->mi[i]);
    model_destroy(&f->m);
    ck_assert_uint_eq(f->acct.cur_total, 0);
}

/* Parse "k=v;k=v" and create the method on f's model; returns the rc, e filled. */
static int fx_try_attach(struct fx *f, const char *method, const char *ex, struct err *e)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ex);
    struct hp_kv kv[HP_MAX];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok && n < HP_MAX;
         tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        kv[n++] = (struct hp_kv){tok, eq + 1, "test"};
    }
    const struct method_ops *ops = method_find(method);
    ck_assert_msg(ops != NULL, "%s not registered", method);
    struct hp_values hv;
    if (method_parse(ops, &hv, kv, n, &f->m, e))
        return e->code;
    ck_assert_int_lt(f->n, MAXI);
    if (method_create(&f->mi[f->n], ops, &hv, &f->m, 42, e))
        return e->code;
    f->n++;
    return 0;
}

static struct method_inst *fx_attach(struct fx *f, const char *method, const char *ex)
{
    struct err e;
    ck_assert_msg(fx_try_attach(f, method, ex, &e) == 0, "%s '%s': %s", method, ex, e.msg);
    return &f->mi[f->n - 1];
}

static void fx_logits(struct fx *f, bool train, uint64_t step, float *out)
{
    float *logits;
    struct err e;
    ck_assert_msg(model_forward(&f->m, &f->b, train, 7, step, &logits, &e) == 0, "%s", e.msg);
    memcpy(out, logits, TB * TC * sizeof(float));
}

/* Add scale·N(0,1) to every tensor whose name starts with prefix. */
static void perturb(struct fx *f, const char *prefix, float scale, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        if (strncmp(p->name, prefix, strlen(prefix)) == 0)
            for (size_t j = 0; j < p->numel; j++)
                p->data[j] += scale * rng_normal(&r);
    }
}

/* The backbone's biases are zero after model_init_weights: make them matter (merge must
 * scale them under an IA3 output scaling). */
static void perturb_biases(struct fx *f, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        if (p->kind == PARAM_BIAS)
            for (size_t j = 0; j < p->numel; j++)
                p->data[j] += 0.2f * rng_normal(&r);
    }
}

static struct param *P(struct fx *f, const char *fmt, int layer, const char *module)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, fmt, layer, module);
    struct param *p = param_find(&f->m.ps, name);
    ck_assert_msg(p != NULL, "no tensor %s", name);
    return p;
}

static struct param *base_w(struct fx *f, int l, enum hook_site s)
{
    return P(f, "encoder.layer.%d.%s.weight", l, peft_site_module(s));
}

static struct param *base_b(struct fx *f, int l, enum hook_site s)
{
    return P(f, "encoder.layer.%d.%s.bias", l, peft_site_module(s));
}

/* y = x W^T + b, naive, double accumulation.  x (N, IN), W (OUT, IN), y (N, OUT). */
static void ref_linear(float *y, const float *x, const float *W, const float *b, int N, int IN,
                       int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double acc = b ? (double)b[o] : 0.0;
            for (int i = 0; i < IN; i++)
                acc += (double)x[(size_t)n * IN + i] * (double)W[(size_t)o * IN + i];
            y[(size_t)n * OUT + o] = (float)acc;
        }
}

/* Wp = W + s B A, naive.  W (OUT, IN), B (OUT, R), A (R, IN). */
static void ref_merge(float *Wp, const float *W, const float *B, const float *A, double s, int IN,
                      int OUT, int R)
{
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++) {
            double acc = 0.0;
            for (int k = 0; k < R; k++)
                acc += (double)B[o * R + k] * (double)A[k * IN + i];
            Wp[o * IN + i] = (float)((double)W[o * IN + i] + s * acc);
        }
}

static void assert_close(const float *a, const float *b, size_t n, float tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i])), "%s[%zu]: %.9g vs %.9g",
                      what, i, (double)a[i], (double)b[i]);
}

static void site_dims(enum hook_site s, int *IN, int *OUT)
{
    *IN = s == SITE_FFN_OUT ? TF : TD;
    *OUT = s == SITE_FFN_IN ? TF : TD;
}

/* ---- LoRA forward ---------------------------------------------------------------- */

/* Every site output equals x0 (W + s B A)^T + b built by hand, and the logits equal a bare
 * model whose weights were merged by hand. */
START_TEST(lora_forward_matches_reference)
{
    struct fx f, g;
    fx_init(&f, 0.1f);
    fx_init(&g, 0.1f);
    fx_attach(&f, "lora", "rank=3;alpha=6;targets=q,k,v,o,ffn_in,ffn_out");
    perturb(&f, "lora.", 0.3f, 3);
    perturb_biases(&f, 4);
    perturb_biases(&g, 4);
    const double s = 6.0 / 3.0;
    float got[TB * TC], want[TB * TC];
    fx_logits(&f, false, 1, got);
    const int N = TB * TT;
    for (int l = 0; l < TL; l++)
        for (int s_ = SITE_Q; s_ <= SITE_FFN_OUT; s_++) {
            enum hook_site site = (enum hook_site)s_;
            int IN, OUT;
            site_dims(site, &IN, &OUT);
            const float *A =
                P(&f, "lora.encoder.layer.%d.%s.lora_A", l, peft_site_module(site))->data;
            const float *B =
                P(&f, "lora.encoder.layer.%d.%s.lora_B", l, peft_site_module(site))->data;
            float *Wp = malloc((size_t)IN * OUT * sizeof(float));
            float *y = malloc((size_t)N * OUT * sizeof(float));
            ref_merge(Wp, base_w(&f, l, site)->data, B, A, s, IN, OUT, 3);
            const struct lin_save *sv = &f.m.enc.save[l].lin[site];
            ref_linear(y, sv->x0, Wp, base_b(&f, l, site)->data, N, IN, OUT);
            assert_close(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
            memcpy(base_w(&g, l, site)->data, Wp, (size_t)IN * OUT * sizeof(float));
            free(Wp);
            free(y);
        }
    memcpy(g.m.cls_w->data, f.m.cls_w->data, g.m.cls_w->numel * sizeof(float));
    fx_logits(&g, false, 1, want);
    assert_close(got, want, TB * TC, 1e-5f, "logits");
    fx_free(&g);
    fx_free(&f);
}
END_TEST

/* IA3: output scaling y = l ⊙ (x0 W^T + b) at q, k, v, o (attention.output.dense's output,
 * METHODS.md §11) and ffn_in; ffn_act: y = (l ⊙ x0) W2^T + b2 (x0 = the GELU output). */
START_TEST(ia3_forward_matches_reference)
{
    struct fx f;
    fx_init(&f, 0.1f);
    fx_attach(&f, "ia3", "targets=k,v,q,o,ffn_act,ffn_in");
    perturb(&f, "ia3.", 0.3f, 3);
    perturb_biases(&f, 4);
    float lg[TB * TC];
    fx_logits(&f, false, 1, lg);
    const int N = TB * TT;
    for (int l = 0; l < TL; l++)
        for (int s_ = SITE_Q; s_ <= SITE_FFN_OUT; s_++) {
            enum hook_site site = (enum hook_site)s_;
            int IN, OUT;
            site_dims(site, &IN, &OUT);
            const float *v =
                P(&f, "ia3.encoder.layer.%d.%s.ia3_l", l, peft_site_module(site))->data;
            const struct lin_save *sv = &f.m.enc.save[l].lin[site];
            float *x = malloc((size_t)N * IN * sizeof(float));
            float *y = malloc((size_t)N * OUT * sizeof(float));
            for (int n = 0; n < N; n++)
                for (int i = 0; i < IN; i++)
                    x[n * IN + i] = sv->x0[n * IN + i] * (site == SITE_FFN_OUT ? v[i] : 1.0f);
            ref_linear(y, x, base_w(&f, l, site)->data, base_b(&f, l, site)->data, N, IN, OUT);
            if (site != SITE_FFN_OUT)
                for (int n = 0; n < N; n++)
                    for (int o = 0; o < OUT; o++)
                        y[n * OUT + o] *= v[o];
            assert_close(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
            free(x);
            free(y);
        }
    fx_free(&f);
}
END_TEST

/* s = alpha/r, or alpha/sqrt(r) with rslora: the q-site delta is s · x0 A^T B^T. */
START_TEST(rslora_scaling)
{
    const int R = 4;
    float delta[2][TB * TT * TD];
    for (int rs = 0; rs < 2; rs++) {
        struct fx f;
        fx_init(&f, 0.0f);
        fx_attach(&f, "lora", rs ? "rank=4;alpha=8;rslora=true" : "rank=4;alpha=8");
        perturb(&f, "lora.encoder.layer.0.attention.self.query.lora_B", 0.5f, 9);
        float lg[TB * TC];
        fx_logits(&f, false, 1, lg);
        const struct lin_save *sv = &f.m.enc.save[0].lin[SITE_Q];
        const int N = TB * TT;
        float *base = malloc((size_t)N * TD * sizeof(float));
        ref_linear(base, sv->x0, base_w(&f, 0, SITE_Q)->data, base_b(&f, 0, SITE_Q)->data, N, TD,
                   TD);
        const float *A = P(&f, "lora.encoder.layer.%d.%s.lora_A", 0, "attention.self.query")->data;
        const float *B = P(&f, "lora.encoder.layer.%d.%s.lora_B", 0, "attention.self.query")->data;
        const double s = rs ? 8.0 / sqrt((double)R) : 8.0 / R;
        for (int n = 0; n < N; n++)
            for (int o = 0; o < TD; o++) {
                double acc = 0.0;
                for (int k = 0; k < R; k++) {
                    double t = 0.0;
                    for (int i = 0; i < TD; i++)
                        t += (double)sv->x0[n * TD + i] * (double)A[k * TD + i];
                    acc += t * (double)B[o * R + k];
                }
                float d = sv->y[n * TD + o] - base[n * TD + o];
                delta[rs][n * TD + o] = d;
                ck_assert_msg(fabs((double)d - s * acc) <= 1e-4 * (1.0 + fabs(s * acc)),
                              "rslora=%d: delta %g vs %g", rs, (double)d, s * acc);
            }
        free(base);
        fx_free(&f);
    }
    /* same seed, same A and B: the rsLoRA delta is sqrt(r) = 2 times the plain one */
    for (int i = 0; i < TB * TT * TD; i++)
        ck_assert_msg(fabsf(delta[1][i] - 2.0f * delta[0][i]) <=
                          1e-4f * (1.0f + fabsf(delta[1][i])),
                      "[%d] %g vs 2 x %g", i, (double)delta[1][i], (double)delta[0][i]);
}
END_TEST

/* LoRA dropout acts in training steps only, is seeded by the step, and its mask is
 * applied in backward too (gradient check through it). */
static struct fx *g_fx;
static double train_loss(void *ctx)
{
    (void)ctx;
    float lg[TB * TC];
    fx_logits(g_fx, true, 3, lg);
    double s = 0.0;
    for (int i = 0; i < TB * TC; i++)
        s += (double)lg[i] * (double)g_fx->r[i];
    return s;
}

START_TEST(dropout_only_in_training)
{
    struct fx f, g;
    fx_init(&f, 0.0f); /* backbone dropout off: only LoRA's acts */
    fx_init(&g, 0.0f);
    fx_attach(&f, "lora", "rank=4;dropout=0.5;targets=q,v,ffn_out");
    fx_attach(&g, "lora", "rank=4;targets=q,v,ffn_out");
    perturb(&f, "lora.", 0.4f, 5);
    perturb(&g, "lora.", 0.4f, 5);
    float fe[TB * TC], ge[TB * TC], ft[TB * TC], ft2[TB * TC], ft3[TB * TC], gt[TB * TC];
    fx_logits(&f, false, 1, fe);
    fx_logits(&g, false, 1, ge);
    ck_assert(memcmp(fe, ge, sizeof fe) == 0); /* eval: dropout is off */
    fx_logits(&g, true, 1, gt);
    ck_assert(memcmp(gt, ge, sizeof gt) == 0); /* p = 0: training = eval */
    fx_logits(&f, true, 1, ft);
    fx_logits(&f, true, 1, ft2);
    fx_logits(&f, true, 2, ft3);
    ck_assert(memcmp(ft, ft2, sizeof ft) == 0); /* same step: same mask */
    bool differs = false, differs3 = false;
    for (int i = 0; i < TB * TC; i++) {
        differs |= fabsf(ft[i] - fe[i]) > 1e-4f;
        differs3 |= fabsf(ft3[i] - ft[i]) > 1e-4f;
    }
    ck_assert_msg(differs, "training with dropout 0.5 gave the eval logits");
    ck_assert_msg(differs3, "another step gave the same dropout mask");

    struct err e;
    ck_assert_int_eq(param_set_trainable(&f.m.ps, f.m.enc.word, true, &e), 0);
    param_store_zero_grads(&f.m.ps);
    g_fx = &f;
    train_loss(NULL);
    ck_assert_msg(model_backward(&f.m, f.r, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        if (!p->trainable || p->group == PGROUP_HEAD)
            continue;
        char rep[256];
        ck_assert_msg(gradcheck_tensor(p->name, train_loss, NULL, p->data, p->grad, p->numel, 6, 13,
                                       2e-2, rep, sizeof rep) == 0,
                      "%s", rep);
    }
    fx_free(&g);
    fx_free(&f);
}
END_TEST

/* ---- merge -------------------------------------------------------------------------- */

static float **snap(const struct model *m)
{
    float **s = calloc(m->ps.n, sizeof *s);
    for (size_t i = 0; i < m->ps.n; i++) {
        s[i] = malloc(m->ps.items[i]->numel * sizeof(float));
        memcpy(s[i], m->ps.items[i]->data, m->ps.items[i]->numel * sizeof(float));
    }
    return s;
}

static void snap_check_free(float **s, const struct model *m, float tol)
{
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        for (size_t j = 0; j < p->numel; j++)
            ck_assert_msg(fabsf(p->data[j] - s[i][j]) <= tol, "%s[%zu] %.9g, was %.9g", p->name, j,
                          (double)p->data[j], (double)s[i][j]);
        free(s[i]);
    }
    free(s);
}

static bool weights_changed(float **s, const struct model *m)
{
    for (size_t i = 0; i < m->ps.n; i++)
        if (memcmp(s[i], m->ps.items[i]->data, m->ps.items[i]->numel * sizeof(float)) != 0)
            return true;
    return false;
}

static const struct {
    const char *method, *ex;
} merge_cases[] = {
    {"lora", ""},
    {"lora", "rank=2;alpha=4;targets=q,k,v,o,ffn_in,ffn_out"},
    {"lora", "rank=4;rslora=true;dropout=0.1"},
    {"ia3", ""},
    {"ia3", "targets=q,o,ffn_in"},
    {"ia3", "targets=k,v,q,o,ffn_act,ffn_in"},
};

START_TEST(merged_equals_unmerged)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *mi = fx_attach(&f, merge_cases[_i].method, merge_cases[_i].ex);
    perturb_biases(&f, 4);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    float before[TB * TC], merged[TB * TC], after[TB * TC];
    fx_logits(&f, false, 1, before);
    float **s = snap(&f.m);
    struct err e;
    ck_assert_msg(method_merge(mi, &f.m, &e) == 0, "%s", e.msg);
    ck_assert(weights_changed(s, &f.m));
    fx_logits(&f, false, 1, merged);
    assert_close(merged, before, TB * TC, 1e-5f, "merged logits");
    /* merged hooks are inert: the encoder does not run them (merged = bare cost) */
    for (int i = 0; i < f.m.enc.hooks.n; i++) {
        const struct hook *h = &f.m.enc.hooks.items[i], *got[4];
        ck_assert(hook_inert(h));
        ck_assert_int_eq(hook_find(&f.m.enc.hooks, h->layer, h->site, h->phase, got, 4), 0);
        ck_assert_int_ge(hook_find_any(&f.m.enc.hooks, h->layer, h->site, h->phase, got, 4), 1);
    }
    /* merged hooks refuse training */
    fx_logits(&f, true, 1, after);
    float dl[TB * TC] = {1.0f};
    ck_assert_int_eq(model_backward(&f.m, dl, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "unmerge"));
    ck_assert_msg(method_unmerge(mi, &f.m, &e) == 0, "%s", e.msg);
    snap_check_free(s, &f.m, 1e-6f);
    fx_logits(&f, false, 1, after);
    assert_close(after, before, TB * TC, 1e-5f, "unmerged logits");
    fx_free(&f);
}
END_TEST

START_TEST(ia3_merge_refuses_tiny_scale)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *mi = fx_attach(&f, "ia3", "");
    struct param *l = P(&f, "ia3.encoder.layer.%d.%s.ia3_l", 1, "attention.self.value");
    l->data[5] = 1e-8f;
    float **s = snap(&f.m);
    struct err e;
    ck_assert_int_eq(method_merge(mi, &f.m, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "ia3.encoder.layer.1.attention.self.value.ia3_l[5]"));
    ck_assert(!mi->merged);
    snap_check_free(s, &f.m, 0.0f); /* nothing touched */
    fx_free(&f);
}
END_TEST

/* §11: y = l_out ⊙ ((l_in ⊙ x0) W^T + b + s (l_in ⊙ x0) A^T B^T), unmerged and merged,
 * both attach orders; merge additive first, scaling last, whatever the order. */
START_TEST(lora_ia3_composition)
{
    const int ia3_first = _i;
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *lo, *ia;
    if (ia3_first) {
        ia = fx_attach(&f, "ia3", "targets=k,v,ffn_act");
        lo = fx_attach(&f, "lora", "rank=2;alpha=3;targets=k,v,ffn_out");
    } else {
        lo = fx_attach(&f, "lora", "rank=2;alpha=3;targets=k,v,ffn_out");
        ia = fx_attach(&f, "ia3", "targets=k,v,ffn_act");
    }
    perturb_biases(&f, 4);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    float before[TB * TC], merged[TB * TC], after[TB * TC];
    fx_logits(&f, false, 1, before);

    /* site-level formula at layer 1: k (output scaling) and ffn_out (input scaling) */
    const int N = TB * TT;
    for (int which = 0; which < 2; which++) {
        enum hook_site site = which ? SITE_FFN_OUT : SITE_K;
        int IN, OUT;
        site_dims(site, &IN, &OUT);
        const struct lin_save *sv = &f.m.enc.save[1].lin[site];
        const float *l = P(&f, "ia3.encoder.layer.%d.%s.ia3_l", 1, peft_site_module(site))->data;
        float *x = malloc((size_t)N * IN * sizeof(float));
        float *Wp = malloc((size_t)IN * OUT * sizeof(float));
        float *y = malloc((size_t)N * OUT * sizeof(float));
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IN; i++)
                x[n * IN + i] = sv->x0[n * IN + i] * (which ? l[i] : 1.0f);
        ref_merge(Wp, base_w(&f, 1, site)->data,
                  P(&f, "lora.encoder.layer.%d.%s.lora_B", 1, peft_site_module(site))->data,
                  P(&f, "lora.encoder.layer.%d.%s.lora_A", 1, peft_site_module(site))->data, 1.5,
                  IN, OUT, 2);
        ref_linear(y, x, Wp, base_b(&f, 1, site)->data, N, IN, OUT);
        if (!which)
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OUT; o++)
                    y[n * OUT + o] *= l[o];
        assert_close(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
        free(x);
        free(Wp);
        free(y);
    }

    float **s = snap(&f.m);
    struct err e;
    /* scaling before additive: refused, nothing changed */
    ck_assert_int_eq(method_merge(ia, &f.m, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "'lora'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "merge 'lora' first"));
    ck_assert(!weights_changed(s, &f.m));
    ck_assert_msg(method_merge(lo, &f.m, &e) == 0, "%s", e.msg);
    ck_assert_msg(method_merge(ia, &f.m, &e) == 0, "%s", e.msg);
    fx_logits(&f, false, 1, merged);
    assert_close(merged, before, TB * TC, 1e-5f, "merged lora+ia3 logits");
    /* additive unmerged under a merged scaling: refused */
    ck_assert_int_eq(method_unmerge(lo, &f.m, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "ia3 [merged]"));
    ck_assert_msg(method_unmerge(ia, &f.m, &e) == 0, "%s", e.msg);
    ck_assert_msg(method_unmerge(lo, &f.m, &e) == 0, "%s", e.msg);
    snap_check_free(s, &f.m, 1e-6f);
    fx_logits(&f, false, 1, after);
    assert_close(after, before, TB * TC, 1e-5f, "unmerged lora+ia3 logits");
    fx_free(&f);
}
END_TEST

/* A LoRA cannot be attached under a merged IA3 scaling (it would not be scaled). */
START_TEST(lora_attach_under_merged_ia3_rejected)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *ia = fx_attach(&f, "ia3", "targets=v");
    struct err e;
    ck_assert_int_eq(method_merge(ia, &f.m, &e), 0);
    int nh = f.m.enc.hooks.n;
    ck_assert_int_eq(fx_try_attach(&f, "lora", "targets=q,v", &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "'v'"));
    ck_assert_int_eq(f.m.enc.hooks.n, nh);
    ck_assert_int_eq(method_unmerge(ia, &f.m, &e), 0);
    fx_free(&f);
}
END_TEST

START_TEST(invalid_settings_rejected)
{
    struct {
        const char *method, *ex, *needle;
        int code;
    } cases[] = {
        {"lora", "rank=17", "rank", ERR_RANGE}, /* > min(IN, OUT) = 16 */
        {"lora", "rank=20;targets=ffn_in", "ffn_in", ERR_RANGE},
        {"lora", "alpha=0", "alpha", ERR_RANGE},
        {"lora", "dropout=1", "dropout", ERR_RANGE},
        {"lora", "targets=q,x", "'x'", ERR_CONFIG},
        {"ia3", "targets=ffn_out", "ffn_out", ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct fx f;
        fx_init(&f, 0.1f);
        struct err e;
        ck_assert_int_eq(fx_try_attach(&f, cases[i].method, cases[i].ex, &e), cases[i].code);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "%s: %s", cases[i].ex, e.msg);
        ck_assert_int_eq(f.m.enc.hooks.n, 0);
        fx_free(&f);
    }
    /* rank 16 is the largest valid one on D = 16 */
    struct fx f;
    fx_init(&f, 0.1f);
    fx_attach(&f, "lora", "rank=16");
    fx_free(&f);
}
END_TEST

/* ---- PEFT layout -------------------------------------------------------------------- */

struct tmpdir {
    char path[64];
};

static void tmp_make(struct tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/peftbench-peft-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->path));
}

static void tmp_file(const struct tmpdir *d, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", d->path, name);
}

static void tmp_remove(struct tmpdir *d)
{
    char p[128];
    const char *names[] = {PEFT_CONFIG_NAME, PEFT_WEIGHTS_NAME};
    for (int i = 0; i < 2; i++) {
        tmp_file(d, names[i], p, sizeof p);
        unlink(p);
    }
    ck_assert_int_eq(rmdir(d->path), 0); /* nothing else (no .tmp) left */
}

static cJSON *read_json(const struct tmpdir *d)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void write_json(const struct tmpdir *d, const cJSON *j)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    char *text = cJSON_Print(j);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    free(text);
}

static void write_text(const struct tmpdir *d, const char *text)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void assert_strings(const cJSON *j, const char *key, const char *const *want, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsArray(a), "%s is not an array", key);
    ck_assert_int_eq(cJSON_GetArraySize(a), n);
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(a, i);
        ck_assert_msg(cJSON_IsString(s) && strcmp(s->valuestring, want[i]) == 0, "%s[%d]: want %s",
                      key, i, want[i]);
    }
}

static void assert_field_str(const cJSON *j, const char *key, const char *want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsString(x) && strcmp(x->valuestring, want) == 0, "%s != %s", key, want);
}

static void assert_field_num(const cJSON *j, const char *key, double want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(x) && x->valuedouble == want, "%s != %g", key, want);
}

static void assert_field_bool(const cJSON *j, const char *key, bool want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsBool(x) && (bool)cJSON_IsTrue(x) == want, "%s != %d", key, want);
}

struct want_tensor {
    char name[160];
    int64_t d0, d1; /* d1 = 0: 1-D */
    const float *data;
};

/* The safetensors file holds exactly the wanted tensors, shapes and values. */
static void assert_tensors(const struct tmpdir *d, const struct want_tensor *w, size_t n)
{
    char p[128];
    tmp_file(d, PEFT_WEIGHTS_NAME, p, sizeof p);
    struct st_file f;
    struct err e;
    ck_assert_msg(st_read(&f, p, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(f.n, n);
    for (size_t i = 0; i < n; i++) {
        const struct st_tensor *t = st_find(&f, w[i].name);
        ck_assert_msg(t != NULL, "missing %s", w[i].name);
        ck_assert_int_eq(t->dtype, ST_F32);
        ck_assert_int_eq(t->ndim, w[i].d1 ? 2 : 1);
        ck_assert_int_eq(t->shape[0], w[i].d0);
        if (w[i].d1)
            ck_assert_int_eq(t->shape[1], w[i].d1);
        ck_assert(memcmp(t->data, w[i].data, t->numel * sizeof(float)) == 0);
    }
    st_free(&f);
}

START_TEST(peft_save_lora_layout)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *mi =
        fx_attach(&f, "lora", "rank=4;alpha=8;dropout=0.1;targets=q,v,ffn_out;rslora=true");
    perturb(&f, "lora.", 0.3f, 1);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);

    struct want_tensor w[TL * 6 + 2];
    size_t n = 0;
    const enum hook_site sites[3] = {SITE_Q, SITE_V, SITE_FFN_OUT};
    for (int l = 0; l < TL; l++)
        for (int k = 0; k < 3; k++) {
            const char *mod = peft_site_module(sites[k]);
            int IN, OUT;
            site_dims(sites[k], &IN, &OUT);
            snprintf(w[n].name, sizeof w[n].name,
                     "base_model.model.bert.encoder.layer.%d.%s.lora_A.weight", l, mod);
            w[n].d0 = 4, w[n].d1 = IN;
            w[n++].data = P(&f, "lora.encoder.layer.%d.%s.lora_A", l, mod)->data;
            snprintf(w[n].name, sizeof w[n].name,
                     "base_model.model.bert.encoder.layer.%d.%s.lora_B.weight", l, mod);
            w[n].d0 = OUT, w[n].d1 = 4;
            w[n++].data = P(&f, "lora.encoder.layer.%d.%s.lora_B", l, mod)->data;
        }
    snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.weight");
    w[n].d0 = TC, w[n].d1 = TD, w[n++].data = f.m.cls_w->data;
    snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.bias");
    w[n].d0 = TC, w[n].d1 = 0, w[n++].data = f.m.cls_b->data;
    assert_tensors(&d, w, n);

    cJSON *j = read_json(&d);
    assert_field_str(j, "peft_type", "LORA");
    assert_field_str(j, "task_type", "SEQ_CLS");
    assert_field_str(j, "base_model_name_or_path", "");
    assert_field_num(j, "r", 4);
    assert_field_num(j, "lora_alpha", 8);
    assert_field_num(j, "lora_dropout", 0.1);
    assert_field_bool(j, "use_rslora", true);
    assert_field_bool(j, "fan_in_fan_out", false);
    assert_field_bool(j, "init_lora_weights", true);
    assert_field_bool(j, "inference_mode", true);
    assert_field_str(j, "bias", "none");
    const char *tm[] = {"query", "value", "layer.0.output.dense", "layer.1.output.dense"};
    assert_strings(j, "target_modules", tm, 4);
    const char *mts[] = {"classifier"};
    assert_strings(j, "modules_to_save", mts, 1);
    cJSON_Delete(j);
    tmp_remove(&d);
    fx_free(&f);
}
END_TEST

START_TEST(peft_save_ia3_layout)
{
    for (int variant = 0; variant < 2; variant++) {
        struct fx f;
        fx_init(&f, 0.1f);
        struct method_inst *mi = fx_attach(&f, "ia3", variant ? "targets=k,v" : "");
        perturb(&f, "ia3.", 0.3f, 1);
        struct tmpdir d;
        tmp_make(&d);
        struct err e;
        ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
        struct want_tensor w[TL * 3 + 2];
        size_t n = 0;
        for (int l = 0; l < TL; l++) {
            const char *mods[3] = {"attention.self.key", "attention.self.value", "output.dense"};
            for (int k = 0; k < (variant ? 2 : 3); k++) {
                snprintf(w[n].name, sizeof w[n].name,
                         "base_model.model.bert.encoder.layer.%d.%s.ia3_l", l, mods[k]);
                w[n].d0 = k == 2 ? 1 : TD; /* output scaling (OUT, 1); ffn_act (1, F) */
                w[n].d1 = k == 2 ? TF : 1;
                w[n++].data = P(&f, "ia3.encoder.layer.%d.%s.ia3_l", l, mods[k])->data;
            }
        }
        snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.weight");
        w[n].d0 = TC, w[n].d1 = TD, w[n++].data = f.m.cls_w->data;
        snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.bias");
        w[n].d0 = TC, w[n].d1 = 0, w[n++].data = f.m.cls_b->data;
        assert_tensors(&d, w, n);

        cJSON *j = read_json(&d);
        assert_field_str(j, "peft_type", "IA3");
        assert_field_str(j, "task_type", "SEQ_CLS");
        assert_field_bool(j, "fan_in_fan_out", false);
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "r"));
        const char *tm[] = {"key", "value", "layer.0.output.dense", "layer.1.output.dense"};
        assert_strings(j, "target_modules", tm, variant ? 2 : 4);
        assert_strings(j, "feedforward_modules", tm + 2, variant ? 0 : 2);
        const char *mts[] = {"classifier"};
        assert_strings(j, "modules_to_save", mts, 1);
        cJSON_Delete(j);
        tmp_remove(&d);
        fx_free(&f);
    }
}
END_TEST

static const struct {
    const char *arch, *method, *ex;
} rt_cases[] = {
    {"bert", "lora", ""},
    {"bert", "lora", "rank=2;alpha=4;targets=q,k,v,o,ffn_in,ffn_out"},
    {"bert", "lora", "rank=4;alpha=8;rslora=true;dropout=0.1;targets=o,ffn_out"},
    {"bert", "ia3", ""},
    {"bert", "ia3", "targets=k,v,q,o,ffn_act,ffn_in"},
    {"roberta", "lora", "rank=3;targets=k,ffn_in"},
    {"roberta", "ia3", "targets=q,o,ffn_in"},
};

START_TEST(peft_load_round_trip)
{
    struct fx f, g;
    fx_init_arch(&f, 0.1f, rt_cases[_i].arch);
    struct method_inst *mi = fx_attach(&f, rt_cases[_i].method, rt_cases[_i].ex);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    perturb(&f, "classifier.", 0.3f, 3);
    float a[TB * TC], b[TB * TC];
    fx_logits(&f, false, 1, a);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    fx_init_arch(&g, 0.1f, rt_cases[_i].arch); /* same backbone seed */
    ck_assert_msg(peft_load(d.path, &g.m, &g.mi[0], 99, &e) == 0, "%s[%s]: %s", rt_cases[_i].method,
                  rt_cases[_i].ex, e.msg);
    g.n = 1;
    ck_assert_str_eq(g.mi[0].ops->name, rt_cases[_i].method);
    for (int k = 0; k < mi->hp.n; k++) {
        char x[128], y[128];
        hp_format(&mi->hp, k, x, sizeof x);
        hp_format(&g.mi[0].hp, k, y, sizeof y);
        ck_assert_msg(strcmp(x, y) == 0, "%s: %s vs %s", mi->hp.defs[k].name, x, y);
    }
    fx_logits(&g, false, 1, b);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "reloaded logits differ");
    tmp_remove(&d);
    fx_free(&g);
    fx_free(&f);
}
END_TEST

/* Entries follow PEFT's suffix rule: a plain "output.dense" selects both output.dense
 * Linears (o and ffn_out) for LoRA. */
START_TEST(peft_load_follows_suffix_matching)
{
    struct fx f, g;
    fx_init(&f, 0.1f);
    struct method_inst *mi = fx_attach(&f, "lora", "targets=o,ffn_out");
    perturb(&f, "lora.", 0.3f, 1);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    cJSON *j = read_json(&d);
    cJSON_ReplaceItemInObjectCaseSensitive(
        j, "target_modules", cJSON_CreateStringArray((const char *const[]){"output.dense"}, 1));
    write_json(&d, j);
    cJSON_Delete(j);
    fx_init(&g, 0.1f);
    ck_assert_msg(peft_load(d.path, &g.m, &g.mi[0], 1, &e) == 0, "%s", e.msg);
    g.n = 1;
    char buf[64];
    hp_format(&g.mi[0].hp, hp_index(&g.mi[0].hp, "targets"), buf, sizeof buf);
    ck_assert_str_eq(buf, "o,ffn_out");
    float a[TB * TC], b[TB * TC];
    fx_logits(&f, false, 1, a);
    fx_logits(&g, false, 1, b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    tmp_remove(&d);
    fx_free(&g);
    fx_free(&f);
}
END_TEST

/* A bad adapter directory: the code, and a message naming the file and the field. */
static void expect_load_error(const struct tmpdir *d, int code, const char *n1, const char *n2)
{
    struct fx g;
    fx_init(&g, 0.1f);
    struct err e;
    ck_assert_int_eq(peft_load(d->path, &g.m, &g.mi[0], 1, &e), code);
    ck_assert_msg(strstr(e.msg, n1) != NULL, "'%s' not in: %s", n1, e.msg);
    ck_assert_msg(!n2 || strstr(e.msg, n2) != NULL, "'%s' not in: %s", n2, e.msg);
    ck_assert_ptr_null(g.mi[0].ops);
    ck_assert_int_eq(g.m.enc.hooks.n, 0); /* no hook left pointing into a freed instance */
    fx_free(&g);
}

START_TEST(peft_load_bad_config)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *mi = fx_attach(&f, "lora", "rank=4;targets=q,v");
    struct tmpdir d;
    tmp_make(&d);
    struct err e;

    /* missing file */
    expect_load_error(&d, ERR_IO, "adapter_config.json", d.path);
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    cJSON *good = read_json(&d);

    struct {
        const char *field, *json; /* replace field with json value (NULL json: delete it) */
        int code;
        const char *n1, *n2;
    } cases[] = {
        {"r", "\"8\"", ERR_FORMAT, "field 'r'", "a string (\"8\")"},
        {"r", "2.5", ERR_FORMAT, "field 'r'", "an integer"},
        {"r", "0", ERR_RANGE, "rank", "adapter_config.json"},
        {"r", "17", ERR_RANGE, "rank", "adapter_config.json"}, /* > min(IN, OUT) = 16 */
        {"r", "2", ERR_FORMAT, "lora_A.weight", "expected shape [2, 16], found [4, 16]"},
        {"peft_type", "\"PREFIX_TUNING\"", ERR_UNSUPPORTED, "field 'peft_type'", "PREFIX_TUNING"},
        {"peft_type", "3", ERR_FORMAT, "field 'peft_type'", "a number"},
        {"peft_type", NULL, ERR_FORMAT, "field 'peft_type'", "absent"},
        {"task_type", "\"CAUSAL_LM\"", ERR_UNSUPPORTED, "field 'task_type'", "SEQ_CLS"},
        {"lora_alpha", "\"16\"", ERR_FORMAT, "field 'lora_alpha'", "a number"},
        {"use_rslora", "\"yes\"", ERR_FORMAT, "field 'use_rslora'", "true or false"},
        {"fan_in_fan_out", "true", ERR_UNSUPPORTED, "field 'fan_in_fan_out'", NULL},
        {"bias", "\"all\"", ERR_UNSUPPORTED, "field 'bias'", "none"},
        {"target_modules", "\".*query\"", ERR_UNSUPPORTED, "field 'target_modules'", "regex"},
        {"target_modules", "[\"query\", 3]", ERR_FORMAT, "field 'target_modules'", "a number"},
        {"target_modules", "[\"nothing\"]", ERR_CONFIG, "target_modules", "matches no Linear"},
        {"target_modules", "[\"layer.0.attention.self.query\"]", ERR_UNSUPPORTED, "layer 1", NULL},
        {"target_modules", "[\"query\"]", ERR_FORMAT, "unexpected tensor",
         "attention.self.value.lora_A.weight"},
        {"target_modules", "[\"query\", \"value\", \"key\"]", ERR_FORMAT, "missing tensor",
         "attention.self.key.lora_A.weight"},
        {"layers_to_transform", "[0]", ERR_UNSUPPORTED, "layers_to_transform", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *j = cJSON_Duplicate(good, 1);
        if (cases[i].json) {
            cJSON *v = cJSON_Parse(cases[i].json);
            ck_assert_ptr_nonnull(v);
            if (cJSON_GetObjectItemCaseSensitive(j, cases[i].field))
                cJSON_ReplaceItemInObjectCaseSensitive(j, cases[i].field, v);
            else
                cJSON_AddItemToObject(j, cases[i].field, v);
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(j, cases[i].field);
        }
        write_json(&d, j);
        cJSON_Delete(j);
        expect_load_error(&d, cases[i].code, cases[i].n1, cases[i].n2);
    }

    write_text(&d, "{\"peft_type\": \"LORA\", \"r\": 4,");
    expect_load_error(&d, ERR_FORMAT, "not valid JSON", "adapter_config.json");
    write_text(&d, "[1, 2]");
    expect_load_error(&d, ERR_FORMAT, "expected a JSON object", "an array");
    write_text(&d, "{\"peft_type\": \"LORA\", \"r\": 4, \"r\": 8}");
    expect_load_error(&d, ERR_FORMAT, "'r' given twice", NULL);
    /* PEFT's IA3 BERT default suffix-matches attention.output.dense as an input scaling */
    write_text(&d,
               "{\"peft_type\": \"IA3\", \"task_type\": \"SEQ_CLS\", \"target_modules\": null}");
    expect_load_error(&d, ERR_UNSUPPORTED, "attention.output.dense", "feedforward_modules");

    /* missing weights file */
    write_json(&d, good);
    char p[128];
    tmp_file(&d, PEFT_WEIGHTS_NAME, p, sizeof p);
    unlink(p);
    expect_load_error(&d, ERR_IO, PEFT_WEIGHTS_NAME, NULL);

    cJSON_Delete(good);
    tmp_remove(&d);
    fx_free(&f);
}
END_TEST

START_TEST(peft_save_rejects_other_methods)
{
    struct fx f;
    fx_init(&f, 0.1f);
    struct method_inst *mi = fx_attach(&f, "bitfit", "");
    struct err e;
    ck_assert_int_eq(peft_save("/tmp/peftbench-peft-never", mi, &f.m, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "bitfit"));
    ck_assert_int_ne(access("/tmp/peftbench-peft-never", F_OK), 0);
    fx_free(&f);
}
END_TEST

Suite *lora_ia3_suite(void)
{
    Suite *s = suite_create("lora_ia3");
    TCase *n = tcase_create("numerics");
    tcase_set_timeout(n, 300);
    tcase_add_test(n, lora_forward_matches_reference);
    tcase_add_test(n, ia3_forward_matches_reference);
    tcase_add_test(n, rslora_scaling);
    tcase_add_test(n, dropout_only_in_training);
    tcase_add_loop_test(n, merged_equals_unmerged, 0,
                        (int)(sizeof merge_cases / sizeof *merge_cases));
    tcase_add_loop_test(n, lora_ia3_composition, 0, 2);
    suite_add_tcase(s, n);
    TCase *er = tcase_create("errors");
    tcase_set_timeout(er, 300);
    tcase_add_test(er, ia3_merge_refuses_tiny_scale);
    tcase_add_test(er, lora_attach_under_merged_ia3_rejected);
    tcase_add_test(er, invalid_settings_rejected);
    suite_add_tcase(s, er);
    TCase *io = tcase_create("peft_format");
    tcase_set_timeout(io, 300);
    tcase_add_test(io, peft_save_lora_layout);
    tcase_add_test(io, peft_save_ia3_layout);
    tcase_add_loop_test(io, peft_load_round_trip, 0, (int)(sizeof rt_cases / sizeof *rt_cases));
    tcase_add_test(io, peft_load_follows_suffix_matching);
    tcase_add_test(io, peft_load_bad_config);
    tcase_add_test(io, peft_save_rejects_other_methods);
    suite_add_tcase(s, io);
    return s;
}
