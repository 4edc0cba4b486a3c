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

#include <math.h>
#include <string.h>

#include "../devices/devices.h"

/* First gmin-stepping shunt conductance = gmin * 10^gmin_steps; with the
 * defaults (1e-12 S, 10 steps) 1e-2 S, as in SPICE's gmin stepping. */
#define NT_GMIN_DECADE 10.0

typedef enum { NT_OK = 0, NT_SINGULAR = 1, NT_NOCONV = 2, NT_FATAL = -1 } nt_result;

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
    double *fs;   /* per-row current scale for the KCL test (n) */
    double *vn;   /* all circuit node voltages (n_nodes) */
    int *diag;    /* slot of (i,i) for node unknowns (n_node_unknowns) */
    double *p_g;  /* conductance of each parameter as stamped into Jlin */

    int nd;       /* diodes */
    int *d_elem;
    eqs_devparams *dp;
    double *d_v;  /* junction voltage of the last evaluation (V) */
    double *d_i;  /* junction current of the last evaluation (A) */

    uint64_t seen_epoch;
    int seen_pos;

    /* per-iteration state */
    double scale, gshunt;
    int init_jct, damped;
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

static inline void addslot(double *A, int slot, double v)
{
    if (slot >= 0) A[slot] += v;
}

/* Stamp resistor conductance g of element e into Jlin and b0. */
static void stamp_resistor(const eqs_circuit *c, newton *nt, const eqs_celem *e, double g)
{
    int ua = unk(c, e->n[0]), ub = unk(c, e->n[1]);
    addslot(nt->Jlin, e->slot[0], g);
    addslot(nt->Jlin, e->slot[1], g);
    addslot(nt->Jlin, e->slot[2], -g);
    addslot(nt->Jlin, e->slot[3], -g);
    if (ua >= 0 && ub < 0) nt->b0[ua] -= g * vfix(c, e->n[1]);
    if (ub >= 0 && ua < 0) nt->b0[ub] -= g * vfix(c, e->n[0]);
}

/* Recompute Jlin, b0 and the parameter snapshot from all element values. */
static void refresh_all(const eqs_circuit *c, newton *nt)
{
    memset(nt->Jlin, 0, (size_t)nt->nnz * sizeof *nt->Jlin);
    memset(nt->b0, 0, (size_t)nt->n * sizeof *nt->b0);
    for (int i = 0; i < c->n_elems; ++i) {
        const eqs_celem *e = &c->elems[i];
        int ua = unk(c, e->n[0]), ub = unk(c, e->n[1]), k = e->branch;
        double val = e->value;
        switch (e->kind) {
        case EQS_EL_R:
            stamp_resistor(c, nt, e, val);
            if (e->param >= 0) nt->p_g[e->param] = val;
            break;
        case EQS_EL_I:
            if (ua >= 0) nt->b0[ua] += val;
            if (ub >= 0) nt->b0[ub] -= val;
            break;
        case EQS_EL_V:
        case EQS_EL_E:
        case EQS_EL_H:
            if (k < 0) break;
            addslot(nt->Jlin, e->slot[0], 1.0);
            addslot(nt->Jlin, e->slot[1], -1.0);
            addslot(nt->Jlin, e->slot[2], 1.0);
            addslot(nt->Jlin, e->slot[3], -1.0);
            nt->b0[k] += vfix(c, e->n[0]) - vfix(c, e->n[1]);
            if (e->kind == EQS_EL_V) {
                nt->b0[k] -= val;
            } else if (e->kind == EQS_EL_E) {
                addslot(nt->Jlin, e->slot[4], -val);
                addslot(nt->Jlin, e->slot[5], val);
                nt->b0[k] -= val * (vfix(c, e->n[2]) - vfix(c, e->n[3]));
            } else {
                addslot(nt->Jlin, e->slot[4], -val);
            }
            break;
        case EQS_EL_G: {
            double fixed = val * (vfix(c, e->n[2]) - vfix(c, e->n[3]));
            addslot(nt->Jlin, e->slot[0], val);
            addslot(nt->Jlin, e->slot[1], -val);
            addslot(nt->Jlin, e->slot[2], -val);
            addslot(nt->Jlin, e->slot[3], val);
            if (ua >= 0) nt->b0[ua] += fixed;
            if (ub >= 0) nt->b0[ub] -= fixed;
            break;
        }
        case EQS_EL_F:
            addslot(nt->Jlin, e->slot[0], val);
            addslot(nt->Jlin, e->slot[1], -val);
            break;
        case EQS_EL_D:
        case EQS_EL_NKINDS:
            break;
        }
    }
    nt->seen_epoch = c->chg_epoch;
    nt->seen_pos = c->n_chg;
}

/* Bring Jlin/b0 up to date with the circuit's change log: O(changes). */
static void refresh_values(const eqs_circuit *c, newton *nt)
{
    if (nt->seen_epoch != c->chg_epoch || nt->seen_pos > c->n_chg) {
        refresh_all(c, nt);
        return;
    }
    for (int q = nt->seen_pos; q < c->n_chg; ++q) {
        int k = c->chg[q];
        const eqs_celem *e = &c->elems[c->params[k]];
        double d = e->value - nt->p_g[k];
        if (d != 0) stamp_resistor(c, nt, e, d);
        nt->p_g[k] = e->value;
    }
    nt->seen_pos = c->n_chg;
}

/* ---- set / iterate / test ------------------------------------------- */

/* Starting point: zero (cold, junctions at Vcrit in the first iteration
 * as ngspice's MODEINITJCT) or the current state (warm). */
static void nt_set(newton *nt, int cold)
{
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
        nt->vn[i] = u >= 0 ? x[u] : eqs_circuit_fixed_voltage(c, i, nt->scale);
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
    }
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        const eqs_devparams *p = &nt->dp[d];
        int np = e->n[0], nn = e->n[1];
        double vd = nt->vn[np] - nt->vn[nn], cd, gd;
        if (!exact) {
            if (nt->init_jct) {
                vd = p->vcrit_V;
            } else {
                int lim = 0;
                vd = eqs_device_diode.limit(p, vd, nt->d_v[d], &lim);
                limited |= lim;
            }
        }
        eqs_device_diode.eval(p, vd, gmin, &cd, &gd);
        nt->d_v[d] = vd;
        nt->d_i[d] = cd;
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

static inline void acc(double *F, double *fs, int row, double term)
{
    F[row] += term;
    double a = fabs(term);
    if (a > fs[row]) fs[row] = a;
}

/* Residual F(x) (currents leaving each node, A; branch equations, V) with
 * diodes at their last evaluation, and per-row scales fs (the largest
 * single contribution).  Returns 1 when every row passes the KCL test. */
static int residual(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    const int n = nt->n;
    const int *Ap = c->Ap, *Ai = c->Ai;
    const double *x = nt->x, *J = nt->Jlin;
    double *F = nt->F, *fs = nt->fs;
    for (int i = 0; i < n; ++i) {
        F[i] = 0;
        fs[i] = 0;
        acc(F, fs, i, nt->scale * nt->b0[i]);
    }
    for (int j = 0; j < n; ++j) {
        for (int q = Ap[j]; q < Ap[j + 1]; ++q) {
            int i = Ai[q];
            acc(F, fs, i, J[q] * x[j]);
            if (c->reciprocal && i != j) acc(F, fs, j, J[q] * x[i]);
        }
    }
    if (nt->gshunt > 0)
        for (int i = 0; i < c->n_node_unknowns; ++i) acc(F, fs, i, nt->gshunt * x[i]);
    for (int d = 0; d < nt->nd; ++d) {
        const eqs_celem *e = &c->elems[nt->d_elem[d]];
        int up = unk(c, e->n[0]), un = unk(c, e->n[1]);
        if (up >= 0) acc(F, fs, up, nt->d_i[d]);
        if (un >= 0) acc(F, fs, un, -nt->d_i[d]);
    }
    int ok = 1;
    double worst = -1, rmax = 0;
    nt->worst_row = -1;
    for (int i = 0; i < n; ++i) {
        int is_node = i < c->n_node_unknowns;
        double tol = opt->reltol * fs[i] + (is_node ? opt->abstol : opt->vntol);
        double r = fabs(F[i]);
        if (!(r <= tol)) ok = 0;
        if (is_node && !(r <= rmax)) rmax = r;
        double ratio = r / tol;
        if (!(ratio <= worst)) {
            worst = ratio;
            nt->worst_row = i;
        }
    }
    nt->resid = rmax;
    return ok;
}

/* One Newton step from nt->x (Ax/rhs already loaded): factor, solve,
 * optionally damp, and the update test.  NT_OK with *small set when the
 * update passes the node/branch tolerances. */
static nt_result nt_iterate(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt,
                            int *small)
{
    int r = nt->lops->factor(nt->ls, nt->Ax);
    if (r > 0) return NT_SINGULAR;
    if (r < 0) return NT_FATAL;
    if (nt->lops->solve(nt->ls, nt->rhs) != 0) return NT_FATAL;
    int ok = 1;
    double maxup = 0;
    for (int i = 0; i < nt->n; ++i) {
        double xo = nt->x[i], xn = nt->rhs[i], dx = xn - xo;
        if (!isfinite(xn)) return NT_SINGULAR;
        int is_node = i < c->n_node_unknowns;
        if (is_node && nt->damped && fabs(dx) > opt->max_step_V) {
            dx = dx > 0 ? opt->max_step_V : -opt->max_step_V;
            xn = xo + dx;
        }
        double tol = opt->reltol * fmax(fabs(xn), fabs(xo)) + (is_node ? opt->vntol : opt->abstol);
        if (!(fabs(dx) <= tol)) ok = 0;
        if (is_node && fabs(dx) > maxup) maxup = fabs(dx);
        nt->x[i] = xn;
    }
    nt->max_update = maxup;
    *small = ok;
    return NT_OK;
}

/* Convergence test at the current iterate (after load): no junction was
 * limited, the last update was small (or the circuit is linear and has
 * been solved once), and KCL holds at every row. */
static int nt_test(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt, int limited,
                   int small, int it)
{
    if (limited) return 0;
    if (!(small || (!c->has_nonlinear && it > 0))) return 0;
    return residual(c, nt, opt);
}

/* Newton loop: at most itl1 iterations. */
static nt_result nt_newton(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt)
{
    int small = 0;
    for (int it = 0; it <= opt->itl1; ++it) {
        int limited = load(c, nt, opt->gmin, 0);
        nt->init_jct = 0;
        if (nt_test(c, nt, opt, limited, small, it)) return NT_OK;
        if (it == opt->itl1) break;
        nt_result r = nt_iterate(c, nt, opt, &small);
        nt->iterations++;
        if (r != NT_OK) return r;
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
    eqs_free(ctx, nt->vn);
    eqs_free(ctx, nt->diag);
    eqs_free(ctx, nt->p_g);
    eqs_free(ctx, nt->d_elem);
    eqs_free(ctx, nt->dp);
    eqs_free(ctx, nt->d_v);
    eqs_free(ctx, nt->d_i);
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
    nt->vn = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof(double));
    nt->diag = eqs_calloc(ctx, (size_t)(c->n_node_unknowns + 1), sizeof(int));
    nt->p_g = eqs_calloc(ctx, (size_t)(c->n_params + 1), sizeof(double));
    for (int e = 0; e < c->n_elems; ++e) nt->nd += c->elems[e].kind == EQS_EL_D;
    size_t nd = (size_t)(nt->nd ? nt->nd : 1);
    nt->d_elem = eqs_calloc(ctx, nd, sizeof(int));
    nt->dp = eqs_calloc(ctx, nd, sizeof(eqs_devparams));
    nt->d_v = eqs_calloc(ctx, nd, sizeof(double));
    nt->d_i = eqs_calloc(ctx, nd, sizeof(double));
    if (!nt->Jlin || !nt->Ax || !nt->b0 || !nt->x || !nt->rhs || !nt->F || !nt->fs ||
        !nt->vn || !nt->diag || !nt->p_g || !nt->d_elem || !nt->dp || !nt->d_v || !nt->d_i)
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
        if (c->elems[e].kind != EQS_EL_D) continue;
        nt->d_elem[d] = e;
        eqs_status st = eqs_device_diode.setup(ctx, c, &c->elems[e], s->opt.reltol, &nt->dp[d]);
        if (st != EQS_OK) return st;
        d++;
    }

    nt->lops = c->reciprocal ? &eqs_linsolve_cholmod : &eqs_linsolve_klu;
    if (nt->n > 0) {
        eqs_status st = nt->lops->create(ctx, nt->n, c->Ap, c->Ai, c->reciprocal, &nt->ls);
        if (st != EQS_OK) return st;
    }
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
    double g = opt->gmin > 0 ? opt->gmin : 1e-12;
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
    refresh_values(c, nt);
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

const eqs_backend_ops eqs_backend_newton = {
    .name = "newton",
    .create = nt_create,
    .solve = nt_solve,
    .destroy = nt_destroy,
};
