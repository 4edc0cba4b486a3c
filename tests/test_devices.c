/* test_devices.c: device tables vs closed forms and finite differences. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
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

/* ---- temperature (ngspice 39.3 diotemp.c), closed forms ---------- */

/* Boltzmann / charge / 0 C as ngspice 39 const.h spells them. */
#define K_BOLTZ 1.38064852e-23
#define Q_CHARGE 1.6021766208e-19
#define C_TO_K 273.15

/* IS(T) = IS area (T/Tn)^(XTI/N) exp((T/Tn - 1) EG q / (N k T)). */
static double is_of_t(double is, double area, double n, double eg, double xti, double t,
                      double tn)
{
    return is * area * pow(t / tn, xti / n) * exp((t / tn - 1) * eg * Q_CHARGE / (n * K_BOLTZ * t));
}

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
} temp_fix;

static void temp_open(temp_fix *f, const char *text)
{
    f->ctx = tu_ctx();
    eqs_status st = eqs_netlist_read_string(f->ctx, text, "t.cir", &f->nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
    st = eqs_circuit_create(f->ctx, f->nl, &f->c);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
}

static void temp_close(temp_fix *f)
{
    eqs_circuit_free(&f->c);
    eqs_netlist_free(&f->nl);
    eqs_ctx_free(&f->ctx);
}

/* Parameters of the compiled diode `name` after setup with reltol. */
static eqs_devparams temp_params(const temp_fix *f, const char *name, double reltol)
{
    int k = eqs_netlist_elem_find(f->nl, name);
    ck_assert_msg(k >= 0, "no element %s", name);
    ck_assert_int_eq(f->c->elems[k].kind, EQS_EL_D);
    eqs_devparams p;
    ck_assert_int_eq(eqs_device_diode.setup(f->ctx, f->c, &f->c->elems[k], reltol, &p), EQS_OK);
    return p;
}

static void assert_rel(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s: %.17g, want %.17g (rel %.3g)", what,
                  got, want, fabs(got - want) / fabs(want));
}

static const char temp_deck[] =
    "t\n"
    ".temp 85\n"
    ".options temp=10 tnom=35\n" /* .temp wins over .options temp= */
    "v1 a 0 1\n"
    "d1 a 0 dsi area=2\n"
    "d2 a 0 dsch\n"
    "d3 a 0 dsi temp=100 dtemp=7\n" /* temp= wins over dtemp= */
    "d4 a 0 dsi dtemp=-20\n"
    "d5 a 0 dn\n"
    "d6 0 a dz0\n"
    "d7 0 a dz1\n"
    "d8 0 a drs area=3\n"
    ".model dsi D(is=1e-14 n=1.05)\n"
    ".model dsch D(is=5e-9 n=1.1 eg=0.69 xti=2)\n"
    ".model dn D(is=1e-12 n=2 tnom=50)\n"
    ".model dz0 D(is=1e-14 bv=5.1 ibv=1m tcv=2.5m)\n"
    ".model dz1 D(is=1e-12 n=1.2 bv=6.2 ibv=5m tlev=1 tcv=4e-4 nbv=2)\n"
    ".model drs D(is=2e-14 rs=20 trs1=3e-3 trs2=1e-5)\n";

START_TEST(test_diode_temperature_is)
{
    temp_fix f;
    temp_open(&f, temp_deck);
    const double t = 85 + C_TO_K, tn = 35 + C_TO_K;
    ck_assert_int_eq(f.nl->options.temp_set, 2);
    ck_assert_double_eq(f.nl->options.temp_C, 85);
    struct {
        const char *name;
        double is, area, n, eg, xti, t, tn;
    } cases[] = {
        {"d1", 1e-14, 2, 1.05, 1.11, 3, t, tn},          /* defaults EG XTI, .options tnom */
        {"d2", 5e-9, 1, 1.1, 0.69, 2, t, tn},            /* EG, XTI given */
        {"d3", 1e-14, 1, 1.05, 1.11, 3, 100 + C_TO_K, tn}, /* instance temp= */
        {"d4", 1e-14, 1, 1.05, 1.11, 3, t - 20, tn},     /* instance dtemp= */
        {"d5", 1e-12, 1, 2, 1.11, 3, t, 50 + C_TO_K},    /* model TNOM over .options tnom */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        eqs_devparams p = temp_params(&f, cases[k].name, 1e-3);
        double vt = K_BOLTZ * cases[k].t / Q_CHARGE, vte = cases[k].n * vt;
        double is = is_of_t(cases[k].is, cases[k].area, cases[k].n, cases[k].eg, cases[k].xti,
                            cases[k].t, cases[k].tn);
        ck_assert_double_eq(p.temp_K, cases[k].t);
        assert_rel(p.vt_V, vt, 1e-14, cases[k].name);
        assert_rel(p.is_A, is, 1e-12, cases[k].name);
        assert_rel(p.vcrit_V, vte * log(vte / (sqrt(2.0) * is)), 1e-12, cases[k].name);
        /* the forward current uses N k T / q */
        double i = diode_i(&p, 0.5, 0), ref = is * (exp(0.5 / vte) - 1);
        assert_rel(i, ref, 1e-11, cases[k].name);
    }
    temp_close(&f);
}
END_TEST

START_TEST(test_diode_temperature_bv_rs)
{
    temp_fix f;
    temp_open(&f, temp_deck);
    const double t = 85 + C_TO_K, tn = 35 + C_TO_K, dt = t - tn, vt = K_BOLTZ * t / Q_CHARGE;
    /* BV(T): TLEV 0 BV - TCV dT; TLEV 1 BV (1 - TCV dT); then diotemp.c
     * picks tBrkdwnV so that IS(T) (exp((BV(T) - tBV) / (NBV vt)) - 1 +
     * tBV / vt) = IBV within reltol IBV */
    struct {
        const char *name;
        double is, n, nbv, bvt, ibv;
    } z[] = {
        {"d6", 1e-14, 1, 1, 5.1 - 2.5e-3 * dt, 1e-3},
        {"d7", 1e-12, 1.2, 2, 6.2 * (1 - 4e-4 * dt), 5e-3},
    };
    const double reltol = 1e-9;
    for (size_t k = 0; k < sizeof z / sizeof *z; ++k) {
        eqs_devparams p = temp_params(&f, z[k].name, reltol);
        double is = is_of_t(z[k].is, 1, z[k].n, 1.11, 3, t, tn);
        assert_rel(p.vtebrk_V, z[k].nbv * vt, 1e-14, z[k].name);
        double ibv = is * (exp((z[k].bvt - p.bv_V) / (z[k].nbv * vt)) - 1 + p.bv_V / vt);
        ck_assert_msg(fabs(ibv - z[k].ibv) <= reltol * z[k].ibv * 1.000001,
                      "%s: current at the matched BV %.17g A, want %g A", z[k].name, ibv,
                      z[k].ibv);
        ck_assert(p.bv_V < z[k].bvt && p.bv_V > 0);
        /* deep breakdown: -IS(T) exp(-(tBV + v) / (NBV vt)) */
        double v = -p.bv_V - 0.2, ref = -is * exp(-(p.bv_V + v) / (z[k].nbv * vt));
        assert_rel(diode_i(&p, v, 0), ref, 1e-11, z[k].name);
    }
    /* RS(T) = RS (1 + TRS1 dT + TRS2 dT^2) / area, as the compiled series
     * resistor and as the deck would give ngspice */
    int d8 = eqs_netlist_elem_find(f.nl, "d8");
    double g = eqs_diode_rs_conductance(f.nl, &f.nl->elems[d8]);
    assert_rel(g, 3 / (20 * (1 + 3e-3 * dt + 1e-5 * dt * dt)), 1e-14, "rs");
    int found = 0;
    for (int e = f.nl->n_elems; e < f.c->n_elems; ++e)
        if (f.c->elems[e].kind == EQS_EL_R && f.c->elems[e].origin < 0) {
            ck_assert_double_eq(eqs_celem_value(f.c, &f.c->elems[e]), g);
            found++;
        }
    ck_assert_int_eq(found, 1);
    temp_close(&f);
}
END_TEST

/* No temperature card, no TNOM: 27 C everywhere and IS unchanged (the
 * nominal and circuit temperatures are the same 300.15 K). */
START_TEST(test_diode_temperature_default)
{
    temp_fix f;
    temp_open(&f, "t\nv1 a 0 1\nd1 a 0 dm\n.model dm D(is=3e-14 eg=0.5 xti=7 trs1=1 rs=5)\n");
    eqs_devparams p = temp_params(&f, "d1", 1e-3);
    ck_assert_double_eq(p.temp_K, 300.15);
    ck_assert_double_eq(p.is_A, 3e-14);
    ck_assert_double_eq(eqs_diode_rs_conductance(f.nl, &f.nl->elems[1]), 1.0 / 5);
    temp_close(&f);
    /* .options temp= alone; the last one wins */
    temp_open(&f, "t\n.options temp=0\nv1 a 0 1\nd1 a 0 dm\n.model dm D(is=3e-14)\n"
                  ".options temp=-40\n");
    p = temp_params(&f, "d1", 1e-3);
    ck_assert_double_eq(p.temp_K, -40 + 273.15);
    assert_rel(p.is_A, is_of_t(3e-14, 1, 1, 1.11, 3, -40 + C_TO_K, 300.15), 1e-12, "-40");
    temp_close(&f);
    /* '.temp=T', the last .temp wins */
    temp_open(&f, "t\n.temp=150\n.temp 125\nv1 a 0 1\nd1 a 0 dm\n.model dm D(is=3e-14)\n");
    ck_assert_double_eq(temp_params(&f, "d1", 1e-3).temp_K, 125 + 273.15);
    temp_close(&f);
}
END_TEST

static void temp_expect_err(const char *text, eqs_status want, const char *msg)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, "t.cir", &nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, nl, &c);
    ck_assert_msg(st == want, "status %d, want %d for:\n%s", (int)st, (int)want, text);
    ck_assert_str_eq(eqs_ctx_error(ctx), msg);
    ck_assert_ptr_null(c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}

START_TEST(test_temperature_errors)
{
    const char *dm = "v1 a 0 1\n.model dm D(is=1e-14 rs=10 bv=5 tcv=0.1 trs1=-0.01)\n";
    char buf[512];
    static const struct {
        const char *head;
        eqs_status st;
        const char *msg;
    } cases[] = {
        {".temp\n", EQS_ERR_PARSE, "t.cir:2:1: error: '.temp' needs a temperature (C)"},
        {".temp 27 85\n", EQS_ERR_PARSE,
         "t.cir:2:10: error: '.temp' takes one temperature, got a second one '85' (a "
         "temperature sweep is not supported: one operating point)"},
        {".temp -300\n", EQS_ERR_PARSE,
         "t.cir:2:7: error: '.temp' needs a temperature above -273.15 C, got '-300'"},
        {".options tnom=-273.15\n", EQS_ERR_PARSE,
         "t.cir:2:15: error: 'tnom' needs a temperature above -273.15 C, got '-273.15'"},
        {".options temp\n", EQS_ERR_PARSE, "t.cir:2:10: error: missing value for option 'temp'"},
        {".model dx D(tlev=3)\n", EQS_ERR_PARSE,
         "t.cir:2:18: error: unsupported 'tlev' 3 in model 'dx' (0, 1 or 2)"},
        {".model dx D(tnom=-500)\n", EQS_ERR_PARSE,
         "t.cir:2:18: error: 'tnom' in model 'dx' needs a temperature above -273.15 C"},
        {"d1 a 0 dm temp=-274\n", EQS_ERR_PARSE,
         "t.cir:2:16: error: 'temp' in 'd1' needs a temperature above -273.15 C, got '-274'"},
        {"d1 a 0 dm dtemp=\n", EQS_ERR_PARSE, "t.cir:2:16: error: missing value for 'dtemp' in 'd1'"},
        /* the circuit compiler: instance temperature, RS(T), BV(T) */
        {"d1 a 0 dm dtemp=-400\n", EQS_ERR_INPUT,
         "t.cir:2:1: error: diode 'd1': temperature -373 C (temp + dtemp) is not above absolute "
         "zero"},
        {".temp 150\nd1 a 0 dm\n", EQS_ERR_INPUT,
         "t.cir:3:1: error: diode 'd1': RS (1 + TRS1 dT + TRS2 dT^2) of model 'dm' is not "
         "positive at 150 C (dT = 123 K)"},
        {".temp 100\nd1 a 0 dm\n", EQS_ERR_INPUT,
         "t.cir:3:1: error: diode 'd1': breakdown voltage of model 'dm' is -2.3 V at 100 C "
         "(TCV), not positive"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        snprintf(buf, sizeof buf, "t\n%s%s", cases[k].head, dm);
        temp_expect_err(buf, cases[k].st, cases[k].msg);
    }
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
    e.param = -1;
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
        ck_assert_int_eq(d->nonlinear, k == EQS_EL_D || k == EQS_EL_MEMIV);
    }
    ck_assert_ptr_null(eqs_device_get(EQS_EL_NKINDS));
}
END_TEST


/* The device table: every kind can be checked and written; nonlinear
 * kinds have the Newton hooks; the topology flags say what SPICE's
 * elements are (independent statement: R D V E H conduct at DC, V E H fix
 * a voltage and need a branch, F H read a controlling source). */
START_TEST(test_device_table)
{
    static const unsigned want[EQS_EL_NKINDS] = {
        [EQS_EL_R] = EQS_DEV_DC_PATH | EQS_DEV_RECIPROCAL | EQS_DEV_TRAINABLE,
        [EQS_EL_D] = EQS_DEV_DC_PATH | EQS_DEV_RECIPROCAL,
        [EQS_EL_V] = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_RECIPROCAL |
                     EQS_DEV_SOURCE,
        [EQS_EL_I] = EQS_DEV_RECIPROCAL | EQS_DEV_SOURCE,
        [EQS_EL_E] = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH,
        [EQS_EL_G] = 0,
        [EQS_EL_F] = EQS_DEV_CONTROLLED,
        [EQS_EL_H] = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_CONTROLLED,
        /* implicit, in parallel with its memristor (which carries the DC path) */
        [EQS_EL_MEMIV] = EQS_DEV_RECIPROCAL,
    };
    /* an input change: a resistor moves b0 by G dV; nothing depends on it
     * in a diode (loaded every iteration), a current source or the fixing
     * V; a controlled source reads it elsewhere (refresh) */
    static const eqs_input_rule want_input[EQS_EL_NKINDS] = {
        [EQS_EL_R] = EQS_INPUT_CONDUCTANCE, [EQS_EL_D] = EQS_INPUT_NONE,
        [EQS_EL_V] = EQS_INPUT_NONE,        [EQS_EL_I] = EQS_INPUT_NONE,
        [EQS_EL_E] = EQS_INPUT_REFRESH,     [EQS_EL_G] = EQS_INPUT_REFRESH,
        [EQS_EL_F] = EQS_INPUT_REFRESH,     [EQS_EL_H] = EQS_INPUT_REFRESH,
        [EQS_EL_MEMIV] = EQS_INPUT_NONE,
    };
    for (int k = 0; k < EQS_EL_NKINDS; ++k) {
        const eqs_device *d = eqs_device_get((eqs_elem_kind)k);
        /* the implicit I-V element has no card: its memristor writes both */
        ck_assert_msg((d->card || k == EQS_EL_MEMIV) && d->check, "%s: card writer and check",
                      d->name);
        ck_assert_msg(d->flags == want[k], "%s: flags %#x, want %#x", d->name, d->flags, want[k]);
        if (d->nonlinear) ck_assert(d->setup && d->eval && d->limit && d->v_init);
        /* trainable devices, and only they, give dE/dtheta */
        ck_assert_int_eq(!!d->denergy, !!(d->flags & EQS_DEV_TRAINABLE));
        ck_assert_int_eq(!!d->energy_contrast, !!(d->flags & EQS_DEV_TRAINABLE));
        if (d->denergy) { /* against the co-content's derivative by finite differences */
            const double vs[] = {-2.5, -0.3, 0.0, 0.7, 3.0};
            for (int i = 0; i < 5; ++i) {
                const double v = vs[i], G = 1e-3, h = 1e-6;
                /* E(G) = G v^2 / 2 is linear in G: the central difference is exact up to rounding */
                double fd = ((G + h) * v * v / 2 - (G - h) * v * v / 2) / (2 * h);
                ck_assert_double_eq_tol(d->denergy(v), fd, 1e-9 * (1 + v * v));
                ck_assert(d->energy_contrast(v, -1.25) ==
                          (-1.25 - v) * (-1.25 + v)); /* 2 (dE(v2) - dE(v1)) */
                ck_assert_double_eq_tol(d->energy_contrast(v, 0.4),
                                        2 * (d->denergy(0.4) - d->denergy(v)), 1e-15 * (1 + v * v));
            }
        }
        ck_assert_int_eq(!!d->model_of, !!d->model_card);
        /* linear devices stamp and have fixed-node currents; every device
         * but I has Jacobian entries; KCL gives the V-defined currents */
        ck_assert_int_eq(!!d->stamp, !d->nonlinear);
        ck_assert_int_eq(!!d->fixed_current, !d->nonlinear);
        ck_assert_int_eq(!!d->slots, k != EQS_EL_I);
        ck_assert_int_eq(!d->current, !!(d->flags & EQS_DEV_VOLTAGE));
        ck_assert_msg(d->input == want_input[k], "%s: input rule %d, want %d", d->name,
                      (int)d->input, (int)want_input[k]);
        ck_assert_int_eq(!!d->expand, k == EQS_EL_D || k == EQS_EL_R); /* RS; a memristor's I-V */
    }
    /* card writers: the circuit's value when compiled (1/G for R), else
     * the netlist's; %.17g */
    eqs_element e;
    memset(&e, 0, sizeof e);
    e.kind = EQS_EL_R;
    e.value = 300;
    eqs_celem ce;
    memset(&ce, 0, sizeof ce);
    ce.param = -1;
    ce.value = 1.0 / 3;
    eqs_devcard w = {NULL, &e, NULL, NULL, "r.mr1", {"a", "0", "0", "0"}, NULL};
    char buf[128];
    int len = eqs_device_resistor.card(&w, NULL, 0);
    ck_assert_int_eq(eqs_device_resistor.card(&w, buf, sizeof buf), len);
    ck_assert_str_eq(buf, "r.mr1 a 0 300");
    w.ce = &ce;
    eqs_device_resistor.card(&w, buf, sizeof buf);
    ck_assert_str_eq(buf, "r.mr1 a 0 3");
    e.kind = EQS_EL_H;
    e.value = 2.5;
    w.ce = NULL;
    w.name = "h1";
    ck_assert_int_lt(eqs_device_ccvs.card(&w, buf, sizeof buf), 0); /* no controlling source */
    w.ctrl = "v.x1.vs";
    eqs_device_ccvs.card(&w, buf, sizeof buf);
    ck_assert_str_eq(buf, "h1 a 0 v.x1.vs 2.5");
}
END_TEST

/* Every linear kind with a terminal on a fixed node (f, g held by V1, V2),
 * a floating controlling source (Vs: a branch), a diode with and without
 * RS.  No loop of V/E/H: the V-defined edges form a forest. */
static const char *const HOOK_NET =
    "* device hooks\n"
    "V1 f 0 2.0\n"
    "V2 g 0 -1.5\n"
    "R1 f a 1k\n"
    "R2 g f 2k\n"
    "I1 a f 1m\n"
    "G1 f a b d 3m\n"
    "G2 a g e f 1m\n"
    "Vs a b 0.5\n"
    "E1 f d a g 2\n"
    "F1 a g Vs 4\n"
    "H1 e g Vs 10\n"
    "D1 f a dm\n"
    "D2 b 0 dr 2\n"
    "R3 a 0 1k\n"
    "R4 b 0 1k\n"
    "R5 d 0 1k\n"
    "R6 e 0 1k\n"
    ".model dm D(is=1e-14 n=1.5)\n"
    ".model dr D(is=1e-12 rs=10)\n"
    ".end\n";

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
} hook_fix;

static void hook_open(hook_fix *h)
{
    h->ctx = tu_ctx();
    ck_assert_int_eq(eqs_netlist_read_string(h->ctx, HOOK_NET, "hooks.cir", &h->nl), EQS_OK);
    ck_assert_msg(eqs_circuit_create(h->ctx, h->nl, &h->c) == EQS_OK, "%s",
                  eqs_ctx_error(h->ctx));
}

static void hook_close(hook_fix *h)
{
    eqs_circuit_free(&h->c);
    eqs_netlist_free(&h->nl);
    eqs_ctx_free(&h->ctx);
}

static int hook_elem(const eqs_circuit *c, const char *name)
{
    for (int e = 0; e < c->n_elems; ++e)
        if (c->elems[e].origin >= 0 && strcmp(c->nl->elems[c->elems[e].origin].name, name) == 0)
            return e;
    ck_abort_msg("no element %s", name);
    return -1;
}

/* Deterministic values in [-1, 1). */
static double hook_val(int k) { return (double)((k * 7919 + 13) % 2000) / 1000.0 - 1.0; }

/* fixed_current against the element's current from its definition: with
 * V(node) = the unknown's value (or the fixed voltage) and every branch
 * current an unknown, the current leaving the fixed terminal n[t] is
 * R: G (V(n[t]) - V(other)); otherwise s * (current n[0] -> n[1]), s = +1
 * at n[0], -1 at n[1], with I: its value, G: gm (V(c) - V(d)), F: gain
 * I(Vs), V/E/H: the branch current.  The fixing sources report nothing. */
START_TEST(test_fixed_current_closed_form)
{
    hook_fix h;
    hook_open(&h);
    const eqs_circuit *c = h.c;
    double *x = calloc((size_t)c->n_unknowns + 1, sizeof *x);
    double *vf = calloc((size_t)c->n_nodes, sizeof *vf);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(vf);
    for (int i = 0; i < c->n_unknowns; ++i) x[i] = hook_val(i + 1);
    for (int n = 1; n < c->n_nodes; ++n)
        if (c->node_unknown[n] < 0) vf[n] = eqs_circuit_fixed_voltage(c, n, 1.0);
    ck_assert_double_eq(vf[eqs_circuit_node_find(c, "f")], 2.0);
    int seen = 0, fixing = 0;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        for (int t = 0; t < 2; ++t) {
            int nd = ce->n[t];
            if (nd <= 0 || c->node_unknown[nd] >= 0) continue;
            if (!dev->fixed_current) {
                ck_assert(dev->nonlinear);
                continue;
            }
            eqs_fxcurrent fc = {0.0, {-1, -1}, {0.0, 0.0}};
            if (!dev->fixed_current(c, vf, ce, t, &fc)) {
                ck_assert_int_eq(ce->kind, EQS_EL_V); /* only the fixing source */
                ck_assert_int_lt(ce->branch, 0);
                fixing++;
                continue;
            }
            double got = fc.k0;
            for (int m = 0; m < 2; ++m)
                if (fc.j[m] >= 0) got += fc.x[m] * x[fc.j[m]];
#define V_OF(n) (c->node_unknown[n] >= 0 ? x[c->node_unknown[n]] : vf[n])
            const double s = t == 0 ? 1.0 : -1.0, val = eqs_celem_value(c, ce);
            double want = 0;
            switch (ce->kind) {
            case EQS_EL_R: want = val * (V_OF(nd) - V_OF(ce->n[1 - t])); break;
            case EQS_EL_I: want = s * val; break;
            case EQS_EL_G: want = s * val * (V_OF(ce->n[2]) - V_OF(ce->n[3])); break;
            case EQS_EL_F: want = s * val * x[c->elems[ce->ctrl].branch]; break;
            default: want = s * x[ce->branch]; break; /* V, E, H */
            }
#undef V_OF
            ck_assert_msg(fabs(got - want) <= 1e-15 * (fabs(want) + 1.0),
                          "%s at terminal %d: %.17g, want %.17g",
                          c->nl->elems[ce->origin].name, t, got, want);
            seen++;
        }
    }
    ck_assert_int_eq(fixing, 2);
    ck_assert_int_eq(seen, 9); /* R1, R2 (twice), I1, G1, G2, E1, F1, H1 */
    free(x);
    free(vf);
    hook_close(&h);
}
END_TEST

/* `current` against closed forms at arbitrary node voltages; the diode
 * with RS: the current i through RS and the junction satisfies
 * i = I_D(v(anode) - v(cathode) - i / g_rs) (I_D from eval). */
START_TEST(test_device_current_closed_form)
{
    hook_fix h;
    hook_open(&h);
    const eqs_circuit *c = h.c;
    const int nu = c->n_user_nodes;
    double *v = calloc((size_t)nu, sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int n = 1; n < nu; ++n) v[n] = 0.3 * hook_val(n + 5);
    const double gmin = 1e-12;
    const eqs_devsolution sol = {h.ctx, c, v, 1e-6, gmin};
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        ck_assert_int_eq(dev->current == NULL, (dev->flags & EQS_DEV_VOLTAGE) != 0);
        if (!dev->current || ce->origin < 0) continue;
        eqs_devcurrent cu;
        ck_assert_int_eq(dev->current(&sol, ce, &cu), EQS_OK);
        const double val = eqs_celem_value(c, ce);
        ck_assert_int_eq(cu.b, ce->n[1]);
        if (ce->kind != EQS_EL_D) ck_assert_int_eq(cu.a, ce->n[0]);
        switch (ce->kind) {
        case EQS_EL_R: ck_assert_double_eq(cu.i0, val * (v[cu.a] - v[cu.b])); break;
        case EQS_EL_I: ck_assert_double_eq(cu.i0, val); break;
        case EQS_EL_G: ck_assert_double_eq(cu.i0, val * (v[ce->n[2]] - v[ce->n[3]])); break;
        case EQS_EL_F:
            ck_assert_double_eq(cu.i0, 0.0);
            ck_assert_double_eq(cu.gain, 4.0);
            break;
        case EQS_EL_D: {
            eqs_devparams p;
            ck_assert_int_eq(dev->setup(h.ctx, c, ce, 1e-6, &p), EQS_OK);
            const eqs_element *el = &c->nl->elems[ce->origin];
            double vd = v[cu.a] - v[cu.b], i, g;
            if (ce->n[0] < nu) { /* no RS */
                ck_assert_int_eq(cu.a, ce->n[0]);
                dev->eval(&p, vd, gmin, &i, &g);
                ck_assert_double_eq(cu.i0, i);
            } else {
                ck_assert_int_eq(cu.a, el->node[0]); /* the user anode */
                double grs = eqs_diode_rs_conductance(c->nl, el);
                ck_assert_double_eq_tol(grs, 2.0 / 10.0, 1e-15); /* area / RS */
                /* across the reverse, forward and RS-limited regions; the
                 * junction voltage vj is found to 4 ulps of vd, so i may
                 * miss I_D(vj) by (g_D + g_rs) times that */
                const double vds[] = {-0.5, vd, 0.55, 0.7, 2.0};
                for (int q = 0; q < 5; ++q) {
                    v[cu.a] = vds[q];
                    eqs_devcurrent cq;
                    ck_assert_int_eq(dev->current(&sol, ce, &cq), EQS_OK);
                    dev->eval(&p, vds[q] - cq.i0 / grs, gmin, &i, &g);
                    double tol = (g + grs) * 8 * DBL_EPSILON * fabs(vds[q]);
                    ck_assert_msg(fabs(i - cq.i0) <= tol, "RS at %g V: i %.17g, I_D(vj) %.17g",
                                  vds[q], cq.i0, i);
                    if (vds[q] == 2.0) /* RS-limited: most of the voltage across RS */
                        ck_assert(cq.i0 > 0.5 * grs * 2.0);
                }
            }
            break;
        }
        default: ck_abort_msg("unexpected kind %d", (int)ce->kind);
        }
        if (ce->kind != EQS_EL_F) ck_assert_double_eq(cu.gain, 0.0);
    }
    free(v);
    hook_close(&h);
}
END_TEST

/* slots against the layouts written out per kind (devices.h); the
 * compiler's slots are the value positions of those (row, col) pairs. */
START_TEST(test_slots_layouts)
{
    hook_fix h;
    hook_open(&h);
    ck_assert_int_eq(eqs_circuit_slots(h.c), EQS_OK);
    const eqs_circuit *c = h.c;
    ck_assert_int_eq(c->reciprocal, 0);
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        int rows[EQS_MAX_SLOTS], cols[EQS_MAX_SLOTS], wr[EQS_MAX_SLOTS], wc[EQS_MAX_SLOTS];
        int ns = dev->slots ? dev->slots(c, ce, rows, cols) : 0, nw = 0;
        int u[4];
        for (int t = 0; t < 4; ++t) u[t] = ce->n[t] < 0 ? -1 : c->node_unknown[ce->n[t]];
        const int k = ce->branch, kc = ce->ctrl >= 0 ? c->elems[ce->ctrl].branch : -1;
#define W(r, cc) (wr[nw] = (r), wc[nw] = (cc), nw++)
        switch (ce->kind) {
        case EQS_EL_R:
        case EQS_EL_D: W(u[0], u[0]); W(u[1], u[1]); W(u[0], u[1]); W(u[1], u[0]); break;
        case EQS_EL_G: W(u[0], u[2]); W(u[0], u[3]); W(u[1], u[2]); W(u[1], u[3]); break;
        case EQS_EL_F: W(u[0], kc); W(u[1], kc); break;
        case EQS_EL_I: break;
        default: /* V E H */
            if (k < 0) break;
            W(u[0], k); W(u[1], k); W(k, u[0]); W(k, u[1]);
            if (ce->kind == EQS_EL_E) { W(k, u[2]); W(k, u[3]); }
            if (ce->kind == EQS_EL_H) W(k, kc);
            break;
        }
#undef W
        ck_assert_int_eq(ns, nw);
        for (int q = 0; q < ns; ++q) {
            ck_assert_int_eq(rows[q], wr[q]);
            ck_assert_int_eq(cols[q], wc[q]);
            ck_assert_int_eq(ce->slot[q], eqs_circuit_find_slot(c, wr[q], wc[q]));
        }
        for (int q = ns; q < EQS_MAX_SLOTS; ++q) ck_assert_int_eq(ce->slot[q], -1);
    }
    hook_close(&h);
}
END_TEST

/* The diode's expand: RS > 0 gives the internal node "<name>#internal"
 * (messages name its anode), the junction from it to the cathode and an
 * implicit resistor of conductance area / RS from the anode to it. */
START_TEST(test_diode_expand)
{
    hook_fix h;
    hook_open(&h);
    const eqs_circuit *c = h.c;
    ck_assert_int_eq(c->n_internal, 1);
    const int d1 = hook_elem(c, "d1"), d2 = hook_elem(c, "d2");
    const int b = eqs_circuit_node_find(c, "b"), in = c->n_user_nodes;
    ck_assert_int_lt(c->elems[d1].n[0], c->n_user_nodes);
    ck_assert_int_eq(c->elems[d2].n[0], in);
    ck_assert_int_eq(c->elems[d2].n[1], 0);
    ck_assert_str_eq(c->node_names[in], "d2#internal");
    ck_assert_int_eq(c->node_user[in], b);
    ck_assert_ptr_eq(c->elems[d2].model, &c->nl->models[c->nl->elems[d2].model]);
    ck_assert_double_eq(c->elems[d2].area, 2.0);
    const eqs_celem *rs = &c->elems[c->n_elems - 1];
    ck_assert_int_eq(c->n_elems, c->nl->n_elems + 1);
    ck_assert_int_eq(rs->kind, EQS_EL_R);
    ck_assert_int_eq(rs->origin, -1);
    ck_assert_int_eq(rs->param, -1);
    ck_assert_int_eq(rs->n[0], b);
    ck_assert_int_eq(rs->n[1], in);
    ck_assert_double_eq_tol(rs->value, 0.2, 1e-15);
    hook_close(&h);
}
END_TEST

/* The model registry and the memristor's tables. */
START_TEST(test_model_types)
{
    ck_assert_ptr_eq(eqs_model_type_find("MEMRISTOR", 9), &eqs_model_memristor);
    ck_assert_ptr_eq(eqs_model_type_find_card("YMemristor", 10), &eqs_model_memristor);
    ck_assert_ptr_null(eqs_model_type_find("memristorx", 10));
    ck_assert_ptr_null(eqs_model_type_find("memristor", 8));
    ck_assert_ptr_null(eqs_model_type_find("d", 1)); /* the diode has its own reader */
    const eqs_model_type *t = &eqs_model_memristor;
    ck_assert_int_le(t->n_params, EQS_MODEL_MAX_PARAMS);
    ck_assert_int_le(t->n_inst, 2); /* do_ydevice reads at most two */
    double v[EQS_MODEL_MAX_PARAMS];
    for (int k = 0; k < t->n_params; ++k) {
        const eqs_param_desc *d = &t->params[k];
        ck_assert(d->lo <= d->hi);
        /* a default lies in its range (NAN: required) */
        ck_assert(isnan(d->def) || (d->def >= d->lo && d->def <= d->hi &&
                                    !(d->lo_open && d->def == d->lo)));
        v[k] = isnan(d->def) ? d->lo : d->def;
    }
    int bad = -1;
    ck_assert_ptr_null(t->check(v, &bad)); /* the defaults make a valid model */
    /* Xyce's TEAM defaults: R(x = 1.5 nm) = 50 + 950/2 Ohm (ivrelation 0) */
    double w[1] = {1.5e-9};
    ck_assert_double_eq_tol(t->resistance(v, w), 525.0, 1e-9);
    double lo, hi;
    t->window(v, &lo, &hi);
    ck_assert_double_eq_tol(lo, 1e-3, 1e-18);
    ck_assert_double_eq_tol(hi, 0.02, 1e-15);
    ck_assert_double_eq_tol(t->state_of(v, 1 / 525.0), 1.5e-9, 1e-22);
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
    tcase_add_test(tc, test_diode_temperature_is);
    tcase_add_test(tc, test_diode_temperature_bv_rs);
    tcase_add_test(tc, test_diode_temperature_default);
    tcase_add_test(tc, test_temperature_errors);
    tcase_add_test(tc, test_pnjlim);
    tcase_add_test(tc, test_resistor_and_registry);
    tcase_add_test(tc, test_device_table);
    tcase_add_test(tc, test_fixed_current_closed_form);
    tcase_add_test(tc, test_device_current_closed_form);
    tcase_add_test(tc, test_slots_layouts);
    tcase_add_test(tc, test_diode_expand);
    tcase_add_test(tc, test_model_types);
    suite_add_tcase(s, tc);
    return s;
}
