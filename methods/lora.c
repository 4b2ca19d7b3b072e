/*
 * LoRA (Hu et al. 2021), METHODS.md §4.
 *
 * For every layer and every target Linear W (OUT, IN) of the layer (hooks.h
 * SITE_Q .. SITE_FFN_OUT), two tensors in the model's store (PGROUP_METHOD,
 * trainable):
 *   A (R, IN)   "lora.encoder.layer.{i}.<HF module>.lora_A"  kaiming-uniform(a=√5)
 *               = U(-1/√IN, 1/√IN), from struct rng seeded with the trial seed
 *   B (OUT, R)  "lora.encoder.layer.{i}.<HF module>.lora_B"  zeros
 * and an additive hook (HOOK_ADD) at the site:
 *   z += s · dropout(x) A^T B^T,   s = alpha / R   (rslora: alpha / √R)   (§4.1)
 * x is the site's effective input (after an IA3 input scaling, METHODS.md §11).
 * B = 0 makes the model exactly the bare backbone at init.
 *
 * LoRA dropout drops the branch input only, training steps only, with the
 * counter RNG (trial seed, step stream, a tag per layer and site), so backward
 * regenerates the mask instead of storing it.
 *
 * Merge (§4.4): W += s · B A per target; the hooks then do nothing (and refuse
 * a backward: train unmerged).  Unmerge subtracts the same product.  The
 * product is computed by one fixed-order loop in double (lora_delta), not by
 * BLAS, so merge and unmerge compute bit-identical deltas whatever the thread
 * count, and unmerge restores W to within one rounding of W + delta (≈ 1 ulp),
 * with no (OUT, IN) copy kept per target.  A and B must not change while merged.
 *
 * Composition and merge order (the rule peftbench pins, METHODS.md §11:
 * additive terms first, scaling last): at a site that also carries a scaling
 * hook (IA3 HOOK_IN / HOOK_OUT), merging is only exact when LoRA is folded into
 * W *before* the scaling and unfolded *after* it:
 *   merged W = l_out ⊙rows ((W + s B A) ⊙cols l_in).
 * So, independently of attach order: merge every additive method (lora) first,
 * then the scaling ones (ia3); unmerge in the reverse order.  Each side checks
 * it: ia3 refuses to merge while an unmerged additive hook shares a site with
 * it, and lora refuses to merge, unmerge or attach at a site where a scaling
 * hook is merged.  The merged state is visible to other methods through the
 * hook's owner string: "lora" becomes "lora [merged]" (hooks.h has no flag for
 * it; a hook whose owner ends in " [merged]" is inert).
 *
 * Several lora instances on one model are not supported (their tensor names
 * would collide: create fails naming the tensor).  The instance's tensors belong
 * to the model's store; the instance owns only its bookkeeping.  Destroy it
 * only after its hooks are detached (hook_set_clear) or the model is no longer run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "model/engine/matmul.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "methods/peft_format.h"

#define LORA_OWNER        "lora"
#define LORA_OWNER_MERGED "lora [merged]"
#define MERGED_SUFFIX     " [merged]"
#define LORA_DROP_TAG     0x4c6f524164726f70ull /* "LoRAdrop": far from the encoder's tags */

/* targets choice k is hook site k (SITE_Q .. SITE_FFN_OUT). */
_Static_assert(SITE_Q == 0 && SITE_K == 1 && SITE_V == 2 && SITE_O == 3 && SITE_FFN_IN == 4 &&
                   SITE_FFN_OUT == 5,
               "lora targets choices follow the hook site order");
static const struct hp_def lora_hps[] = {
    {"rank", HP_INT, "8", 1, 65536, NULL,
     "R: rank of the update B·A (<= min(IN, OUT) of every target)"},
    {"alpha", HP_FLOAT, "16", 0, 1e6, NULL,
     "scaling numerator (> 0): s = alpha/R, alpha/sqrt(R) with rslora (LoRA GLUE scripts: 16)"},
    {"dropout", HP_FLOAT, "0", 0, 1, NULL,
     "dropout on the LoRA branch input, training steps only (must be < 1)"},
    {"targets", HP_SET, "q,v", 0, 0, "q|k|v|o|ffn_in|ffn_out",
     "Linears that get an update (paper and PEFT default: q,v)"},
    {"rslora", HP_BOOL, "false", 0, 0, NULL,
     "rank-stabilised scaling s = alpha/sqrt(R) (PEFT use_rslora)"},
};

struct lora;

/* One adapted Linear of one layer. */
struct lora_mod {
    const struct lora *lora; /* borrowed: the instance (R, s, p, merged) */
    int layer;
    enum hook_site site;
    int IN, OUT;
    struct param *A; /* (R, IN)   view into the store */
    struct param *B; /* (OUT, R)  view into the store */
    struct param *W; /* (OUT, IN) borrowed: the base weight merge folds into */
    uint64_t tag;    /* dropout stream tag, unique per (layer, site) */
    /* saved by forward for backward (views into the step arena) */
    const float *xd; /* (N, IN) the branch input as used: dropout(x), or x itself */
    float *t;        /* (N, R) xd A^T; NULL until a forward ran */
    int N;
    bool dropped; /* xd is a dropout of x (backward must apply the mask to dx) */
};

struct lora {
    int R;
    float s; /* alpha / R, or alpha / √R */
    float p; /* branch dropout probability */
    bool merged;
    int n;
    struct lora_mod *mods; /* owned: (n) = L × number of targets, layer-major */
};

/* ---- ops: the LoRA branch as a forward/backward pair ---------------------- */

/*
 * z += s · t B^T with t = xd A^T saved for backward.
 *   xd: (N, IN)  A: (R, IN)  B: (OUT, R)  t: (N, R) overwritten  z: (N, OUT) accumulated
 */
static void lora_op_fwd(float *z, float *t, const float *xd, const float *A, const float *B,
                        float s, int N, int IN, int OUT, int R)
{
    matmul_sgemm(MATMUL_N, MATMUL_T, N, R, IN, 1.0f, xd, IN, A, IN, 0.0f, t, R);
    matmul_sgemm(MATMUL_N, MATMUL_T, N, OUT, R, s, t, R, B, R, 1.0f, z, OUT);
}

/*
 * Backward of lora_op_fwd.  dz: (N, OUT).
 *   dB: (OUT, R) += s · dz^T t          (NULL when frozen)
 *   dt: (N, R)    = s · dz B            workspace, overwritten
 *   dA: (R, IN)  += dt^T xd             (NULL when frozen)
 *   dxd: (N, IN)  = dt A, accumulated when acc, overwritten otherwise (NULL = not needed)
 */
static void lora_op_bwd(float *dxd, float *dA, float *dB, float *dt, const float *dz,
                        const float *t, const float *xd, const float *A, const float *B, float s,
                        int N, int IN, int OUT, int R, bool acc)
{
    if (dB)
        matmul_sgemm(MATMUL_T, MATMUL_N, OUT, R, N, s, dz, OUT, t, R, 1.0f, dB, R);
    if (!dA && !dxd)
        return;
    matmul_sgemm(MATMUL_N, MATMUL_N, N, R, OUT, s, dz, OUT, B, R, 0.0f, dt, R);
    if (dA)
        matmul_sgemm(MATMUL_T, MATMUL_N, R, IN, N, 1.0f, dt, R, xd, IN, 1.0f, dA, IN);
    if (dxd)
        matmul_sgemm(MATMUL_N, MATMUL_N, N, IN, R, 1.0f, dt, R, A, IN, acc ? 1.0f : 0.0f, dxd, IN);
}

/* delta = s · B A, (OUT, IN), in a fixed order (k ascending for every element) with
 * double accumulation in row (IN): the same inputs always give the same bits,
 * whatever the thread count (merge and unmerge rely on it). */
static void lora_delta(float *delta, double *row, const float *A, const float *B, float s, int IN,
                       int OUT, int R)
{
    for (int o = 0; o < OUT; o++) {
        for (int i = 0; i < IN; i++)
            row[i] = 0.0;
        for (int k = 0; k < R; k++) {
            const double b = (double)B[(size_t)o * R + k];
            const float *a = A + (size_t)k * IN;
            for (int i = 0; i < IN; i++)
                row[i] += b * (double)a[i];
        }
        for (int i = 0; i < IN; i++)
            delta[(size_t)o * IN + i] = (float)((double)s * row[i]);
    }
}

/* ---- hooks ---------------------------------------------------------------- */

static int lora_fwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                    struct err *e)
{
    struct lora_mod *md = h->user;
    const struct lora *L = md->lora;
    md->t = NULL;
    if (L->merged)
        return ERR_OK; /* folded into W */
    const size_t N = (size_t)io->N;
    const float *xd = io->x;
    md->dropped = false;
    if (c->train && L->p > 0.0f) {
        float *buf = arena_floats(c->arena, N * (size_t)md->IN);
        if (!buf)
            return ERR_SET(e, ERR_NOMEM, "lora: out of memory for activations (layer %d, %s)",
                           md->layer, hook_site_name(md->site));
        op_dropout_rows_fwd(buf, io->x, N, (size_t)md->IN, (size_t)io->row_stride, L->p, c->seed,
                            rng_stream(c->stream, md->tag));
        xd = buf;
        md->dropped = true;
    }
    float *t = arena_floats(c->arena, N * (size_t)L->R);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "lora: out of memory for activations (layer %d, %s)",
                       md->layer, hook_site_name(md->site));
    lora_op_fwd(io->z, t, xd, md->A->data, md->B->data, L->s, io->N, md->IN, md->OUT, L->R);
    md->xd = xd;
    md->t = t;
    md->N = io->N;
    return ERR_OK;
}

static int lora_bwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                    struct err *e)
{
    struct lora_mod *md = h->user;
    const struct lora *L = md->lora;
    if (L->merged)
        return ERR_SET(
            e, ERR_STATE,
            "lora: backward while merged into the base weights; unmerge before training");
    if (!md->t || md->N != io->N)
        return ERR_SET(e, ERR_STATE, "lora: backward at layer %d '%s' without its forward",
                       md->layer, hook_site_name(md->site));
    const size_t N = (size_t)io->N, IN = (size_t)md->IN;
    float *dt = arena_floats(c->arena, N * (size_t)L->R);
    float *dxd = NULL;
    bool acc = true;
    if (io->dx && md->dropped) { /* dx += mask ⊙ (dt A) / (1 - p) */
        dxd = arena_floats(c->arena, N * IN);
        acc = false;
    } else if (io->dx) {
        dxd = io->dx;
    }
    if (!dt || (io->dx && !dxd))
        return ERR_SET(e, ERR_NOMEM, "lora: out of memory for gradients (layer %d, %s)", md->layer,
                       hook_site_name(md->site));
    lora_op_bwd(dxd, md->A->grad, md->B->grad, dt, io->dz, md->t, md->xd, md->A->data, md->B->data,
                L->s, io->N, md->IN, md->OUT, L->R, acc);
    if (io->dx && md->dropped) {
        op_dropout_rows_fwd(dxd, dxd, N, IN, (size_t)io->row_stride, L->p, c->seed,
                            rng_stream(c->stream, md->tag));
        op_acc(io->dx, dxd, N * IN);
    }
    return ERR_OK;
}

/* ---- shapes and names ------------------------------------------------------- */

static void site_dims(const struct model *m, enum hook_site s, int *IN, int *OUT)
{
    const int D = m->enc.D, F = m->enc.F;
    *IN = s == SITE_FFN_OUT ? F : D;
    *OUT = s == SITE_FFN_IN ? F : D;
}

static struct param *site_weight(const struct model *m, int layer, enum hook_site s)
{
    const struct bert_layer *y = &m->enc.layers[layer];
    switch (s) {
    case SITE_Q:
        return y->wq;
    case SITE_K:
        return y->wk;
    case SITE_V:
        return y->wv;
    case SITE_O:
        return y->wo;
    case SITE_FFN_IN:
        return y->w1;
    case SITE_FFN_OUT:
        return y->w2;
    default:
        return NULL;
    }
}

static bool owner_merged(const char *owner)
{
    size_t n = owner ? strlen(owner) : 0, k = strlen(MERGED_SUFFIX);
    return n >= k && strcmp(owner + n - k, MERGED_SUFFIX) == 0;
}

/* Error if a merged scaling hook (HOOK_IN / HOOK_OUT) sits at (layer, site): lora
 * cannot be attached, merged or unmerged under it (see the file comment). */
static int check_no_merged_scale(const struct model *m, int layer, enum hook_site s,
                                 const char *doing, struct err *e)
{
    const enum hook_phase ph[2] = {HOOK_IN, HOOK_OUT};
    for (int k = 0; k < 2; k++) {
        const struct hook *h = NULL;
        if (hook_find_any(&m->enc.hooks, layer, s, ph[k], &h, 1) > 0 && owner_merged(h->owner))
            return ERR_SET(e, ERR_STATE,
                           "lora: cannot %s at layer %d '%s' while '%s' is merged there: additive "
                           "methods merge first and unmerge last, scaling methods (ia3) merge last "
                           "and unmerge first (METHODS.md §11); unmerge it first",
                           doing, layer, hook_site_name(s), h->owner);
    }
    return ERR_OK;
}

/* Set the owner string of this instance's hooks (the merged marker). */
static void mark_hooks(const struct lora *L, struct model *m, const char *owner)
{
    for (int i = 0; i < m->enc.hooks.n; i++) {
        struct hook *h = &m->enc.hooks.items[i];
        if (h->fwd == lora_fwd && ((const struct lora_mod *)h->user)->lora == L)
            h->owner = owner;
    }
}

/* ---- method ops ------------------------------------------------------------- */

static int lora_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    if (!(hp_float(hp, "alpha") > 0.0))
        return ERR_SET(e, ERR_RANGE, "lora.alpha must be > 0 (got %g)", hp_float(hp, "alpha"));
    if (!(hp_float(hp, "dropout") < 1.0))
        return ERR_SET(e, ERR_RANGE, "lora.dropout must be < 1 (got %g)", hp_float(hp, "dropout"));
    if (!m)
        return ERR_OK;
    const long R = hp_int(hp, "rank");
    const uint32_t tg = hp_set(hp, "targets");
    for (int s = SITE_Q; s <= SITE_FFN_OUT; s++) {
        int IN, OUT;
        site_dims(m, (enum hook_site)s, &IN, &OUT);
        int lim = IN < OUT ? IN : OUT;
        if ((tg & (1u << s)) && R > lim)
            return ERR_SET(e, ERR_RANGE,
                           "lora.rank = %ld exceeds min(IN, OUT) = %d of target '%s' (%d x %d)", R,
                           lim, hook_site_name((enum hook_site)s), OUT, IN);
    }
    return ERR_OK;
}

static void lora_destroy(void *state)
{
    struct lora *L = state;
    if (!L)
        return;
    free(L->mods);
    free(L);
}

static int add_tensor(struct model *m, struct param **out, const char *name, int d0, int d1,
                      struct err *e)
{
    int shape[2] = {d0, d1};
    struct param *p = param_add(&m->ps, name, 2, shape, PARAM_WEIGHT, PGROUP_METHOD, e);
    if (!p || param_set_trainable(&m->ps, p, true, e))
        return e->code ? e->code : ERR_STATE;
    *out = p;
    return ERR_OK;
}

static int lora_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                       struct err *e)
{
    *state = NULL;
    const int Lnum = m->enc.L;
    const uint32_t tg = hp_set(hp, "targets");
    int ntg = 0;
    for (int s = SITE_Q; s <= SITE_FFN_OUT; s++)
        ntg += (tg >> s) & 1u;
    for (int l = 0; l < Lnum; l++)
        for (int s = SITE_Q; s <= SITE_FFN_OUT; s++)
            if ((tg & (1u << s)) && check_no_merged_scale(m, l, (enum hook_site)s, "attach", e))
                return e->code;

    struct lora *L = calloc(1, sizeof *L);
    if (!L || !(L->mods = calloc((size_t)Lnum * (size_t)ntg, sizeof *L->mods))) {
        free(L);
        return ERR_SET(e, ERR_NOMEM, "lora: out of memory");
    }
    L->R = (int)hp_int(hp, "rank");
    const double alpha = hp_float(hp, "alpha");
    L->s = (float)(hp_bool(hp, "rslora") ? alpha / sqrt((double)L->R) : alpha / (double)L->R);
    L->p = (float)hp_float(hp, "dropout");

    /* Tensors first (a failure here leaves at most some orphan zero tensors in the
     * store, which has no removal), hooks last. */
    struct rng r;
    rng_seed(&r, seed);
    for (int l = 0; l < Lnum; l++) {
        for (int s = SITE_Q; s <= SITE_FFN_OUT; s++) {
            if (!(tg & (1u << s)))
                continue;
            struct lora_mod *md = &L->mods[L->n++];
            md->lora = L;
            md->layer = l;
            md->site = (enum hook_site)s;
            site_dims(m, md->site, &md->IN, &md->OUT);
            md->W = site_weight(m, l, md->site);
            md->tag = LORA_DROP_TAG + (uint64_t)l * SITE_COUNT + (uint64_t)s;
            char name[PARAM_NAME_MAX];
            snprintf(name, sizeof name, "lora.encoder.layer.%d.%s.lora_A", l,
                     peft_site_module(md->site));
            if (add_tensor(m, &md->A, name, L->R, md->IN, e))
                goto out_free;
            snprintf(name, sizeof name, "lora.encoder.layer.%d.%s.lora_B", l,
                     peft_site_module(md->site));
            if (add_tensor(m, &md->B, name, md->OUT, L->R, e))
                goto out_free;
            const float bound = 1.0f / sqrtf((float)md->IN); /* kaiming-uniform, a = √5 */
            for (size_t j = 0; j < md->A->numel; j++)
                md->A->data[j] = (2.0f * rng_uniform(&r) - 1.0f) * bound;
        }
    }

    /* On a failed hook_add, drop the hooks added so far (they are the last ones of
     * the set) so that none points into the freed instance. */
    const int n0 = m->enc.hooks.n;
    for (int i = 0; i < L->n; i++) {
        const struct hook hk = {.site = L->mods[i].site,
                                .phase = HOOK_ADD,
                                .layer = L->mods[i].layer,
                                .trainable = true,
                                .owner = LORA_OWNER,
                                .user = &L->mods[i],
                                .fwd = lora_fwd,
                                .bwd = lora_bwd};
        if (hook_add(&m->enc.hooks, &hk, e)) {
            m->enc.hooks.n = n0;
            goto out_free;
        }
    }
    *state = L;
    return ERR_OK;

out_free:
    lora_destroy(L);
    return e->code;
}

/* W += delta (add) or W -= delta for every target, delta = s · B A recomputed bit-identically. */
static int lora_fold(struct lora *L, struct model *m, bool add, struct err *e)
{
    size_t maxn = 0, maxin = 0;
    for (int i = 0; i < L->n; i++) {
        size_t n = (size_t)L->mods[i].IN * (size_t)L->mods[i].OUT;
        maxn = n > maxn ? n : maxn;
        maxin = (size_t)L->mods[i].IN > maxin ? (size_t)L->mods[i].IN : maxin;
    }
    if (!maxn)
        return ERR_OK;
    float *delta = mem_alloc(m->acct, MEM_WORKSPACE, maxn * sizeof(float));
    double *row = mem_alloc(m->acct, MEM_WORKSPACE, maxin * sizeof(double));
    if (!delta || !row) {
        mem_free(m->acct, delta);
        mem_free(m->acct, row);
        return ERR_SET(e, ERR_NOMEM, "lora: out of memory for the merge workspace");
    }
    for (int i = 0; i < L->n; i++) {
        const struct lora_mod *md = &L->mods[i];
        const size_t n = (size_t)md->IN * (size_t)md->OUT;
        lora_delta(delta, row, md->A->data, md->B->data, L->s, md->IN, md->OUT, L->R);
        float *W = md->W->data;
        if (add)
            for (size_t j = 0; j < n; j++)
                W[j] += delta[j];
        else
            for (size_t j = 0; j < n; j++)
                W[j] -= delta[j];
    }
    mem_free(m->acct, row);
    mem_free(m->acct, delta);
    return ERR_OK;
}

static int lora_merge(void *state, struct model *m, struct err *e)
{
    struct lora *L = state;
    if (L->merged)
        return ERR_SET(e, ERR_STATE, "lora: already merged");
    for (int i = 0; i < L->n; i++)
        if (check_no_merged_scale(m, L->mods[i].layer, L->mods[i].site, "merge", e))
            return e->code;
    if (lora_fold(L, m, true, e))
        return e->code;
    L->merged = true;
    mark_hooks(L, m, LORA_OWNER_MERGED);
    return ERR_OK;
}

static int lora_unmerge(void *state, struct model *m, struct err *e)
{
    struct lora *L = state;
    if (!L->merged)
        return ERR_SET(e, ERR_STATE, "lora: not merged");
    for (int i = 0; i < L->n; i++)
        if (check_no_merged_scale(m, L->mods[i].layer, L->mods[i].site, "unmerge", e))
            return e->code;
    if (lora_fold(L, m, false, e))
        return e->code;
    L->merged = false;
    mark_hooks(L, m, LORA_OWNER);
    return ERR_OK;
}

/* R (IN + OUT) per target per layer (METHODS.md §4.5: q,v on BERT-base → 4 R D L). */
static size_t lora_count(const struct hp_values *hp, const struct bert_config *c)
{
    const size_t R = (size_t)hp_int(hp, "rank"), D = (size_t)c->hidden_size;
    const size_t F = (size_t)c->intermediate_size, L = (size_t)c->num_hidden_layers;
    const uint32_t tg = hp_set(hp, "targets");
    size_t per_layer = 0;
    for (int s = SITE_Q; s <= SITE_FFN_OUT; s++)
        if (tg & (1u << s))
            per_layer += R * (s == SITE_FFN_IN || s == SITE_FFN_OUT ? D + F : 2 * D);
    return L * per_layer;
}

static bool lora_identity(const struct hp_values *hp)
{
    (void)hp;
    return true; /* B = 0 */
}

static const char *const lora_examples[] = {
    "",
    "rank=2;alpha=4;targets=q,k,v,o,ffn_in,ffn_out",
    "rank=4;rslora=true;dropout=0.1",
    "rank=1;alpha=1;targets=ffn_out;dropout=0.3",
    NULL,
};

const struct method_ops lora_method = {
    .name = "lora",
    .abi = METHOD_ABI,
    .summary = "LoRA: low-rank update s·B·A added to frozen Linears (mergeable)",
    .source = "Hu et al. 2021 / HF PEFT (A kaiming-uniform, B zero, targets q,v, alpha 16)",
    .train = {.lr = 5e-4,
              .has_weight_decay = true,
              .weight_decay = 0.1,
              .source = "Hu et al. 2021 RoBERTa-base GLUE table: lr 4e-4..5e-4 (5e-4 on "
                        "MNLI/SST-2); weight decay 0.1 from microsoft/LoRA NLU scripts "
                        "(METHODS.md 4.6)"},
    .hps = lora_hps,
    .nhps = (int)(sizeof lora_hps / sizeof *lora_hps),
    .check = lora_check,
    .create = lora_create,
    .destroy = lora_destroy,
    .merge = lora_merge,
    .unmerge = lora_unmerge,
    .count = lora_count,
    .identity_at_init = lora_identity,
    .examples = lora_examples,
};
