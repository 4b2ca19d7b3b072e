/*
 * fileio: crash-safe file replacement.  Data goes to "<path>.tmp.<pid>", is fsync'ed and
 * renamed over path, and the directory is fsync'ed: a reader (or a run killed at any point)
 * sees the old file or the whole new one, never a torn one; on any error the temporary is
 * removed and path is untouched.  Every file peftbench writes goes through here.
 *
 * Testing aid: PEFTBENCH_FAULT_SLOW_WRITE_MS=N pauses N ms between the complete temporary and
 * the rename (the crash-safety test kills runs inside that window).
 */
#ifndef MODEL_FILEIO_H
#define MODEL_FILEIO_H

#include <stddef.h>

#include "base/err.h"

struct fileio_atomic {
    char *path, *tmp; /* owned */
    int fd;
};

/* Create the temporary for path.  Error names the temporary ("cannot create"). */
int fileio_atomic_open(struct fileio_atomic *a, const char *path, struct err *e);
/* Append n bytes. */
int fileio_atomic_write(struct fileio_atomic *a, const void *p, size_t n, struct err *e);
/* fsync, close, rename over path, fsync the directory; releases a (also on error). */
int fileio_atomic_commit(struct fileio_atomic *a, struct err *e);
/* Drop the temporary; path untouched.  Safe after a failed write or commit. */
void fileio_atomic_abort(struct fileio_atomic *a);

/* The whole sequence for data already in memory. */
int fileio_write_atomic(const char *path, const void *data, size_t len, struct err *e);

/* The testing aid's pause (no-op unless PEFTBENCH_FAULT_SLOW_WRITE_MS is set). */
void fileio_fault_pause(void);

#endif
