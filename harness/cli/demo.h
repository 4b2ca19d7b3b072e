/*
 * demo: `peftbench demo` (and `make demo`): the built-in default, end to end.
 *
 * Runs configs/quickstart.yaml (every method at its defaults, plus full and
 * head, on two WordNet tasks with two seeds, on builtin:tiny-bert, which is
 * pretrained first when it is not cached), which writes the CSV, the figures
 * and the report; then prints where they are and a short table of the results.
 */
#ifndef HARNESS_DEMO_H
#define HARNESS_DEMO_H

#include <stdio.h>

int demo_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
