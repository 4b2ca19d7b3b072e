/* stats: sample statistics, Student t and the t-tests (contract in stats.h). */
#include "harness/report/stats.h"

#include <math.h>

void stats_summarize(struct stats_summary *s, const double *x, size_t n)
{
    double sum = 0.0;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            sum += x[i], k++;
    s->n = k;
    s->mean = k ? sum / k : (double)NAN;
    /* second pass about the mean: no cancellation for values with a large common offset */
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->std = k > 1 ? sqrt(ss / (k - 1)) : (double)NAN;
    s->sem = stats_sem(s->std, k);
    s->ci95 = stats_ci95_half(s->std, k);
}

double stats_sem(double std, int n)
{
    return n > 1 && isfinite(std) ? std / sqrt((double)n) : (double)NAN;
}

double stats_ci95_half(double std, int n)
{
    return n > 1 && isfinite(std) ? stats_t_quantile(0.975, n - 1) * std / sqrt((double)n)
                                  : (double)NAN;
}

/* Continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4);
 * converges fast for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    d = 1.0 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        c = 1.0 + aa / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        c = 1.0 + aa / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15)
            break;
    }
    return h;
}

double stats_betai(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
        return (double)NAN;
    if (x == 0 || x == 1)
        return x;
    /* x^a (1-x)^b / B(a, b), in logs */
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1.0) / (a + b + 2.0))
        return bt * betacf(a, b, x) / a;
    return 1.0 - bt * betacf(b, a, 1.0 - x) / b; /* symmetry I_x(a,b) = 1 - I_{1-x}(b,a) */
}

double stats_t_cdf(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return (double)NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    /* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
    double tail = 0.5 * stats_betai(0.5 * df, 0.5, df / (df + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

double stats_t_quantile(double p, double df)
{
    if (!(df > 0) || !(p > 0) || !(p < 1))
        return (double)NAN;
    if (p == 0.5)
        return 0.0;
    if (p < 0.5)
        return -stats_t_quantile(1.0 - p, df);
    /* bracket [lo, hi] with cdf(lo) < p <= cdf(hi), then bisect: monotone and robust for
     * every df, including the fractional df of Welch's test */
    double lo = 0.0, hi = 1.0;
    while (stats_t_cdf(hi, df) < p && hi < 1e300)
        lo = hi, hi *= 2.0;
    for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (stats_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Two-sided p of statistic t with df degrees of freedom: P(|T| >= |t|). */
static double two_sided(double t, double df)
{
    return stats_betai(0.5 * df, 0.5, df / (df + t * t));
}

double stats_welch_p(double m1, double s1, int n1, double m2, double s2, int n2, double *df)
{
    if (df)
        *df = (double)NAN;
    if (n1 < 2 || n2 < 2 || !isfinite(m1) || !isfinite(m2) || !isfinite(s1) || !isfinite(s2))
        return (double)NAN;
    double v1 = s1 * s1 / n1, v2 = s2 * s2 / n2, v = v1 + v2;
    if (v <= 0)
        return m1 == m2 ? 1.0 : 0.0;
    double d = v * v / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    if (df)
        *df = d;
    return two_sided((m1 - m2) / sqrt(v), d);
}

double stats_paired_p(const double *d, size_t n)
{
    struct stats_summary s;
    stats_summarize(&s, d, n);
    if (s.n < 2)
        return (double)NAN;
    if (!(s.std > 0))
        return s.mean == 0 ? 1.0 : 0.0;
    return two_sided(s.mean / s.sem, s.n - 1);
}
