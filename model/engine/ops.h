/*
 * ops: the forward/backward kernels of the encoder, float32, row-major.
 *
 * Conventions (all ops):
 *   - Argument order: outputs, saved caches, inputs, parameters, sizes.
 *   - Weights use the Hugging Face layout: a Linear W is (OUT, IN), y = x W^T + b.
 *   - Backward: parameter gradients (dW, db, dgamma ...) are ACCUMULATED (+=);
 *     pass NULL for a frozen parameter and nothing is computed for it.
 *     Input gradients (dx) are OVERWRITTEN unless the op says otherwise.
 *   - Matrix products go through cblas_sgemm.  Elementwise and row-wise
 *     loops are parallelised with OpenMP (the same pool OpenBLAS-openmp uses,
 *     so the two never fight for the 2 cores).
 *   - Every BLAS-backed op has a naive *_ref twin (ops_ref.c) used in tests.
 *
 * Dimension letters: N rows (= B*T tokens), B batch, T tokens, D width,
 * H heads, Dh = D/H, F FFN width, P prefix rows, C classes.
 */
#ifndef MODEL_OPS_H
#define MODEL_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- linear ------------------------------------------------------------ */

/* y = x W^T + b.  x: (N, IN)  W: (OUT, IN)  b: (OUT) or NULL  y: (N, OUT), overwritten. */
void op_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int IN,
                   int OUT);

/* Backward of op_linear_fwd.  dy: (N, OUT).
 *   dx: (N, IN)  = dy W  (overwritten, or accumulated when acc_dx); NULL = not needed
 *   dW: (OUT, IN) += dy^T x;  NULL for a frozen W (then x may be NULL too)
 *   db: (OUT)     += sum over rows of dy;  NULL for frozen or absent bias */
void op_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x,
                   const float *W, int N, int IN, int OUT, bool acc_dx);

/* ---- embeddings -------------------------------------------------------- */

/* out[n] = Ww[ids[n]] + Wp[pos[n]] + Wt[types[n]].  out: (N, D).
 * ids/pos/types are validated by the caller (in range).  Wt/types may be NULL. */
void op_embed_fwd(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                  const float *Wp, const float *Wt, int N, int D);

/* Scatter-add dout (N, D) into the rows of dWw/dWp/dWt (each NULL when frozen). */
void op_embed_bwd(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                  const int *pos, const int *types, int N, int D);

/* ---- layer norm -------------------------------------------------------- */

/* y = (x - mean) * rstd * g + b per row.  x, y: (N, D)  g, b: (D)
 * mean, rstd: (N) saved for backward.  y may alias x only if the caller keeps
 * no other use of x (backward needs x): do not alias in the encoder. */
void op_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                      const float *b, int N, int D, float eps);

/* dx: (N, D) overwritten (or accumulated when acc_dx); NULL = not needed.
 * dg, db: (D) accumulated; NULL when frozen. */
void op_layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *g, int N, int D,
                      bool acc_dx);

/* ---- activations ------------------------------------------------------- */

enum act_kind {
    ACT_GELU = 0, /* erf form: x * 0.5 * (1 + erf(x / sqrt 2))  (BERT "gelu") */
    ACT_GELU_NEW, /* tanh approximation (HF "gelu_new") */
    ACT_RELU,
    ACT_SWISH,    /* x * sigmoid(x) (= silu) */
    ACT_TANH,
    ACT_IDENTITY,
    ACT_COUNT
};

/* Name <-> kind, names as in HF configs: "gelu", "gelu_new", "relu", "swish"
 * (also "silu"), "tanh", "identity".  Returns -1 for an unknown name. */
int act_from_name(const char *name);
const char *act_name(enum act_kind a);

/* y = f(x) elementwise, n elements; y may alias x only for forward-only use. */
void op_act_fwd(enum act_kind a, float *y, const float *x, size_t n);

/* dx = dy * f'(x), n elements; dx overwritten (may alias dy). x is the input. */
void op_act_bwd(enum act_kind a, float *dx, const float *dy, const float *x, size_t n);

/* ---- per-column scaling ------------------------------------------------ */

/* y = z ⊙ l per row (IA3).  z, y: (N, C), l: (C); y may alias z. */
void op_colscale_fwd(float *y, const float *z, const float *l, int N, int C);

/* Its backward in one pass over the rows:
 *   dl: (C) += Σ_n dy ⊙ z (each column summed in double, in row order, by one thread: the
 *       result does not depend on the thread count), NULL when frozen;
 *   dz: (N, C) = dy ⊙ l, overwritten (may alias dy), NULL when not needed. */
void op_colscale_bwd(float *dz, float *dl, const float *dy, const float *z, const float *l, int N,
                     int C);

/* ---- dropout ----------------------------------------------------------- */

/* Inverted dropout with a counter-based mask: element i is kept iff
 * rng_hash(seed, stream, i) >= p * 2^64, kept values scaled by 1/(1-p).
 * y may alias x.  p == 0 copies (or is a no-op when aliased).  n elements. */
void op_dropout_fwd(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream);

/* Dropout of a subset of rows of a (R, width) tensor: block row r stands for full row
 * r * stride and draws that row's mask (element counter (r * stride) * width + j), so a
 * computation restricted to every stride-th row drops exactly what the full one would.
 * Used forward and backward (the scaling is its own backward).  y may alias x. */
void op_dropout_rows_fwd(float *y, const float *x, size_t rows, size_t width, size_t stride,
                         float p, uint64_t seed, uint64_t stream);

/* dx = mask * dy / (1-p), regenerating the same mask; dx may alias dy. */
void op_dropout_bwd(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                    uint64_t stream);

/* ---- attention --------------------------------------------------------- */

/*
 * Scaled dot-product multi-head attention with optional prefix rows.
 *   q, k, v: (B, T, D), head h occupies columns [h*Dh, (h+1)*Dh), D = H*Dh
 *   pk, pv:  (P, D) prefix keys/values of this layer, shared by every sequence
 *            of the batch, or NULL when P == 0.  Prefix rows sit before the
 *            real keys (key index j < P is prefix row j) and are always
 *            attendable.
 *   mask:    (B, T) 1 for a real token, 0 for padding (masks keys only:
 *            a padded key gets probability exactly 0).
 *   probs:   (B, H, T, P+T) saved: softmax probabilities BEFORE dropout.
 *   out:     (B, T, D) context = dropout(probs) · [pv; v] per head.
 * Scores are q·k / sqrt(Dh).  Attention-probability dropout uses
 * (drop_p, seed, stream) with element index ((b*H + h)*T + i)*(P+T) + j.
 * ws: workspace of at least op_attention_ws_floats(B, T, D, H, P) floats.
 */
size_t op_attention_ws_floats(int B, int T, int D, int H, int P);

void op_attention_fwd(float *out, float *probs, const float *q, const float *k, const float *v,
                      const float *pk, const float *pv, const int *mask, int B, int T, int D,
                      int H, int P, float drop_p, uint64_t seed, uint64_t stream, float *ws);

/* The same for the first Tq positions of each sequence only (1 <= Tq <= T): q and out are
 * (B, Tq, D), k and v (B, T, D), probs (B, H, Tq, P+T).  Query i < Tq of sequence b gets
 * exactly what op_attention_fwd computes for it, dropout masks included (counters are
 * numbered as in the full (B, H, T, P+T) tensor).  For a head that reads only each
 * sequence's first token, the last layer needs Tq = 1. */
void op_attention_fwd_q(float *out, float *probs, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, const int *mask, int B, int T, int Tq,
                        int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                        float *ws);

/* Backward.  dout: (B, T, D).  dq, dk, dv: (B, T, D) overwritten.
 * dpk, dpv: (P, D) ACCUMULATED (summed over the batch), or NULL when the
 * prefix is not trainable.  ws as in forward. */
void op_attention_bwd(float *dq, float *dk, float *dv, float *dpk, float *dpv, const float *dout,
                      const float *probs, const float *q, const float *k, const float *v,
                      const float *pk, const float *pv, const int *mask, int B, int T, int D,
                      int H, int P, float drop_p, uint64_t seed, uint64_t stream, float *ws);

/* Backward of op_attention_fwd_q: dout, dq (B, Tq, D); dk, dv (B, T, D) overwritten (keys
 * no query attends to get 0). */
void op_attention_bwd_q(float *dq, float *dk, float *dv, float *dpk, float *dpv, const float *dout,
                        const float *probs, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, const int *mask, int B, int T, int Tq,
                        int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                        float *ws);

/* ---- small elementwise helpers ----------------------------------------- */

/* y = a + b, n elements (y may alias a or b). */
void op_add(float *y, const float *a, const float *b, size_t n);
/* y += a, n elements. */
void op_acc(float *y, const float *a, size_t n);
/* y += s * a, n elements. */
void op_axpy(float *y, float s, const float *a, size_t n);

/* ---- losses ------------------------------------------------------------ */

/* Mean softmax cross-entropy over N rows of logits (N, C) with labels (N) in
 * [0, C).  dlogits (N, C), if non-NULL, is overwritten with d(loss)/d(logits)
 * = (softmax - onehot) / N.  Computed in double; returns the loss. */
double op_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int C);

/* Mean squared error over N predictions (N) vs targets (N): mean((p - t)^2).
 * dpred (N), if non-NULL, overwritten with 2 (p - t) / N. */
double op_mse(float *dpred, const float *pred, const float *target, int N);

#endif
