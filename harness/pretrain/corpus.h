/*
 * pretrain corpus: the lines of text a build pretrains on (step 1 of pretrain.h), one
 * document per line, read from WordNet (every synset's gloss and examples, wn_corpus),
 * from the synsets of the WordNet tasks' train split only ("wordnet-train", so that no
 * dev or test definition is seen in pretraining), or from a UTF-8 text file; then cut
 * to corpus.max_lines.  The held-out split and tokenization are data.h's.
 */
#ifndef HARNESS_PRETRAIN_CORPUS_H
#define HARNESS_PRETRAIN_CORPUS_H

#include <stddef.h>

#include "base/err.h"
#include "harness/pretrain/config.h"

struct corpus_lines {
    char **v; /* owned (n) owned strings */
    size_t n, cap;
};

/* Fill *l (overwritten, not freed) with the corpus of c, in source order.  ERR_IO /
 * ERR_FORMAT / ERR_LIMIT for an unreadable, non-text or too large file, ERR_CONFIG when
 * no line is left; *l is empty on any error. */
int corpus_load(const struct pretrain_cfg *c, struct corpus_lines *l, struct err *e);

/* Free l's strings and array and zero *l. */
void corpus_lines_free(struct corpus_lines *l);

#endif
