/*
 * train_fault: the test-only fault switches of the nightly self-test (`make nightly-selftest`,
 * README "Nightly regression check").  Each one plants a regression of the kind the nightly
 * must catch, so that the check is proven to catch it:
 *
 *   PEFTBENCH_FAULT_FREEZE=<method>          the method's tensors get no optimizer update
 *                                            (gradients are still computed: a silent bug);
 *   PEFTBENCH_FAULT_SLOW_HOOK=<method>:<f>   every hook the method owns busy-waits f times its
 *                                            own measured duration after running (f = 0.3: the
 *                                            hook 30% slower, not the step);
 *   PEFTBENCH_FAULT_GROW_ACT=<f>             each training step reserves and touches f times
 *                                            more activation memory than it needs (f = 0.2).
 *
 * Why here: the environment is read only by the harness (train_fault_from_env, called by `run`);
 * the parsed switches travel down as train_setup.fault, and the training loop applies them
 * through train_fault_run.  A bad value is unusable input: `run` exits 2 with the message.
 * Never set these outside tests: results recorded under a fault look like ordinary results
 * (a warning is printed at the start of the run).
 */
#ifndef HARNESS_TRAIN_FAULT_H
#define HARNESS_TRAIN_FAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "methods/method.h"
#include "model/arch/model.h"

#define TRAIN_FAULT_NAME_MAX 32
#define TRAIN_FAULT_MAX_FRAC 10.0 /* largest slow-down or growth fraction accepted */

struct train_fault {
    char freeze[TRAIN_FAULT_NAME_MAX]; /* method whose tensors are not updated; "" = off */
    char slow[TRAIN_FAULT_NAME_MAX];   /* method whose hooks are slowed; "" = off */
    double slow_frac;                  /* extra busy time / the hook's own time */
    double grow_act;                   /* extra activation memory / the step's need; 0 = off */
};

/* Parse the three switches' values (each NULL or "" = off) into f.  Errors (ERR_CONFIG, the
 * message naming the variable): an unknown method, a missing or malformed fraction, a fraction
 * outside (0, TRAIN_FAULT_MAX_FRAC]. */
int train_fault_parse(struct train_fault *f, const char *freeze, const char *slow_hook,
                      const char *grow_act, struct err *e);
/* The same from the environment variables. */
int train_fault_from_env(struct train_fault *f, struct err *e);
/* Whether any switch is on; describe writes e.g. "FREEZE=lora SLOW_HOOK=lora:0.3" into buf. */
bool train_fault_any(const struct train_fault *f);
void train_fault_describe(const struct train_fault *f, char *buf, size_t n);

/* ---- applying them in one trial (harness/sweep/train.c) ---- */

struct slow_wrap;

struct train_fault_run {
    const struct train_fault *f;  /* borrowed; NULL = nothing to do */
    struct model *m;              /* borrowed */
    struct param **frozen;        /* (nfrozen) tensors kept from updates */
    float **saved;                /* (nfrozen) their values before the update */
    size_t nfrozen;
    struct slow_wrap *wraps;      /* (nwraps) the slowed hooks' originals */
    int nwraps;
    size_t act_need;              /* largest activation use of a step without the fault */
    size_t act_high;              /* arena high-water mark saved around a step */
};

/* Apply f (may be NULL) to m with its attached methods: wrap the slowed hooks, pick the frozen
 * tensors.  Undo with train_fault_end (before merging: merge finds its hooks by function). */
int train_fault_begin(struct train_fault_run *r, const struct train_fault *f, struct model *m,
                      const struct method_inst *mi, int nm, struct err *e);
void train_fault_end(struct train_fault_run *r);
/* Around the optimizer update: keep the frozen tensors' values. */
void train_fault_before_update(struct train_fault_run *r);
void train_fault_after_update(struct train_fault_run *r);
/* Around a training step's forward and backward: measure the step's own activation need, then
 * grow the arena's use to (1 + grow_act) times the largest need seen, touching every page. */
void train_fault_step_begin(struct train_fault_run *r);
int train_fault_step_end(struct train_fault_run *r, struct err *e);

#endif
