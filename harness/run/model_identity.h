/*
 * model_identity: what a sweep's `model:` is, as opposed to how it is spelled, for trial
 * ids (harness/sweep/trial_id.h): two spellings of one checkpoint give one id, and another
 * checkpoint at the same path gives another.
 *
 * Why in harness/run and not in harness/sweep: a builtin model's identity is its
 * pretraining config's cache key (harness/pretrain/config.h), and harness/pretrain already
 * uses harness/sweep; the sweep loader takes this function through sweep_opts instead.
 */
#ifndef HARNESS_RUN_MODEL_IDENTITY_H
#define HARNESS_RUN_MODEL_IDENTITY_H

#include <stddef.h>

/* The identity of model (a sweep's `model:` string) into out (never fails):
 *  - "pretrain:KEY" for builtin:NAME, KEY the cache key of configs/pretrain/NAME.yaml
 *    (computed from the config, nothing built), and for a directory holding a complete
 *    build whose pretrain_stats.json records config_hash KEY (so builtin:tiny-bert and
 *    results/models/tiny-bert are one model);
 *  - "files:HASH" for any other directory: FNV-1a 64 over the names, sizes and contents of
 *    config.json, model.safetensors, vocab.txt, vocab.json and merges.txt (those present);
 *    content, not size and time, so a different checkpoint at the same path differs;
 *  - "unresolved:MODEL" when neither can be read (a missing config, directory or weights
 *    file: `run` and `plan` report that before any trial, so no record carries it). */
void model_identity(const char *model, char *out, size_t n);

#endif
