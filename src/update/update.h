/*
 * update.h: private header of the update module (docs/training.md,
 * "Update law").
 *
 * The update law turns a gradient block into new parameter values.  The
 * solvers compute phase states, contrasts and gradients; they never decide
 * how a parameter moves.  Both training paths call the functions below:
 * the per-sample trainer (eqprop/train.c) on its parameter vector, the
 * batched layered path (solver/layered_batch.inc) on the rows of a
 * crossbar's dense W and momentum M, each core on its half of the rows.
 * Nothing here allocates after eqs_update_law_create, and no function
 * keeps state between calls, so any split of a block over threads gives
 * the same bits as one call over the whole block.
 *
 * Today's law: SGD with momentum and clipping,
 *     m <- mu m + g;   G <- clip(G - scale * rate * m, [g_min_S, g_max_S])
 * with scale the schedule factor of the epoch (eqs_update_schedule).
 *
 * Random draws for future noisy laws come from a counter-based generator
 * (crng.c, the only includer of Random123): Philox4x64-10 keyed by
 * (seed, stream) at counter (step, element), so a draw depends on its key
 * alone, never on call order, thread split, precision or resume.
 */
#ifndef EQS_UPDATE_H
#define EQS_UPDATE_H

#include "../core/core.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double momentum; /* mu in [0, 1). Default: 0 */
    double g_min_S;  /* lower clip bound (S). Default: 0 */
    double g_max_S;  /* upper clip bound (S). Default: INFINITY */
    double decay;    /* rate multiplier per epoch, (0, 1]. Default: 1 */
    int cosine;      /* 1: the schedule also has the cosine factor. Default: 0 */
    int epochs;      /* planned epochs (cosine schedule). Default: 0 */
    int n_params;    /* entries of rate */
    double *rate;    /* per parameter (S^2/V^2), < 0: not trained; owned */
    /* Update noise (off by default; with it off no draw is made and the
     * bits are those of the noiseless law): each step lr m of parameter k
     * becomes lr m (1 + noise_rel z), z the standard normal
     * eqs_crng_normal(noise_seed, EQS_CRNG_STREAM_UPDATE, step, k), so the
     * noise of a parameter depends on (seed, step, k) only: not on the
     * training path, the thread split or the precision. */
    double noise_rel;    /* relative std of a step. Default: 0 (off) */
    uint64_t noise_seed; /* Default: the experiment's seed */
    uint64_t step;       /* key of the current step; the trainer sets it
                            (epoch * batches per epoch + batch: the same
                            after a resume). Default: 0 */
    /* The device model each trained conductance is programmed through
     * (docs/devices.md), per parameter: after the clip, the requested
     * change G_new - G of parameter k becomes eqs_device_program of device
     * k of law device_of[k] (its instance drawn from (seed, k)) at key
     * (step, k), then is clipped to [g_min_S, g_max_S] again; an ideal
     * continuous law sets clip(G_new) to its window exactly.  NULL (the
     * array or an entry): the conductance is set as requested (the trainer
     * passes no array for one ideal continuous model, so the bits are
     * those of no model).  Borrowed. Default: NULL */
    const eqs_device_law *const *device_of;
} eqs_update_law;

/* Stream of the update noise draws (the key's second word). */
#define EQS_CRNG_STREAM_UPDATE 1

/* The law of an experiment for circuit c: momentum, decay and schedule as
 * given; clip bounds [max(g_min_S, g_floor_S), g_max_S] (g_max_S <= 0:
 * INFINITY); the learning rate of every parameter resolved once from the
 * experiment's <rate elements=...> patterns (eqs_experiment_rate).
 * Allocates the rate array; *out is NULL on error. */
eqs_status eqs_update_law_create(eqs_ctx *ctx, const eqs_experiment *exp, const eqs_circuit *c,
                                 double g_floor_S, eqs_update_law **out);
void eqs_update_law_free(eqs_ctx *ctx, eqs_update_law **u);

/* The learning-rate multiplier in epoch e (0-based): decay^e, times
 * 0.5 (1 + cos(pi e / epochs)) with the cosine schedule (epochs past the
 * planned ones keep the last factor). */
double eqs_update_schedule(const eqs_update_law *u, uint64_t epoch);

/* A block whose devices reach only the conductance window [lo_S, hi_S]
 * (a memristor crossbar): u's clip bounds narrowed to it, as
 * eqs_circuit_param_set clips after the law:
 * clip(clip(G, g_min, g_max), lo, hi) = clip(G, max(g_min, lo), min(g_max, hi)).
 * Returns 0 (u unchanged) when the two intervals do not overlap (no one
 * clip stands for the two). */
int eqs_update_law_window(eqs_update_law *u, double lo_S, double hi_S);

/* Entries e0..e1-1 of a parameter block (the parameter store's order):
 * entry e is parameter k = param[e] (param NULL: k = e), with value G[e]
 * (S), momentum m[e] and gradient g[k] (dL/dG, V^2/S):
 * m[e] <- mu m[e] + g[k]; G[e] <- clip(G[e] - scale rate[k] m[e]) for each
 * trained k (rate[k] >= 0; the others are left alone; noise: element k).
 * Returns the first k whose new G is not finite (training diverged),
 * else -1. */
int eqs_update_params(const eqs_update_law *u, double scale, size_t e0, size_t e1, double *G,
                      double *m, const int *param, const double *g);

/* Rows i0..i1-1 of a crossbar block (row-major, nj columns) W (S) and its
 * momentum M, in REAL = double (_d) or float (_f).  The caller has formed
 * the product part P of the gradient into M with the momentum decay folded
 * in (one matrix product M <- mu M + P with beta = u->momentum); the rest
 * of the gradient of entry (i, j) is col[j] + row_coef * row[i] (row NULL:
 * 0).  For each entry: m <- m + that rest, W <- clip(W - lr m), evaluated
 * in double and stored in REAL (noise: element elem[i nj + j], the
 * parameter index of the entry; elem may be NULL while the noise is off).
 * Then colsum[j] += the stored W (REAL
 * arithmetic, rows top to bottom) and rowsum[i] = the sum of row i (summed
 * in double left to right, stored in REAL;
 * rowsum NULL: not stored).  Returns 1 when a row sum is not
 * finite (training diverged), else 0. */
int eqs_update_rows_d(const eqs_update_law *u, double lr, int i0, int i1, int nj, double *W,
                      double *M, const int *elem, const double *col, const double *row,
                      double row_coef, double *colsum, double *rowsum);
int eqs_update_rows_f(const eqs_update_law *u, double lr, int i0, int i1, int nj, float *W,
                      float *M, const int *elem, const float *col, const float *row,
                      double row_coef, float *colsum, float *rowsum);

/* One span of n entries w (S) with momentum m, gradient a x[j] + col[j]:
 * m <- mu m + g, w <- clip(w - lr m) (double arithmetic, REAL storage;
 * noise: element elem[j], NULL while the noise is off). */
void eqs_update_span_d(const eqs_update_law *u, double lr, int n, double *w, double *m,
                       const int *elem, double a, const double *x, const double *col);
void eqs_update_span_f(const eqs_update_law *u, double lr, int n, float *w, float *m,
                       const int *elem, double a, const float *x, const float *col);

/* ---- counter-based random numbers (crng.c) ----
 * A draw is a pure function of its key: seed (the run's), stream (what
 * the draws are for, e.g. EQS_RNG_NOISE), step (e.g. the training step)
 * and element (the parameter's index).  The four 64-bit words are the
 * Philox4x64-10 block of counter (step, element, 0, 0) under key (seed,
 * stream). */
void eqs_crng_block(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element,
                    uint64_t out[4]);
/* The raw generator, for its known-answer test: Philox4x64-10 of counter
 * ctr under key key. */
void eqs_crng_philox4x64_10(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4]);
/* Uniform in (0, 1): (word 0 >> 11 + 0.5) 2^-53. */
double eqs_crng_uniform(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element);
/* Standard normal by Box-Muller from words 0 and 1:
 * sqrt(-2 ln u1) cos(2 pi u2), u1 = (w0 >> 11 + 0.5) 2^-53, u2 = w1 >> 11 2^-53. */
double eqs_crng_normal(uint64_t seed, uint64_t stream, uint64_t step, uint64_t element);
/* out[k] = the draw of element e0 + k, k < n. */
void eqs_crng_uniform_fill(uint64_t seed, uint64_t stream, uint64_t step, uint64_t e0, size_t n,
                           double *out);
void eqs_crng_normal_fill(uint64_t seed, uint64_t stream, uint64_t step, uint64_t e0, size_t n,
                          double *out);

/* ---- device models (device.c; the public API is in eqspice_train.h) ----
 * Streams of the device draws: the per-device variation (counter step 0
 * and 1), the per-pulse noise (counter (step, element, pulse, 0)) and the
 * stochastic rounding. */
#define EQS_CRNG_STREAM_DEVICE_D2D 2
#define EQS_CRNG_STREAM_DEVICE_C2C 3
#define EQS_CRNG_STREAM_DEVICE_ROUND 4
#define EQS_CRNG_STREAM_DEVICE_READ 5
/* ---- end of device models ---- */


/* ---- TEAM kinetics (team.c, docs/devices.md "TEAM") ----
 * Xyce's MemristorTEAM (level 2) state equation, integrated over one
 * programming pulse of amplitude V and width width_s with SUNDIALS CVODE:
 *   dx/dt = koff (i/ioff - 1)^alphaoff f(x)   if i > ioff > 0
 *         = kon  (i/ion  - 1)^alphaon  f(x)   if i < ion < 0
 *         = 0                                 otherwise,
 * i = V / R(x), R(x) = eqs_memristor_resistance (ivrelation 0 or 1), x
 * kept in [min(xon, xoff), max(xon, xoff)] (the rate is 0 at the bound
 * being approached).  An up pulse applies V = -v_up_V (the "on" branch,
 * toward xon, ron), a down pulse V = +v_down_V (toward xoff, roff).
 * Window f (Xyce's WT): 0 none (f = 1), 1 Joglekar 1 - (2u - 1)^(2p),
 * 2 Biolek 1 - (u - stp(-i))^(2p), with u = (x - xon)/(xoff - xon). */
typedef struct eqs_team {
    double kon_m_per_s, koff_m_per_s; /* rates (m/s); kon moves toward xon,
                                         koff toward xoff */
    double alphaon, alphaoff;         /* exponents (> 0) */
    double ion_A, ioff_A;             /* current thresholds: ion < 0 < ioff */
    double ron_Ohm, roff_Ohm;         /* R at xon, at xoff (> 0) */
    double xon_m, xoff_m;             /* state bounds (xon != xoff) */
    int ivrelation;                   /* 0 linear R(x), 1 exponential */
    int wt;                           /* window: 0 none, 1 Joglekar, 2 Biolek */
    double p;                         /* window exponent (wt 1, 2; > 0) */
    double v_up_V, v_down_V;          /* pulse amplitudes (magnitudes, > 0) */
    double width_s;                   /* pulse width (> 0) */
    /* The one-pulse maps tabulated by eqs_team_tabulate: u after one up /
     * down pulse from u_k = k/grid_n, k = 0..grid_n (borrowed; NULL until
     * tabulated). */
    int grid_n;
    const double *u_up, *u_down;
} eqs_team;

/* Xyce's defaults (KON -8e-13 m/s, KOFF 8e-13 m/s, ALPHAON/OFF 3, ION
 * -8.9e-6 A (Xyce's table writes +8.9e-6; TEAM needs ion < 0), IOFF
 * 1.15e-4 A, RON 50, ROFF 1e3, XON 0, XOFF 3e-9 m, WT 0, P 1), pulses of
 * EQS_TEAM_DEFAULT_* below, grid_n = 0 (not tabulated). */
#define EQS_TEAM_DEFAULT_V_UP 1.0
#define EQS_TEAM_DEFAULT_V_DOWN 4.0
#define EQS_TEAM_DEFAULT_WIDTH 1e-6
#define EQS_TEAM_DEFAULT_GRID 4096
void eqs_team_defaults(eqs_team *t);
/* NULL when t's kinetic parameters are consistent, else a message naming
 * the offending parameter in *param: k of the wrong sign for its branch
 * (kon toward xon, koff toward xoff) or zero, alpha <= 0, ion >= 0,
 * ioff <= 0, ron/roff <= 0, xon = xoff, wt not 0..2, p <= 0, v <= 0,
 * width <= 0. */
const char *eqs_team_check(const eqs_team *t, const char **param);
/* R(x) (Ohm), as eqs_memristor_resistance. */
double eqs_team_resistance(const eqs_team *t, double x_m);
/* dx/dt (m/s) at state x under voltage V. */
double eqs_team_rate(const eqs_team *t, double x_m, double V);
/* The state after one pulse of V volts for width_s seconds from x0,
 * integrated directly with CVODE (rtol 1e-10, atol 1e-13 on u).
 * Allocates and frees its integrator.  EQS_ERR_NOCONV when CVODE fails. */
eqs_status eqs_team_pulse_x(const eqs_team *t, double x0_m, double V, double width_s,
                            double *x1_m);
/* Fill u_up[0..n], u_down[0..n] (caller's storage) with one pulse from
 * u_k = k/n by CVODE, and point t's table at them (t->grid_n = n >= 2). */
eqs_status eqs_team_tabulate(eqs_team *t, int n, double *u_up, double *u_down);
/* The normalised state u in [0, 1] of conductance G (S), and back. */
double eqs_team_u_of_G(const eqs_team *t, double G_S);
double eqs_team_G_of_u(const eqs_team *t, double u);
/* One pulse (up: an up pulse) from u by the table, interpolated linearly. */
double eqs_team_pulse_u(const eqs_team *t, double u, int up);
/* The conductance after one pulse from G (S), through the table. */
double eqs_team_pulse_G(const eqs_team *t, double G_S, int up);
/* ---- end of TEAM kinetics ---- */

#endif /* EQS_UPDATE_H */
