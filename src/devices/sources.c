/*
 * sources.c: independent and controlled sources.  All are linear; the
 * Newton solver stamps them from value and slots (layouts in circuit.h),
 * so their tables only name them.
 */
#include "devices.h"

const eqs_device eqs_device_vsource = {.kind = EQS_EL_V, .name = "voltage source", .letter = 'v'};
const eqs_device eqs_device_isource = {.kind = EQS_EL_I, .name = "current source", .letter = 'i'};
const eqs_device eqs_device_vcvs = {.kind = EQS_EL_E, .name = "vcvs", .letter = 'e'};
const eqs_device eqs_device_vccs = {.kind = EQS_EL_G, .name = "vccs", .letter = 'g'};
const eqs_device eqs_device_cccs = {.kind = EQS_EL_F, .name = "cccs", .letter = 'f'};
const eqs_device eqs_device_ccvs = {.kind = EQS_EL_H, .name = "ccvs", .letter = 'h'};
