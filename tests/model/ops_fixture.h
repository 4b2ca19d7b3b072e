/*
 * Scratch buffers and comparisons shared by the tests of model/engine/ops
 * (tests/model/test_ops_*.c).
 *
 * Buffers come from talloc(); the checked fixture (tmp_setup / tmp_teardown)
 * frees them after every test, so ASan's leak check stays meaningful without
 * per-test cleanup.
 */
#ifndef TESTS_MODEL_OPS_FIXTURE_H
#define TESTS_MODEL_OPS_FIXTURE_H

#include <stddef.h>

#include "model/engine/rng.h"

/* Zeroed scratch memory, freed by tmp_teardown (at most 64 blocks per test). */
void *talloc(size_t bytes);
float *tfloats(size_t n);
int *tints(size_t n);

/* Checked fixture: start with no blocks / free every block. */
void tmp_setup(void);
void tmp_teardown(void);

/* n floats of std * N(0, 1) from r, in scratch memory. */
float *rand_normal(struct rng *r, size_t n, float std);

/* A scratch copy of a (n floats). */
float *copy_of(const float *a, size_t n);

/* Every |got - want| <= atol + rtol |want|; reports the worst element. */
void assert_close(const char *what, const float *got, const float *want, size_t n, double atol,
                  double rtol);

/* a and b bit-identical (one assertion per array, naming the first difference). */
void assert_bits_equal(const char *what, const float *a, const float *b, size_t n);

#endif
