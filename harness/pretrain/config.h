/*
 * pretrain config: the settings of one pretraining build (CONFIG.yaml), their defaults
 * and validation, and the canonical text whose hash is the model cache's key.  The key is
 * why this is more than a parser: two configs that build the same model must give the
 * same key, and any change that changes the model must change it.
 *
 * Config (YAML, harness/yaml/yaml.h loader, `include:` allowed; every key optional):
 *   name: tiny-bert                  # default: the file name without .yaml
 *   seed: 1
 *   corpus: {source: wordnet | wordnet-train | file, path: FILE (source file; relative to
 *            the config file), wordnet_dir: DIR, heldout_fraction: 0.02,
 *            heldout_max_lines: 2000, max_lines: 0 (0 = all)}
 *   vocab:  {size: 8000, min_frequency: 2, limit_alphabet: 0, lowercase: true}
 *   model:  {layers: 4, hidden: 128, heads: 4, ffn: 512, max_position: 128,
 *            hidden_act: gelu, dropout: 0.1, attention_dropout: 0.1,
 *            initializer_range: 0.02}
 *   train:  {steps: 1000, batch_size: 64, max_seq_len: 64, lr: 1.0e-3, warmup_ratio: 0.06,
 *            weight_decay: 0.01, grad_clip: 1.0, adam_beta1: 0.9, adam_beta2: 0.999,
 *            adam_eps: 1.0e-6, eval_batch_size: 128,
 *            dropout: -1 (>= 0: dropout during pretraining; config.json keeps model.*)}
 *   mlm:    {mask_prob: 0.15, mask_token: 0.8, random_token: 0.1, cls_bow_weight: 0}
 * cls_bow_weight > 0 adds a sentence-level loss, weighted so: [CLS] predicts the bag of
 * words of its line through the same head (model/arch/mlm.h, mlm_head_bow_step).  Masked-LM
 * alone leaves the final [CLS] state untrained (BERT trained it with next-sentence
 * prediction), which is what a frozen-backbone probe (method `head`) reads.
 * Unknown keys and values of the wrong type or range are errors naming file:line:col.
 *
 * Cache key: FNV-1a 64 (16 hex digits) of the canonical config text (format version,
 * then every setting, defaults included, in table order; not the name), stored as
 * "config_hash" in DIR/pretrain_stats.json (harness/pretrain/cache.h compares it).
 */
#ifndef HARNESS_PRETRAIN_CONFIG_H
#define HARNESS_PRETRAIN_CONFIG_H

#include <stdbool.h>

#include "base/err.h"

#define PRETRAIN_NAME_MAX 128
#define PRETRAIN_PATH_MAX 4096
#define PRETRAIN_KEY_LEN  16

struct pretrain_cfg {
    char name[PRETRAIN_NAME_MAX];
    long long seed;
    /* corpus */
    char source[16];                       /* "wordnet", "wordnet-train" or "file" */
    char path[PRETRAIN_PATH_MAX];          /* source file as written (hashed) */
    char path_resolved[PRETRAIN_PATH_MAX]; /* path resolved against the config's dir */
    char wordnet_dir[PRETRAIN_PATH_MAX];   /* "" = WN_DEFAULT_DIR */
    double heldout_fraction;
    int heldout_max_lines;
    int max_lines;
    /* vocabulary */
    int vocab_size, min_frequency, limit_alphabet;
    bool lowercase;
    /* model */
    int layers, hidden, heads, ffn, max_position;
    char hidden_act[16];
    double dropout, attention_dropout, initializer_range;
    /* training */
    int steps, batch_size, max_seq_len, eval_batch_size;
    double train_dropout; /* < 0: the model's dropout during pretraining too */
    double lr, warmup_ratio, weight_decay, grad_clip, adam_beta1, adam_beta2, adam_eps;
    /* masking */
    double mask_prob, mask_token, random_token;
    double cls_bow_weight; /* weight of the [CLS] bag-of-words loss (0 = off) */

    char key[PRETRAIN_KEY_LEN + 1]; /* cache key of canonical */
    char *canonical;                /* owned: canonical config text */
    char defaulted[1024];           /* "a.b, c.d" keys that took their default ("" if none) */
};

void pretrain_cfg_default(struct pretrain_cfg *c);
/* Parse and validate path into *c (defaults for absent keys; canonical text and key).
 * Errors name file:line:col, the key, what was expected and what was found. */
int pretrain_cfg_load(struct pretrain_cfg *c, const char *path, struct err *e);
void pretrain_cfg_free(struct pretrain_cfg *c); /* NULL-safe */

#endif
