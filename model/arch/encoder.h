/*
 * encoder: the BERT/RoBERTa post-LN transformer encoder, forward and backward,
 * calling the hook sites of model/arch/hooks.h.
 *
 *   emb  = LN(Ww[ids] + Wp[pos] + Wt[types]);  x_0 = dropout(emb)
 *   x_{l+1} = layer_l(x_l)  for l = 0..L-1        (see hooks.h for one layer)
 *   hidden = x_L                                   (N, D), N = B*T
 *
 * Frozen-aware backward: no weight gradient is computed for a frozen tensor
 * (only dX = dY·W), and the backward stops at the lowest point that still has
 * something trainable below it (head-only training runs no encoder backward).
 * All activations live in the encoder's per-step arena.
 */
#ifndef MODEL_ENCODER_H
#define MODEL_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "model/engine/arena.h"
#include "base/err.h"
#include "model/io/hfconfig.h"
#include "model/arch/hooks.h"
#include "model/engine/params.h"

/* Views of one layer's tensors in the parameter store (borrowed). */
struct bert_layer {
    struct param *wq, *bq, *wk, *bk, *wv, *bv; /* (D, D), (D) */
    struct param *wo, *bo;                     /* (D, D), (D) */
    struct param *ln1_g, *ln1_b;               /* (D) attention.output.LayerNorm */
    struct param *w1, *b1;                     /* (F, D), (F) intermediate.dense */
    struct param *w2, *b2;                     /* (D, F), (D) output.dense */
    struct param *ln2_g, *ln2_b;               /* (D) output.LayerNorm */
};

/* A tokenized, padded batch (right padding). */
struct batch {
    int B, T;
    const int *ids;      /* (B, T) token ids in [0, V) */
    const int *type_ids; /* (B, T) segment ids, or NULL = all 0 */
    const int *mask;     /* (B, T) 1 real, 0 pad; each row starts with >= 1 real token */
    const int *labels;   /* (B) class labels, or NULL */
    const float *targets;/* (B) regression targets, or NULL */
};

struct lin_save {   /* one linear site's saved tensors (views into the arena) */
    const float *x0, *x; /* (N, IN) */
    float *z, *y;        /* (N, OUT) */
};

struct blk_save {   /* one block site's saved tensors */
    const float *h, *res;       /* (N, D) */
    float *zsum, *mean1, *rstd1; /* (N, D), (N), (N) */
    float *n;                   /* (N, D) LN(zsum) */
    float *r, *z2, *mean2, *rstd2; /* POST_LN hook only */
    float *out;                 /* (N, D) */
};

struct layer_save {
    const float *x;                 /* (N, D) layer input */
    const float *xq;                /* (R, D) input of Q and the residual: x, or its first
                                       tokens (B, D) in the compact layer */
    struct lin_save lin[6];         /* SITE_Q .. SITE_FFN_OUT */
    const float *pk, *pv;           /* (P, D) prefix rows or NULL */
    float *probs;                   /* (B, H, T, P+T) */
    float *u, *g;                   /* (N, F) FFN pre/post activation */
    struct blk_save blk[2];         /* attention block, FFN block */
};

struct encoder {
    struct bert_config cfg;   /* copy */
    int D, H, F, L, V;
    bool roberta;             /* RoBERTa positions (offset pad_id + 1) */
    int act;                  /* enum act_kind of the FFN */
    float hidden_drop, attn_drop; /* dropout probabilities used in training steps */
    struct param_store *ps;   /* borrowed */
    struct param *word, *pos, *type, *emb_g, *emb_b;
    struct bert_layer *layers; /* (L) owned array of views */
    struct hook_set hooks;
    struct arena arena;        /* per-step activations (MEM_ACTIVATIONS) */
    /* Backend of the six Linear products of every layer (borrowed): NULL = fp32 sgemm, the
     * default and the reference; bf16 = oneDNN with fp32 accumulation (model/arch/precision.h).
     * Attention's products, LayerNorm, softmax, GELU and the residual stream stay fp32. */
    const struct matmul_be *mm;

    /* state of the current step (views into the arena) */
    struct hook_ctx ctx;
    int *pos_ids;              /* (N) */
    const int *save_ids;       /* (N) borrowed from the batch */
    const int *save_types;     /* (N) borrowed from the batch, or NULL */
    float *emb, *emb_mean, *emb_rstd; /* (N, D), (N), (N) */
    float *ws;                 /* attention workspace */
    float *scratch;            /* (N, max(D, F)) transient layer inputs (see layer_fwd) */
    struct layer_save *save;   /* (L) owned array */
    float *hidden;             /* (hidden_rows, D) final hidden states */
    int hidden_rows;           /* N, or B after encoder_forward_cls */
    int cls_layer;             /* the compact layer of this step's forward (-1: none) */
    bool have_forward;
    int saved_from;            /* first layer whose activations the forward kept */
    bool keep_all;             /* keep every layer's activations even when no backward
                                  follows (for tests that inspect save[]) */
};

/* Register the encoder's tensors (HF names, no "bert." prefix) in ps as
 * frozen, zero-initialised tensors, and set up the hook set and arena.
 * cfg is validated (hfconfig_read does that for files). */
int encoder_create(struct encoder *enc, const struct bert_config *cfg, struct param_store *ps,
                   struct mem_acct *acct, struct err *e);
void encoder_destroy(struct encoder *enc);

/* BERT initialisation: N(0, initializer_range) for matrices and embeddings,
 * zero biases, LayerNorm gain 1 (as HF _init_weights). */
void encoder_init_weights(struct encoder *enc, uint64_t seed);

/* Start a step: resets the arena; runs step hooks' begin. */
int encoder_begin_step(struct encoder *enc, const struct batch *b, bool train, uint64_t seed,
                       uint64_t step, struct err *e);

/* Forward over the batch given to begin_step; enc->hidden is (N, D). */
int encoder_forward(struct encoder *enc, const struct batch *b, struct err *e);

/* The same for a head that reads only each sequence's first token ([CLS] / <s>): the last
 * layer runs Q, attention, O, the FFN and both blocks for that token only (K and V for every
 * token), and enc->hidden is (B, D), row b = sequence b's first token.  Those rows, and the
 * gradients of every tensor, equal what encoder_forward gives (same dropout masks); the
 * last layer costs about 2/12 of a full one (K and V of its 4D^2 + 2DF weights).  Off
 * under keep_all.  Sequence classification is this; token-level heads and MLM need every
 * row. */
int encoder_forward_cls(struct encoder *enc, const struct batch *b, struct err *e);

/* Row of enc->hidden (and of dhidden) that holds sequence b's first token after this step's
 * forward: b*T, or b after encoder_forward_cls. */
size_t encoder_first_row(const struct encoder *enc, int b);

/* Backward from dhidden (hidden_rows, D) (may be modified).  Accumulates the gradients
 * of every trainable tensor and runs the hooks' backward and step end. */
int encoder_backward(struct encoder *enc, float *dhidden, struct err *e);

/* True if backward would compute anything (some encoder tensor or hook trainable). */
bool encoder_needs_backward(const struct encoder *enc);

/* Lowest layer whose backward must run (-1 = embeddings, L = none). */
int encoder_lowest_trainable(const struct encoder *enc);

#endif
