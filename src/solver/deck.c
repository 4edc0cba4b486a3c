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

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    eqs_ctx *ctx;
    char **lines;
    size_t n;
    size_t cap;
} deck_buf;

/* Append one printf-formatted line (the array stays NULL-terminated). */
static eqs_status deck_add(deck_buf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static eqs_status deck_add(deck_buf *d, const char *fmt, ...)
{
    va_list ap;
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

static char kind_letter(eqs_elem_kind k)
{
    static const char letters[EQS_EL_NKINDS] = {
        [EQS_EL_R] = 'r', [EQS_EL_D] = 'd', [EQS_EL_V] = 'v', [EQS_EL_I] = 'i',
        [EQS_EL_E] = 'e', [EQS_EL_G] = 'g', [EQS_EL_F] = 'f', [EQS_EL_H] = 'h',
    };
    return (k >= 0 && k < EQS_EL_NKINDS) ? letters[k] : '?';
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

/* The temperature parameters a diode model gave (EG XTI NBV TCV TLEV TRS1
 * TRS2, ngspice names), " key=value" each, into buf. */
static void model_temp_params(const eqs_diode_model *md, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *key;
    } keys[] = {
        {EQS_DIO_GIVEN_EG, "eg"},   {EQS_DIO_GIVEN_XTI, "xti"},   {EQS_DIO_GIVEN_NBV, "nbv"},
        {EQS_DIO_GIVEN_TCV, "tcv"}, {EQS_DIO_GIVEN_TLEV, "tlev"}, {EQS_DIO_GIVEN_TRS1, "trs"},
        {EQS_DIO_GIVEN_TRS2, "trs2"},
    };
    const double vals[] = {md->eg_eV, md->xti,         md->nbv,         md->tcv,
                           md->tlev,  md->trs1_per_K, md->trs2_per_K2};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof *keys; ++k) {
        if (!(md->given & keys[k].bit) || len >= size) continue;
        int w = snprintf(buf + len, size - len, " %s=%.17g", keys[k].key, vals[k]);
        if (w > 0) len += (size_t)w;
    }
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

eqs_status eqs_deck_build_nudged(eqs_ctx *ctx, const eqs_circuit *c,
                                 const eqs_solver_options *opt, const eqs_nudge *nu, int with_op,
                                 char ***lines_out)
{
    *lines_out = NULL;
    const eqs_netlist *nl = c->nl;
    deck_buf d = {ctx, NULL, 0, 0};
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
    char *name = NULL, *ctrl = NULL;

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
    if ((st = deck_add(&d, "%s", title)) != EQS_OK) goto fail;
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

    /* models used by a written diode, in model order */
    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_element *e = &nl->elems[i];
        if (e->kind == EQS_EL_D && e->model >= 0 && e->model < nl->n_models)
            model_used[e->model] = 1;
    }
    for (int m = 0; m < nl->n_models; ++m) {
        if (!model_used[m]) continue;
        const eqs_diode_model *md = &nl->models[m];
        char bv[96] = "", tnom[48] = "", tpar[320] = "";
        if (md->has_bv) snprintf(bv, sizeof bv, " bv=%.17g", md->bv_V);
        /* TNOM when the model gave it (else ngspice takes .options tnom as
         * eqspice does); 27 C is the default unless .options tnom moved it */
        if (!md->tnom_default && (md->tnom_C != 27.0 || nl->options.tnom_set))
            snprintf(tnom, sizeof tnom, " tnom=%.17g", md->tnom_C);
        model_temp_params(md, tpar, sizeof tpar);
        if ((st = deck_add(&d, ".model %s D(is=%.17g n=%.17g rs=%.17g%s ibv=%.17g%s%s)", md->name,
                           md->is_A, md->n, md->rs_Ohm, bv, md->ibv_A, tnom, tpar)) != EQS_OK)
            goto fail;
    }

    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_element *e = &nl->elems[i];
        const eqs_celem *ce = (cel && cel[i] >= 0) ? &c->elems[cel[i]] : NULL;
        char letter = kind_letter(e->kind);
        ng_name(name, name_cap, letter, e->name);
        const char *a = node_name(nl, e->node[0]);
        const char *b = node_name(nl, e->node[1]);
        switch (e->kind) {
        case EQS_EL_R: {
            /* the circuit holds the conductance (S); 1/G reaches ngspice */
            double r = ce ? 1.0 / ce->value : e->value;
            st = deck_add(&d, "%s %s %s %.17g", name, a, b, r);
            break;
        }
        case EQS_EL_D: {
            if (e->model < 0 || e->model >= nl->n_models) {
                st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "deck: diode %s has no model", e->name);
                break;
            }
            double area = ce ? ce->area : e->area;
            char temps[96] = "";
            int k = 0;
            if (e->temp_given) k = snprintf(temps, sizeof temps, " temp=%.17g", e->temp_C);
            if (e->dtemp_given)
                snprintf(temps + k, sizeof temps - (size_t)k, " dtemp=%.17g", e->dtemp_C);
            st = deck_add(&d, "%s %s %s %s area=%.17g%s", name, a, b, nl->models[e->model].name,
                          area, temps);
            break;
        }
        case EQS_EL_V:
        case EQS_EL_I:
            st = deck_add(&d, "%s %s %s dc %.17g", name, a, b, ce ? ce->value : e->value);
            break;
        case EQS_EL_E:
        case EQS_EL_G:
            st = deck_add(&d, "%s %s %s %s %s %.17g", name, a, b, node_name(nl, e->node[2]),
                          node_name(nl, e->node[3]), ce ? ce->value : e->value);
            break;
        case EQS_EL_F:
        case EQS_EL_H:
            if (!e->ctrl) {
                st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "deck: %s has no controlling source",
                               e->name);
                break;
            }
            ng_name(ctrl, name_cap, 'v', e->ctrl);
            st = deck_add(&d, "%s %s %s %s %.17g", name, a, b, ctrl, ce ? ce->value : e->value);
            break;
        default:
            st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "deck: element %s has unknown kind %d",
                           e->name, (int)e->kind);
            break;
        }
        if (st != EQS_OK) goto fail;
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
    if ((st = deck_add(&d, ".end")) != EQS_OK) goto fail;

    eqs_free(ctx, cel);
    eqs_free(ctx, model_used);
    eqs_free(ctx, name);
    eqs_free(ctx, ctrl);
    *lines_out = d.lines;
    return EQS_OK;

nomem:
    st = EQS_ERR_NOMEM;
fail:
    eqs_free(ctx, cel);
    eqs_free(ctx, model_used);
    eqs_free(ctx, name);
    eqs_free(ctx, ctrl);
    if (d.lines) {
        d.lines[d.n] = NULL;
        eqs_deck_free(ctx, &d.lines);
    }
    return st;
}
