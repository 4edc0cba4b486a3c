/*
 * test_memristor.c: the memristor element (Xyce's YMEMRISTOR, level 2 at
 * DC) against independent oracles: the closed forms of R(x) written here
 * again, live ngspice on the equivalent resistor netlist (written by this
 * file from those closed forms), finite differences of the loss, and a
 * resistor network of the same size trained on XOR.
 */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circuit/circuit.h"
#include "testutil.h"

/* The closed forms of the issue (x clamped to its window first). */
static double r_of_x(double ron, double roff, double xon, double xoff, int ivrel, double x)
{
    double lo = xon < xoff ? xon : xoff, hi = xon < xoff ? xoff : xon;
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    double u = (x - xon) / (xoff - xon);
    return ivrel == 0 ? ron + (roff - ron) * u : ron * pow(roff / ron, u);
}

static eqs_netlist *read_text(eqs_ctx *ctx, const char *text)
{
    eqs_netlist *nl = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, "mem.cir", &nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    return nl;
}

static double elem_value(const eqs_netlist *nl, const char *name)
{
    int k = eqs_netlist_elem_find(nl, name);
    ck_assert_msg(k >= 0, "no element %s", name);
    return nl->elems[k].value;
}

/* ---- closed forms ------------------------------------------------------ */

START_TEST(test_mr_closed_forms)
{
    static const char text[] =
        "memristor closed forms\n"
        ".model lin memristor level=2 ron=100 roff=10k xon=0 xoff=3n ivrelation=0\n"
        ".model ex memristor (level=2 ron=100 roff=10k xon=0 xoff=3n ivrelation=1)\n"
        ".model rev memristor level=2 ron=2k roff=500 xon=1 xoff=-1 ivrelation=1\n"
        ".model dflt memristor level=2\n"
        "v1 a 0 1\n"
        "ymemristor m1 a 0 lin xo=1n\n"
        "ymemristor m2 a 0 ex xo=1n\n"
        "ymemristor m3 a 0 lin xo=-1\n"   /* below the window: xon */
        "ymemristor m4 a 0 ex xo=1\n"     /* above: xoff */
        "ymemristor m5 a 0 rev xo=0.25\n" /* xon > xoff */
        "ymemristor m6 a 0 rev xo=7\n"    /* clamped to xon = 1 */
        "ymemristor m7 a 0 lin\n"         /* Xyce's default XO = 0 */
        "ymemristor m8 a 0 dflt xo=2e-9\n" /* Xyce's TEAM defaults */
        ".end\n";
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_text(ctx, text);
    struct { const char *name; double ron, roff, xon, xoff; int ivrel; double x; } cases[] = {
        {"m1", 100, 1e4, 0, 3e-9, 0, 1e-9},   {"m2", 100, 1e4, 0, 3e-9, 1, 1e-9},
        {"m3", 100, 1e4, 0, 3e-9, 0, -1},     {"m4", 100, 1e4, 0, 3e-9, 1, 1},
        {"m5", 2e3, 500, 1, -1, 1, 0.25},     {"m6", 2e3, 500, 1, -1, 1, 7},
        {"m7", 100, 1e4, 0, 3e-9, 0, 0},      {"m8", 50, 1e3, 0, 3e-9, 0, 2e-9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        double want = r_of_x(cases[k].ron, cases[k].roff, cases[k].xon, cases[k].xoff,
                             cases[k].ivrel, cases[k].x);
        double got = elem_value(nl, cases[k].name);
        ck_assert_msg(fabs(got - want) <= 1e-13 * want, "%s: R = %.17g, closed form %.17g",
                      cases[k].name, got, want);
    }
    /* spot values by hand: m1 = 100 + 9900/3, m3 = ron, m4 = roff, m6 = ron */
    ck_assert_double_eq_tol(elem_value(nl, "m1"), 3400.0, 1e-9);
    ck_assert_double_eq(elem_value(nl, "m3"), 100.0);
    ck_assert_double_eq_tol(elem_value(nl, "m4"), 1e4, 1e-9);
    ck_assert_double_eq(elem_value(nl, "m6"), 2e3);
    ck_assert_double_eq_tol(elem_value(nl, "m2"), 100.0 * pow(100.0, 1.0 / 3), 1e-9);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Training sets the conductance, i.e. the state: clipped to the window
 * [1/max(ron, roff), 1/min(ron, roff)], plain resistors untouched. */
START_TEST(test_mr_window)
{
    static const char text[] =
        "memristor window\n"
        ".model mm memristor level=2 ron=1k roff=100k xon=0 xoff=1 ivrelation=1\n"
        "v1 a 0 1\n"
        "ymemristor mr1 a b mm xo=0.5\n"
        "r1 b 0 1k\n"
        ".trainable mr1 r1\n"
        ".end\n";
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_text(ctx, text);
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_circuit_param_count(c), 2);
    ck_assert_str_eq(eqs_circuit_param_name(c, 0), "mr1"); /* the instance name */
    ck_assert_double_eq_tol(eqs_circuit_param_get(c, 0), 1.0 / 1e4, 1e-18);
    ck_assert_int_eq(eqs_circuit_param_set(c, 0, 1.0), EQS_OK); /* above 1/ron */
    ck_assert_double_eq(eqs_circuit_param_get(c, 0), 1e-3);
    ck_assert_int_eq(eqs_circuit_param_set(c, 0, 1e-9), EQS_OK); /* below 1/roff */
    ck_assert_double_eq(eqs_circuit_param_get(c, 0), 1e-5);
    ck_assert_int_eq(eqs_circuit_param_set(c, 0, 2e-4), EQS_OK); /* inside: kept */
    ck_assert_double_eq(eqs_circuit_param_get(c, 0), 2e-4);
    ck_assert_int_eq(eqs_circuit_param_set(c, 1, 1.0), EQS_OK); /* a resistor: no window */
    ck_assert_double_eq(eqs_circuit_param_get(c, 1), 1.0);
    /* the state of a conductance: inverse of the closed form */
    const eqs_device_model *m = &nl->dmodels[0];
    double x = m->type->state_of(m->v, 2e-4);
    ck_assert_double_eq_tol(1.0 / r_of_x(1e3, 1e5, 0, 1, 1, x), 2e-4, 1e-15);
    ck_assert_double_eq(m->type->state_of(m->v, 1.0), 0.0); /* clipped to xon */
    ck_assert_double_eq(m->type->state_of(m->v, 1e-9), 1.0);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* TEAM kinetic parameters on the card are stored and leave DC alone: the
 * same conductance, bit for bit, as the card without them. */
START_TEST(test_mr_team_kinetics_stored)
{
    static const char with[] =
        "memristor kinetics\n"
        ".model mm memristor level=2 ron=100 roff=10k xon=0 xoff=3n kon=-1e-12 koff=2e-12 "
        "alphaon=4 alphaoff=5 ion=-1e-5 ioff=1e-4 wt=2 p=2\n"
        "v1 a 0 1\nymemristor mr1 a b mm xo=1n\nr1 b 0 1k\n.trainable mr1\n.end\n";
    static const char without[] =
        "memristor kinetics\n"
        ".model mm memristor level=2 ron=100 roff=10k xon=0 xoff=3n\n"
        "v1 a 0 1\nymemristor mr1 a b mm xo=1n\nr1 b 0 1k\n.trainable mr1\n.end\n";
    eqs_ctx *ctx = tu_ctx();
    double g[2];
    for (int k = 0; k < 2; ++k) {
        eqs_netlist *nl = read_text(ctx, k ? without : with);
        eqs_circuit *c = NULL;
        ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
        g[k] = eqs_circuit_param_get(c, 0);
        if (k == 0) { /* stored in the table's order after the DC values and aiv */
            const eqs_device_model *m = &nl->dmodels[0];
            ck_assert_int_eq(m->type->n_params, 15);
            static const double want[8] = {-1e-12, 2e-12, 4, 5, -1e-5, 1e-4, 2, 2};
            static const char *const names[8] = {"kon", "koff", "alphaon", "alphaoff",
                                                 "ion", "ioff", "wt",   "p"};
            for (int j = 0; j < 8; ++j) {
                ck_assert_str_eq(m->type->params[7 + j].name, names[j]);
                ck_assert_double_eq(m->v[7 + j], want[j]);
            }
        }
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
    }
    ck_assert_double_eq(g[0], g[1]);
    ck_assert_double_eq_tol(g[0], 1.0 / (100.0 + (1e4 - 100.0) / 3.0), 1e-15);
    eqs_ctx_free(&ctx);
}
END_TEST

/* The CLI: `op` and `grad` on a memristor divider, against the closed
 * forms V = G1/(G1 + G2) and dL/dG1 = (V - y) G2/(G1 + G2)^2,
 * dL/dG2 = -(V - y) G1/(G1 + G2)^2 (L = (V - y)^2 / 2). */
START_TEST(test_mr_cli)
{
    static const char text[] =
        "memristor divider\n"
        "v1 in 0 1\n"
        "ymemristor mr1 in mid mm xo=1e-9\n"
        "ymemristor mr2 mid 0 mm2\n"
        ".model mm memristor level=2 ron=100 roff=10k xon=0 xoff=3e-9 ivrelation=0\n"
        ".model mm2 memristor (level=2 ron=100 roff=10k xon=0 xoff=3n ivrelation=1)\n"
        ".output mid\n"
        ".end\n";
    const char *path = tu_write_temp(text, ".cir");
    char cir[4096];
    snprintf(cir, sizeof cir, "%s", path);
    double g1 = 1 / r_of_x(100, 1e4, 0, 3e-9, 0, 1e-9), g2 = 1 / r_of_x(100, 1e4, 0, 3e-9, 1, 0);
    double v = g1 / (g1 + g2), y = 0.1;
    const char *solvers[] = {"newton", "ngspice"};
    for (int b = 0; b < 2; ++b) {
        const char *argv[] = {"op", cir, "--solver", solvers[b], NULL};
        char *out = NULL, *err = NULL;
        ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 0);
        const char *row = strstr(out, "\nmid,");
        ck_assert_ptr_nonnull(row);
        double got = strtod(row + 5, NULL);
        ck_assert_msg(fabs(got - v) <= 1e-12, "%s: V(mid) = %.17g, closed form %.17g",
                      solvers[b], got, v);
        free(out);
        free(err);
    }
    const char *argv[] = {"grad", cir, "--target", "mid=0.1", "--method", "adjoint", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 0);
    double s2 = (g1 + g2) * (g1 + g2);
    double want1 = (v - y) * g2 / s2, want2 = -(v - y) * g1 / s2;
    const char *r1 = strstr(out, "\nmr1,"), *r2 = strstr(out, "\nmr2,");
    ck_assert_msg(r1 && r2, "grad output: %s", out);
    double d1 = strtod(r1 + 5, NULL), d2 = strtod(r2 + 5, NULL);
    ck_assert_msg(fabs(d1 - want1) <= 1e-9 * fabs(want1), "dL/dG(mr1) %.17g vs %.17g", d1, want1);
    ck_assert_msg(fabs(d2 - want2) <= 1e-9 * fabs(want2), "dL/dG(mr2) %.17g vs %.17g", d2, want2);
    free(out);
    free(err);
}
END_TEST

/* ---- a DRN whose resistors are memristors --------------------------------- */

#define MR_RON 1e3
#define MR_ROFF 1e7

/* A generated DRN (layers, seed) as text; with mem, every resistor line
 * `rNAME a b R` becomes `ymemristor rNAME a b mm xo=x` with x the state of
 * R (ivrelation 1, xon 0, xoff 1); without, the resistors get R(x) written
 * from the closed form (the equivalent resistor netlist).  `extra` is
 * appended before .end.  malloc'd. */
static char *drn_text(const int *layers, int n_layers, int mem, const char *extra)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec spec;
    eqs_drn_spec_defaults(&spec);
    spec.n_layers = n_layers;
    spec.layers = layers;
    spec.seed = 3;
    spec.gain = 2;
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *f = open_memstream(&gen, &gen_len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(eqs_gen_drn(ctx, &spec, f), EQS_OK);
    fclose(f);
    /* the .crossbar cards as the R lines of their devices (values exact) */
    eqs_netlist *gnl = read_text(ctx, gen);
    char *plain = NULL;
    size_t plain_len = 0;
    FILE *pf = open_memstream(&plain, &plain_len);
    for (char *line = strtok(gen, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '+') continue;
        if (strncmp(line, ".crossbar ", 10) != 0) {
            fprintf(pf, "%s\n", line);
            continue;
        }
        for (int k = 0; k < gnl->n_crossbars; ++k) {
            const eqs_crossbar *x = &gnl->crossbars[k];
            if (strcmp(x->name, line + 10) != 0) continue;
            for (int d = 0; d < x->rows * x->cols; ++d) {
                const eqs_element *e = &gnl->elems[x->first_elem + d];
                fprintf(pf, "%s %s %s %.17g\n", e->name, gnl->node_names[e->node[0]],
                        gnl->node_names[e->node[1]], e->value);
            }
        }
    }
    fclose(pf);
    eqs_netlist_free(&gnl);
    eqs_ctx_free(&ctx);
    free(gen);
    gen = plain;
    char *out = NULL;
    size_t out_len = 0;
    FILE *o = open_memstream(&out, &out_len);
    ck_assert_ptr_nonnull(o);
    int first = 1;
    for (char *line = strtok(gen, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64], a[64], b[64];
        double r;
        if (first) {
            fprintf(o, "%s\n", line);
            if (mem)
                fprintf(o, ".model mm memristor level=2 ron=%.17g roff=%.17g xon=0 xoff=1 "
                           "ivrelation=1\n",
                        MR_RON, MR_ROFF);
            first = 0;
        } else if (line[0] == 'r' && sscanf(line, "%63s %63s %63s %lg", name, a, b, &r) == 4) {
            double x = log(r / MR_RON) / log(MR_ROFF / MR_RON);
            if (mem) fprintf(o, "ymemristor %s %s %s mm xo=%.17g\n", name, a, b, x);
            else
                fprintf(o, "%s %s %s %.17g\n", name, a, b,
                        r_of_x(MR_RON, MR_ROFF, 0, 1, 1, x));
        } else if (!strcmp(line, ".end")) {
            fprintf(o, "%s.end\n", extra ? extra : "");
        } else {
            fprintf(o, "%s\n", line);
        }
    }
    fclose(o);
    free(gen);
    return out;
}

/* Node voltages of text on backend (default options), by node name of ref. */
static void solve_text(const char *text, eqs_backend_id backend, double *v, int *n)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_text(ctx, text);
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    eqs_status st = eqs_solver_create(ctx, c, backend, &opt, &s);
    if (st == EQS_OK) st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_solver_backend(s), backend);
    *n = eqs_circuit_node_count(c);
    memcpy(v, eqs_solver_voltages(s), (size_t)*n * sizeof *v);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}

/* Memristor DRN on Newton, ngspice and layered against live ngspice on the
 * equivalent resistor netlist: within 1 uV at every node. */
START_TEST(test_mr_ngspice)
{
    static const int layers[] = {2, 4, 2};
    char *mem = drn_text(layers, 3, 1, NULL);
    char *res = drn_text(layers, 3, 0, NULL);
    ck_assert_ptr_nonnull(strstr(mem, "ymemristor r1_0_0 "));
    ck_assert_ptr_null(strstr(res, "ymemristor"));
    enum { NMAX = 64 };
    double ref[NMAX], v[NMAX];
    int nref, n;
    solve_text(res, EQS_BACKEND_NGSPICE, ref, &nref);
    ck_assert_int_le(nref, NMAX);
    const eqs_backend_id be[] = {EQS_BACKEND_NEWTON, EQS_BACKEND_NGSPICE, EQS_BACKEND_LAYERED};
    const char *bn[] = {"newton", "ngspice", "layered"};
    for (int b = 0; b < 3; ++b) {
        solve_text(mem, be[b], v, &n);
        ck_assert_int_eq(n, nref); /* same node order: the same cards in the same order */
        double worst = 0, vmax = 0;
        for (int i = 0; i < n; ++i) {
            worst = fmax(worst, fabs(v[i] - ref[i]));
            vmax = fmax(vmax, fabs(ref[i]));
        }
        fprintf(stderr, "memristor DRN 2-4-2 on %s vs ngspice (equivalent resistors): max "
                        "|dV| = %.3g V (max |V| %.3g V)\n",
                bn[b], worst, vmax);
        ck_assert_msg(worst <= 1e-6, "%s: %.3g V from ngspice", bn[b], worst);
        ck_assert(vmax > 0.05); /* the network is driven */
    }
    free(mem);
    free(res);
}
END_TEST

/* grad: the adjoint gradient dL/dG of a memristor network, under the
 * instance names, against finite differences, against centered EqProp and
 * against the equivalent resistor network's. */
START_TEST(test_mr_grad)
{
    static const int layers[] = {2, 3, 2};
    char *mem = drn_text(layers, 3, 1, NULL);
    char *res = drn_text(layers, 3, 0, NULL);
    tu_gfix f, g;
    tu_gfix_open(&f, mem, NULL, EQS_BACKEND_NEWTON, 0);
    tu_gfix_open(&g, res, NULL, EQS_BACKEND_NEWTON, 0);
    ck_assert_int_eq(f.np, g.np);
    ck_assert_int_eq(f.np, 4 * 3 + 3 * 2);
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = EQS_GRAD_ADJOINT;
    ck_assert_msg(eqs_eqprop_gradient(f.ep, &go, f.adj) == EQS_OK, "%s", eqs_ctx_error(f.ctx));
    ck_assert_int_eq(eqs_eqprop_gradient(g.ep, &go, g.adj), EQS_OK);
    go.method = EQS_GRAD_CENTERED;
    go.beta_S = 1e-6;
    ck_assert_int_eq(eqs_eqprop_gradient(f.ep, &go, f.est), EQS_OK);
    double gmax = 0, e_fd = 0, e_res = 0, e_eq = 0;
    for (int k = 0; k < f.np; ++k) {
        ck_assert_str_eq(eqs_circuit_param_name(f.c, k), eqs_circuit_param_name(g.c, k));
        /* central differences of the loss, step 1e-5 G, kept inside the window */
        double G = eqs_circuit_param_get(f.c, k), h = 1e-5 * G, l[2];
        for (int s = 0; s < 2; ++s) {
            ck_assert_int_eq(eqs_circuit_param_set(f.c, k, G + (s ? -h : h)), EQS_OK);
            ck_assert_int_eq(eqs_solver_solve(f.s, EQS_SOLVE_WARM, NULL), EQS_OK);
            const double *v = eqs_solver_voltages(f.s);
            l[s] = 0;
            for (int o = 0; o < f.nout; ++o) {
                double d = v[eqs_eqprop_output_node(f.ep, o)] -
                           v[eqs_eqprop_output_neg(f.ep, o)] - f.y[o];
                l[s] += 0.5 * d * d;
            }
        }
        ck_assert_int_eq(eqs_circuit_param_set(f.c, k, G), EQS_OK);
        f.fd[k] = (l[0] - l[1]) / (2 * h);
        gmax = fmax(gmax, fabs(f.fd[k]));
    }
    for (int k = 0; k < f.np; ++k) {
        e_fd = fmax(e_fd, fabs(f.adj[k] - f.fd[k]));
        e_res = fmax(e_res, fabs(f.adj[k] - g.adj[k]));
        e_eq = fmax(e_eq, fabs(f.est[k] - f.adj[k]));
    }
    fprintf(stderr, "memristor grad: %d parameters, max |dL/dG| %.3g; adjoint vs FD %.3g, vs "
                    "resistors %.3g, centered EqProp vs adjoint %.3g (relative)\n",
            f.np, gmax, e_fd / gmax, e_res / gmax, e_eq / gmax);
    ck_assert(gmax > 0);
    ck_assert_msg(e_fd <= 1e-5 * gmax, "adjoint vs FD %.3g", e_fd / gmax);
    ck_assert_msg(e_res <= 1e-9 * gmax, "memristors vs resistors %.3g", e_res / gmax);
    ck_assert_msg(e_eq <= 1e-3 * gmax, "centered vs adjoint %.3g", e_eq / gmax);
    tu_gfix_close(&f);
    tu_gfix_close(&g);
    free(mem);
    free(res);
}
END_TEST

/* ---- XOR ---------------------------------------------------------------- */

/* Train the 2-8-2 DRN `text` on XOR for `epochs` (centered EqProp on
 * `backend`); training-set error before and after. */
static void train_xor(const char *text, const char *backend, int epochs, double *err0,
                      double *err)
{
    const char *cir = tu_write_temp(text, ".cir");
    char cirpath[4096];
    snprintf(cirpath, sizeof cirpath, "%s", cir);
    char xml[8192];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><netlist path=\"%s\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"128\" "
             "test_size=\"0\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\" decay=\"0.99\">\n"
             "    <rate elements=\"r1_*\" value=\"1e-8\"/><rate elements=\"r*\" "
             "value=\"5e-9\"/>\n"
             "  </learning>\n"
             "  <training epochs=\"%d\" batch=\"4\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"%s\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             cirpath, epochs, backend);
    tu_job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 1);
    double loss0, loss;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss0, err0), EQS_OK);
    for (int e = 0; e < epochs; ++e) {
        ck_assert_msg(eqs_trainer_epoch(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        /* every memristor's conductance stays in its window [1/roff, 1/ron] */
        for (int k = 0; k < eqs_circuit_param_count(j.c); ++k) {
            double G = eqs_circuit_param_get(j.c, k);
            ck_assert(G >= 1 / MR_ROFF && G <= 1 / MR_RON);
        }
    }
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss, err), EQS_OK);
    ck_assert(loss < loss0);
    tu_job_close(&j);
}

/* A 2-8-2 memristor DRN learns XOR: its error falls and ends no worse than
 * the same network of resistors (the same trainer, the same conductances
 * as resistances; the window [1/roff, 1/ron] equals the trainer's clip
 * bounds, so the two should train alike up to the rounding of R -> x -> R)
 * plus one sample in 32. */
START_TEST(test_mr_xor)
{
    static const int layers[] = {2, 8, 2};
    char *mem = drn_text(layers, 3, 1, NULL);
    char *res = drn_text(layers, 3, 0, NULL);
    const int epochs = 15;
    double m0, m1, r0, r1, l0, l1;
    train_xor(res, "newton", epochs, &r0, &r1);
    train_xor(mem, "newton", epochs, &m0, &m1);
    /* the layered solver: a memristor crossbar is layered like a resistor
     * one and trains batched (test_mr_batched_window) */
    train_xor(mem, "layered", epochs, &l0, &l1);
    fprintf(stderr, "xor 2-8-2 memristors on the layered solver: %.4f -> %.4f\n", l0, l1);
    ck_assert_msg(l1 < l0 && l1 <= r1 + 1.0 / 32, "layered: %.4f -> %.4f", l0, l1);
    fprintf(stderr, "xor 2-8-2, %d epochs: resistors error %.4f -> %.4f, memristors %.4f -> "
                    "%.4f\n",
            epochs, r0, r1, m0, m1);
    ck_assert_msg(r1 < r0, "the resistor network does not learn (%.4f -> %.4f)", r0, r1);
    ck_assert_msg(m1 < m0, "the memristor network does not learn (%.4f -> %.4f)", m0, m1);
    ck_assert_msg(m1 <= r1 + 1.0 / 32, "memristors %.4f, resistors %.4f", m1, r1);
    free(mem);
    free(res);
}
END_TEST

/* Batched layered training of a memristor DRN clips every conductance to
 * the devices' window [1/roff, 1/ron] even when the trainer's bounds are
 * wider: with a huge rate one step drives conductances onto both window
 * bounds exactly, none beyond, and each state x stays in [xon, xoff]. */
START_TEST(test_mr_batched_window)
{
    static const int layers[] = {2, 8, 2};
    char *mem = drn_text(layers, 3, 1, NULL);
    const char *cir = tu_write_temp(mem, ".cir");
    char cirpath[4096];
    snprintf(cirpath, sizeof cirpath, "%s", cir);
    char xml[8192];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><netlist path=\"%s\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"16\" "
             "test_size=\"0\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0\"><rate elements=\"r*\" value=\"1\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"8\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-12\" g_max_S=\"10\"/>\n"
             "  <solver backend=\"layered\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             cirpath);
    tu_job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
    int at_lo = 0, at_hi = 0;
    const double lo = 1 / MR_ROFF, hi = 1 / MR_RON;
    for (int k = 0; k < eqs_circuit_param_count(j.c); ++k) {
        double G = eqs_circuit_param_get(j.c, k);
        ck_assert_msg(G >= lo && G <= hi, "%s: G %.17g outside [%.17g, %.17g]",
                      eqs_circuit_param_name(j.c, k), G, lo, hi);
        at_lo += G == lo;
        at_hi += G == hi;
    }
    fprintf(stderr, "batched memristor step, rate 1: %d of %d conductances at 1/roff, %d at "
                    "1/ron\n",
            at_lo, eqs_circuit_param_count(j.c), at_hi);
    ck_assert(at_lo > 0 && at_hi > 0);
    tu_job_close(&j);
    free(mem);
}
END_TEST

Suite *suite_memristor(void)
{
    Suite *s = suite_create("memristor");
    TCase *tc = tcase_create("memristor");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mr_closed_forms);
    tcase_add_test(tc, test_mr_window);
    tcase_add_test(tc, test_mr_team_kinetics_stored);
    tcase_add_test(tc, test_mr_batched_window);
    tcase_add_test(tc, test_mr_cli);
    tcase_add_test(tc, test_mr_ngspice);
    tcase_add_test(tc, test_mr_grad);
    tcase_add_test(tc, test_mr_xor);
    suite_add_tcase(s, tc);
    return s;
}
