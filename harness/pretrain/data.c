/*
 * pretrain data: held-out split, vocabulary and tokenization of the corpus (contract in
 * data.h).
 */
#include "harness/pretrain/data.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/timer.h"
#include "harness/pretrain/build_state.h"
#include "harness/pretrain/corpus.h"
#include "model/engine/rng.h"
#include "model/text/tokenizer.h"
#include "model/text/vocab_build.h"
#include "tasks/batching.h"

#define SALT_HELDOUT 0x48454c444f5554ull /* "HELDOUT" */

static double unit_of(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Held-out membership: a fixed hash of the line's text (not its position), so a line
 * is on the same side in every run and duplicates never straddle the split. */
static bool is_heldout(const char *s, double frac)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++)
        h = (h ^ *q) * 0x100000001b3u;
    return unit_of(rng_hash(SALT_HELDOUT, h, 0)) < frac;
}

/* Encode lines as [CLS] line [SEP] (truncated to max_len) into ts; lines without a
 * single token are left out. */
static int tokenize_lines(struct tok_split *ts, const struct tokenizer *tok,
                          const char *const *lines, size_t n, int max_len, struct err *e)
{
    memset(ts, 0, sizeof *ts);
    ts->pad_id = tokenizer_pad_id(tok);
    size_t cap = 1 << 20;
    ts->ids = malloc(cap * sizeof *ts->ids);
    ts->start = malloc((n + 1) * sizeof *ts->start);
    if (!ts->ids || !ts->start)
        goto nomem;
    ts->start[0] = 0;
    for (size_t i = 0; i < n; i++) {
        struct encoding enc;
        if (tokenizer_encode(tok, lines[i], NULL, max_len, &enc, e)) {
            tok_split_free(ts);
            return err_prefix(e, "corpus line %zu", i + 1);
        }
        if (enc.len <= 2) { /* nothing but [CLS] [SEP] */
            encoding_free(&enc);
            continue;
        }
        if (ts->ntokens + (size_t)enc.len > cap) {
            cap *= 2;
            int *ni = realloc(ts->ids, cap * sizeof *ni);
            if (!ni) {
                encoding_free(&enc);
                goto nomem;
            }
            ts->ids = ni;
        }
        memcpy(ts->ids + ts->ntokens, enc.ids, (size_t)enc.len * sizeof *enc.ids);
        ts->ntokens += (size_t)enc.len;
        ts->ntruncated += enc.truncated;
        if (enc.len > ts->max_len)
            ts->max_len = enc.len;
        ts->start[++ts->n] = ts->ntokens;
        encoding_free(&enc);
    }
    ts->type_ids = calloc(ts->ntokens ? ts->ntokens : 1, sizeof *ts->type_ids);
    if (!ts->type_ids)
        goto nomem;
    return 0;
nomem:
    tok_split_free(ts);
    return ERR_SET(e, ERR_NOMEM, "out of memory tokenizing the corpus");
}

int pt_prepare_data(struct pt *p, struct err *e)
{
    const struct pretrain_cfg *c = p->c;
    struct corpus_lines corpus;
    double t = timer_now();
    if (corpus_load(c, &corpus, e))
        return e->code;
    p->ncorpus = corpus.n;
    const char **tr = malloc(corpus.n * sizeof *tr), **he = malloc(corpus.n * sizeof *he);
    int rc = (!tr || !he) ? ERR_SET(e, ERR_NOMEM, "out of memory for the corpus") : 0;
    size_t ntr = 0, nhe = 0;
    for (size_t i = 0; !rc && i < corpus.n; i++) {
        if (is_heldout(corpus.v[i], c->heldout_fraction))
            he[nhe++] = corpus.v[i];
        else
            tr[ntr++] = corpus.v[i];
    }
    if (nhe > (size_t)c->heldout_max_lines)
        nhe = (size_t)c->heldout_max_lines;
    p->ntrain_lines = ntr;
    p->nheld_lines = nhe;
    if (!rc && ntr == 0)
        rc = ERR_SET(e, ERR_CONFIG, "no training lines left after the held-out split");
    if (!rc)
        pt_say(p, "corpus %s: %zu lines (%zu train, %zu held out) in %.1fs", c->source, corpus.n,
               ntr, nhe, timer_now() - t);
    struct vocab_build_opts vo;
    vocab_build_opts_default(&vo);
    vo.vocab_size = c->vocab_size;
    vo.min_frequency = c->min_frequency;
    vo.limit_alphabet = c->limit_alphabet;
    vo.tok.lowercase = vo.tok.strip_accents = c->lowercase;
    t = timer_now();
    if (!rc && !pt_stopped(p))
        rc = vocab_build(&p->vocab, &p->nvocab, tr, ntr, &vo, &p->vst, e);
    if (!rc && !pt_stopped(p)) {
        pt_say(p,
               "vocabulary: %d tokens (alphabet %d characters, %d merges) from %zu words "
               "(%zu distinct) in %.1fs",
               p->nvocab, p->vst.alphabet, p->vst.merges, p->vst.words, p->vst.unique_words,
               timer_now() - t);
        rc = tokenizer_from_tokens(&p->tok, (const char *const *)p->vocab, p->nvocab, &vo.tok, e);
    }
    t = timer_now();
    if (!rc && !pt_stopped(p))
        rc = tokenize_lines(&p->train, p->tok, tr, ntr, c->max_seq_len, e);
    if (!rc && !pt_stopped(p))
        rc = tokenize_lines(&p->held, p->tok, he, nhe, c->max_seq_len, e);
    if (!rc && !pt_stopped(p))
        pt_say(p, "tokenized: %zu train sequences, %zu tokens (%zu truncated to %d) in %.1fs",
               p->train.n, p->train.ntokens, p->train.ntruncated, c->max_seq_len, timer_now() - t);
    if (!rc && pt_stopped(p))
        rc = pt_interrupted(e);
    if (!rc && p->train.n == 0)
        rc = ERR_SET(e, ERR_CONFIG, "the training corpus has no tokens");
    free(tr);
    free(he);
    corpus_lines_free(&corpus);
    return rc;
}
