#include "harness/bench/bench.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/arch/precision.h"
#include "model/engine/matmul_dnnl.h"
#include "model/engine/rng.h"
#include "base/timer.h"

void bench_opts_default(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    bench_opts_size(o, "small");
    o->B = 32;
    o->T = 128;
    o->warmup = 2;
    o->repeats = 5;
}

bool bench_opts_size(struct bench_opts *o, const char *size)
{
    static const struct {
        const char *name;
        int L, D, H, F, V;
    } sizes[] = {{"tiny", 4, 256, 4, 1024, 8192},
                 {"small", 4, 512, 8, 2048, 30522},
                 {"base", 12, 768, 12, 3072, 30522}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(size, sizes[i].name) == 0) {
            o->L = sizes[i].L, o->D = sizes[i].D, o->H = sizes[i].H;
            o->F = sizes[i].F, o->V = sizes[i].V, o->size = sizes[i].name;
            return true;
        }
    return false;
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

double bench_calibrate_bf16(int N, int D, int F, int repeats)
{
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct matmul_dnnl *d = NULL;
    struct err e;
    err_clear(&e);
    bf16_t *x = calloc((size_t)N * F, sizeof(bf16_t)), *w = calloc((size_t)F * D, sizeof(bf16_t));
    float *y = calloc((size_t)N * F, sizeof(float));
    double best[64], gf = 0.0;
    int r = repeats > 64 ? 64 : repeats, rc = 0;
    if (!bf16_cpu_ok() || !x || !w || !y || matmul_dnnl_create(&d, &acct, &e)) {
        free(x), free(w), free(y);
        return 0.0;
    }
    for (size_t i = 0; i < (size_t)N * F; i++)
        x[i] = bf16_from_f32((float)(i % 7) * 0.01f);
    for (size_t i = 0; i < (size_t)F * D; i++)
        w[i] = bf16_from_f32((float)(i % 5) * 0.01f);
    double flops = 2.0 * N * ((double)D * D + 2.0 * D * F);
    for (int k = -1; k < r && rc == 0; k++) { /* the forward shapes of op_linear_fwd_be */
        double t0 = timer_now();
        rc = matmul_dnnl_bf16(d, false, true, N, D, D, 1.0f, x, D, w, D, 0.0f, y, D, &e) ||
             matmul_dnnl_bf16(d, false, true, N, F, D, 1.0f, x, D, w, D, 0.0f, y, F, &e) ||
             matmul_dnnl_bf16(d, false, true, N, D, F, 1.0f, x, F, w, F, 0.0f, y, D, &e);
        double t = timer_now() - t0;
        if (k >= 0)
            best[k] = flops / t * 1e-9;
    }
    if (rc == 0)
        gf = timer_median(best, (size_t)r);
    matmul_dnnl_destroy(d);
    free(x), free(w), free(y);
    return gf;
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

/* Random batch with every token real (throughput counts real tokens); the second half of each
 * sequence is segment B, as in the PyTorch reference. */
struct bench_batch {
    int *ids, *types, *mask, *labels;
    struct batch b;
};

static void free_batch(struct bench_batch *bb)
{
    free(bb->ids), free(bb->types), free(bb->mask), free(bb->labels);
}

static int make_batch(struct bench_batch *bb, const struct bench_opts *o)
{
    size_t n = (size_t)o->B * o->T;
    bb->ids = malloc(n * sizeof(int));
    bb->types = malloc(n * sizeof(int));
    bb->mask = malloc(n * sizeof(int));
    bb->labels = malloc((size_t)o->B * sizeof(int));
    if (!bb->ids || !bb->types || !bb->mask || !bb->labels) {
        free_batch(bb);
        return -1;
    }
    struct rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) {
        bb->ids[i] = (int)rng_below(&r, (uint64_t)o->V);
        bb->types[i] = (int)(i % (size_t)o->T) >= o->T / 2;
        bb->mask[i] = 1;
    }
    for (int i = 0; i < o->B; i++)
        bb->labels[i] = i % 2;
    bb->b = (struct batch){o->B, o->T, bb->ids, bb->types, bb->mask, bb->labels, NULL};
    return 0;
}

/* Median seconds of `reps` training steps (train) or inference forwards, after `warmup`. */
static int time_steps(struct model *m, const struct bench_batch *bb, bool train, int warmup,
                      int reps, double *sec, struct err *e)
{
    double t[256];
    reps = reps > 256 ? 256 : reps;
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.lr = 1e-5f;
    for (int k = -warmup; k < reps; k++) {
        double t0 = timer_now(), loss;
        if (model_forward(m, &bb->b, train, 1, (uint64_t)(k + 100), NULL, e))
            return e->code;
        if (train) {
            param_store_zero_grads(&m->ps);
            if (model_loss_backward(m, &bb->b, true, &loss, e))
                return e->code;
            adamw_step(&m->ps, &ac, k + warmup + 1);
        }
        if (k >= 0)
            t[k] = timer_now() - t0;
    }
    *sec = timer_median(t, (size_t)reps);
    return ERR_OK;
}

/*
 * Matmul FLOPs per token that the engine executes (elementwise work ignored; the PyTorch
 * reference counts the same way for its full-width layers).  A full-width layer has
 * n1 = 4d^2 + 2*d*d_ff weight-GEMM parameters per token and attention (QK^T, PV) costs 4*T*d
 * forward.  Under a [CLS]-reading head the last layer runs K and V for every token (2d^2)
 * and the rest for one token per sequence ((2d^2 + 2*d*d_ff) / T, attention 4d); --all-rows
 * runs it full width.  With N and A the sums over layers: a full step is forward + input
 * gradients + weight gradients (6N + 3A); with a frozen backbone and trainable parts in every
 * layer (every method at its defaults, and bare-bwd) there are no weight gradients (4N + 3A;
 * the method's own small GEMMs are not counted); head only runs the forward alone (2N + A).
 */
static void cell_flops(const struct bench_opts *o, const char *method, struct bench_cell *c)
{
    const double d = o->D, f = o->F, T = o->T, n1 = 4.0 * d * d + 2.0 * d * f;
    double n = o->L * n1, attn = 4.0 * o->L * T * d;
    if (!o->all_rows && o->L > 0) {
        n -= n1 - (2.0 * d * d + (2.0 * d * d + 2.0 * d * f) / T);
        attn -= 4.0 * T * d - 4.0 * d;
    }
    c->flops_infer = 2.0 * n + attn;
    if (strcmp(method, "full") == 0)
        c->flops_train = 6.0 * n + 3.0 * attn;
    else if (strcmp(method, "bare") == 0 || strcmp(method, "head") == 0)
        c->flops_train = c->flops_infer;
    else
        c->flops_train = 4.0 * n + 3.0 * attn;
}

/* Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0); best effort. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/*
 * Attach `name` at its default hyperparameters.  "bare" (or "head"): nothing, the frozen
 * backbone with its head.  "bare-bwd": nothing either, but the embedding LayerNorm is made
 * trainable so that the backward runs input gradients through every frozen layer: the cost
 * floor of any method with parameters in the first layer, against which a method's own cost
 * is measured.
 */
static int attach(struct model *m, struct method_inst *mi, const char *name, struct err *e)
{
    if (strcmp(name, "bare") == 0 || strcmp(name, "head") == 0)
        return ERR_OK;
    if (strcmp(name, "bare-bwd") == 0)
        return param_set_trainable(&m->ps, m->enc.emb_g, true, e) ||
                       param_set_trainable(&m->ps, m->enc.emb_b, true, e)
                   ? e->code
                   : ERR_OK;
    const struct method_ops *ops = method_lookup(name, "--method", e);
    struct hp_values hv;
    if (!ops || method_parse(ops, &hv, NULL, 0, m, e))
        return e->code;
    return method_create(mi, ops, &hv, m, 1, e);
}

/* A benchmark model: o's encoder with a 2-class head, weights from `seed`, `name` attached
 * (see attach).  acct must outlive it.  On failure nothing is left allocated. */
static int build_model(const struct bench_opts *o, struct mem_acct *acct, uint64_t seed,
                       const char *name, struct model *m, struct method_inst *mi, struct err *e)
{
    struct bert_config cfg;
    make_config(o, &cfg);
    mem_acct_init(acct);
    memset(mi, 0, sizeof *mi);
    if (model_create(m, &cfg, 2, acct, e))
        return e->code;
    model_init_weights(m, seed);
    m->all_rows = o->all_rows;
    if (attach(m, mi, name, e) ||
        (o->precision == MATMUL_BF16 && model_set_precision(m, MATMUL_BF16, e))) {
        method_destroy(mi);
        model_destroy(m);
        return e->code;
    }
    return ERR_OK;
}

/* Median of a[k] / b[k] over n pairs. */
static double median_ratio(const double *a, const double *b, int n)
{
    double r[64];
    for (int k = 0; k < n; k++)
        r[k] = a[k] / b[k];
    return timer_median(r, (size_t)n);
}

/*
 * m against a second model of the same shape built in this process with `other` attached
 * (see attach: "bare-bwd", "full", or "bare"), timed alternately (m, other, m, ...) so that
 * drift of a shared machine hits both alike: training steps (train), or inference forwards.
 * *tm, *tb: medians of each side; *ratio: the median of the pairwise ratios.
 */
static int time_against(const struct bench_opts *o, struct model *m, const struct bench_batch *bb,
                        const char *other, bool train, int reps, double *tm, double *tb,
                        double *ratio, struct err *e)
{
    struct mem_acct acct;
    struct model bare;
    struct method_inst none;
    if (build_model(o, &acct, 2, other, &bare, &none, e))
        return e->code;
    double am[64], ab[64];
    reps = reps > 64 ? 64 : reps;
    int rc = ERR_OK;
    for (int k = -1; k < reps && rc == ERR_OK; k++) {
        double x = 0.0, y = 0.0;
        rc = time_steps(m, bb, train, 0, 1, &x, e);
        if (rc == ERR_OK)
            rc = time_steps(&bare, bb, train, 0, 1, &y, e);
        if (k >= 0)
            am[k] = x, ab[k] = y;
    }
    if (rc == ERR_OK) {
        *tm = timer_median(am, (size_t)reps);
        *tb = timer_median(ab, (size_t)reps);
        *ratio = median_ratio(am, ab, reps);
    }
    method_destroy(&none);
    model_destroy(&bare);
    return rc;
}

/* A method's own cost is measured against bare-bwd; the baselines are not. */
static bool paired_with_bare_bwd(const char *method)
{
    static const char *const unpaired[] = {"bare", "head", "bare-bwd", "full"};
    for (size_t i = 0; i < sizeof unpaired / sizeof unpaired[0]; i++)
        if (strcmp(method, unpaired[i]) == 0)
            return false;
    return true;
}

/* The measured phase: training steps with memory watched, then inference, then merged. */
static int measure(const struct bench_opts *o, struct model *m, struct method_inst *mi,
                   struct mem_acct *acct, const struct bench_batch *bb, struct bench_cell *c,
                   struct err *e)
{
    c->rss_base = mem_cur_rss();
    reset_peak_rss();
    mem_acct_reset_peaks(acct);
    c->acct_base = acct->cur_total;
    if (time_steps(m, bb, true, o->warmup, o->repeats, &c->step, e))
        return e->code;
    c->rss_peak = mem_peak_rss();
    c->acct_peak = acct->peak_total;
    memcpy(c->peak, acct->peak, sizeof c->peak);
    int inf_reps = o->repeats < 3 ? 3 : o->repeats;
    if (time_steps(m, bb, false, 1, inf_reps, &c->infer, e))
        return e->code;
    c->merged = c->merged_bare = c->merged_ratio = c->bwd_ratio = c->full_ratio = (double)NAN;
    double tm, tb;
    if (paired_with_bare_bwd(c->method) &&
        time_against(o, m, bb, "bare-bwd", true, o->repeats, &tm, &tb, &c->bwd_ratio, e))
        return e->code;
    if (strcmp(c->method, "lora") == 0 &&
        time_against(o, m, bb, "full", true, o->repeats, &tm, &tb, &c->full_ratio, e))
        return e->code;
    if (mi->ops && mi->ops->merge) {
        /* merging writes the fp32 base weights: widen, merge, store the merged weights in bf16 */
        enum matmul_prec prec = model_precision(m);
        if (model_set_precision(m, MATMUL_FP32, e) || method_merge(mi, m, e) ||
            model_set_precision(m, prec, e))
            return e->code;
        int pairs = inf_reps < 7 ? 7 : inf_reps;
        return time_against(o, m, bb, "bare", false, pairs, &c->merged, &c->merged_bare,
                            &c->merged_ratio, e);
    }
    return ERR_OK;
}

int bench_cell_run(const struct bench_opts *o, const char *method, struct bench_cell *c,
                   struct err *e)
{
    memset(c, 0, sizeof *c);
    method = method ? method : "bare";
    snprintf(c->method, sizeof c->method, "%s", method);
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    c->threads = omp_get_max_threads();
    c->peak_gflops = bench_calibrate_gemm(o->B * o->T, o->D, o->F, 7);
    snprintf(c->precision, sizeof c->precision, "%s",
             matmul_prec_name((enum matmul_prec)o->precision));
    if (o->precision == MATMUL_BF16)
        c->peak_bf16 = bench_calibrate_bf16(o->B * o->T, o->D, o->F, 7);
    struct bench_batch bb;
    if (make_batch(&bb, o))
        return ERR_SET(e, ERR_NOMEM, "out of memory for the benchmark batch");
    struct mem_acct acct;
    struct model m;
    struct method_inst mi;
    int rc = build_model(o, &acct, 1, method, &m, &mi, e);
    if (rc == ERR_OK) {
        c->trainable = param_store_trainable(&m.ps, PGROUP_COUNT);
        cell_flops(o, method, c);
        rc = measure(o, &m, &mi, &acct, &bb, c, e);
        method_destroy(&mi);
        model_destroy(&m);
    }
    free_batch(&bb);
    return rc;
}

/* ---- the child-to-parent line ----------------------------------------------------------- */

void bench_cell_print(const struct bench_cell *c, FILE *out)
{
    fprintf(out, "cell method=%s precision=%s peak_bf16=%.6g threads=%d peak_gflops=%.6g "
                 "step=%.9g infer=%.9g merged=%.9g merged_bare=%.9g merged_ratio=%.9g bwd_ratio=%.9g full_ratio=%.9g "
                 "flops_train=%.9g flops_infer=%.9g trainable=%zu acct_base=%zu acct_peak=%zu "
                 "rss_base=%zu rss_peak=%zu",
            c->method, c->precision, c->peak_bf16, c->threads, c->peak_gflops, c->step, c->infer,
            c->merged, c->merged_bare, c->merged_ratio, c->bwd_ratio, c->full_ratio,
            c->flops_train, c->flops_infer, c->trainable, c->acct_base, c->acct_peak, c->rss_base, c->rss_peak);
    for (int k = 0; k < MEM_NCAT; k++)
        fprintf(out, " peak_%s=%zu", mem_cat_name((enum mem_cat)k), c->peak[k]);
    fputc('\n', out);
}

/* Value of key in a "k=v k=v" line, copied into buf; false when absent. */
static bool field(const char *line, const char *key, char *buf, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p != line && p[-1] != ' ') || p[kl] != '=')
            continue;
        size_t len = strcspn(p + kl + 1, " \n");
        if (len + 1 > n)
            return false;
        memcpy(buf, p + kl + 1, len);
        buf[len] = '\0';
        return true;
    }
    return false;
}

static bool field_d(const char *line, const char *key, double *v)
{
    char buf[64], *end;
    if (!field(line, key, buf, sizeof buf))
        return false;
    *v = strtod(buf, &end);
    return end != buf && *end == '\0';
}

static bool field_z(const char *line, const char *key, size_t *v)
{
    double d;
    if (!field_d(line, key, &d) || !(d >= 0))
        return false;
    *v = (size_t)d;
    return true;
}

bool bench_cell_parse(const char *line, struct bench_cell *c)
{
    memset(c, 0, sizeof *c);
    double thr = 0;
    bool ok = strncmp(line, "cell ", 5) == 0 &&
              field(line, "method", c->method, sizeof c->method) &&
              field(line, "precision", c->precision, sizeof c->precision) &&
              field_d(line, "peak_bf16", &c->peak_bf16) &&
              field_d(line, "threads", &thr) && field_d(line, "peak_gflops", &c->peak_gflops) &&
              field_d(line, "step", &c->step) && field_d(line, "infer", &c->infer) &&
              field_d(line, "merged", &c->merged) && field_d(line, "merged_bare", &c->merged_bare) &&
              field_d(line, "merged_ratio", &c->merged_ratio) &&
              field_d(line, "bwd_ratio", &c->bwd_ratio) &&
              field_d(line, "full_ratio", &c->full_ratio) &&
              field_d(line, "flops_train", &c->flops_train) &&
              field_d(line, "flops_infer", &c->flops_infer) &&
              field_z(line, "trainable", &c->trainable) &&
              field_z(line, "acct_base", &c->acct_base) &&
              field_z(line, "acct_peak", &c->acct_peak) &&
              field_z(line, "rss_base", &c->rss_base) && field_z(line, "rss_peak", &c->rss_peak);
    for (int k = 0; ok && k < MEM_NCAT; k++) {
        char key[48];
        snprintf(key, sizeof key, "peak_%s", mem_cat_name((enum mem_cat)k));
        ok = field_z(line, key, &c->peak[k]);
    }
    c->threads = (int)thr;
    return ok;
}
