/*
 * Pretraining tests: the WordPiece vocabulary builder (determinism, layout, round trip
 * without [UNK]), the basic pre-tokenizer it shares with the tokenizer, the MLM masking
 * rule's statistics, finite-difference gradients of the MLM head (alone, and tied to a
 * whole encoder), a micro pretraining run that lowers the held-out MLM loss, the
 * builtin:NAME model cache (build, reuse, rebuild on a changed config, clear errors),
 * and config errors.  Fixtures live in a fresh temporary directory per test.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/gradcheck.h"
#include "harness/pretrain/pretrain.h"
#include "harness/run/run.h"
#include "model/arch/mlm.h"
#include "model/arch/model.h"
#include "model/engine/rng.h"
#include "model/text/tokenizer.h"
#include "model/text/vocab_build.h"
#include "tests/suites.h"

/* ---- temporary directory --------------------------------------------------------- */

static char tmpdir[128];

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/peftbench-pretrain-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    rm_rf(tmpdir);
}

/* The training cases run one thread: their tensors are tiny (a second thread only adds
 * fork/join and, on a loaded machine, barrier waits of a whole time slice each), and
 * thread-count determinism of the kernels is the ops suite's business. */
static int saved_threads;

static void train_setup(void)
{
    tmp_setup();
    saved_threads = omp_get_max_threads();
    omp_set_num_threads(1);
}

static void train_teardown(void)
{
    omp_set_num_threads(saved_threads);
    tmp_teardown();
}

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = tpath(name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((int)fwrite(text, 1, strlen(text), f), (int)strlen(text));
    fclose(f);
    return p;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- a small structured corpus ---------------------------------------------------- */

static const char *const adjs[] = {"small", "large", "green", "quiet", "heavy", "bright"};
static const char *const nouns[] = {"cat",    "river",  "stone",  "teacher",
                                    "garden", "engine", "window", "bird"};
static const char *const verbs[] = {"watches", "follows", "finds", "carries", "moves"};

/* n lines "the ADJ NOUN VERB a NOUN." drawn from seed (strings owned by *out). */
static char **make_corpus(size_t n, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    char **v = calloc(n, sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "The %s %s %s a %s.", adjs[rng_below(&r, 6)],
                 nouns[rng_below(&r, 8)], verbs[rng_below(&r, 5)], nouns[rng_below(&r, 8)]);
        v[i] = strdup(buf);
    }
    return v;
}

static void free_corpus(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static const char *write_corpus_file(const char *name, size_t n, uint64_t seed)
{
    char **v = make_corpus(n, seed);
    const char *p = tpath(name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", v[i]);
    fclose(f);
    free_corpus(v, n);
    return p;
}

static int find_token(char **tok, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(tok[i], s) == 0)
            return i;
    return -1;
}

/* ---- vocabulary ------------------------------------------------------------------- */

START_TEST(basic_split_matches_bert)
{
    struct tokenizer *t = NULL;
    const char *sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    struct err e;
    ck_assert_int_eq(tokenizer_from_tokens(&t, sp, 5, NULL, &e), 0);
    char **w = NULL;
    int n = 0;
    ck_assert_int_eq(tokenizer_basic_split(t, "H\xC3\xA9llo, World![SEP]x  y\t", &w, &n, &e), 0);
    const char *want[] = {"hello", ",", "world", "!", "x", "y"};
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(w[i], want[i]);
    ck_assert_ptr_null(w[n]);
    free(w);
    ck_assert_int_eq(tokenizer_basic_split(t, "", &w, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    free(w);
    ck_assert_int_eq(tokenizer_basic_split(t, "bad \xFF byte", &w, &n, &e), ERR_FORMAT);
    ck_assert_ptr_null(w);
    tokenizer_free(t);
}
END_TEST

START_TEST(vocab_layout_and_determinism)
{
    const size_t n = 300;
    char **lines = make_corpus(n, 7);
    struct vocab_build_opts o;
    vocab_build_opts_default(&o);
    o.vocab_size = 120;
    char **a = NULL, **b = NULL;
    int na = 0, nb = 0;
    struct vocab_build_stats st;
    struct err e;
    ck_assert_msg(vocab_build(&a, &na, (const char *const *)lines, n, &o, &st, &e) == 0, "%s",
                  e.msg);
    ck_assert_int_eq(vocab_build(&b, &nb, (const char *const *)lines, n, &o, NULL, &e), 0);
    ck_assert_int_eq(na, 120);
    ck_assert_int_eq(nb, na);
    for (int i = 0; i < na; i++) /* a deterministic function of the corpus */
        ck_assert_str_eq(a[i], b[i]);
    const char *sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(a[i], sp[i]);
    /* the alphabet: every character seen (lowercased), initial then ## forms, sorted */
    ck_assert_int_eq(st.size, na);
    int A = st.alphabet;
    ck_assert_int_gt(A, 10);
    for (int i = 0; i < A; i++) {
        ck_assert_int_eq((int)strlen(a[5 + i]), 1);
        ck_assert_str_eq(a[5 + A + i] + 2, a[5 + i]);
        ck_assert(strncmp(a[5 + A + i], "##", 2) == 0);
        if (i > 0)
            ck_assert_int_lt((unsigned char)a[4 + i][0], (unsigned char)a[5 + i][0]);
    }
    ck_assert_int_ge(find_token(a, na, "."), 5);
    ck_assert_int_lt(find_token(a, na, "T"), 0); /* lowercased */
    /* the most frequent words are learned whole */
    ck_assert_int_ge(find_token(a, na, "the"), 5 + 2 * A);
    ck_assert_int_ge(st.merges, na - 5 - 2 * A); /* a merge may re-create a token */
    vocab_tokens_free(b, nb);

    /* round trip: every corpus word tokenizes without [UNK] */
    struct tokenizer *t = NULL;
    ck_assert_int_eq(tokenizer_from_tokens(&t, (const char *const *)a, na, NULL, &e), 0);
    for (size_t i = 0; i < n; i++) {
        int *ids = NULL, k = 0;
        ck_assert_int_eq(tokenizer_tokenize(t, lines[i], &ids, &k, &e), 0);
        ck_assert_int_gt(k, 5);
        for (int j = 0; j < k; j++)
            ck_assert_int_ne(ids[j], tokenizer_unk_id(t));
        free(ids);
    }
    tokenizer_free(t);

    /* vocab.txt round trip through the file loader */
    const char *vp = tpath("vocab.txt");
    ck_assert_int_eq(vocab_write(vp, (const char *const *)a, na, &e), 0);
    ck_assert_int_eq(tokenizer_load_wordpiece(&t, vp, NULL, &e), 0);
    ck_assert_int_eq(tokenizer_vocab_size(t), na);
    for (int i = 0; i < na; i++)
        ck_assert_int_eq(tokenizer_token_to_id(t, a[i]), i);
    ck_assert_int_eq(tokenizer_mask_id(t), 4);
    tokenizer_free(t);
    vocab_tokens_free(a, na);
    free_corpus(lines, n);
}
END_TEST

START_TEST(vocab_limits_and_errors)
{
    const char *lines[] = {"aaa bbb aaa", "ab ab ab \xC3\xBE"}; /* thorn: one rare letter */
    struct vocab_build_opts o;
    vocab_build_opts_default(&o);
    char **v = NULL;
    int n = 0;
    struct err e;
    o.vocab_size = 8; /* 5 specials + 3 letters need 11 */
    ck_assert_int_eq(vocab_build(&v, &n, lines, 2, &o, NULL, &e), ERR_CONFIG);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(e.msg, "vocab size 8") && strstr(e.msg, "alphabet of 3"), "%s", e.msg);
    /* min_frequency stops the merges; limit_alphabet drops the rarest letter */
    o.vocab_size = 1000;
    o.min_frequency = 1000;
    o.limit_alphabet = 2;
    struct vocab_build_stats st;
    ck_assert_int_eq(vocab_build(&v, &n, lines, 2, &o, &st, &e), 0);
    ck_assert_int_eq(n, 5 + 4);
    ck_assert_int_eq(st.alphabet, 2);
    ck_assert_uint_eq(st.skipped, 1);
    struct tokenizer *t = NULL;
    ck_assert_int_eq(tokenizer_from_tokens(&t, (const char *const *)v, n, NULL, &e), 0);
    int *ids = NULL, k = 0;
    ck_assert_int_eq(tokenizer_tokenize(t, "\xC3\xBE", &ids, &k, &e), 0);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(ids[0], tokenizer_unk_id(t));
    free(ids);
    tokenizer_free(t);
    vocab_tokens_free(v, n);
    const char *bad[] = {"fine", "broken \xC3"};
    o.limit_alphabet = 0;
    ck_assert_int_eq(vocab_build(&v, &n, bad, 2, &o, NULL, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "corpus line 2"), "%s", e.msg);
    const char *empty[] = {"   ", ""};
    ck_assert_int_eq(vocab_build(&v, &n, empty, 2, &o, NULL, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "no words"), "%s", e.msg);
}
END_TEST

/* ---- masking ------------------------------------------------------------------------ */

START_TEST(masking_rule_statistics)
{
    enum { N = 200000, V = 1000, MASK_ID = 4 };
    int *ids = malloc(N * sizeof *ids), *mask = malloc(N * sizeof *mask);
    int *out = malloc(N * sizeof *out), *pos = malloc(N * sizeof *pos);
    int *lab = malloc(N * sizeof *lab), *out2 = malloc(N * sizeof *out2);
    int *pos2 = malloc(N * sizeof *pos2), *lab2 = malloc(N * sizeof *lab2);
    unsigned char special[V] = {0};
    for (int i = 0; i < 5; i++)
        special[i] = 1;
    struct rng r;
    rng_seed(&r, 3);
    long eligible = 0;
    for (int i = 0; i < N; i++) {
        mask[i] = i % 10 != 9; /* every 10th token is padding */
        ids[i] = i % 10 == 0 ? 2 : i % 10 == 8 ? 3 : 5 + (int)rng_below(&r, V - 5);
        eligible += mask[i] && !special[ids[i]];
    }
    struct mlm_mask_cfg c = {0.15f, 0.8f, 0.1f, MASK_ID, V, special};
    int M = mlm_mask(out, pos, lab, ids, mask, N, &c, 11, 5);
    long nmask = 0, nrand = 0, nsame = 0;
    for (int k = 0; k < M; k++) {
        int p = pos[k];
        ck_assert(mask[p] && !special[ids[p]]); /* never padding, never [CLS]/[SEP] */
        ck_assert_int_eq(lab[k], ids[p]);
        if (k > 0)
            ck_assert_int_gt(p, pos[k - 1]);
        if (out[p] == MASK_ID)
            nmask++;
        else if (out[p] == ids[p])
            nsame++;
        else
            nrand++, ck_assert(!special[out[p]]);
    }
    long changed = 0;
    for (int i = 0; i < N; i++)
        changed += out[i] != ids[i];
    ck_assert_int_eq(changed, nmask + nrand); /* nothing outside pos was touched */
    double rate = (double)M / (double)eligible;
    ck_assert_msg(fabs(rate - 0.15) < 0.004, "selection rate %.4f", rate);
    /* a random draw equal to the original counts as unchanged: 1/995 of 10% */
    ck_assert_msg(fabs((double)nmask / M - 0.8) < 0.01, "[MASK] %.4f", (double)nmask / M);
    ck_assert_msg(fabs((double)nrand / M - 0.1) < 0.01, "random %.4f", (double)nrand / M);
    ck_assert_msg(fabs((double)nsame / M - 0.1) < 0.01, "unchanged %.4f", (double)nsame / M);
    /* deterministic in (seed, stream); another stream gives another mask */
    int M2 = mlm_mask(out2, pos2, lab2, ids, mask, N, &c, 11, 5);
    ck_assert_int_eq(M2, M);
    ck_assert_int_eq(memcmp(out, out2, N * sizeof *out), 0);
    ck_assert_int_eq(memcmp(pos, pos2, (size_t)M * sizeof *pos), 0);
    mlm_mask(out2, pos2, lab2, ids, mask, N, &c, 11, 6);
    ck_assert_int_ne(memcmp(out, out2, N * sizeof *out), 0);
    /* a short sequence always gets at least one target; all-special gets none */
    int tiny[3] = {2, 77, 3}, tmask[3] = {1, 1, 1};
    ck_assert_int_eq(mlm_mask(out2, pos2, lab2, tiny, tmask, 3, &c, 1, 1), 1);
    ck_assert_int_eq(pos2[0], 1);
    ck_assert_int_eq(lab2[0], 77);
    int sp3[3] = {2, 0, 3};
    ck_assert_int_eq(mlm_mask(out2, pos2, lab2, sp3, tmask, 3, &c, 1, 1), 0);
    free(ids), free(mask), free(out), free(pos), free(lab), free(out2), free(pos2), free(lab2);
}
END_TEST

/* ---- gradients of the head ------------------------------------------------------------- */

enum { HM = 5, HD = 8, HV = 12 };

struct head_ctx {
    float x[HM * HD], Wt[HD * HD], bt[HD], lg[HD], lb[HD], E[HV * HD], bias[HV];
    int labels[HM];
    float t[HM * HD], g[HM * HD], h[HM * HD], mean[HM], rstd[HM], logits[HM * HV], rl[HM];
};

static double head_loss(void *p)
{
    struct head_ctx *c = p;
    mlm_fwd(c->logits, c->t, c->g, c->h, c->mean, c->rstd, c->x, c->Wt, c->bt, c->lg, c->lb, c->E,
            c->bias, HM, HD, HV, ACT_GELU, 1e-12f);
    return mlm_xent(NULL, NULL, c->rl, c->logits, c->labels, HM, HV);
}

START_TEST(mlm_head_gradients)
{
    static struct head_ctx c;
    struct rng r;
    rng_seed(&r, 5);
    float *all[] = {c.x, c.Wt, c.bt, c.lg, c.lb, c.E, c.bias};
    size_t sz[] = {HM * HD, HD * HD, HD, HD, HD, HV * HD, HV};
    for (int k = 0; k < 7; k++)
        for (size_t i = 0; i < sz[k]; i++)
            all[k][i] = rng_normal(&r) * (k == 3 ? 0.3f : 0.8f) + (k == 3 ? 1.0f : 0.0f);
    for (int i = 0; i < HM; i++)
        c.labels[i] = (int)rng_below(&r, HV);
    static float dx[HM * HD], dWt[HD * HD], dbt[HD], dlg[HD], dlb[HD], dE[HV * HD], dbias[HV];
    static float dlogits[HM * HV], ws[2 * HM * HD];
    head_loss(&c);
    int correct = -1;
    mlm_xent(dlogits, &correct, c.rl, c.logits, c.labels, HM, HV);
    ck_assert_int_ge(correct, 0);
    mlm_bwd(dx, dWt, dbt, dlg, dlb, dE, dbias, ws, dlogits, c.x, c.t, c.g, c.h, c.mean, c.rstd,
            c.Wt, c.lg, c.E, HM, HD, HV, ACT_GELU);
    const char *names[] = {"dx", "dWt", "dbt", "dLN.g", "dLN.b", "dE (tied decoder)", "dbias"};
    float *grads[] = {dx, dWt, dbt, dlg, dlb, dE, dbias};
    for (int k = 0; k < 7; k++) {
        char rep[256];
        ck_assert_msg(gradcheck_tensor_h(names[k], head_loss, &c, all[k], grads[k], sz[k], 0, 3,
                                         GRADCHECK_TOL, 1e-2, 1e-4, rep, sizeof rep) == 0,
                      "%s", rep);
    }
    /* accumulate, never overwrite, the parameter gradients */
    float before = dE[7];
    mlm_bwd(dx, dWt, dbt, dlg, dlb, dE, dbias, ws, dlogits, c.x, c.t, c.g, c.h, c.mean, c.rstd,
            c.Wt, c.lg, c.E, HM, HD, HV, ACT_GELU);
    ck_assert(fabsf(dE[7] - 2.0f * before) <= 1e-6f + 1e-5f * fabsf(before));
}
END_TEST

/* The whole model: the word embeddings get the gradient of both ends (input lookup and
 * tied decoder), checked against finite differences of the MLM loss. */
struct tied_ctx {
    struct mem_acct acct;
    struct model m;
    struct mlm_head head;
    int ids[3 * 6], mask[3 * 6], pos[3], labels[3];
    struct batch b;
};

static double tied_loss(void *p)
{
    struct tied_ctx *c = p;
    struct err e;
    struct mlm_result r;
    ck_assert_int_eq(encoder_begin_step(&c->m.enc, &c->b, true, 1, 1, &e), 0);
    ck_assert_int_eq(encoder_forward(&c->m.enc, &c->b, &e), 0);
    ck_assert_int_eq(mlm_head_step(&c->head, &c->m.enc, c->pos, c->labels, 3, NULL, &r, &e), 0);
    return r.loss;
}

/* A one-layer trainable model (V=14, D=8, no dropout) with an MLM head, seeded. */
static void tied_init(struct tied_ctx *c, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    mem_acct_init(&c->acct);
    struct bert_config bc;
    hfconfig_default(&bc);
    bc.vocab_size = 14, bc.hidden_size = 8, bc.num_hidden_layers = 1;
    bc.num_attention_heads = 2, bc.intermediate_size = 12, bc.max_position_embeddings = 8;
    bc.initializer_range = 0.3f;
    bc.hidden_dropout_prob = bc.attention_probs_dropout_prob = 0.0f;
    struct err e;
    ck_assert_int_eq(model_create(&c->m, &bc, 2, &c->acct, &e), 0);
    model_init_weights(&c->m, seed);
    ck_assert_int_eq(model_set_backbone_trainable(&c->m, true, &e), 0);
    ck_assert_int_eq(mlm_head_create(&c->head, &c->m.enc, &c->acct, &e), 0);
    mlm_head_init(&c->head, 0.3f, seed);
}

START_TEST(mlm_tied_embedding_gradient)
{
    static struct tied_ctx c;
    tied_init(&c, 9);
    struct err e;
    const int ids[12] = {2, 7, 4, 9, 11, 3, 2, 5, 4, 3, 0, 0};
    for (int i = 0; i < 12; i++)
        c.ids[i] = ids[i], c.mask[i] = i < 10;
    c.pos[0] = 2, c.pos[1] = 4, c.pos[2] = 8;
    c.labels[0] = 6, c.labels[1] = 11, c.labels[2] = 13;
    c.b = (struct batch){.B = 2, .T = 6, .ids = c.ids, .mask = c.mask};
    /* analytic: head backward into dhidden, then the encoder's backward */
    param_store_zero_grads(&c.m.ps);
    param_store_zero_grads(&c.head.ps);
    ck_assert_int_eq(encoder_begin_step(&c.m.enc, &c.b, true, 1, 1, &e), 0);
    ck_assert_int_eq(encoder_forward(&c.m.enc, &c.b, &e), 0);
    float *dh = arena_floats(&c.m.enc.arena, 12 * 8);
    struct mlm_result r;
    ck_assert_int_eq(mlm_head_step(&c.head, &c.m.enc, c.pos, c.labels, 3, dh, &r, &e), 0);
    ck_assert_int_eq(r.M, 3);
    ck_assert_int_eq(encoder_backward(&c.m.enc, dh, &e), 0);
    struct param *word = c.m.enc.word, *w1 = c.m.enc.layers[0].w1;
    float *gw = malloc(word->numel * sizeof *gw), *g1 = malloc(w1->numel * sizeof *g1);
    memcpy(gw, word->grad, word->numel * sizeof *gw);
    memcpy(g1, w1->grad, w1->numel * sizeof *g1);
    /* label 13 never appears as input: its row gets only the decoder's gradient */
    ck_assert(fabsf(gw[13 * 8]) > 0.0f);
    char rep[256];
    ck_assert_msg(gradcheck_tensor_h("word embeddings (tied)", tied_loss, &c, word->data, gw,
                                     word->numel, 0, 3, 2e-2, 1e-2, 1e-4, rep, sizeof rep) == 0,
                  "%s", rep);
    ck_assert_msg(gradcheck_tensor_h("layer 0 w1", tied_loss, &c, w1->data, g1, w1->numel, 40, 3,
                                     2e-2, 1e-2, 1e-4, rep, sizeof rep) == 0,
                  "%s", rep);
    ck_assert_msg(gradcheck_tensor_h("transform dense", tied_loss, &c, c.head.dense_w->data,
                                     c.head.dense_w->grad, c.head.dense_w->numel, 0, 3, 2e-2, 1e-2,
                                     1e-4, rep, sizeof rep) == 0,
                  "%s", rep);
    free(gw);
    free(g1);
    mlm_head_destroy(&c.head);
    model_destroy(&c.m);
    ck_assert_uint_eq(c.acct.cur_total, 0);
}
END_TEST

/* The optional [CLS] bag-of-words loss: same finite-difference check through the whole
 * model, and rows without a target are skipped. */
static unsigned char bow_special[14] = {1, 1, 1, 1, 1};

static double bow_loss(void *p)
{
    struct tied_ctx *c = p;
    struct err e;
    struct mlm_result r;
    ck_assert_int_eq(encoder_begin_step(&c->m.enc, &c->b, true, 1, 1, &e), 0);
    ck_assert_int_eq(encoder_forward(&c->m.enc, &c->b, &e), 0);
    ck_assert_int_eq(
        mlm_head_bow_step(&c->head, &c->m.enc, c->ids, c->mask, bow_special, 0.7f, NULL, &r, &e),
        0);
    return 0.7 * r.loss;
}

START_TEST(mlm_cls_bow_gradient)
{
    static struct tied_ctx c;
    tied_init(&c, 4);
    struct err e;
    /* row 0: words 7 9 7 11; row 1: [CLS] [SEP] only (no target); row 2: word 12 */
    const int ids[18] = {2, 7, 9, 7, 11, 3, 2, 3, 0, 0, 0, 0, 2, 12, 3, 0, 0, 0};
    for (int i = 0; i < 18; i++)
        c.ids[i] = ids[i], c.mask[i] = ids[i] != 0;
    c.b = (struct batch){.B = 3, .T = 6, .ids = c.ids, .mask = c.mask};
    param_store_zero_grads(&c.m.ps);
    param_store_zero_grads(&c.head.ps);
    ck_assert_int_eq(encoder_begin_step(&c.m.enc, &c.b, true, 1, 1, &e), 0);
    ck_assert_int_eq(encoder_forward(&c.m.enc, &c.b, &e), 0);
    float *dh = arena_zeros(&c.m.enc.arena, 18 * 8);
    struct mlm_result r;
    ck_assert_int_eq(
        mlm_head_bow_step(&c.head, &c.m.enc, c.ids, c.mask, bow_special, 0.7f, dh, &r, &e), 0);
    ck_assert_int_eq(r.M, 2);
    for (int i = 0; i < 18 * 8; i++) /* only the [CLS] rows with targets: 0 and 12 */
        if (i / 8 != 0 && i / 8 != 12)
            ck_assert(dh[i] == 0.0f);
    ck_assert_int_eq(encoder_backward(&c.m.enc, dh, &e), 0);
    struct param *word = c.m.enc.word;
    float *gw = malloc(word->numel * sizeof *gw), *gd = malloc(64 * sizeof *gd);
    memcpy(gw, word->grad, word->numel * sizeof *gw);
    memcpy(gd, c.head.dense_w->grad, 64 * sizeof *gd);
    char rep[256];
    ck_assert_msg(gradcheck_tensor_h("bow: word embeddings", bow_loss, &c, word->data, gw,
                                     word->numel, 0, 3, 2e-2, 1e-2, 1e-4, rep, sizeof rep) == 0,
                  "%s", rep);
    ck_assert_msg(gradcheck_tensor_h("bow: transform dense", bow_loss, &c, c.head.dense_w->data, gd,
                                     64, 0, 3, 2e-2, 1e-2, 1e-4, rep, sizeof rep) == 0,
                  "%s", rep);
    free(gw);
    free(gd);
    mlm_head_destroy(&c.head);
    model_destroy(&c.m);
    ck_assert_uint_eq(c.acct.cur_total, 0);
}
END_TEST

/* ---- micro pretraining ------------------------------------------------------------------- */

static const char *micro_yaml(int steps)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "seed: 3\n"
             "corpus: {source: file, path: corpus.txt, heldout_fraction: 0.1}\n"
             "vocab: {size: 90}\n"
             "model: {layers: 1, hidden: 32, heads: 2, ffn: 64, max_position: 32}\n"
             "train: {steps: %d, batch_size: 32, max_seq_len: 24, lr: 5.0e-3, dropout: 0.0,\n"
             "        warmup_ratio: 0.1}\n"
             "mlm: {cls_bow_weight: 0.5}\n",
             steps);
    return buf;
}

static void read_all(const char *path, char **buf, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*n + 1);
    ck_assert_uint_eq(fread(*buf, 1, *n, f), *n);
    fclose(f);
}

START_TEST(micro_pretraining_lowers_mlm_loss)
{
    write_corpus_file("corpus.txt", 600, 1);
    const char *cp = write_file("micro.yaml", micro_yaml(120));
    struct pretrain_cfg c;
    struct err e;
    ck_assert_msg(pretrain_cfg_load(&c, cp, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(c.name, "micro");
    ck_assert_int_eq((int)strlen(c.key), PRETRAIN_KEY_LEN);
    struct pretrain_opts o = {NULL, false, NULL};
    struct pretrain_stats st;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tpath("m"));
    ck_assert_msg(pretrain_build(&c, dir, &o, &st, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(st.steps, 120);
    ck_assert_int_gt(st.heldout_masked, 20);
    ck_assert_msg(st.heldout_loss < 0.7 * st.initial_heldout_loss,
                  "held-out MLM loss %.3f, initial %.3f", st.heldout_loss, st.initial_heldout_loss);
    ck_assert_msg(st.heldout_acc > st.initial_heldout_acc + 0.2, "accuracy %.3f, initial %.3f",
                  st.heldout_acc, st.initial_heldout_acc);
    ck_assert_msg(st.heldout_bow < st.initial_heldout_bow - 0.5,
                  "bag-of-words loss %.3f, initial %.3f", st.heldout_bow, st.initial_heldout_bow);
    ck_assert(pretrain_is_current(dir, c.key));
    ck_assert(!pretrain_is_current(dir, "0000000000000000"));
    /* a Hugging Face directory: loads like any checkpoint (MLM head ignored) */
    struct mem_acct acct;
    mem_acct_init(&acct);
    struct model m;
    ck_assert_msg(model_load_dir(&m, dir, 3, 1, &acct, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(m.cfg.vocab_size, st.vocab_size);
    ck_assert_int_eq(m.cfg.hidden_size, 32);
    model_destroy(&m);
    ck_assert_uint_eq(acct.cur_total, 0);
    struct tokenizer *t = NULL;
    char vp[600];
    snprintf(vp, sizeof vp, "%s/vocab.txt", dir);
    ck_assert_int_eq(tokenizer_load_wordpiece(&t, vp, NULL, &e), 0);
    ck_assert_int_eq(tokenizer_vocab_size(t), st.vocab_size);
    tokenizer_free(t);
    /* deterministic: the same config and threads give the same bytes */
    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s", tpath("m2"));
    struct pretrain_stats st2;
    ck_assert_int_eq(pretrain_build(&c, dir2, &o, &st2, &e), 0);
    const char *files[] = {"model.safetensors", "vocab.txt", "config.json"};
    for (int i = 0; i < 3; i++) {
        char p1[600], p2[600], *b1, *b2;
        size_t n1, n2;
        snprintf(p1, sizeof p1, "%s/%s", dir, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", dir2, files[i]);
        read_all(p1, &b1, &n1);
        read_all(p2, &b2, &n2);
        ck_assert_uint_eq(n1, n2);
        ck_assert_msg(memcmp(b1, b2, n1) == 0, "%s differs between two builds", files[i]);
        free(b1);
        free(b2);
    }
    ck_assert_double_eq(st.heldout_loss, st2.heldout_loss);
    pretrain_cfg_free(&c);
}
END_TEST

START_TEST(interrupted_build_leaves_nothing)
{
    write_corpus_file("corpus.txt", 100, 2);
    const char *cp = write_file("micro.yaml", micro_yaml(50));
    struct pretrain_cfg c;
    struct err e;
    ck_assert_int_eq(pretrain_cfg_load(&c, cp, &e), 0);
    volatile sig_atomic_t stop = SIGINT;
    struct pretrain_opts o = {NULL, false, &stop};
    struct pretrain_stats st;
    ck_assert_int_eq(pretrain_build(&c, tpath("m"), &o, &st, &e), ERR_STATE);
    ck_assert_msg(strstr(e.msg, "interrupted"), "%s", e.msg);
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while ((de = readdir(d)))
        ck_assert_msg(strncmp(de->d_name, "m", 1) != 0 || strcmp(de->d_name, "micro.yaml") == 0,
                      "left behind: %s", de->d_name);
    closedir(d);
    pretrain_cfg_free(&c);
}
END_TEST

START_TEST(corpus_file_errors_name_the_line)
{
    const char *cp = write_file("micro.yaml", micro_yaml(5));
    struct pretrain_cfg c;
    struct err e;
    ck_assert_int_eq(pretrain_cfg_load(&c, cp, &e), 0);
    struct pretrain_opts o = {NULL, false, NULL};
    struct pretrain_stats st;
    ck_assert_int_eq(pretrain_build(&c, tpath("m"), &o, &st, &e), ERR_IO);
    ck_assert_msg(strstr(e.msg, "corpus.txt"), "%s", e.msg);
    write_file("corpus.txt", "\n \t\n");
    ck_assert_int_eq(pretrain_build(&c, tpath("m"), &o, &st, &e), ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "has no lines") && strstr(e.msg, "corpus.txt"), "%s", e.msg);
    write_file("corpus.txt", "good\nbad \xC3\x28 byte\n");
    ck_assert_int_eq(pretrain_build(&c, tpath("m"), &o, &st, &e), ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "corpus.txt:2: invalid UTF-8 at byte offset 4"), "%s", e.msg);
    ck_assert(!exists(tpath("m")));
    pretrain_cfg_free(&c);
}
END_TEST

/* ---- builtin:NAME ------------------------------------------------------------------------- */

static char *read_stream(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    rewind(f);
    ck_assert_int_eq(ftruncate(fileno(f), 0), 0);
    return s;
}

START_TEST(builtin_resolution_and_cache_key)
{
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    mkdir("configs", 0777);
    mkdir("configs/pretrain", 0777);
    write_corpus_file("configs/pretrain/corpus.txt", 120, 4);
    write_file("configs/pretrain/micro.yaml", micro_yaml(8));
    FILE *errf = tmpfile();
    char dir[512];
    /* first use builds, reporting it */
    ck_assert_int_eq(run_resolve_model("builtin:micro", dir, sizeof dir, errf), 0);
    char *log = read_stream(errf);
    ck_assert_str_eq(dir, "results/models/micro");
    ck_assert_msg(strstr(log, "building results/models/micro (not built yet)"), "%s", log);
    free(log);
    ck_assert(exists("results/models/micro/model.safetensors"));
    ck_assert(exists("results/models/micro/" PRETRAIN_STATS));
    struct stat s1, s2;
    ck_assert_int_eq(stat("results/models/micro/" PRETRAIN_STATS, &s1), 0);
    /* same config (comments and layout do not count): reused, silently */
    char text[1100];
    snprintf(text, sizeof text, "# a comment\n%s", micro_yaml(8));
    write_file("configs/pretrain/micro.yaml", text);
    ck_assert_int_eq(run_resolve_model("builtin:micro", dir, sizeof dir, errf), 0);
    log = read_stream(errf);
    ck_assert_str_eq(log, "");
    free(log);
    ck_assert_int_eq(stat("results/models/micro/" PRETRAIN_STATS, &s2), 0);
    ck_assert_uint_eq(s1.st_ino, s2.st_ino);
    /* a changed setting changes the key: rebuilt */
    struct pretrain_cfg c1, c2;
    struct err e;
    ck_assert_int_eq(pretrain_cfg_load(&c1, "configs/pretrain/micro.yaml", &e), 0);
    write_file("configs/pretrain/micro.yaml", micro_yaml(9));
    ck_assert_int_eq(pretrain_cfg_load(&c2, "configs/pretrain/micro.yaml", &e), 0);
    ck_assert_str_ne(c1.key, c2.key);
    ck_assert_int_eq(run_resolve_model("builtin:micro", dir, sizeof dir, errf), 0);
    log = read_stream(errf);
    ck_assert_msg(strstr(log, "building results/models/micro (its config changed)"), "%s", log);
    free(log);
    ck_assert(pretrain_is_current(dir, c2.key));
    ck_assert(!pretrain_is_current(dir, c1.key));
    /* leftovers of a killed build are cleared by the next build */
    mkdir("results/models/micro.tmp-999999", 0777);
    bool built = false;
    struct pretrain_opts o = {NULL, false, NULL};
    write_file("configs/pretrain/micro.yaml", micro_yaml(10));
    ck_assert_int_eq(pretrain_ensure("configs/pretrain/micro.yaml", dir, &o, &built, &e), 0);
    ck_assert(built);
    ck_assert(!exists("results/models/micro.tmp-999999"));
    ck_assert_int_eq(pretrain_ensure("configs/pretrain/micro.yaml", dir, &o, &built, &e), 0);
    ck_assert(!built);
    /* a missing config or a bad name is one clear error */
    ck_assert_int_eq(run_resolve_model("builtin:nope", dir, sizeof dir, errf), 1);
    log = read_stream(errf);
    ck_assert_msg(strstr(log, "configs/pretrain/nope.yaml") &&
                      strstr(log, "built-in models: micro"),
                  "%s", log);
    free(log);
    ck_assert_int_eq(run_resolve_model("builtin:../etc", dir, sizeof dir, errf), 1);
    log = read_stream(errf);
    ck_assert_msg(strstr(log, "builtin:../etc"), "%s", log);
    free(log);
    fclose(errf);
    pretrain_cfg_free(&c1);
    pretrain_cfg_free(&c2);
    ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* ---- config errors --------------------------------------------------------------------- */

struct cfg_case {
    const char *yaml;
    int code;
    const char *want1, *want2;
};

static const struct cfg_case cfg_cases[] = {
    {"model: {layer: 2}\n", ERR_CONFIG, "bad.yaml:1:9: unknown key 'layer' in model",
     "did you mean 'layers'?"},
    {"seed: 1\nvocabulary: {size: 10}\n", ERR_CONFIG, "bad.yaml:2:1: unknown key 'vocabulary'",
     "valid keys: name, seed, corpus"},
    {"model:\n  layers: four\n", ERR_CONFIG, "bad.yaml:2:11: model.layers",
     "expected an integer in [1, 64], found 'four'"},
    {"train: {lr: [1, 2]}\n", ERR_CONFIG, "bad.yaml:1:13: train.lr", "found a list"},
    {"train: {steps: 0}\n", ERR_RANGE, "train.steps", "out of range"},
    {"vocab: {lowercase: yes}\n", ERR_CONFIG, "vocab.lowercase", "expected true or false"},
    {"model: 3\n", ERR_CONFIG, "bad.yaml:1:8: model: expected a mapping", "found '3'"},
    {"model: {hidden: 30, heads: 4}\n", ERR_CONFIG, "model.hidden (30)", "multiple of model.heads"},
    {"corpus: {source: file}\n", ERR_CONFIG, "corpus.path is missing", "bad.yaml"},
    {"corpus: {source: books}\n", ERR_CONFIG, "corpus.source", "found 'books'"},
    {"corpus: {path: x.txt}\n", ERR_CONFIG, "corpus.path is only used with", "wordnet"},
    {"train: {max_seq_len: 200}\n", ERR_CONFIG, "train.max_seq_len (200) exceeds", "128"},
    {"model: {hidden_act: identity}\n", ERR_CONFIG, "model.hidden_act", "'identity'"},
    {"mlm: {mask_token: 0.9, random_token: 0.2}\n", ERR_CONFIG, "mlm.mask_token + mlm.random_token",
     "<= 1"},
    {"- a\n- b\n", ERR_CONFIG, "bad.yaml:1:1", "expected a mapping of pretraining settings"},
};

START_TEST(config_errors_are_clear)
{
    const struct cfg_case *k = &cfg_cases[_i];
    const char *p = write_file("bad.yaml", k->yaml);
    struct pretrain_cfg c;
    struct err e;
    int rc = pretrain_cfg_load(&c, p, &e);
    ck_assert_msg(rc == k->code, "case %d: rc %d (%s)", _i, rc, rc ? e.msg : "ok");
    ck_assert_msg(strstr(e.msg, k->want1) && strstr(e.msg, k->want2), "case %d: %s", _i, e.msg);
}
END_TEST

START_TEST(config_defaults_and_key)
{
    const char *p = write_file("tiny.yaml", "");
    struct pretrain_cfg a, b;
    struct err e;
    ck_assert_msg(pretrain_cfg_load(&a, p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(a.name, "tiny");
    ck_assert_str_eq(a.source, "wordnet");
    ck_assert_int_eq(a.vocab_size, 8000);
    ck_assert_ptr_nonnull(strstr(a.defaulted, "vocab.size"));
    /* the name does not enter the key; any setting does */
    p = write_file("tiny.yaml", "name: other\nvocab: {size: 8000}\n");
    ck_assert_int_eq(pretrain_cfg_load(&b, p, &e), 0);
    ck_assert_str_eq(b.key, a.key);
    ck_assert_ptr_null(strstr(b.defaulted, "vocab.size"));
    pretrain_cfg_free(&b);
    p = write_file("tiny.yaml", "mlm: {mask_prob: 0.2}\n");
    ck_assert_int_eq(pretrain_cfg_load(&b, p, &e), 0);
    ck_assert_str_ne(b.key, a.key);
    pretrain_cfg_free(&b);
    pretrain_cfg_free(&a);
}
END_TEST

Suite *pretrain_suite(void)
{
    Suite *s = suite_create("pretrain");
    TCase *v = tcase_create("vocab");
    tcase_add_checked_fixture(v, tmp_setup, tmp_teardown);
    tcase_set_timeout(v, 60);
    tcase_add_test(v, basic_split_matches_bert);
    tcase_add_test(v, vocab_layout_and_determinism);
    tcase_add_test(v, vocab_limits_and_errors);
    suite_add_tcase(s, v);
    TCase *m = tcase_create("mlm");
    tcase_set_timeout(m, 120);
    tcase_add_test(m, masking_rule_statistics);
    tcase_add_test(m, mlm_head_gradients);
    tcase_add_test(m, mlm_tied_embedding_gradient);
    tcase_add_test(m, mlm_cls_bow_gradient);
    suite_add_tcase(s, m);
    TCase *t = tcase_create("training");
    tcase_add_checked_fixture(t, train_setup, train_teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, micro_pretraining_lowers_mlm_loss);
    tcase_add_test(t, interrupted_build_leaves_nothing);
    tcase_add_test(t, corpus_file_errors_name_the_line);
    tcase_add_test(t, builtin_resolution_and_cache_key);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("errors");
    tcase_add_checked_fixture(c, tmp_setup, tmp_teardown);
    tcase_set_timeout(c, 60);
    tcase_add_loop_test(c, config_errors_are_clear, 0, (int)(sizeof cfg_cases / sizeof *cfg_cases));
    tcase_add_test(c, config_defaults_and_key);
    suite_add_tcase(s, c);
    return s;
}
