/* plotspec: parsing and checking a sweep's `plots:` specs (contract in plotspec.h). */
#include "harness/report/plotspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"

static const char *const spec_fields[] = {
    "output", "type",   "x",         "y",     "group_by", "split_by", "filter", "logx",
    "logy",   "errors", "errorbars", "title", "xlabel",   "ylabel",   "enabled",
};
#define NFIELDS ((int)(sizeof spec_fields / sizeof *spec_fields))

static const char *const type_names[] = {"line", "scatter", "bar", "curve"};
/* in enum plot_errors order */
static const char *const errors_names[] = {"std", "sem", "ci95", "minmax", "none"};
#define NERRORS ((int)(sizeof errors_names / sizeof *errors_names))

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
    } else if (strcmp(f, "errorbars") == 0 || strcmp(f, "errors") == 0) {
        if (get_choice(v, idx, f, errors_names, NERRORS, &ch, e))
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

void plot_spec_init(struct plot_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->type = PLOT_LINE;
    sp->logx = sp->logy = -1;
    sp->errors = PLOT_ERRORS_CI95;
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
    plot_spec_init(sp);
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
