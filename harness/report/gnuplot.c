/* gnuplot: the text gnuplot reads, and running it (contract in gnuplot.h). */
#include "harness/report/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/figfile.h"
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

/* A tic label: powers of two as integers (up to 2^20, then 2^k); powers of ten with SI
 * suffixes (1k, 10M) from 1000 up, plain decimals below. */
static void tic_label(char *out, size_t n, double v, int base)
{
    static const char *const si[] = {"", "k", "M", "G", "T", "P"};
    int k = (int)lround(log(v) / log((double)base));
    if (base == 2 && k > 20)
        snprintf(out, n, "2^%d", k);
    else if (base == 2 || k < 3)
        snprintf(out, n, "%g", v);
    else if (k / 3 < 6)
        snprintf(out, n, "%g%s", pow(10.0, k % 3), si[k / 3]);
    else
        snprintf(out, n, "1e%d", k);
}

void gnuplot_log_axis(struct strbuf *b, const char *axis, double lo, double hi, int base)
{
    strbuf_printf(b, "set logscale %s %d\n", axis, base);
    if (!(lo > 0) || !(hi >= lo) || !isfinite(hi))
        return;
    int k0 = (int)floor(log(lo) / log((double)base) + 1e-9);
    int k1 = (int)ceil(log(hi) / log((double)base) - 1e-9);
    int step = 1;
    while ((k1 - k0) / step + 1 > 12) /* a readable number of tics */
        step++;
    strbuf_printf(b, "set %stics (", axis);
    for (int k = k0; k <= k1; k += step) {
        char label[32];
        double v = pow((double)base, k);
        tic_label(label, sizeof label, v, base);
        strbuf_printf(b, "%s'%s' %.17g", k > k0 ? ", " : "", label, v);
    }
    strbuf_str(b, ")\n");
    strbuf_printf(b, "set m%stics %d\n", axis, base == 10 ? 10 : 1);
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

/* gnuplot -e "cd 'DIR'" ../NAME.gp (DIR is a subdirectory of plots_dir), stderr to logp;
 * ERR_OK when it ran and exited 0. */
static int run_script(const char *dir, const char *plots_dir, const char *name,
                      const char *logp, struct err *e)
{
    char cd[9000];
    size_t o = (size_t)snprintf(cd, sizeof cd, "cd '");
    for (const char *p = dir; *p && o + 3 < sizeof cd; p++) {
        if (*p == '\'')
            cd[o++] = '\'';
        cd[o++] = *p;
    }
    snprintf(cd + o, sizeof cd - o, "'");
    char a0[] = "gnuplot", a1[] = "-e", sc[PLOT_NAME_MAX + 8];
    snprintf(sc, sizeof sc, "../%s.gp", name);
    char *argv[] = {a0, a1, cd, sc, NULL};
    int status = 0;
    int rc = spawn_wait(argv, -1, -1, logp, &status);
    if (rc != 0)
        return gnuplot_missing(e, rc);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[256];
        last_line(logp, msg, sizeof msg);
        return ERR_SET(e, ERR_IO, "gnuplot failed on %s/%s.gp (%s %d): %s (log: %s)",
                       plots_dir, name, WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                       msg[0] ? msg : "no message", logp);
    }
    return ERR_OK;
}

int gnuplot_render(const char *plots_dir, const char *name, struct err *e)
{
    char tmp[4400], logp[4400];
    snprintf(logp, sizeof logp, "%s/%s.log", plots_dir, name);
    /* the script writes NAME.png/svg relative to its directory, as when run by hand: here a
     * private one, from which the complete images are renamed into plots/ (figfile.h) */
    if (figfile_tmpdir(plots_dir, name, tmp, sizeof tmp, e))
        return e->code;
    int rc = run_script(tmp, plots_dir, name, logp, e);
    if (rc == ERR_OK)
        rc = figfile_commit(tmp, plots_dir, name, "png", e);
    if (rc == ERR_OK)
        rc = figfile_commit(tmp, plots_dir, name, "svg", e);
    figfile_tmpdir_remove(tmp, name);
    if (rc == ERR_OK) {
        unlink(logp);
        return ERR_OK;
    }
    /* no stale image stands for this figure in the report ("not drawn") */
    char old[4400];
    snprintf(old, sizeof old, "%s/%s.png", plots_dir, name);
    unlink(old);
    snprintf(old, sizeof old, "%s/%s.svg", plots_dir, name);
    unlink(old);
    return rc;
}
