/*
 * netlist.c: write a trained circuit back as a netlist, and its
 * conductances as CSV.
 *
 * The element lines come from eqs_deck_build (solver/deck.c), the same
 * writer the ngspice backend uses, so what we export is exactly what our
 * ngspice backend has been validated on: current values, %.17g, ngspice
 * element names ("r.x1.r1" for a flattened "x1.r1").  Around them:
 *
 *   <title>
 *   * exported by eqspice <version>: current conductances (R = 1/G), ...
 *   .options ... / .model ... / elements        (eqs_deck_build)
 *   *eqspice .input <v sources>                 (extension cards, as comments)
 *   *eqspice .output <nodes>   (or .output_pair <pos neg ...>)
 *   *eqspice .trainable <patterns or names>
 *   .op
 *   .end
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

static void ext_word(ext_line *x, const char *prefix, const char *word)
{
    int w = (int)(strlen(prefix) + strlen(word)) + 1;
    if (x->len > 0 && x->len + w > EXT_LINE_MAX) {
        fputc('\n', x->f);
        x->len = 0;
    }
    if (x->len == 0) x->len = fprintf(x->f, "*eqspice %s", x->card);
    x->len += fprintf(x->f, " %s%s", prefix, word);
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
        for (int k = 0; k + 1 < nl->n_outputs; k += 2) {
            size_t len = strlen(nl->outputs[k]) + 2;
            char *pos = malloc(len);
            if (pos) {
                snprintf(pos, len, "%s ", nl->outputs[k]);
                ext_word(&x, pos, nl->outputs[k + 1]);
            } else {
                ext_word(&x, "", nl->outputs[k]);
                ext_word(&x, "", nl->outputs[k + 1]);
            }
            free(pos);
        }
    } else {
        for (int k = 0; k < nl->n_outputs; ++k) ext_word(&x, "", nl->outputs[k]);
    }
    ext_end(&x);
    if (nl->n_trainable == 0) return;
    int any_renamed = 0;
    for (int i = 0; i < nl->n_elems && !any_renamed; ++i)
        if (nl->elems[i].kind == EQS_EL_R && renamed('r', nl->elems[i].name)) any_renamed = 1;
    x.card = ".trainable";
    if (!any_renamed || c->n_params == 0) {
        for (int k = 0; k < nl->n_trainable; ++k) ext_word(&x, "", nl->trainable[k]);
    } else {
        for (int k = 0; k < c->n_params; ++k) {
            const char *nm = eqs_circuit_param_name(c, k);
            ext_word(&x, renamed('r', nm) ? "r." : "", nm);
        }
    }
    ext_end(&x);
}

eqs_status eqs_export_netlist(eqs_ctx *ctx, const eqs_circuit *c, const char *path)
{
    eqs_solver_options opt;
    export_options(c->nl, &opt);
    char **lines = NULL;
    eqs_circuit_sync_params(c); /* lazily written parameters (layered training) */
    eqs_status st = eqs_deck_build(ctx, c, &opt, 0, &lines);
    if (st != EQS_OK) return st;
    eqs_atomic a;
    st = eqs_atomic_open(ctx, path, &a);
    if (st != EQS_OK) {
        eqs_deck_free(ctx, &lines);
        return st;
    }
    /* lines: title, ..., ".end" (last) */
    int n = 0;
    while (lines[n]) n++;
    const char *title = n > 0 && lines[0] ? lines[0] : "eqspice export";
    fprintf(a.f, "%s\n", title);
    fprintf(a.f, "* exported by eqspice %s: current conductances (R = 1/G) and input values;\n"
                 "* '*eqspice' lines are eqspice's extension cards (comments for ngspice)\n",
            EQS_VERSION);
    for (int i = 1; i < n - 1; ++i) fprintf(a.f, "%s\n", lines[i]);
    write_ext_cards(a.f, c);
    fprintf(a.f, ".op\n.end\n");
    eqs_deck_free(ctx, &lines);
    if (ferror(a.f)) {
        eqs_atomic_abort(&a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    }
    return eqs_atomic_commit(&a);
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
