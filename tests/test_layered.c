/* test_layered.c: layered networks (src/circuit/layers.c) and the layered
 * solver (src/solver/layered.c), single-sample and batched training.
 *
 * Independent references: the Newton solver (Shockley diodes), KCL and the
 * diode constraints evaluated here from the element values (ideal diodes),
 * the adjoint gradient, the per-sample EqProp path with the element-wise
 * formula of grad.c (batched update), the context's allocation counter and
 * an uninterrupted run (bit-identical resume). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eqprop/eqprop.h"
#include "testutil.h"

/* A generated DRN compiled (netlist text kept for the caller to free). */
typedef struct {
    eqs_ctx *ctx;
    char *text;
    eqs_netlist *nl;
    eqs_circuit *c;
} net;

static void net_open_text(net *n, const char *text)
{
    memset(n, 0, sizeof *n);
    n->ctx = tu_ctx();
    n->text = strdup(text);
    eqs_status st = eqs_netlist_read_string(n->ctx, n->text, "test.cir", &n->nl);
    if (st == EQS_OK) st = eqs_circuit_create(n->ctx, n->nl, &n->c);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(n->ctx));
}

static void net_open_drn(net *n, const int *layers, int nl, uint64_t seed, double gain, int bias,
                         int pairs)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = nl;
    sp.seed = seed;
    sp.gain = gain;
    sp.bias = bias;
    sp.bias_V = bias ? 0.3 : 0.0;
    sp.output_pairs = pairs;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_OK);
    fclose(f);
    eqs_ctx_free(&ctx);
    net_open_text(n, buf);
    free(buf);
}

static void net_close(net *n)
{
    eqs_circuit_free(&n->c);
    eqs_netlist_free(&n->nl);
    eqs_ctx_free(&n->ctx);
    free(n->text);
}

static eqs_layers *detect(const net *n, char *why, size_t len)
{
    eqs_layers *L = NULL;
    ck_assert_int_eq(eqs_layers_detect(n->ctx, n->c, &L, why, len), EQS_OK);
    return L;
}

/* Generated DRNs: 1 and 2 hidden layers, bias sources, output pairs. */
START_TEST(test_detect_generated)
{
    const int a[3] = {3, 5, 2}, b[4] = {4, 6, 5, 3};
    struct {
        const int *l;
        int n, bias, pairs;
    } cases[4] = {{a, 3, 0, 0}, {b, 4, 0, 0}, {b, 4, 1, 0}, {a, 3, 1, 1}};
    for (int t = 0; t < 4; ++t) {
        net n;
        net_open_drn(&n, cases[t].l, cases[t].n, 7, 2.0, cases[t].bias, cases[t].pairs);
        char why[256];
        eqs_layers *L = detect(&n, why, sizeof why);
        ck_assert_msg(L != NULL, "case %d: %s", t, why);
        ck_assert_int_eq(L->n_layers, cases[t].n);
        /* layer 0: the 2 n0 input nodes; hidden sizes; outputs (x2 with pairs) */
        ck_assert_int_eq(L->off[1] - L->off[0], 2 * cases[t].l[0]);
        for (int l = 1; l < cases[t].n; ++l) {
            int want = cases[t].l[l] * ((l == cases[t].n - 1 && cases[t].pairs) ? 2 : 1);
            ck_assert_int_eq(L->off[l + 1] - L->off[l], want);
        }
        ck_assert_int_eq(L->dense, 1);
        ck_assert_int_eq(eqs_circuit_is_layered(n.c, NULL, 0), 1);
        eqs_layers_free(n.ctx, &L);
        net_close(&n);
    }
}
END_TEST

/* A hand-written 2-2-2-1 network, its lines in two different orders: the
 * same layers (node by node). */
static const char *hand_a =
    "* hand layered\n"
    "vb b 0 dc 0.2\n"
    "r5 h2a o 2k\n"
    "r1 in1 h1a 1k\n"
    "d2 h1b b dm\n"
    "r6 h2b o 3k\n"
    "r2 in2 h1a 2k\n"
    "r3 h1a h2a 1.5k\n"
    "vin1 in1 0 dc 1\n"
    "r4 h1b h2b 1k\n"
    "r7 in1 h1b 4k\n"
    "d1 0 h1a dm\n"
    "vin2 in2 0 dc -1\n"
    "r8 h1b h2a 5k\n"
    "r9 h1a h2b 6k\n"
    ".model dm D(is=1e-14)\n"
    ".input vin1 vin2\n.output o\n.end\n";
static const char *hand_b =
    "* hand layered, shuffled\n"
    "r9 h1a h2b 6k\n"
    "r8 h1b h2a 5k\n"
    "r6 h2b o 3k\n"
    "r5 h2a o 2k\n"
    "vin2 in2 0 dc -1\n"
    "r4 h1b h2b 1k\n"
    "d1 0 h1a dm\n"
    "r3 h1a h2a 1.5k\n"
    "r2 in2 h1a 2k\n"
    "vb b 0 dc 0.2\n"
    "r7 in1 h1b 4k\n"
    "d2 h1b b dm\n"
    "r1 in1 h1a 1k\n"
    "vin1 in1 0 dc 1\n"
    ".model dm D(is=1e-14)\n"
    ".input vin1 vin2\n.output o\n.end\n";

START_TEST(test_detect_hand_shuffled)
{
    net a, b;
    net_open_text(&a, hand_a);
    net_open_text(&b, hand_b);
    char why[256];
    eqs_layers *La = detect(&a, why, sizeof why), *Lb = detect(&b, why, sizeof why);
    ck_assert_msg(La && Lb, "%s", why);
    ck_assert_int_eq(La->n_layers, 4);
    ck_assert_int_eq(Lb->n_layers, 4);
    const char *names[6] = {"in1", "h1a", "h1b", "h2a", "h2b", "o"};
    const int want[6] = {0, 1, 1, 2, 2, 3};
    for (int k = 0; k < 6; ++k) {
        int na = eqs_circuit_node_find(a.c, names[k]), nb = eqs_circuit_node_find(b.c, names[k]);
        ck_assert_int_eq(La->layer_of[na], want[k]);
        ck_assert_int_eq(Lb->layer_of[nb], want[k]);
    }
    ck_assert_int_eq(La->dense, 0); /* in2 -- h1b is missing */
    eqs_layers_free(a.ctx, &La);
    eqs_layers_free(b.ctx, &Lb);
    /* the two orders solve to the same voltages (layered vs layered) */
    eqs_solver *sa = NULL, *sb = NULL;
    ck_assert_int_eq(eqs_solver_create(a.ctx, a.c, EQS_BACKEND_AUTO, NULL, &sa), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(b.ctx, b.c, EQS_BACKEND_AUTO, NULL, &sb), EQS_OK);
    ck_assert_int_eq(eqs_solver_backend(sa), EQS_BACKEND_LAYERED);
    ck_assert_int_eq(eqs_solver_solve(sa, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sb, EQS_SOLVE_COLD, NULL), EQS_OK);
    for (int k = 0; k < 6; ++k) {
        double va = eqs_solver_voltages(sa)[eqs_circuit_node_find(a.c, names[k])];
        double vb = eqs_solver_voltages(sb)[eqs_circuit_node_find(b.c, names[k])];
        ck_assert_double_eq_tol(va, vb, 1e-9);
    }
    eqs_solver_free(&sa);
    eqs_solver_free(&sb);
    net_close(&a);
    net_close(&b);
}
END_TEST

/* Resistors from fixed nodes that are not inputs (here the load resistors
 * rl1, rl2 from the outputs to ground) are constant drives of any layer:
 * netlists/layered.cir is layered (inputs, h1..h3, o1 o2) and the layered
 * solution equals Newton's on every node. */
START_TEST(test_detect_rails)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, tu_path("netlists/layered.cir"), &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    char why[512];
    ck_assert_msg(eqs_circuit_is_layered(c, why, sizeof why) == 1, "%s", why);
    eqs_solver *sl = NULL, *sn = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_AUTO, NULL, &sl), EQS_OK);
    ck_assert_int_eq(eqs_solver_backend(sl), EQS_BACKEND_LAYERED);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &sn), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sl, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sn, EQS_SOLVE_COLD, NULL), EQS_OK);
    const char *names[5] = {"h1", "h2", "h3", "o1", "o2"};
    for (int k = 0; k < 5; ++k) {
        int nd = eqs_circuit_node_find(c, names[k]);
        double vl = eqs_solver_voltages(sl)[nd], vn = eqs_solver_voltages(sn)[nd];
        ck_assert_msg(fabs(vl - vn) <= 1e-9, "%s: layered %.12g, newton %.12g", names[k], vl, vn);
    }
    eqs_solver_free(&sl);
    eqs_solver_free(&sn);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    /* a part that no input reaches (m, hanging from the source vb) is a
     * layer-1 node of its own: layered, m = 2 V * 1k / 2k */
    net n;
    net_open_text(&n, "* r\nvx x 0 dc 1\nr0 x h 1k\nr1 h o 1k\nvb b 0 dc 2\nrb1 b m 1k\n"
                      "rm m 0 1k\n.input vx\n.output o\n.end\n");
    ck_assert_msg(eqs_circuit_is_layered(n.c, why, sizeof why) == 1, "%s", why);
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, NULL, &sl), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sl, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_double_eq_tol(eqs_solver_voltages(sl)[eqs_circuit_node_find(n.c, "m")], 1.0, 1e-9);
    eqs_solver_free(&sl);
    net_close(&n);
}
END_TEST

/* Not layered, with the reason; auto falls back to Newton, layered refuses. */
START_TEST(test_detect_rejections)
{
    struct {
        const char *file, *reason;
    } nets[2] = {
        {"netlists/amplifier.cir", "controlled source 'eamp'"},
        {"netlists/clipper.cir", "series resistance"},
    };
    for (int t = 0; t < 2; ++t) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_circuit *c = NULL;
        ck_assert_int_eq(eqs_netlist_read(ctx, tu_path(nets[t].file), &nl), EQS_OK);
        ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
        char why[512];
        ck_assert_int_eq(eqs_circuit_is_layered(c, why, sizeof why), 0);
        ck_assert_msg(strstr(why, nets[t].reason), "%s: %s", nets[t].file, why);
        eqs_solver *s = NULL;
        ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_AUTO, NULL, &s), EQS_OK);
        ck_assert_int_eq(eqs_solver_backend(s), EQS_BACKEND_NEWTON);
        eqs_solver_free(&s);
        ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_LAYERED, NULL, &s), EQS_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), nets[t].reason));
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
    }
    /* current source, floating source, a resistor from an input node past
     * the first layer (a and b both become layer 1, joined by r2) */
    const char *texts[3] = {
        "* i\nv1 a 0 dc 1\nr1 a b 1k\nr2 b c 1k\ni1 0 b dc 1m\n.end\n",
        "* float\nv1 a 0 dc 1\nr1 a b 1k\nv2 b c dc 1\nr2 c 0 1k\n.end\n",
        "* skip\nv1 x 0 dc 1\nr1 x a 1k\nr2 a b 1k\nr3 x b 1k\n.input v1\n.end\n",
    };
    const char *reasons[3] = {"current source 'i1'", "voltage source 'v2' is floating",
                              "must join consecutive layers"};
    for (int t = 0; t < 3; ++t) {
        net n;
        net_open_text(&n, texts[t]);
        char why[512];
        ck_assert_int_eq(eqs_circuit_is_layered(n.c, why, sizeof why), 0);
        ck_assert_msg(strstr(why, reasons[t]), "%s", why);
        net_close(&n);
    }
}
END_TEST

static double max_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; ++i) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* Shockley diodes: layered and Newton agree within 1e-9 V on every node,
 * free and nudged (single-ended and pair nudges). */
START_TEST(test_shockley_matches_newton)
{
    const int a[3] = {6, 9, 3}, b[4] = {5, 7, 6, 3};
    struct {
        const int *l;
        int n, bias, pairs;
        double gain;
    } cases[4] = {{a, 3, 0, 0, 2.0}, {b, 4, 0, 0, 3.0}, {b, 4, 1, 0, 5.0}, {a, 3, 0, 1, 4.0}};
    for (int t = 0; t < 4; ++t) {
        net n;
        net_open_drn(&n, cases[t].l, cases[t].n, 11 + t, cases[t].gain, cases[t].bias,
                     cases[t].pairs);
        eqs_solver_options o;
        eqs_solver_options_defaults(&o);
        o.reltol = 1e-13, o.vntol = 1e-13, o.abstol = 1e-17;
        o.bcd_tol_V = 1e-13;
        eqs_solver *sn = NULL, *sl = NULL;
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NEWTON, &o, &sn), EQS_OK);
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, &o, &sl), EQS_OK);
        int nn = eqs_circuit_node_count(n.c);
        int no = eqs_circuit_output_count(n.c);
        int pos[8], neg[8];
        double g[8], inj[8];
        for (int k = 0; k < no; ++k) {
            pos[k] = eqs_circuit_output_node(n.c, k);
            neg[k] = eqs_circuit_output_neg(n.c, k);
            g[k] = 3e-5;
            inj[k] = 3e-5 * (k == 0 ? 0.5 : -0.1);
        }
        for (int phase = 0; phase < 3; ++phase) {
            if (phase > 0) {
                double sg = phase == 1 ? 1.0 : -1.0;
                for (int k = 0; k < no; ++k) g[k] = sg * fabs(g[k]), inj[k] = sg * fabs(inj[k]);
                for (eqs_solver *s = sn; s; s = s == sn ? sl : NULL) {
                    if (cases[t].pairs)
                        ck_assert_int_eq(eqs_solver_set_nudge_pairs(s, no, pos, neg, g, inj),
                                         EQS_OK);
                    else ck_assert_int_eq(eqs_solver_set_nudge(s, no, pos, g, inj), EQS_OK);
                }
            }
            eqs_solve_mode m = phase == 0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM;
            ck_assert_msg(eqs_solver_solve(sn, m, NULL) == EQS_OK, "%s", eqs_ctx_error(n.ctx));
            ck_assert_msg(eqs_solver_solve(sl, m, NULL) == EQS_OK, "%s", eqs_ctx_error(n.ctx));
            double d = max_diff(eqs_solver_voltages(sn), eqs_solver_voltages(sl), nn);
            ck_assert_msg(d <= 1e-9, "case %d phase %d: max |dV| = %g V", t, phase, d);
        }
        eqs_solver_free(&sn);
        eqs_solver_free(&sl);
        net_close(&n);
    }
}
END_TEST

/* Ideal diodes: KCL at every node without an active diode, the diode
 * intervals everywhere and the conduction direction of the active diodes,
 * evaluated here from the element values; EqProp vs adjoint. */
START_TEST(test_ideal_kcl_and_gradient)
{
    const int b[4] = {5, 8, 6, 3};
    for (int bias = 0; bias < 2; ++bias) {
        net n;
        net_open_drn(&n, b, 4, 21 + bias, 4.0, bias, 0);
        eqs_solver_options o;
        eqs_solver_options_defaults(&o);
        o.diodes = EQS_DIODES_IDEAL;
        o.bcd_tol_V = 1e-13;
        eqs_solver *s = NULL;
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, &o, &s), EQS_OK);
        ck_assert_int_eq(eqs_solver_backend(s), EQS_BACKEND_LAYERED);
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
        const double *v = eqs_solver_voltages(s);
        const eqs_circuit *c = n.c;
        int nn = c->n_user_nodes, active = 0;
        double *kcl = calloc((size_t)nn, sizeof *kcl), *gs = calloc((size_t)nn, sizeof *gs);
        for (int e = 0; e < c->n_elems; ++e) {
            const eqs_celem *el = &c->elems[e];
            if (el->kind != EQS_EL_R) continue;
            double i = eqs_celem_value(c, el) * (v[el->n[0]] - v[el->n[1]]);
            kcl[el->n[0]] += i, kcl[el->n[1]] -= i;
            gs[el->n[0]] += eqs_celem_value(c, el), gs[el->n[1]] += eqs_celem_value(c, el);
        }
        for (int i = 1; i < nn; ++i) {
            if (c->node_unknown[i] < 0) continue;
            int on = 0;
            for (int e = 0; e < c->n_elems; ++e) {
                const eqs_celem *el = &c->elems[e];
                if (el->kind != EQS_EL_D) continue;
                if (el->n[0] == i) { /* anode here: V <= V(cathode); current leaves */
                    double vc = v[el->n[1]];
                    ck_assert(v[i] <= vc + 1e-12);
                    if (fabs(v[i] - vc) <= 1e-12) on = 1, ck_assert(kcl[i] <= 1e-12 * gs[i]);
                } else if (el->n[1] == i) {
                    double va = v[el->n[0]];
                    ck_assert(v[i] >= va - 1e-12);
                    if (fabs(v[i] - va) <= 1e-12) on = 1, ck_assert(kcl[i] >= -1e-12 * gs[i]);
                }
            }
            active += on;
            if (!on)
                ck_assert_msg(fabs(kcl[i]) <= 1e-11 * gs[i], "node %s: KCL %g A",
                              c->node_names[i], kcl[i]);
        }
        ck_assert_int_gt(active, 0); /* the constraints matter in this test */
        free(kcl);
        free(gs);

        /* EqProp centered (small beta) vs the adjoint gradient */
        eqs_eqprop *ep = NULL;
        ck_assert_int_eq(eqs_eqprop_create(n.ctx, s, &ep), EQS_OK);
        double y[3] = {0.5, 0.0, 0.2};
        ck_assert_int_eq(eqs_eqprop_set_targets(ep, y), EQS_OK);
        int np = eqs_circuit_param_count(n.c);
        double *ga = calloc((size_t)np, sizeof *ga), *ge = calloc((size_t)np, sizeof *ge);
        eqs_grad_options go;
        eqs_grad_options_defaults(&go);
        ck_assert_int_eq(eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, NULL), EQS_OK);
        go.method = EQS_GRAD_ADJOINT;
        ck_assert_msg(eqs_eqprop_gradient(ep, &go, ga) == EQS_OK, "%s", eqs_ctx_error(n.ctx));
        go.method = EQS_GRAD_CENTERED;
        ck_assert_int_eq(eqs_eqprop_gradient(ep, &go, ge), EQS_OK);
        double dot = 0, na = 0, ne = 0;
        for (int k = 0; k < np; ++k) dot += ga[k] * ge[k], na += ga[k] * ga[k], ne += ge[k] * ge[k];
        double cosine = dot / sqrt(na * ne);
        ck_assert_msg(cosine >= 0.9999, "cosine %.9f", cosine);
        free(ga);
        free(ge);
        eqs_eqprop_free(&ep);
        eqs_solver_free(&s);
        net_close(&n);
    }
}
END_TEST

/* ---- batched trainer ---- */

static const char *drn_xml(const char *layers, int features, int classes, int train, int test,
                           int batch, double momentum, int seed, const char *diodes)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"%s\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\"/>"
             "</network>\n"
             "  <dataset classes=\"%d\"><synthetic task=\"blobs\" train_size=\"%d\" "
             "test_size=\"%d\" features=\"%d\"/></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"%.17g\"><rate elements=\"r1_*\" value=\"3e-7\"/>"
             "<rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
             "  <training epochs=\"3\" batch=\"%d\" seed=\"%d\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"layered\" diodes=\"%s\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n"
             "</experiment>\n",
             layers, classes, train, test, features, momentum, batch, seed, diodes);
    return tu_write_temp(buf, ".xml");
}

/* A copy of the experiment file `xml` with `attr` (e.g. threads="1")
 * inserted before the first occurrence of `before` (e.g. "diodes="). */
static const char *with_attr(const char *xml, const char *before, const char *attr)
{
    char *text = tu_read_file(xml);
    ck_assert_ptr_nonnull(text);
    static char buf[8192];
    const char *at = strstr(text, before);
    ck_assert_ptr_nonnull(at);
    snprintf(buf, sizeof buf, "%.*s%s %s", (int)(at - text), text, attr, at);
    free(text);
    return tu_write_temp(buf, ".xml");
}

typedef tu_job job;
#define job_open tu_job_open
#define job_close tu_job_close
#define conductances tu_conductances

/* Criterion 4 (locality) on the batched path: one batched step (no
 * momentum) equals G - rate * mean_b dL/dG with dL/dG from the per-sample
 * phases (single-sample layered solves) and the element-wise formula of
 * grad.c, sample by sample, for 1 and 2 hidden layers and both diode
 * models. */
/* One batched step (batch 5 of 12 blobs samples, no momentum) of the
 * experiment `xml` (drn_xml with nf features, nc classes) against the
 * per-sample phases and grad.c's element-wise formula; returns the
 * largest error relative to the largest step. */
static double local_update_error(const char *xml, int nf, int nc, int seed, int shockley,
                                 double gain)
{
    job j, r;
    job_open(&j, xml, 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    int np = eqs_circuit_param_count(j.c);
    double *g0 = conductances(j.c);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    double *g1 = conductances(j.c);

    job_open(&r, xml, 0);
    eqs_ctx_seed(r.ctx, (uint64_t)seed);
    size_t order[12];
    eqs_shuffle_identity(order, 12);
    eqs_shuffle(r.ctx, order, 12);
    eqs_trainer_options to;
    eqs_trainer_options_defaults(&to);
    to.solver.diodes = shockley ? EQS_DIODES_SHOCKLEY : EQS_DIODES_IDEAL;
    eqs_solver *s = NULL;
    eqs_eqprop *ep = NULL;
    ck_assert_int_eq(eqs_solver_create(r.ctx, r.c, EQS_BACKEND_LAYERED, &to.solver, &s), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(r.ctx, s, &ep), EQS_OK);
    double *grad = calloc((size_t)np, sizeof *grad), *acc = calloc((size_t)np, sizeof *acc);
    double *y = calloc((size_t)nc, sizeof *y);
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.beta_S = 1e-5;
    for (int b = 0; b < 5; ++b) {
        const double *x = eqs_dataset_features(r.train, order[b]);
        int label = eqs_dataset_label(r.train, order[b]);
        for (int f = 0; f < nf; ++f) {
            ck_assert_int_eq(eqs_circuit_input_set(r.c, 2 * f, gain * x[f]), EQS_OK);
            ck_assert_int_eq(eqs_circuit_input_set(r.c, 2 * f + 1, -gain * x[f]), EQS_OK);
        }
        for (int k = 0; k < nc; ++k) y[k] = k == label ? 0.5 : 0.0;
        ck_assert_int_eq(eqs_eqprop_set_targets(ep, y), EQS_OK);
        ck_assert_int_eq(eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, NULL), EQS_OK);
        ck_assert_int_eq(eqs_eqprop_gradient(ep, &go, grad), EQS_OK);
        for (int k = 0; k < np; ++k) acc[k] += grad[k] / 5;
    }
    double maxstep = 0, maxerr = 0;
    for (int k = 0; k < np; ++k) {
        const char *name = eqs_circuit_param_name(j.c, k);
        double eta = strncmp(name, "r1_", 3) == 0 ? 3e-7 : 1e-7;
        double want = g0[k] - eta * acc[k];
        want = fmin(fmax(want, 1e-7), 1e-3);
        maxstep = fmax(maxstep, fabs(want - g0[k]));
        maxerr = fmax(maxerr, fabs(g1[k] - want));
    }
    ck_assert_double_gt(maxstep, 0);
    free(y);
    free(grad);
    free(acc);
    free(g0);
    free(g1);
    eqs_eqprop_free(&ep);
    eqs_solver_free(&s);
    job_close(&r);
    job_close(&j);
    return maxerr / maxstep;
}

START_TEST(test_batched_update_is_local)
{
    const char *layers[2] = {"4 7 3", "4 6 5 3"};
    const char *diodes[2] = {"ideal", "shockley"};
    for (int t = 0; t < 4; ++t) {
        const char *xml = drn_xml(layers[t % 2], 4, 3, 12, 0, 5, 0.0, 4 + t, diodes[t / 2]);
        double e = local_update_error(xml, 4, 3, 4 + t, t / 2, 4.0);
        ck_assert_msg(e <= 1e-6, "case %d: max error %g of the max step", t, e);
    }
}
END_TEST

/* Bias rails (gen drn --rails, <drn rails_V>): resistors from the rails bp
 * (+V) and bn (-V) to every hidden and output node.  The layered solver
 * (Shockley diodes) equals Newton on every node, and a batched step with
 * rails in crossbar 1 (as rows of W_1) and in deeper layers (the rails
 * path of layered_batch.inc) is the element-wise update of the per-sample
 * phases, 1 and 2 hidden layers, both diode models. */
START_TEST(test_rails)
{
    const char *layers[2] = {"4 7 3", "4 6 5 3"};
    const char *diodes[2] = {"ideal", "shockley"};
    for (int t = 0; t < 4; ++t) {
        const char *xml = drn_xml(layers[t % 2], 4, 3, 12, 0, 5, 0.0, 4 + t, diodes[t / 2]);
        const char *xr = with_attr(xml, "g_init_min_S=", "rails_V=\"3\"");
        job j;
        job_open(&j, xr, 1);
        int rails = 0;
        for (int k = 0; k < eqs_circuit_param_count(j.c); ++k)
            rails += strstr(eqs_circuit_param_name(j.c, k), "_bp_") != NULL;
        ck_assert_int_eq(rails, t % 2 ? 6 + 5 + 3 : 7 + 3);
        job_close(&j);
        double e = local_update_error(xr, 4, 3, 4 + t, t / 2, 4.0);
        ck_assert_msg(e <= 1e-6, "case %d: max error %g of the max step", t, e);
    }
    /* free state: layered vs Newton, Shockley diodes, rails at 2 V */
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    const int sizes[4] = {6, 8, 5, 3};
    sp.layers = sizes;
    sp.n_layers = 4;
    sp.gain = 3;
    sp.rails_V = 2;
    sp.seed = 5;
    char path[4096];
    snprintf(path, sizeof path, "%s/rails.cir", tu_temp_dir());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_OK);
    fclose(f);
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    /* give the rails a net bias: bp stronger on even parameters */
    for (int k = 0; k < eqs_circuit_param_count(c); ++k)
        if (strstr(eqs_circuit_param_name(c, k), "_bp_"))
            ck_assert_int_eq(eqs_circuit_param_set(c, k, 5e-5 * (1 + k % 3)), EQS_OK);
    char why[512];
    ck_assert_msg(eqs_circuit_is_layered(c, why, sizeof why) == 1, "%s", why);
    eqs_solver *sl = NULL, *sn = NULL;
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_LAYERED, NULL, &sl), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &sn), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sl, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sn, EQS_SOLVE_COLD, NULL), EQS_OK);
    double worst = 0, vmax = 0;
    for (int i = 0; i < eqs_circuit_node_count(c); ++i) {
        worst = fmax(worst, fabs(eqs_solver_voltages(sl)[i] - eqs_solver_voltages(sn)[i]));
        vmax = fmax(vmax, fabs(eqs_solver_voltages(sn)[i]));
    }
    ck_assert_msg(worst <= 1e-9, "layered vs newton with rails: %g V", worst);
    ck_assert_double_gt(vmax, 0.1);
    eqs_solver_free(&sl);
    eqs_solver_free(&sn);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* A rail conductance of a layer past the first (the element-wise rails path
 * of layered_batch.inc) that overflows is reported as divergence by the
 * batched step, naming the layer, instead of training on with inf/NaN:
 * rate 1e308 on crossbar 2 and its rails (they share a rate), no upper
 * bound; the rails are checked before the crossbar. */
START_TEST(test_rail_divergence_reported)
{
    const char *xml = tu_write_temp(
        "<?xml version=\"1.0\"?>\n"
        "<experiment version=\"1\">\n"
        "  <network><drn layers=\"4 6 3\" rails_V=\"300\" g_init_min_S=\"1e-6\" "
        "g_init_max_S=\"1e-4\"/></network>\n"
        "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"12\" "
        "features=\"4\"/></dataset>\n"
        "  <input gain_V=\"400\" encoding=\"pair\"/>\n"
        "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
        "  <algorithm method=\"centered\" beta=\"0.1\"/>\n"
        "  <learning><rate elements=\"r2_*\" value=\"1e308\"/>"
        "<rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
        "  <training epochs=\"1\" batch=\"4\" seed=\"3\"/>\n"
        "  <solver backend=\"layered\" diodes=\"ideal\"/>\n"
        "  <output dir=\"/nonexistent\"/>\n"
        "</experiment>\n",
        ".xml");
    job j;
    job_open(&j, xml, 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    eqs_status st = eqs_trainer_step(j.tr);
    ck_assert_int_eq(st, EQS_ERR_NOCONV);
    ck_assert_msg(strstr(eqs_ctx_error(j.ctx), "rail conductance of layer 2 is not finite"), "%s",
                  eqs_ctx_error(j.ctx));
    job_close(&j);
}
END_TEST

/* Batched evaluation of the experiment `xml` (drn_xml with nf features,
 * nc classes, ideal diodes) equals the mean loss of per-sample cold
 * layered solves on its test set. */
static void check_batched_eval(const char *xml, int nf, int nc)
{
    job j;
    job_open(&j, xml, 1);
    double lb, eb;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.test, &lb, &eb), EQS_OK);
    eqs_solver_options o;
    eqs_solver_options_defaults(&o);
    o.diodes = EQS_DIODES_IDEAL;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(j.ctx, j.c, EQS_BACKEND_LAYERED, &o, &s), EQS_OK);
    double sum = 0;
    size_t n = eqs_dataset_size(j.test);
    for (size_t i = 0; i < n; ++i) {
        const double *x = eqs_dataset_features(j.test, i);
        for (int f = 0; f < nf; ++f) {
            eqs_circuit_input_set(j.c, 2 * f, 4 * x[f]);
            eqs_circuit_input_set(j.c, 2 * f + 1, -4 * x[f]);
        }
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
        const double *v = eqs_solver_voltages(s);
        for (int k = 0; k < nc; ++k) {
            double y = k == eqs_dataset_label(j.test, i) ? 0.5 : 0.0;
            double o_k = v[eqs_circuit_output_node(j.c, k)];
            sum += 0.5 * (o_k - y) * (o_k - y);
        }
    }
    ck_assert_double_eq_tol(lb, sum / (double)n, 1e-9 * fabs(lb) + 1e-15);
    eqs_solver_free(&s);
    job_close(&j);
}

/* The two-core step (docs/solver.md "Two cores"), with split_min="100" so
 * that every crossbar of a 24-40-30-4 DRN (48 x 40, 40 x 30, 30 x 4) is
 * split between the caller and the helper thread: (1) one batched step is
 * still the element-wise update of the per-sample phases, (2) batched
 * evaluation equals per-sample solves, and (3) three steps with
 * threads="2" and threads="1" give the same conductances bit for bit (the
 * split is fixed; only who runs the second part differs). */
START_TEST(test_two_cores)
{
    const char *xml = with_attr(drn_xml("24 40 30 4", 24, 4, 12, 6, 5, 0.0, 7, "ideal"), "diodes=",
                                "split_min=\"100\"");
    double e = local_update_error(xml, 24, 4, 7, 0, 4.0);
    ck_assert_msg(e <= 1e-6, "split crossbars: max error %g of the max step", e);

    /* (2) */
    check_batched_eval(xml, 24, 4);

    /* (3) with momentum */
    const char *base = drn_xml("24 40 30 4", 24, 4, 12, 0, 4, 0.9, 8, "ideal");
    char two[8192];
    snprintf(two, sizeof two, "%s", with_attr(base, "diodes=", "split_min=\"100\""));
    const char *one = with_attr(base, "diodes=", "split_min=\"100\" threads=\"1\"");
    job a, b, c0;
    job_open(&a, two, 1);
    job_open(&b, one, 1);
    for (int k = 0; k < 3; ++k) {
        ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK);
    }
    int np = eqs_circuit_param_count(a.c);
    ck_assert_int_eq(np, 48 * 40 + 40 * 30 + 30 * 4);
    double *ga = conductances(a.c), *gb = conductances(b.c);
    ck_assert_int_eq(memcmp(ga, gb, (size_t)np * sizeof *ga), 0);
    job_open(&c0, two, 1);
    double *g0 = conductances(c0.c);
    ck_assert_int_ne(memcmp(ga, g0, (size_t)np * sizeof *ga), 0); /* it did train */
    free(ga);
    free(gb);
    free(g0);
    job_close(&c0);
    job_close(&a);
    job_close(&b);
}
END_TEST

/* Batched free phases (evaluation) agree with per-sample layered solves. */
START_TEST(test_batched_free_matches_single)
{
    const char *xml = drn_xml("4 6 5 3", 4, 3, 8, 11, 4, 0.9, 3, "ideal");
    check_batched_eval(xml, 4, 3);
}
END_TEST

/* No allocation inside batched training steps and evaluation. */
START_TEST(test_batched_no_alloc)
{
    job j;
    job_open(&j, drn_xml("4 7 3", 4, 3, 30, 10, 4, 0.9, 2, "ideal"), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    uint64_t a0 = eqs_ctx_alloc_count(j.ctx);
    for (int s = 0; s < 20; ++s) ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    double l, e;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.test, &l, &e), EQS_OK);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    ck_assert_uint_eq(eqs_ctx_alloc_count(j.ctx), a0);
    job_close(&j);
}
END_TEST

/* Checkpoint mid-epoch and at an epoch end, read into a fresh trainer: the
 * batched path continues bit-identically. */
START_TEST(test_batched_resume_bit_identical)
{
    const char *xml = drn_xml("4 6 5 3", 4, 3, 40, 0, 4, 0.9, 9, "ideal");
    const char *dir = tu_temp_dir();
    char ck[4300];
    const int stops[2] = {13, 20};
    for (int t = 0; t < 2; ++t) {
        snprintf(ck, sizeof ck, "%s/ck%d.bin", dir, t);
        job a, b;
        job_open(&a, xml, 1);
        for (int s = 0; s < stops[t]; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        ck_assert_int_eq(eqs_trainer_checkpoint_write(a.tr, ck), EQS_OK);
        for (int s = stops[t]; s < 30; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        job_open(&b, xml, 1);
        ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK);
        ck_assert_msg(eqs_trainer_checkpoint_read(b.tr, ck) == EQS_OK, "%s",
                      eqs_ctx_error(b.ctx));
        for (int s = stops[t]; s < 30; ++s) ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK);
        int n = eqs_circuit_param_count(a.c);
        double *ga = conductances(a.c), *gb = conductances(b.c);
        ck_assert_int_eq(memcmp(ga, gb, (size_t)n * sizeof *ga), 0);
        free(ga);
        free(gb);
        job_close(&a);
        job_close(&b);
    }
}
END_TEST

/* The batched path learns (blobs, 2 hidden layers, ideal diodes). */
START_TEST(test_batched_learns)
{
    job j;
    job_open(&j, drn_xml("4 16 12 3", 4, 3, 96, 48, 8, 0.9, 1, "ideal"), 1);
    double l0, e0, l1, e1;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.test, &l0, &e0), EQS_OK);
    for (int ep = 0; ep < 3; ++ep) ck_assert_int_eq(eqs_trainer_epoch(j.tr), EQS_OK);
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.test, &l1, &e1), EQS_OK);
    ck_assert_msg(l1 < 0.8 * l0, "loss %g -> %g", l0, l1);
    job_close(&j);
}
END_TEST

/* Single precision (precision="single"): one batched step from the same
 * state, per crossbar, against double precision.  Float storage of the
 * states, conductances and products (epsilon 6e-8) with the phases kept as
 * differences from the free state: measured relative error of the update
 * 4.5e-7 .. 3.5e-6 per crossbar; we require <= 1e-4.  No allocation in
 * single-precision steps either. */
START_TEST(test_single_precision)
{
    char *text = tu_read_file(drn_xml("4 16 12 3", 4, 3, 64, 16, 8, 0.9, 5, "ideal"));
    const char *xml_d = tu_write_temp(text, ".xml");
    char *p = strstr(text, "diodes=\"ideal\"");
    ck_assert_ptr_nonnull(p);
    char buf[8192];
    snprintf(buf, sizeof buf, "%.*sdiodes=\"ideal\" precision=\"single\"%s", (int)(p - text),
             text, p + strlen("diodes=\"ideal\""));
    free(text);
    const char *xml_s = tu_write_temp(buf, ".xml");
    job d, f;
    job_open(&d, xml_d, 1);
    job_open(&f, xml_s, 1);
    ck_assert_int_eq(eqs_trainer_batched(f.tr), 1);
    int np = eqs_circuit_param_count(d.c);
    double *g0 = conductances(d.c);
    ck_assert_int_eq(eqs_trainer_step(d.tr), EQS_OK);
    ck_assert_int_eq(eqs_trainer_step(f.tr), EQS_OK);
    double *gd = conductances(d.c), *gf = conductances(f.c);
    for (int l = 1; l <= 3; ++l) {
        char pre[16];
        snprintf(pre, sizeof pre, "r%d_", l);
        double nd = 0, diff = 0;
        for (int k = 0; k < np; ++k) {
            if (strncmp(eqs_circuit_param_name(d.c, k), pre, 3) != 0) continue;
            double ud = gd[k] - g0[k], uf = gf[k] - g0[k];
            nd += ud * ud, diff += (ud - uf) * (ud - uf);
        }
        double rel = sqrt(diff / nd);
        printf("single vs double precision, crossbar %d: relative error of one update %.3g\n", l,
               rel);
        ck_assert_msg(nd > 0 && rel <= 1e-4, "crossbar %d: relative error %g", l, rel);
    }
    uint64_t a0 = eqs_ctx_alloc_count(f.ctx);
    for (int s = 0; s < 10; ++s) ck_assert_int_eq(eqs_trainer_step(f.tr), EQS_OK);
    double l, e;
    ck_assert_int_eq(eqs_trainer_evaluate(f.tr, f.test, &l, &e), EQS_OK);
    ck_assert_uint_eq(eqs_ctx_alloc_count(f.ctx), a0);
    free(g0);
    free(gd);
    free(gf);
    job_close(&d);
    job_close(&f);
}
END_TEST

/* ---- overflow of the diode exponential ---- */

/* Log sink that counts warnings and keeps the first one. */
typedef struct {
    int warn, info;
    char first_warn[1024];
} logcap;

static void cap_log(void *user, eqs_log_level level, const char *msg)
{
    logcap *c = user;
    if (level == EQS_LOG_WARN && c->warn++ == 0)
        snprintf(c->first_warn, sizeof c->first_warn, "%s", msg);
    else if (level == EQS_LOG_INFO) c->info++;
}

/* Tight options: Newton stops at reltol |V| + vntol = 1e-13 (|V| + 1 V),
 * the layered solver at a sweep update of 1e-13 V. */
static void tight_options(eqs_solver_options *o)
{
    eqs_solver_options_defaults(o);
    o->reltol = 1e-13, o->vntol = 1e-13, o->abstol = 1e-17;
    o->bcd_tol_V = 1e-13;
}

/* The circuits where the exponential of the diode model
 * overflows between the node's bracket ends (each failed with "no
 * convergence after 10000 sweeps (last update nan V)"): 50 V through 1 kOhm
 * into a diode, 100 V through 1 mOhm (98.9 kA), and a zener (BV 5.6 V, IBV
 * 1 mA) in breakdown from 100 V and from -100 V.  auto picks the layered
 * solver, solves without falling back (no warning) and agrees with Newton
 * and with live ngspice (in-process backend) at tight tolerances, each
 * within its own stop test: Newton 1e-13 (|V| + 1 V) + the layered 1e-13 V;
 * ngspice (reltol 1e-9, vntol 1e-12 V) 1e-9 |V| + 1e-12 V. */
START_TEST(test_overflow_matches_newton_and_ngspice)
{
    static const char *const texts[4] = {
        "* 50 V\nv1 a 0 50\nr1 a b 1k\nd1 b 0 dm\n.model dm d\n.end\n",
        "* 100 V, 1 mOhm\nv1 a 0 100\nr1 a b 1m\nd1 b 0 dm\n.model dm d\n.end\n",
        "* zener\nv1 a 0 100\nr1 a b 1k\nd1 0 b dz\n.model dz d(bv=5.6 ibv=1m)\n.end\n",
        "* zener, anode at the node\nv1 a 0 -100\nr1 a b 1k\nd1 b 0 dz\n"
        ".model dz d(bv=5.6 ibv=1m)\n.end\n",
    };
    /* the operating point is where expected: forward ~0.76 V and ~1.13 V,
     * breakdown just past BV (an independent sanity range) */
    static const double lo[4] = {0.6, 1.0, 5.6, -5.9}, hi[4] = {0.9, 1.3, 5.9, -5.6};
    for (int t = 0; t < 4; ++t) {
        net n;
        net_open_text(&n, texts[t]);
        logcap cap = {0};
        eqs_ctx_set_log(n.ctx, cap_log, &cap, EQS_LOG_INFO);
        eqs_solver_options o;
        tight_options(&o);
        eqs_solver *sa = NULL, *sn = NULL, *sg = NULL;
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, &o, &sa), EQS_OK);
        ck_assert_int_eq(eqs_solver_backend(sa), EQS_BACKEND_LAYERED);
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NEWTON, &o, &sn), EQS_OK);
        eqs_solver_options og;
        eqs_solver_options_defaults(&og);
        og.reltol = 1e-9, og.vntol = 1e-12, og.abstol = 1e-15;
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NGSPICE, &og, &sg), EQS_OK);
        eqs_solve_info info;
        ck_assert_msg(eqs_solver_solve(sa, EQS_SOLVE_COLD, &info) == EQS_OK, "case %d: %s", t,
                      eqs_ctx_error(n.ctx));
        ck_assert_str_eq(info.backend, "layered");
        ck_assert_msg(cap.warn == 0, "case %d: %s", t, cap.first_warn);
        ck_assert_msg(eqs_solver_solve(sn, EQS_SOLVE_COLD, NULL) == EQS_OK, "%s",
                      eqs_ctx_error(n.ctx));
        ck_assert_msg(eqs_solver_solve(sg, EQS_SOLVE_COLD, NULL) == EQS_OK, "%s",
                      eqs_ctx_error(n.ctx));
        int b = eqs_circuit_node_find(n.c, "b");
        double vl = eqs_solver_voltages(sa)[b], vn = eqs_solver_voltages(sn)[b],
               vg = eqs_solver_voltages(sg)[b];
        ck_assert_msg(vl > lo[t] && vl < hi[t], "case %d: V(b) = %.17g", t, vl);
        ck_assert_msg(fabs(vl - vn) <= 1e-13 * (fabs(vn) + 1) + 1e-13,
                      "case %d: layered %.17g, newton %.17g", t, vl, vn);
        ck_assert_msg(fabs(vl - vg) <= 1e-9 * fabs(vg) + 1e-12,
                      "case %d: layered %.17g, ngspice %.17g", t, vl, vg);
        eqs_solver_free(&sa);
        eqs_solver_free(&sn);
        eqs_solver_free(&sg);
        net_close(&n);
    }
}
END_TEST

/* A generated 4-8-6-3 DRN (Shockley diodes) at input gain 1000 V: hidden
 * nodes tens of volts from their diodes' fixed ends, where the exponential
 * overflows (before the fix both seeds failed with "no convergence after
 * 10000 sweeps (last update nan V)").  Single solves: layered (auto and
 * explicit) vs Newton on every node within the stop tests; three input
 * vectors, warm starts between them. */
START_TEST(test_drn_large_gain_matches_newton)
{
    const int sizes[4] = {4, 8, 6, 3};
    for (int seed = 3; seed <= 4; ++seed) {
        net n;
        net_open_drn(&n, sizes, 4, (uint64_t)seed, 1000.0, 0, 0);
        logcap cap = {0};
        eqs_ctx_set_log(n.ctx, cap_log, &cap, EQS_LOG_INFO);
        eqs_solver_options o;
        tight_options(&o);
        eqs_solver *sa = NULL, *sl = NULL, *sn = NULL;
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, &o, &sa), EQS_OK);
        ck_assert_int_eq(eqs_solver_backend(sa), EQS_BACKEND_LAYERED);
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, &o, &sl), EQS_OK);
        ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NEWTON, &o, &sn), EQS_OK);
        int nn = eqs_circuit_node_count(n.c), nin = eqs_circuit_input_count(n.c);
        double vmax = 0;
        for (int k = 0; k < 3; ++k) {
            for (int q = 0; k > 0 && q < nin; ++q) { /* the pairs stay +-: 1000 V * [0, 1) */
                double x = 0.1 + 0.8 * ((q / 2 + k) % 4) / 3.0;
                ck_assert_int_eq(eqs_circuit_input_set(n.c, q, (q % 2 ? -1 : 1) * 1000.0 * x),
                                 EQS_OK);
            }
            eqs_solve_mode m = k == 0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM;
            for (eqs_solver *s = sa; s; s = s == sa ? sl : s == sl ? sn : NULL)
                ck_assert_msg(eqs_solver_solve(s, m, NULL) == EQS_OK, "seed %d input %d: %s",
                              seed, k, eqs_ctx_error(n.ctx));
            const double *vn = eqs_solver_voltages(sn);
            for (int i = 0; i < nn; ++i) {
                double tol = 1e-13 * (fabs(vn[i]) + 1) + 1e-13;
                ck_assert_msg(fabs(eqs_solver_voltages(sa)[i] - vn[i]) <= tol &&
                                  fabs(eqs_solver_voltages(sl)[i] - vn[i]) <= tol,
                              "seed %d input %d node %s: auto %.17g layered %.17g newton %.17g",
                              seed, k, eqs_circuit_node_name(n.c, i),
                              eqs_solver_voltages(sa)[i], eqs_solver_voltages(sl)[i], vn[i]);
                vmax = fmax(vmax, fabs(vn[i]));
            }
        }
        ck_assert_double_gt(vmax, 500); /* the inputs are large */
        ck_assert_msg(cap.warn == 0, "%s", cap.first_warn);
        eqs_solver_free(&sa);
        eqs_solver_free(&sl);
        eqs_solver_free(&sn);
        net_close(&n);
    }
}
END_TEST

/* A copy of the file `xml` with the first `from` replaced by `to`. */
static const char *replaced(const char *xml, const char *from, const char *to)
{
    char *text = tu_read_file(xml);
    ck_assert_ptr_nonnull(text);
    char *g = strstr(text, from);
    ck_assert_ptr_nonnull(g);
    static char buf[8192];
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(g - text), text, to, g + strlen(from));
    free(text);
    return tu_write_temp(buf, ".xml");
}

/* drn_xml's file with input gain_V="1000". */
static const char *gain_1000(const char *xml)
{
    return replaced(xml, "gain_V=\"4\"", "gain_V=\"1000\"");
}

/* The batched free phases (layered_batch.inc, trainer evaluation) with
 * Shockley diodes at input gain 1000 V (before the fix: "batch free phase
 * did not converge"): the loss equals the mean loss of per-sample Newton
 * solves at tight tolerances (1e-13) to first order in the output error
 * dV: |dL| <= mean sum_k |o_k - y_k| dV, with dV = 1e-9 V, ten times the
 * trainer's bcd_tol_V (block coordinate descent converges linearly, its
 * error a multiple of its last update).  Measured |dL| / L = 9.3e-13. */
START_TEST(test_batched_eval_large_gain)
{
    job j;
    job_open(&j, gain_1000(drn_xml("4 8 6 3", 4, 3, 12, 24, 8, 0.0, 3, "shockley")), 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    double lb, eb;
    ck_assert_msg(eqs_trainer_evaluate(j.tr, j.test, &lb, &eb) == EQS_OK, "%s",
                  eqs_ctx_error(j.ctx));
    eqs_solver_options o;
    tight_options(&o);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(j.ctx, j.c, EQS_BACKEND_NEWTON, &o, &s), EQS_OK);
    double sum = 0, vmax = 0, slope = 0;
    size_t n = eqs_dataset_size(j.test);
    for (size_t i = 0; i < n; ++i) {
        const double *x = eqs_dataset_features(j.test, i);
        for (int f = 0; f < 4; ++f) {
            ck_assert_int_eq(eqs_circuit_input_set(j.c, 2 * f, 1000 * x[f]), EQS_OK);
            ck_assert_int_eq(eqs_circuit_input_set(j.c, 2 * f + 1, -1000 * x[f]), EQS_OK);
        }
        ck_assert_msg(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL) == EQS_OK, "%s",
                      eqs_ctx_error(j.ctx));
        const double *v = eqs_solver_voltages(s);
        for (int k = 0; k < 3; ++k) {
            double y = k == eqs_dataset_label(j.test, i) ? 0.5 : 0.0;
            double o_k = v[eqs_circuit_output_node(j.c, k)];
            sum += 0.5 * (o_k - y) * (o_k - y);
            slope += fabs(o_k - y);
        }
        for (int q = 0; q < eqs_circuit_node_count(j.c); ++q) vmax = fmax(vmax, fabs(v[q]));
    }
    ck_assert_double_gt(vmax, 500);
    double ln = sum / (double)n;
    double tol = slope / (double)n * 1e-9;
    ck_assert_msg(fabs(lb - ln) <= tol, "batched %.17g, newton %.17g (tolerance %g)", lb, ln,
                  tol);
    eqs_solver_free(&s);
    job_close(&j);
}
END_TEST

/* `eqspice eval` of a generated DRN at input gain 100 V: auto (layered, batched free phases) exits 0 without warning
 * (all settings given)
 * and agrees with --solver newton (sample by sample, default reltol 1e-6:
 * the loss to 1e-6 relative; measured 2.7e-12) on 64 blobs samples. */
START_TEST(test_drn_large_gain_eval_cli)
{
    const int sizes[4] = {4, 8, 6, 3};
    char *text = tu_gen_drn_gain(sizes, 4, 100.0, 3);
    const char *path = tu_write_temp(text, ".cir");
    free(text);
    double loss[2], err[2];
    const char *solvers[2] = {"auto", "newton"};
    for (int k = 0; k < 2; ++k) {
        /* every setting given: a generated netlist has no evaluation cards */
        const char *const argv[] = {"eval",     path,  "--synthetic", "blobs", "--features",
                                    "4",        "--n", "64",          "--gain", "100",
                                    "--diodes", "shockley", "--on", "1", "--off", "0",
                                    "--solver", solvers[k], NULL};
        char *out = NULL, *errs = NULL;
        int rc = tu_run_cli(argv, &out, &errs, 60);
        ck_assert_msg(rc == 0, "%s: rc %d: %s", solvers[k], rc, errs);
        ck_assert_msg(strstr(errs, "warning") == NULL, "%s: %s", solvers[k], errs);
        const char *row = strchr(out, '\n');
        ck_assert_ptr_nonnull(row);
        size_t ns = 0;
        ck_assert_int_eq(sscanf(row + 1, "%zu,%lf,%lf", &ns, &loss[k], &err[k]), 3);
        ck_assert_uint_eq(ns, 64);
        free(out);
        free(errs);
    }
    ck_assert_msg(fabs(loss[0] - loss[1]) <= 1e-6 * loss[1], "loss auto %.17g newton %.17g",
                  loss[0], loss[1]);
    ck_assert_double_eq(err[0], err[1]);
}
END_TEST

/* The batched training step with Shockley diodes at input gain 1000 V:
 * still the element-wise update of the per-sample phases (criterion 4),
 * for 1 and 2 hidden layers. */
START_TEST(test_batched_update_large_gain)
{
    const char *layers[2] = {"4 7 3", "4 6 5 3"};
    for (int t = 0; t < 2; ++t) {
        const char *xml = gain_1000(drn_xml(layers[t], 4, 3, 12, 0, 5, 0.0, 4 + t, "shockley"));
        double e = local_update_error(xml, 4, 3, 4 + t, 1, 1000.0);
        ck_assert_msg(e <= 1e-6, "case %d: max error %g of the max step", t, e);
    }
}
END_TEST

/* A node whose diodes would carry an unbounded current (two diodes in
 * series across 100 V, nothing to limit them): the explicit layered
 * solver fails in its first sweep (not after 10000) with the node and the
 * reason; auto warns that the layered solver failed and why, tries Newton,
 * and reports Newton's own error (it fails too). */
START_TEST(test_node_failure_reported)
{
    net n;
    net_open_text(&n, "* unbounded\nv1 a 0 100\nd1 a b dm\nd2 b 0 dm\nr1 b 0 1k\n"
                      ".model dm d\n.end\n");
    logcap cap = {0};
    eqs_ctx_set_log(n.ctx, cap_log, &cap, EQS_LOG_INFO);
    eqs_solver *s = NULL;
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, NULL, &s), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_ERR_NOCONV);
    ck_assert_int_eq(info.iterations, 1);
    ck_assert_msg(strstr(eqs_ctx_error(n.ctx), "node 'b'") &&
                      strstr(eqs_ctx_error(n.ctx), "no root where the diode currents stay below"),
                  "%s", eqs_ctx_error(n.ctx));
    ck_assert_int_eq(cap.warn, 0);
    eqs_solver_free(&s);
    eqs_ctx_clear_error(n.ctx);
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, NULL, &s), EQS_OK);
    eqs_status st = eqs_solver_solve(s, EQS_SOLVE_COLD, NULL);
    ck_assert_int_ne(st, EQS_OK);
    ck_assert_int_eq(cap.warn, 1);
    ck_assert_msg(strstr(cap.first_warn, "layered solver failed") &&
                      strstr(cap.first_warn, "node 'b'") && strstr(cap.first_warn, "newton"),
                  "%s", cap.first_warn);
    ck_assert_msg(strstr(eqs_ctx_error(n.ctx), "layered") == NULL, "%s", eqs_ctx_error(n.ctx));
    eqs_solver_free(&s);
    net_close(&n);
}
END_TEST

/* Fallback (docs/solver.md "Fallback to Newton"): with bcd_max_sweeps = 2
 * the layered solver cannot converge on a 2-hidden-layer DRN.  auto then
 * solves with Newton: the result is Newton's (every node within its stop
 * test), one warning names the layered failure, a second failing solve
 * (nudged, warm) falls back again at info level; --solver layered given
 * explicitly reports EQS_ERR_NOCONV and warns nothing; ideal diodes have no
 * fallback (Newton cannot model them). */
START_TEST(test_auto_falls_back_to_newton)
{
    const int sizes[4] = {5, 7, 6, 3};
    net n;
    net_open_drn(&n, sizes, 4, 9, 3.0, 0, 0);
    logcap cap = {0};
    eqs_ctx_set_log(n.ctx, cap_log, &cap, EQS_LOG_INFO);
    eqs_solver_options o;
    tight_options(&o);
    o.bcd_max_sweeps = 2;
    eqs_solver *sa = NULL, *sl = NULL, *sn = NULL;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, &o, &sa), EQS_OK);
    ck_assert_int_eq(eqs_solver_backend(sa), EQS_BACKEND_LAYERED);
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_LAYERED, &o, &sl), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_NEWTON, &o, &sn), EQS_OK);
    int no = eqs_circuit_output_count(n.c), nodes[8];
    double g[8], inj[8];
    for (int k = 0; k < no; ++k)
        nodes[k] = eqs_circuit_output_node(n.c, k), g[k] = 1e-4, inj[k] = 1e-4 * 0.3;
    int nn = eqs_circuit_node_count(n.c);
    for (int phase = 0; phase < 2; ++phase) {
        if (phase == 1) {
            ck_assert_int_eq(eqs_solver_set_nudge(sa, no, nodes, g, inj), EQS_OK);
            ck_assert_int_eq(eqs_solver_set_nudge(sn, no, nodes, g, inj), EQS_OK);
        }
        eqs_solve_mode m = phase ? EQS_SOLVE_WARM : EQS_SOLVE_COLD;
        eqs_solve_info info;
        ck_assert_msg(eqs_solver_solve(sa, m, &info) == EQS_OK, "%s", eqs_ctx_error(n.ctx));
        ck_assert_ptr_nonnull(strstr(info.backend, "newton"));
        ck_assert_int_eq(eqs_solver_solve(sn, m, NULL), EQS_OK);
        const double *va = eqs_solver_voltages(sa), *vn = eqs_solver_voltages(sn);
        for (int i = 0; i < nn; ++i)
            ck_assert_msg(fabs(va[i] - vn[i]) <= 1e-13 * (fabs(vn[i]) + 1),
                          "phase %d node %s: %.17g vs %.17g", phase,
                          eqs_circuit_node_name(n.c, i), va[i], vn[i]);
        ck_assert_int_eq(cap.warn, 1);
        ck_assert_msg(strstr(cap.first_warn, "layered solver failed") &&
                          strstr(cap.first_warn, "no convergence after 2 sweeps") &&
                          strstr(cap.first_warn, "solving with newton"),
                      "%s", cap.first_warn);
    }
    ck_assert_int_ge(cap.info, 1); /* the second fallback */
    /* explicit: the failure */
    int w0 = cap.warn;
    ck_assert_int_eq(eqs_solver_solve(sl, EQS_SOLVE_COLD, NULL), EQS_ERR_NOCONV);
    ck_assert_msg(strstr(eqs_ctx_error(n.ctx), "no convergence after 2 sweeps"), "%s",
                  eqs_ctx_error(n.ctx));
    ck_assert_int_eq(cap.warn, w0);
    eqs_ctx_clear_error(n.ctx);
    eqs_solver_free(&sa);
    eqs_solver_free(&sl);
    eqs_solver_free(&sn);
    /* ideal diodes: no fallback */
    o.diodes = EQS_DIODES_IDEAL;
    o.bcd_max_sweeps = 1;
    ck_assert_int_eq(eqs_solver_create(n.ctx, n.c, EQS_BACKEND_AUTO, &o, &sa), EQS_OK);
    ck_assert_int_eq(eqs_solver_solve(sa, EQS_SOLVE_COLD, NULL), EQS_ERR_NOCONV);
    ck_assert_int_eq(cap.warn, w0);
    eqs_solver_free(&sa);
    net_close(&n);
}
END_TEST

/* Fallback in the batched path (layered_batch.inc phase_fallback): with
 * bcd_max_sweeps = 2 every batched phase of an auto trainer (Shockley
 * diodes) fails and Newton solves its rows.  Evaluation: the loss and
 * error of a sample-by-sample Newton trainer (both Newton at the trainer's
 * 1e-12 tolerances: loss within 1e-12 relative); one training step (free
 * and nudged phases redone): the conductances of the Newton trainer's step
 * within 1e-6 of the largest change (as test_batched_update_is_local); the
 * first fallback is a warning naming the batch phase, later ones info; the
 * circuit's input values are restored. */
START_TEST(test_batched_falls_back_to_newton)
{
    const char *base = drn_xml("4 6 5 3", 4, 3, 12, 10, 5, 0.0, 6, "shockley");
    const char *xa = replaced(base, "backend=\"layered\"", "backend=\"auto\"");
    const char *xn = replaced(base, "backend=\"layered\"", "backend=\"newton\"");
    job a, n;
    job_open(&a, xa, 0);
    logcap cap = {0};
    eqs_ctx_set_log(a.ctx, cap_log, &cap, EQS_LOG_INFO);
    eqs_trainer_options to;
    eqs_trainer_options_defaults(&to);
    to.solver.bcd_max_sweeps = 2;
    ck_assert_int_eq(eqs_trainer_create(a.ctx, a.exp, a.c, a.train, &to, &a.tr), EQS_OK);
    ck_assert_int_eq(eqs_trainer_batched(a.tr), 1);
    job_open(&n, xn, 1);
    ck_assert_int_eq(eqs_trainer_batched(n.tr), 0);
    int nin = eqs_circuit_input_count(a.c);
    double u0[16];
    for (int k = 0; k < nin; ++k) u0[k] = eqs_circuit_input_get(a.c, k);
    double la, ea, ln, en;
    ck_assert_msg(eqs_trainer_evaluate(a.tr, a.test, &la, &ea) == EQS_OK, "%s",
                  eqs_ctx_error(a.ctx));
    ck_assert_int_eq(eqs_trainer_evaluate(n.tr, n.test, &ln, &en), EQS_OK);
    ck_assert_msg(fabs(la - ln) <= 1e-12 * ln, "loss %.17g vs %.17g", la, ln);
    ck_assert_double_eq(ea, en);
    ck_assert_int_eq(cap.warn, 1);
    ck_assert_msg(strstr(cap.first_warn, "batch free phase did not converge in 2 sweeps") &&
                      strstr(cap.first_warn, "solving with newton"),
                  "%s", cap.first_warn);
    for (int k = 0; k < nin; ++k) ck_assert_double_eq(eqs_circuit_input_get(a.c, k), u0[k]);
    int np = eqs_circuit_param_count(a.c);
    double *g0 = conductances(a.c);
    ck_assert_msg(eqs_trainer_step(a.tr) == EQS_OK, "%s", eqs_ctx_error(a.ctx));
    ck_assert_int_eq(eqs_trainer_step(n.tr), EQS_OK);
    double *ga = conductances(a.c), *gn = conductances(n.c);
    double maxstep = 0, maxerr = 0;
    for (int k = 0; k < np; ++k) {
        maxstep = fmax(maxstep, fabs(gn[k] - g0[k]));
        maxerr = fmax(maxerr, fabs(ga[k] - gn[k]));
    }
    ck_assert_double_gt(maxstep, 0);
    ck_assert_msg(maxerr <= 1e-6 * maxstep, "max error %g of the max step %g", maxerr, maxstep);
    ck_assert_int_eq(cap.warn, 1);
    ck_assert_int_ge(cap.info, 3); /* free and two nudged phases of the step */
    free(g0);
    free(ga);
    free(gn);
    job_close(&a);
    job_close(&n);
}
END_TEST

/* The same through the CLI: `op --max-sweeps 2` exits 0 with Newton's
 * voltages and the warning on stderr; with --solver layered it exits 1
 * with the layered error. */
START_TEST(test_cli_fallback)
{
    const int sizes[4] = {5, 7, 6, 3};
    char *text = tu_gen_drn_gain(sizes, 4, 3.0, 9);
    const char *path = tu_write_temp(text, ".cir");
    free(text);
    char *out[3] = {NULL}, *err[3] = {NULL};
    const char *const a1[] = {"op", path, "--max-sweeps", "2", NULL};
    const char *const a2[] = {"op", path, "--max-sweeps", "2", "--solver", "layered", NULL};
    const char *const a3[] = {"op", path, "--solver", "newton", NULL};
    ck_assert_int_eq(tu_run_cli(a1, &out[0], &err[0], 30), 0);
    ck_assert_int_eq(tu_run_cli(a2, &out[1], &err[1], 30), 1);
    ck_assert_int_eq(tu_run_cli(a3, &out[2], &err[2], 30), 0);
    ck_assert_msg(strstr(err[0], "warning") && strstr(err[0], "layered solver failed") &&
                      strstr(err[0], "solving with newton"),
                  "%s", err[0]);
    ck_assert_str_eq(out[0], out[2]); /* Newton's voltages, %.17g */
    ck_assert_msg(strstr(err[1], "error") && strstr(err[1], "no convergence after 2 sweeps") &&
                      !strstr(err[1], "warning"),
                  "%s", err[1]);
    ck_assert_str_eq(out[1], "");
    for (int k = 0; k < 3; ++k) free(out[k]), free(err[k]);
}
END_TEST

/* CLI: --solver layered on a non-layered netlist, ideal diodes with Newton. */
START_TEST(test_cli_layered_errors)
{
    char *out = NULL, *err = NULL;
    const char *const a1[] = {"op", tu_path("netlists/amplifier.cir"), "--solver", "layered",
                              NULL};
    int rc = tu_run_cli(a1, &out, &err, 20);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "not a layered network") && strstr(err, "controlled source"),
                  "%s", err);
    free(out);
    free(err);
    const char *const a2[] = {"op", tu_path("netlists/crossbar3x3.cir"), "--solver", "newton",
                              "--diodes", "ideal", NULL};
    rc = tu_run_cli(a2, &out, &err, 20);
    free(out);
    free(err);
    /* crossbar3x3 has no diode: ideal is harmless; a DRN with diodes is not */
    ck_assert_int_eq(rc, 0);
    const char *dnet = tu_write_temp("* d\nv1 a 0 dc 1\nr1 a b 1k\nd1 b 0 dm\n.model dm D\n.end\n",
                                    ".cir");
    const char *const a3[] = {"op", dnet, "--solver", "newton", "--diodes", "ideal", NULL};
    rc = tu_run_cli(a3, &out, &err, 20);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "cannot model ideal diodes"), "%s", err);
    free(out);
    free(err);
}
END_TEST

Suite *suite_layered(void)
{
    Suite *s = suite_create("layered");
    TCase *tc = tcase_create("layered");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_detect_generated);
    tcase_add_test(tc, test_detect_hand_shuffled);
    tcase_add_test(tc, test_detect_rejections);
    tcase_add_test(tc, test_detect_rails);
    tcase_add_test(tc, test_shockley_matches_newton);
    tcase_add_test(tc, test_ideal_kcl_and_gradient);
    tcase_add_test(tc, test_batched_update_is_local);
    tcase_add_test(tc, test_two_cores);
    tcase_add_test(tc, test_rails);
    tcase_add_test(tc, test_rail_divergence_reported);
    tcase_add_test(tc, test_batched_free_matches_single);
    tcase_add_test(tc, test_batched_no_alloc);
    tcase_add_test(tc, test_batched_resume_bit_identical);
    tcase_add_test(tc, test_batched_learns);
    tcase_add_test(tc, test_single_precision);
    tcase_add_test(tc, test_cli_layered_errors);
    tcase_add_test(tc, test_overflow_matches_newton_and_ngspice);
    tcase_add_test(tc, test_drn_large_gain_matches_newton);
    tcase_add_test(tc, test_drn_large_gain_eval_cli);
    tcase_add_test(tc, test_batched_update_large_gain);
    tcase_add_test(tc, test_batched_eval_large_gain);
    tcase_add_test(tc, test_node_failure_reported);
    tcase_add_test(tc, test_auto_falls_back_to_newton);
    tcase_add_test(tc, test_batched_falls_back_to_newton);
    tcase_add_test(tc, test_cli_fallback);
    suite_add_tcase(s, tc);
    return s;
}
