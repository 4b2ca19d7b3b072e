/*
 * task: the task registry and the loaded data of one task.
 *
 * A task is a name, a kind (single text, text pair, regression), a label set,
 * its metrics and a loader.  registry.c holds the static table (`task_at`,
 * `task_find`, `task_lookup`); the loaders live in glue.c (GLUE TSVs),
 * filetask.c (caller-declared TSV/CSV/JSONL files), wordnet.c (tasks built from
 * the WordNet database) and synthetic.c (generated from a seed).
 *
 * task_load fills a struct task_data: label names, metrics and the train / dev /
 * test splits (and MNLI's mismatched dev set) as UTF-8 strings.  Tokenization
 * and batching are in batching.h.
 *
 * Sampling: when max_train / max_dev / max_test is set and a split is larger, a
 * uniform random subset of that size is kept (in file order), drawn from `seed`
 * and the split, so the same seed always keeps the same examples.  GLUE and
 * file tasks read whole files first.
 *
 * Library code: never prints (except task_print, to the stream it is given),
 * never reads the environment: the caller passes data_dir.
 */
#ifndef TASKS_TASK_H
#define TASKS_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tasks/metrics.h"
#include "base/err.h"

#define TASK_NAME_MAX   64
#define TASK_MAX_LABELS 1024 /* label set size of a file task (ERR_LIMIT beyond) */

enum task_kind { TASK_SINGLE = 0, TASK_PAIR, TASK_REGRESSION };

/* "single", "pair", "regression". */
const char *task_kind_name(int kind);

struct example {
    char *a;      /* owned: first (or only) text, UTF-8 */
    char *b;      /* owned: second text of a pair, NULL for single-text tasks */
    int label;    /* class id in [0, nlabels); -1 in an unlabeled split or a regression task */
    float target; /* regression target; NAN when absent (classification, unlabeled) */
    uint64_t id;  /* provenance: 1-based line in its file (GLUE, file tasks), synset key
                     WN_KEY(pos, offset) of text a (WordNet), index (synthetic) */
};

struct split {
    struct example *ex; /* (n) owned */
    size_t n, cap;
    bool labeled;   /* false for test files without labels */
    size_t total;   /* examples before max_* subsampling */
    size_t skipped; /* malformed rows skipped (skip_bad_rows) */
};

struct task_data {
    char name[TASK_NAME_MAX];
    enum task_kind kind;
    bool pair;          /* examples carry text b: pair tasks and pair regression (STS-B) */
    int nlabels;        /* classes; 1 for regression (the head's output width) */
    char **label_names; /* (nlabels) owned; NULL for regression */
    struct split train, dev, test;
    struct split dev_mm; /* MNLI dev_mismatched; empty (n = 0) for other tasks */
    unsigned metrics;    /* METRIC_BIT set of metrics reported */
    int primary;         /* enum metric_id used for best-epoch selection */
};

/* Columns and format of a caller-declared file task (e.g. from the sweep YAML). */
struct file_task {
    const char *name;          /* task name in results, e.g. "imdb" */
    const char *train, *dev;   /* paths (required) */
    const char *test;          /* path or NULL */
    int format;                /* enum tsv_format, or -1 = from the train path's extension */
    bool header;               /* TSV/CSV: the first record names the columns */
    const char *text_a;        /* column: header name, or a 0-based index ("3"); JSONL: key */
    const char *text_b;        /* second text column, or NULL for a single-text task */
    const char *label;         /* label (or regression target) column */
    const char *const *labels; /* (nlabels) label values in id order, or NULL: the sorted
                                  distinct values of the train split */
    int nlabels;
    bool regression;    /* the label column holds real numbers */
    const char *metric; /* primary metric name, or NULL: accuracy / pearson_spearman */
};

/* Difficulty knobs of the synthetic tasks (generators in synthetic.c); defaults after the colon. */
struct syn_knobs {            /* synthetic tasks; see synthetic.c for the generators */
    int min_len, max_len;     /* words per sentence (filler included): 6, 12 */
    int max_sentiment;        /* syn-sentiment: sentiment words per sentence, odd, 1..: 3 */
    float negation_prob;      /* syn-sentiment: P("not" before a sentiment word): 0.3 */
    int negation_gap;         /* syn-sentiment: max filler words between "not" and its
                                 sentiment word: 0 (adjacent) */
    float distractor_rate;    /* syn-sentiment: P(a filler word is a look-alike such as
                                 "notable", "goods", "badge"): 0.1 */
    float synonym_rate;       /* syn-match: P(a word of b is swapped for a synonym): 0.3 */
    float swap_rate;          /* syn-match: P(two adjacent words of b trade places), per
                                 position: 0.15 */
    float hard_negative_rate; /* syn-match: P(a negative is a copy of a with one word
                                 replaced by a non-synonym) vs an unrelated sentence: 0.5 */
};

struct task_params {
    const char *data_dir;                /* GLUE root holding CoLA/, SST-2/, ... (GLUE tasks) */
    const char *wordnet_dir;             /* NULL = /usr/share/wordnet */
    uint64_t seed;                       /* subsampling, synthetic generation, WordNet negatives */
    size_t max_train, max_dev, max_test; /* 0 = all (synthetic: 0 = its default size) */
    bool skip_bad_rows;                  /* skip and count malformed rows instead of failing */
    struct file_task file;               /* the "file" task */
    struct syn_knobs syn;                /* synthetic tasks */
};

/* Defaults: everything 0/NULL/false except file.header = true, file.format = -1 and
 * the synthetic knobs above. */
void task_params_init(struct task_params *p);

struct task_def {
    const char *name;    /* "sst2", "wn-supersense", ... */
    const char *summary; /* one line for `peftbench tasks` */
    const char *source;  /* "glue", "file", "wordnet", "synthetic" */
    enum task_kind kind;
    const char *const *labels; /* (nlabels) static names; NULL for regression or "file" */
    int nlabels;               /* 0 when the loader decides ("file") */
    unsigned metrics;          /* METRIC_BIT set */
    int primary;               /* enum metric_id */
    const char *dir;           /* GLUE directory name ("SST-2"), else NULL */
    /* Fill out (already zeroed, name/kind/labels/metrics copied from the def). */
    int (*load)(const struct task_def *def, const struct task_params *p, struct task_data *out,
                struct err *e);
    /* Split sizes without loading everything, for listings (optional). */
    int (*sizes)(const struct task_def *def, const struct task_params *p, size_t n[4],
                 struct err *e);
};

int task_count(void);
const struct task_def *task_at(int i);              /* NULL when out of range */
const struct task_def *task_find(const char *name); /* NULL when unknown */
/* task_find, or NULL with an ERR_CONFIG error listing the valid names and a
 * did-you-mean; where (e.g. "sweep.yaml:7:9") prefixes the message when not NULL. */
const struct task_def *task_lookup(const char *name, const char *where, struct err *e);

/* Load a task's data; on failure out is left empty (task_data_free-able). */
int task_load(struct task_data *out, const struct task_def *def, const struct task_params *p,
              struct err *e);
void task_data_free(struct task_data *t); /* NULL-safe; leaves *t zeroed */

/* Class id of a label given as its name or as a decimal id in range; -1 if neither. */
int task_label_index(const struct task_data *t, const char *text);

/* Score predictions on split s (which must be labeled): pred (s->n) class ids for
 * classification, pred_f (s->n) values for regression.  See metrics_compute. */
int task_score(const struct task_data *t, const struct split *s, const int *pred,
               const float *pred_f, struct metric_result *out, struct err *e);

/* Print every task: name, kind, labels, metrics (primary marked *), summary, and
 * the split sizes when its data are present under p (else why not, in brackets). */
void task_print(FILE *out, const struct task_params *p);
/* The same for one task (p not NULL). */
void task_print_one(FILE *out, const struct task_def *d, const struct task_params *p);

/* ---- helpers shared by the loaders (tasks/ internal, tested) ---- */

/* Append a copy of the example (a, b duplicated).  0 or ERR_NOMEM. */
int split_push(struct split *s, const char *a, const char *b, int label, float target, uint64_t id,
               struct err *e);
void split_free(struct split *s); /* NULL-safe; leaves *s zeroed */
/* Keep a seeded uniform subset of max examples (in their order) when s->n > max > 0;
 * stream separates the splits.  Sets s->total to the size before. */
int split_subsample(struct split *s, size_t max, uint64_t seed, uint64_t stream, struct err *e);

#endif
