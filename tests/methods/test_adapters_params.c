/*
 * Bottleneck adapters and Compacter (methods/bottleneck.c, adapters.c, compacter.c): the
 * initial distributions and their seeding, parameter counts (METHODS.md closed forms and the
 * registered tensors) and hyperparameter errors that name the offending key.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "methods/registry.h"
#include "tests/methods/adapter_fixture.h"
#include "tests/suites.h"

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

Suite *adapters_params_suite(void)
{
    Suite *s = suite_create("adapters_params");
    TCase *tc = tcase_create("init");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, init_ranges);
    tcase_add_test(tc, init_is_seeded);
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
