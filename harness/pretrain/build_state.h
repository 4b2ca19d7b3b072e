/*
 * pretrain build state: struct pt, everything one build holds while it runs, shared by
 * the stages of pretrain_build (data.c fills the vocabulary and token sequences,
 * mlm_train.c the model, head and masking buffers, model_dir.c writes them), with the
 * build's log line, its stop test and its release.  Private to harness/pretrain/.
 */
#ifndef HARNESS_PRETRAIN_BUILD_STATE_H
#define HARNESS_PRETRAIN_BUILD_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "harness/pretrain/build_opts.h"
#include "harness/pretrain/config.h"
#include "model/arch/mlm.h"
#include "model/arch/model.h"
#include "model/engine/mem.h"
#include "model/text/tokenizer.h"
#include "model/text/vocab_build.h"
#include "tasks/batching.h"

struct pt {
    const struct pretrain_cfg *c;
    const struct pretrain_opts *o;
    struct mem_acct acct;
    char **vocab; /* owned (nvocab) tokens in vocab.txt order */
    int nvocab;
    struct vocab_build_stats vst;
    struct tokenizer *tok;
    struct tok_split train, held;
    size_t ncorpus, ntrain_lines, nheld_lines;
    bool have_model, have_head;
    struct model m;
    struct mlm_head head;
    unsigned char *special; /* (V) */
    struct mlm_mask_cfg mc;
    int *mids, *pos, *labels; /* (cells) masked ids, masked positions, their labels */
    size_t cells;
    double t0;
    double last_print;
};

/* One log line "pretrain NAME: ..." on p->o->out (nothing when it is NULL). */
void pt_say(struct pt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True once the build was asked to stop (*p->o->stop set). */
bool pt_stopped(const struct pt *p);

/* Set e to the ERR_STATE "interrupted" error of an abandoned build and return its code. */
int pt_interrupted(struct err *e);

/* Release everything p owns (whatever stage it reached); p itself is the caller's. */
void pt_free(struct pt *p);

#endif
