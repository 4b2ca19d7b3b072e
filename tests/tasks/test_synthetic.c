/* Tests of the synthetic tasks (tasks/synthetic.c): labels follow the documented rule, the seed
 * fixes the data, dev/test sentences never occur in train, and knob validation. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "tasks/task.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ synthetic */

/* Recompute the syn-sentiment label from the text by its documented rule. */
static int sentiment_rule(const char *text)
{
    static const char *const posw[] = {"good",   "great",      "excellent", "wonderful",
                                       "fine",   "pleasant",   "brilliant", "superb",
                                       "lovely", "delightful", "enjoyable", "charming"};
    static const char *const negw[] = {"bad",    "terrible", "awful",    "poor",
                                       "boring", "dull",     "horrible", "dreadful",
                                       "weak",   "annoying", "mediocre", "painful"};
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    int score = 0, nots = 0;
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
        if (strcmp(w, "not") == 0) {
            nots++;
            continue;
        }
        int pol = 0;
        for (int i = 0; i < 12; i++) {
            pol += strcmp(w, posw[i]) == 0;
            pol -= strcmp(w, negw[i]) == 0;
        }
        if (pol) {
            score += nots % 2 ? -pol : pol;
            nots = 0;
        }
    }
    return score > 0;
}

START_TEST(test_synthetic_tasks)
{
    struct task_params p;
    task_params_init(&p);
    p.seed = 11;
    p.max_train = 300;
    p.max_dev = 100;
    p.max_test = 100;
    p.syn.negation_prob = 0.5f;
    p.syn.negation_gap = 2;
    struct task_data a, b, c;
    struct err e = {0};
    ck_assert_msg(load("syn-sentiment", &p, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(load("syn-sentiment", &p, &b, &e), 0);
    p.seed = 12;
    ck_assert_int_eq(load("syn-sentiment", &p, &c, &e), 0);
    ck_assert_uint_eq(a.train.n, 300);
    ck_assert_uint_eq(a.dev.n, 100);
    size_t ones = 0, nots = 0, differ = 0;
    for (size_t i = 0; i < a.train.n; i++) {
        ck_assert_str_eq(a.train.ex[i].a, b.train.ex[i].a);
        differ += strcmp(a.train.ex[i].a, c.train.ex[i].a) != 0;
        ck_assert_int_eq(a.train.ex[i].label, sentiment_rule(a.train.ex[i].a));
        ones += a.train.ex[i].label;
        nots += strstr(a.train.ex[i].a, "not ") != NULL;
    }
    ck_assert_uint_gt(differ, 250);
    ck_assert_uint_gt(ones, 100); /* roughly balanced */
    ck_assert_uint_lt(ones, 200);
    ck_assert_uint_gt(nots, 100);
    /* no dev/test sentence occurs in train */
    for (size_t i = 0; i < a.dev.n; i++)
        for (size_t j = 0; j < a.train.n; j++)
            ck_assert_str_ne(a.dev.ex[i].a, a.train.ex[j].a);
    task_data_free(&a);
    task_data_free(&b);
    task_data_free(&c);

    ck_assert_msg(load("syn-match", &p, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(a.kind, TASK_PAIR);
    ones = 0;
    for (size_t i = 0; i < a.train.n; i++) {
        ck_assert_ptr_nonnull(a.train.ex[i].b);
        ones += a.train.ex[i].label;
    }
    ck_assert_uint_gt(ones, 100);
    ck_assert_uint_lt(ones, 200);
    task_data_free(&a);

    /* knob validation names the knob */
    p.syn.swap_rate = 1.5f;
    ck_assert_int_eq(load("syn-match", &p, &a, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "swap_rate must be in [0, 1]"));
    task_params_init(&p);
    p.syn.min_len = 9;
    p.syn.max_len = 3;
    ck_assert_int_eq(load("syn-sentiment", &p, &a, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "min_len"));
}
END_TEST

Suite *synthetic_suite(void)
{
    Suite *s = suite_create("synthetic");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_synthetic_tasks);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
