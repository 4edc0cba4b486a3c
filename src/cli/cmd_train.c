/* cmd_train.c: `eqspice train EXPERIMENT.xml [--resume RUNDIR]`: train a
 * network by EqProp as an experiment file describes, into a run directory
 * (docs/training.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: eqspice train EXPERIMENT.xml [-o RUNDIR] [--resume RUNDIR] [--stats] [-v]\n"
    "       eqspice train --resume RUNDIR [--stats] [-v]\n"
    "\n"
    "Train the network an experiment file describes (docs/experiment.md) by\n"
    "Equilibrium Propagation (or the adjoint method) and write the run directory\n"
    "named by its <output dir=...>: experiment.xml (the experiment as run, seed and\n"
    "version included), metrics.csv (one row per epoch: train/test loss and error,\n"
    "seconds), checkpoint.bin (every checkpoint_every batches and at the end of\n"
    "every epoch, atomic), and at the end trained.cir (a netlist stock ngspice runs)\n"
    "and conductances.csv.  Every input is checked before the run directory is\n"
    "created.  Progress goes to stderr, one line per epoch; the final test\n"
    "accuracy (or training accuracy without a test set) to stdout.\n"
    "\n"
    "  -o, --output RUNDIR  run directory instead of the experiment's <output dir>\n"
    "                   (which the copy experiment.xml then names)\n"
    "  --resume RUNDIR  continue the run in RUNDIR from its last checkpoint\n"
    "                   (conductances, momentum, epoch and batch, RNG state,\n"
    "                   learning-rate scale); the result is bit-identical to an\n"
    "                   uninterrupted run.  Without EXPERIMENT.xml the run's own\n"
    "                   experiment.xml is used\n"
    "  --stats          print samples/s, solver and timing details at the end\n"
    "  -v               more messages (-v -v: debug)\n"
    "\n"
    "Exit status: 0 success, 1 bad input, 2 internal error.\n";

/* Everything a run holds, released by one function. */
typedef struct {
    eqs_ctx *ctx;
    eqs_experiment *exp;
    eqs_dataset *train, *test;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_trainer *tr;
    eqs_run *run;
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

/* Epoch-end bookkeeping: evaluate, append the metrics row, checkpoint. */
static eqs_status end_epoch(train_job *j, double seconds, eqs_epoch_metrics *m)
{
    eqs_trainer_status p;
    eqs_trainer_progress(j->tr, &p);
    m->epoch = (int)p.epochs_done;
    m->seconds = seconds;
    m->test_loss = m->test_error = NAN;
    eqs_status st = eqs_trainer_evaluate(j->tr, j->train, &m->train_loss, &m->train_error);
    if (st == EQS_OK && j->test)
        st = eqs_trainer_evaluate(j->tr, j->test, &m->test_loss, &m->test_error);
    /* the row first: a crash before the checkpoint drops it again on resume */
    if (st == EQS_OK) st = eqs_run_metrics_append(j->run, m);
    if (st == EQS_OK)
        st = eqs_plot_learning_curve(j->ctx, eqs_run_path(j->run, EQS_RUN_METRICS),
                                     eqs_run_path(j->run, EQS_RUN_PLOT));
    if (st == EQS_OK)
        st = eqs_trainer_checkpoint_write(j->tr, eqs_run_path(j->run, EQS_RUN_CHECKPOINT));
    return st;
}

int cli_cmd_train(int argc, char **argv)
{
    const char *xml = NULL, *resume = NULL, *outdir = NULL;
    int verbosity = 0, stats = 0;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--resume")) {
            if (++i >= argc) return cli_usage_error("train", "--resume needs a run directory");
            resume = argv[i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("train", "%s needs a directory", a);
            outdir = argv[i];
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
    if (st == EQS_OK && !resume) {
        /* the copy names the directory really used (borrowed for the write) */
        char *own = j.exp->output_dir, abs[4096];
        if (outdir) { /* absolute: the directory of metrics.csv */
            snprintf(abs, sizeof abs, "%s", eqs_run_path(j.run, EQS_RUN_METRICS));
            char *slash = strrchr(abs, '/');
            if (slash) *slash = '\0';
            j.exp->output_dir = abs;
        }
        st = eqs_run_write_experiment(j.run, j.exp);
        j.exp->output_dir = own;
    }
    if (st == EQS_OK && resume) {
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
    cli_progress_init(&bar, stderr, -1, epochs);
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
        if (p.epochs_done != e) {
            /* seconds and samples/s of the training proper (not the evaluation) */
            double secs = t1 - t_epoch;
            st = end_epoch(&j, secs, &m);
            t_eval += cli_now_s() - t1;
            if (st != EQS_OK) break;
            cli_progress_epoch_end(&bar, &m, t1);
            t_epoch = cli_now_s();
            done = 0;
            if ((int)p.epochs_done < epochs)
                cli_progress_epoch_begin(&bar, (int)p.epochs_done + 1, n_train, t_epoch);
        } else {
            cli_progress_update(&bar, done, p.train_loss, t1);
        }
        if (p.epochs_done == e && every > 0 && p.batches_done % (uint64_t)every == 0) {
            st = eqs_trainer_checkpoint_write(j.tr, eqs_run_path(j.run, EQS_RUN_CHECKPOINT));
            if (st != EQS_OK) break;
        }
    }
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
