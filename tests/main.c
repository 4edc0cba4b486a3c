/* main.c: runs every Check suite.  CK_FORK=yes (make check) isolates tests.
 *
 * Every temporary file of the run (tu_temp_dir, the CLI's children, which
 * inherit TMPDIR) lives under one directory made here and removed at the
 * end, so a run leaves nothing behind in /tmp whatever its tests do. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : 0; /* keep going: remove what can be removed */
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char root[4096];
    snprintf(root, sizeof root, "%s/eqs-check-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(root)) {
        perror("run-tests: cannot make the temporary directory");
        return EXIT_FAILURE;
    }
    setenv("TMPDIR", root, 1);

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
    srunner_add_suite(sr, suite_eval());
    srunner_add_suite(sr, suite_driver());
    srunner_add_suite(sr, suite_alloc());
    srunner_add_suite(sr, suite_atomic());
    srunner_add_suite(sr, suite_host());
    srunner_add_suite(sr, suite_update());
    srunner_add_suite(sr, suite_memristor());
    srunner_add_suite(sr, suite_store());
    srunner_add_suite(sr, suite_crossbar());
    srunner_add_suite(sr, suite_device());
    srunner_add_suite(sr, suite_devtrain());
    srunner_add_suite(sr, suite_memiv());
    srunner_add_suite(sr, suite_report());
    srunner_add_suite(sr, suite_wire());
    srunner_add_suite(sr, suite_device_plot());
    srunner_add_suite(sr, suite_team());
    srunner_add_suite(sr, suite_sweep());
    srunner_add_suite(sr, suite_handoff());
    srunner_add_suite(sr, suite_physical());
    srunner_add_suite(sr, suite_mpi());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
