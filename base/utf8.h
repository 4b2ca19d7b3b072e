/*
 * utf8: strict UTF-8 decoding and encoding (RFC 3629 / Unicode "well-formed").
 *
 * Rejected: stray continuation bytes, the lead bytes 0xC0, 0xC1 and 0xF5..0xFF,
 * overlong encodings, UTF-16 surrogates (U+D800..U+DFFF), code points above
 * U+10FFFF and sequences cut short (by the end of input or by a byte that is not
 * a continuation byte).  The offset reported for a bad sequence is the offset of
 * its first byte, so it points at where a hex dump of the input goes wrong.
 * Library code: never prints.
 */
#ifndef MODEL_UTF8_H
#define MODEL_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define UTF8_MAX_CP    0x10FFFFu
#define UTF8_MAX_BYTES 4 /* longest encoding of one code point */

/* Check s[0..len).  Returns 0 when it is well-formed; otherwise ERR_FORMAT, with
 * *bad_offset (may be NULL) = byte offset of the first bad sequence and *why (may be
 * NULL) = a static description such as "overlong encoding".  Lets callers phrase
 * the location themselves (e.g. "vocab.txt:7"). */
int utf8_check(const char *s, size_t len, size_t *bad_offset, const char **why);

/* utf8_check, with the message "invalid UTF-8 at byte offset N (0xXX): why" in *e. */
int utf8_validate(const char *s, size_t len, struct err *e);

/* Decode the code point at s[*pos] (requires *pos < len) into *cp and advance *pos
 * past it.  Returns 0 or ERR_FORMAT (message as utf8_validate, offset counted from s);
 * on error *pos and *cp are unchanged. */
int utf8_decode(const char *s, size_t len, size_t *pos, uint32_t *cp, struct err *e);

/* Decode one code point of input that utf8_check accepted and advance *pos.  No checks:
 * only for text already validated. */
uint32_t utf8_next(const char *s, size_t *pos);

/* Write the encoding of cp to out[0..UTF8_MAX_BYTES) and return its length (1..4);
 * returns 0 and writes nothing if cp is a surrogate or above U+10FFFF. */
int utf8_encode(uint32_t cp, char *out);

#endif
