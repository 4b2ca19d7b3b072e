/*
 * trial_id: the canonical text of a trial and its stable id.
 *
 * What the id covers, exactly (canonical text "peftbench-trial v2", one "key=value" line each,
 * values escaped: control characters and '\\' cannot forge a line) -- what can change a
 * recorded result, nothing else:
 *   - model=  the model's identity, not its spelling (harness/run/model_identity.h, passed
 *             in sweep_opts.model_identity): "pretrain:KEY" for builtin:NAME and for a
 *             directory built from that pretraining config (KEY its cache key), so
 *             builtin:tiny-bert and results/models/tiny-bert give one id; "files:HASH" of
 *             the content of config.json, model.safetensors and the vocabulary files for
 *             any other directory, so another checkpoint at the same path gives another id;
 *             "unresolved:MODEL" when neither can be read (no trial trains on such a
 *             model: preflight or the model's load reports it).  Without
 *             sweep_opts.model_identity (unit tests of the sweep file) the `model:` string
 *             as written;
 *   - task=   the task name, then for a file task every key of its declaration sorted by key
 *             (task.train=PATH, task.label=..., ...): paths as written, not file contents;
 *   - seed=;
 *   - train.F= every field of train_cfg (harness/sweep/train_cfg.c, in table order, reals as
 *             %.9g) except save_adapters, defaults included: epochs, batch_size,
 *             eval_batch_size, max_seq_len, lr, warmup_ratio, weight_decay, grad_clip,
 *             adam_beta1, adam_beta2, adam_eps, early_stopping, eval_test, max_train,
 *             max_dev, max_test, max_steps, dropout (and any field added to the table later);
 *   - method.I=NAME per composed method in order, then NAME.P= every hyperparameter of it in
 *             declaration order, defaults included (hp_format).
 * Not covered: save_adapters, --out and every other output option, --threads,
 * OMP_NUM_THREADS and BLAS settings, --quiet, --no-csv, --shard/--trial selection, the sweep
 * name and file path, data_dir / $PEFTBENCH_DATA, key and block order, `plots:`, the
 * binary's version (only key.path=value overrides count, through the values above).
 * Known gap: file-task data and a GLUE data_dir enter by path, not content.
 *
 * id: FNV-1a 64 of canonical as 16 lowercase hex digits.  It is not a
 * cryptographic hash: it identifies trials, it does not defend against
 * forged configs.  Ids are committed in results (results/baselines/), so
 * any change to the canonical text or the hash changes every id: bump the version line,
 * regenerate the baseline (`make nightly-baseline`) and say so in the change.
 */
#ifndef HARNESS_TRIAL_ID_H
#define HARNESS_TRIAL_ID_H

#include "harness/sweep/plan.h" /* struct sweep, struct trial, SWEEP_ID_LEN */

/* The id of a canonical text: FNV-1a 64, 16 lowercase hex digits + NUL into id. */
void sweep_hash_id(const char *canonical, char id[SWEEP_ID_LEN + 1]);

/* The canonical text of trial t of sweep s (its task, seed, train settings
 * and methods must be resolved): everything that defines it, nothing that
 * doesn't.  Owned by the caller; NULL on no memory. */
char *trial_canonical(const struct sweep *s, const struct trial *t);

#endif
