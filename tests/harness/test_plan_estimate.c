/*
 * `peftbench plan`'s wall-time estimate (harness/run/plan_estimate.h): the mean wall time of
 * recorded trials of the same method and task, else of every recorded trial, summed over the
 * trials `run` would train (failed ones included unless --skip-failed); no record, no
 * estimate.  Records are written by hand into a temporary results directory.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/run/model_identity.h"
#include "harness/run/plan_estimate.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char root[128];

static const char sweep_yaml[] = "sweep: est\n"
                                 "model: %s/model\n"
                                 "tasks: [syn-sentiment]\n"
                                 "seeds: [1, 2]\n"
                                 "train: {max_seq_len: 24}\n"
                                 "methods: [lora, head]\n";

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", root, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(text);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/peftbench-estimate-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
    rm_tree(root);
}

/* A record of trial (id, method, task) with status and, when >= 0, wall_seconds. */
static void record(const char *out, const char *id, const char *method, const char *task,
                   const char *status, double wall)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "trial_id", id);
    cJSON_AddStringToObject(r, "status", status);
    cJSON_AddStringToObject(r, "method", method);
    cJSON_AddStringToObject(r, "task", task);
    if (wall >= 0)
        cJSON_AddNumberToObject(r, "wall_seconds", wall);
    struct err e = {0};
    ck_assert_msg(results_mkdirs(out, &e) == 0, "%s", e.msg);
    char trials[300];
    snprintf(trials, sizeof trials, "%s/trials", out);
    ck_assert_msg(results_mkdirs(trials, &e) == 0, "%s", e.msg);
    ck_assert_msg(results_write_trial(out, r, &e) == 0, "%s", e.msg);
    cJSON_Delete(r);
}

static char *estimate(const char *out, const struct trial *const *todo, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    plan_estimate_print(f, out, todo, n);
    fclose(f);
    return text;
}

/* Same method and task first, else every record; failed records carry no time. */
START_TEST(test_means)
{
    char out[256];
    snprintf(out, sizeof out, "%s/out", root);
    struct trial a = {0}, b = {0};
    snprintf(a.label, sizeof a.label, "lora");
    snprintf(a.task, sizeof a.task, "t1");
    snprintf(b.label, sizeof b.label, "ia3"); /* never recorded: the mean of all */
    snprintf(b.task, sizeof b.task, "t1");
    const struct trial *todo[] = {&a, &b};
    char *s = estimate(out, todo, 2);
    ck_assert_str_eq(s, "no estimate (no recorded trials)\n");
    free(s);
    record(out, "00000000000000a1", "lora", "t1", "ok", 600);
    record(out, "00000000000000a2", "lora", "t1", "diverged", 1200);
    record(out, "00000000000000a3", "head", "t2", "ok", 300);
    record(out, "00000000000000a4", "lora", "t1", "failed", -1);
    /* lora/t1: (600 + 1200) / 2 = 900 s; ia3: (600 + 1200 + 300) / 3 = 700 s; 1600 s */
    s = estimate(out, todo, 2);
    ck_assert_str_eq(s, "estimated remaining: ~27 min (from 3 recorded trials)\n");
    free(s);
    s = estimate(out, todo, 0);
    ck_assert_str_eq(s, "estimated remaining: nothing to run\n");
    free(s);
}
END_TEST

/* Through `peftbench plan`: the trials it would run, the records of its results directory. */
START_TEST(test_plan_prints_it)
{
    const char *bin = peftbench_bin();
    put("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n");
    ck_assert_int_eq(sh("%s init-model %s/model --vocab %s/vocab.txt --layers 1 --hidden 16 "
                        "--heads 2 --ffn 32 --max-pos 64 >/dev/null",
                        bin, root, root),
                     0);
    char text[1024], path[300], out[300], log[300];
    snprintf(text, sizeof text, sweep_yaml, root);
    put("sweep.yaml", text);
    snprintf(path, sizeof path, "%s/sweep.yaml", root);
    snprintf(out, sizeof out, "%s/out", root);
    snprintf(log, sizeof log, "%s/plan.log", root);
    ck_assert_int_eq(sh("%s plan %s --out %s >%s 2>&1", bin, path, out, log), 0);
    char *s = slurp(log);
    ck_assert_msg(strstr(s, "\nno estimate (no recorded trials)\n") != NULL, "%s", s);
    free(s);

    struct sweep sw;
    struct sweep_opts so = {.model_identity = model_identity}; /* the ids `plan` computes */
    struct err e = {0};
    ck_assert_msg(sweep_load(&sw, path, &so, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(sw.ntrials, 4); /* lora seed 1, 2, head seed 1, 2 */
    ck_assert_str_eq(sw.trials[0].label, "lora");
    record(out, sw.trials[0].id, "lora", "syn-sentiment", "ok", 600);
    record(out, sw.trials[2].id, "head", "syn-sentiment", "ok", 60);
    record(out, sw.trials[3].id, "head", "syn-sentiment", "failed", -1);
    /* to run: lora seed 2 (600 s) and the failed head seed 2 (60 s): 11 min */
    ck_assert_int_eq(sh("%s plan %s --out %s >%s 2>&1", bin, path, out, log), 0);
    s = slurp(log);
    ck_assert_msg(strstr(s, "\nestimated remaining: ~11 min (from 2 recorded trials)\n"), "%s", s);
    free(s);
    ck_assert_int_eq(sh("%s plan %s --out %s --skip-failed >%s 2>&1", bin, path, out, log), 0);
    s = slurp(log);
    ck_assert_msg(strstr(s, "\nestimated remaining: ~10 min (from 2 recorded trials)\n"), "%s", s);
    free(s);
    sweep_free(&sw);
}
END_TEST

Suite *plan_estimate_suite(void)
{
    Suite *s = suite_create("plan_estimate");
    TCase *tc = tcase_create("estimate");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_means);
    tcase_add_test(tc, test_plan_prints_it);
    suite_add_tcase(s, tc);
    return s;
}
