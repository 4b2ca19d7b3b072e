/* history_cmd: `peftbench history RESULTS_DIR... [--out ROOT] [compare's tolerance flags]`:
 * append each results directory's run to ROOT/history/ (harness/report/history.h), then
 * rewrite ROOT/history.html (harness/report/history_html.h).  Kept in the CLI room because it
 * prints and parses arguments; the history itself is report code. */
#include "harness/cli/history_cmd.h"

#include <stdlib.h>
#include <string.h>

#include "harness/cli/usage.h"
#include "harness/report/compare.h"
#include "harness/report/history.h"
#include "harness/report/history_html.h"

/* A tolerance flag of compare's (same names, same defaults); false when a is not one. */
static bool tol_flag(struct compare_opts *o, const char *a, const char *v, int *bad)
{
    double *dst = strcmp(a, "--metric-tol") == 0        ? &o->metric_tol
                  : strcmp(a, "--speed-tol") == 0       ? &o->speed_tol
                  : strcmp(a, "--sweep-speed-tol") == 0 ? &o->sweep_speed_tol
                  : strcmp(a, "--ratio-tol") == 0 ? &o->ratio_tol
                  : strcmp(a, "--mem-tol") == 0         ? &o->mem_tol
                                                        : NULL;
    if (!dst)
        return false;
    char *end = NULL;
    *dst = v ? strtod(v, &end) : -1.0;
    *bad = !v || *end || end == v || !(*dst >= 0);
    return true;
}

int history_main(int argc, char **argv, FILE *out, FILE *errf)
{
    struct compare_opts o;
    compare_opts_default(&o);
    const char *root = "results/nightly";
    int ndirs = 0, bad = 0;
    char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    for (int i = 1; dirs && i < argc && !bad; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--out") == 0 && i + 1 < argc)
            root = argv[++i];
        else if (strcmp(a, "--allow-missing") == 0)
            o.allow_missing = true;
        else if (tol_flag(&o, a, i + 1 < argc ? argv[i + 1] : NULL, &bad))
            i++;
        else if (a[0] == '-')
            bad = 1;
        else
            dirs[ndirs++] = argv[i];
    }
    if (!dirs || bad || ndirs == 0) {
        fprintf(errf, "peftbench history: %s\n%s", !dirs ? "out of memory"
                      : bad ? "bad argument or value" : "no results directory given",
                usage_text("history"));
        free(dirs);
        return 2;
    }
    struct err e;
    int status = 0;
    for (int i = 0; i < ndirs && status == 0; i++) {
        char name[512];
        if (history_append(dirs[i], root, name, sizeof name, &e)) {
            fprintf(errf, "peftbench history: %s\n", e.msg);
            status = e.code == ERR_IO || e.code == ERR_NOMEM ? 1 : 2;
        } else {
            fprintf(out, "peftbench history: %s -> %s/%s/%s\n", dirs[i], root, HISTORY_DIR, name);
        }
    }
    free(dirs);
    if (status)
        return status;
    if (history_html_write(root, &o, &e)) {
        fprintf(errf, "peftbench history: %s\n", e.msg);
        return e.code == ERR_FORMAT ? 2 : 1;
    }
    fprintf(out, "peftbench history: wrote %s/%s\n", root, HISTORY_PAGE);
    return 0;
}
