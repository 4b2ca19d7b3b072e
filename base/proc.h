/* proc: run a child program without a shell and capture its standard output. */
#ifndef HARNESS_PROC_H
#define HARNESS_PROC_H

#include <stddef.h>

#include "base/err.h"

/* Run argv (argv[0] looked up in PATH) with environment envp (NULL: ours), stdin from
 * /dev/null, stderr to ours, and its stdout into buf (NUL-terminated, truncated to n-1 bytes).
 * *status: the exit status, or 128+signal.  A failed spawn is ERR_IO whose message names
 * argv[0]; *spawn_errno (when not NULL) receives its errno (0 when the child ran). */
int proc_capture(char *const argv[], char *const envp[], char *buf, size_t n, int *status,
                 int *spawn_errno, struct err *e);

/* A copy of envp (NULL: ours) with each "NAME=value" of set[0..n) replacing or adding NAME;
 * free with proc_env_free.  NULL when out of memory. */
char **proc_env_with(char *const envp[], const char *const *set, int n);
void proc_env_free(char **env);

#endif
