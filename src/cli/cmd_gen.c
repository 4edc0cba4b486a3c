/* cmd_gen.c: `eqspice gen drn`: write a layered diode-resistor network. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt gen_opts[] = {
    {"--layers", "N0,N1,...,NL", "layer sizes, input first (at least 2 layers)",
     CLI_SYN_REQUIRED},
    {"--seed", "S", "RNG seed (default 1); same seed, same file", 0},
    {"--gain", "A", "input gain in volts per unit pixel (default 1)", 0},
    {"--gmin-S", "G", "lowest initial conductance in siemens (default 1e-6)", 0},
    {"--gmax-S", "G", "highest initial conductance in siemens (default 1e-4)", 0},
    {"--bias", "V", "add a bias source of V volts in series with every hidden diode", 0},
    {"--bias-mirrored", NULL, "with --bias: the V <= 0 diodes' sources at -V (Shockley diodes "
                             "with V near their forward voltage then clamp both ways around "
                             "0 V)", 0},
    {"--output-pairs", NULL, "differential outputs: two nodes o<k>p, o<k>n per output unit, "
                             "card .output_pair (output k = V(o<k>p) - V(o<k>n))", 0},
    {"--amplifiers", "GAIN", "a bidirectional amplifier (VCVS of GAIN forward, CCCS of "
                             "1/GAIN backward) between each hidden node h<l>_<j> and the next "
                             "crossbar (node a<l>_<j>): non-reciprocal, train with ncep", 0},
    {"--rails", "V", "trainable biases: rails bp = +V and bn = -V (sources vbp, vbn) with "
                     "resistors r<l>_bp_<j>, r<l>_bn_<j> to every hidden and output node, "
                     "both at the lowest conductance (no net bias)", 0},
    {"--fan-in-S", "S", "crossbar l's range is [gmin, S / sqrt(fan-in of layer l)] instead "
                        "(g_init=\"fan_in\"; docs/tuning.md); --gmax-S unused", 0},
    {"--rwire", "OHM", "wire resistance: every crossbar card gets rwire=OHM, each row and "
                       "column line a chain of OHM segments (docs/netlist.md); default 0, "
                       "ideal wires", 0},
    {"--plain", NULL, "plain SPICE elements (R lines, extension cards as '*eqspice' "
                      "comments) that stock 'ngspice -b' runs, instead of .crossbar cards", 0},
    {"-o", "FILE", "output file (atomic; default stdout)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command gen_cmd = {
    "gen drn", NULL,
    "Write a layered diode-resistor network (DRN) as a SPICE netlist:\n"
    "each of the N0 input pixels x in [0,1) (random from the seed) drives a pair of\n"
    "grounded sources +A*x and -A*x; dense crossbars of random conductances join\n"
    "consecutive layers; every hidden node has a diode to ground, half allowing\n"
    "V >= 0 and half V <= 0 (optionally in series with a bias source of V volts);\n"
    "output nodes are linear.  The netlist carries .input, .output and .trainable.\n"
    "Crossbar l is one '.crossbar r<l>' card (devices r<l>_<i>_<j>, resistances with\n"
    "9 digits), an eqspice card: ngspice runs the file through 'eqspice op --solver\n"
    "ngspice'; --plain writes the same network as plain elements for stock ngspice.\n",
    {gen_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_gen(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        cli_help(argc < 2 ? stderr : stdout, &gen_cmd);
        return argc < 2 ? CLI_USER : CLI_OK;
    }
    if (strcmp(argv[1], "drn") != 0)
        return cli_usage_error("gen", "unknown generator '%s' (known: drn)", argv[1]);
    if (cli_check_options(&gen_cmd, argc, argv, 2)) return CLI_USER;
    eqs_drn_spec spec;
    eqs_drn_spec_defaults(&spec);
    int *layers = NULL, nl = 0;
    const char *outpath = NULL;
    int rc = CLI_OK, plain = 0;
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &gen_cmd);
            free(layers);
            return CLI_OK;
        } else if (!strcmp(a, "--layers")) {
            free(layers);
            layers = NULL;
            if (!v || cli_parse_layers(v, &layers, &nl)) {
                rc = cli_usage_error("gen", "--layers needs sizes like 784,100,10");
                break;
            }
            ++i;
        } else if (!strcmp(a, "--seed")) {
            long s;
            if (!v || cli_parse_int(v, 0, 0x7fffffffL, &s)) {
                rc = cli_usage_error("gen", "--seed needs a non-negative integer");
                break;
            }
            spec.seed = (uint64_t)s;
            ++i;
        } else if (!strcmp(a, "--gain") || !strcmp(a, "--gmin-S") || !strcmp(a, "--gmax-S") ||
                   !strcmp(a, "--bias")) {
            double x;
            if (!v || cli_parse_double(v, &x)) {
                rc = cli_usage_error("gen", "%s needs a number", a);
                break;
            }
            if (!strcmp(a, "--gain")) spec.gain = x;
            else if (!strcmp(a, "--gmin-S")) spec.g_min_S = x;
            else if (!strcmp(a, "--gmax-S")) spec.g_max_S = x;
            else spec.bias = 1, spec.bias_V = x;
            ++i;
        } else if (!strcmp(a, "--output-pairs")) {
            spec.output_pairs = 1;
        } else if (!strcmp(a, "--bias-mirrored")) {
            spec.bias_mirrored = 1;
        } else if (!strcmp(a, "--fan-in-S")) { /* g_init="fan_in" (docs/tuning.md) */
            double x;
            if (!v || cli_parse_double(v, &x) || !(x > 0)) {
                rc = cli_usage_error("gen", "--fan-in-S needs a positive conductance");
                break;
            }
            spec.g_fan_in = 1, spec.g_fan_in_S = x;
            ++i;
        } else if (!strcmp(a, "--rails")) {
            double x;
            if (!v || cli_parse_double(v, &x) || !(x > 0)) {
                rc = cli_usage_error("gen", "--rails needs a positive voltage");
                break;
            }
            spec.rails_V = x;
            ++i;
        } else if (!strcmp(a, "--rwire")) {
            double x;
            if (!v || cli_parse_double(v, &x) || !(x >= 0) || !(x < 1e300))
                rc = cli_usage_error("gen", "--rwire needs a resistance >= 0 (Ohm)");
            if (rc != CLI_OK) break;
            spec.rwire_ohm = x;
            ++i;
        } else if (!strcmp(a, "--plain")) {
            plain = 1;
        } else if (!strcmp(a, "--amplifiers")) { /* ncep blocks */
            double x;
            if (!v || cli_parse_double(v, &x) || !(x > 0)) {
                rc = cli_usage_error("gen", "--amplifiers needs a positive gain");
                break;
            }
            spec.amplifier_gain = x;
            ++i;
        } else if (!strcmp(a, "-o")) {
            if (!v) {
                rc = cli_usage_error("gen", "-o needs a file name");
                break;
            }
            outpath = v;
            ++i;
        } else {
            rc = cli_usage_error("gen", "unknown option '%s'", a);
            break;
        }
    }
    if (rc == CLI_OK && !layers) rc = cli_usage_error("gen", "--layers is required");
    if (rc != CLI_OK) {
        free(layers);
        return rc;
    }
    spec.layers = layers;
    spec.n_layers = nl;

    eqs_ctx *ctx = cli_ctx_create(0);
    cli_out out;
    if (!ctx) rc = CLI_INTERNAL;
    else if (cli_out_open(&out, outpath)) rc = CLI_USER;
    else {
        eqs_status st = EQS_OK;
        if (plain) { /* the network built, compiled and exported */
            eqs_netlist *net = NULL;
            eqs_circuit *c = NULL;
            st = eqs_drn_build(ctx, &spec, &net);
            if (st == EQS_OK) st = eqs_circuit_create(ctx, net, &c);
            if (st == EQS_OK) st = eqs_export_netlist_file(ctx, c, out.f);
            eqs_circuit_free(&c);
            eqs_netlist_free(&net);
        } else {
            st = eqs_gen_drn(ctx, &spec, out.f);
        }
        if (st != EQS_OK) {
            cli_out_abort(&out);
            rc = cli_fail(ctx, st);
        } else if (cli_out_commit(&out)) {
            rc = CLI_USER;
        }
    }
    eqs_ctx_free(&ctx);
    free(layers);
    return rc;
}
