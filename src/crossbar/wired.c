/*
 * wired.c: detection of layered networks whose crossbars have wire
 * resistance (docs/solver.md, "Wire resistance").
 *
 * A crossbar with rwire > 0 is expanded into devices between internal
 * nodes and chains of wire segments (netlist/crossbar.c), so the ordinary
 * layer rules (layers.c: every resistor joins consecutive layers) fail on
 * it.  The layered solver instead works on the crossbar's terminals (its
 * row and column line nodes) and reduces each wired crossbar onto them
 * (solver/layered_wire.inc).  Rules, on the compiled circuit:
 *   - no branch currents, controlled or current sources, no internal nodes
 *     (diode RS); every resistor is a device or a wire segment of a wired
 *     crossbar, with a positive conductance;
 *   - layer 0 = the fixed terminal nodes; a crossbar whose row nodes all
 *     lie in layer l - 1 puts its column nodes in layer l (all free);
 *     every free node that is not internal to a crossbar is in a layer;
 *   - internal nodes touch nothing but their crossbar's devices and wires;
 *   - diodes join a free terminal node and a fixed node;
 *   - outputs are single free nodes of the last layer (no output pairs).
 */
#include "crossbar.h"

#include "../devices/devices.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (!why || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

static const char *elem_name(const eqs_circuit *c, int e)
{
    int o = c->elems[e].origin;
    return o >= 0 ? c->nl->elems[o].name : "(implicit)";
}

static int fixed(const eqs_circuit *c, int node) { return c->node_unknown[node] < 0; }

eqs_status eqs_layers_detect_wired(eqs_ctx *ctx, const eqs_circuit *c, eqs_layers **out,
                                   char *why, size_t why_len)
{
    *out = NULL;
    if (why && why_len) why[0] = '\0';
    const eqs_netlist *nl = c->nl;
    const int nn = c->n_user_nodes, nx = nl->n_crossbars;
    int any = 0;
    for (int x = 0; x < nx; ++x) any |= nl->crossbars[x].rwire_ohm > 0;
    if (!any) {
        say(why, why_len, "no crossbar with wire resistance");
        return EQS_OK;
    }
    if (c->n_internal > 0) {
        say(why, why_len, "a diode has a series resistance (RS > 0)");
        return EQS_OK;
    }
    eqs_status st = EQS_ERR_NOMEM;
    eqs_layers *L = eqs_calloc(ctx, 1, sizeof *L);
    unsigned char *in_x = eqs_calloc(ctx, (size_t)(c->n_elems ? c->n_elems : 1), 1);
    int *owner = eqs_malloc(ctx, (size_t)nn * sizeof *owner); /* internal node -> crossbar */
    if (!L || !in_x || !owner) goto fail;
    L->wired = 1;
    L->layer_of = eqs_malloc(ctx, (size_t)nn * sizeof *L->layer_of);
    L->index_of = eqs_malloc(ctx, (size_t)nn * sizeof *L->index_of);
    L->adj_off = eqs_calloc(ctx, (size_t)nn + 1, sizeof *L->adj_off);
    L->adj_node = eqs_malloc(ctx, sizeof *L->adj_node);
    L->adj_elem = eqs_malloc(ctx, sizeof *L->adj_elem);
    L->dio_off = eqs_calloc(ctx, (size_t)nn + 1, sizeof *L->dio_off);
    L->node = eqs_malloc(ctx, (size_t)(nn + 1) * sizeof *L->node);
    L->off = eqs_calloc(ctx, (size_t)nn + 2, sizeof *L->off);
    if (!L->layer_of || !L->index_of || !L->adj_off || !L->adj_node || !L->adj_elem ||
        !L->dio_off || !L->node || !L->off)
        goto fail;
    st = EQS_OK;
    int ok = 1;
    for (int i = 0; i < nn; ++i) owner[i] = -1, L->layer_of[i] = -1, L->index_of[i] = -1;
    /* the wired crossbars: their elements and internal nodes */
    for (int x = 0; x < nx && ok; ++x) {
        const eqs_crossbar *X = &nl->crossbars[x];
        if (!(X->rwire_ohm > 0)) {
            say(why, why_len, "crossbar '%s' has ideal wires beside wired crossbars", X->name);
            ok = 0;
            break;
        }
        const int nd = X->rows * X->cols;
        for (int d = 0; d < nd; ++d) {
            const eqs_celem *e = &c->elems[X->first_elem + d];
            in_x[X->first_elem + d] = 1;
            for (int t = 0; t < 2; ++t) owner[e->n[t]] = x;
        }
        for (int w = 0; w < X->n_wire; ++w) in_x[X->first_wire + w] = 1;
    }
    for (int x = 0; x < nx && ok; ++x) {
        const eqs_crossbar *X = &nl->crossbars[x];
        for (int k = 0; k < X->rows + X->cols && ok; ++k) {
            int node = k < X->rows ? X->row_node[k] : X->col_node[k - X->rows];
            if (owner[node] >= 0) {
                say(why, why_len, "node '%s' of crossbar '%s' is inside crossbar '%s'",
                    c->node_names[node], X->name, nl->crossbars[owner[node]].name);
                ok = 0;
            }
        }
    }
    /* every other element: diodes free-fixed, grounded voltage sources */
    int n_d = 0;
    for (int e = 0; e < c->n_elems && ok; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        unsigned fl = dev ? dev->flags : 0u;
        if (in_x[e]) {
            if (!(eqs_celem_value(c, ce) > 0)) {
                say(why, why_len, "'%s' has a conductance that is not positive",
                    elem_name(c, e));
                ok = 0;
            }
            continue;
        }
        if (dev && (fl & EQS_DEV_TRAINABLE)) {
            say(why, why_len, "resistor '%s' is outside the wired crossbars", elem_name(c, e));
            ok = 0;
        } else if (dev && dev->nonlinear) {
            int f0 = fixed(c, ce->n[0]), f1 = fixed(c, ce->n[1]);
            int fr = f0 ? ce->n[1] : ce->n[0];
            if (f0 == f1 || owner[fr] >= 0) {
                say(why, why_len, "diode '%s' must join a free terminal node and a fixed node",
                    elem_name(c, e));
                ok = 0;
            } else {
                L->dio_off[fr + 1]++;
                n_d++;
            }
        } else if ((fl & EQS_DEV_SOURCE) && (fl & EQS_DEV_VOLTAGE)) {
            if (ce->branch >= 0) {
                say(why, why_len, "voltage source '%s' is floating or controls a source",
                    elem_name(c, e));
                ok = 0;
            }
        } else {
            say(why, why_len, "element '%s' is not supported with wired crossbars",
                elem_name(c, e));
            ok = 0;
        }
    }
    if (!ok) goto fail;
    L->dio_elem = eqs_malloc(ctx, (size_t)(n_d + 1) * sizeof *L->dio_elem);
    if (!L->dio_elem) {
        st = EQS_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < nn; ++i) L->dio_off[i + 1] += L->dio_off[i];
    for (int i = 0; i < nn; ++i) L->index_of[i] = L->dio_off[i];
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *ce = &c->elems[e];
        const eqs_device *dev = eqs_device_get(ce->kind);
        if (in_x[e] || !dev || !dev->nonlinear) continue;
        int fr = fixed(c, ce->n[0]) ? ce->n[1] : ce->n[0];
        L->dio_elem[L->index_of[fr]++] = e;
    }
    for (int i = 0; i < nn; ++i) L->index_of[i] = -1;
    /* layers: fixed terminals 0, then crossbar by crossbar */
    for (int x = 0; x < nx; ++x) {
        const eqs_crossbar *X = &nl->crossbars[x];
        for (int k = 0; k < X->rows + X->cols; ++k) {
            int node = k < X->rows ? X->row_node[k] : X->col_node[k - X->rows];
            if (fixed(c, node)) L->layer_of[node] = 0;
        }
    }
    for (int changed = 1; changed && ok;) {
        changed = 0;
        for (int x = 0; x < nx && ok; ++x) {
            const eqs_crossbar *X = &nl->crossbars[x];
            int lr = L->layer_of[X->row_node[0]];
            if (lr < 0 || L->layer_of[X->col_node[0]] >= 0) continue;
            for (int k = 0; k < X->rows; ++k)
                if (L->layer_of[X->row_node[k]] != lr) lr = -1;
            if (lr < 0) continue;
            for (int k = 0; k < X->cols && ok; ++k) {
                int node = X->col_node[k];
                if (fixed(c, node) || L->layer_of[node] >= 0) {
                    say(why, why_len, "column node '%s' of crossbar '%s' is %s",
                        c->node_names[node], X->name,
                        fixed(c, node) ? "fixed" : "in another layer already");
                    ok = 0;
                } else {
                    L->layer_of[node] = lr + 1;
                    changed = 1;
                }
            }
        }
    }
    int n_layers = 1;
    for (int x = 0; x < nx && ok; ++x) { /* every crossbar between consecutive layers */
        const eqs_crossbar *X = &nl->crossbars[x];
        int lr = L->layer_of[X->row_node[0]], lc = L->layer_of[X->col_node[0]];
        for (int k = 0; k < X->rows + X->cols && ok; ++k) {
            int node = k < X->rows ? X->row_node[k] : X->col_node[k - X->rows];
            int want = k < X->rows ? lr : lc;
            if (want < 0 || L->layer_of[node] != want || lc != lr + 1) {
                say(why, why_len, "crossbar '%s' does not join two consecutive layers (node '%s')",
                    X->name, c->node_names[node]);
                ok = 0;
            }
        }
        if (lc + 1 > n_layers) n_layers = lc + 1;
    }
    for (int i = 0; i < nn && ok; ++i)
        if (!fixed(c, i) && owner[i] < 0 && L->layer_of[i] < 0) {
            say(why, why_len, "node '%s' is not a terminal of a wired crossbar", c->node_names[i]);
            ok = 0;
        }
    if (ok && n_layers < 2) {
        say(why, why_len, "no free node");
        ok = 0;
    }
    if (ok && nl->output_pairs) {
        say(why, why_len, "output pairs with wired crossbars");
        ok = 0;
    }
    for (int k = 0; k < eqs_circuit_output_count(c) && ok; ++k) {
        int o = eqs_circuit_output_node(c, k);
        if (o < 0 || fixed(c, o)) continue;
        if (L->layer_of[o] != n_layers - 1) {
            say(why, why_len, "output node '%s' is not in the last layer", c->node_names[o]);
            ok = 0;
        }
    }
    if (!ok) goto fail;
    /* layer lists in the crossbars' line order (rows of layer 0, columns) */
    L->n_layers = n_layers;
    for (int i = 0; i < nn; ++i)
        if (L->layer_of[i] >= 0) L->off[L->layer_of[i] + 1]++;
    for (int l = 0; l < n_layers; ++l) L->off[l + 1] += L->off[l];
    int *cur = eqs_malloc(ctx, (size_t)n_layers * sizeof *cur);
    if (!cur) {
        st = EQS_ERR_NOMEM;
        goto fail;
    }
    for (int l = 0; l < n_layers; ++l) cur[l] = L->off[l];
    for (int x = 0; x < nx; ++x) { /* placed in the order first met */
        const eqs_crossbar *X = &nl->crossbars[x];
        for (int k = 0; k < X->rows + X->cols; ++k) {
            int node = k < X->rows ? X->row_node[k] : X->col_node[k - X->rows];
            int l = L->layer_of[node];
            if (L->index_of[node] >= 0) continue;
            L->index_of[node] = cur[l] - L->off[l];
            L->node[cur[l]++] = node;
        }
    }
    eqs_free(ctx, cur);
    L->dense = 0;
    eqs_free(ctx, in_x);
    eqs_free(ctx, owner);
    *out = L;
    return EQS_OK;
fail:
    eqs_free(ctx, in_x);
    eqs_free(ctx, owner);
    eqs_layers_free(ctx, &L);
    return st;
}
