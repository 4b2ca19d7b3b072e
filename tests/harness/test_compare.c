/*
 * `peftbench compare`: identical files pass; an injected metric drop, slowdown,
 * memory growth, parameter-count change, status change or missing trial is a
 * regression; a slower machine (throughput and GEMM calibration both lower)
 * is not; changes within tolerance are not; and the exit codes of the real
 * binary (PEFTBENCH_BIN): 0 no regression, 1 regression, 2 unusable input (among
 * them a baseline without rows, an ok baseline trial without a usable metric, a
 * FIFO).  The sweep-level throughput check pools calibrated trials only and
 * needs two (the fuzzer's finding, kept as fuzz_one_matched_trial_sweep_speed).
 * Where both files have throughput_ratio, speed is judged on it (--ratio-tol): a loaded machine
 * (tok/s halved, calibration not) passes, a lower ratio does not, and the ratios pool into the
 * sweep-level mean; an empty or unusable ratio falls back to tok/s.
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
#include "tests/cli_util.h"
#include "tests/suites.h"

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

/* ---- bad input and the fuzzer's finding ---------------------------------------------- */

static const char *put_text(const char *name, const char *text)
{
    const char *path = tpath(name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* compare_files(base, cur) expected to fail: its code, with the message in e. */
static int compare_err(const char *base, const char *cur, struct err *e)
{
    struct compare_opts o;
    compare_opts_default(&o);
    struct compare_summary s;
    FILE *out = fopen("/dev/null", "w");
    err_clear(e);
    int rc = compare_files(base, cur, &o, out, &s, e);
    fclose(out);
    return rc;
}

static void assert_has(const char *msg, const char *want)
{
    ck_assert_msg(strstr(msg, want) != NULL, "'%s' not in: %s", want, msg);
}

/* A baseline with a header and no trials would pass any comparison: unusable input, exit 2. */
START_TEST(baseline_without_rows_is_unusable)
{
    const char *base = put_text("empty.csv", header);
    const char *cur = write_csv("cur.csv", base_rows, NROWS);
    struct err e;
    ck_assert_int_eq(compare_err(base, cur, &e), ERR_FORMAT);
    assert_has(e.msg, "empty.csv: no data rows (expected one row per trial under the header");
    const char *err = tpath("err.txt");
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null 2>%s", peftbench_bin(), base, cur, err), 2);
    ck_assert_int_eq(sh("grep -q 'baseline .*empty.csv: no data rows' %s", err), 0);
}
END_TEST

/* An ok baseline trial whose primary_value is empty, NaN, infinite or not a number: the
 * trial's verdict would be "-" and never a regression.  Unusable input naming file, line
 * (the trial's row: line 3 for the second trial) and column (primary_value is column 9). */
START_TEST(baseline_ok_trial_without_metric_is_unusable)
{
    static const struct {
        const char *cell, *found;
    } bad[] = {
        {"", "found an empty cell"}, {"nan", "found 'nan'"},   {"NaN", "found 'NaN'"},
        {"inf", "found 'inf'"},      {"0.8x", "found '0.8x'"}, {"accuracy", "found 'accuracy'"},
    };
    char cur[600]; /* a copy: tpath's buffers rotate */
    snprintf(cur, sizeof cur, "%s", write_csv("cur.csv", base_rows, NROWS));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "%s"
                 "nightly,00000000000000a1,0,ok,wn-pos,lora,1,accuracy,0.8,1154,130,1284,101284,"
                 "5000,20000000,90000000,40,4\n"
                 "nightly,00000000000000a2,1,ok,wn-pos,lora,1,accuracy,%s,2178,130,2308,102308,"
                 "4800,21000000,90000000,40,4\n",
                 header, bad[i].cell);
        const char *base = put_text("badmetric.csv", text);
        struct err e;
        ck_assert_int_eq(compare_err(base, cur, &e), ERR_FORMAT);
        assert_has(e.msg, "badmetric.csv:3: column 9 (primary_value): trial 00000000000000a2 "
                          "has status ok, so a finite number was expected");
        assert_has(e.msg, bad[i].found);
        const char *err = tpath("err.txt");
        ck_assert_int_eq(sh("%s compare %s %s >/dev/null 2>%s", peftbench_bin(), base, cur, err),
                         2);
        ck_assert_int_eq(sh("grep -q 'badmetric.csv:3: column 9 (primary_value)' %s", err), 0);
    }
    /* a diverged or failed baseline trial has no metric: that is no error */
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    rows[1].status = "diverged";
    const char *base = write_csv("div.csv", rows, NROWS);
    struct err e;
    ck_assert_msg(compare_err(base, cur, &e) == 0, "%s", e.msg);
}
END_TEST

/* A FIFO given as either file: refused at once (it would block the read forever), exit 2. */
START_TEST(fifo_input_is_refused)
{
    const char *fifo = tpath("pipe.csv");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *base = write_csv("base.csv", base_rows, NROWS);
    struct err e;
    alarm(10); /* a regression blocks in open or read: fail instead of hanging */
    ck_assert_int_eq(compare_err(fifo, base, &e), ERR_IO);
    assert_has(e.msg, "pipe.csv: not a regular file (a FIFO)");
    ck_assert_int_eq(compare_err(base, fifo, &e), ERR_IO);
    assert_has(e.msg, "pipe.csv: not a regular file (a FIFO)");
    const char *err = tpath("err.txt");
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null 2>%s", peftbench_bin(), base, fifo, err), 2);
    ck_assert_int_eq(sh("grep -q 'pipe.csv: not a regular file (a FIFO)' %s", err), 0);
    alarm(0);
}
END_TEST

/* The CI fuzz smoke's finding (tests/fuzz/fuzz_compare.c oracle): a baseline of three trials
 * (one diverged; the header's "spearman" misspelt) against a current file of two that share
 * one trial, whose throughput is 12% lower (within the trial's 15%), memory 12.5% lower, and
 * calibration empty.  The summary counted 3 regressions for 2 missing trials and a regressed
 * count of 0: the sweep-level throughput check had pooled that one trial's RAW tok/s ratio
 * (no calibration) into the mean of normalized ratios and judged it at 10%.  Now a raw ratio
 * is judged only for its trial, the sweep-level verdict needs two calibrated trials, and the
 * oracle counts the sweep term the header documents. */
static const char fuzz_cols[] =
    "sweep,trial_id,index,status,task,method,seed,model,primary_metric,primary_value,accuracy,"
    "spearmn,params_method,params_trainable,train_tokens_per_s,mem_peak_total,"
    "calibration_gflops,message\n";

static const char *fuzz_current(const char *name, const char *calib)
{
    char text[1024];
    snprintf(text, sizeof text,
             "%s"
             "grid,0123456789abcdee,0,ok,syn-sentiment,lora,1,builtin:tiny,accuracy,0.85,,,4096,"
             "4611,20000,3200000,80,\n"
             "grid,fedcba9876543210,1,ok,syn-sentiment,lora,1,builtin:tiny,accuracy,0.85,,,4096,"
             "4610,8800,1400000,%s,\n",
             fuzz_cols, calib);
    return put_text(name, text);
}

static struct compare_summary fuzz_run(const char *cur, bool allow_missing, char **text)
{
    char btext[1024];
    snprintf(btext, sizeof btext,
             "%s"
             "grid,0123456789abcdef,0,ok,syn-sentiment,lora,1,builtin:tiny,accuracy,0.85,,,4096,"
             "4610,10000,1600000,80,\n"
             "grid,fedcba9876543210,1,ok,syn-sentiment,lora,1,builtin:tiny,accuracy,0.85,,,4096,"
             "4610,10000,1600000,80,\n"
             "grid,00000000deadbeef,2,diverged,syn-sentiment,lora,1,builtin:tiny,accuracy,,,,"
             "4096,4610,,,80,\"loss NaN, \"\"step 7\"\"\"\n",
             fuzz_cols);
    const char *base = put_text("fuzz_base.csv", btext);
    struct compare_opts o;
    compare_opts_default(&o);
    o.allow_missing = allow_missing;
    struct compare_summary s;
    struct err e;
    size_t n = 0;
    FILE *out = open_memstream(text, &n);
    ck_assert_ptr_nonnull(out);
    int rc = compare_files(base, cur, &o, out, &s, &e);
    fclose(out);
    ck_assert_msg(rc == 0, "%s", e.msg);
    /* the fuzz oracle */
    ck_assert_int_le(s.regressed + s.improved, s.matched);
    ck_assert_int_eq(s.regressions,
                     s.regressed + (allow_missing ? 0 : s.missing) + (int)s.sweep_slower);
    return s;
}

START_TEST(fuzz_one_matched_trial_sweep_speed)
{
    char *text = NULL;
    struct compare_summary s = fuzz_run(fuzz_current("raw.csv", ""), false, &text);
    ck_assert_int_eq(s.matched, 1);
    ck_assert_int_eq(s.regressed, 0);
    ck_assert_int_eq(s.improved, 1); /* memory */
    ck_assert_int_eq(s.missing, 2);
    ck_assert_int_eq(s.added, 1);
    ck_assert_int_eq(s.speed_trials, 0); /* a raw tok/s ratio is not pooled */
    ck_assert(!s.sweep_slower);
    ck_assert_int_eq(s.regressions, 2);
    assert_has(text, "8800.0 (x0.88) raw tok/s");
    assert_has(text, "throughput over the sweep: not judged (0 trials with a calibration on both "
                     "sides; it takes 2)");
    free(text);
    s = fuzz_run(fuzz_current("raw.csv", ""), true, &text);
    ck_assert_int_eq(s.regressions, 0);
    free(text);
    /* calibrated on both sides: one trial's ratio is pooled but not judged a second time */
    s = fuzz_run(fuzz_current("cal.csv", "80"), false, &text);
    ck_assert_int_eq(s.speed_trials, 1);
    ck_assert(fabs(s.speed_gmean - 0.88) < 1e-9);
    ck_assert(!s.sweep_slower);
    ck_assert_int_eq(s.regressions, 2);
    assert_has(text, "not judged (1 trial with a calibration on both sides; it takes 2)");
    free(text);
}
END_TEST

/* Two calibrated trials 12% slower: the sweep-level check does judge them (x0.88 < 0.90). */
START_TEST(sweep_speed_needs_two_calibrated_trials)
{
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    rows[0].tps *= 0.88;
    rows[1].tps *= 0.88;
    rows[2].calib = 0; /* written as 0: no calibration, a raw ratio (unchanged here) */
    rows[3].id = "00000000000000ff";
    struct compare_opts o;
    compare_opts_default(&o);
    o.allow_missing = true;
    struct compare_summary s = run_compare(write_csv("two.csv", rows, NROWS), &o);
    ck_assert_int_eq(s.speed_trials, 2);
    ck_assert(fabs(s.speed_gmean - 0.88) < 1e-6);
    ck_assert(s.sweep_slower);
    ck_assert_int_eq(s.regressed, 0);
    ck_assert_int_eq(s.regressions, 1);
    rows[1].tps = base_rows[1].tps; /* one slow trial left */
    rows[1].id = "00000000000000fe";
    s = run_compare(write_csv("one.csv", rows, NROWS), &o);
    ck_assert_int_eq(s.speed_trials, 1);
    ck_assert(!s.sweep_slower);
    ck_assert_int_eq(s.regressions, 0);
}
END_TEST

/* Append a throughput_ratio column to the results.csv at path: q[i] for data row i, an empty
 * cell where q[i] is NaN. */
static void add_ratio_col(const char *path, const double *q)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char lines[NROWS + 1][1024];
    int n = 0;
    while (n <= NROWS && fgets(lines[n], sizeof lines[n], f))
        lines[n][strcspn(lines[n], "\n")] = '\0', n++;
    fclose(f);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s,throughput_ratio\n", lines[0]);
    for (int i = 1; i < n; i++) {
        if (isnan(q[i - 1]))
            fprintf(f, "%s,\n", lines[i]);
        else
            fprintf(f, "%s,%.9g\n", lines[i], q[i - 1]);
    }
    fclose(f);
}

static const double base_q[NROWS] = {0.80, 0.78, 0.90, 1.20};

/* compare_files on base.csv (with base_q) and the current rows with ratios q (NULL: no
 * column); the printed table into *text when text is not NULL. */
static struct compare_summary ratio_compare(const struct row *rows, const double *q,
                                            const struct compare_opts *o, char **text)
{
    struct compare_opts def;
    compare_opts_default(&def);
    const char *base = write_csv("base.csv", base_rows, NROWS);
    add_ratio_col(base, base_q);
    const char *cur = write_csv("cur.csv", rows, NROWS);
    if (q)
        add_ratio_col(cur, q);
    const char *outp = tpath("out.txt");
    FILE *out = fopen(outp, "w");
    struct compare_summary sum;
    struct err e;
    int rc = compare_files(base, cur, o ? o : &def, out, &sum, &e);
    fclose(out);
    ck_assert_msg(rc == 0, "compare failed: %s", e.msg);
    if (text) {
        FILE *f = fopen(outp, "r");
        *text = calloc(1, 65536);
        size_t got = fread(*text, 1, 65535, f);
        (*text)[got] = '\0';
        fclose(f);
    }
    return sum;
}

/* A loaded machine halves tokens/s without touching the GEMM calibration (measured before the
 * load): judged on tok/s that is a regression of every trial; judged on throughput_ratio, whose
 * two sides the load slowed alike, it is none. */
START_TEST(ratio_survives_a_loaded_machine)
{
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    for (int i = 0; i < NROWS; i++)
        rows[i].tps *= 0.5;
    char *text = NULL;
    struct compare_summary s = ratio_compare(rows, base_q, NULL, &text);
    ck_assert_int_eq(s.regressions, 0);
    ck_assert_int_eq(s.speed_trials, NROWS);
    ck_assert(fabs(s.speed_gmean - 1.0) < 1e-9);
    ck_assert_msg(strstr(text, "ratio 0.900 -> 0.900 (x1.00)"), "%s", text);
    free(text);
    /* without the column in the current file: tok/s over the calibration, all regressions */
    s = ratio_compare(rows, NULL, NULL, NULL);
    ck_assert_int_eq(s.regressed, NROWS);
}
END_TEST

/* One trial's ratio 25% lower is a speed regression even with tok/s unchanged; 5% lower is
 * within the default 10%, and beyond --ratio-tol 0.03; an empty cell falls back to tok/s. */
START_TEST(ratio_drop_is_a_regression)
{
    double q[NROWS];
    memcpy(q, base_q, sizeof q);
    q[2] = base_q[2] * 0.75;
    char *text = NULL;
    struct compare_summary s = ratio_compare(base_rows, q, NULL, &text);
    ck_assert_int_eq(s.regressed, 1);
    ck_assert_msg(strstr(text, "ratio 0.900 -> 0.675 (x0.75)") && strstr(text, "REGRESSION: speed"),
                  "%s", text);
    free(text);
    q[2] = base_q[2] * 0.95;
    s = ratio_compare(base_rows, q, NULL, NULL);
    ck_assert_int_eq(s.regressions, 0);
    struct compare_opts o;
    compare_opts_default(&o);
    o.ratio_tol = 0.03;
    s = ratio_compare(base_rows, q, &o, NULL);
    ck_assert_int_eq(s.regressed, 1);
    /* the speed tolerance of tok/s does not judge the ratio */
    o.ratio_tol = 0.10;
    o.speed_tol = 0.01;
    s = ratio_compare(base_rows, q, &o, NULL);
    ck_assert_int_eq(s.regressions, 0);
    /* a ratio higher by 20%: improved */
    q[2] = base_q[2] * 1.2;
    s = ratio_compare(base_rows, q, NULL, NULL);
    ck_assert_int_eq(s.improved, 1);
    /* row 2 without a ratio (empty, then not a number): its tok/s halved is judged */
    struct row rows[NROWS];
    memcpy(rows, base_rows, sizeof rows);
    rows[2].tps *= 0.5;
    q[2] = (double)NAN;
    s = ratio_compare(rows, q, NULL, NULL);
    ck_assert_int_eq(s.regressed, 1);
    q[2] = -1.0;
    s = ratio_compare(rows, q, NULL, NULL);
    ck_assert_int_eq(s.regressed, 1);
}
END_TEST

/* Every ratio 7% lower: within each trial's 10%, but the sweep's geometric mean is judged at
 * --sweep-speed-tol 0.05. */
START_TEST(ratio_pools_into_the_sweep_mean)
{
    double q[NROWS];
    for (int i = 0; i < NROWS; i++)
        q[i] = base_q[i] * 0.93;
    struct compare_opts o;
    compare_opts_default(&o);
    o.sweep_speed_tol = 0.05;
    struct compare_summary s = ratio_compare(base_rows, q, &o, NULL);
    ck_assert_int_eq(s.regressed, 0);
    ck_assert_int_eq(s.speed_trials, NROWS);
    ck_assert(fabs(s.speed_gmean - 0.93) < 1e-6);
    ck_assert(s.sweep_slower);
    ck_assert_int_eq(s.regressions, 1);
}
END_TEST

/* --ratio-tol reaches compare (and history) from the command line; outside [0, 1) it is a
 * usage error. */
START_TEST(ratio_tol_flag)
{
    const char *base = write_csv("base.csv", base_rows, NROWS);
    add_ratio_col(base, base_q);
    double q[NROWS];
    memcpy(q, base_q, sizeof q);
    q[0] *= 0.85;
    const char *cur = write_csv("cur.csv", base_rows, NROWS);
    add_ratio_col(cur, q);
    const char *b = peftbench_bin();
    ck_assert_int_eq(sh("%s compare %s %s >/dev/null", b, base, cur), 1);
    ck_assert_int_eq(sh("%s compare %s %s --ratio-tol 0.2 >/dev/null", b, base, cur), 0);
    ck_assert_int_eq(sh("%s compare %s %s --ratio-tol 1.5 >/dev/null 2>&1", b, base, cur), 2);
    ck_assert_int_eq(sh("%s compare %s %s --ratio-tol x >/dev/null 2>&1", b, base, cur), 2);
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
    tcase_add_test(tc, fuzz_one_matched_trial_sweep_speed);
    tcase_add_test(tc, sweep_speed_needs_two_calibrated_trials);
    tcase_add_test(tc, ratio_survives_a_loaded_machine);
    tcase_add_test(tc, ratio_drop_is_a_regression);
    tcase_add_test(tc, ratio_pools_into_the_sweep_mean);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unusable_input_is_an_error);
    tcase_add_test(tc, binary_exit_codes);
    tcase_add_test(tc, baseline_without_rows_is_unusable);
    tcase_add_test(tc, baseline_ok_trial_without_metric_is_unusable);
    tcase_add_test(tc, fifo_input_is_refused);
    tcase_add_test(tc, ratio_tol_flag);
    suite_add_tcase(s, tc);
    return s;
}
