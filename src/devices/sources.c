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

const eqs_device eqs_device_vsource = {
    .kind = EQS_EL_V, .name = "voltage source", .letter = 'v',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_RECIPROCAL |
             EQS_DEV_SOURCE,
    .card = src_card, .check = eqs_device_check_finite};
const eqs_device eqs_device_isource = {.kind = EQS_EL_I, .name = "current source",
                                       .letter = 'i', .flags = EQS_DEV_RECIPROCAL | EQS_DEV_SOURCE,
                                       .card = src_card, .check = eqs_device_check_finite};
const eqs_device eqs_device_vcvs = {
    .kind = EQS_EL_E, .name = "vcvs", .letter = 'e',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH, .card = vc_card, .check = eqs_device_check_finite};
const eqs_device eqs_device_vccs = {.kind = EQS_EL_G, .name = "vccs", .letter = 'g',
                                    .card = vc_card, .check = eqs_device_check_finite};
const eqs_device eqs_device_cccs = {.kind = EQS_EL_F, .name = "cccs", .letter = 'f',
                                    .flags = EQS_DEV_CONTROLLED, .card = cc_card, .check = eqs_device_check_finite};
const eqs_device eqs_device_ccvs = {
    .kind = EQS_EL_H, .name = "ccvs", .letter = 'h',
    .flags = EQS_DEV_DC_PATH | EQS_DEV_VOLTAGE | EQS_DEV_BRANCH | EQS_DEV_CONTROLLED,
    .card = cc_card, .check = eqs_device_check_finite};
