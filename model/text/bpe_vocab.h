/*
 * bpe_vocab: the tables of a byte-level BPE tokenizer (GPT-2 / RoBERTa): every symbol
 * interned once (vocab.json keys, merges.txt halves and results, the 256 byte symbols),
 * the vocab id of each symbol, the merge ranks and the special tokens, as loaded from
 * vocab.json + merges.txt.  Read-only after bpe_vocab_load, so several threads may share
 * it.  The tokenizing that reads these tables is model/text/bpe.c.  Library code: never
 * prints.
 */
#ifndef MODEL_BPE_VOCAB_H
#define MODEL_BPE_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/text/tokenizer_kind.h"

#define BPE_NSPECIAL 5 /* <s> </s> <pad> <unk> <mask> */

struct bpe_merge {
    int32_t left, right; /* symbols merged */
    int32_t out;         /* symbol of left + right */
    uint32_t line;       /* 1-based line in merges.txt, for duplicate messages */
};

struct bpe_special {
    const char *s; /* borrowed: points into bpe_vocab.pool */
    size_t n;      /* strlen(s) */
    int id;
    bool lstrip; /* drop the whitespace before it (<mask>) */
};

/*
 * Symbols are the distinct strings of vocab.json keys, merges.txt halves and results and
 * the 256 byte symbols, interned once so that BPE compares int32 indices, not strings.
 */
struct bpe_vocab {
    int V;      /* largest id + 1 */
    char *pool; /* owned (pool_cap): every symbol, NUL-terminated */
    size_t pool_len, pool_cap;
    size_t *sym_off;   /* owned (cap_sym): offset of each symbol in pool */
    uint32_t *sym_len; /* owned (cap_sym): byte length of each symbol */
    int32_t *sym_id;   /* owned (cap_sym): vocab id of each symbol, -1 if not in vocab */
    size_t nsym, cap_sym;
    int32_t *sym_slot;       /* owned (sym_hcap): symbol or -1; open addressing, FNV-1a */
    size_t sym_hcap;         /* power of two >= 2 cap_sym, so probes always end */
    int32_t *id_sym;         /* owned (V): symbol of each id, -1 for an unused id */
    int32_t byte_sym[256];   /* symbol of each byte (GPT-2's bytes_to_unicode spelling) */
    struct bpe_merge *merge; /* owned (cap_merge): merge of rank r at [r] */
    size_t nmerge, cap_merge;
    int32_t *merge_slot; /* owned (merge_hcap): rank or -1, keyed by (left, right) */
    size_t merge_hcap;   /* power of two >= 2 cap_merge */
    struct tokenizer_special_ids sp;
    struct bpe_special special[BPE_NSPECIAL]; /* the specials present, to cut out of text */
    int nspecial;
};

/*
 * Load vocab_json (a JSON object token -> id; ids are non-negative, unique, below
 * TOK_MAX_VOCAB; tokens are unique, non-empty UTF-8 of at most TOK_MAX_TOKEN_BYTES; it
 * must hold <s> </s> <pad> <unk>, and <mask> if present is recorded) and merges_txt (an
 * optional first line starting with "#version", then one merge "a b" per line, rank =
 * order; blank lines are skipped).  *out = NULL on failure; messages name the file and
 * the key (vocab.json) or 1-based line (merges.txt).
 */
int bpe_vocab_load(struct bpe_vocab **out, const char *vocab_json, const char *merges_txt,
                   struct err *e);

/* Release everything bpe_vocab_load made; NULL is a no-op. */
void bpe_vocab_free(struct bpe_vocab *b);

/* Rank of merging symbol left + symbol right, or -1. */
int32_t bpe_vocab_rank(const struct bpe_vocab *b, int32_t left, int32_t right);

/* Token of id in vocab.json's byte-level spelling ("\xC4\xA0hello" for " hello"), or
 * NULL when id is out of range or unused. */
const char *bpe_vocab_id_to_token(const struct bpe_vocab *b, int id);

/* Id of tok (byte-level spelling), or -1. */
int bpe_vocab_token_to_id(const struct bpe_vocab *b, const char *tok);

#endif
