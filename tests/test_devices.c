/* test_devices.c: device tables vs closed forms and finite differences. */
#include <math.h>
#include <string.h>

#include "devices/devices.h"
#include "testutil.h"

static const double VT27 = 1.38064852e-23 / 1.6021766208e-19 * 300.15;

/* Diode parameters for a model (BV <= 0: none). */
static eqs_devparams diode_params(double is, double n, double bv, double ibv, double area,
                                  double tnom_C)
{
    eqs_diode_model m;
    memset(&m, 0, sizeof m);
    m.name = "dm";
    m.is_A = is;
    m.n = n;
    m.has_bv = bv > 0;
    m.bv_V = bv;
    m.ibv_A = ibv;
    m.tnom_C = tnom_C;
    eqs_celem e;
    memset(&e, 0, sizeof e);
    e.kind = EQS_EL_D;
    e.model = &m;
    e.area = area;
    eqs_devparams p;
    eqs_ctx *ctx = tu_ctx();
    ck_assert_int_eq(eqs_device_diode.setup(ctx, NULL, &e, 1e-3, &p), EQS_OK);
    eqs_ctx_free(&ctx);
    return p;
}

static double diode_i(const eqs_devparams *p, double v, double gmin)
{
    double i, g;
    eqs_device_diode.eval(p, v, gmin, &i, &g);
    return i;
}

/* |g - central difference of i| within a relative tolerance. */
static void check_fd(const eqs_devparams *p, double v, double gmin)
{
    double h = 1e-6 * fmax(1.0, fabs(v)) * 0.01;
    double i, g;
    eqs_device_diode.eval(p, v, gmin, &i, &g);
    double fd = (diode_i(p, v + h, gmin) - diode_i(p, v - h, gmin)) / (2 * h);
    ck_assert_msg(fabs(fd - g) <= 1e-5 * fabs(g) + 1e-20, "v=%g: g=%.10g fd=%.10g", v, g, fd);
}

START_TEST(test_thermal_voltage)
{
    ck_assert_double_eq_tol(eqs_thermal_voltage(300.15), VT27, 1e-18);
    ck_assert_double_eq_tol(eqs_thermal_voltage(300.15), 0.025864917007157463, 1e-17);
}
END_TEST

START_TEST(test_diode_forward_closed_form)
{
    eqs_devparams p = diode_params(1e-14, 1, 0, 1e-3, 1, 27);
    double i, g;
    eqs_device_diode.eval(&p, 0.6, 1e-12, &i, &g);
    double ref = 1e-14 * (exp(0.6 / VT27) - 1) + 1e-12 * 0.6;
    ck_assert_msg(fabs(i - ref) <= 1e-13 * ref, "i=%.17g ref=%.17g", i, ref);
    ck_assert_double_eq_tol(g, 1e-14 * exp(0.6 / VT27) / VT27 + 1e-12, 1e-13 * g);
    /* area scales IS; N scales vt */
    eqs_devparams p2 = diode_params(1e-14, 2, 0, 1e-3, 3, 27);
    eqs_device_diode.eval(&p2, 0.6, 0, &i, &g);
    ref = 3e-14 * (exp(0.6 / (2 * VT27)) - 1);
    ck_assert_double_eq_tol(i, ref, 1e-13 * ref);
    /* vcrit = N vt log(N vt / (sqrt2 IS area)) */
    ck_assert_double_eq_tol(p2.vcrit_V, 2 * VT27 * log(2 * VT27 / (sqrt(2.0) * 3e-14)), 1e-12);
}
END_TEST

START_TEST(test_diode_reverse_closed_form)
{
    eqs_devparams p = diode_params(2e-14, 1.5, 0, 1e-3, 1, 27);
    double v = -1.0, vte = 1.5 * VT27;
    double arg = pow(3 * vte / (v * 2.7182818284590452354), 3);
    double ref = -2e-14 * (1 + arg) + 1e-12 * v;
    ck_assert_double_eq_tol(diode_i(&p, v, 1e-12), ref, 1e-12 * fabs(ref));
}
END_TEST

START_TEST(test_diode_fd_all_regions)
{
    eqs_devparams p = diode_params(1e-14, 1.2, 5.0, 1e-3, 2, 27);
    double vte = 1.2 * VT27;
    const double vs[] = {0.8, 0.6, 0.3, 0.0, -0.5 * vte, -3 * vte + 1e-4, -3 * vte - 1e-4,
                         -0.5, -2.0, -4.9, -p.bv_V - 0.05, -p.bv_V - 0.2, -6.0};
    for (size_t k = 0; k < sizeof vs / sizeof vs[0]; ++k) {
        check_fd(&p, vs[k], 0);
        check_fd(&p, vs[k], 1e-12);
    }
}
END_TEST

START_TEST(test_diode_continuity)
{
    eqs_devparams p = diode_params(1e-14, 1, 5.0, 1e-3, 1, 27);
    double b = -3 * p.vte_V, e = 1e-12;
    double i1, g1, i2, g2;
    eqs_device_diode.eval(&p, b + e, 0, &i1, &g1);
    eqs_device_diode.eval(&p, b - e, 0, &i2, &g2);
    ck_assert_double_eq_tol(i1, i2, 1e-9 * fabs(i1));
    ck_assert_double_eq_tol(g1, g2, 1e-6 * fabs(g1));
    /* at -BV the reverse branch ends at -IS(1+arg), breakdown starts at -IS */
    double arg = pow(3 * p.vte_V / (p.bv_V * 2.7182818284590452354), 3);
    eqs_device_diode.eval(&p, -p.bv_V + e, 0, &i1, &g1);
    eqs_device_diode.eval(&p, -p.bv_V - e, 0, &i2, &g2);
    ck_assert_double_eq_tol(i1, i2, p.is_A * arg * 1.01 + 1e-25);
}
END_TEST

START_TEST(test_diode_breakdown_matches_ibv)
{
    /* diotemp.c matches the breakdown current IBV at V = -BV within
     * reltol * IBV; level 1: IBV is not scaled by area */
    const double bv = 5.0, ibv = 1e-3;
    eqs_devparams p = diode_params(1e-14, 1, bv, ibv, 1, 27);
    ck_assert(p.has_bv);
    ck_assert(p.bv_V < bv && p.bv_V > bv - 1);
    double i = diode_i(&p, -bv, 0);
    ck_assert_msg(fabs(i + ibv) <= 1e-3 * ibv, "i(-BV)=%g", i);
    /* IBV below IS*BV/vt: no matching, tBrkdwnV = BV */
    eqs_devparams q = diode_params(1e-14, 1, bv, 1e-20, 1, 27);
    ck_assert_double_eq(q.bv_V, bv);
    /* deep breakdown closed form */
    double v = -bv - 0.3;
    double ref = -p.is_A * exp(-(p.bv_V + v) / p.vtebrk_V);
    ck_assert_double_eq_tol(diode_i(&p, v, 0), ref, 1e-12 * fabs(ref));
}
END_TEST

START_TEST(test_diode_tnom)
{
    /* TNOM = 50 C: IS scaled to 27 C with EG = 1.11 eV, XTI = 3 */
    eqs_devparams p = diode_params(1e-14, 1, 0, 1e-3, 1, 50);
    double t = 300.15, tn = 50 + 273.15;
    double ref = 1e-14 * exp((t / tn - 1) * 1.11 / VT27) * pow(t / tn, 3);
    ck_assert_double_eq_tol(p.is_A, ref, 1e-12 * ref);
}
END_TEST

START_TEST(test_pnjlim)
{
    double vt = VT27, vcrit = vt * log(vt / (sqrt(2.0) * 1e-14));
    int chk = -1;
    /* below vcrit and small steps: unchanged */
    ck_assert_double_eq(eqs_pnjlim(0.5, 0.45, vt, vcrit, &chk), 0.5);
    ck_assert_int_eq(chk, 0);
    /* above vcrit from a positive old value: logarithmic step */
    double v = eqs_pnjlim(5.0, 0.6, vt, vcrit, &chk);
    ck_assert_int_eq(chk, 1);
    ck_assert_double_eq_tol(v, 0.6 + vt * (2 + log((5.0 - 0.6) / vt - 2)), 1e-15);
    /* from a non-positive old value */
    v = eqs_pnjlim(5.0, -0.1, vt, vcrit, &chk);
    ck_assert_double_eq_tol(v, vt * log(5.0 / vt), 1e-15);
    ck_assert_int_eq(chk, 1);
    /* reverse steps */
    ck_assert_double_eq(eqs_pnjlim(-10, -1, vt, vcrit, &chk), -3);
    ck_assert_int_eq(chk, 1);
    ck_assert_double_eq(eqs_pnjlim(-10, 0.5, vt, vcrit, &chk), -1.5);
    ck_assert_double_eq(eqs_pnjlim(-2, -1, vt, vcrit, &chk), -2);
    ck_assert_int_eq(chk, 0);
    /* the diode's limit: breakdown side uses -(v+BV) */
    eqs_devparams p = diode_params(1e-14, 1, 5.0, 1e-3, 1, 27);
    int lim = 0;
    double vb = eqs_device_diode.limit(&p, -20.0, -5.0, &lim);
    double ref = -(eqs_pnjlim(20.0 - p.bv_V, 5.0 - p.bv_V, p.vtebrk_V, p.vcrit_V, &chk) + p.bv_V);
    ck_assert_double_eq(vb, ref);
    ck_assert_int_eq(lim, 1);
    ck_assert(vb > -20.0);
}
END_TEST

START_TEST(test_resistor_and_registry)
{
    eqs_celem e;
    memset(&e, 0, sizeof e);
    e.kind = EQS_EL_R;
    e.value = 2e-3;
    eqs_devparams p;
    ck_assert_int_eq(eqs_device_resistor.setup(NULL, NULL, &e, 1e-3, &p), EQS_OK);
    double i, g;
    eqs_device_resistor.eval(&p, 3.0, 1e-12, &i, &g);
    ck_assert_double_eq(i, 6e-3);
    ck_assert_double_eq(g, 2e-3);
    for (int k = 0; k < EQS_EL_NKINDS; ++k) {
        const eqs_device *d = eqs_device_get((eqs_elem_kind)k);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(d->kind, k);
        ck_assert_int_eq(d->nonlinear, k == EQS_EL_D);
    }
    ck_assert_ptr_null(eqs_device_get(EQS_EL_NKINDS));
}
END_TEST

Suite *suite_devices(void)
{
    Suite *s = suite_create("devices");
    TCase *tc = tcase_create("diode");
    tcase_add_test(tc, test_thermal_voltage);
    tcase_add_test(tc, test_diode_forward_closed_form);
    tcase_add_test(tc, test_diode_reverse_closed_form);
    tcase_add_test(tc, test_diode_fd_all_regions);
    tcase_add_test(tc, test_diode_continuity);
    tcase_add_test(tc, test_diode_breakdown_matches_ibv);
    tcase_add_test(tc, test_diode_tnom);
    tcase_add_test(tc, test_pnjlim);
    tcase_add_test(tc, test_resistor_and_registry);
    suite_add_tcase(s, tc);
    return s;
}
