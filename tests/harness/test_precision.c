/*
 * train.precision (issue 18) in the sweep file: parsed strictly (fp32 | bf16), default fp32,
 * settable by the command-line override train.precision=bf16 and as a method block's axis, and
 * part of every trial's canonical text, so fp32 and bf16 trials have different ids.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/sweep/sweep.h"
#include "model/engine/matmul.h"
#include "tests/suites.h"

static char path[64];

static int load(struct sweep *s, const char *train, const char *block, const char *over,
                struct err *e)
{
    snprintf(path, sizeof path, "/tmp/peftbench-prec-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "sweep: p\nmodel: M\ntasks: [syn-sentiment]\nseeds: [1]\n%smethods:\n  - %s\n",
            train, block);
    fclose(f);
    const char *ov[1] = {over};
    struct sweep_opts o = {.overrides = ov, .noverrides = over ? 1 : 0};
    memset(s, 0, sizeof *s);
    int rc = sweep_load(s, path, &o, e);
    unlink(path);
    return rc;
}

START_TEST(default_is_fp32_and_in_the_id)
{
    struct sweep a, b;
    struct err e = {0};
    ck_assert_msg(load(&a, "", "lora", NULL, &e) == 0, "%s", e.msg);
    ck_assert_msg(load(&b, "train: {precision: bf16}\n", "lora", NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.trials[0].train.precision, MATMUL_FP32);
    ck_assert_int_eq(b.trials[0].train.precision, MATMUL_BF16);
    ck_assert_ptr_nonnull(strstr(a.trials[0].canonical, "\ntrain.precision=fp32\n"));
    ck_assert_ptr_nonnull(strstr(b.trials[0].canonical, "\ntrain.precision=bf16\n"));
    ck_assert_str_ne(a.trials[0].id, b.trials[0].id);
    sweep_free(&a);
    sweep_free(&b);
}
END_TEST

START_TEST(override_and_axis)
{
    struct sweep s;
    struct err e = {0};
    ck_assert_msg(load(&s, "", "lora", "train.precision=bf16", &e) == 0, "%s", e.msg);
    ck_assert_int_eq(s.trials[0].train.precision, MATMUL_BF16);
    sweep_free(&s);
    ck_assert_msg(load(&s, "", "{method: lora, train: {precision: [fp32, bf16]}}", NULL, &e) == 0,
                  "%s", e.msg);
    ck_assert_uint_eq(s.ntrials, 2);
    ck_assert_int_eq(s.trials[0].train.precision, MATMUL_FP32);
    ck_assert_int_eq(s.trials[1].train.precision, MATMUL_BF16);
    sweep_free(&s);
}
END_TEST

START_TEST(bad_value_named)
{
    struct sweep s;
    struct err e = {0};
    ck_assert_int_ne(load(&s, "train: {precision: fp16}\n", "lora", NULL, &e), 0);
    ck_assert_msg(strstr(e.msg, "train.precision: expected fp32 or bf16, found 'fp16'"), "%s",
                  e.msg);
    sweep_free(&s);
}
END_TEST

Suite *precision_suite(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("sweep");
    tcase_add_test(tc, default_is_fp32_and_in_the_id);
    tcase_add_test(tc, override_and_axis);
    tcase_add_test(tc, bad_value_named);
    suite_add_tcase(s, tc);
    return s;
}
