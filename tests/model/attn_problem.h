/* The attention test problem shared by the ops tests (tests/model/test_ops_*.c): one shape
 * (batch, sequence, width, heads, prefix rows, dropout), random inputs and gradient buffers in
 * ops_fixture scratch memory, and op_attention_fwd / op_attention_bwd over them. */
#ifndef TESTS_MODEL_ATTN_PROBLEM_H
#define TESTS_MODEL_ATTN_PROBLEM_H

#include <stdint.h>

/* Attention test problem: shapes, inputs and gradient buffers. */
struct attn_shape {
    int B, T, D, H, P;
    float drop;
};

struct attn_prob {
    struct attn_shape s;
    float *q, *k, *v;    /* (B, T, D) */
    float *pk, *pv;      /* (P, D) or NULL */
    int *mask;           /* (B, T) */
    float *out, *probs;  /* (B, T, D), (B, H, T, P+T) */
    float *ws;           /* op_attention_ws_floats */
    float *r;            /* (B, T, D) loss weights = dout */
    float *dq, *dk, *dv; /* (B, T, D) */
    float *dpk, *dpv;    /* (P, D) or NULL */
    uint64_t seed, stream;
};

/* Random inputs; odd sequences get their last third padded. */
void attn_prob_init(struct attn_prob *a, const struct attn_shape *s, uint64_t seed);

/* op_attention_fwd into a->out, a->probs. */
void attn_fwd(struct attn_prob *a);

/* op_attention_bwd of the loss weights a->r into a->dq, a->dk, a->dv and dpk, dpv (NULL: a
 * frozen prefix). */
void attn_bwd(struct attn_prob *a, float *dpk, float *dpv);

/* The shapes the fast op is compared on against its reference (the last ones are big enough
 * for the parallel path), and their number. */
extern const struct attn_shape ref_attn_shapes[];
extern const int n_ref_attn_shapes;

#endif
