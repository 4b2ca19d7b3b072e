/* Fixtures shared by the task tests (tests/tasks/test_*.c): a temporary data directory made
 * and removed around each test, files written into it in their real formats, and loading a
 * registered task by name.  The declarations and their contracts are in task_fixture.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/cli_util.h"
#include "tests/tasks/task_fixture.h"

char tdir[64];

void tdir_setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/peftbench_tasks_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

void tdir_teardown(void)
{
    rm_tree(tdir);
}

/* Write text (n bytes, or strlen when n == 0) to tdir/rel, creating one directory level. */
const char *put(const char *rel, const char *text, size_t n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tdir, rel);
    char *slash = strrchr(path, '/');
    if (slash > path + strlen(tdir)) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    size_t len = n ? n : strlen(text);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

char *path_of(const char *rel)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tdir, rel);
    return path[k];
}

int load(const char *name, struct task_params *p, struct task_data *t, struct err *e)
{
    return task_load(t, task_find(name), p, e);
}
