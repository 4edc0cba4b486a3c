/*
 * grad.c: gradient options and the estimators.
 *
 * EqProp: for phases beta_1 < beta_2 and a conductance G with branch
 * voltage dV, dE/dG = dV^2 / 2, so
 *     dL/dG ~ [dV(beta_2)^2 - dV(beta_1)^2] / (2 (beta_2 - beta_1)),
 * computed as (dV2 - dV1)(dV2 + dV1) / (2 (beta_2 - beta_1)) to avoid
 * cancelling two nearly equal squares.  One-sided (0, beta) and
 * (-beta, 0) have an O(beta) bias, centered (-beta, beta) an O(beta^2)
 * one.  Each device needs only the voltage across itself.
 */
#include "eqprop.h"

#include "../devices/devices.h"

#include <math.h>

void eqs_grad_options_defaults(eqs_grad_options *opt)
{
    opt->method = EQS_GRAD_CENTERED;
    opt->beta_S = 0.0;
    opt->nudge = EQS_NUDGE_CONDUCTANCE;
    opt->epsilon_S_per_V2 = 0.0;
    opt->aeq_phases = EQS_AEQ_CENTERED;
    opt->aeq_reltol = EQS_AEQ_RELTOL_DEFAULT;
    opt->aeq_max_iter = EQS_AEQ_MAX_ITER_DEFAULT;
}

int eqs_grad_method_from_name(const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "adjoint")) return EQS_GRAD_ADJOINT;
    if (eqs_str_ieq(name, "eqprop") || eqs_str_ieq(name, "positive")) return EQS_GRAD_EQPROP;
    if (eqs_str_ieq(name, "negative")) return EQS_GRAD_NEGATIVE;
    if (eqs_str_ieq(name, "centered")) return EQS_GRAD_CENTERED;
    if (eqs_str_ieq(name, "aeqprop")) return EQS_GRAD_AEQPROP;
    if (eqs_str_ieq(name, "ncep")) return EQS_GRAD_NCEP;
    return -1;
}

const char *eqs_grad_method_name(eqs_grad_method m)
{
    switch (m) {
    case EQS_GRAD_ADJOINT: return "adjoint";
    case EQS_GRAD_EQPROP: return "positive"; /* "eqprop" is accepted as a synonym */
    case EQS_GRAD_NEGATIVE: return "negative";
    case EQS_GRAD_CENTERED: return "centered";
    case EQS_GRAD_AEQPROP: return "aeqprop";
    case EQS_GRAD_NCEP: return "ncep";
    }
    return "unknown";
}

int eqs_nudge_kind_from_name(const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "conductance")) return EQS_NUDGE_CONDUCTANCE;
    if (eqs_str_ieq(name, "current")) return EQS_NUDGE_CURRENT;
    return -1;
}

int eqs_aeq_phases_from_name(const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "centered")) return EQS_AEQ_CENTERED;
    if (eqs_str_ieq(name, "optimistic")) return EQS_AEQ_OPTIMISTIC;
    if (eqs_str_ieq(name, "pessimistic")) return EQS_AEQ_PESSIMISTIC;
    return -1;
}

const char *eqs_aeq_phases_name(eqs_aeq_phases p)
{
    switch (p) {
    case EQS_AEQ_CENTERED: return "centered";
    case EQS_AEQ_OPTIMISTIC: return "optimistic";
    case EQS_AEQ_PESSIMISTIC: return "pessimistic";
    }
    return "unknown";
}

const char *eqs_nudge_kind_name(eqs_nudge_kind k)
{
    switch (k) {
    case EQS_NUDGE_CONDUCTANCE: return "conductance";
    case EQS_NUDGE_CURRENT: return "current";
    }
    return "unknown";
}

eqs_status eqs_eqprop_gradient(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad)
{
    eqs_grad_options dflt;
    if (!opt) {
        eqs_grad_options_defaults(&dflt);
        opt = &dflt;
    }
    if (!ep->has_free)
        return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "eqprop: solve the free phase first");
    if (opt->method == EQS_GRAD_ADJOINT) return eqs_eqprop_adjoint(ep, grad);
    if (opt->method == EQS_GRAD_AEQPROP) return eqs_eqprop_aeqprop(ep, opt, grad);
    if (opt->method == EQS_GRAD_NCEP) return eqs_eqprop_ncep(ep, opt, grad);

    double beta;
    eqs_status bst = eqs_eqprop_nudge_check(ep, opt, &beta);
    if (bst != EQS_OK) return bst;
    double b1, b2;
    if (!eqs_eqprop_phase_pair(opt->method, beta, &b1, &b2))
        return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "unknown gradient method %d", (int)opt->method);
    return eqs_eqprop_estimate(ep, opt->nudge, b1, b2, grad);
}

eqs_status eqs_eqprop_nudge_check(eqs_eqprop *ep, const eqs_grad_options *opt, double *beta)
{
    *beta = opt->beta_S == 0.0 ? ep->beta_default : opt->beta_S;
    if (!(*beta > 0) || !isfinite(*beta))
        return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "beta must be positive and finite (got %g S)",
                         *beta);
    if (opt->nudge != EQS_NUDGE_CONDUCTANCE && opt->nudge != EQS_NUDGE_CURRENT)
        return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "unknown nudge kind %d", (int)opt->nudge);
    return EQS_OK;
}

eqs_status eqs_eqprop_estimate(eqs_eqprop *ep, eqs_nudge_kind nudge, double b1, double b2,
                               double *grad)
{
    const size_t nv = (size_t)ep->c->n_user_nodes;
    eqs_status st = EQS_OK;
    if (b1 == 0.0) {
        for (size_t i = 0; i < nv; ++i) ep->v1[i] = ep->v0[i];
    } else {
        st = eqs_eqprop_phase(ep, nudge, b1, ep->v1);
    }
    if (st == EQS_OK) {
        if (b2 == 0.0) {
            for (size_t i = 0; i < nv; ++i) ep->v2[i] = ep->v0[i];
        } else {
            st = eqs_eqprop_phase(ep, nudge, b2, ep->v2);
        }
    }
    /* leave the solver at the free state for the next warm start */
    eqs_status rs = eqs_solver_restore_state(ep->s);
    if (st != EQS_OK) return st;
    if (rs != EQS_OK) return rs;

    const eqs_circuit *c = ep->c;
    const double inv = eqs_eqprop_contrast_coef(b1, b2, 1.0);
    for (int k = 0; k < c->n_params; ++k) {
        const eqs_celem *e = &c->elems[c->params[k]];
        int a = e->n[0], b = e->n[1];
        double d1 = ep->v1[a] - ep->v1[b], d2 = ep->v2[a] - ep->v2[b];
        grad[k] = (c->param_aiv && c->param_aiv[k] != 0.0
                       ? eqs_memiv_contrast(c->param_aiv[k], d1, d2)
                       : eqs_device_get(e->kind)->energy_contrast(d1, d2)) *
                  inv;
    }
    return EQS_OK;
}
