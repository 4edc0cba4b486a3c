/* test_device_plot.c: `eqspice device --plot` (src/export/plot_device.c,
 * src/cli/cmd_device.c) and `--pulses sweep`.
 *
 * Oracles: the PNG read back with cairo (size, the two curve colours
 * present, mostly white, the up curve rising and the down curve falling
 * in image coordinates); the CSV rows against the constant step's closed
 * form; the sweep length against the closed forms of the constant step
 * (ceil(0.99 (levels - 1))) and of soft bounds (ceil(ln 0.01 / ln(1 -
 * dw/w))); nothing written on a bad model or an unwritable plot. */
#include "testutil.h"

#include <cairo.h> /* reads the plot back */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UP_COLOUR 0x1f77b4u
#define DOWN_COLOUR 0xff7f0eu

typedef struct {
    long n;           /* pixels of the colour */
    double corr;      /* correlation of x with -y over those pixels */
} colour_stats;

/* Pixels of exactly colour rgb in the PNG and how they trend: -2 in n if
 * the file is not a PNG of EQS_DEVICE_PLOT_WIDTH x EQS_DEVICE_PLOT_HEIGHT. */
static colour_stats stats_of(const char *png, unsigned rgb, long *white)
{
    colour_stats cs = {-2, 0.0};
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS ||
        cairo_image_surface_get_width(s) != EQS_DEVICE_PLOT_WIDTH ||
        cairo_image_surface_get_height(s) != EQS_DEVICE_PLOT_HEIGHT) {
        cairo_surface_destroy(s);
        return cs;
    }
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    long n = 0, w = 0;
    for (int y = 0; y < EQS_DEVICE_PLOT_HEIGHT; ++y) {
        const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y * (size_t)stride);
        for (int x = 0; x < EQS_DEVICE_PLOT_WIDTH; ++x) {
            const unsigned p = row[x] & 0xffffffu;
            w += p == 0xffffffu;
            if (p != rgb) continue;
            const double X = x, Y = -(double)y;
            ++n;
            sx += X, sy += Y, sxx += X * X, syy += Y * Y, sxy += X * Y;
        }
    }
    cairo_surface_destroy(s);
    cs.n = n;
    if (n > 1) {
        const double cxx = sxx - sx * sx / n, cyy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
        cs.corr = cxy / sqrt(cxx * cyy);
    }
    if (white) *white = w;
    return cs;
}

static int is_png(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[8] = {0};
    const size_t got = fread(b, 1, 8, f);
    fclose(f);
    return got == 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
}

/* Rows of a pulse,G_up_S,G_down_S CSV (-1 if the header is wrong). */
static int csv_rows(const char *out)
{
    if (strncmp(out, "pulse,G_up_S,G_down_S\n", 22)) return -1;
    int rows = 0;
    for (const char *p = out + 22; *p; ++p) rows += *p == '\n';
    return rows;
}

START_TEST(test_device_plot_png)
{
    const char *dir = tu_temp_dir();
    char model[4096], png[4200];
    snprintf(model, sizeof model, "%s", tu_path("models/linear-step-64.xml"));
    snprintf(png, sizeof png, "%s/response.png", dir);
    const char *const argv[] = {"device", model, "--pulses", "70", "--plot", png, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 0);
    /* the CSV still goes to stdout, unchanged: rows against the closed form */
    ck_assert_int_eq(csv_rows(out), 71);
    const double dw = (1e-4 - 1e-6) / 63;
    int k = 0;
    for (const char *p = strchr(out, '\n') + 1; *p; p = strchr(p, '\n') + 1, ++k) {
        int kk;
        double gu, gd;
        ck_assert_int_eq(sscanf(p, "%d,%lf,%lf", &kk, &gu, &gd), 3);
        ck_assert(fabs(gu - fmin(1e-6 + k * dw, 1e-4)) <= 1e-12 * 1e-4);
        ck_assert(fabs(gd - fmax(1e-4 - k * dw, 1e-6)) <= 1e-12 * 1e-4);
    }
    free(out);
    free(err);
    ck_assert(is_png(png));
    long white = 0;
    const colour_stats up = stats_of(png, UP_COLOUR, &white);
    const colour_stats down = stats_of(png, DOWN_COLOUR, NULL);
    ck_assert_int_gt(up.n, 300); /* a 2.5 px line across the plot, markers, legend */
    ck_assert_int_gt(down.n, 300);
    ck_assert_int_gt(white, EQS_DEVICE_PLOT_WIDTH * EQS_DEVICE_PLOT_HEIGHT / 2);
    /* the up curve rises and the down curve falls (legend pixels included) */
    ck_assert_msg(up.corr > 0.5, "up corr %g", up.corr);
    ck_assert_msg(down.corr < -0.5, "down corr %g", down.corr);

    /* -o: the CSV to the file, the PNG as before, nothing on stdout */
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/response.csv", dir);
    unlink(png);
    const char *const argo[] = {"device", model, "--plot", png, "-o", csv, NULL};
    ck_assert_int_eq(tu_run_cli(argo, &out, &err, 60), 0);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    char *text = tu_read_file(csv);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(csv_rows(text), 101);
    free(text);
    ck_assert(stats_of(png, UP_COLOUR, NULL).n > 300);
    cairo_debug_reset_static_data();
}
END_TEST

START_TEST(test_device_plot_errors)
{
    const char *dir = tu_temp_dir();
    char bad[4096], png[4200];
    snprintf(bad, sizeof bad, "%s/bad.xml", dir);
    FILE *f = fopen(bad, "w");
    ck_assert_ptr_nonnull(f);
    fputs("<?xml version=\"1.0\"?>\n<!-- g_min above g_max -->\n"
          "<device law=\"ideal\" g_min_S=\"1\" g_max_S=\"0\"/>\n", f);
    fclose(f);
    snprintf(png, sizeof png, "%s/bad.png", dir);
    const char *const argv[] = {"device", bad, "--plot", png, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 1);
    char want[4200];
    snprintf(want, sizeof want, "%s:3:1: error: ", bad);
    ck_assert_msg(strstr(err, want) != NULL, "stderr '%s'", err);
    ck_assert_str_eq(out, "");
    ck_assert_int_ne(access(png, F_OK), 0); /* no PNG */
    free(out);
    free(err);

    /* a plot that cannot be written: exit 1, no CSV either */
    char model[4096];
    snprintf(model, sizeof model, "%s", tu_path("models/ideal.xml"));
    snprintf(png, sizeof png, "%s/no/such/dir/p.png", dir);
    const char *const argn[] = {"device", model, "--plot", png, NULL};
    ck_assert_int_eq(tu_run_cli(argn, &out, &err, 60), 1);
    ck_assert_msg(strstr(err, "p.png") != NULL, "stderr '%s'", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    /* usage errors */
    const char *const arga[] = {"device", model, "--plot", NULL};
    ck_assert_int_eq(tu_run_cli(arga, &out, &err, 60), 1);
    free(out);
    free(err);
    const char *const argb[] = {"device", model, "--pulses", "swept", NULL};
    ck_assert_int_eq(tu_run_cli(argb, &out, &err, 60), 1);
    free(out);
    free(err);
    /* nothing else was left in the directory */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\" || test \"$(ls -A '%s')\" = bad.xml",
             dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --pulses sweep against the closed forms. */
START_TEST(test_device_plot_sweep)
{
    char model[4096];
    snprintf(model, sizeof model, "%s", tu_path("models/linear-step-64.xml"));
    const char *const argv[] = {"device", model, "--pulses", "sweep", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 60), 0);
    /* constant step w/63: within 1 % of the far bound after ceil(0.99 * 63) pulses */
    ck_assert_int_eq(csv_rows(out), (int)ceil(0.99 * 63) + 1);
    free(out);
    free(err);

    /* soft bounds, dw/w = 0.01: (1 - 0.01)^k <= 0.01 */
    const char *dir = tu_temp_dir();
    char soft[4200];
    snprintf(soft, sizeof soft, "%s/soft.xml", dir);
    FILE *f = fopen(soft, "w");
    ck_assert_ptr_nonnull(f);
    fputs("<device law=\"soft\" g_min_S=\"0\" g_max_S=\"1e-3\" dw_min_S=\"1e-5\"/>\n", f);
    fclose(f);
    const char *const args[] = {"device", soft, "--pulses", "sweep", NULL};
    ck_assert_int_eq(tu_run_cli(args, &out, &err, 60), 0);
    ck_assert_int_eq(csv_rows(out), (int)ceil(log(0.01) / log(1.0 - 0.01)) + 1);
    free(out);
    free(err);

    /* the ideal law is not pulsed: the default 100 */
    snprintf(model, sizeof model, "%s", tu_path("models/ideal.xml"));
    const char *const argi[] = {"device", model, "--pulses", "sweep", NULL};
    ck_assert_int_eq(tu_run_cli(argi, &out, &err, 60), 0);
    ck_assert_int_eq(csv_rows(out), 101);
    free(out);
    free(err);
}
END_TEST

Suite *suite_device_plot(void)
{
    Suite *s = suite_create("device_plot");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_device_plot_png);
    tcase_add_test(tc, test_device_plot_errors);
    tcase_add_test(tc, test_device_plot_sweep);
    suite_add_tcase(s, tc);
    return s;
}
