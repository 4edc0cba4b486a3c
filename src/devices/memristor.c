/*
 * memristor.c: Xyce's memristor (`YMEMRISTOR name n+ n- model [XO=x]`,
 * `.model NAME memristor level=2 ron= roff= xon= xoff= ivrelation=`), at DC.
 *
 * At DC the device is the resistor of its state x (Xyce's TEAM model,
 * level 2, without its dynamics):
 *   x clamped to [min(xon, xoff), max(xon, xoff)],  u = (x - xon)/(xoff - xon)
 *   ivrelation = 0:  R(x) = ron + (roff - ron) u
 *   ivrelation = 1:  R(x) = ron exp(ln(roff/ron) u)
 * The circuit compiles it as a resistor of conductance G = 1/R(x); the
 * trainer's parameter is that G, and setting it sets the state
 * x = R^-1(1/G) clipped to the window (the conductance window
 * [1/max(ron, roff), 1/min(ron, roff)], see `window`).  The card also
 * accepts the TEAM kinetic parameters of Xyce's level 2 (kon, koff,
 * alphaon, alphaoff, ion, ioff, wt, p): they are stored, checked (ranges;
 * ion < 0 < ioff; kon, koff of opposite signs), and do not change the DC
 * behaviour; Xyce's other
 * dynamic parameters (xscaling, d, j, aon, aoff, wc, the RTN noise ones)
 * are refused by the parser as unknown.
 * aiv = a > 0 (1/V, eqspice's own parameter) makes the I-V law
 * I = G sinh(a V)/a: the element stays the resistor G (trained, in the
 * linear part) and compiles an implicit EQS_EL_MEMIV element in parallel
 * carrying G (sinh(a V)/a - V) (memiv.c).
 */
#include "devices.h"

#include <float.h>
#include <math.h>

enum {
    P_LEVEL, P_RON, P_ROFF, P_XON, P_XOFF, P_IVREL, /* DC: R(x) */
    P_AIV, /* eqspice's sinh I-V */
    P_KON, P_KOFF, P_ALPHAON, P_ALPHAOFF, P_ION, P_IOFF, P_WT, P_P, /* TEAM kinetics, stored */
    P_N
};

/* Defaults: Xyce 7's MemristorTEAM (RON 50 Ohm, ROFF 1 kOhm, XON 0 m,
 * XOFF 3 nm, IVRELATION 0); the level has no default (NAN: required),
 * since Xyce's levels are different devices. */
static const eqs_param_desc model_params[P_N] = {
    [P_LEVEL] = {"level", "", NAN, 2, 2, 1, 0},
    [P_RON] = {"ron", "Ohm", 50.0, 0, DBL_MAX, 0, 1},
    [P_ROFF] = {"roff", "Ohm", 1e3, 0, DBL_MAX, 0, 1},
    [P_XON] = {"xon", "m", 0.0, -DBL_MAX, DBL_MAX, 0, 0},
    [P_XOFF] = {"xoff", "m", 3e-9, -DBL_MAX, DBL_MAX, 0, 0},
    [P_IVREL] = {"ivrelation", "", 0.0, 0, 1, 1, 0},
    /* eqspice's extension (not Xyce's): I = G sinh(aiv V)/aiv, a
     * CrossSim-style nonlinear I-V; 0 (default) is the linear I = G V. */
    [P_AIV] = {"aiv", "1/V", 0.0, 0, 1e6, 0, 0},
    /* TEAM kinetics: Xyce's defaults, but ion = -8.9e-6 A (Xyce's table
     * writes +8.9e-6, which TEAM's i < ion < 0 cannot use) and p = 1
     * (Xyce's table default 1.15e-4 is a copy of ioff's) */
    [P_KON] = {"kon", "m/s", -8e-13, -DBL_MAX, DBL_MAX, 0, 0},
    [P_KOFF] = {"koff", "m/s", 8e-13, -DBL_MAX, DBL_MAX, 0, 0},
    [P_ALPHAON] = {"alphaon", "", 3.0, 0, DBL_MAX, 0, 1},
    [P_ALPHAOFF] = {"alphaoff", "", 3.0, 0, DBL_MAX, 0, 1},
    [P_ION] = {"ion", "A", -8.9e-6, -DBL_MAX, DBL_MAX, 0, 0},
    [P_IOFF] = {"ioff", "A", 1.15e-4, -DBL_MAX, DBL_MAX, 0, 0},
    [P_WT] = {"wt", "", 0.0, 0, 2, 1, 0},
    [P_P] = {"p", "", 1.0, 0, DBL_MAX, 0, 1},
};

double eqs_memristor_aiv(const double *v) { return v[P_AIV]; }

/* Xyce's XO: the initial state (m), Default 0. */
static const eqs_param_desc inst_params[1] = {{"xo", "m", 0.0, -DBL_MAX, DBL_MAX, 0, 0}};

static const char *mr_check(const double *v, int *bad)
{
    if (v[P_XON] == v[P_XOFF]) {
        *bad = P_XOFF;
        return "'xoff' must differ from 'xon' (an empty state window)";
    }
    /* the kinetics: TEAM's thresholds i < ion < 0 < ioff < i, and kon,
     * koff of opposite signs, not 0 (which sign depends on the orientation
     * of xon, xoff; a device model's law="team" checks it, team.c) */
    if (!(v[P_ION] < 0.0)) {
        *bad = P_ION;
        return "'ion' must be negative (TEAM: i < ion < 0 turns the device on)";
    }
    if (!(v[P_IOFF] > 0.0)) {
        *bad = P_IOFF;
        return "'ioff' must be positive (TEAM: i > ioff > 0 turns the device off)";
    }
    if (!(v[P_KON] * v[P_KOFF] < 0.0)) {
        *bad = P_KON;
        return "'kon' and 'koff' must have opposite signs, neither 0 (they move x toward xon "
               "and xoff)";
    }
    return NULL;
}

double eqs_memristor_resistance(const double *v, double x)
{
    double xlo = fmin(v[P_XON], v[P_XOFF]), xhi = fmax(v[P_XON], v[P_XOFF]);
    if (x < xlo) x = xlo;
    if (x > xhi) x = xhi;
    double u = (x - v[P_XON]) / (v[P_XOFF] - v[P_XON]);
    double ron = v[P_RON], roff = v[P_ROFF];
    if (v[P_IVREL] == 0) return ron + (roff - ron) * u;
    return ron * exp(log(roff / ron) * u);
}

static double mr_resistance(const double *v, const double *w)
{
    return eqs_memristor_resistance(v, w[0]);
}

static void mr_window(const double *v, double *lo_S, double *hi_S)
{
    *lo_S = 1.0 / fmax(v[P_RON], v[P_ROFF]);
    *hi_S = 1.0 / fmin(v[P_RON], v[P_ROFF]);
}

/* The state x (m) whose resistance is 1/g_S, the inverse of R(x) on the
 * window (a constant resistance, ron = roff: xon). */
static double mr_state_of(const double *v, double g_S)
{
    double ron = v[P_RON], roff = v[P_ROFF], r = 1.0 / g_S;
    if (ron == roff) return v[P_XON];
    double rlo = fmin(ron, roff), rhi = fmax(ron, roff);
    if (r < rlo) r = rlo;
    if (r > rhi) r = rhi;
    double u = v[P_IVREL] == 0 ? (r - ron) / (roff - ron) : log(r / ron) / log(roff / ron);
    if (u < 0) u = 0;
    if (u > 1) u = 1;
    return v[P_XON] + (v[P_XOFF] - v[P_XON]) * u;
}

const eqs_model_type eqs_model_memristor = {
    .type = "memristor",
    .card = "ymemristor",
    .kind = EQS_EL_R,
    .params = model_params,
    .n_params = P_N,
    .inst = inst_params,
    .n_inst = 1,
    .check = mr_check,
    .resistance = mr_resistance,
    .window = mr_window,
    .state_of = mr_state_of,
};
