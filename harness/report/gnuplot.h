/*
 * gnuplot: what peftbench knows of gnuplot -- the text it reads (quoted
 * strings in scripts and data files, the preamble and ending every figure
 * script shares) and running it, without a shell, on a figure's script.
 *
 * A figure script sets both terminals itself so that it runs standalone from
 * DIR/plots (`gnuplot NAME.gp`): NAME.png (pngcairo, or the png terminal when
 * pngcairo is missing), then NAME.svg, each 960x600.
 */
#ifndef HARNESS_GNUPLOT_H
#define HARNESS_GNUPLOT_H

#include <stddef.h>

#include "base/err.h"
#include "base/strbuf.h"

/* Append s as a gnuplot single-quoted string: ' doubled, line breaks as spaces. */
void gnuplot_str(struct strbuf *b, const char *s);

/* Append s as a quoted string field of a gnuplot data file (no escapes there: " becomes '). */
void gnuplot_dat_str(struct strbuf *b, const char *s);

/* Append a figure script's header: comments naming the figure and its data file, both
 * terminals (PNG output NAME.png), the title and the shared style (grid, key, twelve series
 * styles). */
void gnuplot_script_begin(struct strbuf *b, const char *name, const char *title);

/* Append a figure script's ending: replot to NAME.svg. */
void gnuplot_script_end(struct strbuf *b, const char *name);

/* Append a log scale of base 2 or 10 on axis ("x", "y") with explicit tics at every power
 * of the base covering [lo, hi] (at most 12; labels alike: 1 2 4 8 ... for base 2, 1 10 100
 * 1k 10k ... for base 10), so every log axis reads the same way. */
void gnuplot_log_axis(struct strbuf *b, const char *axis, double lo, double hi, int base);

/* Append "set <axis>label '<text>'". */
void gnuplot_label(struct strbuf *b, const char *axis, const char *text);

/* `gnuplot --version` into buf (e.g. "gnuplot 5.4 patchlevel 4"); ERR_UNSUPPORTED
 * with an install hint when gnuplot cannot be run. */
int plots_gnuplot_version(char *buf, size_t n, struct err *e);

/* Run gnuplot on plots_dir/NAME.gp from a private temporary directory, then move the complete
 * NAME.png and NAME.svg into plots_dir by rename (harness/report/figfile.h): never a truncated
 * image; on failure both are removed (the report says "not drawn").  Its stderr goes to
 * NAME.log, kept only on failure.  Errors: gnuplot cannot be run (ERR_UNSUPPORTED), it fails,
 * writes no PNG/SVG or an incomplete one (ERR_IO, naming the file and the cause). */
int gnuplot_render(const char *plots_dir, const char *name, struct err *e);

#endif
