/*
 * precision: switch a built model between fp32 (default, the reference) and bf16 mixed
 * precision.
 *
 * bf16 means (issue 18):
 *   - frozen matrices of the encoder (the six Linear weights of every layer and the word
 *     embedding table) are stored once in bf16, halving the accountant's frozen bytes; the
 *     small frozen tensors (biases, LayerNorm, position and type tables, the head) stay fp32;
 *   - the Linear products of the encoder run on the bf16 backend: activations and gradients
 *     are cast per call into the backend's scratch, accumulation and outputs are fp32;
 *   - everything numerically delicate stays fp32: softmax and attention's products, LayerNorm
 *     statistics, GELU, dropout, the loss, and the residual stream between sublayers (kept
 *     fp32 because each post-LN block adds a sublayer output to it: storing it in bf16 would
 *     round the sum every layer, 2^-8 relative, compounding over L layers, while keeping it
 *     costs activation memory only, not GEMM speed);
 *   - trainable tensors (method tensors, head, unfrozen base weights) keep fp32 master copies,
 *     fp32 gradients and fp32 AdamW state; a trainable encoder weight (full fine-tuning) is
 *     cast per call.  Method GEMMs (LoRA, adapters, prefix MLP) stay fp32.
 * Call after the methods are attached (which decides what is trainable): a tensor made
 * trainable later is widened back to fp32 by param_set_trainable.
 */
#ifndef MODEL_ARCH_PRECISION_H
#define MODEL_ARCH_PRECISION_H

#include "base/err.h"
#include "model/arch/model.h"
#include "model/engine/matmul.h"

/* Switch m to prec.  bf16: the first time, creates the model's oneDNN backend (m->mm, charged
 * to m->acct, freed by model_destroy); refused with ERR_UNSUPPORTED on a CPU without
 * AVX512_BF16/AMX (bf16_cpu_ok), never silently fp32.  fp32 widens every bf16 tensor back
 * exactly and detaches the backend. */
int model_set_precision(struct model *m, enum matmul_prec prec, struct err *e);

/* The precision m runs in now. */
enum matmul_prec model_precision(const struct model *m);

#endif
