/*
 * netlist.h: private header of the netlist module.
 *
 * The parser reads SPICE text (with .include, .param, .subckt) and produces
 * a *flattened* netlist: every subcircuit instance expanded, every
 * parameter evaluated, every name lower case.  The circuit compiler reads
 * this structure; nothing above the circuit layer sees it.
 *
 * Naming after expansion (the same as ngspice):
 *   - element `r1` inside instance `x1` becomes `x1.r1` (nested: `x1.x2.r1`);
 *   - local node `n` inside instance `x1` becomes `x1.n`;
 *   - ground (`0`, `gnd`, also inside subcircuits) is node 0, named "0";
 *   - node names of the top level are kept (lower case).
 * When an element is written back for ngspice, a name that does not start
 * with the element's letter is written as "<letter>.<name>" (ngspice's
 * own convention, e.g. `r.x1.r1`).
 */
#ifndef EQS_NETLIST_H
#define EQS_NETLIST_H

#include "../core/core.h"

typedef enum {
    EQS_EL_R = 0, /* resistor: n[0] n[1], value = resistance (Ohm) */
    EQS_EL_D,     /* diode: n[0]=anode n[1]=cathode, model, area */
    EQS_EL_V,     /* voltage source: n[0]=+ n[1]=-, value = V (V) */
    EQS_EL_I,     /* current source: n[0] n[1], value = A flowing n[0] -> n[1]
                     through the source (SPICE convention) */
    EQS_EL_E,     /* VCVS: n[0] n[1] nc+ = n[2], nc- = n[3], value = gain (V/V) */
    EQS_EL_G,     /* VCCS: n[0] n[1] n[2] n[3], value = transconductance (S) */
    EQS_EL_F,     /* CCCS: n[0] n[1], ctrl = V source name, value = gain (A/A) */
    EQS_EL_H,     /* CCVS: n[0] n[1], ctrl = V source name, value = transres. (Ohm) */
    EQS_EL_MEMIV, /* implicit (no card): the nonlinear part G (sinh(a v)/a - v) of a memristor
                     whose model has aiv = a > 0; ctrl = its resistor, value = a (1/V) */
    EQS_EL_NKINDS
} eqs_elem_kind;

/* Diode model parameters (ngspice level 1, DC part).  Defaults are
 * ngspice's: IS=1e-14 A, N=1, RS=0 Ohm, BV=infinite (has_bv=0),
 * IBV=1e-3 A (ngspice 39 default), TNOM=27 C. */
typedef struct {
    char *name; /* lower case */
    double is_A;
    double n;
    double rs_Ohm;
    double bv_V;
    int has_bv;
    double ibv_A;
    double tnom_C;
    /* 1: TNOM was not given, the circuit's nominal temperature (.options
     * tnom, Default: 27 C) applies and tnom_C is not used (ngspice
     * diosetup.c).  0 (hand-built models): tnom_C applies. */
    int tnom_default;
    /* Temperature parameters (ngspice 39 diotemp.c), each used only when
     * its EQS_DIO_GIVEN_* bit is set in `given`, else ngspice's default:
     * EG = 1.11 eV, XTI = 3, NBV = N, TCV = 0, TLEV = 0, TRS1 = TRS2 = 0. */
    unsigned given;
    double eg_eV;      /* activation energy */
    double xti;        /* saturation-current temperature exponent */
    double nbv;        /* breakdown emission coefficient */
    double tcv;        /* BV temperature coefficient: V/K (TLEV 0), 1/K (else) */
    int tlev;          /* BV temperature equation selector */
    double trs1_per_K; /* RS temperature coefficients: RS(T) = RS (1 + TRS1 dT */
    double trs2_per_K2; /*   + TRS2 dT^2), dT = T - TNOM */
    eqs_loc loc;
    /* Raw "key=value" text of the model card after evaluation, for
     * writing the model back to ngspice exactly as the user gave it
     * (lower case, values printed with %.17g).  May be NULL. */
    char *card;
} eqs_diode_model;

enum {
    EQS_DIO_GIVEN_EG = 1u << 0,
    EQS_DIO_GIVEN_XTI = 1u << 1,
    EQS_DIO_GIVEN_NBV = 1u << 2,
    EQS_DIO_GIVEN_TCV = 1u << 3,
    EQS_DIO_GIVEN_TLEV = 1u << 4,
    EQS_DIO_GIVEN_TRS1 = 1u << 5,
    EQS_DIO_GIVEN_TRS2 = 1u << 6,
};

/* ---- Table-driven device models (docs/netlist.md "Memristors") ----
 * A device file (src/devices/) describes its model card and its instance
 * parameters with these tables; the parser reads and validates cards from
 * them and the compiler lowers the element through `resistance`.  The
 * tables are declared here, below the devices layer, because the parser
 * reads them; they are defined by the device file and listed in the model
 * registry (devices/registry.c, eqs_model_type_find). */
#define EQS_MODEL_MAX_PARAMS 16

typedef struct {
    const char *name; /* lower case, as written on the card */
    const char *unit; /* "Ohm", "m", "" (dimensionless) */
    double def;       /* default when not given; NAN: the card must give it */
    double lo, hi;    /* accepted range [lo, hi] (finite values only) */
    int integer;      /* 1: the value must be an integer */
    int lo_open;      /* 1: the range is (lo, hi] */
} eqs_param_desc;

typedef struct eqs_model_type {
    const char *type;    /* `.model NAME TYPE`, lower case: "memristor" */
    const char *card;    /* instance card keyword: "ymemristor" (Xyce's Y device) */
    eqs_elem_kind kind;  /* the element an instance becomes: a resistor (EQS_EL_R) of
                            `resistance` */
    const eqs_param_desc *params; /* model parameters, n_params of them */
    int n_params;
    const eqs_param_desc *inst;   /* instance parameters (name=value on the card) */
    int n_inst;
    /* Whole-model check after every value is in range: NULL when the
     * model is valid, else a message (static text) and in *bad the index
     * of the parameter to point at. */
    const char *(*check)(const double *v, int *bad);
    /* DC resistance (Ohm, > 0) of an instance with model values v and
     * instance values w (n_inst).  The element is a resistor of this value
     * at DC. */
    double (*resistance)(const double *v, const double *w);
    /* Conductance window [*lo, *hi] (S) reachable by the device's state:
     * training clips the conductance to it.  NULL: no window. */
    void (*window)(const double *v, double *lo_S, double *hi_S);
    /* The instance value (w[0], the state) whose resistance is 1/g_S,
     * clipped to its window (reporting the trained state). */
    double (*state_of)(const double *v, double g_S);
} eqs_model_type;

/* A model card read through an eqs_model_type. */
typedef struct {
    char *name; /* lower case */
    const eqs_model_type *type;
    double v[EQS_MODEL_MAX_PARAMS]; /* type->params order, defaults filled */
    eqs_loc loc;
} eqs_device_model;

/* Model type of `.model NAME TYPE` (case-insensitive, len chars), or NULL. */
const eqs_model_type *eqs_model_type_find(const char *type, size_t len);
/* Model type whose instance card keyword is card[0..len), or NULL. */
const eqs_model_type *eqs_model_type_find_card(const char *card, size_t len);

/* One per device of every crossbar: the fields are ordered so that no
 * padding is left, 96 bytes (it was 112: 827 MB more at 51.7 M devices). */
typedef struct {
    eqs_elem_kind kind;
    int model;     /* D: index into eqs_netlist.models; else -1 */
    char *name;    /* flattened, lower case, e.g. "r1", "x1.r2" */
    int node[4];   /* indices into eqs_netlist.node_names; unused = -1 */
    /* Table-driven device (a memristor): 1 + index into
     * eqs_netlist.dmodels, 0 for every other element (so that zeroed,
     * hand-built elements are plain).  Such an element has kind EQS_EL_R
     * and value = its DC resistance R(x); its state is
     * type->state_of(1/value). */
    int dmodel;
    signed char n_nodes; /* 2 for R D V I F H, 4 for E G */
    unsigned char temp_given, dtemp_given; /* D: temp_C, dtemp_C given (ngspice 39
                                              DIOtemp: temp wins) */
    double value;  /* see eqs_elem_kind */
    char *ctrl;    /* F, H: flattened name of the controlling V source */
    double area;   /* D: area factor, Default 1 */
    double temp_C, dtemp_C; /* D: instance temp= (C) and dtemp= (K), used when given */
    eqs_loc loc;   /* where the element card starts (for X-expanded
                      elements: the card inside the .subckt body) */
} eqs_element;

/* A crossbar (`.crossbar` card, docs/netlist.md "Crossbars", or
 * eqs_netlist_add_crossbar): rows x cols two-terminal devices, expanded
 * into ordinary elements of nl->elems, plus the record of the block. */
typedef struct {
    char *name;        /* lower case, e.g. "r1" */
    int rows, cols;
    int *row_node;     /* rows netlist node indices (input lines) */
    int *col_node;     /* cols netlist node indices (output lines) */
    int first_elem;    /* its devices are elems[first_elem + i*cols + j], row-major, device (i,j)
                          from row line i to column line j */
    int dmodel;        /* 0: resistors; else 1 + index into nl->dmodels (memristor model) */
    double rwire_ohm;  /* wire resistance per segment (Ohm), 0: ideal wires */
    int first_wire, n_wire; /* the wire segment resistors (rwire_ohm > 0): elems[first_wire ..
                               first_wire + n_wire), not trainable by default */
    eqs_loc loc;
    char *device;      /* device= of the card: a device-model file (docs/devices.md) its
                          trained devices are programmed through, resolved against the
                          card's file; NULL: none (the experiment's, if any) */
} eqs_crossbar;

/* 0 C in K, exactly as ngspice 39 (const.h CONSTCtoK). */
#define EQS_CONST_CTOK 273.15

/* ---- Element cards (docs/netlist.md "Elements") ----
 * The syntax of an element kind's card, which the parser reads instead of
 * knowing any kind: its nodes, how its value is written, its instance
 * parameters and what it refuses.  Declared here, below the devices layer,
 * because the parser reads them and must not see the circuit or solver
 * headers (devices/devices.h includes them); defined next to the devices
 * (devices/cards.c for the SPICE elements R D V I E G F H) and paired with
 * each device table, whose letter selects the card, in the device
 * registry (devices/registry.c, eqs_elem_card_get). */

/* How the value part of a card (after the nodes and the controlling
 * source) is written. */
typedef enum {
    /* One value: positional, or `name=value` with a name of value_names
     * (R: r= resistance=; E G F H: gain=). */
    EQS_CARD_VALUE = 0,
    /* `[dc] value [ac mag [phase]]`, also dc=, ac= (independent sources). */
    EQS_CARD_SOURCE,
    /* A diode model name (`.model NAME d`), then the instance parameters
     * `params` in any order: the first may also be given positionally
     * right after the model (the diode's area). */
    EQS_CARD_MODEL,
} eqs_card_form;

/* Card flags (eqs_elem_card.flags). */
enum {
    EQS_CARD_CONTROLLED = 1u << 0, /* a controlling source name follows the nodes; it must
                                      name an EQS_CARD_VSOURCE element (F, H) */
    EQS_CARD_VSOURCE = 1u << 1,    /* an independent voltage source: F/H may name it as
                                      their controlling source, .input names one (V) */
    EQS_CARD_LINEAR = 1u << 2,     /* ngspice's behavioural and polynomial forms of the card
                                      (value=, poly(n), table ...) are refused (E G F H) */
};

/* An instance parameter of an EQS_CARD_MODEL card, `name=value`. */
typedef struct {
    const char *name; /* lower case, as written on the card: "temp" */
    const char *unit; /* "C", "K", "" (dimensionless) */
    double def;       /* value when not given */
    /* 1: the parser checks the value: finite and above `above`, else the
     * error "'temp' in 'd1' needs <needs>, got '...'" at the value.  0: the
     * device's check sees it (a diode's area). */
    int checked;
    double above;      /* -INFINITY: finite only */
    const char *needs; /* "a temperature above -273.15 C" */
} eqs_card_param;

#define EQS_CARD_MAX_PARAMS 8

typedef struct {
    int n_nodes;       /* nodes after the name, 1 to 4 (eqs_element.node) */
    const char *usage; /* "r<name> n+ n- value": printed for a card with too few fields */
    unsigned flags;    /* EQS_CARD_* */
    eqs_card_form form;
    /* EQS_CARD_VALUE: the names `name=value` may use (NULL-terminated),
     * and the words of its messages: "unsupported <what> parameter 'tc1'
     * in 'r1' (eqspice reads <reads>)", "<value_word> given twice in 'r1'". */
    const char *const *value_names;
    const char *what;       /* "resistor" */
    const char *reads;      /* "value, r= or resistance=" */
    const char *value_word; /* "resistance" */
    /* EQS_CARD_MODEL: the model's kind in messages ("unknown diode model
     * 'x' in 'd1'", "unsupported diode instance parameter 'm' in 'd1'
     * (eqspice reads <params_read>)"), the parameters (n_params <=
     * EQS_CARD_MAX_PARAMS) and the flag words refused with that message
     * (ngspice's `off`); every other name=value is refused so too. */
    const char *model_word;
    const eqs_card_param *params;
    int n_params;
    const char *const *refused_words; /* NULL-terminated, or NULL */
    const char *params_read;          /* "the model, the area, temp= and dtemp=" */
    /* Store the parameters into the new element e: w[k] the value of
     * params[k] (its default when not given), bit k of `given` set when the
     * card gave it. */
    void (*set)(eqs_element *e, const double *w, unsigned given);
    /* A warning about the combination of parameters given (the card's
     * name is prepended: "'d1' has both temp= and dtemp=: ..."), or NULL.
     * May be NULL. */
    const char *(*warn)(unsigned given);
} eqs_elem_card;

/* Element kinds in registry order: kind k's card syntax, and its letter
 * (lower case) in *letter; NULL when k is not a kind (k < 0 or past the
 * last one), so `for (k = 0; (cd = eqs_elem_card_get(k, &l)); ++k)` visits
 * every kind. */
const eqs_elem_card *eqs_elem_card_get(int k, char *letter);

/* .options values; *_set says whether the netlist gave the option. */
typedef struct {
    double reltol, abstol, vntol, gmin;
    int itl1;
    int reltol_set, abstol_set, vntol_set, gmin_set, itl1_set;
    /* circuit and nominal temperature (C), from .temp / .options temp=,
     * .options tnom=; not set: 27 C (ngspice's default). */
    double temp_C, tnom_C;
    int temp_set, tnom_set; /* temp_set: 1 .options temp=, 2 .temp (wins) */
    eqs_loc temp_loc; /* card that set temp_C (diagnostics) */
} eqs_netlist_options;

/* Evaluation card kinds, the index of eqs_netlist.eval_loc. */
enum { EQS_NL_EVAL_DIODES = 0, EQS_NL_EVAL_ENCODING, EQS_NL_EVAL_TARGETS, EQS_NL_EVAL_SOLVER };

struct eqs_netlist {
    eqs_ctx *ctx;        /* context it was read with (owner of allocations) */
    char *title;         /* first line of the top file */
    char *path;          /* path of the top file (or the string's name) */

    /* nodes: index 0 is ground "0"; names lower case, unique */
    char **node_names;
    int n_nodes;
    size_t node_cap;

    eqs_element *elems;
    int n_elems;
    size_t elem_cap;

    eqs_diode_model *models;
    int n_models;
    size_t model_cap;

    eqs_crossbar *crossbars; /* .crossbar cards, in netlist order */
    int n_crossbars;
    size_t crossbar_cap;

    eqs_device_model *dmodels; /* table-driven models (one namespace with
                                  `models`: a name is in one of them) */
    int n_dmodels;
    size_t dmodel_cap;

    eqs_netlist_options options;

    /* extension cards (lower case).  trainable: glob patterns over
     * flattened element names; none given = every resistor trainable. */
    char **trainable;
    int n_trainable;
    eqs_loc *trainable_loc;
    char **inputs;       /* names of V sources driven by data */
    int n_inputs;
    eqs_loc *input_loc;
    char **outputs;      /* output node names; with output_pairs: POS NEG
                            of pair k at [2k], [2k+1] (.output_pair) */
    int n_outputs;       /* names in `outputs` (2 x pairs with output_pairs) */
    eqs_loc *output_loc;
    int output_pairs;    /* 1: outputs are differential pairs (.output_pair) */
    eqs_loc output_kind_loc; /* first .output / .output_pair card */
    /* evaluation cards (.diodes, .encoding, .targets, .solver; parser.c
     * do_eval_card): eval.set names the fields given, the others are 0;
     * eval_loc[k] is the card of kind k (EQS_NL_EVAL_*), line 0 if absent */
    eqs_eval_settings eval;
    eqs_loc eval_loc[4];

    int has_op;          /* an .op card was present */
    int n_ignored_cards; /* analysis cards read and reported as ignored */

    /* String pool: file names referenced by eqs_loc.file stay valid as
     * long as the netlist lives. */
    char **files;
    int n_files;
    size_t file_cap;

    /* Added by the parser: string arena holding every name above and the
     * hash indexes behind eqs_netlist_*_find (O(1) look-ups).  NULL for a
     * netlist built by hand: then names are individually allocated with
     * eqs_malloc, eqs_netlist_free frees them one by one and the find
     * functions scan linearly. */
    struct eqs_netlist_priv *priv;
};

/* Index of a node name (lower case), or -1. */
int eqs_netlist_node_find(const eqs_netlist *nl, const char *name);
/* Index of an element by flattened name (case-insensitive), or -1. */
int eqs_netlist_elem_find(const eqs_netlist *nl, const char *name);
/* Index of a diode model by name, or -1. */
int eqs_netlist_model_find(const eqs_netlist *nl, const char *name);

/* ---- Building a netlist without text (netlist.c, crossbar.c) ----
 * The same object the parser makes: names in the string arena, every
 * look-up hashed, so eqs_netlist_*_find stay O(1) at 10^6 elements.  Each
 * add_* function checks what it can (duplicate names, node indices) and
 * records the error at the given loc; after an error the netlist must be
 * freed.  eqs_netlist_finish runs the checks that need the whole netlist
 * (the parser's last pass: controlling sources, .input/.output names). */

/* Empty netlist (ground node "0" only) with its title (first line of the
 * equivalent file) and path (the file name used in messages and locs). */
eqs_status eqs_netlist_create(eqs_ctx *ctx, const char *title, const char *path,
                              eqs_netlist **out);
/* Index of node `name` (any case, "0"/"gnd" = ground), added if new; -1 on
 * out-of-memory. */
int eqs_netlist_add_node(eqs_netlist *nl, const char *name);
/* Append an element: the fields of *tmpl (kind, node, n_nodes, value, model,
 * dmodel, area, temperatures, loc) with name `name` and, for F/H, the
 * controlling source `ctrl` (both copied, lower case).  *index (may be NULL)
 * gets its index.  Refuses duplicate names and nodes out of range. */
eqs_status eqs_netlist_add_elem(eqs_netlist *nl, const eqs_element *tmpl, const char *name,
                                const char *ctrl, int *index);
/* ngspice's defaults (IS 1e-14 A, N 1, RS 0, no BV, IBV 1e-3 A, TNOM from
 * the circuit), as the parser starts every `.model NAME d` card. */
void eqs_diode_model_defaults(eqs_diode_model *m);
/* Append a diode model (name and card text copied), a table-driven model;
 * names are unique across both. */
eqs_status eqs_netlist_add_diode_model(eqs_netlist *nl, const eqs_diode_model *m, int *index);
eqs_status eqs_netlist_add_device_model(eqs_netlist *nl, const eqs_device_model *m, int *index);
/* .input SOURCE, .output NODE (pair = 0) or one node of .output_pair POS
 * NEG (pair = 1, POS then NEG), .trainable PATTERN; names copied. */
eqs_status eqs_netlist_add_input(eqs_netlist *nl, const char *name, eqs_loc loc);
eqs_status eqs_netlist_add_output(eqs_netlist *nl, const char *name, int pair, eqs_loc loc);
eqs_status eqs_netlist_add_trainable(eqs_netlist *nl, const char *pattern, eqs_loc loc);
/* Checks that need the whole netlist (also the parser's last pass). */
eqs_status eqs_netlist_finish(eqs_netlist *nl);

/* A node name that need not be NUL-terminated. */
typedef struct {
    const char *s;
    size_t len;
} eqs_name_ref;

/* What a `.crossbar` card says (crossbar.c; docs/netlist.md "Crossbars"). */
typedef struct {
    const char *name;          /* crossbar name (any case), name_len chars */
    size_t name_len;
    int rows, cols;
    const eqs_name_ref *row;   /* rows node names (row lines) */
    const eqs_name_ref *col;   /* cols node names (column lines) */
    const double *value;       /* rows*cols device values, row-major */
    int conductance;           /* 1: values are conductances (S), 0: resistances (Ohm) */
    int dmodel;                /* 0: resistors; else 1 + index into nl->dmodels */
    double rwire_ohm;          /* wire segment resistance (Ohm); 0: ideal wires */
    eqs_loc loc;               /* the card (every device and segment gets it) */
    const char *device;        /* device-model file (a path); NULL: none */
} eqs_crossbar_spec;

/* Expand a crossbar into nl (the one expansion behind the card and the
 * builder): devices NAME_<i>_<j> (row-major), then with rwire > 0 the
 * segments NAME_wr<i>_<j>, NAME_wc<i>_<j> and internal nodes NAME_r<i>_<j>,
 * NAME_c<i>_<j>; appends the eqs_crossbar record (*index may be NULL).
 * Nodes are registered in the order the devices name them: row 0, the
 * columns, rows 1.. (the order of the equivalent R cards), then the
 * internal nodes device by device. */
eqs_status eqs_netlist_add_crossbar(eqs_netlist *nl, const eqs_crossbar_spec *sp, int *index);
/* The element value of a crossbar device given x (S when conductance, else
 * Ohm): NULL and *value (R in Ohm; a memristor's R(state of 1/R)), or a
 * message (static or in buf) when x is not positive and finite or, for a
 * memristor, outside its conductance window. */
const char *eqs_crossbar_value(const eqs_netlist *nl, int dmodel, int conductance, double x,
                               double *value, char *buf, size_t size);
/* Read a rows x cols CSV of conductances (S) into g (row-major): numbers
 * with SPICE suffixes separated by commas, one matrix row per line; blank
 * lines and lines starting with '#' skipped.  Errors at the CSV's own
 * file:line:col.  `where` is the card token naming the file. */
eqs_status eqs_crossbar_read_csv(eqs_netlist *nl, const char *path, eqs_loc where, int rows,
                                 int cols, int dmodel, double *g);

/* Evaluate a SPICE number with engineering suffix ("1.5k", "10kOhm",
 * "1meg", "2.2u").  Returns 1 and stores the value on success, 0 if the
 * text is not a number.  Trailing letters after a recognised suffix (or
 * after the number) are ignored as SPICE does. */
int eqs_parse_number(const char *text, double *out);

/* ================================================================== */
/* Internal to src/netlist/ (lexer.c, expr.c, netlist.c, parser.c).    */
/* ================================================================== */

/* A token: points into a file buffer (not NUL-terminated). */
typedef struct {
    const char *s;
    int len;
    int line, col; /* 1-based, on the physical line the token is on */
} eqs_tok;

/* A card (a logical line: first line plus its '+' continuations). */
typedef struct {
    const char *start, *end; /* [start, end) inside a file buffer */
    const char *file;        /* pooled file name (nl->files) */
    int line, col;           /* of the card's first character */
    int kind;                /* parser: card class (parser.c) */
    int scope;               /* parser: enclosing .subckt definition, -1 = top */
    int aux;                 /* parser: .subckt -> its definition index */
} eqs_card;

#define EQS_MAX_INCLUDE_DEPTH 64

/* Lexer state (the parser embeds it). */
typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    char **bufs; /* file buffers (NUL-terminated), alive until parsing ends */
    int n_bufs;
    size_t buf_cap;
    eqs_card *cards;
    size_t n_cards, card_cap;
    eqs_tok *toks; /* tokens of the last card lexed (scratch) */
    int n_toks;
    size_t tok_cap;
    /* files being read, outermost first; sect: the .lib section being
     * read from that file (NULL: the whole file) */
    struct { unsigned long long dev, ino; const char *sect; int sect_len; }
        inc[EQS_MAX_INCLUDE_DEPTH + 1];
    int inc_depth;
} eqs_lexer;

/* lexer.c: read the top file (title line first) and everything it
 * includes into lx->cards.  `text` non-NULL: read from that string,
 * `name` is the file name used in messages. */
eqs_status eqs_lex_top(eqs_lexer *lx, const char *name, const char *text);
/* Split one card into tokens (lx->toks, lx->n_toks). */
eqs_status eqs_lex_card(eqs_lexer *lx, const eqs_card *c);
void eqs_lex_free(eqs_lexer *lx);
eqs_loc eqs_tok_loc(const eqs_card *c, const eqs_tok *t);
/* Case-insensitive comparison of a token with a lower-case word. */
int eqs_tok_is(const eqs_tok *t, const char *word);

/* expr.c.  Scan a number with suffix at s[0..len): returns 1 and the
 * number of characters used (mantissa, exponent, suffix and unit
 * letters), 0 if s does not start with a well-formed number. */
int eqs_number_scan(const char *s, size_t len, size_t *used, double *out);
/* Parameter look-up callback: 1 and *val if `name` (len chars, any case)
 * is defined, else 0. */
typedef int (*eqs_param_fn)(void *user, const char *name, size_t len, double *val);
/* Evaluate the expression s[0..len) whose first character is at `loc`.
 * Errors (EQS_ERR_PARSE) point at the offending column. */
eqs_status eqs_expr_eval(eqs_ctx *ctx, const char *s, size_t len, eqs_loc loc,
                         eqs_param_fn lookup, void *user, double *out);

/* netlist.c: string arena and hash maps (string -> int). */
typedef struct {
    const char *key; /* lower case, NUL-terminated, not owned; NULL = empty */
    uint32_t hash;
    int val;
} eqs_strmap_slot;

typedef struct {
    eqs_strmap_slot *slots; /* one array: one cache line per probe */
    size_t cap, n;
} eqs_strmap;

uint32_t eqs_str_hash(const char *s, size_t len); /* case-insensitive */
/* Index of key s[0..len) (case-insensitive) or -1. */
int eqs_strmap_get(const eqs_strmap *m, const char *s, size_t len);
/* Insert key (stored pointer, lower case) -> val; the key must be absent. */
eqs_status eqs_strmap_put(eqs_ctx *ctx, eqs_strmap *m, const char *key, int val);
/* Same with the hash (eqs_str_hash) already computed. */
int eqs_strmap_get_h(const eqs_strmap *m, const char *s, size_t len, uint32_t h);
eqs_status eqs_strmap_put_h(eqs_ctx *ctx, eqs_strmap *m, const char *key, uint32_t h, int val);
/* Start loading the slot of hash h into the cache (the element index of a
 * large netlist does not fit in any cache: overlap the miss with parsing). */
void eqs_strmap_prefetch(const eqs_strmap *m, uint32_t h);
/* Make room for n keys without rehashing. */
eqs_status eqs_strmap_reserve(eqs_ctx *ctx, eqs_strmap *m, size_t n);
void eqs_strmap_free(eqs_ctx *ctx, eqs_strmap *m);

struct eqs_netlist_priv {
    char **blocks; /* arena blocks */
    int n_blocks;
    size_t block_cap;
    char *cur;     /* bump pointer in the last block */
    size_t left;
    eqs_strmap nodes, elems, models, dmodels;
};

/* Copy s[0..len), lower-cased, into the netlist's arena. */
char *eqs_nl_strdup(eqs_netlist *nl, const char *s, size_t len);
/* Crossbar devices (crossbar.c) are not in the element index priv->elems:
 * at 51.7 M devices (DRN-XL) the index alone held 3.2 GB.  A device's
 * name is NAME_<i>_<j> with canonical decimals (no sign, no leading zero)
 * and resolves through the crossbar records instead.  eqs_nl_xbar_split
 * cuts s[0..len) into NAME (s[0..*xlen)), i and j: 1, or 0 when s does not
 * end in "_<i>_<j>" after a non-empty NAME.  Such a split is unique, and
 * no two crossbars with different names have a device name in common
 * (NAME_<i>_<j> has exactly two indices after NAME).
 * eqs_nl_xbar_device_find: the element index of device s[0..len) of a
 * registered crossbar, or -1. */
int eqs_nl_xbar_split(const char *s, size_t len, size_t *xlen, long *i, long *j);
int eqs_nl_xbar_device_find(const eqs_netlist *nl, const char *s, size_t len);
/* Create an empty netlist (ground node "0" present). */
eqs_status eqs_nl_create(eqs_ctx *ctx, eqs_netlist **out);
/* Intern a node name (any case; stored lower case); "0"/"gnd" -> 0.
 * Returns the index or -1 on out-of-memory. */
int eqs_nl_node(eqs_netlist *nl, const char *s, size_t len);
/* Pool a file name; returns the pooled copy or NULL. */
const char *eqs_nl_file(eqs_netlist *nl, const char *name);
/* The error of element `name` (len chars) at loc named like element k. */
eqs_status eqs_nl_duplicate(eqs_netlist *nl, const char *name, size_t len, eqs_loc loc, int k);
/* Append element `name` (len chars, lower case, hash eqs_str_hash) of
 * `kind` with the parser's defaults (nodes -1, model -1, area 1) at loc;
 * refuses a duplicate name. */
eqs_status eqs_nl_elem_add(eqs_netlist *nl, const char *name, size_t len, uint32_t hash,
                           eqs_elem_kind kind, eqs_loc loc, eqs_element **out);

#endif /* EQS_NETLIST_H */
