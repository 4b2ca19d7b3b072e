/*
 * plan_estimate: the wall time `peftbench plan` expects the trials still to run to take,
 * from the wall times of trials already recorded in the results directory.
 *
 * Each trial to run counts the mean wall_seconds of the recorded trials of its method and
 * task, else the mean of every recorded trial; records of other sweeps in the directory
 * count too (same machine, likely the same model).  No record: no estimate, never a guess.
 */
#ifndef HARNESS_RUN_PLAN_ESTIMATE_H
#define HARNESS_RUN_PLAN_ESTIMATE_H

#include <stddef.h>
#include <stdio.h>

struct trial;

/* One line to out: "estimated remaining: ~N min (from K recorded trials)", "no estimate (no
 * recorded trials)", or "estimated remaining: nothing to run" when n is 0.  todo: the n
 * trials `run` would train; out_dir: the results directory (its trials/ may not exist). */
void plan_estimate_print(FILE *out, const char *out_dir, const struct trial *const *todo,
                         size_t n);

#endif
