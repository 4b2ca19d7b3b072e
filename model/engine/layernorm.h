/*
 * layernorm: per-row LayerNorm (biased variance, as torch.nn.LayerNorm) and its backward.
 */
#ifndef MODEL_ENGINE_LAYERNORM_H
#define MODEL_ENGINE_LAYERNORM_H

#include <stdbool.h>

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

#endif
