/*
 * bert_unicode: the Unicode data of BERT's BasicTokenizer that PCRE2 cannot produce: simple
 * lowercase mappings, accent stripping (NFD, then drop category Mn) and the CJK ideograph
 * ranges.  Pure functions of a code point; used by model/text/bert_basic.c.
 *
 * The tables below are generated from Python 3.11's unicodedata (Unicode 14.0); the
 * general categories themselves come from PCRE2 (bert_basic.c).
 *
 * Known differences from HF.  On NFC input (what nearly every corpus, GLUE included,
 * contains) only the last two can show:
 *  - NFC: HF (>= 4.29) NFC-normalizes the text before splitting; we do not compose.
 *    With strip_accents this changes nothing (NFD(NFC(x)) == NFD(x)).  Without it,
 *    decomposed input ("e" + U+0301) stays decomposed and canonical singletons
 *    (U+212B ANGSTROM SIGN, U+2126 OHM SIGN, compatibility ideographs) are kept.
 *  - Accent stripping leaves the 1002 CJK compatibility ideographs (U+F900..U+FAFF,
 *    U+2F800..U+2FA1F) unchanged; NFD (and NFC) map each to a unified ideograph.
 *  - Accent stripping does no canonical reordering.  That only matters for adjacent
 *    non-Mn marks with nonzero combining classes: a few viramas of Brahmic scripts
 *    (e.g. Balinese U+1B44) and musical symbols (U+1D165..).
 */
#include "model/text/bert_unicode.h"

#include <stddef.h>
#include <uchar.h>

/* ------------------------------------------------------------------ Unicode tables */

/*
 * Simple lowercase mappings of every code point >= U+0080 (ASCII is done inline), as
 * runs: the code points first, first+stride, ..., last map to cp + delta.  U+0130 is the
 * one code point whose Python lower() is two characters ("i" + U+0307); bert_word
 * (bert_basic.c) handles it.  Regenerate with:
 *   items = [(c, ord(chr(c).lower()) - c) for c in range(0x80, 0x110000)
 *            if not 0xD800 <= c <= 0xDFFF and c != 0x130 and chr(c).lower() != chr(c)]
 * then merge neighbours with equal delta into stride-1 runs, else stride-2 runs.
 */
struct bert_case_run {
    uint32_t first, last; /* inclusive */
    int32_t delta;
    uint32_t stride; /* 1 or 2 */
};

static const struct bert_case_run bert_lower_runs[] = {
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
 * over all c except Mn, surrogates, Hangul syllables (bert_hangul, algorithmic) and CJK
 * compatibility ideographs (not covered, see the top of the file).
 *
 * Dense blocks: base[c - first] is the stripped character, '.' means "unchanged".  They
 * cover Latin-1, Latin Extended-A/B, Greek, Cyrillic, Latin Extended Additional
 * (Vietnamese), Greek Extended and kana (voiced kana lose their dakuten, as in HF).
 */
struct bert_strip_dense {
    uint32_t first;
    uint32_t n;           /* number of code points covered */
    const char16_t *base; /* (n) */
};
#define BERT_DENSE(first, s)                                                                       \
    {                                                                                              \
        (first), sizeof(s) / sizeof((s)[0]) - 1, (s)                                               \
    }

static const struct bert_strip_dense bert_strip_dense[] = {
    /* U+00C0..U+0233 */
    BERT_DENSE(0x00C0, u"AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
                       u"AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGgGgGgHh..IiIiIiIiI...JjKk.LlLlLl."
                       u"...NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz."
                       u"................................Oo.............Uu..............."
                       u".............AaIiOoUuUuUuUuUu.AaAaÆæ..GgKkOoOoƷʒj...Gg..NnAaÆæØø"
                       u"AaAaEeEeIiIiOoOoRrRrUuUuSsTt..Hh......AaEeOoOoOoOoYy"),
    /* U+0374..U+03D4 */
    BERT_DENSE(0x0374, u"ʹ.........;......¨Α·ΕΗΙ.Ο.ΥΩι.........................ΙΥαεηιυ..."
                       u"......................ιυουω....ϒϒ"),
    /* U+0400..U+04F9 */
    BERT_DENSE(0x0400, u"ЕЕ.Г...І....КИУ..........И...............................и......"
                       u"................ее.г...і....киу.......................Ѵѵ........"
                       u"................................................................"
                       u".Жж.............АаАа..Ее..ӘәЖжЗз..ИиИиОо..ӨөЭэУуУуУуЧч..Ыы"),
    /* U+1E00..U+1EF9 */
    BERT_DENSE(0x1E00, u"AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMm"
                       u"MmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVv"
                       u"WwWwWwWwWwXxXxYyZzZzZzhtwy.ſ....AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEe"
                       u"EeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy"),
    /* U+1F00..U+1FFD */
    BERT_DENSE(0x1F00, u"ααααααααΑΑΑΑΑΑΑΑεεεεεε..ΕΕΕΕΕΕ..ηηηηηηηηΗΗΗΗΗΗΗΗιιιιιιιιΙΙΙΙΙΙΙΙ"
                       u"οοοοοο..ΟΟΟΟΟΟ..υυυυυυυυ.Υ.Υ.Υ.ΥωωωωωωωωΩΩΩΩΩΩΩΩααεεηηιιοουυωω.."
                       u"ααααααααΑΑΑΑΑΑΑΑηηηηηηηηΗΗΗΗΗΗΗΗωωωωωωωωΩΩΩΩΩΩΩΩααααα.ααΑΑΑΑΑ.ι."
                       u".¨ηηη.ηηΕΕΗΗΗ᾿᾿᾿ιιιι..ιιΙΙΙΙ.῾῾῾υυυυρρυυΥΥΥΥΡ¨¨`..ωωω.ωωΟΟΩΩΩ´"),
    /* U+304C..U+30FE */
    BERT_DENSE(
        0x304C,
        u"か.き.く.け.こ.さ.し.す.せ.そ.た.ち..つ.て.と......はは.ひひ.ふふ.へへ.ほほ.............."
        u"........う.........ゝ.............カ.キ.ク.ケ.コ.サ.シ.ス.セ.ソ.タ.チ..ツ.テ.ト.."
        u"....ハハ.ヒヒ.フフ.ヘヘ.ホホ......................ウ..ワヰヱヲ...ヽ"),
};

/* Everything else with a decomposition (Arabic, Indic, Hebrew presentation forms,
 * negated math relations such as U+2260 -> '=', ...): up to 3 code points, 0-padded. */
struct bert_strip_sparse {
    uint32_t cp;
    uint32_t out[3];
};

/* Several entries per line: clang-format would give each of the 179 its own line. */
/* clang-format off */
static const struct bert_strip_sparse bert_strip_sparse[] = {
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

#define BERT_NELEM(a) (sizeof(a) / sizeof((a)[0]))

uint32_t bert_lower1(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = BERT_NELEM(bert_lower_runs);
    while (lo < hi) { /* first run whose last >= cp; runs are disjoint and sorted */
        size_t mid = lo + (hi - lo) / 2;
        if (bert_lower_runs[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == BERT_NELEM(bert_lower_runs))
        return cp;
    const struct bert_case_run *r = &bert_lower_runs[lo];
    if (cp < r->first || (cp - r->first) % r->stride != 0)
        return cp;
    return (uint32_t)((int32_t)cp + r->delta);
}

/* Hangul syllables decompose algorithmically (Unicode 3.12) into conjoining jamo, which
 * are letters (Lo), so uncased BERT sees Korean as jamo.  Returns the count (2 or 3). */
static int bert_hangul(uint32_t cp, uint32_t *out)
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
int bert_strip_table(uint32_t cp, uint32_t *out)
{
    if (cp >= 0xAC00 && cp <= 0xD7A3)
        return bert_hangul(cp, out);
    for (size_t i = 0; i < BERT_NELEM(bert_strip_dense); i++) {
        const struct bert_strip_dense *d = &bert_strip_dense[i];
        if (cp >= d->first && cp - d->first < d->n) {
            char16_t b = d->base[cp - d->first];
            if (b == u'.')
                return -1;
            out[0] = b;
            return 1;
        }
    }
    size_t lo = 0, hi = BERT_NELEM(bert_strip_sparse);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bert_strip_sparse[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == BERT_NELEM(bert_strip_sparse) || bert_strip_sparse[lo].cp != cp)
        return -1;
    int n = 0;
    while (n < 3 && bert_strip_sparse[lo].out[n]) {
        out[n] = bert_strip_sparse[lo].out[n];
        n++;
    }
    return n;
}

/* BERT's _is_chinese_char: the CJK Unified Ideographs blocks and extensions A-E plus
 * the compatibility ideographs.  Not kana, not Hangul. */
bool bert_is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
