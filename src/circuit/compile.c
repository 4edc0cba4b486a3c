/* compile.c: STUB, replaced by the circuit compiler. */
#include "circuit.h"

eqs_status eqs_circuit_create(eqs_ctx *ctx, const eqs_netlist *nl, eqs_circuit **out)
{
    (void)nl;
    *out = NULL;
    return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED, "circuit compiler not implemented");
}
void eqs_circuit_free(eqs_circuit **c) { (void)c; }
int eqs_circuit_node_count(const eqs_circuit *c) { return c->n_user_nodes; }
const char *eqs_circuit_node_name(const eqs_circuit *c, int node) { return c->node_names[node]; }
int eqs_circuit_node_find(const eqs_circuit *c, const char *name) { (void)c; (void)name; return -1; }
int eqs_circuit_is_reciprocal(const eqs_circuit *c) { return c->reciprocal; }
int eqs_circuit_unknown_count(const eqs_circuit *c) { return c->n_unknowns; }
int eqs_circuit_param_count(const eqs_circuit *c) { return c->n_params; }
const char *eqs_circuit_param_name(const eqs_circuit *c, int k) { (void)c; (void)k; return ""; }
double eqs_circuit_param_get(const eqs_circuit *c, int k) { return c->elems[c->params[k]].value; }
eqs_status eqs_circuit_param_set(eqs_circuit *c, int k, double g) { (void)c; (void)k; (void)g; return EQS_ERR_UNSUPPORTED; }
