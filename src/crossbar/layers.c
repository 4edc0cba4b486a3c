/*
 * layers.c: detection of layered networks (docs/solver.md, "Layered
 * solver").
 *
 * Rules, checked on the compiled circuit (so the netlist's node order does
 * not matter):
 *   - no branch currents (floating or controlling voltage sources), no
 *     controlled sources, no current sources, no internal nodes (diode RS);
 *   - resistors with R > 0;
 *   - layer 0 = the fixed nodes (ground or held by a grounded source) that
 *     have a resistor to a free node; layer 1 = the free nodes with a
 *     resistor to an input node (a node held by a source of the .input
 *     cards; without .input cards: to any fixed node); layer l+1 = the free
 *     nodes reached from layer l by a resistor between free nodes (breadth
 *     first);
 *   - every resistor between two free nodes joins consecutive layers, every
 *     resistor from an input node ends in layer 1; a resistor from another
 *     fixed node (a bias rail: constant in every phase) may end in any
 *     layer; every free node is in a layer;
 *   - a diode joins a free node and a fixed node (ground or a grounded
 *     source, e.g. a bias in series);
 *   - output nodes are free nodes of the last layer.
 */
#include "crossbar.h"

#include "../devices/devices.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void eqs_layers_free(eqs_ctx *ctx, eqs_layers **pL)
{
    if (!pL || !*pL) return;
    eqs_layers *L = *pL;
    eqs_free(ctx, L->off);
    eqs_free(ctx, L->node);
    eqs_free(ctx, L->layer_of);
    eqs_free(ctx, L->index_of);
    eqs_free(ctx, L->adj_off);
    eqs_free(ctx, L->adj_node);
    eqs_free(ctx, L->adj_elem);
    eqs_free(ctx, L->dio_off);
    eqs_free(ctx, L->dio_elem);
    eqs_free(ctx, L);
    *pL = NULL;
}

static const char *elem_name(const eqs_circuit *c, int e)
{
    int o = c->elems[e].origin;
    return o >= 0 ? c->nl->elems[o].name : "(implicit)";
}

static int fixed(const eqs_circuit *c, int node) { return c->node_unknown[node] < 0; }

/* Roles of elements in a layered network, from the device table: a link
 * is a conductance (a resistor: a crossbar entry), a junction a nonlinear
 * two-terminal device (a diode: a unit's activation). */
static int is_link(const eqs_celem *ce)
{
    const eqs_device *d = eqs_device_get(ce->kind);
    return d && (d->flags & EQS_DEV_TRAINABLE);
}

static int is_junction(const eqs_celem *ce)
{
    const eqs_device *d = eqs_device_get(ce->kind);
    return d && d->nonlinear;
}

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (!why || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

/* Node lines of a declared crossbar spanning a whole layer: 1 when
 * nodes[0..n) are exactly the n nodes of one layer l (in *l). */
static int whole_layer(const eqs_layers *L, const int *nodes, int n, int *l)
{
    *l = L->layer_of[nodes[0]];
    if (*l < 0 || L->off[*l + 1] - L->off[*l] != n) return 0;
    for (int k = 1; k < n; ++k)
        if (L->layer_of[nodes[k]] != *l) return 0;
    return 1; /* n distinct nodes (a crossbar's lines are) of a layer of n */
}

/* Declared crossbars (.crossbar cards, blocks of the store) order the
 * layers they span: rows = layer l-1 and columns = layer l in the card's
 * order, so that the batched solver works on the block as declared.  A
 * layer keeps the first order given to it; other layers keep netlist
 * order. */
static void declared_order(const eqs_circuit *c, eqs_layers *L)
{
    const eqs_store *s = c->store;
    unsigned char set[256] = {0};
    for (int b = 0; b < s->n_blocks; ++b) {
        const eqs_block *B = &s->blocks[b];
        if (B->kind != EQS_BLOCK_CROSSBAR || !B->declared) continue;
        int lr, lc;
        if (!whole_layer(L, B->row_node, B->rows, &lr) ||
            !whole_layer(L, B->col_node, B->cols, &lc) || lc != lr + 1)
            continue;
        for (int t = 0; t < 2; ++t) {
            int l = t ? lc : lr, n = t ? B->cols : B->rows;
            const int *nodes = t ? B->col_node : B->row_node;
            if (l < 256 && set[l]) continue;
            if (l < 256) set[l] = 1;
            for (int k = 0; k < n; ++k) {
                L->node[L->off[l] + k] = nodes[k];
                L->index_of[nodes[k]] = k;
            }
        }
    }
}

/* Structural checks that need no adjacency; 1 when c may be layered. */
static int check_elements(const eqs_circuit *c, char *why, size_t n)
{
    if (c->param_aiv || c->has_nonlinear_iv) {
        /* I = G sinh(a v)/a: the layered sweeps take linear conductances */
        say(why, n, "memristors with a nonlinear I-V (aiv > 0) need Newton");
        return 0;
    }
    if (c->n_internal > 0) {
        say(why, n, "a diode has a series resistance (RS > 0)");
        return 0;
    }
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        unsigned fl = dev ? dev->flags : 0u;
        const char *what = dev ? dev->name : "element";
        if (is_link(ce)) {
            if (!(eqs_celem_value(c, ce) > 0)) {
                say(why, n, "%s '%s' has a negative resistance", what, elem_name(c, e));
                return 0;
            }
        } else if (is_junction(ce)) {
            if (fixed(c, ce->n[0]) == fixed(c, ce->n[1]) && !fixed(c, ce->n[0])) {
                say(why, n, "%s '%s' joins two free nodes ('%s', '%s')", what, elem_name(c, e),
                    c->node_names[ce->n[0]], c->node_names[ce->n[1]]);
                return 0;
            }
        } else if ((fl & EQS_DEV_SOURCE) && (fl & EQS_DEV_VOLTAGE)) {
            if (ce->branch >= 0) {
                say(why, n, "%s '%s' is floating (not grounded) or controls a "
                            "current-controlled source", what, elem_name(c, e));
                return 0;
            }
        } else if (fl & EQS_DEV_SOURCE) {
            say(why, n, "%s '%s' (not supported by the layered solver)", what, elem_name(c, e));
            return 0;
        } else {
            say(why, n, "controlled source '%s'", elem_name(c, e));
            return 0;
        }
    }
    return 1;
}

eqs_status eqs_layers_detect(eqs_ctx *ctx, const eqs_circuit *c, eqs_layers **out, char *why,
                             size_t why_len)
{
    *out = NULL;
    if (why && why_len) why[0] = '\0';
    if (!check_elements(c, why, why_len)) return EQS_OK;
    const int nn = c->n_user_nodes;
    eqs_layers *L = eqs_calloc(ctx, 1, sizeof *L);
    if (!L) return EQS_ERR_NOMEM;
    int n_d = 0;
    for (int e = 0; e < c->n_elems; ++e) {
        if (is_junction(&c->elems[e])) n_d++;
    }
    L->layer_of = eqs_malloc(ctx, (size_t)nn * sizeof *L->layer_of);
    L->index_of = eqs_malloc(ctx, (size_t)nn * sizeof *L->index_of);
    /* adjacency entries: one per resistor end at a free node */
    int n_a = 0;
    for (int e = 0; e < c->n_elems; ++e)
        if (is_link(&c->elems[e]))
            n_a += !fixed(c, c->elems[e].n[0]) + !fixed(c, c->elems[e].n[1]);
    L->adj_off = eqs_calloc(ctx, (size_t)nn + 1, sizeof *L->adj_off);
    L->adj_node = eqs_malloc(ctx, (size_t)(n_a + 1) * sizeof *L->adj_node);
    L->adj_elem = eqs_malloc(ctx, (size_t)(n_a + 1) * sizeof *L->adj_elem);
    L->dio_off = eqs_calloc(ctx, (size_t)nn + 1, sizeof *L->dio_off);
    L->dio_elem = eqs_malloc(ctx, (size_t)(n_d + 1) * sizeof *L->dio_elem);
    L->node = eqs_malloc(ctx, (size_t)(nn + 1) * sizeof *L->node);
    L->off = eqs_calloc(ctx, (size_t)nn + 2, sizeof *L->off);
    int *queue = eqs_malloc(ctx, (size_t)(nn + 1) * sizeof *queue);
    if (!L->layer_of || !L->index_of || !L->adj_off || !L->adj_node || !L->adj_elem ||
        !L->dio_off || !L->dio_elem || !L->node || !L->off || !queue) {
        eqs_free(ctx, queue);
        eqs_layers_free(ctx, &L);
        return EQS_ERR_NOMEM;
    }
    /* CSR adjacency of the free nodes: resistors (seen from each free end),
     * diodes.  Fixed nodes get no list: nothing reads one (the sweeps, the
     * adjoint and the batched set-up visit layers >= 1), and the first
     * crossbar's resistors all end at fixed input nodes (8 B per
     * conductance at DRN-XL's 51.4 M). */
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (is_link(ce)) {
            for (int t = 0; t < 2; ++t)
                if (!fixed(c, ce->n[t])) L->adj_off[ce->n[t] + 1]++;
        } else if (is_junction(ce)) {
            for (int t = 0; t < 2; ++t)
                if (!fixed(c, ce->n[t])) L->dio_off[ce->n[t] + 1]++;
        }
    }
    for (int i = 0; i < nn; ++i) {
        L->adj_off[i + 1] += L->adj_off[i];
        L->dio_off[i + 1] += L->dio_off[i];
    }
    for (int i = 0; i < nn; ++i) L->index_of[i] = L->adj_off[i]; /* fill cursors */
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (!is_link(ce)) continue;
        int a = ce->n[0], b = ce->n[1];
        if (!fixed(c, a)) L->adj_node[L->index_of[a]] = b, L->adj_elem[L->index_of[a]++] = e;
        if (!fixed(c, b)) L->adj_node[L->index_of[b]] = a, L->adj_elem[L->index_of[b]++] = e;
    }
    for (int i = 0; i < nn; ++i) L->index_of[i] = L->dio_off[i];
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (!is_junction(ce)) continue;
        for (int t = 0; t < 2; ++t)
            if (!fixed(c, ce->n[t])) L->dio_elem[L->index_of[ce->n[t]]++] = e;
    }

    /* input nodes: held by a source of the .input cards (index_of as a
     * temporary flag); without any, every fixed node seeds layer 1 */
    for (int i = 0; i < nn; ++i) L->index_of[i] = 0;
    int n_inputs = 0;
    for (int i = 0; i < nn; ++i) {
        int e = c->node_fixed_by[i];
        if (i == 0 || e < 0 || c->elems[e].origin < 0) continue;
        const char *src = c->nl->elems[c->elems[e].origin].name;
        for (int k = 0; k < eqs_circuit_input_count(c); ++k)
            if (!strcmp(eqs_circuit_input_name(c, k), src)) {
                L->index_of[i] = 1;
                n_inputs++;
                break;
            }
    }
    /* breadth-first layering */
    int ok = 1, nq = 0;
    for (int i = 0; i < nn; ++i) {
        L->layer_of[i] = -1;
        if (n_inputs == 0 && fixed(c, i)) L->index_of[i] = 1;
    }
    /* layer 0 (fixed nodes with a resistor to a free node) and layer 1
     * (free nodes with a resistor to an input), seen from the free ends;
     * the order of the seeds does not change the breadth-first layers */
    for (int j = 0; j < nn && ok; ++j) {
        if (fixed(c, j)) continue;
        for (int p = L->adj_off[j]; p < L->adj_off[j + 1]; ++p) {
            int i = L->adj_node[p];
            if (!fixed(c, i)) continue;
            L->layer_of[i] = 0;
            if (L->index_of[i] && L->layer_of[j] < 0) {
                L->layer_of[j] = 1;
                queue[nq++] = j;
            }
        }
    }
    /* breadth first from the seeds; then free nodes that only other fixed
     * nodes reach (a part of the circuit no input drives) seed layer 1 too */
    for (int pass = 0, q = 0; pass < 2; ++pass) {
        if (pass == 1)
            for (int i = 0; i < nn; ++i) {
                if (fixed(c, i) || L->layer_of[i] >= 0) continue;
                for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p)
                    if (fixed(c, L->adj_node[p])) {
                        L->layer_of[i] = 1;
                        queue[nq++] = i;
                        break;
                    }
            }
        for (; q < nq; ++q) {
            int i = queue[q];
            for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p) {
                int j = L->adj_node[p];
                if (fixed(c, j)) continue;
                if (L->layer_of[j] < 0) {
                    L->layer_of[j] = L->layer_of[i] + 1;
                    queue[nq++] = j;
                }
            }
        }
    }
    int n_layers = 1;
    for (int i = 0; i < nn && ok; ++i) {
        if (fixed(c, i)) continue;
        if (L->layer_of[i] < 0) {
            say(why, why_len, "node '%s' has no path of resistors to a source", c->node_names[i]);
            ok = 0;
        } else if (L->layer_of[i] + 1 > n_layers) {
            n_layers = L->layer_of[i] + 1;
        }
    }
    if (ok && n_layers < 2) {
        say(why, why_len, "no free node");
        ok = 0;
    }
    /* every resistor joins consecutive layers */
    for (int e = 0; e < c->n_elems && ok; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (!is_link(ce)) continue;
        int a = ce->n[0], b = ce->n[1];
        if (fixed(c, a) && fixed(c, b)) continue; /* no effect on free nodes */
        int la = L->layer_of[a], lb = L->layer_of[b];
        if ((fixed(c, a) && !L->index_of[a]) || (fixed(c, b) && !L->index_of[b]))
            continue; /* bias rail: a constant drive of any layer */
        if (la == lb || la - lb > 1 || lb - la > 1) {
            say(why, why_len,
                "resistor '%s' joins node '%s' (layer %d) and node '%s' (layer %d): resistors "
                "must join consecutive layers",
                elem_name(c, e), c->node_names[a], la, c->node_names[b], lb);
            ok = 0;
        }
    }
    /* outputs on the last layer */
    int no = eqs_circuit_output_count(c);
    for (int k = 0; k < no && ok; ++k) {
        int nd[2] = {eqs_circuit_output_node(c, k), eqs_circuit_output_neg(c, k)};
        for (int t = 0; t < 2 && ok; ++t) {
            if (nd[t] <= 0 && t == 1) continue;
            if (nd[t] < 0 || fixed(c, nd[t])) continue; /* reported by the eqprop module */
            if (L->layer_of[nd[t]] != n_layers - 1) {
                say(why, why_len, "output node '%s' is in layer %d, not in the last layer (%d)",
                    c->node_names[nd[t]], L->layer_of[nd[t]], n_layers - 1);
                ok = 0;
            } else if (c->nl->output_pairs && L->dio_off[nd[t] + 1] > L->dio_off[nd[t]]) {
                say(why, why_len, "output pair node '%s' has a diode", c->node_names[nd[t]]);
                ok = 0;
            }
        }
    }
    eqs_free(ctx, queue);
    if (!ok) {
        eqs_layers_free(ctx, &L);
        return EQS_OK;
    }
    for (int i = 0; i < nn; ++i) L->index_of[i] = -1;
    /* layer lists, netlist order within each layer (declared crossbars
     * then order theirs: declared_order) */
    L->n_layers = n_layers;
    for (int i = 0; i < nn; ++i)
        if (L->layer_of[i] >= 0) L->off[L->layer_of[i] + 1]++;
    for (int l = 0; l < n_layers; ++l) L->off[l + 1] += L->off[l];
    {
        int cur[64], *cu = cur, *heap = NULL;
        if (n_layers > 64) {
            heap = eqs_malloc(ctx, (size_t)n_layers * sizeof *heap);
            if (!heap) {
                eqs_layers_free(ctx, &L);
                return EQS_ERR_NOMEM;
            }
            cu = heap;
        }
        for (int l = 0; l < n_layers; ++l) cu[l] = L->off[l];
        for (int i = 0; i < nn; ++i) {
            int l = L->layer_of[i];
            if (l < 0) continue;
            L->index_of[i] = cu[l] - L->off[l];
            L->node[cu[l]++] = i;
        }
        eqs_free(ctx, heap);
    }
    declared_order(c, L);
    /* dense crossbars: one trainable resistor per pair of consecutive-layer
     * nodes, plus the rails of deeper layers (checked per layer by the
     * batched setup) */
    long long need = 0;
    for (int l = 1; l < n_layers; ++l)
        need += (long long)(L->off[l] - L->off[l - 1]) * (L->off[l + 1] - L->off[l]);
    for (int i = 0; i < nn; ++i)
        if (L->layer_of[i] >= 2)
            for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p)
                need += fixed(c, L->adj_node[p]);
    long long have = 0;
    int all_trainable = 1;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (!is_link(ce) || (fixed(c, ce->n[0]) && fixed(c, ce->n[1]))) continue;
        have++;
        if (ce->param < 0) all_trainable = 0;
    }
    /* equal counts and no parallel pair means every pair once: check pairs.
     * (Devices with a conductance window, memristors, are dense too: the
     * batched update clips each block to its devices' window.) */
    L->dense = all_trainable && have == need;
    for (int i = 0; i < nn && L->dense; ++i) {
        if (L->layer_of[i] < 1) continue;
        /* a free node of layer l must see every node of layers l-1 and l+1 once */
        int l = L->layer_of[i];
        int want = (L->off[l] - L->off[l - 1]) + (l + 1 < n_layers ? L->off[l + 2] - L->off[l + 1] : 0);
        if (l >= 2)
            for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p) want += fixed(c, L->adj_node[p]);
        if (L->adj_off[i + 1] - L->adj_off[i] != want) L->dense = 0;
    }
    *out = L;
    return EQS_OK;
}
