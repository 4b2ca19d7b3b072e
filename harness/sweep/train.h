/*
 * train: one trial's training loop and its measurements.
 *
 * AdamW with decoupled weight decay, linear warm-up then linear decay to 0
 * (HF get_linear_schedule_with_warmup), global-norm gradient clipping,
 * evaluation on dev after every epoch, best-epoch selection on the task's
 * primary metric (the trainable tensors of the best epoch are kept and
 * restored at the end), optional early stopping and test evaluation at the
 * best epoch.  A NaN/Inf loss or gradient, or an exploding gradient norm,
 * ends the trial as `diverged` with the step; a stop request (SIGINT/SIGTERM)
 * ends it as `interrupted` after the current step, and the caller records
 * nothing for it.
 */
#ifndef HARNESS_TRAIN_H
#define HARNESS_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "methods/method.h"
#include "model/engine/mem.h"
#include "model/arch/model.h"
#include "harness/sweep/sweep.h"
#include "harness/sweep/train_fault.h"
#include "tasks/batching.h"
#include "tasks/task.h"

#define TRAIN_MAX_EPOCHS 1000
#define TRAIN_EXPLODE_NORM 1e8 /* gradient norm above this counts as divergence */

enum trial_status { TRIAL_OK = 0, TRIAL_DIVERGED, TRIAL_FAILED, TRIAL_INTERRUPTED };
const char *trial_status_name(enum trial_status s);

struct epoch_log {
    int epoch;               /* 1-based */
    double train_loss;       /* mean over the epoch's steps */
    struct metric_result dev;
    double seconds;          /* wall time of the epoch (training + evaluation) */
};

struct train_result {
    enum trial_status status;
    long diverged_step;          /* 1-based step where divergence was seen, else 0 */
    char message[512];           /* failure or divergence detail */
    struct epoch_log *epochs;    /* owned: (nepochs) */
    int nepochs;
    int best_epoch;              /* 1-based, 0 when none */
    struct metric_result best_dev;
    bool has_test;
    struct metric_result test;
    double final_train_loss;
    long steps;
    double train_tokens_per_s;   /* real tokens / training time (forward+backward+update) */
    double eval_tokens_per_s;    /* real tokens / dev evaluation time */
    double merged_tokens_per_s;  /* dev evaluation with methods merged; NaN when not mergeable */
    bool merged_same_predictions;/* merged and unmerged dev predictions are identical */
    double train_seconds, eval_seconds;
    /* Training throughput as a ratio to the bare reference step (train_setup.ref) timed right
     * after a trial step on the same batch in this process: the median over ratio_pairs pairs
     * of t_reference / t_step (NaN without a reference).  A loaded or slower machine slows both
     * sides alike, so the ratio survives it where tokens/s does not. */
    double throughput_ratio;
    int ratio_pairs;
};

/* Progress report (called after every step and at each epoch end). */
struct train_progress {
    int epoch, epochs;
    long step, steps;            /* 1-based step of the trial and its total */
    double loss;                 /* this step's loss */
    double tokens_per_s;         /* training throughput so far */
    bool epoch_end;
    double dev_primary;          /* at epoch end */
};

struct train_setup {
    struct model *m;
    struct method_inst *mi;      /* the attached methods (merge for inference timing) */
    int nm;
    const struct task_data *td;
    const struct tok_split *train, *dev, *test; /* test may be NULL */
    const struct train_cfg *cfg;
    uint64_t seed;
    long fault_nan_step;         /* testing aid: poison the loss at this step (0 = off) */
    volatile sig_atomic_t *stop; /* set asynchronously to request a clean stop, or NULL */
    void (*progress)(void *user, const struct train_progress *p);
    void *user;
    /* The bare reference of throughput_ratio: the same backbone and head with no method and
     * the embedding LayerNorm trainable, so that its backward runs the input-gradient path
     * through every frozen layer (harness/bench "bare-bwd"); NULL = no ratio. */
    struct model *ref;
    const struct train_fault *fault; /* test-only faults (train_fault.h), NULL = none */
};

/* Reference steps per epoch, spread evenly over it (a few: each costs one bare step). */
#define TRAIN_REF_PAIRS_PER_EPOCH 10
#define TRAIN_REF_MAX_PAIRS 256 /* timer_median's limit; later pairs are not kept */

/* Train and evaluate.  Returns 0 with r->status telling how the trial ended
 * (ok, diverged, interrupted); a non-zero return is an error of the setup
 * (out of memory, invalid data) with e filled.  Free r with train_result_free. */
int train_run(const struct train_setup *s, struct train_result *r, struct err *e);
void train_result_free(struct train_result *r);

/* Learning rate at 1-based step of total with warmup steps (linear up, linear down). */
double train_lr_at(double lr, long step, long total, long warmup);

/* Evaluate split ts: predictions (class ids into pred, or values into pred_f) and
 * real tokens per second.  Exposed for `predict`. */
int train_predict(struct model *m, const struct tok_split *ts, int batch_size, bool regression,
                  int *pred, float *pred_f, float *logits_out, double *tokens_per_s,
                  struct err *e);

#endif
