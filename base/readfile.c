/* readfile: open user files for reading (regular files only) and read them within a limit;
 * the contract, and why a FIFO must never be opened for a blocking read, are in readfile.h. */
#include "base/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for the message. */
static const char *readfile_kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISDIR(m))
        return "a directory";
    return "a special file";
}

static int readfile_not_regular(const char *path, mode_t m, struct err *e)
{
    ERR_SET(e, ERR_IO, "%s: not a regular file (%s)", path, readfile_kind(m));
    errno = 0;
    return ERR_IO;
}

/* "PATH: cannot open: REASON" with errno kept for the caller (ERR_SET may change it). */
static int readfile_cannot(const char *path, struct err *e)
{
    int saved = errno;
    ERR_SET(e, ERR_IO, "%s: cannot open: %s", path, strerror(saved));
    errno = saved;
    return ERR_IO;
}

int readfile_check(const char *path, struct err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return readfile_cannot(path, e);
    if (!S_ISREG(st.st_mode))
        return readfile_not_regular(path, st.st_mode, e);
    return ERR_OK;
}

int readfile_open(const char *path, int *fd, struct err *e)
{
    *fd = -1;
    int rc = readfile_check(path, e);
    if (rc)
        return rc;
    /* O_NONBLOCK: should path have become a FIFO since the stat, the open returns at once
     * instead of waiting for a writer; fstat then refuses it. */
    int d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d < 0)
        return readfile_cannot(path, e);
    struct stat st;
    if (fstat(d, &st) != 0) {
        rc = readfile_cannot(path, e);
    } else if (!S_ISREG(st.st_mode)) {
        rc = readfile_not_regular(path, st.st_mode, e);
    } else {
        int fl = fcntl(d, F_GETFL);
        if (fl < 0 || fcntl(d, F_SETFL, fl & ~O_NONBLOCK) != 0)
            rc = readfile_cannot(path, e);
    }
    if (rc) {
        int saved = errno;
        close(d);
        errno = saved;
        return rc;
    }
    *fd = d;
    return ERR_OK;
}

int readfile_fopen(const char *path, FILE **f, struct err *e)
{
    *f = NULL;
    int fd;
    int rc = readfile_open(path, &fd, e);
    if (rc)
        return rc;
    *f = fdopen(fd, "rb");
    if (!*f) {
        rc = readfile_cannot(path, e);
        close(fd);
        return rc;
    }
    return ERR_OK;
}

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
