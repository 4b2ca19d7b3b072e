/* The fixture of the LoRA / IA3 / PEFT-format tests (tests/methods/test_lora_ia3_*.c,
 * test_peft_format.c): a tiny BERT or RoBERTa model (TB sequences of TT tokens, width TD, FFN
 * width TF, TL layers, TC classes) with up to MAXI methods attached from "k=v;k=v" settings,
 * tensor lookup by name, and naive double-accumulation references of a Linear and of a LoRA
 * merge.  lfx_free checks the memory accountant is back at zero, so every test is a leak test. */
#ifndef TESTS_METHODS_LORA_IA3_FIXTURE_H
#define TESTS_METHODS_LORA_IA3_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "methods/method.h"
#include "model/arch/hooks.h"
#include "model/arch/model.h"
#include "model/engine/mem.h"
#include "model/engine/params.h"

enum { TB = 3, TT = 6, TV = 40, TC = 3, TD = 16, TF = 24, TL = 2, MAXI = 2 };

struct lfx {
    struct mem_acct acct;
    struct model m;
    struct method_inst mi[MAXI];
    int n;
    int ids[TB * TT], mask[TB * TT], labels[TB];
    struct batch b;
    float r[TB * TC];
};

/* A tiny model of arch ("bert" or "roberta") with hidden and attention dropout drop, keeping
 * every layer's saved tensors (enc.save[]); lfx_init: "bert". */
void lfx_init_arch(struct lfx *f, float drop, const char *arch);
void lfx_init(struct lfx *f, float drop);
void lfx_free(struct lfx *f);

/* Parse "k=v;k=v" and create the method on f's model; returns the rc, e filled. */
int lfx_try_attach(struct lfx *f, const char *method, const char *ex, struct err *e);

/* The same, failing the test on an error; the new instance. */
struct method_inst *lfx_attach(struct lfx *f, const char *method, const char *ex);

/* A forward of the batch at step (train: dropout on); copies the logits (TB, TC) to out. */
void lfx_logits(struct lfx *f, bool train, uint64_t step, float *out);

/* Add scale·N(0,1) to every tensor whose name starts with prefix. */
void perturb(struct lfx *f, const char *prefix, float scale, uint64_t seed);

/* The backbone's biases are zero after model_init_weights: make them matter (merge must
 * scale them under an IA3 output scaling). */
void perturb_biases(struct lfx *f, uint64_t seed);

/* The tensor named by printf(fmt, layer, module) (the test fails without it). */
struct param *P(struct lfx *f, const char *fmt, int layer, const char *module);

/* The base Linear's weight / bias at layer l, site s. */
struct param *base_w(struct lfx *f, int l, enum hook_site s);
struct param *base_b(struct lfx *f, int l, enum hook_site s);

/* y = x W^T + b, naive, double accumulation.  x (N, IN), W (OUT, IN), y (N, OUT). */
void ref_linear(float *y, const float *x, const float *W, const float *b, int N, int IN, int OUT);

/* Wp = W + s B A, naive.  W (OUT, IN), B (OUT, R), A (R, IN). */
void ref_merge(float *Wp, const float *W, const float *B, const float *A, double s, int IN, int OUT,
               int R);

/* |a - b| <= tol (1 + |b|) elementwise, naming what and the first index that is not. */
void assert_near(const float *a, const float *b, size_t n, float tol, const char *what);

/* The Linear's input and output widths at site s. */
void site_dims(enum hook_site s, int *IN, int *OUT);

#endif
