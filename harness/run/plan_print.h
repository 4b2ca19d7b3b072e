/*
 * plan_print: the table `peftbench plan` prints: each selected trial's id, method, task,
 * seed, parameter counts, training FLOPs per token, recorded state and hyperparameters.
 * Never trains or builds: a builtin model not built yet gives its dimensions from its
 * pretraining config.
 */
#ifndef HARNESS_RUN_PLAN_PRINT_H
#define HARNESS_RUN_PLAN_PRINT_H

#include <stdio.h>

#include "base/err.h"

struct run_ctx;

/* Print c's plan to out (c->out_dir is set to the results directory). */
int plan_print(struct run_ctx *c, FILE *out, struct err *e);

#endif
