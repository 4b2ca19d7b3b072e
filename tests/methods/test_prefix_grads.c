/*
 * Prefix tuning (methods/prefix.c): gradients of every prefix tensor, by directional finite
 * differences and against an independent double-precision backward, of the module alone and
 * through a 2-layer encoder; accumulation, and composition with another trainable hook.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "tests/gradcheck.h"
#include "tests/methods/prefix_fixture.h"
#include "tests/suites.h"

/* ---- directional finite differences ---------------------------------------- */

/*
 * Why directions and not coordinates: the tiny model's float32 loss carries
 * rounding noise of ~1e-6 (measured; ~1e-5 for the module loss below, whose
 * value is ~60), i.e. ~5e-4 in a central difference at h = 1e-3.  Many single
 * coordinates have gradients of that order (P rows share the attention mass,
 * each W2 entry feeds one feature, cancellations), so coordinate probes are
 * flaky under any change of compiler flags; directional derivatives sum over
 * the whole tensor and stand far above the noise.  Every coordinate is checked
 * instead against an independent double-precision backward (grad_module).
 *
 * The loss reads the tensor as x = x0 + Σ_j t_j v_j and gradcheck probes the
 * t_j, whose analytic gradient is g · v_j (v fixed before probing, so any v
 * is a valid check).  Directions:
 *   - four aligned with the analytic gradient's signs, v_i ∝ sign(g_i)|n_i|:
 *     no cancellation, and a wrong sign or scale anywhere in g shows;
 *   - two plain random ones, v ∝ n, redrawn while |g · n| < |g| / 2.
 * Each is scaled so that the derivative is ±DIR_TARGET, far above the noise,
 * but capped so that no element moves by more than DIR_MAX_STEP per probe:
 * small steps keep curvature and ReLU kinks out of the way.
 */
#define DIR_ALIGNED  4
#define DIR_N        6
#define DIR_MAX_STEP 1e-2
#define DIR_TARGET   10.0
struct dirck {
    double (*loss)(void *);
    void *ctx;
    float *x; /* (n) the tensor the loss reads */
    size_t n;
    float *x0;       /* (n) */
    float *v[DIR_N]; /* (n) each */
    float t[DIR_N], gt[DIR_N];
};

static double dir_loss(void *ctx)
{
    struct dirck *d = ctx;
    for (size_t i = 0; i < d->n; i++) {
        float x = d->x0[i];
        for (int j = 0; j < DIR_N; j++)
            x += d->t[j] * d->v[j][i];
        d->x[i] = x;
    }
    return d->loss(d->ctx);
}

/* Check g (n floats), the analytic gradient of loss(ctx) w.r.t. x, along DIR_N
 * directions; x is bit-identical afterwards. */
static void check_directional(double (*loss)(void *), void *ctx, float *x, const float *g, size_t n,
                              const char *name, uint64_t seed)
{
    struct dirck d = {.loss = loss, .ctx = ctx, .x = x, .n = n};
    d.x0 = malloc(n * sizeof *d.x0);
    memcpy(d.x0, x, n * sizeof *d.x0);
    struct rng r;
    rng_seed(&r, seed);
    double g2 = 0;
    for (size_t i = 0; i < n; i++)
        g2 += (double)g[i] * (double)g[i];
    for (int j = 0; j < DIR_N; j++) {
        const bool aligned = j < DIR_ALIGNED;
        d.v[j] = malloc(n * sizeof(float));
        double s = 0, vmax = 0;
        /* random directions: redraw until g·n is at least half its typical size |g| */
        for (int tries = 0; tries < 100 && (tries == 0 || (!aligned && fabs(s) < 0.5 * sqrt(g2)));
             tries++) {
            s = vmax = 0;
            for (size_t i = 0; i < n; i++) {
                float z = rng_normal(&r);
                d.v[j][i] = !aligned ? z : g[i] < 0.0f ? -fabsf(z) : fabsf(z);
                s += (double)g[i] * (double)d.v[j][i];
                vmax = fmax(vmax, fabs((double)d.v[j][i]));
            }
        }
        double sigma = DIR_TARGET / fmax(fabs(s), 1e-12); /* derivative ±DIR_TARGET */
        sigma = fmin(sigma, DIR_MAX_STEP / GRADCHECK_STEP / fmax(vmax, 1e-12));
        s = 0;
        for (size_t i = 0; i < n; i++) {
            d.v[j][i] = (float)(sigma * (double)d.v[j][i]);
            s += (double)g[i] * (double)d.v[j][i];
        }
        d.gt[j] = (float)s;
        d.t[j] = 0.0f;
    }
    char rep[256];
    int rc = gradcheck_tensor(name, dir_loss, &d, d.t, d.gt, DIR_N, 0, 1, 2e-2, rep, sizeof rep);
    memcpy(x, d.x0, n * sizeof *d.x0); /* the last probe's value is still there */
    for (int j = 0; j < DIR_N; j++)
        free(d.v[j]);
    free(d.x0);
    ck_assert_msg(rc == 0, "%s", rep);
}

static void check_param_directional(double (*loss)(void *), void *ctx, struct param *p,
                                    const char *label)
{
    char name[400];
    snprintf(name, sizeof name, "%s %s (%d directions)", label, p->name, DIR_N);
    check_directional(loss, ctx, p->data, p->grad, p->numel, name, 31);
}

/* Move the method tensors away from their init (as training would), like the
 * registry-driven suite does. */
static void perturb_method(struct pfx *f, float scale)
{
    struct rng r;
    rng_seed(&r, 8);
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        if (p->group == PGROUP_METHOD)
            for (size_t j = 0; j < p->numel; j++)
                p->data[j] += scale * rng_normal(&r);
    }
}

/* With ReLU, move every pre-activation at least `margin` away from its kink
 * by the smallest shift of its unit's bias: finite differences then measure a
 * smooth point, and the directional probes (each element moves by at most
 * 1e-2) do not cross a kink. */
static void avoid_relu_kinks(struct pfx *f, double margin)
{
    if (!hp_bool(&f->hp, "reparam") || hp_enum(&f->hp, "non_linearity") != 1)
        return;
    const struct param *E = must_find(f, "prefix.embedding"),
                       *W0 = must_find(f, "prefix.mlp.0.weight");
    struct param *b0 = must_find(f, "prefix.mlp.0.bias");
    const int P = E->shape[0], mid = W0->shape[0];
    double pre[64];
    ck_assert_int_le(P, 64);
    for (int j = 0; j < mid; j++) {
        for (int p = 0; p < P; p++) {
            pre[p] = b0->data[j];
            for (int d = 0; d < PD; d++)
                pre[p] += (double)E->data[p * PD + d] * (double)W0->data[j * PD + d];
        }
        /* candidates: no shift, or a shift putting some pre-activation exactly at ±margin */
        double best = INFINITY;
        for (int c = -1; c < 2 * P; c++) {
            double delta = c < 0 ? 0.0 : -pre[c / 2] + (c % 2 ? 1.5 : -1.5) * margin;
            bool ok = true;
            for (int p = 0; p < P && ok; p++)
                ok = fabs(pre[p] + delta) >= margin;
            if (ok && fabs(delta) < fabs(best))
                best = delta;
        }
        b0->data[j] += (float)best;
    }
}

/* Every setting the gradient tests run: the registry examples plus paths the
 * examples do not reach (flat + dropout: arena copy and dropout backward into
 * the parameter's gradient; gelu; a single prefix row). */
static const char *const grad_extra[] = {
    "prefix_length=2;reparam=false;dropout=0.3",
    "prefix_length=3;reparam_hidden=7;non_linearity=gelu;dropout=0.2",
    "prefix_length=1;reparam_hidden=4",
};

static const char *grad_case(int i)
{
    int nex = n_examples();
    return i < nex ? prefix_method.examples[i] : grad_extra[i - nex];
}

static int n_grad_cases(void)
{
    return n_examples() + (int)(sizeof grad_extra / sizeof *grad_extra);
}

/* ---- the module alone: MLP, layout, dropout and their backward ------------ */

/*
 * Loss = Σ_l (pk_l · Rk_l + pv_l · Rv_l) over the rows the provider serves
 * after the step hook's begin (a training step: dropout on), i.e. what the
 * attention op would see.  Its gradient w.r.t. the served rows is R, which the
 * test accumulates through grad() exactly as the attention op does before
 * end_backward runs.
 */
struct modck {
    struct pfx *f;
    struct arena arena;
    struct hook_ctx c;
    const struct step_hook *sh;
    float *R; /* (L, 2, P, D) */
};

static double mod_loss(void *ctx)
{
    struct modck *k = ctx;
    const struct prefix_provider *pp = &k->f->m.enc.hooks.prefix;
    struct err e;
    arena_reset(&k->arena);
    ck_assert_msg(k->sh->begin(k->sh->user, &k->c, &e) == 0, "%s", e.msg);
    const size_t rows = (size_t)pp->P * PD;
    double s = 0;
    for (int l = 0; l < PL; l++) {
        const float *pk, *pv;
        pp->kv(pp->user, l, &pk, &pv);
        for (size_t i = 0; i < rows; i++)
            s += (double)pk[i] * (double)k->R[2 * l * rows + i] +
                 (double)pv[i] * (double)k->R[(2 * l + 1) * rows + i];
    }
    return s;
}

static double ref_dact(int which, double x)
{
    switch (which) {
    case 1:
        return x > 0.0 ? 1.0 : 0.0;
    case 2:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    default:
        return 1.0 - tanh(x) * tanh(x);
    }
}

/* Compare p->grad with ref (numel doubles): every coordinate, relative to the
 * tensor's largest reference gradient (float32 sums of up to mid terms). */
static void expect_grad(const struct param *p, const double *ref, const char *label)
{
    double mx = 0, worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < p->numel; i++)
        mx = fmax(mx, fabs(ref[i]));
    ck_assert_msg(mx > 0, "%s %s: reference gradient is zero", label, p->name);
    for (size_t i = 0; i < p->numel; i++) {
        double err = fabs((double)p->grad[i] - ref[i]) / (1e-5 * mx + 1e-4 * fabs(ref[i]));
        if (err > worst)
            worst = err, wi = i;
    }
    ck_assert_msg(worst <= 1.0, "%s %s[%zu]: %.8g vs reference %.8g (max |g| %.3g)", label, p->name,
                  wi, (double)p->grad[wi], ref[wi], mx);
}

/*
 * Independent double-precision backward of what end_backward computes, from
 * the effective row gradients dkv = R ⊙ dropout mask / (1 - p) (the mask is
 * read off the served rows: a dropped element is served as exactly 0).
 */
static void ref_backward(const struct pfx *f, const float *R, const char *label)
{
    const int P = (int)hp_int(&f->hp, "prefix_length"), D = PD, L = PL;
    const size_t n = (size_t)2 * L * P * D;
    const double p_drop = hp_float(&f->hp, "dropout");
    double *kv = ref_rows(f), *dkv = calloc(n, sizeof *dkv);
    for (int l = 0; l < L; l++) {
        float served[2 * 64 * PD];
        served_rows(f, l, served);
        for (size_t i = 0; i < (size_t)2 * P * D; i++) {
            size_t o = (size_t)2 * l * P * D + i;
            bool kept = p_drop == 0.0 || served[i] != 0.0f;
            dkv[o] = kept ? (double)R[o] / (1.0 - p_drop) : 0.0;
            ck_assert(!kept ||
                      fabs((double)served[i] - kv[o] / (1.0 - p_drop)) <= 1e-4 * (1 + fabs(kv[o])));
        }
    }
    if (!hp_bool(&f->hp, "reparam")) {
        expect_grad(must_find(f, "prefix.prefix"), dkv, label);
        free(dkv);
        free(kv);
        return;
    }
    const int mid = (int)hp_int(&f->hp, "reparam_hidden"), W = 2 * L * D;
    const int act = hp_enum(&f->hp, "non_linearity");
    const struct param *E = must_find(f, "prefix.embedding"),
                       *W0 = must_find(f, "prefix.mlp.0.weight");
    const struct param *b0 = must_find(f, "prefix.mlp.0.bias"),
                       *W2 = must_find(f, "prefix.mlp.2.weight");
    double *pre = calloc((size_t)P * mid, sizeof *pre), *hid = calloc((size_t)P * mid, sizeof *hid);
    double *dpre = calloc((size_t)P * mid, sizeof *dpre),
           *dout = calloc((size_t)P * W, sizeof *dout);
    double *gE = calloc((size_t)P * D, sizeof *gE), *gW0 = calloc((size_t)mid * D, sizeof *gW0);
    double *gb0 = calloc((size_t)mid, sizeof *gb0), *gW2 = calloc((size_t)W * mid, sizeof *gW2);
    double *gb2 = calloc((size_t)W, sizeof *gb2);
    for (int p = 0; p < P; p++)
        for (int j = 0; j < mid; j++) {
            double s = b0->data[j];
            for (int d = 0; d < D; d++)
                s += (double)E->data[p * D + d] * (double)W0->data[j * D + d];
            pre[p * mid + j] = s;
            hid[p * mid + j] = ref_act(act, s);
        }
    for (int p = 0; p < P; p++)
        for (int c = 0; c < W; c++) /* feature c = (layer, K/V, d), §2.2 */
            dout[(size_t)p * W + c] =
                dkv[(((size_t)(c / (2 * D)) * 2 + (c / D) % 2) * P + p) * D + c % D];
    for (int c = 0; c < W; c++)
        for (int p = 0; p < P; p++) {
            double g = dout[(size_t)p * W + c];
            gb2[c] += g;
            for (int j = 0; j < mid; j++)
                gW2[(size_t)c * mid + j] += g * hid[p * mid + j];
        }
    for (int p = 0; p < P; p++)
        for (int j = 0; j < mid; j++) {
            double s = 0;
            for (int c = 0; c < W; c++)
                s += dout[(size_t)p * W + c] * (double)W2->data[(size_t)c * mid + j];
            dpre[p * mid + j] = s * ref_dact(act, pre[p * mid + j]);
        }
    for (int p = 0; p < P; p++)
        for (int j = 0; j < mid; j++) {
            double g = dpre[p * mid + j];
            gb0[j] += g;
            for (int d = 0; d < D; d++) {
                gW0[j * D + d] += g * (double)E->data[p * D + d];
                gE[p * D + d] += g * (double)W0->data[j * D + d];
            }
        }
    expect_grad(E, gE, label);
    expect_grad(W0, gW0, label);
    expect_grad(b0, gb0, label);
    expect_grad(W2, gW2, label);
    expect_grad(must_find(f, "prefix.mlp.2.bias"), gb2, label);
    free(gb2), free(gW2), free(gb0), free(gW0), free(gE);
    free(dout), free(dpre), free(hid), free(pre), free(dkv), free(kv);
}

START_TEST(grad_module)
{
    const char *ex = grad_case(_i);
    struct pfx f;
    pfx_init(&f, ex);
    perturb_method(&f, 0.2f);
    avoid_relu_kinks(&f, 0.15);
    struct modck k = {.f = &f};
    arena_init(&k.arena, &f.acct, MEM_ACTIVATIONS);
    k.c = (struct hook_ctx){PB, PT, PB * PT, f.mask, true, 77, rng_hash(77, 3, 0x57e9), &k.arena};
    for (int i = 0; i < f.m.enc.hooks.nsteps; i++)
        if (f.m.enc.hooks.steps[i].user == f.mi.state)
            k.sh = &f.m.enc.hooks.steps[i];
    ck_assert_ptr_nonnull(k.sh);
    const struct prefix_provider *pp = &f.m.enc.hooks.prefix;
    const size_t rows = (size_t)pp->P * PD;
    k.R = malloc(2 * PL * rows * sizeof *k.R);
    struct rng r;
    rng_seed(&r, 5);
    for (size_t i = 0; i < 2 * PL * rows; i++)
        k.R[i] = rng_normal(&r);

    param_store_zero_grads(&f.m.ps);
    mod_loss(&k);
    for (int l = 0; l < PL; l++) {
        float *dpk, *dpv;
        pp->grad(pp->user, l, &dpk, &dpv);
        ck_assert(dpk && dpv);
        op_acc(dpk, k.R + 2 * l * rows, rows);
        op_acc(dpv, k.R + (2 * l + 1) * rows, rows);
    }
    struct err e;
    ck_assert_msg(k.sh->end_backward(k.sh->user, &k.c, &e) == 0, "%s", e.msg);
    char label[160];
    snprintf(label, sizeof label, "module [%s]", ex);
    ref_backward(&f, k.R, label);
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (f.m.ps.items[i]->group == PGROUP_METHOD)
            check_param_directional(mod_loss, &k, f.m.ps.items[i], label);
    free(k.R);
    arena_destroy(&k.arena);
    pfx_free(&f);
}
END_TEST

/* ---- through the 2-layer encoder ------------------------------------------ */

static void check_method_grads(struct pfx *f, const char *label)
{
    for (size_t i = 0; i < f->m.ps.n; i++) {
        struct param *p = f->m.ps.items[i];
        if (p->group == PGROUP_BACKBONE) {
            ck_assert_ptr_null(p->grad);
            continue;
        }
        if (p->group != PGROUP_METHOD)
            continue;
        ck_assert_ptr_nonnull(p->grad);
        double gn = 0;
        for (size_t j = 0; j < p->numel; j++)
            gn += fabs((double)p->grad[j]);
        ck_assert_msg(gn > 0, "%s got no gradient", p->name);
        check_param_directional(pfx_loss, f, p, label);
    }
}

START_TEST(grad_encoder)
{
    const char *ex = grad_case(_i);
    struct pfx f;
    pfx_init(&f, ex);
    ck_assert(encoder_needs_backward(&f.m.enc));
    ck_assert_int_eq(encoder_lowest_trainable(&f.m.enc), 0);
    perturb_method(&f, 0.2f);
    avoid_relu_kinks(&f, 0.15);
    pfx_backward(&f);
    check_method_grads(&f, ex);
    pfx_free(&f);
}
END_TEST

/* Backward accumulates into the gradients (the trainer zeroes them): two
 * backward passes of the same step give twice the gradient. */
START_TEST(grads_accumulate)
{
    const char *ex = grad_case(_i);
    struct pfx f;
    pfx_init(&f, ex);
    pfx_backward(&f);
    size_t total = 0;
    for (size_t i = 0; i < f.m.ps.n; i++)
        if (f.m.ps.items[i]->group == PGROUP_METHOD)
            total += f.m.ps.items[i]->numel;
    float *g1 = malloc(total * sizeof *g1);
    size_t o = 0;
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group == PGROUP_METHOD) {
            memcpy(g1 + o, p->grad, p->numel * sizeof *g1);
            o += p->numel;
        }
    }
    pfx_loss(&f); /* same step, same dropout masks */
    struct err e;
    ck_assert_msg(model_backward(&f.m, f.r, &e) == 0, "%s", e.msg);
    o = 0;
    for (size_t i = 0; i < f.m.ps.n; i++) {
        const struct param *p = f.m.ps.items[i];
        if (p->group != PGROUP_METHOD)
            continue;
        for (size_t j = 0; j < p->numel; j++, o++)
            ck_assert_msg(fabsf(p->grad[j] - 2.0f * g1[o]) <= 1e-5f * (1.0f + fabsf(g1[o])),
                          "%s %s[%zu]: %g after two passes, %g after one", ex, p->name, j,
                          (double)p->grad[j], (double)g1[o]);
    }
    free(g1);
    pfx_free(&f);
}
END_TEST
/* ---- composition ------------------------------------------------------------ */

/* A parallel-adapter-shaped trainable hook: zsum += w ⊙ tanh(res) on the FFN block. */
struct par {
    float w[PD], g[PD];
};

static int par_fwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                   struct err *e)
{
    (void)c, (void)e;
    const struct par *p = h->user;
    for (int n = 0; n < io->N; n++)
        for (int j = 0; j < PD; j++)
            io->zsum[n * PD + j] += p->w[j] * tanhf(io->res[n * PD + j]);
    return 0;
}

static int par_bwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                   struct err *e)
{
    (void)c, (void)e;
    struct par *p = h->user;
    for (int n = 0; n < io->N; n++)
        for (int j = 0; j < PD; j++) {
            float t = tanhf(io->res[n * PD + j]), dz = io->dzsum[n * PD + j];
            p->g[j] += dz * t;
            if (io->dres)
                io->dres[n * PD + j] += dz * p->w[j] * (1.0f - t * t);
        }
    return 0;
}

START_TEST(compose_with_parallel_adapter)
{
    struct pfx f;
    pfx_model(&f);
    struct par par[PL];
    struct err e;
    for (int l = 0; l < PL; l++) {
        for (int j = 0; j < PD; j++)
            par[l].w[j] = 0.2f * (float)((j * 7 + l) % 5) - 0.4f;
        struct hook h = {SITE_FFN_BLOCK,  HOOK_ADD, l,       true,
                         "test-parallel", &par[l],  par_fwd, par_bwd};
        ck_assert_int_eq(hook_add(&f.m.enc.hooks, &h, &e), 0);
    }
    pfx_attach(&f, "prefix_length=3;reparam_hidden=8");
    perturb_method(&f, 0.2f);
    for (int l = 0; l < PL; l++)
        memset(par[l].g, 0, sizeof par[l].g);
    pfx_backward(&f);
    check_method_grads(&f, "compose");
    for (int l = 0; l < PL; l++)
        check_directional(pfx_loss, &f, par[l].w, par[l].g, PD, "parallel adapter", 3);
    /* a second prefix method on the same model is refused, naming the conflict */
    struct method_inst second;
    ck_assert_int_eq(method_create(&second, &prefix_method, &f.hp, &f.m, 43, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "prefix") != NULL, "%s", e.msg);
    ck_assert_ptr_eq(f.m.enc.hooks.prefix.user, f.mi.state);
    pfx_free(&f);
}
END_TEST

Suite *prefix_grads_suite(void)
{
    Suite *s = suite_create("prefix_grads");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, grad_module, 0, n_grad_cases());
    tcase_add_loop_test(tc, grad_encoder, 0, n_grad_cases());
    tcase_add_loop_test(tc, grads_accumulate, 0, n_grad_cases());
    tcase_add_test(tc, compose_with_parallel_adapter);
    suite_add_tcase(s, tc);
    return s;
}
