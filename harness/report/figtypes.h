/*
 * figtypes: one figure of each spec type, from the settings a spec selected
 * (after its filter and split): the aggregated data as plots/NAME.dat, with
 * a comment header naming the columns, and the gnuplot script plots/NAME.gp
 * that draws it, both written through figctx_write.
 *   line, scatter  y's mean over seeds vs x, one series per group_by value;
 *                  categorical x for non-numeric values; automatic log x
 *                  (base 2 when every x is a power of two);
 *   bar            one bar per setting; a list of y columns stacks (memory
 *                  categories, with the accountant's simultaneous peak as a point);
 *   curve          dev_primary or train_loss per epoch from the trial JSON
 *                  records, one curve per series (its best setting by mean
 *                  dev primary metric).
 * Error bars follow the spec's errorbars mode (default the 95% Student-t
 * interval of the mean), named in a caption under the key; the seeds behind
 * each series are in its legend entry (bars: in the bar label), and a point
 * backed by one seed has no bar and is ringed.  Figures of a task's accuracy
 * draw its majority class (results.csv majority_fraction) as a dashed line.
 * Log axes get a tic at every power of the base (gnuplot_log_axis).  Bytes
 * are shown in MiB.
 *
 * Each takes the resolved columns rv of spec sp, the selected settings
 * sel[0..nsel) (indices into fx->a->s), the figure name and lead (the split
 * part that starts the title, "" when unsplit).  A figure with no data is
 * skipped with a warning.  Errors: out of memory, a write failure.
 */
#ifndef HARNESS_FIGTYPES_H
#define HARNESS_FIGTYPES_H

#include <stddef.h>

#include "base/err.h"
#include "harness/report/figctx.h"
#include "harness/report/plotcols.h"
#include "harness/report/plotspec.h"

int figtypes_write_line(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                        const size_t *sel, size_t nsel, const char *name, const char *lead,
                        struct err *e);
int figtypes_write_bar(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                       const size_t *sel, size_t nsel, const char *name, const char *lead,
                       struct err *e);
int figtypes_write_curve(struct figctx *fx, const struct plot_spec *sp, const struct plotcols *rv,
                         const size_t *sel, size_t nsel, const char *name, const char *lead,
                         struct err *e);

#endif
