/*
 * model_identity: a sweep model's identity for trial ids (harness/run/model_identity.h).
 * Hashing reads every byte of the weights (about 0.3 s for bert-base's 440 MB), once per
 * sweep load.
 */
#include "harness/run/model_identity.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/readfile.h"
#include "harness/pretrain/cache.h"
#include "harness/pretrain/command.h"
#include "harness/pretrain/config.h"
#include "harness/pretrain/model_dir.h"

static void fnv_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ull;
    }
}

/* Fold file dir/name into *h: name, NUL, content, then its length (so that the end of one
 * file cannot pass for the start of the next).  False when it cannot be read. */
static bool fnv_file(uint64_t *h, const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static unsigned char buf[1 << 20];
    uint64_t len = 0;
    size_t got;
    fnv_bytes(h, name, strlen(name) + 1);
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        fnv_bytes(h, buf, got);
        len += got;
    }
    bool ok = !ferror(f);
    fclose(f);
    fnv_bytes(h, &len, sizeof len);
    return ok;
}

/* The config_hash of dir's pretrain_stats.json when dir is a complete build of it. */
static bool build_key(const char *dir, char key[PRETRAIN_KEY_LEN + 1])
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, PRETRAIN_STATS);
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    bool read = f && readfile_bounded(f, (size_t)1 << 20, &text, &len) == 0;
    if (f)
        fclose(f);
    cJSON *j = read ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "config_hash");
    bool ok = cJSON_IsString(h) && strlen(h->valuestring) == PRETRAIN_KEY_LEN;
    if (ok)
        memcpy(key, h->valuestring, PRETRAIN_KEY_LEN + 1);
    cJSON_Delete(j);
    return ok && pretrain_is_current(dir, key);
}

static bool builtin_identity(const char *name, char *out, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.yaml", PRETRAIN_CONFIG_DIR, name);
    struct pretrain_cfg c;
    struct err e;
    err_clear(&e);
    bool ok = pretrain_cfg_load(&c, path, &e) == 0;
    if (ok)
        snprintf(out, n, "pretrain:%s", c.key);
    pretrain_cfg_free(&c);
    return ok;
}

static bool dir_identity(const char *dir, char *out, size_t n)
{
    char key[PRETRAIN_KEY_LEN + 1];
    if (build_key(dir, key)) {
        snprintf(out, n, "pretrain:%s", key);
        return true;
    }
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    if (!fnv_file(&h, dir, "config.json") || !fnv_file(&h, dir, "model.safetensors"))
        return false;
    static const char *const vocab[] = {"vocab.txt", "vocab.json", "merges.txt"};
    for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++)
        fnv_file(&h, dir, vocab[i]); /* absent: not folded in */
    snprintf(out, n, "files:%016" PRIx64, h);
    return true;
}

void model_identity(const char *model, char *out, size_t n)
{
    bool ok = strncmp(model, "builtin:", 8) == 0 ? builtin_identity(model + 8, out, n)
                                                  : dir_identity(model, out, n);
    if (!ok)
        snprintf(out, n, "unresolved:%s", model);
}
