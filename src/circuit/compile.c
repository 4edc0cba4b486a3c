/*
 * compile.c: the circuit compiler (netlist -> nodes, unknowns, pattern,
 * slots).  See circuit.h for the data layout and docs/solver.md for the
 * rules (node elimination, CHOLMOD vs KLU, topology checks).
 *
 * Everything is O(elements + nodes) apart from one binary search per
 * stamp: the compressed-column pattern is built with two counting sorts
 * (by row, then stably by column), so rows come out sorted per column and
 * duplicates are adjacent.
 */
#include "circuit.h"

#include "../devices/devices.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------ */


static const char *kind_word(eqs_elem_kind k)
{
    const eqs_device *dev = eqs_device_get(k);
    return dev ? dev->name : "element";
}

/* The device flags (EQS_DEV_*) of an element kind, 0 for an invalid one. */
#define VSOURCE (EQS_DEV_SOURCE | EQS_DEV_VOLTAGE) /* both: an independent voltage source */
static unsigned kind_flags(eqs_elem_kind k)
{
    const eqs_device *dev = eqs_device_get(k);
    return dev ? dev->flags : 0u;
}

static int uf_find(int *parent, int x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Returns 0 if a and b were already in the same set. */
static int uf_union(int *parent, int a, int b)
{
    int ra = uf_find(parent, a), rb = uf_find(parent, b);
    if (ra == rb) return 0;
    if (ra < rb) parent[rb] = ra; /* keep ground (0) as the root */
    else parent[ra] = rb;
    return 1;
}

/* ---- stamps ------------------------------------------------------- */

/* The (row, col) unknown pairs of element e, in slot order (its device's
 * `slots`, layouts in devices.h); -1 when eliminated.  Returns the number
 * of slots. */
static int stamp_list(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    const eqs_device *dev = eqs_device_get(e->kind);
    return dev->slots ? dev->slots(c, e, rows, cols) : 0;
}

static int find_slot(const eqs_circuit *c, int row, int col);

int eqs_circuit_find_slot(const eqs_circuit *c, int row, int col)
{
    if (c->reciprocal && row < col) {
        int t = row;
        row = col;
        col = t;
    }
    return find_slot(c, row, col);
}

/* Coupling (row, col) of output pair k (.output_pair): the unknowns of its
 * two nodes, or -1.  The nudge of a differential output is a conductance
 * between them (docs/eqprop.md), so both off-diagonal entries are in the
 * pattern whenever both nodes are free. */
static int pair_stamps(const eqs_circuit *c, int k, int *rows, int *cols)
{
    const eqs_netlist *nl = c->nl;
    int p = eqs_netlist_node_find(nl, nl->outputs[2 * k]);
    int q = eqs_netlist_node_find(nl, nl->outputs[2 * k + 1]);
    int up = p < 0 ? -1 : c->node_unknown[p], uq = q < 0 ? -1 : c->node_unknown[q];
    rows[0] = up;
    cols[0] = uq;
    rows[1] = uq;
    cols[1] = up;
    return 2;
}

static int n_pairs_of(const eqs_circuit *c)
{
    return c->nl->output_pairs ? c->nl->n_outputs / 2 : 0;
}


static int find_slot(const eqs_circuit *c, int row, int col)
{
    if (row < 0 || col < 0) return -1;
    int lo = c->Ap[col], hi = c->Ap[col + 1] - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (c->Ai[mid] == row) return mid;
        if (c->Ai[mid] < row) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* One stamp (row, col) of the pattern: counted into rp (rc == NULL) or
 * written as a row-major column index (rc, cnt).  Reciprocal: lower
 * triangle only.  MNA: the transposed entry (col, row) is added too, so
 * that the pattern is structurally symmetric (explicit zeros are fine for
 * KLU): non-conservative EqProp (ncep) adds the antisymmetric part
 * -(J0 - J0^T) of the Jacobian, which lives on both (i,j) and (j,i). */
static void pattern_entry(const eqs_circuit *c, int row, int col, int *rp, int *rc, int *cnt)
{
    if (row < 0 || col < 0 || (c->reciprocal && row < col)) return;
    for (int t = 0; t < (!c->reciprocal && row != col ? 2 : 1); ++t) {
        int r = t ? col : row, k = t ? row : col;
        if (rc) rc[cnt[r]++] = k;
        else rp[r + 1]++;
    }
}

/* Build Ap/Ai (deduplicated, rows sorted) from all stamps plus every node
 * diagonal, then the slots of every element. */
static eqs_status build_pattern(eqs_circuit *c)
{
    eqs_ctx *ctx = c->ctx;
    const int n = c->n_unknowns;
    int rows[EQS_MAX_SLOTS], cols[EQS_MAX_SLOTS];
    eqs_status st = EQS_ERR_NOMEM;
    int *rp = NULL, *rc = NULL, *cnt = NULL;

    /* pass 1: count entries per row */
    rp = eqs_calloc(ctx, (size_t)n + 1, sizeof *rp);
    cnt = eqs_calloc(ctx, (size_t)n + 1, sizeof *cnt);
    if (!rp || !cnt) goto done;
    for (int i = 0; i < c->n_node_unknowns; ++i) rp[i + 1]++;
    for (int e = 0; e < c->n_elems; ++e) {
        int ns = stamp_list(c, &c->elems[e], rows, cols);
        for (int s = 0; s < ns; ++s)
            pattern_entry(c, rows[s], cols[s], rp, NULL, NULL);
    }
    for (int k = 0; k < n_pairs_of(c); ++k) {
        int ns = pair_stamps(c, k, rows, cols);
        for (int s = 0; s < ns; ++s)
            pattern_entry(c, rows[s], cols[s], rp, NULL, NULL);
    }
    for (int i = 0; i < n; ++i) rp[i + 1] += rp[i];
    size_t total = (size_t)rp[n];
    rc = eqs_malloc(ctx, (total ? total : 1) * sizeof *rc);
    if (!rc) goto done;
    /* pass 2: fill row-major column indices */
    memcpy(cnt, rp, (size_t)n * sizeof *cnt);
    for (int i = 0; i < c->n_node_unknowns; ++i) rc[cnt[i]++] = i;
    for (int e = 0; e < c->n_elems; ++e) {
        int ns = stamp_list(c, &c->elems[e], rows, cols);
        for (int s = 0; s < ns; ++s)
            pattern_entry(c, rows[s], cols[s], NULL, rc, cnt);
    }
    for (int k = 0; k < n_pairs_of(c); ++k) {
        int ns = pair_stamps(c, k, rows, cols);
        for (int s = 0; s < ns; ++s)
            pattern_entry(c, rows[s], cols[s], NULL, rc, cnt);
    }
    /* column-major, stable in row order -> rows sorted per column */
    c->Ap = eqs_calloc(ctx, (size_t)n + 1, sizeof *c->Ap);
    if (!c->Ap) goto done;
    for (size_t q = 0; q < total; ++q) c->Ap[rc[q] + 1]++;
    for (int j = 0; j < n; ++j) c->Ap[j + 1] += c->Ap[j];
    int *ai = eqs_malloc(ctx, (total ? total : 1) * sizeof *ai);
    if (!ai) goto done;
    memcpy(cnt, c->Ap, (size_t)n * sizeof *cnt);
    for (int i = 0; i < n; ++i)
        for (int q = rp[i]; q < rp[i + 1]; ++q) ai[cnt[rc[q]]++] = i;
    /* merge duplicates in place */
    int w = 0;
    for (int j = 0; j < n; ++j) {
        int start = c->Ap[j], end = c->Ap[j + 1];
        c->Ap[j] = w;
        for (int q = start; q < end; ++q)
            if (q == start || ai[q] != ai[q - 1]) ai[w++] = ai[q];
    }
    c->Ap[n] = w;
    c->nnz = w;
    c->Ai = eqs_realloc(ctx, ai, (size_t)(w ? w : 1) * sizeof *ai);
    if (!c->Ai) {
        eqs_free(ctx, ai);
        goto done;
    }
    st = EQS_OK; /* the slots: eqs_circuit_slots, when a Newton solver needs them */
done:
    eqs_free(ctx, rp);
    eqs_free(ctx, rc);
    eqs_free(ctx, cnt);
    return st;
}

eqs_status eqs_circuit_slots(eqs_circuit *c)
{
    if (c->slots) return EQS_OK;
    const size_t n = (size_t)(c->n_elems ? c->n_elems : 1) * EQS_MAX_SLOTS;
    int *sl = eqs_malloc(c->ctx, n * sizeof *sl);
    if (!sl) return EQS_ERR_NOMEM;
    int rows[EQS_MAX_SLOTS], cols[EQS_MAX_SLOTS];
    for (int e = 0; e < c->n_elems; ++e) {
        eqs_celem *el = &c->elems[e];
        el->slot = sl + (size_t)e * EQS_MAX_SLOTS;
        int ns = stamp_list(c, el, rows, cols);
        for (int s = 0; s < EQS_MAX_SLOTS; ++s) el->slot[s] = -1;
        for (int s = 0; s < ns; ++s) el->slot[s] = find_slot(c, rows[s], cols[s]);
    }
    c->slots = sl;
    return EQS_OK;
}

/* ---- trainable parameters ----------------------------------------- */

/* Every declared crossbar (.crossbar card) whose devices are all trainable
 * becomes a block of the store, rows x columns as declared. */
static eqs_status declared_blocks(eqs_circuit *c)
{
    const eqs_netlist *nl = c->nl;
    for (int x = 0; x < nl->n_crossbars; ++x) {
        const eqs_crossbar *X = &nl->crossbars[x];
        const size_t n = (size_t)X->rows * (size_t)X->cols;
        int *pk = eqs_malloc(c->ctx, (n ? n : 1) * sizeof *pk);
        if (!pk) return EQS_ERR_NOMEM;
        size_t e = 0;
        while (e < n && (pk[e] = c->elems[X->first_elem + (int)e].param) >= 0) ++e;
        int b;
        eqs_status st = e == n && n > 0
                            ? eqs_store_block_make(c, EQS_BLOCK_CROSSBAR, X->name, X->rows,
                                                   X->cols, X->row_node, X->col_node, pk, 1, &b)
                            : EQS_OK;
        eqs_free(c->ctx, pk);
        if (st != EQS_OK) return st;
    }
    return EQS_OK;
}

static eqs_status select_params(eqs_circuit *c)
{
    const eqs_netlist *nl = c->nl;
    int n = 0;
    c->params = eqs_malloc(c->ctx, (size_t)(c->n_elems ? c->n_elems : 1) * sizeof *c->params);
    if (!c->params) return EQS_ERR_NOMEM;
    /* the wire segments of crossbars are wires, not devices: never trained */
    unsigned char *wire = eqs_calloc(c->ctx, (size_t)(nl->n_elems ? nl->n_elems : 1), 1);
    if (!wire) return EQS_ERR_NOMEM;
    for (int x = 0; x < nl->n_crossbars; ++x)
        for (int w = 0; w < nl->crossbars[x].n_wire; ++w)
            wire[nl->crossbars[x].first_wire + w] = 1;
    for (int e = 0; e < c->n_elems; ++e) {
        eqs_celem *el = &c->elems[e];
        el->param = -1;
        if (!(kind_flags(el->kind) & EQS_DEV_TRAINABLE) || el->origin < 0 || wire[el->origin])
            continue;
        int take = nl->n_trainable == 0;
        for (int p = 0; p < nl->n_trainable && !take; ++p)
            take = eqs_glob_match(nl->trainable[p], nl->elems[el->origin].name);
        if (take) {
            el->param = n;
            c->params[n++] = e;
            if (nl->elems[el->origin].dmodel) c->has_windows = 1;
        }
    }
    /* memristors with a nonlinear I-V: the a of their parameter */
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *el = &c->elems[e];
        if (el->kind != EQS_EL_MEMIV || c->elems[el->ctrl].param < 0) continue;
        if (!c->param_aiv && !(c->param_aiv = eqs_calloc(c->ctx, (size_t)(n > 0 ? n : 1),
                                                         sizeof *c->param_aiv))) {
            eqs_free(c->ctx, wire);
            return EQS_ERR_NOMEM;
        }
        c->param_aiv[c->elems[el->ctrl].param] = el->value;
    }
    eqs_free(c->ctx, wire);
    c->n_params = n;
    for (int p = 0; p < nl->n_trainable; ++p) {
        int any = 0;
        for (int e = 0; e < nl->n_elems; ++e) {
            if (!eqs_glob_match(nl->trainable[p], nl->elems[e].name)) continue;
            if (kind_flags(nl->elems[e].kind) & EQS_DEV_TRAINABLE) {
                any = 1;
                continue;
            }
            eqs_warn_at(c->ctx, nl->trainable_loc ? nl->trainable_loc[p] : EQS_NOLOC,
                        "trainable pattern '%s' matches %s '%s'; only resistors are trainable",
                        nl->trainable[p], kind_word(nl->elems[e].kind), nl->elems[e].name);
            any = 1;
            break;
        }
        if (!any)
            eqs_warn_at(c->ctx, nl->trainable_loc ? nl->trainable_loc[p] : EQS_NOLOC,
                        "trainable pattern '%s' matches no element", nl->trainable[p]);
    }
    return EQS_OK;
}

/* ---- the compiler ------------------------------------------------- */

eqs_status eqs_circuit_create(eqs_ctx *ctx, const eqs_netlist *nl, eqs_circuit **out)
{
    *out = NULL;
    eqs_status st = EQS_ERR_NOMEM;
    int *parent = NULL, *first_elem = NULL;
    char *needs_branch = NULL;

    if (nl->n_elems == 0) {
        /* nothing to solve; libngspice 39 even crashes on a deck without
         * elements (docs/ngspice.md) */
        eqs_loc loc = {nl->path ? nl->path : "<netlist>", 1, 1};
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc,
                            "nothing to simulate: the netlist has no element at the top level "
                            "(only a title, models, parameters or .subckt definitions; "
                            "instantiate a subcircuit with an X card)");
    }
    if (nl->n_nodes <= 1) /* libngspice 39 crashes on a deck without any vector, too */
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, nl->elems[0].loc,
                            "nothing to simulate: every element of the netlist has all its "
                            "terminals on ground (node 0)");
    eqs_circuit *c = eqs_calloc(ctx, 1, sizeof *c);
    if (!c) return EQS_ERR_NOMEM;
    c->ctx = ctx;
    c->nl = nl;
    c->n_user_nodes = nl->n_nodes;

    /* element checks in netlist order; count internal nodes (each with
     * its implicit element) and the implicit I-V elements of memristors */
    int n_int = 0, n_memiv = 0;
    for (int e = 0; e < nl->n_elems; ++e) {
        const eqs_element *el = &nl->elems[e];
        for (int t = 0; t < el->n_nodes; ++t)
            if (el->node[t] < 0 || el->node[t] >= nl->n_nodes) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INTERNAL, el->loc, "%s '%s' has an invalid node",
                                  kind_word(el->kind), el->name);
                goto fail;
            }
        const eqs_device *dev = eqs_device_get(el->kind);
        if (!dev || !dev->check) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INTERNAL, el->loc, "element '%s' has unknown kind %d",
                              el->name, (int)el->kind);
            goto fail;
        }
        if ((st = dev->check(ctx, nl, el, &n_int)) != EQS_OK) goto fail;
        if (el->kind == EQS_EL_R && el->dmodel &&
            eqs_memristor_aiv(nl->dmodels[el->dmodel - 1].v) > 0)
            n_memiv++; /* its nonlinear I-V part, an implicit element */
    }

    /* nodes */
    c->n_internal = n_int;
    c->n_nodes = nl->n_nodes + n_int;
    c->node_names = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof *c->node_names);
    c->node_user = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *c->node_user);
    c->node_unknown = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *c->node_unknown);
    c->node_fixed_by = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *c->node_fixed_by);
    c->node_fixed_sign = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof *c->node_fixed_sign);
    c->n_elems = nl->n_elems + n_int + n_memiv;
    c->has_nonlinear_iv = n_memiv > 0;
    c->elems = eqs_calloc(ctx, (size_t)(c->n_elems ? c->n_elems : 1), sizeof *c->elems);
    if (!c->node_names || !c->node_user || !c->node_unknown || !c->node_fixed_by ||
        !c->node_fixed_sign || !c->elems)
        goto fail;
    eqs_advise_huge(c->elems, (size_t)c->n_elems * sizeof *c->elems);
    for (int i = 0; i < c->n_nodes; ++i) {
        if (i < nl->n_nodes) c->node_names[i] = nl->node_names[i];
        c->node_user[i] = i;
        c->node_fixed_by[i] = -1;
    }

    /* elements: netlist elements keep their index; internal nodes and
     * implicit elements (a diode's RS) are appended by the device's expand */
    int next_int = nl->n_nodes, next_imp = nl->n_elems;
    for (int e = 0; e < nl->n_elems; ++e) {
        const eqs_element *el = &nl->elems[e];
        eqs_celem *ce = &c->elems[e];
        ce->kind = el->kind;
        ce->origin = e;
        for (int t = 0; t < 4; ++t) ce->n[t] = t < el->n_nodes ? el->node[t] : -1;
        ce->ctrl = -1;
        ce->branch = -1;
        ce->param = -1;
        /* conductance-valued devices (resistors) hold G = 1/R */
        ce->value = kind_flags(el->kind) & EQS_DEV_TRAINABLE ? 1.0 / el->value : el->value;
        const eqs_device *dev = eqs_device_get(el->kind);
        if (dev->expand && (st = dev->expand(c, el, ce, &next_int, &next_imp)) != EQS_OK)
            goto fail;
        if ((kind_flags(el->kind) & EQS_DEV_TRAINABLE) && el->value < 0)
            eqs_warn_at(ctx, el->loc,
                        "negative resistance %g Ohm in '%s'; the circuit is solved as "
                        "non-reciprocal (KLU)",
                        el->value, el->name);
    }

    /* controlling sources of F and H */
    needs_branch = eqs_calloc(ctx, (size_t)(nl->n_elems ? nl->n_elems : 1), 1);
    if (!needs_branch) goto fail;
    for (int e = 0; e < nl->n_elems; ++e) {
        const eqs_element *el = &nl->elems[e];
        if (!(kind_flags(el->kind) & EQS_DEV_CONTROLLED)) continue;
        int j = el->ctrl ? eqs_netlist_elem_find(nl, el->ctrl) : -1;
        if (j < 0) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                              "%s '%s': controlling source '%s' not found", kind_word(el->kind),
                              el->name, el->ctrl ? el->ctrl : "");
            goto fail;
        }
        if ((kind_flags(nl->elems[j].kind) & VSOURCE) != VSOURCE) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc,
                              "%s '%s': controlling source '%s' is not a voltage source",
                              kind_word(el->kind), el->name, el->ctrl);
            goto fail;
        }
        c->elems[e].ctrl = j;
        needs_branch[j] = 1;
    }
    for (int i = 0; i < nl->n_inputs; ++i) {
        int j = eqs_netlist_elem_find(nl, nl->inputs[i]);
        eqs_loc loc = nl->input_loc ? nl->input_loc[i] : EQS_NOLOC;
        if (j < 0 || (kind_flags(nl->elems[j].kind) & VSOURCE) != VSOURCE) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "'.input' names '%s', %s", nl->inputs[i],
                              j < 0 ? "which does not exist" : "which is not a voltage source");
            goto fail;
        }
    }

    /* loops of voltage-defined branches (V, E, H outputs) */
    parent = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *parent);
    if (!parent) goto fail;
    for (int i = 0; i < c->n_nodes; ++i) parent[i] = i;
    for (int e = 0; e < nl->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (!(kind_flags(ce->kind) & EQS_DEV_VOLTAGE)) continue;
        if (!uf_union(parent, ce->n[0], ce->n[1])) {
            const eqs_element *el = &nl->elems[e];
            st = EQS_ERROR_AT(ctx, EQS_ERR_TOPOLOGY, el->loc,
                              "%s '%s' between nodes '%s' and '%s' closes a loop of voltage "
                              "sources (V, E, H)",
                              kind_word(el->kind), el->name, nl->node_names[el->node[0]],
                              nl->node_names[el->node[1]]);
            goto fail;
        }
    }

    /* DC paths to ground: R, D, V, E, H (RS included) */
    for (int i = 0; i < c->n_nodes; ++i) parent[i] = i;
    first_elem = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *first_elem);
    if (!first_elem) goto fail;
    for (int i = 0; i < c->n_nodes; ++i) first_elem[i] = -1;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        for (int t = 0; t < 4; ++t)
            if (ce->n[t] >= 0 && first_elem[ce->n[t]] < 0) first_elem[ce->n[t]] = e;
        if (kind_flags(ce->kind) & EQS_DEV_DC_PATH) uf_union(parent, ce->n[0], ce->n[1]);
    }
    for (int i = 1; i < c->n_nodes; ++i) {
        if (uf_find(parent, i) == uf_find(parent, 0)) continue;
        int user = c->node_user[i];
        int fe = first_elem[user] >= 0 ? first_elem[user] : first_elem[i];
        if (fe >= 0 && c->elems[fe].origin < 0) fe = -1;
        if (fe >= 0) {
            const eqs_element *el = &nl->elems[c->elems[fe].origin];
            st = EQS_ERROR_AT(ctx, EQS_ERR_TOPOLOGY, el->loc,
                              "node '%s' has no DC path to ground (%s)", c->node_names[user],
                              el->name);
        } else {
            st = EQS_ERROR(ctx, EQS_ERR_TOPOLOGY, "node '%s' has no DC path to ground",
                           c->node_names[user]);
        }
        goto fail;
    }

    /* fixed nodes: grounded V sources that control no F/H */
    for (int e = 0; e < nl->n_elems; ++e) {
        eqs_celem *ce = &c->elems[e];
        if ((kind_flags(ce->kind) & VSOURCE) != VSOURCE || needs_branch[e]) continue;
        if (ce->n[1] == 0 && ce->n[0] != 0) {
            c->node_fixed_by[ce->n[0]] = e;
            c->node_fixed_sign[ce->n[0]] = 1.0;
        } else if (ce->n[0] == 0 && ce->n[1] != 0) {
            c->node_fixed_by[ce->n[1]] = e;
            c->node_fixed_sign[ce->n[1]] = -1.0;
        }
    }

    /* unknowns: free nodes, then branch currents */
    int nu = 0;
    c->node_unknown[0] = -1;
    for (int i = 1; i < c->n_nodes; ++i)
        c->node_unknown[i] = c->node_fixed_by[i] >= 0 ? -1 : nu++;
    c->n_node_unknowns = nu;
    c->reciprocal = 1;
    for (int e = 0; e < c->n_elems; ++e) {
        eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        const unsigned fl = dev->flags;
        int branch = 0;
        if ((fl & VSOURCE) == VSOURCE) /* floating, or controls an F/H */
            branch = ce->n[0] != 0 && ce->n[1] != 0 ? 1 : needs_branch[e];
        else if (fl & EQS_DEV_BRANCH)
            branch = 1;
        if (!(fl & EQS_DEV_RECIPROCAL)) c->reciprocal = 0;
        if ((fl & EQS_DEV_TRAINABLE) && ce->value < 0) c->reciprocal = 0; /* G < 0 */
        if (dev->nonlinear) c->has_nonlinear = 1;
        if (branch) {
            ce->branch = nu++;
            c->reciprocal = 0;
        }
    }
    c->n_unknowns = nu;
    c->n_branches = nu - c->n_node_unknowns;
    c->unknown_node = eqs_malloc(ctx, (size_t)(nu ? nu : 1) * sizeof *c->unknown_node);
    c->unknown_elem = eqs_malloc(ctx, (size_t)(nu ? nu : 1) * sizeof *c->unknown_elem);
    if (!c->unknown_node || !c->unknown_elem) goto fail;
    for (int i = 0; i < nu; ++i) c->unknown_node[i] = c->unknown_elem[i] = -1;
    for (int i = 0; i < c->n_nodes; ++i)
        if (c->node_unknown[i] >= 0) c->unknown_node[c->node_unknown[i]] = i;
    for (int e = 0; e < c->n_elems; ++e)
        if (c->elems[e].branch >= 0) c->unknown_elem[c->elems[e].branch] = e;

    if ((st = build_pattern(c)) != EQS_OK) goto fail;
    if ((st = select_params(c)) != EQS_OK) goto fail;
    if ((st = eqs_store_create(c)) != EQS_OK) goto fail;
    if ((st = declared_blocks(c)) != EQS_OK) goto fail;

    c->chg_cap = EQS_CIRCUIT_CHANGE_LOG;
    c->chg = eqs_malloc(ctx, (size_t)c->chg_cap * sizeof *c->chg);
    c->chg_val = eqs_malloc(ctx, (size_t)c->chg_cap * sizeof *c->chg_val);
    if (!c->chg || !c->chg_val) goto fail;
    c->ichg_cap = EQS_CIRCUIT_INPUT_LOG;
    c->ichg = eqs_malloc(ctx, (size_t)c->ichg_cap * sizeof *c->ichg);
    if (!c->ichg) goto fail;

    eqs_free(ctx, parent);
    eqs_free(ctx, first_elem);
    eqs_free(ctx, needs_branch);
    *out = c;
    return EQS_OK;
fail:
    if (st == EQS_OK) st = EQS_ERR_NOMEM;
    eqs_free(ctx, parent);
    eqs_free(ctx, first_elem);
    eqs_free(ctx, needs_branch);
    eqs_circuit_free(&c);
    return st;
}

void eqs_circuit_free(eqs_circuit **cp)
{
    if (!cp || !*cp) return;
    eqs_circuit *c = *cp;
    eqs_ctx *ctx = c->ctx;
    if (c->node_names)
        for (int i = c->n_user_nodes; i < c->n_nodes; ++i) eqs_free(ctx, c->node_names[i]);
    eqs_free(ctx, c->node_names);
    eqs_free(ctx, c->node_user);
    eqs_free(ctx, c->node_unknown);
    eqs_free(ctx, c->node_fixed_by);
    eqs_free(ctx, c->node_fixed_sign);
    eqs_free(ctx, c->unknown_node);
    eqs_free(ctx, c->unknown_elem);
    eqs_free(ctx, c->elems);
    eqs_free(ctx, c->Ap);
    eqs_free(ctx, c->Ai);
    eqs_free(ctx, c->slots);
    eqs_free(ctx, c->params);
    eqs_free(ctx, c->param_aiv);
    eqs_store_free(ctx, &c->store);
    eqs_free(ctx, c->chg);
    eqs_free(ctx, c->chg_val);
    eqs_free(ctx, c->ichg);
    eqs_free(ctx, c);
    *cp = NULL;
}

/* ---- accessors ---------------------------------------------------- */

int eqs_circuit_node_count(const eqs_circuit *c) { return c->n_user_nodes; }

const char *eqs_circuit_node_name(const eqs_circuit *c, int node)
{
    if (node < 0 || node >= c->n_nodes) return NULL;
    return c->node_names[node];
}

int eqs_circuit_node_find(const eqs_circuit *c, const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "gnd")) return 0;
    for (int i = 0; i < c->n_user_nodes; ++i)
        if (eqs_str_ieq(c->node_names[i], name)) return i;
    return -1;
}

int eqs_circuit_is_reciprocal(const eqs_circuit *c) { return c->reciprocal; }
int eqs_circuit_unknown_count(const eqs_circuit *c) { return c->n_unknowns; }
int eqs_circuit_param_count(const eqs_circuit *c) { return c->n_params; }

const char *eqs_circuit_param_name(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->n_params) return NULL;
    return c->nl->elems[c->elems[c->params[k]].origin].name;
}

double eqs_circuit_param_get(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->n_params) return NAN;
    return eqs_store_value(c->store, k);
}

/* A table-driven device's conductance clipped to the window its state can
 * reach (eqs_model_type.window): setting G sets the state x = R^-1(1/G),
 * clipped to [min(xon, xoff), max(xon, xoff)] for a memristor. */
static double param_window_clip(const eqs_circuit *c, int k, double g)
{
    const eqs_element *ne = &c->nl->elems[c->elems[c->params[k]].origin];
    if (!ne->dmodel) return g;
    const eqs_device_model *m = &c->nl->dmodels[ne->dmodel - 1];
    if (!m->type->window) return g;
    double lo, hi;
    m->type->window(m->v, &lo, &hi);
    return g < lo ? lo : g > hi ? hi : g;
}

eqs_status eqs_circuit_param_set(eqs_circuit *c, int k, double g)
{
    if (k < 0 || k >= c->n_params)
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT, "parameter index %d out of range (0..%d)", k,
                         c->n_params - 1);
    if (!isfinite(g) || g == 0)
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT,
                         "conductance of '%s' must be finite and non-zero (got %g S)",
                         eqs_circuit_param_name(c, k), g);
    if (g < 0 && c->reciprocal)
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT,
                         "conductance of '%s' must be positive in a reciprocal circuit "
                         "(got %g S)",
                         eqs_circuit_param_name(c, k), g);
    if (c->has_windows) g = param_window_clip(c, k, g);
    eqs_store_put(c->store, k, g);
    if (c->n_chg < c->chg_cap) {
        c->chg[c->n_chg] = k;
        c->chg_val[c->n_chg++] = eqs_store_value(c->store, k); /* as stored */
    } else {
        c->n_chg = 0;
        c->chg_epoch++;
    }
    return EQS_OK;
}

double eqs_circuit_momentum_get(const eqs_circuit *c, int k)
{
    if (k < 0 || k >= c->n_params) return NAN;
    return eqs_store_momentum(c->store, k);
}

eqs_status eqs_circuit_momentum_set(eqs_circuit *c, int k, double m)
{
    if (k < 0 || k >= c->n_params)
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT, "parameter index %d out of range (0..%d)", k,
                         c->n_params - 1);
    if (!isfinite(m))
        return EQS_ERROR(c->ctx, EQS_ERR_INPUT, "momentum of '%s' must be finite (got %g)",
                         eqs_circuit_param_name(c, k), m);
    eqs_store_put_momentum(c->store, k, m);
    return EQS_OK;
}

void eqs_circuit_params_changed(eqs_circuit *c)
{
    c->n_chg = 0;
    c->chg_epoch++;
}

void eqs_circuit_values_changed(eqs_circuit *c)
{
    c->n_chg = 0;
    c->chg_epoch++;
    c->n_ichg = 0;
    c->ichg_epoch++;
    c->values_epoch++;
}

void eqs_circuit_input_changed(eqs_circuit *c, int node)
{
    if (c->n_ichg < c->ichg_cap) {
        c->ichg[c->n_ichg++] = node;
    } else {
        c->n_ichg = 0;
        c->ichg_epoch++;
    }
}

/* ---- branch currents (eqs_solver_branch_currents, solver/currents.c) ---- */

int eqs_circuit_branch_count(const eqs_circuit *c)
{
    int n = 0;
    for (int e = 0; e < c->n_elems; ++e)
        n += (kind_flags(c->elems[e].kind) & EQS_DEV_VOLTAGE) != 0;
    return n;
}

const char *eqs_circuit_branch_name(const eqs_circuit *c, int k, char *buf, size_t size)
{
    if (!buf || size == 0) return NULL;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_device *dev = eqs_device_get(c->elems[e].kind);
        if (!dev || !(dev->flags & EQS_DEV_VOLTAGE)) continue;
        if (k-- > 0) continue;
        const char *name = c->nl->elems[c->elems[e].origin].name;
        char letter = dev->letter;
        /* ngspice names "x1.vs" "v.x1.vs" (the deck writer's convention) */
        if (name[0] == letter) /* names are lower case */
            snprintf(buf, size, "%s#branch", name);
        else
            snprintf(buf, size, "%c.%s#branch", letter, name);
        return buf;
    }
    return NULL;
}
