/*
 * sweep_block: a method block of a sweep parsed into fixed values and grid
 * axes (see sweep_block.h): its methods, hyperparameters resolved to
 * (method, hp) with a did-you-mean for unknown keys, train overrides, zip
 * groups, and the grid dimensions.  Values stay text with their position:
 * method_parse types them when a grid point is resolved.
 */
#include "harness/sweep/sweep_block.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"
#include "harness/sweep/sweep_schema.h"
#include "harness/sweep/train_cfg.h"
#include "methods/registry.h"

void sweep_block_free(struct sweep_block *b)
{
    for (int i = 0; i < b->nitems; i++) {
        struct sweep_item *it = &b->items[i];
        for (size_t k = 0; k < it->n; k++) {
            if (it->text)
                free(it->text[k]);
            if (it->where)
                free(it->where[k]);
        }
        free(it->text);
        free(it->where);
        free(it->val);
    }
    free(b->items);
    free(b->dimlen);
    memset(b, 0, sizeof *b);
}

const char *sweep_block_label(const struct sweep_block *b, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int m = 0; m < b->nm && o < size; m++)
        o = str_appendf(buf, size, o, "%s%s", m ? "+" : "", b->ops[m]->name);
    return buf;
}

static struct sweep_item *new_item(struct sweep_block *b, const struct ynode *key, size_t n,
                                   struct err *e)
{
    if (b->nitems == b->cap) {
        int cap = b->cap ? 2 * b->cap : 8;
        struct sweep_item *p = realloc(b->items, (size_t)cap * sizeof *p);
        if (!p)
            return ERR_SET(e, ERR_NOMEM, "out of memory"), NULL;
        b->items = p;
        b->cap = cap;
    }
    struct sweep_item *it = &b->items[b->nitems++];
    memset(it, 0, sizeof *it);
    it->key = key;
    it->zip = -1;
    it->dim = -1;
    it->val = calloc(n ? n : 1, sizeof *it->val);
    it->text = calloc(n ? n : 1, sizeof *it->text);
    it->where = calloc(n ? n : 1, sizeof *it->where);
    if (!it->val || !it->text || !it->where)
        return ERR_SET(e, ERR_NOMEM, "out of memory"), NULL;
    it->n = n;
    return it;
}


/* Record hyperparameter idx of method m with value node v (key k). */
static int add_hp(struct sweep_block *b, int m, int idx, const struct ynode *k,
                  const struct ynode *v, struct err *e)
{
    const struct hp_def *d = &b->ops[m]->hps[idx];
    const char *mn = b->ops[m]->name;
    for (int i = 0; i < b->nitems; i++)
        if (!b->items[i].train && b->items[i].method == m && b->items[i].idx == idx)
            return ynode_fail(e, ERR_CONFIG, k, "%s.%s is given twice in this block (also at %s)",
                              mn, d->name, SWEEP_WHERE(b->items[i].key));
    if (v->kind == YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, v,
                     "%s.%s: expected a value or a list of values (a grid axis), found a mapping",
                     mn, d->name);
    if (ynode_is_null(v))
        return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected a value, found nothing (null)", mn,
                     d->name);
    bool axis = false;
    if (v->kind == YNODE_SEQ) {
        if (v->n == 0)
            return ynode_fail(e, ERR_CONFIG, v,
                         "%s.%s: expected a value or a non-empty list of values, found []", mn,
                         d->name);
        if (d->type == HP_SET) {
            /* a flat list is ONE set value; a list of lists is an axis of sets */
            if (sweep_all_kind(v, YNODE_SEQ)) {
                axis = true;
                for (size_t i = 0; i < v->n; i++)
                    if (!sweep_all_kind(v->items[i], YNODE_SCALAR))
                        return ynode_fail(e, ERR_CONFIG, v->items[i],
                                     "%s.%s: expected a list of choices of %s, found a nested "
                                     "list or mapping",
                                     mn, d->name, d->choices);
            } else if (!sweep_all_kind(v, YNODE_SCALAR)) {
                return ynode_fail(e, ERR_CONFIG, v,
                             "%s.%s: expected a list of choices (one value, e.g. [q, v]) or a "
                             "list of such lists (an axis, e.g. [[q, v], [q, k, v]]), found a mix",
                             mn, d->name);
            }
        } else {
            axis = true;
            for (size_t i = 0; i < v->n; i++)
                if (v->items[i]->kind != YNODE_SCALAR || ynode_is_null(v->items[i]))
                    return ynode_fail(
                        e, ERR_CONFIG, v->items[i],
                        "%s.%s: expected a value in this list (a grid axis), found %s", mn, d->name,
                        SWEEP_DESCRIBE(v->items[i]));
        }
    }
    size_t n = axis ? v->n : 1;
    struct sweep_item *it = new_item(b, k, n, e);
    if (!it)
        return e->code;
    it->method = m;
    it->idx = idx;
    it->axis = axis;
    for (size_t i = 0; i < n; i++) {
        const struct ynode *x = axis ? v->items[i] : v;
        char w[ERR_MSG_MAX];
        it->val[i] = x;
        it->text[i] = sweep_value_text(x);
        it->where[i] = strdup(ynode_where(x, w, sizeof w));
        if (!it->text[i] || !it->where[i])
            return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int method_in_block(const struct sweep_block *b, const char *name, size_t len)
{
    for (int m = 0; m < b->nm; m++)
        if (strlen(b->ops[m]->name) == len && strncmp(b->ops[m]->name, name, len) == 0)
            return m;
    return -1;
}

static int hp_find(const struct method_ops *ops, const char *name)
{
    for (int i = 0; i < ops->nhps; i++)
        if (strcmp(ops->hps[i].name, name) == 0)
            return i;
    return -1;
}

/* Error for a block key that names nothing, with a did-you-mean over every valid key. */
static int unknown_block_key(const struct sweep_block *b, const struct ynode *k, struct err *e)
{
    if (train_cfg_field_index(k->text) >= 0)
        return ynode_fail(e, ERR_CONFIG, k,
                     "'%s' is a train setting, not a hyperparameter: write it as "
                     "train: {%s: ...} in this block (or in the top-level train:)",
                     k->text, k->text);
    enum { NC = 4 + 2 * SWEEP_MAX_COMPOSE * HP_MAX };
    const char *cands[NC];
    char qual[SWEEP_MAX_COMPOSE * HP_MAX][96];
    int nc = 0, nq = 0;
    cands[nc++] = b->nm > 1 ? "methods" : "method";
    cands[nc++] = "train";
    cands[nc++] = "tune";
    cands[nc++] = "zip";
    for (int m = 0; m < b->nm; m++)
        for (int i = 0; i < b->ops[m]->nhps && i < HP_MAX; i++) {
            const char *nm = b->ops[m]->hps[i].name;
            bool dup = false;
            for (int c = 4; c < nc; c++)
                dup |= strcmp(cands[c], nm) == 0;
            if (!dup)
                cands[nc++] = nm;
        }
    int nplain = nc;
    if (b->nm > 1)
        for (int m = 0; m < b->nm; m++)
            for (int i = 0; i < b->ops[m]->nhps && i < HP_MAX; i++) {
                snprintf(qual[nq], sizeof qual[nq], "%s.%s", b->ops[m]->name,
                         b->ops[m]->hps[i].name);
                cands[nc++] = qual[nq++];
            }
    char label[128], list[400];
    sweep_block_label(b, label, sizeof label);
    const char *guess = hp_guess(k->text, cands, nc);
    str_join(list, sizeof list, cands, nplain);
    if (guess)
        return ynode_fail(e, ERR_CONFIG, k,
                     "unknown hyperparameter '%.60s' for %s (did you mean '%s'?); valid keys: %s",
                     k->text, label, guess, list);
    return ynode_fail(e, ERR_CONFIG, k, "unknown hyperparameter '%.60s' for %s; valid keys: %s", k->text,
                 label, list);
}

/* Resolve a block key (unqualified "rank" or qualified "lora.rank") to (method, hp). */
static int resolve_hp(const struct sweep_block *b, const struct ynode *k, int *m, int *idx,
                      struct err *e)
{
    const char *key = k->text;
    const char *dot = strchr(key, '.');
    if (dot) {
        int mm = method_in_block(b, key, (size_t)(dot - key));
        if (mm >= 0) {
            int i = hp_find(b->ops[mm], dot + 1);
            if (i < 0) {
                const struct method_ops *o = b->ops[mm];
                const char *names[HP_MAX] = {0};
                int n = o->nhps < HP_MAX ? o->nhps : HP_MAX;
                for (int j = 0; j < n; j++)
                    names[j] = o->hps[j].name;
                char list[320];
                const char *g = hp_guess(dot + 1, names, n);
                return ynode_fail(e, ERR_CONFIG, k,
                             "unknown hyperparameter '%s' for method %s%s%s%s; "
                             "valid: %s",
                             dot + 1, o->name, g ? " (did you mean '" : "", g ? g : "",
                             g ? "'?)" : "", str_join(list, sizeof list, names, n));
            }
            *m = mm;
            *idx = i;
            return 0;
        }
        char pre[64];
        snprintf(pre, sizeof pre, "%.*s", (int)(dot - key < 63 ? dot - key : 63), key);
        if (method_find(pre)) {
            char label[128];
            return ynode_fail(
                e, ERR_CONFIG, k,
                "'%.60s' names method %s, which is not part of this block (%s); add it "
                "to methods: or drop the key",
                key, pre, sweep_block_label(b, label, sizeof label));
        }
        return unknown_block_key(b, k, e);
    }
    int found = 0, fm = -1, fi = -1;
    for (int mm = 0; mm < b->nm; mm++) {
        int i = hp_find(b->ops[mm], key);
        if (i >= 0) {
            if (found++ == 0)
                fm = mm, fi = i;
            else {
                return ynode_fail(e, ERR_CONFIG, k,
                             "'%.60s' is a hyperparameter of both %s and %s: qualify it as "
                             "%s.%s or %s.%s",
                             key, b->ops[fm]->name, b->ops[mm]->name, b->ops[fm]->name, key,
                             b->ops[mm]->name, key);
            }
        }
    }
    if (!found)
        return unknown_block_key(b, k, e);
    *m = fm;
    *idx = fi;
    return 0;
}

static int add_method(struct sweep_block *b, const struct ynode *n, struct err *e)
{
    char w[ERR_MSG_MAX];
    if (n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "expected a method name, found %s", SWEEP_DESCRIBE(n));
    if (b->nm == SWEEP_MAX_COMPOSE)
        return ynode_fail(e, ERR_LIMIT, n,
                     "expected at most %d composed methods (SWEEP_MAX_COMPOSE), found more",
                     SWEEP_MAX_COMPOSE);
    const struct method_ops *o = method_lookup(n->text, ynode_where(n, w, sizeof w), e);
    if (!o)
        return e->code;
    for (int m = 0; m < b->nm; m++)
        if (b->ops[m] == o)
            return ynode_fail(e, ERR_CONFIG, n, "method %s is listed twice in this block", o->name);
    b->ops[b->nm++] = o;
    return 0;
}

/* The train item of field f already in the block, or NULL. */
static const struct sweep_item *train_item(const struct sweep_block *b, int f)
{
    for (int i = 0; i < b->nitems; i++)
        if (b->items[i].train && b->items[i].idx == f)
            return &b->items[i];
    return NULL;
}

static int parse_block_train(struct sweep_block *b, const struct ynode *tr,
                             const struct train_cfg *base, struct err *e)
{
    if (tr->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, tr,
                          "train: expected a mapping of train settings, found %s",
                          SWEEP_DESCRIBE(tr));
    for (size_t i = 0; i < tr->n; i++) {
        const struct ynode *k = tr->keys[i], *v = tr->items[i];
        int f = train_cfg_field_index(k->text);
        if (f < 0)
            return train_cfg_unknown_key(e, k, "a method block's train");
        const struct sweep_item *dup = train_item(b, f);
        if (dup)
            return ynode_fail(e, ERR_CONFIG, k,
                              "train.%s: %s is also tuned at %s; set it in train: or tune it, "
                              "not both",
                              k->text, k->text, SWEEP_WHERE(dup->key));
        bool axis = v->kind == YNODE_SEQ;
        if (axis && v->n == 0)
            return ynode_fail(e, ERR_CONFIG, v,
                         "train.%s: expected a value or a non-empty list, found []", k->text);
        struct sweep_item *it = new_item(b, k, axis ? v->n : 1, e);
        if (!it)
            return e->code;
        it->train = true;
        it->idx = f;
        it->axis = axis;
        for (size_t j = 0; j < it->n; j++) {
            const struct ynode *x = axis ? v->items[j] : v;
            struct train_cfg scratch = *base;
            if (train_cfg_set(&scratch, f, x, "train", " (a list of lists is not an axis)", e))
                return e->code;
            it->val[j] = x;
        }
    }
    return 0;
}

/* `tune: {lr: [1e-4, 3e-4]}`: train settings to select on dev.  Each must be a
 * non-empty list of values (it is an axis; selection picks one per point). */
static int parse_block_tune(struct sweep_block *b, const struct ynode *tu,
                            const struct train_cfg *base, struct err *e)
{
    if (tu->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, tu,
                          "tune: expected a mapping of train settings to lists of values, "
                          "such as {lr: [1e-4, 3e-4, 1e-3]}, found %s",
                          SWEEP_DESCRIBE(tu));
    for (size_t i = 0; i < tu->n; i++) {
        const struct ynode *k = tu->keys[i], *v = tu->items[i];
        int f = train_cfg_field_index(k->text);
        for (int m = 0; f < 0 && m < b->nm; m++)
            if (hp_find(b->ops[m], k->text) >= 0)
                return ynode_fail(e, ERR_CONFIG, k,
                                  "tune.%s: tune: selects train settings only; %s is a "
                                  "hyperparameter of %s: a list of its values "
                                  "(%s: [..]) is a grid axis, reported per value",
                                  k->text, k->text, b->ops[m]->name, k->text);
        if (f < 0)
            return train_cfg_unknown_key(e, k, "a method block's tune");
        const struct sweep_item *dup = train_item(b, f);
        if (dup)
            return ynode_fail(e, ERR_CONFIG, k,
                              "tune.%s: %s is also set at %s; set it in train: or tune it, "
                              "not both",
                              k->text, k->text, SWEEP_WHERE(dup->key));
        if (v->kind != YNODE_SEQ || v->n == 0)
            return ynode_fail(e, ERR_CONFIG, v,
                              "tune.%s: expected a non-empty list of values to select from on "
                              "dev (e.g. [1e-4, 3e-4]), found %s",
                              k->text, v->kind == YNODE_SEQ ? "[]" : SWEEP_DESCRIBE(v));
        struct sweep_item *it = new_item(b, k, v->n, e);
        if (!it)
            return e->code;
        it->train = it->tune = it->axis = true;
        it->idx = f;
        for (size_t j = 0; j < it->n; j++) {
            struct train_cfg scratch = *base;
            if (train_cfg_set(&scratch, f, v->items[j], "tune",
                              " (a list of lists is not an axis)", e))
                return e->code;
            it->val[j] = v->items[j];
        }
    }
    return 0;
}

/* Find the axis item a zip name refers to. */
static int zip_item(struct sweep_block *b, const struct ynode *n, struct sweep_item **out,
                    struct err *e)
{
    *out = NULL;
    if (n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "zip: expected a key name of this block, found %s",
                          SWEEP_DESCRIBE(n));
    if (strncmp(n->text, "train.", 6) == 0 || strncmp(n->text, "tune.", 5) == 0) {
        int f = train_cfg_field_index(strchr(n->text, '.') + 1);
        for (int i = 0; i < b->nitems && f >= 0; i++)
            if (b->items[i].train && b->items[i].idx == f)
                *out = &b->items[i];
    } else {
        int m, idx;
        if (resolve_hp(b, n, &m, &idx, e))
            return e->code;
        for (int i = 0; i < b->nitems; i++)
            if (!b->items[i].train && b->items[i].method == m && b->items[i].idx == idx)
                *out = &b->items[i];
    }
    if (!*out)
        return ynode_fail(e, ERR_CONFIG, n,
                     "zip: '%.60s' is not set in this block; zip names keys "
                     "whose values are lists",
                     n->text);
    if (!(*out)->axis)
        return ynode_fail(e, ERR_CONFIG, n,
                          "zip: '%.60s' is not a list in this block (it is fixed at "
                          "%s), so it cannot vary with others",
                          n->text, SWEEP_WHERE((*out)->val[0]));
    return 0;
}

static int parse_zip(struct sweep_block *b, const struct ynode *z, struct err *e)
{
    if (z->kind != YNODE_SEQ || z->n == 0)
        return ynode_fail(e, ERR_CONFIG, z,
                          "zip: expected a list of groups such as [[rank, alpha]], "
                          "found %s",
                          z->kind == YNODE_SEQ ? "[]" : SWEEP_DESCRIBE(z));
    /* a flat list of names is one group */
    bool flat = sweep_all_kind(z, YNODE_SCALAR);
    size_t ngroups = flat ? 1 : z->n;
    for (size_t g = 0; g < ngroups; g++) {
        const struct ynode *grp = flat ? z : z->items[g];
        if (grp->kind != YNODE_SEQ || grp->n < 2)
            return ynode_fail(e, ERR_CONFIG, grp,
                              "zip: expected a group of at least two key names, "
                              "found %s",
                              grp->kind == YNODE_SEQ ? "a shorter list" : SWEEP_DESCRIBE(grp));
        struct sweep_item *first = NULL;
        for (size_t i = 0; i < grp->n; i++) {
            struct sweep_item *it;
            if (zip_item(b, grp->items[i], &it, e))
                return e->code;
            if (it->zip >= 0)
                return ynode_fail(e, ERR_CONFIG, grp->items[i],
                             "zip: '%.60s' is already zipped (each axis may be in one group)",
                             grp->items[i]->text);
            it->zip = (int)g;
            if (!first) {
                first = it;
            } else if (it->n != first->n) {
                return ynode_fail(
                    e, ERR_CONFIG, grp,
                    "zip: the zipped lists must have equal lengths, found %s with %zu "
                    "values (%s) and %s with %zu (%s)",
                    first->key->text, first->n, SWEEP_WHERE(first->key), it->key->text, it->n,
                    SWEEP_WHERE(it->key));
            }
        }
    }
    return 0;
}

/* Grid dimensions: one per free axis, one per zip group, in key order. */
static int block_dims(struct sweep_block *b, struct err *e)
{
    b->dimlen = calloc((size_t)(b->nitems ? b->nitems : 1), sizeof *b->dimlen);
    if (!b->dimlen)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    b->points = 1;
    for (int i = 0; i < b->nitems; i++) {
        struct sweep_item *it = &b->items[i];
        if (!it->axis)
            continue;
        for (int j = 0; j < i && it->zip >= 0; j++)
            if (b->items[j].zip == it->zip)
                it->dim = b->items[j].dim;
        if (it->dim >= 0)
            continue;
        it->dim = b->ndims;
        b->dimlen[b->ndims++] = it->n;
        if (it->n && b->points > SIZE_MAX / it->n)
            return ynode_fail(e, ERR_LIMIT, b->node,
                         "this method block's grid has more points than can be counted (the "
                         "product of its list lengths overflows); shrink the lists");
        b->points *= it->n;
    }
    return 0;
}

int sweep_block_parse(struct sweep_block *b, const struct ynode *node, const struct train_cfg *base,
                      struct err *e)
{
    memset(b, 0, sizeof *b);
    b->node = node;
    if (node->kind == YNODE_SCALAR && !ynode_is_null(node)) /* shorthand: `- lora` */
        return add_method(b, node, e) || block_dims(b, e) ? e->code : 0;
    if (node->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, node,
                          "expected a method block such as {method: lora, rank: [4, 8]}, found %s",
                          SWEEP_DESCRIBE(node));
    const struct ynode *one = ynode_get(node, "method"), *many = ynode_get(node, "methods");
    if (one && many)
        return ynode_fail(e, ERR_CONFIG, node,
                     "expected either 'method: NAME' or 'methods: [A, B]' in a block, found both");
    if (!one && !many)
        return ynode_fail(e, ERR_CONFIG, node,
                     "expected 'method: NAME' or 'methods: [A, B]' in this method block, found "
                     "neither");
    if (one && one->kind == YNODE_SEQ)
        return ynode_fail(e, ERR_CONFIG, one,
                     "method: expected one method name, found a list; use 'methods: [A, B]' to "
                     "compose methods, or one block per method to compare them");
    if (one && add_method(b, one, e))
        return e->code;
    if (many && many->kind == YNODE_SEQ) {
        if (many->n == 0)
            return ynode_fail(e, ERR_CONFIG, many,
                         "methods: expected a non-empty list of method "
                         "names, found []");
        for (size_t i = 0; i < many->n; i++)
            if (add_method(b, many->items[i], e))
                return e->code;
    } else if (many && add_method(b, many, e)) {
        return e->code;
    }
    const struct ynode *zip = NULL;
    for (size_t i = 0; i < node->n; i++) {
        const struct ynode *k = node->keys[i], *v = node->items[i];
        const char *key = k->text;
        if (strcmp(key, "method") == 0 || strcmp(key, "methods") == 0)
            continue;
        if (strcmp(key, "zip") == 0) {
            zip = v;
            continue;
        }
        if (strcmp(key, "train") == 0 || strcmp(key, "tune") == 0) {
            bool tune = strcmp(key, "tune") == 0;
            if (tune ? parse_block_tune(b, v, base, e) : parse_block_train(b, v, base, e))
                return e->code;
            continue;
        }
        int mm = method_in_block(b, key, strlen(key));
        if (mm >= 0 && v->kind == YNODE_MAP) { /* nested form: `parallel: {scaling: 2}` */
            for (size_t j = 0; j < v->n; j++) {
                int idx = hp_find(b->ops[mm], v->keys[j]->text);
                if (idx < 0) {
                    char q[160];
                    snprintf(q, sizeof q, "%s.%s", key, v->keys[j]->text);
                    struct ynode fake = *v->keys[j];
                    fake.text = q;
                    if (resolve_hp(b, &fake, &mm, &idx, e))
                        return e->code;
                }
                if (add_hp(b, mm, idx, v->keys[j], v->items[j], e))
                    return e->code;
            }
            continue;
        }
        int m, idx;
        if (resolve_hp(b, k, &m, &idx, e) || add_hp(b, m, idx, k, v, e))
            return e->code;
    }
    if (zip && parse_zip(b, zip, e))
        return e->code;
    return block_dims(b, e);
}
