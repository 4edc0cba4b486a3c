/*
 * netlist.c: the eqs_netlist object: creation, release, name look-ups,
 * the string arena that holds every name and the hash maps behind the
 * look-ups.  A generated 784-1024-10 network has ~1.6 million elements:
 * names are bump-allocated from large blocks (no per-name malloc) and
 * every look-up is an open-addressing hash probe (linear total time).
 */
#include "netlist.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define ARENA_BLOCK (256u * 1024u) /* bytes per arena block */

/* ---------------------------------------------------------------- */
/* Hash map: lower-case string -> int                                */
/* ---------------------------------------------------------------- */

uint32_t eqs_str_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a over lower-cased bytes */
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h ^= c;
        h *= 16777619u;
    }
    h ^= h >> 16; /* murmur3 finaliser: spreads similar names ("r1", "r2") */
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* key (lower case, NUL-terminated) equals s[0..len) ignoring case */
static int key_eq(const char *key, const char *s, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (key[i] == '\0' || (unsigned char)key[i] != c) return 0;
    }
    return key[len] == '\0';
}

int eqs_strmap_get_h(const eqs_strmap *m, const char *s, size_t len, uint32_t h)
{
    if (!m->cap) return -1;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const eqs_strmap_slot *sl = &m->slots[i];
        if (!sl->key) return -1;
        if (sl->hash == h && key_eq(sl->key, s, len)) return sl->val;
    }
}

int eqs_strmap_get(const eqs_strmap *m, const char *s, size_t len)
{
    return eqs_strmap_get_h(m, s, len, eqs_str_hash(s, len));
}

void eqs_strmap_prefetch(const eqs_strmap *m, uint32_t h)
{
#if defined(__GNUC__)
    if (m->cap) __builtin_prefetch(&m->slots[h & (m->cap - 1)]);
#else
    (void)m;
    (void)h;
#endif
}

static eqs_status strmap_rehash(eqs_ctx *ctx, eqs_strmap *m, size_t ncap)
{
    eqs_strmap_slot *slots = eqs_calloc(ctx, ncap, sizeof *slots);
    if (!slots) return EQS_ERR_NOMEM;
    eqs_advise_huge(slots, ncap * sizeof *slots);
    for (size_t j = 0; j < m->cap; ++j) {
        if (!m->slots[j].key) continue;
        size_t i = m->slots[j].hash & (ncap - 1);
        while (slots[i].key) i = (i + 1) & (ncap - 1);
        slots[i] = m->slots[j];
    }
    eqs_free(ctx, m->slots);
    m->slots = slots;
    m->cap = ncap;
    return EQS_OK;
}

eqs_status eqs_strmap_put_h(eqs_ctx *ctx, eqs_strmap *m, const char *key, uint32_t h, int val)
{
    if (2 * (m->n + 1) > m->cap) { /* load factor <= 1/2 */
        eqs_status st = strmap_rehash(ctx, m, m->cap ? 2 * m->cap : 64);
        if (st) return st;
    }
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key) i = (i + 1) & mask;
    m->slots[i].key = key;
    m->slots[i].hash = h;
    m->slots[i].val = val;
    m->n++;
    return EQS_OK;
}

eqs_status eqs_strmap_put(eqs_ctx *ctx, eqs_strmap *m, const char *key, int val)
{
    return eqs_strmap_put_h(ctx, m, key, eqs_str_hash(key, strlen(key)), val);
}

eqs_status eqs_strmap_reserve(eqs_ctx *ctx, eqs_strmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    while (cap < 2 * n) cap *= 2;
    return cap > m->cap ? strmap_rehash(ctx, m, cap) : EQS_OK;
}

void eqs_strmap_free(eqs_ctx *ctx, eqs_strmap *m)
{
    eqs_free(ctx, m->slots);
    memset(m, 0, sizeof *m);
}


/* ---------------------------------------------------------------- */
/* Arena                                                             */
/* ---------------------------------------------------------------- */

/* ASCII lower case, as eqs_str_hash and key_eq compare (no locale call:
 * every name of a 51.7 M-device crossbar comes through here). */
static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

char *eqs_nl_strdup(eqs_netlist *nl, const char *s, size_t len)
{
    struct eqs_netlist_priv *pv = nl->priv;
    eqs_ctx *ctx = nl->ctx;
    if (pv->left < len + 1) {
        size_t sz = len + 1 > ARENA_BLOCK / 4 ? len + 1 : ARENA_BLOCK;
        if (eqs_grow(ctx, (void **)&pv->blocks, &pv->block_cap, (size_t)pv->n_blocks + 1,
                     sizeof *pv->blocks))
            return NULL;
        char *b = eqs_malloc(ctx, sz);
        if (!b) return NULL;
        pv->blocks[pv->n_blocks++] = b;
        if (sz == ARENA_BLOCK) { /* keep bump-allocating from a full-size block */
            pv->cur = b;
            pv->left = sz;
        } else { /* oversized string: a block of its own */
            for (size_t i = 0; i < len; ++i) b[i] = ascii_lower(s[i]);
            b[len] = '\0';
            return b;
        }
    }
    char *d = pv->cur;
    for (size_t i = 0; i < len; ++i) d[i] = ascii_lower(s[i]);
    d[len] = '\0';
    pv->cur += len + 1;
    pv->left -= len + 1;
    return d;
}

/* ---------------------------------------------------------------- */
/* Netlist object                                                    */
/* ---------------------------------------------------------------- */

eqs_status eqs_nl_create(eqs_ctx *ctx, eqs_netlist **out)
{
    *out = NULL;
    eqs_netlist *nl = eqs_calloc(ctx, 1, sizeof *nl);
    if (!nl) return EQS_ERR_NOMEM;
    nl->ctx = ctx;
    nl->priv = eqs_calloc(ctx, 1, sizeof *nl->priv);
    if (!nl->priv) {
        eqs_free(ctx, nl);
        return EQS_ERR_NOMEM;
    }
    *out = nl;
    if (eqs_nl_node(nl, "0", 1) != 0) {
        eqs_netlist_free(out);
        return EQS_ERR_NOMEM;
    }
    return EQS_OK;
}

static int is_ground(const char *s, size_t len)
{
    return (len == 1 && s[0] == '0') ||
           (len == 3 && tolower((unsigned char)s[0]) == 'g' &&
            tolower((unsigned char)s[1]) == 'n' && tolower((unsigned char)s[2]) == 'd');
}

int eqs_nl_node(eqs_netlist *nl, const char *s, size_t len)
{
    if (nl->n_nodes > 0 && is_ground(s, len)) return 0;
    struct eqs_netlist_priv *pv = nl->priv;
    int k = eqs_strmap_get(&pv->nodes, s, len);
    if (k >= 0) return k;
    if (eqs_grow(nl->ctx, (void **)&nl->node_names, &nl->node_cap, (size_t)nl->n_nodes + 1,
                 sizeof *nl->node_names))
        return -1;
    char *name = eqs_nl_strdup(nl, s, len);
    if (!name) return -1;
    if (eqs_strmap_put(nl->ctx, &pv->nodes, name, nl->n_nodes)) return -1;
    nl->node_names[nl->n_nodes] = name;
    return nl->n_nodes++;
}

const char *eqs_nl_file(eqs_netlist *nl, const char *name)
{
    for (int i = 0; i < nl->n_files; ++i) /* few files: linear is fine */
        if (strcmp(nl->files[i], name) == 0) return nl->files[i];
    if (eqs_grow(nl->ctx, (void **)&nl->files, &nl->file_cap, (size_t)nl->n_files + 1,
                 sizeof *nl->files))
        return NULL;
    char *d = eqs_strdup(nl->ctx, name);
    if (!d) return NULL;
    nl->files[nl->n_files++] = d;
    return d;
}

void eqs_netlist_free(eqs_netlist **pnl)
{
    if (!pnl || !*pnl) return;
    eqs_netlist *nl = *pnl;
    eqs_ctx *ctx = nl->ctx;
    struct eqs_netlist_priv *pv = nl->priv;
    if (!pv) { /* built by hand: names allocated one by one */
        for (int i = 0; i < nl->n_nodes; ++i) eqs_free(ctx, nl->node_names[i]);
        for (int i = 0; i < nl->n_elems; ++i) {
            eqs_free(ctx, nl->elems[i].name);
            eqs_free(ctx, nl->elems[i].ctrl);
        }
        for (int i = 0; i < nl->n_models; ++i) {
            eqs_free(ctx, nl->models[i].name);
            eqs_free(ctx, nl->models[i].card);
        }
        for (int i = 0; i < nl->n_trainable; ++i) eqs_free(ctx, nl->trainable[i]);
        for (int i = 0; i < nl->n_inputs; ++i) eqs_free(ctx, nl->inputs[i]);
        for (int i = 0; i < nl->n_outputs; ++i) eqs_free(ctx, nl->outputs[i]);
    } else {
        for (int i = 0; i < pv->n_blocks; ++i) eqs_free(ctx, pv->blocks[i]);
        eqs_free(ctx, pv->blocks);
        eqs_strmap_free(ctx, &pv->nodes);
        eqs_strmap_free(ctx, &pv->elems);
        eqs_strmap_free(ctx, &pv->models);
        eqs_strmap_free(ctx, &pv->dmodels);
        eqs_free(ctx, pv);
    }
    eqs_free(ctx, nl->title); /* always individually allocated */
    eqs_free(ctx, nl->path);
    for (int i = 0; i < nl->n_files; ++i) eqs_free(ctx, nl->files[i]);
    eqs_free(ctx, nl->files);
    eqs_free(ctx, nl->node_names);
    eqs_free(ctx, nl->elems);
    eqs_free(ctx, nl->models);
    eqs_free(ctx, nl->dmodels);
    for (int i = 0; i < nl->n_crossbars; ++i) {
        if (!pv) eqs_free(ctx, nl->crossbars[i].name);
        eqs_free(ctx, nl->crossbars[i].device);
        eqs_free(ctx, nl->crossbars[i].row_node);
        eqs_free(ctx, nl->crossbars[i].col_node);
    }
    eqs_free(ctx, nl->crossbars);
    eqs_free(ctx, nl->trainable);
    eqs_free(ctx, nl->trainable_loc);
    eqs_free(ctx, nl->inputs);
    eqs_free(ctx, nl->input_loc);
    eqs_free(ctx, nl->outputs);
    eqs_free(ctx, nl->output_loc);
    eqs_free(ctx, nl);
    *pnl = NULL;
}

int eqs_netlist_node_find(const eqs_netlist *nl, const char *name)
{
    if (!nl || !name) return -1;
    size_t len = strlen(name);
    if (is_ground(name, len)) return 0;
    if (nl->priv) return eqs_strmap_get(&nl->priv->nodes, name, len);
    for (int i = 0; i < nl->n_nodes; ++i)
        if (eqs_str_ieq(nl->node_names[i], name)) return i;
    return -1;
}

/* Digits s[*p .. end) read leftwards from end: a canonical decimal (no
 * sign, no leading zero but "0" itself, at most 9 digits) right after a
 * '_'; *p is then the position of that '_'.  -1 when there is none. */
static long xbar_index(const char *s, size_t end, size_t *p)
{
    size_t q = end;
    while (q > 0 && s[q - 1] >= '0' && s[q - 1] <= '9') q--;
    if (q == end || end - q > 9 || (s[q] == '0' && end - q > 1) || q == 0 || s[q - 1] != '_')
        return -1;
    long v = 0;
    for (size_t k = q; k < end; ++k) v = 10 * v + (s[k] - '0');
    *p = q - 1;
    return v;
}

int eqs_nl_xbar_split(const char *s, size_t len, size_t *xlen, long *i, long *j)
{
    size_t p, q;
    long jj = xbar_index(s, len, &p);
    if (jj < 0) return 0;
    long ii = xbar_index(s, p, &q);
    if (ii < 0 || q == 0) return 0;
    *xlen = q, *i = ii, *j = jj;
    return 1;
}

int eqs_nl_xbar_device_find(const eqs_netlist *nl, const char *s, size_t len)
{
    size_t xl;
    long i, j;
    if (!nl->n_crossbars || !eqs_nl_xbar_split(s, len, &xl, &i, &j)) return -1;
    for (int x = 0; x < nl->n_crossbars; ++x) {
        const eqs_crossbar *X = &nl->crossbars[x];
        if (!key_eq(X->name, s, xl)) continue;
        /* crossbar names are unique: this is the only candidate */
        return i < X->rows && j < X->cols ? X->first_elem + (int)i * X->cols + (int)j : -1;
    }
    return -1;
}

int eqs_netlist_elem_find(const eqs_netlist *nl, const char *name)
{
    if (!nl || !name) return -1;
    if (nl->priv) {
        const size_t len = strlen(name);
        int k = eqs_strmap_get(&nl->priv->elems, name, len);
        return k >= 0 ? k : eqs_nl_xbar_device_find(nl, name, len);
    }
    for (int i = 0; i < nl->n_elems; ++i)
        if (eqs_str_ieq(nl->elems[i].name, name)) return i;
    return -1;
}

int eqs_netlist_model_find(const eqs_netlist *nl, const char *name)
{
    if (!nl || !name) return -1;
    if (nl->priv) return eqs_strmap_get(&nl->priv->models, name, strlen(name));
    for (int i = 0; i < nl->n_models; ++i)
        if (eqs_str_ieq(nl->models[i].name, name)) return i;
    return -1;
}

/* ---------------------------------------------------------------- */
/* Building: elements, models, extension cards, final checks         */
/* ---------------------------------------------------------------- */

eqs_status eqs_nl_duplicate(eqs_netlist *nl, const char *name, size_t len, eqs_loc loc, int k)
{
    const eqs_loc *f = &nl->elems[k].loc;
    if (f->file == loc.file)
        return EQS_ERROR_AT(nl->ctx, EQS_ERR_PARSE, loc,
                            "duplicate element name '%.*s' (first defined at line %d)",
                            (int)len, name, f->line);
    return EQS_ERROR_AT(nl->ctx, EQS_ERR_PARSE, loc,
                        "duplicate element name '%.*s' (first defined at %s:%d)", (int)len, name,
                        f->file ? f->file : "?", f->line);
}

eqs_status eqs_nl_elem_add(eqs_netlist *nl, const char *name, size_t len, uint32_t hash,
                           eqs_elem_kind kind, eqs_loc loc, eqs_element **out)
{
    eqs_ctx *ctx = nl->ctx;
    int k = eqs_strmap_get_h(&nl->priv->elems, name, len, hash);
    if (k < 0) k = eqs_nl_xbar_device_find(nl, name, len);
    if (k >= 0) return eqs_nl_duplicate(nl, name, len, loc, k);
    if (eqs_grow(ctx, (void **)&nl->elems, &nl->elem_cap, (size_t)nl->n_elems + 1,
                 sizeof *nl->elems))
        return EQS_ERR_NOMEM;
    char *d = eqs_nl_strdup(nl, name, len);
    if (!d || eqs_strmap_put_h(ctx, &nl->priv->elems, d, hash, nl->n_elems)) return EQS_ERR_NOMEM;
    eqs_element *e = &nl->elems[nl->n_elems++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->name = d;
    e->node[0] = e->node[1] = e->node[2] = e->node[3] = -1;
    e->model = -1;
    e->area = 1.0;
    e->loc = loc;
    *out = e;
    return EQS_OK;
}

eqs_status eqs_netlist_create(eqs_ctx *ctx, const char *title, const char *path,
                              eqs_netlist **out)
{
    if (!out) return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_netlist_create: out is NULL");
    eqs_status st = eqs_nl_create(ctx, out);
    if (st) return st;
    eqs_netlist *nl = *out;
    nl->title = eqs_strdup(ctx, title ? title : "");
    nl->path = eqs_strdup(ctx, path ? path : "<netlist>");
    if (!nl->title || !nl->path || !eqs_nl_file(nl, nl->path)) {
        eqs_netlist_free(out);
        return EQS_ERR_NOMEM;
    }
    return EQS_OK;
}

int eqs_netlist_add_node(eqs_netlist *nl, const char *name)
{
    if (!nl || !nl->priv || !name || !*name) return -1;
    return eqs_nl_node(nl, name, strlen(name));
}

static const char *pooled_file(eqs_netlist *nl, eqs_loc *loc)
{
    if (loc->file) loc->file = eqs_nl_file(nl, loc->file);
    return loc->file;
}

/* The card flags of element kind `kind` (EQS_CARD_*), 0 for no kind. */
static unsigned card_flags(int kind)
{
    char l;
    const eqs_elem_card *cd = eqs_elem_card_get(kind, &l);
    return cd ? cd->flags : 0u;
}

/* 1 when kind's card names a diode model (the model form). */
static int card_has_model(int kind)
{
    char l;
    const eqs_elem_card *cd = eqs_elem_card_get(kind, &l);
    return cd && cd->form == EQS_CARD_MODEL;
}

eqs_status eqs_netlist_add_elem(eqs_netlist *nl, const eqs_element *tmpl, const char *name,
                                const char *ctrl, int *index)
{
    eqs_ctx *ctx = nl->ctx;
    eqs_loc loc = tmpl->loc;
    if (loc.file && !pooled_file(nl, &loc)) return EQS_ERR_NOMEM;
    if (!name || !*name) return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "element without a name");
    char letter;
    if (!eqs_elem_card_get((int)tmpl->kind, &letter) || tmpl->n_nodes < 2 || tmpl->n_nodes > 4)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "element '%s': bad kind or node count", name);
    for (int k = 0; k < tmpl->n_nodes; ++k)
        if (tmpl->node[k] < 0 || tmpl->node[k] >= nl->n_nodes)
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "element '%s': node index %d out of range",
                                name, tmpl->node[k]);
    const unsigned fl = card_flags((int)tmpl->kind);
    if ((fl & EQS_CARD_CONTROLLED) && (!ctrl || !*ctrl))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "element '%s' needs a controlling source",
                            name);
    if (card_has_model((int)tmpl->kind) && (tmpl->model < 0 || tmpl->model >= nl->n_models))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "diode '%s': no model %d", name, tmpl->model);
    if (tmpl->dmodel < 0 || tmpl->dmodel > nl->n_dmodels)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "element '%s': no device model %d", name,
                            tmpl->dmodel - 1);
    size_t len = strlen(name); /* hash and look-up ignore case; the copy is lower case */
    eqs_element *e = NULL;
    eqs_status st = eqs_nl_elem_add(nl, name, len, eqs_str_hash(name, len), tmpl->kind, loc, &e);
    if (st) return st;
    char *nm = e->name;
    *e = *tmpl;
    e->name = nm;
    e->loc = loc;
    e->ctrl = NULL;
    for (int k = tmpl->n_nodes; k < 4; ++k) e->node[k] = -1;
    if (!card_has_model((int)tmpl->kind)) e->model = -1;
    if (ctrl && (fl & EQS_CARD_CONTROLLED) &&
        !(e->ctrl = eqs_nl_strdup(nl, ctrl, strlen(ctrl))))
        return EQS_ERR_NOMEM;
    if (index) *index = nl->n_elems - 1;
    return EQS_OK;
}

void eqs_diode_model_defaults(eqs_diode_model *m)
{
    memset(m, 0, sizeof *m);
    m->is_A = 1e-14;
    m->n = 1.0;
    m->rs_Ohm = 0.0;
    m->bv_V = INFINITY;
    m->has_bv = 0;
    m->ibv_A = 1e-3;
    m->tnom_C = 27.0;
    m->tnom_default = 1;
}

/* name is free in both model namespaces */
static eqs_status model_name_free(eqs_netlist *nl, const char *name, eqs_loc loc)
{
    size_t len = strlen(name);
    int old = eqs_strmap_get(&nl->priv->models, name, len);
    int dold = eqs_strmap_get(&nl->priv->dmodels, name, len);
    if (old < 0 && dold < 0) return EQS_OK;
    const eqs_loc *f = old >= 0 ? &nl->models[old].loc : &nl->dmodels[dold].loc;
    return EQS_ERROR_AT(nl->ctx, EQS_ERR_PARSE, loc, "duplicate model '%s' (first defined at %s:%d)",
                        name, f->file ? f->file : "?", f->line);
}

eqs_status eqs_netlist_add_diode_model(eqs_netlist *nl, const eqs_diode_model *m, int *index)
{
    eqs_ctx *ctx = nl->ctx;
    eqs_diode_model c = *m;
    if (c.loc.file && !pooled_file(nl, &c.loc)) return EQS_ERR_NOMEM;
    if (!m->name || !*m->name)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, c.loc, "diode model without a name");
    eqs_status st = model_name_free(nl, m->name, c.loc);
    if (st) return st;
    c.name = eqs_nl_strdup(nl, m->name, strlen(m->name));
    c.card = eqs_nl_strdup(nl, m->card ? m->card : "", m->card ? strlen(m->card) : 0);
    if (!c.name || !c.card ||
        eqs_grow(ctx, (void **)&nl->models, &nl->model_cap, (size_t)nl->n_models + 1,
                 sizeof *nl->models) ||
        eqs_strmap_put(ctx, &nl->priv->models, c.name, nl->n_models))
        return EQS_ERR_NOMEM;
    nl->models[nl->n_models] = c;
    if (index) *index = nl->n_models;
    nl->n_models++;
    return EQS_OK;
}

eqs_status eqs_netlist_add_device_model(eqs_netlist *nl, const eqs_device_model *m, int *index)
{
    eqs_ctx *ctx = nl->ctx;
    eqs_device_model c = *m;
    if (c.loc.file && !pooled_file(nl, &c.loc)) return EQS_ERR_NOMEM;
    if (!m->name || !*m->name || !m->type)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, c.loc, "device model without a name or type");
    eqs_status st = model_name_free(nl, m->name, c.loc);
    if (st) return st;
    c.name = eqs_nl_strdup(nl, m->name, strlen(m->name));
    if (!c.name ||
        eqs_grow(ctx, (void **)&nl->dmodels, &nl->dmodel_cap, (size_t)nl->n_dmodels + 1,
                 sizeof *nl->dmodels) ||
        eqs_strmap_put(ctx, &nl->priv->dmodels, c.name, nl->n_dmodels))
        return EQS_ERR_NOMEM;
    nl->dmodels[nl->n_dmodels] = c;
    if (index) *index = nl->n_dmodels;
    nl->n_dmodels++;
    return EQS_OK;
}

/* Append one name to an extension-card list. */
static eqs_status ext_add(eqs_netlist *nl, char ***names, eqs_loc **locs, int *count,
                          const char *name, eqs_loc loc)
{
    eqs_ctx *ctx = nl->ctx;
    if (loc.file && !pooled_file(nl, &loc)) return EQS_ERR_NOMEM;
    if (!name || !*name) return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, loc, "empty name");
    char **nn = eqs_realloc(ctx, *names, ((size_t)*count + 1) * sizeof *nn);
    if (!nn) return EQS_ERR_NOMEM;
    *names = nn;
    eqs_loc *nlocs = eqs_realloc(ctx, *locs, ((size_t)*count + 1) * sizeof *nlocs);
    if (!nlocs) return EQS_ERR_NOMEM;
    *locs = nlocs;
    char *s = eqs_nl_strdup(nl, name, strlen(name));
    if (!s) return EQS_ERR_NOMEM;
    (*names)[*count] = s;
    (*locs)[*count] = loc;
    (*count)++;
    return EQS_OK;
}

eqs_status eqs_netlist_add_input(eqs_netlist *nl, const char *name, eqs_loc loc)
{
    return ext_add(nl, &nl->inputs, &nl->input_loc, &nl->n_inputs, name, loc);
}

eqs_status eqs_netlist_add_output(eqs_netlist *nl, const char *name, int pair, eqs_loc loc)
{
    pair = pair != 0;
    if (nl->n_outputs > 0 && nl->output_pairs != pair)
        return EQS_ERROR_AT(nl->ctx, EQS_ERR_PARSE, loc,
                            "'%s' cannot be mixed with '%s': outputs are either all single-ended "
                            "or all differential pairs",
                            pair ? ".output_pair" : ".output", pair ? ".output" : ".output_pair");
    if (nl->n_outputs == 0) {
        nl->output_kind_loc = loc;
        if (loc.file && !pooled_file(nl, &nl->output_kind_loc)) return EQS_ERR_NOMEM;
    }
    nl->output_pairs = pair;
    return ext_add(nl, &nl->outputs, &nl->output_loc, &nl->n_outputs, name, loc);
}

eqs_status eqs_netlist_add_trainable(eqs_netlist *nl, const char *pattern, eqs_loc loc)
{
    return ext_add(nl, &nl->trainable, &nl->trainable_loc, &nl->n_trainable, pattern, loc);
}

eqs_status eqs_netlist_finish(eqs_netlist *nl)
{
    eqs_ctx *ctx = nl->ctx;
    if (!nl->priv) return EQS_ERROR(ctx, EQS_ERR_INPUT, "eqs_netlist_finish: hand-built netlist");
    for (int i = 0; i < nl->n_elems; ++i) {
        const eqs_element *e = &nl->elems[i];
        if (!(card_flags((int)e->kind) & EQS_CARD_CONTROLLED)) continue;
        int k = eqs_strmap_get(&nl->priv->elems, e->ctrl, strlen(e->ctrl));
        if (k < 0 || !(card_flags((int)nl->elems[k].kind) & EQS_CARD_VSOURCE))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, e->loc,
                                "controlling source '%s' of '%s' is %s", e->ctrl, e->name,
                                k < 0 ? "not defined" : "not a voltage source");
    }
    /* inputs: V elements, each once (a temporary set keeps this linear) */
    eqs_strmap seen = {0};
    eqs_status st = EQS_OK;
    for (int i = 0; i < nl->n_inputs && !st; ++i) {
        const char *s = nl->inputs[i];
        size_t len = strlen(s);
        int k = eqs_strmap_get(&nl->priv->elems, s, len);
        if (k < 0 || !(card_flags((int)nl->elems[k].kind) & EQS_CARD_VSOURCE))
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->input_loc[i],
                              "input '%s' is not a voltage source of the netlist", s);
        else if (eqs_strmap_get(&seen, s, len) >= 0)
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->input_loc[i], "input '%s' listed twice", s);
        else
            st = eqs_strmap_put(ctx, &seen, s, i);
    }
    eqs_strmap_free(ctx, &seen);
    if (st) return st;
    if (nl->output_pairs && nl->n_outputs % 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->output_loc[nl->n_outputs - 1],
                            "'.output_pair' needs node names in pairs (POS NEG ...): '%s' has no "
                            "negative node",
                            nl->outputs[nl->n_outputs - 1]);
    /* outputs: existing nodes, not ground, each once */
    char *mark = eqs_calloc(ctx, (size_t)nl->n_nodes, 1);
    if (!mark) return EQS_ERR_NOMEM;
    for (int i = 0; i < nl->n_outputs && !st; ++i) {
        const char *s = nl->outputs[i];
        int k = eqs_netlist_node_find(nl, s);
        if (k < 0)
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->output_loc[i],
                              "output node '%s' does not exist", s);
        else if (k == 0)
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->output_loc[i], "output node '%s' is ground",
                              s);
        else if (mark[k])
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->output_loc[i],
                              "output node '%s' listed twice", s);
        else
            mark[k] = 1;
        if (!st && nl->output_pairs && i % 2 == 1 &&
            eqs_netlist_node_find(nl, nl->outputs[i - 1]) == k)
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, nl->output_loc[i],
                              "output pair '%s %s' has the same node twice", nl->outputs[i - 1], s);
    }
    eqs_free(ctx, mark);
    /* .trainable patterns are applied (and typos warned about) by the
     * circuit compiler, which knows which elements can be trained */
    return st;
}
