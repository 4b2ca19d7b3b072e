/*
 * LoRA and IA3 forward passes: every site output against hand-built references, rsLoRA
 * scaling, LoRA dropout only in training (and a gradient check through it), and settings
 * that are rejected.
 * (tests/methods/test_methods.c gradient-checks and counts every registry example.)
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "methods/peft_format.h"
#include "methods/registry.h"
#include "tests/gradcheck.h"
#include "tests/methods/lora_ia3_fixture.h"
#include "tests/suites.h"

/* ---- LoRA forward ---------------------------------------------------------------- */

/* Every site output equals x0 (W + s B A)^T + b built by hand, and the logits equal a bare
 * model whose weights were merged by hand. */
START_TEST(lora_forward_matches_reference)
{
    struct lfx f, g;
    lfx_init(&f, 0.1f);
    lfx_init(&g, 0.1f);
    lfx_attach(&f, "lora", "rank=3;alpha=6;targets=q,k,v,o,ffn_in,ffn_out");
    perturb(&f, "lora.", 0.3f, 3);
    perturb_biases(&f, 4);
    perturb_biases(&g, 4);
    const double s = 6.0 / 3.0;
    float got[TB * TC], want[TB * TC];
    lfx_logits(&f, false, 1, got);
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
            assert_near(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
            memcpy(base_w(&g, l, site)->data, Wp, (size_t)IN * OUT * sizeof(float));
            free(Wp);
            free(y);
        }
    memcpy(g.m.cls_w->data, f.m.cls_w->data, g.m.cls_w->numel * sizeof(float));
    lfx_logits(&g, false, 1, want);
    assert_near(got, want, TB * TC, 1e-5f, "logits");
    lfx_free(&g);
    lfx_free(&f);
}
END_TEST

/* IA3: output scaling y = l ⊙ (x0 W^T + b) at q, k, v, o (attention.output.dense's output,
 * METHODS.md §11) and ffn_in; ffn_act: y = (l ⊙ x0) W2^T + b2 (x0 = the GELU output). */
START_TEST(ia3_forward_matches_reference)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    lfx_attach(&f, "ia3", "targets=k,v,q,o,ffn_act,ffn_in");
    perturb(&f, "ia3.", 0.3f, 3);
    perturb_biases(&f, 4);
    float lg[TB * TC];
    lfx_logits(&f, false, 1, lg);
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
            assert_near(sv->y, y, (size_t)N * OUT, 1e-5f, hook_site_name(site));
            free(x);
            free(y);
        }
    lfx_free(&f);
}
END_TEST

/* s = alpha/r, or alpha/sqrt(r) with rslora: the q-site delta is s · x0 A^T B^T. */
START_TEST(rslora_scaling)
{
    const int R = 4;
    float delta[2][TB * TT * TD];
    for (int rs = 0; rs < 2; rs++) {
        struct lfx f;
        lfx_init(&f, 0.0f);
        lfx_attach(&f, "lora", rs ? "rank=4;alpha=8;rslora=true" : "rank=4;alpha=8");
        perturb(&f, "lora.encoder.layer.0.attention.self.query.lora_B", 0.5f, 9);
        float lg[TB * TC];
        lfx_logits(&f, false, 1, lg);
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
        lfx_free(&f);
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
static struct lfx *g_fx;
static double train_loss(void *ctx)
{
    (void)ctx;
    float lg[TB * TC];
    lfx_logits(g_fx, true, 3, lg);
    double s = 0.0;
    for (int i = 0; i < TB * TC; i++)
        s += (double)lg[i] * (double)g_fx->r[i];
    return s;
}

START_TEST(dropout_only_in_training)
{
    struct lfx f, g;
    lfx_init(&f, 0.0f); /* backbone dropout off: only LoRA's acts */
    lfx_init(&g, 0.0f);
    lfx_attach(&f, "lora", "rank=4;dropout=0.5;targets=q,v,ffn_out");
    lfx_attach(&g, "lora", "rank=4;targets=q,v,ffn_out");
    perturb(&f, "lora.", 0.4f, 5);
    perturb(&g, "lora.", 0.4f, 5);
    float fe[TB * TC], ge[TB * TC], ft[TB * TC], ft2[TB * TC], ft3[TB * TC], gt[TB * TC];
    lfx_logits(&f, false, 1, fe);
    lfx_logits(&g, false, 1, ge);
    ck_assert(memcmp(fe, ge, sizeof fe) == 0); /* eval: dropout is off */
    lfx_logits(&g, true, 1, gt);
    ck_assert(memcmp(gt, ge, sizeof gt) == 0); /* p = 0: training = eval */
    lfx_logits(&f, true, 1, ft);
    lfx_logits(&f, true, 1, ft2);
    lfx_logits(&f, true, 2, ft3);
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
    lfx_free(&g);
    lfx_free(&f);
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
        struct lfx f;
        lfx_init(&f, 0.1f);
        struct err e;
        ck_assert_int_eq(lfx_try_attach(&f, cases[i].method, cases[i].ex, &e), cases[i].code);
        ck_assert_msg(strstr(e.msg, cases[i].needle) != NULL, "%s: %s", cases[i].ex, e.msg);
        ck_assert_int_eq(f.m.enc.hooks.n, 0);
        lfx_free(&f);
    }
    /* rank 16 is the largest valid one on D = 16 */
    struct lfx f;
    lfx_init(&f, 0.1f);
    lfx_attach(&f, "lora", "rank=16");
    lfx_free(&f);
}
END_TEST

Suite *lora_ia3_forward_suite(void)
{
    Suite *s = suite_create("lora_ia3_forward");
    TCase *n = tcase_create("numerics");
    tcase_set_timeout(n, 300);
    tcase_add_test(n, lora_forward_matches_reference);
    tcase_add_test(n, ia3_forward_matches_reference);
    tcase_add_test(n, rslora_scaling);
    tcase_add_test(n, dropout_only_in_training);
    suite_add_tcase(s, n);
    TCase *er = tcase_create("errors");
    tcase_set_timeout(er, 300);
    tcase_add_test(er, invalid_settings_rejected);
    suite_add_tcase(s, er);
    return s;
}
