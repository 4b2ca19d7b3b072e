/*
 * figfile: putting the image files gnuplot drew into place crash-safely.
 *
 * gnuplot writes NAME.png and NAME.svg itself, so they cannot go through base/fileio.h.
 * Instead gnuplot_render runs the script in a private temporary directory beside plots/
 * (plots/.render-<pid>-NAME/), and each image is then checked complete (a PNG ends with its
 * IEND chunk, an SVG with </svg>: a full disk or a killed gnuplot leaves neither), fsync'ed
 * and renamed over plots/NAME.png / .svg, and the directory fsync'ed.  A reader, or a run
 * killed at any point, sees the old image or the whole new one, never a truncated one.
 */
#ifndef HARNESS_FIGFILE_H
#define HARNESS_FIGFILE_H

#include <stddef.h>

#include "base/err.h"

/* Create plots_dir/.render-<pid>-NAME/ (removing a stale one) with NAME.dat linked to the
 * figure's data; its path goes to dir.  Errors name the directory and the cause. */
int figfile_tmpdir(const char *plots_dir, const char *name, char *dir, size_t n,
                   struct err *e);

/* Check tmp_dir/NAME.EXT complete, then fsync and rename it to plots_dir/NAME.EXT.
 * Errors (ERR_IO) name the file: missing, truncated, or the failing call with its cause. */
int figfile_commit(const char *tmp_dir, const char *plots_dir, const char *name,
                   const char *ext, struct err *e);

/* Remove the temporary directory and what is left in it (best effort). */
void figfile_tmpdir_remove(const char *dir, const char *name);

#endif
