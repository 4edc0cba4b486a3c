/* test_memiv.c: memristors with the nonlinear I-V I = G sinh(a V)/a
 * (`.model ... memristor ... aiv=a`, src/devices/memiv.c).
 *
 * Oracles: the divider's KCL solved by bisection in the test, ngspice's
 * B-source (the deck the ngspice backend runs), central finite
 * differences of the loss, the adjoint against EqProp (cosine >= 0.9999
 * at small beta, criterion 3 of issue 14), and the linear network's bits
 * at aiv = 0. */
#include "testutil.h"
#include "circuit/circuit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ron 1k, roff 100k, xoff 3 nm (Xyce's default): R(x) = 1k + 99k x/3nm. */
#define MI_MODEL ".model mm memristor level=2 ron=1k roff=100k aiv=%s\n"

static const char *mi_divider(const char *aiv)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "sinh divider\n" MI_MODEL "v1 in 0 1.2\n"
             "ymemristor m1 in mid mm xo=1e-9\n"
             "r2 mid 0 20k\n"
             "ymemristor m2 mid 0 mm xo=2e-9\n"
             ".output mid\n.end\n",
             aiv);
    return buf;
}

static const char *mi_net(const char *aiv)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "sinh network\n" MI_MODEL "v1 in 0 1.2\nv2 in2 0 -0.7\n"
             "ymemristor m1 in mid mm xo=1e-9\n"
             "ymemristor m3 in2 mid mm xo=0.5e-9\n"
             "r2 mid out 20k\n"
             "ymemristor m2 out 0 mm xo=2e-9\n"
             "ymemristor m4 out in mm xo=2.5e-9\n"
             "r4 out 0 50k\n.output out\n.end\n",
             aiv);
    return buf;
}

/* Voltage of node `name` after a solve of `text` on `backend`. */
static double mi_node(const char *text, eqs_backend_id backend, const char *name)
{
    tu_gfix f;
    tu_gfix_open(&f, text, NULL, backend, 0);
    int n = -1;
    for (int i = 0; i < eqs_circuit_node_count(f.c); ++i)
        if (!strcmp(eqs_circuit_node_name(f.c, i), name)) n = i;
    ck_assert_int_ge(n, 0);
    const double v = eqs_solver_voltages(f.s)[n];
    tu_gfix_close(&f);
    return v;
}

/* KCL at mid: G1 sinh(a (1.2 - V))/a = V/20k + G2 sinh(a V)/a, G1 = 1/34k,
 * G2 = 1/67k (x = 1 nm, 2 nm); the left side falls and the right side
 * rises in V, so bisection on [0, 1.2] finds the one root. */
START_TEST(test_memiv_divider_closed_form)
{
    const double a = 3.0, G1 = 1.0 / 34e3, G2 = 1.0 / 67e3;
    double lo = 0, hi = 1.2;
    for (int i = 0; i < 200; ++i) {
        const double V = 0.5 * (lo + hi);
        const double f = G1 * sinh(a * (1.2 - V)) / a - V / 20e3 - G2 * sinh(a * V) / a;
        if (f > 0) lo = V;
        else hi = V;
    }
    const double want = 0.5 * (lo + hi);
    const double got = mi_node(mi_divider("3"), EQS_BACKEND_NEWTON, "mid");
    ck_assert_msg(fabs(got - want) < 1e-12, "newton %.17g, bisection %.17g", got, want);
    /* the linear divider would be elsewhere: the nonlinearity matters */
    const double lin = 1.2 * G1 / (G1 + 1 / 20e3 + G2);
    ck_assert(fabs(want - lin) > 1e-2);
    ck_assert(fabs(mi_node(mi_divider("0"), EQS_BACKEND_NEWTON, "mid") - lin) < 1e-12);
}
END_TEST

/* Both backends within 1 uV (ngspice runs the B-source the deck writes). */
START_TEST(test_memiv_ngspice)
{
    const char *names[3] = {"mid", "out", "in"};
    for (int i = 0; i < 2; ++i) {
        const double vn = mi_node(i ? mi_net("3") : mi_divider("3"), EQS_BACKEND_NEWTON, names[i]);
        const double vs = mi_node(i ? mi_net("3") : mi_divider("3"), EQS_BACKEND_NGSPICE, names[i]);
        ck_assert_msg(fabs(vn - vs) < 1e-6, "%s: newton %.17g, ngspice %.17g", names[i], vn, vs);
    }
}
END_TEST

static void mi_grad(tu_gfix *f, eqs_grad_method m, double beta, double *g)
{
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = m;
    go.beta_S = beta;
    ck_assert_msg(eqs_eqprop_gradient(f->ep, &go, g) == EQS_OK, "%s", eqs_ctx_error(f->ctx));
}

static double mi_loss(const tu_gfix *f)
{
    const double *v = eqs_solver_voltages(f->s);
    double c = 0;
    for (int k = 0; k < f->nout; ++k) {
        const double d = v[eqs_eqprop_output_node(f->ep, k)] - f->y[k];
        c += 0.5 * d * d;
    }
    return c;
}

/* Criterion 3: centered EqProp at small beta agrees with the adjoint
 * (cosine >= 0.9999), both agree with central finite differences of the
 * loss, and the linear co-content V^2/2 would not (the sinh term is
 * needed: its gradient differs from the linear formula's). */
START_TEST(test_memiv_gradients)
{
    tu_gfix f;
    tu_gfix_open(&f, mi_net("3"), NULL, EQS_BACKEND_NEWTON, 0);
    const int n = f.np;
    mi_grad(&f, EQS_GRAD_ADJOINT, 0, f.adj);
    mi_grad(&f, EQS_GRAD_CENTERED, 1e-7, f.est);
    const double cs = tu_cosine(f.est, f.adj, n);
    ck_assert_msg(cs >= 0.9999, "cosine(centered, adjoint) = %.9f", cs);
    ck_assert_msg(tu_rel_l2(f.est, f.adj, n) < 1e-4, "rel %g", tu_rel_l2(f.est, f.adj, n));
    for (int k = 0; k < n; ++k) {
        const double g = eqs_circuit_param_get(f.c, k), h = 1e-5 * g;
        ck_assert_int_eq(eqs_circuit_param_set(f.c, k, g + h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_WARM, NULL), EQS_OK);
        const double lp = mi_loss(&f);
        ck_assert_int_eq(eqs_circuit_param_set(f.c, k, g - h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_WARM, NULL), EQS_OK);
        const double lm = mi_loss(&f);
        ck_assert_int_eq(eqs_circuit_param_set(f.c, k, g), EQS_OK);
        f.fd[k] = (lp - lm) / (2 * h);
    }
    ck_assert_msg(tu_rel_l2(f.adj, f.fd, n) < 1e-6, "adjoint vs fd: %g", tu_rel_l2(f.adj, f.fd, n));
    /* the linear formula -(l_a - l_b) v on the memristors is off */
    ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_WARM, NULL), EQS_OK);
    const double *v = eqs_solver_voltages(f.s);
    double worst = 0;
    for (int k = 0; k < n; ++k) {
        const eqs_circuit *c = f.c;
        if (!c->param_aiv || c->param_aiv[k] == 0) continue;
        const eqs_celem *e = &c->elems[c->params[k]];
        const double dv = v[e->n[0]] - v[e->n[1]];
        /* the linear adjoint's factor dv against sinh(a dv)/a */
        worst = fmax(worst, fabs(sinh(3 * dv) / 3 - dv) / fabs(dv));
    }
    ck_assert_msg(worst > 0.1, "the memristors' voltages stay linear (%g)", worst);
    tu_gfix_close(&f);
}
END_TEST

/* aiv = 0 is the linear memristor bit for bit: the same operating point
 * and gradient as a model without the parameter. */
START_TEST(test_memiv_zero_is_linear)
{
    char plain[1024];
    snprintf(plain, sizeof plain, "%s", mi_net("0"));
    char *p = strstr(plain, " aiv=0");
    ck_assert_ptr_nonnull(p);
    memmove(p, p + strlen(" aiv=0"), strlen(p + strlen(" aiv=0")) + 1);
    tu_gfix a, b;
    tu_gfix_open(&a, mi_net("0"), NULL, EQS_BACKEND_NEWTON, 0);
    tu_gfix_open(&b, plain, NULL, EQS_BACKEND_NEWTON, 0);
    ck_assert_int_eq(eqs_circuit_node_count(a.c), eqs_circuit_node_count(b.c));
    ck_assert(a.c->n_elems == b.c->n_elems && !a.c->param_aiv);
    ck_assert(memcmp(eqs_solver_voltages(a.s), eqs_solver_voltages(b.s),
                     (size_t)eqs_circuit_node_count(a.c) * sizeof(double)) == 0);
    mi_grad(&a, EQS_GRAD_CENTERED, 1e-6, a.est);
    mi_grad(&b, EQS_GRAD_CENTERED, 1e-6, b.est);
    ck_assert(memcmp(a.est, b.est, (size_t)a.np * sizeof(double)) == 0);
    tu_gfix_close(&a);
    tu_gfix_close(&b);
}
END_TEST

/* A bad aiv is refused at its own line:col; the layered solver refuses
 * the network, naming the reason. */
START_TEST(test_memiv_errors)
{
    const char *bad[] = {"-1", "1e999", "2e6"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        ck_assert_int_ne(eqs_netlist_read_string(ctx, mi_divider(bad[i]), "m.cir", &nl), EQS_OK);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), "m.cir:2:") != NULL, "%s", eqs_ctx_error(ctx));
        /* a range error names the parameter; a malformed number is the lexer's */
        ck_assert_msg(i == 1 || strstr(eqs_ctx_error(ctx), "aiv") != NULL, "%s",
                      eqs_ctx_error(ctx));
        eqs_ctx_free(&ctx);
    }
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, mi_divider("3"), "m.cir", &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    ck_assert_int_ne(eqs_solver_create(ctx, c, EQS_BACKEND_LAYERED, &opt, &s), EQS_OK);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "nonlinear I-V") != NULL, "%s", eqs_ctx_error(ctx));
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_memiv(void)
{
    Suite *s = suite_create("memiv");
    TCase *tc = tcase_create("memiv");
    tcase_add_test(tc, test_memiv_divider_closed_form);
    tcase_add_test(tc, test_memiv_ngspice);
    tcase_add_test(tc, test_memiv_gradients);
    tcase_add_test(tc, test_memiv_zero_is_linear);
    tcase_add_test(tc, test_memiv_errors);
    suite_add_tcase(s, tc);
    return s;
}
