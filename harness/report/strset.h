/*
 * strset: distinct texts, in order of first appearance -- a figure's series,
 * its categorical x values, a spec's split parts.  A linear search: a figure
 * has tens of them.
 */
#ifndef HARNESS_STRSET_H
#define HARNESS_STRSET_H

#include <stdbool.h>

/* Distinct texts, in order of first appearance. */
struct strset {
    char **v; /* owned */
    int n, cap;
    bool oom;
};

/* The index of s in ss, added (copied) when new.  Out of memory sets ss->oom and returns 0. */
int strset_add(struct strset *ss, const char *s);

/* Free the texts; ss is empty (reusable) afterwards. */
void strset_free(struct strset *ss);

#endif
