/* report_html: DIR/report.html, the self-contained page of one sweep (see report_html.h). */
#include "harness/report/report_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"
#include "harness/report/aggregate.h"
#include "harness/report/html.h"

#define RH_PATH 4400
#define RH_CONFIG_MAX (1u << 20) /* bytes of sweep.yaml shown at most */

/* The page's data: the table, its settings, and the setting of each row. */
struct page {
    const char *dir;
    const struct agg_table *t;
    const struct agg *a;
    size_t *setting_of; /* (t->nrows) index into a->s */
};

static const char *col(const struct page *p, size_t r, const char *name)
{
    return agg_table_cell(p->t, r, agg_table_col(p->t, name));
}

/* <td class=n> with v printed by fmt, or an empty cell. */
static void num_td(struct strbuf *b, double v, const char *fmt)
{
    strbuf_str(b, "<td class=\"n\">");
    if (isfinite(v))
        strbuf_printf(b, fmt, v);
    strbuf_str(b, "</td>");
}

static double num(const struct page *p, size_t r, const char *name)
{
    double v;
    return agg_parse_num(col(p, r, name), &v) ? v : (double)NAN;
}

/* Setting label without its method ("rank=4"), or "". */
static const char *hparams(const struct page *p, const struct agg_setting *s)
{
    const char *m = agg_table_cell(p->t, s->row, p->a->col_method);
    size_t n = strlen(m);
    return strncmp(s->label, m, n) == 0 && s->label[n] == ' ' ? s->label + n + 1 : "";
}

/* ---- the sweep and its config --------------------------------------------------------- */

static void config(struct strbuf *b, const struct page *p)
{
    char path[RH_PATH];
    snprintf(path, sizeof path, "%s/sweep.yaml", p->dir);
    FILE *f;
    struct err e;
    strbuf_str(b, "<h2 id=\"config\">Resolved config</h2>\n");
    if (readfile_fopen(path, &f, &e)) {
        strbuf_str(b, "<p class=\"muted\">No sweep.yaml in the results directory.</p>\n");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = readfile_bounded(f, RH_CONFIG_MAX, &text, &len);
    fclose(f);
    strbuf_str(b, "<details open><summary>sweep.yaml</summary><pre>");
    html_esc(b, rc ? "(cannot be read, or larger than 1 MiB)" : text);
    strbuf_str(b, "</pre></details>\n");
    free(text);
}

static void header(struct strbuf *b, const struct page *p)
{
    const char *name = col(p, 0, "sweep");
    size_t ok = 0, div = 0, fail = 0;
    for (size_t i = 0; i < p->a->n; i++)
        ok += (size_t)p->a->s[i].n_ok, div += (size_t)p->a->s[i].n_diverged,
            fail += (size_t)p->a->s[i].n_failed;
    strbuf_str(b, "<h1>peftbench report: ");
    html_esc(b, name[0] ? name : p->dir);
    strbuf_str(b, "</h1>\n<p>Model <code>");
    html_esc(b, col(p, 0, "model"));
    strbuf_printf(b,
                  "</code>; %zu trials: %zu ok, %zu diverged, %zu failed, in %zu settings "
                  "(a setting is everything but the seed)",
                  p->t->nrows, ok, div, fail, p->a->n);
    if (col(p, 0, "git_commit")[0]) {
        strbuf_str(b, "; peftbench ");
        html_esc(b, col(p, 0, "version"));
        strbuf_str(b, ", commit ");
        html_esc(b, col(p, 0, "git_commit"));
    }
    double cal = num(p, 0, "calibration_gflops");
    if (isfinite(cal))
        strbuf_printf(b, "; GEMM calibration %.1f GFLOP/s", cal);
    strbuf_str(b, ".</p>\n<p><a href=\"#summary\">Summary</a> · <a href=\"#problems\">Failed and "
                  "diverged</a> · <a href=\"#trials-h\">Trials</a> · <a href=\"#figures\">Figures"
                  "</a> · <a href=\"#config\">Config</a> · <a href=\"report.md\">report.md</a> · "
                  "<a href=\"results.csv\">results.csv</a> · <a href=\"summary.csv\">summary.csv"
                  "</a></p>\n");
}

/* ---- the summary per setting ------------------------------------------------------------ */

/* The mean of measure m over the setting's ok trials, times scale. */
static void mean_td(struct strbuf *b, const struct agg_setting *s, int m, const char *fmt,
                    double scale)
{
    bool any = m >= 0 && s->stats[m].n > 0;
    num_td(b, any ? s->stats[m].mean * scale : (double)NAN, fmt);
}

/* mean, std and the 95% interval of measure m (the metric). */
static void interval_tds(struct strbuf *b, const struct agg_setting *s, int m)
{
    const struct agg_stat *st = m >= 0 ? &s->stats[m] : NULL;
    mean_td(b, s, m, "%.4f", 1.0);
    num_td(b, st && st->n > 1 ? st->std : (double)NAN, "%.4f");
    strbuf_str(b, "<td class=\"n\">");
    if (st && st->n > 1 && isfinite(st->ci95))
        strbuf_printf(b, "%.4f – %.4f", st->mean - st->ci95, st->mean + st->ci95);
    strbuf_str(b, "</td>");
}

static void summary(struct strbuf *b, const struct page *p)
{
    const struct agg *a = p->a;
    int pm = agg_measure_index(a, "primary_value"), tp = agg_measure_index(a, "trainable_pct");
    int tps = agg_measure_index(a, "train_tokens_per_s"), mem = agg_measure_index(a, "mem_peak_total");
    strbuf_str(b, "<h2 id=\"summary\">Summary over seeds</h2>\n<p>Per setting: the dev metric's "
                  "mean, sample std and 95% confidence interval of the mean (Student t) over the "
                  "ok seeds; an interval needs two seeds. Click a header to sort.</p>\n"
                  "<table class=\"sortable\" id=\"summary-t\"><thead><tr>"
                  "<th data-k=\"task\">task</th><th data-k=\"method\">method</th>"
                  "<th data-k=\"hparams\">hyperparameters</th><th data-k=\"metric\">metric</th>"
                  "<th data-k=\"mean\" data-num>mean</th><th data-k=\"std\" data-num>std</th>"
                  "<th data-k=\"ci95\" data-num>95% CI</th><th data-k=\"ok\">seeds ok</th>"
                  "<th data-k=\"trainable_pct\" data-num>trainable %</th>"
                  "<th data-k=\"tps\" data-num>train tokens/s</th>"
                  "<th data-k=\"mem\" data-num>peak memory MiB</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < a->n; i++) {
        const struct agg_setting *s = &a->s[i];
        strbuf_str(b, "<tr>");
        html_el(b, "td", agg_table_cell(a->t, s->row, a->col_task));
        html_el(b, "td", agg_table_cell(a->t, s->row, a->col_method));
        html_el(b, "td", hparams(p, s));
        html_el(b, "td", agg_table_cell(a->t, s->row, a->col_metric));
        interval_tds(b, s, pm);
        strbuf_printf(b, "<td>%d/%zu%s%s</td>", s->n_ok, s->nrows,
                      s->n_diverged ? " (diverged)" : "", s->n_failed ? " (failed)" : "");
        mean_td(b, s, tp, "%.3f", 1.0);
        mean_td(b, s, tps, "%.0f", 1.0);
        mean_td(b, s, mem, "%.1f", 1.0 / 1048576.0);
        strbuf_str(b, "</tr>\n");
    }
    strbuf_str(b, "</tbody></table>\n");
}

/* ---- trials ------------------------------------------------------------------------------ */

/* The message of a trial that is not ok (a diverged one names its step). */
static void message(struct strbuf *b, const struct page *p, size_t r)
{
    const char *st = agg_table_cell(p->t, r, p->a->col_status), *step = col(p, r, "diverged_step");
    if (strcmp(st, "diverged") == 0 && step[0]) {
        html_escf(b, "non-finite loss at step %.30s", step);
        strbuf_str(b, col(p, r, "message")[0] ? "; " : "");
    }
    html_esc(b, col(p, r, "message"));
}

static void trial_link(struct strbuf *b, const char *id)
{
    strbuf_str(b, "<td><a href=\"trials/");
    html_url(b, id);
    strbuf_str(b, ".json\"><code>");
    html_esc(b, id);
    strbuf_str(b, "</code></a></td>");
}

static void problems(struct strbuf *b, const struct page *p)
{
    strbuf_str(b, "<h2 id=\"problems\">Failed and diverged trials</h2>\n");
    size_t n = 0;
    for (size_t r = 0; r < p->t->nrows; r++) {
        const char *st = agg_table_cell(p->t, r, p->a->col_status);
        if (strcmp(st, "ok") == 0)
            continue;
        if (n++ == 0)
            strbuf_str(b, "<table><thead><tr><th>trial</th><th>status</th><th>task</th>"
                          "<th>method</th><th>seed</th><th>message</th></tr></thead><tbody>\n");
        strbuf_str(b, "<tr>");
        trial_link(b, col(p, r, "trial_id"));
        html_el(b, "td class=\"bad\"", st);
        html_el(b, "td", col(p, r, "task"));
        html_el(b, "td", p->a->s[p->setting_of[r]].label);
        html_el(b, "td", col(p, r, "seed"));
        strbuf_str(b, "<td>");
        message(b, p, r);
        strbuf_str(b, "</td></tr>\n");
    }
    strbuf_str(b, n ? "</tbody></table>\n<p>Failed trials are run again by the next "
                      "<code>peftbench run</code>; diverged trials are final.</p>\n"
                    : "<p>None: every trial is ok.</p>\n");
}

static const char trials_head[] =
    "<div class=\"controls\"><label>Filter <input id=\"filter\" type=\"search\" "
    "placeholder=\"text in any column\"></label> <label>Status <select id=\"status\">"
    "<option value=\"\">any</option><option>ok</option><option>diverged</option>"
    "<option>failed</option></select></label> <span id=\"shown\"></span></div>\n"
    "<table class=\"sortable\" id=\"trials\"><thead><tr><th data-k=\"id\">trial</th>"
    "<th data-k=\"status\">status</th><th data-k=\"task\">task</th>"
    "<th data-k=\"method\">method</th><th data-k=\"hparams\">hyperparameters</th>"
    "<th data-k=\"seed\" data-num>seed</th><th data-k=\"metric\">metric</th>"
    "<th data-k=\"value\" data-num>value</th><th data-k=\"params\" data-num>trainable params</th>"
    "<th data-k=\"trainable_pct\" data-num>trainable %</th>"
    "<th data-k=\"mem\" data-num>peak memory MiB</th>"
    "<th data-k=\"tps\" data-num>train tokens/s</th><th data-k=\"message\">message</th>"
    "</tr></thead><tbody>\n";

static void trials(struct strbuf *b, const struct page *p)
{
    strbuf_str(b, "<h2 id=\"trials-h\">Trials</h2>\n<p>One row per trial; the id links to its "
                  "record (per-epoch curves, environment). Click a header to sort.</p>\n");
    strbuf_str(b, trials_head);
    for (size_t r = 0; r < p->t->nrows; r++) {
        const char *st = agg_table_cell(p->t, r, p->a->col_status);
        const char *cls = strcmp(st, "ok") == 0 ? "ok" : strcmp(st, "diverged") == 0 ? "diverged"
                                                                                      : "failed";
        strbuf_printf(b, "<tr class=\"%s\" data-status=\"%s\">", cls, cls);
        trial_link(b, col(p, r, "trial_id"));
        html_el(b, "td", st);
        html_el(b, "td", col(p, r, "task"));
        html_el(b, "td", col(p, r, "method"));
        html_el(b, "td", hparams(p, &p->a->s[p->setting_of[r]]));
        html_el(b, "td class=\"n\"", col(p, r, "seed"));
        html_el(b, "td", col(p, r, "primary_metric"));
        num_td(b, num(p, r, "primary_value"), "%.4f");
        num_td(b, num(p, r, "params_trainable"), "%.0f");
        num_td(b, num(p, r, "trainable_pct"), "%.3f");
        num_td(b, num(p, r, "mem_peak_total") / 1048576.0, "%.1f");
        num_td(b, num(p, r, "train_tokens_per_s"), "%.0f");
        strbuf_str(b, "<td>");
        message(b, p, r);
        strbuf_str(b, "</td></tr>\n");
    }
    strbuf_str(b, "</tbody></table>\n");
}

/* ---- figures ----------------------------------------------------------------------------- */

static void figure(struct strbuf *b, const struct page *p, const char *name, const char *title)
{
    char path[RH_PATH];
    struct err e;
    snprintf(path, sizeof path, "%s/plots/%s.svg", p->dir, name);
    strbuf_str(b, "<figure class=\"fig\">\n");
    if (strchr(name, '/') || html_svg(b, path, &e)) {
        strbuf_str(b, "<p class=\"muted\">Not inlined: ");
        html_esc(b, strchr(name, '/') ? "a figure name with '/'" : e.msg);
        strbuf_str(b, "</p>\n");
    }
    html_el(b, "figcaption", title);
    strbuf_str(b, "\n</figure>\n");
}

static void figures(struct strbuf *b, const struct page *p)
{
    char path[RH_PATH];
    snprintf(path, sizeof path, "%s/plots/figures.tsv", p->dir);
    strbuf_str(b, "<h2 id=\"figures\">Figures</h2>\n");
    FILE *f;
    struct err e;
    if (readfile_fopen(path, &f, &e)) {
        strbuf_str(b, "<p class=\"muted\">No figures yet: draw them with <code>peftbench plot "
                      "DIR</code>, then <code>peftbench report DIR</code>.</p>\n");
        return;
    }
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        figure(b, p, line, tab + 1);
        n++;
    }
    fclose(f);
    if (n == 0)
        strbuf_str(b, "<p class=\"muted\">No figures (no finished trials).</p>\n");
}

/* ---- the page ---------------------------------------------------------------------------- */

static void page_body(struct strbuf *b, const struct page *p)
{
    const char *name = col(p, 0, "sweep");
    char title[300];
    snprintf(title, sizeof title, "peftbench: %.250s", name[0] ? name : p->dir);
    html_begin(b, title, html_css);
    header(b, p);
    summary(b, p);
    problems(b, p);
    trials(b, p);
    figures(b, p);
    config(b, p);
    html_end(b, html_table_js);
}

int report_html_write(const char *dir, struct err *e)
{
    char path[RH_PATH];
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
    struct page p = {dir, &t, &a, calloc(t.nrows, sizeof(size_t))};
    struct strbuf b = {0};
    if (!p.setting_of) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < a.n; i++)
            for (size_t k = 0; k < a.s[i].nrows; k++)
                p.setting_of[a.s[i].rows[k]] = i;
        page_body(&b, &p);
        snprintf(path, sizeof path, "%s/report.html", dir);
        rc = html_save(&b, path, e);
    }
    strbuf_free(&b);
    free(p.setting_of);
    agg_free(&a);
    agg_table_free(&t);
    return rc;
}
