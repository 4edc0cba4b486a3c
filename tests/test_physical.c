/* test_physical.c: the map onto physical units (docs/export.md "Physical
 * units", src/export/physical.c): with ideal diodes every node voltage of
 * the mapped network is a times the original's (layered solver); a trained
 * run evaluated with --vread/--window keeps its error and its loss scales by
 * a^2; export --vread --window writes the mapped maps and <physical>; bad
 * targets are refused. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int cli(const char *const *argv, char **out, char **err)
{
    return tu_run_cli(argv, out, err, 120);
}

/* every node of a DRN with bias sources (ideal diodes, layered solver):
 * V after the map = a V before, to rounding */
START_TEST(test_physical_voltages_scale)
{
    char net[4200];
    snprintf(net, sizeof net, "%s/drn.cir", tu_temp_dir());
    const char *g[] = {"gen", "drn", "--layers", "6,5,4,3", "--gain", "3", "--bias", "0.2",
                       "--seed", "5", "-o", net, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(cli(g, &out, &err) == 0, "gen: %s", err);
    free(out);
    free(err);
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, net, &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    eqs_solver_options so;
    eqs_solver_options_defaults(&so);
    so.diodes = EQS_DIODES_IDEAL;
    so.bcd_tol_V = 1e-14;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_LAYERED, &so, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const int nn = eqs_circuit_node_count(c);
    double *v0 = malloc((size_t)nn * sizeof *v0), vmax = 0;
    memcpy(v0, eqs_solver_voltages(s), (size_t)nn * sizeof *v0);
    for (int i = 0; i < nn; ++i) vmax = fmax(vmax, fabs(v0[i]));
    ck_assert(vmax > 0.1);
    eqs_eval_settings ev;
    eqs_eval_settings_defaults(&ev);
    ev.input_gain_V = 3;
    eqs_physical_target t = {0.45, 0, 7e-5};
    eqs_physical_map m;
    ck_assert_int_eq(eqs_physical_map_apply(ctx, c, &ev, &t, &m), EQS_OK);
    ck_assert_double_eq_tol(m.a, 0.15, 1e-15);
    ck_assert_double_eq_tol(ev.input_gain_V, 0.45, 1e-15);
    ck_assert_int_eq(m.n_raised, 0);
    double gmax = 0;
    for (int k = 0; k < eqs_circuit_param_count(c); ++k)
        gmax = fmax(gmax, eqs_circuit_param_get(c, k));
    ck_assert_msg(gmax == 7e-5, "largest conductance %.17g", gmax);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    const double *v1 = eqs_solver_voltages(s);
    double d = 0;
    for (int i = 0; i < nn; ++i) d = fmax(d, fabs(v1[i] - m.a * v0[i]));
    ck_assert_msg(d <= 1e-12 * m.a * vmax, "max |V' - a V| = %g V (a V up to %g V)", d,
                  m.a * vmax);
    free(v0);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* 2-8-2 DRN on XOR, ideal diodes, layered solver, window 1e-6..1e-4 S */
static const char *train_ideal(void)
{
    static char run[4200];
    snprintf(run, sizeof run, "%s/run", tu_temp_dir());
    if (access(run, F_OK) == 0) return run;
    char xml[8192];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 8 2\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"256\" test_size=\"128\"/></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\"><rate elements=\"r*\" value=\"1e-8\"/></learning>\n"
             "  <training epochs=\"3\" batch=\"8\" seed=\"2\"/>\n"
             "  <conductance g_min_S=\"1e-6\" g_max_S=\"1e-4\"/>\n"
             "  <solver backend=\"layered\" diodes=\"ideal\"/>\n  <output dir=\"%s\"/>\n"
             "</experiment>\n",
             run);
    const char *x = tu_write_temp(xml, ".xml");
    const char *a[] = {"train", x, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(cli(a, &out, &err) == 0, "train: %s", err);
    free(out);
    free(err);
    return run;
}

static void eval_run(const char *const *argv, double *loss, double *error, char **err)
{
    char *out = NULL;
    int rc = cli(argv, &out, err);
    ck_assert_msg(rc == 0, "eval rc %d: %s", rc, *err);
    long n;
    double acc;
    ck_assert_msg(sscanf(out, "samples,loss_V2,error,accuracy\n%ld,%lf,%lf,%lf", &n, loss, error,
                         &acc) == 4,
                  "eval printed %s", out);
    free(out);
}

START_TEST(test_physical_eval_run)
{
    const char *run = train_ideal();
    double l0, e0, l1, e1;
    char *err = NULL;
    const char *a0[] = {"eval", run, NULL};
    eval_run(a0, &l0, &e0, &err);
    free(err);
    /* a = 0.5 / 4, b = 2e-5 / max G; GMIN 0: nothing raised, exact */
    const char *a1[] = {"eval", run, "--vread", "0.5", "--window", "0,2e-5", NULL};
    eval_run(a1, &l1, &e1, &err);
    ck_assert_msg(strstr(err, "voltages x 0.125") && strstr(err, " 0 of 48 raised"), "%s", err);
    free(err);
    ck_assert_msg(e1 == e0, "error %g -> %g", e0, e1);
    const double a = 0.125;
    ck_assert_msg(fabs(l1 - a * a * l0) <= 1e-10 * a * a * l0, "loss %.17g -> %.17g (a^2 l0 %.17g)",
                  l0, l1, a * a * l0);
    /* a window's floor raises what falls below it: counted */
    const char *a2[] = {"eval", run, "--window", "1e-5,1e-4", NULL};
    eval_run(a2, &l1, &e1, &err);
    ck_assert_msg(strstr(err, "raised to 1e-05 S") != NULL, "%s", err);
    free(err);
    /* bad targets: usage errors, exit 1 */
    static const char *const bad[][2] = {{"--vread", "-1"}, {"--vread", "x"},
                                         {"--window", "1e-4,1e-5"}, {"--window", "1e-5"},
                                         {"--window", "-1,1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        const char *ab[] = {"eval", run, bad[i][0], bad[i][1], NULL};
        char *out = NULL;
        ck_assert_int_eq(cli(ab, &out, &err), 1);
        ck_assert_msg(strstr(err, bad[i][0]) != NULL, "%s %s: %s", bad[i][0], bad[i][1], err);
        free(out);
        free(err);
    }
}
END_TEST

START_TEST(test_physical_export)
{
    const char *run = train_ideal();
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/hand", tu_temp_dir());
    const char *a[] = {"export", run, "--vread", "0.5", "--window", "1e-6,2e-5", "-o", dir, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(cli(a, &out, &err) == 0, "export: %s", err);
    free(out);
    free(err);
    /* the largest cell is the window's top, none below its floor */
    snprintf(p, sizeof p, "%s/r1.csv", dir);
    char *t = tu_read_file(p);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(strstr(t, "# bounds: g_min_S=9.9999999999999995e-07"));
    double lo = INFINITY, hi = 0;
    for (char *l = strtok(t, "\n"); l; l = strtok(NULL, "\n")) {
        if (l[0] == '#') continue;
        for (char *q = l;;) {
            char *e;
            double v = strtod(q, &e);
            lo = fmin(lo, v), hi = fmax(hi, v);
            if (*e != ',') break;
            q = e + 1;
        }
    }
    free(t);
    ck_assert_double_ge(lo, 1e-6);
    ck_assert_double_le(hi, 2e-5);
    snprintf(p, sizeof p, "%s/manifest.xml", dir);
    t = tu_read_file(p);
    ck_assert_msg(strstr(t, "<physical voltage_factor=\"0.125\"") != NULL, "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "v_read_V=\"0.5\""));
    ck_assert_ptr_nonnull(strstr(t, "gain_V=\"0.5\""));
    ck_assert_ptr_nonnull(strstr(t, "on_V=\"0.0625\""));
    free(t);
    /* top.cir's input sources at the mapped gain: |V| <= 0.5 V */
    snprintf(p, sizeof p, "%s/top.cir", dir);
    t = tu_read_file(p);
    ck_assert_ptr_nonnull(strstr(t, "gain 0.5 V"));
    free(t);
    /* refused before anything is written */
    snprintf(dir, sizeof dir, "%s/hand-bad", tu_temp_dir());
    const char *b[] = {"export", run, "--window", "2e-5,1e-6", "-o", dir, NULL};
    ck_assert_int_eq(cli(b, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "--window"));
    free(out);
    free(err);
    ck_assert(access(dir, F_OK) != 0);
}
END_TEST


/* The map's own refusals: no trained conductance to scale, an input gain
 * that is not positive, a memristor with a nonlinear I-V under --vread;
 * and export --vectors without a dataset or beyond the test set. */
static eqs_circuit *load_text(eqs_ctx *ctx, const char *text, eqs_netlist **nl)
{
    *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, tu_write_temp(text, ".cir"), nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, *nl, &c), EQS_OK);
    return c;
}

START_TEST(test_physical_refused)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_eval_settings ev;
    eqs_eval_settings_defaults(&ev);
    eqs_physical_map m;
    const eqs_physical_target win = {0, 1e-6, 1e-4}, vr = {0.5, 0, 0};
    eqs_circuit *c = load_text(ctx, "no trainable\nv1 in 0 1\nr1 in 0 1k\n.trainable zz*\n.end\n", &nl);
    ck_assert_int_eq(eqs_physical_map_apply(ctx, c, &ev, &win, &m), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "no trained conductance"), "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    ev.input_gain_V = 0;
    ck_assert_int_eq(eqs_physical_map_apply(ctx, c, &ev, &vr, &m), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "not positive"), "%s", eqs_ctx_error(ctx));
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_eval_settings_defaults(&ev);
    c = load_text(ctx,
                  "sinh\n.model mm memristor level=2 ron=1k roff=100k aiv=0.5\nv1 in 0 1\n"
                  "ymemristor m1 in 0 mm xo=1e-9\n.trainable ymemristor*\n.end\n",
                  &nl);
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_physical_map_apply(ctx, c, &ev, &vr, &m), EQS_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "nonlinear I-V"), "%s", eqs_ctx_error(ctx));
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    /* --vectors: a netlist has no dataset; more vectors than test samples */
    const char *run = train_ideal();
    char dir[4200], net[4300];
    snprintf(dir, sizeof dir, "%s/vec-bad", tu_temp_dir());
    snprintf(net, sizeof net, "%s/drn-vec.cir", tu_temp_dir());
    char *out = NULL, *err = NULL;
    const char *g[] = {"gen", "drn", "--layers", "2,3,2", "-o", net, NULL};
    ck_assert_msg(cli(g, &out, &err) == 0, "gen: %s", err);
    free(out);
    free(err);
    const char *a1[] = {"export", net, "--vectors", "4", "-o", dir, NULL};
    ck_assert_int_eq(cli(a1, &out, &err), 1);
    ck_assert_msg(strstr(err, "--vectors") && strstr(err, "netlist"), "%s", err);
    free(out);
    free(err);
    const char *a2[] = {"export", run, "--vectors", "129", "-o", dir, NULL};
    ck_assert_int_eq(cli(a2, &out, &err), 1);
    ck_assert_msg(strstr(err, "--vectors 129") && strstr(err, "128 samples"), "%s", err);
    free(out);
    free(err);
    ck_assert(access(dir, F_OK) != 0);
}
END_TEST

Suite *suite_physical(void)
{
    Suite *s = suite_create("physical");
    TCase *t = tcase_create("map");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_physical_voltages_scale);
    tcase_add_test(t, test_physical_eval_run);
    tcase_add_test(t, test_physical_export);
    tcase_add_test(t, test_physical_refused);
    suite_add_tcase(s, t);
    return s;
}
