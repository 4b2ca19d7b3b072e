#include "base/strfmt.h"

#include <stdarg.h>
#include <stdio.h>

size_t str_appendf(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
    if (cap == 0)
        return 0;
    if (off >= cap - 1)
        return cap - 1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + off, cap - off, fmt, ap);
    va_end(ap);
    if (k < 0)
        return off;
    size_t end = off + (size_t)k;
    return end < cap - 1 ? end : cap - 1;
}

char *str_join(char *buf, size_t cap, const char *const *names, int n)
{
    size_t o = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < n; i++)
        o = str_appendf(buf, cap, o, "%s%s", i ? ", " : "", names[i]);
    return buf;
}
