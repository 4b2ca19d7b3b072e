/*
 * train_cfg: the train settings schema (see train_cfg.h): one table row per
 * setting with its type, offset and range, read strictly from YAML and
 * formatted back for the canonical trial text.
 */
#include "harness/sweep/train_cfg.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/sweep/sweep_schema.h"
#include "harness/yaml/yaml_node.h"
#include "harness/yaml/yaml_scalar.h"
#include "model/engine/matmul.h"

/* ---- train settings ------------------------------------------------------ */

enum tf_type { TF_INT, TF_REAL, TF_BOOL, TF_PREC /* "fp32" | "bf16" into an int */ };

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
    {"precision", TF_PREC, offsetof(struct train_cfg, precision), 0, 0, false, false,
     "fp32 or bf16"},
};

#define NTRAIN ((int)(sizeof train_fields / sizeof *train_fields))
_Static_assert(sizeof train_fields / sizeof *train_fields <= 32, "train_mask has 32 bits");

int train_cfg_nfields(void)
{
    return NTRAIN;
}

const char *train_cfg_field_name(int f)
{
    return train_fields[f].name;
}

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

int train_cfg_field_index(const char *name)
{
    for (int i = 0; i < NTRAIN; i++)
        if (strcmp(train_fields[i].name, name) == 0)
            return i;
    return -1;
}

int train_cfg_unknown_key(struct err *e, const struct ynode *key, const char *what)
{
    const char *names[NTRAIN];
    for (int i = 0; i < NTRAIN; i++)
        names[i] = train_fields[i].name;
    return sweep_unknown_key(e, key, what, names, NTRAIN);
}

/* An integral real such as "1e3" or "512.0" as an integer (people write counts that way);
 * "1.5" is not one.  Bounded so the conversion is exact. */
static bool integral_real(const char *s, long long *i)
{
    double x;
    if (!yaml_scalar_real(s, &x) || x != floor(x) || fabs(x) > 9.0e15)
        return false;
    *i = (long long)x;
    return true;
}

/* Parse value node v for field f into t.  ctx names the setting ("train"). */
int train_cfg_set(struct train_cfg *t, int f, const struct ynode *v, const char *ctx,
                  const char *hint, struct err *e)
{
    const struct train_field *d = &train_fields[f];
    char *base = (char *)t + d->off;
    if (!v || v->kind != YNODE_SCALAR || ynode_is_null(v))
        return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected %s, found %s%s", ctx, d->name,
                          d->expect, SWEEP_DESCRIBE(v), v && v->kind == YNODE_SEQ ? hint : "");
    const char *s = v->text;
    if (d->type == TF_PREC) {
        enum matmul_prec p;
        if (matmul_prec_parse(s, &p) != 0)
            return ynode_fail(e, ERR_CONFIG, v, "%s.%s: expected fp32 or bf16, found '%.60s'",
                              ctx, d->name, s);
        int pv = (int)p;
        memcpy(base, &pv, sizeof pv);
        return 0;
    }
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
        if (!yaml_scalar_ll(s, &i) && !integral_real(s, &i))
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

void train_cfg_format(const struct train_cfg *t, int f, char *buf, size_t size)
{
    const struct train_field *d = &train_fields[f];
    const char *base = (const char *)t + d->off;
    if (d->type == TF_PREC) {
        int v;
        memcpy(&v, base, sizeof v);
        snprintf(buf, size, "%s", matmul_prec_name((enum matmul_prec)v));
    } else if (d->type == TF_INT) {
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

void train_cfg_copy(struct train_cfg *dst, const struct train_cfg *src, train_mask mask)
{
    static const size_t size[] = {[TF_INT] = sizeof(int), [TF_REAL] = sizeof(double),
                                  [TF_BOOL] = sizeof(bool), [TF_PREC] = sizeof(int)};
    for (int f = 0; f < NTRAIN; f++)
        if (mask & TRAIN_BIT(f))
            memcpy((char *)dst + train_fields[f].off, (const char *)src + train_fields[f].off,
                   size[train_fields[f].type]);
}

/* True when node v was made by a command-line override: yaml_override.h names
 * such nodes "override '...'" (flow values parsed from it carry a line too). */
static bool from_override(const struct ynode *v)
{
    return v->line == 0 || (v->file && strncmp(v->file, "override '", 10) == 0);
}

int train_cfg_parse(struct train_cfg *t, const struct ynode *tr, train_mask *given,
                    train_mask *cli, struct err *e)
{
    if (tr->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, tr,
                          "train: expected a mapping of train settings, found %s",
                          SWEEP_DESCRIBE(tr));
    for (size_t i = 0; i < tr->n; i++) {
        int f = train_cfg_field_index(tr->keys[i]->text);
        if (f < 0)
            return train_cfg_unknown_key(e, tr->keys[i], "train");
        if (train_cfg_set(t, f, tr->items[i], "train",
                          " (lists are grid axes only in a method block's train:)", e))
            return e->code;
        if (given)
            *given |= TRAIN_BIT(f);
        if (cli && from_override(tr->items[i]))
            *cli |= TRAIN_BIT(f);
    }
    return 0;
}
