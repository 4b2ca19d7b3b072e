/*
 * `peftbench compare`: identical files pass; an injected metric drop, slowdown,
 * memory growth, parameter-count change, status change or missing trial is a
 * regression; a slower machine (throughput and GEMM calibration both lower)
 * is not; changes within tolerance are not; and the exit codes of the real
 * binary (PEFTBENCH_BIN): 0 no regression, 1 regression, 2 unusable input.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/compare.h"
#include "tests/suites.h"
#include "tests/cli_util.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-compare-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

static const char *tpath(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* A results.csv: the columns compare needs plus a few it ignores. */
static const char header[] =
    "sweep,trial_id,index,status,task,method,seed,primary_metric,primary_value,params_method,"
    "params_head,params_trainable,params_total,train_tokens_per_s,mem_peak_total,peak_rss,"
    "calibration_gflops,lora.rank\n";

struct row {
    const char *id, *status, *method;
    double metric;
    long params;
    double tps, mem, calib;
};

static const struct row base_rows[] = {
    {"00000000000000a1", "ok", "lora", 0.80, 1284, 5000, 20e6, 40},
    {"00000000000000a2", "ok", "lora", 0.82, 2308, 4800, 21e6, 40},
    {"00000000000000a3", "ok", "ia3", 0.75, 516, 6000, 19e6, 40},
    {"00000000000000a4", "ok", "head", 0.60, 260, 9000, 18e6, 40},
};
#define NROWS 4

/* Write rows as a results.csv named name in the temp dir. */
static const char *write_csv(const char *name, const struct row *rows, int n)
{
    const char *path = tpath(name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(header, f);
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        bool ok = strcmp(r->status, "ok") == 0;
        fprintf(f, "nightly,%s,%d,%s,wn-pos,%s,1,accuracy,", r->id, i, r->status, r->method);
        if (ok)
            fprintf(f, "%.6g", r->metric);
        fprintf(f, ",%ld,130,%ld,%ld,", r->params - 130, r->params, 100000 + r->params);
        if (ok)
            fprintf(f, "%.6g,%.0f,", r->tps, r->mem);
        else
            fprintf(f, ",,");
        fprintf(f, "90000000,%.6g,%s\n", r->calib, strcmp(r->method, "lora") ? "" : "4");
    }
    fclose(f);
    return path;
}

static struct compare_summary run_compare(const char *cur, const struct compare_opts *o)
{
    struct compare_opts def;
    compare_opts_default(&def);
    struct compare_summary sum;
    struct err e;
    FILE *out = fopen("/dev/null", "w");
    const char *base = write_csv("base.csv", base_rows, NROWS);
    int rc = compare_files(base, cur, o ? o : &def, out, &sum, &e);
    fclose(out);
    ck_assert_msg(rc == 0, "compare failed: %s", e.msg);
    return sum;
}

/* The current file: the baseline with row `at` replaced by r. */
static const char *variant(const char *name, int at, struct row r)
{
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    rows[at] = r;
    return write_csv(name, rows, NROWS);
}

START_TEST(identical_files_pass)
{
    struct compare_summary s = run_compare(write_csv("same.csv", base_rows, NROWS), NULL);
    ck_assert_int_eq(s.matched, NROWS);
    ck_assert_int_eq(s.regressions, 0);
    ck_assert_int_eq(s.improved, 0);
    ck_assert_int_eq(s.missing + s.added, 0);
}
END_TEST

START_TEST(metric_drop_is_a_regression)
{
    struct row r = base_rows[1];
    r.metric -= 0.05;
    struct compare_summary s = run_compare(variant("drop.csv", 1, r), NULL);
    ck_assert_int_eq(s.regressed, 1);
    ck_assert_int_eq(s.regressions, 1);
    r.metric = base_rows[1].metric - 0.005; /* within the 0.01 tolerance */
    s = run_compare(variant("small.csv", 1, r), NULL);
    ck_assert_int_eq(s.regressions, 0);
    r.metric = base_rows[1].metric + 0.05;
    s = run_compare(variant("up.csv", 1, r), NULL);
    ck_assert_int_eq(s.regressions, 0);
    ck_assert_int_eq(s.improved, 1);
    /* a tighter tolerance catches the small drop */
    struct compare_opts o;
    compare_opts_default(&o);
    o.metric_tol = 0.001;
    r.metric = base_rows[1].metric - 0.005;
    s = run_compare(variant("small2.csv", 1, r), &o);
    ck_assert_int_eq(s.regressions, 1);
}
END_TEST

/* A slowdown of every trial by 12% passes each trial's 15% tolerance but not the sweep's 10%
 * on the geometric mean; 5% everywhere passes both; --sweep-speed-tol widens it. */
START_TEST(broad_slowdown_is_a_sweep_regression)
{
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    for (int i = 0; i < NROWS; i++)
        rows[i].tps *= 0.88;
    struct compare_summary s = run_compare(write_csv("broad.csv", rows, NROWS), NULL);
    ck_assert_int_eq(s.regressed, 0);
    ck_assert(s.sweep_slower);
    ck_assert_int_eq(s.regressions, 1);
    ck_assert(fabs(s.speed_gmean - 0.88) < 1e-6);
    struct compare_opts o;
    compare_opts_default(&o);
    o.sweep_speed_tol = 0.2;
    s = run_compare(write_csv("broad2.csv", rows, NROWS), &o);
    ck_assert_int_eq(s.regressions, 0);
    for (int i = 0; i < NROWS; i++)
        rows[i].tps = base_rows[i].tps * 0.95;
    s = run_compare(write_csv("mild.csv", rows, NROWS), NULL);
    ck_assert_int_eq(s.regressions, 0);
    ck_assert(!s.sweep_slower);
}
END_TEST

START_TEST(slowdown_is_a_regression_but_a_slower_machine_is_not)
{
    struct row r = base_rows[2];
    r.tps *= 0.5;
    struct compare_summary s = run_compare(variant("slow.csv", 2, r), NULL);
    ck_assert_int_eq(s.regressed, 1);
    ck_assert_int_ge(s.regressions, 1);
    /* the whole machine is half as fast: the calibration says so, no regression */
    r.calib *= 0.5;
    s = run_compare(variant("slowbox.csv", 2, r), NULL);
    ck_assert_int_eq(s.regressions, 0);
    /* a 10% dip is within the 15% tolerance */
    r = base_rows[2];
    r.tps *= 0.9;
    s = run_compare(variant("dip.csv", 2, r), NULL);
    ck_assert_int_eq(s.regressions, 0);
}
END_TEST

START_TEST(memory_growth_is_a_regression)
{
    struct row r = base_rows[0];
    r.mem *= 1.5;
    struct compare_summary s = run_compare(variant("mem.csv", 0, r), NULL);
    ck_assert_int_eq(s.regressions, 1);
    r.mem = base_rows[0].mem * 1.05;
    s = run_compare(variant("mem2.csv", 0, r), NULL);
    ck_assert_int_eq(s.regressions, 0);
}
END_TEST

START_TEST(parameter_count_must_match_exactly)
{
    struct row r = base_rows[3];
    r.params += 1;
    struct compare_summary s = run_compare(variant("params.csv", 3, r), NULL);
    ck_assert_int_eq(s.regressed, 1);
    ck_assert_int_eq(s.regressions, 1);
}
END_TEST

START_TEST(status_change_is_a_regression)
{
    struct row r = base_rows[0];
    r.status = "diverged";
    struct compare_summary s = run_compare(variant("div.csv", 0, r), NULL);
    ck_assert_int_eq(s.regressions, 1);
}
END_TEST

START_TEST(missing_and_new_trials)
{
    /* the last baseline trial is missing; a new one appears */
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    rows[3].id = "00000000000000ff";
    const char *cur = write_csv("moved.csv", rows, NROWS);
    struct compare_summary s = run_compare(cur, NULL);
    ck_assert_int_eq(s.matched, NROWS - 1);
    ck_assert_int_eq(s.missing, 1);
    ck_assert_int_eq(s.added, 1);
    ck_assert_int_eq(s.regressions, 1);
    struct compare_opts o;
    compare_opts_default(&o);
    o.allow_missing = true;
    s = run_compare(cur, &o);
    ck_assert_int_eq(s.regressions, 0);
    /* only a new trial: not a regression */
    struct row more[NROWS + 1];
    memcpy(more, base_rows, sizeof base_rows);
    more[NROWS] = base_rows[0];
    more[NROWS].id = "00000000000000b0";
    s = run_compare(write_csv("more.csv", more, NROWS + 1), NULL);
    ck_assert_int_eq(s.added, 1);
    ck_assert_int_eq(s.regressions, 0);
}
END_TEST

START_TEST(unusable_input_is_an_error)
{
    struct compare_opts o;
    compare_opts_default(&o);
    struct compare_summary s;
    struct err e;
    FILE *out = fopen("/dev/null", "w");
    const char *base = write_csv("base.csv", base_rows, NROWS);
    ck_assert_int_eq(compare_files(base, tpath("absent.csv"), &o, out, &s, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "absent.csv"));
    FILE *f = fopen(tpath("cols.csv"), "w");
    fputs("trial_id,status,primary_value\n00000000000000a1,ok,0.8\n", f);
    fclose(f);
    ck_assert_int_eq(compare_files(base, tpath("cols.csv"), &o, out, &s, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "missing required column(s) params_trainable"), "%s", e.msg);
    struct row rows[2] = {base_rows[0], base_rows[0]};
    write_csv("dup.csv", rows, 2);
    ck_assert_int_eq(compare_files(base, tpath("dup.csv"), &o, out, &s, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "appears twice"), "%s", e.msg);
    fclose(out);
}
END_TEST

START_TEST(binary_exit_codes)
{
    const char *base = write_csv("base.csv", base_rows, NROWS);
    const char *same = write_csv("same.csv", base_rows, NROWS);
    struct row r = base_rows[1];
    r.metric -= 0.1;
    const char *worse = variant("worse.csv", 1, r);
    const char *b = peftbench_bin();
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null", b, base, same), 0);
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null", b, base, worse), 1);
    /* a looser tolerance accepts the drop */
    ck_assert_int_eq(sh("%s compare %s %s --metric-tol 0.2 >/dev/null", b, base, worse), 0);
    /* unusable input: 2, with a message naming the problem */
    const char *err = tpath("err.txt");
    ck_assert_int_eq(sh("%s compare %s %s/absent.csv >/dev/null 2>%s", b, base, tmpdir, err), 2);
    ck_assert_int_eq(sh("grep -q 'absent.csv' %s", err), 0);
    FILE *f = fopen(tpath("notcsv.txt"), "w");
    fputs("hello world\nthis is not a results file\n", f);
    fclose(f);
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null 2>%s", b, base, tpath("notcsv.txt"), err), 2);
    ck_assert_int_eq(sh("grep -q 'not a peftbench results.csv' %s", err), 0);
    f = fopen(tpath("partial.csv"), "w");
    fputs("trial_id,status\n00000000000000a1,ok\n", f);
    fclose(f);
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null 2>%s", b, base, tpath("partial.csv"), err), 2);
    ck_assert_int_eq(sh("grep -q 'missing required column' %s", err), 0);
    ck_assert_int_eq(sh("%s compare %s >/dev/null 2>&1", b, base), 2);
    ck_assert_int_eq(sh("%s compare %s %s --speed-tol x >/dev/null 2>&1", b, base, same), 2);
    ck_assert_int_eq(sh("%s compare %s %s --bogus >/dev/null 2>&1", b, base, same), 2);
    /* the table names the regression */
    ck_assert_int_eq(
        sh("%s compare %s %s 2>/dev/null | grep -q 'REGRESSION: metric'", b, base, worse), 0);
}
END_TEST

Suite *compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("verdicts");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identical_files_pass);
    tcase_add_test(tc, metric_drop_is_a_regression);
    tcase_add_test(tc, slowdown_is_a_regression_but_a_slower_machine_is_not);
    tcase_add_test(tc, broad_slowdown_is_a_sweep_regression);
    tcase_add_test(tc, memory_growth_is_a_regression);
    tcase_add_test(tc, parameter_count_must_match_exactly);
    tcase_add_test(tc, status_change_is_a_regression);
    tcase_add_test(tc, missing_and_new_trials);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unusable_input_is_an_error);
    tcase_add_test(tc, binary_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}
