/*
 * yaml_parse: YAML text -> ynode tree through libyaml, enforcing the limits
 * of yaml_limits.h and the decisions listed in yaml.h (no tags, one
 * document, unique scalar keys, no merge keys, no NUL; aliases are copies
 * counted against the budget).
 */
#ifndef HARNESS_YAML_PARSE_H
#define HARNESS_YAML_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/yaml/yaml_limits.h"
#include "harness/yaml/yaml_node.h"

/* Parse text[0..len) (named name in messages) into *out (NULL when empty). */
int ynode_parse_string(struct ynode **out, const char *text, size_t len, const char *name,
                       struct err *e);

/* Parse buf[0..len) into *out (NULL when there is no document), naming nodes
 * after src (borrowed: each node takes its own reference).  lineless is for
 * text that is not a file (an override value): nodes get line 0 and messages
 * name only the source.  Nodes and text count against b, which the caller
 * shares across one load (a file and its includes).  On failure *out is NULL. */
int ynode_parse_buffer(struct ynode **out, const char *buf, size_t len, struct ysrc *src,
                       bool lineless, struct ynode_budget *b, struct err *e);

#endif
