/*
 * trial_id: the canonical text of a trial and its stable id.
 *
 * canonical (version line "peftbench-trial v1"): model, task, file-task
 * fields sorted by key, seed, every train setting (%.9g for reals), then
 * each method in composition order with all its hyperparameters, defaults
 * included, in declaration order (hp_format).  Control characters and '\'
 * in values are escaped.  Not included: the sweep name, the file path,
 * data_dir, key order, block order.
 *
 * id: FNV-1a 64 of canonical as 16 lowercase hex digits.  It is not a
 * cryptographic hash: it identifies trials, it does not defend against
 * forged configs.  Ids are committed in results (results/baselines/), so
 * any change to the canonical text or the hash changes every id: don't.
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
