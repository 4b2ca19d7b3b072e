/*
 * encoding: one model input (ids and token types) and how it is assembled from one or two
 * tokenized texts, shared by the WordPiece (BERT) and byte-level BPE (RoBERTa) tokenizers,
 * which differ only in their special tokens.
 *
 * The bottom of model/text: it calls nothing but base/, so every tokenizer file may use it
 * (the order of the files is at the top of model/text/tokenizer.h).
 */
#ifndef MODEL_ENCODING_H
#define MODEL_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* One encoded example: [CLS] a [SEP] (b [SEP]) for WordPiece, token types
 * 0 for the first segment incl. [CLS] and its [SEP], 1 for the second;
 * <s> a </s> (</s> b </s>) for BPE (RoBERTa), token types all 0. */
struct encoding {
    int *ids;      /* (len) owned: free with encoding_free */
    int *type_ids; /* (len) owned */
    int len;
    bool truncated; /* true if longest-first truncation removed tokens */
};

/* Free ids and type_ids and zero *enc (a second call is harmless); NULL is a no-op. */
void encoding_free(struct encoding *enc);

/* The special-token layout of a family. */
struct encoding_layout {
    int cls, sep;
    int pair_seps;  /* separators between the texts of a pair: 1 (BERT), 2 (RoBERTa) */
    bool segment_b; /* text_b and its final separator get type id 1 (BERT) or 0 (RoBERTa) */
};

/* Specials in an encoding of one text (pair = false) or two. */
int encoding_specials(const struct encoding_layout *lay, bool pair);

/*
 * out = [CLS] a [SEP] (pair_seps x [SEP] b [SEP]) after truncating a[0..na) and b[0..nb) to
 * max_len with the LongestFirst rule of HF's fast tokenizers (tokenizers' truncate_encodings):
 * the texts' budget is max_len minus the specials; a text no longer than half of it is kept
 * whole and the other takes the rest, else each gets half and an odd budget's spare token
 * goes to the longer text (to b on a tie).  Tokens are cut from the end.  pair false: one
 * text (b unused); a and b may be NULL when their counts are 0.
 * max_len must leave room for every special and one more token (checked by callers).
 * ERR_NOMEM on allocation failure (out is then empty).
 */
int encoding_build(const struct encoding_layout *lay, const int *a, size_t na, const int *b,
                   size_t nb, bool pair, int max_len, struct encoding *out, struct err *e);

#endif
