/* test_update.c: the update law (src/update/update.c) and the
 * counter-based generator (src/update/crng.c).
 *
 * Oracles: Random123's published known-answer vectors for Philox4x64-10;
 * the moments of the uniform and normal distributions; the law's closed
 * form on values whose arithmetic is exact in binary; the element-wise
 * formula written out here for the block kernels; and one call over a
 * whole block for every split of it (two calls, two threads). */
#include "testutil.h"
#include "eqprop/eqprop.h"
#include "update/update.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TU_PI 3.14159265358979323846

/* ---- counter-based generator ---- */

/* Random123 1.14, tests/kat_vectors, the three "philox4x64 10" lines:
 * counter (4 words), key (2 words), expected output (4 words). */
START_TEST(test_crng_known_answers)
{
    static const uint64_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL, 0xd7e772cee186176bULL,
         0x7e68b68aec7ba23bULL},
        {~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, 0x87b092c3013fe90bULL, 0x438c3c67be8d0224ULL,
         0x9cc7d7c69cd777b6ULL, 0xa09caebf594f0ba0ULL},
        {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL,
         0x082efa98ec4e6c89ULL, 0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL,
         0xa528f45403e61d95ULL, 0x38c72dbd566e9788ULL, 0xa5a1610e72fd18b5ULL,
         0x57bd43b5e52b7fe6ULL},
    };
    for (int t = 0; t < 3; ++t) {
        uint64_t out[4];
        eqs_crng_philox4x64_10(kat[t], kat[t] + 4, out);
        for (int i = 0; i < 4; ++i)
            ck_assert_msg(out[i] == kat[t][6 + i], "vector %d word %d: %016llx, expected %016llx",
                          t, i, (unsigned long long)out[i], (unsigned long long)kat[t][6 + i]);
    }
    /* the keyed form is that block at counter (step, element, 0, 0), key (seed, stream) */
    uint64_t a[4], b[4];
    const uint64_t ctr[4] = {7, 123456789, 0, 0}, key[2] = {42, EQS_RNG_NOISE};
    eqs_crng_philox4x64_10(ctr, key, a);
    eqs_crng_block(42, EQS_RNG_NOISE, 7, 123456789, b);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
}
END_TEST

#define CR_N 4096
#define CR_SEED 20261203ULL
#define CR_STREAM ((uint64_t)EQS_RNG_NOISE)
#define CR_STEP 99ULL

typedef struct {
    int normal;
    uint64_t e0;
    size_t n;
    double *out;
} fill_job;

static void *fill_thread(void *arg)
{
    const fill_job *j = arg;
    if (j->normal) eqs_crng_normal_fill(CR_SEED, CR_STREAM, CR_STEP, j->e0, j->n, j->out);
    else eqs_crng_uniform_fill(CR_SEED, CR_STREAM, CR_STEP, j->e0, j->n, j->out);
    return NULL;
}

/* The same key gives the same bits whatever the call order and however the
 * elements are split over one or two threads; each draw is the documented
 * function of its block's words. */
START_TEST(test_crng_order_and_threads)
{
    static double ref[CR_N], got[CR_N];
    for (int normal = 0; normal <= 1; ++normal) {
        fill_job all = {normal, 0, CR_N, ref};
        fill_thread(&all);
        /* reverse order, one draw at a time */
        for (size_t k = CR_N; k-- > 0;)
            got[k] = normal ? eqs_crng_normal(CR_SEED, CR_STREAM, CR_STEP, k)
                            : eqs_crng_uniform(CR_SEED, CR_STREAM, CR_STEP, k);
        ck_assert_int_eq(memcmp(ref, got, sizeof ref), 0);
        /* two threads, split at several points (the second half first) */
        const size_t splits[] = {1, 333, CR_N / 2, CR_N - 1};
        for (size_t s = 0; s < sizeof splits / sizeof *splits; ++s) {
            memset(got, 0, sizeof got);
            size_t h = splits[s];
            fill_job j1 = {normal, h, CR_N - h, got + h}, j0 = {normal, 0, h, got};
            pthread_t th;
            ck_assert_int_eq(pthread_create(&th, NULL, fill_thread, &j1), 0);
            fill_thread(&j0);
            ck_assert_int_eq(pthread_join(th, NULL), 0);
            ck_assert_msg(memcmp(ref, got, sizeof ref) == 0, "split at %zu differs", h);
        }
        /* the documented formulas from the raw words */
        for (size_t k = 0; k < CR_N; k += 97) {
            uint64_t w[4];
            eqs_crng_block(CR_SEED, CR_STREAM, CR_STEP, k, w);
            double u1 = ((double)(w[0] >> 11) + 0.5) / 9007199254740992.0;
            double u2 = (double)(w[1] >> 11) / 9007199254740992.0;
            double want = normal ? sqrt(-2.0 * log(u1)) * cos(2.0 * TU_PI * u2) : u1;
            ck_assert_msg(ref[k] == want, "element %zu: %.17g, expected %.17g", k, ref[k], want);
        }
    }
    /* every part of the key matters */
    double u = eqs_crng_uniform(CR_SEED, CR_STREAM, CR_STEP, 5);
    ck_assert(u != eqs_crng_uniform(CR_SEED + 1, CR_STREAM, CR_STEP, 5));
    ck_assert(u != eqs_crng_uniform(CR_SEED, CR_STREAM + 1, CR_STEP, 5));
    ck_assert(u != eqs_crng_uniform(CR_SEED, CR_STREAM, CR_STEP + 1, 5));
    ck_assert(u != eqs_crng_uniform(CR_SEED, CR_STREAM, CR_STEP, 6));
}
END_TEST

/* Moments of 2^18 draws against the distributions' (5 standard errors). */
START_TEST(test_crng_moments)
{
    const size_t n = (size_t)1 << 18;
    double *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (int normal = 0; normal <= 1; ++normal) {
        if (normal) eqs_crng_normal_fill(3, EQS_RNG_NOISE, 0, 0, n, x);
        else eqs_crng_uniform_fill(3, EQS_RNG_NOISE, 0, 0, n, x);
        double s = 0, s2 = 0;
        for (size_t k = 0; k < n; ++k) {
            if (!normal) ck_assert(x[k] > 0.0 && x[k] < 1.0);
            s += x[k];
        }
        const double mean = s / (double)n;
        for (size_t k = 0; k < n; ++k) s2 += (x[k] - mean) * (x[k] - mean);
        const double var = s2 / (double)(n - 1);
        /* uniform: mean 1/2, variance 1/12, var of x^2-terms 1/180; normal: 0, 1, 2 */
        const double mu = normal ? 0.0 : 0.5, sig2 = normal ? 1.0 : 1.0 / 12.0;
        const double var_sd = sqrt((normal ? 2.0 : 1.0 / 180.0) / (double)n);
        ck_assert_msg(fabs(mean - mu) <= 5.0 * sqrt(sig2 / (double)n), "%s mean %.6g",
                      normal ? "normal" : "uniform", mean);
        ck_assert_msg(fabs(var - sig2) <= 5.0 * var_sd, "%s variance %.6g",
                      normal ? "normal" : "uniform", var);
    }
    free(x);
}
END_TEST

/* ---- the update law ---- */

static eqs_update_law law_of(double mu, double lo, double hi, double *rate, int n)
{
    eqs_update_law u = {.momentum = mu, .g_min_S = lo, .g_max_S = hi, .decay = 1.0,
                        .n_params = n, .rate = rate};
    return u;
}

/* A device window narrows the clip bounds; one clip then equals the law's
 * clip followed by the window's (eqs_circuit_param_set); disjoint
 * intervals are refused and leave the law alone. */
START_TEST(test_update_law_window)
{
    double rate[1] = {1.0};
    eqs_update_law u = law_of(0.0, 0.25, 2.0, rate, 1);
    ck_assert_int_eq(eqs_update_law_window(&u, 0.5, 4.0), 1);
    ck_assert(u.g_min_S == 0.5 && u.g_max_S == 2.0);
    const double xs[] = {-1.0, 0.3, 0.75, 1.9, 3.0, 8.0};
    for (int i = 0; i < 6; ++i) {
        double two = fmin(fmax(fmin(fmax(xs[i], 0.25), 2.0), 0.5), 4.0);
        double G = 1.0, m = 0.0, g = (1.0 - xs[i]); /* G - 1 * g = xs[i] */
        ck_assert_int_eq(eqs_update_params(&u, 1.0, 0, 1, &G, &m, NULL, &g), -1);
        ck_assert(G == two);
    }
    eqs_update_law v = law_of(0.0, 0.25, 2.0, rate, 1);
    ck_assert_int_eq(eqs_update_law_window(&v, 3.0, 4.0), 0);
    ck_assert_int_eq(eqs_update_law_window(&v, 0.0, 0.125), 0);
    ck_assert(v.g_min_S == 0.25 && v.g_max_S == 2.0);
}
END_TEST

/* Closed form on binary-exact values: m = mu m + g, G = clip(G - s r m). */
START_TEST(test_update_params_closed_form)
{
    double rate[5] = {0.125, 0.125, -1.0, 1.0, 0.5};
    eqs_update_law u = law_of(0.5, 0.25, 2.0, rate, 5);
    double G[5] = {1.0, 0.5, 1.0, 1.0, 1.0};
    double m[5] = {0.5, 0.0, 0.5, 0.0, 0.0};
    const double g[5] = {0.25, 4.0, 8.0, -16.0, 0.0};
    ck_assert_int_eq(eqs_update_params(&u, 2.0, 0, 5, G, m, NULL, g), -1);
    /* k 0: m = 0.25 + 0.25 = 0.5, G = 1 - 2 0.125 0.5 = 0.875 */
    ck_assert(m[0] == 0.5 && G[0] == 0.875);
    /* k 1: m = 4, G = 0.5 - 1 = -0.5 -> clipped to 0.25 */
    ck_assert(m[1] == 4.0 && G[1] == 0.25);
    /* k 2: not trained: nothing changes */
    ck_assert(m[2] == 0.5 && G[2] == 1.0);
    /* k 3: m = -16, G = 1 + 32 -> clipped to 2 */
    ck_assert(m[3] == -16.0 && G[3] == 2.0);
    /* k 4: zero gradient, zero momentum: unchanged */
    ck_assert(m[4] == 0.0 && G[4] == 1.0);
    /* a range updates only its entries */
    double G2[5] = {1, 1, 1, 1, 1}, m2[5] = {0};
    ck_assert_int_eq(eqs_update_params(&u, 1.0, 3, 5, G2, m2, NULL, g), -1);
    ck_assert(G2[0] == 1.0 && m2[0] == 0.0 && m2[3] == -16.0);
    /* divergence: the first non-finite entry is reported */
    u.g_max_S = INFINITY;
    double G3[5] = {1, 1, 1, 1, 1}, m3[5] = {0};
    const double g3[5] = {0, -INFINITY, 0, -INFINITY, 0};
    ck_assert_int_eq(eqs_update_params(&u, 1.0, 0, 5, G3, m3, NULL, g3), 1);
    /* entries in store order: entry e is parameter perm[e]; the result is
     * the parameter-order one, permuted */
    u.g_max_S = 2.0;
    const int perm[5] = {3, 0, 4, 1, 2};
    double G4[5], m4[5], G5[5] = {1.0, 0.5, 1.0, 1.0, 1.0}, m5[5] = {0.5, 0.0, 0.5, 0.0, 0.0};
    for (int e = 0; e < 5; ++e) G4[e] = G5[perm[e]], m4[e] = m5[perm[e]];
    ck_assert_int_eq(eqs_update_params(&u, 2.0, 0, 5, G5, m5, NULL, g), -1);
    ck_assert_int_eq(eqs_update_params(&u, 2.0, 0, 5, G4, m4, perm, g), -1);
    for (int e = 0; e < 5; ++e) ck_assert(G4[e] == G5[perm[e]] && m4[e] == m5[perm[e]]);
    /* divergence reports the parameter, not the entry */
    double G6[5] = {1, 1, 1, 1, 1}, m6[5] = {0};
    u.g_max_S = INFINITY;
    ck_assert_int_eq(eqs_update_params(&u, 1.0, 0, 5, G6, m6, perm, g3), 3);
}
END_TEST

START_TEST(test_update_schedule)
{
    eqs_update_law u = law_of(0, 0, INFINITY, NULL, 0);
    u.decay = 0.5;
    ck_assert(eqs_update_schedule(&u, 0) == 1.0);
    ck_assert(eqs_update_schedule(&u, 3) == 0.125);
    u.decay = 1.0;
    u.cosine = 1;
    u.epochs = 4;
    for (uint64_t e = 0; e < 4; ++e) {
        double want = 0.5 * (1.0 + cos(TU_PI * (double)e / 4.0));
        ck_assert_msg(fabs(eqs_update_schedule(&u, e) - want) <= 1e-15, "epoch %llu",
                      (unsigned long long)e);
    }
    /* past the planned epochs: the last factor */
    ck_assert(eqs_update_schedule(&u, 9) == eqs_update_schedule(&u, 3));
    ck_assert(eqs_update_schedule(&u, 3) > 0.0);
}
END_TEST

#define UR_NI 37
#define UR_NJ 23

/* A block with values in the ranges of training (S, S/V^2 ...), seeded. */
static void fill_block(double *W, double *M, double *col, double *row)
{
    for (int k = 0; k < UR_NI * UR_NJ; ++k) {
        W[k] = 1e-6 + 1e-4 * eqs_crng_uniform(1, 0, 0, (uint64_t)k);
        M[k] = 1e-4 * eqs_crng_normal(1, 1, 0, (uint64_t)k);
    }
    for (int j = 0; j < UR_NJ; ++j) col[j] = 1e-4 * eqs_crng_normal(1, 2, 0, (uint64_t)j);
    for (int i = 0; i < UR_NI; ++i) row[i] = 1e-4 * eqs_crng_normal(1, 3, 0, (uint64_t)i);
}

typedef struct {
    const eqs_update_law *u;
    int i0, i1;
    float *W, *M, *colsum, *rowsum;
    const float *col, *row;
    const int *elem;
} rows_job;

static void *rows_thread(void *arg)
{
    const rows_job *j = arg;
    eqs_update_rows_f(j->u, 0.05, j->i0, j->i1, UR_NJ, j->W, j->M, j->elem, j->col, j->row, 0.3,
                      j->colsum, j->rowsum);
    return NULL;
}

/* Rows kernels: the element-wise formula (written out here) in double and
 * float, the row and column sums, and any split of the rows over two calls
 * or two threads giving the bits of one call. */
START_TEST(test_update_rows)
{
    static double W[UR_NI * UR_NJ], M[UR_NI * UR_NJ], W0[UR_NI * UR_NJ], M0[UR_NI * UR_NJ];
    double col[UR_NJ], row[UR_NI], cs[UR_NJ] = {0}, rs[UR_NI];
    fill_block(W0, M0, col, row);
    eqs_update_law u = law_of(0.9, 2e-6, 9e-5, NULL, 0); /* some entries clip */
    memcpy(W, W0, sizeof W);
    memcpy(M, M0, sizeof M);
    const double lr = 0.05, coef = 0.3;
    ck_assert_int_eq(eqs_update_rows_d(&u, lr, 0, UR_NI, UR_NJ, W, M, NULL, col, row, coef, cs, rs),
                     0);
    int clipped = 0;
    for (int i = 0; i < UR_NI; ++i) {
        double s = 0;
        for (int j = 0; j < UR_NJ; ++j) {
            const int k = i * UR_NJ + j;
            double m = M0[k] + (col[j] + coef * row[i]); /* mu applied by the caller */
            double G = W0[k] - lr * m;
            clipped += G < 2e-6 || G > 9e-5;
            G = G < 2e-6 ? 2e-6 : G > 9e-5 ? 9e-5 : G;
            ck_assert(M[k] == m && W[k] == G);
            s += G;
        }
        ck_assert(rs[i] == s);
    }
    ck_assert_msg(clipped > 0 && clipped < UR_NI * UR_NJ / 2, "clipped %d", clipped);
    for (int j = 0; j < UR_NJ; ++j) {
        double s = 0;
        for (int i = 0; i < UR_NI; ++i) s += W[i * UR_NJ + j];
        ck_assert(cs[j] == s);
    }

    /* float storage, double arithmetic */
    static float Wf0[UR_NI * UR_NJ], Mf0[UR_NI * UR_NJ], Wf[UR_NI * UR_NJ], Mf[UR_NI * UR_NJ];
    float colf[UR_NJ], rowf[UR_NI], csf[UR_NJ] = {0}, rsf[UR_NI];
    for (int k = 0; k < UR_NI * UR_NJ; ++k) Wf0[k] = (float)W0[k], Mf0[k] = (float)M0[k];
    for (int j = 0; j < UR_NJ; ++j) colf[j] = (float)col[j];
    for (int i = 0; i < UR_NI; ++i) rowf[i] = (float)row[i];
    memcpy(Wf, Wf0, sizeof Wf);
    memcpy(Mf, Mf0, sizeof Mf);
    ck_assert_int_eq(eqs_update_rows_f(&u, lr, 0, UR_NI, UR_NJ, Wf, Mf, NULL, colf, rowf, coef,
                                       csf, rsf),
                     0);
    for (int i = 0; i < UR_NI; ++i)
        for (int j = 0; j < UR_NJ; ++j) {
            const int k = i * UR_NJ + j;
            double m = (double)Mf0[k] + ((double)colf[j] + coef * (double)rowf[i]);
            double G = (double)Wf0[k] - lr * m;
            G = G < 2e-6 ? 2e-6 : G > 9e-5 ? 9e-5 : G;
            ck_assert(Mf[k] == (float)m && Wf[k] == (float)G);
        }

    /* every split into two calls, and two threads on the halves */
    static float Ws[UR_NI * UR_NJ], Ms[UR_NI * UR_NJ];
    for (int h = 0; h <= UR_NI; ++h) {
        float cs0[UR_NJ] = {0}, cs1[UR_NJ] = {0}, rss[UR_NI];
        memcpy(Ws, Wf0, sizeof Ws);
        memcpy(Ms, Mf0, sizeof Ms);
        rows_job j0 = {&u, 0, h, Ws, Ms, cs0, rss, colf, rowf, NULL};
        rows_job j1 = {&u, h, UR_NI, Ws, Ms, cs1, rss, colf, rowf, NULL};
        if (h % 2) {
            pthread_t th;
            ck_assert_int_eq(pthread_create(&th, NULL, rows_thread, &j1), 0);
            rows_thread(&j0);
            ck_assert_int_eq(pthread_join(th, NULL), 0);
        } else {
            rows_thread(&j1); /* the second half first */
            rows_thread(&j0);
        }
        ck_assert_msg(memcmp(Ws, Wf, sizeof Ws) == 0 && memcmp(Ms, Mf, sizeof Ms) == 0 &&
                          memcmp(rss, rsf, sizeof rss) == 0,
                      "split at row %d differs", h);
    }

    /* divergence: a non-finite row is reported */
    memcpy(W, W0, sizeof W);
    memcpy(M, M0, sizeof M);
    u.g_max_S = INFINITY;
    M[5 * UR_NJ + 2] = -INFINITY;
    ck_assert_int_eq(eqs_update_rows_d(&u, lr, 0, UR_NI, UR_NJ, W, M, NULL, col, row, coef, cs, NULL),
                     1);
    ck_assert_int_eq(eqs_update_rows_d(&u, lr, 6, UR_NI, UR_NJ, W, M, NULL, col, row, coef, cs, NULL),
                     0);
}
END_TEST

/* Span kernel (bias rails): g = a x + col with the law's momentum. */
START_TEST(test_update_span)
{
    eqs_update_law u = law_of(0.5, 0.0, 1.0, NULL, 0);
    double w[3] = {0.5, 0.5, 0.0625}, m[3] = {1.0, 0.0, 0.0};
    const double x[3] = {1.0, 2.0, 0.0}, col[3] = {0.5, 0.0, -1.0};
    eqs_update_span_d(&u, 0.25, 3, w, m, NULL, -0.5, x, col);
    /* m = 0.5 + (-0.5 + 0.5) = 0.5, w = 0.5 - 0.125; m = -1, w = 0.75; m = -1, w = 0.3125 */
    ck_assert(m[0] == 0.5 && w[0] == 0.375);
    ck_assert(m[1] == -1.0 && w[1] == 0.75);
    ck_assert(m[2] == -1.0 && w[2] == 0.3125);
    float wf[2] = {0.5f, 0.125f}, mf[2] = {0.0f, 0.0f};
    const float xf[2] = {4.0f, -8.0f}, cf[2] = {0.0f, 0.0f};
    eqs_update_span_f(&u, 0.25, 2, wf, mf, NULL, 1.0, xf, cf);
    /* m = 4, w = 0.5 - 1 -> 0 (clip); m = -8, w = 0.125 + 2 -> 1 (clip) */
    ck_assert(mf[0] == 4.0f && wf[0] == 0.0f && mf[1] == -8.0f && wf[1] == 1.0f);
}
END_TEST

/* Update noise: off gives the noiseless bits; on, a parameter's step is
 * lr m (1 + noise_rel z) with z its own draw of (seed, step, element), the
 * same on the parameter-vector path, in the double and float block kernels
 * and for any thread split of the rows; another step draws anew. */
START_TEST(test_update_noise)
{
    enum { NI = UR_NI, NJ = UR_NJ, N = NI * UR_NJ };
    static double W0[N], M0[N], W[N], M[N], Wq[N], Mq[N];
    double col[NJ], row[NI], cs[NJ] = {0};
    static int elem[N];
    static double rate[N];
    fill_block(W0, M0, col, row);
    for (int k = 0; k < N; ++k) elem[k] = 1000 + 3 * k, rate[k] = 0.05;
    eqs_update_law u = law_of(1.0, 0.0, INFINITY, rate, N);
    u.noise_rel = 0.2;
    u.noise_seed = 77;
    u.step = 5;
    memcpy(W, W0, sizeof W);
    memcpy(M, M0, sizeof M);
    eqs_update_rows_d(&u, 0.05, 0, NI, NJ, W, M, elem, col, row, 0.3, cs, NULL);
    int moved = 0;
    for (int i = 0; i < NI; ++i)
        for (int j = 0; j < NJ; ++j) {
            const int k = i * NJ + j;
            const double z = eqs_crng_normal(77, EQS_CRNG_STREAM_UPDATE, 5, (uint64_t)elem[k]);
            double m = M0[k] + (col[j] + 0.3 * row[i]);
            double G = W0[k] - 0.05 * m * (1.0 + 0.2 * z);
            G = G < 0.0 ? 0.0 : G;
            ck_assert_msg(W[k] == G && M[k] == m, "entry %d: %.17g, expected %.17g", k, W[k], G);
            moved += W[k] != W0[k] - 0.05 * m;
        }
    ck_assert_int_gt(moved, N / 2); /* the noise is there */
    /* the parameter-vector path draws the same noise for the same elements:
     * a vector whose element ids are elem[] (k' = elem[k]) */
    static double Gv[1000 + 3 * N], mv[1000 + 3 * N], gv[1000 + 3 * N], rv[1000 + 3 * N];
    for (int k = 0; k < 1000 + 3 * N; ++k) rv[k] = -1.0;
    for (int i = 0; i < NI; ++i)
        for (int j = 0; j < NJ; ++j) {
            const int k = i * NJ + j, e = elem[k];
            Gv[e] = W0[k], mv[e] = M0[k], gv[e] = col[j] + 0.3 * row[i], rv[e] = 0.05;
        }
    eqs_update_law uv = u;
    uv.rate = rv;
    uv.n_params = 1000 + 3 * N;
    ck_assert_int_eq(eqs_update_params(&uv, 1.0, 0, (size_t)uv.n_params, Gv, mv, NULL, gv), -1);
    for (int k = 0; k < N; ++k) ck_assert(Gv[elem[k]] == W[k]);
    /* float storage: the same draws, rounded once at the store */
    static float Wf[N], Mf[N], Ws[N], Ms[N];
    float colf[NJ], rowf[NI], csf[NJ] = {0}, rsf[NI];
    for (int k = 0; k < N; ++k) Wf[k] = (float)W0[k], Mf[k] = (float)M0[k];
    for (int j = 0; j < NJ; ++j) colf[j] = (float)col[j];
    for (int i = 0; i < NI; ++i) rowf[i] = (float)row[i];
    memcpy(Ws, Wf, sizeof Ws);
    memcpy(Ms, Mf, sizeof Ms);
    eqs_update_rows_f(&u, 0.05, 0, NI, NJ, Wf, Mf, elem, colf, rowf, 0.3, csf, rsf);
    for (int i = 0; i < NI; ++i)
        for (int j = 0; j < NJ; ++j) {
            const int k = i * NJ + j;
            const double z = eqs_crng_normal(77, EQS_CRNG_STREAM_UPDATE, 5, (uint64_t)elem[k]);
            double m = (double)Ms[k] + ((double)colf[j] + 0.3 * (double)rowf[i]);
            double G = (double)Ws[k] - 0.05 * m * (1.0 + 0.2 * z);
            G = G < 0.0 ? 0.0 : G;
            ck_assert(Wf[k] == (float)G);
        }
    /* two threads on a split of the rows */
    static float Wt[N], Mt[N];
    memcpy(Wt, Ws, sizeof Wt);
    memcpy(Mt, Ms, sizeof Mt);
    float c0[NJ] = {0}, c1[NJ] = {0}, rt[NI];
    rows_job j0 = {&u, 0, 11, Wt, Mt, c0, rt, colf, rowf, elem};
    rows_job j1 = {&u, 11, NI, Wt, Mt, c1, rt, colf, rowf, elem};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, rows_thread, &j1), 0);
    rows_thread(&j0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert(memcmp(Wt, Wf, sizeof Wt) == 0 && memcmp(Mt, Mf, sizeof Mt) == 0);
    /* another step, other draws; noise off: the noiseless bits */
    u.step = 6;
    memcpy(Wq, W0, sizeof Wq);
    memcpy(Mq, M0, sizeof Mq);
    eqs_update_rows_d(&u, 0.05, 0, NI, NJ, Wq, Mq, elem, col, row, 0.3, cs, NULL);
    ck_assert(memcmp(Wq, W, sizeof Wq) != 0);
    u.noise_rel = 0.0;
    memcpy(Wq, W0, sizeof Wq);
    memcpy(Mq, M0, sizeof Mq);
    eqs_update_rows_d(&u, 0.05, 0, NI, NJ, Wq, Mq, elem, col, row, 0.3, cs, NULL);
    memcpy(W, W0, sizeof W);
    memcpy(M, M0, sizeof M);
    eqs_update_rows_d(&u, 0.05, 0, NI, NJ, W, M, NULL, col, row, 0.3, cs, NULL);
    ck_assert(memcmp(Wq, W, sizeof W) == 0);
}
END_TEST

/* A 24-40-30-4 DRN on the batched layered path with every crossbar split
 * over the two cores (split_min 100), momentum 0.9; `extra` goes into the
 * solver element (threads="1"). */
static const char *noisy_xml(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"24 40 30 4\" g_init_min_S=\"1e-6\" "
             "g_init_max_S=\"1e-4\"/></network>\n"
             "  <dataset classes=\"4\"><synthetic task=\"blobs\" train_size=\"12\" "
             "test_size=\"4\" features=\"24\"/></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\"><rate elements=\"r1_*\" value=\"3e-7\"/>"
             "<rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
             "  <training epochs=\"3\" batch=\"4\" seed=\"8\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"layered\" split_min=\"100\" %s diodes=\"ideal\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n"
             "</experiment>\n",
             extra);
    return tu_write_temp(buf, ".xml");
}

static void noisy_open(tu_job *j, const char *xml, double noise_rel)
{
    tu_job_open(j, xml, 1);
    ck_assert_int_eq(eqs_trainer_batched(j->tr), 1);
    eqs_trainer_update_law(j->tr)->noise_rel = noise_rel;
}

static double *noisy_run(tu_job *j, int from, int to)
{
    for (int s = from; s < to; ++s) ck_assert_int_eq(eqs_trainer_step(j->tr), EQS_OK);
    return tu_conductances(j->c);
}

/* Noisy training end to end (batched layered path, crossbars split over
 * two cores): threads 2 and 1 give the same conductances bit for bit, a
 * run resumed from a mid-epoch checkpoint equals the uninterrupted one,
 * and the noise does change the result. */
START_TEST(test_update_noise_trainer)
{
    const char *two = noisy_xml(""), *one = noisy_xml("threads=\"1\"");
    tu_job a, b, c, q;
    noisy_open(&a, two, 0.3);
    noisy_open(&b, one, 0.3);
    double *ga = noisy_run(&a, 0, 5), *gb = noisy_run(&b, 0, 5);
    const int np = eqs_circuit_param_count(a.c);
    ck_assert_int_eq(memcmp(ga, gb, (size_t)np * sizeof *ga), 0);
    /* resume: 2 steps, checkpoint (mid-epoch: 3 batches per epoch), 3 more */
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/noisy.ck", tu_temp_dir());
    noisy_open(&c, two, 0.3);
    free(noisy_run(&c, 0, 2));
    ck_assert_int_eq(eqs_trainer_checkpoint_write(c.tr, ck), EQS_OK);
    tu_job_close(&c);
    noisy_open(&c, two, 0.3);
    ck_assert_msg(eqs_trainer_checkpoint_read(c.tr, ck) == EQS_OK, "%s", eqs_ctx_error(c.ctx));
    double *gc = noisy_run(&c, 2, 5);
    ck_assert_int_eq(memcmp(ga, gc, (size_t)np * sizeof *ga), 0);
    /* without noise: another result */
    noisy_open(&q, two, 0.0);
    double *gq = noisy_run(&q, 0, 5);
    int differ = 0;
    for (int k = 0; k < np; ++k) differ += ga[k] != gq[k];
    ck_assert_int_gt(differ, np / 2);
    free(ga);
    free(gb);
    free(gc);
    free(gq);
    tu_job_close(&a);
    tu_job_close(&b);
    tu_job_close(&c);
    tu_job_close(&q);
}
END_TEST

Suite *suite_update(void)
{
    Suite *s = suite_create("update");
    TCase *tc = tcase_create("core");
    /* Check's default 4 s: test_update_noise_trainer (3 trainings, ~1 s
     * under ASan alone) timed out in make check-asan on the 2-core VM with
     * three trainings beside it */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crng_known_answers);
    tcase_add_test(tc, test_crng_order_and_threads);
    tcase_add_test(tc, test_crng_moments);
    tcase_add_test(tc, test_update_params_closed_form);
    tcase_add_test(tc, test_update_law_window);
    tcase_add_test(tc, test_update_schedule);
    tcase_add_test(tc, test_update_rows);
    tcase_add_test(tc, test_update_span);
    tcase_add_test(tc, test_update_noise);
    tcase_add_test(tc, test_update_noise_trainer);
    suite_add_tcase(s, tc);
    return s;
}
