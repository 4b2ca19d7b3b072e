/*
 * persist: save and load trained method parameters (peftbench's own format).
 *
 *   DIR/adapter_config.json   {"format": "peftbench-adapter", "version": 1,
 *                              "num_labels": C, "methods": [{"method": "lora",
 *                              "hparams": {"rank": "8", ...}}, ...]}
 *   DIR/adapter.safetensors   every method tensor (PGROUP_METHOD), every
 *                             trainable backbone tensor (bitfit biases, full,
 *                             train_layernorm) and the task head, by name.
 *
 * Loading recreates the methods on a model built from the same backbone,
 * then overwrites the tensors; any tensor in the file that the recreated
 * model lacks, or with another shape, is an error naming it.
 */
#ifndef METHODS_PERSIST_H
#define METHODS_PERSIST_H

#include "methods/method.h"

#define PERSIST_MAX_METHODS 8

/* Write both files atomically (tmp + fsync + rename); creates dir. */
int persist_save(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                 struct err *e);

/* Recreate the saved methods on m (fresh, no methods attached) and load their
 * tensors; mi receives up to PERSIST_MAX_METHODS instances, *n their count.
 * Loaded tensors holding NaN/Inf are added to m->load_warning (model.h). */
int persist_load(const char *dir, struct model *m, struct method_inst *mi, int *n,
                 uint64_t seed, struct err *e);

#endif
