/*
 * hfconfig: the Hugging Face config.json of a BERT or RoBERTa model.
 *
 * Absent fields take the defaults of transformers' BertConfig (vocab 30522, D 768, L 12, H 12,
 * F 3072, gelu, dropouts 0.1, 512 positions, 2 token types, initializer_range 0.02,
 * layer_norm_eps 1e-12, pad 0, 2 labels).  For RoBERTa pad_token_id defaults to 1 and
 * layer_norm_eps to 1e-5 (fairseq's value, used by every released RoBERTa checkpoint; note that
 * transformers' RobertaConfig itself would default to 1e-12).  JSON null counts as absent for the
 * nullable fields pad_token_id, problem_type and classifier_dropout.
 *
 * Keys this struct does not model (transformers_version, use_cache, bos_token_id, label2id, ...)
 * are ignored, except position_embedding_type, which must be "absolute" when present because the
 * encoder implements nothing else.  A key given twice is an error (Python keeps the last one,
 * cJSON the first: refuse to guess).
 */
#ifndef MODEL_HFCONFIG_H
#define MODEL_HFCONFIG_H

#include <stddef.h>

#include "base/err.h"

#define HFCONFIG_MAX_BYTES  ((size_t)16 << 20) /* config.json size limit */
#define HFCONFIG_MAX_DIM    (1 << 20)          /* bound on V, D, F, positions, token types */
#define HFCONFIG_MAX_LAYERS 1024
#define HFCONFIG_MAX_LABELS (1 << 20)

struct bert_config {
    char arch[32];                      /* "bert" or "roberta" */
    int vocab_size;                     /* V */
    int hidden_size;                    /* D, a multiple of num_attention_heads */
    int num_hidden_layers;              /* L */
    int num_attention_heads;            /* H */
    int intermediate_size;              /* F */
    int max_position_embeddings;        /* rows of the position table (RoBERTa: incl. pad + 1) */
    int type_vocab_size;                /* rows of the token-type table (RoBERTa: 1) */
    int pad_token_id;                   /* in [0, V) */
    float layer_norm_eps;               /* > 0 */
    float hidden_dropout_prob;          /* [0, 1) */
    float attention_probs_dropout_prob; /* [0, 1) */
    float classifier_dropout;           /* [0, 1), or < 0 for null: use hidden_dropout_prob */
    float initializer_range;            /* std of the normal init, > 0 */
    char hidden_act[16];                /* gelu, gelu_new, relu, swish, silu or tanh */
    int num_labels;                     /* >= 1 */
    char problem_type[32];              /* "", regression, single_label_classification or
                                           multi_label_classification */
    char **id2label;                    /* owned: (num_labels) label names, or NULL */
    char architectures0[64];            /* first of "architectures", "" if none */
    char defaulted[512];                /* comma-separated keys that were absent and took their
                                           default, for the caller to log once ("" if none) */
};

/* Fill *c with BertConfig's defaults (arch "bert", no id2label, nothing in defaulted). */
void hfconfig_default(struct bert_config *c);

/* Parse and validate the config.json at path into *c (overwritten: call hfconfig_free first if
 * it held a config).  Errors: ERR_IO, ERR_FORMAT (bad JSON, wrong JSON type for a field),
 * ERR_RANGE (value out of bounds), ERR_CONFIG (inconsistent fields), ERR_UNSUPPORTED (model_type,
 * hidden_act or position_embedding_type we do not implement), ERR_LIMIT, ERR_NOMEM.  Messages
 * name the file and the field.  On failure *c owns no memory. */
int hfconfig_read(struct bert_config *c, const char *path, struct err *e);

/* Check the invariants hfconfig_read guarantees (for configs built in code).  path only prefixes
 * messages and may be NULL. */
int hfconfig_validate(const struct bert_config *c, const char *path, struct err *e);

/* Validate *c and write it to path as pretty JSON (2-space indent, sorted keys like
 * transformers): model_type, architectures ([architectures0], or BertModel / RobertaModel when
 * empty), every field, id2label and label2id when id2label is set.  Written to "<path>.tmp",
 * fsynced and renamed over path.  Errors: those of hfconfig_validate, ERR_IO, ERR_NOMEM. */
int hfconfig_write(const struct bert_config *c, const char *path, struct err *e);

/* Free id2label and set it to NULL; other fields are kept.  NULL is a no-op. */
void hfconfig_free(struct bert_config *c);

#endif
