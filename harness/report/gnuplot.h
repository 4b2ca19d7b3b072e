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

/* Append "set <axis>label '<text>'". */
void gnuplot_label(struct strbuf *b, const char *axis, const char *text);

/* `gnuplot --version` into buf (e.g. "gnuplot 5.4 patchlevel 4"); ERR_UNSUPPORTED
 * with an install hint when gnuplot cannot be run. */
int plots_gnuplot_version(char *buf, size_t n, struct err *e);

/* Run gnuplot on plots_dir/NAME.gp from plots_dir, so that it writes NAME.png and NAME.svg
 * there (both removed first); its stderr goes to NAME.log, kept only on failure.  Errors:
 * gnuplot cannot be run (ERR_UNSUPPORTED), it fails or writes no PNG/SVG (ERR_IO, with its
 * last message). */
int gnuplot_render(const char *plots_dir, const char *name, struct err *e);

#endif
