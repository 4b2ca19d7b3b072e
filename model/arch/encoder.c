#include "model/arch/encoder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/engine/bf16.h"
#include "model/engine/ops.h"
#include "model/engine/parallel.h"
#include "model/engine/rng.h"

/* Dropout stream tags: one per dropout site, mixed with the layer index. */
enum { DROP_EMB = 1, DROP_ATTN_PROBS, DROP_ATTN_OUT, DROP_FFN_OUT };

static uint64_t drop_stream(const struct encoder *enc, int layer, int tag)
{
    return rng_stream(enc->ctx.stream, (uint64_t)(layer + 1) * 16u + (uint64_t)tag);
}

/* ---- creation ----------------------------------------------------------- */

static struct param *reg(struct encoder *enc, const char *name, int d0, int d1,
                         enum param_kind kind, struct err *e)
{
    int shape[2] = {d0, d1};
    return param_add(enc->ps, name, d1 > 0 ? 2 : 1, shape, kind, PGROUP_BACKBONE, e);
}

static int reg_layer(struct encoder *enc, int l, struct err *e)
{
    struct bert_layer *ly = &enc->layers[l];
    const int D = enc->D, F = enc->F;
    char n[PARAM_NAME_MAX];
#define P(field, suffix, d0, d1, kind)                                                            \
    do {                                                                                          \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix);                                 \
        if (!(ly->field = reg(enc, n, d0, d1, kind, e)))                                          \
            return e->code;                                                                       \
    } while (0)
    P(wq, "attention.self.query.weight", D, D, PARAM_WEIGHT);
    P(bq, "attention.self.query.bias", D, 0, PARAM_BIAS);
    P(wk, "attention.self.key.weight", D, D, PARAM_WEIGHT);
    P(bk, "attention.self.key.bias", D, 0, PARAM_BIAS);
    P(wv, "attention.self.value.weight", D, D, PARAM_WEIGHT);
    P(bv, "attention.self.value.bias", D, 0, PARAM_BIAS);
    P(wo, "attention.output.dense.weight", D, D, PARAM_WEIGHT);
    P(bo, "attention.output.dense.bias", D, 0, PARAM_BIAS);
    P(ln1_g, "attention.output.LayerNorm.weight", D, 0, PARAM_LN_GAMMA);
    P(ln1_b, "attention.output.LayerNorm.bias", D, 0, PARAM_LN_BETA);
    P(w1, "intermediate.dense.weight", F, D, PARAM_WEIGHT);
    P(b1, "intermediate.dense.bias", F, 0, PARAM_BIAS);
    P(w2, "output.dense.weight", D, F, PARAM_WEIGHT);
    P(b2, "output.dense.bias", D, 0, PARAM_BIAS);
    P(ln2_g, "output.LayerNorm.weight", D, 0, PARAM_LN_GAMMA);
    P(ln2_b, "output.LayerNorm.bias", D, 0, PARAM_LN_BETA);
#undef P
    return ERR_OK;
}

int encoder_create(struct encoder *enc, const struct bert_config *cfg, struct param_store *ps,
                   struct mem_acct *acct, struct err *e)
{
    memset(enc, 0, sizeof *enc);
    enc->cls_layer = -1;
    enc->cfg = *cfg;
    enc->cfg.id2label = NULL; /* not owned here */
    enc->D = cfg->hidden_size;
    enc->H = cfg->num_attention_heads;
    enc->F = cfg->intermediate_size;
    enc->L = cfg->num_hidden_layers;
    enc->V = cfg->vocab_size;
    enc->roberta = strcmp(cfg->arch, "roberta") == 0;
    enc->act = act_from_name(cfg->hidden_act);
    if (enc->act < 0)
        return ERR_SET(e, ERR_CONFIG, "hidden_act '%s' is not supported", cfg->hidden_act);
    if (enc->D <= 0 || enc->H <= 0 || enc->D % enc->H != 0 || enc->L <= 0 || enc->F <= 0)
        return ERR_SET(e, ERR_CONFIG, "invalid encoder dims D=%d H=%d F=%d L=%d", enc->D, enc->H,
                       enc->F, enc->L);
    enc->hidden_drop = cfg->hidden_dropout_prob;
    enc->attn_drop = cfg->attention_probs_dropout_prob;
    enc->ps = ps;
    hook_set_init(&enc->hooks);
    arena_init(&enc->arena, acct, MEM_ACTIVATIONS);
    enc->layers = calloc((size_t)enc->L, sizeof *enc->layers);
    enc->save = calloc((size_t)enc->L, sizeof *enc->save);
    if (!enc->layers || !enc->save)
        return ERR_SET(e, ERR_NOMEM, "out of memory creating the encoder");
    const int D = enc->D;
    if (!(enc->word = reg(enc, "embeddings.word_embeddings.weight", cfg->vocab_size, D,
                          PARAM_EMBEDDING, e)) ||
        !(enc->pos = reg(enc, "embeddings.position_embeddings.weight",
                         cfg->max_position_embeddings, D, PARAM_EMBEDDING, e)) ||
        !(enc->type = reg(enc, "embeddings.token_type_embeddings.weight", cfg->type_vocab_size, D,
                          PARAM_EMBEDDING, e)) ||
        !(enc->emb_g = reg(enc, "embeddings.LayerNorm.weight", D, 0, PARAM_LN_GAMMA, e)) ||
        !(enc->emb_b = reg(enc, "embeddings.LayerNorm.bias", D, 0, PARAM_LN_BETA, e)))
        return e->code;
    for (int l = 0; l < enc->L; l++)
        if (reg_layer(enc, l, e))
            return e->code;
    return ERR_OK;
}

void encoder_destroy(struct encoder *enc)
{
    if (!enc)
        return;
    arena_destroy(&enc->arena);
    hook_set_destroy(&enc->hooks);
    free(enc->layers);
    free(enc->save);
    enc->layers = NULL;
    enc->save = NULL;
}

static void init_normal(struct param *p, struct rng *r, float std)
{
    for (size_t i = 0; i < p->numel; i++)
        p->data[i] = rng_normal(r) * std;
}

static void init_const(struct param *p, float c)
{
    for (size_t i = 0; i < p->numel; i++)
        p->data[i] = c;
}

void encoder_init_weights(struct encoder *enc, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    float std = enc->cfg.initializer_range;
    init_normal(enc->word, &r, std);
    init_normal(enc->pos, &r, std);
    init_normal(enc->type, &r, std);
    init_const(enc->emb_g, 1.0f);
    init_const(enc->emb_b, 0.0f);
    for (int l = 0; l < enc->L; l++) {
        struct bert_layer *ly = &enc->layers[l];
        struct param *mats[] = {ly->wq, ly->wk, ly->wv, ly->wo, ly->w1, ly->w2};
        struct param *zeros[] = {ly->bq, ly->bk, ly->bv, ly->bo, ly->b1,
                                 ly->b2, ly->ln1_b, ly->ln2_b};
        for (size_t i = 0; i < sizeof mats / sizeof *mats; i++)
            init_normal(mats[i], &r, std);
        for (size_t i = 0; i < sizeof zeros / sizeof *zeros; i++)
            init_const(zeros[i], 0.0f);
        init_const(ly->ln1_g, 1.0f);
        init_const(ly->ln2_g, 1.0f);
    }
}

/* ---- which parts need a backward ----------------------------------------- */

static bool tr(const struct param *p)
{
    return p && p->trainable;
}

static bool site_trainable(const struct encoder *enc, int l, enum hook_site s)
{
    for (int i = 0; i < enc->hooks.n; i++) {
        const struct hook *h = &enc->hooks.items[i];
        if (h->layer == l && h->site == s && h->trainable)
            return true;
    }
    return false;
}

static bool site_hooked(const struct encoder *enc, int l, enum hook_site s)
{
    for (int i = 0; i < enc->hooks.n; i++)
        if (enc->hooks.items[i].layer == l && enc->hooks.items[i].site == s &&
            !hook_inert(&enc->hooks.items[i]))
            return true;
    return false;
}

/* Whether backward reads the input of a linear site: for its weight gradient, or because a
 * hook there may read io.x.  When not, the input can live in transient scratch. */
static bool keep_site_input(const struct encoder *enc, int l, enum hook_site s,
                            const struct param *W)
{
    return enc->keep_all || tr(W) || site_hooked(enc, l, s);
}

/* The compact layer (the last one under encoder_forward_cls) runs everything after K and V on
 * each sequence's first token only: nothing else of its output is read.  K and V still see
 * every token, which that token attends to. */
static bool site_compact(const struct encoder *enc, int l, enum hook_site s)
{
    return l == enc->cls_layer && s != SITE_K && s != SITE_V;
}

/* Rows a site runs on: B (one per sequence) when compact, else N. */
static size_t site_rows(const struct encoder *enc, int l, enum hook_site s)
{
    return (size_t)(site_compact(enc, l, s) ? enc->ctx.B : enc->ctx.N);
}

/* Trainable flags of one layer, in backward order (see encoder_backward). */
struct layer_need {
    bool tFB, tFO, tFI, tAB, tO, tAtt, tQKV;
};

static struct layer_need layer_flags(const struct encoder *enc, int l)
{
    const struct bert_layer *y = &enc->layers[l];
    struct layer_need f;
    f.tFB = tr(y->ln2_g) || tr(y->ln2_b) || site_trainable(enc, l, SITE_FFN_BLOCK);
    f.tFO = tr(y->w2) || tr(y->b2) || site_trainable(enc, l, SITE_FFN_OUT);
    f.tFI = tr(y->w1) || tr(y->b1) || site_trainable(enc, l, SITE_FFN_IN);
    f.tAB = tr(y->ln1_g) || tr(y->ln1_b) || site_trainable(enc, l, SITE_ATTN_BLOCK);
    f.tO = tr(y->wo) || tr(y->bo) || site_trainable(enc, l, SITE_O);
    f.tAtt = enc->hooks.prefix.P > 0 && enc->hooks.prefix.trainable;
    f.tQKV = tr(y->wq) || tr(y->bq) || tr(y->wk) || tr(y->bk) || tr(y->wv) || tr(y->bv) ||
             site_trainable(enc, l, SITE_Q) || site_trainable(enc, l, SITE_K) ||
             site_trainable(enc, l, SITE_V);
    return f;
}

static bool layer_any(struct layer_need f)
{
    return f.tFB || f.tFO || f.tFI || f.tAB || f.tO || f.tAtt || f.tQKV;
}

static bool embeddings_trainable(const struct encoder *enc)
{
    return tr(enc->word) || tr(enc->pos) || tr(enc->type) || tr(enc->emb_g) || tr(enc->emb_b);
}

int encoder_lowest_trainable(const struct encoder *enc)
{
    if (embeddings_trainable(enc))
        return -1;
    for (int l = 0; l < enc->L; l++)
        if (layer_any(layer_flags(enc, l)))
            return l;
    return enc->L;
}

bool encoder_needs_backward(const struct encoder *enc)
{
    return encoder_lowest_trainable(enc) < enc->L;
}

/* ---- step --------------------------------------------------------------- */

static int oom(struct err *e, const char *what)
{
    return ERR_SET(e, ERR_NOMEM, "out of memory for activations (%s)", what);
}

int encoder_begin_step(struct encoder *enc, const struct batch *b, bool train, uint64_t seed,
                       uint64_t step, struct err *e)
{
    arena_reset(&enc->arena);
    enc->have_forward = false;
    struct hook_ctx *c = &enc->ctx;
    c->B = b->B;
    c->T = b->T;
    c->N = b->B * b->T;
    c->mask = b->mask;
    c->train = train;
    c->seed = seed;
    c->stream = rng_hash(seed, step, 0x57e9);
    c->arena = &enc->arena;
    if (b->B <= 0 || b->T <= 0)
        return ERR_SET(e, ERR_CONFIG, "empty batch (B=%d, T=%d)", b->B, b->T);
    if (b->T > enc->cfg.max_position_embeddings - (enc->roberta ? enc->cfg.pad_token_id + 1 : 0))
        return ERR_SET(e, ERR_RANGE, "sequence length %d exceeds the model's %d positions", b->T,
                       enc->cfg.max_position_embeddings);
    for (int i = 0; i < enc->hooks.nsteps; i++) {
        const struct step_hook *s = &enc->hooks.steps[i];
        if (s->begin && s->begin(s->user, c, e))
            return e->code;
    }
    return ERR_OK;
}

/* Position ids: BERT 0..T-1; RoBERTa pad+1+t for real tokens, pad for padding
 * (HF create_position_ids_from_input_ids with right padding). */
static int make_positions(struct encoder *enc, const struct batch *b, struct err *e)
{
    const int N = b->B * b->T;
    enc->pos_ids = arena_ints(&enc->arena, (size_t)N);
    if (!enc->pos_ids)
        return oom(e, "positions");
    for (int i = 0; i < b->B; i++) {
        int run = 0;
        for (int t = 0; t < b->T; t++) {
            int n = i * b->T + t;
            if (!enc->roberta)
                enc->pos_ids[n] = t;
            else
                enc->pos_ids[n] = b->mask[n] ? enc->cfg.pad_token_id + 1 + run++
                                             : enc->cfg.pad_token_id;
        }
    }
    return ERR_OK;
}

static int check_batch(const struct encoder *enc, const struct batch *b, struct err *e)
{
    const int N = b->B * b->T;
    for (int n = 0; n < N; n++) {
        if (b->ids[n] < 0 || b->ids[n] >= enc->V)
            return ERR_SET(e, ERR_RANGE, "token id %d at position %d outside vocabulary [0, %d)",
                           b->ids[n], n, enc->V);
        if (b->type_ids && (b->type_ids[n] < 0 || b->type_ids[n] >= enc->cfg.type_vocab_size))
            return ERR_SET(e, ERR_RANGE, "token type %d at position %d outside [0, %d)",
                           b->type_ids[n], n, enc->cfg.type_vocab_size);
    }
    return ERR_OK;
}

/* Hidden dropout (training steps only) of (rows, D) src into dst (may alias), forward and
 * backward alike: site `tag` of layer l, or of the embeddings (l = -1).  Rows of the compact
 * layer stand for tokens r * T and draw the full layer's masks. */
static void hidden_dropout(struct encoder *enc, float *dst, const float *src, int l, int tag,
                           size_t rows)
{
    const size_t stride = l >= 0 && l == enc->cls_layer ? (size_t)enc->ctx.T : 1;
    op_dropout_rows_fwd(dst, src, rows, (size_t)enc->D, stride,
                        enc->ctx.train ? enc->hidden_drop : 0.0f, enc->ctx.seed,
                        drop_stream(enc, l, tag));
}

/* op_embed_fwd with the word table stored in bf16 (the bf16 precision, frozen embeddings):
 * rows widened exactly to fp32, then the same sums in the same order. */
static void embed_fwd_bf16(struct encoder *enc, const struct batch *b, int N, int D)
{
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = enc->emb + (size_t)n * (size_t)D;
        bf16_widen(o, enc->word->bf16 + (size_t)b->ids[n] * (size_t)D, (size_t)D);
        const float *p = enc->pos->data + (size_t)enc->pos_ids[n] * (size_t)D;
        for (int j = 0; j < D; j++)
            o[j] += p[j];
        if (b->type_ids) {
            const float *t = enc->type->data + (size_t)b->type_ids[n] * (size_t)D;
            for (int j = 0; j < D; j++)
                o[j] += t[j];
        }
    }
}

static int embed_fwd(struct encoder *enc, const struct batch *b, float **x, struct err *e)
{
    const int N = enc->ctx.N, D = enc->D;
    if (check_batch(enc, b, e) || make_positions(enc, b, e))
        return e->code;
    enc->save_ids = b->ids;
    enc->save_types = b->type_ids;
    /* The pre-LayerNorm sum is read only by the embeddings' own backward. */
    enc->emb = embeddings_trainable(enc) || enc->keep_all ? arena_floats(&enc->arena, (size_t)N * D)
                                                          : enc->scratch;
    enc->emb_mean = arena_floats(&enc->arena, (size_t)N);
    enc->emb_rstd = arena_floats(&enc->arena, (size_t)N);
    float *out = arena_floats(&enc->arena, (size_t)N * D);
    if (!enc->emb || !enc->emb_mean || !enc->emb_rstd || !out)
        return oom(e, "embeddings");
    if (enc->word->data)
        op_embed_fwd(enc->emb, b->ids, enc->pos_ids, b->type_ids, enc->word->data,
                     enc->pos->data, b->type_ids ? enc->type->data : NULL, N, D);
    else
        embed_fwd_bf16(enc, b, N, D);
    if (!b->type_ids) /* all segment 0: add row 0 of the type table */
        for (int n = 0; n < N; n++)
            op_acc(enc->emb + (size_t)n * D, enc->type->data, (size_t)D);
    op_layernorm_fwd(out, enc->emb_mean, enc->emb_rstd, enc->emb, enc->emb_g->data,
                     enc->emb_b->data, N, D, enc->cfg.layer_norm_eps);
    hidden_dropout(enc, out, out, -1, DROP_EMB, (size_t)N);
    *x = out;
    return ERR_OK;
}

/* ---- linear sites ------------------------------------------------------- */

static struct site_io lin_io(const struct encoder *enc, int l, enum hook_site s, int IN, int OUT)
{
    struct site_io io;
    memset(&io, 0, sizeof io);
    io.layer = l;
    io.site = s;
    io.N = (int)site_rows(enc, l, s);
    io.row_stride = site_compact(enc, l, s) ? enc->ctx.T : 1;
    io.IN = IN;
    io.OUT = OUT;
    return io;
}

/* y = site(x0) with the base Linear (W, b) and the site's hooks; saves into *sv. */
static int lin_fwd(struct encoder *enc, int l, enum hook_site s, const float *x0,
                   const struct param *W, const struct param *b, int IN, int OUT,
                   struct lin_save *sv, struct err *e)
{
    const struct hook *in = NULL, *out = NULL, *adds[16];
    const size_t N = site_rows(enc, l, s);
    hook_find(&enc->hooks, l, s, HOOK_IN, &in, 1);
    hook_find(&enc->hooks, l, s, HOOK_OUT, &out, 1);
    int nadd = hook_find(&enc->hooks, l, s, HOOK_ADD, adds, 16);
    if (nadd > 16)
        return ERR_SET(e, ERR_LIMIT, "more than 16 additive hooks at one site");
    struct site_io io = lin_io(enc, l, s, IN, OUT);
    io.x0 = x0;
    float *x = (float *)(uintptr_t)x0; /* only written through when an IN hook exists */
    if (in) {
        if (!(x = arena_floats(&enc->arena, N * IN)))
            return oom(e, hook_site_name(s));
        io.x = x;
        if (in->fwd(in, &enc->ctx, &io, e))
            return e->code;
    }
    float *z = arena_floats(&enc->arena, N * OUT);
    if (!z)
        return oom(e, hook_site_name(s));
    if (!enc->mm)
        op_linear_fwd(z, x, W->data, b ? b->data : NULL, (int)N, IN, OUT);
    else if (op_linear_fwd_be(enc->mm, z, x, param_mat(W), b ? b->data : NULL, (int)N, IN, OUT,
                              e))
        return e->code;
    io.x = x;
    io.z = z;
    for (int i = 0; i < nadd; i++)
        if (adds[i]->fwd(adds[i], &enc->ctx, &io, e))
            return e->code;
    float *y = z;
    if (out) {
        if (!(y = arena_floats(&enc->arena, N * OUT)))
            return oom(e, hook_site_name(s));
        io.y = y;
        if (out->fwd(out, &enc->ctx, &io, e))
            return e->code;
    }
    sv->x0 = x0;
    sv->x = x;
    sv->z = z;
    sv->y = y;
    return ERR_OK;
}

/* Backward of one linear site.  dy: (N, OUT), may be overwritten.
 * dx0: (N, IN) grad of the site input, overwritten (or accumulated when acc),
 * NULL when not needed. */
static int lin_bwd(struct encoder *enc, int l, enum hook_site s, const struct lin_save *sv,
                   float *dy, struct param *W, struct param *b, int IN, int OUT, float *dx0,
                   bool acc, struct err *e)
{
    const struct hook *in = NULL, *out = NULL, *adds[16];
    const size_t N = site_rows(enc, l, s);
    hook_find(&enc->hooks, l, s, HOOK_IN, &in, 1);
    hook_find(&enc->hooks, l, s, HOOK_OUT, &out, 1);
    int nadd = hook_find(&enc->hooks, l, s, HOOK_ADD, adds, 16);
    struct site_io io = lin_io(enc, l, s, IN, OUT);
    io.x0 = sv->x0;
    io.x = (float *)(uintptr_t)sv->x;
    io.z = sv->z;
    io.y = sv->y;
    float *dz = dy;
    if (out) {
        if (!(dz = arena_floats(&enc->arena, N * OUT)))
            return oom(e, "grad");
        io.dy = dy;
        io.dz = dz;
        if (out->bwd && out->bwd(out, &enc->ctx, &io, e))
            return e->code;
    }
    float *dx = dx0;
    bool acc_base = acc;
    if (in) { /* the IN hook needs the grad of its output even if dx0 is not needed */
        if (!(dx = arena_floats(&enc->arena, N * IN)))
            return oom(e, "grad");
        acc_base = false;
    }
    if (!enc->mm)
        op_linear_bwd(dx, W->grad, b ? b->grad : NULL, dz, sv->x, W->data, (int)N, IN, OUT,
                      acc_base);
    else if (op_linear_bwd_be(enc->mm, dx, W->grad, b ? b->grad : NULL, dz, sv->x, param_mat(W),
                              (int)N, IN, OUT, acc_base, e))
        return e->code;
    io.dz = dz;
    io.dx = dx;
    for (int i = nadd; i-- > 0;)
        if (adds[i]->bwd && adds[i]->bwd(adds[i], &enc->ctx, &io, e))
            return e->code;
    if (in) {
        float *target = dx0;
        if (dx0 && acc && !(target = arena_floats(&enc->arena, N * IN)))
            return oom(e, "grad");
        io.dx0 = target;
        if (in->bwd && in->bwd(in, &enc->ctx, &io, e))
            return e->code;
        if (dx0 && acc)
            op_acc(dx0, target, N * IN);
    }
    return ERR_OK;
}

/* ---- block sites -------------------------------------------------------- */

/* out = LN(h + res + adds), or LN(z + r(LN(z))) with a POST_LN hook. */
static int blk_fwd(struct encoder *enc, int l, enum hook_site s, const float *h, const float *res,
                   const struct param *g, const struct param *bb, struct blk_save *sv,
                   struct err *e)
{
    const size_t N = site_rows(enc, l, s), D = (size_t)enc->D;
    const float eps = enc->cfg.layer_norm_eps;
    const struct hook *post = NULL, *adds[16];
    hook_find(&enc->hooks, l, s, HOOK_POST_LN, &post, 1);
    int nadd = hook_find(&enc->hooks, l, s, HOOK_ADD, adds, 16);
    memset(sv, 0, sizeof *sv);
    sv->h = h;
    sv->res = res;
    /* Without hooks at the block or its sublayer's output site nothing reads h after this
     * add (LayerNorm's backward reads zsum): sum in place instead of keeping both. */
    enum hook_site lin = s == SITE_ATTN_BLOCK ? SITE_O : SITE_FFN_OUT;
    bool in_place = !enc->keep_all && !site_hooked(enc, l, s) && !site_hooked(enc, l, lin);
    sv->zsum = in_place ? (float *)(uintptr_t)h : arena_floats(&enc->arena, N * D);
    sv->mean1 = arena_floats(&enc->arena, N);
    sv->rstd1 = arena_floats(&enc->arena, N);
    sv->n = arena_floats(&enc->arena, N * D);
    if (!sv->zsum || !sv->mean1 || !sv->rstd1 || !sv->n)
        return oom(e, hook_site_name(s));
    op_add(sv->zsum, h, res, N * D);
    struct site_io io = lin_io(enc, l, s, (int)D, (int)D);
    io.h = h;
    io.res = res;
    io.zsum = sv->zsum;
    for (int i = 0; i < nadd; i++)
        if (adds[i]->fwd(adds[i], &enc->ctx, &io, e))
            return e->code;
    op_layernorm_fwd(sv->n, sv->mean1, sv->rstd1, sv->zsum, g->data, bb->data, (int)N, (int)D,
                     eps);
    sv->out = sv->n;
    if (!post)
        return ERR_OK;
    sv->r = arena_floats(&enc->arena, N * D);
    sv->z2 = arena_floats(&enc->arena, N * D);
    sv->mean2 = arena_floats(&enc->arena, N);
    sv->rstd2 = arena_floats(&enc->arena, N);
    sv->out = arena_floats(&enc->arena, N * D);
    if (!sv->r || !sv->z2 || !sv->mean2 || !sv->rstd2 || !sv->out)
        return oom(e, hook_site_name(s));
    io.n = sv->n;
    io.r = sv->r;
    if (post->fwd(post, &enc->ctx, &io, e))
        return e->code;
    op_add(sv->z2, sv->zsum, sv->r, N * D);
    op_layernorm_fwd(sv->out, sv->mean2, sv->rstd2, sv->z2, g->data, bb->data, (int)N, (int)D,
                     eps);
    return ERR_OK;
}

/* Backward of a block.  dout: (N, D).  Outputs *dh (grad of the sublayer
 * output, NULL if !need_h) and *dres (grad of the residual input, NULL if
 * !need_res), both arena views. */
static int blk_bwd(struct encoder *enc, int l, enum hook_site s, const struct blk_save *sv,
                   const float *dout, struct param *g, struct param *bb, bool need_h,
                   bool need_res, float **dh, float **dres, struct err *e)
{
    const size_t N = site_rows(enc, l, s), D = (size_t)enc->D;
    const struct hook *post = NULL, *adds[16];
    hook_find(&enc->hooks, l, s, HOOK_POST_LN, &post, 1);
    int nadd = hook_find(&enc->hooks, l, s, HOOK_ADD, adds, 16);
    float *dzsum = arena_floats(&enc->arena, N * D);
    if (!dzsum)
        return oom(e, "grad");
    struct site_io io = lin_io(enc, l, s, (int)D, (int)D);
    io.h = sv->h;
    io.res = sv->res;
    io.zsum = sv->zsum;
    io.n = sv->n;
    io.r = sv->r;
    const float *dn_in = dout;
    if (post) {
        float *dz2 = arena_floats(&enc->arena, N * D);
        float *dn = arena_zeros(&enc->arena, N * D);
        if (!dz2 || !dn)
            return oom(e, "grad");
        op_layernorm_bwd(dz2, g->grad, bb->grad, dout, sv->z2, sv->mean2, sv->rstd2, g->data,
                         (int)N, (int)D, false);
        io.dr = dz2;
        io.dn = dn;
        if (post->bwd && post->bwd(post, &enc->ctx, &io, e))
            return e->code;
        memcpy(dzsum, dz2, N * D * sizeof(float)); /* z2 = zsum + r: the skip path */
        dn_in = dn;
    }
    op_layernorm_bwd(dzsum, g->grad, bb->grad, dn_in, sv->zsum, sv->mean1, sv->rstd1, g->data,
                     (int)N, (int)D, post != NULL);
    float *h_grad = dzsum, *res_grad = dzsum;
    if (nadd > 0) { /* hooks add into dh and dres separately: give them their own copies */
        h_grad = arena_floats(&enc->arena, N * D);
        res_grad = need_res ? arena_floats(&enc->arena, N * D) : NULL;
        if (!h_grad || (need_res && !res_grad))
            return oom(e, "grad");
        memcpy(h_grad, dzsum, N * D * sizeof(float));
        if (res_grad)
            memcpy(res_grad, dzsum, N * D * sizeof(float));
        io.dzsum = dzsum;
        io.dh = h_grad;
        io.dres = res_grad;
        for (int i = nadd; i-- > 0;)
            if (adds[i]->bwd && adds[i]->bwd(adds[i], &enc->ctx, &io, e))
                return e->code;
    }
    *dh = need_h ? h_grad : NULL;
    *dres = need_res ? res_grad : NULL;
    return ERR_OK;
}

/* ---- one layer ---------------------------------------------------------- */

/* The first token of each sequence: rows b*T of x (N, D) -> (B, D) in the arena. */
static float *first_rows(struct encoder *enc, const float *x)
{
    const struct hook_ctx *c = &enc->ctx;
    const size_t D = (size_t)enc->D;
    float *out = arena_floats(&enc->arena, (size_t)c->B * D);
    if (out)
        for (int b = 0; b < c->B; b++)
            memcpy(out + (size_t)b * D, x + (size_t)b * (size_t)c->T * D, D * sizeof(float));
    return out;
}

/* dst (N, D) rows b*T += src (B, D) rows b. */
static void acc_first_rows(const struct encoder *enc, float *dst, const float *src)
{
    const struct hook_ctx *c = &enc->ctx;
    const size_t D = (size_t)enc->D;
    for (int b = 0; b < c->B; b++)
        op_acc(dst + (size_t)b * (size_t)c->T * D, src + (size_t)b * D, D);
}

/* Queries per sequence in layer l: 1 (the first token) in the compact layer, else T. */
static int layer_tq(const struct encoder *enc, int l)
{
    return l == enc->cls_layer ? 1 : enc->ctx.T;
}

static int attn_fwd(struct encoder *enc, int l, struct layer_save *sv, float **ctxout,
                    struct err *e)
{
    const struct hook_ctx *c = &enc->ctx;
    const int P = enc->hooks.prefix.P, Tq = layer_tq(enc, l);
    sv->pk = sv->pv = NULL;
    if (P > 0)
        enc->hooks.prefix.kv(enc->hooks.prefix.user, l, &sv->pk, &sv->pv);
    size_t np = (size_t)c->B * enc->H * Tq * (size_t)(P + c->T);
    sv->probs = arena_floats(&enc->arena, np);
    float *out = keep_site_input(enc, l, SITE_O, enc->layers[l].wo)
                     ? arena_floats(&enc->arena, site_rows(enc, l, SITE_O) * enc->D)
                     : enc->scratch;
    if (!sv->probs || !out)
        return oom(e, "attention");
    op_attention_fwd_q(out, sv->probs, sv->lin[SITE_Q].y, sv->lin[SITE_K].y, sv->lin[SITE_V].y,
                       sv->pk, sv->pv, c->mask, c->B, c->T, Tq, enc->D, enc->H, P,
                       c->train ? enc->attn_drop : 0.0f, c->seed,
                       drop_stream(enc, l, DROP_ATTN_PROBS), enc->ws);
    *ctxout = out;
    return ERR_OK;
}

/* One layer.  x: (N, D).  *y: (R, D), R = N, or B in the compact layer. */
static int layer_fwd(struct encoder *enc, int l, const float *x, float **y, struct err *e)
{
    const struct bert_layer *w = &enc->layers[l];
    struct layer_save *sv = &enc->save[l];
    const int D = enc->D, F = enc->F;
    const size_t R = site_rows(enc, l, SITE_O), NF = R * (size_t)F;
    sv->x = x;
    /* Q, the residual and everything after attention see the first tokens only when
     * compact; K and V every token. */
    sv->xq = l == enc->cls_layer ? first_rows(enc, x) : x;
    if (!sv->xq)
        return oom(e, "first tokens");
    float *ctx = NULL;
    if (lin_fwd(enc, l, SITE_Q, sv->xq, w->wq, w->bq, D, D, &sv->lin[SITE_Q], e) ||
        lin_fwd(enc, l, SITE_K, x, w->wk, w->bk, D, D, &sv->lin[SITE_K], e) ||
        lin_fwd(enc, l, SITE_V, x, w->wv, w->bv, D, D, &sv->lin[SITE_V], e) ||
        attn_fwd(enc, l, sv, &ctx, e) ||
        lin_fwd(enc, l, SITE_O, ctx, w->wo, w->bo, D, D, &sv->lin[SITE_O], e))
        return e->code;
    /* dropout in place on the O output: backward regenerates the mask and no
     * one reads the pre-dropout output (IA3 'o' keeps its own z). */
    float *h1 = sv->lin[SITE_O].y;
    hidden_dropout(enc, h1, h1, l, DROP_ATTN_OUT, R);
    if (blk_fwd(enc, l, SITE_ATTN_BLOCK, h1, sv->xq, w->ln1_g, w->ln1_b, &sv->blk[0], e))
        return e->code;
    const float *a = sv->blk[0].out;
    if (lin_fwd(enc, l, SITE_FFN_IN, a, w->w1, w->b1, D, F, &sv->lin[SITE_FFN_IN], e))
        return e->code;
    sv->u = sv->lin[SITE_FFN_IN].y;
    sv->g = keep_site_input(enc, l, SITE_FFN_OUT, w->w2) ? arena_floats(&enc->arena, NF)
                                                        : enc->scratch;
    if (!sv->g)
        return oom(e, "ffn");
    op_act_fwd((enum act_kind)enc->act, sv->g, sv->u, NF);
    if (lin_fwd(enc, l, SITE_FFN_OUT, sv->g, w->w2, w->b2, F, D, &sv->lin[SITE_FFN_OUT], e))
        return e->code;
    float *h2 = sv->lin[SITE_FFN_OUT].y;
    hidden_dropout(enc, h2, h2, l, DROP_FFN_OUT, R);
    if (blk_fwd(enc, l, SITE_FFN_BLOCK, h2, a, w->ln2_g, w->ln2_b, &sv->blk[1], e))
        return e->code;
    *y = sv->blk[1].out;
    return ERR_OK;
}

static bool needs_scratch(const struct encoder *enc)
{
    if (enc->keep_all)
        return false;
    if (!embeddings_trainable(enc))
        return true;
    for (int l = 0; l < enc->L; l++)
        if (!keep_site_input(enc, l, SITE_O, enc->layers[l].wo) ||
            !keep_site_input(enc, l, SITE_FFN_OUT, enc->layers[l].w2))
            return true;
    return false;
}

static int forward(struct encoder *enc, const struct batch *b, bool cls, struct err *e)
{
    const struct hook_ctx *c = &enc->ctx;
    if (c->B != b->B || c->T != b->T)
        return ERR_SET(e, ERR_STATE, "encoder_forward: batch differs from encoder_begin_step");
    size_t ws = op_attention_ws_floats(c->B, c->T, enc->D, enc->H, enc->hooks.prefix.P);
    if (!(enc->ws = arena_floats(&enc->arena, ws ? ws : 1)))
        return oom(e, "attention workspace");
    /* One (N, max(D, F)) scratch for the tensors no backward reads: the embedding sum of
     * frozen embeddings, and the attention context and FFN activation of layers with frozen O
     * and FFN-out weights and no hooks there.  Only allocated when used (the accountant
     * counts every page handed out). */
    const size_t wide = (size_t)c->N * (size_t)(enc->F > enc->D ? enc->F : enc->D);
    enc->scratch = NULL;
    if (needs_scratch(enc) && !(enc->scratch = arena_floats(&enc->arena, wide)))
        return oom(e, "scratch");
    /* keep_all (tests inspecting every row of save[]) turns the compact layer off. */
    enc->cls_layer = cls && !enc->keep_all ? enc->L - 1 : -1;
    enc->hidden_rows = enc->cls_layer >= 0 ? c->B : c->N;
    float *x = NULL;
    if (embed_fwd(enc, b, &x, e))
        return e->code;
    /* Layers no backward will reach (all of them in evaluation, those below the
     * lowest trainable one in training) keep nothing: their activations are
     * given back to the arena after each layer and the output moves through two
     * ping-pong buffers, so a frozen-backbone step holds one layer's activations. */
    enc->saved_from = enc->keep_all ? 0 : c->train ? encoder_lowest_trainable(enc) : enc->L;
    const size_t ND = (size_t)c->N * enc->D;
    float *pp[2] = {NULL, NULL};
    if (enc->saved_from > 0 && (!(pp[0] = arena_floats(&enc->arena, ND)) ||
                                !(pp[1] = arena_floats(&enc->arena, ND))))
        return oom(e, "layer outputs");
    for (int l = 0; l < enc->L; l++) {
        if (l >= enc->saved_from) {
            if (layer_fwd(enc, l, x, &x, e))
                return e->code;
            continue;
        }
        struct arena_mark mk = arena_mark(&enc->arena);
        float *y;
        if (layer_fwd(enc, l, x, &y, e))
            return e->code;
        memcpy(pp[l & 1], y, site_rows(enc, l, SITE_FFN_BLOCK) * enc->D * sizeof(float));
        arena_rewind(&enc->arena, mk);
        x = pp[l & 1];
    }
    enc->hidden = x;
    enc->have_forward = true;
    return ERR_OK;
}

int encoder_forward(struct encoder *enc, const struct batch *b, struct err *e)
{
    return forward(enc, b, false, e);
}

int encoder_forward_cls(struct encoder *enc, const struct batch *b, struct err *e)
{
    return forward(enc, b, true, e);
}

size_t encoder_first_row(const struct encoder *enc, int b)
{
    return enc->hidden_rows == enc->ctx.N ? (size_t)b * (size_t)enc->ctx.T : (size_t)b;
}

/* Scratch copy of hidden dropout's backward on (rows, D) (never in place: the input may be
 * shared). */
static float *drop_bwd(struct encoder *enc, const float *dy, int l, int tag, size_t rows)
{
    float *dx = arena_floats(&enc->arena, rows * (size_t)enc->D);
    if (dx)
        hidden_dropout(enc, dx, dy, l, tag, rows);
    return dx;
}

/* Attention core + Q/K/V sites backward.  dctx: (R, D), R = rows of SITE_Q.  dx: (N, D)
 * grad of the layer input, accumulated; NULL when not needed. */
static int attn_bwd(struct encoder *enc, int l, const struct layer_save *sv, const float *dctx,
                    float *dx, struct err *e)
{
    struct bert_layer *w = &enc->layers[l];
    const struct hook_ctx *c = &enc->ctx;
    const size_t ND = (size_t)c->N * enc->D, RD = site_rows(enc, l, SITE_Q) * enc->D;
    const int D = enc->D, P = enc->hooks.prefix.P;
    const bool compact = site_compact(enc, l, SITE_Q);
    float *dq = arena_floats(&enc->arena, RD), *dk = arena_floats(&enc->arena, ND);
    float *dv = arena_floats(&enc->arena, ND);
    /* In the compact layer Q's input is the first tokens: its dx goes to a (B, D) buffer
     * that is then added into those rows of dx. */
    float *dxq = compact && dx ? arena_floats(&enc->arena, RD) : dx;
    if (!dq || !dk || !dv || (dx && !dxq))
        return oom(e, "grad");
    float *dpk = NULL, *dpv = NULL;
    if (P > 0 && enc->hooks.prefix.trainable && enc->hooks.prefix.grad)
        enc->hooks.prefix.grad(enc->hooks.prefix.user, l, &dpk, &dpv);
    op_attention_bwd_q(dq, dk, dv, dpk, dpv, dctx, sv->probs, sv->lin[SITE_Q].y,
                       sv->lin[SITE_K].y, sv->lin[SITE_V].y, sv->pk, sv->pv, c->mask, c->B, c->T,
                       layer_tq(enc, l), D, enc->H, P, c->train ? enc->attn_drop : 0.0f, c->seed,
                       drop_stream(enc, l, DROP_ATTN_PROBS), enc->ws);
    if (lin_bwd(enc, l, SITE_Q, &sv->lin[SITE_Q], dq, w->wq, w->bq, D, D, dxq, !compact, e) ||
        lin_bwd(enc, l, SITE_K, &sv->lin[SITE_K], dk, w->wk, w->bk, D, D, dx, true, e) ||
        lin_bwd(enc, l, SITE_V, &sv->lin[SITE_V], dv, w->wv, w->bv, D, D, dx, true, e))
        return e->code;
    if (compact && dx)
        acc_first_rows(enc, dx, dxq);
    return ERR_OK;
}

/* Backward of layer l.  dy: (R, D) grad of the output (R = B in the compact layer, else N).
 * *dx: (N, D) grad of the input (arena), or NULL when need_dx is false. */
static int layer_bwd(struct encoder *enc, int l, const float *dy, bool need_dx, float **dx,
                     struct err *e)
{
    struct bert_layer *w = &enc->layers[l];
    const struct layer_save *sv = &enc->save[l];
    const struct layer_need f = layer_flags(enc, l);
    const int D = enc->D, F = enc->F;
    const size_t R = site_rows(enc, l, SITE_O), RD = R * D, RF = R * F;
    const size_t ND = (size_t)enc->ctx.N * D;
    /* g*: does anything at or below this point need a gradient? */
    const bool g0 = need_dx || f.tQKV || f.tAtt, gO = g0 || f.tO, gAB = gO || f.tAB;
    const bool gFI = gAB || f.tFI, gFO = gFI || f.tFO;
    float *dh2, *da, *dh1, *dres_x, *dg = NULL, *du, *dc = NULL;
    *dx = NULL;
    if (blk_bwd(enc, l, SITE_FFN_BLOCK, &sv->blk[1], dy, w->ln2_g, w->ln2_b, gFO, gAB, &dh2, &da,
                e))
        return e->code;
    if (!gFO)
        return ERR_OK;
    /* The FFN's temporaries (df, dg and the sites') are dead once da is complete: give them
     * back before the attention half allocates its own. */
    struct arena_mark ffn_mark = arena_mark(&enc->arena);
    float *df = drop_bwd(enc, dh2, l, DROP_FFN_OUT, R);
    if (!df || (gFI && !(dg = arena_floats(&enc->arena, RF))))
        return oom(e, "grad");
    if (lin_bwd(enc, l, SITE_FFN_OUT, &sv->lin[SITE_FFN_OUT], df, w->w2, w->b2, F, D, dg, false,
                e))
        return e->code;
    if (!gFI)
        return ERR_OK;
    du = dg;
    op_act_bwd((enum act_kind)enc->act, du, dg, sv->u, RF);
    /* da (the FFN block's residual grad) += the FFN input's grad */
    if (lin_bwd(enc, l, SITE_FFN_IN, &sv->lin[SITE_FFN_IN], du, w->w1, w->b1, D, F,
                gAB ? da : NULL, true, e))
        return e->code;
    if (!gAB)
        return ERR_OK;
    arena_rewind(&enc->arena, ffn_mark);
    if (blk_bwd(enc, l, SITE_ATTN_BLOCK, &sv->blk[0], da, w->ln1_g, w->ln1_b, gO, need_dx, &dh1,
                &dres_x, e))
        return e->code;
    if (!gO)
        return ERR_OK;
    float *dout_o = drop_bwd(enc, dh1, l, DROP_ATTN_OUT, R);
    if (!dout_o || (g0 && !(dc = arena_floats(&enc->arena, RD))))
        return oom(e, "grad");
    if (lin_bwd(enc, l, SITE_O, &sv->lin[SITE_O], dout_o, w->wo, w->bo, D, D, dc, false, e))
        return e->code;
    if (!g0)
        return ERR_OK;
    float *dxl = NULL;
    if (need_dx) { /* the residual path: all of dx, or in the compact layer the first tokens' */
        const bool compact = site_compact(enc, l, SITE_ATTN_BLOCK);
        if (!(dxl = compact ? arena_zeros(&enc->arena, ND) : arena_floats(&enc->arena, ND)))
            return oom(e, "grad");
        if (compact)
            acc_first_rows(enc, dxl, dres_x);
        else
            memcpy(dxl, dres_x, ND * sizeof(float));
    }
    if (attn_bwd(enc, l, sv, dc, dxl, e))
        return e->code;
    *dx = dxl;
    return ERR_OK;
}

static int embed_bwd(struct encoder *enc, const float *dx, struct err *e)
{
    const struct hook_ctx *c = &enc->ctx;
    const int N = c->N, D = enc->D;
    float *d = drop_bwd(enc, dx, -1, DROP_EMB, (size_t)N);
    float *demb = arena_floats(&enc->arena, (size_t)N * D);
    if (!d || !demb)
        return oom(e, "grad");
    op_layernorm_bwd(demb, enc->emb_g->grad, enc->emb_b->grad, d, enc->emb, enc->emb_mean,
                     enc->emb_rstd, enc->emb_g->data, N, D, false);
    /* Type ids NULL means all 0: the type table's row 0 got every row. */
    const int *types = NULL;
    int *zeros = NULL;
    if (enc->type->grad) {
        if (!(zeros = arena_ints(&enc->arena, (size_t)N)))
            return oom(e, "grad");
        memset(zeros, 0, (size_t)N * sizeof(int));
        types = zeros;
    }
    op_embed_bwd(enc->word->grad, enc->pos->grad, enc->type->grad, demb, enc->save_ids,
                 enc->pos_ids, enc->save_types ? enc->save_types : types, N, D);
    return ERR_OK;
}

int encoder_backward(struct encoder *enc, float *dhidden, struct err *e)
{
    if (!enc->have_forward)
        return ERR_SET(e, ERR_STATE, "encoder_backward without a forward in this step");
    const struct hook *inert = hook_set_first_inert(&enc->hooks);
    if (inert)
        return ERR_SET(e, ERR_STATE, "%s: backward while merged into the base weights (layer %d "
                       "%s); unmerge before training", inert->owner, inert->layer,
                       hook_site_name(inert->site));
    const int low = encoder_lowest_trainable(enc);
    if (low < enc->L && (low < 0 ? 0 : low) < enc->saved_from)
        return ERR_SET(e, ERR_STATE,
                       "encoder_backward after a forward that kept no activations below layer "
                       "%d (an evaluation forward, or trainability changed in between)",
                       enc->saved_from);
    /* A layer's gradient temporaries are given back after it: its input gradient moves
     * through two ping-pong buffers, so the backward holds one layer's temporaries. */
    const size_t ND = (size_t)enc->ctx.N * (size_t)enc->D;
    float *gb[2] = {NULL, NULL};
    if (low < enc->L - 1 && (!(gb[0] = arena_floats(&enc->arena, ND)) ||
                             !(gb[1] = arena_floats(&enc->arena, ND))))
        return oom(e, "grad");
    const float *dy = dhidden;
    for (int l = enc->L - 1; l >= 0 && l >= low; l--) {
        struct arena_mark mk = arena_mark(&enc->arena);
        float *dx;
        if (layer_bwd(enc, l, dy, l > low, &dx, e))
            return e->code;
        if (dx) {
            memcpy(gb[l & 1], dx, ND * sizeof(float));
            dx = gb[l & 1];
        }
        arena_rewind(&enc->arena, mk);
        dy = dx;
    }
    if (low < 0 && embed_bwd(enc, dy, e))
        return e->code;
    for (int i = enc->hooks.nsteps; i-- > 0;) {
        const struct step_hook *s = &enc->hooks.steps[i];
        if (s->end_backward && s->end_backward(s->user, &enc->ctx, e))
            return e->code;
    }
    return ERR_OK;
}
