/* strfmt: bounded appends to fixed-size text buffers (messages, lists in messages). */
#ifndef MODEL_STRFMT_H
#define MODEL_STRFMT_H

#include <stddef.h>

/*
 * printf-append fmt at buf + off (buf holds cap bytes, NUL-terminated) and return the new
 * offset.  Output that does not fit is truncated and the offset saturates at cap - 1, so a
 * chain of appends never forms a pointer past the buffer (snprintf's return value is the
 * would-be length: adding it unchecked walked off the end, which the sweep fuzzer found).
 */
size_t str_appendf(char *buf, size_t cap, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* names[0..n) joined as "a, b, c" into buf (cap bytes, saturating like str_appendf); returns
 * buf.  The "valid: ..." lists of error messages. */
char *str_join(char *buf, size_t cap, const char *const *names, int n);

#endif
