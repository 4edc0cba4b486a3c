/*
 * handoff.c: the hand-off to hardware teams (docs/export.md): one
 * conductance matrix per crossbar (DIR/<name>.csv) and a stock-SPICE
 * netlist of the network (DIR/top.cir), written into a temporary
 * directory beside DIR and renamed to DIR only when complete; and the
 * reverse, conductance maps read back into a circuit, every file checked
 * before any value is set.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "../core/core.h"

/* Parameter index of netlist element e (-1: not trainable). */
static int elem_param(const eqs_circuit *c, int e)
{
    for (int k = 0; k < c->n_elems; ++k)
        if (c->elems[k].origin == e) return c->elems[k].param;
    return -1;
}

static void put_node(FILE *f, const eqs_netlist *nl, int n)
{
    fputs(n >= 0 && n < nl->n_nodes ? nl->node_names[n] : "?", f);
}

static eqs_status write_crossbar(eqs_ctx *ctx, const eqs_circuit *c, const eqs_crossbar *x,
                                 const char *path)
{
    const eqs_netlist *nl = c->nl;
    FILE *f = fopen(path, "w");
    if (!f) return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "# eqspice %s conductance map\n# crossbar: %s\n# rows: %d\n# cols: %d\n",
            EQS_VERSION, x->name, x->rows, x->cols);
    fprintf(f, "# row_nodes:");
    for (int i = 0; i < x->rows; ++i) fputc(' ', f), put_node(f, nl, x->row_node[i]);
    fprintf(f, "\n# col_nodes:");
    for (int j = 0; j < x->cols; ++j) fputc(' ', f), put_node(f, nl, x->col_node[j]);
    fprintf(f, "\n# units: S\n# device: %s\n", x->device ? x->device : "none");
    fprintf(f, "# cell (i,j) connects row node i to column node j; one line per row\n");
    eqs_status st = EQS_OK;
    for (int i = 0; i < x->rows && st == EQS_OK; ++i) {
        for (int j = 0; j < x->cols; ++j) {
            int p = elem_param(c, x->first_elem + i * x->cols + j);
            if (p < 0) {
                st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                               "crossbar %s: cell (%d,%d) is not a trained conductance",
                               x->name, i, j);
                break;
            }
            fprintf(f, "%s%.17g", j ? "," : "", eqs_circuit_param_get(c, p));
        }
        fputc('\n', f);
    }
    if (ferror(f) && st == EQS_OK) st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    if (fclose(f) && st == EQS_OK) st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    return st;
}

static void remove_tree(const char *dir, const eqs_netlist *nl)
{
    char p[4096];
    for (int x = 0; nl && x < nl->n_crossbars; ++x) {
        snprintf(p, sizeof p, "%s/%s.csv", dir, nl->crossbars[x].name);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/top.cir", dir);
    unlink(p);
    rmdir(dir);
}

eqs_status eqs_handoff_export(eqs_ctx *ctx, const eqs_circuit *c, const char *dir,
                              unsigned what)
{
    const eqs_netlist *nl = c->nl;
    if (what == 0) what = EQS_HANDOFF_CSV | EQS_HANDOFF_SPICE;
    if ((what & EQS_HANDOFF_CSV) && nl->n_crossbars == 0)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "the network has no .crossbar: nothing to export");
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return EQS_ERROR(ctx, EQS_ERR_IO, "'%s' exists: export writes a new directory", dir);
    size_t n = strlen(dir) + 32;
    char *tmp = eqs_malloc(ctx, n);
    char *path = eqs_malloc(ctx, n + 256);
    if (!tmp || !path) {
        eqs_free(ctx, tmp);
        eqs_free(ctx, path);
        return EQS_ERR_NOMEM;
    }
    snprintf(tmp, n, "%s.tmp.%ld", dir, (long)getpid());
    eqs_status st = EQS_OK;
    if (mkdir(tmp, 0777) != 0)
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
    for (int x = 0; st == EQS_OK && (what & EQS_HANDOFF_CSV) && x < nl->n_crossbars; ++x) {
        if (strlen(nl->crossbars[x].name) > 200) {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "crossbar name too long");
            break;
        }
        snprintf(path, n + 256, "%s/%s.csv", tmp, nl->crossbars[x].name);
        st = write_crossbar(ctx, c, &nl->crossbars[x], path);
    }
    if (st == EQS_OK && (what & EQS_HANDOFF_SPICE)) {
        snprintf(path, n + 256, "%s/top.cir", tmp);
        FILE *f = fopen(path, "w");
        if (!f) st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        else {
            st = eqs_export_netlist_cards_file(ctx, c, f);
            if (fclose(f) && st == EQS_OK)
                st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
        }
    }
    if (st == EQS_OK && rename(tmp, dir) != 0)
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, dir,
                       strerror(errno));
    if (st != EQS_OK) remove_tree(tmp, nl);
    eqs_free(ctx, tmp);
    eqs_free(ctx, path);
    return st;
}

/* ---- import ---- */

/* One parsed map: crossbar index and rows*cols values (S). */
typedef struct {
    int xbar;
    double *g;
} parsed_map;

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Parse one CSV file (see docs/export.md "Conductance maps"). */
static eqs_status parse_map(eqs_ctx *ctx, const eqs_netlist *nl, const char *path,
                            parsed_map *m)
{
    char *buf = NULL;
    size_t len = 0;
    eqs_status st = eqs_file_read(ctx, path, "conductance map", EQS_NOLOC, EQS_ERR_IO, &buf,
                                  &len, NULL);
    if (st != EQS_OK) return st;
    /* crossbar name: "# crossbar:" header, else the file name without .csv */
    char name[256] = "";
    int ohms = 0, have_units = 0;
    int line = 0;
    const char *p = buf;
    /* headers */
    for (const char *q = buf; *q;) {
        const char *e = strchr(q, '\n');
        size_t l = e ? (size_t)(e - q) : strlen(q);
        if (l > 0 && q[0] == '#') {
            char tmp[512];
            size_t k = l < sizeof tmp - 1 ? l : sizeof tmp - 1;
            memcpy(tmp, q, k);
            tmp[k] = 0;
            if (k && tmp[k - 1] == '\r') tmp[--k] = 0;
            char v[256];
            if (sscanf(tmp, "# crossbar: %255s", v) == 1) snprintf(name, sizeof name, "%s", v);
            if (sscanf(tmp, "# units: %255s", v) == 1) {
                have_units = 1;
                if (!strcmp(v, "S") || !strcmp(v, "siemens")) ohms = 0;
                else if (!strcmp(v, "ohm") || !strcmp(v, "Ohm") || !strcmp(v, "ohms"))
                    ohms = 1;
                else {
                    eqs_loc loc = {path, 0, 0};
                    (void)loc;
                    st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                                   "%s: units '%s': expected S (siemens) or ohm", path, v);
                    eqs_free(ctx, buf);
                    return st;
                }
            }
        }
        if (!e) break;
        q = e + 1;
    }
    (void)have_units;
    if (!name[0]) {
        const char *b = base_name(path);
        size_t bl = strlen(b);
        if (bl > 4 && !strcmp(b + bl - 4, ".csv")) bl -= 4;
        if (bl >= sizeof name) bl = sizeof name - 1;
        memcpy(name, b, bl);
        name[bl] = 0;
    }
    for (char *s = name; *s; ++s)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
    m->xbar = -1;
    for (int x = 0; x < nl->n_crossbars; ++x)
        if (!strcmp(nl->crossbars[x].name, name)) m->xbar = x;
    if (m->xbar < 0) {
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: the network has no crossbar '%s'", path, name);
        eqs_free(ctx, buf);
        return st;
    }
    const eqs_crossbar *x = &nl->crossbars[m->xbar];
    m->g = eqs_calloc(ctx, (size_t)x->rows * (size_t)x->cols, sizeof *m->g);
    if (!m->g) {
        eqs_free(ctx, buf);
        return EQS_ERR_NOMEM;
    }
    int row = 0;
    line = 0;
    while (*p && st == EQS_OK) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        line++;
        if (l > 0 && p[l - 1] == '\r') l--;
        int blank = 1;
        for (size_t k = 0; k < l; ++k)
            if (p[k] != ' ' && p[k] != '\t') blank = 0;
        if (!blank && p[0] != '#') {
            if (row >= x->rows) {
                st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                               "%s:%d:1: wrong shape: more than %d rows (crossbar %s is "
                               "%dx%d)", path, line, x->rows, x->name, x->rows, x->cols);
                break;
            }
            int col = 0;
            size_t k = 0;
            for (;;) {
                size_t s0 = k;
                while (k < l && p[k] != ',') k++;
                if (col >= x->cols) {
                    st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                                   "%s:%d:%zu: wrong shape: more than %d columns (crossbar %s "
                                   "is %dx%d)", path, line, s0 + 1, x->cols, x->name, x->rows,
                                   x->cols);
                    break;
                }
                char cell[128];
                size_t a = s0, b = k;
                while (a < b && (p[a] == ' ' || p[a] == '\t')) a++;
                while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
                size_t cl = b - a < sizeof cell - 1 ? b - a : sizeof cell - 1;
                memcpy(cell, p + a, cl);
                cell[cl] = 0;
                double v;
                if (cl == 0 || !strcmp(cell, "nan") || !strcmp(cell, "NaN") ||
                    !strcmp(cell, "dead")) {
                    v = 0.0; /* dead cell: open circuit */
                } else {
                    char *end;
                    errno = 0;
                    v = strtod(cell, &end);
                    if (*end || end == cell || !isfinite(v)) {
                        st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                                       "%s:%d:%zu: non-numeric cell '%s' (row %d, column %d)",
                                       path, line, a + 1, cell, row, col);
                        break;
                    }
                    if (v < 0) {
                        st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                                       "%s:%d:%zu: negative %s '%s' (row %d, column %d)", path,
                                       line, a + 1, ohms ? "resistance" : "conductance", cell,
                                       row, col);
                        break;
                    }
                    if (ohms) v = v > 0 ? 1.0 / v : 0.0;
                }
                m->g[(size_t)row * (size_t)x->cols + (size_t)col] = v;
                col++;
                if (k >= l) break;
                k++;
            }
            if (st == EQS_OK && col != x->cols)
                st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                               "%s:%d:%zu: wrong shape: %d columns, crossbar %s has %d", path,
                               line, l + 1, col, x->name, x->cols);
            row++;
        }
        if (!e) break;
        p = e + 1;
    }
    if (st == EQS_OK && row != x->rows)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s:%d:1: wrong shape: %d rows, crossbar %s has %d",
                       path, line + 1, row, x->name, x->rows);
    eqs_free(ctx, buf);
    return st;
}

eqs_status eqs_handoff_import_netlist(eqs_ctx *ctx, eqs_circuit *c, const char *const *paths,
                                      int n, const char *out)
{
    eqs_status st = eqs_handoff_import(ctx, c, paths, n);
    if (st == EQS_OK) st = eqs_export_netlist_cards(ctx, c, out);
    return st;
}

eqs_status eqs_handoff_import(eqs_ctx *ctx, eqs_circuit *c, const char *const *paths, int n)
{
    const eqs_netlist *nl = c->nl;
    parsed_map *m = eqs_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof *m);
    if (!m) return EQS_ERR_NOMEM;
    eqs_status st = EQS_OK;
    for (int i = 0; i < n && st == EQS_OK; ++i) st = parse_map(ctx, nl, paths[i], &m[i]);
    for (int i = 0; i < n && st == EQS_OK; ++i) {
        const eqs_crossbar *x = &nl->crossbars[m[i].xbar];
        for (int k = 0; k < x->rows * x->cols && st == EQS_OK; ++k) {
            int p = elem_param(c, x->first_elem + k);
            if (p < 0)
                st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: crossbar %s cell %d is not trainable",
                               paths[i], x->name, k);
            else st = eqs_circuit_param_set(c, p, m[i].g[k]);
        }
    }
    for (int i = 0; i < n; ++i) eqs_free(ctx, m[i].g);
    eqs_free(ctx, m);
    return st;
}
