/*
 * `peftbench bench`: the child-to-parent cell line round-trips, the table has a row per
 * method with sane numbers and the goals section, and bad options are refused clearly.
 * Tiny dims: this checks the machinery, not speed (speed goals live in `make bench`).
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/bench/bench.h"
#include "tests/suites.h"
#include "tests/cli_util.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(cell_line_round_trips)
{
    struct bench_cell c, d;
    memset(&c, 0, sizeof c);
    snprintf(c.method, sizeof c.method, "lora");
    c.threads = 2, c.peak_gflops = 123.5, c.step = 0.25, c.infer = 0.125;
    c.merged = c.merged_ratio = (double)NAN, c.flops_train = 1e9, c.flops_infer = 5e8;
    c.trainable = 66562, c.bwd_ratio = 1.0625, c.full_ratio = 0.6875;
    c.acct_base = 1000, c.acct_peak = 5000, c.rss_base = 4096, c.rss_peak = 8192;
    for (int k = 0; k < MEM_NCAT; k++)
        c.peak[k] = (size_t)(k + 1) * 1024;
    char buf[2048];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    bench_cell_print(&c, f);
    fclose(f);
    ck_assert(bench_cell_parse(buf, &d));
    ck_assert_str_eq(d.method, "lora");
    ck_assert_int_eq(d.threads, 2);
    ck_assert(d.step == 0.25 && d.infer == 0.125 && isnan(d.merged) && isnan(d.merged_ratio));
    ck_assert(d.bwd_ratio == 1.0625 && d.full_ratio == 0.6875);
    ck_assert_uint_eq(d.trainable, 66562);
    ck_assert_uint_eq(d.rss_peak, 8192);
    for (int k = 0; k < MEM_NCAT; k++)
        ck_assert_uint_eq(d.peak[k], c.peak[k]);
    /* a truncated or foreign line is refused */
    buf[strlen(buf) / 2] = '\0';
    ck_assert(!bench_cell_parse(buf, &d));
    ck_assert(!bench_cell_parse("cells method=lora", &d));
}
END_TEST

START_TEST(table_has_rows_and_goals)
{
    char out[] = "/tmp/peftbench-bench-XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(sh("%s bench --dims 2,32,2,64,50 --batch 2 --seq 8 --warmup 0 --repeats 1 "
                        "--threads 1 --method full --method head --method bare-bwd "
                        "--method lora --method ia3 > %s 2>/dev/null", peftbench_bin(), out), 0);
    const char *t = slurp(out);
    ck_assert_ptr_nonnull(strstr(t, "# size custom: L=2 D=32 H=2 F=64 V=50, batch 2x8"));
    static const char *rows[] = {"\nfull ", "\nhead ", "\nbare-bwd ", "\nlora ", "\nia3 "};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const char *r = strstr(t, rows[i]);
        ck_assert_msg(r != NULL, "no row%s", rows[i]);
        char name[16];
        int thr;
        size_t trainable;
        double step, tok;
        ck_assert_int_eq(sscanf(r + 1, "%15s %d %zu %lf %lf", name, &thr, &trainable, &step, &tok),
                         5);
        ck_assert_int_eq(thr, 1);
        ck_assert_msg(step > 0 && tok > 0, "%s: step %g ms, %g tok/s", name, step, tok);
    }
    /* full trains every backbone tensor: more trainable parameters than LoRA's */
    size_t tf, tl;
    ck_assert_int_eq(sscanf(strstr(t, "\nfull ") + 1, "%*s %*d %zu", &tf), 1);
    ck_assert_int_eq(sscanf(strstr(t, "\nlora ") + 1, "%*s %*d %zu", &tl), 1);
    ck_assert_uint_gt(tf, 10 * tl);
    ck_assert_ptr_nonnull(strstr(t, "# goals"));
    ck_assert_ptr_nonnull(strstr(t, "LoRA step / full step"));
    ck_assert_ptr_nonnull(strstr(t, "lora merged inference / bare inference"));
    ck_assert_ptr_nonnull(strstr(t, "accountant growth / RSS growth"));
    unlink(out);
}
END_TEST

START_TEST(bad_options_refused)
{
    char err[] = "/tmp/peftbench-bench-err-XXXXXX";
    int fd = mkstemp(err);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(sh("%s bench --dims 2,30,4,64,50 2> %s", peftbench_bin(), err), 2);
    ck_assert_ptr_nonnull(strstr(slurp(err), "--dims expects L,D,H,F,V"));
    ck_assert_int_eq(sh("%s bench --method nosuch 2> %s", peftbench_bin(), err), 2);
    ck_assert_ptr_nonnull(strstr(slurp(err), "nosuch"));
    ck_assert_int_eq(sh("%s bench --size huge 2> %s", peftbench_bin(), err), 2);
    ck_assert_ptr_nonnull(strstr(slurp(err), "'huge'"));
    ck_assert_int_eq(sh("%s bench --threads 0 2> %s", peftbench_bin(), err), 2);
    ck_assert_int_eq(sh("%s bench --cell --method lora --method full 2> %s", peftbench_bin(), err), 2);
    ck_assert_ptr_nonnull(strstr(slurp(err), "exactly one size, method and thread count"));
    unlink(err);
}
END_TEST

Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cell_line_round_trips);
    tcase_add_test(tc, table_has_rows_and_goals);
    tcase_add_test(tc, bad_options_refused);
    suite_add_tcase(s, tc);
    return s;
}
