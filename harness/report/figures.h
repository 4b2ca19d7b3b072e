/*
 * figures: the default figure set of a results table, and the list of
 * figures a run makes -- the defaults, with the sweep's own specs replacing
 * same-named defaults or added after them.  The defaults (described in
 * plots.h) are specs built from what results.csv holds: params needs
 * params_trainable and primary_value; hp-PARAM primary_value and a
 * hyperparameter column swept within a method; throughput and memory their
 * measure columns; curves the trial ids.
 */
#ifndef HARNESS_FIGURES_H
#define HARNESS_FIGURES_H

#include "base/err.h"
#include "harness/report/aggregate.h"
#include "harness/report/plotspec.h"

/* The defaults for a, with user's specs (may be NULL) merged in, into *out (owned; free()) and
 * *nout.  Errors: out of memory. */
int figures_build(const struct agg *a, const struct plot_specs *user, struct plot_spec **out,
                  int *nout, struct err *e);

#endif
