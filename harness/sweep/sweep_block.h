/*
 * sweep_block: one entry of a sweep's `methods:` list, parsed into fixed
 * values and grid axes.
 *
 * A method block is {method: NAME, ...}, {methods: [A, B], ...} or the
 * shorthand NAME.  Its other keys are hyperparameters (unqualified when
 * exactly one composed method declares the name, else qualified
 * "parallel.scaling" or nested `parallel: {scaling: 2}`), `train:`
 * overrides (lists = axes), `tune:` train settings selected on dev (each a
 * non-empty list: an axis whose trials are marked tuned, see
 * harness/report/select.h) and `zip:` groups of axes that vary together.
 * Grid dimensions: one per free axis and one per zip group, in the order the
 * keys appear in the block (a zip group where its first member appears).
 * Unknown keys are errors with a did-you-mean over every valid key.
 */
#ifndef HARNESS_SWEEP_BLOCK_H
#define HARNESS_SWEEP_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/sweep/plan.h"
#include "harness/yaml/yaml_node.h"
#include "methods/method.h"

/* One key of a method block: a hyperparameter or a train override, fixed or an axis. */
struct sweep_item {
    bool train;              /* train override (idx = train_cfg field) or hyperparameter */
    bool tune;               /* train setting from `tune:` (always an axis) */
    int method;              /* hyperparameter: index into the block's composition */
    int idx;                 /* index into ops->hps or the train_cfg fields */
    const struct ynode *key; /* borrowed: for messages */
    bool axis;
    size_t n;                 /* values (1 when fixed) */
    const struct ynode **val; /* owned array (n) of borrowed nodes */
    char **text;              /* owned (n): hyperparameter value text (sets joined by ',') */
    char **where;             /* owned (n): "file:line:col" of each value */
    int zip;                  /* zip group, or -1 */
    int dim;                  /* grid dimension of an axis */
};

/* A parsed method block: its composed methods, items and grid shape. */
struct sweep_block {
    const struct ynode *node; /* borrowed */
    int nm;
    const struct method_ops *ops[SWEEP_MAX_COMPOSE];
    struct sweep_item *items; /* owned (nitems) */
    int nitems, cap;
    int ndims;
    size_t *dimlen; /* owned (ndims) */
    size_t points;  /* grid points (product of dimlen) */
};

/* Parse method block node into *b (zeroed first): its methods, every key as
 * an item, zip groups, and the grid dimensions and point count.  base is
 * the sweep's train settings (train overrides are checked against it).
 * b borrows node and the nodes under it; free b with sweep_block_free
 * whatever this returns. */
int sweep_block_parse(struct sweep_block *b, const struct ynode *node,
                      const struct train_cfg *base, struct err *e);

/* Free what sweep_block_parse allocated and zero *b. */
void sweep_block_free(struct sweep_block *b);

/* The block's methods joined with '+' ("prefix+parallel") into buf. */
const char *sweep_block_label(const struct sweep_block *b, char *buf, size_t size);

#endif
