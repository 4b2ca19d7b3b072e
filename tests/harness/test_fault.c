/*
 * The test-only fault switches of the nightly self-test (harness/sweep/train_fault.h): parsing
 * (good values, and each kind of bad value an error naming the variable; `peftbench run` exits 2
 * with the message), and their effect on a tiny model with LoRA (tests/methods/lora_ia3_fixture):
 * a frozen method's tensors keep their values through an optimizer update while the head's
 * change; slowed hooks give the same outputs and are the originals again after
 * train_fault_end (merge finds them); grown activations raise the arena's high-water mark by
 * the fraction and no more, however many steps run.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"
#include "harness/sweep/train_fault.h"
#include "methods/registry.h"
#include "tests/cli_util.h"
#include "tests/methods/lora_ia3_fixture.h"
#include "tests/suites.h"

static int parse(struct train_fault *f, const char *fr, const char *sl, const char *gr,
                 struct err *e)
{
    err_clear(e);
    return train_fault_parse(f, fr, sl, gr, e);
}

START_TEST(parse_good_values)
{
    struct train_fault f;
    struct err e;
    ck_assert_int_eq(parse(&f, NULL, NULL, NULL, &e), 0);
    ck_assert(!train_fault_any(&f));
    ck_assert_int_eq(parse(&f, "", "", "", &e), 0);
    ck_assert(!train_fault_any(&f));
    ck_assert_int_eq(parse(&f, "lora", "houlsby:0.3", "0.2", &e), 0);
    ck_assert_str_eq(f.freeze, "lora");
    ck_assert_str_eq(f.slow, "houlsby");
    ck_assert(f.slow_frac == 0.3 && f.grow_act == 0.2);
    char buf[160];
    train_fault_describe(&f, buf, sizeof buf);
    ck_assert_str_eq(buf, "FREEZE=lora SLOW_HOOK=houlsby:0.3 GROW_ACT=0.2");
    ck_assert_int_eq(parse(&f, NULL, "compacter++:1", NULL, &e), 0);
    ck_assert_str_eq(f.slow, "compacter++");
}
END_TEST

START_TEST(parse_bad_values)
{
    static const struct {
        const char *fr, *sl, *gr, *want;
    } bad[] = {
        {"nosuch", NULL, NULL, "PEFTBENCH_FAULT_FREEZE='nosuch': unknown method"},
        {"lora:0.3", NULL, NULL, "unknown method"},
        {NULL, "lora", NULL, "PEFTBENCH_FAULT_SLOW_HOOK='lora': expected <method>:<fraction>"},
        {NULL, ":0.3", NULL, "expected a method name"},
        {NULL, "nosuch:0.3", NULL, "unknown method 'nosuch'"},
        {NULL, "lora:", NULL, "expected a fraction"},
        {NULL, "lora:abc", NULL, "got 'abc'"},
        {NULL, "lora:0.3x", NULL, "got '0.3x'"},
        {NULL, "lora:0", NULL, "expected a fraction in (0, 10]"},
        {NULL, "lora:-0.3", NULL, "expected a fraction"},
        {NULL, "lora:nan", NULL, "expected a fraction"},
        {NULL, NULL, "abc", "PEFTBENCH_FAULT_GROW_ACT='abc'"},
        {NULL, NULL, "20%", "got '20%'"},
        {NULL, NULL, "11", "expected a fraction in (0, 10]"},
        {NULL, NULL, "inf", "expected a fraction"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct train_fault f;
        struct err e;
        ck_assert_msg(parse(&f, bad[i].fr, bad[i].sl, bad[i].gr, &e) == ERR_CONFIG,
                      "case %zu accepted", i);
        ck_assert_msg(strstr(e.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, e.msg,
                      bad[i].want);
    }
}
END_TEST

/* A bad value stops `run` before anything is read or built: exit 2, the message on stderr. */
START_TEST(run_exits_2_on_a_bad_value)
{
    char dir[] = "/tmp/peftbench-fault-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *b = peftbench_bin();
    ck_assert_int_eq(sh("PEFTBENCH_FAULT_GROW_ACT=abc %s run %s/absent.yaml --out %s/o "
                        ">/dev/null 2>%s/err",
                        b, dir, dir, dir),
                     2);
    ck_assert_int_eq(sh("grep -q \"PEFTBENCH_FAULT_GROW_ACT='abc'\" %s/err", dir), 0);
    ck_assert_int_eq(sh("PEFTBENCH_FAULT_FREEZE=nosuch %s run %s/absent.yaml >/dev/null "
                        "2>%s/err",
                        b, dir, dir),
                     2);
    ck_assert_int_eq(sh("grep -q \"unknown method 'nosuch'\" %s/err", dir), 0);
    ck_assert_int_eq(sh("PEFTBENCH_FAULT_SLOW_HOOK=lora %s run %s/absent.yaml >/dev/null "
                        "2>%s/err",
                        b, dir, dir),
                     2);
    ck_assert_int_eq(sh("grep -q 'expected <method>:<fraction>' %s/err", dir), 0);
    rm_tree(dir);
}
END_TEST

/* One training step's forward and backward on the fixture's batch. */
static void fwd_bwd(struct lfx *f, uint64_t step)
{
    struct err e;
    double loss;
    ck_assert_msg(model_forward(&f->m, &f->b, true, 1, step, NULL, &e) == 0, "%s", e.msg);
    param_store_zero_grads(&f->m.ps);
    ck_assert_msg(model_loss_backward(&f->m, &f->b, true, &loss, &e) == 0, "%s", e.msg);
}

START_TEST(freeze_keeps_the_method_tensors)
{
    struct lfx f;
    lfx_init(&f, 0.0f);
    lfx_attach(&f, "lora", "rank=2");
    perturb(&f, "lora.", 0.5f, 3); /* B != 0: A gets a gradient too */
    struct train_fault tf;
    struct err e;
    ck_assert_int_eq(parse(&tf, "lora", NULL, NULL, &e), 0);
    struct train_fault_run r;
    ck_assert_int_eq(train_fault_begin(&r, &tf, &f.m, f.mi, f.n, &e), 0);
    ck_assert_uint_eq(r.nfrozen, 2 * 2 * TL); /* A and B at query and value of each layer */
    struct param *A = P(&f, "lora.encoder.layer.%d.attention.self.%s.lora_A", 0, "query");
    struct param *head = NULL;
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (f.m.ps.items[i]->group == PGROUP_HEAD && f.m.ps.items[i]->trainable)
            head = f.m.ps.items[i];
    ck_assert_ptr_nonnull(head);
    float a0 = A->data[0], h0 = head->data[0];
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.lr = 0.1f;
    fwd_bwd(&f, 1);
    ck_assert(A->grad[0] != 0.0f || A->grad[1] != 0.0f); /* gradients still flow */
    train_fault_before_update(&r);
    adamw_step(&f.m.ps, &ac, 1);
    train_fault_after_update(&r);
    ck_assert(A->data[0] == a0);
    ck_assert(head->data[0] != h0);
    train_fault_end(&r);
    /* another method's name freezes nothing here */
    ck_assert_int_eq(parse(&tf, "houlsby", NULL, NULL, &e), 0);
    ck_assert_int_eq(train_fault_begin(&r, &tf, &f.m, f.mi, f.n, &e), 0);
    ck_assert_uint_eq(r.nfrozen, 0);
    train_fault_end(&r);
    lfx_free(&f);
}
END_TEST

START_TEST(slow_hook_same_output_longer_and_undone)
{
    struct lfx f;
    lfx_init(&f, 0.0f);
    lfx_attach(&f, "lora", "rank=2");
    perturb(&f, "lora.", 0.5f, 3);
    float plain[TB * TC], slow[TB * TC];
    lfx_logits(&f, false, 0, plain);
    struct hook saved[64];
    ck_assert_int_le(f.m.enc.hooks.n, 64);
    memcpy(saved, f.m.enc.hooks.items, (size_t)f.m.enc.hooks.n * sizeof *saved);
    struct train_fault tf;
    struct err e;
    ck_assert_int_eq(parse(&tf, NULL, "lora:3", NULL, &e), 0);
    struct train_fault_run r;
    ck_assert_int_eq(train_fault_begin(&r, &tf, &f.m, f.mi, f.n, &e), 0);
    ck_assert_int_eq(r.nwraps, f.m.enc.hooks.n);
    for (int i = 0; i < f.m.enc.hooks.n; i++)
        ck_assert(f.m.enc.hooks.items[i].fwd != saved[i].fwd);
    lfx_logits(&f, false, 0, slow);
    ck_assert_mem_eq(plain, slow, sizeof plain);
    fwd_bwd(&f, 1); /* the backward wrappers run too */
    train_fault_end(&r);
    ck_assert_mem_eq(f.m.enc.hooks.items, saved, (size_t)f.m.enc.hooks.n * sizeof *saved);
    ck_assert_msg(method_merge(&f.mi[0], &f.m, &e) == 0, "%s", e.msg); /* finds its hooks */
    lfx_free(&f);
}
END_TEST

START_TEST(grow_act_raises_the_high_water_mark_once)
{
    struct lfx f;
    lfx_init(&f, 0.0f);
    lfx_attach(&f, "lora", "rank=2");
    fwd_bwd(&f, 1);
    size_t need = f.m.enc.arena.high;
    struct train_fault tf;
    struct err e;
    ck_assert_int_eq(parse(&tf, NULL, NULL, "0.5", &e), 0);
    struct train_fault_run r;
    ck_assert_int_eq(train_fault_begin(&r, &tf, &f.m, f.mi, f.n, &e), 0);
    for (int step = 2; step < 6; step++) {
        train_fault_step_begin(&r);
        fwd_bwd(&f, (uint64_t)step);
        ck_assert_int_eq(train_fault_step_end(&r, &e), 0);
        ck_assert_uint_eq(r.act_need, need);
        /* 1.5 times the need, up to one alignment unit: not compounding over steps */
        ck_assert_uint_ge(f.m.enc.arena.high, need + need / 2);
        ck_assert_uint_le(f.m.enc.arena.high, need + need / 2 + 128);
    }
    train_fault_end(&r);
    lfx_free(&f);
}
END_TEST

Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("fault");
    tcase_add_test(tc, parse_good_values);
    tcase_add_test(tc, parse_bad_values);
    tcase_add_test(tc, run_exits_2_on_a_bad_value);
    tcase_add_test(tc, freeze_keeps_the_method_tensors);
    tcase_add_test(tc, slow_hook_same_output_longer_and_undone);
    tcase_add_test(tc, grow_act_raises_the_high_water_mark_once);
    suite_add_tcase(s, tc);
    return s;
}
