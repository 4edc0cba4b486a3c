/* cmd_bench_train.c: `eqspice bench train`: training throughput of the real
 * trainer (free phase + two nudged phases + update per sample) on a
 * generated DRN and synthetic data, timed over a fixed wall-clock budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    {"--rwire", "OHM", "also time the same network with wire resistance OHM per crossbar "
                       "line segment (<drn rwire_ohm>), in the same run: a second line "
                       "'bench: ... rwire_ohm=OHM' and wire_samples_per_s beside "
                       "samples_per_s on the last line", 0},
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
    "  bench: samples_per_s=... floor_samples_per_s=... floor_precision=... phase_ms=... sweeps=...\n"
    "where the floor is the two GEMMs per sample of the first crossbar (input\n"
    "drive X W and contrast X^T D, eqs_layered_floor, in the run's precision)\n"
    "timed in the same run,\n"
    "phase_ms the mean wall time of one phase of one batch (layered solver; one\n"
    "solve otherwise: 0) and sweeps the mean sweeps per phase.  With --rwire OHM\n"
    "the same network with wire resistance is timed next (a second first line\n"
    "ending in rwire_ohm=OHM) and the last line adds wire_samples_per_s=...\n"
    "rwire_ohm=OHM.\n",
    {bench_train_opts, NULL, NULL},
    NULL};

/* The bench's experiment: eqs_experiment_defaults completed by path (the
 * same validation as a file: eqs_experiment_set_many). */
static eqs_status bench_experiment(eqs_ctx *ctx, const int *layers, int nl, int batch,
                                   const char *solver, const char *diodes, const char *method,
                                   double gain, long seed, double tol, int single, int threads,
                                   double rwire, eqs_experiment **out)
{
    char lay[1024] = "", sd[32], cls[32], nfeat[32], ntrain[32], nbatch[32], g[40], tv[40],
         th[8], rw[40];
    for (int l = 0, at = 0; l < nl && at < (int)sizeof lay - 16; ++l)
        at += snprintf(lay + at, sizeof lay - (size_t)at, "%s%d", l ? " " : "", layers[l]);
    snprintf(sd, sizeof sd, "%ld", seed);
    snprintf(cls, sizeof cls, "%d", layers[nl - 1]);
    snprintf(nfeat, sizeof nfeat, "%d", layers[0]);
    snprintf(ntrain, sizeof ntrain, "%d", batch * 64 > 2048 ? batch * 64 : 2048);
    snprintf(nbatch, sizeof nbatch, "%d", batch);
    snprintf(g, sizeof g, "%.17g", gain);
    snprintf(tv, sizeof tv, "%.17g", tol);
    snprintf(th, sizeof th, "%d", threads);
    snprintf(rw, sizeof rw, "%.17g", rwire);
    const char *paths[] = {"network.drn.rwire_ohm", "network.drn.layers", "network.drn.seed", "network.drn.g_init_min_S",
                           "network.drn.g_init_max_S", "dataset.classes",
                           "dataset.synthetic.task", "dataset.synthetic.train_size",
                           "dataset.synthetic.features", "dataset.synthetic.seed",
                           "input.gain_V", "input.encoding", "targets.on_V", "targets.off_V",
                           "algorithm.method", "algorithm.beta", "learning.momentum",
                           "learning.decay", "learning.rate[r*]", "training.epochs",
                           "training.batch", "training.seed", "conductance.g_min_S",
                           "conductance.g_max_S", "solver.backend", "solver.diodes",
                           "solver.threads", "solver.precision", "solver.tol_V"};
    const char *values[] = {rw, lay,    sd,      "1e-6",  "1e-4",   cls,    "blobs",
                            ntrain, nfeat,   sd,      g,        "pair", "0.5",
                            "0",    method,  "1e-5",  "0.9",    "0.99", "1e-6",
                            "1",    nbatch,  sd,      "1e-7",   "1e-3", solver,
                            diodes, th,      single ? "single" : "double", tv};
    const int n = (int)(sizeof paths / sizeof paths[0]) - (tol > 0 ? 0 : 1);
    const int skip = rwire > 0 ? 0 : 1; /* no rwire: the experiment as before */
    eqs_status st = eqs_experiment_defaults(ctx, out);
    if (st == EQS_OK) st = eqs_experiment_set_many(*out, n - skip, paths + skip, values + skip);
    if (st != EQS_OK) eqs_experiment_free(out);
    return st;
}

int cli_bench_train(int argc, char **argv)
{
    int *layers = NULL, nlayers = 0, rc = CLI_OK;
    long batch = 32, seed = 1, threads = 2;
    double seconds = 10, gain = 10, tol = 0, rwire = 0;
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
        } else if (!strcmp(a, "--rwire")) {
            if (!v || cli_parse_double(v, &rwire) || !(rwire > 0) || !(rwire < 1e300))
                rc = cli_usage_error("bench", "--rwire needs a positive resistance (Ohm)");
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
                rc = cli_usage_error("bench", "--method needs centered, positive, negative, adjoint, ncep or aeqprop");
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
    eqs_ctx *ctx = cli_ctx_create(0);
    eqs_experiment *exp = NULL;
    eqs_job *job = NULL;
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
    /* the experiment's name of the method ("eqprop" -> "positive") */
    const char *xml_method = eqs_grad_method_name(eqs_grad_method_from_name(method));
    /* random data: what is learned does not matter, so no health warnings */
    eqs_trainer_options topt;
    eqs_trainer_options_defaults(&topt);
    topt.health_checks = 0;
    eqs_job_options jopt;
    eqs_job_options_defaults(&jopt);
    jopt.trainer = &topt;
    /* run 0: the network as generated; run 1 (--rwire): the same with wires */
    double sps[2] = {0, 0}, phase_s = 0, sweeps = 0;
    const eqs_solver *sv = NULL;
    for (int run = 0; run < (rwire > 0 ? 2 : 1) && st == EQS_OK; ++run) {
        st = bench_experiment(ctx, layers, nlayers, (int)batch, solver, diodes, xml_method, gain,
                              seed, tol, single, (int)threads, run ? rwire : 0.0, &exp);
        if (st == EQS_OK) st = eqs_job_create(ctx, exp, &jopt, &job); /* no file written */
        if (st == EQS_OK) tr = eqs_job_trainer(job);
        if (st == EQS_OK) st = eqs_trainer_step(tr); /* warm-up: first shuffle, caches */
        long steps = 0;
        double t0 = cli_now_s(), t = t0;
        while (st == EQS_OK && t - t0 < seconds) {
            st = eqs_trainer_step(tr);
            steps++;
            t = cli_now_s();
        }
        if (st != EQS_OK) break;
        double el = t - t0, samples = (double)steps * (double)batch;
        sv = eqs_trainer_solver(tr);
        const char *used = eqs_backend_name(eqs_solver_backend(sv));
        sps[run] = samples / el;
        printf("bench: layers=");
        for (int l = 0; l < nlayers; ++l) printf("%s%d", l ? "," : "", layers[l]);
        printf(" batch=%ld solver=%s method=%s samples=%.0f seconds=%.3f samples_per_s=%.4g"
               " step_ms=%.4g diodes=%s batched=%d precision=%s threads=%s",
               batch, used, method, samples, el, samples / el, 1e3 * el / (double)steps, diodes,
               eqs_trainer_batched(tr), single ? "single" : "double",
               /* the split over two cores exists only on the batched layered path */
               eqs_trainer_batched(tr) ? (threads == 1 ? "1" : "2") : "-");
        if (run) printf(" rwire_ohm=%.17g", rwire);
        printf("\n");
        if (run == 0) eqs_solver_layered_stats(sv, &phase_s, &sweeps);
        if (run == 0 && rwire > 0) { /* the wired run gets its own job */
            eqs_job_free(&job);
            eqs_experiment_free(&exp);
            tr = NULL;
        }
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
    } else {
        double floor_sps = 0;
        printf("bench: peak_rss_MiB=%.1f\n", cli_maxrss_MiB());
        st = eqs_layered_floor(ctx, 2 * layers[0] /* pair encoding: two sources per feature */, layers[1],
                               (int)batch, seconds < 2 ? seconds : 2, single, &floor_sps);
        if (st != EQS_OK) {
            rc = cli_fail(ctx, st);
        } else {
            printf("bench: samples_per_s=%.6g floor_samples_per_s=%.6g floor_precision=%s "
                   "phase_ms=%.4g sweeps=%.3g",
                   sps[0], floor_sps, single ? "single" : "double", 1e3 * phase_s, sweeps);
            if (rwire > 0) printf(" wire_samples_per_s=%.6g rwire_ohm=%.17g", sps[1], rwire);
            printf("\n");
        }
    }
    eqs_job_free(&job);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
    free(layers);
    return rc;
}
