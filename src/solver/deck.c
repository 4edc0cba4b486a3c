/*
 * deck.c: write a compiled circuit back as an ngspice deck (one string per
 * line), used by the ngspice backend and reusable by export/.
 *
 * The deck is built from the circuit's *current* values (trained
 * conductances, input voltages), in netlist order, with netlist names:
 *
 *   <title>
 *   .options reltol=... abstol=... vntol=... gmin=... itl1=... [temp=...] [tnom=...]
 *   .model <name> D(is=... n=... rs=... [bv=...] ibv=... [tnom=...] [eg= xti= nbv=
 *                   tcv= tlev= trs= trs2=, those the model gave])
 *   r<name> a b <1/G>          (names not starting with the element's
 *   d<name> a k <model> area=<area> [temp=] [dtemp=]  letter become "<letter>.<name>",
 *   v<name> p m dc <V>          ngspice's own convention: r.x1.r1)
 *   i<name> p m dc <A>
 *   e<name> p m cp cm <gain>    g<name> p m cp cm <gm>
 *   f<name> p m <vctrl> <gain>  h<name> p m <vctrl> <r>
 *   [.op]
 *   .end
 *
 * Numbers are printed with %.17g so that they read back exactly.  Implicit
 * circuit elements (origin -1, e.g. a diode's RS) are not written: the
 * diode model carries RS and ngspice adds its own internal node.
 * Extension cards (.trainable, .input, .output) never reach ngspice.
 */
#include "solver.h"

#include "../devices/devices.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    eqs_ctx *ctx;
    char **lines;
    size_t n;
    size_t cap;
    FILE *out; /* non-NULL: each line is written to out (newline-terminated), not kept */
} deck_buf;

/* Append one printf-formatted line (the array stays NULL-terminated), or
 * write it to d->out. */
static eqs_status deck_add(deck_buf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static eqs_status deck_add(deck_buf *d, const char *fmt, ...)
{
    va_list ap;
    if (d->out) { /* write errors: the caller's ferror */
        va_start(ap, fmt);
        vfprintf(d->out, fmt, ap);
        va_end(ap);
        fputc('\n', d->out);
        return EQS_OK;
    }
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) return EQS_ERROR(d->ctx, EQS_ERR_INTERNAL, "deck: cannot format a line");
    if (eqs_grow(d->ctx, (void **)&d->lines, &d->cap, d->n + 2, sizeof *d->lines) != EQS_OK)
        return EQS_ERR_NOMEM;
    char *line = eqs_malloc(d->ctx, (size_t)len + 1);
    if (!line) return EQS_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(line, (size_t)len + 1, fmt, ap);
    va_end(ap);
    d->lines[d->n++] = line;
    d->lines[d->n] = NULL;
    return EQS_OK;
}


/* Append a line a device table writes (snprintf's contract, see
 * eqs_device.card): measured, then written into a grown buffer.  A
 * negative length is an element the device cannot write (internal). */
static eqs_status deck_add_written(deck_buf *d, char **buf, size_t *cap, int len,
                                   const char *what)
{
    if (len < 0) return EQS_ERROR(d->ctx, EQS_ERR_INTERNAL, "deck: cannot write %s", what);
    if (eqs_grow(d->ctx, (void **)buf, cap, (size_t)len + 1, 1) != EQS_OK) return EQS_ERR_NOMEM;
    return EQS_OK;
}

/* Element name as ngspice wants it: as-is when it starts with the letter of
 * its kind, else "<letter>.<name>" (x1.r1 -> r.x1.r1).  Writes into buf. */
static const char *ng_name(char *buf, size_t size, char letter, const char *name)
{
    char first = name[0];
    if (first >= 'A' && first <= 'Z') first = (char)(first - 'A' + 'a');
    if (first == letter) snprintf(buf, size, "%s", name);
    else snprintf(buf, size, "%c.%s", letter, name);
    return buf;
}

static const char *node_name(const eqs_netlist *nl, int node)
{
    if (node <= 0 || node >= nl->n_nodes) return "0";
    return nl->node_names[node];
}

void eqs_deck_free(eqs_ctx *ctx, char ***lines)
{
    if (!lines || !*lines) return;
    for (char **l = *lines; *l; ++l) eqs_free(ctx, *l);
    eqs_free(ctx, *lines);
    *lines = NULL;
}

eqs_status eqs_deck_build(eqs_ctx *ctx, const eqs_circuit *c, const eqs_solver_options *opt,
                          int with_op, char ***lines_out)
{
    return eqs_deck_build_nudged(ctx, c, opt, NULL, with_op, lines_out);
}

/* The deck into *lines_out, or with out != NULL its lines between the
 * title and ".end" written to out. */
static eqs_status deck_make(eqs_ctx *ctx, const eqs_circuit *c, const eqs_solver_options *opt,
                            const eqs_nudge *nu, int with_op, char ***lines_out, FILE *out)
{
    if (lines_out) *lines_out = NULL;
    const eqs_netlist *nl = c->nl;
    deck_buf d = {ctx, NULL, 0, 0, out};
    eqs_status st = EQS_OK;
    /* netlist element -> circuit element (the values that count are the
     * circuit's: trained conductances, driven inputs) */
    int *cel = NULL;
    char *model_used = NULL;
    size_t name_cap = 64;
    for (int i = 0; i < nl->n_elems; ++i) {
        size_t need = strlen(nl->elems[i].name) + 3;
        if (need > name_cap) name_cap = need;
        if (nl->elems[i].ctrl && strlen(nl->elems[i].ctrl) + 3 > name_cap)
            name_cap = strlen(nl->elems[i].ctrl) + 3;
    }
    char *name = NULL, *ctrl = NULL, *line = NULL;
    size_t line_cap = 0;

    if (nl->n_elems > 0) {
        cel = eqs_malloc(ctx, (size_t)nl->n_elems * sizeof *cel);
        if (!cel) goto nomem;
        for (int i = 0; i < nl->n_elems; ++i) cel[i] = -1;
        for (int j = 0; j < c->n_elems; ++j) {
            int o = c->elems[j].origin;
            if (o >= 0 && o < nl->n_elems && cel[o] < 0) cel[o] = j;
        }
    }
    if (nl->n_models > 0) {
        model_used = eqs_calloc(ctx, (size_t)nl->n_models, 1);
        if (!model_used) goto nomem;
    }
    name = eqs_malloc(ctx, name_cap);
    ctrl = eqs_malloc(ctx, name_cap);
    if (!name || !ctrl) goto nomem;

    const char *title = (nl->title && nl->title[0]) ? nl->title : "eqspice deck";
    if (!out && (st = deck_add(&d, "%s", title)) != EQS_OK) goto fail;
    {
        /* temperatures only when the netlist gave them (ngspice's defaults
         * are eqspice's: 27 C); a .temp card is written as temp= too */
        char temps[96] = "";
        const eqs_netlist_options *o = &nl->options;
        int k = 0;
        if (o->temp_set) k = snprintf(temps, sizeof temps, " temp=%.17g", o->temp_C);
        if (o->tnom_set)
            snprintf(temps + k, sizeof temps - (size_t)k, " tnom=%.17g", o->tnom_C);
        if ((st = deck_add(&d,
                           ".options reltol=%.17g abstol=%.17g vntol=%.17g gmin=%.17g itl1=%d%s",
                           opt->reltol, opt->abstol, opt->vntol, opt->gmin, opt->itl1, temps)) !=
            EQS_OK)
            goto fail;
    }

    /* models used by a written element, in model order (each device
     * with a model card writes its own) */
    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_device *dev = eqs_device_get(nl->elems[i].kind);
        int m = dev && dev->model_of ? dev->model_of(&nl->elems[i]) : -1;
        if (m >= 0 && m < nl->n_models && !model_used[m]) model_used[m] = (char)(1 + nl->elems[i].kind);
    }
    for (int m = 0; m < nl->n_models; ++m) {
        if (!model_used[m]) continue;
        const eqs_device *dev = eqs_device_get((eqs_elem_kind)(model_used[m] - 1));
        int len = dev->model_card(nl, m, NULL, 0);
        if ((st = deck_add_written(&d, &line, &line_cap, len, nl->models[m].name)) != EQS_OK)
            goto fail;
        dev->model_card(nl, m, line, line_cap);
        if ((st = deck_add(&d, "%s", line)) != EQS_OK) goto fail;
    }

    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_element *e = &nl->elems[i];
        const eqs_device *dev = eqs_device_get(e->kind);
        if (!dev || !dev->card) {
            st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "deck: element %s has unknown kind %d",
                           e->name, (int)e->kind);
            goto fail;
        }
        eqs_devcard w = {nl, e, (cel && cel[i] >= 0) ? &c->elems[cel[i]] : NULL, c,
                         ng_name(name, name_cap, dev->letter, e->name), {0}, NULL};
        for (int k = 0; k < 4; ++k) w.node[k] = node_name(nl, e->node[k]);
        if (e->ctrl) w.ctrl = ng_name(ctrl, name_cap, 'v', e->ctrl);
        int len = dev->card(&w, NULL, 0);
        if ((st = deck_add_written(&d, &line, &line_cap, len, e->name)) != EQS_OK) goto fail;
        dev->card(&w, line, line_cap);
        if ((st = deck_add(&d, "%s", line)) != EQS_OK) goto fail;
    }
    for (int k = 0; nu && k < nu->n; ++k) {
        const char *a = node_name(nl, nu->node[k]);
        if (nu->g[k] != 0 &&
            (st = deck_add(&d, "g.eqs_nudge%d %s 0 %s 0 %.17g", k, a, a, nu->g[k])) != EQS_OK)
            goto fail;
        if (nu->inj[k] != 0 &&
            (st = deck_add(&d, "i.eqs_nudge%d 0 %s dc %.17g", k, a, nu->inj[k])) != EQS_OK)
            goto fail;
    }
    for (int k = 0; nu && k < nu->np; ++k) {
        const char *a = node_name(nl, nu->pos[k]), *b = node_name(nl, nu->neg[k]);
        if (nu->pg[k] != 0 && (st = deck_add(&d, "g.eqs_nudgep%d %s %s %s %s %.17g", k, a, b, a,
                                             b, nu->pg[k])) != EQS_OK)
            goto fail;
        if (nu->pinj[k] != 0 &&
            (st = deck_add(&d, "i.eqs_nudgep%d %s %s dc %.17g", k, b, a, nu->pinj[k])) != EQS_OK)
            goto fail;
    }
    if (with_op && (st = deck_add(&d, ".op")) != EQS_OK) goto fail;
    if (!out && (st = deck_add(&d, ".end")) != EQS_OK) goto fail;

    eqs_free(ctx, cel);
    eqs_free(ctx, model_used);
    eqs_free(ctx, name);
    eqs_free(ctx, ctrl);
    eqs_free(ctx, line);
    if (lines_out) *lines_out = d.lines;
    return EQS_OK;

nomem:
    st = EQS_ERR_NOMEM;
fail:
    eqs_free(ctx, cel);
    eqs_free(ctx, model_used);
    eqs_free(ctx, name);
    eqs_free(ctx, ctrl);
    eqs_free(ctx, line);
    if (d.lines) {
        d.lines[d.n] = NULL;
        eqs_deck_free(ctx, &d.lines);
    }
    return st;
}

eqs_status eqs_deck_build_nudged(eqs_ctx *ctx, const eqs_circuit *c,
                                 const eqs_solver_options *opt, const eqs_nudge *nu, int with_op,
                                 char ***lines_out)
{
    return deck_make(ctx, c, opt, nu, with_op, lines_out, NULL);
}

eqs_status eqs_deck_write_body(eqs_ctx *ctx, const eqs_circuit *c,
                               const eqs_solver_options *opt, FILE *out)
{
    return deck_make(ctx, c, opt, NULL, 0, NULL, out);
}
