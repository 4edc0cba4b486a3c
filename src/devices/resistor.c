/* resistor.c: linear resistor, i = G v (G = 1/R, may be negative). */
#include "devices.h"

#include <math.h>
#include <stdio.h>

static eqs_status res_setup(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e,
                            double reltol, eqs_devparams *p)
{
    (void)ctx;
    (void)reltol;
    p->g_S = eqs_celem_value(c, e);
    return EQS_OK;
}

/* i = G v (A), g = G (S); gmin is not added (no junction). */
static void res_eval(const eqs_devparams *p, double v, double gmin, double *i, double *g)
{
    (void)gmin;
    *i = p->g_S * v;
    *g = p->g_S;
}

/* `r<name> a b R` (Ohm): the circuit holds the conductance, 1/G reaches
 * ngspice.  A memristor is written so too (its equivalent resistor). */
static int res_card(const eqs_devcard *w, char *buf, size_t size)
{
    double r = w->ce ? 1.0 / eqs_celem_value(w->c, w->ce) : w->e->value;
    const double a = w->e->dmodel ? eqs_memristor_aiv(w->nl->dmodels[w->e->dmodel - 1].v) : 0.0;
    if (a > 0) { /* I = G sinh(a V)/a as ngspice's behavioural source */
        const char *n0 = w->node[0], *n1 = w->node[1];
        return snprintf(buf, size, "b%s %s %s i={%.17g*sinh(%.17g*v(%s,%s))/%.17g}", w->name, n0,
                        n1, 1.0 / r, a, n0, n1, a);
    }
    return snprintf(buf, size, "%s %s %s %.17g", w->name, w->node[0], w->node[1], r);
}

/* A finite, non-zero resistance (Ohm; negative is allowed: KLU). */
static eqs_status res_check(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                            int *n_internal)
{
    (void)nl;
    (void)n_internal;
    if (!isfinite(el->value))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                            "resistor '%s' has a non-finite resistance", el->name);
    if (el->value == 0 || !isfinite(1.0 / el->value))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc, "resistor '%s' has zero resistance",
                            el->name);
    return EQS_OK;
}

/* G at slots (a,a) (b,b) +G, (a,b) (b,a) -G; a terminal held at V_fix
 * moves -G V_fix to the other's residual. */
static void res_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    const double g = eqs_celem_value(ls->c, e);
    int ua = eqs_stamp_unknown(ls->c, e->n[0]), ub = eqs_stamp_unknown(ls->c, e->n[1]);
    eqs_stamp_add(ls->J, e->slot[0], g);
    eqs_stamp_add(ls->J, e->slot[1], g);
    eqs_stamp_add(ls->J, e->slot[2], -g);
    eqs_stamp_add(ls->J, e->slot[3], -g);
    if (ua >= 0 && ub < 0) ls->b[ua] -= g * ls->vfix[e->n[1]];
    if (ub >= 0 && ua < 0) ls->b[ub] -= g * ls->vfix[e->n[0]];
}

int eqs_device_slots_conductance(const eqs_circuit *c, const eqs_celem *e, int *rows,
                                 int *cols)
{
    int a = eqs_stamp_unknown(c, e->n[0]), b = eqs_stamp_unknown(c, e->n[1]);
    rows[0] = a, cols[0] = a;
    rows[1] = b, cols[1] = b;
    if (c->reciprocal) {
        int hi = a > b ? a : b, lo = a > b ? b : a;
        rows[2] = hi, cols[2] = (lo < 0 ? -1 : lo);
        rows[3] = -1, cols[3] = -1;
    } else {
        rows[2] = a, cols[2] = b;
        rows[3] = b, cols[3] = a;
    }
    return 4;
}

/* G (V(n[t]) - V(other)) leaves n[t]: G V(n[t]) (fixed) and G V(other) if
 * fixed are constant, -G at the other terminal's unknown. */
static int res_fixed_current(const eqs_circuit *c, const double *vfix, const eqs_celem *e,
                             int t, eqs_fxcurrent *out)
{
    int other = e->n[1 - t];
    out->k0 = eqs_celem_value(c, e) * (vfix[e->n[t]] - vfix[other]);
    out->j[0] = eqs_stamp_unknown(c, other);
    out->x[0] = -eqs_celem_value(c, e);
    return 1;
}

/* G (V(n[0]) - V(n[1])) flows n[0] -> n[1]. */
static eqs_status res_current(const eqs_devsolution *sol, const eqs_celem *e, eqs_devcurrent *out)
{
    const int a = e->n[0], b = e->n[1];
    out->a = a;
    out->b = b;
    out->i0 = eqs_celem_value(sol->c, e) * (sol->v[a] - sol->v[b]);
    out->gain = 0;
    return EQS_OK;
}

/* A memristor whose model has aiv = a > 0: the implicit EQS_EL_MEMIV
 * element in parallel (memiv.c), ctrl = this resistor, value = a. */
static eqs_status res_expand(eqs_circuit *c, const eqs_element *el, eqs_celem *ce,
                             int *next_node, int *next_elem)
{
    (void)next_node;
    if (!el->dmodel) return EQS_OK;
    const double a = eqs_memristor_aiv(c->nl->dmodels[el->dmodel - 1].v);
    if (!(a > 0)) return EQS_OK;
    eqs_celem *x = &c->elems[(*next_elem)++];
    x->kind = EQS_EL_MEMIV;
    x->origin = -1;
    x->n[0] = ce->n[0];
    x->n[1] = ce->n[1];
    x->n[2] = x->n[3] = -1;
    x->ctrl = (int)(ce - c->elems);
    x->branch = -1;
    x->param = -1;
    x->value = a;
    return EQS_OK;
}

/* dE/dG of the co-content G v^2 / 2. */
static double res_denergy(double v) { return 0.5 * v * v; }

static double res_energy_contrast(double v1, double v2) { return (v2 - v1) * (v2 + v1); }

const eqs_device eqs_device_resistor = {
    .kind = EQS_EL_R,
    .name = "resistor",
    .letter = 'r',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_RECIPROCAL | EQS_DEV_TRAINABLE,
    .nonlinear = 0,
    .card = res_card,
    .check = res_check,
    .slots = eqs_device_slots_conductance,
    .stamp = res_stamp,
    .expand = res_expand,
    .fixed_current = res_fixed_current,
    .input = EQS_INPUT_CONDUCTANCE,
    .current = res_current,
    .setup = res_setup,
    .eval = res_eval,
    .limit = NULL,
    .denergy = res_denergy,
    .energy_contrast = res_energy_contrast,
};
