/*
 * wordpiece_vocab: the vocabulary of a BERT WordPiece tokenizer (contract in
 * wordpiece_vocab.h): vocab.txt read as Hugging Face's load_vocab reads it, the checks
 * on its tokens, a hash table from token to id, and the special tokens it holds.
 *
 * Known differences from HF: a duplicate token is an error (HF silently keeps the later
 * id) and so is a NUL byte in a line.
 */
#include "model/text/wordpiece_vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"
#include "base/utf8.h"
#include "model/text/tokenizer_opts.h"

/* ------------------------------------------------------------------- hash table */

static uint64_t wp_hash(bool cont, const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a 64 */
    if (cont) {
        h = (h ^ '#') * 0x100000001b3u;
        h = (h ^ '#') * 0x100000001b3u;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
    return h;
}

/* Slot of token ("##" if cont) + p[0..n): holds its id, or -1 if absent. */
static size_t wp_probe(const struct wp_vocab *v, bool cont, const char *p, size_t n)
{
    size_t mask = v->cap - 1, full = n + (cont ? 2 : 0);
    size_t i = (size_t)wp_hash(cont, p, n) & mask;
    for (;; i = (i + 1) & mask) {
        int32_t id = v->slot[i];
        if (id < 0)
            return i;
        if (v->len[id] != full)
            continue;
        const char *s = v->text + v->off[id];
        if (cont && (s[0] != '#' || s[1] != '#'))
            continue;
        if (memcmp(s + (cont ? 2 : 0), p, n) == 0)
            return i;
    }
}

int wp_vocab_find(const struct wp_vocab *v, bool cont, const char *p, size_t n)
{
    return v->slot[wp_probe(v, cont, p, n)];
}

/* "vocab.txt:7" (1-based line) for a file, "tokens[6]" for an in-memory list. */
static void wp_where(char *buf, size_t size, const char *path, size_t i)
{
    if (path)
        snprintf(buf, size, "%s:%zu", path, i + 1);
    else
        snprintf(buf, size, "tokens[%zu]", i);
}

/* ------------------------------------------------------------------- building */

int wp_vocab_build(struct wp_vocab *v, const char *const *tok, const size_t *len, size_t n,
                   const char *path, struct err *e)
{
    const char *src = path ? path : "tokens";
    char where[300];
    int rc;

    if (n == 0)
        return ERR_SET(e, ERR_FORMAT, "%s: the vocabulary is empty", src);
    if (n > TOK_MAX_VOCAB)
        return ERR_SET(e, ERR_LIMIT, "%s: %zu tokens exceed the limit of %d (TOK_MAX_VOCAB)", src,
                       n, TOK_MAX_VOCAB);

    size_t bytes = 0, max_len = 0;
    for (size_t i = 0; i < n; i++) {
        wp_where(where, sizeof where, path, i);
        if (len[i] > TOK_MAX_TOKEN_BYTES)
            return ERR_SET(
                e, ERR_LIMIT,
                "%s: token is %zu bytes long, over the limit of %d (TOK_MAX_TOKEN_BYTES)", where,
                len[i], TOK_MAX_TOKEN_BYTES);
        size_t bad;
        const char *why;
        if (utf8_check(tok[i], len[i], &bad, &why) != 0)
            return ERR_SET(e, ERR_FORMAT,
                           "%s: invalid UTF-8 at byte offset %zu of the token (0x%02X): %s; "
                           "the vocabulary must be UTF-8",
                           where, bad, (unsigned)(unsigned char)tok[i][bad], why);
        bytes += len[i] + 1;
        if (len[i] > max_len)
            max_len = len[i];
    }

    v->V = (int)n;
    v->max_len = max_len;
    v->cap = 16;
    while (v->cap < 2 * n)
        v->cap *= 2;
    v->text = malloc(bytes);
    v->off = malloc(n * sizeof *v->off);
    v->len = malloc(n * sizeof *v->len);
    v->slot = malloc(v->cap * sizeof *v->slot);
    if (!v->text || !v->off || !v->len || !v->slot)
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory for %zu tokens", n);
    memset(v->slot, 0xFF, v->cap * sizeof *v->slot); /* all -1 */

    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = wp_probe(v, false, tok[i], len[i]);
        if (v->slot[s] >= 0) {
            char first[300];
            wp_where(where, sizeof where, path, i);
            wp_where(first, sizeof first, path, (size_t)v->slot[s]);
            if (len[i] == 0)
                rc = ERR_SET(e, ERR_FORMAT,
                             "%s: duplicate empty token (blank line), first at %s; "
                             "each token must appear once",
                             where, first);
            else
                rc = ERR_SET(e, ERR_FORMAT,
                             "%s: duplicate token '%.*s', first at %s; each token must appear once",
                             where, (int)(len[i] < 64 ? len[i] : 64), tok[i], first);
            return rc;
        }
        memcpy(v->text + pos, tok[i], len[i]);
        v->text[pos + len[i]] = '\0';
        v->off[i] = pos;
        v->len[i] = (uint32_t)len[i];
        v->slot[s] = (int32_t)i;
        pos += len[i] + 1;
    }

    static const char *const names[WP_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    int *ids[WP_NSPECIAL] = {&v->pad, &v->unk, &v->cls, &v->sep, &v->mask};
    for (int k = 0; k < WP_NSPECIAL; k++) {
        *ids[k] = wp_vocab_find(v, false, names[k], strlen(names[k]));
        if (*ids[k] >= 0) {
            struct wp_special *sp = &v->special[v->nspecial++];
            sp->s = v->text + v->off[*ids[k]];
            sp->n = strlen(names[k]);
            sp->id = *ids[k];
        } else if (k < 4) {
            bool bom = len[0] >= 3 && memcmp(tok[0], "\xEF\xBB\xBF", 3) == 0;
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s: required token %s is missing (a BERT vocab.txt lists [PAD], "
                         "[UNK], [CLS] and [SEP])%s",
                         src, names[k],
                         bom ? "; note: the first token starts with a UTF-8 byte-order mark" : "");
            return rc;
        }
    }
    return 0;
}

void wp_vocab_free(struct wp_vocab *v)
{
    if (!v)
        return;
    free(v->slot);
    free(v->len);
    free(v->off);
    free(v->text);
}

const char *wp_vocab_token(const struct wp_vocab *v, int id)
{
    if (id < 0 || id >= v->V)
        return NULL;
    return v->text + v->off[id];
}

/* ------------------------------------------------------------------- vocab.txt */

/* Read a whole file into a malloc'ed, NUL-terminated buffer.  Opened through readfile: a
 * FIFO or device named as vocab.txt is refused at once instead of blocking the read. */
static int wp_read_file(const char *path, char **data, size_t *size, struct err *e)
{
    /* A vocabulary within both limits is smaller than this. */
    const size_t limit = (size_t)TOK_MAX_VOCAB * (TOK_MAX_TOKEN_BYTES + 2);
    *data = NULL;
    *size = 0;
    FILE *f;
    int rc = readfile_fopen(path, &f, e);
    if (rc)
        return rc;
    rc = readfile_bounded(f, limit, data, size);
    fclose(f);
    if (rc == ERR_LIMIT)
        return ERR_SET(e, ERR_LIMIT, "%s: file is larger than %zu bytes; not a vocabulary", path,
                       limit);
    if (rc == ERR_NOMEM)
        return ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", path);
    if (rc)
        return ERR_SET(e, ERR_IO, "cannot read vocabulary '%s': %s", path, strerror(errno));
    return ERR_OK;
}

/*
 * Lines end at "\n", "\r\n" or a lone "\r": HF's load_vocab opens the file in Python
 * text mode (universal newlines), then strips the "\n".  So a CRLF file loads like an
 * LF one, an empty line is the token "" with its own id, spaces are kept, and a final
 * line without a newline still counts.  Ids are 0-based line numbers; messages give
 * 1-based lines.
 */
int wp_vocab_read_lines(const char *vocab_path, struct wp_lines *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    char *data;
    size_t size;
    int rc = wp_read_file(vocab_path, &data, &size, e);
    if (rc)
        return rc;

    size_t nlines = 0;
    for (size_t i = 0; i < size; nlines++) {
        if (nlines == TOK_MAX_VOCAB) {
            rc = ERR_SET(e, ERR_LIMIT, "%s: more than %d lines (TOK_MAX_VOCAB)", vocab_path,
                         TOK_MAX_VOCAB);
            goto out_free;
        }
        while (i < size && data[i] != '\n' && data[i] != '\r')
            i++;
        if (i < size)
            i += (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n') ? 2 : 1;
    }
    const char **tok = malloc((nlines + 1) * sizeof *tok);
    size_t *len = malloc((nlines + 1) * sizeof *len);
    if (!tok || !len) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", vocab_path);
        goto out_free_lines;
    }
    size_t i = 0;
    for (size_t k = 0; k < nlines; k++) {
        size_t start = i;
        while (i < size && data[i] != '\n' && data[i] != '\r')
            i++;
        tok[k] = data + start;
        len[k] = i - start;
        const char *nul = memchr(tok[k], '\0', len[k]);
        if (nul) {
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s:%zu: NUL byte at byte offset %zu of the line; "
                         "the vocabulary must be UTF-8 text",
                         vocab_path, k + 1, (size_t)(nul - tok[k]));
            goto out_free_lines;
        }
        if (i < size)
            i += (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n') ? 2 : 1;
    }
    out->data = data;
    out->tok = tok;
    out->len = len;
    out->n = nlines;
    return 0;

out_free_lines:
    free(len);
    free(tok);
out_free:
    free(data);
    return rc;
}

void wp_lines_free(struct wp_lines *l)
{
    if (!l)
        return;
    free(l->len);
    free(l->tok);
    free(l->data);
    memset(l, 0, sizeof *l);
}
