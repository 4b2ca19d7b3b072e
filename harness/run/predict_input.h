/*
 * predict_input: the examples `peftbench predict` runs on, checked against what the adapter
 * was trained on (methods/persist.h's recorded settings).
 *
 *   a task split    --task NAME (default: the adapter's recorded task) [--split dev]; a file
 *                   task is found in its sweep file (--sweep FILE, default: the sweep file
 *                   the adapter recorded for it), loaded as `run` loads it;
 *   a file of texts --input FILE (TSV/CSV with a header, or JSONL) whose text column is
 *                   --text-col NAME (default "text") and second text column --text-b-col
 *                   NAME (default "text_b" when the file has one).
 *
 * Refused, naming both sides: a task whose label set (count, names or order) is not the
 * adapter's; a file of single texts for an adapter trained on pairs, or the reverse; a named
 * column the file lacks.  A --task other than the recorded one is a warning.
 */
#ifndef HARNESS_PREDICT_INPUT_H
#define HARNESS_PREDICT_INPUT_H

#include <stdio.h>

#include "methods/persist.h"
#include "tasks/task.h"

struct predict_source {
    const char *task;        /* --task, or NULL: the recorded task (unless input is set) */
    const char *sweep;       /* --sweep, or NULL */
    const char *split;       /* "dev" | "test" | "train" | "dev_mismatched" */
    const char *input;       /* --input, or NULL */
    const char *text_col;    /* NULL: "text" */
    const char *text_b_col;  /* NULL: "text_b" when present */
    const char *data_dir;    /* --data-dir, or NULL: the sweep's, else $PEFTBENCH_DATA */
    long seed, max_examples; /* the trial's seed and max_dev: the same subsample */
};

/* Load the examples into td (task_data_free it) and point *sp at the split to predict on.
 * Warnings go to errf prefixed "peftbench predict: warning: ". */
int predict_input_load(const struct predict_source *src, const struct persist_meta *meta,
                       struct task_data *td, const struct split **sp, FILE *errf, struct err *e);

#endif
