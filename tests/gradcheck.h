/*
 * gradcheck: finite-difference check of an analytic gradient (tests only).
 *
 * The caller wraps "run forward, reduce the output to a scalar" in a loss
 * callback, e.g. sum(y * r) with a fixed random r so every output element
 * matters, runs backward with dy = r to get the analytic gradient g of one
 * tensor x, then asks gradcheck_tensor to compare g with central differences
 * of the loss.  The callback must read x through the pointer it was given
 * (gradcheck writes probes into x in place) and must be deterministic.
 *
 * Usage:
 *   char rep[256];
 *   ck_assert_msg(gradcheck_tensor("dW", loss, &ctx, W, dW, OUT * IN, 64, 7,
 *                                  GRADCHECK_TOL, rep, sizeof rep) == 0, "%s", rep);
 */
#ifndef TESTS_GRADCHECK_H
#define TESTS_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#define GRADCHECK_STEP 1e-3 /* probe half-width h */
#define GRADCHECK_TOL  1e-2 /* default relative-error threshold for float32 ops */

/*
 * Check g (n floats, the analytic d loss / d x) against central differences
 * (loss(x + h e_i) - loss(x - h e_i)) / 2h, accumulated in double, with the
 * step measured as actually represented in float.
 *   name:  label used in the report, e.g. "linear dW".
 *   loss:  loss(ctx) evaluates the scalar loss at the current x.
 *   x:     (n) the tensor being probed; each probe is restored exactly, so x
 *          is bit-identical on return.  Needs |x| << h / FLT_EPSILON ~ 8e3 so that
 *          the float step keeps its precision.
 *   g:     (n) analytic gradient; not modified.
 *   k:     number of coordinates to probe, sampled with replacement using
 *          seed; k == 0 or k >= n probes every coordinate.
 *   tol:   fail when |g - num| / max(1e-6, |g| + |num|) > tol for a probe
 *          (non-finite g or loss values always fail).
 *   report, report_len: if non-NULL, receives a one-line summary: worst
 *          index with both values, probes and skipped probes.
 * Kinks: a probe whose error exceeds tol is skipped (not failed) when the loss is not locally linear around x_i
 * at scale h (e.g. ReLU input within h of 0): the central differences at h
 * and h/2 disagree by more than tol/2, or the one-sided slopes disagree by
 * more than a factor of 3.  These tests use only loss values, never g, so
 * they cannot hide a wrong gradient at a smooth point.  The check fails if
 * more than half of the probes are skipped.
 * Returns 0 on pass, 1 on failure.
 */
int gradcheck_tensor(const char *name, double (*loss)(void *ctx), void *ctx, float *x,
                     const float *g, size_t n, size_t k, uint64_t seed, double tol, char *report,
                     size_t report_len);

/*
 * Same with an explicit probe half-width h and an absolute slack atol: a probe
 * passes when its relative error is <= tol OR |g - num| <= atol.  Whole-model
 * checks use h = 1e-2 and atol = 1e-4: the float32 forward of several layers
 * carries ~1e-6 absolute rounding noise in the loss, which divided by 2h is a
 * few 1e-5 in the numeric slope (measured: at h = 1e-3 a correct gradient of
 * 6e-3 came out 5% off; at h = 1e-2 within 0.1%), while the O(h^2) truncation
 * error stays far below tol.  A wrong gradient shows as an error of the order
 * of the gradient itself, far above 1e-4 for the O(0.01..1) gradients here.
 */
int gradcheck_tensor_h(const char *name, double (*loss)(void *ctx), void *ctx, float *x,
                       const float *g, size_t n, size_t k, uint64_t seed, double tol, double h,
                       double atol, char *report, size_t report_len);

#endif
