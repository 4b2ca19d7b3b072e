/*
 * mlm: BERT's masked-language-model head and masking rule, for pretraining.
 *
 * Head (transformers' BertLMPredictionHead, tensor names as in BertForMaskedLM):
 *   t = x Wt^T + bt                 cls.predictions.transform.dense   Wt (D, D), bt (D)
 *   g = act(t)                      the config's hidden_act (gelu)
 *   h = LN(g)                       cls.predictions.transform.LayerNorm (D), (D)
 *   logits = h E^T + bias           E = embeddings.word_embeddings (V, D): TIED weights;
 *                                   bias = cls.predictions.bias (V)
 * The head runs only on the M masked positions (the loss is computed there only), so the
 * (M, V) logits stay small.  Because E is shared with the encoder's input embedding, its
 * gradient gets contributions from both ends: the decoder (dE += dlogits^T h) and the
 * embedding lookup (encoder_backward); both accumulate into the same word->grad.
 *
 * Masking (Devlin et al. 2019, sec. 3.1 / appendix A.1; HF DataCollatorForLanguageModeling):
 * each real, non-special token is selected with probability prob (0.15); a selected token
 * is replaced by [MASK] with probability mask_frac (0.8), by a uniformly random non-special
 * token with probability random_frac (0.1), and left unchanged otherwise (0.1).  Every
 * draw comes from the counter hash rng_hash(seed, stream, index), so the masks depend on
 * (seed, stream, position) only, not on thread count or call order.
 */
#ifndef MODEL_MLM_H
#define MODEL_MLM_H

#include <stdbool.h>
#include <stdint.h>

#include "model/arch/encoder.h"
#include "base/err.h"
#include "model/engine/mem.h"
#include "model/engine/ops.h"
#include "model/engine/params.h"

/* ---- ops ------------------------------------------------------------------ */

/* Forward of the head on M rows.
 *   x: (M, D) hidden states at the masked positions
 *   Wt: (D, D)  bt, lg, lb: (D)  E: (V, D)  bias: (V)
 *   saved for backward: t, g, h: (M, D)  mean, rstd: (M)
 *   logits: (M, V) overwritten */
void mlm_fwd(float *logits, float *t, float *g, float *h, float *mean, float *rstd, const float *x,
             const float *Wt, const float *bt, const float *lg, const float *lb, const float *E,
             const float *bias, int M, int D, int V, enum act_kind act, float eps);

/* Mean softmax cross-entropy of logits (M, V) against labels (M) in [0, V).
 * dlogits (M, V), if non-NULL, is overwritten with d(loss)/d(logits) = (softmax -
 * onehot) / M.  *correct (may be NULL) counts rows whose first maximal logit is the
 * label.  row_loss: (M) scratch.  Rows run in parallel; the total is summed in row
 * order in double, so the result does not depend on the thread count. */
double mlm_xent(float *dlogits, int *correct, float *row_loss, const float *logits,
                const int *labels, int M, int V);

/* Soft-target cross-entropy: row r's target distribution q_r puts weight w[k] on token
 * tok[k] for every k with row[k] == r (a row's weights sum to 1).
 *   logits: (M, V)  row, tok, w: (K)  row_loss: (M) scratch
 * Returns the mean over the M rows of lse(z_r) - sum_k w_k z_r[tok_k].  dlogits (M, V),
 * if non-NULL, is overwritten with scale * (softmax_r - q_r) / M.  Deterministic as
 * mlm_xent. */
double mlm_soft_xent(float *dlogits, float *row_loss, const float *logits, const int *row,
                     const int *tok, const float *w, int K, int M, int V, float scale);

/* Backward of mlm_fwd from dlogits (M, V).
 *   dx: (M, D) overwritten; NULL = not needed
 *   dWt (D, D), dbt, dlg, dlb (D), dE (V, D), dbias (V): ACCUMULATED; NULL = frozen
 *   ws: (2, M, D) workspace
 *   the other inputs as saved by mlm_fwd */
void mlm_bwd(float *dx, float *dWt, float *dbt, float *dlg, float *dlb, float *dE, float *dbias,
             float *ws, const float *dlogits, const float *x, const float *t, const float *g,
             const float *h, const float *mean, const float *rstd, const float *Wt, const float *lg,
             const float *E, int M, int D, int V, enum act_kind act);

/* ---- masking ---------------------------------------------------------------- */

struct mlm_mask_cfg {
    float prob;                   /* selection probability (0.15) */
    float mask_frac;              /* of the selected: [MASK] (0.8) */
    float random_frac;            /* of the selected: random token (0.1); the rest unchanged */
    int mask_id;                  /* id of [MASK] */
    int V;                        /* vocabulary size */
    const unsigned char *special; /* (V) 1 for special tokens: never selected, never drawn */
};

/* Mask ids (N) where mask (N) is 1 (real tokens; NULL = all real).  out_ids (N) gets
 * the corrupted ids; pos (M) the selected positions in increasing order and labels (M)
 * their original ids.  When nothing was selected but some token is eligible, the
 * eligible token with the smallest hash is selected (so a batch always has a target).
 * Returns M (0 only when no token is eligible). */
int mlm_mask(int *out_ids, int *pos, int *labels, const int *ids, const int *mask, int N,
             const struct mlm_mask_cfg *c, uint64_t seed, uint64_t stream);

/* ---- the head over an encoder ---------------------------------------------- */

struct mlm_head {
    struct param_store ps;           /* the head's own tensors, trainable */
    struct param *dense_w, *dense_b; /* (D, D), (D) */
    struct param *ln_g, *ln_b;       /* (D) */
    struct param *bias;              /* (V) */
    struct param *word;              /* borrowed: the encoder's word embeddings (V, D) */
    int D, V;
    enum act_kind act;
    float eps;
};

/* Statistics of one mlm_head_step. */
struct mlm_result {
    double loss; /* mean cross-entropy over the M masked positions */
    int correct; /* masked positions predicted right (argmax) */
    int M;
};

/* Register the head's tensors (names cls.predictions.*) in h->ps, trainable, and tie
 * the decoder to enc->word.  Zero-initialised: call mlm_head_init. */
int mlm_head_create(struct mlm_head *h, struct encoder *enc, struct mem_acct *acct, struct err *e);
void mlm_head_destroy(struct mlm_head *h); /* NULL-safe */

/* BERT init: dense N(0, std), LayerNorm gain 1 and bias 0, decoder bias 0. */
void mlm_head_init(struct mlm_head *h, float std, uint64_t seed);

/* Loss at positions pos[0..M) (flat indices into the batch of the last encoder_forward,
 * labels their original ids).  With dhidden (N, D) non-NULL, also backward: dhidden is
 * overwritten (zero except the masked rows) and the gradients of the head's tensors and
 * of the tied word embeddings (when trainable) accumulate.  Scratch in enc->arena. */
int mlm_head_step(struct mlm_head *h, struct encoder *enc, const int *pos, const int *labels, int M,
                  float *dhidden, struct mlm_result *out, struct err *e);

/* Optional sentence-level loss (not in BERT, which trained [CLS] with next-sentence
 * prediction): the first token ([CLS]) of every sequence of the last forward goes through
 * the same head and predicts the bag of words of its sequence, i.e. the uniform
 * distribution over the sequence's real non-special tokens ids (N) (original, unmasked
 * ids; repeats count).  A masked-LM-only encoder leaves the final [CLS] state untrained;
 * this gives a frozen-backbone probe of [CLS] a summary of the sentence to read.
 * Sequences without such a token are skipped.  out->loss is the mean over the others.
 * With dhidden (N, D), weight * the gradient is ACCUMULATED into dhidden (call after
 * mlm_head_step, which overwrites it) and into the head and word-embedding gradients. */
int mlm_head_bow_step(struct mlm_head *h, struct encoder *enc, const int *ids, const int *mask,
                      const unsigned char *special, float weight, float *dhidden,
                      struct mlm_result *out, struct err *e);

#endif
