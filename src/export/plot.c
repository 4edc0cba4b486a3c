/*
 * plot.c: the learning curve (train and test error in percent against
 * epoch) drawn with cairo's image surface into a PNG.  The only file that
 * includes cairo.h.
 *
 * Layout (pixels, EQS_PLOT_WIDTH x EQS_PLOT_HEIGHT): white background, a
 * title, axes with "nice" ticks (1, 2, 5 x 10^k) and light grid lines,
 * axis labels, one polyline with round markers per curve, and a legend in
 * the top-right corner of the plot area.  Colours (also in
 * docs/training.md, the tests look for them): train #1f77b4 (blue), test
 * #ff7f0e (orange).  Non-finite values (a run without a test set writes
 * "nan") are left out; a curve with no finite value is not drawn and not
 * listed in the legend.
 */
#include "export.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MARGIN_LEFT 80.0
#define MARGIN_RIGHT 30.0
#define MARGIN_TOP 50.0
#define MARGIN_BOTTOM 65.0
#define LINE_WIDTH 2.5
#define MARKER_RADIUS 3.5
#define FONT_SIZE 14.0
#define TITLE_SIZE 17.0
#define TARGET_TICKS 6
#define PI 3.14159265358979323846

typedef struct {
    double r, g, b;
} rgb;

static const rgb TRAIN_RGB = {0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0};
static const rgb TEST_RGB = {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0};

typedef struct {
    double *epoch, *train, *test; /* error in percent */
    size_t n, cap;
} curve;

static void curve_free(eqs_ctx *ctx, curve *c)
{
    eqs_free(ctx, c->epoch);
    eqs_free(ctx, c->train);
    eqs_free(ctx, c->test);
    memset(c, 0, sizeof *c);
}

/* Index of a named column in a CSV header line (modified in place), -1 if absent. */
static int column(char *header, const char *name)
{
    int k = 0;
    for (char *p = header;; ++k) {
        char *end = p + strcspn(p, ",\r\n");
        if ((size_t)(end - p) == strlen(name) && !strncmp(p, name, (size_t)(end - p))) return k;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

/* Field k of a CSV line as a double; 0 on success. */
static int field(const char *line, int k, double *out)
{
    const char *p = line;
    for (int i = 0; i < k; ++i) {
        p = strchr(p, ',');
        if (!p) return -1;
        p++;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || (*end != ',' && *end != '\n' && *end != '\r' && *end != '\0')) return -1;
    *out = v;
    return 0;
}

static eqs_status read_metrics(eqs_ctx *ctx, const char *path, curve *cv)
{
    memset(cv, 0, sizeof *cv);
    FILE *f = eqs_file_open(ctx, path, "metrics file", EQS_NOLOC, EQS_ERR_INPUT, NULL);
    if (!f) return EQS_ERR_INPUT;
    char *line = NULL;
    size_t cap = 0;
    eqs_status st = EQS_OK;
    int ce = -1, ctr = -1, cte = -1, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        ++lineno;
        if (lineno == 1) {
            ce = column(line, "epoch");
            ctr = column(line, "train_error");
            cte = column(line, "test_error");
            if (ce < 0 || ctr < 0 || cte < 0) {
                st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                               "%s:1:1: error: not a metrics file (needs columns epoch, "
                               "train_error, test_error)",
                               path);
                break;
            }
            continue;
        }
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        double e, tr, te;
        if (field(line, ce, &e) || field(line, ctr, &tr) || field(line, cte, &te) ||
            !isfinite(e)) {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s:%d:1: error: malformed metrics row", path,
                           lineno);
            break;
        }
        if (cv->n == cv->cap) {
            size_t c1 = cv->cap, c2 = cv->cap, c3 = cv->cap;
            if (eqs_grow(ctx, (void **)&cv->epoch, &c1, cv->n + 1, sizeof(double)) ||
                eqs_grow(ctx, (void **)&cv->train, &c2, cv->n + 1, sizeof(double)) ||
                eqs_grow(ctx, (void **)&cv->test, &c3, cv->n + 1, sizeof(double))) {
                st = EQS_ERR_NOMEM;
                break;
            }
            cv->cap = c1;
        }
        cv->epoch[cv->n] = e;
        cv->train[cv->n] = 100.0 * tr;
        cv->test[cv->n] = 100.0 * te;
        cv->n++;
    }
    free(line);
    fclose(f);
    if (st == EQS_OK && lineno == 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: error: empty metrics file", path);
    else if (st == EQS_OK && cv->n == 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: error: no epochs to plot", path);
    if (st != EQS_OK) curve_free(ctx, cv);
    return st;
}

/* A "nice" tick step for the range span: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

typedef struct {
    double x0, x1, y0, y1;          /* data range */
    double px0, px1, py0, py1;      /* plot area in pixels (py0 bottom) */
} frame;

static double fx(const frame *f, double x) { return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0); }
static double fy(const frame *f, double y) { return f->py0 - (y - f->y0) / (f->y1 - f->y0) * (f->py0 - f->py1); }

static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - ax * te.width - te.x_bearing, y - ay * te.height - te.y_bearing);
    cairo_show_text(cr, s);
}

static void fmt_tick(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, fabs(v) < step * 1e-9 ? 0.0 : v);
}

static void draw_curve(cairo_t *cr, const frame *fr, const curve *cv, const double *y, rgb c)
{
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, LINE_WIDTH);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    int open = 0;
    for (size_t i = 0; i < cv->n; ++i) {
        if (!isfinite(y[i])) {
            open = 0;
            continue;
        }
        double X = fx(fr, cv->epoch[i]), Y = fy(fr, y[i]);
        if (open) cairo_line_to(cr, X, Y);
        else cairo_move_to(cr, X, Y);
        open = 1;
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < cv->n; ++i) {
        if (!isfinite(y[i])) continue;
        cairo_arc(cr, fx(fr, cv->epoch[i]), fy(fr, y[i]), MARKER_RADIUS, 0, 2 * PI);
        cairo_fill(cr);
    }
}

static int any_finite(const double *y, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (isfinite(y[i])) return 1;
    return 0;
}

static void draw(cairo_t *cr, const curve *cv)
{
    const double W = EQS_PLOT_WIDTH, H = EQS_PLOT_HEIGHT;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    frame fr;
    fr.x0 = cv->epoch[0];
    fr.x1 = cv->epoch[0];
    double ymax = 0;
    for (size_t i = 0; i < cv->n; ++i) {
        fr.x0 = fmin(fr.x0, cv->epoch[i]);
        fr.x1 = fmax(fr.x1, cv->epoch[i]);
        if (isfinite(cv->train[i])) ymax = fmax(ymax, cv->train[i]);
        if (isfinite(cv->test[i])) ymax = fmax(ymax, cv->test[i]);
    }
    if (fr.x1 - fr.x0 < 1) { /* one epoch: centre it */
        fr.x0 -= 1;
        fr.x1 += 1;
    }
    if (fr.x0 > 0 && fr.x0 <= 1) fr.x0 = 0; /* start the axis at 0 */
    if (!(ymax > 0)) ymax = 1;
    double ystep = nice_step(ymax * 1.05, TARGET_TICKS);
    fr.y0 = 0;
    fr.y1 = ceil(ymax * 1.05 / ystep) * ystep;
    if (ymax <= 100 && fr.y1 > 100) fr.y1 = 100; /* errors never exceed 100 % */
    double xstep = nice_step(fr.x1 - fr.x0, TARGET_TICKS);
    if (xstep < 1) xstep = 1; /* epochs are integers */
    fr.px0 = MARGIN_LEFT;
    fr.px1 = W - MARGIN_RIGHT;
    fr.py0 = H - MARGIN_BOTTOM;
    fr.py1 = MARGIN_TOP;

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_SIZE);
    char buf[64];

    /* grid, ticks and tick labels */
    cairo_set_line_width(cr, 1);
    for (double y = fr.y0; y <= fr.y1 + ystep * 1e-9; y += ystep) {
        double Y = floor(fy(&fr, y)) + 0.5;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, fr.px0, Y);
        cairo_line_to(cr, fr.px1, Y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, fr.px0 - 5, Y);
        cairo_line_to(cr, fr.px0, Y);
        cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, y, ystep);
        text_at(cr, fr.px0 - 9, Y, buf, 1.0, 0.5);
    }
    for (double x = ceil(fr.x0 / xstep) * xstep; x <= fr.x1 + xstep * 1e-9; x += xstep) {
        double X = floor(fx(&fr, x)) + 0.5;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, X, fr.py0);
        cairo_line_to(cr, X, fr.py1);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, X, fr.py0);
        cairo_line_to(cr, X, fr.py0 + 5);
        cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, x, xstep);
        text_at(cr, X, fr.py0 + 9, buf, 0.5, 0.0);
    }
    /* axes box */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, floor(fr.px0) + 0.5, floor(fr.py1) + 0.5, floor(fr.px1 - fr.px0),
                    floor(fr.py0 - fr.py1));
    cairo_stroke(cr);

    /* labels and title */
    text_at(cr, (fr.px0 + fr.px1) / 2, H - 18, "epoch", 0.5, 1.0);
    cairo_save(cr);
    cairo_translate(cr, 22, (fr.py0 + fr.py1) / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, "error (%)", 0.5, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, TITLE_SIZE);
    text_at(cr, (fr.px0 + fr.px1) / 2, MARGIN_TOP / 2, "Learning curve", 0.5, 0.5);
    cairo_set_font_size(cr, FONT_SIZE);

    /* curves, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, fr.px0 - MARKER_RADIUS, fr.py1 - MARKER_RADIUS,
                    fr.px1 - fr.px0 + 2 * MARKER_RADIUS, fr.py0 - fr.py1 + 2 * MARKER_RADIUS);
    cairo_clip(cr);
    int has_train = any_finite(cv->train, cv->n), has_test = any_finite(cv->test, cv->n);
    if (has_train) draw_curve(cr, &fr, cv, cv->train, TRAIN_RGB);
    if (has_test) draw_curve(cr, &fr, cv, cv->test, TEST_RGB);
    cairo_restore(cr);

    /* legend */
    const char *names[2] = {"train error", "test error"};
    const rgb cols[2] = {TRAIN_RGB, TEST_RGB};
    const int show[2] = {has_train, has_test};
    int rows = show[0] + show[1];
    if (rows == 0) return;
    double lw = 150, lh = 12 + 22.0 * rows;
    double lx = fr.px1 - lw - 12, ly = fr.py1 + 12;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, lx, ly, lw, lh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    double yy = ly + 17;
    for (int i = 0; i < 2; ++i) {
        if (!show[i]) continue;
        cairo_set_source_rgb(cr, cols[i].r, cols[i].g, cols[i].b);
        cairo_set_line_width(cr, LINE_WIDTH);
        cairo_move_to(cr, lx + 10, yy);
        cairo_line_to(cr, lx + 40, yy);
        cairo_stroke(cr);
        cairo_arc(cr, lx + 25, yy, MARKER_RADIUS, 0, 2 * PI);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, lx + 50, yy, names[i], 0.0, 0.5);
        yy += 22;
    }
}

static cairo_status_t write_png(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                          : CAIRO_STATUS_WRITE_ERROR;
}

eqs_status eqs_plot_learning_curve(eqs_ctx *ctx, const char *metrics_csv, const char *png_path)
{
    curve cv;
    eqs_status st = read_metrics(ctx, metrics_csv, &cv);
    if (st != EQS_OK) return st;
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, EQS_PLOT_WIDTH, EQS_PLOT_HEIGHT);
    cairo_t *cr = cairo_create(s);
    draw(cr, &cv);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    curve_free(ctx, &cv);
    if (cs != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: cairo: %s", cairo_status_to_string(cs));
    }
    eqs_atomic a;
    if ((st = eqs_atomic_open(ctx, png_path, &a)) != EQS_OK) {
        cairo_surface_destroy(s);
        return st;
    }
    cs = cairo_surface_write_to_png_stream(s, write_png, a.f);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) {
        int e = a.err; /* a failed write(2), if that was it */
        eqs_atomic_abort(&a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", png_path,
                         e ? strerror(e) : cairo_status_to_string(cs));
    }
    return eqs_atomic_commit(&a); /* a failed write: "cannot write '<png>': <reason>" */
}
