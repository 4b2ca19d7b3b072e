/*
 * wordpiece: the BERT WordPiece tokenizer of Hugging Face transformers (the Python
 * BertTokenizer: PreTrainedTokenizer.tokenize -> BasicTokenizer -> WordpieceTokenizer),
 * reimplemented in C.  Contract in tokenizer.h.
 *
 * Pipeline for one text (the HF step in brackets):
 *  1. [PreTrainedTokenizer.tokenize, tokens_trie] the special tokens [PAD] [UNK] [CLS]
 *     [SEP] [MASK] that the vocabulary holds are cut out of the raw text (exact,
 *     case-sensitive, no word boundary needed: "a[SEP]b" -> a [SEP] b) and map straight
 *     to their ids.  The pieces between them go through steps 2-6.
 *  2. [_clean_text] drop U+0000, U+FFFD and every code point of category C* (Cc Cf Cn Co:
 *     HF's _is_control is category.startswith("C")), except \t \n \r, which like every
 *     Zs character become a space.  A dropped character joins its neighbours: "a\x01b" -> ab.
 *  3. [_tokenize_chinese_chars] spaces around the CJK ideograph ranges (wp_is_cjk).
 *  4. [whitespace_tokenize] split on spaces, and on U+2028 / U+2029, which Python's
 *     str.split() also treats as whitespace.
 *  5. per word: lowercase [str.lower(), applied one character at a time by
 *     PreTrainedTokenizer.tokenize, hence no Greek final-sigma rule], strip accents [NFD,
 *     then drop category Mn], split off each punctuation character [_run_split_on_punc:
 *     ASCII 33-47, 58-64, 91-96, 123-126 or category P*].
 *  6. [WordpieceTokenizer] a piece longer than max_word_chars code points becomes [UNK];
 *     otherwise greedy longest-match-first with the "##" continuation prefix, and if any
 *     position has no match the whole piece is a single [UNK].
 *
 * Unicode data.  General categories come from PCRE2 (\p{C} \p{Zs} \p{P} \p{Mn}, UTF+UCP;
 * PCRE2 10.42 carries Unicode 14): at load we scan a buffer holding every BMP character
 * to fill a 64 KiB class table, and code points above the BMP are matched one at a time.
 * PCRE2 cannot produce case mappings or decompositions, so those are the tables below,
 * generated from Python 3.11's unicodedata (Unicode 14.0).
 *
 * Known differences from HF.  On NFC input (what nearly every corpus, GLUE included,
 * contains) only the last three can show:
 *  - NFC: HF (>= 4.29) NFC-normalizes the text before splitting; we do not compose.
 *    With strip_accents this changes nothing (NFD(NFC(x)) == NFD(x)).  Without it,
 *    decomposed input ("e" + U+0301) stays decomposed and canonical singletons
 *    (U+212B ANGSTROM SIGN, U+2126 OHM SIGN, compatibility ideographs) are kept.
 *  - Accent stripping leaves the 1002 CJK compatibility ideographs (U+F900..U+FAFF,
 *    U+2F800..U+2FA1F) unchanged; NFD (and NFC) map each to a unified ideograph.
 *  - Accent stripping does no canonical reordering.  That only matters for adjacent
 *    non-Mn marks with nonzero combining classes: a few viramas of Brahmic scripts
 *    (e.g. Balinese U+1B44) and musical symbols (U+1D165..).
 *  - A special token absent from the vocabulary (e.g. no [MASK]) is not cut out of the
 *    text: HF would append it as a new id V, past the embedding table.
 *  - Vocabulary: a duplicate token is an error (HF silently keeps the later id) and so
 *    is a NUL byte in a line.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include "model/text/bpe.h"
#include "model/text/tokenizer.h"
#include "base/utf8.h"
#include "model/text/encoding.h"

/* ------------------------------------------------------------------ Unicode tables */

/*
 * Simple lowercase mappings of every code point >= U+0080 (ASCII is done inline), as
 * runs: the code points first, first+stride, ..., last map to cp + delta.  U+0130 is the
 * one code point whose Python lower() is two characters ("i" + U+0307); wp_word handles
 * it.  Regenerate with:
 *   items = [(c, ord(chr(c).lower()) - c) for c in range(0x80, 0x110000)
 *            if not 0xD800 <= c <= 0xDFFF and c != 0x130 and chr(c).lower() != chr(c)]
 * then merge neighbours with equal delta into stride-1 runs, else stride-2 runs.
 */
struct wp_case_run {
    uint32_t first, last; /* inclusive */
    int32_t delta;
    uint32_t stride; /* 1 or 2 */
};

static const struct wp_case_run wp_lower_runs[] = {
    {0x00C0, 0x00D6, 32, 1},     {0x00D8, 0x00DE, 32, 1},     {0x0100, 0x012E, 1, 2},
    {0x0132, 0x0136, 1, 2},      {0x0139, 0x0147, 1, 2},      {0x014A, 0x0176, 1, 2},
    {0x0178, 0x0178, -121, 1},   {0x0179, 0x017D, 1, 2},      {0x0181, 0x0181, 210, 1},
    {0x0182, 0x0184, 1, 2},      {0x0186, 0x0186, 206, 1},    {0x0187, 0x0187, 1, 1},
    {0x0189, 0x018A, 205, 1},    {0x018B, 0x018B, 1, 1},      {0x018E, 0x018E, 79, 1},
    {0x018F, 0x018F, 202, 1},    {0x0190, 0x0190, 203, 1},    {0x0191, 0x0191, 1, 1},
    {0x0193, 0x0193, 205, 1},    {0x0194, 0x0194, 207, 1},    {0x0196, 0x0196, 211, 1},
    {0x0197, 0x0197, 209, 1},    {0x0198, 0x0198, 1, 1},      {0x019C, 0x019C, 211, 1},
    {0x019D, 0x019D, 213, 1},    {0x019F, 0x019F, 214, 1},    {0x01A0, 0x01A4, 1, 2},
    {0x01A6, 0x01A6, 218, 1},    {0x01A7, 0x01A7, 1, 1},      {0x01A9, 0x01A9, 218, 1},
    {0x01AC, 0x01AC, 1, 1},      {0x01AE, 0x01AE, 218, 1},    {0x01AF, 0x01AF, 1, 1},
    {0x01B1, 0x01B2, 217, 1},    {0x01B3, 0x01B5, 1, 2},      {0x01B7, 0x01B7, 219, 1},
    {0x01B8, 0x01B8, 1, 1},      {0x01BC, 0x01BC, 1, 1},      {0x01C4, 0x01C4, 2, 1},
    {0x01C5, 0x01C5, 1, 1},      {0x01C7, 0x01C7, 2, 1},      {0x01C8, 0x01C8, 1, 1},
    {0x01CA, 0x01CA, 2, 1},      {0x01CB, 0x01DB, 1, 2},      {0x01DE, 0x01EE, 1, 2},
    {0x01F1, 0x01F1, 2, 1},      {0x01F2, 0x01F4, 1, 2},      {0x01F6, 0x01F6, -97, 1},
    {0x01F7, 0x01F7, -56, 1},    {0x01F8, 0x021E, 1, 2},      {0x0220, 0x0220, -130, 1},
    {0x0222, 0x0232, 1, 2},      {0x023A, 0x023A, 10795, 1},  {0x023B, 0x023B, 1, 1},
    {0x023D, 0x023D, -163, 1},   {0x023E, 0x023E, 10792, 1},  {0x0241, 0x0241, 1, 1},
    {0x0243, 0x0243, -195, 1},   {0x0244, 0x0244, 69, 1},     {0x0245, 0x0245, 71, 1},
    {0x0246, 0x024E, 1, 2},      {0x0370, 0x0372, 1, 2},      {0x0376, 0x0376, 1, 1},
    {0x037F, 0x037F, 116, 1},    {0x0386, 0x0386, 38, 1},     {0x0388, 0x038A, 37, 1},
    {0x038C, 0x038C, 64, 1},     {0x038E, 0x038F, 63, 1},     {0x0391, 0x03A1, 32, 1},
    {0x03A3, 0x03AB, 32, 1},     {0x03CF, 0x03CF, 8, 1},      {0x03D8, 0x03EE, 1, 2},
    {0x03F4, 0x03F4, -60, 1},    {0x03F7, 0x03F7, 1, 1},      {0x03F9, 0x03F9, -7, 1},
    {0x03FA, 0x03FA, 1, 1},      {0x03FD, 0x03FF, -130, 1},   {0x0400, 0x040F, 80, 1},
    {0x0410, 0x042F, 32, 1},     {0x0460, 0x0480, 1, 2},      {0x048A, 0x04BE, 1, 2},
    {0x04C0, 0x04C0, 15, 1},     {0x04C1, 0x04CD, 1, 2},      {0x04D0, 0x052E, 1, 2},
    {0x0531, 0x0556, 48, 1},     {0x10A0, 0x10C5, 7264, 1},   {0x10C7, 0x10C7, 7264, 1},
    {0x10CD, 0x10CD, 7264, 1},   {0x13A0, 0x13EF, 38864, 1},  {0x13F0, 0x13F5, 8, 1},
    {0x1C90, 0x1CBA, -3008, 1},  {0x1CBD, 0x1CBF, -3008, 1},  {0x1E00, 0x1E94, 1, 2},
    {0x1E9E, 0x1E9E, -7615, 1},  {0x1EA0, 0x1EFE, 1, 2},      {0x1F08, 0x1F0F, -8, 1},
    {0x1F18, 0x1F1D, -8, 1},     {0x1F28, 0x1F2F, -8, 1},     {0x1F38, 0x1F3F, -8, 1},
    {0x1F48, 0x1F4D, -8, 1},     {0x1F59, 0x1F5F, -8, 2},     {0x1F68, 0x1F6F, -8, 1},
    {0x1F88, 0x1F8F, -8, 1},     {0x1F98, 0x1F9F, -8, 1},     {0x1FA8, 0x1FAF, -8, 1},
    {0x1FB8, 0x1FB9, -8, 1},     {0x1FBA, 0x1FBB, -74, 1},    {0x1FBC, 0x1FBC, -9, 1},
    {0x1FC8, 0x1FCB, -86, 1},    {0x1FCC, 0x1FCC, -9, 1},     {0x1FD8, 0x1FD9, -8, 1},
    {0x1FDA, 0x1FDB, -100, 1},   {0x1FE8, 0x1FE9, -8, 1},     {0x1FEA, 0x1FEB, -112, 1},
    {0x1FEC, 0x1FEC, -7, 1},     {0x1FF8, 0x1FF9, -128, 1},   {0x1FFA, 0x1FFB, -126, 1},
    {0x1FFC, 0x1FFC, -9, 1},     {0x2126, 0x2126, -7517, 1},  {0x212A, 0x212A, -8383, 1},
    {0x212B, 0x212B, -8262, 1},  {0x2132, 0x2132, 28, 1},     {0x2160, 0x216F, 16, 1},
    {0x2183, 0x2183, 1, 1},      {0x24B6, 0x24CF, 26, 1},     {0x2C00, 0x2C2F, 48, 1},
    {0x2C60, 0x2C60, 1, 1},      {0x2C62, 0x2C62, -10743, 1}, {0x2C63, 0x2C63, -3814, 1},
    {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2},      {0x2C6D, 0x2C6D, -10780, 1},
    {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1}, {0x2C70, 0x2C70, -10782, 1},
    {0x2C72, 0x2C72, 1, 1},      {0x2C75, 0x2C75, 1, 1},      {0x2C7E, 0x2C7F, -10815, 1},
    {0x2C80, 0x2CE2, 1, 2},      {0x2CEB, 0x2CED, 1, 2},      {0x2CF2, 0x2CF2, 1, 1},
    {0xA640, 0xA66C, 1, 2},      {0xA680, 0xA69A, 1, 2},      {0xA722, 0xA72E, 1, 2},
    {0xA732, 0xA76E, 1, 2},      {0xA779, 0xA77B, 1, 2},      {0xA77D, 0xA77D, -35332, 1},
    {0xA77E, 0xA786, 1, 2},      {0xA78B, 0xA78B, 1, 1},      {0xA78D, 0xA78D, -42280, 1},
    {0xA790, 0xA792, 1, 2},      {0xA796, 0xA7A8, 1, 2},      {0xA7AA, 0xA7AA, -42308, 1},
    {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1}, {0xA7AD, 0xA7AD, -42305, 1},
    {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1}, {0xA7B1, 0xA7B1, -42282, 1},
    {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1},    {0xA7B4, 0xA7C2, 1, 2},
    {0xA7C4, 0xA7C4, -48, 1},    {0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1},
    {0xA7C7, 0xA7C9, 1, 2},      {0xA7D0, 0xA7D0, 1, 1},      {0xA7D6, 0xA7D8, 1, 2},
    {0xA7F5, 0xA7F5, 1, 1},      {0xFF21, 0xFF3A, 32, 1},     {0x10400, 0x10427, 40, 1},
    {0x104B0, 0x104D3, 40, 1},   {0x10570, 0x1057A, 39, 1},   {0x1057C, 0x1058A, 39, 1},
    {0x1058C, 0x10592, 39, 1},   {0x10594, 0x10595, 39, 1},   {0x10C80, 0x10CB2, 64, 1},
    {0x118A0, 0x118BF, 32, 1},   {0x16E40, 0x16E5F, 32, 1},   {0x1E900, 0x1E921, 34, 1},
};

/*
 * Accent stripping: for a code point c that is not itself Mn, the characters of
 * NFD(c) that are not Mn, when that differs from c.  Regenerate with
 *   s = "".join(x for x in unicodedata.normalize("NFD", chr(c)) if category(x) != "Mn")
 * over all c except Mn, surrogates, Hangul syllables (wp_hangul, algorithmic) and CJK
 * compatibility ideographs (not covered, see the top of the file).
 *
 * Dense blocks: base[c - first] is the stripped character, '.' means "unchanged".  They
 * cover Latin-1, Latin Extended-A/B, Greek, Cyrillic, Latin Extended Additional
 * (Vietnamese), Greek Extended and kana (voiced kana lose their dakuten, as in HF).
 */
struct wp_strip_dense {
    uint32_t first;
    uint32_t n;           /* number of code points covered */
    const char16_t *base; /* (n) */
};
#define WP_DENSE(first, s)                                                                         \
    {                                                                                              \
        (first), sizeof(s) / sizeof((s)[0]) - 1, (s)                                               \
    }

static const struct wp_strip_dense wp_strip_dense[] = {
    /* U+00C0..U+0233 */
    WP_DENSE(0x00C0, u"AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
                     u"AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGgGgGgHh..IiIiIiIiI...JjKk.LlLlLl."
                     u"...NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz."
                     u"................................Oo.............Uu..............."
                     u".............AaIiOoUuUuUuUuUu.AaAaÆæ..GgKkOoOoƷʒj...Gg..NnAaÆæØø"
                     u"AaAaEeEeIiIiOoOoRrRrUuUuSsTt..Hh......AaEeOoOoOoOoYy"),
    /* U+0374..U+03D4 */
    WP_DENSE(0x0374, u"ʹ.........;......¨Α·ΕΗΙ.Ο.ΥΩι.........................ΙΥαεηιυ..."
                     u"......................ιυουω....ϒϒ"),
    /* U+0400..U+04F9 */
    WP_DENSE(0x0400, u"ЕЕ.Г...І....КИУ..........И...............................и......"
                     u"................ее.г...і....киу.......................Ѵѵ........"
                     u"................................................................"
                     u".Жж.............АаАа..Ее..ӘәЖжЗз..ИиИиОо..ӨөЭэУуУуУуЧч..Ыы"),
    /* U+1E00..U+1EF9 */
    WP_DENSE(0x1E00, u"AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMm"
                     u"MmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVv"
                     u"WwWwWwWwWwXxXxYyZzZzZzhtwy.ſ....AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEe"
                     u"EeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy"),
    /* U+1F00..U+1FFD */
    WP_DENSE(0x1F00, u"ααααααααΑΑΑΑΑΑΑΑεεεεεε..ΕΕΕΕΕΕ..ηηηηηηηηΗΗΗΗΗΗΗΗιιιιιιιιΙΙΙΙΙΙΙΙ"
                     u"οοοοοο..ΟΟΟΟΟΟ..υυυυυυυυ.Υ.Υ.Υ.ΥωωωωωωωωΩΩΩΩΩΩΩΩααεεηηιιοουυωω.."
                     u"ααααααααΑΑΑΑΑΑΑΑηηηηηηηηΗΗΗΗΗΗΗΗωωωωωωωωΩΩΩΩΩΩΩΩααααα.ααΑΑΑΑΑ.ι."
                     u".¨ηηη.ηηΕΕΗΗΗ᾿᾿᾿ιιιι..ιιΙΙΙΙ.῾῾῾υυυυρρυυΥΥΥΥΡ¨¨`..ωωω.ωωΟΟΩΩΩ´"),
    /* U+304C..U+30FE */
    WP_DENSE(
        0x304C,
        u"か.き.く.け.こ.さ.し.す.せ.そ.た.ち..つ.て.と......はは.ひひ.ふふ.へへ.ほほ.............."
        u"........う.........ゝ.............カ.キ.ク.ケ.コ.サ.シ.ス.セ.ソ.タ.チ..ツ.テ.ト.."
        u"....ハハ.ヒヒ.フフ.ヘヘ.ホホ......................ウ..ワヰヱヲ...ヽ"),
};

/* Everything else with a decomposition (Arabic, Indic, Hebrew presentation forms,
 * negated math relations such as U+2260 -> '=', ...): up to 3 code points, 0-padded. */
struct wp_strip_sparse {
    uint32_t cp;
    uint32_t out[3];
};

/* Several entries per line: clang-format would give each of the 179 its own line. */
/* clang-format off */
static const struct wp_strip_sparse wp_strip_sparse[] = {
    {0x0622, {0x0627}}, {0x0623, {0x0627}}, {0x0624, {0x0648}}, {0x0625, {0x0627}},
    {0x0626, {0x064A}}, {0x06C0, {0x06D5}}, {0x06C2, {0x06C1}}, {0x06D3, {0x06D2}},
    {0x0929, {0x0928}}, {0x0931, {0x0930}}, {0x0934, {0x0933}}, {0x0958, {0x0915}},
    {0x0959, {0x0916}}, {0x095A, {0x0917}}, {0x095B, {0x091C}}, {0x095C, {0x0921}},
    {0x095D, {0x0922}}, {0x095E, {0x092B}}, {0x095F, {0x092F}}, {0x09CB, {0x09C7, 0x09BE}},
    {0x09CC, {0x09C7, 0x09D7}}, {0x09DC, {0x09A1}}, {0x09DD, {0x09A2}}, {0x09DF, {0x09AF}},
    {0x0A33, {0x0A32}}, {0x0A36, {0x0A38}}, {0x0A59, {0x0A16}}, {0x0A5A, {0x0A17}},
    {0x0A5B, {0x0A1C}}, {0x0A5E, {0x0A2B}}, {0x0B48, {0x0B47}}, {0x0B4B, {0x0B47, 0x0B3E}},
    {0x0B4C, {0x0B47, 0x0B57}}, {0x0B5C, {0x0B21}}, {0x0B5D, {0x0B22}}, {0x0B94, {0x0B92, 0x0BD7}},
    {0x0BCA, {0x0BC6, 0x0BBE}}, {0x0BCB, {0x0BC7, 0x0BBE}}, {0x0BCC, {0x0BC6, 0x0BD7}},
    {0x0CC0, {0x0CD5}}, {0x0CC7, {0x0CD5}}, {0x0CC8, {0x0CD6}}, {0x0CCA, {0x0CC2}},
    {0x0CCB, {0x0CC2, 0x0CD5}}, {0x0D4A, {0x0D46, 0x0D3E}}, {0x0D4B, {0x0D47, 0x0D3E}},
    {0x0D4C, {0x0D46, 0x0D57}}, {0x0DDA, {0x0DD9}}, {0x0DDC, {0x0DD9, 0x0DCF}},
    {0x0DDD, {0x0DD9, 0x0DCF}}, {0x0DDE, {0x0DD9, 0x0DDF}}, {0x0F43, {0x0F42}}, {0x0F4D, {0x0F4C}},
    {0x0F52, {0x0F51}}, {0x0F57, {0x0F56}}, {0x0F5C, {0x0F5B}}, {0x0F69, {0x0F40}},
    {0x1026, {0x1025}}, {0x1B06, {0x1B05, 0x1B35}}, {0x1B08, {0x1B07, 0x1B35}},
    {0x1B0A, {0x1B09, 0x1B35}}, {0x1B0C, {0x1B0B, 0x1B35}}, {0x1B0E, {0x1B0D, 0x1B35}},
    {0x1B12, {0x1B11, 0x1B35}}, {0x1B3B, {0x1B35}}, {0x1B3D, {0x1B35}}, {0x1B40, {0x1B3E, 0x1B35}},
    {0x1B41, {0x1B3F, 0x1B35}}, {0x1B43, {0x1B35}}, {0x2000, {0x2002}}, {0x2001, {0x2003}},
    {0x2126, {0x03A9}}, {0x212A, {0x004B}}, {0x212B, {0x0041}}, {0x219A, {0x2190}},
    {0x219B, {0x2192}}, {0x21AE, {0x2194}}, {0x21CD, {0x21D0}}, {0x21CE, {0x21D4}},
    {0x21CF, {0x21D2}}, {0x2204, {0x2203}}, {0x2209, {0x2208}}, {0x220C, {0x220B}},
    {0x2224, {0x2223}}, {0x2226, {0x2225}}, {0x2241, {0x223C}}, {0x2244, {0x2243}},
    {0x2247, {0x2245}}, {0x2249, {0x2248}}, {0x2260, {0x003D}}, {0x2262, {0x2261}},
    {0x226D, {0x224D}}, {0x226E, {0x003C}}, {0x226F, {0x003E}}, {0x2270, {0x2264}},
    {0x2271, {0x2265}}, {0x2274, {0x2272}}, {0x2275, {0x2273}}, {0x2278, {0x2276}},
    {0x2279, {0x2277}}, {0x2280, {0x227A}}, {0x2281, {0x227B}}, {0x2284, {0x2282}},
    {0x2285, {0x2283}}, {0x2288, {0x2286}}, {0x2289, {0x2287}}, {0x22AC, {0x22A2}},
    {0x22AD, {0x22A8}}, {0x22AE, {0x22A9}}, {0x22AF, {0x22AB}}, {0x22E0, {0x227C}},
    {0x22E1, {0x227D}}, {0x22E2, {0x2291}}, {0x22E3, {0x2292}}, {0x22EA, {0x22B2}},
    {0x22EB, {0x22B3}}, {0x22EC, {0x22B4}}, {0x22ED, {0x22B5}}, {0x2329, {0x3008}},
    {0x232A, {0x3009}}, {0x2ADC, {0x2ADD}}, {0xFB1D, {0x05D9}}, {0xFB1F, {0x05F2}},
    {0xFB2A, {0x05E9}}, {0xFB2B, {0x05E9}}, {0xFB2C, {0x05E9}}, {0xFB2D, {0x05E9}},
    {0xFB2E, {0x05D0}}, {0xFB2F, {0x05D0}}, {0xFB30, {0x05D0}}, {0xFB31, {0x05D1}},
    {0xFB32, {0x05D2}}, {0xFB33, {0x05D3}}, {0xFB34, {0x05D4}}, {0xFB35, {0x05D5}},
    {0xFB36, {0x05D6}}, {0xFB38, {0x05D8}}, {0xFB39, {0x05D9}}, {0xFB3A, {0x05DA}},
    {0xFB3B, {0x05DB}}, {0xFB3C, {0x05DC}}, {0xFB3E, {0x05DE}}, {0xFB40, {0x05E0}},
    {0xFB41, {0x05E1}}, {0xFB43, {0x05E3}}, {0xFB44, {0x05E4}}, {0xFB46, {0x05E6}},
    {0xFB47, {0x05E7}}, {0xFB48, {0x05E8}}, {0xFB49, {0x05E9}}, {0xFB4A, {0x05EA}},
    {0xFB4B, {0x05D5}}, {0xFB4C, {0x05D1}}, {0xFB4D, {0x05DB}}, {0xFB4E, {0x05E4}},
    {0x1109A, {0x11099}}, {0x1109C, {0x1109B}}, {0x110AB, {0x110A5}}, {0x1134B, {0x11347, 0x1133E}},
    {0x1134C, {0x11347, 0x11357}}, {0x114BB, {0x114B9}}, {0x114BC, {0x114B9, 0x114B0}},
    {0x114BE, {0x114B9, 0x114BD}}, {0x115BA, {0x115B8, 0x115AF}}, {0x115BB, {0x115B9, 0x115AF}},
    {0x11938, {0x11935, 0x11930}}, {0x1D15E, {0x1D157, 0x1D165}}, {0x1D15F, {0x1D158, 0x1D165}},
    {0x1D160, {0x1D158, 0x1D165, 0x1D16E}}, {0x1D161, {0x1D158, 0x1D165, 0x1D16F}},
    {0x1D162, {0x1D158, 0x1D165, 0x1D170}}, {0x1D163, {0x1D158, 0x1D165, 0x1D171}},
    {0x1D164, {0x1D158, 0x1D165, 0x1D172}}, {0x1D1BB, {0x1D1B9, 0x1D165}},
    {0x1D1BC, {0x1D1BA, 0x1D165}}, {0x1D1BD, {0x1D1B9, 0x1D165, 0x1D16E}},
    {0x1D1BE, {0x1D1BA, 0x1D165, 0x1D16E}}, {0x1D1BF, {0x1D1B9, 0x1D165, 0x1D16F}},
    {0x1D1C0, {0x1D1BA, 0x1D165, 0x1D16F}},
};
/* clang-format on */

#define WP_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t wp_lower1(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = WP_NELEM(wp_lower_runs);
    while (lo < hi) { /* first run whose last >= cp; runs are disjoint and sorted */
        size_t mid = lo + (hi - lo) / 2;
        if (wp_lower_runs[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == WP_NELEM(wp_lower_runs))
        return cp;
    const struct wp_case_run *r = &wp_lower_runs[lo];
    if (cp < r->first || (cp - r->first) % r->stride != 0)
        return cp;
    return (uint32_t)((int32_t)cp + r->delta);
}

/* Hangul syllables decompose algorithmically (Unicode 3.12) into conjoining jamo, which
 * are letters (Lo), so uncased BERT sees Korean as jamo.  Returns the count (2 or 3). */
static int wp_hangul(uint32_t cp, uint32_t *out)
{
    uint32_t s = cp - 0xAC00;
    out[0] = 0x1100 + s / (21 * 28);
    out[1] = 0x1161 + (s % (21 * 28)) / 28;
    if (s % 28 == 0)
        return 2;
    out[2] = 0x11A7 + s % 28;
    return 3;
}

/* Stripped form of a non-Mn code point from the tables: the count written to out
 * (0..3), or -1 if the tables leave cp unchanged. */
static int wp_strip_table(uint32_t cp, uint32_t *out)
{
    if (cp >= 0xAC00 && cp <= 0xD7A3)
        return wp_hangul(cp, out);
    for (size_t i = 0; i < WP_NELEM(wp_strip_dense); i++) {
        const struct wp_strip_dense *d = &wp_strip_dense[i];
        if (cp >= d->first && cp - d->first < d->n) {
            char16_t b = d->base[cp - d->first];
            if (b == u'.')
                return -1;
            out[0] = b;
            return 1;
        }
    }
    size_t lo = 0, hi = WP_NELEM(wp_strip_sparse);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wp_strip_sparse[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == WP_NELEM(wp_strip_sparse) || wp_strip_sparse[lo].cp != cp)
        return -1;
    int n = 0;
    while (n < 3 && wp_strip_sparse[lo].out[n]) {
        out[n] = wp_strip_sparse[lo].out[n];
        n++;
    }
    return n;
}

/* BERT's _is_chinese_char: the CJK Unified Ideographs blocks and extensions A-E plus
 * the compatibility ideographs.  Not kana, not Hangul. */
static bool wp_is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* -------------------------------------------------------------- character classes */

/* What BasicTokenizer does with a character.  The PCRE2 categories are disjoint. */
enum wp_class {
    WP_OTHER = 0, /* part of a word */
    WP_DROP,      /* removed by _clean_text: C*, U+0000, U+FFFD */
    WP_SPACE,     /* word boundary: space, \t \n \r, Zs, U+2028, U+2029 */
    WP_PUNCT,     /* its own token: P* or BERT's ASCII punctuation */
    WP_MARK,      /* Mn: removed when stripping accents */
};

#define WP_NRE 4
static const char *const wp_re_src[WP_NRE] = {"\\p{C}+", "\\p{Zs}+", "\\p{P}+", "\\p{Mn}+"};
static const unsigned char wp_re_class[WP_NRE] = {WP_DROP, WP_SPACE, WP_PUNCT, WP_MARK};

#define WP_NSPECIAL 5

struct wp_special {
    const char *s; /* borrowed: points into tokenizer.text */
    size_t n;      /* strlen(s) */
    int id;
};

struct tokenizer {
    struct tokenizer_opts opts;
    int V;          /* vocabulary size */
    char *text;     /* owned: every token, each NUL-terminated */
    size_t *off;    /* owned (V): offset of token id in text */
    uint32_t *len;  /* owned (V): byte length of token id */
    int32_t *slot;  /* owned (cap): token id or -1; open addressing, FNV-1a */
    size_t cap;     /* power of two >= 2V, so probes always end */
    size_t max_len; /* longest token in bytes: bounds the WordPiece search */
    int pad, unk, cls, sep, mask;
    struct wp_special special[WP_NSPECIAL];
    int nspecial;
    unsigned char *bmp_class; /* owned (0x10000): enum wp_class of each BMP code point */
    pcre2_code *re[WP_NRE];   /* owned: compiled wp_re_src, for code points > U+FFFF */
    struct bpe *bpe;          /* owned: byte-level BPE (model/text/bpe.c), or NULL for WordPiece.
                                 When set, only opts, V and the special ids are filled and
                                 the functions below forward to it. */
};

static int wp_class_slow(const struct tokenizer *t, pcre2_match_data *md, uint32_t cp)
{
    char buf[UTF8_MAX_BYTES];
    int n = utf8_encode(cp, buf);
    for (int k = 0; k < WP_NRE; k++) {
        int rc = pcre2_match(t->re[k], (PCRE2_SPTR)buf, (PCRE2_SIZE)n, 0,
                             PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc >= 0)
            return wp_re_class[k];
    }
    return WP_OTHER;
}

/* Fill t->bmp_class.  One buffer holds the UTF-8 of U+0000..U+FFFF (surrogates left
 * out, so it stays valid UTF-8); each "\p{X}+" pattern is run across it and every
 * character of every match gets that class.  A few hundred matches per pattern instead
 * of 65536 single-character matches. */
static int wp_build_classes(struct tokenizer *t, struct err *e)
{
    size_t cap = (size_t)0x10000 * 3;
    char *buf = malloc(cap);
    t->bmp_class = calloc(0x10000, 1);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = 0;
    if (!buf || !t->bmp_class || !md) {
        rc = ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory building character classes");
        goto out;
    }
    size_t n = 0;
    for (uint32_t cp = 0; cp < 0x10000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        n += (size_t)utf8_encode(cp, buf + n);
    }
    for (int k = 0; k < WP_NRE; k++) {
        size_t start = 0;
        for (;;) {
            int m = pcre2_match(t->re[k], (PCRE2_SPTR)buf, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
            if (m == PCRE2_ERROR_NOMATCH)
                break;
            if (m < 0) {
                PCRE2_UCHAR msg[120];
                pcre2_get_error_message(m, msg, sizeof msg);
                rc = ERR_SET(e, ERR_STATE, "tokenizer: PCRE2 match of %s failed: %s", wp_re_src[k],
                             (const char *)msg);
                goto out;
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            for (size_t p = ov[0]; p < ov[1];)
                t->bmp_class[utf8_next(buf, &p)] = wp_re_class[k];
            start = ov[1];
        }
    }
    /* BERT's own rules on top of the categories. */
    t->bmp_class['\t'] = t->bmp_class['\n'] = t->bmp_class['\r'] = WP_SPACE;
    t->bmp_class[0x2028] = t->bmp_class[0x2029] = WP_SPACE;
    t->bmp_class[0xFFFD] = WP_DROP;
    for (int c = 33; c <= 126; c++) {
        if ((c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || c >= 123)
            t->bmp_class[c] = WP_PUNCT;
    }
out:
    pcre2_match_data_free(md);
    free(buf);
    return rc;
}

static int wp_compile(struct tokenizer *t, struct err *e)
{
    for (int k = 0; k < WP_NRE; k++) {
        int code;
        PCRE2_SIZE at;
        t->re[k] = pcre2_compile((PCRE2_SPTR)wp_re_src[k], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
        if (!t->re[k]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof msg);
            return ERR_SET(e, ERR_UNSUPPORTED,
                           "tokenizer: PCRE2 cannot compile %s (%s); it needs Unicode support",
                           wp_re_src[k], (const char *)msg);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------- vocabulary */

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
static size_t wp_probe(const struct tokenizer *t, bool cont, const char *p, size_t n)
{
    size_t mask = t->cap - 1, full = n + (cont ? 2 : 0);
    size_t i = (size_t)wp_hash(cont, p, n) & mask;
    for (;; i = (i + 1) & mask) {
        int32_t id = t->slot[i];
        if (id < 0)
            return i;
        if (t->len[id] != full)
            continue;
        const char *s = t->text + t->off[id];
        if (cont && (s[0] != '#' || s[1] != '#'))
            continue;
        if (memcmp(s + (cont ? 2 : 0), p, n) == 0)
            return i;
    }
}

static int wp_find(const struct tokenizer *t, bool cont, const char *p, size_t n)
{
    return t->slot[wp_probe(t, cont, p, n)];
}

/* "vocab.txt:7" (1-based line) for a file, "tokens[6]" for an in-memory list. */
static void wp_where(char *buf, size_t size, const char *path, size_t i)
{
    if (path)
        snprintf(buf, size, "%s:%zu", path, i + 1);
    else
        snprintf(buf, size, "tokens[%zu]", i);
}

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

void tokenizer_free(struct tokenizer *t)
{
    if (!t)
        return;
    bpe_free(t->bpe);
    for (int k = WP_NRE - 1; k >= 0; k--)
        pcre2_code_free(t->re[k]);
    free(t->bmp_class);
    free(t->slot);
    free(t->len);
    free(t->off);
    free(t->text);
    free(t);
}

/* Build a tokenizer from tok[i][0..len[i]), i < n; path names the source in messages
 * (NULL: an in-memory list).  opts NULL means tokenizer_opts_default. */
static int wp_build(struct tokenizer **out, const char *const *tok, const size_t *len, size_t n,
                    const struct tokenizer_opts *opts, const char *path, struct err *e)
{
    const char *src = path ? path : "tokens";
    char where[300];
    int rc;

    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    if (opts)
        o = *opts;
    if (o.max_word_chars < 1)
        return ERR_SET(e, ERR_CONFIG, "tokenizer: max_word_chars must be >= 1 (got %d)",
                       o.max_word_chars);
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

    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
    t->opts = o;
    t->V = (int)n;
    t->max_len = max_len;
    t->cap = 16;
    while (t->cap < 2 * n)
        t->cap *= 2;
    t->text = malloc(bytes);
    t->off = malloc(n * sizeof *t->off);
    t->len = malloc(n * sizeof *t->len);
    t->slot = malloc(t->cap * sizeof *t->slot);
    if (!t->text || !t->off || !t->len || !t->slot) {
        rc = ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory for %zu tokens", n);
        goto out_free;
    }
    memset(t->slot, 0xFF, t->cap * sizeof *t->slot); /* all -1 */

    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = wp_probe(t, false, tok[i], len[i]);
        if (t->slot[s] >= 0) {
            char first[300];
            wp_where(where, sizeof where, path, i);
            wp_where(first, sizeof first, path, (size_t)t->slot[s]);
            if (len[i] == 0)
                rc = ERR_SET(e, ERR_FORMAT,
                             "%s: duplicate empty token (blank line), first at %s; "
                             "each token must appear once",
                             where, first);
            else
                rc = ERR_SET(e, ERR_FORMAT,
                             "%s: duplicate token '%.*s', first at %s; each token must appear once",
                             where, (int)(len[i] < 64 ? len[i] : 64), tok[i], first);
            goto out_free;
        }
        memcpy(t->text + pos, tok[i], len[i]);
        t->text[pos + len[i]] = '\0';
        t->off[i] = pos;
        t->len[i] = (uint32_t)len[i];
        t->slot[s] = (int32_t)i;
        pos += len[i] + 1;
    }

    static const char *const names[WP_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    int *ids[WP_NSPECIAL] = {&t->pad, &t->unk, &t->cls, &t->sep, &t->mask};
    for (int k = 0; k < WP_NSPECIAL; k++) {
        *ids[k] = wp_find(t, false, names[k], strlen(names[k]));
        if (*ids[k] >= 0) {
            struct wp_special *sp = &t->special[t->nspecial++];
            sp->s = t->text + t->off[*ids[k]];
            sp->n = strlen(names[k]);
            sp->id = *ids[k];
        } else if (k < 4) {
            bool bom = len[0] >= 3 && memcmp(tok[0], "\xEF\xBB\xBF", 3) == 0;
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s: required token %s is missing (a BERT vocab.txt lists [PAD], "
                         "[UNK], [CLS] and [SEP])%s",
                         src, names[k],
                         bom ? "; note: the first token starts with a UTF-8 byte-order mark" : "");
            goto out_free;
        }
    }

    rc = wp_compile(t, e);
    if (rc)
        goto out_free;
    rc = wp_build_classes(t, e);
    if (rc)
        goto out_free;
    *out = t;
    return 0;

out_free:
    tokenizer_free(t);
    return rc;
}

int tokenizer_from_tokens(struct tokenizer **out, const char *const *tokens, int n,
                          const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_from_tokens: out is NULL");
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

int tokenizer_load_bpe(struct tokenizer **out, const char *vocab_json, const char *merges_txt,
                       const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_bpe: out is NULL");
    *out = NULL;
    struct tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
    tokenizer_opts_default(&t->opts); /* add_prefix_space false, as RobertaTokenizer */
    if (opts)
        t->opts = *opts;
    int rc = bpe_load(&t->bpe, vocab_json, merges_txt, t->opts.add_prefix_space, e);
    if (rc) {
        free(t);
        return rc;
    }
    struct bpe_special_ids sp = bpe_specials(t->bpe);
    t->V = bpe_vocab_size(t->bpe);
    t->pad = sp.pad;
    t->unk = sp.unk;
    t->cls = sp.cls;
    t->sep = sp.sep;
    t->mask = sp.mask;
    *out = t;
    return 0;
}

/* Read a whole file into a malloc'ed buffer with one spare byte at the end. */
static int wp_read_file(const char *path, char **data, size_t *size, struct err *e)
{
    /* A vocabulary within both limits is smaller than this. */
    const size_t limit = (size_t)TOK_MAX_VOCAB * (TOK_MAX_TOKEN_BYTES + 2);
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "cannot open vocabulary '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) { /* keep one spare byte for a final NUL */
            if (cap > limit) {
                rc = ERR_SET(e, ERR_LIMIT, "%s: file is larger than %zu bytes; not a vocabulary",
                             path, limit);
                goto out;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = ERR_SET(e, ERR_NOMEM, "out of memory reading '%s'", path);
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = ERR_SET(e, ERR_IO, "cannot read vocabulary '%s': %s", path, strerror(errno));
        goto out;
    }
    *data = buf;
    *size = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

/*
 * Lines end at "\n", "\r\n" or a lone "\r": HF's load_vocab opens the file in Python
 * text mode (universal newlines), then strips the "\n".  So a CRLF file loads like an
 * LF one, an empty line is the token "" with its own id, spaces are kept, and a final
 * line without a newline still counts.  Ids are 0-based line numbers; messages give
 * 1-based lines.
 */
int tokenizer_load_wordpiece(struct tokenizer **out, const char *vocab_path,
                             const struct tokenizer_opts *opts, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_wordpiece: out is NULL");
    *out = NULL;
    if (!vocab_path)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_wordpiece: vocab_path is NULL");
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
    rc = wp_build(out, tok, len, nlines, opts, vocab_path, e);
out_free_lines:
    free(len);
    free(tok);
out_free:
    free(data);
    return rc;
}

/* ------------------------------------------------------------------- tokenizing */

/* Scratch for one tokenizer_tokenize call (the tokenizer itself stays read-only, so
 * several threads may tokenize with one tokenizer). */
struct wp_work {
    uint32_t *word; /* (cap_word) code points of the current whitespace-delimited word */
    size_t nword, cap_word;
    uint32_t *low; /* (cap_low) word after lowercasing */
    size_t cap_low;
    uint32_t *strip; /* (cap_strip) after accent stripping */
    size_t cap_strip;
    char *bytes; /* (cap_bytes) UTF-8 of one piece */
    size_t cap_bytes;
    size_t *cut; /* (cap_cut) byte offset in bytes of each character boundary */
    size_t cap_cut;
    int *ids; /* (cap_ids) output ids; handed to the caller */
    size_t nids, cap_ids;
    pcre2_match_data *md; /* for code points above the BMP */
    /* tokenizer_basic_split mode: pieces are collected as text instead of run through
     * WordPiece, and special tokens cut out of the text are dropped. */
    bool split;
    char *wtext; /* (cap_wtext) the pieces, each NUL-terminated */
    size_t nwtext, cap_wtext;
    size_t *woff; /* (cap_woff) offset in wtext of each piece */
    size_t nwords, cap_woff;
};

/* Grow p (elem-byte items, capacity *cap) to hold need items.  Returns the possibly
 * moved block, or NULL with p still valid and *cap unchanged. */
static void *wp_grow(void *p, size_t *cap, size_t need, size_t elem)
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

static int wp_nomem(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
}

static int wp_push(struct wp_work *w, int id, struct err *e)
{
    if (w->nids >= INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "tokenizer: text has more than %d tokens", INT_MAX);
    int *p = wp_grow(w->ids, &w->cap_ids, w->nids + 1, sizeof *p);
    if (!p)
        return wp_nomem(e);
    w->ids = p;
    w->ids[w->nids++] = id;
    return 0;
}

static int wp_class_of(const struct tokenizer *t, const struct wp_work *w, uint32_t cp)
{
    return cp < 0x10000 ? t->bmp_class[cp] : wp_class_slow(t, w->md, cp);
}

/* Split mode: append the UTF-8 of cp[0..n) as one more piece of w->wtext. */
static int wp_collect(struct wp_work *w, const uint32_t *cp, size_t n, struct err *e)
{
    if (w->nwords >= INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "tokenizer: text has more than %d words", INT_MAX);
    char *b = wp_grow(w->wtext, &w->cap_wtext, w->nwtext + n * UTF8_MAX_BYTES + 1, 1);
    if (!b)
        return wp_nomem(e);
    w->wtext = b;
    size_t *off = wp_grow(w->woff, &w->cap_woff, w->nwords + 1, sizeof *off);
    if (!off)
        return wp_nomem(e);
    w->woff = off;
    off[w->nwords++] = w->nwtext;
    for (size_t i = 0; i < n; i++)
        w->nwtext += (size_t)utf8_encode(cp[i], b + w->nwtext);
    b[w->nwtext++] = '\0';
    return 0;
}

/* WordPiece on one punctuation-free piece cp[0..n): append its ids to w->ids. */
static int wp_piece(const struct tokenizer *t, struct wp_work *w, const uint32_t *cp, size_t n,
                    struct err *e)
{
    if (n == 0)
        return 0;
    if (w->split)
        return wp_collect(w, cp, n, e);
    if (n > (size_t)t->opts.max_word_chars)
        return wp_push(w, t->unk, e);
    char *b = wp_grow(w->bytes, &w->cap_bytes, n * UTF8_MAX_BYTES, 1);
    if (!b)
        return wp_nomem(e);
    w->bytes = b;
    size_t *cut = wp_grow(w->cut, &w->cap_cut, n + 1, sizeof *cut);
    if (!cut)
        return wp_nomem(e);
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
        while (end > start && cut[end] - cut[start] + extra > t->max_len)
            end--;
        int id = -1;
        for (; end > start; end--) {
            id = wp_find(t, cont, b + cut[start], cut[end] - cut[start]);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            w->nids = mark; /* any missing piece makes the whole piece [UNK] */
            return wp_push(w, t->unk, e);
        }
        int rc = wp_push(w, id, e);
        if (rc)
            return rc;
        start = end;
    }
    return 0;
}

/* Lowercase, strip accents and split on punctuation the word in w->word, then run
 * WordPiece on each part.  Empties w->word. */
static int wp_word(const struct tokenizer *t, struct wp_work *w, struct err *e)
{
    size_t n = w->nword;
    w->nword = 0;
    if (n == 0)
        return 0;
    const uint32_t *src = w->word;
    if (t->opts.lowercase) {
        uint32_t *low = wp_grow(w->low, &w->cap_low, 2 * n, sizeof *low);
        if (!low)
            return wp_nomem(e);
        w->low = low;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (src[i] == 0x130) { /* Python: "\u0130".lower() == "i\u0307" */
                low[m++] = 'i';
                low[m++] = 0x307;
            } else {
                low[m++] = wp_lower1(src[i]);
            }
        }
        src = low;
        n = m;
    }
    if (t->opts.strip_accents) {
        uint32_t *st = wp_grow(w->strip, &w->cap_strip, 3 * n, sizeof *st);
        if (!st)
            return wp_nomem(e);
        w->strip = st;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            int k = src[i] < 0xC0 ? -1 : wp_strip_table(src[i], st + m);
            if (k >= 0)
                m += (size_t)k;
            else if (wp_class_of(t, w, src[i]) != WP_MARK)
                st[m++] = src[i];
        }
        src = st;
        n = m;
    }
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (wp_class_of(t, w, src[i]) != WP_PUNCT)
            continue;
        int rc = wp_piece(t, w, src + start, i - start, e);
        if (!rc)
            rc = wp_piece(t, w, src + i, 1, e);
        if (rc)
            return rc;
        start = i + 1;
    }
    return wp_piece(t, w, src + start, n - start, e);
}

static int wp_append(struct wp_work *w, uint32_t cp, struct err *e)
{
    uint32_t *p = wp_grow(w->word, &w->cap_word, w->nword + 1, sizeof *p);
    if (!p)
        return wp_nomem(e);
    w->word = p;
    w->word[w->nword++] = cp;
    return 0;
}

/* BasicTokenizer + WordpieceTokenizer on s[0..len), valid UTF-8 without special tokens. */
static int wp_basic(const struct tokenizer *t, struct wp_work *w, const char *s, size_t len,
                    struct err *e)
{
    int rc = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        uint32_t cp = utf8_next(s, &pos);
        int c = wp_class_of(t, w, cp);
        if (c == WP_DROP)
            continue;
        if (c == WP_SPACE) {
            rc = wp_word(t, w, e);
        } else if (t->opts.tokenize_chinese && wp_is_cjk(cp)) {
            rc = wp_word(t, w, e);
            if (!rc)
                rc = wp_append(w, cp, e);
            if (!rc)
                rc = wp_word(t, w, e);
        } else {
            rc = wp_append(w, cp, e);
        }
    }
    if (!rc)
        rc = wp_word(t, w, e);
    return rc;
}

/* Index in t->special of the special token that s[0..len) starts with, or -1. */
static int wp_special_at(const struct tokenizer *t, const char *s, size_t len)
{
    for (int k = 0; k < t->nspecial; k++) {
        if (t->special[k].n <= len && memcmp(s, t->special[k].s, t->special[k].n) == 0)
            return k;
    }
    return -1;
}

static int wp_run(const struct tokenizer *t, struct wp_work *w, const char *text, struct err *e)
{
    size_t len = strlen(text);
    int rc = utf8_validate(text, len, e);
    if (rc)
        return rc;
    w->md = pcre2_match_data_create(1, NULL);
    if (!w->md)
        return wp_nomem(e);
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
        rc = wp_basic(t, w, text + seg, at - seg, e);
        if (!rc && !w->split)
            rc = wp_push(w, t->special[k].id, e);
        if (rc)
            return rc;
        pos = seg = at + t->special[k].n;
    }
    return wp_basic(t, w, text + seg, len - seg, e);
}

int tokenizer_tokenize(const struct tokenizer *t, const char *text, int **ids, int *n,
                       struct err *e)
{
    if (!ids || !n)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: ids and n must not be NULL");
    *ids = NULL;
    *n = 0;
    if (!t || !text)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_tokenize: tokenizer and text must not be NULL");
    if (t->bpe)
        return bpe_tokenize(t->bpe, text, ids, n, e);
    struct wp_work w = {0};
    int rc = wp_run(t, &w, text, e);
    if (!rc && !w.ids) { /* always hand back a block, even for zero tokens */
        w.ids = malloc(sizeof *w.ids);
        if (!w.ids)
            rc = wp_nomem(e);
    }
    if (!rc) {
        *ids = w.ids;
        *n = (int)w.nids;
        w.ids = NULL;
    }
    pcre2_match_data_free(w.md);
    free(w.ids);
    free(w.cut);
    free(w.bytes);
    free(w.strip);
    free(w.low);
    free(w.word);
    return rc;
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
    if (t->bpe) /* BERT pre-tokenization has no meaning for a byte-level BPE tokenizer */
        return ERR_SET(e, ERR_UNSUPPORTED, "tokenizer_basic_split: needs a WordPiece tokenizer");
    struct wp_work w = {0};
    w.split = true;
    int rc = wp_run(t, &w, text, e);
    char **block = NULL;
    if (!rc) { /* one block: the pointer array, then the text it points into */
        size_t head = (w.nwords + 1) * sizeof *block;
        block = malloc(head + w.nwtext + 1);
        if (!block) {
            rc = wp_nomem(e);
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
    pcre2_match_data_free(w.md);
    free(w.woff);
    free(w.wtext);
    free(w.ids);
    free(w.cut);
    free(w.bytes);
    free(w.strip);
    free(w.low);
    free(w.word);
    return rc;
}

/* -------------------------------------------------------------------- encoding */

/* Truncation and layout: model/text/encoding.c (HF "longest_first"). */
int tokenizer_encode(const struct tokenizer *t, const char *text_a, const char *text_b, int max_len,
                     struct encoding *out, struct err *e)
{
    if (t && t->bpe)
        return bpe_encode(t->bpe, text_a, text_b, max_len, out, e);
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!t || !text_a)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_encode: tokenizer and text_a must not be NULL");
    int min_len = text_b ? 4 : 3;
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

    const struct encoding_layout lay = {t->cls, t->sep, 1, true};
    rc = encoding_build(&lay, a, (size_t)na, b, (size_t)nb, text_b != NULL, max_len,
                        out, e);
out:
    free(b);
    free(a);
    return rc;
}

void encoding_free(struct encoding *enc)
{
    if (!enc)
        return;
    free(enc->ids);
    free(enc->type_ids);
    memset(enc, 0, sizeof *enc);
}

/* ---------------------------------------------------------------------- access */

int tokenizer_vocab_size(const struct tokenizer *t)
{
    return t ? t->V : 0;
}

const char *tokenizer_id_to_token(const struct tokenizer *t, int id)
{
    if (t && t->bpe)
        return bpe_id_to_token(t->bpe, id);
    if (!t || id < 0 || id >= t->V)
        return NULL;
    return t->text + t->off[id];
}

int tokenizer_token_to_id(const struct tokenizer *t, const char *tok)
{
    if (!t || !tok)
        return -1;
    if (t->bpe)
        return bpe_token_to_id(t->bpe, tok);
    return wp_find(t, false, tok, strlen(tok));
}

int tokenizer_pad_id(const struct tokenizer *t)
{
    return t ? t->pad : -1;
}

int tokenizer_unk_id(const struct tokenizer *t)
{
    return t ? t->unk : -1;
}

int tokenizer_cls_id(const struct tokenizer *t)
{
    return t ? t->cls : -1;
}

int tokenizer_sep_id(const struct tokenizer *t)
{
    return t ? t->sep : -1;
}

int tokenizer_mask_id(const struct tokenizer *t)
{
    return t ? t->mask : -1;
}
