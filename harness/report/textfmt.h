/*
 * textfmt: snprintf for text that may be cut at the buffer size on purpose (figure labels,
 * titles, names, a log line).  A function rather than snprintf at each call so that the
 * deliberate cut does not trip -Wformat-truncation; shared by the figure writers
 * (harness/report/figtypes.c), the entry point (plots.c) and gnuplot.c.
 */
#ifndef HARNESS_TEXTFMT_H
#define HARNESS_TEXTFMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void text_fmt(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void text_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

#endif
