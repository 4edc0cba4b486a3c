/*
 * newton_linear.c: the Newton backend's linear part (newton.h): Jlin and
 * b0 (every element but the nonlinear devices) and the fixed-node rows,
 * rebuilt from all element values (refresh_all) or brought up to date
 * from the circuit's change logs in O(changes) (conductances through one
 * record per parameter, inputs through the fixed-node rows), and the test
 * hook that compares the two.
 */
#include "newton.h"

#include <math.h>
#include <string.h>

/* Incremental updates of Jlin, b0 and the fixed-node rows accumulate
 * rounding: after this many applied terms per parameter (or per entry of
 * the fixed-node rows, if more) on average (a conductance change counts 1,
 * an input change 1 + the resistors at its node), recompute everything
 * from the values. */
#define NT_REFRESH_AFTER 64.0

/* How many logged changes ahead to prefetch when applying them. */
#define NT_PREFETCH_AHEAD 16

/* Fixed voltage of node nd at scale 1 if it is eliminated, else 0. */
static inline double vfix(const eqs_circuit *c, int nd)
{
    return (nd < 0 || c->node_unknown[nd] >= 0) ? 0.0 : eqs_circuit_fixed_voltage(c, nd, 1.0);
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

/* Recompute Jlin, b0 and the parameter snapshot from all element values. */
void eqs_newton_refresh_all(const eqs_circuit *c, newton *nt)
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
    eqs_newton_fx_fill(c, nt);
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
 *   - b0[u] -= G dV for every conductance G (EQS_INPUT_CONDUCTANCE: a
 *     resistor) from f to an unknown u (the row's fx entries: fx_x = -G,
 *     fx_j = u);
 *   - the constant part of f's own current, fx_s0[r] += (sum of G at f) dV,
 *     and for a conductance to another fixed node o, fx_s0[row of o] -= G dV;
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
int eqs_newton_refresh_values(const eqs_circuit *c, newton *nt)
{
    /* per parameter, or per resistor at a fixed node when there are more
     * of those (a circuit without trainable elements still has inputs) */
    const int nq = nt->n_fx ? nt->fx_p[nt->n_fx] : 0;
    const double base = (double)(c->n_params > nq ? c->n_params : nq) + 1.0;
    if (nt->seen_values_epoch != c->values_epoch || nt->n_incremental > NT_REFRESH_AFTER * base) {
        eqs_newton_refresh_all(c, nt);
        return 1;
    }
    apply_param_changes(c, nt);
    if (apply_input_changes(c, nt) < 0) {
        eqs_newton_refresh_all(c, nt);
        return 1;
    }
    return 0;
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
    eqs_newton_refresh_values(c, nt);
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
    eqs_newton_refresh_all(c, nt);
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
