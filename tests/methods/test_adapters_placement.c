/*
 * Bottleneck adapters and Compacter (methods/bottleneck.c, adapters.c, compacter.c): block
 * outputs against an explicit double-precision reference built from the saved block tensors
 * (Houlsby reads h, parallel reads the sublayer input, Pfeiffer reuses the block's LayerNorm),
 * composition rules on one block, and which settings are the identity at init.
 */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "methods/registry.h"
#include "tests/methods/adapter_fixture.h"
#include "tests/methods/adapter_ref.h"
#include "tests/suites.h"

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

Suite *adapters_placement_suite(void)
{
    Suite *s = suite_create("adapters_placement");
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
    suite_add_tcase(s, tc);
    return s;
}
