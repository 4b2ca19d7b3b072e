/* figtypes: writing a line/scatter, bar or curve figure's data and script (contract in
 * figtypes.h). */
#include "harness/report/figtypes.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/gnuplot.h"
#include "harness/report/strset.h"
#include "harness/report/textfmt.h"
#include "harness/sweep/results.h"

/* ---- shared by the types: units, axis labels, error bars, titles ---------------- */

static bool is_bytes(const char *col)
{
    return strncmp(col, "mem_", 4) == 0 || strcmp(col, "peak_rss") == 0;
}

/* Axis label of a measure column. */
static void measure_label(char *out, size_t n, const struct agg *a, const size_t *sel, size_t nsel,
                          const char *col)
{
    const char *metric = nsel ? agg_table_cell(a->t, a->s[sel[0]].row, a->col_metric) : "";
    for (size_t i = 1; i < nsel; i++)
        if (strcmp(metric, agg_table_cell(a->t, a->s[sel[i]].row, a->col_metric)) != 0)
            metric = "";
    if (strcmp(col, "primary_value") == 0 || strcmp(col, "dev_primary") == 0)
        snprintf(n ? out : out, n, "dev %s", metric[0] ? metric : "primary metric");
    else if (strcmp(col, "test_primary_value") == 0)
        snprintf(out, n, "test %s", metric[0] ? metric : "primary metric");
    else if (strcmp(col, "train_loss") == 0)
        snprintf(out, n, "training loss");
    else if (strcmp(col, "params_trainable") == 0)
        snprintf(out, n, "trainable parameters");
    else if (strcmp(col, "params_method") == 0)
        snprintf(out, n, "method parameters");
    else if (strcmp(col, "trainable_pct") == 0)
        snprintf(out, n, "trainable parameters (%% of the backbone)");
    else if (strcmp(col, "train_tokens_per_s") == 0)
        snprintf(out, n, "training throughput (tokens/s)");
    else if (strcmp(col, "eval_tokens_per_s") == 0)
        snprintf(out, n, "evaluation throughput (tokens/s)");
    else if (is_bytes(col))
        snprintf(out, n, "%s (MiB)", col);
    else
        snprintf(out, n, "%s", col);
}

/* Mean and error-bar ends of a stat under the spec's error mode.  A stat without a spread
 * (n == 1: sem and ci95 NaN, std 0) gets lo = hi = y: no bar; the point is ringed instead. */
static void stat_bars(const struct agg_stat *st, enum plot_errors mode, double scale, double *y,
                      double *lo, double *hi)
{
    *y = st->mean * scale;
    double d = 0.0;
    switch (mode) {
    case PLOT_ERRORS_STD:
        d = st->std;
        break;
    case PLOT_ERRORS_SEM:
        d = st->sem;
        break;
    case PLOT_ERRORS_CI95:
        d = st->ci95;
        break;
    case PLOT_ERRORS_MINMAX:
        *lo = st->min * scale;
        *hi = st->max * scale;
        return;
    case PLOT_ERRORS_NONE:
        break;
    }
    if (!isfinite(d) || st->n < 2)
        d = 0.0;
    *lo = (st->mean - d) * scale;
    *hi = (st->mean + d) * scale;
}

static const char *errors_caption(enum plot_errors m)
{
    static const char *const c[] = {
        "error bars: std over seeds",
        "error bars: standard error of the mean",
        "error bars: 95% CI of the mean (Student t)",
        "error bars: min-max over seeds",
        "no error bars",
    };
    return c[m];
}

/* " (n=3)" or " (n=1-3)": the seeds behind a series' points. */
static void n_suffix(char *out, size_t n, int lo, int hi)
{
    if (lo == hi)
        snprintf(out, n, " (n=%d)", lo);
    else
        snprintf(out, n, " (n=%d-%d)", lo, hi);
}

/* The majority-class accuracy of the selected settings' task, for a dashed reference line:
 * only when y is accuracy (the primary metric accuracy, or the accuracy column), the
 * selection is one task, and its trials record one majority_fraction.  NaN otherwise. */
static double majority_line(const struct agg *a, const size_t *sel, size_t nsel, const char *y)
{
    int col = agg_table_col(a->t, "majority_fraction");
    if (col < 0 || nsel == 0)
        return (double)NAN;
    double m = (double)NAN;
    for (size_t i = 0; i < nsel; i++) {
        const struct agg_setting *s = &a->s[sel[i]];
        const char *metric = agg_table_cell(a->t, s->row, a->col_metric);
        if (strcmp(y, "accuracy") != 0 &&
            !(strcmp(y, "primary_value") == 0 && strcmp(metric, "accuracy") == 0))
            return (double)NAN;
        if (strcmp(agg_table_cell(a->t, s->row, a->col_task),
                   agg_table_cell(a->t, a->s[sel[0]].row, a->col_task)) != 0)
            return (double)NAN;
        for (size_t r = 0; r < s->nrows; r++) {
            double v;
            if (!agg_parse_num(agg_table_cell(a->t, s->rows[r], col), &v))
                continue;
            if (isfinite(m) && fabs(v - m) > 1e-9)
                return (double)NAN; /* trials disagree (different dev subsets) */
            m = v;
        }
    }
    return m;
}

/* Before `plot`: a dashed line across the whole graph at the majority-class accuracy;
 * autoscaled y (range true) stretches to show it. */
static void majority_setup(struct strbuf *gp, double maj, bool range)
{
    if (!isfinite(maj))
        return;
    strbuf_printf(gp,
                  "set arrow 9 from graph 0, first %.9g to graph 1, first %.9g nohead dt 2 "
                  "lw 1.5 lc rgb '#555555' front\n",
                  maj, maj);
    if (range)
        strbuf_printf(gp, "set yrange [*<%.9g:%.9g<*]\n", maj, maj);
}

/* In the plot command: the line's key entry. */
static void draw_majority(struct strbuf *gp, double maj)
{
    if (isfinite(maj))
        strbuf_printf(gp,
                      ", \\\n     NaN with lines dt 2 lw 1.5 lc rgb '#555555' "
                      "title 'majority class (%.3f)'",
                      maj);
}

/* The caption under the key (right column, clear of the axis labels): the error-bar mode and
 * what n counts. */
static void caption(struct strbuf *gp, enum plot_errors m, const char *n_counts)
{
    strbuf_printf(gp, "set label 1 '%s' at screen 0.72, screen 0.07 font ',8'\n",
                  errors_caption(m));
    strbuf_printf(gp, "set label 2 '(n=K): %s' at screen 0.72, screen 0.04 font ',8'\n", n_counts);
}

/* The figure title: the spec's or the default, after the split part ("wn-pos: ..."). */
static void fig_title(char *out, size_t n, const char *lead, const char *given, const char *dflt)
{
    const char *t = given[0] ? given : dflt;
    text_fmt(out, n, "%s%s%s", lead, lead[0] ? ": " : "", t);
}

/* ---- line and scatter ------------------------------------------------------------ */

struct point {
    size_t s; /* setting */
    int series;
    double x; /* value, or category index */
    const char *xtext;
    double y, lo, hi;
    int n;
};

static int cmp_point(const void *p, const void *q)
{
    const struct point *u = p, *v = q;
    if (u->series != v->series)
        return u->series - v->series;
    if (u->x != v->x)
        return u->x < v->x ? -1 : 1;
    return u->s < v->s ? -1 : u->s > v->s;
}

/* The first key column where two settings differ (for the collision warning). */
static const char *first_difference(const struct agg *a, size_t s1, size_t s2)
{
    for (int k = 0; k < a->nkeys; k++)
        if (strcmp(agg_table_cell(a->t, a->s[s1].row, a->keys[k]),
                   agg_table_cell(a->t, a->s[s2].row, a->keys[k])) != 0)
            return a->t->cols[a->keys[k]];
    return "(nothing)";
}

static bool all_pow2(const struct point *pt, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double l = log2(pt[i].x);
        if (pt[i].x < 1 || fabs(l - round(l)) > 1e-9)
            return false;
    }
    return true;
}

/* A log y axis over the points' error-bar ends that are > 0. */
static void log_y(struct strbuf *gp, const struct point *pt, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const double v[3] = {pt[i].y, pt[i].lo, pt[i].hi};
        for (int k = 0; k < 3; k++)
            if (v[k] > 0)
                lo = fmin(lo, v[k]), hi = fmax(hi, v[k]);
    }
    gnuplot_log_axis(gp, "y", lo, hi, 10);
}

int figtypes_write_line(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                        const size_t *sel, size_t nsel, const char *name, const char *lead,
                        struct err *e)
{
    const struct agg *a = fx->a;
    const struct plotcol *y = &rv->y[0];
    double scale = is_bytes(y->name) ? 1.0 / 1048576.0 : 1.0;
    struct point *pt = calloc(nsel ? nsel : 1, sizeof *pt);
    struct strset series = {0}, cats = {0};
    struct strbuf dat = {0}, gp = {0};
    int rc = ERR_OK;
    if (!pt)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    bool numeric = true;
    size_t np = 0;
    for (size_t i = 0; i < nsel; i++) {
        const struct agg_setting *s = &a->s[sel[i]];
        const struct agg_stat *st = &s->stats[y->measure];
        struct point *p = &pt[np];
        p->s = sel[i];
        if (rv->x.measure >= 0) {
            p->x = s->stats[rv->x.measure].mean;
            if (!isfinite(p->x))
                continue;
            p->xtext = "";
        } else {
            p->xtext = plotcols_value(a, s, &rv->x);
            if (!p->xtext[0])
                continue;
            numeric &= agg_parse_num(p->xtext, &p->x);
        }
        if (st->n == 0)
            continue;
        char g[512];
        plotcols_values_text(g, sizeof g, a, s, rv->group, rv->ngroup);
        p->series = strset_add(&series, rv->ngroup ? g : y->name);
        stat_bars(st, sp->errors, scale, &p->y, &p->lo, &p->hi);
        p->n = st->n;
        np++;
    }
    if (!numeric)
        for (size_t i = 0; i < np; i++)
            pt[i].x = strset_add(&cats, pt[i].xtext);
    if (series.oom || cats.oom) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (np == 0) {
        figctx_warn(fx, "figure %s: no setting has both %s and %s; skipped", name, rv->x.name,
                    y->name);
        goto out;
    }
    qsort(pt, np, sizeof *pt, cmp_point);
    for (size_t i = 1; i < np && !sp->builtin; i++)
        if (pt[i].series == pt[i - 1].series && pt[i].x == pt[i - 1].x) {
            figctx_warn(fx,
                        "figure %s: settings '%s' and '%s' fall on one point of series '%s'; they "
                        "differ in %s: add it to group_by or filter",
                        name, a->s[pt[i - 1].s].label, a->s[pt[i].s].label, series.v[pt[i].series],
                        first_difference(a, pt[i - 1].s, pt[i].s));
            break;
        }
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < np; i++)
        xmin = fmin(xmin, pt[i].x), xmax = fmax(xmax, pt[i].x);
    int logx = sp->logx;
    if (!numeric && logx == 1)
        figctx_warn(fx, "figure %s: logx ignored: %s is categorical", name, rv->x.name);
    if (!numeric)
        logx = 0;
    else if (logx < 0) /* wide ranges, and doubling sweeps (rank 2, 4, 8): log axes */
        logx = xmin > 0 && (xmax / xmin >= 16.0 || (all_pow2(pt, np) && xmax / xmin >= 4.0));
    if (logx && !(xmin > 0)) {
        figctx_warn(fx, "figure %s: logx ignored: %s has values <= 0", name, rv->x.name);
        logx = 0;
    }

    /* xname/yname: what the axes show, for the default title; xl/yl: the axis labels */
    char xname[PLOT_TEXT_MAX], yname[PLOT_TEXT_MAX], xl[PLOT_TEXT_MAX], yl[PLOT_TEXT_MAX];
    char title[PLOT_TEXT_MAX * 2];
    if (rv->x.measure >= 0)
        measure_label(xname, sizeof xname, a, sel, nsel, rv->x.name);
    else
        snprintf(xname, sizeof xname, "%s", sp->xlabel[0] ? sp->xlabel : rv->x.name);
    measure_label(yname, sizeof yname, a, sel, nsel, y->name);
    snprintf(xl, sizeof xl, "%s", sp->xlabel[0] ? sp->xlabel : xname);
    snprintf(yl, sizeof yl, "%s", sp->ylabel[0] ? sp->ylabel : yname);
    char dflt[PLOT_TEXT_MAX * 2];
    text_fmt(dflt, sizeof dflt, "%s vs %s", yname, xname);
    fig_title(title, sizeof title, lead, sp->title, dflt);

    strbuf_printf(&dat,
                   "# peftbench figure %s: %s\n"
                   "# y = %s, mean over seeds (%s); x = %s%s\n"
                   "# columns: x y_mean y_low y_high n x_text setting\n"
                   "# one block per series (gnuplot index), separated by two blank lines\n",
                   name, title, y->name, errors_caption(sp->errors), rv->x.name,
                   numeric ? "" : " (category index; x_text is the value)");
    int cur = -1;
    for (size_t i = 0; i < np; i++) {
        const struct point *p = &pt[i];
        if (p->series != cur) {
            strbuf_printf(&dat, "%s# series %d: %s\n", cur >= 0 ? "\n\n" : "", p->series,
                           series.v[p->series]);
            cur = p->series;
        }
        strbuf_printf(&dat, "%.9g %.9g %.9g %.9g %d ", p->x, p->y, p->lo, p->hi, p->n);
        gnuplot_dat_str(&dat, numeric ? (p->xtext[0] ? p->xtext : "") : cats.v[(int)p->x]);
        strbuf_str(&dat, " ");
        gnuplot_dat_str(&dat, a->s[p->s].label);
        strbuf_str(&dat, "\n");
    }

    gnuplot_script_begin(&gp, name, title);
    gnuplot_label(&gp, "x", xl);
    gnuplot_label(&gp, "y", yl);
    if (logx)
        gnuplot_log_axis(&gp, "x", xmin, xmax, all_pow2(pt, np) ? 2 : 10);
    if (sp->logy == 1)
        log_y(&gp, pt, np);
    if (!numeric) {
        strbuf_str(&gp, "set xtics (");
        for (int c = 0; c < cats.n; c++) {
            strbuf_str(&gp, c ? ", " : "");
            gnuplot_str(&gp, cats.v[c]);
            strbuf_printf(&gp, " %d", c);
        }
        strbuf_printf(&gp, ") rotate by -30\nset xrange [-0.5:%d.5]\n", cats.n - 1);
    } else {
        strbuf_str(&gp, "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n");
    }
    caption(&gp, sp->errors, "seeds per point; ringed: n = 1");
    double maj = majority_line(a, sel, nsel, y->name);
    majority_setup(&gp, maj, sp->logy != 1);
    bool bars = sp->errors != PLOT_ERRORS_NONE;
    const char *with = sp->type == PLOT_SCATTER ? (bars ? "yerrorbars" : "points")
                                                : (bars ? "yerrorlines" : "linespoints");
    strbuf_str(&gp, "plot ");
    bool single = false;
    for (int k = 0; k < series.n; k++) {
        int nlo = 1 << 30, nhi = 0;
        for (size_t i = 0; i < np; i++)
            if (pt[i].series == k)
                nlo = pt[i].n < nlo ? pt[i].n : nlo, nhi = pt[i].n > nhi ? pt[i].n : nhi;
        single |= nlo == 1;
        char t[700], ns[48];
        n_suffix(ns, sizeof ns, nlo, nhi);
        snprintf(t, sizeof t, "%s%s", series.v[k], ns);
        strbuf_printf(&gp, "%s'%s.dat' index %d using 1:2%s with %s lw 1.5 ps 0.9 title ",
                       k ? ", \\\n     " : "", name, k, bars ? ":3:4" : "", with);
        gnuplot_str(&gp, t);
    }
    if (single) /* one seed: no spread to show, so the point is ringed, not given a bar */
        strbuf_printf(&gp,
                      ", \\\n     '%s.dat' using 1:($5 == 1 ? $2 : 1/0) with points pt 6 ps 2.2 "
                      "lw 1.5 lc rgb '#000000' title 'n = 1 seed (no error bar)'",
                      name);
    draw_majority(&gp, maj);
    strbuf_str(&gp, "\n");
    gnuplot_script_end(&gp, name);
    rc = figctx_write(fx, name, title, &dat, &gp, e);
out:
    free(pt);
    strset_free(&series);
    strset_free(&cats);
    strbuf_free(&dat);
    strbuf_free(&gp);
    return rc;
}

/* ---- bars ---------------------------------------------------------------------- */

static bool all_memory(const struct plotcols *rv)
{
    for (int k = 0; k < rv->ny; k++)
        if (strncmp(rv->y[k].name, "mem_", 4) != 0)
            return false;
    return true;
}

int figtypes_write_bar(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                       const size_t *sel, size_t nsel, const char *name, const char *lead,
                       struct err *e)
{
    const struct agg *a = fx->a;
    bool bytes = true;
    for (int k = 0; k < rv->ny; k++)
        bytes &= is_bytes(rv->y[k].name);
    double scale = bytes ? 1.0 / 1048576.0 : 1.0;
    bool stacked = rv->ny > 1;
    /* the accountant's simultaneous peak, drawn over stacked per-category peaks */
    int peak = stacked && all_memory(rv) ? agg_measure_index(a, "mem_peak_total") : -1;
    for (int k = 0; k < rv->ny; k++)
        if (rv->y[k].measure == peak)
            peak = -1;
    bool tasks_differ = false;
    for (size_t i = 1; i < nsel; i++)
        tasks_differ |= strcmp(agg_table_cell(a->t, a->s[sel[i]].row, a->col_task),
                               agg_table_cell(a->t, a->s[sel[0]].row, a->col_task)) != 0;
    char yl[PLOT_TEXT_MAX], title[PLOT_TEXT_MAX * 2];
    if (sp->ylabel[0])
        snprintf(yl, sizeof yl, "%s", sp->ylabel);
    else if (stacked && bytes)
        snprintf(yl, sizeof yl, "peak memory (MiB)");
    else
        measure_label(yl, sizeof yl, a, sel, nsel, rv->y[0].name);
    fig_title(title, sizeof title, lead, sp->title, yl);

    struct strbuf dat = {0}, gp = {0};
    strbuf_printf(&dat, "# peftbench figure %s: %s\n# one row per setting, mean over seeds%s\n",
                   name, title, stacked ? "" : " with error-bar ends");
    strbuf_str(&dat, "# columns: setting");
    for (int k = 0; k < rv->ny; k++)
        strbuf_printf(&dat, stacked ? " %s" : " %s_mean %s_low %s_high", rv->y[k].name,
                       rv->y[k].name, rv->y[k].name);
    strbuf_printf(&dat, "%s n%s\n", peak >= 0 ? " mem_peak_total" : "",
                   bytes ? " (bytes shown in MiB)" : "");
    int nbars = 0;
    double ytop = 0.0; /* highest bar, stack or error-bar end: gnuplot's autoscale misses them */
    double ybot = INFINITY; /* lowest positive one, for a log axis */
    for (size_t i = 0; i < nsel; i++) {
        const struct agg_setting *s = &a->s[sel[i]];
        if (s->stats[rv->y[0].measure].n == 0)
            continue;
        double stack = 0.0;
        char label[600];
        snprintf(label, sizeof label, "%s%s%s (n=%d)", s->label, tasks_differ ? " / " : "",
                 tasks_differ ? agg_table_cell(a->t, s->row, a->col_task) : "",
                 s->stats[rv->y[0].measure].n);
        gnuplot_dat_str(&dat, label);
        for (int k = 0; k < rv->ny; k++) {
            double y, lo, hi;
            stat_bars(&s->stats[rv->y[k].measure], sp->errors, scale, &y, &lo, &hi);
            if (!isfinite(y))
                y = lo = hi = 0.0; /* an absent category stacks as nothing */
            stack += y;
            ytop = fmax(ytop, stacked ? stack : fmax(y, hi));
            if ((stacked ? stack : fmin(y, lo)) > 0)
                ybot = fmin(ybot, stacked ? stack : fmin(y, lo));
            if (stacked)
                strbuf_printf(&dat, " %.9g", y);
            else
                strbuf_printf(&dat, " %.9g %.9g %.9g", y, lo, hi);
        }
        if (peak >= 0) {
            strbuf_printf(&dat, " %.9g", s->stats[peak].mean * scale);
            ytop = fmax(ytop, s->stats[peak].mean * scale);
        }
        strbuf_printf(&dat, " %d\n", s->n_ok);
        nbars++;
    }
    int rc = ERR_OK;
    if (nbars == 0) {
        figctx_warn(fx, "figure %s: no setting has %s; skipped", name, rv->y[0].name);
        goto out;
    }
    gnuplot_script_begin(&gp, name, title);
    gnuplot_label(&gp, "y", yl);
    strbuf_str(&gp, "set style data histograms\n");
    bool bars = !stacked && sp->errors != PLOT_ERRORS_NONE;
    if (stacked)
        strbuf_str(&gp, "set style histogram rowstacked\n");
    else if (bars)
        strbuf_str(&gp, "set style histogram errorbars gap 1 lw 1\n");
    else
        strbuf_str(&gp, "set style histogram clustered gap 1\n");
    strbuf_str(&gp, "set style fill solid 0.7 border -1\nset boxwidth 0.75\n"
                     "set xtics rotate by -35 scale 0\nset grid noxtics\n");
    double maj = stacked ? (double)NAN : majority_line(a, sel, nsel, rv->y[0].name);
    if (isfinite(maj))
        ytop = fmax(ytop, maj);
    if (sp->logy == 1)
        gnuplot_log_axis(&gp, "y", ybot, ytop, 10);
    else if (ytop > 0 && isfinite(ytop))
        strbuf_printf(&gp, "set yrange [0:%.6g]\n", ytop * 1.08);
    else
        strbuf_str(&gp, "set yrange [0:*]\n");
    if (bars)
        caption(&gp, sp->errors, "seeds per bar; n = 1 has no error bar");
    majority_setup(&gp, maj, false);
    if (!stacked)
        strbuf_str(&gp, "set key off\n");
    strbuf_str(&gp, "plot ");
    for (int k = 0; k < rv->ny; k++) {
        int c = 2 + (stacked ? k : 3 * k);
        strbuf_printf(&gp, "%s'%s.dat' using %d", k ? ", \\\n     " : "", name, c);
        if (bars)
            strbuf_printf(&gp, ":%d:%d", c + 1, c + 2);
        strbuf_str(&gp, k == 0 ? ":xtic(1) title " : " title ");
        const char *yn = rv->y[k].name;
        gnuplot_str(&gp, strncmp(yn, "mem_", 4) == 0 && stacked ? yn + 4 : yn);
    }
    if (peak >= 0)
        strbuf_printf(&gp,
                       ", \\\n     '%s.dat' using 0:%d with points pt 7 ps 1.2 lc "
                       "'black' title 'accountant peak (simultaneous)'",
                       name, 2 + rv->ny);
    draw_majority(&gp, maj);
    strbuf_str(&gp, "\n");
    gnuplot_script_end(&gp, name);
    rc = figctx_write(fx, name, title, &dat, &gp, e);
out:
    strbuf_free(&dat);
    strbuf_free(&gp);
    return rc;
}

/* ---- training curves ------------------------------------------------------------- */

#define MAX_EPOCHS 100000

/* Per-epoch values of one setting's ok trials: vals[r * maxe + (epoch-1)], NaN if absent. */
static int curve_values(struct figctx *fx, const struct agg_setting *s, const char *key,
                        double **vals, size_t *nr, int *maxe, struct err *e)
{
    const struct agg *a = fx->a;
    int col_id = agg_table_col(a->t, "trial_id");
    cJSON **recs = calloc(s->nrows + 1, sizeof *recs);
    *vals = NULL;
    *nr = 0;
    *maxe = 0;
    if (!recs)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->nrows; i++) {
        if (strcmp(agg_table_cell(a->t, s->rows[i], a->col_status), "ok") != 0)
            continue;
        const char *id = agg_table_cell(a->t, s->rows[i], col_id);
        struct err te;
        cJSON *r = strspn(id, "0123456789abcdef") == strlen(id) && id[0]
                       ? results_read_trial(fx->dir, id, &te)
                       : NULL;
        if (!r) {
            figctx_warn(
                fx, "no readable trials/%s.json for the training curves; that trial is left out",
                id);
            continue;
        }
        const cJSON *ep;
        cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(r, "epochs"))
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(ep, "epoch");
            if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= MAX_EPOCHS)
                *maxe = (int)fmax(*maxe, n->valuedouble);
        }
        recs[(*nr)++] = r;
    }
    int rc = ERR_OK;
    if (*nr && *maxe) {
        *vals = malloc(*nr * (size_t)*maxe * sizeof **vals);
        if (!*vals)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        for (size_t r = 0; rc == ERR_OK && r < *nr; r++) {
            for (int k = 0; k < *maxe; k++)
                (*vals)[r * (size_t)*maxe + (size_t)k] = (double)NAN;
            const cJSON *ep;
            cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(recs[r], "epochs"))
            {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(ep, "epoch");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(ep, key);
                if (cJSON_IsNumber(n) && cJSON_IsNumber(v) && n->valuedouble >= 1 &&
                    n->valuedouble <= *maxe)
                    (*vals)[r * (size_t)*maxe + (size_t)n->valuedouble - 1] = v->valuedouble;
            }
        }
    }
    for (size_t r = 0; r < *nr; r++)
        cJSON_Delete(recs[r]);
    free(recs);
    return rc;
}

/* The fewest (lowest) or most trials with a value at any epoch of vals (nr x maxe). */
static int curve_n(const double *vals, size_t nr, int maxe, bool lowest)
{
    int best = lowest ? 1 << 30 : 0;
    for (int ep = 0; ep < maxe; ep++) {
        int k = 0;
        for (size_t r = 0; r < nr; r++)
            k += isfinite(vals[r * (size_t)maxe + (size_t)ep]);
        if (k > 0)
            best = lowest ? (k < best ? k : best) : (k > best ? k : best);
    }
    return best == 1 << 30 ? 0 : best;
}

int figtypes_write_curve(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                         const size_t *sel, size_t nsel, const char *name, const char *lead,
                         struct err *e)
{
    const struct agg *a = fx->a;
    const char *key = sp->y[0].name; /* dev_primary | train_loss */
    int pm = agg_measure_index(a, "primary_value");
    struct strset series = {0};
    size_t *best = calloc(nsel + 1, sizeof *best);
    int *nin = calloc(nsel + 1, sizeof *nin);
    struct strbuf dat = {0}, gp = {0};
    int rc = ERR_OK;
    if (!best || !nin) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* best setting of each series: the highest mean dev primary metric */
    for (size_t i = 0; i < nsel; i++) {
        char g[512];
        plotcols_values_text(g, sizeof g, a, &a->s[sel[i]], rv->group, rv->ngroup);
        int k = strset_add(&series, rv->ngroup ? g : key);
        if (series.oom) {
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        double m = pm >= 0 ? a->s[sel[i]].stats[pm].mean : (double)NAN;
        double b = nin[k] && pm >= 0 ? a->s[best[k]].stats[pm].mean : (double)NAN;
        if (nin[k]++ == 0 || (isfinite(m) && !(b >= m)))
            best[k] = sel[i];
    }
    char yl[PLOT_TEXT_MAX], title[PLOT_TEXT_MAX * 2];
    if (sp->ylabel[0])
        snprintf(yl, sizeof yl, "%s", sp->ylabel);
    else
        measure_label(yl, sizeof yl, a, sel, nsel, key);
    char dflt[PLOT_TEXT_MAX * 2];
    snprintf(dflt, sizeof dflt, "%s per epoch (best setting of each series)", yl);
    fig_title(title, sizeof title, lead, sp->title, dflt);
    strbuf_printf(&dat,
                   "# peftbench figure %s: %s\n"
                   "# %s per epoch from trials/*.json, mean over seeds (%s)\n"
                   "# columns: epoch mean low high n\n"
                   "# one block per series (gnuplot index), separated by two blank lines\n",
                   name, title, key, errors_caption(sp->errors));
    int nblocks = 0, maxall = 0;
    bool single = false; /* some epoch's mean comes from one trial */
    struct strset titles = {0};
    for (int k = 0; k < series.n && rc == ERR_OK; k++) {
        double *vals = NULL;
        size_t nr = 0;
        int maxe = 0;
        rc = curve_values(fx, &a->s[best[k]], key, &vals, &nr, &maxe, e);
        if (rc || !nr || !maxe) {
            free(vals);
            continue;
        }
        char t[700], ns[48];
        n_suffix(ns, sizeof ns, curve_n(vals, nr, maxe, true), curve_n(vals, nr, maxe, false));
        if (nin[k] > 1)
            snprintf(t, sizeof t, "%s (best: %s)%s", series.v[k], a->s[best[k]].label, ns);
        else
            snprintf(t, sizeof t, "%s%s", series.v[k], ns);
        strset_add(&titles, t);
        strbuf_printf(&dat, "%s# series %d: %s\n", nblocks ? "\n\n" : "", nblocks, t);
        single |= curve_n(vals, nr, maxe, true) == 1;
        double *col = malloc(nr * sizeof *col);
        for (int ep = 0; col && ep < maxe; ep++) {
            for (size_t r = 0; r < nr; r++)
                col[r] = vals[r * (size_t)maxe + (size_t)ep];
            struct agg_stat st;
            agg_stat_compute(&st, col, nr);
            if (st.n == 0)
                continue;
            double y, lo, hi;
            stat_bars(&st, sp->errors, 1.0, &y, &lo, &hi);
            strbuf_printf(&dat, "%d %.9g %.9g %.9g %d\n", ep + 1, y, lo, hi, st.n);
        }
        if (!col)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        free(col);
        free(vals);
        maxall = maxe > maxall ? maxe : maxall;
        nblocks++;
    }
    if (rc == ERR_OK && titles.oom)
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    if (rc == ERR_OK && nblocks == 0)
        figctx_warn(fx, "figure %s: no per-epoch data in trials/*.json; skipped", name);
    if (rc == ERR_OK && nblocks > 0) {
        gnuplot_script_begin(&gp, name, title);
        gnuplot_label(&gp, "x", "epoch");
        gnuplot_label(&gp, "y", yl);
        if (maxall <= 20)
            strbuf_str(&gp, "set xtics 1\n");
        strbuf_str(&gp, "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n");
        if (sp->logy == 1)
            strbuf_str(&gp, "set logscale y 10\nset format y '%g'\n");
        caption(&gp, sp->errors, "trials per epoch; ringed: n = 1");
        double maj = strcmp(key, "dev_primary") == 0
                         ? majority_line(a, sel, nsel, "primary_value")
                         : (double)NAN;
        majority_setup(&gp, maj, sp->logy != 1);
        bool bars = sp->errors != PLOT_ERRORS_NONE;
        strbuf_str(&gp, "plot ");
        for (int k = 0; k < nblocks; k++) {
            strbuf_printf(&gp, "%s'%s.dat' index %d using 1:2%s with %s lw 1.5 ps 0.8 title ",
                           k ? ", \\\n     " : "", name, k, bars ? ":3:4" : "",
                           bars ? "yerrorlines" : "linespoints");
            gnuplot_str(&gp, titles.v[k]);
        }
        if (single)
            strbuf_printf(&gp,
                          ", \\\n     '%s.dat' using 1:($5 == 1 ? $2 : 1/0) with points pt 6 "
                          "ps 2.2 lw 1.5 lc rgb '#000000' title 'n = 1 (no error bar)'",
                          name);
        draw_majority(&gp, maj);
        strbuf_str(&gp, "\n");
        gnuplot_script_end(&gp, name);
        rc = figctx_write(fx, name, title, &dat, &gp, e);
    }
    strset_free(&titles);
out:
    free(best);
    free(nin);
    strset_free(&series);
    strbuf_free(&dat);
    strbuf_free(&gp);
    return rc;
}
