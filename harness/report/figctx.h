/*
 * figctx: what every figure writer of one plots_make run shares -- the
 * results directory and its plots/, the aggregated results, where warnings go --
 * and what they produce together: the figure names written so far and the
 * manifest plots/figures.tsv (NAME <tab> title per figure, in order).
 * A writer builds a figure's NAME.dat and NAME.gp in memory and hands both
 * to figctx_write, which writes them and records the figure.
 */
#ifndef HARNESS_FIGCTX_H
#define HARNESS_FIGCTX_H

#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "base/strbuf.h"
#include "harness/report/aggregate.h"
#include "harness/report/plotspec.h"

struct figctx {
    const char *dir; /* results directory */
    char plots_dir[4096];
    const struct agg *a;
    FILE *warn;                   /* plots_opts.warn (NULL: no warnings) */
    struct strbuf manifest;       /* figures.tsv */
    char (*names)[PLOT_NAME_MAX]; /* owned: written figure names */
    int nnames, cap;
};

/* "peftbench plot: warning: ..." and a newline on fx->warn (nothing when it is NULL). */
void figctx_warn(const struct figctx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write dat and gp as plots/NAME.dat and plots/NAME.gp, add name to fx->names and a
 * "name <tab> title" line to the manifest.  Errors: either buffer ran out of memory
 * (ERR_NOMEM), a write failure. */
int figctx_write(struct figctx *fx, const char *name, const char *title, struct strbuf *dat,
                 struct strbuf *gp, struct err *e);

/* A figure of this name was written already. */
bool figctx_name_taken(const struct figctx *fx, const char *name);

#endif
