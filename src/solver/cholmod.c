/*
 * cholmod.c: the symmetric positive definite linear solver (CHOLMOD
 * simplicial Cholesky).  The only file that includes cholmod.h.
 *
 * The matrix header points at the caller's Ap/Ai/Ax arrays (lower
 * triangle, stype -1, int indices): nothing is copied.  cholmod_analyze
 * runs once (AMD ordering); cholmod_factorize per new value set computes a
 * simplicial LL' factor (final_ll = TRUE), which reports a matrix that is
 * not positive definite through Common.status == CHOLMOD_NOT_POSDEF.
 * cholmod_solve2 reuses its solution and workspace arrays after the first
 * call.
 */
#include "solver.h"

#include <cholmod.h>
#include <string.h>

struct eqs_linsolve {
    eqs_ctx *ctx;
    int n;
    cholmod_common cm;
    int cm_started;
    cholmod_sparse A;   /* header over the caller's arrays */
    cholmod_factor *L;
    cholmod_dense B;    /* header over the right-hand side */
    cholmod_dense *X, *Y, *E; /* reused by cholmod_solve2 */
    int factored;
};

static void chm_destroy(eqs_linsolve **lsp)
{
    if (!lsp || !*lsp) return;
    eqs_linsolve *ls = *lsp;
    if (ls->cm_started) {
        cholmod_free_factor(&ls->L, &ls->cm);
        cholmod_free_dense(&ls->X, &ls->cm);
        cholmod_free_dense(&ls->Y, &ls->cm);
        cholmod_free_dense(&ls->E, &ls->cm);
        cholmod_finish(&ls->cm);
    }
    eqs_free(ls->ctx, ls);
    *lsp = NULL;
}

static eqs_status chm_create(eqs_ctx *ctx, int n, const int *Ap, const int *Ai, int symmetric,
                             eqs_linsolve **out)
{
    *out = NULL;
    if (!symmetric)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "CHOLMOD needs a symmetric (lower) pattern");
    eqs_linsolve *ls = eqs_calloc(ctx, 1, sizeof *ls);
    if (!ls) return EQS_ERR_NOMEM;
    ls->ctx = ctx;
    ls->n = n;
    cholmod_start(&ls->cm);
    ls->cm_started = 1;
    ls->cm.print = 0;              /* never print; errors come back as status */
    ls->cm.error_handler = NULL;
    ls->cm.supernodal = CHOLMOD_SIMPLICIAL; /* ~10x faster on our matrices */
    ls->cm.final_ll = 1;           /* LL': not positive definite is detected */
    ls->cm.nmethods = 1;           /* AMD only: deterministic and quick */
    ls->cm.method[0].ordering = CHOLMOD_AMD;
    ls->cm.postorder = 1;

    ls->A.nrow = ls->A.ncol = (size_t)n;
    ls->A.nzmax = (size_t)Ap[n];
    ls->A.p = (void *)Ap;
    ls->A.i = (void *)Ai;
    ls->A.x = NULL;
    ls->A.stype = -1;
    ls->A.itype = CHOLMOD_INT;
    ls->A.xtype = CHOLMOD_PATTERN;
    ls->A.dtype = CHOLMOD_DOUBLE;
    ls->A.sorted = 1;
    ls->A.packed = 1;

    ls->B.nrow = (size_t)n;
    ls->B.ncol = 1;
    ls->B.nzmax = (size_t)n;
    ls->B.d = (size_t)n;
    ls->B.xtype = CHOLMOD_REAL;
    ls->B.dtype = CHOLMOD_DOUBLE;

    ls->L = cholmod_analyze(&ls->A, &ls->cm);
    if (!ls->L || ls->cm.status < CHOLMOD_OK) {
        int status = ls->cm.status;
        chm_destroy(&ls);
        return EQS_ERROR(ctx, status == CHOLMOD_OUT_OF_MEMORY ? EQS_ERR_NOMEM : EQS_ERR_INTERNAL,
                         "CHOLMOD symbolic analysis failed (status %d)", status);
    }
    ls->A.xtype = CHOLMOD_REAL;
    *out = ls;
    return EQS_OK;
}

/* 0: factored; 1: not positive definite (recoverable); < 0: fatal. */
static int chm_factor(eqs_linsolve *ls, const double *Ax)
{
    ls->A.x = (void *)Ax;
    ls->factored = 0;
    int ok = cholmod_factorize(&ls->A, ls->L, &ls->cm);
    if (ls->cm.status == CHOLMOD_NOT_POSDEF) return 1;
    if (!ok || ls->cm.status < CHOLMOD_OK) return -1;
    if (ls->L->minor < (size_t)ls->n) return 1;
    ls->factored = 1;
    return 0;
}

static int chm_solve(eqs_linsolve *ls, double *b)
{
    if (!ls->factored) return -1;
    ls->B.x = b;
    if (!cholmod_solve2(CHOLMOD_A, ls->L, &ls->B, NULL, &ls->X, NULL, &ls->Y, &ls->E, &ls->cm))
        return -1;
    memcpy(b, ls->X->x, (size_t)ls->n * sizeof *b);
    return 0;
}

const eqs_linsolve_ops eqs_linsolve_cholmod = {
    .name = "cholmod",
    .create = chm_create,
    .factor = chm_factor,
    .solve = chm_solve,
    .solve_transpose = chm_solve, /* A is symmetric */
    .destroy = chm_destroy,
};
