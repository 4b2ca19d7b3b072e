/*
 * build_opts: what one pretraining build is asked (struct pretrain_opts) and what it
 * measures (struct pretrain_stats).  Its own header because every stage of a build
 * (build_state.h, mlm_train.h, model_dir.h, cache.h) reads these while build.c, which
 * runs the stages, depends on all of them.
 */
#ifndef HARNESS_PRETRAIN_BUILD_OPTS_H
#define HARNESS_PRETRAIN_BUILD_OPTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

#endif
