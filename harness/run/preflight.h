/*
 * preflight: every check `run` and `plan` make on a loaded sweep before any trial trains
 * or any builtin model is pretrained, collecting ALL the problems found (not the first).
 *
 * Why: a problem that can be seen in a second (a missing file, a column name misspelt,
 * lora.rank above the target's width, a plot column that does not exist) must not show up
 * as a failed trial after training started.  Each problem is one line naming the file and
 * line/column (or the column or key), what was expected and what was found.
 *
 * What is checked:
 *  - file tasks (preflight_files.c): the files exist and are regular files; the text /
 *    text_b / label columns exist; every row has the header's field count; declared
 *    labels match the train data; a dev/test label never seen in train; an empty split;
 *  - GLUE tasks: the data directory holds the task's folder and split files;
 *  - hyperparameters against the model's dimensions (config.json, or for a builtin model
 *    not built yet configs/pretrain/NAME.yaml): each method's own check (lora.rank <= the
 *    target's width, PHM divisibility), bottleneck <= hidden, max_seq_len <= positions;
 *  - plot specs: every column a figure names exists among results.csv's columns for this
 *    sweep (the fixed columns and the method.param columns of its methods).
 *
 * The caller prints the list and exits 2 without writing anything (preflight_print).
 * Harness code: data_dir is passed in (the environment is read by the caller).
 */
#ifndef HARNESS_PREFLIGHT_H
#define HARNESS_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct sweep;
struct bert_config;

#define PREFLIGHT_MAX_PER_FILE 10 /* row problems listed per file before "... and N more" */

/* The problems found so far: distinct one-line messages, in the order found. */
struct preflight {
    char **msg; /* owned: (n) */
    size_t n, cap;
    bool nomem; /* a message could not be stored (reported by preflight_print) */
};

/* Append one problem (printf-style); an identical message already listed is not repeated
 * (many trials share a setting). */
void preflight_add(struct preflight *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free the list (NULL-safe); leaves *p zeroed. */
void preflight_free(struct preflight *p);

/* Check every trial's task and hyperparameters and the sweep's plot specs; problems go to
 * p.  data_dir: the GLUE root (sweep's data_dir, else $PEFTBENCH_DATA, else NULL).
 * cfg: the model's dimensions, or NULL when they could not be read (the reason is already
 * in p). */
void preflight_sweep(struct preflight *p, const struct sweep *s, const char *data_dir,
                     const struct bert_config *cfg);

/* The model's dimensions without loading weights or building: DIR/config.json, or for
 * "builtin:NAME" results/models/NAME/config.json when that is a current build of
 * configs/pretrain/NAME.yaml, else the dimensions that config will build (*built = false:
 * `run` builds it first).  A problem goes to p and false is returned when the dimensions
 * cannot be read.  On true, release *cfg with hfconfig_free. */
bool preflight_model_dims(struct preflight *p, const char *model, struct bert_config *cfg,
                          bool *built);

/* File tasks of the sweep that its trials use (preflight_files.c). */
void preflight_file_tasks(struct preflight *p, const struct sweep *s);

/* The whole preflight of `run` and `plan` on a loaded sweep, before the model is resolved
 * (built) or any trial runs: data_dir from the sweep, else $PEFTBENCH_DATA; the model's
 * dimensions without building it.  Prints the problems to errf; returns 0 or 2. */
int preflight_run(const struct sweep *s, FILE *errf);

/* Print every problem to errf ("peftbench: N problems found before any training:" and
 * one indented line each); returns 2 when there were any, else 0. */
int preflight_print(const struct preflight *p, FILE *errf);

#endif
