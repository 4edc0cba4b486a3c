/* cmd_op.c: `eqspice op NETLIST`: the DC operating point as CSV. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt op_opts[] = {
    {"--solver", "auto|newton|layered|ngspice",
     "auto (default: layered for a layered network, else newton), newton (built-in), "
     "layered (block coordinate descent, layered networks only) or ngspice (shared library)", 0},
    {"--currents", NULL, "print ngspice's vectors instead: header vector,value,unit, one row per "
                         "node (V) then one per V, E and H source with ngspice's name and sign "
                         "(v1#branch: current into the + terminal through the source, A)", 0},
    {"-o", "FILE", "write the CSV to FILE (atomically; nothing written on error)", 0},
    {"--stats", NULL, "print 'stats: parse_s=... compile_s=... solve_s=... iterations=... "
                      "backend=...' to stderr", 0},
    {"--repeat", "N", "solve N times from scratch (new solver, cold start) and report the "
                      "median solve_s (default 1)", 0},
    {"-v, -vv", NULL, "more logging on stderr (info, debug)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command op_cmd = {
    "op", "NETLIST",
    "Solve the DC operating point of NETLIST and print CSV with the header\n"
    "node,voltage_V and one row per non-ground node (names lower case, %.17g).\n",
    {op_opts, cli_layered_opts, cli_tol_opts},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

/* --currents: node voltages and branch currents under ngspice's vector
 * names (`print all`), with their units. */
static void write_vectors(FILE *f, const eqs_circuit *c, const double *v, const double *i_A)
{
    fprintf(f, "vector,value,unit\n");
    int n = eqs_circuit_node_count(c), nb = eqs_circuit_branch_count(c);
    for (int k = 1; k < n; ++k) fprintf(f, "%s,%.17g,V\n", eqs_circuit_node_name(c, k), v[k]);
    char name[1024];
    for (int k = 0; k < nb; ++k)
        fprintf(f, "%s,%.17g,A\n", eqs_circuit_branch_name(c, k, name, sizeof name), i_A[k]);
}

int cli_cmd_op(int argc, char **argv)
{
    const char *netlist = NULL, *outpath = NULL, *solver_name = "auto";
    int stats = 0, verbosity = 0, currents = 0;
    long repeat = 1;
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    if (cli_check_options(&op_cmd, argc, argv, 1)) return CLI_USER;

    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        int r = cli_solver_flag(argc, argv, &i, &opt);
        if (r < 0) return cli_usage_error("op", "bad value for %s", a);
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &op_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--solver")) {
            if (++i >= argc) return cli_usage_error("op", "--solver needs a value");
            solver_name = argv[i];
        } else if (!strcmp(a, "-o")) {
            if (++i >= argc) return cli_usage_error("op", "-o needs a file name");
            outpath = argv[i];
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (!strcmp(a, "--currents")) {
            currents = 1;
        } else if (!strcmp(a, "--repeat")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 1000000, &repeat))
                return cli_usage_error("op", "--repeat needs a positive integer");
        } else if (!strcmp(a, "-v")) {
            verbosity = 1;
        } else if (!strcmp(a, "-vv")) {
            verbosity = 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("op", "unknown option '%s'", a);
        } else if (!netlist) {
            netlist = a;
        } else {
            return cli_usage_error("op", "more than one netlist given ('%s')", a);
        }
    }
    if (!netlist) return cli_usage_error("op", "no netlist given");
    int backend = eqs_backend_from_name(solver_name);
    if (backend < 0) return cli_usage_error("op", "unknown solver '%s'", solver_name);

    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    int rc = CLI_OK;
    cli_loaded L;
    eqs_solver *s = NULL;
    double *times = calloc((size_t)repeat, sizeof *times);
    eqs_solve_info info = {0};
    eqs_status st = cli_load(ctx, netlist, &L);
    if (st != EQS_OK || !times) {
        rc = times ? cli_fail(ctx, st) : CLI_INTERNAL;
        free(times);
        eqs_ctx_free(&ctx);
        return rc;
    }
    for (long r = 0; r < repeat; ++r) {
        eqs_solver_free(&s);
        double t0 = cli_now_s();
        st = eqs_solver_create(ctx, L.c, (eqs_backend_id)backend, &opt, &s);
        if (st == EQS_OK) st = eqs_solver_solve(s, EQS_SOLVE_COLD, &info);
        times[r] = cli_now_s() - t0;
        if (st != EQS_OK) break;
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
    } else {
        cli_out out;
        int nb = eqs_circuit_branch_count(L.c);
        double *cur = currents ? calloc((size_t)nb + 1, sizeof *cur) : NULL;
        if (currents && !cur) rc = CLI_INTERNAL;
        else if (currents && (st = eqs_solver_branch_currents(s, cur)) != EQS_OK)
            rc = cli_fail(ctx, st);
        else if (cli_out_open(&out, outpath)) {
            rc = CLI_USER;
        } else {
            if (currents) write_vectors(out.f, L.c, eqs_solver_voltages(s), cur);
            else cli_write_voltages(out.f, L.c, eqs_solver_voltages(s));
            if (cli_out_commit(&out)) rc = CLI_USER;
        }
        free(cur);
        if (stats)
            fprintf(stderr,
                    "stats: parse_s=%.6g compile_s=%.6g solve_s=%.6g iterations=%d backend=%s\n",
                    L.parse_s, L.compile_s, cli_median(times, (int)repeat), info.iterations,
                    info.backend ? info.backend : solver_name);
    }
    free(times);
    eqs_solver_free(&s);
    cli_unload(&L);
    eqs_ctx_free(&ctx);
    return rc;
}
