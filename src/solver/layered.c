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
 *     solved by safeguarded Newton (bracket from the linear bound, bisection
 *     fallback) with the diode equations of devices/diode.c, gmin included.
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
 * accumulates into the momentum (beta = mu), then one fused pass applies
 * the optimizer and forms the column sums for the next batch.
 */
#include "solver.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../devices/devices.h"

/* Threads for OpenBLAS (the machine's two cores). */
#define LY_BLAS_THREADS 2
/* Safeguarded Newton of one node: at most this many iterations. */
#define LY_NODE_MAXIT 200
/* Adjoint sweeps: relative tolerance and limit. */
#define LY_ADJ_RELTOL 1e-15
#define LY_ADJ_MAXSWEEPS 200000

typedef struct {
    /* diodes of every free node, in the order of L->dio_elem */
    eqs_devparams *dp; /* per diode */
    int *dsign;        /* +1: anode at the node, -1: cathode at the node */
    int *dfix;         /* fixed node at the other end */
    double *dvf;       /* its voltage in the current solve (V) */
    double *lo, *hi;   /* ideal: interval of each user node (V) */
    double *ng, *ni;   /* nudge per user node: conductance (S), injection (A) */
    int *partner;      /* pair nudge: the other free node of the pair, -1 none */
    double *pg, *pinj; /* pair conductance, injection into the positive node */
    int *ppos;         /* 1 when the node is the positive one of its pair */
    double *lam;       /* adjoint work */
    double gmin;
    int ideal;
    /* statistics */
    double phase_s, sweeps;
    long phases;
    /* batched training */
    struct batch *bt;
} layered;

static eqs_status node_kcl(const eqs_solver *s, int i, double v, double *f, double *df);

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
        eqs_device_diode.eval(&ly->dp[p], sg * (v - ly->dvf[p]), ly->gmin, &id, &gd);
        c += sg * id;
        gg += gd;
    }
    *cur = c;
    *g = gg;
}

/* Exact minimiser of node i given S = total conductance (S) and r = sum G
 * V_j + injected current (A), starting from v0 (V). */
static double node_solve(const eqs_layers *L, const layered *ly, int i, double S, double r,
                         double v0)
{
    if (ly->ideal) {
        double v = r / S;
        if (v < ly->lo[i]) v = ly->lo[i];
        if (v > ly->hi[i]) v = ly->hi[i];
        return v;
    }
    if (L->dio_off[i + 1] == L->dio_off[i]) return r / S;
    double v = v0, cur, g;
    diode_currents(L, ly, i, v, &cur, &g);
    double f = S * v - r + cur;
    if (f == 0 || !(S > 0)) return v;
    /* diode currents increase with v: v - f/S lies on the other side */
    double a = v, b = v - f / S;
    if (a > b) {
        double t = a;
        a = b, b = t;
    }
    for (int it = 0; it < LY_NODE_MAXIT; ++it) {
        double df = S + g;
        double vn = v - f / df;
        if (!(vn > a && vn < b)) vn = 0.5 * (a + b);
        double step = vn - v;
        v = vn;
        if (fabs(step) <= 1e-15 * (fabs(v) + 1e-3) || b - a <= 1e-15 * (fabs(v) + 1e-3)) break;
        diode_currents(L, ly, i, v, &cur, &g);
        f = S * v - r + cur;
        if (f == 0) break;
        if (f > 0) b = v;
        else a = v;
        if (!isfinite(f)) v = 0.5 * (a + b), f = 1; /* overflow: keep bisecting */
    }
    return v;
}

/* Conductance to the neighbours (S) and sum G V_j (A) of user node i. */
static void node_sums(const eqs_solver *s, const double *v, int i, double *S, double *r)
{
    const eqs_layers *L = s->layers;
    const eqs_celem *el = s->c->elems;
    double ss = 0, rr = 0;
    for (int p = L->adj_off[i]; p < L->adj_off[i + 1]; ++p) {
        double G = el[L->adj_elem[p]].value;
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
    if (!ly->dp || !ly->dsign || !ly->dfix || !ly->dvf || !ly->lo || !ly->hi || !ly->ng ||
        !ly->ni || !ly->partner || !ly->pg || !ly->pinj || !ly->ppos || !ly->lam)
        return EQS_ERR_NOMEM;
    for (size_t i = 0; i < nn; ++i) ly->partner[i] = -1;
    ly->gmin = s->opt.gmin;
    ly->ideal = s->opt.diodes == EQS_DIODES_IDEAL;
    const eqs_device *dev = eqs_device_get(EQS_EL_D);
    for (size_t i = 0; i < nn; ++i) {
        for (int p = L->dio_off[i]; p < L->dio_off[i + 1]; ++p) {
            const eqs_celem *e = &c->elems[L->dio_elem[p]];
            ly->dsign[p] = e->n[0] == (int)i ? 1 : -1;
            ly->dfix[p] = e->n[0] == (int)i ? e->n[1] : e->n[0];
            eqs_status st = dev->setup(ctx, c, e, s->opt.reltol, &ly->dp[p]);
            if (st != EQS_OK) return st;
        }
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
        for (int p = L->dio_off[i]; p < L->dio_off[i + 1]; ++p) {
            ly->dvf[p] = v[ly->dfix[p]];
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
                vn = node_solve(L, ly, i, S + ly->ng[i], r + ly->ni[i], v[i]);
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
    if (mode == EQS_SOLVE_COLD)
        for (int q = L->off[1]; q < L->off[L->n_layers]; ++q) s->v[L->node[q]] = 0.0;
    int n = 0;
    double d = INFINITY;
    while (n < s->opt.bcd_max_sweeps) {
        d = sweep(s);
        n++;
        if (d <= s->opt.bcd_tol_V) break;
    }
    double res = 0;
    for (int q = L->off[1]; q < L->off[L->n_layers]; ++q) {
        double f, df;
        node_kcl(s, L->node[q], s->v[L->node[q]], &f, &df);
        if (!(fabs(f) <= res)) res = fabs(f);
    }
    info->iterations = n;
    info->residual_A = res;
    info->max_update_V = d;
    info->backend = ly->ideal ? "layered-ideal" : "layered";
    ly->phase_s += eqs_now_s() - t0;
    ly->sweeps += n;
    ly->phases++;
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
    const eqs_celem *el = c->elems;
    const int nn = c->n_user_nodes;
    double *v = s->v, *lam = ly->lam;
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
                        double G = el[L->adj_elem[p]].value;
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

/* ---- batched training -------------------------------------------------- */

/* Products below this many multiply-adds run on one BLAS thread: the
 * hidden<->output products (e.g. 32 x 1024 x 10) cost less than waking
 * and synchronising the second thread. */
#define LY_SERIAL_MNK 4000000.0

/* Row-major C = alpha op(A) op(B) + beta C through CBLAS, with the thread
 * count chosen by size (*threads remembers the current setting). */
static void gemm(int *threads, int ta, int tb, int m, int n, int k, double alpha,
                 const double *A, int lda, const double *B, int ldb, double beta, double *C,
                 int ldc)
{
    int want = (double)m * n * k < LY_SERIAL_MNK ? 1 : LY_BLAS_THREADS;
    if (want != *threads) {
        openblas_set_num_threads(want);
        *threads = want;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

struct batch {
    int L;        /* layers (incl. 0) */
    int *n;       /* sizes */
    int *layer0;  /* user nodes of layer 0 (= L->node) */
    int B;        /* capacity */
    double **W, **M; /* crossbars l = 1..L-1: n[l-1] x n[l] */
    int **pidx;   /* parameter of each entry */
    double *rate; /* per crossbar, < 0: not trained */
    double **Sdn, **Sup; /* per layer: column sums of W_l, row sums of W_{l+1} */
    double *X;    /* B x n0 */
    double *P1;   /* B x n1 = X W_1 */
    double **F, **A, **Bs; /* free, phase 1, phase 2 states per layer (B x n_l) */
    double *R;    /* B x max n_l */
    double *D, *E; /* contrast work, B x max n_l */
    double *cterm, *rterm; /* max n_l */
    double **lo, **hi; /* per layer node intervals (ideal) */
    double *Y;    /* B x n_out targets */
    int n_out;
    int *out_idx; /* output k -> index in the last layer */
    int n_in;     /* .input sources */
    int *in_pos;  /* layer-0 row of each layer-0 node's input source, -1: not an input */
    double *in_sign; /* V(node) = sign * source value */
    double *S;    /* work: conductance per node (max n_l) */
    eqs_batch_setup set;
    int dirty;    /* W newer than the circuit */
    int threads;  /* BLAS threads currently set */
};

static void batch_free(eqs_ctx *ctx, struct batch *bt)
{
    if (!bt) return;
    for (int l = 0; l < bt->L; ++l) {
        if (bt->W) eqs_free(ctx, bt->W[l]);
        if (bt->M) eqs_free(ctx, bt->M[l]);
        if (bt->pidx) eqs_free(ctx, bt->pidx[l]);
        if (bt->Sdn) eqs_free(ctx, bt->Sdn[l]);
        if (bt->Sup) eqs_free(ctx, bt->Sup[l]);
        if (bt->F && l > 0) eqs_free(ctx, bt->F[l]);
        if (bt->A && l > 0) eqs_free(ctx, bt->A[l]);
        if (bt->Bs && l > 0) eqs_free(ctx, bt->Bs[l]);
        if (bt->lo) eqs_free(ctx, bt->lo[l]);
        if (bt->hi) eqs_free(ctx, bt->hi[l]);
    }
    eqs_free(ctx, bt->W);
    eqs_free(ctx, bt->M);
    eqs_free(ctx, bt->pidx);
    eqs_free(ctx, bt->Sdn);
    eqs_free(ctx, bt->Sup);
    eqs_free(ctx, bt->F);
    eqs_free(ctx, bt->A);
    eqs_free(ctx, bt->Bs);
    eqs_free(ctx, bt->lo);
    eqs_free(ctx, bt->hi);
    eqs_free(ctx, bt->n);
    eqs_free(ctx, bt->rate);
    eqs_free(ctx, bt->X);
    eqs_free(ctx, bt->P1);
    eqs_free(ctx, bt->R);
    eqs_free(ctx, bt->D);
    eqs_free(ctx, bt->E);
    eqs_free(ctx, bt->cterm);
    eqs_free(ctx, bt->rterm);
    eqs_free(ctx, bt->Y);
    eqs_free(ctx, bt->out_idx);
    eqs_free(ctx, bt->in_pos);
    eqs_free(ctx, bt->in_sign);
    eqs_free(ctx, bt->S);
    eqs_free(ctx, bt);
}

static eqs_status bt_sync(eqs_solver *s);

static void ly_destroy(eqs_solver *s)
{
    layered *ly = s->impl;
    if (!ly) return;
    eqs_ctx *ctx = s->ctx;
    if (ly->bt) {
        (void)bt_sync(s); /* the circuit keeps the trained values */
        if (s->c->param_sync_arg == s) s->c->param_sync = NULL, s->c->param_sync_arg = NULL;
    }
    batch_free(ctx, ly->bt);
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
    eqs_free(ctx, ly);
    s->impl = NULL;
}

/* Row/column sums of the crossbars, in one fixed order (so that sums after
 * an update and after a reload are bit-identical). */
static void crossbar_sums(struct batch *bt, int l)
{
    const int ni = bt->n[l - 1], nj = bt->n[l];
    double *sd = bt->Sdn[l], *su = l - 1 >= 1 ? bt->Sup[l - 1] : NULL;
    const double *W = bt->W[l];
    for (int j = 0; j < nj; ++j) sd[j] = 0.0;
    for (int i = 0; i < ni; ++i) {
        const double *w = W + (size_t)i * nj;
        double rs = 0;
        for (int j = 0; j < nj; ++j) {
            sd[j] += w[j];
            rs += w[j];
        }
        if (su) su[i] = rs;
    }
}

static eqs_status bt_pull(eqs_solver *s, const double *mom)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    const eqs_circuit *c = s->c;
    for (int l = 1; l < bt->L; ++l) {
        size_t ne = (size_t)bt->n[l - 1] * bt->n[l];
        for (size_t e = 0; e < ne; ++e) {
            int k = bt->pidx[l][e];
            bt->W[l][e] = c->elems[c->params[k]].value;
            bt->M[l][e] = mom ? mom[k] : 0.0;
        }
        crossbar_sums(bt, l);
    }
    bt->dirty = 0;
    return EQS_OK;
}

static eqs_status bt_sync(eqs_solver *s)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    if (!bt || !bt->dirty) return EQS_OK;
    for (int l = 1; l < bt->L; ++l) {
        size_t ne = (size_t)bt->n[l - 1] * bt->n[l];
        for (size_t e = 0; e < ne; ++e) {
            eqs_status st = eqs_circuit_param_set(s->c, bt->pidx[l][e], bt->W[l][e]);
            if (st != EQS_OK) return st;
        }
    }
    bt->dirty = 0;
    return EQS_OK;
}

/* The circuit's param_sync hook (readers of parameter values). */
static void bt_sync_hook(void *arg) { (void)bt_sync(arg); }

static void bt_momentum(const eqs_solver *s, double *mom)
{
    const layered *ly = s->impl;
    const struct batch *bt = ly->bt;
    for (int l = 1; l < bt->L; ++l) {
        size_t ne = (size_t)bt->n[l - 1] * bt->n[l];
        for (size_t e = 0; e < ne; ++e) mom[bt->pidx[l][e]] = bt->M[l][e];
    }
}

#define UNSUP(...) (eqs_log(ctx, EQS_LOG_INFO, __VA_ARGS__), EQS_ERR_UNSUPPORTED)

static eqs_status bt_setup(eqs_solver *s, const eqs_batch_setup *bs)
{
    eqs_ctx *ctx = s->ctx;
    const eqs_circuit *c = s->c;
    const eqs_layers *L = s->layers;
    layered *ly = s->impl;
    if (!L->dense) return UNSUP("batched training: the crossbars are not dense and trainable");
    if (c->nl->output_pairs) return UNSUP("batched training: differential outputs");
    if (!ly->ideal) {
        /* supported: the node solve is the same; nothing to refuse */
    }
    batch_free(ctx, ly->bt);
    struct batch *bt = ly->bt = eqs_calloc(ctx, 1, sizeof *bt);
    if (!bt) return EQS_ERR_NOMEM;
    const int NL = bt->L = L->n_layers;
    bt->B = bs->batch;
    bt->set = *bs;
    size_t np = (size_t)NL;
#define ARR(p, n) ((p) = eqs_calloc(ctx, (n), sizeof *(p)))
    if (!ARR(bt->n, np) || !ARR(bt->W, np) || !ARR(bt->M, np) || !ARR(bt->pidx, np) ||
        !ARR(bt->Sdn, np) || !ARR(bt->Sup, np) || !ARR(bt->F, np) || !ARR(bt->A, np) ||
        !ARR(bt->Bs, np) || !ARR(bt->lo, np) || !ARR(bt->hi, np) || !ARR(bt->rate, np))
        goto nomem;
    int nmax = 0;
    for (int l = 0; l < NL; ++l) {
        bt->n[l] = L->off[l + 1] - L->off[l];
        if (bt->n[l] > nmax) nmax = bt->n[l];
    }
    bt->layer0 = L->node;
    size_t B = (size_t)bt->B;
    for (int l = 0; l < NL; ++l) {
        size_t nl = (size_t)bt->n[l];
        if (!ARR(bt->Sdn[l], nl) || !ARR(bt->Sup[l], nl) || !ARR(bt->lo[l], nl) ||
            !ARR(bt->hi[l], nl))
            goto nomem;
        if (l == 0) continue;
        size_t ne = (size_t)bt->n[l - 1] * nl;
        if (!ARR(bt->W[l], ne) || !ARR(bt->M[l], ne) || !ARR(bt->pidx[l], ne) ||
            !ARR(bt->F[l], B * nl) || !ARR(bt->A[l], B * nl) || !ARR(bt->Bs[l], B * nl))
            goto nomem;
    }
    if (!ARR(bt->X, B * bt->n[0]) || !ARR(bt->P1, B * bt->n[1]) || !ARR(bt->R, B * nmax) ||
        !ARR(bt->D, B * nmax) || !ARR(bt->E, B * nmax) || !ARR(bt->cterm, (size_t)nmax) ||
        !ARR(bt->rterm, (size_t)nmax) || !ARR(bt->S, (size_t)nmax))
        goto nomem;
    bt->n_out = eqs_circuit_output_count(c);
    if (!ARR(bt->Y, B * (size_t)(bt->n_out + 1)) || !ARR(bt->out_idx, (size_t)bt->n_out + 1))
        goto nomem;
#undef ARR
    /* input source k -> its node's row in layer 0 */
    bt->n_in = eqs_circuit_input_count(c);
    if (!(bt->in_pos = eqs_malloc(ctx, (size_t)bt->n[0] * sizeof *bt->in_pos)) ||
        !(bt->in_sign = eqs_calloc(ctx, (size_t)bt->n[0], sizeof *bt->in_sign)))
        goto nomem;
    for (int i = 0; i < bt->n[0]; ++i) bt->in_pos[i] = -1;
    for (int k = 0; k < bt->n_in; ++k) {
        int e = eqs_netlist_elem_find(c->nl, eqs_circuit_input_name(c, k));
        if (e < 0) continue;
        for (int t = 0; t < 2; ++t) {
            int nd = c->nl->elems[e].node[t];
            if (nd <= 0 || L->layer_of[nd] != 0 || c->node_fixed_by[nd] < 0 ||
                c->elems[c->node_fixed_by[nd]].origin != e)
                continue;
            bt->in_pos[L->index_of[nd]] = k;
            bt->in_sign[L->index_of[nd]] = c->node_fixed_sign[nd];
        }
    }
    for (int k = 0; k < bt->n_out; ++k) {
        int nd = eqs_circuit_output_node(c, k);
        if (nd <= 0 || L->layer_of[nd] != NL - 1) return UNSUP("batched training: output %d", k);
        bt->out_idx[k] = L->index_of[nd];
    }
    /* parameter of each crossbar entry; rates uniform per crossbar */
    for (int l = 1; l < NL; ++l) {
        size_t ne = (size_t)bt->n[l - 1] * bt->n[l];
        for (size_t e = 0; e < ne; ++e) bt->pidx[l][e] = -1;
        bt->rate[l] = -2; /* unset */
        for (int q = L->off[l]; q < L->off[l + 1]; ++q) {
            int j = q - L->off[l], nd = L->node[q];
            for (int p = L->adj_off[nd]; p < L->adj_off[nd + 1]; ++p) {
                int nb = L->adj_node[p];
                if (L->layer_of[nb] != l - 1) continue;
                int e = L->adj_elem[p], k = c->elems[e].param;
                size_t at = (size_t)L->index_of[nb] * bt->n[l] + j;
                if (k < 0 || bt->pidx[l][at] >= 0)
                    return UNSUP("batched training: crossbar %d is not one trainable resistor "
                                 "per node pair", l);
                bt->pidx[l][at] = k;
                double r = bs->rate[k] < 0 ? -1.0 : bs->rate[k];
                if (bt->rate[l] == -2) bt->rate[l] = r;
                else if (bt->rate[l] != r)
                    return UNSUP("batched training: the learning rates of crossbar %d differ "
                                 "between its elements", l);
            }
        }
        for (size_t e = 0; e < ne; ++e)
            if (bt->pidx[l][e] < 0) return UNSUP("batched training: crossbar %d not dense", l);
    }
    openblas_set_num_threads(LY_BLAS_THREADS);
    bt->threads = LY_BLAS_THREADS;
    s->c->param_sync = bt_sync_hook;
    s->c->param_sync_arg = s;
    return bt_pull(s, NULL);
nomem:
    return EQS_ERR_NOMEM;
}

static void bt_load(eqs_solver *s, int b, const double *u, const double *y)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    const eqs_circuit *c = s->c;
    double *x = bt->X + (size_t)b * bt->n[0];
    for (int i = 0; i < bt->n[0]; ++i) {
        int nd = bt->layer0[i], k = bt->in_pos[i];
        x[i] = k >= 0 ? bt->in_sign[i] * u[k]
                      : nd == 0 ? 0.0 : eqs_circuit_fixed_voltage(c, nd, 1.0);
    }
    memcpy(bt->Y + (size_t)b * bt->n_out, y, (size_t)bt->n_out * sizeof *y);
}

/* Solve one phase for rows 0..nb-1 in state set H (warm: H holds the start),
 * nudge beta (0: free phase).  Returns the number of sweeps, or -1 when
 * not converged. */
static int bt_phase(eqs_solver *s, int nb, double **H, double beta)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    const eqs_layers *L = s->layers;
    const int NL = bt->L, last = NL - 1;
    const double tol = s->opt.bcd_tol_V;
    const int current = bt->set.nudge == EQS_NUDGE_CURRENT;
    int sw;
    for (sw = 1; sw <= s->opt.bcd_max_sweeps; ++sw) {
        double maxd = 0;
        for (int parity = 1; parity >= 0; --parity) {
            for (int l = 1; l < NL; ++l) {
                if ((l & 1) != parity) continue;
                const int n = bt->n[l];
                double *R = bt->R;
                /* R = drive from below (the shared input drive P1 for layer 1)
                 * + from above */
                const double *base = NULL;
                if (l == 1) {
                    base = bt->P1;
                    if (l < last)
                        gemm(&bt->threads, 0, 1, nb, n, bt->n[l + 1], 1.0, H[l + 1], bt->n[l + 1],
                             bt->W[l + 1], bt->n[l + 1], 0.0, R, n);
                    else
                        R = bt->P1, base = NULL;
                } else {
                    gemm(&bt->threads, 0, 0, nb, n, bt->n[l - 1], 1.0, H[l - 1], bt->n[l - 1],
                         bt->W[l], n, 0.0, R, n);
                    if (l < last)
                        gemm(&bt->threads, 0, 1, nb, n, bt->n[l + 1], 1.0, H[l + 1], bt->n[l + 1],
                             bt->W[l + 1], bt->n[l + 1], 1.0, R, n);
                }
                if (l == last && R == bt->P1 && beta != 0.0) {
                    memcpy(bt->R, bt->P1, (size_t)nb * n * sizeof *R);
                    R = bt->R;
                }
                double *S = bt->S;
                for (int j = 0; j < n; ++j) S[j] = bt->Sdn[l][j] + bt->Sup[l][j];
                if (l == last && beta != 0.0) {
                    for (int k = 0; k < bt->n_out; ++k) {
                        int j = bt->out_idx[k];
                        if (!current) S[j] += beta;
                        for (int b = 0; b < nb; ++b) {
                            double y = bt->Y[(size_t)b * bt->n_out + k];
                            R[(size_t)b * n + j] +=
                                current ? beta * (y - bt->F[l][(size_t)b * n + j]) : beta * y;
                        }
                    }
                }
                double *h = H[l];
                const int off = L->off[l];
                if (ly->ideal) {
                    const double *lo = bt->lo[l], *hi = bt->hi[l];
                    for (int j = 0; j < n; ++j) S[j] = 1.0 / S[j];
                    for (int b = 0; b < nb; ++b) {
                        double *hb = h + (size_t)b * n;
                        const double *rb = R + (size_t)b * n;
                        const double *pb = base ? base + (size_t)b * n : NULL;
                        for (int j = 0; j < n; ++j) {
                            double v = (pb ? rb[j] + pb[j] : rb[j]) * S[j];
                            v = v < lo[j] ? lo[j] : v;
                            v = v > hi[j] ? hi[j] : v;
                            double d = fabs(v - hb[j]);
                            maxd = d > maxd ? d : maxd;
                            hb[j] = v;
                        }
                    }
                } else {
                    for (int b = 0; b < nb; ++b) {
                        double *hb = h + (size_t)b * n;
                        const double *rb = R + (size_t)b * n;
                        const double *pb = base ? base + (size_t)b * n : NULL;
                        for (int j = 0; j < n; ++j) {
                            double v = node_solve(L, ly, L->node[off + j], S[j],
                                                  pb ? rb[j] + pb[j] : rb[j], hb[j]);
                            double d = fabs(v - hb[j]);
                            if (!(d <= maxd)) maxd = d;
                            hb[j] = v;
                        }
                    }
                }
            }
        }
        if (!(maxd == maxd)) return -1;
        if (maxd <= tol) return sw;
    }
    return -1;
}

static eqs_status bt_free_phase(eqs_solver *s, int nb, double *out)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    const eqs_layers *L = s->layers;
    double t0 = eqs_now_s();
    eqs_status st = prepare(s); /* fixed voltages and diode intervals */
    if (st != EQS_OK) return st;
    s->has_solution = 0;
    for (int l = 1; l < bt->L; ++l) {
        for (int j = 0; j < bt->n[l]; ++j) {
            int nd = L->node[L->off[l] + j];
            bt->lo[l][j] = ly->lo[nd];
            bt->hi[l][j] = ly->hi[nd];
        }
        memset(bt->F[l], 0, (size_t)nb * bt->n[l] * sizeof *bt->F[l]);
    }
    gemm(&bt->threads, 0, 0, nb, bt->n[1], bt->n[0], 1.0, bt->X, bt->n[0], bt->W[1], bt->n[1],
         0.0, bt->P1, bt->n[1]);
    int sw = bt_phase(s, nb, bt->F, 0.0);
    ly->phase_s += eqs_now_s() - t0;
    ly->phases++;
    if (sw < 0)
        return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                         "layered solver: batch free phase did not converge in %d sweeps",
                         s->opt.bcd_max_sweeps);
    ly->sweeps += sw;
    const int last = bt->L - 1, n = bt->n[last];
    for (int b = 0; b < nb; ++b)
        for (int k = 0; k < bt->n_out; ++k)
            out[(size_t)b * bt->n_out + k] = bt->F[last][(size_t)b * n + bt->out_idx[k]];
    return EQS_OK;
}

/* Nudged phase beta into state set H, warm from the free state. */
static eqs_status bt_nudged(eqs_solver *s, int nb, double **H, double beta)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    double t0 = eqs_now_s();
    for (int l = 1; l < bt->L; ++l)
        memcpy(H[l], bt->F[l], (size_t)nb * bt->n[l] * sizeof *H[l]);
    if (beta == 0.0) return EQS_OK;
    int sw = bt_phase(s, nb, H, beta);
    ly->phase_s += eqs_now_s() - t0;
    ly->phases++;
    if (sw < 0)
        return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                         "layered solver: batch nudged phase did not converge in %d sweeps",
                         s->opt.bcd_max_sweeps);
    ly->sweeps += sw;
    return EQS_OK;
}

static eqs_status bt_train(eqs_solver *s, int nb, double lr_scale)
{
    layered *ly = s->impl;
    struct batch *bt = ly->bt;
    const eqs_batch_setup *set = &bt->set;
    eqs_status st = bt_nudged(s, nb, bt->A, set->beta1);
    if (st == EQS_OK) st = bt_nudged(s, nb, bt->Bs, set->beta2);
    if (st != EQS_OK) return st;
    const double coef = eqs_eqprop_contrast_coef(set->beta1, set->beta2, (double)nb);
    const double mu = set->momentum, lo = set->g_lo_S, hi = set->g_hi_S;
    for (int l = 1; l < bt->L; ++l) {
        if (bt->rate[l] < 0) continue;
        const int ni = bt->n[l - 1], nj = bt->n[l];
        const double lr = lr_scale * bt->rate[l];
        /* upper difference and column term */
        double *D = bt->D, *ct = bt->cterm, *rt = bt->rterm;
        for (int j = 0; j < nj; ++j) ct[j] = 0;
        for (int b = 0; b < nb; ++b) {
            const double *a = bt->A[l] + (size_t)b * nj, *c2 = bt->Bs[l] + (size_t)b * nj;
            double *d = D + (size_t)b * nj;
            for (int j = 0; j < nj; ++j) {
                d[j] = c2[j] - a[j];
                ct[j] += d[j] * (c2[j] + a[j]);
            }
        }
        for (int i = 0; i < ni; ++i) rt[i] = 0;
        if (l == 1) {
            /* M = mu M - 2 coef X^T (H2 - H1) */
            gemm(&bt->threads, 1, 0, ni, nj, nb, -2.0 * coef, bt->X, ni, D, nj, mu, bt->M[l], nj);
        } else {
            /* a2 b2 - a1 b1 = a2 (b2 - b1) + (a2 - a1) b1 */
            double *E = bt->E;
            for (int b = 0; b < nb; ++b) {
                const double *a = bt->A[l - 1] + (size_t)b * ni,
                             *c2 = bt->Bs[l - 1] + (size_t)b * ni;
                double *e = E + (size_t)b * ni;
                for (int i = 0; i < ni; ++i) {
                    e[i] = c2[i] - a[i];
                    rt[i] += e[i] * (c2[i] + a[i]);
                }
            }
            gemm(&bt->threads, 1, 0, ni, nj, nb, -2.0 * coef, bt->Bs[l - 1], ni, D, nj, mu,
                 bt->M[l], nj);
            gemm(&bt->threads, 1, 0, ni, nj, nb, -2.0 * coef, E, ni, bt->A[l], nj, 1.0, bt->M[l],
                 nj);
        }
        /* fused pass: m += coef (row + column terms), optimizer, sums */
        double *W = bt->W[l], *M = bt->M[l], *sd = bt->Sdn[l];
        double *su = l >= 2 ? bt->Sup[l - 1] : NULL;
        for (int j = 0; j < nj; ++j) ct[j] *= coef, sd[j] = 0;
        for (int i = 0; i < ni; ++i) {
            double *w = W + (size_t)i * nj, *m = M + (size_t)i * nj;
            const double ri = coef * rt[i];
            double rs = 0;
            for (int j = 0; j < nj; ++j) {
                double G = eqs_sgd_update(w[j], &m[j], 1.0, ct[j] + ri, lr, lo, hi);
                w[j] = G;
                sd[j] += G;
                rs += G;
            }
            if (su) su[i] = rs;
            if (!isfinite(rs))
                return EQS_ERROR(s->ctx, EQS_ERR_NOCONV,
                                 "training diverged: a conductance of crossbar %d is not finite",
                                 l);
        }
    }
    bt->dirty = 1;
    return EQS_OK;
}

static const eqs_batch_ops layered_batch = {
    .setup = bt_setup,
    .load = bt_load,
    .free_phase = bt_free_phase,
    .train = bt_train,
    .sync = bt_sync,
    .pull = bt_pull,
    .momentum = bt_momentum,
};

const eqs_backend_ops eqs_backend_layered = {
    .name = "layered",
    .create = ly_create,
    .solve = ly_solve,
    .destroy = ly_destroy,
    .adjoint = ly_adjoint,
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

eqs_status eqs_layered_floor(eqs_ctx *ctx, int n_in, int n_hidden, int batch, double seconds,
                             double *samples_per_s)
{
    *samples_per_s = 0;
    if (n_in < 1 || n_hidden < 1 || batch < 1)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "floor: sizes must be positive");
    size_t B = (size_t)batch, n0 = (size_t)n_in, n1 = (size_t)n_hidden;
    double *X = eqs_malloc(ctx, B * n0 * sizeof *X), *W = eqs_malloc(ctx, n0 * n1 * sizeof *W);
    double *P = eqs_malloc(ctx, B * n1 * sizeof *P), *M = eqs_calloc(ctx, n0 * n1, sizeof *M);
    eqs_status st = EQS_OK;
    if (!X || !W || !P || !M) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < B * n0; ++i) X[i] = (double)(i % 255) / 255.0;
    for (size_t i = 0; i < n0 * n1; ++i) W[i] = 1e-6 * (double)(1 + i % 97);
    openblas_set_num_threads(LY_BLAS_THREADS);
    long reps = 0;
    double t0 = eqs_now_s(), t = t0;
    do {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, n_hidden, n_in, 1.0, X,
                    n_in, W, n_hidden, 0.0, P, n_hidden);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_in, n_hidden, batch, -1e-3, X,
                    n_in, P, n_hidden, 0.9, M, n_hidden);
        reps++;
        t = eqs_now_s();
    } while (t - t0 < seconds);
    *samples_per_s = (double)reps * (double)batch / (t - t0);
done:
    eqs_free(ctx, X);
    eqs_free(ctx, W);
    eqs_free(ctx, P);
    eqs_free(ctx, M);
    return st;
}
