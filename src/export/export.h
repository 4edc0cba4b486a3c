/*
 * export.h: private header of the export module (trained netlist,
 * conductance CSV, run directory, checkpoints, plots).
 *
 * Every file the module writes goes through eqs_atomic_* (core/atomic.c,
 * described in core/core.h).
 */
#ifndef EQS_EXPORT_H
#define EQS_EXPORT_H

#include "../circuit/circuit.h"

#include <stdio.h>

/* Epoch and batch of a checkpoint file from its header, without loading it
 * (run directory messages): 0 ok, -1 if unreadable or not a checkpoint. */
int eqs_checkpoint_peek(const char *path, uint64_t *epoch, uint64_t *batch);

/* ---- plots (plot.c, the one file that includes cairo.h) ---- */

#define EQS_PLOT_MAX_SERIES 8

/* One curve: n points (x[i], y[i]) in the chart's data units joined by a
 * line 2.5 px wide; a non-finite y leaves a gap, and a series with no
 * finite y is neither drawn nor listed in the legend. */
typedef struct {
    const double *x, *y;
    size_t n;
    const char *name; /* legend entry */
    unsigned rgb;     /* colour 0xRRGGBB */
    double marker_px; /* radius of a round marker at every point (0: none) */
} eqs_plot_series;

typedef enum {
    EQS_PLOT_LEGEND_TOP_RIGHT = 0, /* inside the plot area's top-right corner */
    EQS_PLOT_LEGEND_AUTO = 1       /* the first of right-middle, top-right,
                                      bottom-right, top-left, bottom-left,
                                      top-centre, bottom-centre, centre,
                                      left-middle that no curve crosses
                                      (else the least crossed) */
} eqs_plot_legend;

/* A line chart: white background, title, axes with grid lines and tick
 * labels every x_step / y_step (from the first multiple inside the range),
 * axis labels and a legend. */
typedef struct {
    int width, height; /* pixels */
    const char *title, *x_label, *y_label;
    double x0, x1, x_step; /* axis range (x0 < x1) and tick step (> 0) */
    double y0, y1, y_step;
    eqs_plot_legend legend;
    const eqs_plot_series *series;
    int n_series; /* 0 .. EQS_PLOT_MAX_SERIES */
} eqs_plot_chart;

/* A "nice" tick step for a range of width span with about `target`
 * ticks: 1, 2 or 5 times a power of ten. */
double eqs_plot_nice_step(double span, int target);

/* Draw the chart into a PNG at png_path, written atomically (nothing is
 * left behind on failure).  Errors: EQS_ERR_INTERNAL for a bad layout or
 * a cairo failure, EQS_ERR_IO when the file cannot be written. */
eqs_status eqs_plot_write(eqs_ctx *ctx, const eqs_plot_chart *chart, const char *png_path);

/* ---- the hand-off (handoff.c, sha256.c) ---- */

/* SHA-256 as 64 lower-case hex digits and a NUL (sha256.c, the one
 * includer of nettle/sha2.h): of n bytes, or of a whole file (*bytes, may
 * be NULL: its size). */
#define EQS_SHA256_HEX 65
void eqs_sha256_hex(const void *data, size_t n, char hex[EQS_SHA256_HEX]);
eqs_status eqs_sha256_file(eqs_ctx *ctx, const char *path, char hex[EQS_SHA256_HEX],
                           uint64_t *bytes);

/* The element lines of the exported netlist: eqs_deck_build with the
 * export's solver options (netlist.c; title, .options, .model lines, one
 * line per netlist element in netlist order, ".end"). */
eqs_status eqs_export_deck(eqs_ctx *ctx, const eqs_circuit *c, char ***lines);
/* The netlist of c with the evaluation cards ev (NULL: none), written
 * atomically to path (netlist.c). */
eqs_status eqs_export_netlist_eval(eqs_ctx *ctx, const eqs_circuit *c,
                                   const eqs_eval_settings *ev, const char *path);

#endif /* EQS_EXPORT_H */
