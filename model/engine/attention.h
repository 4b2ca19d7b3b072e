/*
 * attention: scaled dot-product multi-head attention with optional prefix key/value rows,
 * a key padding mask and attention-probability dropout; forward, backward and the variants
 * restricted to the first Tq queries of each sequence.
 */
#ifndef MODEL_ENGINE_ATTENTION_H
#define MODEL_ENGINE_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/*
 * Scaled dot-product multi-head attention with optional prefix rows.
 *   q, k, v: (B, T, D), head h occupies columns [h*Dh, (h+1)*Dh), D = H*Dh
 *   pk, pv:  (P, D) prefix keys/values of this layer, shared by every sequence
 *            of the batch, or NULL when P == 0.  Prefix rows sit before the
 *            real keys (key index j < P is prefix row j) and are always
 *            attendable.
 *   mask:    (B, T) 1 for a real token, 0 for padding (masks keys only:
 *            a padded key gets probability exactly 0 and no gradient, whatever
 *            its score: +Inf or NaN from an overflowing q.k included).
 *   probs:   (B, H, T, P+T) saved: softmax probabilities BEFORE dropout.
 *   out:     (B, T, D) context = dropout(probs) · [pv; v] per head.
 * Rows of probs: softmax over the attendable keys (prefix rows and real
 * tokens), exactly 0 on padded keys.  A query with no attendable key (P == 0
 * and an all-padding sequence) gets a zero row, hence a zero context.  A NaN
 * among a row's attendable scores, or an attendable maximum of +Inf or -Inf
 * (q.k of real tokens overflowed: a diverged model), makes that row NaN so the
 * divergence stays visible.  ops_ref.c's twins agree on all of this.  Padded
 * rows of k and v still enter the products P [pv; v] and dS [pk; k] with
 * weight 0, so they must be finite (they are whenever the weights are).
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

#endif
