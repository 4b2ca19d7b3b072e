/*
 * checked: overflow-checked size arithmetic, for sizes computed from untrusted input
 * (tensor shapes in a checkpoint header, dimensions in a config) before anything is
 * allocated or read from them.  Header-only: one branch per call.
 */
#ifndef BASE_CHECKED_H
#define BASE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Multiply with overflow check: *out = a*b; false on overflow (then *out is untouched). */
static inline bool mem_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

#endif
