/*
 * err: the error value every fallible library function fills.
 *
 * Library code (model/, methods/, tasks/) never prints or exits: it returns a
 * negative ERR_* code and writes one human-readable message into a caller-owned
 * struct err.  Only harness/ decides what to print and which exit status to use.
 * A message says what, where and how to fix it, e.g.
 *   "model.safetensors: tensor 'x': data_offsets [0, 12) do not match F32 [2, 2] (16 bytes)"
 */
#ifndef MODEL_ERR_H
#define MODEL_ERR_H

#include <stddef.h>

enum err_code {
    ERR_OK = 0,
    ERR_IO = -1,       /* a file could not be opened, read or written */
    ERR_FORMAT = -2,   /* malformed input file */
    ERR_NOMEM = -3,    /* allocation failed */
    ERR_CONFIG = -4,   /* invalid configuration value or combination */
    ERR_LIMIT = -5,    /* input exceeds a documented limit */
    ERR_RANGE = -6,    /* numeric value out of its allowed range */
    ERR_STATE = -7,    /* call made in the wrong state (API misuse) */
    ERR_NUMERIC = -8,  /* NaN/Inf where a finite value is required */
    ERR_UNSUPPORTED = -9,
};

#define ERR_MSG_MAX 512

struct err {
    int code;            /* 0 when no error, else an enum err_code */
    const char *file;    /* source file that raised it (for debugging) */
    int line;            /* source line that raised it */
    char msg[ERR_MSG_MAX];
};

/* Fill *e (may be NULL) with code and a printf-style message; returns code so
 * that callers can write `return ERR_SET(e, ERR_IO, "...")`. */
int err_set(struct err *e, int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prepend "prefix: " to an existing message (adds context as it travels up). */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset *e to "no error". */
void err_clear(struct err *e);

/* Short name of a code, e.g. "format". */
const char *err_code_name(int code);

#define ERR_SET(e, c, ...) err_set((e), (c), __FILE__, __LINE__, __VA_ARGS__)

#endif
