/*
 * yaml_load: a YAML file into a ynode tree, with `include:` resolution.
 */
#ifndef HARNESS_YAML_LOAD_H
#define HARNESS_YAML_LOAD_H

#include <stdbool.h>

#include "base/err.h"
#include "harness/yaml/yaml_node.h"

/* Load path into *out (NULL for a file with no document: empty or only comments).
 * When includes is true, a top-level `include: FILE` or `include: [FILE, ...]`
 * (paths relative to the including file) is resolved: the included files are
 * deep-merged in list order, then the including file on top (later keys win;
 * mappings merge key by key, any other value replaces the earlier one
 * wholesale), and the `include` key is removed.  Includes nest at most
 * YAML_MAX_INCLUDE_DEPTH deep; cycles are errors.  On failure *out is NULL. */
int ynode_load_file(struct ynode **out, const char *path, bool includes, struct err *e);

#endif
