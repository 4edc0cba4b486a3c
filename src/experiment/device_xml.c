/*
 * device_xml.c: device-model files (models/NAME.xml) read into an
 * eqs_device_law, validated against the compiled-in copy of
 * models/device.xsd (docs/devices.md).  The schema checks the lexical
 * forms; this file adds the checks a schema cannot state (the window's
 * order, levels >= 2, noise >= 0) with the file's line.
 */
#include "../core/core.h"
#include "xmlerr.h"
#include "../update/update.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "device_xsd.inc"

const char *eqs_device_schema(void) { return device_xsd; }

static eqs_loc dx_loc(const char *path, xmlNodePtr n)
{
    long l = n ? xmlGetLineNo(n) : 0;
    return (eqs_loc){path, l > 0 && l < INT_MAX ? (int)l : 1, 1};
}

/* Line and column of "<!DOCTYPE" in the first 64 KiB of the file (1:1
 * when not found there). */
static eqs_loc dx_doctype_loc(const char *path, int fd)
{
    eqs_loc loc = {path, 1, 1};
    static const char key[] = "<!DOCTYPE";
    char buf[1 << 16];
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    size_t n = got > 0 ? (size_t)got : 0;
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

/* The attribute as a double (the schema checked its form); absent: *out
 * unchanged, return 0; present: 1. */
static int dx_double(xmlNodePtr n, const char *name, double *out)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return 0;
    *out = strtod((const char *)v, NULL);
    xmlFree(v);
    return 1;
}

static int dx_token(xmlNodePtr n, const char *name, const char *const *names, int count,
                    int *out)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return 0;
    char buf[64];
    size_t a = 0, len;
    const char *s = (const char *)v;
    while (s[a] && strchr(" \t\r\n", s[a])) ++a;
    snprintf(buf, sizeof buf, "%s", s + a);
    len = strlen(buf);
    while (len > 0 && strchr(" \t\r\n", buf[len - 1])) buf[--len] = '\0';
    xmlFree(v);
    for (int k = 0; k < count; ++k)
        if (!strcmp(buf, names[k])) {
            *out = k;
            return 1;
        }
    return 0;
}

static const char *const law_names[] = {"ideal", "constant", "soft", "exp", "pow", "table", "team"};
static const char *const rounding_names[] = {"nearest", "stochastic"};
static const char *const programming_names[] = {"aware", "blind"};
static const char *const mapping_names[] = {"pair", "reference"};

/* The pulse-response CSV `csv` (header pulse,G_up_S,G_down_S; rows
 * k,G_up,G_down for k = 0..n): *tab = eqs_malloc'd up values then down
 * values, n + 1 each.  The values lie in [lo, hi], up strictly increasing
 * until it reaches hi (then it may stay at hi), down strictly decreasing
 * until it reaches lo (then it may stay at lo), n >= 1. */
static eqs_status dx_table_read(eqs_ctx *ctx, const char *csv, eqs_loc from, double lo,
                                double hi, double **tab, int *n_out)
{
    char *buf = NULL;
    size_t len = 0;
    *tab = NULL;
    eqs_status st = eqs_file_read(ctx, csv, "pulse table", from, EQS_ERR_INPUT, &buf, &len, NULL);
    if (st) return st;
    size_t cap = 0, rows = 0;
    for (size_t i = 0; i < len; ++i) cap += buf[i] == '\n';
    cap += 1;
    double *up = eqs_malloc(ctx, 2 * cap * sizeof *up);
    if (!up) {
        eqs_free(ctx, buf);
        return EQS_ERR_NOMEM;
    }
    double *down = up + cap;
    int line = 0;
    char *p = buf;
    while (*p) {
        char *end = strchr(p, '\n');
        if (end) *end = '\0';
        ++line;
        size_t l = strlen(p);
        if (l > 0 && p[l - 1] == '\r') p[--l] = '\0';
        const eqs_loc at = {csv, line, 1};
        if (line == 1) {
            if (strcmp(p, "pulse,G_up_S,G_down_S")) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "the header is not 'pulse,G_up_S,G_down_S'");
                goto fail;
            }
        } else if (l > 0) {
            char *q = p, *e = NULL;
            errno = 0;
            const long k = strtol(q, &e, 10);
            double g[2] = {0, 0};
            int ok = e != q && *e == ',' && !errno;
            for (int c = 0; ok && c < 2; ++c) {
                q = e + 1;
                g[c] = strtod(q, &e);
                ok = e != q && isfinite(g[c]) && (*e == (c == 0 ? ',' : '\0'));
            }
            if (!ok) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "expected 'pulse,G_up_S,G_down_S' with finite numbers");
                goto fail;
            }
            if (k != (long)rows) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "pulse %ld where %zu was expected", k,
                                  rows);
                goto fail;
            }
            if (g[0] < lo || g[0] > hi || g[1] < lo || g[1] > hi) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "conductance outside the window [%.17g, %.17g] S", lo, hi);
                goto fail;
            }
            /* strictly monotone until the bound; a curve that has reached
             * its bound may stay there (rows repeating g_max_S / g_min_S) */
            if (rows > 0 && !(g[0] > up[rows - 1]) && !(g[0] == hi && up[rows - 1] == hi)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "G_up_S does not increase (%.17g after %.17g)", g[0],
                                  up[rows - 1]);
                goto fail;
            }
            if (rows > 0 && !(g[1] < down[rows - 1]) && !(g[1] == lo && down[rows - 1] == lo)) {
                st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                  "G_down_S does not decrease (%.17g after %.17g)", g[1],
                                  down[rows - 1]);
                goto fail;
            }
            up[rows] = g[0];
            down[rows] = g[1];
            ++rows;
        }
        if (!end) break;
        p = end + 1;
    }
    if (rows < 2 || rows > (size_t)INT_MAX) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, ((eqs_loc){csv, line > 0 ? line : 1, 1}),
                          "a pulse table needs at least the rows of pulses 0 and 1");
        goto fail;
    }
    /* packed: up[0..rows-1] then down[0..rows-1] */
    memmove(up + rows, down, rows * sizeof *up);
    eqs_free(ctx, buf);
    *tab = up;
    *n_out = (int)rows - 1;
    return EQS_OK;
fail:
    eqs_free(ctx, buf);
    eqs_free(ctx, up);
    return st;
}

/* The TEAM attributes of law="team" into *t (defaults: eqs_team_defaults),
 * checked; others' TEAM attributes refused. */
static const char *const team_attrs[] = {"kon", "koff", "alphaon", "alphaoff", "ion",
                                         "ioff", "ron", "roff", "xon", "xoff",
                                         "ivrelation", "wt", "p", "pulse_up_V",
                                         "pulse_down_V", "pulse_width_s", "team_grid"};
static eqs_status dx_team(eqs_ctx *ctx, const char *path, xmlNodePtr d, const eqs_device_law *law,
                          eqs_team *t, int *grid)
{
    const eqs_loc at = dx_loc(path, d);
    eqs_team_defaults(t);
    *grid = EQS_TEAM_DEFAULT_GRID;
    if (law->kind != EQS_DEVICE_TEAM) {
        for (size_t k = 0; k < sizeof team_attrs / sizeof *team_attrs; ++k)
            if (xmlHasProp(d, (const xmlChar *)team_attrs[k]))
                return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "%s= belongs to law=\"team\" only",
                                    team_attrs[k]);
        return EQS_OK;
    }
    if (xmlHasProp(d, (const xmlChar *)"g_min_S") || xmlHasProp(d, (const xmlChar *)"g_max_S"))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "law=\"team\" takes no g_min_S or g_max_S: its window is "
                            "[1/roff, 1/ron]");
    double v = 0.0;
    dx_double(d, "kon", &t->kon_m_per_s);
    dx_double(d, "koff", &t->koff_m_per_s);
    dx_double(d, "alphaon", &t->alphaon);
    dx_double(d, "alphaoff", &t->alphaoff);
    dx_double(d, "ion", &t->ion_A);
    dx_double(d, "ioff", &t->ioff_A);
    dx_double(d, "ron", &t->ron_Ohm);
    dx_double(d, "roff", &t->roff_Ohm);
    dx_double(d, "xon", &t->xon_m);
    dx_double(d, "xoff", &t->xoff_m);
    if (dx_double(d, "ivrelation", &v)) t->ivrelation = (int)v;
    if (dx_double(d, "wt", &v)) t->wt = (int)v;
    dx_double(d, "p", &t->p);
    dx_double(d, "pulse_up_V", &t->v_up_V);
    dx_double(d, "pulse_down_V", &t->v_down_V);
    dx_double(d, "pulse_width_s", &t->width_s);
    if (dx_double(d, "team_grid", &v)) *grid = (int)v;
    const char *param = NULL;
    const char *msg = eqs_team_check(t, &param);
    if (msg) return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "%s (%s)", msg, param);
    if (!(t->ron_Ohm < t->roff_Ohm))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "ron = %.17g Ohm is not below roff = %.17g Ohm (the on state is "
                            "the high-conductance one)",
                            t->ron_Ohm, t->roff_Ohm);
    return EQS_OK;
}

static eqs_status dx_fill(eqs_ctx *ctx, const char *path, xmlNodePtr d, eqs_device_law *law,
                          eqs_team *team, int *grid)
{
    const eqs_loc at = dx_loc(path, d);
    int k = 0;
    eqs_device_law_defaults(law);
    if (dx_token(d, "law", law_names, 7, &k)) law->kind = (eqs_device_kind)k;
    if (dx_token(d, "rounding", rounding_names, 2, &k)) law->rounding = (eqs_device_rounding)k;
    if (dx_token(d, "programming", programming_names, 2, &k))
        law->programming = (eqs_device_programming)k;
    if (law->programming == EQS_DEVICE_PROGRAM_BLIND &&
        (law->kind == EQS_DEVICE_IDEAL || law->kind == EQS_DEVICE_TEAM))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "programming=\"blind\" needs a pulsed law with a nominal step "
                            "(constant, soft, exp, pow, table), not '%s'", law_names[law->kind]);
    if (dx_token(d, "mapping", mapping_names, 2, &k)) law->mapping = (eqs_device_mapping)k;
    const int has_ref = dx_double(d, "g_ref_S", &law->g_ref_S);
    const int has_gmin = dx_double(d, "g_min_S", &law->g_min_S);
    const int has_gmax = dx_double(d, "g_max_S", &law->g_max_S);
    if (law->kind != EQS_DEVICE_TEAM && (!has_gmin || !has_gmax))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "the attribute '%s' is required",
                            has_gmin ? "g_max_S" : "g_min_S");
    const eqs_status tst = dx_team(ctx, path, d, law, team, grid);
    if (tst) return tst;
    if (law->kind == EQS_DEVICE_TEAM) {
        law->g_min_S = 1.0 / team->roff_Ohm;
        law->g_max_S = 1.0 / team->ron_Ohm;
    }
    double dw = 0.0;
    const int has_dw = dx_double(d, "dw_min_S", &dw);
    if (has_dw) law->dw_min_up_S = law->dw_min_down_S = dw;
    const int has_up = dx_double(d, "dw_min_up_S", &law->dw_min_up_S);
    const int has_down = dx_double(d, "dw_min_down_S", &law->dw_min_down_S);
    dx_double(d, "pulses_up", &law->pulses_up);
    dx_double(d, "pulses_down", &law->pulses_down);
    dx_double(d, "a_up", &law->a_up);
    dx_double(d, "a_down", &law->a_down);
    dx_double(d, "gamma_up", &law->gamma_up);
    dx_double(d, "gamma_down", &law->gamma_down);
    dx_double(d, "c2c_rel", &law->c2c_rel);
    dx_double(d, "d2d_step_rel", &law->d2d_step_rel);
    dx_double(d, "d2d_window_rel", &law->d2d_window_rel);
    dx_double(d, "stuck_min_frac", &law->stuck_min_frac);
    dx_double(d, "stuck_max_frac", &law->stuck_max_frac);
    dx_double(d, "read_noise_rel", &law->read_noise_rel);
    dx_double(d, "drift_nu", &law->drift_nu);
    dx_double(d, "drift_nu_std", &law->drift_nu_std);
    dx_double(d, "drift_t0_s", &law->drift_t0_s);
    dx_double(d, "drift_t_s", &law->drift_t_s);
    double v;
    const int has_levels = dx_double(d, "levels", &v);
    if (has_levels) {
        if (!(v >= 2.0 && v <= (double)INT_MAX))
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "levels = %.17g: at least 2 levels", v);
        law->levels = (int)v;
    }
    if (dx_double(d, "max_pulses", &v)) {
        if (v > (double)INT_MAX)
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "max_pulses = %.17g is too large", v);
        law->max_pulses = (int)v;
    }
    xmlChar *sd = xmlGetNoNsProp(d, (const xmlChar *)"seed");
    if (sd) {
        law->seed = (uint64_t)strtoull((const char *)sd, NULL, 10);
        xmlFree(sd);
    }
    if (has_levels && law->kind != EQS_DEVICE_IDEAL && law->kind != EQS_DEVICE_CONSTANT)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "levels applies to the ideal and constant laws only (law \"%s\")",
                            law_names[law->kind]);
    xmlChar *tb = xmlGetNoNsProp(d, (const xmlChar *)"table");
    const int has_table = tb != NULL;
    if (tb) xmlFree(tb);
    if ((law->kind == EQS_DEVICE_TABLE) != has_table)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            has_table ? "table= belongs to law=\"table\" only"
                                      : "law=\"table\" needs table=\"FILE.csv\"");
    if (has_dw && (has_up || has_down))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "dw_min_S with dw_min_up_S or dw_min_down_S: give one or the other");
    if (law->g_min_S < 0.0)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "g_min_S = %.17g S: negative", law->g_min_S);
    if (!(law->g_min_S < law->g_max_S))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "g_min_S = %.17g S is not below g_max_S = %.17g S", law->g_min_S,
                            law->g_max_S);
    const struct {
        const char *name;
        double v;
    } nonneg[] = {{"c2c_rel", law->c2c_rel},
                  {"d2d_step_rel", law->d2d_step_rel},
                  {"d2d_window_rel", law->d2d_window_rel},
                  {"gamma_up", law->gamma_up},
                  {"gamma_down", law->gamma_down},
                  {"stuck_min_frac", law->stuck_min_frac},
                  {"stuck_max_frac", law->stuck_max_frac},
                  {"read_noise_rel", law->read_noise_rel},
                  {"drift_nu", law->drift_nu},
                  {"drift_nu_std", law->drift_nu_std},
                  {"drift_t_s", law->drift_t_s}};
    for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; ++i)
        if (nonneg[i].v < 0.0)
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "%s = %.17g: negative", nonneg[i].name,
                                nonneg[i].v);
    if (law->stuck_min_frac + law->stuck_max_frac > 1.0)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "stuck_min_frac + stuck_max_frac = %.17g: more than all devices",
                            law->stuck_min_frac + law->stuck_max_frac);
    if (!(law->drift_t0_s > 0.0))
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at, "drift_t0_s = %.17g s: not positive",
                            law->drift_t0_s);
    if (has_ref && law->mapping != EQS_DEVICE_MAP_REFERENCE)
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                            "g_ref_S belongs to mapping=\"reference\" only");
    if (law->mapping == EQS_DEVICE_MAP_REFERENCE) {
        if (!has_ref) law->g_ref_S = 0.5 * (law->g_min_S + law->g_max_S);
        if (!(law->g_ref_S >= law->g_min_S && law->g_ref_S <= law->g_max_S) ||
            !(law->g_ref_S > 0.0))
            return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, at,
                                "g_ref_S = %.17g S: outside the window (0, %.17g S] or not "
                                "above 0",
                                law->g_ref_S, law->g_max_S);
    }
    /* a constant step given by its levels: (levels - 1) steps sweep the window */
    if (law->kind == EQS_DEVICE_CONSTANT && has_levels && !has_dw && !has_up && !has_down)
        law->dw_min_up_S = law->dw_min_down_S =
            (law->g_max_S - law->g_min_S) / (double)(law->levels - 1);
    return EQS_OK;
}

/* The table= attribute as a path (malloc'd): absolute as given, else
 * relative to the folder of the model file. */
static eqs_status dx_table_path(eqs_ctx *ctx, const char *path, xmlNodePtr d, char **out)
{
    xmlChar *v = xmlGetNoNsProp(d, (const xmlChar *)"table");
    const char *t = (const char *)v;
    *out = NULL;
    if (!v || !*t) {
        if (v) xmlFree(v);
        return EQS_ERROR_AT(ctx, EQS_ERR_INPUT, dx_loc(path, d), "table= is empty");
    }
    const char *slash = strrchr(path, '/');
    size_t dl = (t[0] == '/' || !slash) ? 0 : (size_t)(slash - path) + 1;
    char *s = malloc(dl + strlen(t) + 1);
    if (s) {
        memcpy(s, path, dl);
        strcpy(s + dl, t);
    }
    xmlFree(v);
    if (!s) return EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory");
    *out = s;
    return EQS_OK;
}

eqs_status eqs_device_law_read(eqs_ctx *ctx, const char *path, eqs_device_law **out)
{
    *out = NULL;
    int fd = eqs_file_open_fd(ctx, path, "device model", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (fd < 0) return EQS_ERR_IO;
    eqs_status st = EQS_OK;
    eqs_xml_errors errs = {ctx, path, EQS_ERR_PARSE, 0};
    xmlParserCtxtPtr pc = NULL;
    xmlDocPtr doc = NULL;
    xmlSchemaParserCtxtPtr spc = NULL;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vc = NULL;
    eqs_device_law *law = NULL;
    double *tab = NULL;
    char *csv = NULL;

    xmlSetStructuredErrorFunc(&errs, eqs_xml_on_error);
    xmlSetGenericErrorFunc(NULL, eqs_xml_on_generic);
    pc = xmlNewParserCtxt();
    if (!pc) {
        st = EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory creating an XML parser");
        goto done;
    }
    doc = xmlCtxtReadFd(pc, fd, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    if (!doc || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_PARSE, "%s: cannot parse the XML", path);
        goto done;
    }
    if (doc->intSubset || doc->extSubset) {
        st = EQS_ERROR_AT(ctx, EQS_ERR_INPUT, dx_doctype_loc(path, fd),
                          "DOCTYPE declarations are not allowed in device models");
        goto done;
    }
    errs.code = EQS_ERR_INTERNAL;
    spc = xmlSchemaNewMemParserCtxt(device_xsd, (int)(sizeof device_xsd - 1));
    if (spc) xmlSchemaSetParserStructuredErrors(spc, eqs_xml_on_error, &errs);
    schema = spc ? xmlSchemaParse(spc) : NULL;
    vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    if (!vc) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR(ctx, EQS_ERR_INTERNAL, "cannot compile the device schema");
        goto done;
    }
    errs.code = EQS_ERR_INPUT;
    xmlSchemaSetValidStructuredErrors(vc, eqs_xml_on_error, &errs);
    int v = xmlSchemaValidateDoc(vc, doc);
    if (v != 0 || errs.got) {
        st = errs.got ? eqs_ctx_status(ctx)
                      : EQS_ERROR_AT(ctx, v > 0 ? EQS_ERR_INPUT : EQS_ERR_INTERNAL,
                                     ((eqs_loc){path, 1, 1}),
                                     "the file does not follow the device schema");
        goto done;
    }
    eqs_device_law tmp;
    eqs_team team;
    int grid = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    st = dx_fill(ctx, path, root, &tmp, &team, &grid);
    if (st) goto done;
    if (tmp.kind == EQS_DEVICE_TABLE) {
        st = dx_table_path(ctx, path, root, &csv);
        if (st) goto done;
        st = dx_table_read(ctx, csv, dx_loc(path, root), tmp.g_min_S, tmp.g_max_S, &tab,
                           &tmp.table_n);
        if (st) goto done;
    }
    /* one block: the law, then its table (freed with it); TEAM: the law,
     * its kinetics, then their one-pulse table */
    const int is_team = tmp.kind == EQS_DEVICE_TEAM;
    const size_t nt = tab ? 2 * ((size_t)tmp.table_n + 1) : is_team ? 2 * ((size_t)grid + 1) : 0;
    law = eqs_malloc(ctx, sizeof *law + (is_team ? sizeof team : 0) + nt * sizeof(double));
    if (!law) {
        st = EQS_ERR_NOMEM;
        goto done;
    }
    *law = tmp;
    if (tab) {
        double *t = (double *)(void *)(law + 1);
        memcpy(t, tab, nt * sizeof *t);
        law->table_up_S = t;
        law->table_down_S = t + tmp.table_n + 1;
    }
    if (is_team) {
        eqs_team *tm = (eqs_team *)(void *)(law + 1);
        double *u = (double *)(void *)(tm + 1);
        *tm = team;
        st = eqs_team_tabulate(tm, grid, u, u + grid + 1);
        if (st) {
            st = EQS_ERROR_AT(ctx, st, dx_loc(path, root),
                              "CVODE failed to integrate one pulse of the TEAM kinetics");
            goto done;
        }
        law->team = tm;
    }
done:
    eqs_free(ctx, tab);
    free(csv);
    close(fd);
    if (vc) xmlSchemaFreeValidCtxt(vc);
    if (schema) xmlSchemaFree(schema);
    if (spc) xmlSchemaFreeParserCtxt(spc);
    if (doc) xmlFreeDoc(doc);
    if (pc) xmlFreeParserCtxt(pc);
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlSetGenericErrorFunc(NULL, NULL);
    if (st) {
        eqs_free(ctx, law);
        return st;
    }
    *out = law;
    return EQS_OK;
}

void eqs_device_law_free(eqs_ctx *ctx, eqs_device_law **law)
{
    if (!law) return;
    eqs_free(ctx, *law);
    *law = NULL;
}
