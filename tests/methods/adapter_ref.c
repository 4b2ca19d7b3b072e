/* The double-precision reference of the bottleneck-adapter tests: adapter projections (dense or
 * PHM, rebuilt as a naive Kronecker sum), a whole adapter, and a check of a block's saved output
 * against the reference block; see adapter_ref.h. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "tests/methods/adapter_fixture.h"
#include "tests/methods/adapter_ref.h"

static double ref_act(enum act_kind a, double x)
{
    switch (a) {
    case ACT_RELU:
        return x > 0 ? x : 0;
    case ACT_GELU:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case ACT_SWISH:
        return x / (1.0 + exp(-x));
    case ACT_TANH:
        return tanh(x);
    default:
        ck_abort_msg("unexpected activation");
        return 0;
    }
}

/* K (ar*br, ac*bc) = A (ar, ac) ⊗ B (br, bc), accumulated. */
void kron_acc(double *K, const double *A, int ar, int ac, const double *B, int br, int bc)
{
    for (int p = 0; p < ar; p++)
        for (int q = 0; q < ac; q++)
            for (int a = 0; a < br; a++)
                for (int b = 0; b < bc; b++)
                    K[(size_t)(p * br + a) * (size_t)(ac * bc) + (size_t)(q * bc + b)] +=
                        A[p * ac + q] * B[a * bc + b];
}

static const struct param *find(const struct model *m, const char *fmt, const char *a,
                                const char *b)
{
    char name[2 * PARAM_NAME_MAX + 8];
    snprintf(name, sizeof name, fmt, a, b);
    return param_find(&m->ps, name);
}

/* One projection of an adapter as the reference [IN, OUT] matrix (x @ W) and bias.
 * Returns OUT; *W (IN*OUT) and *bias (OUT) are malloc'd. */
int ref_proj(const struct model *m, const char *method, const char *pre, const char *which, int IN,
             double **W, double **bias)
{
    char p2[PARAM_NAME_MAX];
    snprintf(p2, sizeof p2, "%s.%s", pre, which);
    const struct param *w = find(m, "%s.%s", p2, "weight");
    int OUT;
    if (w) { /* dense (OUT, IN) */
        OUT = w->shape[0];
        ck_assert_int_eq(w->shape[1], IN);
        *W = calloc((size_t)IN * OUT, sizeof(double));
        for (int i = 0; i < IN; i++)
            for (int o = 0; o < OUT; o++)
                (*W)[i * OUT + o] = w->data[o * IN + i];
    } else { /* PHM: W = Σ_i A_i ⊗ B_i */
        const struct param *rule = find(m, "%s.%s", p2, "phm_rule");
        if (!rule)
            rule = find(m, "%s.%s", method, "phm_rule");
        ck_assert_ptr_nonnull(rule);
        const int n = rule->shape[0], I = IN / n;
        const struct param *bw = find(m, "%s.%s", p2, "phm_w");
        const struct param *s = find(m, "%s.%s", p2, "phm_s"), *t = find(m, "%s.%s", p2, "phm_t");
        ck_assert(bw || (s && t));
        const int O = bw ? bw->shape[2] : t->shape[2];
        OUT = n * O;
        *W = calloc((size_t)IN * OUT, sizeof(double));
        double *A = calloc((size_t)n * n, sizeof(double)),
               *B = calloc((size_t)I * O, sizeof(double));
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < n * n; k++)
                A[k] = rule->data[i * n * n + k];
            for (int a = 0; a < I; a++)
                for (int b = 0; b < O; b++) {
                    double acc = 0;
                    if (bw) {
                        acc = bw->data[(i * I + a) * O + b];
                    } else {
                        const int r = s->shape[2];
                        for (int k = 0; k < r; k++)
                            acc += (double)s->data[(i * I + a) * r + k] *
                                   (double)t->data[(i * r + k) * O + b];
                    }
                    B[a * O + b] = acc;
                }
            kron_acc(*W, A, n, n, B, I, O);
        }
        free(A);
        free(B);
    }
    *bias = calloc((size_t)OUT, sizeof(double));
    const struct param *pb = find(m, "%s.%s", p2, "bias");
    if (pb)
        for (int o = 0; o < OUT; o++)
            (*bias)[o] = pb->data[o];
    return OUT;
}

/* y (N, D) = A(z) of method's adapter at layer l, block k (0 attention, 1 FFN). */
void ref_adapter(const struct model *m, const char *method, int l, int k, enum act_kind act,
                 const double *z, double *y, int N)
{
    const int D = m->enc.D;
    char pre[PARAM_NAME_MAX];
    snprintf(pre, sizeof pre, "%s.encoder.layer.%d.%s.adapter", method, l,
             k ? "output" : "attention.output");
    double *Wd, *bd, *Wu, *bu;
    const int M = ref_proj(m, method, pre, "down", D, &Wd, &bd);
    ck_assert_int_eq(ref_proj(m, method, pre, "up", M, &Wu, &bu), D);
    double *g = calloc((size_t)M, sizeof(double));
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < M; j++) {
            double u = bd[j];
            for (int i = 0; i < D; i++)
                u += z[n * D + i] * Wd[i * M + j];
            g[j] = ref_act(act, u);
        }
        for (int o = 0; o < D; o++) {
            double acc = bu[o];
            for (int j = 0; j < M; j++)
                acc += g[j] * Wu[j * D + o];
            y[n * D + o] = acc;
        }
    }
    free(g);
    free(Wd);
    free(bd);
    free(Wu);
    free(bu);
}

static void ref_ln(double *y, const double *x, const struct param *g, const struct param *b, int N,
                   int D, double eps)
{
    for (int n = 0; n < N; n++) {
        double mean = 0, var = 0;
        for (int i = 0; i < D; i++)
            mean += x[n * D + i];
        mean /= D;
        for (int i = 0; i < D; i++)
            var += (x[n * D + i] - mean) * (x[n * D + i] - mean);
        var /= D;
        const double rstd = 1.0 / sqrt(var + eps);
        for (int i = 0; i < D; i++)
            y[n * D + i] = (x[n * D + i] - mean) * rstd * (double)g->data[i] + (double)b->data[i];
    }
}

/* Block k of layer l after the last forward must equal
 *   z = h + res + Σ_seq s A(h) + Σ_parallel s A(res);  out = LN(z)  or  LN(z + s A(LN(z)))
 * with the block's own LayerNorm both times. */
void check_block(const struct fx *f, int l, int k, const struct term *t, int nt)
{
    const struct model *m = &f->m;
    const struct blk_save *sv = &m->enc.save[l].blk[k];
    const struct bert_layer *w = &m->enc.layers[l];
    const struct param *g = k ? w->ln2_g : w->ln1_g, *bb = k ? w->ln2_b : w->ln1_b;
    const int N = m->enc.ctx.N, D = m->enc.D;
    const size_t ND = (size_t)N * D;
    double *h = calloc(ND, sizeof(double)), *res = calloc(ND, sizeof(double));
    double *z = calloc(ND, sizeof(double)), *y = calloc(ND, sizeof(double));
    double *nrm = calloc(ND, sizeof(double)), *out = calloc(ND, sizeof(double));
    for (size_t i = 0; i < ND; i++) {
        h[i] = sv->h[i];
        res[i] = sv->res[i];
        z[i] = h[i] + res[i];
    }
    const struct term *post = NULL;
    for (int j = 0; j < nt; j++) {
        if (t[j].pl == BN_POST_LN) {
            post = &t[j];
            continue;
        }
        ref_adapter(m, t[j].method, l, k, t[j].act, t[j].pl == BN_SEQ ? h : res, y, N);
        for (size_t i = 0; i < ND; i++)
            z[i] += t[j].scale * y[i];
    }
    const double eps = m->cfg.layer_norm_eps;
    ref_ln(nrm, z, g, bb, N, D, eps);
    if (post) {
        ref_adapter(m, post->method, l, k, post->act, nrm, y, N);
        for (size_t i = 0; i < ND; i++)
            z[i] += post->scale * y[i];
        ref_ln(out, z, g, bb, N, D, eps);
        ck_assert_ptr_nonnull(sv->r);
    } else {
        memcpy(out, nrm, ND * sizeof(double));
        ck_assert_ptr_null(sv->r);
    }
    double worst = 0;
    for (size_t i = 0; i < ND; i++)
        worst = fmax(worst, fabs(out[i] - (double)sv->out[i]));
    ck_assert_msg(worst < 2e-4, "layer %d block %d: max |out - ref| = %g", l, k, worst);
    free(h);
    free(res);
    free(z);
    free(y);
    free(nrm);
    free(out);
}
