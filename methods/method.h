/*
 * method: the PEFT method plug-in interface (see DESIGN.md, "Hook sites").
 *
 * Each method file exports exactly one `const struct method_ops <x>_method`
 * and registry.c lists them.  A method instance is created on a model: it
 * registers its own tensors in the model's parameter store (group
 * PGROUP_METHOD, names "<method>.<HF module name>.<tensor>", e.g.
 * "lora.encoder.layer.0.attention.self.query.lora_A"), makes base tensors
 * trainable where the method says so (full, bitfit, train_layernorm),
 * initialises its tensors from the trial seed, and installs hooks (model/arch/hooks.h).
 * Several instances may be attached to one model (composition); they run in
 * creation order at a shared site and in reverse in the backward.
 *
 * Generic save/load (methods/persist.c) stores every PGROUP_METHOD tensor,
 * every trainable backbone tensor and the head: methods need no save code.
 */
#ifndef METHODS_METHOD_H
#define METHODS_METHOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/schema.h"
#include "base/err.h"
#include "model/arch/model.h"

#define METHOD_ABI 1

/* A method's published training settings (see `peftbench methods` and the
 * README's "Per-method training defaults").  The harness applies them under
 * whatever the user sets (harness/sweep/train_resolve.h gives the precedence).
 * Each field is optional: lr/epochs 0 and has_* false mean "no default: use
 * the harness's global one". */
struct method_train {
    double lr;                 /* peak learning rate (0 = none) */
    int epochs;                /* 0 = none */
    bool has_warmup_ratio;
    double warmup_ratio;       /* fraction of the steps warmed up linearly */
    bool has_weight_decay;
    double weight_decay;       /* AdamW decoupled weight decay */
    const char *source;        /* where the values come from (paper/table or code) */
};

struct method_ops {
    const char *name;    /* YAML name, e.g. "lora" */
    int abi;             /* METHOD_ABI */
    const char *summary; /* one line for `peftbench methods` */
    const char *source;  /* which definition the defaults follow, e.g. "AdapterHub seq_bn" */
    struct method_train train; /* published training settings with their source */
    const struct hp_def *hps;
    int nhps;
    /* Cross-field and model-dependent checks (e.g. phm_dim divides D) (optional). */
    int (*check)(const struct hp_values *hp, const struct model *m, struct err *e);
    /* Create an instance on m: register + init tensors, set trainability, install hooks.
     * *state receives the instance (owned; freed by destroy). */
    int (*create)(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                  struct err *e);
    /* Free the instance (its tensors belong to the model's store). NULL-safe. */
    void (*destroy)(void *state);
    /* Fold into the base weights / switch to the inference form so that the outputs
     * are unchanged and the method's hooks cost nothing (optional). */
    int (*merge)(void *state, struct model *m, struct err *e);
    /* Undo merge, restoring the base weights (optional, with merge). */
    int (*unmerge)(void *state, struct model *m, struct err *e);
    /* Parameters a trained instance needs at inference, when it differs from the trainable
     * count (prefix tuning drops its MLP) (optional). */
    size_t (*stored_params)(const void *state, const struct model *m);
    /* Closed-form count of the trainable parameters the method adds or unfreezes
     * (task head excluded) for a model of config c: METHODS.md's formulas.  Tests check it
     * against the tensors create() really registers. */
    size_t (*count)(const struct hp_values *hp, const struct bert_config *c);
    /* True when, at initialisation, the model's outputs equal the bare backbone's
     * (LoRA, IA3, zero-up adapter inits) (optional: NULL = never). */
    bool (*identity_at_init)(const struct hp_values *hp);
    /* Settings exercised by the registry-driven tests, NULL-terminated; each is
     * "key=value;key=value" ("" = the defaults).  Sets use ',' inside a value. */
    const char *const *examples;
};

/* A created instance, as the harness keeps it. */
struct method_inst {
    const struct method_ops *ops; /* borrowed: static table */
    struct hp_values hp;
    void *state;                  /* owned by the method */
    bool merged;
};

#endif
