/* test_ncep.c: EqProp for non-reciprocal circuits (--method ncep).
 * References: the adjoint gradient (itself checked against central finite
 * differences of the loss on every netlist here), centered EqProp on a
 * reciprocal circuit, and the free state (which must still solve the
 * corrected equations).  Plus: the beta^2 convergence order, the errors
 * (ngspice, non-converging free state) and `eqspice grad --method ncep`. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/solver.h"

/* The acceptance bound at small beta. */
#define NC_COS_MIN 0.9999
#define NC_REL_MAX 1e-3

/* Non-reciprocal example netlists (KLU). */
static const char *const nonrecip[] = {
    "netlists/nonrecip_vccs.cir",
    "netlists/nonrecip_two_layer.cir",
    "netlists/nonrecip_amp_layers.cir",
    "netlists/amplifier.cir",
};
#define N_NONRECIP ((int)(sizeof nonrecip / sizeof nonrecip[0]))

typedef tu_gfix ncfix;

/* testutil.h: netlist file, tight tolerances, targets 50-150 mV off the
 * free outputs, free phase solved (itl1 > 0: nothing solved). */
static void nc_open(ncfix *f, const char *path, eqs_backend_id backend, int itl1)
{
    tu_gfix_open(f, NULL, path, backend, itl1);
}

static void nc_close(ncfix *f) { tu_gfix_close(f); }

static eqs_status nc_grad(ncfix *f, eqs_grad_method m, double beta, double *g)
{
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = m;
    go.beta_S = beta;
    return eqs_eqprop_gradient(f->ep, &go, g);
}

static void nc_grad_ok(ncfix *f, eqs_grad_method m, double beta, double *g)
{
    eqs_status st = nc_grad(f, m, beta, g);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
}

static double loss_now(const ncfix *f)
{
    const double *v = eqs_solver_voltages(f->s);
    double c = 0;
    for (int k = 0; k < f->nout; ++k) {
        double d = v[eqs_eqprop_output_node(f->ep, k)] - f->y[k];
        c += 0.5 * d * d;
    }
    return c;
}

/* The reference itself: adjoint vs central differences (step 1e-5 G),
 * max |error| <= 1e-5 max |gradient|. */
static void check_adjoint_fd(ncfix *f, const char *what)
{
    nc_grad_ok(f, EQS_GRAD_ADJOINT, 0, f->adj);
    double emax = 0, gmax = 0;
    for (int k = 0; k < f->np; ++k) {
        double g = eqs_circuit_param_get(f->c, k), h = 1e-5 * g;
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g + h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f->s, EQS_SOLVE_WARM, NULL), EQS_OK);
        double lp = loss_now(f);
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g - h), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(f->s, EQS_SOLVE_WARM, NULL), EQS_OK);
        double lm = loss_now(f);
        ck_assert_int_eq(eqs_circuit_param_set(f->c, k, g), EQS_OK);
        double fd = (lp - lm) / (2 * h);
        emax = fmax(emax, fabs(fd - f->adj[k]));
        gmax = fmax(gmax, fabs(fd));
    }
    ck_assert_msg(gmax > 0 && emax <= 1e-5 * gmax, "%s: adjoint vs FD %.3g", what, emax / gmax);
    ck_assert_int_eq(eqs_eqprop_free_phase(f->ep, EQS_SOLVE_WARM, NULL), EQS_OK);
}

/* ncep within the bound, centered outside it, on every non-reciprocal
 * netlist, at the default beta. */
START_TEST(test_ncep_vs_adjoint)
{
    for (int i = 0; i < N_NONRECIP; ++i) {
        ncfix f;
        nc_open(&f, nonrecip[i], EQS_BACKEND_NEWTON, 0);
        ck_assert_msg(!eqs_circuit_is_reciprocal(f.c), "%s should be MNA", nonrecip[i]);
        check_adjoint_fd(&f, nonrecip[i]);
        nc_grad_ok(&f, EQS_GRAD_NCEP, 0, f.g);
        double cn = tu_cosine(f.g, f.adj, f.np), en = tu_rel_l2(f.g, f.adj, f.np);
        ck_assert_msg(cn >= NC_COS_MIN && en <= NC_REL_MAX, "%s: ncep cos %.12f rel %.3g",
                      nonrecip[i], cn, en);
        nc_grad_ok(&f, EQS_GRAD_CENTERED, 0, f.g);
        double cc = tu_cosine(f.g, f.adj, f.np), ec = tu_rel_l2(f.g, f.adj, f.np);
        ck_assert_msg(cc < NC_COS_MIN && ec > NC_REL_MAX,
                      "%s: centered should be biased (cos %.12f rel %.3g)", nonrecip[i], cc, ec);
        nc_close(&f);
    }
}
END_TEST

/* The ncep error is O(beta^2): log-log slope of the relative error over
 * beta = G_mean x {0.1, 0.05, 0.025, 0.0125} (default beta = 1e-3 G_mean)
 * between 1.7 and 2.3. */
START_TEST(test_ncep_beta_order)
{
    static const double fac[] = {100, 50, 25, 12.5};
    for (int i = 0; i < N_NONRECIP - 1; ++i) {
        ncfix f;
        nc_open(&f, nonrecip[i], EQS_BACKEND_NEWTON, 0);
        nc_grad_ok(&f, EQS_GRAD_ADJOINT, 0, f.adj);
        double b0 = eqs_eqprop_default_beta(f.ep), lx[4], ly[4];
        for (int k = 0; k < 4; ++k) {
            nc_grad_ok(&f, EQS_GRAD_NCEP, fac[k] * b0, f.g);
            lx[k] = log(fac[k]);
            ly[k] = log(tu_rel_l2(f.g, f.adj, f.np));
        }
        double mx = 0, my = 0, sxy = 0, sxx = 0;
        for (int k = 0; k < 4; ++k) mx += lx[k] / 4, my += ly[k] / 4;
        for (int k = 0; k < 4; ++k) {
            sxy += (lx[k] - mx) * (ly[k] - my);
            sxx += (lx[k] - mx) * (lx[k] - mx);
        }
        double slope = sxy / sxx;
        ck_assert_msg(slope > 1.7 && slope < 2.3, "%s: slope %.3f (errors %.3g .. %.3g)",
                      nonrecip[i], slope, exp(ly[0]), exp(ly[3]));
        nc_close(&f);
    }
}
END_TEST

/* With the correction on and no nudge, the free state still solves the
 * corrected equations (the term K (s - s0) vanishes at s0), and a warm
 * ncep gradient allocates nothing after the first one. */
START_TEST(test_ncep_free_state_fixed_point)
{
    ncfix f;
    nc_open(&f, "netlists/nonrecip_two_layer.cir", EQS_BACKEND_NEWTON, 0);
    const int nv = eqs_circuit_node_count(f.c);
    double *v0 = malloc((size_t)nv * sizeof *v0);
    memcpy(v0, eqs_solver_voltages(f.s), (size_t)nv * sizeof *v0);
    double amax = 0;
    ck_assert_int_eq(eqs_solver_ncep_capture(f.s, &amax), EQS_OK);
    ck_assert(amax > 0);
    ck_assert_int_eq(eqs_solver_ncep_enable(f.s, 1), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const double *v = eqs_solver_voltages(f.s);
    for (int i = 0; i < nv; ++i) ck_assert_double_eq_tol(v[i], v0[i], 1e-10);
    ck_assert_int_eq(eqs_solver_ncep_enable(f.s, 0), EQS_OK);
    free(v0);
    ck_assert_int_eq(eqs_eqprop_free_phase(f.ep, EQS_SOLVE_WARM, NULL), EQS_OK);
    nc_grad_ok(&f, EQS_GRAD_NCEP, 0, f.g);
    ck_assert_int_eq(eqs_eqprop_free_phase(f.ep, EQS_SOLVE_WARM, NULL), EQS_OK);
    uint64_t before = eqs_ctx_alloc_count(f.ctx);
    nc_grad_ok(&f, EQS_GRAD_NCEP, 0, f.g);
    ck_assert_int_eq(eqs_ctx_alloc_count(f.ctx), before);
    nc_close(&f);
}
END_TEST

typedef struct {
    int zero_said;
} logcap;

static void capture(void *user, eqs_log_level level, const char *msg)
{
    (void)level;
    logcap *lc = user;
    if (strstr(msg, "ncep: circuit is reciprocal, the correction is zero")) lc->zero_said++;
}

/* Reciprocal circuit (CHOLMOD): ncep is centered EqProp, bit for bit, and
 * says the correction is zero.  A KLU circuit whose Jacobian is symmetric
 * (floating voltage source only) too. */
START_TEST(test_ncep_reciprocal)
{
    static const char *const files[] = {"netlists/layered.cir", NULL};
    const char *floating = tu_write_temp("* floating source, symmetric MNA\n"
                                         "v1 a 0 dc 1\nv2 b c dc 0.5\nr1 a b 1k\nr2 c 0 2k\n"
                                         "r3 b 0 3k\nr4 c d 1k\nr5 d 0 4k\n.output d\n.end\n",
                                         ".cir");
    for (int i = 0; i < 2; ++i) {
        ncfix f;
        nc_open(&f, i == 0 ? files[0] : floating, EQS_BACKEND_NEWTON, 0);
        ck_assert_int_eq(eqs_circuit_is_reciprocal(f.c), i == 0);
        logcap lc = {0};
        eqs_ctx_set_log(f.ctx, capture, &lc, EQS_LOG_INFO);
        nc_grad_ok(&f, EQS_GRAD_CENTERED, 0, f.adj);
        nc_grad_ok(&f, EQS_GRAD_NCEP, 0, f.g);
        ck_assert_int_eq(lc.zero_said, 1);
        for (int k = 0; k < f.np; ++k) ck_assert(f.g[k] == f.adj[k]);
        nc_close(&f);
    }
}
END_TEST

/* Errors: ncep on ngspice (library: EQS_ERR_UNSUPPORTED; CLI: usage error,
 * exit 1) and a free state that does not converge. */
START_TEST(test_ncep_ngspice_rejected)
{
    ncfix f;
    nc_open(&f, "netlists/amplifier.cir", EQS_BACKEND_NGSPICE, 0);
    ck_assert_int_eq(nc_grad(&f, EQS_GRAD_NCEP, 0, f.g), EQS_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(f.ctx), "ncep"));
    nc_close(&f);
    const char *argv[] = {"grad", tu_path("netlists/amplifier.cir"), "--target", "o1=0.1",
                          "--target", "o2=0", "--method", "ncep", "--solver", "ngspice", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 1);
    ck_assert_msg(strstr(err, "ncep") && strstr(err, "newton"), "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
}
END_TEST

START_TEST(test_ncep_noconv)
{
    ncfix f;
    nc_open(&f, "netlists/nonrecip_amp_layers.cir", EQS_BACKEND_NEWTON, 2);
    ck_assert_int_eq(eqs_eqprop_free_phase(f.ep, EQS_SOLVE_COLD, NULL), EQS_ERR_NOCONV);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(f.ctx), "no convergence"));
    eqs_ctx_clear_error(f.ctx);
    eqs_status st = nc_grad(&f, EQS_GRAD_NCEP, 0, f.g);
    ck_assert_int_eq(st, EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(f.ctx), "free phase"), "%s", eqs_ctx_error(f.ctx));
    nc_close(&f);
    const char *argv[] = {"grad", tu_path("netlists/nonrecip_amp_layers.cir"), "--target",
                          "o1=0.1", "--target", "o2=0", "--method", "ncep", "--itl1", "1",
                          NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 1);
    ck_assert_msg(strstr(err, "no convergence"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* Parse "element,gradient" CSV rows into g (n entries); returns rows read. */
static int parse_csv(const char *text, double *g, int n)
{
    const char *p = strchr(text, '\n');
    int k = 0;
    while (p && p[1] && k < n) {
        const char *comma = strchr(p + 1, ',');
        if (!comma) break;
        g[k++] = strtod(comma + 1, NULL);
        p = strchr(comma, '\n');
    }
    return k;
}

/* `eqspice grad --method ncep` prints the ncep gradient (compared with the
 * CLI's adjoint), -v names the method; on a reciprocal netlist -v says the
 * correction is zero. */
START_TEST(test_ncep_cli)
{
    const char *net = tu_path("netlists/nonrecip_vccs.cir");
    char net_copy[4096];
    snprintf(net_copy, sizeof net_copy, "%s", net);
    double gn[64], ga[64];
    int nn = 0, na = 0;
    for (int m = 0; m < 2; ++m) {
        const char *argv[] = {"grad", net_copy, "--target", "o1=0.1", "--target", "o2=-0.1",
                              "--method", m ? "adjoint" : "ncep", "-v", NULL};
        char *out = NULL, *err = NULL;
        ck_assert_msg(tu_run_cli(argv, &out, &err, 60) == 0, "%s", err);
        ck_assert_msg(!strncmp(out, "element,gradient\n", 17), "%s", out);
        if (m == 0) {
            ck_assert_msg(strstr(err, "method=ncep"), "%s", err);
            ck_assert_ptr_null(strstr(err, "correction is zero"));
            nn = parse_csv(out, gn, 64);
        } else {
            na = parse_csv(out, ga, 64);
        }
        free(out);
        free(err);
    }
    ck_assert_int_eq(nn, 17);
    ck_assert_int_eq(na, nn);
    ck_assert_msg(tu_cosine(gn, ga, nn) >= NC_COS_MIN && tu_rel_l2(gn, ga, nn) <= NC_REL_MAX,
                  "cos %.12f rel %.3g", tu_cosine(gn, ga, nn), tu_rel_l2(gn, ga, nn));
    const char *argv[] = {"grad", tu_path("netlists/layered.cir"), "--target", "o1=0.1",
                          "--target", "o2=0", "--method", "ncep", "-v", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(tu_run_cli(argv, &out, &err, 60) == 0, "%s", err);
    ck_assert_msg(strstr(err, "ncep: circuit is reciprocal, the correction is zero"), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* gen drn --amplifiers: a generated DRN with amplifier stages is MNA, ncep
 * agrees with the adjoint (itself checked against FD), centered does not;
 * gain < 0 is an input error; the experiment attribute is read. */
START_TEST(test_ncep_gen_drn_amplifiers)
{
    static const int layers[] = {8, 6, 3};
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = 3;
    sp.seed = 5;
    sp.gain = 12;
    sp.amplifier_gain = 2;
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, mf), EQS_OK);
    fclose(mf);
    ck_assert_ptr_nonnull(strstr(buf, "fa1_5 h1_5 0 va1_5 0.5\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\n.crossbar r2\n+ rows=(a1_0 a1_1 "));
    const char *path = tu_write_temp(buf, ".cir");
    free(buf);
    sp.amplifier_gain = -1;
    mf = open_memstream(&buf, &len);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, mf), EQS_ERR_INPUT);
    fclose(mf);
    free(buf);
    eqs_ctx_free(&ctx);

    ncfix f;
    nc_open(&f, path, EQS_BACKEND_NEWTON, 0);
    ck_assert(!eqs_circuit_is_reciprocal(f.c));
    ck_assert_int_eq(f.np, 16 * 6 + 6 * 3);
    check_adjoint_fd(&f, "gen drn --amplifiers 2");
    nc_grad_ok(&f, EQS_GRAD_NCEP, 0, f.g);
    ck_assert_msg(tu_cosine(f.g, f.adj, f.np) >= NC_COS_MIN && tu_rel_l2(f.g, f.adj, f.np) <= NC_REL_MAX,
                  "ncep rel %.3g", tu_rel_l2(f.g, f.adj, f.np));
    nc_grad_ok(&f, EQS_GRAD_CENTERED, 0, f.g);
    ck_assert_msg(tu_rel_l2(f.g, f.adj, f.np) > NC_REL_MAX, "centered rel %.3g",
                  tu_rel_l2(f.g, f.adj, f.np));
    nc_close(&f);

    eqs_experiment *exp = NULL;
    ctx = tu_ctx();
    ck_assert_msg(eqs_experiment_read(ctx, tu_experiment_path("netlists/fmnist-amp-ncep.xml"), &exp) ==
                      EQS_OK,
                  "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq(exp->drn.amplifier_gain, 2.0);
    ck_assert_int_eq(exp->algorithm, EQS_GRAD_NCEP);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Training (trainer, experiment <drn amplifiers> + method ncep): a 2-16-2
 * DRN with amplifier stages of gain 2 learns XOR to 100 % training accuracy,
 * and one epoch of ncep ends at the conductances of one epoch with the
 * adjoint gradient (same seed) to within 1e-6 relative, while centered
 * EqProp ends elsewhere.  beta = 1e-8 S (2e-4 of the mean conductance, as
 * grad's default) so that ncep's O(beta^2) error stays small. */
static const char *amp_xor_xml(const char *method, const char *backend)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 16 2\" amplifiers=\"2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"256\" "
             "test_size=\"0\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"%s\" beta=\"1e-8\"/>\n"
             "  <learning momentum=\"0.9\" decay=\"0.99\"><rate elements=\"r1_*\" "
             "value=\"1e-8\"/><rate elements=\"r*\" value=\"5e-9\"/></learning>\n"
             "  <training epochs=\"30\" batch=\"4\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"%s\"/>\n"
             "  <output dir=\"/nonexistent\" checkpoint_every=\"0\"/>\n</experiment>\n",
             method, backend);
    return tu_write_temp(buf, ".xml");
}

static void ampjob_open(tu_job *j, const char *method)
{
    tu_job_open(j, amp_xor_xml(method, "newton"), 1);
    ck_assert(!eqs_circuit_is_reciprocal(j->c));
}

/* max_k |G_a,k - G_b,k| / max_k |G_b,k| */
static double cond_diff(const eqs_circuit *a, const eqs_circuit *b)
{
    double d = 0, m = 0;
    for (int k = 0; k < eqs_circuit_param_count(b); ++k) {
        d = fmax(d, fabs(eqs_circuit_param_get(a, k) - eqs_circuit_param_get(b, k)));
        m = fmax(m, fabs(eqs_circuit_param_get(b, k)));
    }
    return d / m;
}

START_TEST(test_ncep_trains)
{
    tu_job n, a, c;
    ampjob_open(&n, "ncep");
    ampjob_open(&a, "adjoint");
    ampjob_open(&c, "centered");
    ck_assert_int_eq(eqs_trainer_epoch(n.tr), EQS_OK);
    ck_assert_int_eq(eqs_trainer_epoch(a.tr), EQS_OK);
    ck_assert_int_eq(eqs_trainer_epoch(c.tr), EQS_OK);
    double dn = cond_diff(n.c, a.c), dc = cond_diff(c.c, a.c);
    fprintf(stderr, "ncep xor (amplifiers 2): after 1 epoch max |dG|/max G vs adjoint: ncep "
                    "%.3g, centered %.3g\n", dn, dc);
    ck_assert_msg(dn <= 1e-6 && dc > 100 * dn, "ncep %.3g centered %.3g", dn, dc);
    tu_job_close(&a);
    tu_job_close(&c);
    double loss0, err0, loss = NAN, err = 1;
    ck_assert_int_eq(eqs_trainer_evaluate(n.tr, n.train, &loss0, &err0), EQS_OK);
    int epoch = 1;
    while (epoch < 30 && err > 0) {
        ck_assert_msg(eqs_trainer_epoch(n.tr) == EQS_OK, "%s", eqs_ctx_error(n.ctx));
        ck_assert_int_eq(eqs_trainer_evaluate(n.tr, n.train, &loss, &err), EQS_OK);
        epoch++;
    }
    fprintf(stderr, "ncep xor (amplifiers 2): training error %.4f after %d epochs\n", err, epoch);
    ck_assert_msg(err == 0.0, "training error %.2f%% after %d epochs", 100 * err, epoch);
    tu_job_close(&n);

    /* ncep with the ngspice backend: refused when the trainer is created */
    tu_job g;
    tu_job_open(&g, amp_xor_xml("ncep", "ngspice"), 0);
    ck_assert_int_eq(eqs_trainer_create(g.ctx, g.exp, g.c, g.train, NULL, &g.tr), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(g.ctx), "ncep method needs the newton solver"), "%s",
                  eqs_ctx_error(g.ctx));
    tu_job_close(&g);
}
END_TEST

Suite *suite_ncep(void)
{
    Suite *s = suite_create("ncep");
    TCase *tc = tcase_create("ncep");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ncep_vs_adjoint);
    tcase_add_test(tc, test_ncep_beta_order);
    tcase_add_test(tc, test_ncep_free_state_fixed_point);
    tcase_add_test(tc, test_ncep_reciprocal);
    tcase_add_test(tc, test_ncep_ngspice_rejected);
    tcase_add_test(tc, test_ncep_noconv);
    tcase_add_test(tc, test_ncep_cli);
    tcase_add_test(tc, test_ncep_gen_drn_amplifiers);
    tcase_add_test(tc, test_ncep_trains);
    suite_add_tcase(s, tc);
    return s;
}
