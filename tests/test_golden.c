/* test_golden.c: placeholder until the golden suite lands. */
#include "testutil.h"

Suite *suite_golden(void) { return suite_create("golden"); }
