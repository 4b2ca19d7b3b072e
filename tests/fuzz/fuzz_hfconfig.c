/*
 * Fuzz target: config.json (hfconfig_read), then the writer round trip.
 *
 * Oracles: a failure leaves a message and no id2label; an accepted config validates, writes
 * (hfconfig_write) and reads back to the same values.
 */
#include "tests/fuzz/fuzz_util.h"

#include "model/io/hfconfig.h"

static void check_same(const struct bert_config *a, const struct bert_config *b)
{
    FUZZ_CHECK(strcmp(a->arch, b->arch) == 0, "arch %s vs %s", a->arch, b->arch);
    FUZZ_CHECK(a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
                   a->num_hidden_layers == b->num_hidden_layers &&
                   a->num_attention_heads == b->num_attention_heads &&
                   a->intermediate_size == b->intermediate_size &&
                   a->max_position_embeddings == b->max_position_embeddings &&
                   a->type_vocab_size == b->type_vocab_size && a->pad_token_id == b->pad_token_id &&
                   a->num_labels == b->num_labels,
               "integer field changed");
    FUZZ_CHECK(a->layer_norm_eps == b->layer_norm_eps &&
                   a->hidden_dropout_prob == b->hidden_dropout_prob &&
                   a->attention_probs_dropout_prob == b->attention_probs_dropout_prob &&
                   a->initializer_range == b->initializer_range,
               "float field changed");
    FUZZ_CHECK((a->classifier_dropout < 0.0f && b->classifier_dropout < 0.0f) ||
                   a->classifier_dropout == b->classifier_dropout,
               "classifier_dropout %g vs %g", (double)a->classifier_dropout,
               (double)b->classifier_dropout);
    FUZZ_CHECK(strcmp(a->hidden_act, b->hidden_act) == 0, "hidden_act");
    FUZZ_CHECK(strcmp(a->problem_type, b->problem_type) == 0, "problem_type");
    FUZZ_CHECK(!a->id2label == !b->id2label, "id2label presence");
    for (int i = 0; a->id2label && i < a->num_labels; i++)
        FUZZ_CHECK(strcmp(a->id2label[i], b->id2label[i]) == 0, "id2label[%d] '%s' vs '%s'", i,
                   a->id2label[i], b->id2label[i]);
    if (a->architectures0[0])
        FUZZ_CHECK(strcmp(a->architectures0, b->architectures0) == 0, "architectures0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("config.json", data, size);
    struct bert_config c;
    struct err e = {0};
    int rc = hfconfig_read(&c, path, &e);
    FUZZ_LOG("hfconfig_read: %d %s", rc, e.msg);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0], "rc %d without a message", rc);
        FUZZ_CHECK(c.id2label == NULL, "id2label left after failure");
        return 0;
    }
    FUZZ_CHECK(hfconfig_validate(&c, path, &e) == 0, "accepted config does not validate: %s",
               e.msg);
    const char *out = fuzz_path("written.json");
    rc = hfconfig_write(&c, out, &e);
    FUZZ_CHECK(rc == 0, "cannot write an accepted config: %s", e.msg);
    struct bert_config back;
    rc = hfconfig_read(&back, out, &e);
    FUZZ_CHECK(rc == 0, "written config does not read back: %s", e.msg);
    check_same(&c, &back);
    hfconfig_free(&back);
    hfconfig_free(&c);
    return 0;
}
