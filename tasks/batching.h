/*
 * batching: tokenize a split once, then serve padded batches (struct batch,
 * model/arch/encoder.h) for training and evaluation.
 *
 * Training order per epoch (deterministic in (seed, epoch)): shuffle all
 * examples; cut the shuffled list into chunks of `bucket` batches and sort each
 * chunk by length (ties by example index), so that a batch holds examples of
 * similar length; cut into batches of batch_size; shuffle the batch order.
 * Only the last batch of an epoch can be smaller.  bucket = 0 turns the length
 * sorting off (plain shuffled batches).
 * Evaluation order: examples in split order, consecutive batches, no sorting,
 * so that predictions line up with the split (rows give the indices anyway).
 *
 * A batch is right-padded to its own longest example: T = max length in the
 * batch, ids = pad id and mask = type id = 0 past each example's end.
 * real_tokens counts the non-pad tokens (for throughput).
 */
#ifndef TASKS_BATCHING_H
#define TASKS_BATCHING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/arch/encoder.h"
#include "base/err.h"
#include "model/text/tokenizer.h"
#include "tasks/task.h"

#define BATCH_BUCKET_DEFAULT 50 /* batches per length-sorting chunk */

/* A tokenized split: every example encoded with special tokens. */
struct tok_split {
    size_t n;          /* examples */
    int *ids;          /* (ntokens) owned: the examples' ids, concatenated */
    int *type_ids;     /* (ntokens) owned */
    size_t *start;     /* (n + 1) owned: example i is ids[start[i] .. start[i + 1]) */
    int *labels;       /* (n) owned class ids, or NULL (regression, unlabeled split) */
    float *targets;    /* (n) owned regression targets, or NULL */
    size_t ntokens;    /* start[n] */
    size_t ntruncated; /* examples shortened to fit max_seq_len */
    int max_len;       /* longest encoded example (<= max_seq_len) */
    int pad_id;
};

/* Tokenize split s of a task of kind `kind` with tokenizer_encode(max_seq_len):
 * the pair (a, b) when the example has b (pair tasks, pair regression such as
 * STS-B), else a alone.  Labels are kept for a labeled classification split,
 * targets for a labeled regression split.  Errors: the tokenizer's (prefixed
 * "example I (id ID)"), a TASK_PAIR example without b, max_seq_len < 3 (4 when
 * the split holds pairs), no pad token, out of memory. */
int batching_tokenize(struct tok_split *out, const struct split *s, enum task_kind kind,
                      const struct tokenizer *tok, int max_seq_len, struct err *e);
void tok_split_free(struct tok_split *ts); /* NULL-safe; leaves *ts zeroed */

struct batcher {
    const struct tok_split *ts; /* borrowed: must outlive the batcher */
    int batch_size;
    bool train;     /* shuffled and bucketed per epoch */
    int bucket;     /* batches per length-sorting chunk; 0 = no sorting */
    size_t *order;  /* (n) owned: example order of the current epoch */
    size_t *bstart; /* (nbatches + 1) owned: batch k = order[bstart[k] .. bstart[k+1]) */
    size_t nbatches;
    int *ids, *type_ids, *mask; /* (batch_size, max_len) owned buffers of the current batch */
    int *labels;                /* (batch_size) owned */
    float *targets;             /* (batch_size) owned */
    uint64_t *keys;             /* (n) owned scratch: (length << 40) | index sort keys */
    size_t *tmp;                /* (n) owned scratch */
    size_t *perm;               /* (nbatches) owned scratch: batch order */
};

/* Set up batches of batch_size (>= 1) over ts; train selects the per-epoch
 * shuffle with length bucketing (bucket batches per chunk), else evaluation
 * order.  The first epoch is planned with seed 0, epoch 0; call batcher_epoch. */
int batcher_init(struct batcher *b, const struct tok_split *ts, int batch_size, bool train,
                 int bucket, struct err *e);
void batcher_free(struct batcher *b); /* NULL-safe */

/* Plan epoch `epoch` from the trial seed (training); evaluation order ignores both.
 * Cannot fail: the scratch is allocated by batcher_init. */
void batcher_epoch(struct batcher *b, uint64_t seed, int epoch);

/* Batches in an epoch: ceil(n / batch_size). */
size_t batcher_count(const struct batcher *b);

/* Fill out with batch k of the current epoch (views into b's buffers, valid
 * until the next batcher_get).  rows (may be NULL) receives a view of the B
 * example indices in batch order; real_tokens (may be NULL) the non-pad count.
 * ERR_RANGE when k >= batcher_count. */
int batcher_get(struct batcher *b, size_t k, struct batch *out, const size_t **rows,
                size_t *real_tokens, struct err *e);

#endif
