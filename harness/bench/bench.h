/*
 * bench: one benchmark cell (`peftbench bench`, `make bench`).
 *
 * A cell is one (encoder size, method at its defaults, thread count): it
 * calibrates sgemm at the encoder's GEMM shapes with that many threads, builds
 * a randomly initialised encoder, attaches the method, and times training
 * steps (forward, loss, backward, AdamW) and inference forwards on a random
 * full-length batch, as medians of repeats.  It also records the accountant's
 * peak memory by category and the process's resident-set growth over the
 * measured phase, so the accountant can be checked against the kernel.
 *
 * Every cell runs in its own process (bench_matrix.c spawns them), so peak RSS
 * and thread pools belong to one cell.
 */
#ifndef HARNESS_BENCH_H
#define HARNESS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "model/engine/matmul.h"
#include "model/engine/mem.h"

struct bench_opts {
    int L, D, H, F, V;   /* encoder size */
    int B, T;            /* batch and sequence length */
    int threads;         /* 0 = leave OpenMP's default */
    int warmup, repeats; /* training steps */
    const char *size;    /* "tiny", "small", "base" or "custom" */
    bool all_rows;       /* run the last layer for every token (model.all_rows): the engine
                            without its first-token last layer, for comparison */
    int precision;       /* enum matmul_prec: fp32 (default) or bf16 (model/arch/precision.h) */
};

/* Defaults: the small size of the performance issue, batch 32 x 128, 2 warm-up steps, 5
 * repeats. */
void bench_opts_default(struct bench_opts *o);

/* Set L/D/H/F/V for "tiny", "small" or "base"; false for any other name. */
bool bench_opts_size(struct bench_opts *o, const char *size);

/* sgemm GFLOP/s (median of repeats) at the shapes of a D/F encoder with N rows. */
double bench_calibrate_gemm(int N, int D, int F, int repeats);
/* The same for oneDNN's bf16 matmul (bf16 inputs already cast, fp32 output): the rate a bf16
 * step's GEMMs can reach.  0 when the CPU has no bf16 or on failure. */
double bench_calibrate_bf16(int N, int D, int F, int repeats);

/* What one cell measured.  Times are medians in seconds; merged is NaN when the method does
 * not merge into the backbone. */
struct bench_cell {
    char method[32];
    char precision[8];            /* "fp32" or "bf16" */
    int threads;
    double peak_gflops;           /* sgemm calibration at these threads */
    double peak_bf16;             /* bf16 matmul calibration (bf16 cells; 0 for fp32) */
    double step, infer, merged;   /* median seconds per batch */
    double merged_bare;           /* a bare backbone's inference, timed alternately with merged
                                     in the same process (NaN when not mergeable) */
    double merged_ratio;          /* median over those alternated pairs of merged / bare (NaN
                                     when not mergeable): drift of a shared machine cancels
                                     within a pair */
    double bwd_ratio;             /* median over alternated pairs of this method's training step
                                     / a bare-bwd step of a second model in the same process
                                     (NaN for full, head, bare and bare-bwd themselves) */
    double full_ratio;            /* LoRA only: median over alternated pairs of its step / a
                                     full fine-tuning step of a second model (NaN otherwise) */
    double flops_train;           /* FLOPs per token of the step (see bench.c) */
    double flops_infer;
    size_t trainable;             /* trainable parameters */
    size_t peak[MEM_NCAT];        /* accountant peaks per category over the measured phase */
    size_t acct_base, acct_peak;  /* accountant total before the phase, and its peak */
    size_t rss_base, rss_peak;    /* VmRSS before the phase, VmHWM over it (bytes) */
};

/* Measure one cell in this process: method NULL, "bare" or "head" = frozen backbone with only
 * the head trainable; "bare-bwd" = the same with input gradients through every layer (see
 * bench.c); otherwise a registered method at its defaults. */
int bench_cell_run(const struct bench_opts *o, const char *method, struct bench_cell *c,
                   struct err *e);

/* One line "cell k=v ..." that bench_cell_parse reads back (the child-to-parent protocol). */
void bench_cell_print(const struct bench_cell *c, FILE *out);
bool bench_cell_parse(const char *line, struct bench_cell *c);

#endif
