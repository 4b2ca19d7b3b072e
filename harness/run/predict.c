/*
 * predict: the `peftbench predict` command (see predict.h): options, the adapter's recorded
 * settings against the flags, the forward passes and the predictions file.
 */
#include "harness/run/predict.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "harness/run/adapter_dir.h"
#include "harness/run/predict_input.h"
#include "harness/sweep/results.h"
#include "harness/sweep/train.h"
#include "methods/registry.h"
#include "tasks/batching.h"

#define PREDICT_DEFAULT_SEQ_LEN 128 /* for adapters that do not record theirs */

struct popts {
    const char *model, *adapter, *out;
    struct predict_source src;
    int max_seq_len; /* 0: the adapter's */
    int batch;
    bool merged, strict;
};

static const char usage[] =
    "usage: peftbench predict [MODEL] --adapter DIR --out FILE\n"
    "         [--task NAME [--split dev|test|train|dev_mismatched] [--sweep FILE]\n"
    "          | --input FILE [--text-col NAME] [--text-b-col NAME]]\n"
    "         [--max-seq-len N] [--batch-size B] [--data-dir D] [--seed S --max-examples N]\n"
    "         [--merged] [--strict]\n"
    "  DIR: an adapter saved by `run` (save_adapters) or an HF PEFT directory (LoRA, IA3).\n"
    "  MODEL (a directory or builtin:NAME), the task, its labels, max_seq_len and the\n"
    "  tokenizer settings default to what the adapter recorded; overriding one is a warning.\n"
    "  --sweep FILE finds a file task in the sweep that declares it.  S, N: the trial's seed\n"
    "  and max_dev, to score the subsample the sweep scored.  --strict: NaN/Inf in the loaded\n"
    "  weights is an error.  Exit 0 done, 2 usage or unusable input, 1 --strict or a failure\n"
    "  while predicting or writing.\n";

static int bad_value(const char *flag, const char *v, const char *want, FILE *errf)
{
    fprintf(errf, "peftbench predict: %s expects %s, got '%s'\n", flag, want, v);
    return 2;
}

/* An integer flag value in [lo, hi] into *x. */
static int parse_long(const char *flag, const char *v, long lo, long hi, long *x, FILE *errf)
{
    char *end;
    errno = 0;
    *x = strtol(v, &end, 10);
    if (errno || end == v || *end || *x < lo || *x > hi) {
        char want[64];
        snprintf(want, sizeof want, "an integer in [%ld, %ld]", lo, hi);
        return bad_value(flag, v, want, errf);
    }
    return 0;
}

/* The slot of a flag that takes a string, or NULL. */
static const char **string_slot(struct popts *o, const char *a)
{
    struct predict_source *s = &o->src;
    const struct {
        const char *flag;
        const char **slot;
    } t[] = {{"--adapter", &o->adapter},   {"--out", &o->out},
             {"--task", &s->task},         {"--split", &s->split},
             {"--sweep", &s->sweep},       {"--input", &s->input},
             {"--text-col", &s->text_col}, {"--text-b-col", &s->text_b_col},
             {"--data-dir", &s->data_dir}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcmp(a, t[i].flag) == 0)
            return t[i].slot;
    return NULL;
}

static bool is_int_flag(const char *a)
{
    return strcmp(a, "--seed") == 0 || strcmp(a, "--max-examples") == 0 ||
           strcmp(a, "--max-seq-len") == 0 || strcmp(a, "--batch-size") == 0;
}

/* The value v of an integer flag a (is_int_flag); 0, or 2 after a message. */
static int int_flag(struct popts *o, const char *a, const char *v, FILE *errf)
{
    if (strcmp(a, "--seed") == 0)
        return parse_long(a, v, 0, LONG_MAX, &o->src.seed, errf);
    if (strcmp(a, "--max-examples") == 0)
        return parse_long(a, v, 0, LONG_MAX, &o->src.max_examples, errf);
    bool len = strcmp(a, "--max-seq-len") == 0;
    long x;
    int rc = parse_long(a, v, len ? 3 : 1, 100000, &x, errf);
    if (rc == 0)
        *(len ? &o->max_seq_len : &o->batch) = (int)x;
    return rc;
}

/* Combinations the flags alone rule out. */
static int check_combination(const struct popts *o, FILE *errf)
{
    const char *why = !o->adapter                    ? "--adapter DIR is required"
                      : !o->out                      ? "--out FILE is required"
                      : o->src.task && o->src.input  ? "--task and --input exclude each other"
                      : o->src.input && o->src.sweep ? "--sweep goes with a task, not --input"
                      : !o->src.input && (o->src.text_col || o->src.text_b_col)
                          ? "--text-col and --text-b-col go with --input"
                          : NULL;
    if (!why)
        return 0;
    fprintf(errf, "peftbench predict: %s\n%s", why, usage);
    return 2;
}

static int parse(struct popts *o, int argc, char **argv, FILE *errf)
{
    memset(o, 0, sizeof *o);
    o->src.split = "dev";
    o->batch = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = string_slot(o, a);
        if (strcmp(a, "--merged") == 0) {
            o->merged = true;
        } else if (strcmp(a, "--strict") == 0) {
            o->strict = true;
        } else if ((slot || is_int_flag(a)) && !v) {
            fprintf(errf, "peftbench predict: %s needs a value\n%s", a, usage);
            return 2;
        } else if (slot) {
            *slot = argv[++i];
        } else if (is_int_flag(a)) {
            int rc = int_flag(o, a, argv[++i], errf);
            if (rc)
                return rc;
        } else if (a[0] != '-' && !o->model) {
            o->model = a;
        } else {
            fprintf(errf, "peftbench predict: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    return check_combination(o, errf);
}

/* ---- settings ------------------------------------------------------------------------ */

/* max_seq_len into *L: the flag (a warning when it is not the recorded one), else the
 * recorded one, else PREDICT_DEFAULT_SEQ_LEN or the model's positions when fewer (said once).
 * A length beyond the model's positions is an error. */
static int seq_len(const struct popts *o, const struct persist_meta *meta, const struct model *m,
                   int *L, FILE *errf, struct err *e)
{
    const int rec = meta->max_seq_len;
    const int P = m->cfg.max_position_embeddings -
                  (m->head == HEAD_ROBERTA ? m->cfg.pad_token_id + 1 : 0); /* usable positions */
    if (o->max_seq_len && rec && o->max_seq_len != rec)
        fprintf(errf,
                "peftbench predict: warning: --max-seq-len %d overrides the adapter's %d (the "
                "length it was trained with)\n",
                o->max_seq_len, rec);
    *L = o->max_seq_len ? o->max_seq_len : rec;
    if (!*L) {
        *L = P < PREDICT_DEFAULT_SEQ_LEN ? P : PREDICT_DEFAULT_SEQ_LEN;
        fprintf(errf,
                "peftbench predict: the adapter records no max_seq_len: using %d "
                "(--max-seq-len N sets it)\n",
                *L);
    }
    if (*L > P)
        return ERR_SET(e, ERR_RANGE, "%s %d exceeds the model's %d positions",
                       o->max_seq_len ? "--max-seq-len" : "the adapter's max_seq_len", *L, P);
    return ERR_OK;
}

/* NaN/Inf in the loaded backbone or adapter: a warning, or with --strict an error. */
static int check_weights(const struct popts *o, const struct model *m, FILE *errf, struct err *e)
{
    if (o->strict && model_check_finite(m, e))
        return err_prefix(e, "--strict");
    if (m->load_nonfinite)
        fprintf(errf, "peftbench predict: warning: %s (--strict refuses it)\n", m->load_warning);
    return ERR_OK;
}

/* ---- the run ------------------------------------------------------------------------- */

struct pstate {
    struct persist_meta meta;
    char model_dir[PERSIST_PATH_MAX];
    struct mem_acct acct;
    struct model m;
    bool have_model;
    struct method_inst mi[PERSIST_MAX_METHODS];
    int nm;
    struct task_data td;
    const struct split *sp; /* borrowed: a split of td */
    struct tokenizer *tok;
    struct tok_split ts;
    int C, L;
    float *logits; /* (sp->n, C) */
};

static void pstate_free(struct pstate *s)
{
    free(s->logits);
    tok_split_free(&s->ts);
    tokenizer_free(s->tok);
    task_data_free(&s->td);
    for (int i = s->nm; i-- > 0;)
        method_destroy(&s->mi[i]);
    if (s->have_model)
        model_destroy(&s->m);
    persist_meta_free(&s->meta);
}

static int fail(FILE *errf, const struct err *e, int status)
{
    fprintf(errf, "peftbench predict: %s\n", e->msg);
    return status;
}

/* Everything before the forward passes; 0, or the exit status after a message. */
static int prepare(const struct popts *o, struct pstate *s, FILE *errf)
{
    struct err e;
    err_clear(&e);
    if (persist_read_meta(o->adapter, &s->meta, &e))
        return fail(errf, &e, 2);
    s->C = s->meta.num_labels;
    if (predict_input_load(&o->src, &s->meta, &s->td, &s->sp, errf, &e))
        return fail(errf, &e, 2);
    if (adapter_resolve_model("predict", o->adapter, &s->meta, o->model, s->model_dir,
                              sizeof s->model_dir, errf))
        return 2;
    mem_acct_init(&s->acct);
    if (adapter_load_model(o->adapter, &s->meta, s->model_dir, &s->m, s->mi, &s->nm, &s->acct, &e))
        return fail(errf, &e, 2);
    s->have_model = true;
    if (check_weights(o, &s->m, errf, &e))
        return fail(errf, &e, 1);
    if (seq_len(o, &s->meta, &s->m, &s->L, errf, &e) ||
        adapter_tokenizer("predict", &s->tok, s->model_dir, &s->meta, errf, &e) ||
        batching_tokenize(&s->ts, s->sp, s->td.kind, s->tok, s->L, &e))
        return fail(errf, &e, 2);
    for (int i = 0; o->merged && i < s->nm; i++)
        if (s->mi[i].ops->merge && method_merge(&s->mi[i], &s->m, &e))
            return fail(errf, &e, 1);
    return 0;
}

/* Header: id, one logit column per class (or value), predicted, and gold when labeled. */
static void write_header(struct strbuf *b, char *const *names, int C, bool labeled)
{
    strbuf_str(b, "id");
    for (int c = 0; c < C; c++) {
        if (C == 1)
            strbuf_str(b, "\tvalue");
        else if (names)
            strbuf_printf(b, "\tlogit_%s", names[c]);
        else
            strbuf_printf(b, "\tlogit_%d", c);
    }
    strbuf_str(b, labeled ? "\tpredicted\tgold\n" : "\tpredicted\n");
}

/* A class as its name when known, else its index; an empty cell for none (c < 0). */
static void put_class(struct strbuf *b, char *const *names, int c)
{
    if (c < 0)
        strbuf_str(b, "\t");
    else if (names)
        strbuf_printf(b, "\t%s", names[c]);
    else
        strbuf_printf(b, "\t%d", c);
}

static int write_predictions(const char *path, const struct pstate *s, struct err *e)
{
    char *const *names = s->meta.label_names ? s->meta.label_names : s->td.label_names;
    const struct split *sp = s->sp;
    const int C = s->C;
    struct strbuf b = {0};
    write_header(&b, names, C, sp->labeled);
    for (size_t i = 0; i < sp->n; i++) {
        const float *row = s->logits + i * (size_t)C;
        strbuf_printf(&b, "%llu", (unsigned long long)sp->ex[i].id);
        int best = 0;
        for (int c = 0; c < C; c++) {
            strbuf_printf(&b, "\t%.9g", (double)row[c]);
            if (row[c] > row[best])
                best = c;
        }
        if (C == 1)
            strbuf_printf(&b, "\t%.9g", (double)row[0]);
        else
            put_class(&b, names, best);
        if (sp->labeled && C == 1)
            strbuf_printf(&b, "\t%.9g", (double)sp->ex[i].target);
        else if (sp->labeled)
            put_class(&b, names, sp->ex[i].label);
        strbuf_str(&b, "\n");
    }
    size_t len = b.n;
    char *text = strbuf_take(&b);
    if (!text)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", path);
    int rc = results_write_atomic(path, text, len, e);
    free(text);
    return rc;
}

static int print_metrics(const struct pstate *s, FILE *out, struct err *e)
{
    const struct split *sp = s->sp;
    int *pred = calloc(sp->n, sizeof(int));
    float *pf = calloc(sp->n, sizeof(float));
    int rc = (!pred || !pf) ? ERR_SET(e, ERR_NOMEM, "out of memory") : ERR_OK;
    for (size_t i = 0; rc == ERR_OK && i < sp->n; i++) {
        const float *row = s->logits + i * (size_t)s->C;
        pf[i] = row[0];
        for (int c = 1; c < s->C; c++)
            if (row[c] > row[pred[i]])
                pred[i] = c;
    }
    struct metric_result mr;
    if (rc == ERR_OK)
        rc = task_score(&s->td, sp, pred, pf, &mr, e);
    for (int id = 0; rc == ERR_OK && id < METRIC_COUNT; id++)
        if (mr.mask & METRIC_BIT(id))
            fprintf(out, "%s %.6f\n", metric_name(id), mr.value[id]);
    free(pred);
    free(pf);
    return rc;
}

/* The forward passes, the file and the metrics; 0 or 1 after a message. */
static int compute(const struct popts *o, struct pstate *s, FILE *out, FILE *errf)
{
    struct err e;
    err_clear(&e);
    int rc = (s->logits = calloc(s->sp->n * (size_t)s->C + 1, sizeof(float)))
                 ? ERR_OK
                 : ERR_SET(&e, ERR_NOMEM, "out of memory");
    if (rc == ERR_OK)
        rc = train_predict(&s->m, &s->ts, o->batch, s->C == 1, NULL, NULL, s->logits, NULL, &e);
    if (rc == ERR_OK)
        rc = write_predictions(o->out, s, &e);
    if (rc == ERR_OK && s->sp->labeled)
        rc = print_metrics(s, out, &e);
    return rc ? fail(errf, &e, 1) : 0;
}

int predict_main(int argc, char **argv, FILE *out, FILE *errf)
{
    struct popts o;
    int status = parse(&o, argc, argv, errf);
    if (status)
        return status;
    struct pstate s;
    memset(&s, 0, sizeof s);
    persist_meta_init(&s.meta);
    status = prepare(&o, &s, errf);
    if (status == 0)
        status = compute(&o, &s, out, errf);
    pstate_free(&s);
    return status;
}
