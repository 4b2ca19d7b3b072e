/*
 * bert_basic: BERT's BasicTokenizer (contract in bert_basic.h), the steps of Hugging Face's
 * BertTokenizer between cutting out the special tokens and WordPiece (wordpiece.c has the
 * whole pipeline).  For one text (the HF step in brackets):
 *  2. [_clean_text] drop U+0000, U+FFFD and every code point of category C* (Cc Cf Cn Co:
 *     HF's _is_control is category.startswith("C")), except \t \n \r, which like every
 *     Zs character become a space.  A dropped character joins its neighbours: "a\x01b" -> ab.
 *  3. [_tokenize_chinese_chars] spaces around the CJK ideograph ranges (bert_is_cjk).
 *  4. [whitespace_tokenize] split on spaces, and on U+2028 / U+2029, which Python's
 *     str.split() also treats as whitespace.
 *  5. per word: lowercase [str.lower(), applied one character at a time by
 *     PreTrainedTokenizer.tokenize, hence no Greek final-sigma rule], strip accents [NFD,
 *     then drop category Mn], split off each punctuation character [_run_split_on_punc:
 *     ASCII 33-47, 58-64, 91-96, 123-126 or category P*].
 * Each resulting piece goes to the caller's callback.
 *
 * Unicode data.  General categories come from PCRE2 (\p{C} \p{Zs} \p{P} \p{Mn}, UTF+UCP;
 * PCRE2 10.42 carries Unicode 14): at load we scan a buffer holding every BMP character
 * to fill a 64 KiB class table, and code points above the BMP are matched one at a time.
 * PCRE2 cannot produce case mappings or decompositions, so those are the tables of
 * model/text/bert_unicode.c.
 */
#include "model/text/bert_basic.h"

#include <stdbool.h>
#include <stdlib.h>

#include "base/utf8.h"
#include "model/text/bert_unicode.h"
#include "model/text/tokmem.h"

/* -------------------------------------------------------------- character classes */

/* What BasicTokenizer does with a character.  The PCRE2 categories are disjoint. */
enum bert_class {
    BERT_OTHER = 0, /* part of a word */
    BERT_DROP,      /* removed by _clean_text: C*, U+0000, U+FFFD */
    BERT_SPACE,     /* word boundary: space, \t \n \r, Zs, U+2028, U+2029 */
    BERT_PUNCT,     /* its own token: P* or BERT's ASCII punctuation */
    BERT_MARK,      /* Mn: removed when stripping accents */
};

static const char *const bert_re_src[BERT_NRE] = {"\\p{C}+", "\\p{Zs}+", "\\p{P}+", "\\p{Mn}+"};
static const unsigned char bert_re_class[BERT_NRE] = {BERT_DROP, BERT_SPACE, BERT_PUNCT, BERT_MARK};

static int bert_class_slow(const struct bert_basic *b, pcre2_match_data *md, uint32_t cp)
{
    char buf[UTF8_MAX_BYTES];
    int n = utf8_encode(cp, buf);
    for (int k = 0; k < BERT_NRE; k++) {
        int rc = pcre2_match(b->re[k], (PCRE2_SPTR)buf, (PCRE2_SIZE)n, 0,
                             PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc >= 0)
            return bert_re_class[k];
    }
    return BERT_OTHER;
}

/* Fill b->bmp_class.  One buffer holds the UTF-8 of U+0000..U+FFFF (surrogates left
 * out, so it stays valid UTF-8); each "\p{X}+" pattern is run across it and every
 * character of every match gets that class.  A few hundred matches per pattern instead
 * of 65536 single-character matches. */
static int bert_build_classes(struct bert_basic *b, struct err *e)
{
    size_t cap = (size_t)0x10000 * 3;
    char *buf = malloc(cap);
    b->bmp_class = calloc(0x10000, 1);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = 0;
    if (!buf || !b->bmp_class || !md) {
        rc = ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory building character classes");
        goto out;
    }
    size_t n = 0;
    for (uint32_t cp = 0; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        n += (size_t)utf8_encode(cp, buf + n);
    }
    for (int k = 0; k < BERT_NRE; k++) {
        size_t start = 0;
        for (;;) {
            int m = pcre2_match(b->re[k], (PCRE2_SPTR)buf, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
            if (m == PCRE2_ERROR_NOMATCH)
                break;
            if (m < 0) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(m, msg, sizeof msg);
                rc = ERR_SET(e, ERR_STATE, "tokenizer: PCRE2 match of %s failed: %s",
                             bert_re_src[k], (const char *)msg);
                goto out;
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            for (size_t p = ov[0]; p < ov[1];)
                b->bmp_class[utf8_next(buf, &p)] = bert_re_class[k];
            start = ov[1];
        }
    }
    /* BERT's own rules on top of the categories. */
    b->bmp_class['\t'] = b->bmp_class['\n'] = b->bmp_class['\r'] = BERT_SPACE;
    b->bmp_class[0x2028] = b->bmp_class[0x2029] = BERT_SPACE;
    b->bmp_class[0xFFFD] = BERT_DROP;
    for (int c = 33; c <= 126; c++) {
        if ((c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || c >= 123)
            b->bmp_class[c] = BERT_PUNCT;
    }
out:
    pcre2_match_data_free(md);
    free(buf);
    return rc;
}

/* Compile bert_re_src into b->re. */
static int bert_compile(struct bert_basic *b, struct err *e)
{
    for (int k = 0; k < BERT_NRE; k++) {
        int code;
        PCRE2_SIZE at;
        b->re[k] = pcre2_compile((PCRE2_SPTR)bert_re_src[k], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
        if (!b->re[k]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof msg);
            return ERR_SET(e, ERR_UNSUPPORTED,
                           "tokenizer: PCRE2 cannot compile %s (%s); it needs Unicode support",
                           bert_re_src[k], (const char *)msg);
        }
    }
    return 0;
}

int bert_basic_init(struct bert_basic *b, const struct tokenizer_opts *opts, struct err *e)
{
    b->opts = *opts;
    int rc = bert_compile(b, e);
    if (!rc)
        rc = bert_build_classes(b, e);
    return rc;
}

void bert_basic_free(struct bert_basic *b)
{
    if (!b)
        return;
    for (int k = BERT_NRE - 1; k >= 0; k--)
        pcre2_code_free(b->re[k]);
    free(b->bmp_class);
}

/* ------------------------------------------------------------------- one run */

int bert_work_begin(struct bert_work *w, struct err *e)
{
    w->md = pcre2_match_data_create(1, NULL);
    return w->md ? 0 : tokmem_nomem(e);
}

void bert_work_free(struct bert_work *w)
{
    pcre2_match_data_free(w->md);
    free(w->strip);
    free(w->low);
    free(w->word);
}

static int bert_class_of(const struct bert_basic *b, const struct bert_work *w, uint32_t cp)
{
    return cp < 0x10000 ? b->bmp_class[cp] : bert_class_slow(b, w->md, cp);
}

/* Lowercase, strip accents and split on punctuation the word in w->word, then hand
 * each part to w->piece.  Empties w->word. */
static int bert_word(const struct bert_basic *b, struct bert_work *w, struct err *e)
{
    size_t n = w->nword;
    w->nword = 0;
    if (n == 0)
        return 0;
    const uint32_t *src = w->word;
    if (b->opts.lowercase) {
        uint32_t *low = tokmem_grow(w->low, &w->cap_low, 2 * n, sizeof *low);
        if (!low)
            return tokmem_nomem(e);
        w->low = low;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (src[i] == 0x130) { /* Python: "\u0130".lower() == "i\u0307" */
                low[m++] = 'i';
                low[m++] = 0x307;
            } else {
                low[m++] = bert_lower1(src[i]);
            }
        }
        src = low;
        n = m;
    }
    if (b->opts.strip_accents) {
        uint32_t *st = tokmem_grow(w->strip, &w->cap_strip, 3 * n, sizeof *st);
        if (!st)
            return tokmem_nomem(e);
        w->strip = st;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            int k = src[i] < 0xC0 ? -1 : bert_strip_table(src[i], st + m);
            if (k >= 0)
                m += (size_t)k;
            else if (bert_class_of(b, w, src[i]) != BERT_MARK)
                st[m++] = src[i];
        }
        src = st;
        n = m;
    }
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (bert_class_of(b, w, src[i]) != BERT_PUNCT)
            continue;
        int rc = w->piece(w->ctx, src + start, i - start, e);
        if (!rc)
            rc = w->piece(w->ctx, src + i, 1, e);
        if (rc)
            return rc;
        start = i + 1;
    }
    return w->piece(w->ctx, src + start, n - start, e);
}

static int bert_append(struct bert_work *w, uint32_t cp, struct err *e)
{
    uint32_t *p = tokmem_grow(w->word, &w->cap_word, w->nword + 1, sizeof *p);
    if (!p)
        return tokmem_nomem(e);
    w->word = p;
    w->word[w->nword++] = cp;
    return 0;
}

/* BasicTokenizer on s[0..len), valid UTF-8 without special tokens (the pieces go to
 * w->piece; in WordPiece that is WordpieceTokenizer). */
int bert_basic_run(const struct bert_basic *b, struct bert_work *w, const char *s, size_t len,
                   struct err *e)
{
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        uint32_t cp = utf8_next(s, &pos);
        int c = bert_class_of(b, w, cp);
        if (c == BERT_DROP)
            continue;
        if (c == BERT_SPACE) {
            rc = bert_word(b, w, e);
        } else if (b->opts.tokenize_chinese && bert_is_cjk(cp)) {
            rc = bert_word(b, w, e);
            if (!rc)
                rc = bert_append(w, cp, e);
            if (!rc)
                rc = bert_word(b, w, e);
        } else {
            rc = bert_append(w, cp, e);
        }
    }
    if (!rc)
        rc = bert_word(b, w, e);
    return rc;
}
