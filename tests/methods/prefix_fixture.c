/* The fixture of the prefix-tuning tests (tests/methods/test_prefix_*.c): a tiny model with a
 * prefix instance, and the key/value rows it should serve computed independently in double
 * precision; see prefix_fixture.h. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/engine/rng.h"
#include "tests/methods/prefix_fixture.h"

static void tiny_cfg(struct bert_config *c, bool dropout)
{
    hfconfig_default(c);
    if (!dropout)
        c->hidden_dropout_prob = c->attention_probs_dropout_prob = 0.0f;
    c->vocab_size = PV;
    c->hidden_size = PD;
    c->num_hidden_layers = PL;
    c->num_attention_heads = PH;
    c->intermediate_size = 24;
    c->max_position_embeddings = 16;
    c->initializer_range = 0.3f;
}

/* Parse "k=v;k=v" (at most 8 pairs, each under 64 chars) for method ops on m (may be NULL). */
int parse_example(const struct method_ops *ops, const char *text, struct hp_values *hp,
                  const struct model *m, struct err *e)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    struct hp_kv kv[8];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok && n < 8;
         tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        kv[n++] = (struct hp_kv){tok, eq + 1, NULL};
    }
    return method_parse(ops, hp, kv, n, m, e);
}

/* A tiny model (BERT dropouts 0.1, or none) and its batch. */
void pfx_model_cfg(struct pfx *f, bool dropout)
{
    memset(f, 0, sizeof *f);
    mem_acct_init(&f->acct);
    struct bert_config cfg;
    tiny_cfg(&cfg, dropout);
    struct err e;
    ck_assert_msg(model_create(&f->m, &cfg, PC, &f->acct, &e) == 0, "%s", e.msg);
    f->m.enc.keep_all = true; /* attention_matches_manual reads enc.save[] after a forward */
    model_init_weights(&f->m, 5);
    struct rng r;
    rng_seed(&r, 11);
    const int len[PB] = {PT, 4, 1}; /* rows 1 and 2 padded; row 2 has one real token */
    for (int i = 0; i < PB; i++) {
        for (int j = 0; j < PT; j++) {
            int n = i * PT + j;
            f->mask[n] = j < len[i];
            f->ids[n] = f->mask[n] ? 2 + (int)rng_below(&r, PV - 2) : 0;
        }
        f->labels[i] = i % PC;
    }
    f->b = (struct batch){PB, PT, f->ids, NULL, f->mask, f->labels, NULL};
    for (int i = 0; i < PB * PC; i++)
        f->r[i] = rng_normal(&r);
    f->seed = 1234;
    f->step = 7;
    f->train = true;
}

void pfx_model(struct pfx *f)
{
    pfx_model_cfg(f, true);
}

void pfx_attach(struct pfx *f, const char *example)
{
    struct err e;
    ck_assert_msg(parse_example(&prefix_method, example, &f->hp, &f->m, &e) == 0, "%s: %s", example,
                  e.msg);
    ck_assert_msg(method_create(&f->mi, &prefix_method, &f->hp, &f->m, 42, &e) == 0, "%s: %s",
                  example, e.msg);
}

void pfx_init(struct pfx *f, const char *example)
{
    pfx_model(f);
    pfx_attach(f, example);
}

void pfx_free(struct pfx *f)
{
    hook_set_clear(&f->m.enc.hooks);
    method_destroy(&f->mi);
    model_destroy(&f->m);
    ck_assert_uint_eq(f->acct.cur_total, 0); /* every test is a leak test */
}

float *pfx_forward(struct pfx *f)
{
    struct err e;
    float *logits;
    ck_assert_msg(model_forward(&f->m, &f->b, f->train, f->seed, f->step, &logits, &e) == 0, "%s",
                  e.msg);
    return logits;
}

double pfx_loss(void *ctx)
{
    struct pfx *f = ctx;
    const float *logits = pfx_forward(f);
    double s = 0.0;
    for (int i = 0; i < PB * PC; i++)
        s += (double)logits[i] * (double)f->r[i];
    return s;
}

void pfx_backward(struct pfx *f)
{
    param_store_zero_grads(&f->m.ps);
    pfx_loss(f);
    struct err e;
    ck_assert_msg(model_backward(&f->m, f->r, &e) == 0, "%s", e.msg);
}

struct param *must_find(const struct pfx *f, const char *name)
{
    struct param *p = param_find(&f->m.ps, name);
    ck_assert_msg(p != NULL, "tensor %s not registered", name);
    return p;
}

/* Layer l's served rows after the last forward: keys then values, 2·P·D floats. */
void served_rows(const struct pfx *f, int l, float *out)
{
    const struct prefix_provider *pp = &f->m.enc.hooks.prefix;
    const float *pk, *pv;
    pp->kv(pp->user, l, &pk, &pv);
    memcpy(out, pk, (size_t)pp->P * PD * sizeof(float));
    memcpy(out + (size_t)pp->P * PD, pv, (size_t)pp->P * PD * sizeof(float));
}

/* ---- independent reference (double) -------------------------------------- */

double ref_act(int which, double x)
{
    switch (which) {
    case 1:
        return x > 0.0 ? x : 0.0;
    case 2:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    default:
        return tanh(x);
    }
}

/* Expected rows kv[((l*2 + s)*P + p)*D + d] (s = 0 keys, 1 values) from the
 * stored tensors, following METHODS.md §2.2 literally. */
double *ref_rows(const struct pfx *f)
{
    const int P = (int)hp_int(&f->hp, "prefix_length"), D = PD, L = PL;
    double *kv = calloc((size_t)2 * L * P * D, sizeof *kv);
    if (!hp_bool(&f->hp, "reparam")) {
        const struct param *fl = must_find(f, "prefix.prefix");
        for (size_t i = 0; i < fl->numel; i++)
            kv[i] = fl->data[i];
        return kv;
    }
    const int mid = (int)hp_int(&f->hp, "reparam_hidden"), W = 2 * L * D;
    const int act = hp_enum(&f->hp, "non_linearity");
    const struct param *E = must_find(f, "prefix.embedding"),
                       *W0 = must_find(f, "prefix.mlp.0.weight");
    const struct param *b0 = must_find(f, "prefix.mlp.0.bias"),
                       *W2 = must_find(f, "prefix.mlp.2.weight");
    const struct param *b2 = must_find(f, "prefix.mlp.2.bias");
    double *hid = calloc((size_t)mid, sizeof *hid);
    for (int p = 0; p < P; p++) {
        for (int j = 0; j < mid; j++) {
            double s = b0->data[j];
            for (int d = 0; d < D; d++)
                s += (double)E->data[p * D + d] * (double)W0->data[j * D + d];
            hid[j] = ref_act(act, s);
        }
        for (int c = 0; c < W; c++) {
            double s = b2->data[c];
            for (int j = 0; j < mid; j++)
                s += hid[j] * (double)W2->data[(size_t)c * mid + j];
            /* feature c = (layer, k/v, d) in the order layer0-K, layer0-V, layer1-K, ... */
            int l = c / (2 * D), kvs = (c / D) % 2, d = c % D;
            kv[(((size_t)l * 2 + kvs) * P + p) * D + d] = s;
        }
    }
    free(hid);
    return kv;
}

int n_examples(void)
{
    int n = 0;
    while (prefix_method.examples[n])
        n++;
    return n;
}
