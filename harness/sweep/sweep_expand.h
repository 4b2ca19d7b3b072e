/*
 * sweep_expand: a sweep's method blocks expanded into its trials.
 *
 * Trials = sum over blocks of (grid points x tasks x seeds), counted with
 * overflow checks before anything is allocated and refused above
 * max_trials (unless allow_large) or SWEEP_HARD_MAX_TRIALS.  Plan order:
 * blocks in file order, grid points (last dimension fastest), tasks, seeds.
 * Two trials with the same id are an error naming both blocks (a repeated
 * axis value or overlapping blocks), not silently deduplicated.
 */
#ifndef HARNESS_SWEEP_EXPAND_H
#define HARNESS_SWEEP_EXPAND_H

#include "base/err.h"
#include "harness/sweep/plan.h"
#include "harness/yaml/yaml_node.h"

/* Parse every block of root's `methods:` (a non-empty list, checked by the
 * caller) against s's top-level settings, and fill s->trials / s->ntrials
 * in plan order, each with its canonical text and id.  On error the trials
 * made so far stay in s for sweep_free. */
int sweep_expand(struct sweep *s, const struct ynode *root, const struct sweep_opts *o,
                 struct err *e);

#endif
