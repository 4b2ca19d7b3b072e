/*
 * dropout: inverted dropout with counter-based masks (rng_hash), so a mask depends only on
 * (seed, stream, element index): never on threads, scheduling, or which rows are computed.
 */
#ifndef MODEL_ENGINE_DROPOUT_H
#define MODEL_ENGINE_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

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

/* Keep threshold for 0 < p < 1 (keep iff rng_hash >= threshold); shared with the attention
 * probability dropout so both draw masks the same way. */
uint64_t drop_threshold(float p);

/*
 * y[i] = keep(base + i) ? x[i] * scale : 0 for i in [0, n), keep(c) = rng_hash(seed, stream, c)
 * >= thr.  y may alias x.  The building block of every dropout here (serial; callers split
 * the work), exported for attention, whose counters are numbered per (batch, head) block.
 */
void dropout_span(float *y, const float *x, size_t n, uint64_t thr, float scale, uint64_t seed,
                  uint64_t stream, uint64_t base);

#endif
