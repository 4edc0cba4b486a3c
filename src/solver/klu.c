/*
 * klu.c: the general sparse LU solver (KLU) for modified nodal analysis.
 * The only file that includes klu.h.
 *
 * klu_analyze once per pattern (AMD + BTF); klu_factor the first time and
 * whenever the previous pivot sequence went bad; klu_refactor (same
 * pivots, no allocation) for every later value set.  "Bad" means the
 * refactorisation failed or its reciprocal pivot ratio klu_rcond fell
 * below EQS_KLU_RCOND_REFACTOR.  A singular matrix is reported as
 * recoverable (> 0) so that Newton can answer with gmin stepping.
 */
#include "solver.h"

#include <klu.h>

/* klu_rcond below which a refactorisation's pivots are considered bad
 * and the matrix is factored again with fresh partial pivoting. */
#define EQS_KLU_RCOND_REFACTOR 1e-12

struct eqs_linsolve {
    eqs_ctx *ctx;
    int n;
    const int *Ap, *Ai;
    klu_common common;
    klu_symbolic *sym;
    klu_numeric *num;
    int factored;
};

static void klu_ls_destroy(eqs_linsolve **lsp)
{
    if (!lsp || !*lsp) return;
    eqs_linsolve *ls = *lsp;
    if (ls->num) klu_free_numeric(&ls->num, &ls->common);
    if (ls->sym) klu_free_symbolic(&ls->sym, &ls->common);
    eqs_free(ls->ctx, ls);
    *lsp = NULL;
}

static eqs_status klu_ls_create(eqs_ctx *ctx, int n, const int *Ap, const int *Ai,
                                int symmetric, eqs_linsolve **out)
{
    *out = NULL;
    if (symmetric)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "KLU needs the full (unsymmetric) pattern");
    eqs_linsolve *ls = eqs_calloc(ctx, 1, sizeof *ls);
    if (!ls) return EQS_ERR_NOMEM;
    ls->ctx = ctx;
    ls->n = n;
    ls->Ap = Ap;
    ls->Ai = Ai;
    klu_defaults(&ls->common);
    ls->sym = klu_analyze(n, (int *)Ap, (int *)Ai, &ls->common);
    if (!ls->sym) {
        int status = ls->common.status;
        klu_ls_destroy(&ls);
        return EQS_ERROR(ctx, status == KLU_OUT_OF_MEMORY ? EQS_ERR_NOMEM : EQS_ERR_INTERNAL,
                         "KLU symbolic analysis failed (status %d)", status);
    }
    *out = ls;
    return EQS_OK;
}

static int klu_full_factor(eqs_linsolve *ls, const double *Ax)
{
    if (ls->num) klu_free_numeric(&ls->num, &ls->common);
    ls->num = klu_factor((int *)ls->Ap, (int *)ls->Ai, (double *)Ax, ls->sym, &ls->common);
    if (!ls->num) {
        if (ls->common.status == KLU_SINGULAR) return 1;
        return ls->common.status == KLU_OUT_OF_MEMORY ? -2 : (ls->common.status < 0 ? -1 : 1);
    }
    if (ls->common.status == KLU_SINGULAR) return 1;
    if (!klu_rcond(ls->sym, ls->num, &ls->common) || ls->common.rcond == 0) return 1;
    return 0;
}

/* 0: factored; 1: singular (recoverable); < 0: fatal. */
static int klu_ls_factor(eqs_linsolve *ls, const double *Ax)
{
    int r;
    ls->factored = 0;
    if (ls->num) {
        int ok = klu_refactor((int *)ls->Ap, (int *)ls->Ai, (double *)Ax, ls->sym, ls->num,
                              &ls->common);
        if (ok && ls->common.status == KLU_OK && klu_rcond(ls->sym, ls->num, &ls->common) &&
            ls->common.rcond >= EQS_KLU_RCOND_REFACTOR) {
            ls->factored = 1;
            return 0;
        }
    }
    r = klu_full_factor(ls, Ax);
    if (r == 0) ls->factored = 1;
    else if (r > 0 && ls->num) klu_free_numeric(&ls->num, &ls->common);
    return r;
}

static int klu_ls_solve(eqs_linsolve *ls, double *b)
{
    if (!ls->factored) return -1;
    return klu_solve(ls->sym, ls->num, ls->n, 1, b, &ls->common) ? 0 : -1;
}

static int klu_ls_tsolve(eqs_linsolve *ls, double *b)
{
    if (!ls->factored) return -1;
    return klu_tsolve(ls->sym, ls->num, ls->n, 1, b, &ls->common) ? 0 : -1;
}

const eqs_linsolve_ops eqs_linsolve_klu = {
    .name = "klu",
    .create = klu_ls_create,
    .factor = klu_ls_factor,
    .solve = klu_ls_solve,
    .solve_transpose = klu_ls_tsolve,
    .destroy = klu_ls_destroy,
};
