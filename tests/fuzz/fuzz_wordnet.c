/*
 * Fuzz target: WordNet data lines (wn_parse_line, wn_gloss_split) and the database loader.
 *
 * Each '\n'-separated line of the input is copied to an exact-size heap buffer (so that
 * AddressSanitizer sees any read past the line) and parsed.  Then the whole input is written as
 * data.noun next to empty data.verb/adj/adv and loaded through the wn-hypernym and wn-supersense
 * tasks (offsets, pos and hypernym pointers checked across lines). Oracles: a failure names a
 * column; spans stay inside the line; counts within the limits.
 */
#include "tests/fuzz/fuzz_util.h"

#include "tasks/task.h"
#include "tasks/wordnet.h"

static struct wn_line ln;

static void check_span(struct wn_span s, size_t len, const char *what)
{
    FUZZ_CHECK((size_t)s.off <= len && (size_t)s.len <= len - s.off, "%s span [%u, +%u) of %zu",
               what, s.off, s.len, len);
}

static void parse_one(const uint8_t *p, size_t n)
{
    char *line = malloc(n ? n : 1);
    if (!line)
        abort();
    if (n)
        memcpy(line, p, n);
    struct err e = {0};
    int rc = wn_parse_line(&ln, line, n, &e);
    FUZZ_LOG("line: %d %s", rc, e.msg);
    if (rc) {
        FUZZ_CHECK(e.code == rc && strstr(e.msg, "column "), "message '%s'", e.msg);
    } else {
        FUZZ_CHECK(ln.nwords >= 1 && ln.nwords <= WN_MAX_WORDS, "nwords %d", ln.nwords);
        FUZZ_CHECK(ln.nptrs >= 0 && ln.nptrs <= WN_MAX_PTRS, "nptrs %d", ln.nptrs);
        FUZZ_CHECK(ln.lex_filenum >= 0 && ln.lex_filenum < WN_NLEXFILES, "lex_filenum");
        FUZZ_CHECK(wn_lexname(ln.lex_filenum) != NULL, "lexname");
        for (int i = 0; i < ln.nwords; i++)
            check_span(ln.words[i], n, "word");
        for (int i = 0; i < ln.nptrs; i++)
            FUZZ_CHECK(strlen(ln.ptrs[i].sym) >= 1 && strlen(ln.ptrs[i].sym) <= 2, "ptr sym");
        check_span(ln.gloss, n, "gloss");
        struct wn_span def, ex[4];
        int nex = -1;
        const char *g = line + ln.gloss.off;
        wn_gloss_split(g, ln.gloss.len, &def, ex, 4, &nex);
        FUZZ_CHECK(nex >= 0 && nex <= 4, "nex %d", nex);
        check_span(def, ln.gloss.len, "definition");
        for (int i = 0; i < nex; i++)
            check_span(ex[i], ln.gloss.len, "example");
    }
    free(line);
}

static void load_task(const char *name)
{
    struct task_params p;
    task_params_init(&p);
    p.wordnet_dir = fuzz_tmpdir();
    struct task_data td;
    struct err e = {0};
    int rc = task_load(&td, task_find(name), &p, &e);
    FUZZ_LOG("%s: %d %s (train %zu)", name, rc, e.msg, td.train.n);
    if (rc)
        FUZZ_CHECK(e.code == rc && e.msg[0], "task_load rc %d", rc);
    else
        for (size_t i = 0; i < td.train.n; i++)
            FUZZ_CHECK(td.train.ex[i].label >= 0 && td.train.ex[i].label < td.nlabels,
                       "label %d of %d", td.train.ex[i].label, td.nlabels);
    task_data_free(&td);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_write("data.verb", "", 0);
    fuzz_write("data.adj", "", 0);
    fuzz_write("data.adv", "", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t pos = 0; pos <= size;) {
        const uint8_t *nl = pos < size ? memchr(data + pos, '\n', size - pos) : NULL;
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
        parse_one(data + pos, n);
        pos += n + 1;
    }
    fuzz_write("data.noun", data, size);
    load_task("wn-hypernym");
    load_task("wn-supersense");
    return 0;
}
