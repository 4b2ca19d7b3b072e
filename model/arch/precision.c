/* precision: fp32 <-> bf16 storage of a model's frozen encoder matrices (contract in precision.h). */
#include "model/arch/precision.h"

#include <stdlib.h>

#include "model/engine/bf16.h"
#include "model/engine/matmul_dnnl.h"

/* The encoder tensors that bf16 stores in bf16 when frozen: per layer the six Linear weights,
 * plus the word embeddings; n = how many were written to out (room for 6 L + 1). */
static int big_frozen(struct model *m, struct param **out)
{
    struct encoder *enc = &m->enc;
    int n = 0;
    out[n++] = enc->word;
    for (int l = 0; l < enc->L; l++) {
        struct bert_layer *w = &enc->layers[l];
        struct param *ws[6] = {w->wq, w->wk, w->wv, w->wo, w->w1, w->w2};
        for (int i = 0; i < 6; i++)
            out[n++] = ws[i];
    }
    return n;
}

/* The model's bf16 backend, created on first use. */
static int ensure_backend(struct model *m, struct err *e)
{
    if (m->mm)
        return ERR_OK;
    if (!bf16_cpu_ok())
        return ERR_SET(e, ERR_UNSUPPORTED,
                       "precision bf16 needs a CPU with AVX512_BF16 or AMX-BF16; this one has "
                       "neither (use precision fp32)");
    struct matmul_be *be = calloc(1, sizeof *be);
    if (!be)
        return ERR_SET(e, ERR_NOMEM, "out of memory for the bf16 backend");
    be->prec = MATMUL_BF16;
    if (matmul_dnnl_create(&be->dnnl, m->acct, e)) {
        free(be);
        return e->code;
    }
    m->mm = be;
    return ERR_OK;
}

int model_set_precision(struct model *m, enum matmul_prec prec, struct err *e)
{
    bool bf16 = prec == MATMUL_BF16;
    if (bf16 && ensure_backend(m, e))
        return e->code;
    struct param **ps = malloc(sizeof *ps * (size_t)(6 * m->enc.L + 1));
    if (!ps)
        return ERR_SET(e, ERR_NOMEM, "out of memory switching precision");
    int n = big_frozen(m, ps), rc = ERR_OK;
    for (int i = 0; i < n && rc == ERR_OK; i++) {
        if (bf16 && !ps[i]->trainable)
            rc = param_narrow(&m->ps, ps[i], e);
        else if (!bf16)
            rc = param_widen(&m->ps, ps[i], e);
    }
    free(ps);
    if (rc == ERR_OK)
        m->enc.mm = bf16 ? m->mm : NULL;
    return rc;
}

enum matmul_prec model_precision(const struct model *m)
{
    return m->enc.mm ? m->enc.mm->prec : MATMUL_FP32;
}
