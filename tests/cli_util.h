/* Helpers of the tests that run the peftbench binary (PEFTBENCH_BIN, default build/peftbench)
 * or work in a temporary directory. */
#ifndef TESTS_CLI_UTIL_H
#define TESTS_CLI_UTIL_H

/* Run a printf-formatted shell command; its exit status, or 128 + signal.  A command longer
 * than the internal buffer fails the test instead of running truncated. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remove a directory tree (a test's temporary directory); best effort. */
void rm_tree(const char *dir);

/* The binary under test. */
const char *peftbench_bin(void);

/* The whole file at path, NUL-terminated, owned by the caller; NULL when it cannot be opened. */
char *test_slurp(const char *path);

/* Write text to path (created or truncated); fails the test when it cannot be opened. */
void test_write_file(const char *path, const char *text);

#endif
