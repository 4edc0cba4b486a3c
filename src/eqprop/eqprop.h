/*
 * eqprop.h: private header of the eqprop module (gradients: loss, nudged
 * phases, EqProp estimates, adjoint).  See docs/eqprop.md.
 *
 * Conventions: the loss is C = 1/2 sum_k (V_k - y_k)^2 over the .output
 * nodes (V_k = V_pos - V_neg for .output_pair pairs); a nudged phase at beta minimises E + beta C, i.e. KCL at output k
 * gains beta (V_k - y_k) leaving the node (a conductance beta to an ideal
 * source at y_k), so beta > 0 moves outputs toward their targets.  Every
 * gradient is dL/dG (V^2/S) of a trainable conductance.
 */
#ifndef EQS_EQPROP_H
#define EQS_EQPROP_H

#include "../solver/solver.h"

struct eqs_eqprop {
    eqs_ctx *ctx;
    eqs_solver *s;
    eqs_circuit *c;
    int n_out;
    int *out_node;    /* user node of output k (positive node of pair k) */
    int *out_neg;     /* negative node of pair k; 0 (ground) single-ended */
    int pairs;        /* 1: differential outputs (.output_pair) */
    double *y;        /* targets (V), n_out */
    int has_targets;
    int has_free;     /* free phase solved (and saved as warm start) */
    double *v0;       /* free-phase node voltages (n_user_nodes) */
    double *v1, *v2;  /* phases beta_1 < beta_2 (n_user_nodes) */
    double *nu_g, *nu_i; /* nudge being applied (n_out) */
    double *dcdv;     /* dC/dV over user nodes (adjoint right-hand side) */
    double *lambda;   /* adjoint solution over user nodes */
    double beta_default;
    /* Agnostic EqProp (aeqprop.c), n_params entries each: the parameters
     * theta_0 before the call (S), the knob settings as offsets u - theta_0
     * (S) and the relaxing parameters of phase 2 as theta - theta_0 (S). */
    double *aeq_theta0, *aeq_u, *aeq_theta;
    int ncep_said_zero; /* ncep.c: "correction is zero" logged once */
    /* Called before each settled phase of a sample: phase 0 the free one,
     * then 1, 2, ... for the nudged ones in order (the trainer's device
     * reads); NULL: none. */
    eqs_status (*phase_hook)(void *user, int phase);
    void *phase_user;
    int phase_no; /* phases settled since the free one */
};

/* phases.c: set the phase hook (NULL: none). */
void eqs_eqprop_set_phase_hook(eqs_eqprop *ep, eqs_status (*fn)(void *user, int phase),
                               void *user);

/* loss.c: dC/dV (V) of voltages v into ep->dcdv (zero off the outputs). */
void eqs_eqprop_loss_grad(const eqs_eqprop *ep, const double *v, double *dcdv);

/* phases.c: solve the phase nudged with strength beta (S, any sign; 0 is
 * the free phase again) warm from the saved free state, copying the node
 * voltages into vout. */
eqs_status eqs_eqprop_phase(eqs_eqprop *ep, eqs_nudge_kind kind, double beta, double *vout);

/* grad.c: beta (S) of opt (0: ep's default) into *beta; EQS_ERR_INPUT
 * unless beta > 0 and finite and the nudge kind is known. */
eqs_status eqs_eqprop_nudge_check(eqs_eqprop *ep, const eqs_grad_options *opt, double *beta);

/* grad.c: the local EqProp estimate from phases beta_1 < beta_2 (S; 0 =
 * the free state, no solve) into grad (n_params); the solver is left at
 * the free state.  Used by the EqProp methods and by ncep.c. */
eqs_status eqs_eqprop_estimate(eqs_eqprop *ep, eqs_nudge_kind nudge, double b1, double b2,
                               double *grad);

/* adjoint.c: exact dL/dG at the free state into grad (n_params). */
eqs_status eqs_eqprop_adjoint(eqs_eqprop *ep, double *grad);

/* aeqprop.c: Agnostic EqProp estimate after the free phase (see
 * EQS_GRAD_AEQPROP); the solver is left at the free state. */
eqs_status eqs_eqprop_aeqprop(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad);
/* Defaults of eqs_grad_options.aeq_reltol and .aeq_max_iter. */
#define EQS_AEQ_RELTOL_DEFAULT 1e-12
#define EQS_AEQ_MAX_ITER_DEFAULT 100

/* ncep.c: non-conservative EqProp estimate after the free phase (see
 * EQS_GRAD_NCEP); the solver is left at the free state. */
eqs_status eqs_eqprop_ncep(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad);

/* train.c: the trainer's update law (update/update.h; borrowed, mutable:
 * tests switch its noise on, as an experiment attribute will). */
eqs_update_law *eqs_trainer_update_law(eqs_trainer *tr);

#endif /* EQS_EQPROP_H */
