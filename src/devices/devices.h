/*
 * devices.h: private header of the devices module.
 *
 * Every element kind has a const device table (one file per device, a
 * registry indexed by eqs_elem_kind, after ngspice's SPICEdev) and the
 * solver, compiler, deck writer and exporters reach devices through it:
 *   - topology flags (EQS_DEV_*: DC path, voltage-defined, needs a branch,
 *     reciprocal, trainable conductance, controlled, independent source),
 *     read by the compiler (trainable selection, branch names) and by
 *     layer detection (links and junctions);
 *   - `check`: the element's values and model before compilation;
 *   - `card` / `model_of` / `model_card`: the ngspice card writers used by
 *     the deck (solver/deck.c) and so by every export;
 *   - `setup` (precomputed parameters, e.g. ngspice's temperature update
 *     of a diode), the pure `eval` (branch voltage -> current and
 *     conductance), `limit` (Newton step limiting) and `v_init` (first
 *     iteration) of nonlinear devices, called by Newton and the layered
 *     solver for every element whose table says `nonlinear`.
 *   - `slots`: the (row, col) unknowns of the element's Jacobian entries
 *     in slot order (layouts below and in circuit.h), from which the
 *     compiler builds the pattern and the slots;
 *   - `expand`: device fields of the compiled element and the internal
 *     nodes and implicit elements `check` counted (a diode's RS);
 *   - `stamp`: the constant Jacobian entries and residual part of linear
 *     elements (R, V, I, E, G, F, H), which Newton's refresh of its linear
 *     part calls for every element;
 *   - `fixed_current` and `input`: the linear current leaving a terminal
 *     held by a grounded source (Newton's rows of the eliminated sources'
 *     currents, solver/newton_fixed.c) and how a new value of that source
 *     reaches the element (Newton's incremental input update);
 *   - `current`: the element's current at a solution, from which
 *     solver/currents.c gets the V/E/H branch currents by KCL.
 * The compiler (pattern, slots, internal nodes), Newton, the branch
 * currents, the deck writer and the exporters name no element kind: a
 * new device is one file with its table plus one registry line.
 *
 * Table-driven models (eqs_model_type, declared in netlist.h because the
 * parser reads them): a device file describes its model and instance
 * parameters (names, units, defaults, ranges), its whole-model check and
 * its DC resistance; the registry lists it (registry.c).  The memristor is
 * the first (memristor.c): one file plus one registry line, with the
 * parser's Y-card hook.
 *
 * Element cards (eqs_elem_card, declared in netlist.h for the same
 * reason): the syntax of an element kind's card, which the parser reads
 * instead of switching on kinds; the registry entry of a kind pairs its
 * device table with it (cards.c: R D V I E G F H).
 */
#ifndef EQS_DEVICES_H
#define EQS_DEVICES_H

#include "../circuit/circuit.h"

/* Physical constants exactly as ngspice 39 defines them
 * (src/include/ngspice/const.h; CONSTKoverQ is computed at run time in
 * src/sharedspice.c as CONSTboltz / CHARGE). */
#define EQS_CONST_BOLTZ 1.38064852e-23       /* J/K */
#define EQS_CONST_CHARGE 1.6021766208e-19    /* C */
#define EQS_CONST_SQRT2 1.4142135623730950488016887242097
#define EQS_CONST_E 2.7182818284590452353602874713527
/* Default circuit and nominal temperature (ngspice cktntask.c: TSKtemp =
 * TSKnomTemp = 300.15 K). */
#define EQS_DEFAULT_TEMP_K 300.15
/* ngspice CKTepsmin (cktinit.c): lower bound of a diode's IS. */
#define EQS_DIODE_IS_MIN 1e-28
/* ngspice diotemp.c: at most 25 iterations to match IBV at BV. */
#define EQS_DIODE_BV_MAXITER 25
/* ngspice 39 diode model defaults (diosetup.c) used when the model does
 * not give them: EG = 1.11 eV, XTI = 3 (also NBV = N, TCV = 0, TLEV = 0,
 * TRS1 = TRS2 = 0; level 1 and m = 1 always). */
#define EQS_DIODE_EG_EV 1.11
#define EQS_DIODE_XTI 3.0

/* Parameters of one element after setup (units in the field comments). */
typedef struct {
    double g_S;      /* resistor: conductance */
    /* diode (ngspice DIOtempUpdate in diotemp.c), at temperature T: */
    double temp_K;   /* T: instance temp=, else circuit temperature + dtemp */
    double is_A;     /* DIOtSatCur = IS * area, temperature-adjusted */
    double vt_V;     /* k T / q */
    double vte_V;    /* N * vt */
    double vtebrk_V; /* NBV * vt (NBV defaults to N) */
    double bv_V;     /* DIOtBrkdwnV: BV at T (TCV, TLEV) matched to IBV */
    int has_bv;      /* BV given */
    double vcrit_V;  /* DIOtVcrit = vte * log(vte / (sqrt(2) * IS)) */
    double a_per_V;  /* memristor I-V (EQS_EL_MEMIV): a of I = G sinh(a v)/a */
} eqs_devparams;

/* Topology flags of a device (eqs_device.flags). */
enum {
    EQS_DEV_DC_PATH = 1u << 0,   /* conducts between n[0] and n[1] at DC (R, D, V, E, H) */
    EQS_DEV_VOLTAGE = 1u << 1,   /* voltage-defined: fixes V(n[0]) - V(n[1]) (V, E, H) */
    EQS_DEV_BRANCH = 1u << 2,    /* needs a branch current in MNA (E, H; V unless grounded) */
    EQS_DEV_RECIPROCAL = 1u << 3, /* stamps a symmetric conductance (R > 0, D) or nothing
                                     (I): keeps the reduced Jacobian SPD */
    EQS_DEV_TRAINABLE = 1u << 4, /* its value is a conductance (S) that training sets:
                                    a conductance between n[0] and n[1] in the
                                    conductance slot layout (Newton updates it in place) */
    EQS_DEV_CONTROLLED = 1u << 5, /* reads a controlling V source's branch (F, H); without
                                     EQS_DEV_VOLTAGE its current is gain x that
                                     source's current (eqs_devcurrent.gain) */
    EQS_DEV_SOURCE = 1u << 6,    /* independent source (V, I): its value is an input */
};

/* What a card writer sees: one netlist element with the names ngspice
 * gets (the deck's naming rule already applied). */
typedef struct {
    const eqs_netlist *nl;
    const eqs_element *e;
    const eqs_celem *ce; /* its circuit element (current values), NULL if not compiled */
    const eqs_circuit *c; /* the circuit of ce (values: eqs_celem_value), NULL with ce */
    const char *name;    /* "<letter>.<name>" unless the name starts with the letter */
    const char *node[4]; /* node names ("0" for ground), n_nodes of them */
    const char *ctrl;    /* F, H: the controlling source as ngspice names it */
} eqs_devcard;

/* Target of a linear stamp (Newton's linear part, refreshed from all
 * values): J is the Jacobian value array (indexed by the element's slots,
 * circuit.h), b the constant part of the residual (indexed by unknown),
 * vfix the voltage each circuit node is held at (V; 0 for free nodes and
 * ground).  Residual convention: currents leaving a node. */
typedef struct {
    const eqs_circuit *c;
    double *J;
    double *b;
    const double *vfix;
} eqs_linstamp;

/* A linear current (A) leaving one terminal of an element, in Newton's
 * fixed-node rows: k0 + x[0] u[j[0]] + x[1] u[j[1]], u the unknowns, k0 at
 * source scale 1; j[m] = -1: no term.  The hook receives k0 = 0,
 * j = {-1, -1}, x = {0, 0} and sets what it needs. */
typedef struct {
    double k0;
    int j[2];
    double x[2];
} eqs_fxcurrent;

/* How a new value of a grounded source reaches an element with a terminal
 * on the node it holds (Newton's incremental input update, newton_linear.c
 * input_apply).  An element with a branch current always needs the full
 * refresh (its branch equation reads the node voltage). */
typedef enum {
    EQS_INPUT_REFRESH = 0, /* rebuild the linear part from all values (the default) */
    EQS_INPUT_NONE,        /* no constant term reads the voltage: a current source,
                              a nonlinear device (loaded every iteration), the
                              fixing source itself (a V without branch) */
    EQS_INPUT_CONDUCTANCE, /* a conductance G = eqs_celem_value (S) between n[0] and
                              n[1] (EQS_DEV_TRAINABLE's layout): its fixed-node entry
                              is -G at the other terminal's unknown, so b0 and the
                              fixed-node constants move by G dV */
} eqs_input_rule;

/* What a `current` hook sees: a solution and the solver options. */
typedef struct {
    eqs_ctx *ctx;
    const eqs_circuit *c;
    const double *v; /* voltage of every user node (V), v[0] = 0 */
    double reltol;   /* the solver's (device setup) */
    double gmin;     /* S, in parallel with junctions */
} eqs_devsolution;

/* An element's current at a solution: i0 + gain I(ctrl) (A) flows from
 * user node a through the element to user node b (gain: A/A, 0 unless
 * EQS_DEV_CONTROLLED; I(ctrl) the controlling source's branch current). */
typedef struct {
    int a, b;
    double i0;
    double gain;
} eqs_devcurrent;

static inline void eqs_stamp_add(double *J, int slot, double v)
{
    if (slot >= 0) J[slot] += v;
}

/* Unknown index of circuit node nd (-1: ground, fixed or unused). */
static inline int eqs_stamp_unknown(const eqs_circuit *c, int nd)
{
    return nd < 0 ? -1 : c->node_unknown[nd];
}

typedef struct {
    eqs_elem_kind kind;
    const char *name;  /* "resistor", "diode", ... */
    char letter;       /* SPICE card letter */
    unsigned flags;    /* EQS_DEV_* */
    int nonlinear;     /* 1: needs eval/limit every Newton iteration */
    /* Trainable devices (EQS_DEV_TRAINABLE): the local EqProp derivative
     * dE/dtheta of the parameter theta (the conductance, S) at branch
     * voltage v (V^2): a resistor's co-content G v^2 / 2 gives v^2 / 2.
     * energy_contrast(v1, v2) is 2 (dE/dtheta(v2) - dE/dtheta(v1)) in the
     * form that keeps the difference accurate, (v2 - v1)(v2 + v1).  The
     * EqProp gradients (eqprop/grad.c) and Agnostic EqProp's force
     * (eqprop/aeqprop.c) use them; the batched layered path forms the same
     * contrast for whole crossbars of conductances with matrix products.
     * NULL for devices that are not trainable. */
    double (*denergy)(double v);
    double (*energy_contrast)(double v1, double v2);
    /* The element's ngspice card (no newline) into buf, snprintf's
     * contract (returns the length it needs).  Used by the deck writer and
     * so by every export.  Values: the circuit's when compiled, %.17g. */
    int (*card)(const eqs_devcard *w, char *buf, size_t size);
    /* The netlist model (index into nl->models) element e uses, or -1;
     * NULL: the device has no model card.  With model_card: the model's
     * ngspice card (snprintf's contract). */
    int (*model_of)(const eqs_element *e);
    int (*model_card)(const eqs_netlist *nl, int model, char *buf, size_t size);
    /* The (row, col) unknown pairs of e's Jacobian entries in slot order
     * into rows/cols (at most EQS_MAX_SLOTS; -1 where eliminated); returns
     * how many.  a = n[0], b = n[1], c = n[2], d = n[3], k = branch, kc =
     * branch of the controlling source:
     *   conductance (R, D; eqs_device_slots_conductance):
     *          [0]=(a,a) [1]=(b,b) [2]=(a,b) [3]=(b,a)   (reciprocal: only
     *          the lower-triangle entry of the off-diagonal pair, in
     *          slot[2]; slot[3] = -1)
     *   G    : [0]=(a,c) [1]=(a,d) [2]=(b,c) [3]=(b,d)
     *   V    : [0]=(a,k) [1]=(b,k) [2]=(k,a) [3]=(k,b)  (only with a branch)
     *   E    : as V, plus [4]=(k,c) [5]=(k,d)
     *   H    : as V, plus [4]=(k,kc)
     *   F    : [0]=(a,kc) [1]=(b,kc)
     * NULL: no entries (I).  Nonlinear devices are loaded through the
     * conductance layout. */
    int (*slots)(const eqs_circuit *c, const eqs_celem *e, int *rows, int *cols);
    /* Compile netlist element el into ce (kind, origin, nodes and value
     * already set; ctrl, branch and param -1, set later by the compiler):
     * the device's own fields (a diode's model and area) and the internal
     * nodes and implicit elements `check` counted, one implicit element
     * per internal node.  Internal node
     * *next_node gets its name (allocated through c->ctx, freed with the
     * circuit) and c->node_user; implicit element c->elems[*next_elem] gets
     * origin -1, param -1; both counters advance.  EQS_OK or
     * EQS_ERR_NOMEM.  NULL: nothing to add. */
    eqs_status (*expand)(eqs_circuit *c, const eqs_element *el, eqs_celem *ce, int *next_node,
                         int *next_elem);
    /* Linear elements: add the element's constant Jacobian entries and
     * its constant residual part (value e->value) to ls.  NULL for
     * nonlinear devices (loaded every iteration through eval). */
    void (*stamp)(const eqs_linstamp *ls, const eqs_celem *e);
    /* Linear elements: the current leaving e's terminal t (0 or 1) through
     * e, terminal n[t] being held by a grounded source, into *out
     * (eqs_fxcurrent; vfix as in eqs_linstamp, at scale 1).  Returns 0
     * when e carries no linear current there (the fixing source itself).
     * NULL: none at any terminal (nonlinear devices: Newton adds their
     * companion currents). */
    int (*fixed_current)(const eqs_circuit *c, const double *vfix, const eqs_celem *e, int t,
                         eqs_fxcurrent *out);
    /* How a new value of a grounded source at one of e's terminals
     * reaches e (eqs_input_rule). */
    eqs_input_rule input;
    /* e's current at solution sol into *out (eqs_devcurrent); an error
     * status if the device cannot be set up.  Not asked for implicit
     * elements (origin < 0: their owner's current includes them, a diode
     * its RS).  NULL for voltage-defined devices (EQS_DEV_VOLTAGE: their
     * currents follow from KCL). */
    eqs_status (*current)(const eqs_devsolution *sol, const eqs_celem *e, eqs_devcurrent *out);
    /* Check netlist element el before compilation (values, model): EQS_OK
     * or EQS_ERR_INPUT at its card.  *n_internal: internal nodes it needs
     * (a diode with RS > 0: 1), unchanged otherwise. */
    eqs_status (*check)(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                        int *n_internal);
    /* Precompute parameters of element e (reltol: the solver's relative
     * tolerance, which ngspice uses to match IBV).  EQS_OK or an error. */
    eqs_status (*setup)(eqs_ctx *ctx, const eqs_circuit *c, const eqs_celem *e, double reltol,
                        eqs_devparams *p);
    /* Branch current i (A, flowing n[0] -> n[1] through the device) and
     * conductance g = di/dv (S) at branch voltage v = V(n[0]) - V(n[1]),
     * with `gmin` (S) in parallel where the device has a junction. */
    void (*eval)(const eqs_devparams *p, double v, double gmin, double *i, double *g);
    /* Limit a Newton step on the branch voltage from vold to vnew; sets
     * *limited to 1 when the value was changed.  NULL: no limiting. */
    double (*limit)(const eqs_devparams *p, double vnew, double vold, int *limited);
    /* Nonlinear devices: the branch voltage (V) of the first Newton
     * iteration (ngspice MODEINITJCT; a diode: vcrit). */
    double (*v_init)(const eqs_devparams *p);
    /* 1: setup reads values that training changes (a memristor's I-V
     * part reads its resistor's G), so Newton runs it before every solve. */
    int refresh;
} eqs_device;

extern const eqs_device eqs_device_resistor;
extern const eqs_device eqs_device_diode;
extern const eqs_device eqs_device_vsource;
extern const eqs_device eqs_device_isource;
extern const eqs_device eqs_device_vcvs;
extern const eqs_device eqs_device_vccs;
extern const eqs_device eqs_device_cccs;
extern const eqs_device eqs_device_ccvs;
extern const eqs_device eqs_device_memiv;

/* Table-driven device models (eqs_model_type, netlist.h), listed in the
 * model registry (registry.c). */
extern const eqs_model_type eqs_model_memristor;

/* Memristor DC resistance (Ohm) at state x (m) for model values v
 * (memristor.c's parameter order): x clamped to its window first. */
double eqs_memristor_resistance(const double *v, double x);
/* The I-V nonlinearity a (1/V) of memristor model values v (0: linear,
 * I = G v). */
double eqs_memristor_aiv(const double *v);
/* memiv.c: I = G sinh(a v)/a (A) and its local EqProp derivative, the
 * co-content's dE/dG = (cosh(a v) - 1)/a^2 (V^2); a = 0: G v and v^2/2. */
double eqs_memiv_denergy(double a, double v);
/* 2 (dE/dG(v2) - dE/dG(v1)) in a form that keeps the difference accurate. */
double eqs_memiv_contrast(double a, double v1, double v2);
/* dI/dG = sinh(a v)/a (A/S); a = 0: v. */
double eqs_memiv_didg(double a, double v);

/* The conductance slot layout (eqs_device.slots) shared by the resistor
 * and the diode. */
int eqs_device_slots_conductance(const eqs_circuit *c, const eqs_celem *e, int *rows,
                                 int *cols);

/* The check of an element whose value must only be finite (the sources;
 * kind_word: its device name, for the message). */
eqs_status eqs_device_check_finite(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el,
                                   int *n_internal);

/* Element card syntax of the SPICE elements (cards.c, eqs_elem_card in
 * netlist.h: what the parser reads). */
extern const eqs_elem_card eqs_card_resistor;
extern const eqs_elem_card eqs_card_diode;
extern const eqs_elem_card eqs_card_vsource;
extern const eqs_elem_card eqs_card_isource;
extern const eqs_elem_card eqs_card_vcvs;
extern const eqs_elem_card eqs_card_vccs;
extern const eqs_elem_card eqs_card_cccs;
extern const eqs_elem_card eqs_card_ccvs;

/* A registry entry: a device's table and the syntax of its card (the
 * card starts with dev->letter). */
typedef struct {
    const eqs_device *dev;
    const eqs_elem_card *card;
} eqs_device_entry;

/* Registry (registry.c): the table of an element kind, never NULL for a
 * valid kind, NULL otherwise.  Inline: compilation and layer detection ask
 * it once per element. */
extern const eqs_device_entry eqs_device_registry[EQS_EL_NKINDS];
static inline const eqs_device *eqs_device_get(eqs_elem_kind kind)
{
    if ((int)kind < 0 || kind >= EQS_EL_NKINDS) return NULL;
    return eqs_device_registry[kind].dev;
}

/* ngspice DEVpnjlim (src/spicelib/devices/devsup.c): limit the change of
 * a pn-junction voltage (V).  vt: N*kT/q (V); vcrit (V). */
double eqs_pnjlim(double vnew, double vold, double vt, double vcrit, int *icheck);

/* Check a netlist diode's temperature and temperature parameters (the
 * instance temperature above 0 K, finite EG XTI NBV TCV TRS1 TRS2, NBV > 0,
 * RS(T) > 0 and BV(T) > 0 at the instance temperature): EQS_OK or
 * EQS_ERR_INPUT at the element's card.  Called by the circuit compiler. */
eqs_status eqs_diode_check(eqs_ctx *ctx, const eqs_netlist *nl, const eqs_element *el);

/* Conductance (S) of a netlist diode's series resistance at its instance
 * temperature (RS > 0, checked by eqs_diode_check): ngspice diotemp.c
 * area / (RS (1 + TRS1 dT + TRS2 dT^2)), dT = T - TNOM. */
double eqs_diode_rs_conductance(const eqs_netlist *nl, const eqs_element *el);

/* Thermal voltage kT/q (V) at temperature T (K), computed as ngspice does. */
double eqs_thermal_voltage(double temp_K);

#endif /* EQS_DEVICES_H */
