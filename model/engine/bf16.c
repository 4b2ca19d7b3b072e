/*
 * bf16: float32 <-> bfloat16 conversion and the CPU check (contract in bf16.h).
 *
 * Narrowing is the integer form of round-to-nearest-even: add 0x7FFF plus the lowest kept bit
 * to the float's bits and keep the top 16.  A carry out of the mantissa bumps the exponent,
 * which is the correct rounding (up to inf for the largest finite values); NaN is handled
 * first because the add could turn a NaN with only low payload bits into inf.  The loop body is
 * branch-free so the compiler vectorises it (AVX-512: 16 floats per step).
 */
#include "model/engine/bf16.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define BF16_PAR_MIN 65536 /* below this many elements one thread is faster than waking the pool */

static inline uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline bf16_t narrow_bits(uint32_t u)
{
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x0040u; /* quiet NaN, sign kept */
    bool is_nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
    return (bf16_t)(is_nan ? nan : rounded);
}

bf16_t bf16_from_f32(float x)
{
    return narrow_bits(f32_bits(x));
}

float bf16_to_f32(bf16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

void bf16_narrow(bf16_t *dst, const float *src, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (nn > BF16_PAR_MIN)
    for (long i = 0; i < nn; i++)
        dst[i] = narrow_bits(f32_bits(src[i]));
}

void bf16_widen(float *dst, const bf16_t *src, size_t n)
{
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (nn > BF16_PAR_MIN)
    for (long i = 0; i < nn; i++)
        dst[i] = bf16_to_f32(src[i]);
}

void bf16_narrow_rows(bf16_t *dst, const float *src, size_t rows, size_t cols, size_t ld)
{
    if (ld == cols) {
        bf16_narrow(dst, src, rows * cols);
        return;
    }
    const long nr = (long)rows;
#pragma omp parallel for schedule(static) if (rows * cols > BF16_PAR_MIN)
    for (long r = 0; r < nr; r++) {
        const float *s = src + (size_t)r * ld;
        bf16_t *d = dst + (size_t)r * cols;
#pragma omp simd
        for (size_t c = 0; c < cols; c++)
            d[c] = narrow_bits(f32_bits(s[c]));
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* XCR0: has the OS enabled the AVX-512 register state (opmask, ZMM0-15 upper, ZMM16-31)? */
static bool os_avx512_state(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6u) == 0xE6u; /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
}

bool bf16_cpu_ok(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    bool avx512f = b & (1u << 16), amx_bf16 = d & (1u << 22);
    unsigned max_sub = a;
    bool avx512_bf16 = false;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
        avx512_bf16 = a & (1u << 5);
    if (amx_bf16)
        return true;
    return avx512f && avx512_bf16 && os_avx512_state();
}
#else
bool bf16_cpu_ok(void)
{
    return false;
}
#endif
