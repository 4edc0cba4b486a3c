/*
 * currents.c: branch currents of the voltage-defined elements (V, E, H) at
 * the last solution, as ngspice reports them (`v1#branch`: the current
 * flowing into the + terminal, through the source, out of the - terminal).
 *
 * Backend-independent post-processing: every other element's current is
 * evaluated from the node voltages of the solution by its device's
 * `current` (R, I, G; diodes with the same device equations as the
 * solver, a series RS solved for exactly; F, gain x its controlling
 * current, once that is known), plus the EqProp nudge, and the branch
 * currents follow from KCL.  The voltage-defined elements
 * form a forest (the compiler refuses loops of them), so peeling its
 * leaves determines every branch current: at a non-ground node with one
 * undetermined branch, KCL gives that branch.  Linear in the circuit size.
 */
#include "solver.h"

#include "../devices/devices.h"

#include <math.h>
#include <string.h>

/* Voltage-defined (V, E, H): the currents KCL determines. */
static int is_vdef(const eqs_celem *e)
{
    return (eqs_device_get(e->kind)->flags & EQS_DEV_VOLTAGE) != 0;
}

/* A current-controlled current (F): gain x its controlling source's
 * current, pending until that is known. */
static int is_cccs(const eqs_celem *e)
{
    const unsigned fl = eqs_device_get(e->kind)->flags;
    return (fl & EQS_DEV_CONTROLLED) && !(fl & EQS_DEV_VOLTAGE);
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
                      const int *pend, const double *gain, char *done, double *cur)
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
        col[e] = is_vdef(&c->elems[e]) && !done[e] ? m++ : -1;
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
        } else if (is_cccs(ce) && col[ce->ctrl] >= 0) { /* pending F */
            if (row[ce->n[0]] >= 0)
                AA(row[ce->n[0]], col[ce->ctrl]) += gain[e];
            if (row[ce->n[1]] >= 0)
                AA(row[ce->n[1]], col[ce->ctrl]) -= gain[e];
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
    double *gain = eqs_calloc(ctx, (size_t)ne + 1, sizeof *gain);
    int *deg = eqs_calloc(ctx, (size_t)nu, sizeof *deg);
    int *pend = eqs_calloc(ctx, (size_t)nu, sizeof *pend);
    int *off = eqs_calloc(ctx, (size_t)nu + 1, sizeof *off);
    int *adj = eqs_calloc(ctx, (size_t)(2 * ne + 1), sizeof *adj);
    int *foff = eqs_calloc(ctx, (size_t)ne + 1, sizeof *foff);
    int *fadj = eqs_calloc(ctx, (size_t)ne + 1, sizeof *fadj);
    int *stack = eqs_calloc(ctx, (size_t)(4 * ne + nu + 1), sizeof *stack);
    char *done = eqs_calloc(ctx, (size_t)ne + 1, 1);
    if (!acc || !cur || !gain || !deg || !pend || !off || !adj || !foff || !fadj || !stack ||
        !done)
        goto out;

    /* known currents leaving each user node (the devices' `current`);
     * V/E/H adjacency; F by control */
    const eqs_devsolution sol = {ctx, c, v, s->opt.reltol, s->opt.gmin};
    for (int e = 0; e < ne; ++e) {
        const eqs_celem *ce = &c->elems[e];
        if (is_vdef(ce)) {
            int a = ce->n[0], b = ce->n[1];
            deg[a]++;
            deg[b]++;
            off[a]++;
            off[b]++;
            continue;
        }
        if (ce->origin < 0) continue; /* implicit (a diode's RS): in its owner's current */
        eqs_devcurrent cu;
        if ((st = eqs_device_get(ce->kind)->current(&sol, ce, &cu)) != EQS_OK) goto out;
        acc[cu.a] += cu.i0;
        acc[cu.b] -= cu.i0;
        if (is_cccs(ce)) { /* gain I(ctrl) once the control's current is known */
            pend[cu.a]++;
            pend[cu.b]++;
            foff[ce->ctrl]++;
            gain[e] = cu.gain;
        }
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
            if (is_vdef(&c->elems[e])) {
                adj[fill[c->elems[e].n[0]]++] = e;
                adj[fill[c->elems[e].n[1]]++] = e;
            }
        for (int e = 0; e < ne; ++e) fill[e] = foff[e];
        for (int e = 0; e < ne; ++e)
            if (is_cccs(&c->elems[e])) fadj[fill[c->elems[e].ctrl]++] = e;
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
            double fi = gain[fadj[q]] * i;
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
        for (int e = 0; e < ne; ++e) rest += is_vdef(&c->elems[e]) && !done[e];
        if (rest > 0 && solve_rest(ctx, c, acc, deg, pend, gain, done, cur) < 0) {
            st = EQS_ERR_NOMEM;
            goto out;
        }
    }
    st = EQS_OK;
    for (int e = 0, k = 0; e < ne; ++e) {
        if (!is_vdef(&c->elems[e])) continue;
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
    eqs_free(ctx, gain);
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
