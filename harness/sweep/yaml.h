/*
 * yaml: a hardened YAML loader into a small owned tree, plus includes,
 * Hydra-style command-line overrides and emission back to YAML text.
 *
 * The tree has three kinds of node: scalar, sequence, mapping.  Scalars keep
 * their text and whether they were quoted; nothing is typed here, so the
 * schema (harness/sweep/sweep.c) decides what a value means.  `no` stays the text
 * "no": it is a bool only where the schema wants a bool, and then only
 * true/false are accepted.
 *
 * Limits and decisions (every violation is an error "file:line:col: ..."):
 *   - a file is at most YAML_MAX_FILE_BYTES (1 MiB);
 *   - sequences/mappings nest at most YAML_MAX_DEPTH (32) deep;
 *   - one load (the file, its includes and alias copies) makes at most
 *     YAML_MAX_NODES (100k) nodes and YAML_MAX_TEXT_BYTES of scalar text;
 *   - aliases are supported by copying the anchored node, and the copies
 *     count against the node and text budgets, so an alias bomb ("billion
 *     laughs") fails after at most 100k copies with a clear message;
 *   - at most YAML_MAX_ANCHORS (1024) distinct anchors per file (they are
 *     looked up linearly: the cap keeps anchors x aliases from going quadratic);
 *   - tags (`!!int 3`, `!foo x`) are rejected: the schema types values;
 *   - a second document (`---`) is rejected;
 *   - mapping keys must be scalars and unique within their mapping;
 *   - merge keys (`<<: *base`) are rejected: use `include:` instead;
 *   - scalars containing a NUL character are rejected.
 *
 * Function names use the ynode_ prefix because libyaml owns yaml_*.
 */
#ifndef HARNESS_YAML_H
#define HARNESS_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define YAML_MAX_FILE_BYTES    (1u << 20)
#define YAML_MAX_DEPTH         32
#define YAML_MAX_NODES         100000
#define YAML_MAX_TEXT_BYTES    (16u << 20)
#define YAML_MAX_INCLUDE_DEPTH 8
#define YAML_MAX_ANCHORS       1024

enum ynode_kind {
    YNODE_SCALAR = 0,
    YNODE_SEQ,
    YNODE_MAP,
};

struct ysrc; /* reference-counted source name, shared by the nodes of one file */

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

/* Load path into *out (NULL for a file with no document: empty or only comments).
 * When includes is true, a top-level `include: FILE` or `include: [FILE, ...]`
 * (paths relative to the including file) is resolved: the included files are
 * deep-merged in list order, then the including file on top (later keys win;
 * mappings merge key by key, any other value replaces the earlier one
 * wholesale), and the `include` key is removed.  Includes nest at most
 * YAML_MAX_INCLUDE_DEPTH deep; cycles are errors.  On failure *out is NULL. */
int ynode_load_file(struct ynode **out, const char *path, bool includes, struct err *e);

/* Parse text[0..len) (named name in messages) into *out (NULL when empty). */
int ynode_parse_string(struct ynode **out, const char *text, size_t len, const char *name,
                       struct err *e);

/* Apply one Hydra-style override "a.b.c=VALUE" to the mapping *root (created
 * when *root is NULL).  The path is dotted: in a mapping a segment names a
 * key (a key that itself contains dots, like "parallel.scaling", is matched
 * first; missing keys are created as mappings), in a sequence it is an index
 * (0-based; the index one past the end appends).  VALUE starting with [ { "
 * or ' is parsed as flow YAML ("tasks=[a,b]", "name='a,b'"); otherwise a
 * value with commas is a sequence of plain scalars ("seeds=1,2"), else one
 * plain scalar.  The target is replaced, not merged.  Nodes made by the
 * override are named "override 'TEXT'" in messages. */
int ynode_apply_override(struct ynode **root, const char *override, struct err *e);

/* Emit n as block-style YAML text into *out (owned; caller frees).  Plain
 * scalars stay plain where YAML allows, quoted ones are double-quoted, so
 * loading the text again gives the same tree. */
int ynode_emit(const struct ynode *n, char **out, struct err *e);

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

/* Schema typing of scalar text, shared by every YAML schema (sweeps, pretraining configs).
 * Decimal integer with optional sign: no spaces, no 0x, no exponent. */
bool yaml_scalar_ll(const char *s, long long *v);
/* Decimal real ("3", "0.5", "1e-4", "-2.5E+3"): no inf/nan/hex, finite. */
bool yaml_scalar_real(const char *s, double *v);

#endif
