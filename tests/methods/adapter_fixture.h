/* The fixture of the bottleneck-adapter tests (tests/methods/test_adapters_*.c): a tiny model
 * (D 16, 2 layers by default), a padded batch of TB sequences of TT tokens, and up to MAX_MI
 * methods attached from "k=v;k=v" settings.  fx_free checks the memory accountant is back at
 * zero, so every test is a leak test. */
#ifndef TESTS_METHODS_ADAPTER_FIXTURE_H
#define TESTS_METHODS_ADAPTER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "methods/method.h"
#include "model/arch/model.h"
#include "model/engine/mem.h"

enum { TB = 3, TT = 6, TC = 3, MAX_MI = 4 };

struct fx {
    struct mem_acct acct;
    struct model m;
    int ids[TB * TT], mask[TB * TT], labels[TB];
    struct batch b;
    float rh[TB * TT * 64]; /* loss = sum(hidden * rh), D <= 64 */
    struct method_inst mi[MAX_MI];
    int nmi;
};

/* A tiny model of width D, L layers, H heads, FFN width F (fx_init: 16, 2, 2, 24). */
void fx_init_dims(struct fx *f, int D, int L, int H, int F);
void fx_init(struct fx *f);
void fx_free(struct fx *f);

/* Parse "k=v;k=v" settings of a registered method (m may be NULL); returns the rc, e filled. */
int parse_hp(const char *method, const char *settings, const struct model *m, struct hp_values *hp,
             struct err *e);

/* Parse and create the method on f's model; returns the rc, e filled.  attach_ok fails the
 * test on an error. */
int attach(struct fx *f, const char *method, const char *settings, struct err *e);
void attach_ok(struct fx *f, const char *method, const char *settings);

/* Make the adapters' effect large and the LayerNorms non-trivial (gain 1, bias 0 would hide
 * which LayerNorm is applied). */
void randomize(struct fx *f, uint64_t seed);

/* A forward of the batch (train: dropout on); the logits (TB, TC). */
float *forward(struct fx *f, bool train);

#endif
