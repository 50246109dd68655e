/*
 * rng: pyab's one small random generator, splitmix64 (Steele, Lea and
 * Flood), for everything that must give the same numbers on every machine
 * for one seed: bootstrap resamples, the shuffled run order, load.sample's
 * per-record draw, and the seeding of trace synthesis's xoshiro256**.
 * Never libc's rand. Header-only: each call is a few instructions.
 */
#ifndef PYAB_RNG_H
#define PYAB_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Advances *state and returns the next 64 random bits. */
static inline uint64_t pyab_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A well-mixed 64-bit hash of x: the value a generator seeded with x gives first. */
static inline uint64_t pyab_rng_mix(uint64_t x)
{
    return pyab_rng_next(&x);
}

/* A uniform double in [0, 1) from the top 53 bits. */
static inline double pyab_rng_uniform(uint64_t *state)
{
    return (double)(pyab_rng_next(state) >> 11) * 0x1.0p-53;
}

/* A uniform index below n (n > 0; the modulo bias is below n / 2^64). */
static inline size_t pyab_rng_below(uint64_t *state, size_t n)
{
    return (size_t)(pyab_rng_next(state) % n);
}

#endif
