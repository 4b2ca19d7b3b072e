/*
 * Tests of model/ops: finite-difference gradient checks of every op, the
 * BLAS/OpenMP kernels against their naive _ref twins over several shapes,
 * and the contract's semantics (frozen = NULL, accumulate vs overwrite,
 * attention masking, dropout masks, determinism across thread counts,
 * numerically stable losses).
 *
 * Buffers come from talloc(); the checked fixture frees them after every
 * test, so ASan's leak check stays meaningful without per-test cleanup.
 */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/gradcheck.h"
#include "model/engine/ops.h"
#include "model/engine/ops_ref.h"
#include "model/engine/rng.h"
#include "tests/suites.h"

/* ---- scratch allocations freed by the fixture --------------------------- */

#define TMAX 64
static void *tmp_blocks[TMAX];
static int tmp_count;

static void *talloc(size_t bytes)
{
    ck_assert_int_lt(tmp_count, TMAX);
    void *p = calloc(1, bytes ? bytes : 1);
    ck_assert_ptr_nonnull(p);
    tmp_blocks[tmp_count++] = p;
    return p;
}

static float *tfloats(size_t n)
{
    return talloc(n * sizeof(float));
}

static int *tints(size_t n)
{
    return talloc(n * sizeof(int));
}

static void tmp_setup(void)
{
    tmp_count = 0;
}

static void tmp_teardown(void)
{
    while (tmp_count > 0)
        free(tmp_blocks[--tmp_count]);
}

/* ---- data and comparison helpers ---------------------------------------- */

static float *rand_normal(struct rng *r, size_t n, float std)
{
    float *a = tfloats(n);
    for (size_t i = 0; i < n; i++)
        a[i] = std * rng_normal(r);
    return a;
}

static float *copy_of(const float *a, size_t n)
{
    float *c = tfloats(n);
    memcpy(c, a, n * sizeof(*c));
    return c;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Every |got - want| <= atol + rtol |want|; reports the worst element. */
static void assert_close(const char *what, const float *got, const float *want, size_t n,
                         double atol, double rtol)
{
    size_t worst = 0;
    double worst_excess = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double excess = d - (atol + rtol * fabs((double)want[i]));
        if (!(excess <= worst_excess) || isnan(d)) {
            worst_excess = isnan(d) ? HUGE_VAL : excess;
            worst = i;
        }
    }
    ck_assert_msg(n == 0 || worst_excess <= 0.0, "%s: element %zu: got %.9g want %.9g", what, worst,
                  n ? (double)got[worst] : 0.0, n ? (double)want[worst] : 0.0);
}

/* got == 2 * once, elementwise, to float rounding (accumulation check). */
static void assert_doubled(const char *what, const float *got, const float *once, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double g = (double)got[i], w = 2.0 * (double)once[i];
        ck_assert_msg(fabs(g - w) <= 1e-5 * (1.0 + fabs(w)), "%s: element %zu: %.9g vs 2 * %.9g",
                      what, i, g, (double)once[i]);
    }
}

/* One ck_assert per array, not per element: in fork mode every assertion is
 * a message to the parent process, and per-element asserts dominate runtime. */
static void assert_bits_equal(const char *what, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    while (i < n && memcmp(&a[i], &b[i], sizeof(float)) == 0)
        i++;
    ck_assert_msg(i == n, "%s: element %zu differs: %.9g vs %.9g", what, i,
                  i < n ? (double)a[i] : 0.0, i < n ? (double)b[i] : 0.0);
}

/* Probe every coordinate (tensors here are small). */
#define GRADCHECK(name, loss, ctx, x, g, n)                                                        \
    do {                                                                                           \
        char rep_[384];                                                                            \
        int rc_ = gradcheck_tensor((name), (loss), (ctx), (x), (g), (n), 0, 17, GRADCHECK_TOL,     \
                                   rep_, sizeof(rep_));                                            \
        ck_assert_msg(rc_ == 0, "%s", rep_);                                                       \
    } while (0)

/* ---- gradient checks ---------------------------------------------------- */

struct lin_ctx {
    const float *x, *W, *b, *r; /* x (N, IN)  W (OUT, IN)  b (OUT) or NULL  r (N, OUT) */
    float *y;                   /* (N, OUT) */
    int N, IN, OUT;
};

static double lin_loss(void *c)
{
    struct lin_ctx *l = c;
    op_linear_fwd(l->y, l->x, l->W, l->b, l->N, l->IN, l->OUT);
    return dot(l->y, l->r, (size_t)l->N * (size_t)l->OUT);
}

/* _i = 0: with bias, 1: without bias. */
START_TEST(gc_linear)
{
    struct rng r;
    rng_seed(&r, 100 + (uint64_t)_i);
    int N = 5, IN = 7, OUT = 4;
    float *x = rand_normal(&r, (size_t)N * IN, 1.0f), *W = rand_normal(&r, (size_t)OUT * IN, 0.5f);
    float *b = _i == 0 ? rand_normal(&r, OUT, 0.5f) : NULL;
    float *ry = rand_normal(&r, (size_t)N * OUT, 1.0f);
    struct lin_ctx c = {x, W, b, ry, tfloats((size_t)N * OUT), N, IN, OUT};
    float *dx = tfloats((size_t)N * IN), *dW = tfloats((size_t)OUT * IN), *db = tfloats(OUT);
    op_linear_bwd(dx, dW, b ? db : NULL, ry, x, W, N, IN, OUT, false);
    GRADCHECK("linear dx", lin_loss, &c, x, dx, (size_t)N * IN);
    GRADCHECK("linear dW", lin_loss, &c, W, dW, (size_t)OUT * IN);
    if (b)
        GRADCHECK("linear db", lin_loss, &c, b, db, OUT);
}
END_TEST

struct emb_ctx {
    const int *ids, *pos, *types;  /* (N) */
    const float *Ww, *Wp, *Wt, *r; /* tables (rows, D); r (N, D) */
    float *out;                    /* (N, D) */
    int N, D;
};

static double emb_loss(void *c)
{
    struct emb_ctx *e = c;
    op_embed_fwd(e->out, e->ids, e->pos, e->types, e->Ww, e->Wp, e->Wt, e->N, e->D);
    return dot(e->out, e->r, (size_t)e->N * (size_t)e->D);
}

START_TEST(gc_embed)
{
    struct rng r;
    rng_seed(&r, 200);
    enum { N = 6, D = 3, V = 5, NP = 4, NT = 2 };
    static const int ids[N] = {1, 3, 1, 0, 4, 3}; /* repeats: scatter-add must accumulate */
    static const int pos[N] = {0, 1, 2, 3, 0, 1};
    static const int types[N] = {0, 0, 1, 1, 0, 1};
    float *Ww = rand_normal(&r, V * D, 1.0f), *Wp = rand_normal(&r, NP * D, 1.0f);
    float *Wt = rand_normal(&r, NT * D, 1.0f), *ry = rand_normal(&r, N * D, 1.0f);
    struct emb_ctx c = {ids, pos, types, Ww, Wp, Wt, ry, tfloats(N * D), N, D};
    float *dWw = tfloats(V * D), *dWp = tfloats(NP * D), *dWt = tfloats(NT * D);
    op_embed_bwd(dWw, dWp, dWt, ry, ids, pos, types, N, D);
    GRADCHECK("embed dWw", emb_loss, &c, Ww, dWw, V * D);
    GRADCHECK("embed dWp", emb_loss, &c, Wp, dWp, NP * D);
    GRADCHECK("embed dWt", emb_loss, &c, Wt, dWt, NT * D);
}
END_TEST

struct ln_ctx {
    const float *x, *g, *b, *r; /* x, r (N, D)  g, b (D) */
    float *y, *mean, *rstd;     /* (N, D), (N), (N) */
    int N, D;
};

static double ln_loss(void *c)
{
    struct ln_ctx *l = c;
    op_layernorm_fwd(l->y, l->mean, l->rstd, l->x, l->g, l->b, l->N, l->D, 1e-5f);
    return dot(l->y, l->r, (size_t)l->N * (size_t)l->D);
}

START_TEST(gc_layernorm)
{
    struct rng r;
    rng_seed(&r, 300);
    int N = 3, D = 7;
    float *x = rand_normal(&r, (size_t)N * D, 1.0f);
    for (int i = 0; i < N * D; i++)
        x[i] += 0.5f; /* non-zero mean, so the centring term matters */
    float *g = rand_normal(&r, D, 1.0f), *b = rand_normal(&r, D, 1.0f);
    float *ry = rand_normal(&r, (size_t)N * D, 1.0f);
    struct ln_ctx c = {x, g, b, ry, tfloats((size_t)N * D), tfloats(N), tfloats(N), N, D};
    ln_loss(&c);
    float *dx = tfloats((size_t)N * D), *dg = tfloats(D), *db = tfloats(D);
    op_layernorm_bwd(dx, dg, db, ry, x, c.mean, c.rstd, g, N, D, false);
    GRADCHECK("layernorm dx", ln_loss, &c, x, dx, (size_t)N * D);
    GRADCHECK("layernorm dg", ln_loss, &c, g, dg, D);
    GRADCHECK("layernorm db", ln_loss, &c, b, db, D);
}
END_TEST

struct act_ctx {
    enum act_kind a;
    const float *x, *r; /* (n) */
    float *y;           /* (n) */
    size_t n;
};

static double act_loss(void *c)
{
    struct act_ctx *t = c;
    op_act_fwd(t->a, t->y, t->x, t->n);
    return dot(t->y, t->r, t->n);
}

/* _i = enum act_kind. */
START_TEST(gc_act)
{
    struct rng r;
    rng_seed(&r, 400 + (uint64_t)_i);
    size_t n = 64;
    float *x = tfloats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = 6.0f * rng_uniform(&r) - 3.0f;
    x[0] = 0.0f; /* ReLU kink exactly at a probe: must be skipped, not failed */
    float *ry = rand_normal(&r, n, 1.0f), *dx = tfloats(n);
    struct act_ctx c = {(enum act_kind)_i, x, ry, tfloats(n), n};
    op_act_bwd((enum act_kind)_i, dx, ry, x, n);
    GRADCHECK(act_name((enum act_kind)_i), act_loss, &c, x, dx, n);
}
END_TEST

struct drop_ctx {
    const float *x, *r; /* (n) */
    float *y;           /* (n) */
    size_t n;
    float p;
};

static double drop_loss(void *c)
{
    struct drop_ctx *d = c;
    op_dropout_fwd(d->y, d->x, d->n, d->p, 5, 9);
    return dot(d->y, d->r, d->n);
}

START_TEST(gc_dropout)
{
    struct rng r;
    rng_seed(&r, 500);
    size_t n = 50;
    float *x = rand_normal(&r, n, 1.0f), *ry = rand_normal(&r, n, 1.0f), *dx = tfloats(n);
    struct drop_ctx c = {x, ry, tfloats(n), n, 0.3f};
    op_dropout_bwd(dx, ry, n, 0.3f, 5, 9);
    GRADCHECK("dropout dx", drop_loss, &c, x, dx, n);
}
END_TEST

/* Attention test problem: shapes, inputs and gradient buffers. */
struct attn_shape {
    int B, T, D, H, P;
    float drop;
};

struct attn_prob {
    struct attn_shape s;
    float *q, *k, *v;    /* (B, T, D) */
    float *pk, *pv;      /* (P, D) or NULL */
    int *mask;           /* (B, T) */
    float *out, *probs;  /* (B, T, D), (B, H, T, P+T) */
    float *ws;           /* op_attention_ws_floats */
    float *r;            /* (B, T, D) loss weights = dout */
    float *dq, *dk, *dv; /* (B, T, D) */
    float *dpk, *dpv;    /* (P, D) or NULL */
    uint64_t seed, stream;
};

/* Random inputs; odd sequences get their last third padded. */
static void attn_prob_init(struct attn_prob *a, const struct attn_shape *s, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    memset(a, 0, sizeof(*a));
    a->s = *s;
    size_t n = (size_t)s->B * s->T * s->D, np = (size_t)s->P * s->D;
    a->q = rand_normal(&r, n, 1.0f);
    a->k = rand_normal(&r, n, 1.0f);
    a->v = rand_normal(&r, n, 1.0f);
    if (s->P > 0) {
        a->pk = rand_normal(&r, np, 1.0f);
        a->pv = rand_normal(&r, np, 1.0f);
        a->dpk = tfloats(np);
        a->dpv = tfloats(np);
    }
    a->mask = tints((size_t)s->B * s->T);
    for (int b = 0; b < s->B; b++)
        for (int t = 0; t < s->T; t++)
            a->mask[b * s->T + t] = (b % 2 == 1 && s->T > 1 && t >= s->T - (s->T + 2) / 3) ? 0 : 1;
    a->out = tfloats(n);
    a->probs = tfloats((size_t)s->B * s->H * s->T * (s->P + s->T));
    a->ws = tfloats(op_attention_ws_floats(s->B, s->T, s->D, s->H, s->P));
    a->r = rand_normal(&r, n, 1.0f);
    a->dq = tfloats(n);
    a->dk = tfloats(n);
    a->dv = tfloats(n);
    a->seed = 42;
    a->stream = 7;
}

static void attn_fwd(struct attn_prob *a)
{
    const struct attn_shape *s = &a->s;
    op_attention_fwd(a->out, a->probs, a->q, a->k, a->v, a->pk, a->pv, a->mask, s->B, s->T, s->D,
                     s->H, s->P, s->drop, a->seed, a->stream, a->ws);
}

static void attn_bwd(struct attn_prob *a, float *dpk, float *dpv)
{
    const struct attn_shape *s = &a->s;
    op_attention_bwd(a->dq, a->dk, a->dv, dpk, dpv, a->r, a->probs, a->q, a->k, a->v, a->pk, a->pv,
                     a->mask, s->B, s->T, s->D, s->H, s->P, s->drop, a->seed, a->stream, a->ws);
}

static double attn_loss(void *c)
{
    struct attn_prob *a = c;
    attn_fwd(a);
    return dot(a->out, a->r, (size_t)a->s.B * a->s.T * a->s.D);
}

static const struct attn_shape gc_attn_shapes[] = {
    {2, 4, 6, 2, 0, 0.0f},
    {2, 4, 6, 2, 0, 0.2f},
    {2, 4, 6, 2, 3, 0.0f},
    {2, 4, 6, 2, 3, 0.25f},
};

START_TEST(gc_attention)
{
    struct attn_prob a;
    attn_prob_init(&a, &gc_attn_shapes[_i], 600 + (uint64_t)_i);
    const struct attn_shape *s = &a.s;
    size_t n = (size_t)s->B * s->T * s->D, np = (size_t)s->P * s->D;
    attn_fwd(&a);
    attn_bwd(&a, a.dpk, a.dpv);
    GRADCHECK("attention dq", attn_loss, &a, a.q, a.dq, n);
    GRADCHECK("attention dk", attn_loss, &a, a.k, a.dk, n);
    GRADCHECK("attention dv", attn_loss, &a, a.v, a.dv, n);
    if (s->P > 0) {
        GRADCHECK("attention dpk", attn_loss, &a, a.pk, a.dpk, np);
        GRADCHECK("attention dpv", attn_loss, &a, a.pv, a.dpv, np);
    }
}
END_TEST

struct xent_ctx {
    const float *logits; /* (N, C) */
    const int *labels;   /* (N) */
    int N, C;
};

static double xent_loss(void *c)
{
    struct xent_ctx *x = c;
    return op_softmax_xent(NULL, x->logits, x->labels, x->N, x->C);
}

struct mse_ctx {
    const float *pred, *target; /* (N) */
    int N;
};

static double mse_loss(void *c)
{
    struct mse_ctx *m = c;
    return op_mse(NULL, m->pred, m->target, m->N);
}

START_TEST(gc_losses)
{
    struct rng r;
    rng_seed(&r, 700);
    enum { N = 3, C = 5, M = 7 };
    static const int labels[N] = {4, 0, 2};
    float *logits = rand_normal(&r, N * C, 2.0f), *dl = tfloats(N * C);
    op_softmax_xent(dl, logits, labels, N, C);
    struct xent_ctx xc = {logits, labels, N, C};
    GRADCHECK("softmax_xent dlogits", xent_loss, &xc, logits, dl, N * C);

    float *pred = rand_normal(&r, M, 1.0f), *tgt = rand_normal(&r, M, 1.0f), *dp = tfloats(M);
    op_mse(dp, pred, tgt, M);
    struct mse_ctx mc = {pred, tgt, M};
    GRADCHECK("mse dpred", mse_loss, &mc, pred, dp, M);
}
END_TEST

/* The checker itself must be able to fail: corrupt one gradient entry. */
START_TEST(gc_detects_wrong_gradient)
{
    struct rng r;
    rng_seed(&r, 800);
    int N = 4, IN = 3, OUT = 2;
    float *x = rand_normal(&r, (size_t)N * IN, 1.0f), *W = rand_normal(&r, (size_t)OUT * IN, 1.0f);
    float *ry = rand_normal(&r, (size_t)N * OUT, 1.0f), *dW = tfloats((size_t)OUT * IN);
    struct lin_ctx c = {x, W, NULL, ry, tfloats((size_t)N * OUT), N, IN, OUT};
    op_linear_bwd(NULL, dW, NULL, ry, x, W, N, IN, OUT, false);
    float *W0 = copy_of(W, (size_t)OUT * IN);
    dW[4] *= 1.1f;
    char rep[384];
    ck_assert_int_eq(gradcheck_tensor("bad dW", lin_loss, &c, W, dW, (size_t)OUT * IN, 0, 1,
                                      GRADCHECK_TOL, rep, sizeof(rep)),
                     1);
    ck_assert_msg(strstr(rep, "at [4]") != NULL, "report should name index 4: %s", rep);
    assert_bits_equal("probed tensor restored", W, W0, (size_t)OUT * IN);
    dW[4] = NAN;
    ck_assert_int_eq(gradcheck_tensor("nan dW", lin_loss, &c, W, dW, (size_t)OUT * IN, 3, 1,
                                      GRADCHECK_TOL, rep, sizeof(rep)),
                     1);
}
END_TEST

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

static const struct attn_shape ref_attn_shapes[] = {
    {1, 1, 4, 1, 0, 0.0f},   {2, 5, 6, 2, 0, 0.1f},   {2, 7, 12, 3, 2, 0.0f},
    {3, 9, 8, 2, 4, 0.3f},   {2, 33, 64, 4, 5, 0.1f}, /* big enough for the parallel path */
    {3, 20, 48, 2, 0, 0.0f},
};

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

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    const int tmo = 120; /* seconds; generous for ASan/UBSan builds */
    int n_gc_attn = (int)(sizeof(gc_attn_shapes) / sizeof(gc_attn_shapes[0]));
    int n_ref_attn = (int)(sizeof(ref_attn_shapes) / sizeof(ref_attn_shapes[0]));

    TCase *tc = tcase_create("gradcheck");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, tmo);
    tcase_add_loop_test(tc, gc_linear, 0, 2);
    tcase_add_test(tc, gc_embed);
    tcase_add_test(tc, gc_layernorm);
    tcase_add_loop_test(tc, gc_act, 0, ACT_COUNT);
    tcase_add_test(tc, gc_dropout);
    tcase_add_loop_test(tc, gc_attention, 0, n_gc_attn);
    tcase_add_test(tc, gc_losses);
    tcase_add_test(tc, gc_detects_wrong_gradient);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, tmo);
    tcase_add_loop_test(tc, ref_linear, 0, (int)(sizeof(lin_shapes) / sizeof(lin_shapes[0])));
    tcase_add_loop_test(tc, ref_layernorm, 0, (int)(sizeof(ln_shapes) / sizeof(ln_shapes[0])));
    tcase_add_loop_test(tc, ref_embed, 0, 2);
    tcase_add_loop_test(tc, ref_act, 0, ACT_COUNT);
    tcase_add_loop_test(tc, ref_dropout, 0, 2);
    tcase_add_loop_test(tc, ref_attention, 0, n_ref_attn);
    tcase_add_loop_test(tc, ref_losses, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("semantics");
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
    tcase_add_loop_test(tc, attention_query_subset_equals_full, 0, n_ref_attn);
    tcase_add_test(tc, xent_stable_for_huge_logits);
    tcase_add_test(tc, act_names_roundtrip);
    tcase_add_loop_test(tc, act_extreme_inputs, 0, ACT_COUNT);
    tcase_add_loop_test(tc, elementwise_helpers, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
