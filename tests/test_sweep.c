/* test_sweep.c: eqspice sweep (docs/cli.md "sweep"): a grid with seeds
 * finishes, a SIGKILL'd sweep resumes to the same sweep.csv, -j 2 equals
 * -j 1, bad input is refused before anything is written. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *sweep_xml(int hidden, int train, int every, const char *backend)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "<?xml version=\"1.0\"?>\n"
             "<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 %d 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"%d\" "
             "test_size=\"64\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\" decay=\"0.99\">\n"
             "    <rate elements=\"r1_*\" value=\"1e-8\"/><rate elements=\"r*\" value=\"5e-9\"/>\n"
             "  </learning>\n"
             "  <training epochs=\"3\" batch=\"4\" seed=\"3\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"%s\"/>\n"
             "  <output dir=\"/nonexistent\" checkpoint_every=\"%d\"/>\n"
             "</experiment>\n",
             hidden, train, backend, every);
    return tu_write_temp(buf, ".xml");
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* run `eqspice sweep ...`; returns the exit status, stderr in *err */
static int sweep(const char *const *argv, char **err)
{
    char *out = NULL, *e = NULL;
    int rc = tu_run_cli(argv, &out, &e, 120);
    free(out);
    if (err) *err = e;
    else free(e);
    return rc;
}

/* sweep.csv without its last column (wall_s), one row per run */
static char *csv_untimed(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/sweep.csv", dir);
    char *t = tu_read_file(p);
    ck_assert_msg(t != NULL, "no %s", p);
    char *o = malloc(strlen(t) + 1), *w = o;
    for (char *s = t, *l; (l = strsep(&s, "\n"));) {
        char *c = strrchr(l, ',');
        if (!c) continue;
        *c = 0;
        w += sprintf(w, "%s\n", l);
    }
    free(t);
    return o;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; ++s) n += *s == '\n';
    return n;
}

START_TEST(test_sweep_grid_seeds)
{
    const char *xml = sweep_xml(8, 128, 0, "newton");
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/sw", tu_temp_dir());
    char *err = NULL;
    const char *argv[] = {"sweep", xml, "--set", "learning.rate[r1_*]=1e-8,2e-8", "--seeds", "2",
                          "-j", "1", "-o", dir, NULL};
    int rc = sweep(argv, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(err);
    char *csv = csv_untimed(dir);
    ck_assert_int_eq(count_lines(csv), 5); /* header + 2 points x 2 seeds */
    ck_assert_ptr_nonnull(strstr(csv, "point,learning.rate[r1_*],seed,run,final_test_error"));
    ck_assert_ptr_nonnull(strstr(csv, "\n1,2e-8,4,p001-s1,"));
    /* every row is the run's own metrics.csv: its last test_error */
    snprintf(p, sizeof p, "%s/runs/p001-s1/metrics.csv", dir);
    char *m = tu_read_file(p);
    ck_assert_ptr_nonnull(m);
    char *last = m + strlen(m) - 1;
    while (last > m && last[-1] != '\n') --last; /* the last row */
    int ep;
    double a, b, tl, te;
    ck_assert_int_eq(sscanf(last, "%d,%lf,%lf,%lf,%lf", &ep, &a, &b, &tl, &te), 5);
    char want[256];
    snprintf(want, sizeof want, "\n1,2e-8,4,p001-s1,%.17g,", te);
    ck_assert_msg(strstr(csv, want) != NULL, "%s not in\n%s", want, csv);
    ck_assert_int_eq(ep, 3);
    free(m);
    /* seed r=1 really is training.seed 4 in the run's experiment */
    snprintf(p, sizeof p, "%s/runs/p001-s1/experiment.xml", dir);
    m = tu_read_file(p);
    ck_assert_ptr_nonnull(strstr(m, "seed=\"4\""));
    free(m);
    snprintf(p, sizeof p, "%s/sweep.md", dir);
    m = tu_read_file(p);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "| 1 | 2e-8 | 2/2 |"));
    free(m);
    free(csv);
    /* the same command again: nothing to do, the same sweep.csv */
    rc = sweep(argv, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "0 to do"));
    free(err);
}
END_TEST

START_TEST(test_sweep_kill_resume)
{
    const char *xml = sweep_xml(32, 1024, 3, "newton");
    const char *base = tu_temp_dir();
    char full[4200], part[4200], ck[4300];
    snprintf(full, sizeof full, "%s/full", base);
    snprintf(part, sizeof part, "%s/part", base);
    snprintf(ck, sizeof ck, "%s/runs/p001-s0/checkpoint.bin", part);
    char *err = NULL;
    const char *argv_full[] = {"sweep", xml, "--set", "training.batch=4,8", "--seeds", "2",
                               "-j", "1", "-o", full, NULL};
    int rc = sweep(argv_full, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(err);

    const char *cli = getenv("EQS_CLI");
    if (!cli) cli = "build/eqspice";
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(cli, cli, "sweep", xml, "--set", "training.batch=4,8", "--seeds", "2", "-j", "1",
              "-o", part, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    for (int i = 0; i < 200000 && !exists(ck); ++i) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the sweep finished before it could be killed");
    char p[4300];
    snprintf(p, sizeof p, "%s/sweep.csv", part);
    ck_assert(!exists(p));
    /* the killed sweep's run dies with it (PR_SET_PDEATHSIG): give it a moment */
    nanosleep(&(struct timespec){0, 100000000}, NULL);

    const char *argv_resume[] = {"sweep", "--resume", part, "-j", "1", NULL};
    rc = sweep(argv_resume, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    ck_assert_msg(strstr(err, "4 to do") == NULL, "nothing was skipped: %s", err);
    free(err);
    char *a = csv_untimed(full), *b = csv_untimed(part);
    ck_assert_str_eq(a, b);
    /* the run killed mid-way continued from its checkpoint */
    snprintf(p, sizeof p, "%s/logs/p001-s0.log", part);
    char *log = tu_read_file(p);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "resuming") != NULL, "%s", log);
    free(log);
    /* the partial run's conductances equal the uninterrupted one's */
    char ca[4300], cb[4300];
    snprintf(ca, sizeof ca, "%s/runs/p001-s0/conductances.csv", full);
    snprintf(cb, sizeof cb, "%s/runs/p001-s0/conductances.csv", part);
    char *ga = tu_read_file(ca), *gb = tu_read_file(cb);
    ck_assert_ptr_nonnull(ga);
    ck_assert_ptr_nonnull(gb);
    ck_assert_str_eq(ga, gb);
    free(ga);
    free(gb);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_sweep_j2_equals_j1)
{
    /* the layered solver with every crossbar split over two cores (threads=2,
     * the default, under -j 1) against threads=1 (under -j 2) */
    const char *xml = sweep_xml(16, 256, 0, "layered\" split_min=\"1");
    const char *base = tu_temp_dir();
    char d1[4200], d2[4200];
    snprintf(d1, sizeof d1, "%s/j1", base);
    snprintf(d2, sizeof d2, "%s/j2", base);
    char *err = NULL;
    const char *argv1[] = {"sweep", xml, "--set", "training.batch=4,8", "--set",
                           "algorithm.beta=1e-5,2e-5", "-j", "1", "-o", d1, NULL};
    int rc = sweep(argv1, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(err);
    const char *argv2[] = {"sweep", xml, "--set", "training.batch=4,8", "--set",
                           "algorithm.beta=1e-5,2e-5", "-j", "2", "-o", d2, NULL};
    rc = sweep(argv2, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(err);
    char *a = csv_untimed(d1), *b = csv_untimed(d2);
    ck_assert_int_eq(count_lines(a), 5);
    ck_assert_ptr_nonnull(strstr(a, "\n2,8,1e-5,3,p002-s0,")); /* last path fastest */
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    char p[4300];
    snprintf(p, sizeof p, "%s/runs/p003-s0/experiment.xml", d2);
    char *x = tu_read_file(p);
    ck_assert_ptr_nonnull(strstr(x, "threads=\"1\""));
    free(x);
}
END_TEST

START_TEST(test_sweep_refused)
{
    const char *xml = sweep_xml(8, 128, 0, "newton");
    const char *base = tu_temp_dir();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/bad", base);
    char *err = NULL;
    /* a bad value at the last point: nothing runs, DIR not created */
    const char *a1[] = {"sweep", xml, "--set", "training.epochs=2,abc", "-o", dir, NULL};
    ck_assert_int_eq(sweep(a1, &err), 1);
    ck_assert_msg(strstr(err, "--set training.epochs=abc") != NULL, "%s", err);
    free(err);
    ck_assert(!exists(dir));
    const char *a2[] = {"sweep", xml, "--set", "trainig.epochs=2,3", "-o", dir, NULL};
    ck_assert_int_eq(sweep(a2, &err), 1);
    ck_assert_msg(strstr(err, "trainig") != NULL, "%s", err);
    free(err);
    ck_assert(!exists(dir));
    /* --zip with unequal lengths */
    const char *a3[] = {"sweep", xml, "--set", "training.epochs=2,3", "--set",
                        "training.batch=1", "--zip", "-o", dir, NULL};
    ck_assert_int_eq(sweep(a3, &err), 1);
    ck_assert_msg(strstr(err, "--zip") != NULL, "%s", err);
    free(err);
    ck_assert(!exists(dir));
    /* a plan mismatch */
    const char *a4[] = {"sweep", xml, "--set", "training.epochs=1,2", "-o", dir, NULL};
    ck_assert_int_eq(sweep(a4, &err), 0);
    free(err);
    const char *a5[] = {"sweep", xml, "--set", "training.epochs=1,3", "-o", dir, NULL};
    ck_assert_int_eq(sweep(a5, &err), 1);
    ck_assert_msg(strstr(err, "another plan") != NULL, "%s", err);
    free(err);
    /* --zip with equal lengths: the i-th values together */
    char z[4200];
    snprintf(z, sizeof z, "%s/zip", base);
    const char *a6[] = {"sweep", xml, "--set", "training.epochs=1,2", "--set",
                        "training.batch=4,8", "--zip", "-o", z, NULL};
    ck_assert_int_eq(sweep(a6, &err), 0);
    free(err);
    char *c = csv_untimed(z);
    ck_assert_int_eq(count_lines(c), 3);
    ck_assert_ptr_nonnull(strstr(c, "\n1,2,8,3,p001-s0,"));
    free(c);
}
END_TEST

/* a run that fails is reported, the others go on, the exit status is 2 */
START_TEST(test_sweep_failed_run)
{
    const char *xml = sweep_xml(8, 128, 0, "newton");
    char dir[4200], p[8500];
    snprintf(dir, sizeof dir, "%s/f", tu_temp_dir());
    char *err = NULL;
    const char *argv[] = {"sweep", xml, "--set", "training.batch=4,8", "-j", "1", "-o", dir,
                          NULL};
    ck_assert_int_eq(sweep(argv, &err), 0);
    free(err);
    /* the first run's directory replaced by a file: its train fails */
    snprintf(p, sizeof p, "rm -rf '%s/runs/p000-s0' && touch '%s/runs/p000-s0'", dir, dir);
    ck_assert_int_eq(system(p), 0);
    ck_assert_int_eq(sweep(argv, &err), 2);
    ck_assert_msg(strstr(err, "p000-s0 failed") != NULL, "%s", err);
    free(err);
    char *c = csv_untimed(dir);
    ck_assert_int_eq(count_lines(c), 2); /* header + the run that finished */
    ck_assert_ptr_nonnull(strstr(c, "\n1,8,3,p001-s0,"));
    free(c);
}
END_TEST


/* --label: a column of sweep.csv and sweep.md that is not set in the
 * experiment; sweep-<column>.png per swept column; one line per method
 * (drawn, not checked here: the PNG's header) */
START_TEST(test_sweep_label_plots)
{
    const char *xml = sweep_xml(8, 128, 0, "newton");
    const char *base = tu_temp_dir();
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/lab", base);
    char *err = NULL;
    const char *argv[] = {"sweep", xml, "--set", "learning.rate[r1_*]=1e-8,2e-8,1e-8,2e-8",
                          "--set", "algorithm.method=centered,centered,positive,positive",
                          "--label", "rate_x1e8=1,2,1,2", "--zip", "-j", "2", "-o", dir, NULL};
    int rc = sweep(argv, &err);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
    free(err);
    char *csv = csv_untimed(dir);
    ck_assert_ptr_nonnull(strstr(csv, "point,learning.rate[r1_*],algorithm.method,rate_x1e8,seed,"));
    ck_assert_ptr_nonnull(strstr(csv, "\n3,2e-8,positive,2,3,p003-s0,"));
    free(csv);
    /* the label is not an assignment of the run */
    snprintf(p, sizeof p, "%s/runs/p003-s0/experiment.xml", dir);
    char *x = tu_read_file(p);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_null(strstr(x, "rate_x1e8"));
    ck_assert_ptr_nonnull(strstr(x, "method=\"positive\""));
    free(x);
    snprintf(p, sizeof p, "%s/sweep.md", dir);
    x = tu_read_file(p);
    ck_assert_ptr_nonnull(strstr(x, "--label rate_x1e8=1,2,1,2"));
    ck_assert_ptr_nonnull(strstr(x, "| 3 | 2e-8 | positive | 2 | 1/1 |"));
    free(x);
    static const char *const png[] = {"sweep-rate_x1e8.png", "sweep-algorithm.method.png",
                                      "sweep-learning.rate_r1___.png"};
    for (int i = 0; i < 3; ++i) {
        snprintf(p, sizeof p, "%s/%s", dir, png[i]);
        FILE *f = fopen(p, "rb");
        ck_assert_msg(f != NULL, "no %s", p);
        unsigned char h[8] = {0};
        ck_assert_int_eq(fread(h, 1, 8, f), 8);
        fclose(f);
        ck_assert_msg(!memcmp(h, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", p);
    }
    /* resume from the plan keeps the label */
    const char *ar[] = {"sweep", "--resume", dir, NULL};
    rc = sweep(ar, &err);
    ck_assert_msg(rc == 0 && strstr(err, "0 to do"), "rc %d: %s", rc, err);
    free(err);
    csv = csv_untimed(dir);
    ck_assert_ptr_nonnull(strstr(csv, "\n3,2e-8,positive,2,3,p003-s0,"));
    free(csv);
    /* refused before anything runs: a count that is not the points', a
     * label beside two grid axes, a reserved name */
    snprintf(dir, sizeof dir, "%s/lab-bad", base);
    const char *b1[] = {"sweep", xml, "--set", "training.epochs=1,2", "--label", "x=1", "-o", dir, NULL};
    ck_assert_int_eq(sweep(b1, &err), 1);
    ck_assert_msg(strstr(err, "--label x: 1 values for 2 points") != NULL, "%s", err);
    free(err);
    const char *b2[] = {"sweep", xml, "--set", "training.epochs=1,2", "--set", "training.batch=4,8",
                        "--label", "x=1,2", "-o", dir, NULL};
    ck_assert_int_eq(sweep(b2, &err), 1);
    ck_assert_msg(strstr(err, "use --zip") != NULL, "%s", err);
    free(err);
    const char *b3[] = {"sweep", xml, "--set", "training.epochs=1,2", "--label", "seed=1,2", "-o", dir, NULL};
    ck_assert_int_eq(sweep(b3, &err), 1);
    ck_assert_msg(strstr(err, "not a usable column name") != NULL, "%s", err);
    free(err);
    ck_assert(!exists(dir));
}
END_TEST

Suite *suite_sweep(void)
{
    Suite *s = suite_create("sweep");
    TCase *t = tcase_create("sweep");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_sweep_grid_seeds);
    tcase_add_test(t, test_sweep_kill_resume);
    tcase_add_test(t, test_sweep_j2_equals_j1);
    tcase_add_test(t, test_sweep_refused);
    tcase_add_test(t, test_sweep_failed_run);
    tcase_add_test(t, test_sweep_label_plots);
    suite_add_tcase(s, t);
    return s;
}
