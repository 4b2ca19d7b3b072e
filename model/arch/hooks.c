#include "model/arch/hooks.h"

#include <stdlib.h>
#include <string.h>

const char *hook_site_name(enum hook_site s)
{
    static const char *names[SITE_COUNT] = {"q",      "k",       "v",          "o",
                                            "ffn_in", "ffn_out", "attn_block", "ffn_block"};
    return ((int)s >= 0 && s < SITE_COUNT) ? names[s] : "?";
}

static const char *phase_name(enum hook_phase p)
{
    switch (p) {
    case HOOK_IN: return "in";
    case HOOK_ADD: return "add";
    case HOOK_OUT: return "out";
    case HOOK_POST_LN: return "post_ln";
    }
    return "?";
}

void hook_set_init(struct hook_set *hs)
{
    memset(hs, 0, sizeof *hs);
}

void hook_set_clear(struct hook_set *hs)
{
    hs->n = 0;
    hs->nsteps = 0;
    memset(&hs->prefix, 0, sizeof hs->prefix);
}

void hook_set_destroy(struct hook_set *hs)
{
    if (!hs)
        return;
    free(hs->items);
    memset(hs, 0, sizeof *hs);
}

static bool phase_valid(enum hook_site s, enum hook_phase p)
{
    if (hook_site_is_linear(s))
        return p == HOOK_IN || p == HOOK_ADD || p == HOOK_OUT;
    return p == HOOK_ADD || p == HOOK_POST_LN;
}

int hook_add(struct hook_set *hs, const struct hook *h, struct err *e)
{
    const char *owner = h->owner ? h->owner : "?";
    if ((int)h->site < 0 || h->site >= SITE_COUNT || !h->fwd)
        return ERR_SET(e, ERR_STATE, "%s: invalid hook (site %d)", owner, (int)h->site);
    if (!phase_valid(h->site, h->phase))
        return ERR_SET(e, ERR_CONFIG, "%s: phase '%s' is not allowed at site '%s'", owner,
                       phase_name(h->phase), hook_site_name(h->site));
    if (h->phase != HOOK_ADD) {
        const struct hook *other;
        if (hook_find_any(hs, h->layer, h->site, h->phase, &other, 1) > 0)
            return ERR_SET(e, ERR_CONFIG,
                           "%s and %s both need the single '%s' slot of site '%s' in layer %d; "
                           "they cannot be composed",
                           other->owner ? other->owner : "?", owner, phase_name(h->phase),
                           hook_site_name(h->site), h->layer);
    }
    if (hs->n == hs->cap) {
        int cap = hs->cap ? 2 * hs->cap : 32;
        struct hook *items = realloc(hs->items, (size_t)cap * sizeof *items);
        if (!items)
            return ERR_SET(e, ERR_NOMEM, "out of memory adding a hook");
        hs->items = items;
        hs->cap = cap;
    }
    hs->items[hs->n++] = *h;
    return ERR_OK;
}

int hook_set_prefix(struct hook_set *hs, const struct prefix_provider *p, const char *owner,
                    struct err *e)
{
    if (hs->prefix.P > 0)
        return ERR_SET(e, ERR_CONFIG, "%s: another method already supplies attention prefix rows",
                       owner);
    if (p->P <= 0 || !p->kv)
        return ERR_SET(e, ERR_STATE, "%s: invalid prefix provider", owner);
    hs->prefix = *p;
    return ERR_OK;
}

int hook_add_step(struct hook_set *hs, const struct step_hook *s, struct err *e)
{
    if (hs->nsteps == HOOKS_MAX_STEP)
        return ERR_SET(e, ERR_LIMIT, "more than %d step hooks", HOOKS_MAX_STEP);
    hs->steps[hs->nsteps++] = *s;
    return ERR_OK;
}

bool hook_inert(const struct hook *h)
{
    static const char suffix[] = " [merged]";
    size_t n = h->owner ? strlen(h->owner) : 0, k = sizeof suffix - 1;
    return n >= k && strcmp(h->owner + n - k, suffix) == 0;
}

const struct hook *hook_set_first_inert(const struct hook_set *hs)
{
    for (int i = 0; i < hs->n; i++)
        if (hook_inert(&hs->items[i]))
            return &hs->items[i];
    return NULL;
}

static int find(const struct hook_set *hs, int layer, enum hook_site site, enum hook_phase phase,
                const struct hook **out, int max, bool with_inert)
{
    int k = 0;
    for (int i = 0; i < hs->n; i++) {
        const struct hook *h = &hs->items[i];
        if (h->layer == layer && h->site == site && h->phase == phase &&
            (with_inert || !hook_inert(h))) {
            if (k < max)
                out[k] = h;
            k++;
        }
    }
    return k;
}

int hook_find(const struct hook_set *hs, int layer, enum hook_site site, enum hook_phase phase,
              const struct hook **out, int max)
{
    return find(hs, layer, site, phase, out, max, false);
}

int hook_find_any(const struct hook_set *hs, int layer, enum hook_site site,
                  enum hook_phase phase, const struct hook **out, int max)
{
    return find(hs, layer, site, phase, out, max, true);
}

bool hook_layer_trainable(const struct hook_set *hs, int layer)
{
    if (hs->prefix.P > 0 && hs->prefix.trainable)
        return true;
    for (int i = 0; i < hs->n; i++)
        if (hs->items[i].layer == layer && hs->items[i].trainable)
            return true;
    return false;
}

bool hook_any(const struct hook_set *hs, int layer, enum hook_site site)
{
    for (int i = 0; i < hs->n; i++)
        if (hs->items[i].layer == layer && hs->items[i].site == site)
            return true;
    return false;
}
