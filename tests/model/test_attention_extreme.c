/*
 * Attention at extreme scores (issue 16).  A padded key whose score exceeds its row's largest
 * attendable score by more than ~88 overflows exp to +Inf, and a kernel that multiplied the
 * exponential by the 0/1 key mask turned the whole row into NaN (Inf * 0).  Here: gaps of 80
 * (no overflow), 90, 1e4 and a score that overflows to +Inf, for the fast kernel
 * (attention.c) and the reference (ops_ref.c), forward and backward; the special rows (no
 * attendable key, an infinite attendable maximum, NaN scores) on both; and a whole padded
 * training step of a tiny encoder whose padded keys dominate every score, against each
 * example run alone.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch/model.h"
#include "model/engine/ops.h"
#include "model/engine/ops_ref.h"
#include "model/engine/rng.h"
#include "tests/model/attn_problem.h"
#include "tests/model/ops_fixture.h"
#include "tests/suites.h"

/* ---- padded keys far above the attendable maximum ------------------------------ */

/* Head width 4 everywhere below: the score scale 1/sqrt(4) = 0.5 is exact, so a key
 * (c, c, 0, 0) against a query (1, 1, x, y) scores exactly c. */
enum { XDH = 4 };

struct gap_case {
    float gap; /* pad score - the largest attendable score of its (b, h); Inf: overflow */
    int P;     /* prefix rows */
    float drop;
};

static const struct gap_case gap_cases[] = {
    {80.0f, 0, 0.0f}, {90.0f, 0, 0.0f}, {1e4f, 0, 0.0f}, {INFINITY, 0, 0.0f},
    {80.0f, 2, 0.1f}, {90.0f, 2, 0.1f}, {1e4f, 2, 0.0f}, {INFINITY, 2, 0.1f},
};

/* Pads the last three tokens of sequence 2 too (attn_prob_init pads odd sequences only) and
 * pins the first two columns of every query head to 1. */
static void gap_problem(struct attn_prob *a)
{
    const struct attn_shape *s = &a->s;
    for (int t = s->T - 3; t < s->T; t++)
        a->mask[2 * s->T + t] = 0;
    for (size_t r = 0; r < (size_t)s->B * s->T; r++)
        for (int h = 0; h < s->H; h++) {
            a->q[r * s->D + (size_t)h * XDH] = 1.0f;
            a->q[r * s->D + (size_t)h * XDH + 1] = 1.0f;
        }
}

/* Largest attendable score (prefix rows and real tokens) over every query of (b, h), in
 * double. */
static double attendable_max(const struct attn_prob *a, int b, int h)
{
    const struct attn_shape *s = &a->s;
    double mx = -HUGE_VAL;
    for (int i = 0; i < s->T; i++) {
        const float *qi = a->q + ((size_t)b * s->T + i) * s->D + (size_t)h * XDH;
        for (int j = 0; j < s->P + s->T; j++) {
            if (j >= s->P && !a->mask[b * s->T + j - s->P])
                continue;
            const float *kj =
                j < s->P ? a->pk + (size_t)j * s->D : a->k + ((size_t)b * s->T + j - s->P) * s->D;
            double d = 0.0;
            for (int c = 0; c < XDH; c++)
                d += (double)qi[c] * (double)kj[(size_t)h * XDH + c];
            mx = fmax(mx, 0.5 * d);
        }
    }
    return mx;
}

/* Every padded key of (b, h) becomes (c, c, 0, 0): score c = max + gap for every query, or
 * 2 FLT_MAX * 0.5 = +Inf in float (finite in the reference's double) when gap is Inf. */
static void set_pad_keys(struct attn_prob *a, float gap)
{
    const struct attn_shape *s = &a->s;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->H; h++) {
            float c = isinf(gap) ? FLT_MAX : (float)(attendable_max(a, b, h) + (double)gap);
            for (int t = 0; t < s->T; t++) {
                if (a->mask[b * s->T + t])
                    continue;
                float *kt = a->k + ((size_t)b * s->T + t) * s->D + (size_t)h * XDH;
                kt[0] = kt[1] = c;
                kt[2] = kt[3] = 0.0f;
            }
        }
}

/* Every probability finite, every padded key's exactly +0, every row summing to 1. */
static void assert_probs_sane(const char *what, const struct attn_prob *a, const float *probs)
{
    const struct attn_shape *s = &a->s;
    const int J = s->P + s->T;
    for (int b = 0; b < s->B; b++)
        for (int h = 0; h < s->H; h++)
            for (int i = 0; i < s->T; i++) {
                const float *row = probs + (((size_t)b * s->H + h) * s->T + i) * J;
                double sum = 0.0;
                for (int j = 0; j < J; j++) {
                    bool pad = j >= s->P && !a->mask[b * s->T + j - s->P];
                    ck_assert_msg(
                        isfinite(row[j]) && (!pad || (row[j] == 0.0f && !signbit(row[j]))),
                        "%s: (b %d, h %d, i %d, j %d) = %g", what, b, h, i, j, (double)row[j]);
                    sum += (double)row[j];
                }
                ck_assert_msg(fabs(sum - 1.0) < 1e-5, "%s: row (%d, %d, %d) sums to %.9g", what, b,
                              h, i, sum);
            }
}

/* The reference twins on a's inputs against a's fast results (forward and backward). */
static void assert_matches_ref(const struct attn_prob *a)
{
    const struct attn_shape *s = &a->s;
    size_t n = (size_t)s->B * s->T * s->D, np = (size_t)s->P * s->D;
    size_t nprob = (size_t)s->B * s->H * s->T * (s->P + s->T);
    float *out = tfloats(n), *probs = tfloats(nprob);
    op_attention_fwd_ref(out, probs, a->q, a->k, a->v, a->pk, a->pv, a->mask, s->B, s->T, s->D,
                         s->H, s->P, s->drop, a->seed, a->stream, NULL);
    assert_probs_sane("ref probs", a, probs);
    assert_close("ref vs fast probs", a->probs, probs, nprob, 1e-6, 1e-5);
    assert_close("ref vs fast out", a->out, out, n, 1e-5, 1e-4);
    float *dq = tfloats(n), *dk = tfloats(n), *dv = tfloats(n);
    float *dpk = s->P ? tfloats(np) : NULL, *dpv = s->P ? tfloats(np) : NULL;
    op_attention_bwd_ref(dq, dk, dv, dpk, dpv, a->r, a->probs, a->q, a->k, a->v, a->pk, a->pv,
                         a->mask, s->B, s->T, s->D, s->H, s->P, s->drop, a->seed, a->stream, NULL);
    assert_close("ref vs fast dq", a->dq, dq, n, 1e-5, 1e-4);
    assert_close("ref vs fast dk", a->dk, dk, n, 1e-5, 1e-4);
    assert_close("ref vs fast dv", a->dv, dv, n, 1e-5, 1e-4);
    if (s->P > 0) {
        assert_close("ref vs fast dpk", a->dpk, dpk, np, 1e-4, 1e-4);
        assert_close("ref vs fast dpv", a->dpv, dpv, np, 1e-4, 1e-4);
    }
}

/*
 * Padded keys gap above the attendable maximum: finite, padded probabilities exactly 0, the
 * reference agrees, and the fast results are bit-identical to the same problem with ordinary
 * padded keys (a padded key's score must not matter at all), queries subset included.
 */
START_TEST(attention_padded_key_gap)
{
    const struct gap_case *g = &gap_cases[_i];
    const struct attn_shape s = {3, 6, 2 * XDH, 2, g->P, g->drop};
    struct attn_prob a, base;
    attn_prob_init(&a, &s, 3100 + (uint64_t)_i);
    attn_prob_init(&base, &s, 3100 + (uint64_t)_i);
    gap_problem(&a);
    gap_problem(&base);
    set_pad_keys(&a, g->gap);
    const size_t n = (size_t)s.B * s.T * s.D, np = (size_t)s.P * s.D;
    const size_t nprob = (size_t)s.B * s.H * s.T * (s.P + s.T);

    attn_fwd(&a);
    attn_fwd(&base);
    assert_probs_sane("fast probs", &a, a.probs);
    assert_bits_equal("probs vs ordinary pads", a.probs, base.probs, nprob);
    assert_bits_equal("out vs ordinary pads", a.out, base.out, n);
    attn_bwd(&a, a.dpk, a.dpv);
    attn_bwd(&base, base.dpk, base.dpv);
    assert_bits_equal("dq vs ordinary pads", a.dq, base.dq, n);
    assert_bits_equal("dk vs ordinary pads", a.dk, base.dk, n);
    assert_bits_equal("dv vs ordinary pads", a.dv, base.dv, n);
    if (s.P > 0) {
        assert_bits_equal("dpk vs ordinary pads", a.dpk, base.dpk, np);
        assert_bits_equal("dpv vs ordinary pads", a.dpv, base.dpv, np);
    }
    assert_matches_ref(&a);

    /* The first query only (the compact last layer) gets the same context, bit for bit. */
    float *out1 = tfloats((size_t)s.B * s.D), *probs1 = tfloats((size_t)s.B * s.H * (s.P + s.T));
    float *q1 = tfloats((size_t)s.B * s.D);
    for (int b = 0; b < s.B; b++)
        memcpy(q1 + (size_t)b * s.D, a.q + (size_t)b * s.T * s.D, (size_t)s.D * sizeof(float));
    op_attention_fwd_q(out1, probs1, q1, a.k, a.v, a.pk, a.pv, a.mask, s.B, s.T, 1, s.D, s.H, s.P,
                       s.drop, a.seed, a.stream, a.ws);
    for (int b = 0; b < s.B; b++)
        assert_bits_equal("Tq = 1 out", out1 + (size_t)b * s.D, a.out + (size_t)b * s.T * s.D,
                          (size_t)s.D);
}
END_TEST

/* ---- the special rows ----------------------------------------------------------- */

/*
 * One sequence per case, T = 4, one head of width 4, queries (1, 1, x, y) but in seq 3:
 *   0  no attendable key (and padded scores that overflow): zero row, zero gradients
 *   1  a real key scoring +Inf: attendable max +Inf -> NaN row
 *   2  every real key scoring -Inf: attendable max -Inf -> NaN row
 *   3  padded keys scoring NaN (+Inf - Inf from finite inputs): ordinary row
 *   4  query row 1 NaN: that row NaN, the others ordinary
 */
enum { SB = 5, ST = 4 };

static void special_problem(struct attn_prob *a)
{
    static const int len[SB] = {0, 3, 2, 2, ST};
    const float big[XDH] = {FLT_MAX, FLT_MAX, 0.0f, 0.0f};
    for (int b = 0; b < SB; b++)
        for (int t = 0; t < ST; t++) {
            size_t r = ((size_t)b * ST + t) * XDH;
            a->mask[b * ST + t] = t < len[b];
            /* seq 3: query (2, -2, x, y) against a padded (FLT_MAX, FLT_MAX, 0, 0): the
             * products overflow to +Inf and -Inf, and the score is NaN in float */
            a->q[r] = b == 3 ? 2.0f : 1.0f;
            a->q[r + 1] = b == 3 ? -2.0f : 1.0f;
            if (b == 0 || (b == 3 && t >= len[b]))
                memcpy(a->k + r, big, sizeof big);
        }
    float *k1 = a->k + (1 * ST + 0) * XDH;
    k1[0] = INFINITY;
    k1[1] = k1[2] = k1[3] = 0.0f;
    for (int t = 0; t < 2; t++) {
        float *k2 = a->k + (2 * ST + (size_t)t) * XDH;
        k2[0] = -INFINITY;
        k2[1] = k2[2] = k2[3] = 0.0f;
    }
    for (int c = 0; c < XDH; c++)
        a->q[(4 * ST + 1) * XDH + (size_t)c] = NAN;
}

/* Row i of sequence b: every probability NaN, or none and the row ordinary (sum 1, padded
 * keys +0), or all +0 (no attendable key). */
enum row_kind { ROW_ZERO, ROW_NAN, ROW_OK };

static enum row_kind special_row_kind(int b, int i)
{
    if (b == 0)
        return ROW_ZERO;
    if (b == 1 || b == 2 || (b == 4 && i == 1))
        return ROW_NAN;
    return ROW_OK;
}

static void assert_special_rows(const char *what, const struct attn_prob *a, const float *probs,
                                const float *out)
{
    for (int b = 0; b < SB; b++)
        for (int i = 0; i < ST; i++) {
            const float *p = probs + ((size_t)b * ST + i) * ST,
                        *o = out + ((size_t)b * ST + i) * XDH;
            enum row_kind want = special_row_kind(b, i);
            double sum = 0.0;
            for (int j = 0; j < ST; j++) {
                bool ok = want == ROW_NAN ? isnan(p[j])
                          : want == ROW_ZERO
                              ? p[j] == 0.0f
                              : isfinite(p[j]) && (a->mask[b * ST + j] || p[j] == 0.0f);
                ck_assert_msg(ok, "%s: seq %d row %d key %d: %g", what, b, i, j, (double)p[j]);
                sum += (double)p[j];
            }
            if (want == ROW_OK)
                ck_assert_msg(fabs(sum - 1.0) < 1e-5, "%s: seq %d row %d sums to %g", what, b, i,
                              sum);
            for (int c = 0; c < XDH; c++)
                ck_assert_msg(want == ROW_NAN    ? isnan(o[c])
                              : want == ROW_ZERO ? o[c] == 0.0f
                                                 : isfinite(o[c]),
                              "%s: seq %d out row %d: %g", what, b, i, (double)o[c]);
        }
}

/* Gradients (rows of dq, dk, dv): zero for sequence 0; finite, with zero padded dk and dv, for
 * sequence 3, where the fast op and the reference agree. */
static void assert_special_grads(const struct attn_prob *a, const float *dq, const float *dk,
                                 const float *dv)
{
    const size_t seq = (size_t)ST * XDH;
    for (size_t e = 0; e < seq; e++) {
        ck_assert_msg(a->dq[e] == 0.0f && a->dk[e] == 0.0f && a->dv[e] == 0.0f,
                      "fast: seq 0 gradient %zu not zero", e);
        ck_assert_msg(dq[e] == 0.0f && dk[e] == 0.0f && dv[e] == 0.0f,
                      "ref: seq 0 gradient %zu not zero", e);
        size_t e3 = 3 * seq + e;
        ck_assert(isfinite(a->dq[e3]) && isfinite(a->dk[e3]) && isfinite(a->dv[e3]));
        if (!a->mask[3 * ST + (int)(e / XDH)])
            ck_assert(a->dk[e3] == 0.0f && a->dv[e3] == 0.0f);
    }
    assert_close("seq 3 dq", a->dq + 3 * seq, dq + 3 * seq, seq, 1e-5, 1e-4);
    assert_close("seq 3 dk", a->dk + 3 * seq, dk + 3 * seq, seq, 1e-5, 1e-4);
    assert_close("seq 3 dv", a->dv + 3 * seq, dv + 3 * seq, seq, 1e-5, 1e-4);
}

START_TEST(attention_special_rows_agree_with_ref)
{
    const struct attn_shape s = {SB, ST, XDH, 1, 0, 0.0f};
    struct attn_prob a;
    attn_prob_init(&a, &s, 3200);
    special_problem(&a);
    const size_t n = (size_t)SB * ST * XDH, nprob = (size_t)SB * ST * ST;
    float *out = tfloats(n), *probs = tfloats(nprob);
    attn_fwd(&a);
    op_attention_fwd_ref(out, probs, a.q, a.k, a.v, NULL, NULL, a.mask, SB, ST, XDH, 1, 0, 0.0f,
                         a.seed, a.stream, NULL);
    assert_special_rows("fast", &a, a.probs, a.out);
    assert_special_rows("ref", &a, probs, out);
    assert_close("seq 3 probs", a.probs + 3 * ST * ST, probs + 3 * ST * ST, ST * ST, 1e-6, 1e-5);
    float *dq = tfloats(n), *dk = tfloats(n), *dv = tfloats(n);
    attn_bwd(&a, NULL, NULL);
    op_attention_bwd_ref(dq, dk, dv, NULL, NULL, a.r, a.probs, a.q, a.k, a.v, NULL, NULL, a.mask,
                         SB, ST, XDH, 1, 0, 0.0f, a.seed, a.stream, NULL);
    assert_special_grads(&a, dq, dk, dv);
}
END_TEST

/* ---- a whole padded training step ------------------------------------------------ */

enum { EB = 3, ET = 6, EV = 40, EC = 3, ED = 16, EPAD = 0 };

static const int elen[EB] = {ET, 4, 2}; /* sequences 1 and 2 are padded */

struct estep {
    struct mem_acct acct;
    struct model m;
    int ids[EB * ET], mask[EB * ET], labels[EB];
};

/* Unit-free direction u = (1, -1, 1, -1, ...): LayerNorm keeps it (mean 0, std 1). */
static float u_at(int c)
{
    return c % 2 ? -1.0f : 1.0f;
}

/* Row x of width ED minus its component along u. */
static void drop_u(float *x)
{
    double d = 0.0;
    for (int c = 0; c < ED; c++)
        d += (double)x[c] * (double)u_at(c);
    for (int c = 0; c < ED; c++)
        x[c] -= (float)(d / ED) * u_at(c);
}

/*
 * Make layer 0's padded keys dominate: the pad token's embedding is 1e3 u, every other
 * embedding row is orthogonal to u (so after the embedding LayerNorm, real tokens have no u
 * component and pad tokens are almost exactly u), key row 0 of head 0 reads u with weight
 * 30 / ED and the query bias of that row is 30.  Head 0 then scores a pad key about
 * 30 * 30 / sqrt(8) = 318 and a real key a few units: the gap is far beyond 88.
 */
static void make_pads_dominate(struct model *m)
{
    struct encoder *enc = &m->enc;
    for (int v = 0; v < EV; v++)
        drop_u(enc->word->data + (size_t)v * ED);
    for (int p = 0; p < enc->pos->shape[0]; p++)
        drop_u(enc->pos->data + (size_t)p * ED);
    for (int t = 0; t < enc->type->shape[0]; t++)
        drop_u(enc->type->data + (size_t)t * ED);
    for (int c = 0; c < ED; c++) {
        enc->word->data[EPAD * ED + c] = 1e3f * u_at(c);
        enc->layers[0].wk->data[c] += 30.0f / ED * u_at(c); /* row 0 = output column 0 */
    }
    enc->layers[0].bq->data[0] += 30.0f;
}

static void estep_init(struct estep *s)
{
    memset(s, 0, sizeof *s);
    mem_acct_init(&s->acct);
    struct bert_config c;
    hfconfig_default(&c);
    snprintf(c.arch, sizeof c.arch, "bert");
    c.vocab_size = EV;
    c.hidden_size = ED;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 24;
    c.max_position_embeddings = 16;
    c.type_vocab_size = 2;
    c.pad_token_id = EPAD;
    c.initializer_range = 0.3f;
    c.hidden_dropout_prob = 0.0f; /* no dropout: a padded batch and its rows alone must agree */
    c.attention_probs_dropout_prob = 0.0f;
    struct err e;
    ck_assert_msg(model_create(&s->m, &c, EC, &s->acct, &e) == 0, "%s", e.msg);
    model_init_weights(&s->m, 5);
    ck_assert_int_eq(model_set_backbone_trainable(&s->m, true, &e), 0);
    ck_assert_int_eq(model_set_head_trainable(&s->m, true, &e), 0);
    make_pads_dominate(&s->m);
    s->m.enc.keep_all = true; /* save[0] holds layer 0's q, k and probabilities */
    struct rng r;
    rng_seed(&r, 11);
    for (int b = 0; b < EB; b++) {
        for (int t = 0; t < ET; t++) {
            s->mask[b * ET + t] = t < elen[b];
            s->ids[b * ET + t] = t < elen[b] ? 2 + (int)rng_below(&r, EV - 2) : EPAD;
        }
        s->labels[b] = b % EC;
    }
}

/* Every gradient of the store into g (concatenated in store order); returns the count. */
static size_t gather_grads(const struct param_store *ps, float *g)
{
    size_t at = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const struct param *p = ps->items[i];
        if (p->grad) {
            if (g)
                memcpy(g + at, p->grad, p->numel * sizeof(float));
            at += p->numel;
        }
    }
    return at;
}

/* Forward (training mode) and backward of batch rows [b0, b0 + B) cut to T tokens. */
static void estep_run(struct estep *s, int b0, int B, int T, float *logits, float *grads)
{
    int ids[EB * ET], mask[EB * ET];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = s->ids[(b0 + b) * ET + t];
            mask[b * T + t] = s->mask[(b0 + b) * ET + t];
        }
    struct batch bt = {B, T, ids, NULL, mask, s->labels + b0, NULL};
    struct err e;
    float *lg;
    ck_assert_msg(model_forward(&s->m, &bt, true, 1, 1, &lg, &e) == 0, "%s", e.msg);
    memcpy(logits, lg, (size_t)B * EC * sizeof(float));
    param_store_zero_grads(&s->m.ps);
    double loss;
    ck_assert_msg(model_loss_backward(&s->m, &bt, true, &loss, &e) == 0, "%s", e.msg);
    ck_assert_msg(isfinite(loss), "loss %g", loss);
    gather_grads(&s->m.ps, grads);
}

/* Layer 0, head 0 of the padded batch: some padded key outscores every real key of its row by
 * more than 88 (exp overflows), and every padded key got probability exactly 0. */
static void assert_overflow_exercised(const struct estep *s)
{
    const struct layer_save *sv = &s->m.enc.save[0];
    const float *q = sv->lin[SITE_Q].y, *k = sv->lin[SITE_K].y;
    double max_gap = -HUGE_VAL;
    for (int b = 1; b < EB; b++)
        for (int i = 0; i < ET; i++) {
            double real = -HUGE_VAL, pad = -HUGE_VAL;
            for (int j = 0; j < ET; j++) {
                double d = 0.0;
                for (int c = 0; c < ED / 2; c++)
                    d += (double)q[(size_t)(b * ET + i) * ED + c] *
                         (double)k[(size_t)(b * ET + j) * ED + c];
                d /= sqrt(ED / 2.0);
                if (s->mask[b * ET + j])
                    real = fmax(real, d);
                else
                    pad = fmax(pad, d);
                float p = sv->probs[((size_t)b * 2 * ET + i) * ET + j]; /* head 0 */
                ck_assert(isfinite(p) && (s->mask[b * ET + j] || p == 0.0f));
            }
            max_gap = fmax(max_gap, pad - real);
        }
    ck_assert_msg(max_gap > 100.0, "pad keys outscore real ones by only %g", max_gap);
}

/*
 * One training step on a padded batch whose padded keys dominate layer 0's scores: logits,
 * loss, every gradient and the updated weights are finite; each example's logits equal the
 * same example run alone, unpadded, and the batch gradient equals the mean of the examples'
 * gradients (the loss is the batch mean).
 */
START_TEST(padded_step_equals_examples_alone)
{
    struct estep *s = malloc(sizeof *s);
    ck_assert_ptr_nonnull(s);
    estep_init(s);
    const size_t ng = gather_grads(&s->m.ps, NULL);
    float *g = calloc(ng, sizeof(float)), *g1 = calloc(ng, sizeof(float));
    double *gsum = calloc(ng, sizeof(double));
    ck_assert(g && g1 && gsum);
    float logits[EB * EC], alone[EC];

    estep_run(s, 0, EB, ET, logits, g);
    assert_overflow_exercised(s);
    for (int i = 0; i < EB * EC; i++)
        ck_assert_msg(isfinite(logits[i]), "logit %d = %g", i, (double)logits[i]);
    for (size_t i = 0; i < ng; i++)
        ck_assert_msg(isfinite(g[i]), "gradient %zu = %g", i, (double)g[i]);

    for (int b = 0; b < EB; b++) {
        estep_run(s, b, 1, elen[b], alone, g1);
        for (int c = 0; c < EC; c++)
            ck_assert_msg(fabs((double)logits[b * EC + c] - (double)alone[c]) <= 1e-5,
                          "example %d logit %d: batch %.9g alone %.9g", b, c,
                          (double)logits[b * EC + c], (double)alone[c]);
        for (size_t i = 0; i < ng; i++)
            gsum[i] += (double)g1[i] / EB;
    }
    double gmax = 0.0, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < ng; i++) {
        gmax = fmax(gmax, fabs(gsum[i]));
        if (fabs((double)g[i] - gsum[i]) > worst) {
            worst = fabs((double)g[i] - gsum[i]);
            at = i;
        }
    }
    ck_assert_msg(worst <= 1e-5 * (1.0 + gmax), "gradient %zu: batch %.9g, mean alone %.9g", at,
                  (double)g[at], gsum[at]);

    /* the step itself: re-run the batch's backward, update, every weight finite */
    estep_run(s, 0, EB, ET, logits, g);
    struct adamw_cfg ac;
    adamw_default(&ac);
    adamw_step(&s->m.ps, &ac, 1);
    for (size_t i = 0; i < s->m.ps.n; i++)
        ck_assert_uint_eq(param_count_nonfinite(s->m.ps.items[i], NULL), 0);

    free(gsum);
    free(g1);
    free(g);
    model_destroy(&s->m);
    ck_assert_uint_eq(s->acct.cur_total, 0);
    free(s);
}
END_TEST

Suite *attention_extreme_suite(void)
{
    Suite *s = suite_create("attention_extreme");
    TCase *tc = tcase_create("kernels");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, attention_padded_key_gap, 0,
                        (int)(sizeof(gap_cases) / sizeof(gap_cases[0])));
    tcase_add_test(tc, attention_special_rows_agree_with_ref);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("training_step");
    tcase_set_timeout(st, 120);
    tcase_add_test(st, padded_step_equals_examples_alone);
    suite_add_tcase(s, st);
    return s;
}
