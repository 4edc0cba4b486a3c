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
#include "newton.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* First gmin-stepping shunt conductance = gmin * 10^gmin_steps; with the
 * defaults (1e-12 S, 10 steps) 1e-2 S, as in SPICE's gmin stepping. */
#define NT_GMIN_DECADE 10.0
/* Base of gmin stepping when the options set gmin = 0 (SPICE's default). */
#define NT_GMIN_STEP_BASE 1e-12

typedef enum { NT_OK = 0, NT_SINGULAR = 1, NT_NOCONV = 2, NT_FATAL = -1 } nt_result;

static inline void addslot(double *A, int slot, double v)
{
    if (slot >= 0) A[slot] += v;
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
     * stalled a few ulps above abstol = 1e-15 A (ncep amplifier networks). */
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
        if (conv && (fix || jct || kcl)) conv = eqs_newton_fx_converged(c, nt, opt);
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
    eqs_status st0 = eqs_circuit_slots(c); /* the stamps' positions, once per circuit */
    if (st0 != EQS_OK) return st0;
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
    eqs_status fst = eqs_newton_fx_build(ctx, c, nt);
    if (fst == EQS_OK) fst = eqs_newton_in_build(ctx, c, nt);
    if (fst != EQS_OK) return fst;
    eqs_newton_refresh_all(c, nt);
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
    s->last_full_refresh = eqs_newton_refresh_values(c, nt);
    for (int d = 0; d < nt->nd; ++d) /* devices whose parameters follow trained values */
        if (nt->d_dev[d]->refresh) {
            eqs_status st = nt->d_dev[d]->setup(s->ctx, c, &c->elems[nt->d_elem[d]], opt->reltol,
                                                &nt->dp[d]);
            if (st != EQS_OK) return st;
        }
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
