/* test_dataset.c: IDX (plain and gzip), CSV, synthetic tasks, subsets,
 * shuffling, and every bad-input case of the readers.  The files under
 * tests/data/ were written by a few lines of Python (values below are
 * the closed form they used): pixel k of image i = (37 i + 11 k) mod 256,
 * label i = i mod 3, 6 images of 2 x 3 pixels. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    suite_add_tcase(s, tc);
    return s;
}
