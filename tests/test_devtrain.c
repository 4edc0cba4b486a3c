/* test_devtrain.c: training through a device model (docs/devices.md, "In
 * training"): the experiment's <conductance device_model=...>.
 *
 * Oracles: training without a model (the ideal device must give the same
 * bits), the device's own grid (levels), its instance draws (stuck
 * devices), the same run with 1 and 2 threads and after a checkpoint or a
 * SIGKILL and resume, the closed forms of read noise and drift, and
 * moments of the draws with bounds of four standard errors at the stated n. */
#include "testutil.h"
#include "update/update.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A 6-feature, 3-class blobs DRN 6-6-3 (pair inputs: 12 input lines) with initial
 * conductances inside [1 uS, 100 uS], trained at a rate that drives some
 * of them to the window's bounds within a few epochs. */
static const char *dt_xml(const char *backend, double lo_S, double hi_S, const char *model,
                          const char *solver_attrs, int epochs, const char *outdir, int every)
{
    static char buf[8192];
    char dm[4200] = "";
    if (model) snprintf(dm, sizeof dm, " device_model=\"%s\"", model);
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"6 6 3\" g_init_min_S=\"2e-6\" g_init_max_S=\"9e-5\"/>"
             "</network>\n"
             "  <dataset classes=\"3\"><synthetic task=\"blobs\" train_size=\"48\" "
             "test_size=\"24\" features=\"6\"/></dataset>\n"
             "  <input gain_V=\"4\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.5\"><rate elements=\"r*\" value=\"2e-5\"/></learning>\n"
             "  <training epochs=\"%d\" batch=\"4\" seed=\"11\"/>\n"
             "  <conductance g_min_S=\"%.17g\" g_max_S=\"%.17g\"%s/>\n"
             "  <solver backend=\"%s\" %s/>\n"
             "  <output dir=\"%s\" checkpoint_every=\"%d\"/>\n"
             "</experiment>\n",
             epochs, lo_S, hi_S, dm, backend, solver_attrs ? solver_attrs : "",
             outdir ? outdir : "/nonexistent", every);
    return tu_write_temp(buf, ".xml");
}

/* A device model file with the given attributes; its path stays valid for
 * the test (tu_write_temp's ring buffer does not). */
static const char *dt_model(const char *attrs)
{
    static char text[2048], paths[8][4096];
    static int next;
    snprintf(text, sizeof text, "<?xml version=\"1.0\"?>\n<device %s/>\n", attrs);
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s", tu_write_temp(text, ".xml"));
    return p;
}

/* A preset of models/ (path kept as dt_model's). */
static const char *dt_preset(const char *name)
{
    static char paths[4][4096];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s", tu_path(name));
    return p;
}

/* Conductances after `steps` training steps of `xml` (malloc'd; *n set). */
static double *dt_train(const char *xml, int steps, int *n, int *batched)
{
    tu_job j;
    tu_job_open(&j, xml, 1);
    for (int s = 0; s < steps; ++s)
        ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
    *n = eqs_circuit_param_count(j.c);
    if (batched) *batched = eqs_trainer_batched(j.tr);
    double *g = tu_conductances(j.c);
    tu_job_close(&j);
    return g;
}

static const char *const dt_backends[2] = {"newton", "layered"};

/* Criterion 2: ideal.xml gives the bits of training without a model, on
 * the per-sample and the batched path: under the experiment's window when
 * that is the device's, and under the device's window when the experiment
 * allows more.  The window is exercised: some conductances end on it. */
START_TEST(test_devtrain_ideal_bits)
{
    const char *ideal = dt_preset("models/ideal.xml");
    for (int p = 0; p < 2; ++p) {
        int n0, n1, n2, b0, b1, b2;
        double *g0 = dt_train(dt_xml(dt_backends[p], 1e-6, 1e-4, NULL, NULL, 3, NULL, 0), 36,
                              &n0, &b0);
        double *g1 = dt_train(dt_xml(dt_backends[p], 1e-6, 1e-4, ideal, NULL, 3, NULL, 0), 36,
                              &n1, &b1);
        double *g2 = dt_train(dt_xml(dt_backends[p], 1e-7, 1e-3, ideal, NULL, 3, NULL, 0), 36,
                              &n2, &b2);
        ck_assert_int_eq(b0, p);
        ck_assert_int_eq(b1, p);
        ck_assert_int_eq(b2, p);
        ck_assert_int_eq(n0, n1);
        ck_assert_int_eq(n0, n2);
        ck_assert_msg(memcmp(g0, g1, (size_t)n0 * sizeof *g0) == 0, "%s: ideal.xml differs",
                      dt_backends[p]);
        ck_assert_msg(memcmp(g0, g2, (size_t)n0 * sizeof *g0) == 0,
                      "%s: ideal.xml under a wider experiment window differs", dt_backends[p]);
        int at_bound = 0;
        for (int k = 0; k < n0; ++k) at_bound += g0[k] == 1e-6 || g0[k] == 1e-4;
        ck_assert_msg(at_bound > 0, "%s: no conductance reached the window", dt_backends[p]);
        free(g0);
        free(g1);
        free(g2);
    }
}
END_TEST

/* A 64-level constant-step device: every trained conductance starts and
 * stays on its grid G_min + i (G_max - G_min)/63, i = 0..63, inside the
 * window, on both paths; training moved some of them. */
START_TEST(test_devtrain_levels_grid)
{
    const char *model = dt_preset("models/linear-step-64.xml");
    const double a = 1e-6, b = 1e-4, h = (b - a) / 63.0;
    for (int p = 0; p < 2; ++p) {
        int n, n0;
        double *g0 = dt_train(dt_xml(dt_backends[p], 1e-7, 1e-3, model, NULL, 3, NULL, 0), 0,
                              &n0, NULL);
        double *g = dt_train(dt_xml(dt_backends[p], 1e-7, 1e-3, model, NULL, 3, NULL, 0), 36, &n,
                             NULL);
        int moved = 0;
        for (int k = 0; k < n; ++k) {
            for (int r = 0; r < 2; ++r) {
                const double G = r ? g[k] : g0[k], i = round((G - a) / h);
                ck_assert_msg(G >= a && G <= b, "%s: G[%d] = %g S outside the window",
                              dt_backends[p], k, G);
                ck_assert_msg(fabs(G - (a + i * h)) <= 1e-6 * h,
                              "%s: G[%d] = %.17g S is %g steps off the grid", dt_backends[p], k,
                              G, (G - (a + i * h)) / h);
            }
            moved += fabs(g[k] - g0[k]) > 0.5 * h;
        }
        ck_assert_msg(moved > n / 10, "%s: only %d of %d devices moved", dt_backends[p], moved,
                      n);
        free(g);
        free(g0);
    }
}
END_TEST

/* A device with every training-time noise source: cycle-to-cycle noise,
 * device-to-device step and window variation, stuck devices, stochastic
 * rounding of the pulse count. */
#define DT_NOISY                                                                                \
    "law=\"soft\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" dw_min_S=\"2e-6\" c2c_rel=\"0.3\" "        \
    "d2d_step_rel=\"0.2\" d2d_window_rel=\"0.05\" stuck_min_frac=\"0.05\" "                    \
    "stuck_max_frac=\"0.05\" rounding=\"stochastic\""

/* Noisy training: the batched path gives the same bits with 1 and 2
 * threads (split_min 10 so the blocks are split); stuck devices hold their
 * instance's stuck value on both paths. */
START_TEST(test_devtrain_noisy_threads_and_stuck)
{
    const char *model = dt_model(DT_NOISY);
    int n1, n2, b1, b2;
    double *g1 = dt_train(dt_xml("layered", 1e-7, 1e-3, model, "threads=\"1\"", 3, NULL, 0), 36,
                          &n1, &b1);
    double *g2 = dt_train(
        dt_xml("layered", 1e-7, 1e-3, model, "threads=\"2\" split_min=\"10\"", 3, NULL, 0), 36,
        &n2, &b2);
    ck_assert(b1 && b2);
    ck_assert_int_eq(n1, n2);
    ck_assert_msg(memcmp(g1, g2, (size_t)n1 * sizeof *g1) == 0, "threads 1 and 2 differ");
    for (int p = 0; p < 2; ++p) {
        int n;
        double *g = p ? g1
                      : dt_train(dt_xml("newton", 1e-7, 1e-3, model, NULL, 3, NULL, 0), 36, &n,
                                 NULL);
        eqs_ctx *ctx = tu_ctx();
        eqs_device_law *law = NULL;
        ck_assert_int_eq(eqs_device_law_read(ctx, model, &law), EQS_OK);
        law->seed = 11; /* the training seed: the file gives none */
        int stuck = 0;
        for (int k = 0; k < n1; ++k) {
            eqs_device_inst dev;
            eqs_device_instance(law, (uint64_t)k, &dev);
            /* the experiment's window [1e-7, 1e-3] bounds every device */
            const double lo = fmax(dev.g_min_S, 1e-7), hi = fmin(dev.g_max_S, 1e-3);
            ck_assert(g[k] >= lo && g[k] <= hi);
            if (!dev.stuck) continue;
            stuck++;
            ck_assert_msg(g[k] == (dev.stuck < 0 ? lo : hi), "stuck device %d at %g S", k, g[k]);
        }
        ck_assert_int_gt(stuck, 0);
        eqs_device_law_free(ctx, &law);
        eqs_ctx_free(&ctx);
        if (!p) free(g);
    }
    free(g1);
    free(g2);
}
END_TEST

/* Noisy training resumes bit for bit from a checkpoint taken mid-epoch,
 * on the per-sample path with read noise and on the batched path. */
START_TEST(test_devtrain_noisy_resume)
{
    const char *model = dt_model(DT_NOISY " read_noise_rel=\"0.02\"");
    const char *model_b = dt_model(DT_NOISY);
    char ck[4300];
    snprintf(ck, sizeof ck, "%s/ck.bin", tu_temp_dir());
    for (int p = 0; p < 2; ++p) {
        const char *xml = dt_xml(dt_backends[p], 1e-7, 1e-3, p ? model_b : model, NULL, 3, NULL, 0);
        tu_job a, b;
        tu_job_open(&a, xml, 1);
        ck_assert_int_eq(eqs_trainer_batched(a.tr), p);
        for (int s = 0; s < 17; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        ck_assert_msg(eqs_trainer_checkpoint_write(a.tr, ck) == EQS_OK, "%s",
                      eqs_ctx_error(a.ctx));
        for (int s = 17; s < 36; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        tu_job_open(&b, xml, 1);
        ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK); /* state to be overwritten */
        ck_assert_msg(eqs_trainer_checkpoint_read(b.tr, ck) == EQS_OK, "%s",
                      eqs_ctx_error(b.ctx));
        for (int s = 17; s < 36; ++s) ck_assert_int_eq(eqs_trainer_step(b.tr), EQS_OK);
        int n = eqs_circuit_param_count(a.c);
        double *ga = tu_conductances(a.c), *gb = tu_conductances(b.c);
        ck_assert_msg(memcmp(ga, gb, (size_t)n * sizeof *ga) == 0, "%s: resumed run differs",
                      dt_backends[p]);
        free(ga);
        free(gb);
        tu_job_close(&a);
        tu_job_close(&b);
    }
}
END_TEST

static int dt_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Criterion 2, from the command line: a noisy run killed after its first
 * checkpoint and resumed writes the conductances of an uninterrupted run. */
START_TEST(test_devtrain_kill_resume)
{
    const char *base = tu_temp_dir();
    char full[4200], part[4200], ck[4300], a[4300], b[4300];
    snprintf(full, sizeof full, "%s/full", base);
    snprintf(part, sizeof part, "%s/part", base);
    snprintf(ck, sizeof ck, "%s/checkpoint.bin", part);
    const char *model = dt_model(DT_NOISY " read_noise_rel=\"0.02\"");
    const char *xml = dt_xml("newton", 1e-7, 1e-3, model, NULL, 12, full, 2);
    char *out = NULL, *err = NULL;
    const char *argv_full[] = {"train", xml, NULL};
    int rc = tu_run_cli(argv_full, &out, &err, 120);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(out);
    free(err);
    const char *cli = getenv("EQS_CLI");
    if (!cli) cli = "build/eqspice";
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl(cli, cli, "train", xml, "-o", part, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    for (int i = 0; i < 200000 && !dt_exists(ck); ++i) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the run finished before it could be killed");
    snprintf(a, sizeof a, "%s/conductances.csv", part);
    ck_assert(!dt_exists(a));
    const char *argv_resume[] = {"train", "--resume", part, NULL};
    rc = tu_run_cli(argv_resume, &out, &err, 120);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(out);
    free(err);
    snprintf(b, sizeof b, "%s/conductances.csv", full);
    char *ga = tu_read_file(a), *gb = tu_read_file(b);
    ck_assert_ptr_nonnull(ga);
    ck_assert_ptr_nonnull(gb);
    ck_assert_str_eq(ga, gb);
    free(ga);
    free(gb);
}
END_TEST

/* Read noise: G (1 + s z) has mean G and variance (s G)^2 over elements
 * (n = 40000, four standard errors); reads of another key are other
 * draws; s = 0 reads G itself. */
START_TEST(test_devtrain_read_noise_stats)
{
    eqs_device_law law;
    eqs_device_law_defaults(&law);
    law.g_min_S = 1e-6;
    law.g_max_S = 1e-4;
    law.seed = 5;
    const double G = 5e-5, s = 0.03;
    ck_assert(eqs_device_read(&law, G, 3, 9) == G);
    law.read_noise_rel = s;
    const int n = 40000;
    double sum = 0, sum2 = 0, same = 0;
    for (int e = 0; e < n; ++e) {
        const double r = eqs_device_read(&law, G, 3, (uint64_t)e);
        sum += r;
        sum2 += r * r;
        same += r == eqs_device_read(&law, G, 4, (uint64_t)e);
        ck_assert(r == eqs_device_read(&law, G, 3, (uint64_t)e)); /* a function of the key */
    }
    const double mean = sum / n, var = sum2 / n - mean * mean, sd = s * G;
    ck_assert_msg(fabs(mean - G) < 4 * sd / sqrt(n), "mean %g, want %g", mean, G);
    /* var of the sample variance of a normal: 2 sd^4 / n */
    ck_assert_msg(fabs(var - sd * sd) < 4 * sqrt(2.0 / n) * sd * sd, "variance %g, want %g", var,
                  sd * sd);
    ck_assert(same == 0);
}
END_TEST

/* Stuck devices: fractions p_min, p_max of n = 40000 instances (four
 * binomial standard errors), each at its window's bound; programming a
 * stuck device returns its stuck value. */
START_TEST(test_devtrain_stuck_stats)
{
    eqs_device_law law;
    eqs_device_law_defaults(&law);
    law.kind = EQS_DEVICE_CONSTANT;
    law.g_min_S = 1e-6;
    law.g_max_S = 1e-4;
    law.dw_min_up_S = law.dw_min_down_S = 1e-6;
    law.seed = 8;
    law.stuck_min_frac = 0.1;
    law.stuck_max_frac = 0.03;
    const int n = 40000;
    int lo = 0, hi = 0;
    for (int e = 0; e < n; ++e) {
        eqs_device_inst dev;
        eqs_device_instance(&law, (uint64_t)e, &dev);
        lo += dev.stuck < 0;
        hi += dev.stuck > 0;
        const double v = eqs_device_program(&law, &dev, 5e-5, 1e-5, 0, (uint64_t)e, NULL);
        if (dev.stuck) ck_assert(v == (dev.stuck < 0 ? 1e-6 : 1e-4));
        else ck_assert_msg(fabs(v - 6e-5) < 1e-18, "%.17g: ten steps of 1 uS from 50 uS", v);
        ck_assert(eqs_device_place(&law, &dev, 3e-5) == (dev.stuck < 0   ? 1e-6
                                                          : dev.stuck > 0 ? 1e-4
                                                                          : 3e-5));
    }
    const double p[2] = {0.1, 0.03}, got[2] = {(double)lo / n, (double)hi / n};
    for (int i = 0; i < 2; ++i)
        ck_assert_msg(fabs(got[i] - p[i]) < 4 * sqrt(p[i] * (1 - p[i]) / n),
                      "stuck fraction %g, want %g", got[i], p[i]);
}
END_TEST

/* Drift: G (t/t0)^-nu, floored at G_min, nothing at t <= t0; the
 * device-to-device exponent has mean nu and std nu_std (n = 40000). */
START_TEST(test_devtrain_drift_closed_form)
{
    eqs_device_law law;
    eqs_device_law_defaults(&law);
    law.g_min_S = 1e-6;
    law.g_max_S = 1e-4;
    law.drift_nu = 0.05;
    law.drift_t0_s = 2.0;
    law.drift_t_s = 2.0;
    eqs_device_inst dev;
    eqs_device_instance(&law, 3, &dev);
    ck_assert(!eqs_device_drifts(&law));
    ck_assert(eqs_device_drift(&law, &dev, 5e-5) == 5e-5);
    law.drift_t_s = 2e4;
    ck_assert(eqs_device_drifts(&law));
    const double want = 5e-5 * exp(-0.05 * log(1e4)); /* (t/t0)^-nu, t/t0 = 1e4 */
    ck_assert_msg(fabs(eqs_device_drift(&law, &dev, 5e-5) - want) <= 1e-15 * want, "%.17g vs %.17g",
                  eqs_device_drift(&law, &dev, 5e-5), want);
    ck_assert(eqs_device_drift(&law, &dev, 1.1e-6) == 1e-6); /* floored at G_min */
    law.drift_nu_std = 0.02;
    law.seed = 4;
    const int n = 40000;
    double sum = 0, sum2 = 0;
    for (int e = 0; e < n; ++e) {
        eqs_device_instance(&law, (uint64_t)e, &dev);
        sum += dev.drift_nu;
        sum2 += dev.drift_nu * dev.drift_nu;
    }
    /* nu ~ N(0.05, 0.02) cut at 0 (2.5 sd: a 0.6 % tail, its effect on
     * the moments below the bounds' width only by ~1e-4 of nu) */
    const double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
    ck_assert_msg(fabs(mean - 0.05) < 4 * 0.02 / sqrt(n) + 1e-4, "mean nu %g", mean);
    ck_assert_msg(fabs(sd - 0.02) < 4 * 0.02 / sqrt(2.0 * n) + 2e-4, "std nu %g", sd);
}
END_TEST

/* Evaluation sees the device: with drift, the error and loss of the
 * drifted network (its conductances set by hand in a model-free job), and
 * the programmed values come back; with read noise, evaluation reads
 * through the noise (another loss) and changes no conductance. */
START_TEST(test_devtrain_eval_drift_and_read)
{
    const char *drift =
        dt_model("law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" levels=\"256\" drift_nu=\"0.1\" "
                 "drift_nu_std=\"0.03\" drift_t_s=\"1e5\"");
    for (int p = 0; p < 2; ++p) {
        tu_job a, b;
        tu_job_open(&a, dt_xml(dt_backends[p], 1e-7, 1e-3, drift, NULL, 3, NULL, 0), 1);
        tu_job_open(&b, dt_xml(dt_backends[p], 1e-7, 1e-3, NULL, NULL, 3, NULL, 0), 1);
        for (int s = 0; s < 12; ++s) ck_assert_int_eq(eqs_trainer_step(a.tr), EQS_OK);
        const int n = eqs_circuit_param_count(a.c);
        double *g = tu_conductances(a.c);
        eqs_device_law *law = NULL;
        ck_assert_int_eq(eqs_device_law_read(a.ctx, drift, &law), EQS_OK);
        law->seed = 11;
        int changed = 0;
        for (int k = 0; k < n; ++k) {
            eqs_device_inst dev;
            eqs_device_instance(law, (uint64_t)k, &dev);
            const double d = eqs_device_drift(law, &dev, g[k]);
            changed += d != g[k];
            ck_assert_int_eq(eqs_circuit_param_set(b.c, k, d), EQS_OK);
        }
        ck_assert_int_gt(changed, n / 2);
        double la, ea, lb, eb;
        ck_assert_int_eq(eqs_trainer_evaluate(a.tr, a.test, &la, &ea), EQS_OK);
        ck_assert_int_eq(eqs_trainer_evaluate(b.tr, b.test, &lb, &eb), EQS_OK);
        ck_assert_msg(la == lb && ea == eb, "%s: drifted evaluation %g/%g, by hand %g/%g",
                      dt_backends[p], la, ea, lb, eb);
        double *g2 = tu_conductances(a.c);
        ck_assert(memcmp(g, g2, (size_t)n * sizeof *g) == 0);
        free(g2);
        free(g);
        eqs_device_law_free(a.ctx, &law);
        tu_job_close(&a);
        tu_job_close(&b);
    }
    /* read noise: per-sample path; evaluation twice gives the same loss
     * (its reads are keyed), unlike the noise-free network's */
    const char *noisy = dt_model("law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" levels=\"256\" "
                                 "read_noise_rel=\"0.05\"");
    const char *plain = dt_model("law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" levels=\"256\"");
    tu_job a, b;
    tu_job_open(&a, dt_xml("layered", 1e-7, 1e-3, noisy, NULL, 3, NULL, 0), 1);
    tu_job_open(&b, dt_xml("layered", 1e-7, 1e-3, plain, NULL, 3, NULL, 0), 1);
    ck_assert(!eqs_trainer_batched(a.tr)); /* read noise: sample by sample */
    ck_assert(eqs_trainer_batched(b.tr));
    const int n = eqs_circuit_param_count(a.c);
    double *g = tu_conductances(a.c), *gb = tu_conductances(b.c);
    ck_assert(memcmp(g, gb, (size_t)n * sizeof *g) == 0); /* the same placement */
    double l1, e1, l2, e2, l0, e0;
    ck_assert_int_eq(eqs_trainer_evaluate(a.tr, a.test, &l1, &e1), EQS_OK);
    ck_assert_int_eq(eqs_trainer_evaluate(a.tr, a.test, &l2, &e2), EQS_OK);
    ck_assert_int_eq(eqs_trainer_evaluate(b.tr, b.test, &l0, &e0), EQS_OK);
    ck_assert(l1 == l2 && e1 == e2);
    ck_assert_msg(l1 != l0, "read noise left the loss at %g", l0);
    ck_assert_msg(fabs(l1 - l0) < 0.5 * l0, "read noise 5%%: loss %g against %g", l1, l0);
    double *g2 = tu_conductances(a.c);
    ck_assert(memcmp(g, g2, (size_t)n * sizeof *g) == 0);
    free(g);
    free(g2);
    free(gb);
    tu_job_close(&a);
    tu_job_close(&b);
}
END_TEST

/* mapping="reference": the conductances of the second line of every
 * input pair (from the xn<p> nodes: 6 pixels x 6 hidden units) are held at
 * g_ref_S through training on both paths; the others train and stay in
 * the window; a wrong reference is refused at the model's line. */
START_TEST(test_devtrain_reference_mapping)
{
    const char *model = dt_model("law=\"constant\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" "
                                 "levels=\"64\" mapping=\"reference\" g_ref_S=\"4e-5\"");
    for (int p = 0; p < 2; ++p) {
        tu_job j;
        tu_job_open(&j, dt_xml(dt_backends[p], 1e-7, 1e-3, model, NULL, 3, NULL, 0), 1);
        ck_assert_int_eq(eqs_trainer_batched(j.tr), p);
        const int n = eqs_circuit_param_count(j.c);
        double *g0 = tu_conductances(j.c);
        for (int s = 0; s < 36; ++s)
            ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        double *g = tu_conductances(j.c);
        int refs = 0, moved = 0;
        for (int k = 0; k < n; ++k) {
            const char *name = eqs_circuit_param_name(j.c, k);
            int l, i, o;
            const int first = sscanf(name, "r%d_%d_%d", &l, &i, &o) == 3 && l == 1;
            if (first && i % 2 == 1) { /* node order: xp0 xn0 xp1 xn1 ... */
                refs++;
                ck_assert_msg(g0[k] == 4e-5 && g[k] == 4e-5, "%s: reference at %g S", name, g[k]);
            } else {
                ck_assert(g[k] >= 1e-6 && g[k] <= 1e-4);
                moved += g[k] != g0[k];
            }
        }
        ck_assert_int_eq(refs, 6 * 6);
        ck_assert_int_gt(moved, (n - refs) / 10);
        free(g);
        free(g0);
        tu_job_close(&j);
    }
}
END_TEST

/* The experiment `xml` of dt_xml with its network replaced by the netlist
 * of a generated 6-6-3 DRN (seed 11) whose first crossbar card carries
 * `device=` (NULL: none). */
static const char *dt_netlist_xml(const char *xml, const char *device)
{
    const int layers[3] = {6, 6, 3};
    char *net = tu_gen_drn(layers, 3, 11);
    ck_assert_ptr_nonnull(net);
    char *at = strstr(net, ".crossbar r1\n");
    ck_assert_ptr_nonnull(at);
    static char buf[1 << 16];
    at += strlen(".crossbar r1");
    if (device) snprintf(buf, sizeof buf, "%.*s device=%s%s", (int)(at - net), net, device, at);
    else snprintf(buf, sizeof buf, "%s", net);
    free(net);
    char netpath[4096];
    snprintf(netpath, sizeof netpath, "%s", tu_write_temp(buf, ".cir"));
    char *text = tu_read_file(xml);
    ck_assert_ptr_nonnull(text);
    char *a = strstr(text, "<network>"), *b = strstr(text, "</network>");
    ck_assert(a && b);
    static char out[8192];
    snprintf(out, sizeof out, "%.*s<network><netlist path=\"%s\"/>%s", (int)(a - text), text,
             netpath, b);
    free(text);
    return tu_write_temp(out, ".xml");
}

/* `.crossbar r1 device=models/linear-step-64.xml`: crossbar r1's devices
 * stay on the 64-level grid, crossbar r2 (no device, no experiment model)
 * trains freely off it; a missing or wrong model file named by the card is
 * refused when the trainer is made, naming the file. */
START_TEST(test_devtrain_crossbar_device)
{
    const char *model = dt_preset("models/linear-step-64.xml");
    const double a = 1e-6, h = (1e-4 - 1e-6) / 63.0;
    for (int p = 0; p < 2; ++p) {
        tu_job j;
        tu_job_open(&j, dt_netlist_xml(dt_xml(dt_backends[p], 1e-7, 1e-3, NULL, NULL, 3, NULL, 0),
                                       model),
                    1);
        ck_assert_int_eq(eqs_trainer_batched(j.tr), p);
        for (int s = 0; s < 36; ++s)
            ck_assert_msg(eqs_trainer_step(j.tr) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        int on1 = 0, n1 = 0, off2 = 0;
        for (int k = 0; k < eqs_circuit_param_count(j.c); ++k) {
            const char *name = eqs_circuit_param_name(j.c, k);
            const double G = eqs_circuit_param_get(j.c, k), i = round((G - a) / h);
            const int on = fabs(G - (a + i * h)) <= 1e-6 * h;
            if (!strncmp(name, "r1_", 3)) n1++, on1 += on;
            else if (!strncmp(name, "r2_", 3)) off2 += !on;
        }
        ck_assert_int_eq(n1, 12 * 6);
        ck_assert_msg(on1 == n1, "%s: %d of %d r1 devices on the grid", dt_backends[p], on1, n1);
        ck_assert_msg(off2 > 0, "%s: r2 trained onto a grid it does not have", dt_backends[p]);
        tu_job_close(&j);
    }
    /* a wrong model named by the card */
    const char *bad[2] = {"/nonexistent/dev.xml",
                          dt_model("law=\"ideal\" g_min_S=\"1e-4\" g_max_S=\"1e-6\"")};
    for (int i = 0; i < 2; ++i) {
        char path[4096];
        snprintf(path, sizeof path, "%s", bad[i]);
        const char *xml = dt_netlist_xml(dt_xml("newton", 1e-7, 1e-3, NULL, NULL, 1, NULL, 0), path);
        eqs_ctx *ctx = tu_ctx();
        eqs_experiment *exp = NULL;
        eqs_dataset *tr = NULL, *te = NULL;
        eqs_netlist *nl = NULL;
        eqs_circuit *c = NULL;
        eqs_trainer *t = NULL;
        ck_assert_int_eq(eqs_experiment_read(ctx, xml, &exp), EQS_OK);
        ck_assert_int_eq(eqs_experiment_load_data(ctx, exp, &tr, &te), EQS_OK);
        ck_assert_int_eq(eqs_experiment_network(ctx, exp, &nl), EQS_OK);
        ck_assert_int_eq(eqs_circuit_create(ctx, nl, &c), EQS_OK);
        ck_assert_int_ne(eqs_trainer_create(ctx, exp, c, tr, NULL, &t), EQS_OK);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(eqs_ctx_error(ctx), path) != NULL, "'%s' lacks '%s'",
                      eqs_ctx_error(ctx), path);
        if (i == 1) {
            char want[4200];
            snprintf(want, sizeof want, "%s:2:", path);
            ck_assert_msg(strstr(eqs_ctx_error(ctx), want) != NULL, "%s", eqs_ctx_error(ctx));
        }
        eqs_circuit_free(&c);
        eqs_netlist_free(&nl);
        eqs_dataset_free(&tr);
        eqs_dataset_free(&te);
        eqs_experiment_free(&exp);
        eqs_ctx_free(&ctx);
    }
}
END_TEST

/* Criterion 5: a wrong model file named by the experiment is refused with
 * its file and line, a non-zero exit, and nothing written. */
START_TEST(test_devtrain_bad_model)
{
    const char *cases[][2] = {
        {"law=\"ideal\" g_min_S=\"1e-4\" g_max_S=\"1e-6\"", "g_max_S"},
        {"law=\"constant\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" levels=\"1\"", "levels"},
        {"law=\"soft\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" dw_min_S=\"1e-6\" read_noise_rel=\"-0.1\"",
         "read_noise_rel"},
        {"law=\"soft\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" dw_min_S=\"1e-6\" c2c_rel=\"-1\"",
         "c2c_rel"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" stuck_min_frac=\"0.7\" "
         "stuck_max_frac=\"0.4\"",
         "stuck"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" drift_t0_s=\"0\"", "drift_t0_s"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" drift_nu=\"-0.1\"", "drift_nu"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" drift_nu=\"fast\"", "drift_nu"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" g_ref_S=\"5e-5\"", "g_ref_S"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" mapping=\"reference\" "
         "g_ref_S=\"2e-4\"",
         "g_ref_S"},
        {"law=\"ideal\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" mapping=\"offset\"", "mapping"},
        {"law=\"table\" g_min_S=\"1e-6\" g_max_S=\"1e-4\" table=\"/nonexistent/t.csv\"", "t.csv"},
    };
    char out_dir[4200];
    snprintf(out_dir, sizeof out_dir, "%s/never", tu_temp_dir());
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        const char *model = dt_model(cases[i][0]);
        char model_path[4096];
        snprintf(model_path, sizeof model_path, "%s", model);
        const char *xml = dt_xml("newton", 1e-7, 1e-3, model_path, NULL, 1, out_dir, 0);
        char *out = NULL, *err = NULL;
        const char *argv[] = {"train", xml, NULL};
        int rc = tu_run_cli(argv, &out, &err, 60);
        ck_assert_msg(rc == 1, "case %zu: rc %d: %s", i, rc, err);
        char want[4200];
        snprintf(want, sizeof want, "%s:2:", model_path);
        ck_assert_msg(strstr(err, want) != NULL || strstr(err, cases[i][1]) != NULL,
                      "case %zu: '%s' lacks '%s'", i, err, want);
        ck_assert_msg(strstr(err, cases[i][1]) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i][1]);
        ck_assert_msg(strstr(err, "error:") != NULL, "case %zu: %s", i, err);
        ck_assert_msg(!dt_exists(out_dir), "case %zu: %s was written", i, out_dir);
        free(out);
        free(err);
    }
}
END_TEST

/* Pulses to sweep the window, power step gamma = 1/2, h = dw/w = 0.01:
 * with x = (G_max - G)/w and s = sqrt(x), one pulse is s' = sqrt(s^2 - h s),
 * a decrease d = h / (1 + sqrt(1 - h/s)) in [h/2, h / (1 + sqrt(3/4))] while
 * s >= 4h.  So from s = 1 the response reaches G_max after at most 2/h =
 * 200 pulses and at least (1 - 4h)(1 + sqrt(3/4))/h = 179.  (A constant
 * step, gamma = 0, would take 100; soft bounds, gamma = 1, never arrive.)
 * The same for the down response, mirrored. */
START_TEST(test_devtrain_pow_sweep)
{
    eqs_device_law law;
    eqs_device_law_defaults(&law);
    law.kind = EQS_DEVICE_POW;
    law.g_min_S = 1e-6;
    law.g_max_S = 1e-4;
    law.dw_min_up_S = law.dw_min_down_S = 0.01 * (1e-4 - 1e-6);
    law.gamma_up = law.gamma_down = 0.5;
    eqs_device_inst dev;
    eqs_device_instance(&law, 0, &dev);
    enum { N = 400 };
    double up[N + 1], down[N + 1];
    eqs_device_response(&law, &dev, N, up, down);
    int ku = -1, kd = -1;
    for (int k = 0; k <= N; ++k) {
        if (ku < 0 && up[k] == 1e-4) ku = k;
        if (kd < 0 && down[k] == 1e-6) kd = k;
    }
    const double lower = (1 - 4 * 0.01) * (1 + sqrt(0.75)) / 0.01;
    ck_assert_msg(ku >= lower && ku <= 200, "up: %d pulses, want %g..200", ku, lower);
    ck_assert_msg(kd >= lower && kd <= 200, "down: %d pulses, want %g..200", kd, lower);
}
END_TEST

Suite *suite_devtrain(void)
{
    Suite *s = suite_create("devtrain");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_devtrain_ideal_bits);
    tcase_add_test(tc, test_devtrain_levels_grid);
    tcase_add_test(tc, test_devtrain_noisy_threads_and_stuck);
    tcase_add_test(tc, test_devtrain_noisy_resume);
    tcase_add_test(tc, test_devtrain_kill_resume);
    tcase_add_test(tc, test_devtrain_eval_drift_and_read);
    tcase_add_test(tc, test_devtrain_reference_mapping);
    tcase_add_test(tc, test_devtrain_crossbar_device);
    tcase_add_test(tc, test_devtrain_bad_model);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("draws");
    tcase_add_test(st, test_devtrain_read_noise_stats);
    tcase_add_test(st, test_devtrain_stuck_stats);
    tcase_add_test(st, test_devtrain_drift_closed_form);
    tcase_add_test(st, test_devtrain_pow_sweep);
    suite_add_tcase(s, st);
    return s;
}
