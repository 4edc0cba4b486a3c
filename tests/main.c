/* main.c: runs every Check suite.  CK_FORK=yes (make check) isolates tests. */
#include <stdlib.h>

#include "testutil.h"

int main(void)
{
    SRunner *sr = srunner_create(suite_core());
    srunner_add_suite(sr, suite_netlist());
    srunner_add_suite(sr, suite_circuit());
    srunner_add_suite(sr, suite_devices());
    srunner_add_suite(sr, suite_solver());
    srunner_add_suite(sr, suite_ngspice());
    srunner_add_suite(sr, suite_golden());
    srunner_add_suite(sr, suite_gen());
    srunner_add_suite(sr, suite_cli());
    srunner_add_suite(sr, suite_robust());
    srunner_add_suite(sr, suite_dataset());
    srunner_add_suite(sr, suite_experiment());
    srunner_add_suite(sr, suite_eqprop());
    srunner_add_suite(sr, suite_export());
    srunner_add_suite(sr, suite_run());
    srunner_add_suite(sr, suite_train());
    srunner_add_suite(sr, suite_inputs());
    srunner_add_suite(sr, suite_aeqprop());
    srunner_add_suite(sr, suite_ncep());
    srunner_add_suite(sr, suite_layered());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
