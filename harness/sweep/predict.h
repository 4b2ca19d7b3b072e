/*
 * predict: `peftbench predict MODEL_DIR --adapter DIR (--task NAME [--split dev] | --input FILE)
 *           --out FILE [--merged] [--data-dir D] [--max-seq-len N] [--batch-size B]
 *           [--seed S --max-examples N] [--strict]`  (S, N: the trial's seed and max_dev, to
 *           score the same subsample the sweep did)
 *
 * NaN/Inf values in the loaded backbone or adapter are a warning on stderr naming the
 * file and tensor; with --strict they are an error (exit 1).
 *
 * Runs a saved backbone + adapter (methods/persist.h) on a task split or on a
 * TSV/JSONL file of texts and writes one line per example:
 *   id <TAB> logit_0 ... logit_{C-1} (or the regression value) <TAB> predicted label <TAB> gold
 * Logits are printed with %.9g, enough to round-trip a float.  With gold labels the task
 * metrics are printed too.  --merged folds mergeable methods into the weights first
 * (the predictions must not change).
 */
#ifndef HARNESS_PREDICT_H
#define HARNESS_PREDICT_H

#include <stdio.h>

int predict_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
