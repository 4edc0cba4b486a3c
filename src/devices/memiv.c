/*
 * memiv.c: the nonlinear I-V of a memristor whose model has aiv = a > 0
 * (memristor.c): I = G sinh(a v)/a.
 *
 * The memristor stays a resistor G (trainable, in Newton's linear part and
 * its change logs); the compiler adds this implicit element in parallel,
 * carrying the rest, G (sinh(a v)/a - v), with conductance
 * G (cosh(a v) - 1).  It reads G from its resistor (ctrl) at every solve
 * (`refresh`), so training needs nothing else from it.  Its EqProp
 * derivative is the co-content's: the energy of the pair is
 * G (cosh(a v) - 1)/a^2, so dE/dG = (cosh(a v) - 1)/a^2 = 2 sinh^2(a v/2)/a^2
 * (eqs_memiv_denergy, used for the resistor's parameter by eqprop/).  At
 * a v -> 0 it is v^2/2, the linear resistor's.
 */
#include "devices.h"

#include <math.h>

/* Newton limiting: a step may move a v by at most this much once |a v|
 * is past EQS_MEMIV_LINEAR (the current grows like e^{|a v|}: an e-fold
 * of ~7 per step, as a junction's limiting). */
#define EQS_MEMIV_STEP 2.0
#define EQS_MEMIV_LINEAR 3.0

double eqs_memiv_denergy(double a, double v)
{
    if (a == 0.0) return 0.5 * v * v;
    const double s = sinh(0.5 * a * v);
    return 2.0 * s * s / (a * a);
}

double eqs_memiv_contrast(double a, double v1, double v2)
{
    if (a == 0.0) return (v2 - v1) * (v2 + v1);
    /* 2 (cosh(a v2) - cosh(a v1))/a^2 = 4 sinh(a (v2+v1)/2) sinh(a (v2-v1)/2)/a^2 */
    return 4.0 * sinh(0.5 * a * (v2 + v1)) * sinh(0.5 * a * (v2 - v1)) / (a * a);
}

double eqs_memiv_didg(double a, double v) { return a == 0.0 ? v : sinh(a * v) / a; }

/* sinh(x)/x - 1 over x... as G (sinh(a v)/a - v), accurate at small a v. */
static double excess(double a, double v)
{
    const double x = a * v;
    if (fabs(x) < 1e-3) /* sinh x - x = x^3/6 + x^5/120 + ... */
        return v * x * x * (1.0 / 6.0 + x * x / 120.0);
    return sinh(x) / a - v;
}

static eqs_status memiv_setup(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e,
                              double reltol, eqs_devparams *p)
{
    (void)ctx;
    (void)reltol;
    p->g_S = eqs_celem_value(c, &c->elems[e->ctrl]);
    p->a_per_V = e->value;
    return EQS_OK;
}

static void memiv_eval(const eqs_devparams *p, double v, double gmin, double *i, double *g)
{
    (void)gmin;
    const double a = p->a_per_V, x = a * v;
    *i = p->g_S * excess(a, v);
    *g = p->g_S * (fabs(x) < 1e-3 ? x * x * (0.5 + x * x / 24.0) : cosh(x) - 1.0);
}

static double memiv_limit(const eqs_devparams *p, double vnew, double vold, int *limited)
{
    const double a = p->a_per_V, d = a * (vnew - vold);
    if (fabs(a * vnew) > EQS_MEMIV_LINEAR && fabs(d) > EQS_MEMIV_STEP) {
        *limited = 1;
        return vold + copysign(EQS_MEMIV_STEP, d) / a;
    }
    return vnew;
}

static double memiv_v_init(const eqs_devparams *p)
{
    (void)p;
    return 0.0;
}

static eqs_status memiv_current(const eqs_devsolution *sol, const eqs_celem *e,
                                eqs_devcurrent *out)
{
    const int a = e->n[0], b = e->n[1];
    out->a = a;
    out->b = b;
    out->i0 = eqs_celem_value(sol->c, &sol->c->elems[e->ctrl]) * excess(e->value, sol->v[a] - sol->v[b]);
    out->gain = 0;
    return EQS_OK;
}

static eqs_status memiv_check(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                              int *n_internal)
{
    (void)nl;
    (void)n_internal;
    return EQS_ERROR_AT(ctx, EQS_ERR_INTERNAL, el->loc, "memristor I-V element in a netlist");
}

const eqs_device eqs_device_memiv = {
    .kind = EQS_EL_MEMIV,
    .name = "memristor I-V",
    .letter = '\0',
    .flags = EQS_DEV_RECIPROCAL,
    .nonlinear = 1,
    .check = memiv_check,
    .slots = eqs_device_slots_conductance,
    .input = EQS_INPUT_NONE,
    .current = memiv_current,
    .setup = memiv_setup,
    .eval = memiv_eval,
    .limit = memiv_limit,
    .v_init = memiv_v_init,
    .refresh = 1,
};
