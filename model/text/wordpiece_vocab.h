/*
 * wordpiece_vocab: the vocabulary of a BERT WordPiece tokenizer: reading vocab.txt into
 * lines, checking the tokens (UTF-8, length, duplicates, the required specials), and
 * looking tokens up by text (open addressing, FNV-1a) or by id.  Read-only after
 * wp_vocab_build, so several threads may share it.  Library code: never prints.
 */
#ifndef MODEL_WORDPIECE_VOCAB_H
#define MODEL_WORDPIECE_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define WP_NSPECIAL 5 /* [PAD] [UNK] [CLS] [SEP] [MASK] */

/* A special token as it is cut out of the text. */
struct wp_special {
    const char *s; /* borrowed: points into wp_vocab.text */
    size_t n;      /* strlen(s) */
    int id;
};

struct wp_vocab {
    int V;                        /* vocabulary size */
    char *text;                   /* owned: every token, each NUL-terminated */
    size_t *off;                  /* owned (V): offset of token id in text */
    uint32_t *len;                /* owned (V): byte length of token id */
    int32_t *slot;                /* owned (cap): token id or -1; open addressing, FNV-1a */
    size_t cap;                   /* power of two >= 2V, so probes always end */
    size_t max_len;               /* longest token in bytes: bounds the WordPiece search */
    int pad, unk, cls, sep, mask; /* -1 when absent (only mask may be) */
    struct wp_special special[WP_NSPECIAL]; /* the specials present, in that order */
    int nspecial;
};

/* The lines of a vocab.txt: tok[k][0..len[k]) is line k (0-based = id), pointing into
 * data.  All three arrays are owned; free with wp_lines_free. */
struct wp_lines {
    char *data;
    const char **tok; /* (n) */
    size_t *len;      /* (n) */
    size_t n;
};

/* Read vocab_path into lines.  Lines end at "\n", "\r\n" or a lone "\r" (Python's
 * universal newlines); an empty line is the token "".  Errors: missing file, over
 * TOK_MAX_VOCAB lines, a NUL byte (naming the 1-based line), ERR_NOMEM.  On failure *out
 * is empty. */
int wp_vocab_read_lines(const char *vocab_path, struct wp_lines *out, struct err *e);
void wp_lines_free(struct wp_lines *l); /* NULL-safe; empties *l */

/* Fill v (zeroed by the caller) from tok[i][0..len[i]), i < n: id = i.  path names the
 * source in messages ("vocab.txt:7"), NULL an in-memory list ("tokens[6]").  Requires
 * [PAD] [UNK] [CLS] [SEP]; [MASK] is recorded if present.  Errors: empty, over
 * TOK_MAX_VOCAB, a token over TOK_MAX_TOKEN_BYTES or not UTF-8, a duplicate (naming both
 * places), a missing special; ERR_NOMEM.  On failure the caller still calls
 * wp_vocab_free. */
int wp_vocab_build(struct wp_vocab *v, const char *const *tok, const size_t *len, size_t n,
                   const char *path, struct err *e);

/* Free what wp_vocab_build made (not v itself); NULL is a no-op. */
void wp_vocab_free(struct wp_vocab *v);

/* Id of the token ("##" if cont) + p[0..n), or -1. */
int wp_vocab_find(const struct wp_vocab *v, bool cont, const char *p, size_t n);

/* Token of id, or NULL when id is out of range. */
const char *wp_vocab_token(const struct wp_vocab *v, int id);

#endif
