/* test_device_plot.c: `eqspice device --plot` (src/export/plot_device.c,
 * src/cli/cmd_device.c), `--pulses sweep`, and the presets whose numbers
 * come from elsewhere (the pulse table, NeuroSim's device).
 *
 * Oracles: the PNG read back with cairo (size, the two curve colours
 * present, mostly white, the up curve rising and the down curve falling
 * in image coordinates); the CSV rows against the constant step's closed
 * form; the sweep length against the closed forms of the constant step
 * (ceil(0.99 (levels - 1))) and of soft bounds (ceil(ln 0.01 / ln(1 -
 * dw/w))); nothing written on a bad model or an unwritable plot; the
 * shipped pulse table against aihwkit's ExpStep update written out again
 * here; neurosim-nl.xml against NeuroSim's own curve formula. */
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

/* A fresh context and the law read from the model at path (the test fails
 * if it cannot be read). */
static eqs_device_law *read_model(eqs_ctx **ctx, const char *path)
{
    *ctx = NULL;
    ck_assert_int_eq(eqs_ctx_create(ctx), EQS_OK);
    eqs_device_law *law = NULL;
    ck_assert_msg(eqs_device_law_read(*ctx, path, &law) == EQS_OK, "%s", eqs_ctx_error(*ctx));
    return law;
}

/* Write text to path (the test fails if it cannot). */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
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
    put_file(bad, "<?xml version=\"1.0\"?>\n<!-- g_min above g_max -->\n"
                  "<device law=\"ideal\" g_min_S=\"1\" g_max_S=\"0\"/>\n");
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
    put_file(soft, "<device law=\"soft\" g_min_S=\"0\" g_max_S=\"1e-3\" dw_min_S=\"1e-5\"/>\n");
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

/* ---- presets: provenance checked against independent re-derivations ---- */

/* aihwkit's ExpStep update_once (rpu_expstep_device.cpp) for the mean
 * device of ReRamESPresetDevice (presets/devices.py), written out here
 * again from those sources: one pulse in weight units w in [-1, 1]. */
static double aihwkit_expstep(double w, int up)
{
    const double dw_min = 0.00135, up_down = 0.259359, a = -0.5, b = -0.5;
    const double gamma_up = 5.0, gamma_down = 5.0, A_up = -1.18445, A_down = -0.081404;
    const double scale_up = dw_min, scale_down = dw_min * (1.0 - up_down); /* up_down > 0 */
    const double z = 2.0 * w / 2.0 * a + b;
    if (up) w += fmax(1.0 - A_up * exp(gamma_up * z), 0.0) * scale_up;
    else w -= fmax(1.0 - A_down * exp(gamma_down * -z), 0.0) * scale_down;
    return fmin(fmax(w, -1.0), 1.0);
}

START_TEST(test_device_preset_table)
{
    eqs_ctx *ctx;
    eqs_device_law *law = read_model(&ctx, tu_path("models/reram-es-table.xml"));
    ck_assert_int_eq(law->kind, EQS_DEVICE_TABLE);
    const double gmin = 1e-6, gmax = 1e-4, W = gmax - gmin;
    ck_assert(law->g_min_S == gmin && law->g_max_S == gmax);
    /* the table is aihwkit's curve, to the CSV's 10 significant digits */
    double wu = -1.0, wd = 1.0;
    int nu = -1, nd = -1;
    for (int k = 0; k <= law->table_n; ++k) {
        const double gu = gmin + (wu + 1.0) / 2.0 * W, gd = gmin + (wd + 1.0) / 2.0 * W;
        ck_assert_msg(fabs(law->table_up_S[k] - gu) <= 1e-9 * gmax, "up k=%d: %.17g vs %.17g", k,
                      law->table_up_S[k], gu);
        ck_assert_msg(fabs(law->table_down_S[k] - gd) <= 1e-9 * gmax, "down k=%d", k);
        if (nu < 0 && wu >= 1.0) nu = k;
        if (nd < 0 && wd <= -1.0) nd = k;
        wu = aihwkit_expstep(wu, 1);
        wd = aihwkit_expstep(wd, 0);
    }
    /* the table ends where the slower direction (up) reaches its bound */
    ck_assert_int_eq(nu, law->table_n);
    ck_assert_int_gt(nd, 0);
    ck_assert_int_lt(nd, nu);
    /* pulsed through the law, the device follows the table and stays at its bounds */
    eqs_device_inst dev;
    eqs_device_instance(law, 0, &dev);
    const int n = law->table_n + 5;
    double *up = malloc((size_t)(n + 1) * sizeof *up), *down = malloc((size_t)(n + 1) * sizeof *down);
    eqs_device_response(law, &dev, n, up, down);
    for (int k = 0; k <= n; ++k) {
        const int j = k <= law->table_n ? k : law->table_n;
        ck_assert(fabs(up[k] - law->table_up_S[j]) <= 1e-12 * gmax);
        ck_assert(fabs(down[k] - law->table_down_S[j]) <= 1e-12 * gmax);
    }
    ck_assert(up[n] == gmax && down[nd] == gmin && down[n] == gmin);
    free(up);
    free(down);
    eqs_device_law_free(ctx, &law);
    eqs_ctx_free(&ctx);
}
END_TEST

/* A table whose faster direction sits at its bound for the last rows is
 * read; a repeat anywhere else is refused (also in test_device.c). */
START_TEST(test_device_table_plateau)
{
    const char *dir = tu_temp_dir();
    char xml[4096], csv[4096];
    snprintf(xml, sizeof xml, "%s/m.xml", dir);
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    put_file(xml, "<device law=\"table\" g_min_S=\"0\" g_max_S=\"1e-3\" table=\"t.csv\"/>\n");
    put_file(csv, "pulse,G_up_S,G_down_S\n0,0,1e-3\n1,5e-4,6e-4\n2,1e-3,3e-4\n3,1e-3,1e-4\n");
    eqs_ctx *ctx;
    eqs_device_law *law = read_model(&ctx, xml);
    ck_assert_int_eq(law->table_n, 3);
    eqs_device_inst dev;
    eqs_device_instance(law, 0, &dev);
    double up[6], down[6];
    eqs_device_response(law, &dev, 5, up, down);
    const double eu[6] = {0, 5e-4, 1e-3, 1e-3, 1e-3, 1e-3}, ed[6] = {1e-3, 6e-4, 3e-4, 1e-4, 1e-4, 1e-4};
    for (int k = 0; k < 6; ++k) {
        ck_assert_msg(fabs(up[k] - eu[k]) <= 1e-18, "up %d: %g", k, up[k]);
        ck_assert_msg(fabs(down[k] - ed[k]) <= 1e-18, "down %d: %g", k, down[k]);
    }
    /* from halfway up the first segment one pulse goes halfway up the second */
    ck_assert(fabs(eqs_device_pulse(law, &dev, 2.5e-4, 1, 0, 0, 0) - 7.5e-4) <= 1e-18);
    eqs_device_law_free(ctx, &law);
    /* a repeat below the bound is still refused */
    put_file(csv, "pulse,G_up_S,G_down_S\n0,0,1e-3\n1,9e-4,6e-4\n2,9e-4,3e-4\n");
    ck_assert_int_eq(eqs_device_law_read(ctx, xml, &law), EQS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(eqs_ctx_error(ctx), "t.csv:4:1: error: G_up_S does not increase"));
    ck_assert_uint_eq(eqs_ctx_alloc_count(ctx), eqs_ctx_free_count(ctx));
    eqs_ctx_free(&ctx);
}
END_TEST

/* neurosim-nl.xml is NeuroSim's RealDevice: its response equals NeuroSim's
 * own NonlinearWeight(x) = B (1 - exp(-x/A)) + G_min (MLP_NeuroSim_V3.0
 * formula.cpp), with A = getParamA(NL) P_max from NeuroSim's table
 * (getParamA(2.4) = 0.499181, getParamA(-4.88) = -0.200303), LTP at x = k
 * and LTD at x = P_max - k (Cell.cpp, RealDevice::Write). */
START_TEST(test_device_preset_neurosim)
{
    eqs_ctx *ctx;
    eqs_device_law *law = read_model(&ctx, tu_path("models/neurosim-nl.xml"));
    const double gmin = 3.0769e-9, gmax = 3.8462e-8;
    const double P_ltp = 97, P_ltd = 100, A_ltp = 0.499181 * P_ltp, A_ltd = -0.200303 * P_ltd;
    const double B_ltp = (gmax - gmin) / (1 - exp(-P_ltp / A_ltp));
    const double B_ltd = (gmax - gmin) / (1 - exp(-P_ltd / A_ltd));
    eqs_device_inst dev;
    eqs_device_instance(law, 0, &dev);
    double up[101], down[101];
    eqs_device_response(law, &dev, 100, up, down);
    for (int k = 0; k <= 100; ++k) {
        const double eu = k <= 97 ? B_ltp * (1 - exp(-k / A_ltp)) + gmin : gmax;
        const double ed = B_ltd * (1 - exp(-(P_ltd - k) / A_ltd)) + gmin;
        ck_assert_msg(fabs(up[k] - eu) <= 1e-12 * gmax, "LTP k=%d: %.17g vs %.17g", k, up[k], eu);
        ck_assert_msg(fabs(down[k] - ed) <= 1e-12 * gmax, "LTD k=%d: %.17g vs %.17g", k, down[k],
                      ed);
    }
    eqs_device_law_free(ctx, &law);
    eqs_ctx_free(&ctx);
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
    tcase_add_test(tc, test_device_preset_table);
    tcase_add_test(tc, test_device_table_plateau);
    tcase_add_test(tc, test_device_preset_neurosim);
    suite_add_tcase(s, tc);
    return s;
}
