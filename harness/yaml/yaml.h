/*
 * yaml: a hardened YAML loader into a small owned tree, plus includes,
 * Hydra-style command-line overrides and emission back to YAML text.
 *
 * The tree has three kinds of node: scalar, sequence, mapping.  Scalars keep
 * their text and whether they were quoted; nothing is typed here, so the
 * schema (the sweep's in harness/sweep/sweep.h, or pretraining's) decides
 * what a value means.  `no` stays the text "no": it is a bool only where the
 * schema wants a bool, and then only true/false are accepted.
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
 *
 * This header is the entry point: include it to get the whole loader.  The
 * parts, one concept per file pair:
 *   yaml_node.h      the tree (struct ynode), reading it, messages, and the
 *                    primitives that build and edit it
 *   yaml_limits.h    the limits above and the budget one load counts against
 *   yaml_parse.h     YAML text -> tree through libyaml
 *   yaml_load.h      a file -> tree, with `include:` resolution
 *   yaml_override.h  Hydra-style `key.path=value` overrides
 *   yaml_emit.h      tree -> YAML text
 *   yaml_scalar.h    strict typing of scalar text for schemas
 */
#ifndef HARNESS_YAML_H
#define HARNESS_YAML_H

#include "harness/yaml/yaml_emit.h"
#include "harness/yaml/yaml_limits.h"
#include "harness/yaml/yaml_load.h"
#include "harness/yaml/yaml_node.h"
#include "harness/yaml/yaml_override.h"
#include "harness/yaml/yaml_parse.h"
#include "harness/yaml/yaml_scalar.h"

#endif
