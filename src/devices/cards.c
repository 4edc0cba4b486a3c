/*
 * cards.c: the element cards of the SPICE elements R D V I E G F H, as the
 * parser reads them (eqs_elem_card, netlist.h; docs/netlist.md
 * "Elements").  The registry pairs each with its device table
 * (registry.c).  A device outside SPICE's letters defines its card in its
 * own file.
 */
#include "devices.h"

#include <math.h>

/* ngspice 39 reads a resistor's value as r= or resistance=, the gain of
 * E G F H as gain= (also on F and H). */
static const char *const r_names[] = {"r", "resistance", NULL};
static const char *const gain_names[] = {"gain", NULL};

const eqs_elem_card eqs_card_resistor = {
    .n_nodes = 2,
    .usage = "r<name> n+ n- value",
    .form = EQS_CARD_VALUE,
    .value_names = r_names,
    .what = "resistor",
    .reads = "value, r= or resistance=",
    .value_word = "resistance",
};

/* ---- diode: model, area, temp=, dtemp= (ngspice 39 DIOpTable) ---- */

enum { DIO_AREA, DIO_TEMP, DIO_DTEMP, DIO_N };

/* The area first: it is the parameter a positional value gives.  temp=
 * is the instance temperature (C), dtemp= its difference from the circuit
 * temperature (K); the compiler checks the area and the resulting
 * temperature (eqs_diode_check). */
static const eqs_card_param dio_params[DIO_N] = {
    [DIO_AREA] = {"area", "", 1.0, 0, 0, NULL},
    [DIO_TEMP] = {"temp", "C", 0.0, 1, -EQS_CONST_CTOK, "a temperature above -273.15 C"},
    [DIO_DTEMP] = {"dtemp", "K", 0.0, 1, -INFINITY, "a finite temperature difference (K)"},
};

/* ngspice's only diode flag word; it changes the initial guess. */
static const char *const dio_refused[] = {"off", NULL};

static void dio_set(eqs_element *e, const double *w, unsigned given)
{
    e->area = w[DIO_AREA];
    e->temp_C = w[DIO_TEMP];
    e->temp_given = (given >> DIO_TEMP) & 1u;
    e->dtemp_C = w[DIO_DTEMP];
    e->dtemp_given = (given >> DIO_DTEMP) & 1u;
}

/* ngspice 39 DIOtemp: an instance temp= wins over dtemp=. */
static const char *dio_warn(unsigned given)
{
    unsigned both = (1u << DIO_TEMP) | (1u << DIO_DTEMP);
    if ((given & both) == both) return "has both temp= and dtemp=: dtemp is ignored (as in ngspice)";
    return NULL;
}

const eqs_elem_card eqs_card_diode = {
    .n_nodes = 2,
    .usage = "d<name> anode cathode model [area]",
    .form = EQS_CARD_MODEL,
    .model_word = "diode",
    .params = dio_params,
    .n_params = DIO_N,
    .refused_words = dio_refused,
    .params_read = "the model, the area, temp= and dtemp=",
    .set = dio_set,
    .warn = dio_warn,
};

/* ---- independent sources ---- */

const eqs_elem_card eqs_card_vsource = {
    .n_nodes = 2,
    .usage = "v<name> n+ n- [dc] value [ac mag [phase]]",
    .flags = EQS_CARD_VSOURCE,
    .form = EQS_CARD_SOURCE,
};

const eqs_elem_card eqs_card_isource = {
    .n_nodes = 2,
    .usage = "i<name> n+ n- [dc] value [ac mag [phase]]",
    .form = EQS_CARD_SOURCE,
};

/* ---- controlled sources: linear, a gain positional or gain= ---- */

#define GAIN_VALUE                                                                           \
    .form = EQS_CARD_VALUE, .value_names = gain_names, .what = "controlled source",           \
    .reads = "value or gain=", .value_word = "gain"

const eqs_elem_card eqs_card_vcvs = {
    .n_nodes = 4,
    .usage = "e<name> n+ n- nc+ nc- gain",
    .flags = EQS_CARD_LINEAR,
    GAIN_VALUE,
};

const eqs_elem_card eqs_card_vccs = {
    .n_nodes = 4,
    .usage = "g<name> n+ n- nc+ nc- transconductance",
    .flags = EQS_CARD_LINEAR,
    GAIN_VALUE,
};

const eqs_elem_card eqs_card_cccs = {
    .n_nodes = 2,
    .usage = "f<name> n+ n- vcontrol gain",
    .flags = EQS_CARD_LINEAR | EQS_CARD_CONTROLLED,
    GAIN_VALUE,
};

const eqs_elem_card eqs_card_ccvs = {
    .n_nodes = 2,
    .usage = "h<name> n+ n- vcontrol transresistance",
    .flags = EQS_CARD_LINEAR | EQS_CARD_CONTROLLED,
    GAIN_VALUE,
};
