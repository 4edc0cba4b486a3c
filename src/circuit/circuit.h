/*
 * circuit.h: private header of the circuit module: the compiled topology.
 *
 * The compiler (compile.c) turns a flattened eqs_netlist into:
 *   - circuit nodes: the netlist's nodes (same indices, 0 = ground) followed
 *     by internal nodes (a diode with RS > 0 gets one: "<diode>#internal");
 *   - unknowns: free node voltages, then branch currents (MNA only);
 *     ground and nodes fixed by a grounded voltage source are eliminated;
 *   - the sparsity pattern of the Jacobian in compressed-column form, and
 *     for every element the positions ("slots") of its stamps in the value
 *     array, computed once per topology;
 *   - reciprocal = 1 when the reduced Jacobian is symmetric positive
 *     definite (only R > 0, D, I and grounded V): CHOLMOD, lower triangle
 *     stored (stype -1 in CHOLMOD terms).  Otherwise modified nodal
 *     analysis with the full pattern: KLU.
 *
 * A diode's series resistance RS is compiled into an implicit resistor
 * element (origin = -1, not trainable) from the anode to the internal node,
 * and the junction element then runs from the internal node to the cathode
 * (the diode's `expand`, devices/diode.c).
 *
 * Slot layouts (slot[i] = index into the value array, or -1 when the row or
 * the column is eliminated), as each device's `slots` lists them
 * (devices/devices.h).  a = n[0], b = n[1], c = n[2], d = n[3],
 * k = branch, kc = branch of the controlling source:
 *   R, D   : [0]=(a,a) [1]=(b,b) [2]=(a,b) [3]=(b,a)   (reciprocal: only the
 *            lower-triangle entry of the off-diagonal pair is stored, in
 *            slot[2]; slot[3] = -1)
 *   G      : [0]=(a,c) [1]=(a,d) [2]=(b,c) [3]=(b,d)
 *   V      : [0]=(a,k) [1]=(b,k) [2]=(k,a) [3]=(k,b)  (only when it has a branch)
 *   E      : as V, plus [4]=(k,c) [5]=(k,d)
 *   H      : as V, plus [4]=(k,kc)
 *   F      : [0]=(a,kc) [1]=(b,kc)
 *   I      : none
 * Residual convention: F(x)[row of node] = sum of currents LEAVING the node
 * through the elements; the Jacobian is dF/dx.
 */
#ifndef EQS_CIRCUIT_H
#define EQS_CIRCUIT_H

#include "../netlist/netlist.h"

/* Slots of the element with the most (E: 6). */
#define EQS_MAX_SLOTS 6

typedef struct eqs_store eqs_store;

typedef struct {
    eqs_elem_kind kind;
    int origin;     /* index into nl->elems, -1 for implicit elements */
    int n[4];       /* circuit node indices (-1 unused) */
    int ctrl;       /* F, H: index (into c->elems) of the controlling V */
    int branch;     /* unknown index of the branch current, -1 if none */
    int param;      /* index into c->params if trainable, else -1 */
    /* The element's slots (EQS_MAX_SLOTS of them, layouts above): its row
     * of c->slots, made by eqs_circuit_slots when a Newton solver is
     * created; NULL before.  Only Newton stamps through slots, so a
     * network trained on the layered path never has them: one element per
     * conductance of a crossbar is 72 bytes (it was 96 with the slots
     * inside, 3.7 GB of DRN-XL's 51.7 M). */
    int *slot;
    double value;   /* R: conductance G (S) = 1/R; V (V); I (A); gains.  A
                       parameter's value lives in the store: read every
                       element's value with eqs_celem_value */
    const eqs_diode_model *model; /* D only */
    double area;    /* D only */
} eqs_celem;

struct eqs_circuit {
    eqs_ctx *ctx;
    const eqs_netlist *nl;

    int n_nodes;        /* all circuit nodes, including ground and internal */
    int n_user_nodes;   /* = nl->n_nodes */
    char **node_names;  /* borrowed from nl for user nodes; owned for internal */

    int *node_unknown;  /* node -> unknown index, -1 for ground / fixed */
    int *node_fixed_by; /* node -> index (c->elems) of the grounded V fixing it, or -1 */
    double *node_fixed_sign; /* +1 if V(node) = +value of that source, -1 if -value */

    int n_unknowns;     /* node unknowns first, then branch currents */
    int n_node_unknowns;
    int *unknown_node;  /* unknown -> node, -1 for a branch current */
    int *unknown_elem;  /* unknown -> element owning the branch, -1 for nodes */

    int reciprocal;     /* 1: SPD reduced Jacobian (CHOLMOD), 0: MNA (KLU) */

    eqs_celem *elems;
    int n_elems;

    /* Jacobian pattern, compressed column, 0-based, row indices sorted
     * within each column.  Reciprocal: lower triangle (row >= col) only. */
    int *Ap;            /* n_unknowns + 1 */
    int *Ai;            /* nnz */
    int nnz;
    int *slots;         /* n_elems x EQS_MAX_SLOTS (eqs_celem.slot), NULL until
                           eqs_circuit_slots */

    int *params;        /* trainable elements: indices into elems */
    int n_params;
    double *param_aiv;  /* per parameter: a (1/V) of a memristor whose I-V is
                           G sinh(a v)/a (its EQS_EL_MEMIV element), 0: linear;
                           NULL when no parameter has one */
    int has_windows;    /* a parameter is a table-driven device (memristor)
                           whose conductance eqs_circuit_param_set clips to
                           the window of its state */

    int n_internal;     /* internal nodes (n_user_nodes .. n_nodes-1) */
    int *node_user;     /* node -> user node to name in messages (internal
                           node of a diode: its anode; user node: itself) */
    int has_nonlinear;  /* at least one diode */
    int has_nonlinear_iv; /* at least one memristor with a nonlinear I-V (EQS_EL_MEMIV) */
    int n_branches;     /* = n_unknowns - n_node_unknowns */

    /* Value change log, so that solvers update only what changed.
     * eqs_circuit_param_set appends the parameter index; when the log is
     * full it is emptied and `chg_epoch` increases, which tells every
     * solver to refresh all values.  A solver remembers (epoch, position)
     * of what it has consumed. */
    int *chg;
    double *chg_val;    /* the conductance set by each logged change (S) */
    int n_chg;
    int chg_cap;
    uint64_t chg_epoch;
    uint64_t values_epoch; /* bumped by eqs_circuit_values_changed: values
                              other than parameters may have changed */

    /* Input change log: eqs_circuit_input_set appends the node fixed by a
     * grounded (eliminated) source whose value it changed.  Same protocol
     * as `chg`: a solver remembers (ichg_epoch, position); when the log is
     * full it is emptied and `ichg_epoch` increases, and a solver then
     * compares the voltage of every fixed node with its cached one
     * (O(fixed nodes), no full refresh).  Entries carry no value: the
     * solver reads the source's current value and keeps the voltage it
     * last applied, so repeated entries are harmless.  A change of a
     * floating source (MNA branch) goes through eqs_circuit_values_changed
     * instead. */
    int *ichg;
    int n_ichg;
    int ichg_cap;
    uint64_t ichg_epoch;

    /* The parameter store (crossbar/crossbar.h): the values and update
     * state of every parameter, in blocks. */
    eqs_store *store;
};

/* Capacity of the value change log (entries); beyond it, solvers refresh
 * every value (a full pass over the elements). */
#define EQS_CIRCUIT_CHANGE_LOG 65536

/* Capacity of the input change log (entries); beyond it, solvers compare
 * every fixed node (cheap: one pass over the fixed nodes). */
#define EQS_CIRCUIT_INPUT_LOG 16384

/* Position of Jacobian entry (row, col) (unknown indices) in the value
 * array, or -1 if absent or either index is -1.  Reciprocal circuits store
 * the lower triangle only: (row, col) and (col, row) give the same slot.
 * The pattern includes the coupling of the two nodes of every output pair
 * (.output_pair) for the differential nudge. */
int eqs_circuit_find_slot(const eqs_circuit *c, int row, int col);

/* Give every element its slots (eqs_celem.slot) from the pattern, once
 * (later calls return at once); the Newton backend calls it at creation.
 * Allocates n_elems x EQS_MAX_SLOTS ints, owned by the circuit. */
eqs_status eqs_circuit_slots(eqs_circuit *c);

/* Record that the voltage of fixed node `node` (held by a grounded source)
 * changed; called by eqs_circuit_input_set after storing the new value. */
void eqs_circuit_input_changed(eqs_circuit *c, int node);

/* Tell solvers that element values other than through
 * eqs_circuit_param_set changed (e.g. a source value): full refresh. */
void eqs_circuit_values_changed(eqs_circuit *c);

/* Value (V) that a fixed node is held at, with sources scaled by `scale`
 * (1 normally, <1 during source stepping). */
static inline double eqs_circuit_fixed_voltage(const eqs_circuit *c, int node, double scale)
{
    int e = c->node_fixed_by[node];
    return e < 0 ? 0.0 : scale * c->node_fixed_sign[node] * c->elems[e].value;
}

/* Tell solvers that parameter values were written in place (a block
 * updated by the batched path): a full refresh of parameter values. */
void eqs_circuit_params_changed(eqs_circuit *c);

/* The parameter store and the layered structure (crossbar module). */
#include "../crossbar/crossbar.h"

/* gen_drn.c: eqs_drn_build with `name` as the netlist's path (messages). */
eqs_status eqs_drn_build_as(eqs_ctx *ctx, const eqs_drn_spec *spec, const char *name,
                            eqs_netlist **out);

#endif /* EQS_CIRCUIT_H */
