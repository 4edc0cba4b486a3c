/*
 * test_team.c: the TEAM memristor law (src/update/team.c, law="team").
 *
 * References independent of team.c: the closed form of the
 * constant-resistance limit (ron = roff: i constant, f = 1, so x moves
 * linearly until its bound), and a classical RK4 integration of the TEAM
 * state equation written here from the paper's equations (its own R(x),
 * threshold branches and windows), stepped finely.
 */
#include "testutil.h"
#include "update/update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the independent reference ---- */

typedef struct {
    double kon, koff, aon, aoff, ion, ioff, ron, roff, xon, xoff;
    int iv, wt;
    double p;
} ref_team;

static ref_team ref_of(const eqs_team *t)
{
    return (ref_team){t->kon_m_per_s, t->koff_m_per_s, t->alphaon, t->alphaoff, t->ion_A,
                      t->ioff_A,      t->ron_Ohm,      t->roff_Ohm, t->xon_m,  t->xoff_m,
                      t->ivrelation,  t->wt,           t->p};
}

static double ref_rate(const ref_team *r, double x, double V)
{
    const double lo = fmin(r->xon, r->xoff), hi = fmax(r->xon, r->xoff);
    const double xc = x < lo ? lo : x > hi ? hi : x;
    const double w = (xc - r->xon) / (r->xoff - r->xon);
    const double R = r->iv == 0 ? r->ron + (r->roff - r->ron) * w
                                : r->ron * exp(log(r->roff / r->ron) * w);
    const double i = V / R;
    double k;
    if (i > r->ioff) k = r->koff * pow(i / r->ioff - 1.0, r->aoff);
    else if (i < r->ion) k = r->kon * pow(i / r->ion - 1.0, r->aon);
    else return 0.0;
    double f = 1.0;
    if (r->wt == 1) f = 1.0 - pow(2.0 * w - 1.0, 2.0 * r->p);
    if (r->wt == 2) f = 1.0 - pow(w - (i >= 0.0 ? 0.0 : 1.0), 2.0 * r->p);
    const double dx = k * f;
    /* the bound being approached stops the state */
    if ((dx > 0.0 && x >= hi) || (dx < 0.0 && x <= lo)) return 0.0;
    return dx;
}

static double ref_pulse(const ref_team *r, double x, double V, double width, long steps)
{
    const double h = width / (double)steps;
    const double lo = fmin(r->xon, r->xoff), hi = fmax(r->xon, r->xoff);
    for (long s = 0; s < steps; ++s) {
        const double k1 = ref_rate(r, x, V);
        const double k2 = ref_rate(r, x + 0.5 * h * k1, V);
        const double k3 = ref_rate(r, x + 0.5 * h * k2, V);
        const double k4 = ref_rate(r, x + h * k3, V);
        x += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        x = x < lo ? lo : x > hi ? hi : x;
    }
    return x;
}

/* ---- the constant-resistance limit ---- */

START_TEST(test_team_constant_resistance)
{
    eqs_team t;
    eqs_team_defaults(&t);
    t.ron_Ohm = t.roff_Ohm = 500.0;
    const double D = t.xoff_m - t.xon_m;
    /* off branch: i = 2 mA > ioff, dx/dt = koff (i/ioff - 1)^3 */
    const double V = 1.0, i = V / 500.0;
    const double rate = t.koff_m_per_s * pow(i / t.ioff_A - 1.0, t.alphaoff);
    ck_assert_double_eq_tol(eqs_team_rate(&t, 1e-9, V), rate, 1e-15 * rate);
    /* a pulse a quarter of the window long: x linear in time */
    const double width = 0.25 * D / rate;
    double x1 = 0.0;
    ck_assert_int_eq(eqs_team_pulse_x(&t, 0.5e-9, V, width, &x1), EQS_OK);
    ck_assert_msg(fabs(x1 - (0.5e-9 + rate * width)) < 1e-9 * D, "x1 %.17g want %.17g", x1,
                  0.5e-9 + rate * width);
    /* on branch: V = -1 V, i = -2 mA < ion, moves toward xon */
    const double rate_on = t.kon_m_per_s * pow(-i / t.ion_A - 1.0, t.alphaon);
    const double w_on = 0.3 * D / -rate_on;
    ck_assert_int_eq(eqs_team_pulse_x(&t, 2.5e-9, -V, w_on, &x1), EQS_OK);
    ck_assert_msg(fabs(x1 - (2.5e-9 + rate_on * w_on)) < 1e-9 * D, "on: x1 %.17g", x1);
    /* a pulse past the bound stops there */
    ck_assert_int_eq(eqs_team_pulse_x(&t, 2.5e-9, V, width, &x1), EQS_OK);
    ck_assert_double_eq(x1, t.xoff_m);
    /* below both thresholds: no motion, exactly */
    ck_assert_int_eq(eqs_team_pulse_x(&t, 1e-9, 0.05, 1.0, &x1), EQS_OK);
    ck_assert_double_eq(x1, 1e-9);
    ck_assert_int_eq(eqs_team_pulse_x(&t, 1e-9, -1e-3, 1.0, &x1), EQS_OK);
    ck_assert_double_eq(x1, 1e-9);

    /* pulses to sweep the window xon -> xoff: ceil(D / (rate width)) */
    const double ratio = 37.4;
    const double wp = D / (rate * ratio);
    double x = t.xon_m;
    int n = 0;
    while (x < t.xoff_m && n < 1000) {
        ck_assert_int_eq(eqs_team_pulse_x(&t, x, V, wp, &x), EQS_OK);
        ++n;
    }
    ck_assert_int_eq(n, (int)ceil(ratio));

    /* the tabulated map of the same law: linear, so interpolation is exact
     * up to the integrator's tolerance away from the cell holding the bound */
    t.v_down_V = V;
    t.v_up_V = V;
    t.width_s = wp;
    enum { N = 256 };
    double *uu = malloc(2 * (N + 1) * sizeof *uu);
    ck_assert_int_eq(eqs_team_tabulate(&t, N, uu, uu + N + 1), EQS_OK);
    const double du = 1.0 / ratio;
    for (int k = 0; k < 100; ++k) {
        const double u = (k + 0.37) / 100.0 * (1.0 - du - 2.0 / N);
        ck_assert_msg(fabs(eqs_team_pulse_u(&t, u, 0) - (u + du)) < 1e-9,
                      "table at u %.17g: %.17g, want %.17g", u, eqs_team_pulse_u(&t, u, 0),
                      u + du);
    }
    free(uu);
}
END_TEST

/* ---- CVODE against finely stepped RK4 ---- */

START_TEST(test_team_vs_rk4)
{
    static const struct {
        int iv, wt;
        double p, x0_rel, V, width;
    } cs[] = {
        {0, 0, 1.0, 0.9, -0.5, 2e-4}, /* on branch from near roff, linear R */
        {0, 0, 1.0, 0.3, 2.0, 1e-3},  /* off branch */
        {1, 0, 1.0, 0.7, -0.5, 1e-3}, /* exponential R */
        {1, 0, 1.0, 0.2, 3.0, 1e-3},
        {0, 1, 2.0, 0.6, -0.5, 3e-4}, /* Joglekar */
        {0, 2, 1.0, 0.5, 2.0, 1e-3},  /* Biolek */
        {0, 2, 1.0, 0.5, -0.5, 3e-4},
    };
    for (size_t c = 0; c < sizeof cs / sizeof *cs; ++c) {
        eqs_team t;
        eqs_team_defaults(&t);
        t.ivrelation = cs[c].iv;
        t.wt = cs[c].wt;
        t.p = cs[c].p;
        const ref_team r = ref_of(&t);
        const double D = t.xoff_m - t.xon_m;
        const double x0 = t.xon_m + cs[c].x0_rel * D;
        double x1 = 0.0;
        ck_assert_int_eq(eqs_team_pulse_x(&t, x0, cs[c].V, cs[c].width, &x1), EQS_OK);
        const double xr = ref_pulse(&r, x0, cs[c].V, cs[c].width, 200000);
        const double xr2 = ref_pulse(&r, x0, cs[c].V, cs[c].width, 100000);
        /* the reference has converged (RK4 halving) far below the tolerance */
        ck_assert_msg(fabs(xr - xr2) < 1e-11 * D, "case %zu: RK4 not converged", c);
        /* the pulse moved the state by a visible amount */
        ck_assert_msg(fabs(xr - x0) > 1e-3 * D, "case %zu: no motion (%.3g)", c, (xr - x0) / D);
        ck_assert_msg(fabs(x1 - xr) < 1e-7 * D, "case %zu: CVODE %.17g RK4 %.17g (%.3g of D)", c,
                      x1, xr, (x1 - xr) / D);
    }
}
END_TEST

/* ---- the preset and the tabulated law ---- */

static eqs_device_law *read_law(eqs_ctx *ctx, const char *path)
{
    eqs_device_law *law = NULL;
    ck_assert_msg(eqs_device_law_read(ctx, path, &law) == EQS_OK, "%s", eqs_ctx_error(ctx));
    return law;
}

START_TEST(test_team_preset_table)
{
    eqs_ctx *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
    eqs_device_law *law = read_law(ctx, tu_path("models/team-memristor.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_TEAM);
    ck_assert_ptr_nonnull(law->team);
    const eqs_team *t = law->team;
    ck_assert_double_eq(law->g_min_S, 1.0 / t->roff_Ohm);
    ck_assert_double_eq(law->g_max_S, 1.0 / t->ron_Ohm);
    ck_assert_int_eq(t->grid_n, EQS_TEAM_DEFAULT_GRID);
    const ref_team r = ref_of(t);
    const double D = t->xoff_m - t->xon_m;

    /* table against direct CVODE at off-grid states: the linear
     * interpolation error of a cell is bounded by the second differences
     * of the tabulated map next to it (h^2 |u''|/8 for a smooth map) */
    const int n = t->grid_n;
    double worst = 0.0;
    for (int dir = 0; dir < 2; ++dir) {
        const double *m = dir ? t->u_up : t->u_down;
        const double V = dir ? -t->v_up_V : t->v_down_V;
        for (int j = 0; j < 300; ++j) {
            const double u = (j + 0.5) / 300.0;
            double x1 = 0.0;
            ck_assert_int_eq(eqs_team_pulse_x(t, t->xon_m + u * D, V, t->width_s, &x1), EQS_OK);
            const double direct = (x1 - t->xon_m) / D;
            const double tab = eqs_team_pulse_u(t, u, dir);
            int k = (int)(u * n);
            double d2 = 0.0;
            for (int q = k - 1; q <= k + 2; ++q)
                if (q >= 1 && q < n) d2 = fmax(d2, fabs(m[q + 1] - 2.0 * m[q] + m[q - 1]));
            const double err = fabs(tab - direct);
            worst = fmax(worst, err);
            ck_assert_msg(err <= d2 + 1e-9, "dir %d u %.6f: table %.17g direct %.17g bound %.3g",
                          dir, u, tab, direct, d2);
        }
    }
    if (getenv("EQS_TEAM_REPORT")) fprintf(stderr, "team: table error %.3g\n", worst);
    ck_assert_msg(worst < 1e-4, "table error %.3g of the window", worst);

    /* the law's pulse response against RK4 pulse by pulse, from each bound */
    enum { P = 40 };
    double up[P + 1], down[P + 1];
    eqs_device_inst dev;
    eqs_device_instance(law, 0, &dev);
    eqs_device_response(law, &dev, P, up, down);
    double xu = t->xoff_m, xd = t->xon_m; /* G_min: roff; G_max: ron */
    for (int k = 1; k <= P; ++k) {
        xu = ref_pulse(&r, xu, -t->v_up_V, t->width_s, 4000);
        xd = ref_pulse(&r, xd, t->v_down_V, t->width_s, 4000);
        const double gu = 1.0 / (t->ron_Ohm + (t->roff_Ohm - t->ron_Ohm) * (xu - t->xon_m) / D);
        const double gd = 1.0 / (t->ron_Ohm + (t->roff_Ohm - t->ron_Ohm) * (xd - t->xon_m) / D);
        const double w = law->g_max_S - law->g_min_S;
        ck_assert_msg(fabs(up[k] - gu) < 1e-3 * w, "up %d: %.17g ref %.17g", k, up[k], gu);
        ck_assert_msg(fabs(down[k] - gd) < 1e-3 * w, "down %d: %.17g ref %.17g", k, down[k], gd);
        ck_assert(up[k] > up[k - 1] && down[k] < down[k - 1]);
    }

    /* programming a change: the walk lands within one pulse of the target */
    const double G0 = 2e-3, T = 5e-3;
    int np = 0;
    const double G1 = eqs_device_program(law, &dev, G0, T - G0, 0, 0, &np);
    ck_assert_int_gt(np, 0);
    ck_assert_msg(fabs(G1 - T) <= fabs(eqs_device_step(law, &dev, G1, 1)) + 1e-15,
                  "programmed %.17g for %.17g", G1, T);
    eqs_device_law_free(ctx, &law);
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---- bad parameters: file:line ---- */

static void team_expect_error(const char *attrs, const char *needle)
{
    char text[2048];
    snprintf(text, sizeof text, "<?xml version=\"1.0\"?>\n<!-- team -->\n<device %s/>\n", attrs);
    const char *path = tu_write_temp(text, ".xml");
    eqs_ctx *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(&ctx), EQS_OK);
    eqs_device_law *law = (eqs_device_law *)1;
    ck_assert_int_eq(eqs_device_law_read(ctx, path, &law), EQS_ERR_INPUT);
    ck_assert_ptr_null(law);
    const char *msg = eqs_ctx_error(ctx);
    char want[4096];
    snprintf(want, sizeof want, "%s:3:", path);
    ck_assert_msg(!strncmp(msg, want, strlen(want)), "'%s': expected prefix '%s'", msg, want);
    ck_assert_msg(strstr(msg, needle) != NULL, "'%s' lacks '%s'", msg, needle);
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}

START_TEST(test_team_errors)
{
    /* schema */
    team_expect_error("law=\"team\" wt=\"3\"", "wt");
    team_expect_error("law=\"team\" ivrelation=\"2\"", "ivrelation");
    team_expect_error("law=\"team\" team_grid=\"8\"", "team_grid");
    team_expect_error("law=\"team\" kon=\"fast\"", "kon");
    /* ranges */
    team_expect_error("law=\"team\" koff=\"-8e-13\"", "(koff)");
    team_expect_error("law=\"team\" kon=\"8e-13\"", "(kon)");
    team_expect_error("law=\"team\" koff=\"0\"", "(koff)");
    team_expect_error("law=\"team\" ion=\"8.9e-6\"", "(ion)");
    team_expect_error("law=\"team\" ion=\"0\"", "(ion)");
    team_expect_error("law=\"team\" ioff=\"0\"", "(ioff)");
    team_expect_error("law=\"team\" ioff=\"-1e-4\"", "(ioff)");
    team_expect_error("law=\"team\" alphaon=\"0\"", "(alphaon)");
    team_expect_error("law=\"team\" alphaoff=\"-1\"", "(alphaoff)");
    team_expect_error("law=\"team\" ron=\"-5\"", "(ron)");
    team_expect_error("law=\"team\" xon=\"3e-9\"", "(xoff)");
    team_expect_error("law=\"team\" wt=\"1\" p=\"0\"", "(p)");
    team_expect_error("law=\"team\" pulse_width_s=\"0\"", "(pulse_width_s)");
    team_expect_error("law=\"team\" pulse_width_s=\"-1e-6\"", "(pulse_width_s)");
    team_expect_error("law=\"team\" pulse_up_V=\"0\"", "(pulse_up_V)");
    team_expect_error("law=\"team\" pulse_down_V=\"-1\"", "(pulse_down_V)");
    team_expect_error("law=\"team\" ron=\"1000\" roff=\"50\"", "not below roff");
    team_expect_error("law=\"team\" ron=\"100\" roff=\"100\"", "not below roff");
    /* attributes that do not belong */
    team_expect_error("law=\"team\" g_min_S=\"1e-3\" g_max_S=\"2e-2\"", "no g_min_S");
    team_expect_error("law=\"soft\" g_min_S=\"0\" g_max_S=\"1\" kon=\"-1e-12\"",
                      "kon= belongs to law=\"team\"");
    team_expect_error("law=\"soft\" g_max_S=\"1\"", "'g_min_S' is required");
}
END_TEST

/* ---- training through the law ---- */

/* The preset's kinetics scaled to a 5 uS .. 100 uS window (R x 200,
 * thresholds / 200: the same response against pulse number), trained on
 * the per-sample (newton) and the batched (layered) path: every
 * conductance stays in the law's window, training moved some, and the
 * two runs of the same experiment give the same bits. */
START_TEST(test_team_training)
{
    char model[4096];
    snprintf(model, sizeof model, "%s",
             tu_write_temp("<?xml version=\"1.0\"?>\n<device law=\"team\" ron=\"1e4\" "
                           "roff=\"2e5\" ion=\"-4.45e-8\" ioff=\"5.75e-7\" "
                           "pulse_up_V=\"0.5\" pulse_down_V=\"8\" pulse_width_s=\"1e-5\" "
                           "team_grid=\"1024\"/>\n",
                           ".xml"));
    static const char *const backends[2] = {"newton", "layered"};
    for (int b = 0; b < 2; ++b) {
        char xml[8192];
        snprintf(xml, sizeof xml,
                 "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
                 "  <network><drn layers=\"6 6 3\" g_init_min_S=\"2e-6\" "
                 "g_init_max_S=\"9e-5\"/></network>\n"
                 "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"48\" "
                 "test_size=\"24\" features=\"6\"/></dataset>\n"
                 "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
                 "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
                 "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
                 "  <learning momentum=\"0.5\"><rate elements=\"r*\" value=\"2e-5\"/>"
                 "</learning>\n"
                 "  <training epochs=\"3\" batch=\"4\" seed=\"11\"/>\n"
                 "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\" device_model=\"%s\"/>\n"
                 "  <solver backend=\"%s\"/>\n"
                 "  <output dir=\"/nonexistent\" checkpoint_every=\"0\"/>\n"
                 "</experiment>\n",
                 model, backends[b]);
        char path[4096];
        snprintf(path, sizeof path, "%s", tu_write_temp(xml, ".xml"));
        double *g[2] = {NULL, NULL}, *g0 = NULL;
        int n = 0;
        for (int run = 0; run < 3; ++run) {
            tu_job j;
            tu_job_open(&j, path, 1);
            const int steps = run == 0 ? 0 : 24;
            for (int s = 0; s < steps; ++s)
                ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
            n = eqs_circuit_param_count(j.c);
            if (run == 0) g0 = tu_conductances(j.c);
            else g[run - 1] = tu_conductances(j.c);
            tu_job_close(&j);
        }
        int moved = 0;
        for (int k = 0; k < n; ++k) {
            ck_assert_msg(g[0][k] >= 1.0 / 2e5 && g[0][k] <= 1.0 / 1e4, "%s: G[%d] = %.17g",
                          backends[b], k, g[0][k]);
            moved += g[0][k] != g0[k];
        }
        ck_assert_msg(moved > 0, "%s: nothing moved", backends[b]);
        ck_assert_msg(memcmp(g[0], g[1], (size_t)n * sizeof *g[0]) == 0, "%s: not repeatable",
                      backends[b]);
        free(g0);
        free(g[0]);
        free(g[1]);
    }
}
END_TEST

Suite *suite_team(void)
{
    Suite *s = suite_create("team");
    TCase *tc = tcase_create("team");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_team_constant_resistance);
    tcase_add_test(tc, test_team_vs_rk4);
    tcase_add_test(tc, test_team_preset_table);
    tcase_add_test(tc, test_team_errors);
    tcase_add_test(tc, test_team_training);
    suite_add_tcase(s, tc);
    return s;
}
