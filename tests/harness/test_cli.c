/*
 * The command line of the peftbench binary (PEFTBENCH_BIN): `help CMD`, `CMD --help` and
 * `CMD -h` for every command listed by `peftbench help` (so a new command is covered without
 * editing this file), the top-level help, exit statuses of usage errors, `methods NAME` and
 * `tasks NAME` with did-you-mean, a repeated --trial, integer ranges printed as integers, and
 * integral floats such as `max_train: 1e3` accepted where an integer is expected, and the
 * progress lines of `run` (varying settings, plan index kept across a resume).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cli_util.h"
#include "tests/suites.h"

static char root[128]; /* per-suite temp dir: outputs, a tiny model, sweep files */
static char bin[1024];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t k = fread(b, 1, (size_t)n, f);
    b[k] = '\0';
    fclose(f);
    return b;
}

/* Run `peftbench ARGS` with stdout and stderr in root/out.txt and root/err.txt. */
static int pb(const char *args)
{
    return sh("cd %s && %s %s >out.txt 2>err.txt", root, bin, args);
}

static char *out_text(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/out.txt", root);
    return slurp(p);
}

static char *err_text(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/err.txt", root);
    return slurp(p);
}

/* A word-piece vocabulary of specials and letters, and a 1-layer model built from it. */
static void suite_setup(void)
{
    const char *b = getenv("PEFTBENCH_BIN");
    snprintf(bin, sizeof bin, "%s", b && b[0] == '/' ? b : "");
    if (!bin[0]) { /* relative: make it absolute, the commands run in root */
        char *cwd = realpath(".", NULL);
        snprintf(bin, sizeof bin, "%s/%s", cwd, b ? b : "build/peftbench");
        free(cwd);
    }
    snprintf(root, sizeof root, "/tmp/peftbench-cli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    char path[256];
    snprintf(path, sizeof path, "%s/vocab.txt", root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (char c = 'a'; c <= 'z'; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    fclose(f);
    ck_assert_int_eq(pb("init-model model --vocab vocab.txt --layers 1 --hidden 16 --heads 2 "
                        "--ffn 16 --max-pos 64"),
                     0);
}

static void suite_teardown(void)
{
    rm_tree(root);
}

/* The command names of `peftbench help`: the indented lines after "commands:". */
static int command_names(char names[][32], int max)
{
    ck_assert_int_eq(pb("help"), 0);
    char *t = out_text();
    char *p = strstr(t, "commands:\n");
    ck_assert_ptr_nonnull(p);
    int n = 0;
    for (p = strchr(p, '\n') + 1; *p == ' ' && n < max; p = strchr(p, '\n') + 1) {
        ck_assert_int_eq(sscanf(p, " %31s", names[n]), 1);
        n++;
    }
    free(t);
    return n;
}

/* ---- help ------------------------------------------------------------------------------ */

START_TEST(help_for_every_command)
{
    char names[64][32];
    int n = command_names(names, 64);
    ck_assert_int_ge(n, 17);
    const char *forms[] = {"help %s", "%s --help", "%s -h"};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            char args[128], want[2200];
            snprintf(args, sizeof args, forms[k], names[i]);
            int rc = pb(args);
            char *o = out_text(), *e = err_text();
            snprintf(want, sizeof want, "usage: peftbench %s", names[i]);
            ck_assert_msg(rc == 0, "`peftbench %s` exited %d: %s", args, rc, e);
            ck_assert_msg(strncmp(o, want, strlen(want)) == 0, "`peftbench %s` printed: %s", args,
                          o);
            ck_assert_msg(strstr(o, "exit status: 0") != NULL, "`%s`: no exit statuses", args);
            ck_assert_msg(e[0] == '\0', "`peftbench %s` wrote to stderr: %s", args, e);
            free(o), free(e);
        }
}
END_TEST

/* --help wins over the other arguments: nothing is run, read or written. */
START_TEST(help_anywhere_runs_nothing)
{
    ck_assert_int_eq(pb("collect --help"), 0);
    ck_assert_int_ne(sh("test -e %s/--help", root), 0);
    ck_assert_int_eq(pb("run nowhere.yaml --trial 3 --help"), 0);
    char *o = out_text();
    ck_assert_ptr_nonnull(strstr(o, "usage: peftbench run SWEEP.yaml"));
    ck_assert_ptr_nonnull(strstr(o, "128+N"));
    free(o);
}
END_TEST

START_TEST(top_level_help_lists_commands)
{
    const char *forms[] = {"help", "--help", "-h"};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(pb(forms[k]), 0);
        char *o = out_text();
        ck_assert_ptr_nonnull(strstr(o, "usage: peftbench <command>"));
        ck_assert_ptr_nonnull(strstr(o, "\n  run "));
        ck_assert_ptr_nonnull(strstr(o, "\n  help "));
        ck_assert_ptr_nonnull(strstr(o, "peftbench CMD --help"));
        free(o);
    }
    /* no command: the list on stderr, exit 2 */
    ck_assert_int_eq(pb(""), 2);
    char *o = out_text(), *e = err_text();
    ck_assert_str_eq(o, "");
    ck_assert_ptr_nonnull(strstr(e, "commands:"));
    free(o), free(e);
}
END_TEST

START_TEST(unknown_command_did_you_mean)
{
    ck_assert_int_eq(pb("rnu x.yaml"), 2);
    char *e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "unknown command 'rnu' (did you mean 'run'?)"));
    free(e);
    ck_assert_int_eq(pb("help plto"), 2);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "unknown command 'plto' (did you mean 'plot'?)"));
    free(e);
}
END_TEST

/* ---- methods NAME, tasks NAME ------------------------------------------------------------ */

START_TEST(methods_one_entry)
{
    ck_assert_int_eq(pb("methods lora"), 0);
    char *o = out_text();
    ck_assert_int_eq(strncmp(o, "lora\n", 5), 0);
    ck_assert_ptr_nonnull(strstr(o, "    rank "));
    ck_assert_ptr_null(strstr(o, "\nia3\n"));
    free(o);
    ck_assert_int_eq(pb("methods lroa"), 2);
    char *e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "unknown method 'lroa' (did you mean 'lora'?)"));
    free(e);
    ck_assert_int_eq(pb("methods nosuchthing"), 2);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "unknown method 'nosuchthing'; valid: "));
    free(e);
    ck_assert_int_eq(pb("methods lora ia3"), 2);
}
END_TEST

START_TEST(tasks_one_entry)
{
    ck_assert_int_eq(pb("tasks syn-sentiment"), 0);
    char *o = out_text();
    ck_assert_int_eq(strncmp(o, "syn-sentiment ", 14), 0);
    ck_assert_ptr_null(strstr(o, "syn-match"));
    free(o);
    ck_assert_int_eq(pb("tasks cloa"), 2);
    char *e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "unknown task 'cloa' (did you mean 'cola'?)"));
    free(e);
    ck_assert_int_eq(pb("tasks --bogus"), 2);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "usage: peftbench tasks [NAME]"));
    free(e);
}
END_TEST

/* ---- run options -------------------------------------------------------------------------- */

START_TEST(repeated_trial_is_an_error)
{
    ck_assert_int_eq(pb("run s.yaml --trial 0 --trial 1"), 2);
    char *e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "--trial given twice"));
    free(e);
    ck_assert_int_eq(pb("plan s.yaml --trial 2 --trial 2"), 2);
    ck_assert_int_eq(pb("run s.yaml --trial-id 0123456789abcdef --trial-id 0123456789abcdef"), 2);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "--trial-id given twice"));
    free(e);
    ck_assert_int_ne(sh("test -e %s/results", root), 0);
}
END_TEST

/* ---- numbers -------------------------------------------------------------------------------- */

/* Every "int" row of `methods` shows its range as two integers. */
START_TEST(integer_ranges_print_as_integers)
{
    ck_assert_int_eq(pb("methods"), 0);
    char *o = out_text();
    ck_assert_ptr_nonnull(strstr(o, "[1, 65536]")); /* lora.rank */
    int nint = 0;
    for (char *line = strtok(o, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, " int "))
            continue;
        nint++;
        char *r = strchr(line, '[');
        ck_assert_msg(r != NULL, "no range: %s", line);
        long lo, hi;
        char close;
        ck_assert_msg(sscanf(r, "[%ld, %ld%c", &lo, &hi, &close) == 3 && close == ']',
                      "range not printed as integers: %s", line);
    }
    ck_assert_int_ge(nint, 5);
    free(o);
}
END_TEST

static const char sweep_fmt[] = "sweep: c\n"
                                "model: model\n"
                                "tasks: [syn-sentiment]\n"
                                "train: {epochs: 1, max_train: %s, max_seq_len: 16}\n"
                                "methods:\n"
                                "  - {method: lora, rank: [2, %s]}\n";

static int plan_sweep(const char *max_train, const char *rank)
{
    char path[256], text[512];
    snprintf(path, sizeof path, "%s/s.yaml", root);
    snprintf(text, sizeof text, sweep_fmt, max_train, rank);
    test_write_file(path, text);
    return pb("plan s.yaml");
}

START_TEST(integral_float_accepted_as_integer)
{
    ck_assert_int_eq(plan_sweep("1e3", "4.0"), 0);
    char *o = out_text();
    ck_assert_ptr_nonnull(strstr(o, "rank=4"));
    free(o);
    ck_assert_int_eq(plan_sweep("1000.0", "1e1"), 0);
    o = out_text();
    ck_assert_ptr_nonnull(strstr(o, "rank=10"));
    free(o);
}
END_TEST

START_TEST(fractional_value_refused_with_location)
{
    ck_assert_int_ne(plan_sweep("1.5", "4"), 0);
    char *e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "s.yaml:4:31: train.max_train: expected an integer"));
    ck_assert_ptr_nonnull(strstr(e, "found '1.5'"));
    free(e);
    ck_assert_int_ne(plan_sweep("10", "2.5"), 0);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "s.yaml:6:"));
    ck_assert_ptr_nonnull(strstr(e, "expected an integer, found '2.5'"));
    free(e);
    /* an out-of-range integer names its range as integers */
    ck_assert_int_ne(plan_sweep("10", "1e5"), 0);
    e = err_text();
    ck_assert_ptr_nonnull(strstr(e, "lora.rank = 100000 is outside the allowed range [1, 65536]"));
    free(e);
}
END_TEST

/* ---- progress lines ----------------------------------------------------------------------- */

/* A 2 x 2 grid (rank x lr): lines name rank and lr, not the settings every trial shares, and
 * number trials by plan index out of the whole sweep, also when a rerun resumes. */
START_TEST(progress_names_varying_settings_and_plan_index)
{
    char path[256];
    snprintf(path, sizeof path, "%s/p.yaml", root);
    test_write_file(path, "sweep: p\nmodel: model\ntasks: [syn-sentiment]\n"
                     "train: {epochs: 1, batch_size: 16, max_train: 32, max_dev: 16, "
                     "max_seq_len: 16}\n"
                     "methods:\n  - {method: lora, rank: [2, 4], train: {lr: [1e-3, 2e-3]}}\n");
    ck_assert_int_eq(pb("run p.yaml --out prog --trial 1"), 0);
    char *o = out_text();
    ck_assert_ptr_nonnull(strstr(o, " trial 2/4 lora rank=2 lr=0.002 syn-sentiment seed 1: "));
    ck_assert_ptr_null(strstr(o, "max_train="));
    free(o);
    ck_assert_int_eq(pb("run p.yaml --out prog"), 0); /* resumes: 3 to run, numbered 1, 3, 4 */
    o = out_text();
    ck_assert_ptr_nonnull(strstr(o, " trial 1/4 lora rank=2 lr=0.001 syn-sentiment"));
    ck_assert_ptr_null(strstr(o, " trial 2/4 "));
    ck_assert_ptr_nonnull(strstr(o, " trial 3/4 lora rank=4 lr=0.001 syn-sentiment"));
    ck_assert_ptr_nonnull(strstr(o, " trial 4/4 "));
    ck_assert_ptr_null(strstr(o, "/3 "));
    free(o);
}
END_TEST

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, help_for_every_command);
    tcase_add_test(tc, help_anywhere_runs_nothing);
    tcase_add_test(tc, top_level_help_lists_commands);
    tcase_add_test(tc, unknown_command_did_you_mean);
    tcase_add_test(tc, methods_one_entry);
    tcase_add_test(tc, tasks_one_entry);
    tcase_add_test(tc, repeated_trial_is_an_error);
    tcase_add_test(tc, integer_ranges_print_as_integers);
    tcase_add_test(tc, integral_float_accepted_as_integer);
    tcase_add_test(tc, fractional_value_refused_with_location);
    tcase_add_test(tc, progress_names_varying_settings_and_plan_index);
    suite_add_tcase(s, tc);
    return s;
}
