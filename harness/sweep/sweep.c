/*
 * sweep: schema validation and grid expansion of a sweep file (see sweep.h).
 *
 * Flow of sweep_load: load the YAML tree with includes (harness/sweep/yaml.c),
 * apply the command-line overrides, validate the top-level keys, parse each
 * method block into fixed values and axes, count the trials with overflow
 * checks, then expand in plan order, giving every trial its canonical text
 * and id, and refuse duplicate trials.  The tree lives until the end of the
 * load: parsed blocks borrow its nodes.
 */
#include "harness/sweep/sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep/yaml.h"
#include "methods/registry.h"
#include "tasks/task.h"
#include "base/strfmt.h"
#include "base/strbuf.h"

/* ---- messages ------------------------------------------------------------ */


#define DESCRIBE(n) ynode_describe((n), (char[96]){0}, 96)
#define WHERE(n)    ynode_where((n), (char[ERR_MSG_MAX]){0}, ERR_MSG_MAX)



static int unknown_key(struct err *e, const struct ynode *key, const char *what,
                       const char *const *valid, int nvalid)
{
    char list[320];
    const char *guess = hp_guess(key->text, valid, nvalid);
    str_join(list, sizeof list, valid, nvalid);
    if (guess)
        return ynode_fail(e, ERR_CONFIG, key,
                     "unknown key '%.60s' in %s (did you mean '%s'?); valid keys: %s", key->text,
                     what, guess, list);
    return ynode_fail(e, ERR_CONFIG, key, "unknown key '%.60s' in %s; valid keys: %s", key->text, what,
                 list);
}

/* ---- small growable text buffer ------------------------------------------ */

/* Values go into the canonical text escaped, so no value can forge a line. */
static void sb_escaped(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            strbuf_put(b, "\\\\", 2);
        else if (c < 0x20 || c == 0x7f)
            strbuf_printf(b, "\\x%02x", c);
        else
            strbuf_put(b, s, 1);
    }
}

/* ---- scalar parsing ------------------------------------------------------ */

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* A non-null scalar copied into dst[cap]. */
static int get_string(const struct ynode *n, const char *what, char *dst, size_t cap, struct err *e)
{
    if (!n || n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "%s: expected a string, found %s", what, DESCRIBE(n));
    if (n->len == 0)
        return ynode_fail(e, ERR_CONFIG, n, "%s: expected a non-empty string, found ''", what);
    if (n->len >= cap)
        return ynode_fail(e, ERR_LIMIT, n, "%s: expected at most %zu characters, found %zu", what,
                     cap - 1, n->len);
    memcpy(dst, n->text, n->len + 1);
    return 0;
}

/* ---- train settings ------------------------------------------------------ */

enum tf_type { TF_INT, TF_REAL, TF_BOOL };

struct train_field {
    const char *name;
    enum tf_type type;
    size_t off;
    double lo, hi;
    bool lo_open, hi_open; /* lo < x (not <=), x < hi (not <=) */
    const char *expect;    /* for messages */
};

#define TF_I(f, lo, hi, ex)                                                                        \
    {                                                                                              \
#f, TF_INT, offsetof(struct train_cfg, f), lo, hi, false, false, ex                        \
    }
#define TF_R(f, lo, hi, lopen, hopen, ex)                                                          \
    {                                                                                              \
#f, TF_REAL, offsetof(struct train_cfg, f), lo, hi, lopen, hopen, ex                       \
    }
#define TF_B(f)                                                                                    \
    {                                                                                              \
#f, TF_BOOL, offsetof(struct train_cfg, f), 0, 0, false, false, "true or false"            \
    }

static const struct train_field train_fields[] = {
    TF_I(epochs, 1, 1000000, "an integer >= 1"),
    TF_I(batch_size, 1, 1 << 20, "an integer in [1, 1048576]"),
    TF_I(eval_batch_size, 1, 1 << 20, "an integer in [1, 1048576]"),
    TF_I(max_seq_len, 2, 1 << 16, "an integer in [2, 65536]"),
    TF_R(lr, 0, 10, true, false, "a number in (0, 10]"),
    TF_R(warmup_ratio, 0, 1, false, false, "a number in [0, 1]"),
    TF_R(weight_decay, 0, 1e6, false, false, "a number >= 0"),
    TF_R(grad_clip, 0, 1e12, false, false, "a number >= 0 (0 = off)"),
    TF_R(adam_beta1, 0, 1, false, true, "a number in [0, 1)"),
    TF_R(adam_beta2, 0, 1, false, true, "a number in [0, 1)"),
    TF_R(adam_eps, 0, 1, true, false, "a number in (0, 1]"),
    TF_I(early_stopping, 0, 1000000, "an integer >= 0 (0 = off)"),
    TF_B(eval_test),
    TF_I(max_train, 0, INT_MAX, "an integer >= 0 (0 = all)"),
    TF_I(max_dev, 0, INT_MAX, "an integer >= 0 (0 = all)"),
    TF_I(max_test, 0, INT_MAX, "an integer >= 0 (0 = all)"),
    TF_I(max_steps, 0, INT_MAX, "an integer >= 0 (0 = off)"),
    TF_B(save_adapters),
    TF_R(dropout, -1, 1, false, true, "a number in [-1, 1) (negative: keep the model's)"),
};

#define NTRAIN ((int)(sizeof train_fields / sizeof *train_fields))

void train_cfg_default(struct train_cfg *t)
{
    memset(t, 0, sizeof *t);
    t->epochs = 3;
    t->batch_size = 32;
    t->eval_batch_size = 64;
    t->max_seq_len = 128;
    t->lr = 1e-3;
    t->warmup_ratio = 0.06;
    t->weight_decay = 0.0;
    t->grad_clip = 1.0;
    t->adam_beta1 = 0.9;
    t->adam_beta2 = 0.999;
    t->adam_eps = 1e-8;
    t->early_stopping = 0;
    t->eval_test = false;
    t->dropout = -1.0;
}

static int train_field_index(const char *name)
{
    for (int i = 0; i < NTRAIN; i++)
        if (strcmp(train_fields[i].name, name) == 0)
            return i;
    return -1;
}

static int unknown_train_key(struct err *e, const struct ynode *key, const char *what)
{
    const char *names[NTRAIN];
    for (int i = 0; i < NTRAIN; i++)
        names[i] = train_fields[i].name;
    return unknown_key(e, key, what, names, NTRAIN);
}

/* Parse value node v for field f into t.  ctx names the setting ("train"). */
static int train_set(struct train_cfg *t, int f, const struct ynode *v, const char *ctx,
                     const char *hint, struct err *e)
{
    const struct train_field *d = &train_fields[f];
    char *base = (char *)t + d->off;
    if (!v || v->kind != YNODE_SCALAR || ynode_is_null(v))
        return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected %s, found %s%s", ctx, d->name, d->expect,
                     DESCRIBE(v), v && v->kind == YNODE_SEQ ? hint : "");
    const char *s = v->text;
    if (d->type == TF_BOOL) {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected true or false, found '%.60s'", ctx,
                         d->name, s);
        bool b = s[0] == 't';
        memcpy(base, &b, sizeof b);
        return 0;
    }
    double x;
    long long i = 0;
    if (d->type == TF_INT) {
        if (!yaml_scalar_ll(s, &i))
            return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected %s, found '%.60s'", ctx, d->name,
                         d->expect, s);
        x = (double)i;
    } else if (!yaml_scalar_real(s, &x)) {
        return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected %s, found '%.60s'", ctx, d->name, d->expect,
                     s);
    }
    if (x < d->lo || x > d->hi || (d->lo_open && x == d->lo) || (d->hi_open && x == d->hi))
        return ynode_fail(e, ERR_RANGE, v, "%s.%s: expected %s, found %.60s (out of range)", ctx,
                     d->name, d->expect, s);
    if (d->type == TF_INT) {
        int iv = (int)i;
        memcpy(base, &iv, sizeof iv);
    } else {
        memcpy(base, &x, sizeof x);
    }
    return 0;
}

static void train_format(const struct train_cfg *t, int f, char *buf, size_t size)
{
    const struct train_field *d = &train_fields[f];
    const char *base = (const char *)t + d->off;
    if (d->type == TF_INT) {
        int v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, size, "%d", v);
    } else if (d->type == TF_REAL) {
        double v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, size, "%.9g", v);
    } else {
        bool v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, size, "%s", v ? "true" : "false");
    }
}

/* ---- method blocks --------------------------------------------------------- */

/* One key of a method block: a hyperparameter or a train override, fixed or an axis. */
struct item {
    bool train;              /* train override (idx into train_fields) or hyperparameter */
    int method;              /* hyperparameter: index into the block's composition */
    int idx;                 /* index into ops->hps or train_fields */
    const struct ynode *key; /* borrowed: for messages */
    bool axis;
    size_t n;                 /* values (1 when fixed) */
    const struct ynode **val; /* owned array (n) of borrowed nodes */
    char **text;              /* owned (n): hyperparameter value text (sets joined by ',') */
    char **where;             /* owned (n): "file:line:col" of each value */
    int zip;                  /* zip group, or -1 */
    int dim;                  /* grid dimension of an axis */
};

struct block {
    const struct ynode *node; /* borrowed */
    int nm;
    const struct method_ops *ops[SWEEP_MAX_COMPOSE];
    struct item *items; /* owned (nitems) */
    int nitems, cap;
    int ndims;
    size_t *dimlen; /* owned (ndims) */
    size_t points;  /* grid points (product of dimlen) */
};

static void block_free(struct block *b)
{
    for (int i = 0; i < b->nitems; i++) {
        struct item *it = &b->items[i];
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

static const char *block_label(const struct block *b, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int m = 0; m < b->nm && o < size; m++)
        o = str_appendf(buf, size, o, "%s%s", m ? "+" : "", b->ops[m]->name);
    return buf;
}

static struct item *new_item(struct block *b, const struct ynode *key, size_t n, struct err *e)
{
    if (b->nitems == b->cap) {
        int cap = b->cap ? 2 * b->cap : 8;
        struct item *p = realloc(b->items, (size_t)cap * sizeof *p);
        if (!p)
            return ERR_SET(e, ERR_NOMEM, "out of memory"), NULL;
        b->items = p;
        b->cap = cap;
    }
    struct item *it = &b->items[b->nitems++];
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

/* Text of a value node: a scalar's text, or a flat list of scalars joined by ','. */
static char *value_text(const struct ynode *v)
{
    if (v->kind == YNODE_SCALAR)
        return strdup(v->text);
    size_t len = 1;
    for (size_t i = 0; i < v->n; i++)
        len += v->items[i]->len + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i)
            s[o++] = ',';
        memcpy(s + o, v->items[i]->text, v->items[i]->len);
        o += v->items[i]->len;
    }
    s[o] = '\0';
    return s;
}

static bool all_kind(const struct ynode *seq, enum ynode_kind k)
{
    for (size_t i = 0; i < seq->n; i++)
        if (seq->items[i]->kind != k)
            return false;
    return true;
}

/* Record hyperparameter idx of method m with value node v (key k). */
static int add_hp(struct block *b, int m, int idx, const struct ynode *k, const struct ynode *v,
                  struct err *e)
{
    const struct hp_def *d = &b->ops[m]->hps[idx];
    const char *mn = b->ops[m]->name;
    for (int i = 0; i < b->nitems; i++)
        if (!b->items[i].train && b->items[i].method == m && b->items[i].idx == idx)
            return ynode_fail(e, ERR_CONFIG, k, "%s.%s is given twice in this block (also at %s)", mn,
                         d->name, WHERE(b->items[i].key));
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
            if (all_kind(v, YNODE_SEQ)) {
                axis = true;
                for (size_t i = 0; i < v->n; i++)
                    if (!all_kind(v->items[i], YNODE_SCALAR))
                        return ynode_fail(e, ERR_CONFIG, v->items[i],
                                     "%s.%s: expected a list of choices of %s, found a nested "
                                     "list or mapping",
                                     mn, d->name, d->choices);
            } else if (!all_kind(v, YNODE_SCALAR)) {
                return ynode_fail(e, ERR_CONFIG, v,
                             "%s.%s: expected a list of choices (one value, e.g. [q, v]) or a "
                             "list of such lists (an axis, e.g. [[q, v], [q, k, v]]), found a mix",
                             mn, d->name);
            }
        } else {
            axis = true;
            for (size_t i = 0; i < v->n; i++)
                if (v->items[i]->kind != YNODE_SCALAR || ynode_is_null(v->items[i]))
                    return ynode_fail(e, ERR_CONFIG, v->items[i],
                                 "%s.%s: expected a value in this list (a grid axis), found %s", mn,
                                 d->name, DESCRIBE(v->items[i]));
        }
    }
    size_t n = axis ? v->n : 1;
    struct item *it = new_item(b, k, n, e);
    if (!it)
        return e->code;
    it->method = m;
    it->idx = idx;
    it->axis = axis;
    for (size_t i = 0; i < n; i++) {
        const struct ynode *x = axis ? v->items[i] : v;
        char w[ERR_MSG_MAX];
        it->val[i] = x;
        it->text[i] = value_text(x);
        it->where[i] = strdup(ynode_where(x, w, sizeof w));
        if (!it->text[i] || !it->where[i])
            return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int method_in_block(const struct block *b, const char *name, size_t len)
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
static int unknown_block_key(const struct block *b, const struct ynode *k, struct err *e)
{
    if (train_field_index(k->text) >= 0)
        return ynode_fail(e, ERR_CONFIG, k,
                     "'%s' is a train setting, not a hyperparameter: write it as "
                     "train: {%s: ...} in this block (or in the top-level train:)",
                     k->text, k->text);
    enum { NC = 3 + 2 * SWEEP_MAX_COMPOSE * HP_MAX };
    const char *cands[NC];
    char qual[SWEEP_MAX_COMPOSE * HP_MAX][96];
    int nc = 0, nq = 0;
    cands[nc++] = b->nm > 1 ? "methods" : "method";
    cands[nc++] = "train";
    cands[nc++] = "zip";
    for (int m = 0; m < b->nm; m++)
        for (int i = 0; i < b->ops[m]->nhps && i < HP_MAX; i++) {
            const char *nm = b->ops[m]->hps[i].name;
            bool dup = false;
            for (int c = 3; c < nc; c++)
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
    block_label(b, label, sizeof label);
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
static int resolve_hp(const struct block *b, const struct ynode *k, int *m, int *idx, struct err *e)
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
            return ynode_fail(e, ERR_CONFIG, k,
                         "'%.60s' names method %s, which is not part of this block (%s); add it "
                         "to methods: or drop the key",
                         key, pre, block_label(b, label, sizeof label));
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

static int add_method(struct block *b, const struct ynode *n, struct err *e)
{
    char w[ERR_MSG_MAX];
    if (n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "expected a method name, found %s", DESCRIBE(n));
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

static int parse_block_train(struct block *b, const struct ynode *tr, const struct train_cfg *base,
                             struct err *e)
{
    if (tr->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, tr, "train: expected a mapping of train settings, found %s",
                     DESCRIBE(tr));
    for (size_t i = 0; i < tr->n; i++) {
        const struct ynode *k = tr->keys[i], *v = tr->items[i];
        int f = train_field_index(k->text);
        if (f < 0)
            return unknown_train_key(e, k, "a method block's train");
        bool axis = v->kind == YNODE_SEQ;
        if (axis && v->n == 0)
            return ynode_fail(e, ERR_CONFIG, v,
                         "train.%s: expected a value or a non-empty list, found []", k->text);
        struct item *it = new_item(b, k, axis ? v->n : 1, e);
        if (!it)
            return e->code;
        it->train = true;
        it->idx = f;
        it->axis = axis;
        for (size_t j = 0; j < it->n; j++) {
            const struct ynode *x = axis ? v->items[j] : v;
            struct train_cfg scratch = *base;
            if (train_set(&scratch, f, x, "train", " (a list of lists is not an axis)", e))
                return e->code;
            it->val[j] = x;
        }
    }
    return 0;
}

/* Find the axis item a zip name refers to. */
static int zip_item(struct block *b, const struct ynode *n, struct item **out, struct err *e)
{
    *out = NULL;
    if (n->kind != YNODE_SCALAR || ynode_is_null(n))
        return ynode_fail(e, ERR_CONFIG, n, "zip: expected a key name of this block, found %s",
                     DESCRIBE(n));
    if (strncmp(n->text, "train.", 6) == 0) {
        int f = train_field_index(n->text + 6);
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
                     n->text, WHERE((*out)->val[0]));
    return 0;
}

static int parse_zip(struct block *b, const struct ynode *z, struct err *e)
{
    if (z->kind != YNODE_SEQ || z->n == 0)
        return ynode_fail(e, ERR_CONFIG, z,
                     "zip: expected a list of groups such as [[rank, alpha]], "
                     "found %s",
                     z->kind == YNODE_SEQ ? "[]" : DESCRIBE(z));
    /* a flat list of names is one group */
    bool flat = all_kind(z, YNODE_SCALAR);
    size_t ngroups = flat ? 1 : z->n;
    for (size_t g = 0; g < ngroups; g++) {
        const struct ynode *grp = flat ? z : z->items[g];
        if (grp->kind != YNODE_SEQ || grp->n < 2)
            return ynode_fail(e, ERR_CONFIG, grp,
                         "zip: expected a group of at least two key names, "
                         "found %s",
                         grp->kind == YNODE_SEQ ? "a shorter list" : DESCRIBE(grp));
        struct item *first = NULL;
        for (size_t i = 0; i < grp->n; i++) {
            struct item *it;
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
                return ynode_fail(e, ERR_CONFIG, grp,
                             "zip: the zipped lists must have equal lengths, found %s with %zu "
                             "values (%s) and %s with %zu (%s)",
                             first->key->text, first->n, WHERE(first->key), it->key->text, it->n,
                             WHERE(it->key));
            }
        }
    }
    return 0;
}

/* Grid dimensions: one per free axis, one per zip group, in key order. */
static int block_dims(struct block *b, struct err *e)
{
    b->dimlen = calloc((size_t)(b->nitems ? b->nitems : 1), sizeof *b->dimlen);
    if (!b->dimlen)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    b->points = 1;
    for (int i = 0; i < b->nitems; i++) {
        struct item *it = &b->items[i];
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

static int parse_block(struct block *b, const struct ynode *node, const struct train_cfg *base,
                       struct err *e)
{
    memset(b, 0, sizeof *b);
    b->node = node;
    if (node->kind == YNODE_SCALAR && !ynode_is_null(node)) /* shorthand: `- lora` */
        return add_method(b, node, e) || block_dims(b, e) ? e->code : 0;
    if (node->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, node,
                     "expected a method block such as {method: lora, rank: [4, 8]}, found %s",
                     DESCRIBE(node));
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
        if (strcmp(key, "train") == 0) {
            if (parse_block_train(b, v, base, e))
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

/* ---- top level ----------------------------------------------------------- */

static const char *const top_keys[] = {"sweep", "model",      "data_dir", "tasks", "seeds",
                                       "train", "max_trials", "methods",  "plots", "include"};
#define NTOP ((int)(sizeof top_keys / sizeof *top_keys))

/* Keys a file task may declare; the tasks module interprets them. */
static const char *const file_task_keys[] = {
    "name",   "path",   "train", "dev",    "test",   "format",     "header",        "text",
    "text_a", "text_b", "label", "labels", "metric", "regression", "skip_bad_rows",
};
#define NFTK ((int)(sizeof file_task_keys / sizeof *file_task_keys))

static int parse_file_task(struct sweep *s, const struct ynode *n, struct err *e)
{
    struct file_task_decl *ft = &s->file_tasks[s->nfile_tasks];
    memset(ft, 0, sizeof *ft);
    const struct ynode *name = ynode_get(n, "name");
    if (!name)
        return ynode_fail(e, ERR_CONFIG, n, "file task: expected a 'name:' key, found none");
    if (!ynode_get(n, "path") && !ynode_get(n, "train"))
        return ynode_fail(e, ERR_CONFIG, n,
                     "file task: expected a 'path:' (or 'train:') key with the "
                     "data file, found none");
    if (get_string(name, "file task name", ft->name, sizeof ft->name, e))
        return e->code;
    if (!valid_name(ft->name, sizeof ft->name))
        return ynode_fail(e, ERR_CONFIG, name,
                     "file task name: expected letters, digits, '.', '_' "
                     "or '-', found '%.60s'",
                     ft->name);
    if (task_find(ft->name))
        return ynode_fail(e, ERR_CONFIG, name,
                     "file task name '%s' is already a registered task; "
                     "choose another name",
                     ft->name);
    s->nfile_tasks++; /* owns its arrays from here on (sweep_free frees them) */
    ft->keys = calloc(n->n, sizeof *ft->keys);
    ft->values = calloc(n->n, sizeof *ft->values);
    ft->where = calloc(n->n, sizeof *ft->where);
    if (!ft->keys || !ft->values || !ft->where)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->keys[i], *v = n->items[i];
        bool known = false;
        for (int j = 0; j < NFTK; j++)
            known |= strcmp(k->text, file_task_keys[j]) == 0;
        if (!known)
            return unknown_key(e, k, "a file task", file_task_keys, NFTK);
        if (strcmp(k->text, "name") == 0)
            continue;
        bool ok = (v->kind == YNODE_SCALAR && !ynode_is_null(v)) ||
                  (v->kind == YNODE_SEQ && v->n > 0 && all_kind(v, YNODE_SCALAR));
        if (!ok)
            return ynode_fail(e, ERR_CONFIG, v,
                         "file task %s.%s: expected a value or a list of "
                         "values, found %s",
                         ft->name, k->text, DESCRIBE(v));
        char w[ERR_MSG_MAX];
        int j = ft->n++;
        ft->keys[j] = strdup(k->text);
        ft->values[j] = value_text(v);
        ft->where[j] = strdup(ynode_where(v, w, sizeof w));
        if (!ft->keys[j] || !ft->values[j] || !ft->where[j])
            return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int parse_tasks(struct sweep *s, const struct ynode *t, struct err *e)
{
    const struct ynode *const *list = (const struct ynode *const *)&t;
    size_t n = 1;
    if (t->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)t->items;
        n = t->n;
    }
    if (n == 0 || ynode_is_null(t))
        return ynode_fail(e, ERR_CONFIG, t,
                     "tasks: expected a task name or a non-empty list of tasks, "
                     "found %s",
                     n ? DESCRIBE(t) : "[]");
    if (n > SWEEP_MAX_TASKS)
        return ynode_fail(e, ERR_LIMIT, t,
                     "tasks: expected at most %d tasks (SWEEP_MAX_TASKS), found %zu",
                     SWEEP_MAX_TASKS, n);
    s->tasks = calloc(n, sizeof *s->tasks);
    s->file_tasks = calloc(n, sizeof *s->file_tasks);
    if (!s->tasks || !s->file_tasks)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct ynode *x = list[i];
        char name[TASK_NAME_MAX], w[ERR_MSG_MAX];
        if (x->kind == YNODE_MAP) {
            if (parse_file_task(s, x, e))
                return e->code;
            snprintf(name, sizeof name, "%s", s->file_tasks[s->nfile_tasks - 1].name);
        } else {
            if (get_string(x, "tasks", name, sizeof name, e))
                return e->code;
            if (strcmp(name, "file") == 0)
                return ynode_fail(e, ERR_CONFIG, x,
                             "tasks: 'file' needs a declaration such as "
                             "{name: mytask, path: data.tsv, text: sentence, label: label}");
            if (!task_lookup(name, ynode_where(x, w, sizeof w), e))
                return e->code;
        }
        for (int j = 0; j < s->ntasks; j++)
            if (strcmp(s->tasks[j], name) == 0)
                return ynode_fail(e, ERR_CONFIG, x, "tasks: '%s' is listed twice", name);
        if (!(s->tasks[s->ntasks] = strdup(name)))
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        s->ntasks++;
    }
    return 0;
}

static int parse_seed(const struct ynode *x, uint64_t *out, struct err *e)
{
    bool ok = x->kind == YNODE_SCALAR && x->len > 0 && x->len <= 20;
    for (size_t i = 0; ok && i < x->len; i++)
        ok = x->text[i] >= '0' && x->text[i] <= '9';
    if (ok) {
        errno = 0;
        unsigned long long v = strtoull(x->text, NULL, 10);
        ok = !errno;
        *out = v;
    }
    if (!ok)
        return ynode_fail(e, ERR_CONFIG, x, "seeds: expected a non-negative integer, found %s",
                     DESCRIBE(x));
    return 0;
}

static int parse_seeds(struct sweep *s, const struct ynode *t, struct err *e)
{
    const struct ynode *const *list = (const struct ynode *const *)&t;
    size_t n = 1;
    if (t->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)t->items;
        n = t->n;
    }
    if (n == 0)
        return ynode_fail(e, ERR_CONFIG, t,
                     "seeds: expected an integer or a non-empty list of "
                     "integers, found []");
    if (n > SWEEP_MAX_SEEDS)
        return ynode_fail(e, ERR_LIMIT, t,
                     "seeds: expected at most %d seeds (SWEEP_MAX_SEEDS), found %zu",
                     SWEEP_MAX_SEEDS, n);
    s->seeds = calloc(n, sizeof *s->seeds);
    if (!s->seeds)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (parse_seed(list[i], &v, e))
            return e->code;
        for (int j = 0; j < s->nseeds; j++)
            if (s->seeds[j] == v)
                return ynode_fail(e, ERR_CONFIG, list[i], "seeds: %" PRIu64 " is listed twice", v);
        s->seeds[s->nseeds++] = v;
    }
    return 0;
}

static int parse_train(struct train_cfg *t, const struct ynode *tr, struct err *e)
{
    if (tr->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, tr, "train: expected a mapping of train settings, found %s",
                     DESCRIBE(tr));
    for (size_t i = 0; i < tr->n; i++) {
        int f = train_field_index(tr->keys[i]->text);
        if (f < 0)
            return unknown_train_key(e, tr->keys[i], "train");
        if (train_set(t, f, tr->items[i], "train",
                      " (lists are grid axes only in a method block's train:)", e))
            return e->code;
    }
    return 0;
}

static int parse_top(struct sweep *s, const struct ynode *root, const char *path, struct err *e)
{
    for (size_t i = 0; i < root->n; i++) {
        bool known = false;
        for (int j = 0; j < NTOP; j++)
            known |= strcmp(root->keys[i]->text, top_keys[j]) == 0;
        if (!known)
            return unknown_key(e, root->keys[i], "the sweep file", top_keys, NTOP);
    }
    const struct ynode *n;
    if ((n = ynode_get(root, "include")))
        return ynode_fail(e, ERR_CONFIG, n,
                     "include: expected in the sweep file itself; overrides "
                     "apply after includes are resolved");
    if ((n = ynode_get(root, "sweep"))) {
        if (get_string(n, "sweep", s->name, sizeof s->name, e))
            return e->code;
        if (!valid_name(s->name, sizeof s->name))
            return ynode_fail(e, ERR_CONFIG, n,
                         "sweep: expected a name of letters, digits, '.', '_' "
                         "or '-' (it names results/<sweep>/), found '%.60s'",
                         s->name);
    } else {
        /* default: the file name without directory and extension */
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        const char *dot = strrchr(b, '.');
        size_t len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
        snprintf(s->name, sizeof s->name, "%.*s", (int)(len < 100 ? len : 100), b);
        if (!valid_name(s->name, sizeof s->name))
            return ynode_fail(e, ERR_CONFIG, root,
                         "expected a 'sweep: NAME' key (the file name '%s' "
                         "cannot serve as one)",
                         b);
    }
    if (!(n = ynode_get(root, "model")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'model' (builtin:NAME or a "
                     "Hugging Face model directory)");
    if (get_string(n, "model", s->model, sizeof s->model, e))
        return e->code;
    if ((n = ynode_get(root, "data_dir")) && !ynode_is_null(n) &&
        get_string(n, "data_dir", s->data_dir, sizeof s->data_dir, e))
        return e->code;
    if (!(n = ynode_get(root, "tasks")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'tasks' (a list of task names "
                     "or file-task declarations)");
    if (parse_tasks(s, n, e))
        return e->code;
    if ((n = ynode_get(root, "seeds"))) {
        if (parse_seeds(s, n, e))
            return e->code;
    } else {
        if (!(s->seeds = calloc(1, sizeof *s->seeds)))
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        s->seeds[0] = SWEEP_DEFAULT_SEED;
        s->nseeds = 1;
    }
    train_cfg_default(&s->train);
    if ((n = ynode_get(root, "train")) && parse_train(&s->train, n, e))
        return e->code;
    s->max_trials = SWEEP_DEFAULT_MAX_TRIALS;
    if ((n = ynode_get(root, "max_trials"))) {
        long long v;
        if (n->kind != YNODE_SCALAR || !yaml_scalar_ll(n->text, &v) || v < 1)
            return ynode_fail(e, ERR_CONFIG, n, "max_trials: expected an integer >= 1, found %s",
                         DESCRIBE(n));
        s->max_trials = (size_t)v;
    }
    if (!(n = ynode_get(root, "methods")))
        return ynode_fail(e, ERR_CONFIG, root,
                     "missing required key 'methods' (a list of method "
                     "blocks such as {method: lora, rank: [4, 8]})");
    if (n->kind != YNODE_SEQ || n->n == 0)
        return ynode_fail(e, ERR_CONFIG, n,
                     "methods: expected a non-empty list of method blocks, "
                     "found %s",
                     n->kind == YNODE_SEQ ? "an empty list" : DESCRIBE(n));
    return 0;
}

/* ---- expansion ------------------------------------------------------------ */

void sweep_hash_id(const char *canonical, char id[SWEEP_ID_LEN + 1])
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)canonical; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    snprintf(id, SWEEP_ID_LEN + 1, "%016" PRIx64, h);
}

const struct file_task_decl *sweep_file_task(const struct sweep *s, const char *name)
{
    for (int i = 0; i < s->nfile_tasks; i++)
        if (strcmp(s->file_tasks[i].name, name) == 0)
            return &s->file_tasks[i];
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The canonical text of a trial: everything that defines it, nothing that doesn't. */
static char *canonical(const struct sweep *s, const struct trial *t)
{
    struct strbuf b = {0};
    char v[256];
    strbuf_put(&b, "peftbench-trial v1\nmodel=", 25);
    sb_escaped(&b, s->model);
    strbuf_put(&b, "\ntask=", 6);
    sb_escaped(&b, t->task);
    strbuf_put(&b, "\n", 1);
    const struct file_task_decl *ft = sweep_file_task(s, t->task);
    if (ft && ft->n > 0) {
        /* sorted "key=value" lines: the declaration order does not matter */
        char **lines = calloc((size_t)ft->n, sizeof *lines);
        bool ok = lines != NULL;
        for (int i = 0; ok && i < ft->n; i++) {
            struct strbuf l = {0};
            strbuf_printf(&l, "task.%s=", ft->keys[i]);
            sb_escaped(&l, ft->values[i]);
            strbuf_put(&l, "\n", 1);
            ok = !l.oom;
            lines[i] = l.p;
        }
        if (ok) {
            qsort(lines, (size_t)ft->n, sizeof *lines, cmp_str);
            for (int i = 0; i < ft->n; i++)
                strbuf_put(&b, lines[i], strlen(lines[i]));
        } else {
            b.oom = true;
        }
        for (int i = 0; lines && i < ft->n; i++)
            free(lines[i]);
        free(lines);
    }
    strbuf_printf(&b, "seed=%" PRIu64 "\n", t->seed);
    for (int f = 0; f < NTRAIN; f++) {
        train_format(&t->train, f, v, sizeof v);
        strbuf_printf(&b, "train.%s=%s\n", train_fields[f].name, v);
    }
    for (int m = 0; m < t->nmethods; m++) {
        const struct trial_method *tm = &t->m[m];
        strbuf_printf(&b, "method.%d=%s\n", m, tm->ops->name);
        for (int i = 0; i < tm->hp.n; i++) {
            char hv[512];
            hp_format(&tm->hp, i, hv, sizeof hv);
            strbuf_printf(&b, "%s.%s=", tm->ops->name, tm->hp.defs[i].name);
            sb_escaped(&b, hv);
            strbuf_put(&b, "\n", 1);
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Resolve grid point idx of block b: hyperparameters of each method and train settings. */
static int resolve_point(const struct sweep *s, const struct block *b, const size_t *idx,
                         struct trial *t, struct err *e)
{
    t->train = s->train;
    t->nmethods = b->nm;
    for (int i = 0; i < b->nitems; i++) {
        const struct item *it = &b->items[i];
        size_t vi = it->axis ? idx[it->dim] : 0;
        if (it->train && train_set(&t->train, it->idx, it->val[vi], "train", "", e))
            return e->code;
    }
    for (int m = 0; m < b->nm; m++) {
        struct hp_kv kv[HP_MAX];
        int nkv = 0;
        for (int i = 0; i < b->nitems && nkv < HP_MAX; i++) {
            const struct item *it = &b->items[i];
            if (it->train || it->method != m)
                continue;
            size_t vi = it->axis ? idx[it->dim] : 0;
            kv[nkv++] = (struct hp_kv){b->ops[m]->hps[it->idx].name, it->text[vi], it->where[vi]};
        }
        t->m[m].ops = b->ops[m];
        if (method_parse(b->ops[m], &t->m[m].hp, kv, nkv, NULL, e)) {
            /* registry checks without a position get the block's */
            bool located = false;
            for (int k = 0; k < nkv; k++)
                located |= strncmp(e->msg, kv[k].where, strlen(kv[k].where)) == 0;
            if (!located)
                err_prefix(e, "%s: method block (%s)", WHERE(b->node), b->ops[m]->name);
            return e->code;
        }
    }
    char label[sizeof t->label];
    block_label(b, label, sizeof label);
    memcpy(t->label, label, sizeof label);
    return 0;
}

static int expand(struct sweep *s, struct block *blocks, int nblocks, int *trial_block,
                  struct err *e)
{
    size_t k = 0;
    for (int bi = 0; bi < nblocks; bi++) {
        const struct block *b = &blocks[bi];
        size_t *idx = calloc((size_t)(b->ndims ? b->ndims : 1), sizeof *idx);
        if (!idx)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        for (size_t p = 0; p < b->points; p++) {
            struct trial proto;
            memset(&proto, 0, sizeof proto);
            if (resolve_point(s, b, idx, &proto, e)) {
                free(idx);
                return e->code;
            }
            for (int ti = 0; ti < s->ntasks; ti++)
                for (int si = 0; si < s->nseeds; si++) {
                    struct trial *t = &s->trials[k];
                    *t = proto;
                    t->index = (int)k;
                    snprintf(t->task, sizeof t->task, "%s", s->tasks[ti]);
                    t->seed = s->seeds[si];
                    t->canonical = canonical(s, t);
                    s->ntrials = ++k; /* owned from here on */
                    if (!t->canonical) {
                        free(idx);
                        return ERR_SET(e, ERR_NOMEM, "out of memory");
                    }
                    sweep_hash_id(t->canonical, t->id);
                    trial_block[k - 1] = bi;
                }
            for (int d = b->ndims - 1; d >= 0; d--) { /* last axis fastest */
                if (++idx[d] < b->dimlen[d])
                    break;
                idx[d] = 0;
            }
        }
        free(idx);
    }
    return 0;
}

struct idref {
    const char *id;
    size_t i;
};

static int idref_cmp(const void *a, const void *b)
{
    const struct idref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Duplicate trials are an error (not silently dropped): they usually mean a
 * repeated axis value or two blocks that overlap, which the author should see. */
static int check_duplicates(const struct sweep *s, const struct block *blocks,
                            const int *trial_block, struct err *e)
{
    if (s->ntrials < 2)
        return 0;
    struct idref *r = malloc(s->ntrials * sizeof *r);
    if (!r)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->ntrials; i++)
        r[i] = (struct idref){s->trials[i].id, i};
    qsort(r, s->ntrials, sizeof *r, idref_cmp);
    size_t a = SIZE_MAX, b = SIZE_MAX;
    for (size_t i = 1; i < s->ntrials; i++)
        if (strcmp(r[i - 1].id, r[i].id) == 0 && r[i].i < b)
            a = r[i - 1].i, b = r[i].i;
    free(r);
    if (b == SIZE_MAX)
        return 0;
    const struct trial *ta = &s->trials[a], *tb = &s->trials[b];
    const struct ynode *na = blocks[trial_block[a]].node, *nb = blocks[trial_block[b]].node;
    if (strcmp(ta->canonical, tb->canonical) != 0)
        return ynode_fail(e, ERR_STATE, nb,
                     "trial id %s collides with a different trial from the "
                     "block at %s (a 64-bit hash collision); change a value slightly",
                     tb->id, WHERE(na));
    if (na == nb)
        return ynode_fail(e, ERR_CONFIG, nb,
                     "this method block produces trial %s (%s on %s, seed %" PRIu64
                     ") twice: a list repeats a value (explicit or equal to a default)",
                     tb->id, tb->label, tb->task, tb->seed);
    return ynode_fail(e, ERR_CONFIG, nb,
                 "this method block repeats trial %s (%s on %s, seed %" PRIu64
                 ") of the block at %s; remove the overlap",
                 tb->id, tb->label, tb->task, tb->seed, WHERE(na));
}

/* ---- load ------------------------------------------------------------------ */

static int load_blocks(struct sweep *s, const struct ynode *root, const struct sweep_opts *o,
                       struct err *e)
{
    const struct ynode *list = ynode_get(root, "methods");
    int nblocks = (int)list->n;
    if (list->n > INT_MAX / 2)
        return ynode_fail(e, ERR_LIMIT, list, "methods: too many blocks");
    struct block *blocks = calloc(list->n, sizeof *blocks);
    int *trial_block = NULL;
    if (!blocks)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    size_t total = 0, per = (size_t)s->ntasks * (size_t)s->nseeds;
    int largest = 0;
    for (int i = 0; i < nblocks && !rc; i++) {
        rc = parse_block(&blocks[i], list->items[i], &s->train, e);
        if (rc)
            break;
        size_t pts = blocks[i].points;
        if (pts > SIZE_MAX / per || total > SIZE_MAX - pts * per) {
            rc = ynode_fail(e, ERR_LIMIT, blocks[i].node,
                       "the sweep has more trials than can be counted (grid x %d tasks x %d "
                       "seeds overflows at this block); shrink the lists",
                       s->ntasks, s->nseeds);
            break;
        }
        total += pts * per;
        if (pts > blocks[largest].points)
            largest = i;
    }
    if (!rc && total > s->max_trials && !(o && o->allow_large))
        rc = ynode_fail(e, ERR_LIMIT, blocks[largest].node,
                   "the sweep expands to %zu trials, more than max_trials = %zu (this block "
                   "alone gives %zu); raise max_trials or allow large sweeps explicitly",
                   total, s->max_trials, blocks[largest].points * per);
    if (!rc && total > SWEEP_HARD_MAX_TRIALS)
        rc = ynode_fail(e, ERR_LIMIT, blocks[largest].node,
                   "the sweep expands to %zu trials, more than the hard limit of %d "
                   "(SWEEP_HARD_MAX_TRIALS); split it",
                   total, SWEEP_HARD_MAX_TRIALS);
    if (!rc) {
        s->trials = calloc(total ? total : 1, sizeof *s->trials);
        trial_block = calloc(total ? total : 1, sizeof *trial_block);
        if (!s->trials || !trial_block)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    if (!rc)
        rc = expand(s, blocks, nblocks, trial_block, e);
    if (!rc)
        rc = check_duplicates(s, blocks, trial_block, e);
    free(trial_block);
    for (int i = 0; i < nblocks; i++)
        block_free(&blocks[i]);
    free(blocks);
    return rc;
}

int sweep_load(struct sweep *s, const char *path, const struct sweep_opts *o, struct err *e)
{
    struct err scratch;
    if (!e)
        e = &scratch;
    memset(s, 0, sizeof *s);
    err_clear(e);
    if (strlen(path) >= sizeof s->path)
        return ERR_SET(e, ERR_LIMIT, "%.200s...: path longer than %d characters", path,
                       SWEEP_PATH_MAX - 1);
    memcpy(s->path, path, strlen(path) + 1);
    struct ynode *root = NULL;
    int rc = ynode_load_file(&root, path, true, e);
    if (!rc && !root)
        rc = ERR_SET(e, ERR_CONFIG,
                     "%s:1:1: expected a mapping of sweep settings (sweep, model, "
                     "tasks, methods, ...), found an empty file",
                     path);
    for (int i = 0; !rc && o && i < o->noverrides; i++)
        rc = ynode_apply_override(&root, o->overrides[i], e);
    if (!rc && root->kind != YNODE_MAP)
        rc = ynode_fail(e, ERR_CONFIG, root,
                   "expected a mapping of sweep settings (sweep, model, "
                   "tasks, methods, ...), found %s",
                   DESCRIBE(root));
    if (!rc)
        rc = parse_top(s, root, path, e);
    if (!rc)
        rc = load_blocks(s, root, o, e);
    const struct ynode *plots = rc ? NULL : ynode_get(root, "plots");
    if (!rc && plots)
        rc = ynode_emit(plots, &s->plots_yaml, e);
    if (!rc)
        rc = ynode_emit(root, &s->resolved_yaml, e);
    ynode_free(root);
    if (rc)
        sweep_free(s);
    return rc;
}

void sweep_free(struct sweep *s)
{
    if (!s)
        return;
    for (int i = 0; s->tasks && i < s->ntasks; i++)
        free(s->tasks[i]);
    free(s->tasks);
    for (int i = 0; s->file_tasks && i < s->nfile_tasks; i++) {
        struct file_task_decl *ft = &s->file_tasks[i];
        for (int j = 0; j < ft->n; j++) {
            free(ft->keys[j]);
            free(ft->values[j]);
            free(ft->where[j]);
        }
        free(ft->keys);
        free(ft->values);
        free(ft->where);
    }
    free(s->file_tasks);
    free(s->seeds);
    for (size_t i = 0; s->trials && i < s->ntrials; i++)
        free(s->trials[i].canonical);
    free(s->trials);
    free(s->plots_yaml);
    free(s->resolved_yaml);
    memset(s, 0, sizeof *s);
}
