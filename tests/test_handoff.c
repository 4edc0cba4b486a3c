/* test_handoff.c: the hand-off to hardware teams (`eqspice export` and
 * `eqspice import`, src/export/handoff.c, docs/export.md).
 *
 * Independent references: the run's own trained.cir read by the netlist
 * reader (the values export must write and import must give back, bit for
 * bit); libngspice (eqs_ngspice_run_deck) and stock /usr/bin/ngspice on the
 * raw text of top.cir against eqspice's Newton solve of trained.cir with
 * inputs encoded here from the run's test set; sha256sum(1) for the
 * manifest's checksums; the level grid computed here from the device
 * model's window. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A DRN 2-6-2 with trainable bias rails on the XOR task (64 training, 16
 * test samples), pair encoding, gain 2 V, programmed through the 64-level
 * constant-step model (models/linear-step-64.xml), 2 epochs with Newton.
 * Returns the run directory inside dir (static). */
static const char *train_run(const char *dir)
{
    static char run[4200];
    char xml[8192], path[4300];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 6 2\" g_init_min_S=\"1e-5\" g_init_max_S=\"1e-4\" "
             "rails_V=\"1\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"64\" "
             "test_size=\"16\"/></dataset>\n"
             "  <input gain_V=\"2\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.5\"><rate elements=\"r*\" value=\"1e-8\"/></learning>\n"
             "  <training epochs=\"2\" batch=\"4\" seed=\"11\"/>\n"
             "  <conductance g_min_S=\"1e-6\" g_max_S=\"1e-4\" device_model=\"%s\"/>\n"
             "  <solver backend=\"newton\"/>\n"
             "  <output dir=\"%s\"/>\n"
             "</experiment>\n",
             tu_path("models/linear-step-64.xml"), run);
    snprintf(path, sizeof path, "%s/exp.xml", dir);
    write_file(path, xml);
    char *out = NULL, *err = NULL;
    const char *argv[] = {"train", path, NULL};
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "train rc %d: %s", rc, err);
    free(out);
    free(err);
    return run;
}

/* `eqspice` with argv; returns the exit status, stderr into *err (owned). */
static int cli(const char *const *argv, char **err)
{
    char *out = NULL;
    int rc = tu_run_cli(argv, &out, err, 60);
    free(out);
    return rc;
}

static void export_ok(const char *run, const char *dir, const char *sample)
{
    char *err = NULL;
    const char *a1[] = {"export", run, "-o", dir, NULL};
    const char *a2[] = {"export", run, "-o", dir, "--sample", sample, NULL};
    int rc = cli(sample ? a2 : a1, &err);
    ck_assert_msg(rc == 0, "export rc %d: %s", rc, err);
    free(err);
}

typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
} loaded;

static void load(loaded *L, const char *path)
{
    L->ctx = tu_ctx();
    L->nl = NULL;
    L->c = NULL;
    ck_assert_int_eq(eqs_netlist_read(L->ctx, path, &L->nl), EQS_OK);
    ck_assert_int_eq(eqs_circuit_create(L->ctx, L->nl, &L->c), EQS_OK);
}

static void unload(loaded *L)
{
    eqs_circuit_free(&L->c);
    eqs_netlist_free(&L->nl);
    eqs_ctx_free(&L->ctx);
}

static int param_find(const eqs_circuit *c, const char *name)
{
    for (int k = 0; k < eqs_circuit_param_count(c); ++k)
        if (!strcmp(eqs_circuit_param_name(c, k), name)) return k;
    return -1;
}

/* The numbers of a map (rows of comma-separated values after the '#'
 * lines) into v (at most cap); returns how many, *rows the row count. */
static int read_map(const char *path, double *v, int cap, int *rows)
{
    char *text = tu_read_file(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    int n = 0;
    *rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        (*rows)++;
        for (char *p = line;;) {
            char *end;
            double x = strtod(p, &end);
            ck_assert_msg(end != p, "%s: not a number at '%s'", path, p);
            ck_assert_int_lt(n, cap);
            v[n++] = x;
            if (*end != ',') break;
            p = end + 1;
        }
    }
    free(text);
    return n;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The trained conductance of every cell of crossbar r<l> (rows x cols)
 * equals the map's value bit for bit. */
static void check_map_bits(const eqs_circuit *c, const char *map, const char *xname, int rows,
                           int cols)
{
    double v[4096];
    int nr = 0;
    int n = read_map(map, v, 4096, &nr);
    ck_assert_int_eq(nr, rows);
    ck_assert_int_eq(n, rows * cols);
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) {
            char name[64];
            snprintf(name, sizeof name, "%s_%d_%d", xname, i, j);
            int k = param_find(c, name);
            ck_assert_msg(k >= 0, "no parameter %s", name);
            double g = eqs_circuit_param_get(c, k);
            ck_assert_msg(same_bits(g, v[i * cols + j]), "%s: trained %.17g, map %.17g", name,
                          g, v[i * cols + j]);
        }
}

/* ------------------------------------------------------------------ */
/* Round trip                                                          */
/* ------------------------------------------------------------------ */

/* Export a run, import its directory back: the maps hold trained.cir's
 * conductances bit for bit, and the imported netlist has every trained
 * value of trained.cir bit for bit (crossbars and the bias rails that are
 * in no map); it evaluates to the run's own final test metrics. */
START_TEST(test_roundtrip_bits)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char hand[4300], path[4400], out[4400];
    snprintf(hand, sizeof hand, "%s/handoff", dir);
    export_ok(run, hand, NULL);
    snprintf(path, sizeof path, "%s/trained.cir", run);
    loaded T;
    load(&T, path);
    snprintf(path, sizeof path, "%s/r1.csv", hand);
    check_map_bits(T.c, path, "r1", 4, 6);
    snprintf(path, sizeof path, "%s/r2.csv", hand);
    check_map_bits(T.c, path, "r2", 6, 2);

    snprintf(out, sizeof out, "%s/imported.cir", dir);
    char *err = NULL;
    const char *argv[] = {"import", hand, "--into", run, "-o", out, NULL};
    int rc = cli(argv, &err);
    ck_assert_msg(rc == 0, "import rc %d: %s", rc, err);
    free(err);
    loaded I;
    load(&I, out);
    ck_assert_int_eq(eqs_circuit_param_count(I.c), eqs_circuit_param_count(T.c));
    int rails = 0;
    for (int k = 0; k < eqs_circuit_param_count(T.c); ++k) {
        const char *name = eqs_circuit_param_name(T.c, k);
        int j = param_find(I.c, name);
        ck_assert_msg(j >= 0, "imported netlist lacks %s", name);
        ck_assert_msg(same_bits(eqs_circuit_param_get(I.c, j), eqs_circuit_param_get(T.c, k)),
                      "%s: imported %.17g, trained %.17g", name, eqs_circuit_param_get(I.c, j),
                      eqs_circuit_param_get(T.c, k));
        rails += strstr(name, "_bp_") || strstr(name, "_bn_");
    }
    ck_assert_int_gt(rails, 0); /* values outside every map came through too */
    unload(&I);
    unload(&T);

    /* the same conductances and evaluation cards evaluate the same, to
     * the last digit */
    char *o1 = NULL, *o2 = NULL, *e1 = NULL, *e2 = NULL;
    snprintf(path, sizeof path, "%s/trained.cir", run);
    const char *ev1[] = {"eval", path, "--synthetic", "xor", "--n", "40", "--seed", "5", NULL};
    const char *ev2[] = {"eval", out, "--synthetic", "xor", "--n", "40", "--seed", "5", NULL};
    ck_assert_int_eq(tu_run_cli(ev1, &o1, &e1, 60), 0);
    ck_assert_int_eq(tu_run_cli(ev2, &o2, &e2, 60), 0);
    ck_assert_msg(strstr(o1, "40,"), "%s", o1);
    ck_assert_str_eq(o1, o2);
    free(o1);
    free(o2);
    free(e1);
    free(e2);
}
END_TEST

/* Maps edited by hand and imported by name (no manifest): a value in ohm
 * becomes 1/R, nan a dead cell at --dead, and everything else stays. */
START_TEST(test_import_ohm_and_dead)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char hand[4300], map[4400], out[4400];
    snprintf(hand, sizeof hand, "%s/handoff", dir);
    export_ok(run, hand, NULL);
    /* r2 in ohm: 8 rows of 2 resistances; cell (0,0) dead, (5,1) 12345.5 ohm */
    snprintf(map, sizeof map, "%s/r2-measured.csv", dir);
    FILE *f = fopen(map, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# crossbar: r2\n# units: ohm\n");
    for (int i = 0; i < 6; ++i)
        fprintf(f, "%s,%s\n", i == 0 ? "nan" : "20000", i == 5 ? "12345.5" : "40000");
    fclose(f);
    snprintf(out, sizeof out, "%s/measured.cir", dir);
    char *err = NULL;
    const char *argv[] = {"import", map, "--into", run, "-o", out, "--dead", "1e-11", NULL};
    int rc = cli(argv, &err);
    ck_assert_msg(rc == 0, "import rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "1 dead cell"), "no dead-cell warning: %s", err);
    free(err);
    loaded I, T;
    load(&I, out);
    char tpath[4400];
    snprintf(tpath, sizeof tpath, "%s/trained.cir", run);
    load(&T, tpath);
    /* the netlist holds resistances: a conductance G comes back as 1/(1/G) */
    const double g_dead = 1.0 / (1.0 / 1e-11), g_55 = 1.0 / (1.0 / (1.0 / 12345.5));
    ck_assert(same_bits(eqs_circuit_param_get(I.c, param_find(I.c, "r2_0_0")), g_dead));
    ck_assert(same_bits(eqs_circuit_param_get(I.c, param_find(I.c, "r2_5_1")), g_55));
    ck_assert(same_bits(eqs_circuit_param_get(I.c, param_find(I.c, "r2_1_0")),
                        1.0 / (1.0 / (1.0 / 20000.0))));
    const char *kept[] = {"r1_0_0", "r1_3_5", "r2_bp_0"};
    for (int k = 0; k < 3; ++k)
        ck_assert(same_bits(eqs_circuit_param_get(I.c, param_find(I.c, kept[k])),
                            eqs_circuit_param_get(T.c, param_find(T.c, kept[k]))));
    unload(&I);
    unload(&T);
}
END_TEST

/* ------------------------------------------------------------------ */
/* top.cir in ngspice                                                  */
/* ------------------------------------------------------------------ */

/* The input voltages of test sample i, encoded here: pair, gain 2 V. */
static void sample_inputs(const char *run, size_t i, double *u, int n_in)
{
    eqs_ctx *ctx = tu_ctx();
    char xml[4300];
    snprintf(xml, sizeof xml, "%s/experiment.xml", run);
    eqs_experiment *exp = NULL;
    eqs_dataset *train = NULL, *test = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, xml, &exp), EQS_OK);
    ck_assert_int_eq(eqs_experiment_load_data(ctx, exp, &train, &test), EQS_OK);
    ck_assert_ptr_nonnull(test);
    ck_assert_int_eq(2 * eqs_dataset_n_features(test), n_in);
    const double *x = eqs_dataset_features(test, i);
    for (int k = 0; k < n_in / 2; ++k) {
        u[2 * k] = 2.0 * x[k];
        u[2 * k + 1] = -2.0 * x[k];
    }
    eqs_dataset_free(&train);
    eqs_dataset_free(&test);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
}

/* stock ngspice -b on `cir` (run in its directory): the node table's
 * values for names[] (NAN where absent).  0 if /usr/bin/ngspice is
 * missing. */
static int stock_ngspice(const char *dir, const char *const *names, int n, double *v)
{
    if (access("/usr/bin/ngspice", X_OK) != 0) return 0;
    char cmd[4600];
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/ngspice -b top.cir 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    for (int k = 0; k < n; ++k) v[k] = NAN;
    char line[1024];
    int in_table = 0;
    while (fgets(line, sizeof line, p)) {
        char a[256];
        double x;
        if (strstr(line, "Node") && strstr(line, "Voltage")) in_table = 1;
        else if (strstr(line, "Source") && strstr(line, "Current")) in_table = 0;
        if (in_table && sscanf(line, " %255s %lf", a, &x) == 2)
            for (int k = 0; k < n; ++k)
                if (!strcmp(a, names[k])) v[k] = x;
    }
    int rc = pclose(p);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "ngspice -b top.cir failed (%d)", rc);
    return 1;
}

/* top.cir, for every one of the 16 test samples: libngspice (and, for
 * three of them, stock ngspice -b when installed) reaches eqspice's
 * operating point of trained.cir driven by the same sample within 1 uV at
 * every node, and so predicts the same class. */
START_TEST(test_top_cir_operating_point)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char tpath[4300];
    snprintf(tpath, sizeof tpath, "%s/trained.cir", run);
    loaded T;
    load(&T, tpath);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(T.ctx, T.c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    int nn = eqs_circuit_node_count(T.c), n_in = eqs_circuit_input_count(T.c);
    const char **names = malloc((size_t)nn * sizeof *names);
    double *ng = calloc((size_t)nn, sizeof *ng), *stock = calloc((size_t)nn, sizeof *stock);
    double u[8];
    ck_assert_int_le(n_in, 8);
    for (int i = 1; i < nn; ++i) names[i - 1] = eqs_circuit_node_name(T.c, i);
    const int o0 = eqs_circuit_node_find(T.c, "o0"), o1 = eqs_circuit_node_find(T.c, "o1");
    ck_assert(o0 > 0 && o1 > 0);
    int ran_stock = 0, n_stock = 0, classes[2] = {0, 0};
    double worst = 0, worst_stock = 0, vmax = 0;
    for (int t = 0; t < 16; ++t) {
        char hand[4400], top[4500], sample[16];
        snprintf(sample, sizeof sample, "%d", t);
        snprintf(hand, sizeof hand, "%s/handoff-%d", dir, t);
        export_ok(run, hand, sample);
        snprintf(top, sizeof top, "%s/top.cir", hand);
        sample_inputs(run, (size_t)t, u, n_in);
        for (int k = 0; k < n_in; ++k) ck_assert_int_eq(eqs_circuit_input_set(T.c, k, u[k]), 0);
        eqs_solve_info info;
        ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
        const double *v = eqs_solver_voltages(s);
        char **lines = tu_file_lines(top, NULL);
        eqs_status st = eqs_ngspice_run_deck(T.ctx, lines, nn - 1, names, ng, NULL, NULL);
        ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(T.ctx));
        tu_free_lines(lines);
        int have_stock = (t == 0 || t == 3 || t == 7) && stock_ngspice(hand, names, nn - 1, stock);
        ran_stock |= have_stock;
        n_stock += have_stock;
        for (int i = 1; i < nn; ++i) {
            double d = fabs(v[i] - ng[i - 1]);
            ck_assert_msg(d <= 1e-6, "sample %d node %s: eqspice %.17g, libngspice %.17g", t,
                          names[i - 1], v[i], ng[i - 1]);
            worst = fmax(worst, d);
            vmax = fmax(vmax, fabs(v[i]));
            if (have_stock) {
                double ds = fabs(v[i] - stock[i - 1]);
                ck_assert_msg(ds <= 1e-6, "sample %d node %s: eqspice %.17g, ngspice -b %.17g",
                              t, names[i - 1], v[i], stock[i - 1]);
                worst_stock = fmax(worst_stock, ds);
            }
        }
        int ours = v[o1] > v[o0], theirs = ng[o1 - 1] > ng[o0 - 1];
        ck_assert_msg(ours == theirs, "sample %d: eqspice predicts %d, libngspice %d", t, ours,
                      theirs);
        classes[ours]++;
    }
    ck_assert_msg(vmax > 0.05, "node voltages at most %g V: the comparison says nothing", vmax);
    fprintf(stderr, "top.cir vs eqspice Newton, 16 samples (predicted classes %d/%d): "
                    "libngspice max |dV| %.3g V",
            classes[0], classes[1], worst);
    if (ran_stock) fprintf(stderr, ", ngspice -b (%d samples) max |dV| %.3g V\n", n_stock,
                           worst_stock);
    else fprintf(stderr, "; stock ngspice: skipped, /usr/bin/ngspice not installed\n");
    free(names);
    free(ng);
    free(stock);
    eqs_solver_free(&s);
    unload(&T);
}
END_TEST

/* A bare netlist with wire resistance (netlists/crossbar-rwire.cir with
 * one .input, so that the other sources still drive it): top.cir's
 * .subckt holds the wire segments and internal nodes, libngspice agrees
 * with eqspice within 1 uV, the input source is at 0 V, and --sample is
 * refused (a netlist has no dataset). */
START_TEST(test_netlist_rwire)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    char *text = tu_read_file(tu_path("netlists/crossbar-rwire.cir"));
    ck_assert_ptr_nonnull(text);
    char *in = strstr(text, ".input vin1 vin2 vin3");
    ck_assert_ptr_nonnull(in);
    memcpy(in, ".input vin1          ", strlen(".input vin1 vin2 vin3"));
    char net[4300], csv[4300], hand[4300], top[4400];
    snprintf(net, sizeof net, "%s/rwire.cir", dir);
    write_file(net, text);
    free(text);
    snprintf(csv, sizeof csv, "%s/crossbar-rwire.csv", dir);
    char *c2 = tu_read_file(tu_path("netlists/crossbar-rwire.csv"));
    write_file(csv, c2);
    free(c2);
    snprintf(hand, sizeof hand, "%s/h", dir);
    char *err = NULL;
    const char *bad[] = {"export", net, "-o", hand, "--sample", "1", NULL};
    ck_assert_int_eq(cli(bad, &err), 1);
    ck_assert_msg(strstr(err, "without a dataset"), "%s", err);
    free(err);
    ck_assert(!exists(hand));
    const char *ok[] = {"export", net, "-o", hand, NULL};
    ck_assert_int_eq(cli(ok, &err), 0);
    free(err);
    snprintf(top, sizeof top, "%s/top.cir", hand);
    char *t = tu_read_file(top);
    ck_assert_msg(strstr(t, ".subckt xbar_rx row0 row1 row2 col0 col1 col2"), "%s", t);
    ck_assert_msg(strstr(t, "rx_wr0_0 row0 rx_r0_0 5"), "%s", t);
    ck_assert_msg(strstr(t, "vin1 row1 0 dc 0\n"), "%s", t);
    free(t);
    loaded N;
    load(&N, net);
    ck_assert_int_eq(eqs_circuit_input_set(N.c, 0, 0.0), EQS_OK);
    eqs_solver *s = NULL;
    ck_assert_int_eq(eqs_solver_create(N.ctx, N.c, EQS_BACKEND_NEWTON, NULL, &s), EQS_OK);
    eqs_solve_info info;
    ck_assert_int_eq(eqs_solver_solve(s, EQS_SOLVE_COLD, &info), EQS_OK);
    const double *v = eqs_solver_voltages(s);
    const char *names[] = {"col1", "col2", "col3", "row2", "row3"};
    int idx[5];
    double ng[5];
    for (int k = 0; k < 5; ++k) idx[k] = eqs_circuit_node_find(N.c, names[k]);
    char **lines = tu_file_lines(top, NULL);
    eqs_status st = eqs_ngspice_run_deck(N.ctx, lines, 5, names, ng, NULL, NULL);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(N.ctx));
    tu_free_lines(lines);
    for (int k = 0; k < 5; ++k)
        ck_assert_msg(fabs(v[idx[k]] - ng[k]) <= 1e-6, "%s: %.17g vs %.17g", names[k],
                      v[idx[k]], ng[k]);
    ck_assert(fabs(v[idx[2]]) > 0.01);
    eqs_solver_free(&s);
    unload(&N);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Manifest, levels, pulses                                            */
/* ------------------------------------------------------------------ */

static void sha256sum(const char *path, char hex[65])
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%64s", hex), 1);
    pclose(p);
}

/* manifest.xml validates against models/manifest.xsd (the compiled-in
 * copy is that file), lists every other file of the directory once with
 * sha256sum's checksum and its size; a corrupted attribute is refused at
 * its line.  The level maps lie on the model's grid (G_min + k step within
 * step/2) and, for the constant-step law, the pulse count from G_min is
 * the level index. */
START_TEST(test_manifest_levels_pulses)
{
    char *xsd = tu_read_file(tu_path("models/manifest.xsd"));
    ck_assert_str_eq(eqs_manifest_schema(), xsd);
    free(xsd);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char hand[4300], path[4400];
    snprintf(hand, sizeof hand, "%s/handoff", dir);
    export_ok(run, hand, NULL);
    snprintf(path, sizeof path, "%s/manifest.xml", hand);
    eqs_ctx *ctx = tu_ctx();
    eqs_manifest *m = NULL;
    ck_assert_msg(eqs_manifest_read(ctx, path, &m) == EQS_OK, "%s", eqs_ctx_error(ctx));
    ck_assert_int_eq(m->format_version, 1);
    ck_assert_int_eq(m->n_files, 9); /* r1, r2: map, levels, pulses; r1: G+, G-; top.cir */
    int n_dir = 0;
    DIR *d = opendir(hand);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n_dir += de->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(n_dir, m->n_files + 1);
    for (int k = 0; k < m->n_files; ++k) {
        char p[4500], hex[65];
        snprintf(p, sizeof p, "%s/%s", hand, m->files[k].name);
        sha256sum(p, hex);
        ck_assert_str_eq(hex, m->files[k].sha256);
        struct stat sb;
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_uint_eq((uint64_t)sb.st_size, m->files[k].bytes);
    }
    eqs_manifest_free(&m);
    char *text = tu_read_file(path);
    ck_assert_msg(strstr(text, "seed=\"11\"") && strstr(text, "encoding=\"pair\"") &&
                      strstr(text, "gain_V=\"2\"") && strstr(text, "levels=\"64\"") &&
                      strstr(text, "on_V=\"0.5\"") && strstr(text, "order=\"1\""),
                  "%s", text);
    /* a corrupted checksum attribute: a schema error at its line */
    char *sha = strstr(text, "sha256=\"");
    ck_assert_ptr_nonnull(sha);
    int line = 1;
    for (char *q = text; q < sha; ++q) line += *q == '\n';
    sha[8] = 'X';
    char bad[4500], where[4600];
    snprintf(bad, sizeof bad, "%s/bad-manifest.xml", dir);
    write_file(bad, text);
    free(text);
    ck_assert_int_eq(eqs_manifest_read(ctx, bad, &m), EQS_ERR_INPUT);
    snprintf(where, sizeof where, "%s:%d:", bad, line);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), where), "%s (want %s)", eqs_ctx_error(ctx), where);
    ck_assert_ptr_null(m);
    eqs_ctx_free(&ctx);

    /* levels and pulses of r1 against the grid of linear-step-64.xml */
    const double g_min = 1e-6, g_max = 1e-4, step = (g_max - g_min) / 63;
    double G[64], L[64], P[64];
    int r;
    snprintf(path, sizeof path, "%s/r1.csv", hand);
    ck_assert_int_eq(read_map(path, G, 64, &r), 24);
    snprintf(path, sizeof path, "%s/r1.levels.csv", hand);
    ck_assert_int_eq(read_map(path, L, 64, &r), 24);
    snprintf(path, sizeof path, "%s/r1.pulses.csv", hand);
    ck_assert_int_eq(read_map(path, P, 64, &r), 24);
    int distinct = 0;
    for (int k = 0; k < 24; ++k) {
        ck_assert(L[k] >= 0 && L[k] <= 63 && L[k] == floor(L[k]));
        ck_assert_msg(fabs(G[k] - (g_min + L[k] * step)) <= 0.5 * step * (1 + 1e-9),
                      "cell %d: G %.17g is not near level %g", k, G[k], L[k]);
        ck_assert_msg(P[k] == L[k], "cell %d: %g pulses for level %g", k, P[k], L[k]);
        distinct += k > 0 && L[k] != L[0];
    }
    ck_assert_int_gt(distinct, 0);

    /* r1's rows are the input pairs: G+ = rows 0, 2 and G- = rows 1, 3 */
    double Gp[64], Gn[64];
    snprintf(path, sizeof path, "%s/r1.gpos.csv", hand);
    ck_assert_int_eq(read_map(path, Gp, 64, &r), 12);
    ck_assert_int_eq(r, 2);
    snprintf(path, sizeof path, "%s/r1.gneg.csv", hand);
    ck_assert_int_eq(read_map(path, Gn, 64, &r), 12);
    for (int k = 0; k < 2; ++k)
        for (int j = 0; j < 6; ++j) {
            ck_assert(same_bits(Gp[6 * k + j], G[6 * (2 * k) + j]));
            ck_assert(same_bits(Gn[6 * k + j], G[6 * (2 * k + 1) + j]));
        }
    snprintf(path, sizeof path, "%s/r2.gpos.csv", hand);
    ck_assert(!exists(path)); /* hidden-to-output rows are not input pairs */
}
END_TEST

/* A pulsed law without levels (models/softbounds-reram.xml on a netlist's
 * .crossbar device=): pulses.csv but no levels.csv, and each count n is
 * the nearest whole number of noise-free up pulses from G_min: after n
 * pulses (eqs_device_response) the device is nearer the cell's G than
 * after n - 1 or n + 1; a cell at G_max, which soft bounds approach only
 * asymptotically, gets the count at which the walk is within 1e-9 of the
 * window. */
START_TEST(test_pulses_soft_bounds)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    char net[4300], hand[4300], path[4400], text[8192];
    const char *model = tu_path("models/softbounds-reram.xml");
    snprintf(text, sizeof text,
             "soft-bounds crossbar\n"
             "va a 0 dc 0.2\nvb b 0 dc 0.1\n"
             ".crossbar sx rows=(a b) cols=(c d) device=%s\n"
             "+ g=(1e-6 2.5e-6 5e-5 1e-4)\n"
             "rl1 c 0 10k\nrl2 d 0 10k\n.input va vb\n.output c d\n.end\n",
             model);
    snprintf(net, sizeof net, "%s/soft.cir", dir);
    write_file(net, text);
    snprintf(hand, sizeof hand, "%s/h", dir);
    eqs_ctx *ctx = tu_ctx();
    ck_assert_msg(eqs_handoff_export(ctx, net, hand, NULL) == EQS_OK, "%s", eqs_ctx_error(ctx));
    snprintf(path, sizeof path, "%s/sx.levels.csv", hand);
    ck_assert(!exists(path));
    double P[4], G[4];
    int r;
    snprintf(path, sizeof path, "%s/sx.pulses.csv", hand);
    ck_assert_int_eq(read_map(path, P, 4, &r), 4);
    snprintf(path, sizeof path, "%s/sx.csv", hand);
    ck_assert_int_eq(read_map(path, G, 4, &r), 4);
    eqs_device_law *law = NULL;
    ck_assert_int_eq(eqs_device_law_read(ctx, model, &law), EQS_OK);
    eqs_device_inst dev = {law->g_min_S, law->g_max_S, 1.0, 0, 0.0};
    enum { N = 20000 };
    double *up = malloc((N + 1) * sizeof *up);
    eqs_device_response(law, &dev, N, up, NULL);
    const double w = law->g_max_S - law->g_min_S;
    ck_assert(P[0] == 0);
    for (int k = 1; k < 4; ++k) {
        int n = (int)P[k];
        ck_assert_msg(n > 0 && n < N, "cell %d: %d pulses", k, n);
        if (k < 3) {
            ck_assert_msg(fabs(up[n] - G[k]) <= fabs(up[n - 1] - G[k]) &&
                              fabs(up[n] - G[k]) <= fabs(up[n + 1] - G[k]),
                          "cell %d: G %.6g, after %d pulses %.6g (%.6g, %.6g around)", k, G[k],
                          n, up[n], up[n - 1], up[n + 1]);
        } else {
            ck_assert(G[k] - up[n] <= 1e-9 * w && G[k] - up[n - 1] > 1e-9 * w);
        }
    }
    free(up);
    eqs_device_law_free(ctx, &law);
    eqs_ctx_free(&ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Corruptions                                                         */
/* ------------------------------------------------------------------ */

/* Line n (1-based) of the map's text replaced by `with`. */
static void replace_line(const char *path, int n, const char *with)
{
    char *t = tu_read_file(path);
    ck_assert_ptr_nonnull(t);
    FILE *f = fopen(path, "w");
    int line = 1;
    for (char *p = t; *p;) {
        char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (line == n) fprintf(f, "%s\n", with);
        else fprintf(f, "%.*s\n", (int)l, p);
        line++;
        if (!e) break;
        p = e + 1;
    }
    fclose(f);
    free(t);
}

/* The line number of the first line of path starting with `prefix`. */
static int find_line(const char *path, const char *prefix)
{
    char *t = tu_read_file(path);
    int line = 1, found = 0;
    for (char *p = t; *p && !found;) {
        if (!strncmp(p, prefix, strlen(prefix))) found = line;
        char *e = strchr(p, '\n');
        if (!e) break;
        line++;
        p = e + 1;
    }
    free(t);
    ck_assert_msg(found, "%s: no line starting with %s", path, prefix);
    return found;
}

/* The manifest's sha256 of `name` set to the file's new checksum. */
static void refresh_sha(const char *hand, const char *name)
{
    char man[4500], p[4500], hex[65];
    snprintf(man, sizeof man, "%s/manifest.xml", hand);
    snprintf(p, sizeof p, "%s/%s", hand, name);
    sha256sum(p, hex);
    char *t = tu_read_file(man), key[256];
    snprintf(key, sizeof key, "name=\"%s\"", name);
    char *e = strstr(t, key);
    ck_assert_ptr_nonnull(e);
    char *s = strstr(e, "sha256=\"");
    memcpy(s + 8, hex, 64);
    write_file(man, t);
    free(t);
}

/* Every corruption is refused with exit 1, the file:line:col it names and
 * a message saying what is wrong, and no output netlist (nor a temporary
 * file of it) appears. */
START_TEST(test_corruptions)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char good[4300];
    snprintf(good, sizeof good, "%s/handoff", dir);
    export_ok(run, good, NULL);
    char gm[4400];
    snprintf(gm, sizeof gm, "%s/r1.csv", good);
    const int row0 = find_line(gm, "# cell") + 1; /* the first matrix row */
    const int units_line = find_line(gm, "# units:");
    enum { BY_DIR, BY_FILE };
    static const struct {
        const char *what;
        int how;
        int line_off; /* -1: the manifest line of r1.csv; -2: of r2.csv; -3: units line;
                         -4: line 1; else the matrix row row0 + off */
        int col;
        const char *msg;
    } cases[] = {
        {"checksum", BY_DIR, -1, 1, "checksum mismatch"},
        {"short row", BY_FILE, 1, 0, "wrong shape"},
        {"extra row", BY_FILE, 4, 1, "wrong shape: more than 4 rows"},
        {"extra column", BY_FILE, 2, 0, "wrong shape: more than 6 columns"},
        {"non-numeric", BY_FILE, 3, 1, "non-numeric cell '1.2.3'"},
        {"negative", BY_FILE, 0, 1, "negative conductance"},
        {"unit", BY_FILE, -3, 10, "unit mismatch: units 'mS'"},
        {"unit vs manifest", BY_DIR, -3, 10, "unit mismatch: the map is in ohm"},
        {"no units", BY_FILE, -4, 1, "unit mismatch: no '# units: S'"},
        {"missing file", BY_DIR, -2, 1, "missing file"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        char hand[4400], map[4500], out[4500], cmd[9200], where[4600], man[4500];
        snprintf(hand, sizeof hand, "%s/case%zu", dir, c);
        snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", good, hand);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(map, sizeof map, "%s/r1.csv", hand);
        snprintf(man, sizeof man, "%s/manifest.xml", hand);
        int line = 0, col = cases[c].col;
        switch (c) {
        case 0: replace_line(map, row0 + 2, "1e-5,1e-5,1e-5,1e-5,1e-5,1e-5"); break;
        case 1: replace_line(map, row0 + 1, "1e-5,1e-5,1e-5,1e-5,1e-5"); col = 25; break;
        case 2: {
            FILE *f = fopen(map, "a");
            fprintf(f, "1e-5,1e-5,1e-5,1e-5,1e-5,1e-5\n");
            fclose(f);
            break;
        }
        case 3: replace_line(map, row0 + 2, "1e-5,1e-5,1e-5,1e-5,1e-5,1e-5,1e-5"); col = 31; break;
        case 4: replace_line(map, row0 + 3, "1.2.3,1e-5,1e-5,1e-5,1e-5,1e-5"); break;
        case 5: replace_line(map, row0, "-2e-5,1e-5,1e-5,1e-5,1e-5,1e-5"); break;
        case 6: replace_line(map, units_line, "# units: mS"); break;
        case 7:
            replace_line(map, units_line, "# units: ohm");
            refresh_sha(hand, "r1.csv");
            break;
        case 8: replace_line(map, units_line, "# comment instead of units"); break;
        case 9: {
            char r2[4500];
            snprintf(r2, sizeof r2, "%s/r2.csv", hand);
            ck_assert_int_eq(unlink(r2), 0);
            break;
        }
        }
        const char *file = map;
        if (cases[c].line_off >= 0) line = row0 + cases[c].line_off;
        else if (cases[c].line_off == -3) line = units_line;
        else if (cases[c].line_off == -4) line = 1;
        else {
            file = man;
            line = find_line(man, cases[c].line_off == -1 ? "    <file name=\"r1.csv\""
                                                          : "    <file name=\"r2.csv\"");
        }
        snprintf(where, sizeof where, "%s:%d:%d: error: ", file, line, col);
        snprintf(out, sizeof out, "%s/out-%zu.cir", dir, c);
        char *err = NULL;
        const char *by_dir[] = {"import", hand, "--into", run, "-o", out, NULL};
        const char *by_file[] = {"import", map, "--into", run, "-o", out, NULL};
        int rc = cli(cases[c].how == BY_DIR ? by_dir : by_file, &err);
        ck_assert_msg(rc == 1, "%s: rc %d: %s", cases[c].what, rc, err);
        ck_assert_msg(strstr(err, where) && strstr(err, cases[c].msg),
                      "%s: got\n%s\nwant '%s' and '%s'", cases[c].what, err, where,
                      cases[c].msg);
        free(err);
        ck_assert_msg(!exists(out), "%s: %s written", cases[c].what, out);
        DIR *d = opendir(dir);
        for (struct dirent *de; (de = readdir(d)) != NULL;)
            ck_assert_msg(strncmp(de->d_name, "out-", 4), "%s: left %s", cases[c].what,
                          de->d_name);
        closedir(d);
    }
}
END_TEST

/* An export that fails leaves nothing: a sample past the test set, and an
 * existing directory; --format manifest writes manifest.xml alone with the
 * checksums a full export's files have. */
START_TEST(test_export_nothing_on_error)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir()); /* tu_ ring buffers get reused */
    const char *run = train_run(dir);
    char hand[4300], full[4300], mpath[4400], fpath[4400];
    snprintf(hand, sizeof hand, "%s/h", dir);
    char *err = NULL;
    const char *past[] = {"export", run, "-o", hand, "--sample", "16", NULL};
    ck_assert_int_eq(cli(past, &err), 1);
    ck_assert_msg(strstr(err, "16 samples"), "%s", err);
    free(err);
    DIR *d = opendir(dir);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        ck_assert_msg(strncmp(de->d_name, "h", 1), "left %s", de->d_name);
    closedir(d);
    snprintf(full, sizeof full, "%s/full", dir);
    export_ok(run, full, NULL);
    const char *again[] = {"export", run, "-o", full, NULL};
    ck_assert_int_eq(cli(again, &err), 1);
    ck_assert_msg(strstr(err, "exists"), "%s", err);
    free(err);
    const char *man[] = {"export", run, "-o", hand, "--format", "manifest", NULL};
    ck_assert_int_eq(cli(man, &err), 0);
    free(err);
    int n = 0;
    d = opendir(hand);
    for (struct dirent *de; (de = readdir(d)) != NULL;) n += de->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(n, 1);
    snprintf(mpath, sizeof mpath, "%s/manifest.xml", hand);
    snprintf(fpath, sizeof fpath, "%s/manifest.xml", full);
    char *a = tu_read_file(mpath), *b = tu_read_file(fpath);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST


/* A crossbar with more lines than stock ngspice takes on one .subckt
 * (520 features in pairs: 1040 rows + 3 columns) is written as tiles of at
 * most 1000 ports; stock ngspice runs top.cir for every test vector of
 * --vectors and predicts eqspice's class with outputs within 1 uV
 * (scripts/check-ngspice-vectors.sh, the check of make check-ngspice-vectors
 * on 1,000 Fashion-MNIST images). */
START_TEST(test_tiles_vectors_stock_ngspice)
{
    char dir[4096], xml[8192], path[8400], run[4300], hand[4400];
    snprintf(dir, sizeof dir, "%s", tu_temp_dir());
    snprintf(run, sizeof run, "%s/wide", dir);
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"520 3 2\" g_init_min_S=\"1e-6\" g_init_max_S=\"1e-5\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"blobs\" features=\"520\" train_size=\"16\" "
             "test_size=\"6\"/></dataset>\n"
             "  <input gain_V=\"1\" encoding=\"pair\"/>\n  <targets on_V=\"0.3\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-6\"/>\n"
             "  <learning><rate elements=\"r*\" value=\"1e-9\"/></learning>\n"
             "  <training epochs=\"1\" batch=\"4\" seed=\"3\"/>\n"
             "  <solver backend=\"newton\"/>\n  <output dir=\"%s\"/>\n</experiment>\n",
             run);
    snprintf(path, sizeof path, "%s/wide.xml", dir);
    write_file(path, xml);
    char *out = NULL, *err = NULL;
    const char *t[] = {"train", path, NULL};
    int rc = tu_run_cli(t, &out, &err, 120);
    ck_assert_msg(rc == 0, "train rc %d: %s", rc, err);
    free(out);
    free(err);
    snprintf(hand, sizeof hand, "%s/wide-hand", dir);
    const char *e[] = {"export", run, "--vectors", "6", "-o", hand, NULL};
    ck_assert_msg(cli(e, &err) == 0, "export: %s", err);
    free(err);
    snprintf(path, sizeof path, "%s/top.cir", hand);
    char *top = tu_read_file(path);
    ck_assert_ptr_nonnull(strstr(top, "\n.subckt xbar_r1_0_0 "));
    ck_assert_ptr_nonnull(strstr(top, "\n.subckt xbar_r1_1_0 "));
    ck_assert_ptr_nonnull(strstr(top, "\nxr1_1_0 xn498 xp499 "));
    ck_assert_ptr_null(strstr(top, "xbar_r1_2_0"));
    free(top);
    snprintf(path, sizeof path, "%s/manifest.xml", hand);
    char *man = tu_read_file(path);
    ck_assert_ptr_nonnull(strstr(man, "subckt=\"xbar_r1_0_0 xbar_r1_1_0\""));
    ck_assert_ptr_nonnull(strstr(man, "name=\"vectors.csv\" kind=\"vectors\""));
    ck_assert_ptr_nonnull(strstr(man, "name=\"expected.csv\" kind=\"expected\""));
    free(man);
    snprintf(path, sizeof path, "%s/expected.csv", hand);
    char *ex = tu_read_file(path);
    int rows = 0;
    for (const char *q = ex; (q = strchr(q, '\n')); ++q) rows++;
    ck_assert_int_eq(rows, 3 + 1 + 6); /* comments, header, vectors */
    free(ex);
    /* import still takes the directory (the vectors are not maps) */
    snprintf(path, sizeof path, "%s/wide-imported.cir", dir);
    const char *im[] = {"import", hand, "--into", run, "-o", path, NULL};
    ck_assert_msg(cli(im, &err) == 0, "import: %s", err);
    free(err);
    if (access("/usr/bin/ngspice", X_OK) != 0) {
        fprintf(stderr, "tiles: stock ngspice not installed, top.cir not run\n");
        return;
    }
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' 2 2>&1", tu_path("scripts/check-ngspice-vectors.sh"),
             hand);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1024], said[1024] = "";
    while (fgets(line, sizeof line, p)) snprintf(said, sizeof said, "%s", line);
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "check-ngspice-vectors: %s", said);
    ck_assert_msg(strstr(said, "6 vectors: stock ngspice predicts the same class for 6") != NULL,
                  "%s", said);
    fprintf(stderr, "tiles: %s", said);
}
END_TEST

Suite *suite_handoff(void)
{
    Suite *s = suite_create("handoff");
    TCase *tc = tcase_create("handoff");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_bits);
    tcase_add_test(tc, test_import_ohm_and_dead);
    tcase_add_test(tc, test_top_cir_operating_point);
    tcase_add_test(tc, test_netlist_rwire);
    tcase_add_test(tc, test_manifest_levels_pulses);
    tcase_add_test(tc, test_pulses_soft_bounds);
    tcase_add_test(tc, test_corruptions);
    tcase_add_test(tc, test_export_nothing_on_error);
    tcase_add_test(tc, test_tiles_vectors_stock_ngspice);
    suite_add_tcase(s, tc);
    return s;
}
