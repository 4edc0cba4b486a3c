/*
 * handoff.c: the hand-off to hardware teams (docs/export.md).
 *
 * Export: a new directory with, per crossbar, its conductance map
 * (<name>.csv) and, when its device model has levels, the level index and
 * programming-pulse maps; top.cir, the network for stock ngspice (one
 * .subckt per crossbar, the rest of the network as the deck writer gives
 * it, the input sources at one sample, .op); manifest.xml with the SHA-256
 * of every file.  Everything goes into "<dir>.tmp.<pid>", renamed to dir
 * when complete; on error the temporary directory is removed.
 *
 * Import: conductance maps read back (S or ohm, dead cells), every file
 * checked before anything is set, into the network, written as a netlist.
 *
 * The network: a run directory is rebuilt from its experiment.xml (the
 * network generator or netlist keeps the .crossbar records, which the flat
 * trained.cir has lost) and takes every trained value from trained.cir
 * (by element name: the values `eqspice eval RUNDIR` uses) and trained.cir's
 * evaluation cards; a netlist is read as it is.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "export.h"
#include "../core/core.h"
#include "../devices/devices.h"
#include "../solver/solver.h" /* eqs_deck_free */

/* Longest line of top.cir's node lists before a '+' continuation. */
#define TOP_LINE_MAX 200
#define MAP_NAME_MAX 200 /* characters of a crossbar name (crossbar.c's limit) */

static const char *const law_names[] = {"ideal", "constant", "soft", "exp",
                                        "pow",   "table",    "team"};

void eqs_handoff_options_defaults(eqs_handoff_options *opt)
{
    opt->what = EQS_HANDOFF_ALL;
    opt->sample = -1;
    opt->vectors = 0;
    opt->dead_S = 1e-12;
    eqs_physical_target_defaults(&opt->phys);
}

/* ------------------------------------------------------------------ */
/* The network                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    eqs_ctx *ctx;
    int is_run;
    const char *src;        /* as given */
    eqs_experiment *exp;    /* run only */
    eqs_netlist *nl;        /* with the .crossbar records */
    eqs_circuit *c;
    eqs_eval_settings ev;   /* trained.cir's (run) or the netlist's cards */
    int *cel;               /* netlist element -> circuit element, -1: none */
    eqs_device_law *exp_law;    /* the experiment's device model (run), or NULL */
    eqs_device_law **xlaw;      /* per crossbar: its device= model, or NULL */
    int mapped;                 /* the physical map applied (--vread, --window) */
    eqs_physical_target phys;
    eqs_physical_map map;
} hnet;

static void hnet_close(hnet *h)
{
    if (h->xlaw)
        for (int x = 0; x < h->nl->n_crossbars; ++x) eqs_device_law_free(h->ctx, &h->xlaw[x]);
    eqs_free(h->ctx, h->xlaw);
    eqs_device_law_free(h->ctx, &h->exp_law);
    eqs_free(h->ctx, h->cel);
    eqs_circuit_free(&h->c);
    eqs_netlist_free(&h->nl);
    eqs_experiment_free(&h->exp);
    memset(h, 0, sizeof *h);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static char *path_join(eqs_ctx *ctx, const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = eqs_malloc(ctx, n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

typedef struct {
    const char *name;
    int k;
} name_idx;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

/* Every trainable value of tc (trained.cir) into c, by element name. */
static eqs_status copy_trained(eqs_ctx *ctx, eqs_circuit *c, const eqs_circuit *tc,
                               const char *tpath)
{
    int n = eqs_circuit_param_count(c), nt = eqs_circuit_param_count(tc);
    if (n != nt)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "%s: %d trained conductances, but the run's network has %d", tpath,
                         nt, n);
    name_idx *t = eqs_malloc(ctx, (size_t)(nt > 0 ? nt : 1) * sizeof *t);
    if (!t) return EQS_ERR_NOMEM;
    for (int k = 0; k < nt; ++k) t[k] = (name_idx){eqs_circuit_param_name(tc, k), k};
    qsort(t, (size_t)nt, sizeof *t, by_name);
    eqs_status st = EQS_OK;
    for (int k = 0; k < n && st == EQS_OK; ++k) {
        name_idx key = {eqs_circuit_param_name(c, k), k};
        const name_idx *hit = bsearch(&key, t, (size_t)nt, sizeof *t, by_name);
        if (!hit)
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: no trained value for '%s' of the run's "
                                               "network", tpath, key.name);
        else st = eqs_circuit_param_set(c, k, eqs_circuit_param_get(tc, hit->k));
    }
    eqs_free(ctx, t);
    return st;
}

static eqs_status open_run(hnet *h, const char *dir)
{
    eqs_ctx *ctx = h->ctx;
    char *xml = path_join(ctx, dir, "experiment.xml"), *tpath = path_join(ctx, dir, "trained.cir");
    eqs_netlist *tnl = NULL;
    eqs_circuit *tc = NULL;
    eqs_status st = (!xml || !tpath) ? EQS_ERR_NOMEM : EQS_OK;
    if (st == EQS_OK) st = eqs_file_check(ctx, xml, "run experiment", EQS_NOLOC, EQS_ERR_IO);
    if (st == EQS_OK) st = eqs_file_check(ctx, tpath, "trained netlist", EQS_NOLOC, EQS_ERR_IO);
    if (st == EQS_OK) st = eqs_experiment_read(ctx, xml, &h->exp);
    if (st == EQS_OK) st = eqs_experiment_network(ctx, h->exp, &h->nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, h->nl, &h->c);
    if (st == EQS_OK) st = eqs_netlist_read(ctx, tpath, &tnl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, tnl, &tc);
    if (st == EQS_OK) st = copy_trained(ctx, h->c, tc, tpath);
    if (st == EQS_OK) eqs_circuit_eval_settings(tc, &h->ev);
    if (st == EQS_OK && h->exp->device_model)
        st = eqs_device_law_read(ctx, h->exp->device_model, &h->exp_law);
    eqs_circuit_free(&tc);
    eqs_netlist_free(&tnl);
    eqs_free(ctx, xml);
    eqs_free(ctx, tpath);
    return st;
}

static eqs_status hnet_open(eqs_ctx *ctx, const char *src, hnet *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = ctx;
    h->src = src;
    eqs_status st;
    if (is_dir(src)) {
        h->is_run = 1;
        st = open_run(h, src);
    } else {
        st = eqs_netlist_read(ctx, src, &h->nl);
        if (st == EQS_OK) st = eqs_circuit_create(ctx, h->nl, &h->c);
        if (st == EQS_OK) eqs_circuit_eval_settings(h->c, &h->ev);
    }
    if (st == EQS_OK && h->nl->n_crossbars == 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                       "%s: the network has no .crossbar (conductance maps are per "
                       "crossbar; docs/netlist.md \"Crossbars\")", src);
    if (st == EQS_OK) {
        const eqs_netlist *nl = h->nl;
        h->cel = eqs_malloc(ctx, (size_t)(nl->n_elems > 0 ? nl->n_elems : 1) * sizeof *h->cel);
        h->xlaw = eqs_calloc(ctx, (size_t)nl->n_crossbars, sizeof *h->xlaw);
        if (!h->cel || !h->xlaw) st = EQS_ERR_NOMEM;
        for (int i = 0; st == EQS_OK && i < nl->n_elems; ++i) h->cel[i] = -1;
        for (int j = 0; st == EQS_OK && j < h->c->n_elems; ++j) {
            int o = h->c->elems[j].origin;
            if (o >= 0 && o < nl->n_elems && h->cel[o] < 0) h->cel[o] = j;
        }
        for (int x = 0; st == EQS_OK && x < nl->n_crossbars; ++x)
            if (nl->crossbars[x].device)
                st = eqs_device_law_read(ctx, nl->crossbars[x].device, &h->xlaw[x]);
    }
    if (st != EQS_OK) hnet_close(h);
    return st;
}

/* The device law of crossbar x (NULL: none) and its model file. */
static const eqs_device_law *xbar_law(const hnet *h, int x, const char **file)
{
    if (h->xlaw[x]) {
        *file = h->nl->crossbars[x].device;
        return h->xlaw[x];
    }
    *file = h->exp_law ? h->exp->device_model : NULL;
    return h->exp_law;
}

/* Bounds of crossbar x's conductances: the device model's window, else the
 * experiment's <conductance> window, else a memristor model's; 0 if none.
 * *from: "device", "experiment", "memristor". */
static int xbar_bounds(const hnet *h, int x, double *lo, double *hi, const char **from)
{
    const char *file;
    if (h->mapped && h->phys.g_max_S > 0) { /* the target window of the map */
        *lo = h->phys.g_min_S;
        *hi = h->phys.g_max_S;
        *from = "window";
        return 1;
    }
    const eqs_device_law *law = xbar_law(h, x, &file);
    if (law) {
        *lo = law->g_min_S;
        *hi = law->g_max_S;
        *from = "device";
        return 1;
    }
    if (h->exp) {
        *lo = h->exp->g_min_S;
        *hi = h->exp->g_max_S;
        *from = "experiment";
        return 1;
    }
    const eqs_crossbar *xb = &h->nl->crossbars[x];
    if (xb->dmodel) {
        const eqs_device_model *m = &h->nl->dmodels[xb->dmodel - 1];
        *lo = 0;
        *hi = INFINITY;
        m->type->window(m->v, lo, hi);
        *from = "memristor";
        return 1;
    }
    return 0;
}

/* Conductance (S) of netlist element e: the circuit's value when compiled,
 * else 1/R of the element (as the deck writes it). */
static double elem_G(const hnet *h, int e)
{
    int j = h->cel[e];
    if (j >= 0) return eqs_celem_value(h->c, &h->c->elems[j]);
    return 1.0 / h->nl->elems[e].value;
}

static const char *node_nm(const eqs_netlist *nl, int n)
{
    return n > 0 && n < nl->n_nodes ? nl->node_names[n] : "0";
}

/* ------------------------------------------------------------------ */
/* Export                                                               */
/* ------------------------------------------------------------------ */

/* One file of the directory being written. */
typedef struct {
    char name[MAP_NAME_MAX + 32];
    const char *kind;  /* manifest kind */
    int xbar;          /* -1: none */
    const char *units; /* NULL: none */
    uint64_t bytes;
    char sha[EQS_SHA256_HEX];
} out_file;

typedef struct {
    hnet *h;
    const eqs_handoff_options *opt;
    char *tmp;        /* the temporary directory */
    out_file *files;
    int n_files;
    /* the sample driving top.cir */
    double *u;        /* input voltages (V) */
    int pair;         /* resolved encoding */
    const char *set;  /* "test", "train", "none" */
    long sample;
    int label;
    char *dataset;    /* its source (owned) */
    /* test vectors (--vectors N): the first n_vec samples of the set */
    long n_vec;
    double *vec_u;    /* n_vec x n_in input voltages (V) */
    int *vec_label;
} exporter;

static FILE *open_out(exporter *E, const char *name, const char *kind, int xbar,
                      const char *units)
{
    eqs_ctx *ctx = E->h->ctx;
    out_file *f = &E->files[E->n_files];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->kind = kind;
    f->xbar = xbar;
    f->units = units;
    char *p = path_join(ctx, E->tmp, name);
    if (!p) return NULL;
    FILE *fp = fopen(p, "w");
    if (!fp) EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", p, strerror(errno));
    else E->n_files++;
    eqs_free(ctx, p);
    return fp;
}

static eqs_status close_out(exporter *E, FILE *f)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return EQS_ERROR(E->h->ctx, EQS_ERR_IO, "cannot write '%s/%s'", E->tmp,
                         E->files[E->n_files - 1].name);
    return EQS_OK;
}

static void node_list(FILE *f, const eqs_netlist *nl, const int *nodes, int n)
{
    for (int i = 0; i < n; ++i) fprintf(f, " %s", node_nm(nl, nodes[i]));
}

/* The '# ' header shared by a crossbar's maps. */
static void map_header(exporter *E, FILE *f, int x, const char *what, const char *units,
                       const char *meaning)
{
    const hnet *h = E->h;
    const eqs_crossbar *xb = &h->nl->crossbars[x];
    fprintf(f, "# eqspice %s %s map (docs/export.md)\n", EQS_VERSION, what);
    fprintf(f, "# crossbar: %s\n# rows: %d\n# cols: %d\n", xb->name, xb->rows, xb->cols);
    fprintf(f, "# row_nodes:");
    node_list(f, h->nl, xb->row_node, xb->rows);
    fprintf(f, "\n# col_nodes:");
    node_list(f, h->nl, xb->col_node, xb->cols);
    fprintf(f, "\n# units: %s\n", units);
    const char *file;
    const eqs_device_law *law = xbar_law(h, x, &file);
    if (law) {
        fprintf(f, "# device_model: %s (law %s", file, law_names[law->kind]);
        if (law->levels >= 2) fprintf(f, ", %d levels", law->levels);
        fprintf(f, ")\n");
    } else {
        fprintf(f, "# device_model: none\n");
    }
    double lo, hi;
    const char *from;
    if (xbar_bounds(h, x, &lo, &hi, &from)) {
        fprintf(f, "# bounds: g_min_S=%.17g", lo);
        if (isfinite(hi)) fprintf(f, " g_max_S=%.17g", hi);
        fprintf(f, " (%s)\n", from);
    } else {
        fprintf(f, "# bounds: none\n");
    }
    if (xb->rwire_ohm > 0) fprintf(f, "# rwire_ohm: %.17g\n", xb->rwire_ohm);
    fprintf(f, "# %s\n", meaning);
}

/* Level grid of a law with levels: G_min + k step, k = 0..levels-1. */
static double level_step(const eqs_device_law *law)
{
    if (law->kind == EQS_DEVICE_CONSTANT && law->dw_min_up_S > 0) return law->dw_min_up_S;
    return (law->g_max_S - law->g_min_S) / (double)(law->levels - 1);
}

static long level_of(const eqs_device_law *law, double G)
{
    double k = round((G - law->g_min_S) / level_step(law));
    if (!(k >= 0)) k = 0;
    if (k > law->levels - 1) k = law->levels - 1;
    return (long)k;
}

/* Most pulses pulses_of counts (a cell a law approaches only
 * asymptotically, e.g. soft bounds at G_max, gets this many). */
#define PULSE_CAP 100000
/* Distance to the target below which the walk has arrived, relative to
 * the window (the asymptotic laws never reach it exactly). */
#define PULSE_TOL_REL 1e-9

/* Up pulses of the noise-free nominal device (the law's window, step
 * factor 1, no variation) from its G_min to G: the walk of
 * eqs_device_program, k whole pulses then the fraction of the next,
 * rounded to the nearest; an ideal law with levels: the level index. */
static long pulses_of(const eqs_device_law *law, double G)
{
    if (law->kind == EQS_DEVICE_IDEAL) return law->levels >= 2 ? level_of(law, G) : 0;
    const double a = law->g_min_S, b = law->g_max_S;
    const double T = G < a ? a : G > b ? b : G, tol = PULSE_TOL_REL * (b - a);
    eqs_device_inst dev = {a, b, 1.0, 0, 0.0};
    double Gk = a;
    for (long k = 0; k < PULSE_CAP; ++k) {
        const double rest = T - Gk;
        if (rest <= tol) return k;
        const double st = eqs_device_step(law, &dev, Gk, 1);
        if (!(st > 0)) return k; /* at the bound */
        if (st >= rest) return k + (rest / st >= 0.5);
        Gk = Gk + st > b ? b : Gk + st;
    }
    return PULSE_CAP;
}

/* 1 when crossbar x's rows are the input lines of a pair encoding in
 * order: row 2k at the + node of input source 2k (x_k driven at +gain x),
 * row 2k+1 at that of source 2k+1 (-gain x), both grounded sources. */
static int pair_rows(const exporter *E, int x)
{
    const hnet *h = E->h;
    const eqs_netlist *nl = h->nl;
    const eqs_crossbar *xb = &nl->crossbars[x];
    int pair = h->is_run ? E->pair : h->ev.encoding == EQS_ENCODE_PAIR;
    if (!pair || xb->rows != nl->n_inputs || xb->rows % 2) return 0;
    for (int k = 0; k < nl->n_inputs; ++k) {
        int e = eqs_netlist_elem_find(nl, nl->inputs[k]);
        if (e < 0 || nl->elems[e].node[1] > 0 || nl->elems[e].node[0] != xb->row_node[k])
            return 0;
    }
    return 1;
}

/* G+ (rows 2k) or G- (rows 2k+1) of a pair-encoded crossbar. */
static eqs_status write_pair_map(exporter *E, int x, int neg)
{
    const hnet *h = E->h;
    const eqs_crossbar *xb = &h->nl->crossbars[x];
    char name[MAP_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s.csv", xb->name, neg ? "gneg" : "gpos");
    FILE *f = open_out(E, name, neg ? "gneg" : "gpos", x, "S");
    if (!f) return eqs_ctx_status(h->ctx);
    map_header(E, f, x, neg ? "G- (differential pair)" : "G+ (differential pair)", "S",
               neg ? "row k is row 2k+1 of the map (the line at -gain x_k): feature k's "
                     "G-; the signed weight is G+ - G-"
                   : "row k is row 2k of the map (the line at +gain x_k): feature k's G+; "
                     "the signed weight is G+ - G-");
    for (int i = neg; i < xb->rows; i += 2) {
        for (int j = 0; j < xb->cols; ++j)
            fprintf(f, "%s%.17g", j ? "," : "", elem_G(h, xb->first_elem + i * xb->cols + j));
        fputc('\n', f);
    }
    return close_out(E, f);
}

static eqs_status write_maps(exporter *E, int x)
{
    const hnet *h = E->h;
    const eqs_crossbar *xb = &h->nl->crossbars[x];
    char name[MAP_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.csv", xb->name);
    FILE *f = open_out(E, name, "conductance", x, "S");
    if (!f) return eqs_ctx_status(h->ctx);
    map_header(E, f, x, "conductance", "S",
               "cell (i,j) is the conductance (S) of the device from row node i to column "
               "node j; one line per row; nan = dead (open) cell on import");
    for (int i = 0; i < xb->rows; ++i) {
        for (int j = 0; j < xb->cols; ++j)
            fprintf(f, "%s%.17g", j ? "," : "", elem_G(h, xb->first_elem + i * xb->cols + j));
        fputc('\n', f);
    }
    eqs_status st = close_out(E, f);
    if (st == EQS_OK && pair_rows(E, x)) {
        st = write_pair_map(E, x, 0);
        if (st == EQS_OK) st = write_pair_map(E, x, 1);
    }
    const char *file;
    const eqs_device_law *law = xbar_law(h, x, &file);
    /* mapped conductances (--window) left the device's window: its levels
     * and pulses do not apply to them */
    if (st != EQS_OK || !law || (h->mapped && h->phys.g_max_S > 0)) return st;
    if (law->levels >= 2) {
        snprintf(name, sizeof name, "%s.levels.csv", xb->name);
        if (!(f = open_out(E, name, "levels", x, "level"))) return eqs_ctx_status(h->ctx);
        char meaning[256];
        snprintf(meaning, sizeof meaning,
                 "cell (i,j) is the index k of the level the device is programmed to: "
                 "G = g_min_S + k * %.17g S, k = 0..%d (nearest level)",
                 level_step(law), law->levels - 1);
        map_header(E, f, x, "level", "level", meaning);
        for (int i = 0; i < xb->rows; ++i) {
            for (int j = 0; j < xb->cols; ++j)
                fprintf(f, "%s%ld", j ? "," : "",
                        level_of(law, elem_G(h, xb->first_elem + i * xb->cols + j)));
            fputc('\n', f);
        }
        if ((st = close_out(E, f)) != EQS_OK) return st;
    }
    if (law->levels >= 2 || law->kind != EQS_DEVICE_IDEAL) {
        snprintf(name, sizeof name, "%s.pulses.csv", xb->name);
        if (!(f = open_out(E, name, "pulses", x, "pulse"))) return eqs_ctx_status(h->ctx);
        map_header(E, f, x, "programming pulse", "pulse",
                   "cell (i,j) is the number of up (potentiation) pulses that bring the "
                   "noise-free nominal device from g_min_S (reset first) to its "
                   "conductance, by the device law");
        for (int i = 0; i < xb->rows; ++i) {
            for (int j = 0; j < xb->cols; ++j)
                fprintf(f, "%s%ld", j ? "," : "",
                        pulses_of(law, elem_G(h, xb->first_elem + i * xb->cols + j)));
            fputc('\n', f);
        }
        st = close_out(E, f);
    }
    return st;
}

/* ---- top.cir ---- */

typedef struct {
    FILE *f;
    int len;
} wrapped;

static void wr_word(wrapped *w, const char *s)
{
    int n = (int)strlen(s);
    if (w->len > 0 && w->len + 1 + n > TOP_LINE_MAX) {
        fputs("\n+", w->f);
        w->len = 1;
    }
    w->len += fprintf(w->f, "%s%s", w->len > 0 ? " " : "", s);
}

/* Element name as ngspice wants it (the deck's rule, solver/deck.c). */
static const char *ng_name(char *buf, size_t size, char letter, const char *name)
{
    char first = name[0];
    if (first >= 'A' && first <= 'Z') first = (char)(first - 'A' + 'a');
    if (first == letter) snprintf(buf, size, "%s", name);
    else snprintf(buf, size, "%c.%s", letter, name);
    return buf;
}

#define PORT_COL 1000000000 /* port[] code of column j: PORT_COL + j (row i: i) */

/* One element of crossbar x inside its .subckt: the device's own card
 * writer with the line nodes renamed to the ports row<i>, col<j>. */
static eqs_status sub_elem(exporter *E, FILE *f, const int *port, int e, char **line,
                           size_t *cap)
{
    const hnet *h = E->h;
    const eqs_netlist *nl = h->nl;
    const eqs_element *el = &nl->elems[e];
    const eqs_device *dev = eqs_device_get(el->kind);
    if (!dev || !dev->card)
        return EQS_ERROR(h->ctx, EQS_ERR_INTERNAL, "top.cir: element %s has no card", el->name);
    char nm[MAP_NAME_MAX + 64], nb[4][48];
    eqs_devcard w = {nl, el, h->cel[e] >= 0 ? &h->c->elems[h->cel[e]] : NULL, h->c,
                     ng_name(nm, sizeof nm, dev->letter, el->name), {0}, NULL};
    for (int k = 0; k < 4; ++k) {
        int n = el->node[k];
        int p = n > 0 && n < nl->n_nodes ? port[n] : -1;
        if (p >= 0) {
            snprintf(nb[k], sizeof nb[k], "%s%d", p >= PORT_COL ? "col" : "row",
                     p >= PORT_COL ? p - PORT_COL : p);
            w.node[k] = nb[k];
        } else {
            w.node[k] = node_nm(nl, n);
        }
    }
    int len = dev->card(&w, NULL, 0);
    if (len < 0) return EQS_ERROR(h->ctx, EQS_ERR_INTERNAL, "top.cir: cannot write %s", el->name);
    if (eqs_grow(h->ctx, (void **)line, cap, (size_t)len + 1, 1) != EQS_OK) return EQS_ERR_NOMEM;
    dev->card(&w, *line, *cap);
    fprintf(f, "%s\n", *line);
    return EQS_OK;
}

/* Stock ngspice (Debian 12's) refuses a .subckt with more than about 1000
 * ports ("ERROR, N_GLOBAL_NODES overflow": its formal-to-actual node table
 * has 1005 entries), so a crossbar with more lines is written as tiles of
 * at most SUBCKT_PORTS_MAX lines, each its own .subckt and instance, in
 * parallel on the same row and column nodes.  A wired crossbar (rwire > 0)
 * stays whole: its line segments join the tiles. */
#define SUBCKT_PORTS_MAX 1000

static void tile_shape(const eqs_crossbar *xb, int *tr, int *tc)
{
    *tr = xb->rows;
    *tc = xb->cols;
    if (xb->rows + xb->cols <= SUBCKT_PORTS_MAX || xb->n_wire > 0) return;
    *tc = xb->cols < SUBCKT_PORTS_MAX / 2 ? xb->cols : SUBCKT_PORTS_MAX / 2;
    *tr = SUBCKT_PORTS_MAX - *tc < xb->rows ? SUBCKT_PORTS_MAX - *tc : xb->rows;
}

/* The .subckt name of tile (ti, tj) of crossbar xb ("xbar_<name>" whole). */
static void tile_name(char *buf, size_t n, const eqs_crossbar *xb, int ti, int tj)
{
    int tr, tc;
    tile_shape(xb, &tr, &tc);
    if (tr == xb->rows && tc == xb->cols) snprintf(buf, n, "xbar_%s", xb->name);
    else snprintf(buf, n, "xbar_%s_%d_%d", xb->name, ti, tj);
}

static eqs_status write_subckt(exporter *E, FILE *f, int x, int *port, char **line, size_t *cap)
{
    const hnet *h = E->h;
    const eqs_crossbar *xb = &h->nl->crossbars[x];
    int tr, tc;
    tile_shape(xb, &tr, &tc);
    fprintf(f, "* crossbar %s: %d rows (input lines) x %d columns (output lines), map %s.csv\n",
            xb->name, xb->rows, xb->cols, xb->name);
    if (tr < xb->rows || tc < xb->cols)
        fprintf(f, "* written as tiles of at most %d x %d (stock ngspice takes at most %d "
                   "ports per .subckt): tile (ti,tj) holds rows %d ti.., columns %d tj..\n",
                tr, tc, SUBCKT_PORTS_MAX, tr, tc);
    eqs_status st = EQS_OK;
    char buf[MAP_NAME_MAX + 64];
    for (int i0 = 0, ti = 0; i0 < xb->rows && st == EQS_OK; i0 += tr, ++ti)
        for (int j0 = 0, tj = 0; j0 < xb->cols && st == EQS_OK; j0 += tc, ++tj) {
            const int i1 = i0 + tr < xb->rows ? i0 + tr : xb->rows;
            const int j1 = j0 + tc < xb->cols ? j0 + tc : xb->cols;
            for (int i = i1 - 1; i >= i0; --i)
                if (xb->row_node[i] > 0) port[xb->row_node[i]] = i - i0;
            for (int j = j1 - 1; j >= j0; --j)
                if (xb->col_node[j] > 0) port[xb->col_node[j]] = PORT_COL + j - j0;
            wrapped w = {f, 0};
            tile_name(buf, sizeof buf, xb, ti, tj);
            w.len = fprintf(f, ".subckt %s", buf);
            for (int i = i0; i < i1; ++i) {
                char pn[32];
                snprintf(pn, sizeof pn, "row%d", i - i0);
                wr_word(&w, pn);
            }
            for (int j = j0; j < j1; ++j) {
                char pn[32];
                snprintf(pn, sizeof pn, "col%d", j - j0);
                wr_word(&w, pn);
            }
            fputc('\n', f);
            for (int i = i0; i < i1 && st == EQS_OK; ++i)
                for (int j = j0; j < j1 && st == EQS_OK; ++j)
                    st = sub_elem(E, f, port, xb->first_elem + i * xb->cols + j, line, cap);
            for (int k = 0; k < xb->n_wire && st == EQS_OK; ++k) /* wired: one tile */
                st = sub_elem(E, f, port, xb->first_wire + k, line, cap);
            fprintf(f, ".ends %s\n", buf);
            for (int i = i0; i < i1; ++i)
                if (xb->row_node[i] > 0) port[xb->row_node[i]] = -1;
            for (int j = j0; j < j1; ++j)
                if (xb->col_node[j] > 0) port[xb->col_node[j]] = -1;
        }
    return st;
}

static void write_instance(FILE *f, const eqs_netlist *nl, const eqs_crossbar *xb)
{
    int tr, tc;
    tile_shape(xb, &tr, &tc);
    const int whole = tr == xb->rows && tc == xb->cols;
    char buf[MAP_NAME_MAX + 64];
    for (int i0 = 0, ti = 0; i0 < xb->rows; i0 += tr, ++ti)
        for (int j0 = 0, tj = 0; j0 < xb->cols; j0 += tc, ++tj) {
            const int i1 = i0 + tr < xb->rows ? i0 + tr : xb->rows;
            const int j1 = j0 + tc < xb->cols ? j0 + tc : xb->cols;
            wrapped w = {f, 0};
            if (whole) w.len = fprintf(f, "x%s", xb->name);
            else w.len = fprintf(f, "x%s_%d_%d", xb->name, ti, tj);
            for (int i = i0; i < i1; ++i) wr_word(&w, node_nm(nl, xb->row_node[i]));
            for (int j = j0; j < j1; ++j) wr_word(&w, node_nm(nl, xb->col_node[j]));
            tile_name(buf, sizeof buf, xb, ti, tj);
            wr_word(&w, buf);
            fputc('\n', f);
        }
}

static eqs_status write_top(exporter *E)
{
    hnet *h = E->h;
    eqs_ctx *ctx = h->ctx;
    const eqs_netlist *nl = h->nl;
    int n_in = eqs_circuit_input_count(h->c);
    double *saved = eqs_malloc(ctx, (size_t)(n_in > 0 ? n_in : 1) * sizeof *saved);
    char *skip = eqs_calloc(ctx, (size_t)(nl->n_elems > 0 ? nl->n_elems : 1), 1);
    int *port = eqs_malloc(ctx, (size_t)nl->n_nodes * sizeof *port);
    char **lines = NULL, *line = NULL;
    size_t cap = 0;
    eqs_status st = (!saved || !skip || !port) ? EQS_ERR_NOMEM : EQS_OK;
    for (int k = 0; st == EQS_OK && k < n_in; ++k) saved[k] = eqs_circuit_input_get(h->c, k);
    for (int k = 0; st == EQS_OK && k < n_in; ++k)
        st = eqs_circuit_input_set(h->c, k, E->u ? E->u[k] : 0.0);
    if (st == EQS_OK) st = eqs_export_deck(ctx, h->c, &lines);
    for (int k = 0; saved && k < n_in; ++k) {
        eqs_status s2 = eqs_circuit_input_set(h->c, k, saved[k]);
        if (st == EQS_OK) st = s2;
    }
    int n = 0;
    while (st == EQS_OK && lines[n]) n++;
    int first = n - 1 - nl->n_elems; /* lines: title, .options, .model..., elements, .end */
    if (st == EQS_OK && (first < 2 || strcmp(lines[n - 1], ".end")))
        st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "top.cir: unexpected deck layout");
    FILE *f = st == EQS_OK ? open_out(E, "top.cir", "spice", -1, NULL) : NULL;
    if (st == EQS_OK && !f) st = eqs_ctx_status(ctx);
    if (st == EQS_OK) {
        for (int i = 0; i < nl->n_nodes; ++i) port[i] = -1;
        for (int x = 0; x < nl->n_crossbars; ++x) {
            const eqs_crossbar *xb = &nl->crossbars[x];
            for (int k = 0; k < xb->rows * xb->cols; ++k) skip[xb->first_elem + k] = 1;
            for (int k = 0; k < xb->n_wire; ++k) skip[xb->first_wire + k] = 1;
        }
        fprintf(f, "%s\n", lines[0]);
        fprintf(f, "* top.cir: eqspice %s hand-off (docs/export.md) of %s\n", EQS_VERSION,
                h->src);
        fprintf(f, "* for stock SPICE: ngspice -b top.cir prints the operating point.\n");
        fprintf(f, "* one .subckt per crossbar (per tile of at most %d lines for a larger one;\n"
                   "* R = 1/G of its conductance map); the rest of the network (diodes,\n"
                   "* sources, other resistors) as eqspice solves it\n", SUBCKT_PORTS_MAX);
        if (E->u) {
            fprintf(f, "* inputs: %s sample %ld (label %d) of %s, %s encoding, gain %.17g V\n",
                    E->set, E->sample, E->label, E->dataset ? E->dataset : "the dataset",
                    E->pair ? "pair" : "single", h->ev.input_gain_V);
        } else {
            fprintf(f, "* inputs: every input source at 0 V (a netlist has no dataset)\n");
        }
        fprintf(f, "* outputs:");
        for (int k = 0; k < nl->n_outputs; ++k) fprintf(f, " %s", nl->outputs[k]);
        fprintf(f, "%s\n", nl->output_pairs ? " (differential pairs: class k = pos - neg)"
                                            : " (class k = output k; prediction = the highest)");
        for (int i = 1; i < first; ++i) fprintf(f, "%s\n", lines[i]);
        for (int x = 0; x < nl->n_crossbars && st == EQS_OK; ++x)
            st = write_subckt(E, f, x, port, &line, &cap);
        for (int x = 0; x < nl->n_crossbars && st == EQS_OK; ++x)
            write_instance(f, nl, &nl->crossbars[x]);
        for (int e = 0; e < nl->n_elems && st == EQS_OK; ++e)
            if (!skip[e]) fprintf(f, "%s\n", lines[first + e]);
        /* ngspice prints 7 digits by default (1e-6 V steps at 1 V); 15 keep
         * the operating point to far better than a microvolt */
        fprintf(f, ".op\n* ngspice -b prints the operating point with 15 digits:\n"
                   ".control\nset numdgt=15\n.endc\n.end\n");
        eqs_status s2 = close_out(E, f);
        if (st == EQS_OK) st = s2;
    }
    eqs_deck_free(ctx, &lines);
    eqs_free(ctx, line);
    eqs_free(ctx, port);
    eqs_free(ctx, skip);
    eqs_free(ctx, saved);
    return st;
}

/* ---- test vectors ---- */

/* vectors.csv (the inputs of the first n_vec samples) and expected.csv
 * (eqspice's operating point of the exported network for each: the output
 * voltages and the predicted class), so that a team can check top.cir, or
 * the hardware, against them. */
static eqs_status write_vectors(exporter *E)
{
    hnet *h = E->h;
    eqs_ctx *ctx = h->ctx;
    const eqs_netlist *nl = h->nl;
    const int n_in = eqs_circuit_input_count(h->c), n_out = nl->n_outputs;
    int *onode = eqs_malloc(ctx, (size_t)(n_out > 0 ? n_out : 1) * sizeof *onode);
    double *saved = eqs_malloc(ctx, (size_t)(n_in > 0 ? n_in : 1) * sizeof *saved);
    eqs_solver *s = NULL;
    eqs_status st = (!onode || !saved) ? EQS_ERR_NOMEM : EQS_OK;
    for (int k = 0; st == EQS_OK && k < n_out; ++k)
        if ((onode[k] = eqs_circuit_node_find(h->c, nl->outputs[k])) < 0)
            st = EQS_ERROR(ctx, EQS_ERR_INTERNAL, "vectors: no output node %s", nl->outputs[k]);
    for (int k = 0; st == EQS_OK && k < n_in; ++k) saved[k] = eqs_circuit_input_get(h->c, k);
    /* the physics of top.cir: the netlist's diode model */
    eqs_solver_options so;
    eqs_solver_options_defaults(&so);
    so.diodes = EQS_DIODES_SHOCKLEY;
    if (st == EQS_OK) st = eqs_solver_create(ctx, h->c, EQS_BACKEND_AUTO, &so, &s);
    FILE *fv = NULL, *fe = NULL;
    if (st == EQS_OK && !(fv = open_out(E, "vectors.csv", "vectors", -1, "V")))
        st = eqs_ctx_status(ctx);
    if (st == EQS_OK) {
        fprintf(fv, "# eqspice %s hand-off test vectors (docs/export.md): samples 0..%ld of the "
                    "run's %s set (%s)\n",
                EQS_VERSION, E->n_vec - 1, E->set, E->dataset ? E->dataset : "");
        fprintf(fv, "# units: V\n# encoding: %s, gain %.17g V\n", E->pair ? "pair" : "single",
                h->ev.input_gain_V);
        fprintf(fv, "sample,label");
        for (int k = 0; k < n_in; ++k) fprintf(fv, ",%s", eqs_circuit_input_name(h->c, k));
        fputc('\n', fv);
        for (long v = 0; v < E->n_vec; ++v) {
            fprintf(fv, "%ld,%d", v, E->vec_label[v]);
            for (int k = 0; k < n_in; ++k) fprintf(fv, ",%.17g", E->vec_u[(size_t)v * (size_t)n_in + (size_t)k]);
            fputc('\n', fv);
        }
        st = close_out(E, fv);
    }
    if (st == EQS_OK && !(fe = open_out(E, "expected.csv", "expected", -1, "V")))
        st = eqs_ctx_status(ctx);
    if (st == EQS_OK) {
        fprintf(fe, "# eqspice %s: the operating point of top.cir's network for each row of "
                    "vectors.csv (diodes: the netlist's model; solver %s)\n",
                EQS_VERSION, eqs_backend_name(eqs_solver_backend(s)));
        fprintf(fe, "# units: V\n# predicted: the class of the highest output%s\n",
                nl->output_pairs ? " (pairs: V(pos) - V(neg))" : "");
        fprintf(fe, "sample,label,predicted");
        for (int k = 0; k < n_out; ++k) fprintf(fe, ",%s", nl->outputs[k]);
        fputc('\n', fe);
        for (long v = 0; st == EQS_OK && v < E->n_vec; ++v) {
            for (int k = 0; st == EQS_OK && k < n_in; ++k)
                st = eqs_circuit_input_set(h->c, k, E->vec_u[(size_t)v * (size_t)n_in + (size_t)k]);
            if (st == EQS_OK) st = eqs_solver_solve(s, v ? EQS_SOLVE_WARM : EQS_SOLVE_COLD, NULL);
            if (st != EQS_OK) break;
            const double *V = eqs_solver_voltages(s);
            const int pairs = nl->output_pairs, nc = pairs ? n_out / 2 : n_out;
            int best = 0;
            double bv = -INFINITY;
            for (int c = 0; c < nc; ++c) {
                const double y = pairs ? V[onode[2 * c]] - V[onode[2 * c + 1]] : V[onode[c]];
                if (y > bv) bv = y, best = c;
            }
            fprintf(fe, "%ld,%d,%d", v, E->vec_label[v], best);
            for (int k = 0; k < n_out; ++k) fprintf(fe, ",%.17g", V[onode[k]]);
            fputc('\n', fe);
        }
        eqs_status s2 = close_out(E, fe);
        if (st == EQS_OK) st = s2;
    }
    for (int k = 0; saved && k < n_in; ++k) {
        eqs_status s2 = eqs_circuit_input_set(h->c, k, saved[k]);
        if (st == EQS_OK) st = s2;
    }
    eqs_solver_free(&s);
    eqs_free(ctx, onode);
    eqs_free(ctx, saved);
    return st;
}

/* ---- the sample ---- */

/* The input voltages of one sample of d features, as the trainer encodes
 * it (eqprop/train.c): single g x, pair (g x, -g x). */
static void encode(const double *x, int d, int pair, double g, double *u)
{
    for (int k = 0; k < d; ++k) {
        if (pair) {
            u[2 * k] = g * x[k];
            u[2 * k + 1] = -(g * x[k]);
        } else {
            u[k] = g * x[k];
        }
    }
}

static eqs_status load_sample(exporter *E, long sample)
{
    hnet *h = E->h;
    eqs_ctx *ctx = h->ctx;
    eqs_experiment *exp = h->exp;
    eqs_dataset *train = NULL, *test = NULL;
    /* only the test part is needed: the first training sample of a file
     * set will do (a synthetic task's test samples follow its training
     * samples in one stream, so there everything is generated) */
    size_t lim = exp->train.limit;
    if (exp->data != EQS_DATA_SYNTHETIC && exp->test.present) exp->train.limit = 1;
    eqs_status st = eqs_experiment_load_data(ctx, exp, &train, &test);
    exp->train.limit = lim;
    if (st != EQS_OK) return st;
    const eqs_dataset *ds = test ? test : train;
    E->set = test ? "test" : "train";
    int n_in = eqs_circuit_input_count(h->c);
    int d = eqs_dataset_n_features(ds);
    int pair = h->ev.encoding == EQS_ENCODE_PAIR     ? 1
               : h->ev.encoding == EQS_ENCODE_SINGLE ? 0
                                                     : (n_in == 2 * d && n_in != d);
    if ((size_t)sample >= eqs_dataset_size(ds))
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "--sample %ld: the run's %s set has %zu samples",
                       sample, E->set, eqs_dataset_size(ds));
    else if ((pair ? 2 * d : d) != n_in)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT,
                       "%s: %d features per sample, but the network has %d input sources",
                       eqs_dataset_source(ds), d, n_in);
    if (st == EQS_OK) {
        E->u = eqs_calloc(ctx, (size_t)(n_in > 0 ? n_in : 1), sizeof *E->u);
        E->dataset = eqs_strdup(ctx, eqs_dataset_source(ds));
        if (!E->u || !E->dataset) st = EQS_ERR_NOMEM;
    }
    const long nv = E->opt->vectors;
    if (st == EQS_OK && nv > 0) {
        if ((size_t)nv > eqs_dataset_size(ds))
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "--vectors %ld: the run's %s set has %zu samples",
                           nv, E->set, eqs_dataset_size(ds));
        else {
            E->vec_u = eqs_malloc(ctx, (size_t)nv * (size_t)(n_in > 0 ? n_in : 1) * sizeof *E->vec_u);
            E->vec_label = eqs_malloc(ctx, (size_t)nv * sizeof *E->vec_label);
            if (!E->vec_u || !E->vec_label) st = EQS_ERR_NOMEM;
        }
        for (long v = 0; st == EQS_OK && v < nv; ++v) {
            encode(eqs_dataset_features(ds, (size_t)v), d, pair, h->ev.input_gain_V,
                   E->vec_u + (size_t)v * (size_t)n_in);
            E->vec_label[v] = eqs_dataset_label(ds, (size_t)v);
        }
        if (st == EQS_OK) E->n_vec = nv;
    }
    if (st == EQS_OK) {
        encode(eqs_dataset_features(ds, (size_t)sample), d, pair, h->ev.input_gain_V, E->u);
        E->pair = pair;
        E->sample = sample;
        E->label = eqs_dataset_label(ds, (size_t)sample);
    }
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    return st;
}

/* ---- manifest.xml ---- */

static void xml_attr(FILE *f, const char *name, const char *v)
{
    fprintf(f, " %s=\"", name);
    for (const char *s = v; *s; ++s) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void xml_num(FILE *f, const char *name, double v)
{
    fprintf(f, " %s=\"%.17g\"", name, v);
}

static void xml_nodes(FILE *f, const char *name, const eqs_netlist *nl, const int *nodes, int n)
{
    fprintf(f, " %s=\"", name);
    for (int i = 0; i < n; ++i) fprintf(f, "%s%s", i ? " " : "", node_nm(nl, nodes[i]));
    fputc('"', f);
}

static eqs_status write_manifest(exporter *E, const char *path)
{
    const hnet *h = E->h;
    eqs_ctx *ctx = h->ctx;
    const eqs_netlist *nl = h->nl;
    FILE *f = fopen(path, "w");
    if (!f) return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<!-- eqspice hand-off manifest (docs/export.md; schema models/manifest.xsd) -->\n");
    fprintf(f, "<manifest format_version=\"1\"");
    xml_attr(f, "eqspice_version", EQS_VERSION);
    fprintf(f, ">\n  <source kind=\"%s\"", h->is_run ? "run" : "netlist");
    xml_attr(f, "path", h->src);
    if (h->exp) fprintf(f, " seed=\"%llu\"", (unsigned long long)h->exp->seed);
    fprintf(f, "/>\n  <input sources=\"");
    for (int k = 0; k < nl->n_inputs; ++k) fprintf(f, "%s%s", k ? " " : "", nl->inputs[k]);
    fputc('"', f);
    const char *enc = E->u ? (E->pair ? "pair" : "single")
                      : h->ev.encoding == EQS_ENCODE_PAIR     ? "pair"
                      : h->ev.encoding == EQS_ENCODE_SINGLE ? "single"
                                                              : "auto";
    fprintf(f, " encoding=\"%s\"", enc);
    xml_num(f, "gain_V", h->ev.input_gain_V);
    fprintf(f, " sample_set=\"%s\"", E->u ? E->set : "none");
    if (E->u) {
        fprintf(f, " sample=\"%ld\" label=\"%d\"", E->sample, E->label);
        xml_attr(f, "dataset", E->dataset);
    }
    fprintf(f, "/>\n  <output nodes=\"");
    for (int k = 0; k < nl->n_outputs; ++k) fprintf(f, "%s%s", k ? " " : "", nl->outputs[k]);
    fprintf(f, "\" pairs=\"%s\"", nl->output_pairs ? "true" : "false");
    xml_num(f, "on_V", h->ev.target_on_V);
    xml_num(f, "off_V", h->ev.target_off_V);
    fprintf(f, "/>\n");
    if (h->mapped) { /* docs/export.md "Physical units" */
        fprintf(f, "  <physical");
        xml_num(f, "voltage_factor", h->map.a);
        xml_num(f, "conductance_factor", h->map.b);
        if (h->phys.v_read_V > 0) xml_num(f, "v_read_V", h->phys.v_read_V);
        if (h->phys.g_max_S > 0) {
            xml_num(f, "g_min_S", h->phys.g_min_S);
            xml_num(f, "g_max_S", h->phys.g_max_S);
        }
        xml_num(f, "trained_g_min_S", h->map.g_lo_S);
        xml_num(f, "trained_g_max_S", h->map.g_hi_S);
        fprintf(f, " raised=\"%ld\" clipped=\"%ld\"/>\n", h->map.n_raised, h->map.n_clipped);
    }
    /* trained conductances outside every crossbar */
    int other = 0;
    for (int k = 0; k < h->c->n_params; ++k) {
        int o = h->c->elems[h->c->params[k]].origin, in = 0;
        for (int x = 0; x < nl->n_crossbars && !in; ++x) {
            const eqs_crossbar *xb = &nl->crossbars[x];
            in = o >= xb->first_elem && o < xb->first_elem + xb->rows * xb->cols;
        }
        other += !in;
    }
    fprintf(f, "  <layers other_trained=\"%d\">\n", other);
    for (int x = 0; x < nl->n_crossbars; ++x) {
        const eqs_crossbar *xb = &nl->crossbars[x];
        fprintf(f, "    <crossbar");
        xml_attr(f, "name", xb->name);
        fprintf(f, " order=\"%d\" rows=\"%d\" cols=\"%d\" units=\"S\"", x, xb->rows, xb->cols);
        xml_num(f, "rwire_ohm", xb->rwire_ohm);
        fprintf(f, " subckt=\""); /* the tiles' names, row-major, when tiled */
        {
            int tr, tc;
            tile_shape(xb, &tr, &tc);
            char tn[MAP_NAME_MAX + 64];
            for (int i0 = 0, ti = 0; i0 < xb->rows; i0 += tr, ++ti)
                for (int j0 = 0, tj = 0; j0 < xb->cols; j0 += tc, ++tj) {
                    tile_name(tn, sizeof tn, xb, ti, tj);
                    fprintf(f, "%s%s", i0 || j0 ? " " : "", tn);
                }
        }
        fprintf(f, "\">\n      <rows");
        xml_nodes(f, "nodes", nl, xb->row_node, xb->rows);
        fprintf(f, "/>\n      <cols");
        xml_nodes(f, "nodes", nl, xb->col_node, xb->cols);
        fprintf(f, "/>\n");
        const char *file;
        const eqs_device_law *law = xbar_law(h, x, &file);
        if (law) {
            fprintf(f, "      <device");
            xml_attr(f, "model", file);
            fprintf(f, " law=\"%s\"", law_names[law->kind]);
            if (law->levels >= 2) {
                fprintf(f, " levels=\"%d\"", law->levels);
                xml_num(f, "level_step_S", level_step(law));
            }
            fprintf(f, "/>\n");
        }
        double lo, hi;
        const char *from;
        if (xbar_bounds(h, x, &lo, &hi, &from)) {
            fprintf(f, "      <bounds");
            xml_num(f, "g_min_S", lo);
            if (isfinite(hi)) xml_num(f, "g_max_S", hi);
            fprintf(f, " from=\"%s\"/>\n", from);
        }
        fprintf(f, "    </crossbar>\n");
    }
    fprintf(f, "  </layers>\n  <files>\n");
    for (int k = 0; k < E->n_files; ++k) {
        const out_file *o = &E->files[k];
        fprintf(f, "    <file");
        xml_attr(f, "name", o->name);
        fprintf(f, " kind=\"%s\"", o->kind);
        if (o->xbar >= 0) xml_attr(f, "crossbar", nl->crossbars[o->xbar].name);
        if (o->units) fprintf(f, " units=\"%s\"", o->units);
        fprintf(f, " bytes=\"%llu\" sha256=\"%s\"/>\n", (unsigned long long)o->bytes, o->sha);
    }
    fprintf(f, "  </files>\n</manifest>\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s'", path);
    return EQS_OK;
}

/* Remove the temporary directory and what was written into it. */
static void remove_tmp(exporter *E)
{
    eqs_ctx *ctx = E->h->ctx;
    DIR *d = opendir(E->tmp);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char *p = path_join(ctx, E->tmp, de->d_name);
            if (p) unlink(p);
            eqs_free(ctx, p);
        }
        closedir(d);
    }
    rmdir(E->tmp);
}

eqs_status eqs_handoff_export(eqs_ctx *ctx, const char *src, const char *dir,
                              const eqs_handoff_options *opt)
{
    eqs_handoff_options dflt;
    if (!opt) {
        eqs_handoff_options_defaults(&dflt);
        opt = &dflt;
    }
    unsigned what = opt->what ? opt->what : EQS_HANDOFF_ALL;
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return EQS_ERROR(ctx, EQS_ERR_IO, "'%s' exists: export writes a new directory", dir);
    hnet h;
    eqs_status st = hnet_open(ctx, src, &h);
    if (st != EQS_OK) return st;
    if (opt->phys.v_read_V > 0 || opt->phys.g_max_S > 0) {
        h.mapped = 1;
        h.phys = opt->phys;
        st = eqs_physical_map_apply(ctx, h.c, &h.ev, &opt->phys, &h.map);
    }
    exporter E = {&h, opt, NULL, NULL, 0, NULL, 0, "none", -1, -1, NULL, 0, NULL, NULL};
    const eqs_netlist *nl = h.nl;
    if (!h.is_run && opt->vectors > 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "--vectors: %s is a netlist, without a dataset", src);
    if (st == EQS_OK && !h.is_run && opt->sample >= 0)
        st = EQS_ERROR(ctx, EQS_ERR_INPUT, "--sample: %s is a netlist, without a dataset (its "
                                           "input sources are written at 0 V)", src);
    for (int x = 0; st == EQS_OK && x < nl->n_crossbars; ++x)
        if (strlen(nl->crossbars[x].name) > MAP_NAME_MAX)
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "crossbar name too long");
    if (st == EQS_OK && h.is_run) st = load_sample(&E, opt->sample >= 0 ? opt->sample : 0);
    if (st == EQS_OK) {
        E.files = eqs_calloc(ctx, (size_t)(5 * nl->n_crossbars + 4), sizeof *E.files);
        size_t n = strlen(dir) + 32;
        E.tmp = eqs_malloc(ctx, n);
        if (!E.files || !E.tmp) st = EQS_ERR_NOMEM;
        else snprintf(E.tmp, n, "%s%s%ld", dir, EQS_ATOMIC_TEMP_INFIX, (long)getpid());
    }
    int made = 0;
    if (st == EQS_OK) {
        if (mkdir(E.tmp, 0777) != 0)
            st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot create '%s': %s", E.tmp, strerror(errno));
        else made = 1;
    }
    /* manifest alone: the files of a full export, described, then removed */
    const unsigned files = (what & (EQS_HANDOFF_CSV | EQS_HANDOFF_SPICE))
                               ? what
                               : (EQS_HANDOFF_CSV | EQS_HANDOFF_SPICE);
    for (int x = 0; st == EQS_OK && (files & EQS_HANDOFF_CSV) && x < nl->n_crossbars; ++x)
        st = write_maps(&E, x);
    if (st == EQS_OK && (files & EQS_HANDOFF_SPICE)) st = write_top(&E);
    if (st == EQS_OK && E.n_vec > 0) st = write_vectors(&E);
    for (int k = 0; st == EQS_OK && k < E.n_files; ++k) {
        char *p = path_join(ctx, E.tmp, E.files[k].name);
        st = p ? eqs_sha256_file(ctx, p, E.files[k].sha, &E.files[k].bytes) : EQS_ERR_NOMEM;
        if (st == EQS_OK && !(what & (EQS_HANDOFF_CSV | EQS_HANDOFF_SPICE)) && unlink(p) != 0)
            st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot remove '%s': %s", p, strerror(errno));
        eqs_free(ctx, p);
    }
    if (st == EQS_OK) {
        char *p = path_join(ctx, E.tmp, "manifest.xml");
        st = p ? write_manifest(&E, p) : EQS_ERR_NOMEM;
        eqs_manifest *m = NULL;
        if (st == EQS_OK) st = eqs_manifest_read(ctx, p, &m); /* what we wrote validates */
        eqs_manifest_free(&m);
        eqs_free(ctx, p);
    }
    if (st == EQS_OK && rename(E.tmp, dir) != 0)
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot rename '%s' to '%s': %s", E.tmp, dir,
                       strerror(errno));
    if (st != EQS_OK && made) remove_tmp(&E);
    eqs_free(ctx, E.tmp);
    eqs_free(ctx, E.files);
    eqs_free(ctx, E.u);
    eqs_free(ctx, E.dataset);
    eqs_free(ctx, E.vec_u);
    eqs_free(ctx, E.vec_label);
    hnet_close(&h);
    return st;
}

/* ------------------------------------------------------------------ */
/* Import                                                               */
/* ------------------------------------------------------------------ */

/* One map read: crossbar, values (S; NAN: dead) and each cell's place. */
typedef struct {
    const char *path;
    int xbar;
    double *g;
    int *line, *col;
} parsed_map;

typedef struct {
    const char *path;     /* the map */
    const char *units;    /* the manifest's units for it, NULL: no manifest */
    const char *crossbar; /* the manifest's crossbar, NULL: none */
    eqs_loc where;        /* its manifest entry */
} map_ref;

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; ++a, ++b) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return *a == *b;
}

/* "# key: value" at line l (text t of n chars): 1 when the key matches;
 * *v and *vcol get the value (trimmed) and its 1-based column. */
static int header_value(const char *t, size_t n, const char *key, char *v, size_t vsize,
                        int *vcol)
{
    size_t k = 1;
    while (k < n && (t[k] == ' ' || t[k] == '\t')) k++;
    size_t kl = strlen(key);
    if (k + kl >= n || strncmp(t + k, key, kl) || t[k + kl] != ':') return 0;
    k += kl + 1;
    while (k < n && (t[k] == ' ' || t[k] == '\t')) k++;
    size_t e = n;
    while (e > k && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--;
    size_t l = e - k < vsize - 1 ? e - k : vsize - 1;
    memcpy(v, t + k, l);
    v[l] = 0;
    *vcol = (int)k + 1;
    return 1;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Read and check one map (docs/export.md "Conductance maps"). */
static eqs_status parse_map(eqs_ctx *ctx, const eqs_netlist *nl, const map_ref *ref,
                            parsed_map *m)
{
    const char *path = ref->path;
    char *buf = NULL;
    size_t len = 0;
    m->path = path;
    m->xbar = -1;
    eqs_status st = eqs_file_read(ctx, path, "conductance map",
                                  ref->where.file ? ref->where : EQS_NOLOC, EQS_ERR_IO, &buf,
                                  &len, NULL);
    if (st != EQS_OK) return st;
    /* pass 1: the header lines */
    char name[MAP_NAME_MAX + 8] = "", v[MAP_NAME_MAX + 8];
    int ohms = -1, line = 0, vcol = 0, rows_h = -1, cols_h = -1;
    eqs_loc units_at = {path, 1, 1}, rows_at = {path, 1, 1}, cols_at = {path, 1, 1},
            name_at = {path, 1, 1};
    for (const char *q = buf; *q && st == EQS_OK;) {
        const char *e = strchr(q, '\n');
        size_t l = e ? (size_t)(e - q) : strlen(q);
        if (l > 0 && q[l - 1] == '\r') l--;
        line++;
        if (l > 0 && q[0] == '#') {
            if (header_value(q, l, "crossbar", v, sizeof v, &vcol)) {
                snprintf(name, sizeof name, "%s", v);
                name_at = (eqs_loc){path, line, vcol};
            } else if (header_value(q, l, "units", v, sizeof v, &vcol)) {
                units_at = (eqs_loc){path, line, vcol};
                if (ieq(v, "S") || ieq(v, "siemens")) ohms = 0;
                else if (ieq(v, "ohm") || ieq(v, "ohms") || !strcmp(v, "\xce\xa9")) ohms = 1;
                else
                    st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, units_at,
                                      "unit mismatch: units '%s' (a conductance map is in S "
                                      "or ohm)", v);
            } else if (header_value(q, l, "rows", v, sizeof v, &vcol)) {
                rows_h = atoi(v);
                rows_at = (eqs_loc){path, line, vcol};
            } else if (header_value(q, l, "cols", v, sizeof v, &vcol)) {
                cols_h = atoi(v);
                cols_at = (eqs_loc){path, line, vcol};
            }
        }
        if (!e) break;
        q = e + 1;
    }
    if (st == EQS_OK && ohms < 0)
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, 1, 1}),
                          "unit mismatch: no '# units: S' or '# units: ohm' header line");
    if (st == EQS_OK && ref->units && strcmp(ref->units, ohms ? "ohm" : "S"))
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, units_at,
                          "unit mismatch: the map is in %s, its manifest entry (%s:%d) says %s",
                          ohms ? "ohm" : "S", ref->where.file, ref->where.line, ref->units);
    if (st == EQS_OK && !name[0]) { /* the file name without .csv */
        const char *b = base_name(path);
        size_t bl = strlen(b);
        if (bl > 4 && !strcmp(b + bl - 4, ".csv")) bl -= 4;
        if (bl >= sizeof name) bl = sizeof name - 1;
        memcpy(name, b, bl);
        name[bl] = 0;
    }
    eqs_str_lower(name);
    if (st == EQS_OK && ref->crossbar && strcmp(ref->crossbar, name))
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, name_at,
                          "crossbar '%s', but its manifest entry (%s:%d) says '%s'", name,
                          ref->where.file, ref->where.line, ref->crossbar);
    for (int x = 0; st == EQS_OK && x < nl->n_crossbars; ++x)
        if (!strcmp(nl->crossbars[x].name, name)) m->xbar = x;
    if (st == EQS_OK && m->xbar < 0)
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, name_at, "the network has no crossbar '%s'", name);
    const eqs_crossbar *x = st == EQS_OK ? &nl->crossbars[m->xbar] : NULL;
    if (st == EQS_OK && rows_h >= 0 && rows_h != x->rows)
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, rows_at,
                          "wrong shape: %d rows, crossbar %s has %d", rows_h, x->name, x->rows);
    if (st == EQS_OK && cols_h >= 0 && cols_h != x->cols)
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, cols_at,
                          "wrong shape: %d columns, crossbar %s has %d", cols_h, x->name,
                          x->cols);
    size_t cells = x ? (size_t)x->rows * (size_t)x->cols : 1;
    if (st == EQS_OK) {
        m->g = eqs_malloc(ctx, cells * sizeof *m->g);
        m->line = eqs_malloc(ctx, cells * sizeof *m->line);
        m->col = eqs_malloc(ctx, cells * sizeof *m->col);
        if (!m->g || !m->line || !m->col) st = EQS_ERR_NOMEM;
    }
    /* pass 2: the rows */
    int row = 0;
    line = 0;
    for (const char *p = buf; st == EQS_OK && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        line++;
        if (l > 0 && p[l - 1] == '\r') l--;
        int blank = 1;
        for (size_t k = 0; k < l; ++k)
            if (p[k] != ' ' && p[k] != '\t') blank = 0;
        if (!blank && p[0] != '#') {
            if (row >= x->rows) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line, 1}),
                                  "wrong shape: more than %d rows (crossbar %s is %dx%d)",
                                  x->rows, x->name, x->rows, x->cols);
                break;
            }
            int col = 0;
            size_t k = 0;
            for (;;) {
                size_t s0 = k;
                while (k < l && p[k] != ',') k++;
                size_t a = s0, b = k;
                while (a < b && (p[a] == ' ' || p[a] == '\t')) a++;
                while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
                eqs_loc at = {path, line, (int)a + 1};
                if (col >= x->cols) {
                    st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                      "wrong shape: more than %d columns (crossbar %s is "
                                      "%dx%d)", x->cols, x->name, x->rows, x->cols);
                    break;
                }
                char cell[64];
                size_t cl = b - a < sizeof cell - 1 ? b - a : sizeof cell - 1;
                memcpy(cell, p + a, cl);
                cell[cl] = 0;
                double val;
                if (cl > 0 && (ieq(cell, "nan") || ieq(cell, "dead"))) {
                    val = NAN; /* dead cell: open */
                } else {
                    char *end = NULL;
                    val = cl > 0 && b - a < sizeof cell - 1 ? strtod(cell, &end) : 0;
                    if (cl == 0 || b - a >= sizeof cell - 1 || *end || !isfinite(val) ||
                        ieq(cell, "inf") || ieq(cell, "-nan")) {
                        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                          "non-numeric cell '%s' (row %d, column %d; a "
                                          "number, or nan for a dead cell)", cell, row, col);
                        break;
                    }
                    if (val < 0 || (val == 0 && signbit(val))) {
                        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                          "negative %s '%s' (row %d, column %d)",
                                          ohms ? "resistance" : "conductance", cell, row, col);
                        break;
                    }
                    if (ohms) {
                        if (val == 0) {
                            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                              "zero resistance (a short) at row %d, column "
                                              "%d", row, col);
                            break;
                        }
                        val = 1.0 / val;
                    } else if (val == 0) {
                        val = NAN; /* 0 S: open */
                    }
                }
                size_t idx = (size_t)row * (size_t)x->cols + (size_t)col;
                m->g[idx] = val;
                m->line[idx] = line;
                m->col[idx] = (int)a + 1;
                col++;
                if (k >= l) break;
                k++;
            }
            if (st == EQS_OK && col != x->cols)
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line, (int)l + 1}),
                                  "wrong shape: %d columns, crossbar %s has %d", col, x->name,
                                  x->cols);
            row++;
        }
        if (!e) break;
        p = e + 1;
    }
    if (st == EQS_OK && row != x->rows)
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){path, line + 1, 1}),
                          "wrong shape: %d rows, crossbar %s has %d", row, x->name, x->rows);
    eqs_free(ctx, buf);
    return st;
}

/* Every file a manifest lists: present and with its SHA-256. */
static eqs_status check_manifest(eqs_ctx *ctx, const char *dir, const eqs_manifest *man)
{
    eqs_status st = EQS_OK;
    for (int k = 0; k < man->n_files && st == EQS_OK; ++k) {
        const eqs_manifest_file *mf = &man->files[k];
        eqs_loc at = {man->path, mf->line, 1};
        char *p = path_join(ctx, dir, mf->name);
        if (!p) return EQS_ERR_NOMEM;
        struct stat sb;
        char sha[EQS_SHA256_HEX];
        if (stat(p, &sb) != 0)
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "missing file: '%s' is listed but absent",
                              p);
        else if ((st = eqs_sha256_file(ctx, p, sha, NULL)) == EQS_OK && strcmp(sha, mf->sha256))
            st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                              "checksum mismatch: '%s' has SHA-256 %s, the manifest lists %s "
                              "(changed after export; import the maps by name to skip the "
                              "check)", p, sha, mf->sha256);
        eqs_free(ctx, p);
    }
    return st;
}

static int companion(const char *name)
{
    if (!strcmp(name, "vectors.csv") || !strcmp(name, "expected.csv")) return 1;
    static const char *const sfx[] = {".levels.csv", ".pulses.csv", ".gpos.csv", ".gneg.csv"};
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; ++k) {
        size_t m = strlen(sfx[k]);
        if (n > m && !strcmp(name + n - m, sfx[k])) return 1;
    }
    return 0;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The maps named by args (files or directories) into refs; manifests read
 * into mans (owned by the caller) and checked. */
typedef struct {
    eqs_ctx *ctx;
    map_ref *refs;
    char **own; /* paths allocated here */
    int n, cap, n_own;
    eqs_manifest **mans;
    int n_mans;
} map_list;

static eqs_status add_ref(map_list *L, const char *path, int own, const char *units,
                          const char *crossbar, eqs_loc where)
{
    size_t cap = (size_t)L->cap;
    if (eqs_grow(L->ctx, (void **)&L->refs, &cap, (size_t)L->n + 1, sizeof *L->refs) != EQS_OK) {
        if (own) eqs_free(L->ctx, (char *)path);
        return EQS_ERR_NOMEM;
    }
    L->cap = (int)cap;
    L->refs[L->n++] = (map_ref){path, units, crossbar, where};
    if (own) L->own[L->n_own++] = (char *)path;
    return EQS_OK;
}

static void list_free(map_list *L)
{
    for (int k = 0; k < L->n_own; ++k) eqs_free(L->ctx, L->own[k]);
    for (int k = 0; k < L->n_mans; ++k) eqs_manifest_free(&L->mans[k]);
    eqs_free(L->ctx, L->own);
    eqs_free(L->ctx, L->mans);
    eqs_free(L->ctx, L->refs);
}

static eqs_status list_dir(map_list *L, const char *dir)
{
    eqs_ctx *ctx = L->ctx;
    char *mpath = path_join(ctx, dir, "manifest.xml");
    if (!mpath) return EQS_ERR_NOMEM;
    struct stat sb;
    eqs_status st = EQS_OK;
    if (stat(mpath, &sb) == 0) {
        eqs_manifest *man = NULL;
        st = eqs_manifest_read(ctx, mpath, &man);
        eqs_free(ctx, mpath);
        if (st != EQS_OK) return st;
        L->mans[L->n_mans++] = man;
        if ((st = check_manifest(ctx, dir, man)) != EQS_OK) return st;
        for (int k = 0; k < man->n_files && st == EQS_OK; ++k) {
            const eqs_manifest_file *mf = &man->files[k];
            if (strcmp(mf->kind, "conductance")) continue;
            char *p = path_join(ctx, dir, mf->name);
            if (!p) return EQS_ERR_NOMEM;
            char **grown = eqs_realloc(ctx, L->own, (size_t)(L->n_own + 1) * sizeof *L->own);
            if (!grown) {
                eqs_free(ctx, p);
                return EQS_ERR_NOMEM;
            }
            L->own = grown;
            st = add_ref(L, p, 1, mf->units ? mf->units : "S", mf->crossbar,
                         (eqs_loc){man->path, mf->line, 1});
        }
        return st;
    }
    eqs_free(ctx, mpath);
    DIR *d = opendir(dir);
    if (!d) return EQS_ERROR(ctx, EQS_ERR_IO, "cannot read directory '%s': %s", dir,
                             strerror(errno));
    int first = L->n;
    struct dirent *de;
    while (st == EQS_OK && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".csv") || companion(de->d_name)) continue;
        char *p = path_join(ctx, dir, de->d_name);
        char **grown = p ? eqs_realloc(ctx, L->own, (size_t)(L->n_own + 1) * sizeof *L->own)
                         : NULL;
        if (!grown) {
            eqs_free(ctx, p);
            st = EQS_ERR_NOMEM;
            break;
        }
        L->own = grown;
        st = add_ref(L, p, 1, NULL, NULL, EQS_NOLOC);
    }
    closedir(d);
    if (st != EQS_OK) return st;
    if (L->n == first)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: no conductance map (*.csv) in the directory",
                         dir);
    /* a stable order: by path */
    char **paths = eqs_malloc(ctx, (size_t)(L->n - first) * sizeof *paths);
    if (!paths) return EQS_ERR_NOMEM;
    for (int k = first; k < L->n; ++k) paths[k - first] = (char *)L->refs[k].path;
    qsort(paths, (size_t)(L->n - first), sizeof *paths, by_str);
    for (int k = first; k < L->n; ++k) L->refs[k].path = paths[k - first];
    eqs_free(ctx, paths);
    return EQS_OK;
}

eqs_status eqs_handoff_import(eqs_ctx *ctx, const char *const *maps, int n, const char *into,
                              const char *out, const eqs_handoff_options *opt)
{
    eqs_handoff_options dflt;
    if (!opt) {
        eqs_handoff_options_defaults(&dflt);
        opt = &dflt;
    }
    if (n <= 0) return EQS_ERROR(ctx, EQS_ERR_INPUT, "no conductance map given");
    map_list L = {ctx, NULL, NULL, 0, 0, 0, NULL, 0};
    L.mans = eqs_calloc(ctx, (size_t)n, sizeof *L.mans);
    L.own = eqs_calloc(ctx, 1, sizeof *L.own);
    if (!L.mans || !L.own) {
        list_free(&L);
        return EQS_ERR_NOMEM;
    }
    eqs_status st = EQS_OK;
    for (int i = 0; i < n && st == EQS_OK; ++i) {
        if (is_dir(maps[i])) st = list_dir(&L, maps[i]);
        else st = add_ref(&L, maps[i], 0, NULL, NULL, EQS_NOLOC);
    }
    hnet h;
    int opened = 0;
    if (st == EQS_OK) {
        st = hnet_open(ctx, into, &h);
        opened = st == EQS_OK;
    }
    parsed_map *m = st == EQS_OK ? eqs_calloc(ctx, (size_t)L.n, sizeof *m) : NULL;
    if (st == EQS_OK && !m) st = EQS_ERR_NOMEM;
    for (int i = 0; i < L.n && st == EQS_OK; ++i) {
        st = parse_map(ctx, h.nl, &L.refs[i], &m[i]);
        for (int k = 0; k < i && st == EQS_OK; ++k)
            if (m[k].xbar == m[i].xbar)
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){m[i].path, 1, 1}),
                                  "crossbar %s again (first from %s)",
                                  h.nl->crossbars[m[i].xbar].name, m[k].path);
    }
    /* every map is good: set the values (fixed cells must keep theirs) */
    long dead = 0;
    for (int i = 0; i < L.n && st == EQS_OK; ++i) {
        const eqs_crossbar *x = &h.nl->crossbars[m[i].xbar];
        for (int k = 0; k < x->rows * x->cols && st == EQS_OK; ++k) {
            int e = x->first_elem + k, j = h.cel[e];
            int p = j >= 0 ? h.c->elems[j].param : -1;
            double g = m[i].g[k];
            if (isnan(g)) {
                g = opt->dead_S;
                dead++;
            }
            eqs_loc at = {m[i].path, m[i].line[k], m[i].col[k]};
            if (p >= 0) {
                st = eqs_circuit_param_set(h.c, p, g);
                if (st != EQS_OK) { /* the value, at its cell */
                    char msg[EQS_ERRMSG_MAX];
                    snprintf(msg, sizeof msg, "%s", eqs_ctx_error(ctx));
                    eqs_ctx_clear_error(ctx);
                    st = EQS_ERROR_AT(ctx, st, at, "%s", msg);
                }
            } else if (g != elem_G(&h, e)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "cell (%d,%d) of crossbar %s is not trainable: its %.17g S "
                                  "cannot change", k / x->cols, k % x->cols, x->name,
                                  elem_G(&h, e));
            }
        }
    }
    if (st == EQS_OK && dead > 0)
        eqs_log(ctx, EQS_LOG_WARN, "import: %ld dead cell%s written as %g S (open)", dead,
                dead == 1 ? "" : "s", opt->dead_S);
    /* the input sources at 0 V, as in a run's trained.cir */
    for (int k = 0; st == EQS_OK && k < eqs_circuit_input_count(h.c); ++k)
        st = eqs_circuit_input_set(h.c, k, 0.0);
    if (st == EQS_OK) st = eqs_export_netlist_eval(ctx, h.c, h.ev.set ? &h.ev : NULL, out);
    for (int i = 0; m && i < L.n; ++i) {
        eqs_free(ctx, m[i].g);
        eqs_free(ctx, m[i].line);
        eqs_free(ctx, m[i].col);
    }
    eqs_free(ctx, m);
    if (opened) hnet_close(&h);
    list_free(&L);
    return st;
}
