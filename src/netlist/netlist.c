/*
 * netlist.c: the eqs_netlist object: creation, release, name look-ups,
 * the string arena that holds every name and the hash maps behind the
 * look-ups.  A generated 784-1024-10 network has ~1.6 million elements:
 * names are bump-allocated from large blocks (no per-name malloc) and
 * every look-up is an open-addressing hash probe (linear total time).
 */
#include "netlist.h"

#include <ctype.h>
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
            for (size_t i = 0; i < len; ++i) b[i] = (char)tolower((unsigned char)s[i]);
            b[len] = '\0';
            return b;
        }
    }
    char *d = pv->cur;
    for (size_t i = 0; i < len; ++i) d[i] = (char)tolower((unsigned char)s[i]);
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

int eqs_netlist_elem_find(const eqs_netlist *nl, const char *name)
{
    if (!nl || !name) return -1;
    if (nl->priv) return eqs_strmap_get(&nl->priv->elems, name, strlen(name));
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
