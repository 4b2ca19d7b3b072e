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

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "harness/pretrain/config.h"

struct pretrain_opts {
    FILE *out;                   /* progress and log lines, or NULL for silence */
    bool tty;                    /* progress as one rewritten line (else log lines) */
    volatile sig_atomic_t *stop; /* set asynchronously to abandon the build, or NULL */
};

/* What a build measured (also written to pretrain_stats.json). */
struct pretrain_stats {
    long steps;
    long long tokens_seen;       /* real (non-pad) training tokens processed */
    long long masked_seen;       /* training positions predicted */
    double final_train_loss;     /* mean MLM loss over the last 5% of steps */
    double final_train_bow_loss; /* the same for the [CLS] bag-of-words loss (NaN: off) */
    double heldout_loss, heldout_acc, heldout_bow;
    double initial_heldout_loss, initial_heldout_acc, initial_heldout_bow;
    long long heldout_masked;
    size_t train_lines, heldout_lines;
    int vocab_size;
    double wall_seconds, train_seconds, train_cpu_seconds;
};

/* Build the model of cfg into dir (atomically, replacing an older dir).  ERR_STATE
 * with "interrupted" when *o->stop became set (nothing is left behind). */
int pretrain_build(const struct pretrain_cfg *cfg, const char *dir, const struct pretrain_opts *o,
                   struct pretrain_stats *st, struct err *e);

#endif
