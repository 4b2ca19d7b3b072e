/*
 * Merging LoRA and IA3 into the backbone: merged == unmerged (alone and composed), inert
 * merged hooks that refuse training, unmerge restoring the weights, the merge-order rule
 * (additive first, scaling last) and what a merge must refuse.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "methods/peft_format.h"
#include "methods/registry.h"
#include "tests/methods/lora_ia3_fixture.h"
#include "tests/suites.h"

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
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *mi = lfx_attach(&f, merge_cases[_i].method, merge_cases[_i].ex);
    perturb_biases(&f, 4);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    float before[TB * TC], merged[TB * TC], after[TB * TC];
    lfx_logits(&f, false, 1, before);
    float **s = snap(&f.m);
    struct err e;
    ck_assert_msg(method_merge(mi, &f.m, &e) == 0, "%s", e.msg);
    ck_assert(weights_changed(s, &f.m));
    lfx_logits(&f, false, 1, merged);
    assert_near(merged, before, TB * TC, 1e-5f, "merged logits");
    /* merged hooks are inert: the encoder does not run them (merged = bare cost) */
    for (int i = 0; i < f.m.enc.hooks.n; i++) {
        const struct hook *h = &f.m.enc.hooks.items[i], *got[4];
        ck_assert(hook_inert(h));
        ck_assert_int_eq(hook_find(&f.m.enc.hooks, h->layer, h->site, h->phase, got, 4), 0);
        ck_assert_int_ge(hook_find_any(&f.m.enc.hooks, h->layer, h->site, h->phase, got, 4), 1);
    }
    /* merged hooks refuse training */
    lfx_logits(&f, true, 1, after);
    float dl[TB * TC] = {1.0f};
    ck_assert_int_eq(model_backward(&f.m, dl, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "unmerge"));
    ck_assert_msg(method_unmerge(mi, &f.m, &e) == 0, "%s", e.msg);
    snap_check_free(s, &f.m, 1e-6f);
    lfx_logits(&f, false, 1, after);
    assert_near(after, before, TB * TC, 1e-5f, "unmerged logits");
    lfx_free(&f);
}
END_TEST

START_TEST(ia3_merge_refuses_tiny_scale)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *mi = lfx_attach(&f, "ia3", "");
    struct param *l = P(&f, "ia3.encoder.layer.%d.%s.ia3_l", 1, "attention.self.value");
    l->data[5] = 1e-8f;
    float **s = snap(&f.m);
    struct err e;
    ck_assert_int_eq(method_merge(mi, &f.m, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "ia3.encoder.layer.1.attention.self.value.ia3_l[5]"));
    ck_assert(!mi->merged);
    snap_check_free(s, &f.m, 0.0f); /* nothing touched */
    lfx_free(&f);
}
END_TEST

/* §11: y = l_out ⊙ ((l_in ⊙ x0) W^T + b + s (l_in ⊙ x0) A^T B^T), unmerged and merged,
 * both attach orders; merge additive first, scaling last, whatever the order. */
START_TEST(lora_ia3_composition)
{
    const int ia3_first = _i;
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *lo, *ia;
    if (ia3_first) {
        ia = lfx_attach(&f, "ia3", "targets=k,v,ffn_act");
        lo = lfx_attach(&f, "lora", "rank=2;alpha=3;targets=k,v,ffn_out");
    } else {
        lo = lfx_attach(&f, "lora", "rank=2;alpha=3;targets=k,v,ffn_out");
        ia = lfx_attach(&f, "ia3", "targets=k,v,ffn_act");
    }
    perturb_biases(&f, 4);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    float before[TB * TC], merged[TB * TC], after[TB * TC];
    lfx_logits(&f, false, 1, before);

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
        assert_near(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
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
    lfx_logits(&f, false, 1, merged);
    assert_near(merged, before, TB * TC, 1e-5f, "merged lora+ia3 logits");
    /* additive unmerged under a merged scaling: refused */
    ck_assert_int_eq(method_unmerge(lo, &f.m, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "ia3 [merged]"));
    ck_assert_msg(method_unmerge(ia, &f.m, &e) == 0, "%s", e.msg);
    ck_assert_msg(method_unmerge(lo, &f.m, &e) == 0, "%s", e.msg);
    snap_check_free(s, &f.m, 1e-6f);
    lfx_logits(&f, false, 1, after);
    assert_near(after, before, TB * TC, 1e-5f, "unmerged lora+ia3 logits");
    lfx_free(&f);
}
END_TEST

/* A LoRA cannot be attached under a merged IA3 scaling (it would not be scaled). */
START_TEST(lora_attach_under_merged_ia3_rejected)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *ia = lfx_attach(&f, "ia3", "targets=v");
    struct err e;
    ck_assert_int_eq(method_merge(ia, &f.m, &e), 0);
    int nh = f.m.enc.hooks.n;
    ck_assert_int_eq(lfx_try_attach(&f, "lora", "targets=q,v", &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "'v'"));
    ck_assert_int_eq(f.m.enc.hooks.n, nh);
    ck_assert_int_eq(method_unmerge(ia, &f.m, &e), 0);
    lfx_free(&f);
}
END_TEST

Suite *lora_ia3_merge_suite(void)
{
    Suite *s = suite_create("lora_ia3_merge");
    TCase *n = tcase_create("numerics");
    tcase_set_timeout(n, 300);
    tcase_add_loop_test(n, merged_equals_unmerged, 0,
                        (int)(sizeof merge_cases / sizeof *merge_cases));
    tcase_add_loop_test(n, lora_ia3_composition, 0, 2);
    suite_add_tcase(s, n);
    TCase *er = tcase_create("errors");
    tcase_set_timeout(er, 300);
    tcase_add_test(er, ia3_merge_refuses_tiny_scale);
    tcase_add_test(er, lora_attach_under_merged_ia3_rejected);
    suite_add_tcase(s, er);
    return s;
}
