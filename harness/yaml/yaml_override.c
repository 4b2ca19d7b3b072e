/*
 * yaml_override: Hydra-style command-line overrides ("train.lr=1e-4",
 * "seeds=1,2", "tasks=[a,b]") applied to a loaded tree: the dotted path is
 * walked (dotted keys first, list indexes, missing keys created) and the
 * value, parsed as flow YAML or plain text, replaces its target.
 */
#include "harness/yaml/yaml_override.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strfmt.h"
#include "harness/yaml/yaml_parse.h"

#define OVERRIDE_MAX_SEGMENTS 16

/* ---- overrides ----------------------------------------------------------- */

static struct ynode *plain(struct ysrc *src, const char *s, size_t len)
{
    return ynode_new_scalar(src, 0, 0, s, len, false);
}

static int override_value(struct ynode **out, const char *v, struct ysrc *src, struct err *e)
{
    *out = NULL;
    size_t len = strlen(v);
    if (len && strchr("[{\"'", v[0])) {
        struct ynode_budget b = {0, 0};
        if (len > YAML_MAX_FILE_BYTES)
            return ynode_fail_at(e, ERR_LIMIT, src->name, 0, 0, "value longer than 1 MiB");
        int rc = ynode_parse_buffer(out, v, len, src, true, &b, e);
        if (!rc && !*out)
            *out = plain(src, "", 0);
        return rc ? rc : *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    if (!strchr(v, ',')) {
        *out = plain(src, v, len);
        return *out ? 0 : ERR_SET(e, ERR_NOMEM, "out of memory");
    }
    struct ynode *seq = ynode_new(YNODE_SEQ, src, 0, 0);
    if (!seq)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    for (const char *p = v;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        struct ynode *it = plain(src, p, n);
        if (!it || ynode_seq_push(seq, it)) {
            ynode_free(it);
            ynode_free(seq);
            return ERR_SET(e, ERR_NOMEM, "out of memory");
        }
        if (!c)
            break;
        p = c + 1;
    }
    *out = seq;
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Walk/create the path seg[0..nseg) under node and store val (consumed) at its end. */
static int override_set(struct ynode *node, char **seg, int nseg, struct ynode *val,
                        struct ysrc *src, struct err *e)
{
    char d[80], w[ERR_MSG_MAX], path[ERR_MSG_MAX] = "";
    size_t po = 0;
    for (int i = 0; i < nseg;) {
        if (node->kind == YNODE_MAP) {
            /* a key that itself contains dots ("parallel.scaling") matches first */
            long hit = -1;
            int j = nseg;
            char key[ERR_MSG_MAX];
            for (; j > i && hit < 0; j--) {
                size_t o = 0;
                for (int k = i; k < j; k++)
                    o = str_appendf(key, sizeof key, o, "%s%s",
                                          k > i ? "." : "", seg[k]);
                hit = ynode_map_index(node, key);
            }
            if (hit >= 0) {
                j++; /* the loop decremented past the match */
                po = str_appendf(path, sizeof path, po, "%s%s",
                                       po ? "." : "", key);
                if (j == nseg) {
                    ynode_free(node->items[hit]);
                    node->items[hit] = val;
                    return 0;
                }
                node = node->items[hit];
                i = j;
                continue;
            }
            struct ynode *k = plain(src, seg[i], strlen(seg[i]));
            struct ynode *v = i == nseg - 1 ? val : ynode_new(YNODE_MAP, src, 0, 0);
            if (!k || !v || ynode_map_push(node, k, v)) {
                ynode_free(k);
                if (v != val)
                    ynode_free(v);
                ynode_free(val);
                return ERR_SET(e, ERR_NOMEM, "out of memory");
            }
            if (v == val)
                return 0;
            po = str_appendf(path, sizeof path, po, "%s%s",
                                   po ? "." : "", seg[i]);
            node = v;
            i++;
        } else if (node->kind == YNODE_SEQ) {
            if (!all_digits(seg[i]) || strlen(seg[i]) > 9 || (size_t)atol(seg[i]) > node->n) {
                int rc =
                    ynode_fail_at(e, ERR_CONFIG, src->name, 0, 0,
                                  "'%s' (%s) is a list of length %zu: expected an index 0..%zu, "
                                  "found '%s'",
                                  po ? path : "the top level", ynode_where(node, w, sizeof w),
                                  node->n, node->n, seg[i]);
                ynode_free(val);
                return rc;
            }
            size_t idx = (size_t)atol(seg[i]);
            po = str_appendf(path, sizeof path, po, "%s%s",
                                   po ? "." : "", seg[i]);
            if (idx < node->n && i == nseg - 1) {
                ynode_free(node->items[idx]);
                node->items[idx] = val;
                return 0;
            }
            if (idx < node->n) {
                node = node->items[idx];
                i++;
                continue;
            }
            struct ynode *v = i == nseg - 1 ? val : ynode_new(YNODE_MAP, src, 0, 0);
            if (!v || ynode_seq_push(node, v)) {
                if (v != val)
                    ynode_free(v);
                ynode_free(val);
                return ERR_SET(e, ERR_NOMEM, "out of memory");
            }
            if (v == val)
                return 0;
            node = v;
            i++;
        } else {
            int rc = ynode_fail_at(
                e, ERR_CONFIG, src->name, 0, 0,
                "'%s' (%s) is %s, not a mapping or list: cannot set '%s' inside it", path,
                ynode_where(node, w, sizeof w), ynode_describe(node, d, sizeof d), seg[i]);
            ynode_free(val);
            return rc;
        }
    }
    ynode_free(val); /* unreachable: nseg >= 1 ends inside the loop */
    return 0;
}

int ynode_apply_override(struct ynode **root, const char *ov, struct err *e)
{
    struct err scratch; /* callers may pass e = NULL */
    if (!e)
        e = &scratch;
    char name[300];
    snprintf(name, sizeof name, "override '%.200s%s'", ov, strlen(ov) > 200 ? "..." : "");
    struct ysrc *src = ysrc_new(name);
    if (!src)
        return ERR_SET(e, ERR_NOMEM, "out of memory");
    int rc = 0;
    char *copy = strdup(ov);
    char *seg[OVERRIDE_MAX_SEGMENTS];
    int nseg = 0;
    struct ynode *val = NULL;
    char *eq = copy ? strchr(copy, '=') : NULL;
    if (!copy) {
        rc = ERR_SET(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!eq || eq == copy) {
        rc = ynode_fail_at(e, ERR_CONFIG, name, 0, 0, "expected KEY=VALUE, e.g. train.lr=1e-4");
        goto out;
    }
    *eq = '\0';
    for (char *p = copy;;) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p) {
            rc = ynode_fail_at(e, ERR_CONFIG, name, 0, 0,
                               "expected a dotted key such as train.lr, found an empty part");
            goto out;
        }
        if (nseg == OVERRIDE_MAX_SEGMENTS) {
            rc = ynode_fail_at(e, ERR_LIMIT, name, 0, 0, "key has more than %d parts",
                               OVERRIDE_MAX_SEGMENTS);
            goto out;
        }
        seg[nseg++] = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    rc = override_value(&val, eq + 1, src, e);
    if (rc)
        goto out;
    if (!*root) {
        *root = ynode_new(YNODE_MAP, src, 0, 0);
        if (!*root) {
            ynode_free(val);
            rc = ERR_SET(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if ((*root)->kind != YNODE_MAP) {
        char d[80];
        ynode_free(val);
        rc = ynode_fail_at(e, ERR_CONFIG, name, 0, 0, "the document is %s, not a mapping",
                           ynode_describe(*root, d, sizeof d));
        goto out;
    }
    rc = override_set(*root, seg, nseg, val, src, e);
out:
    free(copy);
    ysrc_unref(src);
    return rc;
}
