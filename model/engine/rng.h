/*
 * rng: deterministic random numbers.
 *
 * Two kinds:
 *  - a sequential generator (struct rng, splitmix64 seeded xoshiro256**) for
 *    initialisation, shuffling and sampling;
 *  - a counter-based hash rng_hash(seed, stream, index) for dropout, so that a
 *    mask element depends only on (trial seed, step, site, element index):
 *    the result is independent of thread count and scheduling, and backward
 *    regenerates the mask instead of storing it.
 */
#ifndef MODEL_RNG_H
#define MODEL_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Seed the generator; any seed (including 0) gives a valid state. */
void rng_seed(struct rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t rng_u64(struct rng *r);

/* Uniform in [0, 1) with 24 bits of precision (exact in float). */
float rng_uniform(struct rng *r);

/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Standard normal (Box-Muller, double internally). */
float rng_normal(struct rng *r);

/* Normal(0, std) truncated to [-2 std, 2 std] by resampling (BERT / Houlsby init). */
float rng_trunc_normal(struct rng *r, float std);

/* Stateless 64-bit hash of (seed, stream, index): the dropout counter RNG. */
static inline uint64_t rng_hash(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t z = seed ^ (stream * 0x9E3779B97F4A7C15ull) ^ (index * 0xD1B54A32D192ED03ull);
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Derive a sub-stream id from a parent and a small tag (layer, site ...). */
static inline uint64_t rng_stream(uint64_t parent, uint64_t tag)
{
    return rng_hash(parent, tag, 0x5eed);
}

#endif
