#include "harness/report/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/readfile.h"
#include "harness/report/aggregate.h"
#include "harness/report/plots.h"
#include "harness/report/ranking.h"
#include "harness/report/report_html.h"
#include "harness/report/select.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "harness/yaml/yaml.h"

#define REPORT_MAX_YAML_LINES 200

/* A markdown table cell: '|' escaped, line breaks as spaces. */
static void md_cell(struct strbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '|')
            strbuf_str(b, "\\|");
        else if (*p == '\n' || *p == '\r')
            strbuf_str(b, " ");
        else
            strbuf_put(b, p, 1);
    }
}

static double stat_mean(const struct agg *a, const struct agg_setting *s, const char *col)
{
    int m = agg_measure_index(a, col);
    return m >= 0 && s->stats[m].n > 0 ? s->stats[m].mean : (double)NAN;
}

/* ---- environment ----------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void environment(struct strbuf *b, const char *dir, const struct agg *a)
{
    int col_id = agg_table_col(a->t, "trial_id");
    cJSON *first = NULL;
    char first_key[1024] = "";
    size_t nread = 0, nother = 0;
    for (size_t r = 0; r < a->t->nrows; r++) {
        const char *id = agg_table_cell(a->t, r, col_id);
        if (!id[0] || strspn(id, "0123456789abcdef") != strlen(id))
            continue;
        struct err e;
        cJSON *rec = results_read_trial(dir, id, &e);
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(rec, "environment");
        if (!cJSON_IsObject(env)) {
            cJSON_Delete(rec);
            continue;
        }
        char key[1024];
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(env, "threads");
        snprintf(key, sizeof key, "%.200s|%.200s|%.100s|%.300s|%g", jstr(env, "host"),
                 jstr(env, "cpu"), jstr(env, "git_commit"), jstr(env, "openblas"),
                 cJSON_IsNumber(th) ? th->valuedouble : -1.0);
        nread++;
        if (!first) {
            first = rec;
            snprintf(first_key, sizeof first_key, "%s", key);
            continue;
        }
        nother += strcmp(key, first_key) != 0;
        cJSON_Delete(rec);
    }
    strbuf_str(b, "## Environment\n\n");
    if (!first) {
        strbuf_str(b, "No readable trial record (trials/*.json) holds an environment.\n\n");
        return;
    }
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(first, "environment");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(env, "threads");
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(first, "calibration_gflops");
    strbuf_str(b, "| | |\n|---|---|\n");
    strbuf_str(b, "| peftbench | ");
    md_cell(b, jstr(env, "version"));
    strbuf_str(b, " (git ");
    md_cell(b, jstr(env, "git_commit"));
    strbuf_str(b, ") |\n| compiler | ");
    md_cell(b, jstr(env, "compiler"));
    strbuf_str(b, " |\n| OpenBLAS | ");
    md_cell(b, jstr(env, "openblas"));
    if (jstr(env, "openblas_coretype")[0]) {
        strbuf_str(b, " (OPENBLAS_CORETYPE=");
        md_cell(b, jstr(env, "openblas_coretype"));
        strbuf_str(b, ")");
    }
    strbuf_str(b, " |\n| threads | ");
    if (cJSON_IsNumber(th))
        strbuf_printf(b, "%d", (int)th->valuedouble);
    strbuf_str(b, " |\n| CPU | ");
    md_cell(b, jstr(env, "cpu"));
    strbuf_str(b, " |\n| host | ");
    md_cell(b, jstr(env, "host"));
    strbuf_str(b, " |\n");
    if (cJSON_IsNumber(cal))
        strbuf_printf(b, "| GEMM calibration | %.1f GFLOP/s |\n", cal->valuedouble);
    strbuf_str(b, "\n");
    if (nother)
        strbuf_printf(b,
                       "Note: %zu of the %zu trial records come from another environment "
                       "(host, CPU, commit, OpenBLAS or threads differ); compare throughput "
                       "across them only through the calibration ratio.\n\n",
                       nother, nread);
    cJSON_Delete(first);
}

/* ---- the sweep ------------------------------------------------------------------- */

static void distinct_list(struct strbuf *b, const struct agg_table *t, int col)
{
    int n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *v = agg_table_cell(t, r, col);
        bool seen = false;
        for (size_t q = 0; q < r && !seen; q++)
            seen = strcmp(v, agg_table_cell(t, q, col)) == 0;
        if (seen)
            continue;
        strbuf_str(b, n++ ? ", " : "");
        md_cell(b, v);
        if (n >= 40) {
            strbuf_str(b, ", ...");
            break;
        }
    }
}

static void sweep_section(struct strbuf *b, const char *dir, const struct agg *a)
{
    const struct agg_table *t = a->t;
    const char *name = agg_table_cell(t, 0, agg_table_col(t, "sweep"));
    strbuf_str(b, "# peftbench report: ");
    md_cell(b, name[0] ? name : dir);
    strbuf_str(b, "\n\n## Sweep\n\n");
    size_t ok = 0, div = 0, fail = 0;
    for (size_t i = 0; i < a->n; i++)
        ok += (size_t)a->s[i].n_ok, div += (size_t)a->s[i].n_diverged,
            fail += (size_t)a->s[i].n_failed;
    strbuf_str(b, "- model: `");
    md_cell(b, agg_table_cell(t, 0, agg_table_col(t, "model")));
    strbuf_str(b, "`\n- tasks: ");
    distinct_list(b, t, a->col_task);
    strbuf_str(b, "\n- methods: ");
    distinct_list(b, t, a->col_method);
    strbuf_str(b, "\n- seeds: ");
    distinct_list(b, t, a->col_seed);
    strbuf_printf(b,
                   "\n- trials: %zu (%zu ok, %zu diverged, %zu failed) in %zu settings "
                   "(a setting is everything but the seed)\n",
                   t->nrows, ok, div, fail, a->n);
    strbuf_str(b, "- files: `results.csv` (one row per trial), `summary.csv` (mean, std, min, "
                   "max over seeds per setting), `trials/` (per-trial records with per-epoch "
                   "curves), `plots/` (PNG, SVG, gnuplot scripts and data)\n\n");
    char path[4400];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    FILE *f;
    struct err e;
    if (readfile_fopen(path, &f, &e))
        return; /* absent, or not a regular file: the report goes without it */
    strbuf_str(b, "The resolved sweep (`sweep.yaml`):\n\n```yaml\n");
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (++n > REPORT_MAX_YAML_LINES) {
            strbuf_str(b, "# ... (see sweep.yaml)\n");
            break;
        }
        strbuf_str(b, strncmp(line, "```", 3) == 0 ? " " : "");
        strbuf_str(b, line);
        if (!strchr(line, '\n'))
            strbuf_str(b, "\n");
    }
    fclose(f);
    strbuf_str(b, "```\n\n");
}

/* ---- tables per task ------------------------------------------------------------- */

/* The setting label without its method ("rank=4"), or "-". */
static const char *hparams_of(const struct agg *a, const struct agg_setting *s)
{
    const char *m = agg_table_cell(a->t, s->row, a->col_method);
    size_t n = strlen(m);
    if (strncmp(s->label, m, n) == 0 && s->label[n] == ' ')
        return s->label + n + 1;
    return "-";
}

static void fmt_num(struct strbuf *b, double v, const char *fmt)
{
    if (isfinite(v))
        strbuf_printf(b, fmt, v);
    else
        strbuf_str(b, "-");
}

static void task_table(struct strbuf *b, const struct agg *a, const char *task)
{
    const char *metric = "";
    for (size_t i = 0; i < a->n && !metric[0]; i++)
        if (strcmp(agg_table_cell(a->t, a->s[i].row, a->col_task), task) == 0)
            metric = agg_table_cell(a->t, a->s[i].row, a->col_metric);
    if (!metric[0])
        metric = "primary metric";
    strbuf_str(b, "## Task ");
    md_cell(b, task);
    strbuf_printf(b, " (dev %s)\n\n", metric);
    strbuf_printf(b,
                   "| method | hyperparameters | %s (mean ± std) | seeds ok | trainable %% "
                   "| train tokens/s | peak memory (MiB) |\n",
                   metric);
    strbuf_str(b, "|---|---|---|---|---|---|---|\n");
    int pm = agg_measure_index(a, "primary_value");
    for (size_t i = 0; i < a->n; i++) {
        const struct agg_setting *s = &a->s[i];
        if (strcmp(agg_table_cell(a->t, s->row, a->col_task), task) != 0)
            continue;
        strbuf_str(b, "| ");
        md_cell(b, agg_table_cell(a->t, s->row, a->col_method));
        strbuf_str(b, " | ");
        md_cell(b, hparams_of(a, s));
        strbuf_str(b, " | ");
        if (pm >= 0 && s->stats[pm].n > 0)
            strbuf_printf(b, "%.4f ± %.4f", s->stats[pm].mean, s->stats[pm].std);
        else
            strbuf_str(b, "-");
        strbuf_printf(b, " | %d/%zu", s->n_ok, s->nrows);
        if (s->n_diverged)
            strbuf_printf(b, " (%d diverged)", s->n_diverged);
        if (s->n_failed)
            strbuf_printf(b, " (%d failed)", s->n_failed);
        strbuf_str(b, " | ");
        fmt_num(b, stat_mean(a, s, "trainable_pct"), "%.3f");
        strbuf_str(b, " | ");
        fmt_num(b, stat_mean(a, s, "train_tokens_per_s"), "%.0f");
        strbuf_str(b, " | ");
        fmt_num(b, stat_mean(a, s, "mem_peak_total") / 1048576.0, "%.1f");
        strbuf_str(b, " |\n");
    }
    strbuf_str(b, "\n");
}

static bool same_cell(const struct agg *a, size_t i, size_t j, int col)
{
    return strcmp(agg_table_cell(a->t, a->s[i].row, col), agg_table_cell(a->t, a->s[j].row, col)) ==
           0;
}

/* One row: the best setting of (task, method) of setting i; marks the pair done. */
static void best_row(struct strbuf *b, const struct agg *a, size_t i, int pm, bool *done)
{
    size_t best = i;
    for (size_t j = i; j < a->n; j++) {
        if (!same_cell(a, i, j, a->col_task) || !same_cell(a, i, j, a->col_method))
            continue;
        done[j] = true;
        const struct agg_stat *sj = &a->s[j].stats[pm], *sb = &a->s[best].stats[pm];
        if (sj->n > 0 && (sb->n == 0 || sj->mean > sb->mean))
            best = j;
    }
    const struct agg_setting *s = &a->s[best];
    if (s->stats[pm].n == 0)
        return;
    strbuf_str(b, "| ");
    md_cell(b, agg_table_cell(a->t, s->row, a->col_task));
    strbuf_str(b, " | ");
    md_cell(b, agg_table_cell(a->t, s->row, a->col_method));
    strbuf_str(b, " | ");
    md_cell(b, hparams_of(a, s));
    strbuf_printf(b, " | %.4f ± %.4f | ", s->stats[pm].mean, s->stats[pm].std);
    fmt_num(b, stat_mean(a, s, "trainable_pct"), "%.3f");
    strbuf_str(b, " |\n");
}

static void best_table(struct strbuf *b, const struct agg *a)
{
    int pm = agg_measure_index(a, "primary_value");
    strbuf_str(b, "## Best setting per method\n\n"
                   "Highest mean dev metric over seeds, per task.\n\n"
                   "| task | method | best setting | metric (mean ± std) | trainable % |\n"
                   "|---|---|---|---|---|\n");
    bool *done = calloc(a->n + 1, sizeof *done), *task_done = calloc(a->n + 1, sizeof *done);
    for (size_t t = 0; done && task_done && pm >= 0 && t < a->n; t++) {
        if (task_done[t])
            continue;
        for (size_t i = t; i < a->n; i++)
            if (same_cell(a, t, i, a->col_task)) {
                task_done[i] = true;
                if (!done[i])
                    best_row(b, a, i, pm, done);
            }
    }
    free(done);
    free(task_done);
    strbuf_str(b, "\n");
}

/* ---- failed and diverged trials ----------------------------------------------------- */

/* One table of every trial that is not ok, with its message (a failure's cause, or the
 * step where the loss became NaN/Inf): a failed trial is never hidden behind the means. */
static void problems_table(struct strbuf *b, const struct agg_table *t, const struct agg *a)
{
    int id = agg_table_col(t, "trial_id"), msg = agg_table_col(t, "message");
    int step = agg_table_col(t, "diverged_step");
    size_t n = 0;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *st = agg_table_cell(t, r, a->col_status);
        if (strcmp(st, "ok") == 0)
            continue;
        if (n++ == 0)
            strbuf_str(b, "## Failed and diverged trials\n\n"
                          "| trial | method | task | seed | status | message |\n"
                          "|---|---|---|---|---|---|\n");
        strbuf_printf(b, "| %s | ", agg_table_cell(t, r, id));
        md_cell(b, agg_table_cell(t, r, a->col_method));
        strbuf_str(b, " | ");
        md_cell(b, agg_table_cell(t, r, a->col_task));
        strbuf_printf(b, " | %s | %s | ", agg_table_cell(t, r, a->col_seed), st);
        if (strcmp(st, "diverged") == 0 && agg_table_cell(t, r, step)[0])
            strbuf_printf(b, "non-finite loss at step %s; ", agg_table_cell(t, r, step));
        md_cell(b, agg_table_cell(t, r, msg));
        strbuf_str(b, " |\n");
    }
    if (n)
        strbuf_str(b, "\nFailed trials are run again by the next `peftbench run` "
                      "(unless `--skip-failed`); diverged trials are final.\n\n");
}

/* ---- figures --------------------------------------------------------------------- */

static void figures(struct strbuf *b, const char *dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/plots/figures.tsv", dir);
    strbuf_str(b, "## Figures\n\n");
    FILE *f;
    struct err e;
    if (readfile_fopen(path, &f, &e)) {
        if (errno == ENOENT)
            strbuf_printf(b, "No figures yet: draw them with `peftbench plot %s`.\n", dir);
        else
            strbuf_printf(b, "The list of figures cannot be read: %s.\n", e.msg);
        return;
    }
    char line[1024];
    int n = 0, missing = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        const char *name = line, *title = tab + 1;
        char png[4400];
        snprintf(png, sizeof png, "%s/plots/%s.png", dir, name);
        struct stat st;
        n++;
        strbuf_str(b, "### ");
        md_cell(b, title);
        strbuf_str(b, "\n\n");
        if (stat(png, &st) == 0 && st.st_size > 0) {
            strbuf_printf(b, "![%s](plots/%s.png)\n\n", name, name);
        } else {
            strbuf_printf(b, "(not drawn: `cd plots && gnuplot %s.gp`)\n\n", name);
            missing++;
        }
    }
    fclose(f);
    if (n == 0)
        strbuf_str(b, "No figures (no finished trials).\n");
    else
        strbuf_printf(b,
                       "Each figure has its gnuplot script and data beside it in `plots/` "
                       "(NAME.gp, NAME.dat); restyle the script and rerun `gnuplot NAME.gp` "
                       "there.%s\n",
                       missing ? " Some figures are not drawn yet (is gnuplot installed?)." : "");
}

/* "Selected on dev" for sweeps with `tune:` blocks (harness/report/select.h); a
 * selection that cannot be built (out of memory) is left out rather than failing the report. */
static void selected_section(struct strbuf *b, const struct agg *a)
{
    struct selection sel;
    struct err e;
    if (select_build(&sel, a, &e) == ERR_OK)
        select_markdown(b, &sel);
    select_free(&sel);
}

int report_write(const char *dir, struct err *e)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    struct agg_table t;
    struct agg a;
    if (agg_table_load(&t, path, e))
        return e->code;
    int rc = agg_build(&a, &t, e);
    if (rc == ERR_OK && t.nrows == 0)
        rc = ERR_SET(e, ERR_STATE, "%s: no trials yet: nothing to report", path);
    if (rc) {
        agg_table_free(&t);
        return rc;
    }
    struct strbuf b = {0};
    sweep_section(&b, dir, &a);
    problems_table(&b, &t, &a);
    environment(&b, dir, &a);
    for (size_t r = 0; r < t.nrows; r++) {
        const char *task = agg_table_cell(&t, r, a.col_task);
        bool seen = false;
        for (size_t q = 0; q < r && !seen; q++)
            seen = strcmp(task, agg_table_cell(&t, q, a.col_task)) == 0;
        if (!seen)
            task_table(&b, &a, task);
    }
    ranking_write(&b, &a);
    best_table(&b, &a);
    selected_section(&b, &a);
    figures(&b, dir);
    snprintf(path, sizeof path, "%s/report.md", dir);
    rc = b.oom ? ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path)
               : results_write_atomic(path, b.p, b.n, e);
    if (rc == ERR_OK)
        rc = report_html_write(dir, e); /* report.html beside it: harness/report/report_html.h */
    strbuf_free(&b);
    agg_free(&a);
    agg_table_free(&t);
    return rc;
}

/* ---- after a run ----------------------------------------------------------------- */

/* The sweep's specs, parsed from its own file (messages name its lines) unless
 * command-line overrides changed `plots:`; then from the resolved copy in dir. */
static int specs_of(struct plot_specs *ps, const char *dir, const struct sweep *sw, struct err *e)
{
    struct ynode *root = NULL;
    char *emitted = NULL;
    int rc = ynode_load_file(&root, sw->path, true, e);
    const struct ynode *plots = rc == ERR_OK ? ynode_get(root, "plots") : NULL;
    if (rc == ERR_OK && plots)
        rc = ynode_emit(plots, &emitted, e);
    bool same = rc == ERR_OK && ((!emitted && !sw->plots_yaml) ||
                                 (emitted && sw->plots_yaml && !strcmp(emitted, sw->plots_yaml)));
    if (same)
        rc = plots_parse(ps, plots, e);
    free(emitted);
    ynode_free(root);
    if (same || rc)
        return rc;
    char path[4400], name[256];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    return plots_load_sweep(ps, name, sizeof name, path, e);
}

void report_after_run(const char *dir, const struct sweep *sw, bool quiet, FILE *out, FILE *errf)
{
    struct plot_specs ps;
    struct err e;
    err_clear(&e);
    memset(&ps, 0, sizeof ps);
    int nfig = 0;
    struct plots_opts po = {true, errf};
    if (specs_of(&ps, dir, sw, &e)) {
        fprintf(errf, "peftbench: warning: plots: %s; drawing the default figures only\n", e.msg);
        err_clear(&e);
    }
    if (plots_make(dir, &ps, &po, &nfig, &e))
        fprintf(errf,
                "peftbench: warning: figures: %s\n"
                "peftbench: the results are complete; retry the figures with `peftbench plot %s`\n",
                e.msg, dir);
    else if (!quiet)
        fprintf(out, "peftbench: %d figures in %s/plots\n", nfig, dir);
    plots_specs_free(&ps);
    err_clear(&e);
    if (report_write(dir, &e))
        fprintf(errf, "peftbench: warning: report: %s (retry with `peftbench report %s`)\n", e.msg,
                dir);
    else if (!quiet)
        fprintf(out, "peftbench: report in %s/report.md\n", dir);
}
