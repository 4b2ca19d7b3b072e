#include "methods/registry.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"

#define METHOD(x) extern const struct method_ops x##_method;
#include "methods/list.def"
#undef METHOD

static const struct method_ops *const methods[] = {
#define METHOD(x) &x##_method,
#include "methods/list.def"
#undef METHOD
    NULL, /* keeps the array non-empty */
};

int registry_count(void)
{
    return (int)(sizeof methods / sizeof *methods) - 1;
}

const struct method_ops *registry_at(int i)
{
    return i >= 0 && i < registry_count() ? methods[i] : NULL;
}

const struct method_ops *method_find(const char *name)
{
    for (int i = 0; name && i < registry_count(); i++)
        if (strcmp(methods[i]->name, name) == 0)
            return methods[i];
    return NULL;
}

const struct method_ops *method_lookup(const char *name, const char *where, struct err *e)
{
    const struct method_ops *m = method_find(name);
    if (m)
        return m;
    const char *names[64] = {0};
    char list[512];
    int n = registry_count() < 64 ? registry_count() : 64;
    for (int i = 0; i < n; i++)
        names[i] = methods[i]->name;
    str_join(list, sizeof list, names, n);
    const char *guess = name ? hp_guess(name, names, n) : NULL;
    ERR_SET(e, ERR_CONFIG, "%s%sunknown method '%s'%s%s%s; valid: %s", where ? where : "",
            where ? ": " : "", name ? name : "(none)", guess ? " (did you mean '" : "",
            guess ? guess : "", guess ? "'?)" : "", list);
    return NULL;
}

int method_parse(const struct method_ops *ops, struct hp_values *out, const struct hp_kv *kv,
                 int nkv, const struct model *m, struct err *e)
{
    if (hp_parse(out, ops->name, ops->hps, ops->nhps, kv, nkv, e))
        return e->code;
    if (ops->check && ops->check(out, m, e))
        return e->code;
    return ERR_OK;
}

int method_create(struct method_inst *mi, const struct method_ops *ops,
                  const struct hp_values *hp, struct model *m, uint64_t seed, struct err *e)
{
    memset(mi, 0, sizeof *mi);
    if (ops->check && ops->check(hp, m, e))
        return e->code;
    mi->ops = ops;
    mi->hp = *hp;
    if (ops->create(&mi->state, hp, m, seed, e)) {
        mi->state = NULL;
        return e->code;
    }
    return ERR_OK;
}

void method_destroy(struct method_inst *mi)
{
    if (!mi || !mi->ops)
        return;
    if (mi->ops->destroy)
        mi->ops->destroy(mi->state);
    mi->state = NULL;
    mi->ops = NULL;
}

int method_merge(struct method_inst *mi, struct model *m, struct err *e)
{
    if (!mi->ops->merge)
        return ERR_SET(e, ERR_UNSUPPORTED, "method '%s' cannot be merged", mi->ops->name);
    if (mi->merged)
        return ERR_SET(e, ERR_STATE, "method '%s' is already merged", mi->ops->name);
    if (mi->ops->merge(mi->state, m, e))
        return e->code;
    mi->merged = true;
    return ERR_OK;
}

int method_unmerge(struct method_inst *mi, struct model *m, struct err *e)
{
    if (!mi->ops->unmerge)
        return ERR_SET(e, ERR_UNSUPPORTED, "method '%s' cannot be unmerged", mi->ops->name);
    if (!mi->merged)
        return ERR_SET(e, ERR_STATE, "method '%s' is not merged", mi->ops->name);
    if (mi->ops->unmerge(mi->state, m, e))
        return e->code;
    mi->merged = false;
    return ERR_OK;
}

static const char *type_name(enum hp_type t)
{
    static const char *n[] = {"int", "float", "bool", "choice", "list"};
    return n[t];
}

/* An hp_def's range as text: integers as integers ("[1, 512]", never "1e+06"). */
static void range_text(char *buf, size_t n, const struct hp_def *d)
{
    buf[0] = '\0';
    if (d->type == HP_INT)
        snprintf(buf, n, "[%.0f, %.0f]", d->lo, d->hi);
    else if (d->type == HP_FLOAT)
        snprintf(buf, n, "[%g, %g]", d->lo, d->hi);
    else if (d->type == HP_ENUM || d->type == HP_SET)
        snprintf(buf, n, "{%s}", d->choices);
}

/* A learning rate as people write it: 5e-4, 2e-5, 1.5e-3 (never 0.0005). */
static const char *sci(double x, char *buf, size_t size)
{
    char m[32];
    int ex = 0;
    snprintf(m, sizeof m, "%.3e", x); /* "5.000e-04" */
    char *e = strchr(m, 'e');
    if (!e)
        return snprintf(buf, size, "%s", m), buf;
    ex = atoi(e + 1);
    *e = '\0';
    for (char *z = e - 1; z > m && (*z == '0' || *z == '.'); z--) {
        bool dot = *z == '.';
        *z = '\0';
        if (dot)
            break;
    }
    snprintf(buf, size, "%se%d", m, ex);
    return buf;
}

const char *method_train_text(const struct method_train *t, char *buf, size_t size)
{
    size_t o = 0;
    char num[48];
    buf[0] = '\0';
    if (t->lr > 0)
        o = str_appendf(buf, size, o, "lr %s", sci(t->lr, num, sizeof num));
    if (t->epochs > 0)
        o = str_appendf(buf, size, o, "%sepochs %d", o ? ", " : "", t->epochs);
    if (t->has_warmup_ratio)
        o = str_appendf(buf, size, o, "%swarmup_ratio %g", o ? ", " : "", t->warmup_ratio);
    if (t->has_weight_decay)
        o = str_appendf(buf, size, o, "%sweight_decay %g", o ? ", " : "", t->weight_decay);
    if (o == 0)
        snprintf(buf, size, "(none: the global train defaults)");
    return buf;
}

void method_print(FILE *out, const struct method_ops *m)
{
    char tr[160];
    fprintf(out, "%s\n    %s\n    defaults follow: %s\n", m->name, m->summary, m->source);
    fprintf(out, "    train defaults: %s\n", method_train_text(&m->train, tr, sizeof tr));
    if (m->train.source)
        fprintf(out, "        source: %s\n", m->train.source);
    for (int k = 0; k < m->nhps; k++) {
        const struct hp_def *d = &m->hps[k];
        char range[96];
        range_text(range, sizeof range, d);
        fprintf(out, "    %-18s %-6s default %-10s %-28s %s\n", d->name, type_name(d->type),
                d->def ? d->def : "(unset)", range, d->doc);
    }
}

void registry_print(FILE *out)
{
    for (int i = 0; i < registry_count(); i++) {
        method_print(out, methods[i]);
        fprintf(out, "\n");
    }
}
