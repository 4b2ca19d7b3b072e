#include "harness/cli/demo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/report/aggregate.h"
#include "harness/run/run.h"
#include "harness/sweep/sweep.h"

#define DEMO_CONFIG "configs/quickstart.yaml"

/* One line per setting: task, method, primary metric mean ± std over seeds,
 * trainable parameters, training tokens/s. */
static int print_table(const char *dir, FILE *out, struct err *e)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    struct agg_table t;
    struct agg a;
    if (agg_table_load(&t, path, e))
        return e->code;
    if (agg_build(&a, &t, e)) {
        agg_table_free(&t);
        return e->code;
    }
    int pv = agg_measure_index(&a, "primary_value"), pm = agg_measure_index(&a, "params_method");
    int tps = agg_measure_index(&a, "train_tokens_per_s");
    fprintf(out, "\n%-14s %-14s %-22s %12s %10s\n", "task", "method", "dev metric (mean±std)",
            "trainable", "tokens/s");
    for (size_t i = 0; i < a.n; i++) {
        const struct agg_setting *s = &a.s[i];
        const char *task = agg_table_cell(&t, s->row, a.col_task);
        const char *metric = agg_table_cell(&t, s->row, a.col_metric);
        char m[64];
        if (pv >= 0 && s->n_ok > 0)
            snprintf(m, sizeof m, "%s %.3f±%.3f", metric, s->stats[pv].mean, s->stats[pv].std);
        else
            snprintf(m, sizeof m, "(%d diverged, %d failed)", s->n_diverged, s->n_failed);
        fprintf(out, "%-14s %-14s %-22s %12.0f %10.0f\n", task, s->label, m,
                pm >= 0 ? s->stats[pm].mean : (double)NAN,
                tps >= 0 ? s->stats[tps].mean : (double)NAN);
    }
    agg_free(&a);
    agg_table_free(&t);
    return ERR_OK;
}

int demo_main(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *config = DEMO_CONFIG;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else {
            fprintf(errf, "usage: peftbench demo [--config SWEEP.yaml]\n");
            return 2;
        }
    }
    if (access(config, R_OK) != 0) {
        fprintf(errf, "peftbench demo: cannot read %s (run from the repository root)\n", config);
        return 1;
    }
    struct run_opts o = {.sweep_path = config, .trial = -1};
    int rc = run_sweep(&o, out, errf);
    if (rc)
        return rc;
    struct sweep sw;
    struct err e;
    struct sweep_opts so = {0};
    if (sweep_load(&sw, config, &so, &e)) {
        fprintf(errf, "peftbench demo: %s\n", e.msg);
        return 1;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "results/%s", sw.name);
    sweep_free(&sw);
    if (print_table(dir, out, &e)) {
        fprintf(errf, "peftbench demo: %s\n", e.msg);
        return 1;
    }
    fprintf(out,
            "\nresults:  %s/results.csv (one row per trial), %s/summary.csv (mean over seeds)\n"
            "figures:  %s/plots/*.png (and .svg, with the gnuplot scripts beside them)\n"
            "report:   %s/report.md\n",
            dir, dir, dir, dir);
    return 0;
}
