/*
 * bpe: GPT-2 byte-level BPE as Hugging Face's Python RobertaTokenizer runs it
 * (PreTrainedTokenizer.tokenize -> RobertaTokenizer._tokenize -> bpe), in C.
 * Contract in bpe.h and tokenizer.h (through the front, tokenizer.c).  The tables it
 * reads (vocab.json, merges.txt) are loaded by model/text/bpe_vocab.c.
 *
 * Pipeline for one text (the HF step in brackets):
 *  1. [prepare_for_tokenization] with add_prefix_space, " " + text unless the text is
 *     empty or starts with whitespace (Python str.isspace).
 *  2. [tokens_trie] the special tokens <s> </s> <unk> <pad> <mask> that vocab.json holds
 *     are cut out of the text (exact, case-sensitive, anywhere) and map to their ids.
 *     <mask> is AddedToken(lstrip=True): the whitespace before it is dropped.
 *  3. [pat.findall] each piece between them is split by the GPT-2 pattern
 *       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *     (contractions are case-sensitive: "I'M" is "I" "'" "M", as in GPT-2).
 *  4. [byte_encoder] each pre-token's UTF-8 bytes become one symbol each, spelt as GPT-2's
 *     bytes_to_unicode character (bpe_byte_cp, bpe_vocab.c), so " " is "Ġ" and "\n" is "Ċ".
 *  5. [bpe] repeatedly take the adjacent pair with the lowest merge rank and merge every
 *     occurrence of it left to right, until no pair has a rank.
 *  6. [_convert_token_to_id] each symbol's id in vocab.json; a symbol that vocab.json lacks
 *     becomes <unk> (encoder.get(token, unk)).  With a complete byte-level vocabulary
 *     (roberta-base holds all 256 byte symbols and every merge result) that cannot
 *     happen; with a partial one it is how HF behaves, so it is not an error.
 *
 * Step 5 runs on a heap of (rank, position) with lazy deletion: O(n log n) per pre-token
 * instead of HF's O(n^2).  It gives HF's result exactly because it pops all pairs of the
 * lowest rank r in position order before it adds the pairs those merges create (a new
 * pair never has rank r, since a+b differs from a and from b; one with a rank below r
 * must wait for the end of the pass, as in HF, even though a well-formed merges.txt has
 * none).  No cache: the tokenizer stays read-only, so threads can share it.
 *
 * Unicode: the pattern runs under PCRE2 with UTF + UCP (Debian's 10.42: Unicode 14).
 * HF uses the `regex` module, whose \s is the White_Space property: category Z plus
 * \t \n \v \f \r and U+0085.  PCRE2's \s adds U+180E MONGOLIAN VOWEL SEPARATOR (Cf since
 * Unicode 6.3, still in PCRE2's \h list), so the pattern spells \s out as that class
 * (BPE_WS) from the Z category instead of writing \s.  Python's str.isspace (steps 1 and
 * 2) is White_Space plus U+001C..U+001F: BPE_PYSPACE.
 *
 * Known differences from HF (those of loading the files are in bpe_vocab.c):
 *  - Characters assigned after Unicode 14 are not \p{L} / \p{N} here, so they join the
 *    punctuation pre-tokens; the symbols and ids of anything else are unaffected.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "model/text/bpe.h"

#include <limits.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/text/bpe_vocab.h"
#include "model/text/tokmem.h"

/* The body of a character class matching Python regex's \s (White_Space). */
#define BPE_WS "\\p{Z}\\t\\n\\x{0b}\\f\\r\\x{85}"
/* The GPT-2 pattern with \s as [BPE_WS] and \S as [^BPE_WS] (see the top of the file). */
static const char BPE_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" BPE_WS "\\p{L}\\p{N}]+"
    "|[" BPE_WS "]+(?![^" BPE_WS "])|[" BPE_WS "]+";
/* One character for which Python's str.isspace() is true. */
static const char BPE_PYSPACE[] = "[" BPE_WS "\\x{1c}-\\x{1f}]";

#define BPE_NONE SIZE_MAX /* no neighbour in a pre-token's symbol list */

/* ------------------------------------------------------------------------ state */

/* The tables of the files, plus the two compiled patterns of the pre-tokenizer. */
struct bpe {
    bool add_prefix_space;
    struct bpe_vocab *v; /* owned: vocab.json + merges.txt */
    pcre2_code *re;      /* owned: BPE_PATTERN */
    pcre2_code *space;   /* owned: BPE_PYSPACE */
};

/* ------------------------------------------------------------------- lifecycle */

static int bpe_compile(pcre2_code **out, const char *src, struct err *e)
{
    int code;
    PCRE2_SIZE at;
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &at,
                         NULL);
    if (*out)
        return 0;
    PCRE2_UCHAR msg[120];
    pcre2_get_error_message(code, msg, sizeof msg);
    return ERR_SET(
        e, ERR_UNSUPPORTED,
        "tokenizer: PCRE2 cannot compile %s (%s at offset %zu); it needs Unicode support", src,
        (const char *)msg, (size_t)at);
}

void bpe_free(struct bpe *b)
{
    if (!b)
        return;
    pcre2_code_free(b->space);
    pcre2_code_free(b->re);
    bpe_vocab_free(b->v);
    free(b);
}

int bpe_load(struct bpe **out, const char *vocab_json, const char *merges_txt,
             bool add_prefix_space, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: out is NULL");
    *out = NULL;
    struct bpe_vocab *v;
    int rc = bpe_vocab_load(&v, vocab_json, merges_txt, e);
    if (rc)
        return rc;
    struct bpe *b = calloc(1, sizeof *b);
    if (!b) {
        bpe_vocab_free(v);
        return tokmem_nomem(e);
    }
    b->add_prefix_space = add_prefix_space;
    b->v = v;
    rc = bpe_compile(&b->re, BPE_PATTERN, e);
    if (!rc)
        rc = bpe_compile(&b->space, BPE_PYSPACE, e);
    if (rc) {
        bpe_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ------------------------------------------------------------------ tokenizing */

struct bpe_item {
    int32_t rank;
    size_t pos; /* left symbol of the pair */
};

/* Scratch for one bpe_tokenize call. */
struct bpe_work {
    int32_t *sym; /* (cap_word) symbol of each node, -1 once merged into its left neighbour */
    size_t *nxt;  /* (cap_word) next live node or BPE_NONE */
    size_t *prv;  /* (cap_word) previous live node or BPE_NONE */
    size_t cap_word;
    struct bpe_item *heap; /* (cap_heap) min-heap on (rank, pos) */
    size_t nheap, cap_heap;
    struct bpe_item *pend; /* (cap_pend) pairs made by the current pass */
    size_t npend, cap_pend;
    int *ids; /* (cap_ids) output ids; handed to the caller */
    size_t nids, cap_ids;
    pcre2_match_data *md;
};

static int bpe_push_id(struct bpe_work *w, int id, struct err *e)
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

static bool bpe_item_less(struct bpe_item a, struct bpe_item b)
{
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

/* The arrays were sized so that they never overflow (see bpe_word). */
static void bpe_heap_push(struct bpe_work *w, struct bpe_item it)
{
    size_t i = w->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!bpe_item_less(it, w->heap[up]))
            break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = it;
}

static struct bpe_item bpe_heap_pop(struct bpe_work *w)
{
    struct bpe_item top = w->heap[0], last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bpe_item_less(w->heap[c + 1], w->heap[c]))
            c++;
        if (!bpe_item_less(w->heap[c], last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

/* Queue the pair starting at node i (if it has a right neighbour and a rank). */
static void bpe_pend_pair(const struct bpe *b, struct bpe_work *w, size_t i)
{
    size_t j = w->nxt[i];
    if (j == BPE_NONE)
        return;
    int32_t r = bpe_vocab_rank(b->v, w->sym[i], w->sym[j]);
    if (r >= 0)
        w->pend[w->npend++] = (struct bpe_item){r, i};
}

/* BPE on one pre-token s[0..n) (raw bytes): append the ids of its symbols. */
static int bpe_word(const struct bpe *b, struct bpe_work *w, const unsigned char *s, size_t n,
                    struct err *e)
{
    if (n == 0)
        return 0;
    /* n nodes; at most n - 1 initial pairs plus 2 per merge (n - 1 merges) in the heap;
     * at most 2 per merge of one pass pending. */
    if (n > SIZE_MAX / 3 - 1)
        return tokmem_nomem(e);
    if (n > w->cap_word) { /* sym, nxt and prv share one capacity */
        size_t nc = w->cap_word ? w->cap_word : 64;
        while (nc < n)
            nc *= 2;
        if (nc > SIZE_MAX / sizeof(size_t))
            return tokmem_nomem(e);
        int32_t *ps = realloc(w->sym, nc * sizeof *ps);
        if (!ps)
            return tokmem_nomem(e);
        w->sym = ps;
        size_t *pn = realloc(w->nxt, nc * sizeof *pn);
        if (!pn)
            return tokmem_nomem(e);
        w->nxt = pn;
        size_t *pp = realloc(w->prv, nc * sizeof *pp);
        if (!pp)
            return tokmem_nomem(e);
        w->prv = pp;
        w->cap_word = nc;
    }
    int32_t *sym = w->sym;
    size_t *nxt = w->nxt, *prv = w->prv;
    struct bpe_item *h = tokmem_grow(w->heap, &w->cap_heap, 3 * n, sizeof *h);
    if (!h)
        return tokmem_nomem(e);
    w->heap = h;
    struct bpe_item *pd = tokmem_grow(w->pend, &w->cap_pend, n + 1, sizeof *pd);
    if (!pd)
        return tokmem_nomem(e);
    w->pend = pd;

    for (size_t i = 0; i < n; i++) {
        sym[i] = b->v->byte_sym[s[i]];
        prv[i] = i ? i - 1 : BPE_NONE;
        nxt[i] = i + 1 < n ? i + 1 : BPE_NONE;
    }
    w->nheap = w->npend = 0;
    for (size_t i = 0; i + 1 < n; i++)
        bpe_pend_pair(b, w, i);
    while (w->npend > 0 || w->nheap > 0) {
        for (size_t k = 0; k < w->npend; k++)
            bpe_heap_push(w, w->pend[k]);
        w->npend = 0;
        if (w->nheap == 0)
            break;
        /* One pass: every pair of the lowest rank, left to right. */
        int32_t r = w->heap[0].rank;
        const struct bpe_merge *m = &b->v->merge[r];
        while (w->nheap > 0 && w->heap[0].rank == r) {
            size_t i = bpe_heap_pop(w).pos, j = nxt[i];
            if (sym[i] != m->left || j == BPE_NONE || sym[j] != m->right)
                continue; /* stale: a neighbour merged since the pair was queued */
            sym[i] = m->out;
            sym[j] = -1;
            nxt[i] = nxt[j];
            if (nxt[j] != BPE_NONE)
                prv[nxt[j]] = i;
            if (prv[i] != BPE_NONE)
                bpe_pend_pair(b, w, prv[i]);
            bpe_pend_pair(b, w, i);
        }
    }
    for (size_t i = 0; i != BPE_NONE; i = nxt[i]) {
        int32_t id = b->v->sym_id[sym[i]];
        int rc = bpe_push_id(w, id >= 0 ? id : b->v->sp.unk, e);
        if (rc)
            return rc;
    }
    return 0;
}

/* Steps 3-6 on one piece s[0..n) of valid UTF-8 between special tokens. */
static int bpe_piece(const struct bpe *b, struct bpe_work *w, const char *s, size_t n,
                     struct err *e)
{
    for (size_t pos = 0; pos < n;) {
        int m = pcre2_match(b->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, w->md, NULL);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(m, msg, sizeof msg);
            return ERR_SET(e, ERR_LIMIT, "tokenizer: pre-tokenizing at byte offset %zu failed: %s",
                           pos, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        if (ov[1] <= pos) /* the pattern cannot match empty; never loop forever */
            return ERR_SET(e, ERR_STATE, "tokenizer: empty pre-token at byte offset %zu", pos);
        int rc = bpe_word(b, w, (const unsigned char *)s + ov[0], ov[1] - ov[0], e);
        if (rc)
            return rc;
        pos = ov[1];
    }
    return 0;
}

/* True if the character of s[0..n) at byte at is Python whitespace. */
static bool bpe_is_pyspace(const struct bpe *b, struct bpe_work *w, const char *s, size_t n,
                           size_t at)
{
    return pcre2_match(b->space, (PCRE2_SPTR)s, n, at, PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, w->md,
                       NULL) >= 0;
}

/* Index in b->special of the special token that s[0..len) starts with, or -1.  No special
 * token is a prefix of another. */
static int bpe_special_at(const struct bpe *b, const char *s, size_t len)
{
    for (int k = 0; k < b->v->nspecial; k++) {
        if (b->v->special[k].n <= len && memcmp(s, b->v->special[k].s, b->v->special[k].n) == 0)
            return k;
    }
    return -1;
}

static int bpe_run(const struct bpe *b, struct bpe_work *w, const char *text, size_t len,
                   struct err *e)
{
    size_t seg = 0; /* start of the text not yet tokenized */
    for (size_t pos = 0; pos < len;) {
        const char *q = memchr(text + pos, '<', len - pos);
        if (!q)
            break;
        size_t at = (size_t)(q - text);
        int k = bpe_special_at(b, q, len - at);
        if (k < 0) {
            pos = at + 1;
            continue;
        }
        size_t end = at;
        while (b->v->special[k].lstrip && end > seg) { /* str.rstrip() of the piece before */
            size_t c = end - 1;
            while (c > seg && ((unsigned char)text[c] & 0xC0) == 0x80)
                c--;
            if (!bpe_is_pyspace(b, w, text, end, c))
                break;
            end = c;
        }
        int rc = bpe_piece(b, w, text + seg, end - seg, e);
        if (!rc)
            rc = bpe_push_id(w, b->v->special[k].id, e);
        if (rc)
            return rc;
        pos = seg = at + b->v->special[k].n;
    }
    return bpe_piece(b, w, text + seg, len - seg, e);
}

int bpe_tokenize(const struct bpe *b, const char *text, int **ids, int *n, struct err *e)
{
    if (!ids || !n)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: ids and n must not be NULL");
    *ids = NULL;
    *n = 0;
    if (!b || !text)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: tokenizer and text must not be NULL");
    size_t len = strlen(text);
    int rc = utf8_validate(text, len, e);
    if (rc)
        return rc;
    struct bpe_work w = {0};
    char *prefixed = NULL;
    w.md = pcre2_match_data_create(1, NULL);
    if (!w.md) {
        rc = tokmem_nomem(e);
        goto out;
    }
    if (b->add_prefix_space && len > 0 && !bpe_is_pyspace(b, &w, text, len, 0)) {
        prefixed = malloc(len + 2);
        if (!prefixed) {
            rc = tokmem_nomem(e);
            goto out;
        }
        prefixed[0] = ' ';
        memcpy(prefixed + 1, text, len + 1);
        text = prefixed;
        len++;
    }
    rc = bpe_run(b, &w, text, len, e);
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
out:
    free(prefixed);
    pcre2_match_data_free(w.md);
    free(w.ids);
    free(w.pend);
    free(w.heap);
    free(w.prv);
    free(w.nxt);
    free(w.sym);
    return rc;
}

/* ---------------------------------------------------------------- the kind */

static void bpe_kind_free(void *impl)
{
    bpe_free(impl);
}

static int bpe_kind_tokenize(const void *impl, const char *text, int **ids, int *n, struct err *e)
{
    return bpe_tokenize(impl, text, ids, n, e);
}

static int bpe_kind_vocab_size(const void *impl)
{
    const struct bpe *b = impl;
    return b->v->V;
}

static const char *bpe_kind_id_to_token(const void *impl, int id)
{
    const struct bpe *b = impl;
    return bpe_vocab_id_to_token(b->v, id);
}

static int bpe_kind_token_to_id(const void *impl, const char *tok)
{
    const struct bpe *b = impl;
    return bpe_vocab_token_to_id(b->v, tok);
}

static struct tokenizer_special_ids bpe_kind_special_ids(const void *impl)
{
    const struct bpe *b = impl;
    return b->v->sp;
}

/* Special tokens <s> a </s> (</s> b </s>), all segment 0 (RobertaTokenizer).  BERT
 * pre-tokenization (tokenizer_basic_split) has no meaning for byte-level BPE. */
const struct tokenizer_kind bpe_kind = {
    .pair_seps = 2,
    .segment_b = false,
    .pair_min_len = 5,
    .free = bpe_kind_free,
    .tokenize = bpe_kind_tokenize,
    .basic_split = NULL,
    .vocab_size = bpe_kind_vocab_size,
    .id_to_token = bpe_kind_id_to_token,
    .token_to_id = bpe_kind_token_to_id,
    .special_ids = bpe_kind_special_ids,
};
