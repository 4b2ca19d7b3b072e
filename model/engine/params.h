/*
 * params: the parameter store.
 *
 * Every tensor of a model (backbone, task head, PEFT method) lives here under
 * its Hugging Face name with its shape and data.  Only a trainable tensor has
 * a gradient and AdamW moments: a frozen tensor costs its data and nothing
 * else, and the accountant shows it (MEM_FROZEN vs MEM_TRAINABLE, MEM_GRADS,
 * MEM_OPTIM).  Tensors are individually allocated through the accountant so
 * that a method (bitfit, full, train_layernorm) can unfreeze a base tensor
 * after the model is built: its data block is recharged, grad/m/v allocated.
 *
 * Pointers to struct param are stable for the life of the store.
 */
#ifndef MODEL_PARAMS_H
#define MODEL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "model/engine/bf16.h"
#include "model/engine/matmul.h"
#include "model/engine/mem.h"

#define PARAM_NAME_MAX 160
#define PARAM_MAX_DIMS 4

/* What a tensor is, for optimizer grouping (no weight decay on biases and
 * LayerNorms, as BERT and HF Trainer do) and for bitfit / train_layernorm. */
enum param_kind {
    PARAM_WEIGHT = 0, /* matrices (and method tensors without a special role) */
    PARAM_BIAS,       /* additive biases */
    PARAM_LN_GAMMA,   /* LayerNorm gain */
    PARAM_LN_BETA,    /* LayerNorm bias */
    PARAM_EMBEDDING,  /* embedding tables */
};

/* Who owns a tensor, for the trainable-parameter breakdown in the CSV. */
enum param_group {
    PGROUP_BACKBONE = 0, /* pretrained encoder (incl. pooler) */
    PGROUP_HEAD,         /* task head (classifier) */
    PGROUP_METHOD,       /* a PEFT method's own tensors */
    PGROUP_COUNT
};

struct param {
    char name[PARAM_NAME_MAX]; /* HF name, e.g. "encoder.layer.0.attention.self.query.weight" */
    int ndim;
    int shape[PARAM_MAX_DIMS];
    size_t numel;
    enum param_kind kind;
    enum param_group group;
    bool trainable;
    bool no_decay; /* excluded from weight decay (biases, LayerNorm, by default) */
    float *data;   /* (numel) owned, MEM_FROZEN or MEM_TRAINABLE; NULL while stored in bf16 */
    bf16_t *bf16;  /* (numel) owned, MEM_FROZEN: a frozen tensor stored once in bf16 (the bf16
                      precision), else NULL; exactly one of data and bf16 is set */
    float *grad;   /* (numel) owned, MEM_GRADS; NULL when frozen */
    float *m, *v;  /* (numel) owned, MEM_OPTIM; NULL when frozen */
};

struct param_store {
    struct param **items;  /* owned array of owned params, in registration order */
    size_t n, cap;
    struct mem_acct *acct; /* borrowed */
};

void param_store_init(struct param_store *s, struct mem_acct *acct);
/* Free every tensor (data, grad, moments) and the store's array. */
void param_store_destroy(struct param_store *s);

/* Register a new frozen tensor of the given shape (data zeroed).  Errors:
 * duplicate name, bad shape, size overflow, allocation failure.
 * Returns NULL and fills e on error. */
struct param *param_add(struct param_store *s, const char *name, int ndim, const int *shape,
                        enum param_kind kind, enum param_group group, struct err *e);

/* Make a tensor trainable (allocates zeroed grad and moments) or frozen (frees them).  A tensor
 * stored in bf16 is widened to fp32 first (its master copy). */
int param_set_trainable(struct param_store *s, struct param *p, bool trainable, struct err *e);

/* Store a frozen tensor in bf16 (round to nearest even) and free its fp32 data, halving its
 * bytes; a no-op when already bf16.  A trainable tensor is refused (ERR_STATE): trainable
 * tensors keep fp32 master copies. */
int param_narrow(struct param_store *s, struct param *p, struct err *e);
/* Back to fp32 data (exact widening of the bf16 values); a no-op when already fp32. */
int param_widen(struct param_store *s, struct param *p, struct err *e);
/* The tensor as a matmul operand: its fp32 data, or its bf16 copy. */
struct mm_mat param_mat(const struct param *p);

/* Look up by exact name; NULL when absent. */
struct param *param_find(const struct param_store *s, const char *name);

/* Zero every gradient. */
void param_store_zero_grads(struct param_store *s);

/* Number of elements: all tensors, or the trainable ones of a group
 * (group = PGROUP_COUNT means any group). */
size_t param_store_numel(const struct param_store *s);
size_t param_store_trainable(const struct param_store *s, enum param_group group);

/* L2 norm of all gradients (double accumulation). */
double param_store_grad_norm(const struct param_store *s);
/* Multiply all gradients by f. */
void param_store_scale_grads(struct param_store *s, float f);
/* True if any gradient is NaN or Inf. */
bool param_store_grads_nonfinite(const struct param_store *s);
/* Number of NaN/Inf values in p->data; *first (may be NULL) gets the index of the first. */
size_t param_count_nonfinite(const struct param *p, size_t *first);

/* AdamW (Loshchilov & Hutter): decoupled weight decay, bias-corrected moments.
 * Updates trainable tensors only; frozen tensors are not touched. */
struct adamw_cfg {
    float lr;            /* this step's learning rate (after schedule) */
    float beta1, beta2;  /* 0.9, 0.999 */
    float eps;           /* 1e-8 (HF AdamW default 1e-8; BERT 1e-6) */
    float weight_decay;  /* applied as p -= lr * wd * p, skipped for no_decay tensors */
};
void adamw_default(struct adamw_cfg *c);
/* One update; step is 1-based (for bias correction). */
void adamw_step(struct param_store *s, const struct adamw_cfg *c, long step);

#endif
