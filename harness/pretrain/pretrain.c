/*
 * pretrain: MLM pretraining of the built-in BERT and the model cache (contract in
 * pretrain.h).
 */
#include "harness/pretrain/pretrain.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/sweep/yaml.h"
#include "base/schema.h"
#include "model/arch/mlm.h"
#include "model/arch/model.h"
#include "model/engine/rng.h"
#include "model/io/safetensors.h"
#include "model/text/tokenizer.h"
#include "base/utf8.h"
#include "model/text/vocab_build.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "tasks/batching.h"
#include "tasks/wordnet.h"
#include "base/timer.h"
#include "harness/sweep/train.h"
#include "base/strfmt.h"

#define PRETRAIN_FORMAT           "peftbench-pretrain v1" /* bump when a build's result changes */
#define PRETRAIN_MAX_CORPUS_BYTES ((long long)4 << 30)
#define SALT_HELDOUT              0x48454c444f5554ull /* "HELDOUT" */
#define SALT_MASK                 0x4d41534bull       /* "MASK" */
#define SALT_EVAL                 0x4556414cull       /* "EVAL" */

/* ---- config schema --------------------------------------------------------------- */

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
        return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found %s", name, f->expect, DESCRIBE(v));
    const char *s = v->text;
    if (f->type == PF_STR) {
        if (v->len == 0 || v->len >= f->cap)
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s of 1 to %zu characters, found %s", name,
                         f->expect, f->cap - 1, DESCRIBE(v));
        memcpy(base, s, v->len + 1);
        return 0;
    }
    if (f->type == PF_BOOL) {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected true or false, found '%.60s'", name, s);
        bool b = s[0] == 't';
        memcpy(base, &b, sizeof b);
        return 0;
    }
    double x;
    long long i = 0;
    if (f->type == PF_REAL) {
        if (!yaml_scalar_real(s, &x))
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found '%.60s'", name, f->expect, s);
    } else {
        if (!yaml_scalar_ll(s, &i))
            return ynode_fail(e, ERR_CONFIG, v, "%s: expected %s, found '%.60s'", name, f->expect, s);
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

/* ---- corpus ------------------------------------------------------------------------ */

struct lines {
    char **v; /* owned (n) owned strings */
    size_t n, cap;
};

static void lines_free(struct lines *l)
{
    for (size_t i = 0; l->v && i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Append s (ownership taken; freed on failure). */
static int lines_push(struct lines *l, char *s, struct err *e)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 4096;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return 0;
}

/* WordNet text of the synsets in the tasks' train split only. */
static int corpus_wordnet_train(struct lines *l, const char *dir, struct err *e)
{
    struct wordnet wn;
    if (wn_load(&wn, dir, e))
        return e->code;
    int rc = 0;
    for (size_t i = 0; i < wn.n && !rc; i++) {
        const struct wn_synset *s = &wn.syn[i];
        if (wn_split_of(s->pos, s->offset) != WN_TRAIN)
            continue;
        if (s->def[0]) {
            char *d = strdup(s->def);
            rc = d ? lines_push(l, d, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
        }
        for (const char *p = s->examples; p && *p && !rc;) {
            const char *q = strchr(p, '\n');
            size_t m = q ? (size_t)(q - p) : strlen(p);
            char *x = strndup(p, m);
            rc = x ? lines_push(l, x, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
            p += m + (q ? 1 : 0);
        }
    }
    wn_free(&wn);
    return rc;
}

/* A text file, one document per line; empty (all-space) lines are skipped. */
static int corpus_file(struct lines *l, const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "corpus.path %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    long long total = 0;
    size_t lineno = 0;
    int rc = 0;
    while (!rc && (len = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        total += len;
        if (total > PRETRAIN_MAX_CORPUS_BYTES) {
            rc = ERR_SET(e, ERR_LIMIT, "%s: larger than %lld bytes", path,
                         PRETRAIN_MAX_CORPUS_BYTES);
            break;
        }
        if (memchr(buf, '\0', (size_t)len)) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: NUL byte in the line; the corpus must be text",
                         path, lineno);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        size_t bad;
        const char *why;
        if (utf8_check(buf, (size_t)len, &bad, &why) != 0) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte offset %zu (%s)", path,
                         lineno, bad, why);
            break;
        }
        bool blank = true;
        for (ssize_t i = 0; i < len && blank; i++)
            blank = buf[i] == ' ' || buf[i] == '\t';
        if (blank)
            continue;
        char *s = strdup(buf);
        rc = s ? lines_push(l, s, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
    }
    if (!rc && ferror(f))
        rc = ERR_SET(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
    free(buf);
    fclose(f);
    return rc;
}

static int corpus_load(const struct pretrain_cfg *c, struct lines *l, struct err *e)
{
    memset(l, 0, sizeof *l);
    const char *wdir = c->wordnet_dir[0] ? c->wordnet_dir : NULL;
    int rc;
    if (strcmp(c->source, "wordnet") == 0) {
        rc = wn_corpus(wdir, &l->v, &l->n, e);
        l->cap = l->n;
    } else if (strcmp(c->source, "wordnet-train") == 0) {
        rc = corpus_wordnet_train(l, wdir, e);
    } else {
        rc = corpus_file(l, c->path_resolved, e);
    }
    if (rc) {
        lines_free(l);
        return rc;
    }
    if (c->max_lines > 0 && l->n > (size_t)c->max_lines) {
        for (size_t i = (size_t)c->max_lines; i < l->n; i++)
            free(l->v[i]);
        l->n = (size_t)c->max_lines;
    }
    if (l->n == 0) {
        lines_free(l);
        return ERR_SET(e, ERR_CONFIG, "the %s corpus has no lines%s%s", c->source,
                       c->path[0] ? ": " : "", c->path_resolved);
    }
    return 0;
}

/* ---- the build ---------------------------------------------------------------------- */

struct pt {
    const struct pretrain_cfg *c;
    const struct pretrain_opts *o;
    struct mem_acct acct;
    char **vocab; /* owned (nvocab) tokens in vocab.txt order */
    int nvocab;
    struct vocab_build_stats vst;
    struct tokenizer *tok;
    struct tok_split train, held;
    size_t ncorpus, ntrain_lines, nheld_lines;
    bool have_model, have_head;
    struct model m;
    struct mlm_head head;
    unsigned char *special; /* (V) */
    struct mlm_mask_cfg mc;
    int *mids, *pos, *labels; /* (cells) masked ids, masked positions, their labels */
    size_t cells;
    double t0;
    double last_print;
};

static void say(struct pt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One log line (clears a progress line first on a terminal). */
static void say(struct pt *p, const char *fmt, ...)
{
    FILE *out = p->o->out;
    if (!out)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%spretrain %s: ", p->o->tty ? "\r\033[K" : "", p->c->name);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
    fflush(out);
}

static bool stopped(const struct pt *p)
{
    return p->o->stop && *p->o->stop;
}

static int interrupted(struct err *e)
{
    return ERR_SET(e, ERR_STATE, "interrupted: pretraining abandoned, nothing was written");
}

static double unit_of(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Held-out membership: a fixed hash of the line's text (not its position), so a line
 * is on the same side in every run and duplicates never straddle the split. */
static bool is_heldout(const char *s, double frac)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        h = (h ^ *q) * 0x100000001b3u;
    return unit_of(rng_hash(SALT_HELDOUT, h, 0)) < frac;
}

/* Encode lines as [CLS] line [SEP] (truncated to max_len) into ts; lines without a
 * single token are left out. */
static int tokenize_lines(struct tok_split *ts, const struct tokenizer *tok,
                          const char *const *lines, size_t n, int max_len, struct err *e)
{
    memset(ts, 0, sizeof *ts);
    ts->pad_id = tokenizer_pad_id(tok);
    size_t cap = 1 << 20;
    ts->ids = malloc(cap * sizeof *ts->ids);
    ts->start = malloc((n + 1) * sizeof *ts->start);
    if (!ts->ids || !ts->start)
        goto nomem;
    ts->start[0] = 0;
    for (size_t i = 0; i < n; i++) {
        struct encoding enc;
        if (tokenizer_encode(tok, lines[i], NULL, max_len, &enc, e)) {
            tok_split_free(ts);
            return err_prefix(e, "corpus line %zu", i + 1);
        }
        if (enc.len <= 2) { /* nothing but [CLS] [SEP] */
            encoding_free(&enc);
            continue;
        }
        if (ts->ntokens + (size_t)enc.len > cap) {
            cap *= 2;
            int *ni = realloc(ts->ids, cap * sizeof *ni);
            if (!ni) {
                encoding_free(&enc);
                goto nomem;
            }
            ts->ids = ni;
        }
        memcpy(ts->ids + ts->ntokens, enc.ids, (size_t)enc.len * sizeof *enc.ids);
        ts->ntokens += (size_t)enc.len;
        ts->ntruncated += enc.truncated;
        if (enc.len > ts->max_len)
            ts->max_len = enc.len;
        ts->start[++ts->n] = ts->ntokens;
        encoding_free(&enc);
    }
    ts->type_ids = calloc(ts->ntokens ? ts->ntokens : 1, sizeof *ts->type_ids);
    if (!ts->type_ids)
        goto nomem;
    return 0;
nomem:
    tok_split_free(ts);
    return ERR_SET(e, ERR_NOMEM, "out of memory tokenizing the corpus");
}

static int prepare_data(struct pt *p, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct lines corpus;
    double t = timer_now();
    if (corpus_load(c, &corpus, e))
        return e->code;
    p->ncorpus = corpus.n;
    const char **tr = malloc(corpus.n * sizeof *tr), **he = malloc(corpus.n * sizeof *he);
    int rc = (!tr || !he) ? ERR_SET(e, ERR_NOMEM, "out of memory for the corpus") : 0;
    size_t ntr = 0, nhe = 0;
    for (size_t i = 0; !rc && i < corpus.n; i++) {
        if (is_heldout(corpus.v[i], c->heldout_fraction))
            he[nhe++] = corpus.v[i];
        else
            tr[ntr++] = corpus.v[i];
    }
    if (nhe > (size_t)c->heldout_max_lines)
        nhe = (size_t)c->heldout_max_lines;
    p->ntrain_lines = ntr;
    p->nheld_lines = nhe;
    if (!rc && ntr == 0)
        rc = ERR_SET(e, ERR_CONFIG, "no training lines left after the held-out split");
    if (!rc)
        say(p, "corpus %s: %zu lines (%zu train, %zu held out) in %.1fs", c->source, corpus.n, ntr,
            nhe, timer_now() - t);
    struct vocab_build_opts vo;
    vocab_build_opts_default(&vo);
    vo.vocab_size = c->vocab_size;
    vo.min_frequency = c->min_frequency;
    vo.limit_alphabet = c->limit_alphabet;
    vo.tok.lowercase = vo.tok.strip_accents = c->lowercase;
    t = timer_now();
    if (!rc && !stopped(p))
        rc = vocab_build(&p->vocab, &p->nvocab, tr, ntr, &vo, &p->vst, e);
    if (!rc && !stopped(p)) {
        say(p,
            "vocabulary: %d tokens (alphabet %d characters, %d merges) from %zu words "
            "(%zu distinct) in %.1fs",
            p->nvocab, p->vst.alphabet, p->vst.merges, p->vst.words, p->vst.unique_words,
            timer_now() - t);
        rc = tokenizer_from_tokens(&p->tok, (const char *const *)p->vocab, p->nvocab, &vo.tok, e);
    }
    t = timer_now();
    if (!rc && !stopped(p))
        rc = tokenize_lines(&p->train, p->tok, tr, ntr, c->max_seq_len, e);
    if (!rc && !stopped(p))
        rc = tokenize_lines(&p->held, p->tok, he, nhe, c->max_seq_len, e);
    if (!rc && !stopped(p))
        say(p, "tokenized: %zu train sequences, %zu tokens (%zu truncated to %d) in %.1fs",
            p->train.n, p->train.ntokens, p->train.ntruncated, c->max_seq_len, timer_now() - t);
    if (!rc && stopped(p))
        rc = interrupted(e);
    if (!rc && p->train.n == 0)
        rc = ERR_SET(e, ERR_CONFIG, "the training corpus has no tokens");
    free(tr);
    free(he);
    lines_free(&corpus);
    return rc;
}

static void model_config(const struct pt *p, struct bert_config *bc)
{
    const struct pretrain_cfg *c = p->c;
    hfconfig_default(bc);
    bc->vocab_size = p->nvocab;
    bc->hidden_size = c->hidden;
    bc->num_hidden_layers = c->layers;
    bc->num_attention_heads = c->heads;
    bc->intermediate_size = c->ffn;
    bc->max_position_embeddings = c->max_position;
    bc->type_vocab_size = 2;
    bc->pad_token_id = tokenizer_pad_id(p->tok);
    bc->hidden_dropout_prob = (float)c->dropout;
    bc->attention_probs_dropout_prob = (float)c->attention_dropout;
    bc->initializer_range = (float)c->initializer_range;
    snprintf(bc->hidden_act, sizeof bc->hidden_act, "%s", c->hidden_act);
    snprintf(bc->architectures0, sizeof bc->architectures0, "BertForMaskedLM");
}

static int prepare_model(struct pt *p, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct bert_config bc;
    model_config(p, &bc);
    if (hfconfig_validate(&bc, NULL, e) || model_create(&p->m, &bc, 2, &p->acct, e))
        return e->code;
    p->have_model = true;
    model_init_weights(&p->m, (uint64_t)c->seed);
    /* the whole encoder trains; the pooler and classifier are not part of MLM */
    if (model_set_backbone_trainable(&p->m, true, e) || model_set_head_trainable(&p->m, false, e) ||
        param_set_trainable(&p->m.ps, p->m.pool_w, false, e) ||
        param_set_trainable(&p->m.ps, p->m.pool_b, false, e))
        return e->code;
    if (c->train_dropout >= 0.0) /* pretraining's own dropout; config.json keeps model.* */
        p->m.enc.hidden_drop = p->m.enc.attn_drop = (float)c->train_dropout;
    if (mlm_head_create(&p->head, &p->m.enc, &p->acct, e))
        return e->code;
    p->have_head = true;
    mlm_head_init(&p->head, (float)c->initializer_range, (uint64_t)c->seed);
    const int V = p->nvocab;
    p->special = calloc((size_t)V, 1);
    if (!p->special)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < V; i++) /* [PAD] [UNK] [CLS] [SEP] [MASK] */
        p->special[i] = p->vocab[i][0] == '[' && i < VOCAB_NSPECIAL;
    p->mc.prob = (float)c->mask_prob;
    p->mc.mask_frac = (float)c->mask_token;
    p->mc.random_frac = (float)c->random_token;
    p->mc.mask_id = tokenizer_mask_id(p->tok);
    p->mc.V = V;
    p->mc.special = p->special;
    int maxlen = p->train.max_len > p->held.max_len ? p->train.max_len : p->held.max_len;
    int bmax = c->batch_size > c->eval_batch_size ? c->batch_size : c->eval_batch_size;
    p->cells = (size_t)bmax * (size_t)(maxlen > 0 ? maxlen : 1);
    p->mids = malloc(p->cells * sizeof *p->mids);
    p->pos = malloc(p->cells * sizeof *p->pos);
    p->labels = malloc(p->cells * sizeof *p->labels);
    if (!p->mids || !p->pos || !p->labels)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the masking buffers");
    return 0;
}

/* Forward (and with train, backward) of one batch; its MLM statistics into *r and those
 * of the optional [CLS] bag-of-words loss into *rb (rb->M = 0 when off). */
static int mlm_batch(struct pt *p, const struct batch *bt, bool train, uint64_t mask_seed,
                     uint64_t stream, long step, struct mlm_result *r, struct mlm_result *rb,
                     struct err *e)
{
    const int N = bt->B * bt->T, D = p->m.enc.D;
    memset(rb, 0, sizeof *rb);
    int M = mlm_mask(p->mids, p->pos, p->labels, bt->ids, bt->mask, N, &p->mc, mask_seed, stream);
    if (M == 0) { /* a batch of only special tokens: nothing to predict */
        memset(r, 0, sizeof *r);
        return 0;
    }
    struct batch bm = *bt;
    bm.ids = p->mids;
    struct encoder *enc = &p->m.enc;
    if (encoder_begin_step(enc, &bm, train, (uint64_t)p->c->seed, (uint64_t)step, e) ||
        encoder_forward(enc, &bm, e))
        return e->code;
    float *dh = NULL;
    if (train && !(dh = arena_floats(&enc->arena, (size_t)N * (size_t)D)))
        return ERR_SET(e, ERR_NOMEM, "out of memory for the hidden-state gradient");
    if (train) {
        param_store_zero_grads(&p->m.ps);
        param_store_zero_grads(&p->head.ps);
    }
    if (mlm_head_step(&p->head, enc, p->pos, p->labels, M, dh, r, e))
        return e->code;
    const float wb = (float)p->c->cls_bow_weight;
    if (wb > 0.0f && mlm_head_bow_step(&p->head, enc, bt->ids, bt->mask, p->special, wb, dh, rb, e))
        return e->code;
    return train ? encoder_backward(enc, dh, e) : 0;
}

/* Held-out MLM loss and accuracy with fixed masks (the same for every evaluation), and
 * the bag-of-words loss when it is on (else NaN). */
static int evaluate(struct pt *p, double *loss, double *acc, double *bow, long long *masked,
                    struct err *e)
{
    *loss = *acc = *bow = (double)NAN;
    *masked = 0;
    if (p->held.n == 0)
        return 0;
    struct batcher b;
    if (batcher_init(&b, &p->held, p->c->eval_batch_size, false, 0, e))
        return e->code;
    double sum = 0.0, bsum = 0.0;
    long long correct = 0, M = 0, bM = 0;
    int rc = 0;
    for (size_t k = 0; k < batcher_count(&b) && !rc; k++) {
        struct batch bt;
        struct mlm_result r, rb;
        rc = batcher_get(&b, k, &bt, NULL, NULL, e);
        if (!rc)
            rc = mlm_batch(p, &bt, false, (uint64_t)p->c->seed ^ SALT_EVAL, (uint64_t)k, 0, &r, &rb,
                           e);
        if (!rc) {
            sum += r.loss * r.M;
            correct += r.correct;
            M += r.M;
            bsum += rb.loss * rb.M;
            bM += rb.M;
        }
    }
    batcher_free(&b);
    if (!rc && M > 0) {
        *loss = sum / (double)M;
        *acc = (double)correct / (double)M;
        *masked = M;
    }
    if (!rc && bM > 0)
        *bow = bsum / (double)bM;
    return rc;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 90)
        snprintf(buf, n, "%.0fs", s);
    else
        snprintf(buf, n, "%.1fm", s / 60);
}

static void progress(struct pt *p, long step, long total, double loss, double acc, double bow,
                     double lr, double tps, double el)
{
    FILE *out = p->o->out;
    if (!out)
        return;
    double now = timer_now();
    bool last = step == total;
    if (p->o->tty ? (now - p->last_print < 0.25 && !last)
                  : (step % (total / 10 > 0 ? total / 10 : 1) != 0 && !last))
        return;
    p->last_print = now;
    char eta[16], bows[32] = "";
    fmt_eta(eta, sizeof eta, el / (double)step * (double)(total - step));
    if (p->c->cls_bow_weight > 0.0)
        snprintf(bows, sizeof bows, " bow %.3f", bow);
    fprintf(out,
            "%spretrain %s: step %ld/%ld | mlm loss %.4f acc %.3f%s | lr %.2e | %.0f tok/s | "
            "ETA %s%s",
            p->o->tty ? "\r\033[K" : "", p->c->name, step, total, loss, acc, bows, lr, tps, eta,
            p->o->tty ? "" : "\n");
    fflush(out);
}

/* CPU seconds of the process (all threads): on a shared machine the wall time says
 * how busy the machine was, this says what the build cost. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int train_loop(struct pt *p, struct pretrain_stats *st, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct batcher b;
    if (batcher_init(&b, &p->train, c->batch_size, true, BATCH_BUCKET_DEFAULT, e))
        return e->code;
    struct adamw_cfg ac;
    adamw_default(&ac);
    ac.beta1 = (float)c->adam_beta1;
    ac.beta2 = (float)c->adam_beta2;
    ac.eps = (float)c->adam_eps;
    ac.weight_decay = (float)c->weight_decay;
    const long total = c->steps, warmup = (long)ceil(c->warmup_ratio * (double)total);
    const long tail = total / 20 > 0 ? total / 20 : 1;
    const size_t nb = batcher_count(&b);
    size_t k = nb;
    int epoch = 0, rc = 0;
    double t0 = timer_now(), c0 = cpu_now(), tail_sum = 0.0, tail_bow = 0.0;
    double ema = (double)NAN, ema_acc = 0.0, ema_bow = (double)NAN;
    long long tokens = 0;
    for (long step = 1; step <= total && !rc; step++) {
        if (stopped(p)) {
            rc = interrupted(e);
            break;
        }
        if (k == nb) {
            batcher_epoch(&b, (uint64_t)c->seed, epoch++);
            k = 0;
        }
        struct batch bt;
        size_t real = 0;
        struct mlm_result r, rb;
        rc = batcher_get(&b, k++, &bt, NULL, &real, e);
        if (!rc)
            rc = mlm_batch(p, &bt, true, (uint64_t)c->seed ^ SALT_MASK, (uint64_t)step, step, &r,
                           &rb, e);
        if (rc || r.M == 0)
            continue;
        double n1 = param_store_grad_norm(&p->m.ps), n2 = param_store_grad_norm(&p->head.ps);
        double gnorm = sqrt(n1 * n1 + n2 * n2);
        if (!isfinite(r.loss) || !isfinite(rb.loss) || !isfinite(gnorm)) {
            rc = ERR_SET(e, ERR_NUMERIC,
                         "pretraining diverged at step %ld (MLM loss %g, gradient norm %g); "
                         "lower train.lr or raise train.warmup_ratio",
                         step, r.loss, gnorm);
            break;
        }
        if (c->grad_clip > 0.0 && gnorm > c->grad_clip) {
            param_store_scale_grads(&p->m.ps, (float)(c->grad_clip / gnorm));
            param_store_scale_grads(&p->head.ps, (float)(c->grad_clip / gnorm));
        }
        double lr = train_lr_at(c->lr, step, total, warmup);
        ac.lr = (float)lr;
        adamw_step(&p->m.ps, &ac, step);
        adamw_step(&p->head.ps, &ac, step);
        tokens += (long long)real;
        st->masked_seen += r.M;
        st->steps = step;
        double acc = (double)r.correct / r.M;
        ema = isnan(ema) ? r.loss : 0.98 * ema + 0.02 * r.loss;
        ema_acc = step == 1 ? acc : 0.98 * ema_acc + 0.02 * acc;
        ema_bow = isnan(ema_bow) ? rb.loss : 0.98 * ema_bow + 0.02 * rb.loss;
        if (step > total - tail) {
            tail_sum += r.loss;
            tail_bow += rb.loss;
        }
        double el = timer_now() - t0;
        progress(p, step, total, ema, ema_acc, ema_bow, lr, el > 0 ? (double)tokens / el : 0.0, el);
    }
    batcher_free(&b);
    st->tokens_seen = tokens;
    st->train_seconds = timer_now() - t0;
    st->train_cpu_seconds = cpu_now() - c0;
    st->final_train_loss = tail_sum / (double)(total < tail ? total : tail);
    st->final_train_bow_loss =
        c->cls_bow_weight > 0.0 ? tail_bow / (double)(total < tail ? total : tail) : (double)NAN;
    return rc;
}

/* ---- output ------------------------------------------------------------------------- */

static int write_tensors(const struct pt *p, const char *path, struct err *e)
{
    size_t n = p->m.ps.n + p->head.ps.n;
    struct st_write_tensor *t = calloc(n, sizeof *t);
    char(*names)[PARAM_NAME_MAX + 8] = calloc(n, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return ERR_SET(e, ERR_NOMEM, "out of memory saving %s", path);
    }
    size_t k = 0;
    for (int s = 0; s < 2; s++) {
        const struct param_store *ps = s == 0 ? &p->m.ps : &p->head.ps;
        for (size_t i = 0; i < ps->n; i++) {
            const struct param *q = ps->items[i];
            if (s == 0 && q->group != PGROUP_BACKBONE)
                continue; /* the unused classification head */
            /* BertForMaskedLM layout: the encoder under "bert.", the head as cls.* */
            snprintf(names[k], sizeof names[k], "%s%s", s == 0 ? "bert." : "", q->name);
            t[k].name = names[k];
            t[k].ndim = q->ndim;
            for (int d = 0; d < q->ndim; d++)
                t[k].shape[d] = q->shape[d];
            t[k].data = q->data;
            k++;
        }
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, t, k, meta, 1, e);
    free(names);
    free(t);
    return rc;
}

static cJSON *stats_json(const struct pt *p, const struct pretrain_stats *st)
{
    const struct pretrain_cfg *c = p->c;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "config_hash", c->key);
    cJSON_AddStringToObject(j, "config", c->canonical);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(j, "steps", (double)st->steps);
    cJSON_AddNumberToObject(j, "tokens_seen", (double)st->tokens_seen);
    cJSON_AddNumberToObject(j, "masked_tokens_seen", (double)st->masked_seen);
    cJSON_AddNumberToObject(j, "final_train_mlm_loss", st->final_train_loss);
    if (c->cls_bow_weight > 0.0)
        cJSON_AddNumberToObject(j, "final_train_bow_loss", st->final_train_bow_loss);
    cJSON *h = cJSON_AddObjectToObject(j, "heldout");
    cJSON_AddNumberToObject(h, "lines", (double)p->held.n);
    cJSON_AddNumberToObject(h, "masked_tokens", (double)st->heldout_masked);
    if (st->heldout_masked > 0) {
        cJSON_AddNumberToObject(h, "mlm_loss", st->heldout_loss);
        cJSON_AddNumberToObject(h, "mlm_accuracy", st->heldout_acc);
        cJSON_AddNumberToObject(h, "initial_mlm_loss", st->initial_heldout_loss);
        cJSON_AddNumberToObject(h, "initial_mlm_accuracy", st->initial_heldout_acc);
    }
    if (isfinite(st->heldout_bow) && isfinite(st->initial_heldout_bow)) {
        cJSON_AddNumberToObject(h, "bow_loss", st->heldout_bow);
        cJSON_AddNumberToObject(h, "initial_bow_loss", st->initial_heldout_bow);
    }
    cJSON *cp = cJSON_AddObjectToObject(j, "corpus");
    cJSON_AddStringToObject(cp, "source", c->source);
    cJSON_AddNumberToObject(cp, "lines", (double)p->ncorpus);
    cJSON_AddNumberToObject(cp, "train_lines", (double)p->ntrain_lines);
    cJSON_AddNumberToObject(cp, "train_sequences", (double)p->train.n);
    cJSON_AddNumberToObject(cp, "train_tokens", (double)p->train.ntokens);
    cJSON_AddNumberToObject(
        cp, "epochs", p->train.ntokens ? (double)st->tokens_seen / (double)p->train.ntokens : 0.0);
    cJSON *v = cJSON_AddObjectToObject(j, "vocab");
    cJSON_AddNumberToObject(v, "size", p->nvocab);
    cJSON_AddNumberToObject(v, "alphabet", p->vst.alphabet);
    cJSON_AddNumberToObject(v, "merges", p->vst.merges);
    cJSON_AddNumberToObject(v, "words", (double)p->vst.words);
    cJSON_AddNumberToObject(v, "distinct_words", (double)p->vst.unique_words);
    cJSON *m = cJSON_AddObjectToObject(j, "model");
    cJSON_AddNumberToObject(m, "layers", c->layers);
    cJSON_AddNumberToObject(m, "hidden", c->hidden);
    cJSON_AddNumberToObject(m, "heads", c->heads);
    cJSON_AddNumberToObject(m, "ffn", c->ffn);
    cJSON_AddNumberToObject(m, "encoder_parameters",
                            (double)param_store_trainable(&p->m.ps, PGROUP_COUNT));
    cJSON_AddNumberToObject(m, "mlm_head_parameters", (double)param_store_numel(&p->head.ps));
    cJSON_AddNumberToObject(j, "train_seconds", st->train_seconds);
    cJSON_AddNumberToObject(j, "tokens_per_second",
                            st->train_seconds > 0 ? (double)st->tokens_seen / st->train_seconds
                                                  : 0.0);
    cJSON_AddNumberToObject(j, "train_cpu_seconds", st->train_cpu_seconds);
    cJSON_AddNumberToObject(j, "wall_seconds", st->wall_seconds);
    cJSON_AddItemToObject(j, "environment", results_environment());
    return j;
}

static int write_dir(const struct pt *p, const char *dir, const struct pretrain_stats *st,
                     struct err *e)
{
    char path[PRETRAIN_PATH_MAX + 128];
    struct bert_config bc = p->m.cfg;
    snprintf(bc.architectures0, sizeof bc.architectures0, "BertForMaskedLM");
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (hfconfig_write(&bc, path, e))
        return e->code;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (vocab_write(path, (const char *const *)p->vocab, p->nvocab, e))
        return e->code;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (write_tensors(p, path, e))
        return e->code;
    cJSON *j = stats_json(p, st);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", PRETRAIN_STATS);
    /* written last: its presence (with the right hash) marks a complete directory */
    snprintf(path, sizeof path, "%s/%s", dir, PRETRAIN_STATS);
    int rc = results_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

/* rm -r path (does not follow symlinks).  Best effort; 0 when path is gone. */
static int remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char sub[PRETRAIN_PATH_MAX + 300];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        return rmdir(path);
    }
    return unlink(path);
}

static void fsync_parent(const char *path)
{
    char dir[PRETRAIN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Move the complete tmp directory to dir.  An older dir is first renamed aside and
 * removed after, so at every moment dir is either the old complete build, absent
 * (between the two renames), or the new complete build. */
static int publish(const char *tmp, const char *dir, struct err *e)
{
    char old[PRETRAIN_PATH_MAX + 64];
    snprintf(old, sizeof old, "%s.old-%ld", dir, (long)getpid());
    struct stat sb;
    bool had = stat(dir, &sb) == 0;
    if (had && rename(dir, old) != 0)
        return ERR_SET(e, ERR_IO, "cannot move the old %s aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int err = errno;
        if (had)
            rename(old, dir);
        return ERR_SET(e, ERR_IO, "cannot rename %s to %s: %s", tmp, dir, strerror(err));
    }
    fsync_parent(dir);
    if (had)
        remove_tree(old);
    return 0;
}

static void pt_free(struct pt *p)
{
    free(p->labels);
    free(p->pos);
    free(p->mids);
    free(p->special);
    if (p->have_head)
        mlm_head_destroy(&p->head);
    if (p->have_model)
        model_destroy(&p->m);
    tok_split_free(&p->held);
    tok_split_free(&p->train);
    tokenizer_free(p->tok);
    vocab_tokens_free(p->vocab, p->nvocab);
}

int pretrain_build(const struct pretrain_cfg *cfg, const char *dir, const struct pretrain_opts *o,
                   struct pretrain_stats *st, struct err *e)
{
    memset(st, 0, sizeof *st);
    struct pt p;
    memset(&p, 0, sizeof p);
    p.c = cfg;
    p.o = o;
    p.t0 = timer_now();
    mem_acct_init(&p.acct);
    char tmp[PRETRAIN_PATH_MAX + 64];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid()) >= sizeof tmp)
        return ERR_SET(e, ERR_LIMIT, "model directory path too long: %s", dir);
    int rc = prepare_data(&p, e);
    if (!rc)
        rc = prepare_model(&p, e);
    if (!rc) {
        size_t n = param_store_trainable(&p.m.ps, PGROUP_COUNT);
        say(&p,
            "model L=%d D=%d H=%d F=%d V=%d: %zu encoder + %zu MLM-head parameters; %d "
            "steps of %d sequences, %d thread%s",
            cfg->layers, cfg->hidden, cfg->heads, cfg->ffn, p.nvocab, n,
            param_store_numel(&p.head.ps), cfg->steps, cfg->batch_size, omp_get_max_threads(),
            omp_get_max_threads() > 1 ? "s" : "");
        rc = evaluate(&p, &st->initial_heldout_loss, &st->initial_heldout_acc,
                      &st->initial_heldout_bow, &st->heldout_masked, e);
    }
    if (!rc)
        rc = train_loop(&p, st, e);
    if (!rc)
        rc = evaluate(&p, &st->heldout_loss, &st->heldout_acc, &st->heldout_bow,
                      &st->heldout_masked, e);
    st->train_lines = p.ntrain_lines;
    st->heldout_lines = p.held.n;
    st->vocab_size = p.nvocab;
    if (!rc && stopped(&p))
        rc = interrupted(e);
    if (!rc) {
        st->wall_seconds = timer_now() - p.t0;
        remove_tree(tmp);
        if (mkdir(tmp, 0777) != 0)
            rc = ERR_SET(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        if (!rc)
            rc = write_dir(&p, tmp, st, e);
        if (!rc)
            rc = publish(tmp, dir, e);
        if (rc)
            remove_tree(tmp);
    }
    if (!rc && cfg->cls_bow_weight > 0.0)
        say(&p, "held-out [CLS] bag-of-words loss %.4f (initial %.4f)", st->heldout_bow,
            st->initial_heldout_bow);
    if (!rc)
        say(&p,
            "held-out MLM loss %.4f (initial %.4f), accuracy %.3f (initial %.3f); "
            "final train loss %.4f; %lld tokens in %.1fs (%.1fs CPU training); wrote %s",
            st->heldout_loss, st->initial_heldout_loss, st->heldout_acc, st->initial_heldout_acc,
            st->final_train_loss, st->tokens_seen, st->wall_seconds, st->train_cpu_seconds, dir);
    else if (o->out && o->tty)
        fputc('\n', o->out);
    pt_free(&p);
    return rc;
}

/* ---- the cache ------------------------------------------------------------------------ */

bool pretrain_is_current(const char *dir, const char *key)
{
    char path[PRETRAIN_PATH_MAX + 64];
    const char *files[] = {"config.json", "model.safetensors", "vocab.txt"};
    struct stat sb;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return false;
    }
    snprintf(path, sizeof path, "%s/%s", dir, PRETRAIN_STATS);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    const size_t cap = (size_t)1 << 20; /* a stats file is a few KiB */
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf)
        return false;
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "config_hash");
    bool ok = cJSON_IsString(h) && strcmp(h->valuestring, key) == 0;
    cJSON_Delete(j);
    return ok;
}

/* Leftovers of builds that died (SIGKILL, power loss): DIR.tmp-* and DIR.old-*.
 * Called with the lock held, so no live build owns them. */
static void remove_leftovers(const char *dir)
{
    char parent[PRETRAIN_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t bl = strlen(base);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl) != 0 || (strncmp(de->d_name + bl, ".tmp-", 5) != 0 &&
                                                   strncmp(de->d_name + bl, ".old-", 5) != 0))
            continue;
        char sub[PRETRAIN_PATH_MAX + 300];
        snprintf(sub, sizeof sub, "%s/%s", parent, de->d_name);
        remove_tree(sub);
    }
    closedir(d);
}

/* Exclusive flock on DIR.lock (created; never removed: removing a lock file races). */
static int lock_dir(const char *dir, FILE *out, int *fd, struct err *e)
{
    char path[PRETRAIN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT, 0666);
    if (*fd < 0)
        return ERR_SET(e, ERR_IO, "cannot open the lock file %s: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (out) {
        fprintf(out, "peftbench: another process is building %s; waiting for it\n", dir);
        fflush(out);
    }
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int err = errno;
        close(*fd);
        *fd = -1;
        return ERR_SET(e, ERR_IO, "cannot lock %s: %s", path, strerror(err));
    }
    return 0;
}

static void unlock_dir(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

static int make_parent(const char *dir, struct err *e)
{
    char parent[PRETRAIN_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash || slash == parent)
        return 0;
    *slash = '\0';
    return results_mkdirs(parent, e);
}

/* Reuse or build under the lock; force rebuilds a current directory too. */
static int ensure_cfg(const struct pretrain_cfg *c, const char *dir, const struct pretrain_opts *o,
                      bool force, bool *built, struct err *e)
{
    *built = false;
    if (!force && pretrain_is_current(dir, c->key))
        return 0;
    int fd = -1;
    if (make_parent(dir, e) || lock_dir(dir, o->out, &fd, e))
        return e->code;
    int rc = 0;
    if (force || !pretrain_is_current(dir, c->key)) { /* another process may have built it */
        remove_leftovers(dir);
        struct stat sb;
        bool stale = stat(dir, &sb) == 0;
        if (o->out) {
            fprintf(o->out, "%speftbench: building %s (%s) from its pretraining config, key %s\n",
                    o->tty ? "\r\033[K" : "", dir,
                    force   ? "--force"
                    : stale ? "its config changed"
                            : "not built yet",
                    c->key);
            if (c->defaulted[0])
                fprintf(o->out, "pretrain %s: defaults used for %s\n", c->name, c->defaulted);
            fflush(o->out);
        }
        struct pretrain_stats st;
        rc = pretrain_build(c, dir, o, &st, e);
        *built = rc == 0;
    }
    unlock_dir(fd);
    return rc;
}

int pretrain_ensure(const char *config_path, const char *dir, const struct pretrain_opts *o,
                    bool *built, struct err *e)
{
    struct pretrain_cfg c;
    *built = false;
    if (pretrain_cfg_load(&c, config_path, e))
        return e->code;
    int rc = ensure_cfg(&c, dir, o, false, built, e);
    pretrain_cfg_free(&c);
    return rc;
}

/* ---- signals ------------------------------------------------------------------------- */

static volatile sig_atomic_t pt_stop;

static void pt_on_signal(int sig)
{
    pt_stop = sig;
}

struct saved_signals {
    struct sigaction intr, term;
};

static void signals_install(struct saved_signals *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pt_on_signal;
    sigemptyset(&sa.sa_mask);
    pt_stop = 0;
    sigaction(SIGINT, &sa, &s->intr);
    sigaction(SIGTERM, &sa, &s->term);
}

static void signals_restore(const struct saved_signals *s)
{
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGTERM, &s->term, NULL);
}

int pretrain_builtin(const char *name, char *dir, size_t n, FILE *out, struct err *e)
{
    size_t len = strlen(name);
    bool ok = len > 0 && len < PRETRAIN_NAME_MAX && name[0] != '.';
    for (size_t i = 0; i < len && ok; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || strchr("-_.", name[i]);
    if (!ok)
        return ERR_SET(e, ERR_CONFIG,
                       "builtin:%.60s: a built-in model name is letters, digits, '-', '_' and "
                       "'.' (it names %s/NAME.yaml)",
                       name, PRETRAIN_CONFIG_DIR);
    char cfg[PRETRAIN_PATH_MAX];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", PRETRAIN_CONFIG_DIR, name);
    if ((size_t)snprintf(dir, n, "%s/%s", PRETRAIN_MODEL_DIR, name) >= n)
        return ERR_SET(e, ERR_LIMIT, "model directory path too long");
    struct stat sb;
    if (stat(cfg, &sb) != 0) {
        char list[512] = "";
        size_t o = 0;
        DIR *d = opendir(PRETRAIN_CONFIG_DIR);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0 && o < sizeof list)
                o = str_appendf(list, sizeof list, o, "%s%.*s", o ? ", " : "",
                                      (int)(l - 5), de->d_name);
        }
        if (d)
            closedir(d);
        return ERR_SET(e, ERR_CONFIG,
                       "builtin:%s: no pretraining config %s (%s; run peftbench from the "
                       "repository root); built-in models: %s",
                       name, cfg, strerror(errno), o ? list : "none");
    }
    struct saved_signals ss;
    signals_install(&ss);
    struct pretrain_opts o = {out, out && isatty(fileno(out)), &pt_stop};
    bool built;
    int rc = pretrain_ensure(cfg, dir, &o, &built, e);
    signals_restore(&ss);
    if (rc && pt_stop) {
        /* Ctrl-C during the build: nothing was written.  End the way the signal would
         * have ended the command (status 128 + signal), after saying so. */
        int sig = (int)pt_stop;
        if (out)
            fprintf(out, "peftbench: %s\n", e->msg);
        fflush(NULL);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

static const char pretrain_usage[] =
    "usage: peftbench pretrain CONFIG.yaml [--out DIR] [--threads N] [--force] [--quiet]\n"
    "  builds a BERT by masked-language-model pretraining into DIR (default\n"
    "  " PRETRAIN_MODEL_DIR "/<name>); an up-to-date DIR is reused unless --force\n";

int pretrain_main(int argc, char **argv, FILE *out, FILE *errf)
{
    const char *path = NULL, *dir_opt = NULL;
    bool force = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--out") == 0 && v) {
            dir_opt = v, i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || end == v || t < 1 || t > 256) {
                fprintf(errf,
                        "peftbench pretrain: --threads expects an integer in [1, 256], "
                        "got '%s'\n",
                        v);
                return 2;
            }
            omp_set_num_threads((int)t);
            i++;
        } else if (strcmp(a, "--force") == 0) {
            force = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            fprintf(errf, "peftbench pretrain: unexpected argument '%s'\n%s", a, pretrain_usage);
            return 2;
        }
    }
    if (!path) {
        fprintf(errf, "%s", pretrain_usage);
        return 2;
    }
    struct err e;
    err_clear(&e);
    struct pretrain_cfg c;
    if (pretrain_cfg_load(&c, path, &e)) {
        fprintf(errf, "peftbench pretrain: %s\n", e.msg);
        return 1;
    }
    char dir[PRETRAIN_PATH_MAX];
    if (dir_opt)
        snprintf(dir, sizeof dir, "%s", dir_opt);
    else
        snprintf(dir, sizeof dir, "%s/%s", PRETRAIN_MODEL_DIR, c.name);
    while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
        dir[strlen(dir) - 1] = '\0';
    struct saved_signals ss;
    signals_install(&ss);
    FILE *o_out = quiet ? NULL : out;
    struct pretrain_opts o = {o_out, o_out && isatty(fileno(o_out)), &pt_stop};
    bool built = false;
    int rc = ensure_cfg(&c, dir, &o, force, &built, &e);
    signals_restore(&ss);
    int status = 0;
    if (rc && pt_stop) {
        fprintf(errf, "peftbench pretrain: interrupted by signal %d; %s was not written\n",
                (int)pt_stop, dir);
        status = 128 + (int)pt_stop;
    } else if (rc) {
        fprintf(errf, "peftbench pretrain: %s\n", e.msg);
        status = 1;
    } else if (!built && !quiet) {
        fprintf(out, "peftbench pretrain: %s is up to date (config key %s); --force rebuilds\n",
                dir, c.key);
    }
    pretrain_cfg_free(&c);
    return status;
}
