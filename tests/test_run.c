/* test_run.c: RNG state, checkpoints (round trip, corruption, atomicity),
 * the run directory and metrics.csv; run-directory states, the lock, write
 * errors (EFBIG, ENOSPC), file modes. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "testutil.h"

#include <cairo.h> /* reads the plot back */
#include <dlfcn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
        ck_assert_int_eq(eqs_circuit_momentum_set(N.c, k, mom[k]), EQS_OK);
    }
    eqs_ctx_seed(ctx, 1234);
    for (int i = 0; i < 17; ++i) eqs_rng_u64(ctx, EQS_RNG_SHUFFLE);
    eqs_rng_uniform(ctx, EQS_RNG_NOISE);
    static size_t order[10] = {3, 1, 4, 0, 5, 9, 2, 6, 8, 7};
    eqs_train_state st = {.epoch = 3, .batch = 17, .lr_scale = 0.9801, .momentum = 1,
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
    eqs_train_state st = {.order = got_o, .n_order = 10};
    ck_assert_msg(eqs_checkpoint_read(ctx, N.c, path, &st) == EQS_OK, "%s", eqs_ctx_error(ctx));
    for (int k = 0; k < n; ++k) got_m[k] = eqs_circuit_momentum_get(N.c, k);
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
    st.momentum = 1;
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
    eqs_train_state st = {.epoch = 1, .batch = 0, .lr_scale = 1.0, .momentum = 0};
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, path), EQS_OK);
    for (int k = 0; k < eqs_circuit_param_count(N.c); ++k)
        ck_assert_int_eq(eqs_circuit_momentum_set(N.c, k, 5.0), EQS_OK);
    eqs_train_state in = {.has_momentum = 7};
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, &in), EQS_OK);
    ck_assert_int_eq(in.has_momentum, 0);
    /* no momentum in the file: the circuit's is zeroed */
    for (int k = 0; k < eqs_circuit_param_count(N.c); ++k)
        ck_assert(eqs_circuit_momentum_get(N.c, k) == 0.0);
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
    char *r = strstr(text3, "\n.crossbar r2\n");
    ck_assert_ptr_nonnull(r);
    r[12] = 'x'; /* rx_0_0 ...: same count, other names */
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
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n");
    free(m);
    eqs_epoch_metrics row = {1, 0.25, 0.5, NAN, NAN, 1.5, 0};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    row = (eqs_epoch_metrics){2, 0.125, 0.1, 0.2, 1.0 / 3.0, 2.0,
                              EQS_HEALTH_LOSS_FLAT | EQS_HEALTH_ONE_CLASS};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    /* visible on disk at once (flushed) */
    m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n"
                        "1,0.25,0.5,nan,nan,1.5,\n"
                        "2,0.125,0.10000000000000001,0.20000000000000001,"
                        "0.33333333333333331,2,loss_flat+one_class\n");
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
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n");
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
        eqs_epoch_metrics row = {e, 1.0 / e, 0.5 / e, NAN, NAN, 1, 0};
        ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    }
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s", eqs_run_path(run, EQS_RUN_CHECKPOINT));
    eqs_run_close(&run);
    /* no checkpoint yet: the resumed run starts from epoch 0 */
    ck_assert_msg(eqs_run_open(ctx, sub, 1, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_run_get_mode(run), EQS_RUN_MODE_RESTART);
    for (int e = 1; e <= 3; ++e) {
        eqs_epoch_metrics row = {e, 1.0 / e, 0.5 / e, NAN, NAN, 1, 0};
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
    eqs_epoch_metrics row = {3, 0.3, 0.2, NAN, NAN, 1, EQS_HEALTH_HIDDEN_OFF};
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    char *m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n"
                        "1,1,0.5,nan,nan,1,\n"
                        "2,0.5,0.25,nan,nan,1,\n"
                        "3,0.29999999999999999,0.20000000000000001,nan,nan,1,hidden_off\n");
    free(m);
    eqs_run_close(&run);

    /* a run made before the `warnings` column resumes in its own format */
    f = fopen(strcat(strcpy((char[600]){0}, sub), "/metrics.csv"), "wb");
    fputs("epoch,train_loss,train_error,test_loss,test_error,seconds\n1,1,0.5,nan,nan,1\n", f);
    fclose(f);
    ck_assert_msg(eqs_run_open(ctx, sub, 1, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(eqs_run_metrics_append(run, &row), EQS_OK);
    m = tu_read_file(eqs_run_path(run, EQS_RUN_METRICS));
    ck_assert_str_eq(m, "epoch,train_loss,train_error,test_loss,test_error,seconds\n"
                        "1,1,0.5,nan,nan,1\n"
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
    expect_plot_error("/nonexistent/metrics.csv", "cannot open metrics file");
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
    eqs_train_state st = {.lr_scale = 1.0, .momentum = 1, .order = order, .n_order = MOCK_N};
    eqs_run *run = NULL;
    ck_assert_msg(eqs_run_open(ctx, dir, resume, &run) == EQS_OK, "%s", eqs_ctx_error(ctx));
    if (resume) {
        ck_assert_msg(eqs_checkpoint_read(ctx, N.c, eqs_run_path(run, EQS_RUN_CHECKPOINT), &st) ==
                          EQS_OK,
                      "%s", eqs_ctx_error(ctx));
        ck_assert_int_eq(eqs_run_metrics_truncate(run, (int)st.epoch), EQS_OK);
        for (int k = 0; k < np; ++k) mom[k] = eqs_circuit_momentum_get(N.c, k);
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
                    ck_assert_int_eq(eqs_circuit_momentum_set(N.c, k, mom[k]), EQS_OK);
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
        eqs_epoch_metrics m = {epoch + 1, eqs_circuit_param_get(N.c, 0), 0.1 * epoch, NAN, NAN, 0,
                               0};
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

/* ------------------------------------------------------------------ */
/* Run directory states, lock, write errors, modes                     */
/* ------------------------------------------------------------------ */

#define HEADER "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n"

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_bytes(p, (const unsigned char *)text, strlen(text));
}

static char *get(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tu_read_file(p);
}

static int has(const char *dir, const char *name)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &sb) == 0;
}

/* Entries of dir whose name contains ".tmp" (temporary files). */
static int temps_in(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

static void make_dir(char *buf, size_t n, const char *base, const char *name)
{
    snprintf(buf, n, "%s/%s", base, name);
    ck_assert_int_eq(mkdir(buf, 0777), 0);
}

/* eqs_run_open must fail with EQS_ERR_INPUT and a message holding `want`. */
static void expect_open_error(eqs_ctx *ctx, const char *dir, int resume, const char *want)
{
    eqs_run *run = NULL;
    eqs_status st = eqs_run_open(ctx, dir, resume, &run);
    ck_assert_msg(st == EQS_ERR_INPUT, "%s (resume %d): status %d, %s", dir, resume, (int)st,
                  eqs_ctx_error(ctx));
    ck_assert_ptr_null(run);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), want) != NULL, "expected '%s' in: %s", want,
                  eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
}

static eqs_run *expect_open(eqs_ctx *ctx, const char *dir, int resume, eqs_run_mode mode)
{
    eqs_run *run = NULL;
    ck_assert_msg(eqs_run_open(ctx, dir, resume, &run) == EQS_OK, "%s (resume %d): %s", dir,
                  resume, eqs_ctx_error(ctx));
    ck_assert_msg(eqs_run_get_mode(run) == mode, "%s (resume %d): mode %d, expected %d", dir,
                  resume, (int)eqs_run_get_mode(run), (int)mode);
    return run;
}

/* The file is byte for byte what it was. */
static void expect_same(const char *dir, const char *name, const char *before)
{
    char *now = get(dir, name);
    ck_assert_msg(now && !strcmp(now, before), "%s/%s changed", dir, name);
    free(now);
}

static void write_ckpt(const char *dir, uint64_t epoch, uint64_t batch)
{
    char *text = tu_gen_drn(LAYERS, 3, 2);
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    char p[1024];
    snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
    eqs_train_state st = {.epoch = epoch, .batch = batch, .lr_scale = 1};
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, p), EQS_OK);
    net_free(&N);
    eqs_ctx_free(&ctx);
    free(text);
}

/* Every state a run directory can be found in, both ways of opening it
 * (docs/training.md "Run directory", the table). */
START_TEST(test_run_dir_states)
{
    eqs_ctx *ctx = tu_ctx();
    const char *base = tu_temp_dir();
    char d[600];
    eqs_run *run = NULL;

    /* --resume of a directory that does not exist: error, nothing created */
    snprintf(d, sizeof d, "%s/none", base);
    expect_open_error(ctx, d, 1, "does not exist");
    ck_assert(!has(base, "none"));

    /* an unfinished run killed before its first checkpoint (one row written,
     * a stale plot, torn temporary files), a file of the user's beside it:
     * started again at epoch 0 either way */
    make_dir(d, sizeof d, base, "unfinished");
    for (int resume = 0; resume <= 1; ++resume) {
        put(d, "metrics.csv", HEADER "1,0.5,0.25,nan,nan,1\n");
        put(d, "experiment.xml", "<experiment/>\n");
        put(d, "learning_curve.png", "png");
        put(d, "notes.txt", "mine");
        put(d, "checkpoint.bin.tmp.4242", "torn");
        put(d, "experiment.xml.tmpAbC123", "torn");
        run = expect_open(ctx, d, resume, EQS_RUN_MODE_RESTART);
        expect_same(d, "metrics.csv", HEADER);
        ck_assert(!has(d, "learning_curve.png"));
        expect_same(d, "notes.txt", "mine");
        expect_same(d, "experiment.xml", "<experiment/>\n"); /* the caller rewrites it */
        ck_assert_int_eq(temps_in(d), 0);
        eqs_run_close(&run);
    }

    /* a checkpoint: refused without --resume, nothing touched */
    make_dir(d, sizeof d, base, "ckpt");
    const char *rows = HEADER "1,0.5,0.25,nan,nan,1\n2,0.25,0.125,nan,nan,1\n";
    put(d, "metrics.csv", rows);
    put(d, "experiment.xml", "<experiment/>\n");
    write_ckpt(d, 2, 0);
    char *ck = get(d, "checkpoint.bin");
    expect_open_error(ctx, d, 0, "not empty: it holds a run with a checkpoint after epoch 2");
    expect_open_error(ctx, d, 0, "--resume");
    write_ckpt(d, 2, 5); /* mid-epoch */
    free(ck);
    ck = get(d, "checkpoint.bin");
    expect_open_error(ctx, d, 0, "checkpoint at epoch 3, batch 5");
    expect_same(d, "metrics.csv", rows);
    expect_same(d, "checkpoint.bin", ck);
    expect_same(d, "experiment.xml", "<experiment/>\n");
    /* ... and resumed with it (metrics cut back later, by the caller) */
    run = expect_open(ctx, d, 1, EQS_RUN_MODE_RESUME);
    expect_same(d, "metrics.csv", rows);
    eqs_run_close(&run);

    /* a finished run: refused, nothing touched */
    put(d, "trained.cir", "* net\n.end\n");
    expect_open_error(ctx, d, 0, "finished run (trained.cir");
    expect_same(d, "metrics.csv", rows);
    expect_same(d, "checkpoint.bin", ck);
    expect_same(d, "trained.cir", "* net\n.end\n");
    free(ck);
    /* results without a checkpoint: refused both ways */
    snprintf(d + strlen(d), sizeof d - strlen(d), "/checkpoint.bin");
    ck_assert_int_eq(remove(d), 0);
    *strrchr(d, '/') = '\0';
    expect_open_error(ctx, d, 0, "results");
    expect_open_error(ctx, d, 1, "results");
    expect_same(d, "trained.cir", "* net\n.end\n");

    /* files that are not a run's: refused both ways */
    make_dir(d, sizeof d, base, "foreign");
    put(d, "notes.txt", "mine");
    expect_open_error(ctx, d, 0, "exists and is not empty, and it holds no eqspice run");
    expect_open_error(ctx, d, 1, "not an eqspice run directory");
    ck_assert(!has(d, "metrics.csv"));
    /* an experiment.xml alone (perhaps the user's input) is not overwritten by
     * a new run; --resume names the directory as the run's: epoch 0 */
    make_dir(d, sizeof d, base, "exp");
    put(d, "experiment.xml", "<experiment/>\n");
    expect_open_error(ctx, d, 0, "not empty");
    run = expect_open(ctx, d, 1, EQS_RUN_MODE_RESTART);
    eqs_run_close(&run);
    /* a metrics.csv that is not ours: refused both ways */
    make_dir(d, sizeof d, base, "csv");
    put(d, "metrics.csv", "a,b\n1,2\n");
    expect_open_error(ctx, d, 0, "not an eqspice metrics file");
    expect_open_error(ctx, d, 1, "not an eqspice metrics file");
    expect_same(d, "metrics.csv", "a,b\n1,2\n");
    /* empty, with --resume: epoch 0 */
    make_dir(d, sizeof d, base, "empty");
    run = expect_open(ctx, d, 1, EQS_RUN_MODE_RESTART);
    expect_same(d, "metrics.csv", HEADER);
    eqs_run_close(&run);
    /* only stale temporary files: a new run, and they are gone */
    make_dir(d, sizeof d, base, "temps");
    put(d, "trained.cir.tmp.77", "torn");
    run = expect_open(ctx, d, 0, EQS_RUN_MODE_NEW);
    ck_assert_int_eq(temps_in(d), 0);
    eqs_run_close(&run);
    eqs_ctx_free(&ctx);
}
END_TEST

static const char *cli_path(void)
{
    const char *cli = getenv("EQS_CLI");
    return cli ? cli : "build/eqspice";
}

/* The lock: a second opener in this process, a child holding the lock, the
 * CLI refused with the holder's PID, and a SIGKILLed holder not blocking. */
START_TEST(test_run_lock)
{
    eqs_ctx *ctx = tu_ctx();
    const char *base = tu_temp_dir();
    char d[600], want[64];
    snprintf(d, sizeof d, "%s/run", base);
    eqs_run *run = expect_open(ctx, d, 0, EQS_RUN_MODE_NEW);
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    expect_same(d, "eqspice.lock", want);
    snprintf(want, sizeof want, "in use by another eqspice process (PID %ld,", (long)getpid());
    expect_open_error(ctx, d, 1, want);
    expect_open_error(ctx, d, 0, want);
    eqs_run_close(&run);
    ck_assert(!has(d, "eqspice.lock")); /* removed on close */

    /* a symlink where the lock goes (a copied run directory) is refused and
     * what it points to is left alone, not truncated to our PID */
    char lk[700], target[700];
    snprintf(target, sizeof target, "%s/precious.txt", base);
    snprintf(lk, sizeof lk, "%s/eqspice.lock", d);
    FILE *pf = fopen(target, "w");
    ck_assert_ptr_nonnull(pf);
    fputs("keep me\n", pf);
    fclose(pf);
    ck_assert_int_eq(symlink(target, lk), 0);
    expect_open_error(ctx, d, 1, "is a symbolic link, not a lock file of eqspice");
    expect_same(base, "precious.txt", "keep me\n");
    ck_assert_int_eq(unlink(lk), 0);

    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(60); /* never outlive a failed test */
        close(p[0]);
        eqs_ctx *c2 = tu_ctx();
        eqs_run *r2 = NULL;
        char ok = eqs_run_open(c2, d, 1, &r2) == EQS_OK ? 'y' : 'n';
        if (write(p[1], &ok, 1) != 1) _exit(1);
        for (;;) pause();
    }
    close(p[1]);
    char ok = 0;
    ck_assert_int_eq(read(p[0], &ok, 1), 1);
    close(p[0]);
    ck_assert_int_eq(ok, 'y');
    snprintf(want, sizeof want, "(PID %ld,", (long)pid);
    expect_open_error(ctx, d, 1, want);
    expect_open_error(ctx, d, 0, want);
    /* the CLI: exit 1, the PID named, the run directory left alone */
    const char *xml = tu_path("netlists/xor-experiment.xml");
    char xmlc[4096];
    snprintf(xmlc, sizeof xmlc, "%s", xml);
    const char *resume[] = {"train", xmlc, "--resume", d, NULL};
    const char *fresh[] = {"train", xmlc, "-o", d, NULL};
    const char *const *cmds[] = {resume, fresh};
    for (int i = 0; i < 2; ++i) {
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(cmds[i], &out, &err, 60);
        ck_assert_msg(rc == 1, "rc %d: %s", rc, err);
        ck_assert_msg(strstr(err, want) && strstr(err, "in use"), "%s", err);
        free(out);
        free(err);
    }
    expect_same(d, "metrics.csv", HEADER);
    /* SIGKILL: the kernel drops the lock; the file stays with a dead PID */
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    snprintf(want, sizeof want, "%ld\n", (long)pid);
    expect_same(d, "eqspice.lock", want);
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(resume, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "no checkpoint in") && strstr(err, "starting from epoch 0"), "%s",
                  err);
    ck_assert(has(d, "trained.cir"));
    ck_assert(!has(d, "eqspice.lock"));
    free(out);
    free(err);
    eqs_ctx_free(&ctx);
}
END_TEST

/* One line "what|status|message" per writer, through the pipe. */
static void report(int fd, eqs_ctx *ctx, const char *what, eqs_status st)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "%s|%d|%s\n", what, (int)st, eqs_ctx_error(ctx));
    if (write(fd, line, (size_t)n) != n) _exit(1);
    eqs_ctx_clear_error(ctx);
}

/* The line reported for `what` must be EQS_ERR_IO naming `file` and the
 * reason `reason`. */
static void expect_report(const char *all, const char *what, const char *file,
                          const char *reason)
{
    char key[64];
    snprintf(key, sizeof key, "%s|", what);
    const char *l = strstr(all, key);
    ck_assert_msg(l != NULL, "no report for %s in:\n%s", what, all);
    const char *end = strchr(l, '\n');
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(end - l), l);
    char head[128];
    snprintf(head, sizeof head, "%s|%d|error: cannot write '", what, (int)EQS_ERR_IO);
    ck_assert_msg(!strncmp(line, head, strlen(head)), "%s", line);
    ck_assert_msg(strstr(line, file) != NULL, "'%s' not named: %s", file, line);
    ck_assert_msg(strstr(line, reason) != NULL, "reason '%s' missing: %s", reason, line);
}

/* Full disk, simulated for real: write(2) fails with EFBIG in a child with
 * RLIMIT_FSIZE = 64 bytes (SIGXFSZ ignored).  Every writer of a run
 * directory names its file and strerror(EFBIG); no temporary file is left
 * and the previous checkpoint stays in force. */
START_TEST(test_write_errors_efbig)
{
    const char *base = tu_temp_dir();
    char d[600], csv[700];
    snprintf(d, sizeof d, "%s/run", base);
    snprintf(csv, sizeof csv, "%s/curve.csv", base);
    write_bytes(csv, (const unsigned char *)"epoch,train_error,test_error\n1,0.5,0.4\n2,0.3,0.2\n",
                49);
    char *text = tu_gen_drn(LAYERS, 3, 3);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(60);
        close(p[0]);
        eqs_ctx *ctx = tu_ctx();
        net N;
        if (eqs_netlist_read_string(ctx, text, "t.cir", &N.nl) != EQS_OK ||
            eqs_circuit_create(ctx, N.nl, &N.c) != EQS_OK)
            _exit(2);
        eqs_experiment *e = NULL;
        eqs_run *run = NULL;
        eqs_train_state st = {.epoch = 1, .lr_scale = 1};
        if (eqs_experiment_read(ctx, tu_path("netlists/xor-experiment.xml"), &e) != EQS_OK ||
            eqs_run_open(ctx, d, 0, &run) != EQS_OK ||
            eqs_checkpoint_write(ctx, N.c, &st, eqs_run_path(run, EQS_RUN_CHECKPOINT)) != EQS_OK)
            _exit(3);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64, 64};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(4);
        st.epoch = 2;
        report(p[1], ctx, "checkpoint",
               eqs_checkpoint_write(ctx, N.c, &st, eqs_run_path(run, EQS_RUN_CHECKPOINT)));
        report(p[1], ctx, "netlist",
               eqs_export_netlist(ctx, N.c, eqs_run_path(run, EQS_RUN_NETLIST)));
        report(p[1], ctx, "conductances",
               eqs_export_conductances(ctx, N.c, eqs_run_path(run, EQS_RUN_CONDUCTANCES)));
        report(p[1], ctx, "plot",
               eqs_plot_learning_curve(ctx, csv, eqs_run_path(run, EQS_RUN_PLOT)));
        report(p[1], ctx, "experiment", eqs_run_write_experiment(run, e));
        eqs_status ms = EQS_OK; /* the 58-byte header is there: the second row fails */
        for (int i = 1; i <= 4 && ms == EQS_OK; ++i) {
            eqs_epoch_metrics m = {i, 0.25, 0.5, NAN, NAN, 1.5, 0};
            ms = eqs_run_metrics_append(run, &m);
        }
        report(p[1], ctx, "metrics", ms);
        _exit(0);
    }
    close(p[1]);
    char all[16384];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof all - 1 && (k = read(p[0], all + n, sizeof all - 1 - n)) > 0)
        n += (size_t)k;
    all[n] = '\0';
    close(p[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d:\n%s", status,
                  all);
    const char *why = strerror(EFBIG);
    expect_report(all, "checkpoint", "/run/checkpoint.bin'", why);
    expect_report(all, "netlist", "/run/trained.cir'", why);
    expect_report(all, "conductances", "/run/conductances.csv'", why);
    expect_report(all, "plot", "/run/learning_curve.png'", why);
    expect_report(all, "experiment", "/run/experiment.xml'", why);
    expect_report(all, "metrics", "/run/metrics.csv'", why);
    ck_assert_int_eq(temps_in(d), 0);
    const char *absent[] = {"trained.cir", "conductances.csv", "learning_curve.png",
                            "experiment.xml"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; ++i)
        ck_assert_msg(!has(d, absent[i]), "%s written", absent[i]);
    /* the checkpoint of epoch 1 is intact */
    eqs_ctx *ctx = tu_ctx();
    net N;
    net_load(&N, ctx, text);
    char ckp[700];
    snprintf(ckp, sizeof ckp, "%s/checkpoint.bin", d);
    eqs_train_state in = {0};
    ck_assert_msg(eqs_checkpoint_read(ctx, N.c, ckp, &in) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_uint_eq(in.epoch, 1);
    net_free(&N);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* ENOSPC for real: the temporary file of each atomic write is made a
 * symlink to /dev/full (open(2) follows it), so every write(2) fails with
 * ENOSPC.  The message names the final file and strerror(ENOSPC), the link
 * is removed, and the file in place (here: an older checkpoint) stays. */
START_TEST(test_write_errors_enospc)
{
    ck_assert_msg(access("/dev/full", W_OK) == 0, "/dev/full is needed");
    eqs_ctx *ctx = tu_ctx();
    char *text = tu_gen_drn(LAYERS, 3, 3);
    net N;
    net_load(&N, ctx, text);
    const char *d = tu_temp_dir();
    char csv[700];
    snprintf(csv, sizeof csv, "%s/curve.csv", d);
    write_bytes(csv, (const unsigned char *)"epoch,train_error,test_error\n1,0.5,0.4\n", 39);
    const char *names[] = {"checkpoint.bin", "trained.cir", "conductances.csv", "curve.png"};
    char path[700], tmp[800];
    eqs_train_state st = {.epoch = 1, .lr_scale = 1};
    snprintf(path, sizeof path, "%s/checkpoint.bin", d);
    ck_assert_int_eq(eqs_checkpoint_write(ctx, N.c, &st, path), EQS_OK);
    st.epoch = 2;
    for (int i = 0; i < 4; ++i) {
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        ck_assert_int_eq(symlink("/dev/full", tmp), 0);
        eqs_status s = i == 0   ? eqs_checkpoint_write(ctx, N.c, &st, path)
                       : i == 1 ? eqs_export_netlist(ctx, N.c, path)
                       : i == 2 ? eqs_export_conductances(ctx, N.c, path)
                                : eqs_plot_learning_curve(ctx, csv, path);
        ck_assert_msg(s == EQS_ERR_IO, "%s: status %d", names[i], (int)s);
        char want[900];
        snprintf(want, sizeof want, "error: cannot write '%s': %s", path, strerror(ENOSPC));
        ck_assert_str_eq(eqs_ctx_error(ctx), want);
        eqs_ctx_clear_error(ctx);
        struct stat sb;
        ck_assert_int_ne(lstat(tmp, &sb), 0);
        ck_assert_int_eq(i == 0, has(d, names[i]));
    }
    eqs_train_state in = {0};
    snprintf(path, sizeof path, "%s/checkpoint.bin", d);
    ck_assert_int_eq(eqs_checkpoint_read(ctx, N.c, path, &in), EQS_OK);
    ck_assert_uint_eq(in.epoch, 1);
    net_free(&N);
    eqs_ctx_free(&ctx);
    free(text);
}
END_TEST

/* The CLI in a child with RLIMIT_FSIZE = limit bytes and SIGXFSZ ignored;
 * stderr captured.  Returns the exit status (-1 if killed). */
static int run_cli_fsize(const char *const *argv, long limit, char **err)
{
    const char *cli = cli_path();
    char *av[16];
    int argc = 0;
    av[argc++] = (char *)cli;
    while (argv[argc - 1] && argc < 15) av[argc] = (char *)argv[argc - 1], argc++;
    av[argc] = NULL;
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        signal(SIGXFSZ, SIG_IGN); /* ignored signals stay ignored across exec */
        struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(p[1], 2);
        alarm(60);
        execv(cli, av);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while ((k = read(p[0], buf + n, cap - 1 - n)) > 0) {
        n += (size_t)k;
        if (n == cap - 1) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    close(p[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *err = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A PNG that cannot be written (8 KiB file size limit: the plot is about
 * 29 KB, every other file is under 3 KB) is a warning; training goes on and
 * the run directory is complete.  A limit that stops experiment.xml is an
 * error naming it, and the run can be started again afterwards. */
START_TEST(test_cli_write_errors)
{
    const char *base = tu_temp_dir();
    char d[600], xml[4096];
    snprintf(d, sizeof d, "%s/plotless", base);
    snprintf(xml, sizeof xml, "%s", tu_path("netlists/xor-experiment.xml"));
    const char *argv[] = {"train", xml, "-o", d, NULL};
    char *err = NULL;
    int rc = run_cli_fsize(argv, 8192, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    char want[900];
    snprintf(want, sizeof want, "warning: learning curve not updated after epoch 1: cannot write '");
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "/plotless/learning_curve.png': ") != NULL, "%s", err);
    ck_assert_msg(strstr(err, strerror(EFBIG)) != NULL, "%s", err);
    ck_assert_msg(strstr(err, "learning_curve.png was not written (20 failed attempt(s))"), "%s",
                  err);
    ck_assert_msg(strstr(err, "epoch 20/20") != NULL, "%s", err);
    free(err);
    const char *files[] = {"metrics.csv", "experiment.xml", "checkpoint.bin", "trained.cir",
                           "conductances.csv"};
    for (size_t i = 0; i < sizeof files / sizeof *files; ++i)
        ck_assert_msg(has(d, files[i]), "%s missing", files[i]);
    ck_assert(!has(d, "learning_curve.png"));
    ck_assert_int_eq(temps_in(d), 0);
    char *m = get(d, "metrics.csv");
    int rows = 0;
    for (const char *s = m; (s = strchr(s, '\n')) != NULL; ++s) rows++;
    ck_assert_int_eq(rows, 21);
    free(m);

    /* 1 KiB: experiment.xml (about 1.1 KB) cannot be written */
    snprintf(d, sizeof d, "%s/full", base);
    rc = run_cli_fsize(argv, 1024, &err);
    ck_assert_msg(rc == 1, "rc %d: %s", rc, err);
    snprintf(want, sizeof want, "/full/experiment.xml': %s\n", strerror(EFBIG));
    ck_assert_msg(strstr(err, "error: cannot write '") && strstr(err, want), "%s", err);
    free(err);
    /* space again: the run is started again (it has no checkpoint) */
    char *out = NULL;
    rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "holds an unfinished run without checkpoint: starting it again "
                              "from epoch 0"),
                  "%s", err);
    free(out);
    free(err);
}
END_TEST

/* Every file of a run directory has mode 0666 & ~umask (experiment.xml
 * was 0600 from mkstemp).  Two umasks, neither giving 0600. */
START_TEST(test_run_file_modes)
{
    const mode_t masks[] = {022, 027};
    const char *base = tu_temp_dir();
    char xml[4096];
    snprintf(xml, sizeof xml, "%s", tu_path("netlists/xor-experiment.xml"));
    for (int t = 0; t < 2; ++t) {
        char d[600];
        snprintf(d, sizeof d, "%s/run%d", base, t);
        const char *argv[] = {"train", xml, "-o", d, NULL};
        mode_t old = umask(masks[t]);
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(argv, &out, &err, 60);
        umask(old);
        ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
        free(out);
        free(err);
        DIR *dd = opendir(d);
        ck_assert_ptr_nonnull(dd);
        struct dirent *e;
        int files = 0;
        while ((e = readdir(dd)) != NULL) {
            char p[1024];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", d, e->d_name);
            ck_assert_int_eq(stat(p, &sb), 0);
            if (!S_ISREG(sb.st_mode)) continue;
            files++;
            ck_assert_msg((sb.st_mode & 07777) == (0666 & ~masks[t]), "%s: mode %o, umask %03o",
                          e->d_name, (unsigned)(sb.st_mode & 07777), (unsigned)masks[t]);
        }
        closedir(dd);
        ck_assert_int_eq(files, 6);
    }
}
END_TEST

/* An experiment whose first checkpoint comes after a 16384-sample epoch
 * (about 0.4 s), so that a run can be killed before it for real. */
static const char *slow_xor_xml(void)
{
    static const char text[] =
        "<experiment version=\"1\">\n"
        "  <network><drn layers=\"2 8 2\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\"/></network>\n"
        "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"16384\" test_size=\"64\" "
        "noise=\"0.15\"/></dataset>\n"
        "  <input gain_V=\"1\" encoding=\"pair\"/>\n"
        "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
        "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
        "  <learning momentum=\"0.9\"><rate elements=\"r*\" value=\"5e-10\"/></learning>\n"
        "  <training epochs=\"2\" batch=\"16\" seed=\"3\"/>\n"
        "  <solver backend=\"newton\"/>\n"
        "  <output dir=\"unused\" checkpoint_every=\"0\"/>\n"
        "</experiment>\n";
    return tu_write_temp(text, ".xml");
}

/* Start `train xml -o dir`, SIGKILL it as soon as experiment.xml exists
 * (a whole epoch before the first checkpoint). */
static void kill_before_checkpoint(const char *xml, const char *dir)
{
    const char *cli = cli_path();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 1);
        dup2(fd, 2);
        alarm(60);
        execl(cli, cli, "train", xml, "-o", dir, (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    for (int i = 0; i < 100000 && !has(dir, "experiment.xml"); ++i) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before it could be killed");
    ck_assert_msg(!has(dir, "checkpoint.bin"), "the run reached its first checkpoint");
    ck_assert(has(dir, "metrics.csv"));
}

/* A run killed before its first checkpoint: --resume starts it from epoch
 * 0, and so does train -o on the same directory; both say so and end with
 * the conductances of an uninterrupted run, byte for byte. */
START_TEST(test_cli_killed_before_first_checkpoint)
{
    const char *xml = slow_xor_xml();
    const char *base = tu_temp_dir();
    char ref[600], k1[600], k2[600];
    snprintf(ref, sizeof ref, "%s/ref", base);
    snprintf(k1, sizeof k1, "%s/k1", base);
    snprintf(k2, sizeof k2, "%s/k2", base);
    char *out = NULL, *err = NULL;
    const char *argv_ref[] = {"train", xml, "-o", ref, NULL};
    int rc = tu_run_cli(argv_ref, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(out);
    free(err);
    char *g_ref = get(ref, "conductances.csv");
    ck_assert_ptr_nonnull(g_ref);

    kill_before_checkpoint(xml, k1);
    const char *argv_resume[] = {"train", "--resume", k1, NULL};
    rc = tu_run_cli(argv_resume, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "no checkpoint in") && strstr(err, "starting from epoch 0"), "%s",
                  err);
    free(out);
    free(err);
    expect_same(k1, "conductances.csv", g_ref);

    kill_before_checkpoint(xml, k2);
    const char *argv_again[] = {"train", xml, "-o", k2, NULL};
    rc = tu_run_cli(argv_again, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "holds an unfinished run without checkpoint: starting it again"),
                  "%s", err);
    free(out);
    free(err);
    expect_same(k2, "conductances.csv", g_ref);
    /* finished now: not overwritten */
    rc = tu_run_cli(argv_again, &out, &err, 60);
    ck_assert_msg(rc == 1 && strstr(err, "finished run"), "rc %d: %s", rc, err);
    free(out);
    free(err);
    expect_same(k2, "conductances.csv", g_ref);

    /* killed before experiment.xml: --resume alone says what to do */
    char k3[600];
    make_dir(k3, sizeof k3, base, "k3");
    put(k3, "metrics.csv", HEADER);
    const char *argv_noexp[] = {"train", "--resume", k3, NULL};
    rc = tu_run_cli(argv_noexp, &out, &err, 60);
    ck_assert_msg(rc == 1 && strstr(err, "holds no experiment.xml") &&
                      strstr(err, "EXPERIMENT.xml --resume"),
                  "rc %d: %s", rc, err);
    free(out);
    free(err);
    free(g_ref);
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
    tcase_add_test(tc, test_run_dir_states);
    tcase_add_test(tc, test_write_errors_efbig);
    tcase_add_test(tc, test_write_errors_enospc);
    suite_add_tcase(s, tc);
    tc = tcase_create("rundir_cli"); /* the CLI on run directories */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_run_lock);
    tcase_add_test(tc, test_cli_write_errors);
    tcase_add_test(tc, test_run_file_modes);
    tcase_add_test(tc, test_cli_killed_before_first_checkpoint);
    suite_add_tcase(s, tc);
    tc = tcase_create("plot");
    tcase_add_test(tc, test_plot_learning_curve);
    tcase_add_test(tc, test_plot_bad_metrics);
    suite_add_tcase(s, tc);
    /* the progress tests moved to test_cli.c (they include src/cli/progress.c) */
    return s;
}
