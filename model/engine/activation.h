/*
 * activation: the elementwise activation functions of the FFN and adapters (GELU, its tanh
 * approximation, ReLU, Swish, tanh, identity) and their derivatives, named as in HF configs.
 */
#ifndef MODEL_ENGINE_ACTIVATION_H
#define MODEL_ENGINE_ACTIVATION_H

#include <stddef.h>

enum act_kind {
    ACT_GELU = 0, /* erf form: x * 0.5 * (1 + erf(x / sqrt 2))  (BERT "gelu") */
    ACT_GELU_NEW, /* tanh approximation (HF "gelu_new") */
    ACT_RELU,
    ACT_SWISH,    /* x * sigmoid(x) (= silu) */
    ACT_TANH,
    ACT_IDENTITY,
    ACT_COUNT
};

/* Name <-> kind, names as in HF configs: "gelu", "gelu_new", "relu", "swish"
 * (also "silu"), "tanh", "identity".  Returns -1 for an unknown name. */
int act_from_name(const char *name);
const char *act_name(enum act_kind a);

/* y = f(x) elementwise, n elements; y may alias x only for forward-only use. */
void op_act_fwd(enum act_kind a, float *y, const float *x, size_t n);

/* dx = dy * f'(x), n elements; dx overwritten (may alias dy). x is the input. */
void op_act_bwd(enum act_kind a, float *dx, const float *dy, const float *x, size_t n);

#endif
