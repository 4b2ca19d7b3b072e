/*
 * wordpiece: the BERT WordPiece tokenizer of Hugging Face transformers (the Python
 * BertTokenizer: PreTrainedTokenizer.tokenize -> BasicTokenizer -> WordpieceTokenizer),
 * reimplemented in C.  Contract in tokenizer.h (through the front, tokenizer.c) and
 * wordpiece.h.
 *
 * Pipeline for one text (the HF step in brackets):
 *  1. [PreTrainedTokenizer.tokenize, tokens_trie] the special tokens [PAD] [UNK] [CLS]
 *     [SEP] [MASK] that the vocabulary holds are cut out of the raw text (exact,
 *     case-sensitive, no word boundary needed: "a[SEP]b" -> a [SEP] b) and map straight
 *     to their ids.  The pieces between them go through steps 2-6.  (Here: wp_run.)
 *  2-5. [BasicTokenizer] cleaning, CJK spacing, whitespace split, lowercasing, accent
 *     stripping and punctuation split: model/text/bert_basic.c, with the Unicode tables
 *     of model/text/bert_unicode.c.
 *  6. [WordpieceTokenizer] a piece longer than max_word_chars code points becomes [UNK];
 *     otherwise greedy longest-match-first with the "##" continuation prefix, and if any
 *     position has no match the whole piece is a single [UNK].  (Here: wp_piece.)
 * The vocabulary (vocab.txt, token lookup) is model/text/wordpiece_vocab.c.
 *
 * Known difference from HF (more in bert_unicode.c and wordpiece_vocab.c): a special
 * token absent from the vocabulary (e.g. no [MASK]) is not cut out of the text: HF would
 * append it as a new id V, past the embedding table.
 */
#include "model/text/wordpiece.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/text/bert_basic.h"
#include "model/text/tokmem.h"
#include "model/text/wordpiece_vocab.h"

struct wordpiece {
    struct bert_basic basic; /* owned tables; basic.opts are the tokenizer's options */
    struct wp_vocab vocab;   /* owned */
};

/* ------------------------------------------------------------------- lifecycle */

void wordpiece_free(struct wordpiece *t)
{
    if (!t)
        return;
    bert_basic_free(&t->basic);
    wp_vocab_free(&t->vocab);
    free(t);
}

/* Build a tokenizer from tok[i][0..len[i]), i < n; path names the source in messages
 * (NULL: an in-memory list). */
static int wp_build(struct wordpiece **out, const char *const *tok, const size_t *len, size_t n,
                    const struct tokenizer_opts *opts, const char *path, struct err *e)
{
    if (opts->max_word_chars < 1)
        return ERR_SET(e, ERR_CONFIG, "tokenizer: max_word_chars must be >= 1 (got %d)",
                       opts->max_word_chars);
    struct wordpiece *t = calloc(1, sizeof *t);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
    int rc = wp_vocab_build(&t->vocab, tok, len, n, path, e);
    if (!rc)
        rc = bert_basic_init(&t->basic, opts, e);
    if (rc) {
        wordpiece_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int wordpiece_from_tokens(struct wordpiece **out, const char *const *tokens, int n,
                          const struct tokenizer_opts *opts, struct err *e)
{
    *out = NULL;
    if (n < 0 || (n > 0 && !tokens))
        return ERR_SET(e, ERR_CONFIG, "tokenizer_from_tokens: need a token array (n = %d)", n);
    size_t *len = malloc(((size_t)n + 1) * sizeof *len);
    if (!len)
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!tokens[i])
            rc = ERR_SET(e, ERR_CONFIG, "tokens[%d]: NULL token", i);
        else /* strnlen: a huge string is refused without reading all of it */
            len[i] = strnlen(tokens[i], (size_t)TOK_MAX_TOKEN_BYTES + 1);
    }
    if (!rc)
        rc = wp_build(out, tokens, len, (size_t)n, opts, NULL, e);
    free(len);
    return rc;
}

int wordpiece_load(struct wordpiece **out, const char *vocab_path,
                   const struct tokenizer_opts *opts, struct err *e)
{
    *out = NULL;
    if (!vocab_path)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_wordpiece: vocab_path is NULL");
    struct wp_lines lines;
    int rc = wp_vocab_read_lines(vocab_path, &lines, e);
    if (rc)
        return rc;
    rc = wp_build(out, lines.tok, lines.len, lines.n, opts, vocab_path, e);
    wp_lines_free(&lines);
    return rc;
}

/* ------------------------------------------------------------------- tokenizing */

/* Scratch for one tokenizer_tokenize call (the tokenizer itself stays read-only, so
 * several threads may tokenize with one tokenizer). */
struct wp_work {
    const struct wordpiece *wp; /* borrowed: the tokenizer running */
    struct bert_work basic;     /* scratch of the BasicTokenizer; its pieces go to wp_piece */
    char *bytes;                /* (cap_bytes) UTF-8 of one piece */
    size_t cap_bytes;
    size_t *cut; /* (cap_cut) byte offset in bytes of each character boundary */
    size_t cap_cut;
    int *ids; /* (cap_ids) output ids; handed to the caller */
    size_t nids, cap_ids;
    /* tokenizer_basic_split mode: pieces are collected as text instead of run through
     * WordPiece, and special tokens cut out of the text are dropped. */
    bool split;
    char *wtext; /* (cap_wtext) the pieces, each NUL-terminated */
    size_t nwtext, cap_wtext;
    size_t *woff; /* (cap_woff) offset in wtext of each piece */
    size_t nwords, cap_woff;
};

static int wp_piece(void *ctx, const uint32_t *cp, size_t n, struct err *e);

static void wp_work_init(struct wp_work *w, const struct wordpiece *t, bool split)
{
    memset(w, 0, sizeof *w);
    w->wp = t;
    w->basic.piece = wp_piece;
    w->basic.ctx = w;
    w->split = split;
}

static void wp_work_free(struct wp_work *w)
{
    bert_work_free(&w->basic);
    free(w->woff);
    free(w->wtext);
    free(w->ids);
    free(w->cut);
    free(w->bytes);
}

static int wp_push(struct wp_work *w, int id, struct err *e)
{
    if (w->nids >= INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "tokenizer: text has more than %d tokens", INT_MAX);
    int *p = tokmem_grow(w->ids, &w->cap_ids, w->nids + 1, sizeof *p);
    if (!p)
        return tokmem_nomem(e);
    w->ids = p;
    w->ids[w->nids++] = id;
    return 0;
}

/* Split mode: append the UTF-8 of cp[0..n) as one more piece of w->wtext. */
static int wp_collect(struct wp_work *w, const uint32_t *cp, size_t n, struct err *e)
{
    if (w->nwords >= INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "tokenizer: text has more than %d words", INT_MAX);
    char *b = tokmem_grow(w->wtext, &w->cap_wtext, w->nwtext + n * UTF8_MAX_BYTES + 1, 1);
    if (!b)
        return tokmem_nomem(e);
    w->wtext = b;
    size_t *off = tokmem_grow(w->woff, &w->cap_woff, w->nwords + 1, sizeof *off);
    if (!off)
        return tokmem_nomem(e);
    w->woff = off;
    off[w->nwords++] = w->nwtext;
    for (size_t i = 0; i < n; i++)
        w->nwtext += (size_t)utf8_encode(cp[i], b + w->nwtext);
    b[w->nwtext++] = '\0';
    return 0;
}

/* WordPiece on one punctuation-free piece cp[0..n): append its ids to w->ids. */
static int wp_piece(void *ctx, const uint32_t *cp, size_t n, struct err *e)
{
    struct wp_work *w = ctx;
    const struct wordpiece *t = w->wp;
    if (n == 0)
        return 0;
    if (w->split)
        return wp_collect(w, cp, n, e);
    if (n > (size_t)t->basic.opts.max_word_chars)
        return wp_push(w, t->vocab.unk, e);
    char *b = tokmem_grow(w->bytes, &w->cap_bytes, n * UTF8_MAX_BYTES, 1);
    if (!b)
        return tokmem_nomem(e);
    w->bytes = b;
    size_t *cut = tokmem_grow(w->cut, &w->cap_cut, n + 1, sizeof *cut);
    if (!cut)
        return tokmem_nomem(e);
    w->cut = cut;
    cut[0] = 0;
    for (size_t i = 0; i < n; i++)
        cut[i + 1] = cut[i] + (size_t)utf8_encode(cp[i], b + cut[i]);

    size_t mark = w->nids;
    for (size_t start = 0; start < n;) {
        bool cont = start > 0;
        size_t extra = cont ? 2 : 0;
        size_t end = n;
        /* HF tries every end from n down; ends whose candidate is longer than the
         * longest vocabulary entry cannot match, so start below them. */
        while (end > start && cut[end] - cut[start] + extra > t->vocab.max_len)
            end--;
        int id = -1;
        for (; end > start; end--) {
            id = wp_vocab_find(&t->vocab, cont, b + cut[start], cut[end] - cut[start]);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            w->nids = mark; /* any missing piece makes the whole piece [UNK] */
            return wp_push(w, t->vocab.unk, e);
        }
        int rc = wp_push(w, id, e);
        if (rc)
            return rc;
        start = end;
    }
    return 0;
}

/* Index in t->vocab.special of the special token that s[0..len) starts with, or -1. */
static int wp_special_at(const struct wordpiece *t, const char *s, size_t len)
{
    for (int k = 0; k < t->vocab.nspecial; k++) {
        if (t->vocab.special[k].n <= len &&
            memcmp(s, t->vocab.special[k].s, t->vocab.special[k].n) == 0)
            return k;
    }
    return -1;
}

static int wp_run(const struct wordpiece *t, struct wp_work *w, const char *text, struct err *e)
{
    size_t len = strlen(text);
    int rc = utf8_validate(text, len, e);
    if (rc)
        return rc;
    rc = bert_work_begin(&w->basic, e);
    if (rc)
        return rc;
    size_t seg = 0; /* start of the text not yet tokenized */
    for (size_t pos = 0; pos < len;) {
        const char *q = memchr(text + pos, '[', len - pos);
        if (!q)
            break;
        size_t at = (size_t)(q - text);
        int k = wp_special_at(t, q, len - at);
        if (k < 0) {
            pos = at + 1;
            continue;
        }
        rc = bert_basic_run(&t->basic, &w->basic, text + seg, at - seg, e);
        if (!rc && !w->split)
            rc = wp_push(w, t->vocab.special[k].id, e);
        if (rc)
            return rc;
        pos = seg = at + t->vocab.special[k].n;
    }
    return bert_basic_run(&t->basic, &w->basic, text + seg, len - seg, e);
}

int wordpiece_tokenize(const struct wordpiece *t, const char *text, int **ids, int *n,
                       struct err *e)
{
    struct wp_work w;
    wp_work_init(&w, t, false);
    int rc = wp_run(t, &w, text, e);
    if (!rc && !w.ids) { /* always hand back a block, even for zero tokens */
        w.ids = malloc(sizeof *w.ids);
        if (!w.ids)
            rc = tokmem_nomem(e);
    }
    if (!rc) {
        *ids = w.ids;
        *n = (int)w.nids;
        w.ids = NULL;
    }
    wp_work_free(&w);
    return rc;
}

int wordpiece_basic_split(const struct wordpiece *t, const char *text, char ***words, int *n,
                          struct err *e)
{
    struct wp_work w;
    wp_work_init(&w, t, true);
    int rc = wp_run(t, &w, text, e);
    char **block = NULL;
    if (!rc) { /* one block: the pointer array, then the text it points into */
        size_t head = (w.nwords + 1) * sizeof *block;
        block = malloc(head + w.nwtext + 1);
        if (!block) {
            rc = tokmem_nomem(e);
        } else {
            char *txt = (char *)block + head;
            if (w.nwtext)
                memcpy(txt, w.wtext, w.nwtext);
            for (size_t i = 0; i < w.nwords; i++)
                block[i] = txt + w.woff[i];
            block[w.nwords] = NULL;
            *words = block;
            *n = (int)w.nwords;
        }
    }
    wp_work_free(&w);
    return rc;
}

/* ---------------------------------------------------------------- the kind */

static void wp_kind_free(void *impl)
{
    wordpiece_free(impl);
}

static int wp_kind_tokenize(const void *impl, const char *text, int **ids, int *n, struct err *e)
{
    return wordpiece_tokenize(impl, text, ids, n, e);
}

static int wp_kind_basic_split(const void *impl, const char *text, char ***words, int *n,
                               struct err *e)
{
    return wordpiece_basic_split(impl, text, words, n, e);
}

static int wp_kind_vocab_size(const void *impl)
{
    const struct wordpiece *t = impl;
    return t->vocab.V;
}

static const char *wp_kind_id_to_token(const void *impl, int id)
{
    const struct wordpiece *t = impl;
    return wp_vocab_token(&t->vocab, id);
}

static int wp_kind_token_to_id(const void *impl, const char *tok)
{
    const struct wordpiece *t = impl;
    return wp_vocab_find(&t->vocab, false, tok, strlen(tok));
}

static struct tokenizer_special_ids wp_kind_special_ids(const void *impl)
{
    const struct wordpiece *t = impl;
    const struct wp_vocab *v = &t->vocab;
    return (struct tokenizer_special_ids){v->pad, v->unk, v->cls, v->sep, v->mask};
}

/* [CLS] a [SEP] (b [SEP]), text_b and its [SEP] in segment 1 (BertTokenizer). */
const struct tokenizer_kind wordpiece_kind = {
    .pair_seps = 1,
    .segment_b = true,
    .pair_min_len = 4,
    .free = wp_kind_free,
    .tokenize = wp_kind_tokenize,
    .basic_split = wp_kind_basic_split,
    .vocab_size = wp_kind_vocab_size,
    .id_to_token = wp_kind_id_to_token,
    .token_to_id = wp_kind_token_to_id,
    .special_ids = wp_kind_special_ids,
};
