/*
 * The reference for pair truncation tests of WordPiece and BPE (see hf_truncation.h).
 */
#include "tests/model/hf_truncation.h"

#include <stdbool.h>

/* HF tokenizers' LongestFirst (tokenizers/src/utils/truncation.rs, truncate_encodings)
 * transcribed line by line: the lengths kept of texts of na and nb tokens when budget tokens
 * are left for them once the specials are counted. */
void hf_longest_first(int na, int nb, int budget, int *ka, int *kb)
{
    *ka = na;
    *kb = nb;
    if (na + nb <= budget)
        return;
    int n1 = na, n2 = nb;
    bool swap = n1 > n2; /* n1 is the shorter */
    if (swap) {
        n1 = nb;
        n2 = na;
    }
    if (n1 > budget)
        n2 = n1;
    else
        n2 = n1 > budget - n1 ? n1 : budget - n1;
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    *ka = swap ? n2 : n1;
    *kb = swap ? n1 : n2;
}
