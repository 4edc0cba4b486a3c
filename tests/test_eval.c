/* test_eval.c: runs describe themselves: the evaluation cards of
 * a trained netlist (.diodes, .encoding, .targets, .solver), what stock
 * ngspice does with them, the neutral inputs of trained.cir, and
 * `eqspice eval RUNDIR | TRAINED.cir` reproducing a run's final metrics.
 *
 * Independent references: the run's own metrics.csv (written by the
 * trainer during training), libngspice on the raw file text, the
 * experiment's values for the cards, and data generated here with an LCG. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "solver/solver.h" /* eqs_ngspice_run_deck (test hook) */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* CSV with 4 features in [0,1) from an LCG and label (x0 + x1 > x2 + x3). */
static void write_csv(const char *path, int n, unsigned long long *state)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "x0,x1,x2,x3,label\n");
    for (int i = 0; i < n; ++i) {
        double x[4];
        for (int k = 0; k < 4; ++k) {
            *state = (*state * 1103515245ULL + 12345ULL) % 2147483648ULL;
            x[k] = (double)*state / 2147483648.0;
        }
        fprintf(f, "%.6f,%.6f,%.6f,%.6f,%d\n", x[0], x[1], x[2], x[3],
                x[0] + x[1] > x[2] + x[3]);
    }
    fclose(f);
}

/* A DRN 4-12-2 on the CSV task, pair encoding, gain 4 V, targets 0.5/0 V,
 * 4 epochs of batch 4: `backend`/`diodes` as given.  Returns the run
 * directory (inside dir); the CSV files are dir/train.csv, dir/test.csv. */
static const char *train_run(const char *dir, const char *backend, const char *diodes,
                             int with_test, const char *drn_attrs)
{
    static char run[2][4200];
    static int which;
    char *r = run[which++ % 2];
    char path[4300], xml[4096];
    unsigned long long seed = 12345;
    snprintf(path, sizeof path, "%s/train.csv", dir);
    write_csv(path, 96, &seed);
    snprintf(path, sizeof path, "%s/test.csv", dir);
    write_csv(path, 48, &seed);
    snprintf(r, 4200, "%s/run-%s", dir, backend);
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"4 12 2\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-4\" %s/>"
             "</network>\n"
             "  <dataset classes=\"2\"><csv><train path=\"train.csv\"/>%s</csv></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\"><rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
             "  <training epochs=\"4\" batch=\"4\" seed=\"3\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"%s\" diodes=\"%s\"/>\n"
             "  <output dir=\"%s\"/>\n"
             "</experiment>\n",
             drn_attrs, with_test ? "<test path=\"test.csv\"/>" : "", backend, diodes, r);
    snprintf(path, sizeof path, "%s/%s.xml", dir, backend);
    write_file(path, xml);
    char *out = NULL, *err = NULL;
    const char *argv[] = {"train", path, NULL};
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "train rc %d: %s", rc, err);
    free(out);
    free(err);
    return r;
}

typedef struct {
    double train_loss, train_error, test_loss, test_error;
} metrics_row;

/* The last row of RUN/metrics.csv. */
static metrics_row last_metrics(const char *run)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    char *text = tu_read_file(path);
    ck_assert_ptr_nonnull(text);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n') text[--n] = '\0';
    char *line = strrchr(text, '\n');
    ck_assert_ptr_nonnull(line);
    metrics_row m;
    int epoch = 0;
    ck_assert_int_eq(sscanf(line + 1, "%d,%lf,%lf,%lf,%lf", &epoch, &m.train_loss,
                            &m.train_error, &m.test_loss, &m.test_error), 5);
    ck_assert_int_eq(epoch, 4);
    free(text);
    return m;
}

/* Run `eval` with argv; on exit 0 parse samples, loss and error.  Returns
 * the exit code; *err_out (may be NULL) gets stderr (caller frees). */
static int run_eval(const char *const *argv, int *samples, double *loss, double *error,
                    char **err_out)
{
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 60);
    if (rc == 0) {
        ck_assert_msg(!strncmp(out, "samples,loss_V2,error,accuracy\n", 31), "%s", out);
        double acc = -1;
        ck_assert_int_eq(sscanf(out + 31, "%d,%lf,%lf,%lf", samples, loss, error, &acc), 4);
        ck_assert(acc == 1 - *error);
    }
    free(out);
    if (err_out) *err_out = err;
    else free(err);
    return rc;
}

/* eval with argv exits 1 and says `msg` on stderr. */
static void expect_eval_error(const char *const *argv, const char *msg)
{
    int ns = 0;
    double loss = NAN, error = NAN;
    char *err = NULL;
    ck_assert_int_eq(run_eval(argv, &ns, &loss, &error, &err), 1);
    ck_assert_msg(strstr(err, msg), "expected '%s' in: %s", msg, err);
    free(err);
}

/* The loss eval prints against the metrics row.  Both evaluate the same
 * conductances (the netlist's R = 1/G reads back within 4 ulp,
 * test_export.c) from the same cold start with the same solver settings,
 * so they may differ only by where the solver stops: at most tol_V per
 * output voltage (layered 1e-10 V; Newton at reltol/vntol 1e-12), i.e.
 * |dloss| <= n_out * max|V - y| * tol_V with |V - y| < 1 V here.  The
 * measured differences are 3e-18 to 7e-18 V^2. */
static void expect_loss(double got, double want, const char *what)
{
    const double n_out = 2, tol_V = 1e-10;
    ck_assert_msg(fabs(got - want) <= n_out * tol_V, "%s: loss %.17g, metrics %.17g", what, got,
                  want);
}

/* ------------------------------------------------------------------ */
/* Cards                                                               */
/* ------------------------------------------------------------------ */

static const char *const NET =
    "cards\n"
    "v1 a 0 dc 1\n"
    "r1 a o 1k\n"
    "r2 o 0 1k\n"
    "d1 o 0 dm\n"
    ".model dm d(is=1e-14)\n"
    ".input v1\n"
    ".output o\n";

static eqs_status read_cards(eqs_ctx *ctx, const char *cards, eqs_netlist **nl, eqs_circuit **c)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s.end\n", NET, cards);
    *c = NULL;
    eqs_status st = eqs_netlist_read_string(ctx, text, "cards.cir", nl);
    if (st == EQS_OK) st = eqs_circuit_create(ctx, *nl, c);
    return st;
}

START_TEST(test_cards_read)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    /* the comment form (as written) and the plain form, mixed case */
    ck_assert_msg(read_cards(ctx,
                             "*eqspice .diodes IDEAL\n"
                             "*EQSPICE .encoding single gain_V=2.5\n"
                             ".targets off_v=-0.25 on_V=0.75\n"
                             "*eqspice .solver layered tol_V=1e-11 precision=single batch=7\n",
                             &nl, &c) == EQS_OK,
                  "%s", eqs_ctx_error(ctx));
    eqs_eval_settings ev;
    eqs_circuit_eval_settings(c, &ev);
    ck_assert_uint_eq(ev.set, EQS_EVAL_DIODES | EQS_EVAL_ENCODING | EQS_EVAL_GAIN | EQS_EVAL_ON |
                                  EQS_EVAL_OFF | EQS_EVAL_BACKEND | EQS_EVAL_TOL |
                                  EQS_EVAL_PRECISION | EQS_EVAL_BATCH);
    ck_assert_int_eq(ev.diodes, EQS_DIODES_IDEAL);
    ck_assert_int_eq(ev.encoding, EQS_ENCODE_SINGLE);
    ck_assert(ev.input_gain_V == 2.5);
    ck_assert(ev.target_on_V == 0.75);
    ck_assert(ev.target_off_V == -0.25);
    ck_assert_int_eq(ev.backend, EQS_BACKEND_LAYERED);
    ck_assert(ev.bcd_tol_V == 1e-11);
    ck_assert_int_eq(ev.single, 1);
    ck_assert_int_eq(ev.batch, 7);
    const char *file = NULL;
    int line = 0;
    ck_assert_int_eq(eqs_circuit_eval_card_loc(c, EQS_EVAL_GAIN, &file, &line), 1);
    ck_assert_str_eq(file, "cards.cir");
    ck_assert_int_eq(line, 10);
    ck_assert_int_eq(eqs_circuit_eval_card_loc(c, EQS_EVAL_BATCH, &file, &line), 1);
    ck_assert_int_eq(line, 12);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);

    /* no cards: defaults, nothing set, no location; partial cards */
    ck_assert_int_eq(read_cards(ctx, ".targets on_V=2\n.solver newton\n", &nl, &c), EQS_OK);
    eqs_circuit_eval_settings(c, &ev);
    ck_assert_uint_eq(ev.set, EQS_EVAL_ON | EQS_EVAL_BACKEND);
    eqs_eval_settings d;
    eqs_eval_settings_defaults(&d);
    ck_assert(ev.target_on_V == 2 && ev.target_off_V == d.target_off_V);
    ck_assert(ev.input_gain_V == d.input_gain_V && ev.batch == d.batch);
    ck_assert_int_eq(ev.diodes, EQS_DIODES_SHOCKLEY);
    ck_assert_int_eq(ev.backend, EQS_BACKEND_NEWTON);
    ck_assert_int_eq(eqs_circuit_eval_card_loc(c, EQS_EVAL_DIODES, &file, &line), 0);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* Every malformed card: a parse error at file:line:col naming the problem. */
START_TEST(test_cards_errors)
{
    static const struct {
        const char *cards, *where, *msg;
    } bad[] = {
        {".diodes\n", "cards.cir:9:1:", "'.diodes' needs shockley|ideal"},
        {".diodes perfect\n", "cards.cir:9:9:", "got 'perfect'"},
        {".diodes ideal extra=1\n", "cards.cir:9:15:", "it takes nothing more"},
        {".encoding gain_V=3\n", "cards.cir:9:11:", "needs auto|single|pair"},
        {".encoding pair gain=3\n", "cards.cir:9:16:", "it takes gain_V=value"},
        {".encoding pair gain_V=\n", "cards.cir:9:16:", "unexpected 'gain_V'"},
        {".encoding pair gain_V=abc\n", "cards.cir:9:23:", "abc"},
        {".targets on_V=1 off_V=1\n", "cards.cir:9:1:", "on_V and off_V are equal"},
        {".encoding pair gain_V=2 gain_V=3\n", "cards.cir:9:25:",
         "'gain_V' given twice in '.encoding'"},
        {".solver spectre\n", "cards.cir:9:9:", "needs newton|ngspice|layered|auto"},
        {".solver layered tol_V=0\n", "cards.cir:9:23:", "tol_V must be positive"},
        {".solver layered batch=2.5\n", "cards.cir:9:23:", "batch needs an integer"},
        {".solver layered precision=half\n", "cards.cir:9:27:", "double or single"},
        {".diodes ideal\n*eqspice .diodes shockley\n", "cards.cir:10:10:",
         "second '.diodes' card (the first is at line 9)"},
        {".subckt s a\n.targets on_V=1\nr1 a 0 1k\n.ends\n", "cards.cir:10:1:",
         "only allowed at the top level"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        eqs_ctx *ctx = tu_ctx();
        eqs_netlist *nl = NULL;
        eqs_circuit *c = NULL;
        ck_assert_int_eq(read_cards(ctx, bad[i].cards, &nl, &c), EQS_ERR_PARSE);
        const char *e = eqs_ctx_error(ctx);
        ck_assert_msg(strstr(e, bad[i].where) && strstr(e, bad[i].msg), "case %zu: %s", i, e);
        ck_assert_ptr_null(nl);
        eqs_ctx_free(&ctx);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stock ngspice and the cards                                         */
/* ------------------------------------------------------------------ */

/* What ngspice 39 does with an evaluation card written as a dot card: the
 * same divider with and without `.diodes ideal`.  Observed: the dot card is
 * refused (error output, EQS_ERR_NGSPICE from the hook), which is why the
 * cards are written as "*eqspice" comment lines; the comment form runs. */
START_TEST(test_ngspice_and_cards)
{
    eqs_ctx *ctx = tu_ctx();
    char *plain[] = {(char *)"divider", (char *)"v1 a 0 dc 2", (char *)"r1 a o 1k",
                     (char *)"r2 o 0 3k", (char *)"*eqspice .diodes ideal",
                     (char *)"*eqspice .encoding pair gain_V=4", (char *)".op", (char *)".end",
                     NULL};
    const char *names[] = {"o"};
    double v = 0;
    eqs_status st = eqs_ngspice_run_deck(ctx, plain, 1, names, &v, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_double_eq_tol(v, 1.5, 1e-12);
    char *dot[] = {(char *)"divider", (char *)"v1 a 0 dc 2", (char *)"r1 a o 1k",
                   (char *)"r2 o 0 3k", (char *)".diodes ideal", (char *)".op", (char *)".end",
                   NULL};
    st = eqs_ngspice_run_deck(ctx, dot, 1, names, &v, NULL, NULL);
    fprintf(stderr, "ngspice on a '.diodes ideal' dot card: %s (%s)\n", eqs_status_name(st),
            eqs_ctx_error(ctx));
    ck_assert_int_eq(st, EQS_ERR_NGSPICE);
    eqs_ctx_free(&ctx);
}
END_TEST

/* The raw text of a run's trained.cir, loaded into libngspice line by line
 * (ngSpice_Circ) and run with `op`, agrees with eqspice's Newton solve of
 * the same file (inputs at 0 V; the bias rails at +-2 V keep the node
 * voltages away from 0). */
START_TEST(test_trained_cir_runs_in_ngspice)
{
    const char *dir = tu_temp_dir();
    const char *run = train_run(dir, "newton", "shockley", 1, "rails_V=\"2\"");
    char path[4300];
    snprintf(path, sizeof path, "%s/trained.cir", run);
    char **lines = tu_file_lines(path, NULL);
    int n_cards = 0;
    for (char **l = lines; *l; ++l) {
        ck_assert_msg((*l)[0] != '.' || !strncmp(*l, ".op", 3) || !strncmp(*l, ".end", 4) ||
                          !strncmp(*l, ".model", 6) || !strncmp(*l, ".options", 8),
                      "a dot card ngspice would refuse: %s", *l);
        n_cards += !strncmp(*l, "*eqspice .", 10);
    }
    ck_assert_int_eq(n_cards, 7); /* .input .output .trainable + 4 evaluation cards */
    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, path, &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_solver_create(ctx, c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
    int nn = eqs_circuit_node_count(c);
    const char **names = malloc((size_t)nn * sizeof *names);
    double *ng = calloc((size_t)nn, sizeof *ng);
    for (int i = 1; i < nn; ++i) names[i - 1] = eqs_circuit_node_name(c, i);
    eqs_status st = eqs_ngspice_run_deck(ctx, lines, nn - 1, names, ng, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(ctx));
    const double *v = eqs_solver_voltages(s);
    double vmax = 0;
    for (int i = 1; i < nn; ++i) {
        ck_assert_msg(fabs(v[i] - ng[i - 1]) <= 1e-9, "node %s: %.17g vs ngspice %.17g",
                      names[i - 1], v[i], ng[i - 1]);
        if (eqs_circuit_node_find(c, "o0") == i || eqs_circuit_node_find(c, "o1") == i)
            vmax = fmax(vmax, fabs(v[i]));
    }
    ck_assert_msg(vmax > 1e-3, "outputs at %g V: the comparison says nothing", vmax);
    for (int k = 0; k < eqs_circuit_input_count(c); ++k)
        ck_assert(eqs_circuit_input_get(c, k) == 0.0);
    free(names);
    free(ng);
    tu_free_lines(lines);
    eqs_solver_free(&s);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* eqs_export_trained_netlist                                          */
/* ------------------------------------------------------------------ */

/* In process: after training steps the circuit's inputs hold the last
 * sample; the exported file has them at 0 V, cards equal to the
 * experiment's values, and the circuit keeps its inputs. */
START_TEST(test_export_trained_cards_and_inputs)
{
    const char *dir = tu_temp_dir();
    char csv[4300], xml[4300], out[4300];
    unsigned long long seed = 99;
    snprintf(csv, sizeof csv, "%s/d.csv", dir);
    write_csv(csv, 16, &seed);
    snprintf(xml, sizeof xml, "%s/e.xml", dir);
    write_file(xml, "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
                    "  <network><drn layers=\"4 6 2\"/></network>\n"
                    "  <dataset classes=\"2\"><csv><train path=\"d.csv\"/></csv></dataset>\n"
                    "  <input gain_V=\"3.25\"/>\n"
                    "  <targets on_V=\"0.625\" off_V=\"-0.125\"/>\n"
                    "  <algorithm beta=\"1e-5\"/>\n"
                    "  <learning><rate elements=\"r*\" value=\"1e-8\"/></learning>\n"
                    "  <training epochs=\"1\" batch=\"4\"/>\n"
                    "  <solver backend=\"layered\" diodes=\"ideal\" tol_V=\"3e-11\" "
                    "precision=\"single\"/>\n"
                    "  <output dir=\"/nonexistent\"/>\n</experiment>\n");
    tu_job j;
    tu_job_open(&j, xml, 1);
    ck_assert_int_eq(eqs_trainer_batched(j.tr), 1);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    int n_in = eqs_circuit_input_count(j.c);
    ck_assert_int_eq(n_in, 8);
    /* the circuit's inputs as training left them (set some if the batched
     * path kept them elsewhere) */
    double before[8];
    for (int k = 0; k < n_in; ++k) {
        if (eqs_circuit_input_get(j.c, k) == 0)
            ck_assert_int_eq(eqs_circuit_input_set(j.c, k, 0.5 + k), EQS_OK);
        before[k] = eqs_circuit_input_get(j.c, k);
    }
    snprintf(out, sizeof out, "%s/trained.cir", dir);
    ck_assert_msg(eqs_export_trained_netlist(j.ctx, j.c, j.exp, j.tr, out) == EQS_OK, "%s",
                  eqs_ctx_error(j.ctx));
    for (int k = 0; k < n_in; ++k) ck_assert(eqs_circuit_input_get(j.c, k) == before[k]);

    eqs_ctx *ctx = tu_ctx();
    eqs_netlist *nl = NULL;
    eqs_circuit *c = NULL;
    ck_assert_int_eq(eqs_netlist_read(ctx, out, &nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
    ck_assert_int_eq(eqs_circuit_input_count(c), n_in);
    for (int k = 0; k < n_in; ++k) ck_assert(eqs_circuit_input_get(c, k) == 0.0);
    for (int k = 0; k < eqs_circuit_param_count(c); ++k) {
        double a = eqs_circuit_param_get(j.c, k), b = eqs_circuit_param_get(c, k);
        ck_assert_msg(fabs(a - b) <= 4 * 2.220446049250313e-16 * a, "param %d", k);
    }
    eqs_eval_settings ev;
    eqs_circuit_eval_settings(c, &ev);
    ck_assert_int_eq(ev.diodes, EQS_DIODES_IDEAL);
    ck_assert_int_eq(ev.encoding, EQS_ENCODE_PAIR); /* auto, resolved: 8 sources, 4 features */
    ck_assert(ev.input_gain_V == 3.25);
    ck_assert(ev.target_on_V == 0.625 && ev.target_off_V == -0.125);
    ck_assert_int_eq(ev.backend, EQS_BACKEND_LAYERED);
    ck_assert(ev.bcd_tol_V == 3e-11);
    ck_assert_int_eq(ev.single, 1);
    ck_assert_int_eq(ev.batch, 4);
    char *text = tu_read_file(out);
    ck_assert_ptr_nonnull(strstr(text, "input sources\n* are at 0 V (a neutral state"));
    ck_assert_ptr_nonnull(strstr(text, "*eqspice .diodes ideal\n"));
    free(text);
    eqs_circuit_free(&c);
    eqs_netlist_free(&nl);
    eqs_ctx_free(&ctx);
    tu_job_close(&j);
}
END_TEST

/* ------------------------------------------------------------------ */
/* eqspice eval                                                        */
/* ------------------------------------------------------------------ */

/* eval RUNDIR, eval RUNDIR --set train and eval RUNDIR/trained.cir --csv
 * test.csv (no settings flags) reproduce the last metrics row. */
static void check_reproduces(const char *dir, const char *run, const char *what)
{
    metrics_row m = last_metrics(run);
    int ns = 0;
    double loss = NAN, error = NAN;
    char *err = NULL;
    const char *a1[] = {"eval", run, NULL};
    ck_assert_int_eq(run_eval(a1, &ns, &loss, &error, &err), 0);
    ck_assert_msg(!strstr(err, "warning"), "%s: %s", what, err);
    free(err);
    ck_assert_int_eq(ns, 48);
    ck_assert_msg(error == m.test_error, "%s: error %.17g, metrics %.17g", what, error,
                  m.test_error);
    expect_loss(loss, m.test_loss, what);
    fprintf(stderr, "%s: eval RUNDIR error %.4f loss %.17g, metrics %.4f %.17g\n", what, error,
            loss, m.test_error, m.test_loss);

    const char *a2[] = {"eval", run, "--set", "train", NULL};
    ck_assert_int_eq(run_eval(a2, &ns, &loss, &error, NULL), 0);
    ck_assert_int_eq(ns, 96);
    ck_assert(error == m.train_error);
    expect_loss(loss, m.train_loss, what);

    char net[4300], csv[4300];
    snprintf(net, sizeof net, "%s/trained.cir", run);
    snprintf(csv, sizeof csv, "%s/test.csv", dir);
    const char *a3[] = {"eval", net, "--csv", csv, NULL};
    ck_assert_int_eq(run_eval(a3, &ns, &loss, &error, &err), 0);
    ck_assert_msg(!strstr(err, "warning"), "%s: %s", what, err);
    free(err);
    ck_assert(error == m.test_error);
    expect_loss(loss, m.test_loss, what);
}

START_TEST(test_eval_reproduces_newton_run)
{
    const char *dir = tu_temp_dir();
    const char *run = train_run(dir, "newton", "shockley", 1, "");
    check_reproduces(dir, run, "newton, shockley");
}
END_TEST

START_TEST(test_eval_reproduces_layered_run)
{
    const char *dir = tu_temp_dir();
    const char *run = train_run(dir, "layered", "ideal", 1, "");
    check_reproduces(dir, run, "layered, ideal");
    /* the wrong physics gives another answer, and says so */
    metrics_row m = last_metrics(run);
    int ns = 0;
    double loss = NAN, error = NAN;
    char *err = NULL;
    const char *a[] = {"eval", run, "--diodes", "shockley", NULL};
    ck_assert_int_eq(run_eval(a, &ns, &loss, &error, &err), 0);
    ck_assert_msg(strstr(err, "warning: --diodes shockley contradicts the card at ") &&
                      strstr(err, "trained.cir:") && strstr(err, "(diodes=ideal)"),
                  "%s", err);
    free(err);
    ck_assert_msg(fabs(loss - m.test_loss) > 1e-3 * m.test_loss, "loss %g vs %g", loss,
                  m.test_loss);
}
END_TEST

/* A run without a test set: eval RUNDIR evaluates the training set (the
 * last train_* values); --set test is an error. */
START_TEST(test_eval_run_without_test_set)
{
    const char *dir = tu_temp_dir();
    const char *run = train_run(dir, "layered", "ideal", 0, "");
    metrics_row m = last_metrics(run);
    ck_assert(isnan(m.test_loss));
    int ns = 0;
    double loss = NAN, error = NAN;
    const char *a1[] = {"eval", run, NULL};
    ck_assert_int_eq(run_eval(a1, &ns, &loss, &error, NULL), 0);
    ck_assert_int_eq(ns, 96);
    ck_assert(error == m.train_error);
    expect_loss(loss, m.train_loss, "no test set");
    expect_eval_error((const char *const[]){"eval", run, "--set", "test", NULL},
                      "has no test set");
    /* dataset options without a dataset are refused, not ignored */
    expect_eval_error((const char *const[]){"eval", run, "--limit", "10", NULL},
                      "--limit shapes a dataset given with --idx, --csv or --synthetic");
    expect_eval_error((const char *const[]){"eval", run, "--n", "10", NULL}, "--n shapes");
}
END_TEST

/* A netlist without the cards (as eqspice wrote them before): the right
 * flags reproduce the run; no flags warn about the assumed physics; a wrong
 * encoding is an input-count error; a directory that is no finished run,
 * and contradictory usage, are errors. */
START_TEST(test_eval_old_netlist_and_errors)
{
    const char *dir = tu_temp_dir();
    const char *run = train_run(dir, "layered", "ideal", 1, "");
    metrics_row m = last_metrics(run);
    char net[4300], old[4300], csv[4300];
    snprintf(net, sizeof net, "%s/trained.cir", run);
    snprintf(old, sizeof old, "%s/old.cir", dir);
    snprintf(csv, sizeof csv, "%s/test.csv", dir);
    char **lines = tu_file_lines(net, NULL);
    FILE *f = fopen(old, "w");
    int dropped = 0;
    for (char **l = lines; *l; ++l) {
        if (!strncmp(*l, "*eqspice .diodes", 16) || !strncmp(*l, "*eqspice .encoding", 18) ||
            !strncmp(*l, "*eqspice .targets", 17) || !strncmp(*l, "*eqspice .solver", 16)) {
            dropped++;
            continue;
        }
        fprintf(f, "%s\n", *l);
    }
    fclose(f);
    tu_free_lines(lines);
    ck_assert_int_eq(dropped, 4);

    int ns = 0;
    double loss = NAN, error = NAN;
    char *err = NULL;
    const char *a1[] = {"eval", old, "--csv", csv, "--gain", "4", "--on", "0.5", "--off", "0",
                        "--diodes", "ideal", "--batch", "4", NULL};
    ck_assert_int_eq(run_eval(a1, &ns, &loss, &error, &err), 0);
    ck_assert_msg(!strstr(err, "warning"), "%s", err);
    free(err);
    ck_assert(error == m.test_error);
    expect_loss(loss, m.test_loss, "old netlist with flags");

    const char *a2[] = {"eval", old, "--csv", csv, NULL};
    ck_assert_int_eq(run_eval(a2, &ns, &loss, &error, &err), 0);
    ck_assert_msg(strstr(err, "has no evaluation cards") &&
                      strstr(err, "diodes=shockley, gain_V=1, on_V=1, off_V=0"),
                  "%s", err);
    free(err);
    ck_assert(fabs(loss - m.test_loss) > 1e-3 * m.test_loss);

    expect_eval_error((const char *const[]){"eval", old, "--csv", csv, "--encoding", "single",
                                            NULL},
                      "8 .input sources (single encoding needs 4)");
    const char *a4[] = {"eval", net, "--csv", csv, "--encoding", "single", NULL};
    ck_assert_int_eq(run_eval(a4, &ns, &loss, &error, &err), 1);
    ck_assert_msg(strstr(err, "--encoding single contradicts the card") &&
                      strstr(err, "single encoding needs 4"),
                  "%s", err);
    free(err);
    /* ideal diodes (the card) with Newton (a flag): the solver refuses */
    expect_eval_error((const char *const[]){"eval", net, "--csv", csv, "--solver", "newton", NULL},
                      "cannot model ideal diodes");
    /* a directory that is not a finished run */
    expect_eval_error((const char *const[]){"eval", dir, NULL}, "is not a finished run directory");
    /* usage */
    expect_eval_error((const char *const[]){"eval", net, NULL},
                      "give one of --idx, --csv, --synthetic");
    expect_eval_error((const char *const[]){"eval", net, "--csv", csv, "--set", "train", NULL},
                      "--set selects");
    expect_eval_error((const char *const[]){"eval", net, "--csv", csv, "--on", "0", NULL},
                      "on_V and off_V are equal");
}
END_TEST

Suite *suite_eval(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("cards");
    tcase_add_test(tc, test_cards_read);
    tcase_add_test(tc, test_cards_errors);
    tcase_add_test(tc, test_ngspice_and_cards);
    tcase_add_test(tc, test_export_trained_cards_and_inputs);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, test_trained_cir_runs_in_ngspice);
    tcase_add_test(cli, test_eval_reproduces_newton_run);
    tcase_add_test(cli, test_eval_reproduces_layered_run);
    tcase_add_test(cli, test_eval_run_without_test_set);
    tcase_add_test(cli, test_eval_old_netlist_and_errors);
    suite_add_tcase(s, cli);
    return s;
}
