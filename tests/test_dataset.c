/* test_dataset.c: IDX (plain and gzip), CSV, synthetic tasks, subsets,
 * shuffling, and every bad-input case of the readers.  The files under
 * tests/data/ were written by a few lines of Python (values below are
 * the closed form they used): pixel k of image i = (37 i + 11 k) mod 256,
 * label i = i mod 3, 6 images of 2 x 3 pixels. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *data(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s", tu_path("tests/data/"));
    strncat(b, name, sizeof buf[0] - strlen(b) - 1);
    return b;
}

/* Copy the first `n` bytes of a file into a fresh temporary file. */
static const char *truncated_copy(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char buf[4096];
    size_t k = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_lt(n, k);
    const char *dir = tu_temp_dir();
    static char out[4200];
    snprintf(out, sizeof out, "%s/cut.gz", dir);
    f = fopen(out, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    return out;
}

static void check_tiny(const eqs_dataset *ds, size_t n)
{
    ck_assert_uint_eq(eqs_dataset_size(ds), n);
    ck_assert_int_eq(eqs_dataset_n_features(ds), 6);
    for (size_t i = 0; i < n; ++i) {
        ck_assert_int_eq(eqs_dataset_label(ds, i), (int)(i % 3));
        const double *x = eqs_dataset_features(ds, i);
        for (int k = 0; k < 6; ++k)
            ck_assert_double_eq(x[k], ((37 * (int)i + 11 * k) % 256) / 255.0);
    }
}

START_TEST(test_idx_plain_and_gzip)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = NULL;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, data("tiny-images-idx3-ubyte"),
                                          data("tiny-labels-idx1-ubyte"), NULL, &ds),
                     EQS_OK);
    check_tiny(ds, 6);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 3);
    ck_assert_str_eq(eqs_dataset_source(ds), data("tiny-images-idx3-ubyte"));
    eqs_dataset_free(&ds);
    ck_assert_ptr_null(ds);

    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    opt.n_classes = 10;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, data("tiny-images-idx3-ubyte.gz"),
                                          data("tiny-labels-idx1-ubyte.gz"), &opt, &ds),
                     EQS_OK);
    check_tiny(ds, 6);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 10);
    eqs_dataset_free(&ds);

    /* a limit reads only the first records; mixing gz and plain is fine */
    opt.limit = 4;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, data("tiny-images-idx3-ubyte.gz"),
                                          data("tiny-labels-idx1-ubyte"), &opt, &ds),
                     EQS_OK);
    check_tiny(ds, 4);
    eqs_dataset_free(&ds);
    eqs_dataset_free(&ds); /* NULL-safe */
    eqs_ctx_free(&ctx);
}
END_TEST

/* Read, expect failure with `code`, and a message containing each needle. */
static void expect_idx_error(const char *images, const char *labels, int n_classes,
                             eqs_status code, const char *needle1, const char *needle2)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    opt.n_classes = n_classes;
    eqs_dataset *ds = (eqs_dataset *)1;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, images, labels, &opt, &ds), code);
    ck_assert_ptr_null(ds);
    const char *msg = eqs_ctx_error(ctx);
    ck_assert_msg(strstr(msg, needle1), "'%s' not in '%s'", needle1, msg);
    if (needle2) ck_assert_msg(strstr(msg, needle2), "'%s' not in '%s'", needle2, msg);
    ck_assert(eqs_status_is_user_error(code));
    eqs_ctx_free(&ctx);
}

START_TEST(test_idx_bad_input)
{
    char lab[4096];
    snprintf(lab, sizeof lab, "%s", data("tiny-labels-idx1-ubyte"));
    expect_idx_error(data("bad-magic-idx3-ubyte"), lab, 0, EQS_ERR_INPUT,
                     "bad-magic-idx3-ubyte: bad magic number 0x00000804 at byte 0", NULL);
    /* labels file given as images: wrong magic for images */
    expect_idx_error(lab, lab, 0, EQS_ERR_INPUT, "bad magic number 0x00000801", "image");
    expect_idx_error(data("tiny-images-idx3-ubyte"), data("short-labels-idx1-ubyte"), 0,
                     EQS_ERR_INPUT, "6 images, but", "has 5 labels");
    expect_idx_error(data("trunc-images-idx3-ubyte"), lab, 0, EQS_ERR_INPUT,
                     "trunc-images-idx3-ubyte: truncated at byte 48", "record 5 of 6");
    expect_idx_error(data("trailing-images-idx3-ubyte"), lab, 0, EQS_ERR_INPUT,
                     "unexpected data at byte 52", NULL);
    expect_idx_error(data("tiny-images-idx3-ubyte"), data("badlabel-labels-idx1-ubyte"), 10,
                     EQS_ERR_INPUT, "record 4 (byte 12): label 12 is out of range for 10",
                     NULL);
    /* labels 0..2 against 2 classes: record 2 */
    expect_idx_error(data("tiny-images-idx3-ubyte"), lab, 2, EQS_ERR_INPUT,
                     "record 2 (byte 10): label 2", NULL);
    expect_idx_error(data("empty"), lab, 0, EQS_ERR_INPUT, "empty: truncated at byte 0",
                     "magic");
    expect_idx_error(data("does-not-exist"), lab, 0, EQS_ERR_IO, "cannot open dataset file",
                     "does-not-exist");
    /* a gzip stream cut in the middle of the deflate data */
    expect_idx_error(truncated_copy(data("tiny-images-idx3-ubyte.gz"), 60), lab, 0,
                     EQS_ERR_IO, "cut.gz: truncated gzip stream at byte 29 (record 2 of 6): "
                                 "unexpected end of file",
                     NULL);
    /* a gzip header followed by garbage (corrupt-deflate.gz) */
    expect_idx_error(data("corrupt-deflate.gz"), lab, 0, EQS_ERR_IO, "corrupt gzip stream at byte 0 (magic number)", NULL);
    /* cut inside the gzip header */
    expect_idx_error(truncated_copy(data("tiny-images-idx3-ubyte.gz"), 5), lab, 0,
                     EQS_ERR_IO, "cut.gz", "gzip");
}
END_TEST

/* Write bytes (NULs included) to a fresh temporary file. */
static const char *write_bytes(const void *b, size_t n)
{
    const char *dir = tu_temp_dir();
    static char out[4][4200];
    static int k;
    char *p = out[k++ % 4];
    snprintf(p, sizeof out[0], "%s/bytes", dir);
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    return p;
}

START_TEST(test_idx_feature_vectors)
{
    /* magic 0x00000802: 3 records of 2 features; labels 0x00000801 */
    static const unsigned char im[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2,
                                       0, 255, 51, 102, 255, 0};
    static const unsigned char lb[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 0, 1};
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = NULL;
    char imp[4200];
    snprintf(imp, sizeof imp, "%s", write_bytes(im, sizeof im));
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, imp, write_bytes(lb, sizeof lb), NULL, &ds),
                     EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 3);
    ck_assert_int_eq(eqs_dataset_n_features(ds), 2);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 2);
    ck_assert_double_eq(eqs_dataset_features(ds, 0)[1], 1.0);
    ck_assert_double_eq(eqs_dataset_features(ds, 1)[0], 0.2);
    ck_assert_double_eq(eqs_dataset_features(ds, 1)[1], 0.4);
    ck_assert_int_eq(eqs_dataset_label(ds, 1), 0);
    eqs_dataset_free(&ds);
    /* a header announcing 0 records, and a zero dimension */
    static const unsigned char zero[] = {0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 2};
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_bytes(zero, sizeof zero),
                                          write_bytes(lb, sizeof lb), NULL, &ds),
                     EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "announces 0 records"), "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    static const unsigned char zdim[] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 0};
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_bytes(zdim, sizeof zdim),
                                          write_bytes(lb, sizeof lb), NULL, &ds),
                     EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "dimension 1 of the header (byte 8) is 0"), "%s",
                  eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    /* a directory is not a dataset */
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, tu_temp_dir(), write_bytes(lb, sizeof lb), NULL,
                                          &ds),
                     EQS_ERR_IO);
    ck_assert_ptr_null(ds);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_csv_read)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = NULL;
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    /* header auto-detected; label column by name; comment and blank lines */
    opt.label_column = "label";
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, data("tiny.csv"), &opt, &ds), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 3);
    ck_assert_int_eq(eqs_dataset_n_features(ds), 3);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 3);
    const double *x = eqs_dataset_features(ds, 0);
    ck_assert_double_eq(x[0], 0.5);
    ck_assert_double_eq(x[1], 1e-3);
    ck_assert_double_eq(x[2], -2.0);
    ck_assert_int_eq(eqs_dataset_label(ds, 0), 1);
    ck_assert_int_eq(eqs_dataset_label(ds, 1), 0);
    ck_assert_double_eq(eqs_dataset_features(ds, 2)[2], 300.0);
    ck_assert_int_eq(eqs_dataset_label(ds, 2), 2);
    eqs_dataset_free(&ds);
    /* label column by number */
    opt.label_column = "3";
    opt.limit = 2;
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, data("tiny.csv"), &opt, &ds), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 2);
    ck_assert_int_eq(eqs_dataset_label(ds, 0), 1);
    eqs_dataset_free(&ds);
    /* no header, label the last column by default */
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, data("noheader.csv"), NULL, &ds), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 2);
    ck_assert_int_eq(eqs_dataset_n_features(ds), 2);
    ck_assert_double_eq(eqs_dataset_features(ds, 1)[1], 0.4);
    ck_assert_int_eq(eqs_dataset_label(ds, 0), 1);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 2);
    eqs_dataset_free(&ds);
    /* forcing a header on a numeric first row skips it */
    eqs_dataset_options_defaults(&opt);
    opt.header = 1;
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, data("noheader.csv"), &opt, &ds), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 1);
    eqs_dataset_free(&ds);
    /* a UTF-8 byte-order mark before a numeric first row: still data */
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, tu_write_temp("\xEF\xBB\xBF" "0.5,1\r\n0.25,0\r\n",
                                                             ".csv"),
                                          NULL, &ds),
                     EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(ds), 2);
    ck_assert_double_eq(eqs_dataset_features(ds, 0)[0], 0.5);
    ck_assert_int_eq(eqs_dataset_label(ds, 1), 0);
    eqs_dataset_free(&ds);
    eqs_ctx_free(&ctx);
}
END_TEST

static void expect_csv_error(const char *path, const eqs_dataset_options *opt, eqs_status code,
                             const char *needle)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = (eqs_dataset *)1;
    ck_assert_int_eq(eqs_dataset_read_csv(ctx, path, opt, &ds), code);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), needle), "'%s' not in '%s'", needle,
                  eqs_ctx_error(ctx));
    eqs_ctx_free(&ctx);
}

START_TEST(test_csv_bad_input)
{
    expect_csv_error(data("ragged.csv"), NULL, EQS_ERR_INPUT,
                     "ragged.csv:3:1: error: 2 columns, but the header has 3");
    expect_csv_error(data("nonnumeric.csv"), NULL, EQS_ERR_INPUT,
                     "nonnumeric.csv:3:3: error: feature 'x4' is not a finite number");
    expect_csv_error(data("badlabel.csv"), NULL, EQS_ERR_INPUT,
                     "badlabel.csv:3:5: error: label '1.5' is not a non-negative integer");
    expect_csv_error(data("headeronly.csv"), NULL, EQS_ERR_INPUT,
                     "headeronly.csv:1:1: error: empty dataset file");
    expect_csv_error(data("empty"), NULL, EQS_ERR_INPUT, "empty:1:1: error: empty dataset");
    expect_csv_error(data("nope.csv"), NULL, EQS_ERR_IO, "cannot open dataset file");
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    opt.n_classes = 1;
    expect_csv_error(data("noheader.csv"), &opt, EQS_ERR_INPUT,
                     "noheader.csv:1:9: error: label 1 is out of range for 1 classes");
    eqs_dataset_options_defaults(&opt);
    opt.header = 0;
    expect_csv_error(data("tiny.csv"), &opt, EQS_ERR_INPUT,
                     "tiny.csv:2:1: error: feature 'x1' is not a finite number");
    eqs_dataset_options_defaults(&opt);
    opt.label_column = "y";
    expect_csv_error(data("tiny.csv"), &opt, EQS_ERR_INPUT, "no column named 'y'");
    opt.label_column = "9";
    expect_csv_error(data("tiny.csv"), &opt, EQS_ERR_INPUT, "label column 9 does not exist");
    expect_csv_error(tu_write_temp("0,1,0\n1,inf,0\n", ".csv"), NULL, EQS_ERR_INPUT,
                     "feature 'inf' is not a finite number");
    expect_csv_error(tu_write_temp("5\n6\n", ".csv"), NULL, EQS_ERR_INPUT,
                     "at least two columns");
}
END_TEST

START_TEST(test_check_features_and_labels)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = NULL;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, data("tiny-images-idx3-ubyte"),
                                          data("tiny-labels-idx1-ubyte"), NULL, &ds),
                     EQS_OK);
    ck_assert_int_eq(eqs_dataset_check_features(ctx, ds, 6), EQS_OK);
    ck_assert_int_eq(eqs_dataset_check_labels(ctx, ds, 3), EQS_OK);
    ck_assert_int_eq(eqs_dataset_check_features(ctx, ds, 784), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "tiny-images-idx3-ubyte: 6 features per sample, "
                                             "but 784 expected"),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    ck_assert_int_eq(eqs_dataset_check_labels(ctx, ds, 2), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "sample 2 has label 2, out of range for 2"), "%s",
                  eqs_ctx_error(ctx));
    eqs_dataset_free(&ds);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_synthetic_xor)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_synthetic_spec sp;
    eqs_synthetic_spec_defaults(&sp);
    sp.n = 1000;
    sp.seed = 7;
    eqs_dataset *a = NULL, *b = NULL;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &a), EQS_OK);
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &b), EQS_OK);
    ck_assert_int_eq(eqs_dataset_n_features(a), 2);
    ck_assert_int_eq(eqs_dataset_n_classes(a), 2);
    ck_assert_str_eq(eqs_dataset_source(a), "synthetic:xor");
    int count[2] = {0, 0};
    for (size_t i = 0; i < 1000; ++i) {
        const double *x = eqs_dataset_features(a, i);
        /* the definition: corners 0.25/0.75 +- 0.15, label = XOR of the sides */
        int sa = x[0] > 0.5, sb = x[1] > 0.5;
        ck_assert(x[0] >= 0.1 && x[0] <= 0.9 && x[1] >= 0.1 && x[1] <= 0.9);
        ck_assert(x[0] <= 0.4 || x[0] >= 0.6);
        ck_assert(x[1] <= 0.4 || x[1] >= 0.6);
        ck_assert_int_eq(eqs_dataset_label(a, i), sa ^ sb);
        count[sa ^ sb]++;
        /* deterministic: the same seed gives the same bits */
        ck_assert(!memcmp(x, eqs_dataset_features(b, i), 2 * sizeof *x));
    }
    /* both classes present in fair proportion (binomial, 5 sigma = 79) */
    ck_assert_int_gt(count[0], 500 - 79);
    ck_assert_int_gt(count[1], 500 - 79);
    eqs_dataset_free(&b);
    sp.seed = 8;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &b), EQS_OK);
    ck_assert(memcmp(eqs_dataset_feature_matrix(a), eqs_dataset_feature_matrix(b),
                     2000 * sizeof(double)));
    eqs_dataset_free(&a);
    eqs_dataset_free(&b);
    /* bad specs */
    sp.noise = 0.25;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &a), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    sp.noise = -1;
    sp.n_features = 3;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &a), EQS_ERR_INPUT);
    eqs_ctx_clear_error(ctx);
    sp.name = "spirals";
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &a), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "unknown synthetic task 'spirals'"), "%s",
                  eqs_ctx_error(ctx));
    ck_assert_ptr_null(a);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_synthetic_blobs_and_subset)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_synthetic_spec sp;
    eqs_synthetic_spec_defaults(&sp);
    sp.name = "blobs";
    sp.n = 300;
    sp.n_features = 5;
    sp.n_classes = 4;
    sp.noise = 0.0;
    eqs_dataset *ds = NULL, *sub = NULL;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &ds), EQS_OK);
    ck_assert_int_eq(eqs_dataset_n_features(ds), 5);
    ck_assert_int_eq(eqs_dataset_n_classes(ds), 4);
    /* noise 0: every sample is its class centre, in [0.2, 0.8) */
    for (size_t i = 0; i < 300; ++i) {
        ck_assert_int_eq(eqs_dataset_label(ds, i), (int)(i % 4));
        const double *x = eqs_dataset_features(ds, i);
        const double *c = eqs_dataset_features(ds, i % 4);
        for (int j = 0; j < 5; ++j) {
            ck_assert(x[j] >= 0.2 && x[j] < 0.8);
            ck_assert_double_eq(x[j], c[j]);
        }
    }
    ck_assert_int_eq(eqs_dataset_subset(ctx, ds, 290, 100, &sub), EQS_OK);
    ck_assert_uint_eq(eqs_dataset_size(sub), 10);
    ck_assert_int_eq(eqs_dataset_n_classes(sub), 4);
    ck_assert_int_eq(eqs_dataset_label(sub, 0), 290 % 4);
    ck_assert(!memcmp(eqs_dataset_features(sub, 3), eqs_dataset_features(ds, 293),
                      5 * sizeof(double)));
    eqs_dataset_free(&sub);
    ck_assert_int_eq(eqs_dataset_subset(ctx, ds, 300, 1, &sub), EQS_ERR_INPUT);
    ck_assert_ptr_null(sub);
    eqs_dataset_free(&ds);
    eqs_ctx_clear_error(ctx);
    /* with noise, features stay clipped to [0,1] */
    sp.noise = 0.9;
    ck_assert_int_eq(eqs_dataset_synthetic(ctx, &sp, &ds), EQS_OK);
    for (size_t k = 0; k < 300 * 5; ++k) {
        double v = eqs_dataset_feature_matrix(ds)[k];
        ck_assert(v >= 0.0 && v <= 1.0);
    }
    eqs_dataset_free(&ds);
    eqs_ctx_free(&ctx);
}
END_TEST

START_TEST(test_shuffle_deterministic)
{
    eqs_ctx *a = tu_ctx(), *b = tu_ctx();
    eqs_ctx_seed(a, 3);
    eqs_ctx_seed(b, 3);
    enum { N = 1000 };
    size_t *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    eqs_shuffle_identity(p, N);
    eqs_shuffle_identity(q, N);
    eqs_shuffle(a, p, N);
    eqs_shuffle(b, q, N);
    ck_assert(!memcmp(p, q, N * sizeof *p));
    /* a permutation, and not the identity */
    char seen[N] = {0};
    int fixed = 0;
    for (size_t i = 0; i < N; ++i) {
        ck_assert_uint_lt(p[i], N);
        ck_assert(!seen[p[i]]);
        seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    ck_assert_int_lt(fixed, 10); /* expected 1 fixed point */
    /* a second shuffle continues the stream: a different order */
    eqs_shuffle(a, p, N);
    ck_assert(memcmp(p, q, N * sizeof *p));
    /* uniformity: position of element 0 over many shuffles of 4 */
    int hist[4] = {0};
    for (int t = 0; t < 40000; ++t) {
        size_t r[4];
        eqs_shuffle_identity(r, 4);
        eqs_shuffle(b, r, 4);
        for (int k = 0; k < 4; ++k)
            if (r[k] == 0) hist[k]++;
    }
    for (int k = 0; k < 4; ++k) ck_assert_int_lt(abs(hist[k] - 10000), 5 * 87);
    eqs_shuffle(a, p, 0); /* no-op */
    free(p);
    free(q);
    eqs_ctx_free(&a);
    eqs_ctx_free(&b);
}
END_TEST

/* ---- inputs without limits ---------------------------------------------- */

/* CRC-32 of gzip (reflected polynomial 0xEDB88320), bit by bit. */
static uint32_t crc32_bits(const unsigned char *b, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; ++i) {
        c ^= b[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
    for (int k = 0; k < bytes; ++k) p[k] = (unsigned char)(v >> (8 * k));
}

/* One gzip member of `data` (n < 65536) in a stored deflate block, written
 * by hand (RFC 1952/1951) so that the tests control every byte: 10-byte
 * header, 5-byte block header, data, CRC-32, ISIZE.  Returns its length. */
static size_t gz_member(const unsigned char *data, size_t n, unsigned char *out)
{
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, hdr, 10);
    out[10] = 1; /* BFINAL, stored */
    put_le(out + 11, (uint32_t)n, 2);
    put_le(out + 13, (uint32_t)~n & 0xffffu, 2);
    memcpy(out + 15, data, n);
    put_le(out + 15 + n, crc32_bits(data, n), 4);
    put_le(out + 19 + n, (uint32_t)n, 4);
    return n + 23;
}

/* Bytes to a named file in a fresh temporary directory (static ring of 4). */
static const char *write_named(const char *name, const void *b, size_t n)
{
    static char out[4][4200];
    static int k;
    char *p = out[k++ % 4];
    snprintf(p, sizeof out[0], "%s/%s", tu_temp_dir(), name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    return p;
}

static size_t read_data(const char *name, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(data(name), "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* An IDX header announcing 2^31 images of 28 x 28 in a 416-byte file: an
 * error naming the file before anything of that size is allocated (raw:
 * against the file size; gzip: against deflate's largest expansion). */
START_TEST(test_idx_header_claims_too_much)
{
    unsigned char raw[416] = {0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    unsigned char gz[512];
    char lab[4096];
    snprintf(lab, sizeof lab, "%s", data("tiny-labels-idx1-ubyte"));
    size_t gn = gz_member(raw, 416 - 23, gz);
    ck_assert_uint_eq(gn, 416);
    const char *gzp = write_named("claim.gz", gz, gn);
    eqs_ctx *ctx = tu_ctx();
    uint64_t a0 = eqs_ctx_alloc_count(ctx);
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    opt.limit = 0;
    /* labels: a matching 2^31 claim, so the images header is what fails */
    unsigned char lraw[64] = {0, 0, 8, 1, 0x80, 0, 0, 0};
    unsigned char lgz[128];
    const char *lgzp = write_named("claim-labels.gz", lgz, gz_member(lraw, 64, lgz));
    eqs_dataset *ds = (eqs_dataset *)1;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, gzp, lgzp, &opt, &ds), EQS_ERR_INPUT);
    ck_assert_ptr_null(ds);
    const char *msg = eqs_ctx_error(ctx);
    /* the labels file is checked first: 2^31 bytes from 151 bytes of gzip */
    ck_assert_msg(strstr(msg, "claim-labels.gz: the header (bytes 0..7) announces 2147483648 "
                              "records of 1 bytes, 2147483656 bytes in all, more than a "
                              "87-byte gzip file can hold"),
                  "%s", msg);
    eqs_ctx_clear_error(ctx);
    /* plain labels, gzip images */
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, gzp, lab, &opt, &ds), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "claim.gz: the header (bytes 0..15) announces "
                                             "2147483648 records of 784 bytes, "
                                             "1683627180048 bytes in all, more than a 416-byte "
                                             "gzip file can hold (deflate expands at most 1032:1)"),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    /* the same header in a raw file: against the file size */
    const char *rawp = write_named("claim", raw, sizeof raw);
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, rawp, lab, &opt, &ds), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "claim: truncated at byte 416 (record 0 of "
                                             "2147483648): the header announces 2147483648 "
                                             "records of 784 bytes, 1683627180048 bytes in all"),
                  "%s", eqs_ctx_error(ctx));
    /* nothing large was allocated: a handful of buffers, all freed */
    ck_assert_uint_lt(eqs_ctx_alloc_count(ctx) - a0, 40);
    eqs_ctx_free(&ctx);
}
END_TEST

/* gzip streams: concatenated members are one stream (as gzip -d reads
 * them); bytes after the last member are an error at their file offset; a
 * bad CRC-32 or length is found even when `limit` stops reading early;
 * a clean stream shorter than its header is truncated at that record. */
START_TEST(test_idx_gzip_stream_checks)
{
    unsigned char img[64], gz[512];
    size_t n = read_data("tiny-images-idx3-ubyte", img, sizeof img);
    ck_assert_uint_eq(n, 52);
    char lab[4096];
    snprintf(lab, sizeof lab, "%s", data("tiny-labels-idx1-ubyte"));
    eqs_dataset_options opt;
    eqs_dataset_options_defaults(&opt);
    eqs_ctx *ctx = tu_ctx();
    eqs_dataset *ds = NULL;

    /* two members (header + 2 records, then 4 records) */
    size_t g1 = gz_member(img, 28, gz);
    size_t g2 = g1 + gz_member(img + 28, 24, gz + g1);
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("two.gz", gz, g2), lab, &opt, &ds),
                     EQS_OK);
    check_tiny(ds, 6);
    eqs_dataset_free(&ds);

    /* trailing garbage after the last member, with and without a limit */
    memcpy(gz + g2, "garbage", 7);
    const char *tg = write_named("trailing.gz", gz, g2 + 7);
    for (int lim = 0; lim <= 2; lim += 2) {
        opt.limit = (size_t)lim;
        ck_assert_int_eq(eqs_dataset_read_idx(ctx, tg, lab, &opt, &ds), EQS_ERR_INPUT);
        char want[256];
        snprintf(want, sizeof want,
                 "trailing.gz: trailing garbage at byte %zu of the file, after the end of the "
                 "gzip stream (52 bytes of IDX data)",
                 g2);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), want), "%s", eqs_ctx_error(ctx));
        ck_assert_ptr_null(ds);
        eqs_ctx_clear_error(ctx);
    }
    /* a single stray byte after the stream (not even a gzip magic) */
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("one.gz", gz, g2 + 1), lab, &opt, &ds),
                     EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "one.gz: trailing garbage at byte"), "%s",
                  eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);

    /* a corrupt CRC-32, then a corrupt ISIZE, in the last records: found
     * with limit=2 although records 2..5 are never stored */
    size_t g = gz_member(img, 52, gz);
    opt.limit = 2;
    gz[g - 8] ^= 0x01;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("crc.gz", gz, g), lab, &opt, &ds),
                     EQS_ERR_IO);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "crc.gz: corrupt gzip stream at byte 52 (after the "
                                             "last record): incorrect data check"),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    gz[g - 8] ^= 0x01;
    gz[g - 4] ^= 0x01;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("len.gz", gz, g), lab, &opt, &ds),
                     EQS_ERR_IO);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "len.gz: corrupt gzip stream at byte 52"), "%s",
                  eqs_ctx_error(ctx));
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "incorrect length check"), "%s",
                  eqs_ctx_error(ctx));
    eqs_ctx_clear_error(ctx);
    gz[g - 4] ^= 0x01;
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("good.gz", gz, g), lab, &opt, &ds),
                     EQS_OK);
    check_tiny(ds, 2);
    eqs_dataset_free(&ds);

    /* a clean stream holding 5 of the 6 records announced (limit 2) */
    g = gz_member(img, 46, gz);
    ck_assert_int_eq(eqs_dataset_read_idx(ctx, write_named("short.gz", gz, g), lab, &opt, &ds),
                     EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "short.gz: truncated at byte 46 (record 5 of 6)"),
                  "%s", eqs_ctx_error(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

/* A FIFO, a character device and a directory are not dataset files: an
 * error naming the file at once (a FIFO without a writer would block a
 * plain open forever; /dev/zero would fill memory). */
START_TEST(test_dataset_not_regular_files)
{
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", tu_temp_dir());
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    char lab[4096];
    snprintf(lab, sizeof lab, "%s", data("tiny-labels-idx1-ubyte"));
    struct {
        const char *path, *kind;
    } cases[] = {{fifo, "a FIFO"}, {"/dev/zero", "a character device"},
                 {tu_temp_dir(), "a directory"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        char want[4400];
        snprintf(want, sizeof want, "cannot read dataset file '%s': not a regular file (%s)",
                 cases[k].path, cases[k].kind);
        eqs_ctx *ctx = tu_ctx();
        eqs_dataset *ds = (eqs_dataset *)1;
        ck_assert_int_eq(eqs_dataset_read_idx(ctx, cases[k].path, lab, NULL, &ds), EQS_ERR_IO);
        ck_assert_ptr_null(ds);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), want), "%s", eqs_ctx_error(ctx));
        eqs_ctx_clear_error(ctx);
        ck_assert_int_eq(eqs_dataset_read_idx(ctx, data("tiny-images-idx3-ubyte"),
                                              cases[k].path, NULL, &ds),
                         EQS_ERR_IO);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), want), "%s", eqs_ctx_error(ctx));
        eqs_ctx_clear_error(ctx);
        ck_assert_int_eq(eqs_dataset_read_csv(ctx, cases[k].path, NULL, &ds), EQS_ERR_IO);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), want), "%s", eqs_ctx_error(ctx));
        eqs_ctx_free(&ctx);
    }
}
END_TEST

/* A NUL inside a CSV field is an error at its line and column (strtod
 * stopped there and read "0.2<NUL>garbage" as 0.2); other garbage after a
 * number is an error at the field. */
START_TEST(test_csv_garbage_in_fields)
{
    static const char nul[] = "x,y,label\n0.1,0.2\0garbage,1\n";
    expect_csv_error(write_named("nul.csv", nul, sizeof nul - 1), NULL, EQS_ERR_INPUT,
                     "nul.csv:2:8: error: NUL byte in a CSV field");
    static const char nul_label[] = "0.1,0.2,1\0\n";
    expect_csv_error(write_named("nul2.csv", nul_label, sizeof nul_label - 1), NULL,
                     EQS_ERR_INPUT, "nul2.csv:1:10: error: NUL byte");
    expect_csv_error(tu_write_temp("x,y,label\n0.1,0.2garbage,1\n", ".csv"), NULL, EQS_ERR_INPUT,
                     ":2:5: error: feature '0.2garbage' is not a finite number");
    expect_csv_error(tu_write_temp("x,y,label\n0.1,0.2 0.3,1\n", ".csv"), NULL, EQS_ERR_INPUT,
                     ":2:5: error: feature '0.2 0.3' is not a finite number");
    expect_csv_error(tu_write_temp("x,y,label\n0.1,0.2,1x\n", ".csv"), NULL, EQS_ERR_INPUT,
                     ":2:9: error: label '1x' is not a non-negative integer");
}
END_TEST

Suite *suite_dataset(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, test_idx_plain_and_gzip);
    tcase_add_test(tc, test_idx_bad_input);
    tcase_add_test(tc, test_idx_feature_vectors);
    tcase_add_test(tc, test_csv_read);
    tcase_add_test(tc, test_csv_bad_input);
    tcase_add_test(tc, test_check_features_and_labels);
    tcase_add_test(tc, test_synthetic_xor);
    tcase_add_test(tc, test_synthetic_blobs_and_subset);
    tcase_add_test(tc, test_shuffle_deterministic);
    tcase_add_test(tc, test_idx_header_claims_too_much);
    tcase_add_test(tc, test_idx_gzip_stream_checks);
    tcase_add_test(tc, test_dataset_not_regular_files);
    tcase_add_test(tc, test_csv_garbage_in_fields);
    suite_add_tcase(s, tc);
    return s;
}
