/*
 * yaml_emit: a tree back to block-style YAML text through the libyaml
 * emitter, so a resolved sweep (after includes and overrides) can be saved
 * and loaded again to the same tree.
 */
#include "harness/yaml/yaml_emit.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
