/*
 * bf16: the float32 -> bfloat16 conversion (round to nearest even, specials, subnormals) and
 * every bf16 matrix product against fp32.
 *
 * Tolerance of a bf16 product, per output element y = sum_k x_k w_k (K = reduction length):
 * each input is rounded once to bf16 with relative error <= u = 2^-8 (8 significant bits,
 * round to nearest), so each product x_k w_k is off by <= (2u + u^2)|x_k||w_k|; the fp32
 * accumulation (oneDNN's and the reference's) adds <= K * 2^-24 * sum |x_k||w_k| each.  Hence
 *     |y_bf16 - y_ref| <= (2 * 2^-8 + 2^-16 + 2 K 2^-24) * sum_k |x_k| |w_k|    (+ 1e-30)
 * checked element by element against a double-precision reference of the fp32 inputs.
 * On a CPU without AVX512_BF16/AMX the product tests print why they are skipped.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine/bf16.h"
#include "model/engine/linear.h"
#include "model/engine/matmul.h"
#include "model/engine/matmul_dnnl.h"
#include "model/engine/mem.h"
#include "tests/suites.h"

static float f_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static bool skip_without_bf16(const char *test)
{
    if (bf16_cpu_ok())
        return false;
    fprintf(stderr, "SKIPPED bf16/%s: this CPU has neither AVX512_BF16 nor AMX-BF16\n", test);
    return true;
}

START_TEST(narrow_rounds_to_nearest_even)
{
    static const struct { uint32_t in; uint16_t out; } c[] = {
        {0x3F800000u, 0x3F80}, /* 1.0 exact */
        {0x3F808000u, 0x3F80}, /* 1 + 2^-8: tie, lower is even -> down */
        {0x3F818000u, 0x3F82}, /* 1 + 3*2^-8: tie, lower is odd -> up */
        {0x3F808001u, 0x3F81}, /* just above the tie -> up */
        {0x3F807FFFu, 0x3F80}, /* just below the tie -> down */
        {0xBF818000u, 0xBF82}, /* negative tie, odd -> away (magnitude up) */
        {0x7F7FFFFFu, 0x7F80}, /* FLT_MAX rounds to +inf */
        {0x7F800000u, 0x7F80}, /* +inf */
        {0xFF800000u, 0xFF80}, /* -inf */
        {0x7FC00000u, 0x7FC0}, /* quiet NaN */
        {0x7F800001u, 0x7FC0}, /* NaN with only low payload bits stays NaN (quiet) */
        {0xFF800001u, 0xFFC0}, /* negative NaN keeps its sign */
        {0x80000000u, 0x8000}, /* -0 */
        {0x00000001u, 0x0000}, /* smallest float subnormal -> +0 */
        {0x00010000u, 0x0001}, /* smallest bf16 subnormal, kept (no flush to zero) */
        {0x00008000u, 0x0000}, /* subnormal tie, even -> down */
        {0x00018000u, 0x0002}, /* subnormal tie, odd -> up */
        {0x007FFFFFu, 0x0080}, /* largest subnormal rounds up to the smallest normal */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint16_t got = bf16_from_f32(f_of(c[i].in));
        ck_assert_msg(got == c[i].out, "0x%08x -> 0x%04x, expected 0x%04x", c[i].in, got,
                      c[i].out);
    }
}
END_TEST

START_TEST(vector_matches_scalar_and_widen_is_exact)
{
    enum { n = 100003 }; /* above the parallel threshold, odd tail */
    float *src = malloc(n * sizeof *src), *back = malloc(n * sizeof *back);
    bf16_t *h = malloc(n * sizeof *h);
    ck_assert(src && back && h);
    uint32_t s = 12345u;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        src[i] = f_of(s); /* every bit pattern: NaNs, infs, subnormals included */
    }
    bf16_narrow(h, src, n);
    bf16_widen(back, h, n);
    for (int i = 0; i < n; i++) {
        ck_assert_uint_eq(h[i], bf16_from_f32(src[i]));
        uint32_t b;
        memcpy(&b, &back[i], sizeof b);
        ck_assert_uint_eq(b, (uint32_t)h[i] << 16);
        if (isfinite(src[i]) && isfinite(back[i]) && fabsf(src[i]) >= 1.1754944e-38f)
            ck_assert(fabsf(back[i] - src[i]) <= fabsf(src[i]) * 0x1p-8f);
    }
    free(src);
    free(back);
    free(h);
}
END_TEST

/* ---- products --------------------------------------------------------------------------- */

static void fill(float *v, size_t n, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
}

/* The stated bound for one element: sum |a||b| times (2u + u^2 + 2 K 2^-24). */
static double bound(double sabs, int K)
{
    return (2.0 * 0x1p-8 + 0x1p-16 + 2.0 * K * 0x1p-24) * sabs + 1e-30;
}

/* op(A)[m][k] and op(B)[k][n] of a row-major stored matrix with stride ld. */
static float at(const float *A, int ld, bool t, int r, int c)
{
    return t ? A[(size_t)c * ld + r] : A[(size_t)r * ld + c];
}

/* C = alpha op(A) op(B) + beta C0 through matmul_dnnl_bf16, each element within the bound. */
static void check_raw(struct matmul_dnnl *d, int M, int N, int K, bool ta, bool tb, float alpha,
                      float beta, int pad)
{
    int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * ar * lda), *B = malloc(sizeof(float) * br * ldb);
    float *C = malloc(sizeof(float) * M * ldc), *C0 = malloc(sizeof(float) * M * ldc);
    bf16_t *Ah = malloc(sizeof(bf16_t) * ar * lda), *Bh = malloc(sizeof(bf16_t) * br * ldb);
    fill(A, (size_t)ar * lda, 1u + (unsigned)M);
    fill(B, (size_t)br * ldb, 2u + (unsigned)N);
    fill(C0, (size_t)M * ldc, 3u + (unsigned)K);
    memcpy(C, C0, sizeof(float) * M * ldc);
    bf16_narrow(Ah, A, (size_t)ar * lda);
    bf16_narrow(Bh, B, (size_t)br * ldb);
    struct err e = {0};
    ck_assert_int_eq(matmul_dnnl_bf16(d, ta, tb, M,
                                      N, K, alpha, Ah, lda, Bh, ldb, beta, C, ldc, &e),
                     0);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double ref = 0.0, sabs = 0.0;
            for (int k = 0; k < K; k++) {
                double p = (double)at(A, lda, ta, m, k) * (double)at(B, ldb, tb, k, n);
                ref += p;
                sabs += fabs(p);
            }
            ref = (double)alpha * ref + (double)beta * (double)C0[(size_t)m * ldc + n];
            double err = fabs((double)C[(size_t)m * ldc + n] - ref);
            ck_assert_msg(err <= fabs((double)alpha) * bound(sabs, K) + 1e-6 * fabs(ref),
                          "M%d N%d K%d ta%d tb%d (%d,%d): err %g > bound %g", M, N, K, ta, tb,
                          m, n, err, bound(sabs, K));
        }
    free(A);
    free(B);
    free(C);
    free(C0);
    free(Ah);
    free(Bh);
}

static const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {64, 48, 96}, {129, 31, 257}};

START_TEST(raw_products_all_transposes_strides_scales)
{
    if (skip_without_bf16("raw_products"))
        return;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct matmul_dnnl *d = NULL;
    struct err e = {0};
    ck_assert_int_eq(matmul_dnnl_create(&d, &acct, &e), 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_raw(d, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t & 2, 1.0f, 0.0f, 0);
            check_raw(d, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t & 2, 0.5f, 1.0f, 3);
        }
    matmul_dnnl_destroy(d);
    ck_assert_uint_eq(acct.nblocks, 0);
}
END_TEST

/* The three Linear products in bf16 vs fp32 (the fp32 weight, or the weight stored in bf16). */
static void check_linear(const struct matmul_be *be, int N, int IN, int OUT, bool w_bf16)
{
    size_t nx = (size_t)N * IN, nw = (size_t)OUT * IN, ny = (size_t)N * OUT;
    float *x = malloc(nx * 4), *W = malloc(nw * 4), *dy = malloc(ny * 4), *b = malloc(OUT * 4);
    float *y = malloc(ny * 4), *dx = calloc(nx, 4), *dW = calloc(nw, 4), *db = calloc(OUT, 4);
    bf16_t *Wh = malloc(nw * 2);
    fill(x, nx, 11u);
    fill(W, nw, 12u);
    fill(dy, ny, 13u);
    fill(b, (size_t)OUT, 14u);
    bf16_narrow(Wh, W, nw);
    struct mm_mat wm = w_bf16 ? (struct mm_mat){.bf16 = Wh} : (struct mm_mat){.f32 = W};
    struct err e = {0};
    ck_assert_int_eq(op_linear_fwd_be(be, y, x, wm, b, N, IN, OUT, &e), 0);
    ck_assert_int_eq(op_linear_bwd_be(be, dx, dW, db, dy, x, wm, N, IN, OUT, false, &e), 0);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) { /* y = x W^T + b, K = IN */
            double ref = (double)b[o], sabs = 0.0;
            for (int i = 0; i < IN; i++) {
                ref += (double)x[(size_t)n * IN + i] * (double)W[(size_t)o * IN + i];
                sabs += fabs((double)x[(size_t)n * IN + i] * (double)W[(size_t)o * IN + i]);
            }
            ck_assert(fabs((double)y[(size_t)n * OUT + o] - ref) <= bound(sabs, IN) + 1e-6 * fabs(ref));
        }
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IN; i++) { /* dx = dy W, K = OUT */
            double ref = 0.0, sabs = 0.0;
            for (int o = 0; o < OUT; o++) {
                ref += (double)dy[(size_t)n * OUT + o] * (double)W[(size_t)o * IN + i];
                sabs += fabs((double)dy[(size_t)n * OUT + o] * (double)W[(size_t)o * IN + i]);
            }
            ck_assert(fabs((double)dx[(size_t)n * IN + i] - ref) <= bound(sabs, OUT));
        }
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++) { /* dW = dy^T x, K = N */
            double ref = 0.0, sabs = 0.0;
            for (int n = 0; n < N; n++) {
                ref += (double)dy[(size_t)n * OUT + o] * (double)x[(size_t)n * IN + i];
                sabs += fabs((double)dy[(size_t)n * OUT + o] * (double)x[(size_t)n * IN + i]);
            }
            ck_assert(fabs((double)dW[(size_t)o * IN + i] - ref) <= bound(sabs, N));
        }
    for (int o = 0; o < OUT; o++) { /* the bias gradient stays an fp32 sum */
        double ref = 0.0;
        for (int n = 0; n < N; n++)
            ref += (double)dy[(size_t)n * OUT + o];
        ck_assert(fabs((double)db[o] - ref) <= 1e-5 * (1.0 + fabs(ref)));
    }
    free(x); free(W); free(dy); free(b); free(y); free(dx); free(dW); free(db); free(Wh);
}

START_TEST(linear_products_against_fp32)
{
    if (skip_without_bf16("linear_products"))
        return;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct matmul_be be = {MATMUL_BF16, NULL};
    struct err e = {0};
    ck_assert_int_eq(matmul_dnnl_create(&be.dnnl, &acct, &e), 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        check_linear(&be, shapes[s][0], shapes[s][1], shapes[s][2], false);
        check_linear(&be, shapes[s][0], shapes[s][1], shapes[s][2], true);
    }
    matmul_dnnl_destroy(be.dnnl);
    ck_assert_uint_eq(acct.nblocks, 0);
}
END_TEST

START_TEST(primitives_are_cached_per_shape)
{
    if (skip_without_bf16("primitives_are_cached"))
        return;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct matmul_be be = {MATMUL_BF16, NULL};
    struct err e = {0};
    ck_assert_int_eq(matmul_dnnl_create(&be.dnnl, &acct, &e), 0);
    check_linear(&be, 20, 24, 16, true);
    long made = matmul_dnnl_created(be.dnnl);
    ck_assert_int_eq(made, 3); /* forward, dX, dW */
    for (int r = 0; r < 3; r++)
        check_linear(&be, 20, 24, 16, r & 1);
    ck_assert_int_eq(matmul_dnnl_created(be.dnnl), made);
    matmul_dnnl_destroy(be.dnnl);
}
END_TEST

START_TEST(fp32_backend_is_the_sgemm_path)
{
    /* be == NULL and an fp32 backend give exactly op_linear_fwd/bwd's bits */
    enum { N = 9, IN = 11, OUT = 7 };
    float x[N * IN], W[OUT * IN], dy[N * OUT], b[OUT];
    float y1[N * OUT], y2[N * OUT], dx1[N * IN], dx2[N * IN];
    float dW1[OUT * IN] = {0}, dW2[OUT * IN] = {0}, db1[OUT] = {0}, db2[OUT] = {0};
    fill(x, N * IN, 1);
    fill(W, OUT * IN, 2);
    fill(dy, N * OUT, 3);
    fill(b, OUT, 4);
    struct matmul_be be = {MATMUL_FP32, NULL};
    struct err e = {0};
    op_linear_fwd(y1, x, W, b, N, IN, OUT);
    ck_assert_int_eq(op_linear_fwd_be(&be, y2, x, (struct mm_mat){.f32 = W}, b, N, IN, OUT, &e), 0);
    op_linear_bwd(dx1, dW1, db1, dy, x, W, N, IN, OUT, false);
    ck_assert_int_eq(op_linear_bwd_be(NULL, dx2, dW2, db2, dy, x, (struct mm_mat){.f32 = W}, N,
                                      IN, OUT, false, &e),
                     0);
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    ck_assert(memcmp(dx1, dx2, sizeof dx1) == 0);
    ck_assert(memcmp(dW1, dW2, sizeof dW1) == 0);
    ck_assert(memcmp(db1, db2, sizeof db1) == 0);
}
END_TEST

Suite *bf16_suite(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("conversion");
    tcase_add_test(tc, narrow_rounds_to_nearest_even);
    tcase_add_test(tc, vector_matches_scalar_and_widen_is_exact);
    tcase_add_test(tc, fp32_backend_is_the_sgemm_path);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("products");
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, raw_products_all_transposes_strides_scales);
    tcase_add_test(tp, linear_products_against_fp32);
    tcase_add_test(tp, primitives_are_cached_per_shape);
    suite_add_tcase(s, tp);
    return s;
}
