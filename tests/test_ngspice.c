/* test_ngspice.c: placeholder until the ngspice suite lands. */
#include "testutil.h"

Suite *suite_ngspice(void) { return suite_create("ngspice"); }
