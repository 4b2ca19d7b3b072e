/*
 * bert_basic: BERT's BasicTokenizer (Hugging Face's Python BasicTokenizer as
 * PreTrainedTokenizer.tokenize runs it): text cleaning, CJK spacing, whitespace split,
 * lowercasing, accent stripping and punctuation split.  It cuts a text (without special
 * tokens) into pieces and hands each piece to a callback: WordPiece's greedy longest-match
 * (model/text/wordpiece.c) or tokenizer_basic_split's collector.
 *
 * struct bert_basic is read-only after bert_basic_init, so several threads may share it;
 * each run brings its own struct bert_work.  Library code: never prints.
 */
#ifndef MODEL_BERT_BASIC_H
#define MODEL_BERT_BASIC_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/text/tokenizer_opts.h"

#define BERT_NRE 4 /* the PCRE2 category patterns: \p{C} \p{Zs} \p{P} \p{Mn} */

/* A configured BasicTokenizer: its options and character-class tables. */
struct bert_basic {
    struct tokenizer_opts opts; /* lowercase, strip_accents, tokenize_chinese apply here */
    unsigned char *bmp_class;   /* owned (0x10000): class of each BMP code point */
    pcre2_code *re[BERT_NRE];   /* owned: compiled category patterns, for code points > U+FFFF */
};

/* Copy *opts into b, compile the category patterns and fill the BMP class table.
 * Errors: ERR_UNSUPPORTED (PCRE2 without Unicode support), ERR_NOMEM, ERR_STATE.  b must
 * start zeroed; on failure the caller still calls bert_basic_free. */
int bert_basic_init(struct bert_basic *b, const struct tokenizer_opts *opts, struct err *e);

/* Free what bert_basic_init made (not b itself); NULL is a no-op. */
void bert_basic_free(struct bert_basic *b);

/* Where each piece goes: cp[0..n) are its code points, n may be 0 (an empty piece, which
 * the callee skips).  A nonzero return stops the run and is returned by it. */
typedef int (*bert_piece_fn)(void *ctx, const uint32_t *cp, size_t n, struct err *e);

/* Scratch of one run: zero it, set piece and ctx, then bert_work_begin. */
struct bert_work {
    bert_piece_fn piece; /* called with ctx for each piece */
    void *ctx;           /* borrowed */
    uint32_t *word;      /* (cap_word) code points of the current whitespace-delimited word */
    size_t nword, cap_word;
    uint32_t *low; /* (cap_low) word after lowercasing */
    size_t cap_low;
    uint32_t *strip; /* (cap_strip) after accent stripping */
    size_t cap_strip;
    pcre2_match_data *md; /* for code points above the BMP */
};

/* Allocate the match data of w (ERR_NOMEM). */
int bert_work_begin(struct bert_work *w, struct err *e);

/* Free w's arrays and match data (not w itself, nor ctx). */
void bert_work_free(struct bert_work *w);

/* BasicTokenizer on s[0..len), valid UTF-8 without special tokens: every piece, in order,
 * goes to w->piece. */
int bert_basic_run(const struct bert_basic *b, struct bert_work *w, const char *s, size_t len,
                   struct err *e);

#endif
