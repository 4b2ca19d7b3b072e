/*
 * End-to-end tests of the peftbench binary (PEFTBENCH_BIN): a tiny model made
 * by the test (init-model with a word vocabulary of the synthetic task), a
 * 2-method x 2-value x 2-seed sweep on syn-sentiment, and the files it writes:
 * trial count, ids, CSV columns, trial JSON; rerun does nothing; 20 SIGKILLs at
 * random points (mid-step and mid-write) with resumes give the same results as an
 * uninterrupted run; shards partition the trials; a forced NaN is recorded as
 * diverged; NaN/Inf in the checkpoint is a warning, or an error with --strict;
 * read-only and full output directories give a clear error and no truncated file;
 * malformed sweep files give one clear message and a non-zero exit.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/arch/model.h"
#include "tests/suites.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "tests/cli_util.h"

static char root[128]; /* per-suite temp dir with the model and sweep files */
static char bin[1024];

/* Vocabulary: specials, letters (so any word tokenizes), and every word of the task. */
static void make_vocab(const char *path)
{
    struct task_params p;
    task_params_init(&p);
    p.seed = 1;
    struct task_data td;
    struct err e;
    ck_assert_int_eq(task_load(&td, task_find("syn-sentiment"), &p, &e), 0);
    FILE *f = fopen(path, "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (char c = 'a'; c <= 'z'; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    char **seen = calloc(4096, sizeof *seen);
    int nseen = 0;
    const struct split *sp[2] = {&td.train, &td.dev};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sp[s]->n; i++) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", sp[s]->ex[i].a);
            char *save = NULL;
            for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                bool dup = strlen(w) < 2;
                for (int k = 0; k < nseen && !dup; k++)
                    dup = strcmp(seen[k], w) == 0;
                if (!dup && nseen < 4096) {
                    seen[nseen++] = strdup(w);
                    fprintf(f, "%s\n", w);
                }
            }
        }
    fclose(f);
    for (int k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
    task_data_free(&td);
}

static const char sweep_yaml[] =
    "sweep: e2e\n"
    "model: %s/model\n"
    "tasks: [syn-sentiment]\n"
    "seeds: [1, 2]\n"
    "train: {epochs: 2, batch_size: 16, max_seq_len: 24, lr: 5.0e-3, max_train: 96, "
    "max_dev: 48}\n"
    "methods:\n"
    "  - {method: lora, rank: [2, 4]}\n"
    "  - {method: houlsby, bottleneck: [2, 4]}\n";

static void suite_setup(void)
{
    const char *b = getenv("PEFTBENCH_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/peftbench");
    snprintf(root, sizeof root, "/tmp/peftbench-e2e-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    char path[256], text[2048];
    snprintf(path, sizeof path, "%s/vocab.txt", root);
    make_vocab(path);
    ck_assert_int_eq(sh("%s init-model %s/model --vocab %s --layers 2 --hidden 16 --heads 2 "
                        "--ffn 32 --max-pos 64 >/dev/null",
                        bin, root, path),
                     0);
    snprintf(path, sizeof path, "%s/sweep.yaml", root);
    snprintf(text, sizeof text, sweep_yaml, root);
    test_write_file(path, text);
}

static void suite_teardown(void)
{
    sh("rm -rf %s", root);
}

/* ---- reading results -------------------------------------------------------- */

struct table {
    char **cells; /* row-major (nrows+1) x ncols, header first */
    int nrows, ncols;
};

static void read_csv(struct table *t, const char *path)
{
    memset(t, 0, sizeof *t);
    struct tsv_reader r;
    struct err e;
    ck_assert_msg(tsv_open(&r, path, TSV_CSV, false, &e) == 0, "%s", e.msg);
    int rc, cap = 0;
    while ((rc = tsv_next(&r, &e)) == 1) {
        if (t->ncols == 0)
            t->ncols = (int)r.nfields;
        ck_assert_int_eq((int)r.nfields, t->ncols);
        if ((t->nrows + 1) * t->ncols > cap) {
            cap = 2 * (t->nrows + 1) * t->ncols + 64;
            t->cells = realloc(t->cells, (size_t)cap * sizeof *t->cells);
        }
        for (int c = 0; c < t->ncols; c++)
            t->cells[t->nrows * t->ncols + c] = strdup(r.fields[c]);
        t->nrows++;
    }
    ck_assert_msg(rc == 0, "%s", e.msg);
    tsv_close(&r);
    t->nrows--; /* header */
}

static int col(const struct table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->cells[c], name) == 0)
            return c;
    return -1;
}

static const char *cell(const struct table *t, int row, const char *name)
{
    int c = col(t, name);
    ck_assert_msg(c >= 0, "no column %s", name);
    return t->cells[(row + 1) * t->ncols + c];
}

static void free_table(struct table *t)
{
    for (int i = 0; i < (t->nrows + 1) * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* Columns that depend only on the computation (not on timing or the machine). */
static const char *const det_cols[] = {"trial_id", "status",        "task",         "method",
                                       "seed",     "primary_value", "accuracy",     "f1",
                                       "mcc",      "params_method", "params_total", "best_epoch",
                                       "steps",    "final_train_loss", "lora.rank",
                                       "houlsby.bottleneck", NULL};

static void same_results(const char *a, const char *b)
{
    struct table x, y;
    read_csv(&x, a);
    read_csv(&y, b);
    ck_assert_int_eq(x.nrows, y.nrows);
    for (int r = 0; r < x.nrows; r++)
        for (int k = 0; det_cols[k]; k++)
            ck_assert_msg(strcmp(cell(&x, r, det_cols[k]), cell(&y, r, det_cols[k])) == 0,
                          "row %d column %s: %s vs %s", r, det_cols[k], cell(&x, r, det_cols[k]),
                          cell(&y, r, det_cols[k]));
    free_table(&x);
    free_table(&y);
}

static int count_json(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Every trial JSON in dir parses and has the fields of a record. */
static void all_records_whole(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = test_slurp(path);
        cJSON *j = cJSON_Parse(text);
        ck_assert_msg(j != NULL, "%s does not parse", path);
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "trial_id")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "status")));
        cJSON_Delete(j);
        free(text);
    }
    closedir(d);
}

static void run_ok(const char *out, const char *extra)
{
    ck_assert_int_eq(sh("%s run %s/sweep.yaml --out %s/%s --quiet %s >%s/%s.log 2>&1", bin, root,
                        root, out, extra, root, out),
                     0);
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(sweep_writes_rows_ids_columns_and_json)
{
    char path[512];
    ck_assert_int_eq(sh("%s plan %s/sweep.yaml > %s/plan.txt 2>&1", bin, root, root), 0);
    run_ok("full", "");
    snprintf(path, sizeof path, "%s/full/results.csv", root);
    struct table t;
    read_csv(&t, path);
    ck_assert_int_eq(t.nrows, 8); /* 2 methods x 2 values x 2 seeds x 1 task */
    const char *need[] = {"sweep", "trial_id", "status", "task", "method", "seed",
                          "primary_metric", "primary_value", "params_method", "params_head",
                          "params_total", "trainable_pct", "train_tokens_per_s", "mem_frozen",
                          "mem_activations", "peak_rss", "wall_seconds", "calibration_gflops",
                          "lora.rank", "houlsby.bottleneck", "train.lr", NULL};
    for (int k = 0; need[k]; k++)
        ck_assert_msg(col(&t, need[k]) >= 0, "missing column %s", need[k]);
    char *plan = test_slurp((snprintf(path, sizeof path, "%s/plan.txt", root), path));
    for (int r = 0; r < t.nrows; r++) {
        ck_assert_str_eq(cell(&t, r, "status"), "ok");
        ck_assert_msg(strstr(plan, cell(&t, r, "trial_id")) != NULL, "id not in plan");
        /* lora rows have an empty houlsby column and vice versa */
        bool lora = strcmp(cell(&t, r, "method"), "lora") == 0;
        ck_assert_int_eq(cell(&t, r, "lora.rank")[0] != '\0', lora);
        ck_assert_int_eq(cell(&t, r, "houlsby.bottleneck")[0] != '\0', !lora);
        double acc = atof(cell(&t, r, "accuracy"));
        ck_assert(acc >= 0.0 && acc <= 1.0);
    }
    /* rank 4 has twice the LoRA parameters of rank 2 */
    ck_assert_int_eq(atoi(cell(&t, 2, "params_method")), 2 * atoi(cell(&t, 0, "params_method")));
    free(plan);
    free_table(&t);
    snprintf(path, sizeof path, "%s/full/trials", root);
    ck_assert_int_eq(count_json(path), 8);
    all_records_whole(path);
    snprintf(path, sizeof path, "%s/full/sweep.yaml", root);
    ck_assert(access(path, R_OK) == 0);

    /* rerunning does nothing and leaves the same CSV */
    char before[512], *a, *b;
    snprintf(before, sizeof before, "%s/full/results.csv", root);
    a = test_slurp(before);
    ck_assert_int_eq(sh("%s run %s/sweep.yaml --out %s/full > %s/rerun.log 2>&1", bin, root, root,
                        root),
                     0);
    b = test_slurp(before);
    ck_assert_str_eq(a, b);
    char *log = test_slurp((snprintf(path, sizeof path, "%s/rerun.log", root), path));
    ck_assert_msg(strstr(log, "0 trials to run, 8 already done") != NULL, "%s", log);
    free(a), free(b), free(log);
}
END_TEST

/* ---- crash safety: SIGKILL at random points, then resume -------------------------- */

#define KILLS         20
#define SLOW_WRITE_MS 100 /* PEFTBENCH_FAULT_SLOW_WRITE_MS of the write-window attempts */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double unit_rand(uint64_t *s) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* `peftbench run SWEEP --out ROOT/out --quiet --resume` in the background (stderr appended
 * to ROOT/out.log); slow_ms > 0 widens the write windows (PEFTBENCH_FAULT_SLOW_WRITE_MS). */
static pid_t start_run(const char *out, int slow_ms)
{
    char sweep[512], dir[512], log[512], ms[16];
    snprintf(sweep, sizeof sweep, "%s/sweep.yaml", root);
    snprintf(dir, sizeof dir, "%s/%s", root, out);
    snprintf(log, sizeof log, "%s/%s.log", root, out);
    snprintf(ms, sizeof ms, "%d", slow_ms);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (slow_ms > 0)
            setenv("PEFTBENCH_FAULT_SLOW_WRITE_MS", ms, 1);
        else
            unsetenv("PEFTBENCH_FAULT_SLOW_WRITE_MS");
        if (!freopen("/dev/null", "w", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        execl(bin, bin, "run", sweep, "--out", dir, "--quiet", "--resume", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Does dir hold a file NAME.tmp.<pid> (a temporary file of that writer)? */
static bool has_tmp_of(const char *dir, pid_t pid)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)pid);
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        size_t l = strlen(de->d_name), k = strlen(suffix);
        found = l > k && strcmp(de->d_name + l - k, suffix) == 0;
    }
    if (d)
        closedir(d);
    return found;
}

/* Is writer pid between writing a result file of out (a trial record or results.csv) and
 * renaming it into place? */
static bool writing(const char *out, pid_t pid)
{
    char dir[600], csv[600];
    snprintf(dir, sizeof dir, "%s/trials", out);
    snprintf(csv, sizeof csv, "%s/results.csv.tmp.%ld", out, (long)pid);
    return has_tmp_of(dir, pid) || access(csv, F_OK) == 0;
}

/* Wait until the child exits (true, *st set), or until deadline or, with out, until it starts
 * writing a result file of out (false). */
static bool wait_child(pid_t pid, int *st, double deadline, const char *out)
{
    while (waitpid(pid, st, WNOHANG) != pid) {
        if (now_s() >= deadline || (out && writing(out, pid)))
            return false;
        usleep(1000);
    }
    return true;
}

/* A state a reader may see after any kill: whole records, and a CSV that parses (with rows
 * only for records that exist: it may lag one trial behind them). */
static void assert_consistent(const char *out)
{
    char trials[512], csv[512];
    snprintf(trials, sizeof trials, "%s/%s/trials", root, out);
    snprintf(csv, sizeof csv, "%s/%s/results.csv", root, out);
    all_records_whole(trials);
    if (access(csv, F_OK) == 0) {
        struct table t;
        read_csv(&t, csv); /* asserts every row has the header's field count */
        ck_assert_int_le(t.nrows, count_json(trials));
        free_table(&t);
    }
}

/* What may be left in trials/ by killed writers: records, trial locks (<id>.lock), and
 * NAME.json.tmp.<pid> files that no reader takes for a record (their names do not end in
 * .json). */
static void assert_no_mistakable_tmp(const char *out)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s/trials", root, out);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *de; (de = readdir(d));) {
        const char *n = de->d_name, *t = strstr(n, ".json.tmp.");
        if (n[0] == '.')
            continue;
        bool record =
            strlen(n) == 21 && strspn(n, "0123456789abcdef") == 16 && strcmp(n + 16, ".json") == 0;
        bool tmp = t && t[10] && strspn(t + 10, "0123456789") == strlen(t + 10);
        bool lock = /* a trial's lock (harness/run/trial_lock.h) */
            strlen(n) == 21 && strspn(n, "0123456789abcdef") == 16 && strcmp(n + 16, ".lock") == 0;
        ck_assert_msg(record || tmp || lock, "unexpected file trials/%s", n);
    }
    closedir(d);
    snprintf(dir, sizeof dir, "%s/%s", root, out);
    d = opendir(dir);
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        if (l >= 4 && strcmp(de->d_name + l - 4, ".csv") == 0)
            ck_assert_msg(strcmp(de->d_name, "results.csv") == 0 ||
                              strcmp(de->d_name, "summary.csv") == 0,
                          "unexpected CSV %s", de->d_name);
    }
    closedir(d);
}

/* The uninterrupted reference run (it must succeed), and when its first and last trial
 * records appeared (seconds after its start). */
static void reference_run(double *t_first, double *t_last)
{
    char trials[512];
    snprintf(trials, sizeof trials, "%s/ref/trials", root);
    double t0 = now_s();
    *t_first = *t_last = -1;
    pid_t pid = start_run("ref", 0);
    int st;
    while (!wait_child(pid, &st, now_s() + 0.002, NULL)) {
        int n = count_json(trials);
        if (n >= 1 && *t_first < 0)
            *t_first = now_s() - t0;
        if (n >= 8 && *t_last < 0)
            *t_last = now_s() - t0;
    }
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(count_json(trials), 8);
    if (*t_last < 0)
        *t_last = now_s() - t0;
    if (*t_first < 0)
        *t_first = *t_last;
}

/* 20 SIGKILLs of `peftbench run`, each attempt resuming the last.  Two thirds at a random
 * point of the training: kill k aims at trial k * 8 / 20 (so the kills move through the whole
 * sweep, about two per trial) at a uniformly random fraction of it, the delay computed from
 * the reference run's start-up and per-trial times.  One third in the result-writing windows:
 * once the temporary file of a record (or of results.csv, when every trial is done) appears,
 * in turn before its rename, between the record and the CSV rebuild, and before the CSV's
 * rename.  Seeded, so the schedule is the same on every run.  An attempt that finishes before
 * its kill is fine (and checked); the attempts go on until 20 kills. */
START_TEST(kill_20_times_and_resume_equals_uninterrupted)
{
    double t_first, t_last;
    reference_run(&t_first, &t_last);
    double per_trial = (t_last - t_first) / 7.0;
    double startup = t_first - per_trial > 0.01 ? t_first - per_trial : 0.01;
    uint64_t rs = 20240610;
    char trials[512], out[512];
    snprintf(trials, sizeof trials, "%s/crash/trials", root);
    snprintf(out, sizeof out, "%s/crash", root);
    int kills = 0, finished = 0, write_kills = 0, before_rename = 0, before_csv_rename = 0;
    for (int attempt = 0; kills < KILLS && attempt < 3 * KILLS; attempt++) {
        bool write = kills % 3 == 2;
        int done = count_json(trials), st;
        double t0 = now_s(), u = unit_rand(&rs);
        pid_t pid = start_run("crash", write ? SLOW_WRITE_MS : 0);
        bool exited;
        if (write) { /* wait for a temporary result file, then into phase 0, 1 or 2 */
            exited = wait_child(pid, &st, t0 + 60.0, out);
            double phase = (double)(write_kills % 3) + 0.2 + 0.6 * u;
            if (!exited)
                exited = wait_child(pid, &st, now_s() + phase * SLOW_WRITE_MS * 1e-3, NULL);
        } else {
            int target = kills * 8 / KILLS < done ? done : kills * 8 / KILLS;
            double at = done < 8 ? startup + (target - done + u) * per_trial
                                 : u * (startup + per_trial); /* a run with nothing to train */
            exited = wait_child(pid, &st, t0 + at, NULL);
        }
        if (exited) { /* it got to the end first: a complete, successful run */
            ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attempt %d: status %d", attempt,
                          st);
            ck_assert_int_eq(count_json(trials), 8);
            finished++;
            continue;
        }
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        kills++;
        write_kills += write;
        char csv_tmp[600];
        snprintf(csv_tmp, sizeof csv_tmp, "%s/results.csv.tmp.%ld", out, (long)pid);
        before_rename += has_tmp_of(trials, pid);
        before_csv_rename += access(csv_tmp, F_OK) == 0;
        assert_consistent("crash");
    }
    fprintf(stderr,
            "e2e: %d kills (%d in write windows: %d before a record's rename, %d before "
            "the CSV's rename), %d runs finished first, %d trials recorded before the "
            "last resume\n",
            kills, write_kills, before_rename, before_csv_rename, finished, count_json(trials));
    ck_assert_int_eq(kills, KILLS);
    /* kills really hit result writing */
    ck_assert_int_ge(before_rename + before_csv_rename, 1);
    run_ok("crash", "--resume"); /* whatever is left, uninterrupted */
    char ref[512], fin[512];
    snprintf(ref, sizeof ref, "%s/ref/results.csv", root);
    snprintf(fin, sizeof fin, "%s/crash/results.csv", root);
    same_results(ref, fin);
    ck_assert_int_eq(count_json(trials), 8);
    all_records_whole(trials);
    assert_no_mistakable_tmp("crash");
    /* collect reads the same records (no temporary file taken for one): the same CSV */
    char *a = test_slurp(fin);
    ck_assert_int_eq(sh("%s collect %s >/dev/null 2>&1", bin, out), 0);
    char *b = test_slurp(fin);
    ck_assert_str_eq(a, b);
    free(a), free(b);
}
END_TEST

START_TEST(shards_partition_the_trials)
{
    run_ok("s0", "--shard 0/2");
    run_ok("s1", "--shard 1/2");
    char p0[512], p1[512];
    snprintf(p0, sizeof p0, "%s/s0/results.csv", root);
    snprintf(p1, sizeof p1, "%s/s1/results.csv", root);
    struct table a, b;
    read_csv(&a, p0);
    read_csv(&b, p1);
    ck_assert_int_eq(a.nrows + b.nrows, 8);
    ck_assert_int_eq(a.nrows, 4);
    for (int i = 0; i < a.nrows; i++)
        for (int j = 0; j < b.nrows; j++)
            ck_assert_str_ne(cell(&a, i, "trial_id"), cell(&b, j, "trial_id"));
    for (int i = 0; i < a.nrows; i++)
        ck_assert_int_eq(atoi(cell(&a, i, "index")) % 2, 0);
    free_table(&a);
    free_table(&b);
    /* collect merges shard outputs written into one directory */
    ck_assert_int_eq(sh("mkdir -p %s/merged/trials && cp %s/s0/trials/*.json %s/s1/trials/*.json "
                        "%s/merged/trials/ && %s collect %s/merged >/dev/null",
                        root, root, root, root, bin, root),
                     0);
    char m[512];
    snprintf(m, sizeof m, "%s/merged/results.csv", root);
    struct table c;
    read_csv(&c, m);
    ck_assert_int_eq(c.nrows, 8);
    free_table(&c);
    /* --trial K runs exactly that trial */
    run_ok("one", "--trial 5");
    snprintf(m, sizeof m, "%s/one/results.csv", root);
    read_csv(&c, m);
    ck_assert_int_eq(c.nrows, 1);
    ck_assert_str_eq(cell(&c, 0, "index"), "5");
    free_table(&c);
}
END_TEST

START_TEST(forced_nan_is_recorded_as_diverged)
{
    ck_assert_int_eq(sh("PEFTBENCH_FAULT_NAN_STEP=2 %s run %s/sweep.yaml --out %s/nan --quiet "
                        "seeds=1 >/dev/null 2>&1",
                        bin, root, root),
                     0);
    char p[512];
    snprintf(p, sizeof p, "%s/nan/results.csv", root);
    struct table t;
    read_csv(&t, p);
    ck_assert_int_eq(t.nrows, 4); /* every trial recorded: the sweep went on */
    for (int r = 0; r < t.nrows; r++) {
        ck_assert_str_eq(cell(&t, r, "status"), "diverged");
        ck_assert_str_eq(cell(&t, r, "diverged_step"), "2");
    }
    free_table(&t);
}
END_TEST

/* ---- NaN/Inf in the checkpoint ------------------------------------------------------------ */

#define BAD_TENSOR "encoder.layer.0.attention.self.query.weight"

/* ROOT/nanmodel: the test model with a NaN (index 17) and an Inf (index 18) in BAD_TENSOR. */
static void make_nan_model(char *dir, size_t n)
{
    char src[512], vocab[600];
    snprintf(src, sizeof src, "%s/model", root);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", src);
    snprintf(dir, n, "%s/nanmodel", root);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct err e;
    ck_assert_msg(model_load_dir(&m, src, 2, 1, &acct, &e) == 0, "%s", e.msg);
    struct param *p = param_find(&m.ps, BAD_TENSOR);
    ck_assert_ptr_nonnull(p);
    p->data[17] = NAN;
    p->data[18] = INFINITY;
    ck_assert_msg(model_save_dir(&m, dir, false, vocab, &e) == 0, "%s", e.msg);
    model_destroy(&m);
}

static int occurrences(const char *text, const char *needle)
{
    int k = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

/* Exit status of `peftbench ARGS >/dev/null 2>ROOT/LOG`; *err gets the log (free it). */
static int cli(char **err, const char *log, const char *args)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, log);
    int rc = sh("%s %s >/dev/null 2>%s", bin, args, path);
    *err = test_slurp(path);
    ck_assert_ptr_nonnull(*err);
    return rc;
}

START_TEST(nonfinite_checkpoint_warns_or_strict_fails)
{
    char model[512], args[2048], path[600], *err;
    make_nan_model(model, sizeof model);
    const char *want = BAD_TENSOR ": 2 non-finite values (first at index 17: nan)";

    /* default: the run goes on (each trial diverges), one warning naming file and tensor,
     * and every record keeps it */
    snprintf(args, sizeof args, "run %s/sweep.yaml --out %s/nanw --quiet seeds=1 model=%s", root,
             root, model);
    ck_assert_int_eq(cli(&err, "nanw.log", args), 0);
    ck_assert_msg(occurrences(err, want) == 1, "%s", err);
    ck_assert_msg(strstr(err, "nanmodel/model.safetensors: " BAD_TENSOR), "%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/nanw/trials", root);
    ck_assert_int_eq(count_json(path), 4);
    snprintf(path, sizeof path, "%s/nanw/results.csv", root);
    struct table t;
    read_csv(&t, path);
    for (int r = 0; r < t.nrows; r++) {
        char rec[700];
        snprintf(rec, sizeof rec, "%s/nanw/trials/%s.json", root, cell(&t, r, "trial_id"));
        char *text = test_slurp(rec);
        cJSON *j = cJSON_Parse(text);
        const cJSON *w = cJSON_GetObjectItem(j, "load_warning");
        ck_assert_msg(cJSON_IsString(w) && strstr(w->valuestring, want), "%s", text);
        cJSON_Delete(j);
        free(text);
    }
    free_table(&t);

    /* --strict: exit 1 naming file and tensor, nothing recorded */
    snprintf(args, sizeof args, "run %s/sweep.yaml --out %s/nans --quiet --strict seeds=1 model=%s",
             root, root, model);
    ck_assert_int_eq(cli(&err, "nans.log", args), 1);
    ck_assert_msg(strstr(err, "--strict") && strstr(err, "nanmodel/model.safetensors: " BAD_TENSOR),
                  "%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/nans/trials", root);
    ck_assert_int_eq(count_json(path), 0);

    /* a clean model: no warning (and an adapter to try predict with) */
    snprintf(args, sizeof args,
             "run %s/sweep.yaml --out %s/nanc --quiet --strict --trial 0 "
             "train.save_adapters=true",
             root, root);
    ck_assert_int_eq(cli(&err, "nanc.log", args), 0);
    ck_assert_msg(!strstr(err, "non-finite"), "%s", err);
    free(err);
    snprintf(path, sizeof path, "%s/nanc/results.csv", root);
    read_csv(&t, path);
    snprintf(args, sizeof args,
             "predict %s --adapter %s/nanc/adapters/%s --task syn-sentiment --max-seq-len 24 "
             "--seed 1 --max-examples 8 --out %s/nanpred.tsv",
             model, root, cell(&t, 0, "trial_id"), root);
    free_table(&t);
    ck_assert_int_eq(cli(&err, "nanp.log", args), 0);
    ck_assert_msg(occurrences(err, want) == 1, "%s", err);
    free(err);
    strcat(args, " --strict");
    ck_assert_int_eq(cli(&err, "nanp.log", args), 1);
    ck_assert_msg(strstr(err, "--strict") && strstr(err, "nanmodel/model.safetensors: " BAD_TENSOR),
                  "%s", err);
    free(err);
}
END_TEST

static bool have_unshare(void)
{
    return sh("unshare -rm true >/dev/null 2>&1") == 0;
}

START_TEST(read_only_output_fails_before_training)
{
    char log[512];
    snprintf(log, sizeof log, "%s/ro.log", root);
    int rc;
    if (have_unshare()) {
        sh("mkdir -p %s/ro", root);
        rc = sh("unshare -rm sh -c 'mount --bind %s/ro %s/ro && mount -o remount,bind,ro %s/ro && "
                "exec %s run %s/sweep.yaml --out %s/ro' >%s 2>&1",
                root, root, root, bin, root, root, log);
    } else { /* as root, permissions do not stop writes: use a path that cannot be created */
        rc = sh("%s run %s/sweep.yaml --out /proc/peftbench-ro >%s 2>&1", bin, root, log);
    }
    ck_assert_int_eq(rc, 1);
    char *text = test_slurp(log);
    ck_assert_msg(strstr(text, "not writable") || strstr(text, "cannot create") ||
                      strstr(text, "Read-only"),
                  "%s", text);
    ck_assert_msg(strstr(text, "trial 1/") == NULL, "training started: %s", text);
    free(text);
}
END_TEST

START_TEST(full_disk_gives_clear_error_and_no_truncated_file)
{
    char log[512], copy[512];
    snprintf(log, sizeof log, "%s/full.log", root);
    snprintf(copy, sizeof copy, "%s/fullcopy", root);
    int rc;
    if (have_unshare()) {
        sh("mkdir -p %s/disk %s", root, copy);
        /* 24 KiB: room for the sweep copy and a few trial records, not for all */
        rc = sh("unshare -rm sh -c 'mount -t tmpfs -o size=24k tmpfs %s/disk && "
                "%s run %s/sweep.yaml --out %s/disk/out --quiet; s=$?; "
                "cp -r %s/disk/out/. %s/; exit $s' >%s 2>&1",
                root, bin, root, root, root, copy, log);
    } else { /* fallback: a file-size limit makes writes fail the same way */
        rc = sh("sh -c 'ulimit -f 8; trap \"\" XFSZ; %s run %s/sweep.yaml --out %s --quiet' >%s "
                "2>&1",
                bin, root, copy, log);
    }
    ck_assert_int_eq(rc, 1);
    char *text = test_slurp(log);
    ck_assert_msg(strstr(text, "No space left") || strstr(text, "too large"), "%s", text);
    free(text);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/trials", copy);
    all_records_whole(dir);
    snprintf(dir, sizeof dir, "%s/results.csv", copy);
    if (access(dir, R_OK) == 0) { /* a CSV that exists is whole */
        struct table t;
        read_csv(&t, dir);
        free_table(&t);
    }
}
END_TEST

/* Malformed sweep files through the CLI: one clear message naming the file, exit 1. */
static const char *const bad_sweeps[][2] = {
    {"epochs: x", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\ntrain: {epochs: three}\n"
                  "methods: [{method: head}]\n"},
    {"unknown top key", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nmethdos: []\n"},
    {"unknown method", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nmethods: [{method: lorra}]\n"},
    {"unknown hp", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\n"
                   "methods: [{method: lora, rnak: 4}]\n"},
    {"rank 0", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nmethods: [{method: lora, rank: 0}]\n"},
    {"bool no", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\n"
                "methods: [{method: lora, rslora: no}]\n"},
    {"float for int", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\n"
                      "methods: [{method: lora, rank: 2.5}]\n"},
    {"unknown task", "sweep: b\nmodel: M\ntasks: [syn-sentimen]\nmethods: [{method: head}]\n"},
    {"negative seed", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nseeds: [-1]\n"
                      "methods: [{method: head}]\n"},
    {"empty methods", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nmethods: []\n"},
    {"missing model", "sweep: b\ntasks: [syn-sentiment]\nmethods: [{method: head}]\n"},
    {"zip unequal", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nmethods:\n"
                    "  - {method: lora, rank: [2, 4], alpha: [1, 2, 3], zip: [[rank, alpha]]}\n"},
    {"ambiguous", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\n"
                  "methods: [{methods: [houlsby, parallel], scaling: 2}]\n"},
    {"duplicate key", "sweep: b\nmodel: M\nmodel: N\ntasks: [syn-sentiment]\n"
                      "methods: [{method: head}]\n"},
    {"syntax", "sweep: b\nmodel: M\ntasks: [syn-sentiment\nmethods: [{method: head}]\n"},
    {"tab indent", "sweep: b\nmodel: M\n\ttasks: [syn-sentiment]\n"},
    {"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c]\n"
                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e]\n"},
    {"deep nesting", NULL},
    {"huge grid", "sweep: b\nmodel: M\ntasks: [syn-sentiment]\nseeds: [1,2,3,4,5,6,7,8,9,10]\n"
                  "methods:\n  - {method: lora, rank: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"
                  " alpha: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], dropout: [0, 0.1, 0.2, 0.3, "
                  "0.4, 0.5]}\n"},
    {"missing include", "include: nowhere.yaml\nsweep: b\n"},
    {"empty file", ""},
    {"tasks not a list", "sweep: b\nmodel: M\ntasks: {a: 1}\nmethods: [{method: head}]\n"},
};

START_TEST(malformed_sweeps_one_clear_message)
{
    int n = (int)(sizeof bad_sweeps / sizeof *bad_sweeps);
    ck_assert_int_ge(n, 20);
    for (int i = 0; i < n; i++) {
        char path[512], log[512];
        snprintf(path, sizeof path, "%s/bad%d.yaml", root, i);
        if (!bad_sweeps[i][1]) { /* 40 levels of nested lists */
            char deep[256] = "sweep: ";
            for (int k = 0; k < 40; k++)
                strcat(deep, "[");
            for (int k = 0; k < 40; k++)
                strcat(deep, "]");
            strcat(deep, "\n");
            test_write_file(path, deep);
        } else {
            test_write_file(path, bad_sweeps[i][1]);
        }
        snprintf(log, sizeof log, "%s/bad%d.log", root, i);
        int rc = sh("%s plan %s >/dev/null 2>%s", bin, path, log);
        char *text = test_slurp(log);
        ck_assert_msg(rc == 2, "%s: exit %d (2: unusable input): %s", bad_sweeps[i][0], rc, text);
        ck_assert_msg(strstr(text, path) != NULL || strstr(text, "bad") != NULL,
                      "%s: message does not name the file: %s", bad_sweeps[i][0], text);
        int lines = 0;
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
        ck_assert_msg(lines == 1, "%s: expected one message line, got: %s", bad_sweeps[i][0],
                      text);
        free(text);
    }
}
END_TEST

/* The text of row after its k-th TAB (the test fails when there is none). */
static const char *after_tabs(const char *row, int k)
{
    for (int i = 0; i < k; i++) {
        row = strchr(row, '\t');
        ck_assert_ptr_nonnull(row);
        row++;
    }
    return row;
}

START_TEST(save_adapters_and_predict)
{
    ck_assert_int_eq(sh("%s run %s/sweep.yaml --out %s/ad --quiet --trial 0 "
                        "train.save_adapters=true >/dev/null 2>&1",
                        bin, root, root),
                     0);
    char p[512];
    snprintf(p, sizeof p, "%s/ad/results.csv", root);
    struct table t;
    read_csv(&t, p);
    const char *id = cell(&t, 0, "trial_id");
    double acc = atof(cell(&t, 0, "accuracy"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s predict %s/model --adapter %s/ad/adapters/%s --task syn-sentiment --split dev "
             "--max-seq-len 24 --seed 1 --max-examples 48",
             bin, root, root, id);
    ck_assert_int_eq(sh("%s --out %s/pred.tsv > %s/pred.log 2>&1", cmd, root, root), 0);
    ck_assert_int_eq(sh("%s --out %s/pred_m.tsv --merged > /dev/null 2>&1", cmd, root), 0);
    char a[512], b[512], l[512];
    snprintf(a, sizeof a, "%s/pred.tsv", root);
    snprintf(b, sizeof b, "%s/pred_m.tsv", root);
    snprintf(l, sizeof l, "%s/pred.log", root);
    char *x = test_slurp(a), *y = test_slurp(b), *log = test_slurp(l);
    int lines = 0;
    for (char *q = x; *q; q++)
        lines += *q == '\n';
    ck_assert_int_eq(lines, 1 + 48); /* a header, one line per dev example of the subsample */
    ck_assert_msg(strncmp(x, "id\tlogit_negative\tlogit_positive\tpredicted\tgold\n", 48) == 0,
                  "%.80s", x);
    /* merged and unmerged give the same predicted labels (columns 4 and 5 of each line) */
    char *s1 = NULL, *s2 = NULL;
    for (char *r1 = strtok_r(x, "\n", &s1), *r2 = strtok_r(y, "\n", &s2); r1 && r2;
         r1 = strtok_r(NULL, "\n", &s1), r2 = strtok_r(NULL, "\n", &s2)) {
        ck_assert_str_eq(after_tabs(r1, 3), after_tabs(r2, 3)); /* predicted and gold */
    }
    /* the dev accuracy printed by predict is the one the sweep recorded at the best epoch */
    const char *m = strstr(log, "accuracy ");
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(fabs(atof(m + 9) - acc) < 1e-6, "%s vs %g", log, acc);
    free(x), free(y), free(log);
    free_table(&t);
}
END_TEST

Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, sweep_writes_rows_ids_columns_and_json);
    tcase_add_test(tc, kill_20_times_and_resume_equals_uninterrupted);
    tcase_add_test(tc, shards_partition_the_trials);
    tcase_add_test(tc, forced_nan_is_recorded_as_diverged);
    tcase_add_test(tc, nonfinite_checkpoint_warns_or_strict_fails);
    tcase_add_test(tc, read_only_output_fails_before_training);
    tcase_add_test(tc, full_disk_gives_clear_error_and_no_truncated_file);
    tcase_add_test(tc, malformed_sweeps_one_clear_message);
    tcase_add_test(tc, save_adapters_and_predict);
    suite_add_tcase(s, tc);
    return s;
}
