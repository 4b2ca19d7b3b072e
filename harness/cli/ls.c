/* ls: `peftbench ls [DIR]`, the sweeps under a results directory (see ls.h). */
#include "harness/cli/ls.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness/cli/usage.h"
#include "harness/report/aggregate.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"

#define LS_PATH 4096
#define LS_DEPTH 3

struct found {
    char **dirs; /* owned */
    size_t n;
};

static bool exists(const char *dir, const char *name)
{
    char p[LS_PATH + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void find_sweeps(struct found *f, const char *dir, int depth)
{
    if (exists(dir, "results.csv") || exists(dir, "sweep.yaml")) {
        char **nd = realloc(f->dirs, (f->n + 1) * sizeof *nd);
        if (nd && (nd[f->n] = strdup(dir)))
            f->n++;
        f->dirs = nd ? nd : f->dirs;
    }
    DIR *d = depth < LS_DEPTH ? opendir(dir) : NULL;
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *n = de->d_name;
        if (n[0] == '.' || !strcmp(n, "trials") || !strcmp(n, "plots") || !strcmp(n, "history"))
            continue;
        char sub[LS_PATH];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, n) < sizeof sub &&
            stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            find_sweeps(f, sub, depth + 1);
    }
    if (d)
        closedir(d);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Trials of DIR/sweep.yaml's plan without an ok or diverged record, or -1. */
static long to_run(const char *dir, char *name, size_t n)
{
    char path[LS_PATH + 32];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    struct sweep sw;
    struct sweep_opts o = {.allow_large = true};
    struct err e;
    memset(&sw, 0, sizeof sw);
    if (!exists(dir, "sweep.yaml") || sweep_load(&sw, path, &o, &e)) {
        sweep_free(&sw);
        return -1;
    }
    long k = 0;
    for (size_t i = 0; i < sw.ntrials; i++)
        k += !results_trial_done(dir, sw.trials[i].id, true);
    if (!name[0])
        snprintf(name, n, "%s", sw.name);
    sweep_free(&sw);
    return k;
}

/* "task metric 0.7220 (lora rank=4)" per task, best mean over seeds. */
static void best_per_task(FILE *out, const struct agg *a)
{
    int pm = agg_measure_index(a, "primary_value");
    bool first = true;
    for (size_t i = 0; pm >= 0 && i < a->n; i++) {
        const char *task = agg_table_cell(a->t, a->s[i].row, a->col_task);
        bool seen = false;
        for (size_t q = 0; q < i && !seen; q++)
            seen = !strcmp(task, agg_table_cell(a->t, a->s[q].row, a->col_task));
        if (seen)
            continue;
        size_t best = a->n;
        for (size_t j = i; j < a->n; j++)
            if (!strcmp(task, agg_table_cell(a->t, a->s[j].row, a->col_task)) &&
                a->s[j].stats[pm].n > 0 &&
                (best == a->n || a->s[j].stats[pm].mean > a->s[best].stats[pm].mean))
                best = j;
        if (best == a->n)
            continue;
        fprintf(out, "%s%s %s %.4f (%s)", first ? "    best: " : "; ", task,
                agg_table_cell(a->t, a->s[best].row, a->col_metric), a->s[best].stats[pm].mean,
                a->s[best].label);
        first = false;
    }
    if (!first)
        fputc('\n', out);
}

static void one_sweep(FILE *out, const char *dir)
{
    char path[LS_PATH + 32], name[256] = "", last[32] = "-";
    snprintf(path, sizeof path, "%s/results.csv", dir);
    struct agg_table t;
    struct agg a;
    struct err e;
    memset(&a, 0, sizeof a);
    bool have = agg_table_load(&t, path, &e) == ERR_OK;
    if (have && agg_build(&a, &t, &e) != ERR_OK) {
        agg_table_free(&t);
        have = false;
    }
    long done = 0, failed = 0;
    for (size_t r = 0; have && r < t.nrows; r++) {
        const char *st = agg_table_cell(&t, r, a.col_status), *at;
        bool ok = !strcmp(st, "ok") || !strcmp(st, "diverged");
        done += ok, failed += !ok;
        at = agg_table_cell(&t, r, agg_table_col(&t, "started_at"));
        if (at[0] && (last[0] == '-' || strcmp(at, last) > 0))
            snprintf(last, sizeof last, "%s", at);
        if (r == 0)
            snprintf(name, sizeof name, "%s", agg_table_cell(&t, r, agg_table_col(&t, "sweep")));
    }
    struct stat st;
    if (have && last[0] == '-' && stat(path, &st) == 0)
        strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%SZ", gmtime(&st.st_mtime));
    long todo = to_run(dir, name, sizeof name);
    char todo_s[24] = "?";
    if (todo >= 0)
        snprintf(todo_s, sizeof todo_s, "%ld", todo);
    fprintf(out, "%-24s %6ld %6ld %6s  %-20s  %s\n", name[0] ? name : "?", done, failed, todo_s,
            last, dir);
    if (have) {
        best_per_task(out, &a);
        agg_free(&a);
        agg_table_free(&t);
    }
}

int ls_main(int argc, char **argv, FILE *out, FILE *errf)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(errf, "%s", usage_text("ls"));
        return 2;
    }
    const char *root = argc == 2 ? argv[1] : "results";
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(errf, "peftbench ls: %s: not a directory\n", root);
        return 2;
    }
    char dir[LS_PATH];
    snprintf(dir, sizeof dir, "%s", root);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    struct found f = {NULL, 0};
    find_sweeps(&f, dir, 0);
    if (f.n == 0) {
        fprintf(out, "peftbench ls: no sweep under %s (no results.csv or sweep.yaml)\n", dir);
        return 0;
    }
    qsort(f.dirs, f.n, sizeof *f.dirs, cmp_str);
    fprintf(out, "%-24s %6s %6s %6s  %-20s  %s\n", "SWEEP", "DONE", "FAILED", "TO-RUN",
            "LAST RUN", "DIR");
    for (size_t i = 0; i < f.n; i++) {
        one_sweep(out, f.dirs[i]);
        free(f.dirs[i]);
    }
    free(f.dirs);
    return 0;
}
