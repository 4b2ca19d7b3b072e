/* cli: the peftbench command table and each subcommand's argument parsing (usage texts in
 * usage.c); every command returns its exit status (usage.c lists them). */
#include "harness/cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/bench/bench.h"
#include "harness/bench/bench_matrix.h"
#include "harness/report/compare.h"
#include "harness/cli/history_cmd.h"
#include "harness/cli/ls.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/text/tokenizer.h"
#include "harness/report/plots.h"
#include "harness/cli/demo.h"
#include "harness/cli/usage.h"
#include "harness/run/export.h"
#include "harness/run/predict.h"
#include "harness/pretrain/pretrain.h"
#include "harness/report/report.h"
#include "harness/run/run.h"
#include "harness/cluster/slurm.h"
#include "harness/sweep/sweep.h"
#include "tasks/task.h"
#include "base/err.h"
#include "base/schema.h"
#include "base/version.h"

struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, FILE *out, FILE *errf);
};

static int cmd_help(int argc, char **argv, FILE *out, FILE *errf);

/* Parse a positive int flag value; prints a clear error and returns false on bad input. */
static bool parse_int(const char *flag, const char *s, int lo, int hi, int *v, FILE *errf)
{
    char *end;
    errno = 0;
    long x = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || x < lo || x > hi) {
        fprintf(errf, "peftbench: %s expects an integer in [%d, %d], got '%s'\n", flag, lo, hi,
                s ? s : "(nothing)");
        return false;
    }
    *v = (int)x;
    return true;
}

/* "L,D,H,F,V" -> the dims of a custom size. */
static bool bench_dims(struct bench_opts *o, const char *s, FILE *errf)
{
    int v[5], n = 0;
    char *end;
    const char *p = s;
    while (s && n < 5) {
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 1 || x > 1000000 || (*end != ',' && *end != '\0'))
            break;
        v[n++] = (int)x;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (!s || n != 5 || *end != '\0' || v[1] % v[2] != 0) {
        fprintf(errf, "peftbench bench: --dims expects L,D,H,F,V (five positive integers, D "
                      "divisible by H), got '%s'\n", s ? s : "(nothing)");
        return false;
    }
    o->L = v[0], o->D = v[1], o->H = v[2], o->F = v[3], o->V = v[4], o->size = "custom";
    return true;
}

/* Add "all" (every registered method) or one method name to the plan. */
static bool bench_add_method(struct bench_plan *p, const char *name, bool *custom, FILE *errf)
{
    if (!*custom)
        p->nmethods = 0, *custom = true;
    struct err e;
    err_clear(&e);
    bool all = strcmp(name, "all") == 0;
    int n = all ? registry_count() + 2 : 1;
    for (int k = 0; k < n; k++) {
        const char *m = !all ? name : k == 0 ? "head" : k == 1 ? "bare-bwd"
                                                               : registry_at(k - 2)->name;
        if (all && k > 1 && strcmp(m, "head") == 0)
            continue;
        if (!all && strcmp(m, "head") != 0 && strcmp(m, "bare-bwd") != 0 &&
            !method_lookup(m, "--method", &e)) {
            fprintf(errf, "peftbench bench: %s\n", e.msg);
            return false;
        }
        if (p->nmethods == BENCH_MAX_METHODS) {
            fprintf(errf, "peftbench bench: at most %d methods\n", BENCH_MAX_METHODS);
            return false;
        }
        p->methods[p->nmethods++] = m;
    }
    return true;
}

/* --precision fp32 | bf16 | both (a repeat adds to the list; bf16 cells need AVX512_BF16). */
static bool bench_precision(struct bench_plan *p, const char *v, bool *seen, FILE *errf)
{
    enum matmul_prec pr;
    bool both = v && strcmp(v, "both") == 0;
    if (!v || (!both && matmul_prec_parse(v, &pr) != 0)) {
        fprintf(errf, "peftbench bench: --precision expects fp32, bf16 or both, got '%s'\n",
                v ? v : "(nothing)");
        return false;
    }
    if (!*seen)
        p->nprec = 0, *seen = true;
    if (both) {
        p->precisions[0] = MATMUL_FP32, p->precisions[1] = MATMUL_BF16, p->nprec = 2;
        p->opts.precision = MATMUL_FP32;
        return true;
    }
    for (int k = 0; k < p->nprec; k++)
        if (p->precisions[k] == (int)pr)
            return true;
    if (p->nprec == BENCH_MAX_PREC)
        return false;
    p->precisions[p->nprec++] = pr;
    p->opts.precision = p->precisions[0]; /* a --cell measures one precision */
    return true;
}

/* One option of `bench` at argv[*i]; false (after a message) on a bad one. */
static bool bench_option(struct bench_plan *p, int argc, char **argv, int *i, bool seen[4],
                         bool *cell, FILE *errf)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    struct bench_opts *o = &p->opts;
    int thr;
    if (strcmp(a, "--cell") == 0)
        return *cell = true;
    if (strcmp(a, "--torch") == 0)
        return p->torch = true;
    if (strcmp(a, "--all-rows") == 0)
        return o->all_rows = true;
    (*i)++;
    if (strcmp(a, "--method") == 0 && v)
        return bench_add_method(p, v, &seen[0], errf);
    if (strcmp(a, "--size") == 0 && v) {
        if (!seen[1])
            p->nsizes = 0, seen[1] = true;
        struct bench_opts tmp = *o;
        if (!bench_opts_size(&tmp, v) || p->nsizes == BENCH_MAX_SIZES) {
            fprintf(errf, "peftbench bench: --size expects tiny, small or base (at most %d), "
                          "got '%s'\n", BENCH_MAX_SIZES, v);
            return false;
        }
        return p->sizes[p->nsizes++] = tmp.size, true;
    }
    if (strcmp(a, "--dims") == 0)
        return bench_dims(o, v, errf) && (p->sizes[0] = "custom", p->nsizes = 1, seen[1] = true);
    if (strcmp(a, "--threads") == 0) {
        if (!seen[2])
            p->nthreads = 0, seen[2] = true;
        if (!parse_int(a, v, 1, 256, &thr, errf))
            return false;
        if (p->nthreads == BENCH_MAX_THREADS) {
            fprintf(errf, "peftbench bench: at most %d thread counts\n", BENCH_MAX_THREADS);
            return false;
        }
        return p->threads[p->nthreads++] = thr, true;
    }
    if (strcmp(a, "--batch") == 0)
        return parse_int(a, v, 1, 4096, &o->B, errf);
    if (strcmp(a, "--seq") == 0)
        return parse_int(a, v, 1, 4096, &o->T, errf);
    if (strcmp(a, "--repeats") == 0)
        return parse_int(a, v, 1, 256, &o->repeats, errf);
    if (strcmp(a, "--warmup") == 0)
        return parse_int(a, v, 0, 256, &o->warmup, errf);
    if (strcmp(a, "--precision") == 0)
        return bench_precision(p, v, &seen[3], errf);
    if (strcmp(a, "--torch-script") == 0 && v)
        return p->torch_script = v, true;
    if (strcmp(a, "--python") == 0 && v)
        return p->python = v, true;
    fprintf(errf, "peftbench bench: unknown option or missing value: '%s'\n%s", a,
            usage_text("bench"));
    return false;
}

/* --cell: one measurement in this process, printed as one "cell ..." line. */
static int bench_cell_cmd(struct bench_plan *p, FILE *out, FILE *errf)
{
    if (p->nsizes != 1 || p->nmethods != 1 || p->nthreads != 1) {
        fprintf(errf, "peftbench bench --cell: give exactly one size, method and thread count\n");
        return 2;
    }
    if (strcmp(p->sizes[0], "custom") != 0)
        bench_opts_size(&p->opts, p->sizes[0]);
    p->opts.threads = p->threads[0];
    struct bench_cell c;
    struct err e;
    err_clear(&e);
    if (bench_cell_run(&p->opts, p->methods[0], &c, &e)) {
        fprintf(errf, "peftbench bench: %s\n", e.msg);
        return 1;
    }
    snprintf(c.method, sizeof c.method, "%s", p->methods[0]);
    bench_cell_print(&c, out);
    return 0;
}

static int cmd_bench(int argc, char **argv, FILE *out, FILE *errf)
{
    struct bench_plan p;
    bench_plan_default(&p);
    bool seen[4] = {false, false, false, false}, cell = false;
    for (int i = 1; i < argc; i++)
        if (!bench_option(&p, argc, argv, &i, seen, &cell, errf))
            return 2;
    if (cell)
        return bench_cell_cmd(&p, out, errf);
    return bench_matrix_run(&p, out, errf);
}


/* Parse "I/N" with 0 <= I < N. */
static bool parse_shard(const char *s, int *i, int *n, FILE *errf)
{
    char extra;
    if (!s || sscanf(s, "%d/%d%c", i, n, &extra) != 2 || *n < 1 || *i < 0 || *i >= *n) {
        fprintf(errf, "peftbench: --shard expects I/N with 0 <= I < N, got '%s'\n",
                s ? s : "(nothing)");
        return false;
    }
    return true;
}

/* --trial K, given at most once: a second one would silently replace the first, and running
 * several is what --shard and a sweep file are for, so a repeat is a usage error. */
static int parse_trial(struct run_opts *o, const char *v, int *i, FILE *errf)
{
    int t;
    if (o->trial >= 0) {
        fprintf(errf, "peftbench: --trial given twice (%ld and '%s'); it selects one trial: run "
                      "each separately, or use --shard I/N\n", o->trial, v ? v : "(nothing)");
        return 2;
    }
    if (!parse_int("--trial", v, 0, 100000000, &t, errf))
        return 2;
    o->trial = t, (*i)++;
    return 0;
}

static int parse_run_flag(struct run_opts *o, int argc, char **argv, int *i, FILE *errf)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (strcmp(a, "--out") == 0 && v)
        o->out_dir = v, (*i)++;
    else if (strcmp(a, "--threads") == 0)
        return parse_int(a, v, 1, 256, &o->threads, errf) ? ((*i)++, 0) : 2;
    else if (strcmp(a, "--trial") == 0)
        return parse_trial(o, v, i, errf);
    else if (strcmp(a, "--shard") == 0)
        return parse_shard(v, &o->shard_i, &o->shard_n, errf) ? ((*i)++, 0) : 2;
    else if (strcmp(a, "--trial-id") == 0) {
        if (!v || strlen(v) != SWEEP_ID_LEN || strspn(v, "0123456789abcdef") != SWEEP_ID_LEN) {
            fprintf(errf, "peftbench: --trial-id expects a trial id (%d lowercase hex digits, "
                          "as in `peftbench plan`), got '%s'\n",
                    SWEEP_ID_LEN, v ? v : "(nothing)");
            return 2;
        }
        if (o->trial_id) {
            fprintf(errf, "peftbench: --trial-id given twice; it selects one trial\n");
            return 2;
        }
        o->trial_id = v, (*i)++;
    } else if (strcmp(a, "--no-csv") == 0)
        o->no_csv = true;
    else if (strcmp(a, "--resume") == 0)
        return 0; /* the default: trials already recorded are skipped */
    else if (strcmp(a, "--retry-failed") == 0)
        o->retry_failed = true; /* the default now; kept for old scripts */
    else if (strcmp(a, "--skip-failed") == 0)
        o->skip_failed = true;
    else if (strcmp(a, "--dry-run") == 0)
        o->dry_run = true;
    else if (strcmp(a, "--quiet") == 0)
        o->quiet = true;
    else if (strcmp(a, "--allow-large") == 0)
        o->allow_large = true;
    else if (strcmp(a, "--strict") == 0)
        o->strict = true; /* NaN/Inf in the checkpoint is an error, not a warning */
    else {
        fprintf(errf, "peftbench: unknown option '%s'\n%s", a, usage_text("run"));
        return 2;
    }
    return 0;
}

static int run_like(int argc, char **argv, FILE *out, FILE *errf, bool dry)
{
    struct run_opts o = {.trial = -1, .dry_run = dry};
    const char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            int rc = parse_run_flag(&o, argc, argv, &i, errf);
            if (rc) {
                free(ov);
                return rc;
            }
        } else if (strchr(argv[i], '=')) {
            ov[o.noverrides++] = argv[i];
        } else if (!o.sweep_path) {
            o.sweep_path = argv[i];
        } else {
            fprintf(errf, "peftbench: unexpected argument '%s'\n%s", argv[i], usage_text("run"));
            free(ov);
            return 2;
        }
    }
    if (!o.sweep_path) {
        fprintf(errf, "%s", usage_text("run"));
        free(ov);
        return 2;
    }
    if ((o.trial >= 0 || o.trial_id) && o.shard_n > 0) {
        fprintf(errf, "peftbench: --trial and --shard select trials differently; give one\n");
        free(ov);
        return 2;
    }
    o.overrides = ov;
    int rc = run_sweep(&o, out, errf);
    free(ov);
    return rc;
}

static int cmd_run(int argc, char **argv, FILE *out, FILE *errf)
{
    return run_like(argc, argv, out, errf, false);
}

static int cmd_plan(int argc, char **argv, FILE *out, FILE *errf)
{
    return run_like(argc, argv, out, errf, true);
}

static int cmd_collect(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc != 2) {
        fprintf(errf, "%s", usage_text("collect"));
        return 2;
    }
    return run_collect(argv[1], out, errf);
}

/* `slurm SWEEP.yaml [options] [key.path=value ...]`: harness/cluster/slurm.h. */
static int cmd_slurm(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *usage = usage_text("slurm");
    struct slurm_opts o = {.cpus_per_task = 1, .trials_per_task = 1};
    const char **ov = calloc((size_t)argc, sizeof *ov);
    if (!ov)
        return 1;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--out") == 0 && v)
            o.out_dir = v, i++;
        else if (strcmp(a, "--partition") == 0 && v)
            o.partition = v, i++;
        else if (strcmp(a, "--time") == 0 && v)
            o.time = v, i++;
        else if (strcmp(a, "--mem") == 0 && v)
            o.mem = v, i++;
        else if (strcmp(a, "--extra") == 0 && v)
            o.extra = v, i++;
        else if (strcmp(a, "--cpus-per-task") == 0)
            ok = parse_int(a, v, 1, 4096, &o.cpus_per_task, errf), i++;
        else if (strcmp(a, "--max-parallel") == 0)
            ok = parse_int(a, v, 1, 1000000, &o.max_parallel, errf), i++;
        else if (strcmp(a, "--trials-per-task") == 0)
            ok = parse_int(a, v, 1, 1000000, &o.trials_per_task, errf), i++;
        else if (strcmp(a, "--submit") == 0)
            o.submit = true;
        else if (strcmp(a, "--retry-failed") == 0)
            ; /* the default now; kept for old scripts */
        else if (strcmp(a, "--skip-failed") == 0)
            o.skip_failed = true;
        else if (strcmp(a, "--allow-large") == 0)
            o.allow_large = true;
        else if (strcmp(a, "--strict") == 0)
            o.strict = true;
        else if (a[0] != '-' && strchr(a, '='))
            ov[o.noverrides++] = a;
        else if (a[0] != '-' && !o.sweep_path)
            o.sweep_path = a;
        else {
            fprintf(errf, "peftbench slurm: unexpected argument '%s'\n%s", a, usage);
            rc = 2;
        }
        if (!ok)
            rc = 2;
    }
    if (rc == 0 && !o.sweep_path) {
        fprintf(errf, "%s", usage);
        rc = 2;
    }
    o.overrides = ov;
    if (rc == 0)
        rc = slurm_main(&o, out, errf);
    free(ov);
    return rc;
}

/* `methods [NAME]`: all methods, or one (an unknown name gets a did-you-mean, exit 2). */
static int cmd_methods(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(errf, "peftbench methods: unexpected argument '%s'\n%s", argv[argc - 1],
                usage_text("methods"));
        return 2;
    }
    if (argc == 1) {
        registry_print(out);
        return 0;
    }
    struct err e;
    err_clear(&e);
    const struct method_ops *m = method_lookup(argv[1], NULL, &e);
    if (!m) {
        fprintf(errf, "peftbench methods: %s\n", e.msg);
        return 2;
    }
    method_print(out, m);
    return 0;
}

static int cmd_tasks(int argc, char **argv, FILE *out, FILE *errf)
{
    struct task_params p;
    task_params_init(&p);
    p.data_dir = getenv("PEFTBENCH_DATA");
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            p.data_dir = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(errf, "peftbench tasks: unexpected argument '%s'\n%s", argv[i],
                    usage_text("tasks"));
            return 2;
        }
    }
    if (!name) {
        task_print(out, &p);
        return 0;
    }
    struct err e;
    err_clear(&e);
    const struct task_def *d = task_lookup(name, NULL, &e);
    if (!d) {
        fprintf(errf, "peftbench tasks: %s\n", e.msg);
        return 2;
    }
    task_print_one(out, d, &p);
    return 0;
}

/* `init-model DIR --vocab FILE [dims]`: a randomly initialised BERT in the
 * Hugging Face layout (for tests, and as the random baseline of a pretrained model). */
static int cmd_init_model(int argc, char **argv, FILE *out, FILE *errf)
{
    struct bert_config c;
    hfconfig_default(&c);
    c.num_hidden_layers = 2, c.hidden_size = 64, c.num_attention_heads = 2;
    c.intermediate_size = 128, c.max_position_embeddings = 128;
    const char *dir = NULL, *vocab = NULL;
    int seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--vocab") == 0 && v)
            vocab = v, i++;
        else if (strcmp(a, "--layers") == 0)
            ok = parse_int(a, v, 1, 1024, &c.num_hidden_layers, errf), i++;
        else if (strcmp(a, "--hidden") == 0)
            ok = parse_int(a, v, 1, 1 << 16, &c.hidden_size, errf), i++;
        else if (strcmp(a, "--heads") == 0)
            ok = parse_int(a, v, 1, 1024, &c.num_attention_heads, errf), i++;
        else if (strcmp(a, "--ffn") == 0)
            ok = parse_int(a, v, 1, 1 << 18, &c.intermediate_size, errf), i++;
        else if (strcmp(a, "--max-pos") == 0)
            ok = parse_int(a, v, 2, 1 << 16, &c.max_position_embeddings, errf), i++;
        else if (strcmp(a, "--seed") == 0)
            ok = parse_int(a, v, 0, 1 << 30, &seed, errf), i++;
        else if (a[0] != '-' && !dir)
            dir = a;
        else {
            fprintf(errf, "%s", usage_text("init-model"));
            return 2;
        }
        if (!ok)
            return 2;
    }
    if (!dir || !vocab) {
        fprintf(errf, "peftbench init-model: DIR and --vocab FILE are required\n");
        return 2;
    }
    struct err e;
    struct tokenizer *tok = NULL;
    struct tokenizer_opts to;
    tokenizer_opts_default(&to);
    if (tokenizer_load_wordpiece(&tok, vocab, &to, &e)) {
        fprintf(errf, "peftbench init-model: %s\n", e.msg);
        return 1;
    }
    c.vocab_size = tokenizer_vocab_size(tok);
    c.pad_token_id = tokenizer_pad_id(tok);
    tokenizer_free(tok);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    if (hfconfig_validate(&c, NULL, &e) || model_create(&m, &c, 2, &acct, &e)) {
        fprintf(errf, "peftbench init-model: %s\n", e.msg);
        return 1;
    }
    model_init_weights(&m, (uint64_t)seed);
    int rc = model_save_dir(&m, dir, false, vocab, &e);
    model_destroy(&m);
    if (rc) {
        fprintf(errf, "peftbench init-model: %s\n", e.msg);
        return 1;
    }
    fprintf(out, "peftbench: wrote a random L=%d D=%d H=%d F=%d V=%d model to %s\n",
            c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
            c.vocab_size, dir);
    return 0;
}

static int cmd_pretrain(int argc, char **argv, FILE *out, FILE *errf)
{
    return pretrain_main(argc, argv, out, errf);
}

/* `plot RESULTS_DIR|SWEEP.yaml [--results DIR] [--no-render]`: harness/report/plots.h.  A sweep
 * file names its results (results/<sweep>) and its plots: specs; a directory uses the
 * resolved DIR/sweep.yaml that `run` wrote. */
static int cmd_plot(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *usage = usage_text("plot");
    const char *target = NULL, *results = NULL;
    struct plots_opts po = {true, errf};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--results") == 0 && i + 1 < argc)
            results = argv[++i];
        else if (strcmp(argv[i], "--no-render") == 0)
            po.render = false;
        else if (argv[i][0] != '-' && !target)
            target = argv[i];
        else {
            fprintf(errf, "peftbench plot: unexpected argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!target) {
        fprintf(errf, "%s", usage);
        return 2;
    }
    struct stat st;
    struct plot_specs ps;
    struct err e;
    err_clear(&e);
    char dir[4096], yaml[4200], name[256];
    int rc = ERR_OK;
    if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", results ? results : target);
        snprintf(yaml, sizeof yaml, "%s/sweep.yaml", target);
        memset(&ps, 0, sizeof ps);
        if (stat(yaml, &st) == 0)
            rc = plots_load_sweep(&ps, name, sizeof name, yaml, &e);
    } else {
        rc = plots_load_sweep(&ps, name, sizeof name, target, &e);
        snprintf(dir, sizeof dir, "%s%s", results ? "" : "results/", results ? results : name);
    }
    int nfig = 0;
    if (rc == ERR_OK)
        rc = plots_make(dir, &ps, &po, &nfig, &e);
    plots_specs_free(&ps);
    if (rc) {
        fprintf(errf, "peftbench plot: %s\n", e.msg);
        return 1;
    }
    fprintf(out, "peftbench plot: %d figures in %s/plots (%s.gp scripts and .dat data beside "
                 "them); summary in %s/summary.csv\n",
            nfig, dir, po.render ? "PNG and SVG, with " : "not drawn (--no-render): ", dir);
    return 0;
}

/* `report RESULTS_DIR`: harness/report/report.h. */
static int cmd_report(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(errf, "%s", usage_text("report"));
        return 2;
    }
    struct err e;
    err_clear(&e);
    if (report_write(argv[1], &e)) {
        fprintf(errf, "peftbench report: %s\n", e.msg);
        return 1;
    }
    fprintf(out, "peftbench report: wrote %s/report.md\n", argv[1]);
    return 0;
}

/* `compare BASELINE.csv CURRENT.csv [tolerances]`: harness/report/compare.h.  Exit status 0 no
 * regression, 1 regression, 2 unusable input or usage. */
static int cmd_compare(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *usage = usage_text("compare");
    struct compare_opts o;
    compare_opts_default(&o);
    const char *files[2] = {NULL, NULL};
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double *tol = strcmp(a, "--metric-tol") == 0  ? &o.metric_tol
                      : strcmp(a, "--speed-tol") == 0 ? &o.speed_tol
                      : strcmp(a, "--sweep-speed-tol") == 0 ? &o.sweep_speed_tol
                      : strcmp(a, "--ratio-tol") == 0 ? &o.ratio_tol
                      : strcmp(a, "--mem-tol") == 0   ? &o.mem_tol
                                                      : NULL;
        if (tol) {
            char *end = NULL;
            errno = 0;
            double x = v ? strtod(v, &end) : 0.0;
            if (!v || errno || end == v || *end || !(x >= 0) || x > 1e6) {
                fprintf(errf, "peftbench compare: %s expects a number >= 0, got '%s'\n", a,
                        v ? v : "(nothing)");
                return 2;
            }
            *tol = x;
            i++;
        } else if (strcmp(a, "--allow-missing") == 0) {
            o.allow_missing = true;
        } else if (a[0] != '-' && nfiles < 2) {
            files[nfiles++] = a;
        } else {
            fprintf(errf, "peftbench compare: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (nfiles != 2) {
        fprintf(errf, "%s", usage);
        return 2;
    }
    struct compare_summary sum;
    struct err e;
    err_clear(&e);
    if (compare_files(files[0], files[1], &o, out, &sum, &e)) {
        fprintf(errf, "peftbench compare: %s\n", e.msg);
        return 2;
    }
    return sum.regressions ? 1 : 0;
}

static int cmd_version(int argc, char **argv, FILE *out, FILE *errf)
{
    (void)argc, (void)argv, (void)errf;
    fprintf(out, "peftbench %s\n", PEFTBENCH_VERSION);
    return 0;
}

static const struct subcommand commands[] = {
    {"run", "run a sweep: train every trial not yet done, write results.csv", cmd_run},
    {"plan", "list a sweep's trials with ids, parameter counts and cost (no training)", cmd_plan},
    {"collect", "rebuild RESULTS_DIR/results.csv from RESULTS_DIR/trials/", cmd_collect},
    {"plot", "draw a sweep's figures (gnuplot) and summary.csv from its results", cmd_plot},
    {"report", "write RESULTS_DIR/report.md and report.html: tables, best settings, figures", cmd_report},
    {"compare", "compare two results.csv (nightly): exit 1 on a regression", cmd_compare},
    {"history", "append results dirs to the nightly history, write history.html", history_main},
    {"ls", "list the sweeps under results/ with progress and best results", ls_main},
    {"slurm", "write (and --submit) a Slurm job array of the trials not yet done", cmd_slurm},
    {"predict", "run a saved model + adapter on a task split or a file of texts", predict_main},
    {"export", "write a saved lora/ia3 adapter in HF PEFT's layout (--format peft)", export_main},
    {"methods", "list the PEFT methods with their hyperparameters", cmd_methods},
    {"tasks", "list the tasks with kind, labels, metric and split sizes", cmd_tasks},
    {"init-model", "write a randomly initialised BERT model directory", cmd_init_model},
    {"pretrain", "pretrain a BERT (masked LM) from a config into a model directory", cmd_pretrain},
    {"bench", "engine benchmark: sgemm calibration, forward and train-step throughput", cmd_bench},
    {"demo", "the built-in demo: pretrain tiny-bert if needed, run configs/quickstart.yaml", demo_main},
    {"version", "print the version", cmd_version},
    {"help", "list the subcommands", cmd_help},
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

/* The command called name, or NULL. */
static const struct subcommand *command_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

/* "unknown command 'X'" with a did-you-mean over the command names. */
static int unknown_command(const char *name, FILE *errf)
{
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    const char *guess = hp_guess(name, names, (int)NCOMMANDS);
    fprintf(errf, "peftbench: unknown command '%s'%s%s%s; run 'peftbench help' for the list\n",
            name, guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    return 2;
}

/* `help`: every command with its one-line summary; `help CMD`: CMD's usage. */
static int cmd_help(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc > 2) {
        fprintf(errf, "%s", usage_text("help"));
        return 2;
    }
    if (argc == 2) {
        const struct subcommand *c = command_find(argv[1]);
        if (!c)
            return unknown_command(argv[1], errf);
        usage_print(out, c->name, c->summary);
        return 0;
    }
    fprintf(out, "usage: peftbench <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'peftbench help CMD' or 'peftbench CMD --help' shows CMD's options and exit "
                 "statuses.\nExit status: 0 ok, 1 failed trials, a failure or a regression, 2 "
                 "unusable input or usage, 128+N killed by signal N.\n");
    return 0;
}

int cli_main(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc < 2) {
        cmd_help(1, argv, errf, errf);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(argc - 1, argv + 1, out, errf);
    const struct subcommand *c = command_find(argv[1]);
    if (!c)
        return unknown_command(argv[1], errf);
    /* CMD --help / -h anywhere: the usage, before the command reads any argument (so
     * `collect --help` never takes --help for a directory). */
    if (usage_wants_help(argc - 1, argv + 1)) {
        usage_print(out, c->name, c->summary);
        return 0;
    }
    return c->run(argc - 1, argv + 1, out, errf);
}
