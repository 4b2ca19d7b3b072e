/*
 * adapter_record: what `run` records beside a trial's adapter (methods/persist.h holds the
 * format), so that `predict` needs no flag to repeat the trial's evaluation
 * (harness/run/adapter_dir.h reads it back).
 */
#ifndef HARNESS_ADAPTER_RECORD_H
#define HARNESS_ADAPTER_RECORD_H

#include "methods/persist.h"
#include "model/text/tokenizer.h"
#include "tasks/task.h"

/* Fill meta (initialised first) with what a trial knows: the model as the sweep spelt it
 * (model_spec) and its directory (absolute when it resolves), the task and its kind, pair
 * flag and label names (borrowed from td: keep td alive until the save), the sweep file when
 * the task is a file task (sweep_file, or NULL; absolute when it resolves), max_seq_len and
 * tok's settings (tok NULL: none recorded). */
void adapter_meta_record(struct persist_meta *meta, const char *model_spec, const char *model_dir,
                         const char *task, const struct task_data *td, const char *sweep_file,
                         int max_seq_len, const struct tokenizer *tok);

#endif
