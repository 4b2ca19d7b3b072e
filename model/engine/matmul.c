/*
 * matmul: the OpenBLAS backend of matmul_sgemm (contract in matmul.h); the only cblas call.
 * And the Linear backend interface: fp32 dispatches to matmul_sgemm with the arguments the
 * Linear layer has always used, bf16 to matmul_dnnl after casting fp32 operands.
 */
#include "model/engine/matmul.h"

#include <cblas.h>
#include <string.h>

#include "model/engine/matmul_dnnl.h"

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

const char *matmul_prec_name(enum matmul_prec p)
{
    return p == MATMUL_BF16 ? "bf16" : "fp32";
}

int matmul_prec_parse(const char *s, enum matmul_prec *out)
{
    if (strcmp(s, "fp32") == 0)
        *out = MATMUL_FP32;
    else if (strcmp(s, "bf16") == 0)
        *out = MATMUL_BF16;
    else
        return -1;
    return 0;
}

static bool is_bf16(const struct matmul_be *be)
{
    return be && be->prec == MATMUL_BF16;
}

const uint16_t *matmul_be_cast(const struct matmul_be *be, int slot, const float *src, size_t n,
                               struct err *e)
{
    bf16_t *dst = matmul_dnnl_scratch(be->dnnl, slot, n, e);
    if (dst)
        bf16_narrow(dst, src, n);
    return dst;
}

/* The bf16 view of m (n values), casting into scratch slot when m is fp32. */
static const uint16_t *as_bf16(const struct matmul_be *be, struct mm_mat m, int slot, size_t n,
                               struct err *e)
{
    return m.bf16 ? m.bf16 : matmul_be_cast(be, slot, m.f32, n, e);
}

static int need_f32(struct mm_mat a, struct mm_mat b, struct err *e)
{
    if (a.f32 && b.f32)
        return ERR_OK;
    return ERR_SET(e, ERR_STATE, "fp32 matmul given a bf16 operand");
}

int matmul_xwt(const struct matmul_be *be, float *Y, struct mm_mat X, struct mm_mat W, int N,
               int IN, int OUT, float beta, struct err *e)
{
    if (!is_bf16(be)) {
        if (need_f32(X, W, e))
            return e->code;
        matmul_sgemm(MATMUL_N, MATMUL_T, N, OUT, IN, 1.0f, X.f32, IN, W.f32, IN, beta, Y, OUT);
        return ERR_OK;
    }
    const uint16_t *x = as_bf16(be, X, 0, (size_t)N * (size_t)IN, e);
    const uint16_t *w = x ? as_bf16(be, W, 1, (size_t)OUT * (size_t)IN, e) : NULL;
    if (!w)
        return e->code;
    return matmul_dnnl_bf16(be->dnnl, false, true, N, OUT, IN, 1.0f, x, IN, w, IN, beta, Y,
                            OUT, e);
}

int matmul_dyw(const struct matmul_be *be, float *dX, struct mm_mat dY, struct mm_mat W, int N,
               int IN, int OUT, float beta, struct err *e)
{
    if (!is_bf16(be)) {
        if (need_f32(dY, W, e))
            return e->code;
        matmul_sgemm(MATMUL_N, MATMUL_N, N, IN, OUT, 1.0f, dY.f32, OUT, W.f32, IN, beta, dX, IN);
        return ERR_OK;
    }
    const uint16_t *dy = as_bf16(be, dY, 0, (size_t)N * (size_t)OUT, e);
    const uint16_t *w = dy ? as_bf16(be, W, 1, (size_t)OUT * (size_t)IN, e) : NULL;
    if (!w)
        return e->code;
    return matmul_dnnl_bf16(be->dnnl, false, false, N, IN, OUT, 1.0f, dy, OUT, w, IN, beta,
                            dX, IN, e);
}

int matmul_dytx(const struct matmul_be *be, float *dW, struct mm_mat dY, struct mm_mat X, int N,
                int IN, int OUT, struct err *e)
{
    if (!is_bf16(be)) {
        if (need_f32(dY, X, e))
            return e->code;
        matmul_sgemm(MATMUL_T, MATMUL_N, OUT, IN, N, 1.0f, dY.f32, OUT, X.f32, IN, 1.0f, dW, IN);
        return ERR_OK;
    }
    const uint16_t *dy = as_bf16(be, dY, 0, (size_t)N * (size_t)OUT, e);
    const uint16_t *x = dy ? as_bf16(be, X, 1, (size_t)N * (size_t)IN, e) : NULL;
    if (!x)
        return e->code;
    return matmul_dnnl_bf16(be->dnnl, true, false, OUT, IN, N, 1.0f, dy, OUT, x, IN, 1.0f,
                            dW, IN, e);
}
