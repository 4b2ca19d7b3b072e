/*
 * adapter_dir: a saved adapter directory as the commands see it.
 *
 * `predict` and `export` find the backbone an adapter names (adapter_resolve_model), build it
 * with the adapter on top (adapter_load_model), and tokenize with the settings it was trained
 * with (adapter_tokenizer).  What `run` records for them: harness/run/adapter_record.h.
 *
 * The functions that take errf print their own messages, as `peftbench CMD: ...`, and
 * warnings as `peftbench CMD: warning: ...`.
 */
#ifndef HARNESS_ADAPTER_DIR_H
#define HARNESS_ADAPTER_DIR_H

#include <stddef.h>
#include <stdio.h>

#include "methods/persist.h"
#include "model/text/tokenizer.h"

/* The backbone directory into dir (n bytes): model_arg when given (a directory or
 * builtin:NAME, resolved as `run` does, with a warning when it is not the recorded base
 * model); else the recorded base model (meta, then ADAPTER/base_model.txt of older
 * adapters).  Returns 0, or 2 after printing why there is none. */
int adapter_resolve_model(const char *cmd, const char *adapter, const struct persist_meta *meta,
                          const char *model_arg, char *dir, size_t n, FILE *errf);

/* Build the model of model_dir with a head of meta->num_labels outputs and load the adapter
 * (either format) on it; *nm methods into mi (PERSIST_MAX_METHODS).  On failure m is
 * destroyed. */
int adapter_load_model(const char *adapter, const struct persist_meta *meta, const char *model_dir,
                       struct model *m, struct method_inst *mi, int *nm, struct mem_acct *acct,
                       struct err *e);

/* The tokenizer of model_dir with the adapter's recorded settings: when the model's own
 * tokenizer_config.json asks for other options, a warning names each one and the recorded
 * ones are used; another vocabulary size is a warning; another kind (WordPiece vs BPE) is
 * an error.  Nothing recorded: the model's tokenizer as is. */
int adapter_tokenizer(const char *cmd, struct tokenizer **tok, const char *model_dir,
                      const struct persist_meta *meta, FILE *errf, struct err *e);

#endif
