/*
 * readfile: open a user's file for reading, and read a whole stream within a size limit.
 *
 * Every reader of a user-supplied path (sweep files and their includes, config.json, weights,
 * vocabularies, data files, adapters, results) opens it through readfile_open or
 * readfile_fopen.  They refuse anything that is not a regular file -- a FIFO, a socket, a
 * device, a directory -- before a single byte is read: reading a FIFO blocks until some
 * other process writes to it (forever, in practice), a device may never end, and a directory
 * reads as an error far from the cause.  The check is made twice: stat() first, so that a
 * socket or device is never opened at all, then fstat() on the descriptor, opened with
 * O_NONBLOCK, so that a path swapped for a FIFO between the two calls cannot block the
 * open either (O_NONBLOCK is cleared again before the caller reads a regular file).
 */
#ifndef MODEL_READFILE_H
#define MODEL_READFILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

/*
 * Refuse path unless it names a regular file (symbolic links followed), without opening it.
 * ERR_IO with "PATH: not a regular file (a FIFO)" (a socket, a character device, a block
 * device, a directory) and errno 0, or "PATH: cannot open: REASON" when it cannot be
 * stat'ed, with errno still holding the system's reason (ENOENT for a missing file: callers
 * that add advice look at it).  For checks made before any work starts (preflight);
 * readers use readfile_open.
 */
int readfile_check(const char *path, struct err *e);

/*
 * Open path read-only (close-on-exec) into *fd after readfile_check, and check the opened
 * file again.  Errors and errno as readfile_check (a failing open(2) is "PATH: cannot open:
 * REASON" too); *fd is -1 on failure.  The caller closes *fd.
 */
int readfile_open(const char *path, int *fd, struct err *e);

/* readfile_open as a stdio stream ("rb"); *f is NULL on failure.  The caller fcloses *f. */
int readfile_fopen(const char *path, FILE **f, struct err *e);

/*
 * Read f to its end into a malloc'ed, NUL-terminated *buf of *len bytes.  A stream of exactly
 * `limit` bytes is accepted; a longer one is refused (ERR_LIMIT) after reading at most
 * limit + 1 bytes, or at once when f is a regular file whose size says so.  Returns ERR_OK,
 * ERR_LIMIT, ERR_NOMEM or ERR_IO (the caller words the message: it knows the file's role);
 * on failure *buf is NULL.
 */
int readfile_bounded(FILE *f, size_t limit, char **buf, size_t *len);

#endif
