/* test_solver.c: linear solvers vs dense elimination; Newton vs closed
 * forms, bisection and hand-solved circuits; stepping, errors, warm mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "solver/solver.h"
#include "testutil.h"
#include "tn_netlist.h"

/* ---- dense reference ------------------------------------------------ */

/* Solve the dense n x n system A x = b (row-major A, destroyed) by Gaussian
 * elimination with partial pivoting; b is overwritten by x. */
static void dense_solve(int n, double *A, double *b)
{
    for (int k = 0; k < n; ++k) {
        int p = k;
        for (int i = k + 1; i < n; ++i)
            if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
        if (p != k) {
            for (int j = 0; j < n; ++j) {
                double t = A[k * n + j];
                A[k * n + j] = A[p * n + j];
                A[p * n + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        for (int i = k + 1; i < n; ++i) {
            double f = A[i * n + k] / A[k * n + k];
            for (int j = k; j < n; ++j) A[i * n + j] -= f * A[k * n + j];
            b[i] -= f * b[k];
        }
    }
    for (int k = n - 1; k >= 0; --k) {
        double s = b[k];
        for (int j = k + 1; j < n; ++j) s -= A[k * n + j] * b[j];
        b[k] = s / A[k * n + k];
    }
}

static uint64_t lcg = 12345;
static double urand(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * 0x1.0p-53;
}

/* Dense matrix -> CSC (all nonzeros, or lower triangle only). */
static void to_csc(int n, const double *D, int lower, int **Ap, int **Ai, double **Ax)
{
    *Ap = calloc((size_t)n + 1, sizeof(int));
    *Ai = malloc((size_t)n * n * sizeof(int));
    *Ax = malloc((size_t)n * n * sizeof(double));
    int q = 0;
    for (int j = 0; j < n; ++j) {
        (*Ap)[j] = q;
        for (int i = lower ? j : 0; i < n; ++i)
            if (D[i * n + j] != 0 || i == j) {
                (*Ai)[q] = i;
                (*Ax)[q++] = D[i * n + j];
            }
    }
    (*Ap)[n] = q;
}

static void check_linsolve(const eqs_linsolve_ops *ops, int symmetric, int n)
{
    eqs_ctx *ctx = tu_ctx();
    double *D = calloc((size_t)n * n, sizeof *D);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j) {
            if (i != j && urand() > 0.3) continue;
            double v = urand() - 0.5;
            D[i * n + j] = v;
            D[j * n + i] = symmetric ? v : urand() - 0.5;
        }
    for (int i = 0; i < n; ++i) {
        double s = 0;
        for (int j = 0; j < n; ++j) s += fabs(D[i * n + j]);
        D[i * n + i] = s + 1; /* SPD when symmetric */
        if (!symmetric && i % 3 == 0) D[i * n + i] = 0.01; /* needs pivoting */
    }
    int *Ap, *Ai;
    double *Ax;
    to_csc(n, D, symmetric, &Ap, &Ai, &Ax);
    eqs_linsolve *ls = NULL;
    ck_assert_int_eq(ops->create(ctx, n, Ap, Ai, symmetric, &ls), EQS_OK);
    for (int round = 0; round < 2; ++round) { /* factor, then refactor */
        if (round == 1) {
            for (int q = 0; q < Ap[n]; ++q) Ax[q] *= 1.5;
            for (int q = 0; q < n * n; ++q) D[q] *= 1.5;
        }
        ck_assert_int_eq(ops->factor(ls, Ax), 0);
        for (int transpose = 0; transpose < 2; ++transpose) {
            double *b = malloc((size_t)n * sizeof *b), *ref = malloc((size_t)n * sizeof *ref);
            double *A = malloc((size_t)n * n * sizeof *A);
            for (int i = 0; i < n; ++i) b[i] = ref[i] = urand() - 0.5;
            for (int i = 0; i < n; ++i)
                for (int j = 0; j < n; ++j) A[i * n + j] = transpose ? D[j * n + i] : D[i * n + j];
            dense_solve(n, A, ref);
            ck_assert_int_eq(transpose ? ops->solve_transpose(ls, b) : ops->solve(ls, b), 0);
            for (int i = 0; i < n; ++i) ck_assert_double_eq_tol(b[i], ref[i], 1e-10);
            free(b);
            free(ref);
            free(A);
        }
    }
    ops->destroy(&ls);
    ck_assert_ptr_null(ls);
    free(Ap);
    free(Ai);
    free(Ax);
    free(D);
    eqs_ctx_free(&ctx);
}

START_TEST(test_cholmod_vs_dense) { check_linsolve(&eqs_linsolve_cholmod, 1, 40); }
END_TEST
START_TEST(test_klu_vs_dense) { check_linsolve(&eqs_linsolve_klu, 0, 40); }
END_TEST

START_TEST(test_linsolve_recoverable)
{
    eqs_ctx *ctx = tu_ctx();
    /* indefinite symmetric 2x2 [1 2; 2 1] (lower) -> not positive definite */
    int Ap[] = {0, 2, 3}, Ai[] = {0, 1, 1};
    double Ax[] = {1, 2, 1};
    eqs_linsolve *ls = NULL;
    ck_assert_int_eq(eqs_linsolve_cholmod.create(ctx, 2, Ap, Ai, 1, &ls), EQS_OK);
    ck_assert_int_gt(eqs_linsolve_cholmod.factor(ls, Ax), 0);
    double Ax2[] = {2, 1, 2}; /* now SPD */
    ck_assert_int_eq(eqs_linsolve_cholmod.factor(ls, Ax2), 0);
    eqs_linsolve_cholmod.destroy(&ls);
    /* singular unsymmetric [1 2; 2 4] -> KLU reports it as recoverable */
    int Bp[] = {0, 2, 4}, Bi[] = {0, 1, 0, 1};
    double Bx[] = {1, 2, 2, 4};
    ck_assert_int_eq(eqs_linsolve_klu.create(ctx, 2, Bp, Bi, 0, &ls), EQS_OK);
    ck_assert_int_gt(eqs_linsolve_klu.factor(ls, Bx), 0);
    double Bx2[] = {1, 2, 2, 5};
    ck_assert_int_eq(eqs_linsolve_klu.factor(ls, Bx2), 0);
    double b[] = {1, 0};
    ck_assert_int_eq(eqs_linsolve_klu.solve(ls, b), 0);
    ck_assert_double_eq_tol(b[0], 5.0, 1e-12);
    ck_assert_double_eq_tol(b[1], -2.0, 1e-12);
    eqs_linsolve_klu.destroy(&ls);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---- Newton on circuits --------------------------------------------- */

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
    eqs_solve_info info;
    eqs_status st;
} run;

/* Compile and solve nl (options: NULL for defaults). */
static run solve_nl(eqs_netlist *nl, const eqs_solver_options *opt)
{
    run r;
    memset(&r, 0, sizeof r);
    r.ctx = nl->ctx;
    r.nl = nl;
    ck_assert_msg(eqs_circuit_create(r.ctx, nl, &r.c) == EQS_OK, "%s", eqs_ctx_error(r.ctx));
    ck_assert_msg(eqs_solver_create(r.ctx, r.c, EQS_BACKEND_NEWTON, opt, &r.s) == EQS_OK, "%s",
                  eqs_ctx_error(r.ctx));
    r.st = eqs_solver_solve(r.s, EQS_SOLVE_COLD, &r.info);
    return r;
}

static double V(const run *r, const char *node)
{
    int i = eqs_circuit_node_find(r->c, node);
    ck_assert_int_ge(i, 0);
    return eqs_solver_voltages(r->s)[i];
}

static void run_free(run *r)
{
    eqs_solver_free(&r->s);
    eqs_circuit_free(&r->c);
    eqs_ctx *ctx = r->ctx;
    tn_free(&r->nl);
    eqs_ctx_free(&ctx);
}

#define ASSERT_OK(r) ck_assert_msg((r).st == EQS_OK, "%s", eqs_ctx_error((r).ctx))

START_TEST(test_divider)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 10);
    tn_add(nl, EQS_EL_R, "r1", "in", "mid", 1e3);
    tn_add(nl, EQS_EL_R, "r2", "mid", "0", 3e3);
    run r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_str_eq(r.info.backend, "newton-cholmod");
    ck_assert_double_eq_tol(V(&r, "mid"), 7.5, 1e-12);
    ck_assert_double_eq(V(&r, "in"), 10);
    ck_assert_double_eq(eqs_solver_voltages(r.s)[0], 0);
    ck_assert_int_le(r.info.iterations, 2);
    run_free(&r);
}
END_TEST

START_TEST(test_ladder)
{
    /* ladder: in -R- n1 -R- n2 ... nN, each node with 2R to ground;
     * reference: dense nodal analysis written here */
    enum { N = 12 };
    const double R = 1e3, Vin = 3.0;
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "n0", "0", Vin);
    char a[16], b[16], nm[16];
    for (int k = 1; k <= N; ++k) {
        snprintf(a, sizeof a, "n%d", k - 1);
        snprintf(b, sizeof b, "n%d", k);
        snprintf(nm, sizeof nm, "rs%d", k);
        tn_add(nl, EQS_EL_R, nm, a, b, R);
        snprintf(nm, sizeof nm, "rp%d", k);
        tn_add(nl, EQS_EL_R, nm, b, "0", 2 * R);
    }
    run r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    double G[N * N] = {0}, rhs[N] = {0};
    for (int k = 0; k < N; ++k) {
        G[k * N + k] = 1 / R + 1 / (2 * R) + (k + 1 < N ? 1 / R : 0);
        if (k > 0) G[k * N + k - 1] = G[(k - 1) * N + k] = -1 / R;
    }
    rhs[0] = Vin / R;
    dense_solve(N, G, rhs);
    for (int k = 1; k <= N; ++k) {
        snprintf(b, sizeof b, "n%d", k);
        ck_assert_double_eq_tol(V(&r, b), rhs[k - 1], 1e-12);
    }
    run_free(&r);
}
END_TEST

START_TEST(test_current_source)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_I, "i1", "0", "a", 1e-3); /* 1 mA into node a */
    tn_add(nl, EQS_EL_R, "r1", "a", "0", 2e3);
    tn_add(nl, EQS_EL_I, "i2", "b", "0", 2e-3); /* 2 mA out of node b */
    tn_add(nl, EQS_EL_R, "r2", "b", "0", 1e3);
    run r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_double_eq_tol(V(&r, "a"), 2.0, 1e-12);
    ck_assert_double_eq_tol(V(&r, "b"), -2.0, 1e-12);
    run_free(&r);
}
END_TEST

/* Diode current as ngspice computes it in the forward/reverse regions. */
static double ref_diode(double v, double is, double n, double gmin)
{
    double vte = n * eqs_thermal_voltage(300.15);
    if (v >= -3 * vte) return is * (exp(v / vte) - 1) + gmin * v;
    double arg = pow(3 * vte / (v * 2.7182818284590452354), 3);
    return -is * (1 + arg) + gmin * v;
}

/* Junction voltage solving Vs = vj + (R + RS) * Id(vj), by bisection. */
static double bisect_diode(double Vs, double Rtot, double is, double n, double gmin)
{
    double lo = -fabs(Vs) - 1, hi = fabs(Vs) + 1;
    for (int k = 0; k < 200; ++k) {
        double m = 0.5 * (lo + hi);
        double f = Vs - m - Rtot * ref_diode(m, is, n, gmin);
        if (f > 0) lo = m;
        else hi = m;
    }
    return 0.5 * (lo + hi);
}

START_TEST(test_diode_resistor)
{
    const double vs[] = {5.0, 0.3, -2.0, 50.0};
    for (size_t t = 0; t < sizeof vs / sizeof vs[0]; ++t) {
        eqs_netlist *nl = tn_new(tu_ctx());
        int m = tn_model(nl, "dm", 1e-14, 1.3, 0);
        tn_add(nl, EQS_EL_V, "v1", "in", "0", vs[t]);
        tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
        tn_diode(nl, "d1", "a", "0", m, 1);
        eqs_solver_options opt;
        eqs_solver_options_defaults(&opt);
        opt.reltol = 1e-9; /* tight, so the comparison is meaningful */
        opt.vntol = 1e-12;
        opt.abstol = 1e-15;
        run r = solve_nl(nl, &opt);
        ASSERT_OK(r);
        double ref = bisect_diode(vs[t], 1e3, 1e-14, 1.3, 1e-12);
        ck_assert_msg(fabs(V(&r, "a") - ref) < 1e-9, "Vs=%g: %.15g vs %.15g", vs[t], V(&r, "a"),
                      ref);
        ck_assert_double_le(r.info.residual_A, 1e-12);
        run_free(&r);
    }
}
END_TEST

START_TEST(test_diode_series_resistance)
{
    /* RS = 20 Ohm with area 2: effective 10 Ohm in series (ngspice RS/area) */
    eqs_netlist *nl = tn_new(tu_ctx());
    int m = tn_model(nl, "dm", 1e-14, 1, 20);
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 3.0);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 100);
    tn_diode(nl, "d1", "a", "0", m, 2);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = 1e-9;
    opt.vntol = 1e-12;
    opt.abstol = 1e-15;
    run r = solve_nl(nl, &opt);
    ASSERT_OK(r);
    double vj = bisect_diode(3.0, 110, 2e-14, 1, 1e-12);
    double id = ref_diode(vj, 2e-14, 1, 1e-12);
    ck_assert_double_eq_tol(V(&r, "a"), vj + 10 * id, 1e-9);
    run_free(&r);
}
END_TEST

START_TEST(test_controlled_sources)
{
    /* E: out = 2 * in */
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1.5);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_add4(nl, EQS_EL_E, "e1", "out", "0", "in", "0", 2);
    tn_add(nl, EQS_EL_R, "r2", "out", "0", 1e3);
    run r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_str_eq(r.info.backend, "newton-klu");
    ck_assert_double_eq_tol(V(&r, "out"), 3.0, 1e-12);
    run_free(&r);

    /* G: gm * V(in) flows from 0 through the source into out */
    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1.0);
    tn_add4(nl, EQS_EL_G, "g1", "0", "out", "in", "0", 1e-3);
    tn_add(nl, EQS_EL_R, "r2", "out", "0", 2e3);
    r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_double_eq_tol(V(&r, "out"), 2.0, 1e-12);
    run_free(&r);

    /* F: 2 * i(vx), i(vx) = 1 mA */
    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1.0);
    tn_add(nl, EQS_EL_R, "r1", "in", "mid", 1e3);
    tn_add(nl, EQS_EL_V, "vx", "mid", "0", 0);
    tn_addc(nl, EQS_EL_F, "f1", "0", "out", "vx", 2);
    tn_add(nl, EQS_EL_R, "r2", "out", "0", 1e3);
    r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_double_eq_tol(V(&r, "out"), 2.0, 1e-12);
    ck_assert_double_eq_tol(V(&r, "mid"), 0.0, 1e-15);
    run_free(&r);

    /* H: 500 Ohm * i(vx) with a floating controlling source */
    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1.0);
    tn_add(nl, EQS_EL_R, "r1", "in", "mid", 1e3);
    tn_add(nl, EQS_EL_V, "vx", "mid", "m2", 0);
    tn_add(nl, EQS_EL_R, "r3", "m2", "0", 1e3);
    tn_addc(nl, EQS_EL_H, "h1", "out", "0", "vx", 500);
    tn_add(nl, EQS_EL_R, "r2", "out", "0", 1e3);
    r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_double_eq_tol(V(&r, "out"), 0.25, 1e-12);
    ck_assert_double_eq_tol(V(&r, "mid"), 0.5, 1e-12);
    run_free(&r);
}
END_TEST

START_TEST(test_floating_vsource_and_negative_r)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 2.0);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
    tn_add(nl, EQS_EL_V, "v2", "a", "b", 1.0);
    tn_add(nl, EQS_EL_R, "r2", "b", "0", 1e3);
    run r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_str_eq(r.info.backend, "newton-klu");
    ck_assert_double_eq_tol(V(&r, "a"), 1.5, 1e-12);
    ck_assert_double_eq_tol(V(&r, "b"), 0.5, 1e-12);
    run_free(&r);

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1.0);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
    tn_add(nl, EQS_EL_R, "r2", "a", "0", -2e3);
    r = solve_nl(nl, NULL);
    ASSERT_OK(r);
    ck_assert_str_eq(r.info.backend, "newton-klu");
    ck_assert_double_eq_tol(V(&r, "a"), 2.0, 1e-12);
    run_free(&r);
}
END_TEST

/* A chain of k diodes in series driven hard through a small resistor. */
static eqs_netlist *diode_chain(int k, double vs, double rser)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    int m = tn_model(nl, "dm", 1e-16, 1, 0);
    tn_add(nl, EQS_EL_V, "v1", "in", "0", vs);
    tn_add(nl, EQS_EL_R, "r1", "in", "d0", rser);
    char a[16], b[16], nm[16];
    for (int i = 0; i < k; ++i) {
        snprintf(a, sizeof a, "d%d", i);
        snprintf(b, sizeof b, i + 1 < k ? "d%d" : "0", i + 1);
        snprintf(nm, sizeof nm, "dd%d", i);
        tn_diode(nl, nm, a, b, m, 1);
    }
    return nl;
}

START_TEST(test_stepping_triggered)
{
    /* 1 mA pulled out of a node held only by 1 MOhm and a reverse-biased
     * diode: about -1000 V.  Plain Newton needs ~10 reverse-limited steps
     * (pnjlim doubles the reverse voltage per iteration), more than
     * itl1 = 8, so gmin stepping has to take over. */
    eqs_netlist *nl = tn_new(tu_ctx());
    int m = tn_model(nl, "dm", 1e-14, 1, 0);
    tn_add(nl, EQS_EL_I, "i1", "a", "0", 1e-3);
    tn_add(nl, EQS_EL_R, "r1", "a", "0", 1e6);
    tn_diode(nl, "d1", "a", "0", m, 1);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.itl1 = 8;
    run r = solve_nl(nl, &opt);
    ASSERT_OK(r);
    ck_assert(r.info.used_gmin_stepping);
    double ref = -(1e-3 - 1e-14) / (1e-6 + 1e-12);
    ck_assert_double_eq_tol(V(&r, "a"), ref, 1e-6 * fabs(ref));
    run_free(&r);

    /* without gmin stepping: source stepping gets there */
    nl = tn_new(tu_ctx());
    m = tn_model(nl, "dm", 1e-14, 1, 0);
    tn_add(nl, EQS_EL_I, "i1", "a", "0", 1e-3);
    tn_add(nl, EQS_EL_R, "r1", "a", "0", 1e6);
    tn_diode(nl, "d1", "a", "0", m, 1);
    opt.gmin_steps = 0;
    opt.source_steps = 1000;
    opt.itl1 = 16; /* plain Newton needs 17 here, the first 1 V step 15 */
    r = solve_nl(nl, &opt);
    ASSERT_OK(r);
    ck_assert(!r.info.used_gmin_stepping && r.info.used_source_stepping);
    ck_assert_double_eq_tol(V(&r, "a"), ref, 1e-6 * fabs(ref));
    run_free(&r);
}
END_TEST

START_TEST(test_noconv_names_node)
{
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.itl1 = 1;
    opt.gmin_steps = 0;
    opt.source_steps = 0;
    opt.use_netlist_options = 0;
    run r = solve_nl(diode_chain(3, 10.0, 1.0), &opt);
    ck_assert_int_eq(r.st, EQS_ERR_NOCONV);
    const char *msg = eqs_ctx_error(r.ctx);
    ck_assert_msg(strstr(msg, "no convergence") && strstr(msg, "node 'd"), "%s", msg);
    ck_assert_msg(strstr(msg, " A)"), "%s", msg);
    run_free(&r);
}
END_TEST

/* A small layered diode-resistor network built by hand (like gen drn). */
static eqs_netlist *small_drn(int n_in, int n_hid, int n_out, uint64_t seed, double scale_r)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    lcg = seed;
    int m = tn_model(nl, "dpos", 1e-14, 1, 0);
    char nm[64];
    int *in = malloc(sizeof(int) * 2 * (size_t)n_in), *hid = malloc(sizeof(int) * (size_t)n_hid);
    int *out = malloc(sizeof(int) * (size_t)n_out);
    for (int p = 0; p < n_in; ++p) {
        double x = urand();
        snprintf(nm, sizeof nm, "xp%d", p);
        in[2 * p] = tn_node_new(nl, nm);
        snprintf(nm, sizeof nm, "xn%d", p);
        in[2 * p + 1] = tn_node_new(nl, nm);
        snprintf(nm, sizeof nm, "vxp%d", p);
        tn_add_idx(nl, EQS_EL_V, nm, in[2 * p], 0, 5 * x);
        snprintf(nm, sizeof nm, "vxn%d", p);
        tn_add_idx(nl, EQS_EL_V, nm, in[2 * p + 1], 0, -5 * x);
    }
    for (int j = 0; j < n_hid; ++j) {
        snprintf(nm, sizeof nm, "h1_%d", j);
        hid[j] = tn_node_new(nl, nm);
    }
    for (int j = 0; j < n_out; ++j) {
        snprintf(nm, sizeof nm, "o%d", j);
        out[j] = tn_node_new(nl, nm);
    }
    for (int i = 0; i < 2 * n_in; ++i)
        for (int j = 0; j < n_hid; ++j) {
            snprintf(nm, sizeof nm, "r1_%d_%d", i, j);
            tn_add_idx(nl, EQS_EL_R, nm, in[i], hid[j], scale_r / (1e-6 + 99e-6 * urand()));
        }
    for (int i = 0; i < n_hid; ++i)
        for (int j = 0; j < n_out; ++j) {
            snprintf(nm, sizeof nm, "r2_%d_%d", i, j);
            tn_add_idx(nl, EQS_EL_R, nm, hid[i], out[j], scale_r / (1e-6 + 99e-6 * urand()));
        }
    for (int j = 0; j < n_hid; ++j) {
        snprintf(nm, sizeof nm, j % 2 ? "dn1_%d" : "dp1_%d", j);
        int e = j % 2 ? tn_add_idx(nl, EQS_EL_D, nm, hid[j], 0, 0)
                      : tn_add_idx(nl, EQS_EL_D, nm, 0, hid[j], 0);
        nl->elems[e].model = m;
        nl->elems[e].area = 1;
    }
    free(in);
    free(hid);
    free(out);
    return nl;
}

START_TEST(test_warm_equals_cold_and_no_alloc)
{
    run r = solve_nl(small_drn(20, 16, 4, 7, 1.0), NULL);
    ASSERT_OK(r);
    /* change a few conductances, re-solve warm */
    int np = eqs_circuit_param_count(r.c);
    ck_assert_int_eq(np, 40 * 16 + 16 * 4);
    for (int k = 0; k < np; k += 37)
        ck_assert_int_eq(eqs_circuit_param_set(r.c, k, 1.3 * eqs_circuit_param_get(r.c, k)),
                         EQS_OK);
    uint64_t before = eqs_ctx_alloc_count(r.ctx);
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(r.s, EQS_SOLVE_WARM, &info), EQS_OK);
    ck_assert_int_eq(eqs_ctx_alloc_count(r.ctx), before);
    ck_assert(!info.used_gmin_stepping && !info.used_source_stepping);
    ck_assert_int_le(info.iterations, r.info.iterations);

    /* cold solve of a fresh circuit with the changed values */
    eqs_netlist *nl2 = small_drn(20, 16, 4, 7, 1.0);
    run q;
    memset(&q, 0, sizeof q);
    q.ctx = nl2->ctx;
    q.nl = nl2;
    ck_assert_int_eq(eqs_circuit_create(q.ctx, nl2, &q.c), EQS_OK);
    for (int k = 0; k < np; k += 37)
        ck_assert_int_eq(eqs_circuit_param_set(q.c, k, 1.3 * eqs_circuit_param_get(q.c, k)),
                         EQS_OK);
    ck_assert_int_eq(eqs_solver_create(q.ctx, q.c, EQS_BACKEND_NEWTON, NULL, &q.s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(q.s, EQS_SOLVE_COLD, &q.info), EQS_OK);
    const double *v1 = eqs_solver_voltages(r.s), *v2 = eqs_solver_voltages(q.s);
    for (int i = 0; i < eqs_circuit_node_count(r.c); ++i)
        ck_assert_double_eq_tol(v1[i], v2[i], 1e-6);
    run_free(&r);
    run_free(&q);
}
END_TEST

/* More changes than the change log holds: the solver must notice the new
 * epoch and refresh every value. */
START_TEST(test_change_log_overflow)
{
    run r = solve_nl(small_drn(20, 16, 4, 9, 1.0), NULL);
    ASSERT_OK(r);
    int np = eqs_circuit_param_count(r.c);
    int sets = 0;
    for (int round = 0; sets <= EQS_CIRCUIT_CHANGE_LOG + 10; ++round)
        for (int k = 0; k < np; ++k, ++sets)
            eqs_circuit_param_set(r.c, k, (1e-6 + 99e-6 * urand()));
    ck_assert_int_gt((int)r.c->chg_epoch, 0);
    ck_assert_int_eq(eqs_solver_solve(r.s, EQS_SOLVE_WARM, &r.info), EQS_OK);
    /* reference: a fresh solver on the same (changed) circuit */
    eqs_solver *s2 = NULL;
    ck_assert_int_eq(eqs_solver_create(r.ctx, r.c, EQS_BACKEND_NEWTON, NULL, &s2), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s2, EQS_SOLVE_COLD, NULL), EQS_OK);
    const double *v1 = eqs_solver_voltages(r.s), *v2 = eqs_solver_voltages(s2);
    for (int i = 0; i < eqs_circuit_node_count(r.c); ++i)
        ck_assert_double_eq_tol(v1[i], v2[i], 1e-9);
    eqs_solver_free(&s2);
    run_free(&r);
}
END_TEST

START_TEST(test_param_set_rejects)
{
    run r = solve_nl(small_drn(2, 2, 1, 3, 1.0), NULL);
    ASSERT_OK(r);
    ck_assert_int_eq(eqs_circuit_param_set(r.c, 0, 0.0), EQS_ERR_INPUT);
    eqs_ctx_clear_error(r.ctx);
    ck_assert_int_eq(eqs_circuit_param_set(r.c, 0, NAN), EQS_ERR_INPUT);
    eqs_ctx_clear_error(r.ctx);
    ck_assert_int_eq(eqs_circuit_param_set(r.c, 0, INFINITY), EQS_ERR_INPUT);
    eqs_ctx_clear_error(r.ctx);
    ck_assert_int_eq(eqs_circuit_param_set(r.c, -1, 1.0), EQS_ERR_INPUT);
    eqs_ctx_clear_error(r.ctx);
    ck_assert_int_eq(eqs_circuit_param_set(r.c, 0, 2e-3), EQS_OK);
    ck_assert_double_eq(eqs_circuit_param_get(r.c, 0), 2e-3);
    ck_assert_str_eq(eqs_circuit_param_name(r.c, 0), "r1_0_0");
    run_free(&r);
}
END_TEST

/* Timing on a generated-size DRN (EQS_BENCH_DRN=1 to run the full
 * 784-1024-10 network; otherwise a 196-256-10 one).  Prints, asserts only
 * correctness (KCL residual) and the warm path's lack of allocation. */
START_TEST(test_drn_timing)
{
    const char *big = getenv("EQS_BENCH_DRN");
    int ni = big ? 784 : 196, nh = big ? 1024 : 256;
    eqs_netlist *nl = small_drn(ni, nh, 10, 11, 1.0);
    eqs_ctx *ctx = nl->ctx;
    eqs_circuit *c = NULL;
    double t0 = eqs_now_s();
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    double t1 = eqs_now_s();
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    double t2 = eqs_now_s();
    eqs_solve_info info;
    ck_assert_msg(eqs_solver_solve(s, EQS_SOLVE_COLD, &info) == EQS_OK, "%s", eqs_ctx_error(ctx));
    double t3 = eqs_now_s();
    int cold_it = info.iterations;
    /* warm: change one conductance, best of 5 */
    double warm = 1e9;
    int warm_it = 0;
    for (int rep = 0; rep < 5; ++rep) {
        eqs_circuit_param_set(c, rep * 1001 % c->n_params,
                              1.01 * eqs_circuit_param_get(c, rep * 1001 % c->n_params));
        uint64_t before = eqs_ctx_alloc_count(ctx);
        double a = eqs_now_s();
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_WARM, &info), EQS_OK);
        double b = eqs_now_s();
        ck_assert_int_eq(eqs_ctx_alloc_count(ctx), before);
        if (b - a < warm) warm = b - a;
        warm_it = info.iterations;
    }
    double cold = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
        double a = eqs_now_s();
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
        double b = eqs_now_s();
        if (b - a < cold) cold = b - a;
    }
    fprintf(stderr,
            "drn %d-%d-10 (%d resistors, %d unknowns, nnz %d): compile %.1f ms, create %.1f ms, "
            "first solve %.2f ms (%d it), cold %.2f ms, warm %.3f ms (%d it)\n",
            2 * ni, nh, c->n_params, c->n_unknowns, c->nnz, 1e3 * (t1 - t0), 1e3 * (t2 - t1),
            1e3 * (t3 - t2), cold_it, 1e3 * cold, 1e3 * warm, warm_it);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    tn_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* At default tolerances ngspice's own answer can be micro-volts from the
 * exact one; Newton follows ngspice's iteration and convergence tests
 * (including the branch currents of the grounded sources it eliminates),
 * so the two agree far below 1 uV.  Breakdown with area and RS, N != 1. */
START_TEST(test_agrees_with_ngspice_default_tolerances)
{
    static const char *text =
        "* breakdown with area and RS\n"
        ".model db D(IS=1e-12 N=1.5 BV=4.7 IBV=1e-2 RS=3)\n"
        "v1 in 0 -12\nr1 in k 1k\nd1 k 0 db 3\n"
        "v2 in2 0 -30\nr2 in2 k2 100\nd2 k2 0 db 0.5\n"
        "v3 in3 0 -5\nr3 in3 k3 10k\nd3 k3 0 db 2\n"
        "v4 in4 0 5\nr4 in4 a4 1k\nd4 a4 0 db 1\n"
        ".end\n";
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    ck_assert_msg(eqs_netlist_read_string(ctx, text, "bv.cir", &nl) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    eqs_solver *sn = NULL, *sg = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &sn), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sn, EQS_SOLVE_COLD, NULL), EQS_OK);
    /* ngspice is a hard dependency (libngspice0): its absence is a failure */
    ck_assert_msg(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &sg) == EQS_OK &&
                      eqs_solver_solve(sg, EQS_SOLVE_COLD, NULL) == EQS_OK,
                  "ngspice failed: %s", eqs_ctx_error(ctx));
    const double *a = eqs_solver_voltages(sn), *b = eqs_solver_voltages(sg);
    for (int i = 0; i < eqs_circuit_node_count(c); ++i)
        ck_assert_msg(fabs(a[i] - b[i]) < 1e-9, "%s: %.17g vs %.17g", eqs_circuit_node_name(c, i),
                      a[i], b[i]);
    eqs_solver_free(&sg);
    eqs_solver_free(&sn);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_solver(void)
{
    Suite *s = suite_create("solver");
    TCase *tl = tcase_create("linsolve");
    tcase_add_test(tl, test_cholmod_vs_dense);
    tcase_add_test(tl, test_klu_vs_dense);
    tcase_add_test(tl, test_linsolve_recoverable);
    suite_add_tcase(s, tl);
    TCase *tn = tcase_create("newton");
    tcase_set_timeout(tn, 60);
    tcase_add_test(tn, test_divider);
    tcase_add_test(tn, test_ladder);
    tcase_add_test(tn, test_current_source);
    tcase_add_test(tn, test_diode_resistor);
    tcase_add_test(tn, test_diode_series_resistance);
    tcase_add_test(tn, test_controlled_sources);
    tcase_add_test(tn, test_floating_vsource_and_negative_r);
    tcase_add_test(tn, test_stepping_triggered);
    tcase_add_test(tn, test_noconv_names_node);
    tcase_add_test(tn, test_warm_equals_cold_and_no_alloc);
    tcase_add_test(tn, test_param_set_rejects);
    tcase_add_test(tn, test_change_log_overflow);
    tcase_add_test(tn, test_drn_timing);
    tcase_add_test(tn, test_agrees_with_ngspice_default_tolerances);
    suite_add_tcase(s, tn);
    return s;
}
