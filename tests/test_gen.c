/* test_gen.c: placeholder until the gen suite lands. */
#include "testutil.h"

Suite *suite_gen(void) { return suite_create("gen"); }
