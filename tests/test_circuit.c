/* test_circuit.c: the circuit compiler (elimination, CHOLMOD/KLU decision,
 * pattern, slots, topology errors, warnings, trainable parameters). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "circuit/circuit.h"
#include "testutil.h"
#include "tn_netlist.h"

static eqs_circuit *compile_ok(eqs_netlist *nl)
{
    eqs_circuit *c = NULL;
    eqs_status st = eqs_circuit_create(nl->ctx, nl, &c);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(nl->ctx));
    return c;
}

static void done(eqs_circuit **c, eqs_netlist **nl)
{
    eqs_ctx *ctx = (*nl)->ctx;
    eqs_circuit_free(c);
    ck_assert_ptr_null(*c);
    tn_free(nl);
    eqs_ctx_free(&ctx);
}

/* Row and column of value slot q. */
static void slot_rc(const eqs_circuit *c, int q, int *row, int *col)
{
    for (int j = 0; j < c->n_unknowns; ++j)
        if (q >= c->Ap[j] && q < c->Ap[j + 1]) {
            *row = c->Ai[q];
            *col = j;
            return;
        }
    ck_abort_msg("slot %d outside the pattern", q);
}

static void check_pattern(const eqs_circuit *c)
{
    ck_assert_int_eq(c->Ap[0], 0);
    ck_assert_int_eq(c->Ap[c->n_unknowns], c->nnz);
    for (int j = 0; j < c->n_unknowns; ++j)
        for (int q = c->Ap[j]; q < c->Ap[j + 1]; ++q) {
            ck_assert_int_ge(c->Ai[q], 0);
            ck_assert_int_lt(c->Ai[q], c->n_unknowns);
            if (q > c->Ap[j]) ck_assert_int_gt(c->Ai[q], c->Ai[q - 1]); /* sorted, unique */
            if (c->reciprocal) ck_assert_int_ge(c->Ai[q], j);          /* lower triangle */
        }
}

START_TEST(test_elimination)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    int m = tn_model(nl, "dm", 1e-14, 1, 5);
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 2);     /* fixes in = +2 */
    tn_add(nl, EQS_EL_V, "v2", "0", "neg", 3);    /* fixes neg = -3 */
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
    tn_add(nl, EQS_EL_R, "r2", "a", "neg", 1e3);
    tn_diode(nl, "d1", "a", "0", m, 1);
    eqs_circuit *c = compile_ok(nl);
    ck_assert_int_eq(c->n_user_nodes, 4);
    ck_assert_int_eq(c->n_nodes, 5);
    ck_assert_str_eq(c->node_names[4], "d1#internal");
    ck_assert_int_eq(c->node_user[4], eqs_circuit_node_find(c, "a"));
    int in = eqs_circuit_node_find(c, "in"), neg = eqs_circuit_node_find(c, "NEG");
    int a = eqs_circuit_node_find(c, "a");
    ck_assert_int_eq(eqs_circuit_node_find(c, "nope"), -1);
    ck_assert_int_eq(c->node_unknown[0], -1);
    ck_assert_int_eq(c->node_unknown[in], -1);
    ck_assert_int_eq(c->node_unknown[neg], -1);
    ck_assert_int_eq(c->node_fixed_by[in], 0);
    ck_assert_int_eq(c->node_fixed_by[neg], 1);
    ck_assert_double_eq(eqs_circuit_fixed_voltage(c, in, 1.0), 2.0);
    ck_assert_double_eq(eqs_circuit_fixed_voltage(c, neg, 1.0), -3.0);
    ck_assert_double_eq(eqs_circuit_fixed_voltage(c, neg, 0.5), -1.5);
    ck_assert_int_eq(c->node_unknown[a], 0);
    ck_assert_int_eq(c->node_unknown[4], 1);
    ck_assert_int_eq(eqs_circuit_unknown_count(c), 2);
    ck_assert(eqs_circuit_is_reciprocal(c));
    /* implicit RS resistor: origin -1, G = area / RS, anode -> internal */
    ck_assert_int_eq(c->n_elems, 6);
    ck_assert_int_eq(c->elems[5].kind, EQS_EL_R);
    ck_assert_int_eq(c->elems[5].origin, -1);
    ck_assert_double_eq_tol(eqs_celem_value(c, &c->elems[5]), 0.2, 1e-15);
    ck_assert_int_eq(c->elems[5].n[0], a);
    ck_assert_int_eq(c->elems[5].n[1], 4);
    ck_assert_int_eq(c->elems[4].n[0], 4); /* junction internal -> cathode */
    ck_assert_int_eq(c->elems[4].origin, 4);
    ck_assert_int_eq(c->elems[5].param, -1);
    ck_assert_int_eq(eqs_circuit_param_count(c), 2);
    check_pattern(c);
    done(&c, &nl);
}
END_TEST

START_TEST(test_reciprocal_decision)
{
    struct {
        const char *what;
        int reciprocal;
    } cases[] = {{"plain", 1}, {"floating v", 0}, {"e", 0}, {"g", 0},
                 {"f", 0},     {"h", 0},          {"negative r", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        eqs_netlist *nl = tn_new(tu_ctx());
        tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
        tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
        tn_add(nl, EQS_EL_R, "r2", "a", "0", 1e3);
        tn_add(nl, EQS_EL_I, "i1", "a", "0", 1e-3);
        switch (k) {
        case 1: tn_add(nl, EQS_EL_V, "v2", "a", "b", 1); tn_add(nl, EQS_EL_R, "r3", "b", "0", 1); break;
        case 2: tn_add4(nl, EQS_EL_E, "e1", "b", "0", "a", "0", 2); tn_add(nl, EQS_EL_R, "r3", "b", "0", 1); break;
        case 3: tn_add4(nl, EQS_EL_G, "g1", "a", "0", "in", "0", 2); break;
        case 4: tn_addc(nl, EQS_EL_F, "f1", "a", "0", "v1", 2); break;
        case 5: tn_addc(nl, EQS_EL_H, "h1", "b", "0", "v1", 2); tn_add(nl, EQS_EL_R, "r3", "b", "0", 1); break;
        case 6: tn_add(nl, EQS_EL_R, "r3", "a", "0", -5e3); break;
        default: break;
        }
        eqs_circuit *c = compile_ok(nl);
        ck_assert_msg(c->reciprocal == cases[k].reciprocal, "%s", cases[k].what);
        check_pattern(c);
        if (k == 4 || k == 5) { /* the controlling grounded V keeps a branch */
            ck_assert_int_ge(c->elems[0].branch, 0);
            ck_assert_int_ge(c->node_unknown[eqs_circuit_node_find(c, "in")], 0);
        }
        done(&c, &nl);
    }
}
END_TEST

START_TEST(test_slots_reciprocal_dense)
{
    /* resistor mesh; dense conductance matrix of the free nodes by hand */
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1.0);   /* G 1 */
    tn_add(nl, EQS_EL_R, "r2", "a", "b", 0.5);    /* G 2 */
    tn_add(nl, EQS_EL_R, "r3", "b", "c", 0.25);   /* G 4 */
    tn_add(nl, EQS_EL_R, "r4", "c", "a", 0.125);  /* G 8 */
    tn_add(nl, EQS_EL_R, "r5", "c", "0", 1.0 / 16);
    tn_add(nl, EQS_EL_R, "r6", "b", "a", 1.0 / 32); /* parallel to r2: merged */
    eqs_circuit *c = compile_ok(nl);
    ck_assert(c->reciprocal);
    ck_assert_int_eq(c->n_unknowns, 3);
    ck_assert_int_eq(c->nnz, 6); /* full lower triangle of 3x3 */
    ck_assert_int_eq(eqs_circuit_slots(c), EQS_OK);
    double D[3][3] = {{0}};
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *el = &c->elems[e];
        if (el->kind != EQS_EL_R) continue;
        ck_assert_int_eq(el->slot[3], -1);
        const double sgn[4] = {1, 1, -1, -1};
        for (int s = 0; s < 4; ++s) {
            if (el->slot[s] < 0) continue;
            int row, col;
            slot_rc(c, el->slot[s], &row, &col);
            D[row][col] += sgn[s] * eqs_celem_value(c, el);
        }
    }
    int a = c->node_unknown[eqs_circuit_node_find(c, "a")];
    int b = c->node_unknown[eqs_circuit_node_find(c, "b")];
    int cc = c->node_unknown[eqs_circuit_node_find(c, "c")];
    double ref[3][3] = {{0}};
    ref[a][a] = 1 + 2 + 8 + 32;
    ref[b][b] = 2 + 4 + 32;
    ref[cc][cc] = 4 + 8 + 16;
#define LOW(i, j, v) ref[(i) > (j) ? (i) : (j)][(i) > (j) ? (j) : (i)] = (v)
    LOW(a, b, -34);
    LOW(b, cc, -4);
    LOW(cc, a, -8);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) ck_assert_double_eq_tol(D[i][j], ref[i][j], 1e-12);
    done(&c, &nl);
}
END_TEST

START_TEST(test_slots_mna)
{
    /* every slot points at the (row, col) circuit.h documents */
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
    tn_add(nl, EQS_EL_V, "vx", "a", "b", 0);
    tn_add(nl, EQS_EL_R, "r2", "b", "0", 1e3);
    tn_add4(nl, EQS_EL_E, "e1", "c", "0", "a", "b", 2);
    tn_add(nl, EQS_EL_R, "r3", "c", "d", 1e3);
    tn_add4(nl, EQS_EL_G, "g1", "d", "0", "a", "c", 1e-3);
    tn_addc(nl, EQS_EL_F, "f1", "d", "b", "vx", 2);
    tn_addc(nl, EQS_EL_H, "h1", "e", "d", "vx", 10);
    tn_add(nl, EQS_EL_R, "r4", "e", "0", 1e3);
    tn_add(nl, EQS_EL_R, "r5", "d", "0", 1e3);
    eqs_circuit *c = compile_ok(nl);
    ck_assert(!c->reciprocal);
    check_pattern(c);
    /* slots only on demand (the Newton backend's creation): none after
     * compiling, the same rows on a second call */
    ck_assert_ptr_null(c->slots);
    for (int e = 0; e < c->n_elems; ++e) ck_assert_ptr_null(c->elems[e].slot);
    ck_assert_int_eq(eqs_circuit_slots(c), EQS_OK);
    const int *rows0 = c->elems[1].slot;
    ck_assert_int_eq(eqs_circuit_slots(c), EQS_OK);
    ck_assert_ptr_eq(c->elems[1].slot, rows0);
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *el = &c->elems[e];
        int u[4];
        for (int t = 0; t < 4; ++t) u[t] = el->n[t] < 0 ? -1 : c->node_unknown[el->n[t]];
        int k = el->branch, kc = el->ctrl >= 0 ? c->elems[el->ctrl].branch : -1;
        int exp_r[EQS_MAX_SLOTS], exp_c[EQS_MAX_SLOTS], ns = 0;
#define S(r, cl) (exp_r[ns] = (r), exp_c[ns] = (cl), ns++)
        switch (el->kind) {
        case EQS_EL_R: S(u[0], u[0]); S(u[1], u[1]); S(u[0], u[1]); S(u[1], u[0]); break;
        case EQS_EL_G: S(u[0], u[2]); S(u[0], u[3]); S(u[1], u[2]); S(u[1], u[3]); break;
        case EQS_EL_V: case EQS_EL_E: case EQS_EL_H:
            if (k < 0) break;
            S(u[0], k); S(u[1], k); S(k, u[0]); S(k, u[1]);
            if (el->kind == EQS_EL_E) { S(k, u[2]); S(k, u[3]); }
            if (el->kind == EQS_EL_H) S(k, kc);
            break;
        case EQS_EL_F: S(u[0], kc); S(u[1], kc); break;
        default: break;
        }
        for (int s = 0; s < ns; ++s) {
            if (exp_r[s] < 0 || exp_c[s] < 0) {
                ck_assert_int_eq(el->slot[s], -1);
                continue;
            }
            int row, col;
            ck_assert_int_ge(el->slot[s], 0);
            slot_rc(c, el->slot[s], &row, &col);
            ck_assert_msg(row == exp_r[s] && col == exp_c[s], "elem %d slot %d: (%d,%d) != (%d,%d)",
                          e, s, row, col, exp_r[s], exp_c[s]);
        }
    }
    /* branches: vx, e1, h1 (v1 is grounded and controls nothing) */
    ck_assert_int_eq(c->elems[0].branch, -1);
    ck_assert_int_ge(c->elems[2].branch, c->n_node_unknowns);
    ck_assert_int_eq(c->n_unknowns - c->n_node_unknowns, 3);
    ck_assert_int_eq(c->unknown_elem[c->elems[2].branch], 2);
    done(&c, &nl);
}
END_TEST

/* Compile nl, expect failure with exactly `msg`. */
static void expect_error(eqs_netlist *nl, eqs_status code, const char *msg)
{
    eqs_circuit *c = (eqs_circuit *)1;
    eqs_status st = eqs_circuit_create(nl->ctx, nl, &c);
    ck_assert_int_eq(st, code);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(eqs_ctx_error(nl->ctx), msg);
    eqs_ctx *ctx = nl->ctx;
    tn_free(&nl);
    eqs_ctx_free(&ctx);
}

START_TEST(test_errors)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "a", 1e3);
    tn_add(nl, EQS_EL_I, "i1", "a", "n3", 1e-3);
    tn_add(nl, EQS_EL_R, "r2", "n3", "n4", 1e3);
    expect_error(nl, EQS_ERR_TOPOLOGY, "tn.cir:3:1: error: node 'n3' has no DC path to ground (i1)");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_add(nl, EQS_EL_V, "v2", "in", "0", 2);
    expect_error(nl, EQS_ERR_TOPOLOGY,
                 "tn.cir:3:1: error: voltage source 'v2' between nodes 'in' and '0' closes a loop "
                 "of voltage sources (V, E, H)");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "a", "b", 1);
    tn_add(nl, EQS_EL_V, "v2", "b", "c", 1);
    tn_add(nl, EQS_EL_R, "r1", "a", "0", 1e3);
    tn_add4(nl, EQS_EL_E, "e1", "c", "a", "a", "0", 1);
    expect_error(nl, EQS_ERR_TOPOLOGY,
                 "tn.cir:4:1: error: vcvs 'e1' between nodes 'c' and 'a' closes a loop of voltage "
                 "sources (V, E, H)");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_R, "r0", "a", "0", 1e3);
    tn_add(nl, EQS_EL_V, "v1", "a", "a", 1);
    expect_error(nl, EQS_ERR_TOPOLOGY,
                 "tn.cir:2:1: error: voltage source 'v1' between nodes 'a' and 'a' closes a loop "
                 "of voltage sources (V, E, H)");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 0.0);
    expect_error(nl, EQS_ERR_INPUT, "tn.cir:2:1: error: resistor 'r1' has zero resistance");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", INFINITY);
    expect_error(nl, EQS_ERR_INPUT, "tn.cir:2:1: error: resistor 'r1' has a non-finite resistance");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", NAN);
    expect_error(nl, EQS_ERR_INPUT, "tn.cir:2:1: error: resistor 'r1' has a non-finite resistance");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_addc(nl, EQS_EL_F, "f1", "in", "0", "vnone", 2);
    expect_error(nl, EQS_ERR_INPUT,
                 "tn.cir:3:1: error: cccs 'f1': controlling source 'vnone' not found");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_addc(nl, EQS_EL_H, "h1", "b", "0", "r1", 2);
    expect_error(nl, EQS_ERR_INPUT,
                 "tn.cir:3:1: error: ccvs 'h1': controlling source 'r1' is not a voltage source");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_diode(nl, "d1", "in", "0", 3, 1);
    expect_error(nl, EQS_ERR_INPUT, "tn.cir:2:1: error: diode 'd1' has no model");

    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_input(nl, "r1");
    expect_error(nl, EQS_ERR_INPUT,
                 "tn.cir:300:1: error: '.input' names 'r1', which is not a voltage source");

    /* a node touched by nothing is floating too (no element to name) */
    nl = tn_new(tu_ctx());
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "r1", "in", "0", 1e3);
    tn_node(nl, "lonely");
    expect_error(nl, EQS_ERR_TOPOLOGY, "error: node 'lonely' has no DC path to ground");
}
END_TEST

typedef struct {
    char text[4][512];
    int n;
} log_capture;

static void capture(void *user, eqs_log_level level, const char *msg)
{
    log_capture *lc = user;
    if (level == EQS_LOG_WARN && lc->n < 4) snprintf(lc->text[lc->n++], 512, "%s", msg);
}

START_TEST(test_negative_r_warning_and_trainable)
{
    eqs_netlist *nl = tn_new(tu_ctx());
    log_capture lc;
    memset(&lc, 0, sizeof lc);
    eqs_ctx_set_log(nl->ctx, capture, &lc, EQS_LOG_WARN);
    tn_add(nl, EQS_EL_V, "v1", "in", "0", 1);
    tn_add(nl, EQS_EL_R, "rpos", "in", "a", 1e3);
    tn_add(nl, EQS_EL_R, "rneg", "a", "0", -2e3);
    tn_add(nl, EQS_EL_R, "xload", "a", "0", 5e3);
    tn_trainable(nl, "r*");
    tn_trainable(nl, "v*");
    eqs_circuit *c = compile_ok(nl);
    ck_assert(!c->reciprocal);
    ck_assert_int_eq(lc.n, 2);
    ck_assert_str_eq(lc.text[0], "tn.cir:3:1: warning: negative resistance -2000 Ohm in 'rneg'; "
                                 "the circuit is solved as non-reciprocal (KLU)");
    ck_assert_str_eq(lc.text[1], "tn.cir:201:1: warning: trainable pattern 'v*' matches voltage "
                                 "source 'v1'; only resistors are trainable");
    ck_assert_int_eq(eqs_circuit_param_count(c), 2);
    ck_assert_str_eq(eqs_circuit_param_name(c, 0), "rpos");
    ck_assert_str_eq(eqs_circuit_param_name(c, 1), "rneg");
    ck_assert_double_eq_tol(eqs_circuit_param_get(c, 1), -5e-4, 1e-18);
    /* a negative conductance is accepted in a non-reciprocal circuit */
    ck_assert_int_eq(eqs_circuit_param_set(c, 1, -1e-3), EQS_OK);
    done(&c, &nl);
}
END_TEST

/* tests/bad/compile_*.cir: read with the parser, compile, compare the
 * error with the first line of the .expect file.  Skipped (with a note)
 * while the parser is a stub. */
START_TEST(test_bad_files)
{
    DIR *d = opendir("tests/bad");
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "compile_", 8) || len < 5 || strcmp(de->d_name + len - 4, ".cir"))
            continue;
        char path[512], expect_path[512];
        snprintf(path, sizeof path, "tests/bad/%s", de->d_name);
        snprintf(expect_path, sizeof expect_path, "tests/bad/%.*s.expect", (int)(len - 4),
                 de->d_name);
        char *expect = tu_read_file(expect_path);
        ck_assert_msg(expect != NULL, "missing %s", expect_path);
        char *nlpos = strchr(expect, '\n');
        if (nlpos) *nlpos = '\0';
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_status st = eqs_netlist_read(ctx, path, &nl);
        if (st == EQS_OK) {
            eqs_circuit *c = NULL;
            st = eqs_circuit_create(ctx, nl, &c);
            eqs_circuit_free(&c);
        }
        ck_assert_msg(st < 0, "%s compiled", path);
        ck_assert_str_eq(eqs_ctx_error(ctx), expect);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
        free(expect);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 5);
}
END_TEST

Suite *suite_circuit(void)
{
    Suite *s = suite_create("circuit");
    TCase *tc = tcase_create("compile");
    tcase_add_test(tc, test_elimination);
    tcase_add_test(tc, test_reciprocal_decision);
    tcase_add_test(tc, test_slots_reciprocal_dense);
    tcase_add_test(tc, test_slots_mna);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_negative_r_warning_and_trainable);
    tcase_add_test(tc, test_bad_files);
    suite_add_tcase(s, tc);
    return s;
}
