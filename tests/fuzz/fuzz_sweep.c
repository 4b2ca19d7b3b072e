/*
 * Fuzz target: the YAML loader (harness/yaml/) and the sweep schema/expander (harness/sweep/),
 * with the real method and task registries linked in.
 *
 * Input: parts separated by the line "#--": part 0 is sweep.yaml, part 1 (optional) is inc.yaml
 * (for `include: inc.yaml`), every later part is one Hydra-style override ("train.lr=1e-4").
 * Oracles:
 *  - a failure leaves a message;
 *  - YAML round trip: a tree that ynode_parse_string accepts is emitted (ynode_emit) and parsed
 *    again to the same tree (kinds, texts, null-ness): the resolved sweep written next to the
 *    results must mean what the user wrote;
 *  - a loaded sweep respects its limits and gives every trial a distinct 16-hex-digit id.
 */
#include "tests/fuzz/fuzz_util.h"

#include "harness/sweep/sweep.h"
#include "harness/yaml/yaml.h"

#define MAX_OVERRIDES 4

/* Keys are compared by text only: an empty plain (null) key comes back as '' because YAML
 * cannot write an empty plain key, and the schema never asks whether a key is null. */
static void same_tree(const struct ynode *a, const struct ynode *b, int depth, bool key)
{
    FUZZ_CHECK(depth <= 64, "runaway recursion");
    FUZZ_CHECK(a->kind == b->kind, "kind %d vs %d", a->kind, b->kind);
    if (a->kind == YNODE_SCALAR) {
        FUZZ_CHECK(a->len == b->len && memcmp(a->text, b->text, a->len) == 0,
                   "scalar '%s' came back as '%s'", a->text, b->text);
        FUZZ_CHECK(key || ynode_is_null(a) == ynode_is_null(b), "scalar '%s': null-ness changed",
                   a->text);
        return;
    }
    FUZZ_CHECK(a->n == b->n, "%zu items came back as %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (a->kind == YNODE_MAP)
            same_tree(a->keys[i], b->keys[i], depth + 1, true);
        same_tree(a->items[i], b->items[i], depth + 1, false);
    }
}

static void yaml_roundtrip(const char *text, size_t len)
{
    struct ynode *t = NULL;
    struct err e = {0};
    int rc = ynode_parse_string(&t, text, len, "fuzz.yaml", &e);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0] && !t, "parse rc %d", rc);
        return;
    }
    char *out = NULL;
    rc = ynode_emit(t, &out, &e);
    if (rc == 0) {
        struct ynode *back = NULL;
        rc = ynode_parse_string(&back, out, strlen(out), "emitted.yaml", &e);
        FUZZ_CHECK(rc == 0, "emitted YAML does not parse: %s\n--- emitted:\n%s", e.msg, out);
        /* A document that is only an empty plain scalar (null) is emitted as an empty text,
         * which loads as "no document": both mean nothing and every schema treats them so. */
        if (!(t && !back && ynode_is_null(t))) {
            FUZZ_CHECK(!t == !back, "document vanished");
            if (t)
                same_tree(t, back, 0, false);
        }
        ynode_free(back);
    } else {
        FUZZ_CHECK(e.msg[0], "emit rc %d without a message", rc);
    }
    free(out);
    ynode_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    char *part[2 + MAX_OVERRIDES];
    size_t plen[2 + MAX_OVERRIDES];
    int np = 0;
    size_t pos = 0;
    for (;;) { /* each part keeps its last newline; NUL bytes stay inside parts */
        char *sep = np + 1 < 2 + MAX_OVERRIDES ? memmem(s + pos, size - pos, "\n#--\n", 5) : NULL;
        part[np] = s + pos;
        plen[np] = sep ? (size_t)(sep - (s + pos)) + 1 : size - pos;
        np++;
        if (!sep)
            break;
        sep[1] = '\0'; /* over the '#' */
        pos = (size_t)(sep - s) + 5;
    }
    yaml_roundtrip(part[0], plen[0]);

    const char *path = fuzz_write("sweep.yaml", part[0], plen[0]);
    fuzz_write("inc.yaml", np > 1 ? part[1] : "", np > 1 ? plen[1] : 0);
    const char *ov[MAX_OVERRIDES];
    int nov = 0;
    for (int i = 2; i < np; i++) {
        if (plen[i] && part[i][plen[i] - 1] == '\n')
            part[i][plen[i] - 1] = '\0';
        ov[nov++] = part[i]; /* an override is a C string: it ends at its first NUL */
    }
    struct sweep_opts o = {ov, nov, false, NULL};
    struct sweep sw;
    struct err e = {0};
    int rc = sweep_load(&sw, path, &o, &e);
    FUZZ_LOG("sweep_load: %d %s (%zu trials)", rc, e.msg, sw.ntrials);
    if (rc) {
        FUZZ_CHECK(e.code == rc && e.msg[0], "sweep_load rc %d without a message", rc);
        FUZZ_CHECK(!sw.trials && !sw.tasks && sw.ntrials == 0, "not freed after failure");
    } else {
        FUZZ_CHECK(sw.ntrials >= 1 && sw.ntrials <= sw.max_trials, "%zu trials, max %zu",
                   sw.ntrials, sw.max_trials);
        FUZZ_CHECK(sw.ntasks >= 1 && sw.ntasks <= SWEEP_MAX_TASKS, "ntasks %d", sw.ntasks);
        FUZZ_CHECK(sw.nseeds >= 1 && sw.nseeds <= SWEEP_MAX_SEEDS, "nseeds %d", sw.nseeds);
        FUZZ_CHECK(sw.resolved_yaml != NULL, "no resolved YAML");
        for (size_t i = 0; i < sw.ntrials; i++) {
            const struct trial *t = &sw.trials[i];
            FUZZ_CHECK(strlen(t->id) == SWEEP_ID_LEN && t->canonical, "trial %zu", i);
            FUZZ_CHECK(t->nmethods >= 1 && t->nmethods <= SWEEP_MAX_COMPOSE, "nmethods");
            for (size_t j = 0; j < i && j < 64; j++)
                FUZZ_CHECK(strcmp(sw.trials[j].id, t->id) != 0, "duplicate id %s", t->id);
        }
    }
    sweep_free(&sw);
    free(s);
    return 0;
}
