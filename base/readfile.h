/* readfile: read a whole stream into memory, never holding more than a size limit. */
#ifndef MODEL_READFILE_H
#define MODEL_READFILE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Read f to its end into a malloc'ed, NUL-terminated *buf of *len bytes.  A stream of exactly
 * `limit` bytes is accepted; a longer one is refused (ERR_LIMIT) after reading at most
 * limit + 1 bytes, or at once when f is a regular file whose size says so.  Returns ERR_OK,
 * ERR_LIMIT, ERR_NOMEM or ERR_IO (the caller words the message: it knows the file's role);
 * on failure *buf is NULL.
 */
int readfile_bounded(FILE *f, size_t limit, char **buf, size_t *len);

#endif
