/*
 * team.c: the TEAM memristor's one-pulse response (Kvatinsky, Friedman,
 * Weiser, "TEAM: ThrEshold Adaptive Memristor Model", IEEE TCAS-I 60(1),
 * 2013; Xyce's MemristorTEAM, level 2), integrated with SUNDIALS CVODE
 * (the only includer of CVODE headers).  See update.h and docs/devices.md
 * ("TEAM").
 *
 * The state is integrated as u = (x - xon)/(xoff - xon) in [0, 1]
 * (dimensionless, so the tolerances do not depend on the length unit):
 *   du/dt = rate_x(x(u), V) / (xoff - xon).
 * A law reads from a file tabulates the map u -> u' of one up and one down
 * pulse once on a uniform grid of grid_n + 1 nodes (one CVODE solve per
 * node) and interpolates it linearly; training's per-pulse cost is then a
 * table look-up, no allocation.
 */
#include "update.h"

#include "../devices/devices.h"

#include <math.h>

#include <cvode/cvode.h>
#include <cvode/cvode_diag.h>
#include <nvector/nvector_serial.h>

#define TEAM_RTOL 1e-10
#define TEAM_ATOL 1e-13
#define TEAM_MAX_STEPS 1000000L

void eqs_team_defaults(eqs_team *t)
{
    *t = (eqs_team){
        .kon_m_per_s = -8e-13,
        .koff_m_per_s = 8e-13,
        .alphaon = 3.0,
        .alphaoff = 3.0,
        .ion_A = -8.9e-6,
        .ioff_A = 1.15e-4,
        .ron_Ohm = 50.0,
        .roff_Ohm = 1e3,
        .xon_m = 0.0,
        .xoff_m = 3e-9,
        .ivrelation = 0,
        .wt = 0,
        .p = 1.0,
        .v_up_V = EQS_TEAM_DEFAULT_V_UP,
        .v_down_V = EQS_TEAM_DEFAULT_V_DOWN,
        .width_s = EQS_TEAM_DEFAULT_WIDTH,
        .grid_n = 0,
        .u_up = NULL,
        .u_down = NULL,
    };
}

const char *eqs_team_check(const eqs_team *t, const char **param)
{
    const double d = t->xoff_m - t->xon_m;
#define BAD(name, msg)                                                                             \
    do {                                                                                           \
        *param = name;                                                                             \
        return msg;                                                                                \
    } while (0)
    if (!(d > 0.0 || d < 0.0)) BAD("xoff", "xoff must differ from xon (an empty state window)");
    if (!(t->koff_m_per_s / d > 0.0))
        BAD("koff", "koff must move x toward xoff (the sign of xoff - xon, not 0)");
    if (!(t->kon_m_per_s / d < 0.0))
        BAD("kon", "kon must move x toward xon (the sign of xon - xoff, not 0)");
    if (!(t->alphaon > 0.0)) BAD("alphaon", "alphaon must be positive");
    if (!(t->alphaoff > 0.0)) BAD("alphaoff", "alphaoff must be positive");
    if (!(t->ion_A < 0.0)) BAD("ion", "ion must be negative (TEAM: i < ion < 0 turns on)");
    if (!(t->ioff_A > 0.0)) BAD("ioff", "ioff must be positive (TEAM: i > ioff > 0 turns off)");
    if (!(t->ron_Ohm > 0.0)) BAD("ron", "ron must be positive");
    if (!(t->roff_Ohm > 0.0)) BAD("roff", "roff must be positive");
    if (t->ivrelation != 0 && t->ivrelation != 1) BAD("ivrelation", "ivrelation must be 0 or 1");
    if (t->wt < 0 || t->wt > 2)
        BAD("wt", "wt must be 0 (none), 1 (Joglekar) or 2 (Biolek); Xyce's 3 and 4 are not "
                  "supported");
    if (!(t->p > 0.0)) BAD("p", "p must be positive");
    if (!(t->v_up_V > 0.0)) BAD("pulse_up_V", "the up pulse amplitude must be positive");
    if (!(t->v_down_V > 0.0)) BAD("pulse_down_V", "the down pulse amplitude must be positive");
    if (!(t->width_s > 0.0)) BAD("pulse_width_s", "the pulse width must be positive");
#undef BAD
    return NULL;
}

double eqs_team_resistance(const eqs_team *t, double x_m)
{
    /* memristor.c's parameter order: level ron roff xon xoff ivrelation */
    const double v[6] = {2.0, t->ron_Ohm, t->roff_Ohm, t->xon_m, t->xoff_m,
                         (double)t->ivrelation};
    return eqs_memristor_resistance(v, x_m);
}

static double clamp01(double u) { return u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u); }

/* du/dt at u (unclamped; the bound being approached stops the motion). */
static double rate_u(const eqs_team *t, double u, double V)
{
    const double d = t->xoff_m - t->xon_m;
    const double uc = clamp01(u);
    const double x = t->xon_m + d * uc;
    const double i = V / eqs_team_resistance(t, x);
    double r = 0.0;
    if (i > t->ioff_A && t->ioff_A > 0.0) r = t->koff_m_per_s * pow(i / t->ioff_A - 1.0, t->alphaoff);
    else if (i < t->ion_A && t->ion_A < 0.0) r = t->kon_m_per_s * pow(i / t->ion_A - 1.0, t->alphaon);
    else return 0.0;
    double f = 1.0;
    if (t->wt == 1) f = 1.0 - pow(2.0 * uc - 1.0, 2.0 * t->p);
    else if (t->wt == 2) f = 1.0 - pow(uc - (i < 0.0 ? 1.0 : 0.0), 2.0 * t->p);
    double du = r * f / d;
    if ((du > 0.0 && u >= 1.0) || (du < 0.0 && u <= 0.0)) du = 0.0;
    return du;
}

double eqs_team_rate(const eqs_team *t, double x_m, double V)
{
    const double d = t->xoff_m - t->xon_m;
    return d * rate_u(t, (x_m - t->xon_m) / d, V);
}

typedef struct {
    const eqs_team *t;
    double V;
} team_rhs_data;

static int team_rhs(sunrealtype tm, N_Vector y, N_Vector ydot, void *user)
{
    (void)tm;
    const team_rhs_data *dd = user;
    NV_Ith_S(ydot, 0) = rate_u(dd->t, NV_Ith_S(y, 0), dd->V);
    return 0;
}

typedef struct {
    SUNContext sun;
    N_Vector y;
    void *mem;
    team_rhs_data data;
} team_solver;

static void solver_free(team_solver *s)
{
    if (s->mem) CVodeFree(&s->mem);
    if (s->y) N_VDestroy(s->y);
    if (s->sun) SUNContext_Free(&s->sun);
}

static eqs_status solver_init(team_solver *s, const eqs_team *t)
{
    *s = (team_solver){0};
    s->data.t = t;
    if (SUNContext_Create(NULL, &s->sun)) return EQS_ERR_NOMEM;
    s->y = N_VNew_Serial(1, s->sun);
    if (!s->y) goto fail;
    NV_Ith_S(s->y, 0) = 0.0;
    s->mem = CVodeCreate(CV_BDF, s->sun);
    if (!s->mem) goto fail;
    if (CVodeInit(s->mem, team_rhs, 0.0, s->y) || CVodeSStolerances(s->mem, TEAM_RTOL, TEAM_ATOL) ||
        CVodeSetUserData(s->mem, &s->data) || CVDiag(s->mem) ||
        CVodeSetMaxNumSteps(s->mem, TEAM_MAX_STEPS))
        goto fail;
    return EQS_OK;
fail:
    solver_free(s);
    return EQS_ERR_NOMEM;
}

/* u after width seconds of V from u0. */
static eqs_status solver_run(team_solver *s, double u0, double V, double width, double *u1)
{
    s->data.V = V;
    NV_Ith_S(s->y, 0) = clamp01(u0);
    if (rate_u(s->data.t, NV_Ith_S(s->y, 0), V) == 0.0) {
        /* below threshold (or at the bound approached): no motion, and
         * the rate stays 0 since u does not change */
        *u1 = NV_Ith_S(s->y, 0);
        return EQS_OK;
    }
    sunrealtype tret = 0.0;
    if (CVodeReInit(s->mem, 0.0, s->y) || CVodeSetStopTime(s->mem, width)) return EQS_ERR_NOCONV;
    const int flag = CVode(s->mem, width, s->y, &tret, CV_NORMAL);
    if (flag < 0) return EQS_ERR_NOCONV;
    *u1 = clamp01(NV_Ith_S(s->y, 0));
    return EQS_OK;
}

eqs_status eqs_team_pulse_x(const eqs_team *t, double x0_m, double V, double width_s,
                            double *x1_m)
{
    team_solver s;
    const double d = t->xoff_m - t->xon_m;
    eqs_status st = solver_init(&s, t);
    if (st) return st;
    double u1 = 0.0;
    st = solver_run(&s, (x0_m - t->xon_m) / d, V, width_s, &u1);
    solver_free(&s);
    if (!st) *x1_m = t->xon_m + d * u1;
    return st;
}

eqs_status eqs_team_tabulate(eqs_team *t, int n, double *u_up, double *u_down)
{
    if (n < 2) return EQS_ERR_INPUT;
    team_solver s;
    eqs_status st = solver_init(&s, t);
    if (st) return st;
    for (int k = 0; k <= n && !st; ++k) {
        const double u = (double)k / (double)n;
        st = solver_run(&s, u, -t->v_up_V, t->width_s, &u_up[k]);
        if (!st) st = solver_run(&s, u, t->v_down_V, t->width_s, &u_down[k]);
    }
    solver_free(&s);
    if (st) return st;
    t->grid_n = n;
    t->u_up = u_up;
    t->u_down = u_down;
    return EQS_OK;
}

double eqs_team_u_of_G(const eqs_team *t, double G_S)
{
    const double ron = t->ron_Ohm, roff = t->roff_Ohm;
    if (ron == roff) return 0.0;
    const double r = 1.0 / G_S;
    const double u = t->ivrelation == 0 ? (r - ron) / (roff - ron) : log(r / ron) / log(roff / ron);
    return clamp01(u);
}

double eqs_team_G_of_u(const eqs_team *t, double u)
{
    return 1.0 / eqs_team_resistance(t, t->xon_m + (t->xoff_m - t->xon_m) * clamp01(u));
}

double eqs_team_pulse_u(const eqs_team *t, double u, int up)
{
    const double *m = up ? t->u_up : t->u_down;
    const int n = t->grid_n;
    if (!m || n < 2) return u;
    const double q = clamp01(u) * (double)n;
    int k = (int)q;
    if (k >= n) k = n - 1;
    const double f = q - (double)k;
    return clamp01(m[k] + f * (m[k + 1] - m[k]));
}

double eqs_team_pulse_G(const eqs_team *t, double G_S, int up)
{
    return eqs_team_G_of_u(t, eqs_team_pulse_u(t, eqs_team_u_of_G(t, G_S), up));
}
