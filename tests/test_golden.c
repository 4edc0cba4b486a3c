/*
 * test_golden.c: golden operating points produced by real ngspice
 * (scripts/golden-update.sh, `make golden-update`) against
 *   - the built-in Newton solver with default options (plus the netlist's
 *     own .options), as a user runs it,
 *   - the same solver with the golden's tolerances (physics only), and
 *   - the live ngspice backend with the options recorded in the golden, and
 *   - ngspice reading the netlist file itself (its own parser, subcircuit
 *     and parameter expansion; extension cards removed), which checks our
 *     parser + deck writer against ngspice's.
 * Every node must agree within the tolerance of its check (below, with
 * what was measured) and the node sets must match exactly.
 *
 * tests/golden/MANIFEST lists "<name> <netlist>"; tests/golden/<name>.csv
 * holds '#' provenance lines, then "node,voltage_V" and one row per node.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "solver/solver.h"
#include "testutil.h"

/* Tolerances from measurement: the largest |dV| over every node of the 28
 * cases, per check, with ngspice-39 goldens (reltol 1e-10, abstol 1e-16,
 * vntol 1e-13), at commit "golden tolerances from measurement" on the
 * project VM (EQS_GOLDEN_REPORT=1 prints each case's max |dV|; measure
 * again after make golden-update):
 *   newton, default options     1.24e-8 V (temp_150; temp_85 2.2e-10,
 *                               param_expr 6.7e-12, the rest <= 5.6e-14)
 *   newton, golden options      1.42e-14 V (ladder)
 *   ngspice live, golden opts   0 (the goldens are made through this path)
 *   ngspice on the raw netlist  8.9e-16 V (temp_m40)
 *   layered, default tol_V      1.5e-11 V (layered; 6 layered cases)
 * Margins: about 8x for the two checks that stop at their own tolerance
 * (Newton's reltol 1e-6 / vntol 1e-6 V; the layered sweep tolerance, whose
 * default 1e-10 V is also the bound), and 70x over the worst for the
 * checks that converge to the golden's point: 1e-12 V is some 500 ulps of
 * the largest node voltage (12 V), room for another CPU's or library
 * build's rounding, far below any physical difference. */
#define GOLDEN_TOL_DEFAULT_V 1e-7
#define GOLDEN_TOL_LAYERED_V 1e-10
#define GOLDEN_TOL_EXACT_V 1e-12
#define GOLDEN_MAX 128
#define GOLDEN_MIN_CASES 15

typedef struct {
    char name[128];
    char netlist[512];
} golden_case;

typedef struct {
    int n;
    char **node;
    double *v;
    int has_opts;
    double reltol, abstol, vntol;
    int has_version, has_date, has_netlist;
} golden_answer;

/* Cases from the MANIFEST (read once per process). */
static golden_case cases[GOLDEN_MAX];
static int n_cases = -1;

static void load_manifest(void)
{
    if (n_cases >= 0) return;
    n_cases = 0;
    char *text = tu_read_file(tu_path("tests/golden/MANIFEST"));
    if (!text) return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0') continue;
        if (n_cases >= GOLDEN_MAX) break;
        golden_case *g = &cases[n_cases];
        if (sscanf(line, "%127s %511s", g->name, g->netlist) == 2) n_cases++;
    }
    free(text);
}

static void answer_free(golden_answer *a)
{
    for (int k = 0; k < a->n; ++k) free(a->node[k]);
    free(a->node);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Parse a golden CSV; returns 0 on success, else a message in err. */
static int answer_read(const char *path, golden_answer *a, char *err, size_t errsz)
{
    memset(a, 0, sizeof *a);
    char *text = tu_read_file(path);
    if (!text) {
        snprintf(err, errsz, "cannot read %s", path);
        return -1;
    }
    int cap = 0, header = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            if (strncmp(line, "# options:", 10) == 0) {
                const char *p;
                if ((p = strstr(line, "reltol="))) a->reltol = strtod(p + 7, NULL);
                if ((p = strstr(line, "abstol="))) a->abstol = strtod(p + 7, NULL);
                if ((p = strstr(line, "vntol="))) a->vntol = strtod(p + 6, NULL);
                a->has_opts = a->reltol > 0 && a->abstol > 0 && a->vntol > 0;
            }
            if (strncmp(line, "# ngspice: ngspice-", 19) == 0) a->has_version = 1;
            if (strncmp(line, "# date: ", 8) == 0) a->has_date = 1;
            if (strncmp(line, "# netlist: ", 11) == 0) a->has_netlist = 1;
            continue;
        }
        if (!header) {
            if (strcmp(line, "node,voltage_V") != 0) {
                snprintf(err, errsz, "%s: bad header '%s'", path, line);
                rc = -1;
                break;
            }
            header = 1;
            continue;
        }
        char *comma = strchr(line, ',');
        char *end = NULL;
        double v = comma ? strtod(comma + 1, &end) : NAN;
        if (!comma || end == comma + 1 || *end != '\0' || !isfinite(v)) {
            snprintf(err, errsz, "%s: bad row '%s'", path, line);
            rc = -1;
            break;
        }
        if (a->n == cap) {
            cap = cap ? 2 * cap : 16;
            a->node = realloc(a->node, (size_t)cap * sizeof *a->node);
            a->v = realloc(a->v, (size_t)cap * sizeof *a->v);
        }
        *comma = '\0';
        a->node[a->n] = strdup(line);
        a->v[a->n] = v;
        a->n++;
    }
    if (rc == 0 && !header) {
        snprintf(err, errsz, "%s: no node,voltage_V header", path);
        rc = -1;
    }
    free(text);
    return rc;
}

/* Solve case i with `backend` and compare with its golden answer; with
 * `golden_opts` the solver runs with the tolerances recorded in the golden
 * (they win over the netlist's .options), else with default options plus
 * the netlist's .options. */
static void check_case(int i, eqs_backend_id backend, int golden_opts)
{
    load_manifest();
    ck_assert_msg(i < n_cases, "no golden case %d", i);
    const golden_case *g = &cases[i];
    char golden_path[700], err[1024];
    snprintf(golden_path, sizeof golden_path, "tests/golden/%.127s.csv", g->name);
    golden_answer ans;
    ck_assert_msg(answer_read(tu_path(golden_path), &ans, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(ans.n > 0, "%s: golden has no nodes", g->name);

    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    eqs_status st = eqs_netlist_read(ctx, tu_path(g->netlist), &nl);
    ck_assert_msg(st == EQS_OK, "%s: %s", g->name, eqs_ctx_error(ctx));
    st = eqs_circuit_create(ctx, nl, &c);
    ck_assert_msg(st == EQS_OK, "%s: %s", g->name, eqs_ctx_error(ctx));
    if (backend == EQS_BACKEND_LAYERED && eqs_circuit_is_layered(c, NULL, 0) != 1) {
        /* not a layered network: the layered solver refuses it (test_layered.c) */
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
        answer_free(&ans);
        return;
    }

    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    if (golden_opts) {
        /* reproduce the golden run: its tolerances win over .options */
        ck_assert_msg(ans.has_opts, "%s: golden lacks '# options:'", g->name);
        opt.reltol = ans.reltol;
        opt.abstol = ans.abstol;
        opt.vntol = ans.vntol;
        opt.explicit_mask |= EQS_OPT_RELTOL | EQS_OPT_ABSTOL | EQS_OPT_VNTOL;
    }
    st = eqs_solver_create(ctx, c, backend, &opt, &s);
    ck_assert_msg(st == EQS_OK, "%s: %s", g->name, eqs_ctx_error(ctx));
    eqs_solve_info info;
    st = eqs_solver_solve(s, EQS_SOLVE_COLD, &info);
    ck_assert_msg(st == EQS_OK, "%s (%s): %s", g->name, eqs_backend_name(backend),
                  eqs_ctx_error(ctx));
    const double *v = eqs_solver_voltages(s);

    /* same node set: every golden node exists, and no extra node */
    int n_nodes = eqs_circuit_node_count(c);
    ck_assert_msg(n_nodes - 1 == ans.n, "%s: %d nodes solved, golden has %d", g->name,
                  n_nodes - 1, ans.n);
    /* Newton at default options stops at its own tolerance; the layered
     * solver at its sweep tolerance; the rest converge to the golden's point */
    const double tol_V = backend == EQS_BACKEND_LAYERED ? GOLDEN_TOL_LAYERED_V
                         : golden_opts                  ? GOLDEN_TOL_EXACT_V
                                                        : GOLDEN_TOL_DEFAULT_V;
    double worst = 0.0;
    const char *worst_node = "";
    for (int k = 0; k < ans.n; ++k) {
        int idx = eqs_circuit_node_find(c, ans.node[k]);
        ck_assert_msg(idx > 0, "%s: golden node '%s' missing from the circuit", g->name,
                      ans.node[k]);
        ck_assert_str_eq(eqs_circuit_node_name(c, idx), ans.node[k]);
        double d = fabs(v[idx] - ans.v[k]);
        if (!(d <= worst)) {
            worst = d;
            worst_node = ans.node[k];
        }
    }
    if (getenv("EQS_GOLDEN_REPORT"))
        fprintf(stderr, "golden: %s %s %s options: max |dV| = %.3g V\n", g->name,
                eqs_backend_name(backend), golden_opts ? "golden" : "default", worst);
    for (int k = 0; k < ans.n; ++k) {
        int idx = eqs_circuit_node_find(c, ans.node[k]);
        ck_assert_msg(fabs(v[idx] - ans.v[k]) <= tol_V,
                      "%s (%s, %s, %s options): node %s = %.17g V, golden %.17g V, "
                      "|dV| = %.3g V (worst node %s: %.3g V)",
                      g->name, eqs_backend_name(backend), info.backend ? info.backend : "?",
                      golden_opts ? "golden" : "default",
                      ans.node[k], v[idx], ans.v[k], fabs(v[idx] - ans.v[k]), worst_node,
                      worst);
    }
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    answer_free(&ans);
}

/* The netlist as ngspice itself would read it: extension cards (and their
 * '+' continuations) removed, .include paths made absolute, the golden's
 * tolerances appended as the last .options card.  NULL-terminated. */
static char **raw_deck(const char *path, const golden_answer *ans)
{
    char *text = tu_read_file(path);
    if (!text) return NULL;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    size_t cap = 16, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    int skipping = 0, first = 1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        const char *p = line;
        while (*p == ' ' || *p == '\t') ++p;
        if (!first && *p == '+' && skipping) continue;
        skipping = 0;
        if (!first && (!strncasecmp(p, ".trainable", 10) || !strncasecmp(p, ".input", 6) ||
                       !strncasecmp(p, ".output", 7))) {
            skipping = 1;
            continue;
        }
        if (n + 3 >= cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        if (!first && !strncasecmp(p, ".end", 4) && (p[4] == '\0' || isspace((unsigned char)p[4]))) {
            char opts[256];
            snprintf(opts, sizeof opts, ".options reltol=%.17g abstol=%.17g vntol=%.17g",
                     ans->reltol, ans->abstol, ans->vntol);
            lines[n++] = strdup(opts);
            lines[n++] = strdup(".end");
            break;
        }
        if (!first && !strncasecmp(p, ".include", 8)) {
            const char *f = p + 8;
            while (*f == ' ' || *f == '\t' || *f == '"' || *f == '\'') ++f;
            char inc[2048];
            snprintf(inc, sizeof inc, ".include %s%s%s", *f == '/' ? "" : dir,
                     *f == '/' ? "" : "/", f);
            size_t k = strlen(inc);
            while (k > 0 && (inc[k - 1] == '"' || inc[k - 1] == '\'' || isspace((unsigned char)inc[k - 1])))
                inc[--k] = '\0';
            lines[n++] = strdup(inc);
        } else {
            lines[n++] = strdup(line);
        }
        first = 0;
    }
    lines[n] = NULL;
    free(text);
    return lines;
}

/* ngspice on the raw netlist reproduces the golden (node by node). */
static void check_case_raw(int i)
{
    load_manifest();
    ck_assert_msg(i < n_cases, "no golden case %d", i);
    const golden_case *g = &cases[i];
    char golden_path[700], err[1024];
    snprintf(golden_path, sizeof golden_path, "tests/golden/%.127s.csv", g->name);
    golden_answer ans;
    ck_assert_msg(answer_read(tu_path(golden_path), &ans, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(ans.has_opts, "%s: golden lacks '# options:'", g->name);
    char **deck = raw_deck(tu_path(g->netlist), &ans);
    ck_assert_msg(deck != NULL, "%s: cannot read %s", g->name, g->netlist);
    double *v = calloc((size_t)ans.n, sizeof *v);
    eqs_ctx *ctx = tu_ctx();
    eqs_status st = eqs_ngspice_run_deck(ctx, deck, ans.n, (const char *const *)ans.node, v,
                                         NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s: %s", g->name, eqs_ctx_error(ctx));
    double worst = 0.0;
    for (int k = 0; k < ans.n; ++k)
        if (!(fabs(v[k] - ans.v[k]) <= worst)) worst = fabs(v[k] - ans.v[k]);
    if (getenv("EQS_GOLDEN_REPORT"))
        fprintf(stderr, "golden: %s ngspice-raw golden options: max |dV| = %.3g V\n", g->name,
                worst);
    for (int k = 0; k < ans.n; ++k)
        ck_assert_msg(fabs(v[k] - ans.v[k]) <= GOLDEN_TOL_EXACT_V,
                      "%s (ngspice on the raw netlist): node %s = %.17g V, golden %.17g V",
                      g->name, ans.node[k], v[k], ans.v[k]);
    for (char **l = deck; *l; ++l) free(*l);
    free(deck);
    free(v);
    eqs_ctx_free(&ctx);
    answer_free(&ans);
}

START_TEST(test_golden_ngspice_raw) { check_case_raw(_i); }
END_TEST

/* Newton as a user runs it: default options (reltol 1e-6, vntol 1e-6 V)
 * plus the netlist's .options. */
START_TEST(test_golden_newton) { check_case(_i, EQS_BACKEND_NEWTON, 0); }
END_TEST

/* Newton with the golden's tolerances: the device physics and the linear
 * algebra alone, without the stopping point of the iteration. */
START_TEST(test_golden_newton_tight) { check_case(_i, EQS_BACKEND_NEWTON, 1); }
END_TEST

START_TEST(test_golden_ngspice_live) { check_case(_i, EQS_BACKEND_NGSPICE, 1); }
END_TEST

/* The layered solver at its default sweep tolerance, on the cases that are
 * layered networks (the others are skipped). */
START_TEST(test_golden_layered) { check_case(_i, EQS_BACKEND_LAYERED, 0); }
END_TEST

/* The set of goldens is complete and every file carries its provenance. */
START_TEST(test_golden_manifest)
{
    load_manifest();
    ck_assert_msg(n_cases >= GOLDEN_MIN_CASES, "MANIFEST lists %d cases, want >= %d", n_cases,
                  GOLDEN_MIN_CASES);
    for (int i = 0; i < n_cases; ++i) {
        char path[700], err[1024];
        snprintf(path, sizeof path, "tests/golden/%.127s.csv", cases[i].name);
        golden_answer a;
        ck_assert_msg(answer_read(tu_path(path), &a, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(a.has_version && a.has_opts && a.has_date && a.has_netlist,
                      "%s: provenance header incomplete", cases[i].name);
        answer_free(&a);
        FILE *f = fopen(tu_path(cases[i].netlist), "r");
        ck_assert_msg(f != NULL, "%s: netlist %s missing", cases[i].name, cases[i].netlist);
        fclose(f);
    }
    /* the layered check covers the layered cases (6 when its tolerance was
     * measured) */
    int n_layered = 0;
    for (int i = 0; i < n_cases; ++i) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_circuit *c = NULL;
        if (eqs_netlist_read(ctx, tu_path(cases[i].netlist), &nl) == EQS_OK &&
            eqs_circuit_create(ctx, nl, &c) == EQS_OK)
            n_layered += eqs_circuit_is_layered(c, NULL, 0) == 1;
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_ctx_free(&ctx);
    }
    ck_assert_msg(n_layered >= 6, "%d layered golden cases, want >= 6", n_layered);
    /* every example netlist is a golden case */
    static const char *const examples[] = {"divider", "clipper", "crossbar3x3", "layered",
                                           "amplifier"};
    for (size_t e = 0; e < sizeof examples / sizeof *examples; ++e) {
        int found = 0;
        for (int i = 0; i < n_cases; ++i) found |= !strcmp(cases[i].name, examples[e]);
        ck_assert_msg(found, "example %s has no golden", examples[e]);
    }
}
END_TEST

/* The ngspice deck carries the temperatures (what the temp_* goldens were
 * made through; ngspice-raw checks that ngspice reads the same from the
 * netlist itself). */
START_TEST(test_golden_deck_temperature)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, tu_path("tests/golden/cases/temp_85.cir"), &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    char **lines = NULL;
    ck_assert_int_eq(eqs_deck_build(ctx, c, &opt, 1, &lines), EQS_OK);
    static const char *const want[] = {
        " itl1=100 temp=85 tnom=35",
        ".model dsch D(is=5.0000000000000001e-09 n=1.1000000000000001 rs=0 ibv=0.001 eg=0.68999999999999995 xti=2)",
        ".model dn2 D(is=9.9999999999999998e-13 n=2 rs=0 ibv=0.001 tnom=50)",
        ".model dzen1 D(is=1e-14 n=1 rs=0 bv=6.2000000000000002 ibv=0.0050000000000000001 tcv=0.00040000000000000002 tlev=1)",
        ".model dznbv D(is=9.9999999999999998e-13 n=1.2 rs=0 bv=3.2999999999999998 ibv=0.0001 nbv=2 tcv=-0.001)",
        ".model drs D(is=2e-14 n=1 rs=20 ibv=0.001 trs=0.0030000000000000001 trs2=1.0000000000000001e-05)",
        "dt1 t1 0 dsi area=1 temp=100",
        "dt2 t2 0 dsi area=1 dtemp=-20",
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; ++k) {
        int found = 0;
        for (char **l = lines; *l && !found; ++l) found = strstr(*l, want[k]) != NULL;
        ck_assert_msg(found, "deck lacks '%s'", want[k]);
    }
    /* eqspice reads its own deck (what export writes) back to the same
     * temperatures and parameters */
    size_t len = 1;
    for (char **l = lines; *l; ++l) len += strlen(*l) + 1;
    char *text = calloc(len, 1);
    for (char **l = lines; *l; ++l) strcat(strcat(text, *l), "\n");
    eqs_netlist *back = NULL;
    ck_assert_msg(eqs_netlist_read_string(ctx, text, "deck.cir", &back) == EQS_OK, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_int_eq(back->options.temp_set, 1);
    ck_assert_double_eq(back->options.temp_C, 85);
    ck_assert_double_eq(back->options.tnom_C, 35);
    ck_assert_int_eq(back->n_models, nl->n_models);
    for (int m = 0; m < nl->n_models; ++m) {
        const eqs_diode_model *a = &nl->models[m], *b = &back->models[m];
        ck_assert_str_eq(a->name, b->name);
        ck_assert_uint_eq(a->given, b->given);
        ck_assert_int_eq(a->tnom_default, b->tnom_default);
        ck_assert(a->tnom_default || a->tnom_C == b->tnom_C);
        ck_assert(a->eg_eV == b->eg_eV && a->xti == b->xti && a->nbv == b->nbv &&
                  a->tcv == b->tcv && a->tlev == b->tlev && a->trs1_per_K == b->trs1_per_K &&
                  a->trs2_per_K2 == b->trs2_per_K2);
    }
    for (int e = 0; e < nl->n_elems; ++e) {
        const eqs_element *a = &nl->elems[e], *b = &back->elems[e];
        ck_assert(a->temp_given == b->temp_given && a->dtemp_given == b->dtemp_given);
        ck_assert(a->temp_C == b->temp_C && a->dtemp_C == b->dtemp_C);
    }
    eqs_netlist_free(&back);
    free(text);
    eqs_deck_free(ctx, &lines);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

Suite *suite_golden(void)
{
    Suite *s = suite_create("golden");
    load_manifest();
    TCase *tc = tcase_create("manifest");
    tcase_add_test(tc, test_golden_manifest);
    tcase_add_test(tc, test_golden_deck_temperature);
    suite_add_tcase(s, tc);
    tc = tcase_create("newton");
    tcase_set_timeout(tc, 30);
    if (n_cases > 0) tcase_add_loop_test(tc, test_golden_newton, 0, n_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("newton-tight");
    tcase_set_timeout(tc, 30);
    if (n_cases > 0) tcase_add_loop_test(tc, test_golden_newton_tight, 0, n_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("ngspice");
    tcase_set_timeout(tc, 60);
    if (n_cases > 0) tcase_add_loop_test(tc, test_golden_ngspice_live, 0, n_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("layered");
    tcase_set_timeout(tc, 30);
    if (n_cases > 0) tcase_add_loop_test(tc, test_golden_layered, 0, n_cases);
    suite_add_tcase(s, tc);
    tc = tcase_create("ngspice-raw");
    tcase_set_timeout(tc, 60);
    if (n_cases > 0) tcase_add_loop_test(tc, test_golden_ngspice_raw, 0, n_cases);
    suite_add_tcase(s, tc);
    return s;
}
