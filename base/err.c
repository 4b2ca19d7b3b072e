#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *file, int line, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->file = file;
    e->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    if (!e)
        return ERR_OK;
    char pre[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    char old[ERR_MSG_MAX];
    memcpy(old, e->msg, sizeof old);
    /* Truncation is acceptable: the message is for humans and bounded. */
    size_t n = strnlen(pre, ERR_MSG_MAX - 3);
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t room = ERR_MSG_MAX - n - 3;
    size_t m = strnlen(old, room);
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = '\0';
    return e->code;
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = ERR_OK;
    e->file = NULL;
    e->line = 0;
    e->msg[0] = '\0';
}

const char *err_code_name(int code)
{
    switch (code) {
    case ERR_OK: return "ok";
    case ERR_IO: return "io";
    case ERR_FORMAT: return "format";
    case ERR_NOMEM: return "nomem";
    case ERR_CONFIG: return "config";
    case ERR_LIMIT: return "limit";
    case ERR_RANGE: return "range";
    case ERR_STATE: return "state";
    case ERR_NUMERIC: return "numeric";
    case ERR_UNSUPPORTED: return "unsupported";
    default: return "unknown";
    }
}
