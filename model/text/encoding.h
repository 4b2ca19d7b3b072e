/*
 * encoding: assembling a model input from one or two tokenized texts, shared by the WordPiece
 * (BERT) and byte-level BPE (RoBERTa) tokenizers, which differ only in their special tokens.
 */
#ifndef MODEL_ENCODING_H
#define MODEL_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "model/text/tokenizer.h"

/* The special-token layout of a family. */
struct encoding_layout {
    int cls, sep;
    int pair_seps;    /* separators between the texts of a pair: 1 (BERT), 2 (RoBERTa) */
    bool segment_b;   /* text_b and its final separator get type id 1 (BERT) or 0 (RoBERTa) */
};

/* Specials in an encoding of one text (pair = false) or two. */
int encoding_specials(const struct encoding_layout *lay, bool pair);

/*
 * out = [CLS] a [SEP] (pair_seps x [SEP] b [SEP]) after truncating a[0..na) and b[0..nb) to
 * max_len with HF's "longest_first" rule (truncate_sequences: remove total - max_len tokens
 * one at a time from the end of the longer text, from b on a tie), in its closed form: first
 * the difference, then the rest split with the odd one going to b.  pair false: one text (b
 * unused); a and b may be NULL when their counts are 0.
 * max_len must leave room for every special and one token of each text (checked by callers).
 * ERR_NOMEM on allocation failure (out is then empty).
 */
int encoding_build(const struct encoding_layout *lay, const int *a, size_t na, const int *b,
                   size_t nb, bool pair, int max_len, struct encoding *out, struct err *e);

#endif
