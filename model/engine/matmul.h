/*
 * matmul: the one matrix-product interface of the engine.
 *
 * Every matrix product of the kernels (linear layers, attention) goes through
 * matmul_sgemm, and only matmul.c talks to a BLAS library: this is the seam where
 * other backends plug in without any kernel changing.  fp32 is OpenBLAS' cblas_sgemm,
 * row-major (the default, and the reference every gradient check is defined in).
 *
 * On top of it, the backend interface of the three Linear products (Y = X W^T,
 * dX = dY W, dW += dY^T X) with a precision: MATMUL_FP32 calls matmul_sgemm with exactly
 * the arguments op_linear_* always used (bit-identical), MATMUL_BF16 runs oneDNN's bf16
 * matmul (bf16 inputs, fp32 accumulation and output, matmul_dnnl.h), casting any fp32
 * operand into the backend's scratch per call; frozen weights arrive already in bf16.
 *
 * Threading contract (parallel.h relies on it): called from serial code, the
 * backend may spread one product over the OpenMP pool; called inside an OpenMP
 * parallel region, it runs on the calling thread.  Results must not depend on
 * the thread count beyond how the backend splits M and N (never K).
 */
#ifndef MODEL_ENGINE_MATMUL_H
#define MODEL_ENGINE_MATMUL_H

#include <stdint.h>

#include "base/err.h"

/* How an operand is read: as stored (N) or transposed (T), as BLAS's 'N' / 'T'. */
enum matmul_trans {
    MATMUL_N = 0,
    MATMUL_T,
};

/*
 * C = alpha * op(A) op(B) + beta * C, float32, row-major.
 *   op(A): (M, K), stored (M, K) with row stride lda if ta == MATMUL_N, else (K, M)
 *   op(B): (K, N), stored (K, N) with row stride ldb if tb == MATMUL_N, else (N, K)
 *   C:     (M, N) with row stride ldc; beta == 0 overwrites C (its old values are not read)
 * Strides larger than the row width read column blocks in place (attention heads).
 */
void matmul_sgemm(enum matmul_trans ta, enum matmul_trans tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* ---- the Linear backend interface ---------------------------------------------------- */

enum matmul_prec {
    MATMUL_FP32 = 0, /* OpenBLAS sgemm (default) */
    MATMUL_BF16,     /* oneDNN, bf16 inputs, fp32 accumulation and output */
};

/* "fp32" / "bf16". */
const char *matmul_prec_name(enum matmul_prec p);
/* Parse "fp32" / "bf16"; -1 when neither. */
int matmul_prec_parse(const char *s, enum matmul_prec *out);

struct matmul_dnnl;

/* A backend: the precision and, for bf16, the oneDNN context (borrowed). */
struct matmul_be {
    enum matmul_prec prec;
    struct matmul_dnnl *dnnl;
};

/* A packed row-major matrix given in fp32 or already in bf16: exactly one is set.  The fp32
 * backend needs f32; the bf16 backend casts f32 per call (round to nearest even). */
struct mm_mat {
    const float *f32;
    const uint16_t *bf16;
};

/* Y (N, OUT) = X (N, IN) W (OUT, IN)^T + beta Y.  be == NULL means fp32. */
int matmul_xwt(const struct matmul_be *be, float *Y, struct mm_mat X, struct mm_mat W, int N,
               int IN, int OUT, float beta, struct err *e);
/* dX (N, IN) = dY (N, OUT) W (OUT, IN) + beta dX. */
int matmul_dyw(const struct matmul_be *be, float *dX, struct mm_mat dY, struct mm_mat W, int N,
               int IN, int OUT, float beta, struct err *e);
/* dW (OUT, IN) += dY (N, OUT)^T X (N, IN). */
int matmul_dytx(const struct matmul_be *be, float *dW, struct mm_mat dY, struct mm_mat X, int N,
                int IN, int OUT, struct err *e);

/* bf16 backend: cast src (n values) into scratch slot `slot` (0 or 1) and return it, so that a
 * caller using one operand in two products casts it once.  NULL + e on failure. */
const uint16_t *matmul_be_cast(const struct matmul_be *be, int slot, const float *src, size_t n,
                               struct err *e);

#endif
