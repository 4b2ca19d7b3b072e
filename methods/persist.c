/*
 * persist: adapter directories in peftbench's own format, the settings a trial records
 * beside them, and the dispatch to HF PEFT's layout (see persist.h).
 *
 * The recorded settings are optional keys of the config so that an adapter saved before
 * they existed (version 1) still loads: what it lacks stays "not recorded" and the caller
 * (harness/run/predict.c) falls back to its flags and defaults.  Every key present is
 * checked for its JSON type and range, and a message names the file and the key.
 */
#include "methods/persist.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/readfile.h"
#include "methods/peft_format.h"
#include "methods/registry.h"
#include "model/io/safetensors.h"

#define PERSIST_MAX_JSON  ((size_t)1 << 20)
#define PERSIST_VERSION   2   /* 1: no recorded settings */
#define PERSIST_LABEL_MAX 256 /* bytes of one label name */

void persist_meta_init(struct persist_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->task_pair = -1;
    tokenizer_opts_default(&meta->tok);
}

void persist_meta_free(struct persist_meta *meta)
{
    if (meta->label_names)
        for (int i = 0; i < meta->num_labels; i++)
            free(meta->label_names[i]);
    free(meta->label_names);
    persist_meta_init(meta);
}

/* ---- writing ------------------------------------------------------------------ */

static bool saved(const struct param *p)
{
    return p->group == PGROUP_METHOD || p->group == PGROUP_HEAD || p->trainable;
}

static cJSON *tokenizer_json(const struct persist_meta *meta)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "kind", meta->tok_bpe ? "bpe" : "wordpiece");
    cJSON_AddNumberToObject(t, "vocab_size", meta->vocab_size);
    if (meta->tok_bpe) {
        cJSON_AddBoolToObject(t, "add_prefix_space", meta->tok.add_prefix_space);
    } else {
        cJSON_AddBoolToObject(t, "lowercase", meta->tok.lowercase);
        cJSON_AddBoolToObject(t, "strip_accents", meta->tok.strip_accents);
        cJSON_AddBoolToObject(t, "tokenize_chinese", meta->tok.tokenize_chinese);
    }
    return t;
}

/* Add the recorded settings of meta (those set) to root. */
static void meta_to_json(cJSON *root, const struct persist_meta *meta, int C)
{
    const struct {
        const char *key, *value;
    } s[] = {{"base_model", meta->base_model},
             {"base_model_spec", meta->base_model_spec},
             {"task", meta->task},
             {"task_kind", meta->task_kind},
             {"sweep_file", meta->sweep_file}};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (s[i].value[0])
            cJSON_AddStringToObject(root, s[i].key, s[i].value);
    if (meta->task_pair >= 0)
        cJSON_AddBoolToObject(root, "task_pair", meta->task_pair == 1);
    if (meta->label_names)
        cJSON_AddItemToObject(root, "label_names",
                              cJSON_CreateStringArray((const char *const *)meta->label_names, C));
    if (meta->max_seq_len > 0)
        cJSON_AddNumberToObject(root, "max_seq_len", meta->max_seq_len);
    if (meta->has_tokenizer)
        cJSON_AddItemToObject(root, "tokenizer", tokenizer_json(meta));
}

static cJSON *config_json(const struct model *m, const struct method_inst *mi, int n,
                          const struct persist_meta *meta)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "format", "peftbench-adapter");
    cJSON_AddNumberToObject(root, "version", PERSIST_VERSION);
    cJSON_AddNumberToObject(root, "num_labels", m->C);
    cJSON_AddItemToObject(root, "methods", arr);
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *hp = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", mi[i].ops->name);
        for (int k = 0; k < mi[i].hp.n; k++) {
            char buf[256];
            if (!mi[i].hp.v[k].set)
                continue;
            hp_format(&mi[i].hp, k, buf, sizeof buf);
            cJSON_AddStringToObject(hp, mi[i].hp.defs[k].name, buf);
        }
        cJSON_AddItemToObject(o, "hparams", hp);
        cJSON_AddItemToArray(arr, o);
    }
    if (meta)
        meta_to_json(root, meta, m->C);
    return root;
}

static int write_json(const char *path, cJSON *root, struct err *e)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path);
    int rc = fileio_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

static int make_dir(const char *dir, struct err *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ERR_SET(e, ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    return ERR_OK;
}

int persist_save_meta(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                      const struct persist_meta *meta, struct err *e)
{
    if (make_dir(dir, e))
        return e->code;
    struct st_write_tensor *t = calloc(m->ps.n ? m->ps.n : 1, sizeof *t);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "out of memory saving %s", dir);
    size_t k = 0;
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        if (!saved(p))
            continue;
        t[k] = (struct st_write_tensor){.name = p->name, .ndim = p->ndim, .data = p->data};
        for (int d = 0; d < p->ndim; d++)
            t[k].shape[d] = p->shape[d];
        k++;
    }
    char path[PERSIST_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
    int rc = st_write(path, t, k, NULL, 0, e);
    free(t);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", dir, PERSIST_CONFIG_NAME);
    return write_json(path, config_json(m, mi, n, meta), e);
}

int persist_save(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                 struct err *e)
{
    return persist_save_meta(dir, m, mi, n, NULL, e);
}

int persist_save_sidecar(const char *dir, const struct persist_meta *meta, struct err *e)
{
    if (make_dir(dir, e))
        return e->code;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "peftbench-meta");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddNumberToObject(root, "num_labels", meta->num_labels);
    meta_to_json(root, meta, meta->num_labels);
    char path[PERSIST_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, PERSIST_META_NAME);
    return write_json(path, root, e);
}

/* ---- reading the recorded settings -------------------------------------------------- */

/* The JSON object in path (*root, caller deletes).  A missing file keeps errno ENOENT. */
static int read_json(const char *path, cJSON **root, struct err *e)
{
    *root = NULL;
    FILE *f;
    if (readfile_fopen(path, &f, e))
        return e->code;
    char *text;
    size_t len;
    int rc = readfile_bounded(f, PERSIST_MAX_JSON, &text, &len);
    fclose(f);
    if (rc == ERR_LIMIT)
        return ERR_SET(e, ERR_LIMIT, "%s: larger than %zu bytes", path, PERSIST_MAX_JSON);
    if (rc)
        return ERR_SET(e, rc, "%s: cannot read it", path);
    *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return ERR_SET(e, ERR_FORMAT, "%s: not a JSON object", path);
    }
    for (const cJSON *a = (*root)->child; a; a = a->next) /* lookups would see the first */
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0) {
                ERR_SET(e, ERR_FORMAT, "%s: key '%s' given twice", path, b->string);
                cJSON_Delete(*root);
                *root = NULL;
                return ERR_FORMAT;
            }
    return ERR_OK;
}

struct meta_reader {
    const char *path;
    const cJSON *root;
    const char *prefix; /* "" or "tokenizer." (the object root is a member of) */
};

static int wrong(const struct meta_reader *r, const char *key, const char *expected, struct err *e)
{
    return ERR_SET(e, ERR_FORMAT, "%s: key '%s%s': expected %s", r->path, r->prefix, key, expected);
}

/* Optional string key into dst (n bytes). */
static int get_string(const struct meta_reader *r, const char *key, char *dst, size_t n,
                      struct err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r->root, key);
    if (!x)
        return ERR_OK;
    if (!cJSON_IsString(x))
        return wrong(r, key, "a string", e);
    if (strlen(x->valuestring) >= n)
        return ERR_SET(e, ERR_LIMIT, "%s: key '%s%s': longer than %zu bytes", r->path, r->prefix,
                       key, n - 1);
    snprintf(dst, n, "%s", x->valuestring);
    return ERR_OK;
}

/* Optional integer key in [lo, hi] (absent: *v unchanged). */
static int get_int(const struct meta_reader *r, const char *key, int lo, int hi, int *v,
                   struct err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r->root, key);
    if (!x)
        return ERR_OK;
    if (!cJSON_IsNumber(x) || x->valuedouble != (double)(long long)x->valuedouble ||
        x->valuedouble < lo || x->valuedouble > hi)
        return ERR_SET(e, cJSON_IsNumber(x) ? ERR_RANGE : ERR_FORMAT,
                       "%s: key '%s%s': expected an integer in [%d, %d]", r->path, r->prefix, key,
                       lo, hi);
    *v = (int)x->valuedouble;
    return ERR_OK;
}

/* Required boolean key of an object. */
static int get_bool(const struct meta_reader *r, const char *key, bool *v, struct err *e)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r->root, key);
    if (!cJSON_IsBool(x))
        return wrong(r, key, "true or false", e);
    *v = cJSON_IsTrue(x);
    return ERR_OK;
}

static int read_tokenizer(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->root, "tokenizer");
    if (!t)
        return ERR_OK;
    if (!cJSON_IsObject(t))
        return wrong(r, "tokenizer", "an object", e);
    struct meta_reader sub = {r->path, t, "tokenizer."};
    char kind[16] = "";
    if (get_string(&sub, "kind", kind, sizeof kind, e) ||
        get_int(&sub, "vocab_size", 1, 100000000, &meta->vocab_size, e))
        return e->code;
    if (strcmp(kind, "wordpiece") != 0 && strcmp(kind, "bpe") != 0)
        return wrong(&sub, "kind", "\"wordpiece\" or \"bpe\"", e);
    if (meta->vocab_size < 1)
        return wrong(&sub, "vocab_size", "an integer in [1, 100000000]", e);
    meta->tok_bpe = kind[0] == 'b';
    if (meta->tok_bpe ? get_bool(&sub, "add_prefix_space", &meta->tok.add_prefix_space, e)
                      : get_bool(&sub, "lowercase", &meta->tok.lowercase, e) ||
                            get_bool(&sub, "strip_accents", &meta->tok.strip_accents, e) ||
                            get_bool(&sub, "tokenize_chinese", &meta->tok.tokenize_chinese, e))
        return e->code;
    meta->has_tokenizer = true;
    return ERR_OK;
}

/* label_names: num_labels distinct, non-empty strings without control characters (they
 * become cells of predict's TSV output). */
static int read_labels(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->root, "label_names"), *it;
    if (!a)
        return ERR_OK;
    if (!cJSON_IsArray(a))
        return wrong(r, "label_names", "a list of strings", e);
    if (cJSON_GetArraySize(a) != meta->num_labels || meta->num_labels < 2)
        return ERR_SET(e, ERR_FORMAT,
                       "%s: key 'label_names': expected num_labels (%d) names (none for "
                       "regression), found %d",
                       r->path, meta->num_labels, cJSON_GetArraySize(a));
    if (!(meta->label_names = calloc((size_t)meta->num_labels, sizeof(char *))))
        return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", r->path);
    int i = 0;
    cJSON_ArrayForEach(it, a)
    {
        const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
        bool ok = s && s[0] && strlen(s) < PERSIST_LABEL_MAX;
        for (const char *c = s; ok && *c; c++)
            ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
        for (int k = 0; ok && k < i; k++)
            ok = strcmp(meta->label_names[k], s) != 0;
        if (!ok)
            return ERR_SET(e, ERR_FORMAT,
                           "%s: key 'label_names': entry %d: expected a distinct non-empty "
                           "string of at most %d bytes without control characters",
                           r->path, i, PERSIST_LABEL_MAX - 1);
        if (!(meta->label_names[i++] = strdup(s)))
            return ERR_SET(e, ERR_NOMEM, "out of memory reading %s", r->path);
    }
    return ERR_OK;
}

/* The recorded-settings keys of root (num_labels already known). */
static int read_settings(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    if (get_string(r, "base_model", meta->base_model, sizeof meta->base_model, e) ||
        get_string(r, "base_model_spec", meta->base_model_spec, sizeof meta->base_model_spec, e) ||
        get_string(r, "task", meta->task, sizeof meta->task, e) ||
        get_string(r, "task_kind", meta->task_kind, sizeof meta->task_kind, e) ||
        get_string(r, "sweep_file", meta->sweep_file, sizeof meta->sweep_file, e) ||
        get_int(r, "max_seq_len", 3, 1000000, &meta->max_seq_len, e))
        return e->code;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(r->root, "task_pair");
    if (p && !cJSON_IsBool(p))
        return wrong(r, "task_pair", "true or false", e);
    meta->task_pair = p ? cJSON_IsTrue(p) : -1;
    if (read_tokenizer(r, meta, e))
        return e->code;
    return read_labels(r, meta, e);
}

/* num_labels: required, in [1, PERSIST_MAX_LABELS]. */
static int read_num_labels(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    meta->num_labels = 0;
    if (get_int(r, "num_labels", 1, PERSIST_MAX_LABELS, &meta->num_labels, e))
        return e->code;
    if (meta->num_labels < 1)
        return ERR_SET(e, ERR_FORMAT, "%s: missing key 'num_labels'", r->path);
    return ERR_OK;
}

/* methods[].method of a native config, into meta->methods. */
static int read_method_names(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r->root, "methods"), *it;
    if (!cJSON_IsArray(arr))
        return wrong(r, "methods", "a list of {\"method\": NAME, \"hparams\": {...}}", e);
    if (cJSON_GetArraySize(arr) > PERSIST_MAX_METHODS)
        return ERR_SET(e, ERR_LIMIT, "%s: more than %d methods", r->path, PERSIST_MAX_METHODS);
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "method");
        if (!cJSON_IsString(name))
            return wrong(r, "methods[].method", "a string", e);
        snprintf(meta->methods[meta->nmethods++], sizeof meta->methods[0], "%s", name->valuestring);
    }
    return ERR_OK;
}

static int read_native(const struct meta_reader *r, struct persist_meta *meta, struct err *e)
{
    meta->format = PERSIST_NATIVE;
    meta->version = 1; /* the first files all said 1 */
    if (get_int(r, "version", 1, 1000000, &meta->version, e))
        return e->code;
    if (meta->version > PERSIST_VERSION)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "%s: version %d was written by a newer peftbench (this one reads 1 to %d)",
                       r->path, meta->version, PERSIST_VERSION);
    if (read_num_labels(r, meta, e) || read_method_names(r, meta, e))
        return e->code;
    return read_settings(r, meta, e);
}

/* A PEFT directory: the method from peft_type, num_labels from the classifier tensor, the
 * recorded settings from peftbench.json when it exists (its num_labels must agree). */
static int read_peft(const char *dir, const struct meta_reader *r, struct persist_meta *meta,
                     struct err *e)
{
    meta->format = PERSIST_PEFT;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(r->root, "peft_type");
    if (!cJSON_IsString(pt))
        return wrong(r, "peft_type", "a string (\"LORA\" or \"IA3\")", e);
    meta->nmethods = 1;
    snprintf(meta->methods[0], sizeof meta->methods[0], "%s",
             strcmp(pt->valuestring, "LORA") == 0  ? "lora"
             : strcmp(pt->valuestring, "IA3") == 0 ? "ia3"
                                                   : pt->valuestring);
    int C = 0;
    if (peft_head_width(dir, &C, e))
        return e->code;
    if (C > PERSIST_MAX_LABELS)
        return ERR_SET(e, ERR_LIMIT, "%s/%s: the classifier has %d outputs (at most %d)", dir,
                       PEFT_WEIGHTS_NAME, C, PERSIST_MAX_LABELS);
    char path[PERSIST_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, PERSIST_META_NAME);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) { /* a directory PEFT wrote: nothing recorded */
        meta->num_labels = C;
        /* but the backbone PEFT names: a local directory, or a hub id (or null) */
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(r->root, "base_model_name_or_path");
        if (cJSON_IsString(b) && strlen(b->valuestring) < sizeof meta->base_model)
            snprintf(meta->base_model, sizeof meta->base_model, "%s", b->valuestring);
        return ERR_OK;
    }
    cJSON *side;
    if (read_json(path, &side, e))
        return e->code;
    struct meta_reader s = {path, side, ""};
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(side, "format");
    int rc = cJSON_IsString(fmt) && strcmp(fmt->valuestring, "peftbench-meta") == 0
                 ? read_num_labels(&s, meta, e)
                 : wrong(&s, "format", "\"peftbench-meta\"", e);
    if (rc == ERR_OK && meta->num_labels != C)
        rc = ERR_SET(e, ERR_FORMAT, "%s: num_labels %d, but the classifier in %s has %d outputs",
                     path, meta->num_labels, PEFT_WEIGHTS_NAME, C);
    if (rc == ERR_OK)
        rc = read_settings(&s, meta, e);
    cJSON_Delete(side);
    return rc;
}

/* Which format the config r holds, into *fmt; neither is an error naming the file. */
static int config_format(const struct meta_reader *r, enum persist_format *fmt, struct err *e)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r->root, "format");
    if (cJSON_IsString(f) && strcmp(f->valuestring, "peftbench-adapter") == 0) {
        *fmt = PERSIST_NATIVE;
        return ERR_OK;
    }
    if (!f && cJSON_GetObjectItemCaseSensitive(r->root, "peft_type")) {
        *fmt = PERSIST_PEFT;
        return ERR_OK;
    }
    return ERR_SET(e, ERR_FORMAT,
                   "%s: not an adapter config (expected \"format\": \"peftbench-adapter\", or "
                   "HF PEFT's \"peft_type\")",
                   r->path);
}

/* dir/adapter_config.json parsed, with a clear message for a missing directory. */
static int open_config(const char *dir, char *path, size_t n, cJSON **root, struct err *e)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ERR_SET(e, ERR_IO, "adapter directory %s: %s", dir,
                       stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
    snprintf(path, n, "%s/%s", dir, PERSIST_CONFIG_NAME);
    return read_json(path, root, e);
}

int persist_read_meta(const char *dir, struct persist_meta *meta, struct err *e)
{
    persist_meta_init(meta);
    char path[PERSIST_PATH_MAX + 64];
    cJSON *root;
    if (open_config(dir, path, sizeof path, &root, e))
        return e->code;
    struct meta_reader r = {path, root, ""};
    enum persist_format fmt;
    int rc = config_format(&r, &fmt, e);
    if (rc == ERR_OK)
        rc = fmt == PERSIST_NATIVE ? read_native(&r, meta, e) : read_peft(dir, &r, meta, e);
    cJSON_Delete(root);
    if (rc)
        persist_meta_free(meta);
    return rc;
}

int persist_read_num_labels(const char *dir, int *C, struct err *e)
{
    struct persist_meta meta;
    *C = 0;
    if (persist_read_meta(dir, &meta, e))
        return e->code;
    *C = meta.num_labels;
    persist_meta_free(&meta);
    return ERR_OK;
}

/* ---- loading tensors ----------------------------------------------------------------- */

/* Parse one {"method": name, "hparams": {...}} entry and create it on m. */
static int load_method(const cJSON *o, const char *path, struct model *m, struct method_inst *mi,
                       uint64_t seed, struct err *e)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *hps = cJSON_GetObjectItemCaseSensitive(o, "hparams");
    if (!cJSON_IsString(name) || (hps && !cJSON_IsObject(hps)))
        return ERR_SET(e, ERR_FORMAT,
                       "%s: each methods[] entry needs a string 'method' and an object 'hparams'",
                       path);
    const struct method_ops *ops = method_lookup(name->valuestring, path, e);
    if (!ops)
        return e->code;
    struct hp_kv kv[HP_MAX];
    int nkv = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, hps)
    {
        if (nkv == HP_MAX || !cJSON_IsString(it))
            return ERR_SET(e, ERR_FORMAT, "%s: hparams of '%s' must be at most %d strings", path,
                           ops->name, HP_MAX);
        kv[nkv++] = (struct hp_kv){it->string, it->valuestring, path};
    }
    struct hp_values hv;
    if (method_parse(ops, &hv, kv, nkv, m, e))
        return e->code;
    return method_create(mi, ops, &hv, m, seed, e);
}

static int load_tensors(const char *dir, struct model *m, struct err *e)
{
    char path[PERSIST_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
    struct st_file f;
    if (st_read(&f, path, NULL, NULL, e))
        return e->code;
    bool *loaded = calloc(m->ps.n ? m->ps.n : 1, sizeof *loaded);
    int rc = loaded ? ERR_OK : ERR_SET(e, ERR_NOMEM, "out of memory reading %s", path);
    for (size_t i = 0; i < f.n && rc == ERR_OK; i++) {
        const struct st_tensor *t = &f.tensors[i];
        struct param *p = param_find(&m->ps, t->name);
        bool same = p && t->ndim == p->ndim && t->numel == p->numel;
        for (int d = 0; same && d < p->ndim; d++)
            same = t->shape[d] == p->shape[d];
        if (!p)
            rc = ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' does not belong to the recreated methods",
                         path, t->name);
        else if (!same)
            rc = ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' has another shape than the model's", path,
                         t->name);
        else
            memcpy(p->data, t->data, p->numel * sizeof(float));
        for (size_t k = 0; rc == ERR_OK && k < m->ps.n; k++)
            loaded[k] = loaded[k] || m->ps.items[k] == p;
    }
    if (rc == ERR_OK) /* NaN/Inf values: a warning on the model (model_check_finite refuses) */
        model_note_nonfinite(m, path, loaded);
    free(loaded);
    st_free(&f);
    return rc;
}

static int load_native(const char *dir, const struct meta_reader *r, struct model *m,
                       struct method_inst *mi, int *n, uint64_t seed, struct err *e)
{
    struct persist_meta names;
    persist_meta_init(&names);
    int rc = read_method_names(r, &names, e); /* the list's shape and size */
    const cJSON *it, *arr = cJSON_GetObjectItemCaseSensitive(r->root, "methods");
    if (rc == ERR_OK)
        cJSON_ArrayForEach(it, arr)
        {
            if ((rc = load_method(it, r->path, m, &mi[*n], seed, e)) != ERR_OK)
                break;
            (*n)++;
        }
    if (rc == ERR_OK)
        rc = load_tensors(dir, m, e);
    return rc;
}

int persist_load(const char *dir, struct model *m, struct method_inst *mi, int *n, uint64_t seed,
                 struct err *e)
{
    char path[PERSIST_PATH_MAX + 64];
    *n = 0;
    cJSON *root;
    if (open_config(dir, path, sizeof path, &root, e))
        return e->code;
    struct meta_reader r = {path, root, ""};
    enum persist_format fmt;
    int rc = config_format(&r, &fmt, e);
    if (rc == ERR_OK && fmt == PERSIST_PEFT) {
        rc = peft_load(dir, m, &mi[0], seed, e);
        *n = rc == ERR_OK;
    } else if (rc == ERR_OK) {
        rc = load_native(dir, &r, m, mi, n, seed, e);
    }
    cJSON_Delete(root);
    if (rc) {
        for (int i = *n; i-- > 0;)
            method_destroy(&mi[i]);
        *n = 0;
    }
    return rc;
}
