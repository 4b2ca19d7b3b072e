/*
 * pretrain publish: atomic replacement of a model directory and removal of what dead
 * builds left (contract in publish.h).
 */
#include "harness/pretrain/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/pretrain/config.h"

/* rm -r path (does not follow symlinks).  Best effort; 0 when path is gone. */
int publish_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char sub[PRETRAIN_PATH_MAX + 300];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                publish_remove_tree(sub);
            }
            closedir(d);
        }
        return rmdir(path);
    }
    return unlink(path);
}

static void fsync_parent(const char *path)
{
    char dir[PRETRAIN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Move the complete tmp directory to dir.  An older dir is first renamed aside and
 * removed after, so at every moment dir is either the old complete build, absent
 * (between the two renames), or the new complete build. */
int publish_dir(const char *tmp, const char *dir, struct err *e)
{
    char old[PRETRAIN_PATH_MAX + 64];
    snprintf(old, sizeof old, "%s.old-%ld", dir, (long)getpid());
    struct stat sb;
    bool had = stat(dir, &sb) == 0;
    if (had && rename(dir, old) != 0)
        return ERR_SET(e, ERR_IO, "cannot move the old %s aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int err = errno;
        if (had)
            rename(old, dir);
        return ERR_SET(e, ERR_IO, "cannot rename %s to %s: %s", tmp, dir, strerror(err));
    }
    fsync_parent(dir);
    if (had)
        publish_remove_tree(old);
    return 0;
}

/* Leftovers of builds that died (SIGKILL, power loss): DIR.tmp-* and DIR.old-*.
 * Called with the lock held, so no live build owns them. */
void publish_remove_leftovers(const char *dir)
{
    char parent[PRETRAIN_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t bl = strlen(base);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl) != 0 || (strncmp(de->d_name + bl, ".tmp-", 5) != 0 &&
                                                   strncmp(de->d_name + bl, ".old-", 5) != 0))
            continue;
        char sub[PRETRAIN_PATH_MAX + 300];
        snprintf(sub, sizeof sub, "%s/%s", parent, de->d_name);
        publish_remove_tree(sub);
    }
    closedir(d);
}
