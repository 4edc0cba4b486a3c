/*
 * device.c: pulsed device laws (eqspice_train.h "device models",
 * docs/devices.md).
 *
 * Every law is a step function s(G) of one pulse, the new conductance
 * being clip(G + f s(G) (1 + c2c z)) to the device's window [a, b]
 * (f the device's step factor, z a per-pulse standard normal):
 *   CONSTANT  s = +dw_up,                 -dw_down
 *   SOFT      s = +dw_up (b - G)/w,       -dw_down (G - a)/w
 *   POW       s = +dw_up ((b - G)/w)^gu,  -dw_down ((G - a)/w)^gd
 *   EXP       s = +(a + B_u - G)(1 - e^(-1/A_u)), -(G - b + B_d)(1 - e^(-1/A_d))
 *   TABLE     s = T(p(G) + 1) - G, T the measured curve of the direction
 *             interpolated linearly in the pulse number, p(G) its inverse
 *   TEAM      s = G'(G) - G, G' one pulse of the memristor's kinetics
 *             (team.c: the state's one-pulse map, tabulated by CVODE)
 * with w = b - a.  EXP is NeuroSim's curve
 *   G(P) = a + B (1 - exp(-P/A)),  B = w / (1 - exp(-P_max/A)),
 * (and its mirror from b for depression) written as one pulse from G:
 * the curve's pulse coordinate P of G advanced by one, which is the
 * expression above; A = a_up P_max (resp. a_down P_max).
 * No allocation, no state: every draw is keyed (crng.c).
 */
#include "update.h"

#include <math.h>

void eqs_device_law_defaults(eqs_device_law *law)
{
    *law = (eqs_device_law){
        .kind = EQS_DEVICE_IDEAL,
        .g_min_S = 0.0,
        .g_max_S = 1e-3,
        .dw_min_up_S = 1e-5,
        .dw_min_down_S = 1e-5,
        .pulses_up = 100.0,
        .pulses_down = 100.0,
        .a_up = 1.0,
        .a_down = 1.0,
        .gamma_up = 1.0,
        .gamma_down = 1.0,
        .levels = 0,
        .rounding = EQS_DEVICE_ROUND_NEAREST,
        .programming = EQS_DEVICE_PROGRAM_AWARE,
        .max_pulses = 1024,
        .c2c_rel = 0.0,
        .d2d_step_rel = 0.0,
        .d2d_window_rel = 0.0,
        .seed = 0,
        .mapping = EQS_DEVICE_MAP_PAIR,
        .g_ref_S = NAN,
        .stuck_min_frac = 0.0,
        .stuck_max_frac = 0.0,
        .read_noise_rel = 0.0,
        .drift_nu = 0.0,
        .drift_nu_std = 0.0,
        .drift_t0_s = 1.0,
        .drift_t_s = 0.0,
        .team = NULL,
    };
}

/* Box-Muller on the words of one block: two independent normals. */
static void block_normals(const uint64_t w[4], double *z0, double *z1)
{
    const double two53 = 9007199254740992.0;
    const double u1 = ((double)(w[0] >> 11) + 0.5) / two53, u2 = (double)(w[1] >> 11) / two53;
    const double r = sqrt(-2.0 * log(u1)), t = 6.28318530717958647692 * u2;
    *z0 = r * cos(t);
    *z1 = r * sin(t);
}

void eqs_device_instance(const eqs_device_law *law, uint64_t element, eqs_device_inst *dev)
{
    dev->g_min_S = law->g_min_S;
    dev->g_max_S = law->g_max_S;
    dev->step = 1.0;
    dev->stuck = 0;
    dev->drift_nu = law->drift_nu;
    if (law->stuck_min_frac > 0.0 || law->stuck_max_frac > 0.0) {
        const double u = eqs_crng_uniform(law->seed, EQS_CRNG_STREAM_DEVICE_D2D, 2, element);
        dev->stuck = u < law->stuck_min_frac ? -1
                     : u < law->stuck_min_frac + law->stuck_max_frac ? 1 : 0;
    }
    if (law->drift_nu_std > 0.0)
        dev->drift_nu = fmax(0.0, law->drift_nu + law->drift_nu_std *
                                                   eqs_crng_normal(law->seed,
                                                                   EQS_CRNG_STREAM_DEVICE_D2D, 3,
                                                                   element));
    if (law->d2d_step_rel > 0.0) {
        uint64_t w[4];
        double z0, z1;
        eqs_crng_block(law->seed, EQS_CRNG_STREAM_DEVICE_D2D, 0, element, w);
        block_normals(w, &z0, &z1);
        dev->step = fmax(0.0, 1.0 + law->d2d_step_rel * z0);
    }
    if (law->d2d_window_rel > 0.0) {
        uint64_t w[4];
        double z1, z2;
        eqs_crng_block(law->seed, EQS_CRNG_STREAM_DEVICE_D2D, 1, element, w);
        block_normals(w, &z1, &z2);
        const double s = law->d2d_window_rel * (law->g_max_S - law->g_min_S);
        double lo = fmax(0.0, law->g_min_S + s * z1), hi = law->g_max_S + s * z2;
        if (hi < lo) lo = hi = fmax(0.0, 0.5 * (lo + hi));
        dev->g_min_S = lo;
        dev->g_max_S = hi;
    }
}

/* TABLE: one pulse along t[0..n] (increasing when inc, else decreasing)
 * from G: the curve's value one pulse past G's fractional pulse number.
 * Past the curve's end: 0; before its start: the first step. */
static double table_step(const double *t, int n, double G, int inc)
{
    const double sg = inc ? 1.0 : -1.0; /* compare along the direction */
    if (sg * (G - t[n]) >= 0.0) return 0.0;
    if (sg * (G - t[0]) < 0.0) return t[1] - t[0];
    int lo = 0, hi = n; /* t[lo] <= G < t[hi] along the direction */
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        if (sg * (G - t[mid]) >= 0.0) lo = mid;
        else hi = mid;
    }
    const double q = (double)lo + (G - t[lo]) / (t[lo + 1] - t[lo]) + 1.0;
    if (q >= (double)n) return t[n] - G;
    const int j = (int)q;
    return t[j] + (q - (double)j) * (t[j + 1] - t[j]) - G;
}

static double clip(double G, double lo, double hi) { return G < lo ? lo : (G > hi ? hi : G); }

double eqs_device_stuck_value(const eqs_device_inst *dev, double G)
{
    return dev->stuck < 0 ? dev->g_min_S : dev->stuck > 0 ? dev->g_max_S : G;
}

double eqs_device_place(const eqs_device_law *law, const eqs_device_inst *dev, double G)
{
    const double a = dev->g_min_S, b = dev->g_max_S;
    if (dev->stuck) return eqs_device_stuck_value(dev, G);
    G = clip(G, a, b);
    if (law->levels < 2 || b <= a) return G;
    double h = 0.0;
    if (law->kind == EQS_DEVICE_IDEAL) h = (b - a) / (double)(law->levels - 1);
    else if (law->kind == EQS_DEVICE_CONSTANT && law->dw_min_up_S == law->dw_min_down_S &&
             !(law->d2d_step_rel > 0.0))
        h = law->dw_min_up_S;
    if (!(h > 0.0)) return G;
    return clip(a + round((G - a) / h) * h, a, b);
}

double eqs_device_read(const eqs_device_law *law, double G, uint64_t read, uint64_t element)
{
    if (!(law->read_noise_rel > 0.0)) return G;
    const double z = eqs_crng_normal(law->seed, EQS_CRNG_STREAM_DEVICE_READ, read, element);
    return fmax(0.0, G * (1.0 + law->read_noise_rel * z));
}

int eqs_device_drifts(const eqs_device_law *law)
{
    return law->drift_t_s > law->drift_t0_s && (law->drift_nu > 0.0 || law->drift_nu_std > 0.0);
}

double eqs_device_drift(const eqs_device_law *law, const eqs_device_inst *dev, double G)
{
    if (!(law->drift_t_s > law->drift_t0_s) || !(dev->drift_nu > 0.0)) return G;
    return fmax(dev->g_min_S, G * pow(law->drift_t_s / law->drift_t0_s, -dev->drift_nu));
}

double eqs_device_step(const eqs_device_law *law, const eqs_device_inst *dev, double G, int up)
{
    const double a = dev->g_min_S, b = dev->g_max_S, w = b - a;
    double s = 0.0;
    if (w <= 0.0) return 0.0;
    switch (law->kind) {
    case EQS_DEVICE_IDEAL: return 0.0;
    case EQS_DEVICE_CONSTANT: s = up ? law->dw_min_up_S : -law->dw_min_down_S; break;
    case EQS_DEVICE_SOFT:
        s = up ? law->dw_min_up_S * (b - G) / w : -law->dw_min_down_S * (G - a) / w;
        break;
    case EQS_DEVICE_POW:
        s = up ? law->dw_min_up_S * pow(fmax(0.0, (b - G) / w), law->gamma_up)
               : -law->dw_min_down_S * pow(fmax(0.0, (G - a) / w), law->gamma_down);
        break;
    case EQS_DEVICE_TABLE:
        if (law->table_n < 1 || !law->table_up_S || !law->table_down_S) return 0.0;
        s = up ? table_step(law->table_up_S, law->table_n, G, 1)
               : table_step(law->table_down_S, law->table_n, G, 0);
        break;
    case EQS_DEVICE_TEAM:
        if (!law->team) return 0.0;
        s = eqs_team_pulse_G(law->team, G, up) - G;
        break;
    case EQS_DEVICE_EXP:
        if (up) {
            const double A = law->a_up * law->pulses_up;
            const double B = w / -expm1(-law->pulses_up / A);
            s = (a + B - G) * -expm1(-1.0 / A);
        } else {
            const double A = law->a_down * law->pulses_down;
            const double B = w / -expm1(-law->pulses_down / A);
            s = -(G - b + B) * -expm1(-1.0 / A);
        }
        break;
    }
    return dev->step * s;
}

double eqs_device_pulse(const eqs_device_law *law, const eqs_device_inst *dev, double G, int up,
                        uint64_t step, uint64_t element, uint64_t pulse)
{
    double s = eqs_device_step(law, dev, G, up);
    if (law->c2c_rel > 0.0) {
        const uint64_t ctr[4] = {step, element, pulse, 0};
        const uint64_t key[2] = {law->seed, EQS_CRNG_STREAM_DEVICE_C2C};
        uint64_t w[4];
        double z0, z1;
        eqs_crng_philox4x64_10(ctr, key, w);
        block_normals(w, &z0, &z1);
        s *= 1.0 + law->c2c_rel * z0;
    }
    return clip(G + s, dev->g_min_S, dev->g_max_S);
}

/* x rounded to an integer by the law's mode (x >= 0). */
static double round_count(const eqs_device_law *law, double x, uint64_t step, uint64_t element)
{
    if (law->rounding == EQS_DEVICE_ROUND_STOCHASTIC) {
        const double f = floor(x);
        const double u = eqs_crng_uniform(law->seed, EQS_CRNG_STREAM_DEVICE_ROUND, step, element);
        return f + (u < x - f ? 1.0 : 0.0);
    }
    return round(x);
}

double eqs_device_nominal_step(const eqs_device_law *law, int up)
{
    const double w = law->g_max_S - law->g_min_S;
    switch (law->kind) {
    case EQS_DEVICE_CONSTANT:
    case EQS_DEVICE_SOFT:
    case EQS_DEVICE_POW: return up ? law->dw_min_up_S : law->dw_min_down_S;
    case EQS_DEVICE_EXP: return w / (up ? law->pulses_up : law->pulses_down);
    case EQS_DEVICE_TABLE: return law->table_n > 0 ? w / law->table_n : 0.0;
    default: return 0.0;
    }
}

double eqs_device_program(const eqs_device_law *law, const eqs_device_inst *dev, double G,
                          double dG, uint64_t step, uint64_t element, int *pulses)
{
    const double a = dev->g_min_S, b = dev->g_max_S;
    const double T = clip(G + dG, a, b);
    if (pulses) *pulses = 0;
    if (dev->stuck) return eqs_device_stuck_value(dev, G);
    if (law->kind == EQS_DEVICE_IDEAL) {
        if (law->levels < 2 || b <= a) return T;
        const double h = (b - a) / (double)(law->levels - 1);
        const double i = round_count(law, (T - a) / h, step, element);
        return clip(a + i * h, a, b);
    }
    if (!(T > G || T < G)) return G; /* no change asked, or NaN */
    const int up = T > G;
    double Gk = G, x = 0.0;
    const double nominal = law->programming == EQS_DEVICE_PROGRAM_BLIND
                               ? eqs_device_nominal_step(law, up)
                               : 0.0;
    if (nominal > 0.0) /* blind: as if every pulse moved the nominal step */
        x = fmin(fabs(T - G) / nominal, (double)law->max_pulses);
    /* Aware: the noise-free walk, k whole pulses, then the fraction of the next. */
    for (int k = 0; nominal <= 0.0 && k < law->max_pulses; ++k) {
        const double s = eqs_device_step(law, dev, Gk, up);
        const double rest = T - Gk;
        if (s == 0.0 || (up ? s <= 0.0 : s >= 0.0)) break; /* at the bound */
        if (up ? s >= rest : s <= rest) {
            x += rest / s;
            break;
        }
        Gk = clip(Gk + s, a, b);
        x += 1.0;
    }
    double n = round_count(law, x, step, element);
    if (n > (double)law->max_pulses) n = (double)law->max_pulses;
    const int np = (int)n;
    for (int p = 0; p < np; ++p)
        G = eqs_device_pulse(law, dev, G, up, step, element, (uint64_t)p);
    if (pulses) *pulses = up ? np : -np;
    return G;
}

void eqs_device_response(const eqs_device_law *law, const eqs_device_inst *dev, int n,
                         double *G_up, double *G_down)
{
    double gu = dev->g_min_S, gd = dev->g_max_S;
    for (int k = 0; k <= n; ++k) {
        if (G_up) G_up[k] = gu;
        if (G_down) G_down[k] = gd;
        gu = clip(gu + eqs_device_step(law, dev, gu, 1), dev->g_min_S, dev->g_max_S);
        gd = clip(gd + eqs_device_step(law, dev, gd, 0), dev->g_min_S, dev->g_max_S);
    }
}
