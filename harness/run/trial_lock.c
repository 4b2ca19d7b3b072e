/*
 * trial_lock: the per-trial flock of a results directory (trial_lock.h).
 */
#include "harness/run/trial_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int trial_lock_take(const char *out_dir, const char *id, int *fd, struct err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trials/%s.lock", out_dir, id);
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0)
        return ERR_SET(e, ERR_IO, "cannot open lock file %s: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(f);
        if (err == EWOULDBLOCK)
            return ERR_OK; /* held by another run */
        return ERR_SET(e, ERR_IO, "cannot lock %s: %s", path, strerror(err));
    }
    *fd = f;
    return ERR_OK;
}

void trial_lock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the only descriptor releases the flock */
}
