/*
 * The BLAS/OpenMP kernels of model/engine/ops against their naive double-precision _ref twins
 * (model/engine/ops_ref) over several shapes, forward and backward, including shapes big
 * enough for the parallel paths.
 */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/engine/ops.h"
#include "model/engine/ops_ref.h"
#include "model/engine/rng.h"
#include "tests/model/attn_problem.h"
#include "tests/model/ops_fixture.h"
#include "tests/suites.h"

/* ---- fast op vs _ref ---------------------------------------------------- */

/* Tolerances: float32 kernels vs double references, O(1) data. */
#define REF_ATOL 2e-5
#define REF_RTOL 2e-4

static const int lin_shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {300, 130, 150}};

START_TEST(ref_linear)
{
    const int *sh = lin_shapes[_i];
    int N = sh[0], IN = sh[1], OUT = sh[2];
    size_t nx = (size_t)N * IN, nw = (size_t)OUT * IN, ny = (size_t)N * OUT;
    struct rng r;
    rng_seed(&r, 1000 + (uint64_t)_i);
    float *x = rand_normal(&r, nx, 1.0f), *W = rand_normal(&r, nw, 0.2f);
    float *b = rand_normal(&r, OUT, 1.0f), *dy = rand_normal(&r, ny, 1.0f);
    float *y = tfloats(ny), *yr = tfloats(ny);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        op_linear_fwd(y, x, W, with_bias ? b : NULL, N, IN, OUT);
        op_linear_fwd_ref(yr, x, W, with_bias ? b : NULL, N, IN, OUT);
        assert_close("linear y", y, yr, ny, REF_ATOL, REF_RTOL);
    }
    float *dW0 = rand_normal(&r, nw, 1.0f), *db0 = rand_normal(&r, OUT, 1.0f);
    float *dW = copy_of(dW0, nw), *dWr = copy_of(dW0, nw);
    float *db = copy_of(db0, OUT), *dbr = copy_of(db0, OUT);
    float *dx = tfloats(nx), *dxr = tfloats(nx);
    op_linear_bwd(dx, dW, db, dy, x, W, N, IN, OUT, false);
    op_linear_bwd_ref(dxr, dWr, dbr, dy, x, W, N, IN, OUT, false);
    assert_close("linear dx", dx, dxr, nx, REF_ATOL, REF_RTOL);
    assert_close("linear dW", dW, dWr, nw, 1e-4, REF_RTOL);
    assert_close("linear db", db, dbr, OUT, 1e-4, REF_RTOL);
}
END_TEST

static const int ln_shapes[][2] = {{1, 1}, {2, 7}, {5, 64}, {300, 131}};

START_TEST(ref_layernorm)
{
    int N = ln_shapes[_i][0], D = ln_shapes[_i][1];
    size_t n = (size_t)N * D;
    struct rng r;
    rng_seed(&r, 1100 + (uint64_t)_i);
    float *x = rand_normal(&r, n, 2.0f), *g = rand_normal(&r, D, 1.0f);
    float *b = rand_normal(&r, D, 1.0f), *dy = rand_normal(&r, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] += 3.0f;
    float *y = tfloats(n), *yr = tfloats(n), *m = tfloats(N), *mr = tfloats(N);
    float *rs = tfloats(N), *rsr = tfloats(N);
    op_layernorm_fwd(y, m, rs, x, g, b, N, D, 1e-12f);
    op_layernorm_fwd_ref(yr, mr, rsr, x, g, b, N, D, 1e-12f);
    assert_close("layernorm mean", m, mr, N, 1e-6, 1e-6);
    assert_close("layernorm rstd", rs, rsr, N, 1e-6, 1e-5);
    assert_close("layernorm y", y, yr, n, REF_ATOL, REF_RTOL);
    float *dx = tfloats(n), *dxr = tfloats(n);
    float *dg0 = rand_normal(&r, D, 1.0f), *db0 = rand_normal(&r, D, 1.0f);
    float *dg = copy_of(dg0, D), *dgr = copy_of(dg0, D), *db = copy_of(db0, D),
          *dbr = copy_of(db0, D);
    op_layernorm_bwd(dx, dg, db, dy, x, m, rs, g, N, D, false);
    op_layernorm_bwd_ref(dxr, dgr, dbr, dy, x, m, rs, g, N, D, false);
    /* D = 1: dx is exactly 0 in theory, rounding noise in float (rstd ~ 1e6). */
    assert_close("layernorm dx", dx, dxr, n, D == 1 ? 1.0 : 1e-4, 1e-3);
    assert_close("layernorm dg", dg, dgr, D, 1e-4, REF_RTOL);
    assert_close("layernorm db", db, dbr, D, 1e-4, REF_RTOL);
}
END_TEST

START_TEST(ref_embed)
{
    int N = _i == 0 ? 4 : 300, D = _i == 0 ? 3 : 130, V = 50, NP = 40, NT = 2;
    struct rng r;
    rng_seed(&r, 1200 + (uint64_t)_i);
    int *ids = tints(N), *pos = tints(N), *types = tints(N);
    for (int n = 0; n < N; n++) {
        ids[n] = (int)rng_below(&r, V);
        pos[n] = n % NP;
        types[n] = (int)rng_below(&r, NT);
    }
    float *Ww = rand_normal(&r, (size_t)V * D, 1.0f), *Wp = rand_normal(&r, (size_t)NP * D, 1.0f);
    float *Wt = rand_normal(&r, (size_t)NT * D, 1.0f), *dout = rand_normal(&r, (size_t)N * D, 1.0f);
    float *o = tfloats((size_t)N * D), *orf = tfloats((size_t)N * D);
    /* With and without types (NULL types = type 0 everywhere). */
    for (int t = 0; t < 2; t++) {
        op_embed_fwd(o, ids, pos, t ? types : NULL, Ww, Wp, Wt, N, D);
        op_embed_fwd_ref(orf, ids, pos, t ? types : NULL, Ww, Wp, Wt, N, D);
        assert_close("embed out", o, orf, (size_t)N * D, 1e-6, 1e-6);
    }
    float *dWw = tfloats((size_t)V * D), *dWwr = tfloats((size_t)V * D);
    float *dWp = tfloats((size_t)NP * D), *dWpr = tfloats((size_t)NP * D);
    float *dWt = tfloats((size_t)NT * D), *dWtr = tfloats((size_t)NT * D);
    op_embed_bwd(dWw, dWp, dWt, dout, ids, pos, types, N, D);
    op_embed_bwd_ref(dWwr, dWpr, dWtr, dout, ids, pos, types, N, D);
    /* Same rows, same order of additions: bit-identical. */
    assert_bits_equal("embed dWw", dWw, dWwr, (size_t)V * D);
    assert_bits_equal("embed dWp", dWp, dWpr, (size_t)NP * D);
    assert_bits_equal("embed dWt", dWt, dWtr, (size_t)NT * D);
}
END_TEST

/* _i = enum act_kind; n spans several parallel chunks plus a ragged tail. */
START_TEST(ref_act)
{
    enum act_kind a = (enum act_kind)_i;
    size_t n = 40001;
    struct rng r;
    rng_seed(&r, 1300 + (uint64_t)_i);
    float *x = tfloats(n), *dy = rand_normal(&r, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] = 16.0f * rng_uniform(&r) - 8.0f;
    float *y = tfloats(n), *yr = tfloats(n), *dx = tfloats(n), *dxr = tfloats(n);
    op_act_fwd(a, y, x, n);
    op_act_fwd_ref(a, yr, x, n);
    assert_close(act_name(a), y, yr, n, 1e-6, 1e-5);
    op_act_bwd(a, dx, dy, x, n);
    op_act_bwd_ref(a, dxr, dy, x, n);
    assert_close(act_name(a), dx, dxr, n, 1e-6, 1e-5);
    /* In place: y may alias x, dx may alias dy. */
    float *xa = copy_of(x, n), *dya = copy_of(dy, n);
    op_act_bwd(a, dya, dya, x, n);
    assert_bits_equal("act bwd in place", dya, dx, n);
    op_act_fwd(a, xa, xa, n);
    assert_bits_equal("act fwd in place", xa, y, n);
}
END_TEST

START_TEST(ref_dropout)
{
    size_t n = _i == 0 ? 33 : 70001;
    float p = _i == 0 ? 0.5f : 0.1f;
    struct rng r;
    rng_seed(&r, 1400 + (uint64_t)_i);
    float *x = rand_normal(&r, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        if (x[i] == 0.0f)
            x[i] = 1.0f;
    float *y = tfloats(n), *yr = tfloats(n);
    op_dropout_fwd(y, x, n, p, 3, 4);
    op_dropout_fwd_ref(yr, x, n, p, 3, 4);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += (y[i] == 0.0f) != (yr[i] == 0.0f);
    ck_assert_uint_eq(diff, 0);
    assert_close("dropout y", y, yr, n, 0.0, 1e-6);
}
END_TEST

START_TEST(ref_attention)
{
    struct attn_prob a;
    attn_prob_init(&a, &ref_attn_shapes[_i], 1500 + (uint64_t)_i);
    const struct attn_shape *s = &a.s;
    size_t n = (size_t)s->B * s->T * s->D, np = (size_t)s->P * s->D;
    size_t nprob = (size_t)s->B * s->H * s->T * (s->P + s->T);
    float *outr = tfloats(n), *probsr = tfloats(nprob);
    attn_fwd(&a);
    op_attention_fwd_ref(outr, probsr, a.q, a.k, a.v, a.pk, a.pv, a.mask, s->B, s->T, s->D, s->H,
                         s->P, s->drop, a.seed, a.stream, NULL);
    assert_close("attention probs", a.probs, probsr, nprob, 1e-6, 1e-5);
    assert_close("attention out", a.out, outr, n, REF_ATOL, REF_RTOL);

    float *dqr = tfloats(n), *dkr = tfloats(n), *dvr = tfloats(n);
    float *dpkr = NULL, *dpvr = NULL;
    if (s->P > 0) { /* non-zero start: dpk/dpv must accumulate */
        struct rng r;
        rng_seed(&r, 77);
        float *d0 = rand_normal(&r, np, 1.0f), *e0 = rand_normal(&r, np, 1.0f);
        memcpy(a.dpk, d0, np * sizeof(float));
        memcpy(a.dpv, e0, np * sizeof(float));
        dpkr = copy_of(d0, np);
        dpvr = copy_of(e0, np);
    }
    attn_bwd(&a, a.dpk, a.dpv);
    op_attention_bwd_ref(dqr, dkr, dvr, dpkr, dpvr, a.r, a.probs, a.q, a.k, a.v, a.pk, a.pv, a.mask,
                         s->B, s->T, s->D, s->H, s->P, s->drop, a.seed, a.stream, NULL);
    assert_close("attention dq", a.dq, dqr, n, REF_ATOL, REF_RTOL);
    assert_close("attention dk", a.dk, dkr, n, REF_ATOL, REF_RTOL);
    assert_close("attention dv", a.dv, dvr, n, REF_ATOL, REF_RTOL);
    if (s->P > 0) {
        assert_close("attention dpk", a.dpk, dpkr, np, 1e-4, REF_RTOL);
        assert_close("attention dpv", a.dpv, dpvr, np, 1e-4, REF_RTOL);
    }
}
END_TEST

START_TEST(ref_losses)
{
    int N = _i == 0 ? 4 : 64, C = _i == 0 ? 3 : 10;
    struct rng r;
    rng_seed(&r, 1600 + (uint64_t)_i);
    float *z = rand_normal(&r, (size_t)N * C, 3.0f), *d = tfloats((size_t)N * C),
          *dr = tfloats((size_t)N * C);
    int *lab = tints(N);
    for (int n = 0; n < N; n++)
        lab[n] = (int)rng_below(&r, C);
    double l = op_softmax_xent(d, z, lab, N, C), lr = op_softmax_xent_ref(dr, z, lab, N, C);
    ck_assert_double_eq_tol(l, lr, 1e-12 * fabs(lr) + 1e-12);
    assert_close("xent dlogits", d, dr, (size_t)N * C, 1e-7, 1e-6);
    float *p = rand_normal(&r, N, 1.0f), *t = rand_normal(&r, N, 1.0f), *dp = tfloats(N),
          *dpr = tfloats(N);
    double m = op_mse(dp, p, t, N), mr = op_mse_ref(dpr, p, t, N);
    ck_assert_double_eq_tol(m, mr, 1e-12 * fabs(mr) + 1e-12);
    assert_close("mse dpred", dp, dpr, N, 0.0, 1e-6);
}
END_TEST

Suite *ops_ref_suite(void)
{
    Suite *s = suite_create("ops_ref");
    const int tmo = 120; /* seconds; generous for ASan/UBSan builds */

    TCase *tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, tmo);
    tcase_add_loop_test(tc, ref_linear, 0, (int)(sizeof(lin_shapes) / sizeof(lin_shapes[0])));
    tcase_add_loop_test(tc, ref_layernorm, 0, (int)(sizeof(ln_shapes) / sizeof(ln_shapes[0])));
    tcase_add_loop_test(tc, ref_embed, 0, 2);
    tcase_add_loop_test(tc, ref_act, 0, ACT_COUNT);
    tcase_add_loop_test(tc, ref_dropout, 0, 2);
    tcase_add_loop_test(tc, ref_attention, 0, n_ref_attn_shapes);
    tcase_add_loop_test(tc, ref_losses, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
