/*
 * trial_id: the canonical text of a trial and its stable id.
 *
 * What the id covers, exactly (canonical text "peftbench-trial v1", one "key=value" line each,
 * values escaped: control characters and '\\' cannot forge a line):
 *   - model=  the sweep's `model:` string as written (after overrides), e.g. builtin:tiny-bert
 *             or a directory path: its spelling, not the checkpoint's content;
 *   - task=   the task name, then for a file task every key of its declaration sorted by key
 *             (task.train=PATH, task.label=..., ...): paths as written, not file contents;
 *   - seed=;
 *   - train.F= every field of train_cfg (harness/sweep/train_cfg.c, in table order, reals as
 *             %.9g), defaults included: epochs, batch_size, eval_batch_size, max_seq_len, lr,
 *             warmup_ratio, weight_decay, grad_clip, adam_beta1, adam_beta2, adam_eps,
 *             early_stopping, eval_test, max_train, max_dev, max_test, max_steps,
 *             save_adapters, dropout;
 *   - method.I=NAME per composed method in order, then NAME.P= every hyperparameter of it in
 *             declaration order, defaults included (hp_format).
 * Not covered: the sweep name and file path, data_dir / $PEFTBENCH_DATA, key and block order,
 * `plots:`, the --threads count and OpenMP/BLAS settings, --out and other command-line
 * options (only key.path=value overrides, through the values above), the binary's version.
 *
 * Known gaps (issue 16 §3, not done yet because fixing them changes every id and requires
 * regenerating results/baselines/nightly.csv): save_adapters (an output option that cannot
 * change a recorded result) still enters the id, and the model enters by spelling, so builtin:tiny-bert and results/models/tiny-bert give different ids while a
 * different checkpoint at the same path gives the same one.
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
