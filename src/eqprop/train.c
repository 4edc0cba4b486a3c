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
 *   - free phase: the batch's first sample from a cold start with the
 *     solver's linear part rebuilt from the circuit (the incremental
 *     input and conductance updates round differently depending on their
 *     history), the others warm from the previous sample's state; so every
 *     batch is computed the same way whatever happened before it, and
 *     resuming at a batch boundary reproduces an uninterrupted run bit for
 *     bit;
 *   - gradient dL/dG with the experiment's method and beta, accumulated.
 * Then, with g the batch mean of dL/dG, for each trained conductance:
 *     m <- mu m + g;   G <- clip(G - lr_scale * rate * m, [g_lo, g_hi])
 * (SGD with momentum as in the reference code); lr_scale = decay^e in epoch
 * e (0-based), times 0.5 (1 + cos(pi e / epochs)) with schedule="cosine".
 *
 * Shuffling: at the first step of an epoch the sample order is a fresh
 * permutation from the context's EQS_RNG_SHUFFLE stream.  A mid-epoch
 * checkpoint stores that order with the RNG state (which is past the
 * shuffle), so a resumed run finishes the epoch in the same order and then
 * draws the next permutation exactly as an uninterrupted run does.
 */
#include "eqprop.h"

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
    double momentum, decay, g_lo, g_hi;
    int cosine; /* schedule="cosine" */
    int batch, epochs;

    double *rate;  /* per parameter (S^2/V^2), < 0: not trained */
    double *grad;  /* one sample's dL/dG */
    double *acc;   /* batch sum of dL/dG */
    double *mom;   /* momentum buffer */
    double *y;     /* targets */
    size_t *order; /* sample order of the current epoch */
    size_t n_train;

    uint64_t epoch;      /* epochs completed */
    uint64_t batch_done; /* batches completed in the current epoch */
    double lr_scale;
    int shuffled; /* order drawn for the current epoch */

    double run_loss, run_err; /* sums over the samples of the current epoch */
    size_t run_n;

    /* batched path (solver's eqs_batch_ops, e.g. the layered solver) */
    const eqs_batch_ops *bops; /* NULL: sample by sample */
    double *yb;                /* batch x n_out targets */
    double *outb;              /* batch x n_out free-phase outputs */
    size_t *order_eval;        /* batch indices for evaluation */
    double *u;                 /* input source values of one sample (V) */
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
}

eqs_status eqs_experiment_network(eqs_ctx *ctx, const eqs_experiment *exp, eqs_netlist **out)
{
    *out = NULL;
    if (exp->network == EQS_NETWORK_NETLIST) {
        if (!exp->netlist) return EQS_ERROR(ctx, EQS_ERR_INPUT, "experiment names no netlist");
        return eqs_netlist_read(ctx, exp->netlist, out);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return EQS_ERROR(ctx, EQS_ERR_NOMEM, "cannot open a memory stream for the DRN");
    eqs_status st = eqs_gen_drn(ctx, &exp->drn, f);
    if (fclose(f) != 0 && st == EQS_OK)
        st = EQS_ERROR(ctx, EQS_ERR_NOMEM, "cannot write the generated DRN");
    if (st == EQS_OK) {
        char name[512];
        snprintf(name, sizeof name, "%s (generated drn)",
                 exp->source ? exp->source : "experiment");
        st = eqs_netlist_read_string(ctx, text, name, out);
    }
    free(text);
    return st;
}

void eqs_trainer_free(eqs_trainer **pt)
{
    if (!pt || !*pt) return;
    eqs_trainer *tr = *pt;
    eqs_ctx *ctx = tr->ctx;
    eqs_eqprop_free(&tr->ep);
    eqs_solver_free(&tr->s);
    eqs_free(ctx, tr->rate);
    eqs_free(ctx, tr->grad);
    eqs_free(ctx, tr->acc);
    eqs_free(ctx, tr->mom);
    eqs_free(ctx, tr->y);
    eqs_free(ctx, tr->order);
    eqs_free(ctx, tr->yb);
    eqs_free(ctx, tr->outb);
    eqs_free(ctx, tr->order_eval);
    eqs_free(ctx, tr->u);
    eqs_free(ctx, tr);
    *pt = NULL;
}

static eqs_grad_method method_of(eqs_algorithm a)
{
    switch (a) {
    case EQS_ALGO_POSITIVE: return EQS_GRAD_EQPROP;
    case EQS_ALGO_NEGATIVE: return EQS_GRAD_NEGATIVE;
    case EQS_ALGO_ADJOINT: return EQS_GRAD_ADJOINT;
    case EQS_ALGO_AEQPROP: return EQS_GRAD_AEQPROP;
    case EQS_ALGO_NCEP: return EQS_GRAD_NCEP;
    case EQS_ALGO_CENTERED: break;
    }
    return EQS_GRAD_CENTERED;
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
    if (exp->algorithm == EQS_ALGO_ADJOINT && exp->backend == EQS_BACKEND_NGSPICE)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "the adjoint method needs the newton solver");
    if (exp->algorithm == EQS_ALGO_NCEP && exp->backend == EQS_BACKEND_NGSPICE)
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
    tr->go.method = method_of(exp->algorithm);
    tr->go.beta_S = exp->beta;
    tr->go.nudge = exp->nudge;
    tr->go.epsilon_S_per_V2 = exp->epsilon_S_per_V2;
    tr->go.aeq_phases = exp->aeq_phases;
    tr->momentum = exp->momentum;
    tr->decay = exp->lr_decay;
    tr->cosine = exp->lr_cosine;
    tr->g_lo = exp->g_min_S > opt->g_floor_S ? exp->g_min_S : opt->g_floor_S;
    tr->g_hi = exp->g_max_S > 0 ? exp->g_max_S : INFINITY;
    tr->batch = exp->batch;
    tr->epochs = exp->epochs;
    tr->lr_scale = 1.0;

    size_t np = (size_t)(tr->n_params > 0 ? tr->n_params : 1);
    size_t no = (size_t)tr->n_out;
    eqs_status st = EQS_ERR_NOMEM;
    tr->rate = eqs_malloc(ctx, np * sizeof *tr->rate);
    tr->grad = eqs_calloc(ctx, np, sizeof *tr->grad);
    tr->acc = eqs_calloc(ctx, np, sizeof *tr->acc);
    tr->mom = eqs_calloc(ctx, np, sizeof *tr->mom);
    tr->y = eqs_calloc(ctx, no, sizeof *tr->y);
    tr->yb = eqs_calloc(ctx, (size_t)tr->batch * no, sizeof *tr->yb);
    tr->outb = eqs_calloc(ctx, (size_t)tr->batch * no, sizeof *tr->outb);
    tr->order_eval = eqs_calloc(ctx, (size_t)tr->batch, sizeof *tr->order_eval);
    tr->u = eqs_calloc(ctx, (size_t)tr->n_in + 1, sizeof *tr->u);
    if (!tr->u ||!tr->rate || !tr->grad || !tr->acc || !tr->mom || !tr->y || !tr->yb || !tr->outb ||
        !tr->order_eval)
        goto fail;
    for (int k = 0; k < tr->n_params; ++k)
        tr->rate[k] = eqs_experiment_rate(exp, eqs_circuit_param_name(c, k));
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
    if ((st = batch_setup(tr)) != EQS_OK) goto fail;
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
 * solver's batch ops with the same phases, normalisation and optimizer
 * (solver.h).  Anything the backend cannot batch falls back to the
 * per-sample path (logged). */
static eqs_status batch_setup(eqs_trainer *tr)
{
    const eqs_batch_ops *b = tr->s->ops->batch;
    double b1, b2;
    double beta = tr->go.beta_S == 0.0 ? eqs_eqprop_default_beta(tr->ep) : tr->go.beta_S;
    if (!b || !eqs_eqprop_phase_pair(tr->go.method, beta, &b1, &b2)) return EQS_OK;
    eqs_batch_setup bs = {
        .batch = tr->batch,
        .rate = tr->rate,
        .momentum = tr->momentum,
        .g_lo_S = tr->g_lo,
        .g_hi_S = tr->g_hi,
        .nudge = tr->go.nudge,
        .beta1 = b1,
        .beta2 = b2,
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

eqs_status eqs_trainer_sync(eqs_trainer *tr)
{
    return tr->bops ? tr->bops->sync(tr->s) : EQS_OK;
}

int eqs_trainer_batched(const eqs_trainer *tr) { return tr->bops != NULL; }

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

/* The learning-rate multiplier in epoch e (0-based): decay^e, times the
 * cosine factor with schedule="cosine" (1 in the first epoch, small but
 * positive in the last). */
static double lr_scale_at(const eqs_trainer *tr, uint64_t e)
{
    double s = pow(tr->decay, (double)e);
    if (tr->cosine && tr->epochs > 0) {
        /* epochs past the planned ones (a longer --epochs) keep the last factor */
        uint64_t last = (uint64_t)tr->epochs - 1;
        double x = (double)(e < last ? e : last) / (double)tr->epochs;
        s *= 0.5 * (1.0 + cos(3.14159265358979323846 * x));
    }
    return s;
}

/* A batch ending at sample `end` of the epoch is done; at the end of the
 * epoch: next epoch, decayed rate, fresh shuffle.  1 when an epoch ended. */
static int batch_done(eqs_trainer *tr, size_t end)
{
    tr->batch_done++;
    if (end < tr->n_train) return 0;
    tr->epoch++;
    tr->batch_done = 0;
    tr->lr_scale = lr_scale_at(tr, tr->epoch);
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
    const int np = tr->n_params;
    if (tr->bops) {
        double loss = 0;
        size_t wrong = 0;
        eqs_status st = batch_free(tr, tr->train, tr->order + first, nb, &loss, &wrong);
        if (st == EQS_OK) st = tr->bops->train(tr->s, (int)nb, tr->lr_scale);
        if (st != EQS_OK) return st;
        tr->run_loss += loss;
        tr->run_err += (double)wrong;
        tr->run_n += nb;
        /* at the end of an epoch the circuit gets the epoch's result */
        return batch_done(tr, first + nb) ? tr->bops->sync(tr->s) : EQS_OK;
    }
    memset(tr->acc, 0, (size_t)(np > 0 ? np : 1) * sizeof *tr->acc);
    eqs_circuit_values_changed(tr->c); /* history-free start, see the top */
    for (size_t j = 0; j < nb; ++j) {
        double loss = 0;
        int wrong = 0;
        eqs_status st = free_sample(tr, tr->train, tr->order[first + j],
                                    j == 0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM, &loss, &wrong);
        if (st == EQS_OK) st = eqs_eqprop_gradient(tr->ep, &tr->go, tr->grad);
        if (st != EQS_OK) return st;
        tr->run_loss += loss;
        tr->run_err += wrong;
        tr->run_n++;
        for (int k = 0; k < np; ++k) tr->acc[k] += tr->grad[k];
    }
    const double inv = 1.0 / (double)nb;
    for (int k = 0; k < np; ++k) {
        if (tr->rate[k] < 0) continue; /* matched by no learning-rate group */
        double g = tr->acc[k] * inv;
        double G = eqs_sgd_update(eqs_circuit_param_get(tr->c, k), &tr->mom[k], tr->momentum,
                                  g, tr->lr_scale * tr->rate[k], tr->g_lo, tr->g_hi);
        if (!isfinite(G))
            return EQS_ERROR(ctx, EQS_ERR_NOCONV,
                             "training diverged: conductance of '%s' is not finite",
                             eqs_circuit_param_name(tr->c, k));
        eqs_status st = eqs_circuit_param_set(tr->c, k, G);
        if (st != EQS_OK) return st;
    }
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

eqs_status eqs_trainer_evaluate(eqs_trainer *tr, const eqs_dataset *ds, double *loss_V2,
                                double *error)
{
    eqs_status st = eqs_trainer_check_data(tr, ds);
    if (st != EQS_OK) return st;
    size_t n = eqs_dataset_size(ds);
    double sum = 0;
    size_t wrong = 0;
    if (tr->bops) { /* batch by batch, cold start per batch */
        for (size_t i = 0; i < n && st == EQS_OK; i += (size_t)tr->batch) {
            size_t nb = n - i < (size_t)tr->batch ? n - i : (size_t)tr->batch;
            for (size_t j = 0; j < nb; ++j) tr->order_eval[j] = i + j;
            st = batch_free(tr, ds, tr->order_eval, nb, &sum, &wrong);
        }
        if (st != EQS_OK) return st;
        if (loss_V2) *loss_V2 = n ? sum / (double)n : NAN;
        if (error) *error = n ? (double)wrong / (double)n : NAN;
        return EQS_OK;
    }
    eqs_circuit_values_changed(tr->c); /* history-free start, as a step */
    for (size_t i = 0; i < n; ++i) {
        double l = 0;
        int w = 0;
        st = free_sample(tr, ds, i, i == 0 ? EQS_SOLVE_COLD : EQS_SOLVE_WARM, &l, &w);
        if (st != EQS_OK) return st;
        sum += l;
        wrong += (size_t)w;
    }
    if (loss_V2) *loss_V2 = n ? sum / (double)n : NAN;
    if (error) *error = n ? (double)wrong / (double)n : NAN;
    return EQS_OK;
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
}

const eqs_solver *eqs_trainer_solver(const eqs_trainer *tr) { return tr->s; }

double eqs_trainer_rate(const eqs_trainer *tr, int k)
{
    return (k >= 0 && k < tr->n_params) ? tr->rate[k] : -1.0;
}

eqs_status eqs_trainer_checkpoint_write(eqs_trainer *tr, const char *path)
{
    /* mid-epoch: the RNG is past this epoch's shuffle, so the order goes
     * with it (docs/training.md, "Resume semantics") */
    int mid = tr->shuffled && tr->batch_done > 0;
    if (tr->bops) {
        eqs_status st = tr->bops->sync(tr->s);
        if (st != EQS_OK) return st;
        if (tr->n_params > 0) tr->bops->momentum(tr->s, tr->mom);
    }
    eqs_train_state ts = {
        .epoch = tr->epoch,
        .batch = tr->batch_done,
        .lr_scale = tr->lr_scale,
        .momentum = tr->n_params > 0 ? tr->mom : NULL,
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
        .momentum = tr->n_params > 0 ? tr->mom : NULL,
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
    tr->lr_scale = lr_scale_at(tr, tr->epoch);
    if (!(fabs(tr->lr_scale - ts.lr_scale) <= 1e-12 * fabs(ts.lr_scale)))
        eqs_log(tr->ctx, EQS_LOG_INFO,
                "%s: learning-rate scale %.17g from this experiment's schedule (the checkpoint "
                "was written with %.17g: epochs, decay or schedule changed?)",
                path, tr->lr_scale, ts.lr_scale);
    tr->shuffled = ts.batch > 0; /* mid-epoch: continue the stored order */
    if (tr->bops) {
        st = tr->bops->pull(tr->s, tr->mom);
        if (st != EQS_OK) return st;
    }
    tr->run_loss = tr->run_err = 0;
    tr->run_n = 0;
    return EQS_OK;
}
