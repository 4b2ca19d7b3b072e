#include "harness/bench/bench_matrix.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/proc.h"

void bench_plan_default(struct bench_plan *p)
{
    memset(p, 0, sizeof *p);
    static const char *const methods[] = {"full",    "head",     "bare-bwd", "lora",     "ia3",
                                          "houlsby", "pfeiffer", "prefix",   "compacter"};
    p->sizes[0] = "tiny", p->sizes[1] = "small", p->nsizes = 2;
    for (int i = 0; i < 9; i++)
        p->methods[i] = methods[i];
    p->nmethods = 9;
    p->threads[0] = 2, p->threads[1] = 1, p->nthreads = 2;
    p->precisions[0] = MATMUL_FP32, p->nprec = 1;
    bench_opts_default(&p->opts);
    p->torch_script = "harness/bench/bert_peft_ref.py";
    p->python = "/usr/bin/python3";
    p->self = "/proc/self/exe";
}

/* ---- one cell in a child process ------------------------------------------------------ */

struct cell_slot {
    bool ok;
    struct bench_cell c;
};

/* The last line of text starting with prefix, copied into line; false when none. */
static bool last_line(const char *text, const char *prefix, char *line, size_t n)
{
    const char *hit = NULL;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            hit = p;
    if (!hit)
        return false;
    size_t len = strcspn(hit, "\n");
    if (len + 1 > n)
        return false;
    memcpy(line, hit, len);
    line[len] = '\0';
    return true;
}

static void itoa_buf(char *buf, size_t n, int v)
{
    snprintf(buf, n, "%d", v);
}

/* Run argv with the environment plus set[0..nset), and copy the last line of its output that
 * starts with prefix into line.  False (with the reason in why) when it cannot run, exits
 * non-zero (its own message went to our stderr) or prints no such line. */
static bool child_line(char *const argv[], const char *const *set, int nset, const char *prefix,
                       char *line, size_t n, char *why, size_t nwhy)
{
    static char out[1 << 16];
    char **env = proc_env_with(NULL, set, nset);
    int status = 0;
    struct err e;
    err_clear(&e);
    int rc = env ? proc_capture(argv, env, out, sizeof out, &status, NULL, &e) : ERR_NOMEM;
    proc_env_free(env);
    const char *msg = rc ? (e.msg[0] ? e.msg : "out of memory")
                      : status ? "the child exited non-zero; its message is above"
                      : !last_line(out, prefix, line, n) ? "no result line"
                                                         : NULL;
    if (msg)
        snprintf(why, nwhy, "%s", msg);
    return msg == NULL;
}

static bool run_cell(const struct bench_plan *p, const char *size, const char *method, int thr,
                     int prec, struct bench_cell *c, FILE *errf)
{
    const struct bench_opts *o = &p->opts;
    char t[16], b[16], s[16], w[16], r[16], dims[96], omp[32];
    itoa_buf(t, sizeof t, thr), itoa_buf(b, sizeof b, o->B), itoa_buf(s, sizeof s, o->T);
    itoa_buf(w, sizeof w, o->warmup), itoa_buf(r, sizeof r, o->repeats);
    snprintf(dims, sizeof dims, "%d,%d,%d,%d,%d", o->L, o->D, o->H, o->F, o->V);
    snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", thr);
    bool custom = strcmp(size, "custom") == 0;
    char *argv[] = {(char *)(uintptr_t)p->self, "bench", "--cell", "--method",
                    (char *)(uintptr_t)method, "--threads", t, "--batch", b, "--seq", s,
                    "--warmup", w, "--repeats", r, custom ? "--dims" : "--size",
                    custom ? dims : (char *)(uintptr_t)size, "--precision",
                    (char *)(uintptr_t)matmul_prec_name((enum matmul_prec)prec),
                    o->all_rows ? "--all-rows" : NULL, NULL};
    const char *set[] = {omp};
    char line[2048], why[ERR_MSG_MAX];
    bool ok = child_line(argv, set, 1, "cell ", line, sizeof line, why, sizeof why);
    if (ok && !bench_cell_parse(line, c))
        ok = false, snprintf(why, sizeof why, "unreadable result line");
    if (!ok) {
        fprintf(errf, "peftbench bench: cell %s/%s/%d threads/%s failed (%s)\n", size, method,
                thr, matmul_prec_name((enum matmul_prec)prec), why);
        return false;
    }
    return true;
}

/* ---- the PyTorch reference ------------------------------------------------------------- */

struct torch_slot {
    bool ok;
    double train_tps, infer_tps, rss_mib;
};

enum { TORCH_FULL, TORCH_LORA, TORCH_NMODE };
static const char *const torch_mode[] = {"full", "lora"};

/* Tuned = the settings of the reference's README (passive OpenMP waiting, no malloc trimming). */
static bool run_torch(const struct bench_plan *p, const char *size, int mode, int thr, bool tuned,
                      struct torch_slot *ts, FILE *errf)
{
    char t[16], b[16], s[16], r[16], omp[32], blas[40];
    itoa_buf(t, sizeof t, thr), itoa_buf(b, sizeof b, p->opts.B), itoa_buf(s, sizeof s, p->opts.T);
    itoa_buf(r, sizeof r, p->opts.repeats < 3 ? 3 : p->opts.repeats);
    snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", thr);
    snprintf(blas, sizeof blas, "OPENBLAS_NUM_THREADS=%d", thr);
    char *argv[] = {(char *)(uintptr_t)p->python, (char *)(uintptr_t)p->torch_script,
                    "--size", (char *)(uintptr_t)size, "--mode",
                    (char *)(uintptr_t)torch_mode[mode], "--threads", t, "--batch", b, "--seq", s,
                    "--warmup", "1", "--steps", r, "--infer-steps", "3", NULL};
    const char *set[] = {omp, blas, "OMP_WAIT_POLICY=PASSIVE",
                         "GLIBC_TUNABLES=glibc.malloc.mmap_max=0:"
                         "glibc.malloc.trim_threshold=68719476736"};
    char line[8192], why[ERR_MSG_MAX];
    cJSON *j = NULL;
    if (child_line(argv, set, tuned ? 4 : 2, "{", line, sizeof line, why, sizeof why) &&
        !(j = cJSON_Parse(line)))
        snprintf(why, sizeof why, "unparsable JSON line");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "train_tokens_per_s");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "infer_tokens_per_s");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "peak_rss_mib");
    ts->ok = cJSON_IsNumber(tr) && cJSON_IsNumber(in) && cJSON_IsNumber(rs);
    if (ts->ok)
        ts->train_tps = tr->valuedouble, ts->infer_tps = in->valuedouble,
        ts->rss_mib = rs->valuedouble;
    else
        fprintf(errf, "peftbench bench: PyTorch %s %s %d threads%s failed (%s)\n", size,
                torch_mode[mode], thr, tuned ? " tuned" : "", j ? "JSON without the figures" : why);
    cJSON_Delete(j);
    return ts->ok;
}

/* Whether the reference can run here: the script exists and the interpreter imports torch. */
static bool torch_available(const struct bench_plan *p, FILE *errf)
{
    if (access(p->torch_script, R_OK) != 0) {
        fprintf(errf, "peftbench bench: PyTorch reference %s not readable; PyTorch columns "
                      "skipped (run from the repository root or pass --torch-script)\n",
                p->torch_script);
        return false;
    }
    char *argv[] = {(char *)(uintptr_t)p->python, "-c", "import torch; print(torch.__version__)",
                    NULL};
    char out[256];
    int status = 1;
    struct err e;
    err_clear(&e);
    if (proc_capture(argv, NULL, out, sizeof out, &status, NULL, &e) || status != 0) {
        fprintf(errf, "peftbench bench: %s cannot import torch; PyTorch columns skipped "
                      "(Debian: apt-get install python3-torch)\n", p->python);
        return false;
    }
    return true;
}

/* ---- results ---------------------------------------------------------------------------- */

struct results {
    /* cell[k]: precision p->precisions[k]; cell[0] is what the fp32-era goals read */
    struct cell_slot cell[BENCH_MAX_PREC][BENCH_MAX_SIZES][BENCH_MAX_METHODS][BENCH_MAX_THREADS];
    struct torch_slot torch[BENCH_MAX_SIZES][TORCH_NMODE][BENCH_MAX_THREADS][2];
    bool have_torch;
};

static int method_index(const struct bench_plan *p, const char *name)
{
    for (int m = 0; m < p->nmethods; m++)
        if (strcmp(p->methods[m], name) == 0)
            return m;
    return -1;
}

/* The cell of precision index k. */
static const struct bench_cell *getk(const struct bench_plan *p, const struct results *R, int k,
                                     int s, const char *method, int t)
{
    int m = method_index(p, method);
    return m >= 0 && t >= 0 && R->cell[k][s][m][t].ok ? &R->cell[k][s][m][t].c : NULL;
}

static const struct bench_cell *get(const struct bench_plan *p, const struct results *R, int s,
                                    const char *method, int t)
{
    return getk(p, R, 0, s, method, t);
}

static double mib(size_t b)
{
    return (double)b / 1048576.0;
}

/* Accountant growth over the measured phase / RSS growth over it (NaN when unmeasurable). */
static double acct_vs_rss(const struct bench_cell *c)
{
    if (c->rss_peak <= c->rss_base || c->acct_peak < c->acct_base)
        return (double)NAN;
    return (double)(c->acct_peak - c->acct_base) / (double)(c->rss_peak - c->rss_base);
}

/* The options of size s: the plan's, with that size's dimensions ("custom" keeps --dims). */
static struct bench_opts size_opts(const struct bench_plan *p, int s)
{
    struct bench_opts d = p->opts;
    if (strcmp(p->sizes[s], "custom") != 0)
        bench_opts_size(&d, p->sizes[s]);
    return d;
}

static void print_header(const struct bench_plan *p, int s, FILE *out)
{
    const struct bench_opts *o = &p->opts;
    const struct bench_opts d = size_opts(p, s);
    const char *core = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    fprintf(out, "\n# size %s: L=%d D=%d H=%d F=%d V=%d, batch %dx%d, medians of %d steps after "
                 "%d warm-up; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n",
            p->sizes[s], d.L, d.D, d.H, d.F, d.V, o->B, o->T, o->repeats, o->warmup,
            core ? core : "(unset)", l2 ? l2 : "(unset)");
    fprintf(out, "%-10s %3s %10s %8s %8s %7s %6s %6s %6s %8s %6s | %7s %7s %6s %6s %7s %6s | %7s "
                 "%6s %4s\n",
            "method", "thr", "trainable", "step_ms", "tok/s", "GFLOP/s", "%peak", "/head", "/bwd",
            "inf_tok/s", "merged", "frozen", "train", "grads", "optim", "activ", "work",
            "RSS_MB", "acct/RSS", "prec");
}

/* Step / bare-bwd step: the in-process paired median when the cell has one, else across
 * processes (full fine-tuning); NaN without either. */
static double bwd_ratio(const struct bench_cell *c, const struct bench_cell *bwd)
{
    if (!isnan(c->bwd_ratio))
        return c->bwd_ratio;
    return bwd ? c->step / bwd->step : (double)NAN;
}

static void print_cell(const struct bench_cell *c, const struct bench_cell *bare,
                       const struct bench_cell *bwd, int B, int T, FILE *out)
{
    double tok = (double)B * T / c->step, gf = tok * c->flops_train * 1e-9;
    /* %peak: against the calibration of the cell's own precision (bf16: oneDNN's bf16 rate) */
    double peak = strcmp(c->precision, "bf16") == 0 ? c->peak_bf16 : c->peak_gflops;
    fprintf(out, "%-10s %3d %10zu %8.1f %8.0f %7.1f %5.1f%% %6.3f %6.3f %8.0f %6.3f | %7.1f "
                 "%7.1f %6.1f %6.1f %7.1f %6.1f | %7.1f %6.3f %4s\n",
            c->method, c->threads, c->trainable, c->step * 1e3, tok, gf,
            100.0 * gf / peak, bare ? c->step / bare->step : (double)NAN,
            bwd_ratio(c, bwd), (double)B * T / c->infer, c->merged_ratio,
            mib(c->peak[MEM_FROZEN]), mib(c->peak[MEM_TRAINABLE]), mib(c->peak[MEM_GRADS]),
            mib(c->peak[MEM_OPTIM]), mib(c->peak[MEM_ACTIVATIONS]), mib(c->peak[MEM_WORKSPACE]),
            mib(c->rss_peak), acct_vs_rss(c), c->precision);
}

static void print_torch(const struct bench_plan *p, const struct results *R, int s, FILE *out)
{
    fprintf(out, "# PyTorch reference (%s), same size and batch: tokens/s as it comes and tuned, "
                 "and peftbench's tokens/s over each\n", p->torch_script);
    fprintf(out, "%-10s %3s %10s %8s %8s %10s %8s %8s\n", "torch", "thr", "tok/s", "ours/x",
            "RSS_MB", "tuned", "ours/x", "RSS_MB");
    for (int mode = 0; mode < TORCH_NMODE; mode++)
        for (int t = 0; t < p->nthreads; t++) {
            const struct torch_slot *a = &R->torch[s][mode][t][0], *b = &R->torch[s][mode][t][1];
            int m = method_index(p, torch_mode[mode]);
            const struct cell_slot *cs = m >= 0 ? &R->cell[0][s][m][t] : NULL;
            double ours = cs && cs->ok ? (double)p->opts.B * p->opts.T / cs->c.step : (double)NAN;
            fprintf(out, "%-10s %3d %10.0f %8.2f %8.1f %10.0f %8.2f %8.1f\n", torch_mode[mode],
                    p->threads[t], a->ok ? a->train_tps : (double)NAN,
                    a->ok ? ours / a->train_tps : (double)NAN, a->ok ? a->rss_mib : (double)NAN,
                    b->ok ? b->train_tps : (double)NAN, b->ok ? ours / b->train_tps : (double)NAN,
                    b->ok ? b->rss_mib : (double)NAN);
        }
}

static void print_size(const struct bench_plan *p, const struct results *R, int s, FILE *out)
{
    print_header(p, s, out);
    for (int m = 0; m < p->nmethods; m++)
        for (int k = 0; k < p->nprec; k++)
            for (int t = 0; t < p->nthreads; t++) {
                const struct cell_slot *cs = &R->cell[k][s][m][t];
                if (cs->ok)
                    print_cell(&cs->c, getk(p, R, k, s, "head", t),
                               getk(p, R, k, s, "bare-bwd", t), p->opts.B, p->opts.T, out);
                else
                    fprintf(out, "%-10s %3d (failed, %s)\n", p->methods[m], p->threads[t],
                            matmul_prec_name((enum matmul_prec)p->precisions[k]));
            }
    if (R->have_torch)
        print_torch(p, R, s, out);
}

/* ---- goals ------------------------------------------------------------------------------ */


static int thread_index(const struct bench_plan *p, int thr)
{
    for (int t = 0; t < p->nthreads; t++)
        if (p->threads[t] == thr)
            return t;
    return -1;
}

/* met / MISSED; GOAL_INFO prints a ratio the goals state for another size ("info"). */
enum { GOAL_MISSED = 0, GOAL_MET = 1, GOAL_INFO = 2 };

static void goal(FILE *out, int met, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void goal(FILE *out, int met, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%-7s ", met == GOAL_INFO ? "info" : met ? "met" : "MISSED");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

static void goals_torch(const struct bench_plan *p, const struct results *R, FILE *out)
{
    for (int s = 0; s < p->nsizes; s++)
        for (int mode = 0; mode < TORCH_NMODE; mode++)
            for (int t = 0; t < p->nthreads; t++) {
                const struct bench_cell *c = get(p, R, s, torch_mode[mode], t);
                const struct torch_slot *ts = &R->torch[s][mode][t][0];
                if (!c || !ts->ok)
                    continue;
                double want = p->threads[t] >= 2 ? 1.5 : 1.3;
                double x = (double)p->opts.B * p->opts.T / c->step / ts->train_tps;
                goal(out, x >= want, "%s %s %d thr: peftbench/PyTorch training tokens/s %.2f "
                                     "(goal >= %.1f)", p->sizes[s], torch_mode[mode],
                     p->threads[t], x, want);
            }
}

/* Worst method step / bare step, and merged inference / bare inference, per size and threads. */
static void goals_overhead(const struct bench_plan *p, const struct results *R, FILE *out)
{
    for (int s = 0; s < p->nsizes; s++)
        for (int t = 0; t < p->nthreads; t++) {
            const struct bench_cell *bare = get(p, R, s, "head", t);
            const struct bench_cell *bwd = get(p, R, s, "bare-bwd", t);
            if (!bare)
                continue;
            for (int m = 0; m < p->nmethods; m++) {
                const struct bench_cell *c = get(p, R, s, p->methods[m], t);
                if (!c || c == bare || c == bwd || strcmp(c->method, "full") == 0)
                    continue;
                bool paired = !isnan(c->bwd_ratio);
                double x = paired ? c->bwd_ratio : c->step / (bwd ? bwd : bare)->step;
                goal(out, x <= 1.15, "%s %d thr: %s step / %s step %.3f (goal <= 1.15)",
                     p->sizes[s], p->threads[t], c->method,
                     paired ? "bare-bwd step, alternated in one process"
                     : bwd  ? "bare backbone with input gradients (bare-bwd)"
                            : "bare frozen",
                     x);
                bool lora_ia3 = strcmp(c->method, "lora") == 0 || strcmp(c->method, "ia3") == 0;
                if (lora_ia3 && !isnan(c->merged_ratio)) {
                    double y = c->merged_ratio;
                    goal(out, fabs(y - 1.0) <= 0.03, "%s %d thr: %s merged inference / bare "
                         "inference %.3f (goal within 3%%)", p->sizes[s], p->threads[t],
                         c->method, y);
                }
            }
        }
}

/* The LoRA-vs-full and scaling goals are stated at d = 512; other sizes print "info". */
static int at_d512(const struct bench_plan *p, int s, bool met)
{
    return size_opts(p, s).D == 512 ? met : GOAL_INFO;
}

static void goals_lora_full(const struct bench_plan *p, const struct results *R, FILE *out)
{
    for (int s = 0; s < p->nsizes; s++) {
        int t2 = thread_index(p, 2), t1 = thread_index(p, 1);
        const struct bench_cell *lora = get(p, R, s, "lora", t2 >= 0 ? t2 : 0);
        const struct bench_cell *full = get(p, R, s, "full", t2 >= 0 ? t2 : 0);
        if (lora && !isnan(lora->full_ratio))
            goal(out, at_d512(p, s, lora->full_ratio <= 0.7), "%s: LoRA step / full step %.3f, "
                 "alternated in one process (goal <= 0.7 at d=512)", p->sizes[s],
                 lora->full_ratio);
        else if (lora && full)
            goal(out, at_d512(p, s, lora->step / full->step <= 0.7), "%s: LoRA step / full step "
                 "%.3f (goal <= 0.7 at d=512)", p->sizes[s], lora->step / full->step);
        if (lora && full) {
            double r = (double)lora->rss_peak / (double)full->rss_peak;
            goal(out, at_d512(p, s, r <= 0.6), "%s: LoRA peak RSS / full peak RSS %.3f (%.0f / "
                 "%.0f MiB; goal <= 0.6 at d=512)", p->sizes[s], r, mib(lora->rss_peak),
                 mib(full->rss_peak));
        }
        for (int k = 0; t1 >= 0 && t2 >= 0 && k < 2; k++) {
            const char *name = k ? "lora" : "full";
            const struct bench_cell *a = get(p, R, s, name, t2), *b = get(p, R, s, name, t1);
            if (a && b)
                goal(out, at_d512(p, s, b->step / a->step >= 1.7), "%s %s: 2-thread / 1-thread "
                     "throughput %.2f (goal >= 1.7 at d=512)", p->sizes[s], name,
                     b->step / a->step);
        }
    }
}

/* The accountant's growth over the measured phase against the kernel's RSS growth. */
static void goals_accountant(const struct bench_plan *p, const struct results *R, FILE *out)
{
    double worst = 1.0;
    const char *wm = NULL, *ws = NULL;
    int wt = 0;
    for (int s = 0; s < p->nsizes; s++)
        for (int m = 0; m < p->nmethods; m++)
            for (int t = 0; t < p->nthreads; t++) {
                const struct cell_slot *cs = &R->cell[0][s][m][t];
                double x = cs->ok ? acct_vs_rss(&cs->c) : (double)NAN;
                if (!isnan(x) && fabs(x - 1.0) >= fabs(worst - 1.0))
                    worst = x, wm = p->methods[m], ws = p->sizes[s], wt = p->threads[t];
            }
    if (wm)
        goal(out, fabs(worst - 1.0) <= 0.05, "accountant growth / RSS growth over a training "
             "phase: worst %.3f (%s %s %d thr; goal within 5%%)", worst, ws, wm, wt);
}

/* bf16 against fp32 in the same run (issue 18): training step for full and LoRA, inference and
 * merged inference, LoRA's peak RSS, and the bf16 step's GFLOP/s as a share of the bf16 rate. */
static void goals_bf16(const struct bench_plan *p, const struct results *R, FILE *out)
{
    int kf = -1, kb = -1;
    for (int k = 0; k < p->nprec; k++)
        *(p->precisions[k] == MATMUL_BF16 ? &kb : &kf) = k;
    for (int s = 0; kf >= 0 && kb >= 0 && s < p->nsizes; s++)
        for (int t = 0; t < p->nthreads; t++)
            for (int i = 0; i < 2; i++) {
                const char *name = i ? "lora" : "full";
                const struct bench_cell *a = getk(p, R, kf, s, name, t);
                const struct bench_cell *b = getk(p, R, kb, s, name, t);
                if (!a || !b)
                    continue;
                goal(out, a->step / b->step >= 1.7, "%s %s %d thr: bf16 / fp32 training "
                     "throughput %.2f (goal >= 1.7)", p->sizes[s], name, p->threads[t],
                     a->step / b->step);
                goal(out, GOAL_INFO, "%s %s %d thr: bf16 / fp32 inference throughput %.2f",
                     p->sizes[s], name, p->threads[t], a->infer / b->infer);
                if (!isnan(a->merged) && !isnan(b->merged))
                    goal(out, a->merged / b->merged >= 1.8, "%s %s %d thr: bf16 / fp32 merged "
                         "inference throughput %.2f (goal >= 1.8)", p->sizes[s], name,
                         p->threads[t], a->merged / b->merged);
                if (i == 1)
                    goal(out, (double)b->rss_peak <= 0.65 * (double)a->rss_peak,
                         "%s lora %d thr: bf16 / fp32 peak RSS %.3f (goal <= 0.65)", p->sizes[s],
                         p->threads[t], (double)b->rss_peak / (double)a->rss_peak);
                double gf = (double)p->opts.B * p->opts.T / b->step * b->flops_train * 1e-9;
                goal(out, GOAL_INFO, "%s %s %d thr: bf16 step %.1f GFLOP/s = %.1f%% of the "
                     "calibrated bf16 matmul rate %.1f", p->sizes[s], name, p->threads[t], gf,
                     100.0 * gf / b->peak_bf16, b->peak_bf16);
            }
}

static void print_goals(const struct bench_plan *p, const struct results *R, FILE *out)
{
    fprintf(out, "\n# goals (ratios within this run)\n");
    if (R->have_torch)
        goals_torch(p, R, out);
    goals_overhead(p, R, out);
    goals_lora_full(p, R, out);
    goals_accountant(p, R, out);
    goals_bf16(p, R, out);
}

/* ---- the driver ------------------------------------------------------------------------- */

static int run_all(const struct bench_plan *p, struct results *R, FILE *errf)
{
    int failed = 0;
    for (int s = 0; s < p->nsizes; s++)
        for (int m = 0; m < p->nmethods; m++)
            for (int k = 0; k < p->nprec; k++)
                for (int t = 0; t < p->nthreads; t++) {
                    const char *pn = matmul_prec_name((enum matmul_prec)p->precisions[k]);
                    fprintf(errf, "bench: %s %s %s %d thread%s\n", p->sizes[s], p->methods[m],
                            pn, p->threads[t], p->threads[t] == 1 ? "" : "s");
                    struct cell_slot *cs = &R->cell[k][s][m][t];
                    cs->ok = run_cell(p, p->sizes[s], p->methods[m], p->threads[t],
                                      p->precisions[k], &cs->c, errf);
                    failed |= !cs->ok;
                }
    R->have_torch = p->torch && torch_available(p, errf);
    for (int s = 0; R->have_torch && s < p->nsizes; s++)
        for (int mode = 0; mode < TORCH_NMODE; mode++)
            for (int t = 0; t < p->nthreads; t++)
                for (int tuned = 0; tuned < 2; tuned++) {
                    fprintf(errf, "bench: PyTorch %s %s %d thread%s%s\n", p->sizes[s],
                            torch_mode[mode], p->threads[t], p->threads[t] == 1 ? "" : "s",
                            tuned ? " tuned" : "");
                    run_torch(p, p->sizes[s], mode, p->threads[t], tuned,
                              &R->torch[s][mode][t][tuned], errf);
                }
    return failed;
}

int bench_matrix_run(const struct bench_plan *p, FILE *out, FILE *errf)
{
    struct results *R = calloc(1, sizeof *R);
    if (!R) {
        fprintf(errf, "peftbench bench: out of memory\n");
        return 1;
    }
    int failed = run_all(p, R, errf);
    fprintf(out, "# peftbench bench: tokens/s are real tokens per second of a training step "
                 "(forward, loss, backward, AdamW); %%peak = achieved matmul GFLOP/s (the FLOPs "
                 "the engine executes: %s) over the "
                 "sgemm calibration at the same thread count (bf16 rows: over oneDNN's bf16 matmul "
                 "calibration); prec = the cell's precision (--precision); /head = step time over the bare "
                 "frozen backbone's (head only: no encoder backward); /bwd = step time over the "
                 "bare backbone's with input gradients through every layer (bare-bwd; for a PEFT "
                 "method the median ratio of steps alternated with a bare-bwd model in the same "
                 "process); merged = merged inference time over a bare backbone's, the median "
                 "ratio of forwards alternated in the same process; memory columns are the accountant's peaks in MiB; "
                 "RSS_MB = the process's peak resident set over the training phase\n",
            p->opts.all_rows ? "every layer full width (--all-rows)"
                             : "the last layer for [CLS] only, K and V for every token");
    for (int s = 0; s < p->nsizes; s++)
        print_size(p, R, s, out);
    print_goals(p, R, out);
    free(R);
    return failed ? 1 : 0;
}
