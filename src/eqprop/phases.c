/*
 * phases.c: the eqprop object (outputs, targets, workspaces), the free
 * phase and the nudged phases.
 *
 * A nudged phase is a physical element added to the circuit through the
 * solver's nudge hook (eqs_solver_set_nudge):
 *   conductance: g = beta from output k to an ideal source at y_k, i.e.
 *                injected current beta (y_k - V_k), Jacobian +beta on the
 *                node's diagonal;
 *   current:     a constant current beta (y_k - V_k^free) computed from the
 *                free state (the same to first order in beta).
 * Differential outputs (.output_pair): the same element between the pair's
 * nodes, a conductance beta in series with a source y_k from pos to neg,
 * i.e. current beta (y_k - (V_pos - V_neg)) into pos and out of neg
 * (eqs_solver_set_nudge_pairs); the current variant uses the free state's
 * V_pos - V_neg.  Every nudged phase starts warm from the saved free state, so the
 * symbolic factorisation and the free iterate are reused and nothing is
 * allocated.
 */
#include "eqprop.h"

#include "../devices/devices.h"

#include <math.h>
#include <string.h>

void eqs_eqprop_free(eqs_eqprop **pp)
{
    if (!pp || !*pp) return;
    eqs_eqprop *ep = *pp;
    eqs_ctx *ctx = ep->ctx;
    eqs_free(ctx, ep->out_node);
    eqs_free(ctx, ep->out_neg);
    eqs_free(ctx, ep->y);
    eqs_free(ctx, ep->v0);
    eqs_free(ctx, ep->v1);
    eqs_free(ctx, ep->v2);
    eqs_free(ctx, ep->nu_g);
    eqs_free(ctx, ep->nu_i);
    eqs_free(ctx, ep->dcdv);
    eqs_free(ctx, ep->lambda);
    eqs_free(ctx, ep->aeq_theta0);
    eqs_free(ctx, ep->aeq_u);
    eqs_free(ctx, ep->aeq_theta);
    eqs_free(ctx, ep);
    *pp = NULL;
}

/* 1e-3 of the mean trainable conductance: small enough that centered
 * EqProp's O(beta^2) bias is far below 1e-3 relative on the example
 * networks, large enough that the nudge moves the outputs by about 1e-3
 * of their error, well above the solver's tolerances (docs/eqprop.md). */
#define EP_BETA_REL 1e-3
/* Fallback beta without any resistor (S). */
#define EP_BETA_FALLBACK 1e-9

static double default_beta(const eqs_circuit *c)
{
    double sum = 0.0;
    int n = 0;
    for (int k = 0; k < c->n_params; ++k, ++n) sum += fabs(eqs_store_value(c->store, k));
    if (n == 0)
        for (int e = 0; e < c->n_elems; ++e)
            if ((eqs_device_get(c->elems[e].kind)->flags & EQS_DEV_TRAINABLE) &&
                c->elems[e].origin >= 0) { /* a conductance of the netlist */
                sum += fabs(c->elems[e].value);
                n++;
            }
    return (n > 0 && sum > 0) ? EP_BETA_REL * sum / n : EP_BETA_FALLBACK;
}

static eqs_status set_nudge(eqs_eqprop *ep)
{
    if (ep->pairs)
        return eqs_solver_set_nudge_pairs(ep->s, ep->n_out, ep->out_node, ep->out_neg, ep->nu_g,
                                          ep->nu_i);
    return eqs_solver_set_nudge(ep->s, ep->n_out, ep->out_node, ep->nu_g, ep->nu_i);
}

eqs_status eqs_eqprop_create(eqs_ctx *ctx, eqs_solver *s, eqs_eqprop **out)
{
    *out = NULL;
    eqs_circuit *c = s->c;
    const eqs_netlist *nl = c->nl;
    if (nl->n_outputs == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: the netlist has no .output card (gradients need output nodes)",
                         nl->path ? nl->path : "netlist");
    eqs_eqprop *ep = eqs_calloc(ctx, 1, sizeof *ep);
    if (!ep) return EQS_ERR_NOMEM;
    ep->ctx = ctx;
    ep->s = s;
    ep->c = c;
    ep->pairs = nl->output_pairs;
    ep->n_out = eqs_circuit_output_count(c);
    size_t no = (size_t)ep->n_out, nv = (size_t)c->n_user_nodes;
    ep->out_node = eqs_malloc(ctx, no * sizeof *ep->out_node);
    ep->out_neg = eqs_calloc(ctx, no, sizeof *ep->out_neg);
    ep->y = eqs_calloc(ctx, no, sizeof *ep->y);
    ep->nu_g = eqs_calloc(ctx, no, sizeof *ep->nu_g);
    ep->nu_i = eqs_calloc(ctx, no, sizeof *ep->nu_i);
    ep->v0 = eqs_calloc(ctx, nv, sizeof *ep->v0);
    ep->v1 = eqs_calloc(ctx, nv, sizeof *ep->v1);
    ep->v2 = eqs_calloc(ctx, nv, sizeof *ep->v2);
    ep->dcdv = eqs_calloc(ctx, nv, sizeof *ep->dcdv);
    ep->lambda = eqs_calloc(ctx, nv, sizeof *ep->lambda);
    eqs_status st = EQS_ERR_NOMEM;
    if (!ep->out_node || !ep->out_neg || !ep->y || !ep->nu_g || !ep->nu_i || !ep->v0 || !ep->v1 || !ep->v2 ||
        !ep->dcdv || !ep->lambda)
        goto fail;
    for (int k = 0; k < ep->n_out && ep->pairs; ++k) {
        /* differential pair: either node may be held by a source, not both */
        int nd[2];
        for (int t = 0; t < 2; ++t) {
            nd[t] = eqs_circuit_node_find(c, nl->outputs[2 * k + t]);
            if (nd[t] <= 0) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT,
                                  nl->output_loc ? nl->output_loc[2 * k + t] : EQS_NOLOC,
                                  "output node '%s' does not exist", nl->outputs[2 * k + t]);
                goto fail;
            }
        }
        if (c->node_unknown[nd[0]] < 0 && c->node_unknown[nd[1]] < 0) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, nl->output_loc ? nl->output_loc[2 * k] : EQS_NOLOC,
                              "output pair '%s %s': both nodes are held by voltage sources: it "
                              "cannot be nudged",
                              nl->outputs[2 * k], nl->outputs[2 * k + 1]);
            goto fail;
        }
        ep->out_node[k] = nd[0];
        ep->out_neg[k] = nd[1];
    }
    for (int k = 0; k < ep->n_out && !ep->pairs; ++k) {
        int nd = eqs_circuit_node_find(c, nl->outputs[k]);
        eqs_loc loc = nl->output_loc ? nl->output_loc[k] : EQS_NOLOC;
        if (nd <= 0) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "output node '%s' does not exist",
                              nl->outputs[k]);
            goto fail;
        }
        if (c->node_unknown[nd] < 0) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc,
                              "output node '%s' is held by a voltage source: it cannot be "
                              "nudged",
                              nl->outputs[k]);
            goto fail;
        }
        ep->out_node[k] = nd;
    }
    /* allocate the solver's nudge arrays now (setup), not in a phase */
    st = set_nudge(ep);
    if (st != EQS_OK) goto fail;
    eqs_solver_clear_nudge(s);
    ep->beta_default = default_beta(c);
    *out = ep;
    return EQS_OK;
fail:
    eqs_eqprop_free(&ep);
    return st;
}

int eqs_eqprop_output_count(const eqs_eqprop *ep) { return ep->n_out; }

int eqs_eqprop_output_node(const eqs_eqprop *ep, int k)
{
    return (k >= 0 && k < ep->n_out) ? ep->out_node[k] : -1;
}

int eqs_eqprop_output_neg(const eqs_eqprop *ep, int k)
{
    return (k >= 0 && k < ep->n_out) ? ep->out_neg[k] : -1;
}

int eqs_eqprop_output_pairs(const eqs_eqprop *ep) { return ep->pairs; }

double eqs_eqprop_default_beta(const eqs_eqprop *ep) { return ep->beta_default; }

eqs_status eqs_eqprop_set_targets(eqs_eqprop *ep, const double *y)
{
    for (int k = 0; k < ep->n_out; ++k)
        if (!isfinite(y[k]))
            return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "target of output '%s' is not finite",
                             ep->c->node_names[ep->out_node[k]]);
    memcpy(ep->y, y, (size_t)ep->n_out * sizeof *y);
    ep->has_targets = 1;
    return EQS_OK;
}

void eqs_eqprop_set_phase_hook(eqs_eqprop *ep, eqs_status (*fn)(void *user, int phase),
                               void *user)
{
    ep->phase_hook = fn;
    ep->phase_user = user;
}

eqs_status eqs_eqprop_free_phase(eqs_eqprop *ep, eqs_solve_mode mode, double *loss)
{
    if (!ep->has_targets)
        return EQS_ERROR(ep->ctx, EQS_ERR_INPUT, "eqprop: targets not set");
    ep->has_free = 0;
    ep->phase_no = 0;
    if (!ep->aeq_theta0) {
        /* Agnostic EqProp's work (aeqprop.c), 24 bytes per parameter: made
         * at the first per-sample free phase (every gradient follows one),
         * so the batched path, which never comes here, does without it
         * (1.2 GB at 51.7 M conductances, DRN-XL) */
        size_t np = (size_t)(ep->c->n_params > 0 ? ep->c->n_params : 1);
        ep->aeq_theta0 = eqs_calloc(ep->ctx, np, sizeof *ep->aeq_theta0);
        ep->aeq_u = eqs_calloc(ep->ctx, np, sizeof *ep->aeq_u);
        ep->aeq_theta = eqs_calloc(ep->ctx, np, sizeof *ep->aeq_theta);
        if (!ep->aeq_theta0 || !ep->aeq_u || !ep->aeq_theta) {
            eqs_free(ep->ctx, ep->aeq_theta0);
            eqs_free(ep->ctx, ep->aeq_u);
            eqs_free(ep->ctx, ep->aeq_theta);
            ep->aeq_theta0 = ep->aeq_u = ep->aeq_theta = NULL;
            return EQS_ERR_NOMEM;
        }
    }
    eqs_status st = ep->phase_hook ? ep->phase_hook(ep->phase_user, 0) : EQS_OK;
    if (st != EQS_OK) return st;
    eqs_solver_clear_nudge(ep->s);
    st = eqs_solver_solve(ep->s, mode, NULL);
    if (st != EQS_OK) return st;
    st = eqs_solver_save_state(ep->s);
    if (st != EQS_OK) return st;
    memcpy(ep->v0, eqs_solver_voltages(ep->s), (size_t)ep->c->n_user_nodes * sizeof *ep->v0);
    ep->has_free = 1;
    if (loss) *loss = eqs_eqprop_loss(ep, ep->v0);
    return EQS_OK;
}

eqs_status eqs_eqprop_phase(eqs_eqprop *ep, eqs_nudge_kind kind, double beta, double *vout)
{
    for (int k = 0; k < ep->n_out; ++k) {
        if (kind == EQS_NUDGE_CURRENT) {
            ep->nu_g[k] = 0.0;
            ep->nu_i[k] =
                beta * (ep->y[k] - (ep->v0[ep->out_node[k]] - ep->v0[ep->out_neg[k]]));
        } else {
            ep->nu_g[k] = beta;
            ep->nu_i[k] = beta * ep->y[k];
        }
    }
    eqs_status st = ep->phase_hook ? ep->phase_hook(ep->phase_user, ++ep->phase_no) : EQS_OK;
    if (st == EQS_OK) st = eqs_solver_restore_state(ep->s);
    if (st == EQS_OK) st = set_nudge(ep);
    if (st == EQS_OK) st = eqs_solver_solve(ep->s, EQS_SOLVE_WARM, NULL);
    eqs_solver_clear_nudge(ep->s);
    if (st != EQS_OK) return st;
    memcpy(vout, eqs_solver_voltages(ep->s), (size_t)ep->c->n_user_nodes * sizeof *vout);
    return EQS_OK;
}

const double *eqs_eqprop_voltages(const eqs_eqprop *ep, int which)
{
    return which == 1 ? ep->v1 : which == 2 ? ep->v2 : ep->v0;
}
