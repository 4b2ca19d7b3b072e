/*
 * pretrain build: pretrain_build, one complete build of a config into a model directory,
 * with the options it takes and the statistics it measures.  It runs the stages in
 * order on one struct pt (build_state.h): the data (data.h: corpus, held-out split,
 * vocabulary, tokens), the model and its training (mlm_train.h: initial evaluation,
 * training loop, final evaluation), the files (model_dir.h), written into DIR.tmp-PID
 * and published as DIR only when complete (publish.h).
 * Any change to what a build computes must bump PRETRAIN_FORMAT (config.c): the format
 * is part of the cache key, so models built by older code are then rebuilt.
 */
#ifndef HARNESS_PRETRAIN_BUILD_H
#define HARNESS_PRETRAIN_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "harness/pretrain/build_opts.h"
#include "harness/pretrain/config.h"

/* Build the model of cfg into dir (atomically, replacing an older dir).  ERR_STATE
 * with "interrupted" when *o->stop became set (nothing is left behind). */
int pretrain_build(const struct pretrain_cfg *cfg, const char *dir, const struct pretrain_opts *o,
                   struct pretrain_stats *st, struct err *e);

#endif
