/*
 * predict: `peftbench predict [MODEL] --adapter DIR --out FILE
 *              [--task NAME [--split dev] [--sweep FILE] | --input FILE [--text-col NAME]
 *               [--text-b-col NAME]] [--max-seq-len N] [--batch-size B] [--data-dir D]
 *              [--seed S --max-examples N] [--merged] [--strict]`
 *
 * Runs a saved backbone + adapter on a task split or on a TSV/JSONL file of texts.  DIR is
 * a peftbench adapter (`run` with save_adapters) or an HF PEFT directory (LoRA, IA3; see
 * methods/peft_format.h), told apart by its adapter_config.json.  What the adapter recorded
 * (methods/persist.h) is the default of every setting: MODEL (its base model; a directory or
 * builtin:NAME), the task, max_seq_len and the tokenizer's options; a flag that overrides one
 * of them is a warning on stderr, a task with another label set an error
 * (harness/run/predict_input.h).  S, N: the trial's seed and max_dev, to score the same
 * subsample the sweep did.
 *
 * Writes a TSV with a header row:
 *   id <TAB> logit_<label> ... (or value for regression) <TAB> predicted <TAB> gold
 * (labels by name when known, else by index; gold only for a labeled split).  Logits are
 * printed with %.9g, enough to round-trip a float.  With gold labels the task metrics are
 * printed on stdout.  --merged folds mergeable methods into the weights first (the
 * predictions must not change).  NaN/Inf values in the loaded backbone or adapter are a
 * warning on stderr naming the file and tensor; with --strict an error.
 *
 * Exit status: 0 done; 2 a usage error or unusable input found before predicting (the
 * adapter, model, task, labels or data); 1 --strict refusing non-finite weights, or a
 * failure while predicting or writing FILE.
 */
#ifndef HARNESS_PREDICT_H
#define HARNESS_PREDICT_H

#include <stdio.h>

int predict_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
