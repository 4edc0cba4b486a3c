/* cmd_grad.c: `eqspice grad NETLIST --target NODE=VALUE ...`: dL/dG of
 * every trainable element by EqProp or by the adjoint method, as CSV.
 * Differential outputs (.output_pair POS NEG): --target POS,NEG=VALUE. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt grad_opts[] = {
    {"--target", "NODE=VALUE", "target voltage y (V) of output NODE, one per .output node; "
                               "for differential outputs (.output_pair) --target "
                               "POS,NEG=VALUE, the target of V_POS - V_NEG, one per pair",
     CLI_SYN_REQUIRED},
    {"--method", "centered|positive|negative|adjoint|ncep|aeqprop",
     "centered (default): EqProp with phases (-beta, +beta); eqprop (also positive): "
     "one-sided (0, +beta); negative: (-beta, 0); adjoint: exact gradient by implicit "
     "differentiation (not ngspice); ncep: centered EqProp for non-reciprocal circuits (E, "
     "F, G, H): the nudged phases add -(J0 - J0^T)(s - s0) (not ngspice; "
     "docs/nonreciprocal.md); aeqprop: Agnostic EqProp, the conductances relax with the "
     "circuit under knobs (u - G)^2 / (2 epsilon); prints -(G_after - G_before) / (epsilon "
     "(beta2 - beta1))", 0},
    {"--beta", "B", "nudge strength in siemens, > 0 (default: 1e-3 x the mean trainable "
                    "conductance); +beta pulls outputs toward the targets", 0},
    {"--epsilon", "E", "aeqprop: knob coupling in S/V^2, > 0 (default: automatic, each knob "
                       "offset epsilon dV^2/2 at most 1e-3 of its conductance)", 0},
    {"--phases", "centered|optimistic|pessimistic",
     "aeqprop: centered (default) (-beta/2, +beta/2); optimistic (0, +beta); pessimistic "
     "(-beta, 0)", 0},
    {"--nudge", "conductance|current",
     "conductance (default): a conductance beta from each output to a source at its target "
     "(pairs: from POS through beta and a source y to NEG); current: constant currents beta "
     "(y - V_free) computed from the free state", 0},
    {"--solver", "auto|newton|layered|ngspice",
     "auto (default: layered for a layered network, else newton), newton (built-in), layered "
     "or ngspice (EqProp methods only; the nudge reaches ngspice as VCCS and current-source "
     "cards)", 0},
    {"-o", "FILE", "write the CSV to FILE (atomically; nothing written on error)", 0},
    {"-v", NULL, "print method, beta and loss to stderr", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command grad_cmd = {
    "grad", "NETLIST",
    "Gradient of the loss C = 1/2 sum_k (V_k - y_k)^2 over the netlist's .output\n"
    "nodes (V_k = V_POS - V_NEG for .output_pair pairs) with respect to every\n"
    "trainable conductance, at the DC operating point.\n"
    "Prints CSV with the header element,gradient and one row per trainable element\n"
    "(lower-case name, dL/dG in V^2/S, %.17g): the gradient, not the update.\n"
    "The solver tolerances default to reltol 1e-12, vntol 1e-12 V, abstol 1e-15 A\n"
    "(over the netlist's .options): EqProp differences voltages of nearby states,\n"
    "which needs tight convergence.\n",
    {grad_opts, cli_layered_opts, cli_tol_opts},
    "See docs/eqprop.md for the conventions and the estimators.\n"};

/* Defaults of the solver tolerances for grad (see the help text). */
#define GRAD_RELTOL 1e-12
#define GRAD_VNTOL_V 1e-12
#define GRAD_ABSTOL_A 1e-15

typedef struct {
    char *node;
    char *neg; /* POS,NEG=VALUE: the negative node; NULL for NODE=VALUE */
    double value;
    int used;
} target;

int cli_cmd_grad(int argc, char **argv)
{
    const char *netlist = NULL, *outpath = NULL, *solver_name = "auto";
    const char *method_name = "centered", *nudge_name = "conductance";
    int verbosity = 0, n_tg = 0;
    double beta = 0.0;
    int beta_given = 0;
    double epsilon = 0.0; /* aeqprop: 0 = automatic */
    const char *phases_name = NULL;
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = GRAD_RELTOL;
    opt.vntol = GRAD_VNTOL_V;
    opt.abstol = GRAD_ABSTOL_A;
    opt.explicit_mask |= EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
    if (cli_check_options(&grad_cmd, argc, argv, 1)) return CLI_USER;
    target *tg = calloc((size_t)argc, sizeof *tg); /* at most one per argument */
    if (!tg) return CLI_INTERNAL;
    int rc = CLI_OK;

#define USAGE(...)                                   \
    do {                                             \
        rc = cli_usage_error("grad", __VA_ARGS__);   \
        goto done_args;                              \
    } while (0)
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        int r = cli_solver_flag(argc, argv, &i, &opt);
        if (r < 0) USAGE("bad value for %s", a);
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &grad_cmd);
            goto done_args;
        } else if (!strcmp(a, "--target")) {
            if (++i >= argc) USAGE("--target needs NODE=VALUE");
            const char *eq = strchr(argv[i], '=');
            double v;
            if (!eq || eq == argv[i] || cli_parse_double(eq + 1, &v))
                USAGE("bad --target '%s' (expected NODE=VALUE, VALUE in volts)", argv[i]);
            tg[n_tg].node = argv[i];
            tg[n_tg].value = v;
            argv[i][eq - argv[i]] = '\0';
            char *comma = strchr(argv[i], ',');
            if (comma) {
                *comma = '\0';
                tg[n_tg].neg = comma + 1;
                if (comma == argv[i] || !comma[1] || strchr(comma + 1, ','))
                    USAGE("bad --target '%s,%s' (expected POS,NEG=VALUE for a pair)", argv[i],
                          comma + 1);
            }
            for (int k = 0; k < n_tg; ++k)
                if (!strcmp(tg[k].node, argv[i]) &&
                    (!tg[k].neg) == (!tg[n_tg].neg) &&
                    (!tg[k].neg || !strcmp(tg[k].neg, tg[n_tg].neg))) {
                    if (tg[k].neg) USAGE("two targets for pair '%s,%s'", argv[i], tg[k].neg);
                    USAGE("two targets for node '%s'", argv[i]);
                }
            n_tg++;
        } else if (!strcmp(a, "--method")) {
            if (++i >= argc) USAGE("--method needs a value");
            method_name = argv[i];
        } else if (!strcmp(a, "--nudge")) {
            if (++i >= argc) USAGE("--nudge needs a value");
            nudge_name = argv[i];
        } else if (!strcmp(a, "--beta")) {
            if (++i >= argc || cli_parse_double(argv[i], &beta))
                USAGE("--beta needs a number (siemens)");
            if (!(beta > 0)) USAGE("--beta must be positive (got %s)", argv[i]);
            beta_given = 1;
        } else if (!strcmp(a, "--epsilon")) {
            if (++i >= argc || cli_parse_double(argv[i], &epsilon))
                USAGE("--epsilon needs a number (S/V^2)");
            if (!(epsilon > 0)) USAGE("--epsilon must be positive (got %s)", argv[i]);
        } else if (!strcmp(a, "--phases")) {
            if (++i >= argc) USAGE("--phases needs a value");
            phases_name = argv[i];
        } else if (!strcmp(a, "--solver")) {
            if (++i >= argc) USAGE("--solver needs a value");
            solver_name = argv[i];
        } else if (!strcmp(a, "-o")) {
            if (++i >= argc) USAGE("-o needs a file name");
            outpath = argv[i];
        } else if (!strcmp(a, "-v")) {
            verbosity = 1;
        } else if (a[0] == '-' && a[1]) {
            USAGE("unknown option '%s'", a);
        } else if (!netlist) {
            netlist = a;
        } else {
            USAGE("more than one netlist given ('%s')", a);
        }
    }
#undef USAGE
    if (0) {
    done_args:
        free(tg);
        return rc;
    }
    if (!netlist) {
        free(tg);
        return cli_usage_error("grad", "no netlist given");
    }
    int method = eqs_grad_method_from_name(method_name);
    int nudge = eqs_nudge_kind_from_name(nudge_name);
    int backend = eqs_backend_from_name(solver_name);
    const char *bad = NULL;
    if (method < 0) bad = "unknown method";
    else if (nudge < 0) bad = "unknown nudge";
    else if (backend < 0) bad = "unknown solver";
    if (bad) {
        free(tg);
        return cli_usage_error("grad", "%s '%s'", bad,
                               method < 0 ? method_name : nudge < 0 ? nudge_name : solver_name);
    }
    int phases = phases_name ? eqs_aeq_phases_from_name(phases_name) : EQS_AEQ_CENTERED;
    if (phases < 0) {
        free(tg);
        return cli_usage_error("grad", "unknown phases '%s' (centered, optimistic, pessimistic)",
                               phases_name);
    }
    if (method != EQS_GRAD_AEQPROP && (epsilon > 0 || phases_name)) {
        free(tg);
        return cli_usage_error("grad", "%s applies to --method aeqprop only",
                               epsilon > 0 ? "--epsilon" : "--phases");
    }
    if (method == EQS_GRAD_ADJOINT && backend == EQS_BACKEND_NGSPICE) {
        free(tg);
        return cli_usage_error("grad", "--method adjoint needs --solver newton (ngspice "
                                       "cannot solve the adjoint system)");
    }
    if (method == EQS_GRAD_NCEP && backend == EQS_BACKEND_NGSPICE) {
        free(tg);
        return cli_usage_error("grad", "--method ncep needs --solver newton (ngspice cannot "
                                       "add the non-reciprocal correction)");
    }
    if (n_tg == 0) {
        free(tg);
        return cli_usage_error("grad", "no --target given");
    }

    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) {
        free(tg);
        return CLI_INTERNAL;
    }
    cli_loaded L = {0};
    eqs_solver *s = NULL;
    eqs_eqprop *ep = NULL;
    double *y = NULL, *grad = NULL;
    eqs_status st = cli_load(ctx, netlist, &L);
    if (st == EQS_OK) st = eqs_solver_create(ctx, L.c, (eqs_backend_id)backend, &opt, &s);
    if (st == EQS_OK) st = eqs_eqprop_create(ctx, s, &ep);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }
    int n_out = eqs_eqprop_output_count(ep), np = eqs_circuit_param_count(L.c);
    y = calloc((size_t)n_out, sizeof *y);
    grad = calloc((size_t)(np ? np : 1), sizeof *grad);
    if (!y || !grad) {
        fprintf(stderr, "error: out of memory\n");
        rc = CLI_INTERNAL;
        goto out;
    }
    int pairs = eqs_eqprop_output_pairs(ep);
    for (int t = 0; t < n_tg; ++t)
        if ((tg[t].neg != NULL) != (pairs != 0)) {
            if (pairs)
                fprintf(stderr,
                        "error: %s: --target '%s' names one node, but the outputs are "
                        "differential pairs (.output_pair): use --target POS,NEG=VALUE\n",
                        netlist, tg[t].node);
            else
                fprintf(stderr,
                        "error: %s: --target '%s,%s' names a pair, but the outputs are "
                        "single-ended (.output): use --target NODE=VALUE\n",
                        netlist, tg[t].node, tg[t].neg);
            rc = CLI_USER;
            goto out;
        }
    for (int k = 0; k < n_out; ++k) {
        int pn = eqs_eqprop_output_node(ep, k), nn = eqs_eqprop_output_neg(ep, k);
        const char *name = eqs_circuit_node_name(L.c, pn);
        int found = -1;
        for (int t = 0; t < n_tg && found < 0; ++t)
            if (eqs_circuit_node_find(L.c, tg[t].node) == pn &&
                (!pairs || eqs_circuit_node_find(L.c, tg[t].neg) == nn))
                found = t;
        if (found < 0) {
            if (pairs)
                fprintf(stderr, "error: %s: no --target for output pair '%s,%s'\n", netlist,
                        name, eqs_circuit_node_name(L.c, nn));
            else
                fprintf(stderr, "error: %s: no --target for output node '%s'\n", netlist, name);
            rc = CLI_USER;
            goto out;
        }
        tg[found].used = 1;
        y[k] = tg[found].value;
    }
    for (int t = 0; t < n_tg; ++t)
        if (!tg[t].used) {
            if (pairs)
                fprintf(stderr,
                        "error: %s: --target '%s,%s' is not an .output_pair of the netlist\n",
                        netlist, tg[t].node, tg[t].neg);
            else
                fprintf(stderr,
                        "error: %s: --target '%s' is not an .output node of the netlist\n",
                        netlist, tg[t].node);
            rc = CLI_USER;
            goto out;
        }

    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = (eqs_grad_method)method;
    go.nudge = (eqs_nudge_kind)nudge;
    go.beta_S = beta_given ? beta : eqs_eqprop_default_beta(ep);
    go.epsilon_S_per_V2 = epsilon;
    go.aeq_phases = (eqs_aeq_phases)phases;
    double loss = 0;
    st = eqs_eqprop_set_targets(ep, y);
    if (st == EQS_OK) st = eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, &loss);
    if (st == EQS_OK) st = eqs_eqprop_gradient(ep, &go, grad);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }
    if (verbosity)
        fprintf(stderr, "grad: method=%s nudge=%s beta_S=%.17g loss_V2=%.17g solver=%s\n",
                eqs_grad_method_name(go.method), eqs_nudge_kind_name(go.nudge), go.beta_S, loss,
                solver_name);
    cli_out o;
    if (cli_out_open(&o, outpath)) {
        rc = CLI_USER;
        goto out;
    }
    fprintf(o.f, "element,gradient\n");
    for (int k = 0; k < np; ++k)
        fprintf(o.f, "%s,%.17g\n", eqs_circuit_param_name(L.c, k), grad[k]);
    if (cli_out_commit(&o)) rc = CLI_USER;
out:
    free(y);
    free(grad);
    free(tg);
    eqs_eqprop_free(&ep);
    eqs_solver_free(&s);
    cli_unload(&L);
    eqs_ctx_free(&ctx);
    return rc;
}
