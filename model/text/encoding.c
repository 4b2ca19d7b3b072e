/*
 * encoding: assembling a model input from one or two tokenized texts (contract in encoding.h).
 * Calls nothing but base/: it is the bottom of model/text.
 */
#include "model/text/encoding.h"

#include <stdlib.h>
#include <string.h>

void encoding_free(struct encoding *enc)
{
    if (!enc)
        return;
    free(enc->ids);
    free(enc->type_ids);
    memset(enc, 0, sizeof *enc);
}

int encoding_specials(const struct encoding_layout *lay, bool pair)
{
    return pair ? 2 + lay->pair_seps : 2;
}

/*
 * Lengths after HF tokenizers' LongestFirst truncation of a total that exceeds max_len by
 * excess (tokenizers/src/utils/truncation.rs, truncate_encodings: the rule of every "fast"
 * tokenizer, which AutoTokenizer returns for BERT and RoBERTa).  budget = la + lb - excess
 * is what the two texts may keep.  With s the shorter text (a on a tie) and l the longer:
 * if s fits in half the budget (s <= budget / 2) it is kept whole and l takes the rest;
 * otherwise both are cut, s to budget / 2 and l to budget - budget / 2, so an odd budget's
 * spare token goes to the longer text, to b on a tie.  (The one-at-a-time pop loop of the
 * slow Python tokenizers gives that spare token to a instead.)
 */
static void truncate_longest_first(size_t *la, size_t *lb, bool pair, size_t excess)
{
    if (!pair) {
        *la -= excess; /* callers guarantee la + specials > max_len >= specials + 1 */
        return;
    }
    size_t budget = *la + *lb - excess;
    bool a_short = *la <= *lb; /* truncate_encodings swaps only when a is strictly longer */
    size_t s = a_short ? *la : *lb;
    if (s > budget / 2) /* s does not fit in its half: both texts are cut */
        s = budget / 2;
    size_t l = budget - s; /* < the longer text's length: the total exceeded the budget */
    *la = a_short ? s : l;
    *lb = a_short ? l : s;
}

static void put(struct encoding *out, size_t *k, int id, int type)
{
    out->ids[*k] = id;
    out->type_ids[(*k)++] = type;
}

int encoding_build(const struct encoding_layout *lay, const int *a, size_t na, const int *b,
                   size_t nb, bool pair, int max_len, struct encoding *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    size_t special = (size_t)encoding_specials(lay, pair), la = na, lb = pair ? nb : 0;
    if (la + lb + special > (size_t)max_len) {
        truncate_longest_first(&la, &lb, pair, la + lb + special - (size_t)max_len);
        out->truncated = true;
    }
    size_t total = la + lb + special;
    out->ids = malloc(total * sizeof *out->ids);
    out->type_ids = malloc(total * sizeof *out->type_ids);
    if (!out->ids || !out->type_ids) {
        encoding_free(out);
        return ERR_SET(e, ERR_NOMEM, "out of memory encoding a text");
    }
    int tb = lay->segment_b ? 1 : 0;
    size_t k = 0;
    put(out, &k, lay->cls, 0);
    for (size_t i = 0; i < la; i++)
        put(out, &k, a[i], 0);
    put(out, &k, lay->sep, 0);
    if (pair) {
        for (int s = 1; s < lay->pair_seps; s++)
            put(out, &k, lay->sep, 0);
        for (size_t i = 0; i < lb; i++)
            put(out, &k, b[i], tb);
        put(out, &k, lay->sep, tb);
    }
    out->len = (int)k;
    return ERR_OK;
}
