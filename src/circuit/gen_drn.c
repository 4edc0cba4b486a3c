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
 *       l = 1) to node j of layer l;
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
 *   - rails_V > 0 (trainable biases): sources vbp (node bp, +rails_V) and
 *     vbn (node bn, -rails_V), not inputs; after crossbar l, resistors
 *     r<l>_bp_<j> and r<l>_bn_<j> from bp and bn to node j of layer l, both
 *     at g_min_S (no RNG draw: the crossbars are the same with or without
 *     rails).
 * Conductances are uniform in [g_min_S, g_max_S] from the RNG's INIT stream
 * (inputs first, then crossbars in order), written as resistances with 9
 * significant digits: the file is the definition of the network.  With
 * g_fan_in the upper bound of crossbar l is g_fan_in_S / sqrt(fan-in of
 * layer l) (fan_in_max below; docs/tuning.md), the same draws otherwise.
 */
#include "circuit.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

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
    spec->diode_is_A = 1e-14;
    spec->diode_n = 1.0;
    spec->output_pairs = 0;
    spec->amplifier_gain = 0.0;
    spec->rails_V = 0.0;
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

static void write_amplifiers(const eqs_drn_spec *sp, int l, FILE *out)
{
    const double A = sp->amplifier_gain;
    fprintf(out, "* bidirectional amplifiers after hidden layer %d (gain %.17g)\n", l, A);
    for (int j = 0; j < sp->layers[l]; ++j) {
        fprintf(out, "ea%d_%d m%d_%d 0 h%d_%d 0 %.17g\n", l, j, l, j, l, j, A);
        fprintf(out, "va%d_%d m%d_%d a%d_%d dc 0\n", l, j, l, j, l, j);
        fprintf(out, "fa%d_%d h%d_%d 0 va%d_%d %.17g\n", l, j, l, j, l, j, 1.0 / A);
    }
}

eqs_status eqs_gen_drn(eqs_ctx *ctx, const eqs_drn_spec *sp, FILE *out)
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
    if (!(sp->amplifier_gain >= 0) || !isfinite(sp->amplifier_gain))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "amplifier gain must be finite and >= 0 (0: none; got %g)",
                         sp->amplifier_gain);

    eqs_ctx_seed(ctx, sp->seed);
    char a[64], b[64];

    fprintf(out, "* eqspice gen drn: layers ");
    for (int l = 0; l < sp->n_layers; ++l) fprintf(out, "%s%d", l ? "," : "", sp->layers[l]);
    fprintf(out, " seed %" PRIu64 " gain %.17g V\n", sp->seed, sp->gain);
    if (sp->g_fan_in)
        fprintf(out, "* generated by eqspice %s; conductances uniform in [%g, %g / sqrt(fan-in)] "
                     "S (g_init=fan_in)\n", EQS_VERSION, sp->g_min_S, sp->g_fan_in_S);
    else
        fprintf(out, "* generated by eqspice %s; conductances uniform in [%g, %g] S\n",
                EQS_VERSION, sp->g_min_S, sp->g_max_S);
    fprintf(out, ".model dpos D(IS=%.17g N=%.17g)\n", sp->diode_is_A, sp->diode_n);

    /* Inputs: a pair of grounded sources per pixel. */
    fprintf(out, "* inputs: pixel x in [0,1) drives +A*x and -A*x\n");
    int n0 = sp->layers[0];
    for (int p = 0; p < n0; ++p) {
        double x = eqs_rng_uniform(ctx, EQS_RNG_INIT);
        fprintf(out, "vxp%d xp%d 0 dc %.17g\n", p, p, sp->gain * x);
        fprintf(out, "vxn%d xn%d 0 dc %.17g\n", p, p, -sp->gain * x);
    }

    if (sp->rails_V > 0) {
        fprintf(out, "* bias rails (trainable biases through r<l>_bp_<j>, r<l>_bn_<j>)\n");
        fprintf(out, "vbp bp 0 dc %.17g\nvbn bn 0 dc %.17g\n", sp->rails_V, -sp->rails_V);
    }

    /* Crossbars. */
    for (int l = 1; l < sp->n_layers; ++l) {
        int nin = (l == 1) ? 2 * n0 : sp->layers[l - 1];
        const double g_hi = fan_in_max(sp, l);
        if (sp->g_fan_in)
            fprintf(out, "* crossbar %d: %d x %d, conductances uniform in [%g, %.9g] S\n", l,
                    nin, width(sp, l), sp->g_min_S, g_hi);
        else
            fprintf(out, "* crossbar %d: %d x %d\n", l, nin, width(sp, l));
        for (int i = 0; i < nin; ++i) {
            node_name(a, sizeof a, sp, l - 1, i);
            if (amplified(sp, l - 1)) a[0] = 'a'; /* h<l>_<j> -> a<l>_<j> */
            for (int j = 0; j < width(sp, l); ++j) {
                node_name(b, sizeof b, sp, l, j);
                double g = sp->g_min_S + (g_hi - sp->g_min_S) * eqs_rng_uniform(ctx, EQS_RNG_INIT);
                fprintf(out, "r%d_%d_%d %s %s %.9g\n", l, i, j, a, b, 1.0 / g);
            }
        }
        if (sp->rails_V > 0)
            for (int j = 0; j < width(sp, l); ++j) {
                node_name(b, sizeof b, sp, l, j);
                fprintf(out, "r%d_bp_%d bp %s %.9g\n", l, j, b, 1.0 / sp->g_min_S);
                fprintf(out, "r%d_bn_%d bn %s %.9g\n", l, j, b, 1.0 / sp->g_min_S);
            }
    }

    /* Hidden diodes, half in each direction, optionally with a bias source. */
    for (int l = 1; l < sp->n_layers - 1; ++l) {
        fprintf(out, "* hidden layer %d diodes\n", l);
        for (int j = 0; j < sp->layers[l]; ++j) {
            node_name(b, sizeof b, sp, l, j);
            const char *gnd = "0";
            if (sp->bias) {
                snprintf(a, sizeof a, "hb%d_%d", l, j);
                fprintf(out, "vb%d_%d %s 0 dc %.17g\n", l, j, a, sp->bias_V);
                gnd = a;
            }
            if (j % 2 == 0)
                fprintf(out, "dp%d_%d %s %s dpos\n", l, j, gnd, b);
            else
                fprintf(out, "dn%d_%d %s %s dpos\n", l, j, b, gnd);
        }
        if (amplified(sp, l)) write_amplifiers(sp, l, out);
    }

    /* Extension cards: 16 names per card. */
    for (int p = 0; p < n0; p += 8) {
        fprintf(out, ".input");
        for (int q = p; q < p + 8 && q < n0; ++q) fprintf(out, " vxp%d vxn%d", q, q);
        fprintf(out, "\n");
    }
    int nout = width(sp, sp->n_layers - 1);
    for (int j = 0; j < nout; j += 16) { /* 16 names: whole pairs per card */
        fprintf(out, sp->output_pairs ? ".output_pair" : ".output");
        for (int q = j; q < j + 16 && q < nout; ++q) {
            node_name(a, sizeof a, sp, sp->n_layers - 1, q);
            fprintf(out, " %s", a);
        }
        fprintf(out, "\n");
    }
    fprintf(out, ".trainable r*\n.op\n.end\n");
    if (ferror(out)) return EQS_ERROR(ctx, EQS_ERR_IO, "write error while generating the netlist");
    return EQS_OK;
}
