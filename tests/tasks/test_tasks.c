/* Tests for tasks/: registry, metrics, the TSV/CSV/JSONL reader, GLUE and file
 * tasks from fixtures in their real formats, WordNet parsing and splits,
 * synthetic tasks, sampling and batching. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/text/tokenizer.h"
#include "tests/suites.h"
#include "tasks/batching.h"
#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "tasks/wordnet.h"
#include "tests/cli_util.h"

/* ------------------------------------------------------------------ fixture helpers */

static char tdir[64];

static void tmp_setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/peftbench_tasks_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void tmp_teardown(void)
{
    rm_tree(tdir);
}

/* Write text (n bytes, or strlen when n == 0) to tdir/rel, creating one directory level. */
static const char *put(const char *rel, const char *text, size_t n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tdir, rel);
    char *slash = strrchr(path, '/');
    if (slash > path + strlen(tdir)) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    size_t len = n ? n : strlen(text);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static char *path_of(const char *rel)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tdir, rel);
    return path[k];
}

#define EPS 1e-9

/* ------------------------------------------------------------------ registry */

START_TEST(test_registry_table)
{
    ck_assert_int_ge(task_count(), 15);
    for (int i = 0; i < task_count(); i++) {
        const struct task_def *d = task_at(i);
        ck_assert(d->load != NULL);
        ck_assert_ptr_eq(task_find(d->name), d);
        ck_assert(d->metrics & METRIC_BIT(d->primary));
        ck_assert_int_eq(d->kind == TASK_REGRESSION, metric_is_regression(d->primary));
        if (d->labels)
            for (int k = 0; k < d->nlabels; k++)
                ck_assert_ptr_nonnull(d->labels[k]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(task_at(j)->name, d->name);
    }
    ck_assert_ptr_null(task_at(task_count()));
    ck_assert_int_eq(task_find("cola")->primary, METRIC_MCC);
    ck_assert_int_eq(task_find("stsb")->primary, METRIC_PEARSON_SPEARMAN);
    ck_assert_int_eq(task_find("mrpc")->primary, METRIC_ACC_F1);
    ck_assert_int_eq(task_find("qqp")->primary, METRIC_ACC_F1);
    ck_assert_int_eq(task_find("rte")->primary, METRIC_ACCURACY);
    ck_assert_int_eq(task_find("wn-supersense")->nlabels, 45);
    ck_assert_str_eq(task_find("wn-supersense")->labels[5], "noun.animal");
}
END_TEST

START_TEST(test_registry_lookup_error)
{
    struct err e = {0};
    ck_assert_ptr_null(task_lookup("sst", "sweep.yaml:4:9", &e));
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "sweep.yaml:4:9: unknown task 'sst'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "did you mean 'sst2'"));
    ck_assert_ptr_nonnull(strstr(e.msg, "valid: cola, sst2"));
    err_clear(&e);
    ck_assert_ptr_null(task_lookup("zzzzzzzzzz", NULL, &e));
    ck_assert_ptr_null(strstr(e.msg, "did you mean"));
    ck_assert_ptr_eq(task_lookup("mnli", NULL, &e), task_find("mnli"));
}
END_TEST

START_TEST(test_registry_print)
{
    struct task_params p;
    task_params_init(&p);
    p.data_dir = path_of("none");
    p.wordnet_dir = path_of("none");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    task_print(f, &p);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "cola"));
    ck_assert_ptr_nonnull(strstr(buf, "mcc*"));
    ck_assert_ptr_nonnull(strstr(buf, "cannot read train.tsv in"));
    ck_assert_ptr_nonnull(strstr(buf, "wordnet-base"));
    ck_assert_ptr_nonnull(strstr(buf, "train 2000, dev 500, test 500")); /* synthetic */
    free(buf);
}
END_TEST

/* ------------------------------------------------------------------ metrics */

START_TEST(test_metric_accuracy_f1)
{
    const int pred[] = {0, 1, 1, 0}, gold[] = {0, 1, 0, 0};
    ck_assert_double_eq_tol(metric_accuracy(pred, gold, 4), 0.75, EPS);
    /* TP = 1, predicted positives 2, gold positives 1: 2 / 3 */
    ck_assert_double_eq_tol(metric_f1(pred, gold, 4), 2.0 / 3.0, EPS);
    const int zeros[] = {0, 0, 0};
    ck_assert_double_eq_tol(metric_f1(zeros, zeros, 3), 0.0, EPS); /* sklearn zero_division */
    ck_assert(isnan(metric_accuracy(pred, gold, 0)));
}
END_TEST

START_TEST(test_metric_macro_f1)
{
    const int pred[] = {0, 0, 1, 2}, gold[] = {0, 1, 1, 2};
    /* class 0: 2*1/(1+2) = 2/3; class 1: 2*1/(2+1) = 2/3; class 2: 1 */
    ck_assert_double_eq_tol(metric_macro_f1(pred, gold, 4), (2.0 / 3 + 2.0 / 3 + 1) / 3, EPS);
    /* a class only predicted (3) counts with F1 0 */
    const int p2[] = {0, 3}, g2[] = {0, 0};
    /* class 0: 2*1/(2+1) = 2/3; class 3: 0 */
    ck_assert_double_eq_tol(metric_macro_f1(p2, g2, 2), (2.0 / 3) / 2, EPS);
}
END_TEST

START_TEST(test_metric_mcc)
{
    const int pred[] = {1, 1, 0, 0, 1}, gold[] = {1, 0, 0, 0, 1};
    /* TP 2 FP 1 TN 2 FN 0: (2*2 - 1*0) / sqrt(3*2*3*2) = 4 / 6 */
    ck_assert_double_eq_tol(metric_mcc(pred, gold, 5), 4.0 / 6.0, EPS);
    const int constant[] = {1, 1, 1, 1, 1};
    ck_assert_double_eq_tol(metric_mcc(constant, gold, 5), 0.0, EPS);     /* sklearn: 0 */
    ck_assert_double_eq_tol(metric_mcc(constant, constant, 5), 0.0, EPS); /* one class only */
    const int inv[] = {0, 1, 1, 1, 0};
    ck_assert_double_eq_tol(metric_mcc(inv, gold, 5), -1.0, EPS);
    /* multiclass (sklearn formula): c = 3, s = 6, t = p = (2,2,2): (18-12)/24 */
    const int p3[] = {0, 1, 2, 0, 1, 2}, g3[] = {0, 1, 2, 1, 2, 0};
    ck_assert_double_eq_tol(metric_mcc(p3, g3, 6), 0.25, EPS);
}
END_TEST

START_TEST(test_metric_correlations)
{
    const float x[] = {1, 2, 3, 4}, y[] = {2, 4, 5, 9};
    /* sxy = 11, sxx = 5, syy = 26 */
    ck_assert_double_eq_tol(metric_pearson(x, y, 4), 11.0 / sqrt(130.0), 1e-7);
    ck_assert_double_eq_tol(metric_spearman(x, y, 4), 1.0, 1e-12);
    /* ties: ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): 4.5 / sqrt(4.5 * 5) (= scipy 0.9486833) */
    const float xt[] = {1, 2, 2, 3}, yt[] = {1, 3, 2, 4};
    ck_assert_double_eq_tol(metric_spearman(xt, yt, 4), 4.5 / sqrt(22.5), 1e-12);
    double r[4];
    const float v[] = {3, 1, 3, 2};
    ck_assert_int_eq(metric_rank(r, v, 4), 0);
    ck_assert_double_eq(r[0], 3.5);
    ck_assert_double_eq(r[1], 1.0);
    ck_assert_double_eq(r[2], 3.5);
    ck_assert_double_eq(r[3], 2.0);
    /* a constant side: undefined (NaN) like scipy; n < 2 too */
    const float c[] = {2, 2, 2, 2};
    ck_assert(isnan(metric_pearson(c, y, 4)));
    ck_assert(isnan(metric_spearman(y, c, 4)));
    ck_assert(isnan(metric_pearson(x, y, 1)));
    const float neg[] = {4, 3, 2, 1};
    ck_assert_double_eq_tol(metric_pearson(x, neg, 4), -1.0, 1e-12);
}
END_TEST

START_TEST(test_metrics_compute_primary)
{
    struct metric_result m;
    struct err e = {0};
    /* STS-B with a constant predictor: Pearson/Spearman NaN, primary 0 (never NaN) */
    const float pc[] = {3, 3, 3}, gold_f[] = {1, 2, 5};
    ck_assert_int_eq(metrics_compute(&m, METRICS_REGRESSION, METRIC_PEARSON_SPEARMAN, NULL, NULL,
                                     pc, gold_f, 3, &e),
                     0);
    ck_assert(isnan(m.value[METRIC_PEARSON]));
    ck_assert_double_eq(m.primary_value, 0.0);
    /* a NaN prediction (diverged model) is a result, not an error */
    const float pn[] = {NAN, 1, 2};
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_REGRESSION, METRIC_PEARSON, NULL, NULL, pn, gold_f, 3, &e), 0);
    ck_assert_double_eq(m.primary_value, 0.0);
    /* MRPC: mean of accuracy and F1 */
    const int pred[] = {0, 1, 1, 0}, gold[] = {0, 1, 0, 0};
    ck_assert_int_eq(metrics_compute(&m, task_find("mrpc")->metrics, METRIC_ACC_F1, pred, gold,
                                     NULL, NULL, 4, &e),
                     0);
    ck_assert_double_eq_tol(m.primary_value, (0.75 + 2.0 / 3) / 2, EPS);
    ck_assert_double_eq_tol(m.value[METRIC_MCC], metric_mcc(pred, gold, 4), EPS);
    /* errors */
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_BINARY, METRIC_ACCURACY, pred, gold, NULL, NULL, 0, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "no examples"));
    const int unl[] = {0, -1};
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_BINARY, METRIC_ACCURACY, pred, unl, NULL, NULL, 2, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "gold label 1 is -1"));
    ck_assert_int_eq(
        metrics_compute(&m, METRICS_CLASS_MULTI, METRIC_F1, pred, gold, NULL, NULL, 4, &e),
        ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "'f1'"));
    ck_assert_int_eq(metric_find("pearson_spearman"), METRIC_PEARSON_SPEARMAN);
    ck_assert_int_eq(metric_find("nope"), -1);
}
END_TEST

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

/* ------------------------------------------------------------------ GLUE fixtures */

/* Rows in the exact layout of the GLUE download (train, dev, test). */
static void glue_fixtures(void)
{
    const char *cola = "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one "
                       "we propose.\n"
                       "gj04\t1\t\tOne more pseudo generalization and I'm giving up.\n"
                       "gj04\t0\t*\tThey drank the pub.\n";
    put("CoLA/train.tsv", cola, 0);
    put("CoLA/dev.tsv", "gj04\t0\t*\t\"Mary said \"that's it.\n", 0);
    put("CoLA/test.tsv", "index\tsentence\n0\tBill whistled past the house.\n", 0);

    put("SST-2/train.tsv",
        "sentence\tlabel\n"
        "hide new secretions from the parental units \t0\n"
        "contains no wit , only labored gags \t0\n"
        "that loves its characters and communicates something rather beautiful about human "
        "nature \t1\n"
        "\" the emperor 's new clothes \" is a fun ride \t1\n",
        0);
    put("SST-2/dev.tsv", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\n",
        0);
    put("SST-2/test.tsv", "index\tsentence\n0\tuneasy mishmash of styles and genres .\n", 0);

    put("MRPC/train.tsv",
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" , of "
        "deliberately distorting his evidence .\tReferring to him as only \" the witness \" , "
        "Amrozi accused his brother of deliberately distorting his evidence .\n"
        "0\t2108705\t2108831\tYucaipa owned Dominick 's before selling the chain to Safeway in "
        "1998 for $ 2.5 billion .\tYucaipa bought Dominick 's in 1995 for $ 693 million and sold "
        "it to Safeway for $ 1.8 billion in 1998 .\n",
        0);
    put("MRPC/dev.tsv",
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "1\t1355540\t1355592\tHe said the foodservice pie business doesn 't fit the company 's "
        "long-term growth strategy .\t\" The foodservice pie business does not fit our "
        "long-term growth strategy .\n",
        0);
    put("MRPC/test.tsv",
        "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        "0\t1089874\t1089925\tPCCW 's chief operating officer , Mike Butcher , and Alex Arena , "
        "the chief financial officer , will report directly to Mr So .\tCurrent Chief Operating "
        "Officer Mike Butcher and Group Chief Financial Officer Alex Arena will report to So .\n",
        0);

    put("QQP/train.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "133273\t213221\t213222\tHow is the life of a math student? Could you describe your own "
        "experiences?\tWhich level of prepration is enough for the exam jlpt5?\t0\n"
        "402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your "
        "horniness?\t1\n",
        0);
    put("QQP/dev.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so "
        "beautiful?\t0\n",
        0);
    put("QQP/test.tsv",
        "id\tquestion1\tquestion2\n0\tWould the idea of Trump and Putin in bed together scare "
        "you, given the geopolitical implications?\tDo you think that if Donald Trump were "
        "elected President, he would be able to restore relations with Putin and Russia?\n",
        0);

    const char *sts_head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1"
                           "\tsentence2\tscore\n";
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%s0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn "
             "air plane is taking off.\t5.000\n"
             "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a large "
             "flute.\tA man is playing a flute.\t3.800\n",
             sts_head);
    put("STS-B/train.tsv", buf, 0);
    snprintf(buf, sizeof buf,
             "%s0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is "
             "dancing.\tA man wearing a hard hat is dancing.\t5.000\n",
             sts_head);
    put("STS-B/dev.tsv", buf, 0);
    put("STS-B/test.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n"
        "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\tA "
        "girl is brushing her hair.\n",
        0);

    put("MNLI/train.tsv",
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
        "0\t31193\t31193n\tgovernment\t( ( Conceptually ( cream skimming ) ) ( ( has ( ( ( two "
        "( basic dimensions ) ) - ) ( ( product and ) geography ) ) ) . ) )\t( ( ( Product and ) "
        "geography ) ( ( are ( what ( make ( cream ( skimming work ) ) ) ) ) . ) )\t(ROOT (S (NP "
        "(JJ Conceptually) (NN cream) (NN skimming)) (VP (VBZ has)) (. .)))\t(ROOT (S (NP (NN "
        "Product)) (. .)))\tConceptually cream skimming has two basic dimensions - product and "
        "geography.\tProduct and geography are what make cream skimming work. \tneutral\tneutral\n"
        "1\t101457\t101457e\ttelephone\t( you ( ( know ( during ( ( ( the season ) and ) ( i "
        "guess ) ) ) ) ) )\t( You ( ( ( ( lose ( the things ) ) ) ) ) )\t(ROOT (S (NP (PRP "
        "you))))\t(ROOT (S (NP (PRP You))))\tyou know during the season and i guess at at your "
        "level uh you lose them to the next level\tYou lose the things to the following level "
        "if the people recall.\tentailment\tentailment\n",
        0);
    const char *mnli_dev_head =
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
        "label5\tgold_label\n";
    snprintf(buf, sizeof buf,
             "%s0\t63735\t63735n\tslate\t( ( The ( new rights ) ) )\t( Everyone ( really likes ) "
             ")\t(ROOT (S))\t(ROOT (S))\tThe new rights are nice enough\tEveryone really likes the "
             "newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n",
             mnli_dev_head);
    put("MNLI/dev_matched.tsv", buf, 0);
    snprintf(buf, sizeof buf,
             "%s0\t75290\t75290c\tletters\t( ( Your contribution ) )\t( ( Your contribution ) )\t"
             "(ROOT (S))\t(ROOT (S))\tYour contribution helped make it possible for us to provide "
             "our students with a quality education.\tYour contributions were of no help with our "
             "students' education.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\t"
             "contradiction\tcontradiction\n"
             "1\t133794\t133794c\tverbatim\t( ( The answer ) )\t( ( The answer ) )\t(ROOT (S))\t"
             "(ROOT (S))\tThe answer has nothing to do with their cause, however, but with the "
             "simple fact that dictionaries are not exercises in bi-unique substitutability.\tThe "
             "answer is based on their cause.\tcontradiction\tcontradiction\tcontradiction\t"
             "contradiction\tcontradiction\tcontradiction\n",
             mnli_dev_head);
    put("MNLI/dev_mismatched.tsv", buf, 0);
    put("MNLI/test_matched.tsv",
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\n"
        "0\t31349\t31349\tgovernment\t( ( Hierbas ) )\t( ( Hierbas ) )\t(ROOT (S))\t(ROOT (S))\t"
        "Hierbas, ans seco, ans dulce, and frigola are just a few names worth keeping a look-out "
        "for.\tHierbas is a name worth looking out for.\n",
        0);

    put("QNLI/train.tsv",
        "index\tquestion\tsentence\tlabel\n"
        "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it and most "
        "of the seasons that followed, Digimon Tamers takes a darker and more realistic approach "
        "to its story.\tnot_entailment\n"
        "1\tWhich missile batteries often have individual launchers several kilometres from one "
        "another?\tWhen MANPADS is operated by specialists, batteries may have several dozen "
        "teams deploying separately in small sections; self-propelled air defence guns may "
        "deploy in pairs.\tnot_entailment\n",
        0);
    put("QNLI/dev.tsv",
        "index\tquestion\tsentence\tlabel\n0\tWhat came into force after the new constitution "
        "was herald?\tAs of that day, the new constitution heralding the Second Republic came "
        "into force.\tentailment\n",
        0);

    put("RTE/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tNo Weapons of Mass Destruction Found in Iraq "
        "Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment\n"
        "1\tA place of sorrow, after Pope John Paul II died, became a place of celebration, as "
        "Roman Catholic faithful gathered in downtown Chicago to mark the installation of new "
        "Pope Benedict XVI.\tPope Benedict XVI is the new leader of the Roman Catholic "
        "Church.\tentailment\n",
        0);
    put("RTE/dev.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tDana Reeve, the widow of the actor Christopher "
        "Reeve, has died of lung cancer at age 44, according to the Christopher Reeve "
        "Foundation.\tChristopher Reeve had an accident.\tnot_entailment\n",
        0);
    put("RTE/test.tsv",
        "index\tsentence1\tsentence2\n0\tMangla was summoned after Madhumita's sister Nidhi "
        "Shukla, who was the first witness in the case.\tShukla is related to Mangla.\n",
        0);

    put("WNLI/train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tI stuck a pin through a carrot. When I pulled "
        "the pin out, it had a hole.\tThe carrot had a hole.\t1\n"
        "1\tJohn couldn't see the stage with Billy in front of him because he is so short.\tJohn "
        "is so short.\t1\n"
        "2\tThe police arrested all of the gang members. They were trying to stop the drug "
        "trade in the neighborhood.\tThe police were trying to stop the drug trade in the "
        "neighborhood.\t1\n"
        "3\tSteve follows Fred's example in everything. He influences him hugely.\tSteve "
        "influences him hugely.\t0\n",
        0);
    put("WNLI/dev.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair. It has to be "
        "cleaned.\tThe hair has to be cleaned.\t0\n",
        0);
}

static int load(const char *name, struct task_params *p, struct task_data *t, struct err *e)
{
    return task_load(t, task_find(name), p, e);
}

START_TEST(test_glue_all_tasks)
{
    glue_fixtures();
    struct task_params p;
    task_params_init(&p);
    p.data_dir = tdir;
    struct task_data t;
    struct err e = {0};
    static const struct {
        const char *name;
        size_t ntrain, ndev, ntest, ndev_mm;
        bool test_present;
    } want[] = {
        {"cola", 3, 1, 1, 0, true},  {"sst2", 4, 1, 1, 0, true}, {"mrpc", 2, 1, 1, 0, true},
        {"qqp", 2, 1, 1, 0, true},   {"stsb", 2, 1, 1, 0, true}, {"mnli", 2, 1, 1, 2, true},
        {"qnli", 2, 1, 0, 0, false}, {"rte", 2, 1, 1, 0, true},  {"wnli", 4, 1, 0, 0, false}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        int rc = load(want[i].name, &p, &t, &e);
        ck_assert_msg(rc == 0, "%s: %s", want[i].name, e.msg);
        ck_assert_uint_eq(t.train.n, want[i].ntrain);
        ck_assert_uint_eq(t.dev.n, want[i].ndev);
        ck_assert_uint_eq(t.test.n, want[i].ntest);
        ck_assert_uint_eq(t.dev_mm.n, want[i].ndev_mm);
        ck_assert(t.train.labeled && t.dev.labeled);
        if (want[i].test_present)
            ck_assert(!t.test.labeled);
        for (size_t k = 0; k < t.test.n; k++)
            ck_assert_int_eq(t.test.ex[k].label, -1);
        bool pair = t.kind != TASK_SINGLE;
        ck_assert_int_eq(t.train.ex[0].b != NULL, pair);
        task_data_free(&t);
    }

    ck_assert_int_eq(load("cola", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[2].a, "They drank the pub.");
    ck_assert_int_eq(t.train.ex[2].label, 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_str_eq(t.dev.ex[0].a, "\"Mary said \"that's it."); /* literal quotes */
    ck_assert_str_eq(t.test.ex[0].a, "Bill whistled past the house.");
    ck_assert_uint_eq(t.train.ex[2].id, 3); /* line number */
    task_data_free(&t);

    ck_assert_int_eq(load("sst2", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[3].a, "\" the emperor 's new clothes \" is a fun ride ");
    ck_assert_int_eq(t.train.ex[3].label, 1);
    task_data_free(&t);

    ck_assert_int_eq(load("mrpc", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_ptr_nonnull(strstr(t.train.ex[0].b, "Referring to him"));
    ck_assert_str_eq(t.dev.ex[0].b, "\" The foodservice pie business does not fit our long-term "
                                    "growth strategy .");
    task_data_free(&t);

    ck_assert_int_eq(load("qqp", &p, &t, &e), 0);
    ck_assert_str_eq(t.train.ex[1].a, "How do I control my horny emotions?");
    ck_assert_int_eq(t.train.ex[1].label, 1);
    task_data_free(&t);

    ck_assert_int_eq(load("stsb", &p, &t, &e), 0);
    ck_assert_int_eq(t.kind, TASK_REGRESSION);
    ck_assert_double_eq_tol((double)t.train.ex[1].target, 3.8, 1e-6);
    ck_assert_str_eq(t.train.ex[1].b, "A man is playing a flute.");
    ck_assert(isnan(t.test.ex[0].target));
    task_data_free(&t);

    ck_assert_int_eq(load("mnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1); /* neutral */
    ck_assert_int_eq(t.train.ex[1].label, 0); /* entailment */
    ck_assert_str_eq(t.train.ex[1].b, "You lose the things to the following level if the people "
                                      "recall.");
    ck_assert_int_eq(t.dev.ex[0].label, 1);
    ck_assert_int_eq(t.dev_mm.ex[1].label, 2); /* contradiction */
    ck_assert_str_eq(t.test.ex[0].b, "Hierbas is a name worth looking out for.");
    task_data_free(&t);

    ck_assert_int_eq(load("qnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1); /* not_entailment */
    ck_assert_int_eq(t.dev.ex[0].label, 0);
    ck_assert_str_eq(t.dev.ex[0].a, "What came into force after the new constitution was herald?");
    task_data_free(&t);

    ck_assert_int_eq(load("rte", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[1].label, 0);
    task_data_free(&t);

    ck_assert_int_eq(load("wnli", &p, &t, &e), 0);
    ck_assert_int_eq(t.train.ex[0].label, 1);
    ck_assert_str_eq(t.label_names[1], "entailment");
    ck_assert_int_eq(t.train.ex[3].label, 0);
    task_data_free(&t);
}
END_TEST

START_TEST(test_glue_errors)
{
    glue_fixtures();
    struct task_params p;
    task_params_init(&p);
    struct task_data t;
    struct err e = {0};
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_CONFIG); /* no data_dir */
    ck_assert_ptr_nonnull(strstr(e.msg, "PEFTBENCH_DATA"));

    p.data_dir = tdir;
    ck_assert_int_eq(unlink(path_of("RTE/dev.tsv")), 0);
    ck_assert_int_eq(load("rte", &p, &t, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot read dev.tsv in"));
    ck_assert_ptr_nonnull(strstr(e.msg, path_of("RTE")));
    ck_assert_uint_eq(t.train.n, 0); /* left empty */

    /* a malformed row: wrong field count, then a bad label */
    put("SST-2/train.tsv", "sentence\tlabel\ngood\t1\ntoo\tmany\tfields\nbad label\t7\nok\t0\n", 0);
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "SST-2/train.tsv:3: expected 2 tab-separated fields"));
    p.skip_bad_rows = true;
    ck_assert_int_eq(load("sst2", &p, &t, &e), 0);
    ck_assert_uint_eq(t.train.n, 2);
    ck_assert_uint_eq(t.train.skipped, 2);
    task_data_free(&t);
    p.skip_bad_rows = false;
    put("SST-2/train.tsv", "sentence\tlabel\ngood\t1\nbad label\tpositive!\n", 0);
    ck_assert_int_eq(load("sst2", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "train.tsv:3: unknown label 'positive!'"));

    put("STS-B/train.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tg\tf\ty\t1\tn\tn\ta\tb\tfive\n",
        0);
    ck_assert_int_eq(load("stsb", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "train.tsv:2: score 'five'"));

    put("QQP/dev.tsv", "id\tquestion_one\tquestion2\tis_duplicate\n", 0);
    ck_assert_int_eq(load("qqp", &p, &t, &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "header has no column 'question1'"));
}
END_TEST

START_TEST(test_glue_subsample)
{
    char buf[8192] = "sentence\tlabel\n";
    for (int i = 0; i < 100; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "sentence number %d\t%d\n", i, i % 2);
    put("SST-2/train.tsv", buf, 0);
    put("SST-2/dev.tsv", buf, 0);
    struct task_params p;
    task_params_init(&p);
    p.data_dir = tdir;
    p.max_train = 10;
    p.seed = 7;
    struct task_data t1, t2, t3;
    struct err e = {0};
    ck_assert_int_eq(load("sst2", &p, &t1, &e), 0);
    ck_assert_int_eq(load("sst2", &p, &t2, &e), 0);
    p.seed = 8;
    ck_assert_int_eq(load("sst2", &p, &t3, &e), 0);
    ck_assert_uint_eq(t1.train.n, 10);
    ck_assert_uint_eq(t1.train.total, 100);
    ck_assert_uint_eq(t1.dev.n, 100); /* max_dev 0: all */
    bool differ = false;
    for (size_t i = 0; i < 10; i++) {
        ck_assert_str_eq(t1.train.ex[i].a, t2.train.ex[i].a);
        if (i > 0)
            ck_assert_uint_gt(t1.train.ex[i].id, t1.train.ex[i - 1].id); /* file order */
        differ |= strcmp(t1.train.ex[i].a, t3.train.ex[i].a) != 0;
    }
    ck_assert(differ);
    task_data_free(&t1);
    task_data_free(&t2);
    task_data_free(&t3);
}
END_TEST

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

/* ------------------------------------------------------------------ WordNet */

/* Real lines of /usr/share/wordnet (WordNet 3.0), trailing spaces included. */
static const char wn_dog[] =
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ 02083346 n 0000 @ 01317541 "
    "n 0000 #m 02083863 n 0000 #m 07994941 n 0000 ~ 01322604 n 0000 ~ 02084732 n 0000 ~ 02084861 "
    "n 0000 ~ 02085272 n 0000 ~ 02085374 n 0000 ~ 02087122 n 0000 ~ 02103406 n 0000 ~ 02110341 n "
    "0000 ~ 02110806 n 0000 ~ 02110958 n 0000 ~ 02111129 n 0000 ~ 02111277 n 0000 ~ 02111500 n "
    "0000 ~ 02111626 n 0000 ~ 02112497 n 0000 ~ 02112826 n 0000 ~ 02113335 n 0000 ~ 02113978 n "
    "0000 %p 02158846 n 0000 | a member of the genus Canis (probably descended from the common "
    "wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "
    "\"the dog barked all night\"  ";
static const char wn_blunder[] =
    "00074790 04 n 0b blunder 0 blooper 0 bloomer 0 bungle 0 pratfall 0 foul-up 0 fuckup 0 flub "
    "0 botch 0 boner 0 boo-boo 0 019 @ 00070965 n 0000 + 02229001 a 0901 + 02527651 v 0901 + "
    "02527651 v 0808 + 02527651 v 0718 + 02527651 v 0616 + 02527651 v 040d + 00013172 v 0401 + "
    "02566227 v 0103 ~ 00071864 n 0000 ~ 00075283 n 0000 ~ 00075471 n 0000 ~ 00075790 n 0000 ~ "
    "00075912 n 0000 ~ 00076072 n 0000 ~ 00076196 n 0000 ~ 00076323 n 0000 ~ 00076393 n 0000 ~ "
    "00076563 n 0000 | an embarrassing mistake  ";
static const char wn_hegira[] =
    "00060548 04 n 02 Hegira 1 Hejira 1 001 @i 00058743 n 0000 | the flight of Muhammad from "
    "Mecca to Medina in 622 which marked the beginning of the Muslim era; the Muslim calendar "
    "begins in that year  ";
static const char wn_breathe[] =
    "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 * "
    "00004227 v 0000 + 03110323 a 0301 + 00831191 n 0303 + 04080833 n 0301 + 04250850 n 0105 + "
    "00831191 n 0101 ^ 00004227 v 0103 ^ 00005041 v 0103 $ 00002325 v 0000 $ 00002573 v 0000 ~ "
    "00002573 v 0000 ~ 00002724 v 0000 ~ 00002942 v 0000 ~ 00003826 v 0000 ~ 00004032 v 0000 ~ "
    "00004227 v 0000 ~ 00005041 v 0000 ~ 00006697 v 0000 ~ 00007328 v 0000 ~ 00017031 v 0000 02 "
    "+ 02 00 + 08 00 | draw air into, and expel out of, the lungs; \"I can breathe better when "
    "the air is clean\"; \"The patient is respiring\"  ";
static const char wn_aspirate[] = "00003316 29 v 01 aspirate 0 003 @ 00005041 v 0000 + 00836788 n "
                                  "0103 + 02748491 n 0101 01 + 08 00 | suck in (air)  ";
static const char wn_nascent[] =
    "00003356 00 a 01 nascent 0 005 + 07320302 n 0103 ! 00003939 a 0101 & 00003553 a 0000 & "
    "00003700 a 0000 & 00003829 a 0000 |  being born or beginning; \"the nascent chicks\"; \"a "
    "nascent insurgency\"   ";

static char *span(const char *s, struct wn_span sp)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%.*s", (int)sp.len, s + sp.off);
    return buf[k];
}

START_TEST(test_wn_parse_real_lines)
{
    static struct wn_line ln;
    struct err e = {0};
    ck_assert_int_eq(wn_parse_line(&ln, wn_dog, strlen(wn_dog), &e), 0);
    ck_assert_uint_eq(ln.offset, 2084071);
    ck_assert_int_eq(ln.lex_filenum, 5);
    ck_assert_str_eq(wn_lexname(ln.lex_filenum), "noun.animal");
    ck_assert_int_eq(ln.ss_type, 'n');
    ck_assert_int_eq(ln.nwords, 3);
    ck_assert_str_eq(span(wn_dog, ln.words[2]), "Canis_familiaris");
    ck_assert_int_eq(ln.nptrs, 23);
    ck_assert_str_eq(ln.ptrs[0].sym, "@");
    ck_assert_uint_eq(ln.ptrs[1].offset, 1317541);
    ck_assert_str_eq(ln.ptrs[2].sym, "#m");
    ck_assert_str_eq(ln.ptrs[22].sym, "%p");
    ck_assert_str_eq(span(wn_dog, ln.gloss),
                     "a member of the genus Canis (probably descended from the common wolf) that "
                     "has been domesticated by man since prehistoric times; occurs in many "
                     "breeds; \"the dog barked all night\"");

    ck_assert_int_eq(wn_parse_line(&ln, wn_blunder, strlen(wn_blunder), &e), 0);
    ck_assert_int_eq(ln.nwords, 11); /* w_cnt "0b" is hexadecimal */
    ck_assert_str_eq(span(wn_blunder, ln.words[10]), "boo-boo");
    ck_assert_int_eq(ln.nptrs, 19);
    ck_assert_uint_eq(ln.ptrs[6].src_tgt, 0x040d);
    ck_assert_str_eq(span(wn_blunder, ln.gloss), "an embarrassing mistake");

    ck_assert_int_eq(wn_parse_line(&ln, wn_hegira, strlen(wn_hegira), &e), 0);
    ck_assert_str_eq(ln.ptrs[0].sym, "@i");

    ck_assert_int_eq(wn_parse_line(&ln, wn_breathe, strlen(wn_breathe), &e), 0);
    ck_assert_int_eq(ln.ss_type, 'v');
    ck_assert_str_eq(wn_lexname(ln.lex_filenum), "verb.body");
    ck_assert_int_eq(ln.nwords, 4);
    ck_assert_int_eq(ln.nptrs, 21);
    ck_assert_int_eq(ln.nframes, 2);
    ck_assert_int_eq(wn_parse_line(&ln, wn_aspirate, strlen(wn_aspirate), &e), 0);
    ck_assert_int_eq(ln.nframes, 1);
    ck_assert_str_eq(span(wn_aspirate, ln.gloss), "suck in (air)");

    ck_assert_int_eq(wn_parse_line(&ln, wn_nascent, strlen(wn_nascent), &e), 0);
    ck_assert_int_eq(ln.ss_type, 'a');
    ck_assert_str_eq(span(wn_nascent, ln.gloss),
                     "being born or beginning; \"the nascent chicks\"; \"a nascent insurgency\"");
}
END_TEST

START_TEST(test_wn_parse_errors)
{
    static struct wn_line ln;
    struct err e = {0};
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"  1 This software and database is being provided", "license header"},
        {"0208407 05 n 01 dog 0 000 | x", "synset_offset: expected 8 decimal digits, got "
                                          "'0208407'"},
        {"02084071 45 n 01 dog 0 000 | x", "lex_filenum: 45 is not"},
        {"02084071 05 q 01 dog 0 000 | x", "ss_type"},
        {"02084071 05 n zz dog 0 000 | x", "column 15: w_cnt: expected 2 hex digits, got 'zz'"},
        {"02084071 05 n 02 dog 0 000 | x", "lex_id: expected 1 hex digit, got '|'"},
        {"02084071 05 n 01 dog 0 00x | x", "p_cnt"},
        {"02084071 05 n 01 dog 0 002 @ 02083346 n 0000 | x", "pointer 2 of 2 missing"},
        {"02084071 05 n 01 dog 0 001 @@ 02083346 n 0000 | x", "unknown symbol '@@'"},
        {"02084071 05 n 01 dog 0 001 @ 02083346 n 00g0 | x", "source/target"},
        {"02084071 05 n 01 dog 0 000 x", "expected '|'"},
        {"00003316 29 v 01 aspirate 0 000 01 08 00 | suck", "frame 1 of 1: expected '+'"},
        {"02084071 05 n 01 dog 0 000", "expected '|'"},
        {"", "synset_offset: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_clear(&e);
        int rc = wn_parse_line(&ln, bad[i].line, strlen(bad[i].line), &e);
        ck_assert_msg(rc == ERR_FORMAT, "line %zu parsed", i);
        ck_assert_msg(strstr(e.msg, bad[i].want), "line %zu: '%s' lacks '%s'", i, e.msg,
                      bad[i].want);
    }
}
END_TEST

START_TEST(test_wn_gloss_split)
{
    struct wn_span def, ex[8];
    int n;
    const char *g = "a tangible and visible entity; an entity that can cast a shadow; \"it was "
                    "full of rackets, balls and other objects\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "a tangible and visible entity; an entity that can cast a "
                                   "shadow");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "it was full of rackets, balls and other objects");

    g = "a special group delegated to consider some matter; \"a committee is a group that keeps "
        "minutes and loses hours\" - Milton Berle";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "a special group delegated to consider some matter");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "a committee is a group that keeps minutes and loses hours");

    g = "draw air into, and expel out of, the lungs; \"I can breathe better\"; \"The patient is "
        "respiring\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(span(g, ex[1]), "The patient is respiring");

    g = "\"only an example\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_uint_eq(def.len, 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "only an example");

    g = "suck in (air)";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "suck in (air)");
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_wn_split_hash)
{
    size_t cnt[3] = {0};
    for (uint32_t off = 0; off < 30000; off++) {
        int s = wn_split_of('n', off);
        ck_assert_int_eq(s, wn_split_of('n', off));
        cnt[s]++;
    }
    ck_assert_int_eq(wn_split_of('s', 3553), wn_split_of('a', 3553));
    /* 80 / 10 / 10 within a few percent */
    ck_assert_uint_gt(cnt[WN_TRAIN], 23000);
    ck_assert_uint_lt(cnt[WN_TRAIN], 25000);
    ck_assert_uint_gt(cnt[WN_DEV], 2600);
    ck_assert_uint_gt(cnt[WN_TEST], 2600);
}
END_TEST

START_TEST(test_wn_missing)
{
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("no-wordnet");
    struct task_data t;
    struct err e = {0};
    ck_assert_int_eq(load("wn-pos", &p, &t, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.noun"));
    ck_assert_ptr_nonnull(strstr(e.msg, "install the Debian package wordnet-base"));
}
END_TEST

/* A small database written in the real format (offsets are byte offsets). */
static void wn_fixture(void)
{
    /* nouns: 0 entity (root), 1 animal @0, 2 dog @1, 3 cat @1, 4 rock @0 */
    static const char *const defs[] = {"that which exists", "a living organism that moves",
                                       "a domesticated canine", "a small feline; \"the cat sat\"",
                                       "a mass of stone"};
    static const int hyper[] = {-1, 0, 1, 1, 0};
    /* the fields before the gloss have a fixed width, so the offsets can be found
     * from a first rendering with placeholder hypernym offsets */
    char text[4096];
    uint32_t off[5] = {0};
    for (int pass = 0; pass < 2; pass++) {
        size_t len = (size_t)snprintf(text, sizeof text, "  1 license header line  \n");
        for (int i = 0; i < 5; i++) {
            off[i] = (uint32_t)len;
            if (hyper[i] >= 0)
                len += (size_t)snprintf(text + len, sizeof text - len,
                                        "%08u 03 n 01 w%d 0 001 @ %08u n 0000 | %s  \n",
                                        (unsigned)off[i], i, (unsigned)off[hyper[i]], defs[i]);
            else
                len += (size_t)snprintf(text + len, sizeof text - len,
                                        "%08u 03 n 01 w%d 0 000 | %s  \n", (unsigned)off[i], i,
                                        defs[i]);
        }
    }
    put("wn/data.noun", text, 0);
    put("wn/data.verb", "  1 header\n", 0);
    put("wn/data.adj", "", 1);
    char adv[256];
    snprintf(adv, sizeof adv, "%08u 02 r 01 fast 0 000 | quickly; \"run fast\"  \n", 0u);
    put("wn/data.adv", adv, 0);
}

START_TEST(test_wn_fixture_db)
{
    wn_fixture();
    struct wordnet wn;
    struct err e = {0};
    /* data.adj holds one NUL byte: a malformed line */
    ck_assert_int_eq(wn_load(&wn, path_of("wn"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.adj:1: column 1: NUL byte"));
    put("wn/data.adj", "  1 header\n", 0);
    ck_assert_msg(wn_load(&wn, path_of("wn"), &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(wn.n, 6);
    long dog = wn_find(&wn, 'n', wn.syn[2].offset);
    ck_assert_int_eq(dog, 2);
    ck_assert_uint_eq(wn.syn[2].nhyper, 1);
    ck_assert_uint_eq(wn.hyper[wn.syn[2].hyper0], 1);
    ck_assert_str_eq(wn.syn[3].def, "a small feline");
    ck_assert_str_eq(wn.syn[3].examples, "the cat sat");
    ck_assert_int_eq(wn.syn[5].pos, 'r');
    ck_assert_int_eq(wn_find(&wn, 'n', 12345), -1);
    wn_free(&wn);

    char **lines;
    size_t n;
    ck_assert_int_eq(wn_corpus(path_of("wn"), &lines, &n, &e), 0);
    ck_assert_uint_eq(n, 8); /* 6 definitions + 2 examples */
    ck_assert_str_eq(lines[4], "the cat sat");
    ck_assert_str_eq(lines[7], "run fast");
    wn_corpus_free(lines, n);

    /* an edited file: the offset no longer matches */
    put("wn/data.adv", "00000001 02 r 01 fast 0 000 | quickly  \n", 0);
    ck_assert_int_eq(wn_load(&wn, path_of("wn"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.adv:1: synset_offset 00000001 is not the line's "
                                        "byte offset 0"));
}
END_TEST

static bool have_wordnet(void)
{
    if (access(WN_DEFAULT_DIR "/data.noun", R_OK) == 0)
        return true;
    fprintf(stderr, "tasks: skipping the installed-WordNet test: " WN_DEFAULT_DIR
                    "/data.noun is absent (install wordnet-base)\n");
    return false;
}

static uint64_t ksplit(uint64_t key)
{
    return (uint64_t)wn_split_of((char)(key >> 32), (uint32_t)key);
}

struct def_key {
    const char *def;
    uint64_t key;
    int count;
};

static int dk_cmp(const void *a, const void *b)
{
    return strcmp(((const struct def_key *)a)->def, ((const struct def_key *)b)->def);
}

START_TEST(test_wn_installed_no_leak)
{
    if (!have_wordnet())
        return;
    struct task_params p;
    task_params_init(&p);
    struct task_data t;
    struct err e = {0};
    /* supersense: every example is one synset; its split is its hash's, so no
     * synset can be in two splits */
    ck_assert_msg(load("wn-supersense", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_gt(t.train.n, 80000);
    const struct split *sp[3] = {&t.train, &t.dev, &t.test};
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < sp[s]->n; i++) {
            ck_assert_uint_eq(ksplit(sp[s]->ex[i].id), (uint64_t)s);
            ck_assert_int_lt(sp[s]->ex[i].label, 45);
        }
    task_data_free(&t);

    /* hypernym: pairs follow their first synset; train pairs hold train synsets only */
    struct wordnet wn;
    ck_assert_int_eq(wn_load(&wn, NULL, &e), 0);
    struct def_key *dk = malloc(wn.n * sizeof *dk);
    for (size_t i = 0; i < wn.n; i++)
        dk[i] = (struct def_key){wn.syn[i].def, wn_key(&wn, i), 1};
    qsort(dk, wn.n, sizeof *dk, dk_cmp);
    for (size_t i = 1; i < wn.n; i++)
        if (strcmp(dk[i].def, dk[i - 1].def) == 0)
            dk[i].count = dk[i - 1].count = 2; /* shared definition: not identifiable */
    p.seed = 3;
    ck_assert_msg(load("wn-hypernym", &p, &t, &e) == 0, "%s", e.msg);
    size_t pos = 0, checked = 0;
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < sp[s]->n; i++) {
            const struct example *x = &sp[s]->ex[i];
            ck_assert_uint_eq(ksplit(x->id), (uint64_t)s);
            if (s == 0) {
                struct def_key q = {x->b, 0, 0};
                const struct def_key *hit = bsearch(&q, dk, wn.n, sizeof *dk, dk_cmp);
                ck_assert_ptr_nonnull(hit);
                if (hit->count == 1) {
                    ck_assert_uint_eq(ksplit(hit->key), WN_TRAIN);
                    checked++;
                }
                pos += x->label == 1;
            }
        }
    ck_assert_uint_gt(checked, t.train.n * 9 / 10);
    ck_assert_uint_eq(2 * pos, t.train.n); /* balanced */
    task_data_free(&t);
    free(dk);
    wn_free(&wn);
}
END_TEST

START_TEST(test_wn_tasks_fixture)
{
    wn_fixture();
    put("wn/data.adj", "  1 header\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("wn");
    struct task_data sup, pos;
    struct err e = {0};
    ck_assert_msg(load("wn-supersense", &p, &sup, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(load("wn-pos", &p, &pos, &e), 0);
    ck_assert_uint_eq(sup.train.n + sup.dev.n + sup.test.n, 6);
    const struct split *ss[3] = {&sup.train, &sup.dev, &sup.test};
    const struct split *ps[3] = {&pos.train, &pos.dev, &pos.test};
    for (int s = 0; s < 3; s++) {
        ck_assert_uint_eq(ss[s]->n, ps[s]->n);
        for (size_t i = 0; i < ss[s]->n; i++) {
            const struct example *x = &ss[s]->ex[i];
            bool adverb = strcmp(x->a, "quickly") == 0;
            ck_assert_str_eq(sup.label_names[x->label], adverb ? "adv.all" : "noun.Tops");
            ck_assert_str_eq(pos.label_names[ps[s]->ex[i].label], adverb ? "r" : "n");
            ck_assert_ptr_null(x->b);
            ck_assert_uint_eq(ksplit(x->id), (uint64_t)s);
        }
    }
    task_data_free(&sup);
    task_data_free(&pos);
}
END_TEST

START_TEST(test_wn_hypernym_determinism)
{
    wn_fixture();
    put("wn/data.adj", "  1 header\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("wn");
    struct task_data a, b;
    struct err e = {0};
    ck_assert_msg(load("wn-hypernym", &p, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(load("wn-hypernym", &p, &b, &e), 0);
    const struct split *sa[3] = {&a.train, &a.dev, &a.test}, *sb[3] = {&b.train, &b.dev, &b.test};
    size_t total = 0;
    for (int s = 0; s < 3; s++) {
        ck_assert_uint_eq(sa[s]->n, sb[s]->n);
        for (size_t i = 0; i < sa[s]->n; i++) {
            ck_assert_str_eq(sa[s]->ex[i].b, sb[s]->ex[i].b);
            if (sa[s]->ex[i].label == 1) /* a positive pairs x with its hypernym */
                ck_assert(strcmp(sa[s]->ex[i].b, "a living organism that moves") == 0 ||
                          strcmp(sa[s]->ex[i].b, "that which exists") == 0);
        }
        total += sa[s]->n;
    }
    ck_assert_uint_gt(total, 0);
    task_data_free(&a);
    task_data_free(&b);
}
END_TEST

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

Suite *tasks_suite(void)
{
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_registry_table);
    tcase_add_test(tc, test_registry_lookup_error);
    tcase_add_test(tc, test_registry_print);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("metrics");
    tcase_add_test(tc, test_metric_accuracy_f1);
    tcase_add_test(tc, test_metric_macro_f1);
    tcase_add_test(tc, test_metric_mcc);
    tcase_add_test(tc, test_metric_correlations);
    tcase_add_test(tc, test_metrics_compute_primary);
    suite_add_tcase(s, tc);

    tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_tsv_csv_quoting);
    tcase_add_test(tc, test_tsv_bom_crlf_empty_lines);
    tcase_add_test(tc, test_tsv_malformed);
    tcase_add_test(tc, test_tsv_line_limit);
    tcase_add_test(tc, test_tsv_jsonl);
    suite_add_tcase(s, tc);

    tc = tcase_create("glue");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_glue_all_tasks);
    tcase_add_test(tc, test_glue_errors);
    tcase_add_test(tc, test_glue_subsample);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_file_csv);
    tcase_add_test(tc, test_file_jsonl_regression);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("wordnet");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, test_wn_parse_real_lines);
    tcase_add_test(tc, test_wn_parse_errors);
    tcase_add_test(tc, test_wn_gloss_split);
    tcase_add_test(tc, test_wn_split_hash);
    tcase_add_test(tc, test_wn_missing);
    tcase_add_test(tc, test_wn_fixture_db);
    tcase_add_test(tc, test_wn_tasks_fixture);
    tcase_add_test(tc, test_wn_hypernym_determinism);
    tcase_add_test(tc, test_wn_installed_no_leak);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("synthetic");
    tcase_add_test(tc, test_synthetic_tasks);
    tcase_add_test(tc, test_split_subsample);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("batching");
    tcase_add_test(tc, test_batching_pad_and_count);
    tcase_add_test(tc, test_batching_epochs);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
