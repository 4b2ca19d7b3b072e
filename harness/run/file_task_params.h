/*
 * file_task_params: a sweep's file-task declaration (`tasks: - {name: ..., train: ...}`)
 * turned into the task loader's parameters, the one way `run`, `predict --sweep` and the
 * preflight checks load a file task.
 */
#ifndef HARNESS_RUN_FILE_TASK_PARAMS_H
#define HARNESS_RUN_FILE_TASK_PARAMS_H

struct task_params;
struct file_task_decl;

/* Fill p->file (and p->skip_bad_rows) from the file-task declaration d of a sweep, the way
 * `run` loads it; a `labels:` list is split into labels (TASK_MAX_LABELS entries, views into
 * a static copy, so valid until the next call) and *nlabels.  Also used by `predict --sweep`. */
void run_file_task_params(struct task_params *p, const struct file_task_decl *d,
                          const char **labels, int *nlabels);

#endif
