/* embedding: embedding lookup and scatter-add (contract in embedding.h). */
#include "model/engine/embedding.h"

#include <stdbool.h>
#include <string.h>

#include "model/engine/parallel.h"

/*
 * Beyond embedding.h: Wp or pos NULL drops the position term (for models without
 * learned positions); Wt non-NULL with types NULL uses type 0 for every row,
 * as Hugging Face does when token_type_ids is omitted.
 */
void op_embed_fwd(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                  const float *Wp, const float *Wt, int N, int D)
{
    bool use_p = Wp && pos, use_t = Wt != NULL;
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * (size_t)D;
        const float *w = Ww + (size_t)ids[n] * (size_t)D;
        memcpy(o, w, (size_t)D * sizeof(*o));
        if (use_p) {
            const float *p = Wp + (size_t)pos[n] * (size_t)D;
            for (int j = 0; j < D; j++)
                o[j] += p[j];
        }
        if (use_t) {
            const float *t = Wt + (size_t)(types ? types[n] : 0) * (size_t)D;
            for (int j = 0; j < D; j++)
                o[j] += t[j];
        }
    }
}

/*
 * Scatter-add.  Two rows may share an id, so rows cannot be split across
 * threads; columns can: each thread owns a block of columns of every table
 * and walks the rows in order (deterministic).
 */
void op_embed_bwd(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                  const int *pos, const int *types, int N, int D)
{
    bool use_p = dWp && pos;
    if (!dWw && !use_p && !dWt)
        return;
    int bw, nblk = col_partition(D, &bw);
#pragma omp parallel for if ((size_t)N * (size_t)D > OPS_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * bw, c1 = imin(c0 + bw, D);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * (size_t)D;
            if (dWw) {
                float *w = dWw + (size_t)ids[n] * (size_t)D;
                for (int c = c0; c < c1; c++)
                    w[c] += g[c];
            }
            if (use_p) {
                float *p = dWp + (size_t)pos[n] * (size_t)D;
                for (int c = c0; c < c1; c++)
                    p[c] += g[c];
            }
            if (dWt) {
                float *t = dWt + (size_t)(types ? types[n] : 0) * (size_t)D;
                for (int c = c0; c < c1; c++)
                    t[c] += g[c];
            }
        }
    }
}
