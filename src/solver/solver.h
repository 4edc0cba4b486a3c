/*
 * solver.h: private header of the solver module.
 *
 * A backend is a const table of functions (newton.c, ngspice.c); the
 * generic eqs_solver (solver.c) owns the options, the node-voltage vector
 * and the dispatch.  Linear algebra for Newton is a second table
 * (cholmod.c for the reciprocal SPD case, klu.c for MNA), so that each
 * external library is included by exactly one .c file.
 */
#ifndef EQS_SOLVER_H
#define EQS_SOLVER_H

#include "../circuit/circuit.h"
#include "../update/update.h"

typedef struct eqs_backend_ops eqs_backend_ops;

/* Nudge of the EqProp phases (eqs_solver_set_nudge): for each of n user
 * nodes node[k] (free: not ground, not held by a source) an extra
 * conductance g[k] (S) to ground and a current inj[k] (A) injected into
 * the node, i.e. the node's KCL residual gains g V - inj.  Arrays have
 * `cap` entries, allocated on first use (setup, not per solve). */
typedef struct {
    int n, cap;
    int *node;
    double *g;   /* S */
    double *inj; /* A */
    /* Differential entries (eqs_solver_set_nudge_pairs): for each of np
     * pairs a conductance pg[k] between user nodes pos[k] and neg[k] and a
     * current pinj[k] injected into pos[k] and drawn from neg[k]: KCL of
     * pos gains pg (V_pos - V_neg) - pinj, KCL of neg its negative.
     * pslot[k]: value-array slot of the (pos, neg) coupling (lower
     * triangle when reciprocal), pslot2[k] of (neg, pos) (MNA only);
     * -1 when either node is fixed (its terms drop into the free node's
     * right-hand side). */
    int np, pcap;
    int *pos, *neg, *pslot, *pslot2;
    double *pg, *pinj;
} eqs_nudge;

struct eqs_solver {
    eqs_ctx *ctx;
    eqs_circuit *c;
    eqs_solver_options opt;     /* defaults merged with the netlist's .options */
    const eqs_backend_ops *ops;
    void *impl;                 /* backend state */
    double *v;                  /* node voltages, c->n_user_nodes entries (V) */
    int has_solution;
    eqs_nudge nudge;            /* applied by every solve while n > 0 */
    double *v_saved;            /* eqs_solver_save_state (lazily allocated) */
    int has_saved;
    eqs_backend_id id;          /* backend in use (AUTO resolved) */
    eqs_layers *layers;         /* layered structure (layered backend only) */
    /* EQS_BACKEND_AUTO resolved to layered (solver.c): a failed layered
     * solve is redone by `fallback`, a Newton solver made on first use */
    int auto_layered;
    eqs_solver *fallback;
    long fallbacks;             /* solves redone so far */
    int last_full_refresh;      /* eqs_solver_full_refresh (Newton sets it) */
};

struct eqs_backend_ops {
    const char *name;                                   /* "newton", "ngspice" */
    eqs_status (*create)(eqs_solver *s);                /* set s->impl; analyse once */
    /* Solve; on success fill s->v[0..n_user_nodes) and info. */
    eqs_status (*solve)(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info);
    void (*destroy)(eqs_solver *s);                     /* free s->impl; NULL-safe */
    /* Optional (NULL: unsupported).  Remember / go back to the state a
     * warm start begins from (the last solution). */
    eqs_status (*save_state)(eqs_solver *s);
    eqs_status (*restore_state)(eqs_solver *s);
    /* Optional.  Adjoint solve at the last solution: J^T lambda = b with
     * J = dF/dx of the circuit WITHOUT the nudge (diode conductances at
     * the solution).  b and lambda over user nodes; entries of fixed
     * nodes: b ignored, lambda set to 0. */
    eqs_status (*adjoint)(eqs_solver *s, const double *b, double *lambda);
    /* Optional (NULL: unsupported).  Non-conservative EqProp (ncep,
     * src/eqprop/ncep.c).  ncep_capture: at the last solution s0 (the
     * free state), J0 = dF/dx exactly as the adjoint assembles it, then
     * K = -(J0 - J0^T) = -2A (A the antisymmetric part) over the whole
     * MNA unknown vector; *a_max gets max |A_ij| (0: reciprocal, no
     * correction).  Allocates its arrays on first use only.
     * ncep_enable(on): while on, every solve adds K (x - s0) to the
     * residual and K to the Jacobian, i.e. solves F(x) + K (x - s0) (+
     * nudge) = 0; off clears it. */
    eqs_status (*ncep_capture)(eqs_solver *s, double *a_max);
    eqs_status (*ncep_enable)(eqs_solver *s, int on);
    /* Optional batched training (NULL: the trainer goes sample by sample). */
    const struct eqs_batch_ops *batch;
};

/* Automatic fallback to Newton (solver.c, docs/solver.md "Fallback to
 * Newton").  _applies: s is a layered solver that auto chose, with
 * Shockley diodes, and its failure st is EQS_ERR_NOCONV or
 * EQS_ERR_UNSUPPORTED.  _begin: log the failure (the context's error;
 * warning level the first time, info after), clear the context's error and
 * return the Newton solver for s's circuit and options in *fb (made on the
 * first call, freed with s).  eqs_solver_solve uses both; so does the
 * batched path of the layered solver. */
int eqs_solver_fallback_applies(const eqs_solver *s, eqs_status st);
eqs_status eqs_solver_fallback_begin(eqs_solver *s, eqs_status st, eqs_solver **fb);

/* Generic entry points of the ncep hooks above (solver.c): the free state
 * must be solved; EQS_ERR_UNSUPPORTED for backends without them
 * (ngspice).  eqs_solver_ncep_enable(s, 0) never fails. */
eqs_status eqs_solver_ncep_capture(eqs_solver *s, double *a_max);
eqs_status eqs_solver_ncep_enable(eqs_solver *s, int on);

/* ---- Batched training (layered.c; used by eqprop/train.c) ----
 * A mini-batch is a matrix: the trainer loads the samples (inputs through
 * the circuit's input sources, targets), the backend solves the free phase
 * for the whole batch, then the two nudged phases warm from it, forms the
 * EqProp contrast of every conductance with the formulas below (one
 * definition for both paths) and hands it to the update law
 * (update/update.h), which alone turns it into new conductances. */

/* Phases (beta_1 < beta_2) of an EqProp method with nudge strength beta;
 * 0 for a method without a phase pair (adjoint, aeqprop, ncep). */
static inline int eqs_eqprop_phase_pair(eqs_grad_method m, double beta, double *b1, double *b2)
{
    switch (m) {
    case EQS_GRAD_EQPROP: *b1 = 0.0, *b2 = beta; return 1;
    case EQS_GRAD_NEGATIVE: *b1 = -beta, *b2 = 0.0; return 1;
    case EQS_GRAD_CENTERED: *b1 = -beta, *b2 = beta; return 1;
    default: return 0;
    }
}

/* dL/dG of a conductance from its branch voltages in the two phases
 * (V^2/S): [dV2^2 - dV1^2] / (2 (beta_2 - beta_1)), as a coefficient of
 * the sum of squares differences: grad = coef * sum (dV2^2 - dV1^2) with
 * coef = 1 / (2 (b2 - b1) n) for the mean over n samples. */
static inline double eqs_eqprop_contrast_coef(double b1, double b2, double n)
{
    return 1.0 / (2.0 * (b2 - b1) * n);
}

typedef struct {
    int batch;                  /* largest batch */
    const eqs_update_law *law;  /* the update law (update/update.h; borrowed):
                                   per-parameter rates, momentum, clip bounds */
    eqs_nudge_kind nudge;
    double beta1, beta2;   /* phase pair */
    int parts;             /* >= 1: each batch is cut into this many parts, solved
                              independently and dealt to the MPI ranks
                              (experiment training.parts, docs/cluster.md) */
} eqs_batch_setup;

typedef struct eqs_batch_ops {
    /* Set up (allocates everything).  EQS_ERR_UNSUPPORTED with a reason in
     * the context's log when this circuit cannot be trained in batch. */
    eqs_status (*setup)(eqs_solver *s, const eqs_batch_setup *bs);
    /* Row b of the batch: the values u (V) of the .input sources
     * (eqs_circuit_input_count, .input order; the circuit's sources are not
     * changed) and the targets y (n_out values). */
    void (*load)(eqs_solver *s, int b, const double *u, const double *y);
    /* Free phase of rows 0..nb-1 (cold start); out: nb x n_out output
     * values (V_pos - V_neg). */
    eqs_status (*free_phase)(eqs_solver *s, int nb, double *out_V);
    /* Nudged phases warm from the free state, contrast, and the update
     * law (bs->law) applied with learning-rate multiplier lr_scale. */
    eqs_status (*train)(eqs_solver *s, int nb, double lr_scale);
} eqs_batch_ops;

extern const eqs_backend_ops eqs_backend_newton;
extern const eqs_backend_ops eqs_backend_ngspice;
extern const eqs_backend_ops eqs_backend_layered;

/* Test hook of the ngspice backend (ngspice.c), serialised like every use
 * of the library: load `deck` (NULL-terminated lines ending with ".end";
 * NULL: none), run "op", copy the op value of each of the n vectors in
 * names[] into values[], remove every plot and circuit, then report how
 * many plots (besides "const") and circuits ngspice still holds (NULL: not
 * asked).  Any ngspice failure gives EQS_ERR_NGSPICE. */
eqs_status eqs_ngspice_run_deck(eqs_ctx *ctx, char **deck, int n, const char *const *names,
                                double *values, int *n_plots, int *n_circuits);

/* Test hook of the Newton backend (newton.c): bring the solver's linear
 * part up to date with the circuit's change logs as a solve would (the
 * incremental path when it applies), then compare it with a rebuild from
 * every element value: Jlin, b0, the fixed-node rows (fx_x, fx_s0, |fx_x|
 * sums, reference currents fx_lref) and the fixed voltages.  *max_rel gets
 * the largest normwise relative difference ||inc - full||_inf /
 * ||full||_inf over those arrays.  The solver keeps the rebuilt values.
 * Allocates (test use only); EQS_ERR_UNSUPPORTED for other backends. */
eqs_status eqs_newton_refresh_check(eqs_solver *s, double *max_rel);

/* ---- sparse linear solvers used by Newton ---- */
typedef struct eqs_linsolve eqs_linsolve;

typedef struct {
    const char *name; /* "cholmod", "klu" */
    /* Symbolic analysis of the n x n pattern (Ap, Ai; lower triangle when
     * symmetric).  Called once per topology. */
    eqs_status (*create)(eqs_ctx *ctx, int n, const int *Ap, const int *Ai, int symmetric,
                         eqs_linsolve **out);
    /* Numeric factorisation of values Ax (same pattern).  Returns 0 on
     * success, > 0 when recoverable (not positive definite, singular:
     * the caller may damp or step), < 0 fatal. */
    int (*factor)(eqs_linsolve *ls, const double *Ax);
    /* Solve A x = b in place (b overwritten by x).  0 or < 0. */
    int (*solve)(eqs_linsolve *ls, double *b);
    /* Solve A^T x = b in place (for adjoints).  0 or < 0. */
    int (*solve_transpose)(eqs_linsolve *ls, double *b);
    void (*destroy)(eqs_linsolve **ls);
} eqs_linsolve_ops;

extern const eqs_linsolve_ops eqs_linsolve_cholmod;
extern const eqs_linsolve_ops eqs_linsolve_klu;

/* Write the circuit (current element values) as an ngspice deck: one
 * string per line, NULL-terminated array, title first, ".end" last;
 * extension cards omitted; options from `opt`.  Implemented in deck.c so
 * that export/ can reuse it.  *lines_out is freed with eqs_deck_free. */
eqs_status eqs_deck_build(eqs_ctx *ctx, const eqs_circuit *c, const eqs_solver_options *opt,
                          int with_op, char ***lines_out);
/* Same, plus the nudge `nu` (NULL or n = 0: none) written as a VCCS
 * "g.eqs_nudge<k> node 0 node 0 <g>" (current g V leaving the node) and a
 * current source "i.eqs_nudge<k> 0 node dc <inj>" (inj entering it), so
 * that any sign of g is expressible.  Pair entries: a VCCS
 * "g.eqs_nudgep<k> pos neg pos neg <g>" (current g (V_pos - V_neg) from
 * pos through the element to neg) and "i.eqs_nudgep<k> neg pos dc <inj>"
 * (inj leaving neg, entering pos). */
eqs_status eqs_deck_build_nudged(eqs_ctx *ctx, const eqs_circuit *c,
                                 const eqs_solver_options *opt, const eqs_nudge *nu, int with_op,
                                 char ***lines_out);
void eqs_deck_free(eqs_ctx *ctx, char ***lines);
/* The lines of eqs_deck_build between the title and ".end" (.options,
 * .model lines, one line per netlist element), each followed by a
 * newline, written to out as they are made instead of kept: the deck of
 * DRN-XL (51.7 M conductances) is 2.4 GB of text and held as lines it was
 * 3.6 GB, the peak of a training run.  Write errors show in ferror(out). */
eqs_status eqs_deck_write_body(eqs_ctx *ctx, const eqs_circuit *c,
                               const eqs_solver_options *opt, FILE *out);

/* A helper thread for two-part loops (worker.c).  eqs_worker_run calls
 * fn(arg, 0) here and fn(arg, 1) on the helper and returns when both are
 * done; with w == NULL (one core) it calls both parts itself, so results
 * never depend on the helper.  Create returns NULL on a one-core machine. */
typedef struct eqs_worker eqs_worker;
typedef void (*eqs_worker_fn)(void *arg, int part);
eqs_worker *eqs_worker_create(eqs_ctx *ctx);
void eqs_worker_run(eqs_worker *w, eqs_worker_fn fn, void *arg);
void eqs_worker_destroy(eqs_ctx *ctx, eqs_worker *w);

#endif /* EQS_SOLVER_H */
