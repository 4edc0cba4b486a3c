/* cmd_compare.c: `eqspice compare NETLIST`: newton vs ngspice, largest |dV|. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt compare_opts[] = {
    {"--csv", NULL, "print every node: node,newton_V,ngspice_V,abs_dV_V", 0},
    {"--stats", NULL, "print one 'stats: ...' line per backend to stderr (as 'op')", 0},
    {"-v, -vv", NULL, "more logging on stderr (info, debug)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command compare_cmd = {
    "compare", "NETLIST",
    "Solve NETLIST with the built-in Newton solver and with ngspice (shared\n"
    "library), then print one line:\n"
    "  max_abs_dV_V=<largest |V_newton - V_ngspice|> node=<where> newton_V=... ngspice_V=...\n"
    "The tolerance flags apply to both backends.\n",
    {compare_opts, cli_tol_opts, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_compare(int argc, char **argv)
{
    const char *netlist = NULL;
    int verbosity = 0, csv = 0, stats = 0;
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    if (cli_check_options(&compare_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        int r = cli_solver_flag(argc, argv, &i, &opt);
        if (r < 0) return cli_usage_error("compare", "bad value for %s", a);
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &compare_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--csv")) {
            csv = 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (!strcmp(a, "-v")) {
            verbosity = 1;
        } else if (!strcmp(a, "-vv")) {
            verbosity = 2;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("compare", "unknown option '%s'", a);
        } else if (!netlist) {
            netlist = a;
        } else {
            return cli_usage_error("compare", "more than one netlist given ('%s')", a);
        }
    }
    if (!netlist) return cli_usage_error("compare", "no netlist given");

    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    cli_loaded L;
    eqs_solver *sn = NULL, *sg = NULL;
    int rc = CLI_OK;
    eqs_status st = cli_load(ctx, netlist, &L);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        eqs_ctx_free(&ctx);
        return rc;
    }
    eqs_solve_info in = {0}, ig = {0};
    double t0 = cli_now_s(), tn = 0, tg = 0;
    st = eqs_solver_create(ctx, L.c, EQS_BACKEND_NEWTON, &opt, &sn);
    if (st == EQS_OK) st = eqs_solver_solve(sn, EQS_SOLVE_COLD, &in);
    tn = cli_now_s() - t0;
    t0 = cli_now_s();
    if (st == EQS_OK) st = eqs_solver_create(ctx, L.c, EQS_BACKEND_NGSPICE, &opt, &sg);
    if (st == EQS_OK) st = eqs_solver_solve(sg, EQS_SOLVE_COLD, &ig);
    tg = cli_now_s() - t0;
    if (st == EQS_OK && stats) {
        fprintf(stderr,
                "stats: parse_s=%.6g compile_s=%.6g solve_s=%.6g iterations=%d backend=%s\n",
                L.parse_s, L.compile_s, tn, in.iterations, in.backend ? in.backend : "newton");
        fprintf(stderr,
                "stats: parse_s=%.6g compile_s=%.6g solve_s=%.6g iterations=%d backend=%s\n",
                L.parse_s, L.compile_s, tg, ig.iterations, ig.backend ? ig.backend : "ngspice");
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
    } else {
        const double *vn = eqs_solver_voltages(sn), *vg = eqs_solver_voltages(sg);
        int n = eqs_circuit_node_count(L.c), worst = 0;
        double dmax = -1;
        if (csv) printf("node,newton_V,ngspice_V,abs_dV_V\n");
        for (int k = 1; k < n; ++k) {
            double d = fabs(vn[k] - vg[k]);
            if (csv)
                printf("%s,%.17g,%.17g,%.17g\n", eqs_circuit_node_name(L.c, k), vn[k], vg[k], d);
            if (d > dmax || isnan(d)) {
                dmax = d;
                worst = k;
            }
        }
        if (!csv) {
            if (n > 1)
                printf("max_abs_dV_V=%.3g node=%s newton_V=%.17g ngspice_V=%.17g\n", dmax,
                       eqs_circuit_node_name(L.c, worst), vn[worst], vg[worst]);
            else
                printf("max_abs_dV_V=0 node=none\n");
        }
    }
    eqs_solver_free(&sg);
    eqs_solver_free(&sn);
    cli_unload(&L);
    eqs_ctx_free(&ctx);
    return rc;
}
