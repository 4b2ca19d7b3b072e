/*
 * Tests for the byte-level BPE tokenizer (model/text/bpe.c) behind tokenizer.h, and for
 * tokenizer_load_dir.  Every expected output is derived by hand from the GPT-2 rules
 * (pattern, bytes_to_unicode, merge by rank) on the small fixture below; the comment by
 * each case gives the derivation.  "Cross" merges have the lowest ranks and would join
 * two pre-tokens if the pre-tokenizer did not split them, so a wrong split shows.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/text/tokenizer.h"
#include "tests/model/hf_truncation.h"
#include "tests/suites.h"

/* vocab.json: id = index.  Byte-level spellings: "Ġ" = ' ', "Ċ" = '\n', "Ã©" = é, ... */
/* clang-format off */
static const char *const VOCAB[] = {
    /*  0 */ "<s>", "<pad>", "</s>", "<unk>", "a", "b", "c", "ab", "bc", "aa",
    /* 10 */ "l", "o", "w", "e", "r", "lo", "low", "er", "lower", "Ġ",
    /* 20 */ "Ġlow", "Ã©", "ð", "Ł", "ĺ", "Ģ", "ä", "¸", "Ń", "ĉ",
    /* 30 */ "ġ", "Â", "ł", "ħ", "ĠÂ", "i", "t", "it", "'", "'s",
    /* 40 */ "s", "we", "'re", "I", "M", "'M", "Ġb", "ĠĠ", "Ċ", "ĊĊ",
    /* 50 */ "ĠĊ", "1", "2", "3", "12", "123", "!", "!!", "<mask>", "á",
    /* 60 */ "İ!"};
/* clang-format on */
#define NVOCAB ((int)(sizeof VOCAB / sizeof VOCAB[0]))
enum { S = 0, PAD, SEP_, UNK, A, B, C, AB, BC, LOWER = 18, GLOW = 20, MASK = 58 };

/* merges.txt, rank = order. */
static const char MERGES[] = "#version: 0.2\n"
                             "t '\n"    /* 0 cross: "it's" is "it" "'s" */
                             "e '\n"    /* 1 cross: "we're" is "we" "'re" */
                             "s a\n"    /* 2 cross: "'sa" is "'s" "a" */
                             "Ġ Ġ\n"    /* 3 */
                             "Ċ Ċ\n"    /* 4 */
                             "Ġ Â\n"    /* 5 cross: U+0085 is whitespace */
                             "a 1\n"    /* 6 cross: letters and digits split */
                             "b !\n"    /* 7 cross: letters and punctuation split */
                             "b c\n"    /* 8 */
                             "a b\n"    /* 9 */
                             "a a\n"    /* 10 */
                             "l o\n"    /* 11 */
                             "lo w\n"   /* 12 */
                             "e r\n"    /* 13 */
                             "low er\n" /* 14 */
                             "Ġ low\n"  /* 15 */
                             "Ã ©\n"    /* 16 */
                             "i t\n"    /* 17 */
                             "' s\n"    /* 18 */
                             "w e\n"    /* 19 */
                             "' r\n"    /* 20 */
                             "'r e\n"   /* 21 */
                             "' M\n"    /* 22 never applies: "'M" is not a contraction */
                             "Ġ b\n"    /* 23 */
                             "Ġ Ċ\n"    /* 24 */
                             "1 2\n"    /* 25 */
                             "12 3\n"   /* 26 */
                             "! !\n"    /* 27 */
                             "c c\n"    /* 28 "cc" is not in vocab.json -> <unk> */
                             "İ !\n";   /* 29 */

/* ------------------------------------------------------------------ fixture */

static char tmpdir[64];

static void tmp_setup(void)
{
    strcpy(tmpdir, "/tmp/peftbench-bpe-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Remove dir and everything in it (one level of subdirectories). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        char path[512];
        while ((ent = readdir(d)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            struct stat st;
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

/* Write bytes to tmpdir/name; returns the path in one of two static buffers. */
static const char *write_file(const char *name, const char *bytes, size_t n)
{
    static char paths[2][256];
    static int k;
    char *path = paths[k++ & 1];
    snprintf(path, sizeof paths[0], "%s/%s", tmpdir, name);
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

/* vocab.json of VOCAB (no token needs escaping). */
static const char *write_vocab(const char *name)
{
    char buf[4096];
    size_t used = 0;
    for (int i = 0; i < NVOCAB; i++) {
        int w =
            snprintf(buf + used, sizeof buf - used, "%s\"%s\": %d", i ? ",\n " : "{", VOCAB[i], i);
        ck_assert(w > 0 && (size_t)w < sizeof buf - used);
        used += (size_t)w;
    }
    ck_assert(used + 3 < sizeof buf);
    strcpy(buf + used, "}\n");
    return write_str(name, buf);
}

static struct tokenizer *mk(bool add_prefix_space)
{
    char vocab[256], merges[256];
    strcpy(vocab, write_vocab("vocab.json"));
    strcpy(merges, write_str("merges.txt", MERGES));
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    o.add_prefix_space = add_prefix_space;
    struct tokenizer *t = NULL;
    struct err e = {0};
    int rc = tokenizer_load_bpe(&t, vocab, merges, &o, &e);
    ck_assert_msg(rc == 0, "tokenizer_load_bpe: %s", e.msg);
    return t;
}

/* Load vocab/merges text written to the fixture directory. */
static int load_text(const char *vocab_text, const char *merges_text, struct tokenizer **t,
                     struct err *e)
{
    char vocab[256], merges[256];
    strcpy(vocab, write_str("vocab.json", vocab_text));
    strcpy(merges, write_str("merges.txt", merges_text));
    err_clear(e);
    return tokenizer_load_bpe(t, vocab, merges, NULL, e);
}

/* Tokenize and join the token strings with spaces into buf (byte-level tokens have none). */
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

#define ck_msg_has(e, s)                                                                           \
    ck_assert_msg(strstr((e).msg, (s)) != NULL, "'%s' not in: %s", (s), (e).msg)

/* ------------------------------------------------------------------ merges */

START_TEST(merges_by_rank)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "abc", "a bc");   /* (b,c) rank 8 before (a,b) rank 9 */
    ck_pieces(t, "cab", "c ab");   /* only (a,b) */
    ck_pieces(t, "abab", "ab ab"); /* every occurrence of the pair in one pass */
    ck_pieces(t, "aaa", "aa a");   /* (a,a): left to right, no overlap */
    ck_pieces(t, "aaaa", "aa aa");
    /* l o w e r: lo(11) low(12) er(13) lower(14); (w,e) 19 never is the lowest */
    ck_pieces(t, "lower", "lower");
    /* " lower" = Ġ l o w e r: ... Ġ low er, then (low,er) 14 before (Ġ,low) 15 */
    ck_pieces(t, "lower lower", "lower Ġ lower");
    ck_pieces(t, "low low", "low Ġlow");
    ck_pieces(t, "", "");
    tokenizer_free(t);
}
END_TEST

START_TEST(missing_symbols_are_unk)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "z", "<unk>");     /* byte 'z' absent from the fixture's vocab.json */
    ck_pieces(t, "acc", "a <unk>"); /* merge result "cc" absent from vocab.json */
    tokenizer_free(t);
}
END_TEST

/* ------------------------------------------------------------------ bytes */

START_TEST(bytes_map_to_unicode)
{
    struct tokenizer *t = mk(false);
    /* é = C3 A9 -> "Ã" "©" (printable Latin-1 stand for themselves), merged by rank 16 */
    ck_pieces(t, "\xC3\xA9", "\xC3\x83\xC2\xA9");
    ck_assert_int_eq(tokenizer_token_to_id(t, "Ã©"), 21);
    /* U+1F600 = F0 9F 98 80: F0 -> ð; 9F, 98, 80 are in 7F..A0 -> U+0100 + 0x21 + (b - 0x7F) */
    ck_pieces(t, "\xF0\x9F\x98\x80", "ð Ł ĺ Ģ");
    /* 中 = E4 B8 AD: ä ¸ and the soft hyphen AD -> U+0143 */
    ck_pieces(t, "中", "ä ¸ Ń");
    /* TAB -> U+0109, DEL -> U+0121: two pre-tokens (whitespace, then other) */
    ck_pieces(t, "\t\x7F", "ĉ ġ");
    /* NBSP (C2 A0) is \s: "a" "\xA0" "b"; A0 -> U+0142 */
    ck_pieces(t,
              "a\xC2\xA0"
              "b",
              "a Â ł b");
    tokenizer_free(t);
}
END_TEST

/* ------------------------------------------------------------- pre-tokens */

START_TEST(contractions)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "it's", "it 's");   /* cross merge (t,') 0 cannot apply */
    ck_pieces(t, "we're", "we 're"); /* 're: (',r) 20 then ('r,e) 21 */
    ck_pieces(t, "'sa", "'s a");     /* the contraction wins at the start */
    ck_pieces(t, "I'M", "I ' M");    /* case-sensitive: "'" and "M" are two pre-tokens */
    tokenizer_free(t);
}
END_TEST

START_TEST(spaces_and_newlines)
{
    struct tokenizer *t = mk(false);
    /* \s+(?!\S) leaves the last space for the word: "a" " " " b" */
    ck_pieces(t, "a  b", "a Ġ Ġb");
    /* trailing whitespace is one pre-token: ĠĠĠ -> (Ġ,Ġ) left to right */
    ck_pieces(t, "a   ", "a ĠĠ Ġ");
    /* "\n\n" before a letter: "\n" (lookahead backs off one) then "\n" (\s+) */
    ck_pieces(t, "a\n\nb", "a Ċ Ċ b");
    ck_pieces(t, "a\n\n", "a ĊĊ");
    ck_pieces(t, "a \n b", "a ĠĊ Ġb");
    /* U+0085 (C2 85 -> Â ħ) is \s for Python's regex: " " and "\x85" are two pre-tokens */
    ck_pieces(t,
              "a \xC2\x85"
              "b",
              "a Ġ Â ħ b");
    /* U+180E (E1 A0 8E -> á ł İ) is Cf, not \s for Python's regex (PCRE2's \s has it), so
     * it belongs to the punctuation run after it: "a" "\u180E!" */
    ck_pieces(t, "a\xE1\xA0\x8E!", "a á ł İ!");
    ck_pieces(t, " low", "Ġlow");
    tokenizer_free(t);
}
END_TEST

START_TEST(numbers_and_punctuation)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "a123", "a 123");  /* 12 (25), 123 (26); cross (a,1) 6 cannot apply */
    ck_pieces(t, "a 12", "a Ġ 12"); /* " 12" is one pre-token; no (Ġ,12) merge */
    ck_pieces(t, "ab!!", "ab !!");  /* cross (b,!) 7 cannot apply */
    tokenizer_free(t);
}
END_TEST

START_TEST(special_tokens_in_text)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "<s>ab</s>", "<s> ab </s>");
    ck_pieces(t, "ab <mask> b", "ab <mask> Ġb"); /* <mask> lstrips: the space before goes */
    ck_pieces(t, "ab \n <mask>", "ab <mask>");
    ck_pieces(t, "ab <pad>", "ab Ġ <pad>"); /* the others strip nothing */
    ck_pieces(t, "<mask><mask>", "<mask> <mask>");
    tokenizer_free(t);
}
END_TEST

START_TEST(add_prefix_space_option)
{
    struct tokenizer *t = mk(false);
    ck_pieces(t, "low", "low");
    tokenizer_free(t);
    t = mk(true);
    ck_pieces(t, "low", "Ġlow");
    ck_pieces(t, " low", "Ġlow"); /* already starts with whitespace */
    ck_pieces(t, "\nlow", "Ċ low");
    ck_pieces(t, "", "");
    tokenizer_free(t);
}
END_TEST

/* ------------------------------------------------------------------ encode */

static void ck_ids(const struct encoding *enc, const int *ids, int n)
{
    ck_assert_int_eq(enc->len, n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(enc->ids[i] == ids[i], "ids[%d] = %d, expected %d", i, enc->ids[i], ids[i]);
        ck_assert_int_eq(enc->type_ids[i], 0); /* RoBERTa: one segment type */
    }
}

START_TEST(encode_layout)
{
    struct tokenizer *t = mk(false);
    struct encoding enc;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_encode(t, "abc", NULL, 16, &enc, &e), 0);
    ck_ids(&enc, (const int[]){S, A, BC, SEP_}, 4);
    ck_assert(!enc.truncated);
    encoding_free(&enc);
    ck_assert_int_eq(tokenizer_encode(t, "ab", "c", 16, &enc, &e), 0);
    ck_ids(&enc, (const int[]){S, AB, SEP_, SEP_, C, SEP_}, 6);
    encoding_free(&enc);
    ck_assert_int_eq(tokenizer_encode(t, "", "", 5, &enc, &e), 0);
    ck_ids(&enc, (const int[]){S, SEP_, SEP_, SEP_}, 4);
    encoding_free(&enc);
    encoding_free(&enc);
    tokenizer_free(t);
}
END_TEST

static void repeat(char *buf, const char *unit, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(buf, unit);
}

/* enc is <s> a[0..la) </s></s> b[0..lb) </s>. */
static void ck_pair(const struct encoding *enc, const int *a, int la, const int *b, int lb)
{
    int ids[64], n = 0;
    ck_assert_int_le(la + lb + 4, 64);
    ids[n++] = S;
    for (int i = 0; i < la; i++)
        ids[n++] = a[i];
    ids[n++] = SEP_;
    ids[n++] = SEP_;
    for (int i = 0; i < lb; i++)
        ids[n++] = b[i];
    ids[n++] = SEP_;
    ck_ids(enc, ids, n);
}

/* Encode the pair (ta, tb) at max_len and check it is <s> a[0..la) </s></s> b[0..lb) </s>. */
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

/* Letters and digits are pre-tokenized apart, so "a1b2c" is five distinct tokens. */
enum { TOK_W = 12, TOK_E = 13, TOK_R = 14, TOK_1 = 51, TOK_2 = 52, TOK_3 = 53, TOK_BANG = 56 };

/* The fast tokenizers' LongestFirst with RoBERTa's 4 specials (budget = max_len - 4). */
START_TEST(encode_truncates_longest_first)
{
    struct tokenizer *t = mk(false);
    const int a5[] = {A, TOK_1, B, TOK_2, C}, w3e[] = {TOK_W, TOK_3, TOK_E};
    /* odd budget 5, a (5) longer than b (3): halves 2 and 3, the spare to a, the longer */
    ck_encode_pair(t, "a1b2c", "w3e", 9, a5, 3, w3e, 2);
    /* odd budget 5, b longer: the spare to b (the slow tokenizers' pop loop gives it to a) */
    ck_encode_pair(t, "w3e", "a1b2c", 9, w3e, 2, a5, 3);
    /* odd budget 5, a tie 3 and 3: the spare to b */
    ck_encode_pair(t, "a1b", "w3e", 9, a5, 2, w3e, 3);
    /* even budget 6: 4 + 5 -> 3 + 3, and a tie 4 + 4 -> 3 + 3 */
    const int b5[] = {TOK_W, TOK_3, TOK_E, TOK_1, TOK_R};
    ck_encode_pair(t, "a1b2", "w3e1r", 10, a5, 3, b5, 3);
    ck_encode_pair(t, "a1b2", "w3e1", 10, a5, 3, b5, 3);
    /* one text within half the budget is kept whole and the other takes the rest */
    const int w[] = {TOK_W}, a6[] = {A, TOK_1, B, TOK_2, C, TOK_3};
    ck_encode_pair(t, "w", "a1b2c3", 8, w, 1, a6, 3); /* budget 4 */
    ck_encode_pair(t, "w", "a1b2c3", 9, w, 1, a6, 4); /* budget 5 */
    ck_encode_pair(t, "a1b2c3", "w3", 8, a6, 2, w3e, 2);
    ck_encode_pair(t, "a1b2c3", "", 8, a6, 4, NULL, 0); /* an empty b keeps nothing */
    tokenizer_free(t);
}
END_TEST

/* Issue 16's example ("Tornadoes level homes in Oklahoma, 1 dead" + "Tornadoes hit Kan.,
 * Okla.; no injuries reported": 10 + 13 tokens, odd budget 19) as distinct BPE tokens: HF
 * keeps a's first 9 and b's first 10; giving the spare to a kept 10 and 9. */
START_TEST(encode_truncation_tornadoes)
{
    struct tokenizer *t = mk(false);
    const int a[] = {A, TOK_1, B, TOK_2, C, TOK_3, TOK_E, TOK_BANG, TOK_R, TOK_1};
    const int b[] = {C, TOK_1, A, TOK_2, B, TOK_3, TOK_W, TOK_BANG, TOK_E, TOK_1, TOK_R, TOK_2, C};
    ck_encode_pair(t, "a1b2c3e!r1", "c1a2b3w!e1r2c", 23, a, 9, b, 10);
    tokenizer_free(t);
}
END_TEST

/* Every (|a|, |b|, max_len) against the transcription of HF's rule, with the four special
 * tokens of a RoBERTa pair. */
START_TEST(encode_truncation_matches_hf_rule)
{
    struct tokenizer *t = mk(false);
    char ta[64], tb[64];
    for (int na = 0; na <= 7; na++) {
        for (int nb = 0; nb <= 7; nb++) {
            repeat(ta, "ab", na); /* na tokens "ab" */
            repeat(tb, "bc", nb); /* nb tokens "bc" */
            for (int max_len = 5; max_len <= 19; max_len++) {
                int la, lb;
                hf_longest_first(na, nb, max_len - 4, &la, &lb);
                struct encoding enc;
                struct err e = {0};
                ck_assert_int_eq(tokenizer_encode(t, ta, tb, max_len, &enc, &e), 0);
                ck_assert_int_eq(enc.len, la + lb + 4);
                ck_assert_int_eq(enc.truncated, la != na || lb != nb);
                ck_assert_int_eq(enc.ids[0], S);
                ck_assert_int_eq(enc.ids[la + 1], SEP_);
                ck_assert_int_eq(enc.ids[la + 2], SEP_);
                ck_assert_int_eq(enc.ids[enc.len - 1], SEP_);
                for (int i = 1; i <= la; i++)
                    ck_assert_int_eq(enc.ids[i], AB);
                for (int i = la + 3; i < enc.len - 1; i++)
                    ck_assert_int_eq(enc.ids[i], BC);
                for (int i = 0; i < enc.len; i++)
                    ck_assert_int_eq(enc.type_ids[i], 0);
                encoding_free(&enc);
            }
        }
    }
    tokenizer_free(t);
}
END_TEST

START_TEST(encode_single_truncation_and_limits)
{
    struct tokenizer *t = mk(false);
    struct encoding enc;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_encode(t, "abababab", NULL, 4, &enc, &e), 0);
    ck_ids(&enc, (const int[]){S, AB, AB, SEP_}, 4);
    ck_assert(enc.truncated);
    encoding_free(&enc);
    ck_assert_int_eq(tokenizer_encode(t, "abab", NULL, 4, &enc, &e), 0);
    ck_assert(!enc.truncated);
    encoding_free(&enc);

    ck_assert_int_eq(tokenizer_encode(t, "a", NULL, 2, &enc, &e), ERR_RANGE);
    ck_msg_has(e, "max_len must be >= 3");
    ck_assert_ptr_null(enc.ids);
    ck_assert_int_eq(tokenizer_encode(t, "a", "b", 4, &enc, &e), ERR_RANGE);
    ck_msg_has(e, "max_len must be >= 5");

    ck_assert_int_eq(tokenizer_encode(t, "ok", "bad \xC3", 16, &enc, &e), ERR_FORMAT);
    ck_assert_msg(strncmp(e.msg, "text_b: ", 8) == 0, "%s", e.msg);
    ck_msg_has(e, "byte offset 4");
    ck_assert_ptr_null(enc.ids);
    tokenizer_free(t);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(invalid_utf8_is_rejected)
{
    struct tokenizer *t = mk(false);
    int dummy, *ids = &dummy, n = -1;
    struct err e = {0};
    ck_assert_int_eq(tokenizer_tokenize(t, "ok \xFF", &ids, &n, &e), ERR_FORMAT);
    ck_assert_ptr_null(ids);
    ck_assert_int_eq(n, 0);
    ck_msg_has(e, "invalid UTF-8 at byte offset 3");
    ck_assert_int_eq(tokenizer_tokenize(t, "ab\xED\xA0\x80", &ids, &n, &e), ERR_FORMAT);
    ck_msg_has(e, "byte offset 2");
    ck_assert_int_eq(tokenizer_tokenize(t, NULL, &ids, &n, &e), ERR_CONFIG);
    tokenizer_free(t);
}
END_TEST

#define VHEAD "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3"

static const struct {
    const char *vocab;
    int code;
    const char *msg; /* must appear in the message */
} BAD_VOCAB[] = {
    {VHEAD ",\n \"a\": }", ERR_FORMAT, "vocab.json:2:"},
    {"[1, 2]", ERR_FORMAT, "top level must be a JSON object"},
    {"{}", ERR_FORMAT, "empty"},
    {VHEAD ", \"a\": \"4\"}", ERR_FORMAT, "key \"a\": the id must be a number, not a string"},
    {VHEAD ", \"a\": true}", ERR_FORMAT, "key \"a\": the id must be a number, not a boolean"},
    {VHEAD ", \"a\": -1}", ERR_RANGE, "key \"a\": the id must be a non-negative integer"},
    {VHEAD ", \"a\": 4.5}", ERR_RANGE, "key \"a\": the id must be a non-negative integer"},
    {VHEAD ", \"a\": 1e7}", ERR_LIMIT, "key \"a\": id 10000000 is not below"},
    {VHEAD ", \"a\": 4, \"b\": 4}", ERR_FORMAT, "id 4 is used by both \"a\" and \"b\""},
    {VHEAD ", \"a\": 4, \"a\": 5}", ERR_FORMAT, "duplicate key \"a\" (ids 4 and 5)"},
    {VHEAD ", \"\": 4}", ERR_FORMAT, "entry 4 has an empty key"},
    {VHEAD ", \"a\xC3(\": 4}", ERR_FORMAT, "entry 4: invalid UTF-8 at byte offset 1 of the key"},
    {"{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2}", ERR_FORMAT, "required token <unk> is missing"},
    {"{\"<s>\": 0, \"<unk>\": 1, \"</s>\": 2}", ERR_FORMAT, "required token <pad> is missing"},
};

START_TEST(vocab_json_errors)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy; /* must be reset to NULL */
    struct err e;
    ck_assert_int_eq(load_text(BAD_VOCAB[_i].vocab, "#version: 0.2\n", &t, &e), BAD_VOCAB[_i].code);
    ck_assert_ptr_null(t);
    ck_msg_has(e, BAD_VOCAB[_i].msg);
    ck_msg_has(e, "vocab.json");
}
END_TEST

START_TEST(vocab_json_nul_and_missing)
{
    struct tokenizer *t;
    struct err e = {0};
    static const char nul[] = "{\"<s>\": 0,\n\0}";
    char vocab[256], merges[256];
    strcpy(vocab, write_file("vocab.json", nul, sizeof nul - 1));
    strcpy(merges, write_str("merges.txt", ""));
    ck_assert_int_eq(tokenizer_load_bpe(&t, vocab, merges, NULL, &e), ERR_FORMAT);
    ck_msg_has(e, "vocab.json:2:1: NUL byte");

    snprintf(vocab, sizeof vocab, "%s/nope.json", tmpdir);
    ck_assert_int_eq(tokenizer_load_bpe(&t, vocab, merges, NULL, &e), ERR_IO);
    ck_msg_has(e, vocab);
    strcpy(vocab, write_vocab("vocab.json"));
    snprintf(merges, sizeof merges, "%s/nope.txt", tmpdir);
    ck_assert_int_eq(tokenizer_load_bpe(&t, vocab, merges, NULL, &e), ERR_IO);
    ck_msg_has(e, merges);
    ck_assert_ptr_null(t);
}
END_TEST

static const struct {
    const char *merges;
    int code;
    const char *msg;
    size_t len; /* bytes to write; 0: strlen(merges) */
} BAD_MERGES[] = {
    {"#version: 0.2\na b\nc\n", ERR_FORMAT, "merges.txt:3: expected two symbols", 0},
    {"#version: 0.2\na b c\n", ERR_FORMAT, "merges.txt:2: expected two symbols", 0},
    {"#version: 0.2\na b\nb c\na b\n", ERR_FORMAT,
     "merges.txt:4: duplicate merge \"a b\", first at line 2", 0},
    {"#version: 0.2\na b\nb \xC3(\n", ERR_FORMAT, "merges.txt:3: invalid UTF-8 at byte offset 2",
     0},
    {"#version: 0.2\na \0b\n", ERR_FORMAT, "merges.txt:2: NUL byte at byte offset 2", 19},
};

START_TEST(merges_txt_errors)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy;
    struct err e;
    char vocab[256], merges[256];
    strcpy(vocab, write_vocab("vocab.json"));
    size_t n = BAD_MERGES[_i].len ? BAD_MERGES[_i].len : strlen(BAD_MERGES[_i].merges);
    strcpy(merges, write_file("merges.txt", BAD_MERGES[_i].merges, n));
    ck_assert_int_eq(tokenizer_load_bpe(&t, vocab, merges, NULL, &e), BAD_MERGES[_i].code);
    ck_assert_ptr_null(t);
    ck_msg_has(e, BAD_MERGES[_i].msg);
}
END_TEST

START_TEST(size_limits)
{
    struct tokenizer *t;
    struct err e;
    size_t n = TOK_MAX_TOKEN_BYTES + 1;
    char *text = malloc(n + 128);
    ck_assert_ptr_nonnull(text);
    strcpy(text, VHEAD ", \"");
    size_t at = strlen(text);
    memset(text + at, 'x', n);
    strcpy(text + at + n, "\": 4}");
    ck_assert_int_eq(load_text(text, "", &t, &e), ERR_LIMIT);
    ck_msg_has(e, "entry 4: key is 1025 bytes long");
    ck_msg_has(e, "TOK_MAX_TOKEN_BYTES");

    strcpy(text, "#version: 0.2\na ");
    at = strlen(text);
    memset(text + at, 'x', n);
    strcpy(text + at + n, "\n");
    ck_assert_int_eq(load_text(VHEAD "}", text, &t, &e), ERR_LIMIT);
    ck_msg_has(e, "merges.txt:2: symbol is 1025 bytes long");
    ck_assert_ptr_null(t);
    free(text);
}
END_TEST

/* Header optional, CRLF, blank lines, no final newline: all load, and keep their ranks. */
START_TEST(merges_txt_variants)
{
    static const char *const variants[] = {
        "b c\na b\n",
        "#version: 0.2\r\nb c\r\na b\r\n",
        "#version: 0.2\n\nb c\n\n  a  b  \n\n",
        "#version: 0.2\nb c\na b",
    };
    for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
        char vocab[256], merges[256];
        strcpy(vocab, write_vocab("vocab.json"));
        strcpy(merges, write_str("merges.txt", variants[k]));
        struct tokenizer *t;
        struct err e = {0};
        ck_assert_msg(tokenizer_load_bpe(&t, vocab, merges, NULL, &e) == 0, "%zu: %s", k, e.msg);
        ck_pieces(t, "abc", "a bc");
        ck_pieces(t, "abab", "ab ab");
        tokenizer_free(t);
    }
}
END_TEST

/* --------------------------------------------------------------- vocabulary */

START_TEST(vocab_access_and_gaps)
{
    struct tokenizer *t = mk(false);
    ck_assert_int_eq(tokenizer_vocab_size(t), NVOCAB);
    ck_assert_int_eq(tokenizer_cls_id(t), S);
    ck_assert_int_eq(tokenizer_sep_id(t), SEP_);
    ck_assert_int_eq(tokenizer_pad_id(t), PAD);
    ck_assert_int_eq(tokenizer_unk_id(t), UNK);
    ck_assert_int_eq(tokenizer_mask_id(t), MASK);
    ck_assert_int_eq(tokenizer_token_to_id(t, "Ġlow"), GLOW);
    ck_assert_int_eq(tokenizer_token_to_id(t, "lower"), LOWER);
    ck_assert_int_eq(tokenizer_token_to_id(t, " low"), -1); /* byte-level spelling only */
    ck_assert_str_eq(tokenizer_id_to_token(t, GLOW), "\xC4\xA0low");
    ck_assert_ptr_null(tokenizer_id_to_token(t, NVOCAB));
    ck_assert_ptr_null(tokenizer_id_to_token(t, -1));
    char **words;
    int nw;
    struct err e;
    ck_assert_int_eq(tokenizer_basic_split(t, "a b", &words, &nw, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_null(words);
    tokenizer_free(t);

    /* Ids need not be contiguous: the size is the largest id + 1; no <mask> is fine. */
    ck_assert_int_eq(load_text(VHEAD ", \"a\": 9}", "", &t, &e), 0);
    ck_assert_int_eq(tokenizer_vocab_size(t), 10);
    ck_assert_ptr_null(tokenizer_id_to_token(t, 5));
    ck_assert_int_eq(tokenizer_mask_id(t), -1);
    /* no <mask> in vocab.json: "<mask>" is plain text ("a" is the only byte it has) */
    ck_pieces(t, "ab<mask>", "a <unk> <unk> <unk> a <unk> <unk> <unk>");
    tokenizer_free(t);
    tokenizer_free(NULL);
}
END_TEST

/* ----------------------------------------------------------- load from dir */

static char subdir[128];

static const char *in_sub(const char *name)
{
    static char rel[200];
    snprintf(rel, sizeof rel, "%s/%s", subdir + strlen(tmpdir) + 1, name);
    return rel;
}

static void new_subdir(const char *name)
{
    snprintf(subdir, sizeof subdir, "%s/%s", tmpdir, name);
    ck_assert_int_eq(mkdir(subdir, 0700), 0);
}

START_TEST(load_dir_picks_the_format)
{
    struct tokenizer *t;
    struct err e = {0};

    new_subdir("roberta");
    write_str(in_sub("merges.txt"), MERGES);
    write_vocab(in_sub("vocab.json"));
    ck_assert_msg(tokenizer_load_dir(&t, subdir, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_cls_id(t), S);
    ck_pieces(t, "low", "low");
    tokenizer_free(t);
    write_str(in_sub("tokenizer_config.json"), "{\"add_prefix_space\": true, \"x\": [1]}");
    ck_assert_msg(tokenizer_load_dir(&t, subdir, &e) == 0, "%s", e.msg);
    ck_pieces(t, "low", "Ġlow");
    tokenizer_free(t);
    write_str(in_sub("tokenizer_config.json"), "{\"add_prefix_space\": \"yes\"}");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_CONFIG);
    ck_msg_has(e, "tokenizer_config.json: \"add_prefix_space\" must be true or false");
    write_str(in_sub("tokenizer_config.json"), "{\n  \"add_prefix_space\": tru }");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_FORMAT);
    ck_msg_has(e, "tokenizer_config.json:2:");
    ck_assert_ptr_null(t);

    new_subdir("bert");
    write_str(in_sub("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    ck_assert_msg(tokenizer_load_dir(&t, subdir, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_cls_id(t), 2);
    ck_pieces(t, "HELLO", "hello"); /* default: lowercase */
    tokenizer_free(t);
    write_str(in_sub("tokenizer_config.json"), "{\"do_lower_case\": false}");
    ck_assert_msg(tokenizer_load_dir(&t, subdir, &e) == 0, "%s", e.msg);
    ck_pieces(t, "HELLO hello", "[UNK] hello");
    tokenizer_free(t);
    write_str(in_sub("tokenizer_config.json"), "{\"do_lower_case\": 0}");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_CONFIG);
    ck_msg_has(e, "\"do_lower_case\" must be true or false");
    write_str(in_sub("tokenizer_config.json"),
              "{\"do_lower_case\": true, \"strip_accents\": null}");
    ck_assert_msg(tokenizer_load_dir(&t, subdir, &e) == 0, "%s", e.msg);
    ck_pieces(t, "H\xC3\xA9llo", "hello"); /* strip_accents null follows lowercasing */
    tokenizer_free(t);
}
END_TEST

START_TEST(load_dir_errors)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy;
    struct err e = {0};
    new_subdir("empty");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_assert_ptr_null(t);
    ck_msg_has(e, subdir);
    ck_msg_has(e, "vocab.txt");
    ck_msg_has(e, "vocab.json + merges.txt");

    new_subdir("half");
    write_str(in_sub("vocab.json"), VHEAD "}");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "merges.txt is missing");

    write_str(in_sub("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_CONFIG);
    ck_msg_has(e, "both vocab.txt");
    ck_assert_int_eq(tokenizer_load_dir(&t, NULL, &e), ERR_CONFIG);
}
END_TEST

/* A FIFO (nobody writing) as any tokenizer file, loaded directly or from its directory: an
 * error at once naming it, where each read used to wait for a writer forever (and a FIFO
 * vocab.txt made the directory look empty).  alarm: a regression fails instead of hanging. */
START_TEST(fifos_are_refused)
{
    int dummy;
    struct tokenizer *t = (struct tokenizer *)&dummy;
    struct err e = {0};
    char fifo[300], other[300];
    alarm(20);

    new_subdir("fifo-vocab");
    write_str(in_sub("merges.txt"), MERGES);
    snprintf(fifo, sizeof fifo, "%s/vocab.json", subdir);
    snprintf(other, sizeof other, "%s/merges.txt", subdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tokenizer_load_bpe(&t, fifo, other, NULL, &e), ERR_IO);
    ck_assert_ptr_null(t);
    ck_msg_has(e, "vocab.json: not a regular file (a FIFO)");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "vocab.json: not a regular file (a FIFO)");

    new_subdir("fifo-merges");
    write_vocab(in_sub("vocab.json"));
    snprintf(fifo, sizeof fifo, "%s/merges.txt", subdir);
    snprintf(other, sizeof other, "%s/vocab.json", subdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tokenizer_load_bpe(&t, other, fifo, NULL, &e), ERR_IO);
    ck_msg_has(e, "merges.txt: not a regular file (a FIFO)");
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "merges.txt: not a regular file (a FIFO)");

    new_subdir("fifo-vocab-txt"); /* once "no tokenizer files" */
    snprintf(fifo, sizeof fifo, "%s/vocab.txt", subdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "vocab.txt: not a regular file (a FIFO)");

    new_subdir("fifo-config"); /* once skipped as if absent */
    write_str(in_sub("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    snprintf(fifo, sizeof fifo, "%s/tokenizer_config.json", subdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "tokenizer_config.json: not a regular file (a FIFO)");
    ck_assert_ptr_null(t);

    new_subdir("dir-vocab"); /* a directory named vocab.json */
    write_str(in_sub("merges.txt"), MERGES);
    snprintf(fifo, sizeof fifo, "%s/vocab.json", subdir);
    ck_assert_int_eq(mkdir(fifo, 0700), 0);
    ck_assert_int_eq(tokenizer_load_dir(&t, subdir, &e), ERR_IO);
    ck_msg_has(e, "vocab.json: not a regular file (a directory)");
    alarm(0);
}
END_TEST

Suite *bpe_suite(void)
{
    Suite *s = suite_create("bpe");

    TCase *tc = tcase_create("bpe");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, merges_by_rank);
    tcase_add_test(tc, missing_symbols_are_unk);
    tcase_add_test(tc, bytes_map_to_unicode);
    suite_add_tcase(s, tc);

    tc = tcase_create("pretokenize");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, contractions);
    tcase_add_test(tc, spaces_and_newlines);
    tcase_add_test(tc, numbers_and_punctuation);
    tcase_add_test(tc, special_tokens_in_text);
    tcase_add_test(tc, add_prefix_space_option);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, encode_layout);
    tcase_add_test(tc, encode_truncates_longest_first);
    tcase_add_test(tc, encode_truncation_tornadoes);
    tcase_add_test(tc, encode_truncation_matches_hf_rule);
    tcase_add_test(tc, encode_single_truncation_and_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, invalid_utf8_is_rejected);
    tcase_add_loop_test(tc, vocab_json_errors, 0, (int)(sizeof BAD_VOCAB / sizeof BAD_VOCAB[0]));
    tcase_add_test(tc, vocab_json_nul_and_missing);
    tcase_add_loop_test(tc, merges_txt_errors, 0, (int)(sizeof BAD_MERGES / sizeof BAD_MERGES[0]));
    tcase_add_test(tc, merges_txt_variants);
    tcase_add_test(tc, size_limits);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, vocab_access_and_gaps);
    tcase_add_test(tc, load_dir_picks_the_format);
    tcase_add_test(tc, load_dir_errors);
    tcase_add_test(tc, fifos_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
