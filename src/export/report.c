/*
 * report.c: `eqspice report RUNDIR|SWEEPDIR -o report.html` (docs/cli.md):
 * one self-contained XHTML file (no network URL; every image a data: URI
 * of a PNG drawn by plot.c), well-formed XML so that libxml2 can check it.
 *
 * A run directory gives: metadata (experiment, seed, eqspice version,
 * machine, wall time from the files' times), the learning curves (error
 * and loss, train and test), the per-epoch table, and per crossbar a
 * conductance histogram and a heatmap before (the network as the trainer
 * places it from the run's experiment.xml) and after training
 * (conductances.csv), and the device model's pulse response.  A sweep
 * directory (sweep.csv) gives its table and, per swept parameter, the mean
 * final test error over the runs at each value with the spread (standard
 * deviation) as error bars.
 *
 * The PNGs go through a temporary directory next to the output (removed at
 * the end); the HTML is written atomically.
 */
#include "export.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <math.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define RP_BINS 40          /* histogram bins over the conductance range */
#define RP_MAX_COLS 64      /* columns of a CSV the report reads */
#define RP_MAX_ROWS 100000  /* rows of a metrics or sweep CSV */
#define RP_TICKS 6
#define RP_BEFORE_RGB 0x7f7f7fu
#define RP_AFTER_RGB 0x1f77b4u

/* ---- a growing text buffer ---- */
typedef struct {
    eqs_ctx *ctx;
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *t, size_t len)
{
    if (b->oom) return;
    if (eqs_grow(b->ctx, (void **)&b->s, &b->cap, b->n + len + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->n, t, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    sb_add(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* Text with &, <, >, " escaped. */
static void sb_text(sbuf *b, const char *t)
{
    for (; t && *t; ++t) {
        switch (*t) {
        case '&': sb_add(b, "&amp;", 5); break;
        case '<': sb_add(b, "&lt;", 4); break;
        case '>': sb_add(b, "&gt;", 4); break;
        case '"': sb_add(b, "&quot;", 6); break;
        default:
            if ((unsigned char)*t >= 0x20 || *t == '\n' || *t == '\t') sb_add(b, t, 1);
        }
    }
}

/* <img> of the PNG at path as a data: URI (the file is removed). */
static eqs_status sb_png(sbuf *b, const char *path, const char *alt)
{
    FILE *f = fopen(path, "rb");
    if (!f) return EQS_ERROR(b->ctx, EQS_ERR_IO, "report: cannot read '%s': %s", path, strerror(errno));
    uint8_t *raw = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (eqs_grow(b->ctx, (void **)&raw, &cap, n + 65536, 1)) {
            fclose(f);
            eqs_free(b->ctx, raw);
            return EQS_ERR_NOMEM;
        }
        size_t r = fread(raw + n, 1, 65536, f);
        n += r;
        if (r < 65536) break;
    }
    fclose(f);
    remove(path);
    char *enc = eqs_malloc(b->ctx, BASE64_ENCODE_RAW_LENGTH(n) + 1);
    if (!enc) {
        eqs_free(b->ctx, raw);
        return EQS_ERR_NOMEM;
    }
    base64_encode_raw(enc, n, raw);
    enc[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
    sb_printf(b, "<img alt=\"");
    sb_text(b, alt);
    sb_printf(b, "\" src=\"data:image/png;base64,");
    sb_add(b, enc, BASE64_ENCODE_RAW_LENGTH(n));
    sb_printf(b, "\"/>\n");
    eqs_free(b->ctx, enc);
    eqs_free(b->ctx, raw);
    return b->oom ? EQS_ERR_NOMEM : EQS_OK;
}

/* ---- a small CSV table: header names and numeric (or text) cells ---- */
typedef struct {
    int ncol;
    size_t nrow;
    char *name[RP_MAX_COLS];
    char **cell; /* nrow * ncol strings */
} table;

static void table_free(eqs_ctx *ctx, table *t)
{
    for (int c = 0; c < t->ncol; ++c) eqs_free(ctx, t->name[c]);
    for (size_t i = 0; t->cell && i < t->nrow * (size_t)t->ncol; ++i) eqs_free(ctx, t->cell[i]);
    eqs_free(ctx, t->cell);
    memset(t, 0, sizeof *t);
}

static char *dup_range(eqs_ctx *ctx, const char *s, size_t len)
{
    char *d = eqs_malloc(ctx, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* Split line into at most RP_MAX_COLS comma-separated fields (no quoting:
 * the CSVs eqspice writes have none). */
static int split(char *line, char **f)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line;; ++n) {
        if (n == RP_MAX_COLS) return n;
        f[n] = p;
        char *c = strchr(p, ',');
        if (!c) return n + 1;
        *c = '\0';
        p = c + 1;
    }
}

static eqs_status table_read(eqs_ctx *ctx, const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return EQS_ERROR(ctx, EQS_ERR_IO, "report: cannot read '%s': %s", path, strerror(errno));
    char line[8192];
    char *fld[RP_MAX_COLS];
    size_t cap = 0;
    eqs_status st = EQS_OK;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#') continue;
        int n = split(line, fld);
        if (t->ncol == 0) {
            t->ncol = n;
            for (int c = 0; c < n; ++c)
                if (!(t->name[c] = dup_range(ctx, fld[c], strlen(fld[c])))) st = EQS_ERR_NOMEM;
            if (st) break;
            continue;
        }
        if (n != t->ncol) {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s:%d: error: %d fields, the header has %d", path,
                           lineno, n, t->ncol);
            break;
        }
        if (t->nrow == RP_MAX_ROWS) break;
        if (eqs_grow(ctx, (void **)&t->cell, &cap, (t->nrow + 1) * (size_t)t->ncol, sizeof *t->cell)) {
            st = EQS_ERR_NOMEM;
            break;
        }
        for (int c = 0; c < n; ++c)
            if (!(t->cell[t->nrow * (size_t)t->ncol + (size_t)c] = dup_range(ctx, fld[c], strlen(fld[c]))))
                st = EQS_ERR_NOMEM;
        t->nrow++;
        if (st) break;
    }
    fclose(f);
    if (st == EQS_OK && t->ncol == 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: error: empty file", path);
    if (st != EQS_OK) table_free(ctx, t);
    return st;
}

static int table_col(const table *t, const char *name)
{
    for (int c = 0; c < t->ncol; ++c)
        if (!strcmp(t->name[c], name)) return c;
    return -1;
}

/* Cell (i, c) as a number (NaN when empty or not a number). */
static double table_num(const table *t, size_t i, int c)
{
    if (c < 0) return NAN;
    const char *s = t->cell[i * (size_t)t->ncol + (size_t)c];
    char *end;
    double v = strtod(s, &end);
    return (end == s || *end) ? NAN : v;
}

static void sb_table(sbuf *b, const table *t)
{
    sb_printf(b, "<table>\n<tr>");
    for (int c = 0; c < t->ncol; ++c) {
        sb_printf(b, "<th>");
        sb_text(b, t->name[c]);
        sb_printf(b, "</th>");
    }
    sb_printf(b, "</tr>\n");
    for (size_t i = 0; i < t->nrow; ++i) {
        sb_printf(b, "<tr>");
        for (int c = 0; c < t->ncol; ++c) {
            sb_printf(b, "<td>");
            sb_text(b, t->cell[i * (size_t)t->ncol + (size_t)c]);
            sb_printf(b, "</td>");
        }
        sb_printf(b, "</tr>\n");
    }
    sb_printf(b, "</table>\n");
}

/* ---- charts ---- */

/* Axis range [lo, hi] padded and a nice step for it. */
static void axis(double lo, double hi, int from_zero, double *a0, double *a1, double *step)
{
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (from_zero && lo > 0) lo = 0;
    double span = hi - lo;
    if (!(span > 0)) span = lo != 0 ? fabs(lo) : 1.0, lo -= 0.5 * span, hi += 0.5 * span;
    *step = eqs_plot_nice_step(hi - lo, RP_TICKS);
    *a0 = floor(lo / *step) * *step;
    *a1 = ceil(hi / *step) * *step;
    if (!(*a1 > *a0)) *a1 = *a0 + *step;
}

/* Loss (V^2) against epoch, train and test. */
static eqs_status loss_chart(eqs_ctx *ctx, const table *m, const char *png)
{
    const int ce = table_col(m, "epoch"), ctr = table_col(m, "train_loss"),
              cte = table_col(m, "test_loss");
    const size_t n = m->nrow;
    double *buf = eqs_malloc(ctx, (3 * n + 1) * sizeof *buf);
    if (!buf) return EQS_ERR_NOMEM;
    double *x = buf, *tr = buf + n, *te = buf + 2 * n, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        x[i] = table_num(m, i, ce);
        tr[i] = table_num(m, i, ctr);
        te[i] = table_num(m, i, cte);
        for (int k = 0; k < 2; ++k) {
            double v = k ? te[i] : tr[i];
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    }
    const eqs_plot_series s[2] = {{x, tr, n, "train loss", 0x1f77b4u, 3.0},
                                  {x, te, n, "test loss", 0xff7f0eu, 3.0}};
    eqs_plot_chart ch = {EQS_PLOT_WIDTH, EQS_PLOT_HEIGHT, "Loss", "epoch", "loss (V²)", 0, 0, 0,
                         0, 0, 0, EQS_PLOT_LEGEND_AUTO, s, 2};
    axis(n ? x[0] : 0, n ? x[n - 1] : 1, 1, &ch.x0, &ch.x1, &ch.x_step);
    if (ch.x_step < 1) ch.x_step = 1;
    axis(lo, hi, 1, &ch.y0, &ch.y1, &ch.y_step);
    eqs_status st = eqs_plot_write(ctx, &ch, png);
    eqs_free(ctx, buf);
    return st;
}

/* Histograms of a (before) and b (after), n values each, in µS. */
static eqs_status hist_chart(eqs_ctx *ctx, const char *title, const double *a, const double *b,
                             size_t n, const char *png)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; ++i)
        for (int k = 0; k < 2; ++k) {
            double v = (k ? b[i] : a[i]) * 1e6;
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    if (!(hi > lo)) hi = lo + 1;
    double cnt[2][RP_BINS] = {{0}};
    for (size_t i = 0; i < n; ++i)
        for (int k = 0; k < 2; ++k) {
            double v = (k ? b[i] : a[i]) * 1e6;
            if (!isfinite(v)) continue;
            int j = (int)((v - lo) / (hi - lo) * RP_BINS);
            cnt[k][j < 0 ? 0 : j >= RP_BINS ? RP_BINS - 1 : j]++;
        }
    /* steps: two points per bin */
    double x[2 * RP_BINS], y[2][2 * RP_BINS], ymax = 0;
    for (int j = 0; j < RP_BINS; ++j) {
        x[2 * j] = lo + (hi - lo) * j / RP_BINS;
        x[2 * j + 1] = lo + (hi - lo) * (j + 1) / RP_BINS;
        for (int k = 0; k < 2; ++k) {
            y[k][2 * j] = y[k][2 * j + 1] = cnt[k][j];
            ymax = fmax(ymax, cnt[k][j]);
        }
    }
    const eqs_plot_series s[2] = {{x, y[0], 2 * RP_BINS, "before training", RP_BEFORE_RGB, 0},
                                  {x, y[1], 2 * RP_BINS, "after training", RP_AFTER_RGB, 0}};
    eqs_plot_chart ch = {EQS_PLOT_WIDTH, EQS_PLOT_HEIGHT, title, "conductance (µS)", "devices",
                         0, 0, 0, 0, 0, 0, EQS_PLOT_LEGEND_AUTO, s, 2};
    axis(lo, hi, 0, &ch.x0, &ch.x1, &ch.x_step);
    axis(0, ymax, 1, &ch.y0, &ch.y1, &ch.y_step);
    return eqs_plot_write(ctx, &ch, png);
}

/* ---- the run report ---- */

static double file_time(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 ? (double)sb.st_mtim.tv_sec + 1e-9 * (double)sb.st_mtim.tv_nsec
                             : NAN;
}

static void sb_meta(sbuf *b, const char *key, const char *val)
{
    sb_printf(b, "<tr><th>");
    sb_text(b, key);
    sb_printf(b, "</th><td>");
    sb_text(b, val);
    sb_printf(b, "</td></tr>\n");
}

/* "before" and "after" values of every netlist element (NaN: none). */
static eqs_status run_conductances(eqs_ctx *ctx, const char *rundir, eqs_experiment **pexp,
                                   eqs_netlist **pnl, eqs_circuit **pc, double **before,
                                   double **after)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/experiment.xml", rundir);
    eqs_status st = eqs_experiment_read(ctx, p, pexp);
    if (st == EQS_OK) st = eqs_experiment_network(ctx, *pexp, pnl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, *pnl, pc);
    eqs_trainer *tr = NULL;
    if (st == EQS_OK) st = eqs_trainer_create(ctx, *pexp, *pc, NULL, NULL, &tr);
    if (st != EQS_OK) return st;
    const eqs_netlist *nl = *pnl;
    const size_t ne = (size_t)(nl->n_elems > 0 ? nl->n_elems : 1);
    *before = eqs_malloc(ctx, ne * sizeof **before);
    *after = eqs_malloc(ctx, ne * sizeof **after);
    if (!*before || !*after) {
        eqs_trainer_free(&tr);
        return EQS_ERR_NOMEM;
    }
    for (size_t e = 0; e < ne; ++e) (*before)[e] = (*after)[e] = NAN;
    const eqs_circuit *c = *pc;
    for (int k = 0; k < c->n_params; ++k)
        (*before)[c->elems[c->params[k]].origin] = eqs_circuit_param_get(c, k);
    eqs_trainer_free(&tr);
    table t;
    snprintf(p, sizeof p, "%s/conductances.csv", rundir);
    if ((st = table_read(ctx, p, &t)) != EQS_OK) return st;
    const int ce = table_col(&t, "element"), cg = table_col(&t, "conductance_S");
    if (ce < 0 || cg < 0) {
        table_free(ctx, &t);
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: error: no element,conductance_S header", p);
    }
    for (size_t i = 0; i < t.nrow; ++i) {
        int e = eqs_netlist_elem_find(nl, t.cell[i * (size_t)t.ncol + (size_t)ce]);
        if (e >= 0) (*after)[e] = table_num(&t, i, cg);
    }
    table_free(ctx, &t);
    return EQS_OK;
}

static eqs_status run_report(eqs_ctx *ctx, const char *rundir, const char *tmp, sbuf *b)
{
    char p[4096], png[4400];
    table m;
    snprintf(p, sizeof p, "%s/metrics.csv", rundir);
    eqs_status st = table_read(ctx, p, &m);
    if (st != EQS_OK) return st;
    eqs_experiment *exp = NULL;
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    double *before = NULL, *after = NULL;
    st = run_conductances(ctx, rundir, &exp, &nl, &c, &before, &after);
    if (st != EQS_OK) goto done;

    sb_printf(b, "<h1>Training run ");
    sb_text(b, rundir);
    sb_printf(b, "</h1>\n<h2>Run</h2>\n<table>\n");
    char v[512];
    struct utsname u;
    sb_meta(b, "experiment", exp->source ? exp->source : p);
    snprintf(v, sizeof v, "%llu", (unsigned long long)exp->seed);
    sb_meta(b, "seed", v);
    sb_meta(b, "eqspice", EQS_VERSION);
    if (uname(&u) == 0) {
        snprintf(v, sizeof v, "%s %s %s (%ld cores)", u.sysname, u.release, u.machine,
                 sysconf(_SC_NPROCESSORS_ONLN));
        sb_meta(b, "machine", v);
    }
    snprintf(v, sizeof v, "eqspice train %s -o %s", exp->source ? exp->source : "EXPERIMENT.xml",
             rundir);
    sb_meta(b, "command (as a run is started)", v);
    const double t0 = file_time(rundir, "experiment.xml"), t1 = file_time(rundir, "metrics.csv");
    if (isfinite(t0) && isfinite(t1) && t1 >= t0) {
        snprintf(v, sizeof v, "%.1f s (from experiment.xml to the last metrics row; a resumed "
                              "run counts the pause)",
                 t1 - t0);
        sb_meta(b, "wall time", v);
    }
    snprintf(v, sizeof v, "%zu", m.nrow);
    sb_meta(b, "epochs", v);
    sb_meta(b, "device model", exp->device_model ? exp->device_model : "none (ideal)");
    sb_printf(b, "</table>\n<h2>Learning curves</h2>\n");
    snprintf(png, sizeof png, "%s/curve.png", tmp);
    if ((st = eqs_plot_learning_curve(ctx, p, png)) != EQS_OK) goto done;
    if ((st = sb_png(b, png, "error against epoch, train and test")) != EQS_OK) goto done;
    snprintf(png, sizeof png, "%s/loss.png", tmp);
    if ((st = loss_chart(ctx, &m, png)) != EQS_OK) goto done;
    if ((st = sb_png(b, png, "loss against epoch, train and test")) != EQS_OK) goto done;
    sb_printf(b, "<h2>Errors per epoch</h2>\n");
    sb_table(b, &m);

    sb_printf(b, "<h2>Conductances per crossbar</h2>\n");
    if (nl->n_crossbars == 0) sb_printf(b, "<p>The network has no crossbar cards.</p>\n");
    for (int x = 0; x < nl->n_crossbars; ++x) {
        const eqs_crossbar *xb = &nl->crossbars[x];
        const size_t n = (size_t)xb->rows * (size_t)xb->cols;
        const double *gb = before + xb->first_elem, *ga = after + xb->first_elem;
        sb_printf(b, "<h3>Crossbar %s (%d rows x %d columns)</h3>\n", xb->name, xb->rows, xb->cols);
        char title[300];
        snprintf(title, sizeof title, "Crossbar %s: conductances", xb->name);
        snprintf(png, sizeof png, "%s/hist%d.png", tmp, x);
        if ((st = hist_chart(ctx, title, gb, ga, n, png)) != EQS_OK) goto done;
        if ((st = sb_png(b, png, "conductance histogram before and after training")) != EQS_OK)
            goto done;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; ++i)
            for (int k = 0; k < 2; ++k) {
                double g = k ? ga[i] : gb[i];
                if (isfinite(g)) lo = fmin(lo, g), hi = fmax(hi, g);
            }
        for (int k = 0; k < 2; ++k) {
            snprintf(title, sizeof title, "Crossbar %s %s training", xb->name, k ? "after" : "before");
            snprintf(png, sizeof png, "%s/heat%d_%d.png", tmp, x, k);
            if ((st = eqs_plot_heatmap(ctx, title, xb->rows, xb->cols, k ? ga : gb, lo, hi, png)))
                goto done;
            if ((st = sb_png(b, png, title)) != EQS_OK) goto done;
        }
    }
    if (exp->device_model) {
        eqs_device_law *law = NULL;
        if ((st = eqs_device_law_read(ctx, exp->device_model, &law)) != EQS_OK) goto done;
        enum { NP = 100 };
        double up[NP + 1], down[NP + 1];
        eqs_device_inst dev;
        eqs_device_instance(law, 0, &dev);
        eqs_device_response(law, &dev, NP, up, down);
        eqs_device_law_free(ctx, &law);
        sb_printf(b, "<h2>Device model</h2>\n");
        snprintf(png, sizeof png, "%s/device.png", tmp);
        if ((st = eqs_plot_device_response(ctx, exp->device_model, NP, up, down, png))) goto done;
        if ((st = sb_png(b, png, "device pulse response")) != EQS_OK) goto done;
    }
done:
    eqs_free(ctx, before);
    eqs_free(ctx, after);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_experiment_free(&exp);
    table_free(ctx, &m);
    return st;
}

/* ---- the sweep report ---- */

/* The distinct texts of column c in order of appearance (at most max);
 * idx[i] the one of row i (-1 past max).  Returns their count. */
static int distinct(const table *t, int c, const char **lab, int max, int *idx)
{
    int n = 0;
    for (size_t i = 0; i < t->nrow; ++i) {
        const char *s = t->cell[i * (size_t)t->ncol + (size_t)c];
        int j = 0;
        while (j < n && strcmp(lab[j], s)) j++;
        if (j == n && n < max) lab[n++] = s;
        idx[i] = j < n ? j : -1;
    }
    return n;
}

#define SW_MAX_X 256
#define SW_MAX_GROUPS (EQS_PLOT_MAX_SERIES / 2)

/* Test error (%) against swept column c of a sweep table: the mean over the
 * runs of each value with +-1 sample standard deviation as bars, one line
 * per value of another swept column that varies independently of c and
 * takes 2..SW_MAX_GROUPS values (e.g. the method beside a swept level
 * count), else one line.  A numeric column spanning more than a factor 50
 * (all > 0) is drawn on log10; a non-numeric one against its point order.
 * *title gets the chart's title. */
static eqs_status sweep_chart(eqs_ctx *ctx, const table *t, int c, int cpt, int cseed, int cerr,
                              const char *png, char *title, size_t title_len)
{
    const size_t nr = t->nrow;
    int *ix = eqs_malloc(ctx, (nr + 1) * sizeof *ix), *ig = eqs_malloc(ctx, (nr + 1) * sizeof *ig);
    if (!ix || !ig) {
        eqs_free(ctx, ix);
        eqs_free(ctx, ig);
        return EQS_ERR_NOMEM;
    }
    const char *lab[SW_MAX_X], *glab[SW_MAX_GROUPS + 1];
    const int nx = distinct(t, c, lab, SW_MAX_X, ix);
    int numeric = 1, ng = 1, g = -1;
    for (size_t i = 0; i < nr; ++i)
        if (!isfinite(table_num(t, i, c))) numeric = 0;
    /* the grouping column: 2..SW_MAX_GROUPS values, some value of c seen
     * with two of them */
    for (int d = cpt + 1; d < cseed && g < 0; ++d) {
        if (d == c) continue;
        int n = distinct(t, d, glab, SW_MAX_GROUPS + 1, ig);
        if (n < 2 || n > SW_MAX_GROUPS) continue;
        /* the first group seen with each value of c; another one later:
         * independent (one pass, not all pairs of rows) */
        int first[SW_MAX_X], indep = 0;
        for (int j = 0; j < nx; ++j) first[j] = -1;
        for (size_t i = 0; i < nr && !indep; ++i) {
            if (ix[i] < 0) continue;
            if (first[ix[i]] < 0) first[ix[i]] = ig[i];
            else indep = first[ix[i]] != ig[i];
        }
        if (indep) g = d, ng = n;
    }
    if (g >= 0) distinct(t, g, glab, SW_MAX_GROUPS, ig);
    else
        for (size_t i = 0; i < nr; ++i) ig[i] = 0;
    double xs[SW_MAX_X];
    for (int j = 0; j < nx; ++j) {
        xs[j] = j;
        if (numeric)
            for (size_t i = 0; i < nr; ++i)
                if (ix[i] == j) xs[j] = table_num(t, i, c);
    }
    int logx = numeric && nx > 0;
    double xlo = INFINITY, xhi = -INFINITY;
    for (int j = 0; j < nx; ++j) logx = logx && xs[j] > 0, xlo = fmin(xlo, xs[j]), xhi = fmax(xhi, xs[j]);
    logx = logx && xhi / xlo > 50;
    /* x order of the values */
    int ord[SW_MAX_X];
    for (int j = 0; j < nx; ++j) ord[j] = j;
    for (int i = 1; i < nx; ++i)
        for (int j = i; j > 0 && xs[ord[j - 1]] > xs[ord[j]]; --j) {
            int o = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = o;
        }
    static const unsigned rgb[SW_MAX_GROUPS] = {0x1f77b4u, 0xd62728u, 0x2ca02cu, 0x9467bdu};
    static const unsigned bar_rgb[SW_MAX_GROUPS] = {0x7f9fbfu, 0xdf9f9fu, 0x8fbf8fu, 0xb7a7cfu};
    double (*X)[SW_MAX_X] = eqs_calloc(ctx, (size_t)ng, sizeof *X);
    double (*Y)[SW_MAX_X] = eqs_calloc(ctx, (size_t)ng, sizeof *Y);
    double (*BX)[3 * SW_MAX_X] = eqs_calloc(ctx, (size_t)ng, sizeof *BX);
    double (*BY)[3 * SW_MAX_X] = eqs_calloc(ctx, (size_t)ng, sizeof *BY);
    char (*names)[2][200] = eqs_calloc(ctx, (size_t)ng, sizeof *names);
    eqs_status st = EQS_ERR_NOMEM;
    if (!X || !Y || !BX || !BY || !names) goto done;
    eqs_plot_series s[EQS_PLOT_MAX_SERIES];
    double lo = INFINITY, hi = -INFINITY;
    for (int q = 0; q < ng; ++q) {
        for (int jj = 0; jj < nx; ++jj) {
            const int j = ord[jj];
            double sum = 0, sum2 = 0, cnt = 0;
            for (size_t i = 0; i < nr; ++i) {
                const double e = 100.0 * table_num(t, i, cerr);
                if (ix[i] != j || ig[i] != q || !isfinite(e)) continue;
                sum += e, sum2 += e * e, cnt++;
            }
            const double x = logx ? log10(xs[j]) : xs[j], m = cnt ? sum / cnt : NAN;
            const double sd = cnt > 1 ? sqrt(fmax(0.0, (sum2 - cnt * m * m) / (cnt - 1))) : 0.0;
            X[q][jj] = x, Y[q][jj] = m;
            BX[q][3 * jj] = BX[q][3 * jj + 1] = BX[q][3 * jj + 2] = x;
            BY[q][3 * jj] = m - sd, BY[q][3 * jj + 1] = m + sd, BY[q][3 * jj + 2] = NAN;
            if (isfinite(m)) lo = fmin(lo, m - sd), hi = fmax(hi, m + sd);
        }
        if (g >= 0) {
            snprintf(names[q][0], sizeof names[q][0], "%s = %s", t->name[g], glab[q]);
            snprintf(names[q][1], sizeof names[q][1], "± 1 std (%s)", glab[q]);
        } else {
            snprintf(names[q][0], sizeof names[q][0], "mean final test error");
            snprintf(names[q][1], sizeof names[q][1], "± 1 std over runs");
        }
        s[2 * q] = (eqs_plot_series){X[q], Y[q], (size_t)nx, names[q][0], rgb[q], 4.0};
        s[2 * q + 1] = (eqs_plot_series){BX[q], BY[q], (size_t)(3 * nx), names[q][1], bar_rgb[q], 0};
    }
    char xl[300];
    snprintf(xl, sizeof xl, "%s%s%s", logx ? "log10(" : "", t->name[c], logx ? ")" : "");
    snprintf(title, title_len, "Test error against %s", t->name[c]);
    eqs_plot_chart ch = {EQS_PLOT_WIDTH, EQS_PLOT_HEIGHT, title, numeric ? xl : "point (see table)",
                         "test error (%)", 0, 0, 0, 0, 0, 0, EQS_PLOT_LEGEND_AUTO, s, 2 * ng};
    const double x0 = nx ? X[0][0] : 0, x1 = nx ? X[0][nx - 1] : 1;
    axis(x0, x1, 0, &ch.x0, &ch.x1, &ch.x_step);
    if (nx == 1) ch.x0 -= ch.x_step, ch.x1 += ch.x_step;
    axis(lo, hi, 1, &ch.y0, &ch.y1, &ch.y_step);
    st = eqs_plot_write(ctx, &ch, png);
done:
    eqs_free(ctx, X);
    eqs_free(ctx, Y);
    eqs_free(ctx, BX);
    eqs_free(ctx, BY);
    eqs_free(ctx, names);
    eqs_free(ctx, ix);
    eqs_free(ctx, ig);
    return st;
}

/* The columns of a sweep table: point, the swept ones, seed,
 * final_test_error.  0 ok. */
static eqs_status sweep_columns(eqs_ctx *ctx, const table *t, const char *p, int *cpt, int *cseed,
                                int *cerr)
{
    *cpt = table_col(t, "point"), *cseed = table_col(t, "seed"), *cerr = table_col(t, "final_test_error");
    if (*cpt < 0 || *cseed < 0 || *cerr < 0 || *cseed < *cpt)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: error: expected columns point, the swept paths, seed, "
                         "final_test_error",
                         p);
    return EQS_OK;
}

eqs_status eqs_sweep_plots(eqs_ctx *ctx, const char *dir)
{
    char p[4096], png[4400], title[300];
    table t;
    snprintf(p, sizeof p, "%s/sweep.csv", dir);
    eqs_status st = table_read(ctx, p, &t);
    if (st != EQS_OK) return st;
    int cpt, cseed, cerr;
    st = sweep_columns(ctx, &t, p, &cpt, &cseed, &cerr);
    for (int c = cpt + 1; c < cseed && st == EQS_OK && t.nrow > 0; ++c) {
        int n = snprintf(png, sizeof png, "%s/sweep-", dir);
        for (const char *q = t.name[c]; *q && n < (int)sizeof png - 8; ++q)
            png[n++] = (isalnum((unsigned char)*q) || *q == '-' || *q == '.') ? *q : '_';
        snprintf(png + n, sizeof png - (size_t)n, ".png");
        st = sweep_chart(ctx, &t, c, cpt, cseed, cerr, png, title, sizeof title);
    }
    table_free(ctx, &t);
    return st;
}


static eqs_status sweep_report(eqs_ctx *ctx, const char *dir, const char *tmp, sbuf *b)
{
    char p[4096], png[4400];
    table t;
    snprintf(p, sizeof p, "%s/sweep.csv", dir);
    eqs_status st = table_read(ctx, p, &t);
    if (st != EQS_OK) return st;
    int cpt, cseed, cerr;
    if ((st = sweep_columns(ctx, &t, p, &cpt, &cseed, &cerr)) != EQS_OK) {
        table_free(ctx, &t);
        return st;
    }
    sb_printf(b, "<h1>Sweep ");
    sb_text(b, dir);
    sb_printf(b, "</h1>\n<table>\n");
    sb_meta(b, "eqspice", EQS_VERSION);
    sb_printf(b, "</table>\n");
    for (int c = cpt + 1; c < cseed && st == EQS_OK; ++c) {
        char title[300];
        sb_printf(b, "<h2>");
        sb_text(b, t.name[c]);
        sb_printf(b, "</h2>\n");
        snprintf(png, sizeof png, "%s/sweep%d.png", tmp, c);
        st = sweep_chart(ctx, &t, c, cpt, cseed, cerr, png, title, sizeof title);
        if (st == EQS_OK) st = sb_png(b, png, title);
    }
    if (st == EQS_OK) {
        sb_printf(b, "<h2>All runs (sweep.csv)</h2>\n");
        sb_table(b, &t);
    }
    table_free(ctx, &t);
    return st;
}

static int is_file(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

eqs_status eqs_report_write(eqs_ctx *ctx, const char *dir, const char *html_path)
{
    const int sweep = is_file(dir, "sweep.csv");
    if (!sweep && !is_file(dir, "metrics.csv"))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: error: neither a run directory (metrics.csv) nor a sweep "
                         "directory (sweep.csv)",
                         dir);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.plots-XXXXXX", html_path);
    if (!mkdtemp(tmp))
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot create a directory next to '%s': %s",
                         html_path, strerror(errno));
    sbuf b = {ctx, NULL, 0, 0, 0};
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
                  "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                  "<meta charset=\"UTF-8\"/>\n<title>eqspice report</title>\n<style>\n"
                  "body{font-family:sans-serif;margin:2em;max-width:1400px}"
                  "table{border-collapse:collapse;margin:1em 0}"
                  "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
                  "img{margin:4px;border:1px solid #eee}\n</style>\n</head>\n<body>\n");
    eqs_status st = sweep ? sweep_report(ctx, dir, tmp, &b) : run_report(ctx, dir, tmp, &b);
    sb_printf(&b, "</body>\n</html>\n");
    /* the plot directory: whatever a failure left in it, then itself */
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *de;
        char p[8500];
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmp, de->d_name);
                remove(p);
            }
        closedir(d);
    }
    rmdir(tmp);
    if (st == EQS_OK && b.oom) st = EQS_ERR_NOMEM;
    if (st == EQS_OK) {
        eqs_atomic a;
        st = eqs_atomic_open(ctx, html_path, &a);
        if (st == EQS_OK) {
            fwrite(b.s, 1, b.n, a.f);
            st = eqs_atomic_commit(&a);
        }
    }
    eqs_free(ctx, b.s);
    return st;
}
