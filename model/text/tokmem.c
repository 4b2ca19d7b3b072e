/*
 * tokmem: allocation helpers shared by the tokenizer files (contract in tokmem.h).
 */
#include "model/text/tokmem.h"

#include <stdint.h>
#include <stdlib.h>

void *tokmem_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && p)
        return p;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return NULL;
        nc *= 2;
    }
    if (nc > SIZE_MAX / elem)
        return NULL;
    void *q = realloc(p, nc * elem);
    if (q)
        *cap = nc;
    return q;
}

int tokmem_nomem(struct err *e)
{
    return ERR_SET(e, ERR_NOMEM, "tokenizer: out of memory");
}
