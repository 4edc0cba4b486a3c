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
 * compiler: its value enters the Newton solver only through cached data
 * (fixed node voltages, the constant part b0 of the residual at every
 * neighbour, the currents of fixed nodes), and the circuit's change log
 * records conductance changes only.  eqs_circuit_input_set is O(1) itself
 * (one hash look-up, one store) but marks the circuit's values as changed
 * (eqs_circuit_values_changed), so the next solve refreshes the linear part
 * once: O(elements + nonzeros), whatever the number of inputs changed
 * since the previous solve.  Set every input of a sample, then solve.
 */
#include "circuit.h"

#include <math.h>

int eqs_circuit_input_count(const eqs_circuit *c) { return c->nl->n_inputs; }

/* Index (into c->elems) of input source k, or -1. */
static int input_elem(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->nl->n_inputs) return -1;
    int j = eqs_netlist_elem_find(c->nl, c->nl->inputs[k]);
    if (j < 0 || j >= c->n_elems || c->elems[j].kind != EQS_EL_V || c->elems[j].origin != j)
        return -1;
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
    eqs_circuit_values_changed(c);
    return EQS_OK;
}

int eqs_circuit_output_count(const eqs_circuit *c) { return c->nl->n_outputs; }

int eqs_circuit_output_node(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->nl->n_outputs) return -1;
    return eqs_netlist_node_find(c->nl, c->nl->outputs[k]);
}
