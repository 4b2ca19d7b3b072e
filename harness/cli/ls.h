/*
 * ls: `peftbench ls [DIR]` (default results/), every sweep found under DIR with its progress.
 *
 * A sweep directory is one holding results.csv or sweep.yaml (searched to a depth of three,
 * not inside trials/, plots/ or history/).  For each, in path order: its name, trials done
 * (ok or diverged records in results.csv), failed, to run (the plan of DIR/sweep.yaml, loaded
 * with harness/sweep/sweep.h, minus the trials with an ok or diverged record: the ones the
 * next `peftbench run` trains, failed ones included; "?" when sweep.yaml is absent or no
 * longer loads), the last run (the latest started_at; results.csv's modification time when
 * absent) and, per task, its best setting (highest mean dev metric over seeds).
 */
#ifndef HARNESS_CLI_LS_H
#define HARNESS_CLI_LS_H

#include <stdio.h>

/* The command; returns its exit status (0 ok, even with no sweep found; 2 DIR unreadable). */
int ls_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
