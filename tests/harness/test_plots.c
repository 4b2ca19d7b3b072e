/*
 * Figures, aggregation and the report: statistics against hand-computed
 * values, settings grouped over seeds (diverged and failed trials counted, not
 * averaged), summary.csv, every default figure's data file and script for a
 * results fixture (trial JSON records written here, results.csv rebuilt from
 * them by the real writer), rendering to non-empty PNG and SVG when gnuplot
 * is installed, plot-spec errors naming file:line and the field, the
 * `plot`/`report` commands of the binary (PEFTBENCH_BIN), and plotting
 * without gnuplot on PATH (a clear message; results intact).
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/aggregate.h"
#include "harness/report/plots.h"
#include "harness/report/report.h"
#include "harness/sweep/results.h"
#include "harness/yaml/yaml.h"
#include "tests/suites.h"
#include "tests/cli_util.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-plots-XXXXXX");
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

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static bool have_gnuplot(void)
{
    char v[128];
    struct err e;
    return plots_gnuplot_version(v, sizeof v, &e) == ERR_OK;
}

/* ---- fixture: trial records -> results.csv ------------------------------------ */

struct fx_trial {
    const char *task, *method, *hp_key, *hp_val;
    int seed;
    const char *status;
    double primary, tps, mem_act;
    double params_trainable;
};

/* Hand-checkable values: lora rank=2 on wn-pos has accuracies 0.70, 0.72, 0.74. */
static const struct fx_trial fx[] = {
    {"wn-pos", "lora", "rank", "2", 1, "ok", 0.70, 1000, 10e6, 1284},
    {"wn-pos", "lora", "rank", "2", 2, "ok", 0.72, 1100, 10e6, 1284},
    {"wn-pos", "lora", "rank", "2", 3, "ok", 0.74, 1200, 10e6, 1284},
    {"wn-pos", "lora", "rank", "4", 1, "ok", 0.75, 900, 11e6, 2308},
    {"wn-pos", "lora", "rank", "4", 2, "ok", 0.77, 950, 11e6, 2308},
    {"wn-pos", "lora", "rank", "4", 3, "diverged", NAN, NAN, 11e6, 2308},
    {"wn-pos", "ia3", "targets", "k,v", 1, "ok", 0.66, 1500, 9e6, 516},
    {"wn-pos", "ia3", "targets", "k,v", 2, "ok", 0.68, 1500, 9e6, 516},
    {"wn-pos", "ia3", "targets", "k,v,ffn_act", 1, "ok", 0.69, 1400, 9.5e6, 772},
    {"wn-pos", "ia3", "targets", "k,v,ffn_act", 2, "failed", NAN, NAN, NAN, NAN},
    {"wn-pos", "head", NULL, NULL, 1, "ok", 0.60, 2000, 8e6, 260},
    {"wn-pos", "head", NULL, NULL, 2, "ok", 0.62, 2100, 8e6, 260},
    {"wn-hypernym", "lora", "rank", "2", 1, "ok", 0.55, 800, 10e6, 1154},
    {"wn-hypernym", "lora", "rank", "4", 1, "ok", 0.57, 700, 11e6, 2178},
    {"wn-hypernym", "head", NULL, NULL, 1, "ok", 0.51, 1900, 8e6, 130},
};
#define NFX ((int)(sizeof fx / sizeof *fx))

static void fx_id(int i, char id[17])
{
    snprintf(id, 17, "%016x", 0xa0000 + i);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *fx_record(int i)
{
    const struct fx_trial *t = &fx[i];
    char id[17];
    fx_id(i, id);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "trial_id", id);
    cJSON_AddStringToObject(r, "sweep", "fx");
    cJSON_AddNumberToObject(r, "index", i);
    cJSON_AddStringToObject(r, "task", t->task);
    cJSON_AddStringToObject(r, "method", t->method);
    cJSON_AddNumberToObject(r, "seed", t->seed);
    cJSON_AddStringToObject(r, "model", "builtin:tiny-bert");
    cJSON *ms = cJSON_AddArrayToObject(r, "methods"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "method", t->method);
    cJSON *hp = cJSON_AddObjectToObject(m, "hparams");
    if (t->hp_key)
        cJSON_AddStringToObject(hp, t->hp_key, t->hp_val);
    cJSON_AddItemToArray(ms, m);
    cJSON *tr = cJSON_AddObjectToObject(r, "train");
    cJSON_AddNumberToObject(tr, "epochs", 3);
    cJSON_AddNumberToObject(tr, "lr", 0.001);
    cJSON_AddNumberToObject(r, "calibration_gflops", 40.0);
    cJSON *env = cJSON_AddObjectToObject(r, "environment");
    cJSON_AddStringToObject(env, "version", "0.1.0");
    cJSON_AddStringToObject(env, "git_commit", "abc1234");
    cJSON_AddStringToObject(env, "compiler", "gcc test");
    cJSON_AddStringToObject(env, "openblas", "OpenBLAS test");
    cJSON_AddNumberToObject(env, "threads", 2);
    cJSON_AddStringToObject(env, "cpu", "Test CPU");
    cJSON_AddStringToObject(env, "host", "testhost");
    cJSON_AddStringToObject(r, "status", t->status);
    cJSON_AddStringToObject(r, "message", strcmp(t->status, "failed") == 0 ? "boom" : "");
    if (strcmp(t->status, "failed") == 0)
        return r;
    cJSON_AddStringToObject(r, "primary_metric", "accuracy");
    add_num(r, "primary_value", t->primary);
    add_num(r, "majority_fraction", strcmp(t->task, "wn-pos") == 0 ? 0.711 : 0.5);
    cJSON *ep = cJSON_AddArrayToObject(r, "epochs");
    for (int k = 1; k <= 3 && isfinite(t->primary); k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", k);
        cJSON_AddNumberToObject(o, "train_loss", 1.0 / k);
        /* dev curve rises to the final value: primary - 0.1 * (3 - k) */
        cJSON_AddNumberToObject(o, "dev_primary", t->primary - 0.1 * (3 - k));
        cJSON_AddItemToArray(ep, o);
    }
    cJSON *p = cJSON_AddObjectToObject(r, "params");
    add_num(p, "method", t->params_trainable - 130);
    add_num(p, "head", 130);
    add_num(p, "trainable", t->params_trainable);
    add_num(p, "stored", t->params_trainable - 130);
    add_num(p, "total", 200000 + t->params_trainable);
    add_num(p, "trainable_pct", 100.0 * (t->params_trainable - 130) / 200000.0);
    cJSON *th = cJSON_AddObjectToObject(r, "throughput");
    add_num(th, "train_tokens_per_s", t->tps);
    cJSON *mem = cJSON_AddObjectToObject(r, "memory");
    add_num(mem, "frozen", 800000);
    add_num(mem, "trainable", 8 * t->params_trainable);
    add_num(mem, "grads", 4 * t->params_trainable);
    add_num(mem, "optimizer", 8 * t->params_trainable);
    add_num(mem, "activations", t->mem_act);
    add_num(mem, "workspace", 1000);
    add_num(mem, "peak_total", 800000 + t->mem_act);
    return r;
}

/* DIR = tmpdir/NAME with trials/ and results.csv of the fixture. */
static const char *make_fixture(const char *name)
{
    const char *dir = tpath(name);
    struct err e;
    char trials[700];
    snprintf(trials, sizeof trials, "%s/trials", dir);
    ck_assert_int_eq(results_mkdirs(trials, &e), 0);
    for (int i = 0; i < NFX; i++) {
        cJSON *r = fx_record(i);
        ck_assert_msg(results_write_trial(dir, r, &e) == 0, "%s", e.msg);
        cJSON_Delete(r);
    }
    int rows = 0;
    ck_assert_msg(results_rebuild_csv(dir, &rows, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(rows, NFX);
    return dir;
}

/* The data row of a line figure starting with prefix ("x "): y, the lower bar end and n. */
static void dat_point(const char *dat, const char *prefix, double y, double lo, int n)
{
    const char *p = dat;
    while ((p = strstr(p, prefix)) && p != dat && p[-1] != '\n')
        p++;
    ck_assert_msg(p != NULL, "no row '%s' in:\n%s", prefix, dat);
    double x, yy, l, h;
    int k;
    ck_assert_int_eq(sscanf(p, "%lf %lf %lf %lf %d", &x, &yy, &l, &h, &k), 5);
    ck_assert_double_eq_tol(yy, y, 1e-9);
    ck_assert_double_eq_tol(l, lo, 1e-7);
    ck_assert_double_eq_tol(h, 2 * y - lo, 1e-7); /* symmetric */
    ck_assert_int_eq(k, n);
}

/* ---- numerics --------------------------------------------------------------------- */

START_TEST(stat_hand_computed)
{
    struct agg_stat s;
    const double x[] = {1, 2, 3, 4};
    agg_stat_compute(&s, x, 4);
    ck_assert_int_eq(s.n, 4);
    ck_assert_double_eq_tol(s.mean, 2.5, 1e-12);
    ck_assert_double_eq_tol(s.std, sqrt(5.0 / 3.0), 1e-12); /* sample std, n - 1 */
    ck_assert_double_eq(s.min, 1);
    ck_assert_double_eq(s.max, 4);

    const double y[] = {NAN, 0.70, INFINITY, 0.74, 0.72};
    agg_stat_compute(&s, y, 5); /* non-finite values are not values */
    ck_assert_int_eq(s.n, 3);
    ck_assert_double_eq_tol(s.mean, 0.72, 1e-12);
    ck_assert_double_eq_tol(s.std, 0.02, 1e-12);
    ck_assert_double_eq_tol(s.min, 0.70, 1e-15);
    ck_assert_double_eq_tol(s.max, 0.74, 1e-15);

    const double one[] = {5.5};
    agg_stat_compute(&s, one, 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 5.5);
    ck_assert_double_eq(s.std, 0.0);

    agg_stat_compute(&s, NULL, 0);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.mean) && isnan(s.std) && isnan(s.min) && isnan(s.max));

    /* a large common offset: the two-pass variance keeps the digits */
    const double big[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    agg_stat_compute(&s, big, 3);
    ck_assert_double_eq_tol(s.std, 1.0, 1e-9);
}
END_TEST

START_TEST(parse_num_is_strict)
{
    double v = 0;
    ck_assert(agg_parse_num("0.5", &v) && v == 0.5);
    ck_assert(agg_parse_num("-1e-3", &v) && v == -1e-3);
    ck_assert(!agg_parse_num("", &v));
    ck_assert(!agg_parse_num(" 1", &v));
    ck_assert(!agg_parse_num("1 ", &v));
    ck_assert(!agg_parse_num("12abc", &v));
    ck_assert(!agg_parse_num("nan", &v));
    ck_assert(!agg_parse_num("inf", &v));
}
END_TEST

static const struct agg_setting *find_setting(const struct agg *a, const char *task,
                                              const char *label)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(agg_table_cell(a->t, a->s[i].row, a->col_task), task) == 0 &&
            strcmp(a->s[i].label, label) == 0)
            return &a->s[i];
    return NULL;
}

START_TEST(settings_group_over_seeds)
{
    const char *dir = make_fixture("agg");
    char path[700];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    struct agg_table t;
    struct agg a;
    struct err e;
    ck_assert_msg(agg_table_load(&t, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(agg_build(&a, &t, &e) == 0, "%s", e.msg);
    /* wn-pos: lora x2, ia3 x2, head; wn-hypernym: lora x2, head */
    ck_assert_uint_eq(a.n, 8);
    int pm = agg_measure_index(&a, "primary_value");
    int tp = agg_measure_index(&a, "train_tokens_per_s");
    ck_assert_int_ge(pm, 0);
    ck_assert_int_ge(tp, 0);

    const struct agg_setting *s = find_setting(&a, "wn-pos", "lora rank=2");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->n_ok, 3);
    ck_assert_int_eq(s->stats[pm].n, 3);
    ck_assert_double_eq_tol(s->stats[pm].mean, 0.72, 1e-12);
    ck_assert_double_eq_tol(s->stats[pm].std, 0.02, 1e-12);
    ck_assert_double_eq_tol(s->stats[pm].min, 0.70, 1e-12);
    ck_assert_double_eq_tol(s->stats[pm].max, 0.74, 1e-12);
    ck_assert_double_eq_tol(s->stats[tp].mean, 1100, 1e-9);
    ck_assert_double_eq_tol(s->stats[tp].std, 100, 1e-9);

    /* a diverged seed is counted, not averaged */
    s = find_setting(&a, "wn-pos", "lora rank=4");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->n_ok, 2);
    ck_assert_int_eq(s->n_diverged, 1);
    ck_assert_double_eq_tol(s->stats[pm].mean, 0.76, 1e-12);
    ck_assert_double_eq_tol(s->stats[pm].std, sqrt(2 * 0.01 * 0.01), 1e-12);

    /* a failed seed likewise; a one-seed setting has std 0 */
    s = find_setting(&a, "wn-pos", "ia3 targets=k,v,ffn_act");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->n_ok, 1);
    ck_assert_int_eq(s->n_failed, 1);
    ck_assert_double_eq_tol(s->stats[pm].mean, 0.69, 1e-12);
    ck_assert_double_eq(s->stats[pm].std, 0.0);

    /* nothing varies for head: its label is the method alone */
    ck_assert_ptr_nonnull(find_setting(&a, "wn-hypernym", "head"));
    /* the seed is not part of a setting, the hyperparameter column is */
    ck_assert(agg_is_key(&a, agg_table_col(&t, "lora.rank")));
    ck_assert(agg_is_key(&a, agg_table_col(&t, "train.lr")));
    ck_assert(!agg_is_key(&a, agg_table_col(&t, "seed")));

    /* summary.csv round trip */
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    ck_assert_msg(agg_write_summary(&a, path, &e) == 0, "%s", e.msg);
    struct agg_table sum;
    ck_assert_msg(agg_table_load(&sum, path, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(sum.nrows, 8);
    int c_setting = agg_table_col(&sum, "setting"),
        c_mean = agg_table_col(&sum, "primary_value_mean");
    int c_std = agg_table_col(&sum, "primary_value_std"), c_n = agg_table_col(&sum, "n");
    int c_seeds = agg_table_col(&sum, "seeds"), c_min = agg_table_col(&sum, "primary_value_min");
    int c_max = agg_table_col(&sum, "primary_value_max");
    ck_assert(c_setting >= 0 && c_mean >= 0 && c_std >= 0 && c_n >= 0 && c_seeds >= 0);
    ck_assert(c_min >= 0 && c_max >= 0 && agg_table_col(&sum, "n_diverged") >= 0);
    ck_assert_int_lt(agg_table_col(&sum, "seed"), 0);
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_setting), "lora rank=2");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_mean), "0.72");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_std), "0.02");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_min), "0.7");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_max), "0.74");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_n), "3");
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_seeds), "1;2;3");
    /* per measure: n, sem = 0.02 / sqrt(3), the 95% t interval 0.72 ± 4.3026527 * sem */
    int c_pn = agg_table_col(&sum, "primary_value_n"),
        c_sem = agg_table_col(&sum, "primary_value_sem");
    int c_lo = agg_table_col(&sum, "primary_value_ci95_low"),
        c_hi = agg_table_col(&sum, "primary_value_ci95_high");
    ck_assert(c_pn >= 0 && c_sem >= 0 && c_lo >= 0 && c_hi >= 0);
    ck_assert(c_pn < c_mean && c_mean < c_std && c_std < c_sem && c_sem < c_lo && c_lo < c_hi &&
              c_hi < c_min && c_min < c_max);
    ck_assert_str_eq(agg_table_cell(&sum, 0, c_pn), "3");
    double v = 0;
    ck_assert(agg_parse_num(agg_table_cell(&sum, 0, c_sem), &v));
    ck_assert_double_eq_tol(v, 0.02 / sqrt(3.0), 1e-9);
    ck_assert(agg_parse_num(agg_table_cell(&sum, 0, c_lo), &v));
    ck_assert_double_eq_tol(v, 0.72 - 4.3026527 * 0.02 / sqrt(3.0), 1e-7);
    ck_assert(agg_parse_num(agg_table_cell(&sum, 0, c_hi), &v));
    ck_assert_double_eq_tol(v, 0.72 + 4.3026527 * 0.02 / sqrt(3.0), 1e-7);
    /* one seed (ia3 k,v,ffn_act; its second seed failed): no spread, so empty cells, not 0 */
    size_t one = 0;
    while (one < sum.nrows &&
           strcmp(agg_table_cell(&sum, one, c_setting), "ia3 targets=k,v,ffn_act"))
        one++;
    ck_assert_uint_lt(one, sum.nrows);
    ck_assert_str_eq(agg_table_cell(&sum, one, c_pn), "1");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_mean), "0.69");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_std), "");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_sem), "");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_lo), "");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_hi), "");
    ck_assert_str_eq(agg_table_cell(&sum, one, c_min), "0.69");
    agg_table_free(&sum);
    agg_free(&a);
    agg_free(&a); /* idempotent */
    agg_table_free(&t);
}
END_TEST

START_TEST(table_errors_name_the_file)
{
    struct agg_table t;
    struct agg a;
    struct err e;
    ck_assert_int_eq(agg_table_load(&t, tpath("nope.csv"), &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "nope.csv"));
    write_text(tpath("empty.csv"), "");
    ck_assert_int_eq(agg_table_load(&t, tpath("empty.csv"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty"));
    write_text(tpath("ragged.csv"), "a,b\n1,2\n3\n");
    ck_assert_int_eq(agg_table_load(&t, tpath("ragged.csv"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "ragged.csv:3"));
    write_text(tpath("other.csv"), "x,y\n1,2\n");
    ck_assert_int_eq(agg_table_load(&t, tpath("other.csv"), &e), 0);
    ck_assert_int_eq(agg_build(&a, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a peftbench results.csv"));
    agg_table_free(&t);
}
END_TEST

/* ---- figures ---------------------------------------------------------------------- */

static char *plot_file(const char *dir, const char *name, const char *ext)
{
    char path[800];
    snprintf(path, sizeof path, "%s/plots/%s.%s", dir, name, ext);
    return test_slurp(path);
}

static void has_figure(const char *dir, const char *name)
{
    char *dat = plot_file(dir, name, "dat"), *gp = plot_file(dir, name, "gp");
    ck_assert_msg(dat && gp, "figure %s: missing %s.dat or %s.gp", name, name, name);
    /* the script is standalone: relative data and output names, both terminals */
    char want[300];
    snprintf(want, sizeof want, "'%s.dat'", name);
    ck_assert_msg(strstr(gp, want), "%s.gp does not read %s", name, want);
    snprintf(want, sizeof want, "set output '%s.png'", name);
    ck_assert_ptr_nonnull(strstr(gp, want));
    snprintf(want, sizeof want, "set output '%s.svg'", name);
    ck_assert_ptr_nonnull(strstr(gp, want));
    ck_assert_ptr_nonnull(strstr(gp, "pngcairo"));
    free(dat);
    free(gp);
}

START_TEST(default_figures_data_and_scripts)
{
    const char *dir = make_fixture("figs");
    struct plots_opts po = {false, NULL};
    int n = 0;
    struct err e;
    ck_assert_msg(plots_make(dir, NULL, &po, &n, &e) == 0, "%s", e.msg);
    static const char *const names[] = {
        "params-wn-pos",      "params-wn-hypernym", "hp-rank-wn-pos",         "hp-rank-wn-hypernym",
        "hp-targets",         "throughput-wn-pos",  "throughput-wn-hypernym", "memory-wn-pos",
        "memory-wn-hypernym", "curves-wn-pos",      "curves-wn-hypernym",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        has_figure(dir, names[i]);
    ck_assert_int_eq(n, (int)(sizeof names / sizeof *names));
    char path[700];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    ck_assert_int_gt(fsize(path), 0);

    /* (1) metric vs trainable parameters: one series per method, log x, mean and 95% CI */
    char *dat = plot_file(dir, "params-wn-pos", "dat"), *gp = plot_file(dir, "params-wn-pos", "gp");
    ck_assert_ptr_nonnull(strstr(dat, "# series 0: lora"));
    ck_assert_ptr_nonnull(strstr(dat, "# series 1: ia3"));
    ck_assert_ptr_nonnull(strstr(dat, "# series 2: head"));
    ck_assert_ptr_nonnull(strstr(dat, "95% CI of the mean (Student t)"));
    /* lora rank=2: 0.72 ± t(0.975, 2) * 0.02 / sqrt(3) */
    dat_point(dat, "1284 ", 0.72, 0.72 - 4.3026527 * 0.02 / sqrt(3.0), 3);
    /* ia3 k,v,ffn_act has one seed: no bar (low = high = mean), ringed in the script */
    dat_point(dat, "772 ", 0.69, 0.69, 1);
    ck_assert_ptr_nonnull(strstr(gp, "'lora (n=2-3)'"));
    ck_assert_ptr_nonnull(strstr(gp, "'ia3 (n=1-2)'"));
    ck_assert_ptr_nonnull(strstr(gp, "'head (n=2)'"));
    ck_assert_ptr_nonnull(strstr(gp, "($5 == 1 ? $2 : 1/0) with points pt 6"));
    /* the majority class of wn-pos, dashed */
    ck_assert_ptr_nonnull(
        strstr(gp, "set arrow 9 from graph 0, first 0.711 to graph 1, first 0.711"));
    ck_assert_ptr_nonnull(strstr(gp, "set yrange [*<0.711:0.711<*]"));
    ck_assert_ptr_nonnull(strstr(gp, "'majority class (0.711)'"));
    /* log x on decades, labelled alike */
    ck_assert_ptr_nonnull(
        strstr(gp, "set logscale x 10\nset xtics ('100' 100, '1k' 1000, '10k' 10000)"));
    ck_assert_ptr_nonnull(strstr(gp, "index 2 using 1:2:3:4 with yerrorlines"));
    free(dat);
    free(gp);
    /* (2) the swept hyperparameters; the IA3 target sets on a categorical axis */
    dat = plot_file(dir, "hp-rank-wn-pos", "dat");
    dat_point(dat, "2 0.72 ", 0.72, 0.72 - 4.3026527 * 0.02 / sqrt(3.0), 3);
    ck_assert_ptr_nonnull(strstr(dat, " 3 \"2\" \"lora rank=2\""));
    ck_assert_ptr_nonnull(strstr(dat, "4 0.76 "));
    ck_assert_ptr_null(strstr(dat, "head")); /* methods without the column are left out */
    free(dat);
    gp = plot_file(dir, "hp-targets", "gp");
    ck_assert_ptr_nonnull(strstr(gp, "set xtics ('k,v' 0, 'k,v,ffn_act' 1)"));
    free(gp);
    /* (3) throughput bars with error bars and n; memory stacked by category with the peak */
    gp = plot_file(dir, "throughput-wn-pos", "gp");
    dat = plot_file(dir, "throughput-wn-pos", "dat");
    ck_assert_ptr_nonnull(strstr(gp, "histogram errorbars"));
    ck_assert_ptr_null(strstr(gp, "majority class")); /* not a task metric */
    ck_assert_ptr_nonnull(strstr(dat, "\"lora rank=2 (n=3)\" 1100 "));
    ck_assert_ptr_nonnull(strstr(dat, "\"ia3 targets=k,v,ffn_act (n=1)\" 1400 1400 1400 "));
    free(gp);
    free(dat);
    gp = plot_file(dir, "memory-wn-pos", "gp");
    dat = plot_file(dir, "memory-wn-pos", "dat");
    ck_assert_ptr_nonnull(strstr(gp, "rowstacked"));
    ck_assert_ptr_nonnull(strstr(gp, "'activations'"));
    ck_assert_ptr_nonnull(strstr(gp, "accountant peak"));
    ck_assert_ptr_nonnull(strstr(dat, "\"head (n=2)\""));
    free(gp);
    free(dat);
    /* (4) training curves: per-epoch mean over seeds of the best setting per method */
    dat = plot_file(dir, "curves-wn-pos", "dat");
    ck_assert_ptr_nonnull(strstr(dat, "lora (best: lora rank=4) (n=2)"));
    ck_assert_ptr_nonnull(strstr(dat, "3 0.76 "));
    ck_assert_ptr_nonnull(strstr(dat, "1 0.56 "));
    free(dat);
    /* the manifest lists every figure with its title */
    char *man = plot_file(dir, "figures", "tsv");
    ck_assert_ptr_nonnull(strstr(man, "params-wn-pos\twn-pos: dev accuracy vs trainable"));
    free(man);
}
END_TEST

START_TEST(gnuplot_renders_png_and_svg)
{
    if (!have_gnuplot()) {
        fprintf(stderr, "plots: gnuplot not installed: rendering test skipped\n");
        return;
    }
    const char *dir = make_fixture("render");
    struct plots_opts po = {true, NULL};
    int n = 0;
    struct err e;
    ck_assert_msg(plots_make(dir, NULL, &po, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_gt(n, 0);
    char *man = plot_file(dir, "figures", "tsv");
    ck_assert_ptr_nonnull(man);
    int checked = 0;
    for (char *line = strtok(man, "\n"); line; line = strtok(NULL, "\n")) {
        line[strcspn(line, "\t")] = '\0';
        char png[800], svg[800];
        snprintf(png, sizeof png, "%s/plots/%s.png", dir, line);
        snprintf(svg, sizeof svg, "%s/plots/%s.svg", dir, line);
        ck_assert_msg(fsize(png) > 1000, "%s: empty or missing", png);
        ck_assert_msg(fsize(svg) > 1000, "%s: empty or missing", svg);
        char *p = test_slurp(png), *s = test_slurp(svg);
        ck_assert_msg(memcmp(p, "\x89PNG", 4) == 0, "%s is not a PNG", png);
        ck_assert_ptr_nonnull(strstr(s, "<svg"));
        free(p);
        free(s);
        checked++;
    }
    ck_assert_int_eq(checked, n);
    free(man);
    /* the script is standalone: it redraws the figure from its own directory */
    ck_assert_int_eq(sh("cd %s/plots && rm -f params-wn-pos.png && gnuplot params-wn-pos.gp "
                        "2>/dev/null",
                        dir),
                     0);
    char png[800];
    snprintf(png, sizeof png, "%s/plots/params-wn-pos.png", dir);
    ck_assert_int_gt(fsize(png), 1000);
}
END_TEST

/* ---- plot specs ------------------------------------------------------------------- */

static int parse_yaml(struct plot_specs *ps, const char *text, struct err *e)
{
    const char *path = tpath("sweep.yaml");
    write_text(path, text);
    char name[128];
    return plots_load_sweep(ps, name, sizeof name, path, e);
}

static void spec_error(const char *yaml, const char *where, const char *what)
{
    struct plot_specs ps;
    struct err e;
    err_clear(&e);
    int rc = parse_yaml(&ps, yaml, &e);
    ck_assert_msg(rc == ERR_CONFIG, "expected a config error for:\n%s", yaml);
    ck_assert_msg(strstr(e.msg, where) != NULL, "message '%s' lacks '%s'", e.msg, where);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message '%s' lacks '%s'", e.msg, what);
    ck_assert_int_eq(ps.n, 0);
}

START_TEST(spec_errors_name_line_and_field)
{
    spec_error("sweep: s\nplots:\n  - {x: rank, tpye: line}\n", "sweep.yaml:3:15",
               "unknown field 'tpye' (did you mean 'type'?)");
    spec_error("sweep: s\nplots:\n  - x: rank\n    grop_by: method\n", "sweep.yaml:4:5",
               "did you mean 'group_by'");
    spec_error("sweep: s\nplots:\n  - {x: rank, type: lines}\n", "sweep.yaml:3:21",
               "plots[0].type: expected one of line, scatter, bar, curve");
    spec_error("sweep: s\nplots:\n  - {x: rank, type: lines}\n", "", "did you mean 'line'");
    spec_error("sweep: s\nplots:\n  - {y: accuracy}\n", "sweep.yaml:3:5", "needs x");
    spec_error("sweep: s\nplots:\n  - {type: bar, x: rank}\n", "sweep.yaml:3:20",
               "plots[0].x: not used by bar figures");
    spec_error("sweep: s\nplots:\n  - {x: rank, y: [accuracy, f1]}\n", "sweep.yaml:3:18",
               "only for type bar");
    spec_error("sweep: s\nplots:\n  - {x: rank, logx: yes}\n", "sweep.yaml:3:21",
               "plots[0].logx: expected true or false");
    spec_error("sweep: s\nplots:\n  - {x: rank, errors: range}\n", "sweep.yaml:3:23",
               "plots[0].errors: expected one of std, sem, ci95, minmax, none");
    spec_error("sweep: s\nplots:\n  - {x: rank, errorbars: ci}\n", "sweep.yaml:3:26",
               "plots[0].errorbars: expected one of std, sem, ci95, minmax, none, found 'ci'");
    spec_error("sweep: s\nplots:\n  - {x: rank, filter: [task]}\n", "sweep.yaml:3:23",
               "plots[0].filter: expected a mapping");
    spec_error("sweep: s\nplots:\n  - {x: rank, output: a/b}\n", "sweep.yaml:3:23",
               "plots[0].output");
    spec_error("sweep: s\nplots:\n  - {x: rank, output: f}\n  - {x: alpha, output: f}\n",
               "sweep.yaml:4:24", "also the output of plots[0]");
    spec_error("sweep: s\nplots: {x: rank}\n", "sweep.yaml:2:8", "expected a list");
    spec_error("sweep: s\nplots:\n  - rank\n", "sweep.yaml:3:5", "expected a mapping");
    spec_error("sweep: s\nplots:\n  - {type: curve, y: accuracy}\n", "sweep.yaml:3:22",
               "dev_primary or train_loss");
}
END_TEST

START_TEST(spec_parses_every_field)
{
    struct plot_specs ps;
    struct err e;
    int rc = parse_yaml(&ps,
                        "sweep: s\n"
                        "plots:\n"
                        "  - {x: rank, y: accuracy}\n"
                        "  - type: scatter\n"
                        "    output: my-fig\n"
                        "    x: params_trainable\n"
                        "    y: primary_value\n"
                        "    group_by: [method, task]\n"
                        "    split_by: []\n"
                        "    filter: {method: [lora, ia3], task: wn-pos}\n"
                        "    logx: true\n"
                        "    logy: false\n"
                        "    errors: minmax\n"
                        "    title: A title\n"
                        "    xlabel: X\n"
                        "    ylabel: Y\n"
                        "  - {type: bar, y: [mem_frozen, mem_activations], errorbars: sem}\n"
                        "  - {output: memory, enabled: false}\n",
                        &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_int_eq(ps.n, 4);
    ck_assert_str_eq(ps.v[0].output, "accuracy-vs-rank");
    ck_assert_int_eq(ps.v[0].type, PLOT_LINE);
    ck_assert_str_eq(ps.v[0].x.name, "rank");
    ck_assert_ptr_nonnull(strstr(ps.v[0].x.where, "sweep.yaml:3:9: plots[0].x"));
    const struct plot_spec *s = &ps.v[1];
    ck_assert_str_eq(s->output, "my-fig");
    ck_assert_int_eq(s->type, PLOT_SCATTER);
    ck_assert_int_eq(s->ngroup, 2);
    ck_assert(s->split_given && s->nsplit == 0);
    ck_assert_int_eq(s->nfilter, 2);
    ck_assert_int_eq(s->filter[0].nvalues, 2);
    ck_assert_str_eq(s->filter[0].values[1], "ia3");
    ck_assert_int_eq(s->logx, 1);
    ck_assert_int_eq(s->logy, 0);
    ck_assert_int_eq(s->errors, PLOT_ERRORS_MINMAX);
    ck_assert_int_eq(ps.v[0].errors, PLOT_ERRORS_CI95); /* the default */
    ck_assert_int_eq(ps.v[2].errors, PLOT_ERRORS_SEM);
    ck_assert_str_eq(s->title, "A title");
    ck_assert_int_eq(ps.v[2].ny, 2);
    ck_assert_str_eq(ps.v[2].output, "bar-mem_frozen");
    ck_assert(!ps.v[3].enabled);
    plots_specs_free(&ps);
    plots_specs_free(&ps);
}
END_TEST

START_TEST(spec_columns_checked_against_results)
{
    const char *dir = make_fixture("cols");
    struct plot_specs ps;
    struct err e;
    struct plots_opts po = {false, NULL};
    ck_assert_int_eq(parse_yaml(&ps, "sweep: s\nplots:\n  - {x: rnak, y: accuracy}\n", &e), 0);
    ck_assert_int_eq(plots_make(dir, &ps, &po, NULL, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "sweep.yaml:3:9: plots[0].x: no column 'rnak'"), "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "did you mean 'rank'"), "%s", e.msg);
    plots_specs_free(&ps);

    ck_assert_int_eq(parse_yaml(&ps, "sweep: s\nplots:\n  - {x: rank, y: method}\n", &e), 0);
    ck_assert_int_eq(plots_make(dir, &ps, &po, NULL, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "sweep.yaml:3:18: plots[0].y: 'method' is not a numeric"), "%s",
                  e.msg);
    plots_specs_free(&ps);

    ck_assert_int_eq(
        parse_yaml(&ps, "sweep: s\nplots:\n  - {x: rank, filter: {tsak: wn-pos}}\n", &e), 0);
    ck_assert_int_eq(plots_make(dir, &ps, &po, NULL, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "sweep.yaml:3:24: plots[0].filter: no column 'tsak'"), "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "did you mean 'task'"), "%s", e.msg);
    plots_specs_free(&ps);

    ck_assert_int_eq(parse_yaml(&ps, "sweep: s\nplots:\n  - {x: seed}\n", &e), 0);
    ck_assert_int_eq(plots_make(dir, &ps, &po, NULL, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "differs between the trials of one setting"), "%s", e.msg);
    plots_specs_free(&ps);
}
END_TEST

START_TEST(specs_override_and_add)
{
    const char *dir = make_fixture("override");
    struct plot_specs ps;
    struct err e;
    struct plots_opts po = {false, NULL};
    ck_assert_int_eq(parse_yaml(&ps,
                                "sweep: s\n"
                                "plots:\n"
                                "  - {output: memory, enabled: false}\n"
                                "  - {output: params, x: params_method, filter: {method: lora},\n"
                                "     title: Only LoRA}\n"
                                "  - {output: by-task, x: rank, group_by: task, errors: minmax}\n"
                                "  - {output: rank-std, x: rank, logx: true, errorbars: std}\n",
                                &e),
                     0);
    int n = 0;
    ck_assert_msg(plots_make(dir, &ps, &po, &n, &e) == 0, "%s", e.msg);
    char path[800];
    snprintf(path, sizeof path, "%s/plots/memory-wn-pos.gp", dir);
    ck_assert_int_lt(fsize(path), 0); /* disabled */
    char *dat = plot_file(dir, "params-wn-pos", "dat");
    ck_assert_ptr_nonnull(dat); /* replaced: only the lora series */
    ck_assert_ptr_nonnull(strstr(dat, "wn-pos: Only LoRA"));
    ck_assert_ptr_null(strstr(dat, "ia3"));
    dat_point(dat, "1154 ", 0.72, 0.72 - 4.3026527 * 0.02 / sqrt(3.0), 3); /* x = params_method */
    free(dat);
    /* task in group_by: one figure, one series per task, min-max error bars */
    dat = plot_file(dir, "by-task", "dat");
    ck_assert_ptr_nonnull(dat);
    ck_assert_ptr_nonnull(strstr(dat, "# series 0: wn-pos"));
    ck_assert_ptr_nonnull(strstr(dat, "# series 1: wn-hypernym"));
    ck_assert_ptr_nonnull(strstr(dat, "2 0.72 0.7 0.74 3"));
    ck_assert_ptr_null(strstr(dat, "majority")); /* two tasks in one figure: no one line */
    free(dat);
    /* errorbars: std; a rank axis on log2 tics */
    dat = plot_file(dir, "rank-std-wn-pos", "dat");
    char *gp = plot_file(dir, "rank-std-wn-pos", "gp");
    ck_assert_ptr_nonnull(strstr(dat, "2 0.72 0.7 0.74 3"));
    ck_assert_ptr_nonnull(strstr(gp, "set logscale x 2\nset xtics ('2' 2, '4' 4)"));
    ck_assert_ptr_nonnull(strstr(gp, "error bars: std over seeds"));
    free(dat);
    free(gp);
    plots_specs_free(&ps);
}
END_TEST

/* ---- the binary: plot, report, no gnuplot --------------------------------------- */

START_TEST(cli_plot_and_report)
{
    const char *dir = make_fixture("cli");
    /* plot DIR reads DIR/sweep.yaml (the resolved copy run writes) */
    char path[800];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    write_text(path, "sweep: fx\nmodel: builtin:tiny-bert\ntasks: [wn-pos]\nmethods: [lora]\n"
                     "plots:\n  - {output: mine, x: rank, filter: {task: wn-pos}}\n");
    ck_assert_int_eq(sh("%s plot %s --no-render >/dev/null", peftbench_bin(), dir), 0);
    char *gp = plot_file(dir, "mine", "gp");
    ck_assert_ptr_nonnull(gp);
    free(gp);
    /* plot SWEEP.yaml --results DIR; a bad spec is exit 1 with file:line */
    const char *bad = tpath("bad.yaml");
    write_text(bad, "sweep: fx\nplots:\n  - {x: rank, colour: red}\n");
    char err_path[700];
    snprintf(err_path, sizeof err_path, "%s/err.txt", tmpdir);
    ck_assert_int_eq(
        sh("%s plot %s --results %s --no-render 2>%s", peftbench_bin(), bad, dir, err_path), 1);
    char *msg = test_slurp(err_path);
    ck_assert_msg(strstr(msg, "bad.yaml:3:15: plots[0]: unknown field 'colour'"), "%s", msg);
    free(msg);
    ck_assert_int_eq(sh("%s plot >/dev/null 2>&1", peftbench_bin()), 2);
    ck_assert_int_eq(sh("%s plot %s/none 2>/dev/null", peftbench_bin(), tmpdir), 1);
    /* report */
    ck_assert_int_eq(sh("%s report %s >/dev/null", peftbench_bin(), dir), 0);
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *md = test_slurp(path);
    ck_assert_ptr_nonnull(md);
    ck_assert_ptr_nonnull(strstr(md, "## Task wn-pos (dev accuracy)"));
    ck_assert_ptr_nonnull(strstr(md, "| lora | rank=2 | 0.7200 ± 0.0200 | 3/3 |"));
    ck_assert_ptr_nonnull(strstr(md, "| lora | rank=4 | 0.7600 ± 0.0141 | 2/3 (1 diverged) |"));
    ck_assert_ptr_nonnull(strstr(md, "(1 failed)"));
    ck_assert_ptr_nonnull(strstr(md, "| wn-pos | lora | rank=4 | 0.7600 ± 0.0141 |"));
    /* the ranking: each method's best setting, mean ± 95% CI, the test against the best */
    ck_assert_ptr_nonnull(strstr(md, "## Ranking"));
    ck_assert_ptr_nonnull(strstr(md, "| 1 | lora | lora rank=4 | 0.7600 ± 0.1271 | 2 ⚠ | **best** |"));
    ck_assert_ptr_nonnull(strstr(md, "| 2 | ia3 | ia3 targets=k,v,ffn_act | 0.6900 (no interval) "
                                     "| 1 ⚠ | untested"));
    ck_assert_ptr_nonnull(strstr(md, "| 3 | head | head | 0.6100 ± 0.1271 | 2 ⚠ | below best | "
                                     "paired by seed, p = "));
    ck_assert_ptr_nonnull(strstr(md, "**Warning:** fewer than 3 seeds back lora rank=4 (n = 2)"));
    ck_assert_ptr_nonnull(strstr(md, "Test CPU"));
    ck_assert_ptr_nonnull(strstr(md, "| GEMM calibration | 40.0 GFLOP/s |"));
    ck_assert_ptr_nonnull(strstr(md, "## Figures"));
    ck_assert_ptr_nonnull(strstr(md, "gnuplot mine.gp")); /* not drawn (--no-render) */
    free(md);
    if (have_gnuplot()) {
        ck_assert_int_eq(sh("%s plot %s >/dev/null", peftbench_bin(), dir), 0);
        ck_assert_int_eq(sh("%s report %s >/dev/null", peftbench_bin(), dir), 0);
        md = test_slurp(path);
        ck_assert_ptr_nonnull(strstr(md, "![mine](plots/mine.png)"));
        ck_assert_ptr_nonnull(strstr(md, "![params-wn-pos](plots/params-wn-pos.png)"));
        free(md);
    }
    ck_assert_int_eq(sh("%s report %s/none 2>/dev/null", peftbench_bin(), tmpdir), 1);
}
END_TEST

START_TEST(cli_plot_without_gnuplot)
{
    const char *dir = make_fixture("nognuplot");
    char csv[700], empty[700], err_path[700];
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    snprintf(empty, sizeof empty, "%s/emptybin", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", tmpdir);
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    char *before = test_slurp(csv);
    ck_assert_int_eq(sh("PATH=%s %s plot %s >/dev/null 2>%s", empty, peftbench_bin(), dir, err_path), 1);
    char *msg = test_slurp(err_path), *after = test_slurp(csv);
    ck_assert_msg(strstr(msg, "gnuplot"), "%s", msg);
    ck_assert_msg(strstr(msg, "install"), "%s", msg);
    ck_assert_msg(strstr(msg, "gnuplot-nox"), "%s", msg);
    ck_assert_str_eq(before, after); /* results intact */
    char *gp = plot_file(dir, "params-wn-pos", "gp");
    ck_assert_ptr_nonnull(gp); /* data and scripts are still written */
    free(gp);
    free(msg);
    free(before);
    free(after);
}
END_TEST

Suite *plots_suite(void)
{
    Suite *s = suite_create("plots");
    TCase *tc = tcase_create("numerics");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stat_hand_computed);
    tcase_add_test(tc, parse_num_is_strict);
    tcase_add_test(tc, settings_group_over_seeds);
    tcase_add_test(tc, table_errors_name_the_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("figures");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, default_figures_data_and_scripts);
    tcase_add_test(tc, gnuplot_renders_png_and_svg);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, spec_errors_name_line_and_field);
    tcase_add_test(tc, spec_parses_every_field);
    tcase_add_test(tc, spec_columns_checked_against_results);
    tcase_add_test(tc, specs_override_and_add);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cli_plot_and_report);
    tcase_add_test(tc, cli_plot_without_gnuplot);
    suite_add_tcase(s, tc);
    return s;
}
