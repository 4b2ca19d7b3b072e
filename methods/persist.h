/*
 * persist: save and load trained method parameters, and what the trial that trained them
 * knew (so that `predict` needs no flag to repeat it).
 *
 * peftbench's own format:
 *   DIR/adapter_config.json   {"format": "peftbench-adapter", "version": 2,
 *                              "num_labels": C, "methods": [{"method": "lora",
 *                              "hparams": {"rank": "8", ...}}, ...],
 *                              + the recorded settings below (version 2)}
 *   DIR/adapter.safetensors   every method tensor (PGROUP_METHOD), every
 *                             trainable backbone tensor (bitfit biases, full,
 *                             train_layernorm) and the task head, by name.
 * Recorded settings (each optional; version 1 adapters have none of them):
 *   "base_model"      the backbone directory the trial loaded (absolute when it could be
 *                     resolved), "base_model_spec" the sweep's spelling ("builtin:tiny-bert"),
 *   "task", "task_kind" ("single" | "pair" | "regression"), "task_pair" (texts come in pairs),
 *   "sweep_file"      the sweep file declaring the task when it is a file task,
 *   "label_names"     [C strings] in class-id order (absent for regression),
 *   "max_seq_len",
 *   "tokenizer"       {"kind": "wordpiece", "vocab_size": V, "lowercase", "strip_accents",
 *                      "tokenize_chinese"} or {"kind": "bpe", "vocab_size": V,
 *                      "add_prefix_space"}.
 *
 * A directory in HF PEFT's layout (methods/peft_format.h: adapter_config.json with a
 * "peft_type") is read too: persist_read_meta and persist_load tell the two apart by the
 * config's content.  Beside a PEFT export the recorded settings live in DIR/peftbench.json
 * ({"format": "peftbench-meta", "version": 1, "num_labels": C, + the keys above}), a file
 * PEFT ignores: older PEFT versions refuse unknown keys in adapter_config.json (newer ones
 * drop them with a warning).
 *
 * Loading recreates the methods on a model built from the same backbone,
 * then overwrites the tensors; any tensor in the file that the recreated
 * model lacks, or with another shape, is an error naming it.
 */
#ifndef METHODS_PERSIST_H
#define METHODS_PERSIST_H

#include <stdbool.h>

#include "methods/method.h"
#include "model/text/tokenizer.h"

#define PERSIST_MAX_METHODS 8
#define PERSIST_PATH_MAX    4096
#define PERSIST_MAX_LABELS  1024 /* num_labels above this names the file (the file tasks' limit) */
#define PERSIST_CONFIG_NAME "adapter_config.json"
#define PERSIST_META_NAME   "peftbench.json" /* the recorded settings beside a PEFT export */

enum persist_format { PERSIST_NATIVE = 0, PERSIST_PEFT };

/* An adapter directory's description.  Empty strings, 0, -1 and NULL mean "not recorded". */
struct persist_meta {
    /* filled by persist_read_meta only (persist_save_meta takes them from the model) */
    enum persist_format format;
    int version;    /* of the native config; 0 for PEFT */
    int num_labels; /* the head's width C (1: regression) */
    int nmethods;
    char methods[PERSIST_MAX_METHODS][32]; /* method names in composition order */
    /* the recorded settings */
    char base_model[PERSIST_PATH_MAX];      /* backbone directory */
    char base_model_spec[PERSIST_PATH_MAX]; /* "builtin:NAME" or the path as written */
    char task[64];
    char task_kind[16];                /* "single" | "pair" | "regression" */
    int task_pair;                     /* 1 pairs of texts, 0 single texts, -1 unknown */
    char sweep_file[PERSIST_PATH_MAX]; /* declares task when it is a file task */
    int max_seq_len;
    char **label_names; /* (num_labels) or NULL: owned after persist_read_meta (free with
                           persist_meta_free); borrowed when given to persist_save_meta */
    bool has_tokenizer;
    bool tok_bpe;              /* byte-level BPE, else WordPiece */
    struct tokenizer_opts tok; /* BPE: add_prefix_space only */
    int vocab_size;
};

/* Zero everything, with the "not recorded" values. */
void persist_meta_init(struct persist_meta *meta);
/* Free the label names persist_read_meta allocated; leaves meta initialised. */
void persist_meta_free(struct persist_meta *meta);

/* Write both files atomically (tmp + fsync + rename); creates dir.  The recorded settings
 * come from meta (NULL: none); num_labels from m. */
int persist_save_meta(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                      const struct persist_meta *meta, struct err *e);
/* persist_save_meta without recorded settings. */
int persist_save(const char *dir, const struct model *m, const struct method_inst *mi, int n,
                 struct err *e);

/* Read DIR/adapter_config.json (either format) and, beside a PEFT one, DIR/peftbench.json
 * when present, into *meta (initialised first), without building anything.  Every message
 * names the file and the key: a missing directory or config, malformed JSON, a key of the
 * wrong type, num_labels outside [1, PERSIST_MAX_LABELS], label_names not matching it, a
 * version newer than this reader.  For PEFT, num_labels is the classifier's width in
 * adapter_model.safetensors (an adapter without the classifier is ERR_UNSUPPORTED: its
 * predictions would come from an untrained head). */
int persist_read_meta(const char *dir, struct persist_meta *meta, struct err *e);

/* The head width C of DIR's adapter (persist_read_meta without the rest). */
int persist_read_num_labels(const char *dir, int *C, struct err *e);

/* Write DIR/peftbench.json (the recorded settings of meta, and meta->num_labels). */
int persist_save_sidecar(const char *dir, const struct persist_meta *meta, struct err *e);

/* Recreate the saved methods on m (fresh, no methods attached) and load their
 * tensors; mi receives up to PERSIST_MAX_METHODS instances, *n their count.
 * A PEFT directory gives one lora or ia3 instance (peft_load).
 * Loaded tensors holding NaN/Inf are added to m->load_warning (model.h). */
int persist_load(const char *dir, struct model *m, struct method_inst *mi, int *n, uint64_t seed,
                 struct err *e);

#endif
