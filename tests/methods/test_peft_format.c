/*
 * The HF PEFT layout of LoRA and IA3 adapters (methods/peft_format.c): saved files (tensor
 * names, shapes and values, adapter_config.json fields), load round trips on BERT and RoBERTa,
 * PEFT's suffix matching of target modules, and bad adapter_config.json files.
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
#include "methods/registry.h"
#include "model/io/safetensors.h"
#include "tests/methods/lora_ia3_fixture.h"
#include "tests/suites.h"

/* ---- PEFT layout -------------------------------------------------------------------- */

struct tmpdir {
    char path[64];
};

static void tmp_make(struct tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/peftbench-peft-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->path));
}

static void tmp_file(const struct tmpdir *d, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", d->path, name);
}

static void tmp_remove(struct tmpdir *d)
{
    char p[128];
    const char *names[] = {PEFT_CONFIG_NAME, PEFT_WEIGHTS_NAME};
    for (int i = 0; i < 2; i++) {
        tmp_file(d, names[i], p, sizeof p);
        unlink(p);
    }
    ck_assert_int_eq(rmdir(d->path), 0); /* nothing else (no .tmp) left */
}

static cJSON *read_json(const struct tmpdir *d)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    ck_assert_ptr_nonnull(j);
    return j;
}

static void write_json(const struct tmpdir *d, const cJSON *j)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    char *text = cJSON_Print(j);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    free(text);
}

static void write_text(const struct tmpdir *d, const char *text)
{
    char p[128];
    tmp_file(d, PEFT_CONFIG_NAME, p, sizeof p);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

static void assert_strings(const cJSON *j, const char *key, const char *const *want, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsArray(a), "%s is not an array", key);
    ck_assert_int_eq(cJSON_GetArraySize(a), n);
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(a, i);
        ck_assert_msg(cJSON_IsString(s) && strcmp(s->valuestring, want[i]) == 0, "%s[%d]: want %s",
                      key, i, want[i]);
    }
}

static void assert_field_str(const cJSON *j, const char *key, const char *want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsString(x) && strcmp(x->valuestring, want) == 0, "%s != %s", key, want);
}

static void assert_field_num(const cJSON *j, const char *key, double want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsNumber(x) && x->valuedouble == want, "%s != %g", key, want);
}

static void assert_field_bool(const cJSON *j, const char *key, bool want)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    ck_assert_msg(cJSON_IsBool(x) && (bool)cJSON_IsTrue(x) == want, "%s != %d", key, want);
}

struct want_tensor {
    char name[160];
    int64_t d0, d1; /* d1 = 0: 1-D */
    const float *data;
};

/* The safetensors file holds exactly the wanted tensors, shapes and values. */
static void assert_tensors(const struct tmpdir *d, const struct want_tensor *w, size_t n)
{
    char p[128];
    tmp_file(d, PEFT_WEIGHTS_NAME, p, sizeof p);
    struct st_file f;
    struct err e;
    ck_assert_msg(st_read(&f, p, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(f.n, n);
    for (size_t i = 0; i < n; i++) {
        const struct st_tensor *t = st_find(&f, w[i].name);
        ck_assert_msg(t != NULL, "missing %s", w[i].name);
        ck_assert_int_eq(t->dtype, ST_F32);
        ck_assert_int_eq(t->ndim, w[i].d1 ? 2 : 1);
        ck_assert_int_eq(t->shape[0], w[i].d0);
        if (w[i].d1)
            ck_assert_int_eq(t->shape[1], w[i].d1);
        ck_assert(memcmp(t->data, w[i].data, t->numel * sizeof(float)) == 0);
    }
    st_free(&f);
}

START_TEST(peft_save_lora_layout)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *mi =
        lfx_attach(&f, "lora", "rank=4;alpha=8;dropout=0.1;targets=q,v,ffn_out;rslora=true");
    perturb(&f, "lora.", 0.3f, 1);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);

    struct want_tensor w[TL * 6 + 2];
    size_t n = 0;
    const enum hook_site sites[3] = {SITE_Q, SITE_V, SITE_FFN_OUT};
    for (int l = 0; l < TL; l++)
        for (int k = 0; k < 3; k++) {
            const char *mod = peft_site_module(sites[k]);
            int IN, OUT;
            site_dims(sites[k], &IN, &OUT);
            snprintf(w[n].name, sizeof w[n].name,
                     "base_model.model.bert.encoder.layer.%d.%s.lora_A.weight", l, mod);
            w[n].d0 = 4, w[n].d1 = IN;
            w[n++].data = P(&f, "lora.encoder.layer.%d.%s.lora_A", l, mod)->data;
            snprintf(w[n].name, sizeof w[n].name,
                     "base_model.model.bert.encoder.layer.%d.%s.lora_B.weight", l, mod);
            w[n].d0 = OUT, w[n].d1 = 4;
            w[n++].data = P(&f, "lora.encoder.layer.%d.%s.lora_B", l, mod)->data;
        }
    snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.weight");
    w[n].d0 = TC, w[n].d1 = TD, w[n++].data = f.m.cls_w->data;
    snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.bias");
    w[n].d0 = TC, w[n].d1 = 0, w[n++].data = f.m.cls_b->data;
    assert_tensors(&d, w, n);

    cJSON *j = read_json(&d);
    assert_field_str(j, "peft_type", "LORA");
    assert_field_str(j, "task_type", "SEQ_CLS");
    assert_field_str(j, "base_model_name_or_path", "");
    assert_field_num(j, "r", 4);
    assert_field_num(j, "lora_alpha", 8);
    assert_field_num(j, "lora_dropout", 0.1);
    assert_field_bool(j, "use_rslora", true);
    assert_field_bool(j, "fan_in_fan_out", false);
    assert_field_bool(j, "init_lora_weights", true);
    assert_field_bool(j, "inference_mode", true);
    assert_field_str(j, "bias", "none");
    const char *tm[] = {"query", "value", "layer.0.output.dense", "layer.1.output.dense"};
    assert_strings(j, "target_modules", tm, 4);
    const char *mts[] = {"classifier"};
    assert_strings(j, "modules_to_save", mts, 1);
    cJSON_Delete(j);
    tmp_remove(&d);
    lfx_free(&f);
}
END_TEST

START_TEST(peft_save_ia3_layout)
{
    for (int variant = 0; variant < 2; variant++) {
        struct lfx f;
        lfx_init(&f, 0.1f);
        struct method_inst *mi = lfx_attach(&f, "ia3", variant ? "targets=k,v" : "");
        perturb(&f, "ia3.", 0.3f, 1);
        struct tmpdir d;
        tmp_make(&d);
        struct err e;
        ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
        struct want_tensor w[TL * 3 + 2];
        size_t n = 0;
        for (int l = 0; l < TL; l++) {
            const char *mods[3] = {"attention.self.key", "attention.self.value", "output.dense"};
            for (int k = 0; k < (variant ? 2 : 3); k++) {
                snprintf(w[n].name, sizeof w[n].name,
                         "base_model.model.bert.encoder.layer.%d.%s.ia3_l", l, mods[k]);
                w[n].d0 = k == 2 ? 1 : TD; /* output scaling (OUT, 1); ffn_act (1, F) */
                w[n].d1 = k == 2 ? TF : 1;
                w[n++].data = P(&f, "ia3.encoder.layer.%d.%s.ia3_l", l, mods[k])->data;
            }
        }
        snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.weight");
        w[n].d0 = TC, w[n].d1 = TD, w[n++].data = f.m.cls_w->data;
        snprintf(w[n].name, sizeof w[n].name, "base_model.model.classifier.bias");
        w[n].d0 = TC, w[n].d1 = 0, w[n++].data = f.m.cls_b->data;
        assert_tensors(&d, w, n);

        cJSON *j = read_json(&d);
        assert_field_str(j, "peft_type", "IA3");
        assert_field_str(j, "task_type", "SEQ_CLS");
        assert_field_bool(j, "fan_in_fan_out", false);
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "r"));
        const char *tm[] = {"key", "value", "layer.0.output.dense", "layer.1.output.dense"};
        assert_strings(j, "target_modules", tm, variant ? 2 : 4);
        assert_strings(j, "feedforward_modules", tm + 2, variant ? 0 : 2);
        const char *mts[] = {"classifier"};
        assert_strings(j, "modules_to_save", mts, 1);
        cJSON_Delete(j);
        tmp_remove(&d);
        lfx_free(&f);
    }
}
END_TEST

static const struct {
    const char *arch, *method, *ex;
} rt_cases[] = {
    {"bert", "lora", ""},
    {"bert", "lora", "rank=2;alpha=4;targets=q,k,v,o,ffn_in,ffn_out"},
    {"bert", "lora", "rank=4;alpha=8;rslora=true;dropout=0.1;targets=o,ffn_out"},
    {"bert", "ia3", ""},
    {"bert", "ia3", "targets=k,v,q,o,ffn_act,ffn_in"},
    {"roberta", "lora", "rank=3;targets=k,ffn_in"},
    {"roberta", "ia3", "targets=q,o,ffn_in"},
};

START_TEST(peft_load_round_trip)
{
    struct lfx f, g;
    lfx_init_arch(&f, 0.1f, rt_cases[_i].arch);
    struct method_inst *mi = lfx_attach(&f, rt_cases[_i].method, rt_cases[_i].ex);
    perturb(&f, "lora.", 0.3f, 1);
    perturb(&f, "ia3.", 0.3f, 2);
    perturb(&f, "classifier.", 0.3f, 3);
    float a[TB * TC], b[TB * TC];
    lfx_logits(&f, false, 1, a);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    lfx_init_arch(&g, 0.1f, rt_cases[_i].arch); /* same backbone seed */
    ck_assert_msg(peft_load(d.path, &g.m, &g.mi[0], 99, &e) == 0, "%s[%s]: %s", rt_cases[_i].method,
                  rt_cases[_i].ex, e.msg);
    g.n = 1;
    ck_assert_str_eq(g.mi[0].ops->name, rt_cases[_i].method);
    for (int k = 0; k < mi->hp.n; k++) {
        char x[128], y[128];
        hp_format(&mi->hp, k, x, sizeof x);
        hp_format(&g.mi[0].hp, k, y, sizeof y);
        ck_assert_msg(strcmp(x, y) == 0, "%s: %s vs %s", mi->hp.defs[k].name, x, y);
    }
    lfx_logits(&g, false, 1, b);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "reloaded logits differ");
    tmp_remove(&d);
    lfx_free(&g);
    lfx_free(&f);
}
END_TEST

/* Entries follow PEFT's suffix rule: a plain "output.dense" selects both output.dense
 * Linears (o and ffn_out) for LoRA. */
START_TEST(peft_load_follows_suffix_matching)
{
    struct lfx f, g;
    lfx_init(&f, 0.1f);
    struct method_inst *mi = lfx_attach(&f, "lora", "targets=o,ffn_out");
    perturb(&f, "lora.", 0.3f, 1);
    struct tmpdir d;
    tmp_make(&d);
    struct err e;
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    cJSON *j = read_json(&d);
    cJSON_ReplaceItemInObjectCaseSensitive(
        j, "target_modules", cJSON_CreateStringArray((const char *const[]){"output.dense"}, 1));
    write_json(&d, j);
    cJSON_Delete(j);
    lfx_init(&g, 0.1f);
    ck_assert_msg(peft_load(d.path, &g.m, &g.mi[0], 1, &e) == 0, "%s", e.msg);
    g.n = 1;
    char buf[64];
    hp_format(&g.mi[0].hp, hp_index(&g.mi[0].hp, "targets"), buf, sizeof buf);
    ck_assert_str_eq(buf, "o,ffn_out");
    float a[TB * TC], b[TB * TC];
    lfx_logits(&f, false, 1, a);
    lfx_logits(&g, false, 1, b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    tmp_remove(&d);
    lfx_free(&g);
    lfx_free(&f);
}
END_TEST

/* A bad adapter directory: the code, and a message naming the file and the field. */
static void expect_load_error(const struct tmpdir *d, int code, const char *n1, const char *n2)
{
    struct lfx g;
    lfx_init(&g, 0.1f);
    struct err e;
    ck_assert_int_eq(peft_load(d->path, &g.m, &g.mi[0], 1, &e), code);
    ck_assert_msg(strstr(e.msg, n1) != NULL, "'%s' not in: %s", n1, e.msg);
    ck_assert_msg(!n2 || strstr(e.msg, n2) != NULL, "'%s' not in: %s", n2, e.msg);
    ck_assert_ptr_null(g.mi[0].ops);
    ck_assert_int_eq(g.m.enc.hooks.n, 0); /* no hook left pointing into a freed instance */
    lfx_free(&g);
}

START_TEST(peft_load_bad_config)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *mi = lfx_attach(&f, "lora", "rank=4;targets=q,v");
    struct tmpdir d;
    tmp_make(&d);
    struct err e;

    /* missing file */
    expect_load_error(&d, ERR_IO, "adapter_config.json", d.path);
    ck_assert_msg(peft_save(d.path, mi, &f.m, &e) == 0, "%s", e.msg);
    cJSON *good = read_json(&d);

    struct {
        const char *field, *json; /* replace field with json value (NULL json: delete it) */
        int code;
        const char *n1, *n2;
    } cases[] = {
        {"r", "\"8\"", ERR_FORMAT, "field 'r'", "a string (\"8\")"},
        {"r", "2.5", ERR_FORMAT, "field 'r'", "an integer"},
        {"r", "0", ERR_RANGE, "rank", "adapter_config.json"},
        {"r", "17", ERR_RANGE, "rank", "adapter_config.json"}, /* > min(IN, OUT) = 16 */
        {"r", "2", ERR_FORMAT, "lora_A.weight", "expected shape [2, 16], found [4, 16]"},
        {"peft_type", "\"PREFIX_TUNING\"", ERR_UNSUPPORTED, "field 'peft_type'", "PREFIX_TUNING"},
        {"peft_type", "3", ERR_FORMAT, "field 'peft_type'", "a number"},
        {"peft_type", NULL, ERR_FORMAT, "field 'peft_type'", "absent"},
        {"task_type", "\"CAUSAL_LM\"", ERR_UNSUPPORTED, "field 'task_type'", "SEQ_CLS"},
        {"lora_alpha", "\"16\"", ERR_FORMAT, "field 'lora_alpha'", "a number"},
        {"use_rslora", "\"yes\"", ERR_FORMAT, "field 'use_rslora'", "true or false"},
        {"fan_in_fan_out", "true", ERR_UNSUPPORTED, "field 'fan_in_fan_out'", NULL},
        {"bias", "\"all\"", ERR_UNSUPPORTED, "field 'bias'", "none"},
        {"target_modules", "\".*query\"", ERR_UNSUPPORTED, "field 'target_modules'", "regex"},
        {"target_modules", "[\"query\", 3]", ERR_FORMAT, "field 'target_modules'", "a number"},
        {"target_modules", "[\"nothing\"]", ERR_CONFIG, "target_modules", "matches no Linear"},
        {"target_modules", "[\"layer.0.attention.self.query\"]", ERR_UNSUPPORTED, "layer 1", NULL},
        {"target_modules", "[\"query\"]", ERR_FORMAT, "unexpected tensor",
         "attention.self.value.lora_A.weight"},
        {"target_modules", "[\"query\", \"value\", \"key\"]", ERR_FORMAT, "missing tensor",
         "attention.self.key.lora_A.weight"},
        {"layers_to_transform", "[0]", ERR_UNSUPPORTED, "layers_to_transform", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *j = cJSON_Duplicate(good, 1);
        if (cases[i].json) {
            cJSON *v = cJSON_Parse(cases[i].json);
            ck_assert_ptr_nonnull(v);
            if (cJSON_GetObjectItemCaseSensitive(j, cases[i].field))
                cJSON_ReplaceItemInObjectCaseSensitive(j, cases[i].field, v);
            else
                cJSON_AddItemToObject(j, cases[i].field, v);
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(j, cases[i].field);
        }
        write_json(&d, j);
        cJSON_Delete(j);
        expect_load_error(&d, cases[i].code, cases[i].n1, cases[i].n2);
    }

    write_text(&d, "{\"peft_type\": \"LORA\", \"r\": 4,");
    expect_load_error(&d, ERR_FORMAT, "not valid JSON", "adapter_config.json");
    write_text(&d, "[1, 2]");
    expect_load_error(&d, ERR_FORMAT, "expected a JSON object", "an array");
    write_text(&d, "{\"peft_type\": \"LORA\", \"r\": 4, \"r\": 8}");
    expect_load_error(&d, ERR_FORMAT, "'r' given twice", NULL);
    /* PEFT's IA3 BERT default suffix-matches attention.output.dense as an input scaling */
    write_text(&d,
               "{\"peft_type\": \"IA3\", \"task_type\": \"SEQ_CLS\", \"target_modules\": null}");
    expect_load_error(&d, ERR_UNSUPPORTED, "attention.output.dense", "feedforward_modules");

    /* missing weights file */
    write_json(&d, good);
    char p[128];
    tmp_file(&d, PEFT_WEIGHTS_NAME, p, sizeof p);
    unlink(p);
    expect_load_error(&d, ERR_IO, PEFT_WEIGHTS_NAME, NULL);

    cJSON_Delete(good);
    tmp_remove(&d);
    lfx_free(&f);
}
END_TEST

START_TEST(peft_save_rejects_other_methods)
{
    struct lfx f;
    lfx_init(&f, 0.1f);
    struct method_inst *mi = lfx_attach(&f, "bitfit", "");
    struct err e;
    ck_assert_int_eq(peft_save("/tmp/peftbench-peft-never", mi, &f.m, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "bitfit"));
    ck_assert_int_ne(access("/tmp/peftbench-peft-never", F_OK), 0);
    lfx_free(&f);
}
END_TEST

Suite *peft_format_suite(void)
{
    Suite *s = suite_create("peft_format");
    TCase *io = tcase_create("peft_format");
    tcase_set_timeout(io, 300);
    tcase_add_test(io, peft_save_lora_layout);
    tcase_add_test(io, peft_save_ia3_layout);
    tcase_add_loop_test(io, peft_load_round_trip, 0, (int)(sizeof rt_cases / sizeof *rt_cases));
    tcase_add_test(io, peft_load_follows_suffix_matching);
    tcase_add_test(io, peft_load_bad_config);
    tcase_add_test(io, peft_save_rejects_other_methods);
    suite_add_tcase(s, io);
    return s;
}
