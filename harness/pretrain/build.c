/*
 * pretrain build: one build of a config, its steps in order (contract in build.h).
 */
#include "harness/pretrain/build.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/timer.h"
#include "harness/pretrain/build_state.h"
#include "harness/pretrain/data.h"
#include "harness/pretrain/mlm_train.h"
#include "harness/pretrain/model_dir.h"
#include "harness/pretrain/publish.h"
#include "model/engine/params.h"

int pretrain_build(const struct pretrain_cfg *cfg, const char *dir, const struct pretrain_opts *o,
                   struct pretrain_stats *st, struct err *e)
{
    memset(st, 0, sizeof *st);
    struct pt p;
    memset(&p, 0, sizeof p);
    p.c = cfg;
    p.o = o;
    p.t0 = timer_now();
    mem_acct_init(&p.acct);
    char tmp[PRETRAIN_PATH_MAX + 64];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid()) >= sizeof tmp)
        return ERR_SET(e, ERR_LIMIT, "model directory path too long: %s", dir);
    int rc = pt_prepare_data(&p, e);
    if (!rc)
        rc = pt_prepare_model(&p, e);
    if (!rc) {
        size_t n = param_store_trainable(&p.m.ps, PGROUP_COUNT);
        pt_say(&p,
               "model L=%d D=%d H=%d F=%d V=%d: %zu encoder + %zu MLM-head parameters; %d "
               "steps of %d sequences, %d thread%s",
               cfg->layers, cfg->hidden, cfg->heads, cfg->ffn, p.nvocab, n,
               param_store_numel(&p.head.ps), cfg->steps, cfg->batch_size, omp_get_max_threads(),
               omp_get_max_threads() > 1 ? "s" : "");
        rc = pt_evaluate(&p, &st->initial_heldout_loss, &st->initial_heldout_acc,
                         &st->initial_heldout_bow, &st->heldout_masked, e);
    }
    if (!rc)
        rc = pt_train_loop(&p, st, e);
    if (!rc)
        rc = pt_evaluate(&p, &st->heldout_loss, &st->heldout_acc, &st->heldout_bow,
                         &st->heldout_masked, e);
    st->train_lines = p.ntrain_lines;
    st->heldout_lines = p.held.n;
    st->vocab_size = p.nvocab;
    if (!rc && pt_stopped(&p))
        rc = pt_interrupted(e);
    if (!rc) {
        st->wall_seconds = timer_now() - p.t0;
        publish_remove_tree(tmp);
        if (mkdir(tmp, 0777) != 0)
            rc = ERR_SET(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        if (!rc)
            rc = pt_write_dir(&p, tmp, st, e);
        if (!rc)
            rc = publish_dir(tmp, dir, e);
        if (rc)
            publish_remove_tree(tmp);
    }
    if (!rc && cfg->cls_bow_weight > 0.0)
        pt_say(&p, "held-out [CLS] bag-of-words loss %.4f (initial %.4f)", st->heldout_bow,
               st->initial_heldout_bow);
    if (!rc)
        pt_say(&p,
               "held-out MLM loss %.4f (initial %.4f), accuracy %.3f (initial %.3f); "
               "final train loss %.4f; %lld tokens in %.1fs (%.1fs CPU training); wrote %s",
               st->heldout_loss, st->initial_heldout_loss, st->heldout_acc, st->initial_heldout_acc,
               st->final_train_loss, st->tokens_seen, st->wall_seconds, st->train_cpu_seconds, dir);
    else if (o->out && o->tty)
        fputc('\n', o->out);
    pt_free(&p);
    return rc;
}
