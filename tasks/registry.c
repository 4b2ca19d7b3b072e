/*
 * registry: the static task table, task_load / task_score / task_print and the
 * split helpers shared by the loaders.  Contract in task.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/loaders.h"
#include "base/schema.h"
#include "model/engine/rng.h"
#include "base/strfmt.h"
#include "tasks/task.h"
#include "tasks/wordnet.h"

static const char *const lab_cola[] = {"unacceptable", "acceptable"};
static const char *const lab_sst2[] = {"negative", "positive"};
static const char *const lab_mrpc[] = {"not_equivalent", "equivalent"};
static const char *const lab_qqp[] = {"not_duplicate", "duplicate"};
static const char *const lab_mnli[] = {"entailment", "neutral", "contradiction"};
static const char *const lab_nli2[] = {"entailment", "not_entailment"};
/* WNLI's files use 0/1 with 1 = entailment (HF datasets order) */
static const char *const lab_wnli[] = {"not_entailment", "entailment"};
static const char *const lab_pos[] = {"n", "v", "a", "r"};
static const char *const lab_hyper[] = {"not_hypernym", "hypernym"};
static const char *const lab_match[] = {"different", "match"};

#define BIN   METRICS_CLASS_BINARY
#define MULTI METRICS_CLASS_MULTI
#define ACCF1 (METRICS_CLASS_BINARY | METRIC_BIT(METRIC_ACC_F1))
#define NL(a) (int)(sizeof a / sizeof *a)

static const struct task_def task_table[] = {
    {"cola", "CoLA: grammatical acceptability of a sentence", "glue", TASK_SINGLE, lab_cola,
     NL(lab_cola), BIN, METRIC_MCC, "CoLA", glue_load, glue_sizes},
    {"sst2", "SST-2: sentiment of a movie-review sentence", "glue", TASK_SINGLE, lab_sst2,
     NL(lab_sst2), BIN, METRIC_ACCURACY, "SST-2", glue_load, glue_sizes},
    {"mrpc", "MRPC: are two news sentences paraphrases", "glue", TASK_PAIR, lab_mrpc, NL(lab_mrpc),
     ACCF1, METRIC_ACC_F1, "MRPC", glue_load, glue_sizes},
    {"qqp", "QQP: are two Quora questions duplicates", "glue", TASK_PAIR, lab_qqp, NL(lab_qqp),
     ACCF1, METRIC_ACC_F1, "QQP", glue_load, glue_sizes},
    {"stsb", "STS-B: semantic similarity of a sentence pair, 0-5", "glue", TASK_REGRESSION, NULL, 1,
     METRICS_REGRESSION, METRIC_PEARSON_SPEARMAN, "STS-B", glue_load, glue_sizes},
    {"mnli", "MNLI: entailment / neutral / contradiction (dev: matched; dev_mm: mismatched)",
     "glue", TASK_PAIR, lab_mnli, NL(lab_mnli), MULTI, METRIC_ACCURACY, "MNLI", glue_load,
     glue_sizes},
    {"qnli", "QNLI: does the sentence answer the question", "glue", TASK_PAIR, lab_nli2,
     NL(lab_nli2), MULTI, METRIC_ACCURACY, "QNLI", glue_load, glue_sizes},
    {"rte", "RTE: textual entailment", "glue", TASK_PAIR, lab_nli2, NL(lab_nli2), MULTI,
     METRIC_ACCURACY, "RTE", glue_load, glue_sizes},
    {"wnli", "WNLI: Winograd entailment", "glue", TASK_PAIR, lab_wnli, NL(lab_wnli), MULTI,
     METRIC_ACCURACY, "WNLI", glue_load, glue_sizes},
    {"wn-supersense", "WordNet: definition -> lexicographer file (supersense)", "wordnet",
     TASK_SINGLE, wn_lexnames, WN_NLEXFILES, MULTI, METRIC_ACCURACY, NULL, wn_task_load, NULL},
    {"wn-pos", "WordNet: definition -> part of speech", "wordnet", TASK_SINGLE, lab_pos,
     NL(lab_pos), MULTI, METRIC_ACCURACY, NULL, wn_task_load, NULL},
    {"wn-hypernym", "WordNet: is the second definition a direct hypernym of the first", "wordnet",
     TASK_PAIR, lab_hyper, NL(lab_hyper), BIN, METRIC_ACCURACY, NULL, wn_task_load, NULL},
    {"syn-sentiment", "synthetic: sentiment with negation scope and distractors", "synthetic",
     TASK_SINGLE, lab_sst2, NL(lab_sst2), BIN, METRIC_ACCURACY, NULL, syn_load, NULL},
    {"syn-match", "synthetic: is b a paraphrase (synonyms, swaps) of a", "synthetic", TASK_PAIR,
     lab_match, NL(lab_match), BIN, METRIC_ACCURACY, NULL, syn_load, NULL},
    {"file", "a TSV/CSV/JSONL task declared by the caller (columns, labels, metric)", "file",
     TASK_SINGLE, NULL, 0, MULTI, METRIC_ACCURACY, NULL, filetask_load, NULL},
};

#define TASK_N (int)(sizeof task_table / sizeof *task_table)

const char *task_kind_name(int kind)
{
    switch (kind) {
    case TASK_SINGLE:
        return "single";
    case TASK_PAIR:
        return "pair";
    case TASK_REGRESSION:
        return "regression";
    default:
        return "?";
    }
}

void task_params_init(struct task_params *p)
{
    memset(p, 0, sizeof *p);
    p->file.header = true;
    p->file.format = -1;
    p->syn = (struct syn_knobs){
        .min_len = 6,
        .max_len = 12,
        .max_sentiment = 3,
        .negation_prob = 0.3f,
        .negation_gap = 0,
        .distractor_rate = 0.1f,
        .synonym_rate = 0.3f,
        .swap_rate = 0.15f,
        .hard_negative_rate = 0.5f,
    };
}

int task_count(void)
{
    return TASK_N;
}

const struct task_def *task_at(int i)
{
    return i >= 0 && i < TASK_N ? &task_table[i] : NULL;
}

const struct task_def *task_find(const char *name)
{
    for (int i = 0; name && i < TASK_N; i++)
        if (strcmp(task_table[i].name, name) == 0)
            return &task_table[i];
    return NULL;
}

const struct task_def *task_lookup(const char *name, const char *where, struct err *e)
{
    const struct task_def *d = task_find(name);
    if (d)
        return d;
    const char *names[TASK_N];
    char list[512];
    for (int i = 0; i < TASK_N; i++)
        names[i] = task_table[i].name;
    str_join(list, sizeof list, names, TASK_N);
    const char *guess = name ? hp_guess(name, names, TASK_N) : NULL;
    ERR_SET(e, ERR_CONFIG, "%s%sunknown task '%s'%s%s%s; valid: %s", where ? where : "",
            where ? ": " : "", name ? name : "(none)", guess ? " (did you mean '" : "",
            guess ? guess : "", guess ? "'?)" : "", list);
    return NULL;
}

/* ------------------------------------------------------------------ splits */

int split_push(struct split *s, const char *a, const char *b, int label, float target, uint64_t id,
               struct err *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct example *ex = realloc(s->ex, cap * sizeof *ex);
        if (!ex)
            return ERR_SET(e, ERR_NOMEM, "out of memory after %zu examples", s->n);
        s->ex = ex;
        s->cap = cap;
    }
    struct example *x = &s->ex[s->n];
    x->a = strdup(a ? a : "");
    x->b = b ? strdup(b) : NULL;
    if (!x->a || (b && !x->b)) {
        free(x->a);
        free(x->b);
        return ERR_SET(e, ERR_NOMEM, "out of memory after %zu examples", s->n);
    }
    x->label = label;
    x->target = target;
    x->id = id;
    s->n++;
    s->total = s->n;
    return ERR_OK;
}

void split_free(struct split *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->ex[i].a);
        free(s->ex[i].b);
    }
    free(s->ex);
    memset(s, 0, sizeof *s);
}

int split_subsample(struct split *s, size_t max, uint64_t seed, uint64_t stream, struct err *e)
{
    s->total = s->n;
    if (max == 0 || s->n <= max)
        return ERR_OK;
    /* Choose which to keep with a partial Fisher-Yates over indices, then keep
     * the chosen ones in their original order. */
    size_t *idx = malloc(s->n * sizeof *idx);
    unsigned char *keep = calloc(s->n, 1);
    if (!idx || !keep) {
        free(idx);
        free(keep);
        return ERR_SET(e, ERR_NOMEM, "out of memory subsampling %zu examples", s->n);
    }
    for (size_t i = 0; i < s->n; i++)
        idx[i] = i;
    struct rng r;
    rng_seed(&r, rng_hash(seed, stream, 0x53554253 /* "SUBS" */));
    for (size_t i = 0; i < max; i++) {
        size_t j = i + (size_t)rng_below(&r, s->n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        keep[idx[i]] = 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (keep[i]) {
            s->ex[k++] = s->ex[i];
        } else {
            free(s->ex[i].a);
            free(s->ex[i].b);
        }
    }
    s->n = k;
    free(idx);
    free(keep);
    return ERR_OK;
}

/* ------------------------------------------------------------------ load */

void task_data_free(struct task_data *t)
{
    if (!t)
        return;
    split_free(&t->train);
    split_free(&t->dev);
    split_free(&t->test);
    split_free(&t->dev_mm);
    if (t->label_names)
        for (int i = 0; i < t->nlabels; i++)
            free(t->label_names[i]);
    free(t->label_names);
    memset(t, 0, sizeof *t);
}

int task_load(struct task_data *out, const struct task_def *def, const struct task_params *p,
              struct err *e)
{
    memset(out, 0, sizeof *out);
    if (!def || !p)
        return ERR_SET(e, ERR_CONFIG, "task_load: no task or parameters given");
    snprintf(out->name, sizeof out->name, "%s", def->name);
    out->kind = def->kind;
    out->nlabels = def->kind == TASK_REGRESSION ? 1 : def->nlabels;
    out->metrics = def->metrics;
    out->primary = def->primary;
    if (def->labels) {
        out->label_names = calloc((size_t)def->nlabels, sizeof *out->label_names);
        if (!out->label_names)
            return ERR_SET(e, ERR_NOMEM, "task %s: out of memory", def->name);
        for (int i = 0; i < def->nlabels; i++)
            if (!(out->label_names[i] = strdup(def->labels[i]))) {
                task_data_free(out);
                return ERR_SET(e, ERR_NOMEM, "task %s: out of memory", def->name);
            }
    }
    int rc = def->load(def, p, out, e);
    out->pair = out->kind == TASK_PAIR || (out->train.n > 0 && out->train.ex[0].b);
    if (!rc) {
        struct {
            struct split *s;
            size_t max;
        } sub[] = {{&out->train, p->max_train},
                   {&out->dev, p->max_dev},
                   {&out->test, p->max_test},
                   {&out->dev_mm, p->max_dev}};
        for (size_t i = 0; !rc && i < sizeof sub / sizeof *sub; i++)
            rc = split_subsample(sub[i].s, sub[i].max, p->seed, i + 1, e);
    }
    if (rc) {
        task_data_free(out);
        return rc;
    }
    return ERR_OK;
}

int task_label_index(const struct task_data *t, const char *text)
{
    if (!text || t->kind == TASK_REGRESSION)
        return -1;
    for (int i = 0; t->label_names && i < t->nlabels; i++)
        if (strcmp(t->label_names[i], text) == 0)
            return i;
    char *end;
    long v = strtol(text, &end, 10);
    if (end != text && *end == '\0' && text[0] >= '0' && text[0] <= '9' && v >= 0 && v < t->nlabels)
        return (int)v;
    return -1;
}

int task_score(const struct task_data *t, const struct split *s, const int *pred,
               const float *pred_f, struct metric_result *out, struct err *e)
{
    if (!s->labeled) {
        memset(out, 0, sizeof *out);
        return ERR_SET(e, ERR_CONFIG, "task %s: this split has no labels and cannot be scored",
                       t->name);
    }
    bool reg = t->kind == TASK_REGRESSION;
    int *gold = NULL;
    float *gold_f = NULL;
    if (reg)
        gold_f = malloc((s->n ? s->n : 1) * sizeof *gold_f);
    else
        gold = malloc((s->n ? s->n : 1) * sizeof *gold);
    if (!gold && !gold_f)
        return ERR_SET(e, ERR_NOMEM, "task %s: out of memory", t->name);
    for (size_t i = 0; i < s->n; i++) {
        if (reg)
            gold_f[i] = s->ex[i].target;
        else
            gold[i] = s->ex[i].label;
    }
    int rc = metrics_compute(out, t->metrics, t->primary, reg ? NULL : pred, gold,
                             reg ? pred_f : NULL, gold_f, s->n, e);
    if (rc)
        err_prefix(e, "task %s", t->name);
    free(gold);
    free(gold_f);
    return rc;
}

/* ------------------------------------------------------------------ listing */

static void print_metrics(FILE *out, unsigned mask, int primary)
{
    bool first = true;
    for (int m = 0; m < METRIC_COUNT; m++) {
        if (!(mask & METRIC_BIT(m)))
            continue;
        fprintf(out, "%s%s%s", first ? "" : ", ", metric_name(m), m == primary ? "*" : "");
        first = false;
    }
}

static void print_labels(FILE *out, const struct task_def *d)
{
    if (d->kind == TASK_REGRESSION) {
        fputs("real value", out);
        return;
    }
    if (!d->labels) {
        fputs("from the file", out);
        return;
    }
    int show = d->nlabels <= 6 ? d->nlabels : 4;
    if (d->nlabels > 6)
        fprintf(out, "%d: ", d->nlabels);
    for (int i = 0; i < show; i++)
        fprintf(out, "%s%s", i ? ", " : "", d->labels[i]);
    if (show < d->nlabels)
        fputs(", ...", out);
}

void task_print_one(FILE *out, const struct task_def *d, const struct task_params *p)
{
    fprintf(out, "%-14s %-10s %s\n", d->name, task_kind_name(d->kind), d->summary);
    fputs("    labels: ", out);
    print_labels(out, d);
    fputs("; metrics: ", out);
    print_metrics(out, d->metrics, d->primary);
    fputs(" (* primary)\n", out);
    if (strcmp(d->name, "file") == 0 && !p->file.train) {
        fputs("    [declare path, columns and labels in the sweep file]\n", out);
        return;
    }
    size_t n[4] = {0};
    struct err e = {0};
    int rc;
    if (d->sizes) {
        rc = d->sizes(d, p, n, &e);
    } else {
        struct task_data t;
        rc = task_load(&t, d, p, &e);
        if (!rc) {
            n[0] = t.train.n;
            n[1] = t.dev.n;
            n[2] = t.test.n;
            n[3] = t.dev_mm.n;
            task_data_free(&t);
        }
    }
    if (rc) {
        fprintf(out, "    [data not available: %s]\n", e.msg);
        return;
    }
    fprintf(out, "    train %zu, dev %zu, test %zu", n[0], n[1], n[2]);
    if (n[3])
        fprintf(out, ", dev_mismatched %zu", n[3]);
    fputc('\n', out);
}

void task_print(FILE *out, const struct task_params *p)
{
    struct task_params dflt;
    if (!p) {
        task_params_init(&dflt);
        p = &dflt;
    }
    for (int i = 0; i < TASK_N; i++)
        task_print_one(out, &task_table[i], p);
}
