/*
 * embedding: the token + position + token-type embedding sum and its scatter-add backward.
 */
#ifndef MODEL_ENGINE_EMBEDDING_H
#define MODEL_ENGINE_EMBEDDING_H

/* out[n] = Ww[ids[n]] + Wp[pos[n]] + Wt[types[n]].  out: (N, D).
 * ids/pos/types are validated by the caller (in range).  Wt/types may be NULL. */
void op_embed_fwd(float *out, const int *ids, const int *pos, const int *types, const float *Ww,
                  const float *Wp, const float *Wt, int N, int D);

/* Scatter-add dout (N, D) into the rows of dWw/dWp/dWt (each NULL when frozen). */
void op_embed_bwd(float *dWw, float *dWp, float *dWt, const float *dout, const int *ids,
                  const int *pos, const int *types, int N, int D);

#endif
