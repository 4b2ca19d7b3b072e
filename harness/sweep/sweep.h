/*
 * sweep: a YAML sweep file, parsed against its schema and expanded into trials.
 *
 *   sweep: lora-rank                      # name (results/<name>/)
 *   model: builtin:tiny-bert              # or a Hugging Face model directory
 *   data_dir: /path/to/glue               # optional (else $PEFTBENCH_DATA)
 *   tasks: [wn-supersense, sst2]          # registry names, or {name:, path:, ...} file tasks
 *   seeds: [1, 2, 3]
 *   train: {epochs: 3, batch_size: 32, max_seq_len: 128, lr: 1.0e-3, ...}
 *   max_trials: 1000
 *   methods:
 *     - {method: lora, rank: [1, 2, 4], alpha: 16, targets: [[q, v], [q, k, v, o]]}
 *     - {methods: [prefix, parallel], prefix_length: 16, parallel.scaling: 2}
 *     - {method: full, train: {lr: [2.0e-5, 5.0e-5]}}
 *     - {method: lora, rank: [4, 8], alpha: [8, 16], zip: [[rank, alpha]]}
 *   plots: [...]                          # kept as raw YAML for the figures module
 *
 * A list inside a method block is a grid axis (for a list-typed
 * hyperparameter such as targets, a list of lists); `zip` groups axes that
 * vary together.  Trials = Σ_blocks Π_axes × tasks × seeds, computed with
 * overflow checks before expansion and refused above max_trials unless
 * allow_large.  Each trial has a stable id: a hash of its canonical resolved
 * configuration, independent of file layout and order.
 *
 * Schema details (top level in harness/sweep/sweep.c, train settings in
 * train_cfg.c, method blocks in sweep_block.c, expansion in sweep_expand.c,
 * canonical text and id in trial_id.c):
 *   - Required: model, tasks, methods.  `sweep` defaults to the file name
 *     without its extension; seeds default to [SWEEP_DEFAULT_SEED];
 *     max_trials to SWEEP_DEFAULT_MAX_TRIALS.  `include` and the YAML limits
 *     are handled by harness/yaml/yaml.h (included files first, the including
 *     file on top; later keys win).
 *   - Values are typed by the schema, never by YAML: train settings parse
 *     their text strictly (integers are decimal, booleans exactly true/false);
 *     hyperparameter values go to method_parse as text with their position.
 *   - tasks: registry names (checked with task_lookup) or file tasks
 *     {name:, path: | train:, ...}; a file task name may not shadow a
 *     registered task.  Duplicate tasks or seeds are errors; at most
 *     SWEEP_MAX_TASKS tasks and SWEEP_MAX_SEEDS seeds.
 *   - A method block is {method: NAME, ...} or {methods: [A, B], ...} or the
 *     shorthand NAME.  Its other keys are hyperparameters: unqualified when
 *     exactly one composed method declares the name, else qualified
 *     ("parallel.scaling") or nested (`parallel: {scaling: 2}`); `train:`
 *     overrides train settings (lists = axes); `tune:` lists train settings
 *     to select on dev (axes marked tuned); a trial's train settings follow
 *     the precedence of harness/sweep/train_resolve.h (command line > block >
 *     sweep > method default > global); `zip: [[a, b], ...]` (or the
 *     flat `zip: [a, b]` for one group) names axes of equal length that vary
 *     together ("train.lr" names a train axis).
 *   - Grid order: one dimension per free axis and one per zip group, in the
 *     order the keys appear in the block (a zip group where its first member
 *     appears); the last dimension varies fastest.  Plan order: blocks in
 *     file order, grid points, tasks, seeds.
 *   - canonical (version line "peftbench-trial v1"): model, task, file-task
 *     fields sorted by key, seed, every train setting (%.9g for reals), then
 *     each method in composition order with all its hyperparameters,
 *     defaults included, in declaration order (hp_format).  Control
 *     characters and '\' in values are escaped.  Not included: the sweep
 *     name, the file path, data_dir, key order, block order.
 *   - id: FNV-1a 64 of canonical as 16 lowercase hex digits.  It is not a
 *     cryptographic hash: it identifies trials, it does not defend against
 *     forged configs.  Two trials of one sweep with the same id are an error
 *     naming both blocks (a repeated axis value or overlapping blocks),
 *     not silently deduplicated.
 */
#ifndef HARNESS_SWEEP_H
#define HARNESS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "methods/method.h"
#include "base/err.h"
#include "harness/sweep/plan.h"


/* Parse, validate and expand a sweep file.  Every error names the file,
 * line and column, what was expected and what was found. */
int sweep_load(struct sweep *s, const char *path, const struct sweep_opts *o, struct err *e);


#endif
