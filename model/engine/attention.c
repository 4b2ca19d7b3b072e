/*
 * attention: multi-head attention forward and backward (contract in attention.h).
 *
 * One task per (batch, head) pair, parallel over the OpenMP pool; each task issues
 * small matmul_sgemm products on its own thread (matmul.h) and reads head columns in
 * place through the row stride D.  The masked softmax lives here; the probability
 * dropout uses dropout.h's span with counters numbered as in the full (B, H, T, P+T)
 * tensor.
 */
#include "model/engine/attention.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <string.h>

#include "model/engine/dropout.h"
#include "model/engine/fastmath.h"
#include "model/engine/matmul.h"
#include "model/engine/parallel.h"
#include "model/engine/rng.h"

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
 * for an attendable key and 0 for a padded one (see attn_keep_row).
 *   - A padded key gets exactly 0 whatever its score, +Inf and NaN included:
 *     the exponential is selected away, never multiplied by 0 (a padded score
 *     more than ~88 above the row's attendable max overflows exp to +Inf, and
 *     Inf * 0 would turn the whole row into NaN).  Kept keys get the same bits
 *     as exp(s - max) * 1 would give.
 *   - A row with no attendable key (P == 0 and an all-padding sequence)
 *     becomes all zeros rather than NaN: its context vector is then 0.
 *   - A NaN among the attendable scores, or an attendable max of +Inf or -Inf
 *     (q.k overflowed for real tokens: a diverged model), makes the row NaN so
 *     the divergence stays visible.  ops_ref.c agrees on all three cases.
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
    /* Subtracting the row max keeps every attendable exponent <= 0: no
     * overflow there.  Padded exponents may overflow; the select drops them. */
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < J; j++) {
        float e = ops_keepf(keep[j] != 0.0f, ops_exp(s[j] - mx));
        s[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < J; j++)
        s[j] *= inv;
}

/*
 * Softmax backward of one row, in place: dS = P o (dP - rowsum(dP o P)).  dr: (J) dP in,
 * dS out; p: (J) the saved probabilities; keep as in softmax_row_masked.  Padded keys are
 * selected out of the sum and get dS = 0 exactly, so a non-finite dP there (a padded value
 * row times dout) cannot reach the row through 0 * Inf.  Kept keys: the same bits as the
 * unmasked formula.  Not OPS_CLONES: an AVX2 clone would sum dot in another order than
 * the baseline loop, and every gradient would change in its last bits.
 */
static void softmax_row_masked_bwd(float *dr, const float *p, const float *keep, int J)
{
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < J; j++)
        dot += ops_keepf(keep[j] != 0.0f, dr[j] * p[j]);
#pragma omp simd
    for (int j = 0; j < J; j++)
        dr[j] = ops_keepf(keep[j] != 0.0f, p[j] * (dr[j] - dot));
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
        matmul_sgemm(MATMUL_N, MATMUL_T, Tq, P, Dh, g->scale, qh, D, g->pk + (size_t)h * (size_t)Dh,
                     D, 0.0f, pr, J);
    matmul_sgemm(MATMUL_N, MATMUL_T, Tq, T, Dh, g->scale, qh, D, kh, D, 0.0f, pr + P, J);
    attn_keep_row(keep, g->mask ? g->mask + (size_t)b * (size_t)T : NULL, P, T);
    for (int i = 0; i < Tq; i++)
        softmax_row_masked(pr + (size_t)i * (size_t)J, keep, J);

    const float *pu = pr;
    if (g->drop) {
        dropout_span(pd, pr, (size_t)Tq * (size_t)J, g->thr, g->dscale, g->seed, g->stream,
                     attn_hoff(g, b, h));
        pu = pd;
    }
    matmul_sgemm(MATMUL_N, MATMUL_N, Tq, Dh, T, 1.0f, pu + P, J, vh, D, 0.0f, oh, D);
    if (P > 0)
        matmul_sgemm(MATMUL_N, MATMUL_N, Tq, Dh, P, 1.0f, pu, J, g->pv + (size_t)h * (size_t)Dh, D,
                     1.0f, oh, D);
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
 * Masked keys have P = 0, hence Pd = 0, and dS is selected to exactly 0 (whatever dP):
 * they get no gradient.
 * pd, dp: (Tq, J) thread scratch; krow: (J) scratch for the key-mask row.
 */
static void attn_bwd_head(const struct attn_geom *g, float *dq, float *dk, float *dv, float *dpk,
                          float *dpv, const float *dout, const float *probs, int b, int h,
                          float *pd, float *dp, float *krow)
{
    int T = g->T, Tq = g->Tq, D = g->D, P = g->P, Dh = g->Dh, J = g->J;
    size_t qoff = attn_off(g, Tq, b, h), koff = attn_off(g, T, b, h), poff = attn_poff(g, b, h);
    size_t hoff = (size_t)h * (size_t)Dh;
    const float *qh = g->q + qoff, *kh = g->k + koff, *vh = g->v + koff, *doh = dout + qoff;
    const float *pr = probs + poff;
    size_t TJ = (size_t)Tq * (size_t)J;

    if (P > 0)
        matmul_sgemm(MATMUL_N, MATMUL_T, Tq, P, Dh, 1.0f, doh, D, g->pv + hoff, D, 0.0f, dp, J);
    matmul_sgemm(MATMUL_N, MATMUL_T, Tq, T, Dh, 1.0f, doh, D, vh, D, 0.0f, dp + P, J);

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
    attn_keep_row(krow, g->mask ? g->mask + (size_t)b * (size_t)T : NULL, P, T);
    for (int i = 0; i < Tq; i++)
        softmax_row_masked_bwd(dp + (size_t)i * (size_t)J, pr + (size_t)i * (size_t)J, krow, J);

    float *dqh = dq + qoff;
    matmul_sgemm(MATMUL_N, MATMUL_N, Tq, Dh, T, g->scale, dp + P, J, kh, D, 0.0f, dqh, D);
    if (P > 0)
        matmul_sgemm(MATMUL_N, MATMUL_N, Tq, Dh, P, g->scale, dp, J, g->pk + hoff, D, 1.0f, dqh, D);
    matmul_sgemm(MATMUL_T, MATMUL_N, T, Dh, Tq, g->scale, dp + P, J, qh, D, 0.0f, dk + koff, D);
    matmul_sgemm(MATMUL_T, MATMUL_N, T, Dh, Tq, 1.0f, pu + P, J, doh, D, 0.0f, dv + koff, D);
    if (P > 0 && dpk)
        matmul_sgemm(MATMUL_T, MATMUL_N, P, Dh, Tq, g->scale, dp, J, qh, D, 1.0f, dpk + hoff, D);
    if (P > 0 && dpv)
        matmul_sgemm(MATMUL_T, MATMUL_N, P, Dh, Tq, 1.0f, pu, J, doh, D, 1.0f, dpv + hoff, D);
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
                attn_bwd_head(&g, dq, dk, dv, dpk, dpv, dout, probs, b, h, w, w + TJ, w + 2 * TJ);
        }
    } else {
        int BH = B * H;
#pragma omp parallel for if (par) schedule(static)
        for (int bh = 0; bh < BH; bh++) {
            float *w = ws + (size_t)omp_get_thread_num() * per;
            attn_bwd_head(&g, dq, dk, dv, NULL, NULL, dout, probs, bh / H, bh % H, w, w + TJ,
                          w + 2 * TJ);
        }
    }
}
