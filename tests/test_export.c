/* test_export.c: inputs/outputs of a compiled circuit, the trained-netlist
 * export (read back by eqspice and run by ngspice) and the conductance CSV. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "solver/solver.h" /* eqs_ngspice_run_deck, eqs_deck_build (test hooks) */

/* A compiled netlist with its solver. */
typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
} loaded;

/* Tight tolerances: two solves from different starting points must agree
 * far below the comparison thresholds of these tests. */
static void tight(eqs_solver_options *o)
{
    eqs_solver_options_defaults(o);
    o->reltol = 1e-12;
    o->vntol = 1e-13;
    o->abstol = 1e-16;
    o->explicit_mask = EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
}

static void load_text(loaded *L, eqs_ctx *ctx, const char *text)
{
    memset(L, 0, sizeof *L);
    L->ctx = ctx;
    eqs_solver_options o;
    tight(&o);
    ck_assert_int_eq(eqs_netlist_read_string(ctx, text, "t.cir", &L->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, L->nl, &L->c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, L->c, EQS_BACKEND_NEWTON, &o, &L->s), EQS_OK);
}

static void load_file(loaded *L, eqs_ctx *ctx, const char *path)
{
    memset(L, 0, sizeof *L);
    L->ctx = ctx;
    eqs_solver_options o;
    tight(&o);
    ck_assert_msg(eqs_netlist_read(ctx, path, &L->nl) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_circuit_create(ctx, L->nl, &L->c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, L->c, EQS_BACKEND_NEWTON, &o, &L->s), EQS_OK);
}

static void unload(loaded *L)
{
    eqs_solver_free(&L->s);
    eqs_circuit_free(&L->c);
    eqs_netlist_free(&L->nl);
}

static const double *solve(loaded *L, eqs_solve_mode mode)
{
    eqs_solve_info info;
    ck_assert_msg(eqs_solver_solve(L->s, mode, &info) == EQS_OK, "%s", eqs_ctx_error(L->ctx));
    return eqs_solver_voltages(L->s);
}

static double node_v(loaded *L, const char *name)
{
    int k = eqs_circuit_node_find(L->c, name);
    ck_assert_int_ge(k, 0);
    return eqs_solver_voltages(L->s)[k];
}

/* A DRN netlist generated into a malloc'd string. */

/* ------------------------------------------------------------------ */
/* Inputs and outputs                                                  */
/* ------------------------------------------------------------------ */

/* Grounded input (eliminated node) and floating input (MNA branch):
 * closed forms after each change, solved warm. */
static const char *const IO_NET =
    "io test\n"
    "v1 in 0 dc 1\n"
    "r1 in out 1k\n"
    "r2 out 0 3k\n"
    "vb b 0 dc 1\n"
    "r0 b n 1k\n"
    "v2 p n dc 0.5\n"
    "r3 p 0 1k\n"
    ".input v1 v2\n"
    ".output out p\n"
    ".end\n";

START_TEST(test_io_divider_and_floating)
{
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, IO_NET);
    ck_assert_int_eq(eqs_circuit_input_count(L.c), 2);
    ck_assert_str_eq(eqs_circuit_input_name(L.c, 0), "v1");
    ck_assert_str_eq(eqs_circuit_input_name(L.c, 1), "v2");
    ck_assert_int_eq(eqs_circuit_output_count(L.c), 2);
    ck_assert_int_eq(eqs_circuit_output_node(L.c, 0), eqs_circuit_node_find(L.c, "out"));
    ck_assert_int_eq(eqs_circuit_output_node(L.c, 1), eqs_circuit_node_find(L.c, "p"));
    ck_assert_int_eq(eqs_circuit_output_node(L.c, 2), -1);
    ck_assert_int_eq(eqs_circuit_output_node(L.c, -1), -1);

    solve(&L, EQS_SOLVE_COLD);
    ck_assert_double_eq_tol(node_v(&L, "out"), 0.75, 1e-12);
    ck_assert_double_eq_tol(node_v(&L, "p"), 0.75, 1e-12);

    const double u1[] = {2.0, -3.5, 0.0, 1e-3};
    const double u2[] = {-1.0, 0.25, 4.0, 0.0};
    for (int t = 0; t < 4; ++t) {
        ck_assert_int_eq(eqs_circuit_input_set(L.c, 0, u1[t]), EQS_OK);
        ck_assert_int_eq(eqs_circuit_input_set(L.c, 1, u2[t]), EQS_OK);
        ck_assert(eqs_circuit_input_get(L.c, 0) == u1[t]);
        ck_assert(eqs_circuit_input_get(L.c, 1) == u2[t]);
        solve(&L, EQS_SOLVE_WARM);
        ck_assert_double_eq_tol(node_v(&L, "in"), u1[t], 1e-12);
        ck_assert_double_eq_tol(node_v(&L, "out"), 0.75 * u1[t], 1e-12);
        /* node n at (1 - u2)/2, p = n + u2 */
        ck_assert_double_eq_tol(node_v(&L, "n"), (1.0 - u2[t]) / 2, 1e-12);
        ck_assert_double_eq_tol(node_v(&L, "p"), (1.0 + u2[t]) / 2, 1e-12);
    }
    /* interleaving with conductance changes keeps both in force */
    ck_assert_int_eq(eqs_circuit_param_set(L.c, 1, 1.0 / 1000.0), EQS_OK); /* r2 = 1k */
    ck_assert_int_eq(eqs_circuit_input_set(L.c, 0, 3.0), EQS_OK);
    solve(&L, EQS_SOLVE_WARM);
    ck_assert_double_eq_tol(node_v(&L, "out"), 1.5, 1e-12);

    /* the ngspice backend sees the driven values too */
    eqs_solver *ng = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, L.c, EQS_BACKEND_NGSPICE, NULL, &ng), EQS_OK);
    eqs_solve_info info;
    ck_assert_msg(eqs_solver_solve(ng, EQS_SOLVE_COLD, &info) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    const double *vn = eqs_solver_voltages(ng);
    ck_assert_double_eq_tol(vn[eqs_circuit_node_find(L.c, "out")], 1.5, 1e-9);
    ck_assert_double_eq_tol(vn[eqs_circuit_node_find(L.c, "p")], (1.0 + 0.0) / 2, 1e-9);
    eqs_solver_free(&ng);

    ck_assert_int_eq(eqs_circuit_input_set(L.c, 2, 1.0), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_circuit_input_set(L.c, 0, NAN), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "v1"));
    ck_assert(isnan(eqs_circuit_input_get(L.c, 5)));
    ck_assert_ptr_null(eqs_circuit_input_name(L.c, 5));
    unload(&L);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Replace the value of source `name` in a generated netlist ("name a b dc V"). */
static void set_source_text(char **text, const char *name, double v)
{
    size_t n = strlen(name);
    char *s = *text;
    for (char *p = s; p && *p;) {
        if (!strncmp(p, name, n) && p[n] == ' ') {
            char *dc = strstr(p, " dc ");
            char *eol = strchr(p, '\n');
            ck_assert(dc && eol && dc < eol);
            size_t head = (size_t)(dc + 4 - s);
            char *out = malloc(strlen(s) + 64);
            memcpy(out, s, head);
            int k = sprintf(out + head, "%.17g", v);
            strcpy(out + head + (size_t)k, eol);
            free(s);
            *text = out;
            return;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    ck_abort_msg("source %s not found", name);
}

START_TEST(test_io_drn_matches_fresh_netlist)
{
    const int layers[] = {4, 3, 2};
    char *text = tu_gen_drn(layers, 3, 11);
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, text);
    ck_assert_int_eq(eqs_circuit_input_count(L.c), 8);
    ck_assert_int_eq(eqs_circuit_output_count(L.c), 2);
    solve(&L, EQS_SOLVE_COLD);
    for (int round = 0; round < 3; ++round) {
        for (int k = 0; k < 8; ++k) {
            double x = 0.1 + 0.2 * k - 0.37 * round;
            double v = (k % 2 == 0) ? x : -x; /* pair encoding */
            ck_assert_int_eq(eqs_circuit_input_set(L.c, k, v), EQS_OK);
            set_source_text(&text, eqs_circuit_input_name(L.c, k), v);
        }
        solve(&L, EQS_SOLVE_WARM);
        loaded F;
        eqs_ctx *ctx2 = tu_ctx();
        load_text(&F, ctx2, text);
        solve(&F, EQS_SOLVE_COLD);
        for (int o = 0; o < 2; ++o) {
            int nd = eqs_circuit_output_node(L.c, o);
            ck_assert_int_eq(nd, eqs_circuit_output_node(F.c, o));
            double a = eqs_solver_voltages(L.s)[nd], b = eqs_solver_voltages(F.s)[nd];
            ck_assert_msg(fabs(a - b) <= 1e-9, "output %d: %.17g vs %.17g", o, a, b);
        }
        for (int i = 1; i < eqs_circuit_node_count(L.c); ++i)
            ck_assert_double_eq_tol(eqs_solver_voltages(L.s)[i], eqs_solver_voltages(F.s)[i],
                                    1e-9);
        unload(&F);
        eqs_ctx_free(&ctx2);
    }
    unload(&L);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Trained-netlist export                                              */
/* ------------------------------------------------------------------ */

/* Export L's circuit, read it back, compare meaning and operating point
 * (eqspice <= 1e-12 V, ngspice <= 1e-9 V on every user node). */
static void check_export(loaded *L, const char *path)
{
    ck_assert_msg(eqs_export_netlist(L->ctx, L->c, path) == EQS_OK, "%s", eqs_ctx_error(L->ctx));
    const double *v = solve(L, EQS_SOLVE_WARM);
    eqs_ctx *ctx2 = tu_ctx();
    loaded R;
    load_file(&R, ctx2, path);
    ck_assert_int_eq(eqs_circuit_node_count(R.c), eqs_circuit_node_count(L->c));
    ck_assert_int_eq(eqs_circuit_input_count(R.c), eqs_circuit_input_count(L->c));
    ck_assert_int_eq(eqs_circuit_output_count(R.c), eqs_circuit_output_count(L->c));
    ck_assert_int_eq(eqs_circuit_param_count(R.c), eqs_circuit_param_count(L->c));
    for (int k = 0; k < eqs_circuit_input_count(L->c); ++k)
        ck_assert(eqs_circuit_input_get(R.c, k) == eqs_circuit_input_get(L->c, k));
    for (int k = 0; k < eqs_circuit_output_count(L->c); ++k) {
        ck_assert_str_eq(eqs_circuit_node_name(R.c, eqs_circuit_output_node(R.c, k)),
                         eqs_circuit_node_name(L->c, eqs_circuit_output_node(L->c, k)));
        ck_assert_str_eq(eqs_circuit_node_name(R.c, eqs_circuit_output_neg(R.c, k)),
                         eqs_circuit_node_name(L->c, eqs_circuit_output_neg(L->c, k)));
    }
    for (int k = 0; k < eqs_circuit_param_count(L->c); ++k) {
        double a = eqs_circuit_param_get(L->c, k), b = eqs_circuit_param_get(R.c, k);
        ck_assert_msg(fabs(a - b) <= 4 * DBL_EPSILON * fabs(a), "param %d: %.17g vs %.17g", k,
                      a, b);
    }
    const double *w = solve(&R, EQS_SOLVE_COLD);
    int nn = eqs_circuit_node_count(L->c);
    for (int i = 1; i < nn; ++i) {
        /* flattening may intern nodes in another order: match by name */
        int j = eqs_circuit_node_find(R.c, eqs_circuit_node_name(L->c, i));
        ck_assert_int_gt(j, 0);
        ck_assert_msg(fabs(v[i] - w[j]) <= 1e-12, "node %s: %.17g vs %.17g",
                      eqs_circuit_node_name(L->c, i), v[i], w[j]);
    }

    /* stock ngspice on the file's lines: no dot card it does not know */
    int n_lines = 0;
    char **lines = tu_file_lines(path, &n_lines);
    for (int i = 0; i < n_lines; ++i) {
        ck_assert_msg(strncmp(lines[i], ".input", 6) && strncmp(lines[i], ".output", 7) &&
                          strncmp(lines[i], ".trainable", 10),
                      "line %d: %s", i + 1, lines[i]);
    }
    const char **names = malloc((size_t)nn * sizeof *names);
    double *ng = calloc((size_t)nn, sizeof *ng);
    for (int i = 1; i < nn; ++i) names[i - 1] = eqs_circuit_node_name(L->c, i);
    eqs_status st = eqs_ngspice_run_deck(ctx2, lines, nn - 1, names, ng, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx2));
    for (int i = 1; i < nn; ++i)
        ck_assert_msg(fabs(v[i] - ng[i - 1]) <= 1e-9, "ngspice node %s: %.17g vs %.17g",
                      names[i - 1], v[i], ng[i - 1]);
    free(names);
    free(ng);
    tu_free_lines(lines);
    unload(&R);
    eqs_ctx_free(&ctx2);
}

START_TEST(test_export_drn_trained)
{
    const int layers[] = {4, 5, 3};
    char *text = tu_gen_drn(layers, 3, 5);
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, text);
    solve(&L, EQS_SOLVE_COLD);
    /* "training": change every conductance and every input */
    for (int k = 0; k < eqs_circuit_param_count(L.c); ++k)
        ck_assert_int_eq(eqs_circuit_param_set(L.c, k, eqs_circuit_param_get(L.c, k) *
                                                           (1.0 + 0.37 * sin(k + 1.0))),
                         EQS_OK);
    for (int k = 0; k < eqs_circuit_input_count(L.c); ++k)
        ck_assert_int_eq(eqs_circuit_input_set(L.c, k, (k % 2 ? -1 : 1) * 0.1 * (k + 1)),
                         EQS_OK);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/trained.cir", dir);
    check_export(&L, path);
    /* the file says what it is and writes the extension cards as comments */
    char *out = tu_read_file(path);
    ck_assert_ptr_nonnull(strstr(out, "\n*eqspice .input vxp0 vxn0 "));
    ck_assert_ptr_nonnull(strstr(out, "\n*eqspice .output o0 o1 o2\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n*eqspice .trainable r*\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n.op\n.end\n"));
    free(out);
    /* no temporary file left beside it */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/trained.cir.tmp.%ld", dir, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    unload(&L);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* Subcircuit names are renamed by the deck writer (x1.r1 -> r.x1.r1):
 * inputs and the trainable set follow, as an explicit list. */
START_TEST(test_export_subckt_renamed)
{
    static const char *const net =
        "subckt export\n"
        ".subckt cell a b\n"
        "r1 a m 1k\n"
        "r2 m b 2k\n"
        "vs m2 m dc 0.2\n"
        "r3 m2 b 500\n"
        ".ends\n"
        "vin in 0 dc 1\n"
        "x1 in mid cell\n"
        "x2 mid 0 cell\n"
        "rfix mid 0 10k\n"
        ".input vin x1.vs\n"
        ".output mid x2.m\n"
        ".trainable x1.* x2.r2\n"
        ".end\n";
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, net);
    ck_assert_int_eq(eqs_circuit_param_count(L.c), 4);
    solve(&L, EQS_SOLVE_COLD);
    ck_assert_int_eq(eqs_circuit_param_set(L.c, 0, 1.0 / 1234.5), EQS_OK);
    ck_assert_int_eq(eqs_circuit_input_set(L.c, 1, -0.3), EQS_OK);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/sub.cir", dir);
    check_export(&L, path);
    char *out = tu_read_file(path);
    ck_assert_ptr_nonnull(strstr(out, "\n*eqspice .input vin v.x1.vs\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n*eqspice .output mid x2.m\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "\n*eqspice .trainable r.x1.r1 r.x1.r2 r.x1.r3 r.x2.r2\n"));
    free(out);
    /* the read-back names */
    eqs_ctx *ctx2 = tu_ctx();
    loaded R;
    load_file(&R, ctx2, path);
    ck_assert_str_eq(eqs_circuit_input_name(R.c, 1), "v.x1.vs");
    ck_assert_str_eq(eqs_circuit_param_name(R.c, 3), "r.x2.r2");
    unload(&R);
    eqs_ctx_free(&ctx2);
    unload(&L);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Many inputs: the card is split over lines of bounded length. */
START_TEST(test_export_long_cards)
{
    const int layers[] = {40, 2};
    char *text = tu_gen_drn(layers, 2, 3);
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, text);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/long.cir", dir);
    check_export(&L, path);
    int n = 0, n_input_lines = 0;
    char **lines = tu_file_lines(path, &n);
    for (int i = 0; i < n; ++i) {
        if (!strncmp(lines[i], "*eqspice .input", 15)) {
            n_input_lines++;
            ck_assert_int_le((int)strlen(lines[i]), 200);
        }
    }
    ck_assert_int_gt(n_input_lines, 1);
    tu_free_lines(lines);
    unload(&L);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

START_TEST(test_export_errors)
{
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, IO_NET);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.cir", dir);
    ck_assert_int_eq(eqs_export_netlist(ctx, L.c, path), EQS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), path));
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_export_conductances(ctx, L.c, path), EQS_ERR_IO);
    unload(&L);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Differential outputs survive the export as "*eqspice .output_pair"
 * lines, wrapped between pairs (never inside one). */
START_TEST(test_export_output_pairs)
{
    enum { NP = 12 };
    size_t cap = 16384, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "pairs export\nv1 in 0 dc 1\n.input v1\n");
    for (int k = 0; k < NP; ++k)
        len += (size_t)snprintf(text + len, cap - len,
                                "ra%d in differential_output_positive_%d %dk\n"
                                "rb%d differential_output_positive_%d differential_output_negative_%d 2k\n"
                                "rc%d differential_output_negative_%d 0 %dk\n",
                                k, k, k + 1, k, k, k, k, k, 2 * k + 1);
    len += (size_t)snprintf(text + len, cap - len, ".output_pair");
    for (int k = 0; k < NP; ++k)
        len += (size_t)snprintf(text + len, cap - len,
                                " differential_output_positive_%d differential_output_negative_%d",
                                k, k);
    snprintf(text + len, cap - len, "\n.end\n");
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, text);
    free(text);
    ck_assert_int_eq(eqs_circuit_output_count(L.c), NP);
    solve(&L, EQS_SOLVE_COLD);
    char path[512];
    snprintf(path, sizeof path, "%s/pairs.cir", tu_temp_dir());
    check_export(&L, path);
    char *out = tu_read_file(path);
    int lines = 0;
    for (char *p = strstr(out, "\n*eqspice .output_pair "); p;
         p = strstr(p + 1, "\n*eqspice .output_pair ")) {
        lines++;
        int words = 0;
        for (char *q = p + strlen("\n*eqspice .output_pair"); *q && *q != '\n'; ++q)
            if (*q == ' ' && q[1] != ' ' && q[1] != '\n') words++;
        ck_assert_int_eq(words % 2, 0);
    }
    ck_assert_int_ge(lines, 2);
    ck_assert_ptr_null(strstr(out, "\n*eqspice .output "));
    free(out);
    unload(&L);
    eqs_ctx_free(&ctx);
}
END_TEST

/* "*eqspice <card>" comment lines are extension cards; others stay comments. */
START_TEST(test_export_lexer_ext_comments)
{
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx,
              "ext comments\n"
              "v1 a 0 dc 1\n"
              "r1 a b 1k\n"
              "r2 b 0 1k\n"
              "*EQSPICE   .input v1\n"
              "*eqspice .output b\n"
              "*eqspice hello .output a\n"
              "*eqspicex .output a\n"
              "* eqspice .output a\n"
              "*eqspice .trainable r2\n"
              ".end\n");
    ck_assert_int_eq(eqs_circuit_input_count(L.c), 1);
    ck_assert_int_eq(eqs_circuit_output_count(L.c), 1);
    ck_assert_str_eq(eqs_circuit_node_name(L.c, eqs_circuit_output_node(L.c, 0)), "b");
    ck_assert_int_eq(eqs_circuit_param_count(L.c), 1);
    ck_assert_str_eq(eqs_circuit_param_name(L.c, 0), "r2");
    unload(&L);
    /* errors inside such a line point at the right column */
    eqs_netlist *nl = NULL;
    ck_assert_int_ne(eqs_netlist_read_string(ctx,
                                             "bad\nv1 a 0 dc 1\nr1 a 0 1k\n"
                                             "*eqspice .output nosuch\n.end\n",
                                             "bad.cir", &nl),
                     EQS_OK);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "bad.cir:4:18") != NULL, "%s", eqs_ctx_error(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_export_conductance_csv)
{
    eqs_ctx *ctx = tu_ctx();
    loaded L;
    load_text(&L, ctx, IO_NET);
    ck_assert_int_eq(eqs_circuit_param_set(L.c, 0, 1.0 / 3.0), EQS_OK);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/g.csv", dir);
    ck_assert_int_eq(eqs_export_conductances(ctx, L.c, path), EQS_OK);
    char *text = tu_read_file(path);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(strncmp(text, "element,conductance_S\n", 22), 0);
    char *p = text + 22;
    int k = 0;
    for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"), ++k) {
        char *comma = strchr(line, ',');
        ck_assert_ptr_nonnull(comma);
        *comma = '\0';
        ck_assert_str_eq(line, eqs_circuit_param_name(L.c, k));
        ck_assert(strtod(comma + 1, NULL) == eqs_circuit_param_get(L.c, k));
    }
    ck_assert_int_eq(k, eqs_circuit_param_count(L.c));
    free(text);
    unload(&L);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_export(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("io");
    tcase_add_test(tc, test_io_divider_and_floating);
    tcase_add_test(tc, test_io_drn_matches_fresh_netlist);
    suite_add_tcase(s, tc);
    tc = tcase_create("netlist");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_export_drn_trained);
    tcase_add_test(tc, test_export_subckt_renamed);
    tcase_add_test(tc, test_export_long_cards);
    tcase_add_test(tc, test_export_errors);
    tcase_add_test(tc, test_export_lexer_ext_comments);
    tcase_add_test(tc, test_export_output_pairs);
    tcase_add_test(tc, test_export_conductance_csv);
    suite_add_tcase(s, tc);
    return s;
}
