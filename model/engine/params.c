#include "model/engine/params.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"

void param_store_init(struct param_store *s, struct mem_acct *acct)
{
    memset(s, 0, sizeof *s);
    s->acct = acct;
}

static void param_free(struct param_store *s, struct param *p)
{
    mem_free(s->acct, p->v);
    mem_free(s->acct, p->m);
    mem_free(s->acct, p->grad);
    mem_free(s->acct, p->data);
    mem_free(s->acct, p->bf16);
    free(p);
}

void param_store_destroy(struct param_store *s)
{
    if (!s || !s->items)
        return;
    for (size_t i = s->n; i-- > 0;)
        param_free(s, s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

struct param *param_find(const struct param_store *s, const char *name)
{
    /* Linear scan: a few hundred tensors, looked up at build and load time only. */
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i]->name, name) == 0)
            return s->items[i];
    return NULL;
}

static int check_shape(const char *name, int ndim, const int *shape, size_t *numel,
                       struct err *e)
{
    if (ndim < 1 || ndim > PARAM_MAX_DIMS)
        return ERR_SET(e, ERR_CONFIG, "tensor '%s': %d dimensions (expected 1..%d)", name, ndim,
                       PARAM_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return ERR_SET(e, ERR_CONFIG, "tensor '%s': dimension %d is %d (expected > 0)", name,
                           i, shape[i]);
        if (!mem_mul_ok(n, (size_t)shape[i], &n) || n > SIZE_MAX / sizeof(float))
            return ERR_SET(e, ERR_LIMIT, "tensor '%s': size overflows", name);
    }
    *numel = n;
    return ERR_OK;
}

struct param *param_add(struct param_store *s, const char *name, int ndim, const int *shape,
                        enum param_kind kind, enum param_group group, struct err *e)
{
    size_t numel = 0;
    if (strlen(name) >= PARAM_NAME_MAX) {
        ERR_SET(e, ERR_CONFIG, "tensor name '%.40s...' longer than %d bytes", name,
                PARAM_NAME_MAX - 1);
        return NULL;
    }
    if (param_find(s, name)) {
        ERR_SET(e, ERR_CONFIG, "tensor '%s' registered twice", name);
        return NULL;
    }
    if (check_shape(name, ndim, shape, &numel, e))
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct param **items = realloc(s->items, cap * sizeof *items);
        if (!items) {
            ERR_SET(e, ERR_NOMEM, "out of memory registering '%s'", name);
            return NULL;
        }
        s->items = items;
        s->cap = cap;
    }
    struct param *p = calloc(1, sizeof *p);
    if (p)
        p->data = mem_alloc(s->acct, MEM_FROZEN, numel * sizeof(float));
    if (!p || !p->data) {
        free(p);
        ERR_SET(e, ERR_NOMEM, "out of memory for tensor '%s' (%zu floats)", name, numel);
        return NULL;
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof(int));
    p->numel = numel;
    p->kind = kind;
    p->group = group;
    p->no_decay = kind == PARAM_BIAS || kind == PARAM_LN_GAMMA || kind == PARAM_LN_BETA;
    s->items[s->n++] = p;
    return p;
}

int param_set_trainable(struct param_store *s, struct param *p, bool trainable, struct err *e)
{
    if (p->trainable == trainable)
        return ERR_OK;
    if (!trainable) {
        mem_free(s->acct, p->v);
        mem_free(s->acct, p->m);
        mem_free(s->acct, p->grad);
        p->grad = p->m = p->v = NULL;
        mem_recharge(s->acct, p->data, MEM_FROZEN);
        p->trainable = false;
        return ERR_OK;
    }
    if (param_widen(s, p, e))
        return e->code;
    size_t bytes = p->numel * sizeof(float);
    p->grad = mem_alloc(s->acct, MEM_GRADS, bytes);
    p->m = mem_alloc(s->acct, MEM_OPTIM, bytes);
    p->v = mem_alloc(s->acct, MEM_OPTIM, bytes);
    if (!p->grad || !p->m || !p->v) {
        mem_free(s->acct, p->v);
        mem_free(s->acct, p->m);
        mem_free(s->acct, p->grad);
        p->grad = p->m = p->v = NULL;
        return ERR_SET(e, ERR_NOMEM, "out of memory for the gradient of '%s'", p->name);
    }
    mem_recharge(s->acct, p->data, MEM_TRAINABLE);
    p->trainable = true;
    return ERR_OK;
}

int param_narrow(struct param_store *s, struct param *p, struct err *e)
{
    if (p->bf16)
        return ERR_OK;
    if (p->trainable)
        return ERR_SET(e, ERR_STATE, "tensor '%s' is trainable: it keeps an fp32 master copy",
                       p->name);
    bf16_t *h = mem_alloc(s->acct, MEM_FROZEN, p->numel * sizeof(bf16_t));
    if (!h)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the bf16 copy of '%s'", p->name);
    bf16_narrow(h, p->data, p->numel);
    mem_free(s->acct, p->data);
    p->data = NULL;
    p->bf16 = h;
    return ERR_OK;
}

int param_widen(struct param_store *s, struct param *p, struct err *e)
{
    if (!p->bf16)
        return ERR_OK;
    float *d = mem_alloc(s->acct, MEM_FROZEN, p->numel * sizeof(float));
    if (!d)
        return ERR_SET(e, ERR_NOMEM, "out of memory widening '%s' to fp32", p->name);
    bf16_widen(d, p->bf16, p->numel);
    mem_free(s->acct, p->bf16);
    p->bf16 = NULL;
    p->data = d;
    return ERR_OK;
}

struct mm_mat param_mat(const struct param *p)
{
    return p->data ? (struct mm_mat){.f32 = p->data} : (struct mm_mat){.bf16 = p->bf16};
}

void param_store_zero_grads(struct param_store *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i]->grad)
            memset(s->items[i]->grad, 0, s->items[i]->numel * sizeof(float));
}

size_t param_store_numel(const struct param_store *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->items[i]->numel;
    return n;
}

size_t param_store_trainable(const struct param_store *s, enum param_group group)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct param *p = s->items[i];
        if (p->trainable && (group == PGROUP_COUNT || p->group == group))
            n += p->numel;
    }
    return n;
}

double param_store_grad_norm(const struct param_store *s)
{
    double ss = 0.0;
    for (size_t i = 0; i < s->n; i++) {
        const struct param *p = s->items[i];
        if (!p->grad)
            continue;
        for (size_t j = 0; j < p->numel; j++)
            ss += (double)p->grad[j] * (double)p->grad[j];
    }
    return sqrt(ss);
}

void param_store_scale_grads(struct param_store *s, float f)
{
    for (size_t i = 0; i < s->n; i++) {
        struct param *p = s->items[i];
        if (!p->grad)
            continue;
        for (size_t j = 0; j < p->numel; j++)
            p->grad[j] *= f;
    }
}

bool param_store_grads_nonfinite(const struct param_store *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct param *p = s->items[i];
        if (!p->grad)
            continue;
        for (size_t j = 0; j < p->numel; j++)
            if (!isfinite(p->grad[j]))
                return true;
    }
    return false;
}

size_t param_count_nonfinite(const struct param *p, size_t *first)
{
    size_t k = 0;
    for (size_t j = 0; j < p->numel; j++)
        if (!isfinite(p->data ? p->data[j] : bf16_to_f32(p->bf16[j])) && k++ == 0 && first)
            *first = j;
    return k;
}

void adamw_default(struct adamw_cfg *c)
{
    c->lr = 1e-3f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = 0.0f;
}

/* One tensor's update.  Decoupled decay first (as torch.optim.AdamW):
 *   p <- p - lr*wd*p;  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
 *   p <- p - lr * (m / bc1) / (sqrt(v / bc2) + eps)                         */
static void adamw_tensor(struct param *p, const struct adamw_cfg *c, float bc1, float bc2)
{
    const float lr = c->lr, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const float decay = p->no_decay ? 1.0f : 1.0f - c->lr * c->weight_decay;
    float *w = p->data, *m = p->m, *v = p->v;
    const float *g = p->grad;
    const long n = (long)p->numel;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long j = 0; j < n; j++) {
        m[j] = b1 * m[j] + (1.0f - b1) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        float mhat = m[j] / bc1, vhat = v[j] / bc2;
        w[j] = w[j] * decay - lr * mhat / (sqrtf(vhat) + eps);
    }
}

void adamw_step(struct param_store *s, const struct adamw_cfg *c, long step)
{
    float bc1 = (float)(1.0 - pow((double)c->beta1, (double)step));
    float bc2 = (float)(1.0 - pow((double)c->beta2, (double)step));
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i]->trainable)
            adamw_tensor(s->items[i], c, bc1, bc2);
}
