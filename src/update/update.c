/*
 * update.c: the update law (update.h, docs/training.md "Update law"):
 * SGD with momentum, per-parameter learning rates, the epoch schedule and
 * clipping to [g_min_S, g_max_S], on the trainer's parameter vector and on
 * the row ranges of the batched path's crossbar blocks.
 *
 * Every kernel evaluates, per entry and in double, exactly
 *     m = mu m + g;  G = G - lr m;  G = max(G, lo);  G = min(G, hi)
 * (sgd() below, the one definition), so the per-sample path, the batched
 * path in double and in float and any split of a block over threads
 * round the same way.
 */
#include "update.h"

#include <float.h>
#include <math.h>

/* The optimizer step: m <- mu m + g;  G <- clip(G - lr m, [lo, hi]).
 * Returns the new G. */
static inline double sgd(double G, double *m, double mu, double g, double lr, double lo,
                         double hi)
{
    *m = mu * *m + g;
    G -= lr * *m;
    if (G < lo) G = lo;
    if (G > hi) G = hi;
    return G;
}

/* The noisy step (eqs_update_law.noise_rel > 0): the step lr m scaled by
 * 1 + noise_rel z, z the element's standard normal draw of this step. */
static inline double sgd_noisy(const eqs_update_law *u, uint64_t element, double G, double *m,
                               double mu, double g, double lr, double lo, double hi)
{
    const double z = eqs_crng_normal(u->noise_seed, EQS_CRNG_STREAM_UPDATE, u->step, element);
    *m = mu * *m + g;
    G -= lr * *m * (1.0 + u->noise_rel * z);
    if (G < lo) G = lo;
    if (G > hi) G = hi;
    return G;
}

/* The device model after the clip: G_old -> the conductance its pulses
 * reach for the requested G_new (eqs_update_law.device), inside the law's
 * window [g_min_S, g_max_S] too (a device whose own window reaches past
 * it, by its variation, stops there). */
static inline double programmed(const eqs_update_law *u, uint64_t element, double G_old,
                                double G_new)
{
    const eqs_device_law *d = u->device_of[element];
    if (!d) return G_new;
    eqs_device_inst dev;
    eqs_device_instance(d, element, &dev);
    double G;
    if (d->kind == EQS_DEVICE_IDEAL && d->levels < 2 && !dev.stuck) /* exactly G_new, clipped */
        G = G_new < dev.g_min_S ? dev.g_min_S : G_new > dev.g_max_S ? dev.g_max_S : G_new;
    else
        G = eqs_device_program(d, &dev, G_old, G_new - G_old, u->step, element, NULL);
    return G < u->g_min_S ? u->g_min_S : G > u->g_max_S ? u->g_max_S : G;
}

eqs_status eqs_update_law_create(eqs_ctx *ctx, const eqs_experiment *exp, const eqs_circuit *c,
                                 double g_floor_S, eqs_update_law **out)
{
    *out = NULL;
    eqs_update_law *u = eqs_calloc(ctx, 1, sizeof *u);
    if (!u) return EQS_ERR_NOMEM;
    u->momentum = exp->momentum;
    u->noise_seed = exp->seed;
    u->decay = exp->lr_decay;
    u->cosine = exp->lr_cosine;
    u->epochs = exp->epochs;
    u->g_min_S = exp->g_min_S > g_floor_S ? exp->g_min_S : g_floor_S;
    u->g_max_S = exp->g_max_S > 0 ? exp->g_max_S : INFINITY;
    u->n_params = eqs_circuit_param_count(c);
    u->rate = eqs_malloc(ctx, (size_t)(u->n_params > 0 ? u->n_params : 1) * sizeof *u->rate);
    if (!u->rate) {
        eqs_update_law_free(ctx, &u);
        return EQS_ERR_NOMEM;
    }
    for (int k = 0; k < u->n_params; ++k)
        u->rate[k] = eqs_experiment_rate(exp, eqs_circuit_param_name(c, k));
    *out = u;
    return EQS_OK;
}

void eqs_update_law_free(eqs_ctx *ctx, eqs_update_law **u)
{
    if (!u || !*u) return;
    eqs_free(ctx, (*u)->rate);
    eqs_free(ctx, *u);
    *u = NULL;
}

double eqs_update_schedule(const eqs_update_law *u, uint64_t e)
{
    double s = pow(u->decay, (double)e);
    if (u->cosine && u->epochs > 0) {
        /* epochs past the planned ones (a longer --epochs) keep the last factor */
        uint64_t last = (uint64_t)u->epochs - 1;
        double x = (double)(e < last ? e : last) / (double)u->epochs;
        s *= 0.5 * (1.0 + cos(3.14159265358979323846 * x));
    }
    return s;
}

int eqs_update_law_window(eqs_update_law *u, double lo_S, double hi_S)
{
    if (lo_S > u->g_max_S || hi_S < u->g_min_S) return 0;
    if (lo_S > u->g_min_S) u->g_min_S = lo_S;
    if (hi_S < u->g_max_S) u->g_max_S = hi_S;
    return 1;
}

int eqs_update_params(const eqs_update_law *u, double scale, size_t e0, size_t e1, double *G,
                      double *m, const int *param, const double *g)
{
    const double mu = u->momentum, lo = u->g_min_S, hi = u->g_max_S;
    const int noisy = u->noise_rel > 0;
    for (size_t e = e0; e < e1; ++e) {
        const int k = param ? param[e] : (int)e;
        if (u->rate[k] < 0) continue; /* matched by no learning-rate group */
        const double lr = scale * u->rate[k], G0 = G[e];
        G[e] = noisy ? sgd_noisy(u, (uint64_t)k, G[e], &m[e], mu, g[k], lr, lo, hi)
                     : sgd(G[e], &m[e], mu, g[k], lr, lo, hi);
        if (u->device_of) G[e] = programmed(u, (uint64_t)k, G0, G[e]);
        if (!isfinite(G[e])) return k;
    }
    return -1;
}

#define REAL double
#define U_(x) x##_d
#include "update_rows.inc"
#undef REAL
#undef U_

#define REAL float
#define U_(x) x##_f
#include "update_rows.inc"
#undef REAL
#undef U_
