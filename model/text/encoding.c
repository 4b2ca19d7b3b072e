#include "model/text/encoding.h"

#include <stdlib.h>
#include <string.h>

int encoding_specials(const struct encoding_layout *lay, bool pair)
{
    return pair ? 2 + lay->pair_seps : 2;
}

/* Lengths after longest-first truncation of a total that exceeds max_len by excess. */
static void truncate_longest_first(size_t *la, size_t *lb, bool pair, size_t excess)
{
    if (!pair) {
        *la -= excess; /* callers guarantee la + specials > max_len >= specials + 1 */
        return;
    }
    size_t diff = *la > *lb ? *la - *lb : *lb - *la;
    size_t first = diff < excess ? diff : excess;
    size_t rest = excess - first;
    if (*la > *lb) {
        *la -= first + rest / 2;
        *lb -= rest - rest / 2;
    } else {
        *la -= rest / 2;
        *lb -= first + rest - rest / 2;
    }
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
