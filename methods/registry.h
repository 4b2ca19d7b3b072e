/*
 * registry: the static table of PEFT methods and the operations on it.
 */
#ifndef METHODS_REGISTRY_H
#define METHODS_REGISTRY_H

#include <stdio.h>

#include "methods/method.h"

/* Number of methods and the i-th one, in table order. */
int registry_count(void);
const struct method_ops *registry_at(int i);

/* The method called name, or NULL. */
const struct method_ops *method_find(const char *name);

/* NULL-safe lookup with an error listing the valid names and a did-you-mean. */
const struct method_ops *method_lookup(const char *name, const char *where, struct err *e);

/* Validate key/value hyperparameters for a method on model m (m may be NULL:
 * only the model-independent checks then). */
int method_parse(const struct method_ops *ops, struct hp_values *out, const struct hp_kv *kv,
                 int nkv, const struct model *m, struct err *e);

/* Create an instance (validating hp against m first). */
int method_create(struct method_inst *mi, const struct method_ops *ops,
                  const struct hp_values *hp, struct model *m, uint64_t seed, struct err *e);
void method_destroy(struct method_inst *mi);

/* Merge / unmerge when the method supports it (ERR_UNSUPPORTED otherwise). */
int method_merge(struct method_inst *mi, struct model *m, struct err *e);
int method_unmerge(struct method_inst *mi, struct model *m, struct err *e);

/* A method's published train settings as text ("lr 0.0005, weight_decay 0.1"), or
 * "(none: ...)" when it declares none; returns buf. */
const char *method_train_text(const struct method_train *t, char *buf, size_t size);

/* Print every method with its hyperparameters, defaults, ranges and docs. */
void registry_print(FILE *out);
/* The same for one method (integer ranges printed as integers). */
void method_print(FILE *out, const struct method_ops *m);

#endif
