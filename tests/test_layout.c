/*
 * The layout rules of DESIGN.md ("Layout"), checked on the source tree itself:
 *
 *   - no source file (library or test) over LAYOUT_MAX_LINES lines;
 *   - dependencies point one way: harness -> methods, tasks -> model -> base; inside model,
 *     arch -> engine, io, text, while engine, io and text use only base and themselves;
 *     methods and tasks never include each other or the harness; base includes nothing of
 *     the project outside base/;
 *   - no circle between files (a .c/.h pair is one node: a.c -> b.h and b.c -> a.h is a
 *     circle) and no circle between folders.
 *
 * A test reads `#include "..."` lines (root-relative, the project's one include style) from
 * every .c/.h under the rooms; it runs from the repository root like every suite.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/suites.h"

#define LAYOUT_MAX_LINES 1000
#define LAYOUT_MAX_NODES 1024
#define LAYOUT_MAX_EDGES 8192
#define LAYOUT_PATH 256

/* One node per .c/.h stem ("model/engine/ops"), its folder, and its outgoing edges. */
struct lnode {
    char stem[LAYOUT_PATH];
    char dir[LAYOUT_PATH];
};

struct ledge {
    int from, to;
    char where[LAYOUT_PATH + 16]; /* "file:line" of the include, for messages */
};

static struct lnode nodes[LAYOUT_MAX_NODES];
static int nnodes;
static struct ledge edges[LAYOUT_MAX_EDGES];
static int nedges;
static char problems[16384];

static void problem(const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(problems);
    if (n + 2 * LAYOUT_PATH + 64 < sizeof problems)
        snprintf(problems + n, sizeof problems - n, fmt, a, b);
}

static bool is_source(const char *path)
{
    size_t n = strlen(path);
    return n > 2 && path[n - 2] == '.' && (path[n - 1] == 'c' || path[n - 1] == 'h');
}

/* Index of the node for path's stem, created when absent. */
static int node_of(const char *path)
{
    char stem[LAYOUT_PATH];
    snprintf(stem, sizeof stem, "%s", path);
    char *dot = strrchr(stem, '.');
    if (dot && is_source(path))
        *dot = '\0';
    for (int i = 0; i < nnodes; i++)
        if (strcmp(nodes[i].stem, stem) == 0)
            return i;
    ck_assert_int_lt(nnodes, LAYOUT_MAX_NODES);
    struct lnode *n = &nodes[nnodes];
    snprintf(n->stem, sizeof n->stem, "%s", stem);
    snprintf(n->dir, sizeof n->dir, "%s", stem);
    char *slash = strrchr(n->dir, '/');
    if (slash)
        *slash = '\0';
    return nnodes++;
}

/* Room of a path: its first folder, or for model/ and harness/ the first two. */
static void room_of(const char *path, char *room, size_t size)
{
    snprintf(room, size, "%s", path);
    char *slash = strchr(room, '/');
    if (!slash)
        return;
    bool two = strncmp(room, "model/", 6) == 0 || strncmp(room, "harness/", 8) == 0;
    char *second = two ? strchr(slash + 1, '/') : NULL;
    *(second ? second : slash) = '\0';
}

/* May a file in room `from` include a header in room `to`? (DESIGN.md, "Layout".) */
static bool room_may_use(const char *from, const char *to)
{
    static const char *const allowed[][6] = {
        {"base"},
        {"model/engine", "base"},
        {"model/io", "base"},
        {"model/text", "base"},
        {"model/arch", "model/engine", "model/io", "model/text", "base"},
        {"methods", "model/", "base"},
        {"tasks", "model/", "base"},
    };
    if (strcmp(from, to) == 0 || strncmp(from, "harness/", 8) == 0)
        return true; /* the harness may use every room; its folders are checked for circles */
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strcmp(allowed[i][0], from) != 0)
            continue;
        for (int k = 1; k < 6 && allowed[i][k]; k++)
            if (strncmp(to, allowed[i][k], strlen(allowed[i][k])) == 0)
                return true;
        return false;
    }
    return false; /* a room the rules do not know: add it to the table above */
}

static void scan_includes(const char *path, FILE *f)
{
    char line[1024], target[LAYOUT_PATH], room[64], troom[64];
    int lineno = 0, from = node_of(path);
    room_of(path, room, sizeof room);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (sscanf(line, " # include \"%255[^\"]\"", target) != 1 || strncmp(target, "tests/", 6) == 0)
            continue;
        FILE *probe = fopen(target, "r");
        if (!probe) {
            char where[LAYOUT_PATH + 16];
            snprintf(where, sizeof where, "%s:%d", path, lineno);
            problem("%s: includes \"%s\", which is not a root-relative project path\n", where, target);
            continue;
        }
        fclose(probe);
        room_of(target, troom, sizeof troom);
        char where[LAYOUT_PATH + 16];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (strncmp(path, "tests/", 6) != 0 && !room_may_use(room, troom))
            problem("%s: dependency against the layout's direction: includes %s\n", where, target);
        int to = node_of(target);
        if (to != from && strncmp(path, "tests/", 6) != 0 && nedges < LAYOUT_MAX_EDGES) {
            edges[nedges].from = from;
            edges[nedges].to = to;
            snprintf(edges[nedges].where, sizeof edges[nedges].where, "%s", where);
            nedges++;
        }
    }
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F || !is_source(path) || strstr(path, "/corpus/"))
        return 0;
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    if (lines > LAYOUT_MAX_LINES) {
        char n[32];
        snprintf(n, sizeof n, "%d", lines);
        problem("%s: %s lines (at most 1000: split it by concept)\n", path, n);
    }
    rewind(f);
    scan_includes(path, f);
    fclose(f);
    return 0;
}

static void scan_tree(void)
{
    static const char *const roots[] = {"base", "model", "methods", "tasks", "harness", "tests"};
    nnodes = nedges = 0;
    problems[0] = '\0';
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        ck_assert_msg(nftw(roots[i], visit, 16, FTW_PHYS) == 0, "cannot walk %s/", roots[i]);
    ck_assert_int_gt(nnodes, 100); /* the walk really saw the tree */
}

/* Depth-first search for a circle over `adj` (n x n), by node or by folder; on one found,
 * writes the path into out and returns true. */
static bool find_cycle(int n, const unsigned char *adj, const char *(*name)(int), char *out,
                       size_t size)
{
    int *state = calloc((size_t)n, sizeof *state);
    int *stack = calloc((size_t)n, sizeof *stack), *next = calloc((size_t)n, sizeof *next);
    bool found = false;
    for (int s = 0; s < n && !found; s++) {
        if (state[s])
            continue;
        int top = 0;
        stack[top++] = s;
        state[s] = 1;
        next[s] = 0;
        while (top && !found) {
            int u = stack[top - 1];
            if (next[u] == n) {
                state[u] = 2;
                top--;
                continue;
            }
            int v = next[u]++;
            if (!adj[(size_t)u * (size_t)n + (size_t)v])
                continue;
            if (state[v] == 1) { /* back edge u -> v: the circle is v ... u -> v */
                found = true;
                int k = top - 1;
                while (stack[k] != v)
                    k--;
                size_t len = 0;
                for (; k < top && len < size; k++)
                    len += (size_t)snprintf(out + len, size - len, "%s -> ", name(stack[k]));
                if (len < size)
                    snprintf(out + len, size - len, "%s", name(v));
            } else if (!state[v]) {
                state[v] = 1;
                next[v] = 0;
                stack[top++] = v;
            }
        }
    }
    free(state);
    free(stack);
    free(next);
    return found;
}

static const char *node_name(int i) { return nodes[i].stem; }

static char dirs[LAYOUT_MAX_NODES][LAYOUT_PATH];
static const char *dir_name(int i) { return dirs[i]; }

START_TEST(test_file_sizes_and_directions)
{
    scan_tree();
    ck_assert_msg(problems[0] == '\0', "layout problems:\n%s", problems);
}
END_TEST

START_TEST(test_no_circle_between_files)
{
    scan_tree();
    unsigned char *adj = calloc((size_t)nnodes * (size_t)nnodes, 1);
    for (int i = 0; i < nedges; i++)
        adj[(size_t)edges[i].from * (size_t)nnodes + (size_t)edges[i].to] = 1;
    char cycle[4096] = "";
    bool found = find_cycle(nnodes, adj, node_name, cycle, sizeof cycle);
    free(adj);
    ck_assert_msg(!found, "files include each other in a circle: %s", cycle);
}
END_TEST

START_TEST(test_no_circle_between_folders)
{
    scan_tree();
    int ndirs = 0, of[LAYOUT_MAX_NODES];
    for (int i = 0; i < nnodes; i++) {
        int d = 0;
        while (d < ndirs && strcmp(dirs[d], nodes[i].dir) != 0)
            d++;
        if (d == ndirs)
            snprintf(dirs[ndirs++], LAYOUT_PATH, "%s", nodes[i].dir);
        of[i] = d;
    }
    unsigned char *adj = calloc((size_t)ndirs * (size_t)ndirs, 1);
    for (int i = 0; i < nedges; i++)
        if (of[edges[i].from] != of[edges[i].to])
            adj[(size_t)of[edges[i].from] * (size_t)ndirs + (size_t)of[edges[i].to]] = 1;
    char cycle[4096] = "";
    bool found = find_cycle(ndirs, adj, dir_name, cycle, sizeof cycle);
    free(adj);
    ck_assert_msg(!found, "folders depend on each other in a circle: %s", cycle);
}
END_TEST

/* The checker itself: a circle and a wrong-way include must be caught. */
START_TEST(test_checker_catches_circles_and_directions)
{
    unsigned char adj[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0}; /* 0 -> 1 -> 2 -> 0 */
    snprintf(dirs[0], LAYOUT_PATH, "a");
    snprintf(dirs[1], LAYOUT_PATH, "b");
    snprintf(dirs[2], LAYOUT_PATH, "c");
    char cycle[256] = "";
    ck_assert(find_cycle(3, adj, dir_name, cycle, sizeof cycle));
    ck_assert_str_eq(cycle, "a -> b -> c -> a");
    adj[6] = 0; /* break 2 -> 0 */
    ck_assert(!find_cycle(3, adj, dir_name, cycle, sizeof cycle));
    ck_assert(!room_may_use("model/engine", "model/arch"));
    ck_assert(!room_may_use("model/text", "model/engine"));
    ck_assert(!room_may_use("tasks", "methods"));
    ck_assert(!room_may_use("base", "model/engine"));
    ck_assert(room_may_use("model/arch", "model/engine"));
    ck_assert(room_may_use("methods", "model/arch"));
    char room[64];
    room_of("harness/run/run.c", room, sizeof room);
    ck_assert_str_eq(room, "harness/run");
    room_of("methods/lora.c", room, sizeof room);
    ck_assert_str_eq(room, "methods");
}
END_TEST

Suite *layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_checker_catches_circles_and_directions);
    tcase_add_test(tc, test_file_sizes_and_directions);
    tcase_add_test(tc, test_no_circle_between_files);
    tcase_add_test(tc, test_no_circle_between_folders);
    suite_add_tcase(s, tc);
    return s;
}
