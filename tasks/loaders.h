/*
 * loaders: the task loaders behind the registry (tasks/ internal).
 * Each has the struct task_def load signature; `out` arrives zeroed with name,
 * kind, labels and metrics already copied from def.
 */
#ifndef TASKS_LOADERS_H
#define TASKS_LOADERS_H

#include "tasks/task.h"

/* glue.c: the nine GLUE tasks from p->data_dir/<def->dir>/ */
int glue_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
              struct err *e);
int glue_sizes(const struct task_def *def, const struct task_params *p, size_t n[4], struct err *e);

/* filetask.c: the caller-declared task p->file */
int filetask_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
                  struct err *e);

/* wordnet.c: wn-supersense, wn-pos, wn-hypernym */
int wn_task_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
                 struct err *e);

/* synthetic.c: syn-sentiment, syn-match */
int syn_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
             struct err *e);

/* wordnet.c: the 45 WordNet lexicographer file names, in lex_filenum order */
extern const char *const wn_lexnames[45];

#endif
