#include "model/engine/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries a 64-byte header in front of the aligned payload so
 * that mem_free needs no size argument and a category move is O(1). */
struct mem_hdr {
    size_t bytes;
    int cat;
    uint32_t magic;
};

#define MEM_ALIGN 64
#define MEM_MAGIC 0x6d656d31u

_Static_assert(sizeof(struct mem_hdr) <= MEM_ALIGN, "header must fit the alignment pad");

static struct mem_hdr *hdr_of(const void *p)
{
    return (struct mem_hdr *)((char *)(uintptr_t)p - MEM_ALIGN);
}

void mem_acct_init(struct mem_acct *a)
{
    memset(a, 0, sizeof *a);
}

static void charge(struct mem_acct *a, int c, size_t bytes)
{
    a->cur[c] += bytes;
    a->cur_total += bytes;
    if (a->cur[c] > a->peak[c])
        a->peak[c] = a->cur[c];
    if (a->cur_total > a->peak_total)
        a->peak_total = a->cur_total;
}

static void uncharge(struct mem_acct *a, int c, size_t bytes)
{
    a->cur[c] -= bytes;
    a->cur_total -= bytes;
}

void *mem_alloc(struct mem_acct *a, enum mem_cat c, size_t bytes)
{
    if (bytes == 0 || (int)c < 0 || c >= MEM_NCAT || bytes > SIZE_MAX - 2 * MEM_ALIGN)
        return NULL;
    size_t total = (bytes + MEM_ALIGN + MEM_ALIGN - 1) / MEM_ALIGN * MEM_ALIGN;
    char *base = aligned_alloc(MEM_ALIGN, total);
    if (!base)
        return NULL;
    memset(base, 0, total);
    struct mem_hdr *h = (struct mem_hdr *)base;
    h->bytes = bytes;
    h->cat = (int)c;
    h->magic = MEM_MAGIC;
    charge(a, c, bytes);
    a->nblocks++;
    return base + MEM_ALIGN;
}

void mem_free(struct mem_acct *a, void *p)
{
    if (!p)
        return;
    struct mem_hdr *h = hdr_of(p);
    if (h->magic != MEM_MAGIC)
        abort(); /* invariant: only blocks from mem_alloc reach here */
    uncharge(a, h->cat, h->bytes);
    a->nblocks--;
    h->magic = 0;
    free(h);
}

void mem_charge(struct mem_acct *a, enum mem_cat c, size_t bytes)
{
    if ((int)c >= 0 && c < MEM_NCAT)
        charge(a, c, bytes);
}

void mem_uncharge(struct mem_acct *a, enum mem_cat c, size_t bytes)
{
    if ((int)c >= 0 && c < MEM_NCAT)
        uncharge(a, c, bytes);
}

void mem_recharge(struct mem_acct *a, void *p, enum mem_cat c)
{
    if (!p)
        return;
    struct mem_hdr *h = hdr_of(p);
    uncharge(a, h->cat, h->bytes);
    h->cat = (int)c;
    charge(a, c, h->bytes);
}

size_t mem_size(const void *p)
{
    return p ? hdr_of(p)->bytes : 0;
}

void mem_acct_reset_peaks(struct mem_acct *a)
{
    for (int c = 0; c < MEM_NCAT; c++)
        a->peak[c] = a->cur[c];
    a->peak_total = a->cur_total;
}

const char *mem_cat_name(enum mem_cat c)
{
    static const char *names[MEM_NCAT] = {"frozen",      "trainable", "grads",
                                          "optimizer",   "activations", "workspace"};
    return ((int)c >= 0 && c < MEM_NCAT) ? names[c] : "unknown";
}

static size_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0, klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            kb = strtoull(line + klen, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

size_t mem_peak_rss(void)
{
    return status_kb("VmHWM:");
}

size_t mem_cur_rss(void)
{
    return status_kb("VmRSS:");
}
