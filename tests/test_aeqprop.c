/* test_aeqprop.c: Agnostic EqProp (src/eqprop/aeqprop.c).
 *
 * Independent references: the adjoint gradient (cosine), EqProp's estimate
 * with the same phase pair from grad.c (the limit eps -> 0, with a bias
 * that must shrink linearly in eps), the conductances read before the call
 * (restored bit-exact), the free-phase voltages (solver left at the free
 * state), the context's allocation counter, the experiment schema, the
 * CLI's exit status, and a task the trainer must learn (XOR). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/solver.h"

typedef tu_gfix fixture;

/* testutil.h: targets 50-150 mV off the free outputs, free phase solved,
 * g0/v0 the conductances and free voltages. */
static void fx_open(fixture *f, const char *text, const char *path)
{
    tu_gfix_open(f, text, path, EQS_BACKEND_NEWTON, 0);
}

static void fx_close(fixture *f) { tu_gfix_close(f); }

static eqs_status fx_aeq(fixture *f, eqs_aeq_phases ph, double beta, double eps, double *g)
{
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = EQS_GRAD_AEQPROP;
    go.aeq_phases = ph;
    go.beta_S = beta;
    go.epsilon_S_per_V2 = eps;
    return eqs_eqprop_gradient(f->ep, &go, g);
}

static void fx_grad(fixture *f, eqs_grad_method m, double beta, double *g)
{
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = m;
    go.beta_S = beta;
    eqs_status st = eqs_eqprop_gradient(f->ep, &go, g);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
}

/* EqProp's estimate with the phase pair of `ph` at beta (grad.c). */
static void fx_eqprop_same_phases(fixture *f, eqs_aeq_phases ph, double beta, double *g)
{
    if (ph == EQS_AEQ_CENTERED) fx_grad(f, EQS_GRAD_CENTERED, beta / 2, g);
    else if (ph == EQS_AEQ_OPTIMISTIC) fx_grad(f, EQS_GRAD_EQPROP, beta, g);
    else fx_grad(f, EQS_GRAD_NEGATIVE, beta, g);
}

/* The conductances are back to their values before the call, bit for bit,
 * and the solver holds the free state. */
static void check_restored(const fixture *f, const char *what)
{
    for (int k = 0; k < f->np; ++k)
        ck_assert_msg(eqs_circuit_param_get(f->c, k) == f->g0[k], "%s: %s changed", what,
                      eqs_circuit_param_name(f->c, k));
    const double *v = eqs_solver_voltages(f->s);
    for (int n = 0; n < eqs_circuit_node_count(f->c); ++n)
        ck_assert_msg(v[n] == f->v0[n], "%s: node %s not at the free state", what,
                      eqs_circuit_node_name(f->c, n));
}

/* The example networks: reciprocal netlists with outputs and a generated
 * DRN (tu_gen_drn, plus one with an input gain that switches diodes). */
typedef struct {
    const char *name;
    char *text;       /* malloc'd netlist text, or NULL */
    const char *path; /* file under the repository, when text is NULL */
} network;

enum { N_NETS = 4 };
static void networks(network nets[N_NETS])
{
    static const int l1[] = {8, 6, 3}, l2[] = {16, 12, 8, 4};
    nets[0] = (network){"layered.cir", NULL, "netlists/layered.cir"};
    nets[1] = (network){"crossbar3x3.cir", NULL, "netlists/crossbar3x3.cir"};
    nets[2] = (network){"drn 8-6-3 (tu_gen_drn)", tu_gen_drn(l1, 3, 11), NULL};
    nets[3] = (network){"drn 16-12-8-4, gain 15", tu_gen_drn_gain(l2, 4, 15.0, 4), NULL};
}

static void fx_open_net(fixture *f, const network *n)
{
    fx_open(f, n->text, n->text ? NULL : tu_path(n->path));
}

/* ---- criterion 1: agreement with the adjoint gradient ----------------- */

START_TEST(test_aeq_vs_adjoint)
{
    network nets[N_NETS];
    networks(nets);
    static const eqs_aeq_phases phs[] = {EQS_AEQ_CENTERED, EQS_AEQ_OPTIMISTIC,
                                         EQS_AEQ_PESSIMISTIC};
    for (int i = 0; i < N_NETS; ++i) {
        fixture f;
        fx_open_net(&f, &nets[i]);
        ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), 1);
        fx_grad(&f, EQS_GRAD_ADJOINT, 0, f.adj);
        for (int p = 0; p < 3; ++p) {
            eqs_status st = fx_aeq(&f, phs[p], 0 /* default beta */, 0 /* automatic eps */, f.est);
            ck_assert_msg(st == EQS_OK, "%s: %s", nets[i].name, eqs_ctx_error(f.ctx));
            check_restored(&f, nets[i].name);
            double cs = tu_cosine(f.est, f.adj, f.np), e = tu_rel_l2(f.est, f.adj, f.np);
            fx_eqprop_same_phases(&f, phs[p], eqs_eqprop_default_beta(f.ep), f.ref);
            double ee = tu_rel_l2(f.est, f.ref, f.np);
            fprintf(stderr,
                    "aeqprop %-11s %-24s (%d conductances): cosine vs adjoint %.12f, "
                    "relative L2 vs adjoint %.3g, vs EqProp same phases %.3g\n",
                    eqs_aeq_phases_name(phs[p]), nets[i].name, f.np, cs, e, ee);
            ck_assert_msg(cs >= 0.999, "%s %s: cosine %.9f", nets[i].name,
                          eqs_aeq_phases_name(phs[p]), cs);
            /* automatic eps: the O(eps) bias is about 1e-3 relative */
            ck_assert_msg(ee < 1e-2, "%s: %.3g from EqProp", nets[i].name, ee);
        }
        fx_close(&f);
        free(nets[i].text);
    }
}
END_TEST

/* ---- criterion 1: the update tends to EqProp's as eps -> 0 ------------- */

START_TEST(test_aeq_eps_to_zero)
{
    network nets[N_NETS];
    networks(nets);
    for (int i = 0; i < N_NETS; ++i) {
        fixture f;
        fx_open_net(&f, &nets[i]);
        /* eps scale: the largest knob offset eps dV^2/2 at the free state is
         * 1 % of its device's G at the largest eps (branch voltages read
         * from the compiled circuit, independently of aeqprop.c) */
        double m = 0;
        for (int k = 0; k < f.np; ++k) {
            const eqs_celem *e = &f.c->elems[f.c->params[k]];
            double dv = f.v0[e->n[0]] - f.v0[e->n[1]];
            m = fmax(m, 0.5 * dv * dv / f.g0[k]);
        }
        const double beta = eqs_eqprop_default_beta(f.ep);
        enum { NE = 3 };
        double eps[NE], d[NE];
        for (int j = 0; j < NE; ++j) {
            eps[j] = 1e-2 / m / (1 << (2 * j));
            eqs_status st = fx_aeq(&f, EQS_AEQ_CENTERED, beta, eps[j], f.est);
            ck_assert_msg(st == EQS_OK, "%s: %s", nets[i].name, eqs_ctx_error(f.ctx));
            check_restored(&f, nets[i].name);
            fx_eqprop_same_phases(&f, EQS_AEQ_CENTERED, beta, f.ref);
            d[j] = tu_rel_l2(f.est, f.ref, f.np);
        }
        double s = tu_loglog_slope(eps, d, NE);
        fprintf(stderr,
                "aeqprop vs EqProp (centered, beta %.3g S) %-24s: relative L2 %.3g %.3g %.3g at "
                "eps %.3g %.3g %.3g S/V^2, slope %.3f\n",
                beta, nets[i].name, d[0], d[1], d[2], eps[0], eps[1], eps[2], s);
        for (int j = 1; j < NE; ++j)
            ck_assert_msg(d[j] < 0.5 * d[j - 1], "%s: no decrease %.3g -> %.3g", nets[i].name,
                          d[j - 1], d[j]);
        ck_assert_msg(s > 0.8 && s < 1.2, "%s: slope %.3f (expected ~1)", nets[i].name, s);
        fx_close(&f);
        free(nets[i].text);
    }
}
END_TEST

/* ---- closed form on a divider ----------------------------------------- */

/* One conductance G1 from a 2 V source to the output, G2 to ground, beta
 * nudge to y.  With the knob coupling eps the joint equilibrium of phase 2
 * solves G1 = u1 - eps (Vin - V)^2/2, G2 = u2 - eps V^2/2 and V =
 * (G1 Vin + b2 y)/(G1 + G2 + b2): iterated here to convergence by plain
 * fixed point in closed form, independently of the solver. */
START_TEST(test_aeq_divider_closed_form)
{
    static const char divider[] = "divider\nv1 in 0 dc 2\nr1 in out 1k\nr2 out 0 3k\n"
                                  ".output out\n.end\n";
    fixture f;
    fx_open(&f, divider, NULL);
    const double vin = 2, y = f.y[0], beta = 1e-5, eps = 1e-5;
    double b1 = -beta / 2, b2 = beta / 2;
    double g1 = f.g0[0], g2 = f.g0[1];
    double v1 = (g1 * vin + b1 * y) / (g1 + g2 + b1);
    double u1 = g1 + eps * 0.5 * (vin - v1) * (vin - v1), u2 = g2 + eps * 0.5 * v1 * v1;
    double a = g1, b = g2;
    for (int it = 0; it < 200; ++it) {
        double v = (a * vin + b2 * y) / (a + b + b2);
        a = u1 - eps * 0.5 * (vin - v) * (vin - v);
        b = u2 - eps * 0.5 * v * v;
    }
    double ex[2] = {-(a - g1) / (eps * (b2 - b1)), -(b - g2) / (eps * (b2 - b1))};
    ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, beta, eps, f.est), EQS_OK);
    fprintf(stderr, "divider: aeqprop %.12g %.12g, closed form %.12g %.12g\n", f.est[0],
            f.est[1], ex[0], ex[1]);
    for (int k = 0; k < 2; ++k)
        ck_assert_double_eq_tol(f.est[k], ex[k], 1e-6 * fabs(ex[k]));
    /* the joint state of phase 2 is reported as phase 2's voltages */
    int out = eqs_eqprop_output_node(f.ep, 0);
    double v2 = (a * vin + b2 * y) / (a + b + b2);
    ck_assert_double_eq_tol(eqs_eqprop_voltages(f.ep, 2)[out], v2, 1e-12);
    check_restored(&f, "divider");
    fx_close(&f);
}
END_TEST

/* ---- errors, restoration, no allocation -------------------------------- */

START_TEST(test_aeq_errors_and_restore)
{
    fixture f;
    fx_open(&f, NULL, tu_path("netlists/layered.cir"));
    /* eps < 0, NaN, infinite: EQS_ERR_INPUT naming epsilon */
    const double bad[] = {-1e-3, NAN, INFINITY};
    for (int i = 0; i < 3; ++i) {
        eqs_ctx_clear_error(f.ctx);
        ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, 0, bad[i], f.est), EQS_ERR_INPUT);
        ck_assert_msg(strstr(eqs_ctx_error(f.ctx), "epsilon") != NULL, "%s", eqs_ctx_error(f.ctx));
    }
    /* bad options */
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    ck_assert_double_eq(go.aeq_reltol, 1e-12);
    ck_assert_int_eq(go.aeq_max_iter, 100);
    go.method = EQS_GRAD_AEQPROP;
    go.aeq_reltol = -1;
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(eqs_eqprop_gradient(f.ep, &go, f.est), EQS_ERR_INPUT);
    go.aeq_reltol = 0;
    go.aeq_phases = (eqs_aeq_phases)7;
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(eqs_eqprop_gradient(f.ep, &go, f.est), EQS_ERR_INPUT);
    check_restored(&f, "after input errors");

    /* eps far too large: the alternation cannot settle -> EQS_ERR_NOCONV,
     * parameters restored, solver at the free state, usable again */
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, 0, 1.0, f.est), EQS_ERR_NOCONV);
    ck_assert_msg(strstr(eqs_ctx_error(f.ctx), "did not settle") != NULL, "%s",
                  eqs_ctx_error(f.ctx));
    check_restored(&f, "after NOCONV");
    /* an iteration cap of 1 with a tolerance below what one round reaches */
    go.aeq_phases = EQS_AEQ_CENTERED;
    go.aeq_max_iter = 1;
    go.aeq_reltol = 1e-300;
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(eqs_eqprop_gradient(f.ep, &go, f.est), EQS_ERR_NOCONV);
    check_restored(&f, "after iteration cap");
    eqs_ctx_clear_error(f.ctx);
    ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, 0, 0, f.est), EQS_OK);
    memcpy(f.ref, f.est, (size_t)f.np * sizeof *f.est);

    /* repeated calls and a warm free phase in between allocate nothing and
     * give the same answer */
    uint64_t a0 = eqs_ctx_alloc_count(f.ctx);
    for (int r = 0; r < 3; ++r) {
        ck_assert_int_eq(eqs_eqprop_free_phase(f.ep, EQS_SOLVE_WARM, NULL), EQS_OK);
        ck_assert_int_eq(fx_aeq(&f, (eqs_aeq_phases)r, 0, 0, f.est), EQS_OK);
    }
    ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, 0, 0, f.est), EQS_OK);
    ck_assert_int_eq(eqs_ctx_alloc_count(f.ctx), a0);
    ck_assert_msg(tu_rel_l2(f.est, f.ref, f.np) < 1e-9, "repeat differs by %.3g",
                  tu_rel_l2(f.est, f.ref, f.np));
    check_restored(&f, "after repeats");
    fx_close(&f);
}
END_TEST

/* Non-reciprocal circuit (VCVS buffer, KLU): there is no energy, so
 * Agnostic EqProp estimates what EqProp does (not the adjoint gradient);
 * it must still run and tend to EqProp's numbers. */
START_TEST(test_aeq_nonreciprocal_runs)
{
    fixture f;
    fx_open(&f, NULL, tu_path("netlists/amplifier.cir"));
    ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), 0);
    ck_assert_int_eq(fx_aeq(&f, EQS_AEQ_CENTERED, 0, 0, f.est), EQS_OK);
    fx_eqprop_same_phases(&f, EQS_AEQ_CENTERED, eqs_eqprop_default_beta(f.ep), f.ref);
    double e = tu_rel_l2(f.est, f.ref, f.np);
    fprintf(stderr, "amplifier.cir: aeqprop vs EqProp (same phases) relative L2 %.3g\n", e);
    ck_assert_msg(e < 1e-2, "%.3g", e);
    check_restored(&f, "amplifier.cir");
    fx_close(&f);
}
END_TEST

/* ---- experiment files ------------------------------------------------- */

static const char *exp_xml(const char *algo_attrs)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 4 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"8\"/></dataset>\n"
             "  <algorithm %s/>\n"
             "  <learning><rate elements=\"r*\" value=\"1e-8\"/></learning>\n"
             "  <training epochs=\"1\"/>\n  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             algo_attrs);
    return tu_write_temp(buf, ".xml");
}

START_TEST(test_aeq_experiment_attributes)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    /* the schema rejects a non-positive epsilon and unknown phases */
    static const char *const bad[] = {
        "method=\"aeqprop\" beta=\"1e-5\" epsilon=\"0\"",
        "method=\"aeqprop\" beta=\"1e-5\" epsilon=\"-1e-3\"",
        "method=\"aeqprop\" beta=\"1e-5\" epsilon=\"nan\"",
        "method=\"aeqprop\" beta=\"1e-5\" phases=\"sideways\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        eqs_ctx_clear_error(ctx);
        ck_assert_int_ne(eqs_experiment_read(ctx, exp_xml(bad[i]), &e), EQS_OK);
        ck_assert_ptr_null(e);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), ".xml:") != NULL, "%s", eqs_ctx_error(ctx));
    }
    /* accepted, and written back equal */
    const char *path = exp_xml("method=\"aeqprop\" beta=\"1e-5\" epsilon=\"2.5e-3\" "
                               "phases=\"pessimistic\"");
    ck_assert_msg(eqs_experiment_read(ctx, path, &e) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(e->algorithm, EQS_GRAD_AEQPROP);
    ck_assert_double_eq(e->epsilon_S_per_V2, 2.5e-3);
    ck_assert_int_eq(e->aeq_phases, EQS_AEQ_PESSIMISTIC);
    const char *copy = tu_write_temp("", ".xml");
    ck_assert_int_eq(eqs_experiment_write(ctx, e, copy), EQS_OK);
    eqs_experiment *e2 = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, copy, &e2) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(e2->algorithm, EQS_GRAD_AEQPROP);
    ck_assert_double_eq(e2->epsilon_S_per_V2, 2.5e-3);
    ck_assert_int_eq(e2->aeq_phases, EQS_AEQ_PESSIMISTIC);
    eqs_experiment_free(&e2);
    eqs_experiment_free(&e);
    /* defaults: automatic epsilon, centered phases */
    ck_assert_int_eq(eqs_experiment_read(ctx, exp_xml("method=\"aeqprop\" beta=\"1e-5\""), &e),
                     EQS_OK);
    ck_assert_double_eq(e->epsilon_S_per_V2, 0.0);
    ck_assert_int_eq(e->aeq_phases, EQS_AEQ_CENTERED);
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---- training: XOR learns with Agnostic EqProp ------------------------ */

/* The 2-16-2 DRN of test_train.c's XOR test with
 * the algorithm replaced: 100 % training accuracy within 30 epochs. */
START_TEST(test_aeq_xor_learns)
{
    static const char xml[] =
        "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
        "  <network><drn layers=\"2 16 2\"/></network>\n"
        "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"256\" test_size=\"0\" "
        "noise=\"0.05\"/></dataset>\n"
        "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
        "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
        "  <algorithm method=\"aeqprop\" beta=\"1e-5\"/>\n"
        "  <learning momentum=\"0.9\" decay=\"0.99\">\n"
        "    <rate elements=\"r1_*\" value=\"1e-8\"/><rate elements=\"r*\" value=\"5e-9\"/>\n"
        "  </learning>\n"
        "  <training epochs=\"30\" batch=\"4\" seed=\"1\"/>\n"
        "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
        "  <output dir=\"/nonexistent\"/>\n</experiment>\n";
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *exp = NULL;
    eqs_dataset *train = NULL, *test = NULL;
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_trainer *tr = NULL;
    eqs_status st = eqs_experiment_read(ctx, tu_write_temp(xml, ".xml"), &exp);
    if (st == EQS_OK) st = eqs_experiment_load_data(ctx, exp, &train, &test);
    if (st == EQS_OK) st = eqs_experiment_network(ctx, exp, &nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, nl, &c);
    if (st == EQS_OK) st = eqs_trainer_create(ctx, exp, c, train, NULL, &tr);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    double loss0, err0, loss = NAN, err = 1;
    ck_assert_int_eq(eqs_trainer_evaluate(tr, train, &loss0, &err0), EQS_OK);
    int epoch = 0;
    uint64_t a0 = eqs_ctx_alloc_count(ctx);
    while (epoch < 30 && err > 0) {
        ck_assert_msg(eqs_trainer_epoch(tr) == EQS_OK, "%s", eqs_ctx_error(ctx));
        ck_assert_int_eq(eqs_trainer_evaluate(tr, train, &loss, &err), EQS_OK);
        epoch++;
    }
    ck_assert_int_eq(eqs_ctx_alloc_count(ctx), a0); /* training steps allocate nothing */
    fprintf(stderr, "xor (aeqprop): %.1f%% training accuracy after %d epochs (error %.4f -> "
                    "%.4f, loss %.4g -> %.4g V^2)\n",
            100 * (1 - err), epoch, err0, err, loss0, loss);
    ck_assert_msg(err == 0.0, "training error %.2f%% after %d epochs", 100 * err, epoch);
    ck_assert(loss < loss0);
    eqs_trainer_free(&tr);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---- CLI ---------------------------------------------------------------- */

/* Parse the CSV of `eqspice grad` into g (n entries). */
static void parse_grad_csv(const char *out, double *g, int n)
{
    ck_assert_msg(strncmp(out, "element,gradient\n", 17) == 0, "%s", out);
    const char *p = out + 17;
    for (int k = 0; k < n; ++k) {
        const char *comma = strchr(p, ',');
        ck_assert_ptr_nonnull(comma);
        g[k] = strtod(comma + 1, NULL);
        p = strchr(comma, '\n');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    ck_assert_int_eq(*p, '\0');
}

START_TEST(test_aeq_cli)
{
    const char *net = tu_path("netlists/layered.cir");
    char netbuf[4096];
    snprintf(netbuf, sizeof netbuf, "%s", net);
    char *out = NULL, *err = NULL;
    double adj[64], est[64];
    const char *a_adj[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                           "--method", "adjoint", NULL};
    ck_assert_int_eq(tu_run_cli(a_adj, &out, &err, 30), 0);
    int n = 0;
    for (const char *p = out; *p; ++p) n += *p == '\n';
    n -= 1; /* header */
    ck_assert_int_gt(n, 0);
    ck_assert_int_le(n, 64);
    parse_grad_csv(out, adj, n);
    free(out);
    free(err);
    static const char *const phases[] = {"centered", "optimistic", "pessimistic"};
    for (int p = 0; p < 3; ++p) {
        const char *a[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                           "--method", "aeqprop", "--phases", phases[p], "-v", NULL};
        ck_assert_int_eq(tu_run_cli(a, &out, &err, 30), 0);
        parse_grad_csv(out, est, n);
        double cs = tu_cosine(est, adj, n);
        fprintf(stderr, "CLI layered.cir aeqprop %s: cosine vs adjoint %.12f\n", phases[p], cs);
        ck_assert_msg(cs >= 0.999, "%s: cosine %.9f", phases[p], cs);
        ck_assert_msg(strstr(err, "method=aeqprop") != NULL, "%s", err);
        free(out);
        free(err);
    }
    /* the same through ngspice (nudge and relaxed conductances in its deck) */
    const char *a_ng[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                          "--method", "aeqprop", "--solver", "ngspice", NULL};
    ck_assert_int_eq(tu_run_cli(a_ng, &out, &err, 60), 0);
    parse_grad_csv(out, est, n);
    fprintf(stderr, "CLI layered.cir aeqprop --solver ngspice: cosine vs adjoint %.12f\n",
            tu_cosine(est, adj, n));
    ck_assert(tu_cosine(est, adj, n) >= 0.999);
    free(out);
    free(err);
    const char *a_eps[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                           "--method", "aeqprop", "--epsilon", "1e-9", NULL};
    ck_assert_int_eq(tu_run_cli(a_eps, &out, &err, 30), 0);
    parse_grad_csv(out, est, n);
    ck_assert(tu_cosine(est, adj, n) >= 0.999);
    free(out);
    free(err);
    /* usage errors: exit 1 with a message */
    static const char *const bad[][3] = {
        {"--epsilon", "0", "positive"},  {"--epsilon", "-1e-3", "positive"},
        {"--epsilon", "abc", "number"},  {"--phases", "sideways", "unknown phases"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        const char *a[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                           "--method", "aeqprop", bad[i][0], bad[i][1], NULL};
        ck_assert_int_eq(tu_run_cli(a, &out, &err, 30), 1);
        ck_assert_msg(strstr(err, bad[i][2]) != NULL, "%s", err);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
    const char *a_m[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                         "--epsilon", "1e-3", NULL};
    ck_assert_int_eq(tu_run_cli(a_m, &out, &err, 30), 1);
    ck_assert_msg(strstr(err, "aeqprop only") != NULL, "%s", err);
    free(out);
    free(err);
    /* epsilon far too large: the relaxation does not settle, exit 1 */
    const char *a_big[] = {"grad", netbuf, "--target", "o1=0.3", "--target", "o2=0.1",
                           "--method", "aeqprop", "--epsilon", "1", NULL};
    ck_assert_int_eq(tu_run_cli(a_big, &out, &err, 30), 1);
    ck_assert_msg(strstr(err, "did not settle") != NULL, "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    const char *a_help[] = {"grad", "--help", NULL};
    ck_assert_int_eq(tu_run_cli(a_help, &out, &err, 30), 0);
    ck_assert_msg(strstr(out, "--epsilon") && strstr(out, "--phases") && strstr(out, "aeqprop"),
                  "%s", out);
    free(out);
    free(err);
}
END_TEST

Suite *suite_aeqprop(void)
{
    Suite *s = suite_create("aeqprop");
    TCase *tc = tcase_create("aeqprop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_aeq_vs_adjoint);
    tcase_add_test(tc, test_aeq_eps_to_zero);
    tcase_add_test(tc, test_aeq_divider_closed_form);
    tcase_add_test(tc, test_aeq_errors_and_restore);
    tcase_add_test(tc, test_aeq_nonreciprocal_runs);
    tcase_add_test(tc, test_aeq_experiment_attributes);
    tcase_add_test(tc, test_aeq_xor_learns);
    tcase_add_test(tc, test_aeq_cli);
    suite_add_tcase(s, tc);
    return s;
}
