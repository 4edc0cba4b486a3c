/*
 * currents.c: branch currents of the voltage-defined elements (V, E, H) at
 * the last solution, as ngspice reports them (`v1#branch`: the current
 * flowing into the + terminal, through the source, out of the - terminal).
 *
 * Backend-independent post-processing: every other element's current is
 * evaluated from the node voltages of the solution (R, I, G; diodes with
 * the same device equations as the solver, a series RS solved for
 * exactly; F once its controlling current is known; the EqProp nudge),
 * and the branch currents follow from KCL.  The voltage-defined elements
 * form a forest (the compiler refuses loops of them), so peeling its
 * leaves determines every branch current: at a non-ground node with one
 * undetermined branch, KCL gives that branch.  Linear in the circuit size.
 */
#include "solver.h"

#include "../devices/devices.h"

#include <math.h>
#include <string.h>

static int is_vdef(eqs_elem_kind k)
{
    return k == EQS_EL_V || k == EQS_EL_E || k == EQS_EL_H;
}

/* Junction current (A) of diode element d (device parameters p) when the
 * voltage across diode plus series conductance g_rs (S, 0: no RS) is vd.
 * Solves i(vj) = g_rs (vd - vj) for vj between 0 and vd by safeguarded
 * Newton (the left side increases with vj, the right side decreases). */
static double diode_current(const eqs_device *dev, const eqs_devparams *p, double vd,
                            double g_rs, double gmin)
{
    double i, g;
    if (g_rs <= 0) {
        dev->eval(p, vd, gmin, &i, &g);
        return i;
    }
    double lo = vd < 0 ? vd : 0, hi = vd < 0 ? 0 : vd, vj = 0.5 * (lo + hi);
    for (int it = 0; it < 200; ++it) {
        dev->eval(p, vj, gmin, &i, &g);
        double f = i - g_rs * (vd - vj);
        if (f > 0) hi = vj;
        else lo = vj;
        double next = vj - f / (g + g_rs);
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
        if (next == vj || hi - lo <= 4 * 2.2e-16 * fmax(fabs(lo), fabs(hi))) {
            vj = next;
            break;
        }
        vj = next;
    }
    return g_rs * (vd - vj); /* the current through RS: accurate where i(vj) is steep */
}

#define REST_MAX 256 /* undetermined branches left for the dense solve */

/* The branches peeling could not order (an F injecting into the source
 * tree of its own controlling source): KCL at every non-ground node that
 * still has an undetermined branch or a pending F, as a dense
 * least-squares problem over those branches (the system is consistent,
 * with one redundant row per tree without ground), solved through the
 * normal equations by Gaussian elimination with partial pivoting plus one
 * refinement step.  Returns 0 on success, 1 when the currents are not
 * determined (rank deficient) or too many, -1 out of memory. */
static int solve_rest(eqs_ctx *ctx, const eqs_circuit *c, const double *acc, const int *deg,
                      const int *pend, char *done, double *cur)
{
    const int nu = c->n_user_nodes, ne = c->n_elems;
    int m = 0, r = 0;
    int *col = eqs_malloc(ctx, (size_t)ne * sizeof *col);
    int *row = eqs_malloc(ctx, (size_t)nu * sizeof *row);
    if (!col || !row) {
        eqs_free(ctx, col);
        eqs_free(ctx, row);
        return -1;
    }
    for (int e = 0; e < ne; ++e)
        col[e] = is_vdef(c->elems[e].kind) && !done[e] ? m++ : -1;
    for (int x = 0; x < nu; ++x) row[x] = x > 0 && (deg[x] > 0 || pend[x] > 0) ? r++ : -1;
    int rc = 1;
    double *A = NULL, *N = NULL, *y = NULL, *b = NULL, *res = NULL;
    if (m == 0 || m > REST_MAX || r < m) goto out;
    A = eqs_calloc(ctx, (size_t)r * (size_t)m, sizeof *A);
    N = eqs_calloc(ctx, (size_t)m * (size_t)(m + 1), sizeof *N);
    y = eqs_calloc(ctx, (size_t)m, sizeof *y);
    b = eqs_calloc(ctx, (size_t)r, sizeof *b);
    res = eqs_calloc(ctx, (size_t)r, sizeof *res);
    rc = -1;
    if (!A || !N || !y || !b || !res) goto out;
#define AA(i, j) A[(size_t)(i) * (size_t)m + (size_t)(j)]
#define NN(i, j) N[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
    for (int x = 0; x < nu; ++x)
        if (row[x] >= 0) b[row[x]] = -acc[x];
    for (int e = 0; e < ne; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (col[e] >= 0) {
            if (row[ce->n[0]] >= 0) AA(row[ce->n[0]], col[e]) += 1;
            if (row[ce->n[1]] >= 0) AA(row[ce->n[1]], col[e]) -= 1;
        } else if (ce->kind == EQS_EL_F && col[ce->ctrl] >= 0) { /* pending F */
            if (row[ce->n[0]] >= 0)
                AA(row[ce->n[0]], col[ce->ctrl]) += ce->value;
            if (row[ce->n[1]] >= 0)
                AA(row[ce->n[1]], col[ce->ctrl]) -= ce->value;
        }
    }
    double *x_sol = y;
    for (int pass = 0; pass < 2; ++pass) {
        /* residual of the current solution (0 on the first pass) */
        for (int i = 0; i < r; ++i) {
            double t = b[i];
            for (int j = 0; j < m; ++j) t -= AA(i, j) * x_sol[j];
            res[i] = t;
        }
        /* normal equations N d = A^T res, augmented column m */
        for (int j = 0; j < m; ++j)
            for (int k = 0; k <= m; ++k) {
                double t = 0;
                for (int i = 0; i < r; ++i)
                    t += AA(i, j) *
                         (k < m ? AA(i, k) : res[i]);
                NN(j, k) = t;
            }
        double nmax = 0;
        for (int j = 0; j < m; ++j) nmax = fmax(nmax, fabs(NN(j, j)));
        for (int k = 0; k < m; ++k) { /* elimination with partial pivoting */
            int piv = k;
            for (int i = k + 1; i < m; ++i)
                if (fabs(NN(i, k)) >
                    fabs(NN(piv, k)))
                    piv = i;
            if (!(fabs(NN(piv, k)) > 1e-12 * nmax)) {
                rc = 1;
                goto out;
            }
            for (int j = 0; j <= m && piv != k; ++j) {
                double t = NN(k, j);
                NN(k, j) = NN(piv, j);
                NN(piv, j) = t;
            }
            for (int i = k + 1; i < m; ++i) {
                double f = NN(i, k) / NN(k, k);
                for (int j = k; j <= m; ++j)
                    NN(i, j) -= f * NN(k, j);
            }
        }
        for (int k = m - 1; k >= 0; --k) {
            double t = NN(k, m);
            for (int j = k + 1; j < m; ++j) t -= NN(k, j) * NN(j, m);
            NN(k, m) = t / NN(k, k);
        }
        for (int j = 0; j < m; ++j) x_sol[j] += NN(j, m);
    }
    for (int e = 0; e < ne; ++e)
        if (col[e] >= 0) {
            cur[e] = x_sol[col[e]];
            done[e] = 1;
        }
    rc = 0;
#undef AA
#undef NN
out:
    eqs_free(ctx, col);
    eqs_free(ctx, row);
    eqs_free(ctx, A);
    eqs_free(ctx, N);
    eqs_free(ctx, y);
    eqs_free(ctx, b);
    eqs_free(ctx, res);
    return rc;
}

eqs_status eqs_solver_branch_currents(const eqs_solver *s, double *i_A)
{
    if (!s || !i_A) return EQS_ERR_INPUT;
    eqs_ctx *ctx = s->ctx;
    const eqs_circuit *c = s->c;
    if (!s->has_solution)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "branch currents: no solution yet");
    if (s->opt.diodes == EQS_DIODES_IDEAL)
        return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED,
                         "branch currents: not available with ideal diodes (their current is "
                         "not a function of the node voltages)");
    const int nu = c->n_user_nodes, ne = c->n_elems;
    const double *v = s->v;
    eqs_status st = EQS_ERR_NOMEM;
    double *acc = eqs_calloc(ctx, (size_t)nu, sizeof *acc);
    double *cur = eqs_calloc(ctx, (size_t)ne, sizeof *cur);
    double *g_rs = eqs_calloc(ctx, (size_t)c->n_nodes, sizeof *g_rs);
    int *deg = eqs_calloc(ctx, (size_t)nu, sizeof *deg);
    int *pend = eqs_calloc(ctx, (size_t)nu, sizeof *pend);
    int *off = eqs_calloc(ctx, (size_t)nu + 1, sizeof *off);
    int *adj = eqs_calloc(ctx, (size_t)(2 * ne + 1), sizeof *adj);
    int *foff = eqs_calloc(ctx, (size_t)ne + 1, sizeof *foff);
    int *fadj = eqs_calloc(ctx, (size_t)ne + 1, sizeof *fadj);
    int *stack = eqs_calloc(ctx, (size_t)(4 * ne + nu + 1), sizeof *stack);
    char *done = eqs_calloc(ctx, (size_t)ne + 1, 1);
    if (!acc || !cur || !g_rs || !deg || !pend || !off || !adj || !foff || !fadj || !stack ||
        !done)
        goto out;

    /* series RS of diodes: implicit resistors into an internal node */
    for (int e = 0; e < ne; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (ce->kind == EQS_EL_R && ce->origin < 0 && ce->n[1] >= nu) g_rs[ce->n[1]] = ce->value;
    }
    /* known currents leaving each user node; V/E/H adjacency; F by control */
    const eqs_device *dio = eqs_device_get(EQS_EL_D);
    for (int e = 0; e < ne; ++e) {
        const eqs_celem *ce = &c->elems[e];
        int a = ce->n[0], b = ce->n[1];
        double i = 0;
        switch (ce->kind) {
        case EQS_EL_R:
            if (ce->origin < 0 && b >= nu) continue; /* a diode's RS: with the diode */
            i = eqs_celem_value(c, ce) * (v[a] - v[b]);
            break;
        case EQS_EL_D: {
            eqs_devparams p;
            if ((st = dio->setup(ctx, c, ce, s->opt.reltol, &p)) != EQS_OK) goto out;
            double gs = 0;
            if (a >= nu) { /* internal node: the anode is its user node */
                gs = g_rs[a];
                a = c->node_user[a];
            }
            i = diode_current(dio, &p, v[a] - v[b], gs, s->opt.gmin);
            break;
        }
        case EQS_EL_I: i = ce->value; break;
        case EQS_EL_G: i = ce->value * (v[ce->n[2]] - v[ce->n[3]]); break;
        case EQS_EL_F:
            pend[a]++;
            pend[b]++;
            foff[ce->ctrl]++;
            continue;
        default: /* V, E, H */
            deg[a]++;
            deg[b]++;
            off[a]++;
            off[b]++;
            continue;
        }
        acc[a] += i;
        acc[b] -= i;
    }
    /* nudge: g V - inj leaving each nudged node; pairs g (Vp - Vn) - inj */
    for (int k = 0; k < s->nudge.n; ++k) {
        int x = s->nudge.node[k];
        acc[x] += s->nudge.g[k] * v[x] - s->nudge.inj[k];
    }
    for (int k = 0; k < s->nudge.np; ++k) {
        int p = s->nudge.pos[k], m = s->nudge.neg[k];
        double i = s->nudge.pg[k] * (v[p] - v[m]) - s->nudge.pinj[k];
        acc[p] += i;
        acc[m] -= i;
    }
    /* CSR: node -> V/E/H elements, controlling element -> F elements */
    for (int x = 0, sum = 0; x <= nu; ++x) {
        int d = x < nu ? off[x] : 0;
        off[x] = sum;
        sum += d;
    }
    for (int e = 0, sum = 0; e <= ne; ++e) {
        int d = e < ne ? foff[e] : 0;
        foff[e] = sum;
        sum += d;
    }
    {
        int *fill = stack; /* scratch: next free position per node / control */
        for (int x = 0; x < nu; ++x) fill[x] = off[x];
        for (int e = 0; e < ne; ++e)
            if (is_vdef(c->elems[e].kind)) {
                adj[fill[c->elems[e].n[0]]++] = e;
                adj[fill[c->elems[e].n[1]]++] = e;
            }
        for (int e = 0; e < ne; ++e) fill[e] = foff[e];
        for (int e = 0; e < ne; ++e)
            if (c->elems[e].kind == EQS_EL_F) fadj[fill[c->elems[e].ctrl]++] = e;
    }
    /* peel leaves: a non-ground node with one undetermined branch and no
     * pending F current */
    int top = 0;
    for (int x = 1; x < nu; ++x)
        if (deg[x] == 1 && pend[x] == 0) stack[top++] = x;
    while (top > 0) {
        int x = stack[--top];
        if (x == 0 || deg[x] != 1 || pend[x] != 0) continue;
        int k = -1;
        for (int q = off[x]; q < off[x + 1]; ++q)
            if (!done[adj[q]]) k = adj[q];
        if (k < 0) continue;
        const eqs_celem *ce = &c->elems[k];
        double i = ce->n[0] == x ? -acc[x] : acc[x];
        cur[k] = i;
        done[k] = 1;
        acc[ce->n[0]] += i;
        acc[ce->n[1]] -= i;
        for (int t = 0; t < 2; ++t) {
            int y = ce->n[t];
            deg[y]--;
            if (y != 0 && deg[y] == 1 && pend[y] == 0) stack[top++] = y;
        }
        for (int q = foff[k]; q < foff[k + 1]; ++q) { /* F elements controlled by k */
            const eqs_celem *f = &c->elems[fadj[q]];
            double fi = f->value * i;
            acc[f->n[0]] += fi;
            acc[f->n[1]] -= fi;
            for (int t = 0; t < 2; ++t) {
                int y = f->n[t];
                pend[y]--;
                if (y != 0 && deg[y] == 1 && pend[y] == 0) stack[top++] = y;
            }
        }
    }
    {
        int rest = 0;
        for (int e = 0; e < ne; ++e) rest += is_vdef(c->elems[e].kind) && !done[e];
        if (rest > 0 && solve_rest(ctx, c, acc, deg, pend, done, cur) < 0) {
            st = EQS_ERR_NOMEM;
            goto out;
        }
    }
    st = EQS_OK;
    for (int e = 0, k = 0; e < ne; ++e) {
        if (!is_vdef(c->elems[e].kind)) continue;
        if (!done[e]) {
            const eqs_element *el = &c->nl->elems[c->elems[e].origin];
            st = EQS_ERROR_AT(ctx, EQS_ERR_UNSUPPORTED, el->loc,
                              "branch current of '%s' is not determined by KCL (current-"
                              "controlled sources cancel it) or too many sources are coupled "
                              "through F elements (more than %d)",
                              el->name, REST_MAX);
            break;
        }
        i_A[k++] = cur[e];
    }
out:
    if (st == EQS_ERR_NOMEM && eqs_ctx_status(ctx) == EQS_OK)
        EQS_ERROR(ctx, EQS_ERR_NOMEM, "branch currents: out of memory");
    eqs_free(ctx, acc);
    eqs_free(ctx, cur);
    eqs_free(ctx, g_rs);
    eqs_free(ctx, deg);
    eqs_free(ctx, pend);
    eqs_free(ctx, off);
    eqs_free(ctx, adj);
    eqs_free(ctx, foff);
    eqs_free(ctx, fadj);
    eqs_free(ctx, stack);
    eqs_free(ctx, done);
    return st;
}
