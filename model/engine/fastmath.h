/*
 * fastmath: branch-free float exp and clamp for loops marked `omp simd`.
 *
 * The activation and softmax loops call these instead of libm so that they
 * vectorise (see ops_exp for why).  They are plain IEEE float operations, not
 * -ffast-math: every clone of a loop computes the same value per element.
 * static inline so each kernel's loop can inline them.
 */
#ifndef MODEL_ENGINE_FASTMATH_H
#define MODEL_ENGINE_FASTMATH_H

#include <math.h>
#include <stdint.h>

/* Order-preserving integer image of a float (involution): negative floats
 * get their magnitude bits flipped so signed integer order = float order. */
static inline int32_t ops_fkey(int32_t bits)
{
    return bits < 0 ? bits ^ 0x7fffffff : bits;
}

/*
 * x clamped to [lo, hi] (NaN maps to one of the bounds), branch-free.
 * Clamps go through the integer image because GCC, under the default
 * -ftrapping-math, will not if-convert a float select that is followed by
 * arithmetic, and the loop would stay scalar.
 */
static inline float ops_clampf(float x, float lo, float hi)
{
    union {
        float f;
        int32_t i;
    } u = {x}, l = {lo}, h = {hi};
    int32_t k = ops_fkey(u.i), kl = ops_fkey(l.i), kh = ops_fkey(h.i);
    k = k < kl ? kl : k;
    k = k > kh ? kh : k;
    u.i = ops_fkey(k);
    return u.f;
}

/*
 * x where keep is true, else exactly +0, branch-free: the bits of x ANDed with
 * an all-ones or all-zeros word.  For gating a value computed by a
 * transcendental that may be +Inf or NaN where it is not wanted: keep * x
 * would turn Inf * 0 into NaN, and (as for ops_clampf) a float select
 * followed by arithmetic keeps GCC from vectorising the loop.  Kept values
 * keep their exact bits.
 */
static inline float ops_keepf(int keep, float x)
{
    union {
        float f;
        int32_t i;
    } u = {x};
    u.i &= -(int32_t)(keep != 0);
    return u.f;
}

/*
 * Branch-free float exp: e^x within ~2 ulp for x in [-87, 88]; 0 below,
 * +Inf above, NaN for NaN (a diverged run must stay visibly diverged).
 * Why not expf/erfcf: glibc's scalar calls made GELU forward+backward cost
 * more than the FFN GEMMs.  Written without branches or calls so loops
 * marked `omp simd` vectorise.  Method: x = n ln2 + r, |r| <= ln2/2 (Cody-
 * Waite split of ln2), e^r by its degree-7 Taylor polynomial (truncation
 * < 1e-8 relative), 2^n assembled in the exponent bits.
 */
static inline float ops_exp(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float x_in = x;
    x = ops_clampf(x, -87.0f, 88.0f);
    union {
        float f;
        int32_t i;
    } ut, us, um = {magic};
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    ut.f = t;
    float r = x - n * 0.693145751953125f; /* ln2 high part: exact product */
    r = r - n * 1.42860682030941723e-6f;  /* ln2 low part */
    float p = 1.0f / 5040.0f + r * (1.0f / 40320.0f);
    p = 1.0f / 720.0f + r * p;
    p = 1.0f / 120.0f + r * p;
    p = 1.0f / 24.0f + r * p;
    p = 1.0f / 6.0f + r * p;
    p = 0.5f + r * p;
    p = 1.0f + r * p;
    p = 1.0f + r * p;
    us.i = (int32_t)((uint32_t)(ut.i - um.i + 127) << 23); /* 2^n, n in [-126, 127] */
    /* Outside the clamp range return exact 0 / +Inf (no denormal outputs to
     * slow down later GEMMs), and let NaN through.  Selects of constants
     * only, so the loop stays branch-free. */
    float under = x_in < -87.0f ? 0.0f : 1.0f;
    float over = x_in > 88.0f ? INFINITY : 1.0f;
    float nan_term = x_in != x_in ? NAN : 0.0f;
    return p * us.f * under * over + nan_term;
}

#endif
