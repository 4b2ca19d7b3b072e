/*
 * sweep_schema: the checks the sweep schema makes on YAML nodes in several
 * places (top level, file tasks, train settings, method blocks): strings
 * and names, value text, list kinds, and the unknown-key error with its
 * did-you-mean.  Every error names the node's file:line:col.
 */
#ifndef HARNESS_SWEEP_SCHEMA_H
#define HARNESS_SWEEP_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/yaml/yaml_node.h"

/* What node n is / where it is, as a string for a message argument (the
 * buffer is a compound literal: it lives until the end of the enclosing block). */
#define SWEEP_DESCRIBE(n) ynode_describe((n), (char[96]){0}, 96)
#define SWEEP_WHERE(n)    ynode_where((n), (char[ERR_MSG_MAX]){0}, ERR_MSG_MAX)

/* Error "unknown key 'K' in what (did you mean ...?); valid keys: ..." at key. */
int sweep_unknown_key(struct err *e, const struct ynode *key, const char *what,
                      const char *const *valid, int nvalid);

/* True when s is 1..max-1 of [A-Za-z0-9._-] and not "." or "..": safe as a
 * file or directory name. */
bool sweep_valid_name(const char *s, size_t max);

/* A non-null, non-empty scalar copied into dst[cap]; what names it in errors. */
int sweep_get_string(const struct ynode *n, const char *what, char *dst, size_t cap,
                     struct err *e);

/* Text of a value node: a scalar's text, or a flat list of scalars joined by
 * ','.  Owned by the caller; NULL on no memory. */
char *sweep_value_text(const struct ynode *v);

/* True when every item of seq is of kind k. */
bool sweep_all_kind(const struct ynode *seq, enum ynode_kind k);

#endif
