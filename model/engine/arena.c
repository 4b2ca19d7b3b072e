#include "model/engine/arena.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_ALIGN 64

#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void arena_init(struct arena *a, struct mem_acct *acct, enum mem_cat cat)
{
    memset(a, 0, sizeof *a);
    a->acct = acct;
    a->cat = cat;
}

void arena_reset(struct arena *a)
{
    if (a->base)
        ARENA_POISON(a->base, a->used);
    a->used = 0;
}

/* Reserve the address range on first use: the largest power of two that the kernel grants. */
static int reserve(struct arena *a)
{
    for (size_t sz = ARENA_RESERVE; sz >= ARENA_RESERVE_MIN; sz /= 2) {
        void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            a->base = p;
            a->cap = sz;
            a->acct->nblocks++; /* a live block for the accountant's leak check */
            return 0;
        }
    }
    return -1;
}

/* Charge newly reached pages: the accountant follows what can be resident. */
static void commit_to(struct arena *a, size_t high)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = (high + page - 1) / page * page;
    if (want > a->charged) {
        mem_charge(a->acct, a->cat, want - a->charged);
        a->charged = want;
    }
}

static void *bump(struct arena *a, size_t bytes)
{
    const size_t want = bytes;
    if (bytes > SIZE_MAX - ARENA_ALIGN - ARENA_REDZONE)
        return NULL;
    bytes = (bytes + ARENA_REDZONE + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (bytes == 0)
        bytes = ARENA_ALIGN;
    if (!a->base && reserve(a))
        return NULL;
    if (bytes > a->cap - a->used)
        return NULL;
    void *p = a->base + a->used;
    a->used += bytes;
    ARENA_POISON(p, bytes);
    ARENA_UNPOISON(p, want);
    if (a->used > a->high) {
        a->high = a->used;
        commit_to(a, a->high);
    }
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
    if (!a || !a->base)
        return;
    munmap(a->base, a->cap);
    mem_uncharge(a->acct, a->cat, a->charged);
    a->acct->nblocks--;
    a->base = NULL;
    a->cap = a->used = a->high = a->charged = 0;
}

struct arena_mark arena_mark(const struct arena *a)
{
    struct arena_mark m = {a->used};
    return m;
}

void arena_rewind(struct arena *a, struct arena_mark m)
{
    if (m.used <= a->used) {
        ARENA_POISON(a->base + m.used, a->used - m.used);
        a->used = m.used;
    }
}
