/*
 * tokenizer: text -> token ids for an encoder, behind one interface.
 *
 * Implementations: BERT WordPiece from vocab.txt (model/text/wordpiece.c); RoBERTa
 * byte-level BPE from vocab.json + merges.txt (model/text/bpe.c).
 * Library code: never prints; errors go to struct err.
 *
 * Dependency order of model/text, from the bottom up: each file calls and includes only
 * files listed before it (and base/), never one after it, so there is no circle even
 * counting a .c/.h pair as one node (tests/test_layout.c).  The front (tokenizer.c)
 * reaches the two kinds through their constructors and the vtable of tokenizer_kind.h;
 * the kinds never call the front nor include this header: the types they share with it
 * are in tokenizer_opts.h and encoding.h.  Nothing here includes model/engine, model/arch
 * or model/io.
 *   tokenizer_opts.h  struct tokenizer_opts and the vocabulary limits (header only)
 *   encoding          struct encoding; special-token layout and longest-first truncation
 *   tokmem            growth of per-call scratch arrays; the out-of-memory error
 *   tokfile           bounded reads of vocab.json / merges.txt / tokenizer_config.json
 *   tokenizer_kind.h  the interface between the front and a kind (header only)
 *   bert_unicode      lowercase, accent-stripping and CJK tables
 *   bert_basic        BERT BasicTokenizer: character classes, clean/split/normalize
 *   wordpiece_vocab   vocab.txt and the WordPiece token table
 *   wordpiece         WordPiece kind: special tokens, greedy longest-match
 *   bpe_vocab         vocab.json + merges.txt: symbols, merge ranks, special tokens
 *   bpe               byte-level BPE kind: pre-tokenizer regex, merge loop
 *   tokenizer         the front: this header's functions but one, via the kinds' vtables
 *   tokenizer_dir     tokenizer_load_dir (picks a kind from a model directory)
 *   vocab_build       WordPiece vocabulary training (uses this header only)
 */
#ifndef MODEL_TOKENIZER_H
#define MODEL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "model/text/encoding.h"       /* struct encoding, encoding_free */
#include "model/text/tokenizer_opts.h" /* struct tokenizer_opts, TOK_MAX_VOCAB, ... */

/* HF defaults for an uncased BERT: lowercase, strip accents, CJK split, 100; no prefix space. */
void tokenizer_opts_default(struct tokenizer_opts *o);

struct tokenizer; /* opaque */

/* Load a WordPiece vocabulary (one token per line, id = line number, LF or
 * CRLF).  Requires [PAD], [UNK], [CLS], [SEP] (and [MASK] if present is
 * recorded).  Errors: missing file, duplicate token (names both lines),
 * empty vocab, over TOK_MAX_VOCAB, invalid UTF-8 (names the line). */
int tokenizer_load_wordpiece(struct tokenizer **out, const char *vocab_path,
                             const struct tokenizer_opts *opts, struct err *e);

/* Same from an in-memory list of tokens (used by the vocabulary builder and tests). */
int tokenizer_from_tokens(struct tokenizer **out, const char *const *tokens, int n,
                          const struct tokenizer_opts *opts, struct err *e);

/* Load a GPT-2/RoBERTa byte-level BPE tokenizer: vocab_json (JSON object token -> id;
 * needs <s> </s> <pad> <unk>, <mask> recorded if present) and merges_txt (optional
 * "#version" first line, then "a b" per line, rank = order).  opts may be NULL (no
 * prefix space); only opts->add_prefix_space is used.  A symbol missing from vocab.json
 * maps to <unk>.  Errors name the file and key or line; details in model/text/bpe.h. */
int tokenizer_load_bpe(struct tokenizer **out, const char *vocab_json, const char *merges_txt,
                       const struct tokenizer_opts *opts, struct err *e);

/* Load the tokenizer of a Hugging Face model directory: vocab.txt -> WordPiece, with
 * do_lower_case / strip_accents / tokenize_chinese_chars from tokenizer_config.json when
 * it has them (default: lowercase); vocab.json + merges.txt -> BPE, with add_prefix_space
 * from tokenizer_config.json (default false).  Neither, only half of the BPE pair, or
 * both kinds -> an error naming the directory and the files expected. */
int tokenizer_load_dir(struct tokenizer **out, const char *model_dir, struct err *e);

void tokenizer_free(struct tokenizer *t);

/* Split one text into token ids without special tokens (no truncation).
 * *ids is malloc'ed (caller frees); invalid UTF-8 -> ERR_FORMAT naming the byte offset. */
int tokenizer_tokenize(const struct tokenizer *t, const char *text, int **ids, int *n,
                       struct err *e);

/* BERT basic pre-tokenization of text with t's options: the words that
 * tokenizer_tokenize hands to WordPiece, in order.  Special tokens of the
 * vocabulary are cut out of the text (and not returned), then cleaning, CJK
 * spacing, whitespace split, lowercasing, accent stripping and punctuation split
 * as tokenizer_tokenize does.  Pieces longer than max_word_chars are returned too
 * (WordPiece would map them to [UNK]).  *words is ONE malloc'ed block holding
 * (*n + 1) pointers (the last NULL) followed by the NUL-terminated UTF-8 words:
 * the caller frees it with a single free(*words).  Used by the vocabulary builder.
 * Errors: invalid UTF-8 (ERR_FORMAT naming the byte offset), ERR_NOMEM. */
int tokenizer_basic_split(const struct tokenizer *t, const char *text, char ***words, int *n,
                          struct err *e);

/* Encode a single text (text_b == NULL) or a pair, with special tokens, truncated
 * longest-first as HF's fast tokenizers do (rule in encoding.h) so that the total is
 * <= max_len (max_len >= 3, or for pairs >= 4 with WordPiece and >= 5 with BPE).  Free
 * *out with encoding_free (declared in model/text/encoding.h, which this header includes). */
int tokenizer_encode(const struct tokenizer *t, const char *text_a, const char *text_b, int max_len,
                     struct encoding *out, struct err *e);

/* Vocabulary access. */
int tokenizer_vocab_size(const struct tokenizer *t);
/* The options t was built with into *o (the defaults for t == NULL); true when t is a
 * byte-level BPE tokenizer (whose options are add_prefix_space only), false for WordPiece. */
bool tokenizer_get_opts(const struct tokenizer *t, struct tokenizer_opts *o);
const char *tokenizer_id_to_token(const struct tokenizer *t, int id);  /* NULL if out of range */
int tokenizer_token_to_id(const struct tokenizer *t, const char *tok); /* -1 if absent */

/* Special token ids (-1 when the vocabulary has none, e.g. no [MASK]). */
int tokenizer_pad_id(const struct tokenizer *t);
int tokenizer_unk_id(const struct tokenizer *t);
int tokenizer_cls_id(const struct tokenizer *t);
int tokenizer_sep_id(const struct tokenizer *t);
int tokenizer_mask_id(const struct tokenizer *t);

#endif
