/*
 * run_tally: what one `peftbench run` did, counted for its last line.
 *
 * Every trial finished in this run is added once (its record's status and message); at the
 * end `run` prints "N ok, N diverged, N failed" and the first line of each failure's message,
 * and the exit status follows from the failure count (1 when any trial failed), so a failed
 * trial is never silent behind a zero exit.
 */
#ifndef HARNESS_RUN_TALLY_H
#define HARNESS_RUN_TALLY_H

#include <stddef.h>
#include <stdio.h>

struct run_tally {
    size_t ok, diverged, failed;
    size_t busy;      /* skipped: another run holds the trial's lock */
    char **failures;  /* "<trial id> <label> <task> seed <s>: <first line of message>" */
    size_t nfail_cap;
};

/* Count one finished trial; status is the record's ("ok", "diverged", "failed"). */
void run_tally_add(struct run_tally *t, const char *status, const char *what, const char *msg);

/* The summary line and the failures, one per line, to out. */
void run_tally_print(const struct run_tally *t, FILE *out);

void run_tally_free(struct run_tally *t);

#endif
