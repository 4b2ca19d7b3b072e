/*
 * tokenizer_kind: the interface between the tokenizer.h front (model/text/tokenizer.c) and
 * the kinds of tokenizer behind it: BERT WordPiece (model/text/wordpiece.c) and GPT-2 /
 * RoBERTa byte-level BPE (model/text/bpe.c).
 *
 * Each kind exports one const vtable (wordpiece_kind, bpe_kind) and a constructor that
 * returns its own state.  struct tokenizer keeps that state as void *impl next to the
 * vtable and calls the kind only through it; a kind never calls the front.  This header is
 * the one thing both sides share, and it includes nothing from model/text, so the call
 * graph of model/text has no circle (the order is at the top of tokenizer.h).
 */
#ifndef MODEL_TOKENIZER_KIND_H
#define MODEL_TOKENIZER_KIND_H

#include <stdbool.h>

#include "base/err.h"

/* The special token ids of a vocabulary (-1 when absent; only mask may be absent):
 * [PAD] [UNK] [CLS] [SEP] [MASK] for WordPiece, <pad> <unk> <s> </s> <mask> for BPE. */
struct tokenizer_special_ids {
    int pad, unk, cls, sep, mask;
};

/*
 * One kind.  impl is the kind's own state (struct wordpiece, struct bpe), read-only after
 * construction, so several threads may tokenize with one tokenizer.  The front checks the
 * public arguments (NULL pointers, max_len) before it calls a hook.
 */
struct tokenizer_kind {
    /* Layout of tokenizer_encode: separators between the texts of a pair (1 for BERT's
     * [SEP], 2 for RoBERTa's </s></s>), whether text_b gets token type 1 (BERT) or 0, and
     * the smallest max_len for a pair (4 and 5: every special plus one token). */
    int pair_seps;
    bool segment_b;
    int pair_min_len;
    void (*free)(void *impl); /* NULL-safe */
    /* tokenizer_tokenize: ids of text without special tokens; *ids malloc'ed, caller frees. */
    int (*tokenize)(const void *impl, const char *text, int **ids, int *n, struct err *e);
    /* tokenizer_basic_split (optional: WordPiece only). */
    int (*basic_split)(const void *impl, const char *text, char ***words, int *n, struct err *e);
    int (*vocab_size)(const void *impl);                   /* largest id + 1 */
    const char *(*id_to_token)(const void *impl, int id);  /* NULL if out of range */
    int (*token_to_id)(const void *impl, const char *tok); /* -1 if absent */
    struct tokenizer_special_ids (*special_ids)(const void *impl);
};

#endif
