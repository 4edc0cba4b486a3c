/*
 * test_crossbar.c: the `.crossbar` card, the netlist builder and the DRN
 * generator's direct build.
 *
 * References: hand-written plain netlists with the same devices (names,
 * nodes, values; op voltages within 1e-12 V), stock ngspice through the
 * ngspice backend (within 1e-6 V), the parsed text of `gen drn` (bitwise:
 * nodes, elements, values, cards), and the node order plain R cards give.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circuit/circuit.h"
#include "crossbar/crossbar.h"
#include "testutil.h"

static eqs_netlist *read_ok(eqs_ctx *ctx, const char *text, const char *name)
{
    eqs_netlist *nl = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, name, &nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    return nl;
}

/* The parse of text fails with exactly `want` as the message's start. */
static void read_fails(const char *text, const char *want)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, "x.cir", &nl);
    ck_assert_msg(st != EQS_OK, "accepted, expected: %s", want);
    ck_assert_ptr_null(nl);
    const char *msg = eqs_ctx_error(ctx);
    ck_assert_msg(strncmp(msg, want, strlen(want)) == 0, "got '%s', want '%s...'", msg, want);
    eqs_ctx_free(&ctx);
}

static const eqs_element *elem(const eqs_netlist *nl, const char *name)
{
    int k = eqs_netlist_elem_find(nl, name);
    ck_assert_msg(k >= 0, "no element %s", name);
    return &nl->elems[k];
}

static const char *node_of(const eqs_netlist *nl, const eqs_element *e, int k)
{
    return nl->node_names[e->node[k]];
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ---------------------------------------------------------------- */
/* netlist comparison                                               */
/* ---------------------------------------------------------------- */

static int loc_eq(eqs_loc a, eqs_loc b)
{
    return a.line == b.line && a.col == b.col &&
           ((!a.file && !b.file) || (a.file && b.file && !strcmp(a.file, b.file)));
}

/* NULL when a and b are the same netlist (locs included), else what differs. */
static const char *nl_diff(const eqs_netlist *a, const eqs_netlist *b, char *buf, size_t n)
{
#define DIFF(...) return (snprintf(buf, n, __VA_ARGS__), buf)
    if (strcmp(a->title, b->title)) DIFF("title '%s' vs '%s'", a->title, b->title);
    if (strcmp(a->path, b->path)) DIFF("path");
    if (a->n_nodes != b->n_nodes) DIFF("%d vs %d nodes", a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; ++i)
        if (strcmp(a->node_names[i], b->node_names[i]))
            DIFF("node %d: %s vs %s", i, a->node_names[i], b->node_names[i]);
    if (a->n_elems != b->n_elems) DIFF("%d vs %d elements", a->n_elems, b->n_elems);
    for (int i = 0; i < a->n_elems; ++i) {
        const eqs_element *x = &a->elems[i], *y = &b->elems[i];
        if (strcmp(x->name, y->name)) DIFF("element %d: %s vs %s", i, x->name, y->name);
        if (x->kind != y->kind || x->n_nodes != y->n_nodes || x->model != y->model ||
            x->dmodel != y->dmodel || !same_bits(x->area, y->area) ||
            x->temp_given != y->temp_given || x->dtemp_given != y->dtemp_given)
            DIFF("element %s: kind/model/area", x->name);
        for (int k = 0; k < 4; ++k)
            if (x->node[k] != y->node[k]) DIFF("element %s: node %d", x->name, k);
        if (!same_bits(x->value, y->value))
            DIFF("element %s: value %.17g vs %.17g", x->name, x->value, y->value);
        if ((x->ctrl || y->ctrl) && (!x->ctrl || !y->ctrl || strcmp(x->ctrl, y->ctrl)))
            DIFF("element %s: ctrl", x->name);
        if (!loc_eq(x->loc, y->loc))
            DIFF("element %s: loc %d:%d vs %d:%d", x->name, x->loc.line, x->loc.col, y->loc.line,
                 y->loc.col);
    }
    if (a->n_models != b->n_models) DIFF("models");
    for (int i = 0; i < a->n_models; ++i) {
        const eqs_diode_model *x = &a->models[i], *y = &b->models[i];
        if (strcmp(x->name, y->name) || strcmp(x->card, y->card) || !same_bits(x->is_A, y->is_A) ||
            !same_bits(x->n, y->n) || !same_bits(x->rs_Ohm, y->rs_Ohm) ||
            !same_bits(x->ibv_A, y->ibv_A) || x->has_bv != y->has_bv ||
            x->tnom_default != y->tnom_default || x->given != y->given || !loc_eq(x->loc, y->loc))
            DIFF("model %s: '%s' vs '%s'", x->name, x->card, y->card);
    }
    if (a->n_dmodels != b->n_dmodels) DIFF("device models");
    const struct {
        char **na, **nb;
        eqs_loc *la, *lb;
        int ca, cb;
        const char *what;
    } lists[3] = {
        {a->inputs, b->inputs, a->input_loc, b->input_loc, a->n_inputs, b->n_inputs, "input"},
        {a->outputs, b->outputs, a->output_loc, b->output_loc, a->n_outputs, b->n_outputs,
         "output"},
        {a->trainable, b->trainable, a->trainable_loc, b->trainable_loc, a->n_trainable,
         b->n_trainable, "trainable"},
    };
    for (int l = 0; l < 3; ++l) {
        if (lists[l].ca != lists[l].cb) DIFF("%s count %d vs %d", lists[l].what, lists[l].ca, lists[l].cb);
        for (int i = 0; i < lists[l].ca; ++i)
            if (strcmp(lists[l].na[i], lists[l].nb[i]) || !loc_eq(lists[l].la[i], lists[l].lb[i]))
                DIFF("%s %d: %s %d:%d vs %s %d:%d", lists[l].what, i, lists[l].na[i],
                     lists[l].la[i].line, lists[l].la[i].col, lists[l].nb[i], lists[l].lb[i].line,
                     lists[l].lb[i].col);
    }
    if (a->output_pairs != b->output_pairs || a->has_op != b->has_op ||
        a->n_ignored_cards != b->n_ignored_cards)
        DIFF("output_pairs/has_op/ignored");
    if (a->n_crossbars != b->n_crossbars) DIFF("%d vs %d crossbars", a->n_crossbars, b->n_crossbars);
    for (int i = 0; i < a->n_crossbars; ++i) {
        const eqs_crossbar *x = &a->crossbars[i], *y = &b->crossbars[i];
        if (strcmp(x->name, y->name) || x->rows != y->rows || x->cols != y->cols ||
            x->first_elem != y->first_elem || x->dmodel != y->dmodel ||
            !same_bits(x->rwire_ohm, y->rwire_ohm) || x->first_wire != y->first_wire ||
            x->n_wire != y->n_wire || !loc_eq(x->loc, y->loc))
            DIFF("crossbar %s", x->name);
        for (int k = 0; k < x->rows; ++k)
            if (x->row_node[k] != y->row_node[k]) DIFF("crossbar %s row %d", x->name, k);
        for (int k = 0; k < x->cols; ++k)
            if (x->col_node[k] != y->col_node[k]) DIFF("crossbar %s col %d", x->name, k);
    }
    return NULL;
#undef DIFF
}

/* The node order plain cards would give: each element's nodes in card
 * order, first use registers (ground is node 0). */
static void check_plain_node_order(const eqs_netlist *nl)
{
    int *seen = calloc((size_t)nl->n_nodes, sizeof *seen), next = 1;
    int *order = calloc((size_t)nl->n_nodes, sizeof *order);
    seen[0] = 1;
    for (int i = 0; i < nl->n_elems; ++i)
        for (int k = 0; k < nl->elems[i].n_nodes; ++k) {
            int v = nl->elems[i].node[k];
            if (!seen[v]) seen[v] = 1, order[next++] = v;
        }
    ck_assert_int_eq(next, nl->n_nodes);
    for (int k = 1; k < next; ++k)
        ck_assert_msg(order[k] == k, "node %d (%s) is registered at %d by plain cards", order[k],
                      nl->node_names[order[k]], k);
    free(seen);
    free(order);
}

/* ---------------------------------------------------------------- */
/* operating points                                                  */
/* ---------------------------------------------------------------- */

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
} op_run;

static void op_open(op_run *r, const char *text, eqs_backend_id backend)
{
    r->ctx = tu_ctx();
    r->nl = read_ok(r->ctx, text, "op.cir");
    ck_assert_msg(eqs_circuit_create(r->ctx, r->nl, &r->c) == EQS_OK, "%s",
                  eqs_ctx_error(r->ctx));
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = 1e-12;
    opt.vntol = 1e-14;
    opt.abstol = 1e-18;
    opt.explicit_mask |= EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
    eqs_status st = eqs_solver_create(r->ctx, r->c, backend, &opt, &r->s);
    if (st == EQS_OK) st = eqs_solver_solve(r->s, EQS_SOLVE_COLD, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(r->ctx));
    ck_assert_int_eq(eqs_solver_backend(r->s), backend);
}

static double op_v(const op_run *r, const char *node)
{
    int k = eqs_circuit_node_find(r->c, node);
    ck_assert_msg(k >= 0, "no node %s", node);
    return eqs_solver_voltages(r->s)[k];
}

static void op_close(op_run *r)
{
    eqs_solver_free(&r->s);
    eqs_circuit_free(&r->c);
    eqs_netlist_free(&r->nl);
    eqs_ctx_free(&r->ctx);
}

/* Every node of `ref` has the same voltage in `got` within tol. */
static double op_compare(const op_run *got, const op_run *ref, double tol, const char *what)
{
    double worst = 0;
    for (int k = 1; k < ref->nl->n_nodes; ++k) {
        const char *name = ref->nl->node_names[k];
        double d = fabs(op_v(got, name) - op_v(ref, name));
        ck_assert_msg(d <= tol, "%s: node %s differs by %g V (tolerance %g V)", what, name, d, tol);
        if (d > worst) worst = d;
    }
    return worst;
}

/* ---------------------------------------------------------------- */
/* the card                                                          */
/* ---------------------------------------------------------------- */

START_TEST(test_card_names_nodes_values)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_ok(ctx,
                              "t\nv1 a 0 1\n.param gg=2m\n"
                              ".crossbar R1 rows=(a B) cols=(o1 o2 o3)\n"
                              "+ g=(1m 2m {gg*1.5}\n"
                              "* a comment between continuations\n"
                              "+    4e-3, 5mS gg)\n"
                              "rl o1 0 1k\n.trainable r1_*\n.end\n",
                              "c.cir");
    ck_assert_int_eq(nl->n_crossbars, 1);
    const eqs_crossbar *x = &nl->crossbars[0];
    ck_assert_str_eq(x->name, "r1");
    ck_assert_int_eq(x->rows, 2);
    ck_assert_int_eq(x->cols, 3);
    ck_assert_int_eq(x->first_elem, 1);
    ck_assert_int_eq(x->dmodel, 0);
    ck_assert_int_eq(x->n_wire, 0);
    ck_assert_int_eq(x->loc.line, 4);
    ck_assert_str_eq(nl->node_names[x->row_node[1]], "b");
    ck_assert_str_eq(nl->node_names[x->col_node[2]], "o3");
    const double g[6] = {1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 2e-3};
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) {
            char nm[32];
            snprintf(nm, sizeof nm, "r1_%d_%d", i, j);
            const eqs_element *e = &nl->elems[x->first_elem + i * 3 + j];
            ck_assert_str_eq(e->name, nm);
            ck_assert_ptr_eq(e, elem(nl, nm));
            ck_assert_int_eq(e->kind, EQS_EL_R);
            ck_assert_int_eq(e->node[0], x->row_node[i]);
            ck_assert_int_eq(e->node[1], x->col_node[j]);
            ck_assert_double_eq(e->value, 1.0 / g[i * 3 + j]);
        }
    /* nodes in the order the R cards would register them: a (v1), the
     * columns (named by r1_0_*), then b (r1_1_0) */
    ck_assert_str_eq(nl->node_names[1], "a");
    ck_assert_str_eq(nl->node_names[2], "o1");
    ck_assert_str_eq(nl->node_names[4], "o3");
    ck_assert_str_eq(nl->node_names[5], "b");
    check_plain_node_order(nl);
    /* .trainable r1_* matches the devices */
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_circuit_param_count(c), 6);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* r= values are resistances; g= conductances: 1/R; ranges NAME[A:B]. */
START_TEST(test_card_r_vs_g_and_ranges)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *a = read_ok(ctx, "t\n.crossbar x rows=in[0:2] cols=(o[3:2]) r=(1k 2k 3k 4k 5k 6k)\n",
                             "a.cir");
    eqs_netlist *b = read_ok(ctx, "t\n.crossbar x rows=(in0 in1 in2) cols=(o3 o2) "
                                  "g=(1m 500u {1/3k} 250u 200u {1/6k})\n",
                             "a.cir");
    ck_assert_int_eq(a->n_elems, 6);
    ck_assert_int_eq(b->n_elems, 6);
    for (int k = 0; k < 6; ++k) {
        ck_assert_str_eq(a->elems[k].name, b->elems[k].name);
        ck_assert_double_eq_tol(a->elems[k].value, b->elems[k].value, 1e-9 * a->elems[k].value);
        ck_assert_double_eq(a->elems[k].value, 1e3 * (k + 1));
    }
    ck_assert_str_eq(node_of(a, elem(a, "x_2_0"), 0), "in2");
    ck_assert_str_eq(node_of(a, elem(a, "x_2_0"), 1), "o3");
    ck_assert_str_eq(node_of(a, elem(a, "x_1_1"), 1), "o2");
    eqs_netlist_free(&a);
    eqs_netlist_free(&b);
    eqs_ctx_free(&ctx);
}
END_TEST

/* file=PATH.csv (relative to the netlist's directory): conductances. */
START_TEST(test_card_csv)
{
    const char *dir = tu_temp_dir();
    char p[4096];
    snprintf(p, sizeof p, "%s/g.csv", dir);
    FILE *f = fopen(p, "w");
    fputs("# conductances (S)\n1m, 2m ,3e-3\n\n4m,5mS,6m\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/net.cir", dir);
    f = fopen(p, "w");
    fputs("t\n.crossbar w rows=(a b) cols=(c d e) file=g.csv\n.end\n", f);
    fclose(f);
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    ck_assert_msg(eqs_netlist_read(ctx, p, &nl) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(nl->n_elems, 6);
    for (int k = 0; k < 6; ++k) ck_assert_double_eq(nl->elems[k].value, 1.0 / (1e-3 * (k + 1)));
    eqs_netlist_free(&nl);
    /* ragged: the CSV's own file:line:col */
    snprintf(p, sizeof p, "%s/g.csv", dir);
    f = fopen(p, "w");
    fputs("1m,2m,3m\n4m,5m\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/net.cir", dir);
    ck_assert_int_ne(eqs_netlist_read(ctx, p, &nl), EQS_OK);
    char want[4200];
    snprintf(want, sizeof want, "%s/g.csv:2:6: error: row 1 has 2 values, the crossbar has 3 "
                                "columns", dir);
    ck_assert_str_eq(eqs_ctx_error(ctx), want);
    eqs_ctx_free(&ctx);
}
END_TEST

/* CSV errors at the CSV's file:line:col, a missing file at the card. */
START_TEST(test_card_csv_errors)
{
    const struct {
        const char *csv, *want;
    } cases[] = {
        {"1m,2m\n3m,x\n", "g.csv:2:4: error: malformed number 'x'"},
        {"1m,2m\n3m,-1\n", "g.csv:2:4: error: conductance must be positive and finite (S)"},
        {"1m,2m\n3m,0\n", "g.csv:2:4: error: conductance must be positive and finite (S)"},
        {"1m,2m,3m\n3m,4m\n", "g.csv:1:7: error: row 0 has more than 2 values"},
        {"1m,2m\n", "g.csv:2:1: error: the file ends after 1 row of conductances, the crossbar "
                    "has 2 rows"},
        {"1m,2m\n1m,2m\n1m,2m\n", "g.csv:3:1: error: more than 2 rows"},
        {"1m,,2m\n1m,2m\n", "g.csv:1:4: error: empty field"},
        {"1m 2m\n1m,2m\n", "g.csv:1:4: error: expected ',' between values"},
    };
    const char *dir = tu_temp_dir();
    char p[4096], q[4096], want[4300];
    snprintf(q, sizeof q, "%s/net.cir", dir);
    FILE *f = fopen(q, "w");
    fputs("t\n.crossbar w rows=(a b) cols=(c d) file=\"g.csv\"\n.end\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/g.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        f = fopen(p, "w");
        fputs(cases[i].csv, f);
        fclose(f);
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        ck_assert_int_ne(eqs_netlist_read(ctx, q, &nl), EQS_OK);
        snprintf(want, sizeof want, "%s/%s", dir, cases[i].want);
        ck_assert_msg(!strncmp(eqs_ctx_error(ctx), want, strlen(want)), "case %zu: got '%s'", i,
                      eqs_ctx_error(ctx));
        eqs_ctx_free(&ctx);
    }
    remove(p);
    read_fails("t\n.crossbar w rows=(a) cols=(c) file=/nonexistent/g.csv\n",
               "x.cir:2:36: error: cannot open crossbar file '/nonexistent/g.csv'");
}
END_TEST

/* Every bad card with its file:line:col. */
START_TEST(test_card_errors)
{
    read_fails("t\n.crossbar\n", "x.cir:2:1: error: '.crossbar' needs a name");
    read_fails("t\n.crossbar x rows=(a) g=(1m)\n", "x.cir:2:1: error: '.crossbar x' needs cols=");
    read_fails("t\n.crossbar x cols=(a) g=(1m)\n", "x.cir:2:1: error: '.crossbar x' needs rows=");
    read_fails("t\n.crossbar x rows=(a) cols=(b)\n", "x.cir:2:1: error: '.crossbar x' needs its values");
    read_fails("t\n.crossbar x rows=(a) cols=(b) g=(1m) r=(1k)\n",
               "x.cir:2:38: error: '.crossbar x' takes one of g=, r= and file=");
    read_fails("t\n.crossbar x rows=(a) cols=(b) q=1\n",
               "x.cir:2:31: error: unknown parameter 'q' in '.crossbar x'");
    read_fails("t\n.crossbar x rows=(a) rows=(b)\n", "x.cir:2:22: error: 'rows' given twice");
    read_fails("t\n.crossbar x rows=(a b cols=(c) g=(1m)\n",
               "x.cir:2:27: error: unexpected '=' in the list of 'rows'");
    read_fails("t\n.crossbar x rows=(a b\n", "x.cir:2:18: error: missing ')'");
    read_fails("t\n.crossbar x rows=() cols=(b) g=(1m)\n", "x.cir:2:18: error: empty list for 'rows'");
    read_fails("t\n.crossbar x rows={a} cols=(b) g=(1m)\n",
               "x.cir:2:18: error: expected a node name in 'rows=' of '.crossbar x', got '{a}'");
    read_fails("t\n.crossbar x rows=(a b) cols=(c) extra\n",
               "x.cir:2:33: error: unexpected 'extra' in '.crossbar x'");
    /* count mismatch: at the list */
    read_fails("t\n.crossbar x rows=(a b) cols=(c d)\n+ g=(1m 2m 3m)\n",
               "x.cir:3:5: error: '.crossbar x' has 2 x 2 = 4 devices, but g= gives 3 values");
    /* non-positive and non-finite values: at the value */
    read_fails("t\n.crossbar x rows=(a) cols=(c d)\n+ g=(1m -2m)\n",
               "x.cir:3:9: error: '-2m' in '.crossbar x' (device 0,1): conductance must be positive");
    read_fails("t\n.crossbar x rows=(a) cols=(c d) r=(0 1k)\n",
               "x.cir:2:36: error: '0' in '.crossbar x' (device 0,0): resistance must be positive");
    read_fails("t\n.param big=1e308\n.crossbar x rows=(a) cols=(c) r=({big*10})\n",
               "x.cir:3:38: error: expression result is not finite");
    read_fails("t\n.crossbar x rows=(a) cols=(c) r=(1k2)\n", "x.cir:2:34: error: malformed number '1k2'");
    /* duplicate element names */
    read_fails("t\nrq_0_0 a c 1k\n.crossbar rq rows=(a) cols=(c) r=(1k)\n",
               "x.cir:3:1: error: duplicate element name 'rq_0_0' (first defined at line 2)");
    read_fails("t\n.crossbar x rows=(a) cols=(c) r=(1k)\n.crossbar X rows=(b) cols=(d) r=(1k)\n",
               "x.cir:3:1: error: duplicate crossbar 'X'");
    read_fails("t\n.crossbar x rows=(a b a) cols=(c) r=(1k 1k 1k)\n",
               "x.cir:2:1: error: crossbar 'x': node 'a' is named twice");
    /* models */
    read_fails("t\n.crossbar x rows=(a) cols=(c) model=mm g=(1m)\n",
               "x.cir:2:37: error: unknown memristor model 'mm' in '.crossbar x'");
    read_fails("t\n.model dd d is=1e-14\n.crossbar x rows=(a) cols=(c) model=dd g=(1m)\n",
               "x.cir:3:37: error: model 'dd' of '.crossbar x' is a diode model, not a memristor");
    read_fails("t\n.model mm memristor level=2 ron=100 roff=10k\n"
               ".crossbar x rows=(a) cols=(c) model=mm g=(1)\n",
               "x.cir:3:43: error: '1' in '.crossbar x' (device 0,0): conductance 1 S is outside "
               "the window [0.0001, 0.01] S of memristor model 'mm'");
    read_fails("t\n.crossbar x rows=(a) cols=(c) model=(mm) g=(1m)\n",
               "x.cir:2:37: error: 'model' takes one model name, not a list");
    read_fails("t\n.crossbar x rows=(a) cols=(c) rwire=-1 g=(1m)\n",
               "x.cir:2:37: error: rwire must be zero or a positive");
    /* inside a subcircuit: refused */
    read_fails("t\n.subckt s a b\n.crossbar x rows=(a) cols=(b) g=(1m)\n.ends\n",
               "x.cir:3:1: error: '.crossbar' is only allowed at the top level, not inside "
               "'.subckt s'");
    /* internal wire node already used */
    read_fails("t\nr9 x_r0_0 0 1k\n.crossbar x rows=(a) cols=(c) rwire=1 g=(1m)\n",
               "x.cir:3:1: error: crossbar 'x': its internal node 'x_r0_0' is already a node");
}
END_TEST

/* model=: memristors at the state whose resistance is 1/G. */
START_TEST(test_card_memristor)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_ok(ctx,
                              "t\n.model mm memristor level=2 ron=100 roff=10k xon=0 xoff=1 "
                              "ivrelation=1\n"
                              ".crossbar m rows=(a b) cols=(c) model=mm g=(1m 250u)\n"
                              "ymemristor ref a c mm xo=0.5\n",
                              "m.cir");
    ck_assert_int_eq(nl->crossbars[0].dmodel, 1);
    const eqs_element *e = elem(nl, "m_0_0"), *r = elem(nl, "ref");
    ck_assert_int_eq(e->dmodel, 1);
    ck_assert_int_eq(e->kind, EQS_EL_R);
    /* ivrelation 1: R = ron (roff/ron)^x; 1 kOhm is x = 0.5, the reference */
    ck_assert_double_eq_tol(e->value, 1e3, 1e-9);
    ck_assert_double_eq_tol(r->value, 1e3, 1e-9);
    ck_assert_double_eq_tol(elem(nl, "m_1_0")->value, 4e3, 4e-9);
    const eqs_model_type *ty = nl->dmodels[0].type;
    ck_assert_double_eq_tol(ty->state_of(nl->dmodels[0].v, 1.0 / e->value), 0.5, 1e-12);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* rwire: the expansion against the hand-written equivalent. */
static const char *rwire_card =
    "rw\nv1 a 0 1\nv2 b 0 -0.5\nv3 c 0 0.25\n"
    ".crossbar rx rows=(a b c) cols=(o1 o2) rwire=7 r=(1k 2k 3k 4k 5k 6k)\n"
    "rl1 o1 0 500\nrl2 o2 0 800\n.end\n";

static char *rwire_plain(void)
{
    static const char *rows[3] = {"a", "b", "c"}, *cols[2] = {"o1", "o2"};
    char *t = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&t, &n);
    fprintf(f, "rw\nv1 a 0 1\nv2 b 0 -0.5\nv3 c 0 0.25\n");
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j)
            fprintf(f, "rx_%d_%d rx_r%d_%d rx_c%d_%d %dk\n", i, j, i, j, i, j, i * 2 + j + 1);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) {
            char prev[32];
            if (j == 0) snprintf(prev, sizeof prev, "%s", rows[i]);
            else snprintf(prev, sizeof prev, "rx_r%d_%d", i, j - 1);
            fprintf(f, "rx_wr%d_%d %s rx_r%d_%d 7\n", i, j, prev, i, j);
        }
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) {
            char next[32];
            if (i == 2) snprintf(next, sizeof next, "%s", cols[j]);
            else snprintf(next, sizeof next, "rx_c%d_%d", i + 1, j);
            fprintf(f, "rx_wc%d_%d rx_c%d_%d %s 7\n", i, j, i, j, next);
        }
    fprintf(f, "rl1 o1 0 500\nrl2 o2 0 800\n.end\n");
    fclose(f);
    return t;
}

START_TEST(test_card_rwire_topology)
{
    eqs_ctx *ctx = tu_ctx();
    char *plain = rwire_plain();
    eqs_netlist *a = read_ok(ctx, rwire_card, "rw.cir");
    eqs_netlist *b = read_ok(ctx, plain, "rw.cir");
    const eqs_crossbar *x = &a->crossbars[0];
    ck_assert_int_eq(x->first_elem, 3);
    ck_assert_int_eq(x->first_wire, 9);
    ck_assert_int_eq(x->n_wire, 12);
    ck_assert_double_eq(x->rwire_ohm, 7);
    ck_assert_int_eq(a->n_elems, b->n_elems);
    for (int k = 0; k < a->n_elems; ++k) { /* same names, values, node names */
        const eqs_element *e = &a->elems[k], *f = elem(b, e->name);
        ck_assert_ptr_eq(f, &b->elems[k]);
        ck_assert(same_bits(e->value, f->value));
        for (int q = 0; q < 2; ++q) ck_assert_str_eq(node_of(a, e, q), node_of(b, f, q));
    }
    eqs_netlist_free(&a);
    eqs_netlist_free(&b);
    eqs_ctx_free(&ctx);
    /* the same operating point within 1e-12 V (Newton on both) */
    op_run ra, rb;
    op_open(&ra, rwire_card, EQS_BACKEND_NEWTON);
    op_open(&rb, plain, EQS_BACKEND_NEWTON);
    op_compare(&ra, &rb, 1e-12, "rwire card vs plain");
    /* and the wires matter: o1 differs from the ideal-wire answer */
    double g1[3] = {1e-3, 1.0 / 3e3, 1.0 / 5e3}, vin[3] = {1, -0.5, 0.25}, num = 0, den = 1.0 / 500;
    for (int i = 0; i < 3; ++i) num += g1[i] * vin[i], den += g1[i];
    ck_assert_double_gt(fabs(op_v(&ra, "o1") - num / den), 1e-4);
    op_close(&ra);
    op_close(&rb);
    free(plain);
    /* compiled: the wire segments are never parameters (no .trainable: the
     * six devices and the two loads; `.trainable rx_*`, which matches the
     * segments' names too: the six devices), and the devices are one
     * declared block of the store, 3 x 2 between the card's lines */
    for (int t = 0; t < 2; ++t) {
        eqs_ctx *cx = tu_ctx();
        char text[1024];
        snprintf(text, sizeof text, "%s", rwire_card);
        if (t) {
            char *end = strstr(text, ".end");
            snprintf(end, sizeof text - (size_t)(end - text), ".trainable rx_*\n.end\n");
        }
        eqs_netlist *nl = read_ok(cx, text, "rw.cir");
        eqs_circuit *c = NULL;
        ck_assert_int_eq(eqs_circuit_create(cx, nl, &c), EQS_OK);
        ck_assert_int_eq(eqs_circuit_param_count(c), t ? 6 : 8);
        for (int k = 0; k < eqs_circuit_param_count(c); ++k)
            ck_assert_ptr_null(strstr(eqs_circuit_param_name(c, k), "_w"));
        const eqs_store *ps = c->store;
        ck_assert_str_eq(ps->blocks[0].name, "rx");
        ck_assert(ps->blocks[0].declared && ps->blocks[0].rows == 3 && ps->blocks[0].cols == 2);
        ck_assert_int_eq(ps->blocks[0].row_node[1], eqs_circuit_node_find(c, "b"));
        ck_assert_int_eq(ps->blocks[0].col_node[1], eqs_circuit_node_find(c, "o2"));
        static const char *const dev[6] = {"rx_0_0", "rx_0_1", "rx_1_0",
                                           "rx_1_1", "rx_2_0", "rx_2_1"};
        for (int e = 0; e < 6; ++e)
            ck_assert_str_eq(eqs_circuit_param_name(c, ps->param[e]), dev[e]);
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&cx);
    }
}
END_TEST

/* ---------------------------------------------------------------- */
/* builder                                                           */
/* ---------------------------------------------------------------- */

START_TEST(test_builder_matches_parser)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *p = read_ok(ctx,
                             "b\n.model dd D(IS=2e-14)\nv1 a 0 dc 1\n"
                             ".crossbar x rows=(a b) cols=(c) rwire=2 r=(1k 2k)\n"
                             "d1 c 0 dd\n.input v1\n.output c\n.trainable x_*\n.op\n.end\n",
                             "b.cir");
    eqs_netlist *nl = NULL;
    ck_assert_int_eq(eqs_netlist_create(ctx, "b", "b.cir", &nl), EQS_OK);
    eqs_diode_model m;
    eqs_diode_model_defaults(&m);
    m.is_A = 2e-14;
    m.name = "dd";
    char card[64];
    snprintf(card, sizeof card, "is=%.17g", 2e-14);
    m.card = card;
    m.loc = (eqs_loc){"b.cir", 2, 1};
    ck_assert_int_eq(eqs_netlist_add_diode_model(nl, &m, NULL), EQS_OK);
    eqs_element e;
    memset(&e, 0, sizeof e);
    e.kind = EQS_EL_V;
    e.n_nodes = 2;
    e.node[0] = eqs_netlist_add_node(nl, "A");
    e.node[1] = eqs_netlist_add_node(nl, "0");
    e.value = 1;
    e.model = -1;
    e.area = 1;
    e.loc = (eqs_loc){"b.cir", 3, 1};
    ck_assert_int_eq(eqs_netlist_add_elem(nl, &e, "V1", NULL, NULL), EQS_OK);
    eqs_name_ref rows[2] = {{"a", 1}, {"b", 1}}, cols[1] = {{"c", 1}};
    double r[2] = {1e3, 2e3};
    eqs_crossbar_spec xs = {"x", 1, 2, 1, rows, cols, r, 0, 0, 2.0, {"b.cir", 4, 1}, NULL};
    ck_assert_int_eq(eqs_netlist_add_crossbar(nl, &xs, NULL), EQS_OK);
    e.kind = EQS_EL_D;
    e.node[0] = eqs_netlist_add_node(nl, "c");
    e.node[1] = 0;
    e.value = 0;
    e.model = 0;
    e.loc = (eqs_loc){"b.cir", 5, 1};
    ck_assert_int_eq(eqs_netlist_add_elem(nl, &e, "d1", NULL, NULL), EQS_OK);
    ck_assert_int_eq(eqs_netlist_add_input(nl, "v1", (eqs_loc){"b.cir", 6, 8}), EQS_OK);
    ck_assert_int_eq(eqs_netlist_add_output(nl, "c", 0, (eqs_loc){"b.cir", 7, 9}), EQS_OK);
    ck_assert_int_eq(eqs_netlist_add_trainable(nl, "x_*", (eqs_loc){"b.cir", 8, 12}), EQS_OK);
    nl->has_op = 1;
    ck_assert_int_eq(eqs_netlist_finish(nl), EQS_OK);
    char buf[256];
    const char *d = nl_diff(p, nl, buf, sizeof buf);
    ck_assert_msg(!d, "builder differs from the parser: %s", d);
    /* look-ups are the hashed ones */
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "X_1_0"), 2);
    ck_assert_int_eq(eqs_netlist_node_find(nl, "x_c1_0"), eqs_netlist_node_find(p, "x_c1_0"));
    /* duplicates and bad input are refused with the loc */
    ck_assert_int_ne(eqs_netlist_add_crossbar(nl, &xs, NULL), EQS_OK);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "b.cir:4:1: error: duplicate crossbar 'x'"));
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_netlist_add_input(nl, "v9", (eqs_loc){"b.cir", 9, 3}), EQS_OK);
    ck_assert_int_ne(eqs_netlist_finish(nl), EQS_OK);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "b.cir:9:3: error: input 'v9' is not a "
                                                     "voltage source"));
    eqs_netlist_free(&nl);
    eqs_netlist_free(&p);
    eqs_ctx_free(&ctx);
}
END_TEST

/* A 1000 x 1000 crossbar built directly: hashed look-ups stay fast. */
START_TEST(test_builder_large)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    ck_assert_int_eq(eqs_netlist_create(ctx, "big", "big", &nl), EQS_OK);
    enum { N = 1000 };
    char (*names)[16] = malloc(sizeof *names * 2 * N);
    eqs_name_ref *refs = malloc(sizeof *refs * 2 * N);
    double *v = malloc(sizeof *v * N * N);
    for (int k = 0; k < 2 * N; ++k) {
        snprintf(names[k], sizeof names[k], "%s%d", k < N ? "in" : "out", k % N);
        refs[k] = (eqs_name_ref){names[k], strlen(names[k])};
    }
    for (int k = 0; k < N * N; ++k) v[k] = 1e-6 * (1 + k % 97);
    eqs_crossbar_spec xs = {"w", 1, N, N, refs, refs + N, v, 1, 0, 0, {"big", 1, 1}, NULL};
    double t0 = eqs_now_s();
    ck_assert_int_eq(eqs_netlist_add_crossbar(nl, &xs, NULL), EQS_OK);
    double t1 = eqs_now_s();
    ck_assert_int_eq(nl->n_elems, N * N);
    int hits = 0;
    for (int k = 0; k < N * N; k += 997) {
        char nm[32];
        snprintf(nm, sizeof nm, "w_%d_%d", k / N, k % N);
        hits += eqs_netlist_elem_find(nl, nm) == k;
    }
    double t2 = eqs_now_s();
    ck_assert_int_eq(hits, (N * N + 996) / 997);
    fprintf(stderr, "crossbar %dx%d built in %.3f s, %d look-ups in %.6f s\n", N, N, t1 - t0, hits,
            t2 - t1);
    ck_assert_double_lt(t2 - t1, 0.05); /* hashed: microseconds; a scan would take seconds */
    free(names);
    free(refs);
    free(v);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---------------------------------------------------------------- */
/* gen drn: text and direct build                                    */
/* ---------------------------------------------------------------- */

static char *gen_text(const eqs_drn_spec *sp)
{
    eqs_ctx *ctx = tu_ctx();
    char *t = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&t, &n);
    ck_assert_int_eq(eqs_gen_drn(ctx, sp, f), EQS_OK);
    fclose(f);
    eqs_ctx_free(&ctx);
    return t;
}

START_TEST(test_drn_build_equals_text)
{
    static const int L1[] = {3, 5, 2}, L2[] = {4, 6, 5, 3}, L3[] = {2, 8, 2};
    struct {
        const int *layers;
        int n;
        int bias, pairs, fan;
        double rails, amp;
    } specs[] = {
        {L1, 3, 0, 0, 0, 0, 0},  {L2, 4, 1, 0, 0, 0, 0}, {L2, 4, 0, 0, 0, 0.7, 0},
        {L2, 4, 1, 0, 0, 0, 3},  {L3, 3, 0, 1, 0, 0, 2}, {L1, 3, 0, 1, 1, 1.5, 0},
        {L2, 4, 1, 1, 0, 0.5, 2},
    };
    for (size_t s = 0; s < sizeof specs / sizeof *specs; ++s) {
        eqs_drn_spec sp;
        eqs_drn_spec_defaults(&sp);
        sp.layers = specs[s].layers;
        sp.n_layers = specs[s].n;
        sp.seed = 5 + s;
        sp.gain = 3.0;
        sp.bias = specs[s].bias;
        sp.bias_V = 0.125;
        sp.output_pairs = specs[s].pairs;
        sp.g_fan_in = specs[s].fan;
        sp.rails_V = specs[s].rails;
        sp.amplifier_gain = specs[s].amp;
        char *text = gen_text(&sp);
        ck_assert_ptr_nonnull(strstr(text, "\n.crossbar r1\n"));
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *a = read_ok(ctx, text, "generated drn"), *b = NULL;
        ck_assert_msg(eqs_drn_build(ctx, &sp, &b) == EQS_OK, "%s", eqs_ctx_error(ctx));
        char buf[256];
        const char *d = nl_diff(a, b, buf, sizeof buf);
        ck_assert_msg(!d, "spec %zu: text and direct build differ: %s", s, d);
        ck_assert_int_eq(b->n_crossbars, sp.n_layers - 1);
        /* the node order of the plain R cards gen drn used to write */
        check_plain_node_order(b);
        /* the build does not depend on the context's earlier RNG use */
        eqs_netlist *c = NULL;
        eqs_rng_uniform(ctx, EQS_RNG_INIT);
        ck_assert_int_eq(eqs_drn_build(ctx, &sp, &c), EQS_OK);
        ck_assert_ptr_null(nl_diff(b, c, buf, sizeof buf));
        eqs_netlist_free(&a);
        eqs_netlist_free(&b);
        eqs_netlist_free(&c);
        eqs_ctx_free(&ctx);
        free(text);
    }
    /* bad specs: the same checks as the text generator */
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    eqs_netlist *nl = (eqs_netlist *)&sp;
    ck_assert_int_eq(eqs_drn_build(ctx, &sp, &nl), EQS_ERR_INPUT);
    ck_assert_ptr_null(nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ---------------------------------------------------------------- */
/* ngspice round trip                                                */
/* ---------------------------------------------------------------- */

/* A crossbar netlist and its hand-written plain twin: eqspice's Newton and
 * stock ngspice agree within 1e-6 V on both, and match each other. */
static void roundtrip(const char *card, const char *plain, const char *what)
{
    op_run cn, cs, pn, ps;
    op_open(&cn, card, EQS_BACKEND_NEWTON);
    op_open(&cs, card, EQS_BACKEND_NGSPICE);
    op_open(&pn, plain, EQS_BACKEND_NEWTON);
    op_open(&ps, plain, EQS_BACKEND_NGSPICE);
    char w[128];
    snprintf(w, sizeof w, "%s: newton vs ngspice", what);
    double d1 = op_compare(&cs, &cn, 1e-6, w);
    snprintf(w, sizeof w, "%s: card vs plain (newton)", what);
    double d2 = op_compare(&cn, &pn, 1e-12, w);
    snprintf(w, sizeof w, "%s: card vs plain (ngspice)", what);
    double d3 = op_compare(&cs, &ps, 1e-6, w);
    fprintf(stderr, "%s: newton-ngspice %.2e V, card-plain %.2e V (newton), %.2e V (ngspice)\n",
            what, d1, d2, d3);
    op_close(&cn);
    op_close(&cs);
    op_close(&pn);
    op_close(&ps);
}

START_TEST(test_ngspice_roundtrip)
{
    static const char *diodes = ".model dd D(IS=1e-14)\nd1 o1 0 dd\nd2 0 o2 dd\n";
    char card[2048], plain[2048];
    /* ideal wires, with diodes on the outputs */
    snprintf(card, sizeof card,
             "x\nv1 a 0 1.5\nv2 b 0 -1.2\nv3 c 0 0.4\n%s"
             ".crossbar rx rows=(a b c) cols=(o1 o2) g=(1m 2m 500u 750u 3m 1.25m)\n"
             "rl1 o1 0 2k\nrl2 o2 0 1.5k\n.end\n",
             diodes);
    snprintf(plain, sizeof plain,
             "x\nv1 a 0 1.5\nv2 b 0 -1.2\nv3 c 0 0.4\n%s"
             "rx_0_0 a o1 1k\nrx_0_1 a o2 500\nrx_1_0 b o1 2k\nrx_1_1 b o2 {1/750u}\n"
             "rx_2_0 c o1 {1/3m}\nrx_2_1 c o2 800\nrl1 o1 0 2k\nrl2 o2 0 1.5k\n.end\n",
             diodes);
    roundtrip(card, plain, "ideal wires");
    char *p = rwire_plain();
    roundtrip(rwire_card, p, "rwire");
    free(p);
    /* memristors (ngspice sees their DC resistors) */
    const char *mm = ".model mm memristor level=2 ron=100 roff=10k xon=0 xoff=1 ivrelation=0\n";
    snprintf(card, sizeof card,
             "m\nv1 a 0 1\nv2 b 0 -0.6\n%s"
             ".crossbar m rows=(a b) cols=(o1 o2) model=mm r=(1k 2.5k 400 7k)\n"
             "rl1 o1 0 1k\nrl2 o2 0 3k\n.end\n",
             mm);
    /* ivrelation 0: R = ron + (roff - ron) x, so x = (R - ron)/(roff - ron) */
    snprintf(plain, sizeof plain,
             "m\nv1 a 0 1\nv2 b 0 -0.6\n%s"
             "ymemristor m_0_0 a o1 mm xo={900/9900}\nymemristor m_0_1 a o2 mm xo={2400/9900}\n"
             "ymemristor m_1_0 b o1 mm xo={300/9900}\nymemristor m_1_1 b o2 mm xo={6900/9900}\n"
             "rl1 o1 0 1k\nrl2 o2 0 3k\n.end\n",
             mm);
    roundtrip(card, plain, "memristor");
}
END_TEST

/* netlists/crossbar-card.cir is netlists/crossbar3x3.cir as one card. */
START_TEST(test_example_card_vs_plain)
{
    char *card = tu_read_file(tu_path("netlists/crossbar-card.cir"));
    char *plain = tu_read_file(tu_path("netlists/crossbar3x3.cir"));
    ck_assert_ptr_nonnull(card);
    ck_assert_ptr_nonnull(plain);
    op_run a, b;
    op_open(&a, card, EQS_BACKEND_NEWTON);
    op_open(&b, plain, EQS_BACKEND_NEWTON);
    op_compare(&a, &b, 1e-12, "crossbar-card.cir vs crossbar3x3.cir");
    ck_assert_int_eq(eqs_circuit_param_count(a.c), 9);
    op_close(&a);
    op_close(&b);
    free(card);
    free(plain);
}
END_TEST

/* `eqspice gen drn` writes the card; `eqspice op` reads it. */
START_TEST(test_cli_gen_op)
{
    const char *dir = tu_temp_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/d.cir", dir);
    const char *gen[] = {"gen", "drn", "--layers", "3,4,2", "--seed", "2", "-o", path, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(gen, &out, &err, 60), 0);
    free(out);
    free(err);
    char *text = tu_read_file(path);
    ck_assert_ptr_nonnull(strstr(text, "\n.crossbar r1\n+ rows=(xp0 xn0 xp1 xn1 xp2 xn2)\n"
                                       "+ cols=(h1_0 h1_1 h1_2 h1_3)\n+ r=("));
    ck_assert_ptr_nonnull(strstr(text, "\n.crossbar r2\n+ rows=(h1_0 h1_1 h1_2 h1_3)\n"));
    free(text);
    const char *op[] = {"op", path, NULL};
    ck_assert_int_eq(tu_run_cli(op, &out, &err, 60), 0);
    ck_assert_ptr_nonnull(strstr(out, "\nh1_3,"));
    free(out);
    free(err);
}
END_TEST

/* ---------------------------------------------------------------- */
/* every allocation failed in turn                                   */
/* ---------------------------------------------------------------- */

typedef struct {
    long calls, fail_at, live;
    int failed;
} fail_alloc;

static void *fl_malloc(void *u, size_t n)
{
    fail_alloc *a = u;
    if (a->calls++ == a->fail_at) return a->failed = 1, NULL;
    void *p = malloc(n);
    if (p) a->live++;
    return p;
}

static void *fl_realloc(void *u, void *p, size_t n)
{
    fail_alloc *a = u;
    if (a->calls++ == a->fail_at) return a->failed = 1, NULL;
    if (!p) a->live++;
    return realloc(p, n);
}

static void fl_free(void *u, void *p)
{
    fail_alloc *a = u;
    if (p) a->live--;
    free(p);
}

/* The card (with rwire and a memristor model) and the direct DRN build:
 * at every failing allocation an error is recorded, nothing leaks, and the
 * run past the last allocation succeeds. */
START_TEST(test_alloc_failures)
{
    static const int L[] = {3, 4, 2};
    const char *text = "t\n.model mm memristor level=2 ron=100 roff=10k\nv1 a 0 1\n"
                       ".crossbar rx rows=in[0:1] cols=(c d) rwire=3 r=(1k 2k 3k 4k)\n"
                       ".crossbar rm rows=(c d) cols=(e) model=mm g=(1m 2m)\n"
                       "rl e 0 1k\n.output e\n.end\n";
    for (int op = 0; op < 2; ++op) {
        long n;
        for (n = 0;; ++n) {
            fail_alloc fa = {0, n, 0, 0};
            eqs_allocator al = {fl_malloc, fl_realloc, fl_free, &fa};
            eqs_ctx *ctx = tu_ctx();
            ck_assert_int_eq(eqs_ctx_set_allocator(ctx, &al), EQS_OK);
            eqs_netlist *nl = NULL;
            eqs_status st;
            if (op == 0) {
                st = eqs_netlist_read_string(ctx, text, "a.cir", &nl);
            } else {
                eqs_drn_spec sp;
                eqs_drn_spec_defaults(&sp);
                sp.layers = L;
                sp.n_layers = 3;
                sp.rails_V = 1;
                sp.bias = 1;
                st = eqs_drn_build(ctx, &sp, &nl);
            }
            if (fa.failed) {
                ck_assert_msg(st != EQS_OK, "op %d: allocation %ld failed unnoticed", op, n);
                ck_assert_ptr_null(nl);
                ck_assert_int_ne(eqs_ctx_status(ctx), EQS_OK);
            } else {
                ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
                ck_assert_int_ge(nl->n_crossbars, 2);
            }
            eqs_netlist_free(&nl);
            ck_assert_msg(fa.live == 0, "op %d, failing allocation %ld: %ld blocks leak", op, n,
                          fa.live);
            eqs_ctx_free(&ctx);
            if (!fa.failed) break;
        }
        ck_assert_int_gt(n, 10);
    }
}
END_TEST

/* gen drn --plain: the same network as plain R lines, no .crossbar card;
 * its operating point equals the card file's on Newton (R = 1/G of the
 * parsed values, %.17g: within 1e-12 V) and on the ngspice backend. */
START_TEST(test_cli_gen_plain)
{
    const char *card_av[] = {"gen", "drn", "--layers", "4,5,3", "--seed", "3", "--rails", "0.5",
                             NULL};
    const char *plain_av[] = {"gen", "drn", "--layers", "4,5,3", "--seed", "3", "--rails",
                              "0.5", "--plain", NULL};
    char *card = NULL, *plain = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(card_av, &card, &err, 20), 0);
    free(err);
    ck_assert_int_eq(tu_run_cli(plain_av, &plain, &err, 20), 0);
    free(err);
    ck_assert_ptr_nonnull(strstr(card, "\n.crossbar r1"));
    ck_assert_ptr_null(strstr(plain, ".crossbar"));
    ck_assert_ptr_nonnull(strstr(plain, "\nr1_0_0 xp0 h1_0 "));
    ck_assert_ptr_nonnull(strstr(plain, "\n*eqspice .trainable r*"));
    op_run a, b, c;
    op_open(&a, card, EQS_BACKEND_NEWTON);
    op_open(&b, plain, EQS_BACKEND_NEWTON);
    op_open(&c, plain, EQS_BACKEND_NGSPICE);
    double d1 = op_compare(&b, &a, 1e-12, "plain vs card (newton)");
    double d2 = op_compare(&c, &a, 1e-9, "plain (ngspice) vs card (newton)");
    fprintf(stderr, "gen drn --plain vs .crossbar: newton %.3g V, ngspice %.3g V\n", d1, d2);
    ck_assert_int_eq(eqs_circuit_param_count(b.c), eqs_circuit_param_count(a.c));
    op_close(&a);
    op_close(&b);
    op_close(&c);
    free(card);
    free(plain);
}
END_TEST

/* Crossbar devices are not in the element index (netlist.h): their names
 * resolve through the crossbar records, exactly (canonical indices only),
 * and every duplicate the index refused is still refused, at the same
 * device and with the same message. */
START_TEST(test_device_names_without_index)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = read_ok(ctx,
                              "t\n"
                              "rq_01_2 a c 1k\n"
                              ".crossbar rq rows=(a b) cols=(c d e) r=(1k 2k 3k 4k 5k 6k)\n"
                              ".crossbar rq_1 rows=(f) cols=(g) r=(7k)\n"
                              "rl c 0 1k\n",
                              "x.cir");
    const eqs_crossbar *X = &nl->crossbars[0];
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "rq_1_2"), X->first_elem + 5);
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "RQ_0_1"), X->first_elem + 1);
    ck_assert(same_bits(elem(nl, "rq_1_2")->value, 6e3));
    ck_assert_str_eq(node_of(nl, elem(nl, "rq_1_2"), 0), "b");
    ck_assert_str_eq(node_of(nl, elem(nl, "rq_1_2"), 1), "e");
    /* crossbar rq_1's device rq_1_0_0 is not rq's (1, 0) ... */
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "rq_1_0_0"), nl->crossbars[1].first_elem);
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "rq_1_0"), X->first_elem + 3);
    /* ... a plain element with a non-canonical index is its own, and names
     * outside the crossbar or malformed are no device */
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "rq_01_2"), 0);
    const char *none[] = {"rq_2_0", "rq_0_3", "rq_1", "rq__1_2", "rq_-1_2", "rq_1_02",
                          "_1_2", "rq_1_2_", "rx_0_0", "rq_99999999999_0", "rq_0_0 "};
    for (size_t k = 0; k < sizeof none / sizeof *none; ++k)
        ck_assert_msg(eqs_netlist_elem_find(nl, none[k]) < 0, "found '%s'", none[k]);
    /* the index holds the plain elements only */
    ck_assert_int_eq((int)nl->priv->elems.n, 2);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    /* an element after the crossbar named like a device */
    read_fails("t\n.crossbar rq rows=(a) cols=(c d) r=(1k 1k)\nrq_0_1 a 0 1k\n",
               "x.cir:3:1: error: duplicate element name 'rq_0_1' (first defined at line 2)");
    /* elements before it: the first device row-major is refused, whatever
     * the order of the elements */
    read_fails("t\nrq_1_0 a 0 1k\nrq_0_1 a 0 1k\n.crossbar rq rows=(a b) cols=(c d) "
               "r=(1k 1k 1k 1k)\n",
               "x.cir:4:1: error: duplicate element name 'rq_0_1' (first defined at line 3)");
    /* a bad value before the duplicate device is reported first */
    read_fails("t\nrq_0_1 a 0 1k\n.crossbar rq rows=(a) cols=(c d) r=(0 1k)\n",
               "x.cir:3:37: error: '0' in '.crossbar rq' (device 0,0): resistance must be");
    /* the builder: a device name given to a later element */
    ctx = tu_ctx();
    ck_assert_int_eq(eqs_netlist_create(ctx, "t", "b.cir", &nl), EQS_OK);
    eqs_name_ref rows[1] = {{"a", 1}}, cols[2] = {{"c", 1}, {"d", 1}};
    double g[2] = {1e-3, 2e-3};
    eqs_crossbar_spec xs = {"Rz", 2, 1, 2, rows, cols, g, 1, 0, 0, {"b.cir", 2, 1}, NULL};
    ck_assert_int_eq(eqs_netlist_add_crossbar(nl, &xs, NULL), EQS_OK);
    ck_assert_int_eq(eqs_netlist_elem_find(nl, "rz_0_1"), 1);
    eqs_element t;
    memset(&t, 0, sizeof t);
    t.kind = EQS_EL_R;
    t.n_nodes = 2;
    t.node[0] = 1;
    t.value = 1e3;
    t.model = -1;
    t.loc = (eqs_loc){"b.cir", 3, 1};
    ck_assert_int_ne(eqs_netlist_add_elem(nl, &t, "RZ_0_1", NULL, NULL), EQS_OK);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "duplicate element name 'RZ_0_1' "
                                                     "(first defined at line 2)"));
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_crossbar(void)
{
    Suite *s = suite_create("crossbar");
    TCase *tc = tcase_create("crossbar");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_card_names_nodes_values);
    tcase_add_test(tc, test_card_r_vs_g_and_ranges);
    tcase_add_test(tc, test_card_csv);
    tcase_add_test(tc, test_card_csv_errors);
    tcase_add_test(tc, test_card_errors);
    tcase_add_test(tc, test_card_memristor);
    tcase_add_test(tc, test_card_rwire_topology);
    tcase_add_test(tc, test_builder_matches_parser);
    tcase_add_test(tc, test_builder_large);
    tcase_add_test(tc, test_drn_build_equals_text);
    tcase_add_test(tc, test_ngspice_roundtrip);
    tcase_add_test(tc, test_cli_gen_op);
    tcase_add_test(tc, test_cli_gen_plain);
    tcase_add_test(tc, test_example_card_vs_plain);
    tcase_add_test(tc, test_alloc_failures);
    tcase_add_test(tc, test_device_names_without_index);
    suite_add_tcase(s, tc);
    return s;
}
