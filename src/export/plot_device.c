/*
 * plot_device.c: a device model's pulse response (eqs_device_response)
 * drawn as a line chart with plot.c: conductance in µS against pulse
 * number, up pulses from G_min and down pulses from G_max.
 */
#include "export.h"

#include <math.h>

#define DEVICE_TICKS 6          /* about this many ticks per axis */
#define DEVICE_PAD_REL 0.04     /* y range padded by this fraction of the data's span */
#define DEVICE_MARKER_PX 3.0    /* markers on every point while n <= DEVICE_MARKER_MAX */
#define DEVICE_MARKER_MAX 40
#define UP_RGB 0x1f77b4u        /* blue, as the learning curve's train error */
#define DOWN_RGB 0xff7f0eu      /* orange */

eqs_status eqs_plot_device_response(eqs_ctx *ctx, const char *title, int n, const double *G_up_S,
                                    const double *G_down_S, const char *png_path)
{
    if (n < 0 || !G_up_S || !G_down_S)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "plot: no pulse response to draw");
    const size_t m = (size_t)n + 1;
    double *buf = eqs_malloc(ctx, 3 * m * sizeof *buf);
    if (!buf) return EQS_ERR_NOMEM;
    double *k = buf, *up = buf + m, *down = buf + 2 * m;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m; ++i) {
        k[i] = (double)i;
        up[i] = G_up_S[i] * 1e6; /* µS */
        down[i] = G_down_S[i] * 1e6;
        for (int c = 0; c < 2; ++c) {
            const double v = c ? down[i] : up[i];
            if (!isfinite(v)) continue;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    double span = hi - lo;
    if (!(span > 0)) span = lo != 0 ? fabs(lo) : 1.0; /* flat: a window around it */
    const double mk = n <= DEVICE_MARKER_MAX ? DEVICE_MARKER_PX : 0.0;
    const eqs_plot_series series[2] = {
        {k, up, m, "up pulses from G_min", UP_RGB, mk},
        {k, down, m, "down pulses from G_max", DOWN_RGB, mk},
    };
    eqs_plot_chart ch = {EQS_DEVICE_PLOT_WIDTH, EQS_DEVICE_PLOT_HEIGHT, title,
                         "pulse number", "conductance (µS)", 0.0, n > 0 ? (double)n : 1.0, 1.0,
                         lo - DEVICE_PAD_REL * span, hi + DEVICE_PAD_REL * span, 1.0,
                         EQS_PLOT_LEGEND_AUTO, series, 2};
    ch.x_step = fmax(1.0, eqs_plot_nice_step(ch.x1 - ch.x0, DEVICE_TICKS)); /* whole pulses */
    ch.y_step = eqs_plot_nice_step(ch.y1 - ch.y0, DEVICE_TICKS);
    eqs_status st = eqs_plot_write(ctx, &ch, png_path);
    eqs_free(ctx, buf);
    return st;
}
