/* resistor.c: linear resistor, i = G v (G = 1/R, may be negative). */
#include "devices.h"

static eqs_status res_setup(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e,
                            double reltol, eqs_devparams *p)
{
    (void)ctx;
    (void)c;
    (void)reltol;
    p->g_S = e->value;
    return EQS_OK;
}

/* i = G v (A), g = G (S); gmin is not added (no junction). */
static void res_eval(const eqs_devparams *p, double v, double gmin, double *i, double *g)
{
    (void)gmin;
    *i = p->g_S * v;
    *g = p->g_S;
}

const eqs_device eqs_device_resistor = {
    .kind = EQS_EL_R,
    .name = "resistor",
    .letter = 'r',
    .nonlinear = 0,
    .setup = res_setup,
    .eval = res_eval,
    .limit = NULL,
};
