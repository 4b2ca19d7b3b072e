/*
 * Failures are loud (issue 16 §3), through the peftbench binary (PEFTBENCH_BIN): `run` ends
 * with "N ok, N diverged, N failed" and each failure's first line, exits 1 when a trial failed
 * and 0 otherwise; a failed trial is retried by the next run unless --skip-failed, a diverged
 * one stays done; report.md lists failed and diverged trials; a trial whose lock
 * (OUT/trials/<id>.lock) another process holds is skipped as "running elsewhere";
 * results.csv has git_commit and started_at, and diverged_step only for diverged trials;
 * an image gnuplot leaves incomplete (a full disk) never replaces a figure, is a warning
 * naming the file after `run` and makes `plot` exit 1; after the sweep changed, results.csv
 * (and so the summary, figures and report) holds the current plan's trials only, the other
 * records kept on disk and reported "not in this sweep".
 * A trial is made to fail with the PEFTBENCH_FAULT_FAIL_TRIAL testing aid (harness/run/run.c).
 */
#include <check.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/report/aggregate.h"
#include "harness/sweep/results.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char root[128]; /* per-suite temp dir: model, sweep, outputs */
static char bin[1024];

static const char sweep_yaml[] =
    "sweep: status\n"
    "model: %s/model\n"
    "tasks: [syn-sentiment]\n"
    "seeds: [1, 2]\n"
    "train: {epochs: 1, batch_size: 16, max_seq_len: 24, max_train: 32, max_dev: 16}\n"
    "methods:\n"
    "  - {method: lora, rank: 2}\n";

static void setup(void)
{
    const char *b = getenv("PEFTBENCH_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/peftbench");
    snprintf(root, sizeof root, "/tmp/peftbench-status-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    char path[256], text[1024];
    snprintf(path, sizeof path, "%s/vocab.txt", root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (char c = 'a'; c <= 'z'; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    fclose(f);
    ck_assert_int_eq(sh("%s init-model %s/model --vocab %s --layers 1 --hidden 16 --heads 2 "
                        "--ffn 32 --max-pos 64 >/dev/null",
                        bin, root, path),
                     0);
    snprintf(path, sizeof path, "%s/sweep.yaml", root);
    snprintf(text, sizeof text, sweep_yaml, root);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void teardown(void)
{
    rm_tree(root);
}

/* `[ENV] peftbench run sweep.yaml --out ROOT/OUT ARGS`: exit status; *log gets stdout+stderr
 * (free it). */
static int run(char **log, const char *env, const char *out, const char *args)
{
    char lp[512];
    snprintf(lp, sizeof lp, "%s/%s.log", root, out);
    int rc = sh("%s %s run %s/sweep.yaml --out %s/%s %s >%s 2>&1", env, bin, root, root, out,
                args, lp);
    *log = test_slurp(lp);
    ck_assert_ptr_nonnull(*log);
    return rc;
}

static void load_csv(struct agg_table *t, const char *out)
{
    char p[512];
    struct err e;
    snprintf(p, sizeof p, "%s/%s/results.csv", root, out);
    ck_assert_msg(agg_table_load(t, p, &e) == 0, "%s", e.msg);
}

/* Cell of column name in the row whose index is idx. */
static const char *cell(const struct agg_table *t, const char *idx, const char *name)
{
    int ci = agg_table_col(t, "index"), c = agg_table_col(t, name);
    ck_assert_msg(c >= 0, "results.csv has no column %s", name);
    for (size_t r = 0; r < t->nrows; r++)
        if (strcmp(agg_table_cell(t, r, ci), idx) == 0)
            return agg_table_cell(t, r, c);
    ck_abort_msg("no row with index %s", idx);
    return NULL;
}

static char *report_of(const char *out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s/report.md", root, out);
    char *r = test_slurp(p);
    ck_assert_msg(r != NULL, "no %s", p);
    return r;
}

START_TEST(failed_trial_exits_1_and_is_retried)
{
    char *log;
    ck_assert_int_eq(run(&log, "PEFTBENCH_FAULT_FAIL_TRIAL=1", "fail", ""), 1);
    ck_assert_msg(strstr(log, "1 ok, 0 diverged, 1 failed"), "%s", log);
    ck_assert_msg(strstr(log, "injected failure (PEFTBENCH_FAULT_FAIL_TRIAL=1)"), "%s", log);
    ck_assert_msg(!strstr(log, "  failed ") || !strstr(strstr(log, "  failed "), "second line"),
                  "only the first line of a message is summarised: %s", log);
    free(log);
    struct agg_table t;
    load_csv(&t, "fail");
    ck_assert_str_eq(cell(&t, "0", "status"), "ok");
    ck_assert_str_eq(cell(&t, "1", "status"), "failed");
    ck_assert_str_eq(cell(&t, "0", "diverged_step"), "");
    ck_assert_str_eq(cell(&t, "1", "diverged_step"), "");
    ck_assert_str_ne(cell(&t, "0", "git_commit"), "");
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_msg(regexec(&re, cell(&t, "1", "started_at"), 0, NULL, 0) == 0, "started_at '%s'",
                  cell(&t, "1", "started_at"));
    regfree(&re);
    agg_table_free(&t);
    char *rep = report_of("fail");
    ck_assert_msg(strstr(rep, "## Failed and diverged trials"), "%s", rep);
    ck_assert_msg(strstr(rep, "| failed | injected failure"), "%s", rep);
    free(rep);
    /* --skip-failed leaves it alone (nothing fails in this run: exit 0) */
    ck_assert_int_eq(run(&log, "", "fail", "--skip-failed"), 0);
    ck_assert_msg(strstr(log, "0 trials to run"), "%s", log);
    free(log);
    /* the default retries it; --retry-failed is still accepted */
    ck_assert_int_eq(run(&log, "", "fail", "--retry-failed"), 0);
    ck_assert_msg(strstr(log, "1 trials to run"), "%s", log);
    ck_assert_msg(strstr(log, "1 ok, 0 diverged, 0 failed"), "%s", log);
    free(log);
    load_csv(&t, "fail");
    ck_assert_str_eq(cell(&t, "1", "status"), "ok");
    agg_table_free(&t);
    rep = report_of("fail");
    ck_assert_msg(!strstr(rep, "Failed and diverged"), "%s", rep);
    free(rep);
}
END_TEST

START_TEST(diverged_trials_exit_0_and_stay_done)
{
    char *log;
    ck_assert_int_eq(run(&log, "PEFTBENCH_FAULT_NAN_STEP=1", "nan", ""), 0);
    ck_assert_msg(strstr(log, "0 ok, 2 diverged, 0 failed"), "%s", log);
    free(log);
    struct agg_table t;
    load_csv(&t, "nan");
    ck_assert_str_eq(cell(&t, "0", "diverged_step"), "1");
    agg_table_free(&t);
    char *rep = report_of("nan");
    ck_assert_msg(strstr(rep, "| diverged | non-finite loss at step 1"), "%s", rep);
    free(rep);
    ck_assert_int_eq(run(&log, "", "nan", ""), 0);
    ck_assert_msg(strstr(log, "0 trials to run, 2 already done"), "%s", log);
    free(log);
}
END_TEST

START_TEST(held_lock_skips_the_trial)
{
    char *log;
    /* the trial ids, from a plan (the same in every results directory) */
    ck_assert_int_eq(run(&log, "", "ids", "--trial 0"), 0);
    free(log);
    struct agg_table t;
    load_csv(&t, "ids");
    char id[64], dir[512], lock[600];
    snprintf(id, sizeof id, "%s", cell(&t, "0", "trial_id"));
    agg_table_free(&t);
    snprintf(dir, sizeof dir, "mkdir -p %s/locked/trials", root);
    ck_assert_int_eq(sh("%s", dir), 0);
    snprintf(lock, sizeof lock, "%s/locked/trials/%s.lock", root, id);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0); /* another "run" trains trial 0 */
    ck_assert_int_eq(run(&log, "", "locked", ""), 0);
    ck_assert_msg(strstr(log, "running elsewhere"), "%s", log);
    ck_assert_msg(strstr(log, "1 ok, 0 diverged, 0 failed, 1 running elsewhere"), "%s", log);
    free(log);
    load_csv(&t, "locked");
    ck_assert_int_eq((int)t.nrows, 1);
    ck_assert_str_eq(cell(&t, "1", "status"), "ok");
    agg_table_free(&t);
    close(fd); /* released: the next run trains it */
    ck_assert_int_eq(run(&log, "", "locked", ""), 0);
    ck_assert_msg(strstr(log, "1 ok, 0 diverged, 0 failed\n"), "%s", log);
    free(log);
}
END_TEST

/* A gnuplot that answers --version and writes a truncated PNG (the PNG signature only) and
 * no SVG, as gnuplot does on a full disk: peftbench must not take it for a figure. */
static const char fake_gnuplot[] =
    "#!/bin/sh\n"
    "if [ \"$1\" = --version ]; then echo 'gnuplot 5.4 patchlevel 4'; exit 0; fi\n"
    "d=$(printf '%s' \"$2\" | sed \"s/^cd '//; s/'$//\")\n"
    "n=$(basename \"$3\" .gp)\n"
    "printf '\\211PNG\\r\\n\\032\\n' > \"$d/$n.png\"\n"
    "exit 0\n";

START_TEST(truncated_figure_is_loud_and_never_kept)
{
    char bindir[256], path[300], *log;
    snprintf(bindir, sizeof bindir, "%s/fakebin", root);
    ck_assert_int_eq(sh("mkdir -p %s", bindir), 0);
    snprintf(path, sizeof path, "%s/gnuplot", bindir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(fake_gnuplot, f);
    fclose(f);
    ck_assert_int_eq(sh("chmod +x %s", path), 0);
    char env[512];
    snprintf(env, sizeof env, "PATH=%s:$PATH", bindir);
    /* after run: a warning naming the file and the cause; the run itself succeeded */
    ck_assert_int_eq(run(&log, env, "figs", ""), 0);
    ck_assert_msg(strstr(log, "warning: figures: gnuplot wrote an incomplete"), "%s", log);
    ck_assert_msg(strstr(log, "/figs/plots/") && strstr(log, ".png (8 bytes"), "%s", log);
    free(log);
    /* plot: exit 1, and no PNG/SVG (complete or not) and no temporary left in plots/ */
    char lp[512];
    snprintf(lp, sizeof lp, "%s/plot.log", root);
    ck_assert_int_eq(sh("%s %s plot %s/figs >%s 2>&1", env, bin, root, lp), 1);
    log = test_slurp(lp);
    ck_assert_msg(strstr(log, "incomplete"), "%s", log);
    free(log);
    ck_assert_int_eq(sh("ls -A %s/figs/plots | grep -E '[.](png|svg)$|^[.]render' >/dev/null",
                        root),
                     1);
}
END_TEST

START_TEST(changed_sweep_reports_only_its_trials)
{
    char *log;
    ck_assert_int_eq(run(&log, "", "changed", ""), 0); /* seeds 1 and 2 */
    free(log);
    ck_assert_int_eq(run(&log, "", "changed", "'seeds=[1, 3]'"), 0);
    ck_assert_msg(strstr(log, "1 trials to run, 1 already done"), "%s", log);
    ck_assert_msg(strstr(log, "1 records in ") && strstr(log, "are not in this sweep"), "%s", log);
    free(log);
    struct agg_table t;
    load_csv(&t, "changed");
    ck_assert_int_eq((int)t.nrows, 2);
    int cs = agg_table_col(&t, "seed");
    for (size_t r = 0; r < t.nrows; r++)
        ck_assert_str_ne(agg_table_cell(&t, r, cs), "2");
    agg_table_free(&t);
    char p[512];
    snprintf(p, sizeof p, "ls %s/changed/trials/*.json | wc -l | grep -qx 3", root);
    ck_assert_int_eq(sh("%s", p), 0); /* the seed-2 record is kept */
    /* collect follows the plan of the results directory's sweep.yaml (the last run's) */
    char lp[512];
    snprintf(lp, sizeof lp, "%s/collect.log", root);
    ck_assert_int_eq(sh("%s collect %s/changed >%s 2>&1", bin, root, lp), 0);
    log = test_slurp(lp);
    ck_assert_msg(strstr(log, "2 trials -> ") && strstr(log, "1 records of trials not in this"),
                  "%s", log);
    free(log);
    load_csv(&t, "changed");
    ck_assert_int_eq((int)t.nrows, 2);
    agg_table_free(&t);
}
END_TEST

/* A record whose status is missing or not a string is malformed: not done (the trial runs
 * again and its record is rewritten), never a crash of run, plan or ls. */
START_TEST(record_without_status_is_not_done)
{
    char dir[] = "/tmp/pb_status_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/trials", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    const char *bodies[] = {"{\"trial_id\": \"0123456789abcdef\"}", "{\"status\": 3}",
                            "{\"status\": null}",
                            "{\"trial_id\": \"0123456789abcdef\", \"status\": \"ok\"}"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/trials/0123456789abcdef.json", dir);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(bodies[i], f);
        fclose(f);
        ck_assert_msg(results_trial_done(dir, "0123456789abcdef", true) == (i == 3), "%s",
                      bodies[i]);
    }
    rm_tree(dir);
}
END_TEST

Suite *run_status_suite(void)
{
    Suite *s = suite_create("run_status");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, failed_trial_exits_1_and_is_retried);
    tcase_add_test(tc, diverged_trials_exit_0_and_stay_done);
    tcase_add_test(tc, held_lock_skips_the_trial);
    tcase_add_test(tc, truncated_figure_is_loud_and_never_kept);
    tcase_add_test(tc, changed_sweep_reports_only_its_trials);
    tcase_add_test(tc, record_without_status_is_not_done);
    suite_add_tcase(s, tc);
    return s;
}
