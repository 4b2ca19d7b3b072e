/* The attention test problem shared by the ops tests: random inputs in scratch memory for one
 * shape, and the fast forward / backward over them; see attn_problem.h. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/engine/ops.h"
#include "model/engine/rng.h"
#include "tests/model/attn_problem.h"
#include "tests/model/ops_fixture.h"

/* Random inputs; odd sequences get their last third padded. */
void attn_prob_init(struct attn_prob *a, const struct attn_shape *s, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    memset(a, 0, sizeof(*a));
    a->s = *s;
    size_t n = (size_t)s->B * s->T * s->D, np = (size_t)s->P * s->D;
    a->q = rand_normal(&r, n, 1.0f);
    a->k = rand_normal(&r, n, 1.0f);
    a->v = rand_normal(&r, n, 1.0f);
    if (s->P > 0) {
        a->pk = rand_normal(&r, np, 1.0f);
        a->pv = rand_normal(&r, np, 1.0f);
        a->dpk = tfloats(np);
        a->dpv = tfloats(np);
    }
    a->mask = tints((size_t)s->B * s->T);
    for (int b = 0; b < s->B; b++)
        for (int t = 0; t < s->T; t++)
            a->mask[b * s->T + t] = (b % 2 == 1 && s->T > 1 && t >= s->T - (s->T + 2) / 3) ? 0 : 1;
    a->out = tfloats(n);
    a->probs = tfloats((size_t)s->B * s->H * s->T * (s->P + s->T));
    a->ws = tfloats(op_attention_ws_floats(s->B, s->T, s->D, s->H, s->P));
    a->r = rand_normal(&r, n, 1.0f);
    a->dq = tfloats(n);
    a->dk = tfloats(n);
    a->dv = tfloats(n);
    a->seed = 42;
    a->stream = 7;
}

void attn_fwd(struct attn_prob *a)
{
    const struct attn_shape *s = &a->s;
    op_attention_fwd(a->out, a->probs, a->q, a->k, a->v, a->pk, a->pv, a->mask, s->B, s->T, s->D,
                     s->H, s->P, s->drop, a->seed, a->stream, a->ws);
}

void attn_bwd(struct attn_prob *a, float *dpk, float *dpv)
{
    const struct attn_shape *s = &a->s;
    op_attention_bwd(a->dq, a->dk, a->dv, dpk, dpv, a->r, a->probs, a->q, a->k, a->v, a->pk, a->pv,
                     a->mask, s->B, s->T, s->D, s->H, s->P, s->drop, a->seed, a->stream, a->ws);
}

const struct attn_shape ref_attn_shapes[] = {
    {1, 1, 4, 1, 0, 0.0f},   {2, 5, 6, 2, 0, 0.1f},   {2, 7, 12, 3, 2, 0.0f},
    {3, 9, 8, 2, 4, 0.3f},   {2, 33, 64, 4, 5, 0.1f}, /* big enough for the parallel path */
    {3, 20, 48, 2, 0, 0.0f},
};

const int n_ref_attn_shapes = (int)(sizeof(ref_attn_shapes) / sizeof(ref_attn_shapes[0]));
