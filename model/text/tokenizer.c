/*
 * tokenizer: the front of tokenizer.h.  It owns struct tokenizer (a kind's vtable and
 * state), checks the public arguments, resolves the options, and dispatches to the kind:
 * WordPiece (model/text/wordpiece.c) or byte-level BPE (model/text/bpe.c), through the
 * interface of model/text/tokenizer_kind.h.  tokenizer_encode is the same for both kinds
 * (tokenize each text, then model/text/encoding.c), with the kind's special-token layout.
 * The kinds never call this file.  tokenizer_load_dir is in tokenizer_dir.c.
 */
#include "model/text/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "model/text/bpe.h"
#include "model/text/encoding.h"
#include "model/text/tokenizer_kind.h"
#include "model/text/wordpiece.h"

struct tokenizer {
    const struct tokenizer_kind *kind; /* &wordpiece_kind or &bpe_kind */
    void *impl;                        /* owned: the kind's state, freed by kind->free */
    struct tokenizer_opts opts;        /* as built (defaults filled in) */
    int V;                             /* kind->vocab_size(impl) */
    struct tokenizer_special_ids sp;   /* kind->special_ids(impl) */
};

void tokenizer_opts_default(struct tokenizer_opts *o)
{
    if (!o)
        return;
    o->lowercase = true;
    o->strip_accents = true;
    o->tokenize_chinese = true;
    o->max_word_chars = 100;
    o->add_prefix_space = false;
}

/* opts, or the defaults when opts is NULL. */
static struct tokenizer_opts tok_resolve_opts(const struct tokenizer_opts *opts)
{
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    if (opts)
        o = *opts;
    return o;
}

/* *out = a tokenizer over impl (a state of kind), or ERR_NOMEM with impl freed. */
static int tok_wrap(struct tokenizer **out, const struct tokenizer_kind *kind, void *impl,
                    const struct tokenizer_opts *o, struct err *e)
{
    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        kind->free(impl);
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
    }
    t->kind = kind;
    t->impl = impl;
    t->opts = *o;
    t->V = kind->vocab_size(impl);
    t->sp = kind->special_ids(impl);
    *out = t;
    return 0;
}

/* ---------------------------------------------------------------- construction */

int tokenizer_load_wordpiece(struct tokenizer **out, const char *vocab_path,
                             const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_wordpiece: out is NULL");
    *out = NULL;
    struct tokenizer_opts o = tok_resolve_opts(opts);
    struct wordpiece *wp;
    int rc = wordpiece_load(&wp, vocab_path, &o, e);
    return rc ? rc : tok_wrap(out, &wordpiece_kind, wp, &o, e);
}

int tokenizer_from_tokens(struct tokenizer **out, const char *const *tokens, int n,
                          const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_from_tokens: out is NULL");
    *out = NULL;
    struct tokenizer_opts o = tok_resolve_opts(opts);
    struct wordpiece *wp;
    int rc = wordpiece_from_tokens(&wp, tokens, n, &o, e);
    return rc ? rc : tok_wrap(out, &wordpiece_kind, wp, &o, e);
}

int tokenizer_load_bpe(struct tokenizer **out, const char *vocab_json, const char *merges_txt,
                       const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: out is NULL");
    *out = NULL;
    /* add_prefix_space false by default, as RobertaTokenizer */
    struct tokenizer_opts o = tok_resolve_opts(opts);
    struct bpe *b;
    int rc = bpe_load(&b, vocab_json, merges_txt, o.add_prefix_space, e);
    return rc ? rc : tok_wrap(out, &bpe_kind, b, &o, e);
}

void tokenizer_free(struct tokenizer *t)
{
    if (!t)
        return;
    t->kind->free(t->impl);
    free(t);
}

/* ------------------------------------------------------------------ tokenizing */

int tokenizer_tokenize(const struct tokenizer *t, const char *text, int **ids, int *n,
                       struct err *e)
{
    if (!ids || !n)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: ids and n must not be NULL");
    *ids = NULL;
    *n = 0;
    if (!t || !text)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: tokenizer and text must not be NULL");
    return t->kind->tokenize(t->impl, text, ids, n, e);
}

int tokenizer_basic_split(const struct tokenizer *t, const char *text, char ***words, int *n,
                          struct err *e)
{
    if (!words || !n)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_basic_split: words and n must not be NULL");
    *words = NULL;
    *n = 0;
    if (!t || !text)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_basic_split: tokenizer and text must not be NULL");
    if (!t->kind->basic_split) /* BERT pre-tokenization has no meaning for byte-level BPE */
        return ERR_SET(e, ERR_UNSUPPORTED, "tokenizer_basic_split: needs a WordPiece tokenizer");
    return t->kind->basic_split(t->impl, text, words, n, e);
}

/* -------------------------------------------------------------------- encoding */

/* Truncation and layout: model/text/encoding.c (HF tokenizers' LongestFirst); the special tokens
 * and their layout are the kind's. */
int tokenizer_encode(const struct tokenizer *t, const char *text_a, const char *text_b, int max_len,
                     struct encoding *out, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!t || !text_a)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: tokenizer and text_a must not be NULL");
    int min_len = text_b ? t->kind->pair_min_len : 3;
    if (max_len < min_len)
        return ERR_SET(e, ERR_RANGE, "tokenizer_encode: max_len must be >= %d for %s (got %d)",
                       min_len, text_b ? "a pair" : "a single text", max_len);

    int *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    int rc = tokenizer_tokenize(t, text_a, &a, &na, e);
    if (rc) {
        err_prefix(e, "text_a");
        goto out;
    }
    if (text_b) {
        rc = tokenizer_tokenize(t, text_b, &b, &nb, e);
        if (rc) {
            err_prefix(e, "text_b");
            goto out;
        }
    }

    const struct encoding_layout lay = {t->sp.cls, t->sp.sep, t->kind->pair_seps,
                                        t->kind->segment_b};
    rc = encoding_build(&lay, a, (size_t)na, b, (size_t)nb, text_b != NULL, max_len, out, e);
out:
    free(b);
    free(a);
    return rc;
}

/* ---------------------------------------------------------------------- access */

int tokenizer_vocab_size(const struct tokenizer *t)
{
    return t ? t->V : 0;
}

bool tokenizer_get_opts(const struct tokenizer *t, struct tokenizer_opts *o)
{
    tokenizer_opts_default(o);
    if (t)
        *o = t->opts;
    return t && t->kind == &bpe_kind;
}

const char *tokenizer_id_to_token(const struct tokenizer *t, int id)
{
    return t ? t->kind->id_to_token(t->impl, id) : NULL;
}

int tokenizer_token_to_id(const struct tokenizer *t, const char *tok)
{
    if (!t || !tok)
        return -1;
    return t->kind->token_to_id(t->impl, tok);
}

int tokenizer_pad_id(const struct tokenizer *t)
{
    return t ? t->sp.pad : -1;
}

int tokenizer_unk_id(const struct tokenizer *t)
{
    return t ? t->sp.unk : -1;
}

int tokenizer_cls_id(const struct tokenizer *t)
{
    return t ? t->sp.cls : -1;
}

int tokenizer_sep_id(const struct tokenizer *t)
{
    return t ? t->sp.sep : -1;
}

int tokenizer_mask_id(const struct tokenizer *t)
{
    return t ? t->sp.mask : -1;
}
