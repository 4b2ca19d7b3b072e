/* elementwise: column scaling, add, acc, axpy (contract in elementwise.h). */
#include "model/engine/elementwise.h"

#include "model/engine/parallel.h"

/* ---- per-column scaling (IA3) ----------------------------------------- */

OPS_CLONES static void colscale_rows(float *y, const float *z, const float *l, size_t n0,
                                     size_t n1, size_t C)
{
    for (size_t n = n0; n < n1; n++) {
        const float *zr = z + n * C;
        float *yr = y + n * C;
#pragma omp simd
        for (size_t j = 0; j < C; j++)
            yr[j] = zr[j] * l[j];
    }
}

void op_colscale_fwd(float *y, const float *z, const float *l, int N, int C)
{
    if (N <= 0 || C <= 0)
        return;
    const size_t rows = (size_t)OPS_CHUNK / (size_t)C + 1, nchunk = ((size_t)N + rows - 1) / rows;
#pragma omp parallel for if ((size_t)N * (size_t)C > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t n0 = c * rows, n1 = n0 + rows < (size_t)N ? n0 + rows : (size_t)N;
        colscale_rows(y, z, l, n0, n1, (size_t)C);
    }
}

/* One column block [c0, c1) of op_colscale_bwd: one pass down the rows. */
OPS_CLONES static void colscale_bwd_block(float *dz, float *dl, const float *dy, const float *z,
                                          const float *l, int N, int C, int c0, int c1)
{
    double acc[OPS_COL_MAX] = {0};
    for (int n = 0; n < N; n++) {
        const float *dr = dy + (size_t)n * (size_t)C, *zr = z + (size_t)n * (size_t)C;
        if (dl) {
#pragma omp simd
            for (int c = c0; c < c1; c++)
                acc[c - c0] += (double)dr[c] * (double)zr[c];
        }
        if (dz) {
            float *o = dz + (size_t)n * (size_t)C;
#pragma omp simd
            for (int c = c0; c < c1; c++)
                o[c] = dr[c] * l[c];
        }
    }
    for (int c = c0; dl && c < c1; c++)
        dl[c] = (float)((double)dl[c] + acc[c - c0]);
}

void op_colscale_bwd(float *dz, float *dl, const float *dy, const float *z, const float *l, int N,
                     int C)
{
    if (N <= 0 || C <= 0 || (!dz && !dl))
        return;
    int bw, nblk = col_partition(C, &bw);
#pragma omp parallel for if ((size_t)N * (size_t)C > OPS_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++)
        colscale_bwd_block(dz, dl, dy, z, l, N, C, blk * bw, imin(blk * bw + bw, C));
}

/* ---- small elementwise helpers ----------------------------------------- */

void op_add(float *y, const float *a, const float *b, size_t n)
{
#pragma omp parallel for simd if (n > OPS_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void op_acc(float *y, const float *a, size_t n)
{
#pragma omp parallel for simd if (n > OPS_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += a[i];
}

void op_axpy(float *y, float s, const float *a, size_t n)
{
#pragma omp parallel for simd if (n > OPS_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += s * a[i];
}
