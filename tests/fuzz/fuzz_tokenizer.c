/*
 * Fuzz target: the WordPiece vocabulary loader and tokenizer.
 *
 * Input: byte 0 = options (bit 0: vocab from the input, bit 1: lowercase, bit 2: strip accents,
 * bit 3: CJK split, bits 4-7: max_word_chars 1..16 or 100), byte 1 = max_len for
 * tokenizer_encode, then text.
 *  - bit 0 clear: text = "A \xff B" (0xFF never occurs in UTF-8), tokenized with one of two
 *    tokenizers built once from a fixed vocabulary (fast: the common case);
 *  - bit 0 set: text = "VOCAB \xff\xff A \xff B": VOCAB is written to a file and loaded with
 *    tokenizer_load_wordpiece, then A and B are tokenized with it (slow: a load builds the
 *    Unicode class table).
 * Oracles: failures leave a message; every id is in [0, V); encodings hold [CLS] .. [SEP],
 * respect max_len and have type ids 0/1; tokenizer_basic_split returns NULL-terminated words.
 */
#include "tests/fuzz/fuzz_util.h"

#include "model/text/tokenizer.h"

static const char *const fixed_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a",    "un",  "##able", "##a",
    "##b",   "##ing", "play",  "##ed",  "caf",    "##e", "cafe", "é",   "##é",    "中",
    "文",    "!",     ",",     ".",     "'",      "\"",  "[",    "]",   "##s",    "s",
    "x",     "##x",   "##xx",  "hello", "world",  "ü",   "u",    "##u", "i",      "##̇",
    "ß",     "σ",     "ς",     "##σ",   "가",     "ᄀ",  "##ᅡ", "𝒜",   "😀",      "##😀",
};

static struct tokenizer *fixed[2]; /* lowercased+stripped, cased */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    int n = (int)(sizeof fixed_vocab / sizeof *fixed_vocab);
    struct tokenizer_opts o;
    struct err e = {0};
    tokenizer_opts_default(&o);
    if (tokenizer_from_tokens(&fixed[0], fixed_vocab, n, &o, &e) != 0) {
        fprintf(stderr, "fixed vocab: %s\n", e.msg);
        abort();
    }
    o.lowercase = o.strip_accents = false;
    o.max_word_chars = 8;
    if (tokenizer_from_tokens(&fixed[1], fixed_vocab, n, &o, &e) != 0) {
        fprintf(stderr, "fixed vocab: %s\n", e.msg);
        abort();
    }
    return 0;
}

static void check_ids(const struct tokenizer *t, const int *ids, int n)
{
    int V = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < V, "id %d out of [0, %d)", ids[i], V);
}

static void run_text(const struct tokenizer *t, const char *a, const char *b, int max_len)
{
    struct err e = {0};
    int *ids = NULL, n = -1;
    int rc = tokenizer_tokenize(t, a, &ids, &n, &e);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0] && !ids, "tokenize rc %d", rc);
    } else {
        FUZZ_CHECK(ids && n >= 0, "tokenize: no ids");
        check_ids(t, ids, n);
    }
    free(ids);

    char **words = NULL;
    int nw = -1;
    rc = tokenizer_basic_split(t, a, &words, &nw, &e);
    if (!rc) {
        FUZZ_CHECK(words && nw >= 0 && words[nw] == NULL, "basic_split: bad list");
        for (int i = 0; i < nw; i++)
            FUZZ_CHECK(words[i][0] != '\0', "basic_split: empty word %d", i);
    }
    free(words);

    struct encoding enc;
    rc = tokenizer_encode(t, a, b, max_len, &enc, &e);
    FUZZ_LOG("encode: %d %s (len %d)", rc, e.msg, rc ? 0 : enc.len);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0] && !enc.ids, "encode rc %d", rc);
        return;
    }
    FUZZ_CHECK(enc.len >= (b ? 3 : 2) && enc.len <= max_len, "encode: len %d, max_len %d", enc.len,
               max_len);
    FUZZ_CHECK(enc.ids[0] == tokenizer_cls_id(t) && enc.ids[enc.len - 1] == tokenizer_sep_id(t),
               "encode: not [CLS] .. [SEP]");
    check_ids(t, enc.ids, enc.len);
    for (int i = 0; i < enc.len; i++)
        FUZZ_CHECK(enc.type_ids[i] == 0 || (b && enc.type_ids[i] == 1), "type id %d",
                   enc.type_ids[i]);
    encoding_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    int max_len = data[1];
    char *s = fuzz_strndup(data + 2, size - 2); /* NUL-terminated: a NUL ends text early */
    size_t len = size - 2;

    struct tokenizer *own = NULL;
    const struct tokenizer *t = fixed[(flags >> 1) & 1];
    char *text = s;
    if (flags & 1) {
        char *sep = NULL;
        for (size_t i = 0; i + 1 < len && !sep; i++)
            if ((unsigned char)s[i] == 0xFF && (unsigned char)s[i + 1] == 0xFF)
                sep = s + i;
        size_t vlen = sep ? (size_t)(sep - s) : len;
        text = sep ? sep + 2 : s + len;
        struct tokenizer_opts o;
        tokenizer_opts_default(&o);
        o.lowercase = flags & 2;
        o.strip_accents = flags & 4;
        o.tokenize_chinese = flags & 8;
        o.max_word_chars = flags >> 4 ? flags >> 4 : 100;
        struct err e = {0};
        int rc = tokenizer_load_wordpiece(&own, fuzz_write("vocab.txt", s, vlen), &o, &e);
        FUZZ_LOG("load: %d %s", rc, e.msg);
        if (rc) {
            FUZZ_CHECK(e.code == rc && e.msg[0] && !own, "load rc %d", rc);
            free(s);
            return 0;
        }
        FUZZ_CHECK(tokenizer_pad_id(own) >= 0 && tokenizer_unk_id(own) >= 0 &&
                       tokenizer_cls_id(own) >= 0 && tokenizer_sep_id(own) >= 0,
                   "special tokens missing");
        for (int i = 0; i < tokenizer_vocab_size(own); i++)
            FUZZ_CHECK(tokenizer_token_to_id(own, tokenizer_id_to_token(own, i)) == i,
                       "token %d does not map back", i);
        t = own;
    }
    char *b = strchr(text, '\xff');
    if (b)
        *b++ = '\0';
    run_text(t, text, b, max_len);
    tokenizer_free(own);
    free(s);
    return 0;
}
