/*
 * Finite-difference gradient checks of every op of model/engine/ops (linear, embedding,
 * LayerNorm, activations, dropout, attention with and without a prefix, losses), and a check
 * that the checker itself fails on a wrong gradient.
 */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "tests/gradcheck.h"
#include "tests/model/attn_problem.h"
#include "tests/model/ops_fixture.h"
#include "tests/suites.h"

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
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

Suite *ops_gradcheck_suite(void)
{
    Suite *s = suite_create("ops_gradcheck");
    const int tmo = 120; /* seconds; generous for ASan/UBSan builds */
    int n_gc_attn = (int)(sizeof(gc_attn_shapes) / sizeof(gc_attn_shapes[0]));

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
    return s;
}
