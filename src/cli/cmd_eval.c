/* cmd_eval.c: `eqspice eval RUNDIR | NETLIST [--idx|--csv|--synthetic ...]`:
 * loss and error rate of a (trained) network on a dataset, through the
 * trainer's evaluation path (same encoding, targets and prediction as
 * training), built by the run driver's evaluation entry (eqs_job_evaluator:
 * the run's experiment, or the experiment defaults, with the settings).
 *
 * The settings of the evaluation (diodes, encoding, gain, targets, solver)
 * come, lowest first, from the built-in defaults, the run's experiment.xml
 * (RUNDIR only), the netlist's evaluation cards (docs/netlist.md) and the
 * command line.  A value that contradicts one from a lower explicit source
 * is used with a warning naming both; physics left at the defaults (no
 * card, no flag) gets one warning too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt eval_opts[] = {
    {"--idx", "IMAGES LABELS", "IDX files (gzip or not), pixels scaled to [0,1]", 0},
    {"--csv", "FILE", "CSV, numeric features, label in the last column", 0},
    {"--synthetic", "NAME", "built-in task: xor or blobs", 0},
    {"--set", "test|train", "RUNDIR without a dataset option: the run's test set (default) or "
                            "its training set", 0},
    {"--gain", "V", "volts per unit feature (default: the netlist's .encoding card, else 1)", 0},
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
    {"--diodes", "shockley|ideal", "shockley (default) or ideal (the DRN model; layered solver "
                                   "only)", 0},
    {"--tol", "V", "layered solver tolerance (default: the trainer's, 1e-10 V)", 0},
    {"--precision", "double|single", "double (default) or single (batched layered path)", 0},
    {"--vread", "V", "physical units: evaluate the network mapped so that the input gain is V "
                     "volts (every voltage, the targets with it; docs/export.md \"Physical "
                     "units\")", 0},
    {"--window", "GMIN,GMAX", "physical units: evaluate the network mapped so that its largest "
                              "conductance is GMAX, those then below GMIN raised to GMIN; a "
                              "run's conductance bounds and device model are not applied", 0},
    {"--batch", "N", "samples per batched layered evaluation (default 32)", 0},
    {"-v", NULL, "print the error and loss with the dataset's name to stderr", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command eval_cmd = {
    "eval", "RUNDIR|NETLIST",
    "Free-phase loss and error rate of a network on a dataset.  Prints CSV on\n"
    "stdout: samples,loss_V2,error,accuracy (loss 1/2 sum_k (V_k - y_k)^2\n"
    "averaged over the samples; error and accuracy as fractions).  Prediction =\n"
    "the output with the highest voltage; output k stands for class k.\n"
    "\n"
    "RUNDIR (a directory written by 'eqspice train'): its trained.cir on the\n"
    "run's test set (its training set without one, or with --set train), with\n"
    "the run's settings: the result is the last row of its metrics.csv.\n"
    "NETLIST needs one of --idx, --csv, --synthetic; its settings come from its\n"
    "evaluation cards (the trained.cir of a run carries them: .diodes,\n"
    ".encoding, .targets, .solver), else from the defaults below.  A flag wins\n"
    "over a card or the experiment, with a warning when they differ.\n",
    {eval_opts, NULL, NULL},
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

/* Where a setting came from, lowest first. */
enum { SRC_DEFAULT = 0, SRC_EXPERIMENT, SRC_CARD, SRC_FLAG };
typedef enum { V_NUM, V_INT, V_DIODES, V_ENCODING, V_BACKEND, V_PRECISION } value_kind;

/* The settings, with the flag and the card key naming each. */
static const struct {
    unsigned bit;
    const char *flag; /* "--gain" */
    const char *key;  /* "gain_V" (card key, experiment attribute) */
    value_kind kind;
} fields[] = {
    {EQS_EVAL_DIODES, "--diodes", "diodes", V_DIODES},
    {EQS_EVAL_ENCODING, "--encoding", "encoding", V_ENCODING},
    {EQS_EVAL_GAIN, "--gain", "gain_V", V_NUM},
    {EQS_EVAL_ON, "--on", "on_V", V_NUM},
    {EQS_EVAL_OFF, "--off", "off_V", V_NUM},
    {EQS_EVAL_BACKEND, "--solver", "solver", V_BACKEND},
    {EQS_EVAL_TOL, "--tol", "tol_V", V_NUM},
    {EQS_EVAL_PRECISION, "--precision", "precision", V_PRECISION},
    {EQS_EVAL_BATCH, "--batch", "batch", V_INT},
};
#define N_FIELDS ((int)(sizeof fields / sizeof *fields))

static double field_get(const eqs_eval_settings *ev, unsigned bit)
{
    switch (bit) {
    case EQS_EVAL_DIODES: return ev->diodes;
    case EQS_EVAL_ENCODING: return ev->encoding;
    case EQS_EVAL_GAIN: return ev->input_gain_V;
    case EQS_EVAL_ON: return ev->target_on_V;
    case EQS_EVAL_OFF: return ev->target_off_V;
    case EQS_EVAL_BACKEND: return ev->backend;
    case EQS_EVAL_TOL: return ev->bcd_tol_V;
    case EQS_EVAL_PRECISION: return ev->single;
    default: return ev->batch;
    }
}

static void field_put(eqs_eval_settings *ev, unsigned bit, double v)
{
    switch (bit) {
    case EQS_EVAL_DIODES: ev->diodes = (eqs_diode_kind)v; break;
    case EQS_EVAL_ENCODING: ev->encoding = (eqs_input_encoding)v; break;
    case EQS_EVAL_GAIN: ev->input_gain_V = v; break;
    case EQS_EVAL_ON: ev->target_on_V = v; break;
    case EQS_EVAL_OFF: ev->target_off_V = v; break;
    case EQS_EVAL_BACKEND: ev->backend = (eqs_backend_id)v; break;
    case EQS_EVAL_TOL: ev->bcd_tol_V = v; break;
    case EQS_EVAL_PRECISION: ev->single = (int)v; break;
    default: ev->batch = (int)v; break;
    }
}

static const char *value_text(value_kind kind, double v, char *buf, size_t size)
{
    switch (kind) {
    case V_DIODES: return eqs_diode_kind_name((eqs_diode_kind)v);
    case V_ENCODING:
        return v == EQS_ENCODE_PAIR ? "pair" : v == EQS_ENCODE_SINGLE ? "single" : "auto";
    case V_BACKEND: return eqs_backend_name((eqs_backend_id)v);
    case V_PRECISION: return v != 0 ? "single" : "double";
    case V_INT: snprintf(buf, size, "%d", (int)v); return buf;
    case V_NUM: break;
    }
    snprintf(buf, size, "%.17g", v);
    return buf;
}

/* "--gain 8", "trained.cir:14: gain_V=8", "the run's experiment.xml: gain_V=8" */
static void describe(int src, int i, double v, const eqs_circuit *c, const char *exp_path,
                     char *buf, size_t size)
{
    char num[64];
    const char *val = value_text(fields[i].kind, v, num, sizeof num);
    const char *file = NULL;
    int line = 0;
    if (src == SRC_FLAG)
        snprintf(buf, size, "%s %s", fields[i].flag, val);
    else if (src == SRC_CARD && eqs_circuit_eval_card_loc(c, fields[i].bit, &file, &line))
        snprintf(buf, size, "the card at %s:%d (%s=%s)", file ? file : "netlist", line,
                 fields[i].key, val);
    else
        snprintf(buf, size, "%s (%s=%s)", exp_path ? exp_path : "the experiment", fields[i].key,
                 val);
}

/* Merge the sources into *out (highest source wins); warn about values
 * contradicting a lower explicit source and about physics left at the
 * defaults. */
static void resolve(const eqs_eval_settings *const src[4], const eqs_circuit *c,
                    const char *netlist, const char *exp_path, eqs_eval_settings *out)
{
    eqs_eval_settings_defaults(out);
    out->set = 0;
    char defaulted[256] = "";
    for (int i = 0; i < N_FIELDS; ++i) {
        unsigned bit = fields[i].bit;
        int top = SRC_DEFAULT;
        for (int s = SRC_FLAG; s > SRC_DEFAULT && top == SRC_DEFAULT; --s)
            if (src[s] && (src[s]->set & bit)) top = s;
        double v = field_get(src[top] ? src[top] : out, bit);
        field_put(out, bit, v);
        if (top > SRC_DEFAULT) out->set |= bit;
        for (int s = top - 1; s > SRC_DEFAULT; --s) {
            if (!src[s] || !(src[s]->set & bit)) continue;
            double w = field_get(src[s], bit);
            if (w == v) continue;
            char a[512], b[512];
            describe(top, i, v, c, exp_path, a, sizeof a);
            describe(s, i, w, c, exp_path, b, sizeof b);
            fprintf(stderr, "eqspice eval: warning: %s contradicts %s; evaluating with %s\n", a,
                    b, top == SRC_FLAG ? "the flag" : "the card");
            break; /* one warning per setting: against the next source down */
        }
        if (top == SRC_DEFAULT &&
            (bit & (EQS_EVAL_DIODES | EQS_EVAL_GAIN | EQS_EVAL_ON | EQS_EVAL_OFF))) {
            char num[64];
            snprintf(defaulted + strlen(defaulted), sizeof defaulted - strlen(defaulted),
                     "%s%s=%s", defaulted[0] ? ", " : "", fields[i].key,
                     value_text(fields[i].kind, v, num, sizeof num));
        }
    }
    if (defaulted[0])
        fprintf(stderr,
                "eqspice eval: warning: %s has no evaluation cards for what it was trained with "
                "(docs/netlist.md); assuming %s: give --gain, --on, --off, --diodes as in "
                "training, or evaluate the run directory\n",
                netlist, defaulted);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cli_cmd_eval(int argc, char **argv)
{
    const char *target = NULL, *images = NULL, *labels = NULL, *csv = NULL, *synth = NULL;
    const char *set_name = NULL;
    /* the synthetic task's flags start at the library's defaults */
    eqs_synthetic_spec sp;
    eqs_synthetic_spec_defaults(&sp);
    double noise = sp.noise;
    long limit = 0, classes = 0, n = (long)sp.n, features = sp.n_features,
         seed = (long)sp.seed;
    int verbosity = 0;
    if (cli_check_options(&eval_cmd, argc, argv, 1)) return CLI_USER;
    eqs_eval_settings flags;
    eqs_physical_target phys;
    eqs_physical_target_defaults(&phys);
    eqs_eval_settings_defaults(&flags);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        double x;
        long k;
        int w;
#define NEED(k) \
    if (i + (k) >= argc) return cli_usage_error("eval", "%s needs a value", a)
#define NUM(var) \
    do { NEED(1); if (cli_parse_double(argv[++i], &(var))) \
        return cli_usage_error("eval", "bad number for %s: '%s'", a, argv[i]); } while (0)
#define INT(var, lo, hi) \
    do { NEED(1); if (cli_parse_int(argv[++i], lo, hi, &(var))) \
        return cli_usage_error("eval", "bad value for %s: '%s'", a, argv[i]); } while (0)
#define NAME(fn, what) \
    do { NEED(1); if ((w = (fn)(argv[++i])) < 0) \
        return cli_usage_error("eval", "unknown " what " '%s'", argv[i]); } while (0)
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
        } else if (!strcmp(a, "--set")) {
            NEED(1);
            set_name = argv[++i];
            if (strcmp(set_name, "test") && strcmp(set_name, "train"))
                return cli_usage_error("eval", "--set needs test or train, got '%s'", set_name);
        } else if (!strcmp(a, "--encoding")) {
            NEED(1);
            const char *e = argv[++i];
            if (!strcmp(e, "auto")) flags.encoding = EQS_ENCODE_AUTO;
            else if (!strcmp(e, "pair")) flags.encoding = EQS_ENCODE_PAIR;
            else if (!strcmp(e, "single")) flags.encoding = EQS_ENCODE_SINGLE;
            else return cli_usage_error("eval", "unknown encoding '%s'", e);
            flags.set |= EQS_EVAL_ENCODING;
        } else if (!strcmp(a, "--solver")) {
            NAME(eqs_backend_from_name, "solver");
            flags.backend = (eqs_backend_id)w;
            flags.set |= EQS_EVAL_BACKEND;
        } else if (!strcmp(a, "--diodes")) {
            NAME(eqs_diode_kind_from_name, "diode model");
            flags.diodes = (eqs_diode_kind)w;
            flags.set |= EQS_EVAL_DIODES;
        } else if (!strcmp(a, "--precision")) {
            NEED(1);
            const char *p = argv[++i];
            if (strcmp(p, "double") && strcmp(p, "single"))
                return cli_usage_error("eval", "--precision needs double or single, got '%s'", p);
            flags.single = !strcmp(p, "single");
            flags.set |= EQS_EVAL_PRECISION;
        } else if (!strcmp(a, "--gain")) {
            NUM(x);
            flags.input_gain_V = x;
            flags.set |= EQS_EVAL_GAIN;
        } else if (!strcmp(a, "--on")) {
            NUM(x);
            flags.target_on_V = x;
            flags.set |= EQS_EVAL_ON;
        } else if (!strcmp(a, "--off")) {
            NUM(x);
            flags.target_off_V = x;
            flags.set |= EQS_EVAL_OFF;
        } else if (!strcmp(a, "--tol")) {
            NUM(x);
            if (!(x > 0)) return cli_usage_error("eval", "--tol must be positive");
            flags.bcd_tol_V = x;
            flags.set |= EQS_EVAL_TOL;
        } else if (!strcmp(a, "--batch")) {
            INT(k, 1, 1000000L);
            flags.batch = (int)k;
            flags.set |= EQS_EVAL_BATCH;
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
        } else if (!strcmp(a, "--vread") || !strcmp(a, "--window")) {
            if (cli_parse_physical("eval", a, ++i < argc ? argv[i] : NULL, &phys))
                return CLI_USER;
        } else if (!strcmp(a, "-v")) {
            verbosity++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("eval", "unknown option '%s'", a);
        } else if (!target) {
            target = a;
        } else {
            return cli_usage_error("eval", "more than one netlist given ('%s')", a);
        }
#undef NEED
#undef NUM
#undef INT
#undef NAME
    }
    if (!target) return cli_usage_error("eval", "no run directory or netlist given");
    const int rundir = is_dir(target);
    const int data_flags = !!images + !!csv + !!synth;
    if (data_flags > 1)
        return cli_usage_error("eval", "give at most one of --idx, --csv, --synthetic");
    if (!rundir && data_flags != 1)
        return cli_usage_error("eval", "give one of --idx, --csv, --synthetic (or a run "
                                       "directory instead of '%s')", target);
    /* options that shape a dataset mean nothing without one: refused, not
     * ignored (eval RUNDIR evaluates the run's own sets as they were) */
    static const char *const data_opts[] = {"--limit", "--classes", "--n",
                                            "--seed",  "--features", "--noise", NULL};
    for (int i = 1; !data_flags && i < argc; ++i)
        for (int k = 0; data_opts[k]; ++k)
            if (!strcmp(argv[i], data_opts[k]))
                return cli_usage_error("eval", "%s shapes a dataset given with --idx, --csv or "
                                               "--synthetic; a run directory is evaluated on "
                                               "its own sets as they were",
                                       data_opts[k]);
    if (set_name && (!rundir || data_flags))
        return cli_usage_error("eval", "--set selects a set of a run directory's experiment "
                                       "(without --idx, --csv, --synthetic)");
    if ((flags.set & EQS_EVAL_ON) && (flags.set & EQS_EVAL_OFF) &&
        flags.target_on_V == flags.target_off_V)
        return cli_usage_error("eval", "--on and --off must differ");

    char netlist[4096], exp_path[4096];
    if (rundir) {
        snprintf(netlist, sizeof netlist, "%s/trained.cir", target);
        snprintf(exp_path, sizeof exp_path, "%s/experiment.xml", target);
    } else {
        snprintf(netlist, sizeof netlist, "%s", target);
        exp_path[0] = '\0';
    }
    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    cli_loaded L = {0};
    eqs_experiment *run = NULL;
    eqs_dataset *ds = NULL, *other = NULL;
    eqs_trainer *tr = NULL;
    int rc = CLI_OK;
    eqs_status st = EQS_OK;
    if (rundir && (access(exp_path, R_OK) != 0 || access(netlist, R_OK) != 0)) {
        fprintf(stderr, "eqspice eval: error: '%s' is not a finished run directory (it needs "
                        "experiment.xml and trained.cir, written at the end of 'eqspice train')\n",
                target);
        rc = CLI_USER;
        goto out;
    }
    if (rundir) st = eqs_experiment_read(ctx, exp_path, &run);
    if (st == EQS_OK) st = cli_load(ctx, netlist, &L);
    if (st == EQS_OK && eqs_circuit_output_count(L.c) == 0)
        st = eqs_job_evaluator(ctx, NULL, L.c, NULL, &tr); /* reports the missing .output */
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }

    /* the settings: defaults < experiment < cards < flags */
    eqs_eval_settings ev, from_exp, from_cards;
    eqs_circuit_eval_settings(L.c, &from_cards);
    if (run) eqs_experiment_eval_settings(run, &from_exp);
    const eqs_eval_settings *src[4] = {NULL, run ? &from_exp : NULL, &from_cards, &flags};
    resolve(src, L.c, netlist, run ? exp_path : NULL, &ev);
    if (ev.target_on_V == ev.target_off_V) {
        fprintf(stderr, "eqspice eval: error: on_V and off_V are equal (%g V): the targets carry "
                        "no class\n", ev.target_on_V);
        rc = CLI_USER;
        goto out;
    }

    if (data_flags) {
        eqs_dataset_options dopt;
        eqs_dataset_options_defaults(&dopt);
        dopt.n_classes = classes ? (int)classes : eqs_circuit_output_count(L.c);
        dopt.limit = (size_t)limit;
        if (images) {
            st = eqs_dataset_read_idx(ctx, images, labels, &dopt, &ds);
        } else if (csv) {
            st = eqs_dataset_read_csv(ctx, csv, &dopt, &ds);
        } else {
            sp.name = synth;
            sp.n = (size_t)n;
            sp.seed = (uint64_t)seed;
            sp.n_features = (int)features;
            sp.n_classes = classes ? (int)classes : 0;
            sp.noise = noise;
            st = eqs_dataset_synthetic(ctx, &sp, &ds);
        }
    } else { /* the run's own data: its test set unless --set train or none */
        eqs_dataset *train = NULL, *test = NULL;
        st = eqs_experiment_load_data(ctx, run, &train, &test);
        int use_train = !test || (set_name && !strcmp(set_name, "train"));
        if (st == EQS_OK && !test && set_name && !strcmp(set_name, "test")) {
            fprintf(stderr, "eqspice eval: error: %s has no test set (use --set train)\n",
                    exp_path);
            eqs_dataset_free(&train);
            rc = CLI_USER;
            goto out;
        }
        ds = use_train ? train : test;
        other = use_train ? test : train;
    }
    /* physical units: the map applied to the network and the settings; the
     * run's window and device model are in trained units, so with --window
     * the evaluator gets the defaults' (no window, no device) instead */
    const int mapped = phys.v_read_V > 0 || phys.g_max_S > 0;
    eqs_physical_map map;
    if (st == EQS_OK && mapped) {
        st = eqs_physical_map_apply(ctx, L.c, &ev, &phys, &map);
        if (st == EQS_OK)
            fprintf(stderr,
                    "eval: physical units: voltages x %.6g (gain %.6g V, targets %.6g/%.6g V), "
                    "conductances x %.6g (trained %.4g..%.4g S), %ld of %ld raised to %.4g S\n",
                    map.a, ev.input_gain_V, ev.target_on_V, ev.target_off_V, map.b, map.g_lo_S,
                    map.g_hi_S, map.n_raised, map.n_params, phys.g_min_S);
    }
    /* the run's experiment (or the defaults) with the resolved settings */
    if (st == EQS_OK)
        st = eqs_job_evaluator(ctx, mapped && phys.g_max_S > 0 ? NULL : run, L.c, &ev, &tr);
    double loss = NAN, err = NAN;
    if (st == EQS_OK) st = eqs_trainer_evaluate(tr, ds, &loss, &err);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }
    printf("samples,loss_V2,error,accuracy\n%zu,%.17g,%.17g,%.17g\n", eqs_dataset_size(ds), loss,
           err, 1 - err);
    if (verbosity)
        fprintf(stderr,
                "eval: %s on %s: error=%.2f%% loss=%.6g (diodes %s, gain %g V, solver %s)\n",
                netlist, eqs_dataset_source(ds), 100 * err, loss, eqs_diode_kind_name(ev.diodes),
                ev.input_gain_V, eqs_backend_name(eqs_solver_backend(eqs_trainer_solver(tr))));
out:
    eqs_trainer_free(&tr);
    eqs_dataset_free(&ds);
    eqs_dataset_free(&other);
    cli_unload(&L);
    eqs_experiment_free(&run);
    eqs_ctx_free(&ctx);
    return rc;
}
