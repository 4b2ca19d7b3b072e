/*
 * run: `peftbench run` / `plan` / `collect`: the sweep driver.
 *
 * For each trial of the sweep not yet done (resume), in plan order (or the
 * one selected by --trial, or the slice of --shard I/N): load the backbone,
 * create the methods, load and tokenize the task (cached across trials),
 * train (harness/sweep/train.c), measure, write trials/<id>.json atomically and
 * rebuild results.csv.  SIGINT/SIGTERM finish the current step, record
 * nothing for the unfinished trial, and exit so that a rerun continues.
 */
#ifndef HARNESS_RUN_H
#define HARNESS_RUN_H

#include <stdbool.h>
#include <stdio.h>

struct task_params;
struct file_task_decl;

struct run_opts {
    const char *sweep_path;
    const char *out_dir;       /* NULL: results/<sweep name> */
    int threads;               /* 0: OpenMP's default */
    long trial;                /* -1, or the plan index to run */
    const char *trial_id;      /* NULL, or the id of the one trial to run; with trial >= 0
                                * the id must be at that index (the sweep did not change) */
    bool no_csv;               /* leave results.csv to `collect` (cluster array tasks) */
    int shard_i, shard_n;      /* shard_n == 0: no sharding; else run index % n == i */
    bool dry_run;              /* plan only */
    bool quiet;
    bool retry_failed;         /* accepted for old scripts: failed trials are rerun anyway */
    bool skip_failed;          /* leave trials recorded as failed alone (default: rerun them) */
    bool allow_large;
    bool strict;               /* NaN/Inf in the checkpoint stops the run (else: a warning) */
    const char *const *overrides;
    int noverrides;
};

/* Run (or plan, with dry_run) a sweep.  Returns the exit status: 0 when no trial failed
 * (ok and diverged trials only), 1 when a trial failed or an error stopped the run, 2 for
 * unusable input found before training, 128+signal when interrupted by a signal. */
int run_sweep(const struct run_opts *o, FILE *out, FILE *errf);

/* Rebuild DIR/results.csv from DIR/trials/. */
int run_collect(const char *dir, FILE *out, FILE *errf);

/* Resolve a sweep's model string to a directory.  builtin:NAME -> results/models/NAME,
 * built first (harness/pretrain/pretrain.h) from configs/pretrain/NAME.yaml when missing or when
 * the config changed since the build; the build's progress goes to errf. */
int run_resolve_model(const char *model, char *dir, size_t n, FILE *errf);

/* Fill p->file (and p->skip_bad_rows) from the file-task declaration d of a sweep, the way
 * `run` loads it; a `labels:` list is split into labels (TASK_MAX_LABELS entries, views into
 * a static copy, so valid until the next call) and *nlabels.  Also used by `predict --sweep`. */
void run_file_task_params(struct task_params *p, const struct file_task_decl *d,
                          const char **labels, int *nlabels);

#endif
