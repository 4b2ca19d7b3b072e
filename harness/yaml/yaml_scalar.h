/*
 * yaml_scalar: schema typing of scalar text, shared by every YAML schema
 * (sweeps, pretraining configs).  The tree never types values; a schema
 * asks here when it wants a number.
 */
#ifndef HARNESS_YAML_SCALAR_H
#define HARNESS_YAML_SCALAR_H

#include <stdbool.h>

/* Decimal integer with optional sign: no spaces, no 0x, no exponent. */
bool yaml_scalar_ll(const char *s, long long *v);
/* Decimal real ("3", "0.5", "1e-4", "-2.5E+3"): no inf/nan/hex, finite. */
bool yaml_scalar_real(const char *s, double *v);

#endif
