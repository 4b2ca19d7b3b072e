/*
 * Regression tests for what fuzzing and review of the untrusted-input readers found, and the
 * documented input limits tested at their boundary: exactly at a limit passes, one over fails
 * with ERR_LIMIT and a message that names the limit.  The fuzz targets themselves live in
 * tests/fuzz/ (`make fuzz`).
 *
 * TCases: "fuzz" (one test per finding, feeding the exact input), "limits", "readers" (a
 * FIFO, socket, device or directory is refused by every reader before it can block).
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/readfile.h"
#include "harness/sweep/results.h"
#include "harness/sweep/sweep.h"
#include "harness/yaml/yaml.h"
#include "methods/persist.h"
#include "model/io/hfconfig.h"
#include "model/io/safetensors.h"
#include "model/text/bpe.h"
#include "model/text/tokenizer.h"
#include "tasks/task.h"
#include "tasks/tsv.h"
#include "tasks/wordnet.h"
#include "tests/cli_util.h"
#include "tests/suites.h"

/* ---- fixture: a fresh temporary directory per test -------------------------------------- */

static char rdir[64];

static void tmp_setup(void)
{
    snprintf(rdir, sizeof rdir, "/tmp/peftbench-regress-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rdir));
}

static void tmp_teardown(void)
{
    rm_tree(rdir);
}

/* Path of name in the temp dir (rotating static buffers: 4 may be live). */
static const char *rpath(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", rdir, name);
    return p;
}

static const char *put(const char *name, const void *data, size_t n)
{
    const char *p = rpath(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

static const char *put_str(const char *name, const char *text)
{
    return put(name, text, strlen(text));
}

static void assert_msg(const struct err *e, const char *a, const char *b)
{
    ck_assert_msg(strstr(e->msg, a) != NULL, "'%s' not in: %s", a, e->msg);
    if (b)
        ck_assert_msg(strstr(e->msg, b) != NULL, "'%s' not in: %s", b, e->msg);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A growable text buffer for generated inputs. */
struct gen {
    char *p;
    size_t n, cap;
};

static void gen_put(struct gen *g, const char *s, size_t len)
{
    if (g->n + len + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->n + len + 1)
            cap *= 2;
        g->p = realloc(g->p, cap);
        ck_assert_ptr_nonnull(g->p);
        g->cap = cap;
    }
    memcpy(g->p + g->n, s, len);
    g->n += len;
    g->p[g->n] = '\0';
}

static void gen_str(struct gen *g, const char *s)
{
    gen_put(g, s, strlen(s));
}

static void gen_fill(struct gen *g, char c, size_t len)
{
    char chunk[4096];
    memset(chunk, c, sizeof chunk);
    while (len) {
        size_t k = len < sizeof chunk ? len : sizeof chunk;
        gen_put(g, chunk, k);
        len -= k;
    }
}

/* ---- fuzz findings ------------------------------------------------------------------------ */

/* fuzz_tsv, input "\x13\n": a JSONL file task whose train file has no record.  make_labels
 * called memcpy(tmp, NULL, 0) (undefined behaviour, UBSan "null pointer passed as argument
 * 2"); it must be the clean "no label values" error. */
/* fuzz_sweep: an override whose dotted key joins to more than the path buffer.  The key and
 * path builders added snprintf's would-be length unchecked and formed pointers past the
 * 512-byte buffer (UBSan: index 581 out of bounds).  Now the text saturates and the override
 * is applied or refused cleanly. */
START_TEST(fuzz_override_long_dotted_key)
{
    struct ynode *root = NULL;
    struct err e = {0};
    const char *doc = "train: {lr: 1}\n";
    ck_assert_int_eq(ynode_parse_string(&root, doc, strlen(doc), "s.yaml", &e), 0);
    struct gen g = {0};
    gen_str(&g, "train.");
    for (int i = 0; i < 60; i++)
        gen_str(&g, "segment_xx.");
    gen_str(&g, "lr=2");
    int rc = ynode_apply_override(&root, g.p, &e); /* creates the nested maps, or refuses */
    ck_assert_msg(rc == 0 || e.msg[0], "rc %d without a message", rc);
    ck_assert_uint_lt(strlen(e.msg), sizeof e.msg);
    /* the same key again walks the existing long path (the found-key branch) */
    rc = ynode_apply_override(&root, g.p, &e);
    ck_assert_msg(rc == 0 || e.msg[0], "rc %d without a message", rc);
    free(g.p);
    ynode_free(root);
}
END_TEST

START_TEST(fuzz_filetask_empty_train)
{
    const char *path = put_str("in.data", "\n");
    struct task_params p;
    task_params_init(&p);
    p.file.name = "fuzz";
    p.file.train = p.file.dev = p.file.test = path;
    p.file.format = TSV_JSONL;
    p.file.header = false;
    p.file.text_a = "text";
    p.file.label = "label";
    struct task_data td;
    struct err e = {0};
    ck_assert_int_eq(task_load(&td, task_find("file"), &p, &e), ERR_CONFIG);
    assert_msg(&e, "task fuzz", "the train split has no label values");
    task_data_free(&td);
}
END_TEST

/* Review of the sweep expander: a set-valued hyperparameter longer than 511 bytes was cut at a
 * fixed buffer, silently dropping the choices after the cut ("q,<600 spaces>v" became "q"). */
START_TEST(review_long_set_value_keeps_every_choice)
{
    struct gen g = {0};
    gen_str(&g, "sweep: t\nmodel: builtin:tiny\ntasks: [syn-sentiment]\nmethods:\n"
                "  - {method: lora, targets: [\"q\", \"");
    gen_fill(&g, ' ', 600);
    gen_str(&g, "v\"]}\n");
    const char *path = put("long.yaml", g.p, g.n);
    free(g.p);
    struct sweep s;
    struct err e = {0};
    ck_assert_msg(sweep_load(&s, path, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.ntrials, 1);
    ck_assert_ptr_nonnull(strstr(s.trials[0].canonical, "lora.targets=q,v\n"));
    sweep_free(&s);
}
END_TEST

/* Review of hfconfig: a negative classifier_dropout in config.json was taken for null (the
 * struct's encoding of null) instead of being refused. */
START_TEST(review_negative_classifier_dropout)
{
    const char *path = put_str("config.json", "{\"classifier_dropout\": -0.5}");
    struct bert_config c;
    struct err e = {0};
    ck_assert_int_eq(hfconfig_read(&c, path, &e), ERR_RANGE);
    assert_msg(&e, "config.json: field 'classifier_dropout'", "not null or in [0, 1)");
    ck_assert_ptr_null(c.id2label);
    /* null and -0 stay accepted */
    path = put_str("config.json", "{\"classifier_dropout\": null}");
    ck_assert_int_eq(hfconfig_read(&c, path, &e), 0);
    ck_assert(c.classifier_dropout < 0.0f);
    path = put_str("config.json", "{\"classifier_dropout\": -0.0}");
    ck_assert_int_eq(hfconfig_read(&c, path, &e), 0);
    ck_assert(c.classifier_dropout == 0.0f);
}
END_TEST

static void put_record(int i, const char *methods)
{
    char name[64], rec[512];
    snprintf(name, sizeof name, "out/trials/%016x.json", i);
    snprintf(rec, sizeof rec,
             "{\"trial_id\": \"%016x\", \"status\": \"ok\", \"index\": %d, \"methods\": %s, "
             "\"train\": {\"lr\": 0.001}}",
             i, i, methods);
    put_str(name, rec);
}

/* Review of the results CSV (fuzz_results ran at 53 inputs/s): every row asked every record
 * whether it had each optional column, so a rebuild was O(records^2 x columns): 23 s for 1000
 * trials on the CI machine, and it runs after every trial.  A column used by the last record
 * only must still appear. */
START_TEST(review_results_rebuild_linear)
{
    const int n = 1500;
    ck_assert_int_eq(mkdir(rpath("out"), 0777), 0);
    ck_assert_int_eq(mkdir(rpath("out/trials"), 0777), 0);
    for (int i = 0; i < n - 1; i++)
        put_record(i, "[{\"method\": \"lora\", \"hparams\": {\"rank\": \"8\"}}]");
    put_record(n - 1, "[{\"method\": \"prefix\", \"hparams\": {\"prefix_length\": \"10\"}}]");
    struct err e = {0};
    int rows = 0;
    double t0 = now();
    ck_assert_msg(results_rebuild_csv(rpath("out"), &rows, &e) == 0, "%s", e.msg);
    double sec = now() - t0;
    ck_assert_int_eq(rows, n);
    ck_assert_msg(sec < 20.0, "rebuilding %d rows took %.1f s", n, sec);

    struct tsv_reader r;
    ck_assert_int_eq(tsv_open(&r, rpath("out/results.csv"), TSV_CSV, false, &e), 0);
    ck_assert_int_eq(tsv_next(&r, &e), 1);
    int rank = -1, plen = -1, lr = -1;
    size_t ncols = r.nfields;
    for (size_t i = 0; i < r.nfields; i++) {
        rank = strcmp(r.fields[i], "lora.rank") == 0 ? (int)i : rank;
        plen = strcmp(r.fields[i], "prefix.prefix_length") == 0 ? (int)i : plen;
        lr = strcmp(r.fields[i], "train.lr") == 0 ? (int)i : lr;
    }
    ck_assert(rank >= 0 && plen >= 0 && lr >= 0);
    int k = 0, rc;
    while ((rc = tsv_next(&r, &e)) == 1) {
        ck_assert_uint_eq(r.nfields, ncols);
        ck_assert_str_eq(r.fields[rank], k < n - 1 ? "8" : "");
        ck_assert_str_eq(r.fields[plen], k < n - 1 ? "" : "10");
        ck_assert_str_eq(r.fields[lr], "0.001");
        k++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(k, n);
    tsv_close(&r);
}
END_TEST

/* Trial records are read whole: a long one (past the first 64 KiB read) is fine, one over
 * the 16 MiB record limit is refused by name. */
START_TEST(review_results_record_size)
{
    ck_assert_int_eq(mkdir(rpath("out"), 0777), 0);
    ck_assert_int_eq(mkdir(rpath("out/trials"), 0777), 0);
    struct gen g = {0};
    gen_str(&g, "{\"trial_id\": \"0123456789abcdef\", \"status\": \"ok\", \"message\": \"");
    gen_fill(&g, 'x', 200000);
    gen_str(&g, "\"}");
    put("out/trials/0123456789abcdef.json", g.p, g.n);
    struct err e = {0};
    int rows = 0;
    ck_assert_msg(results_rebuild_csv(rpath("out"), &rows, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(rows, 1);
    g.n = 0;
    gen_str(&g, "{\"trial_id\": \"fedcba9876543210\", \"status\": \"ok\"}");
    gen_fill(&g, ' ', ((size_t)16 << 20) + 1 - g.n);
    put("out/trials/fedcba9876543210.json", g.p, g.n);
    free(g.p);
    ck_assert_int_eq(results_rebuild_csv(rpath("out"), &rows, &e), ERR_LIMIT);
    assert_msg(&e, "fedcba9876543210.json: larger than 16777216 bytes", NULL);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------------- */

/* YAML_MAX_FILE_BYTES: a comment-only file of exactly 1 MiB loads (no document), one byte more
 * is refused; the same for ynode_parse_string. */
START_TEST(limit_yaml_file_bytes)
{
    struct gen g = {0};
    while (g.n < YAML_MAX_FILE_BYTES)
        gen_str(&g, "# 64-byte comment line ...................................... #\n");
    ck_assert_uint_eq(g.n, YAML_MAX_FILE_BYTES);
    struct ynode *root = (struct ynode *)&g;
    struct err e = {0};
    ck_assert_int_eq(ynode_load_file(&root, put("at.yaml", g.p, g.n), true, &e), 0);
    ck_assert_ptr_null(root);
    ck_assert_int_eq(ynode_parse_string(&root, g.p, g.n, "at.yaml", &e), 0);
    ck_assert_ptr_null(root);
    gen_str(&g, "#");
    ck_assert_int_eq(ynode_load_file(&root, put("over.yaml", g.p, g.n), true, &e), ERR_LIMIT);
    assert_msg(&e, "over.yaml:16385:1: file is larger than the 1 MiB limit", "YAML_MAX_FILE_BYTES");
    ck_assert_int_eq(ynode_parse_string(&root, g.p, g.n, "over.yaml", &e), ERR_LIMIT);
    assert_msg(&e, "over.yaml", "YAML_MAX_FILE_BYTES");
    free(g.p);
}
END_TEST

/* YAML_MAX_DEPTH: 32 nested lists load, 33 do not. */
START_TEST(limit_yaml_depth)
{
    char text[128];
    struct ynode *root;
    struct err e = {0};
    for (int depth = YAML_MAX_DEPTH; depth <= YAML_MAX_DEPTH + 1; depth++) {
        size_t o = 0;
        for (int i = 0; i < depth; i++)
            text[o++] = '[';
        text[o++] = 'x';
        for (int i = 0; i < depth; i++)
            text[o++] = ']';
        text[o] = '\0';
        int rc = ynode_parse_string(&root, text, o, "deep.yaml", &e);
        if (depth == YAML_MAX_DEPTH) {
            ck_assert_msg(rc == 0, "%s", e.msg);
            ynode_free(root);
        } else {
            ck_assert_int_eq(rc, ERR_LIMIT);
            assert_msg(&e, "deep.yaml:1:33: expected at most 32 nested", "YAML_MAX_DEPTH");
        }
    }
}
END_TEST

/* YAML_MAX_NODES: a list of 99999 scalars is 100000 nodes and loads; one more item does not. */
START_TEST(limit_yaml_nodes)
{
    struct gen g = {0};
    gen_str(&g, "[0");
    for (int i = 1; i < YAML_MAX_NODES - 1; i++)
        gen_str(&g, ",0");
    gen_str(&g, "]");
    struct ynode *root;
    struct err e = {0};
    ck_assert_msg(ynode_parse_string(&root, g.p, g.n, "nodes.yaml", &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(root->n, YAML_MAX_NODES - 1);
    ynode_free(root);
    g.n--;
    gen_str(&g, ",0]");
    ck_assert_int_eq(ynode_parse_string(&root, g.p, g.n, "nodes.yaml", &e), ERR_LIMIT);
    assert_msg(&e, "more than 100000 YAML nodes", "YAML_MAX_NODES");
    free(g.p);
}
END_TEST

/* Aliases: copies count against YAML_MAX_NODES.  [&a [270 x], *a x 368] is
 * 1 + 271 + 368 * 271 = 100000 nodes; one alias more goes past the limit. */
START_TEST(limit_yaml_alias_nodes)
{
    struct gen g = {0};
    gen_str(&g, "[&a [x");
    for (int i = 1; i < 270; i++)
        gen_str(&g, ",x");
    gen_str(&g, "]");
    for (int i = 0; i < 368; i++)
        gen_str(&g, ",*a");
    gen_str(&g, "]");
    struct ynode *root;
    struct err e = {0};
    ck_assert_msg(ynode_parse_string(&root, g.p, g.n, "alias.yaml", &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(root->n, 369);
    ynode_free(root);
    g.n--;
    gen_str(&g, ",*a]");
    ck_assert_int_eq(ynode_parse_string(&root, g.p, g.n, "alias.yaml", &e), ERR_LIMIT);
    assert_msg(&e, "alias '*a' expands past the limit of 100000 YAML nodes", "YAML_MAX_NODES");
    free(g.p);
}
END_TEST

/* YAML_MAX_ANCHORS distinct anchors load, one more does not. */
START_TEST(limit_yaml_anchors)
{
    struct gen g = {0};
    char item[32];
    gen_str(&g, "[");
    for (int i = 0; i < YAML_MAX_ANCHORS; i++) {
        snprintf(item, sizeof item, "%s&a%d x", i ? "," : "", i);
        gen_str(&g, item);
    }
    gen_str(&g, ",*a0]");
    struct ynode *root;
    struct err e = {0};
    ck_assert_msg(ynode_parse_string(&root, g.p, g.n, "anchors.yaml", &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(root->n, YAML_MAX_ANCHORS + 1);
    ynode_free(root);
    g.n -= strlen(",*a0]");
    gen_str(&g, ",&extra x]");
    ck_assert_int_eq(ynode_parse_string(&root, g.p, g.n, "anchors.yaml", &e), ERR_LIMIT);
    assert_msg(&e, "more than 1024 anchors", "YAML_MAX_ANCHORS");
    free(g.p);
}
END_TEST

/* ST_MAX_HEADER: a header of exactly 100 MiB ("{}" and padding) reads; a length prefix one
 * more is refused before anything is allocated. */
START_TEST(limit_st_header)
{
    const char *path = rpath("big.safetensors");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(ST_MAX_HEADER >> (8 * i));
    ck_assert_uint_eq(fwrite(prefix, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite("{}", 1, 2, f), 2);
    char spaces[65536];
    memset(spaces, ' ', sizeof spaces);
    for (uint64_t left = ST_MAX_HEADER - 2; left > 0;) {
        size_t k = left < sizeof spaces ? (size_t)left : sizeof spaces;
        ck_assert_uint_eq(fwrite(spaces, 1, k, f), k);
        left -= k;
    }
    ck_assert_int_eq(fclose(f), 0);
    struct st_file sf;
    struct err e = {0};
    ck_assert_msg(st_read(&sf, path, NULL, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(sf.n, 0);
    st_free(&sf);
    remove(path);

    uint64_t over = ST_MAX_HEADER + 1;
    unsigned char buf[10];
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(over >> (8 * i));
    memcpy(buf + 8, "{}", 2);
    ck_assert_int_eq(st_read(&sf, put("over.safetensors", buf, sizeof buf), NULL, NULL, &e),
                     ERR_LIMIT);
    assert_msg(&e, "header length 104857601 exceeds the limit", "ST_MAX_HEADER");
}
END_TEST

static const char *put_st_many(const char *name, int n)
{
    struct gen g = {0};
    char item[128];
    gen_str(&g, "12345678{");
    for (int i = 0; i < n; i++) {
        snprintf(item, sizeof item,
                 "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "",
                 i);
        gen_str(&g, item);
    }
    gen_str(&g, "}");
    uint64_t hlen = g.n - 8;
    for (int i = 0; i < 8; i++)
        g.p[i] = (char)(unsigned char)(hlen >> (8 * i));
    const char *p = put(name, g.p, g.n);
    free(g.p);
    return p;
}

/* ST_MAX_TENSORS: exactly 100000 entries read (the +1 case is in test_safetensors.c). */
START_TEST(limit_st_tensors)
{
    struct st_file sf;
    struct err e = {0};
    ck_assert_msg(st_read(&sf, put_st_many("many.safetensors", ST_MAX_TENSORS), NULL, NULL, &e) ==
                      0,
                  "%s", e.msg);
    ck_assert_uint_eq(sf.n, ST_MAX_TENSORS);
    ck_assert_ptr_nonnull(st_find(&sf, "t99999"));
    st_free(&sf);
}
END_TEST

/* TSV_MAX_LINE in every format: a record of exactly the limit reads (also with CRLF), one byte
 * more is refused naming the limit.  max_len is the record's text; the builder adds the line. */
static void tsv_boundary(enum tsv_format fmt, const char *ending)
{
    static const char *const names[] = {"t.tsv", "t.tsvq", "t.csv", "t.jsonl"};
    for (size_t len = TSV_MAX_LINE; len <= TSV_MAX_LINE + 1; len++) {
        struct gen g = {0};
        if (fmt == TSV_JSONL) {
            gen_str(&g, "{\"text\": \"");
            gen_fill(&g, 'x', len - 12);
            gen_str(&g, "\"}");
        } else if (fmt == TSV_PLAIN) {
            gen_fill(&g, 'x', len - 2);
            gen_str(&g, "\t1");
        } else {
            gen_str(&g, "\"a");
            gen_fill(&g, 'x', len - 7);
            gen_str(&g, fmt == TSV_CSV ? "\nb\",1" : "\nb\"\t1");
        }
        ck_assert_uint_eq(g.n, len);
        gen_str(&g, ending);
        gen_str(&g, fmt == TSV_JSONL ? "{\"text\": \"y\"}\n" : "y\t2\n");
        const char *path = put(names[fmt], g.p, g.n);
        free(g.p);
        struct tsv_reader r;
        struct err e = {0};
        ck_assert_int_eq(tsv_open(&r, path, fmt, false, &e), 0);
        int rc = tsv_next(&r, &e);
        if (len == TSV_MAX_LINE) {
            ck_assert_msg(rc == 1, "%s: %s", tsv_format_name(fmt), e.msg);
            if (fmt == TSV_JSONL)
                ck_assert_uint_eq(strlen(tsv_json_get(&r, "text")), len - 12);
            else
                ck_assert_str_eq(r.fields[r.nfields - 1], "1");
            ck_assert_int_eq(tsv_next(&r, &e), 1);
        } else {
            ck_assert_int_eq(rc, ERR_LIMIT);
            assert_msg(&e, names[fmt], "TSV_MAX_LINE");
        }
        tsv_close(&r);
    }
}

START_TEST(limit_tsv_line)
{
    static const char *const endings[] = {"\n", "\r\n"};
    for (int fmt = TSV_PLAIN; fmt <= TSV_JSONL; fmt++)
        for (int k = 0; k < 2; k++)
            tsv_boundary((enum tsv_format)fmt, endings[k]);
}
END_TEST

/* TOK_MAX_VOCAB: a vocab.txt of exactly that many distinct lines loads (the +1 case is in
 * test_tokenizer.c). */
START_TEST(limit_vocab_size)
{
    struct gen g = {0};
    gen_str(&g, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    char tok[32];
    for (int i = 4; i < TOK_MAX_VOCAB; i++) {
        snprintf(tok, sizeof tok, "t%d\n", i);
        gen_str(&g, tok);
    }
    const char *path = put("vocab.txt", g.p, g.n);
    free(g.p);
    struct tokenizer *t = NULL;
    struct err e = {0};
    ck_assert_msg(tokenizer_load_wordpiece(&t, path, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(tokenizer_vocab_size(t), TOK_MAX_VOCAB);
    ck_assert_int_eq(tokenizer_token_to_id(t, "t999999"), TOK_MAX_VOCAB - 1);
    tokenizer_free(t);
}
END_TEST

#define SWEEP_HEAD "sweep: t\nmodel: builtin:tiny\n"

/* max_trials: a grid of exactly max_trials trials loads, max_trials + 1 does not;
 * SWEEP_HARD_MAX_TRIALS + 1 is refused even with allow_large (exactly the hard limit would
 * expand 100000 trials, ~0.5 GB: the comparison is the one max_trials tests). */
START_TEST(limit_grid_size)
{
    struct sweep s;
    struct err e = {0};
    const char *p =
        put_str("grid.yaml", SWEEP_HEAD "tasks: [syn-sentiment]\nseeds: [1, 2]\n"
                                        "max_trials: 4\nmethods:\n"
                                        "  - {method: full, train: {epochs: [1, 2]}}\n");
    ck_assert_msg(sweep_load(&s, p, NULL, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.ntrials, 4);
    sweep_free(&s);
    p = put_str("grid.yaml", SWEEP_HEAD "tasks: [syn-sentiment]\nseeds: [1, 2]\n"
                                        "max_trials: 4\nmethods:\n"
                                        "  - {method: full, train: {epochs: [1, 2, 3]}}\n");
    ck_assert_int_eq(sweep_load(&s, p, NULL, &e), ERR_LIMIT);
    assert_msg(&e, "grid.yaml:7:5", "6 trials, more than max_trials = 4");

    /* 100001 = 100 epochs x 1000 batch sizes in one block, plus one trial of head */
    struct gen g = {0};
    gen_str(&g, SWEEP_HEAD "tasks: [syn-sentiment]\nmax_trials: 200000\nmethods:\n"
                           "  - method: full\n    train:\n      epochs: [1");
    char num[24];
    for (int i = 2; i <= 100; i++) {
        snprintf(num, sizeof num, ",%d", i);
        gen_str(&g, num);
    }
    gen_str(&g, "]\n      batch_size: [1");
    for (int i = 2; i <= 1000; i++) {
        snprintf(num, sizeof num, ",%d", i);
        gen_str(&g, num);
    }
    gen_str(&g, "]\n  - head\n");
    p = put("hard.yaml", g.p, g.n);
    free(g.p);
    struct sweep_opts o = {.allow_large = true};
    ck_assert_int_eq(sweep_load(&s, p, &o, &e), ERR_LIMIT);
    assert_msg(&e, "100001 trials, more than the hard limit of 100000", "SWEEP_HARD_MAX_TRIALS");
}
END_TEST

/* SWEEP_MAX_TASKS and SWEEP_MAX_SEEDS: exactly at the limit loads, one more does not. */
START_TEST(limit_sweep_tasks_seeds)
{
    char item[64];
    for (int n = SWEEP_MAX_TASKS; n <= SWEEP_MAX_TASKS + 1; n++) {
        struct gen g = {0};
        gen_str(&g, SWEEP_HEAD "methods: [head]\ntasks:\n");
        for (int i = 0; i < n; i++) {
            snprintf(item, sizeof item, "  - {name: ft%d, path: d.tsv}\n", i);
            gen_str(&g, item);
        }
        const char *p = put("tasks.yaml", g.p, g.n);
        free(g.p);
        struct sweep s;
        struct err e = {0};
        int rc = sweep_load(&s, p, NULL, &e);
        if (n == SWEEP_MAX_TASKS) {
            ck_assert_msg(rc == 0, "%s", e.msg);
            ck_assert_int_eq(s.ntasks, SWEEP_MAX_TASKS);
            sweep_free(&s);
        } else {
            ck_assert_int_eq(rc, ERR_LIMIT);
            assert_msg(&e, "tasks: expected at most 1024 tasks", "SWEEP_MAX_TASKS");
        }
    }
    for (int n = SWEEP_MAX_SEEDS; n <= SWEEP_MAX_SEEDS + 1; n++) {
        struct gen g = {0};
        gen_str(&g, SWEEP_HEAD "methods: [head]\ntasks: [syn-sentiment]\nseeds: [0");
        for (int i = 1; i < n; i++) {
            snprintf(item, sizeof item, ",%d", i);
            gen_str(&g, item);
        }
        gen_str(&g, "]\n");
        const char *p = put("seeds.yaml", g.p, g.n);
        free(g.p);
        struct sweep s;
        struct err e = {0};
        int rc = sweep_load(&s, p, NULL, &e);
        if (n == SWEEP_MAX_SEEDS) {
            ck_assert_msg(rc == 0, "%s", e.msg);
            ck_assert_uint_eq(s.ntrials, SWEEP_MAX_SEEDS);
            sweep_free(&s);
        } else {
            ck_assert_int_eq(rc, ERR_LIMIT);
            assert_msg(&e, "seeds: expected at most 4096 seeds", "SWEEP_MAX_SEEDS");
        }
    }
}
END_TEST

/* A sparse file of n bytes (zeros; no disk used). */
static const char *put_sparse(const char *name, off_t n)
{
    const char *p = rpath(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, n), 0);
    ck_assert_int_eq(close(fd), 0);
    return p;
}

/* readfile_bounded on a pipe fed n bytes by a child: no size known in advance, so the
 * limit is enforced by the read loop itself (a regular file is refused from fstat).  The
 * readers never open a FIFO (base/readfile.h), but the loop still guards any stream. */
static int read_pipe(size_t n, size_t limit, size_t *len)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        close(fds[0]);
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        for (size_t off = 0; off < n;) {
            size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;
            ssize_t w = write(fds[1], chunk, k);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = NULL;
    int rc = readfile_bounded(f, limit, &buf, len);
    fclose(f); /* a writer still blocked on a full pipe gets SIGPIPE */
    free(buf);
    int st;
    waitpid(pid, &st, 0);
    return rc;
}

/* WN_MAX_FILE: a data file of exactly the limit is read, one byte more is refused; the
 * boundary is checked with small limits (at the 1 MiB first buffer, and past a doubling at a
 * limit that is no power of two), for regular files and (readfile_bounded itself) pipes; a
 * FIFO is refused unopened; the real constant with a sparse file one byte over it, through
 * wn_load. */
START_TEST(limit_wordnet_file)
{
    const size_t limits[] = {0, 1, 4096, (size_t)1 << 20, ((size_t)3 << 20) + 5};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        size_t lim = limits[i], len = 0;
        char *buf = NULL;
        struct err e = {0};
        const char *p = put_sparse("data.file", (off_t)lim);
        ck_assert_msg(wn_read_file(p, lim, &buf, &len, &e) == 0, "limit %zu: %s", lim, e.msg);
        ck_assert_uint_eq(len, lim);
        ck_assert_int_eq(buf[len], '\0');
        free(buf);
        buf = NULL;
        p = put_sparse("data.file", (off_t)lim + 1);
        ck_assert_int_eq(wn_read_file(p, lim, &buf, &len, &e), ERR_LIMIT);
        ck_assert_ptr_null(buf);
        assert_msg(&e, "data.file", "WN_MAX_FILE");
        ck_assert_msg(wn_read_file(p, lim + 1, &buf, &len, &e) == 0, "%s", e.msg);
        free(buf);

        ck_assert_int_eq(read_pipe(lim, lim, &len), ERR_OK);
        ck_assert_uint_eq(len, lim);
        ck_assert_int_eq(read_pipe(lim + 1, lim, &len), ERR_LIMIT);
    }
    /* a FIFO is refused before it is opened: reading one would wait for a writer forever */
    const char *fifo = rpath("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    alarm(10);
    size_t len = 0;
    char *buf = NULL;
    struct err fe = {0};
    ck_assert_int_eq(wn_read_file(fifo, WN_MAX_FILE, &buf, &len, &fe), ERR_IO);
    alarm(0);
    ck_assert_ptr_null(buf);
    assert_msg(&fe, "fifo: not a regular file (a FIFO)", NULL);
    ck_assert_ptr_null(strstr(fe.msg, "wordnet-base")); /* the install advice is for absence */
    /* the real limit, through the loader: data.noun one byte over WN_MAX_FILE */
    ck_assert_int_eq(mkdir(rpath("wn"), 0700), 0);
    put_sparse("wn/data.noun", (off_t)WN_MAX_FILE + 1);
    struct wordnet wn;
    struct err e = {0};
    ck_assert_int_eq(wn_load(&wn, rpath("wn"), &e), ERR_LIMIT);
    assert_msg(&e, "wn/data.noun", "larger than 268435456 bytes (WN_MAX_FILE");
}
END_TEST

/* BPE_MAX_FILE_BYTES: a vocab.json of exactly the limit is read (and then refused as JSON,
 * not for its size); one byte more is ERR_LIMIT naming the limit.  Before, the reader doubled
 * its buffer past the limit first and accepted files up to twice the limit. */
START_TEST(limit_bpe_file)
{
    const char *merges = put_str("merges.txt", "#version: 0.2\n");
    struct bpe *b = NULL;
    struct err e = {0};
    const char *v = put_sparse("vocab.json", (off_t)BPE_MAX_FILE_BYTES);
    int rc = bpe_load(&b, v, merges, false, &e);
    ck_assert_int_ne(rc, ERR_OK);
    ck_assert_msg(rc != ERR_LIMIT, "exactly at the limit refused for size: %s", e.msg);
    v = put_sparse("vocab.json", (off_t)BPE_MAX_FILE_BYTES + 1);
    ck_assert_int_eq(bpe_load(&b, v, merges, false, &e), ERR_LIMIT);
    ck_assert_ptr_null(b);
    assert_msg(&e, "vocab.json", "BPE_MAX_FILE_BYTES");
}
END_TEST

/* ---- readers refuse what is not a regular file -------------------------------------------- */

/* A listening-less UNIX socket file at path (what `nc -lU` would leave behind). */
static void make_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (const struct sockaddr *)&a, sizeof a), 0);
    close(fd); /* the file stays */
}

/* base/readfile: each kind of non-regular file is named; a missing file keeps errno for the
 * callers that add advice; a regular file opens, blocking reads restored. */
START_TEST(readfile_refuses_special_files)
{
    const char *fifo = rpath("fifo"), *sock = rpath("sock");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    make_socket(sock);
    static const struct {
        const char *path, *want;
    } cases[] = {
        {NULL, "fifo: not a regular file (a FIFO)"},
        {NULL, "sock: not a regular file (a socket)"},
        {"/dev/null", "/dev/null: not a regular file (a character device)"},
        {"/tmp", "/tmp: not a regular file (a directory)"},
    };
    alarm(10); /* a regression blocks in open or read: fail instead of hanging */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p = cases[i].path ? cases[i].path : i == 0 ? fifo : sock;
        struct err e = {0};
        ck_assert_int_eq(readfile_check(p, &e), ERR_IO);
        assert_msg(&e, cases[i].want, NULL);
        ck_assert_int_eq(errno, 0);
        int fd = 7;
        ck_assert_int_eq(readfile_open(p, &fd, &e), ERR_IO);
        ck_assert_int_eq(fd, -1);
        assert_msg(&e, cases[i].want, NULL);
        FILE *f = stdin;
        ck_assert_int_eq(readfile_fopen(p, &f, &e), ERR_IO);
        ck_assert_ptr_null(f);
        assert_msg(&e, cases[i].want, NULL);
    }
    struct err e = {0};
    int fd;
    ck_assert_int_eq(readfile_open(rpath("absent"), &fd, &e), ERR_IO);
    ck_assert_int_eq(errno, ENOENT);
    assert_msg(&e, "absent: cannot open: No such file or directory", NULL);
    const char *reg = put_str("regular.txt", "hello");
    FILE *f;
    ck_assert_msg(readfile_fopen(reg, &f, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(fcntl(fileno(f), F_GETFL) & O_NONBLOCK, 0);
    char buf[8] = {0};
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 5);
    ck_assert_str_eq(buf, "hello");
    fclose(f);
    alarm(0);
}
END_TEST

/* Every reader of a user's file, given a FIFO (nobody writing): an error at once naming the
 * file, where each used to wait for a writer forever. */
START_TEST(readers_refuse_a_fifo)
{
    const char *fifo = rpath("data.tsv");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *want = "data.tsv: not a regular file (a FIFO)";
    alarm(20);
    struct err e = {0};
    struct tsv_reader r;
    ck_assert_int_eq(tsv_open(&r, fifo, TSV_PLAIN, false, &e), ERR_IO);
    assert_msg(&e, want, NULL);
    size_t n = 0;
    ck_assert_int_eq(tsv_count(fifo, TSV_PLAIN, &n, &e), ERR_IO);
    assert_msg(&e, want, NULL);
    struct bert_config c;
    ck_assert_int_eq(hfconfig_read(&c, fifo, &e), ERR_IO);
    assert_msg(&e, want, NULL);
    struct st_file sf;
    ck_assert_int_eq(st_read(&sf, fifo, NULL, NULL, &e), ERR_IO);
    assert_msg(&e, want, NULL);
    /* a FIFO named like a trial record in a results directory */
    ck_assert_int_eq(mkdir(rpath("out"), 0700), 0);
    ck_assert_int_eq(mkdir(rpath("out/trials"), 0700), 0);
    ck_assert_int_eq(mkfifo(rpath("out/trials/0123456789abcdef.json"), 0600), 0);
    int rows = 0;
    ck_assert_int_eq(results_rebuild_csv(rpath("out"), &rows, &e), ERR_IO);
    assert_msg(&e, "0123456789abcdef.json: not a regular file (a FIFO)", NULL);
    /* an adapter directory whose adapter_config.json is a FIFO */
    ck_assert_int_eq(mkdir(rpath("adapter"), 0700), 0);
    ck_assert_int_eq(mkfifo(rpath("adapter/adapter_config.json"), 0600), 0);
    int C = 0;
    ck_assert_int_ne(persist_read_num_labels(rpath("adapter"), &C, &e), ERR_OK);
    assert_msg(&e, "adapter_config.json: not a regular file (a FIFO)", NULL);
    alarm(0);
}
END_TEST

Suite *regress_suite(void)
{
    Suite *s = suite_create("regress");
    TCase *tc = tcase_create("fuzz");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fuzz_filetask_empty_train);
    tcase_add_test(tc, fuzz_override_long_dotted_key);
    tcase_add_test(tc, review_long_set_value_keeps_every_choice);
    tcase_add_test(tc, review_negative_classifier_dropout);
    tcase_add_test(tc, review_results_rebuild_linear);
    tcase_add_test(tc, review_results_record_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, limit_yaml_file_bytes);
    tcase_add_test(tc, limit_yaml_depth);
    tcase_add_test(tc, limit_yaml_nodes);
    tcase_add_test(tc, limit_yaml_alias_nodes);
    tcase_add_test(tc, limit_yaml_anchors);
    tcase_add_test(tc, limit_st_header);
    tcase_add_test(tc, limit_st_tensors);
    tcase_add_test(tc, limit_tsv_line);
    tcase_add_test(tc, limit_vocab_size);
    tcase_add_test(tc, limit_grid_size);
    tcase_add_test(tc, limit_sweep_tasks_seeds);
    tcase_add_test(tc, limit_wordnet_file);
    tcase_add_test(tc, limit_bpe_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, readfile_refuses_special_files);
    tcase_add_test(tc, readers_refuse_a_fifo);
    suite_add_tcase(s, tc);
    return s;
}
