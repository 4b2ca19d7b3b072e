/*
 * Preflight tests (harness/run/preflight.h) through the peftbench binary (PEFTBENCH_BIN):
 * bad sweeps over a tiny model made by the test.  Each asserts exit status 2, that every
 * expected problem is in stderr (several problems of one sweep reported together), and that
 * nothing was written to the results directory.  Also: a good sweep passes, the file task
 * loader is strict about field counts (tasks/filetask.c), `plan` never builds a builtin
 * model and marks recorded trials done.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasks/task.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char root[128]; /* per-suite temp dir: model/, data files, sweeps */

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t k = fread(b, 1, (size_t)n, f);
    b[k] = '\0';
    fclose(f);
    return b;
}

/* text with every "@" replaced by root (sweep and data paths). */
static void expand(char *out, size_t n, const char *text)
{
    size_t o = 0;
    for (const char *s = text; *s && o + sizeof root < n; s++)
        o += (size_t)(*s == '@' ? snprintf(out + o, n - o, "%s", root)
                                : snprintf(out + o, n - o, "%c", *s));
}

/* Write sweep (with @ = root) as root/NAME.yaml and run `peftbench CMD` on it with --out
 * root/NAME.out (run) and without PEFTBENCH_DATA; the exit status, and stderr in *err. */
static int preflight(const char *cmd, const char *name, const char *sweep, char **err)
{
    char text[4096], file[256];
    expand(text, sizeof text, sweep);
    snprintf(file, sizeof file, "%s.yaml", name);
    write_file(file, text);
    int rc = sh("cd %s && env -u PEFTBENCH_DATA %s %s %s/%s.yaml%s%s%s >/dev/null 2>%s/%s.err",
                root, peftbench_bin(), cmd, root, name,
                strcmp(cmd, "run") == 0 ? " --out " : "", strcmp(cmd, "run") == 0 ? root : "",
                strcmp(cmd, "run") == 0 ? "/nothing" : "", root, name);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.err", root, name);
    *err = slurp(path);
    return rc;
}

/* Exit 2, each of the NULL-terminated expected texts in stderr, no results written. */
static void expect_problems(const char *cmd, const char *name, const char *sweep, ...)
{
    char *err;
    int rc = preflight(cmd, name, sweep, &err);
    ck_assert_msg(rc == 2, "%s: exit %d, stderr:\n%s", name, rc, err);
    ck_assert_msg(strstr(err, "found before any training"), "%s: %s", name, err);
    va_list ap;
    va_start(ap, sweep);
    for (const char *want = va_arg(ap, const char *); want; want = va_arg(ap, const char *)) {
        char w[512];
        expand(w, sizeof w, want);
        ck_assert_msg(strstr(err, w), "%s: expected '%s' in stderr:\n%s", name, w, err);
    }
    va_end(ap);
    char out[256];
    struct stat st;
    snprintf(out, sizeof out, "%s/nothing", root);
    ck_assert_msg(stat(out, &st) != 0, "%s: %s was created", name, out);
    free(err);
}

static void suite_setup(void)
{
    snprintf(root, sizeof root, "/tmp/peftbench-preflight-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    write_file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\ngood\nbad\n");
    ck_assert_int_eq(sh("%s init-model %s/model --vocab %s/vocab.txt --layers 1 --hidden 16 "
                        "--heads 2 --ffn 32 --max-pos 64 >/dev/null",
                        peftbench_bin(), root, root),
                     0);
    write_file("train.tsv", "text\tlabel\ngood a\tpos\nbad b\tneg\ngood b\tpos\nbad a\tneg\n");
    write_file("dev.tsv", "text\tlabel\ngood\tpos\nbad\tneg\n");
}

static void suite_teardown(void)
{
    rm_tree(root);
}

/* A sweep over one file task with the given task fields and methods (@ = root). */
#define FILE_SWEEP(task_fields, methods)                                                      \
    "sweep: p\nmodel: @/model\ntasks: [{name: t, " task_fields "}]\n"                          \
    "train: {epochs: 1, max_seq_len: 16}\nmethods: [" methods "]\n"

#define GOOD_TASK "train: @/train.tsv, dev: @/dev.tsv, text: text, label: label"

START_TEST(good_sweep_passes_plan)
{
    char *err;
    int rc = preflight("plan", "good",
                       FILE_SWEEP(GOOD_TASK, "{method: lora, rank: 4}") "plots:\n  - {x: rank}\n",
                       &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
}
END_TEST

START_TEST(missing_train_and_dev_files_both_named)
{
    expect_problems("run", "missing",
                    FILE_SWEEP("train: @/no-train.tsv, dev: @/no-dev.tsv, text: text, label: label",
                               "{method: head}"),
                    "train file @/no-train.tsv: No such file", "dev file @/no-dev.tsv: No such file",
                    NULL);
}
END_TEST

START_TEST(directory_and_fifo_are_not_regular_files)
{
    ck_assert_int_eq(sh("mkdir -p %s/adir && mkfifo %s/afifo.tsv", root, root), 0);
    expect_problems("run", "notreg",
                    FILE_SWEEP("train: @/adir, dev: @/afifo.tsv, text: text, label: label, "
                               "format: tsv",
                               "{method: head}"),
                    "train file @/adir: expected a regular file, found a directory",
                    "dev file @/afifo.tsv: expected a regular file, found a FIFO", NULL);
}
END_TEST

START_TEST(missing_columns_named_with_the_header)
{
    expect_problems("run", "cols",
                    FILE_SWEEP("train: @/train.tsv, dev: @/dev.tsv, text: txt, text_b: other, "
                               "label: lab",
                               "{method: head}"),
                    "@/train.tsv:1: task t: no text column 'txt' (the header has text, label)",
                    "no text_b column 'other'", "no label column 'lab'",
                    "@/dev.tsv:1: task t: no text column 'txt'", NULL);
}
END_TEST

START_TEST(field_counts_must_match_the_header)
{
    write_file("extra_train.tsv", "text\tlabel\ngood a\tpos\nbad\tb\tneg\ngood\tpos\nbad\tneg\n");
    write_file("short_dev.tsv", "text\tlabel\ngood\tpos\nbad\n");
    expect_problems("run", "fields",
                    FILE_SWEEP("train: @/extra_train.tsv, dev: @/short_dev.tsv, text: text, "
                               "label: label",
                               "{method: head}"),
                    "@/extra_train.tsv:3: expected 2 fields (as the header), found 3",
                    "@/short_dev.tsv:3: expected 2 fields (as the header), found 1", NULL);
}
END_TEST

START_TEST(declared_labels_must_match_the_data)
{
    write_file("meh_train.tsv", "text\tlabel\ngood a\tpos\nbad b\tneg\ngood\tmeh\n");
    expect_problems("run", "declared",
                    FILE_SWEEP("train: @/meh_train.tsv, dev: @/dev.tsv, text: text, "
                               "label: label, labels: [pos, neg, neutral]",
                               "{method: head}"),
                    "@/meh_train.tsv:4: label 'meh' is not one of the declared labels of task t",
                    "declared label 'neutral' of task t never occurs in the train split", NULL);
}
END_TEST

START_TEST(dev_and_test_labels_unseen_in_train)
{
    write_file("odd_dev.tsv", "text\tlabel\ngood\tpos\nbad\tmeh\n");
    write_file("odd_test.tsv", "text\tlabel\nbad\tneg\ngood\tPOS\n");
    expect_problems("run", "unseen",
                    FILE_SWEEP("train: @/train.tsv, dev: @/odd_dev.tsv, test: @/odd_test.tsv, "
                               "text: text, label: label",
                               "{method: head}"),
                    "@/odd_dev.tsv:3: label 'meh' never occurs in the train split (@/train.tsv)",
                    "@/odd_test.tsv:3: label 'POS' never occurs in the train split", NULL);
}
END_TEST

START_TEST(empty_splits_name_their_file)
{
    write_file("empty_dev.tsv", "text\tlabel\n");
    write_file("empty_test.tsv", "");
    expect_problems("run", "empty",
                    FILE_SWEEP("train: @/train.tsv, dev: @/empty_dev.tsv, test: @/empty_test.tsv, "
                               "text: text, label: label",
                               "{method: head}"),
                    "@/empty_dev.tsv: the dev split of task t is empty",
                    "@/empty_test.tsv: empty file: expected a header row", NULL);
}
END_TEST

START_TEST(jsonl_keys_and_regression_values)
{
    write_file("r_train.jsonl", "{\"s\": \"good\", \"y\": 1.5}\n{\"s\": \"bad\", \"y\": \"x\"}\n"
                                "{\"s\": \"a\", \"y\": 2}\n");
    write_file("r_dev.jsonl", "{\"s\": \"good\", \"y\": 0.5}\n{\"t\": \"bad\", \"y\": 1}\n");
    expect_problems("run", "jsonl",
                    FILE_SWEEP("train: @/r_train.jsonl, dev: @/r_dev.jsonl, text: s, label: y, "
                               "regression: true",
                               "{method: head}"),
                    "@/r_train.jsonl:2: label column 'y': expected a number (regression), found 'x'",
                    "@/r_dev.jsonl:2: key 's': expected a string, number or boolean, found no such "
                    "key",
                    NULL);
}
END_TEST

START_TEST(glue_tasks_without_data_give_the_advice)
{
    expect_problems("run", "glue",
                    "sweep: g\nmodel: @/model\ntasks: [sst2, rte]\ndata_dir: @/no-glue\n"
                    "train: {epochs: 1, max_seq_len: 16}\nmethods: [{method: head}]\n",
                    "task sst2: cannot read train.tsv in @/no-glue/SST-2",
                    "task rte: cannot read train.tsv in @/no-glue/RTE",
                    "data_dir must hold the GLUE task folders", NULL);
}
END_TEST

START_TEST(glue_tasks_without_data_dir)
{
    expect_problems("plan", "glue2",
                    "sweep: g\nmodel: @/model\ntasks: [cola, mrpc]\n"
                    "train: {epochs: 1, max_seq_len: 16}\nmethods: [{method: head}]\n",
                    "task cola needs the GLUE data directory (data_dir in the sweep file or "
                    "PEFTBENCH_DATA)",
                    "task mrpc needs the GLUE data directory", NULL);
}
END_TEST

START_TEST(lora_rank_and_bottleneck_above_the_model_width)
{
    expect_problems("run", "widths",
                    FILE_SWEEP(GOOD_TASK, "{method: lora, rank: 64}, "
                                          "{method: houlsby, bottleneck: 32}"),
                    "lora.rank = 64 exceeds min(IN, OUT) = 16",
                    "houlsby.bottleneck = 32: expected <= the model's hidden size 16", NULL);
}
END_TEST

START_TEST(phm_divisibility_and_positions)
{
    expect_problems("run", "phm",
                    "sweep: p\nmodel: @/model\ntasks: [{name: t, " GOOD_TASK "}]\n"
                    "train: {epochs: 1, max_seq_len: 100}\n"
                    "methods: [{method: compacter, phm_dim: 3}]\n",
                    "compacter.phm_dim = 3 must divide both the hidden size D = 16",
                    "train.max_seq_len = 100: expected <= the model's 64 positions", NULL);
}
END_TEST

START_TEST(plot_columns_must_exist)
{
    expect_problems("plan", "plots",
                    FILE_SWEEP(GOOD_TASK, "{method: lora, rank: 4}")
                    "plots:\n  - {x: rnak}\n  - {x: rank, y: acuracy}\n",
                    "plots[0].x: no column 'rnak'", "did you mean 'rank'?",
                    "plots[1].y", "'acuracy'", NULL);
}
END_TEST

START_TEST(every_kind_of_problem_in_one_sweep)
{
    write_file("mix_train.tsv", "text\tlabel\ngood\tpos\nbad\tneg\tx\nbad\tneg\n");
    expect_problems("plan", "mix",
                    "sweep: m\nmodel: @/model\n"
                    "tasks: [{name: t, train: @/mix_train.tsv, dev: @/gone.tsv, text: text, "
                    "label: label}, qnli]\ndata_dir: @/no-glue\n"
                    "train: {epochs: 1, max_seq_len: 16}\n"
                    "methods: [{method: lora, rank: 99}]\nplots:\n  - {x: rnak}\n",
                    "@/mix_train.tsv:3: expected 2 fields (as the header), found 3",
                    "dev file @/gone.tsv: No such file", "task qnli: cannot read",
                    "lora.rank = 99 exceeds", "no column 'rnak'", NULL);
}
END_TEST

START_TEST(headerless_column_index_out_of_range)
{
    write_file("nh_train.tsv", "good a\tpos\nbad b\tneg\n");
    expect_problems("run", "noheader",
                    FILE_SWEEP("train: @/nh_train.tsv, dev: @/nh_train.tsv, header: false, "
                               "text: 0, label: 5",
                               "{method: head}"),
                    "@/nh_train.tsv:1: task t: no label column '5' (without a header", NULL);
}
END_TEST

/* skip_bad_rows: the run skips malformed rows, so preflight does not count them. */
START_TEST(skip_bad_rows_allows_bad_rows)
{
    write_file("skip_train.tsv", "text\tlabel\ngood a\tpos\nbad\tb\tneg\nbad b\tneg\n");
    char *err;
    int rc = preflight("plan", "skip",
                       FILE_SWEEP("train: @/skip_train.tsv, dev: @/dev.tsv, text: text, "
                                  "label: label, skip_bad_rows: true",
                                  "{method: head}"),
                       &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
}
END_TEST

/* The loader itself refuses a stray field (a TAB in the text) instead of dropping it. */
START_TEST(file_task_loader_is_strict_about_field_counts)
{
    char train[256], dev[256];
    write_file("strict_train.tsv", "text\tlabel\ngood\tpos\nbad\tb\tneg\n");
    snprintf(train, sizeof train, "%s/strict_train.tsv", root);
    snprintf(dev, sizeof dev, "%s/dev.tsv", root);
    struct task_params p;
    task_params_init(&p);
    p.file.name = "t", p.file.train = train, p.file.dev = dev;
    p.file.text_a = "text", p.file.label = "label";
    struct task_data td;
    memset(&td, 0, sizeof td);
    struct err e;
    err_clear(&e);
    ck_assert_int_eq(task_load(&td, task_find("file"), &p, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "strict_train.tsv:3: expected 2 fields (as the header), found 3"),
                  "%s", e.msg);
    task_data_free(&td);
}
END_TEST

/* A builtin model not built yet: plan takes its dimensions from configs/pretrain/NAME.yaml
 * (checks included) and says that run builds it first; nothing is built. */
START_TEST(plan_never_builds_a_builtin_model)
{
    write_file("mini.yaml", "name: mini\nmodel: {layers: 1, hidden: 32, heads: 2, ffn: 64, "
                            "max_position: 48}\ntrain: {max_seq_len: 32}\n");
    ck_assert_int_eq(sh("mkdir -p %s/configs/pretrain && mv %s/mini.yaml %s/configs/pretrain/",
                        root, root, root),
                     0);
    expect_problems("plan", "builtin_bad",
                    "sweep: b\nmodel: builtin:mini\ntasks: [syn-sentiment]\n"
                    "train: {epochs: 1, max_seq_len: 60}\nmethods: [{method: lora, rank: 40}]\n",
                    "lora.rank = 40 exceeds min(IN, OUT) = 32",
                    "train.max_seq_len = 60: expected <= the model's 48 positions", NULL);
    char *err;
    int rc = preflight("plan", "builtin_ok",
                       "sweep: b\nmodel: builtin:mini\ntasks: [syn-sentiment]\n"
                       "train: {epochs: 1, max_seq_len: 16}\nmethods: [{method: lora, rank: 4}]\n",
                       &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    ck_assert_int_eq(sh("cd %s && %s plan builtin_ok.yaml | grep -q '`run` builds it first'", root,
                        peftbench_bin()),
                     0);
    struct stat st;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/results/models/mini", root);
    ck_assert_msg(stat(dir, &st) != 0, "plan built %s", dir);
}
END_TEST

/* plan marks recorded trials done and the others to run. */
START_TEST(plan_marks_done_and_to_run)
{
    char *err;
    int rc = preflight("plan", "state",
                       FILE_SWEEP(GOOD_TASK, "{method: lora, rank: [2, 4]}"), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    ck_assert_int_eq(sh("cd %s && OMP_NUM_THREADS=1 %s run state.yaml --out st --trial 0 --quiet "
                        ">/dev/null 2>&1",
                        root, peftbench_bin()),
                     0);
    ck_assert_int_eq(sh("cd %s && %s plan state.yaml --out st > state.out && "
                        "grep -q '^    0 .* done ' state.out && grep -q '^    1 .* to run ' state.out",
                        root, peftbench_bin()),
                     0);
}
END_TEST

Suite *preflight_suite(void)
{
    Suite *s = suite_create("preflight");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, good_sweep_passes_plan);
    tcase_add_test(tc, missing_train_and_dev_files_both_named);
    tcase_add_test(tc, directory_and_fifo_are_not_regular_files);
    tcase_add_test(tc, missing_columns_named_with_the_header);
    tcase_add_test(tc, field_counts_must_match_the_header);
    tcase_add_test(tc, declared_labels_must_match_the_data);
    tcase_add_test(tc, dev_and_test_labels_unseen_in_train);
    tcase_add_test(tc, empty_splits_name_their_file);
    tcase_add_test(tc, jsonl_keys_and_regression_values);
    tcase_add_test(tc, glue_tasks_without_data_give_the_advice);
    tcase_add_test(tc, glue_tasks_without_data_dir);
    tcase_add_test(tc, lora_rank_and_bottleneck_above_the_model_width);
    tcase_add_test(tc, phm_divisibility_and_positions);
    tcase_add_test(tc, plot_columns_must_exist);
    tcase_add_test(tc, every_kind_of_problem_in_one_sweep);
    tcase_add_test(tc, headerless_column_index_out_of_range);
    tcase_add_test(tc, file_task_loader_is_strict_about_field_counts);
    tcase_add_test(tc, plan_never_builds_a_builtin_model);
    tcase_add_test(tc, plan_marks_done_and_to_run);
    tcase_add_test(tc, skip_bad_rows_allows_bad_rows);
    suite_add_tcase(s, tc);
    return s;
}
