/* loss.c: the output loss C = 1/2 sum_k (V_k - y_k)^2 and its gradient;
 * V_k = V_pos - V_neg for differential pairs (out_neg = 0 single-ended,
 * V[0] = 0), so dC/dV_pos = V_k - y_k and dC/dV_neg = -(V_k - y_k). */
#include "eqprop.h"

#include <string.h>

double eqs_eqprop_loss(const eqs_eqprop *ep, const double *v)
{
    double c = 0.0;
    for (int k = 0; k < ep->n_out; ++k) {
        double d = v[ep->out_node[k]] - v[ep->out_neg[k]] - ep->y[k];
        c += 0.5 * d * d;
    }
    return c;
}

void eqs_eqprop_loss_grad(const eqs_eqprop *ep, const double *v, double *dcdv)
{
    memset(dcdv, 0, (size_t)ep->c->n_user_nodes * sizeof *dcdv);
    for (int k = 0; k < ep->n_out; ++k) {
        double d = v[ep->out_node[k]] - v[ep->out_neg[k]] - ep->y[k];
        dcdv[ep->out_node[k]] += d;
        if (ep->out_neg[k] > 0) dcdv[ep->out_neg[k]] -= d;
    }
}
