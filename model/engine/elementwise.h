/*
 * elementwise: sums and scalings applied element by element: the residual add, gradient
 * accumulation (acc, axpy), and the per-column scaling of IA3.
 */
#ifndef MODEL_ENGINE_ELEMENTWISE_H
#define MODEL_ENGINE_ELEMENTWISE_H

#include <stddef.h>

/* y = z ⊙ l per row (IA3).  z, y: (N, C), l: (C); y may alias z. */
void op_colscale_fwd(float *y, const float *z, const float *l, int N, int C);

/* Its backward in one pass over the rows:
 *   dl: (C) += Σ_n dy ⊙ z (each column summed in double, in row order, by one thread: the
 *       result does not depend on the thread count), NULL when frozen;
 *   dz: (N, C) = dy ⊙ l, overwritten (may alias dy), NULL when not needed. */
void op_colscale_bwd(float *dz, float *dl, const float *dy, const float *z, const float *l, int N,
                     int C);

/* y = a + b, n elements (y may alias a or b). */
void op_add(float *y, const float *a, const float *b, size_t n);
/* y += a, n elements. */
void op_acc(float *y, const float *a, size_t n);
/* y += s * a, n elements. */
void op_axpy(float *y, float s, const float *a, size_t n);

#endif
