/*
 * train_fault: the test-only fault switches (see train_fault.h): their parsing from the
 * environment, and their effect inside one trial's training loop.
 */
#include "harness/sweep/train_fault.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"
#include "methods/registry.h"

/* ---- parsing ------------------------------------------------------------------- */

static int parse_method(char *dst, const char *var, const char *v, size_t len, struct err *e)
{
    char name[TRAIN_FAULT_NAME_MAX];
    if (len == 0 || len >= sizeof name)
        return ERR_SET(e, ERR_CONFIG, "%s='%s': expected a method name (see `peftbench methods`)",
                       var, v);
    memcpy(name, v, len);
    name[len] = '\0';
    if (!method_find(name))
        return ERR_SET(e, ERR_CONFIG, "%s='%s': unknown method '%s' (see `peftbench methods`)",
                       var, v, name);
    memcpy(dst, name, len + 1);
    return ERR_OK;
}

static int parse_frac(double *dst, const char *var, const char *whole, const char *s,
                      struct err *e)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !(x > 0.0) || x > TRAIN_FAULT_MAX_FRAC)
        return ERR_SET(e, ERR_CONFIG,
                       "%s='%s': expected a fraction in (0, %g] (e.g. 0.3 for 30%%), got '%s'",
                       var, whole, TRAIN_FAULT_MAX_FRAC, s);
    *dst = x;
    return ERR_OK;
}

int train_fault_parse(struct train_fault *f, const char *freeze, const char *slow_hook,
                      const char *grow_act, struct err *e)
{
    memset(f, 0, sizeof *f);
    if (freeze && freeze[0] &&
        parse_method(f->freeze, "PEFTBENCH_FAULT_FREEZE", freeze, strlen(freeze), e))
        return e->code;
    if (slow_hook && slow_hook[0]) {
        const char *colon = strchr(slow_hook, ':');
        if (!colon)
            return ERR_SET(e, ERR_CONFIG,
                           "PEFTBENCH_FAULT_SLOW_HOOK='%s': expected <method>:<fraction>, e.g. "
                           "lora:0.3",
                           slow_hook);
        if (parse_method(f->slow, "PEFTBENCH_FAULT_SLOW_HOOK", slow_hook,
                         (size_t)(colon - slow_hook), e) ||
            parse_frac(&f->slow_frac, "PEFTBENCH_FAULT_SLOW_HOOK", slow_hook, colon + 1, e))
            return e->code;
    }
    if (grow_act && grow_act[0] &&
        parse_frac(&f->grow_act, "PEFTBENCH_FAULT_GROW_ACT", grow_act, grow_act, e))
        return e->code;
    return ERR_OK;
}

int train_fault_from_env(struct train_fault *f, struct err *e)
{
    return train_fault_parse(f, getenv("PEFTBENCH_FAULT_FREEZE"),
                             getenv("PEFTBENCH_FAULT_SLOW_HOOK"),
                             getenv("PEFTBENCH_FAULT_GROW_ACT"), e);
}

bool train_fault_any(const struct train_fault *f)
{
    return f && (f->freeze[0] || f->slow[0] || f->grow_act > 0.0);
}

void train_fault_describe(const struct train_fault *f, char *buf, size_t n)
{
    int o = snprintf(buf, n, "%s", "");
    if (f->freeze[0] && o >= 0 && (size_t)o < n)
        o += snprintf(buf + o, n - (size_t)o, "%sFREEZE=%s", o ? " " : "", f->freeze);
    if (f->slow[0] && o >= 0 && (size_t)o < n)
        o += snprintf(buf + o, n - (size_t)o, "%sSLOW_HOOK=%s:%g", o ? " " : "", f->slow,
                      f->slow_frac);
    if (f->grow_act > 0.0 && o >= 0 && (size_t)o < n)
        snprintf(buf + o, n - (size_t)o, "%sGROW_ACT=%g", o ? " " : "", f->grow_act);
}

/* ---- slowed hooks ----------------------------------------------------------------- */

/* A slowed hook: the original (its function and module), and the extra fraction. */
struct slow_wrap {
    struct hook orig;
    double frac;
};

/* Busy-wait (no sleep: the core stays taken, as real extra work would take it) until the
 * call's duration is (1 + frac) times what the original took. */
static void stretch(double t0, double frac)
{
    double until = t0 + (timer_now() - t0) * (1.0 + frac);
    volatile unsigned long spin = 0;
    while (timer_now() < until)
        spin++;
}

static int slow_fwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                    struct err *e)
{
    const struct slow_wrap *w = h->user;
    double t0 = timer_now();
    int rc = w->orig.fwd(&w->orig, c, io, e);
    stretch(t0, w->frac);
    return rc;
}

static int slow_bwd(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                    struct err *e)
{
    const struct slow_wrap *w = h->user;
    double t0 = timer_now();
    int rc = w->orig.bwd(&w->orig, c, io, e);
    stretch(t0, w->frac);
    return rc;
}

static int wrap_hooks(struct train_fault_run *r, struct err *e)
{
    struct hook_set *hs = &r->m->enc.hooks;
    int n = 0;
    for (int i = 0; i < hs->n; i++)
        n += hs->items[i].owner && strcmp(hs->items[i].owner, r->f->slow) == 0;
    if (n == 0)
        return ERR_OK;
    r->wraps = calloc((size_t)n, sizeof *r->wraps);
    if (!r->wraps)
        return ERR_SET(e, ERR_NOMEM, "out of memory for PEFTBENCH_FAULT_SLOW_HOOK");
    for (int i = 0; i < hs->n; i++) {
        struct hook *h = &hs->items[i];
        if (!h->owner || strcmp(h->owner, r->f->slow) != 0)
            continue;
        struct slow_wrap *w = &r->wraps[r->nwraps++];
        w->orig = *h;
        w->frac = r->f->slow_frac;
        h->user = w;
        h->fwd = slow_fwd;
        h->bwd = h->bwd ? slow_bwd : NULL;
    }
    return ERR_OK;
}

/* Put the originals back: the n-th slowed hook of the set is wraps[n]. */
static void unwrap_hooks(struct train_fault_run *r)
{
    struct hook_set *hs = &r->m->enc.hooks;
    for (int i = 0, k = 0; i < hs->n && k < r->nwraps; i++)
        if (hs->items[i].fwd == slow_fwd)
            hs->items[i] = r->wraps[k++].orig;
    free(r->wraps);
    r->wraps = NULL;
    r->nwraps = 0;
}

/* ---- frozen tensors ------------------------------------------------------------------ */

/* The method's tensors: its own ("<method>.*"), and the backbone tensors it made trainable
 * (full, bitfit, train_layernorm) when the trial holds it. */
static bool owned(const struct param *p, const char *method, bool in_trial)
{
    size_t k = strlen(method);
    if (!p->trainable || p->group == PGROUP_HEAD || !p->data)
        return false;
    if (p->group == PGROUP_METHOD)
        return strncmp(p->name, method, k) == 0 && p->name[k] == '.';
    return in_trial;
}

static int pick_frozen(struct train_fault_run *r, const struct method_inst *mi, int nm,
                       struct err *e)
{
    bool in_trial = false;
    for (int i = 0; i < nm; i++)
        in_trial |= strcmp(mi[i].ops->name, r->f->freeze) == 0;
    if (!in_trial)
        return ERR_OK;
    const struct param_store *ps = &r->m->ps;
    r->frozen = calloc(ps->n + 1, sizeof *r->frozen);
    r->saved = calloc(ps->n + 1, sizeof *r->saved);
    if (!r->frozen || !r->saved)
        return ERR_SET(e, ERR_NOMEM, "out of memory for PEFTBENCH_FAULT_FREEZE");
    for (size_t i = 0; i < ps->n; i++) {
        struct param *p = ps->items[i];
        if (!owned(p, r->f->freeze, in_trial))
            continue;
        /* plain malloc: the copies are the fault's, not the trial's memory */
        if (!(r->saved[r->nfrozen] = malloc(p->numel * sizeof(float))))
            return ERR_SET(e, ERR_NOMEM, "out of memory for PEFTBENCH_FAULT_FREEZE");
        r->frozen[r->nfrozen++] = p;
    }
    return ERR_OK;
}

void train_fault_before_update(struct train_fault_run *r)
{
    for (size_t i = 0; i < r->nfrozen; i++)
        memcpy(r->saved[i], r->frozen[i]->data, r->frozen[i]->numel * sizeof(float));
}

void train_fault_after_update(struct train_fault_run *r)
{
    for (size_t i = 0; i < r->nfrozen; i++)
        memcpy(r->frozen[i]->data, r->saved[i], r->frozen[i]->numel * sizeof(float));
}

/* ---- grown activations ------------------------------------------------------------- */

/* The arena's high-water mark is lowered for the step so that the step's own need shows. */
void train_fault_step_begin(struct train_fault_run *r)
{
    if (!r->f || !(r->f->grow_act > 0.0))
        return;
    r->act_high = r->m->enc.arena.high;
    r->m->enc.arena.high = 0;
}

int train_fault_step_end(struct train_fault_run *r, struct err *e)
{
    if (!r->f || !(r->f->grow_act > 0.0))
        return ERR_OK;
    struct arena *a = &r->m->enc.arena;
    if (a->high > r->act_need)
        r->act_need = a->high;
    size_t want = (size_t)ceil((double)r->act_need * (1.0 + r->f->grow_act));
    if (want > a->used) {
        size_t n = (want - a->used) / sizeof(float);
        float *p = arena_floats(a, n);
        if (!p)
            return ERR_SET(e, ERR_NOMEM, "PEFTBENCH_FAULT_GROW_ACT: the arena is exhausted");
        memset(p, 0, n * sizeof(float)); /* touched: resident, as a real need would be */
    }
    if (a->high < r->act_high)
        a->high = r->act_high;
    return ERR_OK;
}

/* ---- begin / end ------------------------------------------------------------------------ */

int train_fault_begin(struct train_fault_run *r, const struct train_fault *f, struct model *m,
                      const struct method_inst *mi, int nm, struct err *e)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    if (!train_fault_any(f))
        return ERR_OK;
    r->f = f;
    if (f->slow[0] && wrap_hooks(r, e))
        return e->code;
    if (f->freeze[0] && pick_frozen(r, mi, nm, e))
        return e->code;
    return ERR_OK;
}

void train_fault_end(struct train_fault_run *r)
{
    if (r->nwraps)
        unwrap_hooks(r);
    for (size_t i = 0; r->saved && i < r->nfrozen; i++)
        free(r->saved[i]);
    free(r->saved);
    free(r->frozen);
    r->saved = NULL;
    r->frozen = NULL;
    r->nfrozen = 0;
}
