/*
 * newton.c: the built-in DC operating-point backend (Newton-Raphson on the
 * compiled circuit, CHOLMOD for reciprocal circuits, KLU for MNA).
 *
 * Structure (CONVENTIONS 8): nt_set (starting point), nt_iterate (one
 * Newton step), nt_test (convergence), nt_newton (the loop, bounded by
 * itl1), and the driver nt_solve (plain Newton, then gmin stepping, then
 * source stepping).  Everything is allocated in nt_create; solving never
 * allocates (the KLU fallback to a fresh klu_factor allocates inside KLU,
 * not through the context).
 *
 * The Jacobian is split into a linear part (every element but the diodes,
 * values only change when the circuit's values change) and the diode
 * stamps added per iteration.  The linear residual is
 *     F_lin(x) = Jlin x + s b0
 * where b0 collects everything that does not depend on the unknowns
 * (fixed node voltages through resistors and controlled sources,
 * independent source values) at source scale s = 1.  Each iteration
 * solves the SPICE companion system  A x_new = rhs  with
 * A = Jlin + sum_d g_d (+ gshunt on node diagonals) and
 * rhs = -s b0 - sum_d (i_d - g_d v_d), v_d the limited junction voltages.
 */
#include "solver.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../devices/devices.h"

/* First gmin-stepping shunt conductance = gmin * 10^gmin_steps; with the
 * defaults (1e-12 S, 10 steps) 1e-2 S, as in SPICE's gmin stepping. */
#define NT_GMIN_DECADE 10.0
/* Base of gmin stepping when the options set gmin = 0 (SPICE's default). */
#define NT_GMIN_STEP_BASE 1e-12

/* Incremental updates of Jlin, b0 and the fixed-node rows accumulate
 * rounding: after this many applied terms per parameter (or per entry of
 * the fixed-node rows, if more) on average (a conductance change counts 1,
 * an input change 1 + the resistors at its node), recompute everything
 * from the values. */
#define NT_REFRESH_AFTER 64.0

/* How many logged changes ahead to prefetch when applying them. */
#define NT_PREFETCH_AHEAD 16

typedef enum { NT_OK = 0, NT_SINGULAR = 1, NT_NOCONV = 2, NT_FATAL = -1 } nt_result;

/* Everything a conductance change touches, in one 48-byte record per
 * parameter, so that applying a change costs about one cache miss
 * (warm re-solves after thousands of changes in a 1.6 M-resistor net).
 * The voltages of fixed terminals are not copied here but read through
 * ra / rb (row_vf), so that an input change never touches the plans. */
typedef struct {
    double g;        /* conductance currently stamped (S) */
    int s[4];        /* Jlin slots (R layout of circuit.h) */
    int ua, ub;      /* unknowns of n[0] / n[1], -1 if eliminated */
    int ra, rb;      /* fixed-node rows of n[0] / n[1], -1 if not fixed */
    int ca, cb;      /* fx entries of terminal n[0] / n[1], -1 if none */
} nt_rplan;

typedef struct {
    const eqs_linsolve_ops *lops;
    eqs_linsolve *ls;
    int n, nnz;
    double *Jlin; /* linear part of the Jacobian (nnz) */
    double *Ax;   /* assembled matrix of the current iteration (nnz) */
    double *b0;   /* constant part of the linear residual at scale 1 (n) */
    double *x;    /* current iterate (n) */
    double *rhs;  /* right-hand side, then the new iterate (n) */
    double *F;    /* residual (n) */
    double *fs;   /* per-row sum of |terms| (n) */
    double *cm;   /* per-row largest element current (n) */
    double *vn;   /* all circuit node voltages (n_nodes) */
    double *vfix1; /* fixed node voltages at scale 1, 0 for others (n_nodes) */
    int *diag;    /* slot of (i,i) for node unknowns (n_node_unknowns) */
    nt_rplan *plan; /* per parameter (n_params) */

    int nd;       /* diodes */
    int *d_elem;
    const eqs_device **d_dev; /* device table of each nonlinear element */
    eqs_devparams *dp;
    double *d_v;  /* junction voltage of the last evaluation (V) */
    double *d_i;  /* junction current of the last evaluation (A) */
    double *d_g;  /* junction conductance of the last evaluation (S) */
    double *d_vp, *d_ip, *d_gp; /* the same for the evaluation before */

    /* Currents of the eliminated (grounded) voltage sources, which ngspice
     * carries as branch unknowns and tests like every unknown: per fixed
     * node f (row fx_row[f]), the current leaving f through the linear
     * elements is  s * fx_s0[r] + sum fx_x[q] x[fx_j[q]]  (q in row r);
     * diodes touching f are added from their companion models. */
    int n_fx;
    int *fx_row;  /* node -> row, -1 if the node is not fixed (n_nodes) */
    int *fx_p, *fx_j;
    double *fx_x, *fx_s0;
    double *fx_new, *fx_old; /* work (n_fx) */
    /* Cheap path: linear part of the currents at a reference point
     * (fx_lref at x_ref, scale fx_sref) and per-row sums of |coefficients|
     * bound the currents at nearby points without a pass over all
     * entries (1.6 M in a 784-1024-10 DRN). */
    double *fx_gsum, *fx_lref, *x_ref;
    double fx_sref;
    int fx_ref_ok;
    int *fx_node; /* row -> fixed node (n_fx) */

    /* Input changes (a new value of the grounded source fixing the node of
     * row r), applied in O(degree) by input_apply when fx_inc[r]: every
     * element touching the node is a resistor, a diode, a current source
     * or the fixing source itself.  Then the row's fx entries are exactly
     * the resistors to unknowns (fx_x = -G), and fx_ee[fx_ep[r] ..
     * fx_ep[r + 1]) lists the other resistors at the node (to ground or to
     * another fixed node).  Otherwise (a controlled source or a branch
     * touches the node) a change refreshes everything. */
    unsigned char *fx_inc;
    int *fx_ep, *fx_ee;

    const eqs_nudge *nu; /* the solver's nudge (EqProp), applied in load/residual */
    double *x_saved, *dv_saved; /* eqs_solver_save_state (lazily allocated) */

    /* Non-conservative EqProp (ncep_capture / ncep_enable, allocated on
     * first capture): K = -(J0 - J0^T) on the (structurally symmetric MNA)
     * pattern, nc_tslot[q] the slot of the transposed entry, nc_x0 the
     * free state s0 and nc_Kx0 = K s0.  While nc_on, load() adds K to Ax
     * and K s0 to rhs, residual() adds K (x - s0). */
    double *nc_K, *nc_x0, *nc_Kx0;
    int *nc_tslot;
    int nc_on;

    uint64_t seen_epoch, seen_values_epoch, seen_ichg_epoch;
    int seen_pos, seen_ipos;
    double n_incremental; /* changes applied since the last full refresh */

    /* per-iteration state */
    double scale, gshunt;
    int init_jct, damped;
    int cold;     /* this attempt started from zero */
    int iterations;
    double max_update;
    double resid;
    int worst_row;
} newton;


/* ---- linear part ---------------------------------------------------- */

static inline int unk(const eqs_circuit *c, int nd) { return nd < 0 ? -1 : c->node_unknown[nd]; }

/* Fixed voltage of node nd at scale 1 if it is eliminated, else 0. */
static inline double vfix(const eqs_circuit *c, int nd)
{
    return (nd < 0 || c->node_unknown[nd] >= 0) ? 0.0 : eqs_circuit_fixed_voltage(c, nd, 1.0);
}

/* Cached fixed voltage at scale 1 (nt->vfix1, filled first in refresh_all);
 * ground index -1 never occurs here because unused terminals are skipped. */
#define VF(nd) (nt->vfix1[(nd)])

/* Fixed voltage (scale 1) of the node of fixed-node row r; 0 when r < 0
 * (a free node or ground: exactly VF of that node). */
static inline double row_vf(const newton *nt, int r)
{
    return r >= 0 ? nt->vfix1[nt->fx_node[r]] : 0.0;
}

static inline void addslot(double *A, int slot, double v)
{
    if (slot >= 0) A[slot] += v;
}


/* ---- currents of eliminated voltage sources ------------------------ */

/* Visit the linear current leaving each fixed terminal of element e:
 * constant part into fx_s0, terms in the unknowns as fx entries.  With
 * fill = 0 only counts entries per row (fx_p[r + 1]).  Returns the entry
 * index used for terminal 0 / 1 of a resistor through *ca / *cb. */
static void fx_visit(const eqs_circuit *c, newton *nt, const eqs_celem *e, int fill, int *ca,
                     int *cb)
{
    const int kc = e->ctrl >= 0 ? c->elems[e->ctrl].branch : -1;
    if (ca) *ca = -1;
    if (cb) *cb = -1;
    for (int t = 0; t < 2; ++t) {
        int nd = e->n[t];
        int r = nd >= 0 ? nt->fx_row[nd] : -1;
        if (r < 0) continue;
        double sg = t == 0 ? 1.0 : -1.0; /* current leaving n[t] */
        int js[2] = {-1, -1};
        double cs[2] = {0, 0}, k0 = 0;
        switch (e->kind) {
        case EQS_EL_R: {
            int other = e->n[1 - t];
            k0 = eqs_celem_value(c, e) * (VF(nd) - VF(other));
            js[0] = unk(c, other);
            cs[0] = -eqs_celem_value(c, e);
            break;
        }
        case EQS_EL_I:
            k0 = sg * eqs_celem_value(c, e);
            break;
        case EQS_EL_V:
        case EQS_EL_E:
        case EQS_EL_H:
            if (e->branch < 0) continue; /* the fixing source itself */
            js[0] = e->branch;
            cs[0] = sg;
            break;
        case EQS_EL_G:
            js[0] = unk(c, e->n[2]);
            cs[0] = sg * eqs_celem_value(c, e);
            js[1] = unk(c, e->n[3]);
            cs[1] = -sg * eqs_celem_value(c, e);
            k0 = sg * eqs_celem_value(c, e) * (VF(e->n[2]) - VF(e->n[3]));
            break;
        case EQS_EL_F:
            js[0] = kc;
            cs[0] = sg * eqs_celem_value(c, e);
            break;
        case EQS_EL_D:
        case EQS_EL_NKINDS:
            continue;
        }
        if (fill) nt->fx_s0[r] += k0;
        for (int m = 0; m < 2; ++m) {
            if (js[m] < 0) continue;
            if (!fill) {
                nt->fx_p[r + 1]++;
                continue;
            }
            int q = nt->fx_p[r]++; /* fx_p holds the next free slot while filling */
            nt->fx_j[q] = js[m];
            nt->fx_x[q] = cs[m];
            if (e->kind == EQS_EL_R) {
                if (t == 0 && ca) *ca = q;
                if (t == 1 && cb) *cb = q;
            }
        }
    }
}

/* Build the fixed-node rows (once, in create). */
static eqs_status fx_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt)
{
    nt->fx_row = eqs_malloc(ctx, (size_t)c->n_nodes * sizeof *nt->fx_row);
    if (!nt->fx_row) return EQS_ERR_NOMEM;
    nt->n_fx = 0;
    for (int i = 0; i < c->n_nodes; ++i)
        nt->fx_row[i] = (i > 0 && c->node_unknown[i] < 0 && c->node_fixed_by[i] >= 0) ? nt->n_fx++ : -1;
    size_t nf = (size_t)nt->n_fx + 1;
    nt->fx_node = eqs_malloc(ctx, nf * sizeof *nt->fx_node);
    if (!nt->fx_node) return EQS_ERR_NOMEM;
    for (int i = 0; i < c->n_nodes; ++i)
        if (nt->fx_row[i] >= 0) nt->fx_node[nt->fx_row[i]] = i;
    nt->fx_p = eqs_calloc(ctx, nf, sizeof *nt->fx_p);
    nt->fx_s0 = eqs_calloc(ctx, nf, sizeof *nt->fx_s0);
    nt->fx_new = eqs_calloc(ctx, nf, sizeof *nt->fx_new);
    nt->fx_old = eqs_calloc(ctx, nf, sizeof *nt->fx_old);
    nt->fx_gsum = eqs_calloc(ctx, nf, sizeof *nt->fx_gsum);
    nt->fx_lref = eqs_calloc(ctx, nf, sizeof *nt->fx_lref);
    nt->x_ref = eqs_calloc(ctx, (size_t)(c->n_unknowns + 1), sizeof *nt->x_ref);
    if (!nt->fx_p || !nt->fx_s0 || !nt->fx_new || !nt->fx_old || !nt->fx_gsum || !nt->fx_lref ||
        !nt->x_ref)
        return EQS_ERR_NOMEM;
    for (int e = 0; e < c->n_elems; ++e) fx_visit(c, nt, &c->elems[e], 0, NULL, NULL);
    for (int r = 0; r < nt->n_fx; ++r) nt->fx_p[r + 1] += nt->fx_p[r];
    size_t nq = (size_t)nt->fx_p[nt->n_fx];
    nt->fx_j = eqs_malloc(ctx, (nq ? nq : 1) * sizeof *nt->fx_j);
    nt->fx_x = eqs_malloc(ctx, (nq ? nq : 1) * sizeof *nt->fx_x);
    eqs_advise_huge(nt->fx_j, (nq ? nq : 1) * sizeof *nt->fx_j);
    eqs_advise_huge(nt->fx_x, (nq ? nq : 1) * sizeof *nt->fx_x);
    if (!nt->fx_j || !nt->fx_x) return EQS_ERR_NOMEM;
    return EQS_OK;
}

/* Which fixed nodes take input changes incrementally (fx_inc) and their
 * resistors to non-unknowns (fx_ep / fx_ee): two passes over the elements,
 * once, in create (after fx_build). */
static eqs_status in_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt)
{
    size_t nf = (size_t)nt->n_fx + 1;
    nt->fx_inc = eqs_malloc(ctx, nf);
    nt->fx_ep = eqs_calloc(ctx, nf, sizeof *nt->fx_ep);
    if (!nt->fx_inc || !nt->fx_ep) return EQS_ERR_NOMEM;
    memset(nt->fx_inc, 1, nf);
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < c->n_elems; ++i) {
            const eqs_celem *e = &c->elems[i];
            for (int t = 0; t < 4; ++t) {
                int nd = e->n[t];
                int r = nd > 0 ? nt->fx_row[nd] : -1;
                if (r < 0) continue;
                switch (e->kind) {
                case EQS_EL_R: {
                    if (t >= 2) break; /* unused terminal slots (defensive) */
                    int o = e->n[1 - t];
                    if (o == nd || c->node_unknown[o] >= 0) break; /* no effect / an fx entry */
                    if (pass == 0) nt->fx_ep[r + 1]++;
                    else nt->fx_ee[nt->fx_ep[r]++] = i; /* fx_ep: next free slot */
                    break;
                }
                case EQS_EL_D:
                case EQS_EL_I:
                    break; /* diodes see vfix1 at every load; I does not depend on V */
                case EQS_EL_V:
                    if (e->branch < 0) break; /* the fixing source (node to ground) */
                    nt->fx_inc[r] = 0;
                    break;
                case EQS_EL_E:
                case EQS_EL_H:
                case EQS_EL_G:
                case EQS_EL_F:
                case EQS_EL_NKINDS:
                    nt->fx_inc[r] = 0;
                    break;
                }
            }
        }
        if (pass == 0) {
            for (int r = 0; r < nt->n_fx; ++r) nt->fx_ep[r + 1] += nt->fx_ep[r];
            size_t ne = (size_t)nt->fx_ep[nt->n_fx];
            nt->fx_ee = eqs_malloc(ctx, (ne ? ne : 1) * sizeof *nt->fx_ee);
            if (!nt->fx_ee) return EQS_ERR_NOMEM;
        }
    }
    for (int r = nt->n_fx; r > 0; --r) nt->fx_ep[r] = nt->fx_ep[r - 1];
    nt->fx_ep[0] = 0;
    return EQS_OK;
}

/* (Re)compute the values of the fixed-node rows from all elements. */
static void fx_fill(const eqs_circuit *c, newton *nt)
{
    if (nt->n_fx == 0) return;
    memset(nt->fx_s0, 0, (size_t)nt->n_fx * sizeof *nt->fx_s0);
    /* fx_p[r] runs as the insertion point of row r, then is shifted back */
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_celem *el = &c->elems[e];
        int ca, cb;
        fx_visit(c, nt, el, 1, &ca, &cb);
        if (el->param >= 0) {
            nt->plan[el->param].ca = ca;
            nt->plan[el->param].cb = cb;
        }
    }
    for (int r = nt->n_fx; r > 0; --r) nt->fx_p[r] = nt->fx_p[r - 1];
    nt->fx_p[0] = 0;
    for (int r = 0; r < nt->n_fx; ++r) {
        double g = 0;
        for (int q = nt->fx_p[r]; q < nt->fx_p[r + 1]; ++q) g += fabs(nt->fx_x[q]);
        nt->fx_gsum[r] = g;
    }
    nt->fx_ref_ok = 0;
}

/* Parameter with plan pl changed by d (S): Jlin, b0 and the fixed-node
 * rows (values, |coefficient| sums, reference currents). */
static void plan_apply(newton *nt, const nt_rplan *pl, double d)
{
    double *J = nt->Jlin;
    const double vfa = row_vf(nt, pl->ra), vfb = row_vf(nt, pl->rb);
    if (pl->s[0] >= 0) J[pl->s[0]] += d;
    if (pl->s[1] >= 0) J[pl->s[1]] += d;
    if (pl->s[2] >= 0) J[pl->s[2]] -= d;
    if (pl->s[3] >= 0) J[pl->s[3]] -= d;
    if (pl->ua >= 0 && pl->ub < 0) nt->b0[pl->ua] -= d * vfb;
    if (pl->ub >= 0 && pl->ua < 0) nt->b0[pl->ub] -= d * vfa;
    if (pl->ra < 0 && pl->rb < 0) return;
    double k0 = d * (vfa - vfb);
    if (pl->ra >= 0) nt->fx_s0[pl->ra] += k0;
    if (pl->rb >= 0) nt->fx_s0[pl->rb] -= k0;
    if (pl->ca >= 0) {
        double *x = &nt->fx_x[pl->ca];
        nt->fx_gsum[pl->ra] += fabs(*x - d) - fabs(*x);
        *x -= d;
    }
    if (pl->cb >= 0) {
        double *x = &nt->fx_x[pl->cb];
        nt->fx_gsum[pl->rb] += fabs(*x - d) - fabs(*x);
        *x -= d;
    }
    if (nt->fx_ref_ok) { /* keep the reference currents exact */
        if (pl->ra >= 0)
            nt->fx_lref[pl->ra] += nt->fx_sref * k0 - (pl->ub >= 0 ? d * nt->x_ref[pl->ub] : 0.0);
        if (pl->rb >= 0)
            nt->fx_lref[pl->rb] -= nt->fx_sref * k0 + (pl->ua >= 0 ? d * nt->x_ref[pl->ua] : 0.0);
    }
}

/* Diode part of the source currents: companion models (cd, gd at limited
 * voltage vl) evaluated at x, i = cd + gd (v(x) - vl), added to out. */
static void fx_diodes(const eqs_circuit *c, newton *nt, const double *x, const double *cd,
                      const double *gd, const double *vl, double *out)
{
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        int rp = nt->fx_row[e->n[0]], rn = nt->fx_row[e->n[1]];
        if (rp < 0 && rn < 0) continue;
        int up = unk(c, e->n[0]), un = unk(c, e->n[1]);
        double vp = up >= 0 ? x[up] : nt->scale * nt->vfix1[e->n[0]];
        double vn = un >= 0 ? x[un] : nt->scale * nt->vfix1[e->n[1]];
        double i = cd[d] + gd[d] * (vp - vn - vl[d]);
        if (rp >= 0) out[rp] += i;
        if (rn >= 0) out[rn] -= i;
    }
}

static int fx_rows_pass(const newton *nt, const eqs_solver_options *opt)
{
    for (int r = 0; r < nt->n_fx; ++r) {
        double o = nt->fx_old[r], n = nt->fx_new[r];
        if (!(fabs(n - o) <= opt->reltol * fmax(fabs(n), fabs(o)) + opt->abstol)) return 0;
    }
    return 1;
}

/* ngspice's branch-current test for the eliminated sources between the
 * previous solution (x, with the previous load's companions) and the new
 * one (rhs, with this load's companions).  First a bound from the
 * reference point; only when it cannot decide, the exact currents (one
 * pass over all entries), which also become the new reference. */
static int fx_converged(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    if (nt->n_fx == 0) return 1;
    const int n = nt->n;
    const double *xo = nt->x, *xn = nt->rhs;
    if (nt->fx_ref_ok && nt->fx_sref == nt->scale) {
        double dref = 0, dstep = 0;
        for (int j = 0; j < n; ++j) {
            double a = fabs(xo[j] - nt->x_ref[j]), b = fabs(xn[j] - nt->x_ref[j]);
            double st = fabs(xn[j] - xo[j]);
            if (a > dref) dref = a;
            if (b > dref) dref = b;
            if (st > dstep) dstep = st;
        }
        memset(nt->fx_old, 0, (size_t)nt->n_fx * sizeof *nt->fx_old);
        memset(nt->fx_new, 0, (size_t)nt->n_fx * sizeof *nt->fx_new);
        fx_diodes(c, nt, xo, nt->d_ip, nt->d_gp, nt->d_vp, nt->fx_old);
        fx_diodes(c, nt, xn, nt->d_i, nt->d_g, nt->d_v, nt->fx_new);
        int decided = 1;
        for (int r = 0; r < nt->n_fx && decided; ++r) {
            double g = nt->fx_gsum[r], l = nt->fx_lref[r];
            double lo = fmax(fabs(l + nt->fx_old[r]), fabs(l + nt->fx_new[r])) - g * dref;
            double up = g * dstep + fabs(nt->fx_new[r] - nt->fx_old[r]);
            /* rounding margin: the exact test would see the same sums */
            if (!(up <= opt->reltol * fmax(lo, 0.0) + opt->abstol)) decided = 0;
        }
        if (decided) return 1;
    }
    /* exact: linear parts at x and rhs in one pass */
    for (int r = 0; r < nt->n_fx; ++r) {
        double so = nt->scale * nt->fx_s0[r], sn = so;
        for (int q = nt->fx_p[r]; q < nt->fx_p[r + 1]; ++q) {
            double cq = nt->fx_x[q];
            int j = nt->fx_j[q];
            so += cq * xo[j];
            sn += cq * xn[j];
        }
        nt->fx_old[r] = so;
        nt->fx_new[r] = sn;
        nt->fx_lref[r] = sn;
    }
    memcpy(nt->x_ref, xn, (size_t)n * sizeof *xn);
    nt->fx_sref = nt->scale;
    nt->fx_ref_ok = 1;
    fx_diodes(c, nt, xo, nt->d_ip, nt->d_gp, nt->d_vp, nt->fx_old);
    fx_diodes(c, nt, xn, nt->d_i, nt->d_g, nt->d_v, nt->fx_new);
    return fx_rows_pass(nt, opt);
}

/* Recompute Jlin, b0 and the parameter snapshot from all element values. */
static void refresh_all(const eqs_circuit *c, newton *nt)
{
    for (int i = 0; i < c->n_nodes; ++i) nt->vfix1[i] = vfix(c, i);
    memset(nt->Jlin, 0, (size_t)nt->nnz * sizeof *nt->Jlin);
    memset(nt->b0, 0, (size_t)nt->n * sizeof *nt->b0);
    const eqs_linstamp ls = {c, nt->Jlin, nt->b0, nt->vfix1};
    for (int i = 0; i < c->n_elems; ++i) {
        const eqs_celem *e = &c->elems[i];
        const eqs_device *dev = eqs_device_get(e->kind);
        if (dev->stamp) dev->stamp(&ls, e); /* nonlinear devices: loaded per iteration */
        if (e->param >= 0) { /* a trainable conductance: its incremental-update plan */
            nt_rplan *pl = &nt->plan[e->param];
            pl->g = eqs_celem_value(c, e);
            for (int q = 0; q < 4; ++q) pl->s[q] = e->slot[q];
            pl->ua = unk(c, e->n[0]);
            pl->ub = unk(c, e->n[1]);
            pl->ra = nt->fx_row[e->n[0]];
            pl->rb = nt->fx_row[e->n[1]];
            pl->ca = pl->cb = -1; /* set by fx_fill */
        }
    }
    fx_fill(c, nt);
    nt->seen_epoch = c->chg_epoch;
    nt->seen_values_epoch = c->values_epoch;
    nt->seen_pos = c->n_chg;
    nt->seen_ichg_epoch = c->ichg_epoch;
    nt->seen_ipos = c->n_ichg;
    nt->n_incremental = 0;
}

/* Apply the conductance change log (O(changes)), or after an overflow of
 * the log one pass comparing every parameter with its record. */
static void apply_param_changes(const eqs_circuit *c, newton *nt)
{
    if (nt->seen_epoch != c->chg_epoch || nt->seen_pos > c->n_chg) {
        /* the log overflowed, but only parameters changed: compare every
         * parameter with its record (one sequential pass) */
        for (int k = 0; k < c->n_params; ++k) {
            nt_rplan *pl = &nt->plan[k];
            double g = eqs_store_value(c->store, k);
            if (g != pl->g) {
                plan_apply(nt, pl, g - pl->g);
                pl->g = g;
            }
        }
        nt->n_incremental += c->n_params;
        nt->seen_epoch = c->chg_epoch;
        nt->seen_pos = c->n_chg;
        return;
    }
    nt->n_incremental += c->n_chg - nt->seen_pos;
    const int end = c->n_chg;
    for (int q = nt->seen_pos; q < end; ++q) {
#ifdef __GNUC__
        /* the records are scattered over ~100 MB: fetch ahead (two stages:
         * the record, then the fx entry it points to) */
        if (q + NT_PREFETCH_AHEAD < end)
            __builtin_prefetch(&nt->plan[c->chg[q + NT_PREFETCH_AHEAD]], 1);
        if (q + NT_PREFETCH_AHEAD / 2 < end) {
            const nt_rplan *ahead = &nt->plan[c->chg[q + NT_PREFETCH_AHEAD / 2]];
            if (ahead->ca >= 0) __builtin_prefetch(&nt->fx_x[ahead->ca], 1);
            if (ahead->cb >= 0) __builtin_prefetch(&nt->fx_x[ahead->cb], 1);
        }
#endif
        nt_rplan *pl = &nt->plan[c->chg[q]];
        double d = c->chg_val[q] - pl->g;
        if (d != 0) plan_apply(nt, pl, d);
        pl->g = c->chg_val[q];
    }
    nt->seen_pos = c->n_chg;
}

/* The grounded source fixing the node f of row r may have a new value:
 * move everything that depends on V(f) from the cached vfix1[f] to it.
 * With dV the change (V, scale 1):
 *   - b0[u] -= G dV for every resistor G from f to an unknown u (the
 *     row's fx entries: fx_x = -G, fx_j = u);
 *   - the constant part of f's own current, fx_s0[r] += (sum of G at f) dV,
 *     and for a resistor to another fixed node o, fx_s0[row of o] -= G dV;
 *   - the reference currents fx_lref (= fx_sref fx_s0 + fx entries times
 *     x_ref) by fx_sref times the same amounts;
 *   - the parameter plans read vfix1 through row_vf: nothing to do.
 * Diodes read vfix1 at every load.  Must run after the conductance log is
 * applied (the G in fx_x and in the elements are then the stamped ones).
 * Returns the number of terms updated (0 when V(f) did not change), or -1
 * when the node does not allow it (fx_inc[r] = 0): refresh everything. */
static int input_apply(const eqs_circuit *c, newton *nt, int r)
{
    const int f = nt->fx_node[r];
    const double v = eqs_circuit_fixed_voltage(c, f, 1.0);
    const double dv = v - nt->vfix1[f];
    if (dv == 0) return 0;
    if (!nt->fx_inc[r]) return -1;
    nt->vfix1[f] = v;
    const int *J = nt->fx_j;
    const double *X = nt->fx_x;
    double *b0 = nt->b0, gs = 0;
    const int q0 = nt->fx_p[r], q1 = nt->fx_p[r + 1];
    for (int q = q0; q < q1; ++q) {
        b0[J[q]] += X[q] * dv;
        gs -= X[q];
    }
    double ds = gs * dv;
    for (int k = nt->fx_ep[r]; k < nt->fx_ep[r + 1]; ++k) {
        const eqs_celem *e = &c->elems[nt->fx_ee[k]];
        int o = e->n[0] == f ? e->n[1] : e->n[0];
        double gd = eqs_celem_value(c, e) * dv;
        ds += gd;
        int ro = nt->fx_row[o];
        if (ro >= 0) {
            nt->fx_s0[ro] -= gd;
            if (nt->fx_ref_ok) nt->fx_lref[ro] -= nt->fx_sref * gd;
        }
    }
    nt->fx_s0[r] += ds;
    if (nt->fx_ref_ok) nt->fx_lref[r] += nt->fx_sref * ds;
    return 1 + (q1 - q0) + (nt->fx_ep[r + 1] - nt->fx_ep[r]);
}

/* Apply the input change log (O(degree) per logged node), or after an
 * overflow of the log compare every fixed node.  Returns -1 when a changed
 * node needs the full refresh. */
static int apply_input_changes(const eqs_circuit *c, newton *nt)
{
    long terms = 0;
    if (nt->seen_ichg_epoch != c->ichg_epoch || nt->seen_ipos > c->n_ichg) {
        for (int r = 0; r < nt->n_fx; ++r) {
            int m = input_apply(c, nt, r);
            if (m < 0) return -1;
            terms += m;
        }
    } else {
        for (int q = nt->seen_ipos; q < c->n_ichg; ++q) {
            int r = nt->fx_row[c->ichg[q]];
            int m = r >= 0 ? input_apply(c, nt, r) : -1;
            if (m < 0) return -1;
            terms += m;
        }
    }
    nt->n_incremental += (double)terms;
    nt->seen_ichg_epoch = c->ichg_epoch;
    nt->seen_ipos = c->n_ichg;
    return 0;
}

/* Bring Jlin/b0 and the fixed-node rows up to date with the circuit's
 * change logs: conductances first, then inputs (input_apply reads the
 * stamped conductances).  A full refresh instead when other values
 * changed, when an input node does not allow the incremental update, or
 * after NT_REFRESH_AFTER incremental terms per parameter (or per fixed-row
 * entry, if more) on average (bounds the rounding drift of b0 and fx_s0).  Returns 1 after a full
 * refresh, 0 otherwise. */
static int refresh_values(const eqs_circuit *c, newton *nt)
{
    /* per parameter, or per resistor at a fixed node when there are more
     * of those (a circuit without trainable elements still has inputs) */
    const int nq = nt->n_fx ? nt->fx_p[nt->n_fx] : 0;
    const double base = (double)(c->n_params > nq ? c->n_params : nq) + 1.0;
    if (nt->seen_values_epoch != c->values_epoch || nt->n_incremental > NT_REFRESH_AFTER * base) {
        refresh_all(c, nt);
        return 1;
    }
    apply_param_changes(c, nt);
    if (apply_input_changes(c, nt) < 0) {
        refresh_all(c, nt);
        return 1;
    }
    return 0;
}

/* ---- set / iterate / test ------------------------------------------- */

/* Starting point: zero (cold, junctions at Vcrit in the first iteration
 * as ngspice's MODEINITJCT) or the current state (warm). */
static void nt_set(newton *nt, int cold)
{
    nt->cold = cold;
    if (cold) {
        memset(nt->x, 0, (size_t)nt->n * sizeof *nt->x);
        for (int d = 0; d < nt->nd; ++d) nt->d_v[d] = 0;
        nt->init_jct = 1;
    } else {
        nt->init_jct = 0;
    }
}

static void fill_node_voltages(const eqs_circuit *c, newton *nt, const double *x)
{
    nt->vn[0] = 0;
    for (int i = 1; i < c->n_nodes; ++i) {
        int u = c->node_unknown[i];
        nt->vn[i] = u >= 0 ? x[u] : nt->scale * nt->vfix1[i];
    }
}

/* Evaluate the diodes at x (limited against their last voltages unless
 * `exact`) and, unless `exact`, assemble Ax and rhs.  Returns 1 when a
 * junction voltage was limited (the iterate cannot have converged). */
static int load(const eqs_circuit *c, newton *nt, double gmin, int exact)
{
    int limited = 0;
    fill_node_voltages(c, nt, nt->x);
    if (!exact) {
        memcpy(nt->Ax, nt->Jlin, (size_t)nt->nnz * sizeof *nt->Ax);
        for (int i = 0; i < nt->n; ++i) nt->rhs[i] = -nt->scale * nt->b0[i];
        if (nt->gshunt > 0)
            for (int i = 0; i < c->n_node_unknowns; ++i) nt->Ax[nt->diag[i]] += nt->gshunt;
        /* nudge: conductance g to ground, current inj into the node (the
         * target source is scaled with the others in source stepping) */
        for (int k = 0; nt->nu && k < nt->nu->n; ++k) {
            int u = c->node_unknown[nt->nu->node[k]];
            nt->Ax[nt->diag[u]] += nt->nu->g[k];
            nt->rhs[u] += nt->scale * nt->nu->inj[k];
        }
        /* pair nudge: conductance g between pos and neg, current inj
         * into pos and out of neg; a fixed node's voltage moves its term
         * to the free node's right-hand side */
        for (int k = 0; nt->nu && k < nt->nu->np; ++k) {
            int p = nt->nu->pos[k], q = nt->nu->neg[k];
            int up = c->node_unknown[p], uq = c->node_unknown[q];
            double g = nt->nu->pg[k], in = nt->scale * nt->nu->pinj[k];
            if (up >= 0) {
                nt->Ax[nt->diag[up]] += g;
                nt->rhs[up] += in + (uq < 0 ? g * nt->vn[q] : 0.0);
            }
            if (uq >= 0) {
                nt->Ax[nt->diag[uq]] += g;
                nt->rhs[uq] += -in + (up < 0 ? g * nt->vn[p] : 0.0);
            }
            if (nt->nu->pslot[k] >= 0) nt->Ax[nt->nu->pslot[k]] -= g;
            if (nt->nu->pslot2[k] >= 0) nt->Ax[nt->nu->pslot2[k]] -= g;
        }
        /* ncep: F(x) + K (x - s0) is linear in x: K joins the matrix and
         * K s0 the right-hand side (the companion system A x_new = rhs
         * has rhs = A x - F(x)); not scaled in source stepping */
        if (nt->nc_on) {
            for (int q = 0; q < nt->nnz; ++q) nt->Ax[q] += nt->nc_K[q];
            for (int i = 0; i < nt->n; ++i) nt->rhs[i] += nt->nc_Kx0[i];
        }
    }
    if (!exact && nt->nd > 0) {
        memcpy(nt->d_vp, nt->d_v, (size_t)nt->nd * sizeof *nt->d_v);
        memcpy(nt->d_ip, nt->d_i, (size_t)nt->nd * sizeof *nt->d_i);
        memcpy(nt->d_gp, nt->d_g, (size_t)nt->nd * sizeof *nt->d_g);
    }
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        const eqs_devparams *p = &nt->dp[d];
        int np = e->n[0], nn = e->n[1];
        double vd = nt->vn[np] - nt->vn[nn], cd, gd;
        if (!exact) {
            if (nt->init_jct) {
                vd = nt->d_dev[d]->v_init(p);
            } else {
                int lim = 0;
                vd = nt->d_dev[d]->limit(p, vd, nt->d_v[d], &lim);
                limited |= lim;
            }
        }
        nt->d_dev[d]->eval(p, vd, gmin, &cd, &gd);
        nt->d_v[d] = vd;
        nt->d_i[d] = cd;
        nt->d_g[d] = gd;
        if (exact) continue;
        int up = unk(c, np), un = unk(c, nn);
        double ceq = cd - gd * vd;
        addslot(nt->Ax, e->slot[0], gd);
        addslot(nt->Ax, e->slot[1], gd);
        addslot(nt->Ax, e->slot[2], -gd);
        addslot(nt->Ax, e->slot[3], -gd);
        if (up >= 0) nt->rhs[up] -= ceq - (un < 0 ? gd * nt->vn[nn] : 0.0);
        if (un >= 0) nt->rhs[un] += ceq + (up < 0 ? gd * nt->vn[np] : 0.0);
    }
    if (nt->init_jct && !exact) limited = 1;
    return limited;
}

/* Multiple of machine epsilon times the sum of |terms| of a row that the
 * KCL test always tolerates: the rounding noise of assembling the row and
 * of the linear solve, so that a converged linear node never fails. */
#define NT_ROUNDING_ULPS 1024.0

/* A current t (A) leaving unknown u's node through one element (u < 0:
 * eliminated, nothing to do): add it to the KCL residual F, its magnitude
 * scale `sum` to fs and |t| to the node's largest element current cm. */
static inline void kcl_add(double *F, double *fs, double *cm, int u, double t, double sum)
{
    if (u < 0) return;
    F[u] += t;
    fs[u] += sum;
    if (fabs(t) > cm[u]) cm[u] = fabs(t);
}

/* Residual F(x) (currents leaving each node, A; branch equations, V) with
 * diodes at their last evaluation.  Per row it also records the largest
 * element current flowing into the node (cm: diode currents, currents
 * through the off-diagonal couplings, branch currents) and the sum of
 * |terms| (fs, for the rounding floor).  Row i passes when
 *   |F_i| <= reltol * cm_i + abstol (vntol for branch rows)
 *            + NT_ROUNDING_ULPS * eps * fs_i.
 * After a Newton step F equals the diodes' current prediction errors, so
 * this is ngspice's device current test expressed per node.  Returns 1
 * when every row passes. */
static int residual(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    const int n = nt->n, nn = c->n_node_unknowns;
    const int *Ap = c->Ap, *Ai = c->Ai;
    const double *x = nt->x, *J = nt->Jlin;
    double *F = nt->F, *fs = nt->fs, *cm = nt->cm;
    for (int i = 0; i < n; ++i) {
        F[i] = nt->scale * nt->b0[i];
        fs[i] = fabs(F[i]);
        cm[i] = 0;
    }
    for (int j = 0; j < n; ++j) {
        for (int q = Ap[j]; q < Ap[j + 1]; ++q) {
            int i = Ai[q];
            double t = J[q] * x[j];
            F[i] += t;
            fs[i] += fabs(t);
            if (i == j) continue;
            double pc = (i < nn && j < nn) ? fabs(J[q] * (x[j] - x[i])) : fabs(t);
            if (pc > cm[i]) cm[i] = pc;
            if (c->reciprocal) {
                double u = J[q] * x[i];
                F[j] += u;
                fs[j] += fabs(u);
                if (pc > cm[j]) cm[j] = pc;
            }
        }
    }
    if (nt->gshunt > 0)
        for (int i = 0; i < nn; ++i) {
            F[i] += nt->gshunt * x[i];
            fs[i] += fabs(nt->gshunt * x[i]);
        }
    for (int k = 0; nt->nu && k < nt->nu->n; ++k) {
        int u = c->node_unknown[nt->nu->node[k]];
        double gx = nt->nu->g[k] * x[u], in = nt->scale * nt->nu->inj[k];
        kcl_add(F, fs, cm, u, gx - in, fabs(gx) + fabs(in));
    }
    for (int k = 0; nt->nu && k < nt->nu->np; ++k) {
        int p = nt->nu->pos[k], q = nt->nu->neg[k];
        int up = c->node_unknown[p], uq = c->node_unknown[q];
        double vp = up >= 0 ? x[up] : nt->scale * nt->vfix1[p];
        double vq = uq >= 0 ? x[uq] : nt->scale * nt->vfix1[q];
        double gp = nt->nu->pg[k] * vp, gq = nt->nu->pg[k] * vq, in = nt->scale * nt->nu->pinj[k];
        double t = gp - gq - in, sum = fabs(gp) + fabs(gq) + fabs(in);
        kcl_add(F, fs, cm, up, t, sum);
        kcl_add(F, fs, cm, uq, -t, sum);
    }
    if (nt->nc_on) /* ncep correction K (x - s0) */
        for (int j = 0; j < n; ++j)
            for (int q = Ap[j]; q < Ap[j + 1]; ++q) {
                double kx = nt->nc_K[q] * x[j], k0 = nt->nc_K[q] * nt->nc_x0[j];
                kcl_add(F, fs, cm, Ai[q], kx - k0, fabs(kx) + fabs(k0));
            }
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        int up = unk(c, e->n[0]), un = unk(c, e->n[1]);
        double id = nt->d_i[d];
        kcl_add(F, fs, cm, up, id, fabs(id));
        kcl_add(F, fs, cm, un, -id, fabs(id));
    }
    int ok = 1, worst_branch = -1;
    double worst = -1, worst_b = -1, rmax = 0;
    nt->worst_row = -1;
    for (int i = 0; i < n; ++i) {
        int is_node = i < nn;
        double tol = opt->reltol * cm[i] + (is_node ? opt->abstol : opt->vntol) +
                     NT_ROUNDING_ULPS * DBL_EPSILON * fs[i];
        double r = fabs(F[i]);
        if (!(r <= tol)) ok = 0;
        if (is_node && !(r <= rmax)) rmax = r;
        double ratio = r / tol;
        if (is_node && !(ratio <= worst)) {
            worst = ratio;
            nt->worst_row = i;
        } else if (!is_node && !(ratio <= worst_b)) {
            worst_b = ratio;
            worst_branch = i;
        }
    }
    /* messages name a node when one is out of tolerance (or exists) */
    if (nt->worst_row < 0 || (worst <= 1 && worst_b > 1)) nt->worst_row = worst_branch;
    nt->resid = rmax;
    return ok;
}

/* One Newton step from nt->x (Ax/rhs already loaded): factor and solve;
 * the new iterate (damped in source stepping) is left in nt->rhs and
 * *small says whether the step passed the node/branch tolerances
 * (ngspice NIconvTest).  nt->x is not changed: see nt_newton. */
static nt_result nt_iterate(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt,
                            int *small, int delta)
{
    int r = nt->lops->factor(nt->ls, nt->Ax);
    if (r > 0) return NT_SINGULAR;
    if (r < 0) return NT_FATAL;
    /* delta form (MNA only, when nt->F = F(x_k) was just computed with the
     * same device evaluation as Ax): solve Ax d = -F, x_new = x_k + d.  In
     * exact arithmetic this is the companion solution (rhs = Ax x_k - F),
     * but its rounding shrinks with the step, so KCL can reach the
     * per-row floor: in the companion form the solve's rounding error
     * (eps cond |x|, e.g. a sense-source current resolved through a diode
     * row carrying amperes) stays in every iterate, and amplifier networks
     * stalled a few ulps above abstol = 1e-15 A (ncep issue 5). */
    if (delta)
        for (int i = 0; i < nt->n; ++i) nt->rhs[i] = -nt->F[i];
    if (nt->lops->solve(nt->ls, nt->rhs) != 0) return NT_FATAL;
    if (delta)
        for (int i = 0; i < nt->n; ++i) nt->rhs[i] += nt->x[i];
    int ok = 1;
    double maxup = 0;
    for (int i = 0; i < nt->n; ++i) {
        double xo = nt->x[i], xn = nt->rhs[i], dx = xn - xo;
        if (!isfinite(xn)) return NT_SINGULAR;
        int is_node = i < c->n_node_unknowns;
        if (is_node && nt->damped && fabs(dx) > opt->max_step_V) {
            dx = dx > 0 ? opt->max_step_V : -opt->max_step_V;
            nt->rhs[i] = xo + dx;
        }
        double tol = opt->reltol * fmax(fabs(xn), fabs(xo)) + (is_node ? opt->vntol : opt->abstol);
        if (!(fabs(dx) <= tol)) ok = 0;
        if (is_node && fabs(dx) > maxup) maxup = fabs(dx);
    }
    nt->max_update = maxup;
    *small = ok;
    return NT_OK;
}

/* Convergence test of one iteration (ngspice NIiter/NIconvTest): the load
 * at x_k limited no junction, the step x_k -> x_{k+1} passed the node and
 * branch tolerances, and (our addition) KCL held at the load point x_k
 * (`kcl`, see residual()).  The answer is then x_k, the point where the
 * devices were evaluated: ngspice's DCop dumps CKTrhsOld, not the last
 * solution (dcop.c, cktdump.c). */
static int nt_test(int limited, int small, int kcl) { return !limited && small && kcl; }

/* Newton loop, at most itl1 iterations.  A cold start replays ngspice's
 * initialisation modes: MODEINITJCT (junctions at Vcrit, never converged),
 * MODEINITFIX (a converged iteration only switches to MODEINITFLOAT) and
 * MODEINITFLOAT (a converged iteration returns); ngspice also never
 * accepts its first iteration.  Following its path exactly matters: at
 * default tolerances ngspice's own answer can be micro-volts away from the
 * exact solution, and we must agree with it within 1 uV. */
static nt_result nt_newton(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    int fix = nt->init_jct && c->has_nonlinear;
    if (!c->has_nonlinear) nt->init_jct = 0;
    for (int it = 1; it <= opt->itl1; ++it) {
        int jct = nt->init_jct;
        int limited = load(c, nt, opt->gmin, 0);
        nt->init_jct = 0;
        int kcl = limited ? 0 : residual(c, nt, opt);
        int small = 0;
        nt_result r = nt_iterate(c, nt, opt, &small, !limited && !c->reciprocal);
        nt->iterations++;
        if (r != NT_OK) return r;
        /* ngspice's criterion alone moves MODEINITFIX to MODEINITFLOAT;
         * returning also needs KCL */
        int conv = nt_test(limited, small, 1) && (it > 1 || !nt->cold);
        /* the source-current test is the expensive one: skip it when the
         * iteration could not return anyway (KCL failed in FLOAT mode) */
        if (conv && (fix || jct || kcl)) conv = fx_converged(c, nt, opt);
        if (conv && kcl && !jct && !fix) return NT_OK; /* keep x_k */
        memcpy(nt->x, nt->rhs, (size_t)nt->n * sizeof *nt->x);
        if (fix && conv) fix = 0;
    }
    return NT_NOCONV;
}

/* ---- backend -------------------------------------------------------- */

static void nt_destroy(eqs_solver *s)
{
    newton *nt = s->impl;
    if (!nt) return;
    eqs_ctx *ctx = s->ctx;
    if (nt->lops) nt->lops->destroy(&nt->ls);
    eqs_free(ctx, nt->Jlin);
    eqs_free(ctx, nt->Ax);
    eqs_free(ctx, nt->b0);
    eqs_free(ctx, nt->x);
    eqs_free(ctx, nt->rhs);
    eqs_free(ctx, nt->F);
    eqs_free(ctx, nt->fs);
    eqs_free(ctx, nt->cm);
    eqs_free(ctx, nt->vn);
    eqs_free(ctx, nt->vfix1);
    eqs_free(ctx, nt->diag);
    eqs_free(ctx, nt->plan);
    eqs_free(ctx, nt->d_elem);
    eqs_free(ctx, nt->d_dev);
    eqs_free(ctx, nt->dp);
    eqs_free(ctx, nt->d_v);
    eqs_free(ctx, nt->d_i);
    eqs_free(ctx, nt->d_g);
    eqs_free(ctx, nt->d_vp);
    eqs_free(ctx, nt->d_ip);
    eqs_free(ctx, nt->d_gp);
    eqs_free(ctx, nt->fx_row);
    eqs_free(ctx, nt->fx_node);
    eqs_free(ctx, nt->fx_inc);
    eqs_free(ctx, nt->fx_ep);
    eqs_free(ctx, nt->fx_ee);
    eqs_free(ctx, nt->fx_p);
    eqs_free(ctx, nt->fx_j);
    eqs_free(ctx, nt->fx_x);
    eqs_free(ctx, nt->fx_s0);
    eqs_free(ctx, nt->fx_new);
    eqs_free(ctx, nt->fx_old);
    eqs_free(ctx, nt->fx_gsum);
    eqs_free(ctx, nt->fx_lref);
    eqs_free(ctx, nt->x_ref);
    eqs_free(ctx, nt->x_saved);
    eqs_free(ctx, nt->dv_saved);
    eqs_free(ctx, nt->nc_K);
    eqs_free(ctx, nt->nc_x0);
    eqs_free(ctx, nt->nc_Kx0);
    eqs_free(ctx, nt->nc_tslot);
    eqs_free(ctx, nt);
    s->impl = NULL;
}

static eqs_status nt_create(eqs_solver *s)
{
    eqs_ctx *ctx = s->ctx;
    eqs_circuit *c = s->c;
    newton *nt = eqs_calloc(ctx, 1, sizeof *nt);
    if (!nt) return EQS_ERR_NOMEM;
    s->impl = nt;
    size_t n = (size_t)(c->n_unknowns ? c->n_unknowns : 1);
    size_t nnz = (size_t)(c->nnz ? c->nnz : 1);
    nt->n = c->n_unknowns;
    nt->nnz = c->nnz;
    nt->Jlin = eqs_calloc(ctx, nnz, sizeof(double));
    nt->Ax = eqs_calloc(ctx, nnz, sizeof(double));
    nt->b0 = eqs_calloc(ctx, n, sizeof(double));
    nt->x = eqs_calloc(ctx, n, sizeof(double));
    nt->rhs = eqs_calloc(ctx, n, sizeof(double));
    nt->F = eqs_calloc(ctx, n, sizeof(double));
    nt->fs = eqs_calloc(ctx, n, sizeof(double));
    nt->cm = eqs_calloc(ctx, n, sizeof(double));
    nt->vn = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof(double));
    nt->vfix1 = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof(double));
    nt->diag = eqs_calloc(ctx, (size_t)(c->n_node_unknowns + 1), sizeof(int));
    nt->plan = eqs_calloc(ctx, (size_t)(c->n_params + 1), sizeof(nt_rplan));
    eqs_advise_huge(nt->plan, (size_t)(c->n_params + 1) * sizeof(nt_rplan));
    for (int e = 0; e < c->n_elems; ++e) nt->nd += eqs_device_get(c->elems[e].kind)->nonlinear;
    size_t nd = (size_t)(nt->nd ? nt->nd : 1);
    nt->d_elem = eqs_calloc(ctx, nd, sizeof(int));
    nt->d_dev = eqs_calloc(ctx, nd, sizeof *nt->d_dev);
    nt->dp = eqs_calloc(ctx, nd, sizeof(eqs_devparams));
    nt->d_v = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_i = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_g = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_vp = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_ip = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_gp = eqs_calloc(ctx, nd, sizeof(double));
    if (!nt->Jlin || !nt->Ax || !nt->b0 || !nt->x || !nt->rhs || !nt->F || !nt->fs || !nt->cm ||
        !nt->vn || !nt->vfix1 || !nt->diag || !nt->plan || !nt->d_elem || !nt->d_dev || !nt->dp || !nt->d_v || !nt->d_i ||
        !nt->d_g || !nt->d_vp || !nt->d_ip || !nt->d_gp)
        return EQS_ERR_NOMEM;

    for (int i = 0; i < c->n_node_unknowns; ++i) {
        nt->diag[i] = -1;
        for (int q = c->Ap[i]; q < c->Ap[i + 1]; ++q)
            if (c->Ai[q] == i) nt->diag[i] = q;
        if (nt->diag[i] < 0)
            return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "pattern lacks the diagonal of unknown %d", i);
    }
    int d = 0;
    for (int e = 0; e < c->n_elems; ++e) {
        const eqs_device *dev = eqs_device_get(c->elems[e].kind);
        if (!dev->nonlinear) continue;
        nt->d_elem[d] = e;
        nt->d_dev[d] = dev;
        eqs_status st = dev->setup(ctx, c, &c->elems[e], s->opt.reltol, &nt->dp[d]);
        if (st != EQS_OK) return st;
        d++;
    }

    nt->lops = c->reciprocal ? &eqs_linsolve_cholmod : &eqs_linsolve_klu;
    if (nt->n > 0) {
        eqs_status st = nt->lops->create(ctx, nt->n, c->Ap, c->Ai, c->reciprocal, &nt->ls);
        if (st != EQS_OK) return st;
    }
    eqs_status fst = fx_build(ctx, c, nt);
    if (fst == EQS_OK) fst = in_build(ctx, c, nt);
    if (fst != EQS_OK) return fst;
    refresh_all(c, nt);
    return EQS_OK;
}

/* Copy the solution into s->v and fill info. */
static void publish(eqs_solver *s, newton *nt, eqs_solve_info *info)
{
    const eqs_circuit *c = s->c;
    nt->scale = 1.0;
    fill_node_voltages(c, nt, nt->x);
    memcpy(s->v, nt->vn, (size_t)c->n_user_nodes * sizeof *s->v);
    info->iterations = nt->iterations;
    info->residual_A = nt->resid;
    info->max_update_V = nt->max_update;
}

/* One Newton attempt with the given scale / shunt / damping. */
static nt_result attempt(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt,
                         double scale, double gshunt, int damped)
{
    nt->scale = scale;
    nt->gshunt = gshunt;
    nt->damped = damped;
    return nt_newton(c, nt, opt);
}

/* gmin stepping: shunts from gmin*10^steps down by decades, then none. */
static nt_result gmin_stepping(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    nt_set(nt, 1);
    double g = opt->gmin > 0 ? opt->gmin : NT_GMIN_STEP_BASE;
    double gs = g * pow(NT_GMIN_DECADE, opt->gmin_steps);
    for (int k = 0; k < opt->gmin_steps; ++k, gs /= NT_GMIN_DECADE) {
        nt_result r = attempt(c, nt, opt, 1.0, gs, 0);
        if (r != NT_OK) return r;
    }
    return attempt(c, nt, opt, 1.0, 0.0, 0);
}

/* source stepping: all independent sources ramped from 1/steps to 1. */
static nt_result source_stepping(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    nt_set(nt, 1);
    for (int k = 1; k <= opt->source_steps; ++k) {
        nt_result r = attempt(c, nt, opt, (double)k / opt->source_steps, 0.0, 1);
        if (r != NT_OK) return r;
    }
    return NT_OK;
}

static eqs_status nt_solve(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info)
{
    newton *nt = s->impl;
    eqs_circuit *c = s->c;
    const eqs_solver_options *opt = &s->opt;
    info->backend = c->reciprocal ? "newton-cholmod" : "newton-klu";
    nt->iterations = 0;
    nt->max_update = 0;
    nt->resid = 0;
    nt->nu = (s->nudge.n > 0 || s->nudge.np > 0) ? &s->nudge : NULL;
    info->full_refresh = refresh_values(c, nt);
    if (nt->n == 0) { /* everything fixed */
        publish(s, nt, info);
        return EQS_OK;
    }

    nt_result r;
    nt_set(nt, mode == EQS_SOLVE_COLD);
    r = attempt(c, nt, opt, 1.0, 0.0, 0);
    if (r != NT_OK && r != NT_FATAL && mode == EQS_SOLVE_WARM) {
        nt_set(nt, 1);
        r = attempt(c, nt, opt, 1.0, 0.0, 0);
    }
    if (r != NT_OK && r != NT_FATAL && opt->gmin_steps > 0) {
        info->used_gmin_stepping = 1;
        r = gmin_stepping(c, nt, opt);
    }
    if (r != NT_OK && r != NT_FATAL && opt->source_steps > 0) {
        info->used_source_stepping = 1;
        r = source_stepping(c, nt, opt);
    }
    if (r == NT_OK) {
        publish(s, nt, info);
        return EQS_OK;
    }
    if (r == NT_FATAL)
        return EQS_ERROR(s->ctx, EQS_ERR_INTERNAL, "linear solver (%s) failed",
                         nt->lops->name);

    /* diagnosis at the last iterate: exact residual, worst row */
    nt->scale = 1.0;
    nt->gshunt = 0;
    load(c, nt, opt->gmin, 1);
    residual(c, nt, opt);
    info->iterations = nt->iterations;
    info->residual_A = nt->resid;
    info->max_update_V = nt->max_update;
    int row = nt->worst_row;
    const char *what = "node", *name = "?";
    if (row >= 0 && row < c->n_node_unknowns) {
        name = c->node_names[c->node_user[c->unknown_node[row]]];
    } else if (row >= 0) {
        const eqs_celem *e = &c->elems[c->unknown_elem[row]];
        what = "branch of";
        name = e->origin >= 0 ? c->nl->elems[e->origin].name : "?";
    }
    return EQS_ERROR(s->ctx, r == NT_SINGULAR ? EQS_ERR_SINGULAR : EQS_ERR_NOCONV,
                     "%s after %d Newton iterations%s: worst %s '%s' (residual %.3g %s)",
                     r == NT_SINGULAR ? "singular Jacobian" : "no convergence", nt->iterations,
                     info->used_gmin_stepping || info->used_source_stepping
                         ? " (including gmin/source stepping)"
                         : "",
                     what, name, fabs(row >= 0 ? nt->F[row] : 0.0),
                     row < c->n_node_unknowns ? "A" : "V");
}

/* ---- warm-start checkpoints and adjoint ------------------------------ */

static eqs_status nt_save_state(eqs_solver *s)
{
    newton *nt = s->impl;
    if (!nt->x_saved) { /* setup: once per solver */
        nt->x_saved = eqs_malloc(s->ctx, (size_t)(nt->n + 1) * sizeof *nt->x_saved);
        nt->dv_saved = eqs_malloc(s->ctx, (size_t)(nt->nd + 1) * sizeof *nt->dv_saved);
        if (!nt->x_saved || !nt->dv_saved) return EQS_ERR_NOMEM;
    }
    memcpy(nt->x_saved, nt->x, (size_t)nt->n * sizeof *nt->x);
    memcpy(nt->dv_saved, nt->d_v, (size_t)nt->nd * sizeof *nt->d_v);
    return EQS_OK;
}

static eqs_status nt_restore_state(eqs_solver *s)
{
    newton *nt = s->impl;
    if (!nt->x_saved) return EQS_ERROR(s->ctx, EQS_ERR_INTERNAL, "newton: no saved state");
    memcpy(nt->x, nt->x_saved, (size_t)nt->n * sizeof *nt->x);
    memcpy(nt->d_v, nt->dv_saved, (size_t)nt->nd * sizeof *nt->d_v);
    return EQS_OK;
}

/* J^T lambda = b at the solution nt->x.  The matrix is reassembled and
 * refactored here: J = Jlin + the exact diode conductances at x (gmin
 * included, as in the residual), without gshunt or nudge.  The last
 * Newton factorisation cannot be reused as is: it may include the nudge,
 * and after a warm solve that converged without limiting it was made at
 * x_k, but after restore_state x is a different point.  Uses Ax and F as
 * workspace (both are rebuilt by the next load), so nothing allocates. */
/* Ax = J at the solution nt->x (scale 1): Jlin plus the exact diode
 * conductances (gmin included), no gshunt, no nudge, no ncep correction. */
static void assemble_exact(const eqs_circuit *c, newton *nt, double gmin)
{
    nt->scale = 1.0;
    fill_node_voltages(c, nt, nt->x);
    memcpy(nt->Ax, nt->Jlin, (size_t)nt->nnz * sizeof *nt->Ax);
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        double cd, gd;
        double vd = nt->vn[e->n[0]] - nt->vn[e->n[1]];
        nt->d_dev[d]->eval(&nt->dp[d], vd, gmin, &cd, &gd);
        addslot(nt->Ax, e->slot[0], gd);
        addslot(nt->Ax, e->slot[1], gd);
        addslot(nt->Ax, e->slot[2], -gd);
        addslot(nt->Ax, e->slot[3], -gd);
    }
}

static eqs_status nt_adjoint(eqs_solver *s, const double *b, double *lambda)
{
    newton *nt = s->impl;
    const eqs_circuit *c = s->c;
    for (int i = 0; i < c->n_user_nodes; ++i) lambda[i] = 0.0;
    if (nt->n == 0) return EQS_OK;
    assemble_exact(c, nt, s->opt.gmin);
    int r = nt->lops->factor(nt->ls, nt->Ax);
    if (r > 0)
        return EQS_ERROR(s->ctx, EQS_ERR_SINGULAR,
                         "adjoint: the Jacobian at the solution is singular");
    if (r < 0)
        return EQS_ERROR(s->ctx, EQS_ERR_INTERNAL, "adjoint: linear solver (%s) failed",
                         nt->lops->name);
    double *w = nt->F;
    memset(w, 0, (size_t)nt->n * sizeof *w);
    for (int i = 1; i < c->n_user_nodes; ++i) {
        int u = c->node_unknown[i];
        if (u >= 0) w[u] = b[i];
    }
    if (nt->lops->solve_transpose(nt->ls, w) != 0)
        return EQS_ERROR(s->ctx, EQS_ERR_INTERNAL, "adjoint: linear solver (%s) failed",
                         nt->lops->name);
    for (int i = 1; i < c->n_user_nodes; ++i) {
        int u = c->node_unknown[i];
        if (u >= 0) lambda[i] = w[u];
    }
    return EQS_OK;
}

/* ---- non-conservative EqProp (ncep) ---------------------------------- */

/* K = -(J0 - J0^T) at the current solution s0 = nt->x (the free state,
 * restored by the caller), J0 assembled as for the adjoint.  Reciprocal
 * (CHOLMOD) circuits store one triangle of a symmetric J: K = 0, nothing
 * is allocated.  Uses Ax as workspace (rebuilt by the next load). */
static eqs_status nt_ncep_capture(eqs_solver *s, double *a_max)
{
    newton *nt = s->impl;
    const eqs_circuit *c = s->c;
    *a_max = 0.0;
    nt->nc_on = 0;
    if (c->reciprocal || nt->n == 0) return EQS_OK;
    if (!nt->nc_K) { /* setup: once per solver */
        eqs_ctx *ctx = s->ctx;
        nt->nc_K = eqs_calloc(ctx, (size_t)nt->nnz, sizeof *nt->nc_K);
        nt->nc_tslot = eqs_calloc(ctx, (size_t)nt->nnz, sizeof *nt->nc_tslot);
        nt->nc_x0 = eqs_calloc(ctx, (size_t)nt->n, sizeof *nt->nc_x0);
        nt->nc_Kx0 = eqs_calloc(ctx, (size_t)nt->n, sizeof *nt->nc_Kx0);
        if (!nt->nc_K || !nt->nc_tslot || !nt->nc_x0 || !nt->nc_Kx0) {
            eqs_free(ctx, nt->nc_K); /* all or nothing: nc_K marks the setup done */
            eqs_free(ctx, nt->nc_tslot);
            eqs_free(ctx, nt->nc_x0);
            eqs_free(ctx, nt->nc_Kx0);
            nt->nc_K = nt->nc_x0 = nt->nc_Kx0 = NULL;
            nt->nc_tslot = NULL;
            return EQS_ERR_NOMEM;
        }
        for (int j = 0; j < nt->n; ++j)
            for (int q = c->Ap[j]; q < c->Ap[j + 1]; ++q) {
                nt->nc_tslot[q] = eqs_circuit_find_slot(c, j, c->Ai[q]);
                if (nt->nc_tslot[q] < 0)
                    return EQS_ERROR(ctx, EQS_ERR_INTERNAL,
                                     "ncep: the MNA pattern is not structurally symmetric");
            }
    }
    assemble_exact(c, nt, s->opt.gmin);
    double amax = 0.0;
    for (int q = 0; q < nt->nnz; ++q) {
        nt->nc_K[q] = -(nt->Ax[q] - nt->Ax[nt->nc_tslot[q]]);
        amax = fmax(amax, 0.5 * fabs(nt->nc_K[q]));
    }
    memcpy(nt->nc_x0, nt->x, (size_t)nt->n * sizeof *nt->x);
    memset(nt->nc_Kx0, 0, (size_t)nt->n * sizeof *nt->nc_Kx0);
    for (int j = 0; j < nt->n; ++j)
        for (int q = c->Ap[j]; q < c->Ap[j + 1]; ++q)
            nt->nc_Kx0[c->Ai[q]] += nt->nc_K[q] * nt->nc_x0[j];
    *a_max = amax;
    return EQS_OK;
}

static eqs_status nt_ncep_enable(eqs_solver *s, int on)
{
    newton *nt = s->impl;
    if (on && !nt->nc_K)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "ncep: no correction captured");
    nt->nc_on = on ? 1 : 0;
    return EQS_OK;
}

/* ---- test hook ------------------------------------------------------ */

/* ||a - b||_inf / ||b||_inf (0 when both are 0). */
static double rel_diff(const double *a, const double *b, int n)
{
    double d = 0, m = 0;
    for (int i = 0; i < n; ++i) {
        d = fmax(d, fabs(a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return d == 0 ? 0.0 : d / m;
}

eqs_status eqs_newton_refresh_check(eqs_solver *s, double *max_rel)
{
    if (s->ops != &eqs_backend_newton)
        return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED, "refresh check: not a newton solver");
    newton *nt = s->impl;
    const eqs_circuit *c = s->c;
    refresh_values(c, nt);
    const int nq = nt->n_fx ? nt->fx_p[nt->n_fx] : 0;
    const int nf = nt->n_fx, nn = c->n_nodes, nz = nt->nnz, n = nt->n;
    const size_t total = (size_t)nz + (size_t)n + (size_t)nq + 4 * (size_t)nf + (size_t)nn + 1;
    double *w = eqs_malloc(s->ctx, total * sizeof *w);
    if (!w) return EQS_ERR_NOMEM;
    double *J = w, *b0 = J + nz, *fxx = b0 + n, *s0 = fxx + nq, *gsum = s0 + nf,
           *lref = gsum + nf, *lexp = lref + nf, *vf = lexp + nf;
    memcpy(J, nt->Jlin, (size_t)nz * sizeof *J);
    memcpy(b0, nt->b0, (size_t)n * sizeof *b0);
    memcpy(fxx, nt->fx_x, (size_t)nq * sizeof *fxx);
    memcpy(s0, nt->fx_s0, (size_t)nf * sizeof *s0);
    memcpy(gsum, nt->fx_gsum, (size_t)nf * sizeof *gsum);
    memcpy(lref, nt->fx_lref, (size_t)nf * sizeof *lref);
    memcpy(vf, nt->vfix1, (size_t)nn * sizeof *vf);
    const int ref_ok = nt->fx_ref_ok;
    refresh_all(c, nt);
    double r = fmax(rel_diff(J, nt->Jlin, nz), rel_diff(b0, nt->b0, n));
    r = fmax(r, fmax(rel_diff(fxx, nt->fx_x, nq), rel_diff(s0, nt->fx_s0, nf)));
    r = fmax(r, fmax(rel_diff(gsum, nt->fx_gsum, nf), rel_diff(vf, nt->vfix1, nn)));
    if (ref_ok) { /* the reference currents by their definition, from the rebuilt rows */
        for (int q = 0; q < nf; ++q) {
            double l = nt->fx_sref * nt->fx_s0[q];
            for (int k = nt->fx_p[q]; k < nt->fx_p[q + 1]; ++k)
                l += nt->fx_x[k] * nt->x_ref[nt->fx_j[k]];
            lexp[q] = l;
        }
        r = fmax(r, rel_diff(lref, lexp, nf));
    }
    eqs_free(s->ctx, w);
    *max_rel = r;
    return EQS_OK;
}

const eqs_backend_ops eqs_backend_newton = {
    .name = "newton",
    .create = nt_create,
    .solve = nt_solve,
    .destroy = nt_destroy,
    .save_state = nt_save_state,
    .restore_state = nt_restore_state,
    .adjoint = nt_adjoint,
    .ncep_capture = nt_ncep_capture,
    .ncep_enable = nt_ncep_enable,
};
