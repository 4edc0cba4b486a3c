/* test_cli.c: placeholder until the cli suite lands. */
#include "testutil.h"

Suite *suite_cli(void) { return suite_create("cli"); }
