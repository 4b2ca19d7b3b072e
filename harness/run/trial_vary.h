/* trial_vary: the settings that tell a trial apart from the others of its sweep, for the
 * progress lines of `run` ("lora rank=8 lr=0.001" rather than every default). */
#ifndef HARNESS_RUN_TRIAL_VARY_H
#define HARNESS_RUN_TRIAL_VARY_H

#include <stddef.h>

#include "harness/sweep/sweep.h"

/* Into buf (n bytes): "name=value" for each method hyperparameter and train setting of t
 * whose value differs between trials of sw, space-separated; "" when none differs.  Method
 * hyperparameters are prefixed with the method ("lora.rank") when t composes several.
 * Task and seed are not included (the progress line shows them).  O(trials x settings). */
void trial_vary_text(const struct sweep *sw, const struct trial *t, char *buf, size_t n);

#endif
