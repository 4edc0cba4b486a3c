/*
 * adjoint.c: the exact gradient by implicit differentiation.
 *
 * At the free equilibrium F(V, G) = 0 (F: currents leaving each free
 * node), dV/dG = -J^{-1} dF/dG with J = dF/dV.  Hence
 *     dL/dG = (dC/dV)^T dV/dG = -lambda^T dF/dG,   J^T lambda = dC/dV.
 * A resistor G between a and b adds G (V_a - V_b) to F_a and its negative
 * to F_b, so dL/dG = -(lambda_a - lambda_b)(V_a - V_b), with lambda = 0 on
 * ground and on nodes held by sources.  A memristor with I = G sinh(a v)/a
 * (memiv.c) has dF/dG = sinh(a v)/a instead.  J^T (not J) because MNA circuits
 * (KLU) are non-symmetric.
 */
#include "eqprop.h"

#include "../devices/devices.h"

eqs_status eqs_eqprop_adjoint(eqs_eqprop *ep, double *grad)
{
    const eqs_circuit *c = ep->c;
    eqs_eqprop_loss_grad(ep, ep->v0, ep->dcdv);
    eqs_status st = eqs_solver_adjoint(ep->s, ep->dcdv, ep->lambda);
    if (st != EQS_OK) return st;
    const double *v = ep->v0, *l = ep->lambda;
    for (int k = 0; k < c->n_params; ++k) {
        const eqs_celem *e = &c->elems[c->params[k]];
        int a = e->n[0], b = e->n[1];
        /* dF/dG: V_a - V_b, or sinh(a v)/a for a nonlinear I-V memristor */
        const double dv = v[a] - v[b];
        grad[k] = -(l[a] - l[b]) *
                  (c->param_aiv && c->param_aiv[k] != 0.0 ? eqs_memiv_didg(c->param_aiv[k], dv) : dv);
    }
    return EQS_OK;
}
