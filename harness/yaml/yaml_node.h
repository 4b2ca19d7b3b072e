/*
 * yaml_node: the owned YAML tree (struct ynode) that every YAML consumer
 * reads, the reads and messages schema checkers use on it, and the
 * primitives the parser, the include merger and the override editor build
 * and edit it with.
 *
 * The tree has three kinds of node: scalar, sequence, mapping.  Scalars keep
 * their text and whether they were quoted; nothing is typed here (see
 * harness/yaml/yaml_scalar.h).  Every node holds a reference to the source
 * name it came from, so messages can say "file:line:col" after the file is
 * closed.
 */
#ifndef HARNESS_YAML_NODE_H
#define HARNESS_YAML_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/yaml/yaml_limits.h"

enum ynode_kind {
    YNODE_SCALAR = 0,
    YNODE_SEQ,
    YNODE_MAP,
};

/* Reference-counted source name, shared by the nodes of one file. */
struct ysrc {
    int refs;
    char name[];
};

struct ynode {
    enum ynode_kind kind;
    const char *file; /* view into src: the file the node came from, or "override '...'" */
    int line, col;    /* 1-based position; line 0 = not from a file (an override) */
    char *text;       /* SCALAR: owned, NUL-terminated (len bytes) */
    size_t len;
    bool quoted;          /* SCALAR: quoted or block (| >) style: always a string, never null */
    size_t n;             /* SEQ: items; MAP: key/value pairs */
    size_t cap;           /* allocated length of items/keys (internal) */
    struct ynode **items; /* SEQ: owned (n) items; MAP: owned (n) values */
    struct ynode **keys;  /* MAP: owned (n) scalar keys; NULL for SEQ */
    struct ysrc *src;     /* owned reference */
};

/* ---- reading a tree ------------------------------------------------------ */

/* Free a tree (NULL-safe). */
void ynode_free(struct ynode *n);

/* Deep copy of n (NULL on allocation failure). */
struct ynode *ynode_clone(const struct ynode *n);

/* Value of key in mapping m, or NULL (also when m is not a mapping). */
const struct ynode *ynode_get(const struct ynode *m, const char *key);

/* "file:line:col" (or just the file for override nodes) into buf. */
const char *ynode_where(const struct ynode *n, char *buf, size_t size);

/* Set e to "FILE:LINE:COL: message" for node n (the schema checkers' error) and return code. */
int ynode_fail(struct err *e, int code, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* What n is, for "found ..." messages: "a mapping", "a list", "nothing (null)",
 * "'text'" (truncated). */
const char *ynode_describe(const struct ynode *n, char *buf, size_t size);

/* True for an unquoted empty, ~, null, Null or NULL scalar (and for n == NULL). */
bool ynode_is_null(const struct ynode *n);

/* ---- building and editing a tree ----------------------------------------- */

/* A source named name (copied) with one reference; NULL on no memory. */
struct ysrc *ysrc_new(const char *name);
/* Take one more reference to s; returns s. */
struct ysrc *ysrc_ref(struct ysrc *s);
/* Drop one reference to s, freeing it with the last (NULL-safe). */
void ysrc_unref(struct ysrc *s);

/* An empty node of kind at (line, col) of src (takes a reference); NULL on no memory. */
struct ynode *ynode_new(enum ynode_kind kind, struct ysrc *src, int line, int col);
/* A scalar holding a copy of text[0..len); NULL on no memory. */
struct ynode *ynode_new_scalar(struct ysrc *src, int line, int col, const char *text, size_t len,
                               bool quoted);
/* Free only the container n itself; its children were moved elsewhere. */
void ynode_free_shell(struct ynode *n);

/* Append item (owned from here on) to sequence seq; -1 on no memory (item not taken). */
int ynode_seq_push(struct ynode *seq, struct ynode *item);
/* Append key -> val (owned from here on) to mapping map; -1 on no memory (not taken). */
int ynode_map_push(struct ynode *map, struct ynode *key, struct ynode *val);
/* Take pair i out of map: *key and *val become the caller's. */
void ynode_map_remove(struct ynode *map, size_t i, struct ynode **key, struct ynode **val);
/* Index of key in mapping m, or -1 (also when m is not a mapping). */
long ynode_map_index(const struct ynode *m, const char *key);

/* Copy n; when b is non-NULL the copies count against it (alias expansion)
 * and depth is the nesting of n.  On NULL, *why says which limit was hit:
 * 1 YAML_MAX_NODES, 2 YAML_MAX_TEXT_BYTES, 3 YAML_MAX_DEPTH, unchanged (0)
 * for no memory. */
struct ynode *ynode_clone_counted(const struct ynode *n, struct ynode_budget *b, int depth,
                                  int *why);

/* One key of a mapping and its position, for sorted views. */
struct ynode_keyref {
    const struct ynode *key;
    size_t i;
};

/* Sorted view of a mapping's keys (ties by position); NULL on no memory.
 * The caller frees the array; the keys stay borrowed from map. */
struct ynode_keyref *ynode_sorted_keys(const struct ynode *map);

/* "file:line:col: message" (or "file: message" when line is 0) into e; returns code. */
int ynode_fail_at(struct err *e, int code, const char *file, int line, int col, const char *fmt,
                  ...) __attribute__((format(printf, 6, 7)));

#endif
