/*
 * HTML pages (harness/report/report_html.h, history.h, history_html.h) and `peftbench ls`,
 * from a results directory written by hand (results.csv rows, trials/<id>.json, plots/ with
 * figures.tsv and an SVG carrying an XML prolog and DOCTYPE, sweep.yaml):
 *   - the pages are well-formed: a strict checker (below) balances every tag outside
 *     script/style, knows the void elements, and accepts '&' only as an entity;
 *   - everything from files is escaped: a method label "<script>alert(1)</script>", a
 *     message with markup, a sweep.yaml and a figure title holding "</pre><script>" all show
 *     as text -- the page holds exactly one <script> element, its own;
 *   - an SVG with active content is not inlined; the prolog of a good one is stripped;
 *   - history: appending a results dir writes one CSV keyed by date, commit and calibration;
 *     appending it again (replay) leaves the history byte for byte the same; the page marks
 *     a metric drop as a regression;
 *   - ls: the sweep with done / failed / to-run (from sweep.yaml's plan) and its best result.
 * The browser test (tests/html/browser_test.sh, `make test-html`) runs the same pages' script.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/report/compare.h"
#include "harness/report/history.h"
#include "harness/report/history_html.h"
#include "harness/report/report.h"
#include "harness/report/report_html.h"
#include "harness/sweep/sweep.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char tmpdir[128];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-html-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_tree(tmpdir);
}

static const char *tpath(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- a strict well-formedness checker ----------------------------------------------------- */

static bool is_void(const char *tag, size_t n)
{
    static const char *const v[] = {"meta", "br", "input", "link", "img", "hr", "wbr", "col"};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (strlen(v[i]) == n && strncmp(tag, v[i], n) == 0)
            return true;
    return false;
}

/* NULL when html is balanced, else a description of the first problem (static buffer). */
static const char *check_html(const char *html)
{
    static char why[200];
    const char *stack[256];
    size_t len[256];
    int depth = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '&') {
            size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#");
            if (n == 0 || p[1 + n] != ';')
                return snprintf(why, sizeof why, "bare '&' at %.30s", p), why;
            continue;
        }
        if (*p != '<')
            continue;
        if (strncmp(p, "<!--", 4) == 0) {
            p = strstr(p, "-->");
            if (!p)
                return "unclosed comment";
            continue;
        }
        if (strncmp(p, "<!DOCTYPE html>", 15) == 0 && p == html) {
            p += 14;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
        if (n == 0)
            return snprintf(why, sizeof why, "'<' that is not a tag: %.30s", p), why;
        const char *end = strchr(name, '>');
        if (!end)
            return "unterminated tag";
        if (closing) {
            if (depth == 0 || len[depth - 1] != n || strncmp(stack[depth - 1], name, n) != 0)
                return snprintf(why, sizeof why, "</%.*s> closes <%.*s>", (int)n, name,
                                depth ? (int)len[depth - 1] : 4, depth ? stack[depth - 1] : "none"),
                       why;
            depth--;
        } else if (end[-1] != '/' && !is_void(name, n)) {
            if (depth == 256)
                return "too deep";
            stack[depth] = name, len[depth++] = n;
            if ((n == 6 && !strncmp(name, "script", 6)) || (n == 5 && !strncmp(name, "style", 5))) {
                char close[16];
                snprintf(close, sizeof close, "</%.*s>", (int)n, name);
                end = strstr(end, close); /* raw text: skipped */
                if (!end)
                    return "unclosed script/style";
                end--;
            }
        }
        p = end;
    }
    if (depth)
        return snprintf(why, sizeof why, "<%.*s> never closed", (int)len[depth - 1], stack[depth - 1]), why;
    return NULL;
}

START_TEST(checker_catches_broken_markup)
{
    ck_assert_ptr_null(check_html("<!DOCTYPE html><p>a &amp; b<br><svg><rect/></svg></p>"));
    ck_assert_ptr_nonnull(check_html("<p><b>x</p></b>"));
    ck_assert_ptr_nonnull(check_html("<p>a & b</p>"));
    ck_assert_ptr_nonnull(check_html("<p>1 < 2</p>"));
    ck_assert_ptr_nonnull(check_html("<div>"));
}
END_TEST

/* ---- fixtures ------------------------------------------------------------------------------- */

static const char header[] =
    "sweep,trial_id,index,status,task,method,seed,model,primary_metric,primary_value,"
    "params_trainable,params_total,trainable_pct,train_tokens_per_s,mem_peak_total,"
    "calibration_gflops,diverged_step,message,git_commit,started_at,lora.rank\n";

/* A results dir of 6 trials under tmpdir/name; metric shifted by shift. */
static const char *fixture(const char *name, const char *commit, const char *date, double shift)
{
    const char *dir = tpath(name);
    char p[700];
    ck_assert_int_eq(sh("mkdir -p '%s/trials' '%s/plots'", dir, dir), 0);
    snprintf(p, sizeof p, "%s/results.csv", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(header, f);
    for (int i = 0; i < 6; i++) {
        const char *st = i == 3 ? "failed" : i == 5 ? "diverged" : "ok";
        fprintf(f, "fix<i>,%016x,%d,%s,wn-pos,%s,%d,builtin:tiny-bert,accuracy,", 4096 + i, i, st,
                i == 1 ? "\"<script>alert(1)</script>\"" : i % 2 ? "ia3" : "lora", i % 3 + 1);
        if (!strcmp(st, "ok"))
            fprintf(f, "%.4f", 0.6 + 0.05 * i + shift);
        fprintf(f, ",%d,100000,%.3f,2000,3000000,50,%s,%s,%s,%s,%d\n", 500 + i, 0.5, i == 5 ? "7" : "",
                i == 3 ? "\"oom <b>here</b> & \"\"there\"\"\"" : "", commit, date, 1 << (i % 3));
        char rec[700];
        snprintf(rec, sizeof rec, "%s/trials/%016x.json", dir, 4096 + i);
        char text[200];
        snprintf(text, sizeof text, "{\"trial_id\": \"%016x\", \"status\": \"%s\"}\n", 4096 + i, st);
        put(rec, text);
    }
    fclose(f);
    snprintf(p, sizeof p, "%s/sweep.yaml", dir);
    put(p, "sweep: fix\nmodel: builtin:tiny-bert  # </pre><script>alert(2)</script> & more\n");
    snprintf(p, sizeof p, "%s/plots/figures.tsv", dir);
    put(p, "bars\tBars <script>alert(3)</script>\nevil\tEvil\n");
    snprintf(p, sizeof p, "%s/plots/bars.svg", dir);
    put(p, "<?xml version=\"1.0\" standalone=\"no\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG "
           "1.1//EN\" \"x\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
           "<rect width=\"5\" height=\"5\"/><text>a &lt; b</text></svg>\n");
    snprintf(p, sizeof p, "%s/plots/evil.svg", dir);
    put(p, "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect onload=\"alert(4)\"/></svg>\n");
    return dir;
}

START_TEST(report_html_is_well_formed_and_escaped)
{
    const char *dir = fixture("r", "abc1234", "2025-01-01T00:00:00Z", 0.0);
    struct err e;
    ck_assert_msg(report_write(dir, &e) == ERR_OK, "%s", e.msg); /* report.md and report.html */
    char p[700];
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = slurp(p);
    const char *why = check_html(html);
    ck_assert_msg(why == NULL, "report.html: %s", why);
    ck_assert_int_eq(count(html, "<script"), 1); /* the page's own, at the end */
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;/pre&gt;&lt;script&gt;alert(2)"));
    ck_assert_ptr_nonnull(strstr(html, "Bars &lt;script&gt;alert(3)"));
    ck_assert_ptr_nonnull(strstr(html, "oom &lt;b&gt;here&lt;/b&gt; &amp; &quot;there&quot;"));
    ck_assert_ptr_nonnull(strstr(html, "fix&lt;i&gt;"));
    ck_assert_ptr_null(strstr(html, "<?xml"));
    ck_assert_ptr_null(strstr(html, "<!DOCTYPE svg"));
    ck_assert_int_eq(count(html, "<svg"), 1); /* bars inlined, evil refused */
    ck_assert_ptr_null(strstr(html, "alert(4)"));
    ck_assert_ptr_nonnull(strstr(html, "Not inlined"));
    ck_assert_int_eq(count(html, "href=\"trials/000000000000100"), 6 + 2); /* table + problems */
    ck_assert_ptr_nonnull(strstr(html, "non-finite loss at step 7"));
    ck_assert_ptr_null(strstr(html, "src=\"http")); /* nothing fetched */
    free(html);
}
END_TEST

/* The history files' concatenated bytes. */
static char *history_bytes(const char *root, int *nfiles)
{
    char list[700];
    snprintf(list, sizeof list, "%s.list", root);
    ck_assert_int_eq(sh("cd '%s/history' && ls | tee '%s' | xargs cat > '%s.all'", root, list, root), 0);
    char *names = slurp(list);
    *nfiles = count(names, "\n");
    free(names);
    snprintf(list, sizeof list, "%s.all", root);
    return slurp(list);
}

START_TEST(history_appends_replays_and_marks)
{
    const char *a = fixture("a", "aaa1111", "2025-01-01T02:00:00Z", 0.0);
    const char *b = fixture("b", "bbb2222", "2025-01-02T02:00:00Z", -0.05);
    const char *root = tpath("night");
    struct err e;
    char name[512];
    ck_assert_msg(history_append(a, root, name, sizeof name, &e) == ERR_OK, "%s", e.msg);
    ck_assert_str_eq(name, "2025-01-01T02-00-00Z_aaa1111_50.0.csv");
    ck_assert_msg(history_append(b, root, name, sizeof name, &e) == ERR_OK, "%s", e.msg);
    int n1, n2;
    char *before = history_bytes(root, &n1);
    ck_assert_int_eq(n1, 2);
    ck_assert_int_eq(strncmp(before, "run_date,git_commit,calibration_gflops,", 39), 0);
    ck_assert_msg(history_append(a, root, name, sizeof name, &e) == ERR_OK, "%s", e.msg);
    ck_assert_msg(history_append(b, root, name, sizeof name, &e) == ERR_OK, "%s", e.msg);
    char *after = history_bytes(root, &n2);
    ck_assert_int_eq(n2, 2);
    ck_assert_str_eq(before, after);
    struct compare_opts o;
    compare_opts_default(&o);
    ck_assert_msg(history_html_write(root, &o, &e) == ERR_OK, "%s", e.msg);
    char p[700];
    snprintf(p, sizeof p, "%s/history.html", root);
    char *html = slurp(p);
    const char *why = check_html(html);
    ck_assert_msg(why == NULL, "history.html: %s", why);
    ck_assert_int_eq(count(html, "<script"), 1);
    ck_assert_int_eq(count(html, "data-status=\"regression\""), 4); /* the 4 ok trials lost 0.05 */
    ck_assert_int_ge(count(html, "<polyline"), 6 * 4);
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;alert(1)"));
    free(html);
    free(before);
    free(after);
}
END_TEST

START_TEST(ls_lists_progress_and_best)
{
    const char *dir = fixture("results/fix", "abc1234", "2025-01-01T00:00:00Z", 0.0);
    char p[700];
    snprintf(p, sizeof p, "%s/sweep.yaml", dir);
    put(p, "sweep: fixplan\nmodel: builtin:tiny-bert\ntasks: [wn-pos]\nseeds: [1, 2, 3]\n"
           "methods: [lora]\n");
    struct sweep sw;
    struct sweep_opts so = {.allow_large = true};
    struct err e;
    memset(&sw, 0, sizeof sw);
    ck_assert_msg(sweep_load(&sw, p, &so, &e) == ERR_OK, "%s", e.msg);
    ck_assert_uint_eq(sw.ntrials, 3);
    snprintf(p, sizeof p, "%s/trials/%s.json", dir, sw.trials[0].id); /* one of 3 done */
    put(p, "{\"trial_id\": \"x\", \"status\": \"ok\"}\n");
    sweep_free(&sw);
    const char *out = tpath("ls.out");
    ck_assert_int_eq(sh("'%s' ls '%s/results' > '%s' 2>&1", peftbench_bin(), tmpdir, out), 0);
    char *text = slurp(out);
    ck_assert_msg(strstr(text, "SWEEP") && strstr(text, "TO-RUN"), "%s", text);
    /* 4 ok + 1 diverged done, 1 failed, 2 of the plan's 3 to run */
    ck_assert_msg(strstr(text, "fix<i>                        5      1      2"), "%s", text);
    ck_assert_msg(strstr(text, "best: wn-pos accuracy 0.8000 (lora rank=2)"), "%s", text);
    ck_assert_msg(strstr(text, "2025-01-01T00:00:00Z"), "%s", text);
    free(text);
    ck_assert_int_eq(sh("'%s' ls '%s/none' > /dev/null 2>&1", peftbench_bin(), tmpdir), 2);
}
END_TEST

Suite *html_suite(void)
{
    Suite *s = suite_create("html");
    TCase *tc = tcase_create("pages");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checker_catches_broken_markup);
    tcase_add_test(tc, report_html_is_well_formed_and_escaped);
    tcase_add_test(tc, history_appends_replays_and_marks);
    tcase_add_test(tc, ls_lists_progress_and_best);
    suite_add_tcase(s, tc);
    return s;
}
