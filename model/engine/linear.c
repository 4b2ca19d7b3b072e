/*
 * linear: Linear layer forward and backward (contract in linear.h).  Both products go
 * through matmul_sgemm from serial code, so the backend may spread them over the cores;
 * the bias gradient is a deterministic column sum.
 */
#include "model/engine/linear.h"

#include <string.h>

#include "model/engine/matmul.h"
#include "model/engine/parallel.h"

/*
 * dst[c] += sum_n src[n, c].  src: (N, C)  dst: (C).
 * Parallel over blocks of columns: each column is summed by one thread, in
 * row order, in double, so the result does not depend on the thread count.
 */
static void col_sum_acc(float *dst, const float *src, int N, int C)
{
    int bw, nblk = col_partition(C, &bw);
#pragma omp parallel for if ((size_t)N * (size_t)C > OPS_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * bw, c1 = imin(c0 + bw, C);
        double acc[OPS_COL_MAX] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = src + (size_t)n * (size_t)C;
#pragma omp simd
            for (int c = c0; c < c1; c++)
                acc[c - c0] += (double)row[c];
        }
        for (int c = c0; c < c1; c++)
            dst[c] = (float)((double)dst[c] + acc[c - c0]);
    }
}

void op_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int IN, int OUT)
{
    if (N <= 0 || OUT <= 0)
        return;
    /* Seed y with the bias rows and let sgemm accumulate (beta = 1): one pass
     * over y instead of a second bias-add sweep after the product. */
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for if ((size_t)N * (size_t)OUT > OPS_PAR_MIN) schedule(static)
        for (int n = 0; n < N; n++)
            memcpy(y + (size_t)n * (size_t)OUT, b, (size_t)OUT * sizeof(*y));
        beta = 1.0f;
    } else if (IN <= 0) {
        memset(y, 0, (size_t)N * (size_t)OUT * sizeof(*y));
    }
    if (IN <= 0)
        return;
    matmul_sgemm(MATMUL_N, MATMUL_T, N, OUT, IN, 1.0f, x, IN, W, IN, beta, y, OUT);
}

void op_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                   int N, int IN, int OUT, bool acc_dx)
{
    if (N <= 0 || IN < 0 || OUT < 0)
        return;
    if (dx && IN > 0) {
        if (OUT == 0) {
            if (!acc_dx)
                memset(dx, 0, (size_t)N * (size_t)IN * sizeof(*dx));
        } else {
            /* dx (N, IN) = dy (N, OUT) . W (OUT, IN) */
            matmul_sgemm(MATMUL_N, MATMUL_N, N, IN, OUT, 1.0f, dy, OUT, W, IN, acc_dx ? 1.0f : 0.0f,
                         dx, IN);
        }
    }
    /* dW (OUT, IN) += dy^T (OUT, N) . x (N, IN) */
    if (dW && IN > 0 && OUT > 0)
        matmul_sgemm(MATMUL_T, MATMUL_N, OUT, IN, N, 1.0f, dy, OUT, x, IN, 1.0f, dW, IN);
    if (db && OUT > 0)
        col_sum_acc(db, dy, N, OUT);
}
