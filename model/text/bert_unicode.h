/*
 * bert_unicode: the Unicode tables of BERT's BasicTokenizer that PCRE2 cannot give
 * (lowercase, accent stripping, CJK ranges), generated from Python 3.11's unicodedata
 * (Unicode 14.0).  Pure functions of one code point; no state, no allocation.
 */
#ifndef MODEL_BERT_UNICODE_H
#define MODEL_BERT_UNICODE_H

#include <stdbool.h>
#include <stdint.h>

/* Python's chr(cp).lower() where that is one character (every cp but U+0130, whose lower
 * form "i" + U+0307 the caller writes itself); cp itself when it has no lowercase. */
uint32_t bert_lower1(uint32_t cp);

/* Accent-stripped form of a code point that is not itself Mn: the characters of NFD(cp)
 * that are not Mn, written to out (room for 3); returns their count (0..3), or -1 if the
 * tables leave cp unchanged.  Hangul syllables decompose into their jamo. */
int bert_strip_table(uint32_t cp, uint32_t *out);

/* BERT's _is_chinese_char: a CJK ideograph (unified, extensions A-E, compatibility). */
bool bert_is_cjk(uint32_t cp);

#endif
