/* Tests of file tasks (tasks/filetask.c): caller-declared CSV, TSV and JSONL files with named or
 * numbered columns, label sets, regression targets, and the errors of bad rows and settings. */
#include <check.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ file tasks */

START_TEST(test_file_csv)
{
    put("f/train.csv",
        "\xEF\xBB\xBFid,review,stars\r\n"
        "1,\"Great, really \"\"great\"\" film\",5\r\n"
        "\r\n"
        "2,\"two\r\nlines\",1\r\n"
        "3,with\ttab,10\r\n"
        "4,ok,5\r\n",
        0);
    put("f/dev.csv", "id,review,stars\n9,fine,1\n", 0);
    put("f/test.csv", "id,review\n10,unlabeled one\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.file = (struct file_task){.name = "reviews",
                                .train = path_of("f/train.csv"),
                                .dev = path_of("f/dev.csv"),
                                .test = path_of("f/test.csv"),
                                .format = -1,
                                .header = true,
                                .text_a = "review",
                                .label = "stars"};
    struct task_data t;
    struct err e = {0};
    ck_assert_msg(load("file", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(t.name, "reviews");
    ck_assert_int_eq(t.kind, TASK_SINGLE);
    ck_assert_int_eq(t.nlabels, 3);
    ck_assert_str_eq(t.label_names[0], "1"); /* numeric order: 1, 5, 10 */
    ck_assert_str_eq(t.label_names[1], "5");
    ck_assert_str_eq(t.label_names[2], "10");
    ck_assert_uint_eq(t.train.n, 4);
    ck_assert_str_eq(t.train.ex[0].a, "Great, really \"great\" film");
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_str_eq(t.train.ex[1].a, "two\nlines");
    ck_assert_str_eq(t.train.ex[2].a, "with\ttab");
    ck_assert_int_eq(t.train.ex[2].label, 2);
    ck_assert_uint_eq(t.train.ex[2].id, 6);
    ck_assert_int_eq(t.dev.ex[0].label, 0);
    ck_assert(!t.test.labeled);
    ck_assert_str_eq(t.test.ex[0].a, "unlabeled one");
    ck_assert_int_eq(t.primary, METRIC_ACCURACY);
    task_data_free(&t);

    /* a label list, column indices, a header-less TSV with quoting, binary metric */
    put("f/train.tsv", "pos\t\"a\tb\"\tx\nneg\tplain\ty\n", 0);
    put("f/dev.tsv", "neg\td\tz\n", 0);
    static const char *const labs[] = {"neg", "pos"};
    p.file = (struct file_task){.train = path_of("f/train.tsv"),
                                .dev = path_of("f/dev.tsv"),
                                .format = TSV_QUOTED,
                                .header = false,
                                .text_a = "1",
                                .text_b = "2",
                                .label = "0",
                                .labels = labs,
                                .nlabels = 2,
                                .metric = "f1"};
    ck_assert_msg(load("file", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(t.kind, TASK_PAIR);
    ck_assert_str_eq(t.train.ex[0].a, "a\tb");
    ck_assert_str_eq(t.train.ex[0].b, "x");
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_int_eq(t.primary, METRIC_F1);
    task_data_free(&t);
}
END_TEST

START_TEST(test_file_jsonl_regression)
{
    put("j/train.jsonl",
        "{\"s\": \"a\", \"t\": \"b\", \"y\": 0.5}\n{\"s\": \"c\", \"t\": \"d\", "
        "\"y\": 4}\n\n",
        0);
    put("j/dev.jsonl", "{\"s\": \"e\", \"t\": \"f\", \"y\": 1.25}\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.file = (struct file_task){.name = "sim",
                                .train = path_of("j/train.jsonl"),
                                .dev = path_of("j/dev.jsonl"),
                                .format = -1,
                                .text_a = "s",
                                .text_b = "t",
                                .label = "y",
                                .regression = true};
    struct task_data t;
    struct err e = {0};
    ck_assert_msg(load("file", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(t.kind, TASK_REGRESSION);
    ck_assert_int_eq(t.nlabels, 1);
    ck_assert_double_eq((double)t.train.ex[1].target, 4.0);
    ck_assert_double_eq((double)t.dev.ex[0].target, 1.25);
    ck_assert_int_eq(t.primary, METRIC_PEARSON_SPEARMAN);
    /* scoring through the task */
    struct metric_result m;
    const float pred[] = {0.1f, 3.0f};
    ck_assert_int_eq(task_score(&t, &t.train, NULL, pred, &m, &e), 0);
    ck_assert_double_eq_tol(m.primary_value, 1.0, 1e-9);
    task_data_free(&t);
}
END_TEST

START_TEST(test_file_errors)
{
    put("e/train.csv", "text,label\na,x\nb,y\nc,\"z\n", 0);
    put("e/dev.csv", "text,label\nd,x\ne,unknown\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.file = (struct file_task){.name = "bad",
                                .train = path_of("e/train.csv"),
                                .dev = path_of("e/dev.csv"),
                                .format = -1,
                                .header = true,
                                .text_a = "text",
                                .label = "label"};
    struct task_data t;
    struct err e = {0};
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "train.csv:4: unterminated quote"));
    p.skip_bad_rows = true;
    ck_assert_msg(load("file", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(t.train.n, 2);
    ck_assert_uint_eq(t.train.skipped, 1);
    ck_assert_uint_eq(t.dev.n, 1); /* 'unknown' is not a train label */
    ck_assert_uint_eq(t.dev.skipped, 1);
    task_data_free(&t);
    p.skip_bad_rows = false;
    put("e/train.csv", "text,label\na,x\nb,y\n", 0);
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "dev.csv:3: label 'unknown'"));

    p.file.text_a = "txet";
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "no column 'txet'"));
    p.file.text_a = "text";
    p.file.metric = "pearson";
    put("e/dev.csv", "text,label\nd,x\n", 0);
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "metric 'pearson' is for regression"));
    p.file.metric = NULL;
    p.file.train = "/nonexistent/train.csv";
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/train.csv"));
    p.file.train = path_of("e/train.data");
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "set format"));
}
END_TEST

/* JSONL records have keys, not fields or columns: a missing, null or nested value names the
 * key, what was expected and what was found; a non-numeric regression target names the key. */
START_TEST(test_file_jsonl_errors_speak_of_keys)
{
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"{\"s\": \"c\"}", "train.jsonl:2: key 'y': expected a string, number or boolean, "
                           "found no such key"},
        {"{\"s\": \"c\", \"y\": null}", "train.jsonl:2: key 'y': expected a string, number "
                                        "or boolean, found null"},
        {"{\"s\": [\"c\"], \"y\": \"p\"}", "train.jsonl:2: key 's': expected a string, "
                                           "number or boolean, found a list"},
        {"{\"s\": {\"t\": 1}, \"y\": \"p\"}", "train.jsonl:2: key 's': expected a string, "
                                              "number or boolean, found an object"},
    };
    struct task_params p;
    task_params_init(&p);
    put("k/dev.jsonl", "{\"s\": \"e\", \"y\": \"p\"}\n", 0);
    p.file = (struct file_task){.name = "keys",
                                .train = path_of("k/train.jsonl"),
                                .dev = path_of("k/dev.jsonl"),
                                .format = -1,
                                .text_a = "s",
                                .label = "y"};
    struct task_data t;
    struct err e = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"s\": \"a\", \"y\": \"n\"}\n%s\n", cases[i].line);
        put("k/train.jsonl", text, 0);
        ck_assert_int_eq(load("file", &p, &t, &e), ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, cases[i].want) != NULL, "'%s' not in: %s", cases[i].want,
                      e.msg);
        ck_assert_ptr_null(strstr(e.msg, "field"));
        ck_assert_ptr_null(strstr(e.msg, "column"));
    }
    p.file.regression = true;
    put("k/train.jsonl", "{\"s\": \"a\", \"y\": 1}\n{\"s\": \"b\", \"y\": \"high\"}\n", 0);
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "train.jsonl:2: value 'high' of key 'y' is not a number"), "%s",
                  e.msg);
    /* CSV keeps speaking of columns and fields, never of keys */
    put("k/train.csv", "s,y\na,1\nb\n", 0);
    put("k/dev.csv", "s,y\ne,2\n", 0);
    p.file.train = path_of("k/train.csv");
    p.file.dev = path_of("k/dev.csv");
    p.file.header = true;
    p.file.regression = false;
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "train.csv:3: ") && !strstr(e.msg, "key"), "%s", e.msg);
}
END_TEST

/* A FIFO as a data file: refused at once, naming it (it used to block in fopen forever). */
START_TEST(test_file_fifo_refused)
{
    put("f/dev.tsv", "a\tx\n", 0);
    const char *fifo = path_of("f/train.tsv");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    struct task_params p;
    task_params_init(&p);
    p.file = (struct file_task){.name = "pipe",
                                .train = fifo,
                                .dev = path_of("f/dev.tsv"),
                                .format = -1,
                                .text_a = "0",
                                .label = "1"};
    struct task_data t;
    struct err e = {0};
    alarm(10); /* a regression hangs: fail instead */
    ck_assert_int_eq(load("file", &p, &t, &e), ERR_IO);
    alarm(0);
    ck_assert_msg(strstr(e.msg, "task pipe: ") && strstr(e.msg, "train.tsv: not a regular file (a "
                                                                "FIFO)"),
                  "%s", e.msg);
}
END_TEST

Suite *filetask_suite(void)
{
    Suite *s = suite_create("filetask");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, tdir_setup, tdir_teardown);
    tcase_add_test(tc, test_file_csv);
    tcase_add_test(tc, test_file_jsonl_regression);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_file_jsonl_errors_speak_of_keys);
    tcase_add_test(tc, test_file_fifo_refused);
    suite_add_tcase(s, tc);
    return s;
}
