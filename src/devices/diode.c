/*
 * diode.c: junction diode, ngspice 39 level-1 DC model.
 *
 * Follows ngspice-39.3 exactly for the parameters the netlist carries
 * (IS, N, RS, BV, IBV, TNOM, area) with every other model parameter at its
 * ngspice default (diosetup.c): no sidewall current (ISW = 0), no
 * recombination / tunnel currents, no knee currents, EG = 1.11 eV,
 * XTI = 3, NBV = N, TCV = 0, level 1, multiplier m = 1.
 *   - temperature update: src/spicelib/devices/dio/diotemp.c
 *     (DIOtempUpdate: DIOtSatCur, DIOtVcrit, DIOtBrkdwnV);
 *   - currents and conductances: src/spicelib/devices/dio/dioload.c;
 *   - junction limiting: DEVpnjlim in src/spicelib/devices/devsup.c.
 * The series resistance RS is not handled here: the circuit compiler adds
 * it as an implicit resistor of conductance area/RS (ngspice:
 * DIOtConductance = DIOconductance * DIOarea).
 */
#include "devices.h"

#include <math.h>

double eqs_thermal_voltage(double temp_K)
{
    /* ngspice: CONSTKoverQ = CONSTboltz / CHARGE (a double computed
     * first), then vt = CONSTKoverQ * Temp. */
    volatile double koverq = EQS_CONST_BOLTZ / EQS_CONST_CHARGE;
    return koverq * temp_K;
}

double eqs_pnjlim(double vnew, double vold, double vt, double vcrit, int *icheck)
{
    double arg;
    if (vnew > vcrit && fabs(vnew - vold) > vt + vt) {
        if (vold > 0) {
            arg = (vnew - vold) / vt;
            if (arg > 0)
                vnew = vold + vt * (2 + log(arg - 2));
            else
                vnew = vold - vt * (2 + log(2 - arg));
        } else {
            vnew = vt * log(vnew / vt);
        }
        *icheck = 1;
    } else {
        if (vnew < 0) {
            arg = vold > 0 ? -1 * vold - 1 : 2 * vold - 1;
            if (vnew < arg) {
                vnew = arg;
                *icheck = 1;
            } else {
                *icheck = 0;
            }
        } else {
            *icheck = 0;
        }
    }
    return vnew;
}

/* DIOtempUpdate (diotemp.c) for TEMP = 27 C, with TNOM from the model. */
static eqs_status dio_setup(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e,
                            double reltol, eqs_devparams *p)
{
    (void)c;
    const eqs_diode_model *m = e->model;
    const double temp = EQS_DEFAULT_TEMP_K;
    const double tnom = m->tnom_C + EQS_CONST_CTOK;
    const double nbv = m->n; /* NBV defaults to N */
    double is = m->is_A;
    if (is < EQS_DIODE_IS_MIN) is = EQS_DIODE_IS_MIN; /* diosetup.c */

    double vt = eqs_thermal_voltage(temp);
    double vte = m->n * vt;
    double arg1 = ((temp / tnom) - 1) * EQS_DIODE_EG_EV / vte;
    double arg2 = EQS_DIODE_XTI / m->n * log(temp / tnom);
    double tsat = is * e->area * exp(arg1 + arg2);

    p->g_S = 0;
    p->is_A = tsat;
    p->vt_V = vt;
    p->vte_V = vte;
    p->vtebrk_V = nbv * vt;
    p->vcrit_V = vte * log(vte / (EQS_CONST_SQRT2 * tsat));
    p->has_bv = m->has_bv;
    p->bv_V = 0;
    if (m->has_bv) {
        double tbv = m->bv_V; /* TCV = 0: no temperature shift */
        double cbv = m->ibv_A; /* level 1: DIOm * IBV, not scaled by area */
        double xbv;
        if (cbv < tsat * tbv / vt) {
            xbv = tbv; /* ngspice warns here only when built with TRACE */
        } else {
            double tol = reltol * cbv, xcbv = 0;
            int iter, matched = 0;
            xbv = tbv - nbv * vt * log(1 + cbv / tsat);
            for (iter = 0; iter < EQS_DIODE_BV_MAXITER; iter++) {
                xbv = tbv - nbv * vt * log(cbv / tsat + 1 - xbv / vt);
                xcbv = tsat * (exp((tbv - xbv) / (nbv * vt)) - 1 + xbv / vt);
                if (fabs(xcbv - cbv) <= tol) {
                    matched = 1;
                    break;
                }
            }
            if (!matched)
                eqs_log(ctx, EQS_LOG_DEBUG,
                        "diode: unable to match forward and reverse regions: bv = %g, ibv = %g",
                        xbv, xcbv);
        }
        p->bv_V = xbv;
    }
    return EQS_OK;
}

/* dioload.c, DC part: bottom current in three regions plus gmin. */
static void dio_eval(const eqs_devparams *p, double vd, double gmin, double *i, double *g)
{
    const double csat = p->is_A, vte = p->vte_V;
    double cd, gd;
    if (vd >= -3 * vte) { /* forward */
        double evd = exp(vd / vte);
        cd = csat * (evd - 1);
        gd = csat * evd / vte;
    } else if (!p->has_bv || vd >= -p->bv_V) { /* reverse */
        double arg = 3 * vte / (vd * EQS_CONST_E);
        arg = arg * arg * arg;
        cd = -csat * (1 + arg);
        gd = csat * 3 * arg / vd;
    } else { /* breakdown */
        double evrev = exp(-(p->bv_V + vd) / p->vtebrk_V);
        cd = -csat * evrev;
        gd = csat * evrev / p->vtebrk_V;
    }
    *g = gd + gmin;
    *i = cd + gmin * vd;
}

/* dioload.c: breakdown-side limiting below min(0, -BV + 10 NBV vt),
 * DEVpnjlim on the forward side. */
static double dio_limit(const eqs_devparams *p, double vd, double vold, int *limited)
{
    int check = 0;
    double knee = -p->bv_V + 10 * p->vtebrk_V;
    if (p->has_bv && vd < (knee < 0 ? knee : 0)) {
        double vdtemp = -(vd + p->bv_V);
        vdtemp = eqs_pnjlim(vdtemp, -(vold + p->bv_V), p->vtebrk_V, p->vcrit_V, &check);
        vd = -(vdtemp + p->bv_V);
    } else {
        vd = eqs_pnjlim(vd, vold, p->vte_V, p->vcrit_V, &check);
    }
    *limited = check;
    return vd;
}

const eqs_device eqs_device_diode = {
    .kind = EQS_EL_D,
    .name = "diode",
    .letter = 'd',
    .nonlinear = 1,
    .setup = dio_setup,
    .eval = dio_eval,
    .limit = dio_limit,
};
