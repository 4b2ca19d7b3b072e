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

#include <stdio.h>

#include "harness/run/file_task_params.h"
#include "harness/run/run_opts.h"

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

#endif
