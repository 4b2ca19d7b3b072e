/*
 * Fuzz target: the byte-level BPE tokenizer (model/text/bpe.c): vocab.json + merges.txt, then text.
 *
 * Input: byte 0 = options (bit 0: files from the input, bit 1: add_prefix_space), byte 1 =
 * max_len for tokenizer_encode, then
 *  - bit 0 clear: "A \xff B", tokenized with a tokenizer built once from a fixed vocabulary;
 *  - bit 0 set: "VOCAB.JSON \xff\xff MERGES.TXT \xff\xff A \xff B".
 * Oracles: failures leave a message and no tokenizer; every id names a token of the vocabulary;
 * encodings are <s> .. </s>, within max_len, type ids 0.
 */
#include "tests/fuzz/fuzz_util.h"

#include "model/text/tokenizer.h"

static const char fixed_vocab[] =
    "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"<mask>\": 50, \"h\": 4, \"e\": 5, "
    "\"l\": 6, \"o\": 7, \"\\u0120\": 8, \"w\": 9, \"r\": 10, \"d\": 11, \"he\": 12, \"ll\": 13, "
    "\"hell\": 14, \"hello\": 15, \"\\u0120w\": 16, \"or\": 17, \"\\u0120wor\": 18, "
    "\"\\u0120world\": 19, \"!\": 20, \"\\u00c3\": 21, \"\\u00a9\": 22, \"\\u00c3\\u00a9\": 23, "
    "\"\\u0120h\": 24, \"0\": 25, \"1\": 26, \"'\": 27, \"s\": 28, \"'s\": 29, \"\\u010a\": 30, \"ld\": 31}";
static const char fixed_merges[] = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xc4\xa0 w\no r\n"
                                   "\xc4\xa0w or\nl d\n\xc4\xa0wor ld\n\xc3\x83 \xc2\xa9\n\xc4\xa0 h\n' s\n";

static struct tokenizer *fixed[2]; /* without, with add_prefix_space */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *vj = fuzz_write("fixed_vocab.json", fixed_vocab, sizeof fixed_vocab - 1);
    const char *mt = fuzz_write("fixed_merges.txt", fixed_merges, sizeof fixed_merges - 1);
    for (int k = 0; k < 2; k++) {
        struct tokenizer_opts o;
        tokenizer_opts_default(&o);
        o.add_prefix_space = k;
        struct err e = {0};
        if (tokenizer_load_bpe(&fixed[k], vj, mt, &o, &e) != 0) {
            fprintf(stderr, "fixed BPE vocabulary: %s\n", e.msg);
            abort();
        }
    }
    return 0;
}

static void check_ids(const struct tokenizer *t, const int *ids, int n)
{
    int V = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < V && tokenizer_id_to_token(t, ids[i]),
                   "id %d is no token (V %d)", ids[i], V);
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

    struct encoding enc;
    rc = tokenizer_encode(t, a, b, max_len, &enc, &e);
    FUZZ_LOG("encode: %d %s (len %d)", rc, e.msg, rc ? 0 : enc.len);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0] && !enc.ids, "encode rc %d", rc);
        return;
    }
    FUZZ_CHECK(enc.len >= 2 && enc.len <= max_len, "encode: len %d, max_len %d", enc.len,
               max_len);
    FUZZ_CHECK(enc.ids[0] == tokenizer_cls_id(t) && enc.ids[enc.len - 1] == tokenizer_sep_id(t),
               "encode: not <s> .. </s>");
    check_ids(t, enc.ids, enc.len);
    for (int i = 0; i < enc.len; i++)
        FUZZ_CHECK(enc.type_ids[i] == 0, "type id %d", enc.type_ids[i]);
    encoding_free(&enc);
}

/* The next "\xff\xff"-separated part of s[*pos..len), NUL-terminated in place. */
static char *next_part(char *s, size_t len, size_t *pos, size_t *plen)
{
    char *start = s + *pos;
    char *sep = memmem(start, len - *pos, "\xff\xff", 2);
    *plen = sep ? (size_t)(sep - start) : len - *pos;
    *pos = sep ? (size_t)(sep - s) + 2 : len;
    start[*plen] = '\0';
    return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    int max_len = data[1];
    size_t len = size - 2;
    char *s = fuzz_strndup(data + 2, len);
    struct tokenizer *own = NULL;
    const struct tokenizer *t = fixed[(flags >> 1) & 1];
    char *text = s;
    if (flags & 1) {
        size_t pos = 0, vlen, mlen, tlen;
        char *vj = next_part(s, len, &pos, &vlen);
        char *mt = next_part(s, len, &pos, &mlen);
        text = next_part(s, len, &pos, &tlen);
        struct tokenizer_opts o;
        tokenizer_opts_default(&o);
        o.add_prefix_space = flags & 2;
        struct err e = {0};
        int rc = tokenizer_load_bpe(&own, fuzz_write("vocab.json", vj, vlen),
                                    fuzz_write("merges.txt", mt, mlen), &o, &e);
        FUZZ_LOG("load: %d %s", rc, e.msg);
        if (rc) {
            FUZZ_CHECK(e.code == rc && e.msg[0] && !own, "load rc %d", rc);
            free(s);
            return 0;
        }
        FUZZ_CHECK(tokenizer_pad_id(own) >= 0 && tokenizer_unk_id(own) >= 0 &&
                       tokenizer_cls_id(own) >= 0 && tokenizer_sep_id(own) >= 0,
                   "special tokens missing");
        for (int i = 0; i < tokenizer_vocab_size(own); i++) {
            const char *tok = tokenizer_id_to_token(own, i);
            if (tok)
                FUZZ_CHECK(tokenizer_token_to_id(own, tok) == i, "token %d does not map back", i);
        }
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
