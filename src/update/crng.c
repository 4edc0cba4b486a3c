/*
 * crng.c: counter-based random numbers for the update laws (update.h),
 * the only includer of Random123 (Debian librandom123-dev, header-only).
 *
 * Philox4x64-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC 2011): a keyed bijection of a 256-bit counter.  Key (seed,
 * stream), counter (step, element, 0, 0): every draw is a function of
 * those four numbers only, so any order of calls and any split of the
 * elements over threads gives the same bits.
 */
#include "update.h"

#include <math.h>

#include <Random123/philox.h>

/* 2^-53: a 53-bit integer times this is a double in [0, 1) exactly. */
#define CRNG_2POW_M53 (1.0 / 9007199254740992.0)

void eqs_crng_philox4x64_10(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4])
{
    philox4x64_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    philox4x64_key_t k = {{key[0], key[1]}};
    philox4x64_ctr_t r = philox4x64_R(10, c, k);
    for (int i = 0; i < 4; ++i) out[i] = r.v[i];
}

void eqs_crng_block(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element,
                    uint64_t out[4])
{
    const uint64_t ctr[4] = {step, element, 0, 0}, key[2] = {seed, stream};
    eqs_crng_philox4x64_10(ctr, key, out);
}

/* (0, 1): never 0, so that log() is finite. */
static double open01(uint64_t w) { return ((double)(w >> 11) + 0.5) * CRNG_2POW_M53; }

double eqs_crng_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element)
{
    uint64_t w[4];
    eqs_crng_block(seed, stream, step, element, w);
    return open01(w[0]);
}

double eqs_crng_normal(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element)
{
    uint64_t w[4];
    eqs_crng_block(seed, stream, step, element, w);
    const double u1 = open01(w[0]), u2 = (double)(w[1] >> 11) * CRNG_2POW_M53;
    return sqrt(-2.0 * log(u1)) * cos(6.28318530717958647692 * u2);
}

void eqs_crng_uniform_fill(uint64_t seed, uint64_t stream, uint64_t step, uint64_t e0, size_t n,
                           double *out)
{
    for (size_t k = 0; k < n; ++k) out[k] = eqs_crng_uniform(seed, stream, step, e0 + k);
}

void eqs_crng_normal_fill(uint64_t seed, uint64_t stream, uint64_t step, uint64_t e0, size_t n,
                          double *out)
{
    for (size_t k = 0; k < n; ++k) out[k] = eqs_crng_normal(seed, stream, step, e0 + k);
}
