/* gnuplot: the text gnuplot reads, and running it (contract in gnuplot.h). */
#include "harness/report/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/plotspec.h" /* PLOT_NAME_MAX */
#include "harness/report/textfmt.h"

extern char **environ;

#define FIG_W        960
#define FIG_H        600


/* A gnuplot single-quoted string: ' doubled, line breaks as spaces. */
void gnuplot_str(struct strbuf *b, const char *s)
{
    strbuf_str(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_str(b, "''");
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            strbuf_str(b, " ");
        else
            strbuf_put(b, p, 1);
    }
    strbuf_str(b, "'");
}

/* A quoted string field of a gnuplot data file (no escapes there: " becomes '). */
void gnuplot_dat_str(struct strbuf *b, const char *s)
{
    strbuf_str(b, "\"");
    for (const char *p = s; *p; p++)
        strbuf_put(b, *p == '"' ? "'" : (*p == '\n' || *p == '\r' || *p == '\t') ? " " : p, 1);
    strbuf_str(b, "\"");
}

/* Script header: both terminals are set by the script itself so that it runs standalone. */
void gnuplot_script_begin(struct strbuf *b, const char *name, const char *title)
{
    strbuf_printf(b,
                   "# peftbench figure %s: %s\n"
                   "# Data: %s.dat (aggregated by peftbench; see its header for the columns).\n"
                   "# Restyle freely, then regenerate from this directory: gnuplot %s.gp\n"
                   "reset\n"
                   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "    set terminal pngcairo size %d,%d noenhanced font ',10'\n"
                   "} else {\n"
                   "    set terminal png size %d,%d noenhanced\n"
                   "}\n"
                   "set output '%s.png'\n",
                   name, title, name, name, FIG_W, FIG_H, FIG_W, FIG_H, name);
    strbuf_str(b, "set title ");
    gnuplot_str(b, title);
    strbuf_str(b, "\nset grid\nset key outside right top\nset border 3\nset tics nomirror\n");
    /* Twelve series styles that differ in colour and marker: a sweep of every method has 11
     * series, and gnuplot's default 8 colours would repeat within one figure. */
    static const char *const colours[12] = {"#0072b2", "#e69f00", "#009e73", "#d55e00",
                                            "#cc79a7", "#56b4e9", "#000000", "#999999",
                                            "#8c564b", "#7f3c8d", "#3969ac", "#e73f74"};
    static const int points[4] = {7, 5, 9, 13};
    for (int k = 0; k < 12; k++)
        strbuf_printf(b, "set linetype %d lc rgb '%s' pt %d\n", k + 1, colours[k],
                       points[k % 4]);
    strbuf_str(b, "set linetype cycle 12\n");
}

void gnuplot_script_end(struct strbuf *b, const char *name)
{
    strbuf_printf(b,
                   "set terminal svg size %d,%d noenhanced font 'sans,10' background '#ffffff'\n"
                   "set output '%s.svg'\n"
                   "replot\n"
                   "unset output\n",
                   FIG_W, FIG_H, name);
}

void gnuplot_label(struct strbuf *b, const char *axis, const char *text)
{
    strbuf_printf(b, "set %slabel ", axis);
    gnuplot_str(b, text);
    strbuf_str(b, "\n");
}

/* Run argv[0] from PATH with stdin from /dev/null, stdout to out_fd (-1: /dev/null) and
 * stderr to err_path (NULL: /dev/null); *status receives the wait status.  Returns 0 or
 * the errno of a failed spawn (ENOENT: not on PATH). */
static int spawn_wait(char *const argv[], int out_fd, int close_fd, const char *err_path,
                      int *status)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return ENOMEM;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_addclose(&fa, out_fd);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    }
    if (close_fd >= 0)
        posix_spawn_file_actions_addclose(&fa, close_fd);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return rc;
    if (out_fd >= 0)
        close(out_fd);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    /* 127: the exec in the child failed (older C libraries report it this way) */
    if (WIFEXITED(*status) && WEXITSTATUS(*status) == 127)
        return ENOENT;
    return 0;
}

static int gnuplot_missing(struct err *e, int why)
{
    return ERR_SET(e, ERR_UNSUPPORTED,
                   "gnuplot cannot be run (%s; looked for 'gnuplot' on PATH): install it "
                   "(Debian: apt-get install gnuplot-nox, or `make deps`)",
                   strerror(why));
}

int plots_gnuplot_version(char *buf, size_t n, struct err *e)
{
    int p[2];
    if (pipe(p) != 0)
        return ERR_SET(e, ERR_IO, "cannot create a pipe: %s", strerror(errno));
    char a0[] = "gnuplot", a1[] = "--version";
    char *argv[] = {a0, a1, NULL};
    int status = 0;
    int rc = spawn_wait(argv, p[1], p[0], NULL, &status);
    if (rc != 0) {
        close(p[0]);
        close(p[1]);
        return gnuplot_missing(e, rc);
    }
    char tmp[256];
    size_t k = 0;
    for (ssize_t r; k + 1 < sizeof tmp && (r = read(p[0], tmp + k, sizeof tmp - 1 - k)) != 0;) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        k += (size_t)r;
    }
    close(p[0]);
    tmp[k] = '\0';
    tmp[strcspn(tmp, "\r\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(tmp, "gnuplot", 7) != 0)
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "'gnuplot --version' did not answer as gnuplot does (got '%.80s'); "
                       "install gnuplot (Debian: apt-get install gnuplot-nox)",
                       tmp);
    if (n)
        snprintf(buf, n, "%s", tmp);
    return ERR_OK;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The last non-empty line of a file (gnuplot's error message). */
static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t^")])
            text_fmt(out, n, "%s", line);
    }
    fclose(f);
}

int gnuplot_render(const char *plots_dir, const char *name, struct err *e)
{
    char png[4400], svg[4400], logp[4400], cd[9000], script[PLOT_NAME_MAX + 4];
    snprintf(png, sizeof png, "%s/%s.png", plots_dir, name);
    snprintf(svg, sizeof svg, "%s/%s.svg", plots_dir, name);
    snprintf(logp, sizeof logp, "%s/%s.log", plots_dir, name);
    snprintf(script, sizeof script, "%s.gp", name);
    unlink(png);
    unlink(svg);
    /* the script writes NAME.png/svg relative to its directory, as when run by hand */
    size_t o = (size_t)snprintf(cd, sizeof cd, "cd '");
    for (const char *p = plots_dir; *p && o + 3 < sizeof cd; p++) {
        if (*p == '\'')
            cd[o++] = '\'';
        cd[o++] = *p;
    }
    snprintf(cd + o, sizeof cd - o, "'");
    char a0[] = "gnuplot", a1[] = "-e";
    char *argv[] = {a0, a1, cd, script, NULL};
    int status = 0;
    int rc = spawn_wait(argv, -1, -1, logp, &status);
    if (rc != 0)
        return gnuplot_missing(e, rc);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[256];
        last_line(logp, msg, sizeof msg);
        return ERR_SET(e, ERR_IO, "gnuplot failed on %s/%s.gp (%s %d): %s (log: %s)", plots_dir,
                       name, WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                       msg[0] ? msg : "no message", logp);
    }
    if (file_size(png) <= 0 || file_size(svg) <= 0)
        return ERR_SET(e, ERR_IO, "gnuplot ran %s/%s.gp but did not write %s.png and %s.svg",
                       plots_dir, name, name, name);
    unlink(logp);
    return ERR_OK;
}
