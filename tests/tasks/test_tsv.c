/* Tests of the TSV/CSV/JSONL reader (tasks/tsv.c): CSV quoting, BOM, CRLF and empty lines,
 * malformed records (and skipping them), the line-length limit and JSONL objects. */
#include <check.h>
#include <string.h>

#include "tasks/tsv.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ tsv reader */

START_TEST(test_tsv_csv_quoting)
{
    const char *p = put("a.csv",
                        "text,label\n"
                        "\"hello, world\",pos\n"
                        "\"she said \"\"hi\"\"\",neg\n"
                        "\"line one\nline two\",pos\n"
                        "\"tab\there\",neg\n"
                        "plain,\"\"\n",
                        0);
    struct tsv_reader r;
    struct err e = {0};
    ck_assert_int_eq(tsv_open(&r, p, TSV_CSV, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[0], "text");
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_uint_eq(r.nfields, 2);
    ck_assert_str_eq(r.fields[0], "hello, world");
    ck_assert_str_eq(r.fields[1], "pos");
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[0], "she said \"hi\"");
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[0], "line one\nline two");
    ck_assert_uint_eq(r.line, 4);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[0], "tab\there");
    ck_assert_uint_eq(r.line, 6); /* the multi-line record took lines 4-5 */
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[1], "");
    ck_assert_int_eq(tsv_next(&r, &e), 0);
    tsv_close(&r);
    tsv_close(&r); /* idempotent */
}
END_TEST

START_TEST(test_tsv_bom_crlf_empty_lines)
{
    const char *p = put("a.tsv",
                        "\xEF\xBB\xBFsentence\tlabel\r\n\r\n\"quoted start\t1\r\n\n"
                        "it 's \"fine\"\t0\r\nlast\t1",
                        0);
    struct tsv_reader r;
    struct err e = {0};
    ck_assert_int_eq(tsv_open(&r, p, TSV_PLAIN, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[0], "sentence"); /* BOM gone */
    ck_assert_str_eq(r.fields[1], "label");    /* CR gone */
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_uint_eq(r.line, 3);                    /* empty line 2 skipped */
    ck_assert_str_eq(r.fields[0], "\"quoted start"); /* GLUE: quotes are literal */
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_uint_eq(r.line, 5);
    ck_assert_str_eq(r.fields[0], "it 's \"fine\"");
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(r.fields[1], "1"); /* no final newline */
    ck_assert_int_eq(tsv_next(&r, &e), 0);
    tsv_close(&r);
    size_t n;
    ck_assert_int_eq(tsv_count(p, TSV_PLAIN, &n, &e), 0);
    ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(test_tsv_malformed)
{
    struct tsv_reader r;
    struct err e = {0};
    const char *p = put("bad.csv", "a,b\nok,1\nab\"c,1\n\"x\"y,2\nfine,3\n\"open,4\n", 0);
    ck_assert_int_eq(tsv_open(&r, p, TSV_CSV, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "bad.csv:3: stray quote"));
    tsv_close(&r);

    /* skip_bad: the same file yields the good records and counts the rest */
    ck_assert_int_eq(tsv_open(&r, p, TSV_CSV, true, &e), 0);
    int got = 0;
    while (tsv_next(&r, &e) == 1)
        got++;
    ck_assert_int_eq(got, 3);     /* header, ok, fine */
    ck_assert_uint_eq(r.nbad, 3); /* stray quote, text after quote, unterminated */
    tsv_close(&r);

    p = put("open.csv", "a,b\n\"never closed,1\nmore\n", 0);
    ck_assert_int_eq(tsv_open(&r, p, TSV_CSV, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "open.csv:2: unterminated quote"));
    tsv_close(&r);

    p = put("utf.tsv", "x\t1\nbad \xC3\x28\t1\n", 0);
    ck_assert_int_eq(tsv_open(&r, p, TSV_PLAIN, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "utf.tsv:2: invalid UTF-8"));
    tsv_close(&r);

    p = put("nul.tsv", "x\t1\nab\0c\t1\n", 11);
    ck_assert_int_eq(tsv_open(&r, p, TSV_PLAIN, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "nul.tsv:2: NUL byte"));
    tsv_close(&r);

    ck_assert_int_eq(tsv_open(&r, path_of("missing.tsv"), TSV_PLAIN, false, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "missing.tsv"));
}
END_TEST

START_TEST(test_tsv_line_limit)
{
    char big[300];
    memset(big, 'x', sizeof big);
    memcpy(big, "a\tb\nc\td\n", 8);
    big[sizeof big - 1] = '\n';
    const char *p = put("long.tsv", big, sizeof big);
    struct tsv_reader r;
    struct err e = {0};
    ck_assert_int_eq(tsv_open(&r, p, TSV_PLAIN, true, &e), 0);
    r.max_line = 100; /* tests lower TSV_MAX_LINE */
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_int_eq(tsv_next(&r, &e), ERR_LIMIT); /* never skipped */
    ck_assert_ptr_nonnull(strstr(e.msg, "long.tsv:3: line longer than 100 bytes"));
    tsv_close(&r);
    /* a quoted record spanning lines is bounded too */
    p = put("long.csv", "\"aaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaa\n",
            0);
    ck_assert_int_eq(tsv_open(&r, p, TSV_CSV, false, &e), 0);
    r.max_line = 40;
    ck_assert_int_eq(tsv_next(&r, &e), ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(e.msg, "long.csv:1: record longer than 40 bytes"));
    tsv_close(&r);
}
END_TEST

START_TEST(test_tsv_jsonl)
{
    const char *p = put("a.jsonl",
                        "{\"text\": \"caf\xC3\xA9 \\\"ok\\\"\", \"label\": 1, \"score\": 0.5}\r\n"
                        "\n"
                        "   \n"
                        "{\"text\": \"x\", \"label\": \"neg\", \"flag\": true}\n"
                        "{\"text\": broken}\n"
                        "[1, 2]\n",
                        0);
    struct tsv_reader r;
    struct err e = {0};
    ck_assert_int_eq(tsv_open(&r, p, TSV_JSONL, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_str_eq(tsv_json_get(&r, "text"), "caf\xC3\xA9 \"ok\"");
    ck_assert_str_eq(tsv_json_get(&r, "label"), "1");
    ck_assert_str_eq(tsv_json_get(&r, "score"), "0.5");
    ck_assert_ptr_null(tsv_json_get(&r, "absent"));
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    ck_assert_uint_eq(r.line, 4);
    ck_assert_str_eq(tsv_json_get(&r, "flag"), "true");
    ck_assert_int_eq(tsv_next(&r, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "a.jsonl:5: invalid JSON"));
    tsv_close(&r);
    ck_assert_int_eq(tsv_open(&r, p, TSV_JSONL, true, &e), 0);
    int n = 0;
    while (tsv_next(&r, &e) == 1)
        n++;
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(r.nbad, 2); /* broken JSON, not an object */
    tsv_close(&r);
    ck_assert_int_eq(tsv_format_find("tsv-quoted"), TSV_QUOTED);
    ck_assert_int_eq(tsv_format_from_path("x/train.jsonl"), TSV_JSONL);
    ck_assert_int_eq(tsv_format_from_path("x/train.parquet"), -1);
}
END_TEST

Suite *tsv_suite(void)
{
    Suite *s = suite_create("tsv");
    TCase *tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, tdir_setup, tdir_teardown);
    tcase_add_test(tc, test_tsv_csv_quoting);
    tcase_add_test(tc, test_tsv_bom_crlf_empty_lines);
    tcase_add_test(tc, test_tsv_malformed);
    tcase_add_test(tc, test_tsv_line_limit);
    tcase_add_test(tc, test_tsv_jsonl);
    suite_add_tcase(s, tc);
    return s;
}
