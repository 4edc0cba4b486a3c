/* test_eqprop.c: gradients.  Every comparison is against an independent
 * reference: closed forms on a divider, central finite differences of the
 * loss (re-solved with tight tolerances) for the adjoint, and the adjoint
 * for EqProp (cosine, relative L2 error, convergence orders in beta).
 * Plus: nudged re-solves allocate nothing, and `eqspice grad` end to end
 * with every bad-input case. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netlist/netlist.h"
#include "solver/solver.h"

/* Tight tolerances: EqProp and finite differences difference nearby states. */
#define T_RELTOL 1e-12
#define T_VNTOL 1e-12
#define T_ABSTOL 1e-15

typedef tu_gfix fixture;

static void fx_open(fixture *f, const char *text, const char *path, eqs_backend_id backend)
{
    tu_gfix_open(f, text, path, backend, 0);
}

static void fx_close(fixture *f) { tu_gfix_close(f); }

static void fx_grad(fixture *f, eqs_grad_method m, eqs_nudge_kind nudge, double beta, double *g)
{
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = m;
    go.nudge = nudge;
    go.beta_S = beta;
    eqs_status st = eqs_eqprop_gradient(f->ep, &go, g);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
}

/* Loss recomputed independently of eqprop: from the solver's voltages. */
static double loss_of(const fixture *f)
{
    const double *v = eqs_solver_voltages(f->s);
    double c = 0;
    for (int k = 0; k < f->nout; ++k) {
        /* differential outputs: V+ - V- (the negative node is 0 = ground,
         * V = 0, for single-ended outputs) */
        double d = v[eqs_eqprop_output_node(f->ep, k)] - v[eqs_eqprop_output_neg(f->ep, k)] - f->y[k];
        c += 0.5 * d * d;
    }
    return c;
}

/* Central finite differences of the loss, step 1e-5 * G per conductance,
 * warm re-solves at tight tolerances. */
static void fd_gradient(fixture *f)
{
    for (int k = 0; k < f->np; ++k) {
        double g = eqs_circuit_param_get(f->c, k), h = 1e-5 * g;
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g + h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f->s, EQS_SOLVE_WARM, NULL), EQS_OK);
        double lp = loss_of(f);
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g - h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f->s, EQS_SOLVE_WARM, NULL), EQS_OK);
        double lm = loss_of(f);
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g), EQS_OK);
        f->fd[k] = (lp - lm) / (2 * h);
    }
    ck_assert_int_eq(eqs_solver_solve(f->s, EQS_SOLVE_WARM, NULL), EQS_OK);
}

static double norm_inf(const double *a, int n)
{
    double m = 0;
    for (int i = 0; i < n; ++i) m = fmax(m, fabs(a[i]));
    return m;
}

/* max |a - b| / max |b| */
static double rel_inf(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; ++i) m = fmax(m, fabs(a[i] - b[i]));
    return m / norm_inf(b, n);
}

/* Adjoint vs finite differences: within 1e-5 of the largest |gradient|. */
static double check_adjoint_fd(fixture *f, const char *what)
{
    fx_grad(f, EQS_GRAD_ADJOINT, EQS_NUDGE_CONDUCTANCE, 0, f->adj);
    fd_gradient(f);
    ck_assert_msg(norm_inf(f->fd, f->np) > 0, "%s: zero gradient", what);
    double e = rel_inf(f->adj, f->fd, f->np);
    fprintf(stderr, "%s: %d conductances, adjoint vs FD max error / max |grad| = %.3g\n", what,
            f->np, e);
    ck_assert_msg(e <= 1e-5, "%s: adjoint vs FD relative error %.3g", what, e);
    return e;
}

/* ---- closed forms on a divider ---------------------------------------- */

static const char divider_out[] =
    "divider with an output\n"
    "v1 in 0 dc 2\n"
    "r1 in out 1k\n"
    "r2 out 0 3k\n"
    ".output out\n"
    ".end\n";

START_TEST(test_divider_closed_form)
{
    fixture f;
    fx_open(&f, divider_out, NULL, EQS_BACKEND_NEWTON);
    const double g1 = 1e-3, g2 = 1.0 / 3e3, vin = 2.0, y = f.y[0];
    const double v = g1 * vin / (g1 + g2);
    /* dV/dG1 = vin G2 / (G1+G2)^2, dV/dG2 = -G1 vin / (G1+G2)^2 */
    const double d1 = (v - y) * vin * g2 / ((g1 + g2) * (g1 + g2));
    const double d2 = -(v - y) * g1 * vin / ((g1 + g2) * (g1 + g2));
    fx_grad(&f, EQS_GRAD_ADJOINT, EQS_NUDGE_CONDUCTANCE, 0, f.adj);
    ck_assert_double_eq_tol(f.adj[0], d1, 1e-12 * fabs(d1));
    ck_assert_double_eq_tol(f.adj[1], d2, 1e-12 * fabs(d2));

    /* the nudged state at +beta: a conductance beta to a source at y */
    const double beta = 1e-4;
    fx_grad(&f, EQS_GRAD_EQPROP, EQS_NUDGE_CONDUCTANCE, beta, f.est);
    const double *vn = eqs_eqprop_voltages(f.ep, 2);
    int out = eqs_eqprop_output_node(f.ep, 0);
    double vb = (g1 * vin + beta * y) / (g1 + g2 + beta);
    ck_assert_double_eq_tol(vn[out], vb, 1e-12);
    ck_assert(fabs(vn[out] - y) < fabs(v - y)); /* +beta moves toward the target */
    /* the solver is back at the free state afterwards */
    ck_assert_double_eq_tol(eqs_solver_voltages(f.s)[out], v, 1e-12);

    /* current nudge: a constant beta (y - V_free) into the node */
    fx_grad(&f, EQS_GRAD_CENTERED, EQS_NUDGE_CURRENT, beta, f.est);
    vn = eqs_eqprop_voltages(f.ep, 1);
    vb = (g1 * vin - beta * (y - v)) / (g1 + g2);
    ck_assert_double_eq_tol(vn[out], vb, 1e-12);
    fx_close(&f);
}
END_TEST

/* ---- adjoint vs finite differences ------------------------------------ */

START_TEST(test_adjoint_fd_examples)
{
    DIR *d = opendir(tu_path("netlists"));
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n_with_outputs = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".cir")) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "netlists/%s", de->d_name);
        char path[4096];
        snprintf(path, sizeof path, "%s", tu_path(rel));
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_OK);
        int has = nl->n_outputs > 0;
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
        if (!has) continue;
        n_with_outputs++;
        fixture f;
        fx_open(&f, NULL, path, EQS_BACKEND_NEWTON);
        check_adjoint_fd(&f, de->d_name);
        fx_close(&f);
    }
    closedir(d);
    ck_assert_int_ge(n_with_outputs, 3); /* amplifier (KLU), crossbar, layered */
}
END_TEST

/* KLU with diodes: VCVS, VCCS, CCCS and a floating source make the MNA
 * Jacobian non-symmetric; outputs both up- and downstream. */
static const char mna_diodes[] =
    "mna network with diodes\n"
    ".model dm D(is=1e-14 n=1.2 rs=10)\n"
    "v1 in 0 dc 1.5\n"
    "v2 in2 0 dc -0.8\n"
    "r1 in a 2k\n"
    "r2 in2 a 3k\n"
    "d1 a 0 dm\n"
    "r3 a b 1.5k\n"
    "e1 c 0 a b 3\n"
    "r4 c o1 4k\n"
    "r5 o1 0 6k\n"
    "g1 o2 0 a 0 1e-4\n"
    "r6 o2 b 5k\n"
    "r7 b 0 7k\n"
    "vs o2 m 0.2\n"
    "r8 m 0 9k\n"
    "f1 0 b vs 0.5\n"
    "d2 o1 b dm\n"
    ".output o1 o2 b\n"
    ".trainable r*\n"
    ".end\n";

START_TEST(test_adjoint_fd_klu)
{
    fixture f;
    fx_open(&f, mna_diodes, NULL, EQS_BACKEND_NEWTON);
    ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), 0);
    check_adjoint_fd(&f, "mna_diodes");
    fx_close(&f);
}
END_TEST

/* Generated DRNs, gains chosen so that part of the hidden diodes conduct
 * (|V| ~ 0.5-0.7 V, exponential regime) and part are off. */
START_TEST(test_adjoint_fd_drn)
{
    static const int l1[] = {8, 6, 3}, l2[] = {16, 12, 8, 4}, l3[] = {64, 32, 10};
    const struct {
        const int *layers;
        int n;
        double gain;
    } cases[] = {{l1, 3, 12.0}, {l2, 4, 15.0}, {l3, 3, 15.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char *text = tu_gen_drn_gain(cases[i].layers, cases[i].n, cases[i].gain, 3 + i);
        fixture f;
        fx_open(&f, text, NULL, EQS_BACKEND_NEWTON);
        /* some hidden nodes at a diode's knee, some well inside */
        int on = 0, off = 0;
        const double *v = eqs_eqprop_voltages(f.ep, 0);
        for (int nd = 1; nd < eqs_circuit_node_count(f.c); ++nd) {
            if (eqs_circuit_node_name(f.c, nd)[0] != 'h') continue;
            if (fabs(v[nd]) > 0.45) on++;
            else off++;
        }
        ck_assert_msg(on > 0 && off > 0, "case %zu: %d conducting, %d off", i, on, off);
        char what[32];
        snprintf(what, sizeof what, "drn case %zu", i);
        check_adjoint_fd(&f, what);
        fx_close(&f);
        free(text);
    }
}
END_TEST

/* ---- EqProp vs adjoint -------------------------------------------------- */

static void check_centered(fixture *f, eqs_nudge_kind nudge, const char *what)
{
    fx_grad(f, EQS_GRAD_ADJOINT, EQS_NUDGE_CONDUCTANCE, 0, f->adj);
    fx_grad(f, EQS_GRAD_CENTERED, nudge, 0 /* default beta */, f->est);
    double cs = tu_cosine(f->est, f->adj, f->np), e = tu_rel_l2(f->est, f->adj, f->np);
    fprintf(stderr, "%s (%s nudge, beta %.3g S): cosine %.12f, relative L2 error %.3g\n", what,
            eqs_nudge_kind_name(nudge), eqs_eqprop_default_beta(f->ep), cs, e);
    ck_assert_msg(cs >= 0.9999 && e <= 1e-3, "%s: cosine %.9f, relative L2 error %.3g", what, cs,
                  e);
}

START_TEST(test_centered_vs_adjoint)
{
    static const char *const files[] = {"netlists/layered.cir", "netlists/crossbar3x3.cir"};
    for (size_t i = 0; i < 2; ++i) {
        fixture f;
        fx_open(&f, NULL, tu_path(files[i]), EQS_BACKEND_NEWTON);
        check_centered(&f, EQS_NUDGE_CONDUCTANCE, files[i]);
        check_centered(&f, EQS_NUDGE_CURRENT, files[i]);
        fx_close(&f);
    }
    static const int l3[] = {64, 32, 10};
    char *text = tu_gen_drn_gain(l3, 3, 15.0, 5);
    fixture f;
    fx_open(&f, text, NULL, EQS_BACKEND_NEWTON);
    check_centered(&f, EQS_NUDGE_CONDUCTANCE, "drn 64-32-10");
    check_centered(&f, EQS_NUDGE_CURRENT, "drn 64-32-10");
    fx_close(&f);
    free(text);
}
END_TEST

/* One-sided EqProp's error shrinks like beta, centered like beta^2. */
static void check_orders(fixture *f, const char *what)
{
    fx_grad(f, EQS_GRAD_ADJOINT, EQS_NUDGE_CONDUCTANCE, 0, f->adj);
    double gmean = 0;
    for (int k = 0; k < f->np; ++k) gmean += eqs_circuit_param_get(f->c, k) / f->np;
    enum { NB = 4 };
    double beta[NB], e1[NB], en[NB], e2[NB], ec1[NB], ec2[NB];
    for (int i = 0; i < NB; ++i) {
        beta[i] = gmean * 0.1 / (1 << i);
        fx_grad(f, EQS_GRAD_EQPROP, EQS_NUDGE_CONDUCTANCE, beta[i], f->est);
        e1[i] = tu_rel_l2(f->est, f->adj, f->np);
        fx_grad(f, EQS_GRAD_NEGATIVE, EQS_NUDGE_CONDUCTANCE, beta[i], f->est);
        en[i] = tu_rel_l2(f->est, f->adj, f->np);
        fx_grad(f, EQS_GRAD_CENTERED, EQS_NUDGE_CONDUCTANCE, beta[i], f->est);
        e2[i] = tu_rel_l2(f->est, f->adj, f->np);
        fx_grad(f, EQS_GRAD_EQPROP, EQS_NUDGE_CURRENT, beta[i], f->est);
        ec1[i] = tu_rel_l2(f->est, f->adj, f->np);
        fx_grad(f, EQS_GRAD_CENTERED, EQS_NUDGE_CURRENT, beta[i], f->est);
        ec2[i] = tu_rel_l2(f->est, f->adj, f->np);
    }
    double s1 = tu_loglog_slope(beta, e1, NB), sn = tu_loglog_slope(beta, en, NB);
    double s2 = tu_loglog_slope(beta, e2, NB), sc1 = tu_loglog_slope(beta, ec1, NB);
    double sc2 = tu_loglog_slope(beta, ec2, NB);
    const int z = NB - 1;
    fprintf(stderr,
            "%s: slopes eqprop %.3f negative %.3f centered %.3f (current nudge: %.3f %.3f); "
            "errors at beta=%.3g..%.3g S: %.3g..%.3g %.3g..%.3g %.3g..%.3g "
            "(current: %.3g..%.3g %.3g..%.3g)\n",
            what, s1, sn, s2, sc1, sc2, beta[0], beta[z], e1[0], e1[z], en[0], en[z], e2[0],
            e2[z], ec1[0], ec1[z], ec2[0], ec2[z]);
    ck_assert_msg(s1 >= 0.8 && s1 <= 1.2, "%s: one-sided slope %.3f", what, s1);
    ck_assert_msg(sn >= 0.8 && sn <= 1.2, "%s: negative slope %.3f", what, sn);
    ck_assert_msg(s2 >= 1.7 && s2 <= 2.3, "%s: centered slope %.3f", what, s2);
    ck_assert_msg(sc1 >= 0.8 && sc1 <= 1.2, "%s: one-sided (current) slope %.3f", what, sc1);
    /* centered with the current nudge is far more accurate: the nudge is
     * linear in beta, so only the circuit's nonlinearity leaves a (beta^2)
     * error, which on a mostly linear DRN is below the solver's floor
     * (~1e-10); no slope there, only the bound */
    (void)sc2;
    for (int i = 0; i < NB; ++i) {
        ck_assert(e2[i] < e1[i] && e2[i] < en[i]);
        ck_assert_msg(ec2[i] <= e2[i], "%s: centered current %.3g > conductance %.3g", what,
                      ec2[i], e2[i]);
    }
}

START_TEST(test_beta_orders)
{
    fixture f;
    fx_open(&f, NULL, tu_path("netlists/layered.cir"), EQS_BACKEND_NEWTON);
    check_orders(&f, "layered.cir");
    fx_close(&f);
    static const int l2[] = {16, 12, 8, 4};
    char *text = tu_gen_drn_gain(l2, 4, 15.0, 4);
    fx_open(&f, text, NULL, EQS_BACKEND_NEWTON);
    check_orders(&f, "drn 16-12-8-4");
    fx_close(&f);
    free(text);
}
END_TEST

/* ---- the nudge hook vs the same element written in the netlist ----------- */

/* Solve `text` with, at every output, a resistor 1/beta to a source at its
 * target added as netlist cards; compare with the hook's nudged phase. */
static void check_nudge_element(const char *text, double beta)
{
    fixture f;
    fx_open(&f, text, NULL, EQS_BACKEND_NEWTON);
    fx_grad(&f, EQS_GRAD_EQPROP, EQS_NUDGE_CONDUCTANCE, beta, f.est);
    const double *vn = eqs_eqprop_voltages(f.ep, 2);

    size_t cap = strlen(text) + 128 * (size_t)f.nout + 1, len = 0;
    char *t2 = malloc(cap);
    const char *end = strstr(text, ".end");
    ck_assert_ptr_nonnull(end);
    len = (size_t)(end - text);
    memcpy(t2, text, len);
    /* an explicit resistor 1/beta from the output (positive node) to a
     * source at y_k whose other end is ground or the pair's negative node */
    for (int k = 0; k < f.nout; ++k)
        len += (size_t)snprintf(t2 + len, cap - len,
                                "rnudge%d %s tgt%d %.17g\nvnudge%d tgt%d %s %.17g\n", k,
                                eqs_circuit_node_name(f.c, eqs_eqprop_output_node(f.ep, k)), k,
                                1.0 / beta, k, k,
                                eqs_circuit_node_name(f.c, eqs_eqprop_output_neg(f.ep, k)),
                                f.y[k]);
    snprintf(t2 + len, cap - len, ".end\n");
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    ck_assert_msg(eqs_netlist_read_string(ctx, t2, "explicit.cir", &nl) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    /* a floating target source makes the explicit circuit MNA (KLU) */
    if (!eqs_eqprop_output_pairs(f.ep))
        ck_assert_int_eq(eqs_circuit_is_reciprocal(c), eqs_circuit_is_reciprocal(f.c));
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = T_RELTOL;
    opt.vntol = T_VNTOL;
    opt.abstol = T_ABSTOL;
    opt.explicit_mask = EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, &opt, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const double *ve = eqs_solver_voltages(s);
    for (int nd = 1; nd < eqs_circuit_node_count(f.c); ++nd) {
        int m = eqs_circuit_node_find(c, eqs_circuit_node_name(f.c, nd));
        ck_assert_int_gt(m, 0);
        ck_assert_msg(fabs(ve[m] - vn[nd]) <= 1e-10 * (1 + fabs(ve[m])), "node %s: %.17g vs %.17g",
                      eqs_circuit_node_name(f.c, nd), vn[nd], ve[m]);
    }
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    free(t2);
    fx_close(&f);
}

START_TEST(test_nudge_equals_element)
{
    check_nudge_element(mna_diodes, 1e-4);      /* KLU */
    static const int l[] = {8, 6, 3};
    char *text = tu_gen_drn_gain(l, 3, 12.0, 11);     /* CHOLMOD */
    check_nudge_element(text, 2e-5);
    free(text);
}
END_TEST

/* ---- differential outputs (.output_pair) ------------------------------ */

/* CHOLMOD: resistors, a diode, grounded sources; two pairs of free nodes
 * and a third pair whose negative node is held by a source (its terms
 * drop). */
static const char pairs_chol[] =
    "differential pairs, reciprocal\n"
    ".model dm D(is=1e-14 n=1.5)\n"
    "v1 in 0 dc 1.2\n"
    "v2 ref 0 dc 0.3\n"
    "r1 in a 1k\n"
    "r2 a 0 2.2k\n"
    "r3 a o1 1.5k\n"
    "r4 a o2 3.3k\n"
    "r5 o1 o2 4.7k\n"
    "r6 o1 b 2k\n"
    "r7 o2 b 2.7k\n"
    "d1 b 0 dm\n"
    "r8 b o3 1.2k\n"
    "r9 o3 o4 5.6k\n"
    "r10 o4 0 3.9k\n"
    "r11 o3 ref 6.8k\n"
    "r12 b o5 2k\n"
    "r13 o5 0 8.2k\n"
    ".output_pair o1 o2 o3 o4\n"
    "*eqspice .output_pair o5 ref\n"
    ".trainable r*\n"
    ".end\n";

/* KLU: the MNA network above with pair outputs (one across the VCVS-driven
 * side, one across the floating source's node and its neighbour). */
static char *pairs_klu_text(void)
{
    const char *out = strstr(mna_diodes, ".output o1 o2 b\n");
    ck_assert_ptr_nonnull(out);
    size_t pre = (size_t)(out - mna_diodes);
    const char *rest = out + strlen(".output o1 o2 b\n");
    char *t = malloc(strlen(mna_diodes) + 64);
    memcpy(t, mna_diodes, pre);
    sprintf(t + pre, ".output_pair o1 b o2 m\n%s", rest);
    return t;
}

START_TEST(test_pairs_adjoint_fd)
{
    fixture f;
    fx_open(&f, pairs_chol, NULL, EQS_BACKEND_NEWTON);
    ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), 1);
    ck_assert_int_eq(eqs_eqprop_output_pairs(f.ep), 1);
    ck_assert_int_eq(f.nout, 3);
    ck_assert_str_eq(eqs_circuit_node_name(f.c, eqs_eqprop_output_neg(f.ep, 2)), "ref");
    ck_assert_int_eq(eqs_circuit_output_count(f.c), 3);
    ck_assert_int_eq(eqs_circuit_output_neg(f.c, 1), eqs_eqprop_output_neg(f.ep, 1));
    /* the loss is the differential one */
    const double *v = eqs_eqprop_voltages(f.ep, 0);
    double c = 0;
    for (int k = 0; k < 3; ++k) {
        double d = v[eqs_eqprop_output_node(f.ep, k)] - v[eqs_eqprop_output_neg(f.ep, k)] - f.y[k];
        c += 0.5 * d * d;
    }
    ck_assert_double_eq_tol(eqs_eqprop_loss(f.ep, v), c, 1e-15);
    ck_assert_double_gt(c, 1e-4);
    check_adjoint_fd(&f, "pairs (cholmod)");
    check_centered(&f, EQS_NUDGE_CONDUCTANCE, "pairs (cholmod)");
    check_centered(&f, EQS_NUDGE_CURRENT, "pairs (cholmod)");
    fx_close(&f);

    char *t = pairs_klu_text();
    fx_open(&f, t, NULL, EQS_BACKEND_NEWTON);
    ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), 0);
    ck_assert_int_eq(f.nout, 2);
    /* non-reciprocal: EqProp does not estimate the gradient here (no
     * energy), so only the adjoint is checked; the KLU pair nudge itself is
     * checked against an explicit element in test_pairs_nudge_equals_element */
    check_adjoint_fd(&f, "pairs (klu)");
    fx_close(&f);
    free(t);
}
END_TEST

START_TEST(test_pairs_nudge_equals_element)
{
    check_nudge_element(pairs_chol, 1e-4); /* hook on CHOLMOD, explicit on KLU */
    char *t = pairs_klu_text();
    check_nudge_element(t, 1e-4); /* KLU */
    free(t);
}
END_TEST

/* The pair hook: errors, and the ngspice deck's VCCS + current source. */
START_TEST(test_pairs_hook)
{
    fixture f;
    fx_open(&f, pairs_chol, NULL, EQS_BACKEND_NEWTON);
    int o1 = eqs_circuit_node_find(f.c, "o1"), o2 = eqs_circuit_node_find(f.c, "o2");
    int o3 = eqs_circuit_node_find(f.c, "o3"), a = eqs_circuit_node_find(f.c, "a");
    int in = eqs_circuit_node_find(f.c, "in"), ref = eqs_circuit_node_find(f.c, "ref");
    double g = 1e-3, i0 = 2e-4;
    /* not a declared pair: no coupling in the pattern */
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &o1, &o3, &g, &i0), EQS_ERR_INPUT);
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &o1, &o1, &g, &i0), EQS_ERR_INPUT);
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &in, &ref, &g, &i0), EQS_ERR_INPUT);
    /* a node to ground or to a fixed node needs no coupling */
    int zero = 0;
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &a, &zero, &g, &i0), EQS_OK);
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &in, &a, &g, &i0), EQS_OK);
    /* pair to ground == per-node nudge */
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &a, &zero, &g, &i0), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    double va = eqs_solver_voltages(f.s)[a];
    ck_assert_int_eq(eqs_solver_set_nudge(f.s, 1, &a, &g, &i0), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_double_eq_tol(eqs_solver_voltages(f.s)[a], va, 1e-12);
    /* the deck */
    ck_assert_int_eq(eqs_solver_set_nudge_pairs(f.s, 1, &o1, &o2, &g, &i0), EQS_OK);
    char **deck = NULL;
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    ck_assert_int_eq(eqs_deck_build_nudged(f.ctx, f.c, &opt, &f.s->nudge, 1, &deck), EQS_OK);
    int seen = 0;
    for (char **l = deck; *l; ++l) {
        if (!strcmp(*l, "g.eqs_nudgep0 o1 o2 o1 o2 0.001")) seen |= 1;
        if (!strcmp(*l, "i.eqs_nudgep0 o2 o1 dc 0.00020000000000000001")) seen |= 2;
    }
    ck_assert_int_eq(seen, 3);
    eqs_deck_free(f.ctx, &deck);
    eqs_solver_clear_nudge(f.s);
    fx_close(&f);

    /* a pair whose two nodes are held by sources cannot be nudged */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    eqs_eqprop *ep = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx,
                                             "t\nv1 a 0 1\nv2 b 0 2\nr1 a m 1k\nr2 m b 1k\n"
                                             ".output_pair a b\n.end\n",
                                             "fixed.cir", &nl),
                     EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(ctx, s, &ep), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "fixed.cir:6:14: error: output pair 'a b': both "
                                             "nodes are held by voltage sources") != NULL,
                  "%s", eqs_ctx_error(ctx));
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ngspice runs the pair nudge deck to the same state as Newton. */
START_TEST(test_pairs_ngspice)
{
    fixture f;
    fx_open(&f, pairs_chol, NULL, EQS_BACKEND_NEWTON);
    fx_grad(&f, EQS_GRAD_EQPROP, EQS_NUDGE_CONDUCTANCE, 1e-4, f.est);
    const double *vn = eqs_eqprop_voltages(f.ep, 2);
    fixture g;
    fx_open(&g, pairs_chol, NULL, EQS_BACKEND_NGSPICE);
    memcpy(g.y, f.y, (size_t)f.nout * sizeof *f.y);
    ck_assert_int_eq(eqs_eqprop_set_targets(g.ep, g.y), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_free_phase(g.ep, EQS_SOLVE_COLD, NULL), EQS_OK);
    fx_grad(&g, EQS_GRAD_EQPROP, EQS_NUDGE_CONDUCTANCE, 1e-4, g.est);
    const double *vg = eqs_eqprop_voltages(g.ep, 2);
    for (int nd = 1; nd < eqs_circuit_node_count(f.c); ++nd)
        ck_assert_msg(fabs(vg[nd] - vn[nd]) <= 1e-6, "node %s: ngspice %.17g newton %.17g",
                      eqs_circuit_node_name(f.c, nd), vg[nd], vn[nd]);
    fx_close(&g);
    fx_close(&f);
}
END_TEST

/* ---- allocation-free phases ------------------------------------------- */

START_TEST(test_phases_no_alloc)
{
    static const int l[] = {20, 16, 4};
    char *text = tu_gen_drn_gain(l, 3, 15.0, 9);
    fixture f;
    fx_open(&f, text, NULL, EQS_BACKEND_NEWTON);
    fx_grad(&f, EQS_GRAD_CENTERED, EQS_NUDGE_CONDUCTANCE, 0, f.est);
    uint64_t before = eqs_ctx_alloc_count(f.ctx);
    for (int rep = 0; rep < 3; ++rep) {
        ck_assert_int_eq(eqs_circuit_param_set(f.c, rep, 1.1 * eqs_circuit_param_get(f.c, rep)),
                         EQS_OK);
        ck_assert_int_eq(eqs_eqprop_free_phase(f.ep, EQS_SOLVE_WARM, NULL), EQS_OK);
        fx_grad(&f, EQS_GRAD_CENTERED, EQS_NUDGE_CONDUCTANCE, 0, f.est);
        fx_grad(&f, EQS_GRAD_EQPROP, EQS_NUDGE_CURRENT, 0, f.est);
        fx_grad(&f, EQS_GRAD_NEGATIVE, EQS_NUDGE_CONDUCTANCE, 0, f.est);
        fx_grad(&f, EQS_GRAD_ADJOINT, EQS_NUDGE_CONDUCTANCE, 0, f.adj);
    }
    ck_assert_int_eq(eqs_ctx_alloc_count(f.ctx), before);
    fx_close(&f);
    free(text);
}
END_TEST

/* ---- API errors ------------------------------------------------------- */

START_TEST(test_api_errors)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    eqs_eqprop *ep = NULL;
    /* no .output */
    ck_assert_int_eq(eqs_netlist_read(ctx, tu_path("netlists/divider.cir"), &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(ctx, s, &ep), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "no .output"));
    ck_assert_ptr_null(ep);
    /* nudging a fixed node */
    eqs_ctx_clear_error(ctx);
    int in = eqs_circuit_node_find(c, "in");
    double g = 1, i0 = 0;
    ck_assert_int_eq(eqs_solver_set_nudge(s, 1, &in, &g, &i0), EQS_ERR_INPUT);
    eqs_solver_free(&s);
    /* ngspice cannot do adjoint solves */
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    double b[8] = {0}, lam[8];
    ck_assert_int_le(eqs_circuit_node_count(c), 8);
    ck_assert_int_eq(eqs_solver_adjoint(s, b, lam), EQS_ERR_UNSUPPORTED);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);

    /* output held by a source: located error */
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_netlist_read_string(ctx,
                                             "t\nv1 a 0 1\nr1 a b 1k\nr2 b 0 1k\n.output a\n.end\n",
                                             "fixed.cir", &nl),
                     EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(ctx, s, &ep), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "fixed.cir:5:"));
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "held by a voltage source"));
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);

    /* bad beta, non-finite target, names */
    fixture f;
    fx_open(&f, divider_out, NULL, EQS_BACKEND_NEWTON);
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.beta_S = -1e-3;
    ck_assert_int_eq(eqs_eqprop_gradient(f.ep, &go, f.est), EQS_ERR_INPUT);
    double y = NAN;
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(eqs_eqprop_set_targets(f.ep, &y), EQS_ERR_INPUT);
    ck_assert_int_eq(eqs_grad_method_from_name("bogus"), -1);
    ck_assert_int_eq(eqs_grad_method_from_name("centered"), EQS_GRAD_CENTERED);
    ck_assert_int_eq(eqs_nudge_kind_from_name("current"), EQS_NUDGE_CURRENT);
    fx_close(&f);
}
END_TEST

/* ---- the CLI ---------------------------------------------------------- */

/* Parse "element,gradient" CSV into g (n entries); returns the row count. */
static int csv_grad(const char *csv, double *g, int n)
{
    ck_assert_int_eq(strncmp(csv, "element,gradient\n", 17), 0);
    const char *p = csv + 17;
    int k = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        ck_assert_ptr_nonnull(comma);
        if (k < n) g[k] = strtod(comma + 1, NULL);
        k++;
        p = strchr(comma, '\n');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    return k;
}

static int run(const char *const *argv, char **out, char **err)
{
    return tu_run_cli(argv, out, err, 60);
}

START_TEST(test_cli_grad)
{
    char *out = NULL, *err = NULL;
    const char *const help[] = {"grad", "--help", NULL};
    ck_assert_int_eq(run(help, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: eqspice grad"));
    free(out);
    free(err);

    const char *layered = tu_path("netlists/layered.cir");
    char lay[4096];
    snprintf(lay, sizeof lay, "%s", layered);
    double adj[32], cen[32], ng[32], ngc[32];
    const char *const a1[] = {"grad", lay, "--target", "o1=0.2", "--target", "O2=-0.1",
                              "--method", "adjoint", NULL};
    ck_assert_int_eq(run(a1, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, adj, 32), 18);
    ck_assert_ptr_nonnull(strstr(out, "\nr1_11,"));
    free(out);
    free(err);
    const char *const a2[] = {"grad", lay, "--target", "o1=0.2", "--target", "o2=-0.1", NULL};
    ck_assert_int_eq(run(a2, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, cen, 32), 18);
    free(out);
    free(err);
    ck_assert(tu_cosine(cen, adj, 18) >= 0.9999 && tu_rel_l2(cen, adj, 18) <= 1e-3);
    /* ngspice: the nudge as VCCS + current-source cards, both variants */
    const char *const a3[] = {"grad", lay, "--target", "o1=0.2", "--target", "o2=-0.1",
                              "--solver", "ngspice", NULL};
    ck_assert_int_eq(run(a3, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, ng, 32), 18);
    free(out);
    free(err);
    const char *const a4[] = {"grad", lay, "--target", "o1=0.2", "--target", "o2=-0.1",
                              "--solver", "ngspice", "--nudge", "current", "--method",
                              "eqprop", "--beta", "1e-8", NULL};
    ck_assert_int_eq(run(a4, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, ngc, 32), 18);
    free(out);
    free(err);
    ck_assert_msg(tu_rel_l2(ng, adj, 18) <= 1e-3, "ngspice centered: %.3g", tu_rel_l2(ng, adj, 18));
    ck_assert_msg(tu_rel_l2(ngc, adj, 18) <= 1e-2, "ngspice one-sided current: %.3g",
                  tu_rel_l2(ngc, adj, 18));

    /* -o writes the same CSV atomically */
    char path[4200];
    snprintf(path, sizeof path, "%s/g.csv", tu_temp_dir());
    const char *const a5[] = {"grad", lay, "--target", "o1=0.2", "--target", "o2=-0.1",
                              "--method", "adjoint", "-o", path, NULL};
    ck_assert_int_eq(run(a5, &out, &err), 0);
    ck_assert_str_eq(out, "");
    char *file = tu_read_file(path);
    ck_assert_ptr_nonnull(file);
    double adj2[32];
    ck_assert_int_eq(csv_grad(file, adj2, 32), 18);
    ck_assert_double_eq(adj2[0], adj[0]);
    free(file);
    free(out);
    free(err);
}
END_TEST

/* `eqspice grad` with differential outputs: --target POS,NEG=VALUE, the
 * CSV equals the library's adjoint, centered EqProp agrees, bad targets. */
START_TEST(test_cli_grad_pairs)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/pairs.cir", tu_temp_dir());
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(pairs_chol, fp);
    fclose(fp);
    char *out = NULL, *err = NULL;
    double adj[32], cen[32], ng[32];
    const char *const a1[] = {"grad", path, "--target", "o1,o2=0.1", "--target", "O3,o4=-0.05",
                              "--target", "o5,ref=0.2", "--method", "adjoint", NULL};
    ck_assert_int_eq(run(a1, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, adj, 32), 13);
    free(out);
    free(err);
    /* the same through the library */
    fixture f;
    fx_open(&f, pairs_chol, NULL, EQS_BACKEND_NEWTON);
    const double y[3] = {0.1, -0.05, 0.2};
    ck_assert_int_eq(eqs_eqprop_set_targets(f.ep, y), EQS_OK);
    memcpy(f.y, y, sizeof y);
    fd_gradient(&f); /* independent of the CLI's adjoint */
    double e = rel_inf(adj, f.fd, f.np);
    ck_assert_msg(e <= 1e-5, "CLI adjoint vs FD: %.3g", e);
    fx_close(&f);
    const char *const a2[] = {"grad", path, "--target", "o1,o2=0.1", "--target", "o3,o4=-0.05",
                              "--target", "o5,ref=0.2", NULL};
    ck_assert_int_eq(run(a2, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, cen, 32), 13);
    free(out);
    free(err);
    ck_assert(tu_cosine(cen, adj, 13) >= 0.9999 && tu_rel_l2(cen, adj, 13) <= 1e-3);
    const char *const a3[] = {"grad", path, "--target", "o1,o2=0.1", "--target", "o3,o4=-0.05",
                              "--target", "o5,ref=0.2", "--solver", "ngspice", NULL};
    ck_assert_int_eq(run(a3, &out, &err), 0);
    ck_assert_int_eq(csv_grad(out, ng, 32), 13);
    free(out);
    free(err);
    ck_assert_msg(tu_rel_l2(ng, adj, 13) <= 1e-3, "ngspice pairs: %.3g", tu_rel_l2(ng, adj, 13));

    const struct {
        const char *t1, *t2, *t3, *msg;
    } bad[] = {
        {"o1=0.1", "o3,o4=0", "o5,ref=0", "use --target POS,NEG=VALUE"},
        {"o1,o2=0.1", "o3,o4=0", "o5,o4=0", "no --target for output pair 'o5,ref'"},
        {"o1,o2=0.1", "o3,o4=0", "o2,o1=0", "no --target for output pair 'o5,ref'"},
        {"o1,o2=0.1", "o1,o2=0", "o5,ref=0", "two targets for pair 'o1,o2'"},
        {",o2=0.1", "o3,o4=0", "o5,ref=0", "expected POS,NEG=VALUE"},
        {"o1,=0.1", "o3,o4=0", "o5,ref=0", "expected POS,NEG=VALUE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        char b1[64], b2[64], b3[64];
        snprintf(b1, sizeof b1, "%s", bad[i].t1);
        snprintf(b2, sizeof b2, "%s", bad[i].t2);
        snprintf(b3, sizeof b3, "%s", bad[i].t3);
        const char *const av[] = {"grad", path, "--target", b1, "--target", b2,
                                  "--target", b3, NULL};
        ck_assert_int_ne(run(av, &out, &err), 0);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "case %zu: %s", i, err);
        free(out);
        free(err);
    }
    const char *const a4[] = {"grad", path, "--target", "o1,o2=0.1", "--target", "o3,o4=-0.05",
                              "--target", "o5,ref=0.2", "--target", "o1,o3=0", NULL};
    ck_assert_int_ne(run(a4, &out, &err), 0);
    ck_assert_msg(strstr(err, "--target 'o1,o3' is not an .output_pair") != NULL, "%s", err);
    free(out);
    free(err);
    /* a pair target on a single-ended netlist */
    char lay[4096];
    snprintf(lay, sizeof lay, "%s", tu_path("netlists/layered.cir"));
    const char *const a5[] = {"grad", lay, "--target", "o1,o2=0.2", NULL};
    ck_assert_int_ne(run(a5, &out, &err), 0);
    ck_assert_msg(strstr(err, "names a pair, but the outputs are single-ended") != NULL, "%s",
                  err);
    free(out);
    free(err);
}
END_TEST

START_TEST(test_cli_grad_errors)
{
    char lay[4096], div[4096];
    snprintf(lay, sizeof lay, "%s", tu_path("netlists/layered.cir"));
    snprintf(div, sizeof div, "%s", tu_path("netlists/divider.cir"));
    char fixed[4096];
    snprintf(fixed, sizeof fixed, "%s",
             tu_write_temp("t\nv1 a 0 1\nr1 a b 1k\nr2 b 0 1k\n.output a\n.end\n", ".cir"));
    char outfile[4200];
    snprintf(outfile, sizeof outfile, "%s/never.csv", tu_temp_dir());
    const struct {
        const char *argv[16];
        const char *msg;
    } cases[] = {
        {{"grad", div, "--target", "mid=1", "-o", outfile, NULL}, "no .output"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--target", "h1=0", "-o",
          outfile, NULL},
         "'h1' is not an .output node"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--target", "nosuch=0", NULL},
         "'nosuch' is not an .output node"},
        {{"grad", lay, "--target", "o1=0.2", "-o", outfile, NULL},
         "no --target for output node 'o2'"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--beta", "0", NULL},
         "--beta must be positive"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--beta", "-1e-6", NULL},
         "--beta must be positive"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--beta", "x", NULL},
         "--beta needs a number"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--method", "backprop", NULL},
         "unknown method 'backprop'"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--nudge", "voltage", NULL},
         "unknown nudge 'voltage'"},
        {{"grad", lay, "--target", "o1=0.2", "--target", "o2=0", "--method", "adjoint",
          "--solver", "ngspice", NULL},
         "--method adjoint needs --solver newton"},
        {{"grad", lay, "--target", "o1", NULL}, "bad --target 'o1'"},
        {{"grad", lay, "--target", "o1=abc", NULL}, "bad --target"},
        {{"grad", lay, "--target", "o1=1", "--target", "o1=2", NULL}, "two targets for node"},
        {{"grad", lay, NULL}, "no --target given"},
        {{"grad", "--target", "o1=1", NULL}, "no netlist given"},
        {{"grad", fixed, "--target", "a=1", NULL}, ":5:9: error: output node 'a' is held"},
        {{"grad", "/nonexistent/x.cir", "--target", "a=1", NULL}, "error:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char *out = NULL, *err = NULL;
        int rc = run(cases[i].argv, &out, &err);
        ck_assert_msg(rc == 1, "case %zu: rc=%d stderr=%s", i, rc, err);
        ck_assert_msg(strstr(err, "error:") && strstr(err, cases[i].msg),
                      "case %zu: stderr '%s' lacks '%s'", i, err, cases[i].msg);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
    struct stat sb;
    ck_assert_int_ne(stat(outfile, &sb), 0); /* nothing written on error */
}
END_TEST

Suite *suite_eqprop(void)
{
    Suite *s = suite_create("eqprop");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_divider_closed_form);
    tcase_add_test(tc, test_adjoint_fd_examples);
    tcase_add_test(tc, test_adjoint_fd_klu);
    tcase_add_test(tc, test_adjoint_fd_drn);
    tcase_add_test(tc, test_centered_vs_adjoint);
    tcase_add_test(tc, test_beta_orders);
    tcase_add_test(tc, test_nudge_equals_element);
    tcase_add_test(tc, test_phases_no_alloc);
    tcase_add_test(tc, test_api_errors);
    tcase_add_test(tc, test_pairs_adjoint_fd);
    tcase_add_test(tc, test_pairs_nudge_equals_element);
    tcase_add_test(tc, test_pairs_hook);
    tcase_add_test(tc, test_pairs_ngspice);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 300);
    tcase_add_test(cli, test_cli_grad);
    tcase_add_test(cli, test_cli_grad_errors);
    tcase_add_test(cli, test_cli_grad_pairs);
    suite_add_tcase(s, cli);
    return s;
}
