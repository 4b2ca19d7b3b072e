/*
 * bf16: the bfloat16 number format (1 sign, 8 exponent, 7 stored mantissa bits: the top half
 * of an IEEE float32) and the conversions the bf16 matrix products need.
 *
 * bf16 keeps float32's range and so needs no loss scaling; it keeps 8 significant bits
 * (relative rounding error <= 2^-8 under round-to-nearest-even).  Narrowing rounds to nearest,
 * ties to even, keeps subnormals (no flush to zero), maps +-inf to +-inf and every NaN to a
 * quiet NaN of the same sign; widening is exact.
 *
 * bf16_cpu_ok says whether this CPU (and OS) runs bf16 dot products in hardware
 * (AVX512_BF16 or AMX-BF16): the bf16 precision is offered only there.
 */
#ifndef MODEL_ENGINE_BF16_H
#define MODEL_ENGINE_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint16_t bf16_t;

/* One value, round-to-nearest-even. */
bf16_t bf16_from_f32(float x);
/* One value, exact. */
float bf16_to_f32(bf16_t h);

/* dst[i] = bf16(src[i]) for i < n (RNE); vectorised, parallel over the OpenMP pool when large
 * (serial inside a parallel region). */
void bf16_narrow(bf16_t *dst, const float *src, size_t n);
/* dst[i] = float(src[i]) for i < n (exact). */
void bf16_widen(float *dst, const bf16_t *src, size_t n);

/* Rows of a strided matrix: dst (rows, cols) packed = bf16(src (rows, cols) with row stride ld). */
void bf16_narrow_rows(bf16_t *dst, const float *src, size_t rows, size_t cols, size_t ld);

/* True when the CPU has AVX512_BF16 (with AVX-512 state enabled by the OS) or AMX-BF16. */
bool bf16_cpu_ok(void);

#endif
