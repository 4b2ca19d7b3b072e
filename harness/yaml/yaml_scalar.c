/*
 * yaml_scalar: strict typing of scalar text for YAML schemas.  The tree
 * keeps every scalar as text; a schema that wants a number asks here, so
 * "0x10", " 3" or "1e400" are errors rather than YAML 1.1 surprises.
 */
#include "harness/yaml/yaml_scalar.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool yaml_scalar_ll(const char *s, long long *v)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

bool yaml_scalar_real(const char *s, double *v)
{
    bool digit = false;
    for (const char *q = s; *q; q++) {
        if (*q >= '0' && *q <= '9')
            digit = true;
        else if (!strchr(".eE+-", *q))
            return false;
    }
    if (!digit)
        return false;
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno || *end || !isfinite(x))
        return false;
    *v = x;
    return true;
}
