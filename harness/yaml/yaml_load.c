/*
 * yaml_load: a YAML file from disk into a tree: reading it under the size
 * limit, then resolving a top-level `include:` (paths relative to the
 * including file, cycles and depth refused) by deep-merging the included
 * trees under the including one.  One budget covers the file and all its
 * includes.
 */
#include "harness/yaml/yaml_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/strfmt.h"
#include "harness/yaml/yaml_parse.h"

/* ---- files and includes -------------------------------------------------- */

static int read_file(const char *path, const char *from, char **buf, size_t *len, struct err *e)
{
    *buf = NULL;
    *len = 0;
    char pre[ERR_MSG_MAX] = "";
    if (from)
        snprintf(pre, sizeof pre, "%.300s: included file ", from);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR_SET(e, ERR_IO, "%s%.300s: cannot open: %s", pre, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ERR_SET(e, ERR_IO, "%s%.300s: expected a YAML file, found a directory", pre, path);
    }
    /* Read at most cap + 1 bytes whatever stat says (pipes, growing files). */
    size_t cap = YAML_MAX_FILE_BYTES;
    char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    size_t n = fread(b, 1, cap + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return ERR_SET(e, ERR_IO, "%s%.300s: read error", pre, path);
    }
    if (n > cap) {
        /* point at where the limit is crossed, so the message has a line like any other */
        int line = 1, col = 1;
        for (size_t i = 0; i < cap; i++) {
            if (b[i] == '\n')
                line++, col = 1;
            else
                col++;
        }
        free(b);
        return ERR_SET(e, ERR_LIMIT,
                       "%s%.300s:%d:%d: file is larger than the 1 MiB limit for YAML files "
                       "(YAML_MAX_FILE_BYTES; it is reached here); a sweep should be a few KiB",
                       pre, path, line, col);
    }
    *buf = b;
    *len = n;
    return 0;
}

struct incl_stack {
    char *real[YAML_MAX_INCLUDE_DEPTH + 1]; /* borrowed: realpath of each open file */
    const char *shown[YAML_MAX_INCLUDE_DEPTH + 1];
    int n;
};

/* Deep-merge over into base (both consumed); later keys win.  Returns the result. */
static struct ynode *merge(struct ynode *base, struct ynode *over, struct err *e, int *rc)
{
    if (!base)
        return over;
    if (!over)
        return base;
    if (base->kind != YNODE_MAP || over->kind != YNODE_MAP) {
        ynode_free(base);
        return over;
    }
    struct ynode_keyref *r = ynode_sorted_keys(base);
    size_t nb = base->n;
    if (!r) {
        *rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        ynode_free(over);
        return base;
    }
    for (size_t i = 0; i < over->n; i++) {
        struct ynode *k = over->keys[i], *v = over->items[i];
        over->keys[i] = over->items[i] = NULL;
        struct ynode_keyref probe = {k, 0};
        /* find the first entry with that text (ties sort by position) */
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(r[mid].key->text, probe.key->text) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nb && strcmp(r[lo].key->text, k->text) == 0) {
            size_t j = r[lo].i;
            base->items[j] = merge(base->items[j], v, e, rc);
            ynode_free(base->keys[j]);
            base->keys[j] = k;
            r[lo].key = k;
        } else if (ynode_map_push(base, k, v)) {
            ynode_free(k);
            ynode_free(v);
            *rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        }
    }
    free(r);
    over->n = 0;
    ynode_free_shell(over);
    return base;
}

static char *join_path(const char *parent, const char *rel)
{
    size_t dl = 0;
    if (rel[0] != '/') {
        const char *slash = strrchr(parent, '/');
        dl = slash ? (size_t)(slash - parent) + 1 : 0;
    }
    size_t rl = strlen(rel);
    char *p = malloc(dl + rl + 1);
    if (!p)
        return NULL;
    memcpy(p, parent, dl);
    memcpy(p + dl, rel, rl + 1);
    return p;
}

static int load_rec(struct ynode **out, const char *path, const struct ynode *from, bool includes,
                    struct incl_stack *st, struct ynode_budget *b, struct err *e);

static int do_includes(struct ynode **root, const char *path, bool includes, struct incl_stack *st,
                       struct ynode_budget *b, struct err *e)
{
    long ki = ynode_map_index(*root, "include");
    if (ki < 0)
        return 0;
    struct ynode *key, *val;
    ynode_map_remove(*root, (size_t)ki, &key, &val);
    ynode_free(key);
    char d[80], w[ERR_MSG_MAX];
    const struct ynode *const *list = (const struct ynode *const *)&val;
    size_t n = 1;
    if (val->kind == YNODE_SEQ) {
        list = (const struct ynode *const *)val->items;
        n = val->n;
    }
    int rc = 0;
    struct ynode *merged = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct ynode *inc = list[i];
        if (inc->kind != YNODE_SCALAR || ynode_is_null(inc)) {
            rc = ynode_fail_at(e, ERR_CONFIG, inc->file, inc->line, inc->col,
                               "include: expected a file name or a list of file names, found %s",
                               ynode_describe(inc, d, sizeof d));
            break;
        }
        char *child_path = join_path(path, inc->text);
        if (!child_path) {
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
            break;
        }
        struct ynode *child = NULL;
        rc = load_rec(&child, child_path, inc, includes, st, b, e);
        if (!rc && child && child->kind != YNODE_MAP)
            rc = ERR_SET(e, ERR_CONFIG, "%s: included file '%.300s' must hold a mapping, found %s",
                         ynode_where(inc, w, sizeof w), child_path,
                         ynode_describe(child, d, sizeof d));
        free(child_path);
        if (rc) {
            ynode_free(child);
            break;
        }
        merged = merge(merged, child, e, &rc);
    }
    ynode_free(val);
    if (rc) {
        ynode_free(merged);
        return rc;
    }
    *root = merge(merged, *root, e, &rc);
    return rc;
}

static int load_rec(struct ynode **out, const char *path, const struct ynode *from, bool includes,
                    struct incl_stack *st, struct ynode_budget *b, struct err *e)
{
    *out = NULL;
    char w[ERR_MSG_MAX];
    const char *fw = from ? ynode_where(from, w, sizeof w) : NULL;
    char *real = realpath(path, NULL);
    if (!real) {
        if (fw)
            return ERR_SET(e, ERR_IO, "%s: cannot open included file '%.300s': %s", fw, path,
                           strerror(errno));
        return ERR_SET(e, ERR_IO, "%.300s: cannot open: %s", path, strerror(errno));
    }
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->real[i], real) == 0) {
            char chain[ERR_MSG_MAX] = "";
            size_t o = 0;
            for (int k = i; k < st->n; k++)
                o = str_appendf(chain, sizeof chain, o, "%.100s -> ", st->shown[k]);
            free(real);
            return ERR_SET(e, ERR_CONFIG, "%s: include cycle: %s%.100s", fw ? fw : path, chain,
                           path);
        }
    if (st->n > YAML_MAX_INCLUDE_DEPTH) {
        free(real);
        return ERR_SET(e, ERR_LIMIT,
                       "%s: includes nest deeper than %d levels (YAML_MAX_INCLUDE_DEPTH)",
                       fw ? fw : path, YAML_MAX_INCLUDE_DEPTH);
    }
    char *buf;
    size_t len;
    int rc = read_file(path, fw, &buf, &len, e);
    if (rc) {
        free(real);
        return rc;
    }
    struct ysrc *src = ysrc_new(path);
    if (!src) {
        free(real);
        free(buf);
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    struct ynode *root = NULL;
    rc = ynode_parse_buffer(&root, buf, len, src, false, b, e);
    ysrc_unref(src);
    free(buf);
    if (!rc && includes && root && root->kind == YNODE_MAP) {
        st->real[st->n] = real;
        st->shown[st->n++] = path;
        rc = do_includes(&root, path, includes, st, b, e);
        st->n--;
    }
    free(real);
    if (rc) {
        ynode_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

int ynode_load_file(struct ynode **out, const char *path, bool includes, struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    struct incl_stack st = {.n = 0};
    struct ynode_budget b = {0, 0};
    return load_rec(out, path, NULL, includes, &st, &b, e);
}
