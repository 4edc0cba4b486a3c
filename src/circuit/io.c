/*
 * io.c: the data-facing side of a compiled circuit: the `.input` voltage
 * sources that samples drive and the `.output` nodes that losses read.
 *
 * Inputs are indexed in the order of the netlist's `.input` cards, outputs
 * in the order of its `.output` cards.  Netlist elements keep their index
 * in c->elems (compile.c), so input k is c->elems[j] with j the netlist
 * index of the source.
 *
 * Cost of changing an input.  A grounded source was eliminated by the
 * compiler: its value fixes a node, and enters the Newton solver only
 * through cached data (the fixed node's voltage, the constant part b0 of
 * the residual at its neighbours, the currents of fixed nodes).
 * eqs_circuit_input_set is O(1) (one hash look-up, one store, one entry in
 * the circuit's input change log); the next solve applies each logged
 * node in O(its degree) (newton.c, input_apply).  A floating source (MNA
 * branch) marks every value as changed (eqs_circuit_values_changed): the
 * next solve refreshes the linear part, O(elements + nonzeros).  Set every
 * input of a sample, then solve.
 */
#include "circuit.h"

#include "../devices/devices.h"

#include <math.h>

int eqs_circuit_input_count(const eqs_circuit *c) { return c->nl->n_inputs; }

/* Index (into c->elems) of input source k, or -1. */
static int input_elem(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->nl->n_inputs) return -1;
    int j = eqs_netlist_elem_find(c->nl, c->nl->inputs[k]);
    if (j < 0 || j >= c->n_elems || c->elems[j].origin != j) return -1;
    /* an independent voltage source */
    const eqs_device *dev = eqs_device_get(c->elems[j].kind);
    const unsigned want = EQS_DEV_SOURCE | EQS_DEV_VOLTAGE;
    if (!dev || (dev->flags & want) != want) return -1;
    return j;
}

const char *eqs_circuit_input_name(const eqs_circuit *c, int k)
{
    return (k < 0 || k >= c->nl->n_inputs) ? NULL : c->nl->inputs[k];
}

double eqs_circuit_input_get(const eqs_circuit *c, int k)
{
    int j = input_elem(c, k);
    return j < 0 ? NAN : c->elems[j].value;
}

eqs_status eqs_circuit_input_set(eqs_circuit *c, int k, double volts)
{
    int j = input_elem(c, k);
    if (j < 0)
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT, "input index %d out of range (0..%d)", k,
                         c->nl->n_inputs - 1);
    if (!isfinite(volts))
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT, "value of input '%s' must be finite (got %g V)",
                         c->nl->inputs[k], volts);
    if (c->elems[j].value == volts) return EQS_OK; /* nothing to refresh */
    c->elems[j].value = volts;
    const eqs_celem *e = &c->elems[j];
    int f = -1; /* the node this source fixes, if it was eliminated */
    for (int t = 0; t < 2 && e->branch < 0; ++t)
        if (e->n[t] > 0 && c->node_fixed_by[e->n[t]] == j) f = e->n[t];
    if (f > 0) eqs_circuit_input_changed(c, f);
    else eqs_circuit_values_changed(c);
    return EQS_OK;
}

int eqs_circuit_output_count(const eqs_circuit *c)
{
    return c->nl->output_pairs ? c->nl->n_outputs / 2 : c->nl->n_outputs;
}

int eqs_circuit_output_node(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= eqs_circuit_output_count(c)) return -1;
    return eqs_netlist_node_find(c->nl, c->nl->outputs[c->nl->output_pairs ? 2 * k : k]);
}

int eqs_circuit_output_neg(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= eqs_circuit_output_count(c)) return -1;
    if (!c->nl->output_pairs) return 0;
    return eqs_netlist_node_find(c->nl, c->nl->outputs[2 * k + 1]);
}
