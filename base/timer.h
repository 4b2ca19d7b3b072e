/* timer: monotonic wall-clock seconds and medians of repeated measurements. */
#ifndef HARNESS_TIMER_H
#define HARNESS_TIMER_H

#include <stddef.h>

/* Seconds from a monotonic clock (CLOCK_MONOTONIC). */
double timer_now(void);

/* Median of n values (sorts a copy; n >= 1). */
double timer_median(const double *v, size_t n);

#endif
