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

/* Everything a run holds, released by one function. */
typedef struct {
    eqs_ctx *ctx;
    eqs_experiment *exp;
    eqs_dataset *train, *test;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_trainer *tr;
    eqs_run *run;
    int plot_failures; /* learning-curve writes that failed */
    int plot_epoch;    /* last epoch the curve was drawn for (0: none) */
} train_job;

static void job_free(train_job *j)
{
    eqs_run_close(&j->run);
    eqs_trainer_free(&j->tr);
    eqs_circuit_free(&j->c);
    eqs_netlist_free(&j->nl);
    eqs_dataset_free(&j->train);
    eqs_dataset_free(&j->test);
    eqs_experiment_free(&j->exp);
    eqs_ctx_free(&j->ctx);
}

/* Epoch-end evaluation reported through the trainer's hook: the train
 * set, then the test set, counted as one stretch of samples. */
typedef struct {
    cli_progress *bar;
    size_t offset;     /* samples of the sets evaluated before this one */
    size_t last;       /* `done` of the previous call */
    size_t last_total; /* its `total` */
} eval_progress;

static void eval_hook(void *user, size_t done, size_t total)
{
    eval_progress *ep = user;
    if (ep->last_total && ep->last == ep->last_total) /* that set was complete: a new one */
        ep->offset += ep->last_total;
    ep->last = done;
    ep->last_total = total;
    cli_progress_eval(ep->bar, ep->offset + done, cli_now_s());
}

/* The learning curve is a convenience: a failure to draw or write it is a
 * warning (once; a summary at the end if it stays out of date), and the
 * training and the rest of the run directory go on. */
static void plot_or_warn(train_job *j, int epoch)
{
    eqs_status st = eqs_plot_learning_curve(j->ctx, eqs_run_path(j->run, EQS_RUN_METRICS),
                                            eqs_run_path(j->run, EQS_RUN_PLOT));
    if (st == EQS_OK) {
        j->plot_epoch = epoch;
        return;
    }
    if (j->plot_failures++ == 0) {
        const char *msg = eqs_ctx_error(j->ctx);
        if (!strncmp(msg, "error: ", 7)) msg += 7;
        fprintf(stderr,
                "eqspice train: warning: learning curve not updated after epoch %d: %s "
                "(training goes on)\n",
                epoch, *msg ? msg : eqs_strerror(st));
    }
    eqs_ctx_clear_error(j->ctx);
}

/* Epoch-end bookkeeping: evaluate, append the metrics row, checkpoint. */
static eqs_status end_epoch(train_job *j, double seconds, eqs_epoch_metrics *m)
{
    eqs_trainer_status p;
    eqs_trainer_progress(j->tr, &p);
    m->epoch = (int)p.epochs_done;
    m->seconds = seconds;
    m->test_loss = m->test_error = NAN;
    m->warnings = p.health; /* health checks of the epoch (docs/tuning.md) */
    eqs_status st = eqs_trainer_evaluate(j->tr, j->train, &m->train_loss, &m->train_error);
    if (st == EQS_OK && j->test)
        st = eqs_trainer_evaluate(j->tr, j->test, &m->test_loss, &m->test_error);
    /* the row first: a crash before the checkpoint drops it again on resume */
    if (st == EQS_OK) st = eqs_run_metrics_append(j->run, m);
    if (st == EQS_OK) plot_or_warn(j, m->epoch);
    if (st == EQS_OK)
        st = eqs_trainer_checkpoint_write(j->tr, eqs_run_path(j->run, EQS_RUN_CHECKPOINT));
    return st;
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

int cli_cmd_train(int argc, char **argv)
{
    const char *xml = NULL, *resume = NULL, *outdir = NULL;
    int verbosity = 0, stats = 0;
    double progress_s = CLI_PROGRESS_LOG_S;
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

    train_job j = {0};
    j.ctx = cli_ctx_create(verbosity);
    if (!j.ctx) return CLI_INTERNAL;
    int rc = CLI_OK;
    double t_setup = cli_now_s();

    /* 1. everything that can be wrong with the input, before touching disk */
    eqs_status st = eqs_experiment_read(j.ctx, xml, &j.exp);
    if (st == EQS_OK) st = eqs_experiment_load_data(j.ctx, j.exp, &j.train, &j.test);
    if (st == EQS_OK) st = eqs_experiment_network(j.ctx, j.exp, &j.nl);
    if (st == EQS_OK) st = eqs_circuit_create(j.ctx, j.nl, &j.c);
    if (st == EQS_OK) st = eqs_trainer_create(j.ctx, j.exp, j.c, j.train, NULL, &j.tr);
    if (st == EQS_OK && j.test) st = eqs_trainer_check_data(j.tr, j.test);
    if (st != EQS_OK) {
        rc = cli_fail(j.ctx, st);
        goto out;
    }

    /* 2. the run directory */
    const char *dir = resume ? resume : outdir ? outdir : j.exp->output_dir;
    st = eqs_run_open(j.ctx, dir, resume != NULL, &j.run);
    eqs_run_mode mode = st == EQS_OK ? eqs_run_get_mode(j.run) : EQS_RUN_MODE_NEW;
    if (st == EQS_OK && mode == EQS_RUN_MODE_RESTART)
        fprintf(stderr,
                resume ? "eqspice train: no checkpoint in %s (the run stopped before its "
                         "first one): starting from epoch 0\n"
                       : "eqspice train: %s holds an unfinished run without checkpoint: "
                         "starting it again from epoch 0\n",
                dir);
    if (st == EQS_OK && mode != EQS_RUN_MODE_RESUME) {
        /* the copy names the directory really used (borrowed for the write) */
        char *own = j.exp->output_dir, abs[4096];
        if (outdir || resume) { /* absolute: the directory of metrics.csv */
            snprintf(abs, sizeof abs, "%s", eqs_run_path(j.run, EQS_RUN_METRICS));
            char *slash = strrchr(abs, '/');
            if (slash) *slash = '\0';
            j.exp->output_dir = abs;
        }
        st = eqs_run_write_experiment(j.run, j.exp);
        j.exp->output_dir = own;
    }
    if (st == EQS_OK && mode == EQS_RUN_MODE_RESUME) {
        st = eqs_trainer_checkpoint_read(j.tr, eqs_run_path(j.run, EQS_RUN_CHECKPOINT));
        eqs_trainer_status p;
        eqs_trainer_progress(j.tr, &p);
        if (st == EQS_OK) st = eqs_run_metrics_truncate(j.run, (int)p.epochs_done);
        if (st == EQS_OK)
            fprintf(stderr, "resuming %s at epoch %llu, batch %llu\n", dir,
                    (unsigned long long)p.epochs_done + 1, (unsigned long long)p.batches_done);
    }
    if (st != EQS_OK) {
        rc = cli_fail(j.ctx, st);
        goto out;
    }
    t_setup = cli_now_s() - t_setup;

    /* 3. the driver: steps, checkpoints, one metrics row per epoch */
    const int epochs = j.exp->epochs, every = j.exp->checkpoint_every;
    const int batch = j.exp->batch;
    const size_t n_train = eqs_dataset_size(j.train);
    eqs_epoch_metrics m = {0};
    double t_train = 0, t_eval = 0;
    size_t trained = 0;
    eqs_trainer_status p;
    eqs_trainer_progress(j.tr, &p);
    cli_progress bar;
    size_t n_test = j.test ? eqs_dataset_size(j.test) : 0;
    cli_progress_init(&bar, stderr, -1, epochs, n_train, n_train + n_test, progress_s,
                      cli_now_s());
    eval_progress ep = {&bar, 0, 0, 0};
    eqs_trainer_set_eval_hook(j.tr, eval_hook, &ep);
    /* a resumed epoch counts from the batch it resumes at */
    size_t done = (size_t)p.batches_done * (size_t)batch;
    double t_epoch = cli_now_s();
    cli_progress_epoch_begin(&bar, (int)p.epochs_done + 1, n_train - done, t_epoch);
    done = 0;
    while ((int)p.epochs_done < epochs) {
        uint64_t e = p.epochs_done, b = p.batches_done;
        double t0 = cli_now_s();
        st = eqs_trainer_step(j.tr);
        double t1 = cli_now_s();
        t_train += t1 - t0;
        if (st != EQS_OK) break;
        size_t first = (size_t)b * (size_t)batch;
        size_t nb = n_train - first < (size_t)batch ? n_train - first : (size_t)batch;
        trained += nb;
        done += nb;
        eqs_trainer_progress(j.tr, &p);
        cli_progress_update(&bar, done, p.train_loss, t1);
        if (p.epochs_done != e) {
            /* seconds and samples/s of the training proper (not the evaluation) */
            double secs = t1 - t_epoch;
            ep.offset = ep.last = ep.last_total = 0;
            st = end_epoch(&j, secs, &m);
            t_eval += cli_now_s() - t1;
            if (st != EQS_OK) break;
            cli_progress_epoch_end(&bar, &m, cli_now_s());
            t_epoch = cli_now_s();
            done = 0;
            if ((int)p.epochs_done < epochs)
                cli_progress_epoch_begin(&bar, (int)p.epochs_done + 1, n_train, t_epoch);
        }
        if (p.epochs_done == e && every > 0 && p.batches_done % (uint64_t)every == 0) {
            st = eqs_trainer_checkpoint_write(j.tr, eqs_run_path(j.run, EQS_RUN_CHECKPOINT));
            if (st != EQS_OK) break;
        }
    }
    eqs_trainer_set_eval_hook(j.tr, NULL, NULL);
    if (st == EQS_OK)
        st = eqs_export_trained_netlist(j.ctx, j.c, j.exp, j.tr,
                                        eqs_run_path(j.run, EQS_RUN_NETLIST));
    if (st == EQS_OK)
        st = eqs_export_conductances(j.ctx, j.c, eqs_run_path(j.run, EQS_RUN_CONDUCTANCES));
    if (st != EQS_OK) {
        rc = cli_fail(j.ctx, st);
        goto out;
    }
    if (m.epoch == 0) /* resumed a finished run: report the network as it is */
        st = eqs_trainer_evaluate(j.tr, j.test ? j.test : j.train,
                                  j.test ? &m.test_loss : &m.train_loss,
                                  j.test ? &m.test_error : &m.train_error);
    if (st != EQS_OK) {
        rc = cli_fail(j.ctx, st);
        goto out;
    }
    if (j.plot_failures > 0 && j.plot_epoch < m.epoch) {
        if (j.plot_epoch > 0)
            fprintf(stderr,
                    "eqspice train: warning: %s is out of date: last drawn after epoch %d (%d "
                    "failed attempt(s))\n",
                    eqs_run_path(j.run, EQS_RUN_PLOT), j.plot_epoch, j.plot_failures);
        else
            fprintf(stderr, "eqspice train: warning: %s was not written (%d failed attempt(s))\n",
                    eqs_run_path(j.run, EQS_RUN_PLOT), j.plot_failures);
    }
    if (j.test)
        printf("test_accuracy=%.2f%% test_error=%.2f%% test_loss=%.6g (%zu samples)\n",
               100 * (1 - m.test_error), 100 * m.test_error, m.test_loss,
               eqs_dataset_size(j.test));
    else
        printf("train_accuracy=%.2f%% train_error=%.2f%% train_loss=%.6g (%zu samples, no "
               "test set)\n",
               100 * (1 - m.train_error), 100 * m.train_error, m.train_loss, n_train);
    char absdir[4096]; /* the directory of metrics.csv, absolute */
    snprintf(absdir, sizeof absdir, "%s", eqs_run_path(j.run, EQS_RUN_METRICS));
    char *slash = strrchr(absdir, '/');
    if (slash) *slash = '\0';
    printf("run directory: %s\n", absdir);
    if (stats)
        fprintf(stderr,
                "stats: setup_s=%.3f train_s=%.3f eval_s=%.3f samples=%zu "
                "train_samples_per_s=%.1f params=%d solver=%s method=%s maxrss_MiB=%.1f\n",
                t_setup, t_train, t_eval, trained,
                t_train > 0 ? (double)trained / t_train : 0.0, eqs_circuit_param_count(j.c),
                eqs_backend_name(j.exp->backend), eqs_algorithm_name(j.exp->algorithm),
                cli_maxrss_MiB());
out:
    job_free(&j);
    return rc;
}
