/*
 * Compacter and Compacter++ (Mahabadi et al. 2021; METHODS.md §3): bottleneck adapters whose
 * down (D -> R) and up (R -> D) projections are PHM layers W = Σ_i A_i ⊗ B_i
 * (methods/bottleneck.c).
 *
 *   compacter    Houlsby placement (both blocks): LN(h + A(h) + x)
 *   compacter++  Pfeiffer placement (FFN block only): LN(h + x + A(LN(h + x)))
 *
 * Defaults follow AdapterHub's CompacterConfig / CompacterPlusPlusConfig: phm_dim 4, rf 32,
 * gelu, shared rule (one A (n, n, n) for every PHM layer of the instance, down and up, in all
 * layers: "<method>.phm_rule"), factorised B_i = s_i t_i of rank 1, phm bias, rule init
 * N(0, 1e-4); B factors Xavier-uniform per slice with gain b_init_gain = 1 (AdapterHub; the
 * reference repo rabeehk/compacter uses sqrt 2).  Non-shared rules are drawn from N(0, 0.01)
 * as both code bases hard-code (phm_init_range then has no effect); phm_rank has no effect
 * when factorized_phm=false.  The width is R = bottleneck, or max(1, D / reduction_factor);
 * phm_dim must divide D and R.  With A ~ 1e-4 the block is only approximately the identity at
 * init, so identity_at_init is NULL (false).
 *
 * Tensors: "<method>.phm_rule" (shared), and per adapter
 * "<method>.encoder.layer.{i}.{attention.output|output}.adapter.{down|up}.{phm_s, phm_t | phm_w,
 * phm_rule (not shared), bias}".
 */
#include <stdio.h>
#include <string.h>

#include "methods/bottleneck.h"
#include "methods/method.h"

#define CP_DEFAULT_RF 32

static const struct hp_def compacter_hps[] = {
    {"bottleneck", HP_INT, NULL, 1, 1 << 20, NULL,
     "bottleneck width R (give this or reduction_factor, not both)"},
    {"reduction_factor", HP_INT, NULL, 1, 1 << 20, NULL,
     "R = max(1, D / reduction_factor); 32 when neither it nor bottleneck is given"},
    {"phm_dim", HP_INT, "4", 1, 64, NULL, "n, the number of Kronecker terms; must divide D and R"},
    {"shared_phm_rule", HP_BOOL, "true", 0, 0, NULL,
     "one rule A (n, n, n) shared by every PHM layer (down and up, all layers)"},
    {"factorized_phm", HP_BOOL, "true", 0, 0, NULL, "B_i = s_i t_i of rank phm_rank"},
    {"phm_rank", HP_INT, "1", 1, 4096, NULL, "rank r of the factorised B_i"},
    {"phm_init_range", HP_FLOAT, "0.0001", 0, 10, NULL,
     "std of the shared rule's normal init (own rules: 0.01)"},
    {"non_linearity", HP_ENUM, "gelu", 0, 0, BN_ACT_CHOICES, "adapter non-linearity f"},
    {"phm_bias", HP_BOOL, "true", 0, 0, NULL, "bias on each PHM projection"},
    {"b_init_gain", HP_FLOAT, "1.0", 0, 100, NULL,
     "Xavier-uniform gain of the B factors (AdapterHub 1; rabeehk/compacter sqrt 2)"},
    {"train_layernorm", HP_BOOL, "false", 0, 0, NULL,
     "also train every backbone LayerNorm (4DL + 2D; the Compacter paper recipe)"},
};

enum { CP_COMPACTER, CP_PLUSPLUS };

static const char *const cp_names[] = {"compacter", "compacter++"};

static void cp_spec(struct bn_spec *sp, int k, const struct hp_values *hp, int D)
{
    memset(sp, 0, sizeof *sp);
    sp->name = cp_names[k];
    sp->M = bn_hp_width(hp, D, CP_DEFAULT_RF);
    sp->act = bn_hp_act(hp);
    sp->scale = 1.0f;
    sp->placement = k == CP_COMPACTER ? BN_SEQ : BN_POST_LN;
    sp->attn = k == CP_COMPACTER;
    sp->ffn = true;
    sp->train_layernorm = hp_bool(hp, "train_layernorm");
    sp->phm = true;
    sp->phm_dim = (int)hp_int(hp, "phm_dim");
    sp->phm_rank = (int)hp_int(hp, "phm_rank");
    sp->shared_rule = hp_bool(hp, "shared_phm_rule");
    sp->factorized = hp_bool(hp, "factorized_phm");
    sp->phm_bias = hp_bool(hp, "phm_bias");
    sp->phm_init_range = (float)hp_float(hp, "phm_init_range");
    sp->b_init_gain = (float)hp_float(hp, "b_init_gain");
}

/* phm_dim must divide D and R (R known without a model only when bottleneck is given). */
static int cp_check(int k, const struct hp_values *hp, const struct model *m, struct err *e)
{
    const char *name = cp_names[k];
    if (bn_hp_check_width(hp, name, e))
        return e->code;
    const long n = hp_int(hp, "phm_dim");
    if (!m) {
        if (hp_is_set(hp, "bottleneck") && hp_int(hp, "bottleneck") % n)
            return ERR_SET(e, ERR_CONFIG, "%s.phm_dim = %ld must divide %s.bottleneck = %ld", name,
                           n, name, hp_int(hp, "bottleneck"));
        return ERR_OK;
    }
    const int D = m->enc.D, R = bn_hp_width(hp, D, CP_DEFAULT_RF);
    if (D % n == 0 && R % n == 0)
        return ERR_OK;
    char fits[128] = "";
    size_t o = 0;
    for (int c = 1; c <= 64 && c <= R; c++)
        if (D % c == 0 && R % c == 0 && o < sizeof fits)
            o += (size_t)snprintf(fits + o, sizeof fits - o, "%s%d", o ? ", " : "", c);
    return ERR_SET(e, ERR_CONFIG,
                   "%s.phm_dim = %ld must divide both the hidden size D = %d and the bottleneck "
                   "width R = %d (%s); phm_dim values that fit: %s",
                   name, n, D, R,
                   hp_is_set(hp, "bottleneck") ? "bottleneck" : "max(1, D / reduction_factor)",
                   fits);
}

static int cp_create(int k, void **state, const struct hp_values *hp, struct model *m,
                     uint64_t seed, struct err *e)
{
    struct bn_spec sp;
    cp_spec(&sp, k, hp, m->enc.D);
    struct bn_method *bm = NULL;
    int rc = bn_method_create(&bm, &sp, m, seed, e);
    *state = bm;
    return rc;
}

static size_t cp_count(int k, const struct hp_values *hp, const struct bert_config *c)
{
    struct bn_spec sp;
    cp_spec(&sp, k, hp, c->hidden_size);
    return bn_method_count(&sp, c);
}

static void cp_destroy(void *state)
{
    bn_method_destroy(state);
}

/* ---- compacter -------------------------------------------------------------- */

static int compacter_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    return cp_check(CP_COMPACTER, hp, m, e);
}

static int compacter_create(void **state, const struct hp_values *hp, struct model *m,
                            uint64_t seed, struct err *e)
{
    return cp_create(CP_COMPACTER, state, hp, m, seed, e);
}

static size_t compacter_count(const struct hp_values *hp, const struct bert_config *c)
{
    return cp_count(CP_COMPACTER, hp, c);
}

/* Valid on the tiny test model (D = 16): the defaults' R = max(1, 16 / 32) = 1 is not divisible
 * by phm_dim 4, so every example sets the width. */
static const char *const compacter_examples[] = {
    "reduction_factor=4",
    "reduction_factor=4;phm_dim=2;factorized_phm=false;shared_phm_rule=false",
    "bottleneck=8;phm_rank=2;phm_init_range=0.1;phm_bias=false;non_linearity=swish",
    NULL,
};

const struct method_ops compacter_method = {
    .name = "compacter",
    .abi = METHOD_ABI,
    .summary = "Compacter: Houlsby-placed adapters with PHM (Kronecker) projections",
    .source = "AdapterHub CompacterConfig (n 4, rf 32, gelu, shared rule, rank 1); "
              "Mahabadi et al. 2021",
    .train = {.lr = 3e-3,
              .source = "rabeehk/compacter T5-base configs: lr 3e-3 (METHODS.md 3.3)"},
    .hps = compacter_hps,
    .nhps = (int)(sizeof compacter_hps / sizeof *compacter_hps),
    .check = compacter_check,
    .create = compacter_create,
    .destroy = cp_destroy,
    .count = compacter_count,
    .examples = compacter_examples,
};

/* ---- compacter++ ------------------------------------------------------------ */

static int compacter_pp_check(const struct hp_values *hp, const struct model *m, struct err *e)
{
    return cp_check(CP_PLUSPLUS, hp, m, e);
}

static int compacter_pp_create(void **state, const struct hp_values *hp, struct model *m,
                               uint64_t seed, struct err *e)
{
    return cp_create(CP_PLUSPLUS, state, hp, m, seed, e);
}

static size_t compacter_pp_count(const struct hp_values *hp, const struct bert_config *c)
{
    return cp_count(CP_PLUSPLUS, hp, c);
}

static const char *const compacter_pp_examples[] = {
    "reduction_factor=4",
    "bottleneck=4;phm_dim=2;shared_phm_rule=false;non_linearity=tanh",
    "reduction_factor=2;phm_rank=3;phm_init_range=0.05;b_init_gain=1.4142;train_layernorm=true",
    NULL,
};

const struct method_ops compacter_pp_method = {
    .name = "compacter++",
    .abi = METHOD_ABI,
    .summary = "Compacter++: one Pfeiffer-placed PHM adapter per layer (FFN block)",
    .source = "AdapterHub CompacterPlusPlusConfig (n 4, rf 32, gelu, shared rule, rank 1); "
              "Mahabadi et al. 2021",
    .train = {.lr = 3e-3,
              .source = "rabeehk/compacter T5-base configs: lr 3e-3 (METHODS.md 3.3)"},
    .hps = compacter_hps,
    .nhps = (int)(sizeof compacter_hps / sizeof *compacter_hps),
    .check = compacter_pp_check,
    .create = compacter_pp_create,
    .destroy = cp_destroy,
    .count = compacter_pp_count,
    .examples = compacter_pp_examples,
};
