/* plotcols: a spec's columns resolved against the aggregated results (contract in plotcols.h). */
#include "harness/report/plotcols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"

const char *plotcols_suffix(const char *col)
{
    const char *dot = strchr(col, '.');
    return dot ? dot + 1 : col;
}

static int unknown_column(const struct agg *a, const struct plot_ref *r, const char *figure,
                          struct err *e)
{
    const struct agg_table *t = a->t;
    const char **cands = malloc(((size_t)t->ncols * 2 + 2) * sizeof *cands);
    const char *g = NULL;
    if (cands) {
        int n = 0;
        for (int c = 0; c < t->ncols; c++) {
            cands[n++] = t->cols[c];
            if (agg_is_hparam_col(t->cols[c]))
                cands[n++] = plotcols_suffix(t->cols[c]);
        }
        cands[n++] = "setting";
        g = hp_guess(r->name, cands, n);
    }
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg,
             "no column '%.60s' in %.200s%s%.60s%s (columns: the header of results.csv; a "
             "hyperparameter may be named without its method, e.g. rank)",
             r->name, t->path, g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
    free(cands);
    if (r->where[0])
        return ERR_SET(e, ERR_CONFIG, "%s: %s", r->where, msg);
    return ERR_SET(e, ERR_CONFIG, "figure %s: %s", figure, msg);
}

static int add_col(struct plotcol *cr, int c)
{
    for (int i = 0; i < cr->ncols; i++)
        if (cr->cols[i] == c)
            return 0;
    if (cr->ncols == PLOTCOLS_MAX_COALESCE)
        return -1;
    cr->cols[cr->ncols++] = c;
    return 0;
}

/* One name: "setting", an exact column, or a hyperparameter without its method. */
static int resolve_one(const struct agg *a, const char *name, struct plotcol *cr)
{
    const struct agg_table *t = a->t;
    if (strcmp(name, "setting") == 0) {
        cr->label = true;
        return 0;
    }
    int c = agg_table_col(t, name);
    if (c >= 0) {
        if (cr->ncols == 0)
            cr->measure = agg_measure_index(a, name);
        return add_col(cr, c);
    }
    int found = 0;
    for (c = 0; c < t->ncols; c++)
        if (agg_is_hparam_col(t->cols[c]) && strcmp(plotcols_suffix(t->cols[c]), name) == 0) {
            if (add_col(cr, c))
                return -1;
            found++;
        }
    return found ? 0 : 1;
}

/* Resolve r: a name, or names joined by '|' (coalesced: first non-empty cell). */
static int resolve(const struct agg *a, const struct plot_ref *r, const char *figure,
                   struct plotcol *cr, struct err *e)
{
    memset(cr, 0, sizeof *cr);
    cr->measure = -1;
    snprintf(cr->name, sizeof cr->name, "%s", r->name);
    static const char *const per_trial[] = {"seed", "trial_id", "index"};
    for (size_t i = 0; i < sizeof per_trial / sizeof *per_trial; i++)
        if (strcmp(r->name, per_trial[i]) == 0)
            return ERR_SET(e, ERR_CONFIG,
                           "%s%s: '%s' differs between the trials of one setting, and figures "
                           "aggregate over them; use a setting column (method, task, a "
                           "hyperparameter, ...)",
                           r->where[0] ? r->where : "figure ", r->where[0] ? "" : figure, r->name);
    char buf[PLOT_COL_MAX];
    snprintf(buf, sizeof buf, "%s", r->name);
    char *save = NULL;
    int parts = 0;
    for (char *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        struct plot_ref one = *r;
        snprintf(one.name, sizeof one.name, "%s", tok);
        int k = resolve_one(a, tok, cr);
        if (k > 0)
            return unknown_column(a, &one, figure, e);
        if (k < 0)
            return ERR_SET(e, ERR_LIMIT, "%s: '%s' names more than %d columns", r->where, r->name,
                           PLOTCOLS_MAX_COALESCE);
        parts++;
    }
    if (parts == 0)
        return unknown_column(a, r, figure, e);
    if (cr->label && (cr->ncols > 0 || parts > 1))
        return ERR_SET(e, ERR_CONFIG, "%s: 'setting' cannot be combined with other columns",
                       r->where);
    if (parts > 1 || cr->ncols > 1)
        cr->measure = -1; /* a coalesced name is a key, never a measure */
    return ERR_OK;
}

/* The text of cr for setting s ("" when every candidate cell is empty). */
const char *plotcols_value(const struct agg *a, const struct agg_setting *s,
                           const struct plotcol *cr)
{
    if (cr->label)
        return s->label;
    for (int i = 0; i < cr->ncols; i++) {
        const char *v = agg_table_cell(a->t, s->row, cr->cols[i]);
        if (v[0])
            return v;
    }
    return "";
}

/* The first candidate column that is non-empty for s (for display names), or -1. */
static int ref_col(const struct agg *a, const struct agg_setting *s, const struct plotcol *cr)
{
    for (int i = 0; i < cr->ncols; i++)
        if (agg_table_cell(a->t, s->row, cr->cols[i])[0])
            return cr->cols[i];
    return cr->ncols ? cr->cols[0] : -1;
}

static bool values_equal(const char *x, const char *y)
{
    double u, v;
    if (strcmp(x, y) == 0)
        return true;
    return agg_parse_num(x, &u) && agg_parse_num(y, &v) && u == v;
}

/* "lora targets=q,v": the values of refs for s, each hyperparameter as name=value. */
void plotcols_values_text(char *out, size_t n, const struct agg *a, const struct agg_setting *s,
                          const struct plotcol *refs, int nrefs)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < nrefs && o < n; i++) {
        const char *v = plotcols_value(a, s, &refs[i]);
        int c = ref_col(a, s, &refs[i]);
        bool plain = refs[i].label || c < 0 || !agg_is_hparam_col(a->t->cols[c]);
        if (plain)
            o = str_appendf(out, n, o, "%s%s", o ? " " : "", v[0] ? v : "-");
        else
            o = str_appendf(out, n, o, "%s%s=%s", o ? " " : "", agg_short_name(a, s, c),
                                  v[0] ? v : "default");
    }
}

static bool names_task(const struct plot_ref *r, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(r[i].name, "task") == 0)
            return true;
    return false;
}

int plotcols_resolve(const struct agg *a, const struct plot_spec *sp, struct plotcols *rv,
                     struct err *e)
{
    memset(rv, 0, sizeof *rv);
    const char *fig = sp->output;
    if ((sp->type == PLOT_LINE || sp->type == PLOT_SCATTER) && resolve(a, &sp->x, fig, &rv->x, e))
        return e->code;
    rv->ny = sp->ny;
    for (int k = 0; k < sp->ny && sp->type != PLOT_CURVE; k++) {
        if (resolve(a, &sp->y[k], fig, &rv->y[k], e))
            return e->code;
        if (rv->y[k].measure < 0)
            return ERR_SET(e, ERR_CONFIG,
                           "%s%s: '%s' is not a numeric measure of results.csv (e.g. "
                           "primary_value, accuracy, params_trainable, train_tokens_per_s, "
                           "mem_peak_total)",
                           sp->y[k].where[0] ? sp->y[k].where : "figure ",
                           sp->y[k].where[0] ? "" : fig, sp->y[k].name);
    }
    if (sp->type == PLOT_CURVE)
        snprintf(rv->y[0].name, sizeof rv->y[0].name, "%s", sp->y[0].name);
    if (sp->group_given) {
        rv->ngroup = sp->ngroup;
        for (int k = 0; k < sp->ngroup; k++)
            if (resolve(a, &sp->group_by[k], fig, &rv->group[k], e))
                return e->code;
    } else if (sp->type != PLOT_BAR) {
        struct plot_ref m = {"method", ""};
        rv->ngroup = 1;
        resolve(a, &m, fig, &rv->group[0], e);
    }
    if (sp->split_given) {
        rv->nsplit = sp->nsplit;
        for (int k = 0; k < sp->nsplit; k++)
            if (resolve(a, &sp->split_by[k], fig, &rv->split[k], e))
                return e->code;
    } else if (strcmp(sp->x.name, "task") != 0 &&
               !(sp->group_given && names_task(sp->group_by, sp->ngroup))) {
        struct plot_ref t = {"task", ""};
        rv->nsplit = 1;
        resolve(a, &t, fig, &rv->split[0], e);
    }
    for (int k = 0; k < sp->nfilter; k++)
        if (resolve(a, &sp->filter[k].col, fig, &rv->filter[k], e))
            return e->code;
    return ERR_OK;
}

bool plotcols_passes(const struct agg *a, const struct agg_setting *s, const struct plot_spec *sp,
                     const struct plotcols *rv)
{
    for (int k = 0; k < sp->nfilter; k++) {
        const char *v = plotcols_value(a, s, &rv->filter[k]);
        bool any = false;
        for (int j = 0; j < sp->filter[k].nvalues && !any; j++)
            any = values_equal(v, sp->filter[k].values[j]);
        if (!any)
            return false;
    }
    return true;
}
