/*
 * activation: activation forward and backward (contract in activation.h).  Chunks of
 * OPS_CHUNK elements run in parallel; inside a chunk each function is a branch-free loop
 * over fastmath.h so that it vectorises (and runs in AVX2 clones where the CPU has them).
 */
#include "model/engine/activation.h"

#include <math.h>
#include <string.h>

#include "model/engine/fastmath.h"
#include "model/engine/parallel.h"

static const char *const act_names[ACT_COUNT] = {
    [ACT_GELU] = "gelu",   [ACT_GELU_NEW] = "gelu_new", [ACT_RELU] = "relu",
    [ACT_SWISH] = "swish", [ACT_TANH] = "tanh",         [ACT_IDENTITY] = "identity",
};

int act_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int a = 0; a < ACT_COUNT; a++)
        if (strcmp(name, act_names[a]) == 0)
            return a;
    if (strcmp(name, "silu") == 0)
        return ACT_SWISH;
    return -1;
}

const char *act_name(enum act_kind a)
{
    return (unsigned)a < ACT_COUNT ? act_names[a] : "unknown";
}

#define OPS_INV_SQRT2   0.70710678118654752f /* 1/sqrt(2) */
#define OPS_INV_SQRT2PI 0.39894228040143268f /* 1/sqrt(2 pi) */
#define OPS_SQRT_2_PI   0.79788456080286536f /* sqrt(2/pi), gelu_new */
#define OPS_GELU_C      0.044715f

/* Logistic function, 1 / (1 + e^-x): no cancellation on either side. */
static inline float ops_sigmoid(float x)
{
    return 1.0f / (1.0f + ops_exp(-x));
}

/*
 * Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 via the Chebyshev fit
 * of erfc in Numerical Recipes (erfcc: erfc(z) = t e^(-z^2 + poly(t)),
 * t = 1 / (1 + z/2), relative error < 1.2e-7 for z >= 0), evaluated at |z|
 * and reflected.  Keeps relative accuracy in the far left tail, where
 * 1 + erf(x / sqrt 2) would cancel.  One exp per call.
 */
static inline float ops_phi(float x)
{
    float z = fabsf(x) * OPS_INV_SQRT2;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = -0.82215223f + t * 0.17087277f;
    p = 1.48851587f + t * p;
    p = -1.13520398f + t * p;
    p = 0.27886807f + t * p;
    p = -0.18628806f + t * p;
    p = 0.09678418f + t * p;
    p = 0.37409196f + t * p;
    p = 1.00002368f + t * p;
    p = -1.26551223f + t * p;
    float half_erfc = 0.5f * t * ops_exp(p - z * z);
    /* Phi = half_erfc for x < 0, else 1 - half_erfc.  Selecting constants
     * rather than results keeps the loop free of branches: with the default
     * -ftrapping-math GCC will not if-convert a select between two computed
     * values, and the loop would not vectorise. */
    float base = x < 0.0f ? 0.0f : 1.0f, sign = x < 0.0f ? 1.0f : -1.0f;
    return base + sign * half_erfc;
}

/* y = f(x) on one chunk.  The switch sits outside the loops so each loop is
 * a plain elementwise kernel (omp simd: vectorised, no threads involved). */
OPS_CLONES static void act_fwd_span(enum act_kind a, float *y, const float *x, size_t n)
{
    switch (a) {
    case ACT_GELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * ops_phi(x[i]);
        break;
    case ACT_GELU_NEW:
        /* (1 + tanh u)/2 = sigmoid(2u): same function, no cancellation when
         * tanh u is close to -1. */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v * ops_sigmoid(2.0f * OPS_SQRT_2_PI * (v + OPS_GELU_C * v * v * v));
        }
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN passes through */
        break;
    case ACT_SWISH:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * ops_sigmoid(x[i]);
        break;
    case ACT_TANH:
        /* libm tanhf: 2 sigmoid(2x) - 1 would lose relative accuracy near 0. */
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    case ACT_IDENTITY:
    default:
        if (y != x)
            memmove(y, x, n * sizeof(*y));
        break;
    }
}

/* dx = dy * f'(x) on one chunk (dx may alias dy: each element is read before written). */
OPS_CLONES static void act_bwd_span(enum act_kind a, float *dx, const float *dy, const float *x,
                                    size_t n)
{
    switch (a) {
    case ACT_GELU:
        /* d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float pdf = OPS_INV_SQRT2PI * ops_exp(-0.5f * v * v);
            dx[i] = dy[i] * (ops_phi(v) + v * pdf);
        }
        break;
    case ACT_GELU_NEW:
        /* y = x s, s = sigmoid(2u), u = sqrt(2/pi)(x + c x^3):
         * y' = s + x s (1 - s) 2 u'. */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float s = ops_sigmoid(2.0f * OPS_SQRT_2_PI * (v + OPS_GELU_C * v * v * v));
            /* Bound v inside u' only: beyond |v| = 1e4, s (1 - s) is exactly
             * 0, and an overflowing u' would turn 0 * Inf into NaN. */
            float vc = ops_clampf(v, -1e4f, 1e4f);
            float du = OPS_SQRT_2_PI * (1.0f + 3.0f * OPS_GELU_C * vc * vc);
            dx[i] = dy[i] * (s + 2.0f * vc * s * (1.0f - s) * du);
        }
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case ACT_SWISH:
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float s = ops_sigmoid(x[i]);
            dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
    case ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            float t = tanhf(x[i]);
            dx[i] = dy[i] * (1.0f - t * t);
        }
        break;
    case ACT_IDENTITY:
    default:
        if (dx != dy)
            memmove(dx, dy, n * sizeof(*dx));
        break;
    }
}

void op_act_fwd(enum act_kind a, float *y, const float *x, size_t n)
{
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        act_fwd_span(a, y + i0, x + i0, len);
    }
}

void op_act_bwd(enum act_kind a, float *dx, const float *dy, const float *x, size_t n)
{
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        act_bwd_span(a, dx + i0, dy + i0, x + i0, len);
    }
}
