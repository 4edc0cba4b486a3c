/*
 * driver.c: the run driver (eqs_job_*): experiment -> data -> network ->
 * epochs -> run directory, as `eqspice train` does it, with hooks for
 * progress, evaluation, epoch end, checkpoints and warnings
 * (docs/training.md "Run driver").
 *
 * Order of the epoch-end work (kept from the first CLI driver, resume
 * depends on it): evaluation of the training set, then of the test set,
 * the metrics row (fsync'd), the learning curve, the checkpoint.  A crash
 * before the checkpoint leaves a row that the resumed run drops again.
 *
 * The library measures no time: hooks.clock_s gives the wall clock for the
 * metrics' `seconds` column and the totals of eqs_job_result.
 *
 * Ranks (docs/cluster.md): every rank runs the same job (the trainer splits
 * each batch and evaluation over them); rank 0 alone opens the run
 * directory and writes into it, every other rank reads a resumed run's
 * checkpoint from the path rank 0 names, and after each write all ranks
 * agree on its status, so that a failure stops every rank.
 */
#include "run.h"

#include <math.h>
#include <string.h>

struct eqs_job {
    eqs_ctx *ctx;
    const eqs_experiment *exp; /* borrowed */
    eqs_job_options opt;
    eqs_dataset *train, *test;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_trainer *tr;
    eqs_run *run;
    char *dir; /* absolute run directory (after open) */
    size_t n_train, n_test;
    /* epoch in progress */
    int epoch_open;  /* epoch_begin reported, its end not yet */
    double t_epoch;  /* clock at epoch_begin */
    size_t done;     /* samples trained since epoch_begin */
    /* epoch-end evaluation progress: train set, then test set */
    size_t ev_offset, ev_last, ev_last_total;
    double t_created;
    int finished;
    int opened;    /* eqs_job_open succeeded (on every rank) */
    int mode;      /* eqs_run_mode, the same on every rank */
    eqs_job_result res;
};

/* Rank 0 writes the run directory (one process: always). */
static int job_writer(void) { return eqs_par_rank() == 0; }

/* The status every rank agrees on after a step only some ranks did (rank
 * 0's writes): the most negative code (the error codes are negative, the
 * agreement a maximum: of the negated codes); a rank that succeeded
 * itself reports where the failure was. */
static eqs_status job_agree(eqs_job *j, eqs_status st)
{
    if (eqs_par_size() <= 1) return st;
    int code = -eqs_par_agree(-(int)st);
    if (code != EQS_OK && st == EQS_OK)
        st = EQS_ERROR(j->ctx, (eqs_status)code,
                       "another rank stopped the run (rank 0 prints its reason)");
    return st;
}

void eqs_job_options_defaults(eqs_job_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

static double job_now(const eqs_job *j)
{
    return j->opt.hooks.clock_s ? j->opt.hooks.clock_s(j->opt.hooks.user) : 0.0;
}

static void job_warn(eqs_job *j, const char *msg)
{
    if (j->opt.hooks.warning) j->opt.hooks.warning(j->opt.hooks.user, msg);
    else eqs_log(j->ctx, EQS_LOG_WARN, "%s", msg);
}

/* The trainer's evaluation hook: the training set, then the test set,
 * reported as one stretch of n_train + n_test samples. */
static void eval_hook(void *user, size_t done, size_t total)
{
    eqs_job *j = user;
    if (j->ev_last_total && j->ev_last == j->ev_last_total) /* that set was complete */
        j->ev_offset += j->ev_last_total;
    j->ev_last = done;
    j->ev_last_total = total;
    if (j->opt.hooks.eval)
        j->opt.hooks.eval(j->opt.hooks.user, j->ev_offset + done, j->n_train + j->n_test);
}

void eqs_job_free(eqs_job **pj)
{
    if (!pj || !*pj) return;
    eqs_job *j = *pj;
    eqs_run_close(&j->run);
    eqs_trainer_free(&j->tr);
    eqs_circuit_free(&j->c);
    eqs_netlist_free(&j->nl);
    eqs_dataset_free(&j->train);
    eqs_dataset_free(&j->test);
    eqs_free(j->ctx, j->dir);
    eqs_free(j->ctx, j);
    *pj = NULL;
}

eqs_status eqs_job_create(eqs_ctx *ctx, const eqs_experiment *exp, const eqs_job_options *opt,
                          eqs_job **out)
{
    *out = NULL;
    eqs_job *j = eqs_calloc(ctx, 1, sizeof *j);
    if (!j) return EQS_ERR_NOMEM;
    j->ctx = ctx;
    j->exp = exp;
    if (opt) j->opt = *opt;
    else eqs_job_options_defaults(&j->opt);
    j->t_created = job_now(j);
    eqs_status st = eqs_experiment_load_data(ctx, exp, &j->train, &j->test);
    if (st == EQS_OK) st = eqs_experiment_network(ctx, exp, &j->nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, j->nl, &j->c);
    if (st == EQS_OK) st = eqs_trainer_create(ctx, exp, j->c, j->train, j->opt.trainer, &j->tr);
    if (st == EQS_OK && j->test) st = eqs_trainer_check_data(j->tr, j->test);
    if (st != EQS_OK) {
        eqs_job_free(&j);
        return st;
    }
    j->n_train = eqs_dataset_size(j->train);
    j->n_test = j->test ? eqs_dataset_size(j->test) : 0;
    j->res.has_test = j->test != NULL;
    *out = j;
    return EQS_OK;
}

/* The directory of metrics.csv, absolute. */
static eqs_status remember_dir(eqs_job *j)
{
    const char *m = eqs_run_path(j->run, EQS_RUN_METRICS);
    const char *slash = strrchr(m, '/');
    size_t n = slash ? (size_t)(slash - m) : strlen(m);
    j->dir = eqs_strndup(j->ctx, m, n);
    return j->dir ? EQS_OK : EQS_ERR_NOMEM;
}

eqs_status eqs_job_open(eqs_job *j)
{
    if (j->opened) return EQS_ERROR(j->ctx, EQS_ERR_INTERNAL, "the job's run directory is open");
    const eqs_experiment *exp = j->exp;
    const char *dir = j->opt.dir ? j->opt.dir : exp->output_dir;
    const int w = job_writer();
    eqs_status st = EQS_OK;
    if (w) st = eqs_run_open(j->ctx, dir, j->opt.resume != 0, &j->run);
    if (st == EQS_OK && w) st = remember_dir(j);
    if ((st = job_agree(j, st)) != EQS_OK) return st;
    int mode = w ? (int)eqs_run_get_mode(j->run) : 0;
    eqs_par_bcast(&mode, sizeof mode, 0);
    j->mode = mode;
    if (mode != EQS_RUN_MODE_RESUME) {
        /* the copy names the directory really used */
        eqs_experiment copy = *exp; /* shallow: output_dir borrowed for the write */
        if (j->opt.dir || j->opt.resume) copy.output_dir = j->dir;
        if (w) st = eqs_run_write_experiment(j->run, &copy);
    } else {
        /* every rank reads the checkpoint rank 0 names (a file system all
         * ranks see, docs/cluster.md) */
        char ck[4096] = "";
        if (w) snprintf(ck, sizeof ck, "%s", eqs_run_path(j->run, EQS_RUN_CHECKPOINT));
        eqs_par_bcast(ck, sizeof ck, 0);
        st = eqs_trainer_checkpoint_read(j->tr, ck);
        eqs_trainer_status p;
        eqs_trainer_progress(j->tr, &p);
        if (st == EQS_OK && w) st = eqs_run_metrics_truncate(j->run, (int)p.epochs_done);
    }
    if ((st = job_agree(j, st)) != EQS_OK) return st;
    j->opened = 1;
    eqs_trainer_set_eval_hook(j->tr, eval_hook, j);
    j->res.setup_s = job_now(j) - j->t_created;
    return EQS_OK;
}

eqs_run_mode eqs_job_mode(const eqs_job *j)
{
    return j->opened ? (eqs_run_mode)j->mode : EQS_RUN_MODE_NEW;
}

int eqs_job_done(const eqs_job *j)
{
    eqs_trainer_status p;
    eqs_trainer_progress(j->tr, &p);
    return (int)p.epochs_done >= j->exp->epochs;
}

/* The learning curve is a convenience: a failure to draw or write it is a
 * warning (once; eqs_job_finish summarises if it stays out of date), and
 * the training and the rest of the run directory go on. */
static void plot_or_warn(eqs_job *j, int epoch)
{
    eqs_status st = eqs_plot_learning_curve(j->ctx, eqs_run_path(j->run, EQS_RUN_METRICS),
                                            eqs_run_path(j->run, EQS_RUN_PLOT));
    if (st == EQS_OK) {
        j->res.plot_epoch = epoch;
        return;
    }
    if (j->res.plot_failures++ == 0) {
        const char *msg = eqs_ctx_error(j->ctx);
        if (!strncmp(msg, "error: ", 7)) msg += 7;
        char buf[1024];
        snprintf(buf, sizeof buf,
                 "learning curve not updated after epoch %d: %s (training goes on)", epoch,
                 *msg ? msg : eqs_strerror(st));
        job_warn(j, buf);
    }
    eqs_ctx_clear_error(j->ctx);
}

static eqs_status write_checkpoint(eqs_job *j)
{
    if (!job_writer()) return job_agree(j, EQS_OK);
    const char *path = eqs_run_path(j->run, EQS_RUN_CHECKPOINT);
    eqs_status st = job_agree(j, eqs_trainer_checkpoint_write(j->tr, path));
    if (st == EQS_OK && j->opt.hooks.checkpoint) {
        eqs_trainer_status p;
        eqs_trainer_progress(j->tr, &p);
        j->opt.hooks.checkpoint(j->opt.hooks.user, path, p.epochs_done, p.batches_done);
    }
    return st;
}

/* Epoch-end bookkeeping: evaluate, append the metrics row, curve, checkpoint. */
static eqs_status end_epoch(eqs_job *j, double seconds)
{
    eqs_epoch_metrics *m = &j->res.last;
    eqs_trainer_status p;
    eqs_trainer_progress(j->tr, &p);
    m->epoch = (int)p.epochs_done;
    m->seconds = seconds;
    m->test_loss = m->test_error = NAN;
    m->warnings = p.health; /* health checks of the epoch (docs/tuning.md) */
    j->ev_offset = j->ev_last = j->ev_last_total = 0;
    eqs_status st = eqs_trainer_evaluate(j->tr, j->train, &m->train_loss, &m->train_error);
    if (st == EQS_OK && j->test)
        st = eqs_trainer_evaluate(j->tr, j->test, &m->test_loss, &m->test_error);
    /* the row first: a crash before the checkpoint drops it again on resume */
    if (st == EQS_OK && job_writer()) st = eqs_run_metrics_append(j->run, m);
    if (st == EQS_OK && job_writer()) plot_or_warn(j, m->epoch);
    if ((st = job_agree(j, st)) == EQS_OK) st = write_checkpoint(j);
    return st;
}

eqs_status eqs_job_iterate(eqs_job *j)
{
    if (!j->opened) return EQS_ERROR(j->ctx, EQS_ERR_INTERNAL, "eqs_job_open first");
    if (eqs_job_done(j)) return EQS_OK;
    const eqs_job_hooks *h = &j->opt.hooks;
    const size_t batch = (size_t)j->exp->batch;
    eqs_trainer_status p;
    eqs_trainer_progress(j->tr, &p);
    if (!j->epoch_open) { /* a resumed epoch counts from the batch it resumes at */
        size_t first = (size_t)p.batches_done * batch;
        j->t_epoch = job_now(j);
        j->done = 0;
        j->epoch_open = 1;
        if (h->epoch_begin)
            h->epoch_begin(h->user, (int)p.epochs_done + 1,
                           first < j->n_train ? j->n_train - first : 0);
    }
    uint64_t e = p.epochs_done, b = p.batches_done;
    double t0 = job_now(j);
    eqs_status st = eqs_trainer_step(j->tr);
    double t1 = job_now(j);
    j->res.train_s += t1 - t0;
    if (st != EQS_OK) return st;
    size_t first = (size_t)b * batch;
    size_t nb = j->n_train - first < batch ? j->n_train - first : batch;
    j->res.samples += nb;
    j->done += nb;
    eqs_trainer_progress(j->tr, &p);
    if (h->batch) h->batch(h->user, j->done, p.train_loss);
    if (p.epochs_done != e) {
        /* seconds of the training proper (not the evaluation) */
        st = end_epoch(j, t1 - j->t_epoch);
        j->res.eval_s += job_now(j) - t1;
        if (st != EQS_OK) return st;
        j->epoch_open = 0;
        if (h->epoch_end) h->epoch_end(h->user, &j->res.last);
        return EQS_OK;
    }
    const int every = j->exp->checkpoint_every;
    if (every > 0 && p.batches_done % (uint64_t)every == 0) return write_checkpoint(j);
    return EQS_OK;
}

eqs_status eqs_job_finish(eqs_job *j)
{
    if (!j->opened) return EQS_ERROR(j->ctx, EQS_ERR_INTERNAL, "eqs_job_open first");
    eqs_trainer_set_eval_hook(j->tr, NULL, NULL);
    /* the hand-off is the network as read at the device's drift time */
    eqs_status st = eqs_trainer_drift(j->tr, 1);
    if (st == EQS_OK && job_writer())
        st = eqs_export_trained_netlist(j->ctx, j->c, j->exp, j->tr,
                                        eqs_run_path(j->run, EQS_RUN_NETLIST));
    if (st == EQS_OK && job_writer())
        st = eqs_export_conductances(j->ctx, j->c, eqs_run_path(j->run, EQS_RUN_CONDUCTANCES));
    eqs_status st2 = eqs_trainer_drift(j->tr, 0);
    if (st == EQS_OK) st = st2;
    if ((st = job_agree(j, st)) != EQS_OK) return st;
    eqs_epoch_metrics *m = &j->res.last;
    if (m->epoch == 0) { /* resumed a finished run: report the network as it is */
        m->train_loss = m->train_error = m->test_loss = m->test_error = NAN;
        st = eqs_trainer_evaluate(j->tr, j->test ? j->test : j->train,
                                  j->test ? &m->test_loss : &m->train_loss,
                                  j->test ? &m->test_error : &m->train_error);
        if (st != EQS_OK) return st;
    }
    if (j->res.plot_failures > 0 && j->res.plot_epoch < m->epoch) {
        char buf[4352]; /* a path and the sentence */
        const char *png = eqs_run_path(j->run, EQS_RUN_PLOT);
        if (j->res.plot_epoch > 0)
            snprintf(buf, sizeof buf,
                     "%s is out of date: last drawn after epoch %d (%d failed attempt(s))", png,
                     j->res.plot_epoch, j->res.plot_failures);
        else
            snprintf(buf, sizeof buf, "%s was not written (%d failed attempt(s))", png,
                     j->res.plot_failures);
        job_warn(j, buf);
    }
    j->finished = 1;
    return EQS_OK;
}

eqs_status eqs_job_run(eqs_job *j)
{
    eqs_status st = j->opened ? EQS_OK : eqs_job_open(j);
    while (st == EQS_OK && !eqs_job_done(j)) st = eqs_job_iterate(j);
    if (st == EQS_OK) st = eqs_job_finish(j);
    return st;
}

void eqs_job_result_get(const eqs_job *j, eqs_job_result *out)
{
    *out = j->res;
}

const eqs_experiment *eqs_job_experiment(const eqs_job *j) { return j->exp; }
eqs_trainer *eqs_job_trainer(const eqs_job *j) { return j->tr; }
eqs_circuit *eqs_job_circuit(const eqs_job *j) { return j->c; }
const eqs_dataset *eqs_job_train_set(const eqs_job *j) { return j->train; }
const eqs_dataset *eqs_job_test_set(const eqs_job *j) { return j->test; }
const char *eqs_job_dir(const eqs_job *j) { return j->dir; }
const eqs_run *eqs_job_run_dir(const eqs_job *j) { return j->run; }

/* ------------------------------------------------------------------ */
/* Evaluation entry                                                    */
/* ------------------------------------------------------------------ */
eqs_status eqs_job_evaluator(eqs_ctx *ctx, const eqs_experiment *run, eqs_circuit *c,
                             const eqs_eval_settings *ev, eqs_trainer **out)
{
    *out = NULL;
    eqs_eval_settings def;
    if (!ev) {
        eqs_eval_settings_defaults(&def);
        ev = &def;
    }
    eqs_experiment *base = NULL;
    if (!run) {
        eqs_status st = eqs_experiment_defaults(ctx, &base);
        if (st != EQS_OK) return st;
        run = base;
    }
    eqs_experiment e = *run; /* shallow: algorithm, threads, seed ... (borrowed) */
    e.input_gain_V = ev->input_gain_V;
    e.encoding = ev->encoding;
    e.target_on_V = ev->target_on_V;
    e.target_off_V = ev->target_off_V;
    e.backend = ev->backend;
    e.diodes = ev->diodes;
    e.bcd_tol_V = ev->bcd_tol_V;
    e.single = ev->single;
    e.batch = ev->batch; /* layered solver: free phases `batch` samples at a time */
    e.parts = 1;        /* evaluation trains nothing */
    if (e.backend == EQS_BACKEND_NGSPICE &&
        (e.algorithm == EQS_GRAD_ADJOINT || e.algorithm == EQS_GRAD_NCEP))
        e.algorithm = EQS_GRAD_CENTERED; /* ngspice has no adjoint; eval needs none */
    eqs_status st = eqs_trainer_create(ctx, &e, c, NULL, NULL, out);
    eqs_experiment_free(&base);
    return st;
}
