/*
 * Prefix tuning (Li & Liang 2021), METHODS.md §2.
 *
 * Every layer's attention gets P extra key and value rows, shared by every
 * sequence of the batch and always attendable (model/arch/hooks.h, prefix
 * provider).  Queries, the output length and the real tokens' positions are
 * unchanged (peftbench pins "the prefix occupies no position", §11).
 *
 * Two parameterisations:
 *   reparam=true (the reference code, training form):
 *     E (P, D) ~ N(0, 1)                          "prefix.embedding"
 *     pre = E W0^T + b0   (P, mid)                "prefix.mlp.0.weight" (mid, D), ".bias" (mid)
 *     hid = act(pre)      (P, mid)                act = tanh | relu | gelu
 *     out = hid W2^T + b2 (P, 2LD)                "prefix.mlp.2.weight" (2LD, mid), ".bias" (2LD)
 *     out = dropout(out)  (training only)
 *   Along the features of out the order is layer0-K, layer0-V, layer1-K, ...,
 *   each a D-block (the layout of both reference libraries, §2.2).  The
 *   Linears use PyTorch's default init: kaiming-uniform(a=√5) weights and
 *   uniform(±1/√fan_in) biases, i.e. all uniform(±1/√fan_in).
 *   The step hook `begin` runs the MLP once per step for all layers and
 *   copies out into contiguous (L, 2, P, D) key/value rows; `end_backward`
 *   takes the (L, 2, P, D) gradients the attention op accumulated and
 *   backpropagates them through the MLP into E, W0, b0, W2, b2.
 *
 *   reparam=false (AdapterHub `flat`, HF PEFT's default):
 *     "prefix.prefix" (L, 2, P, D) ~ N(0, 1) is the prefix itself; without
 *     dropout kv()/grad() point straight into its data and gradient.
 *
 * Merge (the inference form, §2.3): run the MLP once in eval mode and serve
 * the static (L, 2, P, D) rows; the step hook then does nothing and the
 * prefix is no longer trainable.  Unmerge returns to the MLP.  The static
 * rows are a snapshot: changing E or the MLP while merged does not show.
 *
 * Prefix dropout (reference `prefix_dropout`) drops elements of the served
 * rows with the counter RNG, one mask per step: the rows are shared across the
 * batch here, whereas the libraries expand the prefix to the batch first and so
 * draw one mask per sequence.
 *
 * Not offered: `shift_positions` (HF PEFT shifts BERT's position ids by P).
 * The encoder computes position ids itself after the step hooks run and the
 * hook interface has no way to offset them.
 *
 * Lifetime: the instance's tensors belong to the model's store; the instance
 * owns its state and, while merged, the static rows (MEM_FROZEN).  Destroy it
 * only after its provider and step hook are detached (hook_set_clear) or the
 * model is no longer run.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "methods/method.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"

enum { PX_REPARAM_TAG = 0x7072, PX_FLAT_TAG = 0x7066 };
#define PX_DROP_TAG 0x70726566786470ull /* "prefxdp": far from the encoder's stream tags */

static const enum act_kind px_acts[] = {ACT_TANH, ACT_RELU, ACT_GELU};

static const struct hp_def prefix_hps[] = {
    {"prefix_length", HP_INT, "30", 1, 4096, NULL,
     "P: prefix key/value rows per layer (AdapterHub default 30)"},
    {"reparam", HP_BOOL, "true", 0, 0, NULL,
     "train through the reference MLP reparameterisation (false: the prefix itself, 'flat')"},
    {"reparam_hidden", HP_INT, "512", 1, 65536, NULL,
     "hidden width of the reparameterisation MLP (reparam only; reference mid_dim 512)"},
    {"non_linearity", HP_ENUM, "tanh", 0, 0, "tanh|relu|gelu",
     "activation of the reparameterisation MLP (reparam only; reference tanh)"},
    {"dropout", HP_FLOAT, "0", 0, 1, NULL,
     "prefix dropout on the served key/value rows, training steps only (must be < 1)"},
};

struct prefix_state {
    struct mem_acct *acct; /* borrowed: the model's accountant (static_kv) */
    int L, D, P, mid;
    bool reparam;
    enum act_kind act;
    float drop; /* prefix dropout probability */

    struct param *emb;     /* (P, D) view into the store (reparam) */
    struct param *w0, *b0; /* (mid, D), (mid) */
    struct param *w2, *b2; /* (2LD, mid), (2LD) */
    struct param *flat;    /* (L, 2, P, D) (flat) */

    /* This step (views into the encoder's arena, valid until the next step). */
    const float *kv;       /* (L, 2, P, D) served rows; NULL = serve flat->data */
    float *dkv;            /* (L, 2, P, D) accumulated gradients, NULL when none */
    float *pre, *hid;      /* (P, mid) MLP pre-/post-activation (reparam) */
    uint64_t seed, stream; /* this step's dropout stream */
    bool dropped;          /* dropout applied in this step */

    bool merged;
    float *static_kv; /* (L, 2, P, D) owned (MEM_FROZEN) while merged */
};

/* ---- ops ------------------------------------------------------------------ */

/* Copy the MLP output into per-layer rows.  out: (P, 2LD)  kv: (L, 2, P, D). */
static void px_scatter(float *kv, const float *out, int P, int L, int D)
{
    const size_t W = (size_t)2 * L * D;
    for (int j = 0; j < 2 * L; j++)
        for (int p = 0; p < P; p++)
            memcpy(kv + ((size_t)j * P + p) * D, out + (size_t)p * W + (size_t)j * D,
                   (size_t)D * sizeof(float));
}

/* Inverse of px_scatter (for the gradients).  dkv: (L, 2, P, D)  dout: (P, 2LD). */
static void px_gather(float *dout, const float *dkv, int P, int L, int D)
{
    const size_t W = (size_t)2 * L * D;
    for (int j = 0; j < 2 * L; j++)
        for (int p = 0; p < P; p++)
            memcpy(dout + (size_t)p * W + (size_t)j * D, dkv + ((size_t)j * P + p) * D,
                   (size_t)D * sizeof(float));
}

/* The reparameterisation MLP (no dropout).  pre, hid: (P, mid) written;
 * out: (P, 2LD) written. */
static void px_mlp_fwd(const struct prefix_state *s, float *pre, float *hid, float *out)
{
    const int W = 2 * s->L * s->D;
    op_linear_fwd(pre, s->emb->data, s->w0->data, s->b0->data, s->P, s->D, s->mid);
    op_act_fwd(s->act, hid, pre, (size_t)s->P * s->mid);
    op_linear_fwd(out, hid, s->w2->data, s->b2->data, s->P, s->mid, W);
}

static size_t px_rows(const struct prefix_state *s)
{
    return (size_t)2 * s->L * s->P * s->D;
}

/* ---- provider and step hook ------------------------------------------------ */

static void px_kv(void *user, int layer, const float **pk, const float **pv)
{
    const struct prefix_state *s = user;
    const float *base = s->merged ? s->static_kv : s->kv ? s->kv : s->flat->data;
    const size_t PD = (size_t)s->P * s->D;
    *pk = base + (size_t)2 * layer * PD;
    *pv = *pk + PD;
}

static void px_grad(void *user, int layer, float **dpk, float **dpv)
{
    const struct prefix_state *s = user;
    float *base = s->merged ? NULL : s->dkv ? s->dkv : s->flat ? s->flat->grad : NULL;
    const size_t PD = (size_t)s->P * s->D;
    *dpk = base ? base + (size_t)2 * layer * PD : NULL;
    *dpv = base ? *dpk + PD : NULL;
}

static int px_oom(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "prefix: out of memory for the step's prefix rows");
}

/* Build this step's rows.  Training steps also get zeroed gradient buffers
 * (unless the flat prefix serves its own data and gradient). */
static int px_begin(void *user, const struct hook_ctx *c, struct err *e)
{
    struct prefix_state *s = user;
    s->kv = NULL;
    s->dkv = NULL;
    s->pre = s->hid = NULL;
    s->dropped = false;
    if (s->merged)
        return ERR_OK;
    const size_t n = px_rows(s);
    s->seed = c->seed;
    s->stream = rng_stream(c->stream, PX_DROP_TAG);
    s->dropped = c->train && s->drop > 0.0f;
    if (!s->reparam && !s->dropped)
        return ERR_OK; /* kv/grad point into "prefix.prefix" */
    float *kv = arena_floats(c->arena, n);
    if (!kv)
        return px_oom(e);
    if (s->reparam) {
        const size_t Pm = (size_t)s->P * s->mid;
        float *out = arena_floats(c->arena, (size_t)s->P * 2 * s->L * s->D);
        s->pre = arena_floats(c->arena, Pm);
        s->hid = arena_floats(c->arena, Pm);
        if (!out || !s->pre || !s->hid)
            return px_oom(e);
        px_mlp_fwd(s, s->pre, s->hid, out);
        px_scatter(kv, out, s->P, s->L, s->D);
    } else {
        memcpy(kv, s->flat->data, n * sizeof(float));
    }
    if (s->dropped) /* element order (L, 2, P, D): the layout does not matter to the mask */
        op_dropout_fwd(kv, kv, n, s->drop, s->seed, s->stream);
    s->kv = kv;
    if (c->train && !(s->dkv = arena_zeros(c->arena, n)))
        return px_oom(e);
    return ERR_OK;
}

/* Backpropagate the accumulated (L, 2, P, D) gradients into the trainable
 * tensors (each accumulated; a frozen tensor has grad NULL and gets nothing). */
static int px_end_backward(void *user, const struct hook_ctx *c, struct err *e)
{
    struct prefix_state *s = user;
    if (s->merged || !s->dkv)
        return ERR_OK;
    const size_t n = px_rows(s);
    if (s->dropped)
        op_dropout_bwd(s->dkv, s->dkv, n, s->drop, s->seed, s->stream);
    if (!s->reparam) {
        if (s->flat->grad)
            op_acc(s->flat->grad, s->dkv, n);
        return ERR_OK;
    }
    const int W = 2 * s->L * s->D;
    float *dout = arena_floats(c->arena, (size_t)s->P * W);
    float *dhid = arena_floats(c->arena, (size_t)s->P * s->mid);
    if (!dout || !dhid)
        return px_oom(e);
    px_gather(dout, s->dkv, s->P, s->L, s->D);
    op_linear_bwd(dhid, s->w2->grad, s->b2->grad, dout, s->hid, s->w2->data, s->P, s->mid, W,
                  false);
    op_act_bwd(s->act, dhid, dhid, s->pre, (size_t)s->P * s->mid);
    if (s->emb->grad || s->w0->grad || s->b0->grad)
        op_linear_bwd(s->emb->grad, s->w0->grad, s->b0->grad, dhid, s->emb->data, s->w0->data, s->P,
                      s->D, s->mid, true);
    return ERR_OK;
}

/* ---- method ops ------------------------------------------------------------- */

static int prefix_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    if (hp_float(hp, "dropout") >= 1.0)
        return ERR_SET(e, ERR_RANGE, "prefix.dropout = %g must be < 1", hp_float(hp, "dropout"));
    if (m && m->enc.hooks.prefix.P > 0)
        return ERR_SET(e, ERR_CONFIG,
                       "prefix: another method already supplies attention prefix rows "
                       "(only one prefix method per model)");
    return ERR_OK;
}

static struct param *px_add(struct model *m, const char *name, int ndim, const int *shape,
                            enum param_kind kind, struct err *e)
{
    struct param *p = param_add(&m->ps, name, ndim, shape, kind, PGROUP_METHOD, e);
    if (p && param_set_trainable(&m->ps, p, true, e))
        return NULL;
    return p;
}

static void px_uniform(struct rng *r, float *x, size_t n, float bound)
{
    for (size_t i = 0; i < n; i++)
        x[i] = bound * (2.0f * rng_uniform(r) - 1.0f);
}

static void px_normal(struct rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_normal(r);
}

static int prefix_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                         struct err *e)
{
    *state = NULL;
    if (prefix_check(hp, m, e))
        return e->code;
    const int L = m->enc.L, D = m->enc.D, P = (int)hp_int(hp, "prefix_length");
    const int mid = (int)hp_int(hp, "reparam_hidden");
    size_t rows, width;
    if (!mem_mul_ok((size_t)2 * L, (size_t)P * D, &rows) || rows > (size_t)1 << 31 ||
        !mem_mul_ok((size_t)2 * L * D, (size_t)mid, &width) || width > (size_t)1 << 31)
        return ERR_SET(e, ERR_LIMIT,
                       "prefix: prefix_length=%d, reparam_hidden=%d are too large for L=%d, D=%d",
                       P, mid, L, D);
    struct prefix_state *s = calloc(1, sizeof *s);
    if (!s)
        return ERR_SET(e, ERR_NOMEM, "prefix: out of memory");
    s->acct = m->acct;
    s->L = L;
    s->D = D;
    s->P = P;
    s->mid = mid;
    s->reparam = hp_bool(hp, "reparam");
    s->act = px_acts[hp_enum(hp, "non_linearity")];
    s->drop = (float)hp_float(hp, "dropout");

    struct rng r;
    if (s->reparam) {
        const int W = 2 * L * D;
        rng_seed(&r, rng_hash(seed, PX_REPARAM_TAG, 0));
        if (!(s->emb = px_add(m, "prefix.embedding", 2, (int[]){P, D}, PARAM_EMBEDDING, e)) ||
            !(s->w0 = px_add(m, "prefix.mlp.0.weight", 2, (int[]){mid, D}, PARAM_WEIGHT, e)) ||
            !(s->b0 = px_add(m, "prefix.mlp.0.bias", 1, (int[]){mid}, PARAM_BIAS, e)) ||
            !(s->w2 = px_add(m, "prefix.mlp.2.weight", 2, (int[]){W, mid}, PARAM_WEIGHT, e)) ||
            !(s->b2 = px_add(m, "prefix.mlp.2.bias", 1, (int[]){W}, PARAM_BIAS, e)))
            goto out_free_state;
        px_normal(&r, s->emb->data, s->emb->numel);
        px_uniform(&r, s->w0->data, s->w0->numel, 1.0f / sqrtf((float)D));
        px_uniform(&r, s->b0->data, s->b0->numel, 1.0f / sqrtf((float)D));
        px_uniform(&r, s->w2->data, s->w2->numel, 1.0f / sqrtf((float)mid));
        px_uniform(&r, s->b2->data, s->b2->numel, 1.0f / sqrtf((float)mid));
    } else {
        rng_seed(&r, rng_hash(seed, PX_FLAT_TAG, 0));
        if (!(s->flat = px_add(m, "prefix.prefix", 4, (int[]){L, 2, P, D}, PARAM_WEIGHT, e)))
            goto out_free_state;
        px_normal(&r, s->flat->data, s->flat->numel);
    }

    struct prefix_provider pp = {P, true, s, px_kv, px_grad};
    if (hook_set_prefix(&m->enc.hooks, &pp, "prefix", e))
        goto out_free_state;
    struct step_hook sh = {s, px_begin, px_end_backward};
    if (hook_add_step(&m->enc.hooks, &sh, e)) {
        memset(&m->enc.hooks.prefix, 0, sizeof m->enc.hooks.prefix);
        goto out_free_state;
    }
    *state = s;
    return ERR_OK;

out_free_state:
    /* Tensors already registered stay in the store (it has no removal); they
     * are frozen-or-trainable data freed with the model. */
    free(s);
    return e->code;
}

static void prefix_destroy(void *state)
{
    struct prefix_state *s = state;
    if (!s)
        return;
    mem_free(s->acct, s->static_kv);
    free(s);
}

/* The installed provider, if it is this instance's. */
static struct prefix_provider *px_provider(struct prefix_state *s, struct model *m, struct err *e)
{
    struct prefix_provider *pp = &m->enc.hooks.prefix;
    if (pp->user != s) {
        ERR_SET(e, ERR_STATE,
                "prefix: this instance's prefix provider is not attached to the model");
        return NULL;
    }
    return pp;
}

static int prefix_merge(void *state, struct model *m, struct err *e)
{
    struct prefix_state *s = state;
    struct prefix_provider *pp = px_provider(s, m, e);
    if (!pp)
        return e->code;
    if (s->merged)
        return ERR_SET(e, ERR_STATE, "prefix: already merged");
    const size_t n = px_rows(s);
    float *kv = mem_alloc(m->acct, MEM_FROZEN, n * sizeof(float));
    if (!kv)
        return ERR_SET(e, ERR_NOMEM, "prefix: out of memory for the merged prefix rows");
    if (s->reparam) {
        const size_t Pm = (size_t)s->P * s->mid;
        float *pre = mem_alloc(m->acct, MEM_WORKSPACE, Pm * sizeof(float));
        float *hid = mem_alloc(m->acct, MEM_WORKSPACE, Pm * sizeof(float));
        float *out = mem_alloc(m->acct, MEM_WORKSPACE, n * sizeof(float));
        if (pre && hid && out) {
            px_mlp_fwd(s, pre, hid, out);
            px_scatter(kv, out, s->P, s->L, s->D);
        }
        mem_free(m->acct, out);
        mem_free(m->acct, hid);
        mem_free(m->acct, pre);
        if (!pre || !hid || !out) {
            mem_free(m->acct, kv);
            return ERR_SET(e, ERR_NOMEM, "prefix: out of memory running the MLP for merge");
        }
    } else {
        memcpy(kv, s->flat->data, n * sizeof(float));
    }
    s->static_kv = kv;
    s->merged = true;
    s->kv = NULL;
    s->dkv = NULL;
    pp->trainable = false; /* the inference form: no prefix gradients, no backward for them */
    return ERR_OK;
}

static int prefix_unmerge(void *state, struct model *m, struct err *e)
{
    struct prefix_state *s = state;
    struct prefix_provider *pp = px_provider(s, m, e);
    if (!pp)
        return e->code;
    if (!s->merged)
        return ERR_SET(e, ERR_STATE, "prefix: not merged");
    mem_free(m->acct, s->static_kv);
    s->static_kv = NULL;
    s->merged = false;
    pp->trainable = true;
    return ERR_OK;
}

/* What inference needs: the (L, 2, P, D) rows (§2.4), whatever the training form. */
static size_t prefix_stored(const void *state, const struct model *m)
{
    const struct prefix_state *s = state;
    (void)m;
    return px_rows(s);
}

/* §2.4: reparam P·D + (D·mid + mid) + (mid·2LD + 2LD); flat 2LPD. */
static size_t prefix_count(const struct hp_values *hp, const struct bert_config *c)
{
    const size_t P = (size_t)hp_int(hp, "prefix_length");
    const size_t mid = (size_t)hp_int(hp, "reparam_hidden");
    const size_t D = (size_t)c->hidden_size, L = (size_t)c->num_hidden_layers;
    if (!hp_bool(hp, "reparam"))
        return 2 * L * P * D;
    return P * D + (D * mid + mid) + (mid * 2 * L * D + 2 * L * D);
}

static const char *const prefix_examples[] = {
    "",
    "prefix_length=3;reparam_hidden=8",
    "prefix_length=2;reparam=false",
    "prefix_length=4;reparam_hidden=6;non_linearity=relu;dropout=0.1",
    NULL,
};

const struct method_ops prefix_method = {
    .name = "prefix",
    .abi = METHOD_ABI,
    .summary =
        "prefix tuning: P trained key/value rows per layer (MLP-reparameterised in training)",
    .source = "Li & Liang 2021 reference code (MLP, tanh, mid 512); AdapterHub prefix_length 30",
    .train = {.lr = 5e-5,
              .source = "Li & Liang 2021 reference code, lr 5e-5 with the MLP "
                        "reparameterisation (METHODS.md 2.5)"},
    .hps = prefix_hps,
    .nhps = (int)(sizeof prefix_hps / sizeof *prefix_hps),
    .check = prefix_check,
    .create = prefix_create,
    .destroy = prefix_destroy,
    .merge = prefix_merge,
    .unmerge = prefix_unmerge,
    .stored_params = prefix_stored,
    .count = prefix_count,
    .examples = prefix_examples,
};
