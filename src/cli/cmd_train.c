/* cmd_train.c: `eqspice train EXPERIMENT.xml [--resume RUNDIR]`: train a
 * network by EqProp as an experiment file describes, into a run directory
 * (docs/training.md). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CLI_MAX_SET 64 /* --set assignments per command */

static const cli_opt train_opts[] = {
    {"-o, --output", "RUNDIR", "run directory instead of the experiment's <output dir> "
                               "(which the copy experiment.xml then names)", 0},
    {"--resume", "RUNDIR", "continue the run in RUNDIR from its last checkpoint "
                           "(conductances, momentum, epoch and batch, RNG state, learning-rate "
                           "scale); conductances and metrics values are bit-identical to an uninterrupted "
                           "run (the health checks of the warnings column restart: "
                           "docs/tuning.md).  "
                           "Without EXPERIMENT.xml the run's own experiment.xml is used.  No checkpoint yet "
                           "(killed early): starts from epoch 0 and says so", 0},
    {"--progress", "S", "seconds between progress lines when stderr is not a terminal "
                        "(default 10; 0: a line after every batch)", 0},
    {"--set", "PATH=VALUE", "change one value of the experiment before the run (repeatable; "
                            "docs/experiment.md \"Set by path\": training.epochs=3, "
                            "learning.rate[r1_*]=0.002); experiment.xml records the result", 0},
    {"--stats", NULL, "print samples/s, solver and timing details at the end", 0},
    {"-v", NULL, "more messages (-v -v: debug)", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command train_cmd = {
    "train", "[EXPERIMENT.xml]",
    "Train the network an experiment file describes (docs/experiment.md) by\n"
    "Equilibrium Propagation (or the adjoint method) and write the run directory\n"
    "named by its <output dir=...>: experiment.xml (the experiment as run, seed and\n"
    "version included), metrics.csv (one row per epoch: train/test loss and error,\n"
    "seconds), checkpoint.bin (every checkpoint_every batches and at the end of\n"
    "every epoch, atomic), and at the end trained.cir (a netlist stock ngspice runs)\n"
    "and conductances.csv.  Every input is checked before the run directory is\n"
    "created.  Progress goes to stderr: on a terminal a live bar, otherwise a line\n"
    "every --progress seconds during an epoch and its evaluation, and one line per\n"
    "epoch, each with the time elapsed and the time left for the whole run (eta).\n"
    "The final test accuracy (or training accuracy without a test set) goes to\n"
    "stdout.\n",
    {train_opts, NULL, NULL},
    "A run directory holding a checkpoint or a finished run is never overwritten\n"
    "(use --resume, or another directory); one holding only an unfinished run\n"
    "without checkpoint is started again from epoch 0, with a message.  A run\n"
    "directory is locked while a process uses it (RUNDIR/eqspice.lock holds its\n"
    "PID): a second process on it is refused.  A learning curve that cannot be\n"
    "written is a warning, training goes on.\n"
    "\n"
    "Exit status: 0 success, 1 bad input, 2 internal error.\n"};

/* The run driver's hooks: the progress bar on stderr (user = the bar). */
static double hook_clock(void *user) { return cli_now_s(); }

static void hook_epoch_begin(void *user, int epoch, size_t samples)
{
    cli_progress_epoch_begin(user, epoch, samples, cli_now_s());
}

static void hook_batch(void *user, size_t samples, double loss)
{
    cli_progress_update(user, samples, loss, cli_now_s());
}

static void hook_eval(void *user, size_t done, size_t total)
{
    cli_progress_eval(user, done, cli_now_s());
}

static void hook_epoch_end(void *user, const eqs_epoch_metrics *m)
{
    cli_progress_epoch_end(user, m, cli_now_s());
}

static void hook_warning(void *user, const char *msg)
{
    fprintf(stderr, "eqspice train: warning: %s\n", msg);
}

/* `--resume RUNDIR` without an experiment: the run's own copy must be
 * there (a run killed before writing it has none).  0 ok, else printed. */
static int resume_precheck(const char *dir, const char *copy)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        fprintf(stderr, "eqspice train: error: cannot resume: run directory '%s': %s\n", dir,
                strerror(errno));
        return -1;
    }
    if (access(copy, F_OK) != 0) {
        fprintf(stderr,
                "eqspice train: error: cannot resume '%s': it holds no experiment.xml (the "
                "run stopped before writing it); name the experiment: eqspice train "
                "EXPERIMENT.xml --resume %s\n",
                dir, dir);
        return -1;
    }
    return 0;
}

/* Wall time of the layered solver's phases inside the training steps (0
 * on another solver): the part of a step that ranks divide. */
static double layered_phase_s(eqs_trainer *tr)
{
    eqs_trainer_status p;
    eqs_trainer_progress(tr, &p);
    return p.step_phase_s;
}

int cli_cmd_train(int argc, char **argv)
{
    const char *xml = NULL, *resume = NULL, *outdir = NULL;
    int verbosity = 0, stats = 0, n_set = 0;
    double progress_s = CLI_PROGRESS_LOG_S;
    const char *set_paths[CLI_MAX_SET], *set_values[CLI_MAX_SET];
    char set_buf[CLI_MAX_SET][512];
    if (cli_check_options(&train_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &train_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--resume")) {
            if (++i >= argc) return cli_usage_error("train", "--resume needs a run directory");
            resume = argv[i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("train", "%s needs a directory", a);
            outdir = argv[i];
        } else if (!strcmp(a, "--progress")) {
            if (++i >= argc || cli_parse_double(argv[i], &progress_s) || progress_s < 0)
                return cli_usage_error("train", "--progress needs seconds >= 0");
        } else if (!strcmp(a, "--set")) {
            if (++i >= argc) return cli_usage_error("train", "--set needs PATH=VALUE");
            const char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i])
                return cli_usage_error("train", "--set needs PATH=VALUE, got '%s'", argv[i]);
            if (n_set == CLI_MAX_SET)
                return cli_usage_error("train", "more than %d --set", CLI_MAX_SET);
            if ((size_t)(eq - argv[i]) >= sizeof set_buf[0])
                return cli_usage_error("train", "--set path too long");
            snprintf(set_buf[n_set], sizeof set_buf[0], "%.*s", (int)(eq - argv[i]), argv[i]);
            set_paths[n_set] = set_buf[n_set];
            set_values[n_set++] = eq + 1;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else if (!strcmp(a, "-v")) {
            verbosity++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("train", "unknown option '%s'", a);
        } else if (!xml) {
            xml = a;
        } else {
            return cli_usage_error("train", "more than one experiment given ('%s')", a);
        }
    }
    char copy[4096];
    if (!xml && resume) {
        snprintf(copy, sizeof copy, "%s/experiment.xml", resume);
        xml = copy;
        if (resume_precheck(resume, copy) != 0) return CLI_USER;
    }
    if (!xml) return cli_usage_error("train", "no experiment file given");
    if (outdir && resume)
        return cli_usage_error("train", "-o and --resume exclude each other (--resume names "
                                        "the run directory)");

    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    int rc = CLI_OK;
    eqs_experiment *exp = NULL;
    eqs_job *job = NULL;
    cli_progress bar;
    memset(&bar, 0, sizeof bar);
    eqs_job_options jo;
    eqs_job_options_defaults(&jo);
    jo.dir = resume ? resume : outdir;
    jo.resume = resume != NULL;
    jo.hooks = (eqs_job_hooks){.user = &bar,
                               .clock_s = hook_clock,
                               .epoch_begin = hook_epoch_begin,
                               .batch = hook_batch,
                               .eval = hook_eval,
                               .epoch_end = hook_epoch_end,
                               .warning = hook_warning};
    if (eqs_par_rank() != 0) /* rank 0 reports the progress (docs/cluster.md) */
        jo.hooks = (eqs_job_hooks){.user = &bar, .clock_s = hook_clock};

    /* 1. everything that can be wrong with the input, before touching disk */
    eqs_status st = eqs_experiment_read(ctx, xml, &exp);
    if (st == EQS_OK && n_set > 0)
        st = eqs_experiment_set_many(exp, n_set, set_paths, set_values);
    if (st == EQS_OK) st = eqs_job_create(ctx, exp, &jo, &job);
    /* under MPI every rank's set-up agreed on before the first collective
     * (a rank that failed alone would leave the others waiting) */
    if (eqs_par_size() > 1 && eqs_par_agree(st != EQS_OK) && st == EQS_OK) {
        st = EQS_ERR_INPUT;
        eqs_job_free(&job);
        fprintf(stderr, "rank %d: another rank could not set the run up\n", eqs_par_rank());
        rc = CLI_USER;
        goto out;
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }

    if (eqs_par_rank() == 0 && eqs_par_size() > exp->parts)
        fprintf(stderr,
                "eqspice train: warning: %d ranks but training.parts=%d: %d rank(s) wait "
                "without work (set training.parts to a multiple of the rank count; results "
                "depend on parts, not on ranks: docs/cluster.md)\n",
                eqs_par_size(), exp->parts, eqs_par_size() - exp->parts);

    /* 2. the run directory */
    const char *dir = jo.dir ? jo.dir : exp->output_dir;
    st = eqs_job_open(job);
    /* rank 0 speaks for the run */
    eqs_run_mode mode = eqs_par_rank() == 0 ? eqs_job_mode(job) : EQS_RUN_MODE_NEW;
    if (st == EQS_OK && mode == EQS_RUN_MODE_RESTART)
        fprintf(stderr,
                resume ? "eqspice train: no checkpoint in %s (the run stopped before its "
                         "first one): starting from epoch 0\n"
                       : "eqspice train: %s holds an unfinished run without checkpoint: "
                         "starting it again from epoch 0\n",
                dir);
    if (st == EQS_OK && mode == EQS_RUN_MODE_RESUME) {
        eqs_trainer_status p;
        eqs_trainer_progress(eqs_job_trainer(job), &p);
        fprintf(stderr, "resuming %s at epoch %llu, batch %llu\n", dir,
                (unsigned long long)p.epochs_done + 1, (unsigned long long)p.batches_done);
    }
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }

    /* 3. the driver: steps, checkpoints, one metrics row per epoch */
    const eqs_dataset *train = eqs_job_train_set(job), *test = eqs_job_test_set(job);
    const size_t n_train = eqs_dataset_size(train);
    const size_t n_test = test ? eqs_dataset_size(test) : 0;
    cli_progress_init(&bar, stderr, -1, exp->epochs, n_train, n_train + n_test, progress_s,
                      cli_now_s());
    while (st == EQS_OK && !eqs_job_done(job)) st = eqs_job_iterate(job);
    if (st == EQS_OK) st = eqs_job_finish(job);
    if (st != EQS_OK) {
        rc = cli_fail(ctx, st);
        goto out;
    }
    eqs_job_result r;
    eqs_job_result_get(job, &r);
    const eqs_epoch_metrics *m = &r.last;
    if (test)
        printf("test_accuracy=%.2f%% test_error=%.2f%% test_loss=%.6g (%zu samples)\n",
               100 * (1 - m->test_error), 100 * m->test_error, m->test_loss, n_test);
    else
        printf("train_accuracy=%.2f%% train_error=%.2f%% train_loss=%.6g (%zu samples, no "
               "test set)\n",
               100 * (1 - m->train_error), 100 * m->train_error, m->train_loss, n_train);
    if (eqs_job_dir(job)) printf("run directory: %s\n", eqs_job_dir(job));
    if (stats && eqs_par_rank() == 0)
        fprintf(stderr,
                "stats: setup_s=%.3f train_s=%.3f eval_s=%.3f samples=%zu "
                "train_samples_per_s=%.1f params=%d solver=%s method=%s maxrss_MiB=%.1f "
                "ranks=%d comm_s=%.3f phase_s=%.3f\n",
                r.setup_s, r.train_s, r.eval_s, r.samples,
                r.train_s > 0 ? (double)r.samples / r.train_s : 0.0,
                eqs_circuit_param_count(eqs_job_circuit(job)), eqs_backend_name(exp->backend),
                eqs_grad_method_name(exp->algorithm), cli_maxrss_MiB(), eqs_par_size(),
                eqs_par_comm_s(), layered_phase_s(eqs_job_trainer(job)));
out:
    eqs_job_free(&job);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
    return rc;
}
