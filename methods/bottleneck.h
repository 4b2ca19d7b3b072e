/*
 * bottleneck: the adapter module shared by houlsby, pfeiffer, parallel (methods/adapters.c),
 * compacter and compacter++ (methods/compacter.c).  METHODS.md §1 and §3.
 *
 *   A(z) = f(z W_down^T + b_down) W_up^T + b_up        z: (N, D)  A(z): (N, D)
 *
 * with W_down (M, D) and W_up (D, M) in the HF (OUT, IN) layout, M the bottleneck width R.
 * A projection is either dense (one trainable matrix) or a PHM layer (Compacter): the reference
 * [IN, OUT] matrix (x @ W) is
 *
 *   W = Σ_{i<n} A_i ⊗ B_i,   A_i (n, n),   B_i (IN/n, OUT/n),   B_i = s_i t_i (factorised, rank r)
 *
 * materialised once per step in the forward, transposed to (OUT, IN) so the ordinary linear op
 * applies it; the backward turns dW into dA, dB (and ds, dt) with the explicit Kronecker ops below.
 *
 * Placements (model/arch/hooks.h, block sites; s = scaling):
 *   BN_SEQ       HOOK_ADD,     zsum += s A(h)   reads the sublayer output h   (Houlsby form)
 *   BN_PARALLEL  HOOK_ADD,     zsum += s A(res) reads the sublayer input res  (He et al.)
 *   BN_POST_LN   HOOK_POST_LN, r = s A(n), n = LN(zsum); out = LN(zsum + r)   (Pfeiffer form)
 * so per block: out = LN(h + x + s A(h)), LN(h + x + s A(x)) or LN(h + x + s A(LN(h + x))).
 *
 * No adapter dropout (AdapterHub's default is 0).
 */
#ifndef METHODS_BOTTLENECK_H
#define METHODS_BOTTLENECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/schema.h"
#include "base/err.h"
#include "model/arch/hooks.h"
#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/rng.h"

/* ---- PHM (Kronecker) ops --------------------------------------------------- */

/*
 * Wt = (Σ_i A_i ⊗ B_i)^T, i.e. Wt[q*O + b][p*I + a] = Σ_i A[i][p][q] B[i][a][b].
 *   Wt: (OUT, IN) overwritten   A: (n, n, n)   B: (n, I, O), I = IN/n, O = OUT/n
 */
void phm_kron_fwd(float *Wt, const float *A, const float *B, int n, int IN, int OUT);

/*
 * Backward of phm_kron_fwd given dWt (OUT, IN):
 *   dA[i][p][q] += Σ_{a,b} dWt[q*O + b][p*I + a] B[i][a][b]     dA: (n, n, n) or NULL
 *   dB[i][a][b] += Σ_{p,q} dWt[q*O + b][p*I + a] A[i][p][q]     dB: (n, I, O) or NULL
 */
void phm_kron_bwd(float *dA, float *dB, const float *dWt, const float *A, const float *B, int n,
                  int IN, int OUT);

/* B_i = s_i t_i.  B: (n, I, O) overwritten  s: (n, I, r)  t: (n, r, O). */
void phm_factor_fwd(float *B, const float *s, const float *t, int n, int I, int O, int r);

/* ds_i += dB_i t_i^T, dt_i += s_i^T dB_i (each may be NULL).  Shapes as phm_factor_fwd. */
void phm_factor_bwd(float *ds, float *dt, const float *dB, const float *s, const float *t, int n,
                    int I, int O, int r);

/* ---- one projection and one adapter module ----------------------------------- */

struct bn_proj {
    int IN, OUT;
    struct param *b; /* (OUT) bias, or NULL (phm_bias=false) */
    /* dense */
    struct param *w; /* (OUT, IN); NULL for PHM */
    /* PHM */
    int n, r;            /* phm_dim; rank of B (0 = B stored whole) */
    struct param *rule;  /* (n, n, n) A: the method's shared rule or this projection's own */
    struct param *s, *t; /* (n, IN/n, r), (n, r, OUT/n) when factorised, else NULL */
    struct param *bw;    /* (n, IN/n, OUT/n) B when not factorised, else NULL */
    /* step state (views into the step arena, valid until the next step) */
    float *Bm; /* (n, IN/n, OUT/n) B of this step (factorised PHM) */
    float *Wt; /* (OUT, IN) weight of this step: w->data or the materialised PHM W^T */
};

enum bn_placement { BN_SEQ = 0, BN_PARALLEL, BN_POST_LN };

struct bottleneck {
    int D, M;          /* width, bottleneck R */
    enum act_kind act; /* f */
    float scale;       /* s */
    enum bn_placement placement;
    struct bn_proj down; /* D -> M */
    struct bn_proj up;   /* M -> D */
    /* step state (arena views) written by bn_forward for bn_backward */
    int N;
    float *u, *g; /* (N, M) pre- and post-activation */
};

/*
 * y = A(z).  y: (N, D) overwritten; z: (N, D).  Materialises PHM weights and saves u, g in
 * arena for bn_backward.  Errors: ERR_NOMEM (arena).
 */
int bn_forward(struct bottleneck *bn, float *y, const float *z, int N, struct arena *arena,
               struct err *e);

/*
 * Backward of the last bn_forward: dy (N, D) is the grad of y = A(z).  Accumulates the grads of
 * every trainable tensor of bn (PHM: via dW, into the rule, factors and bias) and, when dz is
 * non-NULL, adds dA/dz^T dy into dz (N, D).  z must be the forward's input.
 */
int bn_backward(struct bottleneck *bn, float *dz, const float *dy, const float *z, int N,
                struct arena *arena, struct err *e);

/* ---- a method instance built from bottleneck modules ------------------------- */

enum bn_init { BN_INIT_BERT = 0, BN_INIT_HOULSBY, BN_INIT_MAM };

/* What a method asks for (filled by adapters.c / compacter.c from its hyperparameters). */
struct bn_spec {
    const char *name; /* method name: tensor-name prefix and hook owner (static string) */
    int M;            /* bottleneck width (>= 1) */
    enum act_kind act;
    float scale;
    enum bn_placement placement;
    bool attn, ffn; /* sites: SITE_ATTN_BLOCK, SITE_FFN_BLOCK */
    bool train_layernorm;
    enum bn_init init; /* dense projections */
    /* PHM (Compacter): phm = false means dense projections */
    bool phm;
    int phm_dim;  /* n: divides D and M */
    int phm_rank; /* r (factorised only) */
    bool shared_rule, factorized, phm_bias;
    float phm_init_range; /* std of the shared rule's normal init */
    float b_init_gain;    /* Xavier gain of the B factors */
};

struct bn_method {
    struct bn_spec spec;       /* copy */
    int L, nmod;               /* layers; modules = L x (sites per layer) */
    struct bottleneck *mods;   /* (nmod) owned; hooks point into it */
    struct param *shared_rule; /* (n, n, n) "<name>.phm_rule", or NULL; view into the store */
};

/*
 * Register the method's tensors in m's store (PGROUP_METHOD, trainable), initialise them from
 * seed, unfreeze every backbone LayerNorm when train_layernorm, and install one hook per module.
 * On error nothing is attached (hooks added so far are removed) but tensors already registered
 * stay in the store (the store has no removal): discard the model.  *out NULL on error.
 * Destroy the instance only after its hooks are gone (model destroyed or hooks cleared).
 */
int bn_method_create(struct bn_method **out, const struct bn_spec *sp, struct model *m,
                     uint64_t seed, struct err *e);
void bn_method_destroy(struct bn_method *bm);

/* Closed-form trainable count of bn_method_create(sp) on config c (METHODS.md §1.3, §3.4):
 * per dense adapter 2DM + M + D; per PHM projection IN->OUT r(IN + OUT) (factorised) or
 * IN*OUT/n, + OUT with a bias, + n^3 for an own rule; + n^3 once for the shared rule;
 * + 4DL + 2D with train_layernorm (every layer LayerNorm and the embedding LayerNorm). */
size_t bn_method_count(const struct bn_spec *sp, const struct bert_config *c);

/* ---- hyperparameter helpers shared by the adapter methods --------------------- */

/* Bottleneck width on width D: bottleneck if given, else max(1, D / reduction_factor) with the
 * given reduction_factor or def_rf. */
int bn_hp_width(const struct hp_values *hp, int D, int def_rf);

/* Error (ERR_CONFIG, naming both keys) when both bottleneck and reduction_factor are given. */
int bn_hp_check_width(const struct hp_values *hp, const char *method, struct err *e);

/* act_kind of the non_linearity choice ("relu|gelu|swish|tanh"). */
enum act_kind bn_hp_act(const struct hp_values *hp);

/* Choices of non_linearity, in the order bn_hp_act maps them. */
#define BN_ACT_CHOICES "relu|gelu|swish|tanh"

#endif
