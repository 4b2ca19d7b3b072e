/*
 * stats: the statistics of seed-to-seed variation that summary.csv, the
 * figures and the report's ranking use -- a sample's mean, sample standard
 * deviation (divisor n - 1), standard error of the mean, the half-width of its
 * 95% confidence interval (Student t), the Student t distribution (CDF and
 * quantile for any real df > 0, through the regularized incomplete beta
 * function), and two-sided p-values of Welch's unequal-variance t-test and of
 * the paired t-test.
 *
 * Why here and not a library: the harness needs four functions, exactly
 * defined, testable against hand-computed values, with no dependency.
 *
 * Conventions: a quantity that a sample cannot give (the spread of one
 * value, a test with fewer than two values on a side) is NaN, never 0: the
 * writers print NaN as an empty cell or "-", and n says why.
 *
 * Pure functions: nothing here prints or allocates.
 */
#ifndef HARNESS_STATS_H
#define HARNESS_STATS_H

#include <stddef.h>

/* n, mean, std, sem and 95% CI half-width of a sample (finite values only). */
struct stats_summary {
    int n;       /* finite values that went in */
    double mean; /* NaN when n == 0 */
    double std;  /* sample standard deviation (n - 1); NaN when n < 2 */
    double sem;  /* std / sqrt(n); NaN when n < 2 */
    double ci95; /* half-width t(0.975, n - 1) * sem: the interval is mean ± ci95; NaN when n < 2 */
};

/* Summary of the finite values among x[0..n) (NaN and Inf are skipped). */
void stats_summarize(struct stats_summary *s, const double *x, size_t n);

/* Standard error and 95% CI half-width from a sample std and size (NaN when n < 2 or
 * std is not finite). */
double stats_sem(double std, int n);
double stats_ci95_half(double std, int n);

/* Regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1 (NaN outside). */
double stats_betai(double a, double b, double x);

/* P(T <= t) for Student's t with df > 0 degrees of freedom (NaN for df <= 0). */
double stats_t_cdf(double t, double df);

/* The p-quantile of Student's t with df > 0 (0 < p < 1; NaN otherwise), to about 1e-12
 * relative: stats_t_quantile(0.975, 3) = 3.1824463... */
double stats_t_quantile(double p, double df);

/* Two-sided p-value of Welch's t-test of equal means for two samples given by mean, sample
 * std and size; df by Welch-Satterthwaite (written to *df when df is not NULL).  NaN when
 * either n < 2.  Both spreads zero: 1 when the means are equal, else 0. */
double stats_welch_p(double m1, double s1, int n1, double m2, double s2, int n2, double *df);

/* Two-sided p-value of the paired t-test on differences d[0..n) (df n - 1).  NaN when
 * n < 2; all differences equal: 1 when they are 0, else 0. */
double stats_paired_p(const double *d, size_t n);

#endif
