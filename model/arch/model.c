#include "model/arch/model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/engine/matmul_dnnl.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "model/io/safetensors.h"
#include "model/text/tokenizer.h"
#include "base/fileio.h"
#include "base/readfile.h"

/* ---- creation ----------------------------------------------------------- */

static struct param *head_param(struct model *m, const char *name, int d0, int d1,
                                enum param_kind kind, enum param_group g, struct err *e)
{
    int shape[2] = {d0, d1};
    return param_add(&m->ps, name, d1 > 0 ? 2 : 1, shape, kind, g, e);
}

static int create_head(struct model *m, struct err *e)
{
    const int D = m->enc.D, C = m->C;
    if (m->head == HEAD_BERT) {
        if (!(m->pool_w = head_param(m, "pooler.dense.weight", D, D, PARAM_WEIGHT,
                                     PGROUP_BACKBONE, e)) ||
            !(m->pool_b = head_param(m, "pooler.dense.bias", D, 0, PARAM_BIAS, PGROUP_BACKBONE,
                                     e)) ||
            !(m->cls_w = head_param(m, "classifier.weight", C, D, PARAM_WEIGHT, PGROUP_HEAD, e)) ||
            !(m->cls_b = head_param(m, "classifier.bias", C, 0, PARAM_BIAS, PGROUP_HEAD, e)))
            return e->code;
    } else {
        if (!(m->cls_w = head_param(m, "classifier.dense.weight", D, D, PARAM_WEIGHT,
                                    PGROUP_HEAD, e)) ||
            !(m->cls_b = head_param(m, "classifier.dense.bias", D, 0, PARAM_BIAS, PGROUP_HEAD,
                                    e)) ||
            !(m->out_w = head_param(m, "classifier.out_proj.weight", C, D, PARAM_WEIGHT,
                                    PGROUP_HEAD, e)) ||
            !(m->out_b = head_param(m, "classifier.out_proj.bias", C, 0, PARAM_BIAS, PGROUP_HEAD,
                                    e)))
            return e->code;
    }
    return model_set_head_trainable(m, true, e);
}

int model_create(struct model *m, const struct bert_config *cfg, int num_labels,
                 struct mem_acct *acct, struct err *e)
{
    memset(m, 0, sizeof *m);
    m->acct = acct;
    m->cfg = *cfg;
    m->cfg.id2label = NULL; /* the model does not keep label names */
    m->C = num_labels > 0 ? num_labels : (cfg->num_labels > 0 ? cfg->num_labels : 2);
    m->head = strcmp(cfg->arch, "roberta") == 0 ? HEAD_ROBERTA : HEAD_BERT;
    m->head_drop = cfg->classifier_dropout >= 0.0f ? cfg->classifier_dropout : cfg->hidden_dropout_prob;
    m->cfg.num_labels = m->C;
    param_store_init(&m->ps, acct);
    if (encoder_create(&m->enc, &m->cfg, &m->ps, acct, e) || create_head(m, e)) {
        model_destroy(m);
        return e->code;
    }
    return ERR_OK;
}

void model_destroy(struct model *m)
{
    if (!m)
        return;
    encoder_destroy(&m->enc);
    if (m->mm) { /* the bf16 backend model/arch/precision.c created; its scratch is in m->acct */
        matmul_dnnl_destroy(m->mm->dnnl);
        free(m->mm);
        m->mm = NULL;
    }
    param_store_destroy(&m->ps);
}

static void fill_normal(struct param *p, struct rng *r, float std)
{
    if (p)
        for (size_t i = 0; i < p->numel; i++)
            p->data[i] = rng_normal(r) * std;
}

static void fill_zero(struct param *p)
{
    if (p)
        memset(p->data, 0, p->numel * sizeof(float));
}

static void init_head(struct model *m, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed ^ 0x4ead);
    float std = m->cfg.initializer_range;
    fill_normal(m->cls_w, &r, std);
    fill_zero(m->cls_b);
    fill_normal(m->out_w, &r, std);
    fill_zero(m->out_b);
}

void model_init_weights(struct model *m, uint64_t seed)
{
    encoder_init_weights(&m->enc, seed);
    struct rng r;
    rng_seed(&r, seed ^ 0x9001);
    fill_normal(m->pool_w, &r, m->cfg.initializer_range);
    fill_zero(m->pool_b);
    init_head(m, seed);
}

int model_set_backbone_trainable(struct model *m, bool on, struct err *e)
{
    for (size_t i = 0; i < m->ps.n; i++)
        if (m->ps.items[i]->group == PGROUP_BACKBONE &&
            param_set_trainable(&m->ps, m->ps.items[i], on, e))
            return e->code;
    return ERR_OK;
}

int model_set_head_trainable(struct model *m, bool on, struct err *e)
{
    for (size_t i = 0; i < m->ps.n; i++)
        if (m->ps.items[i]->group == PGROUP_HEAD &&
            param_set_trainable(&m->ps, m->ps.items[i], on, e))
            return e->code;
    return ERR_OK;
}

/* ---- forward / backward -------------------------------------------------- */


static uint64_t head_stream(const struct model *m, int tag)
{
    return rng_stream(m->enc.ctx.stream, 0x4ead0000u + (uint64_t)tag);
}

int model_forward(struct model *m, const struct batch *b, bool train, uint64_t seed,
                  uint64_t step, float **logits, struct err *e)
{
    /* Both heads read only each sequence's first token: the last layer computes nothing else
     * (all_rows forces the full layer, for benchmarks). */
    if (encoder_begin_step(&m->enc, b, train, seed, step, e) ||
        (m->all_rows ? encoder_forward(&m->enc, b, e) : encoder_forward_cls(&m->enc, b, e)))
        return e->code;
    struct arena *a = &m->enc.arena;
    const int B = b->B, D = m->enc.D, C = m->C;
    const float p = train ? m->head_drop : 0.0f;
    m->cls_in = arena_floats(a, (size_t)B * D);
    m->pre = arena_floats(a, (size_t)B * D);
    m->act = arena_floats(a, (size_t)B * D);
    m->act_drop = arena_floats(a, (size_t)B * D);
    m->cls_drop = arena_floats(a, (size_t)B * D);
    m->logits = arena_floats(a, (size_t)B * C);
    if (!m->cls_in || !m->pre || !m->act || !m->act_drop || !m->cls_drop || !m->logits)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the head");
    for (int i = 0; i < B; i++)
        memcpy(m->cls_in + (size_t)i * D, m->enc.hidden + encoder_first_row(&m->enc, i) * D,
               D * sizeof(float));
    if (m->head == HEAD_BERT) {
        op_linear_fwd(m->pre, m->cls_in, m->pool_w->data, m->pool_b->data, B, D, D);
        op_act_fwd(ACT_TANH, m->act, m->pre, (size_t)B * D);
        op_dropout_fwd(m->act_drop, m->act, (size_t)B * D, p, seed, head_stream(m, 1));
        op_linear_fwd(m->logits, m->act_drop, m->cls_w->data, m->cls_b->data, B, D, C);
    } else {
        op_dropout_fwd(m->cls_drop, m->cls_in, (size_t)B * D, p, seed, head_stream(m, 2));
        op_linear_fwd(m->pre, m->cls_drop, m->cls_w->data, m->cls_b->data, B, D, D);
        op_act_fwd(ACT_TANH, m->act, m->pre, (size_t)B * D);
        op_dropout_fwd(m->act_drop, m->act, (size_t)B * D, p, seed, head_stream(m, 1));
        op_linear_fwd(m->logits, m->act_drop, m->out_w->data, m->out_b->data, B, D, C);
    }
    if (logits)
        *logits = m->logits;
    return ERR_OK;
}

static float *head_bwd(struct model *m, const float *dlogits, struct err *e)
{
    struct arena *a = &m->enc.arena;
    const struct hook_ctx *c = &m->enc.ctx;
    const int B = c->B, D = m->enc.D, C = m->C;
    const float p = c->train ? m->head_drop : 0.0f;
    const bool need_x = encoder_needs_backward(&m->enc);
    float *d1 = arena_floats(a, (size_t)B * D), *d2 = arena_floats(a, (size_t)B * D);
    float *dcls = need_x ? arena_floats(a, (size_t)B * D) : NULL;
    if (!d1 || !d2 || (need_x && !dcls)) {
        ERR_SET(e, ERR_NOMEM, "out of memory for the head gradient");
        return NULL;
    }
    struct param *lw = m->head == HEAD_BERT ? m->cls_w : m->out_w;
    struct param *lb = m->head == HEAD_BERT ? m->cls_b : m->out_b;
    struct param *dw = m->head == HEAD_BERT ? m->pool_w : m->cls_w;
    struct param *db = m->head == HEAD_BERT ? m->pool_b : m->cls_b;
    bool need_pre = need_x || dw->trainable || db->trainable;
    op_linear_bwd(need_pre ? d1 : NULL, lw->grad, lb->grad, dlogits, m->act_drop, lw->data, B, D,
                  C, false);
    if (!need_pre)
        return d2; /* nothing below the last Linear needs a gradient */
    op_dropout_bwd(d1, d1, (size_t)B * D, p, c->seed, head_stream(m, 1));
    op_act_bwd(ACT_TANH, d1, d1, m->pre, (size_t)B * D);
    const float *xin = m->head == HEAD_BERT ? m->cls_in : m->cls_drop;
    op_linear_bwd(dcls, dw->grad, db->grad, d1, xin, dw->data, B, D, D, false);
    if (dcls && m->head == HEAD_ROBERTA)
        op_dropout_bwd(dcls, dcls, (size_t)B * D, p, c->seed, head_stream(m, 2));
    return dcls ? dcls : d2;
}

int model_backward(struct model *m, const float *dlogits, struct err *e)
{
    float *dcls = head_bwd(m, dlogits, e);
    if (!dcls)
        return e->code;
    if (!encoder_needs_backward(&m->enc))
        return ERR_OK;
    const struct hook_ctx *c = &m->enc.ctx;
    const int B = c->B, D = m->enc.D;
    float *dh = arena_zeros(&m->enc.arena, (size_t)m->enc.hidden_rows * D);
    if (!dh)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the hidden-state gradient");
    for (int i = 0; i < B; i++)
        memcpy(dh + encoder_first_row(&m->enc, i) * D, dcls + (size_t)i * D, D * sizeof(float));
    return encoder_backward(&m->enc, dh, e);
}

int model_loss_backward(struct model *m, const struct batch *b, bool backward, double *loss,
                        struct err *e)
{
    const int B = b->B, C = m->C;
    float *dlogits = backward ? arena_floats(&m->enc.arena, (size_t)B * C) : NULL;
    if (backward && !dlogits)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the loss gradient");
    if (C == 1) {
        if (!b->targets)
            return ERR_SET(e, ERR_STATE, "regression head but the batch has no targets");
        *loss = op_mse(dlogits, m->logits, b->targets, B);
    } else {
        if (!b->labels)
            return ERR_SET(e, ERR_STATE, "classification head but the batch has no labels");
        for (int i = 0; i < B; i++)
            if (b->labels[i] < 0 || b->labels[i] >= C)
                return ERR_SET(e, ERR_RANGE, "label %d of example %d outside [0, %d)",
                               b->labels[i], i, C);
        *loss = op_softmax_xent(dlogits, m->logits, b->labels, B, C);
    }
    return backward ? model_backward(m, dlogits, e) : ERR_OK;
}

/* ---- Hugging Face directories -------------------------------------------- */

/* Map a checkpoint tensor name to ours: strip "bert."/"roberta.", rename the
 * legacy LayerNorm gamma/beta.  Returns false for tensors we never load (MLM
 * heads, position_ids buffers). */
static bool map_name(const char *in, char *out, size_t n)
{
    const char *prefixes[] = {"bert.", "roberta."};
    for (size_t i = 0; i < 2; i++)
        if (strncmp(in, prefixes[i], strlen(prefixes[i])) == 0)
            in += strlen(prefixes[i]);
    if (strncmp(in, "cls.", 4) == 0 || strncmp(in, "lm_head.", 8) == 0)
        return false;
    size_t len = strlen(in);
    if (len >= 12 && strcmp(in + len - 12, "position_ids") == 0)
        return false;
    if (len + 8 >= n)
        return false;
    memcpy(out, in, len + 1);
    const char *legacy[][2] = {{"LayerNorm.gamma", "LayerNorm.weight"},
                               {"LayerNorm.beta", "LayerNorm.bias"}};
    for (size_t i = 0; i < 2; i++) {
        size_t ll = strlen(legacy[i][0]);
        if (len >= ll && strcmp(out + len - ll, legacy[i][0]) == 0)
            strcpy(out + len - ll, legacy[i][1]);
    }
    return true;
}

static bool want_tensor(const char *name, void *ctx)
{
    const struct model *m = ctx;
    char mapped[PARAM_NAME_MAX + 16];
    return map_name(name, mapped, sizeof mapped) && param_find(&m->ps, mapped) != NULL;
}

static int copy_tensor(struct param *p, const struct st_tensor *t, const char *file,
                       struct err *e)
{
    bool same = t->ndim == p->ndim;
    for (int i = 0; same && i < p->ndim; i++)
        same = t->shape[i] == p->shape[i];
    if (!same) {
        char want[64], got[64];
        int o = snprintf(want, sizeof want, "[");
        for (int i = 0; i < p->ndim; i++)
            o += snprintf(want + o, sizeof want - (size_t)o, "%s%d", i ? ", " : "", p->shape[i]);
        snprintf(want + o, sizeof want - (size_t)o, "]");
        o = snprintf(got, sizeof got, "[");
        for (int i = 0; i < t->ndim && o < (int)sizeof got - 24; i++)
            o += snprintf(got + o, sizeof got - (size_t)o, "%s%lld", i ? ", " : "",
                          (long long)t->shape[i]);
        snprintf(got + o, sizeof got - (size_t)o, "]");
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' has shape %s, the config needs %s", file,
                       t->name, got, want);
    }
    memcpy(p->data, t->data, p->numel * sizeof(float));
    return ERR_OK;
}

/* Copy every wanted tensor; returns the number of tensors of ours that were filled. */
static int fill_from_file(struct model *m, const struct st_file *f, const char *file,
                          bool *filled, struct err *e)
{
    for (size_t i = 0; i < f->n; i++) {
        char mapped[PARAM_NAME_MAX + 16];
        if (!map_name(f->tensors[i].name, mapped, sizeof mapped))
            continue;
        struct param *p = param_find(&m->ps, mapped);
        if (!p)
            continue;
        size_t idx = 0;
        while (m->ps.items[idx] != p)
            idx++;
        if (filled[idx])
            return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' appears twice (as '%s')", file,
                           mapped, f->tensors[i].name);
        if (copy_tensor(p, &f->tensors[i], file, e))
            return e->code;
        filled[idx] = true;
    }
    return ERR_OK;
}

static int check_missing(struct model *m, const bool *filled, const char *file, uint64_t seed,
                         struct err *e)
{
    bool head_missing = false;
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        if (filled[i])
            continue;
        if (p->group == PGROUP_HEAD) {
            head_missing = true;
            continue;
        }
        return ERR_SET(e, ERR_FORMAT, "%s: tensor '%s' is missing (config.json asks for it)", file,
                       p->name);
    }
    if (head_missing) {
        init_head(m, seed);
        snprintf(m->load_note, sizeof m->load_note,
                 "classification head (%d labels) newly initialised", m->C);
    }
    return ERR_OK;
}

/* Append printf output to the NUL-terminated buf of capacity n; a cut text ends in "...". */
static void append(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t n, const char *fmt, ...)
{
    size_t o = strlen(buf);
    if (o + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + o, n - o, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k >= n - o && n >= 4)
        memcpy(buf + n - 4, "...", 4);
}

void model_note_nonfinite(struct model *m, const char *file, const bool *loaded)
{
    char *w = m->load_warning;
    const size_t n = sizeof m->load_warning;
    bool first_of_file = true;
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        size_t at = 0, k = loaded[i] ? param_count_nonfinite(p, &at) : 0;
        if (k == 0)
            continue;
        if (first_of_file)
            append(w, n, "%s%s: ", w[0] ? "; " : "", file);
        else
            append(w, n, "; ");
        first_of_file = false;
        float v = p->data[at];
        const char *kind = isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
        append(w, n, "%s: %zu non-finite value%s (first at index %zu: %s)", p->name, k,
               k == 1 ? "" : "s", at, kind);
        m->load_nonfinite++;
    }
}

int model_check_finite(const struct model *m, struct err *e)
{
    if (m->load_nonfinite == 0)
        return ERR_OK;
    return ERR_SET(e, ERR_NUMERIC, "non-finite weights in %zu tensor%s: %s", m->load_nonfinite,
                   m->load_nonfinite == 1 ? "" : "s", m->load_warning);
}

static int path_join(char *out, size_t n, const char *dir, const char *file, struct err *e)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, file) >= n)
        return ERR_SET(e, ERR_LIMIT, "path too long: %s/%s", dir, file);
    return ERR_OK;
}

int model_check_vocab(const struct bert_config *cfg, const char *dir, struct err *e)
{
    char txt[4096], json[4096], cfg_path[4096];
    if (path_join(txt, sizeof txt, dir, "vocab.txt", e) ||
        path_join(json, sizeof json, dir, "vocab.json", e) ||
        path_join(cfg_path, sizeof cfg_path, dir, "config.json", e))
        return e->code;
    bool has_txt = access(txt, F_OK) == 0, has_json = access(json, F_OK) == 0;
    if (!has_txt && !has_json)
        return ERR_OK; /* weights only: the caller brings its own tokenizer */
    struct tokenizer *tok = NULL;
    if (tokenizer_load_dir(&tok, dir, e))
        return e->code;
    int V = tokenizer_vocab_size(tok);
    tokenizer_free(tok);
    if (V <= cfg->vocab_size)
        return ERR_OK; /* fewer is fine: checkpoints often pad the table */
    return ERR_SET(e, ERR_CONFIG,
                   "%s: a vocabulary of %d token ids (0..%d), more than the vocab_size %d of %s: "
                   "ids %d..%d would index past the word embedding table (the tokenizer of "
                   "another model?)",
                   has_txt ? txt : json, V, V - 1, cfg->vocab_size, cfg_path, cfg->vocab_size,
                   V - 1);
}

int model_load_dir(struct model *m, const char *dir, int num_labels, uint64_t seed,
                   struct mem_acct *acct, struct err *e)
{
    char cfg_path[4096], st_path[4096];
    if (path_join(cfg_path, sizeof cfg_path, dir, "config.json", e) ||
        path_join(st_path, sizeof st_path, dir, "model.safetensors", e))
        return e->code;
    struct bert_config cfg;
    if (hfconfig_read(&cfg, cfg_path, e))
        return e->code;
    int rc = model_check_vocab(&cfg, dir, e);
    if (rc) {
        hfconfig_free(&cfg);
        return rc;
    }
    rc = model_create(m, &cfg, num_labels, acct, e);
    hfconfig_free(&cfg);
    if (rc)
        return rc;
    struct st_file f;
    bool *filled = calloc(m->ps.n, sizeof *filled);
    if (!filled) {
        model_destroy(m);
        return ERR_SET(e, ERR_NOMEM, "out of memory loading %s", st_path);
    }
    rc = st_read(&f, st_path, want_tensor, m, e);
    if (rc == ERR_OK) {
        rc = fill_from_file(m, &f, st_path, filled, e);
        if (rc == ERR_OK)
            rc = check_missing(m, filled, st_path, seed, e);
        if (rc == ERR_OK)
            model_note_nonfinite(m, st_path, filled);
        st_free(&f);
    }
    free(filled);
    if (rc)
        model_destroy(m);
    return rc;
}

static int copy_file(const char *src, const char *dst, struct err *e)
{
    FILE *in;
    if (readfile_fopen(src, &in, e))
        return e->code;
    struct fileio_atomic a;
    int rc = fileio_atomic_open(&a, dst, e);
    char buf[65536];
    size_t k;
    while (!rc && (k = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fileio_atomic_write(&a, buf, k, e);
    if (!rc && ferror(in))
        rc = ERR_SET(e, ERR_IO, "cannot read %s: %s", src, strerror(errno));
    fclose(in);
    if (rc) {
        if (a.fd >= 0)
            fileio_atomic_abort(&a);
        return rc;
    }
    return fileio_atomic_commit(&a, e);
}

int model_save_dir(const struct model *m, const char *dir, bool with_head, const char *vocab_src,
                   struct err *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ERR_SET(e, ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    char path[4096];
    struct bert_config cfg = m->cfg;
    cfg.num_labels = m->C;
    if (path_join(path, sizeof path, dir, "config.json", e) || hfconfig_write(&cfg, path, e))
        return e->code;
    struct st_write_tensor *t = calloc(m->ps.n, sizeof *t);
    if (!t)
        return ERR_SET(e, ERR_NOMEM, "out of memory saving %s", dir);
    size_t n = 0;
    for (size_t i = 0; i < m->ps.n; i++) {
        const struct param *p = m->ps.items[i];
        if (p->group == PGROUP_METHOD || (p->group == PGROUP_HEAD && !with_head))
            continue;
        t[n].name = p->name;
        t[n].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            t[n].shape[d] = p->shape[d];
        t[n].data = p->data;
        n++;
    }
    const char *meta[] = {"format", "pt"};
    int rc = path_join(path, sizeof path, dir, "model.safetensors", e);
    if (rc == ERR_OK)
        rc = st_write(path, t, n, meta, 1, e);
    free(t);
    if (rc == ERR_OK && vocab_src) {
        rc = path_join(path, sizeof path, dir, "vocab.txt", e);
        if (rc == ERR_OK)
            rc = copy_file(vocab_src, path, e);
    }
    return rc;
}
