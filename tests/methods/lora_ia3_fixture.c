/* The fixture of the LoRA / IA3 / PEFT-format tests (tests/methods/test_lora_ia3_*.c,
 * test_peft_format.c): a tiny model with methods attached, tensor lookup and naive
 * double-accumulation references; see lora_ia3_fixture.h. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "methods/peft_format.h"
#include "methods/registry.h"
#include "model/engine/rng.h"
#include "tests/methods/lora_ia3_fixture.h"

void lfx_init_arch(struct lfx *f, float drop, const char *arch)
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

void lfx_init(struct lfx *f, float drop)
{
    lfx_init_arch(f, drop, "bert");
}

void lfx_free(struct lfx *f)
{
    hook_set_clear(&f->m.enc.hooks);
    for (int i = f->n; i-- > 0;)
        method_destroy(&f->mi[i]);
    model_destroy(&f->m);
    ck_assert_uint_eq(f->acct.cur_total, 0);
}

/* Parse "k=v;k=v" and create the method on f's model; returns the rc, e filled. */
int lfx_try_attach(struct lfx *f, const char *method, const char *ex, struct err *e)
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

struct method_inst *lfx_attach(struct lfx *f, const char *method, const char *ex)
{
    struct err e;
    ck_assert_msg(lfx_try_attach(f, method, ex, &e) == 0, "%s '%s': %s", method, ex, e.msg);
    return &f->mi[f->n - 1];
}

void lfx_logits(struct lfx *f, bool train, uint64_t step, float *out)
{
    float *logits;
    struct err e;
    ck_assert_msg(model_forward(&f->m, &f->b, train, 7, step, &logits, &e) == 0, "%s", e.msg);
    memcpy(out, logits, TB * TC * sizeof(float));
}

/* Add scale·N(0,1) to every tensor whose name starts with prefix. */
void perturb(struct lfx *f, const char *prefix, float scale, uint64_t seed)
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
void perturb_biases(struct lfx *f, uint64_t seed)
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

struct param *P(struct lfx *f, const char *fmt, int layer, const char *module)
{
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, fmt, layer, module);
    struct param *p = param_find(&f->m.ps, name);
    ck_assert_msg(p != NULL, "no tensor %s", name);
    return p;
}

struct param *base_w(struct lfx *f, int l, enum hook_site s)
{
    return P(f, "encoder.layer.%d.%s.weight", l, peft_site_module(s));
}

struct param *base_b(struct lfx *f, int l, enum hook_site s)
{
    return P(f, "encoder.layer.%d.%s.bias", l, peft_site_module(s));
}

/* y = x W^T + b, naive, double accumulation.  x (N, IN), W (OUT, IN), y (N, OUT). */
void ref_linear(float *y, const float *x, const float *W, const float *b, int N, int IN, int OUT)
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
void ref_merge(float *Wp, const float *W, const float *B, const float *A, double s, int IN, int OUT,
               int R)
{
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++) {
            double acc = 0.0;
            for (int k = 0; k < R; k++)
                acc += (double)B[o * R + k] * (double)A[k * IN + i];
            Wp[o * IN + i] = (float)((double)W[o * IN + i] + s * acc);
        }
}

void assert_near(const float *a, const float *b, size_t n, float tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i])), "%s[%zu]: %.9g vs %.9g",
                      what, i, (double)a[i], (double)b[i]);
}

void site_dims(enum hook_site s, int *IN, int *OUT)
{
    *IN = s == SITE_FFN_OUT ? TF : TD;
    *OUT = s == SITE_FFN_IN ? TF : TD;
}
