/*
 * linear: the Linear layer y = x W^T + b and its backward (Hugging Face weight layout).
 * Conventions (argument order, accumulate vs overwrite, frozen = NULL) in ops.h.
 */
#ifndef MODEL_ENGINE_LINEAR_H
#define MODEL_ENGINE_LINEAR_H

#include <stdbool.h>

/* y = x W^T + b.  x: (N, IN)  W: (OUT, IN)  b: (OUT) or NULL  y: (N, OUT), overwritten. */
void op_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int IN,
                   int OUT);

/* Backward of op_linear_fwd.  dy: (N, OUT).
 *   dx: (N, IN)  = dy W  (overwritten, or accumulated when acc_dx); NULL = not needed
 *   dW: (OUT, IN) += dy^T x;  NULL for a frozen W (then x may be NULL too)
 *   db: (OUT)     += sum over rows of dy;  NULL for frozen or absent bias */
void op_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x,
                   const float *W, int N, int IN, int OUT, bool acc_dx);

#endif
