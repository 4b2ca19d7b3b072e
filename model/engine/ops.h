/*
 * ops: the forward/backward kernels of the encoder, float32, row-major.
 * This header gathers them; each concept has its own .c/.h pair:
 *   linear.h       Linear layer y = x W^T + b
 *   embedding.h    token + position + type embeddings
 *   layernorm.h    LayerNorm
 *   activation.h   GELU, gelu_new, ReLU, Swish, tanh, identity
 *   elementwise.h  add, acc, axpy, per-column scaling (IA3)
 *   dropout.h      counter-based inverted dropout
 *   attention.h    multi-head attention with prefix rows, masked softmax
 *   loss.h         softmax cross-entropy, MSE
 * and the kernels share matmul.h (the one matrix-product interface, the BLAS seam),
 * parallel.h (threading policy, determinism) and fastmath.h (vectorisable exp).
 *
 * Conventions (all ops):
 *   - Argument order: outputs, saved caches, inputs, parameters, sizes.
 *   - Weights use the Hugging Face layout: a Linear W is (OUT, IN), y = x W^T + b.
 *   - Backward: parameter gradients (dW, db, dgamma ...) are ACCUMULATED (+=);
 *     pass NULL for a frozen parameter and nothing is computed for it.
 *     Input gradients (dx) are OVERWRITTEN unless the op says otherwise.
 *   - Matrix products go through matmul_sgemm (OpenBLAS sgemm).  Elementwise and
 *     row-wise loops are parallelised with OpenMP (the same pool OpenBLAS-openmp
 *     uses, so the two never fight for the 2 cores).
 *   - Every BLAS-backed op has a naive *_ref twin (ops_ref.c) used in tests.
 *
 * Dimension letters: N rows (= B*T tokens), B batch, T tokens, D width,
 * H heads, Dh = D/H, F FFN width, P prefix rows, C classes.
 */
#ifndef MODEL_OPS_H
#define MODEL_OPS_H

#include "model/engine/activation.h"
#include "model/engine/attention.h"
#include "model/engine/dropout.h"
#include "model/engine/elementwise.h"
#include "model/engine/embedding.h"
#include "model/engine/layernorm.h"
#include "model/engine/linear.h"
#include "model/engine/loss.h"

#endif
