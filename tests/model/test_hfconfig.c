/* Tests for model/hfconfig: real configs, defaults, type and range errors, write/read; and
 * the NaN/Inf report of a loaded checkpoint (model_load_dir, model.h load_warning). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/io/hfconfig.h"
#include "model/arch/model.h"
#include "tests/suites.h"

/* A directory under /tmp per TCase (unchecked fixture: removed even when a forked test fails). */
static char hf_dir[64];
static char hf_file[128];

static void hf_setup(void)
{
    snprintf(hf_dir, sizeof hf_dir, "/tmp/peftbench_hf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(hf_dir));
    snprintf(hf_file, sizeof hf_file, "%s/config.json", hf_dir);
}

static void hf_teardown(void)
{
    DIR *d = opendir(hf_dir);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", hf_dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(hf_dir);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* bert-base-uncased/config.json as published on the Hub. */
static const char bert_base_uncased[] = "{\n"
                                        "  \"architectures\": [\n"
                                        "    \"BertForMaskedLM\"\n"
                                        "  ],\n"
                                        "  \"attention_probs_dropout_prob\": 0.1,\n"
                                        "  \"gradient_checkpointing\": false,\n"
                                        "  \"hidden_act\": \"gelu\",\n"
                                        "  \"hidden_dropout_prob\": 0.1,\n"
                                        "  \"hidden_size\": 768,\n"
                                        "  \"initializer_range\": 0.02,\n"
                                        "  \"intermediate_size\": 3072,\n"
                                        "  \"layer_norm_eps\": 1e-12,\n"
                                        "  \"max_position_embeddings\": 512,\n"
                                        "  \"model_type\": \"bert\",\n"
                                        "  \"num_attention_heads\": 12,\n"
                                        "  \"num_hidden_layers\": 12,\n"
                                        "  \"pad_token_id\": 0,\n"
                                        "  \"position_embedding_type\": \"absolute\",\n"
                                        "  \"transformers_version\": \"4.6.0.dev0\",\n"
                                        "  \"type_vocab_size\": 2,\n"
                                        "  \"use_cache\": true,\n"
                                        "  \"vocab_size\": 30522\n"
                                        "}\n";

/* roberta-base/config.json as published on the Hub. */
static const char roberta_base[] = "{\n"
                                   "  \"architectures\": [\n"
                                   "    \"RobertaForMaskedLM\"\n"
                                   "  ],\n"
                                   "  \"attention_probs_dropout_prob\": 0.1,\n"
                                   "  \"bos_token_id\": 0,\n"
                                   "  \"eos_token_id\": 2,\n"
                                   "  \"hidden_act\": \"gelu\",\n"
                                   "  \"hidden_dropout_prob\": 0.1,\n"
                                   "  \"hidden_size\": 768,\n"
                                   "  \"initializer_range\": 0.02,\n"
                                   "  \"intermediate_size\": 3072,\n"
                                   "  \"layer_norm_eps\": 1e-05,\n"
                                   "  \"max_position_embeddings\": 514,\n"
                                   "  \"model_type\": \"roberta\",\n"
                                   "  \"num_attention_heads\": 12,\n"
                                   "  \"num_hidden_layers\": 12,\n"
                                   "  \"pad_token_id\": 1,\n"
                                   "  \"type_vocab_size\": 1,\n"
                                   "  \"vocab_size\": 50265\n"
                                   "}\n";

/* A fine-tuned sentiment classifier in the style of the Hub's SST-2 checkpoints. */
static const char bert_sst2[] = "{\n"
                                "  \"_name_or_path\": \"bert-base-uncased\",\n"
                                "  \"architectures\": [\"BertForSequenceClassification\"],\n"
                                "  \"classifier_dropout\": null,\n"
                                "  \"hidden_size\": 128,\n"
                                "  \"num_attention_heads\": 2,\n"
                                "  \"num_hidden_layers\": 2,\n"
                                "  \"intermediate_size\": 512,\n"
                                "  \"id2label\": {\"0\": \"NEGATIVE\", \"1\": \"POSITIVE\"},\n"
                                "  \"label2id\": {\"NEGATIVE\": 0, \"POSITIVE\": 1},\n"
                                "  \"model_type\": \"bert\",\n"
                                "  \"problem_type\": \"single_label_classification\",\n"
                                "  \"torch_dtype\": \"float32\"\n"
                                "}\n";

START_TEST(reads_bert_base_uncased)
{
    write_text(hf_file, bert_base_uncased);
    struct bert_config c;
    struct err e = {0};
    ck_assert_msg(hfconfig_read(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.arch, "bert");
    ck_assert_str_eq(c.architectures0, "BertForMaskedLM");
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.hidden_size, 768);
    ck_assert_int_eq(c.num_hidden_layers, 12);
    ck_assert_int_eq(c.num_attention_heads, 12);
    ck_assert_int_eq(c.intermediate_size, 3072);
    ck_assert_int_eq(c.max_position_embeddings, 512);
    ck_assert_int_eq(c.type_vocab_size, 2);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert(c.layer_norm_eps == 1e-12f);
    ck_assert(c.hidden_dropout_prob == 0.1f);
    ck_assert(c.attention_probs_dropout_prob == 0.1f);
    ck_assert(c.initializer_range == 0.02f);
    ck_assert(c.classifier_dropout < 0.0f);
    ck_assert_str_eq(c.hidden_act, "gelu");
    ck_assert_int_eq(c.num_labels, 2);
    ck_assert_ptr_null(c.id2label);
    ck_assert_str_eq(c.problem_type, "");
    /* The defaults applied are reported for the caller to log. */
    ck_assert_ptr_nonnull(strstr(c.defaulted, "num_labels"));
    ck_assert_ptr_null(strstr(c.defaulted, "hidden_size"));
    hfconfig_free(&c);
}
END_TEST

START_TEST(reads_roberta_base)
{
    write_text(hf_file, roberta_base);
    struct bert_config c;
    struct err e = {0};
    ck_assert_msg(hfconfig_read(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.arch, "roberta");
    ck_assert_str_eq(c.architectures0, "RobertaForMaskedLM");
    ck_assert_int_eq(c.vocab_size, 50265);
    ck_assert_int_eq(c.max_position_embeddings, 514);
    ck_assert_int_eq(c.type_vocab_size, 1);
    ck_assert_int_eq(c.pad_token_id, 1);
    ck_assert(c.layer_norm_eps == 1e-5f);
    ck_assert_int_eq(c.hidden_size, 768);
    hfconfig_free(&c);
}
END_TEST

START_TEST(reads_classifier_with_labels)
{
    write_text(hf_file, bert_sst2);
    struct bert_config c;
    struct err e = {0};
    ck_assert_msg(hfconfig_read(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.hidden_size, 128);
    ck_assert_int_eq(c.num_labels, 2);
    ck_assert_ptr_nonnull(c.id2label);
    ck_assert_str_eq(c.id2label[0], "NEGATIVE");
    ck_assert_str_eq(c.id2label[1], "POSITIVE");
    ck_assert_str_eq(c.problem_type, "single_label_classification");
    ck_assert(c.classifier_dropout < 0.0f);
    ck_assert_str_eq(c.architectures0, "BertForSequenceClassification");
    hfconfig_free(&c);
    ck_assert_ptr_null(c.id2label);
    hfconfig_free(&c); /* idempotent */
    hfconfig_free(NULL);
}
END_TEST

START_TEST(missing_fields_take_defaults)
{
    struct bert_config c, d;
    struct err e = {0};
    hfconfig_default(&d);

    write_text(hf_file, "{}");
    ck_assert_msg(hfconfig_read(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.arch, "bert");
    ck_assert_int_eq(c.vocab_size, 30522);
    ck_assert_int_eq(c.hidden_size, 768);
    ck_assert_int_eq(c.num_hidden_layers, 12);
    ck_assert_int_eq(c.num_attention_heads, 12);
    ck_assert_int_eq(c.intermediate_size, 3072);
    ck_assert_str_eq(c.hidden_act, "gelu");
    ck_assert(c.hidden_dropout_prob == 0.1f && c.attention_probs_dropout_prob == 0.1f);
    ck_assert_int_eq(c.max_position_embeddings, 512);
    ck_assert_int_eq(c.type_vocab_size, 2);
    ck_assert(c.initializer_range == 0.02f);
    ck_assert(c.layer_norm_eps == 1e-12f);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert_int_eq(c.num_labels, 2);
    memset(c.defaulted, 0, sizeof c.defaulted);
    ck_assert_int_eq(memcmp(&c, &d, sizeof c), 0); /* exactly hfconfig_default */

    write_text(hf_file, "{}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_ptr_nonnull(strstr(c.defaulted, "model_type"));
    ck_assert_ptr_nonnull(strstr(c.defaulted, "vocab_size"));
    ck_assert_ptr_nonnull(strstr(c.defaulted, "layer_norm_eps"));

    /* RoBERTa changes the pad and eps defaults, but only when they are absent. */
    write_text(hf_file, "{\"model_type\": \"roberta\"}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_int_eq(c.pad_token_id, 1);
    ck_assert(c.layer_norm_eps == 1e-5f);
    write_text(hf_file, "{\"model_type\": \"roberta\", \"layer_norm_eps\": 1e-12, "
                        "\"pad_token_id\": 0}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert(c.layer_norm_eps == 1e-12f);

    /* No model_type: inferred from architectures. */
    write_text(hf_file, "{\"architectures\": [\"RobertaForSequenceClassification\"]}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_str_eq(c.arch, "roberta");
    ck_assert_int_eq(c.pad_token_id, 1);

    /* null counts as absent for nullable fields. */
    write_text(hf_file, "{\"pad_token_id\": null, \"problem_type\": null, \"id2label\": null}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert_str_eq(c.problem_type, "");

    /* num_labels alone. */
    write_text(hf_file, "{\"num_labels\": 3, \"problem_type\": \"regression\"}");
    ck_assert_int_eq(hfconfig_read(&c, hf_file, &e), 0);
    ck_assert_int_eq(c.num_labels, 3);
    ck_assert_ptr_null(c.id2label);
    ck_assert_str_eq(c.problem_type, "regression");
}
END_TEST

struct bad_cfg {
    const char *json;
    int code;
    const char *expect[2];
};

static const struct bad_cfg bad_cfgs[] = {
    /* wrong JSON types name the field, the expected and the found type */
    {"{\"hidden_size\": \"768\"}",
     ERR_FORMAT,
     {"field 'hidden_size': expected an integer, found string \"768\"", NULL}},
    {"{\"num_hidden_layers\": 12.5}",
     ERR_FORMAT,
     {"field 'num_hidden_layers': expected an integer, found number 12.5", NULL}},
    {"{\"vocab_size\": null}",
     ERR_FORMAT,
     {"field 'vocab_size': expected an integer, found null", NULL}},
    {"{\"layer_norm_eps\": true}",
     ERR_FORMAT,
     {"field 'layer_norm_eps': expected a number, found boolean true", NULL}},
    {"{\"hidden_dropout_prob\": \"0.1\"}",
     ERR_FORMAT,
     {"field 'hidden_dropout_prob': expected a number, found string \"0.1\"", NULL}},
    {"{\"hidden_act\": 5}",
     ERR_FORMAT,
     {"field 'hidden_act': expected a string, found number 5", NULL}},
    {"{\"model_type\": [\"bert\"]}",
     ERR_FORMAT,
     {"field 'model_type': expected a string, found an array", NULL}},
    {"{\"architectures\": \"BertModel\"}",
     ERR_FORMAT,
     {"field 'architectures': expected an array of strings, found string \"BertModel\"", NULL}},
    {"{\"architectures\": [7]}",
     ERR_FORMAT,
     {"field 'architectures[0]': expected a string, found number 7", NULL}},
    {"{\"id2label\": [\"a\", \"b\"]}",
     ERR_FORMAT,
     {"field 'id2label': expected an object", "found an array"}},
    {"{\"id2label\": {\"0\": 1}}",
     ERR_FORMAT,
     {"field 'id2label[\"0\"]': expected a string, found number 1", NULL}},
    {"{\"num_labels\": {}}",
     ERR_FORMAT,
     {"field 'num_labels': expected an integer, found an object", NULL}},
    /* values */
    {"{\"hidden_size\": 770, \"num_attention_heads\": 12}",
     ERR_CONFIG,
     {"hidden_size 770 is not a multiple of num_attention_heads 12", NULL}},
    {"{\"vocab_size\": 0}", ERR_RANGE, {"field 'vocab_size': 0 is not in [1, 1048576]", NULL}},
    {"{\"num_hidden_layers\": 2000}",
     ERR_RANGE,
     {"field 'num_hidden_layers': 2000 is not in [1, 1024]", NULL}},
    {"{\"hidden_size\": 1e10}", ERR_RANGE, {"field 'hidden_size'", "does not fit an int"}},
    {"{\"intermediate_size\": -4}", ERR_RANGE, {"field 'intermediate_size': -4", NULL}},
    {"{\"pad_token_id\": 30522}",
     ERR_RANGE,
     {"field 'pad_token_id': 30522 is not in [0, vocab_size 30522)", NULL}},
    {"{\"layer_norm_eps\": 0}", ERR_RANGE, {"field 'layer_norm_eps': 0 is not in (0, 1)", NULL}},
    {"{\"layer_norm_eps\": 1e300}", ERR_RANGE, {"field 'layer_norm_eps'", "out of float range"}},
    {"{\"hidden_dropout_prob\": 1.5}",
     ERR_RANGE,
     {"field 'hidden_dropout_prob': 1.5 is not in [0, 1)", NULL}},
    {"{\"classifier_dropout\": 1}", ERR_RANGE, {"field 'classifier_dropout'", NULL}},
    {"{\"initializer_range\": 0}", ERR_RANGE, {"field 'initializer_range'", NULL}},
    {"{\"hidden_act\": \"mish\"}",
     ERR_UNSUPPORTED,
     {"field 'hidden_act': 'mish' is not supported", "gelu_new"}},
    {"{\"hidden_act\": \"a_very_long_activation\"}",
     ERR_LIMIT,
     {"field 'hidden_act'", "longer than the 15 allowed"}},
    {"{\"model_type\": \"gpt2\"}",
     ERR_UNSUPPORTED,
     {"field 'model_type': 'gpt2' is not supported", NULL}},
    {"{\"architectures\": [\"GPT2LMHeadModel\"]}",
     ERR_UNSUPPORTED,
     {"architectures[0] 'GPT2LMHeadModel'", NULL}},
    {"{\"position_embedding_type\": \"relative_key\"}",
     ERR_UNSUPPORTED,
     {"field 'position_embedding_type': 'relative_key' is not supported", NULL}},
    {"{\"problem_type\": \"ranking\"}", ERR_CONFIG, {"field 'problem_type': 'ranking'", NULL}},
    {"{\"num_labels\": 0}", ERR_RANGE, {"field 'num_labels': 0 is not in [1", NULL}},
    {"{\"num_labels\": 3, \"id2label\": {\"0\": \"a\", \"1\": \"b\"}}",
     ERR_CONFIG,
     {"field 'num_labels' is 3 but 'id2label' has 2 entries", NULL}},
    {"{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}",
     ERR_CONFIG,
     {"field 'id2label': key '2' is not an index in [0, 2)", NULL}},
    {"{\"id2label\": {\"0\": \"a\", \"01\": \"b\"}}",
     ERR_CONFIG,
     {"key '01' is not an index", NULL}},
    {"{\"id2label\": {\"0\": \"a\", \"0\": \"b\"}}",
     ERR_CONFIG,
     {"field 'id2label': key '0' given twice", NULL}},
    {"{\"id2label\": {}}", ERR_RANGE, {"field 'id2label': 0 entries", NULL}},
    {"{\"hidden_size\": 768, \"hidden_size\": 1024}",
     ERR_FORMAT,
     {"field 'hidden_size' appears more than once", NULL}},
    {"{\"model_type\": \"roberta\", \"max_position_embeddings\": 2}",
     ERR_CONFIG,
     {"roberta needs max_position_embeddings > pad_token_id + 1", NULL}},
    /* file level */
    {"[1, 2]", ERR_FORMAT, {"expected a JSON object at the top level", NULL}},
    {"{\"hidden_size\": 768,}", ERR_FORMAT, {"not valid JSON", NULL}},
    {"", ERR_FORMAT, {"not valid JSON", NULL}},
};

START_TEST(bad_config_rejected)
{
    const struct bad_cfg *b = &bad_cfgs[_i];
    write_text(hf_file, b->json);
    struct bert_config c;
    struct err e = {0};
    int rc = hfconfig_read(&c, hf_file, &e);
    ck_assert_msg(rc == b->code, "%s: got %d (%s), expected %d", b->json, rc, e.msg, b->code);
    ck_assert_msg(strstr(e.msg, hf_file) != NULL, "%s: message does not name the file: %s", b->json,
                  e.msg);
    for (int k = 0; k < 2; k++)
        if (b->expect[k])
            ck_assert_msg(strstr(e.msg, b->expect[k]) != NULL, "%s: message '%s' lacks '%s'",
                          b->json, e.msg, b->expect[k]);
    ck_assert_ptr_null(c.id2label); /* nothing owned after a failure */
}
END_TEST

START_TEST(missing_file)
{
    char absent[200];
    snprintf(absent, sizeof absent, "%s/absent.json", hf_dir);
    struct bert_config c;
    struct err e = {0};
    ck_assert_int_eq(hfconfig_read(&c, absent, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "absent.json: cannot open"));
}
END_TEST

static void assert_same_config(const struct bert_config *a, const struct bert_config *b)
{
    ck_assert_str_eq(a->arch, b->arch);
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    ck_assert_int_eq(a->hidden_size, b->hidden_size);
    ck_assert_int_eq(a->num_hidden_layers, b->num_hidden_layers);
    ck_assert_int_eq(a->num_attention_heads, b->num_attention_heads);
    ck_assert_int_eq(a->intermediate_size, b->intermediate_size);
    ck_assert_int_eq(a->max_position_embeddings, b->max_position_embeddings);
    ck_assert_int_eq(a->type_vocab_size, b->type_vocab_size);
    ck_assert_int_eq(a->pad_token_id, b->pad_token_id);
    ck_assert(a->layer_norm_eps == b->layer_norm_eps);
    ck_assert(a->hidden_dropout_prob == b->hidden_dropout_prob);
    ck_assert(a->attention_probs_dropout_prob == b->attention_probs_dropout_prob);
    ck_assert(a->classifier_dropout == b->classifier_dropout);
    ck_assert(a->initializer_range == b->initializer_range);
    ck_assert_str_eq(a->hidden_act, b->hidden_act);
    ck_assert_int_eq(a->num_labels, b->num_labels);
    ck_assert_str_eq(a->problem_type, b->problem_type);
    ck_assert_str_eq(a->architectures0, b->architectures0);
    ck_assert_int_eq(a->id2label == NULL, b->id2label == NULL);
    if (a->id2label)
        for (int i = 0; i < a->num_labels; i++)
            ck_assert_str_eq(a->id2label[i], b->id2label[i]);
}

START_TEST(write_read_round_trip)
{
    struct bert_config c, r;
    struct err e = {0};

    /* Defaults: architectures0 is filled in by the writer. */
    hfconfig_default(&c);
    ck_assert_msg(hfconfig_write(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_msg(hfconfig_read(&r, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(r.architectures0, "BertModel");
    ck_assert_str_eq(r.defaulted, ""); /* every field was written */
    snprintf(c.architectures0, sizeof c.architectures0, "BertModel");
    assert_same_config(&c, &r);
    hfconfig_free(&r);

    /* Everything changed, odd floats, labels needing escapes. */
    hfconfig_default(&c);
    snprintf(c.arch, sizeof c.arch, "roberta");
    snprintf(c.architectures0, sizeof c.architectures0, "RobertaForSequenceClassification");
    c.vocab_size = 50265;
    c.hidden_size = 96;
    c.num_hidden_layers = 3;
    c.num_attention_heads = 6;
    c.intermediate_size = 384;
    c.max_position_embeddings = 514;
    c.type_vocab_size = 1;
    c.pad_token_id = 1;
    c.layer_norm_eps = 1e-5f;
    c.hidden_dropout_prob = 0.123456789f;
    c.attention_probs_dropout_prob = 0.0f;
    c.classifier_dropout = 0.2f;
    c.initializer_range = 0.037f;
    snprintf(c.hidden_act, sizeof c.hidden_act, "gelu_new");
    snprintf(c.problem_type, sizeof c.problem_type, "multi_label_classification");
    char *labels[3] = {"neg", "say \"neutral\"\\\n", "pos\xc3\xa9"};
    c.num_labels = 3;
    c.id2label = labels; /* borrowed for the write only */
    ck_assert_msg(hfconfig_write(&c, hf_file, &e) == 0, "%s", e.msg);
    ck_assert_msg(hfconfig_read(&r, hf_file, &e) == 0, "%s", e.msg);
    assert_same_config(&c, &r);
    hfconfig_free(&r);

    /* The text is what transformers writes: 2-space indent, shortest floats. */
    FILE *f = fopen(hf_file, "r");
    ck_assert_ptr_nonnull(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "{\n  \"architectures\": [\n    "
                                       "\"RobertaForSequenceClassification\"\n  ],\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"layer_norm_eps\": 1e-05,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"initializer_range\": 0.037,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"id2label\": {\n    \"0\": \"neg\",\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"say \\\"neutral\\\"\\\\\\n\": 1"));
    ck_assert_ptr_nonnull(strstr(text, "\n  \"model_type\": \"roberta\",\n"));

    /* An invalid config is refused and nothing is written. */
    char other[200];
    snprintf(other, sizeof other, "%s/other.json", hf_dir);
    hfconfig_default(&c);
    c.num_attention_heads = 7;
    ck_assert_int_eq(hfconfig_write(&c, other, &e), ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a multiple of num_attention_heads 7"));
    ck_assert_int_ne(access(other, F_OK), 0);
}
END_TEST

/* ---- non-finite weights in a checkpoint ------------------------------------------------ */

#define QW "encoder.layer.0.attention.self.query.weight"
#define OB "encoder.layer.1.output.dense.bias"

struct poke {
    const char *tensor; /* NULL: every backbone tensor */
    size_t index;
    float value;
};

/* A tiny BERT (backbone only) saved to hf_dir, with the values of pk[0..n) poked in. */
static void save_tiny(const struct poke *pk, int n)
{
    struct bert_config c;
    hfconfig_default(&c);
    c.vocab_size = 20;
    c.hidden_size = 8;
    c.num_attention_heads = 2;
    c.intermediate_size = 16;
    c.num_hidden_layers = 2;
    c.max_position_embeddings = 16;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct err e = {0};
    ck_assert_msg(model_create(&m, &c, 2, &acct, &e) == 0, "%s", e.msg);
    model_init_weights(&m, 3);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < m.ps.n; i++) {
            struct param *p = m.ps.items[i];
            if (pk[k].tensor ? strcmp(p->name, pk[k].tensor) == 0 : p->group == PGROUP_BACKBONE)
                p->data[pk[k].index] = pk[k].value;
        }
    ck_assert_msg(model_save_dir(&m, hf_dir, false, NULL, &e) == 0, "%s", e.msg);
    model_destroy(&m);
}

static void load_tiny(struct model *m, struct mem_acct *acct)
{
    struct err e = {0};
    mem_acct_init(acct);
    ck_assert_msg(model_load_dir(m, hf_dir, 2, 1, acct, &e) == 0, "%s", e.msg);
}

START_TEST(clean_checkpoint_no_warning)
{
    save_tiny(NULL, 0);
    struct mem_acct acct;
    struct model m;
    load_tiny(&m, &acct);
    ck_assert_str_eq(m.load_warning, "");
    ck_assert_uint_eq(m.load_nonfinite, 0);
    struct err e = {0};
    ck_assert_int_eq(model_check_finite(&m, &e), ERR_OK);
    model_destroy(&m);
}
END_TEST

START_TEST(nonfinite_weights_are_named)
{
    const struct poke pk[] = {
        {QW, 17, NAN}, {QW, 40, INFINITY}, {QW, 41, -INFINITY}, {OB, 5, -INFINITY}};
    save_tiny(pk, 4);
    struct mem_acct acct;
    struct model m;
    load_tiny(&m, &acct); /* a warning, not an error: the values are loaded as they are */
    ck_assert(isnan(param_find(&m.ps, QW)->data[17]));
    ck_assert_uint_eq(m.load_nonfinite, 2);
    char want[512];
    snprintf(want, sizeof want,
             "%s/model.safetensors: " QW ": 3 non-finite values (first at index 17: nan); " OB
             ": 1 non-finite value (first at index 5: -inf)",
             hf_dir);
    ck_assert_str_eq(m.load_warning, want);
    struct err e = {0};
    ck_assert_int_eq(model_check_finite(&m, &e), ERR_NUMERIC);
    ck_assert_msg(strstr(e.msg, "non-finite weights in 2 tensors") && strstr(e.msg, QW) &&
                      strstr(e.msg, "model.safetensors"),
                  "%s", e.msg);
    model_destroy(&m);
}
END_TEST

/* Every backbone tensor poisoned: the warning is cut at its buffer with "...", the count whole. */
START_TEST(nonfinite_everywhere_is_cut_not_overflowed)
{
    const struct poke pk[] = {{NULL, 0, NAN}};
    save_tiny(pk, 1);
    struct mem_acct acct;
    struct model m;
    load_tiny(&m, &acct);
    size_t backbone = 0;
    for (size_t i = 0; i < m.ps.n; i++)
        backbone += m.ps.items[i]->group == PGROUP_BACKBONE;
    ck_assert_uint_eq(m.load_nonfinite, backbone);
    size_t len = strlen(m.load_warning);
    ck_assert_uint_eq(len, sizeof m.load_warning - 1);
    ck_assert_str_eq(m.load_warning + len - 3, "...");
    ck_assert_ptr_nonnull(strstr(m.load_warning, "embeddings.word_embeddings.weight: 1 "
                                                 "non-finite value (first at index 0: nan)"));
    model_destroy(&m);
}
END_TEST

Suite *hfconfig_suite(void)
{
    Suite *s = suite_create("hfconfig");

    TCase *tc = tcase_create("read");
    tcase_add_unchecked_fixture(tc, hf_setup, hf_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reads_bert_base_uncased);
    tcase_add_test(tc, reads_roberta_base);
    tcase_add_test(tc, reads_classifier_with_labels);
    tcase_add_test(tc, missing_fields_take_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_unchecked_fixture(tc, hf_setup, hf_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, bad_config_rejected, 0, (int)(sizeof bad_cfgs / sizeof bad_cfgs[0]));
    tcase_add_test(tc, missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_unchecked_fixture(tc, hf_setup, hf_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, write_read_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("nonfinite");
    tcase_add_unchecked_fixture(tc, hf_setup, hf_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, clean_checkpoint_no_warning);
    tcase_add_test(tc, nonfinite_weights_are_named);
    tcase_add_test(tc, nonfinite_everywhere_is_cut_not_overflowed);
    suite_add_tcase(s, tc);
    return s;
}
