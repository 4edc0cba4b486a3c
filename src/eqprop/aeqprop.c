/*
 * aeqprop.c: Agnostic EqProp (Scellier, Mishra, Bengio, Ollivier 2022,
 * arXiv 2205.15021; docs/eqprop.md "Agnostic EqProp").
 *
 * Every trainable conductance theta = G is a physical state variable,
 * held by a control knob u through the energy (u - theta)^2 / (2 eps).
 * The total energy is E(s, theta) + beta C(s) + sum (u - theta)^2/(2 eps),
 * with dE/dG = dV^2 / 2 for a resistor (its co-content is G dV^2 / 2).
 *
 *   phase 1 (nudge beta_1): the circuit settles at theta_0; homeostatic
 *     control sets each knob to u = theta_0 + eps dV_1^2 / 2, the setting
 *     at which theta_0 is at rest (d/dtheta of the total energy is 0).
 *     This reads the physical force on each device at the phase-1 state.
 *   phase 2 (nudge beta_2, knobs frozen): the circuit state and the
 *     parameters settle together.  Exact alternating minimisation:
 *       (a) the circuit at fixed theta (a warm Newton solve),
 *       (b) each theta to its exact minimiser given the state,
 *           theta = u - eps dV^2 / 2 (E is linear in G), clipped at
 *           AEQ_G_FLOOR_S,
 *     until the joint residual is small: KCL holds after (a) to the
 *     solver's tolerances, and every |theta - (u - eps dV^2/2)| is at most
 *     aeq_reltol * theta.  The alternation contracts by about
 *     eps |d(dV^2/2)/dtheta| per round, i.e. by AEQ_EPS_REL at the
 *     automatic eps: three to four solves.
 *
 * The update theta_after - theta_0 ~ -eps [dE/dtheta(beta_2) -
 * dE/dtheta(beta_1)] is returned as the gradient estimate
 *     g = -(theta_after - theta_0) / (eps (beta_2 - beta_1)),
 * so that it reads like the other methods; it comes out of the relaxation
 * (nothing here evaluates the EqProp formula of grad.c).  As eps -> 0 it
 * tends to EqProp's estimate with the same phases, with an O(eps) bias.
 * The conductances are set back to theta_0 afterwards (the trainer applies
 * updates) and the solver is left at the free state, nudge cleared.
 */
#include "eqprop.h"

#include "../devices/devices.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Automatic eps: the knob's offset at rest, eps dV_1^2/2, is at most
 * AEQ_EPS_REL of the device's own conductance, for every device.  The
 * relaxation then moves each theta by a fraction of that (the phase-2
 * change of dV^2 relative to dV^2), the bias relative to EqProp is about
 * AEQ_EPS_REL (eps |d(dV^2/2)/dtheta| <= eps dV^2 / theta), and so is
 * the contraction factor of the alternation. */
#define AEQ_EPS_REL 1e-3
/* Devices without a voltage in phase 1 everywhere (all dV_1 = 0): eps as
 * if the weakest device saw AEQ_EPS_REF_V. */
#define AEQ_EPS_REF_V 1.0
/* Smallest conductance a relaxing parameter may take (S): G = 0 is an
 * open circuit and G < 0 not a passive device.  As the trainer's floor. */
#define AEQ_G_FLOOR_S 1e-12
/* A relative parameter residual beyond this after a round means the
 * alternation is diverging (eps far too large): stop early. */
#define AEQ_DIVERGED_REL 1.0

/* dE/dG (V^2) of trainable conductance k at node voltages v: its
 * device's dE/dtheta (dV^2 / 2 for a resistor). */
static inline double force(const eqs_circuit *c, int k, const double *v)
{
    const eqs_celem *e = &c->elems[c->params[k]];
    const double dv = v[e->n[0]] - v[e->n[1]];
    if (c->param_aiv && c->param_aiv[k] != 0.0) return eqs_memiv_denergy(c->param_aiv[k], dv);
    return eqs_device_get(e->kind)->denergy(dv);
}

/* Set every parameter to theta0[k] + delta[k] (S); delta NULL: theta0. */
static eqs_status set_params(eqs_circuit *c, const double *theta0, const double *delta)
{
    for (int k = 0; k < c->n_params; ++k) {
        eqs_status st = eqs_circuit_param_set(c, k, delta ? theta0[k] + delta[k] : theta0[k]);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

/* Replace the context's error by `prefix: <previous message>` with a new
 * code (no allocation: the message is copied to the stack). */
static eqs_status rewrap(eqs_ctx *ctx, eqs_status code, const char *prefix)
{
    char prev[512];
    snprintf(prev, sizeof prev, "%s", eqs_ctx_error(ctx));
    const char *m = prev;
    if (!strncmp(m, "error: ", 7)) m += 7;
    eqs_ctx_clear_error(ctx);
    return EQS_ERROR(ctx, code, "%s: %s", prefix, m);
}

eqs_status eqs_eqprop_aeqprop(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad)
{
    eqs_ctx *ctx = ep->ctx;
    eqs_circuit *c = ep->c;
    const int np = c->n_params;
    const double beta = opt->beta_S == 0.0 ? ep->beta_default : opt->beta_S;
    if (!(beta > 0) || !isfinite(beta))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "beta must be positive and finite (got %g S)", beta);
    const double eps_in = opt->epsilon_S_per_V2;
    if (!(eps_in >= 0) || !isfinite(eps_in))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "aeqprop: epsilon must be positive and finite (got %g S/V^2; 0 "
                         "chooses it automatically)",
                         eps_in);
    const double tol = opt->aeq_reltol == 0.0 ? EQS_AEQ_RELTOL_DEFAULT : opt->aeq_reltol;
    if (!(tol > 0) || !isfinite(tol))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "aeqprop: tolerance must be positive (got %g)", tol);
    const int max_iter = opt->aeq_max_iter == 0 ? EQS_AEQ_MAX_ITER_DEFAULT : opt->aeq_max_iter;
    if (max_iter < 1)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "aeqprop: iteration cap must be >= 1 (got %d)",
                         max_iter);
    if (opt->nudge != EQS_NUDGE_CONDUCTANCE && opt->nudge != EQS_NUDGE_CURRENT)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "unknown nudge kind %d", (int)opt->nudge);
    double b1, b2;
    switch (opt->aeq_phases) {
    case EQS_AEQ_CENTERED: b1 = -0.5 * beta, b2 = 0.5 * beta; break;
    case EQS_AEQ_OPTIMISTIC: b1 = 0.0, b2 = beta; break;
    case EQS_AEQ_PESSIMISTIC: b1 = -beta, b2 = 0.0; break;
    default:
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "aeqprop: unknown phase pair %d",
                         (int)opt->aeq_phases);
    }
    if (np == 0) return EQS_OK; /* nothing to relax; the solver is at the free state */
    if (!ep->aeq_theta0) /* made by the first free phase (phases.c) */
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "aeqprop: no free phase solved");
    const size_t nv = (size_t)c->n_user_nodes;
    /* Numerics: the knobs and the relaxing parameters are held as offsets
     * from theta_0, w = u - theta_0 and delta = theta - theta_0, so that
     * the update delta (often 1e-9 of theta or less) does not lose its
     * digits to the rounding of theta itself; the circuit gets
     * theta_0 + delta. */
    double *th0 = ep->aeq_theta0, *w = ep->aeq_u, *dl = ep->aeq_theta;

    /* ---- phase 1: settle at theta_0, then homeostatic knob setting ---- */
    eqs_status st = EQS_OK;
    if (b1 == 0.0)
        memcpy(ep->v1, ep->v0, nv * sizeof *ep->v1);
    else
        st = eqs_eqprop_phase(ep, opt->nudge, b1, ep->v1);
    if (st != EQS_OK) {
        eqs_solver_restore_state(ep->s);
        return st;
    }
    /* theta_0, the phase-1 forces, and for the automatic eps the largest
     * force / theta and the smallest theta (one pass; ternaries, not
     * fmax/fmin: this loop runs over every conductance per sample) */
    double m = 0.0, gmin = INFINITY;
    for (int k = 0; k < np; ++k) {
        double t = eqs_store_value(c->store, k), h = force(c, k, ep->v1);
        th0[k] = t;
        w[k] = h;
        dl[k] = 0.0;
        double r = h / t;
        m = r > m ? r : m;
        gmin = t < gmin ? t : gmin;
    }
    double eps = eps_in;
    if (eps == 0.0) { /* automatic: largest knob offset AEQ_EPS_REL * theta */
        if (!(m > 0)) m = 0.5 * AEQ_EPS_REF_V * AEQ_EPS_REF_V / gmin;
        eps = AEQ_EPS_REL / m;
    }
    for (int k = 0; k < np; ++k) w[k] *= eps; /* u = theta_0 + eps dV_1^2 / 2 */

    /* ---- phase 2: knobs frozen, circuit and parameters relax together ---- */
    int touched = 0, iter = 0;
    double res = INFINITY;
    for (;;) {
        /* (a) the circuit at fixed theta, nudged at beta_2 */
        st = eqs_eqprop_phase(ep, opt->nudge, b2, ep->v2);
        iter++;
        if (st != EQS_OK) {
            char what[160];
            if (iter == 1) /* still at theta_0: the nudged circuit itself fails */
                snprintf(what, sizeof what, "aeqprop: phase 2 (nudge %g S)", b2);
            else
                snprintf(what, sizeof what,
                         "aeqprop: phase 2, circuit solve %d (epsilon %g S/V^2, parameter "
                         "residual %g relative)",
                         iter, eps, res);
            st = rewrap(ctx, st, what);
            goto restore;
        }
        /* (b) every theta to its exact minimiser given the state */
        res = 0.0;
        for (int k = 0; k < np; ++k) {
            double d = w[k] - eps * force(c, k, ep->v2), lo = AEQ_G_FLOOR_S - th0[k];
            d = d > lo ? d : lo;
            double r = fabs(d - dl[k]) / (th0[k] + dl[k]);
            res = r > res ? r : res;
            dl[k] = d;
        }
        if (res <= tol) break; /* joint residual below tolerance: settled */
        if (iter >= max_iter || !(res < AEQ_DIVERGED_REL)) {
            st = EQS_ERROR(ctx, EQS_ERR_NOCONV,
                           "aeqprop: phase 2 did not settle after %d circuit solves: a "
                           "parameter is %g (relative) from its minimiser, tolerance %g; "
                           "epsilon %g S/V^2 is too large for this circuit (use a smaller "
                           "--epsilon, or 0 for the automatic choice)",
                           iter, res, tol, eps);
            goto restore;
        }
        touched = 1;
        st = set_params(c, th0, dl);
        if (st != EQS_OK) goto restore;
    }
    const double scale = -1.0 / (eps * (b2 - b1));
    for (int k = 0; k < np; ++k) grad[k] = scale * dl[k];
    eqs_log(ctx, EQS_LOG_DEBUG, "aeqprop: epsilon %g S/V^2, %d phase-2 solves, residual %g", eps,
            iter, res);

restore:;
    /* theta back to theta_0 (bit-exact) and the solver to the free state */
    eqs_status rs = touched ? set_params(c, th0, NULL) : EQS_OK;
    eqs_status rs2 = eqs_solver_restore_state(ep->s);
    if (st != EQS_OK) return st;
    return rs != EQS_OK ? rs : rs2;
}
