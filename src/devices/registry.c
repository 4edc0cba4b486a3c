/* registry.c: device tables indexed by element kind (one line per device). */
#include "devices.h"

static const eqs_device *const registry[EQS_EL_NKINDS] = {
    [EQS_EL_R] = &eqs_device_resistor, [EQS_EL_D] = &eqs_device_diode,
    [EQS_EL_V] = &eqs_device_vsource,  [EQS_EL_I] = &eqs_device_isource,
    [EQS_EL_E] = &eqs_device_vcvs,     [EQS_EL_G] = &eqs_device_vccs,
    [EQS_EL_F] = &eqs_device_cccs,     [EQS_EL_H] = &eqs_device_ccvs,
};

const eqs_device *eqs_device_get(eqs_elem_kind kind)
{
    if ((int)kind < 0 || kind >= EQS_EL_NKINDS) return NULL;
    return registry[kind];
}
