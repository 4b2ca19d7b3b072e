/* The double-precision reference of the bottleneck-adapter tests (tests/methods/test_adapters_*.c),
 * built from the stored tensors and the block tensors the encoder saved (enc.keep_all): adapter
 * projections, a whole adapter, and a block's output with Houlsby, parallel and Pfeiffer-form
 * adapters (METHODS.md §11). */
#ifndef TESTS_METHODS_ADAPTER_REF_H
#define TESTS_METHODS_ADAPTER_REF_H

#include "methods/bottleneck.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "tests/methods/adapter_fixture.h"

/* K (ar*br, ac*bc) = A (ar, ac) ⊗ B (br, bc), accumulated. */
void kron_acc(double *K, const double *A, int ar, int ac, const double *B, int br, int bc);

/* One projection of an adapter as the reference [IN, OUT] matrix (x @ W) and bias.
 * Returns OUT; *W (IN*OUT) and *bias (OUT) are malloc'd. */
int ref_proj(const struct model *m, const char *method, const char *pre, const char *which, int IN,
             double **W, double **bias);

/* y (N, D) = A(z) of method's adapter at layer l, block k (0 attention, 1 FFN). */
void ref_adapter(const struct model *m, const char *method, int l, int k, enum act_kind act,
                 const double *z, double *y, int N);

/* One adapter acting on a block: its placement, activation and scaling. */
struct term {
    const char *method;
    enum bn_placement pl;
    enum act_kind act;
    double scale;
};

/* Block k of layer l after the last forward must equal
 *   z = h + res + Σ_seq s A(h) + Σ_parallel s A(res);  out = LN(z)  or  LN(z + s A(LN(z)))
 * with the block's own LayerNorm both times. */
void check_block(const struct fx *f, int l, int k, const struct term *t, int nt);

#endif
