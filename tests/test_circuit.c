/* test_circuit.c: placeholder until the circuit suite lands. */
#include "testutil.h"

Suite *suite_circuit(void) { return suite_create("circuit"); }
