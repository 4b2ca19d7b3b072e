/*
 * pretrain: `peftbench pretrain CONFIG.yaml` and the built-in model cache.
 *
 * Masked-language-model pretraining of a BERT encoder from scratch:
 *   1. corpus: WordNet glosses and examples (wn_corpus; "wordnet-train" keeps only the
 *      synsets of the tasks' train split) or a plain-text file, one document per line;
 *      a fixed hash of each line's text puts heldout_fraction of them aside for the
 *      held-out MLM evaluation;
 *   2. vocabulary: a WordPiece vocabulary trained on the training lines (model/text/vocab_build.h);
 *   3. model: a randomly initialised BERT (config.model) with the MLM head of model/arch/mlm.h
 *      (decoder tied to the word embeddings);
 *   4. training: config.train.steps AdamW steps on shuffled, length-bucketed batches of
 *      single lines ([CLS] line [SEP], truncated to max_seq_len), 15% masking with the
 *      80/10/10 rule, linear warm-up and linear decay, gradient clipping;
 *   5. evaluation: MLM loss and accuracy on the held-out lines with fixed masks, before
 *      and after training;
 *   6. output: a Hugging Face model directory (config.json, model.safetensors with the
 *      BertForMaskedLM names "bert.*" + "cls.predictions.*", vocab.txt) and
 *      pretrain_stats.json, written into DIR.tmp-PID and renamed to DIR only when
 *      complete: DIR is never half-written, and an interrupted run leaves the previous
 *      DIR (if any) untouched.
 *
 * Config (YAML, harness/sweep/yaml.h loader, `include:` allowed; every key optional):
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
 * "config_hash" in DIR/pretrain_stats.json.  pretrain_ensure reuses DIR when the key
 * matches and rebuilds it otherwise, under an flock on DIR.lock so that concurrent
 * sweeps (shards) build once and wait for each other.
 *
 * Determinism: the same config, seed and thread count give bit-identical files.
 */
#ifndef HARNESS_PRETRAIN_H
#define HARNESS_PRETRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

#define PRETRAIN_NAME_MAX   128
#define PRETRAIN_PATH_MAX   4096
#define PRETRAIN_KEY_LEN    16
#define PRETRAIN_STATS      "pretrain_stats.json"
#define PRETRAIN_CONFIG_DIR "configs/pretrain"
#define PRETRAIN_MODEL_DIR  "results/models"

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

struct pretrain_opts {
    FILE *out;                   /* progress and log lines, or NULL for silence */
    bool tty;                    /* progress as one rewritten line (else log lines) */
    volatile sig_atomic_t *stop; /* set asynchronously to abandon the build, or NULL */
};

/* What a build measured (also written to pretrain_stats.json). */
struct pretrain_stats {
    long steps;
    long long tokens_seen;       /* real (non-pad) training tokens processed */
    long long masked_seen;       /* training positions predicted */
    double final_train_loss;     /* mean MLM loss over the last 5% of steps */
    double final_train_bow_loss; /* the same for the [CLS] bag-of-words loss (NaN: off) */
    double heldout_loss, heldout_acc, heldout_bow;
    double initial_heldout_loss, initial_heldout_acc, initial_heldout_bow;
    long long heldout_masked;
    size_t train_lines, heldout_lines;
    int vocab_size;
    double wall_seconds, train_seconds, train_cpu_seconds;
};

/* Build the model of cfg into dir (atomically, replacing an older dir).  ERR_STATE
 * with "interrupted" when *o->stop became set (nothing is left behind). */
int pretrain_build(const struct pretrain_cfg *cfg, const char *dir, const struct pretrain_opts *o,
                   struct pretrain_stats *st, struct err *e);

/* True when dir holds a complete build whose pretrain_stats.json config_hash is key. */
bool pretrain_is_current(const char *dir, const char *key);

/* Reuse or (re)build dir from the config at config_path; *built tells which. */
int pretrain_ensure(const char *config_path, const char *dir, const struct pretrain_opts *o,
                    bool *built, struct err *e);

/* builtin:NAME: dir = PRETRAIN_MODEL_DIR/NAME, reused when current, else (re)built from
 * PRETRAIN_CONFIG_DIR/NAME.yaml (relative to the working directory) with progress on out
 * (NULL: silent).  SIGINT/SIGTERM abandon the build cleanly (ERR_STATE "interrupted").
 * A missing config is ERR_CONFIG listing the configs that exist. */
int pretrain_builtin(const char *name, char *dir, size_t n, FILE *out, struct err *e);

/* `peftbench pretrain` entry point: returns the exit status (0, 1 error, 2 usage,
 * 130 interrupted). */
int pretrain_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
