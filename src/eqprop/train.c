/*
 * train.c: the trainer (docs/training.md, section "Trainer").
 *
 * Set / iterate / test, like Newton: eqs_trainer_create sets everything up
 * (solver, EqProp workspaces, every buffer), eqs_trainer_step trains one
 * mini-batch, the caller tests (epochs done, losses) and logs between
 * steps; eqs_trainer_epoch is the driver for one pass.  Nothing is
 * allocated after create.
 *
 * One step, for each sample i of the batch:
 *   - inputs: feature x drives its .input source(s) at gain*x (single), or
 *     the pair (2f, 2f+1) at +gain*x and -gain*x (pair);
 *   - targets: one-hot, on_V for output `label`, off_V for the others
 *     (outputs in .output order = class index);
 *   - free phase: the first sample of each part of the batch
 *     (training.parts, 1 by default: the whole batch) from a cold start
 *     with the solver's linear part rebuilt from the circuit (the
 *     incremental input and conductance updates round differently
 *     depending on their history), the others warm from the previous
 *     sample's state; so every batch is computed the same way whatever
 *     happened before it, resuming at a batch boundary reproduces an
 *     uninterrupted run bit for bit, and the parts can be dealt to MPI
 *     ranks (docs/cluster.md);
 *   - gradient dL/dG with the experiment's method and beta, accumulated.
 * Then, with g the batch mean of dL/dG, the update law (update/update.h,
 * eqs_update_params on the circuit's parameter store, values and momentum
 * in place) gives every trained conductance its new value:
 *     m <- mu m + g;   G <- clip(G - lr_scale * rate * m, [g_lo, g_hi])
 * (SGD with momentum as in the reference code); lr_scale = decay^e in epoch
 * e (0-based), times 0.5 (1 + cos(pi e / epochs)) with schedule="cosine"
 * (eqs_update_schedule).  The batched path applies the same law to the
 * store's crossbar blocks in place (eqs_update_rows_*).
 *
 * Shuffling: at the first step of an epoch the sample order is a fresh
 * permutation from the context's EQS_RNG_SHUFFLE stream.  A mid-epoch
 * checkpoint stores that order with the RNG state (which is past the
 * shuffle), so a resumed run finishes the epoch in the same order and then
 * draws the next permutation exactly as an uninterrupted run does.
 */
#include "eqprop.h"

#include "../devices/devices.h"
#include "../update/update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Solver tolerances for training: EqProp differences the voltages of
 * nearby states, which needs tight convergence (same values as
 * `eqspice grad`). */
#define TR_RELTOL 1e-12
#define TR_VNTOL_V 1e-12
#define TR_ABSTOL_A 1e-15
/* Smallest conductance written back (S) when the lower bound is 0: a
 * resistor cannot have G = 0 (it would be an open circuit). */
#define TR_G_FLOOR_S 1e-12
/* Layered solver: sweep tolerance (V) for training. */
#define TR_BCD_TOL_V 1e-10
/* Health checks (eqs_trainer_options, docs/tuning.md "Warnings"). */
#define TR_HEALTH_LOSS_REL 1e-5
#define TR_HEALTH_SPREAD_REL 1e-3
#define TR_HEALTH_ACTIVE_V 1e-6
/* A sample's record on the per-sample path (gathered over ranks): loss,
 * wrong (0/1), active diodes (-1: not counted), then its n_out outputs. */
#define TR_REC(tr) (3 + (size_t)(tr)->n_out)

struct eqs_trainer {
    eqs_ctx *ctx;
    eqs_circuit *c;
    const eqs_dataset *train; /* borrowed, may be NULL (evaluation only) */
    eqs_solver *s;
    eqs_eqprop *ep;

    int n_in, n_out, n_params;
    int n_feat;       /* features per sample once resolved (-1: not yet) */
    int pair;         /* 1: pair encoding */
    eqs_input_encoding encoding;
    double gain, on_V, off_V;
    eqs_grad_options go;
    eqs_update_law *law; /* rates, momentum, bounds, schedule (update/update.h) */
    eqs_device_law *device; /* the experiment's device model, NULL: none (owned) */
    eqs_device_law **xlaw;  /* per crossbar of the netlist: its card's device=
                               model (owned), NULL: none; NULL when no card has one */
    const eqs_device_law **dev_of; /* per parameter: its device law (an xlaw, else
                                      device), NULL: none; NULL when no law */
    int any_read, any_drift; /* some law has read noise / drifts */
    /* Reads through the device (read noise, drift; NULL without a device
     * model): gtrue the programmed conductances while a phase sees noisy
     * reads, gsave the stored values while evaluation sees drifted ones
     * (n_params each); read_base the key of the current sample's reads. */
    double *gtrue, *gsave;
    uint64_t read_base;
    int reading; /* 1 while the phase hook applies read noise */
    int *ref;    /* mapping="reference": the parameters held at g_ref_S */
    int n_ref;
    int batch;

    double *grad;  /* one sample's dL/dG */
    double *acc;   /* batch sum of dL/dG */
    int parts;     /* parts of a batch, solved independently (exp->parts) */
    double *pacc;  /* parts x n_params: each part's sum of dL/dG */
    double *rec;   /* batch x TR_REC: each sample's loss, error, active diodes, outputs */
    double *y;     /* targets */
    size_t *order; /* sample order of the current epoch */
    size_t n_train;

    uint64_t epoch;      /* epochs completed */
    uint64_t batch_done; /* batches completed in the current epoch */
    double lr_scale;
    int shuffled; /* order drawn for the current epoch */

    double step_phase_s; /* layered phases inside steps (eqs_trainer_status) */
    double run_loss, run_err; /* sums over the samples of the current epoch */
    size_t run_n;

    /* batched path (solver's eqs_batch_ops, e.g. the layered solver) */
    const eqs_batch_ops *bops; /* NULL: sample by sample */
    double *yb;                /* batch x n_out targets */
    double *outb;              /* batch x n_out free-phase outputs */
    size_t *order_eval;        /* batch indices for evaluation */
    double *u;                 /* input source values of one sample (V) */

    eqs_trainer_eval_hook eval_hook; /* eqs_trainer_set_eval_hook; NULL: none */
    void *eval_user;
    /* health checks of the current epoch (health_* below) */
    int health_on;
    double h_loss_rel, h_spread_V, h_active_V;
    double *out_min, *out_max; /* n_out: range of each output over the epoch */
    int pred0, pred_varied;    /* first predicted class; 1 once another one appeared */
    int label0, label_varied;  /* the same for the labels */
    size_t h_n;                /* second-half samples seen by the checks this epoch */
    double h_loss[2];          /* loss sums over the first and second half of the epoch */
    size_t h_cnt[2];           /* and their sample counts */
    int n_dio;                 /* diodes whose terminals are user nodes */
    int *dio_a, *dio_k;        /* their anode and cathode (user nodes) */
    size_t n_active;           /* (sample, diode) pairs active this epoch */
    double prev_loss;          /* previous epoch's mean training loss; NaN: none */
    unsigned health;           /* EQS_HEALTH_* of the last completed epoch */
};

void eqs_trainer_options_defaults(eqs_trainer_options *opt)
{
    eqs_solver_options_defaults(&opt->solver);
    opt->solver.reltol = TR_RELTOL;
    opt->solver.vntol = TR_VNTOL_V;
    opt->solver.abstol = TR_ABSTOL_A;
    opt->solver.explicit_mask |= EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
    /* layered solver: 1e-10 V (the solver default) keeps the EqProp phase
     * differences (~1e-4 V and more) accurate to ~1e-6 relative; 1e-12 V
     * costs two more sweeps per phase (8.6 vs 6.6 at 784-1024-1024-10) */
    opt->solver.bcd_tol_V = TR_BCD_TOL_V;
    opt->g_floor_S = TR_G_FLOOR_S;
    opt->health_checks = 1;
    opt->health_loss_rel = TR_HEALTH_LOSS_REL;
    opt->health_spread_rel = TR_HEALTH_SPREAD_REL;
    opt->health_active_V = TR_HEALTH_ACTIVE_V;
}

eqs_status eqs_experiment_network(eqs_ctx *ctx, const eqs_experiment *exp, eqs_netlist **out)
{
    *out = NULL;
    if (exp->network == EQS_NETWORK_NETLIST) {
        if (!exp->netlist) return EQS_ERROR(ctx, EQS_ERR_INPUT, "experiment names no netlist");
        return eqs_netlist_read(ctx, exp->netlist, out);
    }
    char name[512];
    snprintf(name, sizeof name, "%s (generated drn)", exp->source ? exp->source : "experiment");
    return eqs_drn_build_as(ctx, &exp->drn, name, out);
}

void eqs_trainer_free(eqs_trainer **pt)
{
    if (!pt || !*pt) return;
    eqs_trainer *tr = *pt;
    eqs_ctx *ctx = tr->ctx;
    eqs_eqprop_free(&tr->ep);
    eqs_solver_free(&tr->s);
    eqs_update_law_free(ctx, &tr->law);
    eqs_device_law_free(ctx, &tr->device);
    for (int x = 0; tr->xlaw && x < tr->c->nl->n_crossbars; ++x)
        eqs_device_law_free(ctx, &tr->xlaw[x]);
    eqs_free(ctx, tr->xlaw);
    eqs_free(ctx, (void *)tr->dev_of);
    eqs_free(ctx, tr->gtrue);
    eqs_free(ctx, tr->gsave);
    eqs_free(ctx, tr->ref);
    eqs_free(ctx, tr->grad);
    eqs_free(ctx, tr->acc);
    eqs_free(ctx, tr->pacc);
    eqs_free(ctx, tr->rec);
    eqs_free(ctx, tr->y);
    eqs_free(ctx, tr->order);
    eqs_free(ctx, tr->yb);
    eqs_free(ctx, tr->outb);
    eqs_free(ctx, tr->order_eval);
    eqs_free(ctx, tr->u);
    eqs_free(ctx, tr->out_min);
    eqs_free(ctx, tr->out_max);
    eqs_free(ctx, tr->dio_a);
    eqs_free(ctx, tr->dio_k);
    eqs_free(ctx, tr);
    *pt = NULL;
}

static const char *network_name(const eqs_trainer *tr)
{
    const char *p = tr->c->nl->path;
    return p ? p : "network";
}

eqs_status eqs_trainer_check_data(eqs_trainer *tr, const eqs_dataset *ds)
{
    eqs_ctx *ctx = tr->ctx;
    int d = eqs_dataset_n_features(ds);
    int pair;
    switch (tr->encoding) {
    case EQS_ENCODE_PAIR: pair = 1; break;
    case EQS_ENCODE_SINGLE: pair = 0; break;
    default: pair = (tr->n_in == 2 * d && tr->n_in != d); break;
    }
    int need = pair ? 2 * d : d;
    if (need != tr->n_in)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: %d feature%s per sample, but the network %s has %d .input "
                         "source%s (%s encoding needs %d)",
                         eqs_dataset_source(ds), d, d == 1 ? "" : "s", network_name(tr),
                         tr->n_in, tr->n_in == 1 ? "" : "s", pair ? "pair" : "single", need);
    if (tr->n_feat >= 0 && (tr->n_feat != d || tr->pair != pair))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: %d features, but the trainer uses %d",
                         eqs_dataset_source(ds), d, tr->n_feat);
    eqs_status st = eqs_dataset_check_labels(ctx, ds, tr->n_out);
    if (st != EQS_OK) return st;
    tr->n_feat = d;
    tr->pair = pair;
    return EQS_OK;
}

static eqs_status batch_setup(eqs_trainer *tr);
static eqs_status device_place(eqs_trainer *tr);
static eqs_status device_setup(eqs_trainer *tr, const eqs_experiment *exp);
static eqs_status read_phase(void *user, int phase);
static eqs_status health_setup(eqs_trainer *tr, const eqs_trainer_options *opt);
static int argmax_out(const eqs_trainer *tr, const double *o);

eqs_status eqs_trainer_create(eqs_ctx *ctx, const eqs_experiment *exp, eqs_circuit *c,
                              const eqs_dataset *train, const eqs_trainer_options *opt,
                              eqs_trainer **out)
{
    *out = NULL;
    eqs_trainer_options dflt;
    if (!opt) {
        eqs_trainer_options_defaults(&dflt);
        opt = &dflt;
    }
    const char *net = c->nl->path ? c->nl->path : "network";
    if (eqs_circuit_output_count(c) == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: the netlist has no .output card (training "
                                             "needs output nodes, one per class)", net);
    if (eqs_circuit_input_count(c) == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: the netlist has no .input card (the "
                                             "features need input sources)", net);
    if (!(exp->beta > 0) || !isfinite(exp->beta))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "beta must be positive and finite (got %g S)",
                         exp->beta);
    if (exp->batch < 1 || exp->epochs < 1)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "batch and epochs must be at least 1");
    if (exp->parts < 1 || exp->parts > exp->batch)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "training parts=%d: must be between 1 and the batch size (%d)",
                         exp->parts, exp->batch);
    if (exp->algorithm == EQS_GRAD_ADJOINT && exp->backend == EQS_BACKEND_NGSPICE)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "the adjoint method needs the newton solver");
    if (exp->algorithm == EQS_GRAD_NCEP && exp->backend == EQS_BACKEND_NGSPICE)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "the ncep method needs the newton solver (ngspice "
                                             "cannot add the non-reciprocal correction)");

    eqs_trainer *tr = eqs_calloc(ctx, 1, sizeof *tr);
    if (!tr) return EQS_ERR_NOMEM;
    tr->ctx = ctx;
    tr->c = c;
    tr->train = train;
    tr->n_in = eqs_circuit_input_count(c);
    tr->n_out = eqs_circuit_output_count(c);
    tr->n_params = eqs_circuit_param_count(c);
    tr->n_feat = -1;
    tr->encoding = exp->encoding;
    tr->gain = exp->input_gain_V;
    tr->on_V = exp->target_on_V;
    tr->off_V = exp->target_off_V;
    eqs_grad_options_defaults(&tr->go);
    tr->go.method = exp->algorithm;
    tr->go.beta_S = exp->beta;
    tr->go.nudge = exp->nudge;
    tr->go.epsilon_S_per_V2 = exp->epsilon_S_per_V2;
    tr->go.aeq_phases = exp->aeq_phases;
    tr->batch = exp->batch;
    tr->parts = exp->parts;
    tr->lr_scale = 1.0;

    size_t np = (size_t)(tr->n_params > 0 ? tr->n_params : 1);
    size_t no = (size_t)tr->n_out;
    eqs_status st = eqs_update_law_create(ctx, exp, c, opt->g_floor_S, &tr->law);
    if (st != EQS_OK) goto fail;
    if ((st = device_setup(tr, exp)) != EQS_OK) goto fail;
    st = EQS_ERR_NOMEM;
    tr->grad = eqs_calloc(ctx, np, sizeof *tr->grad);
    tr->acc = eqs_calloc(ctx, np, sizeof *tr->acc);
    tr->pacc = eqs_calloc(ctx, np * (size_t)tr->parts, sizeof *tr->pacc);
    tr->rec = eqs_calloc(ctx, (size_t)tr->batch * TR_REC(tr), sizeof *tr->rec);
    tr->y = eqs_calloc(ctx, no, sizeof *tr->y);
    tr->yb = eqs_calloc(ctx, (size_t)tr->batch * no, sizeof *tr->yb);
    tr->outb = eqs_calloc(ctx, (size_t)tr->batch * no, sizeof *tr->outb);
    tr->order_eval = eqs_calloc(ctx, (size_t)tr->batch, sizeof *tr->order_eval);
    tr->u = eqs_calloc(ctx, (size_t)tr->n_in + 1, sizeof *tr->u);
    if (!tr->u || !tr->grad || !tr->acc || !tr->y || !tr->yb || !tr->outb ||
        !tr->order_eval || !tr->pacc || !tr->rec)
        goto fail;
    if (train) {
        if ((st = eqs_trainer_check_data(tr, train)) != EQS_OK) goto fail;
        tr->n_train = eqs_dataset_size(train);
        tr->order = eqs_malloc(ctx, (tr->n_train ? tr->n_train : 1) * sizeof *tr->order);
        if (!tr->order) {
            st = EQS_ERR_NOMEM;
            goto fail;
        }
    }
    eqs_solver_options sopt = opt->solver;
    sopt.diodes = exp->diodes;
    if (exp->bcd_tol_V > 0) sopt.bcd_tol_V = exp->bcd_tol_V;
    if (exp->single) sopt.single = 1;
    sopt.threads = exp->threads;
    if (exp->split_min > 0) sopt.split_min = exp->split_min;
    if ((st = eqs_solver_create(ctx, c, exp->backend, &sopt, &tr->s)) != EQS_OK) goto fail;
    if ((st = eqs_eqprop_create(ctx, tr->s, &tr->ep)) != EQS_OK) goto fail;
    /* the parameter store: double and momentum 0 for the per-sample path;
     * the batched path may take it to single precision */
    if ((st = eqs_store_set_precision(c, EQS_STORE_DOUBLE)) != EQS_OK) goto fail;
    for (int k = 0; k < tr->n_params; ++k) eqs_store_put_momentum(c->store, k, 0.0);
    if ((st = device_place(tr)) != EQS_OK) goto fail;
    if (tr->any_read) eqs_eqprop_set_phase_hook(tr->ep, read_phase, tr);
    if ((st = batch_setup(tr)) != EQS_OK) goto fail;
    if ((st = health_setup(tr, opt)) != EQS_OK) goto fail;
    /* the DRN generator reseeds the context: the run's streams start here */
    eqs_ctx_seed(ctx, exp->seed);
    *out = tr;
    return EQS_OK;
fail:
    eqs_trainer_free(&tr);
    return st;
}

/* Batched path: when the solver offers it and the method has a phase pair
 * (centered, positive, negative), the whole mini-batch goes through the
 * solver's batch ops with the same phases and normalisation (solver.h) and
 * the same update law (tr->law, update/update.h).  Anything the backend cannot batch falls back to the
 * per-sample path (logged). */
static eqs_status batch_setup(eqs_trainer *tr)
{
    const eqs_batch_ops *b = tr->s->ops->batch;
    double b1, b2;
    if (b && tr->any_read) {
        /* the batched phases read the blocks as they are: noisy reads per
         * phase and sample need the per-sample path */
        eqs_log(tr->ctx, EQS_LOG_INFO,
                "trainer: device read noise, training sample by sample");
        return EQS_OK;
    }
    double beta = tr->go.beta_S == 0.0 ? eqs_eqprop_default_beta(tr->ep) : tr->go.beta_S;
    if (!b || !eqs_eqprop_phase_pair(tr->go.method, beta, &b1, &b2)) return EQS_OK;
    eqs_batch_setup bs = {
        .batch = tr->batch,
        .law = tr->law,
        .nudge = tr->go.nudge,
        .beta1 = b1,
        .beta2 = b2,
        .parts = tr->parts,
    };
    eqs_status st = b->setup(tr->s, &bs);
    if (st == EQS_ERR_UNSUPPORTED) {
        eqs_log(tr->ctx, EQS_LOG_INFO, "trainer: training sample by sample");
        eqs_ctx_clear_error(tr->ctx);
        return EQS_OK;
    }
    if (st == EQS_OK) tr->bops = b;
    return st;
}

/* ---- Reads through the device model (docs/devices.md, "In training") --
 * Placement: before the first step every trained conductance is put where
 * its device can be (eqs_device_place: stuck value, window, grid).  Read noise: every
 * settled phase of a sample (free, then each nudged one) reads each
 * trained G as eqs_device_read(G, read_base + phase, k); the programmed
 * values come back before the update.  Drift: evaluation (and the run's
 * export) sees every trained G as eqs_device_drift of it. */
/* Read keys: a training sample's are (step * batch + j) * TR_READS + phase,
 * an evaluation sample's TR_READ_EVAL + (epoch * 2^32 + i) * TR_READS +
 * phase (phase < TR_READS). */
#define TR_READS 64u
#define TR_READ_EVAL (UINT64_C(1) << 63)

/* Device law of parameter k (NULL: none). */
static const eqs_device_law *law_of(const eqs_trainer *tr, int k)
{
    return tr->dev_of ? tr->dev_of[k] : NULL;
}

/* Read one device-model file for the trainer: its draws are keyed by the
 * training seed unless the file gives one. */
static eqs_status law_read(eqs_trainer *tr, const eqs_experiment *exp, const char *path,
                           eqs_device_law **out)
{
    eqs_status st = eqs_device_law_read(tr->ctx, path, out);
    if (st == EQS_OK && (*out)->seed == 0) (*out)->seed = exp->seed;
    return st;
}

/* The device laws (the experiment's device_model and the crossbar cards'
 * device=), which parameter each one programs, and the update law's view
 * of them (update/update.h). */
static eqs_status device_setup(eqs_trainer *tr, const eqs_experiment *exp)
{
    eqs_ctx *ctx = tr->ctx;
    const eqs_netlist *nl = tr->c->nl;
    eqs_status st;
    if (exp->device_model && (st = law_read(tr, exp, exp->device_model, &tr->device)) != EQS_OK)
        return st;
    int nx = 0;
    for (int x = 0; x < nl->n_crossbars; ++x) nx += nl->crossbars[x].device != NULL;
    if (nx) {
        tr->xlaw = eqs_calloc(ctx, (size_t)nl->n_crossbars, sizeof *tr->xlaw);
        if (!tr->xlaw) return EQS_ERR_NOMEM;
        for (int x = 0; x < nl->n_crossbars; ++x)
            if (nl->crossbars[x].device &&
                (st = law_read(tr, exp, nl->crossbars[x].device, &tr->xlaw[x])) != EQS_OK)
                return st;
    }
    if (!tr->device && !nx) return EQS_OK;
    const size_t np = (size_t)(tr->n_params > 0 ? tr->n_params : 1);
    tr->dev_of = eqs_calloc(ctx, np, sizeof *tr->dev_of);
    tr->gtrue = eqs_calloc(ctx, np, sizeof *tr->gtrue);
    tr->gsave = eqs_calloc(ctx, np, sizeof *tr->gsave);
    if (!tr->dev_of || !tr->gtrue || !tr->gsave) return EQS_ERR_NOMEM;
    for (int k = 0; k < tr->n_params; ++k) {
        const eqs_device_law *d = tr->device;
        const int origin = tr->c->elems[tr->c->params[k]].origin;
        for (int x = 0; nx && x < nl->n_crossbars; ++x) {
            const eqs_crossbar *xb = &nl->crossbars[x];
            if (tr->xlaw[x] && origin >= xb->first_elem &&
                origin < xb->first_elem + xb->rows * xb->cols)
                d = tr->xlaw[x];
        }
        tr->dev_of[k] = d;
        if (d && d->read_noise_rel > 0) tr->any_read = 1;
        if (d && eqs_device_drifts(d)) tr->any_drift = 1;
    }
    const eqs_device_law *d = tr->device;
    if (!nx && d->kind == EQS_DEVICE_IDEAL && d->levels < 2 && !(d->d2d_window_rel > 0) &&
        !(d->stuck_min_frac > 0) && !(d->stuck_max_frac > 0)) {
        /* one ideal continuous device for all sets what is requested inside
         * its window: the update law's clip does it, the same bits as
         * training without a model under that window */
        if (!eqs_update_law_window(tr->law, d->g_min_S, d->g_max_S))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "%s: device window [%g, %g] S lies outside the experiment's "
                             "conductance window",
                             exp->device_model, d->g_min_S, d->g_max_S);
        return EQS_OK;
    }
    tr->law->device_of = tr->dev_of;
    return EQS_OK;
}

/* mapping="reference": the trained parameters on the second line of an
 * input pair (an element touching the node of an odd .input source) whose
 * device maps that way, into tr->ref. */
static eqs_status reference_find(eqs_trainer *tr)
{
    eqs_circuit *c = tr->c;
    int any = 0;
    for (int k = 0; k < tr->n_params && !any; ++k)
        any = law_of(tr, k) && law_of(tr, k)->mapping == EQS_DEVICE_MAP_REFERENCE;
    if (!any) return EQS_OK;
    const int pair = tr->train ? tr->pair
                               : tr->encoding != EQS_ENCODE_SINGLE && tr->n_in % 2 == 0;
    if (!pair)
        return EQS_ERROR(tr->ctx, EQS_ERR_INPUT,
                         "device mapping \"reference\" needs the pair input encoding "
                         "(docs/devices.md, \"Mapping\")");
    char *mark = eqs_calloc(tr->ctx, (size_t)c->n_nodes, 1);
    tr->ref = eqs_malloc(tr->ctx, (size_t)(tr->n_params > 0 ? tr->n_params : 1) * sizeof *tr->ref);
    if (!mark || !tr->ref) {
        eqs_free(tr->ctx, mark);
        return EQS_ERR_NOMEM;
    }
    for (int k = 1; k < tr->n_in; k += 2) {
        int j = eqs_netlist_elem_find(c->nl, c->nl->inputs[k]);
        if (j < 0 || j >= c->n_elems) continue;
        for (int t = 0; t < 2; ++t)
            if (c->elems[j].n[t] > 0) mark[c->elems[j].n[t]] = 1;
    }
    tr->n_ref = 0;
    for (int k = 0; k < tr->n_params; ++k) {
        const eqs_celem *e = &c->elems[c->params[k]];
        const eqs_device_law *d = law_of(tr, k);
        if (d && d->mapping == EQS_DEVICE_MAP_REFERENCE && tr->law->rate[k] >= 0 &&
            ((e->n[0] > 0 && mark[e->n[0]]) || (e->n[1] > 0 && mark[e->n[1]])))
            tr->ref[tr->n_ref++] = k;
    }
    eqs_free(tr->ctx, mark);
    return EQS_OK;
}

/* Put the reference devices back at g_ref_S (after an update moved them),
 * their momentum at 0. */
static eqs_status reference_hold(eqs_trainer *tr)
{
    for (int i = 0; i < tr->n_ref; ++i) {
        const int k = tr->ref[i];
        eqs_status st = eqs_circuit_param_set(tr->c, k, law_of(tr, k)->g_ref_S);
        if (st != EQS_OK) return st;
        eqs_store_put_momentum(tr->c->store, k, 0.0);
    }
    return EQS_OK;
}

static eqs_status device_place(eqs_trainer *tr)
{
    if (!tr->dev_of) return EQS_OK;
    eqs_status st = reference_find(tr);
    if (st == EQS_OK) st = reference_hold(tr);
    if (st != EQS_OK) return st;
    for (int k = 0, r = 0; k < tr->n_params; ++k) {
        if (r < tr->n_ref && tr->ref[r] == k) {
            r++;
            continue;
        }
        const eqs_device_law *d = law_of(tr, k);
        if (tr->law->rate[k] < 0) continue;
        const double G0 = eqs_circuit_param_get(tr->c, k);
        double G = G0;
        if (d && tr->law->device_of) {
            eqs_device_inst dev;
            eqs_device_instance(d, (uint64_t)k, &dev);
            G = eqs_device_place(d, &dev, G0);
        }
        /* the law's window bounds every device (update.c, programmed) */
        G = G < tr->law->g_min_S ? tr->law->g_min_S : G > tr->law->g_max_S ? tr->law->g_max_S : G;
        if (G == G0) continue;
        if ((st = eqs_circuit_param_set(tr->c, k, G)) != EQS_OK) return st;
    }
    return EQS_OK;
}

/* The phase hook of tr->ep: phase `phase` of the current sample reads the
 * programmed values tr->gtrue through the read noise. */
static eqs_status read_phase(void *user, int phase)
{
    eqs_trainer *tr = user;
    if (!tr->reading) return EQS_OK;
    if ((unsigned)phase >= TR_READS)
        return EQS_ERROR(tr->ctx, EQS_ERR_UNSUPPORTED,
                         "device read noise: more than %u phases per sample", TR_READS);
    const uint64_t read = tr->read_base + (uint64_t)phase;
    for (int k = 0; k < tr->n_params; ++k) {
        const eqs_device_law *d = law_of(tr, k);
        if (tr->law->rate[k] < 0 || !d || !(d->read_noise_rel > 0)) continue;
        double G = eqs_device_read(d, tr->gtrue[k], read, (uint64_t)k);
        if (G < tr->law->g_min_S) G = tr->law->g_min_S; /* > 0: the floor */
        eqs_status st = eqs_circuit_param_set(tr->c, k, G);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

/* Start reading through the noise: the trained values as they are now
 * become the programmed ones.  0 when no device has read noise. */
static int reads_begin(eqs_trainer *tr)
{
    if (!tr->any_read) return 0;
    for (int k = 0; k < tr->n_params; ++k) tr->gtrue[k] = eqs_circuit_param_get(tr->c, k);
    tr->reading = 1;
    return 1;
}

/* Put the programmed values back (after reads_begin). */
static eqs_status reads_end(eqs_trainer *tr)
{
    tr->reading = 0;
    for (int k = 0; k < tr->n_params; ++k) {
        const eqs_device_law *d = law_of(tr, k);
        if (tr->law->rate[k] < 0 || !d || !(d->read_noise_rel > 0)) continue;
        eqs_status st = eqs_circuit_param_set(tr->c, k, tr->gtrue[k]);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

eqs_status eqs_trainer_drift(eqs_trainer *tr, int on)
{
    if (!tr->any_drift) return EQS_OK;
    for (int k = 0; k < tr->n_params; ++k) {
        const eqs_device_law *d = law_of(tr, k);
        if (tr->law->rate[k] < 0 || !d || !eqs_device_drifts(d)) continue;
        double G;
        if (on) {
            eqs_device_inst dev;
            tr->gsave[k] = eqs_circuit_param_get(tr->c, k);
            eqs_device_instance(d, (uint64_t)k, &dev);
            G = eqs_device_drift(d, &dev, tr->gsave[k]);
            if (G < tr->law->g_min_S) G = tr->law->g_min_S;
        } else {
            G = tr->gsave[k];
        }
        eqs_status st = eqs_circuit_param_set(tr->c, k, G);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

/* ---- Health checks (docs/tuning.md, "Warnings") ----------------------
 * Per training sample (never during evaluation), from its free phase: the
 * loss, summed per half of the epoch; and over the second half of the
 * epoch (so that a network that dies early in its first epoch is reported
 * at the end of that epoch) the range of every output, the predicted
 * classes and labels, and on the sample-by-sample path the diodes' bias.
 * At the end of the epoch: the flags, one warning per flag.
 * O(n_out + n_dio) per sample; every buffer is allocated here. */
static eqs_status health_setup(eqs_trainer *tr, const eqs_trainer_options *opt)
{
    eqs_ctx *ctx = tr->ctx;
    const eqs_circuit *c = tr->c;
    tr->health_on = opt->health_checks != 0;
    tr->h_loss_rel = opt->health_loss_rel;
    double swing = fabs(tr->on_V - tr->off_V);
    tr->h_spread_V = opt->health_spread_rel * (swing > 0 ? swing : 1.0);
    tr->h_active_V = opt->health_active_V;
    tr->prev_loss = NAN;
    tr->out_min = eqs_malloc(ctx, (size_t)tr->n_out * sizeof *tr->out_min);
    tr->out_max = eqs_malloc(ctx, (size_t)tr->n_out * sizeof *tr->out_max);
    if (!tr->out_min || !tr->out_max) return EQS_ERR_NOMEM;
    if (tr->bops) return EQS_OK; /* hidden voltages stay inside the batched solver */
    int nd = 0;
    for (int e = 0; e < c->n_elems; ++e)
        nd += c->elems[e].kind == EQS_EL_D && c->elems[e].n[0] < c->n_user_nodes &&
              c->elems[e].n[1] < c->n_user_nodes;
    if (nd == 0) return EQS_OK;
    tr->dio_a = eqs_malloc(ctx, (size_t)nd * sizeof *tr->dio_a);
    tr->dio_k = eqs_malloc(ctx, (size_t)nd * sizeof *tr->dio_k);
    if (!tr->dio_a || !tr->dio_k) return EQS_ERR_NOMEM;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *d = &c->elems[e];
        if (d->kind != EQS_EL_D || d->n[0] >= c->n_user_nodes ||
            d->n[1] >= c->n_user_nodes)
            continue; /* a diode with RS > 0: its internal node is not in the user layout */
        tr->dio_a[tr->n_dio] = d->n[0];
        tr->dio_k[tr->n_dio] = d->n[1];
        tr->n_dio++;
    }
    return EQS_OK;
}

/* The diodes of the health checks active at the free-phase voltages v
 * (user nodes). */
static double health_active(const eqs_trainer *tr, const double *v)
{
    size_t n = 0;
    for (int d = 0; d < tr->n_dio; ++d) n += v[tr->dio_k[d]] - v[tr->dio_a[d]] > tr->h_active_V;
    return (double)n;
}

/* Training sample at position pos of the epoch: its loss (V^2), outputs o
 * (n_out, V), label, and the number of its active diodes (health_active;
 * < 0: not counted). */
static void health_sample(eqs_trainer *tr, size_t pos, double loss, const double *o, int label,
                          double active)
{
    if (!tr->health_on) return;
    int half = pos >= tr->n_train / 2;
    tr->h_loss[half] += loss;
    tr->h_cnt[half]++;
    if (!half) return;
    int pred = argmax_out(tr, o);
    if (tr->h_n == 0) {
        for (int k = 0; k < tr->n_out; ++k) tr->out_min[k] = tr->out_max[k] = o[k];
        tr->pred0 = pred, tr->label0 = label;
        tr->pred_varied = tr->label_varied = 0;
        tr->n_active = 0;
    }
    for (int k = 0; k < tr->n_out; ++k) {
        if (o[k] < tr->out_min[k]) tr->out_min[k] = o[k];
        if (o[k] > tr->out_max[k]) tr->out_max[k] = o[k];
    }
    tr->pred_varied |= pred != tr->pred0;
    tr->label_varied |= label != tr->label0;
    if (active >= 0) tr->n_active += (size_t)active;
    tr->h_n++;
}

const char *eqs_health_format(unsigned flags, char *buf, size_t len)
{
    static const char *const names[] = {"loss_flat", "outputs_constant", "one_class",
                                        "hidden_off"};
    size_t n = 0;
    if (len) buf[0] = '\0';
    for (unsigned b = 0; b < sizeof names / sizeof *names; ++b) {
        if (!(flags & (1u << b)) || n >= len) continue;
        int w = snprintf(buf + n, len - n, "%s%s", n ? "+" : "", names[b]);
        n += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* End of epoch e (1-based): the flags of the epoch, a warning for each. */
static void health_epoch_end(eqs_trainer *tr, uint64_t e)
{
    tr->health = 0;
    if (!tr->health_on || tr->h_cnt[0] + tr->h_cnt[1] == 0) return;
    eqs_ctx *ctx = tr->ctx;
    const unsigned long long ep = (unsigned long long)e;
    double loss = tr->run_n ? tr->run_loss / (double)tr->run_n : NAN;
    double spread = 0;
    int worst = 0;
    for (int k = 0; k < tr->n_out; ++k)
        if (tr->out_max[k] - tr->out_min[k] > spread || k == 0)
            spread = tr->out_max[k] - tr->out_min[k], worst = k;
    /* the previous epoch's loss; in the first epoch of the process, the
     * first half of this one against its second half */
    double ref = tr->prev_loss, now = loss;
    const char *what = "previous epoch";
    if (!isfinite(ref) && tr->h_cnt[0] && tr->h_cnt[1]) {
        ref = tr->h_loss[0] / (double)tr->h_cnt[0];
        now = tr->h_loss[1] / (double)tr->h_cnt[1];
        what = "first half of the epoch";
    }
    if (isfinite(ref) && isfinite(now) && fabs(now - ref) <= tr->h_loss_rel * fabs(ref)) {
        tr->health |= EQS_HEALTH_LOSS_FLAT;
        eqs_log(ctx, EQS_LOG_WARN,
                "epoch %llu: the mean training loss did not move (%.9g V^2, %s %.9g V^2, "
                "relative change %.2g <= %.2g): the network is not learning (input gain, "
                "initial conductances, beta and rates: docs/tuning.md)",
                ep, now, what, ref, ref != 0 ? fabs(now - ref) / fabs(ref) : 0.0,
                tr->h_loss_rel);
    }
    if (tr->h_n > 1 && spread <= tr->h_spread_V) {
        tr->health |= EQS_HEALTH_OUTPUTS_CONSTANT;
        eqs_log(ctx, EQS_LOG_WARN,
                "epoch %llu: the outputs are the same for the last %zu training samples of "
                "the epoch (largest range %.3g V, output %d; threshold %.3g V): the inputs "
                "do not reach the outputs (docs/tuning.md)",
                ep, tr->h_n, spread, worst, tr->h_spread_V);
    }
    /* one class: not in the first epoch of the process, where a network
     * that learns may still predict one class everywhere */
    if (isfinite(tr->prev_loss) && tr->h_n > 1 && tr->n_out > 1 && tr->label_varied &&
        !tr->pred_varied) {
        tr->health |= EQS_HEALTH_ONE_CLASS;
        eqs_log(ctx, EQS_LOG_WARN,
                "epoch %llu: the last %zu training samples of the epoch were all predicted as "
                "class %d (docs/tuning.md)",
                ep, tr->h_n, tr->pred0);
    }
    if (tr->n_dio > 0 && tr->h_n > 0 && tr->n_active == 0) {
        tr->health |= EQS_HEALTH_HIDDEN_OFF;
        eqs_log(ctx, EQS_LOG_WARN,
                "epoch %llu: no hidden unit was active in the last %zu training samples of "
                "the epoch (all %d diodes conducting or unbiased: reverse bias <= %.3g V): "
                "the hidden layer passes nothing (docs/tuning.md)",
                ep, tr->h_n, tr->n_dio, tr->h_active_V);
    }
    tr->prev_loss = loss;
    tr->h_n = 0;
    tr->h_loss[0] = tr->h_loss[1] = 0;
    tr->h_cnt[0] = tr->h_cnt[1] = 0;
}

int eqs_trainer_batched(const eqs_trainer *tr) { return tr->bops != NULL; }

eqs_update_law *eqs_trainer_update_law(eqs_trainer *tr) { return tr->law; }

eqs_input_encoding eqs_trainer_encoding(const eqs_trainer *tr)
{
    if (tr->n_feat < 0) return tr->encoding;
    return tr->pair ? EQS_ENCODE_PAIR : EQS_ENCODE_SINGLE;
}

/* The input encoding (one definition): values u (V) of the .input sources
 * for sample x. */
static void encode_inputs(const eqs_trainer *tr, const double *x, double *u)
{
    for (int f = 0; f < tr->n_feat; ++f) {
        double v = tr->gain * x[f];
        if (tr->pair) {
            u[2 * f] = v;
            u[2 * f + 1] = -v;
        } else {
            u[f] = v;
        }
    }
}

/* Drive the inputs with sample x. */
static eqs_status set_inputs(eqs_trainer *tr, const double *x)
{
    eqs_status st = EQS_OK;
    encode_inputs(tr, x, tr->u);
    for (int k = 0; k < tr->n_in && st == EQS_OK; ++k) st = eqs_circuit_input_set(tr->c, k, tr->u[k]);
    return st;
}

static eqs_status set_targets(eqs_trainer *tr, int label)
{
    for (int k = 0; k < tr->n_out; ++k) tr->y[k] = k == label ? tr->on_V : tr->off_V;
    return eqs_eqprop_set_targets(tr->ep, tr->y);
}

/* Class predicted from the output values o (n_out): argmax, the first one
 * on a tie. */
static int argmax_out(const eqs_trainer *tr, const double *o)
{
    int best = 0;
    for (int k = 1; k < tr->n_out; ++k)
        if (o[k] > o[best]) best = k;
    return best;
}

/* Class predicted by the free-phase voltages; a differential pair's output
 * is V_pos - V_neg. */
static int predict(const eqs_trainer *tr)
{
    const double *v = eqs_eqprop_voltages(tr->ep, 0);
    for (int k = 0; k < tr->n_out; ++k)
        tr->outb[k] = v[eqs_eqprop_output_node(tr->ep, k)] - v[eqs_eqprop_output_neg(tr->ep, k)];
    return argmax_out(tr, tr->outb);
}

/* Load samples idx[0..nb) into the solver's batch (inputs, targets) and
 * solve their free phase; adds their loss and errors to *loss, *wrong. */
static eqs_status batch_free(eqs_trainer *tr, const eqs_dataset *ds, const size_t *idx,
                             size_t nb, double *loss, size_t *wrong)
{
    for (size_t j = 0; j < nb; ++j) {
        size_t i = idx ? idx[j] : j;
        int label = eqs_dataset_label(ds, i);
        encode_inputs(tr, eqs_dataset_features(ds, i), tr->u);
        double *y = tr->yb + j * (size_t)tr->n_out;
        for (int k = 0; k < tr->n_out; ++k) y[k] = k == label ? tr->on_V : tr->off_V;
        tr->bops->load(tr->s, (int)j, tr->u, y);
    }
    eqs_status st = tr->bops->free_phase(tr->s, (int)nb, tr->outb);
    if (st != EQS_OK) return st;
    for (size_t j = 0; j < nb; ++j) {
        const double *o = tr->outb + j * (size_t)tr->n_out, *y = tr->yb + j * (size_t)tr->n_out;
        double l = 0;
        for (int k = 0; k < tr->n_out; ++k) l += 0.5 * (o[k] - y[k]) * (o[k] - y[k]);
        *loss += l;
        *wrong += argmax_out(tr, o) != eqs_dataset_label(ds, idx ? idx[j] : j);
    }
    return EQS_OK;
}

/* Inputs, targets and free phase of one sample; *loss and *wrong out. */
static eqs_status free_sample(eqs_trainer *tr, const eqs_dataset *ds, size_t i,
                              eqs_solve_mode mode, double *loss, int *wrong)
{
    int label = eqs_dataset_label(ds, i);
    eqs_status st = set_inputs(tr, eqs_dataset_features(ds, i));
    if (st == EQS_OK) st = set_targets(tr, label);
    if (st == EQS_OK) st = eqs_eqprop_free_phase(tr->ep, mode, loss);
    if (st == EQS_OK) *wrong = predict(tr) != label;
    return st;
}

/* A batch ending at sample `end` of the epoch is done; at the end of the
 * epoch: next epoch, decayed rate, fresh shuffle.  1 when an epoch ended. */
static int batch_done(eqs_trainer *tr, size_t end)
{
    tr->batch_done++;
    if (end < tr->n_train) return 0;
    tr->epoch++;
    health_epoch_end(tr, tr->epoch);
    tr->batch_done = 0;
    tr->lr_scale = eqs_update_schedule(tr->law, tr->epoch);
    tr->shuffled = 0;
    return 1;
}

eqs_status eqs_trainer_step(eqs_trainer *tr)
{
    eqs_ctx *ctx = tr->ctx;
    if (!tr->train || tr->n_train == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "trainer has no training set");
    if (!tr->shuffled) {
        eqs_shuffle_identity(tr->order, tr->n_train);
        eqs_shuffle(ctx, tr->order, tr->n_train);
        tr->shuffled = 1;
        if (tr->batch_done == 0) tr->run_loss = tr->run_err = 0, tr->run_n = 0;
    }
    size_t first = (size_t)tr->batch_done * (size_t)tr->batch;
    if (first >= tr->n_train)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "batch %llu is past the end of the epoch",
                         (unsigned long long)tr->batch_done);
    size_t nb = tr->n_train - first < (size_t)tr->batch ? tr->n_train - first : (size_t)tr->batch;
    /* the key of this step's update noise: a function of (epoch, batch), so
     * the same after a resume */
    const uint64_t per_epoch = (tr->n_train + (size_t)tr->batch - 1) / (size_t)tr->batch;
    tr->law->step = tr->epoch * per_epoch + tr->batch_done;
    const int np = tr->n_params;
    if (tr->bops) {
        double loss = 0;
        size_t wrong = 0;
        const double phase0 = eqs_solver_layered_phase_total_s(tr->s);
        eqs_status st = batch_free(tr, tr->train, tr->order + first, nb, &loss, &wrong);
        for (size_t j = 0; j < nb && st == EQS_OK && tr->health_on; ++j) {
            const double *o = tr->outb + j * (size_t)tr->n_out;
            const double *y = tr->yb + j * (size_t)tr->n_out;
            double l = 0;
            for (int k = 0; k < tr->n_out; ++k) l += 0.5 * (o[k] - y[k]) * (o[k] - y[k]);
            health_sample(tr, first + j, l, o, eqs_dataset_label(tr->train, tr->order[first + j]),
                          -1.0);
        }
        if (st == EQS_OK) st = tr->bops->train(tr->s, (int)nb, tr->lr_scale);
        tr->step_phase_s += eqs_solver_layered_phase_total_s(tr->s) - phase0;
        if (st == EQS_OK && tr->n_ref) st = reference_hold(tr);
        if (st != EQS_OK) return st;
        tr->run_loss += loss;
        tr->run_err += (double)wrong;
        tr->run_n += nb;
        batch_done(tr, first + nb);
        return EQS_OK;
    }
    /* the batch's parts (exp->parts), this rank's share of them (all in
     * one process): each part from a history-free cold start (see the
     * top), its samples' dL/dG summed in order into its row of pacc, each
     * sample's record into rec; then every rank's rows of both (gathered),
     * the records taken in sample order and the parts' sums added in part
     * order: the same bits at any number of ranks */
    const size_t P = (size_t)tr->parts, RW = TR_REC(tr), npz = (size_t)(np > 0 ? np : 1);
    size_t pf, pc;
    eqs_par_share(P, eqs_par_rank(), eqs_par_size(), &pf, &pc);
    const int noisy_reads = reads_begin(tr);
    eqs_status st = EQS_OK;
    for (size_t p = pf; p < pf + pc && st == EQS_OK; ++p) {
        size_t j0, cn;
        eqs_par_share(nb, (int)p, (int)P, &j0, &cn);
        double *a = tr->pacc + p * npz;
        memset(a, 0, npz * sizeof *a);
        eqs_circuit_values_changed(tr->c); /* history-free start, see the top */
        for (size_t j = j0; j < j0 + cn && st == EQS_OK; ++j) {
            double loss = 0;
            int wrong = 0;
            size_t i = tr->order[first + j];
            tr->read_base = (tr->law->step * (uint64_t)tr->batch + j) * TR_READS;
            st = free_sample(tr, tr->train, i, j == j0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM, &loss,
                             &wrong);
            if (st != EQS_OK) break;
            double *r = tr->rec + j * RW;
            r[0] = loss;
            r[1] = wrong;
            /* predict() left the outputs in outb */
            r[2] = tr->health_on && tr->n_dio ? health_active(tr, eqs_eqprop_voltages(tr->ep, 0))
                                              : -1.0;
            memcpy(r + 3, tr->outb, (size_t)tr->n_out * sizeof *r);
            st = eqs_eqprop_gradient(tr->ep, &tr->go, tr->grad);
            if (st != EQS_OK) break;
            for (int k = 0; k < np; ++k) a[k] += tr->grad[k];
        }
    }
    if (noisy_reads) { /* the programmed values stay, also after an error */
        eqs_status rs = reads_end(tr);
        if (st == EQS_OK) st = rs;
    }
    if (eqs_par_size() > 1 && eqs_par_agree(st != EQS_OK) && st == EQS_OK)
        st = EQS_ERROR(ctx, EQS_ERR_NOCONV, "training step failed on another rank");
    if (st != EQS_OK) return st;
    eqs_par_gather_parts(tr->rec, nb, RW * sizeof *tr->rec, P);
    eqs_par_gather_parts(tr->pacc, P, npz * sizeof *tr->pacc, P);
    for (size_t j = 0; j < nb; ++j) {
        const double *r = tr->rec + j * RW;
        size_t i = tr->order[first + j];
        health_sample(tr, first + j, r[0], r + 3, eqs_dataset_label(tr->train, i), r[2]);
        tr->run_loss += r[0];
        tr->run_err += (int)r[1];
        tr->run_n++;
    }
    memcpy(tr->acc, tr->pacc, npz * sizeof *tr->acc);
    for (size_t p = 1; p < P; ++p)
        for (int k = 0; k < np; ++k) tr->acc[k] += tr->pacc[p * npz + k];
    /* the batch mean gradient -> the update law, on the parameter store
     * (values and momentum in place, store order); then every trained
     * value through eqs_circuit_param_set (device window, change log) */
    const double inv = 1.0 / (double)nb;
    for (int k = 0; k < np; ++k) tr->grad[k] = tr->acc[k] * inv;
    eqs_store *ps = tr->c->store;
    int bad = eqs_update_params(tr->law, tr->lr_scale, 0, (size_t)np, ps->g, ps->m, ps->param,
                                tr->grad);
    if (bad >= 0)
        return EQS_ERROR(ctx, EQS_ERR_NOCONV,
                         "training diverged: conductance of '%s' is not finite",
                         eqs_circuit_param_name(tr->c, bad));
    for (int k = 0; k < np; ++k) {
        if (tr->law->rate[k] < 0) continue; /* not trained: left alone */
        if ((st = eqs_circuit_param_set(tr->c, k, eqs_store_value(ps, k))) != EQS_OK) return st;
    }
    if (tr->n_ref && (st = reference_hold(tr)) != EQS_OK) return st;
    batch_done(tr, first + nb);
    return EQS_OK;
}

eqs_status eqs_trainer_epoch(eqs_trainer *tr)
{
    uint64_t e = tr->epoch;
    while (tr->epoch == e) {
        eqs_status st = eqs_trainer_step(tr);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

static eqs_status evaluate(eqs_trainer *tr, const eqs_dataset *ds, double *loss_V2,
                           double *error);

eqs_status eqs_trainer_evaluate(eqs_trainer *tr, const eqs_dataset *ds, double *loss_V2,
                                double *error)
{
    eqs_status st = eqs_trainer_check_data(tr, ds);
    if (st != EQS_OK) return st;
    if ((st = eqs_trainer_drift(tr, 1)) != EQS_OK) return st;
    st = evaluate(tr, ds, loss_V2, error);
    eqs_status st2 = eqs_trainer_drift(tr, 0);
    return st != EQS_OK ? st : st2;
}

/* eqs_trainer_evaluate on the network as it is (drifted or not). */
static eqs_status evaluate(eqs_trainer *tr, const eqs_dataset *ds, double *loss_V2,
                           double *error)
{
    eqs_status st = EQS_OK;
    size_t n = eqs_dataset_size(ds);
    double sum = 0;
    size_t wrong = 0;
    if (tr->bops) { /* batch by batch, cold start per batch */
        for (size_t i = 0; i < n && st == EQS_OK; i += (size_t)tr->batch) {
            size_t nb = n - i < (size_t)tr->batch ? n - i : (size_t)tr->batch;
            for (size_t j = 0; j < nb; ++j) tr->order_eval[j] = i + j;
            st = batch_free(tr, ds, tr->order_eval, nb, &sum, &wrong);
            if (st == EQS_OK && tr->eval_hook) tr->eval_hook(tr->eval_user, i + nb, n);
        }
        if (st != EQS_OK) return st;
        if (loss_V2) *loss_V2 = n ? sum / (double)n : NAN;
        if (error) *error = n ? (double)wrong / (double)n : NAN;
        return EQS_OK;
    }
    eqs_circuit_values_changed(tr->c); /* history-free start, as a step */
    const int noisy_reads = reads_begin(tr);
    for (size_t i = 0; i < n; ++i) {
        double l = 0;
        int w = 0;
        tr->read_base = TR_READ_EVAL + ((tr->epoch << 32) + (uint64_t)i) * TR_READS;
        st = free_sample(tr, ds, i, i == 0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM, &l, &w);
        if (st != EQS_OK) {
            if (noisy_reads) reads_end(tr);
            return st;
        }
        sum += l;
        wrong += (size_t)w;
        if (tr->eval_hook) tr->eval_hook(tr->eval_user, i + 1, n);
    }
    if (noisy_reads && (st = reads_end(tr)) != EQS_OK) return st;
    if (loss_V2) *loss_V2 = n ? sum / (double)n : NAN;
    if (error) *error = n ? (double)wrong / (double)n : NAN;
    return EQS_OK;
}

void eqs_trainer_set_eval_hook(eqs_trainer *tr, eqs_trainer_eval_hook fn, void *user)
{
    tr->eval_hook = fn;
    tr->eval_user = user;
}

void eqs_trainer_progress(const eqs_trainer *tr, eqs_trainer_status *out)
{
    out->epochs_done = tr->epoch;
    out->batches_done = tr->batch_done;
    out->batches_per_epoch =
        tr->n_train ? (tr->n_train + (size_t)tr->batch - 1) / (size_t)tr->batch : 0;
    out->lr_scale = tr->lr_scale;
    out->samples = tr->run_n;
    out->train_loss = tr->run_n ? tr->run_loss / (double)tr->run_n : NAN;
    out->train_error = tr->run_n ? tr->run_err / (double)tr->run_n : NAN;
    out->health = tr->health;
    out->step_phase_s = tr->step_phase_s;
}

const eqs_solver *eqs_trainer_solver(const eqs_trainer *tr) { return tr->s; }

double eqs_trainer_rate(const eqs_trainer *tr, int k)
{
    return (k >= 0 && k < tr->n_params) ? tr->law->rate[k] : -1.0;
}

eqs_status eqs_trainer_checkpoint_write(eqs_trainer *tr, const char *path)
{
    /* mid-epoch: the RNG is past this epoch's shuffle, so the order goes
     * with it (docs/training.md, "Resume semantics") */
    int mid = tr->shuffled && tr->batch_done > 0;
    eqs_train_state ts = {
        .epoch = tr->epoch,
        .batch = tr->batch_done,
        .lr_scale = tr->lr_scale,
        .momentum = tr->n_params > 0,
        .order = mid ? tr->order : NULL,
        .n_order = mid ? tr->n_train : 0,
    };
    return eqs_checkpoint_write(tr->ctx, tr->c, &ts, path);
}

eqs_status eqs_trainer_checkpoint_read(eqs_trainer *tr, const char *path)
{
    eqs_trainer_status p;
    eqs_trainer_progress(tr, &p);
    eqs_train_state ts = {
        .order = tr->order,
        .n_order = tr->order ? tr->n_train : 0,
    };
    eqs_status st = eqs_checkpoint_read(tr->ctx, tr->c, path, &ts);
    if (st != EQS_OK) return st;
    if (ts.batch > 0 && (ts.batch >= p.batches_per_epoch || !ts.has_order))
        return EQS_ERROR(tr->ctx, EQS_ERR_INPUT,
                         "%s: checkpoint at batch %llu of an epoch of %llu batches%s (another "
                         "training set or batch size?)",
                         path, (unsigned long long)ts.batch,
                         (unsigned long long)p.batches_per_epoch,
                         ts.has_order ? "" : " without the epoch's sample order");
    tr->epoch = ts.epoch;
    tr->batch_done = ts.batch;
    tr->lr_scale = eqs_update_schedule(tr->law, tr->epoch);
    if (!(fabs(tr->lr_scale - ts.lr_scale) <= 1e-12 * fabs(ts.lr_scale)))
        eqs_log(tr->ctx, EQS_LOG_INFO,
                "%s: learning-rate scale %.17g from this experiment's schedule (the checkpoint "
                "was written with %.17g: epochs, decay or schedule changed?)",
                path, tr->lr_scale, ts.lr_scale);
    tr->shuffled = ts.batch > 0; /* mid-epoch: continue the stored order */
    tr->run_loss = tr->run_err = 0;
    tr->run_n = 0;
    /* the checks restart after a resume */
    tr->h_n = 0, tr->prev_loss = NAN, tr->health = 0;
    tr->h_loss[0] = tr->h_loss[1] = 0;
    tr->h_cnt[0] = tr->h_cnt[1] = 0;
    return EQS_OK;
}
