/*
 * mlm: masked-language-model head and masking (contract in mlm.h).
 */
#include "model/arch/mlm.h"

#include <math.h>
#include <string.h>

#include "model/engine/rng.h"

/* ---- ops -------------------------------------------------------------------- */

void mlm_fwd(float *logits, float *t, float *g, float *h, float *mean, float *rstd, const float *x,
             const float *Wt, const float *bt, const float *lg, const float *lb, const float *E,
             const float *bias, int M, int D, int V, enum act_kind act, float eps)
{
    if (M <= 0)
        return;
    op_linear_fwd(t, x, Wt, bt, M, D, D);
    op_act_fwd(act, g, t, (size_t)M * (size_t)D);
    op_layernorm_fwd(h, mean, rstd, g, lg, lb, M, D, eps);
    op_linear_fwd(logits, h, E, bias, M, D, V); /* tied decoder: W = E (V, D) */
}

double mlm_xent(float *dlogits, int *correct, float *row_loss, const float *logits,
                const int *labels, int M, int V)
{
    if (M <= 0 || V <= 0) {
        if (correct)
            *correct = 0;
        return 0.0;
    }
    int ncorrect = 0;
    /* One row per iteration: the row's max, log-sum-exp (double sum) and gradient are
     * computed by one thread in a fixed order. */
#pragma omp parallel for schedule(static) reduction(+ : ncorrect) if ((size_t)M * (size_t)V > 32768)
    for (int n = 0; n < M; n++) {
        const float *z = logits + (size_t)n * (size_t)V;
        int arg = 0;
        for (int c = 1; c < V; c++)
            if (z[c] > z[arg])
                arg = c;
        const float mx = z[arg];
        double se = 0.0;
        for (int c = 0; c < V; c++)
            se += (double)expf(z[c] - mx);
        const double lse = (double)mx + log(se);
        row_loss[n] = (float)(lse - (double)z[labels[n]]);
        ncorrect += arg == labels[n];
        if (dlogits) {
            float *d = dlogits + (size_t)n * (size_t)V;
            const float scale = (float)(1.0 / se / M);
            for (int c = 0; c < V; c++)
                d[c] = expf(z[c] - mx) * scale;
            d[labels[n]] -= 1.0f / (float)M;
        }
    }
    double total = 0.0;
    for (int n = 0; n < M; n++)
        total += (double)row_loss[n];
    if (correct)
        *correct = ncorrect;
    return total / M;
}

double mlm_soft_xent(float *dlogits, float *row_loss, const float *logits, const int *row,
                     const int *tok, const float *w, int K, int M, int V, float scale)
{
    if (M <= 0 || V <= 0)
        return 0.0;
    const float g = scale / (float)M;
#pragma omp parallel for schedule(static) if ((size_t)M * (size_t)V > 32768)
    for (int n = 0; n < M; n++) {
        const float *z = logits + (size_t)n * (size_t)V;
        float mx = z[0];
        for (int c = 1; c < V; c++)
            mx = z[c] > mx ? z[c] : mx;
        double se = 0.0;
        for (int c = 0; c < V; c++)
            se += (double)expf(z[c] - mx);
        row_loss[n] = (float)((double)mx + log(se));
        if (dlogits) {
            float *d = dlogits + (size_t)n * (size_t)V;
            const float sc = (float)(1.0 / se) * g;
            for (int c = 0; c < V; c++)
                d[c] = expf(z[c] - mx) * sc;
        }
    }
    /* the targets: serial, in k order (a row's targets may be anywhere in the list) */
    for (int k = 0; k < K; k++) {
        const size_t at = (size_t)row[k] * (size_t)V + (size_t)tok[k];
        row_loss[row[k]] -= w[k] * logits[at];
        if (dlogits)
            dlogits[at] -= w[k] * g;
    }
    double total = 0.0;
    for (int n = 0; n < M; n++)
        total += (double)row_loss[n];
    return total / M;
}

void mlm_bwd(float *dx, float *dWt, float *dbt, float *dlg, float *dlb, float *dE, float *dbias,
             float *ws, const float *dlogits, const float *x, const float *t, const float *g,
             const float *h, const float *mean, const float *rstd, const float *Wt, const float *lg,
             const float *E, int M, int D, int V, enum act_kind act)
{
    if (M <= 0)
        return;
    const size_t MD = (size_t)M * (size_t)D;
    float *dh = ws, *dt = ws + MD;
    op_linear_bwd(dh, dE, dbias, dlogits, h, E, M, D, V, false);
    op_layernorm_bwd(dt, dlg, dlb, dh, g, mean, rstd, lg, M, D, false);
    op_act_bwd(act, dt, dt, t, MD);
    op_linear_bwd(dx, dWt, dbt, dt, x, Wt, M, D, D, false);
}

/* ---- masking ------------------------------------------------------------------ */

/* Uniform double in [0, 1) from 53 bits of a hash. */
static double unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Draw k of a random non-special token (rejection; the hash index keeps it stateless).
 * Returns -1 when 64 draws all hit special tokens (a vocabulary of almost only specials). */
static int random_regular(const struct mlm_mask_cfg *c, uint64_t seed, uint64_t stream, uint64_t i)
{
    for (uint64_t k = 0; k < 64; k++) {
        uint64_t h = rng_hash(seed, stream, 4 * i + 3 + (k << 40));
        int id = (int)(h % (uint64_t)c->V);
        if (!c->special[id])
            return id;
    }
    return -1;
}

int mlm_mask(int *out_ids, int *pos, int *labels, const int *ids, const int *mask, int N,
             const struct mlm_mask_cfg *c, uint64_t seed, uint64_t stream)
{
    int M = 0, best = -1;
    uint64_t best_h = UINT64_MAX;
    for (int i = 0; i < N; i++) {
        const int id = ids[i];
        out_ids[i] = id;
        bool eligible = (!mask || mask[i]) && id >= 0 && id < c->V && !c->special[id];
        if (!eligible)
            continue;
        uint64_t hs = rng_hash(seed, stream, 4 * (uint64_t)i);
        if (hs < best_h) {
            best_h = hs;
            best = i;
        }
        if (unit(hs) >= (double)c->prob)
            continue;
        pos[M] = i;
        labels[M++] = id;
        double r = unit(rng_hash(seed, stream, 4 * (uint64_t)i + 1));
        if (r < (double)c->mask_frac) {
            out_ids[i] = c->mask_id;
        } else if (r < (double)c->mask_frac + (double)c->random_frac) {
            int rid = random_regular(c, seed, stream, (uint64_t)i);
            if (rid >= 0)
                out_ids[i] = rid;
        }
    }
    if (M == 0 && best >= 0) {
        pos[0] = best;
        labels[0] = ids[best];
        out_ids[best] = c->mask_id;
        M = 1;
    }
    return M;
}

/* ---- the head ------------------------------------------------------------------- */

int mlm_head_create(struct mlm_head *h, struct encoder *enc, struct mem_acct *acct, struct err *e)
{
    memset(h, 0, sizeof *h);
    param_store_init(&h->ps, acct);
    h->D = enc->D;
    h->V = enc->V;
    h->act = (enum act_kind)enc->act;
    h->eps = enc->cfg.layer_norm_eps;
    h->word = enc->word;
    const int D = h->D, V = h->V;
    struct {
        struct param **p;
        const char *name;
        int d0, d1;
        enum param_kind kind;
    } t[] = {
        {&h->dense_w, "cls.predictions.transform.dense.weight", D, D, PARAM_WEIGHT},
        {&h->dense_b, "cls.predictions.transform.dense.bias", D, 0, PARAM_BIAS},
        {&h->ln_g, "cls.predictions.transform.LayerNorm.weight", D, 0, PARAM_LN_GAMMA},
        {&h->ln_b, "cls.predictions.transform.LayerNorm.bias", D, 0, PARAM_LN_BETA},
        {&h->bias, "cls.predictions.bias", V, 0, PARAM_BIAS},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int shape[2] = {t[i].d0, t[i].d1};
        *t[i].p =
            param_add(&h->ps, t[i].name, t[i].d1 > 0 ? 2 : 1, shape, t[i].kind, PGROUP_HEAD, e);
        if (!*t[i].p || param_set_trainable(&h->ps, *t[i].p, true, e)) {
            mlm_head_destroy(h);
            return e->code;
        }
    }
    return ERR_OK;
}

void mlm_head_destroy(struct mlm_head *h)
{
    if (!h)
        return;
    param_store_destroy(&h->ps);
    memset(h, 0, sizeof *h);
}

void mlm_head_init(struct mlm_head *h, float std, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed ^ 0x6d6c6dull);
    for (size_t i = 0; i < h->dense_w->numel; i++)
        h->dense_w->data[i] = rng_normal(&r) * std;
    memset(h->dense_b->data, 0, h->dense_b->numel * sizeof(float));
    for (size_t i = 0; i < h->ln_g->numel; i++)
        h->ln_g->data[i] = 1.0f;
    memset(h->ln_b->data, 0, h->ln_b->numel * sizeof(float));
    memset(h->bias->data, 0, h->bias->numel * sizeof(float));
}

/* One pass of the head over M gathered hidden rows (views into the encoder's arena). */
struct mlm_pass {
    int M;
    float *x, *t, *g, *hh, *mean, *rstd; /* (M, D) gathered input and saved forward; (M) LN */
    float *logits, *rl;                  /* (M, V), (M) */
    float *dlogits, *ws, *dx;            /* backward only: (M, V), (2M, D), (M, D) */
};

/* Gather hidden rows rows[0..M) and run the head's forward; -1 when out of memory. */
static int pass_begin(struct mlm_pass *p, const struct mlm_head *h, struct encoder *enc,
                      const int *rows, int M, bool grad)
{
    struct arena *a = &enc->arena;
    const int D = h->D, V = h->V;
    const size_t MD = (size_t)M * (size_t)D, MV = (size_t)M * (size_t)V;
    p->M = M;
    p->x = arena_floats(a, MD), p->t = arena_floats(a, MD), p->g = arena_floats(a, MD);
    p->hh = arena_floats(a, MD), p->mean = arena_floats(a, (size_t)M);
    p->rstd = arena_floats(a, (size_t)M), p->logits = arena_floats(a, MV);
    p->rl = arena_floats(a, (size_t)M);
    p->dlogits = grad ? arena_floats(a, MV) : NULL;
    p->ws = grad ? arena_floats(a, 2 * MD) : NULL;
    p->dx = grad ? arena_floats(a, MD) : NULL;
    if (!p->x || !p->t || !p->g || !p->hh || !p->mean || !p->rstd || !p->logits || !p->rl ||
        (grad && (!p->dlogits || !p->ws || !p->dx)))
        return -1;
    for (int i = 0; i < M; i++)
        memcpy(p->x + (size_t)i * D, enc->hidden + (size_t)rows[i] * D, (size_t)D * sizeof(float));
    mlm_fwd(p->logits, p->t, p->g, p->hh, p->mean, p->rstd, p->x, h->dense_w->data,
            h->dense_b->data, h->ln_g->data, h->ln_b->data, h->word->data, h->bias->data, M, D, V,
            h->act, h->eps);
    return 0;
}

/* The head's backward from p->dlogits: head gradients, and p->dx (M, D). */
static void pass_backward(struct mlm_pass *p, struct mlm_head *h)
{
    mlm_bwd(p->dx, h->dense_w->grad, h->dense_b->grad, h->ln_g->grad, h->ln_b->grad,
            h->word->grad, h->bias->grad, p->ws, p->dlogits, p->x, p->t, p->g, p->hh, p->mean,
            p->rstd, h->dense_w->data, h->ln_g->data, h->word->data, p->M, h->D, h->V, h->act);
}

/* dhidden[rows[i]] += dx[i]: a row given twice gets both gradients. */
static void pass_scatter(const struct mlm_pass *p, const struct mlm_head *h, const int *rows,
                         float *dhidden)
{
    for (int i = 0; i < p->M; i++)
        op_acc(dhidden + (size_t)rows[i] * h->D, p->dx + (size_t)i * h->D, (size_t)h->D);
}

int mlm_head_step(struct mlm_head *h, struct encoder *enc, const int *pos, const int *labels, int M,
                  float *dhidden, struct mlm_result *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (!enc->have_forward)
        return ERR_SET(e, ERR_STATE, "mlm_head_step without an encoder forward in this step");
    const int D = h->D, V = h->V, N = enc->ctx.N;
    if (M <= 0)
        return ERR_SET(e, ERR_CONFIG, "mlm_head_step: no masked position");
    for (int i = 0; i < M; i++) {
        if (pos[i] < 0 || pos[i] >= N)
            return ERR_SET(e, ERR_RANGE, "masked position %d outside the batch [0, %d)", pos[i], N);
        if (labels[i] < 0 || labels[i] >= V)
            return ERR_SET(e, ERR_RANGE, "label %d of masked position %d outside [0, %d)",
                           labels[i], pos[i], V);
    }
    struct mlm_pass ps;
    if (pass_begin(&ps, h, enc, pos, M, dhidden != NULL))
        return ERR_SET(e, ERR_NOMEM, "out of memory for the MLM head (%d positions)", M);
    out->M = M;
    out->loss = mlm_xent(ps.dlogits, &out->correct, ps.rl, ps.logits, labels, M, V);
    if (!dhidden)
        return ERR_OK;
    pass_backward(&ps, h);
    memset(dhidden, 0, (size_t)N * (size_t)D * sizeof(float));
    pass_scatter(&ps, h, pos, dhidden);
    return ERR_OK;
}

int mlm_head_bow_step(struct mlm_head *h, struct encoder *enc, const int *ids, const int *mask,
                      const unsigned char *special, float weight, float *dhidden,
                      struct mlm_result *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (!enc->have_forward)
        return ERR_SET(e, ERR_STATE, "mlm_head_bow_step without an encoder forward");
    const int B = enc->ctx.B, T = enc->ctx.T, N = enc->ctx.N, V = h->V;
    struct arena *a = &enc->arena;
    int *rows = arena_ints(a, (size_t)B), *row = arena_ints(a, (size_t)N);
    int *tok = arena_ints(a, (size_t)N);
    float *w = arena_floats(a, (size_t)N);
    if (!rows || !row || !tok || !w)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the bag-of-words targets");
    int M = 0, K = 0;
    for (int b = 0; b < B; b++) {
        int k0 = K;
        for (int t = 1; t < T; t++) {
            int n = b * T + t, id = ids[n];
            if ((!mask || mask[n]) && id >= 0 && id < V && !special[id]) {
                row[K] = M;
                tok[K++] = id;
            }
        }
        if (K == k0)
            continue;
        for (int k = k0; k < K; k++)
            w[k] = 1.0f / (float)(K - k0);
        rows[M++] = b * T; /* the sequence's first token */
    }
    if (M == 0)
        return ERR_OK;
    struct mlm_pass ps;
    if (pass_begin(&ps, h, enc, rows, M, dhidden != NULL))
        return ERR_SET(e, ERR_NOMEM, "out of memory for the bag-of-words loss (%d rows)", M);
    out->M = M;
    out->loss = mlm_soft_xent(ps.dlogits, ps.rl, ps.logits, row, tok, w, K, M, V, weight);
    if (!dhidden)
        return ERR_OK;
    pass_backward(&ps, h);
    pass_scatter(&ps, h, rows, dhidden);
    return ERR_OK;
}
