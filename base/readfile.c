#include "base/readfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/err.h"

int readfile_bounded(FILE *f, size_t limit, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct stat st;
    if (limit >= SIZE_MAX - 1)
        return ERR_LIMIT;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > limit)
        return ERR_LIMIT; /* known without reading it */
    /* The buffer never grows past limit + 1 bytes of data: reading limit + 1 tells a stream of
     * exactly limit bytes (accepted) from a longer one (refused), whatever the stream is. */
    size_t cap = limit < ((size_t)1 << 20) ? limit + 1 : (size_t)1 << 20, n = 0;
    char *b = malloc(cap + 1);
    int rc = ERR_OK;
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (n > limit) {
            rc = ERR_LIMIT;
            break;
        }
        cap = cap > limit / 2 ? limit + 1 : 2 * cap;
        char *nb = realloc(b, cap + 1);
        if (!nb)
            free(b);
        b = nb;
    }
    if (!rc && !b)
        rc = ERR_NOMEM;
    if (!rc && ferror(f))
        rc = ERR_IO;
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return ERR_OK;
}
