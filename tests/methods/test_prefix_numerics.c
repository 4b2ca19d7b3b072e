/*
 * Prefix tuning (methods/prefix.c): the served key/value rows and the attention over them
 * against an independent double-precision computation, padding, the prefix's effect at init,
 * merge == MLP form, the flat prefix serving its own tensor, and prefix dropout.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "tests/methods/prefix_fixture.h"
#include "tests/suites.h"

/* ---- numerics: attention with the prefix --------------------------------- */

static const char *const attn_cases[] = {
    "prefix_length=3;reparam_hidden=8",
    "prefix_length=2;reparam=false",
    "prefix_length=4;reparam_hidden=6;non_linearity=relu",
    "prefix_length=3;reparam_hidden=5;non_linearity=gelu",
};

START_TEST(attention_matches_manual)
{
    struct pfx f;
    pfx_model_cfg(&f, false); /* a training step (activations kept) without dropout */
    pfx_attach(&f, attn_cases[_i]);
    pfx_forward(&f);
    const int P = (int)hp_int(&f.hp, "prefix_length"), D = PD, H = PH, Dh = D / H, T = PT;
    ck_assert_int_eq(f.m.enc.hooks.prefix.P, P);
    double *kv = ref_rows(&f);
    double sc[64], maxerr_p = 0, maxerr_c = 0;
    for (int l = 0; l < PL; l++) {
        const struct layer_save *sv = &f.m.enc.save[l];
        const double *pk = kv + (size_t)2 * l * P * D, *pv = pk + (size_t)P * D;
        const float *spk, *spv; /* what the provider serves = what the attention used */
        f.m.enc.hooks.prefix.kv(f.m.enc.hooks.prefix.user, l, &spk, &spv);
        ck_assert(spk == sv->pk && spv == sv->pv);
        for (int i = 0; i < P * D; i++) {
            ck_assert_msg(fabs((double)sv->pk[i] - pk[i]) <= 1e-5 * (1 + fabs(pk[i])),
                          "layer %d key %d: %g vs %g", l, i, (double)sv->pk[i], pk[i]);
            ck_assert_msg(fabs((double)sv->pv[i] - pv[i]) <= 1e-5 * (1 + fabs(pv[i])),
                          "layer %d value %d: %g vs %g", l, i, (double)sv->pv[i], pv[i]);
        }
        const float *q = sv->lin[SITE_Q].y, *k = sv->lin[SITE_K].y, *v = sv->lin[SITE_V].y;
        const float *ctx = sv->lin[SITE_O].x0;
        for (int b = 0; b < PB; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++) {
                    const float *qi = q + ((size_t)b * T + i) * D + h * Dh;
                    double mx = -HUGE_VAL, z = 0;
                    for (int j = 0; j < P + T; j++) {
                        double s = 0;
                        bool real = j >= P;
                        if (real && !f.mask[b * T + j - P]) {
                            sc[j] = -HUGE_VAL;
                            continue;
                        }
                        for (int d = 0; d < Dh; d++)
                            s += (double)qi[d] *
                                 (real ? (double)k[((size_t)b * T + j - P) * D + h * Dh + d]
                                       : pk[j * D + h * Dh + d]);
                        sc[j] = s / sqrt((double)Dh);
                        mx = fmax(mx, sc[j]);
                    }
                    for (int j = 0; j < P + T; j++)
                        z += sc[j] == -HUGE_VAL ? 0.0 : exp(sc[j] - mx);
                    const float *pr = sv->probs + (((size_t)b * H + h) * T + i) * (P + T);
                    double cref[16] = {0};
                    for (int j = 0; j < P + T; j++) {
                        double p = sc[j] == -HUGE_VAL ? 0.0 : exp(sc[j] - mx) / z;
                        if (j >= P && !f.mask[b * T + j - P])
                            ck_assert(pr[j] == 0.0f); /* padded real key: exactly 0 */
                        if (j < P)
                            ck_assert(pr[j] > 0.0f); /* prefix rows: always attendable */
                        maxerr_p = fmax(maxerr_p, fabs((double)pr[j] - p));
                        for (int d = 0; d < Dh; d++)
                            cref[d] +=
                                p * (j < P ? pv[j * D + h * Dh + d]
                                           : (double)v[((size_t)b * T + j - P) * D + h * Dh + d]);
                    }
                    for (int d = 0; d < Dh; d++)
                        maxerr_c =
                            fmax(maxerr_c,
                                 fabs((double)ctx[((size_t)b * T + i) * D + h * Dh + d] - cref[d]) /
                                     (1 + fabs(cref[d])));
                }
    }
    ck_assert_msg(maxerr_p < 1e-5, "%s: max prob error %g", attn_cases[_i], maxerr_p);
    ck_assert_msg(maxerr_c < 1e-4, "%s: max context error %g", attn_cases[_i], maxerr_c);
    free(kv);
    pfx_free(&f);
}
END_TEST

/* Padded tokens change nothing, even though prefix rows are attended by every query. */
START_TEST(padding_invariance_with_prefix)
{
    struct pfx f;
    pfx_init(&f, "prefix_length=3;reparam_hidden=8");
    f.train = false;
    float a[PB * PC];
    memcpy(a, pfx_forward(&f), sizeof a);
    for (int n = 0; n < PB * PT; n++)
        if (!f.mask[n])
            f.ids[n] = 1 + n % (PV - 1);
    const float *b = pfx_forward(&f);
    for (int i = 0; i < PB * PC; i++)
        ck_assert(fabsf(a[i] - b[i]) <= 1e-6f);
    pfx_free(&f);
}
END_TEST

START_TEST(not_identity_at_init)
{
    ck_assert(prefix_method.identity_at_init == NULL);
    struct pfx f;
    pfx_model(&f);
    f.train = false;
    float bare[PB * PC];
    memcpy(bare, pfx_forward(&f), sizeof bare);
    pfx_attach(&f, "prefix_length=3;reparam_hidden=8");
    const float *with = pfx_forward(&f);
    double diff = 0;
    for (int i = 0; i < PB * PC; i++)
        diff = fmax(diff, fabs(bare[i] - with[i]));
    ck_assert_msg(diff > 1e-3, "prefix did not change the outputs (%g)", diff);
    pfx_free(&f);
}
END_TEST

/* ---- merge ---------------------------------------------------------------- */

static const char *const merge_cases[] = {
    "",
    "prefix_length=3;reparam_hidden=8",
    "prefix_length=2;reparam=false",
    "prefix_length=4;reparam_hidden=6;non_linearity=relu;dropout=0.1",
};

START_TEST(merge_matches_mlp)
{
    struct pfx f;
    pfx_init(&f, merge_cases[_i]);
    f.train = false;
    float a[PB * PC];
    memcpy(a, pfx_forward(&f), sizeof a);
    size_t frozen = f.acct.cur[MEM_FROZEN];
    struct err e;
    ck_assert_msg(method_merge(&f.mi, &f.m, &e) == 0, "%s", e.msg);
    size_t stored = prefix_method.stored_params(f.mi.state, &f.m);
    ck_assert_uint_eq(f.acct.cur[MEM_FROZEN] - frozen, stored * sizeof(float));
    ck_assert(!f.m.enc.hooks.prefix.trainable);
    ck_assert(!encoder_needs_backward(&f.m.enc));
    const float *b = pfx_forward(&f);
    for (int i = 0; i < PB * PC; i++)
        ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-6f, "logit %d: %g vs %g", i, (double)a[i],
                      (double)b[i]);
    /* the merged form serves static rows: changing the training tensors shows nowhere */
    struct param *src = param_find(&f.m.ps, "prefix.embedding");
    if (!src)
        src = must_find(&f, "prefix.prefix");
    float keep = src->data[0];
    src->data[0] += 1.0f;
    b = pfx_forward(&f);
    for (int i = 0; i < PB * PC; i++)
        ck_assert(fabsf(a[i] - b[i]) <= 1e-6f);
    ck_assert_int_eq(method_merge(&f.mi, &f.m, &e), ERR_STATE);
    ck_assert_msg(method_unmerge(&f.mi, &f.m, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(f.acct.cur[MEM_FROZEN], frozen);
    ck_assert(f.m.enc.hooks.prefix.trainable);
    b = pfx_forward(&f);
    double diff = 0;
    for (int i = 0; i < PB * PC; i++)
        diff = fmax(diff, fabs(a[i] - b[i]));
    ck_assert_msg(diff > 1e-6, "unmerged model ignores its training tensors");
    src->data[0] = keep;
    b = pfx_forward(&f);
    for (int i = 0; i < PB * PC; i++)
        ck_assert(fabsf(a[i] - b[i]) <= 1e-6f);
    ck_assert_int_eq(method_unmerge(&f.mi, &f.m, &e), ERR_STATE);
    pfx_free(&f);
}
END_TEST

/* The flat prefix without dropout serves its own data and gradient. */
START_TEST(flat_serves_parameter)
{
    struct pfx f;
    pfx_init(&f, "prefix_length=2;reparam=false");
    const struct param *fl = must_find(&f, "prefix.prefix");
    pfx_backward(&f);
    const size_t PDn = 2 * PD;
    for (int l = 0; l < PL; l++) {
        ck_assert_ptr_eq(f.m.enc.save[l].pk, fl->data + 2 * l * PDn);
        ck_assert_ptr_eq(f.m.enc.save[l].pv, fl->data + (2 * l + 1) * PDn);
    }
    float *dpk, *dpv;
    f.m.enc.hooks.prefix.grad(f.m.enc.hooks.prefix.user, 1, &dpk, &dpv);
    ck_assert_ptr_eq(dpk, fl->grad + 2 * PDn);
    ck_assert_ptr_eq(dpv, fl->grad + 3 * PDn);
    pfx_free(&f);
}
END_TEST

/* Prefix dropout: training steps drop elements of the served rows (one
 * counter-RNG mask per step); evaluation steps do not. */
START_TEST(dropout_training_only)
{
    struct pfx f;
    pfx_init(&f, "prefix_length=4;reparam_hidden=6;dropout=0.5");
    enum { NR = 2 * 4 * PD };
    float ref[NR], m1[NR], cur[NR];
    f.train = false;
    pfx_forward(&f);
    served_rows(&f, 1, ref);
    f.train = true;
    pfx_forward(&f);
    served_rows(&f, 1, m1);
    int dropped = 0, kept = 0;
    for (int i = 0; i < NR; i++) {
        if (m1[i] == 0.0f) {
            dropped++;
        } else {
            ck_assert(fabsf(m1[i] - 2.0f * ref[i]) <= 1e-5f * (1.0f + fabsf(ref[i])));
            kept++;
        }
    }
    ck_assert(dropped > NR / 4 && kept > NR / 4);
    f.step++;
    pfx_forward(&f);
    served_rows(&f, 1, cur);
    ck_assert(memcmp(m1, cur, sizeof m1) != 0); /* a new mask each step */
    f.step--;
    pfx_forward(&f);
    served_rows(&f, 1, cur);
    ck_assert(memcmp(m1, cur, sizeof m1) == 0); /* reproducible */
    f.train = false;
    pfx_forward(&f);
    served_rows(&f, 1, cur);
    ck_assert(memcmp(ref, cur, sizeof ref) == 0); /* evaluation: no dropout */
    pfx_free(&f);
}
END_TEST

Suite *prefix_numerics_suite(void)
{
    Suite *s = suite_create("prefix_numerics");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, attention_matches_manual, 0,
                        (int)(sizeof attn_cases / sizeof *attn_cases));
    tcase_add_test(tc, padding_invariance_with_prefix);
    tcase_add_test(tc, not_identity_at_init);
    tcase_add_loop_test(tc, merge_matches_mlp, 0, (int)(sizeof merge_cases / sizeof *merge_cases));
    tcase_add_test(tc, flat_serves_parameter);
    tcase_add_test(tc, dropout_training_only);
    suite_add_tcase(s, tc);
    return s;
}
