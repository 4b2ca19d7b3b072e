#include "arena.h"

#include <stdint.h>
#include <string.h>

#define ARENA_ALIGN 64

void arena_init(struct arena *a, struct mem_acct *acct, enum mem_cat cat)
{
    memset(a, 0, sizeof *a);
    a->acct = acct;
    a->cat = cat;
}

static void free_chunks(struct arena *a)
{
    for (int i = a->nchunks; i-- > 0;)
        mem_free(a->acct, a->chunks[i]);
    a->nchunks = 0;
}

void arena_reset(struct arena *a)
{
    if (a->nchunks > 1) {
        /* Consolidate: one block big enough for the largest step seen. */
        free_chunks(a);
        a->chunks[0] = mem_alloc(a->acct, a->cat, a->high);
        if (a->chunks[0]) {
            a->sizes[0] = a->high;
            a->nchunks = 1;
        }
    }
    a->used = 0;
    a->total = 0;
}

static void *bump(struct arena *a, size_t bytes)
{
    bytes = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (bytes == 0)
        bytes = ARENA_ALIGN;
    if (a->nchunks == 0 || a->used + bytes > a->sizes[a->nchunks - 1]) {
        if (a->nchunks == ARENA_MAX_CHUNKS)
            return NULL;
        /* Geometric growth: the chunk count stays logarithmic in the step's size. */
        size_t sz = (size_t)1 << 20;
        if (a->nchunks > 0 && a->sizes[a->nchunks - 1] <= SIZE_MAX / 2)
            sz = 2 * a->sizes[a->nchunks - 1];
        if (sz < bytes)
            sz = bytes;
        char *c = mem_alloc(a->acct, a->cat, sz);
        if (!c)
            return NULL;
        a->chunks[a->nchunks] = c;
        a->sizes[a->nchunks] = sz;
        a->nchunks++;
        a->used = 0;
    }
    void *p = a->chunks[a->nchunks - 1] + a->used;
    a->used += bytes;
    a->total += bytes;
    if (a->total > a->high)
        a->high = a->total;
    return p;
}

float *arena_floats(struct arena *a, size_t n)
{
    if (n > SIZE_MAX / sizeof(float))
        return NULL;
    return bump(a, n * sizeof(float));
}

float *arena_zeros(struct arena *a, size_t n)
{
    float *p = arena_floats(a, n);
    if (p)
        memset(p, 0, n * sizeof(float));
    return p;
}

int *arena_ints(struct arena *a, size_t n)
{
    if (n > SIZE_MAX / sizeof(int))
        return NULL;
    return bump(a, n * sizeof(int));
}

void arena_destroy(struct arena *a)
{
    if (!a)
        return;
    free_chunks(a);
    a->used = a->total = 0;
}

struct arena_mark arena_mark(const struct arena *a)
{
    struct arena_mark m = {a->nchunks, a->used, a->total};
    return m;
}

void arena_rewind(struct arena *a, struct arena_mark m)
{
    while (a->nchunks > m.nchunks && a->nchunks > 1) {
        a->nchunks--;
        mem_free(a->acct, a->chunks[a->nchunks]);
    }
    if (a->nchunks == m.nchunks) {
        a->used = m.used;
    } else { /* the mark was taken before the first chunk existed */
        a->used = 0;
    }
    a->total = m.total;
}
