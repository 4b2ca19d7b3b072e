/*
 * pretrain cache: the up-to-date test of a model directory and the locked reuse or
 * rebuild (contract in cache.h).
 */
#include "harness/pretrain/cache.h"

#include "harness/pretrain/build.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/pretrain/model_dir.h"
#include "harness/pretrain/publish.h"
#include "harness/sweep/results.h"

bool pretrain_is_current(const char *dir, const char *key)
{
    char path[PRETRAIN_PATH_MAX + 64];
    const char *files[] = {"config.json", "model.safetensors", "vocab.txt"};
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return false;
    }
    snprintf(path, sizeof path, "%s/%s", dir, PRETRAIN_STATS);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    const size_t cap = (size_t)1 << 20; /* a stats file is a few KiB */
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf)
        return false;
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "config_hash");
    bool ok = cJSON_IsString(h) && strcmp(h->valuestring, key) == 0;
    cJSON_Delete(j);
    return ok;
}

/* Exclusive flock on DIR.lock (created; never removed: removing a lock file races). */
static int lock_dir(const char *dir, FILE *out, int *fd, struct err *e)
{
    char path[PRETRAIN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT, 0666);
    if (*fd < 0)
        return ERR_SET(e, ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (out) {
        fprintf(out, "peftbench: another process is building %s; waiting for it\n", dir);
        fflush(out);
    }
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int err = errno;
        close(*fd);
        *fd = -1;
        return ERR_SET(e, ERR_IO, "cannot lock %s: %s", path, strerror(err));
    }
    return 0;
}

static void unlock_dir(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

static int make_parent(const char *dir, struct err *e)
{
    char parent[PRETRAIN_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash || slash == parent)
        return 0;
    *slash = '\0';
    return results_mkdirs(parent, e);
}

/* Reuse or build under the lock; force rebuilds a current directory too. */
int pretrain_ensure_cfg(const struct pretrain_cfg *c, const char *dir,
                        const struct pretrain_opts *o, bool force, bool *built, struct err *e)
{
    *built = false;
    if (!force && pretrain_is_current(dir, c->key))
        return 0;
    int fd = -1;
    if (make_parent(dir, e) || lock_dir(dir, o->out, &fd, e))
        return e->code;
    int rc = 0;
    if (force || !pretrain_is_current(dir, c->key)) { /* another process may have built it */
        publish_remove_leftovers(dir);
        struct stat sb;
        bool stale = stat(dir, &sb) == 0;
        if (o->out) {
            fprintf(o->out, "%speftbench: building %s (%s) from its pretraining config, key %s\n",
                    o->tty ? "\r\033[K" : "", dir,
                    force   ? "--force"
                    : stale ? "its config changed"
                            : "not built yet",
                    c->key);
            if (c->defaulted[0])
                fprintf(o->out, "pretrain %s: defaults used for %s\n", c->name, c->defaulted);
            fflush(o->out);
        }
        struct pretrain_stats st;
        rc = pretrain_build(c, dir, o, &st, e);
        *built = rc == 0;
    }
    unlock_dir(fd);
    return rc;
}

int pretrain_ensure(const char *config_path, const char *dir, const struct pretrain_opts *o,
                    bool *built, struct err *e)
{
    struct pretrain_cfg c;
    *built = false;
    if (pretrain_cfg_load(&c, config_path, e))
        return e->code;
    int rc = pretrain_ensure_cfg(&c, dir, o, false, built, e);
    pretrain_cfg_free(&c);
    return rc;
}
