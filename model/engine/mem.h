/*
 * mem: the memory accountant.
 *
 * Every block peftbench allocates for a model, a method or a training step
 * goes through an accountant with a category, so that trainable versus frozen
 * bytes and peak activation bytes are *results* written to the CSV, not
 * guesses.  Blocks are 64-byte aligned (AVX-512 friendly) and zeroed.
 *
 * The accountant is not thread-safe: allocate from one thread (the trainer's);
 * the parallel kernels only touch memory that was planned before.
 */
#ifndef MODEL_MEM_H
#define MODEL_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/checked.h" /* mem_mul_ok, for the accountant's callers */

enum mem_cat {
    MEM_FROZEN = 0,   /* frozen base weights */
    MEM_TRAINABLE,    /* trainable parameters (method, head, unfrozen base) */
    MEM_GRADS,        /* gradients of trainable parameters */
    MEM_OPTIM,        /* optimizer state (AdamW m and v) */
    MEM_ACTIVATIONS,  /* tensors kept from forward for backward */
    MEM_WORKSPACE,    /* scratch reused within a step */
    MEM_NCAT
};

struct mem_acct {
    size_t cur[MEM_NCAT];   /* bytes live now, per category */
    size_t peak[MEM_NCAT];  /* maximum of cur[] seen, per category */
    size_t cur_total;       /* sum of cur[] */
    size_t peak_total;      /* maximum of cur_total seen (not the sum of peaks) */
    size_t nblocks;         /* live blocks (leak check: 0 after teardown) */
};

/* Zero all counters. */
void mem_acct_init(struct mem_acct *a);

/* Allocate `bytes` zeroed, 64-byte aligned, charged to category c of a.
 * Returns NULL on failure or if bytes == 0.  a must not be NULL. */
void *mem_alloc(struct mem_acct *a, enum mem_cat c, size_t bytes);

/* Free a block from mem_alloc (NULL is a no-op); uncharges its category. */
void mem_free(struct mem_acct *a, void *p);

/* Charge / uncharge memory the caller maps itself (the activation arena's committed pages). */
void mem_charge(struct mem_acct *a, enum mem_cat c, size_t bytes);
void mem_uncharge(struct mem_acct *a, enum mem_cat c, size_t bytes);

/* Move a live block to another category (e.g. a base weight unfrozen by `full`). */
void mem_recharge(struct mem_acct *a, void *p, enum mem_cat c);

/* Size in bytes of a live block (as requested). */
size_t mem_size(const void *p);

/* Reset peaks to the current values (e.g. at the start of a measured phase). */
void mem_acct_reset_peaks(struct mem_acct *a);

/* Stable lower-case name of a category, e.g. "activations"; used in CSV column names. */
const char *mem_cat_name(enum mem_cat c);

/* Process peak resident set size in bytes (VmHWM), 0 if unknown. */
size_t mem_peak_rss(void);

/* Process current resident set size in bytes (VmRSS), 0 if unknown. */
size_t mem_cur_rss(void);

#endif
