/* dropout: dropout forward and backward (contract in dropout.h). */
#include "model/engine/dropout.h"

#include <string.h>

#include "model/engine/parallel.h"
#include "model/engine/rng.h"

/* Keep threshold for 0 < p < 1: keep iff hash >= p * 2^64.  p * 2^64 is
 * below 2^64 - 2^40 for any float p < 1, so the conversion cannot overflow. */
uint64_t drop_threshold(float p)
{
    return (uint64_t)((double)p * 18446744073709551616.0);
}

/*
 * y[i] = keep(base + i) ? x[i] * scale : 0 for i in [0, n).  y may alias x.
 * The mask depends only on (seed, stream, base + i), never on scheduling.
 */
OPS_CLONES void dropout_span(float *y, const float *x, size_t n, uint64_t thr, float scale,
                             uint64_t seed, uint64_t stream, uint64_t base)
{
    for (size_t i = 0; i < n; i++)
        y[i] = rng_hash(seed, stream, base + i) >= thr ? x[i] * scale : 0.0f;
}

/*
 * p <= 0 (or NaN) copies.  p >= 1 is the caller's error (the scale 1/(1-p)
 * does not exist); it is handled as "drop everything" (y = 0) rather than
 * producing Inf/NaN or undefined conversions.
 */
void op_dropout_fwd(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream)
{
    if (!(p > 0.0f)) {
        if (y != x)
            memmove(y, x, n * sizeof(*y));
        return;
    }
    if (p >= 1.0f) {
        memset(y, 0, n * sizeof(*y));
        return;
    }
    uint64_t thr = drop_threshold(p);
    float scale = (float)(1.0 / (1.0 - (double)p));
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        dropout_span(y + i0, x + i0, len, thr, scale, seed, stream, i0);
    }
}

/* Row r of the (rows, width) block is row r * stride of a full tensor: element (r, j) draws
 * counter (r * stride) * width + j.  stride 0 or 1 is op_dropout_fwd. */
void op_dropout_rows_fwd(float *y, const float *x, size_t rows, size_t width, size_t stride,
                         float p, uint64_t seed, uint64_t stream)
{
    if (stride <= 1 || !(p > 0.0f) || p >= 1.0f) {
        op_dropout_fwd(y, x, rows * width, p, seed, stream);
        return;
    }
    uint64_t thr = drop_threshold(p);
    float scale = (float)(1.0 / (1.0 - (double)p));
    for (size_t r = 0; r < rows; r++)
        dropout_span(y + r * width, x + r * width, width, thr, scale, seed, stream,
                     r * stride * width);
}

/* The backward is the same masked scaling applied to dy. */
void op_dropout_bwd(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t stream)
{
    op_dropout_fwd(dx, dy, n, p, seed, stream);
}
