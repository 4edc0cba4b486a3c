/*
 * layered.c: the layered backend: exact block coordinate descent on
 * layered networks (docs/solver.md, "Layered solver"), single-sample and
 * batched (dense matrices, CBLAS).  The only file that includes cblas.h.
 *
 * The steady state minimises the co-content E(V) (DESIGN.md §2).  Free
 * nodes of one layer are coupled only to the layers beside them, so with
 * the neighbouring layers held, each node's minimiser is exact and
 * independent of the others in its layer:
 *   - ideal diodes: V = clip((sum_j G_j V_j + I_inj) / (sum_j G_j + g_nudge),
 *     [lo, hi]), [lo, hi] the interval the node's diodes allow;
 *   - Shockley diodes: the node's scalar KCL equation
 *       S V - r + sum_d i_d(V) = 0   (S = sum G, r = sum G V_j + I_inj)
 *     solved by safeguarded Newton (node_solve: a bracket from the linear
 *     bound, cut to the voltages where every diode current is finite,
 *     bisection whenever Newton leaves it or converges slowly) with the
 *     diode equations of devices/diode.c, gmin included.
 * One sweep updates all odd layers, then all even layers.  The stop test is
 * the KCL residual measured in volts: the largest change a node's exact
 * update makes over one sweep (for a node without active diode this is its
 * KCL residual divided by its total conductance) must be <= bcd_tol_V.
 *
 * Batched training (eqs_batch_ops): the crossbar of layer l is a dense
 * n_{l-1} x n_l matrix W_l (row i = node i of layer l-1); a layer's state
 * for the batch is a B x n_l matrix.  The input drive X W_1 is one GEMM per
 * batch shared by every sweep of the three phases; the contrast of the
 * first crossbar is -2 X^T (H2 - H1) plus a column term, one GEMM that
 * accumulates into the momentum (beta = mu), then one pass of the update
 * law (update/update.h, eqs_update_rows_*) on the same rows gives the new
 * conductances and the column sums for the next batch.
 */
#include "solver.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../devices/devices.h"

/* Threads for OpenBLAS (the machine's two cores): the floor measurement
 * tries 1..LY_BLAS_THREADS. */
#define LY_BLAS_THREADS 2
/* Safeguarded Newton of one node: at most this many iterations (each
 * bisection halves the bracket, whose width is at most the span of the
 * node's source voltages: 200 is over twice what 1e-15 relative needs). */
#define LY_NODE_MAXIT 200
/* Its stop test: a step or a bracket of at most
 * LY_NODE_RELTOL (|V| + LY_NODE_VFLOOR_V). */
#define LY_NODE_RELTOL 1e-15
#define LY_NODE_VFLOOR_V 1e-3
/* The node solve evaluates a diode only where its current and conductance
 * are at most this (A, S): no operating point carries 1e200 A, and sums of
 * such terms stay finite (docs/solver.md "Overflow"). */
#define LY_DIODE_MAX 1e200
/* The diode's window of branch voltages is searched in [-span, span] (V). */
#define LY_WINDOW_SPAN_V 1e9

/* Why a node solve failed (0: it did not). */
enum {
    LY_NODE_OK = 0,
    LY_NODE_BADSUM,    /* S <= 0 or a non-finite drive: no bracket */
    LY_NODE_OUTSIDE,   /* the root lies where a diode current would exceed LY_DIODE_MAX */
    LY_NODE_NONFINITE, /* an evaluation inside the window was not finite */
    LY_NODE_MAXITER    /* LY_NODE_MAXIT iterations without meeting the stop test */
};
static const char *const ly_node_why[] = {
    [LY_NODE_OK] = "ok",
    [LY_NODE_BADSUM] = "its total conductance is not positive or its drive is not finite",
    [LY_NODE_OUTSIDE] = "its KCL equation has no root where the diode currents stay below "
                        "1e200 A (the diodes would carry an unbounded current)",
    [LY_NODE_NONFINITE] = "a diode current is not finite",
    [LY_NODE_MAXITER] = "the scalar Newton/bisection did not converge",
};
/* Adjoint sweeps: relative tolerance and limit. */
#define LY_ADJ_RELTOL 1e-15
#define LY_ADJ_MAXSWEEPS 200000

typedef struct {
    /* diodes of every free node, in the order of L->dio_elem */
    eqs_devparams *dp; /* per diode */
    const eqs_device *jdev; /* the device of every junction (the layer rule's
                               nonlinear two-terminal elements: diodes) */
    int *dsign;        /* +1: anode at the node, -1: cathode at the node */
    int *dfix;         /* fixed node at the other end */
    double *dvf;       /* its voltage in the current solve (V) */
    double *lo, *hi;   /* ideal: interval of each user node (V) */
    double *ng, *ni;   /* nudge per user node: conductance (S), injection (A) */
    int *partner;      /* pair nudge: the other free node of the pair, -1 none */
    double *pg, *pinj; /* pair conductance, injection into the positive node */
    int *ppos;         /* 1 when the node is the positive one of its pair */
    double *lam;       /* adjoint work */
    double *vd_lo, *vd_hi; /* per diode: branch voltages where eval stays <= LY_DIODE_MAX (V) */
    double *vfmin, *vfmax; /* per user node: lowest, highest fixed end of its diodes (V) */
    double *wlo, *whi;     /* per user node: where all its diodes stay in their windows (V) */
    /* conductance of every adjacency entry (L->adj_elem order), read from
     * the circuit (the parameter store for trainable ones) when the
     * circuit's change logs moved since (adj_refresh): the sweeps then read
     * one array instead of the store through each element */
    double *adj_g;
    uint64_t g_chg_epoch, g_values_epoch;
    int g_n_chg, g_ok;
    /* the last node solve that failed (ly_fail) */
    int fail_code, fail_node, fail_row;
    double fail_S, fail_r;
    double gmin;
    int ideal;
    /* statistics */
    double phase_s, sweeps;
    long phases;
    /* batched training (layered_batch.inc) */
    void *bt;   /* struct batch_d or batch_f */
    eqs_worker *worker; /* helper thread of the batched step; NULL: one core */
    int single; /* 1: bt is a batch_f (single precision) */
    struct wired_s *wire; /* wired crossbars (layered_wire.inc); NULL: none */
    void *wbt;            /* their batched training (layered_wire_batch.inc) */
} layered;

static int blas_threads_enter(int want);
static void blas_threads_leave(int host, int want);
#define LY_STEP_BLAS_THREADS 1 /* one BLAS thread per call (see the batched section) */

#include "layered_wire.inc"

static eqs_status node_kcl(const eqs_solver *s, int i, double v, double *f, double *df);

/* Two cores in the batched step (docs/solver.md "Two cores"): every large
 * crossbar (at least opt.split_min conductances) is split once and for all
 * into two row halves, and every operation on it (the products of the
 * sweeps and of the input drive, the contrast product and the update
 * law's pass) is split the same way, the caller's thread doing rows [0, h) and
 * the helper rows [h, n).  Each core then keeps touching the same half of
 * W and of the momentum, which stays in its own cache; splitting products
 * by columns instead, or letting OpenBLAS thread each product, moves the
 * crossbar between the cores' caches on every step and was slower than
 * one core (measured, docs/benchmarks.md).  Small crossbars are not split
 * (their products run on the caller's thread), but their update pass uses
 * the same two-part order of sums, so numbers never depend on the helper. */

/* Row h of n where part 1 starts: the half, rounded to 8 rows. */
static int ly_half(int n)
{
    int h = (n / 2 + 7) & ~7;
    return h < n ? h : n;
}

/* ---- one node -------------------------------------------------------- */

/* Sum of the diode currents leaving user node i at voltage v (A) and their
 * derivative (S). */
static void diode_currents(const eqs_layers *L, const layered *ly, int i, double v, double *cur,
                           double *g)
{
    double c = 0, gg = 0;
    for (int p = L->dio_off[i]; p < L->dio_off[i + 1]; ++p) {
        double id, gd;
        double sg = (double)ly->dsign[p];
        ly->jdev->eval(&ly->dp[p], sg * (v - ly->dvf[p]), ly->gmin, &id, &gd);
        c += sg * id;
        gg += gd;
    }
    *cur = c;
    *g = gg;
}

/* Window of one diode (create time): the branch voltages [*lo, *hi] (V)
 * where eval gives |i| <= LY_DIODE_MAX and g <= LY_DIODE_MAX, found by
 * bisection with eval itself (0 V is always inside: i = 0); infinite when
 * the whole search span is inside. */
static int diode_ok(const eqs_device *dev, const eqs_devparams *p, double gmin, double vd)
{
    double id, gd;
    dev->eval(p, vd, gmin, &id, &gd);
    return fabs(id) <= LY_DIODE_MAX && fabs(gd) <= LY_DIODE_MAX; /* NaN: not ok */
}

static double diode_edge(const eqs_device *dev, const eqs_devparams *p, double gmin, double far)
{
    if (diode_ok(dev, p, gmin, far)) return far > 0 ? INFINITY : -INFINITY;
    double in = 0, out = far;
    for (int k = 0; k < 200 && fabs(out - in) > 1e-12 * (fabs(in) + 1.0); ++k) {
        double mid = 0.5 * (in + out);
        if (diode_ok(dev, p, gmin, mid)) in = mid;
        else out = mid;
    }
    return in;
}

/* KCL residual f = S v - r + sum i_d(v) (A) of node i and df/dv (S). */
static void node_f(const eqs_layers *L, const layered *ly, int i, double S, double r, double v,
                   double *f, double *df)
{
    double cur, g;
    diode_currents(L, ly, i, v, &cur, &g);
    *f = S * v - r + cur;
    *df = S + g;
}

/* Exact minimiser *out (V) of node i given S = total conductance (S) and r
 * = sum G V_j + injected current (A), starting from v0 (V).  Returns
 * LY_NODE_OK or why it failed; never evaluates a diode outside its window
 * and never reports an unconverged voltage.
 *
 * Shockley: f(V) = S V - r + sum_d i_d(V) increases with V and every diode
 * current is 0 at its fixed end, so f <= 0 at a = min(r/S, lowest fixed
 * end) and f >= 0 at b = max(r/S, highest fixed end).  The bracket is cut
 * to the node's window [wlo, whi] (an end so cut has an unknown sign and
 * is checked when the bracket collapses onto it).  Each iteration takes
 * the Newton step when it stays inside the bracket and shrinks faster than
 * bisection would (|2 f| <= |dx_old f'|: far up the exponential, Newton
 * creeps by one thermal voltage per step), else bisects; the bracket
 * follows the sign of f.  Stop: a Newton step or the bracket at most
 * LY_NODE_RELTOL (|V| + LY_NODE_VFLOOR_V). */
static int node_solve(const eqs_layers *L, const layered *ly, int i, double S, double r,
                      double v0, double *out)
{
    if (ly->ideal) {
        double v = r / S;
        if (v < ly->lo[i]) v = ly->lo[i];
        if (v > ly->hi[i]) v = ly->hi[i];
        *out = v;
        return LY_NODE_OK;
    }
    if (L->dio_off[i + 1] == L->dio_off[i]) {
        *out = r / S;
        return LY_NODE_OK;
    }
    if (!(S > 0) || !isfinite(r) || !isfinite(S)) return LY_NODE_BADSUM;
    const double lin = r / S;
    double a = fmin(lin, ly->vfmin[i]), b = fmax(lin, ly->vfmax[i]);
    int a_ok = 1, b_ok = 1; /* sign of f known at the end */
    if (a < ly->wlo[i]) a = ly->wlo[i], a_ok = 0;
    if (b > ly->whi[i]) b = ly->whi[i], b_ok = 0;
    if (!(a <= b)) return LY_NODE_OUTSIDE; /* empty window, or the root outside it */
    double v = v0;
    if (!(v >= a && v <= b)) v = v < a ? a : v > b ? b : 0.5 * (a + b); /* NaN: middle */
    double f, df;
    node_f(L, ly, i, S, r, v, &f, &df);
    double dx = b - a, dx_old = dx;
    for (int it = 0; it < LY_NODE_MAXIT; ++it) {
        if (!isfinite(f) || !isfinite(df)) return LY_NODE_NONFINITE;
        if (f == 0) {
            *out = v;
            return LY_NODE_OK;
        }
        if (f < 0) a = v, a_ok = 1;
        else b = v, b_ok = 1;
        const double tol = LY_NODE_RELTOL * (fabs(v) + LY_NODE_VFLOOR_V);
        if (b - a <= tol) {
            /* collapsed: onto an end of unknown sign, the root may lie
             * outside the window */
            double fe, dfe;
            if (!b_ok) {
                node_f(L, ly, i, S, r, b, &fe, &dfe);
                if (!(fe >= 0)) return isfinite(fe) ? LY_NODE_OUTSIDE : LY_NODE_NONFINITE;
            }
            if (!a_ok) {
                node_f(L, ly, i, S, r, a, &fe, &dfe);
                if (!(fe <= 0)) return isfinite(fe) ? LY_NODE_OUTSIDE : LY_NODE_NONFINITE;
            }
            *out = v;
            return LY_NODE_OK;
        }
        double vn = v - f / df;
        if (!(vn > a && vn < b) || fabs(2 * f) > fabs(dx_old * df)) {
            dx_old = dx;
            dx = 0.5 * (b - a);
            vn = a + dx;
        } else {
            dx_old = dx;
            dx = fabs(vn - v);
            if (dx <= tol) {
                *out = vn;
                return LY_NODE_OK;
            }
        }
        v = vn;
        node_f(L, ly, i, S, r, v, &f, &df);
    }
    return LY_NODE_MAXITER;
}

/* Remember a failed node solve (for ly_fail). */
static void note_fail(layered *ly, int code, int node, int row, double S, double r)
{
    ly->fail_code = code, ly->fail_node = node, ly->fail_row = row;
    ly->fail_S = S, ly->fail_r = r;
}

/* The error of a failed node solve: `what` (e.g. "layered solver") names
 * the solve; the node, the reason, S and r. */
static eqs_status ly_fail(eqs_solver *s, const char *what)
{
    const layered *ly = s->impl;
    char row[48] = "";
    if (ly->fail_row >= 0) snprintf(row, sizeof row, " (batch row %d)", ly->fail_row);
    return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                     "%s: node '%s'%s: %s (conductance %g S, drive %g A)", what,
                     s->c->node_names[ly->fail_node], row, ly_node_why[ly->fail_code],
                     ly->fail_S, ly->fail_r);
}

/* ly->adj_g current with the circuit's values. */
static void adj_refresh(eqs_solver *s)
{
    layered *ly = s->impl;
    const eqs_circuit *c = s->c;
    if (ly->g_ok && ly->g_chg_epoch == c->chg_epoch && ly->g_n_chg == c->n_chg &&
        ly->g_values_epoch == c->values_epoch)
        return;
    const eqs_layers *L = s->layers;
    const int na = L->adj_off[c->n_user_nodes];
    for (int p = 0; p < na; ++p) ly->adj_g[p] = eqs_celem_value(c, &c->elems[L->adj_elem[p]]);
    ly->g_chg_epoch = c->chg_epoch;
    ly->g_n_chg = c->n_chg;
    ly->g_values_epoch = c->values_epoch;
    ly->g_ok = 1;
}

/* Conductance to the neighbours (S) and sum G V_j (A) of user node i. */
static void node_sums(const eqs_solver *s, const double *v, int i, double *S, double *r)
{
    const eqs_layers *L = s->layers;
    const double *adj_g = ((const layered *)s->impl)->adj_g;
    if (((const layered *)s->impl)->wire) {
        wx_node_sums(((const layered *)s->impl)->wire, v, i, S, r);
        return;
    }
    double ss = 0, rr = 0;
    for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p) {
        double G = adj_g[p];
        ss += G;
        rr += G * v[L->adj_node[p]];
    }
    *S = ss;
    *r = rr;
}

/* ---- backend ---------------------------------------------------------- */

static void ly_destroy(eqs_solver *s);

static eqs_status ly_create(eqs_solver *s)
{
    eqs_ctx *ctx = s->ctx;
    eqs_circuit *c = s->c;
    if (!s->layers) return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "layered solver without layers");
    const eqs_layers *L = s->layers;
    layered *ly = eqs_calloc(ctx, 1, sizeof *ly);
    if (!ly) return EQS_ERR_NOMEM;
    s->impl = ly;
    size_t nn = (size_t)c->n_user_nodes, nd = (size_t)L->dio_off[nn] + 1;
    ly->dp = eqs_calloc(ctx, nd, sizeof *ly->dp);
    ly->dsign = eqs_malloc(ctx, nd * sizeof *ly->dsign);
    ly->dfix = eqs_malloc(ctx, nd * sizeof *ly->dfix);
    ly->dvf = eqs_calloc(ctx, nd, sizeof *ly->dvf);
    ly->lo = eqs_malloc(ctx, nn * sizeof *ly->lo);
    ly->hi = eqs_malloc(ctx, nn * sizeof *ly->hi);
    ly->ng = eqs_calloc(ctx, nn, sizeof *ly->ng);
    ly->ni = eqs_calloc(ctx, nn, sizeof *ly->ni);
    ly->partner = eqs_malloc(ctx, nn * sizeof *ly->partner);
    ly->pg = eqs_calloc(ctx, nn, sizeof *ly->pg);
    ly->pinj = eqs_calloc(ctx, nn, sizeof *ly->pinj);
    ly->ppos = eqs_calloc(ctx, nn, sizeof *ly->ppos);
    ly->lam = eqs_calloc(ctx, nn, sizeof *ly->lam);
    ly->vd_lo = eqs_calloc(ctx, nd, sizeof *ly->vd_lo);
    ly->vd_hi = eqs_calloc(ctx, nd, sizeof *ly->vd_hi);
    ly->vfmin = eqs_calloc(ctx, nn, sizeof *ly->vfmin);
    ly->vfmax = eqs_calloc(ctx, nn, sizeof *ly->vfmax);
    ly->wlo = eqs_calloc(ctx, nn, sizeof *ly->wlo);
    ly->adj_g = eqs_malloc(ctx, ((size_t)L->adj_off[nn] + 1) * sizeof *ly->adj_g);
    if (!ly->adj_g) return EQS_ERR_NOMEM;
    ly->whi = eqs_calloc(ctx, nn, sizeof *ly->whi);
    if (!ly->dp || !ly->dsign || !ly->dfix || !ly->dvf || !ly->lo || !ly->hi || !ly->ng ||
        !ly->ni || !ly->partner || !ly->pg || !ly->pinj || !ly->ppos || !ly->lam ||
        !ly->vd_lo || !ly->vd_hi || !ly->vfmin || !ly->vfmax || !ly->wlo || !ly->whi)
        return EQS_ERR_NOMEM;
    for (size_t i = 0; i < nn; ++i) ly->partner[i] = -1;
    ly->gmin = s->opt.gmin;
    ly->ideal = s->opt.diodes == EQS_DIODES_IDEAL;
    for (size_t i = 0; i < nn; ++i) {
        for (int p = L->dio_off[i]; p < L->dio_off[i + 1]; ++p) {
            const eqs_celem *e = &c->elems[L->dio_elem[p]];
            const eqs_device *dev = eqs_device_get(e->kind);
            if (!ly->jdev) ly->jdev = dev;
            if (dev != ly->jdev)
                return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED,
                                 "layered solver: junctions of two devices ('%s', '%s')",
                                 ly->jdev->name, dev->name);
            ly->dsign[p] = e->n[0] == (int)i ? 1 : -1;
            ly->dfix[p] = e->n[0] == (int)i ? e->n[1] : e->n[0];
            eqs_status st = dev->setup(ctx, c, e, s->opt.reltol, &ly->dp[p]);
            if (st != EQS_OK) return st;
            ly->vd_lo[p] = diode_edge(dev, &ly->dp[p], ly->gmin, -LY_WINDOW_SPAN_V);
            ly->vd_hi[p] = diode_edge(dev, &ly->dp[p], ly->gmin, LY_WINDOW_SPAN_V);
        }
    }
    if (L->wired) {
        eqs_status st = wx_create(s, &ly->wire);
        if (st != EQS_OK) return st;
    }
    if (!(s->opt.bcd_tol_V > 0) || s->opt.bcd_max_sweeps < 1)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "layered solver options out of range (bcd_tol_V > 0, max sweeps >= 1)");
    return EQS_OK;
}

/* Fixed voltages, diode intervals and the nudge of this solve. */
static eqs_status prepare(eqs_solver *s)
{
    const eqs_circuit *c = s->c;
    const eqs_layers *L = s->layers;
    layered *ly = s->impl;
    const int nn = c->n_user_nodes;
    double *v = s->v;
    for (int i = 0; i < nn; ++i)
        if (c->node_unknown[i] < 0) v[i] = i == 0 ? 0.0 : eqs_circuit_fixed_voltage(c, i, 1.0);
    for (int i = 0; i < nn; ++i) {
        ly->lo[i] = -INFINITY, ly->hi[i] = INFINITY;
        ly->vfmin[i] = INFINITY, ly->vfmax[i] = -INFINITY;
        ly->wlo[i] = -INFINITY, ly->whi[i] = INFINITY;
        for (int p = L->dio_off[i]; p < L->dio_off[i + 1]; ++p) {
            ly->dvf[p] = v[ly->dfix[p]];
            /* node window: V - V_fix (anode here) or V_fix - V in the diode's */
            double wl = ly->dsign[p] > 0 ? ly->dvf[p] + ly->vd_lo[p] : ly->dvf[p] - ly->vd_hi[p];
            double wh = ly->dsign[p] > 0 ? ly->dvf[p] + ly->vd_hi[p] : ly->dvf[p] - ly->vd_lo[p];
            if (wl > ly->wlo[i]) ly->wlo[i] = wl;
            if (wh < ly->whi[i]) ly->whi[i] = wh;
            if (ly->dvf[p] < ly->vfmin[i]) ly->vfmin[i] = ly->dvf[p];
            if (ly->dvf[p] > ly->vfmax[i]) ly->vfmax[i] = ly->dvf[p];
            if (ly->dsign[p] > 0) { /* anode here: conducts when V > V_fix */
                if (ly->dvf[p] < ly->hi[i]) ly->hi[i] = ly->dvf[p];
            } else if (ly->dvf[p] > ly->lo[i]) {
                ly->lo[i] = ly->dvf[p];
            }
        }
        if (ly->ideal && ly->lo[i] > ly->hi[i])
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT,
                             "node '%s': its ideal diodes allow no voltage (V >= %g V and "
                             "V <= %g V)",
                             c->node_names[i], ly->lo[i], ly->hi[i]);
        ly->ng[i] = ly->ni[i] = 0;
        ly->partner[i] = -1;
    }
    const eqs_nudge *nu = &s->nudge;
    for (int k = 0; k < nu->n; ++k) {
        ly->ng[nu->node[k]] += nu->g[k];
        ly->ni[nu->node[k]] += nu->inj[k];
    }
    for (int k = 0; k < nu->np; ++k) {
        int p = nu->pos[k], q = nu->neg[k];
        int fp = c->node_unknown[p] < 0, fq = c->node_unknown[q] < 0;
        double g = nu->pg[k], inj = nu->pinj[k];
        if (fq) { /* KCL p gains g (Vp - Vq) - inj */
            ly->ng[p] += g, ly->ni[p] += g * v[q] + inj;
        } else if (fp) { /* KCL q gains g (Vq - Vp) + inj */
            ly->ng[q] += g, ly->ni[q] += g * v[p] - inj;
        } else {
            if (L->layer_of[p] != L->layer_of[q] || L->dio_off[p + 1] > L->dio_off[p] ||
                L->dio_off[q + 1] > L->dio_off[q])
                return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                                 "layered solver: nudged pair '%s' '%s' must be two nodes of "
                                 "one layer without diodes",
                                 c->node_names[p], c->node_names[q]);
            ly->partner[p] = q, ly->partner[q] = p;
            ly->ppos[p] = 1, ly->ppos[q] = 0;
            ly->pg[p] = ly->pg[q] = g;
            ly->pinj[p] = ly->pinj[q] = inj;
        }
    }
    return EQS_OK;
}

/* One sweep (odd layers, then even layers); largest update (V). */
static double sweep(eqs_solver *s)
{
    const eqs_layers *L = s->layers;
    layered *ly = s->impl;
    double *v = s->v, maxd = 0;
    for (int parity = 1; parity >= 0; --parity) {
        for (int l = 1; l < L->n_layers; ++l) {
            if ((l & 1) != parity) continue;
            for (int q = L->off[l]; q < L->off[l + 1]; ++q) {
                int i = L->node[q];
                int k = ly->partner[i];
                double S, r, vn;
                if (k >= 0) {
                    if (!ly->ppos[i]) continue; /* solved with its positive node */
                    double S2, r2;
                    node_sums(s, v, i, &S, &r);
                    node_sums(s, v, k, &S2, &r2);
                    double g = ly->pg[i], inj = ly->pinj[i];
                    double a = S + g, b = S2 + g, det = a * b - g * g;
                    double vp = (b * (r + inj) + g * (r2 - inj)) / det;
                    double vq = (g * (r + inj) + a * (r2 - inj)) / det;
                    double d1 = fabs(vp - v[i]), d2 = fabs(vq - v[k]);
                    if (d1 > maxd) maxd = d1;
                    if (d2 > maxd) maxd = d2;
                    v[i] = vp, v[k] = vq;
                    continue;
                }
                node_sums(s, v, i, &S, &r);
                int code = node_solve(L, ly, i, S + ly->ng[i], r + ly->ni[i], v[i], &vn);
                if (code != LY_NODE_OK) {
                    note_fail(ly, code, i, -1, S + ly->ng[i], r + ly->ni[i]);
                    return NAN;
                }
                double d = fabs(vn - v[i]);
                if (!(d <= maxd)) maxd = d; /* NaN propagates */
                v[i] = vn;
            }
        }
    }
    return maxd;
}

/* KCL residual (A) of free user node i at v (nudge included); ideal diodes:
 * the conductance times the distance to the node's exact minimiser. */
static eqs_status node_kcl(const eqs_solver *s, int i, double vi, double *f, double *df)
{
    const layered *ly = s->impl;
    double S, r;
    node_sums(s, s->v, i, &S, &r);
    S += ly->ng[i], r += ly->ni[i];
    int k = ly->partner[i];
    if (k >= 0) {
        double g = ly->pg[i], inj = ly->pinj[i];
        double sg = ly->ppos[i] ? 1.0 : -1.0;
        S += g;
        r += g * s->v[k] + sg * inj;
    }
    if (ly->ideal) {
        double vs = r / S;
        if (vs < ly->lo[i]) vs = ly->lo[i];
        if (vs > ly->hi[i]) vs = ly->hi[i];
        *f = S * (vi - vs);
        *df = S;
    } else {
        double cur, g;
        diode_currents(s->layers, ly, i, vi, &cur, &g);
        *f = S * vi - r + cur;
        *df = S + g;
    }
    return EQS_OK;
}

static eqs_status ly_solve(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info)
{
    const eqs_circuit *c = s->c;
    const eqs_layers *L = s->layers;
    layered *ly = s->impl;
    double t0 = eqs_now_s();
    eqs_status st = prepare(s);
    if (st != EQS_OK) return st;
    adj_refresh(s); /* single solves only: the batched phases use the blocks */
    if (ly->wire) { /* reduce the wired crossbars (new values), their drive */
        int host = blas_threads_enter(LY_STEP_BLAS_THREADS);
        st = wx_refresh(s, ly->wire);
        if (st == EQS_OK) wx_drive(s, ly->wire);
        blas_threads_leave(host, LY_STEP_BLAS_THREADS);
        if (st != EQS_OK) return st;
    }
    if (mode == EQS_SOLVE_COLD)
        for (int q = L->off[1]; q < L->off[L->n_layers]; ++q) s->v[L->node[q]] = 0.0;
    int n = 0;
    double d = INFINITY;
    ly->fail_code = LY_NODE_OK;
    while (n < s->opt.bcd_max_sweeps) {
        d = sweep(s);
        n++;
        if (d <= s->opt.bcd_tol_V || !isfinite(d)) break; /* NaN: no more sweeps */
    }
    double res = 0;
    for (int q = L->off[1]; q < L->off[L->n_layers]; ++q) {
        double f, df;
        node_kcl(s, L->node[q], s->v[L->node[q]], &f, &df);
        if (!(fabs(f) <= res)) res = fabs(f);
    }
    if (ly->wire && isfinite(d) && ly->fail_code == LY_NODE_OK) {
        int host = blas_threads_enter(LY_STEP_BLAS_THREADS);
        wx_recover(s, ly->wire);
        blas_threads_leave(host, LY_STEP_BLAS_THREADS);
    }
    info->iterations = n;
    info->residual_A = res;
    info->max_update_V = d;
    info->backend = ly->ideal ? "layered-ideal" : "layered";
    ly->phase_s += eqs_now_s() - t0;
    ly->sweeps += n;
    ly->phases++;
    if (ly->fail_code != LY_NODE_OK) return ly_fail(s, "layered solver");
    if (!isfinite(d))
        return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                         "layered solver: a node voltage is not finite in sweep %d", n);
    if (!(d <= s->opt.bcd_tol_V))
        return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                         "layered solver: no convergence after %d sweeps (last update %g V, "
                         "tolerance %g V)",
                         n, d, s->opt.bcd_tol_V);
    (void)c;
    return EQS_OK;
}

/* Adjoint: J^T lambda = b with J the KCL Jacobian without nudge: the
 * weighted Laplacian plus diode conductances (Shockley); with ideal diodes
 * a node held at a bound by its diode has lambda = 0 (its row is the
 * constraint) and the others form a symmetric positive definite system.
 * Solved by the same odd/even block sweeps (exact per node). */
static eqs_status ly_adjoint(eqs_solver *s, const double *b, double *lambda)
{
    const eqs_circuit *c = s->c;
    const eqs_layers *L = s->layers;
    layered *ly = s->impl;
    const int nn = c->n_user_nodes;
    double *v = s->v, *lam = ly->lam;
    if (ly->wire)
        return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                         "layered solver: no adjoint with wired crossbars (use EqProp, or "
                         "--solver newton)");
    adj_refresh(s);
    const double *adj_g = ly->adj_g;
    for (int i = 0; i < nn; ++i) lam[i] = 0.0;
    int it;
    for (it = 0; it < LY_ADJ_MAXSWEEPS; ++it) {
        double maxd = 0, maxl = 0;
        for (int parity = 1; parity >= 0; --parity) {
            for (int l = 1; l < L->n_layers; ++l) {
                if ((l & 1) != parity) continue;
                for (int q = L->off[l]; q < L->off[l + 1]; ++q) {
                    int i = L->node[q];
                    double S = 0, r = 0, rv = 0;
                    for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p) {
                        double G = adj_g[p];
                        S += G;
                        r += G * lam[L->adj_node[p]];
                        rv += G * v[L->adj_node[p]];
                    }
                    double nl;
                    if (ly->ideal) {
                        double vs = rv / S;
                        int held = (v[i] <= ly->lo[i] && vs < ly->lo[i]) ||
                                   (v[i] >= ly->hi[i] && vs > ly->hi[i]);
                        nl = held ? 0.0 : (b[i] + r) / S;
                    } else {
                        double cur, g;
                        diode_currents(L, ly, i, v[i], &cur, &g);
                        nl = (b[i] + r) / (S + g);
                    }
                    double d = fabs(nl - lam[i]);
                    if (d > maxd) maxd = d;
                    if (fabs(nl) > maxl) maxl = fabs(nl);
                    lam[i] = nl;
                }
            }
        }
        if (!isfinite(maxd)) break;
        if (maxd <= LY_ADJ_RELTOL * maxl || maxl == 0) break;
    }
    if (it >= LY_ADJ_MAXSWEEPS || !isfinite(lam[L->node[L->off[1]]]))
        return EQS_ERROR(s->ctx, EQS_ERR_NOCONV, "layered adjoint: no convergence");
    for (int i = 0; i < nn; ++i) lambda[i] = c->node_unknown[i] < 0 ? 0.0 : lam[i];
    return EQS_OK;
}

#include "layered_wire_batch.inc"

/* ---- batched training -------------------------------------------------- */

/* BLAS threads inside a batched training step.  Measured on the 2-core VM
 * (bench train, alternating runs, docs/solver.md): one thread per call is
 * faster than OpenBLAS's two for every shape of the step (784-1024-10 batch
 * 4: about 850 vs 480 samples/s; batch 32: 2,700-3,600 vs 2,300-2,600;
 * 784-100-10 batch 32: 29,000 vs 18,600): its threads spin and yield around
 * each call, which costs more on this VM than the second core gives (the
 * crossbar moves between the cores' caches).  The second core is used by
 * splitting each large crossbar by row halves instead ("Two cores" above,
 * worker.c). */
#ifndef LY_STEP_BLAS_THREADS
#define LY_STEP_BLAS_THREADS 1
#endif

#define REAL double
#define B_(x) x##_d
#define GEMM cblas_dgemm
#define STORE_PREC EQS_STORE_DOUBLE
#define STORE_G eqs_block_g
#define STORE_M eqs_block_m
#include "layered_batch.inc"
#undef REAL
#undef B_
#undef GEMM
#undef STORE_PREC
#undef STORE_G
#undef STORE_M
#define REAL float
#define B_(x) x##_f
#define GEMM cblas_sgemm
#define STORE_PREC EQS_STORE_FLOAT
#define STORE_G eqs_block_gf
#define STORE_M eqs_block_mf
#include "layered_batch.inc"
#undef REAL
#undef B_
#undef GEMM
#undef STORE_PREC
#undef STORE_G
#undef STORE_M

/* Dispatch to the precision chosen at setup (eqs_solver_options.single). */
static void batch_release(eqs_ctx *ctx, layered *ly)
{
    if (ly->wbt) {
        wx_batch *wb = ly->wbt;
        wx_bt_free(ctx, ly->wire, &wb);
        ly->wbt = NULL;
    }
    eqs_worker_destroy(ctx, ly->worker);
    ly->worker = NULL;
    if (!ly->bt) return;
    if (ly->single) batch_free_f(ctx, ly->bt);
    else batch_free_d(ctx, ly->bt);
    ly->bt = NULL;
}

static eqs_status bt_setup(eqs_solver *s, const eqs_batch_setup *bs)
{
    layered *ly = s->impl;
    batch_release(s->ctx, ly);
    if (ly->wire) {
        wx_batch *wb = NULL;
        eqs_status st = wx_bt_setup(s, bs, &wb);
        ly->wbt = wb;
        return st;
    }
    ly->single = s->opt.single != 0;
    return ly->single ? setup_f(s, bs) : setup_d(s, bs);
}

static void bt_load(eqs_solver *s, int b, const double *u, const double *y)
{
    if (((layered *)s->impl)->wbt) {
        wx_bt_load(((layered *)s->impl)->wbt, b, u, y);
        return;
    }
    if (((layered *)s->impl)->single) load_f(s, b, u, y);
    else load_d(s, b, u, y);
}

/* OpenBLAS's thread count is process-wide: the library sets its own
 * (`want`) only around its calls and gives the host's back (about 60 ns a
 * pair on the VM), so a host's openblas_get_num_threads() is the same
 * before and after any eqspice call. */
static int blas_threads_enter(int want)
{
    int host = openblas_get_num_threads();
    if (host != want) openblas_set_num_threads(want);
    return host;
}

static void blas_threads_leave(int host, int want)
{
    if (host != want) openblas_set_num_threads(host);
}

static eqs_status bt_free_phase(eqs_solver *s, int nb, double *out)
{
    int host = blas_threads_enter(LY_STEP_BLAS_THREADS);
    layered *ly = s->impl;
    eqs_status st = ly->wbt      ? wx_bt_free_phase(s, ly->wbt, nb, out)
                    : ly->single ? free_phase_f(s, nb, out)
                                 : free_phase_d(s, nb, out);
    blas_threads_leave(host, LY_STEP_BLAS_THREADS);
    return st;
}

static eqs_status bt_train(eqs_solver *s, int nb, double lr_scale)
{
    int host = blas_threads_enter(LY_STEP_BLAS_THREADS);
    layered *ly = s->impl;
    eqs_status st = ly->wbt      ? wx_bt_train(s, ly->wbt, nb, lr_scale)
                    : ly->single ? train_f(s, nb, lr_scale)
                                 : train_d(s, nb, lr_scale);
    blas_threads_leave(host, LY_STEP_BLAS_THREADS);
    return st;
}

static void ly_destroy(eqs_solver *s)
{
    layered *ly = s->impl;
    if (!ly) return;
    eqs_ctx *ctx = s->ctx;
    batch_release(ctx, ly);
    wx_free(ctx, &ly->wire);
    eqs_free(ctx, ly->dp);
    eqs_free(ctx, ly->dsign);
    eqs_free(ctx, ly->dfix);
    eqs_free(ctx, ly->dvf);
    eqs_free(ctx, ly->lo);
    eqs_free(ctx, ly->hi);
    eqs_free(ctx, ly->ng);
    eqs_free(ctx, ly->ni);
    eqs_free(ctx, ly->partner);
    eqs_free(ctx, ly->pg);
    eqs_free(ctx, ly->pinj);
    eqs_free(ctx, ly->ppos);
    eqs_free(ctx, ly->lam);
    eqs_free(ctx, ly->vd_lo);
    eqs_free(ctx, ly->vd_hi);
    eqs_free(ctx, ly->vfmin);
    eqs_free(ctx, ly->vfmax);
    eqs_free(ctx, ly->wlo);
    eqs_free(ctx, ly->adj_g);
    eqs_free(ctx, ly->whi);
    eqs_free(ctx, ly);
    s->impl = NULL;
}

static const eqs_batch_ops layered_batch = {
    .setup = bt_setup,
    .load = bt_load,
    .free_phase = bt_free_phase,
    .train = bt_train,
};

/* A layered circuit has only resistors, diodes and grounded sources: its
 * Jacobian is symmetric, the ncep correction is zero (ncep.c then says so
 * and computes centered EqProp). */
static eqs_status ly_ncep_capture(eqs_solver *s, double *a_max)
{
    (void)s;
    *a_max = 0.0;
    return EQS_OK;
}

const eqs_backend_ops eqs_backend_layered = {
    .name = "layered",
    .create = ly_create,
    .solve = ly_solve,
    .destroy = ly_destroy,
    .adjoint = ly_adjoint,
    .ncep_capture = ly_ncep_capture,
    .batch = &layered_batch,
};

void eqs_solver_layered_stats(const eqs_solver *s, double *phase_s, double *sweeps)
{
    *phase_s = 0, *sweeps = 0;
    if (!s || s->ops != &eqs_backend_layered || !s->impl) return;
    const layered *ly = s->impl;
    if (ly->phases == 0) return;
    *phase_s = ly->phase_s / (double)ly->phases;
    *sweeps = ly->sweeps / (double)ly->phases;
}

double eqs_solver_layered_phase_total_s(const eqs_solver *s)
{
    if (!s || s->ops != &eqs_backend_layered || !s->impl) return 0;
    return ((const layered *)s->impl)->phase_s;
}

/* The two floor GEMMs once, in REAL = double or float (floor_d, floor_f). */
#define FLOOR_GEMMS(REAL, GEMM)                                                                \
    static void floor_##REAL(int batch, int n_in, int n_hidden, const void *x, const void *w,  \
                             void *p, void *m)                                                  \
    {                                                                                           \
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, n_hidden, n_in, 1.0,             \
             (const REAL *)x, n_in, (const REAL *)w, n_hidden, 0.0, (REAL *)p, n_hidden);      \
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_hidden, batch, -1e-3,             \
             (const REAL *)x, n_in, (const REAL *)p, n_hidden, 0.9, (REAL *)m, n_hidden);      \
    }
FLOOR_GEMMS(double, cblas_dgemm)
FLOOR_GEMMS(float, cblas_sgemm)
#undef FLOOR_GEMMS

eqs_status eqs_layered_floor(eqs_ctx *ctx, int n_in, int n_hidden, int batch, double seconds,
                             int single, double *samples_per_s)
{
    *samples_per_s = 0;
    if (n_in < 1 || n_hidden < 1 || batch < 1)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "floor: sizes must be positive");
    size_t B = (size_t)batch, n0 = (size_t)n_in, n1 = (size_t)n_hidden;
    const size_t z = single ? sizeof(float) : sizeof(double);
    void *X = eqs_malloc(ctx, B * n0 * z), *W = eqs_malloc(ctx, n0 * n1 * z);
    void *P = eqs_malloc(ctx, B * n1 * z), *M = eqs_calloc(ctx, n0 * n1, z);
    eqs_status st = EQS_OK;
    if (!X || !W || !P || !M) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < B * n0; ++i) {
        const double v = (double)(i % 255) / 255.0;
        if (single) ((float *)X)[i] = (float)v;
        else ((double *)X)[i] = v;
    }
    for (size_t i = 0; i < n0 * n1; ++i) {
        const double v = 1e-6 * (double)(1 + i % 97);
        if (single) ((float *)W)[i] = (float)v;
        else ((double *)W)[i] = v;
    }
    /* the best of one and two BLAS threads, half the time each: the floor is
     * what the machine's GEMMs can do, whatever the step uses */
    double best = 0;
    int host = blas_threads_enter(1);
    for (int threads = 1; threads <= LY_BLAS_THREADS; ++threads) {
        openblas_set_num_threads(threads);
        long reps = 0;
        double t0 = eqs_now_s(), t = t0;
        do {
            if (single) floor_float(batch, n_in, n_hidden, X, W, P, M);
            else floor_double(batch, n_in, n_hidden, X, W, P, M);
            reps++;
            t = eqs_now_s();
        } while (t - t0 < seconds / LY_BLAS_THREADS);
        double rate = (double)reps * (double)batch / (t - t0);
        if (rate > best) best = rate;
    }
    *samples_per_s = best;
    openblas_set_num_threads(1);
    blas_threads_leave(host, 1);
done:
    eqs_free(ctx, X);
    eqs_free(ctx, W);
    eqs_free(ctx, P);
    eqs_free(ctx, M);
    return st;
}
