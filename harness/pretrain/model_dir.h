/*
 * pretrain model directory: the files of a built model (step 6 of pretrain.h), a Hugging
 * Face BertForMaskedLM directory that the rest of peftbench (and transformers) loads:
 * config.json, model.safetensors (the encoder as "bert.*", the MLM head as
 * "cls.predictions.*"), vocab.txt, and PRETRAIN_STATS with the config, its cache key and
 * what the build measured.
 */
#ifndef HARNESS_PRETRAIN_MODEL_DIR_H
#define HARNESS_PRETRAIN_MODEL_DIR_H

#include "base/err.h"
#include "harness/pretrain/build_opts.h"

#define PRETRAIN_STATS "pretrain_stats.json"

struct pt;

/* Write the files of the build p, with its statistics st, into the existing directory
 * dir.  PRETRAIN_STATS is written last: its presence (with the right config_hash) marks
 * a complete directory. */
int pt_write_dir(const struct pt *p, const char *dir, const struct pretrain_stats *st,
                 struct err *e);

#endif
