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

/* Whether to take the fp32 path (the original functions, untouched). */
static bool be_fp32(const struct matmul_be *be)
{
    return !be || be->prec == MATMUL_FP32;
}

int op_linear_fwd_be(const struct matmul_be *be, float *y, const float *x, struct mm_mat W,
                     const float *b, int N, int IN, int OUT, struct err *e)
{
    if (be_fp32(be)) {
        if (!W.f32)
            return ERR_SET(e, ERR_STATE, "fp32 Linear given a bf16 weight");
        op_linear_fwd(y, x, W.f32, b, N, IN, OUT);
        return ERR_OK;
    }
    if (N <= 0 || OUT <= 0)
        return ERR_OK;
    if (IN <= 0) { /* empty product: y = b, or 0 */
        op_linear_fwd(y, x, NULL, b, N, IN, OUT);
        return ERR_OK;
    }
    float beta = 0.0f;
    if (b) { /* seed with the bias, accumulate the product (as op_linear_fwd) */
#pragma omp parallel for if ((size_t)N * (size_t)OUT > OPS_PAR_MIN) schedule(static)
        for (int n = 0; n < N; n++)
            memcpy(y + (size_t)n * (size_t)OUT, b, (size_t)OUT * sizeof(*y));
        beta = 1.0f;
    }
    return matmul_xwt(be, y, (struct mm_mat){.f32 = x}, W, N, IN, OUT, beta, e);
}

int op_linear_bwd_be(const struct matmul_be *be, float *dx, float *dW, float *db, const float *dy,
                     const float *x, struct mm_mat W, int N, int IN, int OUT, bool acc_dx,
                     struct err *e)
{
    if (be_fp32(be) || IN <= 0 || OUT <= 0) {
        if (!W.f32 && dx && IN > 0 && OUT > 0)
            return ERR_SET(e, ERR_STATE, "fp32 Linear given a bf16 weight");
        op_linear_bwd(dx, dW, db, dy, x, W.f32, N, IN, OUT, acc_dx);
        return ERR_OK;
    }
    if (N <= 0)
        return ERR_OK;
    /* dy is an operand of both products: cast it once (scratch slot 0); W or x use slot 1 */
    struct mm_mat dyh = {.bf16 = NULL};
    if ((dx || dW) && !(dyh.bf16 = matmul_be_cast(be, 0, dy, (size_t)N * (size_t)OUT, e)))
        return e->code;
    if (dx && matmul_dyw(be, dx, dyh, W, N, IN, OUT, acc_dx ? 1.0f : 0.0f, e))
        return e->code;
    if (dW && matmul_dytx(be, dW, dyh, (struct mm_mat){.f32 = x}, N, IN, OUT, e))
        return e->code;
    if (db)
        col_sum_acc(db, dy, N, OUT);
    return ERR_OK;
}
