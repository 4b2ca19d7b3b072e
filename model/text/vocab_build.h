/*
 * vocab_build: train a WordPiece vocabulary (vocab.txt) from a text corpus.
 *
 * The approach of the Hugging Face `tokenizers` WordPieceTrainer (a BPE trainer with
 * the "##" continuing-subword prefix):
 *  1. Words: every line goes through the same BERT basic pre-tokenization that the
 *     tokenizer applies (tokenizer_basic_split: cleaning, whitespace split, lowercase,
 *     accent stripping, punctuation split), and identical words are counted.  Words
 *     longer than max_word_chars (which WordPiece maps to [UNK]) are left out.
 *  2. Alphabet: every character seen, in its word-initial form "c" and its
 *     continuation form "##c" (limit_alphabet > 0 keeps only the most frequent
 *     characters; words with a dropped character are left out of the merges).
 *  3. Merges: each word starts as its characters, "w" "##o" "##r" "##d".  Repeatedly
 *     the adjacent pair with the highest corpus count (ties: the pair of lower symbol
 *     ids, i.e. first in vocabulary order) is merged into a new token a + b-without-##,
 *     until the vocabulary has vocab_size tokens or no pair occurs min_frequency times.
 *     A lazy max-heap of pair counts makes this near linear: merging only lowers the
 *     counts of existing pairs and creates pairs with the new token, so a popped entry
 *     whose count is stale is pushed back with its current count.
 *  4. vocab.txt order: [PAD] [UNK] [CLS] [SEP] [MASK], the alphabet (initial forms in
 *     byte order, then the ## forms in byte order), then the merged tokens in merge order.
 *
 * The result is a deterministic function of (lines, options): no randomness, no
 * dependence on hash-table layout or thread count.  With the full alphabet every word
 * of the corpus tokenizes without [UNK]: at any position WordPiece's greedy longest
 * match can always fall back to a single character of the alphabet.
 * Library code: never prints.
 */
#ifndef MODEL_VOCAB_BUILD_H
#define MODEL_VOCAB_BUILD_H

#include <stddef.h>

#include "base/err.h"
#include "model/text/tokenizer.h"

#define VOCAB_NSPECIAL     5       /* [PAD] [UNK] [CLS] [SEP] [MASK], ids 0..4 */
#define VOCAB_MAX_SIZE     1000000 /* = TOK_MAX_VOCAB */
#define VOCAB_DEFAULT_SIZE 8000

struct vocab_build_opts {
    int vocab_size;            /* target size, specials and alphabet included (default 8000) */
    int min_frequency;         /* a merge needs a pair seen at least this often (default 2) */
    int limit_alphabet;        /* keep at most this many characters; 0 = all (default) */
    struct tokenizer_opts tok; /* pre-tokenization (default: uncased BERT) */
};

/* What the build saw and did (for logs and pretrain_stats.json). */
struct vocab_build_stats {
    size_t words;        /* words counted, repeats included */
    size_t unique_words; /* distinct words used for the merges */
    size_t skipped;      /* distinct words left out (too long, or a dropped character) */
    int alphabet;        /* characters in the alphabet (each gives two tokens) */
    int merges;          /* merges performed (a merge may re-create an existing token) */
    int size;            /* tokens in the vocabulary */
};

void vocab_build_opts_default(struct vocab_build_opts *o);

/* Train a vocabulary on lines[0..nlines) (UTF-8 text, one document or sentence
 * each).  *tokens receives (*n) malloc'ed strings in vocab.txt order; free with
 * vocab_tokens_free.  stats may be NULL.  Errors: ERR_CONFIG (vocab_size below the
 * specials plus the alphabet, naming both numbers; bad options), ERR_FORMAT (a
 * line that is not UTF-8, naming the line), ERR_NOMEM.  On failure *tokens is NULL. */
int vocab_build(char ***tokens, int *n, const char *const *lines, size_t nlines,
                const struct vocab_build_opts *o, struct vocab_build_stats *stats, struct err *e);

void vocab_tokens_free(char **tokens, int n); /* NULL-safe */

/* Write tokens as vocab.txt (one per line, LF) to path atomically: path.tmp.PID,
 * fsync, rename. */
int vocab_write(const char *path, const char *const *tokens, int n, struct err *e);

#endif
