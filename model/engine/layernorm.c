/*
 * layernorm: LayerNorm forward and backward (contract in layernorm.h).  Row statistics
 * are summed in double; the parameter gradients are column reductions, one thread per
 * column block (parallel.h), so they do not depend on the thread count.
 */
#include "model/engine/layernorm.h"

#include <math.h>
#include <stddef.h>

#include "model/engine/parallel.h"

void op_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *g,
                      const float *b, int N, int D, float eps)
{
    if (D <= 0)
        return;
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * (size_t)D;
        float *yr = y + (size_t)n * (size_t)D;
        /* Two passes in double: the one-pass E[x^2] - E[x]^2 cancels badly
         * when |mean| >> std, which happens in residual streams. */
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < D; j++)
            s += (double)xr[j];
        double m = s / D, v = 0.0;
#pragma omp simd reduction(+ : v)
        for (int j = 0; j < D; j++) {
            double d = (double)xr[j] - m;
            v += d * d;
        }
        v /= D; /* biased variance, as torch.nn.LayerNorm */
        float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
        mean[n] = mf;
        rstd[n] = rs;
        /* Use the saved float mean/rstd so backward sees exactly this map. */
#pragma omp simd
        for (int j = 0; j < D; j++)
            yr[j] = (xr[j] - mf) * rs * g[j] + b[j];
    }
}

/*
 * With xhat = (x - mean) * rstd and dxhat = dy * g, per row:
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 *   dg += sum_rows dy * xhat,   db += sum_rows dy.
 */
void op_layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x,
                      const float *mean, const float *rstd, const float *g, int N, int D,
                      bool acc_dx)
{
    if (N <= 0 || D <= 0)
        return;
    bool par = (size_t)N * (size_t)D > OPS_PAR_MIN;
    if (dx) {
#pragma omp parallel for if (par) schedule(static)
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * (size_t)D, *gr = dy + (size_t)n * (size_t)D;
            float *dr = dx + (size_t)n * (size_t)D;
            float m = mean[n], rs = rstd[n];
            double s1 = 0.0, s2 = 0.0;
#pragma omp simd reduction(+ : s1, s2)
            for (int j = 0; j < D; j++) {
                float dxh = gr[j] * g[j];
                s1 += (double)dxh;
                s2 += (double)(dxh * ((xr[j] - m) * rs));
            }
            float m1 = (float)(s1 / D), m2 = (float)(s2 / D);
            /* Two loops rather than a select, so each vectorises. */
            if (acc_dx) {
#pragma omp simd
                for (int j = 0; j < D; j++)
                    dr[j] += rs * (gr[j] * g[j] - m1 - (xr[j] - m) * rs * m2);
            } else {
#pragma omp simd
                for (int j = 0; j < D; j++)
                    dr[j] = rs * (gr[j] * g[j] - m1 - (xr[j] - m) * rs * m2);
            }
        }
    }
    if (!dg && !db)
        return;
    /* Column reduction, one column block per iteration (see col_sum_acc in linear.c). */
    int bw, nblk = col_partition(D, &bw);
#pragma omp parallel for if (par) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * bw, c1 = imin(c0 + bw, D);
        double ag[OPS_COL_MAX] = {0}, ab[OPS_COL_MAX] = {0};
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * (size_t)D, *gr = dy + (size_t)n * (size_t)D;
            float m = mean[n], rs = rstd[n];
#pragma omp simd
            for (int c = c0; c < c1; c++) {
                ag[c - c0] += (double)(gr[c] * ((xr[c] - m) * rs));
                ab[c - c0] += (double)gr[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            if (dg)
                dg[c] = (float)((double)dg[c] + ag[c - c0]);
            if (db)
                db[c] = (float)((double)db[c] + ab[c - c0]);
        }
    }
}
