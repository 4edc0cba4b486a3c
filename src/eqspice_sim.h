/*
 * eqspice_sim.h: the simulation layer of the public API: status codes, the
 * context, netlists, circuits, solvers and network generators.
 * Included by eqspice.h, the header programs include.
 */
#ifndef EQSPICE_SIM_H
#define EQSPICE_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EQS_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

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
/* Number of blocks released through the context so far: after every object
 * made through ctx has been freed, it equals eqs_ctx_alloc_count. */
uint64_t eqs_ctx_free_count(const eqs_ctx *ctx);

/* Allocator hooks (CHOLMOD's cholmod_common malloc/free, Lua's lua_Alloc):
 * every allocation of the library goes through them (eqs_calloc is
 * malloc_fn + memset).  malloc_fn and realloc_fn return NULL on failure;
 * the library then records EQS_ERR_NOMEM and unwinds.  Sizes are never 0.
 * Not covered: the eqs_ctx itself (libc calloc), and the memory that the
 * third-party libraries allocate for themselves (CHOLMOD, KLU, libxml2,
 * zlib, cairo, libngspice, libc's getline/realpath/open_memstream). */
typedef struct {
    void *(*malloc_fn)(void *user, size_t size);
    void *(*realloc_fn)(void *user, void *p, size_t size);
    void (*free_fn)(void *user, void *p);
    void *user; /* passed to the three functions */
} eqs_allocator;
/* Install hooks (NULL: libc malloc/realloc/free, the default).  Only
 * while nothing allocated through ctx is alive (eqs_ctx_alloc_count ==
 * eqs_ctx_free_count), since blocks must be freed by the allocator that
 * made them: EQS_ERR_INPUT otherwise, and also when a hook is NULL. */
eqs_status eqs_ctx_set_allocator(eqs_ctx *ctx, const eqs_allocator *a);

/* Deterministic RNG streams (xoshiro256** seeded by splitmix64). */
typedef enum { EQS_RNG_INIT = 0, EQS_RNG_SHUFFLE = 1, EQS_RNG_NOISE = 2, EQS_RNG_NSTREAMS = 3 } eqs_rng_stream;
void eqs_ctx_seed(eqs_ctx *ctx, uint64_t seed);
uint64_t eqs_ctx_get_seed(const eqs_ctx *ctx);
/* Uniform 64-bit integer / double in [0, 1) from one stream. */
uint64_t eqs_rng_u64(eqs_ctx *ctx, eqs_rng_stream stream);
double eqs_rng_uniform(eqs_ctx *ctx, eqs_rng_stream stream);

/* Ranks of a data-parallel run (docs/cluster.md).  The library is one
 * process unless eqs_par_init found itself started by an MPI launcher
 * (mpirun, srun: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the
 * environment) in a build with MPI (EQS_HAVE_MPI, OpenMPI optional at build
 * time); then the trainer splits every mini-batch over the ranks and rank 0
 * alone writes files.  Without a launcher no MPI call is made.
 * eqs_par_init returns the number of ranks (1 without MPI), or -1 when
 * started by a launcher in a build without MPI (the caller refuses: N
 * copies of one run would race on its files). */
int eqs_par_init(int *argc, char ***argv);
void eqs_par_finalize(void);
int eqs_par_rank(void);   /* 0 without MPI */
int eqs_par_size(void);   /* 1 without MPI */
int eqs_par_available(void); /* 1 when built with MPI */
/* Ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, SLURM_NTASKS_PER_NODE; 1). */
int eqs_par_local_size(void);
/* Collectives over all ranks (no-ops with one rank).  Every rank calls
 * them in the same order.  max: element-wise maximum in place (exact: the
 * same on every rank in any order); agree: the largest of the ranks'
 * codes (a status agreed on by all); bcast: root's bytes to every rank. */
void eqs_par_max(double *v, int n);
int eqs_par_agree(int code);
void eqs_par_bcast(void *buf, size_t bytes, int root);
/* Rows cut into n_parts near-equal contiguous parts (part p: the rows of
 * eqs_par_share(n_rows, p, n_parts)), the parts dealt to the ranks by
 * eqs_par_share(n_parts, rank, size): rank's rows [*first, *first+*count).
 * gather_parts: each rank's rows of an n_rows x row_bytes array (already in
 * place at their offset) copied to every rank, so that every rank ends
 * with the whole array. */
void eqs_par_part_rows(size_t n_rows, size_t n_parts, int rank, int size, size_t *first,
                       size_t *count);
void eqs_par_gather_parts(void *buf, size_t n_rows, size_t row_bytes, size_t n_parts);
/* Rank r's share of n items: [*first, *first + *count), contiguous, in
 * rank order, sizes differing by at most one (the first n % size ranks one
 * more). */
void eqs_par_share(size_t n, int rank, int size, size_t *first, size_t *count);
/* Wall time (s) this rank spent in the collectives above (0 without MPI). */
double eqs_par_comm_s(void);
/* Stop every rank (MPI_Abort) after an error only this rank saw. */
void eqs_par_abort(int code);

/* Output files written atomically, by the library's one writer (the
 * CLI's -o goes through it): the data goes to "<path>.tmp.<pid>" in the
 * same directory and is renamed over path by eqs_output_commit, so a
 * reader sees the old file or the new one, never a mixture.  An existing
 * symlink is written through (the file it names is replaced, the link
 * stays); an existing path that is not a regular file (/dev/null, a FIFO,
 * a terminal) is written in place.  The first failed write is kept and
 * reported by commit: "cannot write '<path>': <strerror>" (EQS_ERR_IO),
 * the temporary file removed.  commit and abort free *o and set it NULL. */
typedef struct eqs_output eqs_output;
eqs_status eqs_output_open(eqs_ctx *ctx, const char *path, eqs_output **out);
/* The stream to write to (borrowed; closed by commit/abort). */
FILE *eqs_output_stream(eqs_output *o);
eqs_status eqs_output_commit(eqs_output **o);
void eqs_output_abort(eqs_output **o);

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
/* Elements with a branch current in ngspice's sense (V, E, H), netlist
 * order, and ngspice's vector name of branch k written into buf
 * ("v1#branch"; a flattened name not starting with the element's letter
 * gets "<letter>." in front: "v.x1.vs#branch").  NULL if k is out of range. */
int eqs_circuit_branch_count(const eqs_circuit *c);
const char *eqs_circuit_branch_name(const eqs_circuit *c, int k, char *buf, size_t size);

/* Trainable elements (resistors selected by .trainable, or all resistors). */
int eqs_circuit_param_count(const eqs_circuit *c);
const char *eqs_circuit_param_name(const eqs_circuit *c, int k);
/* Conductance of trainable element k, in S. */
double eqs_circuit_param_get(const eqs_circuit *c, int k);
/* Change conductance k (S, finite and non-zero); the topology and the
 * solver's symbolic factorisation stay valid. */
eqs_status eqs_circuit_param_set(eqs_circuit *c, int k, double conductance_S);
/* Update state of parameter k: the momentum (velocity) of SGD with
 * momentum, kept with the value in the circuit's parameter store (0 after
 * compilation; a trainer starts from 0). */
double eqs_circuit_momentum_get(const eqs_circuit *c, int k);
eqs_status eqs_circuit_momentum_set(eqs_circuit *c, int k, double momentum);

/* ------------------------------------------------------------------ */
/* Solver: DC operating point.                                         */
/* ------------------------------------------------------------------ */
typedef struct eqs_solver eqs_solver;

typedef enum {
    EQS_BACKEND_NEWTON = 0,
    EQS_BACKEND_NGSPICE = 1,
    EQS_BACKEND_LAYERED = 2, /* exact block coordinate descent on layered networks */
    EQS_BACKEND_AUTO = 3     /* layered when the circuit is layered, else newton */
} eqs_backend_id;

/* Diode model of the solve.  Ideal diodes (the DRN model) are constraints
 * V >= V_anode (or V <= V_cathode) at a free node: only the layered solver
 * handles them (newton and ngspice refuse). */
typedef enum { EQS_DIODES_SHOCKLEY = 0, EQS_DIODES_IDEAL = 1 } eqs_diode_kind;

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
    /* Layered solver (docs/solver.md, "Layered solver"): */
    eqs_diode_kind diodes; /* Default: EQS_DIODES_SHOCKLEY */
    double bcd_tol_V;      /* stop when, over one sweep, every node's exact update (its
                              KCL residual divided by its conductance to its neighbours)
                              is at most this.  Default: 1e-10 V */
    int bcd_max_sweeps;    /* Default: 10000 sweeps per solve (EQS_ERR_NOCONV beyond) */
    int single;            /* 1: batched training in single precision. Default: 0 */
    int threads;           /* batched training: 2 = the large crossbars' work split over the
                              caller and one helper thread (when the machine has 2 cores),
                              1 = the caller alone.  Same results either way.  Default: 2 */
    int split_min;         /* batched training: crossbars with at least this many
                              conductances are split over the two cores (smaller ones run
                              on the caller; a product too small to split costs more in
                              hand-offs than it gains).  Default: 262144 (2^18) */
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
    double core_s;         /* wall time of the solve proper (s): ngspice's "op"
                              command alone (without loading the deck); for
                              newton the whole eqs_solver_solve call */
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
/* Branch currents (A) at the last solution, eqs_circuit_branch_count
 * entries: ngspice's v1#branch, the current flowing into the + terminal,
 * through the source, out of the - terminal (so a source delivering power
 * has a negative current).  Computed by KCL from the node voltages of the
 * solve (any backend) and the device equations.  EQS_ERR_UNSUPPORTED with
 * ideal diodes. */
eqs_status eqs_solver_branch_currents(const eqs_solver *s, double *i_A);
/* Parse "newton" / "ngspice" / "layered" / "auto"; returns -1 on an unknown name. */
int eqs_backend_from_name(const char *name);
const char *eqs_backend_name(eqs_backend_id b);
/* Parse "shockley" / "ideal"; -1 if unknown. */
int eqs_diode_kind_from_name(const char *name);
const char *eqs_diode_kind_name(eqs_diode_kind k);
/* Backend a solver actually uses (EQS_BACKEND_AUTO resolved). */
eqs_backend_id eqs_solver_backend(const eqs_solver *s);
/* 1 when c is a layered network (docs/solver.md); else 0 and `why` (may be
 * NULL) gets the reason.  -1 when out of memory. */
int eqs_circuit_is_layered(const eqs_circuit *c, char *why, size_t why_len);
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
/* Differential nudge (output pairs, .output_pair): for each k a
 * conductance g_S[k] (S, any sign) between user nodes pos[k] and neg[k]
 * and a current inj_A[k] (A) injected into pos[k] and drawn from neg[k]:
 * KCL of pos gains g (V_pos - V_neg) - inj, KCL of neg the opposite.  A
 * conductance beta in series with a source y_k from pos to neg is
 * g = beta, inj = beta * y_k.  Either node may be ground or held by a
 * source (its terms drop), not both; pos != neg; when both are free the
 * pair's coupling must be in the compiled pattern (declared by
 * .output_pair), else EQS_ERR_INPUT.  Replaces any per-node nudge (and
 * eqs_solver_set_nudge replaces any pair nudge); eqs_solver_clear_nudge
 * clears both.  Allocation as for eqs_solver_set_nudge. */
eqs_status eqs_solver_set_nudge_pairs(eqs_solver *s, int n, const int *pos, const int *neg,
                                      const double *g_S, const double *inj_A);
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
    int g_fan_in;          /* 1: g_init="fan_in": crossbar l's conductances uniform in
                              [g_min_S, g_fan_in_S / sqrt(n_l)], n_l its fan-in (nodes
                              feeding each node of layer l: 2 layers[0] for l = 1, else
                              layers[l-1]); g_max_S is not used (docs/tuning.md).
                              Default: 0 */
    double g_fan_in_S;     /* scale of g_fan_in (S).  Default: 0.5 S (0.0126 S at the
                              2 x 784 inputs of the Fashion-MNIST DRNs) */
    int bias;              /* 1: each hidden node gets a bias source in its diode branch. Default: 0 */
    double bias_V;         /* Default: 0.0 V */
    int bias_mirrored;     /* 1: the bias of a V <= 0 diode (dn) is -bias_V, so that
                              with Shockley diodes both knees sit at bias_V - V_f
                              around 0 V (the "bias rails" of a physical DRN); 0:
                              every bias source at bias_V.  Default: 0 */
    double diode_is_A;     /* Default: 1e-14 A */
    double diode_n;        /* Default: 1 */
    int output_pairs;      /* 1: differential outputs, 2 nodes o<k>p, o<k>n per unit
                              of the last layer and .output_pair.  Default: 0 */
    double amplifier_gain; /* > 0: a bidirectional amplifier stage (Kendall et al.
                              2020: VCVS of this gain forward, CCCS of its inverse
                              backward; netlists/bidir_amp.cir) between every hidden
                              node and the next crossbar: a non-reciprocal (KLU)
                              network, train it with ncep.  Default: 0 = none */
    double rails_V;        /* > 0: trainable biases.  Two grounded sources hold rail
                              nodes bp at +rails_V and bn at -rails_V; every hidden and
                              output node j of layer l gets resistors r<l>_bp_<j> and
                              r<l>_bn_<j> to them (conductances g_min_S: zero net bias
                              at the start), so (G_bp - G_bn) rails_V acts as a signed
                              bias current.  Default: 0 = none */
    double rwire_ohm;      /* > 0: wire resistance of every crossbar, the resistance
                              (Ohm) of each row and column line segment (the
                              crossbar card's rwire=; docs/netlist.md).  Default: 0 =
                              ideal wires */
} eqs_drn_spec;

void eqs_drn_spec_defaults(eqs_drn_spec *spec);
/* Write a layered diode-resistor network netlist to `out`.  Input values
 * are drawn uniformly in [0,1) from the seed. */
eqs_status eqs_gen_drn(eqs_ctx *ctx, const eqs_drn_spec *spec, FILE *out);
/* The same network built directly as a netlist (no text): equal to what
 * eqs_netlist_read_string makes of eqs_gen_drn's text, crossbar records
 * included; its path is "generated drn". */
eqs_status eqs_drn_build(eqs_ctx *ctx, const eqs_drn_spec *spec, eqs_netlist **out);


#ifdef __cplusplus
}
#endif
#endif /* EQSPICE_SIM_H */
