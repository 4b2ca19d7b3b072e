/*
 * bench_matrix: the benchmark table of `peftbench bench` / `make bench`.
 *
 * For each size x method x thread count it runs one cell in a child process
 * (`peftbench bench --cell ...`, so peak RSS and thread pools are the cell's
 * own), optionally runs the PyTorch reference script on the same sizes in the
 * same invocation (`--torch`, `make bench-compare`), prints one table per size
 * and then the performance goals of the project with the measured value of
 * each and whether it is met.
 */
#ifndef HARNESS_BENCH_MATRIX_H
#define HARNESS_BENCH_MATRIX_H

#include <stdbool.h>
#include <stdio.h>

#include "harness/bench/bench.h"

#define BENCH_MAX_SIZES 3
#define BENCH_MAX_METHODS 32
#define BENCH_MAX_THREADS 4
#define BENCH_MAX_PREC 2

struct bench_plan {
    const char *sizes[BENCH_MAX_SIZES]; /* "tiny", "small", "base"; "custom" = dims below */
    int nsizes;
    const char *methods[BENCH_MAX_METHODS]; /* registry names; "head" is the bare backbone */
    int nmethods;
    int threads[BENCH_MAX_THREADS];
    int nthreads;
    int precisions[BENCH_MAX_PREC]; /* enum matmul_prec, each cell measured in each (--precision) */
    int nprec;
    struct bench_opts opts;   /* batch, sequence, warm-up, repeats; dims for "custom" */
    bool torch;               /* also run the PyTorch reference */
    const char *torch_script; /* path of bert_peft_ref.py */
    const char *python;       /* interpreter with torch (Debian's /usr/bin/python3) */
    const char *self;         /* this binary (default /proc/self/exe) */
};

/* Defaults: tiny and small; full, head, lora, ia3, houlsby, pfeiffer, prefix, compacter;
 * 2 and 1 threads; fp32; batch 32 x 128; no PyTorch. */
void bench_plan_default(struct bench_plan *p);

/* Run the plan and print the tables and the goals to out (progress to errf).  Returns 0, or
 * 1 when a cell failed (reported; the rest still runs). */
int bench_matrix_run(const struct bench_plan *p, FILE *out, FILE *errf);

#endif
