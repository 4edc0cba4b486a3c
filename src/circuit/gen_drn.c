/*
 * gen_drn.c: generator for layered diode-resistor networks (DRNs).
 *
 * Layout of the generated netlist (all names lower case):
 *   - input pixel p (0-based) drives two grounded sources:
 *       vxp<p>: node xp<p> at +A*x_p,   vxn<p>: node xn<p> at -A*x_p
 *     so that non-negative conductances act as signed weights;
 *   - hidden layer l (1-based) node j: h<l>_<j>; output node j: o<j>;
 *   - crossbar between consecutive layers: one resistor per pair,
 *       r<l>_<i>_<j> from node i of layer l-1 (the 2*n0 input nodes for
 *       l = 1) to node j of layer l, written as one `.crossbar r<l>` card
 *       (docs/netlist.md "Crossbars") with r=(...) values;
 *   - each hidden node has a diode to ground: even j "dp<l>_<j> 0 h" (anode
 *     at ground: keeps V >= about -0.6 V, i.e. the unit is rectified to
 *     V >= 0) and odd j "dn<l>_<j> h 0" (keeps V <= 0), optionally in series
 *     with a bias source vb<l>_<j>;
 *   - output nodes are linear (no diode);
 *   - cards: .input (all vxp/vxn), .output (all o<j>), .trainable r*;
 *   - output_pairs: output unit k is the pair o<k>p, o<k>n (both linear,
 *     each fully connected to the previous layer), card .output_pair;
 *   - amplifier_gain > 0: hidden node h<l>_<j> reaches the next crossbar
 *     through a bidirectional amplifier whose output node is a<l>_<j>
 *     (write_amplifiers below);
 *   - rwire_ohm > 0: every crossbar card carries rwire= (wire segments of
 *     that resistance along each row and column line, docs/netlist.md);
 *   - rails_V > 0 (trainable biases): sources vbp (node bp, +rails_V) and
 *     vbn (node bn, -rails_V), not inputs; after crossbar l, resistors
 *     r<l>_bp_<j> and r<l>_bn_<j> from bp and bn to node j of layer l, both
 *     at g_min_S (no RNG draw: the crossbars are the same with or without
 *     rails).
 * Conductances are uniform in [g_min_S, g_max_S] from the RNG's INIT stream
 * (inputs first, then crossbars in order), written as resistances with 9
 * significant digits: the file is the definition of the network.
 *
 * One generator writes the text (eqs_gen_drn) and builds the netlist
 * directly (eqs_drn_build): every value of the direct build is read back
 * from the very characters the text would hold (the parser's number
 * scanner on the "%.9g" / "%.17g" text), elements, nodes and cards come in
 * the file's order and carry the file's line:col, so the built netlist
 * equals the parsed text.  With
 * g_fan_in the upper bound of crossbar l is g_fan_in_S / sqrt(fan-in of
 * layer l) (fan_in_max below; docs/tuning.md), the same draws otherwise.
 */
#include "circuit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void eqs_drn_spec_defaults(eqs_drn_spec *spec)
{
    spec->n_layers = 0;
    spec->layers = NULL;
    spec->seed = 1;
    spec->gain = 1.0;
    spec->g_min_S = 1e-6;
    spec->g_max_S = 1e-4;
    spec->g_fan_in = 0;
    spec->g_fan_in_S = 0.5;
    spec->bias = 0;
    spec->bias_V = 0.0;
    spec->bias_mirrored = 0;
    spec->diode_is_A = 1e-14;
    spec->diode_n = 1.0;
    spec->output_pairs = 0;
    spec->amplifier_gain = 0.0;
    spec->rails_V = 0.0;
    spec->rwire_ohm = 0.0;
}

/* Number of nodes of layer l >= 1 (the output layer has two per unit with
 * differential outputs). */
static int width(const eqs_drn_spec *sp, int l)
{
    return (l == sp->n_layers - 1 && sp->output_pairs) ? 2 * sp->layers[l] : sp->layers[l];
}

/* Upper bound (S) of crossbar l's initial conductances. */
static double fan_in_max(const eqs_drn_spec *sp, int l)
{
    if (!sp->g_fan_in) return sp->g_max_S;
    int nin = (l == 1) ? 2 * sp->layers[0] : sp->layers[l - 1];
    return sp->g_fan_in_S / sqrt((double)nin);
}

/* Name of node j of layer l into buf (layer 0 = inputs, two per pixel). */
static void node_name(char *buf, size_t n, const eqs_drn_spec *sp, int l, int j)
{
    if (l == 0) {
        int p = j / 2;
        snprintf(buf, n, "%s%d", (j % 2) ? "xn" : "xp", p);
    } else if (l == sp->n_layers - 1 && sp->output_pairs) {
        snprintf(buf, n, "o%d%s", j / 2, (j % 2) ? "n" : "p");
    } else if (l == sp->n_layers - 1) {
        snprintf(buf, n, "o%d", j);
    } else {
        snprintf(buf, n, "h%d_%d", l, j);
    }
}

/* ---- the generator: one pass that writes text and/or builds ---------- */

typedef struct {
    eqs_ctx *ctx;
    const eqs_drn_spec *sp;
    FILE *out;          /* text mode: the netlist file */
    eqs_netlist *nl;    /* build mode: the netlist being built */
    const char *path;   /* build mode: file name of every loc */
    int line;           /* number of the line being formatted (the title is 1) */
    char *buf;          /* the line being formatted */
    size_t cap, len;
    eqs_status st;      /* first failure */
} gen;

static void g_printf(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void g_printf(gen *g, const char *fmt, ...)
{
    if (g->st) return;
    for (;;) { /* format into the room left; grow and retry when it does not fit */
        size_t room = g->cap > g->len + 1 ? g->cap - g->len - 1 : 0;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(g->buf ? g->buf + g->len : NULL, g->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            g->st = EQS_ERROR(g->ctx, EQS_ERR_INTERNAL, "cannot format the DRN netlist");
            return;
        }
        if ((size_t)k < room) {
            g->len += (size_t)k;
            return;
        }
        if (eqs_grow(g->ctx, (void **)&g->buf, &g->cap, g->len + (size_t)k + 256, 1)) {
            g->st = EQS_ERR_NOMEM;
            return;
        }
    }
}

/* End the line being formatted: written in text mode, counted in both. */
static void g_eol(gen *g)
{
    if (g->st) return;
    if (g->out) {
        g->buf[g->len] = '\n';
        fwrite(g->buf, 1, g->len + 1, g->out);
    }
    g->len = 0;
    g->line++;
}

static eqs_loc g_loc(const gen *g, size_t col0)
{
    eqs_loc l = {g->path, g->line, (int)col0 + 1};
    return l;
}

/* The value of the characters buf[from..len) as the parser reads them. */
static double g_scan(const gen *g, size_t from)
{
    size_t used = 0;
    double v = 0;
    if (!eqs_number_scan(g->buf + from, g->len - from, &used, &v)) return NAN;
    return v;
}

/* Append the value v formatted with fmt; in build mode its parsed value. */
static double g_value(gen *g, const char *fmt, double v)
{
    size_t from = g->len;
    g_printf(g, fmt, v);
    return g->nl && !g->st ? g_scan(g, from) : v;
}

static int g_node(gen *g, const char *name)
{
    int k = eqs_netlist_add_node(g->nl, name);
    if (k < 0 && !g->st) g->st = EQS_ERR_NOMEM;
    return k;
}

/* A two- or four-node element line already formatted (name, nodes,
 * value): built from the given fields. */
static void g_elem(gen *g, eqs_elem_kind kind, const char *name, const char *const *nodes,
                   int n_nodes, double value, int model, const char *ctrl)
{
    if (!g->nl || g->st) return;
    eqs_element e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.n_nodes = n_nodes;
    for (int k = 0; k < 4; ++k) e.node[k] = k < n_nodes ? g_node(g, nodes[k]) : -1;
    e.value = value;
    e.model = model;
    e.area = 1.0;
    e.loc = g_loc(g, 0);
    if (!g->st) g->st = eqs_netlist_add_elem(g->nl, &e, name, ctrl, NULL);
}

/* "name a b dc V" */
static void g_vsource(gen *g, const char *name, const char *a, const char *b, double v)
{
    g_printf(g, "%s %s %s dc ", name, a, b);
    double x = g_value(g, "%.17g", v);
    const char *nodes[2] = {a, b};
    g_elem(g, EQS_EL_V, name, nodes, 2, x, -1, NULL);
    g_eol(g);
}

/* "name a b R" (R with 9 significant digits) */
static void g_resistor(gen *g, const char *name, const char *a, const char *b, double r)
{
    g_printf(g, "%s %s %s ", name, a, b);
    double x = g_value(g, "%.9g", r);
    const char *nodes[2] = {a, b};
    g_elem(g, EQS_EL_R, name, nodes, 2, x, -1, NULL);
    g_eol(g);
}

/* A wrapped list "key=(a b c ...)": 16 items per line; row_break > 0
 * starts a new line every row_break items (one matrix row per line). */
static void g_list_item(gen *g, int k, int row_break)
{
    if (k == 0) return;
    if ((row_break > 0 ? k % row_break : k) % 16 == 0) {
        g_eol(g);
        g_printf(g, "+ ");
    } else {
        g_printf(g, " ");
    }
}

/* `.crossbar name` card from row nodes, column nodes and conductances g
 * (S, row-major), written as r=(...) resistances with 9 digits. */
static void g_crossbar(gen *g, const char *name, int R, int C, char (*rown)[32],
                       char (*coln)[32], const double *gS, double *rbuf)
{
    int line0 = g->line;
    g_printf(g, ".crossbar %s", name);
    double rwire = 0;
    if (g->sp->rwire_ohm > 0) {
        g_printf(g, " rwire=");
        rwire = g_value(g, "%.17g", g->sp->rwire_ohm);
    }
    g_eol(g);
    g_printf(g, "+ rows=(");
    for (int i = 0; i < R; ++i) {
        g_list_item(g, i, 0);
        g_printf(g, "%s", rown[i]);
    }
    g_printf(g, ")");
    g_eol(g);
    g_printf(g, "+ cols=(");
    for (int j = 0; j < C; ++j) {
        g_list_item(g, j, 0);
        g_printf(g, "%s", coln[j]);
    }
    g_printf(g, ")");
    g_eol(g);
    g_printf(g, "+ r=(");
    size_t nd = (size_t)R * (size_t)C;
    for (size_t d = 0; d < nd; ++d) {
        g_list_item(g, (int)d, C);
        rbuf[d] = g_value(g, "%.9g", 1.0 / gS[d]);
    }
    g_printf(g, ")");
    g_eol(g);
    if (!g->nl || g->st) return;
    eqs_name_ref *refs = eqs_malloc(g->ctx, sizeof *refs * ((size_t)R + (size_t)C));
    if (!refs) {
        g->st = EQS_ERR_NOMEM;
        return;
    }
    for (int i = 0; i < R; ++i) refs[i] = (eqs_name_ref){rown[i], strlen(rown[i])};
    for (int j = 0; j < C; ++j) refs[R + j] = (eqs_name_ref){coln[j], strlen(coln[j])};
    eqs_loc loc = {g->path, line0, 1};
    eqs_crossbar_spec xs = {name, strlen(name), R, C, refs, refs + R, rbuf, 0, 0, rwire, loc, NULL};
    g->st = eqs_netlist_add_crossbar(g->nl, &xs, NULL);
    eqs_free(g->ctx, refs);
}

/* Extension card names: " name" appended; in build mode added at its column. */
typedef enum { G_INPUT, G_OUTPUT, G_OUTPUT_PAIR } g_card;
static void g_card_name(gen *g, g_card kind, const char *name)
{
    g_printf(g, " ");
    size_t col0 = g->len;
    g_printf(g, "%s", name);
    if (!g->nl || g->st) return;
    g->st = kind == G_INPUT ? eqs_netlist_add_input(g->nl, name, g_loc(g, col0))
                            : eqs_netlist_add_output(g->nl, name, kind == G_OUTPUT_PAIR,
                                                     g_loc(g, col0));
}

/* ---- amplifier stages (spec->amplifier_gain > 0) ---------------------
 * Hidden node h<l>_<j> drives the next crossbar through the bidirectional
 * amplifier of netlists/bidir_amp.cir, written inline:
 *   ea<l>_<j> m<l>_<j> 0 h<l>_<j> 0 A     forward VCVS, gain A
 *   va<l>_<j> m<l>_<j> a<l>_<j> dc 0      sense source (current into a)
 *   fa<l>_<j> h<l>_<j> 0 va<l>_<j> 1/A    backward CCCS: draws I(va)/A from h
 * and the crossbar of layer l + 1 starts at a<l>_<j>. */
static int amplified(const eqs_drn_spec *sp, int l)
{
    return sp->amplifier_gain > 0 && l >= 1 && l < sp->n_layers - 1;
}

static void write_amplifiers(gen *g, int l)
{
    const double A = g->sp->amplifier_gain;
    char e[48], m[48], h[48], v[48], a[48], f[48];
    g_printf(g, "* bidirectional amplifiers after hidden layer %d (gain %.17g)", l, A);
    g_eol(g);
    for (int j = 0; j < g->sp->layers[l]; ++j) {
        snprintf(e, sizeof e, "ea%d_%d", l, j);
        snprintf(m, sizeof m, "m%d_%d", l, j);
        snprintf(h, sizeof h, "h%d_%d", l, j);
        snprintf(v, sizeof v, "va%d_%d", l, j);
        snprintf(a, sizeof a, "a%d_%d", l, j);
        snprintf(f, sizeof f, "fa%d_%d", l, j);
        g_printf(g, "%s %s 0 %s 0 ", e, m, h);
        double x = g_value(g, "%.17g", A);
        const char *n4[4] = {m, "0", h, "0"};
        g_elem(g, EQS_EL_E, e, n4, 4, x, -1, NULL);
        g_eol(g);
        g_printf(g, "%s %s %s dc ", v, m, a);
        x = g_value(g, "%.17g", 0.0);
        const char *n2[2] = {m, a};
        g_elem(g, EQS_EL_V, v, n2, 2, x, -1, NULL);
        g_eol(g);
        g_printf(g, "%s %s 0 %s ", f, h, v);
        x = g_value(g, "%.17g", 1.0 / A);
        const char *nf[2] = {h, "0"};
        g_elem(g, EQS_EL_F, f, nf, 2, x, -1, v);
        g_eol(g);
    }
}

static eqs_status check_spec(eqs_ctx *ctx, const eqs_drn_spec *sp)
{
    if (!sp || sp->n_layers < 2 || !sp->layers)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "a DRN needs at least 2 layers (input, output)");
    for (int l = 0; l < sp->n_layers; ++l)
        if (sp->layers[l] < 1 || sp->layers[l] > 100000)
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "layer %d has size %d (must be 1..100000)", l,
                             sp->layers[l]);
    if (!(sp->g_min_S > 0) || (!sp->g_fan_in && !(sp->g_max_S >= sp->g_min_S)) ||
        !isfinite(sp->g_max_S))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "conductance range must satisfy 0 < g_min_S <= g_max_S (got %g, %g)",
                         sp->g_min_S, sp->g_max_S);
    for (int l = 1; sp->g_fan_in && l < sp->n_layers; ++l)
        if (!(sp->g_fan_in_S > 0) || !isfinite(sp->g_fan_in_S) ||
            !(fan_in_max(sp, l) >= sp->g_min_S))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "g_init=fan_in: crossbar %d's upper bound %g S (scale %g S / "
                             "sqrt(fan-in)) is below g_min_S = %g S",
                             l, fan_in_max(sp, l), sp->g_fan_in_S, sp->g_min_S);
    if (!isfinite(sp->gain) || !isfinite(sp->bias_V) || !(sp->diode_is_A > 0) ||
        !(sp->diode_n > 0))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "gain, bias and diode parameters must be finite "
                                             "(IS > 0, N > 0)");
    if (!(sp->rails_V >= 0) || !isfinite(sp->rails_V))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "rail voltage must be finite and >= 0 (0: no "
                                             "rails; got %g)", sp->rails_V);
    if (!(sp->rwire_ohm >= 0) || !isfinite(sp->rwire_ohm))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "wire resistance must be finite and >= 0 (0: "
                                             "ideal wires; got %g)", sp->rwire_ohm);
    if (!(sp->amplifier_gain >= 0) || !isfinite(sp->amplifier_gain))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "amplifier gain must be finite and >= 0 (0: none; got %g)",
                         sp->amplifier_gain);
    return EQS_OK;
}

/* The whole network, in file order. */
static void generate(gen *g)
{
    const eqs_drn_spec *sp = g->sp;
    eqs_ctx *ctx = g->ctx;
    char a[64], b[64], nm[64];

    g_printf(g, "* eqspice gen drn: layers ");
    for (int l = 0; l < sp->n_layers; ++l) g_printf(g, "%s%d", l ? "," : "", sp->layers[l]);
    g_printf(g, " seed %" PRIu64 " gain %.17g V", sp->seed, sp->gain);
    if (g->nl && !g->st) {
        g->buf[g->len] = '\0';
        char *t = eqs_strdup(ctx, g->buf);
        if (!t) g->st = EQS_ERR_NOMEM;
        eqs_free(ctx, g->nl->title);
        g->nl->title = t;
    }
    g_eol(g);
    if (sp->g_fan_in)
        g_printf(g, "* generated by eqspice %s; conductances uniform in [%g, %g / sqrt(fan-in)] "
                    "S (g_init=fan_in)", EQS_VERSION, sp->g_min_S, sp->g_fan_in_S);
    else
        g_printf(g, "* generated by eqspice %s; conductances uniform in [%g, %g] S", EQS_VERSION,
                 sp->g_min_S, sp->g_max_S);
    g_eol(g);
    {   /* the parser's `.model dpos D(...)`: defaults, then IS and N */
        eqs_diode_model m;
        eqs_diode_model_defaults(&m);
        g_printf(g, ".model dpos D(IS=");
        m.is_A = g_value(g, "%.17g", sp->diode_is_A);
        g_printf(g, " N=");
        m.n = g_value(g, "%.17g", sp->diode_n);
        g_printf(g, ")");
        if (g->nl && !g->st) {
            char card[96];
            snprintf(card, sizeof card, "is=%.17g n=%.17g", m.is_A, m.n);
            m.name = "dpos";
            m.card = card;
            m.loc = g_loc(g, 0);
            g->st = eqs_netlist_add_diode_model(g->nl, &m, NULL);
        }
        g_eol(g);
    }

    /* Inputs: a pair of grounded sources per pixel. */
    g_printf(g, "* inputs: pixel x in [0,1) drives +A*x and -A*x");
    g_eol(g);
    int n0 = sp->layers[0];
    for (int p = 0; p < n0 && !g->st; ++p) {
        double x = eqs_rng_uniform(ctx, EQS_RNG_INIT);
        snprintf(nm, sizeof nm, "vxp%d", p);
        snprintf(a, sizeof a, "xp%d", p);
        g_vsource(g, nm, a, "0", sp->gain * x);
        snprintf(nm, sizeof nm, "vxn%d", p);
        snprintf(a, sizeof a, "xn%d", p);
        g_vsource(g, nm, a, "0", -sp->gain * x);
    }

    if (sp->rails_V > 0) {
        g_printf(g, "* bias rails (trainable biases through r<l>_bp_<j>, r<l>_bn_<j>)");
        g_eol(g);
        g_vsource(g, "vbp", "bp", "0", sp->rails_V);
        g_vsource(g, "vbn", "bn", "0", -sp->rails_V);
    }

    /* Crossbars. */
    for (int l = 1; l < sp->n_layers && !g->st; ++l) {
        int nin = (l == 1) ? 2 * n0 : sp->layers[l - 1], nout = width(sp, l);
        const double g_hi = fan_in_max(sp, l);
        if (sp->g_fan_in)
            g_printf(g, "* crossbar %d: %d x %d, conductances uniform in [%g, %.9g] S", l, nin,
                     nout, sp->g_min_S, g_hi);
        else
            g_printf(g, "* crossbar %d: %d x %d", l, nin, nout);
        g_eol(g);
        size_t nd = (size_t)nin * (size_t)nout;
        char(*rown)[32] = eqs_malloc(ctx, sizeof *rown * (size_t)nin);
        char(*coln)[32] = eqs_malloc(ctx, sizeof *coln * (size_t)nout);
        double *gS = eqs_malloc(ctx, sizeof *gS * nd);
        double *rb = eqs_malloc(ctx, sizeof *rb * nd);
        if (!rown || !coln || !gS || !rb) {
            g->st = EQS_ERR_NOMEM;
        } else {
            for (int i = 0; i < nin; ++i) {
                node_name(rown[i], sizeof rown[i], sp, l - 1, i);
                if (amplified(sp, l - 1)) rown[i][0] = 'a'; /* h<l>_<j> -> a<l>_<j> */
            }
            for (int j = 0; j < nout; ++j) node_name(coln[j], sizeof coln[j], sp, l, j);
            for (size_t d = 0; d < nd; ++d)
                gS[d] = sp->g_min_S + (g_hi - sp->g_min_S) * eqs_rng_uniform(ctx, EQS_RNG_INIT);
            snprintf(nm, sizeof nm, "r%d", l);
            g_crossbar(g, nm, nin, nout, rown, coln, gS, rb);
        }
        eqs_free(ctx, rown);
        eqs_free(ctx, coln);
        eqs_free(ctx, gS);
        eqs_free(ctx, rb);
        if (sp->rails_V > 0)
            for (int j = 0; j < nout; ++j) {
                node_name(b, sizeof b, sp, l, j);
                snprintf(nm, sizeof nm, "r%d_bp_%d", l, j);
                g_resistor(g, nm, "bp", b, 1.0 / sp->g_min_S);
                snprintf(nm, sizeof nm, "r%d_bn_%d", l, j);
                g_resistor(g, nm, "bn", b, 1.0 / sp->g_min_S);
            }
    }

    /* Hidden diodes, half in each direction, optionally with a bias source. */
    for (int l = 1; l < sp->n_layers - 1 && !g->st; ++l) {
        g_printf(g, "* hidden layer %d diodes", l);
        g_eol(g);
        for (int j = 0; j < sp->layers[l]; ++j) {
            node_name(b, sizeof b, sp, l, j);
            const char *gnd = "0";
            if (sp->bias) {
                snprintf(a, sizeof a, "hb%d_%d", l, j);
                snprintf(nm, sizeof nm, "vb%d_%d", l, j);
                g_vsource(g, nm, a, "0",
                          sp->bias_mirrored && j % 2 != 0 ? -sp->bias_V : sp->bias_V);
                gnd = a;
            }
            const char *an = j % 2 == 0 ? gnd : b, *ca = j % 2 == 0 ? b : gnd;
            snprintf(nm, sizeof nm, "%s%d_%d", j % 2 == 0 ? "dp" : "dn", l, j);
            g_printf(g, "%s %s %s dpos", nm, an, ca);
            const char *nodes[2] = {an, ca};
            g_elem(g, EQS_EL_D, nm, nodes, 2, 0.0, 0, NULL);
            g_eol(g);
        }
        if (amplified(sp, l)) write_amplifiers(g, l);
    }

    /* Extension cards: 16 names per card. */
    for (int p = 0; p < n0; p += 8) {
        g_printf(g, ".input");
        for (int q = p; q < p + 8 && q < n0; ++q) {
            snprintf(nm, sizeof nm, "vxp%d", q);
            g_card_name(g, G_INPUT, nm);
            snprintf(nm, sizeof nm, "vxn%d", q);
            g_card_name(g, G_INPUT, nm);
        }
        g_eol(g);
    }
    int nout = width(sp, sp->n_layers - 1);
    for (int j = 0; j < nout; j += 16) { /* 16 names: whole pairs per card */
        g_printf(g, sp->output_pairs ? ".output_pair" : ".output");
        for (int q = j; q < j + 16 && q < nout; ++q) {
            node_name(a, sizeof a, sp, sp->n_layers - 1, q);
            g_card_name(g, sp->output_pairs ? G_OUTPUT_PAIR : G_OUTPUT, a);
        }
        g_eol(g);
    }
    g_printf(g, ".trainable ");
    if (g->nl && !g->st) g->st = eqs_netlist_add_trainable(g->nl, "r*", g_loc(g, g->len));
    g_printf(g, "r*");
    g_eol(g);
    g_printf(g, ".op");
    if (g->nl) g->nl->has_op = 1;
    g_eol(g);
    g_printf(g, ".end");
    g_eol(g);
}

eqs_status eqs_gen_drn(eqs_ctx *ctx, const eqs_drn_spec *sp, FILE *out)
{
    eqs_status st = check_spec(ctx, sp);
    if (st) return st;
    eqs_ctx_seed(ctx, sp->seed);
    gen g = {ctx, sp, out, NULL, NULL, 1, NULL, 0, 0, EQS_OK};
    generate(&g);
    eqs_free(ctx, g.buf);
    if (g.st) return g.st == EQS_ERR_NOMEM && eqs_ctx_status(ctx) == EQS_OK
                         ? EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory generating the DRN")
                         : g.st;
    if (ferror(out)) return EQS_ERROR(ctx, EQS_ERR_IO, "write error while generating the netlist");
    return EQS_OK;
}

eqs_status eqs_drn_build_as(eqs_ctx *ctx, const eqs_drn_spec *sp, const char *name,
                            eqs_netlist **out)
{
    if (!out) return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_drn_build: out is NULL");
    *out = NULL;
    eqs_status st = check_spec(ctx, sp);
    if (st) return st;
    eqs_netlist *nl = NULL;
    if ((st = eqs_netlist_create(ctx, "", name ? name : "generated drn", &nl))) return st;
    eqs_ctx_seed(ctx, sp->seed);
    gen g = {ctx, sp, NULL, nl, nl->files[0], 1, NULL, 0, 0, EQS_OK};
    generate(&g);
    eqs_free(ctx, g.buf);
    st = g.st;
    if (st == EQS_OK) st = eqs_netlist_finish(nl);
    if (st) {
        if (st == EQS_ERR_NOMEM && eqs_ctx_status(ctx) == EQS_OK)
            EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory building the DRN");
        eqs_netlist_free(&nl);
        return st;
    }
    *out = nl;
    return EQS_OK;
}

eqs_status eqs_drn_build(eqs_ctx *ctx, const eqs_drn_spec *sp, eqs_netlist **out)
{
    return eqs_drn_build_as(ctx, sp, "generated drn", out);
}
