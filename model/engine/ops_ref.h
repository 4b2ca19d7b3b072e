/*
 * ops_ref: naive reference twins of the kernels in ops.h, for tests.
 *
 * Same signatures, shapes and accumulate/overwrite semantics as the op
 * without the _ref suffix (see ops.h).  Plain serial loops, no BLAS, no
 * OpenMP, sums in double: slow but easy to read against the maths.  They
 * are compiled into the library so that any test suite can use them.
 * Dropout masks use the same counter hash, so masks agree with dropout.c
 * and attention.c.
 * The attention twins ignore ws (it may be NULL) and allocate their own
 * scratch with malloc; on allocation failure they leave outputs untouched.
 */
#ifndef MODEL_OPS_REF_H
#define MODEL_OPS_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/engine/ops.h"

void op_linear_fwd_ref(float *y, const float *x, const float *W, const float *b, int N, int IN,
                       int OUT);
void op_linear_bwd_ref(float *dx, float *dW, float *db, const float *dy, const float *x,
                       const float *W, int N, int IN, int OUT, bool acc_dx);

void op_embed_fwd_ref(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                      const float *Wp, const float *Wt, int N, int D);
void op_embed_bwd_ref(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                      const int *pos, const int *types, int N, int D);

void op_layernorm_fwd_ref(float *y, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, int N, int D, float eps);
void op_layernorm_bwd_ref(float *dx, float *dg, float *db, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *g, int N, int D,
                          bool acc_dx);

void op_act_fwd_ref(enum act_kind a, float *y, const float *x, size_t n);
void op_act_bwd_ref(enum act_kind a, float *dx, const float *dy, const float *x, size_t n);

void op_dropout_fwd_ref(float *y, const float *x, size_t n, float p, uint64_t seed,
                        uint64_t stream);
void op_dropout_bwd_ref(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                        uint64_t stream);

void op_attention_fwd_ref(float *out, float *probs, const float *q, const float *k, const float *v,
                          const float *pk, const float *pv, const int *mask, int B, int T, int D,
                          int H, int P, float drop_p, uint64_t seed, uint64_t stream, float *ws);
void op_attention_bwd_ref(float *dq, float *dk, float *dv, float *dpk, float *dpv,
                          const float *dout, const float *probs, const float *q, const float *k,
                          const float *v, const float *pk, const float *pv, const int *mask, int B,
                          int T, int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                          float *ws);

double op_softmax_xent_ref(float *dlogits, const float *logits, const int *labels, int N, int C);
double op_mse_ref(float *dpred, const float *pred, const float *target, int N);

#endif
