/*
 * yaml_emit: a ynode tree back to YAML text (the resolved sweep and its
 * `plots:` section are saved this way).
 */
#ifndef HARNESS_YAML_EMIT_H
#define HARNESS_YAML_EMIT_H

#include "base/err.h"
#include "harness/yaml/yaml_node.h"

/* Emit n as block-style YAML text into *out (owned; caller frees).  Plain
 * scalars stay plain where YAML allows, quoted ones are double-quoted, so
 * loading the text again gives the same tree. */
int ynode_emit(const struct ynode *n, char **out, struct err *e);

#endif
