/*
 * diode.c: junction diode, ngspice 39 level-1 DC model.
 *
 * Follows ngspice-39.3 exactly for the parameters the netlist carries
 * (IS, N, RS, BV, IBV, TNOM, EG, XTI, NBV, TCV, TLEV, TRS1, TRS2, area,
 * instance temp= / dtemp=, circuit .temp / .options temp= tnom=) with every
 * other model parameter at its ngspice default (diosetup.c): no sidewall
 * current (ISW = 0), no recombination / tunnel currents, no knee currents,
 * level 1, multiplier m = 1.
 *   - temperature update: src/spicelib/devices/dio/diotemp.c
 *     (DIOtempUpdate: DIOtSatCur, DIOtVcrit, DIOtBrkdwnV);
 *   - currents and conductances: src/spicelib/devices/dio/dioload.c;
 *   - junction limiting: DEVpnjlim in src/spicelib/devices/devsup.c.
 * The series resistance RS is not stamped here: dio_expand adds it to the
 * compiled circuit as an implicit resistor of conductance
 * eqs_diode_rs_conductance (ngspice: DIOtConductance = DIOconductance *
 * DIOarea / (1 + TRS1 dT + TRS2 dT^2)).
 */
#include "devices.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

/* Model parameter with ngspice's default when not given. */
static double dio_par(const eqs_diode_model *m, unsigned bit, double value, double dflt)
{
    return (m->given & bit) ? value : dflt;
}

/* Instance and nominal temperature (K) as ngspice 39 sets them: DIOtemp
 * (diotemp.c: temp= given wins, else CKTtemp + dtemp) and diosetup.c (TNOM
 * not given: CKTnomTemp).  nl, el may be NULL (27 C, no instance values). */
static void dio_temps(const eqs_netlist *nl, const eqs_element *el, const eqs_diode_model *m,
                      double *temp_K, double *tnom_K)
{
    const eqs_netlist_options *o = nl ? &nl->options : NULL;
    if (el && el->temp_given) {
        *temp_K = el->temp_C + EQS_CONST_CTOK;
    } else {
        double t = (o && o->temp_set) ? o->temp_C + EQS_CONST_CTOK : EQS_DEFAULT_TEMP_K;
        *temp_K = t + ((el && el->dtemp_given) ? el->dtemp_C : 0.0);
    }
    if (!m->tnom_default) *tnom_K = m->tnom_C + EQS_CONST_CTOK;
    else *tnom_K = (o && o->tnom_set) ? o->tnom_C + EQS_CONST_CTOK : EQS_DEFAULT_TEMP_K;
}

/* diotemp.c: RS temperature factor 1 + TRS1 dT + TRS2 dT^2. */
static double dio_rs_factor(const eqs_diode_model *m, double dt)
{
    return 1.0 + dio_par(m, EQS_DIO_GIVEN_TRS1, m->trs1_per_K, 0.0) * dt +
           (dio_par(m, EQS_DIO_GIVEN_TRS2, m->trs2_per_K2, 0.0) * dt * dt);
}

/* diotemp.c: breakdown voltage at dT = T - TNOM before the IBV match. */
static double dio_tbv(const eqs_diode_model *m, double dt)
{
    double tcv = dio_par(m, EQS_DIO_GIVEN_TCV, m->tcv, 0.0);
    int tlev = (m->given & EQS_DIO_GIVEN_TLEV) ? m->tlev : 0;
    return tlev == 0 ? m->bv_V - tcv * dt : m->bv_V * (1 - tcv * dt);
}

eqs_status eqs_diode_check(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el)
{
    const eqs_diode_model *m = &nl->models[el->model];
    double temp, tnom;
    dio_temps(nl, el, m, &temp, &tnom);
    if (!(temp > 0) || !isfinite(temp))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s': temperature %g C (temp + dtemp) is not above absolute "
                            "zero",
                            el->name, temp - EQS_CONST_CTOK);
    const double vals[] = {m->eg_eV, m->xti, m->nbv, m->tcv, m->trs1_per_K, m->trs2_per_K2};
    static const unsigned bits[] = {EQS_DIO_GIVEN_EG,  EQS_DIO_GIVEN_XTI,  EQS_DIO_GIVEN_NBV,
                                    EQS_DIO_GIVEN_TCV, EQS_DIO_GIVEN_TRS1, EQS_DIO_GIVEN_TRS2};
    for (size_t k = 0; k < sizeof vals / sizeof *vals; ++k)
        if ((m->given & bits[k]) && !isfinite(vals[k]))
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                                "diode '%s': model '%s' has a non-finite temperature parameter",
                                el->name, m->name);
    if ((m->given & EQS_DIO_GIVEN_NBV) && !(m->nbv > 0))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s': model '%s' needs NBV > 0, got %g", el->name, m->name,
                            m->nbv);
    double dt = temp - tnom;
    if (m->rs_Ohm > 0 && !(dio_rs_factor(m, dt) > 0))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s': RS (1 + TRS1 dT + TRS2 dT^2) of model '%s' is not "
                            "positive at %g C (dT = %g K)",
                            el->name, m->name, temp - EQS_CONST_CTOK, dt);
    if (m->has_bv && !(dio_tbv(m, dt) > 0))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s': breakdown voltage of model '%s' is %g V at %g C "
                            "(TCV), not positive",
                            el->name, m->name, dio_tbv(m, dt), temp - EQS_CONST_CTOK);
    return EQS_OK;
}

double eqs_diode_rs_conductance(const eqs_netlist *nl, const eqs_element *el)
{
    const eqs_diode_model *m = &nl->models[el->model];
    double temp, tnom;
    dio_temps(nl, el, m, &temp, &tnom);
    /* diotemp.c: DIOtConductance = DIOconductance * DIOarea / factor, with
     * DIOconductance = 1 / RS (diosetup.c) and DIOarea = area * m (m = 1) */
    double g = 1 / m->rs_Ohm;
    return g * el->area / dio_rs_factor(m, temp - tnom);
}

/* DIOtempUpdate (diotemp.c), DC part, at the instance temperature. */
static eqs_status dio_setup(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e,
                            double reltol, eqs_devparams *p)
{
    const eqs_diode_model *m = e->model;
    const eqs_netlist *nl = c ? c->nl : NULL;
    const eqs_element *el =
        (nl && e->origin >= 0 && e->origin < nl->n_elems) ? &nl->elems[e->origin] : NULL;
    double temp, tnom;
    dio_temps(nl, el, m, &temp, &tnom);
    const double eg = dio_par(m, EQS_DIO_GIVEN_EG, m->eg_eV, EQS_DIODE_EG_EV);
    const double xti = dio_par(m, EQS_DIO_GIVEN_XTI, m->xti, EQS_DIODE_XTI);
    const double nbv = dio_par(m, EQS_DIO_GIVEN_NBV, m->nbv, m->n); /* NBV defaults to N */
    double is = m->is_A;
    if (is < EQS_DIODE_IS_MIN) is = EQS_DIODE_IS_MIN; /* diosetup.c */

    double vt = eqs_thermal_voltage(temp);
    double vte = m->n * vt;
    double dt = temp - tnom;
    double arg1 = ((temp / tnom) - 1) * eg / vte;
    double arg2 = xti / m->n * log(temp / tnom);
    double tsat = is * e->area * exp(arg1 + arg2);

    p->g_S = 0;
    p->temp_K = temp;
    p->is_A = tsat;
    p->vt_V = vt;
    p->vte_V = vte;
    p->vtebrk_V = nbv * vt;
    p->vcrit_V = vte * log(vte / (EQS_CONST_SQRT2 * tsat));
    p->has_bv = m->has_bv;
    p->bv_V = 0;
    if (m->has_bv) {
        double tbv = dio_tbv(m, dt);
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

/* `d<name> a k model area=A [temp=T] [dtemp=dT]`; -1 without a model. */
static int dio_card(const eqs_devcard *w, char *buf, size_t size)
{
    const eqs_element *e = w->e;
    if (e->model < 0 || e->model >= w->nl->n_models) return -1;
    double area = w->ce ? w->ce->area : e->area;
    char temps[96] = "";
    int k = 0;
    if (e->temp_given) k = snprintf(temps, sizeof temps, " temp=%.17g", e->temp_C);
    if (e->dtemp_given) snprintf(temps + k, sizeof temps - (size_t)k, " dtemp=%.17g", e->dtemp_C);
    return snprintf(buf, size, "%s %s %s %s area=%.17g%s", w->name, w->node[0], w->node[1],
                    w->nl->models[e->model].name, area, temps);
}

static int dio_model_of(const eqs_element *e) { return e->model; }

/* The temperature parameters a diode model gave (EG XTI NBV TCV TLEV TRS1
 * TRS2, ngspice names), " key=value" each, into buf. */
static void model_temp_params(const eqs_diode_model *md, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *key;
    } keys[] = {
        {EQS_DIO_GIVEN_EG, "eg"},   {EQS_DIO_GIVEN_XTI, "xti"},   {EQS_DIO_GIVEN_NBV, "nbv"},
        {EQS_DIO_GIVEN_TCV, "tcv"}, {EQS_DIO_GIVEN_TLEV, "tlev"}, {EQS_DIO_GIVEN_TRS1, "trs"},
        {EQS_DIO_GIVEN_TRS2, "trs2"},
    };
    const double vals[] = {md->eg_eV, md->xti,         md->nbv,         md->tcv,
                           md->tlev,  md->trs1_per_K, md->trs2_per_K2};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k) {
        if (!(md->given & keys[k].bit) || len >= size) continue;
        int w = snprintf(buf + len, size - len, " %s=%.17g", keys[k].key, vals[k]);
        if (w > 0) len += (size_t)w;
    }
}

/* `.model <name> D(is= n= rs= [bv=] ibv= [tnom=] [eg= xti= nbv= tcv= tlev=
 * trs= trs2=, those the model gave])` */
static int dio_model_card(const eqs_netlist *nl, int m, char *buf, size_t size)
{
    const eqs_diode_model *md = &nl->models[m];
    char bv[96] = "", tnom[48] = "", tpar[320] = "";
    if (md->has_bv) snprintf(bv, sizeof bv, " bv=%.17g", md->bv_V);
    /* TNOM when the model gave it (else ngspice takes .options tnom as
     * eqspice does); 27 C is the default unless .options tnom moved it */
    if (!md->tnom_default && (md->tnom_C != 27.0 || nl->options.tnom_set))
        snprintf(tnom, sizeof tnom, " tnom=%.17g", md->tnom_C);
    model_temp_params(md, tpar, sizeof tpar);
    return snprintf(buf, size, ".model %s D(is=%.17g n=%.17g rs=%.17g%s ibv=%.17g%s%s)", md->name,
                    md->is_A, md->n, md->rs_Ohm, bv, md->ibv_A, tnom, tpar);
}

/* A model, a positive finite area, valid model parameters (then the
 * temperature checks of eqs_diode_check); RS > 0 needs an internal node. */
static eqs_status dio_check(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                            int *n_internal)
{
    if (el->model < 0 || el->model >= nl->n_models)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc, "diode '%s' has no model", el->name);
    if (!(el->area > 0) || !isfinite(el->area))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s' has a non-positive or non-finite area", el->name);
    const eqs_diode_model *m = &nl->models[el->model];
    if (!(m->is_A > 0) || !(m->n > 0) || !(m->rs_Ohm >= 0) || !isfinite(m->is_A) ||
        !isfinite(m->n) || !isfinite(m->rs_Ohm) ||
        (m->has_bv && (!(m->bv_V > 0) || !(m->ibv_A > 0))))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "diode '%s': model '%s' has invalid parameters", el->name, m->name);
    eqs_status st = eqs_diode_check(ctx, nl, el);
    if (st != EQS_OK) return st;
    if (m->rs_Ohm > 0) ++*n_internal;
    return EQS_OK;
}

/* The model and area; RS > 0: the internal node "<name>#internal" (named
 * in messages as the anode) and the implicit resistor of conductance
 * eqs_diode_rs_conductance from the anode to it, the junction then
 * running from the internal node to the cathode. */
static eqs_status dio_expand(eqs_circuit *c, const eqs_element *el, eqs_celem *ce,
                             int *next_node, int *next_elem)
{
    const eqs_netlist *nl = c->nl;
    ce->model = &nl->models[el->model];
    ce->area = el->area;
    if (!(ce->model->rs_Ohm > 0)) return EQS_OK;
    size_t len = strlen(el->name) + sizeof "#internal";
    char *nm = eqs_malloc(c->ctx, len);
    if (!nm) return EQS_ERR_NOMEM;
    snprintf(nm, len, "%s#internal", el->name);
    const int node = (*next_node)++;
    c->node_names[node] = nm;
    c->node_user[node] = el->node[0];
    eqs_celem *rs = &c->elems[(*next_elem)++];
    rs->kind = EQS_EL_R;
    rs->origin = -1;
    rs->n[0] = el->node[0];
    rs->n[1] = node;
    rs->n[2] = rs->n[3] = -1;
    rs->ctrl = -1;
    rs->branch = -1;
    rs->param = -1;
    rs->value = eqs_diode_rs_conductance(nl, el); /* RS(T) / area */
    ce->n[0] = node;
    return EQS_OK;
}

/* Junction current (A) of a diode (parameters p) when the voltage across
 * diode plus series conductance g_rs (S, 0: no RS) is vd.  Solves
 * i(vj) = g_rs (vd - vj) for vj between 0 and vd by safeguarded Newton
 * (the left side increases with vj, the right side decreases). */
static double dio_series_current(const eqs_devparams *p, double vd, double g_rs, double gmin)
{
    double i, g;
    if (g_rs <= 0) {
        dio_eval(p, vd, gmin, &i, &g);
        return i;
    }
    double lo = vd < 0 ? vd : 0, hi = vd < 0 ? 0 : vd, vj = 0.5 * (lo + hi);
    for (int it = 0; it < 200; ++it) {
        dio_eval(p, vj, gmin, &i, &g);
        double f = i - g_rs * (vd - vj);
        if (f > 0) hi = vj;
        else lo = vj;
        double next = vj - f / (g + g_rs);
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (next == vj || hi - lo <= 4 * 2.2e-16 * fmax(fabs(lo), fabs(hi))) {
            vj = next;
            break;
        }
        vj = next;
    }
    return g_rs * (vd - vj); /* the current through RS: accurate where i(vj) is steep */
}

/* The current from the anode (the user node, through RS when the diode
 * has one: its internal node is not part of the solution) to the cathode,
 * with the device equations of the solvers. */
static eqs_status dio_current(const eqs_devsolution *sol, const eqs_celem *e,
                              eqs_devcurrent *out)
{
    const eqs_circuit *c = sol->c;
    eqs_devparams p;
    eqs_status st = dio_setup(sol->ctx, c, e, sol->reltol, &p);
    if (st != EQS_OK) return st;
    int a = e->n[0], b = e->n[1];
    double gs = 0;
    if (a >= c->n_user_nodes) { /* internal node: the anode is its user node */
        gs = eqs_diode_rs_conductance(c->nl, &c->nl->elems[e->origin]);
        a = c->node_user[a];
    }
    out->a = a;
    out->b = b;
    out->i0 = dio_series_current(&p, sol->v[a] - sol->v[b], gs, sol->gmin);
    out->gain = 0;
    return EQS_OK;
}

/* MODEINITJCT (dioload.c): the junction starts at vcrit. */
static double dio_v_init(const eqs_devparams *p) { return p->vcrit_V; }

const eqs_device eqs_device_diode = {
    .kind = EQS_EL_D,
    .name = "diode",
    .letter = 'd',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_RECIPROCAL,
    .nonlinear = 1,
    .card = dio_card,
    .model_of = dio_model_of,
    .model_card = dio_model_card,
    .check = dio_check,
    .slots = eqs_device_slots_conductance,
    .expand = dio_expand,
    .input = EQS_INPUT_NONE,
    .current = dio_current,
    .setup = dio_setup,
    .eval = dio_eval,
    .limit = dio_limit,
    .v_init = dio_v_init,
};
