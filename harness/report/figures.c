/* figures: the default figure set and the figure list of a run (contract in figures.h). */
#include "harness/report/figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/plotcols.h"

/* ---- default figures -------------------------------------------------------------- */

static void ref_set(struct plot_ref *r, const char *name)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    r->where[0] = '\0';
}

static struct plot_spec *new_default(struct plot_spec *v, int *n, const char *output,
                                     enum plot_type type)
{
    struct plot_spec *sp = &v[(*n)++];
    plot_spec_init(sp);
    sp->builtin = true;
    sp->type = type;
    snprintf(sp->output, sizeof sp->output, "%s", output);
    snprintf(sp->where, sizeof sp->where, "default figure %s", output);
    return sp;
}

/* Column c takes more than one value within some method label. */
static bool swept(const struct agg *a, int c)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->varies[i * (size_t)a->t->ncols + (size_t)c])
            return true;
    return false;
}

/* Any setting with two of the columns members[0..m) non-empty (then one x cannot stand for all). */
static bool overlapping(const struct agg *a, const int *members, int m)
{
    for (size_t i = 0; i < a->n; i++) {
        int k = 0;
        for (int j = 0; j < m; j++)
            k += agg_table_cell(a->t, a->s[i].row, members[j])[0] != '\0';
        if (k > 1)
            return true;
    }
    return false;
}

/* hp-NAME for the swept columns members[0..m): x coalesces them, the series are the
 * methods they vary in, split further by every other column swept in those methods. */
static void hp_default(const struct agg *a, struct plot_spec *v, int *n, const int *members, int m,
                       const char *shown)
{
    const struct agg_table *t = a->t;
    size_t nc = (size_t)t->ncols;
    char raw[PLOT_TEXT_MAX], out[PLOT_NAME_MAX];
    snprintf(raw, sizeof raw, "hp-%s", shown);
    plots_sanitize(out, sizeof out, raw);
    struct plot_spec *sp = new_default(v, n, out, PLOT_LINE);
    size_t o = 0;
    for (int j = 0; j < m && o < sizeof sp->x.name; j++)
        o += (size_t)snprintf(sp->x.name + o, sizeof sp->x.name - o, "%s%s", j ? "|" : "",
                              t->cols[members[j]]);
    snprintf(sp->xlabel, sizeof sp->xlabel, "%s", shown);
    ref_set(&sp->y[0], "primary_value");
    sp->ny = 1;
    /* only the methods in which a member varies: elsewhere the value is a constant */
    struct plot_filter *f = &sp->filter[0];
    ref_set(&f->col, "method");
    bool other[4096] = {false};
    for (size_t i = 0; i < a->n; i++) {
        bool in = false;
        for (int j = 0; j < m && !in; j++)
            in = a->varies[i * nc + (size_t)members[j]];
        if (!in)
            continue;
        const char *meth = agg_table_cell(t, a->s[i].row, a->col_method);
        bool seen = false;
        for (int k = 0; k < f->nvalues && !seen; k++)
            seen = strcmp(f->values[k], meth) == 0;
        if (!seen && f->nvalues < PLOT_MAX_LIST)
            snprintf(f->values[f->nvalues++], sizeof f->values[0], "%s", meth);
        for (size_t c = 0; c < nc && c < 4096; c++)
            other[c] |= a->varies[i * nc + c];
    }
    sp->nfilter = 1;
    sp->group_given = true;
    ref_set(&sp->group_by[sp->ngroup++], "method");
    for (int k = 0; k < a->nkeys && sp->ngroup < PLOT_MAX_LIST; k++) {
        int c = a->keys[k];
        bool member = false;
        for (int j = 0; j < m; j++)
            member |= members[j] == c;
        if (!member && c < 4096 && other[c] && c != a->col_task && c != a->col_method)
            ref_set(&sp->group_by[sp->ngroup++], t->cols[c]);
    }
}

/* The default figures (plots.h) that a's columns allow, into *out (owned) and *nout. */
static int default_specs(const struct agg *a, struct plot_spec **out, int *nout, struct err *e)
{
    const struct agg_table *t = a->t;
    struct plot_spec *v = calloc((size_t)t->ncols + 8, sizeof *v);
    int *members = calloc((size_t)t->ncols + 1, sizeof *members);
    bool *done = calloc((size_t)t->ncols + 1, sizeof *done);
    int n = 0;
    if (!v || !members || !done) {
        free(v);
        free(members);
        free(done);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    if (agg_measure_index(a, "params_trainable") >= 0 &&
        agg_measure_index(a, "primary_value") >= 0) {
        struct plot_spec *sp = new_default(v, &n, "params", PLOT_LINE);
        ref_set(&sp->x, "params_trainable");
        ref_set(&sp->y[0], "primary_value");
        sp->ny = 1;
        sp->logx = 1;
        snprintf(sp->xlabel, sizeof sp->xlabel, "trainable parameters (method + task head)");
    }
    for (int k = 0; k < a->nkeys && agg_measure_index(a, "primary_value") >= 0; k++) {
        int c = a->keys[k];
        if (done[c] || !agg_is_hparam_col(t->cols[c]) || !swept(a, c))
            continue;
        const char *sfx = plotcols_suffix(t->cols[c]);
        int m = 0;
        for (int j = k; j < a->nkeys; j++) {
            int d = a->keys[j];
            if (!done[d] && agg_is_hparam_col(t->cols[d]) &&
                strcmp(plotcols_suffix(t->cols[d]), sfx) == 0 && swept(a, d))
                members[m++] = d;
        }
        if (m > 1 && overlapping(a, members, m)) {
            for (int j = 0; j < m; j++) {
                hp_default(a, v, &n, &members[j], 1, t->cols[members[j]]);
                done[members[j]] = true;
            }
            continue;
        }
        hp_default(a, v, &n, members, m, sfx);
        for (int j = 0; j < m; j++)
            done[members[j]] = true;
    }
    if (agg_measure_index(a, "train_tokens_per_s") >= 0) {
        struct plot_spec *sp = new_default(v, &n, "throughput", PLOT_BAR);
        ref_set(&sp->y[0], "train_tokens_per_s");
        sp->ny = 1;
        snprintf(sp->title, sizeof sp->title, "training throughput (real tokens/s)");
    }
    static const char *const cats[] = {"mem_frozen",    "mem_trainable",   "mem_grads",
                                       "mem_optimizer", "mem_activations", "mem_workspace"};
    struct plot_spec *mem = NULL;
    for (size_t k = 0; k < sizeof cats / sizeof *cats; k++) {
        if (agg_measure_index(a, cats[k]) < 0)
            continue;
        if (!mem) {
            mem = new_default(v, &n, "memory", PLOT_BAR);
            snprintf(mem->title, sizeof mem->title,
                     "peak memory by accountant category (per-category peaks, stacked)");
        }
        ref_set(&mem->y[mem->ny++], cats[k]);
    }
    if (agg_table_col(t, "trial_id") >= 0) {
        struct plot_spec *sp = new_default(v, &n, "curves", PLOT_CURVE);
        ref_set(&sp->y[0], "dev_primary");
        sp->ny = 1;
    }
    free(members);
    free(done);
    *out = v;
    *nout = n;
    return ERR_OK;
}

/* ---- the figure list ------------------------------------------------------------ */

/* Defaults, with the user's specs replacing same-named defaults or added after them. */
int figures_build(const struct agg *a, const struct plot_specs *user, struct plot_spec **out,
                  int *nout, struct err *e)
{
    struct plot_spec *def = NULL;
    int nd = 0;
    if (default_specs(a, &def, &nd, e))
        return e->code;
    int nu = user ? user->n : 0;
    struct plot_spec *v = calloc((size_t)(nd + nu) + 1, sizeof *v);
    if (!v) {
        free(def);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    memcpy(v, def, (size_t)nd * sizeof *v);
    int n = nd;
    for (int i = 0; i < nu; i++) {
        int at = -1;
        for (int j = 0; j < nd && at < 0; j++)
            if (strcmp(v[j].output, user->v[i].output) == 0)
                at = j;
        v[at >= 0 ? at : n++] = user->v[i];
    }
    free(def);
    *out = v;
    *nout = n;
    return ERR_OK;
}
