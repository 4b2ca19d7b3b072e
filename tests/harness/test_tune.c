/*
 * Per-method training defaults and tuning on dev (issue 17 section 1): the
 * precedence of train settings at each level, `peftbench methods` printing
 * each method's defaults with their source, `tune:` expansion and its
 * errors, and the "selected on dev" view on a hand-computed results fixture.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/aggregate.h"
#include "harness/report/select.h"
#include "harness/sweep/sweep.h"
#include "harness/sweep/train_cfg.h"
#include "methods/registry.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-tune-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((int)fwrite(text, 1, strlen(text), f), (int)strlen(text));
    fclose(f);
    return path;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Load text as a sweep with command-line overrides ov[0..nov); the return code. */
static int load(struct sweep *s, const char *text, const char *const *ov, int nov, struct err *e)
{
    struct sweep_opts o = {0};
    o.overrides = ov;
    o.noverrides = nov;
    return sweep_load(s, write_file("t.yaml", text), &o, e);
}

static void load_ok(struct sweep *s, const char *text, const char *const *ov, int nov)
{
    struct err e = {0};
    ck_assert_msg(load(s, text, ov, nov, &e) == 0, "unexpected error: %s", e.msg);
}

#define HEAD "sweep: t\nmodel: builtin:tiny\ntasks: [syn-sentiment]\nseeds: [1]\n"
#define HEAD2 "sweep: t\nmodel: builtin:tiny\ntasks: [syn-sentiment]\nseeds: [1, 2]\n"
#define TOL 1e-15

/* ---- precedence ------------------------------------------------------------- */

START_TEST(test_method_default_beats_global)
{
    struct sweep s;
    load_ok(&s, HEAD "methods: [lora, full, ia3, {methods: [prefix, parallel]}]\n", NULL, 0);
    ck_assert_uint_eq(s.ntrials, 4);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 5e-4, TOL);          /* lora */
    ck_assert_double_eq_tol(s.trials[0].train.weight_decay, 0.1, TOL);
    ck_assert_int_eq(s.trials[0].train.epochs, 3);                      /* global */
    ck_assert_double_eq_tol(s.trials[1].train.lr, 2e-5, TOL);          /* full */
    ck_assert_double_eq_tol(s.trials[1].train.weight_decay, 0.0, TOL); /* global */
    ck_assert_double_eq_tol(s.trials[2].train.lr, 3e-3, TOL);          /* ia3 */
    /* composed: the first method declaring a setting wins, others fill the rest */
    ck_assert_double_eq_tol(s.trials[3].train.lr, 5e-5, TOL);          /* prefix */
    ck_assert_double_eq_tol(s.trials[3].train.weight_decay, 0.1, TOL); /* parallel */
    /* the resolved value is in the canonical text, so the id follows it */
    ck_assert_ptr_nonnull(strstr(s.trials[0].canonical, "train.lr=0.0005\n"));
    sweep_free(&s);
}
END_TEST

START_TEST(test_sweep_beats_method_default)
{
    struct sweep s;
    load_ok(&s, HEAD "train: {lr: 2e-3}\nmethods: [lora, full]\n", NULL, 0);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 2e-3, TOL);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 2e-3, TOL);
    /* only what the sweep sets: lora keeps its weight decay */
    ck_assert_double_eq_tol(s.trials[0].train.weight_decay, 0.1, TOL);
    sweep_free(&s);
}
END_TEST

START_TEST(test_block_beats_sweep)
{
    struct sweep s;
    load_ok(&s,
            HEAD "train: {lr: 2e-3, weight_decay: 0.01}\n"
                 "methods: [{method: lora, train: {lr: 7e-4}}, lora]\n",
            NULL, 0);
    ck_assert_uint_eq(s.ntrials, 2);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 7e-4, TOL);
    ck_assert_double_eq_tol(s.trials[0].train.weight_decay, 0.01, TOL);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 2e-3, TOL);
    sweep_free(&s);
}
END_TEST

START_TEST(test_cli_beats_block)
{
    struct sweep s;
    const char *ov[] = {"train.lr=9e-4"};
    load_ok(&s,
            HEAD "train: {lr: 2e-3}\n"
                 "methods: [{method: lora, train: {lr: 7e-4}}, full]\n",
            ov, 1);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 9e-4, TOL);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 9e-4, TOL);
    sweep_free(&s);
    /* also when the file has no top-level train: at all, and for a flow value */
    const char *ov2[] = {"train={lr: 8e-4}"};
    load_ok(&s, HEAD "methods: [{method: lora, train: {lr: 7e-4}}, ia3]\n", ov2, 1);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 8e-4, TOL);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 8e-4, TOL);
    sweep_free(&s);
    /* a block override on the command line is a block value */
    const char *ov3[] = {"methods.0.train.lr=6e-4"};
    load_ok(&s, HEAD "train: {lr: 2e-3}\nmethods: [{method: lora, train: {lr: 7e-4}}]\n", ov3, 1);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 6e-4, TOL);
    sweep_free(&s);
    /* a command-line value cannot silently flatten a block's list */
    struct err e = {0};
    ck_assert_int_ne(load(&s, HEAD "methods: [{method: lora, tune: {lr: [1e-4, 1e-3]}}]\n", ov, 1,
                          &e),
                     0);
    ck_assert_msg(strstr(e.msg, "t.yaml:5:33: lr: this block lists values of lr, but the "
                                "command line sets train.lr"),
                  "%s", e.msg);
}
END_TEST

/* ---- methods prints its defaults ---------------------------------------------- */

START_TEST(test_methods_print_defaults)
{
    for (int i = 0; i < registry_count(); i++) {
        const struct method_ops *m = registry_at(i);
        ck_assert_msg(m->train.lr > 0, "%s declares no default lr", m->name);
        ck_assert_msg(m->train.source && *m->train.source, "%s: no source", m->name);
    }
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ck_assert_ptr_nonnull(f);
    method_print(f, method_find("lora"));
    method_print(f, method_find("full"));
    fclose(f);
    ck_assert_msg(strstr(text, "    train defaults: lr 5e-4, weight_decay 0.1\n"
                               "        source: Hu et al. 2021"),
                  "%s", text);
    ck_assert_msg(strstr(text, "    train defaults: lr 2e-5\n"), "%s", text);
    free(text);
    /* and the binary's `methods` command prints the same */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/methods.txt", tmpdir);
    ck_assert_int_eq(sh("%s methods > %s 2>&1", peftbench_bin(), cmd), 0);
    const char *out = read_all(cmd);
    ck_assert_msg(strstr(out, "train defaults: lr 3e-3\n        source: Liu et al. 2022"), "%s",
                  out);
}
END_TEST

/* ---- tune: expansion ----------------------------------------------------------- */

START_TEST(test_tune_expansion)
{
    struct sweep s, t;
    load_ok(&s,
            HEAD2 "methods:\n"
                 "  - {method: lora, rank: [4, 8], tune: {lr: [1e-4, 3e-4, 1e-3]}}\n"
                 "  - head\n"
                 "  - {method: ia3, tune: {lr: [1e-3], weight_decay: [0, 0.1]}}\n"
                 "  - {method: bitfit, tune: {lr: [1e-4, 1e-3]}, train: {epochs: 2}}\n",
            NULL, 0);
    /* rank x lr x seeds, head x seeds, lr x wd x seeds, lr x seeds */
    ck_assert_uint_eq(s.ntrials, 2 * 3 * 2 + 2 + 1 * 2 * 2 + 2 * 2);
    train_mask lr = TRAIN_BIT(train_cfg_field_index("lr"));
    train_mask wd = TRAIN_BIT(train_cfg_field_index("weight_decay"));
    ck_assert_uint_eq(s.trials[0].tuned, lr);
    /* grid order: rank, then lr fastest, then seeds */
    ck_assert_double_eq_tol(s.trials[0].train.lr, 1e-4, TOL);
    ck_assert_double_eq_tol(s.trials[2].train.lr, 3e-4, TOL);
    ck_assert_double_eq_tol(s.trials[6].train.lr, 1e-4, TOL);
    ck_assert_int_eq(hp_int(&s.trials[6].m[0].hp, "rank"), 8);
    ck_assert_uint_eq(s.trials[12].tuned, 0u); /* head */
    ck_assert_uint_eq(s.trials[14].tuned, lr | wd);
    ck_assert_uint_eq(s.trials[18].tuned, lr);
    ck_assert_int_eq(s.trials[18].train.epochs, 2);
    for (size_t i = 0; i < s.ntrials; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(s.trials[i].id, s.trials[j].id);
    /* a tuned trial is the same training as the grid trial: same canonical text and id */
    load_ok(&t, HEAD2 "methods:\n"
                     "  - {method: lora, rank: [4, 8], train: {lr: [1e-4, 3e-4, 1e-3]}}\n",
            NULL, 0);
    ck_assert_uint_eq(t.ntrials, 12);
    for (size_t i = 0; i < t.ntrials; i++) {
        ck_assert_str_eq(t.trials[i].id, s.trials[i].id);
        ck_assert_uint_eq(t.trials[i].tuned, 0u);
    }
    sweep_free(&s);
    sweep_free(&t);
}
END_TEST

/* ---- bad tune: input -------------------------------------------------------------- */

static const char *const bad_tune[][3] = {
    {HEAD "methods: [{method: lora, tune: {lrr: [1e-4]}}]\n", "t.yaml:5:33",
     "unknown key 'lrr' in a method block's tune (did you mean 'lr'?)"},
    {HEAD "methods: [{method: lora, tune: {lr: 1e-4}}]\n", "t.yaml:5:37",
     "tune.lr: expected a non-empty list of values to select from on dev"},
    {HEAD "methods: [{method: lora, tune: {lr: []}}]\n", "t.yaml:5:37",
     "tune.lr: expected a non-empty list of values to select from on dev (e.g. [1e-4, 3e-4]), "
     "found []"},
    {HEAD "methods: [{method: lora, tune: [lr]}]\n", "t.yaml:5:32",
     "tune: expected a mapping of train settings to lists of values"},
    {HEAD "methods: [{method: lora, tune: {lr: [1e-4, x]}}]\n", "t.yaml:5:44",
     "tune.lr: expected a number in (0, 10], found 'x'"},
    {HEAD "methods: [{method: lora, train: {lr: 1e-4}, tune: {lr: [1e-3]}}]\n", "t.yaml:5:52",
     "tune.lr: lr is also set at /"},
    {HEAD "methods: [{method: lora, tune: {lr: [1e-3]}, train: {lr: 1e-4}}]\n", "t.yaml:5:54",
     "train.lr: lr is also tuned at /"},
    {HEAD "methods: [{method: lora, tune: {rank: [4, 8]}}]\n", "t.yaml:5:33",
     "tune.rank: tune: selects train settings only; rank is a hyperparameter of lora"},
};

START_TEST(test_tune_bad)
{
    const char *const *c = bad_tune[_i];
    struct sweep s;
    struct err e = {0};
    int rc = load(&s, c[0], NULL, 0, &e);
    ck_assert_msg(rc != 0, "case %d: no error", _i);
    ck_assert_msg(strstr(e.msg, c[1]) && strstr(e.msg, c[2]), "case %d: '%s' / '%s' not in: %s",
                  _i, c[1], c[2], e.msg);
    ck_assert_uint_eq(s.ntrials, 0);
    if (_i > 2)
        return;
    /* the command line exits 2 (a configuration error) with the position */
    char out[600];
    snprintf(out, sizeof out, "%s/err.txt", tmpdir);
    ck_assert_int_eq(sh("cd %s && %s plan t.yaml > %s 2>&1", tmpdir, peftbench_bin(), out), 2);
    const char *text = read_all(out);
    ck_assert_msg(strstr(text, c[1]) && strstr(text, c[2]), "case %d: %s", _i, text);
}
END_TEST

/* ---- selection ------------------------------------------------------------------------ */

/* lora rank 4 and 8, each tuned over lr {1e-4, 1e-3}, seeds 1 and 2, no test labels (empty
 * test column: the held-out dev half is reported); head untuned; a diverged candidate. */
static const char *const fixture =
    "sweep,trial_id,index,status,task,method,seed,model,primary_metric,primary_value,"
    "test_primary_value,heldout_primary_value,tuned,train.lr,lora.rank\n"
    "s,a1,0,ok,wn-pos,lora,1,M,accuracy,0.60,,0.58,lr,0.0001,4\n"
    "s,a2,1,ok,wn-pos,lora,2,M,accuracy,0.62,,0.60,lr,0.0001,4\n"
    "s,b1,2,ok,wn-pos,lora,1,M,accuracy,0.70,,0.66,lr,0.001,4\n"
    "s,b2,3,ok,wn-pos,lora,2,M,accuracy,0.74,,0.70,lr,0.001,4\n"
    "s,c1,4,ok,wn-pos,lora,1,M,accuracy,0.80,,0.75,lr,0.0001,8\n"
    "s,c2,5,ok,wn-pos,lora,2,M,accuracy,0.80,,0.77,lr,0.0001,8\n"
    "s,d1,6,ok,wn-pos,lora,1,M,accuracy,0.80,,0.10,lr,0.001,8\n"
    "s,d2,7,ok,wn-pos,lora,2,M,accuracy,0.80,,0.10,lr,0.001,8\n"
    "s,e1,8,diverged,wn-pos,lora,1,M,accuracy,,,,lr,0.01,8\n"
    "s,h1,9,ok,wn-pos,head,1,M,accuracy,0.50,,0.50,,0.001,\n";

/* Hand-computed: rank 4 picks lr 1e-3 (dev mean 0.72 > 0.61); its held-out values 0.66, 0.70
 * give mean 0.68, std 0.0282842712, sem 0.02, ci95 = t(0.975, 1) 12.7062047 x 0.02 =
 * 0.254124095.  Rank 8: lr 1e-4 and 1e-3 tie at 0.80 (the first in plan order wins; the
 * diverged lr 1e-2 has no dev value); held-out 0.75, 0.77: mean 0.76, std 0.0141421356,
 * ci95 12.7062047 x 0.01 = 0.127062047. */
static const char *const expected =
    "task,method,point,tuned,chosen,candidates,dev_n,dev_mean,dev_ci95_low,dev_ci95_high,"
    "eval_split,eval_n,eval_mean,eval_std,eval_ci95_low,eval_ci95_high\n"
    "wn-pos,lora,lora rank=4,lr,lr=0.001,2,2,0.72,0.465875905,0.974124095,"
    "dev-heldout,2,0.68,0.0282842712,0.425875905,0.934124095\n"
    "wn-pos,lora,lora rank=8,lr,lr=0.0001,3,2,0.8,0.8,0.8,"
    "dev-heldout,2,0.76,0.0141421356,0.632937953,0.887062047\n";

START_TEST(test_select_fixture)
{
    struct agg_table t;
    struct agg a;
    struct selection sel;
    struct err e = {0};
    ck_assert_msg(agg_table_load(&t, write_file("results.csv", fixture), &e) == 0, "%s", e.msg);
    ck_assert_msg(agg_build(&a, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(select_build(&sel, &a, &e), 0);
    ck_assert_uint_eq(sel.n, 2);
    char path[600];
    snprintf(path, sizeof path, "%s/selected.csv", tmpdir);
    ck_assert_int_eq(select_write_csv(&sel, path, &e), 0);
    const char *got = read_all(path);
    ck_assert_msg(strcmp(got, expected) == 0, "got:\n%s\nexpected:\n%s", got, expected);
    struct strbuf b = {0};
    select_markdown(&b, &sel);
    ck_assert_ptr_nonnull(b.p);
    ck_assert_msg(strstr(b.p, "## Selected on dev"), "%s", b.p);
    ck_assert_msg(strstr(b.p, "| wn-pos | lora rank=4 | lr=0.001 | 2 | 0.7200 ± 0.2541 (n=2) | "
                              "dev-heldout | 0.6800 ± 0.2541 (n=2) |"),
                  "%s", b.p);
    strbuf_free(&b);
    select_free(&sel);
    agg_free(&a);
    agg_table_free(&t);
}
END_TEST

/* A sweep without tuned trials selects nothing and writes no selected.csv. */
START_TEST(test_select_untuned)
{
    struct agg_table t;
    struct agg a;
    struct selection sel;
    struct err e = {0};
    const char *csv = "sweep,trial_id,index,status,task,method,seed,primary_value\n"
                      "s,a,0,ok,wn-pos,head,1,0.5\n";
    ck_assert_int_eq(agg_table_load(&t, write_file("r.csv", csv), &e), 0);
    ck_assert_int_eq(agg_build(&a, &t, &e), 0);
    ck_assert_int_eq(select_build(&sel, &a, &e), 0);
    ck_assert_uint_eq(sel.n, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/none.csv", tmpdir);
    ck_assert_int_eq(select_write_csv(&sel, path, &e), 0);
    ck_assert_ptr_null(fopen(path, "r"));
    select_free(&sel);
    agg_free(&a);
    agg_table_free(&t);
}
END_TEST

Suite *tune_suite(void)
{
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_method_default_beats_global);
    tcase_add_test(tc, test_sweep_beats_method_default);
    tcase_add_test(tc, test_block_beats_sweep);
    tcase_add_test(tc, test_cli_beats_block);
    tcase_add_test(tc, test_methods_print_defaults);
    tcase_add_test(tc, test_tune_expansion);
    tcase_add_loop_test(tc, test_tune_bad, 0, (int)(sizeof bad_tune / sizeof *bad_tune));
    tcase_add_test(tc, test_select_fixture);
    tcase_add_test(tc, test_select_untuned);
    suite_add_tcase(s, tc);
    return s;
}
