/*
 * adapter_dir: the backbone and tokenizer an adapter was trained with (see adapter_dir.h).
 */
#include "harness/run/adapter_dir.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/readfile.h"
#include "harness/run/run.h"

/* ---- the backbone ------------------------------------------------------------------ */

static bool is_dir(const char *path)
{
    struct stat st;
    return path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* First line of ADAPTER/base_model.txt (what `run` wrote before settings were recorded)
 * into out, or "" when there is none. */
static void base_model_txt(const char *adapter, char *out, size_t n)
{
    char path[PERSIST_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/base_model.txt", adapter);
    out[0] = '\0';
    FILE *f;
    struct err e;
    if (readfile_fopen(path, &f, &e))
        return;
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

/* Warn when dir is not the recorded base model (compared as absolute paths). */
static void warn_other_model(const char *cmd, const char *dir, const struct persist_meta *meta,
                             FILE *errf)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!meta->base_model[0])
        return;
    bool same = realpath(dir, a) && realpath(meta->base_model, b) && strcmp(a, b) == 0;
    if (!same)
        fprintf(errf,
                "peftbench %s: warning: MODEL %s is not the backbone the adapter was trained "
                "on (%s)\n",
                cmd, dir, meta->base_model);
}

int adapter_resolve_model(const char *cmd, const char *adapter, const struct persist_meta *meta,
                          const char *model_arg, char *dir, size_t n, FILE *errf)
{
    if (model_arg) {
        if (run_resolve_model(model_arg, dir, n, errf))
            return 2;
        warn_other_model(cmd, dir, meta, errf);
        return 0;
    }
    if (is_dir(meta->base_model)) {
        snprintf(dir, n, "%s", meta->base_model);
        return 0;
    }
    if (strncmp(meta->base_model_spec, "builtin:", 8) == 0)
        return run_resolve_model(meta->base_model_spec, dir, n, errf) ? 2 : 0;
    char txt[PERSIST_PATH_MAX];
    base_model_txt(adapter, txt, sizeof txt);
    if (is_dir(txt)) {
        snprintf(dir, n, "%s", txt);
        return 0;
    }
    const char *gone = meta->base_model[0] ? meta->base_model : txt;
    if (gone[0])
        fprintf(errf,
                "peftbench %s: the adapter %s was trained on %s, which is not a directory "
                "here; name the backbone as MODEL (a directory or builtin:NAME)\n",
                cmd, adapter, gone);
    else
        fprintf(errf,
                "peftbench %s: the adapter %s records no base model; name the backbone as "
                "MODEL (a directory or builtin:NAME)\n",
                cmd, adapter);
    return 2;
}

int adapter_load_model(const char *adapter, const struct persist_meta *meta, const char *model_dir,
                       struct model *m, struct method_inst *mi, int *nm, struct mem_acct *acct,
                       struct err *e)
{
    *nm = 0;
    if (model_load_dir(m, model_dir, meta->num_labels, 1, acct, e))
        return e->code;
    if (persist_load(adapter, m, mi, nm, 1, e)) {
        model_destroy(m);
        return e->code;
    }
    return ERR_OK;
}

/* ---- the tokenizer ------------------------------------------------------------------ */

/* Load model_dir's vocabulary files with options o (the files tokenizer_load_dir reads). */
static int load_with(struct tokenizer **tok, const char *model_dir, bool bpe,
                     const struct tokenizer_opts *o, struct err *e)
{
    char a[PERSIST_PATH_MAX + 32], b[PERSIST_PATH_MAX + 32];
    snprintf(a, sizeof a, "%s/%s", model_dir, bpe ? "vocab.json" : "vocab.txt");
    snprintf(b, sizeof b, "%s/merges.txt", model_dir);
    return bpe ? tokenizer_load_bpe(tok, a, b, o, e) : tokenizer_load_wordpiece(tok, a, o, e);
}

/* Warn about each option of have that differs from the recorded want; true if any does. */
static bool options_differ(const char *cmd, const struct tokenizer_opts *have,
                           const struct tokenizer_opts *want, bool bpe, const char *model_dir,
                           FILE *errf)
{
    const struct {
        const char *name;
        bool have, want, applies;
    } o[] = {{"lowercase", have->lowercase, want->lowercase, !bpe},
             {"strip_accents", have->strip_accents, want->strip_accents, !bpe},
             {"tokenize_chinese", have->tokenize_chinese, want->tokenize_chinese, !bpe},
             {"add_prefix_space", have->add_prefix_space, want->add_prefix_space, bpe}};
    bool differ = false;
    for (size_t i = 0; i < sizeof o / sizeof *o; i++) {
        if (!o[i].applies || o[i].have == o[i].want)
            continue;
        fprintf(errf,
                "peftbench %s: warning: the tokenizer of %s has %s %s, the adapter was trained "
                "with %s: using the adapter's setting\n",
                cmd, model_dir, o[i].name, o[i].have ? "true" : "false",
                o[i].want ? "true" : "false");
        differ = true;
    }
    return differ;
}

int adapter_tokenizer(const char *cmd, struct tokenizer **tok, const char *model_dir,
                      const struct persist_meta *meta, FILE *errf, struct err *e)
{
    if (tokenizer_load_dir(tok, model_dir, e))
        return e->code;
    if (!meta->has_tokenizer)
        return ERR_OK;
    struct tokenizer_opts have;
    bool bpe = tokenizer_get_opts(*tok, &have);
    int V = tokenizer_vocab_size(*tok);
    if (bpe != meta->tok_bpe) {
        tokenizer_free(*tok);
        *tok = NULL;
        return ERR_SET(e, ERR_CONFIG,
                       "%s holds a %s tokenizer, the adapter was trained with %s: not the same "
                       "kind of model",
                       model_dir, bpe ? "byte-level BPE" : "WordPiece",
                       meta->tok_bpe ? "byte-level BPE" : "WordPiece");
    }
    if (V != meta->vocab_size)
        fprintf(errf,
                "peftbench %s: warning: the vocabulary of %s has %d entries, the adapter's "
                "had %d: another vocabulary gives other token ids\n",
                cmd, model_dir, V, meta->vocab_size);
    if (!options_differ(cmd, &have, &meta->tok, bpe, model_dir, errf))
        return ERR_OK;
    struct tokenizer_opts want = have;
    want.lowercase = meta->tok.lowercase;
    want.strip_accents = meta->tok.strip_accents;
    want.tokenize_chinese = meta->tok.tokenize_chinese;
    want.add_prefix_space = meta->tok.add_prefix_space;
    tokenizer_free(*tok);
    *tok = NULL;
    return load_with(tok, model_dir, bpe, &want, e);
}
