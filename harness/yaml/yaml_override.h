/*
 * yaml_override: Hydra-style `key.path=value` overrides of a loaded tree
 * (the command line's "train.lr=1e-4", "seeds=1,2").
 */
#ifndef HARNESS_YAML_OVERRIDE_H
#define HARNESS_YAML_OVERRIDE_H

#include "base/err.h"
#include "harness/yaml/yaml_node.h"

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

#endif
