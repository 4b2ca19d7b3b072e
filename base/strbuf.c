#include "base/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_put(struct strbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void strbuf_str(struct strbuf *b, const char *s)
{
    strbuf_put(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)k < sizeof small) {
        strbuf_put(b, small, (size_t)k);
        return;
    }
    char *big = malloc((size_t)k + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    strbuf_put(b, big, (size_t)k);
    free(big);
}

void strbuf_csv(struct strbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        strbuf_str(b, s);
        return;
    }
    strbuf_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            strbuf_put(b, "\"", 1);
        strbuf_put(b, p, 1);
    }
    strbuf_put(b, "\"", 1);
}

void strbuf_num(struct strbuf *b, double v)
{
    if (isfinite(v))
        strbuf_printf(b, "%.9g", v);
}

char *strbuf_take(struct strbuf *b)
{
    if (b->oom) {
        strbuf_free(b);
        return NULL;
    }
    char *p = b->p ? b->p : calloc(1, 1);
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

void strbuf_free(struct strbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
