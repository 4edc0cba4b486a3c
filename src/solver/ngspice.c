/* ngspice.c: STUB, replaced by the ngspice backend. */
#include "solver.h"

static eqs_status ng_create(eqs_solver *s)
{
    return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED, "ngspice backend not implemented");
}
static eqs_status ng_solve(eqs_solver *s, eqs_solve_mode m, eqs_solve_info *i) { (void)m; (void)i; return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED, "not implemented"); }
static void ng_destroy(eqs_solver *s) { (void)s; }
const eqs_backend_ops eqs_backend_ngspice = {.name = "ngspice", .create = ng_create, .solve = ng_solve, .destroy = ng_destroy};
