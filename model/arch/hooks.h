/*
 * hooks: how a PEFT method plugs into the encoder (see DESIGN.md, "Hook sites").
 *
 * A post-LN layer with N = B*T tokens and width D calls hooks at named sites:
 *
 *   q = x·Wq^T + bq        SITE_Q        linear sites
 *   k = x·Wk^T + bk        SITE_K
 *   v = x·Wv^T + bv        SITE_V        [k, v get the prefix rows, if any]
 *   c = attention(q, k, v, mask)
 *   o = c·Wo^T + bo        SITE_O
 *   a = LN1(dropout(o) + x)              SITE_ATTN_BLOCK   block sites
 *   u = a·W1^T + b1        SITE_FFN_IN
 *   g = gelu(u)                          (SITE_FFN_ACT = input of SITE_FFN_OUT)
 *   f = g·W2^T + b2        SITE_FFN_OUT
 *   y = LN2(dropout(f) + a)              SITE_FFN_BLOCK
 *
 * Linear site, forward, with phases applied in this order:
 *   HOOK_IN   x = l_in(x0)                 (at most one per site; IA3 on ffn_act)
 *             z = x W^T + b                (the frozen or trainable base Linear)
 *   HOOK_ADD  z += delta(x)                (any number, attach order; LoRA)
 *   HOOK_OUT  y = l_out(z)                 (at most one per site; IA3 on k, v)
 * i.e. y = l_out ⊙ ((l_in ⊙ x0) W^T + b + Σ s (l_in ⊙ x0) A^T B^T) (METHODS.md §11).
 * Backward runs in reverse: OUT turns dy into dz, ADD hooks accumulate their
 * parameter gradients and add their share of dx (if dx != NULL), the base adds
 * dz·W, IN turns dx into dx0.
 *
 * Block site, forward (z = h + x, where h = dropout(sublayer output) and x the
 * residual input, which is also the sublayer's input):
 *   HOOK_ADD      z += delta(h, x)          (any number; Houlsby reads h, parallel reads x)
 *                 n = LN(z)
 *   HOOK_POST_LN  r = delta(n); out = LN(z + r)   (at most one; Pfeiffer form, same LN)
 *                 otherwise out = n
 *
 * Row counts: a hook must take its row count from io->N, never from the step's N = B*T.
 * Under a head that reads only each sequence's first token (model_forward:
 * encoder_forward_cls) the last layer runs K and V on all N tokens but Q, O, the FFN and
 * both blocks on B rows, one per sequence (io->row_stride = T: row r is token r*T).
 *
 * Attention prefix: one provider may give P key and value rows per layer
 * (prefix tuning); the attention op attends to them and returns their
 * gradients.  Step hooks run once per step before the forward (e.g. to run
 * the prefix MLP) and after the backward (to backpropagate into it).
 */
#ifndef MODEL_HOOKS_H
#define MODEL_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/engine/arena.h"
#include "base/err.h"

enum hook_site {
    SITE_Q = 0,
    SITE_K,
    SITE_V,
    SITE_O,
    SITE_FFN_IN,
    SITE_FFN_OUT,
    SITE_ATTN_BLOCK,
    SITE_FFN_BLOCK,
    SITE_COUNT
};
/* The FFN activation g is the input of the FFN output Linear: HOOK_IN there. */
#define SITE_FFN_ACT SITE_FFN_OUT

enum hook_phase { HOOK_IN = 0, HOOK_ADD, HOOK_OUT, HOOK_POST_LN };

const char *hook_site_name(enum hook_site s);
static inline bool hook_site_is_linear(enum hook_site s)
{
    return s <= SITE_FFN_OUT;
}

/* What every hook sees of the current step. */
struct hook_ctx {
    int B, T, N;          /* batch, padded length, N = B*T rows */
    const int *mask;      /* (B, T) 1 = real token */
    bool train;           /* training step: dropout on, backward follows */
    uint64_t seed;        /* trial seed (dropout) */
    uint64_t stream;      /* this step's dropout stream; derive with rng_stream */
    struct arena *arena;  /* per-step activations: valid until the next step */
};

/* The tensors of one site in one layer for one step.  Which fields are set
 * depends on the site kind and the phase (see the file comment). */
struct site_io {
    int layer;
    enum hook_site site;
    int N, IN, OUT; /* block sites: IN = OUT = D */
    /* Row r of every (N, .) tensor here is token r * row_stride of the batch: 1 normally; T in
     * a layer that runs only each sequence's first token (the last layer under a head that
     * reads only [CLS]).  Per-token randomness must be drawn for token r * row_stride (0 is
     * taken as 1). */
    int row_stride;

    /* linear sites */
    const float *x0; /* (N, IN) site input */
    float *x;        /* (N, IN) effective input (after HOOK_IN; == x0 if none) */
    float *z;        /* (N, OUT) base + ADD output, before HOOK_OUT */
    float *y;        /* (N, OUT) final output */
    float *dy;       /* (N, OUT) grad of y */
    float *dz;       /* (N, OUT) grad of z (HOOK_OUT writes it) */
    float *dx;       /* (N, IN) grad of x: ADD hooks accumulate; NULL = not needed */
    float *dx0;      /* (N, IN) grad of x0: HOOK_IN writes it; NULL = not needed */

    /* block sites */
    const float *h;    /* (N, D) sublayer output after dropout */
    const float *res;  /* (N, D) residual input (= the sublayer input) */
    float *zsum;       /* (N, D) pre-LN sum, ADD hooks add into it */
    const float *n;    /* (N, D) LN(zsum), read by HOOK_POST_LN */
    float *r;          /* (N, D) HOOK_POST_LN output (overwritten) */
    const float *dzsum;/* (N, D) grad of zsum */
    float *dh, *dres;  /* (N, D) ADD hooks accumulate; dres may be NULL */
    const float *dr;   /* (N, D) grad of r */
    float *dn;         /* (N, D) HOOK_POST_LN accumulates grad of n */
};

struct hook;
typedef int (*hook_fn)(const struct hook *h, const struct hook_ctx *c, struct site_io *io,
                       struct err *e);

struct hook {
    enum hook_site site;
    enum hook_phase phase;
    int layer;           /* 0..L-1 */
    bool trainable;      /* owns trainable tensors: backward must reach this layer */
    const char *owner;   /* method name, for messages */
    void *user;          /* the module this hook runs (borrowed) */
    hook_fn fwd;         /* required */
    hook_fn bwd;         /* (optional) NULL when nothing trainable flows through */
};

/* Prefix rows (prefix tuning). */
struct prefix_provider {
    int P;          /* rows per layer; 0 = no provider */
    bool trainable;
    void *user;
    /* (P, D) keys and values of a layer for this step (valid until the next step). */
    void (*kv)(void *user, int layer, const float **pk, const float **pv);
    /* (P, D) gradient buffers to accumulate into, NULL when frozen. */
    void (*grad)(void *user, int layer, float **dpk, float **dpv);
};

/* Per-step callbacks of a method (optional fields may be NULL). */
struct step_hook {
    void *user;
    int (*begin)(void *user, const struct hook_ctx *c, struct err *e);
    int (*end_backward)(void *user, const struct hook_ctx *c, struct err *e);
};

#define HOOKS_MAX_STEP 8

struct hook_set {
    struct hook *items; /* owned */
    int n, cap;
    struct prefix_provider prefix;
    struct step_hook steps[HOOKS_MAX_STEP];
    int nsteps;
};

void hook_set_init(struct hook_set *hs);
void hook_set_destroy(struct hook_set *hs);
/* Remove every hook, provider and step callback (detach all methods). */
void hook_set_clear(struct hook_set *hs);

/* Add a hook.  Errors: phase not valid for the site kind, a second HOOK_IN,
 * HOOK_OUT or HOOK_POST_LN at the same (layer, site) (the message names both
 * owners), missing fwd. */
int hook_add(struct hook_set *hs, const struct hook *h, struct err *e);
/* Install the prefix provider; error if one is installed already. */
int hook_set_prefix(struct hook_set *hs, const struct prefix_provider *p, const char *owner,
                    struct err *e);
int hook_add_step(struct hook_set *hs, const struct step_hook *s, struct err *e);

/* A hook is inert while its method is merged into the base weights: its owner string ends in
 * " [merged]" (the convention of lora.c and ia3.c).  The encoder does not run inert hooks, so
 * merged inference costs exactly the bare backbone's. */
bool hook_inert(const struct hook *h);
/* The first inert hook of the set, or NULL (backward refuses to run past one). */
const struct hook *hook_set_first_inert(const struct hook_set *hs);

/* Active (not inert) hooks at (layer, site) with the given phase, in attach order: returns the
 * count and fills out[] (at most max). */
int hook_find(const struct hook_set *hs, int layer, enum hook_site site, enum hook_phase phase,
              const struct hook **out, int max);
/* The same including inert hooks (for methods checking what is merged where). */
int hook_find_any(const struct hook_set *hs, int layer, enum hook_site site,
                  enum hook_phase phase, const struct hook **out, int max);
/* True if some trainable hook (or a trainable prefix) lives in layer `layer`. */
bool hook_layer_trainable(const struct hook_set *hs, int layer);
/* True if any hook exists at (layer, site) in any phase. */
bool hook_any(const struct hook_set *hs, int layer, enum hook_site site);

#endif
