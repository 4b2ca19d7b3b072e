/* The fixture of the bottleneck-adapter tests (tests/methods/test_adapters_*.c): a tiny model,
 * a padded batch, methods attached from "k=v;k=v" settings; see adapter_fixture.h. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/engine/rng.h"
#include "tests/methods/adapter_fixture.h"

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

void fx_init_dims(struct fx *f, int D, int L, int H, int F)
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

void fx_init(struct fx *f)
{
    fx_init_dims(f, 16, 2, 2, 24);
}

void fx_free(struct fx *f)
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

int parse_hp(const char *method, const char *settings, const struct model *m, struct hp_values *hp,
             struct err *e)
{
    const struct method_ops *ops = method_find(method);
    ck_assert_msg(ops != NULL, "method %s not registered", method);
    char buf[512];
    struct hp_kv kv[HP_MAX];
    int n = parse_kv(settings, buf, sizeof buf, kv, HP_MAX);
    return method_parse(ops, hp, kv, n, m, e);
}

int attach(struct fx *f, const char *method, const char *settings, struct err *e)
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

void attach_ok(struct fx *f, const char *method, const char *settings)
{
    struct err e;
    ck_assert_msg(attach(f, method, settings, &e) == 0, "%s [%s]: %s", method, settings, e.msg);
}

/* Make the adapters' effect large and the LayerNorms non-trivial (gain 1, bias 0 would hide
 * which LayerNorm is applied). */
void randomize(struct fx *f, uint64_t seed)
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

float *forward(struct fx *f, bool train)
{
    struct err e;
    float *logits = NULL;
    ck_assert_msg(model_forward(&f->m, &f->b, train, 1234, 7, &logits, &e) == 0, "%s", e.msg);
    return logits;
}
