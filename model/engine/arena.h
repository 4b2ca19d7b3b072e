/*
 * arena: the per-step activation arena.
 *
 * Forward stores everything backward needs here; nothing frees an individual
 * activation; arena_reset() at the start of every step makes the memory
 * reusable, and mark/rewind give back everything allocated after a point (a
 * layer's transient tensors).
 *
 * The arena is one contiguous range of reserved virtual memory (mmap with
 * MAP_NORESERVE): a page costs physical memory only once touched, so the
 * resident size is the high-water mark of use, with no growth copies, no
 * chunk consolidation and no first-step overshoot (a chunked arena doubling
 * its blocks held up to twice the step's need during the first step).  After
 * the first step of the largest batch no page fault happens any more.  The
 * high-water mark (rounded to pages) is charged to one accountant category.
 */
#ifndef MODEL_ARENA_H
#define MODEL_ARENA_H

#include <stddef.h>

#include "model/engine/mem.h"

struct arena {
    struct mem_acct *acct; /* borrowed */
    enum mem_cat cat;
    char *base;            /* reserved range, NULL until first use */
    size_t cap;            /* bytes reserved */
    size_t used;           /* bytes handed out since the last reset */
    size_t high;           /* maximum of used over the arena's life */
    size_t charged;        /* bytes charged to the accountant (high, page-rounded) */
};

/* Under AddressSanitizer every allocation is followed by a poisoned red zone of
 * ARENA_REDZONE bytes and everything past the bump pointer is poisoned again on reset and
 * rewind: a read past the end of a tensor, or of activations a rewind gave back, is reported
 * instead of silently reading its neighbour (ASan cannot see inside one mmap range
 * otherwise).  Without ASan the red zone is 0. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#define ARENA_REDZONE ((size_t)64)
#else
#define ARENA_REDZONE ((size_t)0)
#endif

/* Reservation tried first; halved on failure down to ARENA_RESERVE_MIN (strict overcommit). */
#define ARENA_RESERVE ((size_t)1 << 37)
#define ARENA_RESERVE_MIN ((size_t)1 << 26)

void arena_init(struct arena *a, struct mem_acct *acct, enum mem_cat cat);
/* Make everything reusable (pages stay committed). */
void arena_reset(struct arena *a);
/* n floats, 64-byte aligned, NOT zeroed; NULL when the reservation is exhausted. */
float *arena_floats(struct arena *a, size_t n);
/* Same, zeroed. */
float *arena_zeros(struct arena *a, size_t n);
/* n ints. */
int *arena_ints(struct arena *a, size_t n);
/* Unmap and uncharge everything. */
void arena_destroy(struct arena *a);

/* A position in the arena, to give back everything allocated after it. */
struct arena_mark {
    size_t used;
};
struct arena_mark arena_mark(const struct arena *a);
/* Release everything allocated since m. */
void arena_rewind(struct arena *a, struct arena_mark m);

#endif
