/*
 * matmul: the one matrix-product interface of the engine.
 *
 * Every matrix product of the kernels (linear layers, attention) goes through
 * matmul_sgemm, and only matmul.c talks to a BLAS library: this is the seam where
 * other backends (oneDNN bf16 with fp32 accumulation, say) plug in without any
 * kernel changing.  Today it is OpenBLAS' cblas_sgemm, row-major.
 *
 * Threading contract (parallel.h relies on it): called from serial code, the
 * backend may spread one product over the OpenMP pool; called inside an OpenMP
 * parallel region, it runs on the calling thread.  Results must not depend on
 * the thread count beyond how the backend splits M and N (never K).
 */
#ifndef MODEL_ENGINE_MATMUL_H
#define MODEL_ENGINE_MATMUL_H

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

#endif
