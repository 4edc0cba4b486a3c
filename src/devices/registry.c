/* registry.c: device tables and their card syntax, indexed by element kind
 * (one line per device), and the table-driven model types. */
#include "devices.h"

/* One line per element kind: its device table and its card syntax. */
const eqs_device_entry eqs_device_registry[EQS_EL_NKINDS] = {
    [EQS_EL_R] = {&eqs_device_resistor, &eqs_card_resistor},
    [EQS_EL_D] = {&eqs_device_diode, &eqs_card_diode},
    [EQS_EL_V] = {&eqs_device_vsource, &eqs_card_vsource},
    [EQS_EL_I] = {&eqs_device_isource, &eqs_card_isource},
    [EQS_EL_E] = {&eqs_device_vcvs, &eqs_card_vcvs},
    [EQS_EL_G] = {&eqs_device_vccs, &eqs_card_vccs},
    [EQS_EL_F] = {&eqs_device_cccs, &eqs_card_cccs},
    [EQS_EL_H] = {&eqs_device_ccvs, &eqs_card_ccvs},
    [EQS_EL_MEMIV] = {&eqs_device_memiv, NULL}, /* implicit: no card, last */
};

const eqs_elem_card *eqs_elem_card_get(int k, char *letter)
{
    if (k < 0 || k >= EQS_EL_NKINDS) return NULL;
    *letter = eqs_device_registry[k].dev->letter;
    return eqs_device_registry[k].card;
}

/* Table-driven device models (one line per model type). */
static const eqs_model_type *const model_types[] = {
    &eqs_model_memristor,
};

#define N_MODEL_TYPES (sizeof model_types / sizeof *model_types)

static int word_is(const char *word, const char *s, size_t len)
{
    size_t k = 0;
    for (; k < len && word[k]; ++k) {
        char ch = s[k];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != word[k]) return 0;
    }
    return k == len && word[k] == '\0';
}

const eqs_model_type *eqs_model_type_find(const char *type, size_t len)
{
    for (size_t k = 0; k < N_MODEL_TYPES; ++k)
        if (word_is(model_types[k]->type, type, len)) return model_types[k];
    return NULL;
}

const eqs_model_type *eqs_model_type_find_card(const char *card, size_t len)
{
    for (size_t k = 0; k < N_MODEL_TYPES; ++k)
        if (word_is(model_types[k]->card, card, len)) return model_types[k];
    return NULL;
}
