/*
 * Registry-driven method tests: every method in methods/list.def, every one of
 * its `examples`, gets the same checks, so a new method is covered without a
 * new test: finite-difference gradients (method tensors and dX through a
 * 2-layer encoder), closed-form parameter counts on two model sizes and the
 * BERT-base numbers of METHODS.md §7, identity at init, merge == unmerged,
 * frozen tensors untouched by a step, save/load round trip, rejected
 * hyperparameters with clear messages.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/gradcheck.h"
#include "methods/persist.h"
#include "methods/registry.h"
#include "model/engine/rng.h"
#include "tests/suites.h"

enum { MB = 2, MT = 5, MC = 3, MAX_INST = 4 };

struct mfix {
    struct mem_acct acct;
    struct model m;
    struct method_inst mi[MAX_INST];
    int n;
    int ids[MB * MT], types[MB * MT], mask[MB * MT], labels[MB];
    struct batch b;
    float r[MB * MC];
};

static void small_config(struct bert_config *c, int size)
{
    hfconfig_default(c);
    c->vocab_size = 30;
    c->hidden_size = size ? 32 : 16;
    c->num_attention_heads = 2;
    c->intermediate_size = size ? 48 : 24;
    c->num_hidden_layers = size ? 3 : 2;
    c->max_position_embeddings = 12;
    c->initializer_range = 0.3f;
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
}

/* Split "a=1;b=x,y" into kv pairs (buf keeps the strings). */
static int parse_example(const char *ex, char *buf, size_t n, struct hp_kv *kv)
{
    snprintf(buf, n, "%s", ex);
    int k = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok && k < HP_MAX;
         tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_msg(eq != NULL, "bad example '%s'", ex);
        *eq = '\0';
        kv[k++] = (struct hp_kv){tok, eq + 1, "example"};
    }
    return k;
}

static void mfix_init(struct mfix *f, int size)
{
    memset(f, 0, sizeof *f);
    mem_acct_init(&f->acct);
    struct bert_config c;
    small_config(&c, size);
    struct err e;
    ck_assert_msg(model_create(&f->m, &c, MC, &f->acct, &e) == 0, "%s", e.msg);
    model_init_weights(&f->m, 21);
    struct rng r;
    rng_seed(&r, 4);
    const int len[MB] = {MT, 3};
    for (int i = 0; i < MB; i++) {
        for (int j = 0; j < MT; j++) {
            int q = i * MT + j;
            f->mask[q] = j < len[i];
            f->ids[q] = f->mask[q] ? 1 + (int)rng_below(&r, 29) : 0;
            f->types[q] = j >= 2;
        }
        f->labels[i] = i;
    }
    for (int i = 0; i < MB * MC; i++)
        f->r[i] = rng_normal(&r);
    f->b = (struct batch){MB, MT, f->ids, f->types, f->mask, f->labels, NULL};
}

static void mfix_free(struct mfix *f)
{
    for (int i = f->n; i-- > 0;)
        method_destroy(&f->mi[i]);
    model_destroy(&f->m);
    ck_assert_uint_eq(f->acct.cur_total, 0);
}

/* Create method `name` with example string ex on the fixture's model. */
static void attach(struct mfix *f, const struct method_ops *ops, const char *ex)
{
    char buf[512];
    struct hp_kv kv[HP_MAX];
    int nkv = parse_example(ex, buf, sizeof buf, kv);
    struct hp_values hv;
    struct err e;
    ck_assert_msg(method_parse(ops, &hv, kv, nkv, &f->m, &e) == 0, "%s '%s': %s", ops->name, ex,
                  e.msg);
    ck_assert_int_lt(f->n, MAX_INST);
    ck_assert_msg(method_create(&f->mi[f->n], ops, &hv, &f->m, 77, &e) == 0, "%s '%s': %s",
                  ops->name, ex, e.msg);
    f->n++;
}

/* Move every method tensor away from its init (zero-up adapters, B=0 LoRA,
 * ones IA3 would hide gradients of the other factor). */
static void perturb_method_tensors(struct mfix *f, float scale)
{
    struct rng r;
    rng_seed(&r, 8);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        if (p->group == PGROUP_METHOD)
            for (size_t j = 0; j < p->numel; j++)
                p->data[j] += scale * rng_normal(&r);
    }
}

static double mloss(void *ctx)
{
    struct mfix *f = ctx;
    float *logits;
    struct err e;
    ck_assert_msg(model_forward(&f->m, &f->b, true, 5, 3, &logits, &e) == 0, "%s", e.msg);
    double s = 0.0;
    for (int i = 0; i < MB * MC; i++)
        s += (double)logits[i] * (double)f->r[i];
    return s;
}

static void mbackward(struct mfix *f)
{
    param_store_zero_grads(&f->m.ps);
    mloss(f);
    struct err e;
    ck_assert_msg(model_backward(&f->m, f->r, &e) == 0, "%s", e.msg);
}

static size_t method_trainable(const struct model *m)
{
    return param_store_trainable(&m->ps, PGROUP_COUNT) -
           param_store_trainable(&m->ps, PGROUP_HEAD);
}

/* ---- per method, per example ------------------------------------------------ */

static void free_snapshot(float **s, size_t n);

static void for_each_example(void (*fn)(const struct method_ops *, const char *))
{
    ck_assert_int_gt(registry_count(), 0);
    for (int i = 0; i < registry_count(); i++) {
        const struct method_ops *ops = registry_at(i);
        ck_assert_msg(ops->examples && ops->examples[0], "%s has no examples", ops->name);
        for (int k = 0; ops->examples[k]; k++)
            fn(ops, ops->examples[k]);
    }
}

static void gradcheck_one(const struct method_ops *ops, const char *ex)
{
    struct mfix f;
    mfix_init(&f, 0);
    attach(&f, ops, ex);
    perturb_method_tensors(&f, 0.2f);
    struct err e;
    /* the word embeddings trainable: their gradient is dX through every layer,
     * including every dX contribution of the method's hooks */
    ck_assert_int_eq(param_set_trainable(&f.m.ps, f.m.enc.word, true, &e), 0);
    mbackward(&f);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        struct param *p = f.m.ps.items[i];
        if (!p->trainable)
            continue;
        char name[256], rep[256];
        snprintf(name, sizeof name, "%s[%s] %s", ops->name, ex, p->name);
        int rc = gradcheck_tensor_h(name, mloss, &f, p->data, p->grad, p->numel, 5, 23, 2e-2,
                                    1e-2, 1e-4, rep, sizeof rep);
        ck_assert_msg(rc == 0, "%s", rep);
    }
    mfix_free(&f);
}

START_TEST(gradients_of_every_method)
{
    for_each_example(gradcheck_one);
}
END_TEST

/* Logits and every trainable gradient of one training step (dropout on), with the last layer
 * computed for every token (all_rows) or for each sequence's first token only. */
static void step_grads(struct mfix *f, bool all_rows, float *logits_out, float **grads)
{
    f->m.all_rows = all_rows;
    param_store_zero_grads(&f->m.ps);
    float *logits;
    struct err e;
    ck_assert_msg(model_forward(&f->m, &f->b, true, 5, 3, &logits, &e) == 0, "%s", e.msg);
    memcpy(logits_out, logits, MB * MC * sizeof(float));
    ck_assert_msg(model_backward(&f->m, f->r, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f->m.enc.hidden_rows, all_rows ? MB * MT : MB);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        const struct param *p = f->m.ps.items[i];
        grads[i] = NULL;
        if (p->trainable) {
            grads[i] = malloc(p->numel * sizeof(float));
            memcpy(grads[i], p->grad, p->numel * sizeof(float));
        }
    }
}

static bool close_to(float a, float b)
{
    return fabsf(a - b) <= 1e-5f * (1.0f + fabsf(b));
}

/* The last layer run for the first tokens only (what the classification heads read) gives the
 * same logits and gradients as the full layer, dropout masks included: with the method's
 * tensors, the word embeddings (dX through every hook) and, in full_ft, every tensor trainable. */
static void first_token_check(const struct method_ops *ops, const char *ex, bool full_ft)
{
    struct mfix f;
    mfix_init(&f, 1); /* 3 layers: the compact layer's dX feeds two more */
    attach(&f, ops, ex);
    perturb_method_tensors(&f, 0.2f);
    struct err e;
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (full_ft || f.m.ps.items[i] == f.m.enc.word)
            ck_assert_int_eq(param_set_trainable(&f.m.ps, f.m.ps.items[i], true, &e), 0);
    float lc[MB * MC], la[MB * MC];
    float **gc = calloc(f.m.ps.n, sizeof *gc), **ga = calloc(f.m.ps.n, sizeof *ga);
    step_grads(&f, false, lc, gc);
    step_grads(&f, true, la, ga);
    for (int i = 0; i < MB * MC; i++)
        ck_assert_msg(close_to(lc[i], la[i]), "%s[%s] logit %d: first-token layer %g, full %g",
                      ops->name, ex, i, (double)lc[i], (double)la[i]);
    /* Gradients: within 1e-4 of each tensor's largest entry, plus 1e-6 of the model's largest
     * (summation order differs between the (B, .) and (N, .) products, and some gradients, such
     * as the key bias's, are zero up to rounding; a wrong mask or row is off by the entries'
     * own size). */
    float global = 0.0f;
    for (size_t i = 0; i < f.m.ps.n; i++)
        for (size_t j = 0; ga[i] && j < f.m.ps.items[i]->numel; j++)
            global = fmaxf(global, fabsf(ga[i][j]));
    int nonzero = 0;
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        float scale = 0.0f;
        for (size_t j = 0; gc[i] && j < p->numel; j++)
            scale = fmaxf(scale, fabsf(ga[i][j]));
        for (size_t j = 0; gc[i] && j < p->numel; j++) {
            ck_assert_msg(fabsf(gc[i][j] - ga[i][j]) <= 1e-4f * scale + 1e-6f * global,
                          "%s[%s]%s: d%s[%zu] first-token layer %g, full %g (largest %g)",
                          ops->name, ex, full_ft ? " (full FT)" : "", p->name, j,
                          (double)gc[i][j], (double)ga[i][j], (double)scale);
            nonzero += gc[i][j] != 0.0f;
        }
    }
    ck_assert_int_gt(nonzero, 0);
    free_snapshot(gc, f.m.ps.n);
    free_snapshot(ga, f.m.ps.n);
    mfix_free(&f);
}

static void first_token_one(const struct method_ops *ops, const char *ex)
{
    first_token_check(ops, ex, false);
    first_token_check(ops, ex, true);
}

START_TEST(first_token_last_layer_equals_full_layer)
{
    for_each_example(first_token_one);
}
END_TEST

static void count_one(const struct method_ops *ops, const char *ex)
{
    for (int size = 0; size < 2; size++) {
        struct mfix f;
        mfix_init(&f, size);
        attach(&f, ops, ex);
        size_t want = ops->count(&f.mi[0].hp, &f.m.cfg);
        ck_assert_msg(method_trainable(&f.m) == want, "%s[%s] size %d: %zu trainable, closed form %zu",
                      ops->name, ex, size, method_trainable(&f.m), want);
        mfix_free(&f);
    }
}

START_TEST(counts_match_closed_form)
{
    for_each_example(count_one);
}
END_TEST

static void logits_of(struct mfix *f, float *out)
{
    float *logits;
    struct err e;
    ck_assert_msg(model_forward(&f->m, &f->b, false, 1, 1, &logits, &e) == 0, "%s", e.msg);
    memcpy(out, logits, MB * MC * sizeof(float));
}

static void identity_one(const struct method_ops *ops, const char *ex)
{
    struct mfix f;
    mfix_init(&f, 0);
    float bare[MB * MC], with[MB * MC];
    logits_of(&f, bare);
    attach(&f, ops, ex);
    if (!ops->identity_at_init || !ops->identity_at_init(&f.mi[0].hp)) {
        mfix_free(&f);
        return;
    }
    logits_of(&f, with);
    for (int i = 0; i < MB * MC; i++)
        ck_assert_msg(fabsf(bare[i] - with[i]) <= 1e-6f, "%s[%s] not identity at init: %g vs %g",
                      ops->name, ex, (double)bare[i], (double)with[i]);
    mfix_free(&f);
}

START_TEST(identity_at_init_where_promised)
{
    for_each_example(identity_one);
}
END_TEST

static float **snapshot(const struct model *m)
{
    float **s = calloc(m->ps.n, sizeof *s);
    for (size_t i = 0; i < m->ps.n; i++) {
        s[i] = malloc(m->ps.items[i]->numel * sizeof(float));
        memcpy(s[i], m->ps.items[i]->data, m->ps.items[i]->numel * sizeof(float));
    }
    return s;
}

static void free_snapshot(float **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void merge_one(const struct method_ops *ops, const char *ex)
{
    if (!ops->merge)
        return;
    struct mfix f;
    mfix_init(&f, 0);
    attach(&f, ops, ex);
    perturb_method_tensors(&f, 0.3f);
    float before[MB * MC], merged[MB * MC], after[MB * MC];
    logits_of(&f, before);
    float **base = snapshot(&f.m);
    struct err e;
    ck_assert_msg(method_merge(&f.mi[0], &f.m, &e) == 0, "%s", e.msg);
    logits_of(&f, merged);
    for (int i = 0; i < MB * MC; i++)
        ck_assert_msg(fabsf(before[i] - merged[i]) <= 1e-5f * (1.0f + fabsf(before[i])),
                      "%s[%s] merged %g vs unmerged %g", ops->name, ex, (double)merged[i],
                      (double)before[i]);
    if (ops->unmerge) {
        ck_assert_msg(method_unmerge(&f.mi[0], &f.m, &e) == 0, "%s", e.msg);
        for (size_t i = 0; i < f.m.ps.n; i++) {
            const struct param *p = f.m.ps.items[i];
            for (size_t j = 0; j < p->numel; j++)
                ck_assert_msg(fabsf(p->data[j] - base[i][j]) <= 1e-5f * (1.0f + fabsf(base[i][j])),
                              "%s[%s] unmerge left %s[%zu] at %g (was %g)", ops->name, ex,
                              p->name, j, (double)p->data[j], (double)base[i][j]);
        }
        logits_of(&f, after);
        for (int i = 0; i < MB * MC; i++)
            ck_assert(fabsf(before[i] - after[i]) <= 1e-5f * (1.0f + fabsf(before[i])));
    }
    free_snapshot(base, f.m.ps.n);
    mfix_free(&f);
}

START_TEST(merged_equals_unmerged)
{
    for_each_example(merge_one);
}
END_TEST

static void step_one(const struct method_ops *ops, const char *ex)
{
    struct mfix f;
    mfix_init(&f, 0);
    attach(&f, ops, ex);
    float **s = snapshot(&f.m);
    mbackward(&f);
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.weight_decay = 0.01f;
    adamw_step(&f.m.ps, &ac, 1);
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        bool same = memcmp(s[i], p->data, p->numel * sizeof(float)) == 0;
        if (!p->trainable)
            ck_assert_msg(same, "%s[%s]: frozen %s changed", ops->name, ex, p->name);
        else
            ck_assert_ptr_nonnull(p->grad);
    }
    free_snapshot(s, f.m.ps.n);
    mfix_free(&f);
}

START_TEST(step_changes_only_trainable)
{
    for_each_example(step_one);
}
END_TEST

static void save_load_one(const struct method_ops *ops, const char *ex)
{
    struct mfix f, g;
    mfix_init(&f, 0);
    attach(&f, ops, ex);
    perturb_method_tensors(&f, 0.3f);
    /* give trainable backbone tensors (bitfit, full) a visible change too */
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (f.m.ps.items[i]->trainable)
            f.m.ps.items[i]->data[0] += 0.5f;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/peftbench-persist-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct err e;
    ck_assert_msg(persist_save(dir, &f.m, f.mi, f.n, &e) == 0, "%s", e.msg);
    float a[MB * MC], b[MB * MC];
    logits_of(&f, a);
    mfix_init(&g, 0); /* same backbone: same init seed */
    ck_assert_msg(persist_load(dir, &g.m, g.mi, &g.n, 1, &e) == 0, "%s[%s]: %s", ops->name, ex,
                  e.msg);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.m.load_warning, ""); /* finite tensors: nothing to report */
    logits_of(&g, b);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s[%s]: reloaded logits differ", ops->name, ex);
    char p[128];
    snprintf(p, sizeof p, "%s/adapter.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    unlink(p);
    rmdir(dir);
    mfix_free(&g);
    mfix_free(&f);
}

START_TEST(save_load_round_trip)
{
    for_each_example(save_load_one);
}
END_TEST

/* A NaN in a saved adapter tensor: persist_load loads it and names file and tensor in the
 * model's load_warning (model_check_finite then refuses it, the --strict policy). */
START_TEST(nonfinite_adapter_tensor_is_named)
{
    struct mfix f, g;
    mfix_init(&f, 0);
    attach(&f, method_find("lora"), "rank=2");
    struct param *bad = NULL;
    for (size_t i = 0; i < f.m.ps.n && !bad; i++)
        if (f.m.ps.items[i]->group == PGROUP_METHOD)
            bad = f.m.ps.items[i];
    ck_assert_ptr_nonnull(bad);
    bad->data[1] = NAN;
    char dir[64], want[512], p[128];
    snprintf(dir, sizeof dir, "/tmp/peftbench-persist-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct err e;
    ck_assert_msg(persist_save(dir, &f.m, f.mi, f.n, &e) == 0, "%s", e.msg);
    mfix_init(&g, 0);
    ck_assert_msg(persist_load(dir, &g.m, g.mi, &g.n, 1, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(g.m.load_nonfinite, 1);
    snprintf(want, sizeof want,
             "%s/adapter.safetensors: %s: 1 non-finite value (first at index 1: nan)", dir,
             bad->name);
    ck_assert_str_eq(g.m.load_warning, want);
    ck_assert_int_eq(model_check_finite(&g.m, &e), ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(e.msg, bad->name));
    snprintf(p, sizeof p, "%s/adapter.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    unlink(p);
    rmdir(dir);
    mfix_free(&g);
    mfix_free(&f);
}
END_TEST

/* ---- registry and hyperparameter errors --------------------------------------- */

START_TEST(registry_is_well_formed)
{
    for (int i = 0; i < registry_count(); i++) {
        const struct method_ops *a = registry_at(i);
        ck_assert_int_eq(a->abi, METHOD_ABI);
        ck_assert(a->create != NULL);
        ck_assert(a->count != NULL);
        ck_assert_ptr_nonnull(a->summary);
        ck_assert_ptr_nonnull(a->source);
        ck_assert(!a->unmerge || a->merge);
        ck_assert_ptr_eq(method_find(a->name), a);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(registry_at(j)->name, a->name);
        struct hp_values hv;
        struct err e;
        ck_assert_msg(method_parse(a, &hv, NULL, 0, NULL, &e) == 0, "%s defaults: %s", a->name,
                      e.msg);
    }
    struct err e;
    ck_assert_ptr_null(method_lookup("lorra", "x.yaml:3:5", &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "x.yaml:3:5"));
    ck_assert_ptr_nonnull(strstr(e.msg, "unknown method 'lorra'"));
    if (method_find("lora"))
        ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'lora'"));
}
END_TEST

/* Every declared hyperparameter, given a value of the wrong type or out of
 * range, is rejected with a message naming it. */
START_TEST(bad_hyperparameters_rejected)
{
    for (int i = 0; i < registry_count(); i++) {
        const struct method_ops *ops = registry_at(i);
        for (int k = 0; k < ops->nhps; k++) {
            const struct hp_def *d = &ops->hps[k];
            const char *bad[3] = {"banana", NULL, NULL};
            char lo[64], hi[64];
            if (d->type == HP_INT || d->type == HP_FLOAT) {
                snprintf(lo, sizeof lo, "%.17g", d->lo - 1.0);
                snprintf(hi, sizeof hi, "%.17g", d->hi * 2.0 + 1.0);
                bad[1] = isfinite(d->lo) && d->lo > -1e300 ? lo : NULL;
                bad[2] = isfinite(d->hi) && d->hi < 1e300 ? hi : NULL;
            }
            if (d->type == HP_BOOL)
                bad[1] = "yes"; /* YAML 1.1 would say true: we do not */
            for (int b = 0; b < 3; b++) {
                if (!bad[b])
                    continue;
                struct hp_kv kv = {d->name, bad[b], "s.yaml:1:1"};
                struct hp_values hv;
                struct err e;
                ck_assert_msg(method_parse(ops, &hv, &kv, 1, NULL, &e) != 0, "%s.%s=%s accepted",
                              ops->name, d->name, bad[b]);
                ck_assert_msg(strstr(e.msg, d->name) != NULL, "message lacks the key: %s", e.msg);
                ck_assert_msg(strstr(e.msg, "s.yaml:1:1") != NULL, "message lacks where: %s",
                              e.msg);
            }
        }
        struct hp_kv unk = {"rnak", "4", NULL};
        struct hp_values hv;
        struct err e;
        ck_assert_int_ne(method_parse(ops, &hv, &unk, 1, NULL, &e), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "rnak"));
    }
}
END_TEST

/* The rejections the issue names explicitly, when the methods exist. */
START_TEST(named_invalid_settings_rejected)
{
    struct {
        const char *method, *ex, *needle;
    } cases[] = {
        {"lora", "rank=0", "rank"},
        {"lora", "targets=q,x", "'x'"},
        {"ia3", "targets=q,banana", "banana"},
        {"houlsby", "bottleneck=8;reduction_factor=4", "reduction_factor"},
        {"compacter", "phm_dim=5", "phm_dim"},
        {"prefix", "prefix_length=0", "prefix_length"},
    };
    struct mfix f;
    mfix_init(&f, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct method_ops *ops = method_find(cases[i].method);
        ck_assert_msg(ops != NULL, "method %s is not registered", cases[i].method);
        char buf[256];
        struct hp_kv kv[HP_MAX];
        int n = parse_example(cases[i].ex, buf, sizeof buf, kv);
        struct hp_values hv;
        struct err e;
        ck_assert_msg(method_parse(ops, &hv, kv, n, &f.m, &e) != 0, "%s %s accepted",
                      cases[i].method, cases[i].ex);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "%s: %s", cases[i].ex, e.msg);
    }
    mfix_free(&f);
}
END_TEST

/* METHODS.md §7 (BERT-base, heads excluded), from the dims alone. */
START_TEST(bert_base_counts_from_methods_md)
{
    struct {
        const char *method, *ex;
        size_t want;
    } rows[] = {
        {"lora", "", 294912},
        {"lora", "rank=16", 589824},
        {"lora", "targets=q,k,v,o,ffn_in,ffn_out", 1327104},
        {"ia3", "", 55296},
        {"prefix", "", 9872384},
        {"houlsby", "bottleneck=64", 2379264},
        {"houlsby", "", 1789056},
        {"pfeiffer", "", 894528},
        {"parallel", "", 7091712},
        {"compacter", "", 57088},
        {"compacter++", "", 28576},
        {"head", "", 0},
    };
    struct bert_config base;
    hfconfig_default(&base); /* BertConfig defaults are bert-base */
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const struct method_ops *ops = method_find(rows[i].method);
        ck_assert_msg(ops != NULL, "method %s is not registered", rows[i].method);
        char buf[256];
        struct hp_kv kv[HP_MAX];
        int n = parse_example(rows[i].ex, buf, sizeof buf, kv);
        struct hp_values hv;
        struct err e;
        ck_assert_int_eq(method_parse(ops, &hv, kv, n, NULL, &e), 0);
        ck_assert_msg(ops->count(&hv, &base) == rows[i].want, "%s[%s]: %zu, METHODS.md %zu",
                      rows[i].method, rows[i].ex, ops->count(&hv, &base), rows[i].want);
    }
}
END_TEST

/* Compositions: MAM (prefix + parallel), LoRA + IA3, Houlsby + parallel. */
START_TEST(compositions_gradcheck_and_count)
{
    const char *pairs[][4] = {
        {"prefix", "prefix_length=3;reparam_hidden=8", "parallel", ""},
        {"lora", "targets=k,v", "ia3", "targets=k,v,ffn_act"},
        {"houlsby", "bottleneck=4", "parallel", "placement=both"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        const struct method_ops *a = method_find(pairs[i][0]), *b = method_find(pairs[i][2]);
        ck_assert_msg(a && b, "%s or %s missing", pairs[i][0], pairs[i][2]);
        struct mfix f;
        mfix_init(&f, 0);
        attach(&f, a, pairs[i][1]);
        attach(&f, b, pairs[i][3]);
        ck_assert_uint_eq(method_trainable(&f.m), a->count(&f.mi[0].hp, &f.m.cfg) +
                                                      b->count(&f.mi[1].hp, &f.m.cfg));
        perturb_method_tensors(&f, 0.2f);
        mbackward(&f);
        for (size_t k = 0; k < f.m.ps.n; k++) {
            struct param *p = f.m.ps.items[k];
            if (p->group != PGROUP_METHOD)
                continue;
            char rep[256];
            ck_assert_msg(gradcheck_tensor_h(p->name, mloss, &f, p->data, p->grad, p->numel, 4,
                                             3, 2e-2, 1e-2, 1e-4, rep, sizeof rep) == 0,
                          "%s+%s: %s", a->name, b->name, rep);
        }
        mfix_free(&f);
    }
}
END_TEST

START_TEST(two_pfeiffer_forms_on_one_block_rejected)
{
    const struct method_ops *p = method_find("pfeiffer"), *c = method_find("compacter++");
    ck_assert(p && c);
    struct mfix f;
    mfix_init(&f, 0);
    attach(&f, p, "");
    char buf[64];
    struct hp_kv kv[HP_MAX];
    int n = parse_example("reduction_factor=4", buf, sizeof buf, kv);
    struct hp_values hv;
    struct err e;
    ck_assert_int_eq(method_parse(c, &hv, kv, n, &f.m, &e), 0);
    ck_assert_int_ne(method_create(&f.mi[f.n], c, &hv, &f.m, 1, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "pfeiffer"));
    mfix_free(&f);
}
END_TEST

Suite *methods_suite(void)
{
    Suite *s = suite_create("methods");
    TCase *r = tcase_create("registry");
    tcase_add_test(r, registry_is_well_formed);
    tcase_add_test(r, bad_hyperparameters_rejected);
    tcase_add_test(r, named_invalid_settings_rejected);
    tcase_add_test(r, bert_base_counts_from_methods_md);
    suite_add_tcase(s, r);
    TCase *g = tcase_create("numerics");
    tcase_set_timeout(g, 900);
    tcase_add_test(g, gradients_of_every_method);
    tcase_add_test(g, first_token_last_layer_equals_full_layer);
    tcase_add_test(g, counts_match_closed_form);
    tcase_add_test(g, identity_at_init_where_promised);
    tcase_add_test(g, merged_equals_unmerged);
    tcase_add_test(g, step_changes_only_trainable);
    tcase_add_test(g, save_load_round_trip);
    tcase_add_test(g, nonfinite_adapter_tensor_is_named);
    tcase_add_test(g, compositions_gradcheck_and_count);
    tcase_add_test(g, two_pfeiffer_forms_on_one_block_rejected);
    suite_add_tcase(s, g);
    return s;
}
