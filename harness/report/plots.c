#include "harness/report/plots.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/aggregate.h"
#include "base/schema.h"
#include "harness/sweep/results.h"
#include "base/strfmt.h"

extern char **environ;

#define MAX_COALESCE 16 /* columns one x/y/group name may stand for */
#define FIG_W        960
#define FIG_H        600

/* snprintf for text that may be cut at the buffer size on purpose (labels, titles). */
static void text_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* ---- spec parsing --------------------------------------------------------------- */

static const char *const spec_fields[] = {
    "output", "type", "x",      "y",     "group_by", "split_by", "filter",
    "logx",   "logy", "errors", "title", "xlabel",   "ylabel",   "enabled",
};
#define NFIELDS ((int)(sizeof spec_fields / sizeof *spec_fields))

static const char *const type_names[] = {"line", "scatter", "bar", "curve"};
static const char *const errors_names[] = {"std", "sem", "minmax", "none"};

#define WHERE(n)    ynode_where((n), (char[PLOT_WHERE_MAX]){0}, PLOT_WHERE_MAX)
#define DESCRIBE(n) ynode_describe((n), (char[96]){0}, 96)



/* "file:line:col: plots[i].field: message" */
static int sfail(struct err *e, const struct ynode *n, int idx, const char *field, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

static int sfail(struct err *e, const struct ynode *n, int idx, const char *field, const char *fmt,
                 ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ERR_SET(e, ERR_CONFIG, "%.200s: plots[%d]%s%s: %s", WHERE(n), idx, field ? "." : "",
                   field ? field : "", msg);
}

static int get_text(const struct ynode *v, int idx, const char *field, char *out, size_t n,
                    struct err *e)
{
    if (v->kind != YNODE_SCALAR || ynode_is_null(v))
        return sfail(e, v, idx, field, "expected a text value, found %s", DESCRIBE(v));
    if (v->len >= n)
        return sfail(e, v, idx, field, "longer than %zu characters", n - 1);
    memcpy(out, v->text, v->len + 1);
    return ERR_OK;
}

static int get_bool(const struct ynode *v, int idx, const char *field, bool *out, struct err *e)
{
    if (v->kind == YNODE_SCALAR && strcmp(v->text, "true") == 0)
        *out = true;
    else if (v->kind == YNODE_SCALAR && strcmp(v->text, "false") == 0)
        *out = false;
    else
        return sfail(e, v, idx, field, "expected true or false, found %s", DESCRIBE(v));
    return ERR_OK;
}

static int get_choice(const struct ynode *v, int idx, const char *field, const char *const *names,
                      int k, int *out, struct err *e)
{
    char list[128];
    str_join(list, sizeof list, names, k);
    if (v->kind == YNODE_SCALAR)
        for (int i = 0; i < k; i++)
            if (strcmp(v->text, names[i]) == 0) {
                *out = i;
                return ERR_OK;
            }
    const char *g = v->kind == YNODE_SCALAR ? hp_guess(v->text, names, k) : NULL;
    return sfail(e, v, idx, field, "expected one of %s, found %s%s%s%s", list, DESCRIBE(v),
                 g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
}

static void set_ref(struct plot_ref *r, const struct ynode *v, int idx, const char *field)
{
    snprintf(r->name, sizeof r->name, "%s", v->text);
    snprintf(r->where, sizeof r->where, "%.150s: plots[%d].%s", WHERE(v), idx, field);
}

static int get_ref(const struct ynode *v, int idx, const char *field, struct plot_ref *r,
                   struct err *e)
{
    char tmp[PLOT_COL_MAX];
    if (get_text(v, idx, field, tmp, sizeof tmp, e))
        return e->code;
    set_ref(r, v, idx, field);
    return ERR_OK;
}

/* A column name or a list of them (an empty list when allow_empty). */
static int get_refs(const struct ynode *v, int idx, const char *field, struct plot_ref *refs,
                    int *n, bool allow_empty, struct err *e)
{
    *n = 0;
    if (v->kind == YNODE_SCALAR && !ynode_is_null(v))
        return get_ref(v, idx, field, &refs[(*n)++], e);
    if (v->kind != YNODE_SEQ)
        return sfail(e, v, idx, field, "expected a column name or a list of them, found %s",
                     DESCRIBE(v));
    if (v->n == 0 && !allow_empty)
        return sfail(e, v, idx, field, "expected at least one column, found an empty list");
    if (v->n > PLOT_MAX_LIST)
        return sfail(e, v, idx, field, "at most %d columns, found %zu", PLOT_MAX_LIST, v->n);
    for (size_t i = 0; i < v->n; i++)
        if (get_ref(v->items[i], idx, field, &refs[(*n)++], e))
            return e->code;
    return ERR_OK;
}

static int get_filter(const struct ynode *v, int idx, struct plot_spec *sp, struct err *e)
{
    if (v->kind != YNODE_MAP)
        return sfail(e, v, idx, "filter",
                     "expected a mapping of column: value or [values], found %s", DESCRIBE(v));
    if (v->n > PLOT_MAX_FILTER)
        return sfail(e, v, idx, "filter", "at most %d columns, found %zu", PLOT_MAX_FILTER, v->n);
    for (size_t i = 0; i < v->n; i++) {
        struct plot_filter *f = &sp->filter[sp->nfilter++];
        const struct ynode *k = v->keys[i], *val = v->items[i];
        if (k->len >= sizeof f->col.name)
            return sfail(e, k, idx, "filter", "column name longer than %zu characters",
                         sizeof f->col.name - 1);
        set_ref(&f->col, k, idx, "filter");
        const struct ynode *one[1] = {val};
        const struct ynode *const *items = one;
        size_t n = 1;
        if (val->kind == YNODE_SEQ) {
            items = (const struct ynode *const *)val->items;
            n = val->n;
            if (n == 0 || n > PLOT_MAX_LIST)
                return sfail(e, val, idx, "filter", "%s: expected 1 to %d values, found %zu",
                             k->text, PLOT_MAX_LIST, n);
        }
        for (size_t j = 0; j < n; j++) {
            char what[PLOT_COL_MAX + 16];
            snprintf(what, sizeof what, "filter.%s", k->text);
            if (get_text(items[j], idx, what, f->values[j], sizeof f->values[j], e))
                return e->code;
            f->nvalues++;
        }
    }
    return ERR_OK;
}

static int parse_field(struct plot_spec *sp, int idx, const struct ynode *k, const struct ynode *v,
                       struct err *e)
{
    const char *f = k->text;
    int ch;
    bool b;
    if (strcmp(f, "output") == 0) {
        if (get_text(v, idx, f, sp->output, sizeof sp->output, e))
            return e->code;
        char clean[PLOT_NAME_MAX];
        plots_sanitize(clean, sizeof clean, sp->output);
        if (strcmp(clean, sp->output) != 0 || sp->output[0] == '.')
            return sfail(e, v, idx, f,
                         "a file name stem of letters, digits, '.', '_' and '-' (not starting "
                         "with '.'), found '%s'",
                         sp->output);
    } else if (strcmp(f, "type") == 0) {
        if (get_choice(v, idx, f, type_names, 4, &ch, e))
            return e->code;
        sp->type = (enum plot_type)ch;
    } else if (strcmp(f, "errors") == 0) {
        if (get_choice(v, idx, f, errors_names, 4, &ch, e))
            return e->code;
        sp->errors = (enum plot_errors)ch;
    } else if (strcmp(f, "x") == 0) {
        return get_ref(v, idx, f, &sp->x, e);
    } else if (strcmp(f, "y") == 0) {
        return get_refs(v, idx, f, sp->y, &sp->ny, false, e);
    } else if (strcmp(f, "group_by") == 0) {
        sp->group_given = true;
        return get_refs(v, idx, f, sp->group_by, &sp->ngroup, true, e);
    } else if (strcmp(f, "split_by") == 0) {
        sp->split_given = true;
        return get_refs(v, idx, f, sp->split_by, &sp->nsplit, true, e);
    } else if (strcmp(f, "filter") == 0) {
        return get_filter(v, idx, sp, e);
    } else if (strcmp(f, "logx") == 0 || strcmp(f, "logy") == 0) {
        if (get_bool(v, idx, f, &b, e))
            return e->code;
        *(f[3] == 'x' ? &sp->logx : &sp->logy) = b;
    } else if (strcmp(f, "enabled") == 0) {
        return get_bool(v, idx, f, &sp->enabled, e);
    } else if (strcmp(f, "title") == 0) {
        return get_text(v, idx, f, sp->title, sizeof sp->title, e);
    } else if (strcmp(f, "xlabel") == 0) {
        return get_text(v, idx, f, sp->xlabel, sizeof sp->xlabel, e);
    } else if (strcmp(f, "ylabel") == 0) {
        return get_text(v, idx, f, sp->ylabel, sizeof sp->ylabel, e);
    }
    return ERR_OK;
}

static void spec_init(struct plot_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->type = PLOT_LINE;
    sp->logx = sp->logy = -1;
    sp->enabled = true;
}

/* Checks that need the whole spec: what each type uses, and the default output name. */
static int check_spec(struct plot_spec *sp, int idx, const struct ynode *item, struct err *e)
{
    const char *tn = type_names[sp->type];
    const struct ynode *xn = ynode_get(item, "x"), *yn = ynode_get(item, "y");
    const struct ynode *gn = ynode_get(item, "group_by");
    if (sp->ny == 0) {
        snprintf(sp->y[0].name, sizeof sp->y[0].name, "%s",
                 sp->type == PLOT_CURVE ? "dev_primary" : "primary_value");
        sp->ny = 1;
    }
    if ((sp->type == PLOT_LINE || sp->type == PLOT_SCATTER) && !sp->x.name[0] && sp->enabled)
        return sfail(e, item, idx, NULL,
                     "a %s figure needs x (the column on the horizontal axis, e.g. x: "
                     "params_trainable or x: rank)",
                     tn);
    if (sp->type != PLOT_BAR && sp->ny > 1)
        return sfail(e, yn, idx, "y",
                     "a list of y columns (stacked bars) is only for type bar; a %s figure "
                     "takes one",
                     tn);
    if (sp->type == PLOT_BAR && xn)
        return sfail(e, xn, idx, "x",
                     "not used by bar figures (one bar per setting); choose settings with "
                     "filter or split_by");
    if (sp->type == PLOT_BAR && gn)
        return sfail(e, gn, idx, "group_by",
                     "not used by bar figures (one bar per setting, labelled by the setting)");
    if (sp->type == PLOT_CURVE) {
        if (xn && strcmp(sp->x.name, "epoch") != 0)
            return sfail(e, xn, idx, "x", "a curve figure's x is the epoch; found '%s'",
                         sp->x.name);
        if (strcmp(sp->y[0].name, "dev_primary") && strcmp(sp->y[0].name, "train_loss")) {
            static const char *const cy[] = {"dev_primary", "train_loss"};
            const char *g = hp_guess(sp->y[0].name, cy, 2);
            return sfail(e, yn, idx, "y",
                         "a curve figure plots dev_primary or train_loss per epoch, found "
                         "'%s'%s%s%s",
                         sp->y[0].name, g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
        }
    }
    if (!sp->output[0]) {
        char raw[PLOT_NAME_MAX];
        if (sp->type == PLOT_LINE || sp->type == PLOT_SCATTER)
            snprintf(raw, sizeof raw, "%.40s-vs-%.40s", sp->y[0].name, sp->x.name);
        else
            snprintf(raw, sizeof raw, "%s-%.60s", tn, sp->y[0].name);
        plots_sanitize(sp->output, sizeof sp->output, raw);
    }
    return ERR_OK;
}

static int parse_item(struct plot_spec *sp, int idx, const struct ynode *item, struct err *e)
{
    spec_init(sp);
    snprintf(sp->where, sizeof sp->where, "%s", WHERE(item));
    if (item->kind != YNODE_MAP)
        return sfail(e, item, idx, NULL,
                     "expected a mapping of figure fields (type, x, y, group_by, ...), found %s",
                     DESCRIBE(item));
    for (size_t i = 0; i < item->n; i++) {
        const struct ynode *k = item->keys[i];
        bool known = false;
        for (int f = 0; f < NFIELDS && !known; f++)
            known = strcmp(k->text, spec_fields[f]) == 0;
        if (!known) {
            char list[256];
            str_join(list, sizeof list, spec_fields, NFIELDS);
            const char *g = hp_guess(k->text, spec_fields, NFIELDS);
            return sfail(e, k, idx, NULL, "unknown field '%.60s'%s%s%s; valid fields: %s", k->text,
                         g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "", list);
        }
        if (parse_field(sp, idx, k, item->items[i], e))
            return e->code;
    }
    return check_spec(sp, idx, item, e);
}

int plots_parse(struct plot_specs *ps, const struct ynode *plots, struct err *e)
{
    memset(ps, 0, sizeof *ps);
    if (!plots || ynode_is_null(plots))
        return ERR_OK;
    if (plots->kind != YNODE_SEQ)
        return ERR_SET(e, ERR_CONFIG,
                       "%.200s: plots: expected a list of figure specs ({type:, x:, y:, ...}), "
                       "found %s",
                       WHERE(plots), DESCRIBE(plots));
    ps->v = calloc(plots->n ? plots->n : 1, sizeof *ps->v);
    if (!ps->v)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < plots->n; i++) {
        if (parse_item(&ps->v[i], (int)i, plots->items[i], e)) {
            plots_specs_free(ps);
            return e->code;
        }
        ps->n++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ps->v[j].output, ps->v[i].output) == 0) {
                const struct ynode *on = ynode_get(plots->items[i], "output");
                sfail(e, on ? on : plots->items[i], (int)i, "output",
                      "figure name '%s' is also the output of plots[%zu] (%s); give each "
                      "figure its own output",
                      ps->v[i].output, j, ps->v[j].where);
                plots_specs_free(ps);
                return e->code;
            }
    }
    return ERR_OK;
}

void plots_specs_free(struct plot_specs *ps)
{
    if (!ps)
        return;
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

void plots_sanitize(char *out, size_t n, const char *in)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < n; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[o++] = ok ? c : '_';
    }
    if (n)
        out[o] = '\0';
}

int plots_load_sweep(struct plot_specs *ps, char *name, size_t n, const char *yaml_path,
                     struct err *e)
{
    memset(ps, 0, sizeof *ps);
    struct ynode *root = NULL;
    if (ynode_load_file(&root, yaml_path, true, e))
        return e->code;
    int rc = ERR_OK;
    if (!root || root->kind != YNODE_MAP) {
        rc = ERR_SET(e, ERR_CONFIG, "%s:1:1: expected a mapping of sweep settings, found %s",
                     yaml_path, root ? DESCRIBE(root) : "an empty file");
        goto out;
    }
    const struct ynode *sn = ynode_get(root, "sweep");
    char raw[PLOT_TEXT_MAX];
    if (sn && sn->kind == YNODE_SCALAR && !ynode_is_null(sn)) {
        snprintf(raw, sizeof raw, "%s", sn->text);
    } else {
        const char *base = strrchr(yaml_path, '/');
        snprintf(raw, sizeof raw, "%s", base ? base + 1 : yaml_path);
        char *dot = strrchr(raw, '.');
        if (dot && dot != raw)
            *dot = '\0';
    }
    char clean[PLOT_TEXT_MAX];
    plots_sanitize(clean, sizeof clean, raw);
    if (strcmp(clean, raw) != 0 || raw[0] == '.' || !raw[0]) {
        rc = ERR_SET(e, ERR_CONFIG, "%s: sweep name '%.60s' is not a plain directory name",
                     sn ? WHERE(sn) : yaml_path, raw);
        goto out;
    }
    snprintf(name, n, "%s", raw);
    rc = plots_parse(ps, ynode_get(root, "plots"), e);
out:
    ynode_free(root);
    return rc;
}

/* ---- columns -------------------------------------------------------------------- */

/* A spec's column, resolved against results.csv. */
struct colref {
    int cols[MAX_COALESCE]; /* candidate columns: the first non-empty cell is the value */
    int ncols;
    bool label;  /* the virtual column "setting" */
    int measure; /* index into agg_setting.stats, or -1 */
    char name[PLOT_COL_MAX];
};

static const char *suffix_of(const char *col)
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
                cands[n++] = suffix_of(t->cols[c]);
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

static int add_col(struct colref *cr, int c)
{
    for (int i = 0; i < cr->ncols; i++)
        if (cr->cols[i] == c)
            return 0;
    if (cr->ncols == MAX_COALESCE)
        return -1;
    cr->cols[cr->ncols++] = c;
    return 0;
}

/* One name: "setting", an exact column, or a hyperparameter without its method. */
static int resolve_one(const struct agg *a, const char *name, struct colref *cr)
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
        if (agg_is_hparam_col(t->cols[c]) && strcmp(suffix_of(t->cols[c]), name) == 0) {
            if (add_col(cr, c))
                return -1;
            found++;
        }
    return found ? 0 : 1;
}

/* Resolve r: a name, or names joined by '|' (coalesced: first non-empty cell). */
static int resolve(const struct agg *a, const struct plot_ref *r, const char *figure,
                   struct colref *cr, struct err *e)
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
                           MAX_COALESCE);
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
static const char *ref_text(const struct agg *a, const struct agg_setting *s,
                            const struct colref *cr)
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
static int ref_col(const struct agg *a, const struct agg_setting *s, const struct colref *cr)
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
static void refs_text(char *out, size_t n, const struct agg *a, const struct agg_setting *s,
                      const struct colref *refs, int nrefs)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < nrefs && o < n; i++) {
        const char *v = ref_text(a, s, &refs[i]);
        int c = ref_col(a, s, &refs[i]);
        bool plain = refs[i].label || c < 0 || !agg_is_hparam_col(a->t->cols[c]);
        if (plain)
            o = str_appendf(out, n, o, "%s%s", o ? " " : "", v[0] ? v : "-");
        else
            o = str_appendf(out, n, o, "%s%s=%s", o ? " " : "", agg_short_name(a, s, c),
                                  v[0] ? v : "default");
    }
}

/* ---- figure writing ------------------------------------------------------------- */

struct resolved {
    struct colref x, y[PLOT_MAX_LIST], group[PLOT_MAX_LIST], split[PLOT_MAX_LIST];
    struct colref filter[PLOT_MAX_FILTER];
    int ny, ngroup, nsplit;
};

struct figctx {
    const char *dir; /* results directory */
    char plots_dir[4096];
    const struct agg *a;
    const struct plots_opts *o;
    struct strbuf manifest;      /* figures.tsv */
    char (*names)[PLOT_NAME_MAX]; /* owned: written figure names */
    int nnames, cap;
};

static void warnf(const struct figctx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warnf(const struct figctx *fx, const char *fmt, ...)
{
    if (!fx->o || !fx->o->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(fx->o->warn, "peftbench plot: warning: ");
    vfprintf(fx->o->warn, fmt, ap);
    fprintf(fx->o->warn, "\n");
    va_end(ap);
}

/* A gnuplot single-quoted string: ' doubled, line breaks as spaces. */
static void gp_str(struct strbuf *b, const char *s)
{
    strbuf_str(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_str(b, "''");
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            strbuf_str(b, " ");
        else
            strbuf_put(b, p, 1);
    }
    strbuf_str(b, "'");
}

/* A quoted string field of a gnuplot data file (no escapes there: " becomes '). */
static void dat_str(struct strbuf *b, const char *s)
{
    strbuf_str(b, "\"");
    for (const char *p = s; *p; p++)
        strbuf_put(b, *p == '"' ? "'" : (*p == '\n' || *p == '\r' || *p == '\t') ? " " : p, 1);
    strbuf_str(b, "\"");
}

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

/* Mean and error-bar ends of a stat under the spec's error mode. */
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
        d = st->n > 0 ? st->std / sqrt((double)st->n) : 0.0;
        break;
    case PLOT_ERRORS_MINMAX:
        *lo = st->min * scale;
        *hi = st->max * scale;
        return;
    case PLOT_ERRORS_NONE:
        break;
    }
    *lo = (st->mean - d) * scale;
    *hi = (st->mean + d) * scale;
}

static const char *errors_caption(enum plot_errors m)
{
    static const char *const c[] = {"error bars: std over seeds", "error bars: standard error",
                                    "error bars: min-max over seeds", "no error bars"};
    return c[m];
}

/* Script header: both terminals are set by the script itself so that it runs standalone. */
static void script_begin(struct strbuf *b, const char *name, const char *title)
{
    strbuf_printf(b,
                   "# peftbench figure %s: %s\n"
                   "# Data: %s.dat (aggregated by peftbench; see its header for the columns).\n"
                   "# Restyle freely, then regenerate from this directory: gnuplot %s.gp\n"
                   "reset\n"
                   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "    set terminal pngcairo size %d,%d noenhanced font ',10'\n"
                   "} else {\n"
                   "    set terminal png size %d,%d noenhanced\n"
                   "}\n"
                   "set output '%s.png'\n",
                   name, title, name, name, FIG_W, FIG_H, FIG_W, FIG_H, name);
    strbuf_str(b, "set title ");
    gp_str(b, title);
    strbuf_str(b, "\nset grid\nset key outside right top\nset border 3\nset tics nomirror\n");
    /* Twelve series styles that differ in colour and marker: a sweep of every method has 11
     * series, and gnuplot's default 8 colours would repeat within one figure. */
    static const char *const colours[12] = {"#0072b2", "#e69f00", "#009e73", "#d55e00",
                                            "#cc79a7", "#56b4e9", "#000000", "#999999",
                                            "#8c564b", "#7f3c8d", "#3969ac", "#e73f74"};
    static const int points[4] = {7, 5, 9, 13};
    for (int k = 0; k < 12; k++)
        strbuf_printf(b, "set linetype %d lc rgb '%s' pt %d\n", k + 1, colours[k],
                       points[k % 4]);
    strbuf_str(b, "set linetype cycle 12\n");
}

static void script_end(struct strbuf *b, const char *name)
{
    strbuf_printf(b,
                   "set terminal svg size %d,%d noenhanced font 'sans,10' background '#ffffff'\n"
                   "set output '%s.svg'\n"
                   "replot\n"
                   "unset output\n",
                   FIG_W, FIG_H, name);
}

/* The figure title: the spec's or the default, after the split part ("wn-pos: ..."). */
static void fig_title(char *out, size_t n, const char *lead, const char *given, const char *dflt)
{
    const char *t = given[0] ? given : dflt;
    text_fmt(out, n, "%s%s%s", lead, lead[0] ? ": " : "", t);
}

static void label_cmd(struct strbuf *b, const char *axis, const char *text)
{
    strbuf_printf(b, "set %slabel ", axis);
    gp_str(b, text);
    strbuf_str(b, "\n");
}

static int write_pair(struct figctx *fx, const char *name, const char *title, struct strbuf *dat,
                      struct strbuf *gp, struct err *e)
{
    if (dat->oom || gp->oom)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing figure %s", name);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.dat", fx->plots_dir, name);
    if (results_write_atomic(path, dat->p ? dat->p : "", dat->n, e))
        return e->code;
    snprintf(path, sizeof path, "%s/%s.gp", fx->plots_dir, name);
    if (results_write_atomic(path, gp->p, gp->n, e))
        return e->code;
    if (fx->nnames == fx->cap) {
        int cap = fx->cap ? 2 * fx->cap : 16;
        char(*nn)[PLOT_NAME_MAX] = realloc(fx->names, (size_t)cap * sizeof *nn);
        if (!nn)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        fx->names = nn;
        fx->cap = cap;
    }
    snprintf(fx->names[fx->nnames++], PLOT_NAME_MAX, "%s", name);
    strbuf_printf(&fx->manifest, "%s\t", name);
    for (const char *p = title; *p; p++)
        strbuf_put(&fx->manifest, (*p == '\t' || *p == '\n') ? " " : p, 1);
    strbuf_str(&fx->manifest, "\n");
    return ERR_OK;
}

/* Distinct texts, in order of first appearance. */
struct strset {
    char **v; /* owned */
    int n, cap;
    bool oom;
};

static int strset_add(struct strset *ss, const char *s)
{
    for (int i = 0; i < ss->n; i++)
        if (strcmp(ss->v[i], s) == 0)
            return i;
    if (ss->n == ss->cap) {
        int cap = ss->cap ? 2 * ss->cap : 16;
        char **v = realloc(ss->v, (size_t)cap * sizeof *v);
        if (!v) {
            ss->oom = true;
            return 0;
        }
        ss->v = v;
        ss->cap = cap;
    }
    if (!(ss->v[ss->n] = strdup(s))) {
        ss->oom = true;
        return 0;
    }
    return ss->n++;
}

static void strset_free(struct strset *ss)
{
    for (int i = 0; i < ss->n; i++)
        free(ss->v[i]);
    free(ss->v);
    memset(ss, 0, sizeof *ss);
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

static int write_line(struct figctx *fx, const struct plot_spec *sp, const struct resolved *rv,
                      const size_t *sel, size_t nsel, const char *name, const char *lead,
                      struct err *e)
{
    const struct agg *a = fx->a;
    const struct colref *y = &rv->y[0];
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
            p->xtext = ref_text(a, s, &rv->x);
            if (!p->xtext[0])
                continue;
            numeric &= agg_parse_num(p->xtext, &p->x);
        }
        if (st->n == 0)
            continue;
        char g[512];
        refs_text(g, sizeof g, a, s, rv->group, rv->ngroup);
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
        warnf(fx, "figure %s: no setting has both %s and %s; skipped", name, rv->x.name, y->name);
        goto out;
    }
    qsort(pt, np, sizeof *pt, cmp_point);
    for (size_t i = 1; i < np && !sp->builtin; i++)
        if (pt[i].series == pt[i - 1].series && pt[i].x == pt[i - 1].x) {
            warnf(fx,
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
        warnf(fx, "figure %s: logx ignored: %s is categorical", name, rv->x.name);
    if (!numeric)
        logx = 0;
    else if (logx < 0)
        logx = xmin > 0 && xmax / xmin >= 16.0;
    if (logx && !(xmin > 0)) {
        warnf(fx, "figure %s: logx ignored: %s has values <= 0", name, rv->x.name);
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
        dat_str(&dat, numeric ? (p->xtext[0] ? p->xtext : "") : cats.v[(int)p->x]);
        strbuf_str(&dat, " ");
        dat_str(&dat, a->s[p->s].label);
        strbuf_str(&dat, "\n");
    }

    script_begin(&gp, name, title);
    label_cmd(&gp, "x", xl);
    label_cmd(&gp, "y", yl);
    if (logx)
        strbuf_printf(&gp, "set logscale x %d\n", all_pow2(pt, np) ? 2 : 10);
    if (sp->logy == 1)
        strbuf_str(&gp, "set logscale y\n");
    if (!numeric) {
        strbuf_str(&gp, "set xtics (");
        for (int c = 0; c < cats.n; c++) {
            strbuf_str(&gp, c ? ", " : "");
            gp_str(&gp, cats.v[c]);
            strbuf_printf(&gp, " %d", c);
        }
        strbuf_printf(&gp, ") rotate by -30\nset xrange [-0.5:%d.5]\n", cats.n - 1);
    } else {
        strbuf_str(&gp, "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n");
    }
    strbuf_printf(&gp, "set label 1 '%s' at screen 0.01, screen 0.02 font ',8'\n",
                   errors_caption(sp->errors));
    bool bars = sp->errors != PLOT_ERRORS_NONE;
    const char *with = sp->type == PLOT_SCATTER ? (bars ? "yerrorbars" : "points")
                                                : (bars ? "yerrorlines" : "linespoints");
    strbuf_str(&gp, "plot ");
    for (int k = 0; k < series.n; k++) {
        strbuf_printf(&gp, "%s'%s.dat' index %d using 1:2%s with %s lw 1.5 ps 0.9 title ",
                       k ? ", \\\n     " : "", name, k, bars ? ":3:4" : "", with);
        gp_str(&gp, series.v[k]);
    }
    strbuf_str(&gp, "\n");
    script_end(&gp, name);
    rc = write_pair(fx, name, title, &dat, &gp, e);
out:
    free(pt);
    strset_free(&series);
    strset_free(&cats);
    strbuf_free(&dat);
    strbuf_free(&gp);
    return rc;
}

/* ---- bars ---------------------------------------------------------------------- */

static bool all_memory(const struct resolved *rv)
{
    for (int k = 0; k < rv->ny; k++)
        if (strncmp(rv->y[k].name, "mem_", 4) != 0)
            return false;
    return true;
}

static int write_bar(struct figctx *fx, const struct plot_spec *sp, const struct resolved *rv,
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
    for (size_t i = 0; i < nsel; i++) {
        const struct agg_setting *s = &a->s[sel[i]];
        if (s->stats[rv->y[0].measure].n == 0)
            continue;
        double stack = 0.0;
        char label[600];
        snprintf(label, sizeof label, "%s%s%s", s->label, tasks_differ ? " / " : "",
                 tasks_differ ? agg_table_cell(a->t, s->row, a->col_task) : "");
        dat_str(&dat, label);
        for (int k = 0; k < rv->ny; k++) {
            double y, lo, hi;
            stat_bars(&s->stats[rv->y[k].measure], sp->errors, scale, &y, &lo, &hi);
            if (!isfinite(y))
                y = lo = hi = 0.0; /* an absent category stacks as nothing */
            stack += y;
            ytop = fmax(ytop, stacked ? stack : fmax(y, hi));
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
        warnf(fx, "figure %s: no setting has %s; skipped", name, rv->y[0].name);
        goto out;
    }
    script_begin(&gp, name, title);
    label_cmd(&gp, "y", yl);
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
    if (sp->logy == 1)
        strbuf_str(&gp, "set logscale y\n");
    else if (ytop > 0 && isfinite(ytop))
        strbuf_printf(&gp, "set yrange [0:%.6g]\n", ytop * 1.08);
    else
        strbuf_str(&gp, "set yrange [0:*]\n");
    if (bars)
        strbuf_printf(&gp, "set label 1 '%s' at screen 0.01, screen 0.02 font ',8'\n",
                       errors_caption(sp->errors));
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
        gp_str(&gp, strncmp(yn, "mem_", 4) == 0 && stacked ? yn + 4 : yn);
    }
    if (peak >= 0)
        strbuf_printf(&gp,
                       ", \\\n     '%s.dat' using 0:%d with points pt 7 ps 1.2 lc "
                       "'black' title 'accountant peak (simultaneous)'",
                       name, 2 + rv->ny);
    strbuf_str(&gp, "\n");
    script_end(&gp, name);
    rc = write_pair(fx, name, title, &dat, &gp, e);
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
            warnf(fx, "no readable trials/%s.json for the training curves; that trial is left out",
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

static int write_curve(struct figctx *fx, const struct plot_spec *sp, const struct resolved *rv,
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
        refs_text(g, sizeof g, a, &a->s[sel[i]], rv->group, rv->ngroup);
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
        char t[700];
        if (nin[k] > 1)
            snprintf(t, sizeof t, "%s (best: %s)", series.v[k], a->s[best[k]].label);
        else
            snprintf(t, sizeof t, "%s", series.v[k]);
        strset_add(&titles, t);
        strbuf_printf(&dat, "%s# series %d: %s\n", nblocks ? "\n\n" : "", nblocks, t);
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
        warnf(fx, "figure %s: no per-epoch data in trials/*.json; skipped", name);
    if (rc == ERR_OK && nblocks > 0) {
        script_begin(&gp, name, title);
        label_cmd(&gp, "x", "epoch");
        label_cmd(&gp, "y", yl);
        if (maxall <= 20)
            strbuf_str(&gp, "set xtics 1\n");
        strbuf_str(&gp, "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n");
        if (sp->logy == 1)
            strbuf_str(&gp, "set logscale y\n");
        strbuf_printf(&gp, "set label 1 '%s' at screen 0.01, screen 0.02 font ',8'\n",
                       errors_caption(sp->errors));
        bool bars = sp->errors != PLOT_ERRORS_NONE;
        strbuf_str(&gp, "plot ");
        for (int k = 0; k < nblocks; k++) {
            strbuf_printf(&gp, "%s'%s.dat' index %d using 1:2%s with %s lw 1.5 ps 0.8 title ",
                           k ? ", \\\n     " : "", name, k, bars ? ":3:4" : "",
                           bars ? "yerrorlines" : "linespoints");
            gp_str(&gp, titles.v[k]);
        }
        strbuf_str(&gp, "\n");
        script_end(&gp, name);
        rc = write_pair(fx, name, title, &dat, &gp, e);
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

/* ---- one spec -> figures ---------------------------------------------------------- */

static bool names_task(const struct plot_ref *r, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(r[i].name, "task") == 0)
            return true;
    return false;
}

static int resolve_spec(const struct agg *a, const struct plot_spec *sp, struct resolved *rv,
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

static bool passes(const struct agg *a, const struct agg_setting *s, const struct plot_spec *sp,
                   const struct resolved *rv)
{
    for (int k = 0; k < sp->nfilter; k++) {
        const char *v = ref_text(a, s, &rv->filter[k]);
        bool any = false;
        for (int j = 0; j < sp->filter[k].nvalues && !any; j++)
            any = values_equal(v, sp->filter[k].values[j]);
        if (!any)
            return false;
    }
    return true;
}

static bool name_taken(const struct figctx *fx, const char *name)
{
    for (int i = 0; i < fx->nnames; i++)
        if (strcmp(fx->names[i], name) == 0)
            return true;
    return false;
}

static int make_spec(struct figctx *fx, const struct plot_spec *sp, struct err *e)
{
    const struct agg *a = fx->a;
    struct resolved *rv = malloc(sizeof *rv);
    size_t *sel = malloc((a->n + 1) * sizeof *sel), *part = malloc((a->n + 1) * sizeof *part);
    struct strset splits = {0};
    int rc = ERR_OK;
    if (!rv || !sel || !part) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = resolve_spec(a, sp, rv, e)))
        goto out;
    size_t nsel = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->s[i].n_ok > 0 && passes(a, &a->s[i], sp, rv))
            sel[nsel++] = i;
    if (nsel == 0) {
        warnf(fx, "figure %s: no setting with a finished trial passes its filter; skipped",
              sp->output);
        goto out;
    }
    char key[512];
    for (size_t i = 0; i < nsel; i++) {
        refs_text(key, sizeof key, a, &a->s[sel[i]], rv->split, rv->nsplit);
        strset_add(&splits, key);
    }
    if (splits.oom) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < splits.n && rc == ERR_OK; k++) {
        size_t np = 0;
        for (size_t i = 0; i < nsel; i++) {
            refs_text(key, sizeof key, a, &a->s[sel[i]], rv->split, rv->nsplit);
            if (strcmp(key, splits.v[k]) == 0)
                part[np++] = sel[i];
        }
        char name[PLOT_NAME_MAX], raw[PLOT_TEXT_MAX * 2];
        if (splits.n > 1) {
            snprintf(raw, sizeof raw, "%s-%s", sp->output, splits.v[k]);
            plots_sanitize(name, sizeof name, raw);
        } else {
            snprintf(name, sizeof name, "%s", sp->output);
        }
        for (int dup = 2; name_taken(fx, name) && dup < 1000; dup++) {
            snprintf(raw, sizeof raw, "%.80s-%d", name, dup);
            warnf(fx, "figure name %s is taken; writing %s", name, raw);
            text_fmt(name, sizeof name, "%s", raw);
        }
        /* a split figure's title names its part: "wn-pos: ..." */
        const char *lead = rv->nsplit ? splits.v[k] : "";
        switch (sp->type) {
        case PLOT_LINE:
        case PLOT_SCATTER:
            rc = write_line(fx, sp, rv, part, np, name, lead, e);
            break;
        case PLOT_BAR:
            rc = write_bar(fx, sp, rv, part, np, name, lead, e);
            break;
        case PLOT_CURVE:
            rc = write_curve(fx, sp, rv, part, np, name, lead, e);
            break;
        }
    }
out:
    strset_free(&splits);
    free(rv);
    free(sel);
    free(part);
    return rc;
}

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
    spec_init(sp);
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
        const char *sfx = suffix_of(t->cols[c]);
        int m = 0;
        for (int j = k; j < a->nkeys; j++) {
            int d = a->keys[j];
            if (!done[d] && agg_is_hparam_col(t->cols[d]) &&
                strcmp(suffix_of(t->cols[d]), sfx) == 0 && swept(a, d))
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

/* ---- gnuplot ------------------------------------------------------------------------ */

/* Run argv[0] from PATH with stdin from /dev/null, stdout to out_fd (-1: /dev/null) and
 * stderr to err_path (NULL: /dev/null); *status receives the wait status.  Returns 0 or
 * the errno of a failed spawn (ENOENT: not on PATH). */
static int spawn_wait(char *const argv[], int out_fd, int close_fd, const char *err_path,
                      int *status)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return ENOMEM;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_addclose(&fa, out_fd);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    if (close_fd >= 0)
        posix_spawn_file_actions_addclose(&fa, close_fd);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return rc;
    if (out_fd >= 0)
        close(out_fd);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    /* 127: the exec in the child failed (older C libraries report it this way) */
    if (WIFEXITED(*status) && WEXITSTATUS(*status) == 127)
        return ENOENT;
    return 0;
}

static int gnuplot_missing(struct err *e, int why)
{
    return ERR_SET(e, ERR_UNSUPPORTED,
                   "gnuplot cannot be run (%s; looked for 'gnuplot' on PATH): install it "
                   "(Debian: apt-get install gnuplot-nox, or `make deps`)",
                   strerror(why));
}

int plots_gnuplot_version(char *buf, size_t n, struct err *e)
{
    int p[2];
    if (pipe(p) != 0)
        return ERR_SET(e, ERR_IO, "cannot create a pipe: %s", strerror(errno));
    char a0[] = "gnuplot", a1[] = "--version";
    char *argv[] = {a0, a1, NULL};
    int status = 0;
    int rc = spawn_wait(argv, p[1], p[0], NULL, &status);
    if (rc != 0) {
        close(p[0]);
        close(p[1]);
        return gnuplot_missing(e, rc);
    }
    char tmp[256];
    size_t k = 0;
    for (ssize_t r; k + 1 < sizeof tmp && (r = read(p[0], tmp + k, sizeof tmp - 1 - k)) != 0;) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        k += (size_t)r;
    }
    close(p[0]);
    tmp[k] = '\0';
    tmp[strcspn(tmp, "\r\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(tmp, "gnuplot", 7) != 0)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "'gnuplot --version' did not answer as gnuplot does (got '%.80s'); "
                       "install gnuplot (Debian: apt-get install gnuplot-nox)",
                       tmp);
    if (n)
        snprintf(buf, n, "%s", tmp);
    return ERR_OK;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The last non-empty line of a file (gnuplot's error message). */
static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t^")])
            text_fmt(out, n, "%s", line);
    }
    fclose(f);
}

static int render_one(const char *plots_dir, const char *name, struct err *e)
{
    char png[4400], svg[4400], logp[4400], cd[9000], script[PLOT_NAME_MAX + 4];
    snprintf(png, sizeof png, "%s/%s.png", plots_dir, name);
    snprintf(svg, sizeof svg, "%s/%s.svg", plots_dir, name);
    snprintf(logp, sizeof logp, "%s/%s.log", plots_dir, name);
    snprintf(script, sizeof script, "%s.gp", name);
    unlink(png);
    unlink(svg);
    /* the script writes NAME.png/svg relative to its directory, as when run by hand */
    size_t o = (size_t)snprintf(cd, sizeof cd, "cd '");
    for (const char *p = plots_dir; *p && o + 3 < sizeof cd; p++) {
        if (*p == '\'')
            cd[o++] = '\'';
        cd[o++] = *p;
    }
    snprintf(cd + o, sizeof cd - o, "'");
    char a0[] = "gnuplot", a1[] = "-e";
    char *argv[] = {a0, a1, cd, script, NULL};
    int status = 0;
    int rc = spawn_wait(argv, -1, -1, logp, &status);
    if (rc != 0)
        return gnuplot_missing(e, rc);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[256];
        last_line(logp, msg, sizeof msg);
        return ERR_SET(e, ERR_IO, "gnuplot failed on %s/%s.gp (%s %d): %s (log: %s)", plots_dir,
                       name, WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                       msg[0] ? msg : "no message", logp);
    }
    if (file_size(png) <= 0 || file_size(svg) <= 0)
        return ERR_SET(e, ERR_IO, "gnuplot ran %s/%s.gp but did not write %s.png and %s.svg",
                       plots_dir, name, name, name);
    unlink(logp);
    return ERR_OK;
}

/* ---- entry point ------------------------------------------------------------------ */

/* Defaults, with the user's specs replacing same-named defaults or added after them. */
static int merge_specs(const struct agg *a, const struct plot_specs *user, struct plot_spec **out,
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

int plots_make(const char *dir, const struct plot_specs *specs, const struct plots_opts *o,
               int *nfigures, struct err *e)
{
    struct agg_table t;
    struct agg a;
    struct figctx fx;
    struct plot_spec *all = NULL;
    int nall = 0;
    char path[4400];
    memset(&fx, 0, sizeof fx);
    memset(&a, 0, sizeof a);
    if (nfigures)
        *nfigures = 0;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    if (agg_table_load(&t, path, e)) {
        if (e->code == ERR_IO)
            err_prefix(e,
                       "no results to plot (run the sweep first, or rebuild results.csv "
                       "with `peftbench collect %s`)",
                       dir);
        return e->code;
    }
    int rc = agg_build(&a, &t, e);
    if (rc == ERR_OK && a.n == 0)
        rc = ERR_SET(e, ERR_STATE, "%s: no trials yet: nothing to plot", path);
    if (rc == ERR_OK) {
        snprintf(path, sizeof path, "%s/summary.csv", dir);
        rc = agg_write_summary(&a, path, e);
    }
    if (rc == ERR_OK) {
        fx.dir = dir;
        fx.a = &a;
        fx.o = o;
        snprintf(fx.plots_dir, sizeof fx.plots_dir, "%s/plots", dir);
        rc = results_mkdirs(fx.plots_dir, e);
    }
    if (rc == ERR_OK)
        rc = merge_specs(&a, specs, &all, &nall, e);
    for (int i = 0; rc == ERR_OK && i < nall; i++)
        if (all[i].enabled)
            rc = make_spec(&fx, &all[i], e);
    if (rc == ERR_OK) {
        snprintf(path, sizeof path, "%s/figures.tsv", fx.plots_dir);
        rc = fx.manifest.oom
                 ? ERR_SET(e, ERR_NOMEM, "out of memory")
                 : results_write_atomic(path, fx.manifest.p ? fx.manifest.p : "", fx.manifest.n, e);
    }
    if (rc == ERR_OK && nfigures)
        *nfigures = fx.nnames;
    if (rc == ERR_OK && o && o->render && fx.nnames > 0) {
        char version[128];
        rc = plots_gnuplot_version(version, sizeof version, e);
        if (rc)
            err_prefix(e,
                       "figures not drawn; their data and scripts are in %s (draw one with "
                       "`cd %s && gnuplot NAME.gp`)",
                       fx.plots_dir, fx.plots_dir);
        /* draw every figure; report the first failure */
        struct err first;
        err_clear(&first);
        for (int i = 0; rc == ERR_OK && i < fx.nnames; i++) {
            struct err fe;
            if (render_one(fx.plots_dir, fx.names[i], &fe) && first.code == ERR_OK)
                first = fe;
            if (fe.code == ERR_UNSUPPORTED)
                break;
        }
        if (rc == ERR_OK && first.code != ERR_OK) {
            *e = first;
            rc = first.code;
        }
    }
    free(all);
    free(fx.names);
    strbuf_free(&fx.manifest);
    agg_free(&a);
    agg_table_free(&t);
    return rc;
}
