/*
 * newton_fixed.c: the currents of the grounded voltage sources that the
 * Newton backend eliminates (newton.h): the sparse row of each fixed node
 * (the linear current leaving it as a constant plus terms in the
 * unknowns), which input changes may update incrementally, and ngspice's
 * branch-current convergence test on those currents.
 */
#include "newton.h"

#include <math.h>
#include <string.h>

/* ---- currents of eliminated voltage sources ------------------------ */

/* Visit the linear current leaving each fixed terminal of element e (its
 * device's fixed_current): constant part into fx_s0, terms in the
 * unknowns as fx entries.  With fill = 0 only counts entries per row
 * (fx_p[r + 1]).  Returns the entry index used for terminal 0 / 1 of a
 * parameter (a trainable conductance: its one entry, -G) through
 * *ca / *cb. */
static void fx_visit(const eqs_circuit *c, newton *nt, const eqs_celem *e, int fill, int *ca,
                     int *cb)
{
    const eqs_device *dev = eqs_device_get(e->kind);
    if (ca) *ca = -1;
    if (cb) *cb = -1;
    if (!dev->fixed_current) return; /* nonlinear: companion currents (fx_diodes) */
    for (int t = 0; t < 2; ++t) {
        int nd = e->n[t];
        int r = nd >= 0 ? nt->fx_row[nd] : -1;
        if (r < 0) continue;
        eqs_fxcurrent fc = {0.0, {-1, -1}, {0.0, 0.0}};
        if (!dev->fixed_current(c, nt->vfix1, e, t, &fc)) continue;
        if (fill) nt->fx_s0[r] += fc.k0;
        for (int m = 0; m < 2; ++m) {
            if (fc.j[m] < 0) continue;
            if (!fill) {
                nt->fx_p[r + 1]++;
                continue;
            }
            int q = nt->fx_p[r]++; /* fx_p holds the next free slot while filling */
            nt->fx_j[q] = fc.j[m];
            nt->fx_x[q] = fc.x[m];
            if (e->param >= 0) {
                if (t == 0 && ca) *ca = q;
                if (t == 1 && cb) *cb = q;
            }
        }
    }
}

/* Build the fixed-node rows (once, in create). */
eqs_status eqs_newton_fx_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt)
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

/* Which fixed nodes take input changes incrementally (fx_inc, from each
 * device's `input` rule) and their conductances to non-unknowns (fx_ep /
 * fx_ee): two passes over the elements, once, in create (after
 * fx_build). */
eqs_status eqs_newton_in_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt)
{
    size_t nf = (size_t)nt->n_fx + 1;
    nt->fx_inc = eqs_malloc(ctx, nf);
    nt->fx_ep = eqs_calloc(ctx, nf, sizeof *nt->fx_ep);
    if (!nt->fx_inc || !nt->fx_ep) return EQS_ERR_NOMEM;
    memset(nt->fx_inc, 1, nf);
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < c->n_elems; ++i) {
            const eqs_celem *e = &c->elems[i];
            const eqs_device *dev = eqs_device_get(e->kind);
            for (int t = 0; t < 4; ++t) {
                int nd = e->n[t];
                int r = nd > 0 ? nt->fx_row[nd] : -1;
                if (r < 0) continue;
                if (e->branch >= 0 || dev->input == EQS_INPUT_REFRESH) {
                    nt->fx_inc[r] = 0; /* reads V(f) beyond a conductance */
                    continue;
                }
                if (dev->input != EQS_INPUT_CONDUCTANCE || t >= 2) continue;
                int o = e->n[1 - t];
                if (o == nd || c->node_unknown[o] >= 0) continue; /* no effect / an fx entry */
                if (pass == 0) nt->fx_ep[r + 1]++;
                else nt->fx_ee[nt->fx_ep[r]++] = i; /* fx_ep: next free slot */
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
void eqs_newton_fx_fill(const eqs_circuit *c, newton *nt)
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
int eqs_newton_fx_converged(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
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
