/*
 * eqspice_hooks.h: test and benchmark hooks of the public API: measurements of
 * solver internals that tests and `eqspice bench` read; not needed to
 * simulate or train.
 * Included by eqspice.h, the header programs include.
 */
#ifndef EQSPICE_HOOKS_H
#define EQSPICE_HOOKS_H

#include "eqspice_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layered solver statistics since its creation: mean wall time (s) and
 * mean number of sweeps of one phase (a single solve, or one phase of a
 * whole batch in batched training).  Zero for other backends. */
void eqs_solver_layered_stats(const eqs_solver *s, double *phase_s, double *sweeps);
/* The layered solver's total wall time (s) in phases since its creation
 * (0 for other backends): the part of a training step that MPI ranks
 * divide (docs/cluster.md "Cost model"). */
double eqs_solver_layered_phase_total_s(const eqs_solver *s);
/* The "floor" of layered training: time the two GEMMs per sample of a
 * first crossbar n_in x n_hidden at batch B (input drive X W and contrast
 * X^T D, in double, or in single precision when `single` (sgemm, the
 * precision of a single-precision run), the same BLAS and threads as
 * training) for about `seconds` s; samples per second out. */
eqs_status eqs_layered_floor(eqs_ctx *ctx, int n_in, int n_hidden, int batch, double seconds,
                             int single, double *samples_per_s);

/* Newton: 1 when the last solve rebuilt its linear part from every
 * element value (after eqs_circuit_values_changed, a floating input
 * source, an input node touching a controlled source or branch, or the
 * periodic refresh that bounds rounding drift); 0 when it applied the
 * logged conductance and input changes incrementally (and for other
 * backends). */
int eqs_solver_full_refresh(const eqs_solver *s);

#ifdef __cplusplus
}
#endif
#endif /* EQSPICE_HOOKS_H */
