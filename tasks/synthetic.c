/*
 * synthetic: tasks generated from a seed over a small English vocabulary, for
 * tests and controlled studies (knobs in struct syn_knobs, task.h).
 *
 * syn-sentiment (single text, negative / positive).  A sentence has L words,
 * L uniform in [min_len, max_len]: k sentiment words (k odd, uniform among the
 * odd numbers 1..max_sentiment, so there are no ties), each positive or negative
 * with probability 1/2 and preceded by "not" with probability negation_prob,
 * with 0..negation_gap filler words between "not" and its sentiment word; the
 * other slots are neutral fillers ("the", "plot", "acting", ...), each replaced
 * with probability distractor_rate by a look-alike that carries no sentiment
 * ("notable", "goods", "badge", ...).  Scope rule: a "not" flips the next
 * sentiment word after it (two of them cancel).  Label = 1 when the flipped
 * polarities sum to > 0.  When the units do not fit in L words, the sentence is
 * longer than L (no filler).
 *
 * syn-match (pair, different / match).  a is m noun phrases "the ADJ NOUN"
 * joined by verbs (4m - 1 words, m = max(1, round(L / 4))), drawn from synonym
 * pairs (car/automobile, buys/purchases, big/large, ...).  b, for a match (label
 * 1, probability 1/2): a copy of a in which each content word becomes its synonym
 * with probability synonym_rate and adjacent words trade places with probability
 * swap_rate per position.  For a non-match: with probability hard_negative_rate
 * the same transformation plus one content word replaced by a word of another
 * synonym group of the same class (a "hard" negative), else an unrelated
 * sentence of the same shape, transformed alike (so neither swaps nor synonyms
 * give the label away).
 *
 * Sizes: max_train / max_dev / max_test, or 2000 / 500 / 500 when 0.  Splits
 * come from separate streams of the seed; a dev or test example whose text
 * (syn-sentiment) or first sentence (syn-match) occurred in an earlier split is
 * redrawn, so no sentence is shared across splits.  Example ids are indices.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/loaders.h"
#include "model/engine/rng.h"

#define SYN_MAX_LEN       256  /* words per sentence (max_len limit) */
#define SYN_MAX_WORDS     2048 /* max_len plus the largest sentiment units (63 x (2 + 16)) */
#define SYN_DEFAULT_TRAIN 2000
#define SYN_DEFAULT_EVAL  500
#define SYN_REDRAWS       1000 /* attempts at a sentence unseen in earlier splits */

#define NW(a) (sizeof a / sizeof *a)

static const char *const syn_pos[] = {"good",   "great",      "excellent", "wonderful",
                                      "fine",   "pleasant",   "brilliant", "superb",
                                      "lovely", "delightful", "enjoyable", "charming"};
static const char *const syn_neg[] = {"bad",    "terrible", "awful",    "poor",
                                      "boring", "dull",     "horrible", "dreadful",
                                      "weak",   "annoying", "mediocre", "painful"};
static const char *const syn_filler[] = {
    "the",    "a",      "movie",    "film",    "plot",   "story",      "acting", "music",
    "ending", "cast",   "director", "script",  "was",    "is",         "and",    "with",
    "very",   "really", "quite",    "overall", "scenes", "characters", "seemed", "felt",
    "of",     "this",   "that",     "it",      "to",     "honestly"};
static const char *const syn_distractor[] = {"note",      "notable",   "notably",   "knot",
                                             "goods",     "goodbye",   "badge",     "badger",
                                             "badminton", "greatcoat", "poorhouse", "finery"};

/* syn-match synonym pairs by class */
static const char *const syn_nouns[][2] = {
    {"car", "automobile"}, {"house", "home"},    {"child", "kid"},  {"doctor", "physician"},
    {"road", "street"},    {"film", "movie"},    {"shop", "store"}, {"gift", "present"},
    {"boat", "ship"},      {"job", "occupation"}};
static const char *const syn_verbs[][2] = {
    {"buys", "purchases"}, {"begins", "starts"},   {"helps", "assists"}, {"builds", "constructs"},
    {"likes", "enjoys"},   {"finds", "discovers"}, {"fixes", "repairs"}, {"sees", "notices"}};
static const char *const syn_adjs[][2] = {
    {"big", "large"},    {"small", "little"}, {"quick", "fast"}, {"happy", "glad"},
    {"quiet", "silent"}, {"smart", "clever"}, {"angry", "mad"},  {"rich", "wealthy"}};

/* ------------------------------------------------------------------ helpers */

struct words {
    const char *w[SYN_MAX_WORDS];
    int n;
};

static void push(struct words *s, const char *w)
{
    if (s->n < (int)NW(s->w))
        s->w[s->n++] = w;
}

/* Join words with single spaces into buf[0..n) (SYN_MAX_WORDS * 16 is ample). */
static void join(const struct words *s, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n && o < n; i++) {
        int w = snprintf(buf + o, n - o, "%s%s", i ? " " : "", s->w[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

static bool coin(struct rng *r, float p)
{
    return rng_uniform(r) < p;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h ? h : 1; /* 0 marks an empty slot */
}

/* Open-addressing set of 64-bit hashes (0 = empty). */
struct hset {
    uint64_t *v;
    size_t cap;
};

static bool hset_has(const struct hset *s, uint64_t h)
{
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == h)
            return true;
        if (s->v[i] == 0)
            return false;
    }
}

static void hset_add(struct hset *s, uint64_t h)
{
    size_t i = h & (s->cap - 1);
    while (s->v[i] != 0 && s->v[i] != h)
        i = (i + 1) & (s->cap - 1);
    s->v[i] = h;
}

/* ------------------------------------------------------------------ syn-sentiment */

static const char *filler(struct rng *r, const struct syn_knobs *k)
{
    return coin(r, k->distractor_rate) ? syn_distractor[rng_below(r, NW(syn_distractor))]
                                       : syn_filler[rng_below(r, NW(syn_filler))];
}

static int gen_sentiment(struct rng *r, const struct syn_knobs *k, struct words *s)
{
    s->n = 0;
    int L = k->min_len + (int)rng_below(r, (uint64_t)(k->max_len - k->min_len + 1));
    int nodd = (k->max_sentiment + 1) / 2;
    int ns = 1 + 2 * (int)rng_below(r, (uint64_t)nodd);
    /* units: ["not", gap fillers...] word */
    bool neg[SYN_MAX_LEN];
    int gap[SYN_MAX_LEN];
    int unit_words = 0;
    for (int i = 0; i < ns; i++) {
        neg[i] = coin(r, k->negation_prob);
        gap[i] =
            neg[i] && k->negation_gap > 0 ? (int)rng_below(r, (uint64_t)k->negation_gap + 1) : 0;
        unit_words += 1 + (neg[i] ? 1 + gap[i] : 0);
    }
    int fill = L > unit_words ? L - unit_words : 0;
    /* fillers before unit i (i = ns: after the last) */
    int before[SYN_MAX_LEN + 1] = {0};
    for (int f = 0; f < fill; f++)
        before[rng_below(r, (uint64_t)ns + 1)]++;
    int score = 0;
    for (int i = 0; i <= ns; i++) {
        for (int f = 0; f < before[i]; f++)
            push(s, filler(r, k));
        if (i == ns)
            break;
        if (neg[i]) {
            push(s, "not");
            for (int f = 0; f < gap[i]; f++)
                push(s, filler(r, k));
        }
        bool positive = coin(r, 0.5f);
        push(s, positive ? syn_pos[rng_below(r, NW(syn_pos))] : syn_neg[rng_below(r, NW(syn_neg))]);
        score += positive != neg[i] ? 1 : -1;
    }
    return score > 0;
}

/* ------------------------------------------------------------------ syn-match */

enum { SLOT_THE, SLOT_ADJ, SLOT_NOUN, SLOT_VERB };

struct msent {
    int n;
    int cls[SYN_MAX_LEN]; /* SLOT_* */
    int grp[SYN_MAX_LEN]; /* synonym group (content words) */
    int alt[SYN_MAX_LEN]; /* 0/1: which member of the pair */
};

static int ngroups(int cls)
{
    return cls == SLOT_ADJ    ? (int)NW(syn_adjs)
           : cls == SLOT_NOUN ? (int)NW(syn_nouns)
                              : (int)NW(syn_verbs);
}

static const char *mword(const struct msent *m, int i)
{
    switch (m->cls[i]) {
    case SLOT_ADJ:
        return syn_adjs[m->grp[i]][m->alt[i]];
    case SLOT_NOUN:
        return syn_nouns[m->grp[i]][m->alt[i]];
    case SLOT_VERB:
        return syn_verbs[m->grp[i]][m->alt[i]];
    default:
        return "the";
    }
}

static void gen_msent(struct rng *r, const struct syn_knobs *k, struct msent *m, int L)
{
    (void)k;
    int phrases = (L + 2) / 4;
    if (phrases < 1)
        phrases = 1;
    m->n = 0;
    for (int p = 0; p < phrases; p++) {
        if (p > 0) {
            m->cls[m->n] = SLOT_VERB;
            m->n++;
        }
        m->cls[m->n++] = SLOT_THE;
        m->cls[m->n++] = SLOT_ADJ;
        m->cls[m->n++] = SLOT_NOUN;
    }
    for (int i = 0; i < m->n; i++) {
        m->grp[i] = m->cls[i] == SLOT_THE ? 0 : (int)rng_below(r, (uint64_t)ngroups(m->cls[i]));
        m->alt[i] = (int)rng_below(r, 2);
    }
}

/* Synonyms and local swaps (the "paraphrase" transformation). */
static void paraphrase(struct rng *r, const struct syn_knobs *k, struct msent *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->cls[i] != SLOT_THE && coin(r, k->synonym_rate))
            m->alt[i] ^= 1;
    for (int i = 0; i + 1 < m->n; i++) {
        if (!coin(r, k->swap_rate))
            continue;
        int c = m->cls[i], g = m->grp[i], a = m->alt[i];
        m->cls[i] = m->cls[i + 1];
        m->grp[i] = m->grp[i + 1];
        m->alt[i] = m->alt[i + 1];
        m->cls[i + 1] = c;
        m->grp[i + 1] = g;
        m->alt[i + 1] = a;
        i++;
    }
}

static int gen_match(struct rng *r, const struct syn_knobs *k, struct words *a, struct words *b)
{
    int L = k->min_len + (int)rng_below(r, (uint64_t)(k->max_len - k->min_len + 1));
    struct msent ma, mb;
    gen_msent(r, k, &ma, L);
    int label = (int)rng_below(r, 2);
    if (label == 1 || coin(r, k->hard_negative_rate)) {
        mb = ma;
        paraphrase(r, k, &mb);
        if (label == 0) {
            int content = 0;
            for (int i = 0; i < mb.n; i++)
                content += mb.cls[i] != SLOT_THE;
            int pick = (int)rng_below(r, (uint64_t)content);
            for (int i = 0; i < mb.n; i++) {
                if (mb.cls[i] == SLOT_THE || pick-- != 0)
                    continue;
                int ng = ngroups(mb.cls[i]);
                mb.grp[i] = (mb.grp[i] + 1 + (int)rng_below(r, (uint64_t)ng - 1)) % ng;
                break;
            }
        }
    } else {
        gen_msent(r, k, &mb, L);
        paraphrase(r, k, &mb);
    }
    a->n = b->n = 0;
    for (int i = 0; i < ma.n; i++)
        push(a, mword(&ma, i));
    for (int i = 0; i < mb.n; i++)
        push(b, mword(&mb, i));
    return label;
}

/* ------------------------------------------------------------------ loader */

static int check_knobs(const struct syn_knobs *k, struct err *e)
{
    if (k->min_len < 1 || k->max_len < k->min_len || k->max_len > SYN_MAX_LEN)
        return ERR_SET(e, ERR_CONFIG,
                       "synthetic: need 1 <= min_len <= max_len <= %d (got min_len %d, max_len "
                       "%d)",
                       SYN_MAX_LEN, k->min_len, k->max_len);
    if (k->max_sentiment < 1 || k->max_sentiment > 63)
        return ERR_SET(e, ERR_CONFIG, "synthetic: max_sentiment must be in [1, 63] (got %d)",
                       k->max_sentiment);
    if (k->negation_gap < 0 || k->negation_gap > 16)
        return ERR_SET(e, ERR_CONFIG, "synthetic: negation_gap must be in [0, 16] (got %d)",
                       k->negation_gap);
    const struct {
        const char *name;
        float v;
    } probs[] = {{"negation_prob", k->negation_prob},
                 {"distractor_rate", k->distractor_rate},
                 {"synonym_rate", k->synonym_rate},
                 {"swap_rate", k->swap_rate},
                 {"hard_negative_rate", k->hard_negative_rate}};
    for (size_t i = 0; i < NW(probs); i++)
        if (!(probs[i].v >= 0 && probs[i].v <= 1))
            return ERR_SET(e, ERR_CONFIG, "synthetic: %s must be in [0, 1] (got %g)", probs[i].name,
                           (double)probs[i].v);
    return ERR_OK;
}

int syn_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
             struct err *e)
{
    const struct syn_knobs *k = &p->syn;
    int rc = check_knobs(k, e);
    if (rc)
        return err_prefix(e, "task %s", def->name);
    bool match = strcmp(def->name, "syn-match") == 0;
    size_t sizes[3] = {p->max_train ? p->max_train : SYN_DEFAULT_TRAIN,
                       p->max_dev ? p->max_dev : SYN_DEFAULT_EVAL,
                       p->max_test ? p->max_test : SYN_DEFAULT_EVAL};
    struct split *splits[3] = {&out->train, &out->dev, &out->test};
    size_t total = sizes[0] + sizes[1] + sizes[2];
    struct hset seen = {0};
    for (seen.cap = 64; seen.cap < 2 * total; seen.cap *= 2)
        ;
    struct words *wa = malloc(sizeof *wa), *wb = malloc(sizeof *wb);
    size_t bufn = SYN_MAX_WORDS * 16;
    char *ta = malloc(bufn), *tb = malloc(bufn);
    seen.v = calloc(seen.cap, sizeof *seen.v);
    if (!wa || !wb || !ta || !tb || !seen.v) {
        rc = ERR_SET(e, ERR_NOMEM, "task %s: out of memory", def->name);
        goto out;
    }
    for (int s = 0; s < 3 && !rc; s++) {
        struct rng r;
        rng_seed(&r, rng_hash(p->seed, 0x53594e /* "SYN" */, (uint64_t)s));
        splits[s]->labeled = true;
        for (size_t i = 0; i < sizes[s] && !rc; i++) {
            int label = 0;
            uint64_t h = 0;
            for (int tries = 0;; tries++) {
                label = match ? gen_match(&r, k, wa, wb) : gen_sentiment(&r, k, wa);
                join(wa, ta, bufn);
                h = fnv1a(ta);
                if (s == 0 || !hset_has(&seen, h))
                    break;
                if (tries == SYN_REDRAWS) {
                    rc = ERR_SET(e, ERR_CONFIG,
                                 "task %s: cannot draw %zu %s sentences unseen in train: the "
                                 "knobs allow too few distinct sentences (raise max_len or lower "
                                 "the sizes)",
                                 def->name, sizes[s], s == 1 ? "dev" : "test");
                    goto out;
                }
            }
            if (match)
                join(wb, tb, bufn);
            rc = split_push(splits[s], ta, match ? tb : NULL, label, NAN, i, e);
            hset_add(&seen, h);
        }
    }
out:
    free(seen.v);
    free(wa);
    free(wb);
    free(ta);
    free(tb);
    return rc;
}
