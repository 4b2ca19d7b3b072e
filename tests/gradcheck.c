/* gradcheck: finite-difference gradient checker (contract in gradcheck.h). */
#include "tests/gradcheck.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "model/engine/rng.h"

/* Symmetric relative difference, floored so that two near-zero values agree. */
static double rel_diff(double a, double b)
{
    return fabs(a - b) / fmax(1e-6, fabs(a) + fabs(b));
}

/* loss at x[i] = x0 + delta (as rounded to float); *step gets the step taken. */
static double loss_at(double (*loss)(void *), void *ctx, float *x, size_t i, float x0, double delta,
                      double *step)
{
    x[i] = (float)((double)x0 + delta);
    *step = (double)x[i] - (double)x0;
    double f = loss(ctx);
    x[i] = x0;
    return f;
}

int gradcheck_tensor(const char *name, double (*loss)(void *ctx), void *ctx, float *x,
                     const float *g, size_t n, size_t k, uint64_t seed, double tol, char *report,
                     size_t report_len)
{
    return gradcheck_tensor_h(name, loss, ctx, x, g, n, k, seed, tol, GRADCHECK_STEP, 0.0, report,
                              report_len);
}

int gradcheck_tensor_h(const char *name, double (*loss)(void *ctx), void *ctx, float *x,
                       const float *g, size_t n, size_t k, uint64_t seed, double tol, double h,
                       double atol, char *report, size_t report_len)
{
    size_t probes = (k == 0 || k >= n) ? n : k;
    struct rng r;
    rng_seed(&r, seed);
    double f0 = loss(ctx);
    bool bad = !isfinite(f0);
    double worst = bad ? HUGE_VAL : 0.0, worst_g = 0.0, worst_n = bad ? f0 : 0.0;
    size_t worst_i = 0, skipped = 0;

    for (size_t p = 0; p < probes && !bad; p++) {
        size_t i = probes == n ? p : (size_t)rng_below(&r, n);
        float x0 = x[i];
        double sp, sm, sp2, sm2;
        double fp = loss_at(loss, ctx, x, i, x0, h, &sp);
        double fm = loss_at(loss, ctx, x, i, x0, -h, &sm);
        double fp2 = loss_at(loss, ctx, x, i, x0, 0.5 * h, &sp2);
        double fm2 = loss_at(loss, ctx, x, i, x0, -0.5 * h, &sm2);
        double num = (fp - fm) / (sp - sm), num2 = (fp2 - fm2) / (sp2 - sm2);
        double dr = (fp - f0) / sp, dl = (f0 - fm) / -sm;
        double ga = (double)g[i];
        double err = rel_diff(ga, num);
        if (fabs(ga - num) <= atol) /* within the forward's rounding noise / 2h */
            err = fmin(err, tol);
        /* Only a probe that disagrees is examined for a kink: an agreeing probe
         * counts as a pass even if float noise makes the loss look rough. */
        if (!isfinite(err) || !isfinite(num2)) {
            err = HUGE_VAL;
        } else if (err > tol && (rel_diff(num, num2) > 0.5 * tol || rel_diff(dr, dl) > 0.5)) {
            skipped++;
            continue;
        }
        if (err > worst) {
            worst = err;
            worst_i = i;
            worst_g = ga;
            worst_n = num;
        }
        if (!isfinite(err))
            bad = true;
    }
    bool fail = bad || worst > tol || (probes > 0 && 2 * skipped > probes);
    if (report && report_len > 0)
        snprintf(report, report_len,
                 "%s: %s: worst rel err %.3g at [%zu] (analytic %.7g, numeric %.7g); "
                 "%zu probes of %zu, %zu skipped as kinks",
                 name ? name : "gradcheck", fail ? "FAIL" : "ok", worst, worst_i, worst_g, worst_n,
                 probes, n, skipped);
    return fail ? 1 : 0;
}
