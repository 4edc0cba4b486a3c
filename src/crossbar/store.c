/*
 * store.c: the parameter store of a circuit and its blocks (crossbar.h).
 */
#include "crossbar.h"

#include <math.h>
#include <string.h>

static void blocks_free(eqs_ctx *ctx, eqs_block *b, int n)
{
    if (!b) return;
    for (int i = 0; i < n; ++i) {
        eqs_free(ctx, b[i].name);
        eqs_free(ctx, b[i].row_node);
        eqs_free(ctx, b[i].col_node);
    }
    eqs_free(ctx, b);
}

void eqs_store_free(eqs_ctx *ctx, eqs_store **sp)
{
    if (!sp || !*sp) return;
    eqs_store *s = *sp;
    eqs_free(ctx, s->g);
    eqs_free(ctx, s->m);
    eqs_free(ctx, s->gf);
    eqs_free(ctx, s->mf);
    eqs_free(ctx, s->pos);
    eqs_free(ctx, s->param);
    blocks_free(ctx, s->blocks, s->n_blocks);
    eqs_free(ctx, s);
    *sp = NULL;
}

/* The loose block: 1 x n entries from offset `off`. */
static int loose_init(eqs_ctx *ctx, eqs_block *b, size_t off, int n)
{
    memset(b, 0, sizeof *b);
    b->kind = EQS_BLOCK_LOOSE;
    b->name = eqs_strdup(ctx, "loose");
    b->rows = 1;
    b->cols = n;
    b->off = off;
    return b->name != NULL;
}

eqs_status eqs_store_create(eqs_circuit *c)
{
    eqs_ctx *ctx = c->ctx;
    const size_t n = (size_t)c->n_params, n1 = n ? n : 1;
    eqs_store *s = eqs_calloc(ctx, 1, sizeof *s);
    if (!s) return EQS_ERR_NOMEM;
    c->store = s;
    s->n = c->n_params;
    s->prec = EQS_STORE_DOUBLE;
    s->g = eqs_malloc(ctx, n1 * sizeof *s->g);
    s->m = eqs_calloc(ctx, n1, sizeof *s->m);
    s->pos = eqs_malloc(ctx, n1 * sizeof *s->pos);
    s->param = eqs_malloc(ctx, n1 * sizeof *s->param);
    s->blocks = eqs_calloc(ctx, 1, sizeof *s->blocks);
    if (!s->g || !s->m || !s->pos || !s->param || !s->blocks) return EQS_ERR_NOMEM;
    s->n_blocks = 1;
    if (!loose_init(ctx, &s->blocks[0], 0, c->n_params)) return EQS_ERR_NOMEM;
    for (size_t k = 0; k < n; ++k) {
        eqs_celem *e = &c->elems[c->params[k]];
        s->g[k] = e->value;
        s->pos[k] = s->param[k] = (int)k;
        e->value = NAN; /* lives in the store now (eqs_celem_value) */
    }
    return EQS_OK;
}

/* Index of the block holding entry e. */
static int block_of(const eqs_store *s, size_t e)
{
    for (int b = 0; b < s->n_blocks; ++b)
        if (e >= s->blocks[b].off &&
            e < s->blocks[b].off + (size_t)s->blocks[b].rows * (size_t)s->blocks[b].cols)
            return b;
    return -1;
}

static size_t block_size(const eqs_block *b) { return (size_t)b->rows * (size_t)b->cols; }

eqs_status eqs_store_block_make(eqs_circuit *c, eqs_block_kind kind, const char *name,
                                int rows, int cols, const int *row_node, const int *col_node,
                                const int *param, int declared, int *out)
{
    eqs_ctx *ctx = c->ctx;
    eqs_store *s = c->store;
    const size_t nb = (size_t)rows * (size_t)cols, n = (size_t)s->n;
    if (kind == EQS_BLOCK_LOOSE || rows < 1 || cols < 1 || nb > n)
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "block '%s': bad shape %d x %d", name, rows,
                         cols);
    /* the same parameters in the same order: nothing moves */
    for (int b = 0; b < s->n_blocks; ++b) {
        const eqs_block *B = &s->blocks[b];
        if (B->kind == EQS_BLOCK_LOOSE || B->rows != rows || B->cols != cols) continue;
        size_t e = 0;
        while (e < nb && s->param[B->off + e] == param[e]) ++e;
        if (e == nb) {
            *out = b;
            return EQS_OK;
        }
    }
    /* the parameters are the first entries of the loose block (the last
     * block), in this order: a declared crossbar whose devices come first
     * in parameter order.  Nothing moves: the loose block is cut in two.
     * The general path below gives the same store, through new copies of
     * the values, momentum and maps (21 B per parameter more at the peak
     * of compiling DRN-XL). */
    {
        eqs_block *Lb = &s->blocks[s->n_blocks - 1];
        size_t e = 0;
        if (Lb->kind == EQS_BLOCK_LOOSE && nb <= block_size(Lb))
            while (e < nb && s->param[Lb->off + e] == param[e]) ++e;
        if (e == nb) {
            eqs_block nbk;
            memset(&nbk, 0, sizeof nbk);
            nbk.kind = kind;
            nbk.rows = rows;
            nbk.cols = cols;
            nbk.declared = declared;
            nbk.off = Lb->off;
            nbk.name = eqs_strdup(ctx, name);
            nbk.row_node = eqs_malloc(ctx, (size_t)rows * sizeof *nbk.row_node);
            nbk.col_node = eqs_malloc(ctx, (size_t)cols * sizeof *nbk.col_node);
            eqs_block *grown = nbk.name && nbk.row_node && nbk.col_node
                                   ? eqs_realloc(ctx, s->blocks,
                                                 ((size_t)s->n_blocks + 1) * sizeof *s->blocks)
                                   : NULL;
            if (!grown) {
                eqs_free(ctx, nbk.name);
                eqs_free(ctx, nbk.row_node);
                eqs_free(ctx, nbk.col_node);
                return EQS_ERR_NOMEM;
            }
            memcpy(nbk.row_node, row_node, (size_t)rows * sizeof *row_node);
            memcpy(nbk.col_node, col_node, (size_t)cols * sizeof *col_node);
            s->blocks = grown;
            const int lo = s->n_blocks - 1; /* the loose block moves one up */
            s->blocks[lo + 1] = s->blocks[lo];
            s->blocks[lo + 1].off += nb;
            s->blocks[lo + 1].cols -= (int)nb;
            s->blocks[lo] = nbk;
            s->n_blocks++;
            *out = lo;
            return EQS_OK;
        }
    }
    eqs_status st = EQS_ERR_NOMEM;
    unsigned char *take = eqs_calloc(ctx, n ? n : 1, 1);
    int *cover = eqs_calloc(ctx, (size_t)s->n_blocks, sizeof *cover);
    int *nparam = eqs_malloc(ctx, (n ? n : 1) * sizeof *nparam);
    eqs_block *nbk = eqs_calloc(ctx, (size_t)s->n_blocks + 1, sizeof *nbk);
    void *ng = NULL, *nm = NULL;
    int nnb = 0;
    const size_t es = s->prec == EQS_STORE_FLOAT ? sizeof(float) : sizeof(double);
    if (!take || !cover || !nparam || !nbk) goto done;
    for (size_t e = 0; e < nb; ++e) {
        int k = param[e];
        if (k < 0 || (size_t)k >= n || take[k]) {
            st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "block '%s': parameter %d repeated or out of "
                           "range", name, k);
            goto done;
        }
        take[k] = 1;
        cover[block_of(s, (size_t)s->pos[k])]++;
    }
    /* new order: kept blocks, the new one, the loose rest (parameter order);
     * every allocation first, so that a failure leaves the store as it was */
    int nkeep = 0;
    for (int b = 0; b < s->n_blocks; ++b)
        nkeep += s->blocks[b].kind != EQS_BLOCK_LOOSE && cover[b] == 0;
    eqs_block *NB = &nbk[nkeep];
    NB->kind = kind;
    NB->rows = rows;
    NB->cols = cols;
    NB->declared = declared;
    NB->name = eqs_strdup(ctx, name);
    NB->row_node = eqs_malloc(ctx, (size_t)rows * sizeof *NB->row_node);
    NB->col_node = eqs_malloc(ctx, (size_t)cols * sizeof *NB->col_node);
    ng = eqs_malloc(ctx, (n ? n : 1) * es);
    nm = eqs_malloc(ctx, (n ? n : 1) * es);
    if (!NB->name || !NB->row_node || !NB->col_node || !ng || !nm ||
        !loose_init(ctx, &nbk[nkeep + 1], 0, 0)) {
        nnb = nkeep + 2;
        for (int b = 0; b < nkeep; ++b) nbk[b].name = NULL; /* not moved yet */
        goto done;
    }
    memcpy(NB->row_node, row_node, (size_t)rows * sizeof *row_node);
    memcpy(NB->col_node, col_node, (size_t)cols * sizeof *col_node);
    size_t at = 0;
    nnb = 0;
    for (int b = 0; b < s->n_blocks; ++b) {
        eqs_block *B = &s->blocks[b];
        if (B->kind == EQS_BLOCK_LOOSE || cover[b] != 0) continue;
        nbk[nnb] = *B;
        nbk[nnb].off = at;
        for (size_t e = 0; e < block_size(B); ++e) nparam[at++] = s->param[B->off + e];
        B->name = NULL, B->row_node = B->col_node = NULL; /* moved */
        nnb++;
    }
    NB->off = at;
    nnb++;
    for (size_t e = 0; e < nb; ++e) nparam[at++] = param[e];
    size_t loose_off = at;
    for (size_t k = 0; k < n; ++k) {
        if (take[k]) continue;
        int b = block_of(s, (size_t)s->pos[k]);
        if (s->blocks[b].kind == EQS_BLOCK_LOOSE || cover[b] != 0) nparam[at++] = (int)k;
    }
    nbk[nnb].off = loose_off;
    nbk[nnb].cols = (int)(n - loose_off);
    nnb++;
    /* move values and momentum */
    for (size_t e = 0; e < n; ++e) {
        size_t from = (size_t)s->pos[nparam[e]];
        if (s->prec == EQS_STORE_FLOAT) {
            ((float *)ng)[e] = s->gf[from];
            ((float *)nm)[e] = s->mf[from];
        } else {
            ((double *)ng)[e] = s->g[from];
            ((double *)nm)[e] = s->m[from];
        }
    }
    if (s->prec == EQS_STORE_FLOAT) {
        eqs_free(ctx, s->gf), eqs_free(ctx, s->mf);
        s->gf = ng, s->mf = nm;
    } else {
        eqs_free(ctx, s->g), eqs_free(ctx, s->m);
        s->g = ng, s->m = nm;
    }
    ng = nm = NULL;
    eqs_free(ctx, s->param);
    s->param = nparam;
    nparam = NULL;
    for (size_t e = 0; e < n; ++e) s->pos[s->param[e]] = (int)e;
    blocks_free(ctx, s->blocks, s->n_blocks);
    s->blocks = nbk;
    s->n_blocks = nnb;
    nbk = NULL;
    *out = nnb - 2;
    st = EQS_OK;
done:
    if (nbk) blocks_free(ctx, nbk, nnb);
    eqs_free(ctx, ng);
    eqs_free(ctx, nm);
    eqs_free(ctx, take);
    eqs_free(ctx, cover);
    eqs_free(ctx, nparam);
    return st;
}

/* The n values of buf (a malloc'd block) from double to float in place,
 * front to back (float e overwrites bytes of doubles at most e / 2, read
 * before), then the block shrunk to the floats: the switch needs no second
 * array, which at 51.7 M conductances (DRN-XL) is 413 MB more peak.
 * memcpy reads and writes: the two views alias. */
static float *to_float_inplace(eqs_ctx *ctx, void *buf, size_t n, int *shrunk)
{
    unsigned char *b = buf;
    for (size_t e = 0; e < n; ++e) {
        double d;
        memcpy(&d, b + e * sizeof d, sizeof d);
        float f = (float)d;
        memcpy(b + e * sizeof f, &f, sizeof f);
    }
    void *p = eqs_realloc(ctx, buf, (n ? n : 1) * sizeof(float));
    *shrunk = p != NULL; /* a shrink that fails (recorded) keeps the larger block */
    return p ? p : buf;
}

/* The other way: the block grown to doubles, then back to front (double e
 * overwrites floats 2e and 2e + 1, read before).  NULL (buf untouched)
 * when the block cannot grow. */
static double *to_double_inplace(eqs_ctx *ctx, void *buf, size_t n)
{
    unsigned char *b = eqs_realloc(ctx, buf, (n ? n : 1) * sizeof(double));
    if (!b) return NULL;
    for (size_t e = n; e-- > 0;) {
        float f;
        memcpy(&f, b + e * sizeof f, sizeof f);
        double d = f;
        memcpy(b + e * sizeof d, &d, sizeof d);
    }
    return (double *)b;
}

eqs_status eqs_store_set_precision(eqs_circuit *c, eqs_store_precision prec)
{
    eqs_ctx *ctx = c->ctx;
    eqs_store *s = c->store;
    if (s->prec == prec) return EQS_OK;
    const size_t n = (size_t)s->n;
    int ok_g = 1, ok_m = 1;
    if (prec == EQS_STORE_FLOAT) {
        /* a failed shrink still switches (a consistent float store in the
         * larger blocks) and reports the failure */
        s->gf = to_float_inplace(ctx, s->g, n, &ok_g);
        s->mf = to_float_inplace(ctx, s->m, n, &ok_m);
        s->g = s->m = NULL;
        s->prec = prec;
        return ok_g && ok_m ? EQS_OK : EQS_ERR_NOMEM;
    }
    double *g = to_double_inplace(ctx, s->gf, n);
    if (!g) return EQS_ERR_NOMEM;
    s->gf = NULL;
    s->g = g;
    double *m = to_double_inplace(ctx, s->mf, n);
    if (!m) { /* back to float: the store stays as it was */
        s->gf = to_float_inplace(ctx, s->g, n, &ok_g);
        s->g = NULL;
        return EQS_ERR_NOMEM;
    }
    s->mf = NULL;
    s->m = m;
    s->prec = prec;
    return EQS_OK;
}
