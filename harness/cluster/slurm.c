#include "harness/cluster/slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/proc.h"
#include "harness/run/model_identity.h"
#include "harness/sweep/results.h"
#include "harness/run/run.h"
#include "base/strbuf.h"

#define SLURM_PATH_MAX 4096

/* ---- text building ------------------------------------------------------------------ */


/* ---- quoting ------------------------------------------------------------------------ */

char *slurm_quote_shell(const char *s)
{
    struct strbuf b = {0};
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_@%+=:,./-";
    if (s[0] && strspn(s, safe) == strlen(s)) {
        strbuf_str(&b, s);
        return strbuf_take(&b);
    }
    strbuf_put(&b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_str(&b, "'\\''");
        else
            strbuf_put(&b, p, 1);
    }
    strbuf_put(&b, "'", 1);
    return strbuf_take(&b);
}

/* sbatch reads #SBATCH lines with its own tokenizer (src/sbatch/opt.c get_argument):
 * blanks end a word unless inside quotes (a backslash-escaped blank still ends it),
 * an unquoted '#' starts a comment, and a backslash escapes the next character
 * everywhere.  So: double quotes around anything unusual, with " and \ escaped. */
char *slurm_quote_directive(const char *s)
{
    if (strpbrk(s, "\n\r"))
        return NULL;
    struct strbuf b = {0};
    bool quote = s[0] == '\0' || strpbrk(s, " \t\"'\\#") != NULL;
    if (quote)
        strbuf_put(&b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_put(&b, "\\", 1);
        strbuf_put(&b, p, 1);
    }
    if (quote)
        strbuf_put(&b, "\"", 1);
    return strbuf_take(&b);
}

void slurm_free_words(char **words, int n)
{
    for (int i = 0; i < n; i++)
        free(words[i]);
    free(words);
}

int slurm_split_words(const char *s, char ***words, int *n, struct err *e)
{
    *words = NULL;
    *n = 0;
    char **w = NULL;
    int nw = 0, rc = ERR_OK;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        struct strbuf b = {0};
        strbuf_put(&b, "", 0); /* an empty quoted word ('') is still a word */
        char q = 0;
        for (; *p && (q || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
            if (q == '\'') {
                if (*p == '\'')
                    q = 0;
                else
                    strbuf_put(&b, p, 1);
            } else if (q == '"') {
                if (*p == '"')
                    q = 0;
                else if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                    strbuf_put(&b, ++p, 1);
                else
                    strbuf_put(&b, p, 1);
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == '\\' && p[1]) {
                strbuf_put(&b, ++p, 1);
            } else {
                strbuf_put(&b, p, 1);
            }
        }
        char *word = strbuf_take(&b);
        char **grown = word ? realloc(w, (size_t)(nw + 1) * sizeof *w) : NULL;
        if (!grown) {
            free(word);
            rc = ERR_SET(e, ERR_NOMEM, "out of memory splitting --extra");
            break;
        }
        w = grown;
        w[nw++] = word;
        if (q) {
            rc = ERR_SET(e, ERR_CONFIG, "--extra '%s': unterminated %c quote", s, q);
            break;
        }
    }
    if (rc) {
        slurm_free_words(w, nw);
        return rc;
    }
    *words = w;
    *n = nw;
    return ERR_OK;
}

/* ---- selection and map -------------------------------------------------------------- */

int slurm_select(const struct sweep *sw, const char *out_dir, bool retry_failed, size_t **idx,
                 size_t *n, struct err *e)
{
    *idx = NULL;
    *n = 0;
    if (sw->ntrials == 0)
        return ERR_OK;
    size_t *v = malloc(sw->ntrials * sizeof *v);
    if (!v)
        return ERR_SET(e, ERR_NOMEM, "out of memory selecting %zu trials", sw->ntrials);
    size_t k = 0;
    for (size_t i = 0; i < sw->ntrials; i++)
        if (!results_trial_done(out_dir, sw->trials[i].id, retry_failed))
            v[k++] = i;
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *idx = v;
    *n = k;
    return ERR_OK;
}

char *slurm_map_text(const struct sweep *sw, const size_t *idx, size_t n, int per_task,
                     const char *stamp)
{
    struct strbuf b = {0};
    strbuf_str(&b, "# peftbench slurm map of sweep ");
    strbuf_str(&b, sw->name);
    strbuf_printf(&b, " at %s: array index, plan index, trial id\n", stamp);
    for (size_t k = 0; k < n; k++)
        strbuf_printf(&b, "%zu\t%d\t%s\n", k / (size_t)per_task, sw->trials[idx[k]].index,
               sw->trials[idx[k]].id);
    return strbuf_take(&b);
}

/* ---- scripts ------------------------------------------------------------------------ */

/* Append s quoted for the shell. */
static void sb_shell(struct strbuf *b, const char *s)
{
    char *q = slurm_quote_shell(s);
    if (!q) {
        b->oom = true;
        return;
    }
    strbuf_str(b, q);
    free(q);
}

/* Append "#SBATCH --key=VALUE\n" (value quoted by slurm_quote_directive).
 * A value with a newline is an error naming the option. */
static int sb_directive(struct strbuf *b, const char *key, const char *value, struct err *e)
{
    char *q = slurm_quote_directive(value);
    if (!q)
        return strpbrk(value, "\n\r")
                   ? ERR_SET(e, ERR_CONFIG,
                             "--%s: a value with a newline cannot be written "
                             "into an #SBATCH line",
                             key)
                   : ERR_SET(e, ERR_NOMEM, "out of memory writing a batch script");
    strbuf_printf(b, "#SBATCH --%s=", key);
    strbuf_str(b, q);
    strbuf_str(b, "\n");
    free(q);
    return ERR_OK;
}

/* Directives both scripts share after their own: partition, time, output, chdir, extra.
 * log: the file name under OUT/slurm/logs/, with its Slurm patterns (%A, %a, %j). */
static int sb_common(struct strbuf *b, const struct slurm_job *j, const char *log, struct err *e)
{
    const struct slurm_opts *o = j->o;
    int rc = ERR_OK;
    if ((o->partition && (rc = sb_directive(b, "partition", o->partition, e))) ||
        (o->time && (rc = sb_directive(b, "time", o->time, e))))
        return rc;
    struct strbuf path = {0}; /* --output is a filename pattern: the directory's own % are %% */
    for (const char *p = j->out_dir; *p; p++) {
        if (*p == '%')
            strbuf_put(&path, "%", 1);
        strbuf_put(&path, p, 1);
    }
    strbuf_str(&path, "/slurm/logs/");
    strbuf_str(&path, log);
    char *value = strbuf_take(&path);
    if (!value)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing a batch script");
    rc = sb_directive(b, "output", value, e);
    free(value);
    if (rc || (rc = sb_directive(b, "chdir", j->workdir, e)))
        return rc;
    if (j->nextra > 0) {
        strbuf_str(b, "#SBATCH");
        for (int i = 0; i < j->nextra; i++) {
            char *q = slurm_quote_directive(j->extra[i]);
            if (!q)
                return ERR_SET(e, ERR_CONFIG, "--extra: word %d has a newline", i + 1);
            strbuf_str(b, " ");
            strbuf_str(b, q);
            free(q);
        }
        strbuf_str(b, "\n");
    }
    return ERR_OK;
}

/* "name=VALUE\n" with the value shell-quoted; a newline in a path is refused. */
static int sb_var(struct strbuf *b, const char *name, const char *value, struct err *e)
{
    if (strpbrk(value, "\n\r"))
        return ERR_SET(e, ERR_CONFIG, "%s path has a newline: %s", name, value);
    strbuf_str(b, name);
    strbuf_str(b, "=");
    sb_shell(b, value);
    strbuf_str(b, "\n");
    return ERR_OK;
}

static char *finish(struct strbuf *b, int rc, struct err *e)
{
    if (rc == ERR_OK && b->oom)
        ERR_SET(e, ERR_NOMEM, "out of memory writing a batch script");
    if (rc != ERR_OK || b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

static const char array_body[] =
    "\n"
    "task=${SLURM_ARRAY_TASK_ID:?not a Slurm array task: submit this script with sbatch}\n"
    "threads=${SLURM_CPUS_PER_TASK:-1}\n"
    "export OMP_NUM_THREADS=\"$threads\" OPENBLAS_NUM_THREADS=\"$threads\"\n"
    "\n"
    "# Slurm's warning signal (--signal=B:TERM) reaches this shell only: pass it on.  The\n"
    "# trial stops after its current step, records nothing and exits 143; a resubmission\n"
    "# (peftbench slurm again) redoes it.\n"
    "child= stop= status=0 ran=0\n"
    "trap 'stop=1; [ -z \"$child\" ] || kill -TERM \"$child\" 2>/dev/null' TERM INT\n"
    "while read -r a plan id; do\n"
    "    [ \"$a\" = \"$task\" ] || continue\n"
    "    ran=$((ran + 1))\n"
    "    echo \"peftbench slurm: array task $task: trial $plan $id on "
    "${SLURMD_NODENAME:-$(uname -n)}\"\n"
    "    \"$peftbench\" run \"$sweep\" --out \"$out\" --trial \"$plan\" --trial-id \"$id\" "
    "--no-csv";

static const char array_tail[] =
    " &\n"
    "    child=$!\n"
    "    wait \"$child\"\n"
    "    rc=$?\n"
    "    while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; rc=$?; done\n"
    "    child=\n"
    "    [ \"$rc\" -eq 0 ] || status=$rc\n"
    "    [ -z \"$stop\" ] || break\n"
    "done <\"$map\"\n"
    "if [ \"$ran\" -eq 0 ]; then\n"
    "    echo \"peftbench slurm: array task $task has no trial in $map\" >&2\n"
    "    exit 1\n"
    "fi\n"
    "exit \"$status\"\n";

char *slurm_array_script(const struct slurm_job *j, struct err *e)
{
    const struct slurm_opts *o = j->o;
    struct strbuf b = {0};
    char name[SWEEP_NAME_MAX + 32];
    snprintf(name, sizeof name, "peftbench-%s", j->name);
    strbuf_str(&b, "#!/bin/sh\n");
    strbuf_printf(&b, "# peftbench slurm, %s: %zu trials not yet done, as array tasks 0-%zu.\n", j->stamp,
           j->ntrials, j->ntasks - 1);
    strbuf_str(&b,
           "# Task i runs the trials of the map lines whose first column is i (array index,\n"
           "# plan index, trial id).  The map is never rewritten, so editing the sweep cannot\n"
           "# shift trials under a running array: run --trial-id refuses a trial that moved.\n");
    int rc = sb_directive(&b, "job-name", name, e);
    if (rc == ERR_OK) {
        strbuf_printf(&b, "#SBATCH --array=0-%zu", j->ntasks - 1);
        if (o->max_parallel > 0)
            strbuf_printf(&b, "%%%d", o->max_parallel);
        strbuf_printf(&b, "\n#SBATCH --cpus-per-task=%d\n", o->cpus_per_task);
        if (o->mem)
            rc = sb_directive(&b, "mem", o->mem, e);
    }
    if (rc == ERR_OK) {
        strbuf_printf(&b, "#SBATCH --signal=B:TERM@%d\n", SLURM_SIGNAL_SECONDS);
        rc = sb_common(&b, j, "array-%A_%a.out", e);
    }
    if (rc == ERR_OK) {
        strbuf_str(&b, "\n");
        if ((rc = sb_var(&b, "peftbench", j->exe, e)) || (rc = sb_var(&b, "sweep", j->sweep, e)) ||
            (rc = sb_var(&b, "out", j->out_dir, e)) || (rc = sb_var(&b, "map", j->map, e)))
            return finish(&b, rc, e);
        strbuf_str(&b, array_body);
        if (o->skip_failed)
            strbuf_str(&b, " --skip-failed");
        if (o->allow_large)
            strbuf_str(&b, " --allow-large");
        if (o->strict)
            strbuf_str(&b, " --strict");
        for (int i = 0; i < o->noverrides; i++) {
            strbuf_str(&b, " ");
            sb_shell(&b, o->overrides[i]);
        }
        strbuf_str(&b, array_tail);
    }
    return finish(&b, rc, e);
}

static const char collect_body[] =
    "\n"
    "\"$peftbench\" collect \"$out\" || exit 1\n"
    "if \"$peftbench\" plot \"$out\"; then\n"
    "    echo \"peftbench slurm: figures drawn in $out\"\n"
    "else\n"
    "    echo \"peftbench slurm: 'peftbench plot' failed (exit $?); results.csv is complete:"
    " draw the figures later with: peftbench plot $out\" >&2\n"
    "fi\n"
    "exit 0\n";

char *slurm_collect_script(const struct slurm_job *j, struct err *e)
{
    struct strbuf b = {0};
    char name[SWEEP_NAME_MAX + 32];
    snprintf(name, sizeof name, "peftbench-%s-collect", j->name);
    strbuf_str(&b, "#!/bin/sh\n");
    strbuf_printf(&b, "# peftbench slurm, %s: rebuild results.csv and draw the figures once the\n",
           j->stamp);
    strbuf_str(&b, "# array job has ended (--dependency=afterany:<array job>: also when tasks failed\n"
               "# or were cancelled).  Trials still missing: run peftbench slurm again.\n");
    int rc = sb_directive(&b, "job-name", name, e);
    if (rc == ERR_OK) {
        strbuf_str(&b, "#SBATCH --cpus-per-task=1\n");
        rc = sb_common(&b, j, "collect-%j.out", e);
    }
    if (rc == ERR_OK) {
        strbuf_str(&b, "\n");
        if ((rc = sb_var(&b, "peftbench", j->exe, e)) || (rc = sb_var(&b, "out", j->out_dir, e)))
            return finish(&b, rc, e);
        strbuf_str(&b, collect_body);
    }
    return finish(&b, rc, e);
}

/* ---- the subcommand ----------------------------------------------------------------- */

/* p made absolute against cwd, without resolving symbolic links (the login node's
 * view of a path is the one compute nodes share). */
static int abs_path(char *dst, size_t n, const char *cwd, const char *p, struct err *e)
{
    while (p[0] == '.' && p[1] == '/')
        for (p += 2; *p == '/'; p++)
            ;
    int k;
    if (p[0] == '/')
        k = snprintf(dst, n, "%s", p);
    else if (p[0] == '\0' || strcmp(p, ".") == 0)
        k = snprintf(dst, n, "%s", cwd);
    else
        k = snprintf(dst, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", p);
    if (k < 0 || (size_t)k >= n)
        return ERR_SET(e, ERR_LIMIT, "path too long: %s", p);
    return ERR_OK;
}

static int self_exe(char *dst, size_t n, struct err *e)
{
    ssize_t k = readlink("/proc/self/exe", dst, n - 1);
    if (k < 0 || (size_t)k >= n - 1)
        return ERR_SET(e, ERR_IO, "cannot find this program's path (/proc/self/exe): %s",
                       k < 0 ? strerror(errno) : "too long");
    dst[k] = '\0';
    return ERR_OK;
}

/* Create dir/array.<stamp>.map (or -2, -3, ... when planned twice in one second)
 * exclusively, then fill it atomically.  path gets its name. */
static int write_map(char *path, size_t n, const char *dir, const char *stamp, const char *text,
                     struct err *e)
{
    for (int k = 1; k < 1000; k++) {
        int len = k == 1 ? snprintf(path, n, "%s/array.%s.map", dir, stamp)
                         : snprintf(path, n, "%s/array.%s-%d.map", dir, stamp, k);
        if (len < 0 || (size_t)len >= n)
            return ERR_SET(e, ERR_LIMIT, "path too long: %s/array.%s.map", dir, stamp);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return ERR_SET(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
        close(fd);
        return results_write_atomic(path, text, strlen(text), e);
    }
    return ERR_SET(e, ERR_IO, "%s: too many maps planned at %s", dir, stamp);
}

/* Run argv without a shell, its stdout into buf; a missing program gets a Slurm hint. */
static int spawn_capture(char *const argv[], char *buf, size_t n, int *status, struct err *e)
{
    int why = 0;
    int rc = proc_capture(argv, NULL, buf, n, status, &why, e);
    if (rc && why == ENOENT)
        return ERR_SET(e, ERR_IO, "cannot run %s: %s (not in PATH: is this a Slurm login node? "
                                  "without --submit, peftbench slurm prints the commands to run)",
                       argv[0], strerror(why));
    return rc;
}

/* sbatch --parsable [dependency] script; id gets the job id ("123" of "123;cluster"). */
static int sbatch(const char *dependency, const char *script, char *id, size_t n, FILE *out,
                  FILE *errf, struct err *e)
{
    char a0[] = "sbatch", a1[] = "--parsable", dep[64], path[SLURM_PATH_MAX + 64];
    snprintf(dep, sizeof dep, "%s", dependency ? dependency : "");
    snprintf(path, sizeof path, "%s", script);
    char *argv[] = {a0, a1, dependency ? dep : path, dependency ? path : NULL, NULL};
    char buf[256];
    int status = 0;
    fflush(out);
    fflush(errf);
    if (spawn_capture(argv, buf, sizeof buf, &status, e))
        return e->code;
    size_t len = strspn(buf, "0123456789");
    if (status != 0 || len == 0 || len >= n) {
        buf[strcspn(buf, "\n")] = '\0';
        return ERR_SET(e, ERR_IO, "sbatch %s failed (exit %d%s%s)", script, status,
                       buf[0] ? ", output: " : "", buf);
    }
    memcpy(id, buf, len);
    id[len] = '\0';
    return ERR_OK;
}

struct slurm_run {
    struct sweep sw;
    char exe[SLURM_PATH_MAX], cwd[SLURM_PATH_MAX], sweep[SLURM_PATH_MAX];
    char out[SLURM_PATH_MAX], dir[SLURM_PATH_MAX + 16], map[SLURM_PATH_MAX + 64];
    char array[SLURM_PATH_MAX + 32], collect[SLURM_PATH_MAX + 32];
    char stamp[32];
    size_t *idx; /* owned: (n) plan indices of the missing trials */
    size_t n;
    char **extra; /* owned: (nextra) */
    int nextra;
};

static int resolve_paths(struct slurm_run *r, const struct slurm_opts *o, struct err *e)
{
    if (!getcwd(r->cwd, sizeof r->cwd))
        return ERR_SET(e, ERR_IO, "cannot get the working directory: %s", strerror(errno));
    if (o->exe)
        snprintf(r->exe, sizeof r->exe, "%s", o->exe);
    else if (self_exe(r->exe, sizeof r->exe, e))
        return e->code;
    char rel[SLURM_PATH_MAX];
    if (o->out_dir)
        snprintf(rel, sizeof rel, "%s", o->out_dir);
    else
        snprintf(rel, sizeof rel, "results/%s", r->sw.name);
    if (abs_path(r->sweep, sizeof r->sweep, r->cwd, o->sweep_path, e) ||
        abs_path(r->out, sizeof r->out, r->cwd, rel, e))
        return e->code;
    size_t len = strlen(r->out);
    while (len > 1 && r->out[len - 1] == '/')
        r->out[--len] = '\0';
    char logs[SLURM_PATH_MAX + 32];
    snprintf(r->dir, sizeof r->dir, "%s/slurm", r->out);
    snprintf(logs, sizeof logs, "%s/logs", r->dir);
    snprintf(r->array, sizeof r->array, "%s/array.sbatch", r->dir);
    snprintf(r->collect, sizeof r->collect, "%s/collect.sbatch", r->dir);
    /* Slurm does not create the directory of --output: a missing one loses every log */
    return results_mkdirs(logs, e);
}

static void print_commands(const struct slurm_run *r, FILE *out)
{
    char *a = slurm_quote_shell(r->array), *c = slurm_quote_shell(r->collect);
    fprintf(out,
            "submit with (or run peftbench slurm again with --submit):\n"
            "  jid=$(sbatch --parsable %s)\n"
            "  sbatch --dependency=afterany:\"${jid%%%%;*}\" %s\n",
            a ? a : r->array, c ? c : r->collect);
    free(a);
    free(c);
}

static int slurm_body(struct slurm_run *r, const struct slurm_opts *o, FILE *out, FILE *errf,
                      struct err *e)
{
    struct sweep_opts so = {o->overrides, o->noverrides, o->allow_large, model_identity};
    if (sweep_load(&r->sw, o->sweep_path, &so, e) || resolve_paths(r, o, e))
        return e->code;
    /* Now, not in every array task: a missing model fails here, and a builtin: model is
     * built once instead of by all tasks at the same time. */
    char model_dir[SLURM_PATH_MAX];
    if (run_resolve_model(r->sw.model, model_dir, sizeof model_dir, errf))
        return ERR_SET(e, ERR_CONFIG,
                       "model %s of sweep %s is not usable (above): every array "
                       "task would fail",
                       r->sw.model, r->sw.name);
    if (o->extra && slurm_split_words(o->extra, &r->extra, &r->nextra, e))
        return e->code;
    if (slurm_select(&r->sw, r->out, !o->skip_failed, &r->idx, &r->n, e))
        return e->code;
    if (r->n == 0) {
        fprintf(out,
                "peftbench slurm: all %zu trials of sweep %s are recorded in %s: nothing to "
                "submit (peftbench collect %s rebuilds results.csv)\n",
                r->sw.ntrials, r->sw.name, r->out, r->out);
        return ERR_OK;
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(r->stamp, sizeof r->stamp, "%Y%m%dT%H%M%S", &tm);
    size_t per = (size_t)o->trials_per_task;
    struct slurm_job j = {o,        r->exe,     r->sweep, r->out, r->cwd,
                          r->map,   r->sw.name, r->stamp, r->n,   (r->n + per - 1) / per,
                          r->extra, r->nextra};
    char *map = slurm_map_text(&r->sw, r->idx, r->n, o->trials_per_task, r->stamp);
    if (!map)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing the map");
    int rc = write_map(r->map, sizeof r->map, r->dir, r->stamp, map, e);
    free(map);
    char *as = rc ? NULL : slurm_array_script(&j, e);
    char *cs = as ? slurm_collect_script(&j, e) : NULL;
    if (!as || !cs) {
        if (rc == ERR_OK)
            unlink(r->map); /* no script will name it */
        free(as);
        free(cs);
        return rc ? rc : e->code;
    }
    rc = results_write_atomic(r->array, as, strlen(as), e);
    if (rc == ERR_OK)
        rc = results_write_atomic(r->collect, cs, strlen(cs), e);
    free(as);
    free(cs);
    if (rc)
        return rc;
    fprintf(out,
            "peftbench slurm: sweep %s: %zu of %zu trials to run (%zu already recorded) as "
            "array tasks 0-%zu",
            r->sw.name, r->n, r->sw.ntrials, r->sw.ntrials - r->n, j.ntasks - 1);
    if (o->max_parallel > 0)
        fprintf(out, ", at most %d at a time", o->max_parallel);
    fprintf(out, "\n  map %s\n  scripts %s, %s\n  logs %s/logs/\n", r->map, r->array, r->collect,
            r->dir);
    if (j.ntasks > SLURM_ARRAY_WARN)
        fprintf(errf,
                "peftbench slurm: note: %zu array tasks; clusters cap arrays by MaxArraySize "
                "(default 1001: scontrol show config | grep MaxArraySize): --trials-per-task N "
                "packs N trials into each task\n",
                j.ntasks);
    if (!o->submit) {
        print_commands(r, out);
        return ERR_OK;
    }
    char aid[64], cid[64], dep[96];
    if (sbatch(NULL, r->array, aid, sizeof aid, out, errf, e))
        return e->code;
    fprintf(out, "peftbench slurm: submitted array job %s\n", aid);
    snprintf(dep, sizeof dep, "--dependency=afterany:%s", aid);
    if (sbatch(dep, r->collect, cid, sizeof cid, out, errf, e)) {
        char *c = slurm_quote_shell(r->collect);
        err_prefix(e,
                   "array job %s is submitted; submit the collect job by hand with: "
                   "sbatch --dependency=afterany:%s %s; ",
                   aid, aid, c ? c : r->collect);
        free(c);
        return e->code;
    }
    fprintf(out, "peftbench slurm: submitted collect job %s (after array job %s ends)\n", cid, aid);
    return ERR_OK;
}

int slurm_main(const struct slurm_opts *o, FILE *out, FILE *errf)
{
    struct err e;
    err_clear(&e);
    if (o->cpus_per_task < 1 || o->trials_per_task < 1 || o->max_parallel < 0) {
        fprintf(errf, "peftbench slurm: --cpus-per-task and --trials-per-task must be >= 1, "
                      "--max-parallel >= 0\n");
        return 1;
    }
    if (o->exe && o->exe[0] != '/') {
        fprintf(errf, "peftbench slurm: the program path must be absolute: %s\n", o->exe);
        return 1;
    }
    struct slurm_run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(errf, "peftbench slurm: out of memory\n");
        return 1;
    }
    int rc = slurm_body(r, o, out, errf, &e);
    if (rc)
        fprintf(errf, "peftbench slurm: %s\n", e.msg);
    slurm_free_words(r->extra, r->nextra);
    free(r->idx);
    sweep_free(&r->sw);
    free(r);
    return rc ? 1 : 0;
}
