/* test_netlist.c: placeholder until the netlist suite lands. */
#include "testutil.h"

Suite *suite_netlist(void) { return suite_create("netlist"); }
