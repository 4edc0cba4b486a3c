/*
 * ncep.c: EqProp for non-reciprocal circuits (--method ncep;
 * Scurria, Vanden Abeele, Mognetti, Massar 2026, arXiv 2602.03670).
 *
 * Unknowns s: the whole MNA vector (free node voltages AND branch
 * currents of V / E / H and of the sources controlling F / H).  Newton's
 * residual F(s) is "currents leaving each node" (branch rows: the branch
 * equation), J = dF/ds; the conductance nudge makes the nudged state solve
 *     F(s) + beta dC/ds = 0                       (docs/eqprop.md §2).
 * Linearised at the free state s0: J0 ds = -beta dC/ds, so plain EqProp
 * measures the response through J0^-1, while the exact gradient needs
 * lambda with J0^T lambda = dC/ds (dL/dG = -lambda^T dF/dG, adjoint.c).
 * For a non-reciprocal circuit J0 != J0^T and EqProp is biased.
 *
 * Correction: in the nudged phases solve instead
 *     F(s) - (J0 - J0^T)(s - s0) + beta dC/ds = 0,
 * i.e. the dynamics ds/dt = -F gain +(J0 - J0^T)(s - s0) = +2A (s - s0)
 * in residual form, "-2A (s - s0)" of the paper with its sign convention
 * ds/dt = +f (f = -F).  At s0 the added term vanishes (the free state
 * still solves it at beta = 0), and the Jacobian becomes
 *     J0 - (J0 - J0^T) = J0^T,
 * so ds = -beta J0^-T dC/ds = -beta lambda + O(beta^2): the nudged states
 * move along the adjoint.  A resistor G from a to b has dF/dG = dV e_a -
 * dV e_b, so dL/dG = -(lambda_a - lambda_b) dV0, and with V(+-beta) =
 * V0 -+ beta lambda the usual centered formula
 *     [dV(beta)^2 - dV(-beta)^2] / (4 beta) = -dV0 (lambda_a - lambda_b)
 * gives it to O(beta^2): the local update is unchanged
 * (eqs_eqprop_estimate, the same code as --method centered).
 *
 * J0 is taken from the Jacobian at s0 (linear part + exact diode
 * conductances, as the adjoint assembles it), so the method is general;
 * A = (J0 - J0^T)/2 is 0 for reciprocal circuits (CHOLMOD stores one
 * triangle: nothing to add), which is then said at info level and the
 * estimate is exactly centered EqProp.  Only the Newton backend can add
 * the term (EQS_ERR_UNSUPPORTED on ngspice).
 */
#include "eqprop.h"

eqs_status eqs_eqprop_ncep(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad)
{
    double beta;
    eqs_status st = eqs_eqprop_nudge_check(ep, opt, &beta);
    if (st != EQS_OK) return st;
    /* the correction is built at the free state s0 (the solver may sit at
     * a nudged state after an earlier call: go back first) */
    st = eqs_solver_restore_state(ep->s);
    double a_max = 0.0;
    if (st == EQS_OK) st = eqs_solver_ncep_capture(ep->s, &a_max);
    if (st != EQS_OK) return st;
    if (a_max == 0.0) {
        if (!ep->ncep_said_zero)
            eqs_log(ep->ctx, EQS_LOG_INFO, "ncep: circuit is reciprocal, the correction is zero");
        ep->ncep_said_zero = 1;
        return eqs_eqprop_estimate(ep, opt->nudge, -beta, beta, grad);
    }
    eqs_log(ep->ctx, EQS_LOG_DEBUG, "ncep: max |A_ij| = %.3g (antisymmetric part of J0)", a_max);
    st = eqs_solver_ncep_enable(ep->s, 1);
    if (st == EQS_OK) st = eqs_eqprop_estimate(ep, opt->nudge, -beta, beta, grad);
    eqs_solver_ncep_enable(ep->s, 0);
    return st;
}
