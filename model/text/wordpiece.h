/*
 * wordpiece: the BERT WordPiece tokenizer of Hugging Face transformers (BertTokenizer),
 * one kind behind the tokenizer.h front.  Callers use tokenizer.h (tokenizer_load_wordpiece,
 * tokenizer_from_tokens, tokenizer_load_dir); model/text/tokenizer.c builds a struct
 * wordpiece with the constructors below and calls it through wordpiece_kind.  This file
 * does not include tokenizer.h: it sits below the front.
 *
 * The state is read-only after construction, so several threads may tokenize with one
 * tokenizer.  Library code: never prints.
 */
#ifndef MODEL_WORDPIECE_H
#define MODEL_WORDPIECE_H

#include "base/err.h"
#include "model/text/tokenizer_kind.h"
#include "model/text/tokenizer_opts.h"

struct wordpiece; /* opaque */

/* The vtable the front calls (tokenize, basic_split, vocabulary access). */
extern const struct tokenizer_kind wordpiece_kind;

/* tokenizer_load_wordpiece without the front: read vocab_path (one token per line, id =
 * line number) with options *opts (not NULL; max_word_chars >= 1).  *out = NULL on
 * failure; messages name the file and 1-based line. */
int wordpiece_load(struct wordpiece **out, const char *vocab_path,
                   const struct tokenizer_opts *opts, struct err *e);

/* tokenizer_from_tokens without the front: tokens[0..n) in id order, options *opts (not
 * NULL).  *out = NULL on failure; messages name tokens[i]. */
int wordpiece_from_tokens(struct wordpiece **out, const char *const *tokens, int n,
                          const struct tokenizer_opts *opts, struct err *e);

/* Release everything; NULL is a no-op. */
void wordpiece_free(struct wordpiece *t);

/* tokenizer_tokenize and tokenizer_basic_split for a WordPiece tokenizer, same contracts;
 * the caller has checked that no argument is NULL and zeroed the outputs. */
int wordpiece_tokenize(const struct wordpiece *t, const char *text, int **ids, int *n,
                       struct err *e);
int wordpiece_basic_split(const struct wordpiece *t, const char *text, char ***words, int *n,
                          struct err *e);

#endif
