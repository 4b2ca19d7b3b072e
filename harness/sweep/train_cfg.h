/*
 * train_cfg: a trial's train settings (epochs, batch sizes, optimizer,
 * caps), their defaults, and the schema that reads them from YAML.
 *
 * Values are typed by the schema, never by YAML: integers are decimal,
 * reals finite, booleans exactly true/false, each checked against its
 * range.  Every setting is also formatted back to text (%.9g for reals)
 * for the canonical trial text (harness/sweep/trial_id.h), so the table
 * order is part of every trial id: append new settings, never reorder.
 */
#ifndef HARNESS_TRAIN_CFG_H
#define HARNESS_TRAIN_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct ynode;

struct train_cfg {
    int epochs;           /* 3 */
    int batch_size;       /* 32 */
    int eval_batch_size;  /* 64 */
    int max_seq_len;      /* 128 */
    double lr;            /* 1e-3 */
    double warmup_ratio;  /* 0.06 */
    double weight_decay;  /* 0.0 */
    double grad_clip;     /* 1.0 (0 = off) */
    double adam_beta1, adam_beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
    int early_stopping;   /* patience in epochs, 0 = off */
    bool eval_test;       /* also evaluate the test split at the best epoch */
    int max_train, max_dev, max_test; /* example caps (0 = all) */
    int max_steps;        /* stop after this many optimizer steps (0 = off) */
    bool save_adapters;   /* keep trained method tensors under adapters/<trial_id>/ */
    double dropout;       /* override the model's dropout (< 0: keep the config's) */
    int precision;        /* enum matmul_prec: fp32 (default) or bf16 (model/arch/precision.h) */
};

/* A set of train settings: bit f is field f (train_cfg_field_index). */
typedef uint32_t train_mask;
#define TRAIN_BIT(f) ((train_mask)1 << (f))

/* Defaults for train settings. */
void train_cfg_default(struct train_cfg *t);

/* Number of settings in the schema table (fields are numbered 0..n-1). */
int train_cfg_nfields(void);
/* YAML name of field f ("lr"). */
const char *train_cfg_field_name(int f);
/* Field number of a YAML name, or -1. */
int train_cfg_field_index(const char *name);

/* Error for an unknown train key (node key) in what ("train"), with a
 * did-you-mean and the valid keys; returns the code. */
int train_cfg_unknown_key(struct err *e, const struct ynode *key, const char *what);

/* Parse value node v for field f into t.  ctx names the setting ("train");
 * hint is appended to the message when v is a list. */
int train_cfg_set(struct train_cfg *t, int f, const struct ynode *v, const char *ctx,
                  const char *hint, struct err *e);

/* Field f of t as text into buf: "%d", "%.9g", "true"/"false" or "fp32"/"bf16". */
void train_cfg_format(const struct train_cfg *t, int f, char *buf, size_t size);

/* Copy the fields in mask from src into dst. */
void train_cfg_copy(struct train_cfg *dst, const struct train_cfg *src, train_mask mask);

/* Parse the top-level `train:` mapping tr over t (settings not given keep
 * their value; lists are refused: they are axes only in a method block).
 * *given gets the fields tr sets, *cli those whose value came from a
 * command-line override (a node without a file position); either may be NULL. */
int train_cfg_parse(struct train_cfg *t, const struct ynode *tr, train_mask *given,
                    train_mask *cli, struct err *e);

#endif
