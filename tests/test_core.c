/* test_core.c: status list, errors with locations, RNG determinism, glob. */
#include "testutil.h"
#include "core/core.h"

#include <string.h>

START_TEST(test_status_names)
{
    ck_assert_str_eq(eqs_status_name(EQS_OK), "EQS_OK");
    ck_assert_str_eq(eqs_status_name(EQS_ERR_PARSE), "EQS_ERR_PARSE");
    ck_assert_str_eq(eqs_strerror(EQS_ERR_NOCONV), "no convergence");
    ck_assert_str_eq(eqs_status_name((eqs_status)12345), "EQS_UNKNOWN_STATUS");
    ck_assert_int_eq(eqs_status_is_user_error(EQS_ERR_PARSE), 1);
    ck_assert_int_eq(eqs_status_is_user_error(EQS_ERR_INTERNAL), 0);
    ck_assert_int_eq(eqs_status_is_user_error(EQS_ERR_NOMEM), 0);
    ck_assert_int_eq(eqs_status_is_user_error(EQS_ERR_NGSPICE), 1);
    ck_assert_int_eq(eqs_status_is_user_error(EQS_ERR_NOCONV), 1);
}
END_TEST

START_TEST(test_error_location_format)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_loc loc = {"net.cir", 12, 5};
    eqs_status st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "unknown element '%s'", "q1");
    ck_assert_int_eq(st, EQS_ERR_PARSE);
    ck_assert_str_eq(eqs_ctx_error(ctx), "net.cir:12:5: error: unknown element 'q1'");
    /* the first error (root cause) is kept */
    EQS_ERROR(ctx, EQS_ERR_INTERNAL, "consequence");
    ck_assert_int_eq(eqs_ctx_status(ctx), EQS_ERR_PARSE);
    eqs_ctx_clear_error(ctx);
    ck_assert_str_eq(eqs_ctx_error(ctx), "");
    EQS_ERROR(ctx, EQS_ERR_IO, "cannot open '%s'", "x");
    ck_assert_str_eq(eqs_ctx_error(ctx), "error: cannot open 'x'");
    eqs_ctx_free(&ctx);
    ck_assert_ptr_null(ctx);
    eqs_ctx_free(&ctx); /* NULL-safe */
}
END_TEST

START_TEST(test_rng_deterministic_streams)
{
    eqs_ctx *a = tu_ctx(), *b = tu_ctx();
    eqs_ctx_seed(a, 42);
    eqs_ctx_seed(b, 42);
    for (int i = 0; i < 100; ++i)
        ck_assert_uint_eq(eqs_rng_u64(a, EQS_RNG_INIT), eqs_rng_u64(b, EQS_RNG_INIT));
    /* streams are independent: drawing from NOISE does not shift SHUFFLE */
    eqs_ctx_seed(a, 7);
    eqs_ctx_seed(b, 7);
    (void)eqs_rng_u64(a, EQS_RNG_NOISE);
    ck_assert_uint_eq(eqs_rng_u64(a, EQS_RNG_SHUFFLE), eqs_rng_u64(b, EQS_RNG_SHUFFLE));
    /* different seeds differ; uniform in [0,1) with mean near 1/2 */
    eqs_ctx_seed(b, 8);
    ck_assert_uint_ne(eqs_rng_u64(a, EQS_RNG_INIT), eqs_rng_u64(b, EQS_RNG_INIT));
    double sum = 0;
    for (int i = 0; i < 100000; ++i) {
        double u = eqs_rng_uniform(a, EQS_RNG_INIT);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
    }
    /* 5 standard deviations of the mean of 1e5 uniforms: 5*sqrt(1/12/1e5) */
    ck_assert_double_eq_tol(sum / 100000, 0.5, 5 * 0.000913);
    eqs_ctx_free(&a);
    eqs_ctx_free(&b);
}
END_TEST

START_TEST(test_glob_and_strings)
{
    ck_assert(eqs_glob_match("r*", "R12"));
    ck_assert(eqs_glob_match("x?.r*", "x1.rload"));
    ck_assert(!eqs_glob_match("x?.r*", "x12.rload"));
    ck_assert(eqs_glob_match("*", ""));
    ck_assert(!eqs_glob_match("r?", "r"));
    ck_assert(eqs_glob_match("*a*b", "xxaxxb"));
    ck_assert(eqs_str_ieq("GND", "gnd"));
    ck_assert(!eqs_str_ieq("gnd", "gn"));
}
END_TEST

START_TEST(test_alloc_counter)
{
    eqs_ctx *ctx = tu_ctx();
    uint64_t n0 = eqs_ctx_alloc_count(ctx);
    void *p = eqs_malloc(ctx, 16);
    char *s = eqs_strdup(ctx, "abc");
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), n0 + 2);
    ck_assert_str_eq(s, "abc");
    int *arr = NULL;
    size_t cap = 0;
    ck_assert_int_eq(eqs_grow(ctx, (void **)&arr, &cap, 100, sizeof *arr), EQS_OK);
    ck_assert_uint_ge(cap, 100);
    eqs_free(ctx, arr);
    eqs_free(ctx, p);
    eqs_free(ctx, s);
    eqs_free(ctx, NULL);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_core(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_names);
    tcase_add_test(tc, test_error_location_format);
    tcase_add_test(tc, test_rng_deterministic_streams);
    tcase_add_test(tc, test_glob_and_strings);
    tcase_add_test(tc, test_alloc_counter);
    suite_add_tcase(s, tc);
    return s;
}
