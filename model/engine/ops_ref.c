/*
 * ops_ref: naive reference kernels (contract in ops_ref.h and ops.h).
 *
 * Written straight from the formulas, one output element at a time, with
 * every sum in double.  Nothing here is meant to be fast; it is meant to be
 * obviously right, so the optimised kernels (ops.h) can be tested against it.
 */
#include "model/engine/ops_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine/rng.h"

/* ---- linear ------------------------------------------------------------ */

void op_linear_fwd_ref(float *y, const float *x, const float *W, const float *b, int N, int IN,
                       int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b ? (double)b[o] : 0.0;
            for (int i = 0; i < IN; i++)
                s += (double)x[(size_t)n * IN + i] * (double)W[(size_t)o * IN + i];
            y[(size_t)n * OUT + o] = (float)s;
        }
}

void op_linear_bwd_ref(float *dx, float *dW, float *db, const float *dy, const float *x,
                       const float *W, int N, int IN, int OUT, bool acc_dx)
{
    if (dx)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IN; i++) {
                double s = acc_dx ? (double)dx[(size_t)n * IN + i] : 0.0;
                for (int o = 0; o < OUT; o++)
                    s += (double)dy[(size_t)n * OUT + o] * (double)W[(size_t)o * IN + i];
                dx[(size_t)n * IN + i] = (float)s;
            }
    if (dW)
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                double s = (double)dW[(size_t)o * IN + i];
                for (int n = 0; n < N; n++)
                    s += (double)dy[(size_t)n * OUT + o] * (double)x[(size_t)n * IN + i];
                dW[(size_t)o * IN + i] = (float)s;
            }
    if (db)
        for (int o = 0; o < OUT; o++) {
            double s = (double)db[o];
            for (int n = 0; n < N; n++)
                s += (double)dy[(size_t)n * OUT + o];
            db[o] = (float)s;
        }
}

/* ---- embeddings -------------------------------------------------------- */

void op_embed_fwd_ref(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                      const float *Wp, const float *Wt, int N, int D)
{
    for (int n = 0; n < N; n++)
        for (int j = 0; j < D; j++) {
            double s = (double)Ww[(size_t)ids[n] * D + j];
            if (Wp && pos)
                s += (double)Wp[(size_t)pos[n] * D + j];
            if (Wt)
                s += (double)Wt[(size_t)(types ? types[n] : 0) * D + j];
            out[(size_t)n * D + j] = (float)s;
        }
}

void op_embed_bwd_ref(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                      const int *pos, const int *types, int N, int D)
{
    for (int n = 0; n < N; n++)
        for (int j = 0; j < D; j++) {
            float g = dout[(size_t)n * D + j];
            if (dWw)
                dWw[(size_t)ids[n] * D + j] += g;
            if (dWp && pos)
                dWp[(size_t)pos[n] * D + j] += g;
            if (dWt)
                dWt[(size_t)(types ? types[n] : 0) * D + j] += g;
        }
}

/* ---- layer norm -------------------------------------------------------- */

void op_layernorm_fwd_ref(float *y, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, int N, int D, float eps)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        double m = 0.0, v = 0.0;
        for (int j = 0; j < D; j++)
            m += (double)xr[j];
        m /= D;
        for (int j = 0; j < D; j++)
            v += ((double)xr[j] - m) * ((double)xr[j] - m);
        v /= D;
        double rs = 1.0 / sqrt(v + (double)eps);
        mean[n] = (float)m;
        rstd[n] = (float)rs;
        for (int j = 0; j < D; j++)
            y[(size_t)n * D + j] = (float)(((double)xr[j] - m) * rs * (double)g[j] + (double)b[j]);
    }
}

void op_layernorm_bwd_ref(float *dx, float *dg, float *db, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *g, int N, int D,
                          bool acc_dx)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D, *gr = dy + (size_t)n * D;
        double m = (double)mean[n], rs = (double)rstd[n];
        double s1 = 0.0, s2 = 0.0;
        for (int j = 0; j < D; j++) {
            double xh = ((double)xr[j] - m) * rs, dxh = (double)gr[j] * (double)g[j];
            s1 += dxh;
            s2 += dxh * xh;
            if (dg)
                dg[j] = (float)((double)dg[j] + (double)gr[j] * xh);
            if (db)
                db[j] = (float)((double)db[j] + (double)gr[j]);
        }
        if (!dx)
            continue;
        for (int j = 0; j < D; j++) {
            double xh = ((double)xr[j] - m) * rs, dxh = (double)gr[j] * (double)g[j];
            double v = rs * (dxh - s1 / D - xh * s2 / D);
            float *d = dx + (size_t)n * D + j;
            *d = acc_dx ? (float)((double)*d + v) : (float)v;
        }
    }
}

/* ---- activations ------------------------------------------------------- */

static double act_ref(enum act_kind a, double x)
{
    switch (a) {
    case ACT_GELU:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case ACT_GELU_NEW:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case ACT_RELU:
        return x > 0.0 ? x : 0.0;
    case ACT_SWISH:
        return x / (1.0 + exp(-x));
    case ACT_TANH:
        return tanh(x);
    default:
        return x;
    }
}

static double act_grad_ref(enum act_kind a, double x)
{
    switch (a) {
    case ACT_GELU:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    case ACT_GELU_NEW: {
        double c = sqrt(2.0 / M_PI), t = tanh(c * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case ACT_RELU:
        return x > 0.0 ? 1.0 : 0.0;
    case ACT_SWISH: {
        double s = 1.0 / (1.0 + exp(-x));
        return s + x * s * (1.0 - s);
    }
    case ACT_TANH:
        return 1.0 - tanh(x) * tanh(x);
    default:
        return 1.0;
    }
}

void op_act_fwd_ref(enum act_kind a, float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)act_ref(a, (double)x[i]);
}

void op_act_bwd_ref(enum act_kind a, float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = (float)((double)dy[i] * act_grad_ref(a, (double)x[i]));
}

/* ---- dropout ----------------------------------------------------------- */

/* Keep decision of mask element idx for probability p in (0, 1). */
static bool keep_ref(float p, uint64_t seed, uint64_t stream, uint64_t idx)
{
    uint64_t thr = (uint64_t)((double)p * 18446744073709551616.0); /* p * 2^64 */
    return rng_hash(seed, stream, idx) >= thr;
}

void op_dropout_fwd_ref(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t stream)
{
    for (size_t i = 0; i < n; i++) {
        if (!(p > 0.0f))
            y[i] = x[i];
        else if (p >= 1.0f)
            y[i] = 0.0f;
        else
            y[i] = keep_ref(p, seed, stream, i) ? (float)((double)x[i] / (1.0 - (double)p)) : 0.0f;
    }
}

void op_dropout_bwd_ref(float *dx, const float *dy, size_t n, float p, uint64_t seed,
                        uint64_t stream)
{
    op_dropout_fwd_ref(dx, dy, n, p, seed, stream);
}

/* ---- attention --------------------------------------------------------- */

/* Dropout factor of probability element idx: 0 if dropped, else 1/(1-p). */
static double attn_drop_ref(float p, uint64_t seed, uint64_t stream, uint64_t idx)
{
    if (!(p > 0.0f))
        return 1.0;
    if (p >= 1.0f)
        return 0.0;
    return keep_ref(p, seed, stream, idx) ? 1.0 / (1.0 - (double)p) : 0.0;
}

/* Row j of the key (or value) sequence [pre; seq] seen by head h of batch b:
 * prefix row j < P, else token j - P.  Returns a pointer to its Dh columns. */
static const float *attn_row_ref(const float *pre, const float *seq, int b, int h, int j, int T,
                                 int D, int P, int Dh)
{
    if (j < P)
        return pre + (size_t)j * D + (size_t)h * Dh;
    return seq + ((size_t)b * T + (size_t)(j - P)) * D + (size_t)h * Dh;
}

static bool attn_attendable_ref(const int *mask, int b, int j, int T, int P)
{
    return j < P || !mask || mask[(size_t)b * T + (size_t)(j - P)] != 0;
}

void op_attention_fwd_ref(float *out, float *probs, const float *q, const float *k, const float *v,
                          const float *pk, const float *pv, const int *mask, int B, int T, int D,
                          int H, int P, float drop_p, uint64_t seed, uint64_t stream, float *ws)
{
    (void)ws;
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    P = P > 0 ? P : 0;
    int Dh = D / H, J = P + T;
    double scale = 1.0 / sqrt((double)Dh);
    double *s = malloc((size_t)J * sizeof(*s));
    if (!s)
        return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((size_t)b * T + i) * D + (size_t)h * Dh;
                double mx = -HUGE_VAL;
                int natt = 0;
                for (int j = 0; j < J; j++) {
                    const float *kj = attn_row_ref(pk, k, b, h, j, T, D, P, Dh);
                    double d = 0.0;
                    for (int c = 0; c < Dh; c++)
                        d += (double)qi[c] * (double)kj[c];
                    s[j] = d * scale;
                    if (attn_attendable_ref(mask, b, j, T, P)) {
                        natt++;
                        mx = s[j] > mx ? s[j] : mx;
                    }
                }
                /* A padded key is selected to 0 whatever its score.  No attendable key:
                 * a zero row.  A NaN or infinite attendable max: exp(NaN) makes the
                 * whole row NaN, as in attention.c. */
                double sum = 0.0;
                for (int j = 0; j < J; j++) {
                    s[j] = attn_attendable_ref(mask, b, j, T, P) ? exp(s[j] - mx) : 0.0;
                    sum += s[j];
                }
                size_t prow = (((size_t)b * H + h) * T + i) * J;
                for (int j = 0; j < J; j++) {
                    s[j] = natt > 0 ? s[j] / sum : 0.0;
                    probs[prow + j] = (float)s[j];
                }
                float *oi = out + ((size_t)b * T + i) * D + (size_t)h * Dh;
                for (int c = 0; c < Dh; c++) {
                    double acc = 0.0;
                    for (int j = 0; j < J; j++) {
                        const float *vj = attn_row_ref(pv, v, b, h, j, T, D, P, Dh);
                        acc += s[j] * attn_drop_ref(drop_p, seed, stream, prow + j) * (double)vj[c];
                    }
                    oi[c] = (float)acc;
                }
            }
    free(s);
}

void op_attention_bwd_ref(float *dq, float *dk, float *dv, float *dpk, float *dpv,
                          const float *dout, const float *probs, const float *q, const float *k,
                          const float *v, const float *pk, const float *pv, const int *mask, int B,
                          int T, int D, int H, int P, float drop_p, uint64_t seed, uint64_t stream,
                          float *ws)
{
    (void)ws;
    if (B <= 0 || T <= 0 || H <= 0)
        return;
    P = P > 0 ? P : 0;
    int Dh = D / H, J = P + T;
    double scale = 1.0 / sqrt((double)Dh);
    size_t nseq = (size_t)B * T * D, npre = (size_t)P * D;
    /* Gradients of the keys and values, prefix rows first then the sequence. */
    double *gk = calloc(npre + nseq, sizeof(*gk));
    double *gv = calloc(npre + nseq, sizeof(*gv));
    double *row = malloc(3 * (size_t)J * sizeof(*row)); /* pd, dp, ds: (J) each */
    if (!gk || !gv || !row)
        goto out_free;
    double *pd = row, *dp = row + J;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                size_t prow = (((size_t)b * H + h) * T + i) * J;
                const float *qi = q + ((size_t)b * T + i) * D + (size_t)h * Dh;
                const float *gi = dout + ((size_t)b * T + i) * D + (size_t)h * Dh;
                double dot = 0.0;
                for (int j = 0; j < J; j++) {
                    double f = attn_drop_ref(drop_p, seed, stream, prow + j);
                    const float *vj = attn_row_ref(pv, v, b, h, j, T, D, P, Dh);
                    double g = 0.0;
                    for (int c = 0; c < Dh; c++)
                        g += (double)gi[c] * (double)vj[c];
                    pd[j] = (double)probs[prow + j] * f;
                    dp[j] = g * f;
                    if (attn_attendable_ref(mask, b, j, T, P))
                        dot += dp[j] * (double)probs[prow + j];
                }
                /* now dS; a padded key gets exactly 0 (its probability is 0), selected
                 * rather than multiplied so that a non-finite dP there stays out */
                for (int j = 0; j < J; j++)
                    dp[j] = attn_attendable_ref(mask, b, j, T, P)
                                ? (double)probs[prow + j] * (dp[j] - dot)
                                : 0.0;
                for (int c = 0; c < Dh; c++) {
                    double acc = 0.0;
                    for (int j = 0; j < J; j++)
                        acc += dp[j] * (double)attn_row_ref(pk, k, b, h, j, T, D, P, Dh)[c];
                    dq[((size_t)b * T + i) * D + (size_t)h * Dh + c] = (float)(acc * scale);
                }
                for (int j = 0; j < J; j++) {
                    size_t r = j < P ? (size_t)j * D : npre + ((size_t)b * T + (size_t)(j - P)) * D;
                    for (int c = 0; c < Dh; c++) {
                        gk[r + (size_t)h * Dh + c] += dp[j] * (double)qi[c] * scale;
                        gv[r + (size_t)h * Dh + c] += pd[j] * (double)gi[c];
                    }
                }
            }
    for (size_t e = 0; e < nseq; e++) {
        dk[e] = (float)gk[npre + e];
        dv[e] = (float)gv[npre + e];
    }
    for (size_t e = 0; e < npre; e++) {
        if (dpk)
            dpk[e] = (float)((double)dpk[e] + gk[e]);
        if (dpv)
            dpv[e] = (float)((double)dpv[e] + gv[e]);
    }
out_free:
    free(row);
    free(gv);
    free(gk);
}

/* ---- losses ------------------------------------------------------------ */

double op_softmax_xent_ref(float *dlogits, const float *logits, const int *labels, int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0.0;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * C;
        double mx = -HUGE_VAL, se = 0.0;
        for (int c = 0; c < C; c++)
            mx = fmax(mx, (double)z[c]);
        for (int c = 0; c < C; c++)
            se += exp((double)z[c] - mx);
        total += -((double)z[labels[n]] - mx - log(se));
        if (dlogits)
            for (int c = 0; c < C; c++)
                dlogits[(size_t)n * C + c] =
                    (float)((exp((double)z[c] - mx) / se - (c == labels[n])) / N);
    }
    return total / N;
}

double op_mse_ref(float *dpred, const float *pred, const float *target, int N)
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
