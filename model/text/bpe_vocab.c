/*
 * bpe_vocab: the tables of a GPT-2 / RoBERTa byte-level BPE tokenizer, loaded from
 * vocab.json (token -> id) and merges.txt (one merge "a b" per line, rank = order), as
 * Hugging Face's Python RobertaTokenizer loads them.  Contract in bpe_vocab.h; the
 * tokenizing that uses them is model/text/bpe.c.
 *
 * Known differences from HF:
 *  - merges.txt: HF drops the first line whatever it holds and the last one unless the
 *    file ends with a newline; here a first line is a header only if it starts with
 *    "#version", and the last line always counts.  The real files start with
 *    "#version: 0.2" and end with a newline, where both agree.
 *  - Duplicate keys or ids in vocab.json and duplicate merges are errors (HF keeps the
 *    later one); a JSON "\u0000" in a key ends the key there (cJSON strings are C strings).
 */
#include "model/text/bpe_vocab.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model/text/tokenizer_opts.h"
#include "model/text/tokfile.h"
#include "model/text/tokmem.h"

/* ---------------------------------------------------------------- byte symbols */

/*
 * GPT-2's bytes_to_unicode: the printable Latin-1 bytes '!'..'~', U+00A1..U+00AC and
 * U+00AE..U+00FF stand for themselves; the other 68 bytes, in increasing order, become
 * U+0100 + n (n = 0, 1, ...): 0x00..0x20 -> U+0100..U+0120 (so ' ' is U+0120 'Ġ'),
 * 0x7F..0xA0 -> U+0121..U+0142, 0xAD -> U+0143.
 */
static uint32_t bpe_byte_cp(unsigned byte)
{
    if ((byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE)
        return byte;
    if (byte <= 0x20)
        return 0x100 + byte;
    if (byte <= 0xA0)
        return 0x100 + 0x21 + (byte - 0x7F);
    return 0x143; /* 0xAD, the soft hyphen */
}

/* ---------------------------------------------------------------- symbol tables */

static uint64_t bpe_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

/* Slot of the symbol p[0..n): holds its index, or -1 if it is not interned. */
static size_t bpe_sym_probe(const struct bpe_vocab *b, const char *p, size_t n)
{
    size_t mask = b->sym_hcap - 1;
    for (size_t i = (size_t)bpe_hash(p, n) & mask;; i = (i + 1) & mask) {
        int32_t s = b->sym_slot[i];
        if (s < 0 || (b->sym_len[s] == n && memcmp(b->pool + b->sym_off[s], p, n) == 0))
            return i;
    }
}

/* Index of symbol p[0..n), adding it if new.  The tables were sized for every symbol
 * the files can hold, so only the pool grows. */
static int bpe_intern(struct bpe_vocab *b, const char *p, size_t n, int32_t *sym, struct err *e)
{
    size_t slot = bpe_sym_probe(b, p, n);
    if (b->sym_slot[slot] >= 0) {
        *sym = b->sym_slot[slot];
        return 0;
    }
    if (b->nsym >= b->cap_sym) /* cannot happen: cap_sym counts every source of symbols */
        return ERR_SET(e, ERR_STATE, "tokenizer: symbol table full (%zu)", b->cap_sym);
    if (b->pool_len + n + 1 > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap : 4096;
        while (cap < b->pool_len + n + 1)
            cap *= 2;
        char *q = realloc(b->pool, cap);
        if (!q)
            return tokmem_nomem(e);
        b->pool = q;
        b->pool_cap = cap;
    }
    memcpy(b->pool + b->pool_len, p, n);
    b->pool[b->pool_len + n] = '\0';
    int32_t s = (int32_t)b->nsym++;
    b->sym_off[s] = b->pool_len;
    b->sym_len[s] = (uint32_t)n;
    b->sym_id[s] = -1;
    b->sym_slot[slot] = s;
    b->pool_len += n + 1;
    *sym = s;
    return 0;
}

static size_t bpe_merge_probe(const struct bpe_vocab *b, int32_t left, int32_t right)
{
    uint64_t k = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) * 0x9E3779B97F4A7C15u;
    size_t mask = b->merge_hcap - 1;
    for (size_t i = (size_t)(k >> 17) & mask;; i = (i + 1) & mask) {
        int32_t r = b->merge_slot[i];
        if (r < 0 || (b->merge[r].left == left && b->merge[r].right == right))
            return i;
    }
}

/* Rank of merging left + right, or -1. */
int32_t bpe_vocab_rank(const struct bpe_vocab *b, int32_t left, int32_t right)
{
    return b->nmerge ? b->merge_slot[bpe_merge_probe(b, left, right)] : -1;
}

static size_t bpe_pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

/* Longest prefix of s (a valid UTF-8 key) of at most 48 bytes that ends on a character
 * boundary: messages quote long keys cut there. */
static int bpe_quote_len(const char *s)
{
    size_t n = strlen(s);
    if (n <= 48)
        return (int)n;
    n = 48;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* ------------------------------------------------------------------ vocab.json */

/* First pass over vocab.json: every key valid, every value an id; *maxid = largest id. */
static int bpe_check_vocab(const cJSON *root, const char *path, int *maxid, struct err *e)
{
    size_t k = 0;
    *maxid = -1;
    for (const cJSON *it = root->child; it; it = it->next, k++) {
        if (k >= TOK_MAX_VOCAB)
            return ERR_SET(e, ERR_LIMIT, "%s: more than %d entries (TOK_MAX_VOCAB)", path,
                           TOK_MAX_VOCAB);
        const char *key = it->string;
        size_t n = strlen(key);
        if (n == 0)
            return ERR_SET(e, ERR_FORMAT, "%s: entry %zu has an empty key; tokens are non-empty",
                           path, k);
        if (n > TOK_MAX_TOKEN_BYTES)
            return ERR_SET(e, ERR_LIMIT,
                           "%s: entry %zu: key is %zu bytes long, over the limit of %d "
                           "(TOK_MAX_TOKEN_BYTES)",
                           path, k, n, TOK_MAX_TOKEN_BYTES);
        size_t bad;
        const char *why;
        if (utf8_check(key, n, &bad, &why))
            return ERR_SET(e, ERR_FORMAT,
                           "%s: entry %zu: invalid UTF-8 at byte offset %zu of the key (0x%02X): "
                           "%s",
                           path, k, bad, (unsigned)(unsigned char)key[bad], why);
        int q = bpe_quote_len(key);
        if (!cJSON_IsNumber(it))
            return ERR_SET(e, ERR_FORMAT, "%s: key \"%.*s\": the id must be a number, not %s", path,
                           q, key,
                           cJSON_IsString(it)  ? "a string"
                           : cJSON_IsBool(it)  ? "a boolean"
                           : cJSON_IsNull(it)  ? "null"
                           : cJSON_IsArray(it) ? "an array"
                                               : "an object");
        double v = it->valuedouble;
        if (!isfinite(v) || v < 0 || v != floor(v))
            return ERR_SET(e, ERR_RANGE,
                           "%s: key \"%.*s\": the id must be a non-negative integer (got %g)", path,
                           q, key, v);
        if (v >= TOK_MAX_VOCAB)
            return ERR_SET(e, ERR_LIMIT,
                           "%s: key \"%.*s\": id %.0f is not below %d (TOK_MAX_VOCAB)", path, q,
                           key, v, TOK_MAX_VOCAB);
        if ((int)v > *maxid)
            *maxid = (int)v;
    }
    if (k == 0)
        return ERR_SET(e, ERR_FORMAT, "%s: the vocabulary is empty", path);
    return 0;
}

/* Second pass: intern every key and tie it to its id (unique both ways). */
static int bpe_fill_vocab(struct bpe_vocab *b, const cJSON *root, const char *path, struct err *e)
{
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string;
        int id = (int)it->valuedouble;
        int32_t s;
        int rc = bpe_intern(b, key, strlen(key), &s, e);
        if (rc)
            return rc;
        int q = bpe_quote_len(key);
        if (b->sym_id[s] >= 0)
            return ERR_SET(
                e, ERR_FORMAT,
                "%s: duplicate key \"%.*s\" (ids %d and %d); each token must appear once", path, q,
                key, (int)b->sym_id[s], id);
        if (b->id_sym[id] >= 0) {
            const char *other = b->pool + b->sym_off[b->id_sym[id]];
            return ERR_SET(e, ERR_FORMAT,
                           "%s: id %d is used by both \"%.*s\" and \"%.*s\"; ids must be unique",
                           path, id, bpe_quote_len(other), other, q, key);
        }
        b->sym_id[s] = id;
        b->id_sym[id] = s;
    }
    return 0;
}

/* ------------------------------------------------------------------ merges.txt */

static size_t bpe_count_lines(const char *data, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

static bool bpe_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line "a b" (line is 1-based, s[0..n) without the newline) -> merge of the next rank. */
static int bpe_merge_line(struct bpe_vocab *b, const char *s, size_t n, size_t line,
                          const char *path, char *cat, struct err *e)
{
    const char *nul = memchr(s, '\0', n);
    if (nul)
        return ERR_SET(e, ERR_FORMAT, "%s:%zu: NUL byte at byte offset %zu of the line", path, line,
                       (size_t)(nul - s));
    size_t bad;
    const char *why;
    if (utf8_check(s, n, &bad, &why))
        return ERR_SET(e, ERR_FORMAT,
                       "%s:%zu: invalid UTF-8 at byte offset %zu of the line (0x%02X): %s", path,
                       line, bad, (unsigned)(unsigned char)s[bad], why);
    const char *f[2];
    size_t flen[2];
    int nf = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && bpe_is_blank(s[i]))
            i++;
        if (i == n)
            break;
        size_t start = i;
        while (i < n && !bpe_is_blank(s[i]))
            i++;
        if (nf < 2) {
            f[nf] = s + start;
            flen[nf] = i - start;
        }
        nf++;
    }
    if (nf == 0)
        return 0; /* a blank line: skipped (HF gives it a rank that never matches) */
    if (nf != 2)
        return ERR_SET(e, ERR_FORMAT,
                       "%s:%zu: expected two symbols separated by a space, like \"Ġ t\" "
                       "(found %d)",
                       path, line, nf);
    for (int k = 0; k < 2; k++) {
        if (flen[k] > TOK_MAX_TOKEN_BYTES)
            return ERR_SET(e, ERR_LIMIT,
                           "%s:%zu: symbol is %zu bytes long, over the limit of %d "
                           "(TOK_MAX_TOKEN_BYTES)",
                           path, line, flen[k], TOK_MAX_TOKEN_BYTES);
    }
    struct bpe_merge m = {.line = (uint32_t)line};
    memcpy(cat, f[0], flen[0]);
    memcpy(cat + flen[0], f[1], flen[1]);
    int rc = bpe_intern(b, f[0], flen[0], &m.left, e);
    if (!rc)
        rc = bpe_intern(b, f[1], flen[1], &m.right, e);
    if (!rc)
        rc = bpe_intern(b, cat, flen[0] + flen[1], &m.out, e);
    if (rc)
        return rc;
    size_t slot = bpe_merge_probe(b, m.left, m.right);
    if (b->merge_slot[slot] >= 0)
        return ERR_SET(e, ERR_FORMAT,
                       "%s:%zu: duplicate merge \"%.*s %.*s\", first at line %u; "
                       "each pair must appear once",
                       path, line, (int)flen[0], f[0], (int)flen[1], f[1],
                       (unsigned)b->merge[b->merge_slot[slot]].line);
    if (b->nmerge >= b->cap_merge) /* cannot happen: cap_merge is the line count */
        return ERR_SET(e, ERR_STATE, "tokenizer: merge table full (%zu)", b->cap_merge);
    b->merge_slot[slot] = (int32_t)b->nmerge;
    b->merge[b->nmerge++] = m;
    return 0;
}

static int bpe_fill_merges(struct bpe_vocab *b, const char *data, size_t size, const char *path,
                           struct err *e)
{
    char *cat = malloc(2 * (size_t)TOK_MAX_TOKEN_BYTES);
    if (!cat)
        return tokmem_nomem(e);
    int rc = 0;
    size_t line = 0;
    for (size_t i = 0; i < size && !rc;) {
        size_t start = i;
        const char *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) : size;
        i = nl ? end + 1 : size;
        line++;
        if (line == 1 && end - start >= 8 && memcmp(data + start, "#version", 8) == 0)
            continue;
        rc = bpe_merge_line(b, data + start, end - start, line, path, cat, e);
    }
    free(cat);
    return rc;
}

/* ------------------------------------------------------------------- lifecycle */

void bpe_vocab_free(struct bpe_vocab *b)
{
    if (!b)
        return;
    free(b->merge_slot);
    free(b->merge);
    free(b->id_sym);
    free(b->sym_slot);
    free(b->sym_id);
    free(b->sym_len);
    free(b->sym_off);
    free(b->pool);
    free(b);
}

/* Allocate the tables for nvocab keys, V ids and nlines merge lines. */
static int bpe_alloc(struct bpe_vocab *b, size_t nvocab, int V, size_t nlines, struct err *e)
{
    b->V = V;
    b->cap_sym = nvocab + 3 * nlines + 256;
    b->sym_hcap = bpe_pow2_at_least(2 * b->cap_sym);
    b->cap_merge = nlines;
    b->merge_hcap = bpe_pow2_at_least(2 * nlines);
    b->sym_off = malloc(b->cap_sym * sizeof *b->sym_off);
    b->sym_len = malloc(b->cap_sym * sizeof *b->sym_len);
    b->sym_id = malloc(b->cap_sym * sizeof *b->sym_id);
    b->sym_slot = malloc(b->sym_hcap * sizeof *b->sym_slot);
    b->id_sym = malloc((size_t)V * sizeof *b->id_sym);
    b->merge = malloc((nlines ? nlines : 1) * sizeof *b->merge);
    b->merge_slot = malloc(b->merge_hcap * sizeof *b->merge_slot);
    if (!b->sym_off || !b->sym_len || !b->sym_id || !b->sym_slot || !b->id_sym || !b->merge ||
        !b->merge_slot)
        return tokmem_nomem(e);
    memset(b->sym_slot, 0xFF, b->sym_hcap * sizeof *b->sym_slot); /* all -1 */
    memset(b->id_sym, 0xFF, (size_t)V * sizeof *b->id_sym);
    memset(b->merge_slot, 0xFF, b->merge_hcap * sizeof *b->merge_slot);
    return 0;
}

/* The special tokens, once the pool no longer moves. */
static int bpe_find_specials(struct bpe_vocab *b, const char *vocab_json, struct err *e)
{
    static const char *const names[BPE_NSPECIAL] = {"<s>", "</s>", "<pad>", "<unk>", "<mask>"};
    int *ids[BPE_NSPECIAL] = {&b->sp.cls, &b->sp.sep, &b->sp.pad, &b->sp.unk, &b->sp.mask};
    for (int k = 0; k < BPE_NSPECIAL; k++) {
        int32_t s = b->sym_slot[bpe_sym_probe(b, names[k], strlen(names[k]))];
        *ids[k] = s >= 0 ? b->sym_id[s] : -1;
        if (*ids[k] >= 0) {
            struct bpe_special *sp = &b->special[b->nspecial++];
            sp->s = b->pool + b->sym_off[s];
            sp->n = strlen(names[k]);
            sp->id = *ids[k];
            sp->lstrip = k == 4;
        } else if (k < 4) {
            return ERR_SET(e, ERR_FORMAT,
                           "%s: required token %s is missing (a RoBERTa vocab.json holds <s>, "
                           "</s>, <pad> and <unk>)",
                           vocab_json, names[k]);
        }
    }
    return 0;
}

int bpe_vocab_load(struct bpe_vocab **out, const char *vocab_json, const char *merges_txt,
                   struct err *e)
{
    *out = NULL;
    if (!vocab_json || !merges_txt)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: vocab_json and merges_txt are required");
    cJSON *root = NULL;
    char *merges = NULL;
    size_t msize = 0;
    struct bpe_vocab *b = NULL;
    int maxid = -1;
    int rc = tokfile_read_json(vocab_json, "vocabulary", &root, e);
    if (!rc)
        rc = bpe_check_vocab(root, vocab_json, &maxid, e);
    if (!rc)
        rc = tokfile_read(merges_txt, "merges", &merges, &msize, e);
    if (rc)
        goto out;
    size_t nlines = bpe_count_lines(merges, msize);
    if (nlines > (size_t)TOK_MAX_VOCAB + 1) {
        rc = ERR_SET(e, ERR_LIMIT, "%s: more than %d merges (TOK_MAX_VOCAB)", merges_txt,
                     TOK_MAX_VOCAB);
        goto out;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        rc = tokmem_nomem(e);
        goto out;
    }
    rc = bpe_alloc(b, (size_t)cJSON_GetArraySize(root), maxid + 1, nlines, e);
    for (unsigned byte = 0; byte < 256 && !rc; byte++) {
        char u[UTF8_MAX_BYTES];
        int n = utf8_encode(bpe_byte_cp(byte), u);
        rc = bpe_intern(b, u, (size_t)n, &b->byte_sym[byte], e);
    }
    if (!rc)
        rc = bpe_fill_vocab(b, root, vocab_json, e);
    if (!rc)
        rc = bpe_fill_merges(b, merges, msize, merges_txt, e);
    if (!rc)
        rc = bpe_find_specials(b, vocab_json, e);
    if (!rc) {
        *out = b;
        b = NULL;
    }
out:
    bpe_vocab_free(b);
    free(merges);
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------------- access */

const char *bpe_vocab_id_to_token(const struct bpe_vocab *b, int id)
{
    if (!b || id < 0 || id >= b->V || b->id_sym[id] < 0)
        return NULL;
    return b->pool + b->sym_off[b->id_sym[id]];
}

int bpe_vocab_token_to_id(const struct bpe_vocab *b, const char *tok)
{
    if (!b || !tok)
        return -1;
    int32_t s = b->sym_slot[bpe_sym_probe(b, tok, strlen(tok))];
    return s >= 0 ? b->sym_id[s] : -1;
}
