/*
 * bpe: the byte-level BPE tokenizer of GPT-2 / RoBERTa (Hugging Face's Python
 * RobertaTokenizer), loaded from vocab.json + merges.txt.
 *
 * Callers use the tokenizer.h interface (tokenizer_load_bpe, tokenizer_load_dir);
 * struct tokenizer holds a struct bpe and forwards to the functions below, which
 * only model/text/wordpiece.c calls.  The state is read-only after bpe_load, so several
 * threads may tokenize with one tokenizer.  Library code: never prints.
 */
#ifndef MODEL_BPE_H
#define MODEL_BPE_H

#include <stdbool.h>

#include "base/err.h"
#include "model/text/tokenizer.h"

#define BPE_MAX_FILE_BYTES ((size_t)256 << 20) /* vocab.json / merges.txt larger: ERR_LIMIT */

struct bpe; /* opaque */

/* The special token ids (-1 when absent; only mask may be absent). */
struct bpe_special_ids {
    int pad, unk, cls, sep, mask; /* <pad> <unk> <s> </s> <mask> */
};

/*
 * Load vocab_json (a JSON object token -> id; ids are non-negative, unique, below
 * TOK_MAX_VOCAB; tokens are unique, non-empty UTF-8 of at most TOK_MAX_TOKEN_BYTES; it
 * must hold <s> </s> <pad> <unk>, and <mask> if present is recorded) and merges_txt (an
 * optional first line starting with "#version", then one merge "a b" per line, rank =
 * order; blank lines are skipped).  add_prefix_space: tokenize " " + text when the text
 * does not start with whitespace.  *out = NULL on failure; messages name the file and
 * the key (vocab.json) or 1-based line (merges.txt).
 */
int bpe_load(struct bpe **out, const char *vocab_json, const char *merges_txt,
             bool add_prefix_space, struct err *e);

/* Release everything bpe_load made; NULL is a no-op. */
void bpe_free(struct bpe *b);

/* tokenizer_tokenize for a BPE tokenizer: same contract (*ids malloc'ed, caller frees). */
int bpe_tokenize(const struct bpe *b, const char *text, int **ids, int *n, struct err *e);

/* tokenizer_encode for a BPE tokenizer: <s> a </s> or <s> a </s></s> b </s>, all type
 * ids 0, longest-first truncation to max_len (>= 3, or >= 5 for a pair). */
int bpe_encode(const struct bpe *b, const char *text_a, const char *text_b, int max_len,
               struct encoding *out, struct err *e);

/* Largest id + 1 (ids need not be contiguous). */
int bpe_vocab_size(const struct bpe *b);

/* Token of id in vocab.json's byte-level spelling ("\xC4\xA0hello" for " hello"), or
 * NULL when id is out of range or unused. */
const char *bpe_id_to_token(const struct bpe *b, int id);

/* Id of tok (byte-level spelling), or -1. */
int bpe_token_to_id(const struct bpe *b, const char *tok);

struct bpe_special_ids bpe_specials(const struct bpe *b);

#endif
