/* test_run.c: RNG state, checkpoints (round trip, corruption, atomicity),
 * the run directory and metrics.csv. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "testutil.h"

#include <cairo.h> /* reads the plot back */
#include <dlfcn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    eqs_netlist *nl;
    eqs_circuit *c;
} net;


static void net_load(net *N, eqs_ctx *ctx, const char *text)
{
    ck_assert_int_eq(eqs_netlist_read_string(ctx, text, "t.cir", &N->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, N->nl, &N->c), EQS_OK);
}

static void net_free(net *N)
{
    eqs_circuit_free(&N->c);
    eqs_netlist_free(&N->nl);
}

static double *params(const eqs_circuit *c)
{
    int n = eqs_circuit_param_count(c);
    double *g = malloc((size_t)n * sizeof *g);
    for (int k = 0; k < n; ++k) g[k] = eqs_circuit_param_get(c, k);
    return g;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static const int LAYERS[] = {3, 4, 2};

/* ------------------------------------------------------------------ */

START_TEST(test_rng_state_roundtrip)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_ctx_seed(ctx, 42);
    for (int i = 0; i < 5; ++i) eqs_rng_u64(ctx, EQS_RNG_SHUFFLE);
    eqs_rng_state s;
    eqs_ctx_rng_state_get(ctx, &s);
    ck_assert_uint_eq(s.seed, 42);
    uint64_t a[3][4];
    for (int q = 0; q < 3; ++q)
        for (int k = 0; k < 4; ++k) a[q][k] = eqs_rng_u64(ctx, (eqs_rng_stream)q);
    eqs_ctx *ctx2 = tu_ctx();
    ck_assert_int_eq(eqs_ctx_rng_state_set(ctx2, &s), EQS_OK);
    ck_assert_uint_eq(eqs_ctx_get_seed(ctx2), 42);
    for (int q = 0; q < 3; ++q)
        for (int k = 0; k < 4; ++k) ck_assert_uint_eq(eqs_rng_u64(ctx2, (eqs_rng_stream)q), a[q][k]);
    memset(s.s[1], 0, sizeof s.s[1]);
    ck_assert_int_eq(eqs_ctx_rng_state_set(ctx2, &s), EQS_ERR_INPUT);
    eqs_ctx_free(&ctx);
    eqs_ctx_free(&ctx2);
}
END_TEST

/* Write a checkpoint of a "trained" DRN with odd values (subnormal, huge,
 * negative zero momentum); read into a fresh circuit and context; every
 * double must be bit-identical. */
static const char *make_checkpoint(char **text_out, double *mom, int *n_out)
{
    char *text = tu_gen_drn(LAYERS, 3, 9);
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    int n = eqs_circuit_param_count(N.c);
    for (int k = 0; k < n; ++k) {
        double g = eqs_circuit_param_get(N.c, k) * (1.0 + 1e-3 * sqrt(k + 2.0));
        if (k == 0) g = 4.9406564584124654e-324; /* smallest subnormal */
        if (k == 1) g = 1.7976931348623157e308;
        ck_assert_int_eq(eqs_circuit_param_set(N.c, k, g), EQS_OK);
        mom[k] = k == 2 ? -0.0 : (k % 3 - 1) * 1e-7 / (k + 1.0);
    }
    eqs_ctx_seed(ctx, 1234);
    for (int i = 0; i < 17; ++i) eqs_rng_u64(ctx, EQS_RNG_SHUFFLE);
    eqs_rng_uniform(ctx, EQS_RNG_NOISE);
    static size_t order[10] = {3, 1, 4, 0, 5, 9, 2, 6, 8, 7};
    eqs_train_state st = {.epoch = 3, .batch = 17, .lr_scale = 0.9801, .momentum = mom,
                          .order = order, .n_order = 10};
    const char *dir = tu_temp_dir();
    static char path[512];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    ck_assert_msg(eqs_checkpoint_write(ctx, N.c, &st, path) == EQS_OK, "%s", eqs_ctx_error(ctx));
    net_free(&N);
    eqs_ctx_free(&ctx);
    *text_out = text;
    *n_out = n;
    return path;
}

START_TEST(test_checkpoint_roundtrip)
{
    double mom[64];
    int n = 0;
    char *text = NULL;
    const char *path = make_checkpoint(&text, mom, &n);

    /* expected values, recomputed the same way in a fresh circuit */
    eqs_ctx *ref = tu_ctx();
    net E;
    net_load(&E, ref, text);
    for (int k = 0; k < n; ++k) {
        double g = eqs_circuit_param_get(E.c, k) * (1.0 + 1e-3 * sqrt(k + 2.0));
        if (k == 0) g = 4.9406564584124654e-324;
        if (k == 1) g = 1.7976931348623157e308;
        eqs_circuit_param_set(E.c, k, g);
    }
    eqs_ctx_seed(ref, 1234);
    for (int i = 0; i < 17; ++i) eqs_rng_u64(ref, EQS_RNG_SHUFFLE);
    eqs_rng_uniform(ref, EQS_RNG_NOISE);
    eqs_rng_state want_rng;
    eqs_ctx_rng_state_get(ref, &want_rng);
    double *want_g = params(E.c);

    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    double got_m[64];
    memset(got_m, 0xff, sizeof got_m);
    size_t got_o[10] = {0};
    const size_t want_o[10] = {3, 1, 4, 0, 5, 9, 2, 6, 8, 7};
    eqs_train_state st = {.momentum = got_m, .order = got_o, .n_order = 10};
    ck_assert_msg(eqs_checkpoint_read(ctx, N.c, path, &st) == EQS_OK, "%s", eqs_ctx_error(ctx));
    double *got_g = params(N.c);
    ck_assert_int_eq(memcmp(got_g, want_g, (size_t)n * sizeof *got_g), 0);
    ck_assert_int_eq(memcmp(got_m, mom, (size_t)n * sizeof *got_m), 0);
    ck_assert(signbit(got_m[2]));
    ck_assert_uint_eq(st.epoch, 3);
    ck_assert_uint_eq(st.batch, 17);
    ck_assert(st.lr_scale == 0.9801);
    ck_assert_int_eq(st.has_momentum, 1);
    ck_assert_int_eq(st.has_order, 1);
    ck_assert_int_eq(memcmp(got_o, want_o, sizeof got_o), 0);
    eqs_rng_state got_rng;
    eqs_ctx_rng_state_get(ctx, &got_rng);
    ck_assert_int_eq(memcmp(&got_rng, &want_rng, sizeof got_rng), 0);
    /* the RNG continues identically */
    ck_assert_uint_eq(eqs_rng_u64(ctx, EQS_RNG_SHUFFLE), eqs_rng_u64(ref, EQS_RNG_SHUFFLE));

    /* a caller that does not want the momentum may pass NULL */
    eqs_train_state st2 = {0};
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, &st2), EQS_OK);
    ck_assert_int_eq(st2.has_momentum, 1);
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, NULL), EQS_OK);

    /* writing the restored state again gives the same bytes */
    const char *dir = tu_temp_dir();
    char path2[512];
    snprintf(path2, sizeof path2, "%s/again.bin", dir);
    eqs_ctx_rng_state_set(ctx, &want_rng);
    st.momentum = got_m;
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, path2), EQS_OK);
    size_t la, lb;
    unsigned char *a = read_bytes(path, &la), *b = read_bytes(path2, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(a, b, la), 0);
    ck_assert_uint_eq(la, 184 + 16 * (size_t)n + 8 * 10 + 8);
    free(a);
    free(b);

    free(want_g);
    free(got_g);
    net_free(&N);
    net_free(&E);
    eqs_ctx_free(&ctx);
    eqs_ctx_free(&ref);
    free(text);
}
END_TEST

START_TEST(test_checkpoint_without_momentum)
{
    char *text = tu_gen_drn(LAYERS, 3, 2);
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/c.bin", dir);
    eqs_train_state st = {.epoch = 1, .batch = 0, .lr_scale = 1.0, .momentum = NULL};
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, path), EQS_OK);
    double m[64];
    for (int k = 0; k < 64; ++k) m[k] = 5;
    eqs_train_state in = {.momentum = m, .has_momentum = 7};
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, &in), EQS_OK);
    ck_assert_int_eq(in.has_momentum, 0);
    for (int k = 0; k < eqs_circuit_param_count(N.c); ++k) ck_assert(m[k] == 0.0);
    ck_assert_uint_eq(in.epoch, 1);
    ck_assert_int_eq(in.has_order, 0);
    net_free(&N);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* Read a damaged copy: EQS_ERR_INPUT, the message names the file and says
 * `what`, and the circuit and RNG are unchanged. */
static void expect_bad(const char *text, const unsigned char *b, size_t n, const char *what)
{
    const char *dir = tu_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/bad.bin", dir);
    write_bytes(path, b, n);
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    double *before = params(N.c);
    eqs_rng_state r0, r1;
    eqs_ctx_rng_state_get(ctx, &r0);
    eqs_train_state st = {0};
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, &st), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), path) != NULL, "%s", eqs_ctx_error(ctx));
    ck_assert_msg(strstr(eqs_ctx_error(ctx), what) != NULL, "want '%s' in: %s", what,
                  eqs_ctx_error(ctx));
    double *after = params(N.c);
    ck_assert_int_eq(memcmp(before, after, (size_t)eqs_circuit_param_count(N.c) * sizeof *after),
                     0);
    eqs_ctx_rng_state_get(ctx, &r1);
    ck_assert_int_eq(memcmp(&r0, &r1, sizeof r0), 0);
    free(before);
    free(after);
    net_free(&N);
    eqs_ctx_free(&ctx);
}

/* Recompute the trailing FNV-1a 64 checksum after an edit (format v1). */
static void reseal(unsigned char *b, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len - 8; ++i) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 8; ++i) b[len - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
}

START_TEST(test_checkpoint_corruption)
{
    double mom[64];
    int n = 0;
    char *text = NULL;
    const char *path = make_checkpoint(&text, mom, &n);
    size_t len;
    unsigned char *good = read_bytes(path, &len);
    unsigned char *b = malloc(len + 16);

    memcpy(b, good, len);
    b[0] = 'X';
    expect_bad(text, b, len, "bad magic");
    expect_bad(text, b, 0, "bad magic"); /* empty file */
    expect_bad(text, good, 5, "bad magic");

    memcpy(b, good, len);
    b[8] = 2; /* format version 2 */
    expect_bad(text, b, len, "format version 2");

    /* truncated: inside the header, inside the data, the checksum cut */
    expect_bad(text, good, 100, "truncated");
    expect_bad(text, good, 184 + 8 * 3, "truncated");
    expect_bad(text, good, len - 1, "truncated");

    memcpy(b, good, len);
    memcpy(b + len, "extra", 5);
    expect_bad(text, b, len + 5, "unexpected bytes");

    /* one flipped bit in a conductance, in the epoch, in the checksum */
    size_t where[] = {184 + 8 * 5 + 3, 44, len - 2};
    for (size_t i = 0; i < 3; ++i) {
        memcpy(b, good, len);
        b[where[i]] ^= 0x10;
        expect_bad(text, b, len, "checksum");
    }

    /* unknown flag bits */
    memcpy(b, good, len);
    b[172] |= 4;
    expect_bad(text, b, len, "flags");

    /* well-formed (checksum recomputed) but invalid contents */
    memcpy(b, good, len);
    memset(b + 76 + 32, 0, 32); /* shuffle stream all zero */
    reseal(b, len);
    expect_bad(text, b, len, "RNG stream 1");
    memcpy(b, good, len);
    memset(b + 184 + 8 * 4, 0, 8); /* conductance 4 = +0.0 */
    reseal(b, len);
    expect_bad(text, b, len, "invalid conductance");
    memcpy(b, good, len);
    b[len - 8 - 8] = 10; /* last order entry = 10 >= 10 samples */
    reseal(b, len);
    expect_bad(text, b, len, "out of range");
    memcpy(b, good, len);
    memset(b + 60, 0xff, 8); /* lr_scale NaN */
    reseal(b, len);
    expect_bad(text, b, len, "learning-rate scale");

    /* the order must fit the caller's training set */
    {
        const char *dir = tu_temp_dir();
        char p2[512];
        snprintf(p2, sizeof p2, "%s/ok.bin", dir);
        write_bytes(p2, good, len);
        eqs_ctx *cx = tu_ctx();
        net M;
        net_load(&M, cx, text);
        size_t ord[12];
        eqs_train_state st = {.order = ord, .n_order = 12};
        ck_assert_int_eq(eqs_checkpoint_read(cx, M.c, p2, &st), EQS_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(eqs_ctx_error(cx), "training set has 12"));
        net_free(&M);
        eqs_ctx_free(&cx);
    }

    /* another network: a different layout, and the same sizes with one
     * element renamed */
    const int other[] = {3, 5, 2};
    char *text2 = tu_gen_drn(other, 3, 9);
    expect_bad(text2, good, len, "another network");
    free(text2);
    char *text3 = strdup(text);
    char *r = strstr(text3, "\nr2_0_0 ");
    ck_assert_ptr_nonnull(r);
    r[1] = 'R';
    r[2] = 'x'; /* rx_0_0: same count, another name */
    expect_bad(text3, good, len, "another network");
    free(text3);

    /* a missing file is an input error naming it */
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    eqs_train_state st = {0};
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, "/nonexistent/ck.bin", &st), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "/nonexistent/ck.bin"));
    net_free(&N);
    eqs_ctx_free(&ctx);

    free(b);
    free(good);
    free(text);
}
END_TEST

/* A crash between writing the temporary file and the rename leaves the old
 * checkpoint in force: simulate it by writing the temp file by hand. */
START_TEST(test_checkpoint_atomic)
{
    char *text = tu_gen_drn(LAYERS, 3, 4);
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    const char *dir = tu_temp_dir();
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    eqs_train_state st = {.epoch = 1, .lr_scale = 1.0};
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, path), EQS_OK);
    double *old = params(N.c);

    /* the next checkpoint, complete but never renamed, and a torn one */
    ck_assert_int_eq(eqs_circuit_param_set(N.c, 0, 0.5), EQS_OK);
    st.epoch = 2;
    snprintf(tmp, sizeof tmp, "%s/next.bin", dir);
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, tmp), EQS_OK);
    size_t len;
    unsigned char *b = read_bytes(tmp, &len);
    remove(tmp);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, 99999L);
    write_bytes(tmp, b, len / 2);
    free(b);

    eqs_ctx *ctx2 = tu_ctx();
    net M;
    net_load(&M, ctx2, text);
    eqs_train_state in = {0};
    ck_assert_int_eq(eqs_checkpoint_read(ctx2, M.c, path, &in), EQS_OK);
    ck_assert_uint_eq(in.epoch, 1);
    double *got = params(M.c);
    ck_assert_int_eq(memcmp(got, old, (size_t)eqs_circuit_param_count(M.c) * sizeof *got), 0);
    /* a successful write leaves no temporary file of its own */
    char own[600];
    snprintf(own, sizeof own, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_ne(access(own, F_OK), 0);
    /* writing into a missing directory fails cleanly */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/ck.bin", dir);
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, nodir), EQS_ERR_IO);
    free(got);
    free(old);
    net_free(&M);
    net_free(&N);
    eqs_ctx_free(&ctx);
    eqs_ctx_free(&ctx2);
    free(text);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Run directory                                                       */
/* ------------------------------------------------------------------ */

START_TEST(test_run_dir_create)
{
    eqs_ctx *ctx = tu_ctx();
    const char *base = tu_temp_dir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/a/b/run", base);
    eqs_run *run = NULL;
    ck_assert_msg(eqs_run_open(ctx, dir, 0, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_str_eq(strrchr(eqs_run_path(run, EQS_RUN_METRICS), '/'), "/metrics.csv");
    ck_assert_str_eq(strrchr(eqs_run_path(run, EQS_RUN_CHECKPOINT), '/'), "/checkpoint.bin");
    ck_assert_str_eq(strrchr(eqs_run_path(run, EQS_RUN_NETLIST), '/'), "/trained.cir");
    ck_assert_str_eq(strrchr(eqs_run_path(run, EQS_RUN_PLOT), '/'), "/learning_curve.png");
    ck_assert_ptr_null(eqs_run_path(run, EQS_RUN_NFILES));
    ck_assert_int_eq(eqs_run_path(run, EQS_RUN_METRICS)[0], '/');
    char *m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds\n");
    free(m);
    eqs_epoch_metrics row = {1, 0.25, 0.5, NAN, NAN, 1.5};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    row = (eqs_epoch_metrics){2, 0.125, 0.1, 0.2, 1.0 / 3.0, 2.0};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    /* visible on disk at once (flushed) */
    m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                        "1,0.25,0.5,nan,nan,1.5\n"
                        "2,0.125,0.10000000000000001,0.20000000000000001,"
                        "0.33333333333333331,2\n");
    free(m);

    /* the experiment copy carries the seed and the version */
    eqs_experiment *e = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, tu_path("netlists/xor-experiment.xml"), &e) == EQS_OK,
                  "%s", eqs_ctx_error(ctx));
    e->seed = 77;
    ck_assert_int_eq(eqs_run_write_experiment(run, e), EQS_OK);
    eqs_experiment *back = NULL;
    ck_assert_msg(eqs_experiment_read(ctx, eqs_run_path(run, EQS_RUN_EXPERIMENT), &back) ==
                      EQS_OK,
                  "%s", eqs_ctx_error(ctx));
    ck_assert_uint_eq(back->seed, 77);
    ck_assert_str_eq(back->eqspice_version, EQS_VERSION);
    eqs_experiment_free(&back);
    eqs_experiment_free(&e);
    eqs_run_close(&run);
    ck_assert_ptr_null(run);
    eqs_run_close(&run); /* NULL-safe */

    /* no checkpoint yet: an unfinished run, started again from its header */
    ck_assert_msg(eqs_run_open(ctx, dir, 0, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_run_get_mode(run), EQS_RUN_MODE_RESTART);
    m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds\n");
    free(m);
    eqs_run_close(&run);
    /* with a checkpoint: refused without resume */
    char ck[700];
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", dir);
    write_bytes(ck, (const unsigned char *)"x", 1);
    ck_assert_int_eq(eqs_run_open(ctx, dir, 0, &run), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "not empty"));
    ck_assert_ptr_null(run);
    eqs_ctx_clear_error(ctx);
    /* an existing empty directory is fine */
    const char *empty = tu_temp_dir();
    ck_assert_int_eq(eqs_run_open(ctx, empty, 0, &run), EQS_OK);
    eqs_run_close(&run);
    /* a file is not a directory */
    const char *file = tu_write_temp("x", ".txt");
    ck_assert_int_eq(eqs_run_open(ctx, file, 0, &run), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_run_open(ctx, "", 0, &run), EQS_ERR_INPUT);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_run_dir_resume)
{
    eqs_ctx *ctx = tu_ctx();
    const char *dir = tu_temp_dir();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/run", dir);
    eqs_run *run = NULL;
    /* nothing to resume */
    ck_assert_int_eq(eqs_run_open(ctx, sub, 1, &run), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_run_open(ctx, sub, 0, &run), EQS_OK);
    for (int e = 1; e <= 3; ++e) {
        eqs_epoch_metrics row = {e, 1.0 / e, 0.5 / e, NAN, NAN, 1};
        ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    }
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s", eqs_run_path(run, EQS_RUN_CHECKPOINT));
    eqs_run_close(&run);
    /* no checkpoint yet: the resumed run starts from epoch 0 */
    ck_assert_msg(eqs_run_open(ctx, sub, 1, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_run_get_mode(run), EQS_RUN_MODE_RESTART);
    for (int e = 1; e <= 3; ++e) {
        eqs_epoch_metrics row = {e, 1.0 / e, 0.5 / e, NAN, NAN, 1};
        ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    }
    eqs_run_close(&run);

    char *text = tu_gen_drn(LAYERS, 3, 1);
    net N;
    net_load(&N, ctx, text);
    eqs_train_state st = {.epoch = 2, .lr_scale = 1};
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, ckpt), EQS_OK);
    /* a torn row (crash mid-write) and a stale temporary file */
    FILE *f = fopen(strcat(strcpy((char[600]){0}, sub), "/metrics.csv"), "ab");
    fputs("4,0.1,0.0", f);
    fclose(f);
    char stale[700];
    snprintf(stale, sizeof stale, "%s.tmp.12345", ckpt);
    f = fopen(stale, "wb");
    fputs("garbage", f);
    fclose(f);

    ck_assert_msg(eqs_run_open(ctx, sub, 1, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_run_get_mode(run), EQS_RUN_MODE_RESUME);
    ck_assert_int_ne(access(stale, F_OK), 0);
    ck_assert_int_eq(eqs_run_metrics_truncate(run, 2), EQS_OK);
    eqs_epoch_metrics row = {3, 0.3, 0.2, NAN, NAN, 1};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    char *m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                        "1,1,0.5,nan,nan,1\n"
                        "2,0.5,0.25,nan,nan,1\n"
                        "3,0.29999999999999999,0.20000000000000001,nan,nan,1\n");
    free(m);
    eqs_run_close(&run);

    /* a metrics file that is not ours */
    f = fopen(strcat(strcpy((char[600]){0}, sub), "/metrics.csv"), "wb");
    fputs("a,b\n", f);
    fclose(f);
    ck_assert_int_eq(eqs_run_open(ctx, sub, 1, &run), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "metrics"));
    net_free(&N);
    free(text);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Learning-curve plot                                                 */
/* ------------------------------------------------------------------ */

/* Pixels of exactly colour rgb (0xRRGGBB) in a PNG read back with cairo;
 * -1 if the file is not a PNG of the expected size. */
static long count_colour(const char *png, unsigned rgb)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS ||
        cairo_image_surface_get_width(s) != EQS_PLOT_WIDTH ||
        cairo_image_surface_get_height(s) != EQS_PLOT_HEIGHT) {
        cairo_surface_destroy(s);
        return -1;
    }
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    long n = 0;
    for (int y = 0; y < EQS_PLOT_HEIGHT; ++y) {
        const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y * (size_t)stride);
        for (int x = 0; x < EQS_PLOT_WIDTH; ++x)
            if ((row[x] & 0xffffffu) == rgb) n++;
    }
    cairo_surface_destroy(s);
    return n;
}

/* cairo and fontconfig keep fonts in process-wide caches that they never
 * free; release them so that LeakSanitizer (make check-asan) sees a clean
 * exit.  Only a test may do this: it owns the process.  FcFini is looked up
 * at run time because the tests link cairo, not fontconfig, directly. */
static void release_font_caches(void)
{
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "FcFini");
    memcpy(&fc_fini, &sym, sizeof fc_fini);
    if (fc_fini) fc_fini();
}

#define TRAIN_COLOUR 0x1f77b4u
#define TEST_COLOUR 0xff7f0eu

START_TEST(test_plot_learning_curve)
{
    eqs_ctx *ctx = tu_ctx();
    const char *csv = tu_write_temp("epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                                    "1,0.5,0.62,0.5,0.65,1\n"
                                    "2,0.4,0.41,0.45,0.47,1\n"
                                    "3,0.3,0.30,0.35,0.36,1\n"
                                    "4,0.2,0.22,0.3,0.29,1\n",
                                    ".csv");
    char png[512];
    snprintf(png, sizeof png, "%s.png", csv);
    ck_assert_msg(eqs_plot_learning_curve(ctx, csv, png) == EQS_OK, "%s", eqs_ctx_error(ctx));
    size_t n;
    unsigned char *b = read_bytes(png, &n);
    ck_assert_uint_gt(n, 8);
    ck_assert_int_eq(memcmp(b, "\x89PNG\r\n\x1a\n", 8), 0);
    free(b);
    long tr = count_colour(png, TRAIN_COLOUR), te = count_colour(png, TEST_COLOUR);
    ck_assert_int_gt(tr, 200); /* three segments 2.5 px wide, markers, legend */
    ck_assert_int_gt(te, 200);
    ck_assert_int_gt(count_colour(png, 0xffffffu), EQS_PLOT_WIDTH * EQS_PLOT_HEIGHT / 2);

    /* no test set ("nan"): only the train curve */
    csv = tu_write_temp("epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                        "1,0.5,0.031,nan,nan,1\n",
                        ".csv");
    snprintf(png, sizeof png, "%s.png", csv);
    ck_assert_int_eq(eqs_plot_learning_curve(ctx, csv, png), EQS_OK);
    ck_assert_int_gt(count_colour(png, TRAIN_COLOUR), 20);
    ck_assert_int_eq(count_colour(png, TEST_COLOUR), 0);
    eqs_ctx_free(&ctx);
    release_font_caches();
}
END_TEST

static void expect_plot_error(const char *csv, const char *what)
{
    eqs_ctx *ctx = tu_ctx();
    const char *dir = tu_temp_dir();
    char png[512];
    snprintf(png, sizeof png, "%s/curve.png", dir);
    ck_assert_int_eq(eqs_plot_learning_curve(ctx, csv, png), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), csv) && strstr(eqs_ctx_error(ctx), what),
                  "want '%s': %s", what, eqs_ctx_error(ctx));
    ck_assert_int_ne(access(png, F_OK), 0); /* nothing written */
    eqs_ctx_free(&ctx);
}

START_TEST(test_plot_bad_metrics)
{
    expect_plot_error("/nonexistent/metrics.csv", "cannot read");
    expect_plot_error(tu_write_temp("", ".csv"), "empty");
    expect_plot_error(
        tu_write_temp("epoch,train_loss,train_error,test_loss,test_error,seconds\n", ".csv"),
        "no epochs");
    expect_plot_error(tu_write_temp("a,b,c\n1,2,3\n", ".csv"), "not a metrics file");
    expect_plot_error(tu_write_temp("epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                                    "1,0.5,0.5,0.5,0.5,1\n"
                                    "2,0.5,oops,0.5,0.5,1\n",
                                    ".csv"),
                      ":3:1: error: malformed");
}
END_TEST

/* ------------------------------------------------------------------ */
/* CLI progress reporting (src/cli/progress.c is compiled in here: the */
/* test binary links the library, not the CLI objects)                 */
/* ------------------------------------------------------------------ */
#include "cli/progress.c"

START_TEST(test_progress_not_a_tty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_progress p;
    cli_progress_init(&p, f, -1, 3); /* a memory stream is not a terminal */
    ck_assert_int_eq(p.tty, 0);
    cli_progress_epoch_begin(&p, 1, 512, 10.0);
    for (size_t i = 1; i <= 512; ++i) cli_progress_update(&p, i, 0.5, 10.0 + 0.002 * (double)i);
    fflush(f);
    ck_assert_uint_eq(len, 0); /* no bar: nothing until the epoch ends */
    eqs_epoch_metrics m = {1, 0.0123, 0.125, NAN, NAN, 2.0};
    cli_progress_epoch_end(&p, &m, 12.0);
    cli_progress_epoch_begin(&p, 2, 512, 12.0);
    cli_progress_update(&p, 100, 0.25, 12.5);
    m = (eqs_epoch_metrics){2, 0.01, 0.1, 0.02, 0.131, 1.0};
    cli_progress_epoch_end(&p, &m, 13.0);
    fclose(f);
    ck_assert_str_eq(buf, "epoch 1/3: train loss 0.0123 error 12.50% | 512 samples in 2.00 s "
                          "(256 samples/s)\n"
                          "epoch 2/3: train loss 0.01 error 10.00% | test loss 0.02 error "
                          "13.10% | 512 samples in 1.00 s (512 samples/s)\n");
    ck_assert_ptr_null(strchr(buf, '\r'));
    ck_assert_ptr_null(strchr(buf, '\x1b'));
    free(buf);
}
END_TEST

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; ++s) n += *s == c;
    return n;
}

/* The terminal path, forced: at most one redraw per 0.1 s, the last
 * sample always drawn, the bar erased before the epoch line. */
START_TEST(test_progress_tty_rate_limit)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_progress p;
    cli_progress_init(&p, f, 1, 1);
    cli_progress_epoch_begin(&p, 1, 1000, 0.0);
    /* 1000 samples over 1 s: at most 11 redraws (t = 0, 0.1, ..., and the end) */
    for (size_t i = 1; i <= 1000; ++i) cli_progress_update(&p, i, 0.5, 0.001 * (double)i);
    fflush(f);
    int redraws = count_char(buf, '\r');
    ck_assert_int_ge(redraws, 10);
    ck_assert_int_le(redraws, 11);
    ck_assert_ptr_nonnull(strstr(buf, "1000/1000"));
    ck_assert_ptr_nonnull(strstr(buf, "100%"));
    ck_assert_ptr_nonnull(strstr(buf, "1000 samples/s"));
    ck_assert_ptr_nonnull(strstr(buf, "loss 0.5"));
    eqs_epoch_metrics m = {1, 0.5, 0.25, NAN, NAN, 1.0};
    cli_progress_epoch_end(&p, &m, 1.0);
    fclose(f);
    const char *last = strrchr(buf, '\r');
    ck_assert_str_eq(last, "\r\x1b[Kepoch 1/1: train loss 0.5 error 25.00% | 1000 samples in "
                           "1.00 s (1000 samples/s)\n");
    free(buf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* End to end: a mock training loop killed with SIGKILL and resumed    */
/* ------------------------------------------------------------------ */
/* The loop follows the contract of docs/training.md: shuffle at the start
 * of an epoch, checkpoint every CK_EVERY batches and at the end of every
 * epoch (with the epoch's order), metrics row after the end-of-epoch
 * checkpoint; "updates" draw from the noise stream and use momentum, so
 * any state not restored exactly shows in the final conductances. */
#define MOCK_N 10
#define MOCK_BATCH 3
#define MOCK_EPOCHS 3
#define MOCK_CK_EVERY 2

/* Run (or resume) the mock training in `dir`; raise SIGKILL just after
 * global batch `kill_at` (-1: never).  Returns the final conductances. */
static double *mock_train(const char *text, const char *dir, int resume, int kill_at)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_ctx_seed(ctx, 5);
    net N;
    net_load(&N, ctx, text);
    int np = eqs_circuit_param_count(N.c);
    double *mom = calloc((size_t)np, sizeof *mom);
    size_t order[MOCK_N];
    eqs_train_state st = {.lr_scale = 1.0, .momentum = mom, .order = order, .n_order = MOCK_N};
    eqs_run *run = NULL;
    ck_assert_msg(eqs_run_open(ctx, dir, resume, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    if (resume) {
        ck_assert_msg(eqs_checkpoint_read(ctx, N.c, eqs_run_path(run, EQS_RUN_CHECKPOINT), &st) ==
                          EQS_OK,
                      "%s", eqs_ctx_error(ctx));
        ck_assert_int_eq(eqs_run_metrics_truncate(run, (int)st.epoch), EQS_OK);
    }
    const int nb = (MOCK_N + MOCK_BATCH - 1) / MOCK_BATCH;
    int global = 0;
    for (int epoch = (int)st.epoch; epoch < MOCK_EPOCHS; ++epoch) {
        if (st.batch == 0) {
            eqs_shuffle_identity(order, MOCK_N);
            eqs_shuffle(ctx, order, MOCK_N);
        }
        for (int b = (int)st.batch; b < nb; ++b) {
            for (int i = b * MOCK_BATCH; i < (b + 1) * MOCK_BATCH && i < MOCK_N; ++i)
                for (int k = 0; k < np; ++k) {
                    double u = eqs_rng_uniform(ctx, EQS_RNG_NOISE) - 0.5;
                    mom[k] = 0.9 * mom[k] + 1e-3 * st.lr_scale * u * (double)(order[i] + 1);
                    double g = eqs_circuit_param_get(N.c, k) * (1.0 + mom[k]);
                    ck_assert_int_eq(eqs_circuit_param_set(N.c, k, g), EQS_OK);
                }
            st.epoch = (uint64_t)epoch;
            st.batch = (uint64_t)b + 1;
            if ((b + 1) % MOCK_CK_EVERY == 0 && b + 1 < nb)
                ck_assert_int_eq(
                    eqs_checkpoint_write(ctx, N.c, &st, eqs_run_path(run, EQS_RUN_CHECKPOINT)),
                    EQS_OK);
            global = epoch * nb + b;
            if (global == kill_at) raise(SIGKILL);
        }
        st.epoch = (uint64_t)epoch + 1;
        st.batch = 0;
        st.lr_scale *= 0.9;
        ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, eqs_run_path(run, EQS_RUN_CHECKPOINT)),
                         EQS_OK);
        eqs_epoch_metrics m = {epoch + 1, eqs_circuit_param_get(N.c, 0), 0.1 * epoch, NAN, NAN, 0};
        ck_assert_int_eq(eqs_run_metrics_append(run, &m), EQS_OK);
    }
    double *g = params(N.c);
    eqs_run_close(&run);
    free(mom);
    net_free(&N);
    eqs_ctx_free(&ctx);
    return g;
}

START_TEST(test_resume_after_sigkill_is_bit_identical)
{
    char *text = tu_gen_drn(LAYERS, 3, 6);
    const char *base = tu_temp_dir();
    char ref_dir[512], dir[512];
    snprintf(ref_dir, sizeof ref_dir, "%s/ref", base);
    double *ref = mock_train(text, ref_dir, 0, -1);
    char *ref_metrics = tu_read_file(strcat(strcpy((char[600]){0}, ref_dir), "/metrics.csv"));
    int np = 0;
    {
        eqs_ctx *ctx = tu_ctx();
        net N;
        net_load(&N, ctx, text);
        np = eqs_circuit_param_count(N.c);
        net_free(&N);
        eqs_ctx_free(&ctx);
    }
    /* kill points: mid-epoch after a checkpoint, mid-epoch before one, and
     * on the last batch of an epoch (before its end-of-epoch checkpoint) */
    const int kills[] = {1, 4, 6, 7};
    for (size_t t = 0; t < sizeof kills / sizeof *kills; ++t) {
        snprintf(dir, sizeof dir, "%s/run%zu", base, t);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            mock_train(text, dir, 0, kills[t]);
            _exit(3); /* not reached */
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "kill point %d",
                      kills[t]);
        double *got = mock_train(text, dir, 1, -1);
        ck_assert_msg(memcmp(got, ref, (size_t)np * sizeof *got) == 0,
                      "kill at batch %d: conductances differ", kills[t]);
        char *metrics = tu_read_file(strcat(strcpy((char[600]){0}, dir), "/metrics.csv"));
        ck_assert_str_eq(metrics, ref_metrics);
        free(metrics);
        free(got);
    }
    free(ref_metrics);
    free(ref);
    free(text);
}
END_TEST

Suite *suite_run(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_rng_state_roundtrip);
    tcase_add_test(tc, test_checkpoint_roundtrip);
    tcase_add_test(tc, test_checkpoint_without_momentum);
    tcase_add_test(tc, test_checkpoint_corruption);
    tcase_add_test(tc, test_checkpoint_atomic);
    suite_add_tcase(s, tc);
    tc = tcase_create("rundir");
    tcase_add_test(tc, test_run_dir_create);
    tcase_add_test(tc, test_run_dir_resume);
    tcase_add_test(tc, test_resume_after_sigkill_is_bit_identical);
    suite_add_tcase(s, tc);
    tc = tcase_create("plot");
    tcase_add_test(tc, test_plot_learning_curve);
    tcase_add_test(tc, test_plot_bad_metrics);
    suite_add_tcase(s, tc);
    tc = tcase_create("progress");
    tcase_add_test(tc, test_progress_not_a_tty);
    tcase_add_test(tc, test_progress_tty_rate_limit);
    suite_add_tcase(s, tc);
    return s;
}
