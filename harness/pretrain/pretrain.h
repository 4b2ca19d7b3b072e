/*
 * pretrain: `peftbench pretrain CONFIG.yaml` and the built-in model cache.
 *
 * Masked-language-model pretraining of a BERT encoder from scratch:
 *   1. corpus: WordNet glosses and examples (wn_corpus; "wordnet-train" keeps only the
 *      synsets of the tasks' train split) or a plain-text file, one document per line;
 *      a fixed hash of each line's text puts heldout_fraction of them aside for the
 *      held-out MLM evaluation;
 *   2. vocabulary: a WordPiece vocabulary trained on the training lines (model/text/vocab_build.h);
 *   3. model: a randomly initialised BERT (config.model) with the MLM head of model/arch/mlm.h
 *      (decoder tied to the word embeddings);
 *   4. training: config.train.steps AdamW steps on shuffled, length-bucketed batches of
 *      single lines ([CLS] line [SEP], truncated to max_seq_len), 15% masking with the
 *      80/10/10 rule, linear warm-up and linear decay, gradient clipping;
 *   5. evaluation: MLM loss and accuracy on the held-out lines with fixed masks, before
 *      and after training;
 *   6. output: a Hugging Face model directory (config.json, model.safetensors with the
 *      BertForMaskedLM names "bert.*" + "cls.predictions.*", vocab.txt) and
 *      pretrain_stats.json, written into DIR.tmp-PID and renamed to DIR only when
 *      complete: DIR is never half-written, and an interrupted run leaves the previous
 *      DIR (if any) untouched.
 *
 * This header is the room's public entry point; the parts live in harness/pretrain/:
 *   config.h     the YAML config, its defaults and validation, the cache key;
 *   corpus.h     step 1's lines of text (WordNet or a file);
 *   data.h       steps 1-2: held-out split, vocabulary, tokenized sequences;
 *   mlm_train.h  steps 3-5: model, MLM training loop, held-out evaluation;
 *   model_dir.h  step 6's files;
 *   publish.h    step 6's atomic replacement of DIR;
 *   build.h      pretrain_build: the steps in order (state in build_state.h);
 *   cache.h      reuse of a current DIR, the build lock;
 *   command.h    `peftbench pretrain` and builtin:NAME.
 *
 * Determinism: the same config, seed and thread count give bit-identical files.
 */
#ifndef HARNESS_PRETRAIN_H
#define HARNESS_PRETRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "harness/pretrain/build.h"
#include "harness/pretrain/cache.h"
#include "harness/pretrain/command.h"
#include "harness/pretrain/config.h"
#include "harness/pretrain/model_dir.h"

#endif
