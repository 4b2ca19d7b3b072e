/* figctx: what every figure writer of one plots_make run shares (contract in figctx.h). */
#include "harness/report/figctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep/results.h"

void figctx_warn(const struct figctx *fx, const char *fmt, ...)
{
    if (!fx->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(fx->warn, "peftbench plot: warning: ");
    vfprintf(fx->warn, fmt, ap);
    fprintf(fx->warn, "\n");
    va_end(ap);
}

int figctx_write(struct figctx *fx, const char *name, const char *title, struct strbuf *dat,
                 struct strbuf *gp, struct err *e)
{
    if (dat->oom || gp->oom)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing figure %s", name);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.dat", fx->plots_dir, name);
    if (results_write_atomic(path, dat->p ? dat->p : "", dat->n, e))
        return e->code;
    snprintf(path, sizeof path, "%s/%s.gp", fx->plots_dir, name);
    if (results_write_atomic(path, gp->p, gp->n, e))
        return e->code;
    if (fx->nnames == fx->cap) {
        int cap = fx->cap ? 2 * fx->cap : 16;
        char(*nn)[PLOT_NAME_MAX] = realloc(fx->names, (size_t)cap * sizeof *nn);
        if (!nn)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        fx->names = nn;
        fx->cap = cap;
    }
    snprintf(fx->names[fx->nnames++], PLOT_NAME_MAX, "%s", name);
    strbuf_printf(&fx->manifest, "%s\t", name);
    for (const char *p = title; *p; p++)
        strbuf_put(&fx->manifest, (*p == '\t' || *p == '\n') ? " " : p, 1);
    strbuf_str(&fx->manifest, "\n");
    return ERR_OK;
}

bool figctx_name_taken(const struct figctx *fx, const char *name)
{
    for (int i = 0; i < fx->nnames; i++)
        if (strcmp(fx->names[i], name) == 0)
            return true;
    return false;
}
