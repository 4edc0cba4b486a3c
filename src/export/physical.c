/*
 * physical.c: the map of a trained network onto physical units
 * (docs/export.md "Physical units"): every voltage times a, every
 * conductance times b.
 *
 * With ideal diodes a DRN is homogeneous: Kirchhoff's current law at a node,
 * sum_j G_j (V_j - V) = 0, keeps its solution when every G is multiplied by
 * b and every source voltage by a (the voltages become a V), and an ideal
 * diode's clamp at its rail scales with the rail.  So the largest input drive
 * can be set to a read voltage and the largest conductance to the top of a
 * device window exactly; the predictions do not change and the loss (V^2)
 * scales by a^2.  What the map cannot do exactly: a conductance that lands
 * below the window's bottom is raised to it (counted), and Shockley diodes
 * (exp(V / n V_T), no scale) see other voltages than in training: both are
 * measured by evaluating the mapped network (`eqspice eval --vread
 * --window`, with --diodes shockley).
 */
#include "export.h"

#include "../core/core.h"
#include "../devices/devices.h"

#include <math.h>

void eqs_physical_target_defaults(eqs_physical_target *t)
{
    t->v_read_V = 0;
    t->g_min_S = 0;
    t->g_max_S = 0;
}

eqs_status eqs_physical_map_apply(eqs_ctx *ctx, eqs_circuit *c, eqs_eval_settings *ev,
                                  const eqs_physical_target *t, eqs_physical_map *out)
{
    eqs_physical_map m = {1.0, 1.0, INFINITY, -INFINITY, 0, 0, 0};
    const int np = eqs_circuit_param_count(c);
    for (int k = 0; k < np; ++k) {
        const double g = eqs_circuit_param_get(c, k);
        m.g_lo_S = fmin(m.g_lo_S, g), m.g_hi_S = fmax(m.g_hi_S, g);
    }
    m.n_params = np;
    if (t->v_read_V < 0 || !isfinite(t->v_read_V))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "--vread: the read voltage must be positive (got %g V)",
                         t->v_read_V);
    if (t->g_max_S > 0 && !(t->g_min_S >= 0 && t->g_min_S < t->g_max_S && isfinite(t->g_max_S)))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "--window: need 0 <= GMIN < GMAX (got %g, %g S)", t->g_min_S, t->g_max_S);
    if (t->v_read_V > 0) {
        if (!(ev->input_gain_V > 0))
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "--vread: the network's input gain is %g V, "
                                                 "not positive", ev->input_gain_V);
        m.a = t->v_read_V / ev->input_gain_V;
    }
    if (t->g_max_S > 0) {
        if (np == 0 || !(m.g_lo_S > 0))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "--window: the network has %s trained conductance",
                             np == 0 ? "no" : "a non-positive");
        m.b = t->g_max_S / m.g_hi_S;
    }
    if (c->has_nonlinear_iv && m.a != 1.0)
        return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED,
                         "--vread: memristors with a nonlinear I-V (aiv > 0) are not "
                         "homogeneous in voltage");
    for (int e = 0; e < c->n_elems; ++e) {
        eqs_celem *ce = &c->elems[e];
        if (ce->param >= 0) {
            double g = m.b * eqs_circuit_param_get(c, ce->param);
            if (t->g_max_S > 0 && g < t->g_min_S) g = t->g_min_S, m.n_raised++;
            eqs_status st = eqs_circuit_param_set(c, ce->param, g);
            if (st != EQS_OK) return st;
            if (eqs_circuit_param_get(c, ce->param) != g) m.n_clipped++;
            continue;
        }
        switch (ce->kind) {
        case EQS_EL_R: ce->value *= m.b; break;           /* a conductance */
        case EQS_EL_V: ce->value *= m.a; break;           /* inputs: set per sample */
        case EQS_EL_I: ce->value *= m.a * m.b; break;     /* A = S V */
        case EQS_EL_G: ce->value *= m.b; break;           /* transconductance */
        case EQS_EL_H: ce->value /= m.b; break;           /* transresistance */
        case EQS_EL_E: case EQS_EL_F: case EQS_EL_D: case EQS_EL_MEMIV: break;
        default: break;
        }
    }
    eqs_circuit_values_changed(c);
    ev->input_gain_V *= m.a;
    ev->target_on_V *= m.a;
    ev->target_off_V *= m.a;
    if (out) *out = m;
    return EQS_OK;
}
