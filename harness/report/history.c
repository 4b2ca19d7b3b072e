/* history: run files under ROOT/history/ and `peftbench history` (see history.h). */
#include "harness/report/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/strbuf.h"
#include "harness/report/aggregate.h"
#include "harness/sweep/results.h"

#define HIST_PATH 4400

const char *const history_columns[] = {
    "run_date",       "git_commit",         "calibration_gflops", "sweep",
    "trial_id",       "task",               "method",             "setting",
    "seed",           "status",             "primary_metric",     "primary_value",
    "train_tokens_per_s", "throughput_per_gflop", "mem_peak_total", "params_trainable",
    "params_total",   "message",            NULL,
};

/* The run's key, read from its results.csv. */
struct run_key {
    char date[32], commit[64];
    double calib; /* NaN: none */
};

static void run_key(struct run_key *k, const struct agg_table *t, const char *csv)
{
    int cd = agg_table_col(t, "started_at"), cc = agg_table_col(t, "git_commit");
    int cg = agg_table_col(t, "calibration_gflops");
    k->date[0] = k->commit[0] = '\0';
    k->calib = (double)NAN;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *d = agg_table_cell(t, r, cd), *c = agg_table_cell(t, r, cc);
        double g;
        if (d[0] && (!k->date[0] || strcmp(d, k->date) < 0))
            snprintf(k->date, sizeof k->date, "%s", d); /* ISO 8601: text order is time order */
        if (c[0] && !k->commit[0])
            snprintf(k->commit, sizeof k->commit, "%s", c);
        if (isnan(k->calib) && agg_parse_num(agg_table_cell(t, r, cg), &g))
            k->calib = g;
    }
    struct stat st;
    if (!k->date[0] && stat(csv, &st) == 0) {
        struct tm tm;
        gmtime_r(&st.st_mtime, &tm);
        strftime(k->date, sizeof k->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (!k->date[0])
        snprintf(k->date, sizeof k->date, "unknown");
    if (!k->commit[0])
        snprintf(k->commit, sizeof k->commit, "unknown");
}

/* s with anything outside [A-Za-z0-9.-] as '-', appended to b. */
static void name_part(struct strbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
        strbuf_put(b, keep ? &c : "-", 1);
    }
}

static void num_cell(struct strbuf *b, const struct agg_table *t, size_t r, const char *col)
{
    double v;
    if (agg_parse_num(agg_table_cell(t, r, agg_table_col(t, col)), &v))
        strbuf_num(b, v);
}

static void history_row(struct strbuf *b, const struct run_key *k, const struct agg *a, size_t r,
                        const char *setting)
{
    const struct agg_table *t = a->t;
    strbuf_csv(b, k->date);
    strbuf_str(b, ",");
    strbuf_csv(b, k->commit);
    strbuf_str(b, ",");
    strbuf_num(b, k->calib);
    static const char *const text[] = {"sweep", "trial_id", "task", "method"};
    for (size_t i = 0; i < 4; i++) {
        strbuf_str(b, ",");
        strbuf_csv(b, agg_table_cell(t, r, agg_table_col(t, text[i])));
    }
    strbuf_str(b, ",");
    strbuf_csv(b, setting);
    static const char *const text2[] = {"seed", "status", "primary_metric"};
    for (size_t i = 0; i < 3; i++) {
        strbuf_str(b, ",");
        strbuf_csv(b, agg_table_cell(t, r, agg_table_col(t, text2[i])));
    }
    strbuf_str(b, ",");
    num_cell(b, t, r, "primary_value");
    strbuf_str(b, ",");
    num_cell(b, t, r, "train_tokens_per_s");
    strbuf_str(b, ",");
    double tps;
    if (k->calib > 0 && agg_parse_num(agg_table_cell(t, r, agg_table_col(t, "train_tokens_per_s")), &tps))
        strbuf_num(b, tps / k->calib);
    static const char *const nums[] = {"mem_peak_total", "params_trainable", "params_total"};
    for (size_t i = 0; i < 3; i++) {
        strbuf_str(b, ",");
        num_cell(b, t, r, nums[i]);
    }
    strbuf_str(b, ",");
    strbuf_csv(b, agg_table_cell(t, r, agg_table_col(t, "message")));
    strbuf_str(b, "\n");
}

/* The whole run file: header and one row per trial (results.csv order). */
static void history_text(struct strbuf *b, const struct run_key *k, const struct agg *a)
{
    for (int i = 0; history_columns[i]; i++)
        strbuf_printf(b, "%s%s", i ? "," : "", history_columns[i]);
    strbuf_str(b, "\n");
    for (size_t i = 0; i < a->n; i++) /* setting order, rows in file order within it */
        for (size_t j = 0; j < a->s[i].nrows; j++)
            history_row(b, k, a, a->s[i].rows[j], a->s[i].label);
}

int history_append(const char *results_dir, const char *root, char *name, size_t n,
                   struct err *e)
{
    char path[HIST_PATH];
    snprintf(path, sizeof path, "%s/results.csv", results_dir);
    struct agg_table t;
    struct agg a;
    if (agg_table_load(&t, path, e))
        return e->code;
    int rc = agg_build(&a, &t, e);
    if (rc == ERR_OK && t.nrows == 0)
        rc = ERR_SET(e, ERR_STATE, "%s: no trials: nothing to add to the history", path);
    if (rc) {
        agg_table_free(&t);
        return rc;
    }
    struct run_key k;
    run_key(&k, &t, path);
    struct strbuf fname = {0}, text = {0};
    name_part(&fname, k.date);
    strbuf_str(&fname, "_");
    name_part(&fname, k.commit);
    if (isfinite(k.calib))
        strbuf_printf(&fname, "_%.1f.csv", k.calib);
    else
        strbuf_str(&fname, "_nocal.csv");
    history_text(&text, &k, &a);
    snprintf(path, sizeof path, "%s/%s", root, HISTORY_DIR);
    rc = results_mkdirs(path, e);
    if (rc == ERR_OK && (fname.oom || text.oom))
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    if (rc == ERR_OK) {
        snprintf(name, n, "%s", fname.p);
        snprintf(path, sizeof path, "%s/%s/%s", root, HISTORY_DIR, fname.p);
        rc = results_write_atomic(path, text.p, text.n, e);
    }
    strbuf_free(&fname);
    strbuf_free(&text);
    agg_free(&a);
    agg_table_free(&t);
    return rc;
}
