/*
 * newton.h: private header of the Newton backend, shared by its three
 * files:
 *   newton.c         Newton proper: set / iterate / test, the driver (gmin
 *                    and source stepping), the backend table, adjoint, ncep;
 *   newton_linear.c  the linear part Jlin / b0: full refresh from all values
 *                    and incremental updates from the circuit's change logs
 *                    (conductances, inputs), and its test hook;
 *   newton_fixed.c   the currents of the eliminated (grounded) voltage
 *                    sources: their sparse rows and ngspice's branch-current
 *                    convergence test on them.
 */
#ifndef EQS_NEWTON_H
#define EQS_NEWTON_H

#include "solver.h"

#include "../devices/devices.h"

/* Everything a conductance change touches, in one 48-byte record per
 * parameter, so that applying a change costs about one cache miss
 * (warm re-solves after thousands of changes in a 1.6 M-resistor net).
 * The voltages of fixed terminals are not copied here but read through
 * ra / rb (row_vf), so that an input change never touches the plans. */
typedef struct {
    double g;        /* conductance currently stamped (S) */
    int s[4];        /* Jlin slots (R layout of circuit.h) */
    int ua, ub;      /* unknowns of n[0] / n[1], -1 if eliminated */
    int ra, rb;      /* fixed-node rows of n[0] / n[1], -1 if not fixed */
    int ca, cb;      /* fx entries of terminal n[0] / n[1], -1 if none */
} nt_rplan;

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
    double *fs;   /* per-row sum of |terms| (n) */
    double *cm;   /* per-row largest element current (n) */
    double *vn;   /* all circuit node voltages (n_nodes) */
    double *vfix1; /* fixed node voltages at scale 1, 0 for others (n_nodes) */
    int *diag;    /* slot of (i,i) for node unknowns (n_node_unknowns) */
    nt_rplan *plan; /* per parameter (n_params) */

    int nd;       /* diodes */
    int *d_elem;
    const eqs_device **d_dev; /* device table of each nonlinear element */
    eqs_devparams *dp;
    double *d_v;  /* junction voltage of the last evaluation (V) */
    double *d_i;  /* junction current of the last evaluation (A) */
    double *d_g;  /* junction conductance of the last evaluation (S) */
    double *d_vp, *d_ip, *d_gp; /* the same for the evaluation before */

    /* Currents of the eliminated (grounded) voltage sources, which ngspice
     * carries as branch unknowns and tests like every unknown: per fixed
     * node f (row fx_row[f]), the current leaving f through the linear
     * elements is  s * fx_s0[r] + sum fx_x[q] x[fx_j[q]]  (q in row r);
     * diodes touching f are added from their companion models. */
    int n_fx;
    int *fx_row;  /* node -> row, -1 if the node is not fixed (n_nodes) */
    int *fx_p, *fx_j;
    double *fx_x, *fx_s0;
    double *fx_new, *fx_old; /* work (n_fx) */
    /* Cheap path: linear part of the currents at a reference point
     * (fx_lref at x_ref, scale fx_sref) and per-row sums of |coefficients|
     * bound the currents at nearby points without a pass over all
     * entries (1.6 M in a 784-1024-10 DRN). */
    double *fx_gsum, *fx_lref, *x_ref;
    double fx_sref;
    int fx_ref_ok;
    int *fx_node; /* row -> fixed node (n_fx) */

    /* Input changes (a new value of the grounded source fixing the node of
     * row r), applied in O(degree) by input_apply when fx_inc[r]: every
     * element touching the node has no branch and the input rule
     * EQS_INPUT_CONDUCTANCE (a resistor) or EQS_INPUT_NONE (a diode, a
     * current source, the fixing source itself; devices.h).  Then the
     * row's fx entries are exactly the conductances to unknowns
     * (fx_x = -G), and fx_ee[fx_ep[r] .. fx_ep[r + 1]) lists the other
     * conductances at the node (to ground or to another fixed node).
     * Otherwise (a controlled source or a branch touches the node) a
     * change refreshes everything. */
    unsigned char *fx_inc;
    int *fx_ep, *fx_ee;

    const eqs_nudge *nu; /* the solver's nudge (EqProp), applied in load/residual */
    double *x_saved, *dv_saved; /* eqs_solver_save_state (lazily allocated) */

    /* Non-conservative EqProp (ncep_capture / ncep_enable, allocated on
     * first capture): K = -(J0 - J0^T) on the (structurally symmetric MNA)
     * pattern, nc_tslot[q] the slot of the transposed entry, nc_x0 the
     * free state s0 and nc_Kx0 = K s0.  While nc_on, load() adds K to Ax
     * and K s0 to rhs, residual() adds K (x - s0). */
    double *nc_K, *nc_x0, *nc_Kx0;
    int *nc_tslot;
    int nc_on;

    uint64_t seen_epoch, seen_values_epoch, seen_ichg_epoch;
    int seen_pos, seen_ipos;
    double n_incremental; /* changes applied since the last full refresh */

    /* per-iteration state */
    double scale, gshunt;
    int init_jct, damped;
    int cold;     /* this attempt started from zero */
    int iterations;
    double max_update;
    double resid;
    int worst_row;
} newton;

static inline int unk(const eqs_circuit *c, int nd) { return nd < 0 ? -1 : c->node_unknown[nd]; }

/* Fixed voltage (scale 1) of the node of fixed-node row r; 0 when r < 0
 * (a free node or ground: exactly VF of that node). */
static inline double row_vf(const newton *nt, int r)
{
    return r >= 0 ? nt->vfix1[nt->fx_node[r]] : 0.0;
}

/* newton_fixed.c */
eqs_status eqs_newton_fx_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt);
eqs_status eqs_newton_in_build(eqs_ctx *ctx, const eqs_circuit *c, newton *nt);
void eqs_newton_fx_fill(const eqs_circuit *c, newton *nt);
int eqs_newton_fx_converged(const eqs_circuit *c, newton *nt, const eqs_solver_options *opt);

/* newton_linear.c */
void eqs_newton_refresh_all(const eqs_circuit *c, newton *nt);
int eqs_newton_refresh_values(const eqs_circuit *c, newton *nt);

#endif /* EQS_NEWTON_H */
