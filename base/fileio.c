#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void fileio_fault_pause(void)
{
    const char *s = getenv("PEFTBENCH_FAULT_SLOW_WRITE_MS");
    long ms = s ? strtol(s, NULL, 10) : 0;
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* fsync the directory holding path so that the rename itself is durable.  Best effort: the
 * file is already complete and in place, and some filesystems refuse fsync on directories. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int fileio_atomic_open(struct fileio_atomic *a, const char *path, struct err *e)
{
    a->fd = -1;
    a->path = strdup(path);
    size_t n = strlen(path) + 32;
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        fileio_atomic_abort(a);
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    }
    /* the pid keeps concurrent writers (shards, array tasks) off each other's temporaries */
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        int err = errno;
        int rc = ERR_SET(e, ERR_IO, "%s: cannot create: %s", a->tmp, strerror(err));
        fileio_atomic_abort(a);
        return rc;
    }
    return ERR_OK;
}

int fileio_atomic_write(struct fileio_atomic *a, const void *p, size_t n, struct err *e)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = write(a->fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return ERR_SET(e, ERR_IO, "cannot write %s: %s", a->path,
                           strerror(k < 0 ? errno : EIO));
        b += k;
        n -= (size_t)k;
    }
    return ERR_OK;
}

int fileio_atomic_commit(struct fileio_atomic *a, struct err *e)
{
    int rc = ERR_OK;
    if (fsync(a->fd) != 0)
        rc = ERR_SET(e, ERR_IO, "cannot write %s: fsync: %s", a->path, strerror(errno));
    int closed = close(a->fd);
    a->fd = -1;
    if (!rc && closed != 0)
        rc = ERR_SET(e, ERR_IO, "cannot write %s: close: %s", a->path, strerror(errno));
    if (!rc)
        fileio_fault_pause();
    if (!rc && rename(a->tmp, a->path) != 0)
        rc = ERR_SET(e, ERR_IO, "%s: cannot rename %s over it: %s", a->path, a->tmp,
                     strerror(errno));
    if (rc) {
        fileio_atomic_abort(a);
        return rc;
    }
    sync_dir(a->path);
    free(a->tmp), free(a->path);
    a->tmp = a->path = NULL;
    return ERR_OK;
}

void fileio_atomic_abort(struct fileio_atomic *a)
{
    if (a->fd >= 0)
        close(a->fd);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp), free(a->path);
    a->tmp = a->path = NULL;
    a->fd = -1;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, struct err *e)
{
    struct fileio_atomic a;
    int rc = fileio_atomic_open(&a, path, e);
    if (rc)
        return rc;
    if ((rc = fileio_atomic_write(&a, data, len, e))) {
        fileio_atomic_abort(&a);
        return rc;
    }
    return fileio_atomic_commit(&a, e);
}
