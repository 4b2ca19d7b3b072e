/*
 * batching: tokenized splits and padded, length-bucketed batches.  Contract in
 * batching.h.
 */
#include "tasks/batching.h"

#include <stdlib.h>
#include <string.h>

#include "model/engine/rng.h"

void tok_split_free(struct tok_split *ts)
{
    if (!ts)
        return;
    free(ts->ids);
    free(ts->type_ids);
    free(ts->start);
    free(ts->labels);
    free(ts->targets);
    memset(ts, 0, sizeof *ts);
}

int batching_tokenize(struct tok_split *out, const struct split *s, enum task_kind kind,
                      const struct tokenizer *tok, int max_seq_len, struct err *e)
{
    memset(out, 0, sizeof *out);
    bool pair = kind == TASK_PAIR;
    for (size_t i = 0; i < s->n && !pair; i++)
        pair = s->ex[i].b != NULL;
    if (max_seq_len < (pair ? 4 : 3))
        return ERR_SET(e, ERR_CONFIG, "max_seq_len must be >= %d for %s (got %d)", pair ? 4 : 3,
                       pair ? "text pairs" : "single texts", max_seq_len);
    out->pad_id = tokenizer_pad_id(tok);
    if (out->pad_id < 0)
        return ERR_SET(e, ERR_CONFIG, "the tokenizer has no [PAD] token");
    int rc = ERR_OK;
    size_t cap = s->n * 16 + 16;
    out->start = malloc((s->n + 1) * sizeof *out->start);
    out->ids = malloc(cap * sizeof *out->ids);
    out->type_ids = malloc(cap * sizeof *out->type_ids);
    if (s->labeled && kind == TASK_REGRESSION)
        out->targets = malloc((s->n ? s->n : 1) * sizeof *out->targets);
    if (s->labeled && kind != TASK_REGRESSION)
        out->labels = malloc((s->n ? s->n : 1) * sizeof *out->labels);
    if (!out->start || !out->ids || !out->type_ids || (s->labeled && !out->labels && !out->targets))
        goto nomem;
    out->n = s->n;
    out->start[0] = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct example *x = &s->ex[i];
        if (kind == TASK_PAIR && !x->b) {
            rc = ERR_SET(e, ERR_STATE, "example %zu (id %llu) of a pair task has no second text", i,
                         (unsigned long long)x->id);
            goto fail;
        }
        struct encoding enc;
        rc = tokenizer_encode(tok, x->a, x->b, max_seq_len, &enc, e);
        if (rc) {
            err_prefix(e, "example %zu (id %llu)", i, (unsigned long long)x->id);
            goto fail;
        }
        size_t at = out->start[i], need = at + (size_t)enc.len;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            int *ni = realloc(out->ids, cap * sizeof *ni);
            if (ni)
                out->ids = ni;
            int *nt = ni ? realloc(out->type_ids, cap * sizeof *nt) : NULL;
            if (nt)
                out->type_ids = nt;
            if (!ni || !nt) {
                encoding_free(&enc);
                goto nomem;
            }
        }
        memcpy(out->ids + at, enc.ids, (size_t)enc.len * sizeof *enc.ids);
        memcpy(out->type_ids + at, enc.type_ids, (size_t)enc.len * sizeof *enc.type_ids);
        out->start[i + 1] = need;
        out->ntruncated += enc.truncated;
        if (enc.len > out->max_len)
            out->max_len = enc.len;
        encoding_free(&enc);
        if (out->labels)
            out->labels[i] = x->label;
        if (out->targets)
            out->targets[i] = x->target;
    }
    out->ntokens = out->start[s->n];
    return ERR_OK;
nomem:
    rc = ERR_SET(e, ERR_NOMEM, "out of memory tokenizing %zu examples", s->n);
fail:
    tok_split_free(out);
    return rc;
}

/* ------------------------------------------------------------------ batcher */

void batcher_free(struct batcher *b)
{
    if (!b)
        return;
    free(b->order);
    free(b->bstart);
    free(b->ids);
    free(b->type_ids);
    free(b->mask);
    free(b->labels);
    free(b->targets);
    free(b->keys);
    free(b->tmp);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

size_t batcher_count(const struct batcher *b)
{
    return b->nbatches;
}

int batcher_init(struct batcher *b, const struct tok_split *ts, int batch_size, bool train,
                 int bucket, struct err *e)
{
    memset(b, 0, sizeof *b);
    if (batch_size < 1)
        return ERR_SET(e, ERR_CONFIG, "batch_size must be >= 1 (got %d)", batch_size);
    if (bucket < 0)
        return ERR_SET(e, ERR_CONFIG, "bucket must be >= 0 (got %d)", bucket);
    b->ts = ts;
    b->batch_size = batch_size;
    b->train = train;
    b->bucket = bucket;
    b->nbatches = (ts->n + (size_t)batch_size - 1) / (size_t)batch_size;
    size_t cells = (size_t)batch_size * (size_t)(ts->max_len > 0 ? ts->max_len : 1);
    b->order = malloc((ts->n ? ts->n : 1) * sizeof *b->order);
    b->bstart = malloc((b->nbatches + 1) * sizeof *b->bstart);
    b->ids = malloc(cells * sizeof *b->ids);
    b->type_ids = malloc(cells * sizeof *b->type_ids);
    b->mask = malloc(cells * sizeof *b->mask);
    b->labels = malloc((size_t)batch_size * sizeof *b->labels);
    b->targets = malloc((size_t)batch_size * sizeof *b->targets);
    b->keys = malloc((ts->n ? ts->n : 1) * sizeof *b->keys);
    b->tmp = malloc((ts->n ? ts->n : 1) * sizeof *b->tmp);
    b->perm = malloc((b->nbatches ? b->nbatches : 1) * sizeof *b->perm);
    if (!b->order || !b->bstart || !b->ids || !b->type_ids || !b->mask || !b->labels ||
        !b->targets || !b->keys || !b->tmp || !b->perm) {
        batcher_free(b);
        return ERR_SET(e, ERR_NOMEM, "out of memory for batches of %d x %d", batch_size,
                       ts->max_len);
    }
    batcher_epoch(b, 0, 0);
    return ERR_OK;
}

static int key_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static void shuffle(size_t *v, size_t n, struct rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void batcher_epoch(struct batcher *b, uint64_t seed, int epoch)
{
    const struct tok_split *ts = b->ts;
    size_t n = ts->n, B = (size_t)b->batch_size;
    for (size_t i = 0; i < n; i++)
        b->order[i] = i;
    for (size_t k = 0; k <= b->nbatches; k++)
        b->bstart[k] = k * B < n ? k * B : n;
    if (!b->train || n == 0)
        return;

    struct rng r;
    rng_seed(&r, rng_hash(seed, 0x42415443 /* "BATC" */, (uint64_t)epoch));
    shuffle(b->order, n, &r);
    size_t *perm = b->perm, *tmp = b->tmp;
    if (b->bucket) {
        /* key = (length << 40) | index: sorts by length, ties by index (n < 2^40) */
        size_t chunk = (size_t)b->bucket * B;
        for (size_t c0 = 0; c0 < n; c0 += chunk) {
            size_t m = n - c0 < chunk ? n - c0 : chunk;
            for (size_t i = 0; i < m; i++) {
                size_t x = b->order[c0 + i];
                b->keys[i] = ((uint64_t)(ts->start[x + 1] - ts->start[x]) << 40) | x;
            }
            qsort(b->keys, m, sizeof *b->keys, key_cmp);
            for (size_t i = 0; i < m; i++)
                b->order[c0 + i] = (size_t)(b->keys[i] & (((uint64_t)1 << 40) - 1));
        }
    }
    for (size_t k = 0; k < b->nbatches; k++)
        perm[k] = k;
    shuffle(perm, b->nbatches, &r);
    /* lay the batches out in the shuffled batch order */
    size_t o = 0;
    for (size_t k = 0; k < b->nbatches; k++) {
        size_t s0 = perm[k] * B, s1 = s0 + B < n ? s0 + B : n;
        b->bstart[k] = o;
        memcpy(tmp + o, b->order + s0, (s1 - s0) * sizeof *tmp);
        o += s1 - s0;
    }
    b->bstart[b->nbatches] = o;
    memcpy(b->order, tmp, n * sizeof *tmp);
}

int batcher_get(struct batcher *b, size_t k, struct batch *out, const size_t **rows,
                size_t *real_tokens, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (k >= b->nbatches)
        return ERR_SET(e, ERR_RANGE, "batch %zu of %zu requested", k, b->nbatches);
    const struct tok_split *ts = b->ts;
    const size_t *r = b->order + b->bstart[k];
    int B = (int)(b->bstart[k + 1] - b->bstart[k]);
    int T = 0;
    for (int i = 0; i < B; i++) {
        int len = (int)(ts->start[r[i] + 1] - ts->start[r[i]]);
        if (len > T)
            T = len;
    }
    size_t real = 0;
    for (int i = 0; i < B; i++) {
        size_t s0 = ts->start[r[i]];
        int len = (int)(ts->start[r[i] + 1] - s0);
        int *ids = b->ids + (size_t)i * T, *tt = b->type_ids + (size_t)i * T,
            *m = b->mask + (size_t)i * T;
        memcpy(ids, ts->ids + s0, (size_t)len * sizeof *ids);
        memcpy(tt, ts->type_ids + s0, (size_t)len * sizeof *tt);
        for (int j = 0; j < len; j++)
            m[j] = 1;
        for (int j = len; j < T; j++) {
            ids[j] = ts->pad_id;
            tt[j] = 0;
            m[j] = 0;
        }
        real += (size_t)len;
        if (ts->labels)
            b->labels[i] = ts->labels[r[i]];
        if (ts->targets)
            b->targets[i] = ts->targets[r[i]];
    }
    out->B = B;
    out->T = T;
    out->ids = b->ids;
    out->type_ids = b->type_ids;
    out->mask = b->mask;
    out->labels = ts->labels ? b->labels : NULL;
    out->targets = ts->targets ? b->targets : NULL;
    if (rows)
        *rows = r;
    if (real_tokens)
        *real_tokens = real;
    return ERR_OK;
}
