/*
 * collect: `peftbench collect DIR` (declared in run.h): rebuild DIR/results.csv from
 * DIR/trials/, for the plan of DIR/sweep.yaml (the resolved sweep the last `run` wrote:
 * plan_csv.h) when it loads, else from every record (a directory filled by hand or by an
 * older peftbench).  Used after cluster array tasks that ran with --no-csv.
 */
#include <stdbool.h>
#include <stdio.h>

#include "harness/run/model_identity.h"
#include "harness/run/plan_csv.h"
#include "harness/run/run.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"

int run_collect(const char *dir, FILE *out, FILE *errf)
{
    struct err e;
    int rows = 0, nother = 0;
    /* the plan of DIR/sweep.yaml (written by run) when it loads, else every record */
    char path[4200];
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    struct sweep sw;
    struct sweep_opts so = {NULL, 0, true, model_identity};
    bool plan = sweep_load(&sw, path, &so, &e) == ERR_OK;
    int rc = plan ? run_plan_csv(dir, &sw, &rows, &nother, &e)
                  : results_rebuild_csv(dir, &rows, &e);
    if (plan)
        sweep_free(&sw);
    if (rc) {
        fprintf(errf, "peftbench collect: %s\n", e.msg);
        return 1;
    }
    fprintf(out, "peftbench collect: %d trials -> %s/results.csv", rows, dir);
    if (nother)
        fprintf(out, " (%d records of trials not in this sweep kept on disk, left out)", nother);
    fprintf(out, "\n");
    return 0;
}
