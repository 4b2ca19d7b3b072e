/*
 * yaml: libyaml event stream -> owned node tree, with the limits documented
 * in yaml.h.  Containers are attached to their parent when they start, so a
 * partial tree is always reachable from the root and one ynode_free cleans
 * up after any error.
 */
#include "harness/sweep/yaml.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "base/strfmt.h"

#define OVERRIDE_MAX_SEGMENTS 16

struct ysrc {
    int refs;
    char name[];
};

struct budget {
    size_t nodes; /* nodes made so far (files, includes, alias copies) */
    size_t text;  /* scalar bytes made so far */
};

/* ---- sources, nodes ------------------------------------------------------ */

static struct ysrc *src_new(const char *name)
{
    size_t n = strlen(name);
    struct ysrc *s = malloc(sizeof *s + n + 1);
    if (!s)
        return NULL;
    s->refs = 1;
    memcpy(s->name, name, n + 1);
    return s;
}

static struct ysrc *src_ref(struct ysrc *s)
{
    s->refs++;
    return s;
}

static void src_unref(struct ysrc *s)
{
    if (s && --s->refs == 0)
        free(s);
}

static struct ynode *node_new(enum ynode_kind kind, struct ysrc *src, int line, int col)
{
    struct ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->src = src_ref(src);
    n->file = src->name;
    n->line = line;
    n->col = col;
    return n;
}

static struct ynode *scalar_new(struct ysrc *src, int line, int col, const char *text, size_t len,
                                bool quoted)
{
    struct ynode *n = node_new(YNODE_SCALAR, src, line, col);
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
    src_unref(n->src);
    free(n);
}

/* Free only the shell of a container whose children were moved elsewhere. */
static void node_free_shell(struct ynode *n)
{
    free(n->items);
    free(n->keys);
    free(n->text);
    src_unref(n->src);
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

static int seq_push(struct ynode *seq, struct ynode *item)
{
    if (grow(seq))
        return -1;
    seq->items[seq->n++] = item;
    return 0;
}

static int map_push(struct ynode *map, struct ynode *key, struct ynode *val)
{
    if (grow(map))
        return -1;
    map->keys[map->n] = key;
    map->items[map->n++] = val;
    return 0;
}

static void map_remove(struct ynode *map, size_t i, struct ynode **key, struct ynode **val)
{
    *key = map->keys[i];
    *val = map->items[i];
    memmove(map->keys + i, map->keys + i + 1, (map->n - i - 1) * sizeof *map->keys);
    memmove(map->items + i, map->items + i + 1, (map->n - i - 1) * sizeof *map->items);
    map->n--;
}

static long map_index(const struct ynode *m, const char *key)
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
    long i = map_index(m, key);
    return i < 0 ? NULL : m->items[i];
}

/* Copy n; when b is non-NULL the copies count against it (alias expansion). */
static struct ynode *clone_rec(const struct ynode *n, struct budget *b, int depth, int *why)
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
        c = scalar_new(n->src, n->line, n->col, n->text, n->len, n->quoted);
    else
        c = node_new(n->kind, n->src, n->line, n->col);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n->n; i++) {
        struct ynode *v = clone_rec(n->items[i], b, depth + 1, why);
        struct ynode *k = v && n->keys ? clone_rec(n->keys[i], b, depth + 1, why) : NULL;
        int bad = !v || (n->keys && !k);
        if (!bad)
            bad = n->keys ? map_push(c, k, v) : seq_push(c, v);
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
    return n ? clone_rec(n, NULL, 0, &why) : NULL;
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
static int fail_at(struct err *e, int code, const char *file, int line, int col, const char *fmt,
                   ...) __attribute__((format(printf, 6, 7)));

static int fail_at(struct err *e, int code, const char *file, int line, int col, const char *fmt,
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

/* ---- parsing ------------------------------------------------------------- */

struct anchor {
    char *name;         /* owned */
    struct ynode *node; /* borrowed: part of the tree being built */
};

struct frame {
    struct ynode *node; /* borrowed: attached to its parent (or the root) */
    struct ynode *key;  /* owned: MAP key waiting for its value */
    char *anchor;       /* owned: anchor to register when the container ends */
};

struct builder {
    struct ysrc *src;
    bool lineless; /* override text: positions are meaningless */
    const char *buf;
    size_t len;
    struct budget *b;
    struct frame stack[YAML_MAX_DEPTH];
    int depth;
    struct anchor anchors[YAML_MAX_ANCHORS];
    int nanchors;
    struct ynode *root;
    int ndocs;
};

static int line_of(const struct builder *B, yaml_mark_t m)
{
    return B->lineless ? 0 : (int)m.line + 1;
}

static int col_of(const struct builder *B, yaml_mark_t m)
{
    return B->lineless ? 0 : (int)m.column + 1;
}

static int bfail(struct builder *B, struct err *e, int code, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bfail(struct builder *B, struct err *e, int code, yaml_mark_t m, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail_at(e, code, B->src->name, line_of(B, m), col_of(B, m), "%s", msg);
}

static void builder_free(struct builder *B)
{
    for (int i = 0; i < B->depth; i++) {
        ynode_free(B->stack[i].key);
        free(B->stack[i].anchor);
    }
    for (int i = 0; i < B->nanchors; i++)
        free(B->anchors[i].name);
    ynode_free(B->root);
    B->root = NULL;
}

static int add_anchor(struct builder *B, const char *name, struct ynode *n, yaml_mark_t m,
                      struct err *e)
{
    for (int i = B->nanchors - 1; i >= 0; i--)
        if (strcmp(B->anchors[i].name, name) == 0) {
            B->anchors[i].node = n; /* YAML allows redefinition: the latest wins */
            return 0;
        }
    if (B->nanchors == YAML_MAX_ANCHORS)
        return bfail(B, e, ERR_LIMIT, m,
                     "more than %d anchors (&name) in one file (YAML_MAX_ANCHORS)",
                     YAML_MAX_ANCHORS);
    char *c = strdup(name);
    if (!c)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    B->anchors[B->nanchors++] = (struct anchor){c, n};
    return 0;
}

/* Attach n (owned) under the innermost open container, or make it the root. */
static int attach(struct builder *B, struct ynode *n, yaml_mark_t m, struct err *e)
{
    if (B->depth == 0) {
        B->root = n;
        return 0;
    }
    struct frame *f = &B->stack[B->depth - 1];
    if (f->node->kind == YNODE_SEQ) {
        if (seq_push(f->node, n)) {
            ynode_free(n);
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        }
        return 0;
    }
    if (!f->key) {
        char d[80];
        if (n->kind != YNODE_SCALAR) {
            ynode_describe(n, d, sizeof d);
            ynode_free(n);
            return bfail(B, e, ERR_FORMAT, m, "expected a string as mapping key, found %s", d);
        }
        if (!n->quoted && strcmp(n->text, "<<") == 0) {
            ynode_free(n);
            return bfail(B, e, ERR_UNSUPPORTED, m,
                         "merge keys ('<<') are not supported; use 'include:' to share settings");
        }
        f->key = n;
        return 0;
    }
    if (map_push(f->node, f->key, n)) {
        ynode_free(n);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    f->key = NULL;
    return 0;
}

static int count_node(struct builder *B, size_t text, yaml_mark_t m, struct err *e)
{
    if (++B->b->nodes > YAML_MAX_NODES)
        return bfail(B, e, ERR_LIMIT, m,
                     "more than %d YAML nodes (YAML_MAX_NODES); the file is too big to be a sweep",
                     YAML_MAX_NODES);
    if ((B->b->text += text) > YAML_MAX_TEXT_BYTES)
        return bfail(B, e, ERR_LIMIT, m,
                     "more than %u bytes of text in total (YAML_MAX_TEXT_BYTES)",
                     (unsigned)YAML_MAX_TEXT_BYTES);
    return 0;
}

struct keyref {
    const struct ynode *key;
    size_t i;
};

static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int c = strcmp(x->key->text, y->key->text);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Sorted view of a mapping's keys (ties by position); NULL on no memory. */
static struct keyref *sorted_keys(const struct ynode *map)
{
    struct keyref *r = malloc((map->n ? map->n : 1) * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        r[i] = (struct keyref){map->keys[i], i};
    qsort(r, map->n, sizeof *r, keyref_cmp);
    return r;
}

/* Duplicate keys, checked when a mapping is complete (sorting keeps big maps fast). */
static int check_duplicates(const struct ynode *map, struct err *e)
{
    if (map->n < 2)
        return 0;
    struct keyref *r = sorted_keys(map);
    if (!r)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    size_t dup = SIZE_MAX, first = 0;
    for (size_t k = 1; k < map->n; k++)
        if (strcmp(r[k - 1].key->text, r[k].key->text) == 0 && r[k].i < dup) {
            dup = r[k].i;
            first = r[k - 1].i;
        }
    free(r);
    if (dup == SIZE_MAX)
        return 0;
    const struct ynode *k2 = map->keys[dup], *k1 = map->keys[first];
    return fail_at(e, ERR_FORMAT, k2->file, k2->line, k2->col,
                   "duplicate key '%.100s' (first defined at line %d); each key may appear once "
                   "per mapping",
                   k2->text, k1->line);
}

static int on_event(struct builder *B, yaml_event_t *ev, struct err *e)
{
    yaml_mark_t m = ev->start_mark;
    int line = line_of(B, m), col = col_of(B, m);
    const yaml_char_t *tag = NULL, *anchor = NULL;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++B->ndocs > 1)
            return bfail(B, e, ERR_FORMAT, m,
                         "expected a single YAML document, found a second one ('---')");
        return 0;
    case YAML_SCALAR_EVENT: {
        tag = ev->data.scalar.tag;
        anchor = ev->data.scalar.anchor;
        if (tag)
            return bfail(B, e, ERR_UNSUPPORTED, m,
                         "YAML tags are not supported (found '%.60s'); write the value plainly "
                         "or quote it",
                         (const char *)tag);
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (memchr(v, '\0', len))
            return bfail(B, e, ERR_FORMAT, m, "expected text, found a NUL character in a string");
        if (count_node(B, len, m, e))
            return e->code;
        struct ynode *n =
            scalar_new(B->src, line, col, v, len, ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
        if (!n)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        if (attach(B, n, m, e))
            return e->code;
        if (anchor && add_anchor(B, (const char *)anchor, n, m, e))
            return e->code;
        return 0;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        const struct ynode *target = NULL;
        for (int i = B->nanchors - 1; i >= 0 && !target; i--)
            if (strcmp(B->anchors[i].name, name) == 0)
                target = B->anchors[i].node;
        if (!target)
            return bfail(B, e, ERR_FORMAT, m,
                         "alias '*%.60s' refers to no complete anchor '&%.60s' before it", name,
                         name);
        int why = 0;
        struct ynode *c = clone_rec(target, B->b, B->depth + 1, &why);
        if (!c && why == 1)
            return bfail(
                B, e, ERR_LIMIT, m,
                "alias '*%.60s' expands past the limit of %d YAML nodes (YAML_MAX_NODES; an "
                "alias bomb?); "
                "write the values out or use include:",
                name, YAML_MAX_NODES);
        if (!c && why == 2)
            return bfail(B, e, ERR_LIMIT, m,
                         "alias '*%.60s' expands past %u bytes of text (YAML_MAX_TEXT_BYTES)", name,
                         (unsigned)YAML_MAX_TEXT_BYTES);
        if (!c && why == 3)
            return bfail(B, e, ERR_LIMIT, m,
                         "alias '*%.60s' nests deeper than the limit of %d levels (YAML_MAX_DEPTH)",
                         name, YAML_MAX_DEPTH);
        if (!c)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        return attach(B, c, m, e);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
        anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        if (tag)
            return bfail(B, e, ERR_UNSUPPORTED, m, "YAML tags are not supported (found '%.60s')",
                         (const char *)tag);
        if (B->depth == YAML_MAX_DEPTH)
            return bfail(B, e, ERR_LIMIT, m,
                         "expected at most %d nested lists/mappings, found deeper nesting "
                         "(YAML_MAX_DEPTH)",
                         YAML_MAX_DEPTH);
        if (count_node(B, 0, m, e))
            return e->code;
        struct ynode *n = node_new(seq ? YNODE_SEQ : YNODE_MAP, B->src, line, col);
        if (!n)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        if (attach(B, n, m, e))
            return e->code;
        struct frame *f = &B->stack[B->depth++];
        *f = (struct frame){n, NULL, NULL};
        if (anchor && !(f->anchor = strdup((const char *)anchor)))
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        struct frame *f = &B->stack[B->depth - 1];
        if (f->node->kind == YNODE_MAP && check_duplicates(f->node, e))
            return e->code;
        int rc = f->anchor ? add_anchor(B, f->anchor, f->node, m, e) : 0;
        free(f->anchor);
        f->anchor = NULL;
        B->depth--;
        return rc;
    }
    default:
        return 0;
    }
}

static int syntax_error(struct builder *B, const yaml_parser_t *p, struct err *e)
{
    if (p->error == YAML_MEMORY_ERROR)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory while parsing YAML", B->src->name);
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors (bad UTF-8, control characters) carry only a byte offset. */
        m.line = 0, m.column = 0;
        for (size_t i = 0; i < p->problem_offset && i < B->len; i++) {
            if (B->buf[i] == '\n')
                m.line++, m.column = 0;
            else
                m.column++;
        }
        return bfail(B, e, ERR_FORMAT, m, "invalid YAML text: %s (byte 0x%02x)",
                     p->problem ? p->problem : "unreadable input",
                     (unsigned)p->problem_value & 0xff);
    }
    const char *hint = "";
    if (m.index < B->len && B->buf[m.index] == '\t')
        hint = " (a tab: YAML indentation must use spaces)";
    char ctx[160] = "";
    if (p->context)
        snprintf(ctx, sizeof ctx, " (%s at line %d)", p->context, (int)p->context_mark.line + 1);
    return bfail(B, e, ERR_FORMAT, m, "invalid YAML: %s%s%s",
                 p->problem ? p->problem : "syntax error", hint, ctx);
}

/* Parse buf into *out, naming nodes after src. */
static int parse_buffer(struct ynode **out, const char *buf, size_t len, struct ysrc *src,
                        bool lineless, struct budget *b, struct err *e)
{
    *out = NULL;
    struct builder *B = calloc(1, sizeof *B);
    if (!B)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    B->src = src;
    B->lineless = lineless;
    B->buf = buf;
    B->len = len;
    B->b = b;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(B);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(B, &p, e);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(B, &ev, e);
        yaml_event_delete(&ev);
        if (rc || end)
            break;
    }
    yaml_parser_delete(&p);
    if (!rc) {
        *out = B->root;
        B->root = NULL;
    }
    builder_free(B);
    free(B);
    return rc;
}

int ynode_parse_string(struct ynode **out, const char *text, size_t len, const char *name,
                       struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    *out = NULL;
    struct ysrc *src = src_new(name ? name : "<string>");
    if (!src)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    struct budget b = {0, 0};
    int rc = len > YAML_MAX_FILE_BYTES
                 ? fail_at(e, ERR_LIMIT, src->name, 0, 0,
                           "expected at most 1 MiB of YAML (YAML_MAX_FILE_BYTES)")
                 : parse_buffer(out, text, len, src, false, &b, e);
    src_unref(src);
    return rc;
}

/* ---- files and includes -------------------------------------------------- */

static int read_file(const char *path, const char *from, char **buf, size_t *len, struct err *e)
{
    *buf = NULL;
    *len = 0;
    char pre[ERR_MSG_MAX] = "";
    if (from)
        snprintf(pre, sizeof pre, "%.300s: included file ", from);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "%s%.300s: cannot open: %s", pre, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ERR_SET(e, ERR_IO, "%s%.300s: expected a YAML file, found a directory", pre, path);
    }
    /* Read at most cap + 1 bytes whatever stat says (pipes, growing files). */
    size_t cap = YAML_MAX_FILE_BYTES;
    char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    size_t n = fread(b, 1, cap + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return ERR_SET(e, ERR_IO, "%s%.300s: read error", pre, path);
    }
    if (n > cap) {
        /* point at where the limit is crossed, so the message has a line like any other */
        int line = 1, col = 1;
        for (size_t i = 0; i < cap; i++) {
            if (b[i] == '\n')
                line++, col = 1;
            else
                col++;
        }
        free(b);
        return ERR_SET(e, ERR_LIMIT,
                       "%s%.300s:%d:%d: file is larger than the 1 MiB limit for YAML files "
                       "(YAML_MAX_FILE_BYTES; it is reached here); a sweep should be a few KiB",
                       pre, path, line, col);
    }
    *buf = b;
    *len = n;
    return 0;
}

struct incl_stack {
    char *real[YAML_MAX_INCLUDE_DEPTH + 1]; /* borrowed: realpath of each open file */
    const char *shown[YAML_MAX_INCLUDE_DEPTH + 1];
    int n;
};

/* Deep-merge over into base (both consumed); later keys win.  Returns the result. */
static struct ynode *merge(struct ynode *base, struct ynode *over, struct err *e, int *rc)
{
    if (!base)
        return over;
    if (!over)
        return base;
    if (base->kind != YNODE_MAP || over->kind != YNODE_MAP) {
        ynode_free(base);
        return over;
    }
    struct keyref *r = sorted_keys(base);
    size_t nb = base->n;
    if (!r) {
        *rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        ynode_free(over);
        return base;
    }
    for (size_t i = 0; i < over->n; i++) {
        struct ynode *k = over->keys[i], *v = over->items[i];
        over->keys[i] = over->items[i] = NULL;
        struct keyref probe = {k, 0};
        /* find the first entry with that text (ties sort by position) */
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(r[mid].key->text, probe.key->text) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nb && strcmp(r[lo].key->text, k->text) == 0) {
            size_t j = r[lo].i;
            base->items[j] = merge(base->items[j], v, e, rc);
            ynode_free(base->keys[j]);
            base->keys[j] = k;
            r[lo].key = k;
        } else if (map_push(base, k, v)) {
            ynode_free(k);
            ynode_free(v);
            *rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        }
    }
    free(r);
    over->n = 0;
    node_free_shell(over);
    return base;
}

static char *join_path(const char *parent, const char *rel)
{
    size_t dl = 0;
    if (rel[0] != '/') {
        const char *slash = strrchr(parent, '/');
        dl = slash ? (size_t)(slash - parent) + 1 : 0;
    }
    size_t rl = strlen(rel);
    char *p = malloc(dl + rl + 1);
    if (!p)
        return NULL;
    memcpy(p, parent, dl);
    memcpy(p + dl, rel, rl + 1);
    return p;
}

static int load_rec(struct ynode **out, const char *path, const struct ynode *from, bool includes,
                    struct incl_stack *st, struct budget *b, struct err *e);

static int do_includes(struct ynode **root, const char *path, bool includes, struct incl_stack *st,
                       struct budget *b, struct err *e)
{
    long ki = map_index(*root, "include");
    if (ki < 0)
        return 0;
    struct ynode *key, *val;
    map_remove(*root, (size_t)ki, &key, &val);
    ynode_free(key);
    char d[80], w[ERR_MSG_MAX];
    const struct ynode *const *list = (const struct ynode *const *)&val;
    size_t n = 1;
    if (val->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)val->items;
        n = val->n;
    }
    int rc = 0;
    struct ynode *merged = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct ynode *inc = list[i];
        if (inc->kind != YNODE_SCALAR || ynode_is_null(inc)) {
            rc = fail_at(e, ERR_CONFIG, inc->file, inc->line, inc->col,
                         "include: expected a file name or a list of file names, found %s",
                         ynode_describe(inc, d, sizeof d));
            break;
        }
        char *child_path = join_path(path, inc->text);
        if (!child_path) {
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
            break;
        }
        struct ynode *child = NULL;
        rc = load_rec(&child, child_path, inc, includes, st, b, e);
        if (!rc && child && child->kind != YNODE_MAP)
            rc = ERR_SET(e, ERR_CONFIG, "%s: included file '%.300s' must hold a mapping, found %s",
                         ynode_where(inc, w, sizeof w), child_path,
                         ynode_describe(child, d, sizeof d));
        free(child_path);
        if (rc) {
            ynode_free(child);
            break;
        }
        merged = merge(merged, child, e, &rc);
    }
    ynode_free(val);
    if (rc) {
        ynode_free(merged);
        return rc;
    }
    *root = merge(merged, *root, e, &rc);
    return rc;
}

static int load_rec(struct ynode **out, const char *path, const struct ynode *from, bool includes,
                    struct incl_stack *st, struct budget *b, struct err *e)
{
    *out = NULL;
    char w[ERR_MSG_MAX];
    const char *fw = from ? ynode_where(from, w, sizeof w) : NULL;
    char *real = realpath(path, NULL);
    if (!real) {
        if (fw)
            return ERR_SET(e, ERR_IO, "%s: cannot open included file '%.300s': %s", fw, path,
                           strerror(errno));
        return ERR_SET(e, ERR_IO, "%.300s: cannot open: %s", path, strerror(errno));
    }
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->real[i], real) == 0) {
            char chain[ERR_MSG_MAX] = "";
            size_t o = 0;
            for (int k = i; k < st->n; k++)
                o = str_appendf(chain, sizeof chain, o, "%.100s -> ", st->shown[k]);
            free(real);
            return ERR_SET(e, ERR_CONFIG, "%s: include cycle: %s%.100s", fw ? fw : path, chain,
                           path);
        }
    if (st->n > YAML_MAX_INCLUDE_DEPTH) {
        free(real);
        return ERR_SET(e, ERR_LIMIT,
                       "%s: includes nest deeper than %d levels (YAML_MAX_INCLUDE_DEPTH)",
                       fw ? fw : path, YAML_MAX_INCLUDE_DEPTH);
    }
    char *buf;
    size_t len;
    int rc = read_file(path, fw, &buf, &len, e);
    if (rc) {
        free(real);
        return rc;
    }
    struct ysrc *src = src_new(path);
    if (!src) {
        free(real);
        free(buf);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    struct ynode *root = NULL;
    rc = parse_buffer(&root, buf, len, src, false, b, e);
    src_unref(src);
    free(buf);
    if (!rc && includes && root && root->kind == YNODE_MAP) {
        st->real[st->n] = real;
        st->shown[st->n++] = path;
        rc = do_includes(&root, path, includes, st, b, e);
        st->n--;
    }
    free(real);
    if (rc) {
        ynode_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

int ynode_load_file(struct ynode **out, const char *path, bool includes, struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    struct incl_stack st = {.n = 0};
    struct budget b = {0, 0};
    return load_rec(out, path, NULL, includes, &st, &b, e);
}

/* ---- overrides ----------------------------------------------------------- */

static struct ynode *plain(struct ysrc *src, const char *s, size_t len)
{
    return scalar_new(src, 0, 0, s, len, false);
}

static int override_value(struct ynode **out, const char *v, struct ysrc *src, struct err *e)
{
    *out = NULL;
    size_t len = strlen(v);
    if (len && strchr("[{\"'", v[0])) {
        struct budget b = {0, 0};
        if (len > YAML_MAX_FILE_BYTES)
            return fail_at(e, ERR_LIMIT, src->name, 0, 0, "value longer than 1 MiB");
        int rc = parse_buffer(out, v, len, src, true, &b, e);
        if (!rc && !*out)
            *out = plain(src, "", 0);
        return rc ? rc : *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    if (!strchr(v, ',')) {
        *out = plain(src, v, len);
        return *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    struct ynode *seq = node_new(YNODE_SEQ, src, 0, 0);
    if (!seq)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (const char *p = v;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        struct ynode *it = plain(src, p, n);
        if (!it || seq_push(seq, it)) {
            ynode_free(it);
            ynode_free(seq);
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        }
        if (!c)
            break;
        p = c + 1;
    }
    *out = seq;
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Walk/create the path seg[0..nseg) under node and store val (consumed) at its end. */
static int override_set(struct ynode *node, char **seg, int nseg, struct ynode *val,
                        struct ysrc *src, struct err *e)
{
    char d[80], w[ERR_MSG_MAX], path[ERR_MSG_MAX] = "";
    size_t po = 0;
    for (int i = 0; i < nseg;) {
        if (node->kind == YNODE_MAP) {
            /* a key that itself contains dots ("parallel.scaling") matches first */
            long hit = -1;
            int j = nseg;
            char key[ERR_MSG_MAX];
            for (; j > i && hit < 0; j--) {
                size_t o = 0;
                for (int k = i; k < j; k++)
                    o = str_appendf(key, sizeof key, o, "%s%s",
                                          k > i ? "." : "", seg[k]);
                hit = map_index(node, key);
            }
            if (hit >= 0) {
                j++; /* the loop decremented past the match */
                po = str_appendf(path, sizeof path, po, "%s%s",
                                       po ? "." : "", key);
                if (j == nseg) {
                    ynode_free(node->items[hit]);
                    node->items[hit] = val;
                    return 0;
                }
                node = node->items[hit];
                i = j;
                continue;
            }
            struct ynode *k = plain(src, seg[i], strlen(seg[i]));
            struct ynode *v = i == nseg - 1 ? val : node_new(YNODE_MAP, src, 0, 0);
            if (!k || !v || map_push(node, k, v)) {
                ynode_free(k);
                if (v != val)
                    ynode_free(v);
                ynode_free(val);
                return ERR_SET(e, ERR_NOMEM, "out of memory");
            }
            if (v == val)
                return 0;
            po = str_appendf(path, sizeof path, po, "%s%s",
                                   po ? "." : "", seg[i]);
            node = v;
            i++;
        } else if (node->kind == YNODE_SEQ) {
            if (!all_digits(seg[i]) || strlen(seg[i]) > 9 || (size_t)atol(seg[i]) > node->n) {
                int rc = fail_at(e, ERR_CONFIG, src->name, 0, 0,
                                 "'%s' (%s) is a list of length %zu: expected an index 0..%zu, "
                                 "found '%s'",
                                 po ? path : "the top level", ynode_where(node, w, sizeof w),
                                 node->n, node->n, seg[i]);
                ynode_free(val);
                return rc;
            }
            size_t idx = (size_t)atol(seg[i]);
            po = str_appendf(path, sizeof path, po, "%s%s",
                                   po ? "." : "", seg[i]);
            if (idx < node->n && i == nseg - 1) {
                ynode_free(node->items[idx]);
                node->items[idx] = val;
                return 0;
            }
            if (idx < node->n) {
                node = node->items[idx];
                i++;
                continue;
            }
            struct ynode *v = i == nseg - 1 ? val : node_new(YNODE_MAP, src, 0, 0);
            if (!v || seq_push(node, v)) {
                if (v != val)
                    ynode_free(v);
                ynode_free(val);
                return ERR_SET(e, ERR_NOMEM, "out of memory");
            }
            if (v == val)
                return 0;
            node = v;
            i++;
        } else {
            int rc =
                fail_at(e, ERR_CONFIG, src->name, 0, 0,
                        "'%s' (%s) is %s, not a mapping or list: cannot set '%s' inside it", path,
                        ynode_where(node, w, sizeof w), ynode_describe(node, d, sizeof d), seg[i]);
            ynode_free(val);
            return rc;
        }
    }
    ynode_free(val); /* unreachable: nseg >= 1 ends inside the loop */
    return 0;
}

int ynode_apply_override(struct ynode **root, const char *ov, struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    char name[300];
    snprintf(name, sizeof name, "override '%.200s%s'", ov, strlen(ov) > 200 ? "..." : "");
    struct ysrc *src = src_new(name);
    if (!src)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    char *copy = strdup(ov);
    char *seg[OVERRIDE_MAX_SEGMENTS];
    int nseg = 0;
    struct ynode *val = NULL;
    char *eq = copy ? strchr(copy, '=') : NULL;
    if (!copy) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!eq || eq == copy) {
        rc = fail_at(e, ERR_CONFIG, name, 0, 0, "expected KEY=VALUE, e.g. train.lr=1e-4");
        goto out;
    }
    *eq = '\0';
    for (char *p = copy;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p) {
            rc = fail_at(e, ERR_CONFIG, name, 0, 0,
                         "expected a dotted key such as train.lr, found an empty part");
            goto out;
        }
        if (nseg == OVERRIDE_MAX_SEGMENTS) {
            rc = fail_at(e, ERR_LIMIT, name, 0, 0, "key has more than %d parts",
                         OVERRIDE_MAX_SEGMENTS);
            goto out;
        }
        seg[nseg++] = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    rc = override_value(&val, eq + 1, src, e);
    if (rc)
        goto out;
    if (!*root) {
        *root = node_new(YNODE_MAP, src, 0, 0);
        if (!*root) {
            ynode_free(val);
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if ((*root)->kind != YNODE_MAP) {
        char d[80];
        ynode_free(val);
        rc = fail_at(e, ERR_CONFIG, name, 0, 0, "the document is %s, not a mapping",
                     ynode_describe(*root, d, sizeof d));
        goto out;
    }
    rc = override_set(*root, seg, nseg, val, src, e);
out:
    free(copy);
    src_unref(src);
    return rc;
}

/* ---- emission ------------------------------------------------------------ */

struct obuf {
    char *p;
    size_t n, cap;
};

static int out_write(void *data, unsigned char *buffer, size_t size)
{
    struct obuf *o = data;
    if (o->n + size + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + size + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p)
            return 0;
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, buffer, size);
    o->n += size;
    o->p[o->n] = '\0';
    return 1;
}

static int emit_node(yaml_emitter_t *em, const struct ynode *n)
{
    yaml_event_t ev;
    switch (n->kind) {
    case YNODE_SCALAR:
        if (n->len > INT_MAX)
            return 0;
        if (!yaml_scalar_event_initialize(
                &ev, NULL, NULL, (const yaml_char_t *)n->text, (int)n->len, 1, 1,
                n->quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE))
            return 0;
        return yaml_emitter_emit(em, &ev);
    case YNODE_SEQ:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(em, n->items[i]))
                return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    case YNODE_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!emit_node(em, n->keys[i]) || !emit_node(em, n->items[i]))
                return 0;
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    return 0;
}

int ynode_emit(const struct ynode *n, char **out, struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    *out = NULL;
    struct obuf o = {NULL, 0, 0};
    if (!n) {
        *out = calloc(1, 1);
        return *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em))
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    yaml_emitter_set_output(&em, out_write, &o);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_event_t ev;
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&em, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&em, &ev) && emit_node(&em, n) &&
             yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
             yaml_emitter_flush(&em);
    char w[ERR_MSG_MAX];
    int rc = ok ? 0
                : ERR_SET(e, ERR_FORMAT, "%s: cannot write as YAML: %s",
                          ynode_where(n, w, sizeof w), em.problem ? em.problem : "emitter error");
    yaml_emitter_delete(&em);
    if (rc) {
        free(o.p);
        return rc;
    }
    *out = o.p ? o.p : calloc(1, 1);
    return *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
}

bool yaml_scalar_ll(const char *s, long long *v)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

bool yaml_scalar_real(const char *s, double *v)
{
    bool digit = false;
    for (const char *q = s; *q; q++) {
        if (*q >= '0' && *q <= '9')
            digit = true;
        else if (!strchr(".eE+-", *q))
            return false;
    }
    if (!digit)
        return false;
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno || *end || !isfinite(x))
        return false;
    *v = x;
    return true;
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
