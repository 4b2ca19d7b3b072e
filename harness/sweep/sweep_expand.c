/*
 * sweep_expand: method blocks -> trials (see sweep_expand.h).  Parses every
 * block, counts the trials with overflow checks before allocating, resolves
 * each grid point (train overrides, method_parse of the hyperparameters),
 * copies it for every task and seed with its canonical text and id, and
 * refuses duplicate ids.
 */
#include "harness/sweep/sweep_expand.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/sweep/sweep_block.h"
#include "harness/sweep/sweep_schema.h"
#include "harness/sweep/train_cfg.h"
#include "harness/sweep/train_resolve.h"
#include "harness/sweep/trial_id.h"
#include "methods/registry.h"

/* Resolve grid point idx of block b: hyperparameters of each method and train settings
 * (in the precedence of train_resolve.h: global and sweep settings in s->train, method
 * defaults under the sweep's, the block's over both, the command line's over all). */
static int resolve_point(const struct sweep *s, const struct sweep_block *b, const size_t *idx,
                         struct trial *t, struct err *e)
{
    t->train = s->train;
    t->nmethods = b->nm;
    train_apply_method_defaults(&t->train, b->ops, b->nm, s->train_given);
    for (int i = 0; i < b->nitems; i++) {
        const struct sweep_item *it = &b->items[i];
        size_t vi = it->axis ? idx[it->dim] : 0;
        if (it->train && train_cfg_set(&t->train, it->idx, it->val[vi], "train", "", e))
            return e->code;
        if (it->tune)
            t->tuned |= TRAIN_BIT(it->idx);
    }
    train_cfg_copy(&t->train, &s->train, s->train_cli);
    for (int m = 0; m < b->nm; m++) {
        struct hp_kv kv[HP_MAX];
        int nkv = 0;
        for (int i = 0; i < b->nitems && nkv < HP_MAX; i++) {
            const struct sweep_item *it = &b->items[i];
            if (it->train || it->method != m)
                continue;
            size_t vi = it->axis ? idx[it->dim] : 0;
            kv[nkv++] = (struct hp_kv){b->ops[m]->hps[it->idx].name, it->text[vi], it->where[vi]};
        }
        t->m[m].ops = b->ops[m];
        if (method_parse(b->ops[m], &t->m[m].hp, kv, nkv, NULL, e)) {
            /* registry checks without a position get the block's */
            bool located = false;
            for (int k = 0; k < nkv; k++)
                located |= strncmp(e->msg, kv[k].where, strlen(kv[k].where)) == 0;
            if (!located)
                err_prefix(e, "%s: method block (%s)", SWEEP_WHERE(b->node), b->ops[m]->name);
            return e->code;
        }
    }
    char label[sizeof t->label];
    sweep_block_label(b, label, sizeof label);
    memcpy(t->label, label, sizeof label);
    return 0;
}

static int expand(struct sweep *s, struct sweep_block *blocks, int nblocks, int *trial_block,
                  struct err *e)
{
    size_t k = 0;
    for (int bi = 0; bi < nblocks; bi++) {
        const struct sweep_block *b = &blocks[bi];
        size_t *idx = calloc((size_t)(b->ndims ? b->ndims : 1), sizeof *idx);
        if (!idx)
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        for (size_t p = 0; p < b->points; p++) {
            struct trial proto;
            memset(&proto, 0, sizeof proto);
            if (resolve_point(s, b, idx, &proto, e)) {
                free(idx);
                return e->code;
            }
            for (int ti = 0; ti < s->ntasks; ti++)
                for (int si = 0; si < s->nseeds; si++) {
                    struct trial *t = &s->trials[k];
                    *t = proto;
                    t->index = (int)k;
                    snprintf(t->task, sizeof t->task, "%s", s->tasks[ti]);
                    t->seed = s->seeds[si];
                    t->canonical = trial_canonical(s, t);
                    s->ntrials = ++k; /* owned from here on */
                    if (!t->canonical) {
                        free(idx);
                        return ERR_SET(e, ERR_NOMEM, "out of memory");
                    }
                    sweep_hash_id(t->canonical, t->id);
                    trial_block[k - 1] = bi;
                }
            for (int d = b->ndims - 1; d >= 0; d--) { /* last axis fastest */
                if (++idx[d] < b->dimlen[d])
                    break;
                idx[d] = 0;
            }
        }
        free(idx);
    }
    return 0;
}

/* A command-line train override beats a block's value (train_resolve.h), so a block
 * that lists values for that setting would collapse into duplicate trials: say so. */
static int check_cli_axes(const struct sweep *s, const struct sweep_block *b, struct err *e)
{
    for (int i = 0; i < b->nitems; i++) {
        const struct sweep_item *it = &b->items[i];
        if (it->train && it->axis && (s->train_cli & TRAIN_BIT(it->idx)))
            return ynode_fail(e, ERR_CONFIG, it->key,
                              "%s: this block lists values of %s, but the command line sets "
                              "train.%s for every trial (a command-line override wins); "
                              "override methods.N.%s.%s instead, or drop the override",
                              train_cfg_field_name(it->idx), train_cfg_field_name(it->idx),
                              train_cfg_field_name(it->idx), it->tune ? "tune" : "train",
                              train_cfg_field_name(it->idx));
    }
    return 0;
}

struct idref {
    const char *id;
    size_t i;
};

static int idref_cmp(const void *a, const void *b)
{
    const struct idref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Duplicate trials are an error (not silently dropped): they usually mean a
 * repeated axis value or two blocks that overlap, which the author should see. */
static int check_duplicates(const struct sweep *s, const struct sweep_block *blocks,
                            const int *trial_block, struct err *e)
{
    if (s->ntrials < 2)
        return 0;
    struct idref *r = malloc(s->ntrials * sizeof *r);
    if (!r)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->ntrials; i++)
        r[i] = (struct idref){s->trials[i].id, i};
    qsort(r, s->ntrials, sizeof *r, idref_cmp);
    size_t a = SIZE_MAX, b = SIZE_MAX;
    for (size_t i = 1; i < s->ntrials; i++)
        if (strcmp(r[i - 1].id, r[i].id) == 0 && r[i].i < b)
            a = r[i - 1].i, b = r[i].i;
    free(r);
    if (b == SIZE_MAX)
        return 0;
    const struct trial *ta = &s->trials[a], *tb = &s->trials[b];
    const struct ynode *na = blocks[trial_block[a]].node, *nb = blocks[trial_block[b]].node;
    if (strcmp(ta->canonical, tb->canonical) != 0)
        return ynode_fail(e, ERR_STATE, nb,
                          "trial id %s collides with a different trial from the "
                          "block at %s (a 64-bit hash collision); change a value slightly",
                          tb->id, SWEEP_WHERE(na));
    if (na == nb)
        return ynode_fail(e, ERR_CONFIG, nb,
                     "this method block produces trial %s (%s on %s, seed %" PRIu64
                     ") twice: a list repeats a value (explicit or equal to a default)",
                     tb->id, tb->label, tb->task, tb->seed);
    return ynode_fail(e, ERR_CONFIG, nb,
                      "this method block repeats trial %s (%s on %s, seed %" PRIu64
                      ") of the block at %s; remove the overlap",
                      tb->id, tb->label, tb->task, tb->seed, SWEEP_WHERE(na));
}

int sweep_expand(struct sweep *s, const struct ynode *root, const struct sweep_opts *o,
                 struct err *e)
{
    const struct ynode *list = ynode_get(root, "methods");
    int nblocks = (int)list->n;
    if (list->n > INT_MAX / 2)
        return ynode_fail(e, ERR_LIMIT, list, "methods: too many blocks");
    struct sweep_block *blocks = calloc(list->n, sizeof *blocks);
    int *trial_block = NULL;
    if (!blocks)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    size_t total = 0, per = (size_t)s->ntasks * (size_t)s->nseeds;
    int largest = 0;
    for (int i = 0; i < nblocks && !rc; i++) {
        rc = sweep_block_parse(&blocks[i], list->items[i], &s->train, e);
        if (!rc)
            rc = check_cli_axes(s, &blocks[i], e);
        if (rc)
            break;
        size_t pts = blocks[i].points;
        if (pts > SIZE_MAX / per || total > SIZE_MAX - pts * per) {
            rc = ynode_fail(e, ERR_LIMIT, blocks[i].node,
                       "the sweep has more trials than can be counted (grid x %d tasks x %d "
                       "seeds overflows at this block); shrink the lists",
                       s->ntasks, s->nseeds);
            break;
        }
        total += pts * per;
        if (pts > blocks[largest].points)
            largest = i;
    }
    if (!rc && total > s->max_trials && !(o && o->allow_large))
        rc = ynode_fail(e, ERR_LIMIT, blocks[largest].node,
                   "the sweep expands to %zu trials, more than max_trials = %zu (this block "
                   "alone gives %zu); raise max_trials or allow large sweeps explicitly",
                   total, s->max_trials, blocks[largest].points * per);
    if (!rc && total > SWEEP_HARD_MAX_TRIALS)
        rc = ynode_fail(e, ERR_LIMIT, blocks[largest].node,
                   "the sweep expands to %zu trials, more than the hard limit of %d "
                   "(SWEEP_HARD_MAX_TRIALS); split it",
                   total, SWEEP_HARD_MAX_TRIALS);
    if (!rc) {
        s->trials = calloc(total ? total : 1, sizeof *s->trials);
        trial_block = calloc(total ? total : 1, sizeof *trial_block);
        if (!s->trials || !trial_block)
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    if (!rc)
        rc = expand(s, blocks, nblocks, trial_block, e);
    if (!rc)
        rc = check_duplicates(s, blocks, trial_block, e);
    free(trial_block);
    for (int i = 0; i < nblocks; i++)
        sweep_block_free(&blocks[i]);
    free(blocks);
    return rc;
}
