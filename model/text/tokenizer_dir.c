/*
 * tokenizer_dir: tokenizer_load_dir of tokenizer.h, the one function that knows both
 * tokenizer formats: which files a Hugging Face model directory holds (vocab.txt for BERT
 * WordPiece; vocab.json + merges.txt for RoBERTa byte-level BPE) and which options its
 * tokenizer_config.json sets.  It calls the tokenizer.h front (tokenizer.c), so it sits
 * above it.
 */
#include "model/text/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"
#include "model/text/tokfile.h"
#include "model/text/tokmem.h"

/*
 * Whether model_dir holds the tokenizer file path: *found true for a regular file, false
 * when nothing is there (or model_dir is no directory).  Anything else at path -- a FIFO, a
 * socket, a device, a directory, an unreadable entry -- is an error naming it
 * (base/readfile.h), never "no tokenizer files" nor a read that waits forever.
 */
static int tok_find(const char *path, bool *found, struct err *e)
{
    struct err why = {0}; /* an absent file is no error: e is left alone then */
    int rc = readfile_check(path, &why);
    *found = rc == ERR_OK;
    if (rc && (errno == ENOENT || errno == ENOTDIR))
        return ERR_OK; /* which files are needed is decided by the caller */
    if (rc && e)
        *e = why;
    return rc;
}

/* A boolean key of tokenizer_config.json: unchanged *v when absent (or null if
 * null_ok); anything but true/false is an error naming the key. */
static int tok_cfg_bool(const cJSON *cfg, const char *path, const char *key, bool null_ok, bool *v,
                        struct err *e)
{
    const cJSON *it = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, key) : NULL;
    if (!it || (null_ok && cJSON_IsNull(it)))
        return 0;
    if (!cJSON_IsBool(it))
        return ERR_SET(e, ERR_CONFIG, "%s: \"%s\" must be true or false%s", path, key,
                       null_ok ? " or null" : "");
    *v = cJSON_IsTrue(it);
    return 0;
}

/*
 * Which tokenizer model_dir holds, from the files present at the four paths: *wordpiece
 * true for vocab.txt, false for vocab.json + merges.txt; *has_cfg when
 * tokenizer_config.json is there.  Both formats, one half of BPE's pair or neither is an
 * error naming model_dir.
 */
static int tok_dir_files(const char *model_dir, const char *txt, const char *json,
                         const char *merges, const char *cfgp, bool *wordpiece, bool *has_cfg,
                         struct err *e)
{
    bool has_txt = false, has_json = false, has_merges = false;
    int rc = tok_find(txt, &has_txt, e);
    if (!rc)
        rc = tok_find(json, &has_json, e);
    if (!rc)
        rc = tok_find(merges, &has_merges, e);
    if (!rc)
        rc = tok_find(cfgp, has_cfg, e);
    if (rc)
        return rc;
    *wordpiece = has_txt;
    if (has_txt && has_json)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: holds both vocab.txt (BERT WordPiece) and vocab.json (byte-level "
                       "BPE); keep only the tokenizer of the model",
                       model_dir);
    if (has_txt || (has_json && has_merges))
        return ERR_OK;
    if (has_json || has_merges)
        return ERR_SET(e, ERR_IO,
                       "%s: %s is missing; a byte-level BPE tokenizer needs both vocab.json and "
                       "merges.txt",
                       model_dir, has_json ? "merges.txt" : "vocab.json");
    return ERR_SET(e, ERR_IO,
                   "%s: no tokenizer files: expected vocab.txt (BERT WordPiece) or vocab.json + "
                   "merges.txt (RoBERTa byte-level BPE)",
                   model_dir);
}

int tokenizer_load_dir(struct tokenizer **out, const char *model_dir, struct err *e)
{
    if (!out)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_dir: out is NULL");
    *out = NULL;
    if (!model_dir)
        return ERR_SET(e, ERR_CONFIG, "tokenizer_load_dir: model_dir is NULL");
    size_t n = strlen(model_dir) + sizeof "/tokenizer_config.json";
    char *txt = malloc(n), *json = malloc(n), *merges = malloc(n), *cfgp = malloc(n);
    cJSON *cfg = NULL;
    int rc = 0;
    if (!txt || !json || !merges || !cfgp) {
        rc = tokmem_nomem(e);
        goto out;
    }
    snprintf(txt, n, "%s/vocab.txt", model_dir);
    snprintf(json, n, "%s/vocab.json", model_dir);
    snprintf(merges, n, "%s/merges.txt", model_dir);
    snprintf(cfgp, n, "%s/tokenizer_config.json", model_dir);
    bool wordpiece = false, has_cfg = false;
    rc = tok_dir_files(model_dir, txt, json, merges, cfgp, &wordpiece, &has_cfg, e);
    if (rc)
        goto out;
    if (has_cfg) {
        rc = tokfile_read_json(cfgp, "tokenizer config", &cfg, e);
        if (rc)
            goto out;
    }
    struct tokenizer_opts o;
    tokenizer_opts_default(&o);
    if (wordpiece) {
        /* BertTokenizer's arguments; strip_accents null or absent follows lowercasing. */
        rc = tok_cfg_bool(cfg, cfgp, "do_lower_case", false, &o.lowercase, e);
        o.strip_accents = o.lowercase;
        if (!rc)
            rc = tok_cfg_bool(cfg, cfgp, "strip_accents", true, &o.strip_accents, e);
        if (!rc)
            rc = tok_cfg_bool(cfg, cfgp, "tokenize_chinese_chars", false, &o.tokenize_chinese, e);
        if (rc)
            goto out;
        rc = tokenizer_load_wordpiece(out, txt, &o, e);
    } else {
        rc = tok_cfg_bool(cfg, cfgp, "add_prefix_space", false, &o.add_prefix_space, e);
        if (!rc)
            rc = tokenizer_load_bpe(out, json, merges, &o, e);
    }
out:
    cJSON_Delete(cfg);
    free(cfgp);
    free(merges);
    free(json);
    free(txt);
    return rc;
}
