/*
 * experiment.c: experiment files (XML validated against the compiled-in
 * copy of models/experiment.xsd).  The only file that includes libxml2.
 *
 * Reading: the file is parsed with XML_PARSE_NONET and without
 * XML_PARSE_NOENT / XML_PARSE_DTDLOAD (libxml2 2.9.14: no external entity
 * or DTD is ever loaded, nothing touches the network), a DOCTYPE is
 * rejected outright, the tree is validated against the schema, and only
 * then are values copied into the plain eqs_experiment struct.  libxml2
 * reports errors through structured handlers installed for the duration
 * of the call (and removed afterwards): the first error becomes the
 * context's "file:line:col: error: message"; nothing is printed.
 *
 * Semantic checks the schema cannot express (g_max_S > g_min_S, readable
 * files, DRN sizes vs the synthetic task) use the element's line.
 */
#define _DEFAULT_SOURCE /* realpath */
#include "netlist.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "experiment_xsd.inc"

const char *eqs_experiment_schema(void) { return experiment_xsd; }

static const char *const algo_names[] = {"centered", "positive", "negative",
                                         "adjoint",  "aeqprop",  "ncep"};
static const char *const aeq_phase_names[] = {"centered", "optimistic", "pessimistic"};
static const char *const nudge_names[] = {"conductance", "current"};
static const char *const encoding_names[] = {"auto", "single", "pair"};

const char *eqs_algorithm_name(eqs_grad_method a)
{
    return (unsigned)a < 6 ? algo_names[a] : "unknown";
}

/* ------------------------------------------------------------------ */
/* Errors from libxml2                                                 */
/* ------------------------------------------------------------------ */
typedef struct {
    eqs_ctx *ctx;
    const char *path; /* the file name used in messages */
    eqs_status code;  /* status given to the next libxml2 error */
    int got;          /* an error was recorded */
} xml_errors;

static void on_xml_error(void *user, xmlErrorPtr e)
{
    xml_errors *st = user;
    if (!e || e->level < XML_ERR_ERROR || st->got) return;
    st->got = 1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "XML error");
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
    /* int2 is the column for the parser's errors; schema errors have none */
    int col = (e->domain == XML_FROM_PARSER && e->int2 > 0) ? e->int2 : 1;
    eqs_loc loc = {st->path, e->line > 0 ? e->line : 1, col};
    EQS_ERROR_AT(st->ctx, st->code, loc, "%s", msg);
}

/* libxml2's unstructured messages (a few schema-compiler paths) */
static void on_generic_error(void *user, const char *fmt, ...) {}

static void handlers_install(xml_errors *st)
{
    xmlSetStructuredErrorFunc(st, on_xml_error);
    xmlSetGenericErrorFunc(NULL, on_generic_error);
}

static void handlers_remove(void)
{
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Tree access                                                         */
/* ------------------------------------------------------------------ */
typedef struct {
    eqs_ctx *ctx;
    const char *path; /* file name for messages */
    eqs_experiment *exp;
} reader;

static int is_elem(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_elem(c, name)) return c;
    return NULL;
}

static int node_line(xmlNodePtr n)
{
    long l = n ? xmlGetLineNo(n) : 0;
    return l > 0 && l < INT_MAX ? (int)l : 1;
}

static eqs_loc node_loc(const reader *r, xmlNodePtr n)
{
    return (eqs_loc){r->path, node_line(n), 1};
}

/* Attribute value trimmed of XML white space, or NULL (caller xmlFree's). */
static char *attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = n ? xmlGetNoNsProp(n, (const xmlChar *)name) : NULL;
    if (!v) return NULL;
    char *s = (char *)v;
    size_t len = strlen(s), a = 0;
    while (a < len && strchr(" \t\r\n", s[a])) ++a;
    while (len > a && strchr(" \t\r\n", s[len - 1])) --len;
    memmove(s, s + a, len - a);
    s[len - a] = '\0';
    return s;
}

/* The schema has checked the lexical forms; these conversions guard
 * against the remaining surprises (overflow) with an error at the line. */
static eqs_status attr_double(reader *r, xmlNodePtr n, const char *name, double def,
                              double *out)
{
    char *v = attr(n, name);
    if (!v) {
        *out = def;
        return EQS_OK;
    }
    char *end;
    double x = strtod(v, &end);
    eqs_status st = EQS_OK;
    if (*end || !isfinite(x))
        st = EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, n),
                          "attribute '%s': '%s' is not a finite number", name, v);
    else
        *out = x;
    xmlFree(v);
    return st;
}

static eqs_status attr_u64(reader *r, xmlNodePtr n, const char *name, uint64_t def,
                           uint64_t *out)
{
    char *v = attr(n, name);
    if (!v) {
        *out = def;
        return EQS_OK;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    eqs_status st = EQS_OK;
    if (*end || errno || v[0] == '-')
        st = EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, n),
                          "attribute '%s': '%s' is not an unsigned 64-bit integer", name, v);
    else
        *out = (uint64_t)x;
    xmlFree(v);
    return st;
}

static eqs_status attr_int(reader *r, xmlNodePtr n, const char *name, int def, int *out)
{
    uint64_t v;
    char *s = attr(n, name);
    int neg = s && s[0] == '-';
    if (s) xmlFree(s);
    if (neg)
        return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, n),
                            "attribute '%s' must not be negative", name);
    eqs_status st = attr_u64(r, n, name, (uint64_t)(def < 0 ? 0 : def), &v);
    if (st) return st;
    if (v > INT_MAX)
        return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, n),
                            "attribute '%s': %llu is too large", name, (unsigned long long)v);
    *out = (int)v;
    return EQS_OK;
}

static int attr_bool(xmlNodePtr n, const char *name, int def)
{
    char *v = attr(n, name);
    if (!v) return def;
    int b = !strcmp(v, "true") || !strcmp(v, "1");
    xmlFree(v);
    return b;
}

/* Index of the attribute's value in names[] (schema-checked), or def. */
static int attr_enum(xmlNodePtr n, const char *name, const char *const *names, int count,
                     int def)
{
    char *v = attr(n, name);
    if (!v) return def;
    int k = def;
    for (int i = 0; i < count; ++i)
        if (!strcmp(v, names[i])) k = i;
    xmlFree(v);
    return k;
}

/* Copy of a string attribute (NULL when absent). */
static eqs_status attr_str(reader *r, xmlNodePtr n, const char *name, char **out)
{
    *out = NULL;
    char *v = attr(n, name);
    if (!v) return EQS_OK;
    *out = eqs_strdup(r->ctx, v);
    xmlFree(v);
    return *out ? EQS_OK : EQS_ERR_NOMEM;
}

/* A path attribute resolved against the experiment's directory. */
static eqs_status attr_path(reader *r, xmlNodePtr n, const char *name, char **out)
{
    *out = NULL;
    char *v = attr(n, name);
    if (!v) return EQS_OK;
    size_t need = strlen(r->exp->dir) + strlen(v) + 2;
    *out = eqs_malloc(r->ctx, need);
    if (*out) {
        if (v[0] == '/')
            snprintf(*out, need, "%s", v);
        else
            snprintf(*out, need, "%s/%s", r->exp->dir, v);
    }
    xmlFree(v);
    return *out ? EQS_OK : EQS_ERR_NOMEM;
}

/* The file named by a path attribute must be a readable regular file
 * (core/file.c: a FIFO or /dev/zero is refused here, at the attribute). */
static eqs_status check_readable(reader *r, xmlNodePtr n, const char *what, const char *p)
{
    return p ? eqs_file_check(r->ctx, p, what, node_loc(r, n), EQS_ERR_IO) : EQS_OK;
}

/* ------------------------------------------------------------------ */
/* Filling the struct                                                  */
/* ------------------------------------------------------------------ */
static eqs_status read_network(reader *r, xmlNodePtr net)
{
    eqs_experiment *e = r->exp;
    xmlNodePtr nl = child(net, "netlist"), drn = child(net, "drn");
    eqs_status st;
    if (nl) {
        e->network = EQS_NETWORK_NETLIST;
        if ((st = attr_path(r, nl, "path", &e->netlist))) return st;
        return check_readable(r, nl, "netlist", e->netlist);
    }
    e->network = EQS_NETWORK_DRN;
    char *layers = attr(drn, "layers");
    if (!layers) return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, drn), "no layers");
    int n = 0;
    for (char *p = layers; *p;) {
        while (*p && strchr(" \t\r\n", *p)) ++p;
        if (!*p) break;
        ++n;
        while (*p && !strchr(" \t\r\n", *p)) ++p;
    }
    int *sizes = eqs_calloc(r->ctx, (size_t)(n > 0 ? n : 1), sizeof *sizes);
    if (!sizes) {
        xmlFree(layers);
        return EQS_ERR_NOMEM;
    }
    char *p = layers;
    for (int k = 0; k < n; ++k) sizes[k] = (int)strtol(p, &p, 10);
    xmlFree(layers);
    e->drn.layers = sizes;
    e->drn.n_layers = n;
    if ((st = attr_u64(r, drn, "seed", e->seed, &e->drn.seed))) return st;
    if ((st = attr_double(r, drn, "g_init_min_S", 1e-6, &e->drn.g_min_S))) return st;
    if ((st = attr_double(r, drn, "g_init_max_S", 1e-4, &e->drn.g_max_S))) return st;
    char *gi = attr(drn, "g_init"); /* schema: uniform | fan_in */
    e->drn.g_fan_in = gi && !strcmp(gi, "fan_in");
    if (gi) xmlFree(gi);
    if ((st = attr_double(r, drn, "g_init_scale_S", 0.5, &e->drn.g_fan_in_S))) return st;
    e->drn.bias = attr_bool(drn, "bias", 0);
    if ((st = attr_double(r, drn, "bias_V", 0.0, &e->drn.bias_V))) return st;
    if ((st = attr_double(r, drn, "diode_is_A", 1e-14, &e->drn.diode_is_A))) return st;
    if ((st = attr_double(r, drn, "diode_n", 1.0, &e->drn.diode_n))) return st;
    char *outs = attr(drn, "outputs"); /* schema: single | pairs */
    e->drn.output_pairs = outs && !strcmp(outs, "pairs");
    if (outs) xmlFree(outs);
    if ((st = attr_double(r, drn, "amplifiers", 0.0, &e->drn.amplifier_gain))) return st;
    if ((st = attr_double(r, drn, "rails_V", 0.0, &e->drn.rails_V))) return st;
    if (!e->drn.g_fan_in && e->drn.g_max_S < e->drn.g_min_S)
        return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, drn),
                            "g_init_max_S (%g S) must not be below g_init_min_S (%g S)",
                            e->drn.g_max_S, e->drn.g_min_S);
    return EQS_OK;
}

static eqs_status read_part(reader *r, xmlNodePtr part, int idx, eqs_data_part *out)
{
    eqs_status st;
    int limit = 0;
    if (!part) return EQS_OK;
    out->present = 1;
    if ((st = attr_int(r, part, "limit", 0, &limit))) return st;
    out->limit = (size_t)limit;
    if (idx) {
        if ((st = attr_path(r, part, "images", &out->images))) return st;
        if ((st = attr_path(r, part, "labels", &out->labels))) return st;
        if ((st = check_readable(r, part, "dataset file", out->images))) return st;
        return check_readable(r, part, "dataset file", out->labels);
    }
    if ((st = attr_path(r, part, "path", &out->path))) return st;
    return check_readable(r, part, "dataset file", out->path);
}

static eqs_status read_dataset(reader *r, xmlNodePtr ds)
{
    eqs_experiment *e = r->exp;
    eqs_status st;
    if ((st = attr_int(r, ds, "classes", 0, &e->n_classes))) return st;
    xmlNodePtr k;
    if ((k = child(ds, "idx"))) {
        e->data = EQS_DATA_IDX;
        if ((st = read_part(r, child(k, "train"), 1, &e->train))) return st;
        return read_part(r, child(k, "test"), 1, &e->test);
    }
    if ((k = child(ds, "csv"))) {
        static const char *const hdr[] = {"no", "yes", "auto"};
        e->data = EQS_DATA_CSV;
        int h = attr_enum(k, "header", hdr, 3, 2);
        e->csv_header = h == 2 ? -1 : h;
        if ((st = attr_str(r, k, "label_column", &e->label_column))) return st;
        if ((st = read_part(r, child(k, "train"), 0, &e->train))) return st;
        return read_part(r, child(k, "test"), 0, &e->test);
    }
    k = child(ds, "synthetic");
    e->data = EQS_DATA_SYNTHETIC;
    static const char *const tasks[] = {"xor", "blobs"};
    int task = attr_enum(k, "task", tasks, 2, 0);
    e->synthetic.name = eqs_strdup(r->ctx, tasks[task]);
    if (!e->synthetic.name) return EQS_ERR_NOMEM;
    int ntrain = 0, ntest = 0;
    if ((st = attr_int(r, k, "train_size", 0, &ntrain))) return st;
    if ((st = attr_int(r, k, "test_size", 0, &ntest))) return st;
    e->synthetic_train = (size_t)ntrain;
    e->synthetic_test = (size_t)ntest;
    e->synthetic.n = e->synthetic_train + e->synthetic_test;
    if ((st = attr_int(r, k, "features", 0, &e->synthetic.n_features))) return st;
    if ((st = attr_u64(r, k, "seed", e->seed, &e->synthetic.seed))) return st;
    if ((st = attr_double(r, k, "noise", task == 0 ? 0.15 : 0.1, &e->synthetic.noise)))
        return st;
    /* make the task's defaults explicit */
    if (task == 0) {
        if ((e->synthetic.n_features != 0 && e->synthetic.n_features != 2) ||
            (e->n_classes != 0 && e->n_classes != 2))
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, k),
                                "the xor task has 2 features and 2 classes");
        if (!(e->synthetic.noise < 0.25))
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, k),
                                "the xor task needs noise < 0.25 (got %g)",
                                e->synthetic.noise);
        e->synthetic.n_features = 2;
        e->n_classes = 2;
    } else {
        if (e->synthetic.n_features == 0) e->synthetic.n_features = 4;
        if (e->n_classes == 0) e->n_classes = 3;
        if (e->n_classes < 2)
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, ds),
                                "the blobs task needs at least 2 classes");
    }
    e->synthetic.n_classes = e->n_classes;
    return EQS_OK;
}

static eqs_status read_learning(reader *r, xmlNodePtr ln)
{
    eqs_experiment *e = r->exp;
    eqs_status st;
    if ((st = attr_double(r, ln, "momentum", 0.0, &e->momentum))) return st;
    if ((st = attr_double(r, ln, "decay", 1.0, &e->lr_decay))) return st;
    static const char *const schedules[] = {"constant", "cosine"};
    e->lr_cosine = attr_enum(ln, "schedule", schedules, 2, 0);
    int n = 0;
    for (xmlNodePtr c = ln->children; c; c = c->next) n += is_elem(c, "rate");
    e->lr = eqs_calloc(r->ctx, (size_t)(n > 0 ? n : 1), sizeof *e->lr);
    if (!e->lr) return EQS_ERR_NOMEM;
    for (xmlNodePtr c = ln->children; c; c = c->next) {
        if (!is_elem(c, "rate")) continue;
        eqs_lr_group *g = &e->lr[e->n_lr++];
        g->line = node_line(c);
        if ((st = attr_str(r, c, "elements", &g->pattern))) return st;
        if ((st = attr_double(r, c, "value", 0.0, &g->rate))) return st;
    }
    return EQS_OK;
}

/* Every element of the validated tree into the struct. */
static eqs_status fill(reader *r, xmlNodePtr root)
{
    eqs_experiment *e = r->exp;
    eqs_status st;
    xmlNodePtr net = child(root, "network"), ds = child(root, "dataset"),
               in = child(root, "input"), tg = child(root, "targets"),
               al = child(root, "algorithm"), ln = child(root, "learning"),
               tr = child(root, "training"), gc = child(root, "conductance"),
               sv = child(root, "solver"), out = child(root, "output");
    e->line.network = net ? node_line(net) : 0;
    e->line.dataset = ds ? node_line(ds) : 0;
    e->line.input = in ? node_line(in) : 0;
    e->line.targets = tg ? node_line(tg) : 0;
    e->line.algorithm = al ? node_line(al) : 0;
    e->line.learning = ln ? node_line(ln) : 0;
    e->line.training = tr ? node_line(tr) : 0;
    e->line.conductance = gc ? node_line(gc) : 0;
    e->line.solver = sv ? node_line(sv) : 0;
    e->line.output = out ? node_line(out) : 0;

    if ((st = attr_str(r, root, "eqspice_version", &e->eqspice_version))) return st;
    /* training first: its seed is the default of the other seeds */
    if ((st = attr_int(r, tr, "epochs", 1, &e->epochs))) return st;
    if ((st = attr_int(r, tr, "batch", 1, &e->batch))) return st;
    if ((st = attr_u64(r, tr, "seed", 1, &e->seed))) return st;

    if ((st = attr_double(r, in, "gain_V", 1.0, &e->input_gain_V))) return st;
    e->encoding = (eqs_input_encoding)attr_enum(in, "encoding", encoding_names, 3, 0);
    if ((st = attr_double(r, tg, "on_V", 1.0, &e->target_on_V))) return st;
    if ((st = attr_double(r, tg, "off_V", 0.0, &e->target_off_V))) return st;
    e->algorithm = (eqs_grad_method)attr_enum(al, "method", algo_names, 6, 0);
    if ((st = attr_double(r, al, "beta", 1.0, &e->beta))) return st;
    e->nudge = (eqs_nudge_kind)attr_enum(al, "nudge", nudge_names, 2, 0);
    if ((st = attr_double(r, al, "epsilon", 0.0, &e->epsilon_S_per_V2))) return st;
    e->aeq_phases = (eqs_aeq_phases)attr_enum(al, "phases", aeq_phase_names, 3, 0);
    if ((st = attr_double(r, gc, "g_min_S", 0.0, &e->g_min_S))) return st;
    if ((st = attr_double(r, gc, "g_max_S", INFINITY, &e->g_max_S))) return st;
    static const char *const backends[] = {"newton", "ngspice", "layered", "auto"};
    e->backend = (eqs_backend_id)attr_enum(sv, "backend", backends, 4, EQS_BACKEND_AUTO);
    static const char *const diodes[] = {"shockley", "ideal"};
    e->diodes = (eqs_diode_kind)attr_enum(sv, "diodes", diodes, 2, 0);
    static const char *const precisions[] = {"double", "single"};
    e->single = attr_enum(sv, "precision", precisions, 2, 0);
    if ((st = attr_int(r, sv, "threads", 2, &e->threads))) return st;
    if ((st = attr_int(r, sv, "split_min", 0, &e->split_min))) return st;
    if ((st = attr_double(r, sv, "tol_V", 0.0, &e->bcd_tol_V))) return st;
    if ((st = attr_path(r, out, "dir", &e->output_dir))) return st;
    if ((st = attr_int(r, out, "checkpoint_every", 0, &e->checkpoint_every))) return st;

    if ((st = read_network(r, net))) return st;
    e->drn.gain = e->input_gain_V;
    if ((st = read_dataset(r, ds))) return st;
    if ((st = read_learning(r, ln))) return st;

    /* what the schema cannot say */
    if (e->g_max_S <= e->g_min_S)
        return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, gc),
                            "g_max_S (%g S) must be greater than g_min_S (%g S)", e->g_max_S,
                            e->g_min_S);
    if (e->target_on_V == e->target_off_V)
        return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, tg),
                            "on_V and off_V are equal (%g V): the targets carry no class",
                            e->target_on_V);
    if (e->network == EQS_NETWORK_DRN) {
        int n_in = e->drn.layers[0], n_out = e->drn.layers[e->drn.n_layers - 1];
        if (e->encoding == EQS_ENCODE_SINGLE)
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, in),
                                "a generated DRN drives a pair of sources per feature: "
                                "encoding must be \"pair\" or \"auto\"");
        if (e->n_classes > 0 && e->n_classes != n_out)
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, ds),
                                "the dataset has %d classes but the DRN has %d outputs",
                                e->n_classes, n_out);
        if (e->data == EQS_DATA_SYNTHETIC && e->synthetic.n_features != n_in)
            return EQS_ERROR_AT(r->ctx, EQS_ERR_INPUT, node_loc(r, ds),
                                "the synthetic task has %d features but the DRN has %d inputs",
                                e->synthetic.n_features, n_in);
    }
    return EQS_OK;
}

/* Where "<!DOCTYPE" is in the file open as fd (libxml2 keeps no line for
 * DTD nodes); the prolog before it is short, so the first 64 KiB suffice. */
static eqs_loc doctype_loc(const char *path, int fd)
{
    eqs_loc loc = {path, 1, 1};
    static const char key[] = "<!DOCTYPE";
    char buf[1 << 16];
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    size_t n = got > 0 ? (size_t)got : 0;
    buf[n] = '\0';
    int line = 1, col = 1;
    for (size_t i = 0; i + sizeof key - 1 <= n; ++i) {
        if (!memcmp(buf + i, key, sizeof key - 1)) {
            loc.line = line;
            loc.col = col;
            break;
        }
        if (buf[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return loc;
}

void eqs_experiment_free(eqs_experiment **pe)
{
    if (!pe || !*pe) return;
    eqs_experiment *e = *pe;
    eqs_ctx *ctx = e->ctx;
    eqs_free(ctx, e->source);
    eqs_free(ctx, e->dir);
    eqs_free(ctx, e->eqspice_version);
    eqs_free(ctx, e->netlist);
    eqs_free(ctx, (void *)e->drn.layers);
    eqs_data_part *parts[2] = {&e->train, &e->test};
    for (int k = 0; k < 2; ++k) {
        eqs_free(ctx, parts[k]->images);
        eqs_free(ctx, parts[k]->labels);
        eqs_free(ctx, parts[k]->path);
    }
    eqs_free(ctx, e->label_column);
    eqs_free(ctx, (void *)e->synthetic.name);
    for (int k = 0; k < e->n_lr; ++k) eqs_free(ctx, e->lr[k].pattern);
    eqs_free(ctx, e->lr);
    eqs_free(ctx, e->output_dir);
    eqs_free(ctx, e);
    *pe = NULL;
}

/* A fresh experiment holding the documented defaults. */
static eqs_experiment *experiment_new(eqs_ctx *ctx)
{
    eqs_experiment *e = eqs_calloc(ctx, 1, sizeof *e);
    if (!e) return NULL;
    e->ctx = ctx;
    eqs_drn_spec_defaults(&e->drn);
    eqs_synthetic_spec_defaults(&e->synthetic);
    e->synthetic.name = NULL;
    e->csv_header = -1;
    e->input_gain_V = 1.0;
    e->target_on_V = 1.0;
    e->beta = 1.0;
    e->lr_decay = 1.0;
    e->threads = 2;
    e->epochs = 1;
    e->batch = 1;
    e->seed = 1;
    e->g_max_S = INFINITY;
    return e;
}

eqs_status eqs_experiment_read(eqs_ctx *ctx, const char *path, eqs_experiment **out)
{
    *out = NULL;
    /* a regular file only (core/file.c); libxml2 reads this descriptor */
    int fd = eqs_file_open_fd(ctx, path, "experiment file", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (fd < 0) return EQS_ERR_IO;

    eqs_status st = EQS_OK;
    xml_errors errs = {ctx, path, EQS_ERR_PARSE, 0};
    xmlParserCtxtPtr pc = NULL;
    xmlDocPtr doc = NULL;
    xmlSchemaParserCtxtPtr spc = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vc = NULL;
    eqs_experiment *e = NULL;
    char *real = NULL;

    handlers_install(&errs);
    pc = xmlNewParserCtxt();
    if (!pc) {
        st = EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory creating an XML parser");
        goto done;
    }
    /* NONET: no network; no NOENT/DTDLOAD/DTDATTR: no entity expansion,
     * no DTD loading; BIG_LINES: line numbers beyond 65535 */
    doc = xmlCtxtReadFd(pc, fd, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    if (!doc || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_PARSE, "%s: cannot parse the XML", path);
        goto done;
    }
    if (doc->intSubset || doc->extSubset) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, doctype_loc(path, fd),
                          "DOCTYPE declarations are not allowed in experiment files");
        goto done;
    }

    errs.code = EQS_ERR_INTERNAL; /* an error in our own schema */
    spc = xmlSchemaNewMemParserCtxt(experiment_xsd, (int)(sizeof experiment_xsd - 1));
    if (spc) xmlSchemaSetParserStructuredErrors(spc, on_xml_error, &errs);
    schema = spc ? xmlSchemaParse(spc) : NULL;
    vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    if (!vc) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_INTERNAL, "cannot compile the experiment schema");
        goto done;
    }
    errs.code = EQS_ERR_INPUT;
    xmlSchemaSetValidStructuredErrors(vc, on_xml_error, &errs);
    int v = xmlSchemaValidateDoc(vc, doc);
    if (v != 0 || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR_AT(ctx, v > 0 ? EQS_ERR_INPUT : EQS_ERR_INTERNAL,
                                     ((eqs_loc){path, 1, 1}),
                                     "the file does not follow the experiment schema");
        goto done;
    }

    e = experiment_new(ctx);
    if (!e) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    e->source = eqs_strdup(ctx, path);
    real = realpath(path, NULL);
    if (!real) {
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot resolve the path of '%s': %s", path,
                       strerror(errno));
        goto done;
    }
    char *slash = strrchr(real, '/');
    if (slash == real) slash[1] = '\0';
    else if (slash) *slash = '\0';
    e->dir = eqs_strdup(ctx, real);
    if (!e->source || !e->dir) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    reader r = {ctx, path, e};
    st = fill(&r, xmlDocGetRootElement(doc));

done:
    close(fd);
    free(real);
    if (vc) xmlSchemaFreeValidCtxt(vc);
    if (schema) xmlSchemaFree(schema);
    if (spc) xmlSchemaFreeParserCtxt(spc);
    if (doc) xmlFreeDoc(doc);
    if (pc) xmlFreeParserCtxt(pc);
    handlers_remove();
    if (st) {
        eqs_experiment_free(&e);
        return st;
    }
    *out = e;
    return EQS_OK;
}

double eqs_experiment_rate(const eqs_experiment *e, const char *element)
{
    for (int k = 0; k < e->n_lr; ++k)
        if (eqs_glob_match(e->lr[k].pattern, element)) return e->lr[k].rate;
    return -1.0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */
/* An attribute name="value" with XML escaping. */
static void put_attr(FILE *f, const char *name, const char *v)
{
    fprintf(f, " %s=\"", name);
    for (const char *p = v; *p; ++p) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\n': fputs("&#10;", f); break;
        case '\t': fputs("&#9;", f); break;
        case '\r': fputs("&#13;", f); break;
        default: fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void put_num(FILE *f, const char *name, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.17g", v);
    put_attr(f, name, b);
}

static void put_u64(FILE *f, const char *name, unsigned long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", v);
    put_attr(f, name, b);
}

static void put_part(FILE *f, const char *tag, const eqs_data_part *p)
{
    if (!p->present) return;
    fprintf(f, "      <%s", tag);
    if (p->images) put_attr(f, "images", p->images);
    if (p->labels) put_attr(f, "labels", p->labels);
    if (p->path) put_attr(f, "path", p->path);
    put_u64(f, "limit", p->limit);
    fputs("/>\n", f);
}

static void write_body(FILE *f, const eqs_experiment *e)
{
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<!-- Written by eqspice %s: every value explicit, paths absolute. -->\n",
            EQS_VERSION);
    fputs("<experiment", f);
    put_attr(f, "version", "1");
    put_attr(f, "eqspice_version", EQS_VERSION);
    fputs(">\n  <network>\n", f);
    if (e->network == EQS_NETWORK_NETLIST) {
        fputs("    <netlist", f);
        put_attr(f, "path", e->netlist ? e->netlist : "");
    } else {
        fputs("    <drn layers=\"", f);
        for (int k = 0; k < e->drn.n_layers; ++k) fprintf(f, "%s%d", k ? " " : "", e->drn.layers[k]);
        fputc('"', f);
        put_u64(f, "seed", e->drn.seed);
        put_num(f, "g_init_min_S", e->drn.g_min_S);
        put_num(f, "g_init_max_S", e->drn.g_max_S);
        if (e->drn.g_fan_in) {
            put_attr(f, "g_init", "fan_in");
            put_num(f, "g_init_scale_S", e->drn.g_fan_in_S);
        }
        put_attr(f, "bias", e->drn.bias ? "true" : "false");
        put_num(f, "bias_V", e->drn.bias_V);
        put_num(f, "diode_is_A", e->drn.diode_is_A);
        put_num(f, "diode_n", e->drn.diode_n);
        put_attr(f, "outputs", e->drn.output_pairs ? "pairs" : "single");
        if (e->drn.amplifier_gain > 0) put_num(f, "amplifiers", e->drn.amplifier_gain);
        if (e->drn.rails_V > 0) put_num(f, "rails_V", e->drn.rails_V);
    }
    fputs("/>\n  </network>\n  <dataset", f);
    put_u64(f, "classes", (unsigned long long)(e->n_classes > 0 ? e->n_classes : 0));
    fputs(">\n", f);
    if (e->data == EQS_DATA_IDX || e->data == EQS_DATA_CSV) {
        const char *tag = e->data == EQS_DATA_IDX ? "idx" : "csv";
        fprintf(f, "    <%s", tag);
        if (e->data == EQS_DATA_CSV) {
            if (e->label_column) put_attr(f, "label_column", e->label_column);
            put_attr(f, "header", e->csv_header < 0 ? "auto" : e->csv_header ? "yes" : "no");
        }
        fputs(">\n", f);
        put_part(f, "train", &e->train);
        put_part(f, "test", &e->test);
        fprintf(f, "    </%s>\n", tag);
    } else {
        fputs("    <synthetic", f);
        put_attr(f, "task", e->synthetic.name ? e->synthetic.name : "xor");
        put_u64(f, "train_size", e->synthetic_train);
        put_u64(f, "test_size", e->synthetic_test);
        put_u64(f, "features",
                (unsigned long long)(e->synthetic.n_features > 0 ? e->synthetic.n_features : 0));
        put_u64(f, "seed", e->synthetic.seed);
        if (e->synthetic.noise >= 0) put_num(f, "noise", e->synthetic.noise);
        fputs("/>\n", f);
    }
    fputs("  </dataset>\n  <input", f);
    put_num(f, "gain_V", e->input_gain_V);
    put_attr(f, "encoding", encoding_names[(unsigned)e->encoding < 3 ? e->encoding : 0]);
    fputs("/>\n  <targets", f);
    put_num(f, "on_V", e->target_on_V);
    put_num(f, "off_V", e->target_off_V);
    fputs("/>\n  <algorithm", f);
    put_attr(f, "method", eqs_algorithm_name(e->algorithm));
    put_num(f, "beta", e->beta);
    put_attr(f, "nudge", nudge_names[(unsigned)e->nudge < 2 ? e->nudge : 0]);
    if (e->algorithm == EQS_GRAD_AEQPROP) {
        if (e->epsilon_S_per_V2 > 0) put_num(f, "epsilon", e->epsilon_S_per_V2);
        put_attr(f, "phases", aeq_phase_names[(unsigned)e->aeq_phases < 3 ? e->aeq_phases : 0]);
    }
    fputs("/>\n  <learning", f);
    put_num(f, "momentum", e->momentum);
    put_num(f, "decay", e->lr_decay);
    put_attr(f, "schedule", e->lr_cosine ? "cosine" : "constant");
    fputs(">\n", f);
    for (int k = 0; k < e->n_lr; ++k) {
        fputs("    <rate", f);
        put_attr(f, "elements", e->lr[k].pattern ? e->lr[k].pattern : "*");
        put_num(f, "value", e->lr[k].rate);
        fputs("/>\n", f);
    }
    fputs("  </learning>\n  <training", f);
    put_u64(f, "epochs", (unsigned long long)e->epochs);
    put_u64(f, "batch", (unsigned long long)e->batch);
    put_u64(f, "seed", e->seed);
    fputs("/>\n  <conductance", f);
    put_num(f, "g_min_S", e->g_min_S);
    if (isfinite(e->g_max_S)) put_num(f, "g_max_S", e->g_max_S);
    fputs("/>\n  <solver", f);
    put_attr(f, "backend", eqs_backend_name(e->backend));
    put_attr(f, "diodes", eqs_diode_kind_name(e->diodes));
    put_attr(f, "precision", e->single ? "single" : "double");
    fprintf(f, " threads=\"%d\"", e->threads);
    if (e->split_min > 0) fprintf(f, " split_min=\"%d\"", e->split_min);
    if (e->bcd_tol_V > 0) put_num(f, "tol_V", e->bcd_tol_V);
    fputs("/>\n  <output", f);
    put_attr(f, "dir", e->output_dir ? e->output_dir : ".");
    put_u64(f, "checkpoint_every", (unsigned long long)e->checkpoint_every);
    fputs("/>\n</experiment>\n", f);
}

eqs_status eqs_experiment_write(eqs_ctx *ctx, const eqs_experiment *e, const char *path)
{
    eqs_atomic a; /* core/atomic.c: "<path>.tmp.<pid>", renamed when complete */
    eqs_status st = eqs_atomic_open(ctx, path, &a);
    if (st != EQS_OK) return st;
    write_body(a.f, e);
    return eqs_atomic_commit(&a);
}
