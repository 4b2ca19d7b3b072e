/*
 * vocab_build: WordPiece vocabulary trainer (contract and algorithm in vocab_build.h).
 *
 * Data structures:
 *   words   the distinct corpus words with their counts, each as an array of symbol ids
 *   syms    every token text by id (the vocabulary being built), with a string -> id map
 *   pairs   every adjacent symbol pair (a, b) that occurs: its corpus count (sum of the
 *           counts of the words it occurs in, per occurrence) and the words it was seen
 *           in ("where": may hold stale entries and repeats; merging re-checks the word)
 *   heap    lazy max-heap of (count, a, b) entries, see vocab_build.h
 */
#include "model/text/vocab_build.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"

static const char *const vb_special[VOCAB_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                       "[MASK]"};

void vocab_build_opts_default(struct vocab_build_opts *o)
{
    o->vocab_size = VOCAB_DEFAULT_SIZE;
    o->min_frequency = 2;
    o->limit_alphabet = 0;
    tokenizer_opts_default(&o->tok);
}

void vocab_tokens_free(char **tokens, int n)
{
    for (int i = 0; tokens && i < n; i++)
        free(tokens[i]);
    free(tokens);
}

static uint64_t vb_fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

static uint64_t vb_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- string -> int map (keys borrowed: they must outlive the map) -------------- */

struct smap {
    const char **keys; /* (cap) NULL = empty slot */
    int *vals;         /* (cap) */
    size_t cap, n;     /* cap is a power of two, load <= 1/2 */
};

static void smap_free(struct smap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t smap_slot(const struct smap *m, const char *s, size_t len)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)vb_fnv(s, len) & mask;; i = (i + 1) & mask)
        if (!m->keys[i] || (strncmp(m->keys[i], s, len) == 0 && m->keys[i][len] == '\0'))
            return i;
}

static int smap_get(const struct smap *m, const char *s, size_t len)
{
    if (m->cap == 0)
        return -1;
    size_t i = smap_slot(m, s, len);
    return m->keys[i] ? m->vals[i] : -1;
}

/* Insert key (NUL-terminated, not present yet) -> v.  0 or -1 (out of memory). */
static int smap_put(struct smap *m, const char *key, int v)
{
    if (2 * (m->n + 1) > m->cap) {
        struct smap g = {0};
        g.cap = m->cap ? 2 * m->cap : 1024;
        g.keys = calloc(g.cap, sizeof *g.keys);
        g.vals = malloc(g.cap * sizeof *g.vals);
        if (!g.keys || !g.vals) {
            smap_free(&g);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = smap_slot(&g, m->keys[i], strlen(m->keys[i]));
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
            }
        g.n = m->n;
        smap_free(m);
        *m = g;
    }
    size_t i = smap_slot(m, key, strlen(key));
    m->keys[i] = key;
    m->vals[i] = v;
    m->n++;
    return 0;
}

/* ---- uint64 -> int map (UINT64_MAX is the empty key) ---------------------------- */

struct umap {
    uint64_t *keys;
    int *vals;
    size_t cap, n;
};

static void umap_free(struct umap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t umap_slot(const struct umap *m, uint64_t k)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)vb_mix(k) & mask;; i = (i + 1) & mask)
        if (m->keys[i] == UINT64_MAX || m->keys[i] == k)
            return i;
}

static int umap_get(const struct umap *m, uint64_t k)
{
    if (m->cap == 0)
        return -1;
    size_t i = umap_slot(m, k);
    return m->keys[i] == k ? m->vals[i] : -1;
}

static int umap_put(struct umap *m, uint64_t k, int v)
{
    if (2 * (m->n + 1) > m->cap) {
        struct umap g = {0};
        g.cap = m->cap ? 2 * m->cap : 1024;
        g.keys = malloc(g.cap * sizeof *g.keys);
        g.vals = malloc(g.cap * sizeof *g.vals);
        if (!g.keys || !g.vals) {
            umap_free(&g);
            return -1;
        }
        memset(g.keys, 0xFF, g.cap * sizeof *g.keys);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != UINT64_MAX) {
                size_t j = umap_slot(&g, m->keys[i]);
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
            }
        g.n = m->n;
        umap_free(m);
        *m = g;
    }
    size_t i = umap_slot(m, k);
    if (m->keys[i] != k)
        m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
    return 0;
}

/* ---- trainer state -------------------------------------------------------------- */

struct vb_word {
    char *text;      /* owned */
    long long count; /* occurrences in the corpus */
    int *sym;        /* owned (len) symbol ids, or NULL when the word is left out */
    int len;
};

struct vb_pair {
    int a, b;
    long long count;
    int *where; /* owned (nwhere) word indices */
    int nwhere, capwhere;
};

struct vb_heap_entry {
    long long count;
    int a, b;
    int pair;
};

struct vb_char {
    uint32_t cp;
    long long count;
};

struct vb {
    struct vb_word *words;
    size_t nwords, capwords;
    struct smap wordmap;
    char **syms; /* owned (nsyms) token texts: the vocabulary */
    int nsyms, capsyms;
    struct smap symmap;
    struct vb_pair *pairs;
    int npairs, cappairs;
    struct umap pairmap; /* (a << 32 | b) -> pair index */
    struct vb_heap_entry *heap;
    size_t nheap, capheap;
    int *changed; /* pairs whose count rose during the current merge */
    int nchanged, capchanged;
    bool *is_changed; /* (cappairs) */
    int *stamp;       /* (nwords) last merge that rewrote the word */
};

static int vb_nomem(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "vocabulary builder: out of memory");
}

/* Grow *p (elem bytes each, capacity *cap) to hold need items. */
static int vb_grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (need > INT_MAX / 2)
        return -1;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static void vb_free(struct vb *v)
{
    for (size_t i = 0; i < v->nwords; i++) {
        free(v->words[i].text);
        free(v->words[i].sym);
    }
    free(v->words);
    smap_free(&v->wordmap);
    vocab_tokens_free(v->syms, v->nsyms);
    smap_free(&v->symmap);
    for (int i = 0; i < v->npairs; i++)
        free(v->pairs[i].where);
    free(v->pairs);
    umap_free(&v->pairmap);
    free(v->heap);
    free(v->changed);
    free(v->is_changed);
    free(v->stamp);
}

/* Add token text s (owned from now on, freed on failure) as the next symbol id. */
static int vb_add_sym(struct vb *v, char *s, struct err *e)
{
    if (vb_grow((void **)&v->syms, &v->capsyms, v->nsyms + 1, sizeof *v->syms) ||
        smap_put(&v->symmap, s, v->nsyms)) {
        free(s);
        return vb_nomem(e);
    }
    v->syms[v->nsyms++] = s;
    return 0;
}

static int vb_count_word(struct vb *v, const char *w, struct err *e)
{
    int k = smap_get(&v->wordmap, w, strlen(w));
    if (k >= 0) {
        v->words[k].count++;
        return 0;
    }
    if (v->nwords >= (size_t)INT_MAX)
        return ERR_SET(e, ERR_LIMIT, "vocabulary builder: more than %d distinct words", INT_MAX);
    if (v->nwords == v->capwords) {
        size_t nc = v->capwords ? 2 * v->capwords : 4096;
        struct vb_word *nw = realloc(v->words, nc * sizeof *nw);
        if (!nw)
            return vb_nomem(e);
        v->words = nw;
        v->capwords = nc;
    }
    struct vb_word *x = &v->words[v->nwords];
    memset(x, 0, sizeof *x);
    if (!(x->text = strdup(w)))
        return vb_nomem(e);
    x->count = 1;
    if (smap_put(&v->wordmap, x->text, (int)v->nwords)) {
        free(x->text);
        return vb_nomem(e);
    }
    v->nwords++;
    return 0;
}

/* ---- heap ----------------------------------------------------------------------- */

/* True if x should pop before y: higher count, then lower a, then lower b. */
static bool vb_before(const struct vb_heap_entry *x, const struct vb_heap_entry *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    if (x->a != y->a)
        return x->a < y->a;
    return x->b < y->b;
}

static int vb_push(struct vb *v, int pair)
{
    if (v->nheap == v->capheap) {
        size_t nc = v->capheap ? 2 * v->capheap : 4096;
        struct vb_heap_entry *h = realloc(v->heap, nc * sizeof *h);
        if (!h)
            return -1;
        v->heap = h;
        v->capheap = nc;
    }
    const struct vb_pair *p = &v->pairs[pair];
    struct vb_heap_entry x = {p->count, p->a, p->b, pair};
    size_t i = v->nheap++;
    while (i > 0 && vb_before(&x, &v->heap[(i - 1) / 2])) {
        v->heap[i] = v->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    v->heap[i] = x;
    return 0;
}

static struct vb_heap_entry vb_pop(struct vb *v)
{
    struct vb_heap_entry top = v->heap[0], x = v->heap[--v->nheap];
    size_t i = 0, n = v->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && vb_before(&v->heap[c + 1], &v->heap[c]))
            c++;
        if (!vb_before(&v->heap[c], &x))
            break;
        v->heap[i] = v->heap[c];
        i = c;
    }
    if (n > 0)
        v->heap[i] = x;
    return top;
}

/* ---- pairs ---------------------------------------------------------------------- */

static uint64_t vb_key(int a, int b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

/* count(a, b) += delta for word w; a rise records w in "where" and marks the pair changed. */
static int vb_pair_add(struct vb *v, int a, int b, long long delta, int w, struct err *e)
{
    int k = umap_get(&v->pairmap, vb_key(a, b));
    if (k < 0) {
        int old = v->cappairs;
        if (vb_grow((void **)&v->pairs, &v->cappairs, v->npairs + 1, sizeof *v->pairs))
            return vb_nomem(e);
        if (v->cappairs != old) {
            bool *f = realloc(v->is_changed, (size_t)v->cappairs * sizeof *f);
            if (!f)
                return vb_nomem(e);
            memset(f + old, 0, (size_t)(v->cappairs - old) * sizeof *f);
            v->is_changed = f;
        }
        k = v->npairs;
        if (umap_put(&v->pairmap, vb_key(a, b), k))
            return vb_nomem(e);
        memset(&v->pairs[k], 0, sizeof v->pairs[k]);
        v->pairs[k].a = a;
        v->pairs[k].b = b;
        v->npairs++;
    }
    struct vb_pair *p = &v->pairs[k];
    p->count += delta;
    if (delta <= 0)
        return 0;
    if (p->nwhere == 0 || p->where[p->nwhere - 1] != w) {
        if (vb_grow((void **)&p->where, &p->capwhere, p->nwhere + 1, sizeof *p->where))
            return vb_nomem(e);
        p->where[p->nwhere++] = w;
    }
    if (!v->is_changed[k]) {
        if (vb_grow((void **)&v->changed, &v->capchanged, v->nchanged + 1, sizeof *v->changed))
            return vb_nomem(e);
        v->changed[v->nchanged++] = k;
        v->is_changed[k] = true;
    }
    return 0;
}

/* Push the pairs whose count rose onto the heap and clear the marks. */
static int vb_flush_changed(struct vb *v, struct err *e)
{
    for (int i = 0; i < v->nchanged; i++) {
        int k = v->changed[i];
        v->is_changed[k] = false;
        if (v->pairs[k].count > 0 && vb_push(v, k))
            return vb_nomem(e);
    }
    v->nchanged = 0;
    return 0;
}

struct vb_delta {
    uint64_t key;
    long long d;
};

static int vb_delta_cmp(const void *x, const void *y)
{
    uint64_t a = ((const struct vb_delta *)x)->key, b = ((const struct vb_delta *)y)->key;
    return (a > b) - (a < b);
}

/* Merge (a, b) -> ab in word w, left to right, and apply the net change of its pair
 * counts (only pairs that really changed are touched).  d: scratch of 2 * len. */
static int vb_merge_word(struct vb *v, int w, int a, int b, int ab, struct vb_delta *d,
                         struct err *e)
{
    struct vb_word *x = &v->words[w];
    int *s = x->sym, n = x->len, nd = 0, j = 0;
    for (int i = 0; i + 1 < n; i++)
        d[nd++] = (struct vb_delta){vb_key(s[i], s[i + 1]), -x->count};
    for (int i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[j++] = ab;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    x->len = n = j;
    for (int i = 0; i + 1 < n; i++)
        d[nd++] = (struct vb_delta){vb_key(s[i], s[i + 1]), x->count};
    qsort(d, (size_t)nd, sizeof *d, vb_delta_cmp);
    for (int i = 0; i < nd;) {
        long long sum = 0;
        int k = i;
        for (; k < nd && d[k].key == d[i].key; k++)
            sum += d[k].d;
        if (sum != 0 && vb_pair_add(v, (int)(d[i].key >> 32), (int)(uint32_t)d[i].key, sum, w, e))
            return e->code;
        i = k;
    }
    return 0;
}

/* ---- phases ----------------------------------------------------------------------- */

static int vb_count(struct vb *v, const struct tokenizer *t, const char *const *lines,
                    size_t nlines, struct vocab_build_stats *st, struct err *e)
{
    for (size_t i = 0; i < nlines; i++) {
        char **w = NULL;
        int n = 0;
        if (tokenizer_basic_split(t, lines[i], &w, &n, e))
            return err_prefix(e, "corpus line %zu", i + 1);
        int rc = 0;
        for (int k = 0; k < n && !rc; k++)
            rc = vb_count_word(v, w[k], e);
        free(w);
        if (rc)
            return rc;
        st->words += (size_t)n;
    }
    return 0;
}

static int vb_char_count_cmp(const void *x, const void *y)
{
    const struct vb_char *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

static int vb_char_cp_cmp(const void *x, const void *y)
{
    const struct vb_char *a = x, *b = y;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

/* Decode word w into cps (caller-sized); returns the number of code points. */
static size_t vb_decode(const char *w, uint32_t *cps)
{
    size_t n = 0, len = strlen(w);
    for (size_t pos = 0; pos < len;)
        cps[n++] = utf8_next(w, &pos);
    return n;
}

/* Alphabet: characters of the usable words, weighted by word counts; the symbols
 * "c" (ids VOCAB_NSPECIAL + i) and "##c" (after all of those), in code-point order
 * (= UTF-8 byte order). */
static int vb_alphabet(struct vb *v, const struct vocab_build_opts *o, struct umap *charid,
                       int *nalpha, struct err *e)
{
    struct umap idx = {0};
    struct vb_char *ch = NULL;
    int nch = 0, capch = 0, rc = 0;
    uint32_t *cps = NULL;
    size_t capcps = 0;
    for (size_t w = 0; w < v->nwords && !rc; w++) {
        size_t len = strlen(v->words[w].text);
        if (len + 1 > capcps) {
            free(cps);
            capcps = 2 * len + 1;
            if (!(cps = malloc(capcps * sizeof *cps))) {
                rc = vb_nomem(e);
                break;
            }
        }
        size_t n = vb_decode(v->words[w].text, cps);
        if (n > (size_t)o->tok.max_word_chars) {
            v->words[w].len = -1; /* WordPiece makes it [UNK]: not a training word */
            continue;
        }
        for (size_t i = 0; i < n && !rc; i++) {
            int k = umap_get(&idx, cps[i]);
            if (k < 0) {
                if (vb_grow((void **)&ch, &capch, nch + 1, sizeof *ch) ||
                    umap_put(&idx, cps[i], nch)) {
                    rc = vb_nomem(e);
                    break;
                }
                ch[nch++] = (struct vb_char){cps[i], 0};
                k = nch - 1;
            }
            ch[k].count += v->words[w].count;
        }
    }
    free(cps);
    umap_free(&idx);
    if (rc) {
        free(ch);
        return rc;
    }
    if (o->limit_alphabet > 0 && nch > o->limit_alphabet) {
        qsort(ch, (size_t)nch, sizeof *ch, vb_char_count_cmp);
        nch = o->limit_alphabet;
    }
    if (nch > 0)
        qsort(ch, (size_t)nch, sizeof *ch, vb_char_cp_cmp);
    *nalpha = nch;
    long long need = VOCAB_NSPECIAL + 2LL * nch;
    if (nch == 0)
        rc = ERR_SET(e, ERR_CONFIG, "vocabulary builder: the corpus has no words");
    else if (need > o->vocab_size)
        rc = ERR_SET(e, ERR_CONFIG,
                     "vocab size %d is smaller than the %d special tokens plus the alphabet of "
                     "%d characters (%lld tokens with their ## forms); raise the vocab size to "
                     "at least %lld or limit the alphabet",
                     o->vocab_size, VOCAB_NSPECIAL, nch, 2LL * nch, need);
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int i = 0; i < nch && !rc; i++) {
            char buf[8] = "##";
            buf[2 + utf8_encode(ch[i].cp, buf + 2)] = '\0';
            char *s = strdup(pass ? buf : buf + 2);
            if (!s)
                rc = vb_nomem(e);
            else if (pass == 0 && umap_put(charid, ch[i].cp, v->nsyms))
                rc = vb_nomem(e), free(s);
            else
                rc = vb_add_sym(v, s, e);
        }
    free(ch);
    return rc;
}

/* Words as symbol arrays, and the initial pair counts. */
static int vb_init_words(struct vb *v, const struct umap *charid, int nalpha,
                         struct vocab_build_stats *st, struct err *e)
{
    for (size_t w = 0; w < v->nwords; w++) {
        struct vb_word *x = &v->words[w];
        if (x->len < 0) {
            st->skipped++;
            x->len = 0;
            continue;
        }
        size_t len = strlen(x->text);
        if (!(x->sym = malloc((len + 1) * sizeof *x->sym)))
            return vb_nomem(e);
        int n = 0;
        bool ok = true;
        for (size_t pos = 0; pos < len;) {
            int id = umap_get(charid, utf8_next(x->text, &pos));
            if (id < 0) {
                ok = false;
                break;
            }
            x->sym[n] = n > 0 ? id + nalpha : id; /* "##c" sits nalpha ids after "c" */
            n++;
        }
        if (!ok) { /* a character outside the limited alphabet */
            free(x->sym);
            x->sym = NULL;
            st->skipped++;
            continue;
        }
        x->len = n;
        st->unique_words++;
        for (int i = 0; i + 1 < n; i++)
            if (vb_pair_add(v, x->sym[i], x->sym[i + 1], x->count, (int)w, e))
                return e->code;
    }
    return vb_flush_changed(v, e);
}

static int vb_merges(struct vb *v, const struct vocab_build_opts *o, struct vocab_build_stats *st,
                     struct err *e)
{
    struct vb_delta *d = NULL;
    int capd = 0, rc = 0;
    if (!(v->stamp = calloc(v->nwords ? v->nwords : 1, sizeof *v->stamp)))
        return vb_nomem(e);
    while (v->nsyms < o->vocab_size && v->nheap > 0 && !rc) {
        struct vb_heap_entry top = vb_pop(v);
        struct vb_pair *p = &v->pairs[top.pair];
        if (top.count != p->count) { /* stale: re-queue a pair that went down */
            if (top.count > p->count && p->count > 0 && vb_push(v, top.pair))
                rc = vb_nomem(e);
            continue;
        }
        if (p->count < o->min_frequency)
            break;
        const char *sa = v->syms[top.a], *sb = v->syms[top.b];
        size_t la = strlen(sa), lb = strlen(sb), skip = strncmp(sb, "##", 2) == 0 ? 2 : 0;
        char *merged = malloc(la + lb - skip + 1);
        if (!merged) {
            rc = vb_nomem(e);
            break;
        }
        memcpy(merged, sa, la);
        memcpy(merged + la, sb + skip, lb - skip + 1);
        int ab = smap_get(&v->symmap, merged, strlen(merged));
        if (ab >= 0) {
            free(merged); /* the token exists already (another merge made it) */
        } else {
            ab = v->nsyms;
            if ((rc = vb_add_sym(v, merged, e)))
                break;
        }
        st->merges++;
        /* detach the word list: the loop below may create pairs (and move v->pairs) */
        int *where = p->where, nwhere = p->nwhere;
        p->where = NULL;
        p->nwhere = p->capwhere = 0;
        for (int i = 0; i < nwhere && !rc; i++) {
            int w = where[i];
            if (v->stamp[w] == st->merges)
                continue;
            v->stamp[w] = st->merges;
            int need = 2 * v->words[w].len;
            if (vb_grow((void **)&d, &capd, need > 0 ? need : 1, sizeof *d))
                rc = vb_nomem(e);
            else
                rc = vb_merge_word(v, w, top.a, top.b, ab, d, e);
        }
        free(where);
        if (!rc)
            rc = vb_flush_changed(v, e);
    }
    free(d);
    return rc;
}

int vocab_build(char ***tokens, int *n, const char *const *lines, size_t nlines,
                const struct vocab_build_opts *o, struct vocab_build_stats *stats, struct err *e)
{
    *tokens = NULL;
    *n = 0;
    if (o->vocab_size < VOCAB_NSPECIAL + 2 || o->vocab_size > VOCAB_MAX_SIZE)
        return ERR_SET(e, ERR_CONFIG, "vocab size must be in [%d, %d] (got %d)", VOCAB_NSPECIAL + 2,
                       VOCAB_MAX_SIZE, o->vocab_size);
    if (o->min_frequency < 1)
        return ERR_SET(e, ERR_CONFIG, "vocab min_frequency must be >= 1 (got %d)",
                       o->min_frequency);
    if (o->limit_alphabet < 0)
        return ERR_SET(e, ERR_CONFIG, "vocab limit_alphabet must be >= 0 (got %d)",
                       o->limit_alphabet);
    struct vocab_build_stats st = {0};
    struct vb v;
    memset(&v, 0, sizeof v);
    struct umap charid = {0};
    struct tokenizer *t = NULL;
    int nalpha = 0;
    int rc = tokenizer_from_tokens(&t, vb_special, VOCAB_NSPECIAL, &o->tok, e);
    for (int i = 0; i < VOCAB_NSPECIAL && !rc; i++) {
        char *s = strdup(vb_special[i]);
        rc = s ? vb_add_sym(&v, s, e) : vb_nomem(e);
    }
    if (!rc)
        rc = vb_count(&v, t, lines, nlines, &st, e);
    if (!rc)
        rc = vb_alphabet(&v, o, &charid, &nalpha, e);
    if (!rc)
        rc = vb_init_words(&v, &charid, nalpha, &st, e);
    if (!rc)
        rc = vb_merges(&v, o, &st, e);
    if (!rc) {
        st.alphabet = nalpha;
        st.size = v.nsyms;
        *tokens = v.syms;
        *n = v.nsyms;
        v.syms = NULL; /* handed to the caller */
        v.nsyms = 0;
        if (stats)
            *stats = st;
    }
    umap_free(&charid);
    tokenizer_free(t);
    vb_free(&v);
    return rc;
}

int vocab_write(const char *path, const char *const *tokens, int n, struct err *e)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return ERR_SET(e, ERR_LIMIT, "path too long: %s", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return ERR_SET(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    bool ok = true;
    for (int i = 0; i < n && ok; i++)
        ok = fputs(tokens[i], f) >= 0 && fputc('\n', f) != EOF;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        saved = errno ? errno : saved;
        unlink(tmp);
        return ERR_SET(e, ERR_IO, "cannot write %s: %s", path, strerror(saved));
    }
    return ERR_OK;
}
