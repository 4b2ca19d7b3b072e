/*
 * arena: the per-step activation arena.
 *
 * Forward stores everything backward needs here; nothing frees an individual
 * activation; arena_reset() at the start of every step makes the memory
 * reusable.  When a step needs more than the current block (first step, or a
 * longer batch), overflow chunks are taken and, at the next reset, replaced
 * by one block of the high-water size, so after the first step of the
 * largest batch shape no allocation (and no page fault) happens any more.
 * All blocks are charged to one accountant category (MEM_ACTIVATIONS).
 */
#ifndef MODEL_ARENA_H
#define MODEL_ARENA_H

#include <stddef.h>

#include "mem.h"

#define ARENA_MAX_CHUNKS 64

struct arena {
    struct mem_acct *acct; /* borrowed */
    enum mem_cat cat;
    char *chunks[ARENA_MAX_CHUNKS]; /* owned; chunks[0] is the main block */
    size_t sizes[ARENA_MAX_CHUNKS];
    int nchunks;
    size_t used;      /* bytes used in the current (last) chunk */
    size_t total;     /* bytes handed out since the last reset */
    size_t high;      /* maximum of total over the arena's life */
};

void arena_init(struct arena *a, struct mem_acct *acct, enum mem_cat cat);
/* Make everything reusable; consolidates overflow chunks into one block. */
void arena_reset(struct arena *a);
/* n floats, 64-byte aligned, NOT zeroed; NULL on allocation failure. */
float *arena_floats(struct arena *a, size_t n);
/* Same, zeroed. */
float *arena_zeros(struct arena *a, size_t n);
/* n ints. */
int *arena_ints(struct arena *a, size_t n);
void arena_destroy(struct arena *a);

/* A position in the arena, to give back everything allocated after it. */
struct arena_mark {
    int nchunks;
    size_t used, total;
};
struct arena_mark arena_mark(const struct arena *a);
/* Release everything allocated since m (chunks added since are freed; the next
 * reset sizes the main block for the high-water mark anyway). */
void arena_rewind(struct arena *a, struct arena_mark m);

#endif
