/* test_inputs.c: changing input sources between Newton solves; and
 * (TCase "files", at the end) input files that readers must refuse.
 *
 * eqs_circuit_input_set on a grounded source logs the fixed node, and the
 * next Newton solve applies it in O(degree) (newton.c, input_apply); nodes
 * touching a controlled source or a branch, and floating sources, take the
 * full refresh instead.  Reference for every check: a freshly compiled
 * circuit with the same values, solved cold by a fresh solver (its linear
 * part built from scratch).  Tolerances are tight (reltol 1e-12), so two
 * converged answers agree far below the 1e-12 V threshold; two cold
 * solves follow the same Newton path and differ only by the rounding of
 * the incremental updates. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "solver/solver.h" /* circuit internals: logs and epochs */

/* Largest voltage difference allowed between the incremental and the
 * fresh solve (V). */
#define IN_TOL_V 1e-12

static uint64_t in_lcg = 424242;
static double in_urand(void)
{
    in_lcg = in_lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(in_lcg >> 11) * (1.0 / 9007199254740992.0);
}

static void in_tight(eqs_solver_options *o)
{
    eqs_solver_options_defaults(o);
    o->reltol = 1e-12;
    o->vntol = 1e-13;
    o->abstol = 1e-16;
    o->explicit_mask = EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
}

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
} in_loaded;

static void in_load(in_loaded *L, const char *text)
{
    memset(L, 0, sizeof *L);
    L->ctx = tu_ctx();
    eqs_solver_options o;
    in_tight(&o);
    ck_assert_int_eq(eqs_netlist_read_string(L->ctx, text, "t.cir", &L->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(L->ctx, L->nl, &L->c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(L->ctx, L->c, EQS_BACKEND_NEWTON, &o, &L->s), EQS_OK);
}

static void in_unload(in_loaded *L)
{
    eqs_solver_free(&L->s);
    eqs_circuit_free(&L->c);
    eqs_netlist_free(&L->nl);
    eqs_ctx_free(&L->ctx);
}

/* A generated DRN as netlist text (eqs_gen_drn into a memory stream). */
static char *drn_text(int n_in, int n_hid, int n_out, uint64_t seed, int bias)
{
    int layers[3] = {n_in, n_hid, n_out};
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = 3;
    sp.seed = seed;
    sp.bias = bias;
    sp.bias_V = 0.05;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    eqs_ctx *ctx = tu_ctx();
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_OK);
    ck_assert_int_eq(fclose(f), 0);
    eqs_ctx_free(&ctx);
    return buf;
}

/* Solve a fresh copy of `text` with the parameters and inputs of L, cold,
 * and compare every node voltage with L's last solve. */
static double compare_fresh(const in_loaded *L, const char *text)
{
    in_loaded F;
    in_load(&F, text);
    for (int k = 0; k < eqs_circuit_param_count(L->c); ++k)
        ck_assert_int_eq(eqs_circuit_param_set(F.c, k, eqs_circuit_param_get(L->c, k)), EQS_OK);
    for (int k = 0; k < eqs_circuit_input_count(L->c); ++k)
        ck_assert_int_eq(eqs_circuit_input_set(F.c, k, eqs_circuit_input_get(L->c, k)), EQS_OK);
    /* the values were set before this solver existed: it builds from scratch */
    eqs_solver_free(&F.s);
    eqs_solver_options o;
    in_tight(&o);
    ck_assert_int_eq(eqs_solver_create(F.ctx, F.c, EQS_BACKEND_NEWTON, &o, &F.s), EQS_OK);
    ck_assert_msg(eqs_solver_solve(F.s, EQS_SOLVE_COLD, NULL) == EQS_OK, "%s",
                  eqs_ctx_error(F.ctx));
    const double *a = eqs_solver_voltages(L->s), *b = eqs_solver_voltages(F.s);
    double d = 0;
    for (int i = 0; i < eqs_circuit_node_count(L->c); ++i) d = fmax(d, fabs(a[i] - b[i]));
    in_unload(&F);
    return d;
}

/* Largest normwise relative difference allowed between the incrementally
 * updated linear part and a rebuild from all values (rounding only). */
#define IN_TOL_REL 1e-14

/* Apply the logged changes as a solve would, then compare the solver's
 * linear part with a full rebuild (eqs_newton_refresh_check). */
static void check_state(in_loaded *L, const char *what)
{
    double rel = -1;
    ck_assert_int_eq(eqs_newton_refresh_check(L->s, &rel), EQS_OK);
    if (getenv("EQS_TEST_VERBOSE")) fprintf(stderr, "%s: rel %.3g\n", what, rel);
    ck_assert_msg(rel >= 0 && rel <= IN_TOL_REL, "%s: incremental vs full refresh %g", what,
                  rel);
}

/* Warm solve of L: no allocation, the expected refresh kind; returns the
 * difference to a fresh solve. */
static double warm_vs_fresh(in_loaded *L, const char *text, int want_full)
{
    eqs_solve_info info;
    uint64_t before = eqs_ctx_alloc_count(L->ctx);
    ck_assert_msg(eqs_solver_solve(L->s, EQS_SOLVE_WARM, &info) == EQS_OK, "%s",
                  eqs_ctx_error(L->ctx));
    ck_assert_int_eq(eqs_ctx_alloc_count(L->ctx), before);
    if (want_full >= 0) ck_assert_int_eq(eqs_solver_full_refresh(L->s), want_full);
    double d = compare_fresh(L, text);
    if (getenv("EQS_TEST_VERBOSE")) fprintf(stderr, "warm vs fresh: |dV| %.3g V\n", d);
    return d;
}

/* Every input of a DRN moved (pixel pairs +x, -x), mixed with conductance
 * changes, duplicates and no-op sets: the incremental path is taken and
 * the answers match a fresh circuit.  With bias sources, fixed nodes that
 * no input touches carry diodes. */
START_TEST(test_drn_inputs_match_fresh)
{
    for (int bias = 0; bias < 2; ++bias) {
        char *text = drn_text(12, 8, 4, 3 + (uint64_t)bias, bias);
        in_loaded L;
        in_load(&L, text);
        ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
        const int ni = eqs_circuit_input_count(L.c), np = eqs_circuit_param_count(L.c);
        ck_assert_int_eq(ni, 24);
        const uint64_t values_epoch = L.c->values_epoch;
        for (int round = 0; round < 8; ++round) {
            if (round % 4 == 1) /* a random 10 % of the conductances first */
                for (int k = 0; k < np; ++k)
                    if (in_urand() < 0.1)
                        ck_assert_int_eq(eqs_circuit_param_set(
                                             L.c, k, (1.0 + 0.5 * in_urand()) *
                                                         eqs_circuit_param_get(L.c, k)),
                                         EQS_OK);
            for (int k = 0; k + 1 < ni; k += 2) {
                if (round % 4 == 2 && in_urand() < 0.7) continue; /* a subset */
                double x = in_urand();
                ck_assert_int_eq(eqs_circuit_input_set(L.c, k, x), EQS_OK);
                ck_assert_int_eq(eqs_circuit_input_set(L.c, k + 1, -x), EQS_OK);
            }
            if (round % 4 == 3) { /* conductances after the inputs, a duplicate, a no-op */
                for (int k = 0; k < np; k += 7)
                    ck_assert_int_eq(
                        eqs_circuit_param_set(L.c, k, 0.9 * eqs_circuit_param_get(L.c, k)),
                        EQS_OK);
                ck_assert_int_eq(eqs_circuit_input_set(L.c, 0, 0.25), EQS_OK);
                ck_assert_int_eq(eqs_circuit_input_set(L.c, 0, 0.75), EQS_OK);
                ck_assert_int_eq(eqs_circuit_input_set(L.c, 1, eqs_circuit_input_get(L.c, 1)),
                                 EQS_OK);
            }
            double d = warm_vs_fresh(&L, text, 0);
            ck_assert_msg(d <= IN_TOL_V, "bias %d round %d: |dV| %g V", bias, round, d);
            if (round % 2) { /* a second batch on top of the solved state, checked directly */
                for (int k = 0; k < ni; k += 3)
                    ck_assert_int_eq(eqs_circuit_input_set(L.c, k, in_urand() - 0.5), EQS_OK);
                ck_assert_int_eq(eqs_circuit_param_set(L.c, round, 3e-5), EQS_OK);
                check_state(&L, "drn");
            }
        }
        /* only the input log was used: no full refresh was requested */
        ck_assert_uint_eq(L.c->values_epoch, values_epoch);
        /* same Newton path from zero: only the rounding of the updates differs */
        ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
        double d = compare_fresh(&L, text);
        ck_assert_msg(d <= 1e-14, "cold after incremental updates: |dV| %g V", d);
        in_unload(&L);
        free(text);
    }
}
END_TEST

/* Inputs with every kind of neighbour the incremental path handles: a
 * resistor to ground, a resistor between two input nodes, a diode at an
 * input, a current source, a source with negative sign (V(b) = -value). */
static const char hand_net[] =
    "* inputs with resistors to ground and between inputs, a diode at an input\n"
    ".model dm D(IS=1e-14 N=1)\n"
    "va a 0 dc 0.3\n"
    "vb 0 b dc 0.2\n"
    "vc c 0 dc 0.1\n"
    "r1 a n1 1k\n"
    "r2 b n1 2k\n"
    "r3 a b 3k\n"
    "r4 a 0 5k\n"
    "r5 n1 n2 1k\n"
    "r6 n2 0 4k\n"
    "r7 c n2 2k\n"
    "r8 c b 7k\n"
    "d1 a n2 dm\n"
    "d2 n1 0 dm\n"
    "d3 0 c dm\n"
    "i1 n2 0 dc 1e-5\n"
    ".input va vb vc\n"
    ".output n2\n"
    ".end\n";

START_TEST(test_hand_inputs_match_fresh)
{
    in_loaded L;
    in_load(&L, hand_net);
    ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    static const double vals[][3] = {
        {0.9, -0.4, 0.0}, {0.0, 0.0, 0.7}, {-0.8, 0.6, 0.3}, {0.8, 0.6, -0.5}, {0.3, 0.2, 0.1}};
    for (size_t t = 0; t < sizeof vals / sizeof vals[0]; ++t) {
        for (int k = 0; k < 3; ++k)
            ck_assert_int_eq(eqs_circuit_input_set(L.c, k, vals[t][k]), EQS_OK);
        if (t == 2) ck_assert_int_eq(eqs_circuit_param_set(L.c, 2, 1e-3), EQS_OK);
        if (t == 3) check_state(&L, "hand");
        double d = warm_vs_fresh(&L, hand_net, t == 3 ? -1 : 0);
        ck_assert_msg(d <= IN_TOL_V, "step %zu: |dV| %g V", t, d);
    }
    ck_assert_double_eq(eqs_solver_voltages(L.s)[eqs_circuit_node_find(L.c, "b")], -0.2);
    in_unload(&L);
}
END_TEST

/* Inputs that touch a VCVS control (va), a VCCS control (vb) or are
 * floating (vf, an MNA branch) take the full refresh; a plain input (vd)
 * in the same circuit stays incremental. */
static const char ctrl_net[] =
    "* inputs touching controlled sources, and a floating input\n"
    ".model dm D(IS=1e-14 N=1)\n"
    "va a 0 dc 0.5\n"
    "vb b 0 dc 0.2\n"
    "vd d 0 dc 0.1\n"
    "vf x n1 dc 0.3\n"
    "ra a n1 1k\n"
    "rb b n2 2k\n"
    "rd d n1 3k\n"
    "rx x 0 4k\n"
    "e1 e 0 a 0 2\n"
    "re e n2 1k\n"
    "g1 n1 0 b 0 1e-4\n"
    "r12 n1 n2 5k\n"
    "rn2 n2 0 2k\n"
    "d1 n2 0 dm\n"
    ".input va vb vd vf\n"
    ".output n2\n"
    ".end\n";

START_TEST(test_controlled_inputs_fall_back)
{
    in_loaded L;
    in_load(&L, ctrl_net);
    ck_assert(!eqs_circuit_is_reciprocal(L.c));
    ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    /* input index, new value, expected full_refresh */
    static const struct {
        int k;
        double v;
        int full;
    } steps[] = {{2, 0.4, 0}, {0, -0.3, 1}, {2, -0.2, 0}, {1, 0.6, 1},
                 {3, -0.1, 1}, {2, 0.05, 0}, {0, 0.2, 1}};
    for (size_t t = 0; t < sizeof steps / sizeof steps[0]; ++t) {
        uint64_t ve = L.c->values_epoch;
        ck_assert_int_eq(eqs_circuit_input_set(L.c, steps[t].k, steps[t].v), EQS_OK);
        /* only the floating source goes through eqs_circuit_values_changed */
        ck_assert_uint_eq(L.c->values_epoch, ve + (steps[t].k == 3));
        double d = warm_vs_fresh(&L, ctrl_net, steps[t].full);
        ck_assert_msg(d <= IN_TOL_V, "step %zu: |dV| %g V", t, d);
    }
    in_unload(&L);
}
END_TEST

/* More input changes than the input log holds between two solves: the
 * solver compares every fixed node instead, still without a full
 * refresh. */
START_TEST(test_input_log_overflow)
{
    char *text = drn_text(6, 5, 2, 11, 0);
    in_loaded L;
    in_load(&L, text);
    ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const int ni = eqs_circuit_input_count(L.c);
    uint64_t ie = L.c->ichg_epoch;
    for (int n = 0; n <= EQS_CIRCUIT_INPUT_LOG + 3 * ni; ++n)
        ck_assert_int_eq(eqs_circuit_input_set(L.c, n % ni, in_urand() - 0.5), EQS_OK);
    ck_assert_uint_gt(L.c->ichg_epoch, ie);
    double d = warm_vs_fresh(&L, text, 0);
    ck_assert_msg(d <= IN_TOL_V, "|dV| %g V", d);
    for (int n = 0; n <= EQS_CIRCUIT_INPUT_LOG + 3 * ni; ++n)
        ck_assert_int_eq(eqs_circuit_input_set(L.c, n % ni, in_urand() - 0.5), EQS_OK);
    check_state(&L, "overflow");
    d = warm_vs_fresh(&L, text, 0);
    ck_assert_msg(d <= IN_TOL_V, "|dV| %g V", d);
    in_unload(&L);
    free(text);
}
END_TEST

/* Two solvers on one circuit consume the logs independently: one solves
 * after every change, the other only at the end. */
START_TEST(test_two_solvers_share_the_log)
{
    char *text = drn_text(8, 6, 3, 5, 0);
    in_loaded L;
    in_load(&L, text);
    eqs_solver_options o;
    in_tight(&o);
    eqs_solver *s2 = NULL;
    ck_assert_int_eq(eqs_solver_create(L.ctx, L.c, EQS_BACKEND_NEWTON, &o, &s2), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s2, EQS_SOLVE_COLD, NULL), EQS_OK);
    const int ni = eqs_circuit_input_count(L.c), np = eqs_circuit_param_count(L.c);
    for (int round = 0; round < 4; ++round) {
        for (int k = 0; k < ni; ++k)
            ck_assert_int_eq(eqs_circuit_input_set(L.c, k, in_urand() - 0.5), EQS_OK);
        ck_assert_int_eq(eqs_circuit_param_set(L.c, round % np, 2e-5 * (1 + round)), EQS_OK);
        double d = warm_vs_fresh(&L, text, 0);
        ck_assert_msg(d <= IN_TOL_V, "round %d: |dV| %g V", round, d);
    }
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(s2, EQS_SOLVE_WARM, &info), EQS_OK);
    ck_assert_int_eq(eqs_solver_full_refresh(s2), 0);
    const double *a = eqs_solver_voltages(L.s), *b = eqs_solver_voltages(s2);
    for (int i = 0; i < eqs_circuit_node_count(L.c); ++i)
        ck_assert_double_eq_tol(a[i], b[i], IN_TOL_V);
    eqs_solver_free(&s2);
    in_unload(&L);
    free(text);
}
END_TEST

/* Many samples: the applied terms reach NT_REFRESH_AFTER per parameter,
 * one solve refreshes everything (bounding the rounding drift), and the
 * answers stay those of a fresh circuit. */
START_TEST(test_many_samples_refresh_periodically)
{
    char *text = drn_text(4, 3, 2, 17, 0);
    in_loaded L;
    in_load(&L, text);
    ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const int ni = eqs_circuit_input_count(L.c);
    int full = 0, incremental = 0;
    for (int sample = 0; sample < 400; ++sample) {
        for (int k = 0; k < ni; ++k)
            ck_assert_int_eq(eqs_circuit_input_set(L.c, k, in_urand() - 0.5), EQS_OK);
        eqs_solve_info info;
        ck_assert_int_eq(eqs_solver_solve(L.s, EQS_SOLVE_WARM, &info), EQS_OK);
        full += eqs_solver_full_refresh(L.s);
        incremental += !eqs_solver_full_refresh(L.s);
    }
    ck_assert_int_gt(full, 0);
    ck_assert_int_gt(incremental, 20 * full);
    double d = compare_fresh(&L, text);
    ck_assert_msg(d <= IN_TOL_V, "|dV| %g V", d);
    in_unload(&L);
    free(text);
}
END_TEST

/* ---- input files: what a reader refuses, and where ---------------------- */
/* Every reader opens its file through core/file.c: a FIFO (which would
 * block a plain open forever), a device (/dev/zero would fill memory) or a
 * directory is refused at once with "not a regular file", naming the file
 * and, for a file named inside another, the place that names it.  The
 * FIFOs are made in the run's temporary directory; a regression blocks and
 * the test times out. */

/* A fresh FIFO in a temporary directory (static buffer). */
static const char *make_fifo(void)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/fifo", tu_temp_dir());
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    return p;
}

static void expect_msg(eqs_ctx *ctx, const char *want)
{
    ck_assert_msg(strstr(eqs_ctx_error(ctx), want), "'%s' not in '%s'", want, eqs_ctx_error(ctx));
}

START_TEST(test_netlist_and_include_not_regular)
{
    char fifo[4200], want[8800], top[4200];
    snprintf(fifo, sizeof fifo, "%s", make_fifo());
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir());
    const char *paths[] = {fifo, "/dev/zero", dir};
    const char *kinds[] = {"a FIFO", "a character device", "a directory"};
    for (int k = 0; k < 3; ++k) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = (eqs_netlist *)1;
        /* the netlist itself */
        ck_assert_int_eq(eqs_netlist_read(ctx, paths[k], &nl), EQS_ERR_IO);
        ck_assert_ptr_null(nl);
        snprintf(want, sizeof want, "error: cannot read netlist '%s': not a regular file (%s)",
                 paths[k], kinds[k]);
        expect_msg(ctx, want);
        eqs_ctx_clear_error(ctx);
        /* an .include of it: at the path token, line 2 column 10 */
        char text[4400];
        snprintf(text, sizeof text, "t\n.include %s\nr1 a 0 1k\n.end\n", paths[k]);
        snprintf(top, sizeof top, "%s", tu_write_temp(text, ".cir"));
        ck_assert_int_eq(eqs_netlist_read(ctx, top, &nl), EQS_ERR_PARSE);
        ck_assert_ptr_null(nl);
        snprintf(want, sizeof want,
                 "%s:2:10: error: cannot read include file '%s': not a regular file (%s)", top,
                 paths[k], kinds[k]);
        expect_msg(ctx, want);
        eqs_ctx_free(&ctx);
    }
}
END_TEST

START_TEST(test_experiment_paths_not_regular)
{
    char fifo[4200], want[8800];
    snprintf(fifo, sizeof fifo, "%s", make_fifo());
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = (eqs_experiment *)1;
    /* the experiment file itself */
    ck_assert_int_eq(eqs_experiment_read(ctx, fifo, &e), EQS_ERR_IO);
    ck_assert_ptr_null(e);
    snprintf(want, sizeof want, "cannot read experiment file '%s': not a regular file (a FIFO)",
             fifo);
    expect_msg(ctx, want);
    eqs_ctx_clear_error(ctx);
    /* a netlist path (line 4), then a dataset path (line 8), naming it */
    char good_nl[4200], good_im[4200], good_lb[4200];
    snprintf(good_nl, sizeof good_nl, "%s", tu_path("netlists/divider.cir"));
    snprintf(good_im, sizeof good_im, "%s", tu_path("tests/data/tiny-images-idx3-ubyte"));
    snprintf(good_lb, sizeof good_lb, "%s", tu_path("tests/data/tiny-labels-idx1-ubyte"));
    for (int k = 0; k < 3; ++k) {
        char xml[16384], path[4200];
        snprintf(xml, sizeof xml,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<experiment>\n"
                 "  <network>\n"
                 "    <netlist path=\"%s\"/>\n"
                 "  </network>\n"
                 "  <dataset classes=\"3\">\n"
                 "    <idx>\n"
                 "      <train images=\"%s\" labels=\"%s\" limit=\"4\"/>\n"
                 "    </idx>\n"
                 "  </dataset>\n"
                 "  <algorithm method=\"positive\" beta=\"0.5\"/>\n"
                 "  <learning>\n"
                 "    <rate elements=\"r*\" value=\"0.01\"/>\n"
                 "  </learning>\n"
                 "  <training epochs=\"3\"/>\n"
                 "  <output dir=\"out\"/>\n"
                 "</experiment>\n",
                 k == 0 ? fifo : good_nl, k == 1 ? "/dev/zero" : good_im,
                 k == 2 ? fifo : good_lb);
        snprintf(path, sizeof path, "%s", tu_write_temp(xml, ".xml"));
        ck_assert_int_eq(eqs_experiment_read(ctx, path, &e), EQS_ERR_IO);
        ck_assert_ptr_null(e);
        if (k == 0)
            snprintf(want, sizeof want,
                     "%s:4:1: error: cannot read netlist '%s': not a regular file (a FIFO)", path,
                     fifo);
        else
            snprintf(want, sizeof want,
                     "%s:8:1: error: cannot read dataset file '%s': not a regular file (%s)",
                     path, k == 1 ? "/dev/zero" : fifo,
                     k == 1 ? "a character device" : "a FIFO");
        expect_msg(ctx, want);
        eqs_ctx_clear_error(ctx);
    }
    /* a metrics file to plot */
    char png[4200];
    snprintf(png, sizeof png, "%s/curve.png", tu_temp_dir());
    ck_assert_int_eq(eqs_plot_learning_curve(ctx, fifo, png), EQS_ERR_INPUT);
    snprintf(want, sizeof want, "cannot read metrics file '%s': not a regular file (a FIFO)",
             fifo);
    expect_msg(ctx, want);
    eqs_ctx_free(&ctx);
}
END_TEST

/* The CLI on a FIFO: exit 1 with the message, at once (no writer ever
 * opens the FIFO, so a blocking open would hang until the timeout). */
START_TEST(test_cli_fifo_netlist)
{
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s", make_fifo());
    const char *const argv[] = {"op", fifo, NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 10);
    ck_assert_msg(rc == 1, "exit %d, stderr %s", rc, err);
    ck_assert_msg(strstr(err, "not a regular file (a FIFO)") && strstr(err, fifo), "%s", err);
    free(out);
    free(err);
}
END_TEST

/* A short netlist whose expansion passes the limit only at its 19th
 * instance (18 x 1,111,111 cards below it): refused before anything is
 * expanded (a few hundred allocations, not 19 million elements), at that
 * X card (line 93, column 1), with the counts and the limit. */
START_TEST(test_expansion_cap_names_the_card)
{
    char *text = tu_read_file(tu_path("tests/bad/parse_fanout_total.cir"));
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_lt(strlen(text), 1000);
    eqs_ctx *ctx = tu_ctx();
    uint64_t a0 = eqs_ctx_alloc_count(ctx);
    eqs_netlist *nl = (eqs_netlist *)1;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, text, "fan.cir", &nl), EQS_ERR_PARSE);
    ck_assert_ptr_null(nl);
    /* the closed form: s0 = 10 resistors, s_k = 10 (1 + s_{k-1}); one
     * top-level instance of s5 is 1 + 1,111,110 cards */
    double s_k = 10;
    for (int k = 1; k <= 5; ++k) s_k = 10 * (1 + s_k);
    ck_assert_double_eq(s_k, 1111110);
    char want[512];
    snprintf(want, sizeof want,
             "fan.cir:93:1: error: 'xt19' expands to %.0f elements (and nested instances); with "
             "the %.0f before it the netlist would expand to %.0f, more than the limit of "
             "20000000",
             s_k, 1 + 18 * (1 + s_k), 1 + 19 * (1 + s_k));
    expect_msg(ctx, want);
    ck_assert_uint_lt(eqs_ctx_alloc_count(ctx) - a0, 2000);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

Suite *suite_inputs(void)
{
    Suite *s = suite_create("inputs");
    TCase *tc = tcase_create("inputs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_drn_inputs_match_fresh);
    tcase_add_test(tc, test_hand_inputs_match_fresh);
    tcase_add_test(tc, test_controlled_inputs_fall_back);
    tcase_add_test(tc, test_input_log_overflow);
    tcase_add_test(tc, test_two_solvers_share_the_log);
    tcase_add_test(tc, test_many_samples_refresh_periodically);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("files");
    tcase_set_timeout(tf, 30);
    tcase_add_test(tf, test_netlist_and_include_not_regular);
    tcase_add_test(tf, test_experiment_paths_not_regular);
    tcase_add_test(tf, test_cli_fifo_netlist);
    tcase_add_test(tf, test_expansion_cap_names_the_card);
    suite_add_tcase(s, tf);
    return s;
}
