/* test_train.c: the trainer (src/eqprop/train.c) and `eqspice train|eval`.
 *
 * Independent references: accuracy on a task a network must learn
 * (criterion 2), a second run (determinism), the context's allocation
 * counter, eqs_eqprop_gradient on a separately built copy of the network
 * (the update rule), an uninterrupted run (SIGKILL + resume, criterion 4). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* An experiment for a generated 2-H-2 DRN on the XOR task (noise 0.05: the
 * bias-free DRN separates it by |x1 - x2|, docs/training.md). */
static const char *xor_xml(int hidden, int train, int test, int epochs, int batch, double rate,
                           double momentum, int seed, int every, const char *outdir)
{
    static char buf[16384];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 %d 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"%d\" "
             "test_size=\"%d\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"%.17g\" decay=\"0.99\">\n"
             "    <rate elements=\"r1_*\" value=\"%.17g\"/><rate elements=\"r*\" "
             "value=\"%.17g\"/>\n"
             "  </learning>\n"
             "  <training epochs=\"%d\" batch=\"%d\" seed=\"%d\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"newton\"/>\n" /* the per-sample path (test_layered.c: batched) */
             "  <output dir=\"%s\" checkpoint_every=\"%d\"/>\n"
             "</experiment>\n",
             hidden, train, test, momentum, rate, rate / 2, epochs, batch, seed, outdir, every);
    return tu_write_temp(buf, ".xml");
}

/* Everything one in-process training run needs (testutil.h). */
typedef tu_job job;
static void job_open(job *j, const char *xml) { tu_job_open(j, xml, 1); }
static double *conductances(const eqs_circuit *c) { return tu_conductances(c); }

/* Criterion 2: a 2-16-2 diode network learns XOR to 100 % training
 * accuracy with centered EqProp (measured: 2 to 5 epochs over seeds 1-8). */
START_TEST(test_xor_learns)
{
    job j;
    job_open(&j, xor_xml(16, 256, 0, 30, 4, 1e-8, 0.9, 1, 0, "/nonexistent"));
    double loss0, err0, loss = NAN, err = 1;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss0, &err0), EQS_OK);
    int epoch = 0;
    while (epoch < 30 && err > 0) {
        ck_assert_msg(eqs_trainer_epoch(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss, &err), EQS_OK);
        epoch++;
    }
    fprintf(stderr, "xor: 100%% training accuracy after %d epochs (error %.4f -> %.4f, "
                    "loss %.4g -> %.4g V^2)\n", epoch, err0, err, loss0, loss);
    ck_assert_msg(err == 0.0, "training error %.2f%% after %d epochs", 100 * err, epoch);
    ck_assert(loss < loss0);
    eqs_trainer_status p;
    eqs_trainer_progress(j.tr, &p);
    ck_assert_int_eq((int)p.epochs_done, epoch);
    ck_assert_double_eq_tol(p.lr_scale, pow(0.99, epoch), 1e-12);
    tu_job_close(&j);
}
END_TEST

/* schedule="cosine": in epoch e of E the rates are multiplied by
 * decay^e 0.5 (1 + cos(pi e / E)) (closed form, checked per epoch). */
START_TEST(test_cosine_schedule)
{
    const char *xml = xor_xml(8, 16, 0, 4, 16, 1e-8, 0.0, 1, 0, "/nonexistent");
    char *text = tu_read_file(xml);
    ck_assert_ptr_nonnull(text);
    char buf[16384];
    const char *at = strstr(text, "decay=\"0.99\"");
    ck_assert_ptr_nonnull(at);
    snprintf(buf, sizeof buf, "%.*s decay=\"0.99\" schedule=\"cosine\"%s", (int)(at - text) - 1,
             text, at + strlen("decay=\"0.99\""));
    free(text);
    job j;
    job_open(&j, tu_write_temp(buf, ".xml"));
    for (int e = 0; e < 4; ++e) {
        eqs_trainer_status p;
        eqs_trainer_progress(j.tr, &p);
        double want = pow(0.99, e) * 0.5 * (1 + cos(3.14159265358979323846 * e / 4.0));
        ck_assert_msg(fabs(p.lr_scale - want) <= 1e-15, "epoch %d: lr_scale %.17g, want %.17g",
                      e, p.lr_scale, want);
        ck_assert(p.lr_scale > 0);
        ck_assert_int_eq(eqs_trainer_epoch(j.tr), EQS_OK); /* one batch of 16 */
    }
    tu_job_close(&j);
}
END_TEST

/* XOR with differential outputs (class k <-> pair k, prediction = argmax of
 * V+ - V-) reaches 100 % training accuracy; `network` is the <network>
 * child. */
static void xor_pairs(const char *network, const char *what)
{
    char xml[4096];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network>%s</network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"256\" "
             "test_size=\"0\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\" decay=\"0.99\">\n"
             "    <rate elements=\"r1_*\" value=\"1e-8\"/><rate elements=\"r*\" "
             "value=\"5e-9\"/>\n"
             "  </learning>\n"
             "  <training epochs=\"30\" batch=\"4\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <output dir=\"/nonexistent\" checkpoint_every=\"0\"/>\n"
             "</experiment>\n",
             network);
    job j;
    job_open(&j, tu_write_temp(xml, ".xml"));
    ck_assert_int_eq(eqs_circuit_output_count(j.c), 2);
    ck_assert_int_gt(eqs_circuit_output_neg(j.c, 0), 0);
    double loss0, err0, loss = NAN, err = 1;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss0, &err0), EQS_OK);
    int epoch = 0;
    while (epoch < 30 && err > 0) {
        ck_assert_msg(eqs_trainer_epoch(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.train, &loss, &err), EQS_OK);
        epoch++;
    }
    fprintf(stderr, "xor (%s): 100%% training accuracy after %d epochs (error %.4f -> "
                    "%.4f, loss %.4g -> %.4g V^2)\n", what, epoch, err0, err, loss0, loss);
    ck_assert_msg(err == 0.0, "%s: training error %.2f%% after %d epochs", what, 100 * err,
                  epoch);
    ck_assert(loss < loss0);
    tu_job_close(&j);
}

/* A 2-16-4 DRN netlist whose outputs are read as the pairs (o0, o1) and
 * (o2, o3) by .output_pair; then the generator's own pairs (<drn
 * outputs="pairs">: o0p/o0n, o1p/o1n). */
START_TEST(test_xor_learns_pairs)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    static const int layers[] = {2, 16, 4};
    sp.n_layers = 3;
    sp.layers = layers;
    sp.seed = 1;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, m), EQS_OK);
    fclose(m);
    eqs_ctx_free(&ctx);
    char *card = strstr(buf, "\n.output o0 o1 o2 o3\n");
    ck_assert_ptr_nonnull(card);
    size_t pre = (size_t)(card - buf) + 1;
    char *text = malloc(len + 16);
    memcpy(text, buf, pre);
    sprintf(text + pre, ".output_pair o0 o1 o2 o3\n%s", card + strlen("\n.output o0 o1 o2 o3\n"));
    const char *net = tu_write_temp(text, ".cir");
    free(text);
    free(buf);
    char network[1200];
    snprintf(network, sizeof network, "<netlist path=\"%s\"/>", net);
    xor_pairs(network, "netlist with .output_pair");
    xor_pairs("<drn layers=\"2 16 2\" outputs=\"pairs\"/>", "drn outputs=pairs");
}
END_TEST

/* Same seed: bit-identical conductances after N steps; another seed:
 * different ones. */
START_TEST(test_deterministic)
{
    double *g[3];
    int n = 0;
    const int seeds[3] = {5, 5, 6};
    for (int r = 0; r < 3; ++r) {
        job j;
        job_open(&j, xor_xml(8, 64, 0, 3, 4, 1e-8, 0.9, seeds[r], 0, "/nonexistent"));
        for (int s = 0; s < 40; ++s) /* 2.5 epochs: two reshuffles */
            ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        n = eqs_circuit_param_count(j.c);
        g[r] = conductances(j.c);
        tu_job_close(&j);
    }
    ck_assert_int_eq(memcmp(g[0], g[1], (size_t)n * sizeof *g[0]), 0);
    ck_assert_int_ne(memcmp(g[0], g[2], (size_t)n * sizeof *g[0]), 0);
    for (int r = 0; r < 3; ++r) free(g[r]);
}
END_TEST

/* Training steps (epoch boundaries included) and evaluation allocate
 * nothing. */
START_TEST(test_step_no_alloc)
{
    job j;
    job_open(&j, xor_xml(8, 30, 10, 3, 4, 1e-8, 0.9, 2, 0, "/nonexistent"));
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK); /* first solves save states */
    uint64_t a0 = eqs_ctx_alloc_count(j.ctx);
    for (int s = 0; s < 20; ++s) ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    double l, e;
    ck_assert_int_eq(eqs_trainer_evaluate(j.tr, j.test, &l, &e), EQS_OK);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    ck_assert_uint_eq(eqs_ctx_alloc_count(j.ctx), a0);
    eqs_trainer_status p;
    eqs_trainer_progress(j.tr, &p);
    ck_assert_uint_eq(p.batches_per_epoch, 8); /* ceil(30 / 4) */
    ck_assert_uint_eq(p.epochs_done, 2);
    tu_job_close(&j);
}
END_TEST

/* One step with batch 1 and no momentum is G - rate * dL/dG, the gradient
 * computed by eqs_eqprop_gradient on a separately built copy of the network
 * for the sample the seed's shuffle puts first; rates per group. */
START_TEST(test_update_rule)
{
    const double rate = 3e-9;
    const char *xml = xor_xml(8, 16, 0, 1, 1, rate, 0.0, 3, 0, "/nonexistent");
    job j;
    job_open(&j, xml);
    int np = eqs_circuit_param_count(j.c);
    double *g0 = conductances(j.c);
    ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK);
    double *g1 = conductances(j.c);

    /* the reference: same network, same sample, gradient from the library */
    job r;
    tu_job_open(&r, xml, 0);
    eqs_ctx_seed(r.ctx, 3);
    size_t order[16];
    eqs_shuffle_identity(order, 16);
    eqs_shuffle(r.ctx, order, 16);
    const double *x = eqs_dataset_features(r.train, order[0]);
    int label = eqs_dataset_label(r.train, order[0]);
    for (int f = 0; f < 2; ++f) {
        ck_assert_int_eq(eqs_circuit_input_set(r.c, 2 * f, 8 * x[f]), EQS_OK);
        ck_assert_int_eq(eqs_circuit_input_set(r.c, 2 * f + 1, -8 * x[f]), EQS_OK);
    }
    eqs_trainer_options to;
    eqs_trainer_options_defaults(&to);
    eqs_solver *s = NULL;
    eqs_eqprop *ep = NULL;
    ck_assert_int_eq(eqs_solver_create(r.ctx, r.c, EQS_BACKEND_NEWTON, &to.solver, &s), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_create(r.ctx, s, &ep), EQS_OK);
    double y[2] = {label == 0 ? 0.5 : 0.0, label == 1 ? 0.5 : 0.0};
    double *grad = calloc((size_t)np, sizeof *grad);
    eqs_grad_options go;
    eqs_grad_options_defaults(&go);
    go.method = EQS_GRAD_CENTERED;
    go.beta_S = 1e-5;
    ck_assert_int_eq(eqs_eqprop_set_targets(ep, y), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_free_phase(ep, EQS_SOLVE_COLD, NULL), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_gradient(ep, &go, grad), EQS_OK);
    int moved = 0;
    for (int k = 0; k < np; ++k) {
        const char *name = eqs_circuit_param_name(j.c, k);
        double eta = strncmp(name, "r1_", 3) == 0 ? rate : rate / 2;
        ck_assert_double_eq(eqs_trainer_rate(j.tr, k), eta);
        double want = g0[k] - eta * grad[k];
        if (want < 1e-7) want = 1e-7;
        if (want > 1e-3) want = 1e-3;
        ck_assert_msg(fabs(g1[k] - want) <= 1e-12 * fabs(want), "%s: %.17g vs %.17g", name,
                      g1[k], want);
        moved += g1[k] != g0[k];
    }
    ck_assert_int_gt(moved, np / 2);
    free(grad);
    eqs_eqprop_free(&ep);
    eqs_solver_free(&s);
    free(g0);
    free(g1);
    tu_job_close(&r);
    tu_job_close(&j);
}
END_TEST


/* In process: a checkpoint taken mid-epoch (and one at an epoch boundary)
 * read into a fresh trainer continues bit-identically. */
START_TEST(test_checkpoint_resume_in_process)
{
    const char *xml = xor_xml(8, 40, 0, 3, 4, 1e-8, 0.9, 9, 0, "/nonexistent");
    const char *dir = tu_temp_dir();
    char ck[4300];
    const int stops[2] = {13, 20}; /* batch 3 of epoch 2; end of epoch 2 */
    for (int t = 0; t < 2; ++t) {
        snprintf(ck, sizeof ck, "%s/ck%d.bin", dir, t);
        job a, b;
        job_open(&a, xml);
        for (int s = 0; s < stops[t]; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        ck_assert_msg(eqs_trainer_checkpoint_write(a.tr, ck) == EQS_OK, "%s",
                      eqs_ctx_error(a.ctx));
        for (int s = stops[t]; s < 30; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        job_open(&b, xml);
        ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK); /* state to be overwritten */
        ck_assert_msg(eqs_trainer_checkpoint_read(b.tr, ck) == EQS_OK, "%s",
                      eqs_ctx_error(b.ctx));
        eqs_trainer_status pa;
        eqs_trainer_progress(b.tr, &pa);
        ck_assert_uint_eq(pa.epochs_done * 10 + pa.batches_done, (uint64_t)stops[t]);
        for (int s = stops[t]; s < 30; ++s) ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK);
        int n = eqs_circuit_param_count(a.c);
        double *ga = conductances(a.c), *gb = conductances(b.c);
        ck_assert_int_eq(memcmp(ga, gb, (size_t)n * sizeof *ga), 0);
        free(ga);
        free(gb);
        tu_job_close(&a);
        tu_job_close(&b);
    }
}
END_TEST

/* The ngspice backend trains through the same code path: after 16 steps its
 * conductances agree with Newton's (measured: ~1e-11 relative). */
START_TEST(test_ngspice_backend_agrees)
{
    const char *xml = xor_xml(4, 16, 0, 2, 2, 1e-8, 0.9, 5, 0, "/nonexistent");
    char *text = tu_read_file(xml);
    char *p = strstr(text, "backend=\"newton\"");
    ck_assert_ptr_nonnull(p);
    char buf[16384];
    snprintf(buf, sizeof buf, "%.*sbackend=\"ngspice\"%s", (int)(p - text), text,
             p + strlen("backend=\"newton\""));
    const char *xml_ng = tu_write_temp(buf, ".xml");
    free(text);
    double *g[2];
    int n = 0;
    for (int r = 0; r < 2; ++r) {
        job j;
        job_open(&j, r ? xml_ng : xml);
        for (int s = 0; s < 16; ++s)
            ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        n = eqs_circuit_param_count(j.c);
        g[r] = conductances(j.c);
        tu_job_close(&j);
    }
    double worst = 0;
    for (int k = 0; k < n; ++k) {
        double rel = fabs(g[0][k] - g[1][k]) / fabs(g[0][k]);
        if (rel > worst) worst = rel;
    }
    ck_assert_msg(worst < 1e-8, "newton vs ngspice: relative difference %g", worst);
    free(g[0]);
    free(g[1]);
}
END_TEST

/* ---------------------------------------------------------------- */
/* CLI                                                              */
/* ---------------------------------------------------------------- */
static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Criterion 4: SIGKILL after the first checkpoint, --resume, and the final
 * conductances equal an uninterrupted run's byte for byte. */
START_TEST(test_kill_and_resume)
{
    const char *base = tu_temp_dir();
    char full[4200], part[4200], ck[4300], a[4300], b[4300];
    snprintf(full, sizeof full, "%s/full", base);
    snprintf(part, sizeof part, "%s/part", base);
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", part);
    /* 2-32-2, 1024 samples, 3 epochs, a checkpoint every 3 batches */
    const char *xml = xor_xml(32, 1024, 64, 3, 4, 1e-8, 0.9, 4, 3, full);
    char *out = NULL, *err = NULL;
    const char *argv_full[] = {"train", xml, NULL};
    int rc = tu_run_cli(argv_full, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(out);
    free(err);

    const char *cli = getenv("EQS_CLI");
    if (!cli) cli = "build/eqspice";
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(cli, cli, "train", xml, "-o", part, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    for (int i = 0; i < 200000 && !exists(ck); ++i) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the run finished before it could be killed");
    snprintf(a, sizeof a, "%s/conductances.csv", part);
    ck_assert(!exists(a)); /* killed mid-run: no final files */

    const char *argv_resume[] = {"train", "--resume", part, NULL};
    rc = tu_run_cli(argv_resume, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "resuming") != NULL, "%s", err);
    free(out);
    free(err);
    snprintf(b, sizeof b, "%s/conductances.csv", full);
    char *ga = tu_read_file(a), *gb = tu_read_file(b);
    ck_assert_ptr_nonnull(ga);
    ck_assert_ptr_nonnull(gb);
    ck_assert_str_eq(ga, gb);
    free(ga);
    free(gb);
    /* metrics: the same epochs with the same losses and warnings (seconds differ) */
    snprintf(a, sizeof a, "%s/metrics.csv", part);
    snprintf(b, sizeof b, "%s/metrics.csv", full);
    char *ma = tu_read_file(a), *mb = tu_read_file(b);
    ck_assert_ptr_nonnull(ma);
    ck_assert_ptr_nonnull(mb);
    char *sa = ma, *sb = mb;
    int rows = 0;
    for (char *la = strsep(&sa, "\n"), *lb = strsep(&sb, "\n"); la && lb;
         la = strsep(&sa, "\n"), lb = strsep(&sb, "\n")) {
        char *ca = strrchr(la, ','), *cb = strrchr(lb, ',');
        if (ca && cb && rows > 0) { /* ...,test_error,seconds,warnings: drop seconds */
            ck_assert_str_eq(ca, cb);
            *ca = *cb = '\0';
            ca = strrchr(la, ','), cb = strrchr(lb, ',');
            ck_assert(ca && cb);
            *ca = *cb = '\0';
        }
        ck_assert_str_eq(la, lb);
        rows++;
    }
    ck_assert_int_eq(rows, 5); /* header, 3 epochs, final empty line */
    free(ma);
    free(mb);
}
END_TEST

/* Training and eval through the CLI, eval of the exported netlist agreeing
 * with the trainer's own test error. */
START_TEST(test_cli_train_eval)
{
    const char *dir = tu_temp_dir();
    char run[4200], net[4300];
    snprintf(run, sizeof run, "%s/run", dir);
    const char *xml = xor_xml(16, 256, 128, 3, 4, 1e-8, 0.9, 1, 0, run);
    char *out = NULL, *err = NULL;
    const char *argv[] = {"train", xml, "--stats", NULL};
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(out, "test_accuracy=") != NULL, "%s", out);
    ck_assert_msg(strstr(err, "epoch 3/3: train loss") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "samples/s)") != NULL, "%s", err);
    const char *files[] = {"metrics.csv", "experiment.xml", "checkpoint.bin", "trained.cir",
                           "conductances.csv", "learning_curve.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; ++i) {
        snprintf(net, sizeof net, "%s/%s", run, files[i]);
        ck_assert_msg(exists(net), "%s missing", net);
    }
    free(out);
    free(err);
    /* the exported netlist evaluates on fresh XOR samples */
    snprintf(net, sizeof net, "%s/trained.cir", run);
    const char *ev[] = {"eval", net, "--synthetic", "xor", "--n", "200", "--seed", "77",
                        "--noise", "0.05", "--gain", "8", "--on", "0.5", NULL};
    rc = tu_run_cli(ev, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strncmp(out, "samples,loss_V2,error,accuracy\n200,", 35) == 0, "%s", out);
    double e = strtod(strrchr(out, ',') + 1, NULL);
    ck_assert_msg(e > 0.9, "accuracy %g", e);
    free(out);
    free(err);
    /* the run directory is not reused */
    rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "not empty") != NULL, "%s", err);
    free(out);
    free(err);
}
END_TEST

/* Bad input: exit 1, a message naming the problem, no run directory. */
static void bad_train(const char *xml_text, const char *netlist_text, const char *csv_text,
                      const char *expect)
{
    const char *dir = tu_temp_dir();
    char path[4300], run[4300], xml[16384];
    snprintf(run, sizeof run, "%s/run", dir);
    if (netlist_text) {
        snprintf(path, sizeof path, "%s/net.cir", dir);
        FILE *f = fopen(path, "w");
        fputs(netlist_text, f);
        fclose(f);
    }
    if (csv_text) {
        snprintf(path, sizeof path, "%s/data.csv", dir);
        FILE *f = fopen(path, "w");
        fputs(csv_text, f);
        fclose(f);
    }
    snprintf(xml, sizeof xml, xml_text, run);
    snprintf(path, sizeof path, "%s/exp.xml", dir);
    FILE *f = fopen(path, "w");
    fputs(xml, f);
    fclose(f);
    char *out = NULL, *err = NULL;
    const char *argv[] = {"train", path, NULL};
    int rc = tu_run_cli(argv, &out, &err, 30);
    ck_assert_msg(rc == 1, "rc %d for '%s': %s", rc, expect, err);
    ck_assert_msg(strstr(err, expect) != NULL, "expected '%s' in: %s", expect, err);
    ck_assert_msg(!exists(run), "run directory created for '%s'", expect);
    free(out);
    free(err);
}

#define EXP_HEAD "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
#define EXP_TAIL                                                                          \
    "  <algorithm beta=\"1e-5\"/>\n"                                                      \
    "  <learning><rate elements=\"*\" value=\"1e-9\"/></learning>\n"                      \
    "  <training epochs=\"1\"/>\n  <output dir=\"%s\"/>\n</experiment>\n"

static const char net_ok[] = "* two inputs, two outputs\n"
                             "v1 a 0 1\nv2 b 0 1\nr1 a o0 1k\nr2 b o0 1k\nr3 a o1 1k\n"
                             "r4 b o1 1k\nr5 o0 0 1k\nr6 o1 0 1k\n"
                             ".input v1 v2\n.output o0 o1\n.end\n";
static const char net_noout[] = "* no output\nv1 a 0 1\nv2 b 0 1\nr1 a o0 1k\nr2 b o0 1k\nr5 o0 0 1k\n"
                                ".input v1 v2\n.end\n";
static const char net_three[] = "* three inputs\nv1 a 0 1\nv2 b 0 1\nv3 c 0 1\nr1 a o0 1k\nr2 b o0 1k\n"
                                "r3 c o1 1k\nr5 o0 0 1k\nr6 o1 0 1k\n"
                                ".input v1 v2 v3\n.output o0 o1\n.end\n";

START_TEST(test_cli_bad_input)
{
    /* schema: beta = 0 */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><synthetic task=\"xor\" train_size=\"8\"/></dataset>\n"
                       "  <algorithm beta=\"0\"/>\n"
                       "  <learning><rate elements=\"*\" value=\"1e-9\"/></learning>\n"
                       "  <training epochs=\"1\"/>\n  <output dir=\"%s\"/>\n</experiment>\n",
              net_ok, NULL, "beta");
    /* negative learning rate */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><synthetic task=\"xor\" train_size=\"8\"/></dataset>\n"
                       "  <algorithm beta=\"1e-5\"/>\n"
                       "  <learning><rate elements=\"*\" value=\"-1\"/></learning>\n"
                       "  <training epochs=\"1\"/>\n  <output dir=\"%s\"/>\n</experiment>\n",
              net_ok, NULL, "exp.xml:");
    /* netlist without .output */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><synthetic task=\"xor\" train_size=\"8\"/></dataset>\n" EXP_TAIL,
              net_noout, NULL, ".output");
    /* feature count vs inputs */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><synthetic task=\"xor\" train_size=\"8\"/></dataset>\n" EXP_TAIL,
              net_three, NULL, "3 .input sources");
    /* missing dataset file */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><csv><train path=\"missing.csv\"/></csv></dataset>\n" EXP_TAIL,
              net_ok, NULL, "missing.csv");
    /* label out of range for the network's outputs */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><csv><train path=\"data.csv\"/></csv></dataset>\n" EXP_TAIL,
              net_ok, "x1,x2,label\n0.1,0.2,0\n0.3,0.4,5\n", "label 5");
    /* corrupt IDX file (bad magic) */
    bad_train(EXP_HEAD "<network><netlist path=\"net.cir\"/></network>\n"
                       "<dataset><idx><train images=\"data.csv\" labels=\"data.csv\"/></idx>"
                       "</dataset>\n" EXP_TAIL,
              net_ok, "not an idx file at all\n", "data.csv");
}
END_TEST

START_TEST(test_cli_eval_bad_input)
{
    const char *net = tu_write_temp(net_noout, ".cir");
    char *out = NULL, *err = NULL;
    const char *a1[] = {"eval", net, "--synthetic", "xor", NULL};
    ck_assert_int_eq(tu_run_cli(a1, &out, &err, 30), 1);
    ck_assert_msg(strstr(err, ".output") != NULL, "%s", err);
    free(out);
    free(err);
    net = tu_write_temp(net_three, ".cir");
    const char *a2[] = {"eval", net, "--synthetic", "xor", NULL};
    ck_assert_int_eq(tu_run_cli(a2, &out, &err, 30), 1);
    ck_assert_msg(strstr(err, "feature") != NULL, "%s", err);
    free(out);
    free(err);
    const char *a3[] = {"eval", net, NULL};
    ck_assert_int_eq(tu_run_cli(a3, &out, &err, 30), 1);
    free(out);
    free(err);
    const char *a5[] = {"train", NULL};
    ck_assert_int_eq(tu_run_cli(a5, &out, &err, 30), 1);
    ck_assert_msg(strstr(err, "no experiment") != NULL, "%s", err);
    free(out);
    free(err);
    const char *a6[] = {"train", "--help", NULL};
    ck_assert_int_eq(tu_run_cli(a6, &out, &err, 30), 0);
    ck_assert_msg(strstr(out, "usage: eqspice train") != NULL, "%s", out);
    free(out);
    free(err);
    const char *a4[] = {"eval", "--help", NULL};
    ck_assert_int_eq(tu_run_cli(a4, &out, &err, 30), 0);
    ck_assert_msg(strstr(out, "--synthetic") != NULL, "%s", out);
    free(out);
    free(err);
}
END_TEST

/* ---- Health checks (eqs_trainer_options health_*, docs/tuning.md) ---- */

/* A small experiment for the health checks: XOR on a 2-16-2 Shockley DRN
 * trained sample by sample (newton), as xor_xml, or 8-feature blobs on an
 * 8-24-3 ideal-diode DRN trained in batch (layered), at input gain gain_V. */
static const char *health_xml(int batched, double gain_V, int epochs, const char *outdir)
{
    static char buf[8192];
    if (!batched)
        snprintf(buf, sizeof buf,
                 "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
                 "  <network><drn layers=\"2 16 2\"/></network>\n"
                 "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"64\" "
                 "noise=\"0.05\"/></dataset>\n"
                 "  <input gain_V=\"%.17g\" encoding=\"pair\"/>\n"
                 "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
                 "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
                 "  <learning momentum=\"0.9\"><rate elements=\"r1_*\" value=\"1e-8\"/>"
                 "<rate elements=\"r*\" value=\"5e-9\"/></learning>\n"
                 "  <training epochs=\"%d\" batch=\"4\" seed=\"1\"/>\n"
                 "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
                 "  <solver backend=\"newton\"/>\n"
                 "  <output dir=\"%s\"/>\n</experiment>\n",
                 gain_V, epochs, outdir);
    else
        snprintf(buf, sizeof buf,
                 "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
                 "  <network><drn layers=\"8 24 3\" g_init_min_S=\"1e-6\" "
                 "g_init_max_S=\"1e-4\"/></network>\n"
                 "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"96\" "
                 "features=\"8\"/></dataset>\n"
                 "  <input gain_V=\"%.17g\" encoding=\"pair\"/>\n"
                 "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
                 "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
                 "  <learning momentum=\"0.9\"><rate elements=\"r1_*\" value=\"3e-7\"/>"
                 "<rate elements=\"r*\" value=\"1e-7\"/></learning>\n"
                 "  <training epochs=\"%d\" batch=\"8\" seed=\"1\"/>\n"
                 "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
                 "  <solver backend=\"layered\" diodes=\"ideal\"/>\n"
                 "  <output dir=\"%s\"/>\n</experiment>\n",
                 gain_V, epochs, outdir);
    return tu_write_temp(buf, ".xml");
}

/* The experiment with trainer options opt (NULL: defaults). */
static void health_open(job *j, int batched, double gain_V, const eqs_trainer_options *opt)
{
    tu_job_open(j, health_xml(batched, gain_V, 30, "/nonexistent"), 0);
    ck_assert_msg(eqs_trainer_create(j->ctx, j->exp, j->c, j->train, opt, &j->tr) == EQS_OK,
                  "%s", eqs_ctx_error(j->ctx));
    ck_assert_int_eq(eqs_trainer_batched(j->tr), batched);
}

/* Flags of each of `epochs` epochs into flags[]; the training loss of the
 * first and last epoch (free phases before the updates) into *l0, *l1. */
static void health_run(job *j, int epochs, unsigned *flags, double *l0, double *l1)
{
    for (int e = 0; e < epochs; ++e) {
        ck_assert_msg(eqs_trainer_epoch(j->tr) == EQS_OK, "%s", eqs_ctx_error(j->ctx));
        eqs_trainer_status p;
        eqs_trainer_progress(j->tr, &p);
        flags[e] = p.health;
        if (e == 0) *l0 = p.train_loss;
        *l1 = p.train_loss;
    }
}

/* A healthy network is not warned about: XOR (sample by sample, Shockley
 * diodes) and blobs (batched, ideal diodes) learn (the training loss falls
 * by more than 20 %) with no flag in any epoch. */
START_TEST(test_health_quiet)
{
    for (int batched = 0; batched <= 1; ++batched) {
        job j;
        health_open(&j, batched, batched ? 4.0 : 8.0, NULL);
        unsigned f[6];
        double l0, l1;
        health_run(&j, 6, f, &l0, &l1);
        char names[128];
        for (int e = 0; e < 6; ++e)
            ck_assert_msg(f[e] == 0, "%s: epoch %d warned '%s'", batched ? "blobs" : "xor",
                          e + 1, eqs_health_format(f[e], names, sizeof names));
        ck_assert_msg(l1 < 0.8 * l0, "loss %g -> %g", l0, l1);
        tu_job_close(&j);
    }
}
END_TEST

/* A dead network (input gain 0: every node at 0 V, whatever the
 * conductances) is reported in its first epoch: constant outputs, a flat
 * loss (first half of the epoch against the second) and, sample by sample,
 * no active hidden unit; from the second epoch on also one predicted
 * class (not checked in a first epoch).  The batched path
 * cannot see the hidden units and leaves hidden_off clear.  The warnings
 * allocate nothing. */
START_TEST(test_health_dead)
{
    for (int batched = 0; batched <= 1; ++batched) {
        job j;
        health_open(&j, batched, 0.0, NULL);
        ck_assert_int_eq(eqs_trainer_step(j.tr), EQS_OK); /* first solves save states */
        uint64_t a0 = eqs_ctx_alloc_count(j.ctx);
        unsigned f[2];
        double l0, l1;
        health_run(&j, 2, f, &l0, &l1);
        ck_assert_uint_eq(eqs_ctx_alloc_count(j.ctx), a0);
        unsigned want = EQS_HEALTH_LOSS_FLAT | EQS_HEALTH_OUTPUTS_CONSTANT |
                        (batched ? 0u : EQS_HEALTH_HIDDEN_OFF);
        char names[128];
        for (int e = 0; e < 2; ++e) /* one_class from the second epoch on */
            ck_assert_msg(f[e] == (want | (e ? EQS_HEALTH_ONE_CLASS : 0u)), "%s: epoch %d: '%s'",
                          batched ? "blobs" : "xor", e + 1,
                          eqs_health_format(f[e], names, sizeof names));
        /* every output at 0 V: the loss is exactly on_V^2 / 2 per sample */
        ck_assert_double_eq(l1, 0.125);
        tu_job_close(&j);
    }
}
END_TEST

/* Each threshold is the one its check uses: on the healthy XOR network a
 * huge health_loss_rel, health_spread_rel or health_active_V raises exactly
 * its own flag (loss_flat from the second epoch on, against the previous
 * epoch), and health_checks = 0 silences the dead network. */
START_TEST(test_health_thresholds)
{
    static const struct {
        int which;
        unsigned flag;
    } cases[] = {{0, EQS_HEALTH_LOSS_FLAT}, {1, EQS_HEALTH_OUTPUTS_CONSTANT},
                 {2, EQS_HEALTH_HIDDEN_OFF}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
        eqs_trainer_options opt;
        eqs_trainer_options_defaults(&opt);
        if (cases[c].which == 0) opt.health_loss_rel = 1e9;
        if (cases[c].which == 1) opt.health_spread_rel = 1e9;
        if (cases[c].which == 2) opt.health_active_V = 1e9;
        job j;
        health_open(&j, 0, 8.0, &opt);
        unsigned f[2];
        double l0, l1;
        health_run(&j, 2, f, &l0, &l1);
        ck_assert_uint_eq(f[1], cases[c].flag);
        tu_job_close(&j);
    }
    eqs_trainer_options opt;
    eqs_trainer_options_defaults(&opt);
    ck_assert_int_eq(opt.health_checks, 1);
    ck_assert_double_eq(opt.health_loss_rel, 1e-5);
    ck_assert_double_eq(opt.health_spread_rel, 1e-3);
    ck_assert_double_eq(opt.health_active_V, 1e-6);
    opt.health_checks = 0;
    job j;
    health_open(&j, 0, 0.0, &opt);
    unsigned f[2];
    double l0, l1;
    health_run(&j, 2, f, &l0, &l1);
    ck_assert_uint_eq(f[0] | f[1], 0);
    tu_job_close(&j);
    char b[128];
    ck_assert_str_eq(eqs_health_format(0, b, sizeof b), "");
    ck_assert_str_eq(eqs_health_format(EQS_HEALTH_LOSS_FLAT | EQS_HEALTH_HIDDEN_OFF, b, sizeof b),
                     "loss_flat+hidden_off");
    ck_assert_str_eq(eqs_health_format(EQS_HEALTH_ONE_CLASS, b, 4), "one"); /* truncated */
}
END_TEST

/* `eqspice train` on the dead network: the warnings on stderr from the
 * first epoch, the flags in metrics.csv's `warnings` column; a healthy run
 * prints no warning and leaves the column empty. */
START_TEST(test_cli_health)
{
    const char *dir = tu_temp_dir();
    for (int dead = 0; dead <= 1; ++dead) {
        char run[4200], path[4300];
        snprintf(run, sizeof run, "%s/run%d", dir, dead);
        const char *argv[] = {"train", health_xml(0, dead ? 0.0 : 8.0, 2, run), NULL};
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(argv, &out, &err, 60);
        ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
        snprintf(path, sizeof path, "%s/metrics.csv", run);
        char *m = tu_read_file(path);
        ck_assert_ptr_nonnull(m);
        if (dead) {
            ck_assert_msg(strstr(err, "warning: epoch 1: the outputs are the same") != NULL,
                          "%s", err);
            ck_assert_msg(strstr(err, "warning: epoch 2: the mean training loss did not move") !=
                              NULL, "%s", err);
            ck_assert_msg(strstr(m, ",loss_flat+outputs_constant+hidden_off\n2,") != NULL, "%s",
                          m);
            ck_assert_msg(strstr(m, ",loss_flat+outputs_constant+one_class+hidden_off\n") !=
                              NULL, "%s", m);
        } else {
            ck_assert_msg(strstr(err, "warning") == NULL, "%s", err);
            ck_assert_msg(strstr(m, "seconds,warnings\n1,") != NULL, "%s", m);
            for (char *l = strchr(m, '\n'); l && l[1]; l = strchr(l + 1, '\n'))
                ck_assert_msg(strchr(l + 1, '\n')[-1] == ',', "%s", m);
        }
        free(m);
        free(out);
        free(err);
    }
}
END_TEST

/* ---- Initial conductances and the scaling rules (docs/tuning.md) ---- */

/* g_init="fan_in": crossbar l's conductances are uniform in
 * [g_min, s / sqrt(n_l)], n_l = 2 n0 for the input crossbar, else the
 * previous layer's size.  Closed form per crossbar: every value inside the
 * range (up to the 9 significant digits the generator writes), the mean
 * within 5 standard errors of the midpoint ((hi - lo) / sqrt(12 N)), the
 * largest value above hi (1 - 20 / N) (missed with probability e^-20).  The
 * written copy reads back with the option; a scale too small for g_min is
 * an error. */
START_TEST(test_g_init_fan_in)
{
    static const char fmt[] =
        "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
        "  <network><drn layers=\"20 50 30 4\" g_init=\"fan_in\" g_init_scale_S=\"%s\" "
        "g_init_min_S=\"%s\" g_init_max_S=\"1e-4\"/></network>\n"
        "  <dataset classes=\"4\"><synthetic task=\"blobs\" train_size=\"8\" "
        "features=\"20\"/></dataset>\n"
        "  <input gain_V=\"1\" encoding=\"pair\"/>\n"
        "  <algorithm beta=\"1e-5\"/>\n"
        "  <learning><rate elements=\"r*\" value=\"1e-9\"/></learning>\n"
        "  <training epochs=\"1\"/>\n  <output dir=\"/nonexistent\"/>\n</experiment>\n";
    char xml[2048];
    snprintf(xml, sizeof xml, fmt, "0.3", "1e-6");
    job j;
    tu_job_open(&j, tu_write_temp(xml, ".xml"), 0);
    ck_assert_int_eq(j.exp->drn.g_fan_in, 1);
    ck_assert_double_eq(j.exp->drn.g_fan_in_S, 0.3);
    const int fan_in[4] = {0, 40, 50, 30};
    for (int l = 1; l <= 3; ++l) {
        const double lo = 1e-6, hi = 0.3 / sqrt((double)fan_in[l]);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "r%d_", l);
        double sum = 0, gmax = 0;
        int n = 0;
        for (int k = 0; k < eqs_circuit_param_count(j.c); ++k) {
            if (strncmp(eqs_circuit_param_name(j.c, k), prefix, strlen(prefix))) continue;
            double g = eqs_circuit_param_get(j.c, k);
            ck_assert_msg(g >= lo * (1 - 1e-8) && g <= hi * (1 + 1e-8),
                          "%s = %g S outside [%g, %g]", eqs_circuit_param_name(j.c, k), g, lo, hi);
            sum += g;
            gmax = g > gmax ? g : gmax;
            n++;
        }
        ck_assert_int_eq(n, fan_in[l] * (l == 1 ? 50 : l == 2 ? 30 : 4));
        double se = (hi - lo) / sqrt(12.0 * n);
        ck_assert_msg(fabs(sum / n - 0.5 * (lo + hi)) <= 5 * se,
                      "crossbar %d: mean %g, midpoint %g", l, sum / n, 0.5 * (lo + hi));
        ck_assert_msg(gmax >= hi * (1 - 20.0 / n), "crossbar %d: max %g, bound %g", l, gmax, hi);
    }
    /* the run's copy keeps the option */
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/copy.xml", tu_temp_dir());
    ck_assert_int_eq(eqs_experiment_write(j.ctx, j.exp, copy), EQS_OK);
    eqs_experiment *e2 = NULL;
    ck_assert_msg(eqs_experiment_read(j.ctx, copy, &e2) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
    ck_assert_int_eq(e2->drn.g_fan_in, 1);
    ck_assert_double_eq(e2->drn.g_fan_in_S, 0.3);
    eqs_experiment_free(&e2);
    tu_job_close(&j);
    /* 0.045 S is below crossbar 1's bound 0.3 / sqrt(40) = 0.0474 S, above crossbar 2's
     * 0.3 / sqrt(50) = 0.0424 S */
    snprintf(xml, sizeof xml, fmt, "0.3", "0.045");
    eqs_ctx *ctx = tu_ctx();
    eqs_experiment *e = NULL;
    eqs_netlist *nl = NULL;
    ck_assert_int_eq(eqs_experiment_read(ctx, tu_write_temp(xml, ".xml"), &e), EQS_OK);
    ck_assert_int_eq(eqs_experiment_network(ctx, e, &nl), EQS_ERR_INPUT);
    ck_assert_msg(strstr(eqs_ctx_error(ctx), "g_init=fan_in: crossbar 2") != NULL, "%s",
                  eqs_ctx_error(ctx));
    ck_assert_ptr_null(nl);
    eqs_experiment_free(&e);
    eqs_ctx_free(&ctx);
    /* `gen drn --fan-in-S`: 0.5 / sqrt(2 x 8) = 0.125 S, 0.5 / sqrt(16) = 0.125 S */
    const char *argv[] = {"gen", "drn", "--layers", "8,16,2", "--fan-in-S", "0.5", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(argv, &out, &err, 30), 0);
    ck_assert_msg(strstr(out, "* crossbar 1: 16 x 16, conductances uniform in [1e-06, 0.125] S\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "* crossbar 2: 16 x 2, conductances uniform in [1e-06, 0.125] S\n"),
                  "%s", out);
    free(out);
    free(err);
}
END_TEST

/* The two exact scaling rules of docs/tuning.md (ideal diodes, no bias):
 *  - conductances: the node voltages do not change when every conductance
 *    and beta are multiplied by c, and dL/dG scales as 1/c, so rates times
 *    c^2 (bounds times c) give the same training run;
 *  - voltages: gain and targets times a multiply every voltage by a, the
 *    loss by a^2 and dL/dG by a^2, so rates divided by a^2 give the same
 *    run with losses times a^2.
 * Three epochs of a batched blobs network at c = 4 with rates x 16, and at
 * a = 2 with rates / 4, reproduce the training losses of the reference to
 * 1e-6 (the generator writes resistances to 9 digits, so the networks
 * differ by ~1e-9 relative); c = 4 with rates x 4 (the rule not followed)
 * differs by far more. */
static const char *scaled_xml(double c, double rate_mult, double a)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"8 24 3\" g_init_min_S=\"%.17g\" "
             "g_init_max_S=\"%.17g\"/></network>\n"
             "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"96\" "
             "features=\"8\"/></dataset>\n"
             "  <input gain_V=\"%.17g\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"%.17g\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"%.17g\"/>\n"
             "  <learning momentum=\"0.9\"><rate elements=\"r1_*\" value=\"%.17g\"/>"
             "<rate elements=\"r*\" value=\"%.17g\"/></learning>\n"
             "  <training epochs=\"3\" batch=\"8\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"%.17g\" g_max_S=\"%.17g\"/>\n"
             "  <solver backend=\"layered\" diodes=\"ideal\"/>\n"
             "  <output dir=\"/nonexistent\"/>\n</experiment>\n",
             1e-6 * c, 1e-4 * c, 4 * a, 0.5 * a, 1e-5 * c, 3e-7 * rate_mult, 1e-7 * rate_mult,
             1e-7 * c, 1e-3 * c);
    return tu_write_temp(buf, ".xml");
}

START_TEST(test_conductance_scale_rule)
{
    double loss[4][3];
    const double c[4] = {1, 4, 4, 1}, mult[4] = {1, 16, 4, 0.25}, a[4] = {1, 1, 1, 2};
    for (int r = 0; r < 4; ++r) {
        job j;
        job_open(&j, scaled_xml(c[r], mult[r], a[r]));
        for (int e = 0; e < 3; ++e) {
            ck_assert_int_eq(eqs_trainer_epoch(j.tr), EQS_OK);
            eqs_trainer_status p;
            eqs_trainer_progress(j.tr, &p);
            loss[r][e] = p.train_loss / (a[r] * a[r]);
        }
        tu_job_close(&j);
    }
    double worst_rule = 0, worst_other = 0, worst_volt = 0;
    for (int e = 1; e < 3; ++e) { /* epoch 1 trains with the initial network */
        worst_rule = fmax(worst_rule, fabs(loss[1][e] / loss[0][e] - 1));
        worst_other = fmax(worst_other, fabs(loss[2][e] / loss[0][e] - 1));
        worst_volt = fmax(worst_volt, fabs(loss[3][e] / loss[0][e] - 1));
    }
    fprintf(stderr, "conductance scale x4: losses differ by %.2g (rates x16) and %.2g (x4); "
                    "voltage scale x2 (rates / 4): %.2g\n", worst_rule, worst_other, worst_volt);
    ck_assert_msg(worst_rule < 1e-6, "%g", worst_rule);
    ck_assert_msg(worst_volt < 1e-6, "%g", worst_volt);
    ck_assert_msg(worst_other > 1e-3, "%g", worst_other);
}
END_TEST

Suite *suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_xor_learns);
    tcase_add_test(tc, test_cosine_schedule);
    tcase_add_test(tc, test_xor_learns_pairs);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_step_no_alloc);
    tcase_add_test(tc, test_update_rule);
    tcase_add_test(tc, test_checkpoint_resume_in_process);
    tcase_add_test(tc, test_ngspice_backend_agrees);
    tcase_add_test(tc, test_health_quiet);
    tcase_add_test(tc, test_health_dead);
    tcase_add_test(tc, test_health_thresholds);
    tcase_add_test(tc, test_g_init_fan_in);
    tcase_add_test(tc, test_conductance_scale_rule);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, test_kill_and_resume);
    tcase_add_test(cli, test_cli_train_eval);
    tcase_add_test(cli, test_cli_bad_input);
    tcase_add_test(cli, test_cli_eval_bad_input);
    tcase_add_test(cli, test_cli_health);
    suite_add_tcase(s, cli);
    return s;
}
