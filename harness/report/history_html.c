/* history_html: ROOT/history.html from the run files in ROOT/history/ (see history_html.h). */
#include "harness/report/history_html.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/aggregate.h"
#include "harness/report/history.h"
#include "harness/report/html.h"

#define HH_PATH 4400

enum { M_METRIC, M_SPEED, M_MEM, M_PARAMS, NMEAS };
static const char *const meas_title[NMEAS] = {"dev metric", "throughput per GFLOP/s",
                                             "peak memory MiB", "trainable params"};
static const char *const meas_key[NMEAS] = {"metric", "speed", "mem", "params"};
static const char *const meas_fmt[NMEAS] = {"%.4f", "%.1f", "%.1f", "%.0f"};

struct id_row {
    const char *id;
    size_t row;
};

/* One run file: its table and its rows sorted by trial id. */
struct hrun {
    char *name; /* owned: file name */
    struct agg_table t;
    struct id_row *idx; /* owned: (t.nrows) */
};

struct hist {
    struct hrun *runs; /* owned: (nruns) in name (date) order */
    int nruns;
    const char **ids; /* owned array, borrowed strings: every trial id, first appearance */
    size_t nids;
    const struct compare_opts *o;
};

static int cmp_idrow(const void *x, const void *y)
{
    return strcmp(((const struct id_row *)x)->id, ((const struct id_row *)y)->id);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Row of trial id in run r, or -1. */
static long run_find(const struct hrun *r, const char *id)
{
    struct id_row key = {id, 0};
    const struct id_row *f = bsearch(&key, r->idx, r->t.nrows, sizeof key, cmp_idrow);
    return f ? (long)f->row : -1;
}

static const char *cell(const struct hrun *r, long row, const char *col)
{
    return row < 0 ? "" : agg_table_cell(&r->t, (size_t)row, agg_table_col(&r->t, col));
}

static double num(const struct hrun *r, long row, const char *col)
{
    double v;
    return agg_parse_num(cell(r, row, col), &v) ? v : (double)NAN;
}

/* The plotted value of measure m. */
static double meas(const struct hrun *r, long row, int m)
{
    switch (m) {
    case M_METRIC: return num(r, row, "primary_value");
    case M_SPEED: return num(r, row, "throughput_per_gflop");
    case M_MEM: return num(r, row, "mem_peak_total") / 1048576.0;
    default: return num(r, row, "params_trainable");
    }
}

/* ---- loading ------------------------------------------------------------------------------ */

static int load_run(struct hrun *r, const char *root, const char *name, struct err *e)
{
    char path[HH_PATH];
    snprintf(path, sizeof path, "%s/%s/%s", root, HISTORY_DIR, name);
    if (agg_table_load(&r->t, path, e))
        return e->code;
    for (int i = 0; history_columns[i]; i++)
        if (agg_table_col(&r->t, history_columns[i]) < 0)
            return ERR_SET(e, ERR_FORMAT, "%s: not a history file (no %s column)", path,
                           history_columns[i]);
    r->idx = malloc((r->t.nrows + 1) * sizeof *r->idx);
    if (!r->idx)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    int c = agg_table_col(&r->t, "trial_id");
    for (size_t i = 0; i < r->t.nrows; i++)
        r->idx[i] = (struct id_row){agg_table_cell(&r->t, i, c), i};
    qsort(r->idx, r->t.nrows, sizeof *r->idx, cmp_idrow);
    return ERR_OK;
}

static char **list_runs(const char *root, int *n, struct err *e)
{
    char path[HH_PATH];
    snprintf(path, sizeof path, "%s/%s", root, HISTORY_DIR);
    DIR *d = opendir(path);
    if (!d) {
        ERR_SET(e, ERR_IO, "%s: cannot open the history directory", path);
        return NULL;
    }
    char **names = NULL;
    *n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".csv") != 0)
            continue;
        char **nn = realloc(names, ((size_t)*n + 1) * sizeof *names);
        if (!nn || !(nn[*n] = strdup(de->d_name))) {
            names = nn ? nn : names;
            break;
        }
        names = nn;
        (*n)++;
    }
    closedir(d);
    if (names)
        qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static void hist_free(struct hist *h)
{
    for (int i = 0; i < h->nruns; i++) {
        free(h->runs[i].name);
        agg_table_free(&h->runs[i].t);
        free(h->runs[i].idx);
    }
    free(h->runs);
    free(h->ids);
    memset(h, 0, sizeof *h);
}

/* Every trial id, in order of first appearance over the runs. */
static int collect_ids(struct hist *h, struct err *e)
{
    size_t cap = 0;
    for (int r = 0; r < h->nruns; r++)
        cap += h->runs[r].t.nrows;
    h->ids = malloc((cap + 1) * sizeof *h->ids);
    if (!h->ids)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (int r = 0; r < h->nruns; r++) {
        const struct hrun *run = &h->runs[r];
        int c = agg_table_col(&run->t, "trial_id");
        for (size_t i = 0; i < run->t.nrows; i++) {
            const char *id = agg_table_cell(&run->t, i, c);
            bool seen = false;
            for (int q = 0; q < r && !seen; q++)
                seen = run_find(&h->runs[q], id) >= 0;
            if (!seen)
                h->ids[h->nids++] = id;
        }
    }
    return ERR_OK;
}

static int hist_load(struct hist *h, const char *root, struct err *e)
{
    int n = 0;
    char **names = list_runs(root, &n, e);
    if (!names && n == 0)
        return e->code ? e->code : ERR_SET(e, ERR_STATE, "%s/%s: no run files", root, HISTORY_DIR);
    h->runs = calloc((size_t)n + 1, sizeof *h->runs);
    int rc = h->runs ? ERR_OK : ERR_SET(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (rc == ERR_OK) {
            h->runs[i].name = names[i];
            h->nruns++;
            rc = load_run(&h->runs[i], root, names[i], e);
        } else {
            free(names[i]);
        }
    }
    free(names);
    return rc ? rc : collect_ids(h, e);
}

/* ---- compare's judgement between two runs of one trial -------------------------------------- */

/* -1 a regression, +1 an improvement, 0 neither: compare.h's rules for measure m between run
 * a (row ra) and the later run b (row rb).  A status change counts on the metric. */
static int judge(const struct hist *h, const struct hrun *a, long ra, const struct hrun *b,
                 long rb, int m)
{
    const struct compare_opts *o = h->o;
    bool oka = strcmp(cell(a, ra, "status"), "ok") == 0, okb = strcmp(cell(b, rb, "status"), "ok") == 0;
    if (m == M_PARAMS) {
        const char *pa = cell(a, ra, "params_trainable"), *pb = cell(b, rb, "params_trainable");
        return pa[0] && pb[0] && strcmp(pa, pb) != 0 ? -1 : 0;
    }
    if (m == M_METRIC && oka != okb)
        return oka ? -1 : 1;
    if (!oka || !okb)
        return 0;
    double x = meas(a, ra, m), y = meas(b, rb, m);
    if (m == M_SPEED && !(isfinite(x) && isfinite(y))) /* no calibration: raw, as compare does */
        x = num(a, ra, "train_tokens_per_s"), y = num(b, rb, "train_tokens_per_s");
    if (m == M_METRIC)
        return !isfinite(x) || !isfinite(y) ? (isfinite(x) ? -1 : 0)
               : y - x < -o->metric_tol     ? -1
               : y - x > o->metric_tol      ? 1
                                            : 0;
    if (!(x > 0) || !(y > 0))
        return 0;
    double ratio = y / x, tol = m == M_SPEED ? o->speed_tol : o->mem_tol;
    int sign = m == M_SPEED ? 1 : -1; /* faster is better, more memory is worse */
    return ratio < 1.0 - tol ? -sign : ratio > 1.0 + tol ? sign : 0;
}

/* ---- the lines ------------------------------------------------------------------------------ */

#define SPARK_W 180
#define SPARK_H 36

static double spark_x(const struct hist *h, int r)
{
    return 4.0 + (h->nruns > 1 ? r * (SPARK_W - 8.0) / (h->nruns - 1) : (SPARK_W - 8.0) / 2);
}

/* One measure of one trial over the runs: latest value, then the SVG line with its marks. */
static void spark(struct strbuf *b, const struct hist *h, const char *id, int m)
{
    double *v = malloc((size_t)h->nruns * sizeof *v), lo = INFINITY, hi = -INFINITY, last = NAN;
    long *row = malloc((size_t)h->nruns * sizeof *row);
    strbuf_str(b, "<td class=\"n\">");
    if (!v || !row) {
        free(v), free(row);
        strbuf_str(b, "</td>");
        return;
    }
    for (int r = 0; r < h->nruns; r++) {
        row[r] = run_find(&h->runs[r], id);
        v[r] = row[r] >= 0 ? meas(&h->runs[r], row[r], m) : (double)NAN;
        if (isfinite(v[r]))
            lo = fmin(lo, v[r]), hi = fmax(hi, v[r]), last = v[r];
    }
    if (isfinite(last))
        strbuf_printf(b, meas_fmt[m], last);
    strbuf_printf(b, "<br><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
                  SPARK_W, SPARK_H, SPARK_W, SPARK_H);
    strbuf_str(b, "<polyline fill=\"none\" stroke=\"#4a6fa5\" stroke-width=\"1.5\" points=\"");
    for (int r = 0; r < h->nruns; r++)
        if (isfinite(v[r]))
            strbuf_printf(b, "%.1f,%.1f ", spark_x(h, r),
                          hi > lo ? SPARK_H - 4.0 - (v[r] - lo) / (hi - lo) * (SPARK_H - 8.0)
                                  : SPARK_H / 2.0);
    strbuf_str(b, "\"/>");
    for (int r = 0, prev = -1; r < h->nruns; r++) {
        if (row[r] < 0)
            continue;
        int j = prev >= 0 ? judge(h, &h->runs[prev], row[prev], &h->runs[r], row[r], m) : 0;
        prev = r;
        if (j == 0)
            continue;
        double y = isfinite(v[r]) && hi > lo
                       ? SPARK_H - 4.0 - (v[r] - lo) / (hi - lo) * (SPARK_H - 8.0)
                       : SPARK_H / 2.0;
        strbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>",
                      spark_x(h, r), y, j < 0 ? "#c62828" : "#2e7d32");
        html_esc(b, h->runs[r].name);
        strbuf_str(b, j < 0 ? ": regression" : ": improvement");
        strbuf_str(b, "</title></circle>");
    }
    strbuf_str(b, "</svg></td>");
    free(v);
    free(row);
}

static void lines_table(struct strbuf *b, const struct hist *h)
{
    strbuf_str(b, "<h2 id=\"lines\">Trials over runs</h2>\n<p>One line per trial and measure, "
                  "oldest run left; the number is the latest value. Red: a regression, green: "
                  "an improvement against the previous run holding the trial (compare's rules "
                  "and tolerances).</p>\n<table class=\"sortable\" id=\"lines-t\"><thead><tr>"
                  "<th data-k=\"id\">trial</th><th data-k=\"task\">task</th>"
                  "<th data-k=\"setting\">setting</th><th data-k=\"seed\" data-num>seed</th>");
    for (int m = 0; m < NMEAS; m++)
        strbuf_printf(b, "<th data-k=\"%s\" data-num>%s</th>", meas_key[m], meas_title[m]);
    strbuf_str(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < h->nids; i++) {
        const struct hrun *r = NULL;
        long row = -1;
        for (int q = h->nruns - 1; q >= 0 && row < 0; q--) /* labels from the latest run */
            row = run_find(r = &h->runs[q], h->ids[i]);
        strbuf_str(b, "<tr>");
        html_el(b, "td", h->ids[i]);
        html_el(b, "td", cell(r, row, "task"));
        html_el(b, "td", cell(r, row, "setting"));
        html_el(b, "td class=\"n\"", cell(r, row, "seed"));
        for (int m = 0; m < NMEAS; m++)
            spark(b, h, h->ids[i], m);
        strbuf_str(b, "</tr>\n");
    }
    strbuf_str(b, "</tbody></table>\n");
}

/* ---- the latest verdicts ------------------------------------------------------------------- */

static void change_td(struct strbuf *b, const struct hrun *a, long ra, const struct hrun *c,
                      long rc, int m, int j)
{
    double x = meas(a, ra, m), y = meas(c, rc, m);
    strbuf_printf(b, "<td class=\"n%s\">", j < 0 ? " bad" : j > 0 ? " good" : "");
    if (isfinite(x) && isfinite(y)) {
        strbuf_printf(b, meas_fmt[m], y);
        strbuf_str(b, " (was ");
        strbuf_printf(b, meas_fmt[m], x);
        strbuf_str(b, ")");
    }
    strbuf_str(b, "</td>");
}

static void verdict_row(struct strbuf *b, const struct hist *h, const struct hrun *a,
                        const struct hrun *c, const char *id, double *logsum, int *nspeed)
{
    long ra = a ? run_find(a, id) : -1, rc = run_find(c, id);
    const struct hrun *lab = rc >= 0 ? c : a;
    long rl = rc >= 0 ? rc : ra;
    int j[NMEAS] = {0}, reg = 0, imp = 0;
    for (int m = 0; ra >= 0 && rc >= 0 && m < NMEAS; m++) {
        j[m] = judge(h, a, ra, c, rc, m);
        reg |= j[m] < 0, imp |= j[m] > 0;
    }
    double sa = num(a, ra, "throughput_per_gflop"), sc = num(c, rc, "throughput_per_gflop");
    if (sa > 0 && sc > 0)
        *logsum += log(sc / sa), (*nspeed)++;
    const char *v = rc < 0 ? "missing" : ra < 0 ? "new" : reg ? "regression" : imp ? "improved" : "ok";
    strbuf_printf(b, "<tr data-status=\"%s\">", v);
    html_el(b, "td", id);
    html_el(b, "td", cell(lab, rl, "task"));
    html_el(b, "td", cell(lab, rl, "setting"));
    html_el(b, "td class=\"n\"", cell(lab, rl, "seed"));
    strbuf_str(b, "<td>");
    html_esc(b, ra >= 0 ? cell(a, ra, "status") : "-");
    strbuf_str(b, " → ");
    html_esc(b, rc >= 0 ? cell(c, rc, "status") : "-");
    strbuf_str(b, "</td>");
    for (int m = 0; m < NMEAS; m++)
        change_td(b, a, ra, c, rc, m, j[m]);
    strbuf_printf(b, "<td class=\"%s\">%s</td><td>", reg || rc < 0 ? "bad" : imp ? "good" : "", v);
    html_esc(b, cell(lab, rl, "message"));
    strbuf_str(b, "</td></tr>\n");
}

static void verdicts(struct strbuf *b, const struct hist *h)
{
    const struct hrun *c = &h->runs[h->nruns - 1], *a = h->nruns > 1 ? &h->runs[h->nruns - 2] : NULL;
    strbuf_str(b, "<h2 id=\"verdicts\">Latest verdicts</h2>\n<p>");
    html_esc(b, c->name);
    strbuf_str(b, " against ");
    html_esc(b, a ? a->name : "nothing (the first run)");
    strbuf_str(b, ".</p>\n<div class=\"controls\"><label>Filter <input id=\"filter\" "
                  "type=\"search\"></label> <label>Verdict <select id=\"status\"><option value=\"\">"
                  "any</option><option>regression</option><option>improved</option><option>ok"
                  "</option><option>new</option><option>missing</option></select></label> "
                  "<span id=\"shown\"></span></div>\n<table class=\"sortable\" id=\"trials\">"
                  "<thead><tr><th data-k=\"id\">trial</th><th data-k=\"task\">task</th>"
                  "<th data-k=\"setting\">setting</th><th data-k=\"seed\" data-num>seed</th>"
                  "<th data-k=\"status\">status</th>");
    for (int m = 0; m < NMEAS; m++)
        strbuf_printf(b, "<th data-k=\"%s\" data-num>%s</th>", meas_key[m], meas_title[m]);
    strbuf_str(b, "<th data-k=\"verdict\">verdict</th><th data-k=\"message\">message</th>"
                  "</tr></thead><tbody>\n");
    double logsum = 0.0;
    int nspeed = 0;
    for (size_t i = 0; i < c->t.nrows; i++)
        verdict_row(b, h, a, c, agg_table_cell(&c->t, i, agg_table_col(&c->t, "trial_id")),
                    &logsum, &nspeed);
    for (size_t i = 0; a && i < a->t.nrows; i++) {
        const char *id = agg_table_cell(&a->t, i, agg_table_col(&a->t, "trial_id"));
        if (run_find(c, id) < 0)
            verdict_row(b, h, a, c, id, &logsum, &nspeed);
    }
    strbuf_str(b, "</tbody></table>\n");
    if (nspeed >= COMPARE_SWEEP_MIN_TRIALS) {
        double g = exp(logsum / nspeed);
        bool slow = g < 1.0 - h->o->sweep_speed_tol;
        strbuf_printf(b, "<p class=\"%s\">Throughput over the sweep (geometric mean of %d "
                         "ratios): x%.3f%s</p>\n", slow ? "bad" : "", nspeed, g,
                      slow ? ": REGRESSION" : "");
    }
}

/* ---- the page ------------------------------------------------------------------------------- */

static void runs_table(struct strbuf *b, const struct hist *h)
{
    strbuf_printf(b, "<h1>peftbench nightly history</h1>\n<p>%d runs, %zu trials. Files: "
                     "<code>%s/*.csv</code> (one per run).</p>\n<h2 id=\"runs\">Runs</h2>\n"
                     "<table><thead><tr><th>#</th><th>date</th><th>commit</th><th>calibration "
                     "GFLOP/s</th><th>trials</th><th>not ok</th></tr></thead><tbody>\n",
                  h->nruns, h->nids, HISTORY_DIR);
    for (int r = h->nruns - 1; r >= 0; r--) {
        const struct hrun *run = &h->runs[r];
        int bad = 0;
        for (size_t i = 0; i < run->t.nrows; i++)
            bad += strcmp(cell(run, (long)i, "status"), "ok") != 0;
        strbuf_printf(b, "<tr><td>%d</td>", r + 1);
        html_el(b, "td", cell(run, 0, "run_date"));
        html_el(b, "td", cell(run, 0, "git_commit"));
        html_el(b, "td class=\"n\"", cell(run, 0, "calibration_gflops"));
        strbuf_printf(b, "<td class=\"n\">%zu</td><td class=\"n%s\">%d</td></tr>\n", run->t.nrows,
                      bad ? " bad" : "", bad);
    }
    strbuf_str(b, "</tbody></table>\n");
}

int history_html_write(const char *root, const struct compare_opts *o, struct err *e)
{
    struct hist h;
    memset(&h, 0, sizeof h);
    h.o = o;
    err_clear(e);
    int rc = hist_load(&h, root, e);
    if (rc == ERR_OK && h.nruns == 0)
        rc = ERR_SET(e, ERR_STATE, "%s/%s: no run files", root, HISTORY_DIR);
    if (rc) {
        hist_free(&h);
        return rc;
    }
    struct strbuf b = {0};
    html_begin(&b, "peftbench nightly history", html_css);
    runs_table(&b, &h);
    verdicts(&b, &h);
    lines_table(&b, &h);
    html_end(&b, html_table_js);
    char path[HH_PATH];
    snprintf(path, sizeof path, "%s/%s", root, HISTORY_PAGE);
    rc = html_save(&b, path, e);
    strbuf_free(&b);
    hist_free(&h);
    return rc;
}
