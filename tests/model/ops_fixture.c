/* Scratch buffers and comparisons shared by the tests of model/engine/ops
 * (tests/model/test_ops_*.c); see ops_fixture.h. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine/rng.h"
#include "tests/model/ops_fixture.h"

/* ---- scratch allocations freed by the fixture --------------------------- */

#define TMAX 64
static void *tmp_blocks[TMAX];
static int tmp_count;

void *talloc(size_t bytes)
{
    ck_assert_int_lt(tmp_count, TMAX);
    void *p = calloc(1, bytes ? bytes : 1);
    ck_assert_ptr_nonnull(p);
    tmp_blocks[tmp_count++] = p;
    return p;
}

float *tfloats(size_t n)
{
    return talloc(n * sizeof(float));
}

int *tints(size_t n)
{
    return talloc(n * sizeof(int));
}

void tmp_setup(void)
{
    tmp_count = 0;
}

void tmp_teardown(void)
{
    while (tmp_count > 0)
        free(tmp_blocks[--tmp_count]);
}

/* ---- data and comparison helpers ---------------------------------------- */

float *rand_normal(struct rng *r, size_t n, float std)
{
    float *a = tfloats(n);
    for (size_t i = 0; i < n; i++)
        a[i] = std * rng_normal(r);
    return a;
}

float *copy_of(const float *a, size_t n)
{
    float *c = tfloats(n);
    memcpy(c, a, n * sizeof(*c));
    return c;
}

/* Every |got - want| <= atol + rtol |want|; reports the worst element. */
void assert_close(const char *what, const float *got, const float *want, size_t n, double atol,
                  double rtol)
{
    size_t worst = 0;
    double worst_excess = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double excess = d - (atol + rtol * fabs((double)want[i]));
        if (!(excess <= worst_excess) || isnan(d)) {
            worst_excess = isnan(d) ? HUGE_VAL : excess;
            worst = i;
        }
    }
    ck_assert_msg(n == 0 || worst_excess <= 0.0, "%s: element %zu: got %.9g want %.9g", what, worst,
                  n ? (double)got[worst] : 0.0, n ? (double)want[worst] : 0.0);
}

/* One ck_assert per array, not per element: in fork mode every assertion is
 * a message to the parent process, and per-element asserts dominate runtime. */
void assert_bits_equal(const char *what, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    while (i < n && memcmp(&a[i], &b[i], sizeof(float)) == 0)
        i++;
    ck_assert_msg(i == n, "%s: element %zu differs: %.9g vs %.9g", what, i,
                  i < n ? (double)a[i] : 0.0, i < n ? (double)b[i] : 0.0);
}
