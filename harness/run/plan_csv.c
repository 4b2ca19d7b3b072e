/* plan_csv: results.csv of one plan (contract in plan_csv.h). */
#include "harness/run/plan_csv.h"

#include <stdlib.h>

#include "harness/sweep/results.h"
#include "harness/sweep/plan.h"

int run_plan_csv(const char *out_dir, const struct sweep *sw, int *nrows, int *nother,
                 struct err *e)
{
    const char **ids = malloc((sw->ntrials ? sw->ntrials : 1) * sizeof *ids);
    if (!ids)
        return ERR_SET(e, ERR_NOMEM, "out of memory building results.csv");
    for (size_t i = 0; i < sw->ntrials; i++)
        ids[i] = sw->trials[i].id;
    int rc = results_rebuild_csv_plan(out_dir, ids, sw->ntrials, nrows, nother, e);
    free(ids);
    return rc;
}
