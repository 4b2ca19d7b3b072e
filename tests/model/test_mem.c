#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/engine/arena.h"
#include "model/engine/mem.h"
#include "tests/suites.h"

START_TEST(alloc_is_charged_aligned_and_zeroed)
{
    struct mem_acct a;
    mem_acct_init(&a);
    float *p = mem_alloc(&a, MEM_ACTIVATIONS, 1000);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 250; i++)
        ck_assert(p[i] == 0.0f);
    ck_assert_uint_eq(a.cur[MEM_ACTIVATIONS], 1000);
    ck_assert_uint_eq(mem_size(p), 1000);
    void *q = mem_alloc(&a, MEM_GRADS, 24);
    ck_assert_uint_eq(a.cur_total, 1024);
    mem_free(&a, p);
    ck_assert_uint_eq(a.cur[MEM_ACTIVATIONS], 0);
    ck_assert_uint_eq(a.peak[MEM_ACTIVATIONS], 1000);
    ck_assert_uint_eq(a.peak_total, 1024);
    mem_free(&a, q);
    ck_assert_uint_eq(a.cur_total, 0);
    ck_assert_uint_eq(a.nblocks, 0);
}
END_TEST

START_TEST(recharge_moves_category)
{
    struct mem_acct a;
    mem_acct_init(&a);
    void *p = mem_alloc(&a, MEM_FROZEN, 400);
    mem_recharge(&a, p, MEM_TRAINABLE);
    ck_assert_uint_eq(a.cur[MEM_FROZEN], 0);
    ck_assert_uint_eq(a.cur[MEM_TRAINABLE], 400);
    ck_assert_uint_eq(a.peak[MEM_FROZEN], 400);
    mem_free(&a, p);
    ck_assert_uint_eq(a.cur_total, 0);
}
END_TEST

START_TEST(zero_and_overflow_rejected)
{
    struct mem_acct a;
    mem_acct_init(&a);
    ck_assert_ptr_null(mem_alloc(&a, MEM_WORKSPACE, 0));
    ck_assert_ptr_null(mem_alloc(&a, MEM_WORKSPACE, SIZE_MAX - 10));
    size_t out;
    ck_assert(!mem_mul_ok(SIZE_MAX / 2, 3, &out));
    ck_assert(mem_mul_ok(1u << 20, 1u << 10, &out));
    ck_assert_uint_eq(out, (size_t)1 << 30);
    ck_assert_uint_eq(a.cur_total, 0);
    ck_assert_uint_gt(mem_peak_rss(), 0);
}
END_TEST

/* The arena: aligned bump allocation, mark/rewind reuse, the accountant charged with the
 * high-water mark (page-rounded) and nothing after destroy. */
START_TEST(arena_charges_high_water)
{
    struct mem_acct a;
    mem_acct_init(&a);
    struct arena ar;
    arena_init(&ar, &a, MEM_ACTIVATIONS);
    float *x = arena_floats(&ar, 1000);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq((uintptr_t)x % 64, 0);
    struct arena_mark m = arena_mark(&ar);
    float *y = arena_floats(&ar, 3000);
    /* 4000 bytes (+ the red zone under ASan) rounded up to 64 */
    const size_t bx = (4000 + ARENA_REDZONE + 63) / 64 * 64, by = (12000 + ARENA_REDZONE + 63) / 64 * 64;
    ck_assert_ptr_eq((char *)y, (char *)x + bx);
    ck_assert_uint_eq(ar.high, bx + by);
    ck_assert_uint_eq(a.cur[MEM_ACTIVATIONS], 16384); /* four 4 KiB pages */
    arena_rewind(&ar, m);
    float *z = arena_floats(&ar, 10);
    ck_assert_ptr_eq(z, y); /* rewound space is reused */
    ck_assert_uint_eq(a.cur[MEM_ACTIVATIONS], 16384); /* committed pages stay charged */
    arena_reset(&ar);
    ck_assert_ptr_eq(arena_floats(&ar, 1), x);
    int *zi = (int *)arena_zeros(&ar, 5000);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(zi[i], 0);
    ck_assert_uint_eq(a.cur[MEM_ACTIVATIONS], 20480);
    ck_assert_ptr_null(arena_floats(&ar, SIZE_MAX / 4)); /* beyond the reservation */
    ck_assert_ptr_null(arena_floats(&ar, SIZE_MAX));
    ck_assert_uint_eq(a.nblocks, 1);
    arena_destroy(&ar);
    ck_assert_uint_eq(a.cur_total, 0);
    ck_assert_uint_eq(a.nblocks, 0);
    ck_assert_uint_eq(a.peak[MEM_ACTIVATIONS], 20480);
}
END_TEST

#ifdef ARENA_ASAN
/* Under ASan a read one element past an arena tensor, or of a tensor a rewind gave back,
 * aborts (ASAN_OPTIONS=abort_on_error=1 in make test-asan). */
static float arena_read(int past_end)
{
    struct mem_acct a;
    mem_acct_init(&a);
    struct arena ar;
    arena_init(&ar, &a, MEM_ACTIVATIONS);
    float *x = arena_floats(&ar, 10);
    struct arena_mark m = arena_mark(&ar);
    float *y = arena_floats(&ar, 20);
    x[9] = y[19] = 1.0f; /* the last elements are fine */
    arena_rewind(&ar, m);
    volatile float v = past_end ? x[10] : y[0];
    return v;
}

START_TEST(arena_read_past_end_aborts)
{
    arena_read(1);
}
END_TEST

START_TEST(arena_read_after_rewind_aborts)
{
    arena_read(0);
}
END_TEST
#endif

Suite *mem_suite(void)
{
    Suite *s = suite_create("mem");
    TCase *tc = tcase_create("accounting");
    tcase_add_test(tc, alloc_is_charged_aligned_and_zeroed);
    tcase_add_test(tc, recharge_moves_category);
    tcase_add_test(tc, zero_and_overflow_rejected);
    tcase_add_test(tc, arena_charges_high_water);
#ifdef ARENA_ASAN
    tcase_add_test_raise_signal(tc, arena_read_past_end_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, arena_read_after_rewind_aborts, SIGABRT);
#endif
    suite_add_tcase(s, tc);
    return s;
}
