/*
 * compare: `peftbench compare BASELINE.csv CURRENT.csv`, the nightly
 * regression check between two results.csv files.
 *
 * Trials are matched by trial_id (a hash of the full trial config, so a
 * match is the same experiment).  For each matched pair:
 *   - status: ok -> diverged/failed is a regression, the reverse an improvement;
 *   - parameter counts (params_method, params_head, params_trainable,
 *     params_stored, params_total: those in both files) must match exactly:
 *     any difference is a regression;
 *   - primary metric (primary_value), absolute: cur - base < -metric_tol is a
 *     regression, > +metric_tol an improvement;
 *   - throughput: where both files have throughput_ratio (the trial's training step against
 *     a bare reference step timed beside it in the same process, harness/sweep/train.h), the
 *     ratio of the two: < 1 - ratio_tol is a regression, > 1 + ratio_tol an improvement (a
 *     loaded machine slows both sides of the ratio alike);
 *   - otherwise throughput normalized by each run's GEMM calibration,
 *     train_tokens_per_s / calibration_gflops, so that a slower machine is
 *     not a regression: ratio cur/base < 1 - speed_tol is a regression,
 *     > 1 + speed_tol an improvement (raw tokens/s when a calibration is
 *     missing, marked so);
 *   - over the sweep, the geometric mean of the per-trial speed ratios (by
 *     throughput_ratio, or normalized with a calibration on both sides: a raw
 *     ratio measures the machines too) < 1 - sweep_speed_tol is one more regression, judged
 *     from COMPARE_SWEEP_MIN_TRIALS such trials on (the mean of one ratio is
 *     that trial's own, already judged at speed_tol);
 *   - peak memory (mem_peak_total, the accountant's), relative: ratio
 *     > 1 + mem_tol is a regression, < 1 - mem_tol an improvement.
 * Trials missing from CURRENT count as regressions (a benchmark that
 * disappears hides whatever it measured) unless allow_missing; trials only in
 * CURRENT are listed as new.
 *
 * Unusable input (missing file, not a results CSV, a required column
 * missing, duplicate trial ids, a baseline without data rows, an ok baseline
 * trial whose primary_value is empty, NaN or not a number) is an error,
 * distinct from a regression.
 */
#ifndef HARNESS_COMPARE_H
#define HARNESS_COMPARE_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

#define COMPARE_SWEEP_MIN_TRIALS 2 /* normalized ratios needed for the sweep-level verdict */

struct compare_opts {
    double metric_tol;      /* 0.01: absolute, on primary_value */
    double speed_tol;       /* 0.15: relative, on one trial's normalized throughput */
    double sweep_speed_tol; /* 0.10: relative, on the geometric mean over all matched trials */
    double ratio_tol;       /* 0.10: relative, on one trial's throughput_ratio (when both files
                               have it; speed_tol judges the calibrated fallback) */
    double mem_tol;         /* 0.10: relative, on mem_peak_total */
    bool allow_missing;     /* trials missing from CURRENT are not regressions */
};

struct compare_summary {
    int matched;
    int regressed;      /* matched trials with at least one regression */
    int improved;       /* matched trials with an improvement and no regression */
    int missing;        /* in BASELINE, not in CURRENT */
    int added;          /* in CURRENT, not in BASELINE */
    int regressions;    /* regressed + (missing unless allow_missing) + sweep slowdown: the exit
                           decision */
    int speed_trials;   /* trials in the sweep-level throughput ratio (calibrated ones) */
    double speed_gmean; /* geometric mean of their normalized-throughput ratios (NaN: none) */
    bool sweep_slower;  /* speed_gmean < 1 - sweep_speed_tol, with speed_trials >=
                           COMPARE_SWEEP_MIN_TRIALS */
};

/* The defaults above. */
void compare_opts_default(struct compare_opts *o);

/* Compare two results.csv files and print the table of changes to out.
 * Returns ERR_OK (see *sum for the verdict) or an error for unusable input
 * (the message names the file and what is wrong). */
int compare_files(const char *baseline, const char *current, const struct compare_opts *o,
                  FILE *out, struct compare_summary *sum, struct err *e);

#endif
