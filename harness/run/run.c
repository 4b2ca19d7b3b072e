/*
 * run: the entry points of the sweep driver (harness/run/run.h): resolve the model, check
 * every trial (preflight), prepare the results directory, then plan_print.c or
 * trial_loop.c; the summary and exit status at the end.
 */
#include "harness/run/run.h"

#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/bench/bench.h"
#include "harness/pretrain/pretrain.h"
#include "harness/report/report.h"
#include "harness/run/model_identity.h"
#include "harness/run/plan_csv.h"
#include "harness/run/plan_print.h"
#include "harness/run/preflight.h"
#include "harness/run/run_ctx.h"
#include "harness/run/trial_loop.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "model/text/tokenizer.h"

/* ---- model and data --------------------------------------------------------------- */

int run_resolve_model(const char *model, char *dir, size_t n, FILE *errf)
{
    struct stat st;
    if (strncmp(model, "builtin:", 8) == 0) {
        /* results/models/NAME, (re)built from configs/pretrain/NAME.yaml when missing or
         * when the config changed; the build reports its progress on errf. */
        struct err e;
        err_clear(&e);
        if (pretrain_builtin(model + 8, dir, n, errf, &e) == 0)
            return 0;
        fprintf(errf, "peftbench: %s\n", e.msg);
        return 1;
    }
    snprintf(dir, n, "%s", model);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(errf, "peftbench: model directory %s: %s\n", dir,
                stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
        return 1;
    }
    return 0;
}

/* ---- the sweep ---------------------------------------------------------------- */

static int prepare_out(struct run_ctx *c, struct err *e)
{
    if (c->o->out_dir)
        snprintf(c->out_dir, sizeof c->out_dir, "%s", c->o->out_dir);
    else
        snprintf(c->out_dir, sizeof c->out_dir, "results/%s", c->sw.name);
    char path[4200];
    if (results_mkdirs(c->out_dir, e))
        return e->code;
    snprintf(path, sizeof path, "%s/trials", c->out_dir);
    if (results_mkdirs(path, e))
        return e->code;
    /* writable before any training: a read-only results dir fails now, not after hours */
    snprintf(path, sizeof path, "%s/trials/.write-test.%ld", c->out_dir, (long)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return ERR_SET(e, ERR_IO, "results directory %s/trials is not writable: %s", c->out_dir,
                       strerror(errno));
    fclose(f);
    unlink(path);
    snprintf(path, sizeof path, "%s/sweep.yaml", c->out_dir);
    const char *y = c->sw.resolved_yaml ? c->sw.resolved_yaml : "";
    return results_write_atomic(path, y, strlen(y), e);
}

/* vocab.txt (BERT WordPiece) or vocab.json + merges.txt (RoBERTa byte-level BPE). */
static int load_tokenizer(struct run_ctx *c, struct err *e)
{
    return tokenizer_load_dir(&c->tok, c->model_dir, e);
}

/* ---- entry points --------------------------------------------------------------- */

static size_t count_todo(struct run_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->sw.ntrials; i++) {
        const struct trial *t = &c->sw.trials[i];
        if (!run_ctx_selected(c->o, t))
            continue;
        if (results_trial_done(c->out_dir, t->id, !c->o->skip_failed))
            c->nskipped++;
        else
            n++;
    }
    return n;
}

/* --trial-id: the sweep still holds the trial, and at --trial's index when given (a job
 * array planned the pair; an edited sweep must not run another trial in its place). */
static int check_trial_id(const struct run_ctx *c, struct err *e)
{
    const struct run_opts *o = c->o;
    if (!o->trial_id)
        return ERR_OK;
    const struct trial *t = NULL;
    for (size_t i = 0; i < c->sw.ntrials && !t; i++)
        if (strcmp(c->sw.trials[i].id, o->trial_id) == 0)
            t = &c->sw.trials[i];
    if (!t)
        return ERR_SET(e, ERR_CONFIG,
                       "--trial-id %s: sweep %s (%s) has no such trial: the file changed since "
                       "the job was planned; run `peftbench slurm` again to plan what is missing",
                       o->trial_id, c->sw.name, c->sw.path);
    if (o->trial >= 0 && t->index != o->trial)
        return ERR_SET(e, ERR_CONFIG,
                       "--trial %ld --trial-id %s: that trial is now at plan index %d of %s (%s): "
                       "the file changed since the job was planned; run `peftbench slurm` again "
                       "to plan what is missing",
                       o->trial, o->trial_id, t->index, c->sw.name, c->sw.path);
    return ERR_OK;
}

static int sweep_body(struct run_ctx *c, struct err *e)
{
    const struct run_opts *o = c->o;
    if (check_trial_id(c, e))
        return e->code;
    if (o->trial >= 0 && (size_t)o->trial >= c->sw.ntrials)
        return ERR_SET(e, ERR_RANGE, "--trial %ld: the sweep has %zu trials (0..%zu)", o->trial,
                       c->sw.ntrials, c->sw.ntrials ? c->sw.ntrials - 1 : 0);
    if (o->dry_run)
        return plan_print(c, c->out, e);
    if (prepare_out(c, e) || load_tokenizer(c, e))
        return e->code;
    c->nselected = count_todo(c);
    if (!o->quiet)
        fprintf(c->out, "peftbench: sweep %s: %zu trials to run, %zu already done, results in %s\n",
                c->sw.name, c->nselected, c->nskipped, c->out_dir);
    c->calib_gflops = bench_calibrate_gemm(1024, 256, 1024, 3);
    run_ctx_install_signals();
    int rc = trial_loop_run(c, e);
    if (rc == ERR_OK && c->ndone_now == 0 && !o->no_csv) /* nothing ran: a consistent CSV */
        rc = run_plan_csv(c->out_dir, &c->sw, NULL, &c->nother, e);
    return rc;
}

int run_sweep(const struct run_opts *o, FILE *out, FILE *errf)
{
    struct run_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.out = out;
    c.errf = errf;
    c.tty = isatty(fileno(out)) && !o->quiet;
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    struct err e;
    err_clear(&e);
    if (train_fault_from_env(&c.fault, &e)) { /* a test aid's bad value: unusable input */
        fprintf(errf, "peftbench: %s\n", e.msg);
        return 2;
    }
    if (train_fault_any(&c.fault) && !o->dry_run) {
        char what[160];
        train_fault_describe(&c.fault, what, sizeof what);
        fprintf(errf, "peftbench: warning: test-only fault switches on (PEFTBENCH_FAULT_%s): "
                      "the results measure a planted regression\n", what);
    }
    struct sweep_opts so = {o->overrides, o->noverrides, o->allow_large, model_identity};
    if (sweep_load(&c.sw, o->sweep_path, &so, &e)) { /* unusable input: README "Exit codes" */
        fprintf(errf, "peftbench: %s\n", e.msg);
        return e.code == ERR_NOMEM ? 1 : 2;
    }
    if (preflight_run(&c.sw, errf)) { /* every problem listed, nothing built or recorded */
        run_ctx_free(&c);
        return 2;
    }
    if (!o->dry_run && /* plan never builds (plan() reads the dimensions itself) */
        run_resolve_model(c.sw.model, c.model_dir, sizeof c.model_dir, errf)) {
        run_ctx_free(&c);
        return 1;
    }
    int rc = sweep_body(&c, &e);
    if (rc)
        fprintf(errf, "%speftbench: %s\n", c.tty ? "\n" : "", e.msg);
    int status = rc ? 1 : 0;
    if (rc == ERR_OK && run_stop_flag) {
        fprintf(errf, "%speftbench: interrupted by signal %d: %zu trials finished in this run; "
                      "run the same command again to continue\n",
                c.tty ? "\n" : "", (int)run_stop_flag, c.ndone_now);
        status = 128 + (int)run_stop_flag;
    } else if (rc == ERR_OK && !o->dry_run) {
        if (!o->quiet)
            fprintf(out, "peftbench: done: %zu trials run, results in %s/results.csv\n",
                    c.ndone_now, c.out_dir);
        status = c.tally.failed ? 1 : 0;
    }
    /* figures and report.md of the whole sweep (warnings only, never the exit status; failed
     * trials are listed in the report); a cluster slice leaves them to `peftbench plot` once
     * every slice is in */
    bool finished = rc == ERR_OK && !run_stop_flag && !o->dry_run;
    if (finished && o->trial < 0 && !o->trial_id && o->shard_n == 0 && !o->no_csv)
        report_after_run(c.out_dir, &c.sw, o->quiet, out, errf);
    /* the last lines: what this run did, and why it exits 1 */
    if (finished && c.nother > 0 && !o->quiet)
        fprintf(out, "peftbench: %d records in %s/trials are not in this sweep (the file changed "
                     "since they ran): kept on disk, left out of results.csv, figures and report\n",
                c.nother, c.out_dir);
    if (finished && (c.tally.failed || !o->quiet))
        run_tally_print(&c.tally, c.tally.failed ? errf : out);
    run_ctx_free(&c);
    return status;
}
