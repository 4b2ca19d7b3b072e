/* figfile: crash-safe placement of gnuplot's images (contract in figfile.h). */
#include "harness/report/figfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

void figfile_tmpdir_remove(const char *dir, const char *name)
{
    static const char *const ext[] = {"dat", "png", "svg"};
    char p[4600];
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        snprintf(p, sizeof p, "%s/%s.%s", dir, name, ext[i]);
        unlink(p);
    }
    rmdir(dir);
}

int figfile_tmpdir(const char *plots_dir, const char *name, char *dir, size_t n,
                   struct err *e)
{
    snprintf(dir, n, "%s/.render-%ld-%s", plots_dir, (long)getpid(), name);
    figfile_tmpdir_remove(dir, name);
    if (mkdir(dir, 0777) != 0)
        return ERR_SET(e, ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    char link[4600], target[4400];
    snprintf(link, sizeof link, "%s/%s.dat", dir, name);
    snprintf(target, sizeof target, "../%s.dat", name);
    if (symlink(target, link) != 0) {
        int err = errno;
        rmdir(dir);
        return ERR_SET(e, ERR_IO, "cannot create %s: %s", link, strerror(err));
    }
    return ERR_OK;
}

/* The file is complete: a PNG ends with the IEND chunk (its 12 bytes), an SVG holds
 * "</svg>" in its last 64 bytes. */
static bool complete(int fd, const char *ext, off_t size)
{
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    char tail[65];
    off_t k = strcmp(ext, "png") == 0 ? 12 : 64;
    if (size < 12)
        return false;
    if (k > size)
        k = size;
    if (pread(fd, tail, (size_t)k, size - k) != (ssize_t)k)
        return false;
    tail[k] = '\0';
    if (strcmp(ext, "png") == 0)
        return memcmp(tail, iend, 12) == 0;
    return strstr(tail, "</svg>") != NULL;
}

static int sync_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return ERR_SET(e, ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL
                 ? ERR_OK
                 : ERR_SET(e, ERR_IO, "fsync %s: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int figfile_commit(const char *tmp_dir, const char *plots_dir, const char *name,
                   const char *ext, struct err *e)
{
    char tmp[4600], dst[4600];
    snprintf(tmp, sizeof tmp, "%s/%s.%s", tmp_dir, name, ext);
    snprintf(dst, sizeof dst, "%s/%s.%s", plots_dir, name, ext);
    int fd = open(tmp, O_RDONLY);
    if (fd < 0)
        return ERR_SET(e, ERR_IO, "gnuplot did not write %s: %s", dst, strerror(errno));
    struct stat st;
    int rc = ERR_OK;
    if (fstat(fd, &st) != 0 || !complete(fd, ext, st.st_size))
        rc = ERR_SET(e, ERR_IO,
                     "gnuplot wrote an incomplete %s (%lld bytes; is the disk full?); the "
                     "previous image, if any, is left as it was",
                     dst, (long long)st.st_size);
    else if (fsync(fd) != 0)
        rc = ERR_SET(e, ERR_IO, "fsync %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == ERR_OK && rename(tmp, dst) != 0)
        rc = ERR_SET(e, ERR_IO, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
    return rc ? rc : sync_dir(plots_dir, e);
}
