/*
 * run_tally: counting the trials a run finished and printing its summary (run_tally.h).
 */
#include "harness/run/run_tally.h"

#include <stdlib.h>
#include <string.h>

/* "what: first line of msg" in a fresh allocation (NULL when out of memory: the count stays
 * right, only the line is lost). */
static char *failure_line(const char *what, const char *msg)
{
    size_t nl = msg ? strcspn(msg, "\n") : 0;
    size_t n = strlen(what) + 2 + nl + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %.*s", what, (int)nl, msg ? msg : "");
    return s;
}

void run_tally_add(struct run_tally *t, const char *status, const char *what, const char *msg)
{
    if (strcmp(status, "ok") == 0) {
        t->ok++;
        return;
    }
    if (strcmp(status, "diverged") == 0) {
        t->diverged++;
        return;
    }
    if (t->failed == t->nfail_cap) {
        size_t cap = t->nfail_cap ? 2 * t->nfail_cap : 8;
        char **f = realloc(t->failures, cap * sizeof *f);
        if (!f) {
            t->failed++;
            return;
        }
        t->failures = f;
        t->nfail_cap = cap;
    }
    t->failures[t->failed++] = failure_line(what, msg);
}

void run_tally_print(const struct run_tally *t, FILE *out)
{
    fprintf(out, "peftbench: %zu ok, %zu diverged, %zu failed", t->ok, t->diverged, t->failed);
    if (t->busy)
        fprintf(out, ", %zu running elsewhere", t->busy);
    fprintf(out, "\n");
    for (size_t i = 0; i < t->failed && i < t->nfail_cap; i++)
        if (t->failures[i])
            fprintf(out, "  failed %s\n", t->failures[i]);
}

void run_tally_free(struct run_tally *t)
{
    for (size_t i = 0; i < t->failed && i < t->nfail_cap; i++)
        free(t->failures[i]);
    free(t->failures);
    memset(t, 0, sizeof *t);
}
