/* matmul: the OpenBLAS backend of matmul_sgemm (contract in matmul.h); the only cblas call. */
#include "model/engine/matmul.h"

#include <cblas.h>

static enum CBLAS_TRANSPOSE matmul_cblas_trans(enum matmul_trans t)
{
    return t == MATMUL_T ? CblasTrans : CblasNoTrans;
}

void matmul_sgemm(enum matmul_trans ta, enum matmul_trans tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, matmul_cblas_trans(ta), matmul_cblas_trans(tb), M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}
