/*
 * pretrain corpus: loading the pretraining text from WordNet or a file (contract in
 * corpus.h).
 */
#include "harness/pretrain/corpus.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/utf8.h"
#include "tasks/wordnet.h"

#define PRETRAIN_MAX_CORPUS_BYTES ((long long)4 << 30)

void corpus_lines_free(struct corpus_lines *l)
{
    for (size_t i = 0; l->v && i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Append s (ownership taken; freed on failure). */
static int lines_push(struct corpus_lines *l, char *s, struct err *e)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 4096;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return 0;
}

/* WordNet text of the synsets in the tasks' train split only. */
static int corpus_wordnet_train(struct corpus_lines *l, const char *dir, struct err *e)
{
    struct wordnet wn;
    if (wn_load(&wn, dir, e))
        return e->code;
    int rc = 0;
    for (size_t i = 0; i < wn.n && !rc; i++) {
        const struct wn_synset *s = &wn.syn[i];
        if (wn_split_of(s->pos, s->offset) != WN_TRAIN)
            continue;
        if (s->def[0]) {
            char *d = strdup(s->def);
            rc = d ? lines_push(l, d, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
        }
        for (const char *p = s->examples; p && *p && !rc;) {
            const char *q = strchr(p, '\n');
            size_t m = q ? (size_t)(q - p) : strlen(p);
            char *x = strndup(p, m);
            rc = x ? lines_push(l, x, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
            p += m + (q ? 1 : 0);
        }
    }
    wn_free(&wn);
    return rc;
}

/* A text file, one document per line; empty (all-space) lines are skipped. */
static int corpus_file(struct corpus_lines *l, const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "corpus.path %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    long long total = 0;
    size_t lineno = 0;
    int rc = 0;
    while (!rc && (len = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        total += len;
        if (total > PRETRAIN_MAX_CORPUS_BYTES) {
            rc = ERR_SET(e, ERR_LIMIT, "%s: larger than %lld bytes", path,
                         PRETRAIN_MAX_CORPUS_BYTES);
            break;
        }
        if (memchr(buf, '\0', (size_t)len)) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: NUL byte in the line; the corpus must be text",
                         path, lineno);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        size_t bad;
        const char *why;
        if (utf8_check(buf, (size_t)len, &bad, &why) != 0) {
            rc = ERR_SET(e, ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte offset %zu (%s)", path,
                         lineno, bad, why);
            break;
        }
        bool blank = true;
        for (ssize_t i = 0; i < len && blank; i++)
            blank = buf[i] == ' ' || buf[i] == '\t';
        if (blank)
            continue;
        char *s = strdup(buf);
        rc = s ? lines_push(l, s, e) : ERR_SET(e, ERR_NOMEM, "out of memory for the corpus");
    }
    if (!rc && ferror(f))
        rc = ERR_SET(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
    free(buf);
    fclose(f);
    return rc;
}

int corpus_load(const struct pretrain_cfg *c, struct corpus_lines *l, struct err *e)
{
    memset(l, 0, sizeof *l);
    const char *wdir = c->wordnet_dir[0] ? c->wordnet_dir : NULL;
    int rc;
    if (strcmp(c->source, "wordnet") == 0) {
        rc = wn_corpus(wdir, &l->v, &l->n, e);
        l->cap = l->n;
    } else if (strcmp(c->source, "wordnet-train") == 0) {
        rc = corpus_wordnet_train(l, wdir, e);
    } else {
        rc = corpus_file(l, c->path_resolved, e);
    }
    if (rc) {
        corpus_lines_free(l);
        return rc;
    }
    if (c->max_lines > 0 && l->n > (size_t)c->max_lines) {
        for (size_t i = (size_t)c->max_lines; i < l->n; i++)
            free(l->v[i]);
        l->n = (size_t)c->max_lines;
    }
    if (l->n == 0) {
        corpus_lines_free(l);
        return ERR_SET(e, ERR_CONFIG, "the %s corpus has no lines%s%s", c->source,
                       c->path[0] ? ": " : "", c->path_resolved);
    }
    return 0;
}
