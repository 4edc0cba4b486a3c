/* cmd_bench.c: `eqspice bench op`: time reading, compiling and solving a
 * generated layered network with both backends in one run, and the
 * per-sample work of training (new inputs, warm solve, gradient). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char overview[] =
    "usage: eqspice bench op --layers N0,...,NL [options]\n"
    "       eqspice bench train --layers N0,...,NL [options]\n"
    "\n"
    "benchmarks:\n"
    "  bench op     parse, compile and solve times of a generated network (newton,\n"
    "               ngspice), warm re-solves and the per-sample work of training\n"
    "  bench train  training throughput of the trainer of 'eqspice train'\n"
    "\n"
    "Run 'eqspice bench op --help' or 'eqspice bench train --help' for the options.\n";

static const cli_opt bench_opts[] = {
    {"--layers", "N0,...,NL", "layer sizes of the generated DRN, input first",
     CLI_SYN_REQUIRED},
    {"--seed", "S", "RNG seed of the network (default 1)", 0},
    {"--repeat", "N", "runs of each newton measurement, medians reported (default 20)", 0},
    {"--ngspice", "M", "ngspice solves (default 1; 0 skips ngspice)", 0},
    {"--keep", "FILE", "keep the generated netlist in FILE (default: a temporary file, "
                       "removed)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command bench_cmd = {
    "bench op", NULL,
    "Generate a DRN (as 'eqspice gen drn'), then measure in this one process:\n"
    "  parse_s, compile_s (medians of 3 loads), maxrss_MiB after compiling;\n"
    "  newton: symbolic analysis (analyse_s), median cold solve from zero over N\n"
    "  runs (cold_s), median warm re-solve after one conductance (warm1_s), 1% of\n"
    "  them (warm_s) and all of them (warm_all_s) moved by a random relative step\n"
    "  of up to 1e-3, with Newton iterations;\n"
    "  ngspice: median time per solve over M runs (default 1; 0 skips it), both\n"
    "  whole (loading the deck + 'op': ngspice_s) and the 'op' command alone\n"
    "  (ngspice_op_s); the ratios ngspice_s / newton cold and ngspice_op_s /\n"
    "  (newton analysis + cold solve), and the largest |dV| between the two.\n"
    "Prints one line 'bench: key=value ...' on stdout.  The tolerance flags apply\n"
    "to both backends.\n",
    {bench_opts, cli_tol_opts, NULL},
    NULL};

int cli_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(overview, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USER : CLI_OK;
    }
    if (!strcmp(argv[1], "train")) return cli_bench_train(argc, argv);
    if (strcmp(argv[1], "op") != 0)
        return cli_usage_error("bench", "unknown benchmark '%s' (known: op, train)", argv[1]);
    if (cli_check_options(&bench_cmd, argc, argv, 2)) return CLI_USER;
    eqs_drn_spec spec;
    eqs_drn_spec_defaults(&spec);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    int *layers = NULL, nlayers = 0;
    long repeat = 20, ngs = 1;
    const char *keep = NULL;
    int rc = CLI_OK;
    for (int i = 2; i < argc && rc == CLI_OK; ++i) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        int r = cli_solver_flag(argc, argv, &i, &opt);
        if (r < 0) rc = cli_usage_error("bench", "bad value for %s", a);
        else if (r > 0) continue;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &bench_cmd);
            free(layers);
            return CLI_OK;
        } else if (!strcmp(a, "--layers")) {
            free(layers);
            layers = NULL;
            if (!v || cli_parse_layers(v, &layers, &nlayers))
                rc = cli_usage_error("bench", "--layers needs sizes like 784,100,10");
            ++i;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "--repeat") || !strcmp(a, "--ngspice")) {
            long x;
            if (!v || cli_parse_int(v, 0, 1000000, &x))
                rc = cli_usage_error("bench", "%s needs a non-negative integer", a);
            else if (!strcmp(a, "--seed")) spec.seed = (uint64_t)x;
            else if (!strcmp(a, "--repeat")) repeat = x > 0 ? x : 1;
            else ngs = x;
            ++i;
        } else if (!strcmp(a, "--keep")) {
            if (!v) rc = cli_usage_error("bench", "--keep needs a file name");
            keep = v;
            ++i;
        } else {
            rc = cli_usage_error("bench", "unknown option '%s'", a);
        }
    }
    if (rc == CLI_OK && !layers) rc = cli_usage_error("bench", "--layers is required");
    if (rc != CLI_OK) {
        free(layers);
        return rc;
    }
    spec.layers = layers;
    spec.n_layers = nlayers;

    char path[4096];
    if (keep) snprintf(path, sizeof path, "%s", keep);
    else {
        const char *tmpdir = getenv("TMPDIR"); /* removed at the end unless --keep */
        snprintf(path, sizeof path, "%s/eqspice-bench-%ld.cir", tmpdir && *tmpdir ? tmpdir : "/tmp",
                 (long)getpid());
    }

    eqs_ctx *ctx = cli_ctx_create(0);
    if (!ctx) {
        free(layers);
        return CLI_INTERNAL;
    }
    cli_loaded L = {0};
    eqs_solver *sn = NULL, *sg = NULL;
    double *t = calloc((size_t)(repeat > ngs ? repeat : ngs) + 1, sizeof *t);
    double *vref = NULL;
    eqs_status st = EQS_OK;
    cli_out out;
    if (!t) st = EQS_ERR_NOMEM;
    else if (cli_out_open(&out, path)) st = EQS_ERR_IO;
    else {
        st = eqs_gen_drn(ctx, &spec, out.f);
        if (st != EQS_OK) cli_out_abort(&out);
        else if (cli_out_commit(&out)) st = EQS_ERR_IO;
    }
    /* read + compile three times (freeing in between), report medians */
    double tp[3] = {0}, tc[3] = {0};
    for (int r = 0; r < 3 && st == EQS_OK; ++r) {
        cli_unload(&L);
        st = cli_load(ctx, path, &L);
        tp[r] = L.parse_s;
        tc[r] = L.compile_s;
    }
    if (st == EQS_OK) {
        L.parse_s = cli_median(tp, 3);
        L.compile_s = cli_median(tc, 3);
    }
    double rss = cli_maxrss_MiB();
    double analyse_s = 0, cold_s = 0, warm_s = 0, ng_s = NAN, dmax = NAN;
    int cold_it = 0, warm_it = 0;
    eqs_solve_info info = {0};
    if (st == EQS_OK) {
        double t0 = cli_now_s();
        st = eqs_solver_create(ctx, L.c, EQS_BACKEND_NEWTON, &opt, &sn);
        analyse_s = cli_now_s() - t0;
    }
    for (long r = 0; st == EQS_OK && r < repeat; ++r) {
        double t0 = cli_now_s();
        st = eqs_solver_solve(sn, EQS_SOLVE_COLD, &info);
        t[r] = cli_now_s() - t0;
        cold_it = info.iterations;
    }
    if (st == EQS_OK) cold_s = cli_median(t, (int)repeat);
    int n = L.c ? eqs_circuit_node_count(L.c) : 0;
    if (st == EQS_OK) {
        vref = malloc((size_t)n * sizeof *vref);
        if (!vref) st = EQS_ERR_NOMEM;
        else memcpy(vref, eqs_solver_voltages(sn), (size_t)n * sizeof *vref);
    }
    int np = L.c ? eqs_circuit_param_count(L.c) : 0;
    /* Warm re-solves after a small change: (0) one conductance, (1) 1% of
     * them (a random subset), (2) all of them (what one training step
     * does); each moved by a random relative step of up to 1e-3. */
    double warm1_s = 0, warm_all_s = 0;
    int warm1_it = 0, warm_all_it = 0;
    for (int pass = 0; pass < 3 && st == EQS_OK; ++pass) {
        long it_sum = 0;
        for (long r = 0; st == EQS_OK && r < repeat; ++r) {
            int one = np ? (int)(eqs_rng_u64(ctx, EQS_RNG_NOISE) % (uint64_t)np) : 0;
            for (int k = 0; k < np && st == EQS_OK; ++k) {
                if (pass == 0 && k != one) continue;
                if (pass == 1 && eqs_rng_uniform(ctx, EQS_RNG_NOISE) >= 0.01) continue;
                double g = eqs_circuit_param_get(L.c, k);
                double u = eqs_rng_uniform(ctx, EQS_RNG_NOISE) - 0.5;
                st = eqs_circuit_param_set(L.c, k, g * (1.0 + 2e-3 * u));
            }
            double t0 = cli_now_s();
            if (st == EQS_OK) st = eqs_solver_solve(sn, EQS_SOLVE_WARM, &info);
            t[r] = cli_now_s() - t0;
            it_sum += info.iterations;
        }
        if (st != EQS_OK) break;
        double med = cli_median(t, (int)repeat);
        int it = (int)lround((double)it_sum / (double)repeat);
        if (pass == 0) warm1_s = med, warm1_it = it;
        else if (pass == 1) warm_s = med, warm_it = it;
        else warm_all_s = med, warm_all_it = it;
    }
    /* New samples: (0) one input moved, (1) every input drawn anew, as a
     * training step does per sample; (2) the whole per-sample work of
     * gradient training: inputs, warm free phase, centered EqProp
     * gradient (targets 0 V: the values do not matter for the timing). */
    double input1_s = 0, inputs_s = 0, sample_s = 0;
    int input1_it = 0, inputs_it = 0;
    int ni = L.c ? eqs_circuit_input_count(L.c) : 0;
    eqs_eqprop *ep = NULL;
    double *grad = NULL, *yt = NULL;
    if (st == EQS_OK) st = eqs_eqprop_create(ctx, sn, &ep);
    if (st == EQS_OK) {
        grad = calloc((size_t)(np ? np : 1), sizeof *grad);
        yt = calloc((size_t)eqs_eqprop_output_count(ep) + 1, sizeof *yt);
        if (!grad || !yt) st = EQS_ERR_NOMEM;
        else st = eqs_eqprop_set_targets(ep, yt);
    }
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    for (int pass = 0; pass < 3 && st == EQS_OK && ni > 0; ++pass) {
        long it_sum = 0;
        for (long r = 0; st == EQS_OK && r < repeat; ++r) {
            if (pass == 0) {
                int k = (int)(eqs_rng_u64(ctx, EQS_RNG_NOISE) % (uint64_t)ni);
                double v = eqs_circuit_input_get(L.c, k);
                st = eqs_circuit_input_set(L.c, k, v + 0.01 * (eqs_rng_uniform(ctx, EQS_RNG_NOISE) - 0.5));
            } else {
                for (int k = 0; k < ni && st == EQS_OK; k += 2) {
                    double x = eqs_rng_uniform(ctx, EQS_RNG_NOISE);
                    st = eqs_circuit_input_set(L.c, k, x);
                    if (st == EQS_OK && k + 1 < ni) st = eqs_circuit_input_set(L.c, k + 1, -x);
                }
            }
            double t0 = cli_now_s();
            if (st == EQS_OK && pass < 2) st = eqs_solver_solve(sn, EQS_SOLVE_WARM, &info);
            if (st == EQS_OK && pass == 2) st = eqs_eqprop_free_phase(ep, EQS_SOLVE_WARM, NULL);
            if (st == EQS_OK && pass == 2) st = eqs_eqprop_gradient(ep, &go, grad);
            t[r] = cli_now_s() - t0;
            it_sum += info.iterations;
        }
        if (st != EQS_OK) break;
        double med = cli_median(t, (int)repeat);
        int it = (int)lround((double)it_sum / (double)repeat);
        if (pass == 0) input1_s = med, input1_it = it;
        else if (pass == 1) inputs_s = med, inputs_it = it;
        else sample_s = med;
    }
    eqs_eqprop_free(&ep);
    free(grad);
    free(yt);
    if (st == EQS_OK) {
        /* compare both backends on the final (perturbed) circuit */
        st = eqs_solver_solve(sn, EQS_SOLVE_COLD, &info);
        if (st == EQS_OK) memcpy(vref, eqs_solver_voltages(sn), (size_t)n * sizeof *vref);
    }
    double *t_op = calloc((size_t)(ngs > 0 ? ngs : 1), sizeof *t_op), ng_op_s = NAN;
    if (!t_op && st == EQS_OK) st = EQS_ERR_NOMEM;
    for (long r = 0; st == EQS_OK && r < ngs; ++r) {
        eqs_solver_free(&sg);
        eqs_solve_info gi = {0};
        double t0 = cli_now_s();
        st = eqs_solver_create(ctx, L.c, EQS_BACKEND_NGSPICE, &opt, &sg);
        if (st == EQS_OK) st = eqs_solver_solve(sg, EQS_SOLVE_COLD, &gi);
        t[r] = cli_now_s() - t0;
        t_op[r] = gi.core_s;
    }
    if (st == EQS_OK && ngs > 0) {
        ng_s = cli_median(t, (int)ngs);
        ng_op_s = cli_median(t_op, (int)ngs);
        const double *vg = eqs_solver_voltages(sg);
        dmax = 0;
        for (int k = 1; k < n; ++k)
            if (fabs(vg[k] - vref[k]) > dmax) dmax = fabs(vg[k] - vref[k]);
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
    } else {
        printf("bench: layers=");
        for (int l = 0; l < nlayers; ++l) printf("%s%d", l ? "," : "", layers[l]);
        printf(" nodes=%d unknowns=%d trainable=%d parse_s=%.4g compile_s=%.4g maxrss_MiB=%.1f"
               " newton_analyse_s=%.4g newton_cold_s=%.4g newton_cold_iters=%d"
               " newton_warm1_s=%.4g newton_warm1_iters=%d"
               " newton_warm_s=%.4g newton_warm_iters=%d newton_warm_all_s=%.4g"
               " newton_warm_all_iters=%d newton_input1_s=%.4g newton_input1_iters=%d"
               " newton_inputs_s=%.4g newton_inputs_iters=%d newton_sample_s=%.4g"
               " ngspice_s=%.4g ngspice_op_s=%.4g"
               " ngspice_over_newton=%.4g ngspice_op_over_newton_total=%.4g"
               " max_abs_dV_V=%.3g backend=%s\n",
               n - 1, eqs_circuit_unknown_count(L.c), np, L.parse_s, L.compile_s, rss, analyse_s,
               cold_s, cold_it, warm1_s, warm1_it, warm_s, warm_it, warm_all_s, warm_all_it, input1_s, input1_it, inputs_s, inputs_it, sample_s, ng_s, ng_op_s, ng_s / cold_s,
               ng_op_s / (analyse_s + cold_s), dmax,
               info.backend ? info.backend : "newton");
    }
    if (!keep) unlink(path);
    free(vref);
    free(t_op);
    free(t);
    eqs_solver_free(&sg);
    eqs_solver_free(&sn);
    cli_unload(&L);
    eqs_ctx_free(&ctx);
    free(layers);
    return rc;
}
