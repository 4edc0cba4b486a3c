/*
 * netlist.c: write a trained circuit back as a netlist, and its
 * conductances as CSV.
 *
 * The element lines come from the deck writer (solver/deck.c:
 * eqs_deck_write_body streams what eqs_deck_build returns as lines), the
 * same writer the ngspice backend uses, so what we export is exactly what our
 * ngspice backend has been validated on: current values, %.17g, ngspice
 * element names ("r.x1.r1" for a flattened "x1.r1").  Around them:
 *
 *   <title>
 *   * exported by eqspice <version>: current conductances (R = 1/G), ...
 *   .options ... / .model ... / elements        (eqs_deck_build)
 *   *eqspice .input <v sources>                 (extension cards, as comments)
 *   *eqspice .output <nodes>   (or .output_pair <pos neg ...>)
 *   *eqspice .trainable <patterns or names>
 *   *eqspice .diodes / .encoding / .targets / .solver   (trained netlist only)
 *   .op
 *   .end
 *
 * The trained netlist of a run (eqs_export_trained_netlist) adds the
 * evaluation cards, so that `eqspice eval` needs no flags, and writes the
 * input sources at 0 V instead of the last training sample's values.
 *
 * ngspice 39 rejects an unknown dot card ("unimplemented control card"),
 * so the extension cards are written as comments that eqspice's lexer reads
 * as cards (src/netlist/lexer.c).  Names in them follow the deck's renaming
 * so that eqspice reads back the same inputs and trainable set:
 *   - .input names are written as the deck writes the V sources;
 *   - .trainable: nothing when the netlist had no .trainable card (all
 *     resistors, the default, in both files); the original patterns when no
 *     resistor was renamed (they match the same names); otherwise the
 *     explicit list of trainable elements under their written names.
 * Lines are kept under EXT_LINE_MAX characters by repeating the card.
 */
#include "export.h"

#include "../devices/devices.h"
#include "../solver/solver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest extension-card line we write (characters, before the newline);
 * a single longer name is written alone on its line. */
#define EXT_LINE_MAX 200

/* The deck's naming rule (solver/deck.c): a name that does not start with
 * its element's letter gets "<letter>." in front. */
static int renamed(char letter, const char *name)
{
    char first = name[0];
    if (first >= 'A' && first <= 'Z') first = (char)(first - 'A' + 'a');
    return first != letter;
}

typedef struct {
    FILE *f;
    const char *card; /* ".input" */
    int len;          /* characters on the current line, 0: no line open */
} ext_line;

/* Words a (with prefix) and, when b is not NULL, b on one line of the
 * card: a new line when they do not fit (a pair never straddles two). */
static void ext_words(ext_line *x, const char *prefix, const char *a, const char *b)
{
    int w = (int)(strlen(prefix) + strlen(a)) + 1 + (b ? (int)strlen(b) + 1 : 0);
    if (x->len > 0 && x->len + w > EXT_LINE_MAX) {
        fputc('\n', x->f);
        x->len = 0;
    }
    if (x->len == 0) x->len = fprintf(x->f, "*eqspice %s", x->card);
    x->len += fprintf(x->f, " %s%s", prefix, a);
    if (b) x->len += fprintf(x->f, " %s", b);
}

static void ext_word(ext_line *x, const char *prefix, const char *word)
{
    ext_words(x, prefix, word, NULL);
}

static void ext_end(ext_line *x)
{
    if (x->len > 0) fputc('\n', x->f);
    x->len = 0;
}

/* Solver options for the exported .options line: eqspice's defaults with
 * the netlist's own .options on top (what eqs_solver_create would use). */
static void export_options(const eqs_netlist *nl, eqs_solver_options *o)
{
    eqs_solver_options_defaults(o);
    const eqs_netlist_options *no = &nl->options;
    if (no->reltol_set) o->reltol = no->reltol;
    if (no->abstol_set) o->abstol = no->abstol;
    if (no->vntol_set) o->vntol = no->vntol;
    if (no->gmin_set) o->gmin = no->gmin;
    if (no->itl1_set) o->itl1 = no->itl1;
}

static void write_ext_cards(FILE *f, const eqs_circuit *c)
{
    const eqs_netlist *nl = c->nl;
    ext_line x = {f, ".input", 0};
    for (int k = 0; k < nl->n_inputs; ++k)
        ext_word(&x, renamed('v', nl->inputs[k]) ? "v." : "", nl->inputs[k]);
    ext_end(&x);
    x.card = nl->output_pairs ? ".output_pair" : ".output";
    if (nl->output_pairs) { /* a pair never straddles two lines (cards) */
        for (int k = 0; k + 1 < nl->n_outputs; k += 2)
            ext_words(&x, "", nl->outputs[k], nl->outputs[k + 1]);
    } else {
        for (int k = 0; k < nl->n_outputs; ++k) ext_word(&x, "", nl->outputs[k]);
    }
    ext_end(&x);
    if (nl->n_trainable == 0) return;
    int any_renamed = 0;
    for (int i = 0; i < nl->n_elems && !any_renamed; ++i) {
        const eqs_device *dev = eqs_device_get(nl->elems[i].kind);
        if (dev && (dev->flags & EQS_DEV_TRAINABLE) && renamed(dev->letter, nl->elems[i].name))
            any_renamed = 1;
    }
    x.card = ".trainable";
    if (!any_renamed || c->n_params == 0) {
        for (int k = 0; k < nl->n_trainable; ++k) ext_word(&x, "", nl->trainable[k]);
    } else {
        for (int k = 0; k < c->n_params; ++k) {
            const char *nm = eqs_circuit_param_name(c, k);
            char letter = eqs_device_get(c->elems[c->params[k]].kind)->letter, pre[3] = {0};
            if (renamed(letter, nm)) pre[0] = letter, pre[1] = '.';
            ext_word(&x, pre, nm);
        }
    }
    ext_end(&x);
}

/* The evaluation cards (eqs_eval_settings, docs/netlist.md "Evaluation
 * cards"), each field only when ev->set has it. */
static void write_eval_cards(FILE *f, const eqs_eval_settings *ev)
{
    const unsigned set = ev->set;
    fprintf(f, "* evaluation cards: class k is the k-th output (the prediction is the output\n"
               "* with the highest voltage); 'eqspice eval' drives the input sources per sample\n");
    if (set & EQS_EVAL_DIODES) {
        if (ev->diodes == EQS_DIODES_IDEAL)
            fprintf(f, "* trained with ideal diodes (the DRN model); ngspice simulates them with\n"
                       "* their .model (Shockley), an approximation of the trained network\n");
        fprintf(f, "*eqspice .diodes %s\n", eqs_diode_kind_name(ev->diodes));
    }
    if (set & (EQS_EVAL_ENCODING | EQS_EVAL_GAIN)) {
        const char *enc = ev->encoding == EQS_ENCODE_PAIR     ? "pair"
                          : ev->encoding == EQS_ENCODE_SINGLE ? "single"
                                                              : "auto";
        fprintf(f, "*eqspice .encoding %s", enc);
        if (set & EQS_EVAL_GAIN) fprintf(f, " gain_V=%.17g", ev->input_gain_V);
        fputc('\n', f);
    }
    if (set & (EQS_EVAL_ON | EQS_EVAL_OFF)) {
        fprintf(f, "*eqspice .targets");
        if (set & EQS_EVAL_ON) fprintf(f, " on_V=%.17g", ev->target_on_V);
        if (set & EQS_EVAL_OFF) fprintf(f, " off_V=%.17g", ev->target_off_V);
        fputc('\n', f);
    }
    if (set & EQS_EVAL_BACKEND) {
        fprintf(f, "*eqspice .solver %s", eqs_backend_name(ev->backend));
        if (set & EQS_EVAL_TOL) fprintf(f, " tol_V=%.17g", ev->bcd_tol_V);
        if (set & EQS_EVAL_PRECISION) fprintf(f, " precision=%s", ev->single ? "single" : "double");
        if (set & EQS_EVAL_BATCH) fprintf(f, " batch=%d", ev->batch);
        fputc('\n', f);
    }
}

/* The netlist file of eqs_export_netlist; with ev, the evaluation cards
 * too and the header says the inputs are at 0 V. */
/* The exported netlist into f (see eqs_export_netlist). */
static eqs_status write_netlist_to(eqs_ctx *ctx, const eqs_circuit *c,
                                   const eqs_eval_settings *ev, FILE *f)
{
    eqs_solver_options opt;
    export_options(c->nl, &opt);
    /* the deck's title (eqs_deck_build's first line), then its body
     * streamed: one line per element, never all of them in memory */
    const eqs_netlist *nl = c->nl;
    const char *title = (nl->title && nl->title[0]) ? nl->title : "eqspice deck";
    fprintf(f, "%s\n", title);
    fprintf(f, "* exported by eqspice %s: %s;\n"
                 "* '*eqspice' lines are eqspice's extension cards (comments for ngspice)\n",
            EQS_VERSION,
            ev ? "trained conductances (R = 1/G); the input sources\n"
                 "* are at 0 V (a neutral state, not a training sample)"
               : "current conductances (R = 1/G) and input values");
    eqs_status st = eqs_deck_write_body(ctx, c, &opt, f);
    if (st != EQS_OK) return st;
    write_ext_cards(f, c);
    if (ev) write_eval_cards(f, ev);
    fprintf(f, ".op\n.end\n");
    return EQS_OK;
}

static eqs_status write_netlist(eqs_ctx *ctx, const eqs_circuit *c, const eqs_eval_settings *ev,
                                const char *path)
{
    eqs_atomic a;
    eqs_status st = eqs_atomic_open(ctx, path, &a);
    if (st != EQS_OK) return st;
    if ((st = write_netlist_to(ctx, c, ev, a.f)) != EQS_OK) {
        eqs_atomic_abort(&a);
        return st;
    }
    if (ferror(a.f)) {
        eqs_atomic_abort(&a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    }
    return eqs_atomic_commit(&a);
}

eqs_status eqs_export_netlist(eqs_ctx *ctx, const eqs_circuit *c, const char *path)
{
    return write_netlist(ctx, c, NULL, path);
}

eqs_status eqs_export_netlist_file(eqs_ctx *ctx, const eqs_circuit *c, FILE *f)
{
    return write_netlist_to(ctx, c, NULL, f);
}

eqs_status eqs_export_deck(eqs_ctx *ctx, const eqs_circuit *c, char ***lines)
{
    eqs_solver_options opt;
    export_options(c->nl, &opt);
    return eqs_deck_build(ctx, c, &opt, 0, lines);
}

eqs_status eqs_export_netlist_eval(eqs_ctx *ctx, const eqs_circuit *c,
                                   const eqs_eval_settings *ev, const char *path)
{
    return write_netlist(ctx, c, ev, path);
}

void eqs_eval_settings_defaults(eqs_eval_settings *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->diodes = EQS_DIODES_SHOCKLEY;
    ev->encoding = EQS_ENCODE_AUTO;
    ev->input_gain_V = 1.0;
    ev->target_on_V = 1.0;
    ev->target_off_V = 0.0;
    ev->backend = EQS_BACKEND_AUTO;
    ev->bcd_tol_V = 0.0;
    ev->single = 0;
    ev->batch = 32;
    ev->set = 0;
}

void eqs_circuit_eval_settings(const eqs_circuit *c, eqs_eval_settings *ev)
{
    const eqs_eval_settings *nv = &c->nl->eval;
    const unsigned set = nv->set;
    eqs_eval_settings_defaults(ev);
    if (set & EQS_EVAL_DIODES) ev->diodes = nv->diodes;
    if (set & EQS_EVAL_ENCODING) ev->encoding = nv->encoding;
    if (set & EQS_EVAL_GAIN) ev->input_gain_V = nv->input_gain_V;
    if (set & EQS_EVAL_ON) ev->target_on_V = nv->target_on_V;
    if (set & EQS_EVAL_OFF) ev->target_off_V = nv->target_off_V;
    if (set & EQS_EVAL_BACKEND) ev->backend = nv->backend;
    if (set & EQS_EVAL_TOL) ev->bcd_tol_V = nv->bcd_tol_V;
    if (set & EQS_EVAL_PRECISION) ev->single = nv->single;
    if (set & EQS_EVAL_BATCH) ev->batch = nv->batch;
    ev->set = set;
}

int eqs_circuit_eval_card_loc(const eqs_circuit *c, unsigned bit, const char **file, int *line)
{
    const eqs_netlist *nl = c->nl;
    if (!(nl->eval.set & bit)) return 0;
    int k = (bit & EQS_EVAL_DIODES)                     ? EQS_NL_EVAL_DIODES
            : (bit & (EQS_EVAL_ENCODING | EQS_EVAL_GAIN)) ? EQS_NL_EVAL_ENCODING
            : (bit & (EQS_EVAL_ON | EQS_EVAL_OFF))        ? EQS_NL_EVAL_TARGETS
                                                          : EQS_NL_EVAL_SOLVER;
    if (file) *file = nl->eval_loc[k].file;
    if (line) *line = nl->eval_loc[k].line;
    return 1;
}

/* The evaluation settings of a run: the experiment's, with the encoding and
 * the solver as the trainer resolved them. */
static void run_settings(const eqs_experiment *exp, const eqs_trainer *tr, eqs_eval_settings *ev)
{
    eqs_eval_settings_defaults(ev);
    ev->diodes = exp->diodes;
    ev->encoding = eqs_trainer_encoding(tr);
    ev->input_gain_V = exp->input_gain_V;
    ev->target_on_V = exp->target_on_V;
    ev->target_off_V = exp->target_off_V;
    ev->backend = eqs_solver_backend(eqs_trainer_solver(tr));
    ev->set = EQS_EVAL_DIODES | EQS_EVAL_GAIN | EQS_EVAL_ON | EQS_EVAL_OFF | EQS_EVAL_BACKEND;
    if (ev->encoding != EQS_ENCODE_AUTO) ev->set |= EQS_EVAL_ENCODING;
    if (ev->backend == EQS_BACKEND_LAYERED) {
        eqs_trainer_options to;
        eqs_trainer_options_defaults(&to);
        ev->bcd_tol_V = exp->bcd_tol_V > 0 ? exp->bcd_tol_V : to.solver.bcd_tol_V;
        ev->single = exp->single;
        ev->set |= EQS_EVAL_TOL | EQS_EVAL_PRECISION;
        if (eqs_trainer_batched(tr)) {
            ev->batch = exp->batch;
            ev->set |= EQS_EVAL_BATCH;
        }
    }
}

eqs_status eqs_export_trained_netlist(eqs_ctx *ctx, eqs_circuit *c, const eqs_experiment *exp,
                                      const eqs_trainer *tr, const char *path)
{
    eqs_eval_settings ev;
    run_settings(exp, tr, &ev);
    int n_in = eqs_circuit_input_count(c);
    double *u = eqs_malloc(ctx, (size_t)(n_in > 0 ? n_in : 1) * sizeof *u);
    if (!u) return EQS_ERR_NOMEM;
    eqs_status st = EQS_OK;
    for (int k = 0; k < n_in; ++k) u[k] = eqs_circuit_input_get(c, k);
    for (int k = 0; k < n_in && st == EQS_OK; ++k) st = eqs_circuit_input_set(c, k, 0.0);
    if (st == EQS_OK) st = write_netlist(ctx, c, &ev, path);
    for (int k = 0; k < n_in; ++k) {
        eqs_status s2 = eqs_circuit_input_set(c, k, u[k]);
        if (st == EQS_OK) st = s2;
    }
    eqs_free(ctx, u);
    return st;
}

eqs_status eqs_export_conductances(eqs_ctx *ctx, const eqs_circuit *c, const char *path)
{
    eqs_atomic a;
    eqs_status st = eqs_atomic_open(ctx, path, &a);
    if (st != EQS_OK) return st;
    fprintf(a.f, "element,conductance_S\n");
    for (int k = 0; k < c->n_params; ++k)
        fprintf(a.f, "%s,%.17g\n", eqs_circuit_param_name(c, k), eqs_circuit_param_get(c, k));
    if (ferror(a.f)) {
        eqs_atomic_abort(&a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    }
    return eqs_atomic_commit(&a);
}
