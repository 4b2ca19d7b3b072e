/*
 * yaml_node: the ynode tree itself (see yaml_node.h): reference-counted
 * source names, node constructors, container edits, lookup, deep copies
 * (counted against a load budget when they expand an alias), sorted key
 * views, and the "file:line:col: ..." messages every YAML schema checker
 * reports with.
 */
#include "harness/yaml/yaml_node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sources, nodes ------------------------------------------------------ */

struct ysrc *ysrc_new(const char *name)
{
    size_t n = strlen(name);
    struct ysrc *s = malloc(sizeof *s + n + 1);
    if (!s)
        return NULL;
    s->refs = 1;
    memcpy(s->name, name, n + 1);
    return s;
}

struct ysrc *ysrc_ref(struct ysrc *s)
{
    s->refs++;
    return s;
}

void ysrc_unref(struct ysrc *s)
{
    if (s && --s->refs == 0)
        free(s);
}

struct ynode *ynode_new(enum ynode_kind kind, struct ysrc *src, int line, int col)
{
    struct ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->src = ysrc_ref(src);
    n->file = src->name;
    n->line = line;
    n->col = col;
    return n;
}

struct ynode *ynode_new_scalar(struct ysrc *src, int line, int col, const char *text, size_t len,
                               bool quoted)
{
    struct ynode *n = ynode_new(YNODE_SCALAR, src, line, col);
    if (!n)
        return NULL;
    n->text = malloc(len + 1);
    if (!n->text) {
        ynode_free(n);
        return NULL;
    }
    memcpy(n->text, text, len);
    n->text[len] = '\0';
    n->len = len;
    n->quoted = quoted;
    return n;
}

void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        ynode_free(n->items[i]);
        if (n->keys)
            ynode_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    ysrc_unref(n->src);
    free(n);
}

/* Free only the shell of a container whose children were moved elsewhere. */
void ynode_free_shell(struct ynode *n)
{
    free(n->items);
    free(n->keys);
    free(n->text);
    ysrc_unref(n->src);
    free(n);
}

static int grow(struct ynode *p)
{
    if (p->n < p->cap)
        return 0;
    size_t cap = p->cap ? 2 * p->cap : 4;
    struct ynode **it = realloc(p->items, cap * sizeof *it);
    if (!it)
        return -1;
    p->items = it;
    if (p->kind == YNODE_MAP) {
        struct ynode **k = realloc(p->keys, cap * sizeof *k);
        if (!k)
            return -1;
        p->keys = k;
    }
    p->cap = cap;
    return 0;
}

int ynode_seq_push(struct ynode *seq, struct ynode *item)
{
    if (grow(seq))
        return -1;
    seq->items[seq->n++] = item;
    return 0;
}

int ynode_map_push(struct ynode *map, struct ynode *key, struct ynode *val)
{
    if (grow(map))
        return -1;
    map->keys[map->n] = key;
    map->items[map->n++] = val;
    return 0;
}

void ynode_map_remove(struct ynode *map, size_t i, struct ynode **key, struct ynode **val)
{
    *key = map->keys[i];
    *val = map->items[i];
    memmove(map->keys + i, map->keys + i + 1, (map->n - i - 1) * sizeof *map->keys);
    memmove(map->items + i, map->items + i + 1, (map->n - i - 1) * sizeof *map->items);
    map->n--;
}

long ynode_map_index(const struct ynode *m, const char *key)
{
    if (!m || m->kind != YNODE_MAP)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i]->text, key) == 0)
            return (long)i;
    return -1;
}

const struct ynode *ynode_get(const struct ynode *m, const char *key)
{
    long i = ynode_map_index(m, key);
    return i < 0 ? NULL : m->items[i];
}

/* Copy n; when b is non-NULL the copies count against it (alias expansion). */
struct ynode *ynode_clone_counted(const struct ynode *n, struct ynode_budget *b, int depth,
                                  int *why)
{
    if (b) {
        if (++b->nodes > YAML_MAX_NODES) {
            *why = 1;
            return NULL;
        }
        if (n->kind == YNODE_SCALAR && (b->text += n->len) > YAML_MAX_TEXT_BYTES) {
            *why = 2;
            return NULL;
        }
        if (n->kind != YNODE_SCALAR && depth > YAML_MAX_DEPTH) {
            *why = 3;
            return NULL;
        }
    }
    struct ynode *c;
    if (n->kind == YNODE_SCALAR)
        c = ynode_new_scalar(n->src, n->line, n->col, n->text, n->len, n->quoted);
    else
        c = ynode_new(n->kind, n->src, n->line, n->col);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        struct ynode *v = ynode_clone_counted(n->items[i], b, depth + 1, why);
        struct ynode *k = v && n->keys ? ynode_clone_counted(n->keys[i], b, depth + 1, why) : NULL;
        int bad = !v || (n->keys && !k);
        if (!bad)
            bad = n->keys ? ynode_map_push(c, k, v) : ynode_seq_push(c, v);
        if (bad) {
            ynode_free(v);
            ynode_free(k);
            ynode_free(c);
            return NULL;
        }
    }
    return c;
}

struct ynode *ynode_clone(const struct ynode *n)
{
    int why = 0;
    return n ? ynode_clone_counted(n, NULL, 0, &why) : NULL;
}

/* ---- messages ------------------------------------------------------------ */

static const char *where_of(const char *file, int line, int col, char *buf, size_t size)
{
    if (line > 0)
        snprintf(buf, size, "%s:%d:%d", file, line, col);
    else
        snprintf(buf, size, "%s", file);
    return buf;
}

const char *ynode_where(const struct ynode *n, char *buf, size_t size)
{
    if (!n) {
        snprintf(buf, size, "%s", "?");
        return buf;
    }
    return where_of(n->file, n->line, n->col, buf, size);
}

bool ynode_is_null(const struct ynode *n)
{
    if (!n)
        return true;
    if (n->kind != YNODE_SCALAR || n->quoted)
        return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
        if (strcmp(n->text, nulls[i]) == 0)
            return true;
    return false;
}

const char *ynode_describe(const struct ynode *n, char *buf, size_t size)
{
    if (!n || ynode_is_null(n))
        snprintf(buf, size, "%s", "nothing (null)");
    else if (n->kind == YNODE_SEQ)
        snprintf(buf, size, "%s", "a list");
    else if (n->kind == YNODE_MAP)
        snprintf(buf, size, "%s", "a mapping");
    else if (n->len > 40)
        snprintf(buf, size, "'%.40s...'", n->text);
    else
        snprintf(buf, size, "'%s'", n->text);
    return buf;
}

/* "file:line:col: message" (or "file: message" when line is 0). */
int ynode_fail_at(struct err *e, int code, const char *file, int line, int col, const char *fmt,
                  ...)
{
    char msg[ERR_MSG_MAX], w[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where_of(file, line, col, w, sizeof w);
    return ERR_SET(e, code, "%.300s: %s", w, msg);
}

int ynode_fail(struct err *e, int code, const struct ynode *n, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX], w[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ERR_SET(e, code, "%.300s: %s", ynode_where(n, w, sizeof w), msg);
}

/* ---- sorted keys --------------------------------------------------------- */

static int keyref_cmp(const void *a, const void *b)
{
    const struct ynode_keyref *x = a, *y = b;
    int c = strcmp(x->key->text, y->key->text);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Sorted view of a mapping's keys (ties by position); NULL on no memory. */
struct ynode_keyref *ynode_sorted_keys(const struct ynode *map)
{
    struct ynode_keyref *r = malloc((map->n ? map->n : 1) * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        r[i] = (struct ynode_keyref){map->keys[i], i};
    qsort(r, map->n, sizeof *r, keyref_cmp);
    return r;
}
