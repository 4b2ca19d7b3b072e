/*
 * glue: the nine GLUE tasks from the standard download layout
 *   DATA_DIR/{CoLA,SST-2,MRPC,QQP,STS-B,MNLI,QNLI,RTE,WNLI}/{train,dev,test}.tsv
 * (MNLI: train, dev_matched, dev_mismatched, test_matched).
 *
 * The files are plain TSV (TSV_PLAIN): fields split on tabs only, quotes are
 * literal text.  Columns are found by their header names, so the differing
 * train/dev/test layouts (MNLI's dev has five annotator labels, test files have
 * no label) need no per-file indices:
 *   CoLA   no header in train/dev: source, label, original label, sentence
 *          (test: header "index sentence")
 *   SST-2  sentence, label                           test: index, sentence
 *   MRPC   Quality, #1 ID, #2 ID, #1 String, #2 String (test: index instead of Quality)
 *   QQP    id, qid1, qid2, question1, question2, is_duplicate   test: id, question1, question2
 *   STS-B  index genre filename year old_index source1 source2 sentence1 sentence2 score
 *   MNLI   ... sentence1 (8), sentence2 (9), ..., gold_label (last)
 *   QNLI   index, question, sentence, label;  RTE / WNLI: index, sentence1, sentence2, label
 * Labels are read as a label name or a decimal class id (task_label_index):
 * 0/1 for CoLA, SST-2, MRPC, QQP and WNLI; names for MNLI, QNLI and RTE.
 * A row whose field count differs from the header's, or whose label or score is
 * invalid, is malformed (error naming file and line, or skipped and counted).
 * train and dev (and MNLI's dev_mismatched) are required; a missing test file
 * leaves the test split empty (GLUE test labels are private anyway).
 * Example ids are 1-based line numbers (a test row's GLUE "index" is line - 2).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/loaders.h"
#include "tasks/tsv.h"

struct glue_spec {
    const char *task;
    const char *col_a, *col_b, *col_label; /* header names (col_b NULL for single) */
    int plain_a, plain_label, plain_ncols; /* header-less train/dev (CoLA), else -1 */
    const char *train, *dev, *test, *dev_mm;
};

static const struct glue_spec glue_specs[] = {
    {"cola", "sentence", NULL, "label", 3, 1, 4, "train.tsv", "dev.tsv", "test.tsv", NULL},
    {"sst2", "sentence", NULL, "label", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv", NULL},
    {"mrpc", "#1 String", "#2 String", "Quality", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv",
     NULL},
    {"qqp", "question1", "question2", "is_duplicate", -1, -1, -1, "train.tsv", "dev.tsv",
     "test.tsv", NULL},
    {"stsb", "sentence1", "sentence2", "score", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv",
     NULL},
    {"mnli", "sentence1", "sentence2", "gold_label", -1, -1, -1, "train.tsv", "dev_matched.tsv",
     "test_matched.tsv", "dev_mismatched.tsv"},
    {"qnli", "question", "sentence", "label", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv", NULL},
    {"rte", "sentence1", "sentence2", "label", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv",
     NULL},
    {"wnli", "sentence1", "sentence2", "label", -1, -1, -1, "train.tsv", "dev.tsv", "test.tsv",
     NULL},
};

static const struct glue_spec *glue_spec_of(const char *task)
{
    for (size_t i = 0; i < sizeof glue_specs / sizeof *glue_specs; i++)
        if (strcmp(glue_specs[i].task, task) == 0)
            return &glue_specs[i];
    return NULL;
}

static int header_index(const struct tsv_reader *r, const char *name)
{
    for (size_t i = 0; name && i < r->nfields; i++)
        if (strcmp(r->fields[i], name) == 0)
            return (int)i;
    return -1;
}

/* Path of file in DIR/<def->dir>; checks that it is readable.  ERR_IO otherwise,
 * saying which file and where it looked. */
static int glue_path(char *path, size_t n, const struct task_def *def, const struct task_params *p,
                     const char *file, struct err *e)
{
    if (!p->data_dir || !*p->data_dir)
        return ERR_SET(e, ERR_CONFIG,
                       "task %s needs the GLUE data directory (data_dir in the sweep file or "
                       "PEFTBENCH_DATA), the folder holding %s/",
                       def->name, def->dir);
    int w = snprintf(path, n, "%s/%s/%s", p->data_dir, def->dir, file);
    if (w < 0 || (size_t)w >= n)
        return ERR_SET(e, ERR_LIMIT, "task %s: data path too long", def->name);
    if (access(path, R_OK) != 0)
        return ERR_SET(e, ERR_IO,
                       "task %s: cannot read %s in %s/%s: %s (data_dir must hold the GLUE task "
                       "folders CoLA, SST-2, MRPC, QQP, STS-B, MNLI, QNLI, RTE, WNLI; set it in "
                       "the sweep file or PEFTBENCH_DATA)",
                       def->name, file, p->data_dir, def->dir, strerror(errno));
    return ERR_OK;
}

static int glue_read(const struct task_def *def, const struct glue_spec *gs,
                     const struct task_params *p, struct task_data *t, const char *file,
                     bool is_test, struct split *s, struct err *e)
{
    char path[4096];
    int rc = glue_path(path, sizeof path, def, p, file, e);
    if (rc)
        return rc;
    struct tsv_reader r;
    if ((rc = tsv_open(&r, path, TSV_PLAIN, p->skip_bad_rows, e)))
        return rc;

    int ia = -1, ib = -1, il = -1;
    size_t ncols;
    bool headerless = gs->plain_ncols > 0 && !is_test;
    if (headerless) {
        ia = gs->plain_a;
        il = gs->plain_label;
        ncols = (size_t)gs->plain_ncols;
    } else {
        rc = tsv_next(&r, e);
        if (rc <= 0) {
            if (rc == 0)
                rc = ERR_SET(e, ERR_FORMAT, "%s: empty file (expected a header row)", path);
            goto out;
        }
        ncols = r.nfields;
        ia = header_index(&r, gs->col_a);
        ib = header_index(&r, gs->col_b);
        il = header_index(&r, gs->col_label);
        const char *missing = ia < 0 ? gs->col_a : gs->col_b && ib < 0 ? gs->col_b : NULL;
        if (!missing && il < 0 && !is_test)
            missing = gs->col_label;
        if (missing) {
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s:%zu: header has no column '%s' (is this the GLUE %s file?)", path,
                         r.line, missing, def->dir);
            goto out;
        }
    }
    s->labeled = il >= 0;
    while ((rc = tsv_next(&r, e)) == 1) {
        if (r.nfields != ncols) {
            if ((rc = tsv_bad_row(&r, e, "expected %zu tab-separated fields, found %zu", ncols,
                                  r.nfields)) < 0)
                goto out;
            continue;
        }
        int label = -1;
        float target = NAN;
        if (il >= 0) {
            const char *f = r.fields[il];
            if (t->kind == TASK_REGRESSION) {
                char *end;
                double v = strtod(f, &end);
                if (end == f || *end || !isfinite(v)) {
                    if ((rc = tsv_bad_row(&r, e, "score '%s' is not a number", f)) < 0)
                        goto out;
                    continue;
                }
                target = (float)v;
            } else if ((label = task_label_index(t, f)) < 0) {
                if ((rc = tsv_bad_row(&r, e, "unknown label '%s' (expected %s%s%s)", f,
                                      t->label_names[0], t->nlabels == 2 ? " or " : ", ...",
                                      t->label_names[t->nlabels - 1])) < 0)
                    goto out;
                continue;
            }
        }
        if ((rc = split_push(s, r.fields[ia], ib >= 0 ? r.fields[ib] : NULL, label, target, r.line,
                             e)))
            goto out;
    }
out:
    s->skipped = r.nbad;
    tsv_close(&r);
    return rc < 0 ? rc : ERR_OK;
}

int glue_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
              struct err *e)
{
    const struct glue_spec *gs = glue_spec_of(def->name);
    if (!gs)
        return ERR_SET(e, ERR_STATE, "no GLUE layout for task %s", def->name);
    int rc = glue_read(def, gs, p, out, gs->train, false, &out->train, e);
    if (!rc)
        rc = glue_read(def, gs, p, out, gs->dev, false, &out->dev, e);
    if (!rc && gs->dev_mm)
        rc = glue_read(def, gs, p, out, gs->dev_mm, false, &out->dev_mm, e);
    if (!rc) {
        char path[4096];
        struct err probe = {0};
        /* the test file is optional */
        if (glue_path(path, sizeof path, def, p, gs->test, &probe) == ERR_OK)
            rc = glue_read(def, gs, p, out, gs->test, true, &out->test, e);
    }
    return rc;
}

static int glue_count(const struct task_def *def, const struct glue_spec *gs,
                      const struct task_params *p, const char *file, bool header_always,
                      bool optional, size_t *n, struct err *e)
{
    char path[4096];
    *n = 0;
    int rc = glue_path(path, sizeof path, def, p, file, e);
    if (rc)
        return optional && rc == ERR_IO ? ERR_OK : rc;
    if ((rc = tsv_count(path, TSV_PLAIN, n, e)))
        return rc;
    bool header = header_always || gs->plain_ncols <= 0;
    if (header && *n > 0)
        (*n)--;
    return ERR_OK;
}

int glue_sizes(const struct task_def *def, const struct task_params *p, size_t n[4], struct err *e)
{
    const struct glue_spec *gs = glue_spec_of(def->name);
    if (!gs)
        return ERR_SET(e, ERR_STATE, "no GLUE layout for task %s", def->name);
    n[3] = 0;
    int rc = glue_count(def, gs, p, gs->train, false, false, &n[0], e);
    if (!rc)
        rc = glue_count(def, gs, p, gs->dev, false, false, &n[1], e);
    if (!rc)
        rc = glue_count(def, gs, p, gs->test, true, true, &n[2], e);
    if (!rc && gs->dev_mm)
        rc = glue_count(def, gs, p, gs->dev_mm, false, false, &n[3], e);
    return rc;
}
