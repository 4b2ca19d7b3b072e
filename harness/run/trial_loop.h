/*
 * trial_loop: training and recording the selected trials of a sweep, one after the other.
 *
 * For each selected trial not yet done: take its lock (trial_lock.h), load the backbone,
 * create the methods, train (harness/sweep/train.c) with progress lines, write
 * trials/<id>.json atomically (a failed trial recorded with its message) and rebuild
 * results.csv.  An interruption (run_stop_flag) records nothing for the unfinished trial.
 */
#ifndef HARNESS_RUN_TRIAL_LOOP_H
#define HARNESS_RUN_TRIAL_LOOP_H

#include <stddef.h>

#include "base/err.h"

struct run_ctx;
struct model;
struct method_inst;
struct trial;

/* Parameter counts of a built trial model. */
struct counts {
    size_t method, head, trainable, stored, total, backbone;
};

/* Parameter counts of model m with its n method instances mi (also used by `plan`). */
struct counts trial_count_params(const struct model *m, const struct method_inst *mi, int n);

/* Create trial t's methods on m into mi (*n of them created, to destroy even on error). */
int trial_create_methods(struct model *m, const struct trial *t, struct method_inst *mi,
                         int *n, struct err *e);

/* Run every selected trial of c not yet done (or not failed, with --skip-failed). */
int trial_loop_run(struct run_ctx *c, struct err *e);

#endif
