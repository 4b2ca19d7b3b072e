/* strset: distinct texts in order of first appearance (contract in strset.h). */
#include "harness/report/strset.h"

#include <stdlib.h>
#include <string.h>

int strset_add(struct strset *ss, const char *s)
{
    for (int i = 0; i < ss->n; i++)
        if (strcmp(ss->v[i], s) == 0)
            return i;
    if (ss->n == ss->cap) {
        int cap = ss->cap ? 2 * ss->cap : 16;
        char **v = realloc(ss->v, (size_t)cap * sizeof *v);
        if (!v) {
            ss->oom = true;
            return 0;
        }
        ss->v = v;
        ss->cap = cap;
    }
    if (!(ss->v[ss->n] = strdup(s))) {
        ss->oom = true;
        return 0;
    }
    return ss->n++;
}

void strset_free(struct strset *ss)
{
    for (int i = 0; i < ss->n; i++)
        free(ss->v[i]);
    free(ss->v);
    memset(ss, 0, sizeof *ss);
}
