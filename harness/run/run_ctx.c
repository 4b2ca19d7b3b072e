/*
 * run_ctx: the state shared by the sweep driver's files (harness/run/run_ctx.h): signal
 * flag, tokenized-data cache, trial selection.  Moved out of run.c, which grew too long.
 */
#include "harness/run/run_ctx.h"

#include <stdlib.h>
#include <string.h>

#include "harness/run/file_task_params.h"
#include "harness/run/run_opts.h"
#include "model/text/tokenizer.h"

volatile sig_atomic_t run_stop_flag;

static void on_signal(int sig)
{
    run_stop_flag = sig;
}

void run_ctx_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int load_entry(struct run_ctx *c, struct data_entry *d, const struct trial *t,
                      struct err *e)
{
    struct task_params p;
    task_params_init(&p);
    const char *env = getenv("PEFTBENCH_DATA");
    p.data_dir = c->sw.data_dir[0] ? c->sw.data_dir : env;
    p.seed = t->seed;
    p.max_train = (size_t)t->train.max_train;
    p.max_dev = (size_t)t->train.max_dev;
    p.max_test = (size_t)t->train.max_test;
    const struct file_task_decl *fd = sweep_file_task(&c->sw, t->task);
    static const char *labels[TASK_MAX_LABELS];
    int nlabels = 0;
    const struct task_def *def;
    if (fd) {
        run_file_task_params(&p, fd, labels, &nlabels);
        def = task_find("file");
    } else {
        def = task_lookup(t->task, c->sw.path, e);
    }
    if (!def)
        return e->code;
    if (task_load(&d->td, def, &p, e))
        return e->code;
    int L = t->train.max_seq_len;
    if (batching_tokenize(&d->train, &d->td.train, d->td.kind, c->tok, L, e) ||
        batching_tokenize(&d->dev, &d->td.dev, d->td.kind, c->tok, L, e) ||
        (d->td.test.n > 0 && d->td.test.labeled &&
         batching_tokenize(&d->test, &d->td.test, d->td.kind, c->tok, L, e)))
        return err_prefix(e, "task %s", t->task);
    return ERR_OK;
}

static void entry_free(struct data_entry *d)
{
    tok_split_free(&d->train);
    tok_split_free(&d->dev);
    tok_split_free(&d->test);
    task_data_free(&d->td);
    memset(d, 0, sizeof *d);
}

struct data_entry *run_ctx_data(struct run_ctx *c, const struct trial *t, struct err *e)
{
    struct data_entry *lru = &c->cache[0];
    for (int i = 0; i < DATA_CACHE; i++) {
        struct data_entry *d = &c->cache[i];
        if (d->used && strcmp(d->task, t->task) == 0 && d->seed == t->seed &&
            d->max_train == t->train.max_train && d->max_dev == t->train.max_dev &&
            d->max_test == t->train.max_test && d->max_seq_len == t->train.max_seq_len) {
            d->last_use = ++c->uses;
            return d;
        }
        if (!d->used || (lru->used && d->last_use < lru->last_use))
            lru = d;
    }
    entry_free(lru);
    if (load_entry(c, lru, t, e)) {
        entry_free(lru);
        return NULL;
    }
    lru->used = true;
    snprintf(lru->task, sizeof lru->task, "%s", t->task);
    lru->seed = t->seed;
    lru->max_train = t->train.max_train;
    lru->max_dev = t->train.max_dev;
    lru->max_test = t->train.max_test;
    lru->max_seq_len = t->train.max_seq_len;
    lru->last_use = ++c->uses;
    return lru;
}

bool run_ctx_selected(const struct run_opts *o, const struct trial *t)
{
    if (o->trial_id)
        return strcmp(t->id, o->trial_id) == 0; /* at o->trial: checked by check_trial_id */
    if (o->trial >= 0)
        return t->index == o->trial;
    if (o->shard_n > 0)
        return t->index % o->shard_n == o->shard_i;
    return true;
}

void run_ctx_free(struct run_ctx *c)
{
    for (int i = 0; i < DATA_CACHE; i++)
        entry_free(&c->cache[i]);
    tokenizer_free(c->tok);
    sweep_free(&c->sw);
    run_tally_free(&c->tally);
}
