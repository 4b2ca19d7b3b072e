/*
 * pretrain command: the two ways a process asks for a pretrained model, `peftbench
 * pretrain CONFIG.yaml` and a sweep's `model: builtin:NAME`.  Both own the process's
 * SIGINT/SIGTERM while the model builds: the signal abandons the build cleanly (nothing
 * is written), then builtin:NAME re-raises it and the command exits with 128 + signal.
 */
#ifndef HARNESS_PRETRAIN_COMMAND_H
#define HARNESS_PRETRAIN_COMMAND_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

#define PRETRAIN_CONFIG_DIR "configs/pretrain"
#define PRETRAIN_MODEL_DIR  "results/models"

/* builtin:NAME: dir = PRETRAIN_MODEL_DIR/NAME, reused when current, else (re)built from
 * PRETRAIN_CONFIG_DIR/NAME.yaml (relative to the working directory) with progress on out
 * (NULL: silent).  SIGINT/SIGTERM abandon the build cleanly (ERR_STATE "interrupted").
 * A missing config is ERR_CONFIG listing the configs that exist. */
int pretrain_builtin(const char *name, char *dir, size_t n, FILE *out, struct err *e);

/* `peftbench pretrain` entry point: returns the exit status (0, 1 error, 2 usage,
 * 130 interrupted). */
int pretrain_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
