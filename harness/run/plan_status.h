/*
 * plan_status: what `peftbench plan` says about work that is not planned trials' shape --
 * whether each trial is already recorded, and whether `run` will first have to build a
 * builtin model (and for how long) -- without training, building or writing anything.
 *
 * Why apart from run.c: `plan` must never pretrain, so it reads the model's state
 * (results/models/NAME/pretrain_stats.json) instead of resolving the model like `run`.
 */
#ifndef HARNESS_PLAN_STATUS_H
#define HARNESS_PLAN_STATUS_H

#include <stdio.h>

/* The recorded state of trial id in out_dir/trials/: "done" (ok), "diverged", "failed", or
 * "to run" (no record, or one that cannot be read). */
const char *plan_trial_status(const char *out_dir, const char *id);

/* For model "builtin:NAME" whose results/models/NAME is not a current build of
 * configs/pretrain/NAME.yaml: one line to out saying that `run` builds it first and how long
 * the last build took (wall_seconds of an older build's pretrain_stats.json), else a rough
 * estimate from the config.  Nothing for a directory model or a current build. */
void plan_builtin_note(FILE *out, const char *model);

#endif
