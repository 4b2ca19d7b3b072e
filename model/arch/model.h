/*
 * model: a BERT/RoBERTa encoder with its task head, loaded from and saved to
 * Hugging Face model directories (config.json, model.safetensors, vocab.txt).
 *
 * Heads (tensor names as transformers' *ForSequenceClassification):
 *   BERT:    pooled = tanh(h[CLS] Wp^T + bp) ("pooler.dense", part of the backbone);
 *            logits = dropout(pooled) Wc^T + bc ("classifier").
 *   RoBERTa: t = tanh(dropout(h[<s>]) Wd^T + bd) ("classifier.dense");
 *            logits = dropout(t) Wo^T + bo ("classifier.out_proj"); no pooler.
 * num_labels == 1 is regression (MSE), otherwise softmax cross-entropy.
 */
#ifndef MODEL_MODEL_H
#define MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/arch/encoder.h"
#include "base/err.h"
#include "model/io/hfconfig.h"
#include "model/engine/mem.h"
#include "model/engine/params.h"

enum head_type { HEAD_BERT = 0, HEAD_ROBERTA };

struct model {
    struct bert_config cfg;   /* owned copy (id2label owned) */
    struct mem_acct *acct;    /* borrowed */
    struct param_store ps;
    struct encoder enc;
    enum head_type head;
    int C;                    /* num labels; 1 = regression */
    struct param *pool_w, *pool_b; /* (D, D), (D): BERT pooler (backbone group); NULL for RoBERTa */
    struct param *cls_w, *cls_b;   /* BERT classifier (C, D), (C); RoBERTa classifier.dense (D, D) */
    struct param *out_w, *out_b;   /* RoBERTa classifier.out_proj (C, D), (C); NULL for BERT */
    float head_drop;          /* classifier dropout (hidden_dropout_prob) */
    bool all_rows;            /* run the last layer for every token although the head reads
                                 only the first (default false; benchmarks compare both) */

    /* step state (views into enc.arena) */
    float *cls_in;    /* (B, D) first-token hidden states */
    float *pre;       /* (B, D) dense output before tanh */
    float *act;       /* (B, D) tanh output */
    float *cls_drop;  /* (B, D) RoBERTa: dropout(cls_in) */
    float *act_drop;  /* (B, D) dropout(act) */
    float *logits;    /* (B, C) */
    struct matmul_be *mm;     /* owned bf16 backend (model/arch/precision.h), NULL until the
                                 model first runs in bf16; enc.mm points at it while it does */
    char load_note[512]; /* what loading did beyond the obvious (new head, skipped tensors) */
    /* NaN/Inf values in loaded tensors ("" = none), one entry per tensor, grouped by file:
     * "FILE: NAME: K non-finite values (first at index I: nan); NAME2: ..." */
    char load_warning[1024];
    size_t load_nonfinite; /* how many loaded tensors hold a NaN/Inf value */
};

/* Build a model with zero weights (call model_init_weights or model_load_dir). */
int model_create(struct model *m, const struct bert_config *cfg, int num_labels,
                 struct mem_acct *acct, struct err *e);
void model_destroy(struct model *m);

/* HF-style random init of every tensor (backbone and head). */
void model_init_weights(struct model *m, uint64_t seed);

/* Read dir/config.json and dir/model.safetensors into a new model with a
 * num_labels head (num_labels <= 0: take it from the config).  Accepts the
 * "bert."/"roberta." prefixes, legacy LayerNorm gamma/beta names, ignores MLM
 * heads (cls.*, lm_head.*) and position_ids buffers; a missing head is
 * initialised (seed) and noted in load_note; a missing or misshaped backbone
 * tensor is an error naming it.  A loaded tensor holding NaN/Inf values is not
 * an error: it is described in load_warning and counted in load_nonfinite
 * (callers warn, or refuse with model_check_finite).  A tokenizer in dir must fit
 * the config (model_check_vocab). */
int model_load_dir(struct model *m, const char *dir, int num_labels, uint64_t seed,
                   struct mem_acct *acct, struct err *e);

/* The tokenizer in dir (vocab.txt, or vocab.json + merges.txt; none: nothing to check) against
 * cfg, dir's config.json: a vocabulary with more token ids than cfg->vocab_size is ERR_CONFIG
 * naming both files and both numbers (its ids past the embedding table would fail only later,
 * at a token, with no file named).  A broken tokenizer is its loader's error.  model_load_dir
 * calls it; preflight checks can too (config.json and the vocabulary, no weights). */
int model_check_vocab(const struct bert_config *cfg, const char *dir, struct err *e);

/* Scan the tensors just loaded from file (loaded[i] for m->ps.items[i]) for NaN/Inf
 * values and append what is found to load_warning / load_nonfinite. */
void model_note_nonfinite(struct model *m, const char *file, const bool *loaded);

/* ERR_NUMERIC naming the file(s) and tensor(s) when loading found NaN/Inf values
 * (the --strict policy); ERR_OK otherwise. */
int model_check_finite(const struct model *m, struct err *e);

/* Write dir/config.json and dir/model.safetensors (backbone, and the head when
 * with_head), and copy vocab_src to dir/vocab.txt when non-NULL.  Creates dir. */
int model_save_dir(const struct model *m, const char *dir, bool with_head, const char *vocab_src,
                   struct err *e);

/* One step's forward: *logits (B, C) valid until the next step. */
int model_forward(struct model *m, const struct batch *b, bool train, uint64_t seed,
                  uint64_t step, float **logits, struct err *e);

/* Loss of the last forward against b->labels (classification) or b->targets
 * (regression); with backward, accumulates all trainable gradients. */
int model_loss_backward(struct model *m, const struct batch *b, bool backward, double *loss,
                        struct err *e);

/* Backward from given logits gradients (B, C) (used by tests and custom losses). */
int model_backward(struct model *m, const float *dlogits, struct err *e);

/* Make every backbone tensor (not the head) trainable or frozen. */
int model_set_backbone_trainable(struct model *m, bool on, struct err *e);
/* Make the head trainable (it is by default after create). */
int model_set_head_trainable(struct model *m, bool on, struct err *e);

#endif
