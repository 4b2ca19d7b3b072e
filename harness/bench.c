#include "bench.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "methods/registry.h"
#include "model/mem.h"
#include "model/model.h"
#include "model/rng.h"
#include "timer.h"

void bench_opts_default(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->L = 4;
    o->D = 512;
    o->H = 8;
    o->F = 2048;
    o->V = 30522;
    o->B = 32;
    o->T = 128;
    o->warmup = 2;
    o->repeats = 5;
}

double bench_calibrate_gemm(int N, int D, int F, int repeats)
{
    /* The three GEMM shapes of a layer: (N,D)x(D,D), (N,D)x(D,F), (N,F)x(F,D). */
    float *x = calloc((size_t)N * F, sizeof(float)), *w = calloc((size_t)F * D, sizeof(float));
    float *y = calloc((size_t)N * F, sizeof(float));
    double best[64];
    int r = repeats > 64 ? 64 : repeats;
    if (!x || !w || !y) {
        free(x), free(w), free(y);
        return 0.0;
    }
    for (size_t i = 0; i < (size_t)N * F; i++)
        x[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)F * D; i++)
        w[i] = (float)(i % 5) * 0.01f;
    double flops = 2.0 * N * ((double)D * D + 2.0 * D * F);
    for (int k = -1; k < r; k++) {
        double t0 = timer_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D, D, 1.0f, x, D, w, D, 0.0f, y, D);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, F, D, 1.0f, x, D, w, D, 0.0f, y, F);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D, F, 1.0f, x, F, w, F, 0.0f, y, D);
        double t = timer_now() - t0;
        if (k >= 0)
            best[k] = flops / t * 1e-9;
    }
    free(x), free(w), free(y);
    return timer_median(best, (size_t)r);
}

static void make_config(const struct bench_opts *o, struct bert_config *c)
{
    hfconfig_default(c);
    c->vocab_size = o->V;
    c->hidden_size = o->D;
    c->num_hidden_layers = o->L;
    c->num_attention_heads = o->H;
    c->intermediate_size = o->F;
    c->max_position_embeddings = o->T > 512 ? o->T : 512;
}

/* Random batch with every token real (throughput counts real tokens). */
struct bench_batch {
    int *ids, *types, *mask, *labels;
    struct batch b;
};

static int make_batch(struct bench_batch *bb, const struct bench_opts *o)
{
    size_t n = (size_t)o->B * o->T;
    bb->ids = malloc(n * sizeof(int));
    bb->types = calloc(n, sizeof(int));
    bb->mask = malloc(n * sizeof(int));
    bb->labels = malloc((size_t)o->B * sizeof(int));
    if (!bb->ids || !bb->types || !bb->mask || !bb->labels)
        return -1;
    struct rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) {
        bb->ids[i] = (int)rng_below(&r, (uint64_t)o->V);
        bb->mask[i] = 1;
    }
    for (int i = 0; i < o->B; i++)
        bb->labels[i] = i % 2;
    bb->b = (struct batch){o->B, o->T, bb->ids, bb->types, bb->mask, bb->labels, NULL};
    return 0;
}

static void free_batch(struct bench_batch *bb)
{
    free(bb->ids), free(bb->types), free(bb->mask), free(bb->labels);
}

enum bench_mode { BM_FORWARD, BM_FULL, BM_FROZEN };

/* Median seconds of one step of the given mode. */
static int time_steps(struct model *m, const struct bench_batch *bb, const struct bench_opts *o,
                      enum bench_mode mode, double *sec, struct err *e)
{
    double t[256];
    int reps = o->repeats > 256 ? 256 : o->repeats;
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.lr = 1e-5f;
    for (int k = -o->warmup; k < reps; k++) {
        double t0 = timer_now();
        bool train = mode != BM_FORWARD;
        double loss;
        if (model_forward(m, &bb->b, train, 1, (uint64_t)(k + 100), NULL, e))
            return e->code;
        if (train) {
            param_store_zero_grads(&m->ps);
            if (model_loss_backward(m, &bb->b, true, &loss, e))
                return e->code;
            adamw_step(&m->ps, &ac, k + o->warmup + 1);
        }
        if (k >= 0)
            t[k] = timer_now() - t0;
    }
    *sec = timer_median(t, (size_t)reps);
    return ERR_OK;
}

static double flops_per_token(const struct bench_opts *o, enum bench_mode mode)
{
    double n = (double)o->L * (4.0 * o->D * o->D + 2.0 * o->D * o->F);
    double attn = 4.0 * o->L * o->T * (double)o->D; /* QK^T and PV, forward */
    return mode == BM_FULL ? 3.0 * (2.0 * n + attn) : 2.0 * n + attn;
}

int bench_run(const struct bench_opts *o, FILE *out, struct err *e)
{
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    double peak = bench_calibrate_gemm(o->B * o->T, o->D, o->F, 7);
    struct bert_config cfg;
    make_config(o, &cfg);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    if (model_create(&m, &cfg, 2, &acct, e))
        return e->code;
    model_init_weights(&m, 1);
    struct bench_batch bb;
    if (make_batch(&bb, o)) {
        model_destroy(&m);
        free_batch(&bb);
        return ERR_SET(e, ERR_NOMEM, "out of memory for the benchmark batch");
    }
    const char *core = getenv("OPENBLAS_CORETYPE");
    fprintf(out, "# size L=%d D=%d H=%d F=%d V=%d  batch %dx%d  threads %d  OPENBLAS_CORETYPE=%s\n",
            o->L, o->D, o->H, o->F, o->V, o->B, o->T, omp_get_max_threads(), core ? core : "(unset)");
    fprintf(out, "# sgemm calibration: %.1f GFLOP/s (median of 7)\n", peak);
    fprintf(out, "%-10s %12s %12s %10s %10s %14s\n", "mode", "step_ms", "tokens/s", "GFLOP/s",
            "of_peak", "activations_MB");
    static const char *names[] = {"forward", "full", "frozen"};
    double sec[3] = {0};
    int rc = ERR_OK;
    for (int mode = 0; mode < 3 && rc == ERR_OK; mode++) {
        rc = model_set_backbone_trainable(&m, mode == BM_FULL, e);
        mem_acct_reset_peaks(&acct);
        if (rc == ERR_OK)
            rc = time_steps(&m, &bb, o, (enum bench_mode)mode, &sec[mode], e);
        if (rc)
            break;
        double tok = (double)o->B * o->T / sec[mode];
        double gf = tok * flops_per_token(o, (enum bench_mode)mode) * 1e-9;
        fprintf(out, "%-10s %12.1f %12.0f %10.1f %9.1f%% %14.1f\n", names[mode], sec[mode] * 1e3,
                tok, gf, 100.0 * gf / peak, (double)acct.peak[MEM_ACTIVATIONS] / 1048576.0);
    }
    if (rc == ERR_OK)
        fprintf(out, "# frozen/full step-time ratio: %.3f\n", sec[BM_FROZEN] / sec[BM_FULL]);
    free_batch(&bb);
    model_destroy(&m);
    return rc;
}

/* ---- per-method table ------------------------------------------------------------ */

struct mrow {
    double step, infer, infer_merged; /* median seconds; infer_merged NaN when not mergeable */
    size_t peak[MEM_NCAT];
    size_t trainable;
};

static int time_infer(struct model *m, const struct bench_batch *bb, const struct bench_opts *o,
                      double *sec, struct err *e)
{
    return time_steps(m, bb, o, BM_FORWARD, sec, e);
}

/* Build a fresh random model, attach method `name` at its defaults (NULL: none = head only),
 * and measure one row. */
static int bench_one_method(const struct bench_opts *o, const struct bench_batch *bb,
                            const char *name, struct mrow *r, struct err *e)
{
    struct bert_config cfg;
    make_config(o, &cfg);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi;
    memset(&mi, 0, sizeof mi);
    if (model_create(&m, &cfg, 2, &acct, e))
        return e->code;
    model_init_weights(&m, 1);
    int rc = ERR_OK;
    if (name) {
        const struct method_ops *ops = method_lookup(name, "--method", e);
        struct hp_values hv;
        rc = !ops ? e->code : method_parse(ops, &hv, NULL, 0, &m, e);
        if (rc == ERR_OK)
            rc = method_create(&mi, ops, &hv, &m, 1, e);
    }
    r->trainable = param_store_trainable(&m.ps, PGROUP_COUNT);
    mem_acct_reset_peaks(&acct);
    if (rc == ERR_OK)
        rc = time_steps(&m, bb, o, BM_FULL, &r->step, e); /* BM_FULL: a training step as attached */
    memcpy(r->peak, acct.peak, sizeof r->peak);
    if (rc == ERR_OK)
        rc = time_infer(&m, bb, o, &r->infer, e);
    r->infer_merged = (double)NAN;
    if (rc == ERR_OK && name && mi.ops->merge && method_merge(&mi, &m, e) == ERR_OK)
        rc = time_infer(&m, bb, o, &r->infer_merged, e);
    method_destroy(&mi);
    model_destroy(&m);
    return rc;
}

int bench_methods(const struct bench_opts *o, const char *const *names, int n, FILE *out,
                  struct err *e)
{
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    struct bench_batch bb;
    if (make_batch(&bb, o)) {
        free_batch(&bb);
        return ERR_SET(e, ERR_NOMEM, "out of memory for the benchmark batch");
    }
    const char *list[64];
    int nl = 0;
    for (int i = 0; i < n && nl < 64; i++) {
        if (strcmp(names[i], "all") == 0)
            for (int k = 0; k < registry_count() && nl < 64; k++)
                list[nl++] = registry_at(k)->name;
        else
            list[nl++] = names[i];
    }
    struct mrow base;
    int rc = bench_one_method(o, &bb, NULL, &base, e);
    if (rc == ERR_OK) {
        fprintf(out, "# methods at their defaults, L=%d D=%d H=%d F=%d V=%d, batch %dx%d, "
                     "threads %d; times are medians of %d steps\n",
                o->L, o->D, o->H, o->F, o->V, o->B, o->T, omp_get_max_threads(), o->repeats);
        fprintf(out, "# bare frozen backbone: train step %.1f ms, inference %.1f ms\n",
                base.step * 1e3, base.infer * 1e3);
        fprintf(out, "%-12s %10s %9s %9s %10s %10s %9s %9s %9s %9s\n", "method", "trainable",
                "step/bare", "inf/bare", "merged/bare", "grads_MB", "optim_MB", "activ_MB",
                "train_MB", "frozen_MB");
    }
    for (int i = 0; rc == ERR_OK && i < nl; i++) {
        struct mrow r;
        if ((rc = bench_one_method(o, &bb, list[i], &r, e)) != ERR_OK)
            break;
        fprintf(out, "%-12s %10zu %9.3f %9.3f %10.3f %10.1f %9.1f %9.1f %9.1f %9.1f\n", list[i],
                r.trainable, r.step / base.step, r.infer / base.infer,
                r.infer_merged / base.infer, (double)r.peak[MEM_GRADS] / 1048576.0,
                (double)r.peak[MEM_OPTIM] / 1048576.0,
                (double)r.peak[MEM_ACTIVATIONS] / 1048576.0,
                (double)r.peak[MEM_TRAINABLE] / 1048576.0, (double)r.peak[MEM_FROZEN] / 1048576.0);
        fflush(out);
    }
    free_batch(&bb);
    return rc;
}
