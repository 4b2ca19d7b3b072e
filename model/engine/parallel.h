/*
 * parallel: how the kernels share the two cores, and the CPU-specific clones of their loops.
 *
 * Threading.  Every parallel loop of the kernels uses the OpenMP pool that
 * OpenBLAS-openmp also uses.  Inside a parallel region OpenBLAS runs each
 * sgemm on the calling thread, so attention parallelises over (batch, head)
 * pairs and issues small single-threaded sgemms; linear layers call one big
 * sgemm from serial code and let OpenBLAS spread it.  Loops with less than
 * OPS_PAR_MIN scalar operations stay serial (the team fork would dominate).
 *
 * Determinism.  No result depends on how iterations are scheduled: every
 * reduction (bias/LayerNorm parameter gradients, the batch sum of the prefix
 * gradients) is owned by one iteration and accumulated in a fixed order, and
 * dropout masks come from the counter hash rng_hash(seed, stream, index).
 * Hence the same inputs give bit-identical outputs for any thread count,
 * up to OpenBLAS' own multi-threaded sgemm (which splits M/N, not K).
 */
#ifndef MODEL_ENGINE_PARALLEL_H
#define MODEL_ENGINE_PARALLEL_H

/* Minimum scalar operations before a loop forks the OpenMP team. */
#define OPS_PAR_MIN 32768

/*
 * Elementwise kernels are compiled twice, for baseline x86-64 (SSE2) and for
 * x86-64-v3 (AVX2, FMA), and the loader picks one for the CPU (GCC function
 * multiversioning): a Debian build cannot assume AVX2, yet on CPUs that have
 * it the vectorised GELU, softmax and LayerNorm loops run twice as wide.
 * ISO C mode keeps -ffp-contract=off, so no clone fuses a multiply-add the
 * source does not write: the clones differ only in reduction order.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define OPS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define OPS_CLONES
#endif
/* Most columns per block in the column reductions (one double accumulator each). */
#define OPS_COL_MAX 512
/* Elements per chunk in the chunked elementwise loops (activations). */
#define OPS_CHUNK 16384

/* The smaller of a and b (the end of a column block). */
static inline int imin(int a, int b)
{
    return a < b ? a : b;
}

/*
 * Column partition for the column-parallel loops (bias and LayerNorm
 * parameter gradients, embedding scatter): returns the number of blocks,
 * *bw their width (the last may be narrower).  At least one block per
 * thread so every core works, at most OPS_COL_MAX columns (stack
 * accumulators), contiguous and wide so the walk down the rows streams.
 * The partition never changes results: each column is still summed by one
 * thread, in row order.
 */
int col_partition(int C, int *bw);

#endif
