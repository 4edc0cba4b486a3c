/* main.c: eqspice command dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: eqspice <command> [options]\n"
    "\n"
    "commands:\n"
    "  op NETLIST        DC operating point as CSV (node,voltage_V)\n"
    "  compare NETLIST   solve with newton and ngspice, report the largest |dV|\n"
    "  grad NETLIST      dL/dG of every trainable element (EqProp or adjoint) as CSV\n"
    "  gen drn           write a layered diode-resistor network netlist\n"
    "  train EXPERIMENT  train a network by EqProp as an experiment file describes\n"
    "  eval NETLIST      test loss and error of a trained network on a dataset\n"
    "  device MODEL.xml  the pulse response of a device model as CSV\n"
    "  export RUNDIR     conductance maps and top.cir for hardware teams\n"
    "  import DIR        read conductance maps back into a netlist\n"
    "  report DIR        a self-contained HTML report of a run or sweep directory\n"
    "  sweep EXPERIMENT  train an experiment over a grid of values set by path\n"
    "  bench op          time parse/compile/solve of a generated network\n"
    "  bench train       training throughput (samples/s) of a generated network\n"
    "\n"
    "Run 'eqspice <command> --help' for the options of a command.\n"
    "Exit status: 0 success, 1 bad input, 2 internal error.\n";

static int dispatch(int argc, char **argv);

/* Under an MPI launcher (docs/cluster.md) train and sweep run on every
 * rank; rank 0 alone prints results (the other ranks' stdout goes to
 * /dev/null, their errors still to stderr). */
int main(int argc, char **argv)
{
    int ranks = eqs_par_init(&argc, &argv);
    if (ranks < 0) {
        fputs("eqspice: error: started by an MPI launcher, but this eqspice was built without "
              "MPI (install libopenmpi-dev, rebuild: docs/cluster.md)\n", stderr);
        return CLI_USER;
    }
    int rc;
    if (ranks > 1 && (argc < 2 || (strcmp(argv[1], "train") && strcmp(argv[1], "sweep")))) {
        if (eqs_par_rank() == 0)
            fprintf(stderr, "eqspice: error: '%s' runs as one process; only train and sweep "
                            "use MPI ranks (started with %d)\n",
                    argc < 2 ? "" : argv[1], ranks);
        rc = CLI_USER;
    } else {
        if (eqs_par_rank() != 0 && !freopen("/dev/null", "w", stdout)) return CLI_INTERNAL;
        rc = dispatch(argc, argv);
    }
    eqs_par_finalize();
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USER;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("eqspice %s\n", EQS_VERSION);
        return CLI_OK;
    }
    if (!strcmp(cmd, "op")) return cli_cmd_op(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cli_cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen")) return cli_cmd_gen(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cli_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "grad")) return cli_cmd_grad(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cli_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cli_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "device")) return cli_cmd_device(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return cli_cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "import")) return cli_cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cli_cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep")) return cli_cmd_sweep(argc - 1, argv + 1);
    fprintf(stderr, "eqspice: error: unknown command '%s'\n%s", cmd, usage);
    return CLI_USER;
}
