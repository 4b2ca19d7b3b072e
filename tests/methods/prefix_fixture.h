/* The fixture of the prefix-tuning tests (tests/methods/test_prefix_*.c): a tiny model (PB
 * sequences of PT tokens, width PD, PL layers, PH heads) with one prefix instance, its loss
 * sum(logits * r), and the served key/value rows computed independently in double precision
 * from the stored tensors (METHODS.md §2.2).  pfx_free checks the memory accountant is back at
 * zero, so every test is a leak test. */
#ifndef TESTS_METHODS_PREFIX_FIXTURE_H
#define TESTS_METHODS_PREFIX_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "methods/method.h"
#include "model/arch/model.h"
#include "model/engine/mem.h"

/* The prefix method (methods/prefix.c), the one all these tests attach. */
extern const struct method_ops prefix_method;

enum { PB = 3, PT = 6, PV = 40, PC = 3, PD = 16, PL = 2, PH = 2 };

struct pfx {
    struct mem_acct acct;
    struct model m;
    struct method_inst mi;
    struct hp_values hp;
    int ids[PB * PT], mask[PB * PT], labels[PB];
    struct batch b;
    float r[PB * PC]; /* loss = sum(logits * r) */
    uint64_t seed, step;
    bool train;
};

/* Parse "k=v;k=v" (at most 8 pairs, each under 64 chars) for method ops on m (may be NULL). */
int parse_example(const struct method_ops *ops, const char *text, struct hp_values *hp,
                  const struct model *m, struct err *e);

/* A tiny model (BERT dropouts 0.1, or none) and its batch; pfx_model: with dropouts. */
void pfx_model_cfg(struct pfx *f, bool dropout);
void pfx_model(struct pfx *f);

/* Parse example and create the prefix method on f's model (the test fails on an error);
 * pfx_init: pfx_model then pfx_attach. */
void pfx_attach(struct pfx *f, const char *example);
void pfx_init(struct pfx *f, const char *example);
void pfx_free(struct pfx *f);

/* A forward with f's train flag, seed and step; the logits (PB, PC). */
float *pfx_forward(struct pfx *f);

/* sum(logits * r) (ctx: the struct pfx), and its gradients into freshly zeroed grads. */
double pfx_loss(void *ctx);
void pfx_backward(struct pfx *f);

/* The registered tensor called name (the test fails without it). */
struct param *must_find(const struct pfx *f, const char *name);

/* Layer l's served rows after the last forward: keys then values, 2·P·D floats. */
void served_rows(const struct pfx *f, int l, float *out);

/* The prefix MLP's activation by non_linearity index (1 relu, 2 gelu, else tanh). */
double ref_act(int which, double x);

/* Expected rows kv[((l*2 + s)*P + p)*D + d] (s = 0 keys, 1 values) from the
 * stored tensors, following METHODS.md §2.2 literally (calloc'd). */
double *ref_rows(const struct pfx *f);

/* The number of registry examples of the prefix method. */
int n_examples(void);

#endif
