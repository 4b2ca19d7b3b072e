/*
 * sweep_schema: checks of YAML nodes shared by the parts of the sweep schema
 * (see sweep_schema.h): unknown keys with a did-you-mean, names and strings,
 * and the text and kinds of values.
 */
#include "harness/sweep/sweep_schema.h"

#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"

/* ---- messages ------------------------------------------------------------ */

int sweep_unknown_key(struct err *e, const struct ynode *key, const char *what,
                      const char *const *valid, int nvalid)
{
    char list[320];
    const char *guess = hp_guess(key->text, valid, nvalid);
    str_join(list, sizeof list, valid, nvalid);
    if (guess)
        return ynode_fail(e, ERR_CONFIG, key,
                     "unknown key '%.60s' in %s (did you mean '%s'?); valid keys: %s", key->text,
                     what, guess, list);
    return ynode_fail(e, ERR_CONFIG, key, "unknown key '%.60s' in %s; valid keys: %s", key->text, what,
                 list);
}

/* ---- scalar parsing ------------------------------------------------------ */

bool sweep_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* A non-null scalar copied into dst[cap]. */
int sweep_get_string(const struct ynode *n, const char *what, char *dst, size_t cap, struct err *e)
{
    if (!n || n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "%s: expected a string, found %s", what,
                          SWEEP_DESCRIBE(n));
    if (n->len == 0)
        return ynode_fail(e, ERR_CONFIG, n, "%s: expected a non-empty string, found ''", what);
    if (n->len >= cap)
        return ynode_fail(e, ERR_LIMIT, n, "%s: expected at most %zu characters, found %zu", what,
                     cap - 1, n->len);
    memcpy(dst, n->text, n->len + 1);
    return 0;
}

/* ---- values -------------------------------------------------------------- */

/* Text of a value node: a scalar's text, or a flat list of scalars joined by ','. */
char *sweep_value_text(const struct ynode *v)
{
    if (v->kind == YNODE_SCALAR)
        return strdup(v->text);
    size_t len = 1;
    for (size_t i = 0; i < v->n; i++)
        len += v->items[i]->len + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i)
            s[o++] = ',';
        memcpy(s + o, v->items[i]->text, v->items[i]->len);
        o += v->items[i]->len;
    }
    s[o] = '\0';
    return s;
}

bool sweep_all_kind(const struct ynode *seq, enum ynode_kind k)
{
    for (size_t i = 0; i < seq->n; i++)
        if (seq->items[i]->kind != k)
            return false;
    return true;
}
