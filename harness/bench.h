/*
 * bench: the engine benchmark (`peftbench bench`, `make bench`).
 *
 * Calibrates sgemm GFLOP/s at transformer shapes, then measures forward and
 * training-step throughput (real tokens/s, achieved GFLOP/s, share of the
 * calibrated peak, medians of repeats) for an encoder size, with the backbone
 * trainable (full fine-tuning) and frozen (head only).
 */
#ifndef HARNESS_BENCH_H
#define HARNESS_BENCH_H

#include <stdio.h>

#include "model/err.h"

struct bench_opts {
    int L, D, H, F, V;   /* encoder size */
    int B, T;            /* batch and sequence length */
    int threads;         /* 0 = leave OpenMP's default */
    int warmup, repeats; /* steps */
    const char *size;    /* "tiny", "small", "base" or NULL for the explicit dims */
};

/* Defaults: the two sizes of the foundation issue, batch 32 x 128, 2 warm-up steps, 5 repeats. */
void bench_opts_default(struct bench_opts *o);

/* sgemm GFLOP/s (median of repeats) at the shapes of a D/F encoder with N rows. */
double bench_calibrate_gemm(int N, int D, int F, int repeats);

/* Run the benchmark for one size and print its table to out; returns 0 or an ERR_* code
 * (the message is printed to stderr by the caller). */
int bench_run(const struct bench_opts *o, FILE *out, struct err *e);

/* Per-method table at the size of o: train-step time relative to the frozen bare
 * backbone (head only), inference time unmerged and merged (where the method
 * merges) relative to the bare backbone's inference, and memory by accountant
 * category.  names[0..n) are method names at their default settings; "all"
 * means every registered method. */
int bench_methods(const struct bench_opts *o, const char *const *names, int n, FILE *out,
                  struct err *e);

#endif
