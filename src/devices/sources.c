/*
 * sources.c: independent and controlled sources.  All are linear; the
 * Newton solver stamps them from value and slots (layouts in circuit.h);
 * their tables name them, give their topology and write their cards.
 */
#include "devices.h"

#include <math.h>
#include <stdio.h>

eqs_status eqs_device_check_finite(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                                   int *n_internal)
{
    (void)nl;
    (void)n_internal;
    if (!isfinite(el->value)) {
        const eqs_device *dev = eqs_device_get(el->kind);
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, el->loc, "%s '%s' has a non-finite value",
                            dev ? dev->name : "element", el->name);
    }
    return EQS_OK;
}

static double value_of(const eqs_devcard *w) { return w->ce ? w->ce->value : w->e->value; }

/* `v<name> p m dc V`, `i<name> p m dc A` */
static int src_card(const eqs_devcard *w, char *buf, size_t size)
{
    return snprintf(buf, size, "%s %s %s dc %.17g", w->name, w->node[0], w->node[1],
                    value_of(w));
}

/* `e<name> p m cp cm gain`, `g<name> p m cp cm gm` */
static int vc_card(const eqs_devcard *w, char *buf, size_t size)
{
    return snprintf(buf, size, "%s %s %s %s %s %.17g", w->name, w->node[0], w->node[1],
                    w->node[2], w->node[3], value_of(w));
}

/* `f<name> p m vctrl gain`, `h<name> p m vctrl r`; -1 without a
 * controlling source (an element built wrongly by hand). */
static int cc_card(const eqs_devcard *w, char *buf, size_t size)
{
    if (!w->ctrl) return -1;
    return snprintf(buf, size, "%s %s %s %s %.17g", w->name, w->node[0], w->node[1], w->ctrl,
                    value_of(w));
}

/* ---- linear stamps (slot layouts in circuit.h) ---- */

/* I: value A flows n[0] -> n[1] through the source. */
static void isrc_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    int ua = eqs_stamp_unknown(ls->c, e->n[0]), ub = eqs_stamp_unknown(ls->c, e->n[1]);
    if (ua >= 0) ls->b[ua] += e->value;
    if (ub >= 0) ls->b[ub] -= e->value;
}

/* The branch part shared by V, E, H: KCL entries of the branch current
 * and the branch equation V(n[0]) - V(n[1]) = ...; 0 without a branch. */
static int branch_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    int k = e->branch;
    if (k < 0) return 0;
    eqs_stamp_add(ls->J, e->slot[0], 1.0);
    eqs_stamp_add(ls->J, e->slot[1], -1.0);
    eqs_stamp_add(ls->J, e->slot[2], 1.0);
    eqs_stamp_add(ls->J, e->slot[3], -1.0);
    ls->b[k] += ls->vfix[e->n[0]] - ls->vfix[e->n[1]];
    return 1;
}

static void vsrc_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    if (branch_stamp(ls, e)) ls->b[e->branch] -= e->value;
}

/* E: V(n[0]) - V(n[1]) = gain (V(n[2]) - V(n[3])) */
static void vcvs_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    if (!branch_stamp(ls, e)) return;
    const double val = e->value;
    eqs_stamp_add(ls->J, e->slot[4], -val);
    eqs_stamp_add(ls->J, e->slot[5], val);
    ls->b[e->branch] -= val * (ls->vfix[e->n[2]] - ls->vfix[e->n[3]]);
}

/* H: V(n[0]) - V(n[1]) = r I(ctrl) */
static void ccvs_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    if (branch_stamp(ls, e)) eqs_stamp_add(ls->J, e->slot[4], -e->value);
}

/* G: gm (V(n[2]) - V(n[3])) flows n[0] -> n[1] */
static void vccs_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    const double val = e->value;
    int ua = eqs_stamp_unknown(ls->c, e->n[0]), ub = eqs_stamp_unknown(ls->c, e->n[1]);
    double fixed = val * (ls->vfix[e->n[2]] - ls->vfix[e->n[3]]);
    eqs_stamp_add(ls->J, e->slot[0], val);
    eqs_stamp_add(ls->J, e->slot[1], -val);
    eqs_stamp_add(ls->J, e->slot[2], -val);
    eqs_stamp_add(ls->J, e->slot[3], val);
    if (ua >= 0) ls->b[ua] += fixed;
    if (ub >= 0) ls->b[ub] -= fixed;
}

/* F: gain I(ctrl) flows n[0] -> n[1] */
static void cccs_stamp(const eqs_linstamp *ls, const eqs_celem *e)
{
    eqs_stamp_add(ls->J, e->slot[0], e->value);
    eqs_stamp_add(ls->J, e->slot[1], -e->value);
}

const eqs_device eqs_device_vsource = {
    .kind = EQS_EL_V, .name = "voltage source", .letter = 'v',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_RECIPROCAL |
             EQS_DEV_SOURCE,
    .card = src_card, .check = eqs_device_check_finite, .stamp = vsrc_stamp};
const eqs_device eqs_device_isource = {.kind = EQS_EL_I, .name = "current source",
                                       .letter = 'i', .flags = EQS_DEV_RECIPROCAL | EQS_DEV_SOURCE,
                                       .card = src_card, .check = eqs_device_check_finite, .stamp = isrc_stamp};
const eqs_device eqs_device_vcvs = {
    .kind = EQS_EL_E, .name = "vcvs", .letter = 'e',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH, .card = vc_card, .check = eqs_device_check_finite, .stamp = vcvs_stamp};
const eqs_device eqs_device_vccs = {.kind = EQS_EL_G, .name = "vccs", .letter = 'g',
                                    .card = vc_card, .check = eqs_device_check_finite, .stamp = vccs_stamp};
const eqs_device eqs_device_cccs = {.kind = EQS_EL_F, .name = "cccs", .letter = 'f',
                                    .flags = EQS_DEV_CONTROLLED, .card = cc_card, .check = eqs_device_check_finite, .stamp = cccs_stamp};
const eqs_device eqs_device_ccvs = {
    .kind = EQS_EL_H, .name = "ccvs", .letter = 'h',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_CONTROLLED,
    .card = cc_card, .check = eqs_device_check_finite, .stamp = ccvs_stamp};
