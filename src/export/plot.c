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

#define TRAIN_RGB 0x1f77b4u
#define TEST_RGB 0xff7f0eu

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

double eqs_plot_nice_step(double span, int target)
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

static rgb rgb_of(unsigned c)
{
    return (rgb){((c >> 16) & 0xffu) / 255.0, ((c >> 8) & 0xffu) / 255.0, (c & 0xffu) / 255.0};
}

static void draw_series(cairo_t *cr, const frame *fr, const eqs_plot_series *sr)
{
    const rgb c = rgb_of(sr->rgb);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, LINE_WIDTH);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    int open = 0;
    for (size_t i = 0; i < sr->n; ++i) {
        if (!isfinite(sr->y[i])) {
            open = 0;
            continue;
        }
        double X = fx(fr, sr->x[i]), Y = fy(fr, sr->y[i]);
        if (open) cairo_line_to(cr, X, Y);
        else cairo_move_to(cr, X, Y);
        open = 1;
    }
    cairo_stroke(cr);
    if (!(sr->marker_px > 0)) return;
    for (size_t i = 0; i < sr->n; ++i) {
        if (!isfinite(sr->y[i])) continue;
        cairo_arc(cr, fx(fr, sr->x[i]), fy(fr, sr->y[i]), sr->marker_px, 0, 2 * PI);
        cairo_fill(cr);
    }
}

static int any_finite(const double *y, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (isfinite(y[i])) return 1;
    return 0;
}

/* Whether the segment (x0,y0)-(x1,y1) meets the box [bx0,bx1] x [by0,by1]
 * (Liang-Barsky clipping). */
static int segment_hits(double x0, double y0, double x1, double y1, double bx0, double by0,
                        double bx1, double by1)
{
    const double dx = x1 - x0, dy = y1 - y0;
    const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - bx0, bx1 - x0, y0 - by0, by1 - y0};
    double t0 = 0.0, t1 = 1.0;
    for (int i = 0; i < 4; ++i) {
        if (p[i] == 0.0) {
            if (q[i] < 0.0) return 0;
        } else {
            const double t = q[i] / p[i];
            if (p[i] < 0.0) t0 = fmax(t0, t);
            else t1 = fmin(t1, t);
            if (t0 > t1) return 0;
        }
    }
    return 1;
}

/* Segments of the drawn curves that pass through a legend box at (lx, ly)
 * of lw x lh pixels, with a margin of the line's half width. */
static long legend_hits(const eqs_plot_chart *ch, const frame *fr, const int *show, double lx,
                        double ly, double lw, double lh)
{
    const double m = LINE_WIDTH;
    long hits = 0;
    for (int s = 0; s < ch->n_series; ++s) {
        if (!show[s]) continue;
        const eqs_plot_series *sr = &ch->series[s];
        for (size_t i = 0; i < sr->n; ++i) {
            if (!isfinite(sr->y[i])) continue;
            const double X = fx(fr, sr->x[i]), Y = fy(fr, sr->y[i]);
            size_t j = i + 1;
            const int seg = j < sr->n && isfinite(sr->y[j]);
            const double X1 = seg ? fx(fr, sr->x[j]) : X, Y1 = seg ? fy(fr, sr->y[j]) : Y;
            hits += segment_hits(X, Y, X1, Y1, lx - m, ly - m, lx + lw + m, ly + lh + m);
        }
    }
    return hits;
}

static void draw(cairo_t *cr, const eqs_plot_chart *ch)
{
    const double W = ch->width, H = ch->height;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    frame fr = {ch->x0, ch->x1, ch->y0, ch->y1, MARGIN_LEFT, W - MARGIN_RIGHT, H - MARGIN_BOTTOM,
                MARGIN_TOP};
    const double xstep = ch->x_step, ystep = ch->y_step;

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_SIZE);
    char buf[64];

    /* grid, ticks and tick labels */
    cairo_set_line_width(cr, 1);
    for (double y = ceil(fr.y0 / ystep) * ystep; y <= fr.y1 + ystep * 1e-9; y += ystep) {
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
    text_at(cr, (fr.px0 + fr.px1) / 2, H - 18, ch->x_label, 0.5, 1.0);
    cairo_save(cr);
    cairo_translate(cr, 22, (fr.py0 + fr.py1) / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, ch->y_label, 0.5, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, TITLE_SIZE);
    text_at(cr, (fr.px0 + fr.px1) / 2, MARGIN_TOP / 2, ch->title, 0.5, 0.5);
    cairo_set_font_size(cr, FONT_SIZE);

    /* curves, clipped to the plot area (markers and line ends may stick out) */
    double pad = LINE_WIDTH / 2;
    int show[EQS_PLOT_MAX_SERIES] = {0}, rows = 0;
    for (int s = 0; s < ch->n_series; ++s) {
        show[s] = any_finite(ch->series[s].y, ch->series[s].n);
        rows += show[s];
        pad = fmax(pad, ch->series[s].marker_px);
    }
    cairo_save(cr);
    cairo_rectangle(cr, fr.px0 - pad, fr.py1 - pad, fr.px1 - fr.px0 + 2 * pad,
                    fr.py0 - fr.py1 + 2 * pad);
    cairo_clip(cr);
    for (int s = 0; s < ch->n_series; ++s)
        if (show[s]) draw_series(cr, &fr, &ch->series[s]);
    cairo_restore(cr);

    /* legend: top right, or (auto) the first of a few places that no curve crosses */
    if (rows == 0) return;
    double lw = 150;
    for (int s = 0; s < ch->n_series; ++s) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, ch->series[s].name, &te);
        if (show[s]) lw = fmax(lw, ceil(te.x_advance) + 62);
    }
    double lh = 12 + 22.0 * rows;
    double lx = fr.px1 - lw - 12, ly = fr.py1 + 12;
    if (ch->legend == EQS_PLOT_LEGEND_AUTO) {
        const double mid = (fr.py0 + fr.py1 - lh) / 2, left = fr.px0 + 12;
        const double bottom = fr.py0 - lh - 12, cx = (fr.px0 + fr.px1 - lw) / 2;
        const double at[][2] = {{lx, mid},   {lx, ly},     {lx, bottom}, {left, ly},
                                {left, bottom}, {cx, ly},  {cx, bottom}, {cx, mid},
                                {left, mid}};
        long best = -1;
        for (size_t k = 0; k < sizeof at / sizeof *at && best != 0; ++k) {
            const long h = legend_hits(ch, &fr, show, at[k][0], at[k][1], lw, lh);
            if (best < 0 || h < best) {
                best = h;
                lx = at[k][0];
                ly = at[k][1];
            }
        }
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, lx, ly, lw, lh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    double yy = ly + 17;
    for (int s = 0; s < ch->n_series; ++s) {
        if (!show[s]) continue;
        const rgb c = rgb_of(ch->series[s].rgb);
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        cairo_set_line_width(cr, LINE_WIDTH);
        cairo_move_to(cr, lx + 10, yy);
        cairo_line_to(cr, lx + 40, yy);
        cairo_stroke(cr);
        if (ch->series[s].marker_px > 0) {
            cairo_arc(cr, lx + 25, yy, ch->series[s].marker_px, 0, 2 * PI);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, lx + 50, yy, ch->series[s].name, 0.0, 0.5);
        yy += 22;
    }
}

static cairo_status_t write_png(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                          : CAIRO_STATUS_WRITE_ERROR;
}

/* Write surface s (destroyed) as the PNG png_path, atomically. */
static eqs_status write_surface(eqs_ctx *ctx, cairo_surface_t *s, const char *png_path)
{
    eqs_atomic a;
    eqs_status st = eqs_atomic_open(ctx, png_path, &a);
    if (st != EQS_OK) {
        cairo_surface_destroy(s);
        return st;
    }
    cairo_status_t cs = cairo_surface_write_to_png_stream(s, write_png, a.f);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) {
        int e = a.err; /* a failed write(2), if that was it */
        eqs_atomic_abort(&a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", png_path,
                         e ? strerror(e) : cairo_status_to_string(cs));
    }
    return eqs_atomic_commit(&a); /* a failed write: "cannot write '<png>': <reason>" */
}

eqs_status eqs_plot_write(eqs_ctx *ctx, const eqs_plot_chart *chart, const char *png_path)
{
    if (chart->n_series < 0 || chart->n_series > EQS_PLOT_MAX_SERIES || chart->width < 1 ||
        chart->height < 1 || !(chart->x1 > chart->x0) || !(chart->y1 > chart->y0) ||
        !(chart->x_step > 0) || !(chart->y_step > 0))
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: bad chart layout");
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, chart->width, chart->height);
    cairo_t *cr = cairo_create(s);
    draw(cr, chart);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    if (cs != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: cairo: %s", cairo_status_to_string(cs));
    }
    return write_surface(ctx, s, png_path);
}

/* The learning curve's axes: epochs on x (integer ticks, from 0 when the
 * first epoch is 1), error from 0 up to at most 100 % on y. */
static void curve_axes(const curve *cv, eqs_plot_chart *ch)
{
    ch->x0 = cv->epoch[0];
    ch->x1 = cv->epoch[0];
    double ymax = 0;
    for (size_t i = 0; i < cv->n; ++i) {
        ch->x0 = fmin(ch->x0, cv->epoch[i]);
        ch->x1 = fmax(ch->x1, cv->epoch[i]);
        if (isfinite(cv->train[i])) ymax = fmax(ymax, cv->train[i]);
        if (isfinite(cv->test[i])) ymax = fmax(ymax, cv->test[i]);
    }
    if (ch->x1 - ch->x0 < 1) { /* one epoch: centre it */
        ch->x0 -= 1;
        ch->x1 += 1;
    }
    if (ch->x0 > 0 && ch->x0 <= 1) ch->x0 = 0; /* start the axis at 0 */
    if (!(ymax > 0)) ymax = 1;
    ch->y_step = eqs_plot_nice_step(ymax * 1.05, TARGET_TICKS);
    ch->y0 = 0;
    ch->y1 = ceil(ymax * 1.05 / ch->y_step) * ch->y_step;
    if (ymax <= 100 && ch->y1 > 100) ch->y1 = 100; /* errors never exceed 100 % */
    ch->x_step = eqs_plot_nice_step(ch->x1 - ch->x0, TARGET_TICKS);
    if (ch->x_step < 1) ch->x_step = 1; /* epochs are integers */
}

eqs_status eqs_plot_learning_curve(eqs_ctx *ctx, const char *metrics_csv, const char *png_path)
{
    curve cv;
    eqs_status st = read_metrics(ctx, metrics_csv, &cv);
    if (st != EQS_OK) return st;
    const eqs_plot_series series[2] = {
        {cv.epoch, cv.train, cv.n, "train error", TRAIN_RGB, MARKER_RADIUS},
        {cv.epoch, cv.test, cv.n, "test error", TEST_RGB, MARKER_RADIUS},
    };
    eqs_plot_chart ch = {EQS_PLOT_WIDTH, EQS_PLOT_HEIGHT, "Learning curve", "epoch", "error (%)",
                         0, 0, 0, 0, 0, 0, EQS_PLOT_LEGEND_TOP_RIGHT, series, 2};
    curve_axes(&cv, &ch);
    st = eqs_plot_write(ctx, &ch, png_path);
    curve_free(ctx, &cv);
    return st;
}

/* ---- heatmap (report.c) ---- */

/* Viridis at t in [0, 1], from five of its stops. */
static rgb viridis(double t)
{
    static const double st[5][3] = {{0.267, 0.005, 0.329},
                                     {0.230, 0.322, 0.546},
                                     {0.128, 0.567, 0.551},
                                     {0.370, 0.789, 0.383},
                                     {0.993, 0.906, 0.144}};
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    const double x = t * 4;
    int i = (int)x;
    if (i > 3) i = 3;
    const double f = x - i;
    return (rgb){st[i][0] + f * (st[i + 1][0] - st[i][0]), st[i][1] + f * (st[i + 1][1] - st[i][1]),
                 st[i][2] + f * (st[i + 1][2] - st[i][2])};
}

eqs_status eqs_plot_heatmap(eqs_ctx *ctx, const char *title, int rows, int cols, const double *G_S,
                            double lo_S, double hi_S, const char *png_path)
{
    if (rows < 1 || cols < 1 || !G_S)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: bad heatmap layout");
    if (!(hi_S > lo_S)) hi_S = lo_S + (lo_S != 0 ? fabs(lo_S) * 1e-6 : 1e-9);
    /* the matrix as an image, one pixel per device, scaled into the plot area */
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols, rows);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: heatmap of %d x %d", rows, cols);
    }
    cairo_surface_flush(img);
    unsigned char *px = cairo_image_surface_get_data(img);
    const int stride = cairo_image_surface_get_stride(img);
    for (int i = 0; i < rows; ++i) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)i * (size_t)stride);
        for (int j = 0; j < cols; ++j) {
            const double g = G_S[(size_t)i * (size_t)cols + (size_t)j];
            rgb c = isfinite(g) ? viridis((g - lo_S) / (hi_S - lo_S)) : (rgb){1, 1, 1};
            row[j] = ((uint32_t)(c.r * 255 + 0.5) << 16) | ((uint32_t)(c.g * 255 + 0.5) << 8) |
                     (uint32_t)(c.b * 255 + 0.5);
        }
    }
    cairo_surface_mark_dirty(img);
    const int W = EQS_DEVICE_PLOT_WIDTH, H = EQS_DEVICE_PLOT_HEIGHT;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    const double x0 = MARGIN_LEFT, y0 = MARGIN_TOP, x1 = W - 120.0, y1 = H - MARGIN_BOTTOM;
    cairo_save(cr);
    cairo_translate(cr, x0, y0);
    cairo_scale(cr, (x1 - x0) / cols, (y1 - y0) / rows);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, cols, rows);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, TITLE_SIZE);
    text_at(cr, W / 2.0, 18, title, 0.5, 0.0);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_SIZE);
    char buf[64];
    snprintf(buf, sizeof buf, "column line 0..%d (output)", cols - 1);
    text_at(cr, (x0 + x1) / 2, y1 + 12, buf, 0.5, 0.0);
    cairo_save(cr);
    cairo_move_to(cr, 0, 0);
    cairo_translate(cr, 22, (y0 + y1) / 2);
    cairo_rotate(cr, -PI / 2);
    snprintf(buf, sizeof buf, "row line 0..%d (input)", rows - 1);
    text_at(cr, 0, 0, buf, 0.5, 0.5);
    cairo_restore(cr);
    /* colour bar with five labels in µS */
    const double bx = x1 + 20, bw = 18;
    for (int k = 0; k < 100; ++k) {
        rgb c = viridis(k / 99.0);
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        cairo_rectangle(cr, bx, y1 - (y1 - y0) * (k + 1) / 100.0, bw, (y1 - y0) / 100.0 + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int k = 0; k <= 4; ++k) {
        const double g = lo_S + (hi_S - lo_S) * k / 4.0;
        snprintf(buf, sizeof buf, "%.3g", g * 1e6);
        text_at(cr, bx + bw + 4, y1 - (y1 - y0) * k / 4.0, buf, 0.0, 0.5);
    }
    text_at(cr, bx, y0 - 8, "G (µS)", 0.0, 1.0);
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    if (cs != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: cairo: %s", cairo_status_to_string(cs));
    }
    return write_surface(ctx, s, png_path);
}
