/* Tests of tokenization and batching (tasks/batching.c) and of split subsampling: padding to
 * the batch's longest row, truncation, pair type ids, seeded epoch orders with length
 * bucketing, and split_subsample's seeded, order-keeping subsets. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/text/tokenizer.h"
#include "tasks/batching.h"
#include "tasks/task.h"
#include "tests/suites.h"

/* ------------------------------------------------------------------ batching */

static struct tokenizer *small_tokenizer(void)
{
    static const char *const vocab[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat",
                                        "sat",   "on",    "mat",   "a",     "dog", "ran",
                                        "far",   "away",  "##s",   "very"};
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    struct tokenizer *t = NULL;
    struct err e = {0};
    ck_assert_msg(tokenizer_from_tokens(&t, vocab, 16, &o, &e) == 0, "%s", e.msg);
    return t;
}

static void make_split(struct split *s, int n)
{
    static const char *const words[] = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran"};
    struct err e = {0};
    memset(s, 0, sizeof *s);
    s->labeled = true;
    for (int i = 0; i < n; i++) {
        char text[256] = "";
        int len = 1 + (i * 7) % 9; /* 1..9 words */
        for (int w = 0; w < len; w++)
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s", w ? " " : "",
                     words[(i + w) % 8]);
        ck_assert_int_eq(split_push(s, text, NULL, i % 3, NAN, (uint64_t)i, &e), 0);
    }
}

START_TEST(test_batching_pad_and_count)
{
    struct tokenizer *tok = small_tokenizer();
    struct split s = {0};
    struct err e = {0};
    ck_assert_int_eq(split_push(&s, "the cat sat", NULL, 1, NAN, 0, &e), 0);
    ck_assert_int_eq(split_push(&s, "dog", NULL, 0, NAN, 1, &e), 0);
    ck_assert_int_eq(split_push(&s, "the cats sat on the mat very far away", NULL, 2, NAN, 2, &e),
                     0);
    s.labeled = true;
    struct tok_split ts;
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_SINGLE, tok, 8, &e), 0);
    ck_assert_uint_eq(ts.n, 3);
    ck_assert_uint_eq(ts.ntruncated, 1); /* 12 tokens > 8 */
    ck_assert_int_eq(ts.max_len, 8);
    ck_assert_uint_eq(ts.start[1] - ts.start[0], 5); /* [CLS] the cat sat [SEP] */
    ck_assert_uint_eq(ts.start[2] - ts.start[1], 3);

    struct batcher b;
    ck_assert_int_eq(batcher_init(&b, &ts, 2, false, 0, &e), 0);
    ck_assert_uint_eq(batcher_count(&b), 2);
    struct batch bt;
    const size_t *rows;
    size_t real;
    ck_assert_int_eq(batcher_get(&b, 0, &bt, &rows, &real, &e), 0);
    ck_assert_int_eq(bt.B, 2);
    ck_assert_int_eq(bt.T, 5); /* padded to the longest in this batch, not max_seq_len */
    ck_assert_uint_eq(real, 8);
    ck_assert_uint_eq(rows[0], 0);
    ck_assert_uint_eq(rows[1], 1);
    int pad = tokenizer_pad_id(tok);
    /* row 1: [CLS] dog [SEP] pad pad */
    ck_assert_int_eq(bt.ids[5 + 0], tokenizer_cls_id(tok));
    ck_assert_int_eq(bt.ids[5 + 1], tokenizer_token_to_id(tok, "dog"));
    ck_assert_int_eq(bt.ids[5 + 2], tokenizer_sep_id(tok));
    ck_assert_int_eq(bt.ids[5 + 3], pad);
    ck_assert_int_eq(bt.mask[5 + 2], 1);
    ck_assert_int_eq(bt.mask[5 + 3], 0);
    ck_assert_int_eq(bt.mask[5 + 4], 0);
    ck_assert_int_eq(bt.labels[0], 1);
    ck_assert_int_eq(bt.labels[1], 0);
    ck_assert_ptr_null(bt.targets);
    ck_assert_int_eq(batcher_get(&b, 1, &bt, &rows, &real, &e), 0);
    ck_assert_int_eq(bt.B, 1);
    ck_assert_int_eq(bt.T, 8);
    ck_assert_uint_eq(real, 8);
    ck_assert_int_eq(bt.ids[7], tokenizer_sep_id(tok)); /* truncation keeps the final [SEP] */
    ck_assert_int_eq(batcher_get(&b, 2, &bt, &rows, &real, &e), ERR_RANGE);
    batcher_free(&b);
    tok_split_free(&ts);

    /* pairs get type ids 0 then 1; regression keeps targets */
    split_free(&s);
    ck_assert_int_eq(split_push(&s, "the cat", "a dog", -1, 2.5f, 0, &e), 0);
    s.labeled = true;
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_REGRESSION, tok, 16, &e), 0);
    ck_assert_ptr_null(ts.labels);
    ck_assert_int_eq(batcher_init(&b, &ts, 4, false, 0, &e), 0);
    ck_assert_int_eq(batcher_get(&b, 0, &bt, NULL, &real, &e), 0);
    ck_assert_int_eq(bt.T, 7); /* [CLS] the cat [SEP] a dog [SEP]: STS-B-like pair */
    ck_assert_int_eq(bt.type_ids[3], 0);
    ck_assert_int_eq(bt.type_ids[4], 1);
    ck_assert_double_eq((double)bt.targets[0], 2.5);
    ck_assert_ptr_null(bt.labels);
    batcher_free(&b);
    tok_split_free(&ts);
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_PAIR, tok, 16, &e), 0);
    ck_assert_int_eq(batcher_init(&b, &ts, 4, false, 0, &e), 0);
    ck_assert_int_eq(batcher_get(&b, 0, &bt, NULL, &real, &e), 0);
    ck_assert_int_eq(bt.T, 7);
    ck_assert_int_eq(bt.type_ids[3], 0);
    ck_assert_int_eq(bt.type_ids[4], 1);
    ck_assert_int_eq(bt.type_ids[6], 1);
    batcher_free(&b);
    tok_split_free(&ts);
    /* errors */
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_PAIR, tok, 3, &e), ERR_CONFIG);
    split_free(&s);
    ck_assert_int_eq(split_push(&s, "no second text", NULL, 0, NAN, 5, &e), 0);
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_PAIR, tok, 16, &e), ERR_STATE);
    ck_assert_ptr_nonnull(strstr(e.msg, "id 5"));
    split_free(&s);
    tokenizer_free(tok);
}
END_TEST

START_TEST(test_batching_epochs)
{
    struct tokenizer *tok = small_tokenizer();
    struct split s;
    make_split(&s, 203);
    struct tok_split ts;
    struct err e = {0};
    ck_assert_int_eq(batching_tokenize(&ts, &s, TASK_SINGLE, tok, 64, &e), 0);
    struct batcher b1, b2;
    ck_assert_int_eq(batcher_init(&b1, &ts, 8, true, 5, &e), 0);
    ck_assert_int_eq(batcher_init(&b2, &ts, 8, true, 5, &e), 0);
    ck_assert_uint_eq(batcher_count(&b1), 26);
    batcher_epoch(&b1, 42, 1);
    batcher_epoch(&b2, 42, 1);
    ck_assert_mem_eq(b1.order, b2.order, ts.n * sizeof *b1.order);
    size_t *first = malloc(ts.n * sizeof *first);
    memcpy(first, b1.order, ts.n * sizeof *first);
    batcher_epoch(&b2, 42, 2);
    ck_assert(memcmp(first, b2.order, ts.n * sizeof *first) != 0); /* new epoch, new order */
    batcher_epoch(&b2, 43, 1);
    ck_assert(memcmp(first, b2.order, ts.n * sizeof *first) != 0); /* new seed, new order */

    /* each example exactly once per epoch; lengths sorted within a batch (bucketing);
     * only one short batch */
    unsigned char *seen = calloc(ts.n, 1);
    size_t short_batches = 0, total_real = 0, total_cells = 0;
    for (size_t k = 0; k < batcher_count(&b1); k++) {
        struct batch bt;
        const size_t *rows;
        size_t real;
        ck_assert_int_eq(batcher_get(&b1, k, &bt, &rows, &real, &e), 0);
        short_batches += bt.B < 8;
        size_t prev = 0, sum = 0;
        for (int i = 0; i < bt.B; i++) {
            ck_assert(!seen[rows[i]]);
            seen[rows[i]] = 1;
            size_t len = ts.start[rows[i] + 1] - ts.start[rows[i]];
            ck_assert_uint_ge(len, prev);
            prev = len;
            sum += len;
            ck_assert_int_eq(bt.labels[i], s.ex[rows[i]].label);
            int m = 0;
            for (int j = 0; j < bt.T; j++)
                m += bt.mask[i * bt.T + j];
            ck_assert_uint_eq((size_t)m, len);
        }
        ck_assert_uint_eq(real, sum);
        ck_assert_uint_eq((size_t)bt.T, prev); /* padded to the batch max */
        total_real += real;
        total_cells += (size_t)bt.B * (size_t)bt.T;
    }
    for (size_t i = 0; i < ts.n; i++)
        ck_assert(seen[i]);
    ck_assert_uint_eq(short_batches, 1);
    ck_assert_uint_eq(total_real, ts.ntokens);
    /* bucketing wastes less padding than random batches would at this spread */
    ck_assert_uint_lt(total_cells, total_real * 13 / 10);

    /* evaluation: original order */
    struct batcher ev;
    ck_assert_int_eq(batcher_init(&ev, &ts, 8, false, BATCH_BUCKET_DEFAULT, &e), 0);
    batcher_epoch(&ev, 42, 3);
    for (size_t i = 0; i < ts.n; i++)
        ck_assert_uint_eq(ev.order[i], i);
    batcher_free(&ev);

    ck_assert_int_eq(batcher_init(&ev, &ts, 0, false, 0, &e), ERR_CONFIG);
    free(first);
    free(seen);
    batcher_free(&b1);
    batcher_free(&b2);
    tok_split_free(&ts);
    split_free(&s);
    tokenizer_free(tok);
}
END_TEST

START_TEST(test_split_subsample)
{
    struct split s, s2;
    make_split(&s, 50);
    make_split(&s2, 50);
    struct err e = {0};
    ck_assert_int_eq(split_subsample(&s, 10, 5, 1, &e), 0);
    ck_assert_int_eq(split_subsample(&s2, 10, 5, 1, &e), 0);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_uint_eq(s.total, 50);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_uint_eq(s.ex[i].id, s2.ex[i].id);
        if (i)
            ck_assert_uint_gt(s.ex[i].id, s.ex[i - 1].id);
    }
    split_free(&s2);
    make_split(&s2, 50);
    ck_assert_int_eq(split_subsample(&s2, 10, 5, 2, &e), 0); /* another stream */
    bool differ = false;
    for (size_t i = 0; i < 10; i++)
        differ |= s.ex[i].id != s2.ex[i].id;
    ck_assert(differ);
    ck_assert_int_eq(split_subsample(&s, 100, 5, 1, &e), 0); /* larger than n: unchanged */
    ck_assert_uint_eq(s.n, 10);
    split_free(&s);
    split_free(&s2);
    split_free(&s2); /* a freed split is empty: freeing again is a no-op */
}
END_TEST

Suite *batching_suite(void)
{
    Suite *s = suite_create("batching");
    TCase *tc = tcase_create("batching");
    tcase_add_test(tc, test_batching_pad_and_count);
    tcase_add_test(tc, test_batching_epochs);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("sampling");
    tcase_add_test(tc, test_split_subsample);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
