/*
 * tokmem: the two allocation helpers every tokenizer file shares: the doubling growth of
 * the scratch arrays one tokenize call keeps (the tokenizers themselves are read-only, so
 * each call has its own scratch), and the out-of-memory error they all report.
 * (WordPiece and BPE each had an identical copy; a generic growth helper could move to base/.)
 */
#ifndef MODEL_TOKMEM_H
#define MODEL_TOKMEM_H

#include <stddef.h>

#include "base/err.h"

/* Grow p (elem-byte items, capacity *cap) to hold need items.  Returns the possibly
 * moved block, or NULL with p still valid and *cap unchanged. */
void *tokmem_grow(void *p, size_t *cap, size_t need, size_t elem);

/* ERR_NOMEM "tokenizer: out of memory"; returns the code. */
int tokmem_nomem(struct err *e);

#endif
