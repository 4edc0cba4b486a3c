/* test_solver.c: placeholder until the solver suite lands. */
#include "testutil.h"

Suite *suite_solver(void) { return suite_create("solver"); }
