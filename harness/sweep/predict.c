#include "harness/sweep/predict.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "methods/persist.h"
#include "methods/registry.h"
#include "model/arch/model.h"
#include "model/text/tokenizer.h"
#include "harness/sweep/results.h"
#include "tasks/batching.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "harness/sweep/train.h"

struct popts {
    const char *model, *adapter, *task, *split, *input, *out, *data_dir;
    int max_seq_len, batch;
    long seed, max_examples;
    bool merged, strict;
};

static const char usage[] =
    "usage: peftbench predict MODEL_DIR --adapter DIR (--task NAME [--split dev|test|train] | "
    "--input FILE) --out FILE [--merged] [--data-dir D] [--max-seq-len N] [--batch-size B]\n"
    "                         [--seed S --max-examples N]   (the trial's seed and max_dev)\n"
    "                         [--strict]   (NaN/Inf in the loaded weights is an error)\n";

static int parse(struct popts *o, int argc, char **argv, FILE *errf)
{
    memset(o, 0, sizeof *o);
    o->split = "dev";
    o->max_seq_len = 128;
    o->batch = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(a, "--adapter") == 0    ? &o->adapter
                            : strcmp(a, "--task") == 0     ? &o->task
                            : strcmp(a, "--split") == 0    ? &o->split
                            : strcmp(a, "--input") == 0    ? &o->input
                            : strcmp(a, "--out") == 0      ? &o->out
                            : strcmp(a, "--data-dir") == 0 ? &o->data_dir
                                                           : NULL;
        if (slot && v) {
            *slot = v;
            i++;
        } else if (strcmp(a, "--merged") == 0) {
            o->merged = true;
        } else if (strcmp(a, "--strict") == 0) {
            o->strict = true;
        } else if ((strcmp(a, "--seed") == 0 || strcmp(a, "--max-examples") == 0) && v) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 0) {
                fprintf(errf, "peftbench predict: %s expects an integer >= 0, got '%s'\n", a, v);
                return 2;
            }
            *(strcmp(a, "--seed") == 0 ? &o->seed : &o->max_examples) = x;
            i++;
        } else if ((strcmp(a, "--max-seq-len") == 0 || strcmp(a, "--batch-size") == 0) && v) {
            int x = atoi(v);
            if (x < 3 || x > 100000) {
                fprintf(errf, "peftbench predict: %s expects an integer >= 3, got '%s'\n", a, v);
                return 2;
            }
            *(strcmp(a, "--batch-size") == 0 ? &o->batch : &o->max_seq_len) = x;
            i++;
        } else if (a[0] != '-' && !o->model) {
            o->model = a;
        } else {
            fprintf(errf, "peftbench predict: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (!o->model || !o->adapter || !o->out || (!o->task == !o->input)) {
        fprintf(errf, "%s", usage);
        return 2;
    }
    return 0;
}

/* Read --input: TSV (header with text[, text_b][, label]) or JSONL (same keys). */
static int read_input(const char *path, struct task_data *td, int C, struct err *e)
{
    int fmt = tsv_format_from_path(path);
    struct tsv_reader r;
    if (tsv_open(&r, path, fmt < 0 ? TSV_QUOTED : (enum tsv_format)fmt, false, e))
        return e->code;
    int col[3] = {-1, -1, -1}, rc;
    const char *names[3] = {"text", "text_b", "label"};
    td->kind = C == 1 ? TASK_REGRESSION : TASK_SINGLE;
    td->nlabels = C;
    while ((rc = tsv_next(&r, e)) == 1) {
        const char *f[3] = {NULL, NULL, NULL};
        if (r.fmt == TSV_JSONL) {
            for (int k = 0; k < 3; k++)
                f[k] = tsv_json_get(&r, names[k]);
        } else if (col[0] < 0) { /* header */
            for (size_t k = 0; k < r.nfields; k++)
                for (int j = 0; j < 3; j++)
                    if (strcmp(r.fields[k], names[j]) == 0)
                        col[j] = (int)k;
            if (col[0] < 0) {
                rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: the header needs a 'text' column", path,
                             r.line);
                break;
            }
            continue;
        } else {
            for (int j = 0; j < 3; j++)
                f[j] = col[j] >= 0 && (size_t)col[j] < r.nfields ? r.fields[col[j]] : NULL;
        }
        if (!f[0]) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: no text", path, r.line);
            break;
        }
        if (f[1])
            td->kind = TASK_PAIR;
        int label = f[2] && C > 1 ? atoi(f[2]) : -1;
        float target = f[2] && C == 1 ? strtof(f[2], NULL) : 0.0f;
        if ((rc = split_push(&td->dev, f[0], f[1], label, target, r.line, e)) != 0)
            break;
    }
    td->dev.labeled = false;
    tsv_close(&r);
    return rc < 0 ? rc : ERR_OK;
}

static const struct split *pick_split(const struct task_data *td, const char *name)
{
    if (strcmp(name, "train") == 0)
        return &td->train;
    if (strcmp(name, "test") == 0)
        return &td->test;
    if (strcmp(name, "dev_mismatched") == 0)
        return &td->dev_mm;
    return strcmp(name, "dev") == 0 ? &td->dev : NULL;
}

static int write_predictions(const struct popts *o, const struct task_data *td,
                             const struct split *sp, const float *logits, int C, struct err *e)
{
    size_t cap = sp->n * (size_t)(C + 3) * 24 + 64, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return ERR_SET(e, ERR_NOMEM, "out of memory writing %s", o->out);
    for (size_t i = 0; i < sp->n; i++) {
        const float *row = logits + i * (size_t)C;
        n += (size_t)snprintf(buf + n, cap - n, "%llu", (unsigned long long)sp->ex[i].id);
        int best = 0;
        for (int c = 0; c < C; c++) {
            n += (size_t)snprintf(buf + n, cap - n, "\t%.9g", (double)row[c]);
            if (row[c] > row[best])
                best = c;
        }
        if (C == 1)
            n += (size_t)snprintf(buf + n, cap - n, "\t%.9g", (double)row[0]);
        else if (td->label_names)
            n += (size_t)snprintf(buf + n, cap - n, "\t%s", td->label_names[best]);
        else
            n += (size_t)snprintf(buf + n, cap - n, "\t%d", best);
        if (sp->labeled && C == 1)
            n += (size_t)snprintf(buf + n, cap - n, "\t%.9g", (double)sp->ex[i].target);
        else if (sp->labeled && td->label_names)
            n += (size_t)snprintf(buf + n, cap - n, "\t%s", td->label_names[sp->ex[i].label]);
        else if (sp->labeled)
            n += (size_t)snprintf(buf + n, cap - n, "\t%d", sp->ex[i].label);
        n += (size_t)snprintf(buf + n, cap - n, "\n");
    }
    int rc = results_write_atomic(o->out, buf, n, e);
    free(buf);
    return rc;
}

static int print_metrics(const struct task_data *td, const struct split *sp, const float *logits,
                         int C, FILE *out, struct err *e)
{
    int *pred = calloc(sp->n, sizeof(int));
    float *pf = calloc(sp->n, sizeof(float));
    int rc = (!pred || !pf) ? ERR_SET(e, ERR_NOMEM, "out of memory") : ERR_OK;
    for (size_t i = 0; rc == ERR_OK && i < sp->n; i++) {
        const float *row = logits + i * (size_t)C;
        pf[i] = row[0];
        for (int c = 1; c < C; c++)
            if (row[c] > row[pred[i]])
                pred[i] = c;
    }
    struct metric_result mr;
    if (rc == ERR_OK)
        rc = task_score(td, sp, pred, pf, &mr, e);
    for (int id = 0; rc == ERR_OK && id < METRIC_COUNT; id++)
        if (mr.mask & METRIC_BIT(id))
            fprintf(out, "%s %.6f\n", metric_name(id), mr.value[id]);
    free(pred);
    free(pf);
    return rc;
}

static int load_data(const struct popts *o, int C, struct task_data *td, struct err *e)
{
    if (o->input)
        return read_input(o->input, td, C, e);
    const struct task_def *def = task_lookup(o->task, "--task", e);
    if (!def)
        return e->code;
    struct task_params p;
    task_params_init(&p);
    p.data_dir = o->data_dir ? o->data_dir : getenv("PEFTBENCH_DATA");
    /* the same seeded subsample a trial with max_dev = N and this seed evaluated on */
    p.seed = (uint64_t)o->seed;
    p.max_train = p.max_dev = p.max_test = (size_t)o->max_examples;
    return task_load(td, def, &p, e);
}

static int adapter_labels(const char *dir, int *C, struct err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return ERR_SET(e, ERR_IO, "cannot open %s", path);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *k = strstr(buf, "\"num_labels\"");
    *C = k ? atoi(strchr(k, ':') + 1) : 0;
    if (*C < 1)
        return ERR_SET(e, ERR_FORMAT, "%s: no valid num_labels", path);
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

static int predict(const struct popts *o, FILE *out, FILE *errf, struct err *e)
{
    int C = 0, nm = 0, rc;
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi[PERSIST_MAX_METHODS];
    struct task_data td;
    memset(&td, 0, sizeof td);
    struct tokenizer *tok = NULL;
    struct tok_split ts;
    memset(&ts, 0, sizeof ts);
    float *logits = NULL;
    if (adapter_labels(o->adapter, &C, e) || model_load_dir(&m, o->model, C, 1, &acct, e))
        return e->code;
    rc = persist_load(o->adapter, &m, mi, &nm, 1, e);
    if (rc == ERR_OK)
        rc = check_weights(o, &m, errf, e);
    for (int i = 0; rc == ERR_OK && o->merged && i < nm; i++)
        if (mi[i].ops->merge)
            rc = method_merge(&mi[i], &m, e);
    if (rc == ERR_OK)
        rc = load_data(o, C, &td, e);
    const struct split *sp = rc == ERR_OK && o->task ? pick_split(&td, o->split) : &td.dev;
    if (rc == ERR_OK && !sp)
        rc = ERR_SET(e, ERR_CONFIG, "--split %s: expected train, dev, test or dev_mismatched",
                     o->split);
    if (rc == ERR_OK)
        rc = tokenizer_load_dir(&tok, o->model, e);
    if (rc == ERR_OK)
        rc = batching_tokenize(&ts, sp, td.kind, tok, o->max_seq_len, e);
    if (rc == ERR_OK && !(logits = calloc(sp->n * (size_t)C + 1, sizeof(float))))
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    if (rc == ERR_OK)
        rc = train_predict(&m, &ts, o->batch, C == 1, NULL, NULL, logits, NULL, e);
    if (rc == ERR_OK)
        rc = write_predictions(o, &td, sp, logits, C, e);
    if (rc == ERR_OK && sp->labeled)
        rc = print_metrics(&td, sp, logits, C, out, e);
    free(logits);
    tok_split_free(&ts);
    tokenizer_free(tok);
    task_data_free(&td);
    for (int i = nm; i-- > 0;)
        method_destroy(&mi[i]);
    model_destroy(&m);
    return rc;
}

int predict_main(int argc, char **argv, FILE *out, FILE *errf)
{
    struct popts o;
    int rc = parse(&o, argc, argv, errf);
    if (rc)
        return rc;
    struct err e;
    err_clear(&e);
    if (predict(&o, out, errf, &e)) {
        fprintf(errf, "peftbench predict: %s\n", e.msg);
        return 1;
    }
    return 0;
}
