/*
 * test_wire.c: crossbars with wire resistance (rwire) in the layered
 * solver (docs/solver.md "Wire resistance") and `gen drn --rwire`.
 *
 * References, all independent of the reduction under test: Newton on the
 * flattened netlist (CHOLMOD on every internal node), stock ngspice
 * (libngspice on the deck of the flattened netlist), and central finite
 * differences of the loss for the EqProp gradient.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqspice.h"
#include "testutil.h"

/* A generated DRN (layers, input gain, rwire) built and compiled. */
typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
} net;

static void net_open(net *n, const int *layers, int nlay, double gain, double rwire,
                     uint64_t seed)
{
    memset(n, 0, sizeof *n);
    n->ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = nlay;
    sp.gain = gain;
    sp.seed = seed;
    sp.rwire_ohm = rwire;
    ck_assert_int_eq(eqs_drn_build(n->ctx, &sp, &n->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(n->ctx, n->nl, &n->c), EQS_OK);
}

static void net_close(net *n)
{
    eqs_circuit_free(&n->c);
    eqs_netlist_free(&n->nl);
    eqs_ctx_free(&n->ctx);
}

/* Solve with `backend` at tight tolerances; voltages copied into v. */
static void solve(net *n, eqs_backend_id backend, double *v, eqs_backend_id *used)
{
    eqs_solver_options o;
    eqs_solver_options_defaults(&o);
    o.bcd_tol_V = 1e-14;
    if (backend == EQS_BACKEND_NEWTON) {
        o.reltol = 1e-12;
        o.vntol = 1e-14;
        o.abstol = 1e-20;
    }
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(n->ctx, n->c, backend, &o, &s), EQS_OK);
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
    const double *sv = eqs_solver_voltages(s);
    for (int i = 0; i < eqs_circuit_node_count(n->c); ++i) v[i] = sv[i];
    if (used) *used = eqs_solver_backend(s);
    eqs_solver_free(&s);
}

/* EQS_WIRE_REPORT=1: print the measured differences. */
static void report(const char *what, double x)
{
    if (getenv("EQS_WIRE_REPORT")) fprintf(stderr, "wire: %s %.3g\n", what, x);
}

static double max_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; ++i)
        if (!(fabs(a[i] - b[i]) <= m)) m = fabs(a[i] - b[i]);
    return m;
}

/* The reduced solve equals Newton on the flattened netlist (every node,
 * internal ones included), and the wires matter: the same network with
 * ideal wires is far away. */
static void check_vs_newton(const int *layers, int nlay, double gain, double rwire)
{
    net n, n0;
    net_open(&n, layers, nlay, gain, rwire, 3);
    int nn = eqs_circuit_node_count(n.c);
    double *vl = malloc(sizeof *vl * (size_t)nn), *vn = malloc(sizeof *vn * (size_t)nn);
    eqs_backend_id used;
    solve(&n, EQS_BACKEND_AUTO, vl, &used);
    ck_assert_int_eq(used, EQS_BACKEND_LAYERED);
    ck_assert_int_eq(eqs_circuit_is_layered(n.c, NULL, 0), 0); /* not by the ideal rules */
    solve(&n, EQS_BACKEND_NEWTON, vn, NULL);
    double d = max_diff(vl, vn, nn);
    report("max |V_layered - V_newton| (V)", d);
    ck_assert_msg(d <= 1e-9, "rwire %g: layered vs newton max |dV| = %g V", rwire, d);
    /* the terminals of the ideal-wire network (the same node indices come
     * first: inputs, crossbar lines in card order) */
    net_open(&n0, layers, nlay, gain, 0.0, 3);
    int nn0 = eqs_circuit_node_count(n0.c);
    double *v0 = malloc(sizeof *v0 * (size_t)nn0);
    solve(&n0, EQS_BACKEND_LAYERED, v0, NULL);
    double dw = 0;
    for (int i = 0; i < nn0; ++i) {
        const char *name = eqs_circuit_node_name(n0.c, i);
        for (int k = 0; k < nn; ++k)
            if (!strcmp(eqs_circuit_node_name(n.c, k), name) && fabs(v0[i] - vl[k]) > dw)
                dw = fabs(v0[i] - vl[k]);
    }
    report("max |V_wired - V_ideal| at the terminals (V)", dw);
    ck_assert_msg(dw > 1e3 * d && dw > 1e-7, "wires change the terminals by %g V only", dw);
    free(v0);
    free(vl);
    free(vn);
    net_close(&n0);
    net_close(&n);
}

START_TEST(wire_vs_newton_20_8_3)
{
    const int layers[] = {20, 8, 3};
    check_vs_newton(layers, 3, 5.0, 1.0);
    check_vs_newton(layers, 3, 5.0, 300.0); /* wires of the devices' order */
}
END_TEST

START_TEST(wire_vs_newton_deep)
{
    const int layers[] = {7, 6, 5, 3};
    check_vs_newton(layers, 4, 3.0, 20.0);
}
END_TEST

/* Stock ngspice on the flattened netlist's deck, default tolerances. */
START_TEST(wire_vs_ngspice)
{
    const int layers[] = {6, 4, 2};
    net n;
    net_open(&n, layers, 3, 4.0, 100.0, 5);
    int nn = eqs_circuit_node_count(n.c);
    double *vl = malloc(sizeof *vl * (size_t)nn), *vg = malloc(sizeof *vg * (size_t)nn);
    eqs_backend_id used;
    solve(&n, EQS_BACKEND_LAYERED, vl, &used);
    eqs_solver_options o;
    eqs_solver_options_defaults(&o);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NGSPICE, &o, &s), EQS_OK);
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
    const double *sv = eqs_solver_voltages(s);
    for (int i = 0; i < nn; ++i) vg[i] = sv[i];
    eqs_solver_free(&s);
    double d = max_diff(vl, vg, nn);
    report("max |V_layered - V_ngspice| (V)", d);
    ck_assert_msg(d <= 1e-6, "layered vs ngspice max |dV| = %g V", d);
    free(vl);
    free(vg);
    net_close(&n);
}
END_TEST

/* Loss of the free phase at the circuit's current values. */
static double free_loss(eqs_eqprop *ep)
{
    double L = 0;
    ck_assert_int_eq(eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, &L), EQS_OK);
    return L;
}

/* Centered EqProp on the wired network (each device's voltage between its
 * internal nodes) against central differences of the loss, and the same
 * EqProp through Newton on the flattened netlist. */
START_TEST(wire_gradient)
{
    const int layers[] = {5, 4, 2};
    net n;
    net_open(&n, layers, 3, 4.0, 200.0, 7);
    eqs_solver_options o;
    eqs_solver_options_defaults(&o);
    o.bcd_tol_V = 1e-15;
    eqs_solver *s = NULL, *sn = NULL;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, &o, &s), EQS_OK);
    eqs_solver_options on = o;
    on.reltol = 1e-12, on.vntol = 1e-14, on.abstol = 1e-20;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NEWTON, &on, &sn), EQS_OK);
    eqs_eqprop *ep = NULL, *epn = NULL;
    ck_assert_int_eq(eqs_eqprop_create(n.ctx, s, &ep), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(n.ctx, sn, &epn), EQS_OK);
    const double y[2] = {0.05, -0.02};
    ck_assert_int_eq(eqs_eqprop_set_targets(ep, y), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_set_targets(epn, y), EQS_OK);
    const int np = eqs_circuit_param_count(n.c);
    ck_assert_int_eq(np, 5 * 2 * 4 + 4 * 2); /* devices only: wires are not trainable */
    double *g = malloc(sizeof *g * (size_t)np), *gn = malloc(sizeof *gn * (size_t)np);
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = EQS_GRAD_CENTERED;
    ck_assert_int_eq(eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, NULL), EQS_OK);
    go.beta_S = 1e-3 * eqs_eqprop_default_beta(ep);
    ck_assert_int_eq(eqs_eqprop_gradient(ep, &go, g), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_free_phase(epn, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_gradient(epn, &go, gn), EQS_OK);
    double gmax = 0, ef = 0, en = 0;
    for (int k = 0; k < np; ++k) gmax = fmax(gmax, fabs(g[k]));
    ck_assert(gmax > 0);
    for (int k = 0; k < np; ++k) {
        double G = eqs_circuit_param_get(n.c, k), h = 1e-4 * G;
        ck_assert_int_eq(eqs_circuit_param_set(n.c, k, G + h), EQS_OK);
        double lp = free_loss(ep);
        ck_assert_int_eq(eqs_circuit_param_set(n.c, k, G - h), EQS_OK);
        double lm = free_loss(ep);
        ck_assert_int_eq(eqs_circuit_param_set(n.c, k, G), EQS_OK);
        double fd = (lp - lm) / (2 * h);
        ef = fmax(ef, fabs(g[k] - fd));
        en = fmax(en, fabs(g[k] - gn[k]));
    }
    report("max |EqProp - finite differences| / max |grad|", ef / gmax);
    report("max |EqProp layered - EqProp newton| / max |grad|", en / gmax);
    ck_assert_msg(ef <= 1e-4 * gmax, "EqProp vs finite differences: %g of %g", ef, gmax);
    ck_assert_msg(en <= 1e-6 * gmax, "layered vs newton EqProp: %g of %g", en, gmax);
    free(g);
    free(gn);
    eqs_eqprop_free(&ep);
    eqs_eqprop_free(&epn);
    eqs_solver_free(&s);
    eqs_solver_free(&sn);
    net_close(&n);
}
END_TEST

/* A trainer on a generated DRN with wire resistance rw (Ohm; "0": ideal
 * wires), as `eqspice bench train` makes it: layered solver, shockley
 * diodes, batch 8, small steps (no clipping). */
static void wire_job(eqs_ctx *ctx, const char *rw, const char *threads, eqs_experiment **exp,
                     eqs_job **job)
{
    const char *paths[] = {"network.drn.rwire_ohm", "network.drn.layers", "network.drn.seed",
                           "dataset.classes", "dataset.synthetic.task",
                           "dataset.synthetic.train_size", "dataset.synthetic.features",
                           "input.gain_V", "input.encoding", "targets.on_V", "targets.off_V",
                           "algorithm.method", "algorithm.beta", "learning.momentum",
                           "learning.rate[r*]", "training.epochs", "training.batch",
                           "solver.backend", "solver.diodes", "solver.tol_V",
                           "conductance.g_min_S", "conductance.g_max_S", "solver.threads"};
    const char *values[] = {rw,     "6 4 2", "2",        "2",     "blobs",    "16",
                            "6",    "2",     "pair",     "0.5",   "0",        "centered",
                            "1e-6", "0.9",   "1e-12",    "1",     "8",        "layered",
                            "shockley", "1e-13", "1e-7", "1e-3",      threads};
    ck_assert_int_eq(eqs_experiment_defaults(ctx, exp), EQS_OK);
    ck_assert_int_eq(eqs_experiment_set_many(*exp, (int)(sizeof paths / sizeof paths[0]), paths,
                                             values),
                     EQS_OK);
    eqs_trainer_options topt;
    eqs_trainer_options_defaults(&topt);
    topt.health_checks = 0;
    eqs_job_options jopt;
    eqs_job_options_defaults(&jopt);
    jopt.trainer = &topt;
    ck_assert_int_eq(eqs_job_create(ctx, *exp, &jopt, job), EQS_OK);
}

/* Conductance changes dG (S, np of them) of two batched training steps
 * with wire resistance rw. */
static void train_dG(eqs_ctx *ctx, const char *rw, const char *threads, int np, double *dG)
{
    eqs_experiment *e = NULL;
    eqs_job *j = NULL;
    wire_job(ctx, rw, threads, &e, &j);
    eqs_trainer *tr = eqs_job_trainer(j);
    ck_assert_int_eq(eqs_trainer_batched(tr), 1);
    const eqs_circuit *c = eqs_job_circuit(j);
    ck_assert_int_eq(eqs_circuit_param_count(c), np);
    for (int k = 0; k < np; ++k) dG[k] = -eqs_circuit_param_get(c, k);
    for (int step = 0; step < 2; ++step) ck_assert_int_eq(eqs_trainer_step(tr), EQS_OK);
    for (int k = 0; k < np; ++k) dG[k] += eqs_circuit_param_get(c, k);
    eqs_job_free(&j);
    eqs_experiment_free(&e);
}

/* Batched training with wires (the reduction once per update, every
 * device's voltage between its internal nodes, the update law on the
 * store) against the batched path of ideal crossbars (layered_batch.inc,
 * an independent implementation): as rwire -> 0 the conductance changes
 * converge to the ideal ones, the difference shrinking in proportion to
 * rwire (first order in the wire drops). */
START_TEST(wire_train_limit)
{
    eqs_ctx *ctx = tu_ctx();
    const int np = 12 * 4 + 4 * 2; /* devices only */
    double *d0 = malloc(sizeof *d0 * np), *dw = malloc(sizeof *dw * np);
    train_dG(ctx, "0", "2", np, d0);
    double dmax = 0;
    for (int k = 0; k < np; ++k) dmax = fmax(dmax, fabs(d0[k]));
    ck_assert(dmax > 0);
    const char *rws[3] = {"0.1", "0.01", "0.001"};
    double r[3], e[3];
    for (int t = 0; t < 3; ++t) {
        train_dG(ctx, rws[t], "2", np, dw);
        r[t] = atof(rws[t]);
        e[t] = 0;
        for (int k = 0; k < np; ++k) e[t] = fmax(e[t], fabs(dw[k] - d0[k]));
        e[t] /= dmax;
        report("training: max |dG_wired - dG_ideal| / max |dG| at rwire (Ohm)", r[t]);
        report("  ->", e[t]);
    }
    /* one core (no helper: reduction, forward sweep and contrast halves in
     * turn) gives the same bits as two */
    double *d1 = malloc(sizeof *d1 * np);
    train_dG(ctx, "0.001", "1", np, d1);
    ck_assert_int_eq(memcmp(d1, dw, sizeof *d1 * np), 0);
    free(d1);
    double slope = tu_loglog_slope(r, e, 3);
    report("training: slope of the difference in rwire", slope);
    ck_assert_msg(slope > 0.9 && slope < 1.1, "difference ~ rwire^%g, not first order", slope);
    ck_assert_msg(e[2] < 1e-4, "at 1 mOhm the wired step is %g off the ideal one", e[2]);
    free(d0);
    free(dw);
    eqs_ctx_free(&ctx);
}
END_TEST

/* gen drn --rwire: the card carries rwire=, the text parses to the direct
 * build (same elements, nodes and values, bit for bit); rwire 0 writes the
 * same bytes as the default spec. */
static char *gen_text(eqs_ctx *ctx, const eqs_drn_spec *sp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(eqs_gen_drn(ctx, sp, f), EQS_OK);
    fclose(f);
    return buf;
}

START_TEST(wire_gen_text)
{
    eqs_ctx *ctx = tu_ctx();
    const int layers[] = {4, 3, 2};
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = 3;
    char *t0 = gen_text(ctx, &sp);
    sp.rwire_ohm = 0.0;
    char *t1 = gen_text(ctx, &sp);
    ck_assert_str_eq(t0, t1);
    ck_assert_ptr_null(strstr(t0, "rwire"));
    sp.rwire_ohm = 2.5;
    char *t2 = gen_text(ctx, &sp);
    ck_assert_ptr_nonnull(strstr(t2, ".crossbar r1 rwire=2.5\n"));
    ck_assert_ptr_nonnull(strstr(t2, ".crossbar r2 rwire=2.5\n"));
    eqs_netlist *a = NULL, *b = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, t2, "gen.cir", &a), EQS_OK);
    ck_assert_int_eq(eqs_drn_build(ctx, &sp, &b), EQS_OK);
    eqs_circuit *ca = NULL, *cb = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, a, &ca), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, b, &cb), EQS_OK);
    ck_assert_int_eq(eqs_circuit_node_count(ca), eqs_circuit_node_count(cb));
    /* 2 x (8 x 3 + 3 x 2) devices, two segments each, two internal nodes */
    ck_assert_int_eq(eqs_circuit_node_count(ca), 1 + 8 + 3 + 2 + 2 * (8 * 3 + 3 * 2));
    for (int i = 0; i < eqs_circuit_node_count(ca); ++i)
        ck_assert_str_eq(eqs_circuit_node_name(ca, i), eqs_circuit_node_name(cb, i));
    double *va = malloc(sizeof *va * (size_t)eqs_circuit_node_count(ca));
    double *vb = malloc(sizeof *vb * (size_t)eqs_circuit_node_count(cb));
    net na = {ctx, a, ca}, nb = {ctx, b, cb};
    solve(&na, EQS_BACKEND_LAYERED, va, NULL);
    solve(&nb, EQS_BACKEND_LAYERED, vb, NULL);
    ck_assert_int_eq(memcmp(va, vb, sizeof *va * (size_t)eqs_circuit_node_count(ca)), 0);
    free(va);
    free(vb);
    eqs_circuit_free(&ca);
    eqs_circuit_free(&cb);
    eqs_netlist_free(&a);
    eqs_netlist_free(&b);
    free(t0);
    free(t1);
    free(t2);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_wire(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("wire");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wire_vs_newton_20_8_3);
    tcase_add_test(tc, wire_vs_newton_deep);
    tcase_add_test(tc, wire_vs_ngspice);
    tcase_add_test(tc, wire_gradient);
    tcase_add_test(tc, wire_train_limit);
    tcase_add_test(tc, wire_gen_text);
    suite_add_tcase(s, tc);
    return s;
}
