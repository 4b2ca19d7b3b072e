/*
 * run_ctx: the state of one `peftbench run` / `plan` invocation, shared by the files of
 * the sweep driver: run.c (entry points), trial_loop.c (training and recording each trial)
 * and plan_print.c (the `plan` table).  Also the tokenized-data cache reused across trials,
 * the trial selection (--trial, --trial-id, --shard) and the signal flag.
 */
#ifndef HARNESS_RUN_CTX_H
#define HARNESS_RUN_CTX_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "base/err.h"
#include "harness/run/run_tally.h"
#include "harness/sweep/sweep.h"
#include "harness/sweep/train_fault.h"
#include "tasks/batching.h"
#include "tasks/task.h"

struct run_opts;
struct tokenizer;
#define DATA_CACHE 8

/* A task's data for one (task, seed, sizes, max_seq_len), tokenized. */
struct data_entry {
    bool used;
    char task[64];
    uint64_t seed;
    int max_train, max_dev, max_test, max_seq_len;
    long last_use;
    struct task_data td;
    struct tok_split train, dev, test;
};

struct run_ctx {
    const struct run_opts *o;
    struct sweep sw;
    char out_dir[4096];
    char model_dir[4096];
    struct tokenizer *tok;
    struct data_entry cache[DATA_CACHE];
    long uses;
    double calib_gflops;
    FILE *out, *errf;
    bool tty;
    size_t nselected, ndone_now, nskipped;
    double trials_seconds;      /* wall time of trials finished in this run */
    double trial_t0;
    time_t trial_started;       /* wall clock at the trial's start: the record's started_at */
    const struct trial *cur;
    size_t cur_k;
    char cur_vary[192];         /* the settings of cur that vary in the sweep (trial_vary.h) */
    bool warned_nonfinite; /* the checkpoint's NaN/Inf warning was printed */
    bool fatal;            /* the last trial error stops the sweep (--strict) */
    struct run_tally tally; /* trials finished in this run, for the summary and exit status */
    int nother;             /* records in OUT/trials of trials not in this sweep's plan */
    struct train_fault fault; /* test-only fault switches (PEFTBENCH_FAULT_*: train_fault.h) */
};

/* The signal that asked the run to stop (SIGINT/SIGTERM), 0 while none has: the current
 * training step finishes, nothing half-done is recorded. */
extern volatile sig_atomic_t run_stop_flag;

/* Set run_stop_flag on SIGINT and SIGTERM. */
void run_ctx_install_signals(void);

/* The tokenized data of trial t's task (cached across trials by task, seed, sizes and
 * max_seq_len; least recently used entry replaced), or NULL with e set. */
struct data_entry *run_ctx_data(struct run_ctx *c, const struct trial *t, struct err *e);

/* Whether trial t is selected by --trial-id, --trial or --shard (all trials without them). */
bool run_ctx_selected(const struct run_opts *o, const struct trial *t);

/* Free the data cache, tokenizer, sweep and tally. */
void run_ctx_free(struct run_ctx *c);

#endif
