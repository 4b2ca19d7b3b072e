/*
 * pretrain data: steps 1 and 2 of a build.  The corpus (corpus.h) is split into training
 * and held-out lines by a fixed hash of each line's text (so a line is on the same side
 * in every run and duplicates never straddle the split), a WordPiece vocabulary is
 * trained on the training lines (model/text/vocab_build.h), and both sides are encoded
 * as [CLS] line [SEP] sequences truncated to train.max_seq_len.
 */
#ifndef HARNESS_PRETRAIN_DATA_H
#define HARNESS_PRETRAIN_DATA_H

#include "base/err.h"

struct pt;

/* Fill p->vocab, p->nvocab, p->vst, p->tok, p->train, p->held and the line counts from
 * p->c (logging each step).  ERR_CONFIG when no training line or token is left; the
 * "interrupted" error when the build was asked to stop.  What was filled before an
 * error is released by pt_free. */
int pt_prepare_data(struct pt *p, struct err *e);

#endif
