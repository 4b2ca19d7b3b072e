/*
 * fuzz_util: helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * The readers under test take paths, so every target writes its input to a file in one
 * private temporary directory (created on first use, removed at exit).  FUZZ_CHECK is the
 * oracle for properties the API promises (a failed call leaves a message, a written file reads
 * back the same): a violation aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef TESTS_FUZZ_UTIL_H
#define TESTS_FUZZ_UTIL_H

#define _GNU_SOURCE /* nftw, memmem */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz oracle failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* With FUZZ_VERBOSE=1 in the environment, FUZZ_LOG prints (to see what a seed does). */
#define FUZZ_LOG(...)                                                                              \
    do {                                                                                           \
        static int on_ = -1;                                                                       \
        if (on_ < 0)                                                                               \
            on_ = getenv("FUZZ_VERBOSE") != NULL;                                                  \
        if (on_) {                                                                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static char fuzz_dir[64];

static inline int fuzz_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fuzz_cleanup(void)
{
    if (fuzz_dir[0])
        nftw(fuzz_dir, fuzz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The private directory; also points stdin at /dev/null so that no input (a sweep including
 * /dev/stdin, say) can block the fuzzer on the terminal. */
static inline const char *fuzz_tmpdir(void)
{
    if (!fuzz_dir[0]) {
        /* tmpfs first when there is one: the writers under test fsync every file */
        static const char *const bases[] = {"/dev/shm", "/tmp"};
        int made = 0;
        for (size_t i = 0; i < sizeof bases / sizeof *bases && !made; i++) {
            snprintf(fuzz_dir, sizeof fuzz_dir, "%s/peftbench-fuzz-XXXXXX", bases[i]);
            made = mkdtemp(fuzz_dir) != NULL;
        }
        if (!made) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 0);
            close(fd);
        }
    }
    return fuzz_dir;
}

/* Path of name inside the private directory (rotating static buffers: 4 may be live). */
static inline const char *fuzz_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", fuzz_tmpdir(), name);
    return p;
}

/* Write data[0..size) to name in the private directory and return its path. */
static inline const char *fuzz_write(const char *name, const void *data, size_t size)
{
    const char *p = fuzz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

/* A NUL-terminated heap copy of data[0..size) (the caller frees). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
