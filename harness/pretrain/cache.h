/*
 * pretrain cache: reuse a built model directory while its config is unchanged.
 * pretrain_ensure reuses DIR when the config_hash in DIR/pretrain_stats.json is the
 * config's key (config.h) and rebuilds it otherwise, under an flock on DIR.lock so that
 * concurrent sweeps (shards) build once and wait for each other.
 */
#ifndef HARNESS_PRETRAIN_CACHE_H
#define HARNESS_PRETRAIN_CACHE_H

#include <stdbool.h>

#include "base/err.h"
#include "harness/pretrain/build_opts.h"
#include "harness/pretrain/config.h"

/* True when dir holds a complete build whose pretrain_stats.json config_hash is key. */
bool pretrain_is_current(const char *dir, const char *key);

/* Reuse or (re)build dir from the config at config_path; *built tells which. */
int pretrain_ensure(const char *config_path, const char *dir, const struct pretrain_opts *o,
                    bool *built, struct err *e);

/* pretrain_ensure for a loaded config c; force rebuilds a current directory too.
 * Announces a build (and the defaults it used) on o->out. */
int pretrain_ensure_cfg(const struct pretrain_cfg *c, const char *dir,
                        const struct pretrain_opts *o, bool force, bool *built, struct err *e);

#endif
