/*
 * run_opts: the options of one `peftbench run` / `plan` invocation (harness/run/run.h).
 *
 * Why apart from run.h: the files that run.c is split into (run_ctx, trial_loop,
 * plan_print) read these options, and run.c includes them; keeping the struct here lets
 * them see it without including run.h (which would make a circle of files).
 */
#ifndef HARNESS_RUN_OPTS_H
#define HARNESS_RUN_OPTS_H

#include <stdbool.h>

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

#endif
