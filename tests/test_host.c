/* test_host.c: the library leaves the host program's process-wide state
 * alone.  OpenBLAS's thread count is one process-wide setting: the
 * layered solver sets its own only around its batched calls (layered.c,
 * blas_threads_enter) and must give the host's back. */
#include "testutil.h"

#include <cblas.h>
#include <string.h>

/* Batched layered training of an 8-6-3 ideal-diode DRN on blobs. */
static const char *batched_xml(void)
{
    return tu_write_temp(
        "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
        "  <network><drn layers=\"8 6 3\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\"/>"
        "</network>\n"
        "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"32\" test_size=\"16\" "
        "features=\"8\"/></dataset>\n"
        "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
        "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
        "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
        "  <learning momentum=\"0.9\"><rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
        "  <training epochs=\"1\" batch=\"8\" seed=\"1\"/>\n"
        "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
        "  <solver backend=\"layered\" diodes=\"ideal\" threads=\"2\"/>\n"
        "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
        ".xml");
}

/* For host settings 1, 2 and 3: creating, solving with, training with
 * (steps, an epoch end, evaluation), measuring the floor and freeing a
 * layered solver leaves openblas_get_num_threads() as the host set it. */
START_TEST(test_openblas_threads_unchanged)
{
    const char *xml = batched_xml();
    for (int host = 1; host <= 3; ++host) {
        openblas_set_num_threads(host);
        ck_assert_int_eq(openblas_get_num_threads(), host);
        tu_job j;
        tu_job_open(&j, xml, 1);
        ck_assert_int_eq(openblas_get_num_threads(), host);
        ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
        ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        ck_assert_int_eq(openblas_get_num_threads(), host);
        ck_assert_msg(eqs_trainer_epoch(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        ck_assert_int_eq(openblas_get_num_threads(), host);
        double loss = 0, err = 0;
        ck_assert_msg(eqs_trainer_evaluate(j.tr, j.test, &loss, &err) == EQS_OK, "%s",
                      eqs_ctx_error(j.ctx));
        ck_assert_int_eq(openblas_get_num_threads(), host);
        /* a single solve on the layered backend */
        eqs_solver *s = NULL;
        ck_assert_int_eq(eqs_solver_create(j.ctx, j.c, EQS_BACKEND_LAYERED, NULL, &s), EQS_OK);
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, NULL), EQS_OK);
        eqs_solver_free(&s);
        ck_assert_int_eq(openblas_get_num_threads(), host);
        double rate = 0;
        ck_assert_int_eq(eqs_layered_floor(j.ctx, 16, 8, 4, 0.01, 0, &rate), EQS_OK);
        ck_assert(rate > 0);
        rate = 0;
        ck_assert_int_eq(eqs_layered_floor(j.ctx, 16, 8, 4, 0.01, 1, &rate), EQS_OK); /* sgemm */
        ck_assert(rate > 0);
        ck_assert_int_eq(openblas_get_num_threads(), host);
        tu_job_close(&j);
        ck_assert_int_eq(openblas_get_num_threads(), host);
    }
}
END_TEST

Suite *suite_host(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_openblas_threads_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
