/* cmd_eval.c: `eqspice eval NETLIST --idx|--csv|--synthetic ...`: loss and
 * error rate of a (trained) network on a dataset, through the trainer's
 * evaluation path (same encoding, targets and prediction as training). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt eval_opts[] = {
    {"--idx", "IMAGES LABELS", "IDX files (gzip or not), pixels scaled to [0,1]",
     CLI_SYN_OPERANDS},
    {"--csv", "FILE", "CSV, numeric features, label in the last column", CLI_SYN_OPERANDS},
    {"--synthetic", "NAME", "built-in task: xor or blobs", CLI_SYN_OPERANDS},
    {"--gain", "V", "volts per unit feature (default 1; use the experiment's input gain_V)", 0},
    {"--encoding", "auto|pair|single", "auto (default): pair when the netlist has two .input "
                                       "sources per feature, else single", 0},
    {"--on", "V", "one-hot target voltage of the true class for the loss (default 1)", 0},
    {"--off", "V", "target voltage of the other classes (default 0)", 0},
    {"--limit", "N", "first N samples only (IDX, CSV; default 0: all)", 0},
    {"--classes", "K", "number of classes (default: the number of outputs)", 0},
    {"--n", "N", "synthetic: number of samples (default 256)", 0},
    {"--seed", "S", "synthetic: RNG seed (default 1)", 0},
    {"--features", "D", "synthetic: features per sample (default: the task's)", 0},
    {"--noise", "X", "synthetic: noise level (default: the task's)", 0},
    {"--solver", "auto|newton|layered|ngspice", "auto (default: layered for a layered "
                                                "network, else newton), newton, layered or "
                                                "ngspice", 0},
    {"--diodes", "shockley|ideal", "shockley (default) or ideal (layered solver: use it for "
                                   "networks trained with <solver diodes=\"ideal\"/>)", 0},
    {"-v", NULL, "print the error and loss with the dataset's name to stderr", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command eval_cmd = {
    "eval", "NETLIST (--idx IMAGES LABELS | --csv FILE | --synthetic NAME)",
    "Free-phase loss and error rate of a network (e.g. the trained.cir of a run)\n"
    "on a dataset.  Prints CSV on stdout: samples,loss_V2,error,accuracy (loss\n"
    "1/2 sum_k (V_k - y_k)^2 averaged over the samples; error and accuracy as\n"
    "fractions).  Prediction = the .output node with the highest voltage; output\n"
    "k stands for class k.\n",
    {eval_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

int cli_cmd_eval(int argc, char **argv)
{
    const char *netlist = NULL, *images = NULL, *labels = NULL, *csv = NULL, *synth = NULL;
    const char *enc = "auto", *solver_name = "auto", *diodes_name = "shockley";
    double gain = 1.0, on = 1.0, off = 0.0, noise = -1.0;
    long limit = 0, classes = 0, n = 256, features = 0, seed = 1;
    int verbosity = 0;
    if (cli_check_options(&eval_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
#define NEED(k) \
    if (i + (k) >= argc) return cli_usage_error("eval", "%s needs a value", a)
#define NUM(var) \
    do { NEED(1); if (cli_parse_double(argv[++i], &(var))) \
        return cli_usage_error("eval", "bad number for %s: '%s'", a, argv[i]); } while (0)
#define INT(var, lo, hi) \
    do { NEED(1); if (cli_parse_int(argv[++i], lo, hi, &(var))) \
        return cli_usage_error("eval", "bad value for %s: '%s'", a, argv[i]); } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &eval_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--idx")) {
            NEED(2);
            images = argv[++i];
            labels = argv[++i];
        } else if (!strcmp(a, "--csv")) {
            NEED(1);
            csv = argv[++i];
        } else if (!strcmp(a, "--synthetic")) {
            NEED(1);
            synth = argv[++i];
        } else if (!strcmp(a, "--encoding")) {
            NEED(1);
            enc = argv[++i];
        } else if (!strcmp(a, "--solver")) {
            NEED(1);
            solver_name = argv[++i];
        } else if (!strcmp(a, "--diodes")) {
            NEED(1);
            diodes_name = argv[++i];
        } else if (!strcmp(a, "--gain")) {
            NUM(gain);
        } else if (!strcmp(a, "--on")) {
            NUM(on);
        } else if (!strcmp(a, "--off")) {
            NUM(off);
        } else if (!strcmp(a, "--noise")) {
            NUM(noise);
        } else if (!strcmp(a, "--limit")) {
            INT(limit, 0, 1000000000L);
        } else if (!strcmp(a, "--classes")) {
            INT(classes, 0, 1000000L);
        } else if (!strcmp(a, "--n")) {
            INT(n, 1, 100000000L);
        } else if (!strcmp(a, "--features")) {
            INT(features, 0, 1000000L);
        } else if (!strcmp(a, "--seed")) {
            INT(seed, 0, 0x7fffffffL);
        } else if (!strcmp(a, "-v")) {
            verbosity++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("eval", "unknown option '%s'", a);
        } else if (!netlist) {
            netlist = a;
        } else {
            return cli_usage_error("eval", "more than one netlist given ('%s')", a);
        }
#undef NEED
#undef NUM
#undef INT
    }
    if (!netlist) return cli_usage_error("eval", "no netlist given");
    if (!!images + !!csv + !!synth != 1)
        return cli_usage_error("eval", "give exactly one of --idx, --csv, --synthetic");
    eqs_input_encoding encoding;
    if (!strcmp(enc, "auto")) encoding = EQS_ENCODE_AUTO;
    else if (!strcmp(enc, "pair")) encoding = EQS_ENCODE_PAIR;
    else if (!strcmp(enc, "single")) encoding = EQS_ENCODE_SINGLE;
    else return cli_usage_error("eval", "unknown encoding '%s'", enc);
    int backend = eqs_backend_from_name(solver_name);
    if (backend < 0) return cli_usage_error("eval", "unknown solver '%s'", solver_name);
    int diodes = eqs_diode_kind_from_name(diodes_name);
    if (diodes < 0) return cli_usage_error("eval", "unknown diode model '%s'", diodes_name);
    if (on == off) return cli_usage_error("eval", "--on and --off must differ");

    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    cli_loaded L = {0};
    eqs_dataset *ds = NULL;
    eqs_trainer *tr = NULL;
    int rc = CLI_OK;
    eqs_status st = cli_load(ctx, netlist, &L);
    if (st == EQS_OK && eqs_circuit_output_count(L.c) == 0)
        st = eqs_trainer_create(ctx, &(eqs_experiment){.beta = 1, .batch = 1, .epochs = 1},
                                L.c, NULL, NULL, &tr); /* reports the missing .output */
    if (st == EQS_OK) {
        eqs_dataset_options dopt;
        eqs_dataset_options_defaults(&dopt);
        dopt.n_classes = classes ? (int)classes : eqs_circuit_output_count(L.c);
        dopt.limit = (size_t)limit;
        if (images) {
            st = eqs_dataset_read_idx(ctx, images, labels, &dopt, &ds);
        } else if (csv) {
            st = eqs_dataset_read_csv(ctx, csv, &dopt, &ds);
        } else {
            eqs_synthetic_spec sp;
            eqs_synthetic_spec_defaults(&sp);
            sp.name = synth;
            sp.n = (size_t)n;
            sp.seed = (uint64_t)seed;
            sp.n_features = (int)features;
            sp.n_classes = classes ? (int)classes : 0;
            sp.noise = noise;
            st = eqs_dataset_synthetic(ctx, &sp, &ds);
        }
    }
    if (st == EQS_OK) {
        eqs_experiment e = {0};
        e.input_gain_V = gain;
        e.encoding = encoding;
        e.target_on_V = on;
        e.target_off_V = off;
        e.algorithm = EQS_ALGO_CENTERED;
        e.beta = 1.0; /* unused: evaluation has no nudged phase */
        e.epochs = 1;
        e.batch = 32; /* layered solver: free phases 32 samples at a time */
        e.lr_decay = 1;
        e.g_max_S = INFINITY;
        e.backend = (eqs_backend_id)backend;
        e.diodes = (eqs_diode_kind)diodes;
        e.seed = 1;
        st = eqs_trainer_create(ctx, &e, L.c, NULL, NULL, &tr);
    }
    double loss = NAN, err = NAN;
    if (st == EQS_OK) st = eqs_trainer_evaluate(tr, ds, &loss, &err);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }
    printf("samples,loss_V2,error,accuracy\n%zu,%.17g,%.17g,%.17g\n", eqs_dataset_size(ds), loss,
           err, 1 - err);
    if (verbosity)
        fprintf(stderr, "eval: %s on %s: error=%.2f%% loss=%.6g\n", netlist,
                eqs_dataset_source(ds), 100 * err, loss);
out:
    eqs_trainer_free(&tr);
    eqs_dataset_free(&ds);
    cli_unload(&L);
    eqs_ctx_free(&ctx);
    return rc;
}
