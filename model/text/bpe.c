/*
 * bpe: GPT-2 byte-level BPE as Hugging Face's Python RobertaTokenizer runs it
 * (PreTrainedTokenizer.tokenize -> RobertaTokenizer._tokenize -> bpe), in C.
 * Contract in bpe.h and tokenizer.h; also tokenizer_load_dir, the one function that
 * knows both tokenizer formats.
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
 *     bytes_to_unicode character (bpe_byte_cp), so " " is "Ġ" and "\n" is "Ċ".
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
 * Known differences from HF:
 *  - Characters assigned after Unicode 14 are not \p{L} / \p{N} here, so they join the
 *    punctuation pre-tokens; the symbols and ids of anything else are unaffected.
 *  - merges.txt: HF drops the first line whatever it holds and the last one unless the
 *    file ends with a newline; here a first line is a header only if it starts with
 *    "#version", and the last line always counts.  The real files start with
 *    "#version: 0.2" and end with a newline, where both agree.
 *  - Duplicate keys or ids in vocab.json and duplicate merges are errors (HF keeps the
 *    later one); a JSON "\u0000" in a key ends the key there (cJSON strings are C strings).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/text/bpe.h"
#include "base/readfile.h"
#include "base/utf8.h"
#include "model/text/encoding.h"

/* The body of a character class matching Python regex's \s (White_Space). */
#define BPE_WS "\\p{Z}\\t\\n\\x{0b}\\f\\r\\x{85}"
/* The GPT-2 pattern with \s as [BPE_WS] and \S as [^BPE_WS] (see the top of the file). */
static const char BPE_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" BPE_WS "\\p{L}\\p{N}]+"
    "|[" BPE_WS "]+(?![^" BPE_WS "])|[" BPE_WS "]+";
/* One character for which Python's str.isspace() is true. */
static const char BPE_PYSPACE[] = "[" BPE_WS "\\x{1c}-\\x{1f}]";

#define BPE_NSPECIAL 5
#define BPE_NONE     SIZE_MAX /* no neighbour in a pre-token's symbol list */

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

/* ------------------------------------------------------------------------ state */

struct bpe_merge {
    int32_t left, right; /* symbols merged */
    int32_t out;         /* symbol of left + right */
    uint32_t line;       /* 1-based line in merges.txt, for duplicate messages */
};

struct bpe_special {
    const char *s; /* borrowed: points into bpe.pool */
    size_t n;      /* strlen(s) */
    int id;
    bool lstrip; /* drop the whitespace before it (<mask>) */
};

/*
 * Symbols are the distinct strings of vocab.json keys, merges.txt halves and results and
 * the 256 byte symbols, interned once so that BPE compares int32 indices, not strings.
 */
struct bpe {
    bool add_prefix_space;
    int V;      /* largest id + 1 */
    char *pool; /* owned (pool_cap): every symbol, NUL-terminated */
    size_t pool_len, pool_cap;
    size_t *sym_off;   /* owned (cap_sym): offset of each symbol in pool */
    uint32_t *sym_len; /* owned (cap_sym): byte length of each symbol */
    int32_t *sym_id;   /* owned (cap_sym): vocab id of each symbol, -1 if not in vocab */
    size_t nsym, cap_sym;
    int32_t *sym_slot; /* owned (sym_hcap): symbol or -1; open addressing, FNV-1a */
    size_t sym_hcap;   /* power of two >= 2 cap_sym, so probes always end */
    int32_t *id_sym;   /* owned (V): symbol of each id, -1 for an unused id */
    int32_t byte_sym[256];
    struct bpe_merge *merge; /* owned (cap_merge): merge of rank r at [r] */
    size_t nmerge, cap_merge;
    int32_t *merge_slot; /* owned (merge_hcap): rank or -1, keyed by (left, right) */
    size_t merge_hcap;   /* power of two >= 2 cap_merge */
    struct bpe_special_ids sp;
    struct bpe_special special[BPE_NSPECIAL];
    int nspecial;
    pcre2_code *re;    /* owned: BPE_PATTERN */
    pcre2_code *space; /* owned: BPE_PYSPACE */
};

static int bpe_nomem(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
}

static uint64_t bpe_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

/* Slot of the symbol p[0..n): holds its index, or -1 if it is not interned. */
static size_t bpe_sym_probe(const struct bpe *b, const char *p, size_t n)
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
static int bpe_intern(struct bpe *b, const char *p, size_t n, int32_t *sym, struct err *e)
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
            return bpe_nomem(e);
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

static size_t bpe_merge_probe(const struct bpe *b, int32_t left, int32_t right)
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
static int32_t bpe_rank(const struct bpe *b, int32_t left, int32_t right)
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

/* ---------------------------------------------------------------------- files */

/* Read a whole file (at most BPE_MAX_FILE_BYTES) into a malloc'ed, NUL-terminated buffer. */
static int bpe_read_file(const char *path, const char *what, char **data, size_t *size,
                         struct err *e)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    int rc = readfile_bounded(f, BPE_MAX_FILE_BYTES, data, size);
    fclose(f);
    if (rc == ERR_LIMIT)
        return ERR_SET(e, ERR_LIMIT, "%s: file is larger than %zu bytes (BPE_MAX_FILE_BYTES)",
                       path, BPE_MAX_FILE_BYTES);
    if (rc == ERR_NOMEM)
        return ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", path);
    if (rc)
        return ERR_SET(e, ERR_IO, "cannot read %s '%s': %s", what, path, strerror(errno));
    return ERR_OK;
}

/* Parse a JSON file that must hold an object; errors give "path:line:col". */
static int bpe_read_json(const char *path, const char *what, cJSON **out, struct err *e)
{
    *out = NULL;
    char *data;
    size_t size;
    int rc = bpe_read_file(path, what, &data, &size, e);
    if (rc)
        return rc;
    const char *nul = memchr(data, '\0', size);
    const char *end = NULL;
    cJSON *root = nul ? NULL : cJSON_ParseWithLengthOpts(data, size + 1, &end, 1);
    if (!root) {
        const char *at = nul ? nul : end ? end : data;
        size_t line = 1, col = 1;
        for (const char *p = data; p < at; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)*p & 0xC0) != 0x80) {
                col++;
            }
        }
        rc = ERR_SET(e, ERR_FORMAT, "%s:%zu:%zu: %s", path, line, col,
                     nul ? "NUL byte; not a JSON text file" : "invalid JSON");
    } else if (!cJSON_IsObject(root)) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: the top level must be a JSON object", path);
        cJSON_Delete(root);
    } else {
        *out = root;
    }
    free(data);
    return rc;
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
static int bpe_fill_vocab(struct bpe *b, const cJSON *root, const char *path, struct err *e)
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
static int bpe_merge_line(struct bpe *b, const char *s, size_t n, size_t line, const char *path,
                          char *cat, struct err *e)
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

static int bpe_fill_merges(struct bpe *b, const char *data, size_t size, const char *path,
                           struct err *e)
{
    char *cat = malloc(2 * (size_t)TOK_MAX_TOKEN_BYTES);
    if (!cat)
        return bpe_nomem(e);
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
static int bpe_alloc(struct bpe *b, size_t nvocab, int V, size_t nlines, struct err *e)
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
        return bpe_nomem(e);
    memset(b->sym_slot, 0xFF, b->sym_hcap * sizeof *b->sym_slot); /* all -1 */
    memset(b->id_sym, 0xFF, (size_t)V * sizeof *b->id_sym);
    memset(b->merge_slot, 0xFF, b->merge_hcap * sizeof *b->merge_slot);
    return 0;
}

/* The special tokens, once the pool no longer moves. */
static int bpe_find_specials(struct bpe *b, const char *vocab_json, struct err *e)
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

int bpe_load(struct bpe **out, const char *vocab_json, const char *merges_txt,
             bool add_prefix_space, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: out is NULL");
    *out = NULL;
    if (!vocab_json || !merges_txt)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: vocab_json and merges_txt are required");
    cJSON *root = NULL;
    char *merges = NULL;
    size_t msize = 0;
    struct bpe *b = NULL;
    int maxid = -1;
    int rc = bpe_read_json(vocab_json, "vocabulary", &root, e);
    if (!rc)
        rc = bpe_check_vocab(root, vocab_json, &maxid, e);
    if (!rc)
        rc = bpe_read_file(merges_txt, "merges", &merges, &msize, e);
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
        rc = bpe_nomem(e);
        goto out;
    }
    b->add_prefix_space = add_prefix_space;
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
    if (!rc)
        rc = bpe_compile(&b->re, BPE_PATTERN, e);
    if (!rc)
        rc = bpe_compile(&b->space, BPE_PYSPACE, e);
    if (!rc) {
        *out = b;
        b = NULL;
    }
out:
    bpe_free(b);
    free(merges);
    cJSON_Delete(root);
    return rc;
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

/* Grow p (elem-byte items, capacity *cap) to hold need items.  Returns the possibly moved
 * block, or NULL with p still valid and *cap unchanged. */
static void *bpe_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && p)
        return p;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if (nc > SIZE_MAX / elem)
        return NULL;
    void *q = realloc(p, nc * elem);
    if (q)
        *cap = nc;
    return q;
}

static int bpe_push_id(struct bpe_work *w, int id, struct err *e)
{
    if (w->nids >= INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "tokenizer: text has more than %d tokens", INT_MAX);
    int *p = bpe_grow(w->ids, &w->cap_ids, w->nids + 1, sizeof *p);
    if (!p)
        return bpe_nomem(e);
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
    int32_t r = bpe_rank(b, w->sym[i], w->sym[j]);
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
        return bpe_nomem(e);
    if (n > w->cap_word) { /* sym, nxt and prv share one capacity */
        size_t nc = w->cap_word ? w->cap_word : 64;
        while (nc < n)
            nc *= 2;
        if (nc > SIZE_MAX / sizeof(size_t))
            return bpe_nomem(e);
        int32_t *ps = realloc(w->sym, nc * sizeof *ps);
        if (!ps)
            return bpe_nomem(e);
        w->sym = ps;
        size_t *pn = realloc(w->nxt, nc * sizeof *pn);
        if (!pn)
            return bpe_nomem(e);
        w->nxt = pn;
        size_t *pp = realloc(w->prv, nc * sizeof *pp);
        if (!pp)
            return bpe_nomem(e);
        w->prv = pp;
        w->cap_word = nc;
    }
    int32_t *sym = w->sym;
    size_t *nxt = w->nxt, *prv = w->prv;
    struct bpe_item *h = bpe_grow(w->heap, &w->cap_heap, 3 * n, sizeof *h);
    if (!h)
        return bpe_nomem(e);
    w->heap = h;
    struct bpe_item *pd = bpe_grow(w->pend, &w->cap_pend, n + 1, sizeof *pd);
    if (!pd)
        return bpe_nomem(e);
    w->pend = pd;

    for (size_t i = 0; i < n; i++) {
        sym[i] = b->byte_sym[s[i]];
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
        const struct bpe_merge *m = &b->merge[r];
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
        int32_t id = b->sym_id[sym[i]];
        int rc = bpe_push_id(w, id >= 0 ? id : b->sp.unk, e);
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
    for (int k = 0; k < b->nspecial; k++) {
        if (b->special[k].n <= len && memcmp(s, b->special[k].s, b->special[k].n) == 0)
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
        while (b->special[k].lstrip && end > seg) { /* str.rstrip() of the piece before */
            size_t c = end - 1;
            while (c > seg && ((unsigned char)text[c] & 0xC0) == 0x80)
                c--;
            if (!bpe_is_pyspace(b, w, text, end, c))
                break;
            end = c;
        }
        int rc = bpe_piece(b, w, text + seg, end - seg, e);
        if (!rc)
            rc = bpe_push_id(w, b->special[k].id, e);
        if (rc)
            return rc;
        pos = seg = at + b->special[k].n;
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
        rc = bpe_nomem(e);
        goto out;
    }
    if (b->add_prefix_space && len > 0 && !bpe_is_pyspace(b, &w, text, len, 0)) {
        prefixed = malloc(len + 2);
        if (!prefixed) {
            rc = bpe_nomem(e);
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
            rc = bpe_nomem(e);
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

/* -------------------------------------------------------------------- encoding */

/* Special tokens <s> a </s> (</s> b </s>), all segment 0 (RobertaTokenizer); truncation and
 * layout: model/text/encoding.c. */
int bpe_encode(const struct bpe *b, const char *text_a, const char *text_b, int max_len,
               struct encoding *out, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!b || !text_a)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: tokenizer and text_a must not be NULL");
    int min_len = text_b ? 5 : 3;
    if (max_len < min_len)
        return ERR_SET(e, ERR_RANGE, "tokenizer_encode: max_len must be >= %d for %s (got %d)",
                       min_len, text_b ? "a pair" : "a single text", max_len);

    int *a = NULL, *bb = NULL;
    int na = 0, nb = 0;
    int rc = bpe_tokenize(b, text_a, &a, &na, e);
    if (rc) {
        err_prefix(e, "text_a");
        goto out;
    }
    if (text_b) {
        rc = bpe_tokenize(b, text_b, &bb, &nb, e);
        if (rc) {
            err_prefix(e, "text_b");
            goto out;
        }
    }

    const struct encoding_layout lay = {b->sp.cls, b->sp.sep, 2, false};
    rc = encoding_build(&lay, a, (size_t)na, bb, (size_t)nb, text_b != NULL, max_len,
                        out, e);
out:
    free(bb);
    free(a);
    return rc;
}

/* ---------------------------------------------------------------------- access */

int bpe_vocab_size(const struct bpe *b)
{
    return b ? b->V : 0;
}

const char *bpe_id_to_token(const struct bpe *b, int id)
{
    if (!b || id < 0 || id >= b->V || b->id_sym[id] < 0)
        return NULL;
    return b->pool + b->sym_off[b->id_sym[id]];
}

int bpe_token_to_id(const struct bpe *b, const char *tok)
{
    if (!b || !tok)
        return -1;
    int32_t s = b->sym_slot[bpe_sym_probe(b, tok, strlen(tok))];
    return s >= 0 ? b->sym_id[s] : -1;
}

struct bpe_special_ids bpe_specials(const struct bpe *b)
{
    struct bpe_special_ids none = {-1, -1, -1, -1, -1};
    return b ? b->sp : none;
}

/* ------------------------------------------------------- tokenizer_load_dir */

static bool bpe_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A boolean key of tokenizer_config.json: unchanged *v when absent (or null if
 * null_ok); anything but true/false is an error naming the key. */
static int bpe_cfg_bool(const cJSON *cfg, const char *path, const char *key, bool null_ok, bool *v,
                        struct err *e)
{
    const cJSON *it = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, key) : NULL;
    if (!it || (null_ok && cJSON_IsNull(it)))
        return 0;
    if (!cJSON_IsBool(it))
        return ERR_SET(e, ERR_CONFIG, "%s: \"%s\" must be true or false%s", path, key,
                       null_ok ? " or null" : "");
    *v = cJSON_IsTrue(it);
    return 0;
}

int tokenizer_load_dir(struct tokenizer **out, const char *model_dir, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_dir: out is NULL");
    *out = NULL;
    if (!model_dir)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_dir: model_dir is NULL");
    size_t n = strlen(model_dir) + sizeof "/tokenizer_config.json";
    char *txt = malloc(n), *json = malloc(n), *merges = malloc(n), *cfgp = malloc(n);
    cJSON *cfg = NULL;
    int rc = 0;
    if (!txt || !json || !merges || !cfgp) {
        rc = bpe_nomem(e);
        goto out;
    }
    snprintf(txt, n, "%s/vocab.txt", model_dir);
    snprintf(json, n, "%s/vocab.json", model_dir);
    snprintf(merges, n, "%s/merges.txt", model_dir);
    snprintf(cfgp, n, "%s/tokenizer_config.json", model_dir);
    bool has_txt = bpe_is_file(txt), has_json = bpe_is_file(json);
    bool has_merges = bpe_is_file(merges);
    if (has_txt && has_json) {
        rc = ERR_SET(e, ERR_CONFIG,
                     "%s: holds both vocab.txt (BERT WordPiece) and vocab.json (byte-level BPE); "
                     "keep only the tokenizer of the model",
                     model_dir);
        goto out;
    }
    if (!has_txt && !(has_json && has_merges)) {
        if (has_json || has_merges)
            rc = ERR_SET(e, ERR_IO,
                         "%s: %s is missing; a byte-level BPE tokenizer needs both "
                         "vocab.json and merges.txt",
                         model_dir, has_json ? "merges.txt" : "vocab.json");
        else
            rc = ERR_SET(e, ERR_IO,
                         "%s: no tokenizer files: expected vocab.txt (BERT WordPiece) or "
                         "vocab.json + merges.txt (RoBERTa byte-level BPE)",
                         model_dir);
        goto out;
    }
    if (bpe_is_file(cfgp)) {
        rc = bpe_read_json(cfgp, "tokenizer config", &cfg, e);
        if (rc)
            goto out;
    }
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    if (has_txt) {
        /* BertTokenizer's arguments; strip_accents null or absent follows lowercasing. */
        rc = bpe_cfg_bool(cfg, cfgp, "do_lower_case", false, &o.lowercase, e);
        o.strip_accents = o.lowercase;
        if (!rc)
            rc = bpe_cfg_bool(cfg, cfgp, "strip_accents", true, &o.strip_accents, e);
        if (!rc)
            rc = bpe_cfg_bool(cfg, cfgp, "tokenize_chinese_chars", false, &o.tokenize_chinese, e);
        if (rc)
            goto out;
        rc = tokenizer_load_wordpiece(out, txt, &o, e);
    } else {
        rc = bpe_cfg_bool(cfg, cfgp, "add_prefix_space", false, &o.add_prefix_space, e);
        if (!rc)
            rc = tokenizer_load_bpe(out, json, merges, &o, e);
    }
out:
    cJSON_Delete(cfg);
    free(cfgp);
    free(merges);
    free(json);
    free(txt);
    return rc;
}
