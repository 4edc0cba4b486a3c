/*
 * parser.c: cards -> flattened eqs_netlist.
 *
 * Passes over the card list produced by lexer.c (includes already in
 * place):
 *   1. structure: classify dot cards, find .subckt/.ends ranges (nested
 *      definitions allowed), collect .global nodes;
 *   2. top-level .param cards, in order (elements may use a parameter
 *      defined further down, as in ngspice; a .param may only use
 *      parameters defined before it);
 *   3. once-per-card cards anywhere: .model (global), .options, .op,
 *      extension cards (top level only), ignored/unknown cards (warning);
 *   4. expansion: elements of the top level, X cards recursively (each
 *      instance: parameters first, then elements);
 *   5. checks needing the whole netlist: F/H controlling sources,
 *      .input/.output names, .trainable patterns.
 * Everything is hashed (nodes, elements, models, subcircuits, parameters),
 * so the parser is linear in the size of the flattened netlist.
 */
#include "netlist.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_INSTANCE_DEPTH 1000 /* nested X levels (a recursion is caught earlier) */
/* Flattened element and instance cards: a few lines of nested .subckt
 * fan-out can expand to 10^12 elements; stop with a parse error instead of
 * exhausting memory.  12x the largest generated network (784-1024-10,
 * 1.6 M elements), about 2.5 GB of flattened netlist. */
#define MAX_FLAT_CARDS 20000000L

enum { K_ELEM = 0, K_SUBCKT, K_ENDS, K_PARAM, K_MODEL, K_OTHER, K_XBAR };

typedef struct {
    const char *name; /* lower case (arena) */
    int parent;       /* enclosing definition, -1 = top level */
    int card;         /* index of the .subckt card */
    int last;         /* index of the .ends card */
    int n_ports;
    eqs_strmap portmap;  /* port name -> port index */
    int n_params;
    const char **pname;  /* lower case (arena) */
    eqs_tok *pname_tok;
    eqs_tok *pval_tok;   /* default value tokens (point into file buffers) */
    int active;          /* being expanded (recursion check) */
    int flat_state;      /* flat_count: 0 not yet, 1 counting, 2 done */
    double flat;         /* element + instance cards one instance expands to */
} subdef;

typedef struct {
    const char *prefix; /* "x1.x2." ("" at top level) */
    size_t plen;
    const subdef *def;  /* NULL at top level */
    const int *ports;   /* caller's node index for each port */
    int scope;          /* parameter scope id */
    int depth;
} inst;

typedef struct {
    eqs_lexer lx;
    eqs_ctx *ctx;
    eqs_netlist *nl;
    subdef *defs;
    int n_defs;
    size_t def_cap;
    eqs_strmap defmap;  /* "<parent>:<name>" -> definition */
    eqs_strmap params;  /* "<scope>:<name>" -> index into pvals */
    double *pvals;
    size_t n_pvals, pval_cap;
    int *scope_parent;
    size_t n_scopes, scope_cap;
    int cur_scope;      /* scope used by param_lookup */
    eqs_strmap globals; /* .global node names */
    eqs_strmap insts;   /* flattened X instance names -> card index */
    char *kbuf;         /* scratch for keys */
    size_t kbuf_cap;
    char *nbuf;         /* scratch for flattened names */
    size_t nbuf_cap;
    char *ebuf;         /* flattened name of the element being read */
    size_t ebuf_cap, ebuf_len;
    uint32_t ebuf_hash;
    long n_flat;        /* element and instance cards expanded so far */
    /* The element card registry (eqs_elem_card_get) by first letter,
     * filled once per parse (cards_init). */
    const eqs_elem_card *card_of[26];
    int kind_of[26];
    char reads[64];     /* "R D V I E G F H X": the letters eqspice reads */
    char linear[64];    /* "E G F H": the letters with EQS_CARD_LINEAR */
    int from_string;    /* the top file is a string: its file= paths are cwd-relative */
} parser;

/* ---------------------------------------------------------------- */
/* helpers                                                           */
/* ---------------------------------------------------------------- */

static eqs_loc card_loc(const eqs_card *c)
{
    eqs_loc l = {c->file, c->line, c->col};
    return l;
}

#define TOK(t) (t)->len, (t)->s /* for "%.*s" */

static int is_ident(const eqs_tok *t)
{
    if (t->len == 0 || !(isalpha((unsigned char)t->s[0]) || t->s[0] == '_')) return 0;
    for (int i = 1; i < t->len; ++i)
        if (!(isalnum((unsigned char)t->s[i]) || t->s[i] == '_')) return 0;
    return 1;
}

/* a token usable as a name (node, element, model, subcircuit) */
static int is_name(const eqs_tok *t)
{
    if (t->len == 0) return 0;
    char c = t->s[0];
    return c != '=' && c != '(' && c != ')' && c != '{';
}

static int is_eq(const eqs_tok *t) { return t->len == 1 && t->s[0] == '='; }

/* Build "<prefix><tok>" lower case in P->nbuf; returns its length. */
static eqs_status build_name(parser *P, const char *prefix, size_t plen, const eqs_tok *t,
                             size_t *len)
{
    size_t need = plen + (size_t)t->len + 1;
    if (eqs_grow(P->ctx, (void **)&P->nbuf, &P->nbuf_cap, need, 1)) return EQS_ERR_NOMEM;
    memcpy(P->nbuf, prefix, plen);
    for (int i = 0; i < t->len; ++i)
        P->nbuf[plen + (size_t)i] = (char)tolower((unsigned char)t->s[i]);
    P->nbuf[plen + (size_t)t->len] = '\0';
    *len = plen + (size_t)t->len;
    return EQS_OK;
}

/* Build "<id>:<name>" in P->kbuf. */
static eqs_status build_key(parser *P, int id, const char *s, size_t len, size_t *klen)
{
    if (eqs_grow(P->ctx, (void **)&P->kbuf, &P->kbuf_cap, len + 16, 1)) return EQS_ERR_NOMEM;
    int n = snprintf(P->kbuf, 16, "%d:", id);
    for (size_t i = 0; i < len; ++i) P->kbuf[(size_t)n + i] = (char)tolower((unsigned char)s[i]);
    P->kbuf[(size_t)n + len] = '\0';
    *klen = (size_t)n + len;
    return EQS_OK;
}

/* ---------------------------------------------------------------- */
/* parameters                                                        */
/* ---------------------------------------------------------------- */

static int param_lookup(void *user, const char *name, size_t len, double *val)
{
    parser *P = user;
    for (int s = P->cur_scope; s >= 0; s = P->scope_parent[s]) {
        size_t klen;
        if (build_key(P, s, name, len, &klen)) return 0;
        int k = eqs_strmap_get(&P->params, P->kbuf, klen);
        if (k >= 0) {
            *val = P->pvals[k];
            return 1;
        }
    }
    return 0;
}

static eqs_status param_set(parser *P, int scope, const char *name, size_t len, double v)
{
    size_t klen;
    if (build_key(P, scope, name, len, &klen)) return EQS_ERR_NOMEM;
    int k = eqs_strmap_get(&P->params, P->kbuf, klen);
    if (k >= 0) {
        P->pvals[k] = v;
        return EQS_OK;
    }
    if (eqs_grow(P->ctx, (void **)&P->pvals, &P->pval_cap, P->n_pvals + 1, sizeof *P->pvals))
        return EQS_ERR_NOMEM;
    char *key = eqs_nl_strdup(P->nl, P->kbuf, klen);
    if (!key || eqs_strmap_put(P->ctx, &P->params, key, (int)P->n_pvals)) return EQS_ERR_NOMEM;
    P->pvals[P->n_pvals++] = v;
    return EQS_OK;
}

static int new_scope(parser *P, int parent)
{
    if (eqs_grow(P->ctx, (void **)&P->scope_parent, &P->scope_cap, P->n_scopes + 1,
                 sizeof *P->scope_parent))
        return -1;
    P->scope_parent[P->n_scopes] = parent;
    return (int)P->n_scopes++;
}

static eqs_status eval_text(parser *P, int scope, const char *s, size_t len, eqs_loc loc,
                            double *out)
{
    P->cur_scope = scope;
    return eqs_expr_eval(P->ctx, s, len, loc, param_lookup, P, out);
}

/* An element value: number, {expression} or a bare parameter name. */
static eqs_status value_of(parser *P, int scope, const eqs_card *c, const eqs_tok *t,
                           double *out)
{
    eqs_loc loc = eqs_tok_loc(c, t);
    char ch = t->s[0];
    if (t->len == 0) return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc, "empty value");
    if (ch == '{') {
        loc.col++;
        return eval_text(P, scope, t->s + 1, (size_t)t->len - 2, loc, out);
    }
    if (isdigit((unsigned char)ch) || ch == '.' || ch == '+' || ch == '-') {
        size_t used = 0;
        if (!eqs_number_scan(t->s, (size_t)t->len, &used, out) || used != (size_t)t->len)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc, "malformed number '%.*s'", TOK(t));
        return EQS_OK;
    }
    if (ch == '=' || ch == '(' || ch == ')')
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc, "expected a value, got '%.*s'", TOK(t));
    return eval_text(P, scope, t->s, (size_t)t->len, loc, out);
}

/* `.param a=1 b={a*2} c = a * 2 ...` in scope `scope` */
static eqs_status do_param(parser *P, const eqs_card *c, int scope)
{
    eqs_status st = eqs_lex_card(&P->lx, c);
    if (st) return st;
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (n < 2)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "'.param' needs name=value");
    for (int i = 1; i < n;) {
        if (!is_ident(&t[i]))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "invalid parameter name '%.*s'", TOK(&t[i]));
        if (i + 1 >= n || !is_eq(&t[i + 1]))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "expected '=' after parameter name '%.*s'", TOK(&t[i]));
        int j = i + 2, k = j;
        if (j >= n)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 1]),
                                "missing value for parameter '%.*s'", TOK(&t[i]));
        while (k < n && !(k + 1 < n && is_eq(&t[k + 1]) && k > j)) k++;
        double v;
        eqs_loc vloc = eqs_tok_loc(c, &t[j]);
        if (k == j + 1 && t[j].s[0] == '{') {
            st = value_of(P, scope, c, &t[j], &v);
        } else {
            if (t[k - 1].line != t[j].line)
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, vloc,
                                    "parameter expression spans lines (use {...})");
            const char *s = t[j].s, *e = t[k - 1].s + t[k - 1].len;
            st = eval_text(P, scope, s, (size_t)(e - s), vloc, &v);
        }
        if (st) return st;
        st = param_set(P, scope, t[i].s, (size_t)t[i].len, v);
        if (st) return st;
        i = k;
    }
    return EQS_OK;
}

/* ---------------------------------------------------------------- */
/* nodes and elements                                                */
/* ---------------------------------------------------------------- */

/* Node index of token t inside instance `in` (ports map to the caller's
 * nodes, ground and .global names stay global, others get the prefix). */
static eqs_status node_of(parser *P, const inst *in, const eqs_card *c, const eqs_tok *t,
                          int *out)
{
    if (!is_name(t))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, t), "invalid node name '%.*s'",
                            TOK(t));
    int k;
    if (in->def) {
        if ((k = eqs_strmap_get(&in->def->portmap, t->s, (size_t)t->len)) >= 0) {
            *out = in->ports[k];
            return EQS_OK;
        }
        if (eqs_strmap_get(&P->globals, t->s, (size_t)t->len) < 0 &&
            !(t->len == 1 && t->s[0] == '0') && !eqs_tok_is(t, "gnd")) {
            size_t len;
            if (build_name(P, in->prefix, in->plen, t, &len)) return EQS_ERR_NOMEM;
            k = eqs_nl_node(P->nl, P->nbuf, len);
            if (k < 0) return EQS_ERR_NOMEM;
            *out = k;
            return EQS_OK;
        }
    }
    k = eqs_nl_node(P->nl, t->s, (size_t)t->len);
    if (k < 0) return EQS_ERR_NOMEM;
    *out = k;
    return EQS_OK;
}

/* Flattened name of the element of the current card into P->ebuf, with
 * its hash; the index slot is prefetched while the card is parsed. */
static eqs_status elem_name(parser *P, const inst *in, const eqs_tok *t0)
{
    size_t need = in->plen + (size_t)t0->len + 1;
    if (eqs_grow(P->ctx, (void **)&P->ebuf, &P->ebuf_cap, need, 1)) return EQS_ERR_NOMEM;
    memcpy(P->ebuf, in->prefix, in->plen);
    for (int i = 0; i < t0->len; ++i)
        P->ebuf[in->plen + (size_t)i] = (char)tolower((unsigned char)t0->s[i]);
    P->ebuf_len = need - 1;
    P->ebuf[P->ebuf_len] = '\0';
    P->ebuf_hash = eqs_str_hash(P->ebuf, P->ebuf_len);
    eqs_strmap_prefetch(&P->nl->priv->elems, P->ebuf_hash);
    return EQS_OK;
}

/* Append the element named by elem_name(); checks for duplicates. */
static eqs_status add_elem(parser *P, const eqs_card *c, eqs_elem_kind kind, eqs_element **out)
{
    return eqs_nl_elem_add(P->nl, P->ebuf, P->ebuf_len, P->ebuf_hash, kind, card_loc(c), out);
}

/* Fill the parser's card tables from the registry: the card of each
 * letter (the first kind with that letter wins) and the letter lists of
 * the messages, in registry order. */
static void cards_init(parser *P)
{
    const eqs_elem_card *cd;
    char l;
    size_t nr = 0, nlin = 0;
    for (int k = 0; (cd = eqs_elem_card_get(k, &l)); ++k) {
        int ch = tolower((unsigned char)l);
        if (ch < 'a' || ch > 'z') continue;
        if (!P->card_of[ch - 'a']) {
            P->card_of[ch - 'a'] = cd;
            P->kind_of[ch - 'a'] = k;
        }
        if (nr + 3 < sizeof P->reads) {
            P->reads[nr++] = (char)toupper(ch);
            P->reads[nr++] = ' ';
        }
        if ((cd->flags & EQS_CARD_LINEAR) && nlin + 3 < sizeof P->linear) {
            if (nlin) P->linear[nlin++] = ' ';
            P->linear[nlin++] = (char)toupper(ch);
        }
    }
    P->reads[nr++] = 'X'; /* subcircuit instances */
    P->reads[nr] = '\0';
    P->linear[nlin] = '\0';
}

static eqs_status too_few(parser *P, const eqs_card *c, const eqs_tok *t0,
                          const eqs_elem_card *cd)
{
    return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                        "too few fields in '%.*s' (expected: %s)", TOK(t0), cd->usage);
}

static eqs_status unexpected_tok(parser *P, const eqs_card *c, const eqs_tok *t,
                                 const eqs_tok *t0)
{
    return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, t), "unexpected '%.*s' in '%.*s'",
                        TOK(t), TOK(t0));
}

static const char *const source_functions[] = {"sin", "pulse", "exp", "pwl", "sffm", "am",
                                               "trnoise", "trrandom", "distof1", "distof2"};

/* EQS_CARD_SOURCE (V, I): n+ n- [dc] value [ac mag [phase]] */
static eqs_status source_value(parser *P, const inst *in, const eqs_card *c,
                               const eqs_elem_card *cd, int i, double *value)
{
    const eqs_tok *t = P->lx.toks, *t0 = &t[0];
    int n = P->lx.n_toks, have = 0;
    eqs_status st;
    *value = 0.0;
    if (i < n && eqs_tok_is(&t[i], "dc")) {
        i++;
        if (i < n && is_eq(&t[i])) i++; /* dc=5, as ngspice */
        if (i >= n || eqs_tok_is(&t[i], "ac"))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i - 1]),
                                "missing value after 'dc' in '%.*s'", TOK(t0));
    }
    if (i < n && !eqs_tok_is(&t[i], "ac")) {
        for (size_t f = 0; f < sizeof source_functions / sizeof *source_functions; ++f)
            if (eqs_tok_is(&t[i], source_functions[f]))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[i]),
                                    "unsupported source function '%.*s' in '%.*s' (only dc and ac)",
                                    TOK(&t[i]), TOK(t0));
        if ((st = value_of(P, in->scope, c, &t[i], value))) return st;
        have = 1;
        i++;
        if (i < n && eqs_tok_is(&t[i], "dc"))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "DC value given twice in '%.*s'", TOK(t0));
    }
    if (i < n && eqs_tok_is(&t[i], "ac")) {
        have = 1;
        i++;
        if (i < n && is_eq(&t[i])) i++; /* ac=1 */
        double ignored;
        for (int k = 0; k < 2 && i < n; ++k, ++i) /* magnitude, phase: checked, unused */
            if ((st = value_of(P, in->scope, c, &t[i], &ignored))) return st;
    }
    if (!have) return too_few(P, c, t0, cd);
    if (i < n) return unexpected_tok(P, c, &t[i], t0);
    return EQS_OK;
}

static int tok_in(const eqs_tok *t, const char *const *names)
{
    for (; *names; ++names)
        if (eqs_tok_is(t, *names)) return 1;
    return 0;
}

/* EQS_CARD_VALUE (R, E, G, F, H): positional, or `name=value` with a
 * name of cd->value_names (ngspice 39: R takes r= and resistance=, E G F H
 * take gain=).  Both together are refused (ngspice silently takes the last
 * one), and so are other name=value parameters (they change the element
 * in ngspice).  *i: first token after the nodes (and controlling source);
 * on return, the first token not used. */
static eqs_status named_value(parser *P, const inst *in, const eqs_card *c,
                              const eqs_elem_card *cd, int *i, double *value)
{
    const eqs_tok *t = P->lx.toks, *t0 = &t[0];
    int n = P->lx.n_toks, k = *i;
    const char *const *names = cd->value_names;
    const char *what = cd->what, *reads = cd->reads;
    if (k + 1 < n && is_eq(&t[k + 1])) {
        if (!tok_in(&t[k], names))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[k]),
                                "unsupported %s parameter '%.*s' in '%.*s' (eqspice reads %s)",
                                what, TOK(&t[k]), TOK(t0), reads);
        if (k + 2 >= n)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[k + 1]),
                                "missing value for '%.*s' in '%.*s'", TOK(&t[k]), TOK(t0));
        k += 2;
    }
    eqs_status st = value_of(P, in->scope, c, &t[k], value);
    if (st) return st;
    k++;
    if (k + 1 < n && is_eq(&t[k + 1]) && tok_in(&t[k], names))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[k]), "%s given twice in '%.*s'",
                            cd->value_word, TOK(t0));
    if (k + 1 < n && is_eq(&t[k + 1]))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[k]),
                            "unsupported %s parameter '%.*s' in '%.*s' (eqspice reads %s)", what,
                            TOK(&t[k]), TOK(t0), reads);
    *i = k;
    return EQS_OK;
}

/* E/G/F/H written as ngspice behavioural or polynomial sources (value=,
 * vol=, cur=, poly(n), table, laplace ...): refused at that token. */
static eqs_status behavioural_check(parser *P, const eqs_card *c, int from)
{
    static const char *const forms[] = {"value", "vol", "cur", "poly", "table", "laplace",
                                        "freq", "ch", NULL};
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    for (int k = from; k < n && k <= from + 2; ++k)
        if (tok_in(&t[k], forms) && k + 1 < n &&
            (is_eq(&t[k + 1]) || (t[k + 1].len == 1 && t[k + 1].s[0] == '(') ||
             t[k + 1].s[0] == '{'))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[k]),
                                "behavioural or polynomial source '%.*s' in '%.*s' is not "
                                "supported (eqspice reads linear %s: nodes and a gain)",
                                TOK(&t[k]), TOK(&t[0]), P->linear);
    return EQS_OK;
}

static eqs_status do_instance(parser *P, const inst *in, const eqs_card *c);

/* Index of parameter token t in an element card's parameters, or -1. */
static int card_param_find(const eqs_elem_card *cd, const eqs_tok *t)
{
    for (int k = 0; k < cd->n_params; ++k)
        if (eqs_tok_is(t, cd->params[k].name)) return k;
    return -1;
}

/* The value of card parameter p read from token vt (checked when p says
 * so). */
static eqs_status card_param_value(parser *P, const inst *in, const eqs_card *c,
                                   const eqs_tok *key, const eqs_tok *vt, const eqs_card_param *p,
                                   double *out)
{
    eqs_status st = value_of(P, in->scope, c, vt, out);
    if (st) return st;
    if (p->checked && (!isfinite(*out) || !(*out > p->above)))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, vt),
                            "'%.*s' in '%.*s' needs %s, got '%.*s'", TOK(key),
                            TOK(&P->lx.toks[0]), p->needs, TOK(vt));
    return EQS_OK;
}

/* EQS_CARD_MODEL (D): `model [first] [name=value ...]` from token *i.  The
 * model must exist (*model: its index); the first parameter may be given
 * positionally right after it (a diode's area), then the parameters come
 * in any order, as in ngspice 39 (DIOpTable), each at most once.  w[k]:
 * the value of cd->params[k] (its default when not given), bit k of
 * *given set when the card gave it.  Any other `name=value` and the
 * refused words (ngspice instance parameters that eqspice does not model:
 * m=, pj=, ic=, off ...: each changes the answer or the meaning in
 * ngspice) are refused at that token; on return *i is the first token not
 * used. */
static eqs_status elem_params(parser *P, const inst *in, const eqs_card *c,
                              const eqs_elem_card *cd, int *i, int *model, double *w,
                              unsigned *given)
{
    const eqs_tok *t = P->lx.toks, *t0 = &t[0];
    int n = P->lx.n_toks, k = *i;
    eqs_status st;
    *model = eqs_strmap_get(&P->nl->priv->models, t[k].s, (size_t)t[k].len);
    if (*model < 0)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[k]),
                            "unknown %s model '%.*s' in '%.*s'", cd->model_word, TOK(&t[k]),
                            TOK(t0));
    k++;
    for (int j = 0; j < cd->n_params; ++j) w[j] = cd->params[j].def;
    *given = 0;
    int refused = k < n && cd->refused_words && tok_in(&t[k], cd->refused_words);
    if (cd->n_params > 0 && k < n && !(k + 1 < n && is_eq(&t[k + 1])) && !refused) {
        if ((st = card_param_value(P, in, c, &t[k], &t[k], &cd->params[0], &w[0]))) return st;
        *given |= 1u;
        k++;
    }
    int j;
    while (k + 1 < n && is_eq(&t[k + 1]) && (j = card_param_find(cd, &t[k])) >= 0) {
        if (*given & (1u << j))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[k]),
                                "'%.*s' given twice in '%.*s'", TOK(&t[k]), TOK(t0));
        if (k + 2 >= n)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[k + 1]),
                                "missing value for '%.*s' in '%.*s'", TOK(&t[k]), TOK(t0));
        if ((st = card_param_value(P, in, c, &t[k], &t[k + 2], &cd->params[j], &w[j])))
            return st;
        *given |= 1u << j;
        k += 3;
    }
    const char *warning = cd->warn ? cd->warn(*given) : NULL;
    if (warning) eqs_warn_at(P->ctx, card_loc(c), "'%.*s' %s", TOK(t0), warning);
    /* what is left: ngspice instance parameters eqspice does not model */
    if (k < n && ((k + 1 < n && is_eq(&t[k + 1])) ||
                  (cd->refused_words && tok_in(&t[k], cd->refused_words))))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[k]),
                            "unsupported %s instance parameter '%.*s' in '%.*s' (eqspice reads "
                            "%s)",
                            cd->model_word, TOK(&t[k]), TOK(t0), cd->params_read);
    *i = k;
    return EQS_OK;
}

/* A value of a table-driven parameter (eqs_param_desc): finite, an integer
 * when the table says so, inside its range.  `what`: "model 'mm'" or
 * "'mr1'" for the messages, which point at the value token. */
static eqs_status desc_check(parser *P, const eqs_card *c, const eqs_tok *vt,
                             const eqs_param_desc *d, const char *what, double v)
{
    eqs_loc loc = eqs_tok_loc(c, vt);
    if (!isfinite(v))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc, "'%s' in %s must be finite", d->name,
                            what);
    if (d->integer && v != floor(v))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc, "'%s' in %s must be an integer (got %g)",
                            d->name, what, v);
    if (d->lo == d->hi && v != d->lo)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, loc,
                            "unsupported '%s' %g in %s (only %g)", d->name, v, what, d->lo);
    if (v > d->hi || v < d->lo || (d->lo_open && v == d->lo)) {
        if (d->lo_open && d->hi == DBL_MAX)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc,
                                "'%s' in %s must be positive (got %g%s%s)", d->name, what, v,
                                *d->unit ? " " : "", d->unit);
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, loc,
                            "'%s' in %s must lie in %c%g, %g] (got %g)", d->name, what,
                            d->lo_open ? '(' : '[', d->lo, d->hi, v);
    }
    return EQS_OK;
}

/* Index of key token t in a parameter table, or -1. */
static int desc_find(const eqs_param_desc *d, int n, const eqs_tok *t)
{
    for (int k = 0; k < n; ++k)
        if (eqs_tok_is(t, d[k].name)) return k;
    return -1;
}

static const char *desc_names(const eqs_param_desc *d, int n, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int j = 0; j < n && k < len; ++j)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", j ? " " : "", d[j].name);
    return buf;
}

/* A table-driven device card (Xyce's Y devices, e.g.
 * `ymemristor name n+ n- model [xo=x]`): the keyword selects the model
 * type (eqs_model_type_find_card), the instance name is the token after
 * it (`mr1`, flattened `x1.mr1`), and the element is a resistor of the
 * device's DC resistance. */
static eqs_status do_ydevice(parser *P, const inst *in, const eqs_card *c)
{
    const eqs_tok *t = P->lx.toks, *t0 = &t[0];
    int n = P->lx.n_toks;
    const eqs_model_type *ty = eqs_model_type_find_card(t0->s, (size_t)t0->len);
    if (!ty) /* as any other letter eqspice does not read */
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "unknown element type 'y' in '%.*s'", TOK(t0));
    if (n < 5)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "too few fields in '%.*s' (expected: %s name n+ n- model "
                            "[name=value ...])",
                            TOK(t0), ty->card);
    if (!is_name(&t[1]))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[1]),
                            "invalid element name '%.*s' in '%.*s'", TOK(&t[1]), TOK(t0));
    eqs_status st = elem_name(P, in, &t[1]);
    if (st) return st;
    int nodes[2];
    for (int k = 0; k < 2; ++k)
        if ((st = node_of(P, in, c, &t[2 + k], &nodes[k]))) return st;
    int m = eqs_strmap_get(&P->nl->priv->dmodels, t[4].s, (size_t)t[4].len);
    if (m < 0 || P->nl->dmodels[m].type != ty)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[4]),
                            "unknown %s model '%.*s' in '%.*s'", ty->type, TOK(&t[4]),
                            TOK(&t[1]));
    double w[2] = {0, 0};
    char what[96];
    snprintf(what, sizeof what, "'%.*s'", TOK(&t[1]));
    for (int k = 0; k < ty->n_inst; ++k) w[k] = ty->inst[k].def;
    unsigned given = 0;
    for (int i = 5; i < n; i += 3) {
        int k = desc_find(ty->inst, ty->n_inst, &t[i]);
        if (k < 0 || i + 1 >= n || !is_eq(&t[i + 1])) {
            char names[128];
            desc_names(ty->inst, ty->n_inst, names, sizeof names);
            if (i + 1 < n && is_eq(&t[i + 1]))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[i]),
                                    "unsupported %s parameter '%.*s' in '%.*s' (eqspice reads "
                                    "%s)",
                                    ty->type, TOK(&t[i]), TOK(&t[1]), names);
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "unexpected '%.*s' in '%.*s' (expected name=value: %s)",
                                TOK(&t[i]), TOK(&t[1]), names);
        }
        if (i + 2 >= n)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 1]),
                                "missing value for '%.*s' in '%.*s'", TOK(&t[i]), TOK(&t[1]));
        if (given & (1u << k))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "'%.*s' given twice in '%.*s'", TOK(&t[i]), TOK(&t[1]));
        given |= 1u << k;
        if ((st = value_of(P, in->scope, c, &t[i + 2], &w[k]))) return st;
        if ((st = desc_check(P, c, &t[i + 2], &ty->inst[k], what, w[k]))) return st;
    }
    eqs_element *e = NULL;
    if ((st = add_elem(P, c, ty->kind, &e))) return st;
    e->n_nodes = 2;
    e->node[0] = nodes[0];
    e->node[1] = nodes[1];
    e->value = ty->resistance(P->nl->dmodels[m].v, w);
    e->dmodel = m + 1;
    return EQS_OK;
}

static eqs_status do_element(parser *P, const inst *in, const eqs_card *c)
{
    if (++P->n_flat > MAX_FLAT_CARDS)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "the netlist expands to more than %ld elements (subcircuit "
                            "fan-out too large)",
                            MAX_FLAT_CARDS);
    eqs_status st = eqs_lex_card(&P->lx, c);
    if (st) return st;
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (n == 0) /* only separators, e.g. ",," */
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "unexpected '%c'", c->start[0]);
    const eqs_tok *t0 = &t[0];
    int ch = tolower((unsigned char)t0->s[0]);
    const eqs_elem_card *cd = ch >= 'a' && ch <= 'z' ? P->card_of[ch - 'a'] : NULL;
    if (!cd) {
        /* SPICE3 element letters that eqspice does not model (yet) */
        static const char spice3[] = "clkqmjbswtuoz";
        if (ch == 'x') return do_instance(P, in, c);
        if (ch == 'y') return do_ydevice(P, in, c);
        if (ch && strchr(spice3, ch))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, card_loc(c),
                                "element type '%c' in '%.*s' is not supported (eqspice reads %s)",
                                ch, TOK(t0), P->reads);
        unsigned char b = (unsigned char)t0->s[0];
        if (b < 0x20 || b >= 0x7f)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                                "unknown element type (byte 0x%02x)", b);
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "unknown element type '%c' in '%.*s'", ch, TOK(t0));
    }
    eqs_elem_kind kind = (eqs_elem_kind)P->kind_of[ch - 'a'];
    int nn = cd->n_nodes; /* nodes */
    if (!is_name(t0))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "invalid element name '%.*s'",
                            TOK(t0));
    if ((st = elem_name(P, in, t0))) return st;
    /* name, nodes, value or model (F, H: controlling source too) */
    int need = 1 + nn + 1 + ((cd->flags & EQS_CARD_CONTROLLED) ? 1 : 0);
    if ((cd->flags & EQS_CARD_LINEAR) && (st = behavioural_check(P, c, 3))) return st;
    if (n < need) return too_few(P, c, t0, cd);
    int nodes[4];
    for (int k = 0; k < nn; ++k)
        if ((st = node_of(P, in, c, &t[1 + k], &nodes[k]))) return st;
    double value = 0.0, w[EQS_CARD_MAX_PARAMS];
    int model = -1;
    unsigned given = 0;
    const eqs_tok *ctrl = NULL;
    int i = 1 + nn;
    if (cd->flags & EQS_CARD_CONTROLLED) {
        if (!is_name(&t[i]))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "invalid controlling source name '%.*s'", TOK(&t[i]));
        ctrl = &t[i++];
        if (i >= n) return too_few(P, c, t0, cd);
    }
    switch (cd->form) {
    case EQS_CARD_VALUE:
        if ((st = named_value(P, in, c, cd, &i, &value))) return st;
        break;
    case EQS_CARD_MODEL:
        if ((st = elem_params(P, in, c, cd, &i, &model, w, &given))) return st;
        break;
    case EQS_CARD_SOURCE:
        if ((st = source_value(P, in, c, cd, i, &value))) return st;
        i = n;
        break;
    }
    if (i < n) return unexpected_tok(P, c, &t[i], t0);
    eqs_element *e = NULL;
    if ((st = add_elem(P, c, kind, &e))) return st;
    e->n_nodes = nn;
    for (int k = 0; k < nn; ++k) e->node[k] = nodes[k];
    e->value = value;
    e->model = model;
    if (cd->form == EQS_CARD_MODEL && cd->set) cd->set(e, w, given);
    if (ctrl) {
        size_t len;
        if (build_name(P, in->prefix, in->plen, ctrl, &len)) return EQS_ERR_NOMEM;
        e->ctrl = eqs_nl_strdup(P->nl, P->nbuf, len);
        if (!e->ctrl) return EQS_ERR_NOMEM;
    }
    return EQS_OK;
}

/* ---------------------------------------------------------------- */
/* subcircuits                                                       */
/* ---------------------------------------------------------------- */

/* Definition visible from inside definition `from` (-1: top level). */
static int find_def(parser *P, int from, const eqs_tok *t)
{
    for (int d = from;; d = P->defs[d].parent) {
        size_t klen;
        if (build_key(P, d, t->s, (size_t)t->len, &klen)) return -1;
        int k = eqs_strmap_get(&P->defmap, P->kbuf, klen);
        if (k >= 0 || d < 0) return k;
    }
}

static eqs_status expand(parser *P, const inst *in, int params_done);

/* Index of the token naming the subcircuit in the lexed X card (the last
 * one before "params:" or the first name=value), or -1 if too few fields. */
static int instance_sub_tok(const parser *P)
{
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks, m = 1;
    while (m < n && !eqs_tok_is(&t[m], "params:") && !(m + 1 < n && is_eq(&t[m + 1]))) m++;
    return m < 2 ? -1 : m - 1;
}

/* Element and instance cards that one instance of definition d expands to
 * (memoised; saturates above MAX_FLAT_CARDS).  Recursive definitions count
 * 0 here: the expansion reports them.  Lexes cards into P->lx. */
static eqs_status flat_count(parser *P, int d, double *out)
{
    subdef *def = &P->defs[d];
    if (def->flat_state) {
        *out = def->flat_state == 2 ? def->flat : 0;
        return EQS_OK;
    }
    def->flat_state = 1;
    double n = 0;
    for (size_t ci = (size_t)def->card + 1; ci < (size_t)def->last && n <= MAX_FLAT_CARDS;
         ++ci) {
        const eqs_card *c = &P->lx.cards[ci];
        if (c->kind == K_SUBCKT) {
            ci = (size_t)P->defs[c->aux].last;
            continue;
        }
        if (c->kind != K_ELEM) continue;
        n += 1;
        if (tolower((unsigned char)c->start[0]) != 'x') continue;
        eqs_status st = eqs_lex_card(&P->lx, c);
        if (st) return st;
        int k = instance_sub_tok(P);
        int sd = k < 0 ? -1 : find_def(P, d, &P->lx.toks[k]);
        double sub = 0;
        if (sd >= 0 && (st = flat_count(P, sd, &sub))) return st;
        n += sub;
    }
    def->flat = n;
    def->flat_state = 2;
    *out = n;
    return EQS_OK;
}

/* The X card c (lexed in P->lx), expanding to `sub` element and instance
 * cards after `before` others, passes MAX_FLAT_CARDS. */
static eqs_status flat_cap_error(parser *P, const eqs_card *c, double before, double sub)
{
    const eqs_tok *t0 = &P->lx.toks[0];
    if (sub > MAX_FLAT_CARDS)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "'%.*s' expands to more than %ld elements, the limit of an expanded "
                            "netlist (subcircuit fan-out too large; the limit is fixed at "
                            "build time, docs/netlist.md)",
                            TOK(t0), MAX_FLAT_CARDS);
    return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                        "'%.*s' expands to %.0f elements (and nested instances); with the %.0f "
                        "before it the netlist would expand to %.0f, more than the limit of %ld "
                        "(subcircuit fan-out too large; the limit is fixed at build time, "
                        "docs/netlist.md)",
                        TOK(t0), sub, before, before + 1 + sub, MAX_FLAT_CARDS);
}

/* Refuse an X card whose expansion would exceed MAX_FLAT_CARDS before
 * expanding anything (a few lines of nested fan-out can describe 10^12
 * elements).  Leaves the card c lexed in P->lx as on entry. */
static eqs_status check_fanout(parser *P, const inst *in, const eqs_card *c)
{
    int k = instance_sub_tok(P);
    int from = in->def ? (int)(in->def - P->defs) : -1;
    int d = k < 0 ? -1 : find_def(P, from, &P->lx.toks[k]);
    if (d < 0) return EQS_OK; /* reported by do_instance */
    double n = 0;
    eqs_status st = flat_count(P, d, &n);
    if (st == EQS_OK) st = eqs_lex_card(&P->lx, c); /* flat_count lexed other cards */
    if (st == EQS_OK && (double)P->n_flat + n > MAX_FLAT_CARDS)
        return flat_cap_error(P, c, (double)P->n_flat - 1, n);
    return st;
}

/* Count the whole expansion (top-level cards plus what each X card
 * expands to, memoised per definition) before anything is expanded, and
 * refuse the card at which the count passes MAX_FLAT_CARDS: memory never
 * grows towards the limit. */
static eqs_status check_total(parser *P)
{
    double total = 0;
    for (size_t ci = 0; ci < P->lx.n_cards; ++ci) {
        const eqs_card *c = &P->lx.cards[ci];
        if (c->kind == K_SUBCKT) {
            ci = (size_t)P->defs[c->aux].last;
            continue;
        }
        if (c->kind != K_ELEM) continue;
        double sub = 0;
        if (tolower((unsigned char)c->start[0]) == 'x') {
            eqs_status st = eqs_lex_card(&P->lx, c);
            if (st) return st;
            int k = instance_sub_tok(P);
            int d = k < 0 ? -1 : find_def(P, -1, &P->lx.toks[k]);
            if (d >= 0 && (st = flat_count(P, d, &sub))) return st;
            if (total + 1 + sub > MAX_FLAT_CARDS) {
                if ((st = eqs_lex_card(&P->lx, c))) return st; /* flat_count lexed others */
                return flat_cap_error(P, c, total, sub);
            }
        }
        total += 1 + sub;
    }
    return EQS_OK; /* too many plain elements: do_element counts them as they are read */
}

static eqs_status do_instance(parser *P, const inst *in, const eqs_card *c)
{
    eqs_status st0 = check_fanout(P, in, c);
    if (st0) return st0;
    eqs_ctx *ctx = P->ctx;
    const eqs_tok *t = P->lx.toks, *t0 = &t[0];
    int n = P->lx.n_toks, m = 1;
    while (m < n && !eqs_tok_is(&t[m], "params:") && !(m + 1 < n && is_eq(&t[m + 1]))) m++;
    if (m < 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "too few fields in '%.*s' (expected: x<name> nodes... subcircuit "
                            "[name=value ...])",
                            TOK(t0));
    const eqs_tok *sub = &t[m - 1];
    int from = in->def ? (int)(in->def - P->defs) : -1;
    int d = find_def(P, from, sub);
    if (d < 0)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, sub),
                            "unknown subcircuit '%.*s' in '%.*s'", TOK(sub), TOK(t0));
    subdef *def = &P->defs[d];
    if (m - 2 != def->n_ports)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "subcircuit '%s' expects %d node%s, got %d", def->name, def->n_ports,
                            def->n_ports == 1 ? "" : "s", m - 2);
    if (def->active)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "recursive instantiation of subcircuit '%s' in '%.*s'", def->name,
                            TOK(t0));
    if (in->depth >= MAX_INSTANCE_DEPTH)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "subcircuit instances nested too deeply (more than %d levels)",
                            MAX_INSTANCE_DEPTH);
    if (!is_name(t0))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "invalid element name '%.*s'", TOK(t0));

    eqs_status st = EQS_OK;
    int *ports = eqs_malloc(ctx, sizeof *ports * (size_t)(def->n_ports + 1));
    double *vals = eqs_malloc(ctx, sizeof *vals * (size_t)(def->n_params + 1));
    char *given = eqs_calloc(ctx, (size_t)def->n_params + 1, 1);
    char *prefix = eqs_malloc(ctx, in->plen + (size_t)t0->len + 2);
    if (!ports || !vals || !given || !prefix) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    for (int k = 0; k < def->n_ports; ++k)
        if ((st = node_of(P, in, c, &t[1 + k], &ports[k]))) goto done;
    int i = m;
    if (i < n && eqs_tok_is(&t[i], "params:")) i++;
    while (i < n) {
        if (!is_ident(&t[i]) || i + 2 >= n || !is_eq(&t[i + 1])) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                              "expected 'name=value' in '%.*s', got '%.*s'", TOK(t0), TOK(&t[i]));
            goto done;
        }
        int k = 0;
        while (k < def->n_params && !eqs_tok_is(&t[i], def->pname[k])) k++;
        if (k == def->n_params) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                              "subcircuit '%s' has no parameter '%.*s'", def->name, TOK(&t[i]));
            goto done;
        }
        if ((st = value_of(P, in->scope, c, &t[i + 2], &vals[k]))) goto done;
        given[k] = 1;
        i += 3;
    }
    /* flattened instance name: duplicate check through the prefix map */
    size_t len;
    if ((st = build_name(P, in->prefix, in->plen, t0, &len))) goto done;
    {
        int old = eqs_strmap_get(&P->insts, P->nbuf, len);
        if (old >= 0) {
            const eqs_card *oc = &P->lx.cards[old];
            if (oc->file == c->file)
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                                  "duplicate element name '%s' (first defined at line %d)",
                                  P->nbuf, oc->line);
            else
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                                  "duplicate element name '%s' (first defined at %s:%d)", P->nbuf,
                                  oc->file, oc->line);
            goto done;
        }
        char *iname = eqs_nl_strdup(P->nl, P->nbuf, len);
        if (!iname || eqs_strmap_put(ctx, &P->insts, iname, (int)(c - P->lx.cards))) {
            st = EQS_ERR_NOMEM;
            goto done;
        }
    }
    memcpy(prefix, P->nbuf, len);
    prefix[len] = '.';
    prefix[len + 1] = '\0';
    {
        int s = new_scope(P, in->scope);
        if (s < 0) {
            st = EQS_ERR_NOMEM;
            goto done;
        }
        const eqs_card *dc = &P->lx.cards[def->card];
        for (int k = 0; k < def->n_params; ++k) {
            double v = vals[k];
            if (!given[k] && (st = value_of(P, s, dc, &def->pval_tok[k], &v))) goto done;
            if ((st = param_set(P, s, def->pname[k], strlen(def->pname[k]), v))) goto done;
        }
        inst sub_in = {prefix, len + 1, def, ports, s, in->depth + 1};
        def->active = 1;
        st = expand(P, &sub_in, 0);
        def->active = 0;
    }
done:
    eqs_free(ctx, ports);
    eqs_free(ctx, vals);
    eqs_free(ctx, given);
    eqs_free(ctx, prefix);
    return st;
}

/* ---------------------------------------------------------------- */
/* .crossbar (docs/netlist.md "Crossbars"; expansion in crossbar.c)  */
/* ---------------------------------------------------------------- */

enum { XA_ROWS = 0, XA_COLS, XA_MODEL, XA_RWIRE, XA_G, XA_R, XA_FILE, XA_DEVICE, XA_N };
static const char *const xbar_keys[XA_N] = {"rows", "cols", "model", "rwire",
                                            "g",    "r",    "file",  "device"};
#define XBAR_TAKES                                                                              \
    "rows=(...) cols=(...) g=(...) | r=(...) | file=PATH [model=NAME] [rwire=OHM] "            \
    "[device=MODEL.xml]"
#define XBAR_MAX_RANGE 10000000L /* names one NAME[A:B] range may stand for */

/* One key=value of the card: the value tokens toks[first .. first + n),
 * open = index of the '(' of a list, -1 for a single token. */
typedef struct {
    int key, first, n, open;
} xbar_arg;

/* t is "NAME[A:B]" (A, B decimal): 1 and the prefix length, A and B. */
static int xbar_range(const eqs_tok *t, int *plen, long *a, long *b)
{
    const char *s = t->s;
    int n = t->len, k = 0;
    if (n < 5 || s[n - 1] != ']') return 0;
    while (k < n && s[k] != '[') k++;
    if (k == 0 || k >= n) return 0;
    long v[2] = {0, 0};
    int i = k + 1;
    for (int part = 0; part < 2; ++part) {
        int d = 0;
        while (i < n - 1 && isdigit((unsigned char)s[i]) && d < 9) v[part] = v[part] * 10 + (s[i++] - '0'), d++;
        if (!d) return 0;
        if (part == 0 && (i >= n - 1 || s[i++] != ':')) return 0;
    }
    if (i != n - 1) return 0;
    *plen = k;
    *a = v[0];
    *b = v[1];
    return 1;
}

/* The node names of rows= or cols= (a list, one name, NAME[A:B] ranges)
 * appended to *pool (offsets into *pool in *off, lengths in *len). */
static eqs_status xbar_nodes(parser *P, const eqs_card *c, const xbar_arg *a, const eqs_tok *name,
                             char **pool, size_t *pool_cap, size_t *pool_len, size_t **off,
                             size_t *off_cap, int *count)
{
    const eqs_tok *t = P->lx.toks;
    *count = 0;
    for (int q = 0; q < a->n; ++q) {
        const eqs_tok *x = &t[a->first + q];
        if (!is_name(x) || x->s[0] == '"')
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, x),
                                "expected a node name in '%s=' of '.crossbar %.*s', got '%.*s' "
                                "(a list is (n1 n2 ...), a range NAME[A:B])",
                                xbar_keys[a->key], TOK(name), TOK(x));
        int plen;
        long lo, hi;
        if (!xbar_range(x, &plen, &lo, &hi)) plen = x->len, lo = hi = -1;
        long step = hi >= lo ? 1 : -1, cnt = (hi - lo) * step + 1;
        if (cnt > XBAR_MAX_RANGE || *count + cnt > XBAR_MAX_RANGE)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, x),
                                "'%.*s' names more than %ld nodes", TOK(x), XBAR_MAX_RANGE);
        for (long k = lo;; k += step) {
            char num[24] = "";
            int nlen = k >= 0 ? snprintf(num, sizeof num, "%ld", k) : 0;
            size_t need = *pool_len + (size_t)plen + (size_t)nlen;
            if (eqs_grow(P->ctx, (void **)pool, pool_cap, need + 1, 1) ||
                eqs_grow(P->ctx, (void **)off, off_cap, (size_t)*count + 2, sizeof **off))
                return EQS_ERR_NOMEM;
            memcpy(*pool + *pool_len, x->s, (size_t)plen);
            memcpy(*pool + *pool_len + plen, num, (size_t)nlen);
            (*off)[*count] = *pool_len;
            *pool_len = need;
            (*count)++;
            (*off)[*count] = *pool_len;
            if (k == hi) break;
        }
    }
    return EQS_OK;
}

/* The path a file=/device= value of a .crossbar card names (quotes
 * stripped), relative to the card's file as .include (a netlist read from a
 * string: the current directory); *out malloc'd. */
static eqs_status xbar_path(parser *P, const eqs_card *c, const eqs_tok *tok, char **out)
{
    eqs_ctx *ctx = P->nl->ctx;
    eqs_netlist *nl = P->nl;
    eqs_tok f = *tok;
    *out = NULL;
    if (f.len >= 2 && f.s[0] == '\'' && f.s[f.len - 1] == '\'') f.s++, f.len -= 2;
    if (f.len == 0) return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, tok), "empty file name");
    size_t dlen = 0;
    int dir_relative = !(P->from_string && nl->n_files > 0 && c->file == nl->files[0]);
    if (f.s[0] != '/' && dir_relative) {
        const char *slash = strrchr(c->file, '/');
        if (slash) dlen = (size_t)(slash - c->file) + 1;
    }
    char *path = eqs_malloc(ctx, dlen + (size_t)f.len + 1);
    if (!path) return EQS_ERR_NOMEM;
    memcpy(path, c->file, dlen);
    memcpy(path + dlen, f.s, (size_t)f.len);
    path[dlen + (size_t)f.len] = '\0';
    *out = path;
    return EQS_OK;
}

static eqs_status do_crossbar(parser *P, const eqs_card *c)
{
    eqs_ctx *ctx = P->ctx;
    eqs_netlist *nl = P->nl;
    eqs_status st = eqs_lex_card(&P->lx, c);
    if (st) return st;
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (n < 2 || !is_name(&t[1]) || (n > 2 && is_eq(&t[2])))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "'.crossbar' needs a name: .crossbar NAME " XBAR_TAKES);
    const eqs_tok *name = &t[1];
    xbar_arg a[XA_N];
    for (int k = 0; k < XA_N; ++k) a[k].key = -1;
    for (int i = 2; i < n;) {
        int k = 0;
        while (k < XA_N && !eqs_tok_is(&t[i], xbar_keys[k])) k++;
        if (i + 1 >= n || !is_eq(&t[i + 1]))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "unexpected '%.*s' in '.crossbar %.*s' (it takes " XBAR_TAKES ")",
                                TOK(&t[i]), TOK(name));
        if (k == XA_N)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "unknown parameter '%.*s' in '.crossbar %.*s' (it takes " XBAR_TAKES
                                ")",
                                TOK(&t[i]), TOK(name));
        if (a[k].key >= 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "'%.*s' given twice in '.crossbar %.*s'", TOK(&t[i]), TOK(name));
        if (i + 2 >= n)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 1]),
                                "missing value for '%.*s' in '.crossbar %.*s'", TOK(&t[i]),
                                TOK(name));
        int j = i + 2;
        const eqs_tok *v = &t[j];
        if (v->len == 1 && v->s[0] == ')')
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, v),
                                "unexpected ')' in '.crossbar %.*s'", TOK(name));
        if (v->len == 1 && v->s[0] == '(') {
            int m = j + 1;
            while (m < n && !(t[m].len == 1 && t[m].s[0] == ')')) {
                if ((t[m].len == 1 && t[m].s[0] == '(') || is_eq(&t[m]))
                    return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[m]),
                                        "unexpected '%.*s' in the list of '%.*s' in '.crossbar "
                                        "%.*s' (is a ')' missing?)",
                                        TOK(&t[m]), TOK(&t[i]), TOK(name));
                m++;
            }
            if (m >= n)
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, v),
                                    "missing ')': the list of '%.*s' opened here is not closed",
                                    TOK(&t[i]));
            if (m == j + 1)
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, v),
                                    "empty list for '%.*s' in '.crossbar %.*s'", TOK(&t[i]),
                                    TOK(name));
            a[k] = (xbar_arg){k, j + 1, m - j - 1, j};
            i = m + 1;
        } else {
            a[k] = (xbar_arg){k, j, 1, -1};
            i = j + 1;
        }
        if (a[k].open >= 0 && (k == XA_MODEL || k == XA_RWIRE || k == XA_FILE || k == XA_DEVICE))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[a[k].open]),
                                "'%s' takes one %s, not a list", xbar_keys[k],
                                k == XA_MODEL ? "model name" : k == XA_RWIRE ? "value" : "path");
    }
    for (int k = XA_ROWS; k <= XA_COLS; ++k)
        if (a[k].key < 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                                "'.crossbar %.*s' needs %s=(...) (the %s lines' nodes)", TOK(name),
                                xbar_keys[k], k == XA_ROWS ? "row" : "column");
    int nvals = (a[XA_G].key >= 0) + (a[XA_R].key >= 0) + (a[XA_FILE].key >= 0);
    if (nvals == 0)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                            "'.crossbar %.*s' needs its values: g=(...) in S, r=(...) in Ohm or "
                            "file=PATH.csv",
                            TOK(name));
    if (nvals > 1) {
        int k = a[XA_FILE].key >= 0 ? XA_FILE : XA_R;
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[a[k].first - (a[k].open >= 0 ? 3 : 2)]),
                            "'.crossbar %.*s' takes one of g=, r= and file=", TOK(name));
    }

    int dmodel = 0;
    if (a[XA_MODEL].key >= 0) {
        const eqs_tok *m = &t[a[XA_MODEL].first];
        int k = is_name(m) ? eqs_strmap_get(&nl->priv->dmodels, m->s, (size_t)m->len) : -1;
        if (k < 0 && is_name(m) && eqs_strmap_get(&nl->priv->models, m->s, (size_t)m->len) >= 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, m),
                                "model '%.*s' of '.crossbar %.*s' is a diode model, not a "
                                "memristor model",
                                TOK(m), TOK(name));
        if (k < 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, m),
                                "unknown memristor model '%.*s' in '.crossbar %.*s'", TOK(m),
                                TOK(name));
        const eqs_model_type *ty = nl->dmodels[k].type;
        if (!ty->state_of || !ty->window)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, m),
                                "model '%.*s' of '.crossbar %.*s' is a %s model, not a memristor "
                                "model",
                                TOK(m), TOK(name), ty->type);
        dmodel = k + 1;
    }
    double rwire = 0;
    if (a[XA_RWIRE].key >= 0) {
        const eqs_tok *v = &t[a[XA_RWIRE].first];
        if ((st = value_of(P, 0, c, v, &rwire))) return st;
        if (!isfinite(rwire) || rwire < 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, v),
                                "rwire must be zero or a positive, finite resistance (Ohm), got "
                                "'%.*s'",
                                TOK(v));
    }

    char *pool = NULL, *device_path = NULL;
    size_t pool_cap = 0, pool_len = 0, *off[2] = {NULL, NULL}, off_cap[2] = {0, 0};
    eqs_name_ref *refs = NULL;
    double *vals = NULL;
    int cnt[2] = {0, 0};
    for (int k = 0; k < 2; ++k)
        if ((st = xbar_nodes(P, c, &a[k], name, &pool, &pool_cap, &pool_len, &off[k], &off_cap[k],
                             &cnt[k])))
            goto done;
    {
        const int R = cnt[0], C = cnt[1];
        const double nd = (double)R * (double)C, nw = rwire > 0 ? 2 * nd : 0;
        if ((double)P->n_flat + nd + nw > MAX_FLAT_CARDS) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                              "'.crossbar %.*s' (%d x %d) would make the netlist expand to more "
                              "than %ld elements",
                              TOK(name), R, C, MAX_FLAT_CARDS);
            goto done;
        }
        refs = eqs_malloc(ctx, sizeof *refs * ((size_t)R + (size_t)C));
        vals = eqs_malloc(ctx, sizeof *vals * (size_t)nd);
        if (!refs || !vals) {
            st = EQS_ERR_NOMEM;
            goto done;
        }
        for (int k = 0; k < R + C; ++k) {
            const size_t *o = k < R ? off[0] : off[1];
            int q = k < R ? k : k - R;
            refs[k].s = pool + o[q];
            refs[k].len = o[q + 1] - o[q];
        }
        int is_g = a[XA_R].key < 0;
        if (a[XA_DEVICE].key >= 0 &&
            (st = xbar_path(P, c, &t[a[XA_DEVICE].first], &device_path)))
            goto done;
        if (a[XA_FILE].key >= 0) {
            eqs_tok f = t[a[XA_FILE].first];
            eqs_loc floc = eqs_tok_loc(c, &f);
            char *path = NULL;
            if ((st = xbar_path(P, c, &f, &path))) goto done;
            st = eqs_crossbar_read_csv(nl, path, floc, R, C, dmodel, vals);
            eqs_free(ctx, path);
            if (st) goto done;
        } else {
            const xbar_arg *v = &a[is_g ? XA_G : XA_R];
            if ((double)v->n != nd) {
                const eqs_tok *at = &t[v->open >= 0 ? v->open : v->first];
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, at),
                                  "'.crossbar %.*s' has %d x %d = %.0f devices, but %s= gives %d "
                                  "value%s",
                                  TOK(name), R, C, nd, is_g ? "g" : "r", v->n,
                                  v->n == 1 ? "" : "s");
                goto done;
            }
            char msg[200];
            for (int q = 0; q < v->n; ++q) {
                const eqs_tok *x = &t[v->first + q];
                double ignored;
                if ((st = value_of(P, 0, c, x, &vals[q]))) goto done;
                const char *why =
                    eqs_crossbar_value(nl, dmodel, is_g, vals[q], &ignored, msg, sizeof msg);
                if (why) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, x),
                                      "'%.*s' in '.crossbar %.*s' (device %d,%d): %s", TOK(x),
                                      TOK(name), q / C, q % C, why);
                    goto done;
                }
            }
        }
        eqs_crossbar_spec sp = {name->s, (size_t)name->len, R, C, refs, refs + R, vals, is_g,
                                dmodel, rwire, card_loc(c), device_path};
        if ((st = eqs_netlist_add_crossbar(nl, &sp, NULL))) goto done;
        P->n_flat += (long)(nd + nw);
    }
done:
    eqs_free(ctx, pool);
    eqs_free(ctx, off[0]);
    eqs_free(ctx, off[1]);
    eqs_free(ctx, refs);
    eqs_free(ctx, vals);
    eqs_free(ctx, device_path);
    return st;
}

/* Elements (and, unless done, .param cards) of one scope. */
static eqs_status expand(parser *P, const inst *in, int params_done)
{
    size_t first = 0, last = P->lx.n_cards;
    if (in->def) {
        first = (size_t)in->def->card + 1;
        last = (size_t)in->def->last;
    }
    eqs_status st;
    for (int pass = params_done; pass < 2; ++pass) {
        for (size_t ci = first; ci < last; ++ci) {
            const eqs_card *c = &P->lx.cards[ci];
            if (c->kind == K_SUBCKT) {
                ci = (size_t)P->defs[c->aux].last; /* skip the nested definition */
                continue;
            }
            if (pass == 0 && c->kind == K_PARAM && (st = do_param(P, c, in->scope))) return st;
            if (pass == 1 && c->kind == K_ELEM && (st = do_element(P, in, c))) return st;
            if (pass == 1 && c->kind == K_XBAR && (st = do_crossbar(P, c))) return st;
        }
    }
    return EQS_OK;
}

/* `.subckt name ports... [params:] [p=default ...]` */
static eqs_status do_subckt_header(parser *P, size_t ci, int parent)
{
    eqs_ctx *ctx = P->ctx;
    eqs_card *c = &P->lx.cards[ci];
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (n < 2 || !is_name(&t[1]))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "missing subcircuit name");
    if (eqs_grow(ctx, (void **)&P->defs, &P->def_cap, (size_t)P->n_defs + 1, sizeof *P->defs))
        return EQS_ERR_NOMEM;
    size_t klen;
    if (build_key(P, parent, t[1].s, (size_t)t[1].len, &klen)) return EQS_ERR_NOMEM;
    int old = eqs_strmap_get(&P->defmap, P->kbuf, klen);
    if (old >= 0) {
        const eqs_card *oc = &P->lx.cards[P->defs[old].card];
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[1]),
                            "duplicate subcircuit '%s' (first defined at %s:%d)",
                            P->defs[old].name, oc->file, oc->line);
    }
    char *key = eqs_nl_strdup(P->nl, P->kbuf, klen);
    if (!key || eqs_strmap_put(ctx, &P->defmap, key, P->n_defs)) return EQS_ERR_NOMEM;
    subdef *d = &P->defs[P->n_defs];
    memset(d, 0, sizeof *d);
    P->n_defs++;
    d->parent = parent;
    d->card = (int)ci;
    d->last = -1;
    d->name = eqs_nl_strdup(P->nl, t[1].s, (size_t)t[1].len);
    if (!d->name) return EQS_ERR_NOMEM;
    c->aux = P->n_defs - 1;
    int i = 2;
    for (; i < n; ++i) {
        if (eqs_tok_is(&t[i], "params:") || (i + 1 < n && is_eq(&t[i + 1]))) break;
        if (!is_name(&t[i]) || (t[i].len == 1 && t[i].s[0] == '0') || eqs_tok_is(&t[i], "gnd"))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "invalid port name '%.*s' in subcircuit '%s'", TOK(&t[i]), d->name);
        if (eqs_strmap_get(&d->portmap, t[i].s, (size_t)t[i].len) >= 0)
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "duplicate port '%.*s' in subcircuit '%s'", TOK(&t[i]), d->name);
        char *pn = eqs_nl_strdup(P->nl, t[i].s, (size_t)t[i].len);
        if (!pn || eqs_strmap_put(ctx, &d->portmap, pn, d->n_ports)) return EQS_ERR_NOMEM;
        d->n_ports++;
    }
    if (i < n && eqs_tok_is(&t[i], "params:")) i++;
    int np = (n - i) / 3 + 1;
    d->pname = eqs_malloc(ctx, sizeof *d->pname * (size_t)np);
    d->pname_tok = eqs_malloc(ctx, sizeof *d->pname_tok * (size_t)np);
    d->pval_tok = eqs_malloc(ctx, sizeof *d->pval_tok * (size_t)np);
    if (!d->pname || !d->pname_tok || !d->pval_tok) return EQS_ERR_NOMEM;
    while (i < n) {
        if (!is_ident(&t[i]) || i + 2 >= n || !is_eq(&t[i + 1]))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "expected 'name=value' in '.subckt %s', got '%.*s'", d->name,
                                TOK(&t[i]));
        for (int k = 0; k < d->n_params; ++k)
            if (eqs_tok_is(&t[i], d->pname[k]))
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                    "duplicate parameter '%.*s' in subcircuit '%s'", TOK(&t[i]),
                                    d->name);
        d->pname[d->n_params] = eqs_nl_strdup(P->nl, t[i].s, (size_t)t[i].len);
        if (!d->pname[d->n_params]) return EQS_ERR_NOMEM;
        d->pname_tok[d->n_params] = t[i];
        d->pval_tok[d->n_params] = t[i + 2];
        d->n_params++;
        i += 3;
    }
    return EQS_OK;
}

/* ---------------------------------------------------------------- */
/* .model, .options, extension cards                                 */
/* ---------------------------------------------------------------- */

enum { M_IS, M_N, M_RS, M_BV, M_IBV, M_TNOM, M_LEVEL, M_IGNORED, M_EG, M_XTI, M_NBV, M_TCV,
       M_TLEV, M_TRS1, M_TRS2 };

static const struct {
    const char *name;
    int field;
} model_params[] = {
    {"is", M_IS},       {"n", M_N},         {"rs", M_RS},       {"bv", M_BV},
    {"ibv", M_IBV},     {"tnom", M_TNOM},   {"level", M_LEVEL}, {"cjo", M_IGNORED},
    {"cj0", M_IGNORED}, {"vj", M_IGNORED},  {"m", M_IGNORED},   {"tt", M_IGNORED},
    {"eg", M_EG},       {"xti", M_XTI},     {"kf", M_IGNORED},  {"af", M_IGNORED},
    {"fc", M_IGNORED},
    /* temperature (ngspice 39 diotemp.c); tref is ngspice's alias of tnom,
     * trs of trs1 */
    {"tref", M_TNOM},   {"nbv", M_NBV},     {"tcv", M_TCV},     {"tlev", M_TLEV},
    {"trs", M_TRS1},    {"trs1", M_TRS1},   {"trs2", M_TRS2},
    /* temperature coefficients of the junction capacitance, junction
     * potential, grading coefficient and transit time: no DC effect in
     * ngspice 39 (they feed only charges and the ISR term, which is refused) */
    {"tlevc", M_IGNORED}, {"cta", M_IGNORED}, {"ctc", M_IGNORED}, {"ctp", M_IGNORED},
    {"tpb", M_IGNORED},   {"tvj", M_IGNORED}, {"tphp", M_IGNORED}, {"tm1", M_IGNORED},
    {"tm2", M_IGNORED},   {"ttt1", M_IGNORED}, {"ttt2", M_IGNORED},
};

/* append "key=value" to a growing text */
static eqs_status card_append(parser *P, char **buf, size_t *cap, size_t *len, const char *key,
                              double v)
{
    char tmp[64];
    int k = snprintf(tmp, sizeof tmp, "%s%s=%.17g", *len ? " " : "", key, v);
    if (eqs_grow(P->ctx, (void **)buf, cap, *len + (size_t)k + 1, 1)) return EQS_ERR_NOMEM;
    memcpy(*buf + *len, tmp, (size_t)k + 1);
    *len += (size_t)k;
    return EQS_OK;
}

/* `.model name TYPE [(] key=value ... [)]` for a table-driven model type
 * (eqs_model_type): every key from the type's table, each value checked
 * against its range, parameters without default required, then the
 * type's whole-model check. */
static eqs_status do_dmodel(parser *P, const eqs_card *c, const eqs_model_type *ty)
{
    eqs_ctx *ctx = P->ctx;
    eqs_netlist *nl = P->nl;
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    eqs_device_model m = {0};
    m.type = ty;
    m.loc = card_loc(c);
    for (int k = 0; k < ty->n_params; ++k) m.v[k] = ty->params[k].def;
    const eqs_tok *vtok[EQS_MODEL_MAX_PARAMS] = {0};
    char what[96];
    snprintf(what, sizeof what, "model '%.*s'", TOK(&t[1]));
    eqs_status st;
    int i = 3, open = -1;
    if (i < n && t[i].len == 1 && t[i].s[0] == '(') open = i++;
    while (i < n) {
        if (t[i].len == 1 && t[i].s[0] == ')') {
            if (open < 0)
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                    "unbalanced ')' in model '%.*s'", TOK(&t[1]));
            open = -1;
            if (++i < n)
                return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                    "unexpected '%.*s' after ')' in model '%.*s'", TOK(&t[i]),
                                    TOK(&t[1]));
            break;
        }
        if (!is_ident(&t[i]) || i + 2 >= n || !is_eq(&t[i + 1]))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "expected 'name=value' in model '%.*s', got '%.*s'", TOK(&t[1]),
                                TOK(&t[i]));
        int k = desc_find(ty->params, ty->n_params, &t[i]);
        if (k < 0) {
            char names[160];
            return EQS_ERROR_AT(ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, &t[i]),
                                "unsupported %s model parameter '%.*s' in model '%.*s' "
                                "(eqspice reads %s)",
                                ty->type, TOK(&t[i]), TOK(&t[1]),
                                desc_names(ty->params, ty->n_params, names, sizeof names));
        }
        if (vtok[k])
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "'%.*s' given twice in model '%.*s'", TOK(&t[i]), TOK(&t[1]));
        vtok[k] = &t[i + 2];
        if ((st = value_of(P, 0, c, &t[i + 2], &m.v[k]))) return st;
        if ((st = desc_check(P, c, &t[i + 2], &ty->params[k], what, m.v[k]))) return st;
        i += 3;
    }
    if (open >= 0)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[open]),
                            "unbalanced '(' in model '%.*s'", TOK(&t[1]));
    for (int k = 0; k < ty->n_params; ++k)
        if (isnan(m.v[k]))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "%s model '%.*s' needs '%s'",
                                ty->type, TOK(&t[1]), ty->params[k].name);
    int bad = 0;
    const char *why = ty->check ? ty->check(m.v, &bad) : NULL;
    if (why)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, vtok[bad] ? eqs_tok_loc(c, vtok[bad]) : card_loc(c),
                            "%s in model '%.*s'", why, TOK(&t[1]));
    m.name = eqs_nl_strdup(nl, t[1].s, (size_t)t[1].len);
    if (!m.name ||
        eqs_grow(ctx, (void **)&nl->dmodels, &nl->dmodel_cap, (size_t)nl->n_dmodels + 1,
                 sizeof *nl->dmodels) ||
        eqs_strmap_put(ctx, &nl->priv->dmodels, m.name, nl->n_dmodels))
        return EQS_ERR_NOMEM;
    nl->dmodels[nl->n_dmodels++] = m;
    return EQS_OK;
}

/* `.model name d [(] key=value ... [)]` */
static eqs_status do_model(parser *P, const eqs_card *c)
{
    eqs_ctx *ctx = P->ctx;
    eqs_netlist *nl = P->nl;
    eqs_status st = eqs_lex_card(&P->lx, c);
    if (st) return st;
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (n < 2 || !is_name(&t[1]))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "missing model name in '.model'");
    if (n < 3 || !is_name(&t[2]))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "missing type of model '%.*s'",
                            TOK(&t[1]));
    const eqs_model_type *ty = NULL;
    if (!eqs_tok_is(&t[2], "d") && !(ty = eqs_model_type_find(t[2].s, (size_t)t[2].len)))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[2]),
                            "unsupported model type '%.*s' in model '%.*s' (only d and memristor)",
                            TOK(&t[2]), TOK(&t[1]));
    int old = eqs_strmap_get(&nl->priv->models, t[1].s, (size_t)t[1].len);
    int dold = eqs_strmap_get(&nl->priv->dmodels, t[1].s, (size_t)t[1].len);
    if (old >= 0 || dold >= 0) {
        const eqs_loc *f = old >= 0 ? &nl->models[old].loc : &nl->dmodels[dold].loc;
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[1]),
                            "duplicate model '%s' (first defined at %s:%d)",
                            old >= 0 ? nl->models[old].name : nl->dmodels[dold].name, f->file,
                            f->line);
    }
    if (ty) return do_dmodel(P, c, ty);
    eqs_diode_model m;
    eqs_diode_model_defaults(&m);
    m.loc = card_loc(c);
    char *text = NULL;
    size_t tcap = 0, tlen = 0;
    int i = 3, open = -1;
    if (i < n && t[i].len == 1 && t[i].s[0] == '(') open = i++;
    while (i < n) {
        if (t[i].len == 1 && t[i].s[0] == ')') {
            if (open < 0) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                  "unbalanced ')' in model '%.*s'", TOK(&t[1]));
                goto fail;
            }
            open = -1;
            if (++i < n) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                  "unexpected '%.*s' after ')' in model '%.*s'", TOK(&t[i]),
                                  TOK(&t[1]));
                goto fail;
            }
            break;
        }
        if (!is_ident(&t[i]) || i + 2 >= n || !is_eq(&t[i + 1])) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                              "expected 'name=value' in model '%.*s', got '%.*s'", TOK(&t[1]),
                              TOK(&t[i]));
            goto fail;
        }
        size_t k = 0;
        while (k < sizeof model_params / sizeof *model_params &&
               !eqs_tok_is(&t[i], model_params[k].name))
            k++;
        if (k == sizeof model_params / sizeof *model_params) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                              "unknown diode model parameter '%.*s' in model '%.*s'", TOK(&t[i]),
                              TOK(&t[1]));
            goto fail;
        }
        double v;
        if ((st = value_of(P, 0, c, &t[i + 2], &v))) goto fail;
        switch (model_params[k].field) {
        case M_IS: m.is_A = v; break;
        case M_N: m.n = v; break;
        case M_RS: m.rs_Ohm = v; break;
        case M_BV: m.bv_V = v; m.has_bv = 1; break;
        case M_IBV: m.ibv_A = v; break;
        case M_TNOM:
            if (!(v > -EQS_CONST_CTOK) || !isfinite(v)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 2]),
                                  "'%.*s' in model '%.*s' needs a temperature above -273.15 C",
                                  TOK(&t[i]), TOK(&t[1]));
                goto fail;
            }
            m.tnom_C = v;
            m.tnom_default = 0;
            break;
        case M_EG: m.eg_eV = v; m.given |= EQS_DIO_GIVEN_EG; break;
        case M_XTI: m.xti = v; m.given |= EQS_DIO_GIVEN_XTI; break;
        case M_NBV: m.nbv = v; m.given |= EQS_DIO_GIVEN_NBV; break;
        case M_TCV: m.tcv = v; m.given |= EQS_DIO_GIVEN_TCV; break;
        case M_TRS1: m.trs1_per_K = v; m.given |= EQS_DIO_GIVEN_TRS1; break;
        case M_TRS2: m.trs2_per_K2 = v; m.given |= EQS_DIO_GIVEN_TRS2; break;
        case M_TLEV:
            /* ngspice 39.3 diotemp.c: 0 shifts BV by -TCV dT, any other
             * level scales it by (1 - TCV dT) */
            if (v != floor(v) || v < 0 || v > 2) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 2]),
                                  "unsupported 'tlev' %g in model '%.*s' (0, 1 or 2)", v,
                                  TOK(&t[1]));
                goto fail;
            }
            m.tlev = (int)v;
            m.given |= EQS_DIO_GIVEN_TLEV;
            break;
        case M_LEVEL:
            if (v != 1.0) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 2]),
                                  "unsupported diode level %g in model '%.*s' (only 1)", v,
                                  TOK(&t[1]));
                goto fail;
            }
            break;
        default: break;
        }
        if ((st = card_append(P, &text, &tcap, &tlen, model_params[k].name, v))) goto fail;
        i += 3;
    }
    if (open >= 0) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[open]),
                          "unbalanced '(' in model '%.*s'", TOK(&t[1]));
        goto fail;
    }
    m.name = eqs_nl_strdup(nl, t[1].s, (size_t)t[1].len);
    m.card = eqs_nl_strdup(nl, text ? text : "", tlen);
    if (!m.name || !m.card ||
        eqs_grow(ctx, (void **)&nl->models, &nl->model_cap, (size_t)nl->n_models + 1,
                 sizeof *nl->models) ||
        eqs_strmap_put(ctx, &nl->priv->models, m.name, nl->n_models)) {
        st = EQS_ERR_NOMEM;
        goto fail;
    }
    nl->models[nl->n_models++] = m;
fail:
    eqs_free(ctx, text);
    return st;
}

/* A temperature in C (`.temp`, `.options temp= tnom=`): above absolute
 * zero, the diode equations take log(T / TNOM). */
static eqs_status temp_value(parser *P, const eqs_card *c, const eqs_tok *what,
                             const eqs_tok *val, double *out)
{
    eqs_status st = value_of(P, 0, c, val, out);
    if (st) return st;
    if (!(*out > -EQS_CONST_CTOK) || !isfinite(*out))
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                            "'%.*s' needs a temperature above -273.15 C, got '%.*s'", TOK(what),
                            TOK(val));
    return EQS_OK;
}

/* `.options temp=T` / `tnom=T` (C).  As in ngspice 39, a `.temp` card wins
 * over `.options temp=` wherever it is (temp_set = 2), and the last of
 * each kind wins. */
static eqs_status option_temp(parser *P, const eqs_card *c, const eqs_tok *key,
                              const eqs_tok *val, int nominal)
{
    eqs_netlist_options *o = &P->nl->options;
    double v;
    eqs_status st = temp_value(P, c, key, val, &v);
    if (st) return st;
    if (nominal) {
        o->tnom_C = v;
        o->tnom_set = 1;
    } else if (o->temp_set < 2) {
        o->temp_C = v;
        o->temp_set = 1;
        o->temp_loc = eqs_tok_loc(c, val);
    }
    return EQS_OK;
}

/* `.temp T` or `.temp=T` (C): the circuit temperature.  ngspice 39 reads
 * one value; several (`.temp 27 85`, a sweep in SPICE2) make it warn and
 * run at 27 C, which is refused here: eqspice computes one point. */
static eqs_status do_temp(parser *P, const eqs_card *c)
{
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks, i = 1;
    if (i < n && is_eq(&t[i])) i++;
    if (i >= n)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "'.temp' needs a temperature (C)");
    if (i + 1 < n)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 1]),
                            "'.temp' takes one temperature, got a second one '%.*s' (a "
                            "temperature sweep is not supported: one operating point)",
                            TOK(&t[i + 1]));
    eqs_netlist_options *o = &P->nl->options;
    eqs_status st = temp_value(P, c, &t[0], &t[i], &o->temp_C);
    if (st) return st;
    o->temp_set = 2;
    o->temp_loc = eqs_tok_loc(c, &t[i]);
    return EQS_OK;
}

/* `.options key=value flag ...` */
static eqs_status do_options(parser *P, const eqs_card *c)
{
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    eqs_netlist_options *o = &P->nl->options;
    for (int i = 1; i < n;) {
        const eqs_tok *key = &t[i];
        if (!is_name(key))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, key),
                                "unexpected '%.*s' in '.options'", TOK(key));
        const eqs_tok *val = NULL;
        if (i + 1 < n && is_eq(&t[i + 1])) {
            if (i + 2 >= n)
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i + 1]),
                                    "missing value for option '%.*s'", TOK(key));
            val = &t[i + 2];
            i += 3;
        } else {
            i += 1;
        }
        double *dst = NULL;
        int *set = NULL, is_int = 0;
        if (eqs_tok_is(key, "reltol")) dst = &o->reltol, set = &o->reltol_set;
        else if (eqs_tok_is(key, "abstol")) dst = &o->abstol, set = &o->abstol_set;
        else if (eqs_tok_is(key, "vntol")) dst = &o->vntol, set = &o->vntol_set;
        else if (eqs_tok_is(key, "gmin")) dst = &o->gmin, set = &o->gmin_set;
        else if (eqs_tok_is(key, "itl1")) set = &o->itl1_set, is_int = 1;
        else if (eqs_tok_is(key, "temp") || eqs_tok_is(key, "tnom")) {
            if (!val)
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, key),
                                    "missing value for option '%.*s'", TOK(key));
            eqs_status st = option_temp(P, c, key, val, eqs_tok_is(key, "tnom"));
            if (st) return st;
            continue;
        }
        if (!set && eqs_tok_is(key, "rshunt"))
            /* ngspice adds a resistor from every node to ground */
            return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, eqs_tok_loc(c, key),
                                "option 'rshunt' is not supported (it adds a resistor from every "
                                "node to ground in ngspice)");
        if (!set) {
            eqs_log(P->ctx, EQS_LOG_DEBUG, "%s:%d:%d: option '%.*s' ignored", c->file, key->line,
                    key->col, TOK(key));
            continue;
        }
        if (!val)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, key),
                                "missing value for option '%.*s'", TOK(key));
        double v;
        eqs_status st = value_of(P, 0, c, val, &v);
        if (st) return st;
        if (is_int) {
            /* capped so that a non-converging circuit (up to 21 attempts of
             * itl1 iterations with gmin and source stepping) ends in seconds */
            if (v < 1 || v > 100000 || v != floor(v))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                    "option 'itl1' needs an integer from 1 to 100000, got '%.*s'",
                                    TOK(val));
            o->itl1 = (int)v;
        } else {
            /* gmin = 0 is legal SPICE (no junction shunt); the tolerances
             * must be positive */
            if (dst == &o->gmin ? !(v >= 0) : !(v > 0))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                    "option '%.*s' must be %s, got '%.*s'", TOK(key),
                                    dst == &o->gmin ? "zero or positive" : "positive", TOK(val));
            *dst = v;
        }
        *set = 1;
    }
    return EQS_OK;
}

/* .trainable / .input / .output: names with their locations */
static eqs_status do_ext(parser *P, const eqs_card *c, char ***names, eqs_loc **locs,
                         int *count)
{
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    if (c->scope >= 0)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "'%.*s' is only allowed at the top level, not inside '.subckt %s'",
                            TOK(&t[0]), P->defs[c->scope].name);
    if (n < 2 && names != &P->nl->trainable)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "'%.*s' needs at least one name",
                            TOK(&t[0]));
    size_t need = (size_t)*count + (size_t)n;
    char **nn = eqs_realloc(P->ctx, *names, need * sizeof *nn);
    if (!nn) return EQS_ERR_NOMEM;
    *names = nn;
    eqs_loc *nlocs = eqs_realloc(P->ctx, *locs, need * sizeof *nlocs);
    if (!nlocs) return EQS_ERR_NOMEM;
    *locs = nlocs;
    for (int i = 1; i < n; ++i) {
        if (!is_name(&t[i]))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "unexpected '%.*s' in '%.*s'", TOK(&t[i]), TOK(&t[0]));
        char *s = eqs_nl_strdup(P->nl, t[i].s, (size_t)t[i].len);
        if (!s) return EQS_ERR_NOMEM;
        (*names)[*count] = s;
        (*locs)[*count] = eqs_tok_loc(c, &t[i]);
        (*count)++;
    }
    return EQS_OK;
}

/* Evaluation cards (docs/netlist.md "Evaluation cards"): how a trained
 * network is evaluated.  `.diodes KIND`, `.encoding KIND [gain_V=X]`,
 * `.targets [on_V=X] [off_V=X]`, `.solver NAME [tol_V=X]
 * [precision=double|single] [batch=N]`; each card at most once, top level
 * only, into nl->eval (set bits) and nl->eval_loc. */
typedef struct {
    const char *card;
    int kind;                  /* EQS_NL_EVAL_* */
    const char *const *words;  /* the bare word the card needs (NULL: none) */
    const char *keys[3];       /* key=value keys it accepts */
} eval_card;

static const char *const eval_diodes[] = {"shockley", "ideal", NULL};
static const char *const eval_encodings[] = {"auto", "single", "pair", NULL};
static const char *const eval_solvers[] = {"newton", "ngspice", "layered", "auto", NULL};
static const eval_card eval_cards[] = {
    {".diodes", EQS_NL_EVAL_DIODES, eval_diodes, {NULL, NULL, NULL}},
    {".encoding", EQS_NL_EVAL_ENCODING, eval_encodings, {"gain_V", NULL, NULL}},
    {".targets", EQS_NL_EVAL_TARGETS, NULL, {"on_V", "off_V", NULL}},
    {".solver", EQS_NL_EVAL_SOLVER, eval_solvers, {"tol_V", "precision", "batch"}},
};

/* "a|b|c" (sep "|") or "a=value, b=value" (sep ", ", suffix "=value") of
 * the first n non-NULL entries of list. */
static const char *join_words(const char *const *list, int n, const char *sep,
                              const char *suffix, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int k = 0; k < n && list[k]; ++k)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s%s", k ? sep : "", list[k], suffix);
    return buf;
}

/* Case-insensitive token comparison (eqs_tok_is wants a lower-case word;
 * the keys are written "gain_V"). */
static int tok_ieq(const eqs_tok *t, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)t->len != n) return 0;
    for (size_t i = 0; i < n; ++i)
        if (tolower((unsigned char)t->s[i]) != tolower((unsigned char)word[i])) return 0;
    return 1;
}

static int word_index(const eqs_tok *t, const char *const *words)
{
    for (int k = 0; words[k]; ++k)
        if (eqs_tok_is(t, words[k])) return k;
    return -1;
}

static eqs_status do_eval_card(parser *P, const eqs_card *c, const eval_card *ec)
{
    const eqs_tok *t = P->lx.toks;
    int n = P->lx.n_toks;
    eqs_netlist *nl = P->nl;
    eqs_eval_settings *ev = &nl->eval;
    if (c->scope >= 0)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "'%s' is only allowed at the top level, not inside '.subckt %s'",
                            ec->card, P->defs[c->scope].name);
    if (nl->eval_loc[ec->kind].line)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "second '%s' card (the first is "
                            "at line %d)", ec->card, nl->eval_loc[ec->kind].line);
    int i = 1;
    if (ec->words) {
        int w = i < n && !(i + 1 < n && is_eq(&t[i + 1])) ? word_index(&t[i], ec->words) : -1;
        if (w < 0) {
            char list[80];
            join_words(ec->words, 8, "|", "", list, sizeof list);
            if (i >= n)
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c), "'%s' needs %s", ec->card,
                                    list);
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                "'%s' needs %s, got '%.*s'", ec->card, list, TOK(&t[i]));
        }
        switch (ec->kind) {
        case EQS_NL_EVAL_DIODES:
            ev->diodes = w ? EQS_DIODES_IDEAL : EQS_DIODES_SHOCKLEY;
            ev->set |= EQS_EVAL_DIODES;
            break;
        case EQS_NL_EVAL_ENCODING:
            ev->encoding = w == 1 ? EQS_ENCODE_SINGLE : w == 2 ? EQS_ENCODE_PAIR : EQS_ENCODE_AUTO;
            ev->set |= EQS_EVAL_ENCODING;
            break;
        default: {
            static const eqs_backend_id ids[] = {EQS_BACKEND_NEWTON, EQS_BACKEND_NGSPICE,
                                                 EQS_BACKEND_LAYERED, EQS_BACKEND_AUTO};
            ev->backend = ids[w];
            ev->set |= EQS_EVAL_BACKEND;
        }
        }
        i++;
    }
    unsigned seen = 0; /* keys given so far: each at most once */
    while (i < n) {
        const eqs_tok *key = &t[i];
        int k = 0;
        while (k < 3 && ec->keys[k] && !tok_ieq(key, ec->keys[k])) k++;
        if (k == 3 || !ec->keys[k] || i + 2 >= n || !is_eq(&t[i + 1])) {
            char list[80];
            join_words(ec->keys, 3, ", ", "=value", list, sizeof list);
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, key),
                                "unexpected '%.*s' in '%s' (it takes %s)", TOK(key), ec->card,
                                list[0] ? list : "nothing more");
        }
        if (seen & (1u << k))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, key),
                                "'%.*s' given twice in '%s'", TOK(key), ec->card);
        seen |= 1u << k;
        const eqs_tok *val = &t[i + 2];
        i += 3;
        if (tok_ieq(key, "precision")) {
            static const char *const prec[] = {"double", "single", NULL};
            int w = word_index(val, prec);
            if (w < 0)
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                    "precision must be double or single, got '%.*s'", TOK(val));
            ev->single = w;
            ev->set |= EQS_EVAL_PRECISION;
            continue;
        }
        double v;
        eqs_status st = value_of(P, 0, c, val, &v);
        if (st) return st;
        if (!isfinite(v))
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                "'%.*s' must be finite", TOK(key));
        if (tok_ieq(key, "gain_V")) {
            ev->input_gain_V = v;
            ev->set |= EQS_EVAL_GAIN;
        } else if (tok_ieq(key, "on_V")) {
            ev->target_on_V = v;
            ev->set |= EQS_EVAL_ON;
        } else if (tok_ieq(key, "off_V")) {
            ev->target_off_V = v;
            ev->set |= EQS_EVAL_OFF;
        } else if (tok_ieq(key, "tol_V")) {
            if (!(v > 0))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                    "tol_V must be positive, got '%.*s'", TOK(val));
            ev->bcd_tol_V = v;
            ev->set |= EQS_EVAL_TOL;
        } else { /* batch */
            if (v < 1 || v > 1000000 || v != floor(v))
                return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, val),
                                    "batch needs an integer from 1 to 1000000, got '%.*s'",
                                    TOK(val));
            ev->batch = (int)v;
            ev->set |= EQS_EVAL_BATCH;
        }
    }
    if ((ev->set & EQS_EVAL_ON) && (ev->set & EQS_EVAL_OFF) && ev->target_on_V == ev->target_off_V)
        return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                            "'.targets': on_V and off_V are equal (%g V)", ev->target_on_V);
    nl->eval_loc[ec->kind] = card_loc(c);
    return EQS_OK;
}

static const char *const ignored_cards[] = {
    ".tran", ".dc",    ".ac",    ".print", ".plot",  ".save",    ".probe",
    ".ic",   ".nodeset", ".meas", ".measure", ".four", ".noise", ".tf",    ".sens",
    ".pz",   ".disto", ".width", ".title", ".func",    ".csparam", ".step",
};

/* Cards handled once wherever they are: .model, .options, .op,
 * extension cards, ignored and unknown cards. */
static eqs_status do_once(parser *P, const eqs_card *c)
{
    if (c->kind == K_MODEL) return do_model(P, c);
    eqs_status st = eqs_lex_card(&P->lx, c);
    if (st) return st;
    const eqs_tok *t0 = &P->lx.toks[0];
    eqs_netlist *nl = P->nl;
    if (eqs_tok_is(t0, ".options") || eqs_tok_is(t0, ".option") || eqs_tok_is(t0, ".opt"))
        return do_options(P, c);
    if (eqs_tok_is(t0, ".temp")) return do_temp(P, c);
    if (eqs_tok_is(t0, ".op")) {
        nl->has_op = 1;
        if (P->lx.n_toks > 1)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &P->lx.toks[1]),
                                "unexpected '%.*s' in '.op'", TOK(&P->lx.toks[1]));
        return EQS_OK;
    }
    if (eqs_tok_is(t0, ".global")) return EQS_OK; /* collected in the structure pass */
    if (eqs_tok_is(t0, ".trainable"))
        return do_ext(P, c, &nl->trainable, &nl->trainable_loc, &nl->n_trainable);
    if (eqs_tok_is(t0, ".input")) return do_ext(P, c, &nl->inputs, &nl->input_loc, &nl->n_inputs);
    if (eqs_tok_is(t0, ".output") || eqs_tok_is(t0, ".output_pair")) {
        int pairs = eqs_tok_is(t0, ".output_pair");
        if (nl->n_outputs > 0 && nl->output_pairs != pairs)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, card_loc(c),
                                "'%s' cannot be mixed with '%s' (line %d): outputs are either "
                                "all single-ended or all differential pairs",
                                pairs ? ".output_pair" : ".output",
                                pairs ? ".output" : ".output_pair", nl->output_kind_loc.line);
        if (pairs && P->lx.n_toks >= 2 && (P->lx.n_toks - 1) % 2 != 0)
            return EQS_ERROR_AT(P->ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &P->lx.toks[P->lx.n_toks - 1]),
                                "'.output_pair' needs node names in pairs (POS NEG ...): "
                                "'%.*s' has no negative node",
                                TOK(&P->lx.toks[P->lx.n_toks - 1]));
        if (nl->n_outputs == 0) nl->output_kind_loc = card_loc(c);
        nl->output_pairs = pairs;
        return do_ext(P, c, &nl->outputs, &nl->output_loc, &nl->n_outputs);
    }
    if (eqs_tok_is(t0, ".if") || eqs_tok_is(t0, ".elseif") || eqs_tok_is(t0, ".else") ||
        eqs_tok_is(t0, ".endif"))
        /* ngspice keeps only one branch: ignoring the card would read all */
        return EQS_ERROR_AT(P->ctx, EQS_ERR_UNSUPPORTED, card_loc(c),
                            "'%.*s': conditional netlists (.if/.elseif/.else/.endif) are not "
                            "supported",
                            TOK(t0));
    for (size_t k = 0; k < sizeof eval_cards / sizeof *eval_cards; ++k)
        if (eqs_tok_is(t0, eval_cards[k].card)) return do_eval_card(P, c, &eval_cards[k]);
    nl->n_ignored_cards++;
    for (size_t k = 0; k < sizeof ignored_cards / sizeof *ignored_cards; ++k)
        if (eqs_tok_is(t0, ignored_cards[k])) {
            eqs_warn_at(P->ctx, card_loc(c), "'%s' card ignored", ignored_cards[k]);
            return EQS_OK;
        }
    eqs_warn_at(P->ctx, card_loc(c), "unknown card '%.*s' ignored", TOK(t0));
    return EQS_OK;
}

/* ---------------------------------------------------------------- */
/* passes                                                            */
/* ---------------------------------------------------------------- */

/* The card's first word is `.crossbar` (any case), as the lexer splits it. */
static int card_is_crossbar(const eqs_card *c)
{
    static const char w[] = ".crossbar";
    size_t n = sizeof w - 1;
    if ((size_t)(c->end - c->start) < n) return 0;
    for (size_t i = 0; i < n; ++i)
        if (tolower((unsigned char)c->start[i]) != w[i]) return 0;
    if (c->start + n == c->end) return 1;
    char ch = c->start[n];
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ',' || ch == '(' ||
           ch == '=' || ch == ';' || ch == '\f' || ch == '\v' || ch == '"' || ch == '{' ||
           (ch == '/' && c->start + n + 1 < c->end && c->start[n + 1] == '/');
}

/* Pass 1: card kinds, .subckt ranges, .global names. */
static eqs_status structure(parser *P)
{
    eqs_ctx *ctx = P->ctx;
    int *stack = NULL;
    size_t scap = 0;
    int depth = 0;
    eqs_status st = EQS_OK;
    for (size_t ci = 0; ci < P->lx.n_cards; ++ci) {
        eqs_card *c = &P->lx.cards[ci];
        c->scope = depth ? stack[depth - 1] : -1;
        if (c->start[0] != '.') {
            c->kind = K_ELEM;
            continue;
        }
        if (card_is_crossbar(c)) { /* classified without lexing its (long) lists */
            c->kind = K_XBAR;
            if (depth) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_UNSUPPORTED, card_loc(c),
                                  "'.crossbar' is only allowed at the top level, not inside "
                                  "'.subckt %s' (crossbars are not flattened)",
                                  P->defs[stack[depth - 1]].name);
                goto out;
            }
            continue;
        }
        if ((st = eqs_lex_card(&P->lx, c))) goto out;
        const eqs_tok *t = P->lx.toks;
        int n = P->lx.n_toks;
        c->kind = K_OTHER;
        if (eqs_tok_is(&t[0], ".subckt")) {
            c->kind = K_SUBCKT;
            if ((st = do_subckt_header(P, ci, c->scope))) goto out;
            if (eqs_grow(ctx, (void **)&stack, &scap, (size_t)depth + 1, sizeof *stack)) {
                st = EQS_ERR_NOMEM;
                goto out;
            }
            stack[depth++] = c->aux;
        } else if (eqs_tok_is(&t[0], ".ends")) {
            c->kind = K_ENDS;
            if (!depth) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c), "'.ends' without '.subckt'");
                goto out;
            }
            subdef *d = &P->defs[stack[--depth]];
            if (n > 1 && !eqs_tok_is(&t[1], d->name)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[1]),
                                  "'.ends %.*s' does not match '.subckt %s'", TOK(&t[1]), d->name);
                goto out;
            }
            if (n > 2) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[2]),
                                  "unexpected '%.*s' in '.ends'", TOK(&t[2]));
                goto out;
            }
            d->last = (int)ci;
        } else if (eqs_tok_is(&t[0], ".param")) {
            c->kind = K_PARAM;
        } else if (eqs_tok_is(&t[0], ".model")) {
            c->kind = K_MODEL;
        } else if (eqs_tok_is(&t[0], ".global")) {
            for (int i = 1; i < n; ++i) {
                if (!is_name(&t[i])) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, eqs_tok_loc(c, &t[i]),
                                      "invalid node name '%.*s'", TOK(&t[i]));
                    goto out;
                }
                if (eqs_strmap_get(&P->globals, t[i].s, (size_t)t[i].len) >= 0) continue;
                char *g = eqs_nl_strdup(P->nl, t[i].s, (size_t)t[i].len);
                if (!g || eqs_strmap_put(ctx, &P->globals, g, 1)) {
                    st = EQS_ERR_NOMEM;
                    goto out;
                }
            }
        }
    }
    if (depth) {
        const eqs_card *c = &P->lx.cards[P->defs[stack[depth - 1]].card];
        st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, card_loc(c),
                          "unterminated .subckt '%s' (no .ends)", P->defs[stack[depth - 1]].name);
    }
out:
    eqs_free(ctx, stack);
    return st;
}

static eqs_status read_netlist(eqs_ctx *ctx, const char *name, const char *text,
                               eqs_netlist **out)
{
    if (!out) return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_netlist_read: out is NULL");
    *out = NULL;
    if (!name) return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_netlist_read: no file name");
    parser P;
    memset(&P, 0, sizeof P);
    P.ctx = ctx;
    cards_init(&P);
    P.from_string = text != NULL;
    eqs_status st = eqs_nl_create(ctx, &P.nl);
    if (st) return st;
    P.lx.ctx = ctx;
    P.lx.nl = P.nl;
    P.nl->path = eqs_strdup(ctx, name);
    if (!P.nl->path) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    double t0 = eqs_now_s();
    if ((st = eqs_lex_top(&P.lx, name, text))) goto done;
    double t1 = eqs_now_s();
    if ((st = structure(&P))) goto done;
    double t2 = eqs_now_s();
    if (new_scope(&P, -1) != 0) { /* scope 0: top-level parameters */
        st = EQS_ERR_NOMEM;
        goto done;
    }
    for (size_t ci = 0; ci < P.lx.n_cards; ++ci) {
        const eqs_card *c = &P.lx.cards[ci];
        if (c->kind == K_PARAM && c->scope < 0 && (st = do_param(&P, c, 0))) goto done;
    }
    for (size_t ci = 0; ci < P.lx.n_cards; ++ci) {
        const eqs_card *c = &P.lx.cards[ci];
        if ((c->kind == K_MODEL || c->kind == K_OTHER) && (st = do_once(&P, c))) goto done;
    }
    {   /* size the element array and index once for the top-level cards */
        size_t n_el = 0;
        for (size_t ci = 0; ci < P.lx.n_cards; ++ci) n_el += P.lx.cards[ci].kind == K_ELEM;
        if (eqs_strmap_reserve(ctx, &P.nl->priv->elems, n_el) ||
            eqs_grow(ctx, (void **)&P.nl->elems, &P.nl->elem_cap, n_el, sizeof *P.nl->elems)) {
            st = EQS_ERR_NOMEM;
            goto done;
        }
        eqs_advise_huge(P.nl->elems, P.nl->elem_cap * sizeof *P.nl->elems);
    }
    inst top = {"", 0, NULL, NULL, 0, 0};
    double t3 = eqs_now_s();
    if ((st = check_total(&P))) goto done;
    if ((st = expand(&P, &top, 1))) goto done;
    double t4 = eqs_now_s();
    st = eqs_netlist_finish(P.nl);
    eqs_log(ctx, EQS_LOG_INFO, "netlist '%s': %d elements, %d nodes; lex %.3f s, structure %.3f s, "
            "params/models %.3f s, expansion %.3f s, checks %.3f s", name, P.nl->n_elems,
            P.nl->n_nodes, t1 - t0, t2 - t1, t3 - t2, t4 - t3, eqs_now_s() - t4);
done:
    eqs_lex_free(&P.lx);
    for (int i = 0; i < P.n_defs; ++i) {
        eqs_strmap_free(ctx, &P.defs[i].portmap);
        eqs_free(ctx, (void *)P.defs[i].pname);
        eqs_free(ctx, P.defs[i].pname_tok);
        eqs_free(ctx, P.defs[i].pval_tok);
    }
    eqs_free(ctx, P.defs);
    eqs_strmap_free(ctx, &P.defmap);
    eqs_strmap_free(ctx, &P.params);
    eqs_strmap_free(ctx, &P.globals);
    eqs_strmap_free(ctx, &P.insts);
    eqs_free(ctx, P.pvals);
    eqs_free(ctx, P.scope_parent);
    eqs_free(ctx, P.kbuf);
    eqs_free(ctx, P.nbuf);
    eqs_free(ctx, P.ebuf);
    if (st) {
        if (st == EQS_ERR_NOMEM && eqs_ctx_status(ctx) == EQS_OK)
            EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory reading '%s'", name);
        eqs_netlist_free(&P.nl);
        return st;
    }
    *out = P.nl;
    return EQS_OK;
}

eqs_status eqs_netlist_read(eqs_ctx *ctx, const char *path, eqs_netlist **out)
{
    return read_netlist(ctx, path, NULL, out);
}

eqs_status eqs_netlist_read_string(eqs_ctx *ctx, const char *text, const char *name,
                                   eqs_netlist **out)
{
    if (!text) {
        if (out) *out = NULL;
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_netlist_read_string: text is NULL");
    }
    return read_netlist(ctx, name ? name : "<string>", text, out);
}
