/* cmd_bench_train.c: `eqspice bench train`: training throughput of the real
 * trainer (free phase + two nudged phases + update per sample) on a
 * generated DRN and synthetic data, timed over a fixed wall-clock budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt bench_train_opts[] = {
    {"--layers", "N0,...,NL", "layer sizes of the generated DRN, input first",
     CLI_SYN_REQUIRED},
    {"--batch", "B", "samples per batch (default 32)", 0},
    {"--solver", "auto|layered|newton|ngspice", "auto (default: the layered solver on a "
                                                "DRN), layered, newton or ngspice", 0},
    {"--diodes", "ideal|shockley", "diode model (default: ideal with the layered solver, the "
                                   "DRN model; shockley otherwise)", 0},
    {"--method", "centered|positive|negative|adjoint|ncep|aeqprop",
     "gradient method of the trainer (default centered; as 'eqspice grad')", 0},
    {"--seconds", "S", "time budget of the measured steps (default 10)", 0},
    {"--gain", "V", "input gain in volts per unit feature (default 10)", 0},
    {"--seed", "S", "RNG seed of network, data and training (default 1)", 0},
    {"--bcd-tol", "V", "layered solver: sweep tolerance (default: the trainer's)", 0},
    {"--float32", NULL, "layered solver in single precision (<solver precision=\"single\"/>)",
     0},
    {"--threads", "1|2", "2 (default): large crossbars of the batched layered step split over "
                         "two cores; 1: one core", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command bench_train_cmd = {
    "bench train", NULL,
    "Time training steps of the trainer that 'eqspice train' uses, on a generated\n"
    "DRN (as 'eqspice gen drn') and the built-in 'blobs' task with N0 features and\n"
    "NL classes (random data: the speed does not depend on what is learned).\n"
    "Each sample costs a free phase, the nudged phases of the method and its\n"
    "share of the batch update.  Steps run until S seconds have passed, after one\n"
    "warm-up step.  Prints on stdout:\n"
    "  bench: layers=... batch=... solver=... method=... samples=... seconds=...\n"
    "         samples_per_s=... step_ms=... diodes=... batched=... precision=...\n"
    "         threads=...\n"
    "  bench: peak_rss_MiB=...\n"
    "  bench: samples_per_s=... floor_samples_per_s=... phase_ms=... sweeps=...\n"
    "where the floor is the two GEMMs per sample of the first crossbar (input\n"
    "drive X W and contrast X^T D, eqs_layered_floor) timed in the same run,\n"
    "phase_ms the mean wall time of one phase of one batch (layered solver; one\n"
    "solve otherwise: 0) and sweeps the mean sweeps per phase.\n",
    {bench_train_opts, NULL, NULL},
    NULL};

/* The experiment as XML (the schema-validated path the trainer normally
 * takes).  Returns 0 on success. */
static int write_experiment(const char *path, const int *layers, int nl, int batch,
                            const char *solver, const char *diodes, const char *method,
                            double gain, long seed, double tol, int single,
                            int threads)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<experiment version=\"1\">\n");
    fprintf(f, "  <network><drn layers=\"");
    for (int l = 0; l < nl; ++l) fprintf(f, "%s%d", l ? " " : "", layers[l]);
    fprintf(f, "\" seed=\"%ld\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\"/></network>\n", seed);
    fprintf(f,
            "  <dataset classes=\"%d\"><synthetic task=\"blobs\" train_size=\"%d\" "
            "features=\"%d\" seed=\"%ld\"/></dataset>\n",
            layers[nl - 1], batch * 64 > 2048 ? batch * 64 : 2048, layers[0], seed);
    fprintf(f, "  <input gain_V=\"%.17g\" encoding=\"pair\"/>\n", gain);
    fprintf(f, "  <targets on_V=\"0.5\" off_V=\"0\"/>\n");
    fprintf(f, "  <algorithm method=\"%s\" beta=\"1e-5\"/>\n", method);
    fprintf(f, "  <learning momentum=\"0.9\" decay=\"0.99\"><rate elements=\"r*\" "
               "value=\"1e-6\"/></learning>\n");
    fprintf(f, "  <training epochs=\"1\" batch=\"%d\" seed=\"%ld\"/>\n", batch, seed);
    fprintf(f, "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n");
    fprintf(f, "  <solver backend=\"%s\" diodes=\"%s\"", solver, diodes);
    if (tol > 0) fprintf(f, " tol_V=\"%.17g\"", tol);
    if (single) fprintf(f, " precision=\"single\"");
    fprintf(f, " threads=\"%d\"", threads);
    fprintf(f, "/>\n");
    fprintf(f, "  <output dir=\"unused\"/>\n</experiment>\n");
    return fclose(f) == 0 ? 0 : -1;
}

int cli_bench_train(int argc, char **argv)
{
    int *layers = NULL, nlayers = 0, rc = CLI_OK;
    long batch = 32, seed = 1, threads = 2;
    double seconds = 10, gain = 10, tol = 0;
    int single = 0;
    const char *solver = "auto", *method = "centered", *diodes = NULL;
    if (cli_check_options(&bench_train_cmd, argc, argv, 2)) return CLI_USER;
    for (int i = 2; i < argc && rc == CLI_OK; ++i) {
        const char *a = argv[i], *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &bench_train_cmd);
            free(layers);
            return CLI_OK;
        } else if (!strcmp(a, "--layers")) {
            free(layers);
            layers = NULL;
            if (!v || cli_parse_layers(v, &layers, &nlayers))
                rc = cli_usage_error("bench", "--layers needs sizes like 784,100,10");
        } else if (!strcmp(a, "--batch")) {
            if (!v || cli_parse_int(v, 1, 100000, &batch))
                rc = cli_usage_error("bench", "--batch needs a positive integer");
        } else if (!strcmp(a, "--seed")) {
            if (!v || cli_parse_int(v, 0, 0x7fffffffL, &seed))
                rc = cli_usage_error("bench", "--seed needs a non-negative integer");
        } else if (!strcmp(a, "--threads")) {
            if (!v || cli_parse_int(v, 1, 2, &threads))
                rc = cli_usage_error("bench", "--threads needs 1 or 2");
        } else if (!strcmp(a, "--float32")) {
            single = 1;
            continue; /* no value */
        } else if (!strcmp(a, "--seconds") || !strcmp(a, "--gain") || !strcmp(a, "--bcd-tol")) {
            double x;
            if (!v || cli_parse_double(v, &x) || !(x > 0))
                rc = cli_usage_error("bench", "%s needs a positive number", a);
            else if (!strcmp(a, "--seconds")) seconds = x;
            else if (!strcmp(a, "--gain")) gain = x;
            else tol = x;
        } else if (!strcmp(a, "--solver")) {
            if (!v || eqs_backend_from_name(v) < 0)
                rc = cli_usage_error("bench", "--solver needs auto, layered, newton or ngspice");
            else solver = v;
        } else if (!strcmp(a, "--diodes")) {
            if (!v || eqs_diode_kind_from_name(v) < 0)
                rc = cli_usage_error("bench", "--diodes needs ideal or shockley");
            else diodes = v;
        } else if (!strcmp(a, "--method")) {
            if (!v || eqs_grad_method_from_name(v) < 0)
                rc = cli_usage_error("bench", "--method needs centered, eqprop, negative, adjoint, ncep or aeqprop");
            else method = v;
        } else {
            rc = cli_usage_error("bench", "unknown option '%s'", a);
            break;
        }
        ++i;
    }
    if (rc == CLI_OK && !layers) rc = cli_usage_error("bench", "--layers is required");
    if (rc != CLI_OK) {
        free(layers);
        return rc;
    }
    /* the schema spells the one-sided method "positive" */
    const char *xml_method = !strcmp(method, "eqprop") ? "positive" : method;

    char path[4096];
    const char *tmpdir = getenv("TMPDIR"); /* removed below, whatever happens */
    snprintf(path, sizeof path, "%s/eqspice-bench-train-%ld.xml",
             tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
    eqs_ctx *ctx = cli_ctx_create(0);
    eqs_experiment *exp = NULL;
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_dataset *train = NULL, *test = NULL;
    eqs_trainer *tr = NULL;
    eqs_status st = EQS_OK;
    if (!ctx) {
        free(layers);
        return CLI_INTERNAL;
    }
    if (!diodes) {
        int b = eqs_backend_from_name(solver);
        diodes = (b == EQS_BACKEND_LAYERED || b == EQS_BACKEND_AUTO) ? "ideal" : "shockley";
    }
    if (write_experiment(path, layers, nlayers, (int)batch, solver, diodes, xml_method, gain,
                         seed, tol, single, (int)threads)) {
        fprintf(stderr, "error: cannot write %s\n", path);
        unlink(path);
        eqs_ctx_free(&ctx);
        free(layers);
        return CLI_INTERNAL;
    }
    st = eqs_experiment_read(ctx, path, &exp);
    unlink(path);
    if (st == EQS_OK) st = eqs_experiment_load_data(ctx, exp, &train, &test);
    if (st == EQS_OK) st = eqs_experiment_network(ctx, exp, &nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, nl, &c);
    if (st == EQS_OK) st = eqs_trainer_create(ctx, exp, c, train, NULL, &tr);
    if (st == EQS_OK) st = eqs_trainer_step(tr); /* warm-up: first shuffle, caches */
    long steps = 0;
    double t0 = cli_now_s(), t = t0;
    while (st == EQS_OK && t - t0 < seconds) {
        st = eqs_trainer_step(tr);
        steps++;
        t = cli_now_s();
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
    } else {
        double el = t - t0, samples = (double)steps * (double)batch;
        const eqs_solver *sv = eqs_trainer_solver(tr);
        const char *used = eqs_backend_name(eqs_solver_backend(sv));
        printf("bench: layers=");
        for (int l = 0; l < nlayers; ++l) printf("%s%d", l ? "," : "", layers[l]);
        printf(" batch=%ld solver=%s method=%s samples=%.0f seconds=%.3f samples_per_s=%.4g"
               " step_ms=%.4g diodes=%s batched=%d precision=%s threads=%s\n",
               batch, used, method, samples, el, samples / el, 1e3 * el / (double)steps, diodes,
               eqs_trainer_batched(tr), single ? "single" : "double",
               /* the split over two cores exists only on the batched layered path */
               eqs_trainer_batched(tr) ? (threads == 1 ? "1" : "2") : "-");
        double phase_s = 0, sweeps = 0, floor_sps = 0;
        eqs_solver_layered_stats(sv, &phase_s, &sweeps);
        printf("bench: peak_rss_MiB=%.1f\n", cli_maxrss_MiB());
        st = eqs_layered_floor(ctx, 2 * layers[0] /* pair encoding: two sources per feature */, layers[1],
                               (int)batch, seconds < 2 ? seconds : 2, &floor_sps);
        if (st != EQS_OK) {
            rc = cli_fail(ctx, st);
        } else {
            printf("bench: samples_per_s=%.6g floor_samples_per_s=%.6g phase_ms=%.4g sweeps=%.3g\n",
                   samples / el, floor_sps, 1e3 * phase_s, sweeps);
        }
    }
    eqs_trainer_free(&tr);
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
    free(layers);
    return rc;
}
