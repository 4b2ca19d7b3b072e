/*
 * `peftbench predict` and `peftbench export` end to end (PEFTBENCH_BIN): a tiny model made by
 * the test, adapters trained by a short sweep (lora, ia3, houlsby on syn-sentiment; lora on
 * the pair task syn-match and on a file task), then:
 *   - predict takes MODEL, task, max_seq_len and tokenizer settings from the adapter, warns
 *     when a flag or another model overrides them, writes a header and label names;
 *   - a label set other than the adapter's is an error, text columns can be named, a file
 *     task is found through its sweep file, builtin:NAME works as MODEL, adapters saved
 *     before the settings were recorded still load;
 *   - export --format peft writes PEFT's layout, and predicting from it gives the native
 *     adapter's logits exactly (lora and ia3);
 *   - bad input: each case checks the exit status and the message.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/io/safetensors.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

static char root[128];     /* per-suite temporary directory */
static char bin[PATH_MAX]; /* absolute: some commands run in another directory */

/* ROOT/name as a path into out. */
static const char *at(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", root, name);
    return out;
}

/* Run `peftbench ARGS` in ROOT/sub; its exit status and stderr (caller frees); stdout goes to
 * ROOT/stdout.txt. */
static int vpb(const char *sub, char **err, const char *fmt, va_list ap)
{
    char args[8192], path[256];
    vsnprintf(args, sizeof args, fmt, ap);
    int rc =
        sh("cd %s/%s && %s %s >%s/stdout.txt 2>%s/stderr.txt", root, sub, bin, args, root, root);
    *err = test_slurp(at(path, sizeof path, "stderr.txt"));
    ck_assert_ptr_nonnull(*err);
    return rc;
}

/* Exit status want and each '|'-separated needle in stderr (none: needles ""). */
static void vexpect(const char *sub, int want, const char *needles, const char *fmt, va_list ap)
{
    char *err, buf[1024], *save = NULL;
    int rc = vpb(sub, &err, fmt, ap);
    ck_assert_msg(rc == want, "exit %d, expected %d; stderr: %s", rc, want, err);
    snprintf(buf, sizeof buf, "%s", needles);
    for (char *n = strtok_r(buf, "|", &save); n; n = strtok_r(NULL, "|", &save))
        ck_assert_msg(strstr(err, n) != NULL, "'%s' not in stderr: %s", n, err);
    free(err);
}

/* `peftbench ARGS` in ROOT: exit status want and the needles in stderr. */
static void expect(int want, const char *needles, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expect(int want, const char *needles, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vexpect(".", want, needles, fmt, ap);
    va_end(ap);
}

/* The same in ROOT/sub. */
static void expect_in(const char *sub, int want, const char *needles, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void expect_in(const char *sub, int want, const char *needles, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vexpect(sub, want, needles, fmt, ap);
    va_end(ap);
}

/* `peftbench ARGS` in ROOT/sub: exit status 0 and no warning on stderr. */
static void quiet_in(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void quiet_in(const char *sub, const char *fmt, ...)
{
    char *err;
    va_list ap;
    va_start(ap, fmt);
    int rc = vpb(sub, &err, fmt, ap);
    va_end(ap);
    ck_assert_msg(rc == 0 && !strstr(err, "warning"), "exit %d; stderr: %s", rc, err);
    free(err);
}

static bool same_file(const char *a, const char *b)
{
    char pa[256], pb_[256];
    char *x = test_slurp(at(pa, sizeof pa, a)), *y = test_slurp(at(pb_, sizeof pb_, b));
    bool same = x && y && strcmp(x, y) == 0;
    free(x), free(y);
    return same;
}

/* The adapter directory (relative to ROOT) of the trial of task and method under out/, into
 * dir (n bytes); returns dir. */
static const char *adapter_of(const char *out, const char *task, const char *method, char *dir,
                              size_t n)
{
    char list[256];
    ck_assert_int_eq(sh("cd %s && grep -l '\"method\":.*\"%s\"' %s/adapters/*/adapter_config.json "
                        "| xargs grep -l '\"task\":.*\"%s\"' > %s",
                        root, method, out, task, at(list, sizeof list, "found.txt")),
                     0);
    char *text = test_slurp(list);
    ck_assert_msg(text && strchr(text, '/'), "no adapter of %s %s", task, method);
    text[strcspn(text, "\n")] = '\0';
    snprintf(dir, n, "%.*s", (int)(strrchr(text, '/') - text), text);
    free(text);
    return dir;
}

/* Replace (value JSON) or delete (NULL) a key of DIR/adapter_config.json, DIR under ROOT. */
static void edit_config(const char *dir, const char *key, const char *value)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/adapter_config.json", root, dir);
    char *text = test_slurp(path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(j);
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    if (value)
        cJSON_AddItemToObject(j, key, cJSON_Parse(value));
    char *out = cJSON_Print(j);
    test_write_file(path, out);
    free(out);
    cJSON_Delete(j);
}

/* ---- the fixture ---------------------------------------------------------------- */

static const char sweep_yaml[] =
    "sweep: p\n"
    "model: %s/model\n"
    "tasks: [syn-sentiment, syn-match]\n"
    "train: {epochs: 1, batch_size: 16, max_seq_len: 24, lr: 5.0e-3, max_train: 64, "
    "max_dev: 32, save_adapters: true}\n"
    "methods: [lora, ia3, {method: houlsby, bottleneck: 2}]\n";

static const char file_sweep_yaml[] =
    "sweep: f\n"
    "model: %s/model\n"
    "tasks: [{name: mini, train: %s/train.tsv, dev: %s/dev.tsv, text: sentence, "
    "label: label, labels: [negative, positive]}]\n"
    "train: {epochs: 1, batch_size: 4, max_seq_len: 24, save_adapters: true}\n"
    "methods: [lora]\n";

static void write_mini_data(void)
{
    char path[256];
    const char *rows = "sentence\tlabel\n"
                       "a good film\tpositive\nbad acting\tnegative\ngood fun\tpositive\n"
                       "a bad plot\tnegative\nsuch a good cast\tpositive\nso bad\tnegative\n";
    test_write_file(at(path, sizeof path, "train.tsv"), rows);
    test_write_file(at(path, sizeof path, "dev.tsv"), rows);
}

static void suite_setup(void)
{
    ck_assert_ptr_nonnull(realpath(peftbench_bin(), bin));
    snprintf(root, sizeof root, "/tmp/peftbench-predict-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    char path[256], text[2048];
    FILE *f = fopen(at(path, sizeof path, "vocab.txt"), "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
    for (char c = 'a'; c <= 'z'; c++)
        fprintf(f, "%c\n##%c\n", c, c);
    fclose(f);
    expect(0, "",
           "init-model model --vocab vocab.txt --layers 2 --hidden 16 --heads 2 --ffn 32 "
           "--max-pos 64");
    snprintf(text, sizeof text, sweep_yaml, root);
    test_write_file(at(path, sizeof path, "sweep.yaml"), text);
    expect(0, "", "run sweep.yaml --out out --quiet");
    write_mini_data();
    snprintf(text, sizeof text, file_sweep_yaml, root, root, root);
    test_write_file(at(path, sizeof path, "files.yaml"), text);
    expect(0, "", "run files.yaml --out fout --quiet");
}

static void suite_teardown(void)
{
    rm_tree(root);
}

/* ---- predict: settings from the adapter -------------------------------------------- */

START_TEST(predict_takes_settings_from_the_adapter)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    /* nothing but the adapter: its model, task, max_seq_len and tokenizer; no warning */
    quiet_in(".", "predict --adapter %s --out p1.tsv", a);
    quiet_in(".",
             "predict %s/model --adapter %s --task syn-sentiment --split dev --max-seq-len 24 "
             "--out p2.tsv",
             root, a);
    ck_assert(same_file("p1.tsv", "p2.tsv"));
    char path[256];
    char *text = test_slurp(at(path, sizeof path, "p1.tsv"));
    const char *header = "id\tlogit_negative\tlogit_positive\tpredicted\tgold\n";
    ck_assert_msg(strncmp(text, header, strlen(header)) == 0, "%.80s", text);
    const char *row = strchr(text, '\n') + 1; /* "ID\tL0\tL1\tLABEL\tGOLD" */
    const char *pred = row;
    for (int k = 0; k < 3; k++)
        pred = strchr(pred, '\t') + 1;
    ck_assert_msg(strncmp(pred, "negative\t", 9) == 0 || strncmp(pred, "positive\t", 9) == 0,
                  "%.80s", row);
    free(text);
    text = test_slurp(at(path, sizeof path, "stdout.txt"));
    ck_assert_msg(strstr(text, "accuracy "), "%s", text);
    free(text);
}
END_TEST

START_TEST(predict_warns_when_a_flag_overrides_the_adapter)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    expect(0, "warning: --max-seq-len 16 overrides the adapter's 24",
           "predict --adapter %s --max-seq-len 16 --out w.tsv", a);
    /* a file task with the same labels: a warning, not an error */
    expect(0, "warning: --task mini overrides the adapter's task syn-sentiment",
           "predict --adapter %s --sweep files.yaml --task mini --out w.tsv", a);
}
END_TEST

START_TEST(predict_refuses_another_label_set)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    expect(2,
           "--task syn-match has 2 labels [different, match]|[negative, positive]|not the same "
           "label set",
           "predict --adapter %s --task syn-match --out x.tsv", a);
    expect(2, "--task wn-pos has 4 labels|not the same label set",
           "predict --adapter %s --task wn-pos --out x.tsv", a);
}
END_TEST

/* The other model's tokenizer_config.json asks for cased text: the adapter's lowercase is
 * used (an upper-case input gives the same logits), with a warning per setting. */
START_TEST(predict_uses_the_recorded_tokenizer_settings)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    char path[256];
    ck_assert_int_eq(sh("cp -r %s/model %s/cased", root, root), 0);
    test_write_file(at(path, sizeof path, "cased/tokenizer_config.json"), "{\"do_lower_case\": false}");
    test_write_file(at(path, sizeof path, "upper.tsv"), "text\nA GOOD Film\nnot BAD\n");
    expect(0, "", "predict --adapter %s --input upper.tsv --out t1.tsv", a);
    expect(0,
           "is not the backbone the adapter was trained on|has lowercase false, the adapter was "
           "trained with true|has strip_accents false",
           "predict cased --adapter %s --input upper.tsv --out t2.tsv", a);
    ck_assert(same_file("t1.tsv", "t2.tsv"));
}
END_TEST

/* ---- predict: inputs ----------------------------------------------------------------- */

START_TEST(predict_input_columns_are_named)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    char pair[256];
    adapter_of("out", "syn-match", "lora", pair, sizeof pair);
    char path[256];
    test_write_file(at(path, sizeof path, "in.tsv"), "review\tother\na good film\tx\nbad\ty\n");
    test_write_file(at(path, sizeof path, "in.jsonl"), "{\"r\": \"a good film\"}\n{\"r\": \"bad\"}\n");
    test_write_file(at(path, sizeof path, "ragged.tsv"), "review\tother\na good film\tx\tz\n");
    expect(0, "", "predict --adapter %s --input in.tsv --text-col review --out i1.tsv", a);
    char *text = test_slurp(at(path, sizeof path, "i1.tsv"));
    const char *want = "id\tlogit_negative\tlogit_positive\tpredicted\n2\t"; /* no gold */
    ck_assert_msg(strncmp(text, want, strlen(want)) == 0, "%s", text);
    free(text);
    expect(0, "", "predict --adapter %s --input in.jsonl --text-col r --out i2.tsv", a);
    expect(2, "in.tsv:1: no column 'text' in the header (columns: review, other)",
           "predict --adapter %s --input in.tsv --out x.tsv", a);
    expect(2, "in.jsonl:1: no key 'text'", "predict --adapter %s --input in.jsonl --out x.tsv", a);
    expect(2, "ragged.tsv:2: 3 fields, the header has 2",
           "predict --adapter %s --input ragged.tsv --text-col review --out x.tsv", a);
    expect(2, "trained on single texts (task syn-sentiment)|column 'other'",
           "predict --adapter %s --input in.tsv --text-col review --text-b-col other "
           "--out x.tsv",
           a);
    expect(2, "trained on pairs of texts (task syn-match)|--text-b-col",
           "predict --adapter %s --input in.tsv --text-col review --out x.tsv", pair);
    expect(0, "",
           "predict --adapter %s --input in.tsv --text-col review --text-b-col other "
           "--out i3.tsv",
           pair);
    expect(2, "no column 'text'",
           "predict --adapter %s --input in.tsv --text-b-col nope --out x.tsv", pair);
}
END_TEST

START_TEST(predict_finds_a_file_task_through_its_sweep)
{
    char a[256];
    adapter_of("fout", "mini", "lora", a, sizeof a);
    expect(0, "", "predict --adapter %s --out f1.tsv", a); /* recorded sweep */
    expect(0, "", "predict --adapter %s --sweep files.yaml --task mini --out f2.tsv", a);
    ck_assert(same_file("f1.tsv", "f2.tsv"));
    char path[256];
    char *text = test_slurp(at(path, sizeof path, "stdout.txt"));
    ck_assert_msg(strstr(text, "accuracy "), "%s", text);
    free(text);
    /* the recorded sweep file is gone: the message says which and how to go on */
    ck_assert_int_eq(sh("cd %s && mv files.yaml moved.yaml", root), 0);
    expect(2, "the sweep file recorded for task mini|files.yaml",
           "predict --adapter %s --out x.tsv", a);
    expect(0, "", "predict --adapter %s --sweep moved.yaml --out f3.tsv", a);
    ck_assert(same_file("f1.tsv", "f3.tsv"));
    ck_assert_int_eq(sh("cd %s && mv moved.yaml files.yaml", root), 0);
    /* a file task named without its sweep file */
    char s[256];
    adapter_of("out", "syn-sentiment", "lora", s, sizeof s);
    expect(2, "'mini'|--sweep FILE", "predict --adapter %s --task mini --out x.tsv", s);
    expect(2, "sweep.yaml declares no file task 'mini'",
           "predict --adapter %s --sweep sweep.yaml --task mini --out x.tsv", s);
}
END_TEST

/* An adapter written before the settings were recorded (version 1, base_model.txt). */
START_TEST(predict_reads_adapters_saved_before_settings_were_recorded)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    ck_assert_int_eq(sh("cd %s && rm -rf old && cp -r %s old", root, a), 0);
    edit_config("old", "version", "1");
    const char *keys[] = {"base_model", "base_model_spec", "task",        "task_kind",
                          "task_pair",  "label_names",     "max_seq_len", "tokenizer"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        edit_config("old", keys[i], NULL);
    expect(2, "the adapter records no task|--task NAME or --input FILE",
           "predict --adapter old --out x.tsv");
    expect(0, "records no max_seq_len: using 64",
           "predict --adapter old --task syn-sentiment --out o1.tsv");
    expect(0, "", "predict --adapter old --task syn-sentiment --max-seq-len 24 --out o2.tsv");
    expect(0, "", "predict --adapter %s --out o3.tsv", a);
    ck_assert(same_file("o2.tsv", "o3.tsv")); /* label names from the task */
    ck_assert_int_eq(sh("rm %s/old/base_model.txt", root), 0);
    expect(2, "records no base model|MODEL",
           "predict --adapter old --task syn-sentiment --out x.tsv");
}
END_TEST

START_TEST(predict_refuses_malformed_recorded_settings)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    const struct {
        const char *key, *value, *n1, *n2;
    } cases[] = {
        {"num_labels", "1000000000", "key 'num_labels'", "[1, 1024]"},
        {"num_labels", "\"2\"", "key 'num_labels'", "an integer"},
        {"label_names", "[\"a\", \"b\", \"c\"]", "key 'label_names'", "found 3"},
        {"label_names", "[\"a\", \"a\"]", "key 'label_names'", "distinct"},
        {"version", "9", "version 9", "newer peftbench"},
        {"max_seq_len", "2", "key 'max_seq_len'", "[3, 1000000]"},
        {"task", "7", "key 'task'", "a string"},
        {"tokenizer", "{\"kind\": \"sentencepiece\", \"vocab_size\": 5}", "key 'tokenizer.kind'",
         "\"wordpiece\" or \"bpe\""},
        {"tokenizer", "{\"kind\": \"wordpiece\", \"vocab_size\": 5}", "key 'tokenizer.lowercase'",
         "true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(sh("cd %s && rm -rf bad && cp -r %s bad", root, a), 0);
        edit_config("bad", cases[i].key, cases[i].value);
        expect(2, "bad/adapter_config.json||", "predict --adapter bad --out x.tsv");
    }
}
END_TEST

START_TEST(predict_builtin_model)
{
    /* a built-in model is built from configs/pretrain/NAME.yaml of the working directory */
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/bt/configs/pretrain", root);
    ck_assert_int_eq(sh("mkdir -p %s", dir), 0);
    snprintf(path, sizeof path, "%s/micro.yaml", dir);
    test_write_file(path, "name: micro\nseed: 1\n"
                     "corpus: {source: wordnet-train, heldout_fraction: 0.02, "
                     "heldout_max_lines: 50}\n"
                     "vocab: {size: 300, min_frequency: 2}\n"
                     "model: {layers: 1, hidden: 16, heads: 2, ffn: 32, max_position: 64}\n"
                     "train: {steps: 2, batch_size: 8, max_seq_len: 32}\n");
    snprintf(path, sizeof path, "%s/bt/sweep.yaml", root);
    test_write_file(path, "sweep: b\nmodel: builtin:micro\ntasks: [syn-sentiment]\n"
                     "train: {epochs: 1, max_seq_len: 24, max_train: 32, max_dev: 16, "
                     "save_adapters: true}\nmethods: [lora]\n");
    expect_in("bt", 0, "", "run sweep.yaml --out out --quiet");
    char a[256];
    adapter_of("bt/out", "syn-sentiment", "lora", a, sizeof a);
    quiet_in("bt", "predict --adapter ../%s --out ../b1.tsv", a); /* the recorded base model */
    /* the same directory: no "not the backbone" warning */
    quiet_in("bt", "predict builtin:micro --adapter ../%s --out ../b2.tsv", a);
    ck_assert(same_file("b1.tsv", "b2.tsv"));
    expect_in("bt", 2, "builtin|nope|micro", "predict builtin:nope --adapter ../%s --out ../x.tsv",
              a);
}
END_TEST

/* ---- export and the PEFT layout ------------------------------------------------------- */

START_TEST(export_round_trip_gives_identical_logits)
{
    const char *methods[] = {"lora", "ia3"};
    for (int k = 0; k < 2; k++) {
        char a[256];
        adapter_of("out", "syn-sentiment", methods[k], a, sizeof a);
        char dir[64], native[64], peft[64], path[300];
        snprintf(dir, sizeof dir, "peft-%s", methods[k]);
        snprintf(native, sizeof native, "n-%s.tsv", methods[k]);
        snprintf(peft, sizeof peft, "e-%s.tsv", methods[k]);
        expect(0, "", "export %s --format peft --out %s", a, dir);
        expect(0, "", "predict --adapter %s --out %s", a, native);
        expect(0, "", "predict --adapter %s --out %s", dir, peft);
        ck_assert_msg(same_file(native, peft), "%s: PEFT logits differ", methods[k]);
        /* PEFT's names and dtype */
        snprintf(path, sizeof path, "%s/%s/adapter_model.safetensors", root, dir);
        struct st_file f;
        struct err e;
        ck_assert_msg(st_read(&f, path, NULL, NULL, &e) == 0, "%s", e.msg);
        const char *want = k == 0 ? "base_model.model.bert.encoder.layer.1.attention.self."
                                    "value.lora_B.weight"
                                  : "base_model.model.bert.encoder.layer.1.output.dense.ia3_l";
        const struct st_tensor *t = st_find(&f, want);
        ck_assert_msg(t != NULL, "no %s", want);
        ck_assert_int_eq(t->dtype, ST_F32);
        ck_assert_ptr_nonnull(st_find(&f, "base_model.model.classifier.weight"));
        st_free(&f);
        /* without peftbench.json (as PEFT itself writes it): the task must be named */
        snprintf(path, sizeof path, "%s/%s/peftbench.json", root, dir);
        ck_assert_int_eq(unlink(path), 0);
        expect(2, "records no task", "predict --adapter %s --out x.tsv", dir);
        expect(0, "", "predict --adapter %s --task syn-sentiment --max-seq-len 24 --out %s", dir,
               peft); /* the model: base_model_name_or_path */
        ck_assert_msg(same_file(native, peft), "%s: PEFT logits differ", methods[k]);
    }
}
END_TEST

START_TEST(export_refuses_bad_input)
{
    char lora[256];
    adapter_of("out", "syn-sentiment", "lora", lora, sizeof lora);
    char houlsby[256];
    adapter_of("out", "syn-sentiment", "houlsby", houlsby, sizeof houlsby);
    expect(2, "unknown --format 'onnx'; the formats are: peft", "export %s --format onnx --out x",
           lora);
    expect(2, "method 'houlsby'|single lora or ia3 method only (formats: peft)",
           "export %s --format peft --out x", houlsby);
    expect(2, "adapter directory no/such/dir: No such file or directory",
           "export no/such/dir --format peft --out x");
    expect(2, "is the adapter directory itself", "export %s --format peft --out %s", lora, lora);
    expect(2, "--format is required", "export %s --out x", lora);
    expect(0, "", "export %s --format peft --out pe", lora);
    expect(2, "pe is already in HF PEFT's layout", "export pe --format peft --out pe2");
    struct stat st;
    char path[256];
    ck_assert_int_ne(stat(at(path, sizeof path, "x"), &st), 0); /* no refused export wrote */
}
END_TEST

START_TEST(predict_refuses_bad_input)
{
    char a[256];
    adapter_of("out", "syn-sentiment", "lora", a, sizeof a);
    expect(2, "adapter directory no/such/dir: No such file or directory",
           "predict --adapter no/such/dir --out x.tsv");
    ck_assert_int_eq(sh("mkdir -p %s/empty", root), 0);
    expect(2, "empty/adapter_config.json", "predict --adapter empty --out x.tsv");
    expect(2, "--split bogus: expected train, dev, test or dev_mismatched",
           "predict --adapter %s --out x.tsv --split bogus", a);
    expect(2, "--text-col and --text-b-col go with --input",
           "predict --adapter %s --out x.tsv --text-col t", a);
    expect(2, "--task and --input exclude each other",
           "predict --adapter %s --out x.tsv --task syn-sentiment --input in.tsv", a);
    expect(2, "--max-seq-len expects an integer in [3, 100000], got '2'",
           "predict --adapter %s --out x.tsv --max-seq-len 2", a);
    expect(2, "--out FILE is required", "predict --adapter %s", a);
    expect(2, "--task needs a value", "predict --adapter %s --out x.tsv --task", a);
    expect(2, "--max-seq-len 100 exceeds the model's 64 positions",
           "predict --adapter %s --out x.tsv --max-seq-len 100", a);
    expect(2, "model directory no/model", "predict no/model --adapter %s --out x.tsv", a);
}
END_TEST

Suite *predict_suite(void)
{
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("cli");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, predict_takes_settings_from_the_adapter);
    tcase_add_test(tc, predict_warns_when_a_flag_overrides_the_adapter);
    tcase_add_test(tc, predict_refuses_another_label_set);
    tcase_add_test(tc, predict_uses_the_recorded_tokenizer_settings);
    tcase_add_test(tc, predict_input_columns_are_named);
    tcase_add_test(tc, predict_finds_a_file_task_through_its_sweep);
    tcase_add_test(tc, predict_reads_adapters_saved_before_settings_were_recorded);
    tcase_add_test(tc, predict_refuses_malformed_recorded_settings);
    tcase_add_test(tc, predict_builtin_model);
    tcase_add_test(tc, export_round_trip_gives_identical_logits);
    tcase_add_test(tc, export_refuses_bad_input);
    tcase_add_test(tc, predict_refuses_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
