/* tn_netlist.h: build flattened netlists by hand in the circuit, devices
 * and solver tests (independent of the parser).  Memory is plain malloc,
 * released with tn_free (never eqs_netlist_free). */
#ifndef EQS_TN_NETLIST_H
#define EQS_TN_NETLIST_H

#include "netlist/netlist.h"

/* Fresh netlist with ground "0"; element i gets location tn.cir:(i+1):1. */
eqs_netlist *tn_new(eqs_ctx *ctx);
void tn_free(eqs_netlist **nl);
/* Node index of `name` (interned, lower case). */
int tn_node(eqs_netlist *nl, const char *name);
/* Two-terminal element (R: Ohm, V: V, I: A, F/H: gain with control). */
int tn_add(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
           double value);
/* Four-terminal element (E, G). */
int tn_add4(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
            const char *c, const char *d, double value);
/* F/H: two-terminal with controlling source name. */
int tn_addc(eqs_netlist *nl, eqs_elem_kind kind, const char *name, const char *a, const char *b,
            const char *ctrl, double value);
/* Two-terminal element by node indices (fast, for generated networks). */
int tn_add_idx(eqs_netlist *nl, eqs_elem_kind kind, const char *name, int a, int b,
               double value);
/* Append a node without checking for duplicates. */
int tn_node_new(eqs_netlist *nl, const char *name);
/* Diode model: defaults as ngspice (IS=1e-14, N=1, RS=0, no BV, IBV=1e-3). */
int tn_model(eqs_netlist *nl, const char *name, double is, double n, double rs);
/* Diode a->k with model index (may be out of range on purpose) and area. */
int tn_diode(eqs_netlist *nl, const char *name, const char *a, const char *k, int model,
             double area);
/* Add a .trainable pattern / .input name. */
void tn_trainable(eqs_netlist *nl, const char *pattern);
void tn_input(eqs_netlist *nl, const char *name);

#endif
