/*
 * wordnet: WordNet data-file parser, database loader, the wn-* tasks and the
 * gloss corpus.  Contract and the guarantees of the splits in wordnet.h.
 */
#include "tasks/wordnet.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/readfile.h"
#include "tasks/loaders.h"
#include "model/engine/rng.h"
#include "tasks/task.h"

/* lexnames(5), in lex_filenum order */
const char *const wn_lexnames[WN_NLEXFILES] = {
    "adj.all",          "adj.pert",           "adv.all",
    "noun.Tops",        "noun.act",           "noun.animal",
    "noun.artifact",    "noun.attribute",     "noun.body",
    "noun.cognition",   "noun.communication", "noun.event",
    "noun.feeling",     "noun.food",          "noun.group",
    "noun.location",    "noun.motive",        "noun.object",
    "noun.person",      "noun.phenomenon",    "noun.plant",
    "noun.possession",  "noun.process",       "noun.quantity",
    "noun.relation",    "noun.shape",         "noun.state",
    "noun.substance",   "noun.time",          "verb.body",
    "verb.change",      "verb.cognition",     "verb.communication",
    "verb.competition", "verb.consumption",   "verb.contact",
    "verb.creation",    "verb.emotion",       "verb.motion",
    "verb.perception",  "verb.possession",    "verb.social",
    "verb.stative",     "verb.weather",       "adj.ppl",
};

const char *wn_lexname(int lex_filenum)
{
    return lex_filenum >= 0 && lex_filenum < WN_NLEXFILES ? wn_lexnames[lex_filenum] : NULL;
}

/* wninput(5) pointer symbols */
static const char *const wn_ptr_syms[] = {"!",  "@",  "@i", "~", "~i", "#m", "#s", "#p", "%m",
                                          "%s", "%p", "=",  "+", ";c", "-c", ";r", "-r", ";u",
                                          "-u", "*",  ">",  "^", "$",  "&",  "<",  "\\"};

/* ------------------------------------------------------------------ line parser */

struct cursor {
    const char *s;
    size_t len, pos;
};

/* Next space-separated token; false at end of line. */
static bool next_tok(struct cursor *c, size_t *start, size_t *n)
{
    while (c->pos < c->len && c->s[c->pos] == ' ')
        c->pos++;
    if (c->pos >= c->len)
        return false;
    *start = c->pos;
    while (c->pos < c->len && c->s[c->pos] != ' ')
        c->pos++;
    *n = c->pos - *start;
    return true;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Parse exactly `digits` digits of base 10 or 16 as the next token into *v. */
static int num_tok(struct cursor *c, const char *what, int digits, int base, long *v, struct err *e)
{
    size_t st, n;
    if (!next_tok(c, &st, &n))
        return ERR_SET(e, ERR_FORMAT, "column %zu: %s: missing (line ends early)", c->len + 1,
                       what);
    long x = 0;
    bool ok = n == (size_t)digits;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = c->s[st + i];
        int d = base == 16 ? hexval(ch) : ch >= '0' && ch <= '9' ? ch - '0' : -1;
        ok = d >= 0;
        x = x * base + d;
    }
    if (!ok)
        return ERR_SET(e, ERR_FORMAT, "column %zu: %s: expected %d %s digit%s, got '%.*s'", st + 1,
                       what, digits, base == 16 ? "hex" : "decimal", digits > 1 ? "s" : "",
                       (int)(n < 40 ? n : 40), c->s + st);
    *v = x;
    return ERR_OK;
}

static bool is_pos(char ch)
{
    return ch == 'n' || ch == 'v' || ch == 'a' || ch == 's' || ch == 'r';
}

int wn_parse_line(struct wn_line *out, const char *line, size_t len, struct err *e)
{
    struct cursor c = {line, len, 0};
    size_t st, n;
    long v;
    int rc;
    out->nwords = out->nptrs = out->nframes = 0;
    if (len >= 2 && line[0] == ' ' && line[1] == ' ')
        return ERR_SET(e, ERR_FORMAT, "column 1: a license header line, not a synset");
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\0')
            return ERR_SET(e, ERR_FORMAT, "column %zu: %s inside the line", i + 1,
                           line[i] ? "newline" : "NUL byte");
    if ((rc = num_tok(&c, "synset_offset", 8, 10, &v, e)))
        return rc;
    out->offset = (uint32_t)v;
    if ((rc = num_tok(&c, "lex_filenum", 2, 10, &v, e)))
        return rc;
    if (v >= WN_NLEXFILES)
        return ERR_SET(e, ERR_FORMAT,
                       "column 10: lex_filenum: %ld is not a lexicographer file "
                       "(0-44)",
                       v);
    out->lex_filenum = (int)v;
    if (!next_tok(&c, &st, &n) || n != 1 || !is_pos(line[st]))
        return ERR_SET(e, ERR_FORMAT, "column %zu: ss_type: expected one of n v a s r", c.pos + 1);
    out->ss_type = line[st];
    if ((rc = num_tok(&c, "w_cnt", 2, 16, &v, e)))
        return rc;
    if (v == 0)
        return ERR_SET(e, ERR_FORMAT, "column %zu: w_cnt: a synset needs at least one word",
                       c.pos - 1);
    out->nwords = (int)v;
    for (int i = 0; i < out->nwords; i++) {
        if (!next_tok(&c, &st, &n) || line[st] == '|')
            return ERR_SET(e, ERR_FORMAT, "column %zu: word %d of %d missing", c.pos + 1, i + 1,
                           out->nwords);
        out->words[i] = (struct wn_span){(uint32_t)st, (uint32_t)n};
        if ((rc = num_tok(&c, "lex_id", 1, 16, &v, e)))
            return rc;
    }
    if ((rc = num_tok(&c, "p_cnt", 3, 10, &v, e)))
        return rc;
    out->nptrs = (int)v;
    for (int i = 0; i < out->nptrs; i++) {
        struct wn_ptr *p = &out->ptrs[i];
        if (!next_tok(&c, &st, &n) || (n == 1 && line[st] == '|'))
            return ERR_SET(e, ERR_FORMAT, "column %zu: pointer %d of %d missing", c.pos + 1, i + 1,
                           out->nptrs);
        size_t k = 0;
        while (k < sizeof wn_ptr_syms / sizeof *wn_ptr_syms &&
               !(strlen(wn_ptr_syms[k]) == n && memcmp(wn_ptr_syms[k], line + st, n) == 0))
            k++;
        if (k == sizeof wn_ptr_syms / sizeof *wn_ptr_syms)
            return ERR_SET(e, ERR_FORMAT, "column %zu: pointer %d: unknown symbol '%.*s'", st + 1,
                           i + 1, (int)(n < 8 ? n : 8), line + st);
        memcpy(p->sym, line + st, n);
        p->sym[n] = '\0';
        if ((rc = num_tok(&c, "pointer offset", 8, 10, &v, e)))
            return rc;
        p->offset = (uint32_t)v;
        if (!next_tok(&c, &st, &n) || n != 1 || !is_pos(line[st]))
            return ERR_SET(e, ERR_FORMAT, "column %zu: pointer %d: pos: expected one of n v a s r",
                           c.pos + 1, i + 1);
        p->pos = line[st];
        if ((rc = num_tok(&c, "pointer source/target", 4, 16, &v, e)))
            return rc;
        p->src_tgt = (uint16_t)v;
    }
    if (out->ss_type == 'v') {
        if ((rc = num_tok(&c, "f_cnt", 2, 10, &v, e)))
            return rc;
        out->nframes = (int)v;
        for (int i = 0; i < out->nframes; i++) {
            if (!next_tok(&c, &st, &n) || n != 1 || line[st] != '+')
                return ERR_SET(e, ERR_FORMAT, "column %zu: frame %d of %d: expected '+'", c.pos + 1,
                               i + 1, out->nframes);
            if ((rc = num_tok(&c, "f_num", 2, 10, &v, e)) ||
                (rc = num_tok(&c, "w_num", 2, 16, &v, e)))
                return rc;
        }
    }
    if (!next_tok(&c, &st, &n) || line[st] != '|' || n != 1)
        return ERR_SET(e, ERR_FORMAT, "column %zu: expected '|' before the gloss", c.pos + 1);
    size_t g = c.pos; /* the gloss starts after the spaces that follow '|' */
    while (g < len && line[g] == ' ')
        g++;
    size_t end = len;
    while (end > g && (line[end - 1] == ' ' || line[end - 1] == '\r'))
        end--;
    out->gloss = (struct wn_span){(uint32_t)g, (uint32_t)(end - g)};
    return ERR_OK;
}

/* ------------------------------------------------------------------ glosses */

static void trim(const char *g, size_t *a, size_t *b, const char *chars)
{
    while (*a < *b && strchr(chars, g[*a]))
        (*a)++;
    while (*b > *a && strchr(chars, g[*b - 1]))
        (*b)--;
}

static const char *find2(const char *s, size_t len, const char *pat)
{
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= len; i++)
        if (memcmp(s + i, pat, m) == 0)
            return s + i;
    return NULL;
}

void wn_gloss_split(const char *g, size_t len, struct wn_span *def, struct wn_span *ex, int max_ex,
                    int *nex)
{
    *nex = 0;
    size_t a = 0, b = len;
    trim(g, &a, &b, " ");
    size_t dend;
    if (a < b && g[a] == '"') {
        dend = a; /* no definition: the gloss is examples only */
    } else {
        const char *q = find2(g + a, b - a, "; \"");
        dend = q ? (size_t)(q - g) : b;
    }
    size_t da = a, db = dend;
    trim(g, &da, &db, " ;");
    *def = (struct wn_span){(uint32_t)da, (uint32_t)(db - da)};

    /* examples: pieces separated by `; "`, each from its opening quote to its last quote */
    size_t p = dend;
    while (p < b) {
        while (p < b && (g[p] == ';' || g[p] == ' '))
            p++;
        if (p >= b)
            break;
        const char *q = find2(g + p + 1, b - p - 1, "; \"");
        size_t pe = q ? (size_t)(q - g) : b;
        size_t ea = p, eb = pe;
        if (g[ea] == '"') {
            ea++;
            const char *last = NULL;
            for (size_t i = ea; i < eb; i++)
                if (g[i] == '"')
                    last = g + i;
            if (last)
                eb = (size_t)(last - g);
        }
        trim(g, &ea, &eb, " ;");
        if (eb > ea && *nex < max_ex)
            ex[(*nex)++] = (struct wn_span){(uint32_t)ea, (uint32_t)(eb - ea)};
        p = pe;
    }
}

int wn_split_of(char pos, uint32_t offset)
{
    if (pos == 's')
        pos = 'a';
    uint64_t h =
        rng_hash(0x574e53504c495453ull /* "WNSPLITS" */, (uint64_t)(unsigned char)pos, offset);
    unsigned b = (unsigned)(h % 10);
    return b < 8 ? WN_TRAIN : b == 8 ? WN_DEV : WN_TEST;
}

/* ------------------------------------------------------------------ loading */

static const char wn_file_pos[4] = {'n', 'v', 'a', 'r'};
static const char *const wn_file_names[4] = {"data.noun", "data.verb", "data.adj", "data.adv"};

static int file_of_pos(char pos)
{
    switch (pos) {
    case 'n':
        return 0;
    case 'v':
        return 1;
    case 'a':
    case 's':
        return 2;
    case 'r':
        return 3;
    default:
        return -1;
    }
}

void wn_free(struct wordnet *wn)
{
    if (!wn)
        return;
    for (size_t i = 0; i < wn->n; i++) {
        free(wn->syn[i].def);
        free(wn->syn[i].examples);
    }
    free(wn->syn);
    free(wn->hyper);
    memset(wn, 0, sizeof *wn);
}

long wn_find(const struct wordnet *wn, char pos, uint32_t offset)
{
    int f = file_of_pos(pos);
    if (f < 0)
        return -1;
    size_t lo = wn->file_start[f], hi = wn->file_start[f + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (wn->syn[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < wn->file_start[f + 1] && wn->syn[lo].offset == offset ? (long)lo : -1;
}

uint64_t wn_key(const struct wordnet *wn, size_t i)
{
    return WN_KEY(wn_file_pos[file_of_pos(wn->syn[i].pos)], wn->syn[i].offset);
}

static int too_large(const char *path, size_t limit, struct err *e)
{
    return ERR_SET(e, ERR_LIMIT,
                   "%s: larger than %zu bytes (WN_MAX_FILE; not a WordNet data file?)", path,
                   limit);
}

int wn_read_file(const char *path, size_t limit, char **buf, size_t *len, struct err *e)
{
    *buf = NULL;
    *len = 0;
    FILE *f;
    if (readfile_fopen(path, &f, e)) {
        if (errno != ENOENT && errno != ENOTDIR)
            return e->code; /* there, but not a regular file or not readable */
        return ERR_SET(e, ERR_IO,
                       "cannot open %s: %s; the WordNet tasks need the WordNet 3.0 database: "
                       "install the Debian package wordnet-base (apt-get install wordnet-base) "
                       "or set wordnet_dir",
                       path, strerror(errno));
    }
    int rc = readfile_bounded(f, limit, buf, len);
    fclose(f);
    if (rc == ERR_LIMIT)
        return too_large(path, limit, e);
    if (rc == ERR_NOMEM)
        return ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
    if (rc)
        return ERR_SET(e, ERR_IO, "%s: read error", path);
    return ERR_OK;
}

static int read_all(const char *path, char **buf, size_t *len, struct err *e)
{
    return wn_read_file(path, WN_MAX_FILE, buf, len, e);
}

static char *dup_span(const char *s, struct wn_span sp)
{
    char *d = malloc((size_t)sp.len + 1);
    if (d) {
        memcpy(d, s + sp.off, sp.len);
        d[sp.len] = '\0';
    }
    return d;
}

/* Pending hypernym pointer: resolved once every file is loaded. */
struct wn_pend {
    uint32_t from; /* synset index */
    uint32_t offset;
    char pos;
};

static int load_file(struct wordnet *wn, int fi, const char *dir, struct wn_line *ln,
                     struct wn_pend **pend, size_t *npend, size_t *pcap, size_t *scap,
                     struct err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, wn_file_names[fi]);
    char *buf;
    size_t len;
    int rc = read_all(path, &buf, &len, e);
    if (rc)
        return rc;
    wn->file_start[fi] = wn->n;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        size_t here = pos;
        pos += n + (nl ? 1 : 0);
        if (n == 0 || (n >= 2 && s[0] == ' ' && s[1] == ' '))
            continue;
        if ((rc = wn_parse_line(ln, s, n, e))) {
            err_prefix(e, "%s:%zu", path, lineno);
            goto out;
        }
        if (ln->offset != here) {
            rc = ERR_SET(e, ERR_FORMAT,
                         "%s:%zu: synset_offset %08u is not the line's byte offset %zu (the file "
                         "was modified or re-encoded; reinstall wordnet-base)",
                         path, lineno, (unsigned)ln->offset, here);
            goto out;
        }
        if (file_of_pos(ln->ss_type) != fi) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: ss_type '%c' does not belong in %s", path, lineno,
                         ln->ss_type, wn_file_names[fi]);
            goto out;
        }
        if (wn->n == *scap) {
            size_t cap = *scap ? 2 * *scap : 4096;
            struct wn_synset *ns = realloc(wn->syn, cap * sizeof *ns);
            if (!ns)
                goto nomem;
            wn->syn = ns;
            *scap = cap;
        }
        struct wn_synset *sy = &wn->syn[wn->n];
        memset(sy, 0, sizeof *sy);
        sy->offset = ln->offset;
        sy->pos = ln->ss_type;
        sy->lexfile = (uint8_t)ln->lex_filenum;
        wn->n++;

        struct wn_span def, ex[64];
        int nex;
        const char *g = s + ln->gloss.off;
        wn_gloss_split(g, ln->gloss.len, &def, ex, 64, &nex);
        if (!(sy->def = dup_span(g, def)))
            goto nomem;
        if (nex > 0) {
            size_t tot = 0;
            for (int i = 0; i < nex; i++)
                tot += ex[i].len + 1;
            if (!(sy->examples = malloc(tot)))
                goto nomem;
            size_t o = 0;
            for (int i = 0; i < nex; i++) {
                memcpy(sy->examples + o, g + ex[i].off, ex[i].len);
                o += ex[i].len;
                sy->examples[o++] = i + 1 < nex ? '\n' : '\0';
            }
        }
        for (int i = 0; i < ln->nptrs; i++) {
            if (strcmp(ln->ptrs[i].sym, "@") != 0 && strcmp(ln->ptrs[i].sym, "@i") != 0)
                continue;
            if (*npend == *pcap) {
                size_t cap = *pcap ? 2 * *pcap : 4096;
                struct wn_pend *np = realloc(*pend, cap * sizeof *np);
                if (!np)
                    goto nomem;
                *pend = np;
                *pcap = cap;
            }
            (*pend)[(*npend)++] =
                (struct wn_pend){(uint32_t)(wn->n - 1), ln->ptrs[i].offset, ln->ptrs[i].pos};
        }
    }
    wn->file_start[fi + 1] = wn->n;
    goto out;
nomem:
    rc = ERR_SET(e, ERR_NOMEM, "%s: out of memory", path);
out:
    free(buf);
    return rc;
}

int wn_load(struct wordnet *wn, const char *dir, struct err *e)
{
    memset(wn, 0, sizeof *wn);
    if (!dir)
        dir = WN_DEFAULT_DIR;
    struct wn_line *ln = malloc(sizeof *ln);
    struct wn_pend *pend = NULL;
    size_t npend = 0, pcap = 0, scap = 0;
    int rc = ln ? ERR_OK : ERR_SET(e, ERR_NOMEM, "wordnet: out of memory");
    for (int f = 0; f < 4 && !rc; f++)
        rc = load_file(wn, f, dir, ln, &pend, &npend, &pcap, &scap, e);
    free(ln);
    if (!rc && npend > 0 && !(wn->hyper = malloc(npend * sizeof *wn->hyper)))
        rc = ERR_SET(e, ERR_NOMEM, "wordnet: out of memory");
    /* pend is in synset order, so each synset's hypernyms are contiguous */
    for (size_t i = 0; !rc && i < npend; i++) {
        long t = wn_find(wn, pend[i].pos, pend[i].offset);
        if (t < 0) {
            rc = ERR_SET(e, ERR_FORMAT,
                         "wordnet: synset %08u (%c) has a hypernym pointer to %08u (%c), which "
                         "does not exist",
                         (unsigned)wn->syn[pend[i].from].offset, wn->syn[pend[i].from].pos,
                         (unsigned)pend[i].offset, pend[i].pos);
            break;
        }
        struct wn_synset *sy = &wn->syn[pend[i].from];
        if (sy->nhyper == 0)
            sy->hyper0 = (uint32_t)wn->nhyper;
        sy->nhyper++;
        wn->hyper[wn->nhyper++] = (uint32_t)t;
    }
    free(pend);
    if (rc)
        wn_free(wn);
    return rc;
}

/* ------------------------------------------------------------------ corpus */

void wn_corpus_free(char **lines, size_t n)
{
    for (size_t i = 0; lines && i < n; i++)
        free(lines[i]);
    free(lines);
}

int wn_corpus(const char *dir, char ***lines, size_t *n, struct err *e)
{
    *lines = NULL;
    *n = 0;
    struct wordnet wn;
    int rc = wn_load(&wn, dir, e);
    if (rc)
        return rc;
    size_t cap = 2 * wn.n + 1, k = 0;
    char **v = malloc(cap * sizeof *v);
    if (!v)
        goto nomem;
    for (size_t i = 0; i < wn.n; i++) {
        if (wn.syn[i].def[0]) {
            if (k == cap) {
                cap *= 2;
                char **nv = realloc(v, cap * sizeof *nv);
                if (!nv)
                    goto nomem;
                v = nv;
            }
            /* the definition string moves into the corpus */
            v[k++] = wn.syn[i].def;
            wn.syn[i].def = NULL;
        }
        for (const char *p = wn.syn[i].examples; p && *p;) {
            const char *q = strchr(p, '\n');
            size_t m = q ? (size_t)(q - p) : strlen(p);
            if (k == cap) {
                cap *= 2;
                char **nv = realloc(v, cap * sizeof *nv);
                if (!nv)
                    goto nomem;
                v = nv;
            }
            if (!(v[k] = strndup(p, m)))
                goto nomem;
            k++;
            p += m + (q ? 1 : 0);
        }
    }
    wn_free(&wn);
    *lines = v;
    *n = k;
    return ERR_OK;
nomem:
    wn_corpus_free(v, k);
    wn_free(&wn);
    return ERR_SET(e, ERR_NOMEM, "wordnet corpus: out of memory");
}

/* ------------------------------------------------------------------ tasks */

static struct split *split_at(struct task_data *t, int s)
{
    return s == WN_TRAIN ? &t->train : s == WN_DEV ? &t->dev : &t->test;
}

static int syn_split(const struct wordnet *wn, size_t i)
{
    return wn_split_of(wn->syn[i].pos, wn->syn[i].offset);
}

static int load_single(const struct wordnet *wn, bool pos_task, struct task_data *t, struct err *e)
{
    for (size_t i = 0; i < wn->n; i++) {
        const struct wn_synset *sy = &wn->syn[i];
        if (!sy->def[0])
            continue;
        int label = pos_task ? file_of_pos(sy->pos) : sy->lexfile; /* n v a(s) r = 0 1 2 3 */
        int rc =
            split_push(split_at(t, syn_split(wn, i)), sy->def, NULL, label, NAN, wn_key(wn, i), e);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static bool is_hypernym_of(const struct wordnet *wn, size_t x, size_t y)
{
    for (uint32_t k = 0; k < wn->syn[x].nhyper; k++)
        if (wn->hyper[wn->syn[x].hyper0 + k] == y)
            return true;
    return false;
}

/* A usable negative partner y for x: has a definition, is not x nor a hypernym of x,
 * and for train pairs is itself a train synset. */
static bool ok_negative(const struct wordnet *wn, size_t x, size_t y, int split)
{
    return y != x && wn->syn[y].def[0] && !is_hypernym_of(wn, x, y) &&
           (split != WN_TRAIN || syn_split(wn, y) == WN_TRAIN);
}

static int load_hypernym(const struct wordnet *wn, const struct task_params *p, struct task_data *t,
                         struct err *e)
{
    /* hyponym lists (reverse of the hypernym pointers), CSR by hypernym index */
    size_t *first = calloc(wn->n + 1, sizeof *first);
    uint32_t *hypo = malloc((wn->nhyper ? wn->nhyper : 1) * sizeof *hypo);
    size_t *fill = calloc(wn->n, sizeof *fill);
    int rc = ERR_OK;
    if (!first || !hypo || !fill) {
        rc = ERR_SET(e, ERR_NOMEM, "wn-hypernym: out of memory");
        goto out;
    }
    for (size_t k = 0; k < wn->nhyper; k++)
        first[wn->hyper[k] + 1]++;
    for (size_t i = 0; i < wn->n; i++)
        first[i + 1] += first[i];
    for (size_t x = 0; x < wn->n; x++)
        for (uint32_t k = 0; k < wn->syn[x].nhyper; k++) {
            uint32_t h = wn->hyper[wn->syn[x].hyper0 + k];
            hypo[first[h] + fill[h]++] = (uint32_t)x;
        }

    struct rng r;
    rng_seed(&r, rng_hash(p->seed, 0x48595045 /* "HYPE" */, 0));
    for (size_t x = 0; x < wn->n && !rc; x++) {
        const struct wn_synset *sx = &wn->syn[x];
        if (!sx->def[0] || sx->nhyper == 0)
            continue;
        int split = syn_split(wn, x);
        int fi = file_of_pos(sx->pos);
        size_t lo = wn->file_start[fi], span = wn->file_start[fi + 1] - lo;
        for (uint32_t k = 0; k < sx->nhyper && !rc; k++) {
            size_t h = wn->hyper[sx->hyper0 + k];
            if (!wn->syn[h].def[0])
                continue;
            if (split == WN_TRAIN && syn_split(wn, h) != WN_TRAIN)
                continue;
            long neg = -1;
            if (rng_below(&r, 2) == 0) { /* a sibling: another hyponym of h */
                size_t nsib = first[h + 1] - first[h];
                size_t start = nsib ? (size_t)rng_below(&r, nsib) : 0;
                for (size_t j = 0; j < nsib && neg < 0; j++) {
                    size_t z = hypo[first[h] + (start + j) % nsib];
                    if (ok_negative(wn, x, z, split))
                        neg = (long)z;
                }
            }
            for (int tries = 0; neg < 0 && tries < 1000; tries++) { /* a random synset */
                size_t z = lo + (size_t)rng_below(&r, span);
                if (ok_negative(wn, x, z, split))
                    neg = (long)z;
            }
            struct split *s = split_at(t, split);
            rc = split_push(s, sx->def, wn->syn[h].def, 1, NAN, wn_key(wn, x), e);
            if (!rc && neg >= 0)
                rc = split_push(s, sx->def, wn->syn[neg].def, 0, NAN, wn_key(wn, x), e);
        }
    }
out:
    free(first);
    free(hypo);
    free(fill);
    return rc;
}

int wn_task_load(const struct task_def *def, const struct task_params *p, struct task_data *out,
                 struct err *e)
{
    struct wordnet wn;
    int rc = wn_load(&wn, p->wordnet_dir, e);
    if (rc)
        return err_prefix(e, "task %s", def->name);
    out->train.labeled = out->dev.labeled = out->test.labeled = true;
    if (strcmp(def->name, "wn-supersense") == 0)
        rc = load_single(&wn, false, out, e);
    else if (strcmp(def->name, "wn-pos") == 0)
        rc = load_single(&wn, true, out, e);
    else if (strcmp(def->name, "wn-hypernym") == 0)
        rc = load_hypernym(&wn, p, out, e);
    else
        rc = ERR_SET(e, ERR_STATE, "no WordNet task called %s", def->name);
    wn_free(&wn);
    return rc;
}
