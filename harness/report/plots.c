/* plots: the entry point, plots_make (contract in plots.h); the pieces it runs are in
 * plotspec, figures, plotcols, figctx, figtypes and gnuplot (harness/report/). */
#include "harness/report/plots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/aggregate.h"
#include "harness/report/figctx.h"
#include "harness/report/figtypes.h"
#include "harness/report/figures.h"
#include "harness/report/plotcols.h"
#include "harness/report/select.h"
#include "harness/report/strset.h"
#include "harness/report/textfmt.h"
#include "harness/sweep/results.h"

/* One spec -> its figures: the settings with a finished trial that pass its filter, one figure
 * per split part (NAME-PART; a name already written gets -2, -3, ...), each drawn by the
 * writer of the spec's type. */
static int make_spec(struct figctx *fx, const struct plot_spec *sp, struct err *e)
{
    const struct agg *a = fx->a;
    struct plotcols *rv = malloc(sizeof *rv);
    size_t *sel = malloc((a->n + 1) * sizeof *sel), *part = malloc((a->n + 1) * sizeof *part);
    struct strset splits = {0};
    int rc = ERR_OK;
    if (!rv || !sel || !part) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = plotcols_resolve(a, sp, rv, e)))
        goto out;
    size_t nsel = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->s[i].n_ok > 0 && plotcols_passes(a, &a->s[i], sp, rv))
            sel[nsel++] = i;
    if (nsel == 0) {
        figctx_warn(fx, "figure %s: no setting with a finished trial passes its filter; skipped",
                    sp->output);
        goto out;
    }
    char key[512];
    for (size_t i = 0; i < nsel; i++) {
        plotcols_values_text(key, sizeof key, a, &a->s[sel[i]], rv->split, rv->nsplit);
        strset_add(&splits, key);
    }
    if (splits.oom) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < splits.n && rc == ERR_OK; k++) {
        size_t np = 0;
        for (size_t i = 0; i < nsel; i++) {
            plotcols_values_text(key, sizeof key, a, &a->s[sel[i]], rv->split, rv->nsplit);
            if (strcmp(key, splits.v[k]) == 0)
                part[np++] = sel[i];
        }
        char name[PLOT_NAME_MAX], raw[PLOT_TEXT_MAX * 2];
        if (splits.n > 1) {
            snprintf(raw, sizeof raw, "%s-%s", sp->output, splits.v[k]);
            plots_sanitize(name, sizeof name, raw);
        } else {
            snprintf(name, sizeof name, "%s", sp->output);
        }
        for (int dup = 2; figctx_name_taken(fx, name) && dup < 1000; dup++) {
            snprintf(raw, sizeof raw, "%.80s-%d", name, dup);
            figctx_warn(fx, "figure name %s is taken; writing %s", name, raw);
            text_fmt(name, sizeof name, "%s", raw);
        }
        /* a split figure's title names its part: "wn-pos: ..." */
        const char *lead = rv->nsplit ? splits.v[k] : "";
        switch (sp->type) {
        case PLOT_LINE:
        case PLOT_SCATTER:
            rc = figtypes_write_line(fx, sp, rv, part, np, name, lead, e);
            break;
        case PLOT_BAR:
            rc = figtypes_write_bar(fx, sp, rv, part, np, name, lead, e);
            break;
        case PLOT_CURVE:
            rc = figtypes_write_curve(fx, sp, rv, part, np, name, lead, e);
            break;
        }
    }
out:
    strset_free(&splits);
    free(rv);
    free(sel);
    free(part);
    return rc;
}

int plots_make(const char *dir, const struct plot_specs *specs, const struct plots_opts *o,
               int *nfigures, struct err *e)
{
    struct agg_table t;
    struct agg a;
    struct figctx fx;
    struct plot_spec *all = NULL;
    int nall = 0;
    char path[4400];
    memset(&fx, 0, sizeof fx);
    memset(&a, 0, sizeof a);
    if (nfigures)
        *nfigures = 0;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    if (agg_table_load(&t, path, e)) {
        if (e->code == ERR_IO)
            err_prefix(e,
                       "no results to plot (run the sweep first, or rebuild results.csv "
                       "with `peftbench collect %s`)",
                       dir);
        return e->code;
    }
    int rc = agg_build(&a, &t, e);
    if (rc == ERR_OK && a.n == 0)
        rc = ERR_SET(e, ERR_STATE, "%s: no trials yet: nothing to plot", path);
    if (rc == ERR_OK) {
        snprintf(path, sizeof path, "%s/summary.csv", dir);
        rc = agg_write_summary(&a, path, e);
    }
    if (rc == ERR_OK) { /* selected.csv: tuned settings chosen on dev (select.h) */
        struct selection sel;
        snprintf(path, sizeof path, "%s/selected.csv", dir);
        rc = select_build(&sel, &a, e);
        if (rc == ERR_OK)
            rc = select_write_csv(&sel, path, e);
        select_free(&sel);
    }
    if (rc == ERR_OK) {
        fx.dir = dir;
        fx.a = &a;
        fx.warn = o ? o->warn : NULL;
        snprintf(fx.plots_dir, sizeof fx.plots_dir, "%s/plots", dir);
        rc = results_mkdirs(fx.plots_dir, e);
    }
    if (rc == ERR_OK)
        rc = figures_build(&a, specs, &all, &nall, e);
    for (int i = 0; rc == ERR_OK && i < nall; i++)
        if (all[i].enabled)
            rc = make_spec(&fx, &all[i], e);
    if (rc == ERR_OK) {
        snprintf(path, sizeof path, "%s/figures.tsv", fx.plots_dir);
        rc = fx.manifest.oom
                 ? ERR_SET(e, ERR_NOMEM, "out of memory")
                 : results_write_atomic(path, fx.manifest.p ? fx.manifest.p : "", fx.manifest.n, e);
    }
    if (rc == ERR_OK && nfigures)
        *nfigures = fx.nnames;
    if (rc == ERR_OK && o && o->render && fx.nnames > 0) {
        char version[128];
        rc = plots_gnuplot_version(version, sizeof version, e);
        if (rc)
            err_prefix(e,
                       "figures not drawn; their data and scripts are in %s (draw one with "
                       "`cd %s && gnuplot NAME.gp`)",
                       fx.plots_dir, fx.plots_dir);
        /* draw every figure; report the first failure */
        struct err first;
        err_clear(&first);
        for (int i = 0; rc == ERR_OK && i < fx.nnames; i++) {
            struct err fe;
            if (gnuplot_render(fx.plots_dir, fx.names[i], &fe) && first.code == ERR_OK)
                first = fe;
            if (fe.code == ERR_UNSUPPORTED)
                break;
        }
        if (rc == ERR_OK && first.code != ERR_OK) {
            *e = first;
            rc = first.code;
        }
    }
    free(all);
    free(fx.names);
    strbuf_free(&fx.manifest);
    agg_free(&a);
    agg_table_free(&t);
    return rc;
}
