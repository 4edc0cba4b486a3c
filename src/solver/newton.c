/* newton.c: STUB, replaced by the Newton backend. */
#include "solver.h"

static eqs_status nt_create(eqs_solver *s)
{
    return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED, "newton backend not implemented");
}
static eqs_status nt_solve(eqs_solver *s, eqs_solve_mode m, eqs_solve_info *i) { (void)m; (void)i; return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED, "not implemented"); }
static void nt_destroy(eqs_solver *s) { (void)s; }
const eqs_backend_ops eqs_backend_newton = {.name = "newton", .create = nt_create, .solve = nt_solve, .destroy = nt_destroy};
