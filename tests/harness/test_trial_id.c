/*
 * Trial identity (harness/sweep/trial_id.h, harness/run/model_identity.h): the id covers what
 * can change a recorded result and nothing else.  The model enters as what it is: builtin:NAME
 * and the directory built from it give one id, another checkpoint at the same path another;
 * save_adapters and thread counts do not enter.  Fixtures go to a fresh temporary directory.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "harness/pretrain/command.h"
#include "harness/pretrain/config.h"
#include "harness/run/model_identity.h"
#include "harness/sweep/sweep.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-trialid-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(tpath(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A model directory's files (contents are never parsed by the identity). */
static void fake_model(const char *dir, const char *weights)
{
    char name[256];
    mkdir(tpath(dir), 0700);
    snprintf(name, sizeof name, "%s/config.json", dir);
    put(name, "{\"hidden_size\": 8}\n");
    snprintf(name, sizeof name, "%s/model.safetensors", dir);
    put(name, weights);
    snprintf(name, sizeof name, "%s/vocab.txt", dir);
    put(name, "[PAD]\n[UNK]\n");
}

/* Load a one-method sweep on model with the real identity function; extra: more lines. */
static void load(struct sweep *s, const char *model, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "sweep: t\nmodel: %s\ntasks: [syn-sentiment]\nseeds: [1, 2]\n%s"
             "methods:\n  - {method: lora, rank: [2, 4]}\n",
             model, extra);
    put("s.yaml", text);
    struct sweep_opts o = {.model_identity = model_identity};
    struct err e = {0};
    ck_assert_msg(sweep_load(s, tpath("s.yaml"), &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s->ntrials, 4);
}

static void same_ids(const struct sweep *a, const struct sweep *b, bool same)
{
    ck_assert_uint_eq(a->ntrials, b->ntrials);
    for (size_t i = 0; i < a->ntrials; i++)
        ck_assert_int_eq(strcmp(a->trials[i].id, b->trials[i].id) == 0, same);
}

/* builtin:NAME before any build and the directory built from its config: one id. */
START_TEST(test_builtin_and_its_directory)
{
    char cfg[256], key[PRETRAIN_KEY_LEN + 1];
    snprintf(cfg, sizeof cfg, "%s/tiny-bert.yaml", PRETRAIN_CONFIG_DIR);
    struct pretrain_cfg c;
    struct err e = {0};
    ck_assert_msg(pretrain_cfg_load(&c, cfg, &e) == 0, "%s", e.msg);
    memcpy(key, c.key, sizeof key);
    pretrain_cfg_free(&c);
    fake_model("built", "weights of the build");
    char stats[256];
    snprintf(stats, sizeof stats, "{\"config_hash\": \"%s\", \"wall_seconds\": 1}\n", key);
    put("built/pretrain_stats.json", stats);

    char a[256], b[256];
    model_identity("builtin:tiny-bert", a, sizeof a);
    model_identity(tpath("built"), b, sizeof b);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(strncmp(a, "pretrain:", 9), 0);
    struct sweep s1, s2;
    load(&s1, "builtin:tiny-bert", "");
    load(&s2, tpath("built"), "");
    same_ids(&s1, &s2, true);
    ck_assert_ptr_null(strstr(s1.trials[0].canonical, "builtin:"));
    ck_assert_ptr_nonnull(strstr(s1.trials[0].canonical, "peftbench-trial v2\n"));
    sweep_free(&s1);
    sweep_free(&s2);

    /* a build of another config at that path is another model */
    put("built/pretrain_stats.json", "{\"config_hash\": \"0123456789abcdef\"}\n");
    model_identity(tpath("built"), b, sizeof b);
    ck_assert_str_ne(a, b);
}
END_TEST

/* A directory is its content: same size and time, other bytes, other id; two spellings of
 * one directory, one id. */
START_TEST(test_checkpoint_content)
{
    fake_model("m", "checkpoint AAAA");
    struct sweep s1, s2, s3;
    load(&s1, tpath("m"), "");
    struct stat st;
    ck_assert_int_eq(stat(tpath("m/model.safetensors"), &st), 0);
    put("m/model.safetensors", "checkpoint BBBB"); /* same size */
    struct utimbuf ut = {st.st_atime, st.st_mtime};
    ck_assert_int_eq(utime(tpath("m/model.safetensors"), &ut), 0); /* same time */
    load(&s2, tpath("m"), "");
    same_ids(&s1, &s2, false);
    char spelled[600];
    snprintf(spelled, sizeof spelled, "%s/./m/", tmpdir);
    load(&s3, spelled, "");
    same_ids(&s2, &s3, true);
    /* the vocabulary is part of the model */
    put("m/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n");
    char a[256], b[256];
    model_identity(tpath("m"), a, sizeof a);
    put("m/vocab.txt", "[PAD]\n[UNK]\n");
    model_identity(tpath("m"), b, sizeof b);
    ck_assert_str_ne(a, b);
    /* no weights: unresolved, by spelling (preflight refuses to run it) */
    model_identity(tpath("nowhere"), a, sizeof a);
    ck_assert_int_eq(strncmp(a, "unresolved:", 11), 0);
    sweep_free(&s1);
    sweep_free(&s2);
    sweep_free(&s3);
}
END_TEST

/* save_adapters (an output option) and thread counts (not sweep settings at all) stay out. */
START_TEST(test_outputs_and_threads_not_in_id)
{
    fake_model("m", "checkpoint");
    struct sweep s1, s2, s3;
    load(&s1, tpath("m"), "");
    load(&s2, tpath("m"), "train: {save_adapters: true}\n");
    same_ids(&s1, &s2, true);
    ck_assert_ptr_null(strstr(s1.trials[0].canonical, "save_adapters"));
    ck_assert_ptr_null(strstr(s1.trials[0].canonical, "thread"));
    /* while a setting that changes the result does enter */
    load(&s3, tpath("m"), "train: {lr: 0.5}\n");
    same_ids(&s1, &s3, false);
    sweep_free(&s1);
    sweep_free(&s2);
    sweep_free(&s3);
}
END_TEST

Suite *trial_id_suite(void)
{
    Suite *s = suite_create("trial_id");
    TCase *tc = tcase_create("identity");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_builtin_and_its_directory);
    tcase_add_test(tc, test_checkpoint_content);
    tcase_add_test(tc, test_outputs_and_threads_not_in_id);
    suite_add_tcase(s, tc);
    return s;
}
