/*
 * trial_id: a trial's canonical text and its FNV-1a id (see trial_id.h).
 * Any change here changes trial ids, which results/ files and baselines
 * refer to: test_sweep pins known ids.
 */
#include "harness/sweep/trial_id.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/schema.h"
#include "base/strbuf.h"
#include "harness/sweep/plan.h"
#include "harness/sweep/train_cfg.h"

/* Values go into the canonical text escaped, so no value can forge a line. */
static void sb_escaped(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            strbuf_put(b, "\\\\", 2);
        else if (c < 0x20 || c == 0x7f)
            strbuf_printf(b, "\\x%02x", c);
        else
            strbuf_put(b, s, 1);
    }
}

void sweep_hash_id(const char *canonical, char id[SWEEP_ID_LEN + 1])
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)canonical; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    snprintf(id, SWEEP_ID_LEN + 1, "%016" PRIx64, h);
}

/* Train settings that cannot change a recorded result stay out of the id: where the
 * trained tensors are written is an output option. */
static bool train_field_in_id(const char *name)
{
    return strcmp(name, "save_adapters") != 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The canonical text of a trial: everything that defines it, nothing that doesn't. */
char *trial_canonical(const struct sweep *s, const struct trial *t)
{
    struct strbuf b = {0};
    char v[256];
    strbuf_put(&b, "peftbench-trial v2\nmodel=", 25);
    sb_escaped(&b, s->model_id[0] ? s->model_id : s->model);
    strbuf_put(&b, "\ntask=", 6);
    sb_escaped(&b, t->task);
    strbuf_put(&b, "\n", 1);
    const struct file_task_decl *ft = sweep_file_task(s, t->task);
    if (ft && ft->n > 0) {
        /* sorted "key=value" lines: the declaration order does not matter */
        char **lines = calloc((size_t)ft->n, sizeof *lines);
        bool ok = lines != NULL;
        for (int i = 0; ok && i < ft->n; i++) {
            struct strbuf l = {0};
            strbuf_printf(&l, "task.%s=", ft->keys[i]);
            sb_escaped(&l, ft->values[i]);
            strbuf_put(&l, "\n", 1);
            ok = !l.oom;
            lines[i] = l.p;
        }
        if (ok) {
            qsort(lines, (size_t)ft->n, sizeof *lines, cmp_str);
            for (int i = 0; i < ft->n; i++)
                strbuf_put(&b, lines[i], strlen(lines[i]));
        } else {
            b.oom = true;
        }
        for (int i = 0; lines && i < ft->n; i++)
            free(lines[i]);
        free(lines);
    }
    strbuf_printf(&b, "seed=%" PRIu64 "\n", t->seed);
    for (int f = 0; f < train_cfg_nfields(); f++) {
        if (!train_field_in_id(train_cfg_field_name(f)))
            continue;
        train_cfg_format(&t->train, f, v, sizeof v);
        strbuf_printf(&b, "train.%s=%s\n", train_cfg_field_name(f), v);
    }
    for (int m = 0; m < t->nmethods; m++) {
        const struct trial_method *tm = &t->m[m];
        strbuf_printf(&b, "method.%d=%s\n", m, tm->ops->name);
        for (int i = 0; i < tm->hp.n; i++) {
            char hv[512];
            hp_format(&tm->hp, i, hv, sizeof hv);
            strbuf_printf(&b, "%s.%s=", tm->ops->name, tm->hp.defs[i].name);
            sb_escaped(&b, hv);
            strbuf_put(&b, "\n", 1);
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
