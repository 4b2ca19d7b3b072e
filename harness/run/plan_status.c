/*
 * plan_status: trial states and the builtin-model note of `peftbench plan` (plan_status.h).
 */
#include "harness/run/plan_status.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/readfile.h"
#include "harness/pretrain/cache.h"
#include "harness/pretrain/command.h"
#include "harness/pretrain/config.h"
#include "harness/sweep/results.h"

/* Rough CPU rate of pretraining, FLOP/s, for the estimate when no build was ever timed:
 * an order of magnitude, which is all the estimate claims. */
#define PLAN_PRETRAIN_FLOPS 2e10

const char *plan_trial_status(const char *out_dir, const char *id)
{
    struct err e;
    err_clear(&e);
    cJSON *j = results_read_trial(out_dir, id, &e);
    if (!j)
        return "to run";
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const char *s = !cJSON_IsString(st)                   ? "to run"
                    : strcmp(st->valuestring, "ok") == 0  ? "done"
                    : strcmp(st->valuestring, "diverged") == 0 ? "diverged"
                    : strcmp(st->valuestring, "failed") == 0   ? "failed"
                                                               : "to run";
    cJSON_Delete(j);
    return s;
}

/* wall_seconds of DIR/pretrain_stats.json (an older build), or -1. */
static double last_build_seconds(const char *dir)
{
    char path[PRETRAIN_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/pretrain_stats.json", dir);
    FILE *f;
    struct err e;
    err_clear(&e);
    if (readfile_fopen(path, &f, &e))
        return -1;
    char *buf = NULL;
    size_t len;
    int rc = readfile_bounded(f, (size_t)1 << 20, &buf, &len);
    fclose(f);
    if (rc)
        return -1;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "wall_seconds");
    double s = cJSON_IsNumber(w) ? w->valuedouble : -1;
    cJSON_Delete(j);
    return s;
}

/* Seconds of pretraining c at PLAN_PRETRAIN_FLOPS: 6 FLOP per parameter per token
 * (forward + backward), parameters ~ 12 L D^2 (encoder) + V D (embeddings and MLM head). */
static double estimate_seconds(const struct pretrain_cfg *c)
{
    double D = c->hidden, params = 12.0 * c->layers * D * D + (double)c->vocab_size * D;
    double tokens = (double)c->steps * c->batch_size * c->max_seq_len;
    return 6.0 * params * tokens / PLAN_PRETRAIN_FLOPS;
}

void plan_builtin_note(FILE *out, const char *model)
{
    if (strncmp(model, "builtin:", 8) != 0)
        return;
    const char *name = model + 8;
    char cfg_path[PRETRAIN_PATH_MAX], dir[PRETRAIN_PATH_MAX];
    snprintf(cfg_path, sizeof cfg_path, "%s/%s.yaml", PRETRAIN_CONFIG_DIR, name);
    snprintf(dir, sizeof dir, "%s/%s", PRETRAIN_MODEL_DIR, name);
    struct pretrain_cfg c;
    struct err e;
    err_clear(&e);
    if (pretrain_cfg_load(&c, cfg_path, &e))
        return; /* preflight has reported it */
    if (!pretrain_is_current(dir, c.key)) {
        double last = last_build_seconds(dir);
        if (last >= 0)
            fprintf(out, "# model %s is not built (or its config changed): `run` builds it "
                         "first from %s; the last build took %.0f s\n",
                    model, cfg_path, last);
        else
            fprintf(out, "# model %s is not built: `run` builds it first from %s (%d steps; "
                         "roughly %.0f s, estimated: never built here)\n",
                    model, cfg_path, c.steps, estimate_seconds(&c));
    }
    pretrain_cfg_free(&c);
}
