/* test_alloc.c: the context's allocator hooks, and every allocation failed
 * in turn.
 *
 * A hook allocator (eqs_ctx_set_allocator) counts the calls of malloc_fn
 * and realloc_fn and fails call number N once (N = 0, 1, 2, ...) for each
 * operation below: netlist read, circuit compile, solver create (newton,
 * layered) with a first solve, and trainer create from an in-process
 * experiment (per-sample and batched).  At every N the operation must
 * return an error recorded in the context (EQS_ERR_NOMEM, or another error
 * naming the root cause), not crash, and, once the caller has freed what
 * it got back, every block must be released: the hook's own live-block
 * count and the context's counters both balance.  The loop ends at the
 * first N that the operation does not reach; that run must succeed.  Under
 * the ASan build (make check-asan) LeakSanitizer also sees every block the
 * library or a third-party library forgot. */
#include "testutil.h"
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long calls;    /* malloc_fn + realloc_fn calls since armed */
    long fail_at;  /* the call that fails (-1: none) */
    int armed;     /* count (and fail) only when set */
    int sticky;    /* fail every call from fail_at on, not only that one */
    int failed;    /* the failure was injected */
    long live;     /* blocks alive through the hooks */
} failing_alloc;

static int should_fail(failing_alloc *a)
{
    if (!a->armed) return 0;
    long k = a->calls++;
    if (a->sticky ? k < a->fail_at : k != a->fail_at) return 0;
    a->failed = 1;
    return 1;
}

static void *fa_malloc(void *user, size_t size)
{
    failing_alloc *a = user;
    if (should_fail(a)) return NULL;
    void *p = malloc(size);
    if (p) a->live++;
    return p;
}

static void *fa_realloc(void *user, void *p, size_t size)
{
    failing_alloc *a = user;
    if (should_fail(a)) return NULL;
    return realloc(p, size);
}

static void fa_free(void *user, void *p)
{
    failing_alloc *a = user;
    if (p) a->live--;
    free(p);
}

/* One operation under test: run it on ctx (hooks installed, armed by the
 * operation itself where a setup precedes the part under test), leaving
 * what it made in the fixture; close frees everything. */
typedef struct {
    failing_alloc fa;
    eqs_ctx *ctx;
    const char *path; /* input file */
    eqs_backend_id backend;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
    eqs_experiment *exp;
    eqs_dataset *train, *test;
    eqs_trainer *tr;
} fixture;

typedef eqs_status (*op_fn)(fixture *f);

static eqs_status op_read(fixture *f)
{
    f->fa.armed = 1;
    return eqs_netlist_read(f->ctx, f->path, &f->nl);
}

static eqs_status op_compile(fixture *f)
{
    eqs_status st = eqs_netlist_read(f->ctx, f->path, &f->nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
    f->fa.armed = 1;
    return eqs_circuit_create(f->ctx, f->nl, &f->c);
}

static eqs_status op_solver(fixture *f)
{
    eqs_status st = eqs_netlist_read(f->ctx, f->path, &f->nl);
    if (st == EQS_OK) st = eqs_circuit_create(f->ctx, f->nl, &f->c);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
    f->fa.armed = 1;
    st = eqs_solver_create(f->ctx, f->c, f->backend, NULL, &f->s);
    if (st == EQS_OK) st = eqs_solver_solve(f->s, EQS_SOLVE_COLD, NULL);
    return st;
}

static eqs_status op_trainer(fixture *f)
{
    f->fa.armed = 1;
    eqs_status st = eqs_experiment_read(f->ctx, f->path, &f->exp);
    if (st == EQS_OK) st = eqs_experiment_load_data(f->ctx, f->exp, &f->train, &f->test);
    if (st == EQS_OK) st = eqs_experiment_network(f->ctx, f->exp, &f->nl);
    if (st == EQS_OK) st = eqs_circuit_create(f->ctx, f->nl, &f->c);
    if (st == EQS_OK) st = eqs_trainer_create(f->ctx, f->exp, f->c, f->train, NULL, &f->tr);
    return st;
}

static void fixture_close(fixture *f)
{
    eqs_trainer_free(&f->tr);
    eqs_solver_free(&f->s);
    eqs_circuit_free(&f->c);
    eqs_netlist_free(&f->nl);
    eqs_dataset_free(&f->train);
    eqs_dataset_free(&f->test);
    eqs_experiment_free(&f->exp);
}

/* Fail allocation N = 0, 1, ... of op until op no longer reaches N, once
 * failing that call only and once failing it and every later one (error
 * paths that allocate); returns the number of allocations of the
 * successful run. */
static long fail_each(op_fn op, const char *path, eqs_backend_id backend, const char *what)
{
    for (long n = 0;; ++n) {
        for (int sticky = 0; sticky <= 1; ++sticky) {
            fixture f;
            memset(&f, 0, sizeof f);
            f.fa.fail_at = n;
            f.fa.sticky = sticky;
            f.path = path;
            f.backend = backend;
            f.ctx = tu_ctx();
            ck_assert_ptr_nonnull(f.ctx);
            eqs_allocator hooks = {fa_malloc, fa_realloc, fa_free, &f.fa};
            ck_assert_int_eq(eqs_ctx_set_allocator(f.ctx, &hooks), EQS_OK);
            eqs_status st = op(&f);
            int failed = f.fa.failed;
            if (failed) {
                ck_assert_msg(st != EQS_OK,
                              "%s: allocation %ld failed, yet the call returned EQS_OK", what, n);
                ck_assert_msg(eqs_ctx_status(f.ctx) != EQS_OK && eqs_ctx_error(f.ctx)[0],
                              "%s: allocation %ld failed: %s returned without recording an error",
                              what, n, eqs_status_name(st));
            } else {
                ck_assert_msg(st == EQS_OK, "%s: %s", what, eqs_ctx_error(f.ctx));
            }
            fixture_close(&f);
            ck_assert_msg(f.fa.live == 0, "%s: allocation %ld%s failed (%s): %ld blocks leaked",
                          what, n, sticky ? " and later" : "", eqs_ctx_error(f.ctx), f.fa.live);
            ck_assert_msg(eqs_ctx_alloc_count(f.ctx) == eqs_ctx_free_count(f.ctx),
                          "%s: allocation %ld failed: context counters %llu allocated, %llu "
                          "freed",
                          what, n, (unsigned long long)eqs_ctx_alloc_count(f.ctx),
                          (unsigned long long)eqs_ctx_free_count(f.ctx));
            eqs_ctx_free(&f.ctx);
            if (!failed) return f.fa.calls;
        }
    }
}

/* A netlist using the reader's features: .param expressions, .model, a
 * subcircuit instantiated twice, an .include, the extension cards. */
static const char *rich_netlist(void)
{
    const char *inc = tu_write_temp(".subckt cell a b\nr1 a m {rw}\nd1 m b dmod\n.ends\n",
                                    ".inc");
    static char text[2048];
    snprintf(text, sizeof text,
             "* alloc test\n.param rw=10k\n.model dmod D(is=1e-14 n=1)\n.include %s\n"
             "v1 in 0 dc 1\nx1 in mid cell\nx2 mid 0 cell\nr1_a in out 5k\nrl out 0 {rw*2}\n"
             ".input v1\n.output out\n.trainable r1_*\n.end\n",
             inc);
    return tu_write_temp(text, ".cir");
}

START_TEST(test_hooks_see_every_block)
{
    failing_alloc fa = {.fail_at = -1, .armed = 1};
    eqs_ctx *ctx = tu_ctx();
    eqs_allocator hooks = {fa_malloc, fa_realloc, fa_free, &fa};
    ck_assert_int_eq(eqs_ctx_set_allocator(ctx, &hooks), EQS_OK);
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, tu_path("netlists/layered.cir"), &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert(fa.live > 0);
    ck_assert_int_eq((long)(eqs_ctx_alloc_count(ctx) - eqs_ctx_free_count(ctx)), fa.live);
    /* hooks cannot change under live blocks; an incomplete table is refused */
    ck_assert_int_eq(eqs_ctx_set_allocator(ctx, NULL), EQS_ERR_INPUT);
    ck_assert(strstr(eqs_ctx_error(ctx), "still alive") != NULL);
    eqs_ctx_clear_error(ctx);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    ck_assert_int_eq(fa.live, 0);
    eqs_allocator partial = {fa_malloc, NULL, fa_free, &fa};
    ck_assert_int_eq(eqs_ctx_set_allocator(ctx, &partial), EQS_ERR_INPUT);
    ck_assert_int_eq(eqs_ctx_set_allocator(ctx, NULL), EQS_OK); /* back to libc */
    void *p = eqs_calloc(ctx, 3, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fa.live, 0);
    eqs_free(ctx, p);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_fail_each_netlist_read)
{
    long n = fail_each(op_read, rich_netlist(), EQS_BACKEND_NEWTON, "netlist read");
    ck_assert(n > 10);
    n = fail_each(op_read, tu_path("netlists/layered.cir"), EQS_BACKEND_NEWTON,
                  "netlist read (layered.cir)");
    ck_assert(n > 10);
}
END_TEST

START_TEST(test_fail_each_compile)
{
    ck_assert(fail_each(op_compile, rich_netlist(), EQS_BACKEND_NEWTON, "compile") > 5);
    ck_assert(fail_each(op_compile, tu_path("netlists/amplifier.cir"), EQS_BACKEND_NEWTON,
                        "compile (amplifier.cir)") > 5);
}
END_TEST

START_TEST(test_fail_each_solver_create)
{
    const char *layered = tu_path("netlists/layered.cir");
    ck_assert(fail_each(op_solver, layered, EQS_BACKEND_NEWTON, "newton solver") > 5);
    ck_assert(fail_each(op_solver, layered, EQS_BACKEND_LAYERED, "layered solver") > 5);
    ck_assert(fail_each(op_solver, tu_path("netlists/amplifier.cir"), EQS_BACKEND_NEWTON,
                        "newton solver (amplifier.cir)") > 5);
}
END_TEST

/* An in-process experiment: synthetic data, a generated DRN, per-sample
 * (newton) or batched (layered) training. */
static const char *experiment(int batched)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 6 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"16\" "
             "test_size=\"8\"/></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\"><rate elements=\"r1_*\" value=\"1e-8\"/>"
             "<rate elements=\"r*\" value=\"5e-9\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"4\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"%s\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             batched ? "layered\" diodes=\"ideal" : "newton");
    return tu_write_temp(buf, ".xml");
}

START_TEST(test_fail_each_trainer_create)
{
    ck_assert(fail_each(op_trainer, experiment(0), EQS_BACKEND_AUTO, "trainer (newton)") > 10);
    ck_assert(fail_each(op_trainer, experiment(1), EQS_BACKEND_AUTO, "trainer (layered)") > 10);
}
END_TEST

Suite *suite_alloc(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_hooks_see_every_block);
    tcase_add_test(tc, test_fail_each_netlist_read);
    tcase_add_test(tc, test_fail_each_compile);
    tcase_add_test(tc, test_fail_each_solver_create);
    tcase_add_test(tc, test_fail_each_trainer_create);
    suite_add_tcase(s, tc);
    return s;
}
