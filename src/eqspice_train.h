/*
 * eqspice_train.h: the training layer of the public API: datasets, experiment
 * files, EqProp gradients, trainers, checkpoints, exports, run directories
 * and the run driver.
 * Included by eqspice.h, the header programs include.
 */
#ifndef EQSPICE_TRAIN_H
#define EQSPICE_TRAIN_H

#include "eqspice_sim.h"

#ifdef __cplusplus
extern "C" {
#endif
/* ------------------------------------------------------------------ */
/* Datasets                                                            */
/* ------------------------------------------------------------------ */
/* A dataset is n samples of d features (double, stored contiguously,
 * n x d, allocated once: 8 bytes per feature, 376 MB for the 60000
 * Fashion-MNIST training images) and one integer label in
 * [0, n_classes) per sample.  Formats and the synthetic tasks are
 * described in docs/datasets.md. */
typedef struct eqs_dataset eqs_dataset;

typedef struct {
    int n_classes;            /* labels must be < n_classes (error naming the record);
                                 0: infer as largest label + 1. Default: 0 */
    size_t limit;             /* read only the first `limit` samples; 0: all. Default: 0 */
    const char *label_column; /* CSV: header name of the label column, or its 1-based
                                 number ("3"); NULL: the last column. Default: NULL */
    int header;               /* CSV: -1 auto (the first row is a header when one of its
                                 fields is not a number), 0 none, 1 present. Default: -1 */
} eqs_dataset_options;

void eqs_dataset_options_defaults(eqs_dataset_options *opt);

/* Read a pair of IDX files (MNIST layout: images magic 0x00000803, or
 * 0x00000802 for plain feature vectors, unsigned bytes; labels magic
 * 0x00000801), each gzip-compressed or not (detected from the bytes
 * 1f 8b).  Pixels become features in [0,1] (byte / 255).  opt NULL means
 * defaults.  Errors name the file, the byte offset and the record. */
eqs_status eqs_dataset_read_idx(eqs_ctx *ctx, const char *images_path,
                                const char *labels_path, const eqs_dataset_options *opt,
                                eqs_dataset **out);
/* Read a CSV file: numeric feature columns and one integer label column;
 * every row has the same number of columns.  Errors are file:line:col. */
eqs_status eqs_dataset_read_csv(eqs_ctx *ctx, const char *path,
                                const eqs_dataset_options *opt, eqs_dataset **out);

/* Built-in synthetic tasks (exact definitions in docs/datasets.md):
 *   "xor":   2 features, 2 classes; points jittered around the four
 *            corners (0.25|0.75, 0.25|0.75), label = XOR of the corner bits;
 *   "blobs": n_features features, n_classes classes; class centres uniform
 *            in [0.2, 0.8]^d, label of sample i = i mod n_classes, features
 *            = centre + uniform jitter, clipped to [0,1].
 * Deterministic from `seed` alone (splitmix64); the context's RNG streams
 * are not touched. */
typedef struct {
    const char *name;  /* "xor" or "blobs". Default: "xor" */
    size_t n;          /* number of samples (>= 1). Default: 256 */
    uint64_t seed;     /* Default: 1 */
    int n_features;    /* blobs: d >= 1 (xor: must be 2 or 0). 0: task default (2 / 4) */
    int n_classes;     /* blobs: K >= 2 (xor: must be 2 or 0). 0: task default (2 / 3) */
    double noise;      /* half-width of the uniform jitter per feature; < 0: task
                          default (xor 0.15, must stay < 0.25; blobs 0.1) */
} eqs_synthetic_spec;

void eqs_synthetic_spec_defaults(eqs_synthetic_spec *spec);
eqs_status eqs_dataset_synthetic(eqs_ctx *ctx, const eqs_synthetic_spec *spec,
                                 eqs_dataset **out);

/* A copy of samples [first, first + count) (count clipped to the end). */
eqs_status eqs_dataset_subset(eqs_ctx *ctx, const eqs_dataset *ds, size_t first,
                              size_t count, eqs_dataset **out);
void eqs_dataset_free(eqs_dataset **ds);

size_t eqs_dataset_size(const eqs_dataset *ds);
int eqs_dataset_n_features(const eqs_dataset *ds);
/* Number of classes: given by the reader's options, else largest label + 1. */
int eqs_dataset_n_classes(const eqs_dataset *ds);
/* The d features of sample i (i < size).  Borrowed, valid until free. */
const double *eqs_dataset_features(const eqs_dataset *ds, size_t i);
/* All features, row-major n x d.  Borrowed. */
const double *eqs_dataset_feature_matrix(const eqs_dataset *ds);
int eqs_dataset_label(const eqs_dataset *ds, size_t i);
/* Where the data came from, for messages: the (images) file path or
 * "synthetic:xor".  Borrowed. */
const char *eqs_dataset_source(const eqs_dataset *ds);

/* EQS_ERR_INPUT naming the dataset when its samples do not have exactly
 * `expected` features (e.g. the network's input count). */
eqs_status eqs_dataset_check_features(eqs_ctx *ctx, const eqs_dataset *ds, int expected);
/* EQS_ERR_INPUT naming the first sample whose label is >= n_classes
 * (e.g. the network's output count). */
eqs_status eqs_dataset_check_labels(eqs_ctx *ctx, const eqs_dataset *ds, int n_classes);

/* Fill idx with 0..n-1. */
void eqs_shuffle_identity(size_t *idx, size_t n);
/* Permute idx in place (Fisher-Yates, i from n-1 down to 1, j uniform in
 * [0, i] by rejection from the context's EQS_RNG_SHUFFLE stream): the
 * same seed and the same number of earlier shuffles give the same order. */
void eqs_shuffle(eqs_ctx *ctx, size_t *idx, size_t n);

/* ------------------------------------------------------------------ */
/* Experiment files                                                    */
/* ------------------------------------------------------------------ */
/* An experiment file (XML, validated against models/experiment.xsd, which
 * is compiled into the program) describes one training run; every element
 * is documented in docs/experiment.md.  eqs_experiment_read fills this
 * plain struct; absent optional values hold the defaults noted here.
 * Paths are resolved: relative paths in the file are taken relative to
 * the directory of the XML file, and stored as absolute paths. */
typedef enum { EQS_NETWORK_NETLIST = 0, EQS_NETWORK_DRN = 1 } eqs_network_kind;
typedef enum { EQS_DATA_IDX = 0, EQS_DATA_CSV = 1, EQS_DATA_SYNTHETIC = 2 } eqs_data_kind;
/* Gradient method: of the experiment's <algorithm method=""> and of
 * eqs_eqprop_gradient; one set of names (eqs_grad_method_name). */
typedef enum {
    EQS_GRAD_CENTERED = 0, /* centered EqProp, phases (-beta, +beta) ("centered") */
    EQS_GRAD_EQPROP = 1,   /* one-sided EqProp, phases (0, +beta) ("positive", "eqprop") */
    EQS_GRAD_NEGATIVE = 2, /* one-sided EqProp, phases (-beta, 0) ("negative") */
    EQS_GRAD_ADJOINT = 3,  /* exact: implicit differentiation (Newton only) ("adjoint") */
    EQS_GRAD_AEQPROP = 4,  /* Agnostic EqProp (aeqprop.c): the update comes out of the
                              joint relaxation of states and parameters; reported as
                              -(G_after - G_before) / (epsilon (beta2 - beta1)) */
    EQS_GRAD_NCEP = 5      /* non-conservative EqProp (ncep.c): centered phases with the
                              -2A(s - s0) term, A = (J - J^T)/2 at the free state s0 */
} eqs_grad_method;
/* Phase pair of Agnostic EqProp (beta = the algorithm's beta). */
typedef enum {
    EQS_AEQ_CENTERED = 0,   /* (beta1, beta2) = (-beta/2, +beta/2) */
    EQS_AEQ_OPTIMISTIC = 1, /* (0, +beta) */
    EQS_AEQ_PESSIMISTIC = 2 /* (-beta, 0) */
} eqs_aeq_phases;
typedef enum {
    EQS_NUDGE_CONDUCTANCE = 0, /* conductance beta from each output to its target */
    EQS_NUDGE_CURRENT = 1      /* constant currents beta (y - V_free) */
} eqs_nudge_kind;
typedef enum {
    EQS_ENCODE_AUTO = 0,   /* pair if the network has 2 inputs per feature, else single */
    EQS_ENCODE_SINGLE = 1, /* feature i drives input source i at gain * x */
    EQS_ENCODE_PAIR = 2    /* feature i drives sources 2i, 2i+1 at +gain*x, -gain*x */
} eqs_input_encoding;

/* One learning-rate group: trainable elements whose (flattened, lower
 * case) name matches `pattern` (glob: * and ?, case-insensitive). */
typedef struct {
    char *pattern;
    double rate; /* >= 0, in S^2/V^2: the update is -rate * dL/dG (dL/dG in V^2/S) */
    int line;    /* line of the <rate> element */
} eqs_lr_group;

/* One part (train or test) of a file-based dataset. */
typedef struct {
    int present;  /* 0: no such part (test is optional) */
    char *images; /* IDX: images file (absolute); NULL for CSV */
    char *labels; /* IDX: labels file (absolute); NULL for CSV */
    char *path;   /* CSV: the file (absolute); NULL for IDX */
    size_t limit; /* first `limit` samples only; 0: all. Default: 0 */
} eqs_data_part;

typedef struct eqs_experiment {
    eqs_ctx *ctx;          /* owner of every allocation below (set by the reader) */
    char *source;          /* the file as named by the caller (NULL when built by hand) */
    char *dir;             /* absolute directory of the file: relative paths resolve here */
    char *eqspice_version; /* version attribute of a written copy, else NULL */

    /* <network>: a netlist or a generated DRN */
    eqs_network_kind network;
    char *netlist;    /* EQS_NETWORK_NETLIST: absolute path */
    eqs_drn_spec drn; /* EQS_NETWORK_DRN: layers owned by the experiment; gain = input_gain_V;
                         seed defaults to the training seed */

    /* <dataset> */
    eqs_data_kind data;
    int n_classes;       /* classes="": labels must be < n_classes; 0: infer. Default: 0 */
    eqs_data_part train; /* IDX and CSV */
    eqs_data_part test;
    char *label_column;  /* CSV: name or 1-based number; NULL: last column */
    int csv_header;      /* CSV: -1 auto, 0 no, 1 yes. Default: -1 */
    eqs_synthetic_spec synthetic; /* SYNTHETIC: name (owned), seed (default: the training
                                     seed), n_features, noise (< 0: task default); n and
                                     n_classes are set per part by the trainer */
    size_t synthetic_train; /* SYNTHETIC: training samples (>= 1) */
    size_t synthetic_test;  /* SYNTHETIC: test samples (0: none); generated after the
                               training samples from the same stream. Default: 0 */

    /* <input> */
    double input_gain_V;         /* volts per unit feature. Default: 1 V */
    eqs_input_encoding encoding; /* Default: EQS_ENCODE_AUTO */

    /* <targets>: one-hot targets */
    double target_on_V;  /* output of the correct class. Default: 1 V */
    double target_off_V; /* the other outputs. Default: 0 V */

    /* <algorithm> */
    eqs_grad_method algorithm; /* Default: EQS_GRAD_CENTERED */
    double beta;             /* > 0, nudging strength in S (conductance nudge). Required */
    eqs_nudge_kind nudge;    /* Default: EQS_NUDGE_CONDUCTANCE */
    double epsilon_S_per_V2; /* aeqprop: knob coupling (u - G)^2 / (2 epsilon), > 0 (S/V^2).
                                Default: 0 = automatic (see eqs_grad_options) */
    eqs_aeq_phases aeq_phases; /* aeqprop phase pair. Default: EQS_AEQ_CENTERED */

    /* <learning> */
    eqs_lr_group *lr; /* >= 1 groups, in file order: the first match wins; elements
                         matched by no group are not trained */
    int n_lr;
    double momentum; /* [0, 1). Default: 0 */
    double lr_decay; /* (0, 1]: rates are multiplied by it after every epoch. Default: 1 */
    int lr_cosine;   /* schedule="cosine": 1, rates also follow a cosine from 1 at the first
                        epoch to 0 after the last: 0.5 (1 + cos(pi e / epochs)) in epoch e
                        (0-based), times decay^e. Default: 0 (schedule="constant") */

    /* <training> */
    int epochs;    /* >= 1. Required */
    int batch;     /* >= 1 samples per update. Default: 1 */
    uint64_t seed; /* Default: 1 */
    int parts;     /* >= 1, <= batch: each mini-batch is cut into this many
                      contiguous parts of near-equal size, solved independently
                      (the layered solver's sweeps converge per part; the
                      per-sample path starts each part cold, history-free, and
                      each later sample of a part from its predecessor's
                      solution) and dealt to the MPI ranks, so that results are
                      bit-identical at any rank count (docs/cluster.md).
                      Default: 1 (the whole batch) */

    /* <conductance>: bounds applied after every update */
    double g_min_S; /* >= 0. Default: 0 S */
    double g_max_S; /* > g_min_S; INFINITY when not given. Default: none */
    char *device_model; /* device_model=: a device-model file (docs/devices.md),
                           absolute; every update goes through its law after the
                           clip. Default: NULL (ideal updates) */

    /* <solver> */
    eqs_backend_id backend; /* Default: EQS_BACKEND_AUTO */
    eqs_diode_kind diodes;  /* Default: EQS_DIODES_SHOCKLEY */
    int single;             /* precision="single": 1. Default: 0 (double) */
    int threads;            /* <solver threads>: 1 or 2. Default: 2 (eqs_solver_options) */
    int split_min;          /* <solver split_min>: >= 1; 0 = the solver's default */
    double bcd_tol_V;       /* layered solver's sweep tolerance (tol_V="", V, > 0); 0: the
                               trainer's default (eqs_trainer_options). Default: 0 */

    /* <output> */
    char *output_dir;     /* absolute path of the run directory (not created here) */
    int checkpoint_every; /* batches between checkpoints; 0: at the end of each epoch only.
                             Default: 0 */

    /* Line of each top-level element in the file (0 if absent), for
     * messages about values found wrong later (e.g. feature counts). */
    struct {
        int network, dataset, input, targets, algorithm, learning, training, conductance,
            solver, output;
    } line;
    unsigned implicit; /* EQS_EXP_IMPLICIT_* bits: values the file left to their rule (a
                          seed that follows the training seed, a task's default), so that
                          eqs_experiment_set re-derives them as an edit of the file would.
                          The written copy gives them explicitly. Default: 0 */
} eqs_experiment;

enum {
    EQS_EXP_IMPLICIT_DRN_SEED = 1u << 0,       /* <drn seed> absent: the training seed */
    EQS_EXP_IMPLICIT_SYNTH_SEED = 1u << 1,     /* <synthetic seed> absent: the training seed */
    EQS_EXP_IMPLICIT_SYNTH_NOISE = 1u << 2,    /* <synthetic noise> absent: the task's */
    EQS_EXP_IMPLICIT_SYNTH_FEATURES = 1u << 3, /* <synthetic features> absent: the task's */
    EQS_EXP_IMPLICIT_CLASSES = 1u << 4         /* <dataset classes> absent */
};

/* Read and validate an experiment file.  Parsing never loads DTDs or
 * external entities and never touches the network; documents with a
 * DOCTYPE are rejected.  Errors are "file:line:col: error: ..." for
 * malformed XML, schema violations and semantic errors (both networks,
 * g_max_S < g_min_S, missing files).  On error *out is NULL. */
eqs_status eqs_experiment_read(eqs_ctx *ctx, const char *path, eqs_experiment **out);
/* Write the experiment as XML (every value explicit, paths absolute,
 * numbers %.17g, eqspice_version set) atomically: temporary file in the
 * same directory, then rename.  The result validates against the same
 * schema and reads back equal. */
eqs_status eqs_experiment_write(eqs_ctx *ctx, const eqs_experiment *exp, const char *path);
void eqs_experiment_free(eqs_experiment **exp);
/* Learning rate of a trainable element: the first group whose pattern
 * matches `element` (case-insensitive); -1 when no group matches. */
double eqs_experiment_rate(const eqs_experiment *exp, const char *element);
/* The schema text compiled into the program (models/experiment.xsd). */
const char *eqs_experiment_schema(void);
/* Load the experiment's training set and, when it has one, its test set
 * (else *test is NULL): IDX or CSV files with the experiment's classes,
 * limits and CSV options, or the synthetic task generated once (train +
 * test samples) and split, training samples first.  Both sets get the same
 * n_classes (the larger one when inferred) and must have the same number of
 * features.  On error both are NULL. */
eqs_status eqs_experiment_load_data(eqs_ctx *ctx, const eqs_experiment *exp,
                                    eqs_dataset **train, eqs_dataset **test);

/* ------------------------------------------------------------------ */
/* EqProp gradients (src/eqprop/, docs/eqprop.md).                     */
/* ------------------------------------------------------------------ */
/* Loss C = 1/2 sum_k (V_k - y_k)^2 (V^2) over the netlist's .output nodes.
 * Nudged phases minimise E + beta C: beta > 0 pulls the outputs TOWARD
 * their targets.  Gradients are dL/dG in V^2/S for every trainable
 * element (eqs_circuit_param_*), i.e. the gradient, not the update. */
typedef struct eqs_eqprop eqs_eqprop;

/* eqs_grad_method is declared with the experiment file above. */

/* eqs_nudge_kind (EQS_NUDGE_CONDUCTANCE: a conductance beta from each output
 * to a source at y_k; EQS_NUDGE_CURRENT: constant currents beta (y_k -
 * V_k^free)) is declared with the experiment file above. */

typedef struct {
    eqs_grad_method method; /* Default: EQS_GRAD_CENTERED */
    double beta_S;          /* nudge strength (S), > 0.  Default: 0 = automatic,
                               eqs_eqprop_default_beta */
    eqs_nudge_kind nudge;   /* Default: EQS_NUDGE_CONDUCTANCE */
    double epsilon_S_per_V2; /* aeqprop only: knob coupling (u - G)^2 / (2 epsilon)
                                (S/V^2), > 0.  Default: 0 = automatic (aeqprop.c) */
    eqs_aeq_phases aeq_phases; /* aeqprop only.  Default: EQS_AEQ_CENTERED */
    double aeq_reltol;       /* aeqprop only: phase 2 has settled when every parameter is
                                within aeq_reltol * G of its exact minimiser given the
                                circuit state (KCL holds to the solver's tolerances).
                                Default: 1e-12 (0 also means the default) */
    int aeq_max_iter;        /* aeqprop only: cap on the circuit solves of phase 2
                                (EQS_ERR_NOCONV beyond).  Default: 100 (0: default) */
} eqs_grad_options;

void eqs_grad_options_defaults(eqs_grad_options *opt);
/* "adjoint", "positive" (also "eqprop"), "negative", "centered", "aeqprop",
 * "ncep"; -1 if unknown.  The name of a method is the one experiment files
 * use ("positive" for EQS_GRAD_EQPROP). */
int eqs_grad_method_from_name(const char *name);
const char *eqs_grad_method_name(eqs_grad_method m);
/* "conductance", "current"; -1 if unknown. */
int eqs_nudge_kind_from_name(const char *name);
const char *eqs_nudge_kind_name(eqs_nudge_kind k);
/* "centered", "optimistic", "pessimistic"; -1 if unknown. */
int eqs_aeq_phases_from_name(const char *name);
const char *eqs_aeq_phases_name(eqs_aeq_phases p);

/* Gradient machinery on solver s (borrowed; its circuit must outlive ep).
 * Errors (EQS_ERR_INPUT): the netlist has no .output card, an output node
 * is held by a voltage source.  Allocates everything the phases need. */
eqs_status eqs_eqprop_create(eqs_ctx *ctx, eqs_solver *s, eqs_eqprop **out);
void eqs_eqprop_free(eqs_eqprop **ep);
int eqs_eqprop_output_count(const eqs_eqprop *ep);
/* User node index (eqs_circuit_node_name) of output k, in .output order;
 * for differential outputs (.output_pair) the positive node of pair k. */
int eqs_eqprop_output_node(const eqs_eqprop *ep, int k);
/* Negative node of output pair k (.output_pair); 0 (ground) for a
 * single-ended output, -1 if out of range.  Output k's value is always
 * V[output_node] - V[output_neg] (V[0] = 0). */
int eqs_eqprop_output_neg(const eqs_eqprop *ep, int k);
/* 1 when the outputs are differential pairs (.output_pair). */
int eqs_eqprop_output_pairs(const eqs_eqprop *ep);
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

/* ------------------------------------------------------------------ */
/* Training runs and export                                            */
/* ------------------------------------------------------------------ */
/* Inputs and outputs of a compiled circuit, in the order of the
 * netlist's .input / .output cards. */
int eqs_circuit_input_count(const eqs_circuit *c);
/* Name of the k-th .input voltage source (lower case); NULL if out of range. */
const char *eqs_circuit_input_name(const eqs_circuit *c, int k);
/* Current value (V) of input source k; NaN if out of range. */
double eqs_circuit_input_get(const eqs_circuit *c, int k);
/* Drive input source k at `volts` (finite), grounded or floating.  O(1).
 * A grounded source is logged and the next Newton solve applies it in
 * O(resistors at its node); a floating source, or one whose node touches a
 * controlled source or a branch, makes the next Newton solve refresh its
 * linear part once (O(elements)).  Set all inputs of a sample, then solve. */
eqs_status eqs_circuit_input_set(eqs_circuit *c, int k, double volts);
/* Number of outputs (classes): .output nodes, or .output_pair pairs. */
int eqs_circuit_output_count(const eqs_circuit *c);
/* Node index (as in eqs_solver_voltages) of the k-th .output node (the
 * positive node of pair k with .output_pair); -1 if out of range. */
int eqs_circuit_output_node(const eqs_circuit *c, int k);
/* Negative node of pair k (.output_pair); 0 for single-ended outputs; -1
 * if out of range. */
int eqs_circuit_output_neg(const eqs_circuit *c, int k);

/* Write the circuit with its current values (trained conductances as
 * R = 1/G, input source values, %.17g) as a netlist that stock ngspice runs
 * (".op" included) and eqspice reads back with the same inputs, outputs
 * and trainable set.  The extension cards are written as "*eqspice .input
 * ..." comment lines (ngspice 39 rejects unknown dot cards; eqspice reads
 * these lines as cards, docs/training.md).  Atomic: temp file + rename. */
eqs_status eqs_export_netlist(eqs_ctx *ctx, const eqs_circuit *c, const char *path);
/* The same into an open stream (the caller checks and closes it). */
eqs_status eqs_export_netlist_file(eqs_ctx *ctx, const eqs_circuit *c, FILE *f);
/* CSV "element,conductance_S": one row per trainable element (flattened
 * lower-case name, %.17g).  Atomic. */
eqs_status eqs_export_conductances(eqs_ctx *ctx, const eqs_circuit *c, const char *path);
/* ---- Physical units (src/export/physical.c, docs/export.md "Physical units") ----
 * A DRN with ideal diodes keeps its equilibrium (voltages times a) when
 * every source voltage is multiplied by a and every conductance by b. */
typedef struct {
    double v_read_V; /* > 0: the input gain (the largest drive of a feature
                        in [0, 1]) becomes v_read_V; 0: voltages kept */
    double g_min_S, g_max_S; /* g_max_S > 0: the largest trained conductance
                        becomes g_max_S; those then below g_min_S are raised
                        to it.  0: conductances kept */
} eqs_physical_target;
void eqs_physical_target_defaults(eqs_physical_target *t);
/* ---- Hand-off to hardware teams (src/export/handoff.c, docs/export.md) ----
 * `src` is a run directory (its experiment.xml rebuilds the network with
 * its .crossbar records, trained.cir gives every trained value and the
 * evaluation settings) or a netlist (its own cards). */
enum {
    EQS_HANDOFF_CSV = 1u,      /* DIR/<crossbar>.csv (+ .levels.csv, .pulses.csv) */
    EQS_HANDOFF_SPICE = 2u,    /* DIR/top.cir */
    EQS_HANDOFF_MANIFEST = 4u, /* DIR/manifest.xml (always written; alone: it lists
                                  the files a full export would hold, with their
                                  SHA-256, without them) */
    EQS_HANDOFF_ALL = 7u
};
typedef struct {
    unsigned what;  /* EQS_HANDOFF_* bits. Default: EQS_HANDOFF_ALL */
    long sample;    /* sample of the run's test set (its training set without
                       one) that drives top.cir's input sources; -1: none, the
                       sources at 0 V (the only choice for a netlist).
                       Default: -1 (read as 0 for a run directory) */
    double dead_S;  /* import: the conductance a dead (open) cell gets, since
                       elements need a finite non-zero value. Default: 1e-12 S
                       (1 TOhm, SPICE's gmin) */
    long vectors;   /* export: > 0 writes vectors.csv (the input voltages of
                       the first `vectors` samples of the run's test set) and
                       expected.csv (eqspice's operating point of the exported
                       network for each: outputs, predicted class).  Default 0 */
    eqs_physical_target phys; /* export: the map onto a read voltage and a
                       device window (eqs_physical_map_apply) before anything
                       is written; the manifest's <physical> records it.
                       Default: none */
} eqs_handoff_options;
void eqs_handoff_options_defaults(eqs_handoff_options *opt);
/* Export the hand-off directory dir (must not exist): per crossbar
 * <name>.csv (rows = input lines, columns = output lines, S, %.17g, '# '
 * header lines: crossbar, rows, cols, nodes, units, device model, bounds),
 * with a device model that has levels <name>.levels.csv (level index) and
 * <name>.pulses.csv (up pulses from G_min); top.cir (one .subckt per
 * crossbar, the rest of the network, input sources at the sample, .op:
 * stock `ngspice -b top.cir` runs it); manifest.xml (models/manifest.xsd,
 * validated after writing: versions, seed, layer order, files, units,
 * device, bounds, levels, input encoding, gain, targets, SHA-256 of every
 * file).  Written into "<dir>.tmp.<pid>" and renamed; nothing is left on
 * error.  opt NULL: defaults. */
eqs_status eqs_handoff_export(eqs_ctx *ctx, const char *src, const char *dir,
                              const eqs_handoff_options *opt);
/* Read n conductance maps (files, or directories: every conductance map
 * their manifest.xml lists, each checked against its SHA-256; without a
 * manifest every <name>.csv but the .levels/.pulses companions) into the
 * network of `into` (run directory or netlist) and write it as the netlist
 * `out` with the evaluation cards (`eqspice eval OUT` takes it).  A map
 * needs '# units: S' (or siemens) or '# units: ohm'; a cell 'nan' or
 * 'dead' is a dead device, an open circuit (opt->dead_S).  Every file is
 * checked (checksum, shape, numbers, sign, units, missing files) before
 * anything is written; errors name file:line:col; nothing is written on
 * error. */
eqs_status eqs_handoff_import(eqs_ctx *ctx, const char *const *maps, int n, const char *into,
                              const char *out, const eqs_handoff_options *opt);

/* One file of a hand-off manifest (experiment/manifest.c). */
typedef struct {
    char *name;      /* file name inside the directory */
    char *kind;      /* "conductance", "levels", "pulses", "gpos", "gneg" or "spice" */
    char *crossbar;  /* crossbar of a map; NULL for top.cir */
    char *units;     /* "S", "level", "pulse"; NULL for top.cir */
    uint64_t bytes;  /* size */
    char sha256[65]; /* lower-case hex */
    int line;        /* line of its <file> element */
} eqs_manifest_file;
typedef struct {
    eqs_ctx *ctx;
    const char *path; /* the manifest file (owned) */
    int format_version;
    int n_files;
    eqs_manifest_file *files;
} eqs_manifest;
/* Read a manifest.xml validated against the compiled-in models/manifest.xsd
 * (no DTDs, no network); errors at file:line:col; *out NULL on error. */
eqs_status eqs_manifest_read(eqs_ctx *ctx, const char *path, eqs_manifest **out);
void eqs_manifest_free(eqs_manifest **m);
/* The compiled-in copy of models/manifest.xsd. */
const char *eqs_manifest_schema(void);

/* How a trained network is evaluated besides its netlist and the data: the
 * diode physics it was trained with, the input encoding and gain, the
 * target levels and the solver.  A trained netlist carries them as the
 * evaluation cards .diodes, .encoding, .targets and .solver (written as
 * "*eqspice" comment lines, docs/netlist.md "Evaluation cards"); `set`
 * says which fields a netlist's cards gave. */
enum {
    EQS_EVAL_DIODES = 1u << 0,    /* .diodes shockley|ideal */
    EQS_EVAL_ENCODING = 1u << 1,  /* .encoding single|pair */
    EQS_EVAL_GAIN = 1u << 2,      /* .encoding ... gain_V=X */
    EQS_EVAL_ON = 1u << 3,        /* .targets on_V=X */
    EQS_EVAL_OFF = 1u << 4,       /* .targets off_V=X */
    EQS_EVAL_BACKEND = 1u << 5,   /* .solver newton|layered|ngspice */
    EQS_EVAL_TOL = 1u << 6,       /* .solver ... tol_V=X */
    EQS_EVAL_PRECISION = 1u << 7, /* .solver ... precision=double|single */
    EQS_EVAL_BATCH = 1u << 8      /* .solver ... batch=N */
};
typedef struct {
    eqs_diode_kind diodes;       /* Default: EQS_DIODES_SHOCKLEY */
    eqs_input_encoding encoding; /* Default: EQS_ENCODE_AUTO */
    double input_gain_V;         /* volts per unit feature. Default: 1 V */
    double target_on_V;          /* Default: 1 V */
    double target_off_V;         /* Default: 0 V */
    eqs_backend_id backend;      /* Default: EQS_BACKEND_AUTO */
    double bcd_tol_V;            /* layered solver tolerance; 0: the trainer's. Default: 0 */
    int single;                  /* 1: batched layered path in float. Default: 0 */
    int batch;                   /* samples per batched (layered) evaluation. Default: 32 */
    unsigned set;                /* EQS_EVAL_* bits of the fields given. Default: 0 */
} eqs_eval_settings;

typedef struct {
    double a, b;            /* voltage and conductance factors */
    double g_lo_S, g_hi_S;  /* range of the trained conductances before the map */
    long n_params;          /* trained conductances */
    long n_raised;          /* raised to g_min_S */
    long n_clipped;         /* clipped by the network's own device windows */
} eqs_physical_map;
/* Apply the map to c (trained conductances, fixed resistors, sources,
 * controlled sources by their units; diodes as they are) and to the
 * evaluation settings ev (input gain, targets).  Errors: EQS_ERR_INPUT (a
 * bad target, no positive conductances), EQS_ERR_UNSUPPORTED (a nonlinear
 * memristor I-V with a != 1). */
eqs_status eqs_physical_map_apply(eqs_ctx *ctx, eqs_circuit *c, eqs_eval_settings *ev,
                                  const eqs_physical_target *t, eqs_physical_map *out);

void eqs_eval_settings_defaults(eqs_eval_settings *ev);
/* The evaluation cards of c's netlist (defaults where a card is absent;
 * ev->set names what the cards gave). */
void eqs_circuit_eval_settings(const eqs_circuit *c, eqs_eval_settings *ev);
/* Where the card holding field `bit` (one EQS_EVAL_*) is: 1 and file, line
 * (borrowed, valid while the netlist lives), or 0 when no card gave it. */
int eqs_circuit_eval_card_loc(const eqs_circuit *c, unsigned bit, const char **file, int *line);

/* Complete state of the context's RNG. */
typedef struct {
    uint64_t seed;
    uint64_t s[EQS_RNG_NSTREAMS][4]; /* xoshiro256** state per stream */
} eqs_rng_state;
void eqs_ctx_rng_state_get(const eqs_ctx *ctx, eqs_rng_state *out);
/* EQS_ERR_INPUT when a stream is all zero (not a valid xoshiro state). */
eqs_status eqs_ctx_rng_state_set(eqs_ctx *ctx, const eqs_rng_state *st);

/* Trainer state kept in a checkpoint besides the conductances (taken from
 * and restored into the circuit) and the RNG (taken from and restored into
 * the context). */
typedef struct {
    uint64_t epoch;   /* epochs completed */
    uint64_t batch;   /* batches completed in epoch `epoch` (0 at an epoch boundary) */
    double lr_scale;  /* learning-rate multiplier in force (lr_decay^epoch). Default: 1 */
    int momentum;     /* write: 1 stores the circuit's momentum (the update state of
                         its parameters), 0 none; read: unused */
    int has_momentum; /* read: 1 when the file held momentum (0: the circuit's
                         momentum was zeroed) */
    size_t *order;    /* sample order of the current epoch (the shuffle already drawn),
                         so that a run resumed mid-epoch continues it.  write: n_order
                         indices or NULL (none); read: caller's buffer or NULL */
    size_t n_order;   /* write: entries in order; read: capacity of order (the file's
                         count must match, else EQS_ERR_INPUT) */
    int has_order;    /* read: 1 when the file held an order */
} eqs_train_state;

/* Checkpoint file: binary, little-endian, versioned, checksummed
 * (docs/training.md).  Written atomically: temp file, fsync, rename,
 * fsync of the directory. */
#define EQS_CHECKPOINT_FORMAT 1
eqs_status eqs_checkpoint_write(eqs_ctx *ctx, const eqs_circuit *c, const eqs_train_state *st,
                                const char *path);
/* Read and validate a checkpoint (magic, format version, size, checksum,
 * topology hash of c, parameter count, RNG state, order length) and only
 * then apply it: conductances and momentum into c (bit-exact), RNG into
 * ctx, the rest into *st (st may be NULL).  Every failure, a missing file included, is EQS_ERR_INPUT
 * naming the file (EQS_ERR_IO for other read errors); nothing is changed
 * on error. */
eqs_status eqs_checkpoint_read(eqs_ctx *ctx, eqs_circuit *c, const char *path,
                               eqs_train_state *st);
/* Hash of the circuit's topology (node names, element kinds, names and
 * terminals, trainable set): a checkpoint only loads into the same network. */
uint64_t eqs_circuit_topology_hash(const eqs_circuit *c);

/* Run directory: metrics.csv, experiment.xml, checkpoint.bin, trained.cir,
 * conductances.csv, learning_curve.png (docs/training.md). */
typedef struct eqs_run eqs_run;
typedef enum {
    EQS_RUN_METRICS = 0,   /* metrics.csv */
    EQS_RUN_EXPERIMENT,    /* experiment.xml */
    EQS_RUN_CHECKPOINT,    /* checkpoint.bin */
    EQS_RUN_NETLIST,       /* trained.cir */
    EQS_RUN_CONDUCTANCES,  /* conductances.csv */
    EQS_RUN_PLOT,          /* learning_curve.png */
    EQS_RUN_NFILES
} eqs_run_file;

/* One row of metrics.csv.  Errors are fractions in [0, 1]; a missing test
 * set gives NaN (written "nan"). */
typedef struct {
    int epoch;          /* 1-based */
    double train_loss;  /* mean loss per sample (V^2) */
    double train_error; /* fraction misclassified */
    double test_loss;
    double test_error;
    double seconds;     /* wall time of the epoch (s) */
    unsigned warnings;  /* EQS_HEALTH_* flags of the epoch (column `warnings`, names
                           joined by '+', empty when healthy). Default: 0 */
} eqs_epoch_metrics;

/* How eqs_run_open found the directory (docs/training.md "Run directory"). */
typedef enum {
    EQS_RUN_MODE_NEW = 0, /* new or empty directory: the run starts at epoch 0 */
    EQS_RUN_MODE_RESTART, /* no checkpoint: an unfinished run stopped before its first
                             checkpoint (or --resume on an empty directory); metrics.csv
                             is reset to its header and the run starts at epoch 0 */
    EQS_RUN_MODE_RESUME   /* resume = 1 and checkpoint.bin present: continue from it */
} eqs_run_mode;

/* Open a run directory and lock it (flock on <dir>/eqspice.lock holding
 * the PID, released by eqs_run_close or the death of the process): a
 * directory another process holds is EQS_ERR_INPUT naming its PID.
 * resume = 0: create `dir` (and missing parents); a directory holding a
 * checkpoint or a finished run, or files that are not a run's, is
 * EQS_ERR_INPUT (never overwritten); an unfinished run without checkpoint
 * is restarted (EQS_RUN_MODE_RESTART).  resume = 1: `dir` must exist; with
 * checkpoint.bin it needs an eqspice metrics.csv, reopened for appending
 * (EQS_RUN_MODE_RESUME); without, the run restarts at epoch 0.  Temporary
 * files of interrupted runs are removed. */
eqs_status eqs_run_open(eqs_ctx *ctx, const char *dir, int resume, eqs_run **out);
eqs_run_mode eqs_run_get_mode(const eqs_run *run);
void eqs_run_close(eqs_run **run);
/* Absolute path of one of the run's files.  Borrowed. */
const char *eqs_run_path(const eqs_run *run, eqs_run_file f);
/* Copy of the experiment (seed and eqspice version included), atomic. */
eqs_status eqs_run_write_experiment(eqs_run *run, const eqs_experiment *exp);
/* Append one row (%.17g), then fflush and fsync. */
eqs_status eqs_run_metrics_append(eqs_run *run, const eqs_epoch_metrics *m);
/* Resume: drop metrics rows of epochs > `epochs_done` (rows written after
 * the checkpoint the run resumes from), atomically. */
eqs_status eqs_run_metrics_truncate(eqs_run *run, int epochs_done);

/* Learning curve: train and test error (%) against epoch from a metrics
 * CSV, drawn with cairo into a PNG of EQS_PLOT_WIDTH x EQS_PLOT_HEIGHT
 * pixels, atomically.  EQS_ERR_INPUT for a missing, empty or malformed
 * metrics file. */
#define EQS_PLOT_WIDTH 800
#define EQS_PLOT_HEIGHT 500
eqs_status eqs_plot_learning_curve(eqs_ctx *ctx, const char *metrics_csv, const char *png_path);


/* ------------------------------------------------------------------ */
/* Training (src/eqprop/train.c, docs/training.md "Trainer")           */
/* ------------------------------------------------------------------ */
/* The network an experiment describes: its netlist read, or its DRN spec
 * built (eqs_drn_build, which reseeds the context). */
eqs_status eqs_experiment_network(eqs_ctx *ctx, const eqs_experiment *exp, eqs_netlist **out);

typedef struct {
    eqs_solver_options solver; /* Default: eqs_solver_options_defaults with reltol 1e-12,
                                  vntol 1e-12 V, abstol 1e-15 A (EqProp differences
                                  nearby states), winning over the netlist's .options */
    double g_floor_S;          /* smallest conductance written back when the lower bound
                                  is below it (G = 0 is an open circuit). Default: 1e-12 S */
    /* Health checks at the end of every training epoch (docs/tuning.md,
     * "Warnings"): computed from what training solves anyway, nothing
     * allocated per step.  Each failed check sets an EQS_HEALTH_* flag of
     * the epoch (eqs_trainer_status.health, metrics.csv column `warnings`)
     * and logs a warning. */
    int health_checks;         /* 1: on, 0: off. Default: 1 */
    double health_loss_rel;    /* loss_flat: the epoch's mean training loss differs from
                                  the previous epoch's by at most this fraction of it
                                  (not checked in the first epoch of a process).
                                  Default: 1e-5 */
    double health_spread_rel;  /* outputs_constant: every output's range (max - min) over
                                  the epoch's samples is at most this times the target
                                  swing |on_V - off_V| (1 V when they are equal).
                                  Default: 1e-3 */
    double health_active_V;    /* hidden_off: a diode's unit counts as active in a sample
                                  when the diode is reverse-biased (V_cathode - V_anode)
                                  by more than this; the check fails when no diode was
                                  active in any sample of the epoch.  Sample-by-sample
                                  training only (the batched path keeps hidden voltages
                                  inside the solver).  Default: 1e-6 V */
} eqs_trainer_options;
void eqs_trainer_options_defaults(eqs_trainer_options *opt);

/* Health flags of a training epoch (eqs_trainer_options, docs/tuning.md). */
enum {
    EQS_HEALTH_LOSS_FLAT = 1u << 0,        /* mean training loss did not move */
    EQS_HEALTH_OUTPUTS_CONSTANT = 1u << 1, /* outputs (nearly) the same for every sample */
    EQS_HEALTH_ONE_CLASS = 1u << 2,        /* every sample predicted as the same class */
    EQS_HEALTH_HIDDEN_OFF = 1u << 3        /* no diode unit active in any sample */
};
/* The flags as names joined by '+' ("loss_flat+one_class"; "" for none)
 * into buf (always terminated); returns buf. */
const char *eqs_health_format(unsigned flags, char *buf, size_t len);

/* Trainer: set (create) / iterate (step) / test (progress, evaluate). */
typedef struct eqs_trainer eqs_trainer;

/* Train circuit c (borrowed, compiled from eqs_experiment_network) with the
 * experiment's encoding, targets, algorithm, beta, learning-rate groups,
 * momentum, decay, batch, bounds and solver backend (copied: exp may be
 * freed afterwards) on `train` (borrowed; NULL: evaluation only).  Checks
 * .input/.output cards, feature count against the inputs (pair: 2 sources
 * per feature, in .input order +x then -x) and labels against the outputs
 * (EQS_ERR_INPUT naming the dataset and the netlist).  Allocates every
 * buffer, then seeds the context with exp->seed.  opt NULL: defaults. */
eqs_status eqs_trainer_create(eqs_ctx *ctx, const eqs_experiment *exp, eqs_circuit *c,
                              const eqs_dataset *train, const eqs_trainer_options *opt,
                              eqs_trainer **out);
void eqs_trainer_free(eqs_trainer **tr);
/* Check that ds fits the network (features, labels); fixes the encoding. */
eqs_status eqs_trainer_check_data(eqs_trainer *tr, const eqs_dataset *ds);
/* One mini-batch: free phase (first sample cold, then warm), gradient per
 * sample, batch mean g; m <- momentum m + g; G <- clip(G - lr_scale rate m,
 * [max(g_min_S, g_floor_S), g_max_S]).  The first step of an epoch shuffles
 * (EQS_RNG_SHUFFLE); the last one ends the epoch (lr_scale *= decay).
 * Allocates nothing. */
eqs_status eqs_trainer_step(eqs_trainer *tr);
/* Driver: steps until the current epoch ends. */
eqs_status eqs_trainer_epoch(eqs_trainer *tr);
/* Mean loss (V^2) and error rate (fraction in [0,1]) of the free phases
 * over ds (first sample cold, then warm); NaN for an empty set.  Does not
 * change the conductances.  With a device model, the network evaluated is
 * the drifted one (eqs_trainer_drift) and every free phase reads through
 * the read noise.  Allocates nothing. */
eqs_status eqs_trainer_evaluate(eqs_trainer *tr, const eqs_dataset *ds, double *loss_V2,
                                double *error);
/* on 1: every trained conductance becomes what the device model's drift
 * leaves of it at drift_t_s (docs/devices.md); on 0: back to the values
 * before the last `on 1`.  Nothing without a drifting device model. */
eqs_status eqs_trainer_drift(eqs_trainer *tr, int on);
/* Progress of eqs_trainer_evaluate: fn(user, done, total) after every
 * sample (every batch on the batched path), so that a caller can report
 * long evaluations; the library itself measures no time.  fn NULL: none
 * (the default). */
typedef void (*eqs_trainer_eval_hook)(void *user, size_t done, size_t total);
void eqs_trainer_set_eval_hook(eqs_trainer *tr, eqs_trainer_eval_hook fn, void *user);

typedef struct {
    uint64_t epochs_done;       /* completed epochs */
    uint64_t batches_done;      /* batches completed in the current epoch */
    uint64_t batches_per_epoch; /* ceil(train size / batch) */
    double lr_scale;            /* decay^epochs_done */
    size_t samples;             /* samples trained in the current epoch (since resume) */
    double train_loss;          /* their mean free-phase loss before the update (V^2) */
    double train_error;         /* their error rate; NaN without samples */
    unsigned health;            /* EQS_HEALTH_* flags of the last completed epoch */
    double step_phase_s;        /* wall time of the layered solver's phases inside training
                                   steps since the trainer's creation (s; 0 on other
                                   solvers): the part of a step ranks divide */
} eqs_trainer_status;
void eqs_trainer_progress(const eqs_trainer *tr, eqs_trainer_status *out);
/* The solver the trainer uses (borrowed). */
const eqs_solver *eqs_trainer_solver(const eqs_trainer *tr);
/* Learning rate of parameter k (S^2/V^2); < 0 when it is not trained. */
double eqs_trainer_rate(const eqs_trainer *tr, int k);
/* Checkpoint with eqs_checkpoint_write: conductances, momentum, epoch,
 * batch, lr scale, RNG state and, mid-epoch, the epoch's sample order. */
eqs_status eqs_trainer_checkpoint_write(eqs_trainer *tr, const char *path);
/* Restore all of that; the next step continues where the checkpoint was. */
eqs_status eqs_trainer_checkpoint_read(eqs_trainer *tr, const char *path);
/* 1 when the trainer uses the batched path of its solver. */
int eqs_trainer_batched(const eqs_trainer *tr);
/* Input encoding in use: EQS_ENCODE_SINGLE or EQS_ENCODE_PAIR once a
 * dataset has been checked (auto resolved), else the experiment's. */
eqs_input_encoding eqs_trainer_encoding(const eqs_trainer *tr);

/* The trained netlist of a run (trained.cir): eqs_export_netlist's file
 * with the input sources at 0 V (a neutral state, not the last training
 * sample; they are restored in c afterwards) and the evaluation cards
 * (eqs_eval_settings) of the experiment and trainer that trained it:
 * diodes, resolved encoding, gain, targets, solver (backend actually used;
 * layered: tol_V, precision and, on the batched path, batch).  Atomic. */
eqs_status eqs_export_trained_netlist(eqs_ctx *ctx, eqs_circuit *c, const eqs_experiment *exp,
                                      const eqs_trainer *tr, const char *path);

/* ------------------------------------------------------------------ */
/* Experiments: defaults and set by path (src/experiment/experiment.c) */
/* ------------------------------------------------------------------ */
/* A new experiment holding the documented defaults of every optional value
 * (eqs_experiment above), with no network, no dataset, no learning-rate
 * group and <output dir="."> (relative paths resolve against the current
 * directory); complete it with eqs_experiment_set_many before training. */
eqs_status eqs_experiment_defaults(eqs_ctx *ctx, eqs_experiment **out);
/* Set one value by path (docs/experiment.md "Set by path"): the path names
 * the element and attribute of the experiment file, "training.epochs",
 * "algorithm.beta", "input.gain_V", "network.drn.layers",
 * "dataset.synthetic.train_size", "learning.rate[r1_*]" (the value of the
 * group with that pattern; a new pattern becomes the first group, so it
 * wins).  The value is text as in the file.  The experiment is written as
 * XML, the attribute set, and the result validated and read by the same
 * code as eqs_experiment_read (same schema, same checks): a bad path or
 * value is EQS_ERR_INPUT with a message naming the assignment, and leaves
 * exp unchanged. */
eqs_status eqs_experiment_set(eqs_experiment *exp, const char *path, const char *value);
/* Several assignments applied together and validated once (so that values
 * that depend on each other, or the parts an eqs_experiment_defaults
 * experiment lacks, can be given in any order).  Unchanged on error. */
eqs_status eqs_experiment_set_many(eqs_experiment *exp, int n, const char *const *paths,
                                   const char *const *values);
/* The evaluation settings an experiment gives (diodes, encoding when not
 * auto, gain, targets, solver when not auto, tolerance when set,
 * precision, batch), for eval RUNDIR (eqs_eval_settings). */
void eqs_experiment_eval_settings(const eqs_experiment *exp, eqs_eval_settings *ev);

/* ------------------------------------------------------------------ */
/* Run driver (src/run/driver.c, docs/training.md "Run driver")        */
/* ------------------------------------------------------------------ */
/* A job is one training run: experiment -> data -> network -> epochs ->
 * run directory, the work `eqspice train` does, callable from any program
 * (a sweep is a loop over jobs).  Set / iterate / test:
 *   eqs_job_create   data, network, circuit and trainer (no file written)
 *   eqs_job_open     the run directory (new, restart or resume, locked)
 *   eqs_job_iterate  one mini-batch; at the end of an epoch its evaluation,
 *                    metrics row, learning curve and checkpoint
 *   eqs_job_done     1 when every epoch of the experiment is trained
 *   eqs_job_finish   trained.cir and conductances.csv
 * eqs_job_run does open, iterate until done, finish.  The library measures
 * no time itself: the `seconds` column of metrics.csv and the times in
 * eqs_job_result come from hooks.clock_s (0 without it). */
typedef struct eqs_job eqs_job;

typedef struct {
    void *user; /* passed to every hook */
    /* Wall clock (s, any monotonic origin); NULL: every time is 0. */
    double (*clock_s)(void *user);
    /* Epoch `epoch` (1-based) starts and trains `samples` samples (fewer
     * than the training set when it resumes mid-epoch). */
    void (*epoch_begin)(void *user, int epoch, size_t samples);
    /* After every mini-batch: samples trained in the epoch since
     * epoch_begin and their mean free-phase loss (V^2). */
    void (*batch)(void *user, size_t samples, double train_loss_V2);
    /* Epoch-end evaluation: `done` of `total` samples (training set then
     * test set, counted as one stretch). */
    void (*eval)(void *user, size_t done, size_t total);
    /* The epoch's metrics row, written to metrics.csv (warnings: its
     * EQS_HEALTH_* flags). */
    void (*epoch_end)(void *user, const eqs_epoch_metrics *m);
    /* checkpoint.bin written at (epochs_done, batches_done). */
    void (*checkpoint)(void *user, const char *path, uint64_t epochs_done,
                       uint64_t batches_done);
    /* A problem that does not stop the run (the learning curve not written);
     * NULL: logged at EQS_LOG_WARN. */
    void (*warning)(void *user, const char *msg);
} eqs_job_hooks;

typedef struct {
    const char *dir;     /* run directory; NULL: the experiment's <output dir>.  Given
                            (or resume): experiment.xml names this directory. Default: NULL */
    int resume;          /* 1: continue the run in `dir` from its checkpoint (eqs_run_open).
                            Default: 0 */
    eqs_job_hooks hooks; /* Default: all NULL */
    const eqs_trainer_options *trainer; /* the trainer's options (health checks, ...);
                                           NULL: eqs_trainer_options_defaults. Default: NULL */
} eqs_job_options;
void eqs_job_options_defaults(eqs_job_options *opt);

/* Totals of a job (eqs_job_result). */
typedef struct {
    eqs_epoch_metrics last; /* the last epoch's row; after a run that trained no epoch in
                               this process (resume of a finished run), the evaluation of
                               the network as it is: test set, else training set */
    int has_test;           /* 1 when the experiment has a test set */
    size_t samples;         /* samples trained in this process */
    double setup_s;         /* create + open (clock_s) */
    double train_s;         /* inside eqs_trainer_step */
    double eval_s;          /* epoch-end evaluations, metrics, plots and checkpoints */
    int plot_failures;      /* learning-curve writes that failed */
    int plot_epoch;         /* last epoch the curve was drawn after (0: none) */
} eqs_job_result;

/* Everything that can be wrong with the input, before any file is written:
 * the experiment's data (eqs_experiment_load_data), network, circuit and
 * trainer, the test set checked against the network.  exp is borrowed and
 * must outlive the job; opt NULL: defaults. */
eqs_status eqs_job_create(eqs_ctx *ctx, const eqs_experiment *exp, const eqs_job_options *opt,
                          eqs_job **out);
void eqs_job_free(eqs_job **job);
/* Open the run directory (eqs_run_open with opt->resume), write
 * experiment.xml (new and restarted runs) or read the checkpoint and cut
 * metrics.csv back to it (resume). */
eqs_status eqs_job_open(eqs_job *job);
eqs_run_mode eqs_job_mode(const eqs_job *job);
/* One mini-batch (eqs_trainer_step), then the epoch-end work when it ends
 * an epoch (evaluation of the training and test sets, metrics row, curve,
 * checkpoint) or a checkpoint every <output checkpoint_every> batches.
 * Nothing happens once done. */
eqs_status eqs_job_iterate(eqs_job *job);
int eqs_job_done(const eqs_job *job);
/* trained.cir and conductances.csv; the result of a run resumed after its
 * end is evaluated here. */
eqs_status eqs_job_finish(eqs_job *job);
/* Driver: open, iterate until done, finish. */
eqs_status eqs_job_run(eqs_job *job);
void eqs_job_result_get(const eqs_job *job, eqs_job_result *out);
/* Borrowed parts of the job. */
const eqs_experiment *eqs_job_experiment(const eqs_job *job);
eqs_trainer *eqs_job_trainer(const eqs_job *job);
eqs_circuit *eqs_job_circuit(const eqs_job *job);
const eqs_dataset *eqs_job_train_set(const eqs_job *job);
const eqs_dataset *eqs_job_test_set(const eqs_job *job); /* NULL: none */
/* The run directory after eqs_job_open (absolute; NULL before). */
const char *eqs_job_dir(const eqs_job *job);
const eqs_run *eqs_job_run_dir(const eqs_job *job);

/* Evaluation entry (eqspice eval): a trainer that evaluates circuit c
 * (borrowed) with settings ev (NULL: eqs_eval_settings_defaults): the
 * run's experiment when `run` is given (algorithm, threads, seed ... as
 * trained), else eqs_experiment_defaults, with ev's diodes, encoding,
 * gain, targets, solver, tolerance, precision and batch; with ngspice an
 * adjoint or ncep experiment evaluates as centered (evaluation needs no
 * gradient).  Errors as eqs_trainer_create (a netlist without .output). */
eqs_status eqs_job_evaluator(eqs_ctx *ctx, const eqs_experiment *run, eqs_circuit *c,
                             const eqs_eval_settings *ev, eqs_trainer **out);

/* ---- device models: pulsed update laws (update/device.c, docs/devices.md) ----
 * A device law turns a requested conductance change dG into a whole
 * number of programming pulses and then into the change the device
 * actually makes.  All conductances in S.  The per-element functions
 * allocate nothing and keep no state: every random draw is the
 * counter-based generator at a key (seed, stream, step, element[, pulse]),
 * so results do not depend on call order or thread split. */
typedef enum {
    EQS_DEVICE_IDEAL = 0,    /* G + dG clipped to the window (levels: quantised) */
    EQS_DEVICE_CONSTANT = 1, /* step dw_min per pulse (aihwkit ConstantStep) */
    EQS_DEVICE_SOFT = 2,     /* step dw_min (G_max - G)/w up, dw_min (G - G_min)/w down */
    EQS_DEVICE_EXP = 3,      /* NeuroSim exponential LTP/LTD curves over P_max pulses */
    EQS_DEVICE_POW = 4,      /* step dw_min ((G_max - G)/w)^gamma up, ((G - G_min)/w)^gamma down */
    EQS_DEVICE_TABLE = 5,    /* a measured pulse response, interpolated linearly */
    EQS_DEVICE_TEAM = 6      /* TEAM memristor kinetics integrated over each pulse
                                (update/team.c; `team` below) */
} eqs_device_kind;

struct eqs_team; /* TEAM kinetic parameters and one-pulse table (update/update.h) */

/* How the programmer turns a requested change into a pulse count
 * (docs/devices.md "Programming a change"). */
typedef enum {
    EQS_DEVICE_PROGRAM_AWARE = 0, /* walk the nominal device's own response from
                                     G: the pulses that reach G + dG on the
                                     noise-free curve (a programmer that knows
                                     the device's nonlinearity) */
    EQS_DEVICE_PROGRAM_BLIND = 1  /* |dG| / the law's nominal step, as if the
                                     device were linear (NeuroSim's and
                                     aihwkit's pulse counts): nonlinearity and
                                     asymmetry then change what is written */
} eqs_device_programming;

typedef enum {
    EQS_DEVICE_ROUND_NEAREST = 0,   /* nearest integer (ties away from zero) */
    EQS_DEVICE_ROUND_STOCHASTIC = 1 /* floor(x) + 1 with probability x - floor(x) */
} eqs_device_rounding;

/* How a signed weight lives on devices (docs/devices.md, "Mapping"). */
typedef enum {
    EQS_DEVICE_MAP_PAIR = 0,     /* a differential pair G+ - G-: both lines of an
                                    input pair are trained devices */
    EQS_DEVICE_MAP_REFERENCE = 1 /* one device against a fixed reference: the
                                    second line of each input pair is g_ref_S,
                                    not trained */
} eqs_device_mapping;

typedef struct {
    eqs_device_kind kind;      /* Default: EQS_DEVICE_IDEAL */
    eqs_device_mapping mapping; /* Default: EQS_DEVICE_MAP_PAIR */
    double g_ref_S;            /* REFERENCE: the reference conductance (S), in
                                  [g_min_S, g_max_S]. Default: NAN, read as
                                  the window's midpoint */
    double g_min_S, g_max_S;   /* window, 0 <= g_min_S < g_max_S. Default: 0, 1e-3 S */
    double dw_min_up_S;        /* step of one up pulse (CONSTANT, SOFT, POW). Default: 1e-5 S */
    double dw_min_down_S;      /* step of one down pulse (magnitude). Default: 1e-5 S */
    double pulses_up;          /* EXP: up pulses from G_min to G_max (NeuroSim
                                  maxNumLevelLTP). Default: 100 */
    double pulses_down;        /* EXP: down pulses from G_max to G_min. Default: 100 */
    double a_up, a_down;       /* EXP: NeuroSim's A over P_max (> 0; small:
                                  strongly nonlinear). Default: 1 */
    double gamma_up, gamma_down; /* POW exponents (>= 0). Default: 1 */
    int levels;                /* IDEAL: number of levels (>= 2; 0: continuous). Default: 0 */
    eqs_device_rounding rounding; /* of the level index (IDEAL) or the pulse
                                     count (pulsed laws). Default: NEAREST */
    eqs_device_programming programming; /* pulsed laws: AWARE or BLIND
                                     (eqs_device_nominal_step). Default: AWARE */
    int max_pulses;            /* most pulses one update applies (>= 1). Default: 1024 */
    double c2c_rel;            /* relative std of every pulse's step (cycle to
                                  cycle). Default: 0 */
    double d2d_step_rel;       /* relative std of a device's step factor. Default: 0 */
    double d2d_window_rel;     /* std of a device's G_min and G_max, relative to
                                  g_max_S - g_min_S. Default: 0 */
    uint64_t seed;             /* key of every draw. Default: 0 */
    double stuck_min_frac;     /* fraction of devices stuck at their G_min
                                  (aihwkit corrupt_devices_prob, the low
                                  side). Default: 0 */
    double stuck_max_frac;     /* fraction stuck at their G_max. Default: 0 */
    double read_noise_rel;     /* relative std of a conductance at every read
                                  (each settled phase; CrossSim read noise).
                                  Default: 0 */
    double drift_nu;           /* drift exponent: G(t) = G (t / t0)^-nu
                                  (aihwkit PCM drift_nu_mean). Default: 0 */
    double drift_nu_std;       /* device-to-device std of nu. Default: 0 */
    double drift_t0_s;         /* time after programming at which G is as
                                  programmed (> 0). Default: 1 s */
    double drift_t_s;          /* time after programming at which the trained
                                  network is evaluated and exported; drift
                                  applies when drift_t_s > drift_t0_s.
                                  Default: 0 (no drift) */
    /* TABLE: G (S) after k = 0..table_n up pulses (strictly increasing,
     * or constant at g_max_S once there) and after k down pulses (strictly
     * decreasing, or constant at g_min_S once there); borrowed (a law read
     * from a file owns them). Default: NULL, 0 */
    int table_n;
    const double *table_up_S, *table_down_S;
    /* TEAM: the kinetics, tabulated (borrowed; a law read from a file owns
     * it).  Default: NULL */
    const struct eqs_team *team;
} eqs_device_law;

/* One device drawn from a law: its own window and step factor. */
typedef struct {
    double g_min_S, g_max_S; /* g_min_S <= g_max_S, g_min_S >= 0 */
    double step;             /* multiplies every pulse's step, >= 0 */
    int stuck;               /* 0 works; -1 stuck at g_min_S, +1 at g_max_S */
    double drift_nu;         /* this device's drift exponent (>= 0) */
} eqs_device_inst;

void eqs_device_law_defaults(eqs_device_law *law);
/* The device of element `element`: window
 *   g_min + s w z1, g_max + s w z2   (s = d2d_window_rel, w = g_max - g_min)
 * (G_min floored at 0; a crossed window collapses to its midpoint) and
 * step factor max(0, 1 + d2d_step_rel z0), z0 z1 z2 standard normals at
 * key (seed, EQS_CRNG_STREAM_DEVICE_D2D, 0/1, element).  No variation: the
 * law's window and factor 1, bit for bit.  Stuck: the uniform u at key
 * (seed, D2D, 2, element); u < stuck_min_frac: -1, else u <
 * stuck_min_frac + stuck_max_frac: +1.  Drift exponent max(0, drift_nu +
 * drift_nu_std z), z at (seed, D2D, 3, element). */
void eqs_device_instance(const eqs_device_law *law, uint64_t element, eqs_device_inst *dev);
/* The conductance a stuck device holds (its G_min or G_max); G when it
 * works. */
double eqs_device_stuck_value(const eqs_device_inst *dev, double G);
/* Where a device of law `law` can hold G at the start of training: a stuck
 * device its stuck value; otherwise G clipped to dev's window and, for a
 * law whose states are a grid (ideal with levels: (levels - 1) equal steps
 * across dev's window; constant with levels, symmetric and without step
 * variation: multiples of dw_min from G_min), the nearest grid point. */
double eqs_device_place(const eqs_device_law *law, const eqs_device_inst *dev, double G);
/* G read with read noise: max(0, G (1 + read_noise_rel z)), z the normal
 * at key (seed, EQS_CRNG_STREAM_DEVICE_READ, read, element); G itself when
 * read_noise_rel = 0. */
double eqs_device_read(const eqs_device_law *law, double G, uint64_t read, uint64_t element);
/* G programmed at time 0, read at drift_t_s: G (t / t0)^-nu (dev's nu),
 * not below dev's G_min; G itself when drift_t_s <= drift_t0_s or nu = 0. */
double eqs_device_drift(const eqs_device_law *law, const eqs_device_inst *dev, double G);
/* Whether the law changes anything at evaluation: drift. */
int eqs_device_drifts(const eqs_device_law *law);
/* The noise-free signed step (S) of one pulse from G (up: 1 increases G)
 * of device dev, before the clip to its window; 0 for the IDEAL law. */
double eqs_device_step(const eqs_device_law *law, const eqs_device_inst *dev, double G, int up);
/* One pulse: clip(G + s (1 + c2c_rel z)) to dev's window, s = the step
 * above, z the standard normal at key (seed, EQS_CRNG_STREAM_DEVICE_C2C)
 * counter (step, element, pulse, 0) (no draw while c2c_rel = 0). */
double eqs_device_pulse(const eqs_device_law *law, const eqs_device_inst *dev, double G, int up,
                        uint64_t step, uint64_t element, uint64_t pulse);
/* A requested change dG (S) of device dev from G: the new conductance.
 * IDEAL: clip(G + dG) (levels > 0: rounded onto the grid of `levels`
 * equally spaced values of the window).  Pulsed laws: the fractional
 * number of noise-free pulses that reach clip(G + dG) (AWARE: walked on
 * the nominal response from G; BLIND: |clip(G + dG) - G| over
 * eqs_device_nominal_step), at most max_pulses, rounded to an integer n,
 * then n pulses applied with noise.
 * Stochastic rounding draws the uniform at key (seed,
 * EQS_CRNG_STREAM_DEVICE_ROUND, step, element).  *pulses (may be NULL):
 * n, negative for down pulses (IDEAL: 0).  A NaN dG asks for no change
 * of a pulsed law (G returned, n = 0).  A stuck device returns its stuck
 * value (n = 0). */
double eqs_device_program(const eqs_device_law *law, const eqs_device_inst *dev, double G,
                          double dG, uint64_t step, uint64_t element, int *pulses);
/* The step (S, > 0) a BLIND programmer assumes for one up (up = 1) or down
 * pulse: dw_min_up_S / dw_min_down_S (CONSTANT, SOFT, POW: their nominal
 * step, aihwkit's dw_min), (g_max_S - g_min_S) / pulses_up|down (EXP,
 * NeuroSim's), (g_max_S - g_min_S) / table_n (TABLE); 0 for IDEAL and
 * TEAM (no blind programming). */
double eqs_device_nominal_step(const eqs_device_law *law, int up);
/* The noise-free pulse response: G_up[k] after k up pulses from dev's
 * G_min, G_down[k] after k down pulses from its G_max, k = 0..n (arrays
 * of n + 1; either may be NULL). */
void eqs_device_response(const eqs_device_law *law, const eqs_device_inst *dev, int n,
                         double *G_up, double *G_down);
/* A device-model file (models/NAME.xml, schema models/device.xsd): the law
 * with eqs_device_law_defaults for every attribute not given.  Errors at
 * file:line: schema violations, g_min_S < 0 or >= g_max_S, levels < 2,
 * negative noise, variation or gamma, dw_min_S with dw_min_up_S or
 * dw_min_down_S, levels with a law other than ideal and constant.
 * law="table" reads table="FILE.csv" (relative to the model's folder; the
 * CSV of `eqspice device`: header pulse,G_up_S,G_down_S, rows k = 0..N,
 * N >= 1); a missing file, a malformed row or a table that is not
 * strictly monotone (but for a tail at the bound) is refused at the CSV's line.  law="constant" with levels and no step: dw_min =
 * (g_max_S - g_min_S)/(levels - 1).  law="team" takes Xyce's TEAM names
 * (kon, koff, alphaon, alphaoff, ion, ioff, ron, roff, xon, xoff,
 * ivrelation, wt, p) and pulse_up_V, pulse_down_V, pulse_width_s,
 * team_grid instead of g_min_S, g_max_S (window [1/roff, 1/ron]); their
 * ranges are checked (eqs_team_check, ron < roff) and the one-pulse map
 * is tabulated with CVODE here (update/team.c).  *out is NULL on error. */
eqs_status eqs_device_law_read(eqs_ctx *ctx, const char *path, eqs_device_law **out);
void eqs_device_law_free(eqs_ctx *ctx, eqs_device_law **law);
/* The pulse response G_up_S[k], G_down_S[k], k = 0..n (as from
 * eqs_device_response) drawn as a PNG of EQS_DEVICE_PLOT_WIDTH x
 * EQS_DEVICE_PLOT_HEIGHT pixels (export/plot_device.c): conductance in µS
 * against pulse number, up pulses blue (#1f77b4), down pulses orange
 * (#ff7f0e), legend, `title` on top.  Written atomically: on failure no
 * file is left.  Errors: EQS_ERR_IO (cannot write png_path), EQS_ERR_NOMEM. */
#define EQS_DEVICE_PLOT_WIDTH 640
#define EQS_DEVICE_PLOT_HEIGHT 400
eqs_status eqs_plot_device_response(eqs_ctx *ctx, const char *title, int n, const double *G_up_S,
                                    const double *G_down_S, const char *png_path);
/* A crossbar's conductances (rows x cols, row-major, S; NaN: no device)
 * as a heatmap PNG of EQS_DEVICE_PLOT_WIDTH x EQS_DEVICE_PLOT_HEIGHT
 * (viridis from lo_S to hi_S, a colour bar in µS), written atomically. */
eqs_status eqs_plot_heatmap(eqs_ctx *ctx, const char *title, int rows, int cols, const double *G_S,
                            double lo_S, double hi_S, const char *png_path);
/* `eqspice report` (export/report.c): the self-contained XHTML report of a
 * run directory (metrics.csv) or a sweep directory (sweep.csv) into
 * html_path, written atomically; EQS_ERR_INPUT for another directory. */
eqs_status eqs_report_write(eqs_ctx *ctx, const char *dir, const char *html_path);
/* `eqspice sweep`'s plots: for every swept column of dir/sweep.csv (those
 * between `point` and `seed`, --label columns included), the test error
 * (%) against its values as dir/sweep-<column>.png (characters other than
 * letters, digits, '-' and '.' become '_'): mean over the runs of a value
 * with +-1 standard deviation bars, one line per value of another swept
 * column that varies independently (2 to 4 values, e.g. the method), log10
 * axis for a positive numeric column spanning more than a factor 50.  The
 * same charts as the sweep report; each PNG written atomically. */
eqs_status eqs_sweep_plots(eqs_ctx *ctx, const char *dir);
/* The compiled-in copy of models/device.xsd. */
const char *eqs_device_schema(void);
/* ---- end of device models ---- */


#ifdef __cplusplus
}
#endif
#endif /* EQSPICE_TRAIN_H */
