/*
 * bpe: the byte-level BPE tokenizer of GPT-2 / RoBERTa (Hugging Face's Python
 * RobertaTokenizer), loaded from vocab.json + merges.txt; one kind behind the tokenizer.h
 * front.
 *
 * Callers use the tokenizer.h interface (tokenizer_load_bpe, tokenizer_load_dir);
 * model/text/tokenizer.c builds a struct bpe with bpe_load and calls it through bpe_kind.
 * The state is read-only after bpe_load, so several threads may tokenize with one
 * tokenizer.  Library code: never prints.
 */
#ifndef MODEL_BPE_H
#define MODEL_BPE_H

#include <stdbool.h>

#include "base/err.h"
#include "model/text/tokenizer_kind.h"
#include "model/text/tokfile.h" /* BPE_MAX_FILE_BYTES */

struct bpe; /* opaque */

/* The vtable the front calls (tokenize, vocabulary access, special ids). */
extern const struct tokenizer_kind bpe_kind;

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

#endif
