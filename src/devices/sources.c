/*
 * sources.c: independent and controlled sources.  All are linear: their
 * tables give their topology, slots (layouts in devices.h), stamps,
 * fixed-node currents, currents at a solution (I, G, F; V, E, H get
 * theirs from KCL) and cards.
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

/* ---- slots (layouts in devices.h) ---- */

static int kc_of(const eqs_circuit *c, const eqs_celem *e)
{
    return e->ctrl >= 0 ? c->elems[e->ctrl].branch : -1;
}

/* V, E, H: the branch entries; 0 without a branch */
static int branch_slots(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    int a = eqs_stamp_unknown(c, e->n[0]), b = eqs_stamp_unknown(c, e->n[1]), k = e->branch;
    if (k < 0) return 0;
    rows[0] = a, cols[0] = k;
    rows[1] = b, cols[1] = k;
    rows[2] = k, cols[2] = a;
    rows[3] = k, cols[3] = b;
    return 4;
}

static int vcvs_slots(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    if (!branch_slots(c, e, rows, cols)) return 0;
    rows[4] = e->branch, cols[4] = eqs_stamp_unknown(c, e->n[2]);
    rows[5] = e->branch, cols[5] = eqs_stamp_unknown(c, e->n[3]);
    return 6;
}

static int ccvs_slots(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    if (!branch_slots(c, e, rows, cols)) return 0;
    rows[4] = e->branch, cols[4] = kc_of(c, e);
    return 5;
}

static int vccs_slots(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    int a = eqs_stamp_unknown(c, e->n[0]), b = eqs_stamp_unknown(c, e->n[1]);
    int cc = eqs_stamp_unknown(c, e->n[2]), cd = eqs_stamp_unknown(c, e->n[3]);
    rows[0] = a, cols[0] = cc;
    rows[1] = a, cols[1] = cd;
    rows[2] = b, cols[2] = cc;
    rows[3] = b, cols[3] = cd;
    return 4;
}

static int cccs_slots(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols)
{
    int a = eqs_stamp_unknown(c, e->n[0]), b = eqs_stamp_unknown(c, e->n[1]), kc = kc_of(c, e);
    rows[0] = a, cols[0] = kc;
    rows[1] = b, cols[1] = kc;
    return 2;
}

/* ---- currents leaving a fixed terminal (Newton's fixed-node rows) ----
 * The current flowing n[0] -> n[1] through the element leaves n[0]
 * (sign_of(0) = +1) and enters n[1] (sign_of(1) = -1). */

static double sign_of(int t) { return t == 0 ? 1.0 : -1.0; }

/* I: its value. */
static int isrc_fixed_current(const eqs_circuit *c, const double *vfix, const eqs_celem *e,
                              int t, eqs_fxcurrent *out)
{
    (void)vfix;
    out->k0 = sign_of(t) * eqs_celem_value(c, e);
    return 1;
}

/* V, E, H: the branch current; nothing for the source fixing the node. */
static int branch_fixed_current(const eqs_circuit *c, const double *vfix, const eqs_celem *e,
                                int t, eqs_fxcurrent *out)
{
    (void)c;
    (void)vfix;
    if (e->branch < 0) return 0;
    out->j[0] = e->branch;
    out->x[0] = sign_of(t);
    return 1;
}

/* G: gm (V(n[2]) - V(n[3])), fixed controlling voltages in the constant. */
static int vccs_fixed_current(const eqs_circuit *c, const double *vfix, const eqs_celem *e,
                              int t, eqs_fxcurrent *out)
{
    const double sg = sign_of(t);
    out->j[0] = eqs_stamp_unknown(c, e->n[2]);
    out->x[0] = sg * eqs_celem_value(c, e);
    out->j[1] = eqs_stamp_unknown(c, e->n[3]);
    out->x[1] = -sg * eqs_celem_value(c, e);
    out->k0 = sg * eqs_celem_value(c, e) * (vfix[e->n[2]] - vfix[e->n[3]]);
    return 1;
}

/* F: gain I(ctrl). */
static int cccs_fixed_current(const eqs_circuit *c, const double *vfix, const eqs_celem *e,
                              int t, eqs_fxcurrent *out)
{
    (void)vfix;
    out->j[0] = kc_of(c, e);
    out->x[0] = sign_of(t) * eqs_celem_value(c, e);
    return 1;
}

/* ---- currents at a solution (branch currents by KCL) ---- */

static eqs_status isrc_current(const eqs_devsolution *sol, const eqs_celem *e,
                               eqs_devcurrent *out)
{
    out->a = e->n[0];
    out->b = e->n[1];
    out->i0 = eqs_celem_value(sol->c, e);
    out->gain = 0;
    return EQS_OK;
}

static eqs_status vccs_current(const eqs_devsolution *sol, const eqs_celem *e,
                               eqs_devcurrent *out)
{
    out->a = e->n[0];
    out->b = e->n[1];
    out->i0 = eqs_celem_value(sol->c, e) * (sol->v[e->n[2]] - sol->v[e->n[3]]);
    out->gain = 0;
    return EQS_OK;
}

/* F: gain I(ctrl), known once its controlling source's current is. */
static eqs_status cccs_current(const eqs_devsolution *sol, const eqs_celem *e,
                               eqs_devcurrent *out)
{
    out->a = e->n[0];
    out->b = e->n[1];
    out->i0 = 0;
    out->gain = eqs_celem_value(sol->c, e);
    return EQS_OK;
}

const eqs_device eqs_device_vsource = {
    .kind = EQS_EL_V,
    .name = "voltage source",
    .letter = 'v',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_RECIPROCAL |
             EQS_DEV_SOURCE,
    .card = src_card,
    .check = eqs_device_check_finite,
    .slots = branch_slots,
    .stamp = vsrc_stamp,
    .fixed_current = branch_fixed_current,
    .input = EQS_INPUT_NONE, /* with a branch: refresh */
};
const eqs_device eqs_device_isource = {
    .kind = EQS_EL_I,
    .name = "current source",
    .letter = 'i',
    .flags = EQS_DEV_RECIPROCAL | EQS_DEV_SOURCE,
    .card = src_card,
    .check = eqs_device_check_finite,
    .stamp = isrc_stamp,
    .fixed_current = isrc_fixed_current,
    .input = EQS_INPUT_NONE,
    .current = isrc_current,
};
const eqs_device eqs_device_vcvs = {
    .kind = EQS_EL_E,
    .name = "vcvs",
    .letter = 'e',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH,
    .card = vc_card,
    .check = eqs_device_check_finite,
    .slots = vcvs_slots,
    .stamp = vcvs_stamp,
    .fixed_current = branch_fixed_current,
    .input = EQS_INPUT_REFRESH,
};
const eqs_device eqs_device_vccs = {
    .kind = EQS_EL_G,
    .name = "vccs",
    .letter = 'g',
    .card = vc_card,
    .check = eqs_device_check_finite,
    .slots = vccs_slots,
    .stamp = vccs_stamp,
    .fixed_current = vccs_fixed_current,
    .input = EQS_INPUT_REFRESH,
    .current = vccs_current,
};
const eqs_device eqs_device_cccs = {
    .kind = EQS_EL_F,
    .name = "cccs",
    .letter = 'f',
    .flags = EQS_DEV_CONTROLLED,
    .card = cc_card,
    .check = eqs_device_check_finite,
    .slots = cccs_slots,
    .stamp = cccs_stamp,
    .fixed_current = cccs_fixed_current,
    .input = EQS_INPUT_REFRESH,
    .current = cccs_current,
};
const eqs_device eqs_device_ccvs = {
    .kind = EQS_EL_H,
    .name = "ccvs",
    .letter = 'h',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_CONTROLLED,
    .card = cc_card,
    .check = eqs_device_check_finite,
    .slots = ccvs_slots,
    .stamp = ccvs_stamp,
    .fixed_current = branch_fixed_current,
    .input = EQS_INPUT_REFRESH,
};
