/*
 * adapter_record: the settings a trial records beside its adapter (see adapter_record.h).
 */
#include "harness/run/adapter_record.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* The absolute form of path into out (n bytes), or path as given when it does not resolve. */
static void absolute(const char *path, char *out, size_t n)
{
    char buf[PATH_MAX];
    snprintf(out, n, "%s", realpath(path, buf) ? buf : path);
}

void adapter_meta_record(struct persist_meta *meta, const char *model_spec, const char *model_dir,
                         const char *task, const struct task_data *td, const char *sweep_file,
                         int max_seq_len, const struct tokenizer *tok)
{
    persist_meta_init(meta);
    absolute(model_dir, meta->base_model, sizeof meta->base_model);
    snprintf(meta->base_model_spec, sizeof meta->base_model_spec, "%s", model_spec);
    snprintf(meta->task, sizeof meta->task, "%s", task);
    snprintf(meta->task_kind, sizeof meta->task_kind, "%s", task_kind_name(td->kind));
    meta->task_pair = td->pair;
    if (sweep_file)
        absolute(sweep_file, meta->sweep_file, sizeof meta->sweep_file);
    meta->label_names = td->label_names; /* borrowed: NULL for regression */
    meta->max_seq_len = max_seq_len;
    meta->has_tokenizer = tok != NULL;
    meta->tok_bpe = tokenizer_get_opts(tok, &meta->tok);
    meta->vocab_size = tokenizer_vocab_size(tok);
}
