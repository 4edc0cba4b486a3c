/* test_device.c: pulsed device laws (src/update/device.c).
 *
 * Oracles: the closed form of each deterministic law's pulse response
 * (constant step: a + k dw; soft bounds: b - w (1 - dw/w)^k; NeuroSim's
 * exponential a + B (1 - exp(-k/A))), the plain clip for the ideal law,
 * and the moments of the rounding and noise draws with bounds of four
 * standard errors at the stated n. */
#include "testutil.h"
#include "update/update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Window [0, 1 mS] throughout. */
#define TD_GMIN 0.0
#define TD_GMAX 1e-3

static eqs_device_law law_of(eqs_device_kind kind)
{
    eqs_device_law law;
    eqs_device_law_defaults(&law);
    law.kind = kind;
    law.g_min_S = TD_GMIN;
    law.g_max_S = TD_GMAX;
    return law;
}

START_TEST(test_device_ideal_is_clip)
{
    eqs_device_law law = law_of(EQS_DEVICE_IDEAL);
    eqs_device_inst dev;
    eqs_device_instance(&law, 7, &dev);
    ck_assert(dev.g_min_S == TD_GMIN && dev.g_max_S == TD_GMAX && dev.step == 1.0);
    const double G[] = {0.0, 1e-4, 3.3e-4, 9.99e-4, 1e-3};
    const double dG[] = {-2e-3, -1e-4, -1e-17, 0.0, 3e-9, 2.5e-4, 5e-3};
    for (size_t i = 0; i < sizeof G / sizeof *G; ++i)
        for (size_t j = 0; j < sizeof dG / sizeof *dG; ++j) {
            const double want = fmin(fmax(G[i] + dG[j], TD_GMIN), TD_GMAX);
            int n = 5;
            const double got = eqs_device_program(&law, &dev, G[i], dG[j], 3, 7, &n);
            ck_assert_int_eq(memcmp(&got, &want, sizeof got), 0);
            ck_assert_int_eq(n, 0);
        }
}
END_TEST

START_TEST(test_device_constant_step)
{
    eqs_device_law law = law_of(EQS_DEVICE_CONSTANT);
    law.dw_min_up_S = TD_GMAX / 7.3;   /* ceil(7.3) = 8 pulses to sweep */
    law.dw_min_down_S = TD_GMAX / 4.6; /* 5 */
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    double up[21], down[21];
    eqs_device_response(&law, &dev, 20, up, down);
    int nu = 0, nd = 0;
    while (up[nu] < TD_GMAX) ++nu;
    while (down[nd] > TD_GMIN) ++nd;
    ck_assert_int_eq(nu, (int)ceil((TD_GMAX - TD_GMIN) / law.dw_min_up_S));
    ck_assert_int_eq(nd, (int)ceil((TD_GMAX - TD_GMIN) / law.dw_min_down_S));
    ck_assert_int_eq(nu, 8);
    ck_assert_int_eq(nd, 5);
    for (int k = 0; k < nu; ++k)
        ck_assert_double_eq_tol(up[k], TD_GMIN + k * law.dw_min_up_S, 1e-15);
    for (int k = 0; k < nd; ++k)
        ck_assert_double_eq_tol(down[k], TD_GMAX - k * law.dw_min_down_S, 1e-15);
    /* a request rounds to the nearest whole number of pulses */
    const double dw = law.dw_min_up_S, G0 = 2e-4;
    int n;
    double G = eqs_device_program(&law, &dev, G0, 3.4 * dw, 0, 0, &n);
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq_tol(G, G0 + 3 * dw, 1e-15);
    G = eqs_device_program(&law, &dev, G0, 3.6 * dw, 0, 0, &n);
    ck_assert_int_eq(n, 4);
    ck_assert_double_eq_tol(G, G0 + 4 * dw, 1e-15);
    G = eqs_device_program(&law, &dev, 8e-4, -1.45 * law.dw_min_down_S, 0, 0, &n);
    ck_assert_int_eq(n, -1);
    ck_assert_double_eq_tol(G, 8e-4 - law.dw_min_down_S, 1e-15);
    G = eqs_device_program(&law, &dev, G0, 0.4 * dw, 0, 0, &n);
    ck_assert_int_eq(n, 0);
    ck_assert(G == G0);
    /* beyond the window: clipped at the bound */
    G = eqs_device_program(&law, &dev, G0, 1.0, 0, 0, &n);
    ck_assert(G == TD_GMAX);
    ck_assert_int_eq(n, 6); /* round((1e-3 - 2e-4)/dw) = round(5.84) */
    /* NaN asks for nothing: G unchanged, no pulse */
    G = eqs_device_program(&law, &dev, G0, NAN, 0, 0, &n);
    ck_assert(G == G0);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_device_soft_bounds)
{
    eqs_device_law law = law_of(EQS_DEVICE_SOFT);
    law.dw_min_up_S = 2e-5;
    law.dw_min_down_S = 3e-5;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    enum { N = 300 };
    double up[N + 1], down[N + 1];
    eqs_device_response(&law, &dev, N, up, down);
    const double w = TD_GMAX - TD_GMIN;
    for (int k = 0; k <= N; ++k) {
        const double gu = TD_GMAX - w * pow(1.0 - law.dw_min_up_S / w, k);
        const double gd = TD_GMIN + w * pow(1.0 - law.dw_min_down_S / w, k);
        ck_assert_msg(fabs(up[k] - gu) <= 1e-13 * w, "up k=%d: %.17g vs %.17g", k, up[k], gu);
        ck_assert_msg(fabs(down[k] - gd) <= 1e-13 * w, "down k=%d: %.17g vs %.17g", k, down[k],
                      gd);
    }
    /* a request equal to the 5-pulse response from up[10] takes 5 pulses */
    int n;
    const double G = eqs_device_program(&law, &dev, up[10], up[15] - up[10], 0, 0, &n);
    ck_assert_int_eq(n, 5);
    ck_assert(fabs(G - up[15]) <= 1e-15 * w);
    /* the power step with gamma = 1 is the soft-bounds law */
    eqs_device_law pw = law;
    pw.kind = EQS_DEVICE_POW;
    for (double g = 0.0; g <= TD_GMAX; g += 1e-4) {
        ck_assert(fabs(eqs_device_step(&pw, &dev, g, 1) - eqs_device_step(&law, &dev, g, 1)) <=
                  1e-15 * law.dw_min_up_S);
        ck_assert(fabs(eqs_device_step(&pw, &dev, g, 0) - eqs_device_step(&law, &dev, g, 0)) <=
                  1e-15 * law.dw_min_down_S);
    }
    /* gamma = 2: dw ((b - G)/w)^2 up, dw ((G - a)/w)^2 down */
    pw.gamma_up = pw.gamma_down = 2.0;
    const double g = 2.5e-4;
    ck_assert_double_eq_tol(eqs_device_step(&pw, &dev, g, 1), 2e-5 * 0.75 * 0.75, 1e-20);
    ck_assert_double_eq_tol(eqs_device_step(&pw, &dev, g, 0), -3e-5 * 0.25 * 0.25, 1e-20);
}
END_TEST

START_TEST(test_device_neurosim_exp)
{
    eqs_device_law law = law_of(EQS_DEVICE_EXP);
    law.pulses_up = 96.0;
    law.pulses_down = 99.0;
    law.a_up = 0.3;
    law.a_down = 0.12;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    double up[100], down[100];
    eqs_device_response(&law, &dev, 99, up, down);
    const double w = TD_GMAX - TD_GMIN;
    const double Au = law.a_up * law.pulses_up, Ad = law.a_down * law.pulses_down;
    const double Bu = w / (1.0 - exp(-law.pulses_up / Au));
    const double Bd = w / (1.0 - exp(-law.pulses_down / Ad));
    const int ks[] = {0, 1, 2, 10, 33, 50, 80, 95};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; ++i) {
        const int k = ks[i];
        const double gu = TD_GMIN + Bu * (1.0 - exp(-k / Au));
        const double gd = TD_GMAX - Bd * (1.0 - exp(-k / Ad));
        ck_assert_msg(fabs(up[k] - gu) <= 1e-13 * w, "up k=%d: %.17g vs %.17g", k, up[k], gu);
        ck_assert_msg(fabs(down[k] - gd) <= 1e-13 * w, "down k=%d", k);
    }
    /* P_max pulses sweep the window (to rounding), one more clips at it */
    ck_assert(fabs(up[96] - TD_GMAX) <= 1e-13 * w);
    ck_assert(up[97] == TD_GMAX);
    ck_assert(fabs(down[99] - TD_GMIN) <= 1e-13 * w);
    /* nonlinear: the first up step is larger than the last */
    ck_assert(up[1] - up[0] > 5.0 * (up[96] - up[95]));
}
END_TEST


/* programming="blind": the pulse count is |dG| over the nominal step
 * (exp: window / P_max, NeuroSim's), applied on the nonlinear curve, so
 * asking for half the window from G_min writes up[P_max / 2] (well above
 * the middle); "aware" walks the curve and lands within one step of it. */
START_TEST(test_device_blind_programming)
{
    eqs_device_law law = law_of(EQS_DEVICE_EXP);
    law.pulses_up = law.pulses_down = 100.0;
    law.a_up = law.a_down = 0.2;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    double up[101], down[101];
    eqs_device_response(&law, &dev, 100, up, down);
    const double w = TD_GMAX - TD_GMIN;
    ck_assert(eqs_device_nominal_step(&law, 1) == w / 100.0);
    int n = 0;
    double g = eqs_device_program(&law, &dev, TD_GMIN, 0.5 * w, 0, 0, &n);
    ck_assert_int_eq(n, 14); /* aware: -A ln(1 - w/2B) = 13.7 pulses of the steep start */
    ck_assert_msg(fabs(g - (TD_GMIN + 0.5 * w)) <= up[14] - up[13], "aware %.17g", g);
    law.programming = EQS_DEVICE_PROGRAM_BLIND;
    g = eqs_device_program(&law, &dev, TD_GMIN, 0.5 * w, 0, 0, &n);
    ck_assert_int_eq(n, 50);
    ck_assert_msg(fabs(g - up[50]) <= 1e-13 * w, "blind %.17g, up[50] %.17g", g, up[50]);
    ck_assert(g > TD_GMIN + 0.9 * w); /* A = 20 pulses: 50 of them go 92 % of the way */
    /* down from G_max: the mirrored curve */
    g = eqs_device_program(&law, &dev, TD_GMAX, -0.25 * w, 0, 0, &n);
    ck_assert_int_eq(n, -25);
    ck_assert_msg(fabs(g - down[25]) <= 1e-13 * w, "blind down %.17g vs %.17g", g, down[25]);
    /* constant steps: blind and aware agree */
    eqs_device_law c = law_of(EQS_DEVICE_CONSTANT);
    eqs_device_instance(&c, 0, &dev);
    const double ga = eqs_device_program(&c, &dev, TD_GMIN, 7.3 * c.dw_min_up_S, 0, 0, &n);
    c.programming = EQS_DEVICE_PROGRAM_BLIND;
    int nb = 0;
    ck_assert(eqs_device_program(&c, &dev, TD_GMIN, 7.3 * c.dw_min_up_S, 0, 0, &nb) == ga);
    ck_assert_int_eq(nb, n);
    ck_assert_int_eq(n, 7);
}
END_TEST

START_TEST(test_device_levels_nearest)
{
    eqs_device_law law = law_of(EQS_DEVICE_IDEAL);
    law.levels = 5; /* 0, 0.25, 0.5, 0.75, 1 mS */
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    ck_assert_double_eq_tol(eqs_device_program(&law, &dev, 1e-4, 2e-4, 0, 0, NULL), 2.5e-4, 1e-18);
    ck_assert_double_eq_tol(eqs_device_program(&law, &dev, 1e-4, 3e-4, 0, 0, NULL), 5e-4, 1e-18);
    ck_assert_double_eq_tol(eqs_device_program(&law, &dev, 9e-4, 0.8e-4, 0, 0, NULL), 1e-3, 1e-18);
    ck_assert(eqs_device_program(&law, &dev, 1e-4, -1.0, 0, 0, NULL) == 0.0);
}
END_TEST

/* Stochastic rounding: the mean of the rounded value over n keys is the
 * exact value within four standard errors sqrt(f (1 - f) / n). */
START_TEST(test_device_levels_stochastic)
{
    enum { NK = 20000 };
    eqs_device_law law = law_of(EQS_DEVICE_IDEAL);
    law.levels = 5;
    law.rounding = EQS_DEVICE_ROUND_STOCHASTIC;
    law.seed = 12345;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    const double h = 2.5e-4, f = 0.2; /* target 3e-4 = 1.2 levels */
    double sum = 0.0;
    int lo = 0, hi = 0;
    for (int e = 0; e < NK; ++e) {
        const double G = eqs_device_program(&law, &dev, 1e-4, 2e-4, 9, (uint64_t)e, NULL);
        lo += G == h;
        hi += G == 2 * h;
        sum += G;
    }
    ck_assert_int_eq(lo + hi, NK); /* only the two neighbours */
    const double se = h * sqrt(f * (1 - f) / NK);
    ck_assert_msg(fabs(sum / NK - 3e-4) <= 4 * se, "mean %.17g", sum / NK);
    /* a pulsed law rounds its pulse count the same way: 2.3 pulses */
    law.kind = EQS_DEVICE_CONSTANT;
    law.dw_min_up_S = 1e-5;
    double pulses = 0.0;
    for (int e = 0; e < NK; ++e) {
        int n;
        (void)eqs_device_program(&law, &dev, 1e-4, 2.3e-5, 9, (uint64_t)e, &n);
        ck_assert(n == 2 || n == 3);
        pulses += n;
    }
    ck_assert_msg(fabs(pulses / NK - 2.3) <= 4 * sqrt(0.3 * 0.7 / NK), "mean %.6f", pulses / NK);
}
END_TEST

/* Cycle-to-cycle noise: one constant-step pulse from mid-window over
 * n = 20000 elements: (dG/dw - 1)/c2c is standard normal, its mean within
 * 4/sqrt(n) of 0 and its variance within 4 sqrt(2/(n-1)) of 1. */
START_TEST(test_device_c2c_noise)
{
    enum { NK = 20000 };
    eqs_device_law law = law_of(EQS_DEVICE_CONSTANT);
    law.c2c_rel = 0.1;
    law.seed = 99;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    double s1 = 0.0, s2 = 0.0;
    for (int e = 0; e < NK; ++e) {
        const double G = eqs_device_pulse(&law, &dev, 5e-4, 1, 4, (uint64_t)e, 0);
        const double z = ((G - 5e-4) / law.dw_min_up_S - 1.0) / law.c2c_rel;
        s1 += z;
        s2 += z * z;
    }
    const double mean = s1 / NK, var = (s2 - NK * mean * mean) / (NK - 1);
    ck_assert_msg(fabs(mean) <= 4.0 / sqrt(NK), "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0) <= 4.0 * sqrt(2.0 / (NK - 1)), "var %g", var);
    /* every pulse of one update has its own draw: 10 pulses, spread of the
     * sum sqrt(10) times one pulse's */
    s1 = s2 = 0.0;
    for (int e = 0; e < NK; ++e) {
        const double G = eqs_device_program(&law, &dev, 5e-4, 10e-5, 4, (uint64_t)e, NULL);
        const double z = ((G - 5e-4) / law.dw_min_up_S - 10.0) / law.c2c_rel;
        s1 += z;
        s2 += z * z;
    }
    const double m10 = s1 / NK, v10 = (s2 - NK * m10 * m10) / (NK - 1);
    ck_assert_msg(fabs(m10) <= 4.0 * sqrt(10.0 / NK), "mean %g", m10);
    ck_assert_msg(fabs(v10 / 10.0 - 1.0) <= 4.0 * sqrt(2.0 / (NK - 1)), "var %g", v10);
}
END_TEST

/* Device-to-device variation: step factor and window bounds over n
 * devices, means and variances within four standard errors. */
START_TEST(test_device_d2d)
{
    enum { NK = 20000 };
    eqs_device_law law = law_of(EQS_DEVICE_CONSTANT);
    law.g_min_S = 2e-4; /* room for the lower bound's spread above 0 */
    law.d2d_step_rel = 0.05;
    law.d2d_window_rel = 0.02;
    law.seed = 7;
    const double w = law.g_max_S - law.g_min_S;
    double f1 = 0, f2 = 0, a1 = 0, a2 = 0, b1 = 0, b2 = 0;
    for (int e = 0; e < NK; ++e) {
        eqs_device_inst d;
        eqs_device_instance(&law, (uint64_t)e, &d);
        const double zf = (d.step - 1.0) / law.d2d_step_rel;
        const double za = (d.g_min_S - law.g_min_S) / (law.d2d_window_rel * w);
        const double zb = (d.g_max_S - law.g_max_S) / (law.d2d_window_rel * w);
        f1 += zf, f2 += zf * zf, a1 += za, a2 += za * za, b1 += zb, b2 += zb * zb;
        /* the device's own step */
        ck_assert_double_eq_tol(eqs_device_step(&law, &d, 5e-4, 1), d.step * law.dw_min_up_S,
                                1e-20);
    }
    const double m[3] = {f1 / NK, a1 / NK, b1 / NK};
    const double v[3] = {(f2 - NK * m[0] * m[0]) / (NK - 1), (a2 - NK * m[1] * m[1]) / (NK - 1),
                         (b2 - NK * m[2] * m[2]) / (NK - 1)};
    for (int i = 0; i < 3; ++i) {
        ck_assert_msg(fabs(m[i]) <= 4.0 / sqrt(NK), "mean %d: %g", i, m[i]);
        ck_assert_msg(fabs(v[i] - 1.0) <= 4.0 * sqrt(2.0 / (NK - 1)), "var %d: %g", i, v[i]);
    }
}
END_TEST

START_TEST(test_device_determinism)
{
    eqs_device_law law = law_of(EQS_DEVICE_SOFT);
    law.c2c_rel = 0.2;
    law.d2d_step_rel = 0.1;
    law.d2d_window_rel = 0.05;
    law.rounding = EQS_DEVICE_ROUND_STOCHASTIC;
    law.seed = 2026;
    eqs_device_inst d1, d2, d3;
    eqs_device_instance(&law, 41, &d1);
    eqs_device_instance(&law, 41, &d2);
    eqs_device_instance(&law, 42, &d3);
    /* field by field: the struct has padding */
    ck_assert(d1.g_min_S == d2.g_min_S && d1.g_max_S == d2.g_max_S && d1.step == d2.step &&
              d1.stuck == d2.stuck && d1.drift_nu == d2.drift_nu);
    ck_assert(d1.step != d3.step && d1.g_min_S != d3.g_min_S);
    double G1 = 5e-4, G2 = 5e-4, G3 = 5e-4;
    for (uint64_t s = 0; s < 50; ++s) {
        const double dG = (s % 3 == 0 ? -1.0 : 1.0) * 7.7e-5;
        int n1, n2;
        G1 = eqs_device_program(&law, &d1, G1, dG, s, 41, &n1);
        G2 = eqs_device_program(&law, &d2, G2, dG, s, 41, &n2);
        G3 = eqs_device_program(&law, &d1, G3, dG, s + 1000, 41, NULL);
        ck_assert_int_eq(memcmp(&G1, &G2, sizeof G1), 0);
        ck_assert_int_eq(n1, n2);
    }
    ck_assert(G1 != G3); /* another step key: other draws */
    /* the seed is part of the key */
    eqs_device_law other = law;
    other.seed = 2027;
    eqs_device_instance(&other, 41, &d2);
    ck_assert(d2.step != d1.step);
}
END_TEST

/* ---- device-model files (src/experiment/device_xml.c) ---- */

/* Read `path`; expect `code` and the message "path:line:col: error: ...needle...". */
static void dx_expect_error(const char *path, eqs_status code, int line, const char *needle)
{
    eqs_ctx *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
    eqs_device_law *law = (eqs_device_law *)1;
    ck_assert_int_eq(eqs_device_law_read(ctx, path, &law), code);
    ck_assert_ptr_null(law);
    const char *msg = eqs_ctx_error(ctx);
    char want[4096];
    snprintf(want, sizeof want, "%s:%d:", path, line);
    ck_assert_msg(!strncmp(msg, want, strlen(want)), "message '%s', expected prefix '%s'", msg,
                  want);
    ck_assert_msg(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}

/* A file whose line 3 is `attrs` inside the <device> element. */
static const char *dx_doc(const char *attrs)
{
    static char text[2048];
    snprintf(text, sizeof text,
             "<?xml version=\"1.0\"?>\n<!-- test -->\n<device %s/>\n", attrs);
    return tu_write_temp(text, ".xml");
}

START_TEST(test_device_xml_errors)
{
    /* schema */
    dx_expect_error(dx_doc("law=\"linear\" g_min_S=\"0\" g_max_S=\"1\""), EQS_ERR_INPUT, 3, "law");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"0\""), EQS_ERR_INPUT, 3, "g_max_S");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"0\" g_max_S=\"INF\""), EQS_ERR_INPUT, 3,
                    "g_max_S");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"0\" g_max_S=\"1\" colour=\"red\""),
                    EQS_ERR_INPUT, 3, "colour");
    dx_expect_error(dx_doc("law=\"constant\" g_min_S=\"0\" g_max_S=\"1\" dw_min_S=\"-1e-3\""),
                    EQS_ERR_INPUT, 3, "dw_min_S");
    /* semantics */
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"1e-4\" g_max_S=\"1e-4\""), EQS_ERR_INPUT, 3,
                    "is not below g_max_S");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"2e-4\" g_max_S=\"1e-4\""), EQS_ERR_INPUT, 3,
                    "is not below g_max_S");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"-1e-6\" g_max_S=\"1e-4\""), EQS_ERR_INPUT, 3,
                    "negative");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"0\" g_max_S=\"1\" programming=\"blind\""),
                    EQS_ERR_INPUT, 3, "needs a pulsed law");
    dx_expect_error(dx_doc("law=\"exp\" g_min_S=\"0\" g_max_S=\"1\" programming=\"blnd\""),
                    EQS_ERR_INPUT, 3, "programming");
    dx_expect_error(dx_doc("law=\"ideal\" g_min_S=\"0\" g_max_S=\"1\" levels=\"1\""),
                    EQS_ERR_INPUT, 3, "at least 2 levels");
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" c2c_rel=\"-0.1\""),
                    EQS_ERR_INPUT, 3, "c2c_rel");
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" d2d_step_rel=\"-0.1\""),
                    EQS_ERR_INPUT, 3, "d2d_step_rel");
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" d2d_window_rel=\"-1\""),
                    EQS_ERR_INPUT, 3, "d2d_window_rel");
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" dw_min_S=\"1e-3\" "
                           "dw_min_up_S=\"1e-3\""),
                    EQS_ERR_INPUT, 3, "one or the other");
    /* malformed XML: the parser's line */
    dx_expect_error(tu_write_temp("<?xml version=\"1.0\"?>\n<device\n law=\"ideal\"\n", ".xml"),
                    EQS_ERR_PARSE, 4, "");
    /* a DOCTYPE is refused */
    dx_expect_error(tu_write_temp("<?xml version=\"1.0\"?>\n<!DOCTYPE device>\n"
                                  "<device law=\"ideal\" g_min_S=\"0\" g_max_S=\"1\"/>\n",
                                  ".xml"),
                    EQS_ERR_INPUT, 2, "DOCTYPE");
    /* levels of a law that has no levels */
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" levels=\"8\""),
                    EQS_ERR_INPUT, 3, "ideal and constant laws only");
}
END_TEST

static eqs_device_law *dx_read(eqs_ctx *ctx, const char *path)
{
    eqs_device_law *law = NULL;
    ck_assert_msg(eqs_device_law_read(ctx, path, &law) == EQS_OK, "%s", eqs_ctx_error(ctx));
    return law;
}

START_TEST(test_device_xml_presets)
{
    eqs_ctx *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
    eqs_device_law *law = dx_read(ctx, tu_path("models/ideal.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_IDEAL);
    ck_assert(law->g_min_S == 1e-6 && law->g_max_S == 1e-4 && law->levels == 0);
    eqs_device_law_free(ctx, &law);
    ck_assert_ptr_null(law);

    law = dx_read(ctx, tu_path("models/linear-step-64.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_CONSTANT);
    ck_assert_int_eq(law->levels, 64);
    ck_assert(law->dw_min_up_S == (1e-4 - 1e-6) / 63 && law->dw_min_down_S == law->dw_min_up_S);
    {
        /* 64 levels: 63 pulses from G_min reach G_max */
        eqs_device_inst dev;
        eqs_device_instance(law, 0, &dev);
        double up[65];
        eqs_device_response(law, &dev, 64, up, NULL);
        ck_assert(fabs(up[63] - 1e-4) <= 1e-12 * 1e-4);
    }
    eqs_device_law_free(ctx, &law);

    law = dx_read(ctx, tu_path("models/softbounds-reram.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_SOFT);
    ck_assert(law->dw_min_up_S == 1.65e-7 && law->dw_min_down_S == 1.65e-7);
    ck_assert(law->c2c_rel == 0.3 && law->d2d_step_rel == 0.3 && law->d2d_window_rel == 0.15);
    ck_assert_int_eq(law->max_pulses, 4096);
    eqs_device_law_free(ctx, &law);

    law = dx_read(ctx, tu_path("models/neurosim-nl.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_EXP);
    ck_assert(law->pulses_up == 97 && law->pulses_down == 100);
    ck_assert(law->a_up == 0.499181 && law->a_down == 0.200303); /* NeuroSim getParamA */
    eqs_device_law_free(ctx, &law);

    /* every attribute read back */
    law = dx_read(ctx, dx_doc("law=\"pow\" g_min_S=\"1e-6\" g_max_S=\"2e-6\" dw_min_up_S=\"1e-8\" "
                              "dw_min_down_S=\"2e-8\" gamma_up=\"1.5\" gamma_down=\"0.5\" "
                              "rounding=\"stochastic\" seed=\"18446744073709551615\" "
                              "max_pulses=\"7\" c2c_rel=\"0.01\""));
    ck_assert_int_eq(law->kind, EQS_DEVICE_POW);
    ck_assert(law->dw_min_up_S == 1e-8 && law->dw_min_down_S == 2e-8);
    ck_assert(law->gamma_up == 1.5 && law->gamma_down == 0.5 && law->c2c_rel == 0.01);
    ck_assert_int_eq(law->rounding, EQS_DEVICE_ROUND_STOCHASTIC);
    ck_assert(law->seed == UINT64_MAX);
    ck_assert_int_eq(law->max_pulses, 7);
    eqs_device_law_free(ctx, &law);
    eqs_device_law_free(ctx, &law); /* NULL: no-op */
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

/* The compiled-in schema is models/device.xsd. */
START_TEST(test_device_xml_schema_copy)
{
    char *file = tu_read_file(tu_path("models/device.xsd"));
    ck_assert_ptr_nonnull(file);
    ck_assert_str_eq(eqs_device_schema(), file);
    free(file);
}
END_TEST

/* `eqspice device`: the CSV of the response, checked against the library's. */
START_TEST(test_device_cli)
{
    const char *model = tu_path("models/linear-step-64.xml");
    char m[4096];
    snprintf(m, sizeof m, "%s", model);
    const char *const argv[] = {"device", m, "--pulses", "70", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 0);
    ck_assert_msg(!strncmp(out, "pulse,G_up_S,G_down_S\n", 22), "%s", out);
    int rows = 0;
    const double dw = (1e-4 - 1e-6) / 63;
    for (const char *p = strchr(out, '\n') + 1; *p; p = strchr(p, '\n') + 1, ++rows) {
        int k;
        double gu, gd;
        ck_assert_int_eq(sscanf(p, "%d,%lf,%lf", &k, &gu, &gd), 3);
        ck_assert_int_eq(k, rows);
        ck_assert(fabs(gu - fmin(1e-6 + k * dw, 1e-4)) <= 1e-12 * 1e-4);
        ck_assert(fabs(gd - fmax(1e-4 - k * dw, 1e-6)) <= 1e-12 * 1e-4);
    }
    ck_assert_int_eq(rows, 71);
    free(out);
    free(err);
    /* a bad model: exit 1 and the file:line message */
    const char *bad = dx_doc("law=\"ideal\" g_min_S=\"1\" g_max_S=\"0\"");
    char b[4096];
    snprintf(b, sizeof b, "%s", bad);
    const char *const argb[] = {"device", b, NULL};
    ck_assert_int_eq(tu_run_cli(argb, &out, &err, 60), 1);
    char want[4200];
    snprintf(want, sizeof want, "%s:3:1: error: ", b);
    ck_assert_msg(strstr(err, want) != NULL, "stderr '%s'", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    const char *const argh[] = {"device", "--pulses", "x", m, NULL};
    ck_assert_int_eq(tu_run_cli(argh, &out, &err, 60), 1);
    free(out);
    free(err);
}
END_TEST

/* ---- measured pulse tables (law="table") ---- */

/* dir/name with text; returns the path (static ring of 4). */
static const char *dx_put(const char *dir, const char *name, const char *text)
{
    static char ring[4][4096];
    static int next;
    char *p = ring[next++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

#define DX_TABLE_XML                                                                       \
    "<?xml version=\"1.0\"?>\n<!-- table -->\n<device law=\"table\" g_min_S=\"0\" "      \
    "g_max_S=\"1e-3\" table=\"t.csv\"/>\n"

START_TEST(test_device_table)
{
    /* the soft-bounds closed form at k = 0..20 as a measured table */
    enum { NT = 20 };
    const double w = 1e-3, r = 1.0 - 0.05;
    double tu[NT + 1], tdn[NT + 1];
    char csv[8192];
    size_t at = (size_t)snprintf(csv, sizeof csv, "pulse,G_up_S,G_down_S\n");
    for (int k = 0; k <= NT; ++k) {
        tu[k] = w - w * pow(r, k);
        tdn[k] = w * pow(r, 2 * k);
        at += (size_t)snprintf(csv + at, sizeof csv - at, "%d,%.17g,%.17g\n", k, tu[k], tdn[k]);
    }
    const char *dir = tu_temp_dir();
    dx_put(dir, "t.csv", csv);
    const char *xml = dx_put(dir, "m.xml", DX_TABLE_XML);
    eqs_ctx *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
    eqs_device_law *law = dx_read(ctx, xml);
    ck_assert_int_eq(law->kind, EQS_DEVICE_TABLE);
    ck_assert_int_eq(law->table_n, NT);
    eqs_device_inst dev;
    eqs_device_instance(law, 0, &dev);
    double up[NT + 3], down[NT + 3];
    eqs_device_response(law, &dev, NT + 2, up, down);
    for (int k = 0; k <= NT + 2; ++k) {
        const double eu = tu[k <= NT ? k : NT], ed = k <= NT ? tdn[k] : tdn[NT];
        ck_assert_msg(fabs(up[k] - eu) <= 1e-15 * w, "up k=%d: %.17g vs %.17g", k, up[k], eu);
        ck_assert_msg(fabs(down[k] - ed) <= 1e-15 * w, "down k=%d", k);
    }
    /* from a quarter of the way between pulses 2 and 3, one pulse lands a
     * quarter of the way between 3 and 4 */
    const double g = tu[2] + 0.25 * (tu[3] - tu[2]);
    const double want = tu[3] + 0.25 * (tu[4] - tu[3]);
    ck_assert(fabs(eqs_device_pulse(law, &dev, g, 1, 0, 0, 0) - want) <= 1e-15 * w);
    /* a request of two whole pulses from pulse 5 */
    int n;
    const double G = eqs_device_program(law, &dev, tu[5], tu[7] - tu[5], 0, 0, &n);
    ck_assert_int_eq(n, 2);
    ck_assert(fabs(G - tu[7]) <= 1e-15 * w);
    eqs_device_law_free(ctx, &law);
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_device_table_errors)
{
    const char *dir = tu_temp_dir();
    char xml[4096];
    snprintf(xml, sizeof xml, "%s", dx_put(dir, "m.xml", DX_TABLE_XML));
    char csvpath[4096];
    snprintf(csvpath, sizeof csvpath, "%s/t.csv", dir);
    /* missing CSV: at the model's line */
    dx_expect_error(xml, EQS_ERR_INPUT, 3, "t.csv");
    /* law="table" without table=, table= with another law */
    dx_expect_error(dx_doc("law=\"table\" g_min_S=\"0\" g_max_S=\"1\""), EQS_ERR_INPUT, 3,
                    "needs table=");
    dx_expect_error(dx_doc("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" table=\"x.csv\""),
                    EQS_ERR_INPUT, 3, "law=\"table\" only");
    static const struct {
        const char *csv;
        int line;
        const char *needle;
    } bad[] = {
        {"pulse,G_up,G_down\n0,0,1e-3\n1,1e-4,9e-4\n", 1, "header"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,1e-4,9e-4\n2,1e-4,8e-4\n", 4, "G_up_S does not increase"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,2e-4,9e-4\n2,1e-4,8e-4\n", 4, "G_up_S does not increase"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,1e-4,9e-4\n2,2e-4,9.5e-4\n", 4, "G_down_S does not decrease"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,1e-4 9e-4\n", 3, "finite numbers"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,nan,9e-4\n", 3, "finite numbers"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,1e-4,9e-4,7\n", 3, "finite numbers"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n2,1e-4,9e-4\n", 3, "pulse 2 where 1"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n1,2e-3,9e-4\n", 3, "outside the window"},
        {"pulse,G_up_S,G_down_S\n0,0,1e-3\n", 2, "at least"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        dx_put(dir, "t.csv", bad[i].csv);
        eqs_ctx *ctx = NULL;
        ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
        eqs_device_law *law = NULL;
        ck_assert_msg(eqs_device_law_read(ctx, xml, &law) == EQS_ERR_INPUT, "case %zu: %s", i,
                      eqs_ctx_error(ctx));
        ck_assert_ptr_null(law);
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "%s:%d:1: error: ", csvpath, bad[i].line);
        const char *msg = eqs_ctx_error(ctx);
        ck_assert_msg(!strncmp(msg, prefix, strlen(prefix)), "case %zu: '%s'", i, msg);
        ck_assert_msg(strstr(msg, bad[i].needle) != NULL, "case %zu: '%s'", i, msg);
        ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
        eqs_ctx_free(&ctx);
    }
}
END_TEST

Suite *suite_device(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("laws");
    tcase_add_test(tc, test_device_ideal_is_clip);
    tcase_add_test(tc, test_device_constant_step);
    tcase_add_test(tc, test_device_soft_bounds);
    tcase_add_test(tc, test_device_neurosim_exp);
    tcase_add_test(tc, test_device_blind_programming);
    tcase_add_test(tc, test_device_levels_nearest);
    tcase_add_test(tc, test_device_levels_stochastic);
    tcase_add_test(tc, test_device_c2c_noise);
    tcase_add_test(tc, test_device_d2d);
    tcase_add_test(tc, test_device_determinism);
    tcase_add_test(tc, test_device_xml_errors);
    tcase_add_test(tc, test_device_xml_presets);
    tcase_add_test(tc, test_device_xml_schema_copy);
    tcase_add_test(tc, test_device_cli);
    tcase_add_test(tc, test_device_table);
    tcase_add_test(tc, test_device_table_errors);
    suite_add_tcase(s, tc);
    return s;
}
