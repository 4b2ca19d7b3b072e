/*
 * Tests for the BERT WordPiece tokenizer (model/text/wordpiece.c) and strict UTF-8
 * (base/utf8.c).  Expected outputs follow Hugging Face's BertTokenizer; the "hf_"
 * cases are the ones of transformers' tests/test_tokenization_bert.py.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/text/tokenizer.h"
#include "base/utf8.h"
#include "tests/model/hf_truncation.h"
#include "tests/suites.h"

/* Ids 0..12 are fixed: the encode tests spell them out. */
static const char *const VOCAB[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "hello", "world", "!", "##a",
    /* the rest are found by name */
    "un", "##aff", "##able", "want", "##want", "##ed", "wa", "runn", "##ing", ",", "how", "are",
    "you", "?", "don", "'", "t", "hällo", "hallo", "HeLLo", "Are", "yoU", "HäLLo", "HaLLo", "ah",
    "博", "推", "zz", "héllo", "Héllo", "Hello", "中", "国", "«", "»", "$", "5", "viet", "ио",
    "αθηναι", "ᄒ", "##ᅡ", "##ᆫ", "i", "i\xCC\x87", "か", "é", "##é", "[", "]", "=", "e"};
#define NVOCAB ((int)(sizeof VOCAB / sizeof VOCAB[0]))
enum { PAD = 0, UNK, CLS, SEP, MASK, A, B, C, D, HELLO, WORLD, BANG };

static struct tokenizer *mk(const struct tokenizer_opts *o)
{
    struct tokenizer *t = NULL;
    struct err e = {0};
    int rc = tokenizer_from_tokens(&t, VOCAB, NVOCAB, o, &e);
    ck_assert_msg(rc == 0, "tokenizer_from_tokens: %s", e.msg);
    return t;
}

static struct tokenizer *mk_opts(bool lowercase, bool strip)
{
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    o.lowercase = lowercase;
    o.strip_accents = strip;
    return mk(&o);
}

/* Tokenize and join the token strings with spaces into buf. */
static void pieces(const struct tokenizer *t, const char *text, char *buf, size_t size)
{
    int *ids = NULL, n = -1;
    struct err e = {0};
    int rc = tokenizer_tokenize(t, text, &ids, &n, &e);
    ck_assert_msg(rc == 0, "tokenize: %s", e.msg);
    ck_assert_ptr_nonnull(ids);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *s = tokenizer_id_to_token(t, ids[i]);
        ck_assert_ptr_nonnull(s);
        int w = snprintf(buf + used, size - used, "%s%s", i ? " " : "", s);
        ck_assert(w >= 0 && (size_t)w < size - used);
        used += (size_t)w;
    }
    free(ids);
}

#define ck_pieces(t, text, expect)                                                                 \
    do {                                                                                           \
        char buf_[4096];                                                                           \
        pieces((t), (text), buf_, sizeof buf_);                                                    \
        ck_assert_str_eq(buf_, (expect));                                                          \
    } while (0)

/* ------------------------------------------------------------------ basic */

START_TEST(hf_lower_strips_and_splits)
{
    struct tokenizer *t = mk(NULL); /* defaults: lowercase + strip accents */
    ck_pieces(t, " \tHeLLo!how  \n Are yoU?  ", "hello ! how are you ?");
    ck_pieces(t, "H\xC3\xA9llo", "hello");
    ck_pieces(t, " \tHäLLo!how  \n Are yoU?  ", "hallo ! how are you ?");
    tokenizer_free(t);
}
END_TEST

START_TEST(hf_case_and_accent_options)
{
    struct tokenizer *t = mk_opts(true, false);
    ck_pieces(t, " \tHäLLo!how  \n Are yoU?  ", "hällo ! how are you ?");
    tokenizer_free(t);
    t = mk_opts(false, false);
    ck_pieces(t, " \tHeLLo!how  \n Are yoU?  ", "HeLLo ! how Are yoU ?");
    ck_pieces(t, " \tHäLLo!how  \n Are yoU?  ", "HäLLo ! how Are yoU ?");
    tokenizer_free(t);
    t = mk_opts(false, true);
    ck_pieces(t, " \tHäLLo!how  \n Are yoU?  ", "HaLLo ! how Are yoU ?");
    tokenizer_free(t);
}
END_TEST

START_TEST(accents)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "Héllo", "hello");
    ck_pieces(t, "He\xCC\x81llo", "hello"); /* decomposed: e + U+0301 */
    ck_pieces(t, "Việt", "viet");           /* two marks on one letter */
    ck_pieces(t, "Йо", "ио");               /* Cyrillic short i loses its breve */
    ck_pieces(t, "Ἀθῆναι", "αθηναι");       /* Greek Extended */
    ck_pieces(t, "한", "ᄒ ##ᅡ ##ᆫ");     /* Hangul syllable -> jamo */
    ck_pieces(t, "が", "か");               /* kana dakuten is a mark */
    ck_pieces(t, "İ", "i");                 /* lower() gives i + U+0307, then stripped */
    ck_pieces(t, "≠", "=");                 /* U+2260 = '=' + U+0338 */
    tokenizer_free(t);

    t = mk_opts(true, false);
    ck_pieces(t, "Héllo", "héllo");
    ck_pieces(t, "İ", "i\xCC\x87");
    tokenizer_free(t);
    t = mk_opts(false, false);
    ck_pieces(t, "Héllo", "Héllo");
    tokenizer_free(t);
    t = mk_opts(false, true);
    ck_pieces(t, "Héllo", "Hello");
    tokenizer_free(t);
}
END_TEST

START_TEST(punctuation)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "don't!", "don ' t !");
    ck_pieces(t, "hello,world", "hello , world");
    ck_pieces(t, "«hello»", "« hello »"); /* Unicode Pi/Pf */
    ck_pieces(t, "$5", "$ 5");            /* '$' is Sc, but in BERT's ASCII ranges */
    ck_pieces(t, "!!", "! !");
    tokenizer_free(t);
}
END_TEST

START_TEST(cjk)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "ah\u535A\u63A8zz", "ah 博 推 zz");
    ck_pieces(t, "中国hello", "中 国 hello");
    tokenizer_free(t);

    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    o.tokenize_chinese = false;
    t = mk(&o);
    ck_pieces(t, "中国", "[UNK]"); /* one word; "##国" is not in the vocabulary */
    tokenizer_free(t);
}
END_TEST

START_TEST(control_and_whitespace)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "hel\x01lo", "hello");                     /* Cc removed, not a boundary */
    ck_pieces(t, "\xE2\x80\x8Bhello\xEF\xBB\xBF", "hello"); /* U+200B, U+FEFF (Cf) */
    ck_pieces(t, "hel\xEF\xBF\xBDlo", "hello");             /* U+FFFD */
    ck_pieces(t, "hel\xF3\xB0\x80\x80lo", "hello");         /* U+F0000 (Co), above the BMP */
    ck_pieces(t, "hello\tworld\r\nyou", "hello world you");
    ck_pieces(t, "hello\xC2\xA0world", "hello world");     /* U+00A0 (Zs) */
    ck_pieces(t, "hello\xE3\x80\x80world", "hello world"); /* U+3000 (Zs) */
    ck_pieces(t, "hello\xE2\x80\xA8world", "hello world"); /* U+2028: str.split() splits */
    ck_pieces(t, "  \t\n ", "");
    ck_pieces(t, "", "");
    tokenizer_free(t);
}
END_TEST

START_TEST(special_tokens_in_text)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "hello [SEP] world", "hello [SEP] world");
    ck_pieces(t, "hello[SEP]world[CLS]", "hello [SEP] world [CLS]");
    ck_pieces(t, "[[MASK]]", "[ [MASK] ]");
    ck_pieces(t, "[SEP", "[ [UNK]"); /* incomplete: ordinary text */
    ck_pieces(t, "[sep]", "[ [UNK] ]");
    tokenizer_free(t);

    static const char *const nomask[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[", "]"};
    struct err e = {0};
    ck_assert_int_eq(tokenizer_from_tokens(&t, nomask, 6, NULL, &e), 0);
    ck_assert_int_eq(tokenizer_mask_id(t), -1);
    ck_pieces(t, "[MASK]", "[ [UNK] ]");
    tokenizer_free(t);
}
END_TEST

/* -------------------------------------------------------------- wordpiece */

START_TEST(continuations)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "unaffable", "un ##aff ##able");
    ck_pieces(t, "unwanted running", "un ##want ##ed runn ##ing");
    ck_pieces(t, "unwantedX running", "[UNK] runn ##ing");
    tokenizer_free(t);
}
END_TEST

START_TEST(unknown_words)
{
    struct tokenizer *t = mk(NULL);
    ck_pieces(t, "xyz", "[UNK]");
    ck_pieces(t, "unx", "[UNK]"); /* a missing piece makes the whole word [UNK] */
    ck_pieces(t, "hello xyz world", "hello [UNK] world");
    tokenizer_free(t);
}
END_TEST

static void repeat(char *buf, const char *unit, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(buf, unit);
}

START_TEST(word_length_limit)
{
    struct tokenizer *t = mk(NULL);
    char text[512], expect[1024];
    repeat(text, "a", 100);
    strcpy(expect, "a");
    for (int i = 1; i < 100; i++)
        strcat(expect, " ##a");
    ck_pieces(t, text, expect);
    repeat(text, "a", 101);
    ck_pieces(t, text, "[UNK]");
    strcat(text, " hello");
    ck_pieces(t, text, "[UNK] hello");
    tokenizer_free(t);

    /* The limit counts code points, not bytes. */
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    o.lowercase = o.strip_accents = false;
    o.max_word_chars = 60;
    t = mk(&o);
    repeat(text, "é", 60);
    pieces(t, text, expect, sizeof expect);
    ck_assert(strncmp(expect, "é ##é", strlen("é ##é")) == 0);
    repeat(text, "é", 61);
    ck_pieces(t, text, "[UNK]");
    tokenizer_free(t);
}
END_TEST

/* --------------------------------------------------------------- encoding */

static void ck_ids(const struct encoding *enc, const int *ids, const int *types, int n)
{
    ck_assert_int_eq(enc->len, n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(enc->ids[i] == ids[i], "ids[%d] = %d, expected %d", i, enc->ids[i], ids[i]);
        ck_assert_msg(enc->type_ids[i] == types[i], "type_ids[%d] = %d, expected %d", i,
                      enc->type_ids[i], types[i]);
    }
}

START_TEST(encode_single_and_pair)
{
    struct tokenizer *t = mk(NULL);
    struct encoding enc;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_encode(t, "Hello world", NULL, 16, &enc, &e), 0);
    ck_ids(&enc, (const int[]){CLS, HELLO, WORLD, SEP}, (const int[]){0, 0, 0, 0}, 4);
    ck_assert(!enc.truncated);
    encoding_free(&enc);

    ck_assert_int_eq(tokenizer_encode(t, "hello", "world!", 16, &enc, &e), 0);
    ck_ids(&enc, (const int[]){CLS, HELLO, SEP, WORLD, BANG, SEP}, (const int[]){0, 0, 0, 1, 1, 1},
           6);
    ck_assert(!enc.truncated);
    encoding_free(&enc);

    ck_assert_int_eq(tokenizer_encode(t, "", "", 4, &enc, &e), 0); /* empty b is still a pair */
    ck_ids(&enc, (const int[]){CLS, SEP, SEP}, (const int[]){0, 0, 1}, 3);
    encoding_free(&enc);
    encoding_free(&enc); /* zeroed: a second free is harmless */
    tokenizer_free(t);
}
END_TEST

/* enc is [CLS] a[0..la) [SEP] b[0..lb) [SEP], types 0 up to the first [SEP], then 1. */
static void ck_pair(const struct encoding *enc, const int *a, int la, const int *b, int lb)
{
    int ids[64], types[64], n = 0;
    ck_assert_int_le(la + lb + 3, 64);
    ids[n] = CLS;
    types[n++] = 0;
    for (int i = 0; i < la; i++) {
        ids[n] = a[i];
        types[n++] = 0;
    }
    ids[n] = SEP;
    types[n++] = 0;
    for (int i = 0; i < lb; i++) {
        ids[n] = b[i];
        types[n++] = 1;
    }
    ids[n] = SEP;
    types[n++] = 1;
    ck_ids(enc, ids, types, n);
}

/* The tokens of enc, joined with spaces, are expect. */
static void ck_pieces_of(const struct tokenizer *t, const struct encoding *enc, const char *expect)
{
    char buf[1024];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < enc->len; i++) {
        const char *tok = tokenizer_id_to_token(t, enc->ids[i]);
        ck_assert_ptr_nonnull(tok);
        int w = snprintf(buf + used, sizeof buf - used, "%s%s", i ? " " : "", tok);
        ck_assert(w >= 0 && (size_t)w < sizeof buf - used);
        used += (size_t)w;
    }
    ck_assert_str_eq(buf, expect);
}

/* Encode the pair (ta, tb) at max_len and check it is [CLS] a[0..la) [SEP] b[0..lb) [SEP]. */
static void ck_encode_pair(const struct tokenizer *t, const char *ta, const char *tb, int max_len,
                           const int *a, int la, const int *b, int lb)
{
    struct encoding enc;
    struct err e = {0};
    ck_assert_msg(tokenizer_encode(t, ta, tb, max_len, &enc, &e) == 0, "%s", e.msg);
    ck_pair(&enc, a, la, b, lb);
    ck_assert(enc.truncated);
    encoding_free(&enc);
}

/* The fast tokenizers' rule on distinct tokens (3 specials, so budget = max_len - 3). */
START_TEST(encode_truncates_longest_first)
{
    struct tokenizer *t = mk(NULL);
    const int abcda[] = {A, B, C, D, A}, hwb[] = {HELLO, WORLD, BANG};
    /* odd budget 5, a (5) longer than b (3): halves 2 and 3, the spare to a, the longer */
    ck_encode_pair(t, "a b c d a", "hello world !", 8, abcda, 3, hwb, 2);
    /* odd budget 5, b longer: the spare to b (the slow tokenizers' pop loop gives it to a) */
    ck_encode_pair(t, "hello world !", "a b c d a", 8, hwb, 2, abcda, 3);
    /* odd budget 5, a tie 3 and 3: the spare to b */
    ck_encode_pair(t, "a b c", "hello world !", 8, abcda, 2, hwb, 3);
    /* even budget 6: 4 + 5 -> 3 + 3, and a tie 4 + 4 -> 3 + 3 */
    const int b5[] = {HELLO, WORLD, BANG, A, B};
    ck_encode_pair(t, "a b c d", "hello world ! a b", 9, abcda, 3, b5, 3);
    ck_encode_pair(t, "a b c d", "hello world ! a", 9, abcda, 3, b5, 3);
    /* one text within half the budget is kept whole and the other takes the rest */
    const int ab[] = {A, B}, cdabcd[] = {C, D, A, B, C, D};
    ck_encode_pair(t, "a b", "c d a b c d", 7, ab, 2, cdabcd, 2); /* budget 4 */
    ck_encode_pair(t, "a b", "c d a b c d", 8, ab, 2, cdabcd, 3); /* budget 5 */
    ck_encode_pair(t, "c d a b c d", "hello", 7, cdabcd, 3, hwb, 1);
    ck_encode_pair(t, "c d a b c d", "", 7, cdabcd, 4, NULL, 0); /* an empty b keeps nothing */
    tokenizer_free(t);
}
END_TEST

/* Issue 16's example, "Tornadoes level homes in Oklahoma, 1 dead" + "Tornadoes hit Kan.,
 * Okla.; no injuries reported", on a vocabulary that splits it into 10 + 13 tokens with "1"
 * and "no" where an odd budget of 19 decides between them: HF keeps `1` and `no`; giving the
 * spare token to a, as peftbench did, kept `1 dead` and dropped `no`. */
START_TEST(encode_truncation_tornadoes)
{
    static const char *const V[] = {"[PAD]", "[UNK]",    "[CLS]",   "[SEP]", "tornado", "##es",
                                    "level", "homes",    "in",      "okla",  "##homa",  ",",
                                    "1",     "dead",     "hit",     "kan",   ".",       ";",
                                    "no",    "injuries", "reported"};
    struct tokenizer *t = NULL;
    struct err e = {0};
    ck_assert_msg(tokenizer_from_tokens(&t, V, (int)(sizeof V / sizeof *V), NULL, &e) == 0, "%s",
                  e.msg);
    struct encoding enc;
    ck_assert_int_eq(tokenizer_encode(t, "Tornadoes level homes in Oklahoma, 1 dead",
                                      "Tornadoes hit Kan., Okla.; no injuries reported", 22, &enc,
                                      &e),
                     0);
    ck_pieces_of(t, &enc,
                 "[CLS] tornado ##es level homes in okla ##homa , 1 [SEP] "
                 "tornado ##es hit kan . , okla . ; no [SEP]");
    for (int i = 0; i < enc.len; i++)
        ck_assert_int_eq(enc.type_ids[i], i > 10);
    ck_assert(enc.truncated);
    encoding_free(&enc);
    tokenizer_free(t);
}
END_TEST

/* Every (|a|, |b|, max_len) against the transcription of HF's rule above. */
START_TEST(encode_truncation_matches_hf_rule)
{
    struct tokenizer *t = mk(NULL);
    char ta[64], tb[64];
    for (int na = 0; na <= 7; na++) {
        for (int nb = 0; nb <= 7; nb++) {
            repeat(ta, "a ", na);
            repeat(tb, "b ", nb);
            for (int max_len = 4; max_len <= 18; max_len++) {
                int la, lb;
                hf_longest_first(na, nb, max_len - 3, &la, &lb);
                struct encoding enc;
                struct err e = {0};
                ck_assert_int_eq(tokenizer_encode(t, ta, tb, max_len, &enc, &e), 0);
                ck_assert_int_eq(enc.len, la + lb + 3);
                ck_assert_int_eq(enc.truncated, la != na || lb != nb);
                ck_assert_int_eq(enc.ids[0], CLS);
                ck_assert_int_eq(enc.ids[la + 1], SEP);
                ck_assert_int_eq(enc.ids[enc.len - 1], SEP);
                for (int i = 1; i <= la; i++)
                    ck_assert_int_eq(enc.ids[i], A);
                for (int i = la + 2; i < enc.len - 1; i++) {
                    ck_assert_int_eq(enc.ids[i], B);
                    ck_assert_int_eq(enc.type_ids[i], 1);
                }
                encoding_free(&enc);
            }
        }
    }
    tokenizer_free(t);
}
END_TEST

START_TEST(encode_max_len_boundary)
{
    struct tokenizer *t = mk(NULL);
    struct encoding enc;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_encode(t, "a b c d", NULL, 6, &enc, &e), 0);
    ck_ids(&enc, (const int[]){CLS, A, B, C, D, SEP}, (const int[]){0, 0, 0, 0, 0, 0}, 6);
    ck_assert(!enc.truncated);
    encoding_free(&enc);
    ck_assert_int_eq(tokenizer_encode(t, "a b c d", NULL, 5, &enc, &e), 0);
    ck_ids(&enc, (const int[]){CLS, A, B, C, SEP}, (const int[]){0, 0, 0, 0, 0}, 5);
    ck_assert(enc.truncated);
    encoding_free(&enc);
    ck_assert_int_eq(tokenizer_encode(t, "a b c d", NULL, 3, &enc, &e), 0);
    ck_ids(&enc, (const int[]){CLS, A, SEP}, (const int[]){0, 0, 0}, 3);
    encoding_free(&enc);

    ck_assert_int_eq(tokenizer_encode(t, "a", NULL, 2, &enc, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "max_len must be >= 3"));
    ck_assert_ptr_null(enc.ids);
    ck_assert_int_eq(tokenizer_encode(t, "a", "b", 3, &enc, &e), ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "max_len must be >= 4"));
    tokenizer_free(t);
}
END_TEST

START_TEST(encode_reports_which_text)
{
    struct tokenizer *t = mk(NULL);
    struct encoding enc;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_encode(t, "ok", "bad \xC3", 16, &enc, &e), ERR_FORMAT);
    ck_assert_msg(strncmp(e.msg, "text_b: ", 8) == 0, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "byte offset 4"));
    ck_assert_ptr_null(enc.ids);
    ck_assert_int_eq(enc.len, 0);
    tokenizer_free(t);
}
END_TEST

/* ------------------------------------------------------------------ UTF-8 */

static const struct {
    const char *text;
    size_t offset;
    const char *why;
} BAD_UTF8[] = {
    {"ab\x80"
     "cd",
     2, "unexpected continuation byte"},
    {"x\xC0\xAF", 1, "overlong"},              /* '/' in two bytes */
    {"\xE0\x80\xAF", 0, "overlong"},           /* '/' in three bytes */
    {"\xF0\x80\x80\xAF", 0, "overlong"},       /* '/' in four bytes */
    {"hi \xED\xA0\x80", 3, "surrogate"},       /* U+D800 */
    {"\xF4\x90\x80\x80", 0, "above U+10FFFF"}, /* U+110000 */
    {"abc\xE4\xB8", 3, "truncated"},           /* end of input inside a sequence */
    {"\xE4\xB8x", 0, "truncated"},             /* ASCII inside a sequence */
    {"ok \xFF", 3, "invalid lead byte"},
};

START_TEST(invalid_utf8_is_rejected)
{
    struct tokenizer *t = mk(NULL);
    int dummy;
    int *ids = &dummy; /* must be reset to NULL */
    int n = -1;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_tokenize(t, BAD_UTF8[_i].text, &ids, &n, &e), ERR_FORMAT);
    ck_assert_ptr_null(ids);
    ck_assert_int_eq(n, 0);
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu ", BAD_UTF8[_i].offset);
    ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' lacks '%s'", e.msg, want);
    ck_assert_msg(strstr(e.msg, BAD_UTF8[_i].why) != NULL, "'%s' lacks '%s'", e.msg,
                  BAD_UTF8[_i].why);

    size_t off = 99;
    const char *why = NULL;
    const char *s = BAD_UTF8[_i].text;
    ck_assert_int_eq(utf8_check(s, strlen(s), &off, &why), ERR_FORMAT);
    ck_assert_uint_eq(off, BAD_UTF8[_i].offset);
    tokenizer_free(t);
}
END_TEST

START_TEST(utf8_round_trip)
{
    static const uint32_t cps[] = {0,      0x7F,   0x80,   0x7FF,   0x800,   0xD7FF,
                                   0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
    static const int lens[] = {1, 1, 2, 2, 3, 3, 3, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char buf[UTF8_MAX_BYTES];
        int n = utf8_encode(cps[i], buf);
        ck_assert_int_eq(n, lens[i]);
        ck_assert_int_eq(utf8_check(buf, (size_t)n, NULL, NULL), 0);
        size_t pos = 0;
        uint32_t cp = 0;
        struct err e = {0};
        ck_assert_int_eq(utf8_decode(buf, (size_t)n, &pos, &cp, &e), 0);
        ck_assert_uint_eq(cp, cps[i]);
        ck_assert_uint_eq(pos, (size_t)n);
        pos = 0;
        ck_assert_uint_eq(utf8_next(buf, &pos), cps[i]);
    }
    char buf[UTF8_MAX_BYTES];
    ck_assert_int_eq(utf8_encode(0xD800, buf), 0);
    ck_assert_int_eq(utf8_encode(0xDFFF, buf), 0);
    ck_assert_int_eq(utf8_encode(0x110000, buf), 0);

    struct err e = {0};
    size_t pos = 2;
    uint32_t cp = 7;
    ck_assert_int_eq(utf8_decode("ab\xC3", 3, &pos, &cp, &e), ERR_FORMAT);
    ck_assert_uint_eq(pos, 2);
    ck_assert_uint_eq(cp, 7);
    ck_assert_ptr_nonnull(strstr(e.msg, "byte offset 2"));
    ck_assert_int_eq(utf8_validate("\xED\xBF\xBF", 3, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "surrogate"));
}
END_TEST

/* ---------------------------------------------------------------- vocabulary */

static char tmpdir[64];

static void tmp_setup(void)
{
    strcpy(tmpdir, "/tmp/peftbench-tok-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *ent;
        char path[512];
        while ((ent = readdir(d)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, ent->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

/* Write bytes to tmpdir/name; returns the path in a static buffer. */
static const char *write_file(const char *name, const char *bytes, size_t n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_str(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static int load(const char *path, struct tokenizer **t, struct err *e)
{
    err_clear(e);
    return tokenizer_load_wordpiece(t, path, NULL, e);
}

START_TEST(vocab_crlf_and_cr)
{
    struct tokenizer *t;
    struct err e;
    const char *p = write_str("crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n");
    ck_assert_msg(load(p, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_vocab_size(t), 5);
    ck_assert_int_eq(tokenizer_token_to_id(t, "hello"), 4);
    ck_assert_str_eq(tokenizer_id_to_token(t, 4), "hello");
    ck_assert_int_eq(tokenizer_sep_id(t), 3);
    ck_pieces(t, "Hello", "hello");
    tokenizer_free(t);

    /* Python's universal newlines also end a line at a lone "\r". */
    p = write_str("cr.txt", "[PAD]\r[UNK]\r[CLS]\r[SEP]\rhello");
    ck_assert_msg(load(p, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_vocab_size(t), 5);
    ck_assert_int_eq(tokenizer_token_to_id(t, "hello"), 4);
    tokenizer_free(t);
}
END_TEST

START_TEST(vocab_lines_are_tokens)
{
    struct tokenizer *t;
    struct err e;
    /* A blank line is the token "" with its own id; spaces are kept; no final newline. */
    const char *p = write_str("v.txt", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n  x \nhello");
    ck_assert_msg(load(p, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_vocab_size(t), 7);
    ck_assert_int_eq(tokenizer_token_to_id(t, ""), 2);
    ck_assert_int_eq(tokenizer_cls_id(t), 3);
    ck_assert_int_eq(tokenizer_token_to_id(t, "  x "), 5);
    ck_assert_int_eq(tokenizer_token_to_id(t, "x"), -1);
    ck_assert_int_eq(tokenizer_token_to_id(t, "hello"), 6);
    ck_assert_int_eq(tokenizer_pad_id(t), 0);
    ck_assert_int_eq(tokenizer_unk_id(t), 1);
    ck_assert_int_eq(tokenizer_mask_id(t), -1);
    ck_assert_ptr_null(tokenizer_id_to_token(t, 7));
    ck_assert_ptr_null(tokenizer_id_to_token(t, -1));
    tokenizer_free(t);
}
END_TEST

START_TEST(vocab_missing_file)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy; /* must be reset to NULL */
    struct err e;
    char path[300];
    snprintf(path, sizeof path, "%s/no-such-vocab.txt", tmpdir);
    ck_assert_int_eq(load(path, &t, &e), ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);
}
END_TEST

/* A FIFO (nobody writing) or a device as vocab.txt: an error at once naming it, where the
 * read used to wait for a writer forever, and tokenizer_load_dir names the FIFO instead of
 * reporting "no tokenizer files".  alarm: a regression fails instead of hanging. */
START_TEST(vocab_fifo_is_refused)
{
    char path[300];
    snprintf(path, sizeof path, "%s/vocab.txt", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    alarm(20);
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy; /* must be reset to NULL */
    struct err e;
    ck_assert_int_eq(load(path, &t, &e), ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, "vocab.txt: not a regular file (a FIFO)"), "%s", e.msg);
    ck_assert_int_eq(tokenizer_load_dir(&t, tmpdir, &e), ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, "vocab.txt: not a regular file (a FIFO)"), "%s", e.msg);
    ck_assert_int_eq(load("/dev/null", &t, &e), ERR_IO);
    ck_assert_msg(strstr(e.msg, "/dev/null: not a regular file (a character device)"), "%s", e.msg);
    alarm(0);
}
END_TEST

START_TEST(vocab_duplicate_names_both_lines)
{
    struct tokenizer *t;
    struct err e;
    const char *p = write_str("dup.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\nx\nhello\n");
    ck_assert_int_eq(load(p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_null(t);
    char l8[300], l5[300];
    snprintf(l8, sizeof l8, "dup.txt:8: duplicate token 'hello'");
    snprintf(l5, sizeof l5, "dup.txt:5");
    ck_assert_msg(strstr(e.msg, l8) && strstr(e.msg, l5), "%s", e.msg);

    static const char *const toks[] = {"[PAD]", "[UNK]", "a", "[CLS]", "[SEP]", "b", "a"};
    ck_assert_int_eq(tokenizer_from_tokens(&t, toks, 7, NULL, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "tokens[6]") && strstr(e.msg, "tokens[2]"), "%s", e.msg);
}
END_TEST

START_TEST(vocab_missing_required_token)
{
    static const char *const required[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    char text[128] = "";
    for (int k = 0; k < 4; k++) {
        if (k != _i) {
            strcat(text, required[k]);
            strcat(text, "\n");
        }
    }
    strcat(text, "[MASK]\nhello\n");
    struct tokenizer *t;
    struct err e;
    ck_assert_int_eq(load(write_str("v.txt", text), &t, &e), ERR_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, required[_i]) && strstr(e.msg, "missing"), "%s", e.msg);
}
END_TEST

START_TEST(vocab_bad_contents)
{
    struct tokenizer *t;
    struct err e;
    ck_assert_int_eq(load(write_str("empty.txt", ""), &t, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "empty") != NULL, "%s", e.msg);

    ck_assert_int_eq(load(write_str("u.txt", "[PAD]\n[UNK]\nbad\xC3(\n[CLS]\n[SEP]\n"), &t, &e),
                     ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "u.txt:3: invalid UTF-8 at byte offset 3") != NULL, "%s", e.msg);

    static const char nul[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\0b\n";
    ck_assert_int_eq(load(write_file("nul.txt", nul, sizeof nul - 1), &t, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "nul.txt:5: NUL byte") != NULL, "%s", e.msg);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(vocab_limits)
{
    struct tokenizer *t;
    struct err e;
    size_t n = TOK_MAX_TOKEN_BYTES + 1;
    char *text = malloc(64 + n);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    memset(text + strlen(text), 'x', n);
    strcpy(text + 24 + n, "\n");
    ck_assert_int_eq(load(write_str("long.txt", text), &t, &e), ERR_LIMIT);
    ck_assert_msg(strstr(e.msg, "long.txt:5:") && strstr(e.msg, "1025 bytes"), "%s", e.msg);
    free(text);

    /* TOK_MAX_VOCAB + 1 one-byte lines. */
    size_t lines = (size_t)TOK_MAX_VOCAB + 1;
    text = malloc(2 * lines);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < lines; i++) {
        text[2 * i] = 'x';
        text[2 * i + 1] = '\n';
    }
    ck_assert_int_eq(load(write_file("big.txt", text, 2 * lines), &t, &e), ERR_LIMIT);
    ck_assert_msg(strstr(e.msg, "TOK_MAX_VOCAB") != NULL, "%s", e.msg);
    ck_assert_ptr_null(t);
    free(text);
}
END_TEST

START_TEST(api_misuse_and_lifecycle)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy; /* must be reset to NULL */
    struct err e = {0};
    static const char *const withnull[] = {"[PAD]", NULL};
    ck_assert_int_eq(tokenizer_from_tokens(&t, withnull, 2, NULL, &e), ERR_CONFIG);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(e.msg, "tokens[1]"));

    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    ck_assert(o.lowercase && o.strip_accents && o.tokenize_chinese);
    ck_assert_int_eq(o.max_word_chars, 100);
    o.max_word_chars = 0;
    ck_assert_int_eq(tokenizer_from_tokens(&t, VOCAB, NVOCAB, &o, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "max_word_chars"));

    tokenizer_free(NULL);
    encoding_free(NULL);
    ck_assert_int_eq(tokenizer_vocab_size(NULL), 0);
    t = mk(NULL);
    ck_assert_int_eq(tokenizer_vocab_size(t), NVOCAB);
    ck_assert_int_eq(tokenizer_token_to_id(t, "##aff"), 14);
    ck_assert_int_eq(tokenizer_token_to_id(t, "aff"), -1);
    ck_assert_int_eq(tokenizer_mask_id(t), MASK);
    int *ids;
    int n;
    ck_assert_int_eq(tokenizer_tokenize(t, NULL, &ids, &n, &e), ERR_CONFIG);
    tokenizer_free(t);
}
END_TEST

Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");

    TCase *tc = tcase_create("basic");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hf_lower_strips_and_splits);
    tcase_add_test(tc, hf_case_and_accent_options);
    tcase_add_test(tc, accents);
    tcase_add_test(tc, punctuation);
    tcase_add_test(tc, cjk);
    tcase_add_test(tc, control_and_whitespace);
    tcase_add_test(tc, special_tokens_in_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("wordpiece");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, continuations);
    tcase_add_test(tc, unknown_words);
    tcase_add_test(tc, word_length_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, encode_single_and_pair);
    tcase_add_test(tc, encode_truncates_longest_first);
    tcase_add_test(tc, encode_truncation_tornadoes);
    tcase_add_test(tc, encode_truncation_matches_hf_rule);
    tcase_add_test(tc, encode_max_len_boundary);
    tcase_add_test(tc, encode_reports_which_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, invalid_utf8_is_rejected, 0,
                        (int)(sizeof BAD_UTF8 / sizeof BAD_UTF8[0]));
    tcase_add_test(tc, utf8_round_trip);
    tcase_add_test(tc, api_misuse_and_lifecycle);
    suite_add_tcase(s, tc);

    tc = tcase_create("vocab");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, vocab_crlf_and_cr);
    tcase_add_test(tc, vocab_lines_are_tokens);
    tcase_add_test(tc, vocab_missing_file);
    tcase_add_test(tc, vocab_fifo_is_refused);
    tcase_add_test(tc, vocab_duplicate_names_both_lines);
    tcase_add_loop_test(tc, vocab_missing_required_token, 0, 4);
    tcase_add_test(tc, vocab_bad_contents);
    tcase_add_test(tc, vocab_limits);
    suite_add_tcase(s, tc);
    return s;
}
