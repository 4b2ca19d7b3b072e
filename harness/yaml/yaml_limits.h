/*
 * yaml_limits: the limits every YAML load enforces (harness/yaml/yaml.h
 * explains each decision), and the budget one load counts against them.
 *
 * They live in their own header because four parts of the loader share them:
 * the libyaml parser (depth, anchors, nodes, text), alias copies made by
 * ynode_clone_counted (nodes, text, depth), file reading and includes (file
 * size, include depth) and override values (size).
 */
#ifndef HARNESS_YAML_LIMITS_H
#define HARNESS_YAML_LIMITS_H

#include <stddef.h>

#define YAML_MAX_FILE_BYTES    (1u << 20)
#define YAML_MAX_DEPTH         32
#define YAML_MAX_NODES         100000
#define YAML_MAX_TEXT_BYTES    (16u << 20)
#define YAML_MAX_INCLUDE_DEPTH 8
#define YAML_MAX_ANCHORS       1024

/* What one load (a file, its includes and alias copies) has made so far. */
struct ynode_budget {
    size_t nodes; /* nodes made so far (files, includes, alias copies) */
    size_t text;  /* scalar bytes made so far */
};

#endif
