/* Fixtures shared by the task tests (tests/tasks/test_*.c): a temporary data directory made
 * and removed around each test (a Check checked fixture), files written into it, and loading a
 * registered task by name. */
#ifndef TESTS_TASKS_TASK_FIXTURE_H
#define TESTS_TASKS_TASK_FIXTURE_H

#include <stddef.h>

#include "base/err.h"
#include "tasks/task.h"

/* The running test's temporary directory, made by tdir_setup. */
extern char tdir[64];

/* Checked fixture: make a fresh tdir / remove it and everything in it. */
void tdir_setup(void);
void tdir_teardown(void);

/* Write text (n bytes, or strlen when n == 0) to tdir/rel, creating one directory level.
 * Returns the full path in a static buffer (valid until the next call). */
const char *put(const char *rel, const char *text, size_t n);

/* tdir/rel in one of four rotating static buffers (so a few can be used at once). */
char *path_of(const char *rel);

/* task_load of the registered task called name. */
int load(const char *name, struct task_params *p, struct task_data *t, struct err *e);

#endif
