/*
 * (IA)^3 (Liu et al. 2022, T-Few), METHODS.md §5 and §11.
 *
 * Learned vectors, initialised to ones (exact identity at init), that rescale
 * activations of every layer.  Per layer and target, one trainable tensor in the
 * model's store (PGROUP_METHOD) "ia3.encoder.layer.{i}.<HF module>.ia3_l":
 *   k, v, q, o, ffn_in  output scaling of that Linear:  y = l ⊙ z      l: (OUT)
 *                       (HOOK_OUT; 'o' scales the output of attention.output.dense, §11)
 *   ffn_act             input scaling of the FFN output Linear, i.e. the GELU output
 *                       (HOOK_IN at SITE_FFN_ACT):        x = l ⊙ x0   l: (F)
 *                       = the paper's l_ff, module "output.dense"
 * Default targets k,v,ffn_act: the paper's placement, L (2D + F) parameters
 * (55,296 on BERT-base).  The hook phases give the §11 composition with LoRA at
 * the same Linear: y = l_out ⊙ ((l_in ⊙ x0) W^T + b + Σ s (l_in ⊙ x0) A^T B^T).
 *
 * Backward:  OUT: dl += Σ_n dy ⊙ z, dz = l ⊙ dy;  IN: dl += Σ_n dx ⊙ x0, dx0 = l ⊙ dx.
 *
 * Merge (§5.3): output scaling multiplies the rows of W and the bias by l; ffn_act
 * multiplies the columns of W2 (bias unchanged).  Never folded through GELU.
 * While merged the hooks only copy (z → y, x0 → x: the encoder gives a scaled
 * site its own output buffer) and refuse a backward.  Unmerge divides by l: exact
 * to within rounding (≈ 1 ulp) but hopeless when l ≈ 0, so merge refuses when any
 * |l| < IA3_MIN_ABS (it could not be undone) and unmerge checks it again.
 *
 * Merge order with additive methods (LoRA) at a site this method scales: the
 * additive terms must already be inside W when the scaling is folded in (§11),
 * whatever the attach order.  So merge refuses while an additive hook (HOOK_ADD)
 * at one of its sites is not merged: merge lora first, ia3 last; unmerge ia3
 * first, lora last (lora enforces its side).  The merged state is visible through
 * the hook's owner string: "ia3" becomes "ia3 [merged]" (a hook whose owner ends
 * in " [merged]" is inert; hooks.h has no flag for it).
 *
 * One ia3 instance per model (a second would need the single HOOK_IN/HOOK_OUT slot
 * of a site, or collide on tensor names: create fails with a clear message).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"
#include "model/engine/ops.h"
#include "methods/peft_format.h"

#define IA3_OWNER        "ia3"
#define IA3_OWNER_MERGED "ia3 [merged]"
#define MERGED_SUFFIX    " [merged]"
#define IA3_MIN_ABS      1e-6f

enum ia3_target { IA3_K = 0, IA3_V, IA3_Q, IA3_O, IA3_FFN_ACT, IA3_FFN_IN, IA3_NTARGETS };

static const struct hp_def ia3_hps[] = {
    {"targets", HP_SET, "k,v,ffn_act", 0, 0, "k|v|q|o|ffn_act|ffn_in",
     "scaled activations: outputs of k, v, q, o (attention.output.dense), ffn_in (pre-GELU); "
     "ffn_act = GELU output (input of output.dense, the paper's l_ff). Paper: k,v,ffn_act"},
};

/* Where each target choice lives. */
static const struct {
    enum hook_site site;
    enum hook_phase phase;
} ia3_place[IA3_NTARGETS] = {
    [IA3_K] = {SITE_K, HOOK_OUT},
    [IA3_V] = {SITE_V, HOOK_OUT},
    [IA3_Q] = {SITE_Q, HOOK_OUT},
    [IA3_O] = {SITE_O, HOOK_OUT},
    [IA3_FFN_ACT] = {SITE_FFN_ACT, HOOK_IN},
    [IA3_FFN_IN] = {SITE_FFN_IN, HOOK_OUT},
};

struct ia3;

struct ia3_mod {
    const struct ia3 *ia3; /* borrowed: the instance (merged flag) */
    int layer;
    enum hook_site site;
    enum hook_phase phase; /* HOOK_OUT: l scales z (OUT); HOOK_IN: l scales x0 (IN) */
    int n;                 /* width of l */
    struct param *l;       /* (n) view into the store */
    struct param *W, *b;   /* (OUT, IN), (OUT) borrowed: the base Linear merge folds into */
};

struct ia3 {
    bool merged;
    int n;
    struct ia3_mod *mods; /* owned: (n), layer-major */
};

/* ---- hooks ---------------------------------------------------------------- */

static int ia3_fwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                   struct err *e)
{
    (void)c, (void)e;
    const struct ia3_mod *md = h->user;
    const bool out = md->phase == HOOK_OUT;
    const float *src = out ? io->z : io->x0;
    float *dst = out ? io->y : io->x;
    const int C = out ? io->OUT : io->IN;
    if (md->ia3->merged)
        memcpy(dst, src, (size_t)io->N * (size_t)C * sizeof(float)); /* folded into W */
    else
        op_colscale_fwd(dst, src, md->l->data, io->N, C);
    return ERR_OK;
}

static int ia3_bwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                   struct err *e)
{
    (void)c;
    const struct ia3_mod *md = h->user;
    if (md->ia3->merged)
        return ERR_SET(e, ERR_STATE,
                       "ia3: backward while merged into the base weights; unmerge before training");
    if (md->phase == HOOK_OUT)
        op_colscale_bwd(io->dz, md->l->grad, io->dy, io->z, md->l->data, io->N, io->OUT);
    else
        op_colscale_bwd(io->dx0, md->l->grad, io->dx, io->x0, md->l->data, io->N, io->IN);
    return ERR_OK;
}

/* ---- helpers ---------------------------------------------------------------- */

static void site_params(const struct model *m, int layer, enum hook_site s, struct param **W,
                        struct param **b)
{
    const struct bert_layer *y = &m->enc.layers[layer];
    switch (s) {
    case SITE_Q:
        *W = y->wq, *b = y->bq;
        break;
    case SITE_K:
        *W = y->wk, *b = y->bk;
        break;
    case SITE_V:
        *W = y->wv, *b = y->bv;
        break;
    case SITE_O:
        *W = y->wo, *b = y->bo;
        break;
    case SITE_FFN_IN:
        *W = y->w1, *b = y->b1;
        break;
    default:
        *W = y->w2, *b = y->b2;
        break;
    }
}

static int target_width(enum ia3_target t, int D, int F)
{
    return t == IA3_FFN_ACT || t == IA3_FFN_IN ? F : D;
}

static bool owner_merged(const char *owner)
{
    size_t n = owner ? strlen(owner) : 0, k = strlen(MERGED_SUFFIX);
    return n >= k && strcmp(owner + n - k, MERGED_SUFFIX) == 0;
}

static void mark_hooks(const struct ia3 *I, struct model *m, const char *owner)
{
    for (int i = 0; i < m->enc.hooks.n; i++) {
        struct hook *h = &m->enc.hooks.items[i];
        if (h->fwd == ia3_fwd && ((const struct ia3_mod *)h->user)->ia3 == I)
            h->owner = owner;
    }
}

/* Error when some |l| < IA3_MIN_ABS (division by l could not undo the merge). */
static int check_invertible(const struct ia3 *I, const char *doing, struct err *e)
{
    for (int i = 0; i < I->n; i++) {
        const struct param *l = I->mods[i].l;
        for (size_t j = 0; j < l->numel; j++)
            if (!(fabsf(l->data[j]) >= IA3_MIN_ABS))
                return ERR_SET(e, ERR_RANGE,
                               "ia3: cannot %s: %s[%zu] = %g has |l| < %g, so dividing by it "
                               "could not restore the base weights",
                               doing, l->name, j, (double)l->data[j], (double)IA3_MIN_ABS);
    }
    return ERR_OK;
}

/* ---- method ops ------------------------------------------------------------- */

static void ia3_destroy(void *state)
{
    struct ia3 *I = state;
    if (!I)
        return;
    free(I->mods);
    free(I);
}

static int ia3_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                      struct err *e)
{
    (void)seed; /* ones: nothing random */
    *state = NULL;
    const int L = m->enc.L;
    const uint32_t tg = hp_set(hp, "targets");
    int ntg = 0;
    for (int t = 0; t < IA3_NTARGETS; t++)
        ntg += (tg >> t) & 1u;
    /* The single IN/OUT slot of a site: fail before registering anything. */
    for (int l = 0; l < L; l++)
        for (int t = 0; t < IA3_NTARGETS; t++) {
            const struct hook *other = NULL;
            if ((tg & (1u << t)) &&
                hook_find_any(&m->enc.hooks, l, ia3_place[t].site, ia3_place[t].phase, &other, 1) > 0)
                return ERR_SET(e, ERR_CONFIG,
                               "ia3: the %s scaling of site '%s' in layer %d is taken by '%s'; "
                               "they cannot be composed",
                               ia3_place[t].phase == HOOK_IN ? "input" : "output",
                               hook_site_name(ia3_place[t].site), l,
                               other->owner ? other->owner : "?");
        }

    struct ia3 *I = calloc(1, sizeof *I);
    if (!I || !(I->mods = calloc((size_t)L * (size_t)ntg, sizeof *I->mods))) {
        free(I);
        return ERR_SET(e, ERR_NOMEM, "ia3: out of memory");
    }
    for (int l = 0; l < L; l++) {
        for (int t = 0; t < IA3_NTARGETS; t++) {
            if (!(tg & (1u << t)))
                continue;
            struct ia3_mod *md = &I->mods[I->n++];
            md->ia3 = I;
            md->layer = l;
            md->site = ia3_place[t].site;
            md->phase = ia3_place[t].phase;
            md->n = target_width((enum ia3_target)t, m->enc.D, m->enc.F);
            site_params(m, l, md->site, &md->W, &md->b);
            char name[PARAM_NAME_MAX];
            snprintf(name, sizeof name, "ia3.encoder.layer.%d.%s.ia3_l", l,
                     peft_site_module(md->site));
            int shape[1] = {md->n};
            md->l = param_add(&m->ps, name, 1, shape, PARAM_WEIGHT, PGROUP_METHOD, e);
            if (!md->l || param_set_trainable(&m->ps, md->l, true, e))
                goto out_free;
            for (int j = 0; j < md->n; j++)
                md->l->data[j] = 1.0f;
        }
    }
    const int n0 = m->enc.hooks.n;
    for (int i = 0; i < I->n; i++) {
        const struct hook hk = {.site = I->mods[i].site,
                                .phase = I->mods[i].phase,
                                .layer = I->mods[i].layer,
                                .trainable = true,
                                .owner = IA3_OWNER,
                                .user = &I->mods[i],
                                .fwd = ia3_fwd,
                                .bwd = ia3_bwd};
        if (hook_add(&m->enc.hooks, &hk, e)) {
            m->enc.hooks.n = n0; /* ours are the last ones: none may point into freed state */
            goto out_free;
        }
    }
    *state = I;
    return ERR_OK;

out_free:
    ia3_destroy(I);
    return e->code;
}

static int ia3_merge(void *state, struct model *m, struct err *e)
{
    struct ia3 *I = state;
    if (I->merged)
        return ERR_SET(e, ERR_STATE, "ia3: already merged");
    for (int i = 0; i < I->n; i++) {
        const struct ia3_mod *md = &I->mods[i];
        const struct hook *adds[16];
        int k = hook_find_any(&m->enc.hooks, md->layer, md->site, HOOK_ADD, adds, 16);
        for (int j = 0; j < k && j < 16; j++)
            if (!owner_merged(adds[j]->owner))
                return ERR_SET(e, ERR_STATE,
                               "ia3: cannot merge while '%s' at layer %d '%s' is not merged: "
                               "additive methods must be merged first and scaling methods (ia3) "
                               "last (METHODS.md §11); merge '%s' first",
                               adds[j]->owner ? adds[j]->owner : "?", md->layer,
                               hook_site_name(md->site), adds[j]->owner ? adds[j]->owner : "?");
    }
    if (check_invertible(I, "merge", e))
        return e->code;
    for (int i = 0; i < I->n; i++) {
        const struct ia3_mod *md = &I->mods[i];
        const float *l = md->l->data;
        const int OUT = md->W->shape[0], IN = md->W->shape[1];
        float *W = md->W->data;
        if (md->phase == HOOK_OUT) { /* rows and bias */
            for (int o = 0; o < OUT; o++) {
                for (int j = 0; j < IN; j++)
                    W[(size_t)o * IN + j] *= l[o];
                md->b->data[o] *= l[o];
            }
        } else { /* columns of W2 */
            for (int o = 0; o < OUT; o++)
                for (int j = 0; j < IN; j++)
                    W[(size_t)o * IN + j] *= l[j];
        }
    }
    I->merged = true;
    mark_hooks(I, m, IA3_OWNER_MERGED);
    return ERR_OK;
}

static int ia3_unmerge(void *state, struct model *m, struct err *e)
{
    struct ia3 *I = state;
    if (!I->merged)
        return ERR_SET(e, ERR_STATE, "ia3: not merged");
    if (check_invertible(I, "unmerge", e))
        return e->code;
    for (int i = 0; i < I->n; i++) {
        const struct ia3_mod *md = &I->mods[i];
        const float *l = md->l->data;
        const int OUT = md->W->shape[0], IN = md->W->shape[1];
        float *W = md->W->data;
        if (md->phase == HOOK_OUT) {
            for (int o = 0; o < OUT; o++) {
                for (int j = 0; j < IN; j++)
                    W[(size_t)o * IN + j] /= l[o];
                md->b->data[o] /= l[o];
            }
        } else {
            for (int o = 0; o < OUT; o++)
                for (int j = 0; j < IN; j++)
                    W[(size_t)o * IN + j] /= l[j];
        }
    }
    I->merged = false;
    mark_hooks(I, m, IA3_OWNER);
    return ERR_OK;
}

/* L × (sum of the target widths): paper placement on BERT-base L (2D + F) = 55,296. */
static size_t ia3_count(const struct hp_values *hp, const struct bert_config *c)
{
    const uint32_t tg = hp_set(hp, "targets");
    size_t per_layer = 0;
    for (int t = 0; t < IA3_NTARGETS; t++)
        if (tg & (1u << t))
            per_layer +=
                (size_t)target_width((enum ia3_target)t, c->hidden_size, c->intermediate_size);
    return (size_t)c->num_hidden_layers * per_layer;
}

static bool ia3_identity(const struct hp_values *hp)
{
    (void)hp;
    return true; /* ones */
}

static const char *const ia3_examples[] = {
    "",   "targets=k,v", "targets=ffn_act", "targets=q,o,ffn_in", "targets=k,v,q,o,ffn_act,ffn_in",
    NULL,
};

const struct method_ops ia3_method = {
    .name = "ia3",
    .abi = METHOD_ABI,
    .summary = "(IA)^3: learned vectors rescale keys, values and the FFN activation (mergeable)",
    .source = "Liu et al. 2022 (T-Few) placement: k, v output and GELU output, ones init",
    .train = {.lr = 3e-3,
              .source = "Liu et al. 2022 T-Few recipe: lr 3e-3 (METHODS.md 5.4)"},
    .hps = ia3_hps,
    .nhps = (int)(sizeof ia3_hps / sizeof *ia3_hps),
    .create = ia3_create,
    .destroy = ia3_destroy,
    .merge = ia3_merge,
    .unmerge = ia3_unmerge,
    .count = ia3_count,
    .identity_at_init = ia3_identity,
    .examples = ia3_examples,
};
