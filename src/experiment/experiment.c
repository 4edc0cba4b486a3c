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
#include "../core/core.h"

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

static const char *const aeq_phase_names[] = {"centered", "optimistic", "pessimistic"};
static const char *const nudge_names[] = {"conductance", "current"};
static const char *const encoding_names[] = {"auto", "single", "pair"};

/* ------------------------------------------------------------------ */
/* Errors from libxml2                                                 */
/* ------------------------------------------------------------------ */
typedef struct {
    eqs_ctx *ctx;
    const char *path; /* the file name used in messages */
    eqs_status code;  /* status given to the next libxml2 error */
    int got;          /* an error was recorded */
    const void *node; /* the node of that error, when libxml2 names one */
} xml_errors;

static void on_xml_error(void *user, xmlErrorPtr e)
{
    xml_errors *st = user;
    if (!e || e->level < XML_ERR_ERROR || st->got) return;
    st->got = 1;
    st->node = e->node;
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

/* 1 when the element gives the attribute. */
static int has_attr(xmlNodePtr n, const char *name)
{
    return n && xmlHasProp(n, (const xmlChar *)name) != NULL;
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
    if (!has_attr(drn, "seed")) e->implicit |= EQS_EXP_IMPLICIT_DRN_SEED;
    if ((st = attr_u64(r, drn, "seed", e->seed, &e->drn.seed))) return st;
    if ((st = attr_double(r, drn, "g_init_min_S", 1e-6, &e->drn.g_min_S))) return st;
    if ((st = attr_double(r, drn, "g_init_max_S", 1e-4, &e->drn.g_max_S))) return st;
    char *gi = attr(drn, "g_init"); /* schema: uniform | fan_in */
    e->drn.g_fan_in = gi && !strcmp(gi, "fan_in");
    if (gi) xmlFree(gi);
    if ((st = attr_double(r, drn, "g_init_scale_S", 0.5, &e->drn.g_fan_in_S))) return st;
    e->drn.bias = attr_bool(drn, "bias", 0);
    if ((st = attr_double(r, drn, "bias_V", 0.0, &e->drn.bias_V))) return st;
    e->drn.bias_mirrored = attr_bool(drn, "bias_mirrored", 0);
    if ((st = attr_double(r, drn, "diode_is_A", 1e-14, &e->drn.diode_is_A))) return st;
    if ((st = attr_double(r, drn, "diode_n", 1.0, &e->drn.diode_n))) return st;
    char *outs = attr(drn, "outputs"); /* schema: single | pairs */
    e->drn.output_pairs = outs && !strcmp(outs, "pairs");
    if (outs) xmlFree(outs);
    if ((st = attr_double(r, drn, "amplifiers", 0.0, &e->drn.amplifier_gain))) return st;
    if ((st = attr_double(r, drn, "rails_V", 0.0, &e->drn.rails_V))) return st;
    if ((st = attr_double(r, drn, "rwire_ohm", 0.0, &e->drn.rwire_ohm))) return st;
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
    if (!has_attr(ds, "classes")) e->implicit |= EQS_EXP_IMPLICIT_CLASSES;
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
    if (!has_attr(k, "features")) e->implicit |= EQS_EXP_IMPLICIT_SYNTH_FEATURES;
    if (!has_attr(k, "seed")) e->implicit |= EQS_EXP_IMPLICIT_SYNTH_SEED;
    if (!has_attr(k, "noise")) e->implicit |= EQS_EXP_IMPLICIT_SYNTH_NOISE;
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
    if ((st = attr_int(r, tr, "parts", 1, &e->parts))) return st;
    if ((st = attr_u64(r, tr, "seed", 1, &e->seed))) return st;

    if ((st = attr_double(r, in, "gain_V", 1.0, &e->input_gain_V))) return st;
    e->encoding = (eqs_input_encoding)attr_enum(in, "encoding", encoding_names, 3, 0);
    if ((st = attr_double(r, tg, "on_V", 1.0, &e->target_on_V))) return st;
    if ((st = attr_double(r, tg, "off_V", 0.0, &e->target_off_V))) return st;
    {   /* the schema allows only eqs_grad_method_name's names */
        char *m = attr(al, "method");
        int k = m ? eqs_grad_method_from_name(m) : EQS_GRAD_CENTERED;
        if (m) xmlFree(m);
        e->algorithm = k < 0 ? EQS_GRAD_CENTERED : (eqs_grad_method)k;
    }
    if ((st = attr_double(r, al, "beta", 1.0, &e->beta))) return st;
    e->nudge = (eqs_nudge_kind)attr_enum(al, "nudge", nudge_names, 2, 0);
    if ((st = attr_double(r, al, "epsilon", 0.0, &e->epsilon_S_per_V2))) return st;
    e->aeq_phases = (eqs_aeq_phases)attr_enum(al, "phases", aeq_phase_names, 3, 0);
    if ((st = attr_double(r, gc, "g_min_S", 0.0, &e->g_min_S))) return st;
    if ((st = attr_double(r, gc, "g_max_S", INFINITY, &e->g_max_S))) return st;
    if ((st = attr_path(r, gc, "device_model", &e->device_model))) return st;
    if (e->device_model && (st = check_readable(r, gc, "device_model", e->device_model)))
        return st;
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

/* Free what e owns (not e itself). */
static void experiment_clear(eqs_experiment *e)
{
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
    eqs_free(ctx, e->device_model);
}

void eqs_experiment_free(eqs_experiment **pe)
{
    if (!pe || !*pe) return;
    experiment_clear(*pe);
    eqs_free((*pe)->ctx, *pe);
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
    e->parts = 1;
    e->seed = 1;
    e->g_max_S = INFINITY;
    e->backend = EQS_BACKEND_AUTO;
    return e;
}

/* Validate doc against the compiled-in schema, then fill e from it (the
 * one path from a document to an experiment: files and set by path). */
static eqs_status validate_fill(eqs_ctx *ctx, xmlDocPtr doc, xml_errors *errs,
                                eqs_experiment *e)
{
    eqs_status st = EQS_OK;
    errs->code = EQS_ERR_INTERNAL; /* an error in our own schema */
    xmlSchemaParserCtxtPtr spc =
        xmlSchemaNewMemParserCtxt(experiment_xsd, (int)(sizeof experiment_xsd - 1));
    if (spc) xmlSchemaSetParserStructuredErrors(spc, on_xml_error, errs);
    xmlSchemaPtr schema = spc ? xmlSchemaParse(spc) : NULL;
    xmlSchemaValidCtxtPtr vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    if (!vc) {
        st = errs->got ? eqs_ctx_status(ctx)
                       : EQS_ERROR(ctx, EQS_ERR_INTERNAL, "cannot compile the experiment schema");
        goto done;
    }
    errs->code = EQS_ERR_INPUT;
    xmlSchemaSetValidStructuredErrors(vc, on_xml_error, errs);
    int v = xmlSchemaValidateDoc(vc, doc);
    if (v != 0 || errs->got) {
        st = errs->got ? eqs_ctx_status(ctx)
                       : EQS_ERROR_AT(ctx, v > 0 ? EQS_ERR_INPUT : EQS_ERR_INTERNAL,
                                      ((eqs_loc){errs->path, 1, 1}),
                                      "the file does not follow the experiment schema");
        goto done;
    }
    reader r = {ctx, errs->path, e};
    st = fill(&r, xmlDocGetRootElement(doc));
done:
    if (vc) xmlSchemaFreeValidCtxt(vc);
    if (schema) xmlSchemaFree(schema);
    if (spc) xmlSchemaFreeParserCtxt(spc);
    return st;
}

eqs_status eqs_experiment_read(eqs_ctx *ctx, const char *path, eqs_experiment **out)
{
    *out = NULL;
    /* a regular file only (core/file.c); libxml2 reads this descriptor */
    int fd = eqs_file_open_fd(ctx, path, "experiment file", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (fd < 0) return EQS_ERR_IO;

    eqs_status st = EQS_OK;
    xml_errors errs = {ctx, path, EQS_ERR_PARSE, 0, NULL};
    xmlParserCtxtPtr pc = NULL;
    xmlDocPtr doc = NULL;
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
    st = validate_fill(ctx, doc, &errs, e);

done:
    close(fd);
    free(real);
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

/* An eqs_experiment_defaults experiment before its network and dataset
 * are set: the writer leaves the element out (set by path adds it). */
static int network_unset(const eqs_experiment *e)
{
    return e->network == EQS_NETWORK_NETLIST ? !e->netlist : e->drn.n_layers < 1;
}

static int dataset_unset(const eqs_experiment *e)
{
    return e->data == EQS_DATA_SYNTHETIC ? !e->synthetic.name : !e->train.present;
}

/* The experiment as XML.  derived = 0: every value explicit (the copy of
 * a run); 1: the values the file left to their rule (e->implicit) left
 * out again, so that reading the text re-derives them (set by path). */
static void write_body(FILE *f, const eqs_experiment *e, int derived)
{
    const unsigned omit = derived ? e->implicit : 0;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<!-- Written by eqspice %s: every value explicit, paths absolute. -->\n",
            EQS_VERSION);
    fputs("<experiment", f);
    put_attr(f, "version", "1");
    put_attr(f, "eqspice_version", EQS_VERSION);
    fputs(">\n", f);
    if (!network_unset(e)) {
        fputs("  <network>\n", f);
        if (e->network == EQS_NETWORK_NETLIST) {
            fputs("    <netlist", f);
            put_attr(f, "path", e->netlist ? e->netlist : "");
        } else {
            fputs("    <drn layers=\"", f);
            for (int k = 0; k < e->drn.n_layers; ++k) fprintf(f, "%s%d", k ? " " : "", e->drn.layers[k]);
            fputc('"', f);
            if (!(omit & EQS_EXP_IMPLICIT_DRN_SEED)) put_u64(f, "seed", e->drn.seed);
            put_num(f, "g_init_min_S", e->drn.g_min_S);
            put_num(f, "g_init_max_S", e->drn.g_max_S);
            if (e->drn.g_fan_in) {
                put_attr(f, "g_init", "fan_in");
                put_num(f, "g_init_scale_S", e->drn.g_fan_in_S);
            }
            put_attr(f, "bias", e->drn.bias ? "true" : "false");
            put_num(f, "bias_V", e->drn.bias_V);
            if (e->drn.bias_mirrored) put_attr(f, "bias_mirrored", "true");
            put_num(f, "diode_is_A", e->drn.diode_is_A);
            put_num(f, "diode_n", e->drn.diode_n);
            put_attr(f, "outputs", e->drn.output_pairs ? "pairs" : "single");
            if (e->drn.amplifier_gain > 0) put_num(f, "amplifiers", e->drn.amplifier_gain);
            if (e->drn.rails_V > 0) put_num(f, "rails_V", e->drn.rails_V);
            if (e->drn.rwire_ohm > 0) put_num(f, "rwire_ohm", e->drn.rwire_ohm);
        }
        fputs("/>\n  </network>\n", f);
    }
    if (!dataset_unset(e)) {
        fputs("  <dataset", f);
        if (!(omit & EQS_EXP_IMPLICIT_CLASSES))
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
            if (!(omit & EQS_EXP_IMPLICIT_SYNTH_FEATURES))
                put_u64(f, "features", (unsigned long long)(e->synthetic.n_features > 0
                                                                ? e->synthetic.n_features
                                                                : 0));
            if (!(omit & EQS_EXP_IMPLICIT_SYNTH_SEED)) put_u64(f, "seed", e->synthetic.seed);
            if (e->synthetic.noise >= 0 && !(omit & EQS_EXP_IMPLICIT_SYNTH_NOISE))
                put_num(f, "noise", e->synthetic.noise);
            fputs("/>\n", f);
        }
        fputs("  </dataset>\n", f);
    }
    fputs("  <input", f);
    put_num(f, "gain_V", e->input_gain_V);
    put_attr(f, "encoding", encoding_names[(unsigned)e->encoding < 3 ? e->encoding : 0]);
    fputs("/>\n  <targets", f);
    put_num(f, "on_V", e->target_on_V);
    put_num(f, "off_V", e->target_off_V);
    fputs("/>\n  <algorithm", f);
    put_attr(f, "method", eqs_grad_method_name(e->algorithm));
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
    if (e->parts != 1) put_u64(f, "parts", (unsigned long long)e->parts);
    fputs("/>\n  <conductance", f);
    put_num(f, "g_min_S", e->g_min_S);
    if (isfinite(e->g_max_S)) put_num(f, "g_max_S", e->g_max_S);
    if (e->device_model) put_attr(f, "device_model", e->device_model);
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
    write_body(a.f, e, 0);
    return eqs_atomic_commit(&a);
}

/* ------------------------------------------------------------------ */
/* Defaults and set by path                                            */
/* ------------------------------------------------------------------ */
eqs_status eqs_experiment_defaults(eqs_ctx *ctx, eqs_experiment **out)
{
    *out = NULL;
    eqs_experiment *e = experiment_new(ctx);
    if (!e) return EQS_ERR_NOMEM;
    e->data = EQS_DATA_SYNTHETIC; /* no task yet: the writer leaves <dataset> out */
    char *cwd = realpath(".", NULL);
    e->dir = cwd ? eqs_strdup(ctx, cwd) : NULL;
    free(cwd);
    if (!e->dir) {
        eqs_experiment_free(&e);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot resolve the current directory: %s",
                         strerror(errno));
    }
    *out = e;
    return EQS_OK;
}

void eqs_experiment_eval_settings(const eqs_experiment *e, eqs_eval_settings *ev)
{
    eqs_eval_settings_defaults(ev);
    ev->diodes = e->diodes;
    ev->encoding = e->encoding;
    ev->input_gain_V = e->input_gain_V;
    ev->target_on_V = e->target_on_V;
    ev->target_off_V = e->target_off_V;
    ev->backend = e->backend;
    ev->bcd_tol_V = e->bcd_tol_V;
    ev->single = e->single;
    ev->batch = e->batch;
    ev->set = EQS_EVAL_DIODES | EQS_EVAL_GAIN | EQS_EVAL_ON | EQS_EVAL_OFF |
              EQS_EVAL_PRECISION | EQS_EVAL_BATCH;
    if (e->encoding != EQS_ENCODE_AUTO) ev->set |= EQS_EVAL_ENCODING;
    if (e->backend != EQS_BACKEND_AUTO) ev->set |= EQS_EVAL_BACKEND;
    if (e->bcd_tol_V > 0) ev->set |= EQS_EVAL_TOL;
}

/* The elements a path may walk through or create, in schema order (the
 * schema itself checks attributes and values).  A choice group
 * (network: netlist | drn; dataset: idx | csv | synthetic) is one slot.
 * An element added to models/experiment.xsd gets its name here too (a new
 * attribute needs nothing: `device.levels` works once the schema has it). */
static const struct {
    const char *parent;
    const char *children[11]; /* "a|b" = a choice; NULL-terminated */
} tree[] = {
    {"experiment",
     {"network", "dataset", "input", "targets", "algorithm", "learning", "training",
      "conductance", "solver", "output", NULL}},
    {"network", {"netlist|drn", NULL}},
    {"dataset", {"idx|csv|synthetic", NULL}},
    {"idx", {"train", "test", NULL}},
    {"csv", {"train", "test", NULL}},
    {"learning", {"rate", NULL}},
};

/* 1 when `name` is one of the '|'-separated names of slot. */
static int slot_has(const char *slot, const char *name, size_t len)
{
    for (const char *p = slot; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, name, n)) return 1;
        p += n + (bar != NULL);
    }
    return 0;
}

typedef struct {
    char msg[512];   /* why the path is refused */
    xmlNodePtr node; /* the element whose attribute is set */
} set_target;

/* The child `name` (len bytes) of `parent`, created in schema order when
 * absent; NULL with t->msg when the path cannot name it. */
static xmlNodePtr walk(xmlNodePtr parent, const char *name, size_t len, set_target *t)
{
    const char *pname = (const char *)parent->name;
    int slot = -1, ns = 0;
    const char *const *kids = NULL;
    for (size_t i = 0; i < sizeof tree / sizeof *tree; ++i)
        if (!strcmp(tree[i].parent, pname)) kids = tree[i].children;
    for (int k = 0; kids && kids[k]; ++k, ++ns)
        if (slot_has(kids[k], name, len)) slot = k;
    if (slot >= 0 && !strcmp(kids[slot], "rate")) {
        snprintf(t->msg, sizeof t->msg,
                 "name the learning-rate group by its pattern: learning.rate[PATTERN]");
        return NULL;
    }
    if (slot < 0) {
        snprintf(t->msg, sizeof t->msg, "<%s> has no element <%.*s>", pname,
                 (int)len, name);
        return NULL;
    }
    /* the existing element of this slot, and the first one of a later slot */
    xmlNodePtr after = NULL;
    for (xmlNodePtr c = parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const char *cn = (const char *)c->name;
        int k = 0;
        while (k < ns && !slot_has(kids[k], cn, strlen(cn))) ++k;
        if (k == slot) {
            if (strlen(cn) == len && !strncmp(cn, name, len)) return c;
            snprintf(t->msg, sizeof t->msg,
                     "the experiment's <%s> holds a <%s>, not a <%.*s> (edit the file to "
                     "change its kind)",
                     pname, cn, (int)len, name);
            return NULL;
        }
        if (k > slot && !after) after = c;
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%.*s", (int)len, name);
    xmlNodePtr n = xmlNewNode(NULL, (const xmlChar *)nm);
    if (!n) {
        snprintf(t->msg, sizeof t->msg, "out of memory");
        return NULL;
    }
    if (after) xmlAddPrevSibling(after, n);
    else xmlAddChild(parent, n);
    return n;
}

/* The <rate> of <learning> whose elements="pattern"; a new pattern
 * becomes the first group (it wins over the others). */
static xmlNodePtr rate_node(xmlNodePtr learning, const char *pat, size_t len, set_target *t)
{
    xmlNodePtr first = NULL;
    char p[256];
    snprintf(p, sizeof p, "%.*s", (int)len, pat);
    for (xmlNodePtr c = learning->children; c; c = c->next) {
        if (!is_elem(c, "rate")) continue;
        if (!first) first = c;
        char *v = attr(c, "elements");
        int same = v && !strcmp(v, p);
        if (v) xmlFree(v);
        if (same) return c;
    }
    xmlNodePtr n = xmlNewNode(NULL, (const xmlChar *)"rate");
    if (!n || !xmlSetProp(n, (const xmlChar *)"elements", (const xmlChar *)p)) {
        if (n) xmlFreeNode(n);
        snprintf(t->msg, sizeof t->msg, "out of memory");
        return NULL;
    }
    if (first) xmlAddPrevSibling(first, n);
    else xmlAddChild(learning, n);
    return n;
}

/* Resolve "a.b.attr" or "learning.rate[PATTERN]" (optionally ".value")
 * under the root and set the attribute; 0 ok, -1 with t->msg. */
static int set_one(xmlNodePtr root, const char *path, const char *value, set_target *t)
{
    xmlNodePtr n = root;
    const char *p = path;
    t->node = NULL;
    if (!*path) {
        snprintf(t->msg, sizeof t->msg, "empty path");
        return -1;
    }
    for (;;) {
        const char *br = strchr(p, '['), *dot = strchr(p, '.');
        if (br && (!dot || br < dot)) { /* rate[PATTERN] */
            const char *close = strchr(br, ']');
            if (strncmp(p, "rate[", 5) || br != p + 4 || !close || close == br + 1 ||
                strcmp((const char *)n->name, "learning") ||
                (close[1] && strcmp(close + 1, ".value"))) {
                snprintf(t->msg, sizeof t->msg,
                         "a pattern in brackets names a learning-rate group: "
                         "learning.rate[PATTERN]");
                return -1;
            }
            n = rate_node(n, br + 1, (size_t)(close - br - 1), t);
            if (!n) return -1;
            p = "value";
            dot = NULL;
        } else if (dot) {
            if (dot == p) {
                snprintf(t->msg, sizeof t->msg, "empty element name");
                return -1;
            }
            n = walk(n, p, (size_t)(dot - p), t);
            if (!n) return -1;
            p = dot + 1;
            continue;
        }
        break;
    }
    if (n == root) {
        snprintf(t->msg, sizeof t->msg,
                 "no element named: a path is element.attribute (training.epochs)");
        return -1;
    }
    if (!*p) {
        snprintf(t->msg, sizeof t->msg, "no attribute after the element");
        return -1;
    }
    if (!*value) { /* an empty value removes the attribute: its default again */
        xmlUnsetProp(n, (const xmlChar *)p);
    } else if (!xmlSetProp(n, (const xmlChar *)p, (const xmlChar *)value)) {
        snprintf(t->msg, sizeof t->msg, "out of memory");
        return -1;
    }
    t->node = n;
    return 0;
}

eqs_status eqs_experiment_set_many(eqs_experiment *exp, int n, const char *const *paths,
                                   const char *const *values)
{
    eqs_ctx *ctx = exp->ctx;
    const char *name = exp->source ? exp->source : "experiment";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory writing the experiment");
    write_body(f, exp, 1);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory writing the experiment");
    }
    eqs_status st = EQS_OK;
    xml_errors errs = {ctx, "--set", EQS_ERR_INTERNAL, 0, NULL};
    eqs_experiment *e = NULL;
    set_target *tg = eqs_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof *tg);
    handlers_install(&errs);
    xmlDocPtr doc = tg ? xmlReadMemory(buf, (int)len, "--set", NULL,
                                       XML_PARSE_NONET | XML_PARSE_BIG_LINES)
                       : NULL;
    if (!doc) {
        st = errs.got ? eqs_ctx_status(ctx) : EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory");
        goto done;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (int k = 0; k < n; ++k) {
        if (set_one(root, paths[k], values[k], &tg[k]) != 0) {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s: --set %s=%s: %s", name, paths[k],
                           values[k], tg[k].msg);
            goto done;
        }
    }
    e = experiment_new(ctx);
    if (!e || !(e->dir = eqs_strdup(ctx, exp->dir ? exp->dir : "."))) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    st = validate_fill(ctx, doc, &errs, e);
    if (st != EQS_OK) {
        /* the message names the generated document: name the assignment */
        char msg[EQS_ERRMSG_MAX], who[EQS_ERRMSG_MAX / 2] = "";
        const char *m = eqs_ctx_error(ctx), *err = strstr(m, "error: ");
        snprintf(msg, sizeof msg, "%s", err ? err + 7 : m);
        long line = !strncmp(m, "--set:", 6) ? strtol(m + 6, NULL, 10) : 0;
        for (int k = 0; k < n && !who[0]; ++k)
            if (tg[k].node && (tg[k].node == errs.node ||
                               (!errs.node && line > 1 && xmlGetLineNo(tg[k].node) == line)))
                snprintf(who, sizeof who, "%s=%s", paths[k], values[k]);
        const int named = who[0] != '\0';
        for (int k = 0; k < n && !named; ++k) { /* not one of them: all of them */
            size_t w = strlen(who);
            snprintf(who + w, sizeof who - w, "%s%s=%s", k ? ", " : "", paths[k], values[k]);
        }
        eqs_status code = st;
        eqs_ctx_clear_error(ctx);
        st = EQS_ERROR(ctx, code, "%s: --set %s: %s", name, who, msg);
        goto done;
    }
    /* the experiment keeps its identity: file, directory, version, lines */
    char *keep_source = exp->source, *keep_dir = exp->dir, *keep_ver = exp->eqspice_version;
    exp->source = exp->dir = exp->eqspice_version = NULL;
    eqs_free(ctx, e->eqspice_version);
    eqs_free(ctx, e->dir);
    e->source = keep_source;
    e->dir = keep_dir;
    e->eqspice_version = keep_ver;
    e->line = exp->line;
    experiment_clear(exp);
    *exp = *e;
    eqs_free(ctx, e);
    e = NULL;
done:
    if (doc) xmlFreeDoc(doc);
    handlers_remove();
    eqs_experiment_free(&e);
    eqs_free(ctx, tg);
    free(buf);
    return st;
}

eqs_status eqs_experiment_set(eqs_experiment *exp, const char *path, const char *value)
{
    return eqs_experiment_set_many(exp, 1, &path, &value);
}
