/*
 * utf8: strict UTF-8 decoding and encoding; see utf8.h for what is rejected.
 *
 * The well-formed byte sequences (Unicode 14, table 3-7) are:
 *   00..7F
 *   C2..DF 80..BF
 *   E0     A0..BF 80..BF      (E0 80..9F would be overlong)
 *   E1..EC 80..BF 80..BF
 *   ED     80..9F 80..BF      (ED A0..BF would be a surrogate)
 *   EE..EF 80..BF 80..BF
 *   F0     90..BF 80..BF 80..BF   (F0 80..8F would be overlong)
 *   F1..F3 80..BF 80..BF 80..BF
 *   F4     80..8F 80..BF 80..BF   (F4 90.. would be above U+10FFFF)
 * Checking the second byte against these ranges catches overlong forms,
 * surrogates and out-of-range values before any arithmetic.
 */
#include "base/utf8.h"

static int utf8_is_cont(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

/* Decode at s[pos] (pos < len).  Returns NULL and sets *cp, *n on success, else a
 * static reason. */
static const char *utf8_decode1(const unsigned char *s, size_t len, size_t pos, uint32_t *cp,
                                size_t *n)
{
    unsigned char b0 = s[pos];
    if (b0 < 0x80) {
        *cp = b0;
        *n = 1;
        return NULL;
    }
    if (b0 < 0xC0)
        return "unexpected continuation byte";
    if (b0 < 0xC2)
        return "overlong encoding"; /* C0, C1 can only encode U+0000..U+007F */
    if (b0 > 0xF4)
        return "invalid lead byte (0xF5..0xFF never occur in UTF-8)";

    size_t need = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    const char *why2 = NULL;            /* reason when the second byte is outside it */
    if (b0 == 0xE0) {
        lo = 0xA0;
        why2 = "overlong encoding";
    } else if (b0 == 0xED) {
        hi = 0x9F;
        why2 = "UTF-16 surrogate (U+D800..U+DFFF)";
    } else if (b0 == 0xF0) {
        lo = 0x90;
        why2 = "overlong encoding";
    } else if (b0 == 0xF4) {
        hi = 0x8F;
        why2 = "code point above U+10FFFF";
    }
    for (size_t k = 1; k < need; k++) {
        if (pos + k >= len || !utf8_is_cont(s[pos + k]))
            return "truncated sequence";
    }
    if (why2 && (s[pos + 1] < lo || s[pos + 1] > hi))
        return why2;

    uint32_t c = b0 & (0x7F >> need);
    for (size_t k = 1; k < need; k++)
        c = (c << 6) | (s[pos + k] & 0x3F);
    *cp = c;
    *n = need;
    return NULL;
}

int utf8_check(const char *s, size_t len, size_t *bad_offset, const char **why)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0;
    while (pos < len) {
        if (u[pos] < 0x80) { /* ASCII fast path: most text is mostly ASCII */
            pos++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = 0;
        const char *bad = utf8_decode1(u, len, pos, &cp, &n);
        if (bad) {
            if (bad_offset)
                *bad_offset = pos;
            if (why)
                *why = bad;
            return ERR_FORMAT;
        }
        pos += n;
    }
    return 0;
}

int utf8_validate(const char *s, size_t len, struct err *e)
{
    size_t off;
    const char *why;
    if (utf8_check(s, len, &off, &why) == 0)
        return 0;
    return ERR_SET(e, ERR_FORMAT, "invalid UTF-8 at byte offset %zu (0x%02X): %s", off,
                   (unsigned)(unsigned char)s[off], why);
}

int utf8_decode(const char *s, size_t len, size_t *pos, uint32_t *cp, struct err *e)
{
    size_t n = 0;
    uint32_t c = 0;
    const char *bad = utf8_decode1((const unsigned char *)s, len, *pos, &c, &n);
    if (bad)
        return ERR_SET(e, ERR_FORMAT, "invalid UTF-8 at byte offset %zu (0x%02X): %s", *pos,
                       (unsigned)(unsigned char)s[*pos], bad);
    *cp = c;
    *pos += n;
    return 0;
}

uint32_t utf8_next(const char *s, size_t *pos)
{
    const unsigned char *u = (const unsigned char *)s + *pos;
    if (u[0] < 0x80) {
        *pos += 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *pos += 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0) {
        *pos += 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *pos += 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
           ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

int utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > UTF8_MAX_CP)
        return 0;
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
