/* strbuf: a growable NUL-terminated text buffer (CSV, JSON-free text, scripts, reports). */
#ifndef HARNESS_STRBUF_H
#define HARNESS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *p; /* owned: NUL-terminated text (NULL while empty) */
    size_t n, cap;
    bool oom; /* an allocation failed: the text is incomplete and appends are ignored */
};

void strbuf_put(struct strbuf *b, const char *s, size_t len);
void strbuf_str(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One CSV field, RFC 4180-quoted when it holds a comma, quote or line break. */
void strbuf_csv(struct strbuf *b, const char *s);
/* A number as %.9g, or nothing for NaN/Inf (an empty CSV cell). */
void strbuf_num(struct strbuf *b, double v);
/* The text (caller frees; "" when nothing was appended), or NULL after an allocation failure
 * (the buffer is freed either way). */
char *strbuf_take(struct strbuf *b);
void strbuf_free(struct strbuf *b);

#endif
