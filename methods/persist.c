#include "methods/persist.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/io/safetensors.h"
#include "methods/registry.h"
#include "base/fileio.h"

#define PERSIST_MAX_JSON ((long)1 << 20)

static bool saved(const struct param *p)
{
    return p->group == PGROUP_METHOD || p->group == PGROUP_HEAD || p->trainable;
}

static int write_text(const char *path, const char *text, struct err *e)
{
    return fileio_write_atomic(path, text, strlen(text), e);
}

static cJSON *config_json(const struct model *m, const struct method_inst *mi, int n)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "format", "peftbench-adapter");
    cJSON_AddNumberToObject(root, "version", 1);
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
    return root;
}

int persist_save(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                 struct err *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ERR_SET(e, ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
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
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter.safetensors", dir);
    int rc = st_write(path, t, k, NULL, 0, e);
    free(t);
    if (rc)
        return rc;
    cJSON *root = config_json(m, mi, n);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing adapter_config.json");
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    rc = write_text(path, text, e);
    free(text);
    return rc;
}

static char *read_small(const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ERR_SET(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc((size_t)PERSIST_MAX_JSON + 1);
    size_t len = buf ? fread(buf, 1, (size_t)PERSIST_MAX_JSON + 1, f) : 0;
    fclose(f);
    if (!buf || len > (size_t)PERSIST_MAX_JSON) {
        free(buf);
        ERR_SET(e, ERR_LIMIT, "%s: larger than %ld bytes", path, PERSIST_MAX_JSON);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

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
    char path[4096];
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
            rc = ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' has another shape than the model's",
                         path, t->name);
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

int persist_load(const char *dir, struct model *m, struct method_inst *mi, int *n,
                 uint64_t seed, struct err *e)
{
    char path[4096];
    *n = 0;
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    char *text = read_small(path, e);
    if (!text)
        return e->code;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "methods");
    int rc = ERR_OK;
    if (!root || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "peftbench-adapter") != 0 ||
        !cJSON_IsArray(arr))
        rc = ERR_SET(e, ERR_FORMAT,
                     "%s: not a peftbench adapter config (expected \"format\": "
                     "\"peftbench-adapter\" and a \"methods\" array)",
                     path);
    else if (cJSON_GetArraySize(arr) > PERSIST_MAX_METHODS)
        rc = ERR_SET(e, ERR_LIMIT, "%s: more than %d methods", path, PERSIST_MAX_METHODS);
    const cJSON *it;
    if (rc == ERR_OK)
        cJSON_ArrayForEach(it, arr)
        {
            if ((rc = load_method(it, path, m, &mi[*n], seed, e)) != ERR_OK)
                break;
            (*n)++;
        }
    cJSON_Delete(root);
    if (rc == ERR_OK)
        rc = load_tensors(dir, m, e);
    if (rc) {
        for (int i = *n; i-- > 0;)
            method_destroy(&mi[i]);
        *n = 0;
    }
    return rc;
}
