/*
 * crossbar.h: private header of the crossbar module: the parameter store
 * of a circuit, organised in blocks (docs/architecture.md, "Crossbars and
 * the parameter store"), and the layered structure of a circuit.
 *
 * Every trainable value of a circuit lives once, in its store: the
 * conductance G (S) and the update state (momentum) of each parameter.
 * The store is cut into blocks:
 *   - a crossbar block: rows x cols entries, row-major, entry (i, j) the
 *     device from row line row_node[i] to column line col_node[j];
 *     declared by a .crossbar card, or found by layer detection;
 *   - a rails block: the bias rails of a layer (rows = rail nodes);
 *   - the loose block: every other parameter, in parameter order.
 * Blocks are contiguous in the flat arrays, so the batched layered solver
 * works on a crossbar in place: its W is the block's values, its momentum
 * the block's momentum, in the store's precision (double, or float for
 * single-precision training).  Parameter k (netlist order, the order of
 * every output file) is entry pos[k]; entry e is parameter param[e].
 *
 * Readers of an element's value use eqs_celem_value; writers of a
 * parameter go through eqs_circuit_param_set (validation, device window,
 * change log) or, for a whole block written in place, tell the solvers
 * with eqs_circuit_params_changed.
 */
#ifndef EQS_CROSSBAR_H
#define EQS_CROSSBAR_H

#include "../circuit/circuit.h"

typedef enum {
    EQS_BLOCK_LOOSE = 0, /* parameters in no crossbar, parameter order */
    EQS_BLOCK_CROSSBAR,  /* rows x cols devices between row and column lines */
    EQS_BLOCK_RAILS      /* bias rails of one layer: rows = rail nodes */
} eqs_block_kind;

typedef struct {
    eqs_block_kind kind;
    char *name;       /* crossbar name ("r1"), "rails<l>" or "loose"; owned */
    int rows, cols;   /* loose: 1 x n */
    int *row_node;    /* rows circuit nodes (NULL for loose); owned */
    int *col_node;    /* cols circuit nodes (NULL for loose); owned */
    size_t off;       /* first entry in the store's flat arrays */
    int declared;     /* 1: from a .crossbar card */
} eqs_block;

typedef enum { EQS_STORE_DOUBLE = 0, EQS_STORE_FLOAT = 1 } eqs_store_precision;

struct eqs_store {
    int n;                 /* parameters (= circuit n_params) */
    eqs_store_precision prec;
    double *g, *m;         /* values (S) and momentum, entry order (double store) */
    float *gf, *mf;        /* the same in single precision (float store) */
    int *pos;              /* parameter -> entry */
    int *param;            /* entry -> parameter */
    eqs_block *blocks;     /* crossbars and rails first, the loose block last */
    int n_blocks;
};

/* Value (S) of parameter k. */
static inline double eqs_store_value(const eqs_store *s, int k)
{
    size_t e = (size_t)s->pos[k];
    return s->prec == EQS_STORE_FLOAT ? (double)s->gf[e] : s->g[e];
}

/* Momentum of parameter k. */
static inline double eqs_store_momentum(const eqs_store *s, int k)
{
    size_t e = (size_t)s->pos[k];
    return s->prec == EQS_STORE_FLOAT ? (double)s->mf[e] : s->m[e];
}

/* Store the value of parameter k as is (rounded to the store's precision);
 * no validation, no change log: eqs_circuit_param_set does both. */
static inline void eqs_store_put(eqs_store *s, int k, double g)
{
    size_t e = (size_t)s->pos[k];
    if (s->prec == EQS_STORE_FLOAT) s->gf[e] = (float)g;
    else s->g[e] = g;
}

static inline void eqs_store_put_momentum(eqs_store *s, int k, double m)
{
    size_t e = (size_t)s->pos[k];
    if (s->prec == EQS_STORE_FLOAT) s->mf[e] = (float)m;
    else s->m[e] = m;
}

/* The value of circuit element e: its parameter's value in the store when
 * trainable, else its own (conductance for resistors, V, A or a gain). */
static inline double eqs_celem_value(const eqs_circuit *c, const eqs_celem *e)
{
    return e->param >= 0 ? eqs_store_value(c->store, e->param) : e->value;
}

/* Create c->store: one loose block holding every parameter in parameter
 * order with the elements' compiled values, momentum 0, double. */
eqs_status eqs_store_create(eqs_circuit *c);
void eqs_store_free(eqs_ctx *ctx, eqs_store **s);

/* Make parameters param[0 .. rows*cols) (row-major) a block of `kind`
 * named `name` between row_node[] and col_node[] (circuit nodes; copied).
 * When a block already holds exactly these parameters in this order, it
 * is returned as is (*out its index).  Otherwise the entries are moved
 * (values and momentum keep their bits): the blocks it does not touch
 * first, then this one, then the loose block.  A block it takes entries
 * of is dissolved: its other entries become loose (a declared crossbar
 * with a bias row, say, whose rows the batched path splits into a
 * crossbar and a rails block).  Allocates (a setup step, not for loops). */
eqs_status eqs_store_block_make(eqs_circuit *c, eqs_block_kind kind, const char *name,
                                int rows, int cols, const int *row_node, const int *col_node,
                                const int *param, int declared, int *out);

/* Switch the store to `prec`: float rounds every value and momentum to
 * the nearest float (what a single-precision trainer works with). */
eqs_status eqs_store_set_precision(eqs_circuit *c, eqs_store_precision prec);

/* Entry pointers of block b (double or float store). */
static inline double *eqs_block_g(eqs_store *s, int b) { return s->g + s->blocks[b].off; }
static inline double *eqs_block_m(eqs_store *s, int b) { return s->m + s->blocks[b].off; }
static inline float *eqs_block_gf(eqs_store *s, int b) { return s->gf + s->blocks[b].off; }
static inline float *eqs_block_mf(eqs_store *s, int b) { return s->mf + s->blocks[b].off; }

/* ---- Layered networks (layers.c, docs/solver.md "Layered solver") ----
 * A circuit is layered when its free nodes split into layers 1..L-1 such
 * that every resistor joins consecutive layers, layer 0 being the fixed
 * nodes (inputs, ground, other grounded sources) with a resistor to a
 * free node (those free nodes form layer 1); every other branch of a free
 * node is a diode to a fixed node (ground or a grounded source: a bias);
 * outputs lie on the last layer.  Detection does not depend on the node
 * order of the netlist. */
typedef struct {
    int n_layers;    /* L >= 2: layer 0 (fixed) and the free layers */
    int *off;        /* n_layers + 1: layer l is node[off[l] .. off[l+1]) */
    int *node;       /* user nodes, layer by layer, netlist order within a layer */
    int *layer_of;   /* n_user_nodes: layer of each node, -1 when in none */
    int *index_of;   /* n_user_nodes: position within its layer, -1 when in none */
    /* resistors at every free user node (CSR over n_user_nodes): neighbour
     * node and element index; a fixed node's list is empty (nothing reads
     * one: 8 B per conductance of an input crossbar saved) */
    int *adj_off, *adj_node, *adj_elem;
    /* diodes at every user node (CSR): element index */
    int *dio_off, *dio_elem;
    /* 1 when every crossbar l (layers l-1, l) has exactly one resistor per
     * node pair and all of them are trainable: dense matrices can stand for
     * the parameters (batched training) */
    int dense;
    /* 1: found by eqs_layers_detect_wired (wired.c): the layers are the
     * terminals of crossbars with wire resistance (their internal nodes are
     * in no layer, layer_of -1) and there is no adjacency (adj_off all 0):
     * the solver couples the terminals through each crossbar's reduction */
    int wired;
} eqs_layers;

/* Detect the layered structure of c.  *out is NULL (and `why` holds the
 * reason, e.g. "resistor 'r3' joins nodes 'h1' and 'h2' of the same layer")
 * when c is not layered; EQS_OK in both cases, EQS_ERR_NOMEM otherwise. */
eqs_status eqs_layers_detect(eqs_ctx *ctx, const eqs_circuit *c, eqs_layers **out, char *why,
                             size_t why_len);
void eqs_layers_free(eqs_ctx *ctx, eqs_layers **L);

/* Layered networks of wired crossbars (wired.c, docs/solver.md "Wire
 * resistance"): every resistor is a device or a wire segment of a declared
 * crossbar with rwire > 0; the terminal nodes (row and column lines) form
 * the layers (layer 0 the fixed ones, a crossbar's columns one layer after
 * its rows), diodes join free terminals to fixed nodes, outputs lie on the
 * last layer.  *out is NULL with the reason in `why` otherwise (EQS_OK);
 * (*out)->wired = 1. */
eqs_status eqs_layers_detect_wired(eqs_ctx *ctx, const eqs_circuit *c, eqs_layers **out,
                                   char *why, size_t why_len);

#endif /* EQS_CROSSBAR_H */
