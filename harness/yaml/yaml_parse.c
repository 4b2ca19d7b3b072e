/*
 * yaml_parse: libyaml event stream -> owned node tree, with the limits of
 * yaml_limits.h and the decisions documented in yaml.h (no tags, one
 * document, scalar and unique keys, no merge keys, aliases copied against
 * the load budget).  Containers are attached to their parent when they
 * start, so a partial tree is always reachable from the root and one
 * ynode_free cleans up after any error.
 */
#include "harness/yaml/yaml_parse.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
    struct ynode_budget *b;
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
    return ynode_fail_at(e, code, B->src->name, line_of(B, m), col_of(B, m), "%s", msg);
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
        if (ynode_seq_push(f->node, n)) {
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
    if (ynode_map_push(f->node, f->key, n)) {
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

/* Duplicate keys, checked when a mapping is complete (sorting keeps big maps fast). */
static int check_duplicates(const struct ynode *map, struct err *e)
{
    if (map->n < 2)
        return 0;
    struct ynode_keyref *r = ynode_sorted_keys(map);
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
    return ynode_fail_at(
        e, ERR_FORMAT, k2->file, k2->line, k2->col,
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
        struct ynode *n = ynode_new_scalar(B->src, line, col, v, len,
                                           ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
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
        struct ynode *c = ynode_clone_counted(target, B->b, B->depth + 1, &why);
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
        struct ynode *n = ynode_new(seq ? YNODE_SEQ : YNODE_MAP, B->src, line, col);
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
int ynode_parse_buffer(struct ynode **out, const char *buf, size_t len, struct ysrc *src,
                       bool lineless, struct ynode_budget *b, struct err *e)
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
    struct ysrc *src = ysrc_new(name ? name : "<string>");
    if (!src)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    struct ynode_budget b = {0, 0};
    int rc = len > YAML_MAX_FILE_BYTES
                 ? ynode_fail_at(e, ERR_LIMIT, src->name, 0, 0,
                                 "expected at most 1 MiB of YAML (YAML_MAX_FILE_BYTES)")
                 : ynode_parse_buffer(out, text, len, src, false, &b, e);
    ysrc_unref(src);
    return rc;
}
