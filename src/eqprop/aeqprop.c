/*
 * aeqprop.c: Agnostic EqProp (issue 5); not implemented yet.
 */
#include "eqprop.h"

eqs_status eqs_eqprop_aeqprop(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad)
{
    (void)opt;
    (void)grad;
    return EQS_ERROR(ep->ctx, EQS_ERR_UNSUPPORTED, "gradient method 'aeqprop' is not implemented yet");
}
