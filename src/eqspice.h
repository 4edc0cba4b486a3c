/*
 * eqspice.h: the one public header of eqspice.
 *
 * Data flows one way: netlist -> circuit -> solver (-> eqprop -> export).
 * Every object is an opaque handle created with *_create / *_read and
 * released with *_free(T **), which accepts NULL and sets the pointer to
 * NULL.  Every function that can fail returns an eqs_status and records a
 * message in the context (eqs_ctx_error).  Units are SI throughout:
 * volts (V), amperes (A), siemens (S), ohms (Ohm), seconds (s).
 *
 * This header exposes no third-party type.
 */
#ifndef EQSPICE_H
#define EQSPICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EQS_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Status codes: OK = 0, errors < 0, warnings > 0 (one list).          */
/* ------------------------------------------------------------------ */
#define EQS_STATUS_LIST(X)                                                  \
    X(EQS_OK, 0, "success")                                                 \
    X(EQS_WARN_NEGATIVE_R, 1, "negative resistance")                        \
    X(EQS_WARN_IGNORED, 2, "input ignored")                                 \
    X(EQS_ERR_NOMEM, -1, "out of memory")                                   \
    X(EQS_ERR_IO, -2, "input/output error")                                 \
    X(EQS_ERR_PARSE, -3, "syntax error")                                    \
    X(EQS_ERR_INPUT, -4, "invalid input")                                   \
    X(EQS_ERR_TOPOLOGY, -5, "invalid circuit topology")                     \
    X(EQS_ERR_NOCONV, -6, "no convergence")                                 \
    X(EQS_ERR_SINGULAR, -7, "singular matrix")                              \
    X(EQS_ERR_NGSPICE, -8, "ngspice error")                                 \
    X(EQS_ERR_UNSUPPORTED, -9, "unsupported feature")                       \
    X(EQS_ERR_INTERNAL, -10, "internal error")

typedef enum {
#define EQS_X_ENUM(name, code, text) name = code,
    EQS_STATUS_LIST(EQS_X_ENUM)
#undef EQS_X_ENUM
} eqs_status;

/* "EQS_ERR_PARSE" etc.; "EQS_UNKNOWN_STATUS" for a code not in the list. */
const char *eqs_status_name(eqs_status s);
/* Human-readable text of a status ("syntax error"). */
const char *eqs_strerror(eqs_status s);
/* 1 when the status blames the user's input (CLI exit 1), 0 otherwise
 * (CLI exit 2 for the remaining errors). */
int eqs_status_is_user_error(eqs_status s);

/* ------------------------------------------------------------------ */
/* Context: allocator counters, log sink, last error, RNG, counters.   */
/* ------------------------------------------------------------------ */
typedef struct eqs_ctx eqs_ctx;

typedef enum {
    EQS_LOG_ERROR = 0,
    EQS_LOG_WARN = 1,
    EQS_LOG_INFO = 2,
    EQS_LOG_DEBUG = 3
} eqs_log_level;

typedef void (*eqs_log_fn)(void *user, eqs_log_level level, const char *msg);

eqs_status eqs_ctx_create(eqs_ctx **out);
void eqs_ctx_free(eqs_ctx **ctx);
/* Route log messages at or below max_level to fn (NULL fn: discard). */
void eqs_ctx_set_log(eqs_ctx *ctx, eqs_log_fn fn, void *user, eqs_log_level max_level);
/* Status of the last recorded error (EQS_OK if none). */
eqs_status eqs_ctx_status(const eqs_ctx *ctx);
/* Last error, formatted "file:line:col: error: message" when the error is
 * in the user's input, "error: message" otherwise; "" if none. Borrowed. */
const char *eqs_ctx_error(const eqs_ctx *ctx);
/* Forget the last error. */
void eqs_ctx_clear_error(eqs_ctx *ctx);
/* Number of allocations made through the context so far (tests use it to
 * check that loops do not allocate). */
uint64_t eqs_ctx_alloc_count(const eqs_ctx *ctx);

/* Deterministic RNG streams (xoshiro256** seeded by splitmix64). */
typedef enum { EQS_RNG_INIT = 0, EQS_RNG_SHUFFLE = 1, EQS_RNG_NOISE = 2, EQS_RNG_NSTREAMS = 3 } eqs_rng_stream;
void eqs_ctx_seed(eqs_ctx *ctx, uint64_t seed);
uint64_t eqs_ctx_get_seed(const eqs_ctx *ctx);
/* Uniform 64-bit integer / double in [0, 1) from one stream. */
uint64_t eqs_rng_u64(eqs_ctx *ctx, eqs_rng_stream stream);
double eqs_rng_uniform(eqs_ctx *ctx, eqs_rng_stream stream);

/* ------------------------------------------------------------------ */
/* Netlist: SPICE text -> flattened element list.                      */
/* ------------------------------------------------------------------ */
typedef struct eqs_netlist eqs_netlist;

/* Read a netlist file (and its .include files); subcircuits are expanded
 * and parameters evaluated.  On error *out is NULL and the context holds
 * "file:line:col: error: ...". */
eqs_status eqs_netlist_read(eqs_ctx *ctx, const char *path, eqs_netlist **out);
/* Same, from a string; `name` is used as the file name in messages and
 * .include paths are relative to the current directory. */
eqs_status eqs_netlist_read_string(eqs_ctx *ctx, const char *text, const char *name,
                                   eqs_netlist **out);
void eqs_netlist_free(eqs_netlist **nl);

/* ------------------------------------------------------------------ */
/* Circuit: compiled topology (node elimination, pattern, slots).      */
/* ------------------------------------------------------------------ */
typedef struct eqs_circuit eqs_circuit;

/* Compile a netlist.  The circuit borrows nl: free the circuit first.
 * Rejects floating nodes, voltage-source loops, zero/non-finite R. */
eqs_status eqs_circuit_create(eqs_ctx *ctx, const eqs_netlist *nl, eqs_circuit **out);
void eqs_circuit_free(eqs_circuit **c);

/* User-visible nodes, index 0 is ground.  Names are lower case. */
int eqs_circuit_node_count(const eqs_circuit *c);
const char *eqs_circuit_node_name(const eqs_circuit *c, int node);
/* Index of a node by name (case-insensitive), -1 if absent. */
int eqs_circuit_node_find(const eqs_circuit *c, const char *name);
/* 1 when the reduced Jacobian is symmetric (CHOLMOD path), 0 for MNA/KLU. */
int eqs_circuit_is_reciprocal(const eqs_circuit *c);
/* Number of unknowns of the Newton system. */
int eqs_circuit_unknown_count(const eqs_circuit *c);

/* Trainable elements (resistors selected by .trainable, or all resistors). */
int eqs_circuit_param_count(const eqs_circuit *c);
const char *eqs_circuit_param_name(const eqs_circuit *c, int k);
/* Conductance of trainable element k, in S. */
double eqs_circuit_param_get(const eqs_circuit *c, int k);
/* Change conductance k (S, finite and non-zero); the topology and the
 * solver's symbolic factorisation stay valid. */
eqs_status eqs_circuit_param_set(eqs_circuit *c, int k, double conductance_S);

/* ------------------------------------------------------------------ */
/* Solver: DC operating point.                                         */
/* ------------------------------------------------------------------ */
typedef struct eqs_solver eqs_solver;

typedef enum { EQS_BACKEND_NEWTON = 0, EQS_BACKEND_NGSPICE = 1 } eqs_backend_id;

typedef struct {
    double reltol;     /* Default: 1e-6 (SPICE: 1e-3; netlist .options reltol) */
    double abstol;     /* Default: 1e-12 A (KCL residual, .options abstol) */
    double vntol;      /* Default: 1e-6 V (.options vntol) */
    double gmin;       /* Default: 1e-12 S across every junction (.options gmin) */
    int itl1;          /* Default: 100 Newton iterations per attempt (.options itl1) */
    int gmin_steps;    /* Default: 10 decades of gmin stepping before giving up */
    int source_steps;  /* Default: 10 source-stepping increments */
    double max_step_V; /* Default: 10 V, largest Newton step on a node not limited otherwise */
    int use_netlist_options; /* Default: 1: values given in .options override the above */
    unsigned explicit_mask;  /* Default: 0. Bits EQS_OPT_*: fields set by the caller that
                                win over the netlist's .options (e.g. command-line flags) */
} eqs_solver_options;

enum {
    EQS_OPT_RELTOL = 1u << 0,
    EQS_OPT_ABSTOL = 1u << 1,
    EQS_OPT_VNTOL = 1u << 2,
    EQS_OPT_GMIN = 1u << 3,
    EQS_OPT_ITL1 = 1u << 4
};

void eqs_solver_options_defaults(eqs_solver_options *opt);

typedef struct {
    int iterations;        /* Newton iterations of the last solve (all attempts) */
    double residual_A;     /* largest |KCL residual| at the solution */
    double max_update_V;   /* last Newton update, max norm */
    const char *backend;   /* "newton-cholmod", "newton-klu", "ngspice" (static) */
    int used_gmin_stepping;
    int used_source_stepping;
} eqs_solve_info;

typedef enum {
    EQS_SOLVE_COLD = 0, /* start from zero, full convergence aids */
    EQS_SOLVE_WARM = 1  /* start from the previous solution of this solver */
} eqs_solve_mode;

/* Create a solver for circuit c (borrowed, must outlive the solver).
 * opt NULL means defaults.  Symbolic analysis happens here, once. */
eqs_status eqs_solver_create(eqs_ctx *ctx, eqs_circuit *c, eqs_backend_id backend,
                             const eqs_solver_options *opt, eqs_solver **out);
void eqs_solver_free(eqs_solver **s);
/* Solve for the DC operating point with the circuit's current values. */
eqs_status eqs_solver_solve(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info);
/* Node voltages (V) of the last successful solve, indexed like
 * eqs_circuit_node_name, entry 0 (ground) is 0.  Borrowed. */
const double *eqs_solver_voltages(const eqs_solver *s);
/* Parse "newton" / "ngspice"; returns -1 on an unknown name. */
int eqs_backend_from_name(const char *name);
const char *eqs_backend_name(eqs_backend_id b);

/* Nudge for EqProp phases: for each k, an extra conductance g_S[k] (S,
 * any sign) from user node nodes[k] to ground and a current inj_A[k] (A)
 * injected into that node; its KCL gains g V - inj.  A conductance beta
 * to an ideal source at y_k is g = beta, inj = beta * y_k.  The nodes
 * must be free (not ground, not held by a voltage source: EQS_ERR_INPUT).
 * Applies to every following solve until replaced or cleared.  The first
 * call (or one with more nodes than before) allocates; later calls do
 * not.  Newton adds it to the assembled matrix and residual; ngspice gets
 * it as extra VCCS and current-source cards. */
eqs_status eqs_solver_set_nudge(eqs_solver *s, int n, const int *nodes, const double *g_S,
                                const double *inj_A);
void eqs_solver_clear_nudge(eqs_solver *s);
/* Remember the last solution as the warm start point / go back to it
 * (voltages and, for Newton, the iterate and junction voltages).  The
 * first save allocates.  EQS_ERR_INPUT without a solution / saved state. */
eqs_status eqs_solver_save_state(eqs_solver *s);
eqs_status eqs_solver_restore_state(eqs_solver *s);
/* Adjoint solve at the last solution: J^T lambda = b, J the Jacobian of
 * the KCL residual (currents leaving each node, A) with respect to the
 * unknowns at the solution, diode conductances included, nudge excluded.
 * b and lambda have eqs_circuit_node_count entries (user nodes); b of
 * ground/fixed nodes is ignored and their lambda is 0.  Refactors the
 * Jacobian at the solution.  Newton only (EQS_ERR_UNSUPPORTED else). */
eqs_status eqs_solver_adjoint(eqs_solver *s, const double *b, double *lambda);

/* ------------------------------------------------------------------ */
/* Generators.                                                         */
/* ------------------------------------------------------------------ */
typedef struct {
    int n_layers;          /* >= 2: input, hidden..., output */
    const int *layers;     /* sizes; layers[0] = input pixels */
    uint64_t seed;         /* Default: 1 */
    double gain;           /* input gain A (V per unit pixel). Default: 1 */
    double g_min_S;        /* conductances uniform in [g_min_S, g_max_S]. Default: 1e-6 */
    double g_max_S;        /* Default: 1e-4 */
    int bias;              /* 1: each hidden node gets a bias source in its diode branch. Default: 0 */
    double bias_V;         /* Default: 0.0 V */
    double diode_is_A;     /* Default: 1e-14 A */
    double diode_n;        /* Default: 1 */
} eqs_drn_spec;

void eqs_drn_spec_defaults(eqs_drn_spec *spec);
/* Write a layered diode-resistor network netlist to `out`.  Input values
 * are drawn uniformly in [0,1) from the seed. */
eqs_status eqs_gen_drn(eqs_ctx *ctx, const eqs_drn_spec *spec, FILE *out);

/* ------------------------------------------------------------------ */
/* EqProp gradients (src/eqprop/, docs/eqprop.md).                     */
/* ------------------------------------------------------------------ */
/* Loss C = 1/2 sum_k (V_k - y_k)^2 (V^2) over the netlist's .output nodes.
 * Nudged phases minimise E + beta C: beta > 0 pulls the outputs TOWARD
 * their targets.  Gradients are dL/dG in V^2/S for every trainable
 * element (eqs_circuit_param_*), i.e. the gradient, not the update. */
typedef struct eqs_eqprop eqs_eqprop;

typedef enum {
    EQS_GRAD_ADJOINT = 0,  /* exact: implicit differentiation (Newton only) */
    EQS_GRAD_EQPROP = 1,   /* one-sided EqProp, phases (0, +beta) */
    EQS_GRAD_NEGATIVE = 2, /* one-sided EqProp, phases (-beta, 0) */
    EQS_GRAD_CENTERED = 3  /* centered EqProp, phases (-beta, +beta) */
} eqs_grad_method;

typedef enum {
    EQS_NUDGE_CONDUCTANCE = 0, /* conductance beta from each output to a source at y_k */
    EQS_NUDGE_CURRENT = 1      /* constant currents beta (y_k - V_k^free) */
} eqs_nudge_kind;

typedef struct {
    eqs_grad_method method; /* Default: EQS_GRAD_CENTERED */
    double beta_S;          /* nudge strength (S), > 0.  Default: 0 = automatic,
                               eqs_eqprop_default_beta */
    eqs_nudge_kind nudge;   /* Default: EQS_NUDGE_CONDUCTANCE */
} eqs_grad_options;

void eqs_grad_options_defaults(eqs_grad_options *opt);
/* "adjoint", "eqprop" (also "positive"), "negative", "centered"; -1 if unknown. */
int eqs_grad_method_from_name(const char *name);
const char *eqs_grad_method_name(eqs_grad_method m);
/* "conductance", "current"; -1 if unknown. */
int eqs_nudge_kind_from_name(const char *name);
const char *eqs_nudge_kind_name(eqs_nudge_kind k);

/* Gradient machinery on solver s (borrowed; its circuit must outlive ep).
 * Errors (EQS_ERR_INPUT): the netlist has no .output card, an output node
 * is held by a voltage source.  Allocates everything the phases need. */
eqs_status eqs_eqprop_create(eqs_ctx *ctx, eqs_solver *s, eqs_eqprop **out);
void eqs_eqprop_free(eqs_eqprop **ep);
int eqs_eqprop_output_count(const eqs_eqprop *ep);
/* User node index (eqs_circuit_node_name) of output k, in .output order. */
int eqs_eqprop_output_node(const eqs_eqprop *ep, int k);
/* Targets y_k (V), one per output in .output order; must be finite. */
eqs_status eqs_eqprop_set_targets(eqs_eqprop *ep, const double *y_V);
/* Default beta (S): 1e-3 times the mean trainable conductance (all
 * resistors if none is trainable; 1e-9 S without resistors). */
double eqs_eqprop_default_beta(const eqs_eqprop *ep);
/* Loss (V^2) of node voltages v (eqs_solver_voltages layout). */
double eqs_eqprop_loss(const eqs_eqprop *ep, const double *v);
/* Free phase (no nudge) from a cold or warm start; *loss_V2 may be NULL.
 * Its state becomes the warm start of every nudged phase. */
eqs_status eqs_eqprop_free_phase(eqs_eqprop *ep, eqs_solve_mode mode, double *loss_V2);
/* Gradient estimate (or exact gradient) after eqs_eqprop_free_phase:
 * grad has eqs_circuit_param_count entries (V^2/S).  Nudged phases start
 * warm from the free state; afterwards the solver is back at the free
 * state, nudge cleared.  Nothing is allocated here. */
eqs_status eqs_eqprop_gradient(eqs_eqprop *ep, const eqs_grad_options *opt, double *grad);
/* Node voltages (V) of the last phase pair used by eqs_eqprop_gradient
 * (beta_1 < beta_2) and of the free phase; borrowed, user-node layout. */
const double *eqs_eqprop_voltages(const eqs_eqprop *ep, int which /* 0 free, 1, 2 */);

#ifdef __cplusplus
}
#endif
#endif /* EQSPICE_H */
