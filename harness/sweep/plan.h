/*
 * plan: what a loaded sweep is: its settings and its expanded trials in plan order
 * (struct sweep, struct trial), the file tasks it declares, and freeing it.
 *
 * The data model every sweep file is loaded into (harness/sweep/sweep.h: sweep_load) and
 * that expansion (sweep_expand.h), trial ids (trial_id.h), the runner, reports and the
 * cluster read.  It holds no parsing, so that the parts of the loader can share it without
 * depending on one another.
 */
#ifndef HARNESS_PLAN_H
#define HARNESS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/schema.h"
#include "harness/sweep/train_cfg.h"
#include "methods/method.h"

#define SWEEP_ID_LEN 16 /* hex characters of a trial id (how it is computed: harness/sweep/trial_id.h) */

#define SWEEP_MAX_COMPOSE 4   /* methods composed in one trial */
#define SWEEP_NAME_MAX 128
#define SWEEP_PATH_MAX 4096
#define SWEEP_DEFAULT_SEED 1
#define SWEEP_MAX_TASKS 1024
#define SWEEP_MAX_SEEDS 4096
#define SWEEP_DEFAULT_MAX_TRIALS 10000
#define SWEEP_HARD_MAX_TRIALS 100000 /* even with allow_large: ~5 KiB of memory per trial */

/* One method of a trial, fully resolved. */
struct trial_method {
    const struct method_ops *ops;
    struct hp_values hp;
};

struct trial {
    int index;                        /* position in plan order */
    char id[SWEEP_ID_LEN + 1];        /* stable hash of canonical */
    char task[64];
    uint64_t seed;
    struct train_cfg train;           /* resolved (precedence: harness/sweep/train_resolve.h) */
    train_mask tuned;                 /* settings its block selects on dev (`tune:`) */
    int nmethods;
    struct trial_method m[SWEEP_MAX_COMPOSE];
    char label[128];                  /* methods joined with '+', e.g. "prefix+parallel" */
    char *canonical;                  /* owned: canonical config text (hashed into id) */
};

/* A file task declared in the sweep (tasks: [{name: ..., path: ..., ...}]). */
struct file_task_decl {
    char name[64];
    char **keys, **values; /* owned: (n) scalar fields as text; list values joined by ',' */
    char **where;          /* owned: (n) "file:line:col" of each value */
    int n;
};

struct sweep {
    char name[SWEEP_NAME_MAX];
    char path[SWEEP_PATH_MAX];        /* the file it came from */
    char model[SWEEP_PATH_MAX];       /* "builtin:NAME" or a directory */
    char model_id[SWEEP_PATH_MAX + 16]; /* its identity in trial ids (sweep_opts.model_identity) */
    char data_dir[SWEEP_PATH_MAX];    /* "" when not given */
    char **tasks;                     /* owned: (ntasks) names */
    int ntasks;
    struct file_task_decl *file_tasks;/* owned */
    int nfile_tasks;
    uint64_t *seeds;                  /* owned: (nseeds) */
    int nseeds;
    struct train_cfg train;           /* shared settings (before per-block overrides) */
    train_mask train_given;           /* fields the top-level train: sets */
    train_mask train_cli;             /* ... of those, set by a command-line override */
    size_t max_trials;                /* default 10000 */
    struct trial *trials;             /* owned: (ntrials) in plan order */
    size_t ntrials;
    char *plots_yaml;                 /* owned: the raw `plots:` node as YAML text, or NULL */
    char *resolved_yaml;              /* owned: the resolved sweep (after include/overrides) */
};

/* How sweep_load reads a file (harness/sweep/sweep.h). */
struct sweep_opts {
    const char *const *overrides; /* Hydra-style "train.lr=1e-4", "seeds=1,2" */
    int noverrides;
    bool allow_large;             /* permit more than max_trials trials */
    /* The model's identity for trial ids (harness/run/model_identity.h passes here; the
     * sweep room cannot call it).  NULL (and o NULL): the `model:` string as written, which
     * only tests of the sweep file alone should rely on. */
    void (*model_identity)(const char *model, char *out, size_t n);
};

/* Free everything sweep_load allocated and zero *s (NULL-safe; safe on a zeroed struct). */
void sweep_free(struct sweep *s);

/* The file task declared under name, or NULL (a registry task or unknown). */
const struct file_task_decl *sweep_file_task(const struct sweep *s, const char *name);

#endif
