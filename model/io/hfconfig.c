/*
 * hfconfig: config.json reader, validator and writer; the contract is in hfconfig.h.
 */
#include "model/io/hfconfig.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/fileio.h"
#include "base/readfile.h"

static const char *const hf_acts[] = {"gelu", "gelu_new", "relu", "swish", "silu", "tanh"};
static const char *const hf_problems[] = {"", "regression", "single_label_classification",
                                          "multi_label_classification"};

void hfconfig_default(struct bert_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->arch, sizeof c->arch, "bert");
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->pad_token_id = 0;
    c->layer_norm_eps = 1e-12f;
    c->hidden_dropout_prob = 0.1f;
    c->attention_probs_dropout_prob = 0.1f;
    c->classifier_dropout = -1.0f;
    c->initializer_range = 0.02f;
    snprintf(c->hidden_act, sizeof c->hidden_act, "gelu");
    c->num_labels = 2;
}

void hfconfig_free(struct bert_config *c)
{
    if (!c || !c->id2label)
        return;
    for (int i = 0; i < c->num_labels; i++)
        free(c->id2label[i]);
    free(c->id2label);
    c->id2label = NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 */

struct hf_ctx {
    const cJSON *root; /* borrowed: the parsed file */
    const char *path;
    struct bert_config *c;
    struct err *e;
};

/* "string \"768\"", "number 768.5", "boolean true", "null", "an array", "an object". */
static void hf_found(char *buf, size_t n, const cJSON *j)
{
    if (cJSON_IsString(j))
        snprintf(buf, n, "string \"%.40s\"", j->valuestring);
    else if (cJSON_IsNumber(j))
        snprintf(buf, n, "number %.17g", j->valuedouble);
    else if (cJSON_IsBool(j))
        snprintf(buf, n, "boolean %s", cJSON_IsTrue(j) ? "true" : "false");
    else if (cJSON_IsNull(j))
        snprintf(buf, n, "null");
    else if (cJSON_IsArray(j))
        snprintf(buf, n, "an array");
    else
        snprintf(buf, n, "an object");
}

static int hf_type_error(struct hf_ctx *cx, const char *key, const char *expected, const cJSON *j)
{
    char found[64];
    hf_found(found, sizeof found, j);
    return ERR_SET(cx->e, ERR_FORMAT, "%s: field '%s': expected %s, found %s", cx->path, key,
                   expected, found);
}

static void hf_note_default(struct bert_config *c, const char *key)
{
    size_t used = strlen(c->defaulted);
    snprintf(c->defaulted + used, sizeof c->defaulted - used, "%s%s", used ? "," : "", key);
}

/* The value of key, or NULL when it is absent (or null and the field is nullable). */
static const cJSON *hf_item(struct hf_ctx *cx, const char *key, bool nullable)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cx->root, key);
    if (j && nullable && cJSON_IsNull(j))
        return NULL;
    if (!j)
        hf_note_default(cx->c, key);
    return j;
}

static int hf_get_int(struct hf_ctx *cx, const char *key, int *dst, bool nullable)
{
    const cJSON *j = hf_item(cx, key, nullable);
    if (!j)
        return 0;
    if (!cJSON_IsNumber(j))
        return hf_type_error(cx, key, "an integer", j);
    double d = j->valuedouble;
    if (!(d >= (double)INT_MIN && d <= (double)INT_MAX)) /* also catches NaN */
        return ERR_SET(cx->e, ERR_RANGE, "%s: field '%s': %.17g does not fit an int", cx->path, key,
                       d);
    if ((double)(int)d != d)
        return hf_type_error(cx, key, "an integer", j);
    *dst = (int)d;
    return 0;
}

static int hf_get_float(struct hf_ctx *cx, const char *key, float *dst, bool nullable)
{
    const cJSON *j = hf_item(cx, key, nullable);
    if (!j)
        return 0;
    if (!cJSON_IsNumber(j))
        return hf_type_error(cx, key, "a number", j);
    float f = (float)j->valuedouble;
    if (!isfinite(f))
        return ERR_SET(cx->e, ERR_RANGE, "%s: field '%s': %.17g is out of float range", cx->path,
                       key, j->valuedouble);
    *dst = f;
    return 0;
}

static int hf_copy_str(struct hf_ctx *cx, const char *key, char *dst, size_t cap, const char *s)
{
    size_t len = strlen(s);
    if (len >= cap)
        return ERR_SET(cx->e, ERR_LIMIT,
                       "%s: field '%s': \"%.40s\" is %zu bytes, longer than the %zu allowed",
                       cx->path, key, s, len, cap - 1);
    memcpy(dst, s, len + 1);
    return 0;
}

static int hf_get_str(struct hf_ctx *cx, const char *key, char *dst, size_t cap, bool nullable)
{
    const cJSON *j = hf_item(cx, key, nullable);
    if (!j)
        return 0;
    if (!cJSON_IsString(j))
        return hf_type_error(cx, key, "a string", j);
    return hf_copy_str(cx, key, dst, cap, j->valuestring);
}

/* model_type and architectures decide arch, which decides the defaults of pad and eps. */
static int hf_get_arch(struct hf_ctx *cx)
{
    struct bert_config *c = cx->c;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(cx->root, "architectures");
    if (archs && !cJSON_IsNull(archs)) {
        if (!cJSON_IsArray(archs))
            return hf_type_error(cx, "architectures", "an array of strings", archs);
        const cJSON *first = cJSON_GetArrayItem(archs, 0);
        if (first) {
            if (!cJSON_IsString(first))
                return hf_type_error(cx, "architectures[0]", "a string", first);
            int rc = hf_copy_str(cx, "architectures", c->architectures0, sizeof c->architectures0,
                                 first->valuestring);
            if (rc)
                return rc;
        }
    }

    char mt[32] = "";
    int rc = hf_get_str(cx, "model_type", mt, sizeof mt, false);
    if (rc)
        return rc;
    if (mt[0] == '\0') {
        /* Old checkpoints have no model_type: infer it like AutoConfig's name matching does. */
        if (strncmp(c->architectures0, "Roberta", 7) == 0)
            snprintf(mt, sizeof mt, "roberta");
        else if (strncmp(c->architectures0, "Bert", 4) == 0 || c->architectures0[0] == '\0')
            snprintf(mt, sizeof mt, "bert");
        else
            return ERR_SET(cx->e, ERR_UNSUPPORTED,
                           "%s: no model_type, and architectures[0] '%s' is neither Bert* nor "
                           "Roberta*",
                           cx->path, c->architectures0);
    }
    if (strcmp(mt, "bert") != 0 && strcmp(mt, "roberta") != 0)
        return ERR_SET(cx->e, ERR_UNSUPPORTED,
                       "%s: field 'model_type': '%s' is not supported (expected \"bert\" or "
                       "\"roberta\")",
                       cx->path, mt);
    snprintf(c->arch, sizeof c->arch, "%s", mt);
    if (strcmp(mt, "roberta") == 0) {
        c->pad_token_id = 1;
        c->layer_norm_eps = 1e-5f;
    }
    return 0;
}

/* Parse a decimal index "0", "17" (no sign, no leading zeros); -1 if it is not one. */
static long hf_parse_index(const char *s)
{
    if (!s[0] || (s[0] == '0' && s[1]) || strlen(s) > 9)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* num_labels and id2label: either may be given; when both are, they must agree. */
static int hf_get_labels(struct hf_ctx *cx)
{
    struct bert_config *c = cx->c;
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(cx->root, "num_labels");
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(cx->root, "id2label");
    if (map && cJSON_IsNull(map))
        map = NULL;
    if (!nl && !map) {
        hf_note_default(c, "num_labels");
        return 0;
    }
    if (nl) {
        int rc = hf_get_int(cx, "num_labels", &c->num_labels, false);
        if (rc)
            return rc;
        if (c->num_labels < 1 || c->num_labels > HFCONFIG_MAX_LABELS)
            return ERR_SET(cx->e, ERR_RANGE, "%s: field 'num_labels': %d is not in [1, %d]",
                           cx->path, c->num_labels, HFCONFIG_MAX_LABELS);
    }
    if (!map)
        return 0;
    if (!cJSON_IsObject(map))
        return hf_type_error(cx, "id2label", "an object {\"0\": \"label\", ...}", map);
    int n = cJSON_GetArraySize(map);
    if (n < 1 || n > HFCONFIG_MAX_LABELS)
        return ERR_SET(cx->e, ERR_RANGE, "%s: field 'id2label': %d entries, expected 1 to %d",
                       cx->path, n, HFCONFIG_MAX_LABELS);
    if (nl && c->num_labels != n)
        return ERR_SET(cx->e, ERR_CONFIG,
                       "%s: field 'num_labels' is %d but 'id2label' has %d entries", cx->path,
                       c->num_labels, n);
    c->id2label = calloc((size_t)n, sizeof *c->id2label);
    if (!c->id2label)
        return ERR_SET(cx->e, ERR_NOMEM, "%s: out of memory for %d labels", cx->path, n);
    c->num_labels = n; /* from here on hfconfig_free releases what was filled */
    const cJSON *kv;
    cJSON_ArrayForEach(kv, map)
    {
        long i = hf_parse_index(kv->string);
        if (i < 0 || i >= n)
            return ERR_SET(cx->e, ERR_CONFIG,
                           "%s: field 'id2label': key '%.40s' is not an index in [0, %d)", cx->path,
                           kv->string, n);
        if (c->id2label[i])
            return ERR_SET(cx->e, ERR_CONFIG, "%s: field 'id2label': key '%ld' given twice",
                           cx->path, i);
        if (!cJSON_IsString(kv)) {
            char key[64];
            snprintf(key, sizeof key, "id2label[\"%ld\"]", i);
            return hf_type_error(cx, key, "a string", kv);
        }
        c->id2label[i] = strdup(kv->valuestring);
        if (!c->id2label[i])
            return ERR_SET(cx->e, ERR_NOMEM, "%s: out of memory for labels", cx->path);
    }
    return 0;
}

static int hf_cmp_key(const void *a, const void *b)
{
    const cJSON *const *x = a;
    const cJSON *const *y = b;
    return strcmp((*x)->string, (*y)->string);
}

static int hf_check_duplicates(struct hf_ctx *cx)
{
    int n = cJSON_GetArraySize(cx->root);
    if (n < 2)
        return 0;
    const cJSON **keys = malloc((size_t)n * sizeof *keys);
    if (!keys)
        return ERR_SET(cx->e, ERR_NOMEM, "%s: out of memory", cx->path);
    int i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, cx->root)
    {
        keys[i++] = j;
    }
    qsort(keys, (size_t)n, sizeof *keys, hf_cmp_key);
    int rc = 0;
    for (i = 1; i < n && !rc; i++)
        if (strcmp(keys[i - 1]->string, keys[i]->string) == 0)
            rc = ERR_SET(cx->e, ERR_FORMAT, "%s: field '%.64s' appears more than once", cx->path,
                         keys[i]->string);
    free(keys);
    return rc;
}

static int hf_parse(struct hf_ctx *cx)
{
    struct bert_config *c = cx->c;
    int rc = hf_check_duplicates(cx);
    if (!rc)
        rc = hf_get_arch(cx);
    if (!rc)
        rc = hf_get_int(cx, "vocab_size", &c->vocab_size, false);
    if (!rc)
        rc = hf_get_int(cx, "hidden_size", &c->hidden_size, false);
    if (!rc)
        rc = hf_get_int(cx, "num_hidden_layers", &c->num_hidden_layers, false);
    if (!rc)
        rc = hf_get_int(cx, "num_attention_heads", &c->num_attention_heads, false);
    if (!rc)
        rc = hf_get_int(cx, "intermediate_size", &c->intermediate_size, false);
    if (!rc)
        rc = hf_get_int(cx, "max_position_embeddings", &c->max_position_embeddings, false);
    if (!rc)
        rc = hf_get_int(cx, "type_vocab_size", &c->type_vocab_size, false);
    if (!rc)
        rc = hf_get_int(cx, "pad_token_id", &c->pad_token_id, true);
    if (!rc)
        rc = hf_get_float(cx, "layer_norm_eps", &c->layer_norm_eps, false);
    if (!rc)
        rc = hf_get_float(cx, "hidden_dropout_prob", &c->hidden_dropout_prob, false);
    if (!rc)
        rc = hf_get_float(cx, "attention_probs_dropout_prob", &c->attention_probs_dropout_prob,
                          false);
    if (!rc)
        rc = hf_get_float(cx, "classifier_dropout", &c->classifier_dropout, true);
    /* In the struct a negative value means null; in the file it is an error, not a null. */
    if (!rc && c->classifier_dropout < 0.0f &&
        cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cx->root, "classifier_dropout")))
        rc =
            ERR_SET(cx->e, ERR_RANGE, "%s: field 'classifier_dropout': %g is not null or in [0, 1)",
                    cx->path, (double)c->classifier_dropout);
    if (!rc)
        rc = hf_get_float(cx, "initializer_range", &c->initializer_range, false);
    if (!rc)
        rc = hf_get_str(cx, "hidden_act", c->hidden_act, sizeof c->hidden_act, false);
    if (!rc)
        rc = hf_get_str(cx, "problem_type", c->problem_type, sizeof c->problem_type, true);
    if (!rc)
        rc = hf_get_labels(cx);
    if (rc)
        return rc;

    char pet[32] = "absolute";
    rc = hf_get_str(cx, "position_embedding_type", pet, sizeof pet, true);
    if (rc)
        return rc;
    if (strcmp(pet, "absolute") != 0)
        return ERR_SET(cx->e, ERR_UNSUPPORTED,
                       "%s: field 'position_embedding_type': '%s' is not supported (only "
                       "\"absolute\")",
                       cx->path, pet);
    return hfconfig_validate(c, cx->path, cx->e);
}

int hfconfig_read(struct bert_config *c, const char *path, struct err *e)
{
    hfconfig_default(c);
    char *buf = NULL;
    cJSON *root = NULL;
    int rc = 0;

    int fd;
    if (readfile_open(path, &fd, e)) /* a FIFO or device is refused before it can block */
        return e->code;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        rc = ERR_SET(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out_release;
    }
    if ((size_t)sb.st_size > HFCONFIG_MAX_BYTES) {
        rc = ERR_SET(e, ERR_LIMIT, "%s: %lld bytes, more than the %zu allowed for a config.json",
                     path, (long long)sb.st_size, HFCONFIG_MAX_BYTES);
        goto out_release;
    }
    size_t size = (size_t)sb.st_size;
    buf = malloc(size + 1);
    if (!buf) {
        rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
        goto out_release;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = ERR_SET(e, ERR_IO, "%s: read failed: %s", path,
                         k < 0 ? strerror(errno) : "unexpected end of file");
            goto out_release;
        }
        got += (size_t)k;
    }
    buf[size] = '\0';
    if (memchr(buf, '\0', size)) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: contains a NUL byte; not a JSON text file", path);
        goto out_release;
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(buf, &end, 1);
    if (!root) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: not valid JSON (error at byte %td near \"%.20s\")", path,
                     end ? end - buf : 0, end ? end : "");
        goto out_release;
    }
    if (!cJSON_IsObject(root)) {
        rc = ERR_SET(e, ERR_FORMAT, "%s: expected a JSON object at the top level", path);
        goto out_release;
    }
    struct hf_ctx cx = {.root = root, .path = path, .c = c, .e = e};
    rc = hf_parse(&cx);

out_release:
    cJSON_Delete(root);
    free(buf);
    close(fd);
    if (rc)
        hfconfig_free(c);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Validation
 */

static bool hf_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

int hfconfig_validate(const struct bert_config *c, const char *path, struct err *e)
{
    const char *p = path ? path : "bert_config";
    const struct {
        const char *name;
        const char *buf;
        size_t cap;
    } strs[] = {
        {"model_type", c->arch, sizeof c->arch},
        {"hidden_act", c->hidden_act, sizeof c->hidden_act},
        {"problem_type", c->problem_type, sizeof c->problem_type},
        {"architectures", c->architectures0, sizeof c->architectures0},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!memchr(strs[i].buf, '\0', strs[i].cap))
            return ERR_SET(e, ERR_CONFIG, "%s: field '%s' is not NUL-terminated", p, strs[i].name);
    if (strcmp(c->arch, "bert") != 0 && strcmp(c->arch, "roberta") != 0)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "%s: field 'model_type': '%s' is not supported (expected \"bert\" or "
                       "\"roberta\")",
                       p, c->arch);

    const struct {
        const char *name;
        int v, lo, hi;
    } ints[] = {
        {"vocab_size", c->vocab_size, 1, HFCONFIG_MAX_DIM},
        {"hidden_size", c->hidden_size, 1, HFCONFIG_MAX_DIM},
        {"num_hidden_layers", c->num_hidden_layers, 1, HFCONFIG_MAX_LAYERS},
        {"num_attention_heads", c->num_attention_heads, 1, HFCONFIG_MAX_DIM},
        {"intermediate_size", c->intermediate_size, 1, HFCONFIG_MAX_DIM},
        {"max_position_embeddings", c->max_position_embeddings, 1, HFCONFIG_MAX_DIM},
        {"type_vocab_size", c->type_vocab_size, 1, HFCONFIG_MAX_DIM},
        {"num_labels", c->num_labels, 1, HFCONFIG_MAX_LABELS},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo || ints[i].v > ints[i].hi)
            return ERR_SET(e, ERR_RANGE, "%s: field '%s': %d is not in [%d, %d]", p, ints[i].name,
                           ints[i].v, ints[i].lo, ints[i].hi);
    if (c->pad_token_id < 0 || c->pad_token_id >= c->vocab_size)
        return ERR_SET(e, ERR_RANGE, "%s: field 'pad_token_id': %d is not in [0, vocab_size %d)", p,
                       c->pad_token_id, c->vocab_size);
    if (c->hidden_size % c->num_attention_heads != 0)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: hidden_size %d is not a multiple of num_attention_heads %d", p,
                       c->hidden_size, c->num_attention_heads);
    /* RoBERTa numbers positions from pad_token_id + 1, so the table needs more rows than that. */
    if (strcmp(c->arch, "roberta") == 0 && c->max_position_embeddings <= c->pad_token_id + 1)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: roberta needs max_position_embeddings > pad_token_id + 1 (got %d, "
                       "pad %d)",
                       p, c->max_position_embeddings, c->pad_token_id);

    /* Written as !(in range) so that NaN fails too. */
    if (!(c->layer_norm_eps > 0.0f && c->layer_norm_eps < 1.0f))
        return ERR_SET(e, ERR_RANGE, "%s: field 'layer_norm_eps': %g is not in (0, 1)", p,
                       (double)c->layer_norm_eps);
    const struct {
        const char *name;
        float v;
    } probs[] = {
        {"hidden_dropout_prob", c->hidden_dropout_prob},
        {"attention_probs_dropout_prob", c->attention_probs_dropout_prob},
    };
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if (!(probs[i].v >= 0.0f && probs[i].v < 1.0f))
            return ERR_SET(e, ERR_RANGE, "%s: field '%s': %g is not in [0, 1)", p, probs[i].name,
                           (double)probs[i].v);
    if (!(c->classifier_dropout < 0.0f) &&
        !(c->classifier_dropout >= 0.0f && c->classifier_dropout < 1.0f))
        return ERR_SET(e, ERR_RANGE, "%s: field 'classifier_dropout': %g is not null or in [0, 1)",
                       p, (double)c->classifier_dropout);
    if (!(c->initializer_range > 0.0f && isfinite(c->initializer_range)))
        return ERR_SET(e, ERR_RANGE, "%s: field 'initializer_range': %g must be finite and > 0", p,
                       (double)c->initializer_range);

    if (!hf_in_list(c->hidden_act, hf_acts, sizeof hf_acts / sizeof hf_acts[0]))
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "%s: field 'hidden_act': '%s' is not supported (expected gelu, gelu_new, "
                       "relu, swish, silu or tanh)",
                       p, c->hidden_act);
    if (!hf_in_list(c->problem_type, hf_problems, sizeof hf_problems / sizeof hf_problems[0]))
        return ERR_SET(e, ERR_CONFIG,
                       "%s: field 'problem_type': '%s' is not regression, "
                       "single_label_classification or multi_label_classification",
                       p, c->problem_type);
    if (c->id2label)
        for (int i = 0; i < c->num_labels; i++)
            if (!c->id2label[i])
                return ERR_SET(e, ERR_CONFIG, "%s: id2label[%d] is NULL", p, i);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 */

static void hf_put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f); /* UTF-8 passes through, as json.dumps(ensure_ascii=False) */
    }
    fputc('"', f);
}

/* Shortest "%.*g" that reads back as the same float, so 0.1f is written "0.1", not
 * "0.10000000149011612". */
static void hf_put_float(FILE *f, float v)
{
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void hf_key(FILE *f, const char *key)
{
    fputs(",\n  ", f);
    hf_put_str(f, key);
    fputs(": ", f);
}

static void hf_put_labels(FILE *f, const struct bert_config *c, bool inverse)
{
    hf_key(f, inverse ? "label2id" : "id2label");
    fputs("{", f);
    for (int i = 0; i < c->num_labels; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        if (inverse) {
            hf_put_str(f, c->id2label[i]);
            fprintf(f, ": %d", i);
        } else {
            fprintf(f, "\"%d\": ", i);
            hf_put_str(f, c->id2label[i]);
        }
    }
    fputs("\n  }", f);
}

/* Serialise c (already validated) with keys in sorted order, as transformers writes them. */
static void hf_serialise(FILE *f, const struct bert_config *c)
{
    const char *arch0 = c->architectures0;
    if (!arch0[0])
        arch0 = strcmp(c->arch, "roberta") == 0 ? "RobertaModel" : "BertModel";
    fputs("{\n  \"architectures\": [\n    ", f);
    hf_put_str(f, arch0);
    fputs("\n  ]", f);
    hf_key(f, "attention_probs_dropout_prob");
    hf_put_float(f, c->attention_probs_dropout_prob);
    hf_key(f, "classifier_dropout");
    if (c->classifier_dropout < 0.0f)
        fputs("null", f);
    else
        hf_put_float(f, c->classifier_dropout);
    hf_key(f, "hidden_act");
    hf_put_str(f, c->hidden_act);
    hf_key(f, "hidden_dropout_prob");
    hf_put_float(f, c->hidden_dropout_prob);
    hf_key(f, "hidden_size");
    fprintf(f, "%d", c->hidden_size);
    if (c->id2label)
        hf_put_labels(f, c, false);
    hf_key(f, "initializer_range");
    hf_put_float(f, c->initializer_range);
    hf_key(f, "intermediate_size");
    fprintf(f, "%d", c->intermediate_size);
    if (c->id2label)
        hf_put_labels(f, c, true);
    hf_key(f, "layer_norm_eps");
    hf_put_float(f, c->layer_norm_eps);
    hf_key(f, "max_position_embeddings");
    fprintf(f, "%d", c->max_position_embeddings);
    hf_key(f, "model_type");
    hf_put_str(f, c->arch);
    hf_key(f, "num_attention_heads");
    fprintf(f, "%d", c->num_attention_heads);
    hf_key(f, "num_hidden_layers");
    fprintf(f, "%d", c->num_hidden_layers);
    hf_key(f, "num_labels");
    fprintf(f, "%d", c->num_labels);
    hf_key(f, "pad_token_id");
    fprintf(f, "%d", c->pad_token_id);
    hf_key(f, "position_embedding_type");
    hf_put_str(f, "absolute");
    hf_key(f, "problem_type");
    if (c->problem_type[0])
        hf_put_str(f, c->problem_type);
    else
        fputs("null", f);
    hf_key(f, "type_vocab_size");
    fprintf(f, "%d", c->type_vocab_size);
    hf_key(f, "vocab_size");
    fprintf(f, "%d", c->vocab_size);
    fputs("\n}\n", f);
}

/* Replace path with buf (base/fileio.c: temporary, fsync, rename). */
static int hf_write_atomic(const char *path, const char *buf, size_t len, struct err *e)
{
    return fileio_write_atomic(path, buf, len, e);
}

int hfconfig_write(const struct bert_config *c, const char *path, struct err *e)
{
    int rc = hfconfig_validate(c, path, e);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    hf_serialise(f, c);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(buf);
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory formatting the config", path);
    }
    rc = hf_write_atomic(path, buf, len, e);
    free(buf);
    return rc;
}
