/*
 * Bottleneck adapters (METHODS.md §1): houlsby, pfeiffer and parallel, all built on
 * methods/bottleneck.c.  Defaults follow AdapterHub's configs:
 *
 *   houlsby   double_seq_bn: both blocks, out = LN(h + s A(h) + x), swish, rf 16, init bert
 *   pfeiffer  seq_bn:        FFN block, out = LN(h + x + s A(LN(h + x))) with the block's own
 *                            LayerNorm applied twice, relu, rf 16, init bert
 *   parallel  par_bn:        FFN block (placement=ffn|attn|both), out = LN(h + x + s A(x)) where
 *                            x is the sublayer input, relu, rf 2, init mam, scaling 4
 *                            (METHODS.md §11; He et al.'s GLUE MAM config uses 2)
 *
 * Width: bottleneck R directly, or R = max(1, D / reduction_factor) (the max keeps tiny test
 * models valid); giving both is an error.  train_layernorm unfreezes every backbone LayerNorm
 * (each layer's two and the embedding LayerNorm, as adapter-bert's "layer_norm" collection does):
 * count() then adds 4DL + 2D.
 */
#include <string.h>

#include "methods/bottleneck.h"
#include "methods/method.h"

/* Entries shared by the three tables (defaults differ per method). */
/* clang-format off */
#define HP_BOTTLENECK                                                                             \
    {"bottleneck", HP_INT, NULL, 1, 1 << 20, NULL,                                                \
     "bottleneck width R (give this or reduction_factor, not both)"}
#define HP_REDUCTION(def)                                                                         \
    {"reduction_factor", HP_INT, NULL, 1, 1 << 20, NULL,                                          \
     "R = max(1, D / reduction_factor); " def " when neither it nor bottleneck is given"}
#define HP_ACT(def)                                                                               \
    {"non_linearity", HP_ENUM, def, 0, 0, BN_ACT_CHOICES, "adapter non-linearity f"}
#define HP_INIT(def)                                                                              \
    {"init", HP_ENUM, def, 0, 0, "bert|houlsby|mam",                                              \
     "bert: N(0, 0.02) both projections; houlsby: truncated normal std 1e-2 in +-2e-2; "          \
     "mam: kaiming-uniform(a=sqrt 5) down, zero up (exact identity at init); biases 0"}
#define HP_SCALING(def)                                                                           \
    {"scaling", HP_FLOAT, def, 0, 1000, NULL, "s in s * A(.)"}
#define HP_TRAIN_LN                                                                               \
    {"train_layernorm", HP_BOOL, "false", 0, 0, NULL,                                             \
     "also train every backbone LayerNorm (4DL + 2D; the Houlsby paper recipe)"}
/* clang-format on */

enum { ADP_HOULSBY, ADP_PFEIFFER, ADP_PARALLEL };

static const int adp_default_rf[] = {16, 16, 2};

/* spec of kind k on width D from validated hp */
static void adp_spec(struct bn_spec *sp, int k, const struct hp_values *hp, int D)
{
    static const char *const names[] = {"houlsby", "pfeiffer", "parallel"};
    memset(sp, 0, sizeof *sp);
    sp->name = names[k];
    sp->M = bn_hp_width(hp, D, adp_default_rf[k]);
    sp->act = bn_hp_act(hp);
    sp->scale = (float)hp_float(hp, "scaling");
    sp->init = (enum bn_init)hp_enum(hp, "init");
    sp->train_layernorm = hp_bool(hp, "train_layernorm");
    switch (k) {
    case ADP_HOULSBY:
        sp->placement = BN_SEQ;
        sp->attn = sp->ffn = true;
        break;
    case ADP_PFEIFFER:
        sp->placement = BN_POST_LN;
        sp->ffn = true;
        break;
    default: {
        int p = hp_enum(hp, "placement"); /* ffn|attn|both */
        sp->placement = BN_PARALLEL;
        sp->ffn = p != 1;
        sp->attn = p != 0;
        break;
    }
    }
}

static int adp_create(int k, void **state, const struct hp_values *hp, struct model *m,
                      uint64_t seed, struct err *e)
{
    struct bn_spec sp;
    adp_spec(&sp, k, hp, m->enc.D);
    struct bn_method *bm = NULL;
    int rc = bn_method_create(&bm, &sp, m, seed, e);
    *state = bm;
    return rc;
}

static size_t adp_count(int k, const struct hp_values *hp, const struct bert_config *c)
{
    struct bn_spec sp;
    adp_spec(&sp, k, hp, c->hidden_size);
    return bn_method_count(&sp, c);
}

static void adp_destroy(void *state)
{
    bn_method_destroy(state);
}

static bool adp_identity(const struct hp_values *hp)
{
    return hp_enum(hp, "init") == BN_INIT_MAM;
}

/* ---- houlsby ---------------------------------------------------------------- */

static const struct hp_def houlsby_hps[] = {
    HP_BOTTLENECK,   HP_REDUCTION("16"), HP_ACT("swish"),
    HP_INIT("bert"), HP_SCALING("1"),    HP_TRAIN_LN,
};

static int houlsby_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    (void)m;
    return bn_hp_check_width(hp, "houlsby", e);
}

static int houlsby_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                          struct err *e)
{
    return adp_create(ADP_HOULSBY, state, hp, m, seed, e);
}

static size_t houlsby_count(const struct hp_values *hp, const struct bert_config *c)
{
    return adp_count(ADP_HOULSBY, hp, c);
}

static const char *const houlsby_examples[] = {
    "",
    "bottleneck=4;non_linearity=gelu;init=houlsby",
    "reduction_factor=4;train_layernorm=true",
    "bottleneck=3;non_linearity=tanh;init=mam;scaling=0.5",
    NULL,
};

const struct method_ops houlsby_method = {
    .name = "houlsby",
    .abi = METHOD_ABI,
    .summary = "bottleneck adapters after the attention and FFN sublayers: LN(h + s A(h) + x)",
    .source = "AdapterHub double_seq_bn (swish, rf 16, init bert); Houlsby et al. 2019",
    .train = {.lr = 3e-4,
              .source = "google-research/adapter-bert README (MRPC, BERT-base): lr 3e-4 "
                        "(METHODS.md 1.4)"},
    .hps = houlsby_hps,
    .nhps = (int)(sizeof houlsby_hps / sizeof *houlsby_hps),
    .check = houlsby_check,
    .create = houlsby_create,
    .destroy = adp_destroy,
    .count = houlsby_count,
    .identity_at_init = adp_identity,
    .examples = houlsby_examples,
};

/* ---- pfeiffer --------------------------------------------------------------- */

static const struct hp_def pfeiffer_hps[] = {
    HP_BOTTLENECK,   HP_REDUCTION("16"), HP_ACT("relu"),
    HP_INIT("bert"), HP_SCALING("1"),    HP_TRAIN_LN,
};

static int pfeiffer_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    (void)m;
    return bn_hp_check_width(hp, "pfeiffer", e);
}

static int pfeiffer_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                           struct err *e)
{
    return adp_create(ADP_PFEIFFER, state, hp, m, seed, e);
}

static size_t pfeiffer_count(const struct hp_values *hp, const struct bert_config *c)
{
    return adp_count(ADP_PFEIFFER, hp, c);
}

static const char *const pfeiffer_examples[] = {
    "",
    "bottleneck=8;non_linearity=tanh",
    "reduction_factor=2;non_linearity=gelu;init=houlsby;train_layernorm=true",
    "bottleneck=5;non_linearity=swish;init=mam;scaling=2",
    NULL,
};

const struct method_ops pfeiffer_method = {
    .name = "pfeiffer",
    .abi = METHOD_ABI,
    .summary = "bottleneck adapter after the FFN block, reusing its LayerNorm: "
               "LN(h + x + s A(LN(h + x)))",
    .source = "AdapterHub seq_bn (relu, rf 16, init bert); Pfeiffer et al. 2020",
    .train = {.lr = 1e-4,
              .source = "AdapterHub docs/training.md: lr 1e-4 (METHODS.md 1.4)"},
    .hps = pfeiffer_hps,
    .nhps = (int)(sizeof pfeiffer_hps / sizeof *pfeiffer_hps),
    .check = pfeiffer_check,
    .create = pfeiffer_create,
    .destroy = adp_destroy,
    .count = pfeiffer_count,
    .identity_at_init = adp_identity,
    .examples = pfeiffer_examples,
};

/* ---- parallel --------------------------------------------------------------- */

static const struct hp_def parallel_hps[] = {
    HP_BOTTLENECK,
    HP_REDUCTION("2"),
    HP_ACT("relu"),
    HP_INIT("mam"),
    HP_SCALING("4"),
    HP_TRAIN_LN,
    {"placement", HP_ENUM, "ffn", 0, 0, "ffn|attn|both",
     "blocks whose sublayer the adapter runs beside: the FFN, the attention, or both"},
};

static int parallel_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    (void)m;
    return bn_hp_check_width(hp, "parallel", e);
}

static int parallel_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                           struct err *e)
{
    return adp_create(ADP_PARALLEL, state, hp, m, seed, e);
}

static size_t parallel_count(const struct hp_values *hp, const struct bert_config *c)
{
    return adp_count(ADP_PARALLEL, hp, c);
}

static const char *const parallel_examples[] = {
    "",
    "placement=both;scaling=2;init=bert",
    "placement=attn;bottleneck=3;non_linearity=gelu;init=houlsby;train_layernorm=true",
    NULL,
};

const struct method_ops parallel_method = {
    .name = "parallel",
    .abi = METHOD_ABI,
    .summary = "scaled parallel adapter reading the sublayer input: LN(h + x + s A(x))",
    .source = "AdapterHub par_bn (relu, rf 2, init mam_adapter, scaling 4); He et al. 2022",
    .train = {.lr = 1e-4,
              .has_weight_decay = true,
              .weight_decay = 0.1,
              .source = "He et al. 2022 (RoBERTa-base): lr 1e-4, weight decay 0.1 "
                        "(METHODS.md 1.4)"},
    .hps = parallel_hps,
    .nhps = (int)(sizeof parallel_hps / sizeof *parallel_hps),
    .check = parallel_check,
    .create = parallel_create,
    .destroy = adp_destroy,
    .count = parallel_count,
    .identity_at_init = adp_identity,
    .examples = parallel_examples,
};
