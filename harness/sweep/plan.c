/*
 * plan: freeing a loaded sweep and looking up its file tasks (see plan.h).
 */
#include "harness/sweep/plan.h"

#include <stdlib.h>
#include <string.h>

const struct file_task_decl *sweep_file_task(const struct sweep *s, const char *name)
{
    for (int i = 0; i < s->nfile_tasks; i++)
        if (strcmp(s->file_tasks[i].name, name) == 0)
            return &s->file_tasks[i];
    return NULL;
}

void sweep_free(struct sweep *s)
{
    if (!s)
        return;
    for (int i = 0; s->tasks && i < s->ntasks; i++)
        free(s->tasks[i]);
    free(s->tasks);
    for (int i = 0; s->file_tasks && i < s->nfile_tasks; i++) {
        struct file_task_decl *ft = &s->file_tasks[i];
        for (int j = 0; j < ft->n; j++) {
            free(ft->keys[j]);
            free(ft->values[j]);
            free(ft->where[j]);
        }
        free(ft->keys);
        free(ft->values);
        free(ft->where);
    }
    free(s->file_tasks);
    free(s->seeds);
    for (size_t i = 0; s->trials && i < s->ntrials; i++)
        free(s->trials[i].canonical);
    free(s->trials);
    free(s->plots_yaml);
    free(s->resolved_yaml);
    memset(s, 0, sizeof *s);
}
