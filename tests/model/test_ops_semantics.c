/*
 * The contract of model/engine/ops beyond matching a reference: frozen = NULL, accumulate vs
 * overwrite, attention masking and query subsets, dropout masks, determinism across thread
 * counts, extreme activation inputs and numerically stable losses.
 */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/engine/ops.h"
#include "model/engine/ops_ref.h"
#include "model/engine/rng.h"
#include "tests/model/attn_problem.h"
#include "tests/model/ops_fixture.h"
#include "tests/suites.h"

/* got == 2 * once, elementwise, to float rounding (accumulation check). */
static void assert_doubled(const char *what, const float *got, const float *once, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double g = (double)got[i], w = 2.0 * (double)once[i];
        ck_assert_msg(fabs(g - w) <= 1e-5 * (1.0 + fabs(w)), "%s: element %zu: %.9g vs 2 * %.9g",
                      what, i, g, (double)once[i]);
    }
}

/* Far tails, overflow territory and NaN: finite where the function is,
 * equal to the reference, no denormal results, NaN propagated forward. */
START_TEST(act_extreme_inputs)
{
    enum act_kind a = (enum act_kind)_i;
    static const float xs[] = {-1e30f, -1000.0f, -100.0f, -20.0f, -13.0f, -9.0f,   -1e-20f, 0.0f,
                               1e-20f, 9.0f,     13.0f,   20.0f,  100.0f, 1000.0f, 1e30f};
    enum { NX = sizeof(xs) / sizeof(xs[0]) };
    float y[NX], yr[NX], dx[NX], dxr[NX], ones[NX];
    for (int i = 0; i < NX; i++)
        ones[i] = 1.0f;
    op_act_fwd(a, y, xs, NX);
    op_act_fwd_ref(a, yr, xs, NX);
    op_act_bwd(a, dx, ones, xs, NX);
    op_act_bwd_ref(a, dxr, ones, xs, NX);
    for (int i = 0; i < NX; i++) {
        ck_assert_msg(isfinite(y[i]) && isfinite(dx[i]), "%s(%g): y %g dy %g", act_name(a),
                      (double)xs[i], (double)y[i], (double)dx[i]);
        ck_assert_msg(y[i] == 0.0f || fpclassify(y[i]) == FP_NORMAL, "%s(%g) = %g is denormal",
                      act_name(a), (double)xs[i], (double)y[i]);
        ck_assert_msg(dx[i] == 0.0f || fpclassify(dx[i]) == FP_NORMAL, "%s'(%g) = %g is denormal",
                      act_name(a), (double)xs[i], (double)dx[i]);
    }
    assert_close(act_name(a), y, yr, NX, 1e-6, 1e-5);
    assert_close(act_name(a), dx, dxr, NX, 1e-6, 1e-5);
    /* Gated kinds are exactly 0 far left (true values underflow float). */
    bool gated = a == ACT_GELU || a == ACT_GELU_NEW || a == ACT_RELU || a == ACT_SWISH;
    for (int i = 0; gated && xs[i] <= -100.0f; i++)
        ck_assert_msg(y[i] == 0.0f && dx[i] == 0.0f, "%s(%g) = %g, f' = %g: want 0", act_name(a),
                      (double)xs[i], (double)y[i], (double)dx[i]);
    const float nan_in = NAN;
    float nan_out;
    op_act_fwd(a, &nan_out, &nan_in, 1);
    ck_assert_msg(isnan(nan_out), "%s(NaN) = %g", act_name(a), (double)nan_out);
}
END_TEST

/* ---- semantics ---------------------------------------------------------- */

/* (B, T, D) rows t < Tq of each sequence -> (B, Tq, D). */
static float *first_tq(const float *x, int B, int T, int Tq, int D)
{
    float *o = tfloats((size_t)B * Tq * D);
    for (int b = 0; b < B; b++)
        memcpy(o + (size_t)b * Tq * D, x + (size_t)b * T * D, (size_t)Tq * D * sizeof(float));
    return o;
}

/* Attention for the first Tq queries of each sequence only equals those queries' rows of the
 * full attention, probabilities and dropout masks included; its backward equals the full
 * backward when the other queries get no gradient. */
START_TEST(attention_query_subset_equals_full)
{
    struct attn_prob a;
    attn_prob_init(&a, &ref_attn_shapes[_i], 1700 + (uint64_t)_i);
    const struct attn_shape *s = &a.s;
    const int B = s->B, T = s->T, D = s->D, H = s->H, P = s->P, J = P + T;
    size_t n = (size_t)B * T * D, np = (size_t)P * D;
    for (int Tq = 1; Tq <= T; Tq += T > 3 ? T / 2 : 1) {
        attn_fwd(&a);
        for (int b = 0; b < B; b++) /* no gradient into queries t >= Tq */
            memset(a.r + ((size_t)b * T + Tq) * D, 0, (size_t)(T - Tq) * D * sizeof(float));
        if (P > 0) {
            memset(a.dpk, 0, np * sizeof(float));
            memset(a.dpv, 0, np * sizeof(float));
        }
        attn_bwd(&a, a.dpk, a.dpv);

        size_t nq = (size_t)B * Tq * D, nprob = (size_t)B * H * Tq * J;
        float *q = first_tq(a.q, B, T, Tq, D), *r = first_tq(a.r, B, T, Tq, D);
        float *out = tfloats(nq), *probs = tfloats(nprob), *dq = tfloats(nq);
        float *dk = tfloats(n), *dv = tfloats(n);
        float *dpk = P > 0 ? tfloats(np) : NULL, *dpv = P > 0 ? tfloats(np) : NULL;
        op_attention_fwd_q(out, probs, q, a.k, a.v, a.pk, a.pv, a.mask, B, T, Tq, D, H, P, s->drop,
                           a.seed, a.stream, a.ws);
        op_attention_bwd_q(dq, dk, dv, dpk, dpv, r, probs, q, a.k, a.v, a.pk, a.pv, a.mask, B, T,
                           Tq, D, H, P, s->drop, a.seed, a.stream, a.ws);
        float *want_out = first_tq(a.out, B, T, Tq, D), *want_dq = first_tq(a.dq, B, T, Tq, D);
        /* probs (B, H, T, J) -> rows t < Tq of each (b, h) */
        float *want_p = first_tq(a.probs, B * H, T, Tq, J);
        assert_close("subset out", out, want_out, nq, 1e-6, 1e-5);
        assert_close("subset probs", probs, want_p, nprob, 1e-7, 1e-5);
        assert_close("subset dq", dq, want_dq, nq, 1e-6, 1e-5);
        assert_close("subset dk", dk, a.dk, n, 1e-6, 1e-5);
        assert_close("subset dv", dv, a.dv, n, 1e-6, 1e-5);
        if (P > 0) {
            assert_close("subset dpk", dpk, a.dpk, np, 1e-6, 1e-5);
            assert_close("subset dpv", dpv, a.dpv, np, 1e-6, 1e-5);
        }
    }
}
END_TEST

/* Per-column scaling (IA3) against a plain double loop, on widths below and above one column
 * block, and with dz written over dy. */
START_TEST(colscale_matches_plain_loops)
{
    static const int shapes[][2] = {{1, 1}, {5, 7}, {70, 300}, {33, 1030}, {700, 96}};
    const int N = shapes[_i][0], C = shapes[_i][1];
    const size_t n = (size_t)N * C;
    struct rng r;
    rng_seed(&r, 300 + (uint64_t)_i);
    float *z = rand_normal(&r, n, 1.0f), *dy = rand_normal(&r, n, 1.0f);
    float *l = rand_normal(&r, (size_t)C, 1.0f), *dl0 = rand_normal(&r, (size_t)C, 1.0f);
    float *y = tfloats(n), *dz = tfloats(n), *dl = copy_of(dl0, (size_t)C);
    float *want_y = tfloats(n), *want_dz = tfloats(n), *want_dl = tfloats((size_t)C);
    for (int j = 0; j < C; j++) {
        double acc = dl0[j];
        for (int i = 0; i < N; i++) {
            size_t o = (size_t)i * C + j;
            want_y[o] = z[o] * l[j];
            want_dz[o] = dy[o] * l[j];
            acc += (double)dy[o] * (double)z[o];
        }
        want_dl[j] = (float)acc;
    }
    op_colscale_fwd(y, z, l, N, C);
    ck_assert_mem_eq(y, want_y, n * sizeof(float));
    op_colscale_bwd(dz, dl, dy, z, l, N, C);
    ck_assert_mem_eq(dz, want_dz, n * sizeof(float));
    assert_close("colscale dl", dl, want_dl, (size_t)C, 1e-5, 1e-6);
    /* dz in place over dy, frozen l (no dl) */
    op_colscale_bwd(dy, NULL, dy, z, l, N, C);
    ck_assert_mem_eq(dy, want_dz, n * sizeof(float));
}
END_TEST

/* Every stride-th row dropped on its own draws exactly that row's mask of the full tensor. */
START_TEST(dropout_rows_match_full_rows)
{
    const size_t R = 7, W = 33, stride = 5, n = R * stride * W;
    struct rng r;
    rng_seed(&r, 91);
    float *x = rand_normal(&r, n, 1.0f), *full = tfloats(n);
    op_dropout_fwd(full, x, n, 0.3f, 11, 12);
    float *sub = tfloats(R * W), *want = tfloats(R * W);
    for (size_t i = 0; i < R; i++) {
        memcpy(sub + i * W, x + i * stride * W, W * sizeof(float));
        memcpy(want + i * W, full + i * stride * W, W * sizeof(float));
    }
    op_dropout_rows_fwd(sub, sub, R, W, stride, 0.3f, 11, 12);
    ck_assert_mem_eq(sub, want, R * W * sizeof(float));
    size_t zeros = 0;
    for (size_t i = 0; i < R * W; i++)
        zeros += sub[i] == 0.0f;
    ck_assert_uint_gt(zeros, 0); /* the mask did drop something */
    ck_assert_uint_lt(zeros, R * W);
}
END_TEST

START_TEST(linear_frozen_and_accumulate)
{
    int N = 9, IN = 11, OUT = 5;
    size_t nx = (size_t)N * IN, nw = (size_t)OUT * IN, ny = (size_t)N * OUT;
    struct rng r;
    rng_seed(&r, 2000);
    float *x = rand_normal(&r, nx, 1.0f), *W = rand_normal(&r, nw, 1.0f);
    float *dy = rand_normal(&r, ny, 1.0f);
    float *dx1 = tfloats(nx), *dx2 = tfloats(nx), *dW = tfloats(nw), *db = tfloats(OUT);
    op_linear_bwd(dx1, dW, db, dy, x, W, N, IN, OUT, false);
    /* Frozen: dW = db = NULL and even x = NULL (nothing may read it). */
    for (size_t i = 0; i < nx; i++)
        dx2[i] = NAN; /* overwrite semantics: garbage must not leak through */
    op_linear_bwd(dx2, NULL, NULL, dy, NULL, W, N, IN, OUT, false);
    assert_bits_equal("frozen dx", dx2, dx1, nx);

    /* Parameter gradients accumulate: a second call doubles them. */
    float *dW1 = copy_of(dW, nw), *db1 = copy_of(db, OUT);
    op_linear_bwd(NULL, dW, db, dy, x, W, N, IN, OUT, false);
    assert_doubled("linear dW", dW, dW1, nw);
    assert_doubled("linear db", db, db1, OUT);

    /* acc_dx: dx = dx0 + dy W. */
    float *dx0 = rand_normal(&r, nx, 1.0f), *dx3 = copy_of(dx0, nx), *want = tfloats(nx);
    op_linear_bwd(dx3, NULL, NULL, dy, NULL, W, N, IN, OUT, true);
    op_add(want, dx0, dx1, nx);
    assert_close("acc_dx", dx3, want, nx, 1e-5, 1e-5);
}
END_TEST

START_TEST(layernorm_frozen_and_accumulate)
{
    int N = 6, D = 10;
    size_t n = (size_t)N * D;
    struct rng r;
    rng_seed(&r, 2100);
    float *x = rand_normal(&r, n, 1.0f), *g = rand_normal(&r, D, 1.0f),
          *b = rand_normal(&r, D, 1.0f);
    float *dy = rand_normal(&r, n, 1.0f), *y = tfloats(n), *m = tfloats(N), *rs = tfloats(N);
    op_layernorm_fwd(y, m, rs, x, g, b, N, D, 1e-5f);
    float *dx1 = tfloats(n), *dx2 = tfloats(n), *dg = tfloats(D), *db = tfloats(D);
    op_layernorm_bwd(dx1, dg, db, dy, x, m, rs, g, N, D, false);
    for (size_t i = 0; i < n; i++)
        dx2[i] = NAN;
    op_layernorm_bwd(dx2, NULL, NULL, dy, x, m, rs, g, N, D, false);
    assert_bits_equal("frozen ln dx", dx2, dx1, n);
    float *dg1 = copy_of(dg, D), *db1 = copy_of(db, D);
    op_layernorm_bwd(NULL, dg, db, dy, x, m, rs, g, N, D, false);
    assert_doubled("layernorm dg", dg, dg1, D);
    assert_doubled("layernorm db", db, db1, D);
    float *dx0 = rand_normal(&r, n, 1.0f), *dx3 = copy_of(dx0, n), *want = tfloats(n);
    op_layernorm_bwd(dx3, NULL, NULL, dy, x, m, rs, g, N, D, true);
    op_add(want, dx0, dx1, n);
    assert_close("ln acc_dx", dx3, want, n, 1e-6, 1e-6);
}
END_TEST

START_TEST(embed_frozen_tables)
{
    enum { N = 5, D = 4, V = 6 };
    static const int ids[N] = {0, 5, 5, 2, 1}, pos[N] = {0, 1, 2, 3, 4};
    struct rng r;
    rng_seed(&r, 2200);
    float *dout = rand_normal(&r, N * D, 1.0f), *dWt = tfloats(2 * D), *dWp = tfloats(N * D);
    /* Frozen word table (NULL), trainable positions; types NULL -> row 0 of Wt. */
    op_embed_bwd(NULL, dWp, dWt, dout, ids, pos, NULL, N, D);
    for (int j = 0; j < D; j++) {
        double s = 0.0;
        for (int n = 0; n < N; n++)
            s += (double)dout[n * D + j];
        ck_assert_double_eq_tol((double)dWt[j], s, 1e-5);
        ck_assert(dWt[D + j] == 0.0f);
    }
    assert_bits_equal("embed dWp = dout (distinct positions)", dWp, dout, N * D);
}
END_TEST

/* Probabilities: padded keys exactly 0, prefix keys > 0, rows sum to 1. */
START_TEST(attention_probs_semantics)
{
    int P = _i == 0 ? 0 : 3;
    struct attn_shape s = {3, 6, 8, 2, P, 0.0f};
    struct attn_prob a;
    attn_prob_init(&a, &s, 2300 + (uint64_t)_i);
    for (int t = 0; t < s.T; t++)
        a.mask[2 * s.T + t] = 0; /* sequence 2 entirely padded */
    attn_fwd(&a);
    int J = P + s.T;
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.H; h++)
            for (int i = 0; i < s.T; i++) {
                const float *row = a.probs + (((size_t)b * s.H + h) * s.T + i) * J;
                double sum = 0.0;
                for (int j = 0; j < J; j++) {
                    ck_assert(isfinite(row[j]));
                    if (j < P)
                        ck_assert_msg(row[j] > 0.0f, "prefix key %d not attended", j);
                    else if (!a.mask[b * s.T + j - P])
                        ck_assert_msg(row[j] == 0.0f, "padded key got %g", (double)row[j]);
                    sum += (double)row[j];
                }
                /* An all-padding sequence without prefix has nothing to attend:
                 * its rows are all zero (documented), not NaN. */
                double want = (b == 2 && P == 0) ? 0.0 : 1.0;
                ck_assert_double_eq_tol(sum, want, 1e-5);
            }
    for (size_t i = 0; i < (size_t)s.B * s.T * s.D; i++)
        ck_assert(isfinite(a.out[i]));
    if (P == 0)
        for (int i = 0; i < s.T * s.D; i++)
            ck_assert(a.out[2 * s.T * s.D + i] == 0.0f);
    /* Padded keys and values get no gradient. */
    attn_bwd(&a, a.dpk, a.dpv);
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++)
            if (!a.mask[b * s.T + t])
                for (int c = 0; c < s.D; c++) {
                    ck_assert(a.dk[((size_t)b * s.T + t) * s.D + c] == 0.0f);
                    ck_assert(a.dv[((size_t)b * s.T + t) * s.D + c] == 0.0f);
                }
}
END_TEST

/* A NaN in one query must surface as NaN in its output, not vanish. */
START_TEST(attention_nan_propagates)
{
    struct attn_shape s = {1, 4, 4, 1, 0, 0.0f};
    struct attn_prob a;
    attn_prob_init(&a, &s, 2350);
    for (int c = 0; c < s.D; c++)
        a.q[1 * s.D + c] = NAN; /* query row 1: every score of row 1 is NaN */
    attn_fwd(&a);
    ck_assert(isnan(a.out[1 * s.D]));
    ck_assert(isfinite(a.out[0]));
}
END_TEST

/* A frozen prefix (dpk = dpv = NULL) takes another loop order inside the op:
 * dq, dk, dv must not change by a single bit. */
START_TEST(attention_frozen_prefix)
{
    struct attn_shape s = {2, 33, 64, 4, 5, 0.1f};
    struct attn_prob a;
    attn_prob_init(&a, &s, 2400);
    size_t n = (size_t)s.B * s.T * s.D;
    attn_fwd(&a);
    attn_bwd(&a, a.dpk, a.dpv);
    float *dq = copy_of(a.dq, n), *dk = copy_of(a.dk, n), *dv = copy_of(a.dv, n);
    attn_bwd(&a, NULL, NULL);
    assert_bits_equal("dq", a.dq, dq, n);
    assert_bits_equal("dk", a.dk, dk, n);
    assert_bits_equal("dv", a.dv, dv, n);
}
END_TEST

/* Same inputs, 1 vs 2 OpenMP threads: bit-identical forward and backward. */
START_TEST(attention_thread_count_invariant)
{
    struct attn_shape s = {3, 33, 64, 4, 5, 0.2f};
    int nt0 = omp_get_max_threads();
    size_t n = (size_t)s.B * s.T * s.D, np = (size_t)s.P * s.D;
    size_t nprob = (size_t)s.B * s.H * s.T * (s.P + s.T);
    float *res[2][7];
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run + 1);
        struct attn_prob a;
        attn_prob_init(&a, &s, 2500); /* sizes ws for this thread count */
        attn_fwd(&a);
        attn_bwd(&a, a.dpk, a.dpv);
        float *all[7] = {a.out, a.probs, a.dq, a.dk, a.dv, a.dpk, a.dpv};
        memcpy(res[run], all, sizeof(all));
    }
    omp_set_num_threads(nt0);
    const size_t len[7] = {n, nprob, n, n, n, np, np};
    static const char *const what[7] = {"out", "probs", "dq", "dk", "dv", "dpk", "dpv"};
    for (int t = 0; t < 7; t++)
        assert_bits_equal(what[t], res[0][t], res[1][t], len[t]);
}
END_TEST

START_TEST(dropout_mask_statistics)
{
    size_t n = 200000;
    float p = _i == 0 ? 0.1f : 0.5f;
    float *x = tfloats(n), *y = tfloats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f + (float)(i % 7);
    op_dropout_fwd(y, x, n, p, 11, 12);
    float scale = (float)(1.0 / (1.0 - (double)p));
    size_t kept = 0, wrong = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0.0f) {
            kept++;
            wrong += y[i] != x[i] * scale;
        }
    }
    ck_assert_uint_eq(wrong, 0);
    double frac = (double)kept / (double)n;
    /* Binomial std is sqrt(p(1-p)/n) <= 1.2e-3; allow ~5 sigma. */
    ck_assert_msg(fabs(frac - (1.0 - (double)p)) < 6e-3, "keep fraction %g for p %g", frac,
                  (double)p);
    /* The backward regenerates the same mask. */
    float *dx = tfloats(n);
    op_dropout_bwd(dx, x, n, p, 11, 12);
    assert_bits_equal("dropout bwd", dx, y, n);
    /* Another stream gives another mask. */
    float *y2 = tfloats(n);
    op_dropout_fwd(y2, x, n, p, 11, 13);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += (y[i] == 0.0f) == (y2[i] == 0.0f);
    ck_assert_uint_lt(same, n - n / 20);
}
END_TEST

START_TEST(dropout_thread_count_invariant)
{
    size_t n = 100003;
    int nt0 = omp_get_max_threads();
    struct rng r;
    rng_seed(&r, 2600);
    float *x = rand_normal(&r, n, 1.0f), *y1 = tfloats(n), *y2 = tfloats(n);
    omp_set_num_threads(1);
    op_dropout_fwd(y1, x, n, 0.3f, 99, 5);
    omp_set_num_threads(2);
    op_dropout_fwd(y2, x, n, 0.3f, 99, 5);
    omp_set_num_threads(nt0);
    assert_bits_equal("dropout 1 vs 2 threads", y1, y2, n);
}
END_TEST

START_TEST(dropout_edge_probabilities)
{
    size_t n = 100;
    struct rng r;
    rng_seed(&r, 2700);
    float *x = rand_normal(&r, n, 1.0f), *x0 = copy_of(x, n), *y = tfloats(n);
    op_dropout_fwd(y, x, n, 0.0f, 1, 2);
    assert_bits_equal("p = 0 copies", y, x, n);
    op_dropout_fwd(x, x, n, 0.0f, 1, 2);
    assert_bits_equal("p = 0 in place", x, x0, n);
    op_dropout_fwd(x, x, n, 0.5f, 1, 2); /* in place */
    op_dropout_fwd(y, x0, n, 0.5f, 1, 2);
    assert_bits_equal("in place = out of place", x, y, n);
    /* p >= 1 is a caller error; documented as dropping everything. */
    op_dropout_fwd(y, x0, n, 1.0f, 1, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert(y[i] == 0.0f);
}
END_TEST

START_TEST(xent_stable_for_huge_logits)
{
    /* Row 0: two large logits 2 apart, label on the smaller one.
     * Row 1: all logits equal at -1e4: loss log C. */
    enum { N = 2, C = 4 };
    const float z[N * C] = {1e4f, 1e4f - 2.0f, -1e4f, 0.0f, -1e4f, -1e4f, -1e4f, -1e4f};
    const int lab[N] = {1, 3};
    float d[N * C];
    double l = op_softmax_xent(d, z, lab, N, C);
    double l0 = 2.0 + log1p(exp(-2.0)), l1 = log((double)C);
    ck_assert(isfinite(l));
    ck_assert_double_eq_tol(l, (l0 + l1) / N, 1e-9);
    for (int n = 0; n < N; n++) {
        double s = 0.0;
        for (int c = 0; c < C; c++) {
            ck_assert(isfinite(d[n * C + c]));
            s += (double)d[n * C + c];
        }
        ck_assert_double_eq_tol(s, 0.0, 1e-7);
    }
    double p1 = exp(-2.0) / (1.0 + exp(-2.0));
    ck_assert_double_eq_tol((double)d[1], (p1 - 1.0) / N, 1e-7);
    ck_assert_double_eq_tol((double)d[2], 0.0, 1e-30);
    ck_assert_double_eq_tol((double)d[7], (0.25 - 1.0) / N, 1e-7);
}
END_TEST

START_TEST(act_names_roundtrip)
{
    for (int a = 0; a < ACT_COUNT; a++)
        ck_assert_int_eq(act_from_name(act_name((enum act_kind)a)), a);
    ck_assert_int_eq(act_from_name("gelu"), ACT_GELU);
    ck_assert_int_eq(act_from_name("gelu_new"), ACT_GELU_NEW);
    ck_assert_int_eq(act_from_name("silu"), ACT_SWISH);
    ck_assert_int_eq(act_from_name("swish"), ACT_SWISH);
    ck_assert_int_eq(act_from_name("GELU"), -1);
    ck_assert_int_eq(act_from_name("softplus"), -1);
    ck_assert_int_eq(act_from_name(NULL), -1);
    ck_assert_str_eq(act_name(ACT_GELU_NEW), "gelu_new");
}
END_TEST

START_TEST(elementwise_helpers)
{
    size_t n = _i == 0 ? 5 : 50001;
    struct rng r;
    rng_seed(&r, 2800 + (uint64_t)_i);
    float *a = rand_normal(&r, n, 1.0f), *b = rand_normal(&r, n, 1.0f), *y = tfloats(n);
    op_add(y, a, b, n);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += y[i] != a[i] + b[i];
    ck_assert_uint_eq(wrong, 0);
    float *y2 = copy_of(a, n);
    op_acc(y2, b, n);
    assert_bits_equal("op_acc", y2, y, n);
    float *y3 = copy_of(a, n);
    op_axpy(y3, -0.5f, b, n);
    for (size_t i = 0; i < n; i++)
        wrong += y3[i] != a[i] + -0.5f * b[i];
    ck_assert_uint_eq(wrong, 0);
    op_add(a, a, b, n); /* aliasing */
    assert_bits_equal("op_add in place", a, y, n);
}
END_TEST

Suite *ops_semantics_suite(void)
{
    Suite *s = suite_create("ops_semantics");
    const int tmo = 120; /* seconds; generous for ASan/UBSan builds */

    TCase *tc = tcase_create("semantics");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, tmo);
    tcase_add_test(tc, linear_frozen_and_accumulate);
    tcase_add_test(tc, layernorm_frozen_and_accumulate);
    tcase_add_test(tc, embed_frozen_tables);
    tcase_add_loop_test(tc, attention_probs_semantics, 0, 2);
    tcase_add_test(tc, attention_nan_propagates);
    tcase_add_test(tc, attention_frozen_prefix);
    tcase_add_test(tc, attention_thread_count_invariant);
    tcase_add_loop_test(tc, dropout_mask_statistics, 0, 2);
    tcase_add_test(tc, dropout_thread_count_invariant);
    tcase_add_test(tc, dropout_edge_probabilities);
    tcase_add_test(tc, dropout_rows_match_full_rows);
    tcase_add_loop_test(tc, colscale_matches_plain_loops, 0, 5);
    tcase_add_loop_test(tc, attention_query_subset_equals_full, 0, n_ref_attn_shapes);
    tcase_add_test(tc, xent_stable_for_huge_logits);
    tcase_add_test(tc, act_names_roundtrip);
    tcase_add_loop_test(tc, act_extreme_inputs, 0, ACT_COUNT);
    tcase_add_loop_test(tc, elementwise_helpers, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
