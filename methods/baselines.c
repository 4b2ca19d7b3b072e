/*
 * Baselines: full fine-tuning, head only, BitFit (Ben Zaken et al. 2022).
 * They own no tensors; they only choose which base tensors are trainable.
 * The task head is trainable under every method (model_create does that).
 */
#include <stdlib.h>
#include <string.h>

#include "methods/method.h"

/* ---- full --------------------------------------------------------------- */

static const struct hp_def full_hps[] = {
    {"embeddings", HP_BOOL, "true", 0, 0, NULL,
     "train the embedding tables and their LayerNorm too (false: freeze them)"},
};

static int full_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                       struct err *e)
{
    (void)seed;
    *state = NULL;
    bool emb = hp_bool(hp, "embeddings");
    for (size_t i = 0; i < m->ps.n; i++) {
        struct param *p = m->ps.items[i];
        if (p->group != PGROUP_BACKBONE)
            continue;
        bool is_emb = strncmp(p->name, "embeddings.", 11) == 0;
        if ((emb || !is_emb) && param_set_trainable(&m->ps, p, true, e))
            return e->code;
    }
    return ERR_OK;
}

static size_t backbone_count(const struct bert_config *c, bool emb)
{
    size_t D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t layer = 4 * (D * D + D) + 2 * D + (D * F + F) + (F * D + D) + 2 * D;
    size_t e = ((size_t)c->vocab_size + (size_t)c->max_position_embeddings +
                (size_t)c->type_vocab_size) * D + 2 * D;
    size_t pooler = strcmp(c->arch, "roberta") == 0 ? 0 : D * D + D;
    return (emb ? e : 0) + (size_t)c->num_hidden_layers * layer + pooler;
}

static size_t full_count(const struct hp_values *hp, const struct bert_config *c)
{
    return backbone_count(c, hp_bool(hp, "embeddings"));
}

static const char *const full_examples[] = {"", "embeddings=false", NULL};

const struct method_ops full_method = {
    .name = "full",
    .abi = METHOD_ABI,
    .summary = "full fine-tuning: every backbone tensor trainable",
    .source = "standard fine-tuning (Devlin et al. 2019)",
    .train = {.lr = 2e-5,
              .source = "RoBERTa GLUE recipe, lr grid {1e-5, 2e-5, 3e-5} (Liu et al. "
                        "2019; the issue's value, not in METHODS.md)"},
    .hps = full_hps,
    .nhps = 1,
    .create = full_create,
    .count = full_count,
    .examples = full_examples,
};

/* ---- head --------------------------------------------------------------- */

static int head_create(void **state, const struct hp_values *hp, struct model *m, uint64_t seed,
                       struct err *e)
{
    (void)hp, (void)m, (void)seed, (void)e;
    *state = NULL;
    return ERR_OK;
}

static size_t head_count(const struct hp_values *hp, const struct bert_config *c)
{
    (void)hp, (void)c;
    return 0;
}

static bool head_identity(const struct hp_values *hp)
{
    (void)hp;
    return true;
}

static const char *const head_examples[] = {"", NULL};

const struct method_ops head_method = {
    .name = "head",
    .abi = METHOD_ABI,
    .summary = "linear probe: only the task head is trained, the backbone is frozen",
    .source = "frozen-feature baseline",
    .train = {.lr = 1e-3,
              .source = "no published default: linear-probe practice (harness choice)"},
    .hps = NULL,
    .nhps = 0,
    .create = head_create,
    .count = head_count,
    .identity_at_init = head_identity,
    .examples = head_examples,
};

/* ---- bitfit ------------------------------------------------------------- */

static const struct hp_def bitfit_hps[] = {
    {"layernorm_bias", HP_BOOL, "true", 0, 0, NULL,
     "also train LayerNorm biases (the paper's b_LN terms)"},
};

static int bitfit_create(void **state, const struct hp_values *hp, struct model *m,
                         uint64_t seed, struct err *e)
{
    (void)seed;
    *state = NULL;
    bool ln = hp_bool(hp, "layernorm_bias");
    for (size_t i = 0; i < m->ps.n; i++) {
        struct param *p = m->ps.items[i];
        if (p->group != PGROUP_BACKBONE)
            continue;
        if ((p->kind == PARAM_BIAS || (ln && p->kind == PARAM_LN_BETA)) &&
            param_set_trainable(&m->ps, p, true, e))
            return e->code;
    }
    return ERR_OK;
}

/* q,k,v,o, FFN in/out biases per layer, the embedding LayerNorm bias, the pooler bias
 * (BERT), plus LayerNorm biases (2 per layer + embeddings) when included. */
static size_t bitfit_count(const struct hp_values *hp, const struct bert_config *c)
{
    size_t D = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t L = (size_t)c->num_hidden_layers;
    size_t n = L * (5 * D + F) + (strcmp(c->arch, "roberta") == 0 ? 0 : D);
    if (hp_bool(hp, "layernorm_bias"))
        n += L * 2 * D + D;
    return n;
}

static bool bitfit_identity(const struct hp_values *hp)
{
    (void)hp;
    return true;
}

static const char *const bitfit_examples[] = {"", "layernorm_bias=false", NULL};

const struct method_ops bitfit_method = {
    .name = "bitfit",
    .abi = METHOD_ABI,
    .summary = "BitFit: train only the bias terms of the backbone",
    .source = "Ben Zaken et al. 2022 (all biases incl. LayerNorm)",
    .train = {.lr = 1e-3,
              .source = "Ben Zaken et al. 2022 searched lr 1e-4..1e-3; the upper end, for small "
                        "models (not in METHODS.md)"},
    .hps = bitfit_hps,
    .nhps = 1,
    .create = bitfit_create,
    .count = bitfit_count,
    .identity_at_init = bitfit_identity,
    .examples = bitfit_examples,
};
