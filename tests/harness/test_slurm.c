/*
 * `peftbench slurm` without a cluster: quoting for the shell and for #SBATCH lines
 * (round trips through sh), --extra word splitting, the generated scripts (golden
 * text), missing-trial selection and the map, the array script run by sh with a
 * fake peftbench (map lookup, quoting of paths with a space and quotes, SIGTERM
 * passed on), `slurm --submit` against a fake sbatch (argv, job ids, dependency,
 * resume), and `run --trial-id / --no-csv` plus collect beside temp files.
 * The real Slurm daemons are exercised by tests/slurm_integration.sh.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/sweep/results.h"
#include "harness/cluster/slurm.h"
#include "harness/run/model_identity.h"
#include "harness/sweep/sweep.h"
#include "tests/suites.h"
#include "tests/cli_util.h"

static char root[128]; /* per-test temp dir; its name holds a space and a quote */
static char bin[4096];

static void tmp_setup(void)
{
    const char *b = getenv("PEFTBENCH_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/peftbench");
    if (bin[0] != '/') { /* the tests run the binary from other directories */
        char cwd[512];
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(bin, sizeof bin, "%s/%s", cwd, b ? b : "build/peftbench");
    }
    snprintf(root, sizeof root, "/tmp/peftbench-slurm it's XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void tmp_teardown(void)
{
    rm_tree(root);
}

/* Path of name inside root (rotating static buffers: a few may be live). */
static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, sizeof buf[0], "%s/%s", root, name);
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* Run a shell command (built with printf formats; quote paths with q()). */
/* s quoted for the shell, in rotating static buffers (for sh()). */
static const char *q(const char *s)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ & 7];
    char *t = slurm_quote_shell(s);
    ck_assert_ptr_nonnull(t);
    snprintf(p, sizeof buf[0], "%s", t);
    free(t);
    return p;
}

/* ---- quoting ---------------------------------------------------------------------- */

START_TEST(shell_quote_plain_and_quoted)
{
    static const char *const cases[][2] = {
        {"abc", "abc"},
        {"/a/b-c_d.e:f,g+h=i@j%k", "/a/b-c_d.e:f,g+h=i@j%k"},
        {"", "''"},
        {"a b", "'a b'"},
        {"it's", "'it'\\''s'"},
        {"$HOME", "'$HOME'"},
        {"tasks=[a, b]", "'tasks=[a, b]'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = slurm_quote_shell(cases[i][0]);
        ck_assert_str_eq(t, cases[i][1]);
        free(t);
    }
}
END_TEST

/* Whatever the bytes, `printf %s QUOTED` in sh prints them back unchanged. */
START_TEST(shell_quote_round_trips_through_sh)
{
    static const char *const words[] = {
        "plain",          "a b",      "it's",        "\"dq\"",
        "$(touch pwned)", "`id`",     "back\\slash", "semi;colon&amp|pipe",
        "new\nline",      "*?[glob]", "~user",       "#hash",
        "tab\there",      "",         "'''",         "%A_%a",
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        char *t = slurm_quote_shell(words[i]);
        ck_assert_int_eq(sh("cd %s && printf %%s %s > out.txt", q(root), t), 0);
        free(t);
        char *got = test_slurp(tpath("out.txt"));
        ck_assert_msg(strcmp(got, words[i]) == 0, "'%s' came back as '%s'", words[i], got);
        free(got);
    }
    ck_assert_int_ne(access(tpath("pwned"), F_OK), 0);
}
END_TEST

START_TEST(directive_quote)
{
    static const char *const cases[][2] = {
        {"gpu", "gpu"},
        {"1-00:00:00", "1-00:00:00"},
        {"/a b/c", "\"/a b/c\""},
        {"it's", "\"it's\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"x#y", "\"x#y\""},
        {"", "\"\""},
        {"%A_%a", "%A_%a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = slurm_quote_directive(cases[i][0]);
        ck_assert_str_eq(t, cases[i][1]);
        free(t);
    }
    ck_assert_ptr_null(slurm_quote_directive("a\nb"));
}
END_TEST

START_TEST(split_extra_words)
{
    char **w;
    int n;
    struct err e;
    ck_assert_int_eq(
        slurm_split_words("  --account='a b' --qos=low \"c\\\"d\" e\\ f ''\t-x", &w, &n, &e), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(w[0], "--account=a b");
    ck_assert_str_eq(w[1], "--qos=low");
    ck_assert_str_eq(w[2], "c\"d");
    ck_assert_str_eq(w[3], "e f");
    ck_assert_str_eq(w[4], "");
    ck_assert_str_eq(w[5], "-x");
    slurm_free_words(w, n);
    ck_assert_int_eq(slurm_split_words("   ", &w, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    slurm_free_words(w, n);
    ck_assert_int_eq(slurm_split_words("--a 'open", &w, &n, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "unterminated '"));
    ck_assert_ptr_nonnull(strstr(e.msg, "--a 'open"));
    ck_assert_ptr_null(w);
}
END_TEST

/* ---- generated scripts (golden) ----------------------------------------------------- */

static const char golden_array[] =
    "#!/bin/sh\n"
    "# peftbench slurm, 20250102T030405: 5 trials not yet done, as array tasks 0-2.\n"
    "# Task i runs the trials of the map lines whose first column is i (array index,\n"
    "# plan index, trial id).  The map is never rewritten, so editing the sweep cannot\n"
    "# shift trials under a running array: run --trial-id refuses a trial that moved.\n"
    "#SBATCH --job-name=peftbench-lora-rank\n"
    "#SBATCH --array=0-2%8\n"
    "#SBATCH --cpus-per-task=4\n"
    "#SBATCH --mem=4G\n"
    "#SBATCH --signal=B:TERM@120\n"
    "#SBATCH --partition=gpu\n"
    "#SBATCH --time=1:00:00\n"
    "#SBATCH --output=\"/scratch/r%%1/out dir/slurm/logs/array-%A_%a.out\"\n"
    "#SBATCH --chdir=\"/home/u/it's\"\n"
    "#SBATCH \"--account=a b\" --qos=low\n"
    "\n"
    "peftbench=/opt/pb/bin/peftbench\n"
    "sweep='/data/my sweeps/it'\\''s.yaml'\n"
    "out='/scratch/r%1/out dir'\n"
    "map='/scratch/r%1/out dir/slurm/array.20250102T030405.map'\n"
    "\n"
    "task=${SLURM_ARRAY_TASK_ID:?not a Slurm array task: submit this script with sbatch}\n"
    "threads=${SLURM_CPUS_PER_TASK:-1}\n"
    "export OMP_NUM_THREADS=\"$threads\" OPENBLAS_NUM_THREADS=\"$threads\"\n"
    "\n"
    "# Slurm's warning signal (--signal=B:TERM) reaches this shell only: pass it on.  The\n"
    "# trial stops after its current step, records nothing and exits 143; a resubmission\n"
    "# (peftbench slurm again) redoes it.\n"
    "child= stop= status=0 ran=0\n"
    "trap 'stop=1; [ -z \"$child\" ] || kill -TERM \"$child\" 2>/dev/null' TERM INT\n"
    "while read -r a plan id; do\n"
    "    [ \"$a\" = \"$task\" ] || continue\n"
    "    ran=$((ran + 1))\n"
    "    echo \"peftbench slurm: array task $task: trial $plan $id on "
    "${SLURMD_NODENAME:-$(uname -n)}\"\n"
    "    \"$peftbench\" run \"$sweep\" --out \"$out\" --trial \"$plan\" --trial-id \"$id\" "
    "--no-csv --skip-failed --strict train.lr=1e-4 'tasks=[a, b]' &\n"
    "    child=$!\n"
    "    wait \"$child\"\n"
    "    rc=$?\n"
    "    while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; rc=$?; done\n"
    "    child=\n"
    "    [ \"$rc\" -eq 0 ] || status=$rc\n"
    "    [ -z \"$stop\" ] || break\n"
    "done <\"$map\"\n"
    "if [ \"$ran\" -eq 0 ]; then\n"
    "    echo \"peftbench slurm: array task $task has no trial in $map\" >&2\n"
    "    exit 1\n"
    "fi\n"
    "exit \"$status\"\n";

static const char golden_collect[] =
    "#!/bin/sh\n"
    "# peftbench slurm, 20250102T030405: rebuild results.csv and draw the figures once the\n"
    "# array job has ended (--dependency=afterany:<array job>: also when tasks failed\n"
    "# or were cancelled).  Trials still missing: run peftbench slurm again.\n"
    "#SBATCH --job-name=peftbench-lora-rank-collect\n"
    "#SBATCH --cpus-per-task=1\n"
    "#SBATCH --partition=gpu\n"
    "#SBATCH --time=1:00:00\n"
    "#SBATCH --output=\"/scratch/r%%1/out dir/slurm/logs/collect-%j.out\"\n"
    "#SBATCH --chdir=\"/home/u/it's\"\n"
    "#SBATCH \"--account=a b\" --qos=low\n"
    "\n"
    "peftbench=/opt/pb/bin/peftbench\n"
    "out='/scratch/r%1/out dir'\n"
    "\n"
    "\"$peftbench\" collect \"$out\" || exit 1\n"
    "if \"$peftbench\" plot \"$out\"; then\n"
    "    echo \"peftbench slurm: figures drawn in $out\"\n"
    "else\n"
    "    echo \"peftbench slurm: 'peftbench plot' failed (exit $?); results.csv is complete: "
    "draw the figures later with: peftbench plot $out\" >&2\n"
    "fi\n"
    "exit 0\n";

static const char golden_minimal[] =
    "#!/bin/sh\n"
    "# peftbench slurm, 20250102T030405: 1 trials not yet done, as array tasks 0-0.\n"
    "# Task i runs the trials of the map lines whose first column is i (array index,\n"
    "# plan index, trial id).  The map is never rewritten, so editing the sweep cannot\n"
    "# shift trials under a running array: run --trial-id refuses a trial that moved.\n"
    "#SBATCH --job-name=peftbench-s\n"
    "#SBATCH --array=0-0\n"
    "#SBATCH --cpus-per-task=1\n"
    "#SBATCH --signal=B:TERM@120\n"
    "#SBATCH --output=/r/slurm/logs/array-%A_%a.out\n"
    "#SBATCH --chdir=/w\n"
    "\n"
    "peftbench=/b/peftbench\n"
    "sweep=/w/s.yaml\n"
    "out=/r\n"
    "map=/r/slurm/array.20250102T030405.map\n";

static void full_job(struct slurm_job *j, struct slurm_opts *o, char **extra)
{
    static const char *const ov[] = {"train.lr=1e-4", "tasks=[a, b]"};
    memset(o, 0, sizeof *o);
    o->partition = "gpu";
    o->time = "1:00:00";
    o->mem = "4G";
    o->cpus_per_task = 4;
    o->max_parallel = 8;
    o->trials_per_task = 2;
    o->skip_failed = true;
    o->strict = true;
    o->overrides = ov;
    o->noverrides = 2;
    extra[0] = "--account=a b";
    extra[1] = "--qos=low";
    struct slurm_job t = {o,
                          "/opt/pb/bin/peftbench",
                          "/data/my sweeps/it's.yaml",
                          "/scratch/r%1/out dir",
                          "/home/u/it's",
                          "/scratch/r%1/out dir/slurm/array.20250102T030405.map",
                          "lora-rank",
                          "20250102T030405",
                          5,
                          3,
                          extra,
                          2};
    *j = t;
}

START_TEST(scripts_match_golden_text)
{
    struct slurm_opts o;
    struct slurm_job j;
    char *extra[2];
    full_job(&j, &o, extra);
    struct err e;
    char *a = slurm_array_script(&j, &e), *c = slurm_collect_script(&j, &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(a, golden_array);
    ck_assert_str_eq(c, golden_collect);
    free(a);
    free(c);

    /* defaults: no partition/time/mem/throttle/extra/overrides; plain paths stay bare */
    struct slurm_opts m = {.cpus_per_task = 1, .trials_per_task = 1};
    struct slurm_job k = {
        &m,  "/b/peftbench",    "/w/s.yaml", "/r", "/w", "/r/slurm/array.20250102T030405.map",
        "s", "20250102T030405", 1,           1,    NULL, 0};
    a = slurm_array_script(&k, &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(strncmp(a, golden_minimal, strlen(golden_minimal)) == 0, "%s", a);
    ck_assert_ptr_nonnull(strstr(a, "--trial-id \"$id\" --no-csv &\n"));
    free(a);
}
END_TEST

START_TEST(newline_in_a_value_is_refused)
{
    struct slurm_opts o;
    struct slurm_job j;
    char *extra[2];
    full_job(&j, &o, extra);
    struct err e;
    o.partition = "gpu\n#SBATCH --uid=0";
    ck_assert_ptr_null(slurm_array_script(&j, &e));
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "--partition"));
    o.partition = "gpu";
    j.out_dir = "/scratch/a\nb";
    ck_assert_ptr_null(slurm_collect_script(&j, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "newline"));
    j.out_dir = "/r";
    j.sweep = "/w/x\ny.yaml";
    ck_assert_ptr_null(slurm_array_script(&j, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "sweep path has a newline"));
}
END_TEST

/* ---- selection, map, the array script in sh ------------------------------------------ */

static const char sweep_text[] = "sweep: unit\n"
                                 "model: /nonexistent/model\n"
                                 "tasks: [syn-sentiment]\n"
                                 "seeds: [1, 2, 3]\n"
                                 "methods:\n"
                                 "  - {method: lora, rank: [2, 4]}\n";

static void load_unit_sweep(struct sweep *s)
{
    write_file(tpath("unit.yaml"), sweep_text, 0644);
    struct err e;
    ck_assert_msg(sweep_load(s, tpath("unit.yaml"), NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq((int)s->ntrials, 6);
}

static void record(const char *out, const char *id, const char *status)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "trial_id", id);
    cJSON_AddStringToObject(r, "status", status);
    struct err e;
    ck_assert_msg(results_write_trial(out, r, &e) == 0, "%s", e.msg);
    cJSON_Delete(r);
}

START_TEST(select_missing_trials_and_map)
{
    struct sweep s;
    load_unit_sweep(&s);
    char out[512];
    snprintf(out, sizeof out, "%s", tpath("out"));
    size_t *idx, n;
    struct err e;
    ck_assert_int_eq(slurm_select(&s, out, false, &idx, &n, &e), 0); /* no directory yet */
    ck_assert_int_eq((int)n, 6);
    free(idx);
    record(out, s.trials[0].id, "ok");
    record(out, s.trials[2].id, "diverged");
    record(out, s.trials[3].id, "failed");
    /* a writer in flight: a temp file is not a record */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/trials/%s.json.tmp.4242", out, s.trials[5].id);
    write_file(tmp, "{\"trial_id\": \"", 0644);
    ck_assert_int_eq(slurm_select(&s, out, false, &idx, &n, &e), 0);
    ck_assert_int_eq((int)n, 3);
    ck_assert_int_eq((int)idx[0], 1);
    ck_assert_int_eq((int)idx[1], 4);
    ck_assert_int_eq((int)idx[2], 5);
    char *map = slurm_map_text(&s, idx, n, 2, "20250102T030405");
    char want[512];
    snprintf(want, sizeof want,
             "# peftbench slurm map of sweep unit at 20250102T030405: array index, plan index, "
             "trial id\n0\t1\t%s\n0\t4\t%s\n1\t5\t%s\n",
             s.trials[1].id, s.trials[4].id, s.trials[5].id);
    ck_assert_str_eq(map, want);
    free(map);
    free(idx);
    ck_assert_int_eq(slurm_select(&s, out, true, &idx, &n, &e), 0); /* failed ones too (the default) */
    ck_assert_int_eq((int)n, 4);
    ck_assert_int_eq((int)idx[1], 3);
    free(idx);
    for (size_t i = 0; i < s.ntrials; i++)
        record(out, s.trials[i].id, "ok");
    ck_assert_int_eq(slurm_select(&s, out, false, &idx, &n, &e), 0);
    ck_assert_int_eq((int)n, 0);
    ck_assert_ptr_null(idx);
    /* collect beside the in-flight temp file: it is ignored, every record counted */
    int rows = -1;
    ck_assert_msg(results_rebuild_csv(out, &rows, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(rows, 6);
    sweep_free(&s);
}
END_TEST

/* A fake peftbench that writes its arguments, one per line, to ARGS_FILE, then runs
 * FAKE_BODY (e.g. a sleep that a TERM interrupts). */
static const char fake_exe[] = "#!/bin/sh\n"
                               "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> \"$ARGS_FILE\"\n"
                               "echo \"threads=$OMP_NUM_THREADS/$OPENBLAS_NUM_THREADS\" >> "
                               "\"$ARGS_FILE\"\n"
                               "eval \"${FAKE_BODY:-:}\"\n";

/* Write the map and array script of the unit sweep's trials {1, 4, 5} in two-trial tasks,
 * with a fake peftbench; paths under root hold a space and a quote. */
static void write_fake_array(struct sweep *s)
{
    load_unit_sweep(s);
    const char *exe = tpath("fake peftbench");
    write_file(exe, fake_exe, 0755);
    size_t idx[3] = {1, 4, 5};
    char *map = slurm_map_text(s, idx, 3, 2, "20250102T030405");
    write_file(tpath("array.map"), map, 0644);
    free(map);
    static const char *const ov[] = {"train.lr=1e-4", "tasks=[a, b]"};
    struct slurm_opts o = {
        .cpus_per_task = 3, .trials_per_task = 2, .overrides = ov, .noverrides = 2};
    char sweep[512], out[512], map_path[512];
    snprintf(sweep, sizeof sweep, "%s", tpath("unit.yaml"));
    snprintf(out, sizeof out, "%s", tpath("out \"dir\""));
    snprintf(map_path, sizeof map_path, "%s", tpath("array.map"));
    struct slurm_job j = {&o, exe, sweep, out, root, map_path, "unit", "20250102T030405",
                          3,  2,   NULL,  0};
    struct err e;
    char *a = slurm_array_script(&j, &e);
    ck_assert_ptr_nonnull(a);
    write_file(tpath("array.sbatch"), a, 0644);
    free(a);
}

START_TEST(array_script_runs_the_mapped_trials)
{
    struct sweep s;
    write_fake_array(&s);
    ck_assert_int_eq(sh("cd / && SLURM_ARRAY_TASK_ID=0 SLURM_CPUS_PER_TASK=3 ARGS_FILE=%s sh %s "
                        ">%s 2>&1",
                        q(tpath("args0")), q(tpath("array.sbatch")), q(tpath("log0"))),
                     0);
    char want[4096];
    snprintf(want, sizeof want,
             "run\n%s\n--out\n%s\n--trial\n1\n--trial-id\n%s\n--no-csv\ntrain.lr=1e-4\n"
             "tasks=[a, b]\nthreads=3/3\n"
             "run\n%s\n--out\n%s\n--trial\n4\n--trial-id\n%s\n--no-csv\ntrain.lr=1e-4\n"
             "tasks=[a, b]\nthreads=3/3\n",
             tpath("unit.yaml"), tpath("out \"dir\""), s.trials[1].id, tpath("unit.yaml"),
             tpath("out \"dir\""), s.trials[4].id);
    char *got = test_slurp(tpath("args0"));
    ck_assert_str_eq(got, want);
    free(got);
    char *log = test_slurp(tpath("log0"));
    ck_assert_ptr_nonnull(strstr(log, "array task 0: trial 1 "));
    ck_assert_ptr_nonnull(strstr(log, "array task 0: trial 4 "));
    free(log);

    ck_assert_int_eq(sh("SLURM_ARRAY_TASK_ID=1 ARGS_FILE=%s sh %s >/dev/null 2>&1",
                        q(tpath("args1")), q(tpath("array.sbatch"))),
                     0);
    got = test_slurp(tpath("args1"));
    ck_assert_ptr_nonnull(strstr(got, s.trials[5].id));
    ck_assert_ptr_nonnull(strstr(got, "threads=1/1")); /* no SLURM_CPUS_PER_TASK: 1 */
    ck_assert_ptr_null(strstr(got, s.trials[1].id));
    free(got);

    /* a task the map does not know, a failing trial, and no Slurm at all */
    ck_assert_int_eq(sh("SLURM_ARRAY_TASK_ID=7 ARGS_FILE=/dev/null sh %s >%s 2>&1",
                        q(tpath("array.sbatch")), q(tpath("log7"))),
                     1);
    log = test_slurp(tpath("log7"));
    ck_assert_ptr_nonnull(strstr(log, "array task 7 has no trial in"));
    free(log);
    ck_assert_int_eq(sh("SLURM_ARRAY_TASK_ID=0 ARGS_FILE=/dev/null FAKE_BODY='exit 3' sh %s "
                        ">/dev/null 2>&1",
                        q(tpath("array.sbatch"))),
                     3);
    ck_assert_int_ne(
        sh("unset SLURM_ARRAY_TASK_ID; sh %s >/dev/null 2>&1", q(tpath("array.sbatch"))), 0);
    sweep_free(&s);
}
END_TEST

/* Slurm's warning signal goes to the batch shell only (--signal=B:TERM): the shell must
 * pass it on, report the trial's 143 and not start the task's next trial. */
START_TEST(array_script_passes_sigterm_on)
{
    struct sweep s;
    write_fake_array(&s);
    char started[512], args[512], script[512];
    snprintf(started, sizeof started, "%s", tpath("started"));
    snprintf(args, sizeof args, "%s", tpath("args"));
    snprintf(script, sizeof script, "%s", tpath("array.sbatch"));
    pid_t pid = fork();
    if (pid == 0) {
        char body[1200];
        snprintf(body, sizeof body,
                 "sleep 30 & s=$!; "
                 "trap 'kill $s; echo got-term >> \"$ARGS_FILE\"; exit 143' TERM; touch %s; "
                 "wait",
                 q(started));
        setenv("SLURM_ARRAY_TASK_ID", "0", 1);
        setenv("ARGS_FILE", args, 1);
        setenv("FAKE_BODY", body, 1);
        freopen("/dev/null", "w", stdout);
        execl("/bin/sh", "sh", script, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000 && access(started, F_OK) != 0; i++)
        usleep(10000);
    ck_assert_int_eq(access(started, F_OK), 0);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 143);
    char *got = test_slurp(args);
    ck_assert_ptr_nonnull(strstr(got, "got-term"));
    ck_assert_ptr_null(strstr(got, s.trials[4].id)); /* the task's second trial never ran */
    free(got);
    sweep_free(&s);
}
END_TEST

/* ---- the CLI: --submit against a fake sbatch; run --trial-id / --no-csv ------------- */

static const char vocab_head[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

/* A micro model and a 6-trial sweep on it under root (for the run tests). */
static void make_model_and_sweep(void)
{
    FILE *f = fopen(tpath("vocab.txt"), "w");
    ck_assert_ptr_nonnull(f);
    fputs(vocab_head, f);
    for (char c = 'a'; c <= 'z'; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    fclose(f);
    ck_assert_int_eq(sh("%s init-model %s --vocab %s --layers 1 --hidden 16 --heads 2 --ffn 32 "
                        "--max-pos 64 >/dev/null",
                        q(bin), q(tpath("model")), q(tpath("vocab.txt"))),
                     0);
    char text[1024];
    snprintf(text, sizeof text,
             "sweep: micro\nmodel: %s\ntasks: [syn-sentiment]\nseeds: [1, 2, 3]\n"
             "train: {epochs: 1, batch_size: 16, max_seq_len: 24, max_train: 32, max_dev: 16}\n"
             "methods:\n  - {method: lora, rank: [2, 4]}\n",
             tpath("model"));
    write_file(tpath("micro.yaml"), text, 0644);
}

/* A fake sbatch: appends its argv (one per line, then "--") to SBATCH_LOG and prints
 * the next job id, "41;cluster" first (the --parsable form with a cluster name). */
static const char fake_sbatch[] = "#!/bin/sh\n"
                                  "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> "
                                  "\"$SBATCH_LOG\"\n"
                                  "echo -- >> \"$SBATCH_LOG\"\n"
                                  "n=$(grep -c '^--$' \"$SBATCH_LOG\")\n"
                                  "if [ \"$n\" = 1 ]; then echo '41;cluster'; else echo $((40 + "
                                  "n)); fi\n";

START_TEST(submit_calls_sbatch_without_a_shell_and_resumes)
{
    make_model_and_sweep();
    ck_assert_int_eq(mkdir(tpath("fakebin"), 0755), 0);
    write_file(tpath("fakebin/sbatch"), fake_sbatch, 0755);
    char out[512];
    snprintf(out, sizeof out, "%s", tpath("res $(x) 'q'"));
    ck_assert_int_eq(sh("cd %s && PATH=%s:$PATH SBATCH_LOG=%s %s slurm micro.yaml --out %s "
                        "--max-parallel 2 --time 5 --strict --submit >%s 2>&1",
                        q(root), q(tpath("fakebin")), q(tpath("sbatch.log")), q(bin), q(out),
                        q(tpath("slurm.log"))),
                     0);
    char *log = test_slurp(tpath("slurm.log"));
    ck_assert_msg(strstr(log, "submitted array job 41\n") != NULL, "%s", log);
    ck_assert_msg(strstr(log, "submitted collect job 42 (after array job 41 ends)") != NULL, "%s",
                  log);
    ck_assert_ptr_nonnull(strstr(log, "6 of 6 trials to run"));
    free(log);
    char want[2048], array[600], collect[600];
    snprintf(array, sizeof array, "%s/slurm/array.sbatch", out);
    snprintf(collect, sizeof collect, "%s/slurm/collect.sbatch", out);
    snprintf(want, sizeof want,
             "--parsable\n%s\n--\n--parsable\n--dependency=afterany:41\n%s\n--\n", array, collect);
    char *args = test_slurp(tpath("sbatch.log"));
    ck_assert_str_eq(args, want);
    free(args);
    char *script = test_slurp(array);
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --array=0-5%2\n"));
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --time=5\n"));
    ck_assert_ptr_nonnull(strstr(script, " --no-csv --strict")); /* passed on to every trial */
    char line[1024];
    char *bq = slurm_quote_shell(bin);
    snprintf(line, sizeof line, "\npeftbench=%s\n", bq); /* absolute: this binary */
    free(bq);
    ck_assert_msg(strstr(script, line) != NULL, "%s", script);
    ck_assert_int_eq(access(tpath("x"), F_OK), -1); /* $(x) was never run by a shell */
    free(script);
    char logs[600];
    snprintf(logs, sizeof logs, "%s/slurm/logs", out);
    ck_assert_int_eq(access(logs, W_OK), 0); /* Slurm does not create it */

    /* three trials recorded since, one of them failed: by default (like `run`) the next
     * plan maps the failed one again with the three never run */
    struct sweep s;
    struct err e;
    struct sweep_opts so = {.model_identity = model_identity}; /* the ids `slurm` computes */
    ck_assert_int_eq(sweep_load(&s, tpath("micro.yaml"), &so, &e), 0);
    record(out, s.trials[0].id, "ok");
    record(out, s.trials[3].id, "ok");
    record(out, s.trials[5].id, "failed");
    int rc = sh("cd %s && %s slurm micro.yaml --out %s >%s 2>&1", q(root), q(bin), q(out),
                q(tpath("slurm2.log")));
    log = test_slurp(tpath("slurm2.log"));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
    ck_assert_msg(strstr(log, "4 of 6 trials to run (2 already recorded)") != NULL, "%s", log);
    free(log);
    script = test_slurp(array);
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --array=0-3\n"));
    ck_assert_ptr_null(strstr(script, "--skip-failed"));
    free(script);
    /* --skip-failed leaves it alone: only the three never run, and every trial's `run` is
     * told so too */
    rc = sh("cd %s && %s slurm micro.yaml --out %s --skip-failed >%s 2>&1", q(root), q(bin),
            q(out), q(tpath("slurm2.log")));
    log = test_slurp(tpath("slurm2.log"));
    ck_assert_msg(rc == 0, "exit %d: %s", rc, log);
    ck_assert_msg(strstr(log, "3 of 6 trials to run (3 already recorded)") != NULL, "%s", log);
    script = test_slurp(array);
    ck_assert_ptr_nonnull(strstr(script, " --no-csv --skip-failed"));
    free(script);
    ck_assert_ptr_nonnull(strstr(log, "jid=$(sbatch --parsable "));
    ck_assert_ptr_nonnull(strstr(log, "sbatch --dependency=afterany:\"${jid%%;*}\" "));
    const char *m = strstr(log, "  map ");
    ck_assert_ptr_nonnull(m);
    char map_path[600];
    snprintf(map_path, sizeof map_path, "%.*s", (int)strcspn(m + 6, "\n"), m + 6);
    free(log);
    char *map = test_slurp(map_path);
    ck_assert_ptr_nonnull(map);
    snprintf(want, sizeof want, "0\t1\t%s\n1\t2\t%s\n2\t4\t%s\n", s.trials[1].id, s.trials[2].id,
             s.trials[4].id);
    ck_assert_msg(strstr(map, want) != NULL, "%s", map);
    free(map);
    script = test_slurp(array); /* the new script names the new map */
    ck_assert_ptr_nonnull(strstr(script, "#SBATCH --array=0-2\n"));
    ck_assert_ptr_nonnull(strstr(script, strrchr(map_path, '/') + 1));
    free(script);

    for (size_t i = 0; i < s.ntrials; i++)
        record(out, s.trials[i].id, "ok");
    ck_assert_int_eq(sh("cd %s && %s slurm micro.yaml --out %s >%s 2>&1", q(root), q(bin), q(out),
                        q(tpath("slurm3.log"))),
                     0);
    log = test_slurp(tpath("slurm3.log"));
    ck_assert_msg(strstr(log, "nothing to submit") != NULL, "%s", log);
    free(log);
    sweep_free(&s);

    /* no sbatch at all: a clear error, exit 1 */
    ck_assert_int_eq(sh("cd %s && PATH=/nonexistent %s slurm micro.yaml --out %s --submit "
                        ">/dev/null 2>%s",
                        q(root), q(bin), q(tpath("r2")), q(tpath("nosbatch.log"))),
                     1);
    log = test_slurp(tpath("nosbatch.log"));
    ck_assert_msg(strstr(log, "cannot run sbatch") && strstr(log, "not in PATH"), "%s", log);
    free(log);
}
END_TEST

START_TEST(slurm_cli_errors)
{
    make_model_and_sweep();
    static const char *const bad[][2] = {
        {"--cpus-per-task 0", "--cpus-per-task expects"},
        {"--max-parallel x", "--max-parallel expects"},
        {"--bogus", "unexpected argument '--bogus'"},
        {"--extra \"--a 'open\"", "unterminated"},
        {"--partition \"$(printf 'a\\nb')\"", "newline"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = sh("cd %s && %s slurm micro.yaml --out r %s >/dev/null 2>%s", q(root), q(bin),
                    bad[i][0], q(tpath("err.log")));
        char *log = test_slurp(tpath("err.log"));
        ck_assert_msg(rc != 0 && strstr(log, bad[i][1]) != NULL, "%s: exit %d: %s", bad[i][0], rc,
                      log);
        free(log);
    }
    /* a missing model fails at planning time, not in every array task */
    write_file(tpath("nomodel.yaml"),
               "sweep: nm\nmodel: /nonexistent/m\ntasks: [syn-sentiment]\nmethods: [head]\n", 0644);
    ck_assert_int_eq(
        sh("cd %s && %s slurm nomodel.yaml >/dev/null 2>%s", q(root), q(bin), q(tpath("err.log"))),
        1);
    char *log = test_slurp(tpath("err.log"));
    ck_assert_msg(strstr(log, "every array task would fail") != NULL, "%s", log);
    free(log);
}
END_TEST

START_TEST(run_trial_id_and_no_csv)
{
    make_model_and_sweep();
    struct sweep s;
    struct err e;
    struct sweep_opts so = {.model_identity = model_identity}; /* the ids `run` computes */
    ck_assert_int_eq(sweep_load(&s, tpath("micro.yaml"), &so, &e), 0);
    char out[512];
    snprintf(out, sizeof out, "%s", tpath("r"));
    ck_assert_int_eq(sh("%s run %s --out %s --trial 4 --trial-id %s --no-csv --quiet >/dev/null "
                        "2>&1",
                        q(bin), q(tpath("micro.yaml")), q(out), s.trials[4].id),
                     0);
    char path[700];
    snprintf(path, sizeof path, "%s/trials/%s.json", out, s.trials[4].id);
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/results.csv", out);
    ck_assert_int_ne(access(path, F_OK), 0); /* --no-csv: collect's job */
    /* --trial-id alone selects by id */
    ck_assert_int_eq(sh("%s run %s --out %s --trial-id %s --no-csv --quiet >/dev/null 2>&1", q(bin),
                        q(tpath("micro.yaml")), q(out), s.trials[1].id),
                     0);
    ck_assert_int_eq(sh("%s collect %s >/dev/null", q(bin), q(out)), 0);
    char *csv = test_slurp(path);
    ck_assert_ptr_nonnull(strstr(csv, s.trials[1].id));
    ck_assert_ptr_nonnull(strstr(csv, s.trials[4].id));
    ck_assert_ptr_null(strstr(csv, s.trials[0].id));
    free(csv);

    /* the id moved (the sweep was edited): refused, naming where it is now */
    ck_assert_int_eq(sh("%s run %s --out %s --trial 0 --trial-id %s >/dev/null 2>%s", q(bin),
                        q(tpath("micro.yaml")), q(out), s.trials[4].id, q(tpath("err.log"))),
                     1);
    char *log = test_slurp(tpath("err.log"));
    ck_assert_msg(strstr(log, "now at plan index 4") != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(sh("%s run %s --out %s --trial-id 0123456789abcdef >/dev/null 2>%s", q(bin),
                        q(tpath("micro.yaml")), q(out), q(tpath("err.log"))),
                     1);
    log = test_slurp(tpath("err.log"));
    ck_assert_msg(strstr(log, "has no such trial") != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(sh("%s run %s --trial-id XYZ >/dev/null 2>%s", q(bin), q(tpath("micro.yaml")),
                        q(tpath("err.log"))),
                     2);
    log = test_slurp(tpath("err.log"));
    ck_assert_msg(strstr(log, "--trial-id expects") != NULL, "%s", log);
    free(log);
    sweep_free(&s);
}
END_TEST

Suite *slurm_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc = tcase_create("quoting");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shell_quote_plain_and_quoted);
    tcase_add_test(tc, shell_quote_round_trips_through_sh);
    tcase_add_test(tc, directive_quote);
    tcase_add_test(tc, split_extra_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("scripts");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scripts_match_golden_text);
    tcase_add_test(tc, newline_in_a_value_is_refused);
    tcase_add_test(tc, select_missing_trials_and_map);
    tcase_add_test(tc, array_script_runs_the_mapped_trials);
    tcase_add_test(tc, array_script_passes_sigterm_on);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, submit_calls_sbatch_without_a_shell_and_resumes);
    tcase_add_test(tc, slurm_cli_errors);
    tcase_add_test(tc, run_trial_id_and_no_csv);
    suite_add_tcase(s, tc);
    return s;
}
