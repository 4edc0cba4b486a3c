/*
 * crossbar.c: a crossbar block (docs/netlist.md "Crossbars") expanded into
 * ordinary elements.  The `.crossbar` card (parser.c) and the netlist
 * builder (eqs_netlist_add_crossbar, used by the DRN generator) both come
 * here, so a card and a direct build give the same netlist.
 *
 * Ideal wires: device (i,j) is an element NAME_<i>_<j> from row line i to
 * column line j.  With rwire > 0 every line is a chain of wire segments
 * (one per device it passes), and device (i,j) sits between the row line's
 * node at column j and the column line's node at row i (2 x 2 shown):
 *
 *   rows[0] -wr0_0- r0_0 ------wr0_1------ r0_1
 *                    |                      |
 *                  (0,0)                  (0,1)
 *                    |                      |
 *                   c0_0 ---.              c0_1 ---.
 *                           | wc0_0                | wc0_1
 *   rows[1] -wr1_0- r1_0 ---)--wr1_1------ r1_1    |     (')': the lines cross, no contact)
 *                    |      |               |      |
 *                  (1,0)    |             (1,1)    |
 *                    |      |               |      |
 *                   c1_0 ---'              c1_1 ---'
 *                    | wc1_0                | wc1_1
 *                 cols[0]                cols[1]
 *
 * (node and segment names carry the NAME_ prefix).  Devices come first in
 * nl->elems (row-major), then the row segments NAME_wr<i>_<j> (row-major),
 * then the column segments NAME_wc<i>_<j> (row-major).
 */
#include "netlist.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Largest number of devices of one crossbar (rows x cols): the element
 * count of an expanded netlist is bounded by the parser anyway. */
#define XBAR_MAX_DEVICES 100000000LL
#define XBAR_NAME_MAX 200 /* characters of a crossbar name */
#define XNAME_MAX (XBAR_NAME_MAX + 32) /* a device, node or segment name */

const char *eqs_crossbar_value(const eqs_netlist *nl, int dmodel, int conductance, double x,
                               double *value, char *buf, size_t size)
{
    if (!isfinite(x) || !(x > 0))
        return conductance ? "conductance must be positive and finite (S)"
                           : "resistance must be positive and finite (Ohm)";
    double g = conductance ? 1.0 / x : x; /* here: R */
    if (!isfinite(g) || !(g > 0))
        return conductance ? "conductance too small (1/G overflows)"
                           : "resistance too large";
    if (!dmodel) {
        *value = g;
        return NULL;
    }
    const eqs_device_model *m = &nl->dmodels[dmodel - 1];
    const eqs_model_type *ty = m->type;
    double G = conductance ? x : 1.0 / x, lo = 0, hi = INFINITY;
    ty->window(m->v, &lo, &hi);
    if (G < lo || G > hi) {
        snprintf(buf, size, "conductance %.9g S is outside the window [%.9g, %.9g] S of %s model '%s'",
                 G, lo, hi, ty->type, m->name);
        return buf;
    }
    double w[EQS_MODEL_MAX_PARAMS];
    for (int k = 0; k < ty->n_inst && k < EQS_MODEL_MAX_PARAMS; ++k) w[k] = ty->inst[k].def;
    w[0] = ty->state_of(m->v, G);
    *value = ty->resistance(m->v, w);
    return NULL;
}

/* lower-case key equals s[0..len) ignoring case */
static int same_name(const char *key, const char *s, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        if (key[i] != (char)tolower((unsigned char)s[i])) return 0;
    return key[len] == '\0';
}

/* "<name>_<infix><i>_<j>" into buf (lower case); returns its length. */
static size_t xname(char *buf, size_t size, const char *name, size_t nlen, const char *infix,
                    int i, int j)
{
    int k = snprintf(buf, size, "%.*s_%s%d_%d", (int)nlen, name, infix, i, j);
    for (int q = 0; q < (int)nlen && q < k; ++q) buf[q] = (char)tolower((unsigned char)buf[q]);
    return (size_t)k;
}

/* Decimal digits of v into buf (no terminator); returns their count. */
static size_t utoa(char *buf, unsigned v)
{
    char t[12];
    size_t n = 0;
    do t[n++] = (char)('0' + v % 10); while (v /= 10);
    for (size_t k = 0; k < n; ++k) buf[k] = t[n - 1 - k];
    return n;
}

/* A node that must be new (an internal node of the wires). */
static eqs_status new_node(eqs_netlist *nl, const eqs_crossbar_spec *sp, const char *s,
                           size_t len, int *out)
{
    if (eqs_strmap_get(&nl->priv->nodes, s, len) >= 0)
        return EQS_ERROR_AT(nl->ctx, EQS_ERR_PARSE, sp->loc,
                            "crossbar '%.*s': its internal node '%.*s' is already a node of the "
                            "netlist",
                            (int)sp->name_len, sp->name, (int)len, s);
    int k = eqs_nl_node(nl, s, len);
    if (k < 0) return EQS_ERR_NOMEM;
    *out = k;
    return EQS_OK;
}

/* Append one two-terminal resistor-kind element. */
static eqs_status put(eqs_netlist *nl, const char *s, size_t len, int a, int b, double value,
                      int dmodel, eqs_loc loc)
{
    eqs_element *e = NULL;
    eqs_status st = eqs_nl_elem_add(nl, s, len, eqs_str_hash(s, len), EQS_EL_R, loc, &e);
    if (st) return st;
    e->n_nodes = 2;
    e->node[0] = a;
    e->node[1] = b;
    e->value = value;
    e->dmodel = dmodel;
    return EQS_OK;
}

eqs_status eqs_netlist_add_crossbar(eqs_netlist *nl, const eqs_crossbar_spec *sp, int *index)
{
    eqs_ctx *ctx = nl->ctx;
    eqs_loc loc = sp->loc;
    if (loc.file && !(loc.file = eqs_nl_file(nl, loc.file))) return EQS_ERR_NOMEM;
    if (!nl->priv) return EQS_ERROR(ctx, EQS_ERR_INPUT, "crossbar: hand-built netlist");
    if (!sp->name || !sp->name_len)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar without a name");
    const int R = sp->rows, C = sp->cols;
    const char *nm = sp->name;
    const int nlen = (int)sp->name_len;
    if (R < 1 || C < 1 || (long long)R * C > XBAR_MAX_DEVICES)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                            "crossbar '%.*s' has %d rows and %d columns (each at least 1, at "
                            "most %lld devices)",
                            nlen, nm, R, C, XBAR_MAX_DEVICES);
    if (sp->dmodel < 0 || sp->dmodel > nl->n_dmodels ||
        (sp->dmodel && (!nl->dmodels[sp->dmodel - 1].type->state_of ||
                        !nl->dmodels[sp->dmodel - 1].type->window)))
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar '%.*s': bad device model", nlen,
                            nm);
    if (!isfinite(sp->rwire_ohm) || sp->rwire_ohm < 0)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                            "crossbar '%.*s': rwire must be zero or a positive, finite "
                            "resistance (Ohm)",
                            nlen, nm);
    for (int k = 0; k < nl->n_crossbars; ++k)
        if (same_name(nl->crossbars[k].name, nm, sp->name_len))
            return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                                "duplicate crossbar '%.*s' (first defined at %s:%d)", nlen, nm,
                                nl->crossbars[k].loc.file ? nl->crossbars[k].loc.file : "?",
                                nl->crossbars[k].loc.line);
    const size_t nd = (size_t)R * (size_t)C, nw = sp->rwire_ohm > 0 ? 2 * nd : 0;
    if ((double)nl->n_elems + (double)nd + (double)nw > 0x7fffffff / 2)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar '%.*s': too many elements", nlen,
                            nm);
    eqs_status st = EQS_OK;
    eqs_crossbar xb;
    memset(&xb, 0, sizeof xb);
    int *rint = NULL, *cint = NULL; /* internal nodes (rwire > 0) */
    char *mark = NULL;
    char buf[XNAME_MAX];
    if (sp->name_len > XBAR_NAME_MAX)
        return EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar name too long (more than %d "
                                                     "characters)", XBAR_NAME_MAX);
    xb.row_node = eqs_malloc(ctx, sizeof *xb.row_node * (size_t)R);
    xb.col_node = eqs_malloc(ctx, sizeof *xb.col_node * (size_t)C);
    xb.name = eqs_nl_strdup(nl, nm, sp->name_len);
    if (!xb.row_node || !xb.col_node || !xb.name) goto nomem;
    xb.rows = R;
    xb.cols = C;
    xb.dmodel = sp->dmodel;
    xb.rwire_ohm = sp->rwire_ohm;
    xb.loc = loc;
    xb.device = NULL; /* a path: its case kept (eqs_nl_strdup lower-cases) */
    if (sp->device) {
        const size_t dl = strlen(sp->device);
        if (!(xb.device = eqs_malloc(ctx, dl + 1))) goto nomem;
        memcpy(xb.device, sp->device, dl + 1);
    }
    /* lines, in the order the devices name them: row 0, columns, rows 1.. */
    for (int q = 0; q < R + C; ++q) {
        int isrow = q == 0 || q > C;
        int k = q == 0 ? 0 : q > C ? q - C : q - 1;
        const eqs_name_ref *r = isrow ? &sp->row[k] : &sp->col[k];
        if (!r->s || !r->len) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar '%.*s': empty node name", nlen,
                              nm);
            goto fail;
        }
        int idx = eqs_nl_node(nl, r->s, r->len);
        if (idx < 0) goto nomem;
        (isrow ? xb.row_node : xb.col_node)[k] = idx;
    }
    mark = eqs_calloc(ctx, (size_t)nl->n_nodes, 1);
    if (!mark) goto nomem;
    for (int q = 0; q < R + C; ++q) {
        int idx = q < R ? xb.row_node[q] : xb.col_node[q - R];
        if (mark[idx]) {
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc,
                              "crossbar '%.*s': node '%s' is named twice (each row and column "
                              "line needs its own node)",
                              nlen, nm, nl->node_names[idx]);
            goto fail;
        }
        mark[idx] = 1;
    }
    if (eqs_grow(ctx, (void **)&nl->elems, &nl->elem_cap, (size_t)nl->n_elems + nd + nw,
                 sizeof *nl->elems) ||
        eqs_strmap_reserve(ctx, &nl->priv->elems, nl->priv->elems.n + nw))
        goto nomem;
    if (nw) {
        rint = eqs_malloc(ctx, sizeof *rint * nd);
        cint = eqs_malloc(ctx, sizeof *cint * nd);
        if (!rint || !cint) goto nomem;
        for (int i = 0; i < R; ++i)
            for (int j = 0; j < C; ++j) {
                size_t len = xname(buf, sizeof buf, nm, sp->name_len, "r", i, j);
                if ((st = new_node(nl, sp, buf, len, &rint[(size_t)i * C + j]))) goto fail;
                len = xname(buf, sizeof buf, nm, sp->name_len, "c", i, j);
                if ((st = new_node(nl, sp, buf, len, &cint[(size_t)i * C + j]))) goto fail;
            }
    }
    xb.first_elem = nl->n_elems;
    /* The devices are not in the element index (netlist.h: their names
     * resolve through the crossbar record), so an earlier element named
     * like one of them is found here: the first such device (row-major) is
     * refused where the expansion reaches it, as the index refused it.
     * Devices of other crossbars cannot share a name with these, so only
     * the elements outside every crossbar's devices are looked at. */
    size_t dup = nd;
    int dup_k = -1;
    for (int k = 0, x = 0; k < nl->n_elems; ++k) {
        if (x < nl->n_crossbars && k == nl->crossbars[x].first_elem) {
            k += nl->crossbars[x].rows * nl->crossbars[x].cols - 1;
            x++;
            continue;
        }
        const char *en = nl->elems[k].name;
        size_t xl;
        long ei, ej;
        if (!eqs_nl_xbar_split(en, strlen(en), &xl, &ei, &ej) || xl != sp->name_len ||
            ei >= R || ej >= C)
            continue;
        size_t q = 0;
        while (q < xl && en[q] == (char)tolower((unsigned char)nm[q])) q++;
        if (q == xl && (size_t)ei * (size_t)C + (size_t)ej < dup)
            dup = (size_t)ei * (size_t)C + (size_t)ej, dup_k = k;
    }
    /* names NAME_<i>_<j>: the lower-cased prefix once, then the digits */
    size_t plen = sp->name_len;
    for (size_t q = 0; q < plen; ++q) buf[q] = (char)tolower((unsigned char)nm[q]);
    buf[plen++] = '_';
    for (int i = 0; i < R; ++i) {
        size_t rlen = plen + utoa(buf + plen, (unsigned)i);
        buf[rlen++] = '_';
        for (int j = 0; j < C; ++j) {
            size_t d = (size_t)i * C + j, len = rlen + utoa(buf + rlen, (unsigned)j);
            double v = 0;
            char msg[200];
            const char *why = eqs_crossbar_value(nl, sp->dmodel, sp->conductance, sp->value[d],
                                                 &v, msg, sizeof msg);
            if (why) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, loc, "crossbar '%.*s', device (%d,%d): %s",
                                  nlen, nm, i, j, why);
                goto fail;
            }
            if (d == dup) {
                st = eqs_nl_duplicate(nl, buf, len, loc, dup_k);
                goto fail;
            }
            char *name = eqs_nl_strdup(nl, buf, len);
            if (!name) goto nomem;
            eqs_element *e = &nl->elems[nl->n_elems++]; /* room reserved above */
            memset(e, 0, sizeof *e);
            e->kind = EQS_EL_R;
            e->name = name;
            e->n_nodes = 2;
            e->node[0] = nw ? rint[d] : xb.row_node[i];
            e->node[1] = nw ? cint[d] : xb.col_node[j];
            e->node[2] = e->node[3] = -1;
            e->value = v;
            e->model = -1;
            e->dmodel = sp->dmodel;
            e->area = 1.0;
            e->loc = loc;
        }
    }
    xb.first_wire = nl->n_elems;
    if (nw) {
        for (int i = 0; i < R; ++i)
            for (int j = 0; j < C; ++j) {
                size_t len = xname(buf, sizeof buf, nm, sp->name_len, "wr", i, j);
                int a = j == 0 ? xb.row_node[i] : rint[(size_t)i * C + j - 1];
                if ((st = put(nl, buf, len, a, rint[(size_t)i * C + j], sp->rwire_ohm, 0, loc)))
                    goto fail;
            }
        for (int i = 0; i < R; ++i)
            for (int j = 0; j < C; ++j) {
                size_t len = xname(buf, sizeof buf, nm, sp->name_len, "wc", i, j);
                int b = i == R - 1 ? xb.col_node[j] : cint[(size_t)(i + 1) * C + j];
                if ((st = put(nl, buf, len, cint[(size_t)i * C + j], b, sp->rwire_ohm, 0, loc)))
                    goto fail;
            }
    }
    xb.n_wire = (int)nw;
    if (eqs_grow(ctx, (void **)&nl->crossbars, &nl->crossbar_cap, (size_t)nl->n_crossbars + 1,
                 sizeof *nl->crossbars))
        goto nomem;
    if (index) *index = nl->n_crossbars;
    nl->crossbars[nl->n_crossbars++] = xb;
    eqs_free(ctx, rint);
    eqs_free(ctx, cint);
    eqs_free(ctx, mark);
    return EQS_OK;
nomem:
    st = EQS_ERR_NOMEM;
fail:
    eqs_free(ctx, xb.device);
    eqs_free(ctx, xb.row_node);
    eqs_free(ctx, xb.col_node);
    eqs_free(ctx, rint);
    eqs_free(ctx, cint);
    eqs_free(ctx, mark);
    return st;
}

eqs_status eqs_crossbar_read_csv(eqs_netlist *nl, const char *path, eqs_loc where, int rows,
                                 int cols, int dmodel, double *g)
{
    eqs_ctx *ctx = nl->ctx;
    const char *file = eqs_nl_file(nl, path);
    if (!file) return EQS_ERR_NOMEM;
    char *buf = NULL;
    size_t len = 0;
    eqs_status st = eqs_file_read(ctx, file, "crossbar file", where, EQS_ERR_PARSE, &buf, &len,
                                  NULL);
    if (st) return st;
    const char *p = buf, *end = buf + len;
    int line = 0, row = 0;
    char msg[200];
    while (p < end && st == EQS_OK) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == eol || *q == '#') {
            p = eol + 1;
            continue;
        }
        if (row == rows) {
            eqs_loc l = {file, line, (int)(q - p) + 1};
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l,
                              "more than %d rows of conductances (the crossbar has %d rows)", rows,
                              rows);
            break;
        }
        int col = 0;
        for (;;) { /* one field: [ws] number [ws] (',' | end of line) */
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            eqs_loc l = {file, line, (int)(q - p) + 1};
            const char *f = q;
            while (q < eol && *q != ',' && *q != ' ' && *q != '\t' && *q != '\r') q++;
            size_t used = 0;
            double v = 0;
            if (q == f) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l, "empty field (expected a conductance "
                                                         "in S)");
                break;
            }
            if (col == cols) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l,
                                  "row %d has more than %d values (the crossbar has %d columns)",
                                  row, cols, cols);
                break;
            }
            if (!eqs_number_scan(f, (size_t)(q - f), &used, &v) || used != (size_t)(q - f)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l, "malformed number '%.*s'", (int)(q - f),
                                  f);
                break;
            }
            double ignored;
            const char *why = eqs_crossbar_value(nl, dmodel, 1, v, &ignored, msg, sizeof msg);
            if (why) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l, "%s", why);
                break;
            }
            g[(size_t)row * cols + col++] = v;
            while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
            if (q == eol) break;
            if (*q != ',') {
                eqs_loc l2 = {file, line, (int)(q - p) + 1};
                st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l2, "expected ',' between values, got '%c'",
                                  *q);
                break;
            }
            q++;
        }
        if (st == EQS_OK && col < cols) {
            eqs_loc l = {file, line, (int)(eol - p) + 1};
            st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l,
                              "row %d has %d value%s, the crossbar has %d columns", row, col,
                              col == 1 ? "" : "s", cols);
        }
        row++;
        p = eol + 1;
    }
    if (st == EQS_OK && row < rows) {
        eqs_loc l = {file, line + 1, 1};
        st = EQS_ERROR_AT(ctx, EQS_ERR_PARSE, l,
                          "the file ends after %d row%s of conductances, the crossbar has %d rows",
                          row, row == 1 ? "" : "s", rows);
    }
    eqs_free(ctx, buf);
    return st;
}
