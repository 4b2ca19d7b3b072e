/*
 * ops: BLAS-backed, OpenMP-parallel kernels (contract in ops.h).
 *
 * Threading.  Every parallel loop here uses the OpenMP pool that
 * OpenBLAS-openmp also uses.  Inside a parallel region OpenBLAS runs each
 * sgemm on the calling thread, so attention parallelises over (batch, head)
 * pairs and issues small single-threaded sgemms; linear layers call one big
 * sgemm from serial code and let OpenBLAS spread it.  Loops with less than
 * OPS_PAR_MIN scalar operations stay serial (the team fork would dominate).
 *
 * Determinism.  No result depends on how iterations are scheduled: every
 * reduction (bias/LayerNorm parameter gradients, the batch sum of the prefix
 * gradients) is owned by one iteration and accumulated in a fixed order, and
 * dropout masks come from the counter hash rng_hash(seed, stream, index).
 * Hence the same inputs give bit-identical outputs for any thread count,
 * up to OpenBLAS' own multi-threaded sgemm (which splits M/N, not K).
 */
#include "model/engine/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "model/engine/rng.h"

/* Minimum scalar operations before a loop forks the OpenMP team. */
#define OPS_PAR_MIN 32768

/*
 * Elementwise kernels are compiled twice, for baseline x86-64 (SSE2) and for
 * x86-64-v3 (AVX2, FMA), and the loader picks one for the CPU (GCC function
 * multiversioning): a Debian build cannot assume AVX2, yet on CPUs that have
 * it the vectorised GELU, softmax and LayerNorm loops run twice as wide.
 * ISO C mode keeps -ffp-contract=off, so no clone fuses a multiply-add the
 * source does not write: the clones differ only in reduction order.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define OPS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define OPS_CLONES
#endif
/* Most columns per block in the column reductions (one double accumulator each). */
#define OPS_COL_MAX 512
/* Elements per chunk in the chunked elementwise loops (activations). */
#define OPS_CHUNK 16384

static int imin(int a, int b)
{
    return a < b ? a : b;
}

/*
 * Column partition for the column-parallel loops (bias and LayerNorm
 * parameter gradients, embedding scatter): returns the number of blocks,
 * *bw their width (the last may be narrower).  At least one block per
 * thread so every core works, at most OPS_COL_MAX columns (stack
 * accumulators), contiguous and wide so the walk down the rows streams.
 * The partition never changes results: each column is still summed by one
 * thread, in row order.
 */
static int col_partition(int C, int *bw)
{
    int nblk = (C + OPS_COL_MAX - 1) / OPS_COL_MAX, nt = omp_get_max_threads();
    if (nblk < nt)
        nblk = nt;
    int w = (C + nblk - 1) / nblk;
    w = (w + 15) / 16 * 16; /* whole cache lines per block */
    *bw = w;
    return (C + w - 1) / w;
}

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

/* ---- linear ------------------------------------------------------------ */

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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, x, IN, W, IN, beta, y,
                OUT);
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dy, OUT, W, IN,
                        acc_dx ? 1.0f : 0.0f, dx, IN);
        }
    }
    /* dW (OUT, IN) += dy^T (OUT, N) . x (N, IN) */
    if (dW && IN > 0 && OUT > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dy, OUT, x, IN, 1.0f,
                    dW, IN);
    if (db && OUT > 0)
        col_sum_acc(db, dy, N, OUT);
}

/* ---- embeddings -------------------------------------------------------- */

/*
 * Beyond ops.h: Wp or pos NULL drops the position term (for models without
 * learned positions); Wt non-NULL with types NULL uses type 0 for every row,
 * as Hugging Face does when token_type_ids is omitted.
 */
void op_embed_fwd(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                  const float *Wp, const float *Wt, int N, int D)
{
    bool use_p = Wp && pos, use_t = Wt != NULL;
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * (size_t)D;
        const float *w = Ww + (size_t)ids[n] * (size_t)D;
        memcpy(o, w, (size_t)D * sizeof(*o));
        if (use_p) {
            const float *p = Wp + (size_t)pos[n] * (size_t)D;
            for (int j = 0; j < D; j++)
                o[j] += p[j];
        }
        if (use_t) {
            const float *t = Wt + (size_t)(types ? types[n] : 0) * (size_t)D;
            for (int j = 0; j < D; j++)
                o[j] += t[j];
        }
    }
}

/*
 * Scatter-add.  Two rows may share an id, so rows cannot be split across
 * threads; columns can: each thread owns a block of columns of every table
 * and walks the rows in order (deterministic).
 */
void op_embed_bwd(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                  const int *pos, const int *types, int N, int D)
{
    bool use_p = dWp && pos;
    if (!dWw && !use_p && !dWt)
        return;
    int bw, nblk = col_partition(D, &bw);
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * bw, c1 = imin(c0 + bw, D);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * (size_t)D;
            if (dWw) {
                float *w = dWw + (size_t)ids[n] * (size_t)D;
                for (int c = c0; c < c1; c++)
                    w[c] += g[c];
            }
            if (use_p) {
                float *p = dWp + (size_t)pos[n] * (size_t)D;
                for (int c = c0; c < c1; c++)
                    p[c] += g[c];
            }
            if (dWt) {
                float *t = dWt + (size_t)(types ? types[n] : 0) * (size_t)D;
                for (int c = c0; c < c1; c++)
                    t[c] += g[c];
            }
        }
    }
}

/* ---- layer norm -------------------------------------------------------- */

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
    /* Column reduction, one column block per iteration (see col_sum_acc). */
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

/* ---- activations ------------------------------------------------------- */

static const char *const act_names[ACT_COUNT] = {
    [ACT_GELU] = "gelu",   [ACT_GELU_NEW] = "gelu_new", [ACT_RELU] = "relu",
    [ACT_SWISH] = "swish", [ACT_TANH] = "tanh",         [ACT_IDENTITY] = "identity",
};

int act_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int a = 0; a < ACT_COUNT; a++)
        if (strcmp(name, act_names[a]) == 0)
            return a;
    if (strcmp(name, "silu") == 0)
        return ACT_SWISH;
    return -1;
}

const char *act_name(enum act_kind a)
{
    return (unsigned)a < ACT_COUNT ? act_names[a] : "unknown";
}

#define OPS_INV_SQRT2   0.70710678118654752f /* 1/sqrt(2) */
#define OPS_INV_SQRT2PI 0.39894228040143268f /* 1/sqrt(2 pi) */
#define OPS_SQRT_2_PI   0.79788456080286536f /* sqrt(2/pi), gelu_new */
#define OPS_GELU_C      0.044715f

/* Order-preserving integer image of a float (involution): negative floats
 * get their magnitude bits flipped so signed integer order = float order. */
static inline int32_t ops_fkey(int32_t bits)
{
    return bits < 0 ? bits ^ 0x7fffffff : bits;
}

/*
 * x clamped to [lo, hi] (NaN maps to one of the bounds), branch-free.
 * Clamps go through the integer image because GCC, under the default
 * -ftrapping-math, will not if-convert a float select that is followed by
 * arithmetic, and the loop would stay scalar.
 */
static inline float ops_clampf(float x, float lo, float hi)
{
    union {
        float f;
        int32_t i;
    } u = {x}, l = {lo}, h = {hi};
    int32_t k = ops_fkey(u.i), kl = ops_fkey(l.i), kh = ops_fkey(h.i);
    k = k < kl ? kl : k;
    k = k > kh ? kh : k;
    u.i = ops_fkey(k);
    return u.f;
}

/*
 * Branch-free float exp: e^x within ~2 ulp for x in [-87, 88]; 0 below,
 * +Inf above, NaN for NaN (a diverged run must stay visibly diverged).
 * Why not expf/erfcf: glibc's scalar calls made GELU forward+backward cost
 * more than the FFN GEMMs.  Written without branches or calls so loops
 * marked `omp simd` vectorise.  Method: x = n ln2 + r, |r| <= ln2/2 (Cody-
 * Waite split of ln2), e^r by its degree-7 Taylor polynomial (truncation
 * < 1e-8 relative), 2^n assembled in the exponent bits.
 */
static inline float ops_exp(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float x_in = x;
    x = ops_clampf(x, -87.0f, 88.0f);
    union {
        float f;
        int32_t i;
    } ut, us, um = {magic};
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    ut.f = t;
    float r = x - n * 0.693145751953125f; /* ln2 high part: exact product */
    r = r - n * 1.42860682030941723e-6f;  /* ln2 low part */
    float p = 1.0f / 5040.0f + r * (1.0f / 40320.0f);
    p = 1.0f / 720.0f + r * p;
    p = 1.0f / 120.0f + r * p;
    p = 1.0f / 24.0f + r * p;
    p = 1.0f / 6.0f + r * p;
    p = 0.5f + r * p;
    p = 1.0f + r * p;
    p = 1.0f + r * p;
    us.i = (int32_t)((uint32_t)(ut.i - um.i + 127) << 23); /* 2^n, n in [-126, 127] */
    /* Outside the clamp range return exact 0 / +Inf (no denormal outputs to
     * slow down later GEMMs), and let NaN through.  Selects of constants
     * only, so the loop stays branch-free. */
    float under = x_in < -87.0f ? 0.0f : 1.0f;
    float over = x_in > 88.0f ? INFINITY : 1.0f;
    float nan_term = x_in != x_in ? NAN : 0.0f;
    return p * us.f * under * over + nan_term;
}

/* Logistic function, 1 / (1 + e^-x): no cancellation on either side. */
static inline float ops_sigmoid(float x)
{
    return 1.0f / (1.0f + ops_exp(-x));
}

/*
 * Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 via the Chebyshev fit
 * of erfc in Numerical Recipes (erfcc: erfc(z) = t e^(-z^2 + poly(t)),
 * t = 1 / (1 + z/2), relative error < 1.2e-7 for z >= 0), evaluated at |z|
 * and reflected.  Keeps relative accuracy in the far left tail, where
 * 1 + erf(x / sqrt 2) would cancel.  One exp per call.
 */
static inline float ops_phi(float x)
{
    float z = fabsf(x) * OPS_INV_SQRT2;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = -0.82215223f + t * 0.17087277f;
    p = 1.48851587f + t * p;
    p = -1.13520398f + t * p;
    p = 0.27886807f + t * p;
    p = -0.18628806f + t * p;
    p = 0.09678418f + t * p;
    p = 0.37409196f + t * p;
    p = 1.00002368f + t * p;
    p = -1.26551223f + t * p;
    float half_erfc = 0.5f * t * ops_exp(p - z * z);
    /* Phi = half_erfc for x < 0, else 1 - half_erfc.  Selecting constants
     * rather than results keeps the loop free of branches: with the default
     * -ftrapping-math GCC will not if-convert a select between two computed
     * values, and the loop would not vectorise. */
    float base = x < 0.0f ? 0.0f : 1.0f, sign = x < 0.0f ? 1.0f : -1.0f;
    return base + sign * half_erfc;
}

/* y = f(x) on one chunk.  The switch sits outside the loops so each loop is
 * a plain elementwise kernel (omp simd: vectorised, no threads involved). */
OPS_CLONES static void act_fwd_span(enum act_kind a, float *y, const float *x, size_t n)
{
    switch (a) {
    case ACT_GELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * ops_phi(x[i]);
        break;
    case ACT_GELU_NEW:
        /* (1 + tanh u)/2 = sigmoid(2u): same function, no cancellation when
         * tanh u is close to -1. */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v * ops_sigmoid(2.0f * OPS_SQRT_2_PI * (v + OPS_GELU_C * v * v * v));
        }
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN passes through */
        break;
    case ACT_SWISH:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * ops_sigmoid(x[i]);
        break;
    case ACT_TANH:
        /* libm tanhf: 2 sigmoid(2x) - 1 would lose relative accuracy near 0. */
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    case ACT_IDENTITY:
    default:
        if (y != x)
            memmove(y, x, n * sizeof(*y));
        break;
    }
}

/* dx = dy * f'(x) on one chunk (dx may alias dy: each element is read before written). */
OPS_CLONES static void act_bwd_span(enum act_kind a, float *dx, const float *dy, const float *x, size_t n)
{
    switch (a) {
    case ACT_GELU:
        /* d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float pdf = OPS_INV_SQRT2PI * ops_exp(-0.5f * v * v);
            dx[i] = dy[i] * (ops_phi(v) + v * pdf);
        }
        break;
    case ACT_GELU_NEW:
        /* y = x s, s = sigmoid(2u), u = sqrt(2/pi)(x + c x^3):
         * y' = s + x s (1 - s) 2 u'. */
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float s = ops_sigmoid(2.0f * OPS_SQRT_2_PI * (v + OPS_GELU_C * v * v * v));
            /* Bound v inside u' only: beyond |v| = 1e4, s (1 - s) is exactly
             * 0, and an overflowing u' would turn 0 * Inf into NaN. */
            float vc = ops_clampf(v, -1e4f, 1e4f);
            float du = OPS_SQRT_2_PI * (1.0f + 3.0f * OPS_GELU_C * vc * vc);
            dx[i] = dy[i] * (s + 2.0f * vc * s * (1.0f - s) * du);
        }
        break;
    case ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case ACT_SWISH:
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float s = ops_sigmoid(x[i]);
            dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
    case ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            float t = tanhf(x[i]);
            dx[i] = dy[i] * (1.0f - t * t);
        }
        break;
    case ACT_IDENTITY:
    default:
        if (dx != dy)
            memmove(dx, dy, n * sizeof(*dx));
        break;
    }
}

void op_act_fwd(enum act_kind a, float *y, const float *x, size_t n)
{
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        act_fwd_span(a, y + i0, x + i0, len);
    }
}

void op_act_bwd(enum act_kind a, float *dx, const float *dy, const float *x, size_t n)
{
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        act_bwd_span(a, dx + i0, dy + i0, x + i0, len);
    }
}

/* ---- dropout ----------------------------------------------------------- */

/* Keep threshold for 0 < p < 1: keep iff hash >= p * 2^64.  p * 2^64 is
 * below 2^64 - 2^40 for any float p < 1, so the conversion cannot overflow. */
static uint64_t drop_threshold(float p)
{
    return (uint64_t)((double)p * 18446744073709551616.0);
}

/*
 * y[i] = keep(base + i) ? x[i] * scale : 0 for i in [0, n).  y may alias x.
 * The mask depends only on (seed, stream, base + i), never on scheduling.
 */
OPS_CLONES static void dropout_span(float *y, const float *x, size_t n, uint64_t thr, float scale,
                         uint64_t seed, uint64_t stream, uint64_t base)
{
    for (size_t i = 0; i < n; i++)
        y[i] = rng_hash(seed, stream, base + i) >= thr ? x[i] * scale : 0.0f;
}

/*
 * p <= 0 (or NaN) copies.  p >= 1 is the caller's error (the scale 1/(1-p)
 * does not exist); it is handled as "drop everything" (y = 0) rather than
 * producing Inf/NaN or undefined conversions.
 */
void op_dropout_fwd(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream)
{
    if (!(p > 0.0f)) {
        if (y != x)
            memmove(y, x, n * sizeof(*y));
        return;
    }
    if (p >= 1.0f) {
        memset(y, 0, n * sizeof(*y));
        return;
    }
    uint64_t thr = drop_threshold(p);
    float scale = (float)(1.0 / (1.0 - (double)p));
    size_t nchunk = (n + OPS_CHUNK - 1) / OPS_CHUNK;
#pragma omp parallel for if (n > OPS_PAR_MIN) schedule(static)
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * OPS_CHUNK, len = n - i0 < OPS_CHUNK ? n - i0 : OPS_CHUNK;
        dropout_span(y + i0, x + i0, len, thr, scale, seed, stream, i0);
    }
}

/* Row r of the (rows, width) block is row r * stride of a full tensor: element (r, j) draws
 * counter (r * stride) * width + j.  stride 0 or 1 is op_dropout_fwd. */
void op_dropout_rows_fwd(float *y, const float *x, size_t rows, size_t width, size_t stride,
                         float p, uint64_t seed, uint64_t stream)
{
    if (stride <= 1 || !(p > 0.0f) || p >= 1.0f) {
        op_dropout_fwd(y, x, rows * width, p, seed, stream);
        return;
    }
    uint64_t thr = drop_threshold(p);
    float scale = (float)(1.0 / (1.0 - (double)p));
    for (size_t r = 0; r < rows; r++)
        dropout_span(y + r * width, x + r * width, width, thr, scale, seed, stream,
                     r * stride * width);
}

/* The backward is the same masked scaling applied to dy. */
void op_dropout_bwd(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t stream)
{
    op_dropout_fwd(dx, dy, n, p, seed, stream);
}

/* ---- attention --------------------------------------------------------- */

/* Everything one (b, h) task needs; built once per call. */
struct attn_geom {
    const float *q, *k, *v;   /* (B, T, D) */
    const float *pk, *pv;     /* (P, D) or NULL */
    const int *mask;          /* (B, T) or NULL = no padding */
    int B, T, D, H, P, Dh, J; /* J = P + T keys per query */
    int Tq;                   /* queries per sequence: the first Tq positions (q is (B, Tq, D)) */
    float scale;              /* 1 / sqrt(Dh) */
    bool drop;                /* attention-probability dropout active */
    uint64_t thr;             /* dropout keep threshold */
    float dscale;             /* 1 / (1 - drop_p) */
    uint64_t seed, stream;
};

static void attn_geom_init(struct attn_geom *g, const float *q, const float *k, const float *v,
                           const float *pk, const float *pv, const int *mask, int B, int T, int Tq,
                           int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream)
{
    g->Tq = Tq;
    g->q = q;
    g->k = k;
    g->v = v;
    g->pk = pk;
    g->pv = pv;
    g->mask = mask;
    g->B = B;
    g->T = T;
    g->D = D;
    g->H = H;
    g->P = P > 0 ? P : 0;
    g->Dh = D / H;
    g->J = g->P + T;
    g->scale = (float)(1.0 / sqrt((double)g->Dh));
    /* p >= 1 is the caller's error; as in op_dropout_fwd it drops everything
     * (threshold = max, scale 0) instead of dividing by zero. */
    g->drop = drop_p > 0.0f;
    g->thr = drop_p >= 1.0f ? UINT64_MAX : g->drop ? drop_threshold(drop_p) : 0;
    g->dscale = drop_p >= 1.0f ? 0.0f : g->drop ? (float)(1.0 / (1.0 - (double)drop_p)) : 1.0f;
    g->seed = seed;
    g->stream = stream;
}

/*
 * Masked softmax of one score row, in place.  s, keep: (J).  keep[j] is 1
 * for an attendable key and 0 for a padded one (see attn_keep_row); padded
 * keys get exactly 0 (finite * 0).  A row with no attendable key (P == 0
 * and an all-padding sequence) becomes all zeros rather than NaN: its
 * context vector is then 0.
 */
OPS_CLONES static void softmax_row_masked(float *s, const float *keep, int J)
{
    float mx = -INFINITY;
    int nkeep = 0;
    for (int j = 0; j < J; j++)
        if (keep[j] != 0.0f) {
            nkeep++;
            mx = s[j] > mx ? s[j] : mx;
        }
    /* Count keys rather than test mx == -Inf: NaN scores must come out as
     * NaN probabilities (a diverged run stays visible), not as zeros. */
    if (nkeep == 0) {
        memset(s, 0, (size_t)J * sizeof(*s));
        return;
    }
    float sum = 0.0f;
    /* Subtracting the row max keeps every attendable exponent <= 0: no overflow. */
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < J; j++) {
        float e = ops_exp(s[j] - mx) * keep[j];
        s[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < J; j++)
        s[j] *= inv;
}

/* keep: (J) 1 for prefix keys and real tokens, 0 for padding; km: (T) mask row or NULL. */
static void attn_keep_row(float *keep, const int *km, int P, int T)
{
    for (int j = 0; j < P; j++)
        keep[j] = 1.0f;
    for (int t = 0; t < T; t++)
        keep[P + t] = (!km || km[t]) ? 1.0f : 0.0f;
}

/* Offset of element (b, i = 0, column h*Dh) in a (B, rows, D) tensor: rows = T for keys and
 * values, Tq for queries and the context. */
static size_t attn_off(const struct attn_geom *g, int rows, int b, int h)
{
    return (size_t)b * (size_t)rows * (size_t)g->D + (size_t)h * (size_t)g->Dh;
}

/* Offset of the (Tq, J) probability block of (b, h) in (B, H, Tq, J). */
static size_t attn_poff(const struct attn_geom *g, int b, int h)
{
    return ((size_t)b * (size_t)g->H + (size_t)h) * (size_t)g->Tq * (size_t)g->J;
}

/* Dropout counter of probability (b, h, i = 0, j = 0): numbered as in the full (B, H, T, J)
 * tensor, so a query subset draws exactly the masks its rows get when every query runs. */
static uint64_t attn_hoff(const struct attn_geom *g, int b, int h)
{
    return ((uint64_t)b * (uint64_t)g->H + (uint64_t)h) * (uint64_t)g->T * (uint64_t)g->J;
}

/*
 * Forward of one (b, h).  Head columns are read in place through lda = D.
 *   S = scale * q_bh [pk_h; k_bh]^T      written straight into probs (Tq, J)
 *   probs = masked_softmax(S)
 *   out_bh = dropout(probs) [pv_h; v_bh] (Tq, Dh), columns h*Dh.. of out
 * pd: (Tq, J) thread scratch for the dropped probabilities; keep: (J) scratch.
 */
static void attn_fwd_head(const struct attn_geom *g, float *out, float *probs, int b, int h,
                          float *pd, float *keep)
{
    int T = g->T, Tq = g->Tq, D = g->D, P = g->P, Dh = g->Dh, J = g->J;
    size_t qoff = attn_off(g, Tq, b, h), koff = attn_off(g, T, b, h), poff = attn_poff(g, b, h);
    const float *qh = g->q + qoff, *kh = g->k + koff, *vh = g->v + koff;
    float *pr = probs + poff, *oh = out + qoff;

    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, P, Dh, g->scale, qh, D,
                    g->pk + (size_t)h * (size_t)Dh, D, 0.0f, pr, J);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, T, Dh, g->scale, qh, D, kh, D, 0.0f,
                pr + P, J);
    attn_keep_row(keep, g->mask ? g->mask + (size_t)b * (size_t)T : NULL, P, T);
    for (int i = 0; i < Tq; i++)
        softmax_row_masked(pr + (size_t)i * (size_t)J, keep, J);

    const float *pu = pr;
    if (g->drop) {
        dropout_span(pd, pr, (size_t)Tq * (size_t)J, g->thr, g->dscale, g->seed, g->stream,
                     attn_hoff(g, b, h));
        pu = pd;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dh, T, 1.0f, pu + P, J, vh, D, 0.0f,
                oh, D);
    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dh, P, 1.0f, pu, J,
                    g->pv + (size_t)h * (size_t)Dh, D, 1.0f, oh, D);
}

/*
 * Per-thread scratch: two (T, J) blocks (dropped probabilities; dP then dS)
 * and one (J) key-mask row.
 * Sized for omp_get_max_threads() at the time of the call: query it after
 * fixing the thread count, and do not raise the count afterwards.
 */
size_t op_attention_ws_floats(int B, int T, int D, int H, int P)
{
    (void)B;
    (void)D;
    (void)H;
    if (T <= 0)
        return 0;
    size_t J = (size_t)T + (size_t)(P > 0 ? P : 0);
    size_t per = 2 * (size_t)T * J + J;
    return per * (size_t)omp_get_max_threads();
}

/* Per-thread scratch actually used: two (Tq, J) blocks and a (J) row (within the size
 * op_attention_ws_floats promises, which assumes Tq = T). */
static size_t attn_ws_per_thread(const struct attn_geom *g)
{
    return 2 * (size_t)g->Tq * (size_t)g->J + (size_t)g->J;
}

void op_attention_fwd(float *out, float *probs, const float *q, const float *k, const float *v,
                      const float *pk, const float *pv, const int *mask, int B, int T, int D, int H,
                      int P, float drop_p, uint64_t seed, uint64_t stream, float *ws)
{
    op_attention_fwd_q(out, probs, q, k, v, pk, pv, mask, B, T, T, D, H, P, drop_p, seed, stream,
                       ws);
}

void op_attention_fwd_q(float *out, float *probs, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, const int *mask, int B, int T, int Tq,
                        int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                        float *ws)
{
    if (B <= 0 || T <= 0 || Tq <= 0 || Tq > T || D <= 0 || H <= 0)
        return;
    struct attn_geom g;
    attn_geom_init(&g, q, k, v, pk, pv, mask, B, T, Tq, D, H, P, drop_p, seed, stream);
    size_t per = attn_ws_per_thread(&g);
    size_t work = (size_t)B * (size_t)H * (size_t)Tq * (size_t)g.J * (size_t)g.Dh;
    int BH = B * H;
#pragma omp parallel for if (work > OPS_PAR_MIN) schedule(static)
    for (int bh = 0; bh < BH; bh++) {
        float *w = ws + (size_t)omp_get_thread_num() * per;
        attn_fwd_head(&g, out, probs, bh / H, bh % H, w, w + 2 * (size_t)Tq * (size_t)g.J);
    }
}

/*
 * Backward of one (b, h).  With P the saved probs, Pd = dropout(P):
 *   dPd = dout_bh [pv_h; v_bh]^T                 (Tq, J)
 *   dP  = dropout_bwd(dPd)        (same mask and scale)
 *   dS  = P o (dP - rowsum(dP o P))              softmax backward
 *   dq_bh = scale dS [pk_h; k_bh]                (Tq, Dh) overwritten
 *   dk_bh = scale dS[:, P:]^T q_bh,  dv_bh = Pd[:, P:]^T dout_bh   (T, Dh) overwritten
 *   dpk_h += scale dS[:, :P]^T q_bh, dpv_h += Pd[:, :P]^T dout_bh   (if non-NULL)
 * Masked keys have P = 0, hence dS = 0 and Pd = 0: they get no gradient.
 * pd, dp: (Tq, J) thread scratch.
 */
static void attn_bwd_head(const struct attn_geom *g, float *dq, float *dk, float *dv, float *dpk,
                          float *dpv, const float *dout, const float *probs, int b, int h,
                          float *pd, float *dp)
{
    int T = g->T, Tq = g->Tq, D = g->D, P = g->P, Dh = g->Dh, J = g->J;
    size_t qoff = attn_off(g, Tq, b, h), koff = attn_off(g, T, b, h), poff = attn_poff(g, b, h);
    size_t hoff = (size_t)h * (size_t)Dh;
    const float *qh = g->q + qoff, *kh = g->k + koff, *vh = g->v + koff, *doh = dout + qoff;
    const float *pr = probs + poff;
    size_t TJ = (size_t)Tq * (size_t)J;

    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, P, Dh, 1.0f, doh, D, g->pv + hoff,
                    D, 0.0f, dp, J);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, T, Dh, 1.0f, doh, D, vh, D, 0.0f,
                dp + P, J);

    const float *pu = pr;
    if (g->drop) {
        /* One hash per element serves both Pd and dP (the hash dominates). */
        uint64_t h0 = attn_hoff(g, b, h);
        for (size_t e = 0; e < TJ; e++) {
            bool keep = rng_hash(g->seed, g->stream, h0 + e) >= g->thr;
            pd[e] = keep ? pr[e] * g->dscale : 0.0f;
            dp[e] = keep ? dp[e] * g->dscale : 0.0f;
        }
        pu = pd;
    }
    for (int i = 0; i < Tq; i++) {
        float *dr = dp + (size_t)i * (size_t)J;
        const float *prow = pr + (size_t)i * (size_t)J;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < J; j++)
            dot += dr[j] * prow[j];
#pragma omp simd
        for (int j = 0; j < J; j++)
            dr[j] = prow[j] * (dr[j] - dot);
    }

    float *dqh = dq + qoff;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dh, T, g->scale, dp + P, J, kh, D,
                0.0f, dqh, D);
    if (P > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dh, P, g->scale, dp, J,
                    g->pk + hoff, D, 1.0f, dqh, D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, Tq, g->scale, dp + P, J, qh, D,
                0.0f, dk + koff, D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, Tq, 1.0f, pu + P, J, doh, D, 0.0f,
                dv + koff, D);
    if (P > 0 && dpk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, Dh, Tq, g->scale, dp, J, qh, D,
                    1.0f, dpk + hoff, D);
    if (P > 0 && dpv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, Dh, Tq, 1.0f, pu, J, doh, D, 1.0f,
                    dpv + hoff, D);
}

void op_attention_bwd(float *dq, float *dk, float *dv, float *dpk, float *dpv, const float *dout,
                      const float *probs, const float *q, const float *k, const float *v,
                      const float *pk, const float *pv, const int *mask, int B, int T, int D, int H,
                      int P, float drop_p, uint64_t seed, uint64_t stream, float *ws)
{
    op_attention_bwd_q(dq, dk, dv, dpk, dpv, dout, probs, q, k, v, pk, pv, mask, B, T, T, D, H, P,
                       drop_p, seed, stream, ws);
}

void op_attention_bwd_q(float *dq, float *dk, float *dv, float *dpk, float *dpv, const float *dout,
                        const float *probs, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, const int *mask, int B, int T, int Tq,
                        int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                        float *ws)
{
    if (B <= 0 || T <= 0 || Tq <= 0 || Tq > T || D <= 0 || H <= 0)
        return;
    struct attn_geom g;
    attn_geom_init(&g, q, k, v, pk, pv, mask, B, T, Tq, D, H, P, drop_p, seed, stream);
    size_t per = attn_ws_per_thread(&g), TJ = (size_t)Tq * (size_t)g.J;
    size_t work = (size_t)B * (size_t)H * TJ * (size_t)g.Dh;
    bool par = work > OPS_PAR_MIN;

    if (g.P > 0 && (dpk || dpv)) {
        /* dpk/dpv are shared by the batch.  Heads own disjoint columns of
         * them, so run heads in parallel and the batch serially inside: each
         * prefix gradient is summed in batch order, independent of threads. */
#pragma omp parallel for if (par) schedule(static)
        for (int h = 0; h < H; h++) {
            float *w = ws + (size_t)omp_get_thread_num() * per;
            for (int b = 0; b < B; b++)
                attn_bwd_head(&g, dq, dk, dv, dpk, dpv, dout, probs, b, h, w, w + TJ);
        }
    } else {
        int BH = B * H;
#pragma omp parallel for if (par) schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            float *w = ws + (size_t)omp_get_thread_num() * per;
            attn_bwd_head(&g, dq, dk, dv, NULL, NULL, dout, probs, bh / H, bh % H, w, w + TJ);
        }
    }
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

/* ---- losses ------------------------------------------------------------ */

double op_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0.0;
    double total = 0.0;
    /* Rows are few (a batch of classification logits): stay serial, which
     * also keeps the loss sum in a fixed order. */
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * (size_t)C;
        /* log-sum-exp around the row max: exp never overflows, even for
         * logits around 1e4. */
        double mx = (double)z[0];
        for (int c = 1; c < C; c++)
            if ((double)z[c] > mx)
                mx = (double)z[c];
        double se = 0.0;
        for (int c = 0; c < C; c++)
            se += exp((double)z[c] - mx);
        double lse = mx + log(se);
        total += lse - (double)z[labels[n]];
        if (dlogits) {
            float *d = dlogits + (size_t)n * (size_t)C;
            for (int c = 0; c < C; c++) {
                double pc = exp((double)z[c] - lse);
                d[c] = (float)((pc - (c == labels[n] ? 1.0 : 0.0)) / N);
            }
        }
    }
    return total / N;
}

double op_mse(float *dpred, const float *pred, const float *target, int N)
{
    if (N <= 0)
        return 0.0;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        double d = (double)pred[n] - (double)target[n];
        total += d * d;
        if (dpred)
            dpred[n] = (float)(2.0 * d / N);
    }
    return total / N;
}
