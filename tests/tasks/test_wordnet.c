/* Tests of WordNet (tasks/wordnet.c): parsing real data-file lines and their errors, gloss
 * splitting, the hash split, a small database in the real format, the WordNet tasks on it, and
 * (when wordnet-base is installed) that no synset leaks across train / dev / test. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/task.h"
#include "tasks/wordnet.h"
#include "tests/suites.h"
#include "tests/tasks/task_fixture.h"

/* ------------------------------------------------------------------ WordNet */

/* Real lines of /usr/share/wordnet (WordNet 3.0), trailing spaces included. */
static const char wn_dog[] =
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ 02083346 n 0000 @ 01317541 "
    "n 0000 #m 02083863 n 0000 #m 07994941 n 0000 ~ 01322604 n 0000 ~ 02084732 n 0000 ~ 02084861 "
    "n 0000 ~ 02085272 n 0000 ~ 02085374 n 0000 ~ 02087122 n 0000 ~ 02103406 n 0000 ~ 02110341 n "
    "0000 ~ 02110806 n 0000 ~ 02110958 n 0000 ~ 02111129 n 0000 ~ 02111277 n 0000 ~ 02111500 n "
    "0000 ~ 02111626 n 0000 ~ 02112497 n 0000 ~ 02112826 n 0000 ~ 02113335 n 0000 ~ 02113978 n "
    "0000 %p 02158846 n 0000 | a member of the genus Canis (probably descended from the common "
    "wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; "
    "\"the dog barked all night\"  ";
static const char wn_blunder[] =
    "00074790 04 n 0b blunder 0 blooper 0 bloomer 0 bungle 0 pratfall 0 foul-up 0 fuckup 0 flub "
    "0 botch 0 boner 0 boo-boo 0 019 @ 00070965 n 0000 + 02229001 a 0901 + 02527651 v 0901 + "
    "02527651 v 0808 + 02527651 v 0718 + 02527651 v 0616 + 02527651 v 040d + 00013172 v 0401 + "
    "02566227 v 0103 ~ 00071864 n 0000 ~ 00075283 n 0000 ~ 00075471 n 0000 ~ 00075790 n 0000 ~ "
    "00075912 n 0000 ~ 00076072 n 0000 ~ 00076196 n 0000 ~ 00076323 n 0000 ~ 00076393 n 0000 ~ "
    "00076563 n 0000 | an embarrassing mistake  ";
static const char wn_hegira[] =
    "00060548 04 n 02 Hegira 1 Hejira 1 001 @i 00058743 n 0000 | the flight of Muhammad from "
    "Mecca to Medina in 622 which marked the beginning of the Muslim era; the Muslim calendar "
    "begins in that year  ";
static const char wn_breathe[] =
    "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 * "
    "00004227 v 0000 + 03110323 a 0301 + 00831191 n 0303 + 04080833 n 0301 + 04250850 n 0105 + "
    "00831191 n 0101 ^ 00004227 v 0103 ^ 00005041 v 0103 $ 00002325 v 0000 $ 00002573 v 0000 ~ "
    "00002573 v 0000 ~ 00002724 v 0000 ~ 00002942 v 0000 ~ 00003826 v 0000 ~ 00004032 v 0000 ~ "
    "00004227 v 0000 ~ 00005041 v 0000 ~ 00006697 v 0000 ~ 00007328 v 0000 ~ 00017031 v 0000 02 "
    "+ 02 00 + 08 00 | draw air into, and expel out of, the lungs; \"I can breathe better when "
    "the air is clean\"; \"The patient is respiring\"  ";
static const char wn_aspirate[] = "00003316 29 v 01 aspirate 0 003 @ 00005041 v 0000 + 00836788 n "
                                  "0103 + 02748491 n 0101 01 + 08 00 | suck in (air)  ";
static const char wn_nascent[] =
    "00003356 00 a 01 nascent 0 005 + 07320302 n 0103 ! 00003939 a 0101 & 00003553 a 0000 & "
    "00003700 a 0000 & 00003829 a 0000 |  being born or beginning; \"the nascent chicks\"; \"a "
    "nascent insurgency\"   ";

static char *span(const char *s, struct wn_span sp)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%.*s", (int)sp.len, s + sp.off);
    return buf[k];
}

START_TEST(test_wn_parse_real_lines)
{
    static struct wn_line ln;
    struct err e = {0};
    ck_assert_int_eq(wn_parse_line(&ln, wn_dog, strlen(wn_dog), &e), 0);
    ck_assert_uint_eq(ln.offset, 2084071);
    ck_assert_int_eq(ln.lex_filenum, 5);
    ck_assert_str_eq(wn_lexname(ln.lex_filenum), "noun.animal");
    ck_assert_int_eq(ln.ss_type, 'n');
    ck_assert_int_eq(ln.nwords, 3);
    ck_assert_str_eq(span(wn_dog, ln.words[2]), "Canis_familiaris");
    ck_assert_int_eq(ln.nptrs, 23);
    ck_assert_str_eq(ln.ptrs[0].sym, "@");
    ck_assert_uint_eq(ln.ptrs[1].offset, 1317541);
    ck_assert_str_eq(ln.ptrs[2].sym, "#m");
    ck_assert_str_eq(ln.ptrs[22].sym, "%p");
    ck_assert_str_eq(span(wn_dog, ln.gloss),
                     "a member of the genus Canis (probably descended from the common wolf) that "
                     "has been domesticated by man since prehistoric times; occurs in many "
                     "breeds; \"the dog barked all night\"");

    ck_assert_int_eq(wn_parse_line(&ln, wn_blunder, strlen(wn_blunder), &e), 0);
    ck_assert_int_eq(ln.nwords, 11); /* w_cnt "0b" is hexadecimal */
    ck_assert_str_eq(span(wn_blunder, ln.words[10]), "boo-boo");
    ck_assert_int_eq(ln.nptrs, 19);
    ck_assert_uint_eq(ln.ptrs[6].src_tgt, 0x040d);
    ck_assert_str_eq(span(wn_blunder, ln.gloss), "an embarrassing mistake");

    ck_assert_int_eq(wn_parse_line(&ln, wn_hegira, strlen(wn_hegira), &e), 0);
    ck_assert_str_eq(ln.ptrs[0].sym, "@i");

    ck_assert_int_eq(wn_parse_line(&ln, wn_breathe, strlen(wn_breathe), &e), 0);
    ck_assert_int_eq(ln.ss_type, 'v');
    ck_assert_str_eq(wn_lexname(ln.lex_filenum), "verb.body");
    ck_assert_int_eq(ln.nwords, 4);
    ck_assert_int_eq(ln.nptrs, 21);
    ck_assert_int_eq(ln.nframes, 2);
    ck_assert_int_eq(wn_parse_line(&ln, wn_aspirate, strlen(wn_aspirate), &e), 0);
    ck_assert_int_eq(ln.nframes, 1);
    ck_assert_str_eq(span(wn_aspirate, ln.gloss), "suck in (air)");

    ck_assert_int_eq(wn_parse_line(&ln, wn_nascent, strlen(wn_nascent), &e), 0);
    ck_assert_int_eq(ln.ss_type, 'a');
    ck_assert_str_eq(span(wn_nascent, ln.gloss),
                     "being born or beginning; \"the nascent chicks\"; \"a nascent insurgency\"");
}
END_TEST

START_TEST(test_wn_parse_errors)
{
    static struct wn_line ln;
    struct err e = {0};
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"  1 This software and database is being provided", "license header"},
        {"0208407 05 n 01 dog 0 000 | x", "synset_offset: expected 8 decimal digits, got "
                                          "'0208407'"},
        {"02084071 45 n 01 dog 0 000 | x", "lex_filenum: 45 is not"},
        {"02084071 05 q 01 dog 0 000 | x", "ss_type"},
        {"02084071 05 n zz dog 0 000 | x", "column 15: w_cnt: expected 2 hex digits, got 'zz'"},
        {"02084071 05 n 02 dog 0 000 | x", "lex_id: expected 1 hex digit, got '|'"},
        {"02084071 05 n 01 dog 0 00x | x", "p_cnt"},
        {"02084071 05 n 01 dog 0 002 @ 02083346 n 0000 | x", "pointer 2 of 2 missing"},
        {"02084071 05 n 01 dog 0 001 @@ 02083346 n 0000 | x", "unknown symbol '@@'"},
        {"02084071 05 n 01 dog 0 001 @ 02083346 n 00g0 | x", "source/target"},
        {"02084071 05 n 01 dog 0 000 x", "expected '|'"},
        {"00003316 29 v 01 aspirate 0 000 01 08 00 | suck", "frame 1 of 1: expected '+'"},
        {"02084071 05 n 01 dog 0 000", "expected '|'"},
        {"", "synset_offset: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_clear(&e);
        int rc = wn_parse_line(&ln, bad[i].line, strlen(bad[i].line), &e);
        ck_assert_msg(rc == ERR_FORMAT, "line %zu parsed", i);
        ck_assert_msg(strstr(e.msg, bad[i].want), "line %zu: '%s' lacks '%s'", i, e.msg,
                      bad[i].want);
    }
}
END_TEST

START_TEST(test_wn_gloss_split)
{
    struct wn_span def, ex[8];
    int n;
    const char *g = "a tangible and visible entity; an entity that can cast a shadow; \"it was "
                    "full of rackets, balls and other objects\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "a tangible and visible entity; an entity that can cast a "
                                   "shadow");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "it was full of rackets, balls and other objects");

    g = "a special group delegated to consider some matter; \"a committee is a group that keeps "
        "minutes and loses hours\" - Milton Berle";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "a special group delegated to consider some matter");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "a committee is a group that keeps minutes and loses hours");

    g = "draw air into, and expel out of, the lungs; \"I can breathe better\"; \"The patient is "
        "respiring\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(span(g, ex[1]), "The patient is respiring");

    g = "\"only an example\"";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_uint_eq(def.len, 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(span(g, ex[0]), "only an example");

    g = "suck in (air)";
    wn_gloss_split(g, strlen(g), &def, ex, 8, &n);
    ck_assert_str_eq(span(g, def), "suck in (air)");
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_wn_split_hash)
{
    size_t cnt[3] = {0};
    for (uint32_t off = 0; off < 30000; off++) {
        int s = wn_split_of('n', off);
        ck_assert_int_eq(s, wn_split_of('n', off));
        cnt[s]++;
    }
    ck_assert_int_eq(wn_split_of('s', 3553), wn_split_of('a', 3553));
    /* 80 / 10 / 10 within a few percent */
    ck_assert_uint_gt(cnt[WN_TRAIN], 23000);
    ck_assert_uint_lt(cnt[WN_TRAIN], 25000);
    ck_assert_uint_gt(cnt[WN_DEV], 2600);
    ck_assert_uint_gt(cnt[WN_TEST], 2600);
}
END_TEST

START_TEST(test_wn_missing)
{
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("no-wordnet");
    struct task_data t;
    struct err e = {0};
    ck_assert_int_eq(load("wn-pos", &p, &t, &e), ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.noun"));
    ck_assert_ptr_nonnull(strstr(e.msg, "install the Debian package wordnet-base"));
}
END_TEST

/* A small database written in the real format (offsets are byte offsets). */
static void wn_fixture(void)
{
    /* nouns: 0 entity (root), 1 animal @0, 2 dog @1, 3 cat @1, 4 rock @0 */
    static const char *const defs[] = {"that which exists", "a living organism that moves",
                                       "a domesticated canine", "a small feline; \"the cat sat\"",
                                       "a mass of stone"};
    static const int hyper[] = {-1, 0, 1, 1, 0};
    /* the fields before the gloss have a fixed width, so the offsets can be found
     * from a first rendering with placeholder hypernym offsets */
    char text[4096];
    uint32_t off[5] = {0};
    for (int pass = 0; pass < 2; pass++) {
        size_t len = (size_t)snprintf(text, sizeof text, "  1 license header line  \n");
        for (int i = 0; i < 5; i++) {
            off[i] = (uint32_t)len;
            if (hyper[i] >= 0)
                len += (size_t)snprintf(text + len, sizeof text - len,
                                        "%08u 03 n 01 w%d 0 001 @ %08u n 0000 | %s  \n",
                                        (unsigned)off[i], i, (unsigned)off[hyper[i]], defs[i]);
            else
                len += (size_t)snprintf(text + len, sizeof text - len,
                                        "%08u 03 n 01 w%d 0 000 | %s  \n", (unsigned)off[i], i,
                                        defs[i]);
        }
    }
    put("wn/data.noun", text, 0);
    put("wn/data.verb", "  1 header\n", 0);
    put("wn/data.adj", "", 1);
    char adv[256];
    snprintf(adv, sizeof adv, "%08u 02 r 01 fast 0 000 | quickly; \"run fast\"  \n", 0u);
    put("wn/data.adv", adv, 0);
}

START_TEST(test_wn_fixture_db)
{
    wn_fixture();
    struct wordnet wn;
    struct err e = {0};
    /* data.adj holds one NUL byte: a malformed line */
    ck_assert_int_eq(wn_load(&wn, path_of("wn"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.adj:1: column 1: NUL byte"));
    put("wn/data.adj", "  1 header\n", 0);
    ck_assert_msg(wn_load(&wn, path_of("wn"), &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(wn.n, 6);
    long dog = wn_find(&wn, 'n', wn.syn[2].offset);
    ck_assert_int_eq(dog, 2);
    ck_assert_uint_eq(wn.syn[2].nhyper, 1);
    ck_assert_uint_eq(wn.hyper[wn.syn[2].hyper0], 1);
    ck_assert_str_eq(wn.syn[3].def, "a small feline");
    ck_assert_str_eq(wn.syn[3].examples, "the cat sat");
    ck_assert_int_eq(wn.syn[5].pos, 'r');
    ck_assert_int_eq(wn_find(&wn, 'n', 12345), -1);
    wn_free(&wn);

    char **lines;
    size_t n;
    ck_assert_int_eq(wn_corpus(path_of("wn"), &lines, &n, &e), 0);
    ck_assert_uint_eq(n, 8); /* 6 definitions + 2 examples */
    ck_assert_str_eq(lines[4], "the cat sat");
    ck_assert_str_eq(lines[7], "run fast");
    wn_corpus_free(lines, n);

    /* an edited file: the offset no longer matches */
    put("wn/data.adv", "00000001 02 r 01 fast 0 000 | quickly  \n", 0);
    ck_assert_int_eq(wn_load(&wn, path_of("wn"), &e), ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "data.adv:1: synset_offset 00000001 is not the line's "
                                        "byte offset 0"));
}
END_TEST

static bool have_wordnet(void)
{
    if (access(WN_DEFAULT_DIR "/data.noun", R_OK) == 0)
        return true;
    fprintf(stderr, "tasks: skipping the installed-WordNet test: " WN_DEFAULT_DIR
                    "/data.noun is absent (install wordnet-base)\n");
    return false;
}

static uint64_t ksplit(uint64_t key)
{
    return (uint64_t)wn_split_of((char)(key >> 32), (uint32_t)key);
}

struct def_key {
    const char *def;
    uint64_t key;
    int count;
};

static int dk_cmp(const void *a, const void *b)
{
    return strcmp(((const struct def_key *)a)->def, ((const struct def_key *)b)->def);
}

START_TEST(test_wn_installed_no_leak)
{
    if (!have_wordnet())
        return;
    struct task_params p;
    task_params_init(&p);
    struct task_data t;
    struct err e = {0};
    /* supersense: every example is one synset; its split is its hash's, so no
     * synset can be in two splits */
    ck_assert_msg(load("wn-supersense", &p, &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_gt(t.train.n, 80000);
    const struct split *sp[3] = {&t.train, &t.dev, &t.test};
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < sp[s]->n; i++) {
            ck_assert_uint_eq(ksplit(sp[s]->ex[i].id), (uint64_t)s);
            ck_assert_int_lt(sp[s]->ex[i].label, 45);
        }
    task_data_free(&t);

    /* hypernym: pairs follow their first synset; train pairs hold train synsets only */
    struct wordnet wn;
    ck_assert_int_eq(wn_load(&wn, NULL, &e), 0);
    struct def_key *dk = malloc(wn.n * sizeof *dk);
    for (size_t i = 0; i < wn.n; i++)
        dk[i] = (struct def_key){wn.syn[i].def, wn_key(&wn, i), 1};
    qsort(dk, wn.n, sizeof *dk, dk_cmp);
    for (size_t i = 1; i < wn.n; i++)
        if (strcmp(dk[i].def, dk[i - 1].def) == 0)
            dk[i].count = dk[i - 1].count = 2; /* shared definition: not identifiable */
    p.seed = 3;
    ck_assert_msg(load("wn-hypernym", &p, &t, &e) == 0, "%s", e.msg);
    size_t pos = 0, checked = 0;
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < sp[s]->n; i++) {
            const struct example *x = &sp[s]->ex[i];
            ck_assert_uint_eq(ksplit(x->id), (uint64_t)s);
            if (s == 0) {
                struct def_key q = {x->b, 0, 0};
                const struct def_key *hit = bsearch(&q, dk, wn.n, sizeof *dk, dk_cmp);
                ck_assert_ptr_nonnull(hit);
                if (hit->count == 1) {
                    ck_assert_uint_eq(ksplit(hit->key), WN_TRAIN);
                    checked++;
                }
                pos += x->label == 1;
            }
        }
    ck_assert_uint_gt(checked, t.train.n * 9 / 10);
    ck_assert_uint_eq(2 * pos, t.train.n); /* balanced */
    task_data_free(&t);
    free(dk);
    wn_free(&wn);
}
END_TEST

START_TEST(test_wn_tasks_fixture)
{
    wn_fixture();
    put("wn/data.adj", "  1 header\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("wn");
    struct task_data sup, pos;
    struct err e = {0};
    ck_assert_msg(load("wn-supersense", &p, &sup, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(load("wn-pos", &p, &pos, &e), 0);
    ck_assert_uint_eq(sup.train.n + sup.dev.n + sup.test.n, 6);
    const struct split *ss[3] = {&sup.train, &sup.dev, &sup.test};
    const struct split *ps[3] = {&pos.train, &pos.dev, &pos.test};
    for (int s = 0; s < 3; s++) {
        ck_assert_uint_eq(ss[s]->n, ps[s]->n);
        for (size_t i = 0; i < ss[s]->n; i++) {
            const struct example *x = &ss[s]->ex[i];
            bool adverb = strcmp(x->a, "quickly") == 0;
            ck_assert_str_eq(sup.label_names[x->label], adverb ? "adv.all" : "noun.Tops");
            ck_assert_str_eq(pos.label_names[ps[s]->ex[i].label], adverb ? "r" : "n");
            ck_assert_ptr_null(x->b);
            ck_assert_uint_eq(ksplit(x->id), (uint64_t)s);
        }
    }
    task_data_free(&sup);
    task_data_free(&pos);
}
END_TEST

START_TEST(test_wn_hypernym_determinism)
{
    wn_fixture();
    put("wn/data.adj", "  1 header\n", 0);
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = path_of("wn");
    struct task_data a, b;
    struct err e = {0};
    ck_assert_msg(load("wn-hypernym", &p, &a, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(load("wn-hypernym", &p, &b, &e), 0);
    const struct split *sa[3] = {&a.train, &a.dev, &a.test}, *sb[3] = {&b.train, &b.dev, &b.test};
    size_t total = 0;
    for (int s = 0; s < 3; s++) {
        ck_assert_uint_eq(sa[s]->n, sb[s]->n);
        for (size_t i = 0; i < sa[s]->n; i++) {
            ck_assert_str_eq(sa[s]->ex[i].b, sb[s]->ex[i].b);
            if (sa[s]->ex[i].label == 1) /* a positive pairs x with its hypernym */
                ck_assert(strcmp(sa[s]->ex[i].b, "a living organism that moves") == 0 ||
                          strcmp(sa[s]->ex[i].b, "that which exists") == 0);
        }
        total += sa[s]->n;
    }
    ck_assert_uint_gt(total, 0);
    task_data_free(&a);
    task_data_free(&b);
}
END_TEST

Suite *wordnet_suite(void)
{
    Suite *s = suite_create("wordnet");
    TCase *tc = tcase_create("wordnet");
    tcase_add_checked_fixture(tc, tdir_setup, tdir_teardown);
    tcase_add_test(tc, test_wn_parse_real_lines);
    tcase_add_test(tc, test_wn_parse_errors);
    tcase_add_test(tc, test_wn_gloss_split);
    tcase_add_test(tc, test_wn_split_hash);
    tcase_add_test(tc, test_wn_missing);
    tcase_add_test(tc, test_wn_fixture_db);
    tcase_add_test(tc, test_wn_tasks_fixture);
    tcase_add_test(tc, test_wn_hypernym_determinism);
    tcase_add_test(tc, test_wn_installed_no_leak);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}
