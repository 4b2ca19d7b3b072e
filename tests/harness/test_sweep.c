/*
 * Sweep parser and expander: the YAML loader (limits, includes, overrides,
 * emission), the schema, grid expansion, trial ids, and one clear
 * "file:line" message per malformed sweep.  Fixtures are written into a
 * fresh temporary directory per test.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/sweep/sweep.h"
#include "harness/sweep/trial_id.h"
#include "harness/yaml/yaml.h"
#include "methods/registry.h"
#include "tests/suites.h"
#include "tests/cli_util.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-sweep-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

/* Path of name inside the temp dir (rotating static buffers: a few may be live). */
static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = tpath(name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((int)fwrite(text, 1, strlen(text), f), (int)strlen(text));
    fclose(f);
    return p;
}

static int load_opts(struct sweep *s, const char *name, const char *const *ov, int nov, bool large,
                     struct err *e)
{
    struct sweep_opts o = {ov, nov, large, NULL};
    return sweep_load(s, tpath(name), &o, e);
}

static void load_ok(struct sweep *s, const char *name, const char *text)
{
    struct err e = {0};
    write_file(name, text);
    int rc = sweep_load(s, tpath(name), NULL, &e);
    ck_assert_msg(rc == 0, "%s: unexpected error: %s", name, e.msg);
}

/* Generic lora is a test dependency; it is registered in methods/list.def. */
static void need_lora(void)
{
    ck_assert_msg(method_find("lora") != NULL, "method lora is not registered");
}

#define HEAD "sweep: t\nmodel: builtin:tiny\ntasks: [syn-sentiment]\nseeds: [1]\n"

/* ---- valid sweeps --------------------------------------------------------- */

static const char *const grid_yaml = "sweep: grid\n"
                                     "model: builtin:tiny\n"
                                     "tasks: [syn-sentiment, syn-match]\n"
                                     "seeds: [1, 2]\n"
                                     "train: {epochs: 2, lr: 1e-3}\n"
                                     "methods:\n"
                                     "  - method: lora\n"
                                     "    rank: [4, 8]\n"
                                     "    targets: [[q, v], [q, k, v, o]]\n"
                                     "  - method: prefix\n"
                                     "    prefix_length: [10, 20]\n"
                                     "    reparam: false\n"
                                     "plots:\n"
                                     "  - {x: rank, y: accuracy}\n";

START_TEST(test_grid_count_order)
{
    need_lora();
    struct sweep s;
    load_ok(&s, "grid.yaml", grid_yaml);
    ck_assert_str_eq(s.name, "grid");
    ck_assert_str_eq(s.model, "builtin:tiny");
    ck_assert_int_eq(s.ntasks, 2);
    ck_assert_int_eq(s.nseeds, 2);
    /* lora: 2 ranks x 2 target sets; prefix: 2 lengths; each x 2 tasks x 2 seeds */
    ck_assert_uint_eq(s.ntrials, 4 * 4 + 2 * 4);
    const char *tasks[] = {"syn-sentiment", "syn-match"};
    static const long ranks[] = {4, 8};
    for (size_t i = 0; i < 16; i++) {
        const struct trial *t = &s.trials[i];
        ck_assert_int_eq(t->index, (int)i);
        ck_assert_str_eq(t->label, "lora");
        ck_assert_int_eq(t->nmethods, 1);
        ck_assert_str_eq(t->task, tasks[(i / 2) % 2]);
        ck_assert_uint_eq(t->seed, 1 + i % 2);
        ck_assert_int_eq(hp_int(&t->m[0].hp, "rank"), ranks[i / 8]);
        char buf[64];
        hp_format(&t->m[0].hp, hp_index(&t->m[0].hp, "targets"), buf, sizeof buf);
        ck_assert_str_eq(buf, (i / 4) % 2 ? "q,k,v,o" : "q,v");
        ck_assert_double_eq_tol(hp_float(&t->m[0].hp, "alpha"), 16.0, 1e-12); /* default */
        ck_assert_int_eq(t->train.epochs, 2);
        ck_assert_double_eq_tol(t->train.lr, 1e-3, 1e-15);
        ck_assert_int_eq(t->train.batch_size, 32); /* default */
        ck_assert_int_eq((int)strlen(t->id), SWEEP_ID_LEN);
        ck_assert_ptr_nonnull(strstr(t->canonical, "lora.rank="));
    }
    for (size_t i = 16; i < 24; i++) {
        const struct trial *t = &s.trials[i];
        ck_assert_str_eq(t->label, "prefix");
        ck_assert_int_eq(hp_int(&t->m[0].hp, "prefix_length"), i < 20 ? 10 : 20);
        ck_assert(!hp_bool(&t->m[0].hp, "reparam"));
        ck_assert_str_eq(t->task, tasks[(i / 2) % 2]);
    }
    ck_assert_ptr_nonnull(s.plots_yaml);
    ck_assert_ptr_nonnull(strstr(s.plots_yaml, "accuracy"));
    ck_assert_ptr_nonnull(s.resolved_yaml);
    sweep_free(&s);
    sweep_free(&s); /* idempotent */
}
END_TEST

/* The canonical text leaves out name, order and layout: reorder everything. */
static const char *const ids_a = "sweep: a\n"
                                 "model: builtin:tiny\n"
                                 "tasks: [syn-sentiment, syn-match]\n"
                                 "seeds: [1, 2]\n"
                                 "train: {epochs: 2, lr: 0.001}\n"
                                 "methods:\n"
                                 "  - {method: lora, rank: [4, 8], targets: [q, v]}\n"
                                 "  - {method: prefix, prefix_length: 10}\n";

static const char *const ids_b = "# the same trials, another name, order and layout\n"
                                 "methods:\n"
                                 "  - method: prefix\n"
                                 "    reparam: true        # the default, spelled out\n"
                                 "    prefix_length: 10\n"
                                 "  - alpha: 16.0          # default\n"
                                 "    targets: [v, q]\n"
                                 "    rank: [8, 4]\n"
                                 "    method: lora\n"
                                 "train:\n"
                                 "  lr: 1e-3\n"
                                 "  epochs: 2\n"
                                 "  batch_size: 32         # default\n"
                                 "seeds: [2, 1]\n"
                                 "tasks:\n"
                                 "  - syn-match\n"
                                 "  - syn-sentiment\n"
                                 "model: builtin:tiny\n"
                                 "sweep: b\n";

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static char (*sorted_ids(const struct sweep *s))[SWEEP_ID_LEN + 1]
{
    char(*ids)[SWEEP_ID_LEN + 1] = calloc(s->ntrials, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < s->ntrials; i++)
        memcpy(ids[i], s->trials[i].id, SWEEP_ID_LEN + 1);
    qsort(ids, s->ntrials, sizeof *ids, cmp_id);
    return ids;
}

static bool has_id(const struct sweep *s, const char *id)
{
    for (size_t i = 0; i < s->ntrials; i++)
        if (strcmp(s->trials[i].id, id) == 0)
            return true;
    return false;
}

START_TEST(test_ids_stable)
{
    need_lora();
    struct sweep a, b, c, d;
    load_ok(&a, "a.yaml", ids_a);
    load_ok(&b, "b.yaml", ids_b);
    ck_assert_uint_eq(a.ntrials, 12);
    ck_assert_uint_eq(b.ntrials, 12);
    ck_assert_str_ne(a.trials[0].id, b.trials[0].id); /* different plan order ... */
    char(*ia)[SWEEP_ID_LEN + 1] = sorted_ids(&a), (*ib)[SWEEP_ID_LEN + 1] = sorted_ids(&b);
    for (size_t i = 0; i < a.ntrials; i++) /* ... same set of trials */
        ck_assert_str_eq(ia[i], ib[i]);
    free(ia);
    free(ib);
    /* the id is the hash of the canonical text */
    char id[SWEEP_ID_LEN + 1];
    sweep_hash_id(a.trials[3].canonical, id);
    ck_assert_str_eq(id, a.trials[3].id);
    ck_assert_ptr_null(strstr(a.trials[0].canonical, "sweep"));

    /* a changed hyperparameter changes exactly the affected ids */
    char *text = strdup(ids_a);
    char *p = strstr(text, "prefix_length: 10");
    p[strlen("prefix_length: 1")] = '1';
    load_ok(&c, "c.yaml", text);
    free(text);
    for (size_t i = 0; i < a.ntrials; i++)
        ck_assert_int_eq(has_id(&c, a.trials[i].id), strcmp(a.trials[i].label, "lora") == 0);
    /* a changed seed changes the id */
    text = strdup(ids_a);
    p = strstr(text, "seeds: [1, 2]");
    p[strlen("seeds: [1, ")] = '3';
    load_ok(&d, "d.yaml", text);
    free(text);
    for (size_t i = 0; i < a.ntrials; i++)
        ck_assert_int_eq(has_id(&d, a.trials[i].id), a.trials[i].seed == 1);
    sweep_free(&a);
    sweep_free(&b);
    sweep_free(&c);
    sweep_free(&d);
}
END_TEST

START_TEST(test_resolved_roundtrip)
{
    need_lora();
    struct sweep a, b;
    load_ok(&a, "grid.yaml", grid_yaml);
    /* the resolved copy loads again into the same trials */
    load_ok(&b, "resolved.yaml", a.resolved_yaml);
    ck_assert_uint_eq(a.ntrials, b.ntrials);
    for (size_t i = 0; i < a.ntrials; i++) {
        ck_assert_str_eq(a.trials[i].id, b.trials[i].id);
        ck_assert_str_eq(a.trials[i].canonical, b.trials[i].canonical);
    }
    sweep_free(&a);
    sweep_free(&b);
}
END_TEST

START_TEST(test_include_later_wins)
{
    need_lora();
    write_file("base.yaml", "model: builtin:tiny\n"
                            "tasks: [syn-sentiment]\n"
                            "seeds: [7]\n"
                            "train: {epochs: 5, lr: 1e-4, batch_size: 16}\n"
                            "methods: [head]\n");
    ck_assert_int_eq(mkdir(tpath("sub"), 0700), 0);
    write_file("sub/extra.yaml", "train: {batch_size: 8}\nseeds: [8, 9]\n");
    write_file("mid.yaml", "include: sub/extra.yaml\ntrain: {warmup_ratio: 0.5}\n");
    struct sweep s;
    load_ok(&s, "main.yaml",
            "include: [base.yaml, mid.yaml]\n"
            "sweep: inc\n"
            "train:\n"
            "  lr: 2e-4\n"
            "methods:\n"
            "  - {method: lora, rank: 2}\n");
    ck_assert_uint_eq(s.ntrials, 2); /* methods replaced wholesale; seeds from extra.yaml */
    const struct trial *t = &s.trials[0];
    ck_assert_str_eq(t->label, "lora");
    ck_assert_uint_eq(t->seed, 8);
    ck_assert_int_eq(t->train.epochs, 5);                       /* base */
    ck_assert_int_eq(t->train.batch_size, 8);                   /* extra beats base */
    ck_assert_double_eq_tol(t->train.warmup_ratio, 0.5, 1e-12); /* mid */
    ck_assert_double_eq_tol(t->train.lr, 2e-4, 1e-15);          /* main beats base */
    ck_assert_ptr_null(strstr(s.resolved_yaml, "include"));
    sweep_free(&s);
}
END_TEST

START_TEST(test_zip)
{
    need_lora();
    struct sweep s;
    load_ok(&s, "zip.yaml",
            HEAD "methods:\n"
                 "  - method: lora\n"
                 "    rank: [4, 8, 16]\n"
                 "    dropout: [0, 0.1]\n"
                 "    alpha: [8, 16, 32]\n"
                 "    zip: [[rank, alpha]]\n");
    ck_assert_uint_eq(s.ntrials, 6);
    static const long r[] = {4, 4, 8, 8, 16, 16};
    static const double al[] = {8, 8, 16, 16, 32, 32}, dr[] = {0, 0.1, 0, 0.1, 0, 0.1};
    for (int i = 0; i < 6; i++) {
        const struct hp_values *h = &s.trials[i].m[0].hp;
        ck_assert_int_eq(hp_int(h, "rank"), r[i]);
        ck_assert_double_eq_tol(hp_float(h, "alpha"), al[i], 1e-12);
        ck_assert_double_eq_tol(hp_float(h, "dropout"), dr[i], 1e-12);
    }
    sweep_free(&s);
    /* a zip with a train axis, flat form */
    load_ok(&s, "zip2.yaml",
            HEAD "methods:\n"
                 "  - {method: head, train: {lr: [1e-3, 1e-2], epochs: [1, 2]},"
                 " zip: [train.lr, train.epochs]}\n");
    ck_assert_uint_eq(s.ntrials, 2);
    ck_assert_int_eq(s.trials[1].train.epochs, 2);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 1e-2, 1e-15);
    sweep_free(&s);
}
END_TEST

START_TEST(test_block_train_override)
{
    need_lora();
    struct sweep s;
    load_ok(&s, "ov.yaml",
            HEAD "train: {lr: 1e-3, epochs: 3}\n"
                 "methods:\n"
                 "  - {method: full, train: {lr: [2e-5, 5e-5], epochs: 1}}\n"
                 "  - lora\n"
                 "  - {methods: [prefix, parallel], prefix_length: 16,"
                 " parallel.scaling: 2, prefix: {dropout: 0.1}}\n");
    ck_assert_uint_eq(s.ntrials, 4);
    ck_assert_double_eq_tol(s.trials[0].train.lr, 2e-5, 1e-15);
    ck_assert_double_eq_tol(s.trials[1].train.lr, 5e-5, 1e-15);
    ck_assert_int_eq(s.trials[0].train.epochs, 1);
    ck_assert_int_eq(s.train.epochs, 3); /* shared settings untouched */
    ck_assert_str_eq(s.trials[2].label, "lora");
    ck_assert_double_eq_tol(s.trials[2].train.lr, 1e-3, 1e-15);
    ck_assert_int_eq(s.trials[2].train.epochs, 3);
    const struct trial *t = &s.trials[3];
    ck_assert_str_eq(t->label, "prefix+parallel");
    ck_assert_int_eq(t->nmethods, 2);
    ck_assert_int_eq(hp_int(&t->m[0].hp, "prefix_length"), 16);
    ck_assert_double_eq_tol(hp_float(&t->m[0].hp, "dropout"), 0.1, 1e-12);
    ck_assert_double_eq_tol(hp_float(&t->m[1].hp, "scaling"), 2, 1e-12);
    /* lr axis trials differ; the composition order is part of the id */
    ck_assert_str_ne(s.trials[0].id, s.trials[1].id);
    ck_assert_ptr_nonnull(strstr(t->canonical, "method.1=parallel"));
    sweep_free(&s);
}
END_TEST

START_TEST(test_hydra_overrides)
{
    need_lora();
    write_file("h.yaml", HEAD "train: {lr: 1e-3}\n"
                              "methods:\n"
                              "  - {method: lora, rank: 2}\n"
                              "  - {methods: [prefix, parallel]}\n");
    const char *ov[] = {"train.lr=1e-4",         "seeds=1,2",
                        "tasks=[syn-match]",     "methods.0.rank=[4,8]",
                        "methods.0.targets=q,k", "methods.1.parallel.scaling=3",
                        "sweep=renamed",         "train.eval_test=true"};
    struct sweep s;
    struct err e = {0};
    int rc = load_opts(&s, "h.yaml", ov, 8, false, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_str_eq(s.name, "renamed");
    ck_assert_uint_eq(s.ntrials, 2 * 2 + 2);
    ck_assert_str_eq(s.trials[0].task, "syn-match");
    ck_assert_double_eq_tol(s.trials[0].train.lr, 1e-4, 1e-15);
    ck_assert(s.trials[0].train.eval_test);
    ck_assert_int_eq(hp_int(&s.trials[2].m[0].hp, "rank"), 8);
    ck_assert_uint_eq(hp_set(&s.trials[0].m[0].hp, "targets"), 3u); /* q,k: one value */
    ck_assert_double_eq_tol(hp_float(&s.trials[5].m[1].hp, "scaling"), 3, 1e-12);
    ck_assert_ptr_nonnull(strstr(s.resolved_yaml, "renamed"));
    sweep_free(&s);

    /* an override of an unknown key is caught by the schema */
    const char *bad[] = {"trian.lr=1e-4"};
    rc = load_opts(&s, "h.yaml", bad, 1, false, &e);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "override 'trian.lr=1e-4'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'train'"));
    /* a bad value names the override */
    const char *bad2[] = {"train.epochs=abc"};
    rc = load_opts(&s, "h.yaml", bad2, 1, false, &e);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "override 'train.epochs=abc'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "expected an integer"));
    const char *bad3[] = {"methods.5.rank=2"};
    rc = load_opts(&s, "h.yaml", bad3, 1, false, &e);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "is a list of length 2: expected an index 0..2"));
    const char *bad4[] = {"noequals"};
    rc = load_opts(&s, "h.yaml", bad4, 1, false, &e);
    ck_assert_int_ne(rc, 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "KEY=VALUE"));
}
END_TEST

START_TEST(test_file_tasks_and_defaults)
{
    struct sweep s;
    load_ok(&s, "my-sweep.yaml",
            "model: /models/bert\n"
            "tasks:\n"
            "  - syn-sentiment\n"
            "  - {name: reviews, path: data/r.tsv, text: sentence,"
            " label: label, labels: [neg, pos]}\n"
            "methods: [bitfit]\n");
    ck_assert_str_eq(s.name, "my-sweep"); /* from the file name */
    ck_assert_uint_eq(s.ntrials, 2);      /* default seeds: [1] */
    ck_assert_uint_eq(s.trials[1].seed, SWEEP_DEFAULT_SEED);
    ck_assert_str_eq(s.trials[1].task, "reviews");
    const struct file_task_decl *ft = sweep_file_task(&s, "reviews");
    ck_assert_ptr_nonnull(ft);
    ck_assert_ptr_null(sweep_file_task(&s, "syn-sentiment"));
    ck_assert_int_eq(ft->n, 4);
    ck_assert_str_eq(ft->keys[3], "labels");
    ck_assert_str_eq(ft->values[3], "neg,pos");
    ck_assert_ptr_nonnull(strstr(ft->where[0], "my-sweep.yaml:4:"));
    ck_assert_ptr_nonnull(strstr(s.trials[1].canonical, "task.path=data/r.tsv"));
    ck_assert_uint_eq(s.max_trials, SWEEP_DEFAULT_MAX_TRIALS);
    ck_assert_ptr_null(s.plots_yaml);
    sweep_free(&s);
}
END_TEST

START_TEST(test_allow_large)
{
    const char *text = HEAD "max_trials: 3\n"
                            "methods: [{method: head, train: {epochs: [1, 2, 3, 4]}}]\n";
    write_file("big.yaml", text);
    struct sweep s;
    struct err e = {0};
    ck_assert_int_eq(load_opts(&s, "big.yaml", NULL, 0, false, &e), ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "big.yaml:6:11"));
    ck_assert_ptr_nonnull(strstr(e.msg, "4 trials, more than max_trials = 3"));
    ck_assert_int_eq(load_opts(&s, "big.yaml", NULL, 0, true, &e), 0);
    ck_assert_uint_eq(s.ntrials, 4);
    sweep_free(&s);
}
END_TEST

/* ---- the YAML layer on its own ------------------------------------------- */

START_TEST(test_yaml_scalars_untyped)
{
    const char *text = "a: no\nb: 'no'\nc:\nd: ~\ne: \"\"\nf: [1, [2, {g: 3}]]\n";
    struct ynode *r;
    struct err e = {0};
    ck_assert_int_eq(ynode_parse_string(&r, text, strlen(text), "x.yaml", &e), 0);
    const struct ynode *a = ynode_get(r, "a"), *b = ynode_get(r, "b");
    ck_assert_str_eq(a->text, "no");
    ck_assert(!a->quoted);
    ck_assert(b->quoted);
    ck_assert(ynode_is_null(ynode_get(r, "c")));
    ck_assert(ynode_is_null(ynode_get(r, "d")));
    ck_assert(!ynode_is_null(ynode_get(r, "e")));
    ck_assert_int_eq(ynode_get(r, "f")->line, 6);
    ck_assert_int_eq(ynode_get(r, "f")->col, 4);
    char *out;
    ck_assert_int_eq(ynode_emit(r, &out, &e), 0);
    struct ynode *r2;
    ck_assert_int_eq(ynode_parse_string(&r2, out, strlen(out), "y.yaml", &e), 0);
    char *out2;
    ck_assert_int_eq(ynode_emit(r2, &out2, &e), 0);
    ck_assert_str_eq(out, out2);
    ck_assert(ynode_get(r2, "b")->quoted);
    ck_assert(ynode_is_null(ynode_get(r2, "c")));
    free(out);
    free(out2);
    ynode_free(r2);
    /* aliases within the limits are copied */
    const char *al = "x: &x {k: [1, 2]}\ny: *x\n";
    ynode_free(r);
    ck_assert_int_eq(ynode_parse_string(&r, al, strlen(al), "al.yaml", &e), 0);
    ck_assert_str_eq(ynode_get(ynode_get(r, "y"), "k")->items[1]->text, "2");
    ynode_free(r);
    /* overrides on an empty tree create keys */
    r = NULL;
    ck_assert_int_eq(ynode_apply_override(&r, "a.b.c=1,2", &e), 0);
    ck_assert_int_eq(ynode_apply_override(&r, "a.b.c.1=5", &e), 0);
    ck_assert_int_eq(ynode_apply_override(&r, "a.q='x,y'", &e), 0);
    const struct ynode *c = ynode_get(ynode_get(ynode_get(r, "a"), "b"), "c");
    ck_assert_int_eq(c->kind, YNODE_SEQ);
    ck_assert_str_eq(c->items[1]->text, "5");
    ck_assert_str_eq(ynode_get(ynode_get(r, "a"), "q")->text, "x,y");
    ck_assert_int_ne(ynode_apply_override(&r, "a.q.z=1", &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot set 'z'"));
    ynode_free(r);
    /* a key that contains dots is matched whole before the path is split */
    const char *dk = "m: [{p.s: 1, q: 2}]\n";
    ck_assert_int_eq(ynode_parse_string(&r, dk, strlen(dk), "dk.yaml", &e), 0);
    ck_assert_int_eq(ynode_apply_override(&r, "m.0.p.s=5", &e), 0);
    ck_assert_int_eq(ynode_apply_override(&r, "m.1.method=head", &e), 0); /* append */
    const struct ynode *m = ynode_get(r, "m");
    ck_assert_uint_eq(m->n, 2);
    ck_assert_uint_eq(m->items[0]->n, 2);
    ck_assert_str_eq(ynode_get(m->items[0], "p.s")->text, "5");
    ck_assert_str_eq(ynode_get(m->items[1], "method")->text, "head");
    ynode_free(r);
}
END_TEST

/* ---- malformed sweeps: one clear message each ------------------------------ */

struct bad_case {
    const char *text;  /* bad.yaml */
    const char *where; /* expected "file:line[:col]" substring */
    const char *msg;   /* expected message substring */
    const char *aux;   /* optional second file "name\ncontent" */
};

#define BLOCK_LORA "methods:\n  - method: lora\n"

static const struct bad_case bad_cases[] = {
    /* 0: bad types in train */
    {HEAD "train:\n  epochs: three\n", "bad.yaml:6:11",
     "train.epochs: expected an integer >= 1, found 'three'", NULL},
    {HEAD "train:\n  eval_test: no\n", "bad.yaml:6:14", "expected true or false, found 'no'", NULL},
    {HEAD "train:\n  batch_size: 2.5\n", "bad.yaml:6:15",
     "expected an integer in [1, 1048576], found '2.5'", NULL},
    {HEAD "train: {lr: 0}\nmethods: [head]\n", "bad.yaml:5:13",
     "train.lr: expected a number in (0, 10], found 0", NULL},
    {HEAD "train: {lr: [1e-3, 1e-4]}\nmethods: [head]\n", "bad.yaml:5:13",
     "lists are grid axes only in a method block", NULL},
    /* 5: unknown keys */
    {HEAD "modle: x\n", "bad.yaml:5:1",
     "unknown key 'modle' in the sweep file (did you mean 'model'?); valid keys: sweep, model",
     NULL},
    {HEAD "methods:\n  - method: lorra\n", "bad.yaml:6:13",
     "unknown method 'lorra' (did you mean 'lora'?)", NULL},
    {HEAD BLOCK_LORA "    rnak: 4\n", "bad.yaml:7:5",
     "unknown hyperparameter 'rnak' for lora (did you mean 'rank'?); valid keys: method, train, "
     "tune, zip, rank",
     NULL},
    {HEAD BLOCK_LORA "    train: {lrr: 1}\n", "bad.yaml:7:13",
     "unknown key 'lrr' in a method block's train (did you mean 'lr'?)", NULL},
    {HEAD "methods:\n  - {method: prefix, lora.rank: 4}\n", "bad.yaml:6:22",
     "names method lora, which is not part of this block", NULL},
    /* 10: values of hyperparameters */
    {HEAD BLOCK_LORA "    rank: [4, 0]\n", "bad.yaml:7:15",
     "lora.rank = 0 is outside the allowed range", NULL},
    {HEAD BLOCK_LORA "    targets: [q, x]\n", "bad.yaml:7:14", "'x' is not one of q|k|v|o", NULL},
    {HEAD "methods:\n  - {methods: [prefix, parallel], non_linearity: relu}\n", "bad.yaml:6:35",
     "qualify it as prefix.non_linearity or parallel.non_linearity", NULL},
    {HEAD BLOCK_LORA "    rank: [4, 8]\n    alpha: [1, 2, 3]\n    zip: [[rank, alpha]]\n",
     "bad.yaml:9:11", "zip: the zipped lists must have equal lengths", NULL},
    {HEAD BLOCK_LORA "    rank: [4, 4]\n", "bad.yaml:6:5", "produces trial", NULL},
    /* 15: YAML hardening */
    {"a: &a [l, l, l, l, l, l, l, l, l, l]\n"
     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
     "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
     "bad.yaml:5:", "expands past the limit of 100000 YAML nodes", NULL},
    {"sweep: t\nmodel: "
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "bad.yaml:2:", "expected at most 32 nested lists/mappings", NULL},
    {"sweep: t\nmodel: a\nmodel: b\n", "bad.yaml:3:1",
     "duplicate key 'model' (first defined at line 2)", NULL},
    {"", "bad.yaml:1:1", "found an empty file", NULL},
    {"sweep: t\nmodel: x\ntrain:\n\tepochs: 3\n", "bad.yaml:4:", "tab", NULL},
    /* 20 */
    {"sweep: t\nmodel: x\n---\nsweep: u\n", "bad.yaml:3:1", "expected a single YAML document",
     NULL},
    {"sweep: t\nmodel: !!str x\n", "bad.yaml:2:8", "tags are not supported", NULL},
    {"sweep: t\n[a, b]: 1\n", "bad.yaml:2:1", "expected a string as mapping key, found a list",
     NULL},
    {"sweep: t\nmodel: *nope\n", "bad.yaml:2:8", "alias '*nope' refers to no complete anchor",
     NULL},
    {"base: &b {x: 1}\nother:\n  <<: *b\n", "bad.yaml:3:3", "merge keys", NULL},
    /* 25: schema */
    {"sweep: t\nmodel: builtin:tiny\ntasks: [syn-sentiment]\nseeds: [1, -1]\n", "bad.yaml:4:12",
     "seeds: expected a non-negative integer, found '-1'", NULL},
    {HEAD "methods: []\n", "bad.yaml:5:10", "methods: expected a non-empty list of method blocks",
     NULL},
    {"sweep: t\ntasks: [syn-sentiment]\nmethods: [head]\n", "bad.yaml:1:1",
     "missing required key 'model'", NULL},
    {"sweep: t\nmodel: m\ntasks: [syn-sentimnet]\nmethods: [head]\n", "bad.yaml:3:9",
     "unknown task 'syn-sentimnet' (did you mean 'syn-sentiment'?)", NULL},
    {"sweep: a/b\nmodel: m\n", "bad.yaml:1:8", "sweep: expected a name of letters", NULL},
    /* 30 */
    {"sweep: t\nmodel: m\ntasks: [{name: mine, text: s}]\n", "bad.yaml:3:9", "expected a 'path:'",
     NULL},
    {HEAD "methods: [{method: head, rank: 4}]\n", "bad.yaml:5:26",
     "unknown hyperparameter 'rank' for head", NULL},
    {HEAD "methods: [{method: head}, {method: head}]\n", "bad.yaml:5:27", "repeats trial", NULL},
    {HEAD "methods:\n  - {method: full, train: {"
          "epochs: "
          "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,"
          "33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,"
          "62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,"
          "91,92,93,94,95,96,97,98,99,100,101], "
          "batch_size: "
          "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,"
          "33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,"
          "62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,"
          "91,92,93,94,95,96,97,98,99,100]}}\n",
     "bad.yaml:6:5", "10100 trials, more than max_trials = 10000", NULL},
    {"include: nothere.yaml\nsweep: t\n", "bad.yaml:1:10", "cannot open included file", NULL},
    /* 35 */
    {"include: cyc.yaml\nsweep: t\n", "cyc.yaml:2:11", "include cycle",
     "cyc.yaml\n# loops back\ninclude: [bad.yaml]\n"},
    {"include: list.yaml\n", "bad.yaml:1:10", "included file", "list.yaml\n- a\n- b\n"},
    {HEAD BLOCK_LORA "    targets: [[q], v]\n", "bad.yaml:7:14", "found a mix", NULL},
    {HEAD "methods:\n  - {methods: [lora, lora]}\n", "bad.yaml:6:22", "listed twice", NULL},
    {HEAD "methods:\n  - {method: [lora, ia3]}\n", "bad.yaml:6:14", "use 'methods: [A, B]'", NULL},
    /* 40 */
    {HEAD BLOCK_LORA "    rank: [4, 8]\n    zip: [[rank, alpha]]\n", "bad.yaml:8:18",
     "zip: 'alpha' is not set in this block", NULL},
    {HEAD "methods:\n  - rank: 4\n", "bad.yaml:6:5", "expected 'method: NAME' or 'methods: [A, B]'",
     NULL},
    {HEAD "max_trials: lots\nmethods: [head]\n", "bad.yaml:5:13",
     "max_trials: expected an integer >= 1, found 'lots'", NULL},
    {HEAD BLOCK_LORA "    alpha: {x: 1}\n", "bad.yaml:7:12", "found a mapping", NULL},
    {HEAD "methods: [{method: full, lr: 1e-4}]\n", "bad.yaml:5:26",
     "'lr' is a train setting, not a hyperparameter: write it as train: {lr: ...}", NULL},
    {HEAD "seeds: 1\n", "bad.yaml:5:1", "duplicate key 'seeds' (first defined at line 4)", NULL},
};

#define NBAD ((int)(sizeof bad_cases / sizeof *bad_cases))

START_TEST(test_bad_sweeps)
{
    need_lora();
    const struct bad_case *c = &bad_cases[_i];
    if (c->aux) {
        const char *nl = strchr(c->aux, '\n');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(nl - c->aux), c->aux);
        write_file(name, nl + 1);
    }
    write_file("bad.yaml", c->text);
    struct sweep s;
    struct err e = {0};
    int rc = sweep_load(&s, tpath("bad.yaml"), NULL, &e);
    ck_assert_msg(rc < 0, "case %d: expected an error, got none", _i);
    ck_assert_int_eq(rc, e.code);
    ck_assert_msg(strstr(e.msg, c->where) != NULL, "case %d: '%s' not in: %s", _i, c->where, e.msg);
    ck_assert_msg(strstr(e.msg, c->msg) != NULL, "case %d: '%s' not in: %s", _i, c->msg, e.msg);
    ck_assert_ptr_null(s.trials); /* nothing left behind */
    ck_assert_uint_eq(s.ntrials, 0);
    if (getenv("SWEEP_TEST_SHOW"))
        fprintf(stderr, "case %2d: %s\n", _i, e.msg);
}
END_TEST

/* Generated inputs: too large, grid overflow, alias bomb speed. */
START_TEST(test_bad_generated)
{
    struct sweep s;
    struct err e = {0};
    /* > 1 MiB */
    size_t n = (1u << 20) + 100;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 64 == 63 ? '\n' : '#';
    big[n] = '\0';
    write_file("huge.yaml", big);
    free(big);
    ck_assert_int_eq(sweep_load(&s, tpath("huge.yaml"), NULL, &e), ERR_LIMIT);
    /* 64-byte lines: the limit is crossed on line 16385 */
    ck_assert_ptr_nonnull(strstr(e.msg, "huge.yaml:16385:1: file is larger than the 1 MiB limit"));

    /* 7 axes of 1000 values: 1e21 grid points overflow 64 bits */
    static const char *const axes[] = {"epochs",    "batch_size", "eval_batch_size", "max_steps",
                                       "max_train", "max_dev",    "max_test"};
    size_t cap = 200000, o = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    o += (size_t)snprintf(t + o, cap - o, HEAD "methods:\n  - method: full\n    train:\n");
    for (int a = 0; a < 7; a++) {
        o += (size_t)snprintf(t + o, cap - o, "      %s: [", axes[a]);
        for (int v = 1; v <= 1000; v++)
            o += (size_t)snprintf(t + o, cap - o, "%d%s", v + 1, v < 1000 ? "," : "]\n");
    }
    ck_assert_uint_lt(o, cap);
    write_file("grid.yaml", t);
    free(t);
    ck_assert_int_eq(sweep_load(&s, tpath("grid.yaml"), NULL, &e), ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "grid.yaml:6:5"));
    ck_assert_ptr_nonnull(strstr(e.msg, "overflows"));
    ck_assert_int_eq(load_opts(&s, "grid.yaml", NULL, 0, true, &e), ERR_LIMIT);

    /* include depth: chain of 10 files */
    for (int i = 0; i < 10; i++) {
        char name[32], body[64];
        snprintf(name, sizeof name, "chain%d.yaml", i);
        snprintf(body, sizeof body, "include: chain%d.yaml\n", i + 1);
        write_file(name, body);
    }
    write_file("chain10.yaml", "model: x\n");
    ck_assert_int_ne(sweep_load(&s, tpath("chain0.yaml"), NULL, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "chain8.yaml:1:10: includes nest deeper than 8"));
    ck_assert_ptr_null(s.trials);
}
END_TEST

START_TEST(test_alias_bomb_fast)
{
    /* nine levels of 10x: 10^9 nodes if expanded; must stop at the budget quickly */
    char text[2048];
    size_t o = (size_t)snprintf(text, sizeof text, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int k = 1; k < 10; k++) {
        o += (size_t)snprintf(text + o, sizeof text - o, "l%d: &l%d [", k, k);
        for (int j = 0; j < 10; j++)
            o += (size_t)snprintf(text + o, sizeof text - o, "*l%d%s", k - 1, j < 9 ? ", " : "]\n");
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ynode *r;
    struct err e = {0};
    ck_assert_int_eq(ynode_parse_string(&r, text, o, "bomb.yaml", &e), ERR_LIMIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_msg(sec < 5.0, "alias bomb took %.2f s", sec);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(e.msg, "bomb.yaml:5:"));
}
END_TEST

Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("expand");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_grid_count_order);
    tcase_add_test(tc, test_ids_stable);
    tcase_add_test(tc, test_resolved_roundtrip);
    tcase_add_test(tc, test_include_later_wins);
    tcase_add_test(tc, test_zip);
    tcase_add_test(tc, test_block_train_override);
    tcase_add_test(tc, test_hydra_overrides);
    tcase_add_test(tc, test_file_tasks_and_defaults);
    tcase_add_test(tc, test_allow_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("yaml");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_yaml_scalars_untyped);
    tcase_add_test(tc, test_alias_bomb_fast);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_bad_sweeps, 0, NBAD);
    tcase_add_test(tc, test_bad_generated);
    suite_add_tcase(s, tc);
    return s;
}
