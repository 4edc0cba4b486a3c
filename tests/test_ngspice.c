/*
 * test_ngspice.c: the deck writer and the ngspice backend against real
 * ngspice (libngspice 39 through dlopen).
 *
 * Circuits are built by hand here (netlist + compiled circuit structs), so
 * these tests depend neither on the parser nor on the compiler: they check
 * exactly what reaches ngspice and what comes back.  Independent
 * references: expected deck text, closed-form dividers.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core.h"
#include "solver/solver.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* A hand-built netlist + circuit                                      */
/* ------------------------------------------------------------------ */
#define H_MAX 16

typedef struct {
    eqs_netlist nl;
    eqs_circuit c;
    char *nodes[H_MAX];
    eqs_element el[H_MAX];
    eqs_celem ce[H_MAX];
    eqs_diode_model models[2];
    char *trainable[1];
    char *inputs[1];
    char *outputs[1];
} hand;

static int h_node(hand *h, const char *name)
{
    for (int k = 0; k < h->nl.n_nodes; ++k)
        if (!strcmp(h->nodes[k], name)) return k;
    h->nodes[h->nl.n_nodes] = (char *)name;
    return h->nl.n_nodes++;
}

/* Add a netlist element and its compiled twin (circuit value `cval`). */
static int h_elem(hand *h, eqs_elem_kind kind, const char *name, const char *a, const char *b,
                  const char *c, const char *d, double value, double cval)
{
    int i = h->nl.n_elems++;
    eqs_element *e = &h->el[i];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->name = (char *)name;
    e->node[0] = h_node(h, a);
    e->node[1] = h_node(h, b);
    e->node[2] = c ? h_node(h, c) : -1;
    e->node[3] = d ? h_node(h, d) : -1;
    e->n_nodes = c ? 4 : 2;
    e->value = value;
    e->model = -1;
    e->area = 1.0;

    int j = h->c.n_elems++;
    eqs_celem *ce = &h->ce[j];
    memset(ce, 0, sizeof *ce);
    ce->kind = kind;
    ce->origin = i;
    for (int k = 0; k < 4; ++k) ce->n[k] = e->node[k];
    ce->ctrl = -1;
    ce->branch = -1;
    ce->value = cval;
    ce->area = 1.0;
    ce->param = -1;
    return j;
}

static void h_init(hand *h, const char *title)
{
    memset(h, 0, sizeof *h);
    h->nl.title = (char *)title;
    h->nl.path = (char *)"hand.cir";
    h->nl.node_names = h->nodes;
    h->nl.elems = h->el;
    h->nl.models = h->models;
    h_node(h, "0");
}

/* Finish: wire the circuit to the netlist (no internal nodes). */
static eqs_circuit *h_done(hand *h)
{
    h->c.nl = &h->nl;
    h->c.n_nodes = h->nl.n_nodes;
    h->c.n_user_nodes = h->nl.n_nodes;
    h->c.node_names = h->nodes;
    h->c.elems = h->ce;
    return &h->c;
}

/* Divider: v1 in 0 dc V; r1 in mid R1; r2 mid 0 R2. */
static eqs_circuit *h_divider(hand *h, double V, double R1, double R2)
{
    h_init(h, "divider by hand");
    h_elem(h, EQS_EL_V, "v1", "in", "0", NULL, NULL, V, V);
    h_elem(h, EQS_EL_R, "r1", "in", "mid", NULL, NULL, R1, 1.0 / R1);
    h_elem(h, EQS_EL_R, "r2", "mid", "0", NULL, NULL, R2, 1.0 / R2);
    return h_done(h);
}

/* Redirect fds 1 and 2 into a temp file; capture_end restores them and
 * returns what was written there (malloc'd). */
static void capture_begin(int saved[2], const char **path)
{
    *path = tu_write_temp("", ".out");
    fflush(stdout);
    fflush(stderr);
    saved[0] = dup(1);
    saved[1] = dup(2);
    int fd = open(*path, O_WRONLY | O_TRUNC);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(const int saved[2], const char *path)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
    char *text = tu_read_file(path);
    unlink(path);
    return text;
}

/* ------------------------------------------------------------------ */
/* Deck text                                                           */
/* ------------------------------------------------------------------ */

START_TEST(test_deck_lines)
{
    eqs_ctx *ctx = tu_ctx();
    hand h;
    h_init(&h, "deck test");
    h.models[0] = (eqs_diode_model){.name = (char *)"dm", .is_A = 1e-14, .n = 1.5, .rs_Ohm = 10,
                                    .bv_V = 5, .has_bv = 1, .ibv_A = 1e-4, .tnom_C = 27};
    h.models[1] = (eqs_diode_model){.name = (char *)"dunused", .is_A = 2e-14, .n = 1,
                                    .ibv_A = 1e-3, .tnom_C = 27};
    h.nl.n_models = 2;
    h.nl.options.reltol = 1e-3; /* netlist options are not the deck's source */
    h.nl.options.reltol_set = 1;
    h.trainable[0] = (char *)"r*";
    h.inputs[0] = (char *)"v1";
    h.outputs[0] = (char *)"out";
    h.nl.trainable = h.trainable;
    h.nl.n_trainable = 1;
    h.nl.inputs = h.inputs;
    h.nl.n_inputs = 1;
    h.nl.outputs = h.outputs;
    h.nl.n_outputs = 1;

    h_elem(&h, EQS_EL_V, "v1", "in", "0", NULL, NULL, 1.0, 0.25); /* input driven to 0.25 V */
    int r1 = h_elem(&h, EQS_EL_R, "r1", "in", "mid", NULL, NULL, 1000, 1e-3);
    h_elem(&h, EQS_EL_R, "x1.r1", "mid", "x1.n1", NULL, NULL, 2000, 1.0 / 2000);
    int d = h_elem(&h, EQS_EL_D, "x1.d1", "x1.n1", "0", NULL, NULL, 0, 0);
    h.el[h.ce[d].origin].model = 0;
    h.el[h.ce[d].origin].area = 2;
    h.ce[d].area = 2;
    h.ce[d].model = &h.models[0];
    h_elem(&h, EQS_EL_V, "x1.vs", "x1.n1", "x1.n2", NULL, NULL, 0, 0);
    h_elem(&h, EQS_EL_R, "x1.rs", "x1.n2", "0", NULL, NULL, 100, 1e-2);
    h_elem(&h, EQS_EL_E, "e1", "out", "0", "mid", "0", 2, 2);
    h_elem(&h, EQS_EL_G, "x1.g1", "out", "0", "x1.n1", "0", 1e-3, 1e-3);
    int f = h_elem(&h, EQS_EL_F, "x1.f1", "out", "0", NULL, NULL, 3, 3);
    h.el[h.ce[f].origin].ctrl = (char *)"x1.vs";
    int hh = h_elem(&h, EQS_EL_H, "h2", "out2", "0", NULL, NULL, 50, 50);
    h.el[h.ce[hh].origin].ctrl = (char *)"x1.vs";
    h_elem(&h, EQS_EL_I, "i1", "0", "mid", NULL, NULL, 1e-6, 1e-6);
    h_elem(&h, EQS_EL_R, "r9", "out", "0", NULL, NULL, 1000, 1e-3);
    h_elem(&h, EQS_EL_R, "r10", "out2", "0", NULL, NULL, 1000, 1e-3);
    /* an implicit element (a diode's RS) is never written */
    h.ce[h.c.n_elems] = h.ce[r1];
    h.ce[h.c.n_elems].origin = -1;
    h.ce[h.c.n_elems].value = 1.0 / 7777;
    h.c.n_elems++;
    /* trained conductance of r1: 1/G = 500 must reach the deck */
    h.ce[r1].value = 1.0 / 500;
    eqs_circuit *c = h_done(&h);

    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = 1e-10;
    opt.abstol = 1e-16;
    opt.vntol = 1e-13;
    opt.gmin = 1e-12;
    opt.itl1 = 200;
    char **lines = NULL;
    ck_assert_int_eq(eqs_deck_build(ctx, c, &opt, 1, &lines), EQS_OK);
    const char *expect[] = {
        "deck test",
        ".options reltol=1e-10 abstol=9.9999999999999998e-17 vntol=1e-13 gmin=9.9999999999999998e-13 itl1=200",
        ".model dm D(is=1e-14 n=1.5 rs=10 bv=5 ibv=0.0001)",
        "v1 in 0 dc 0.25",
        "r1 in mid 500",
        "r.x1.r1 mid x1.n1 2000",
        "d.x1.d1 x1.n1 0 dm area=2",
        "v.x1.vs x1.n1 x1.n2 dc 0",
        "r.x1.rs x1.n2 0 100",
        "e1 out 0 mid 0 2",
        "g.x1.g1 out 0 x1.n1 0 0.001",
        "f.x1.f1 out 0 v.x1.vs 3",
        "h2 out2 0 v.x1.vs 50",
        "i1 0 mid dc 9.9999999999999995e-07",
        "r9 out 0 1000",
        "r10 out2 0 1000",
        ".op",
        ".end",
        NULL,
    };
    int k = 0;
    for (; expect[k]; ++k) {
        ck_assert_msg(lines[k] != NULL, "deck ends early at line %d", k);
        ck_assert_str_eq(lines[k], expect[k]);
    }
    ck_assert_ptr_null(lines[k]);
    for (k = 0; lines[k]; ++k) {
        ck_assert_msg(strstr(lines[k], ".trainable") == NULL, "extension card in deck");
        ck_assert_msg(strstr(lines[k], ".input") == NULL, "extension card in deck");
        ck_assert_msg(strstr(lines[k], ".output") == NULL, "extension card in deck");
        ck_assert_msg(strstr(lines[k], "7777") == NULL, "implicit element written");
    }

    /* and stock ngspice takes the whole deck (without .op) */
    char **run = NULL;
    ck_assert_int_eq(eqs_deck_build(ctx, c, &opt, 0, &run), EQS_OK);
    const char *names[] = {"mid", "x1.n1", "out", "out2"};
    double v[4];
    eqs_status st = eqs_ngspice_run_deck(ctx, run, 4, names, v, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    for (k = 0; k < 4; ++k) ck_assert(isfinite(v[k]));
    eqs_deck_free(ctx, &run);
    eqs_deck_free(ctx, &lines);
    ck_assert_ptr_null(lines);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_deck_no_model_no_bv)
{
    /* a diode model without BV writes no bv; tnom only when not 27 C */
    eqs_ctx *ctx = tu_ctx();
    hand h;
    h_init(&h, "");
    h.models[0] = (eqs_diode_model){.name = (char *)"dx", .is_A = 1e-12, .n = 2, .rs_Ohm = 0,
                                    .ibv_A = 1e-3, .tnom_C = 50};
    h.nl.n_models = 1;
    h_elem(&h, EQS_EL_V, "v1", "a", "0", NULL, NULL, 1, 1);
    int d = h_elem(&h, EQS_EL_D, "d1", "a", "0", NULL, NULL, 0, 0);
    h.el[d].model = 0;
    eqs_circuit *c = h_done(&h);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    char **lines = NULL;
    ck_assert_int_eq(eqs_deck_build(ctx, c, &opt, 0, &lines), EQS_OK);
    ck_assert_str_eq(lines[0], "eqspice deck");
    ck_assert_str_eq(lines[2], ".model dx D(is=9.9999999999999998e-13 n=2 rs=0 ibv=0.001 tnom=50)");
    ck_assert_str_eq(lines[3], "v1 a 0 dc 1");
    ck_assert_str_eq(lines[4], "d1 a 0 dx area=1");
    ck_assert_str_eq(lines[5], ".end");
    ck_assert_ptr_null(lines[6]);
    eqs_deck_free(ctx, &lines);
    eqs_deck_free(ctx, &lines); /* NULL-safe */
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_deck_options_from_netlist_and_overrides)
{
    /* the netlist's .options reach the deck, explicit overrides win */
    eqs_ctx *ctx = tu_ctx();
    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
    h.nl.options.reltol = 1e-7;
    h.nl.options.reltol_set = 1;
    h.nl.options.vntol = 1e-11;
    h.nl.options.vntol_set = 1;
    h.nl.options.itl1 = 77;
    h.nl.options.itl1_set = 1;
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.vntol = 1e-12;
    opt.explicit_mask |= EQS_OPT_VNTOL; /* e.g. --vntol on the command line */
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, &opt, &s), EQS_OK);
    char **lines = NULL;
    ck_assert_int_eq(eqs_deck_build(ctx, c, &s->opt, 0, &lines), EQS_OK);
    ck_assert_str_eq(lines[1], ".options reltol=9.9999999999999995e-08 abstol=9.9999999999999998e-13 "
                               "vntol=9.9999999999999998e-13 gmin=9.9999999999999998e-13 itl1=77");
    eqs_deck_free(ctx, &lines);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Running decks                                                       */
/* ------------------------------------------------------------------ */

START_TEST(test_run_deck_hook)
{
    eqs_ctx *ctx = tu_ctx();
    /* node names ngGet_Vec_Info parses specially ("all") and dotted names */
    char *deck[] = {(char *)"hook", (char *)"v1 in 0 dc 1", (char *)"r1 in x1.mid 1k",
                    (char *)"r2 x1.mid all 1k", (char *)"r3 all 0 2k", (char *)".end", NULL};
    const char *names[] = {"in", "x1.mid", "all"};
    double v[3] = {0};
    int plots = -1, circs = -1;
    eqs_status st = eqs_ngspice_run_deck(ctx, deck, 3, names, v, &plots, &circs);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(v[0], 1.0, 1e-12);
    ck_assert_double_eq_tol(v[1], 0.75, 1e-12);
    ck_assert_double_eq_tol(v[2], 0.5, 1e-12);
    ck_assert_int_eq(plots, 0);
    ck_assert_int_eq(circs, 0);

    /* a vector that does not exist */
    const char *bad[] = {"nosuch"};
    st = eqs_ngspice_run_deck(ctx, deck, 1, bad, v, NULL, NULL);
    ck_assert_int_eq(st, EQS_ERR_NGSPICE);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "nosuch"));

    /* no element outside a .control block or after .end: refused before
     * libngspice sees it (it would crash in op) */
    char *ctl[] = {(char *)"ctl", (char *)".control", (char *)"run", (char *)"print all",
                   (char *)".endc", (char *)".end", (char *)"r1 a 0 1k", NULL};
    eqs_ctx_clear_error(ctx);
    st = eqs_ngspice_run_deck(ctx, ctl, 0, NULL, v, NULL, NULL);
    ck_assert_msg(st == EQS_ERR_INPUT && strstr(eqs_ctx_error(ctx), "nothing to simulate"),
                  "status %d: %s", (int)st, eqs_ctx_error(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_backend_divider_and_trained_conductance)
{
    eqs_ctx *ctx = tu_ctx();
    hand h;
    eqs_circuit *c = h_divider(&h, 2.0, 1000, 3000);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    eqs_solve_info info;
    eqs_status st = eqs_solver_solve(s, EQS_SOLVE_COLD, &info);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_str_eq(info.backend, "ngspice");
    ck_assert_int_ge(info.iterations, 0);
    int mid = 2, in = 1;
    ck_assert_str_eq(c->node_names[mid], "mid");
    const double *v = eqs_solver_voltages(s);
    ck_assert(v[0] == 0.0);
    ck_assert_double_eq_tol(v[in], 2.0, 1e-12);
    ck_assert_double_eq_tol(v[mid], 2.0 * 3000 / 4000, 1e-9);

    /* training changes the conductance of r1 in the circuit: G = 1/250 S */
    c->elems[1].value = 1.0 / 250;
    c->elems[0].value = 1.5; /* and the input source */
    st = eqs_solver_solve(s, EQS_SOLVE_WARM, &info);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(v[in], 1.5, 1e-12);
    ck_assert_double_eq_tol(v[mid], 1.5 * 3000 / 3250, 1e-9);
    eqs_solver_free(&s);
    ck_assert_ptr_null(s);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_backend_param_set_through_compiler)
{
    /* the real parser + compiler: a trained conductance set with
     * eqs_circuit_param_set reaches ngspice (warm re-solve) */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    const char *text = "trained divider\nv1 in 0 dc 2\nx1 in mid half\nr2 mid 0 3k\n"
                       ".subckt half a b\nr1 a b 1k\n.ends\n.trainable x1.r1\n.end\n";
    ck_assert_msg(eqs_netlist_read_string(ctx, text, "trained.cir", &nl) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_msg(eqs_circuit_create(ctx, nl, &c) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_circuit_param_count(c), 1);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    int mid = eqs_circuit_node_find(c, "mid");
    ck_assert_int_gt(mid, 0);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_double_eq_tol(eqs_solver_voltages(s)[mid], 1.5, 1e-9);
    ck_assert_int_eq(eqs_circuit_param_set(c, 0, 1.0 / 3000), EQS_OK); /* r.x1.r1 = 3k */
    eqs_status st = eqs_solver_solve(s, EQS_SOLVE_WARM, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(eqs_solver_voltages(s)[mid], 1.0, 1e-9);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_backend_controlled_sources)
{
    /* e1 = 2 V(mid); f1 = 3 I(vs); closed forms by hand */
    eqs_ctx *ctx = tu_ctx();
    hand h;
    h_init(&h, "controlled");
    h_elem(&h, EQS_EL_V, "v1", "in", "0", NULL, NULL, 1, 1);
    h_elem(&h, EQS_EL_R, "r1", "in", "mid", NULL, NULL, 1000, 1e-3);
    h_elem(&h, EQS_EL_R, "r2", "mid", "0", NULL, NULL, 1000, 1e-3);
    h_elem(&h, EQS_EL_E, "x1.e1", "out", "0", "mid", "0", 2, 2);
    h_elem(&h, EQS_EL_V, "x1.vs", "out", "a", NULL, NULL, 0, 0);
    h_elem(&h, EQS_EL_R, "x1.r3", "a", "0", NULL, NULL, 1000, 1e-3);
    int f = h_elem(&h, EQS_EL_F, "f1", "0", "b", NULL, NULL, 3, 3);
    h.el[f].ctrl = (char *)"x1.vs";
    h_elem(&h, EQS_EL_R, "r4", "b", "0", NULL, NULL, 100, 1e-2);
    eqs_circuit *c = h_done(&h);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    eqs_status st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    const double *v = eqs_solver_voltages(s);
    /* nodes: 0 in mid out a b */
    ck_assert_double_eq_tol(v[2], 0.5, 1e-9);
    ck_assert_double_eq_tol(v[3], 1.0, 1e-9);
    ck_assert_double_eq_tol(v[4], 1.0, 1e-9);
    /* I(vs) = 1 mA flowing out->a; F: 3 mA from 0 to b through the source,
     * i.e. into node b: V(b) = 0.003 * 100 */
    ck_assert_double_eq_tol(v[5], 0.3, 1e-9);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Failures                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_rejected_deck_then_recovers)
{
    eqs_ctx *ctx = tu_ctx();
    char *bad[] = {(char *)"bad", (char *)"v1 1 0 dc 1", (char *)"d1 1 0 nomodel",
                   (char *)".end", NULL};
    const char *names[] = {"1"};
    double v = 0;
    eqs_status st = eqs_ngspice_run_deck(ctx, bad, 1, names, &v, NULL, NULL);
    ck_assert_int_eq(st, EQS_ERR_NGSPICE);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "ngspice:"));
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "nomodel"));
    eqs_ctx_clear_error(ctx);

    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 1000);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(eqs_solver_voltages(s)[2], 0.5, 1e-9);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_no_convergence_then_recovers)
{
    /* two voltage sources in parallel with different values: ngspice finds
     * no operating point (singular matrix, every stepping aid fails) */
    eqs_ctx *ctx = tu_ctx();
    hand h;
    h_init(&h, "vloop");
    h_elem(&h, EQS_EL_V, "v1", "a", "0", NULL, NULL, 1, 1);
    h_elem(&h, EQS_EL_V, "v2", "a", "0", NULL, NULL, 2, 2);
    h_elem(&h, EQS_EL_R, "r1", "a", "0", NULL, NULL, 1000, 1e-3);
    eqs_circuit *c = h_done(&h);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    eqs_status st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_int_eq(st, EQS_ERR_NGSPICE);
    ck_assert_int_eq(eqs_ctx_status(ctx), EQS_ERR_NGSPICE);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "operating point failed"));
    eqs_solver_free(&s);
    eqs_ctx_clear_error(ctx);

    /* the library is still usable, and left nothing behind */
    hand h2;
    c = h_divider(&h2, 1.0, 1000, 3000);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(eqs_solver_voltages(s)[2], 0.75, 1e-9);
    int plots = -1, circs = -1;
    ck_assert_int_eq(eqs_ngspice_run_deck(ctx, NULL, 0, NULL, NULL, &plots, &circs), EQS_OK);
    ck_assert_int_eq(plots, 0);
    ck_assert_int_eq(circs, 0);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_controlled_exit_reloads)
{
    /* an undefined parameter is fatal for ngspice 39: it calls
     * ControlledExit and is unusable until reloaded */
    eqs_ctx *ctx = tu_ctx();
    char *fatal[] = {(char *)"fatal", (char *)"v1 1 0 dc {nosuch*2}", (char *)"r1 1 0 1k",
                     (char *)".end", NULL};
    const char *names[] = {"1"};
    double v = 0;
    eqs_status st = eqs_ngspice_run_deck(ctx, fatal, 1, names, &v, NULL, NULL);
    ck_assert_int_eq(st, EQS_ERR_NGSPICE);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "fatal"));
    eqs_ctx_clear_error(ctx);

    for (int round = 0; round < 2; ++round) {
        hand h;
        eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
        eqs_solver *s = NULL;
        st = eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s);
        ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
        st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
        ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
        ck_assert_double_eq_tol(eqs_solver_voltages(s)[2], 0.75, 1e-9);
        eqs_solver_free(&s);
        /* a second fatal error is survived the same way */
        if (round == 0) {
            ck_assert_int_eq(eqs_ngspice_run_deck(ctx, fatal, 1, names, &v, NULL, NULL),
                             EQS_ERR_NGSPICE);
            eqs_ctx_clear_error(ctx);
        }
    }
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Resources and silence                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_repeated_solves_bounded)
{
    eqs_ctx *ctx = tu_ctx();
    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    int plots = -1, circs = -1;
    for (int k = 0; k < 200; ++k) {
        /* a new conductance each time: R1 = 1000 + k Ohm */
        c->elems[1].value = 1.0 / (1000.0 + k);
        eqs_status st = eqs_solver_solve(s, EQS_SOLVE_WARM, NULL);
        ck_assert_msg(st == EQS_OK, "solve %d: %s", k, eqs_ctx_error(ctx));
        ck_assert_double_eq_tol(eqs_solver_voltages(s)[2], 3000.0 / (4000.0 + k), 1e-9);
        if (k == 0 || k == 199) {
            ck_assert_int_eq(eqs_ngspice_run_deck(ctx, NULL, 0, NULL, NULL, &plots, &circs),
                             EQS_OK);
            ck_assert_int_eq(plots, 0);
            ck_assert_int_eq(circs, 0);
        }
    }
    eqs_solver_free(&s);
    /* everything we allocated (decks, SendData snapshots) was freed */
    ck_assert_uint_eq(ctx->n_alloc, ctx->n_free);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_nothing_printed)
{
    int saved[2];
    const char *path = NULL;
    capture_begin(saved, &path);
    eqs_ctx *ctx = NULL;
    eqs_ctx_create(&ctx); /* default log settings */
    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
    eqs_solver *s = NULL;
    eqs_status st1 = eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s);
    eqs_status st2 = st1 == EQS_OK ? eqs_solver_solve(s, EQS_SOLVE_COLD, NULL) : st1;
    eqs_solver_free(&s);
    char *bad[] = {(char *)"bad", (char *)"v1 1 0 dc 1", (char *)"d1 1 0 nomodel",
                   (char *)".end", NULL};
    char *fatal[] = {(char *)"fatal", (char *)"v1 1 0 dc {nosuch*2}", (char *)"r1 1 0 1k",
                     (char *)".end", NULL};
    eqs_status st3 = eqs_ngspice_run_deck(ctx, bad, 0, NULL, NULL, NULL, NULL);
    eqs_status st4 = eqs_ngspice_run_deck(ctx, fatal, 0, NULL, NULL, NULL, NULL);
    eqs_status st5 = eqs_ngspice_run_deck(ctx, NULL, 0, NULL, NULL, NULL, NULL);
    int balanced = ctx->n_alloc == ctx->n_free;
    eqs_ctx_free(&ctx);
    char *text = capture_end(saved, path);
    ck_assert_int_eq(st1, EQS_OK);
    ck_assert_int_eq(st2, EQS_OK);
    ck_assert_int_eq(st3, EQS_ERR_NGSPICE);
    ck_assert_int_eq(st4, EQS_ERR_NGSPICE);
    ck_assert_int_eq(st5, EQS_OK);
    ck_assert_msg(balanced, "allocations leaked on a failure path");
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(text[0] == '\0', "ngspice printed to the terminal: '%.200s'", text);
    free(text);
}
END_TEST

/* Two threads with their own contexts solve at the same time: the backend
 * serialises them and each gets its own answer. */
typedef struct {
    double r2;
    int ok;
} thread_job;

static void *solve_thread(void *arg)
{
    thread_job *job = arg;
    eqs_ctx *ctx = tu_ctx();
    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, job->r2);
    eqs_solver *s = NULL;
    job->ok = eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s) == EQS_OK;
    for (int k = 0; job->ok && k < 20; ++k) {
        job->ok = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL) == EQS_OK &&
                  fabs(eqs_solver_voltages(s)[2] - job->r2 / (1000 + job->r2)) < 1e-9;
    }
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
    return NULL;
}

START_TEST(test_threads_serialised)
{
    thread_job jobs[2] = {{3000, 0}, {500, 0}};
    pthread_t t[2];
    for (int k = 0; k < 2; ++k) ck_assert_int_eq(pthread_create(&t[k], NULL, solve_thread, &jobs[k]), 0);
    for (int k = 0; k < 2; ++k) pthread_join(t[k], NULL);
    ck_assert(jobs[0].ok);
    ck_assert(jobs[1].ok);
}
END_TEST

/* The CLI with --solver ngspice prints the CSV and nothing of ngspice's. */
START_TEST(test_cli_solver_ngspice)
{
    const char *net = tu_write_temp("cli divider\nv1 in 0 dc 2\nr1 in mid 1k\nr2 mid 0 3k\n.end\n",
                                    ".cir");
    const char *argv[] = {"op", net, "--solver", "ngspice", NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 30);
    ck_assert_msg(rc == 0, "rc=%d stderr=%s", rc, err ? err : "");
    ck_assert_str_eq(out, "node,voltage_V\nin,2\nmid,1.5\n");
    ck_assert_str_eq(err, "");
    free(out);
    free(err);

    /* with -vv ngspice's own output shows up as debug log lines */
    const char *argv2[] = {"op", net, "--solver", "ngspice", "-vv", NULL};
    rc = tu_run_cli(argv2, &out, &err, 30);
    ck_assert_msg(rc == 0, "rc=%d stderr=%s", rc, err ? err : "");
    ck_assert_ptr_nonnull(strstr(err, "ngspice: stdout"));
    free(out);
    free(err);
}
END_TEST

/* Netlists with nothing to simulate (libngspice 39 segfaults on them in
 * "op"): exit 1 with the same message on every backend and in compare,
 * never a crash.  The raw-deck entry refuses a deck without elements, and
 * the library still works afterwards. */
START_TEST(test_empty_top_level_refused)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"only a title\n", "no element at the top level"},
        {"only subckt\n.subckt amp in out params: gain=4\nefwd out 0 in 0 {gain}\n.ends amp\n.end\n",
         "no element at the top level"},
        {"only models\n.model dd d is=1e-14\n.param a=1\n.end\n", "no element at the top level"},
        {"ground only\nr1 0 0 1k\ni1 0 gnd 1m\n.end\n", "all its terminals on ground"},
    };
    static const char *const solvers[] = {"newton", "layered", "ngspice", "auto"};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        const char *net = tu_write_temp(cases[k].text, ".cir");
        for (size_t b = 0; b <= sizeof solvers / sizeof *solvers; ++b) {
            const char *op[] = {"op", net, "--solver", b < 4 ? solvers[b] : "", NULL};
            const char *cmp[] = {"compare", net, NULL};
            char *out = NULL, *err = NULL;
            int rc = tu_run_cli(b < 4 ? op : cmp, &out, &err, 30);
            ck_assert_msg(rc == 1, "case %zu %s: exit %d, stderr %s", k,
                          b < 4 ? solvers[b] : "compare", rc, err ? err : "");
            ck_assert_msg(strstr(err, cases[k].msg) && strstr(err, net) &&
                              strstr(err, "error: nothing to simulate"),
                          "case %zu: stderr %s", k, err);
            ck_assert_str_eq(out, "");
            free(out);
            free(err);
        }
    }
    /* the shipped subcircuit library, too */
    const char *argv[] = {"op", tu_path("netlists/bidir_amp.cir"), "--solver", "ngspice", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 30), 1);
    ck_assert_ptr_nonnull(strstr(err, "bidir_amp.cir:1:1: error: nothing to simulate"));
    free(out);
    free(err);

    eqs_ctx *ctx = tu_ctx();
    char *empty[] = {(char *)"empty", (char *)".options reltol=1e-6", (char *)"* comment",
                     (char *)".end", NULL};
    ck_assert_int_eq(eqs_ngspice_run_deck(ctx, empty, 0, NULL, NULL, NULL, NULL), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "no element"));
    eqs_ctx_free(&ctx);
    ctx = tu_ctx();
    char *deck[] = {(char *)"ok", (char *)"v1 a 0 dc 2", (char *)"r1 a 0 1k", (char *)".end", NULL};
    const char *names[] = {"a"};
    double v = 0;
    ck_assert_int_eq(eqs_ngspice_run_deck(ctx, deck, 1, names, &v, NULL, NULL), EQS_OK);
    ck_assert_double_eq_tol(v, 2.0, 1e-12);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* eqspice's reading vs ngspice's own reading of the same netlist      */
/* ------------------------------------------------------------------ */

#define RAW_OPTS ".options reltol=1e-10 abstol=1e-16 vntol=1e-13"

/* The netlist text as a deck for ngspice's own parser: one line each, the
 * tight options inserted before ".end" (the text must end with .end and
 * use absolute paths only).  NULL-terminated; free with free_lines. */
static char **text_lines(const char *text)
{
    size_t cap = 8, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\n");
        if (n + 3 >= cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        if (!strncasecmp(p, ".end", 4) && (len == 4 || p[4] == ' ')) lines[n++] = strdup(RAW_OPTS);
        lines[n++] = strndup(p, len);
        p += len + (p[len] == '\n');
    }
    lines[n] = NULL;
    return lines;
}

static void free_lines(char **lines)
{
    for (char **l = lines; *l; ++l) free(*l);
    free(lines);
}

/* Read `text` with eqspice and solve it with the Newton and the ngspice
 * backends (tolerances as RAW_OPTS); run ngspice on the raw text; every
 * node voltage and every branch current (eqs_solver_branch_currents vs
 * ngspice's own <name>#branch vectors) must agree.  At reltol 1e-10 the
 * two solutions agree to ~1e-15 V (docs/ngspice.md, golden findings), so
 * 1e-12 V / 1e-12 A + 1e-9 relative leaves room only for rounding. */
static void check_vs_raw_ngspice(const char *what, const char *text)
{
    const char *path = tu_write_temp(text, ".cir");
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_msg(eqs_netlist_read(ctx, path, &nl) == EQS_OK, "%s: %s", what, eqs_ctx_error(ctx));
    ck_assert_msg(eqs_circuit_create(ctx, nl, &c) == EQS_OK, "%s: %s", what, eqs_ctx_error(ctx));
    int nn = eqs_circuit_node_count(c), nb = eqs_circuit_branch_count(c), nv = nn - 1 + nb;
    ck_assert_int_gt(nb, 0);
    char **names = calloc((size_t)nv, sizeof *names);
    for (int k = 1; k < nn; ++k) names[k - 1] = strdup(eqs_circuit_node_name(c, k));
    for (int k = 0; k < nb; ++k) {
        char buf[512];
        ck_assert_ptr_nonnull(eqs_circuit_branch_name(c, k, buf, sizeof buf));
        names[nn - 1 + k] = strdup(buf);
    }
    ck_assert_ptr_null(eqs_circuit_branch_name(c, nb, (char[8]){0}, 8));
    double *ref = calloc((size_t)nv, sizeof *ref), *cur = calloc((size_t)nb + 1, sizeof *cur);
    char **deck = text_lines(text);
    eqs_status st = eqs_ngspice_run_deck(ctx, deck, nv, (const char *const *)names, ref, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s (raw ngspice): %s", what, eqs_ctx_error(ctx));
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = 1e-10;
    opt.abstol = 1e-16;
    opt.vntol = 1e-13;
    opt.explicit_mask = EQS_OPT_RELTOL | EQS_OPT_ABSTOL | EQS_OPT_VNTOL;
    const eqs_backend_id backends[] = {EQS_BACKEND_NEWTON, EQS_BACKEND_NGSPICE};
    for (int b = 0; b < 2; ++b) {
        eqs_solver *s = NULL;
        ck_assert_int_eq(eqs_solver_create(ctx, c, backends[b], &opt, &s), EQS_OK);
        ck_assert_msg(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL) == EQS_OK, "%s: %s", what,
                      eqs_ctx_error(ctx));
        const double *v = eqs_solver_voltages(s);
        ck_assert_int_eq(eqs_solver_branch_currents(s, cur), EQS_OK);
        for (int k = 0; k < nv; ++k) {
            double x = k < nn - 1 ? v[k + 1] : cur[k - (nn - 1)];
            ck_assert_msg(fabs(x - ref[k]) <= 1e-12 + 1e-9 * fabs(ref[k]),
                          "%s, %s backend: %s = %.17g, ngspice reading the netlist: %.17g", what,
                          eqs_backend_name(backends[b]), names[k], x, ref[k]);
        }
        eqs_solver_free(&s);
    }
    free_lines(deck);
    for (int k = 0; k < nv; ++k) free(names[k]);
    free(names);
    free(ref);
    free(cur);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}

/* Branch currents with ngspice's names and signs on circuits with every
 * kind of voltage-defined element, against ngspice's own vectors. */
START_TEST(test_branch_currents_vs_ngspice)
{
    check_vs_raw_ngspice("mixed",
                         "branch mix\n.subckt stage in out\nvs mid out dc 0\nefwd mid 0 in 0 2\n"
                         ".ends\nv1 a 0 dc 5\nr1 a b 1k\nvf b c dc=1\nr2 c 0 2k\nx1 c d stage\n"
                         "rl d 0 3k\nh1 e 0 vf 500\nre e 0 1k\nf1 0 g vf 2\nrg g 0 1k\n"
                         "d1 c k dm area=2\nvk k 0 0.2\n"
                         ".model dm d is=1e-14 rs=10 bv=3 ibv=1m\n.end\n");
    check_vs_raw_ngspice("chain", "source chain\nv1 a 0 1\nv2 b a 2\nv3 c b dc 3\nra a 0 1k\n"
                                  "rb b 0 2k\nrc c 0 3k\ni1 0 b 1m\nv4 0 n 2\nrn n c 500\n"
                                  "f1 c 0 v4 0.5\n.end\n");
    check_vs_raw_ngspice("diodes", "diode clamp\nvin in 0 dc 2\nr1 in out 1k\nd1 out 0 dd\n"
                                   "d2 0 out dd\nvb out x dc -0.3\nrx x 0 10k\n"
                                   ".model dd d(is=2e-14 n=1.5 rs=5)\n.end\n");
    /* diode instance parameters in any order, as ngspice reads them */
    check_vs_raw_ngspice("diode params", "diode params\nv1 a 0 dc 5\nr1 a b 1k\n"
                                         "d1 b c dm temp=50 area=2\nvc c 0 0\nr2 a e 2k\n"
                                         "d2 e f dm area=3 dtemp=20\nvf f 0 0\nr3 a g 3k\n"
                                         "d3 g h dm 1.5 temp=-10\nvh h 0 0\n"
                                         ".model dm d is=1e-14 rs=2 xti=3 eg=1.11\n.end\n");
    check_vs_raw_ngspice("vccs", "vccs\nv1 a 0 1\nr1 a b 1k\ng1 b 0 a 0 1m\nr2 b 0 1k\nvm b c 0\n"
                                 "r3 c 0 4k\n.end\n");
    /* F elements injecting into the source tree of their own controlling
     * source: leaf peeling stalls, the dense fallback solves the rest */
    check_vs_raw_ngspice("f loop", "loop\nv1 a 0 1\nv2 b a 2\nra a 0 1k\nrb b 0 1k\n"
                                   "f1 b 0 v1 0.5\nv3 c b 1\nrc c 0 2k\nf2 0 c v3 -0.25\n"
                                   "f3 a c v2 2\n.end\n");
    /* before any solve: an input error */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_netlist_read_string(ctx, "t\nv1 a 0 1\nra a 0 1k\n.end\n", "f.cir", &nl),
                     EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    double cur[1];
    ck_assert_int_eq(eqs_solver_branch_currents(s, cur), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "no solution yet"));
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* .lib sections, r= and dc= read as ngspice reads them (its own parser on
 * the same files). */
START_TEST(test_lib_and_named_values_vs_ngspice)
{
    const char *dir = tu_temp_dir();
    char lib[4200], text[9000];
    snprintf(lib, sizeof lib, "%s/models.lib", dir);
    FILE *f = fopen(lib, "w");
    ck_assert_ptr_nonnull(f);
    fputs("* corners\n.lib tt\n.model dm d is=1e-14\n.param rv=2k\n.endl tt\n"
          ".lib ff\n.model dm d is=1e-12 n=1.2\n.param rv=1k\n.lib 'models.lib' common\n.endl ff\n"
          ".lib common\n.param rc=3k\n.endl common\n",
          f);
    fclose(f);
    snprintf(text, sizeof text,
             "lib corners\n.lib %s FF\nv1 a 0 dc=3\nr1 a b r={rv}\nd1 b 0 dm\n"
             "r2 b 0 resistance={rc}\ni1 b 0 dc=0.2m\nr3 a c R = 1.5k\nv2 c 0 dc = 1 ac=1\n.end\n",
             lib);
    check_vs_raw_ngspice("lib ff", text);
    check_vs_raw_ngspice("gain=", "gain forms\nv1 a 0 dc=1\nr1 a 0 r=1k\ne1 b 0 a 0 gain=3\n"
                                  "rb b 0 2k\ng1 c 0 b 0 GAIN = 2m\nrc c 0 1k\nf1 d 0 v1 gain=2\n"
                                  "rd d 0 1k\nh1 e 0 v1 gain=1k\nre e 0 1k\n.end\n");
    snprintf(text, sizeof text,
             "lib tt\n.lib %s tt\nv1 a 0 dc=3\nr1 a b r={rv}\nd1 b 0 dm\nr2 b 0 7k\n.end\n", lib);
    check_vs_raw_ngspice("lib tt", text);
}
END_TEST

/* eqspice op --currents on the three backends: ngspice's names, the same
 * values (the layered network solved by Newton, layered and ngspice). */
START_TEST(test_cli_op_currents)
{
    const char *solvers[] = {"newton", "layered", "ngspice"};
    char *outs[3] = {NULL, NULL, NULL};
    for (int b = 0; b < 3; ++b) {
        const char *argv[] = {"op", tu_path("netlists/layered.cir"), "--currents", "--solver",
                              solvers[b], NULL};
        char *err = NULL;
        int rc = tu_run_cli(argv, &outs[b], &err, 30);
        ck_assert_msg(rc == 0, "%s: rc=%d %s", solvers[b], rc, err);
        free(err);
        ck_assert_ptr_nonnull(strstr(outs[b], "vector,value,unit\nx1,6,V\n"));
        ck_assert_ptr_nonnull(strstr(outs[b], "\nvx1#branch,"));
        ck_assert_ptr_nonnull(strstr(outs[b], "\nvx4#branch,"));
    }
    for (int b = 1; b < 3; ++b) { /* row by row against newton */
        char *sa = NULL, *sb = NULL, *ref = strdup(outs[0]); /* strtok_r writes into it */
        char *la = strtok_r(ref, "\n", &sa), *lb = strtok_r(outs[b], "\n", &sb);
        int rows = 0;
        for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb), ++rows) {
            char *ca = strchr(la, ','), *cb = strchr(lb, ',');
            ck_assert_ptr_nonnull(ca);
            ck_assert_ptr_nonnull(cb);
            ck_assert_int_eq((int)(ca - la), (int)(cb - lb));
            ck_assert(!strncmp(la, lb, (size_t)(ca - la)));
            if (rows == 0) continue;
            double xa = strtod(ca + 1, NULL), xb = strtod(cb + 1, NULL);
            /* default tolerances: the layered solver stops at 1e-10 V,
             * Newton and ngspice at reltol 1e-6 (docs/architecture.md) */
            ck_assert_msg(fabs(xa - xb) <= 1e-8 * fmax(1.0, fabs(xa)) + 1e-9,
                          "%s: %s vs %s", solvers[b], la, lb);
        }
        ck_assert_ptr_null(la);
        ck_assert_ptr_null(lb);
        ck_assert_int_ge(rows, 10);
        free(ref);
    }
    for (int b = 0; b < 3; ++b) free(outs[b]);
    /* ideal diodes: no current is a function of the voltages */
    const char *argv[] = {"op", tu_path("netlists/layered.cir"), "--currents", "--solver",
                          "layered", "--diodes", "ideal", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 30), 1);
    ck_assert_ptr_nonnull(strstr(err, "ideal diodes"));
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
}
END_TEST

/* Singular circuits: ngspice 39 warns "singular matrix", then returns a
 * plot after gmin stepping (1e9 V, or 0 V); the backend refuses it, as
 * Newton does, instead of passing the numbers on.  The library keeps
 * working afterwards. */
START_TEST(test_singular_refused)
{
    static const char *const bodies[] = {
        "r1 a b -1k\nr2 b 0 1k\n",  /* zero total resistance */
        "e1 b 0 b 0 1\nr1 b 0 1k\n", /* E driving its own control */
        "r1 a b 1k\nh1 b 0 v1 1k\n", /* H through its own source */
    };
    for (size_t k = 0; k < sizeof bodies / sizeof *bodies; ++k) {
        char text[256];
        snprintf(text, sizeof text, "singular\nv1 a 0 1\n%s.end\n", bodies[k]);
        const char *net = tu_write_temp(text, ".cir");
        for (int b = 0; b < 2; ++b) {
            const char *argv[] = {"op", net, "--solver", b ? "ngspice" : "newton", NULL};
            char *out = NULL, *err = NULL;
            int rc = tu_run_cli(argv, &out, &err, 30);
            ck_assert_msg(rc == 1, "case %zu %s: rc=%d out=%s", k, argv[3], rc, out);
            ck_assert_msg(strstr(err, b ? "no unique operating point" : "singular"),
                          "case %zu %s: %s", k, argv[3], err);
            ck_assert_str_eq(out, "");
            free(out);
            free(err);
        }
    }
    hand h;
    eqs_ctx *ctx = tu_ctx();
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

/* libngspice 39 segfaults while parsing a deck with a node or a model
 * named "temper" (found here, any case): the backend refuses such
 * circuits and decks before they reach the library; Newton solves them. */
START_TEST(test_temper_name_refused)
{
    static const char *const texts[] = {
        "t\nv1 temper 0 2\nr1 temper m 1k\nr2 m 0 1k\n.end\n",
        "t\nv1 a 0 2\nr1 a m 1k\nd1 m 0 TEMPER\n.model TEMPER d\n.end\n",
    };
    for (int k = 0; k < 2; ++k) {
        const char *net = tu_write_temp(texts[k], ".cir");
        const char *ng[] = {"op", net, "--solver", "ngspice", NULL};
        const char *cmp[] = {"compare", net, NULL};
        const char *nt[] = {"op", net, "--solver", "newton", NULL};
        char *out = NULL, *err = NULL;
        for (int w = 0; w < 2; ++w) {
            int rc = tu_run_cli(w ? cmp : ng, &out, &err, 30);
            ck_assert_msg(rc == 1, "case %d %s: rc=%d %s", k, w ? "compare" : "op", rc, err);
            ck_assert_msg(strstr(err, "libngspice 39 crashes on a"), "%s", err);
            free(out);
            free(err);
        }
        ck_assert_int_eq(tu_run_cli(nt, &out, &err, 30), 0);
        ck_assert_ptr_nonnull(strstr(out, k ? "m,0." : "temper,2\nm,1\n"));
        free(out);
        free(err);
    }
    eqs_ctx *ctx = tu_ctx();
    char *deck[] = {(char *)"raw", (char *)"v1 Temper 0 dc 1", (char *)"r1 Temper 0 1k",
                    (char *)".end", NULL};
    const char *names[] = {"temper"};
    double v = 0;
    ck_assert_int_eq(eqs_ngspice_run_deck(ctx, deck, 1, names, &v, NULL, NULL),
                     EQS_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "line 2 of the deck"));
    eqs_ctx_free(&ctx);
    ctx = tu_ctx();
    char *ok[] = {(char *)"ok", (char *)"v1 temperature 0 dc 1", (char *)"r1 temperature 0 1k",
                  (char *)"* temper in a comment", (char *)".end", NULL};
    const char *okn[] = {"temperature"};
    ck_assert_int_eq(eqs_ngspice_run_deck(ctx, ok, 1, okn, &v, NULL, NULL), EQS_OK);
    ck_assert_double_eq_tol(v, 1.0, 1e-12);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Log lines reach the context sink (DEBUG), including the spinit note. */
typedef struct {
    int n;
} log_count;

static void count_log(void *user, eqs_log_level level, const char *msg)
{
    log_count *lc = user;
    if (level == EQS_LOG_DEBUG && strstr(msg, "ngspice")) lc->n++;
}

START_TEST(test_output_goes_to_log)
{
    eqs_ctx *ctx = NULL;
    eqs_ctx_create(&ctx);
    log_count lc = {0};
    eqs_ctx_set_log(ctx, count_log, &lc, EQS_LOG_DEBUG);
    hand h;
    eqs_circuit *c = h_divider(&h, 1.0, 1000, 3000);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NGSPICE, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_gt(lc.n, 0);
    eqs_solver_free(&s);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_ngspice(void)
{
    Suite *s = suite_create("ngspice");
    TCase *tc = tcase_create("deck");
    tcase_add_test(tc, test_deck_lines);
    tcase_add_test(tc, test_deck_no_model_no_bv);
    tcase_add_test(tc, test_deck_options_from_netlist_and_overrides);
    suite_add_tcase(s, tc);
    tc = tcase_create("backend");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_deck_hook);
    tcase_add_test(tc, test_backend_divider_and_trained_conductance);
    tcase_add_test(tc, test_backend_param_set_through_compiler);
    tcase_add_test(tc, test_backend_controlled_sources);
    tcase_add_test(tc, test_rejected_deck_then_recovers);
    tcase_add_test(tc, test_no_convergence_then_recovers);
    tcase_add_test(tc, test_controlled_exit_reloads);
    tcase_add_test(tc, test_repeated_solves_bounded);
    tcase_add_test(tc, test_nothing_printed);
    tcase_add_test(tc, test_output_goes_to_log);
    tcase_add_test(tc, test_threads_serialised);
    tcase_add_test(tc, test_cli_solver_ngspice);
    tcase_add_test(tc, test_empty_top_level_refused);
    tcase_add_test(tc, test_branch_currents_vs_ngspice);
    tcase_add_test(tc, test_lib_and_named_values_vs_ngspice);
    tcase_add_test(tc, test_cli_op_currents);
    tcase_add_test(tc, test_singular_refused);
    tcase_add_test(tc, test_temper_name_refused);
    suite_add_tcase(s, tc);
    return s;
}
