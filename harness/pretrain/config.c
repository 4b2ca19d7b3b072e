/*
 * pretrain config: the schema table of the pretraining config, its parser, the checks
 * that span keys, and the canonical text and cache key (contract in config.h).  The
 * table gives every key its type, range and wording: parsing, error messages, the
 * canonical text and the "defaults used" list all walk it (the default values are in
 * pretrain_cfg_default).
 */
#include "harness/pretrain/config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strfmt.h"
#include "harness/sweep/sweep.h"
#include "harness/sweep/trial_id.h"
#include "harness/yaml/yaml.h"
#include "model/engine/ops.h" /* act_from_name */
#include "model/text/vocab_build.h"

#define PRETRAIN_FORMAT "peftbench-pretrain v1" /* bump when a build's result changes */

enum pf_type { PF_INT, PF_LL, PF_REAL, PF_BOOL, PF_STR };

struct pf {
    const char *section; /* NULL: top level */
    const char *key;
    enum pf_type type;
    size_t off, cap; /* PF_STR: buffer size */
    double lo, hi;
    bool lo_open, hi_open; /* lo < x rather than lo <= x, x < hi rather than x <= hi */
    bool hashed;           /* part of the cache key */
    const char *expect;    /* for messages */
};

#define O(f) offsetof(struct pretrain_cfg, f)
#define S(f) sizeof(((struct pretrain_cfg *)0)->f)
static const struct pf fields[] = {
    {NULL, "name", PF_STR, O(name), S(name), 0, 0, false, false, false, "a name"},
    {NULL, "seed", PF_LL, O(seed), 0, 0, 4611686018427387904.0, false, false, true,
     "an integer >= 0"},
    {"corpus", "source", PF_STR, O(source), S(source), 0, 0, false, false, true,
     "wordnet, wordnet-train or file"},
    {"corpus", "path", PF_STR, O(path), S(path), 0, 0, false, false, true, "a file path"},
    {"corpus", "wordnet_dir", PF_STR, O(wordnet_dir), S(wordnet_dir), 0, 0, false, false, true,
     "a directory"},
    {"corpus", "heldout_fraction", PF_REAL, O(heldout_fraction), 0, 0, 0.5, false, false, true,
     "a number in [0, 0.5]"},
    {"corpus", "heldout_max_lines", PF_INT, O(heldout_max_lines), 0, 0, INT_MAX, false, false, true,
     "an integer >= 0"},
    {"corpus", "max_lines", PF_INT, O(max_lines), 0, 0, INT_MAX, false, false, true,
     "an integer >= 0 (0 = all)"},
    {"vocab", "size", PF_INT, O(vocab_size), 0, 16, VOCAB_MAX_SIZE, false, false, true,
     "an integer in [16, 1000000]"},
    {"vocab", "min_frequency", PF_INT, O(min_frequency), 0, 1, INT_MAX, false, false, true,
     "an integer >= 1"},
    {"vocab", "limit_alphabet", PF_INT, O(limit_alphabet), 0, 0, INT_MAX, false, false, true,
     "an integer >= 0 (0 = every character)"},
    {"vocab", "lowercase", PF_BOOL, O(lowercase), 0, 0, 0, false, false, true, "true or false"},
    {"model", "layers", PF_INT, O(layers), 0, 1, 64, false, false, true, "an integer in [1, 64]"},
    {"model", "hidden", PF_INT, O(hidden), 0, 2, 8192, false, false, true,
     "an integer in [2, 8192]"},
    {"model", "heads", PF_INT, O(heads), 0, 1, 256, false, false, true, "an integer in [1, 256]"},
    {"model", "ffn", PF_INT, O(ffn), 0, 1, 65536, false, false, true, "an integer in [1, 65536]"},
    {"model", "max_position", PF_INT, O(max_position), 0, 4, 8192, false, false, true,
     "an integer in [4, 8192]"},
    {"model", "hidden_act", PF_STR, O(hidden_act), S(hidden_act), 0, 0, false, false, true,
     "gelu, gelu_new, relu, swish or tanh"},
    {"model", "dropout", PF_REAL, O(dropout), 0, 0, 1, false, true, true, "a number in [0, 1)"},
    {"model", "attention_dropout", PF_REAL, O(attention_dropout), 0, 0, 1, false, true, true,
     "a number in [0, 1)"},
    {"model", "initializer_range", PF_REAL, O(initializer_range), 0, 0, 1, true, false, true,
     "a number in (0, 1]"},
    {"train", "steps", PF_INT, O(steps), 0, 1, 100000000, false, false, true,
     "an integer in [1, 100000000]"},
    {"train", "batch_size", PF_INT, O(batch_size), 0, 1, 65536, false, false, true,
     "an integer in [1, 65536]"},
    {"train", "max_seq_len", PF_INT, O(max_seq_len), 0, 4, 8192, false, false, true,
     "an integer in [4, 8192]"},
    {"train", "dropout", PF_REAL, O(train_dropout), 0, -1, 1, false, true, true,
     "a number in [-1, 1) (negative: model.dropout and model.attention_dropout)"},
    {"train", "eval_batch_size", PF_INT, O(eval_batch_size), 0, 1, 65536, false, false, true,
     "an integer in [1, 65536]"},
    {"train", "lr", PF_REAL, O(lr), 0, 0, 10, true, false, true, "a number in (0, 10]"},
    {"train", "warmup_ratio", PF_REAL, O(warmup_ratio), 0, 0, 1, false, false, true,
     "a number in [0, 1]"},
    {"train", "weight_decay", PF_REAL, O(weight_decay), 0, 0, 1e6, false, false, true,
     "a number >= 0"},
    {"train", "grad_clip", PF_REAL, O(grad_clip), 0, 0, 1e12, false, false, true,
     "a number >= 0 (0 = off)"},
    {"train", "adam_beta1", PF_REAL, O(adam_beta1), 0, 0, 1, false, true, true,
     "a number in [0, 1)"},
    {"train", "adam_beta2", PF_REAL, O(adam_beta2), 0, 0, 1, false, true, true,
     "a number in [0, 1)"},
    {"train", "adam_eps", PF_REAL, O(adam_eps), 0, 0, 1, true, false, true, "a number in (0, 1]"},
    {"mlm", "mask_prob", PF_REAL, O(mask_prob), 0, 0, 1, true, false, true, "a number in (0, 1]"},
    {"mlm", "mask_token", PF_REAL, O(mask_token), 0, 0, 1, false, false, true,
     "a number in [0, 1]"},
    {"mlm", "random_token", PF_REAL, O(random_token), 0, 0, 1, false, false, true,
     "a number in [0, 1]"},
    {"mlm", "cls_bow_weight", PF_REAL, O(cls_bow_weight), 0, 0, 100, false, false, true,
     "a number in [0, 100] (0 = off)"},
};
#undef O
#undef S
#define NFIELDS ((int)(sizeof fields / sizeof *fields))

static const char *const sections[] = {"corpus", "vocab", "model", "train", "mlm"};
#define NSECTIONS ((int)(sizeof sections / sizeof *sections))

void pretrain_cfg_default(struct pretrain_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    snprintf(c->source, sizeof c->source, "wordnet");
    c->heldout_fraction = 0.02;
    c->heldout_max_lines = 2000;
    c->vocab_size = VOCAB_DEFAULT_SIZE;
    c->min_frequency = 2;
    c->lowercase = true;
    c->layers = 4;
    c->hidden = 128;
    c->heads = 4;
    c->ffn = 512;
    c->max_position = 128;
    snprintf(c->hidden_act, sizeof c->hidden_act, "gelu");
    c->dropout = 0.1;
    c->attention_dropout = 0.1;
    c->initializer_range = 0.02;
    c->steps = 1000;
    c->batch_size = 64;
    c->max_seq_len = 64;
    c->eval_batch_size = 128;
    c->train_dropout = -1.0;
    c->lr = 1e-3;
    c->warmup_ratio = 0.06;
    c->weight_decay = 0.01;
    c->grad_clip = 1.0;
    c->adam_beta1 = 0.9;
    c->adam_beta2 = 0.999;
    c->adam_eps = 1e-6;
    c->mask_prob = 0.15;
    c->mask_token = 0.8;
    c->random_token = 0.1;
}

void pretrain_cfg_free(struct pretrain_cfg *c)
{
    if (!c)
        return;
    free(c->canonical);
    c->canonical = NULL;
}

#define DESCRIBE(n) ynode_describe((n), (char[96]){0}, 96)

static void full_key(const struct pf *f, char *buf, size_t n)
{
    if (f->section)
        snprintf(buf, n, "%s.%s", f->section, f->key);
    else
        snprintf(buf, n, "%s", f->key);
}

/* "unknown key 'k' in WHAT (did you mean 'x'?); valid keys: a, b, c". */
static int unknown_key(struct err *e, const struct ynode *k, const char *what,
                       const char *const *valid, int n)
{
    char list[512];
    str_join(list, sizeof list, valid, n);
    const char *guess = hp_did_you_mean(k->text, valid, n);
    if (guess)
        return ynode_fail(e, ERR_CONFIG, k,
                          "unknown key '%.60s' in %s (did you mean '%s'?); valid keys: %s", k->text,
                          what, guess, list);
    return ynode_fail(e, ERR_CONFIG, k, "unknown key '%.60s' in %s; valid keys: %s", k->text, what,
                      list);
}

/* Parse value v of field f into c. */
static int set_field(struct pretrain_cfg *c, const struct pf *f, const struct ynode *v,
                     struct err *e)
{
    char name[64];
    full_key(f, name, sizeof name);
    char *base = (char *)c + f->off;
    if (!v || v->kind != YNODE_SCALAR || ynode_is_null(v))
        return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found %s", name, f->expect,
                          DESCRIBE(v));
    const char *s = v->text;
    if (f->type == PF_STR) {
        if (v->len == 0 || v->len >= f->cap)
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s of 1 to %zu characters, found %s",
                              name, f->expect, f->cap - 1, DESCRIBE(v));
        memcpy(base, s, v->len + 1);
        return 0;
    }
    if (f->type == PF_BOOL) {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected true or false, found '%.60s'", name,
                              s);
        bool b = s[0] == 't';
        memcpy(base, &b, sizeof b);
        return 0;
    }
    double x;
    long long i = 0;
    if (f->type == PF_REAL) {
        if (!yaml_scalar_real(s, &x))
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found '%.60s'", name, f->expect,
                              s);
    } else {
        if (!yaml_scalar_ll(s, &i))
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found '%.60s'", name, f->expect,
                              s);
        x = (double)i;
    }
    if (x < f->lo || x > f->hi || (f->lo_open && x == f->lo) || (f->hi_open && x == f->hi))
        return ynode_fail(e, ERR_RANGE, v, "%s: expected %s, found %.60s (out of range)", name,
                          f->expect, s);
    if (f->type == PF_INT) {
        int iv = (int)i;
        memcpy(base, &iv, sizeof iv);
    } else if (f->type == PF_LL) {
        memcpy(base, &i, sizeof i);
    } else {
        memcpy(base, &x, sizeof x);
    }
    return 0;
}

static int find_field(const char *section, const char *key)
{
    for (int i = 0; i < NFIELDS; i++) {
        bool same_sec = section ? (fields[i].section && strcmp(fields[i].section, section) == 0)
                                : fields[i].section == NULL;
        if (same_sec && strcmp(fields[i].key, key) == 0)
            return i;
    }
    return -1;
}

static int parse_section(struct pretrain_cfg *c, const char *sec, const struct ynode *m,
                         bool *given, struct err *e)
{
    if (!m || m->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, m, "%s: expected a mapping of settings, found %s", sec,
                          DESCRIBE(m));
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *k = m->keys[i];
        int f = find_field(sec, k->text);
        if (f < 0) {
            const char *valid[NFIELDS];
            int nv = 0;
            for (int j = 0; j < NFIELDS; j++)
                if (fields[j].section && strcmp(fields[j].section, sec) == 0)
                    valid[nv++] = fields[j].key;
            return unknown_key(e, k, sec, valid, nv);
        }
        if (set_field(c, &fields[f], m->items[i], e))
            return e->code;
        given[f] = true;
    }
    return 0;
}

static int parse_root(struct pretrain_cfg *c, const struct ynode *root, bool *given, struct err *e)
{
    if (root->kind != YNODE_MAP)
        return ynode_fail(e, ERR_CONFIG, root,
                          "expected a mapping of pretraining settings (name, seed, corpus, vocab, "
                          "model, train, mlm), found %s",
                          DESCRIBE(root));
    for (size_t i = 0; i < root->n; i++) {
        const struct ynode *k = root->keys[i];
        bool is_section = false;
        for (int s = 0; s < NSECTIONS && !is_section; s++)
            if (strcmp(k->text, sections[s]) == 0) {
                is_section = true;
                if (parse_section(c, sections[s], root->items[i], given, e))
                    return e->code;
            }
        if (is_section)
            continue;
        int f = find_field(NULL, k->text);
        if (f < 0) {
            const char *valid[] = {"name", "seed", "corpus", "vocab", "model", "train", "mlm"};
            return unknown_key(e, k, "the pretraining config", valid, 7);
        }
        if (set_field(c, &fields[f], root->items[i], e))
            return e->code;
        given[f] = true;
    }
    return 0;
}

/* Consistency of the whole config; where names the file. */
static int check_cfg(struct pretrain_cfg *c, const char *where, const bool *given, struct err *e)
{
    int fsrc = find_field("corpus", "source"), fpath = find_field("corpus", "path");
    bool is_file = strcmp(c->source, "file") == 0;
    if (!is_file && strcmp(c->source, "wordnet") != 0 && strcmp(c->source, "wordnet-train") != 0)
        return ERR_SET(e, ERR_CONFIG, "%s: corpus.source: expected %s, found '%s'", where,
                       fields[fsrc].expect, c->source);
    if (is_file && !given[fpath])
        return ERR_SET(e, ERR_CONFIG,
                       "%s: corpus.source is file but corpus.path is missing; give the text "
                       "file (one document per line)",
                       where);
    if (!is_file && given[fpath])
        return ERR_SET(e, ERR_CONFIG,
                       "%s: corpus.path is only used with corpus.source: file (source is %s)",
                       where, c->source);
    int act = act_from_name(c->hidden_act);
    if (act < 0 || act == ACT_IDENTITY)
        return ERR_SET(e, ERR_CONFIG, "%s: model.hidden_act: expected %s, found '%s'", where,
                       fields[find_field("model", "hidden_act")].expect, c->hidden_act);
    if (c->hidden % c->heads != 0)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: model.hidden (%d) must be a multiple of model.heads (%d)", where,
                       c->hidden, c->heads);
    if (c->max_seq_len > c->max_position)
        return ERR_SET(e, ERR_CONFIG, "%s: train.max_seq_len (%d) exceeds model.max_position (%d)",
                       where, c->max_seq_len, c->max_position);
    if (c->mask_token + c->random_token > 1.0)
        return ERR_SET(e, ERR_CONFIG,
                       "%s: mlm.mask_token + mlm.random_token must be <= 1 (got %g + %g)", where,
                       c->mask_token, c->random_token);
    return 0;
}

/* Escape '\\' and control characters so that every setting stays on one line. */
static void put_escaped(char **p, size_t *left, const char *s)
{
    for (; *s && *left > 5; s++) {
        unsigned char ch = (unsigned char)*s;
        int k = ch == '\\'  ? snprintf(*p, *left, "\\\\")
                : ch < 0x20 ? snprintf(*p, *left, "\\x%02x", ch)
                            : snprintf(*p, *left, "%c", ch);
        *p += k;
        *left -= (size_t)k;
    }
}

static int make_canonical(struct pretrain_cfg *c, struct err *e)
{
    size_t cap = 16384, left = cap;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the pretraining config");
    int k = snprintf(p, left, "%s\n", PRETRAIN_FORMAT);
    p += k, left -= (size_t)k;
    for (int i = 0; i < NFIELDS; i++) {
        const struct pf *f = &fields[i];
        if (!f->hashed)
            continue;
        char name[64];
        full_key(f, name, sizeof name);
        const char *base = (const char *)c + f->off;
        k = snprintf(p, left, "%s=", name);
        p += k, left -= (size_t)k;
        if (f->type == PF_STR) {
            put_escaped(&p, &left, base);
            k = 0;
        } else if (f->type == PF_BOOL) {
            bool b;
            memcpy(&b, base, sizeof b);
            k = snprintf(p, left, "%s", b ? "true" : "false");
        } else if (f->type == PF_INT) {
            int v;
            memcpy(&v, base, sizeof v);
            k = snprintf(p, left, "%d", v);
        } else if (f->type == PF_LL) {
            long long v;
            memcpy(&v, base, sizeof v);
            k = snprintf(p, left, "%lld", v);
        } else {
            double v;
            memcpy(&v, base, sizeof v);
            k = snprintf(p, left, "%.9g", v);
        }
        p += k, left -= (size_t)k;
        k = snprintf(p, left, "\n");
        p += k, left -= (size_t)k;
    }
    c->canonical = buf;
    sweep_hash_id(buf, c->key);
    return 0;
}

/* name defaults to the file name without directory and .yaml/.yml. */
static void default_name(char *name, size_t n, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len > 5 && strcmp(b + len - 5, ".yaml") == 0)
        len -= 5;
    else if (len > 4 && strcmp(b + len - 4, ".yml") == 0)
        len -= 4;
    snprintf(name, n, "%.*s", (int)len, b);
}

int pretrain_cfg_load(struct pretrain_cfg *c, const char *path, struct err *e)
{
    pretrain_cfg_default(c);
    struct ynode *root = NULL;
    bool given[NFIELDS] = {false};
    int rc = ynode_load_file(&root, path, true, e);
    if (!rc && root)
        rc = parse_root(c, root, given, e);
    ynode_free(root);
    if (!rc)
        rc = check_cfg(c, path, given, e);
    if (rc)
        return rc;
    if (!given[find_field(NULL, "name")])
        default_name(c->name, sizeof c->name, path);
    /* a relative corpus path is relative to the config file */
    if (strcmp(c->source, "file") == 0 && c->path[0] != '/') {
        const char *slash = strrchr(path, '/');
        char joined[PRETRAIN_PATH_MAX];
        if (slash && (size_t)snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - path), path,
                                      c->path) >= sizeof joined)
            return ERR_SET(e, ERR_LIMIT, "%s: corpus.path is too long", path);
        if (slash)
            memcpy(c->path_resolved, joined, strlen(joined) + 1);
        else
            snprintf(c->path_resolved, sizeof c->path_resolved, "%s", c->path);
    } else {
        snprintf(c->path_resolved, sizeof c->path_resolved, "%s", c->path);
    }
    size_t o = 0;
    for (int i = 0; i < NFIELDS; i++)
        if (!given[i] && fields[i].hashed && o < sizeof c->defaulted &&
            !(fields[i].type == PF_STR && ((const char *)c + fields[i].off)[0] == '\0')) {
            char name[64];
            full_key(&fields[i], name, sizeof name);
            o += (size_t)snprintf(c->defaulted + o, sizeof c->defaulted - o, "%s%s", o ? ", " : "",
                                  name);
        }
    return make_canonical(c, e);
}
