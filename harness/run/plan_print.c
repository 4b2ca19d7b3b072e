/*
 * plan_print: the `plan` table (harness/run/plan_print.h).  Moved out of run.c, which grew
 * too long.
 */
#include "harness/run/plan_print.h"

#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"
#include "harness/run/plan_estimate.h"
#include "harness/run/plan_status.h"
#include "harness/run/preflight.h"
#include "harness/run/run_ctx.h"
#include "harness/run/run_opts.h"
#include "harness/run/trial_loop.h"
#include "harness/sweep/results.h"
#include "harness/sweep/train_cfg.h"
#include "methods/registry.h"
#include "model/arch/model.h"

/* Training FLOPs per token of a built trial model (rough: dense layers only,
 * attention at full max_seq_len): forward 2N + 4LTD; backward 2N·(fraction of
 * layers the backward crosses) for dX, plus 2 per trainable weight for dW. */
static double train_flops_per_token(const struct model *m, const struct counts *k, int T)
{
    const struct encoder *enc = &m->enc;
    double N = (double)enc->L * (4.0 * enc->D * enc->D + 2.0 * enc->D * enc->F);
    double fwd = 2.0 * N + 4.0 * enc->L * (double)T * enc->D;
    int low = encoder_lowest_trainable(enc);
    double frac = low >= enc->L ? 0.0 : (double)(enc->L - (low < 0 ? 0 : low)) / enc->L;
    return fwd + frac * fwd + 2.0 * (double)k->trainable;
}

static void hp_summary(const struct trial *t, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->nmethods; i++)
        for (int h = 0; h < t->m[i].hp.n; h++) {
            if (!t->m[i].hp.v[h].given)
                continue;
            char v[128];
            hp_format(&t->m[i].hp, h, v, sizeof v);
            o = str_appendf(buf, n, o, "%s%s=%s", o ? " " : "",
                                  t->m[i].hp.defs[h].name, v);
        }
    if (!buf[0])
        snprintf(buf, n, "(defaults)");
}

static int plan_trial(const struct run_ctx *c, const struct bert_config *cfg,
                      const struct trial *t, FILE *out, struct err *e)
{
    const struct task_def *def = task_find(t->task);
    int C = def && def->nlabels > 0 ? def->nlabels : (def && def->kind == TASK_REGRESSION ? 1 : 2);
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    struct method_inst mi[SWEEP_MAX_COMPOSE];
    int nm = 0;
    if (model_create(&m, cfg, C, &acct, e))
        return e->code;
    int rc = trial_create_methods(&m, t, mi, &nm, e);
    if (rc == ERR_OK) {
        struct counts k = trial_count_params(&m, mi, nm);
        double f = train_flops_per_token(&m, &k, t->train.max_seq_len);
        char hp[512];
        hp_summary(t, hp, sizeof hp);
        char lr[32]; /* the resolved lr (harness/sweep/train_resolve.h); '*' = tuned on dev */
        snprintf(lr, sizeof lr, "%.3g%s", t->train.lr,
                 t->tuned & TRAIN_BIT(train_cfg_field_index("lr")) ? "*" : "");
        fprintf(out, "%5d  %s  %-18s %-16s %6llu  %12zu %12zu %8.3f%%  %9.3f  %-8s  %-8s  %s\n",
                t->index, t->id, t->label, t->task, (unsigned long long)t->seed, k.method,
                k.total, 100.0 * (double)k.method / (double)k.backbone, f * 1e-6,
                plan_trial_status(c->out_dir, t->id), lr, hp);
    }
    for (int i = nm; i-- > 0;)
        method_destroy(&mi[i]);
    model_destroy(&m);
    return rc;
}

/* The estimated wall time of the selected trials `run` would train (plan_estimate.h). */
static int print_estimate(const struct run_ctx *c, FILE *out, struct err *e)
{
    const struct trial **todo = malloc((c->sw.ntrials + 1) * sizeof *todo);
    if (!todo)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->sw.ntrials; i++) {
        const struct trial *t = &c->sw.trials[i];
        if (run_ctx_selected(c->o, t) &&
            !results_trial_done(c->out_dir, t->id, !c->o->skip_failed))
            todo[n++] = t;
    }
    plan_estimate_print(out, c->out_dir, todo, n);
    free(todo);
    return ERR_OK;
}

int plan_print(struct run_ctx *c, FILE *out, struct err *e)
{
    /* never builds: a builtin model not built yet gives its dimensions from its
     * pretraining config (harness/run/preflight.h), and the state comes from the records */
    struct preflight pf = {0};
    struct bert_config cfg;
    bool built;
    bool ok = preflight_model_dims(&pf, c->sw.model, &cfg, &built);
    if (!ok)
        ERR_SET(e, ERR_CONFIG, "%s", pf.n ? pf.msg[0] : "cannot read the model's dimensions");
    preflight_free(&pf);
    if (!ok)
        return e->code;
    snprintf(c->out_dir, sizeof c->out_dir, "%s", c->o->out_dir ? c->o->out_dir : "");
    if (!c->o->out_dir)
        snprintf(c->out_dir, sizeof c->out_dir, "results/%s", c->sw.name);
    fprintf(out, "# sweep %s: %zu trials, model %s, results in %s\n", c->sw.name, c->sw.ntrials,
            c->sw.model, c->out_dir);
    plan_builtin_note(out, c->sw.model);
    fprintf(out, "%5s  %-16s  %-18s %-16s %6s  %12s %12s %9s  %9s  %-8s  %-8s  %s\n", "index",
            "trial_id", "method", "task", "seed", "trainable", "total", "train%", "MFLOP/tok",
            "state", "lr", "hyperparameters");
    int rc = ERR_OK;
    for (size_t i = 0; i < c->sw.ntrials && rc == ERR_OK; i++)
        if (run_ctx_selected(c->o, &c->sw.trials[i]))
            rc = plan_trial(c, &cfg, &c->sw.trials[i], out, e);
    hfconfig_free(&cfg);
    if (rc == ERR_OK)
        rc = print_estimate(c, out, e);
    return rc;
}
