/*
 * pretrain MLM training: steps 3 to 5 of a build.  A randomly initialised BERT with the
 * MLM head of model/arch/mlm.h (decoder tied to the word embeddings), trained for
 * train.steps AdamW steps on shuffled, length-bucketed batches with 15% masking by the
 * 80/10/10 rule, linear warm-up and decay and gradient clipping, and evaluated on the
 * held-out sequences with fixed masks before and after.  Every random draw is keyed by
 * the config's seed and the step (or held-out batch), so a build is reproducible.
 */
#ifndef HARNESS_PRETRAIN_MLM_TRAIN_H
#define HARNESS_PRETRAIN_MLM_TRAIN_H

#include "base/err.h"
#include "harness/pretrain/build_opts.h"

struct pt;

/* Create and initialise p->m (the encoder trains, pooler and classifier do not) and
 * p->head, and set up the masking (p->special, p->mc) and its buffers (p->mids, p->pos,
 * p->labels) for the data of pt_prepare_data.  Released by pt_free. */
int pt_prepare_model(struct pt *p, struct err *e);

/* Held-out MLM loss and accuracy with fixed masks (the same for every evaluation), and
 * the bag-of-words loss when it is on (else NaN); *masked = positions predicted.  All
 * NaN and 0 when there are no held-out sequences. */
int pt_evaluate(struct pt *p, double *loss, double *acc, double *bow, long long *masked,
                struct err *e);

/* The training loop: c->steps optimizer steps on p->m and p->head, with progress on
 * p->o->out; the training statistics into st (steps, tokens, final losses, times).
 * ERR_NUMERIC when the loss or gradient stops being finite; the "interrupted" error
 * when the build was asked to stop. */
int pt_train_loop(struct pt *p, struct pretrain_stats *st, struct err *e);

#endif
