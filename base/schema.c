#include "base/schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"

int hp_choice_index(const char *choices, const char *word)
{
    if (!choices || !word)
        return -1;
    size_t wl = strlen(word);
    int k = 0;
    for (const char *p = choices;; k++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == wl && strncmp(p, word, len) == 0)
            return k;
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

const char *hp_choice_name(const char *choices, int k, char *buf, size_t n)
{
    const char *p = choices;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p || n == 0) {
        if (n)
            buf[0] = '\0';
        return buf;
    }
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= n)
        len = n - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

static int nchoices(const char *choices)
{
    int n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    return n;
}

int hp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(int));
    }
    return prev[lb] > 99 ? 99 : prev[lb];
}

const char *hp_did_you_mean(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; i < n; i++) {
        int d = hp_edit_distance(word, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    /* close enough: at most a third of the word's letters wrong (and at least 1 allowed) */
    int lim = (int)strlen(word) / 3;
    return bd <= (lim < 1 ? 1 : lim) ? best : NULL;
}

const char *hp_guess(const char *word, const char *const *cands, int n)
{
    const char *g = hp_did_you_mean(word, cands, n);
    size_t len = strlen(word);
    for (int i = 0; i < n && !g; i++) {
        if (strlen(cands[i]) != len)
            continue;
        size_t ndiff = 0, at = 0;
        for (size_t k = 0; k < len; k++)
            if (word[k] != cands[i][k] && ndiff++ == 0)
                at = k;
        if (ndiff == 2 && at + 1 < len && word[at] == cands[i][at + 1] &&
            word[at + 1] == cands[i][at])
            g = cands[i];
    }
    return g;
}

/* An integer: decimal digits, or a number with no fractional part such as "1e3" or "512.0"
 * (YAML writers and people write those for counts); "1.5" is refused. */
static int parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (!errno && end != s && !*end) {
        *v = x;
        return 0;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
        return -1;
    *v = (long)d;
    return 0;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

#define WHERE(kv) ((kv)->where ? (kv)->where : ""), ((kv)->where ? ": " : "")

static int parse_set(struct hp_val *o, const char *method, const struct hp_def *d,
                     const struct hp_kv *kv, struct err *e)
{
    /* A heap copy, not a fixed buffer: truncating a long value (say padded with spaces) would
     * silently drop the choices after the cut. */
    char *buf = strdup(kv->value ? kv->value : "");
    if (!buf)
        return ERR_SET(e, ERR_NOMEM, "%s%s%s.%s: out of memory", WHERE(kv), method, d->name);
    o->mask = 0;
    int rc = ERR_OK;
    for (char *save = NULL, *tok = strtok_r(buf, ", []", &save); tok && !rc;
         tok = strtok_r(NULL, ", []", &save)) {
        int k = hp_choice_index(d->choices, tok);
        if (k < 0)
            rc = ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: '%.64s' is not one of %s", WHERE(kv), method,
                         d->name, tok, d->choices);
        else if (o->mask & (1u << k))
            rc = ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: '%s' listed twice", WHERE(kv), method, d->name,
                         tok);
        else
            o->mask |= 1u << k;
    }
    free(buf);
    if (rc)
        return rc;
    if (!o->mask)
        return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: expected a non-empty list of %s", WHERE(kv),
                       method, d->name, d->choices);
    return ERR_OK;
}

/* Parse text for def d into o.  kv gives the location for messages. */
static int parse_value(struct hp_val *o, const char *method, const struct hp_def *d,
                       const struct hp_kv *kv, struct err *e)
{
    const char *s = kv->value ? kv->value : "";
    switch (d->type) {
    case HP_INT:
        if (parse_long(s, &o->i))
            return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: expected an integer, found '%s'", WHERE(kv),
                           method, d->name, s);
        if ((double)o->i < d->lo || (double)o->i > d->hi)
            return ERR_SET(e, ERR_RANGE, "%s%s%s.%s = %ld is outside the allowed range [%.0f, %.0f]",
                           WHERE(kv), method, d->name, o->i, d->lo, d->hi);
        o->f = (double)o->i;
        break;
    case HP_FLOAT:
        if (parse_double(s, &o->f))
            return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: expected a number, found '%s'", WHERE(kv),
                           method, d->name, s);
        if (o->f < d->lo || o->f > d->hi)
            return ERR_SET(e, ERR_RANGE, "%s%s%s.%s = %g is outside the allowed range [%g, %g]",
                           WHERE(kv), method, d->name, o->f, d->lo, d->hi);
        break;
    case HP_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: expected true or false, found '%s'",
                           WHERE(kv), method, d->name, s);
        o->b = s[0] == 't';
        break;
    case HP_ENUM:
        o->i = hp_choice_index(d->choices, s);
        if (o->i < 0)
            return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s: '%s' is not one of %s", WHERE(kv), method,
                           d->name, s, d->choices);
        break;
    case HP_SET:
        if (parse_set(o, method, d, kv, e))
            return e->code;
        break;
    }
    o->set = true;
    return ERR_OK;
}

static int unknown_key(const char *method, const struct hp_def *defs, int ndefs,
                       const struct hp_kv *kv, struct err *e)
{
    const char *names[HP_MAX] = {0};
    char list[512];
    for (int i = 0; i < ndefs && i < HP_MAX; i++)
        names[i] = defs[i].name;
    str_join(list, sizeof list, names, ndefs < HP_MAX ? ndefs : HP_MAX);
    const char *guess = hp_did_you_mean(kv->key, names, ndefs < HP_MAX ? ndefs : HP_MAX);
    if (ndefs == 0)
        return ERR_SET(e, ERR_CONFIG, "%s%smethod '%s' takes no hyperparameters (got '%s')",
                       WHERE(kv), method, kv->key);
    if (guess)
        return ERR_SET(e, ERR_CONFIG,
                       "%s%sunknown hyperparameter '%s' for method '%s' (did you mean '%s'?); "
                       "valid: %s",
                       WHERE(kv), kv->key, method, guess, list);
    return ERR_SET(e, ERR_CONFIG, "%s%sunknown hyperparameter '%s' for method '%s'; valid: %s",
                   WHERE(kv), kv->key, method, list);
}

int hp_parse(struct hp_values *out, const char *method, const struct hp_def *defs, int ndefs,
             const struct hp_kv *kv, int nkv, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (ndefs > HP_MAX)
        return ERR_SET(e, ERR_STATE, "method '%s' declares more than %d hyperparameters", method,
                       HP_MAX);
    out->defs = defs;
    out->n = ndefs;
    for (int i = 0; i < ndefs; i++) {
        if (!defs[i].def)
            continue;
        struct hp_kv dkv = {defs[i].name, defs[i].def, "default"};
        if (parse_value(&out->v[i], method, &defs[i], &dkv, e))
            return e->code;
    }
    for (int k = 0; k < nkv; k++) {
        int i = hp_index(out, kv[k].key);
        if (i < 0)
            return unknown_key(method, defs, ndefs, &kv[k], e);
        if (out->v[i].given)
            return ERR_SET(e, ERR_CONFIG, "%s%s%s.%s given twice", WHERE(&kv[k]), method,
                           kv[k].key);
        if (parse_value(&out->v[i], method, &defs[i], &kv[k], e))
            return e->code;
        out->v[i].given = true;
    }
    return ERR_OK;
}

int hp_index(const struct hp_values *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->defs[i].name, name) == 0)
            return i;
    return -1;
}

static const struct hp_val *get(const struct hp_values *h, const char *name)
{
    int i = hp_index(h, name);
    if (i < 0) {
        fprintf(stderr, "internal error: hyperparameter '%s' is not declared\n", name);
        abort(); /* invariant: method code only asks for names it declares */
    }
    return &h->v[i];
}

long hp_int(const struct hp_values *h, const char *name)
{
    return get(h, name)->i;
}

double hp_float(const struct hp_values *h, const char *name)
{
    return get(h, name)->f;
}

bool hp_bool(const struct hp_values *h, const char *name)
{
    return get(h, name)->b;
}

int hp_enum(const struct hp_values *h, const char *name)
{
    return (int)get(h, name)->i;
}

const char *hp_enum_name(const struct hp_values *h, const char *name)
{
    static _Thread_local char buf[64];
    int i = hp_index(h, name);
    return hp_choice_name(h->defs[i].choices, (int)get(h, name)->i, buf, sizeof buf);
}

uint32_t hp_set(const struct hp_values *h, const char *name)
{
    return get(h, name)->mask;
}

bool hp_is_set(const struct hp_values *h, const char *name)
{
    return get(h, name)->set;
}

void hp_format(const struct hp_values *h, int idx, char *buf, size_t n)
{
    const struct hp_def *d = &h->defs[idx];
    const struct hp_val *v = &h->v[idx];
    char c[64];
    if (!v->set) {
        snprintf(buf, n, "%s", "");
        return;
    }
    switch (d->type) {
    case HP_INT: snprintf(buf, n, "%ld", v->i); break;
    case HP_FLOAT: snprintf(buf, n, "%.9g", v->f); break;
    case HP_BOOL: snprintf(buf, n, "%s", v->b ? "true" : "false"); break;
    case HP_ENUM: snprintf(buf, n, "%s", hp_choice_name(d->choices, (int)v->i, c, sizeof c)); break;
    case HP_SET: {
        size_t o = 0;
        buf[0] = '\0';
        for (int k = 0; k < nchoices(d->choices) && k < 32; k++)
            if (v->mask & (1u << k))
                o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", o ? "," : "",
                                      hp_choice_name(d->choices, k, c, sizeof c));
        break;
    }
    }
}
