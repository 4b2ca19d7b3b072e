/*
 * matmul_dnnl: the oneDNN backend of the bf16 matrix products.
 *
 * C (fp32) = alpha * op(A) op(B) + beta * C with A and B in bf16, products accumulated in fp32
 * by oneDNN's matmul primitive (brgemm:avx512_core_bf16 on AVX512_BF16 CPUs).  oneDNN builds a
 * primitive per shape, which costs far more than a small product, so primitives are cached in
 * a bounded hash table keyed by everything that defines one (M, N, K, the transposes, the row
 * strides, alpha, beta); the hot path only looks up and executes.  When the table is full it
 * is cleared and refilled (a training run uses a few dozen shapes, far below the bound).
 *
 * The context also owns the scratch buffers that per-call casts write into (bf16 copies of
 * fp32 operands), grown on demand and charged to the accountant as MEM_WORKSPACE.
 * Not thread-safe: one context per trainer thread.
 */
#ifndef MODEL_ENGINE_MATMUL_DNNL_H
#define MODEL_ENGINE_MATMUL_DNNL_H

#include <stddef.h>

#include "base/err.h"
#include <stdbool.h>

#include "model/engine/bf16.h"
#include "model/engine/mem.h"

#define MATMUL_DNNL_CACHE 128 /* bound on cached primitives */
#define MATMUL_DNNL_SCRATCH 2 /* scratch slots for casts */

struct matmul_dnnl;

/* A oneDNN CPU engine and stream, an empty cache.  acct is borrowed (scratch is charged to it). */
int matmul_dnnl_create(struct matmul_dnnl **out, struct mem_acct *acct, struct err *e);
void matmul_dnnl_destroy(struct matmul_dnnl *d);

/* C = alpha * op(A) op(B) + beta * C; shapes and strides as matmul_sgemm (matmul.h) with
 * ta / tb true for a transposed operand, A and B bf16, C fp32.  beta == 0 overwrites C. */
int matmul_dnnl_bf16(struct matmul_dnnl *d, bool ta, bool tb, int M,
                     int N, int K, float alpha, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                     float beta, float *C, int ldc, struct err *e);

/* Scratch slot `slot` (< MATMUL_DNNL_SCRATCH) with room for n bf16 values; NULL + e on failure.
 * Valid until the next call for the same slot. */
bf16_t *matmul_dnnl_scratch(struct matmul_dnnl *d, int slot, size_t n, struct err *e);

/* Number of primitives created so far (tests check the cache: no creation per call). */
long matmul_dnnl_created(const struct matmul_dnnl *d);

#endif
