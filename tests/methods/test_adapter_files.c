/*
 * Adapter directories as files (methods/persist.h, methods/peft_format.h):
 *   - a LoRA and an IA3 adapter written byte for byte by hand in HF PEFT's layout, as PEFT's
 *     save_pretrained writes them (adapter_config.json: json.dumps(indent=2, sort_keys=True)
 *     of the config fields; adapter_model.safetensors: "__metadata__" {"format": "pt"}, the
 *     key names base_model.model.bert.encoder.layer.N.<module>.lora_A.weight / .ia3_l and
 *     base_model.model.classifier.*, dtype F32 and BF16), load to the logits of the same
 *     tensors set directly, are recognised by persist_read_meta, and match what peft_save
 *     writes for the same adapter;
 *   - the settings a trial records in peftbench's own config: written and read back, a
 *     version 1 config (before they existed) read, malformed ones refused naming file and key.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "methods/peft_format.h"
#include "methods/persist.h"
#include "methods/registry.h"
#include "model/io/safetensors.h"
#include "tests/cli_util.h"
#include "tests/methods/lora_ia3_fixture.h"
#include "tests/suites.h"

static void make_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/peftbench-adfiles-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- safetensors by hand ------------------------------------------------------------- */

struct hand_tensor {
    const char *name;
    int d0, d1;        /* shape (d0, d1); d1 = 0: 1-D */
    const float *data; /* values exactly representable in BF16 */
};

static size_t numel(const struct hand_tensor *t)
{
    return (size_t)t->d0 * (size_t)(t->d1 ? t->d1 : 1);
}

/* DIR/adapter_model.safetensors holding t[0..n) in that order, as dtype "F32" or "BF16":
 * u64 little-endian header length, the JSON header ("__metadata__" first, padded with
 * spaces to a multiple of 8 bytes), then the little-endian data. */
static void write_safetensors(const char *dir, const struct hand_tensor *t, int n, bool bf16)
{
    char header[8192];
    size_t h = (size_t)snprintf(header, sizeof header, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0, width = bf16 ? 2 : 4;
    for (int i = 0; i < n; i++) {
        size_t bytes = numel(&t[i]) * width;
        char shape[32];
        if (t[i].d1)
            snprintf(shape, sizeof shape, "%d,%d", t[i].d0, t[i].d1);
        else
            snprintf(shape, sizeof shape, "%d", t[i].d0);
        h +=
            (size_t)snprintf(header + h, sizeof header - h,
                             ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                             t[i].name, bf16 ? "BF16" : "F32", shape, off, off + bytes);
        off += bytes;
    }
    header[h++] = '}';
    while (h % 8)
        header[h++] = ' ';
    char path[256];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int b = 0; b < 8; b++)
        fputc((int)(((uint64_t)h >> (8 * b)) & 0xff), f);
    fwrite(header, 1, h, f);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < numel(&t[i]); k++) {
            uint32_t u;
            memcpy(&u, &t[i].data[k], 4);
            for (size_t b = bf16 ? 2 : 0; b < 4; b++) /* BF16: the upper half of the bits */
                fputc((int)((u >> (8 * b)) & 0xff), f);
        }
    fclose(f);
}

/* Deterministic values, multiples of 1/32 in [-0.5, 0.5]: exact in BF16. */
static void fill(float *x, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((int)((i * 37 + (size_t)seed * 11) % 33) - 16) / 32.0f;
}

/* ---- the fixtures ---------------------------------------------------------------------- */

/* What PEFT 0.13 writes for LoraConfig(task_type="SEQ_CLS", r=2, lora_alpha=4,
 * lora_dropout=0.1, target_modules=["query", "value"]) on BertForSequenceClassification:
 * every field, sorted, indented by 2; target_modules was a set (any order); SEQ_CLS added
 * "classifier" and "score" to modules_to_save. */
static const char lora_config[] = "{\n"
                                  "  \"alpha_pattern\": {},\n"
                                  "  \"auto_mapping\": null,\n"
                                  "  \"base_model_name_or_path\": \"bert-base-uncased\",\n"
                                  "  \"bias\": \"none\",\n"
                                  "  \"fan_in_fan_out\": false,\n"
                                  "  \"inference_mode\": true,\n"
                                  "  \"init_lora_weights\": true,\n"
                                  "  \"layer_replication\": null,\n"
                                  "  \"layers_pattern\": null,\n"
                                  "  \"layers_to_transform\": null,\n"
                                  "  \"loftq_config\": {},\n"
                                  "  \"lora_alpha\": 4,\n"
                                  "  \"lora_dropout\": 0.1,\n"
                                  "  \"megatron_config\": null,\n"
                                  "  \"megatron_core\": \"megatron.core\",\n"
                                  "  \"modules_to_save\": [\n"
                                  "    \"classifier\",\n"
                                  "    \"score\"\n"
                                  "  ],\n"
                                  "  \"peft_type\": \"LORA\",\n"
                                  "  \"r\": 2,\n"
                                  "  \"rank_pattern\": {},\n"
                                  "  \"revision\": null,\n"
                                  "  \"target_modules\": [\n"
                                  "    \"value\",\n"
                                  "    \"query\"\n"
                                  "  ],\n"
                                  "  \"task_type\": \"SEQ_CLS\",\n"
                                  "  \"use_dora\": false,\n"
                                  "  \"use_rslora\": false\n"
                                  "}";

/* IA3Config(task_type="SEQ_CLS", target_modules=["key", "value", "layer.0.output.dense",
 * "layer.1.output.dense"], feedforward_modules=[the two FFN output Linears]): the paper's
 * placement (PEFT's BERT default would also scale the attention output's input). */
static const char ia3_config[] = "{\n"
                                 "  \"auto_mapping\": null,\n"
                                 "  \"base_model_name_or_path\": \"bert-base-uncased\",\n"
                                 "  \"exclude_modules\": null,\n"
                                 "  \"fan_in_fan_out\": false,\n"
                                 "  \"feedforward_modules\": [\n"
                                 "    \"layer.1.output.dense\",\n"
                                 "    \"layer.0.output.dense\"\n"
                                 "  ],\n"
                                 "  \"inference_mode\": true,\n"
                                 "  \"init_ia3_weights\": true,\n"
                                 "  \"modules_to_save\": [\n"
                                 "    \"classifier\",\n"
                                 "    \"score\"\n"
                                 "  ],\n"
                                 "  \"peft_type\": \"IA3\",\n"
                                 "  \"revision\": null,\n"
                                 "  \"target_modules\": [\n"
                                 "    \"layer.0.output.dense\",\n"
                                 "    \"key\",\n"
                                 "    \"value\",\n"
                                 "    \"layer.1.output.dense\"\n"
                                 "  ],\n"
                                 "  \"task_type\": \"SEQ_CLS\"\n"
                                 "}";

enum { MAXT = 4 * TL + 2 };

struct fixture {
    struct hand_tensor t[MAXT];
    char names[MAXT][128];
    float data[MAXT][TF * TD];
    int n;
};

static void add(struct fixture *x, const char *name, int d0, int d1)
{
    struct hand_tensor *t = &x->t[x->n];
    snprintf(x->names[x->n], sizeof x->names[0], "%s", name);
    *t = (struct hand_tensor){x->names[x->n], d0, d1, x->data[x->n]};
    fill(x->data[x->n], numel(t), x->n + 1);
    x->n++;
}

/* The fixture's tensors in PEFT's names and shapes: safetensors order (sorted by name). */
static void lora_tensors(struct fixture *x)
{
    x->n = 0;
    char name[128];
    for (int l = 0; l < TL; l++)
        for (int m = 0; m < 2; m++) {
            const char *mod = m ? "value" : "query";
            snprintf(name, sizeof name,
                     "base_model.model.bert.encoder.layer.%d.attention.self.%s.lora_A.weight", l,
                     mod);
            add(x, name, 2, TD);
            snprintf(name, sizeof name,
                     "base_model.model.bert.encoder.layer.%d.attention.self.%s.lora_B.weight", l,
                     mod);
            add(x, name, TD, 2);
        }
    add(x, "base_model.model.classifier.bias", TC, 0);
    add(x, "base_model.model.classifier.weight", TC, TD);
}

static void ia3_tensors(struct fixture *x)
{
    x->n = 0;
    char name[128];
    for (int l = 0; l < TL; l++) {
        snprintf(name, sizeof name,
                 "base_model.model.bert.encoder.layer.%d.attention.self.key.ia3_l", l);
        add(x, name, TD, 1); /* output scaling: (OUT, 1) */
        snprintf(name, sizeof name,
                 "base_model.model.bert.encoder.layer.%d.attention.self.value.ia3_l", l);
        add(x, name, TD, 1);
        snprintf(name, sizeof name, "base_model.model.bert.encoder.layer.%d.output.dense.ia3_l", l);
        add(x, name, 1, TF); /* feedforward: input scaling (1, IN) */
    }
    add(x, "base_model.model.classifier.bias", TC, 0);
    add(x, "base_model.model.classifier.weight", TC, TD);
}

/* The same adapter made with the registry, its tensors set from the fixture by name. */
static void reference(struct lfx *g, const struct fixture *x, const char *method, const char *ex)
{
    lfx_init(g, 0.0f);
    lfx_attach(g, method, ex);
    for (int i = 0; i < x->n; i++) {
        const char *rest = x->t[i].name + strlen("base_model.model.");
        char name[160];
        if (strncmp(rest, "bert.", 5) == 0) { /* lora.encoder...lora_A (no ".weight") */
            snprintf(name, sizeof name, "%s.%s", method, rest + 5);
            char *w = strstr(name, ".weight");
            if (w)
                *w = '\0';
        } else {
            snprintf(name, sizeof name, "%s", rest);
        }
        struct param *p = param_find(&g->m.ps, name);
        ck_assert_msg(p != NULL, "no tensor %s", name);
        ck_assert_uint_eq(p->numel, numel(&x->t[i]));
        memcpy(p->data, x->t[i].data, p->numel * sizeof(float));
    }
}

static void remove_dir(const char *dir)
{
    rm_tree(dir);
}

/* Load the hand-written directory (through persist_load, which tells the format) and
 * compare its logits with the reference's; check what persist_read_meta sees. */
static void load_and_compare(const char *dir, struct lfx *g, const char *method)
{
    float want[TB * TC], got[TB * TC];
    lfx_logits(g, false, 1, want);
    struct lfx f;
    lfx_init(&f, 0.0f);
    struct err e;
    ck_assert_msg(persist_load(dir, &f.m, f.mi, &f.n, 7, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(f.n, 1);
    ck_assert_str_eq(f.mi[0].ops->name, method);
    lfx_logits(&f, false, 1, got);
    ck_assert_msg(memcmp(want, got, sizeof want) == 0, "%s: logits differ", method);
    lfx_free(&f);

    struct persist_meta meta;
    ck_assert_msg(persist_read_meta(dir, &meta, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(meta.format, PERSIST_PEFT);
    ck_assert_int_eq(meta.num_labels, TC);
    ck_assert_int_eq(meta.nmethods, 1);
    ck_assert_str_eq(meta.methods[0], method);
    ck_assert_str_eq(meta.base_model, "bert-base-uncased"); /* base_model_name_or_path */
    ck_assert_str_eq(meta.task, "");                        /* nothing recorded */
    ck_assert_int_eq(meta.max_seq_len, 0);
    ck_assert_ptr_null(meta.label_names);
    persist_meta_free(&meta);
}

/* peft_save of the reference writes the fixture's tensors (names, shapes, F32, values). */
static void compare_with_save(struct lfx *g, const struct fixture *x)
{
    char out[64], path[128];
    make_dir(out, sizeof out);
    struct err e;
    ck_assert_msg(peft_save(out, &g->mi[0], &g->m, &e) == 0, "%s", e.msg);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", out);
    struct st_file f;
    ck_assert_msg(st_read(&f, path, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(f.n, (size_t)x->n);
    ck_assert_str_eq(st_meta_get(&f, "format"), "pt");
    for (int i = 0; i < x->n; i++) {
        const struct st_tensor *t = st_find(&f, x->t[i].name);
        ck_assert_msg(t != NULL, "peft_save lacks %s", x->t[i].name);
        ck_assert_int_eq(t->dtype, ST_F32);
        ck_assert_int_eq(t->ndim, x->t[i].d1 ? 2 : 1);
        ck_assert_int_eq(t->shape[0], x->t[i].d0);
        ck_assert(memcmp(t->data, x->t[i].data, numel(&x->t[i]) * sizeof(float)) == 0);
    }
    st_free(&f);
    remove_dir(out);
}

START_TEST(hand_written_peft_lora_loads)
{
    for (int bf16 = 0; bf16 < 2; bf16++) {
        static struct fixture x;
        lora_tensors(&x);
        char dir[64];
        make_dir(dir, sizeof dir);
        write_text(dir, "adapter_config.json", lora_config);
        write_safetensors(dir, x.t, x.n, bf16);
        struct lfx g;
        reference(&g, &x, "lora", "rank=2;alpha=4;dropout=0.1;targets=q,v");
        load_and_compare(dir, &g, "lora");
        compare_with_save(&g, &x);
        lfx_free(&g);
        remove_dir(dir);
    }
}
END_TEST

START_TEST(hand_written_peft_ia3_loads)
{
    for (int bf16 = 0; bf16 < 2; bf16++) {
        static struct fixture x;
        ia3_tensors(&x);
        char dir[64];
        make_dir(dir, sizeof dir);
        write_text(dir, "adapter_config.json", ia3_config);
        write_safetensors(dir, x.t, x.n, bf16);
        struct lfx g;
        reference(&g, &x, "ia3", "targets=k,v,ffn_act");
        load_and_compare(dir, &g, "ia3");
        compare_with_save(&g, &x);
        lfx_free(&g);
        remove_dir(dir);
    }
}
END_TEST

/* ---- bad PEFT directories ---------------------------------------------------------------- */

static void expect_meta_error(const char *dir, int code, const char *n1, const char *n2)
{
    struct persist_meta meta;
    struct err e;
    ck_assert_int_eq(persist_read_meta(dir, &meta, &e), code);
    ck_assert_msg(strstr(e.msg, n1) != NULL, "'%s' not in: %s", n1, e.msg);
    ck_assert_msg(!n2 || strstr(e.msg, n2) != NULL, "'%s' not in: %s", n2, e.msg);
    ck_assert_ptr_null(meta.label_names);
}

START_TEST(peft_directory_errors)
{
    static struct fixture x;
    lora_tensors(&x);
    char dir[64];
    make_dir(dir, sizeof dir);
    write_text(dir, "adapter_config.json", lora_config);
    /* no classifier: predictions would come from an untrained head */
    write_safetensors(dir, x.t, x.n - 2, false);
    expect_meta_error(dir, ERR_UNSUPPORTED, "adapter_model.safetensors", "no task head");
    write_safetensors(dir, x.t, x.n, false);
    /* the sidecar's num_labels must be the classifier's */
    write_text(dir, "peftbench.json",
               "{\"format\": \"peftbench-meta\", \"version\": 1, "
               "\"num_labels\": 2}");
    expect_meta_error(dir, ERR_FORMAT, "peftbench.json: num_labels 2", "has 3 outputs");
    write_text(dir, "peftbench.json", "{\"format\": \"other\", \"num_labels\": 3}");
    expect_meta_error(dir, ERR_FORMAT, "peftbench.json: key 'format'", "peftbench-meta");
    write_text(dir, "peftbench.json",
               "{\"format\": \"peftbench-meta\", \"num_labels\": 3, "
               "\"max_seq_len\": \"64\"}");
    expect_meta_error(dir, ERR_FORMAT, "key 'max_seq_len'", "an integer");
    char side[128];
    snprintf(side, sizeof side, "%s/peftbench.json", dir);
    ck_assert_int_eq(unlink(side), 0);
    write_text(dir, "adapter_config.json", "{\"r\": 2}");
    expect_meta_error(dir, ERR_FORMAT, "adapter_config.json: not an adapter config", "peft_type");
    write_text(dir, "adapter_config.json", "[1, 2]");
    expect_meta_error(dir, ERR_FORMAT, "adapter_config.json: not a JSON object", NULL);
    remove_dir(dir);
    expect_meta_error(dir, ERR_IO, "adapter directory", "No such file");
}
END_TEST

/* ---- peftbench's own config: the recorded settings ---------------------------------------- */

START_TEST(recorded_settings_round_trip)
{
    struct lfx f;
    lfx_init(&f, 0.0f);
    lfx_attach(&f, "lora", "rank=2;targets=q,v");
    char *labels[TC] = {"red", "green", "blue"};
    struct persist_meta in, out;
    persist_meta_init(&in);
    snprintf(in.base_model, sizeof in.base_model, "/models/x");
    snprintf(in.base_model_spec, sizeof in.base_model_spec, "builtin:x");
    snprintf(in.task, sizeof in.task, "colours");
    snprintf(in.task_kind, sizeof in.task_kind, "pair");
    snprintf(in.sweep_file, sizeof in.sweep_file, "/s/sweep.yaml");
    in.task_pair = 1;
    in.label_names = labels;
    in.max_seq_len = 48;
    in.has_tokenizer = true;
    in.tok_bpe = true;
    in.tok.add_prefix_space = true;
    in.vocab_size = 50265;
    char dir[64];
    make_dir(dir, sizeof dir);
    struct err e;
    ck_assert_msg(persist_save_meta(dir, &f.m, f.mi, f.n, &in, &e) == 0, "%s", e.msg);
    ck_assert_msg(persist_read_meta(dir, &out, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(out.format, PERSIST_NATIVE);
    ck_assert_int_eq(out.version, 2);
    ck_assert_int_eq(out.num_labels, TC);
    ck_assert_int_eq(out.nmethods, 1);
    ck_assert_str_eq(out.methods[0], "lora");
    ck_assert_str_eq(out.base_model, "/models/x");
    ck_assert_str_eq(out.base_model_spec, "builtin:x");
    ck_assert_str_eq(out.task, "colours");
    ck_assert_str_eq(out.task_kind, "pair");
    ck_assert_str_eq(out.sweep_file, "/s/sweep.yaml");
    ck_assert_int_eq(out.task_pair, 1);
    ck_assert_int_eq(out.max_seq_len, 48);
    for (int i = 0; i < TC; i++)
        ck_assert_str_eq(out.label_names[i], labels[i]);
    ck_assert(out.has_tokenizer && out.tok_bpe && out.tok.add_prefix_space);
    ck_assert_int_eq(out.vocab_size, 50265);
    persist_meta_free(&out);
    remove_dir(dir);
    lfx_free(&f);
}
END_TEST

static const char v1_config[] = "{\"format\": \"peftbench-adapter\", \"version\": 1, "
                                "\"num_labels\": 3, \"methods\": [{\"method\": \"lora\", "
                                "\"hparams\": {\"rank\": \"2\"}}]}";

/* DIR/adapter_config.json: v1_config with key set to the JSON value (replaced or added). */
static void write_config_with(const char *dir, const char *key, const char *value)
{
    cJSON *j = cJSON_Parse(v1_config);
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    cJSON *v = cJSON_Parse(value);
    ck_assert_msg(v != NULL, "bad test JSON %s", value);
    cJSON_AddItemToObject(j, key, v);
    char *text = cJSON_Print(j);
    write_text(dir, "adapter_config.json", text);
    free(text);
    cJSON_Delete(j);
}

START_TEST(version_1_config_reads_with_nothing_recorded)
{
    char dir[64];
    make_dir(dir, sizeof dir);
    write_text(dir, "adapter_config.json", v1_config);
    struct persist_meta meta;
    struct err e;
    ck_assert_msg(persist_read_meta(dir, &meta, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(meta.version, 1);
    ck_assert_int_eq(meta.num_labels, 3);
    ck_assert_str_eq(meta.methods[0], "lora");
    ck_assert_str_eq(meta.task, "");
    ck_assert_str_eq(meta.base_model, "");
    ck_assert_int_eq(meta.task_pair, -1);
    ck_assert_int_eq(meta.max_seq_len, 0);
    ck_assert(!meta.has_tokenizer);
    ck_assert_ptr_null(meta.label_names);
    persist_meta_free(&meta);
    remove_dir(dir);
}
END_TEST

START_TEST(malformed_recorded_settings_name_file_and_key)
{
    const struct {
        const char *key, *value;
        int code;
        const char *n1, *n2;
    } cases[] = {
        {"num_labels", "0", ERR_RANGE, "key 'num_labels'", "[1, 1024]"},
        {"num_labels", "1e12", ERR_RANGE, "key 'num_labels'", "[1, 1024]"},
        {"num_labels", "2.5", ERR_RANGE, "key 'num_labels'", "an integer"},
        {"num_labels", "\"3\"", ERR_FORMAT, "key 'num_labels'", "an integer"},
        {"label_names", "[\"a\", \"b\"]", ERR_FORMAT, "key 'label_names'", "found 2"},
        {"label_names", "[\"a\", \"b\", \"a\"]", ERR_FORMAT, "entry 2", "distinct"},
        {"label_names", "[\"a\", \"b\", \"c\\td\"]", ERR_FORMAT, "entry 2", "control characters"},
        {"label_names", "\"a,b,c\"", ERR_FORMAT, "key 'label_names'", "a list of strings"},
        {"task_pair", "1", ERR_FORMAT, "key 'task_pair'", "true or false"},
        {"version", "3", ERR_UNSUPPORTED, "version 3", "reads 1 to 2"},
        {"methods", "{}", ERR_FORMAT, "key 'methods'", "a list"},
        {"tokenizer", "[]", ERR_FORMAT, "key 'tokenizer'", "an object"},
        {"tokenizer", "{\"kind\": \"bpe\", \"vocab_size\": 0, \"add_prefix_space\": true}",
         ERR_RANGE, "key 'tokenizer.vocab_size'", NULL},
        {"tokenizer", "{\"kind\": \"bpe\", \"vocab_size\": 9}", ERR_FORMAT,
         "key 'tokenizer.add_prefix_space'", "true or false"},
    };
    char dir[64];
    make_dir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_config_with(dir, cases[i].key, cases[i].value);
        struct persist_meta meta;
        struct err e;
        int rc = persist_read_meta(dir, &meta, &e);
        ck_assert_msg(rc == cases[i].code, "%s=%s: %d (%s)", cases[i].key, cases[i].value, rc,
                      e.msg);
        ck_assert_msg(strstr(e.msg, "adapter_config.json") && strstr(e.msg, cases[i].n1) &&
                          (!cases[i].n2 || strstr(e.msg, cases[i].n2)),
                      "%s=%s: %s", cases[i].key, cases[i].value, e.msg);
    }
    /* a key given twice: the reader would see one of them */
    write_text(dir, "adapter_config.json",
               "{\"format\": \"peftbench-adapter\", \"num_labels\": 3, \"num_labels\": 9, "
               "\"methods\": []}");
    struct persist_meta meta;
    struct err e;
    ck_assert_int_eq(persist_read_meta(dir, &meta, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "key 'num_labels' given twice"), "%s", e.msg);
    remove_dir(dir);
}
END_TEST

Suite *adapter_files_suite(void)
{
    Suite *s = suite_create("adapter_files");
    TCase *tc = tcase_create("peft_layout");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hand_written_peft_lora_loads);
    tcase_add_test(tc, hand_written_peft_ia3_loads);
    tcase_add_test(tc, peft_directory_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("recorded_settings");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, recorded_settings_round_trip);
    tcase_add_test(tc, version_1_config_reads_with_nothing_recorded);
    tcase_add_test(tc, malformed_recorded_settings_name_file_and_key);
    suite_add_tcase(s, tc);
    return s;
}
