/*
 * pretrain model directory: writing config.json, vocab.txt, model.safetensors and
 * pretrain_stats.json of a build (contract in model_dir.h).
 */
#include "harness/pretrain/model_dir.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/pretrain/build_state.h"
#include "harness/sweep/results.h"
#include "model/arch/model.h"
#include "model/io/hfconfig.h"
#include "model/io/safetensors.h"
#include "model/text/vocab_build.h"

static int write_tensors(const struct pt *p, const char *path, struct err *e)
{
    size_t n = p->m.ps.n + p->head.ps.n;
    struct st_write_tensor *t = calloc(n, sizeof *t);
    char(*names)[PARAM_NAME_MAX + 8] = calloc(n, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return ERR_SET(e, ERR_NOMEM, "out of memory saving %s", path);
    }
    size_t k = 0;
    for (int s = 0; s < 2; s++) {
        const struct param_store *ps = s == 0 ? &p->m.ps : &p->head.ps;
        for (size_t i = 0; i < ps->n; i++) {
            const struct param *q = ps->items[i];
            if (s == 0 && q->group != PGROUP_BACKBONE)
                continue; /* the unused classification head */
            /* BertForMaskedLM layout: the encoder under "bert.", the head as cls.* */
            snprintf(names[k], sizeof names[k], "%s%s", s == 0 ? "bert." : "", q->name);
            t[k].name = names[k];
            t[k].ndim = q->ndim;
            for (int d = 0; d < q->ndim; d++)
                t[k].shape[d] = q->shape[d];
            t[k].data = q->data;
            k++;
        }
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, t, k, meta, 1, e);
    free(names);
    free(t);
    return rc;
}

static cJSON *stats_json(const struct pt *p, const struct pretrain_stats *st)
{
    const struct pretrain_cfg *c = p->c;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "config_hash", c->key);
    cJSON_AddStringToObject(j, "config", c->canonical);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(j, "steps", (double)st->steps);
    cJSON_AddNumberToObject(j, "tokens_seen", (double)st->tokens_seen);
    cJSON_AddNumberToObject(j, "masked_tokens_seen", (double)st->masked_seen);
    cJSON_AddNumberToObject(j, "final_train_mlm_loss", st->final_train_loss);
    if (c->cls_bow_weight > 0.0)
        cJSON_AddNumberToObject(j, "final_train_bow_loss", st->final_train_bow_loss);
    cJSON *h = cJSON_AddObjectToObject(j, "heldout");
    cJSON_AddNumberToObject(h, "lines", (double)p->held.n);
    cJSON_AddNumberToObject(h, "masked_tokens", (double)st->heldout_masked);
    if (st->heldout_masked > 0) {
        cJSON_AddNumberToObject(h, "mlm_loss", st->heldout_loss);
        cJSON_AddNumberToObject(h, "mlm_accuracy", st->heldout_acc);
        cJSON_AddNumberToObject(h, "initial_mlm_loss", st->initial_heldout_loss);
        cJSON_AddNumberToObject(h, "initial_mlm_accuracy", st->initial_heldout_acc);
    }
    if (isfinite(st->heldout_bow) && isfinite(st->initial_heldout_bow)) {
        cJSON_AddNumberToObject(h, "bow_loss", st->heldout_bow);
        cJSON_AddNumberToObject(h, "initial_bow_loss", st->initial_heldout_bow);
    }
    cJSON *cp = cJSON_AddObjectToObject(j, "corpus");
    cJSON_AddStringToObject(cp, "source", c->source);
    cJSON_AddNumberToObject(cp, "lines", (double)p->ncorpus);
    cJSON_AddNumberToObject(cp, "train_lines", (double)p->ntrain_lines);
    cJSON_AddNumberToObject(cp, "train_sequences", (double)p->train.n);
    cJSON_AddNumberToObject(cp, "train_tokens", (double)p->train.ntokens);
    cJSON_AddNumberToObject(
        cp, "epochs", p->train.ntokens ? (double)st->tokens_seen / (double)p->train.ntokens : 0.0);
    cJSON *v = cJSON_AddObjectToObject(j, "vocab");
    cJSON_AddNumberToObject(v, "size", p->nvocab);
    cJSON_AddNumberToObject(v, "alphabet", p->vst.alphabet);
    cJSON_AddNumberToObject(v, "merges", p->vst.merges);
    cJSON_AddNumberToObject(v, "words", (double)p->vst.words);
    cJSON_AddNumberToObject(v, "distinct_words", (double)p->vst.unique_words);
    cJSON *m = cJSON_AddObjectToObject(j, "model");
    cJSON_AddNumberToObject(m, "layers", c->layers);
    cJSON_AddNumberToObject(m, "hidden", c->hidden);
    cJSON_AddNumberToObject(m, "heads", c->heads);
    cJSON_AddNumberToObject(m, "ffn", c->ffn);
    cJSON_AddNumberToObject(m, "encoder_parameters",
                            (double)param_store_trainable(&p->m.ps, PGROUP_COUNT));
    cJSON_AddNumberToObject(m, "mlm_head_parameters", (double)param_store_numel(&p->head.ps));
    cJSON_AddNumberToObject(j, "train_seconds", st->train_seconds);
    cJSON_AddNumberToObject(j, "tokens_per_second",
                            st->train_seconds > 0 ? (double)st->tokens_seen / st->train_seconds
                                                  : 0.0);
    cJSON_AddNumberToObject(j, "train_cpu_seconds", st->train_cpu_seconds);
    cJSON_AddNumberToObject(j, "wall_seconds", st->wall_seconds);
    cJSON_AddItemToObject(j, "environment", results_environment());
    return j;
}

int pt_write_dir(const struct pt *p, const char *dir, const struct pretrain_stats *st,
                 struct err *e)
{
    char path[PRETRAIN_PATH_MAX + 128];
    struct bert_config bc = p->m.cfg;
    snprintf(bc.architectures0, sizeof bc.architectures0, "BertForMaskedLM");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (hfconfig_write(&bc, path, e))
        return e->code;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (vocab_write(path, (const char *const *)p->vocab, p->nvocab, e))
        return e->code;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (write_tensors(p, path, e))
        return e->code;
    cJSON *j = stats_json(p, st);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", PRETRAIN_STATS);
    /* written last: its presence (with the right hash) marks a complete directory */
    snprintf(path, sizeof path, "%s/%s", dir, PRETRAIN_STATS);
    int rc = results_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
