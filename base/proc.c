#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Read fd to EOF into buf (NUL-terminated; what does not fit is read and dropped). */
static void drain(int fd, char *buf, size_t n)
{
    size_t got = 0;
    for (;;) {
        char tmp[4096];
        ssize_t k = read(fd, tmp, sizeof tmp);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t take = got + (size_t)k < n - 1 ? (size_t)k : n - 1 - got;
        memcpy(buf + got, tmp, take);
        got += take;
    }
    buf[got] = '\0';
}

int proc_capture(char *const argv[], char *const envp[], char *buf, size_t n, int *status,
                 int *spawn_errno, struct err *e)
{
    int fd[2];
    if (spawn_errno)
        *spawn_errno = 0;
    if (n == 0 || pipe(fd) != 0)
        return ERR_SET(e, ERR_IO, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        if (spawn_errno)
            *spawn_errno = rc;
        return ERR_SET(e, ERR_IO, "cannot run %s: %s", argv[0], strerror(rc));
    }
    drain(fd[0], buf, n);
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return ERR_SET(e, ERR_IO, "waiting for %s: %s", argv[0], strerror(errno));
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return ERR_OK;
}

static bool same_name(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && strncmp(a, b, la) == 0;
}

char **proc_env_with(char *const envp[], const char *const *set, int n)
{
    char *const *src = envp ? envp : environ;
    size_t cnt = 0;
    while (src[cnt])
        cnt++;
    char **env = calloc(cnt + (size_t)n + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        bool replaced = false;
        for (int j = 0; j < n && !replaced; j++)
            replaced = same_name(src[i], set[j]);
        if (!replaced && !(env[k++] = strdup(src[i])))
            goto oom;
    }
    for (int j = 0; j < n; j++)
        if (!(env[k++] = strdup(set[j])))
            goto oom;
    return env;
oom:
    proc_env_free(env);
    return NULL;
}

void proc_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}
