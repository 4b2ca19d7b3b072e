/*
 * file_task_params: a sweep's file-task declaration as task_params
 * (harness/run/file_task_params.h).
 */
#include "harness/run/file_task_params.h"

#include <string.h>

#include "harness/sweep/sweep.h"
#include "tasks/task.h"
#include "tasks/tsv.h"

void run_file_task_params(struct task_params *p, const struct file_task_decl *d,
                          const char **labels, int *nlabels)
{
    struct file_task *f = &p->file;
    f->name = d->name;
    for (int i = 0; i < d->n; i++) {
        const char *k = d->keys[i], *v = d->values[i];
        if (strcmp(k, "train") == 0 || strcmp(k, "path") == 0)
            f->train = v;
        else if (strcmp(k, "dev") == 0)
            f->dev = v;
        else if (strcmp(k, "test") == 0)
            f->test = v;
        else if (strcmp(k, "format") == 0)
            f->format = tsv_format_find(v);
        else if (strcmp(k, "header") == 0)
            f->header = strcmp(v, "true") == 0;
        else if (strcmp(k, "text") == 0 || strcmp(k, "text_a") == 0)
            f->text_a = v;
        else if (strcmp(k, "text_b") == 0)
            f->text_b = v;
        else if (strcmp(k, "label") == 0)
            f->label = v;
        else if (strcmp(k, "regression") == 0)
            f->regression = strcmp(v, "true") == 0;
        else if (strcmp(k, "metric") == 0)
            f->metric = v;
        else if (strcmp(k, "skip_bad_rows") == 0)
            p->skip_bad_rows = strcmp(v, "true") == 0;
        else if (strcmp(k, "labels") == 0) {
            /* comma-joined list: split into the static array (views into a copy) */
            static char buf[4096];
            snprintf(buf, sizeof buf, "%s", v);
            *nlabels = 0;
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t && *nlabels < TASK_MAX_LABELS;
                 t = strtok_r(NULL, ",", &s))
                labels[(*nlabels)++] = t;
            f->labels = labels;
            f->nlabels = *nlabels;
        }
    }
}
