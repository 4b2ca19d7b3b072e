/*
 * linear: the Linear layer y = x W^T + b and its backward (Hugging Face weight layout).
 * Conventions (argument order, accumulate vs overwrite, frozen = NULL) in ops.h.
 */
#ifndef MODEL_ENGINE_LINEAR_H
#define MODEL_ENGINE_LINEAR_H

#include <stdbool.h>

#include "base/err.h"
#include "model/engine/matmul.h"

/* y = x W^T + b.  x: (N, IN)  W: (OUT, IN)  b: (OUT) or NULL  y: (N, OUT), overwritten. */
void op_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int IN,
                   int OUT);

/* Backward of op_linear_fwd.  dy: (N, OUT).
 *   dx: (N, IN)  = dy W  (overwritten, or accumulated when acc_dx); NULL = not needed
 *   dW: (OUT, IN) += dy^T x;  NULL for a frozen W (then x may be NULL too)
 *   db: (OUT)     += sum over rows of dy;  NULL for frozen or absent bias */
void op_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x,
                   const float *W, int N, int IN, int OUT, bool acc_dx);

/* The same two through a matmul backend (matmul.h): W given in fp32 or bf16.  With be == NULL
 * or fp32 these call op_linear_fwd / op_linear_bwd (bit-identical; W must be fp32).  With
 * bf16, x and dy are cast per call into the backend's scratch, the products accumulate in fp32
 * and y, dx, dW stay fp32; the bias and its gradient are fp32 as in op_linear_*. */
int op_linear_fwd_be(const struct matmul_be *be, float *y, const float *x, struct mm_mat W,
                     const float *b, int N, int IN, int OUT, struct err *e);
int op_linear_bwd_be(const struct matmul_be *be, float *dx, float *dW, float *db, const float *dy,
                     const float *x, struct mm_mat W, int N, int IN, int OUT, bool acc_dx,
                     struct err *e);

#endif
