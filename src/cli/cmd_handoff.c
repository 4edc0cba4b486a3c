/* cmd_handoff.c: `eqspice export RUNDIR|NETLIST -o DIR` and `eqspice import
 * DIR|CSV... --into RUNDIR|NETLIST -o OUT`: the hand-off to hardware teams
 * (docs/export.md; the library's eqs_handoff_export / eqs_handoff_import). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt export_opts[] = {
    {"-o, --output", "DIR", "the directory to create (must not exist)", CLI_SYN_REQUIRED},
    {"--format", "all|csv|spice|manifest",
     "what to write: all (default); csv: the conductance maps (with their level and pulse "
     "maps) and manifest.xml; spice: top.cir and manifest.xml; manifest: manifest.xml alone, "
     "listing the files of a full export with their SHA-256", 0},
    {"--sample", "N", "RUNDIR: the sample of the run's test set (its training set without "
                      "one) that drives top.cir's input sources (default 0)", 0},
    {"--vectors", "N", "RUNDIR: also vectors.csv (the input voltages of the first N samples of "
                       "the run's test set) and expected.csv (eqspice's operating point of the "
                       "exported network for each: output voltages, predicted class), to check "
                       "top.cir or the hardware against (scripts/check-ngspice-vectors.sh)", 0},
    {"--vread", "V", "physical units: every voltage scaled so that the input gain (the "
                     "largest drive of a feature in [0,1]) is V volts; targets and fixed "
                     "sources with it (docs/export.md \"Physical units\")", 0},
    {"--window", "GMIN,GMAX", "physical units: every conductance scaled so that the largest "
                              "trained one is GMAX siemens; those then below GMIN are raised "
                              "to GMIN (counted in the manifest's <physical>); the bounds "
                              "become the window, level and pulse maps are not written", 0},
    {NULL, NULL, NULL, 0},
};
static const cli_command export_cmd = {
    "export", "RUNDIR|NETLIST",
    "Hand-off to hardware teams (docs/export.md).  Writes the new directory DIR:\n"
    "  <crossbar>.csv         conductance map: rows = input lines, columns =\n"
    "                         output lines, siemens, %.17g, '# ' header lines\n"
    "                         (crossbar, nodes, units, device model, bounds)\n"
    "  <crossbar>.levels.csv  level index of every cell (device model with levels)\n"
    "  <crossbar>.pulses.csv  up pulses from G_min (pulsed device model or levels)\n"
    "  <crossbar>.gpos.csv    G+ and G- (.gneg.csv) of a crossbar on the input\n"
    "                         pairs of the pair encoding\n"
    "  top.cir                the network for stock 'ngspice -b top.cir': one\n"
    "                         .subckt per crossbar, diodes, sources, .op\n"
    "  manifest.xml           versions, seed, layers, units, device, bounds,\n"
    "                         encoding, gain, targets, SHA-256 of every file\n"
    "RUNDIR: the network rebuilt from its experiment.xml with the values of its\n"
    "trained.cir, inputs from --sample.  NETLIST: needs .crossbar cards; inputs at\n"
    "0 V.  Written into DIR.tmp.<pid> and renamed; nothing is left on error.\n",
    {export_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

static const cli_opt import_opts[] = {
    {"--into", "NETWORK", "the network the maps belong to: a run directory or a netlist",
     CLI_SYN_REQUIRED},
    {"-o, --output", "OUT", "the netlist to write (with the evaluation cards of --into)",
     CLI_SYN_REQUIRED},
    {"--dead", "S", "conductance of a dead (nan) cell, an open circuit (default 1e-12 S)", 0},
    {NULL, NULL, NULL, 0},
};
static const cli_command import_cmd = {
    "import", "DIR|CSV...",
    "Read conductance maps (the format of 'eqspice export': '# units: S' or\n"
    "'# units: ohm', one line per row; a cell nan or dead is a dead device, an\n"
    "open circuit) into the network of --into and write the netlist OUT, which\n"
    "'eqspice eval OUT --csv|--idx|--synthetic ...' evaluates.  DIR: the maps its\n"
    "manifest.xml lists, every listed file checked against its SHA-256 (without\n"
    "a manifest: every *.csv but the .levels, .pulses, .gpos, .gneg companions).\n"
    "Every file is checked (checksum, shape, numbers, sign, units, missing files)\n"
    "before anything is written; errors name file:line:col.\n",
    {import_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    eqs_handoff_options opt;
    eqs_handoff_options_defaults(&opt);
    if (cli_check_options(&export_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(stdout, &export_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("export", "%s needs a value", a);
            out = argv[i];
        } else if (!strcmp(a, "--format")) {
            if (++i >= argc) return cli_usage_error("export", "%s needs a value", a);
            if (!strcmp(argv[i], "all")) opt.what = EQS_HANDOFF_ALL;
            else if (!strcmp(argv[i], "csv")) opt.what = EQS_HANDOFF_CSV | EQS_HANDOFF_MANIFEST;
            else if (!strcmp(argv[i], "spice"))
                opt.what = EQS_HANDOFF_SPICE | EQS_HANDOFF_MANIFEST;
            else if (!strcmp(argv[i], "manifest")) opt.what = EQS_HANDOFF_MANIFEST;
            else return cli_usage_error("export", "unknown format '%s'", argv[i]);
        } else if (!strcmp(a, "--sample")) {
            long n;
            if (++i >= argc) return cli_usage_error("export", "%s needs a value", a);
            if (cli_parse_int(argv[i], 0, 2147483647L, &n))
                return cli_usage_error("export", "--sample: '%s' is not a sample index",
                                       argv[i]);
            opt.sample = n;
        } else if (!strcmp(a, "--vectors")) {
            long n;
            if (++i >= argc || cli_parse_int(argv[i], 1, 100000000L, &n))
                return cli_usage_error("export", "--vectors needs a count >= 1");
            opt.vectors = n;
        } else if (!strcmp(a, "--vread") || !strcmp(a, "--window")) {
            if (cli_parse_physical("export", a, ++i < argc ? argv[i] : NULL, &opt.phys))
                return CLI_USER;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("export", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("export", "more than one network given ('%s')", a);
        }
    }
    if (!in) return cli_usage_error("export", "no RUNDIR or NETLIST given");
    if (!out) return cli_usage_error("export", "no output directory (-o DIR)");
    eqs_ctx *ctx = cli_ctx_create(0);
    if (!ctx) return CLI_INTERNAL;
    eqs_status st = eqs_handoff_export(ctx, in, out, &opt);
    int rc = st == EQS_OK ? CLI_OK : cli_fail(ctx, st);
    if (st == EQS_OK && (opt.phys.v_read_V > 0 || opt.phys.g_max_S > 0))
        fprintf(stderr, "export: physical units: see <physical> in %s/manifest.xml\n", out);
    eqs_ctx_free(&ctx);
    return rc;
}

int cli_cmd_import(int argc, char **argv)
{
    const char *into = NULL, *out = NULL;
    eqs_handoff_options opt;
    eqs_handoff_options_defaults(&opt);
    const char **maps = calloc((size_t)argc + 1, sizeof *maps);
    int n = 0;
    if (!maps) return CLI_INTERNAL;
    int rc = cli_check_options(&import_cmd, argc, argv, 1) ? CLI_USER : CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(stdout, &import_cmd);
            free(maps);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) rc = cli_usage_error("import", "%s needs a value", a);
            else out = argv[i];
        } else if (!strcmp(a, "--into")) {
            if (++i >= argc) rc = cli_usage_error("import", "%s needs a value", a);
            else into = argv[i];
        } else if (!strcmp(a, "--dead")) {
            char *end = NULL;
            if (++i >= argc) rc = cli_usage_error("import", "%s needs a value", a);
            else if ((opt.dead_S = strtod(argv[i], &end)), *end || end == argv[i] ||
                     !(opt.dead_S > 0) || opt.dead_S > 1e300)
                rc = cli_usage_error("import", "--dead: '%s' is not a positive conductance",
                                     argv[i]);
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("import", "unknown option '%s'", a);
        } else {
            maps[n++] = a;
        }
    }
    if (rc == CLI_OK && !into) rc = cli_usage_error("import", "no network (--into RUNDIR or NETLIST)");
    if (rc == CLI_OK && !out) rc = cli_usage_error("import", "no output netlist (-o OUT)");
    if (rc == CLI_OK && n == 0) rc = cli_usage_error("import", "no conductance map given");
    if (rc == CLI_OK) {
        eqs_ctx *ctx = cli_ctx_create(0);
        if (!ctx) rc = CLI_INTERNAL;
        else {
            eqs_status st = eqs_handoff_import(ctx, maps, n, into, out, &opt);
            if (st != EQS_OK) rc = cli_fail(ctx, st);
            eqs_ctx_free(&ctx);
        }
    }
    free(maps);
    return rc;
}
