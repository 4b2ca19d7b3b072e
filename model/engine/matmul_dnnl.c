/*
 * matmul_dnnl: oneDNN 2.x matmul primitives for bf16 x bf16 -> fp32 products, cached per shape
 * (contract in matmul_dnnl.h).  Uses the v2 C API: memory descriptors by strides (which express
 * both the transposes and the row strides), op descriptor -> primitive descriptor (with alpha as
 * an output scale and beta as a sum post-op) -> primitive, created once per key; the memory
 * objects are created with the primitive and only re-pointed at each call.
 */
#include "model/engine/matmul_dnnl.h"

#include <dnnl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mm_key { /* everything that defines one primitive; 4-byte fields, no padding */
    int M, N, K, ta, tb, lda, ldb, ldc;
    uint32_t alpha, beta; /* float bits */
};

struct mm_entry {
    bool used;
    struct mm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
};

struct matmul_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    struct mem_acct *acct;
    struct mm_entry cache[MATMUL_DNNL_CACHE];
    int nused;
    long created;
    bf16_t *scratch[MATMUL_DNNL_SCRATCH];
    size_t scratch_n[MATMUL_DNNL_SCRATCH];
};

static int dnnl_fail(struct err *e, dnnl_status_t s, const char *what)
{
    return ERR_SET(e, s == dnnl_out_of_memory ? ERR_NOMEM : ERR_UNSUPPORTED,
                   "oneDNN: %s failed (status %d)", what, (int)s);
}

int matmul_dnnl_create(struct matmul_dnnl **out, struct mem_acct *acct, struct err *e)
{
    struct matmul_dnnl *d = calloc(1, sizeof *d);
    if (!d)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the oneDNN context");
    d->acct = acct;
    dnnl_status_t s = dnnl_engine_create(&d->eng, dnnl_cpu, 0);
    if (s == dnnl_success)
        s = dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        if (d->eng)
            dnnl_engine_destroy(d->eng);
        free(d);
        return dnnl_fail(e, s, "engine creation");
    }
    *out = d;
    return ERR_OK;
}

static void entry_clear(struct mm_entry *en)
{
    if (!en->used)
        return;
    dnnl_primitive_destroy(en->prim);
    dnnl_memory_destroy(en->a);
    dnnl_memory_destroy(en->b);
    dnnl_memory_destroy(en->c);
    memset(en, 0, sizeof *en);
}

static void cache_clear(struct matmul_dnnl *d)
{
    for (int i = 0; i < MATMUL_DNNL_CACHE; i++)
        entry_clear(&d->cache[i]);
    d->nused = 0;
}

void matmul_dnnl_destroy(struct matmul_dnnl *d)
{
    if (!d)
        return;
    cache_clear(d);
    for (int i = 0; i < MATMUL_DNNL_SCRATCH; i++)
        mem_free(d->acct, d->scratch[i]);
    dnnl_stream_destroy(d->stream);
    dnnl_engine_destroy(d->eng);
    free(d);
}

long matmul_dnnl_created(const struct matmul_dnnl *d)
{
    return d->created;
}

bf16_t *matmul_dnnl_scratch(struct matmul_dnnl *d, int slot, size_t n, struct err *e)
{
    if (n <= d->scratch_n[slot])
        return d->scratch[slot];
    mem_free(d->acct, d->scratch[slot]);
    d->scratch_n[slot] = 0;
    d->scratch[slot] = mem_alloc(d->acct, MEM_WORKSPACE, (n ? n : 1) * sizeof(bf16_t));
    if (!d->scratch[slot]) {
        ERR_SET(e, ERR_NOMEM, "out of memory for a bf16 cast buffer (%zu values)", n);
        return NULL;
    }
    d->scratch_n[slot] = n;
    return d->scratch[slot];
}

static uint32_t key_hash(const struct mm_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Row-major 2-D descriptor of logical shape (rows, cols) read with the given strides. */
static dnnl_status_t md_strided(dnnl_memory_desc_t *md, int rows, int cols, dnnl_data_type_t dt,
                                long s_row, long s_col)
{
    dnnl_dims_t dims = {rows, cols}, strides = {s_row, s_col};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* alpha as an output scale, beta as a sum post-op; NULL attr when both are trivial. */
static dnnl_status_t make_attr(dnnl_primitive_attr_t *attr, float alpha, float beta)
{
    *attr = NULL;
    if (alpha == 1.0f && beta == 0.0f)
        return dnnl_success;
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s == dnnl_success && alpha != 1.0f)
        s = dnnl_primitive_attr_set_output_scales(*attr, 1, 0, &alpha);
    if (s == dnnl_success && beta != 0.0f) {
        dnnl_post_ops_t po;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) {
            s = dnnl_post_ops_append_sum(po, beta);
            if (s == dnnl_success)
                s = dnnl_primitive_attr_set_post_ops(*attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    return s;
}

/* Build the primitive and its memory objects for key k into en. */
static int entry_build(struct matmul_dnnl *d, struct mm_entry *en, const struct mm_key *k,
                       float alpha, float beta, struct err *e)
{
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t op;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = md_strided(&a, k->M, k->K, dnnl_bf16, k->ta ? 1 : k->lda, k->ta ? k->lda : 1);
    if (s == dnnl_success)
        s = md_strided(&b, k->K, k->N, dnnl_bf16, k->tb ? 1 : k->ldb, k->tb ? k->ldb : 1);
    if (s == dnnl_success)
        s = md_strided(&c, k->M, k->N, dnnl_f32, k->ldc, 1);
    if (s == dnnl_success)
        s = dnnl_matmul_desc_init(&op, &a, &b, NULL, &c);
    if (s == dnnl_success)
        s = make_attr(&attr, alpha, beta);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &op, attr, d->eng, NULL);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return dnnl_fail(e, s, "matmul primitive descriptor");
    memset(en, 0, sizeof *en);
    s = dnnl_primitive_create(&en->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s == dnnl_success)
        s = dnnl_memory_create(&en->a, &a, d->eng, DNNL_MEMORY_NONE);
    if (s == dnnl_success)
        s = dnnl_memory_create(&en->b, &b, d->eng, DNNL_MEMORY_NONE);
    if (s == dnnl_success)
        s = dnnl_memory_create(&en->c, &c, d->eng, DNNL_MEMORY_NONE);
    en->used = true; /* so that entry_clear releases what was made */
    if (s != dnnl_success) {
        entry_clear(en);
        return dnnl_fail(e, s, "matmul primitive");
    }
    en->key = *k;
    d->nused++;
    d->created++;
    return ERR_OK;
}

/* The cached entry for k (linear probing), built on a miss; NULL + e on failure. */
static struct mm_entry *lookup(struct matmul_dnnl *d, const struct mm_key *k, float alpha,
                               float beta, struct err *e)
{
    if (d->nused >= MATMUL_DNNL_CACHE * 3 / 4)
        cache_clear(d); /* bounded: rebuild the working set rather than grow */
    uint32_t i = key_hash(k) % MATMUL_DNNL_CACHE;
    for (;; i = (i + 1) % MATMUL_DNNL_CACHE) {
        struct mm_entry *en = &d->cache[i];
        if (en->used && memcmp(&en->key, k, sizeof *k) == 0)
            return en;
        if (!en->used)
            return entry_build(d, en, k, alpha, beta, e) ? NULL : en;
    }
}

int matmul_dnnl_bf16(struct matmul_dnnl *d, bool ta, bool tb, int M,
                     int N, int K, float alpha, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                     float beta, float *C, int ldc, struct err *e)
{
    if (M <= 0 || N <= 0)
        return ERR_OK;
    if (K <= 0) { /* empty sum: C = beta * C, as BLAS */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * (size_t)ldc + (size_t)j] =
                    beta == 0.0f ? 0.0f : beta * C[(size_t)i * (size_t)ldc + (size_t)j];
        return ERR_OK;
    }
    struct mm_key k = {M, N, K, ta, tb, lda, ldb, ldc, 0, 0};
    memcpy(&k.alpha, &alpha, sizeof alpha);
    memcpy(&k.beta, &beta, sizeof beta);
    struct mm_entry *en = lookup(d, &k, alpha, beta, e);
    if (!en)
        return e->code;
    dnnl_status_t s = dnnl_memory_set_data_handle(en->a, (void *)(uintptr_t)A);
    if (s == dnnl_success)
        s = dnnl_memory_set_data_handle(en->b, (void *)(uintptr_t)B);
    if (s == dnnl_success)
        s = dnnl_memory_set_data_handle(en->c, C);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, en->a}, {DNNL_ARG_WEIGHTS, en->b},
                               {DNNL_ARG_DST, en->c}};
    if (s == dnnl_success)
        s = dnnl_primitive_execute(en->prim, d->stream, 3, args);
    if (s == dnnl_success)
        s = dnnl_stream_wait(d->stream);
    return s == dnnl_success ? ERR_OK : dnnl_fail(e, s, "matmul execution");
}
