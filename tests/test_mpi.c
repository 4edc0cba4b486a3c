/* test_mpi.c: data-parallel training and sweeps under mpirun (docs/cluster.md).
 * Runs the CLI under OpenMPI's mpirun with 2 ranks (oversubscribed, as root
 * when CI runs as root) and compares with one process: conductances.csv,
 * trained.cir and metrics.csv without its wall-time column byte for byte
 * (batched layered path in double and single precision, the per-sample
 * Newton path), checkpoints across rank counts, a 4-point sweep; and the
 * refusals.  Skipped (with a line on stderr) when eqspice was built without
 * MPI or mpirun is not installed: OpenMPI is optional. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* 1 when MPI tests can run here (built with MPI, mpirun on PATH). */
static int mpi_ready(void)
{
    static int ready = -1;
    if (ready >= 0) return ready;
    ready = eqs_par_available() && system("command -v mpirun >/dev/null 2>&1") == 0;
    if (!ready)
        fprintf(stderr, "test_mpi: skipped (%s)\n",
                eqs_par_available() ? "mpirun not installed: apt-get install openmpi-bin"
                                    : "eqspice built without MPI: apt-get install libopenmpi-dev");
    /* what OpenMPI needs in CI: root allowed, more ranks than cores, the
     * shared-memory transport without ptrace-based single copy (denied in
     * containers), no network */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
    setenv("OMPI_MCA_btl", "self,vader", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    /* make check-asan: OpenMPI keeps its component registries, op tables and
     * PMIx state until exit, in components it dlcloses at MPI_Finalize, so
     * LeakSanitizer sees them without a module name to suppress: the runs
     * under mpirun are checked for memory errors and undefined behaviour
     * only (the same code as one process, which the other suites check for
     * leaks too; src/core/par.c frees its one buffer after each call) */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s:detect_leaks=0", asan);
        setenv("ASAN_OPTIONS", buf, 1);
    }
    return ready;
}

static const char *cli(void)
{
    const char *c = getenv("EQS_CLI");
    return c ? c : "build/eqspice";
}

/* Run `args` through the shell with ranks ranks (0: one process, no
 * launcher); stdout and stderr into log.  Returns the exit status. */
static int run(int ranks, const char *args, const char *log)
{
    char cmd[16384];
    if (ranks > 0)
        snprintf(cmd, sizeof cmd, "mpirun -np %d --oversubscribe %s %s >%s 2>&1", ranks, cli(),
                 args, log);
    else
        snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", cli(), args, log);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Text t (malloc'd, consumed) without field `drop` (0-based) of every
 * line (-1: keep all), as a malloc'd string. */
static char *drop_field(char *t, int drop)
{
    char *out = malloc(strlen(t) + 2), *o = out;
    for (char *line = t; *line;) {
        size_t n = strcspn(line, "\n");
        int c = 0, emitted = 0;
        for (size_t i = 0, start = 0; i <= n; ++i) {
            if (i < n && line[i] != ',') continue;
            if (c++ != drop) {
                if (emitted++) *o++ = ',';
                memcpy(o, line + start, i - start);
                o += i - start;
            }
            start = i + 1;
        }
        *o++ = '\n';
        line += n + (line[n] ? 1 : 0);
    }
    *o = '\0';
    free(t);
    return out;
}

/* The 0-based column of `name` in the header line of t, -1: none. */
static int column_of(const char *t, const char *name)
{
    size_t n = strcspn(t, "\n"), len = strlen(name);
    int c = 0;
    for (size_t i = 0, start = 0; i <= n; ++i) {
        if (i < n && t[i] != ',') continue;
        if (i - start == len && !strncmp(t + start, name, len)) return c;
        c++;
        start = i + 1;
    }
    return -1;
}

/* File dir/name without its column `col_name` (wall time; malloc'd). */
static char *without_column(const char *dir, const char *name, const char *col_name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *t = tu_read_file(p);
    ck_assert_msg(t != NULL, "%s unreadable", p);
    int col = column_of(t, col_name);
    ck_assert_msg(col >= 0, "%s has no column %s", p, col_name);
    return drop_field(t, col);
}

static char *metrics_no_seconds(const char *dir)
{
    return without_column(dir, "metrics.csv", "seconds");
}

static void same_file(const char *a, const char *b, const char *name)
{
    char pa[4200], pb[4200];
    snprintf(pa, sizeof pa, "%s/%s", a, name);
    snprintf(pb, sizeof pb, "%s/%s", b, name);
    char *ta = tu_read_file(pa), *tb = tu_read_file(pb);
    ck_assert_msg(ta && tb, "%s or %s unreadable", pa, pb);
    ck_assert_msg(!strcmp(ta, tb), "%s differs from %s", pb, pa);
    free(ta);
    free(tb);
}

/* The run directories a and b hold the same training. */
static void same_run(const char *a, const char *b)
{
    same_file(a, b, "conductances.csv");
    same_file(a, b, "trained.cir");
    char *ma = metrics_no_seconds(a), *mb = metrics_no_seconds(b);
    ck_assert_msg(!strcmp(ma, mb), "%s/metrics.csv differs from %s/metrics.csv:\n%s\n%s", b, a,
                  ma, mb);
    free(ma);
    free(mb);
}

/* Run args on ranks ranks: exit status rc and `needle` in the output. */
static void expect_run(int ranks, const char *args, const char *log, int rc, const char *needle)
{
    ck_assert_int_eq(run(ranks, args, log), rc);
    char *l = tu_read_file(log);
    ck_assert_msg(l && strstr(l, needle), "no '%s' in: %s", needle, l ? l : "(no log)");
    free(l);
}

static void rm_rf(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* One process and 2 ranks train experiment xml (repository path) with
 * `sets` (--set options) to the same bits. */
static void check_same_bits(const char *xml, const char *sets)
{
    const char *base = tu_temp_dir();
    char a[4200], b[4200], log[4300], args[8192];
    snprintf(a, sizeof a, "%s/one", base);
    snprintf(b, sizeof b, "%s/two", base);
    snprintf(log, sizeof log, "%s/log", base);
    snprintf(args, sizeof args, "train %s -o %s %s", tu_experiment_path(xml), a, sets);
    ck_assert_msg(run(0, args, log) == 0, "one process failed: %s", tu_read_file(log));
    snprintf(args, sizeof args, "train %s -o %s %s", tu_experiment_path(xml), b, sets);
    ck_assert_msg(run(2, args, log) == 0, "mpirun -np 2 failed: %s", tu_read_file(log));
    char *l = tu_read_file(log);
    ck_assert_msg(l && !strstr(l, "wait without work"), "a rank had no part: %s", l);
    free(l);
    same_run(a, b);
    rm_rf(base);
}

START_TEST(test_mpi_layered_double)
{
    if (!mpi_ready()) return;
    /* batch 16 in 2 parts of 8, then 17 in 3 parts (6, 6, 5: the ranks get
     * 2 and 1) */
    check_same_bits("tests/regress/layered-double.xml", "--set training.parts=2");
    check_same_bits("tests/regress/layered-double.xml",
                    "--set training.parts=3 --set training.batch=17");
}
END_TEST

START_TEST(test_mpi_layered_single)
{
    if (!mpi_ready()) return;
    /* single precision: OpenBLAS's sgemm rounds a row differently with the
     * row count of the call (Haswell kernels), which parts keep the same */
    check_same_bits("tests/regress/layered-float.xml",
                    "--set training.parts=2 --set training.batch=15");
}
END_TEST

START_TEST(test_mpi_newton)
{
    if (!mpi_ready()) return;
    /* the per-sample path: parts start cold, warm within */
    check_same_bits("tests/regress/newton-drn.xml", "--set training.parts=2");
    check_same_bits("netlists/xor-experiment.xml",
                    "--set training.parts=3 --set training.epochs=3");
}
END_TEST

/* Checkpoints do not depend on the rank count: 2 ranks for epoch 1 then 1
 * process for epochs 2-3, and the reverse, equal 3 epochs in one process. */
START_TEST(test_mpi_resume_across_ranks)
{
    if (!mpi_ready()) return;
    const char *xml = tu_experiment_path("tests/regress/layered-double.xml");
    const char *base = tu_temp_dir();
    char full[4200], b[4200], c[4200], log[4300], args[8192];
    snprintf(full, sizeof full, "%s/full", base);
    snprintf(b, sizeof b, "%s/b", base);
    snprintf(c, sizeof c, "%s/c", base);
    snprintf(log, sizeof log, "%s/log", base);
    snprintf(args, sizeof args, "train %s -o %s --set training.parts=2", xml, full);
    ck_assert_int_eq(run(0, args, log), 0);
    snprintf(args, sizeof args, "train %s -o %s --set training.parts=2 --set training.epochs=1",
             xml, b);
    ck_assert_msg(run(2, args, log) == 0, "%s", tu_read_file(log));
    snprintf(args, sizeof args, "train --resume %s --set training.epochs=3", b);
    ck_assert_msg(run(0, args, log) == 0, "%s", tu_read_file(log));
    snprintf(args, sizeof args, "train %s -o %s --set training.parts=2 --set training.epochs=1",
             xml, c);
    ck_assert_int_eq(run(0, args, log), 0);
    snprintf(args, sizeof args, "train --resume %s --set training.epochs=3", c);
    ck_assert_msg(run(2, args, log) == 0, "%s", tu_read_file(log));
    char *l = tu_read_file(log);
    ck_assert_msg(l && strstr(l, "resuming"), "no resume: %s", l);
    free(l);
    same_run(full, b);
    same_run(full, c);
    rm_rf(base);
}
END_TEST

/* A 4-point sweep (2 values x 2 seeds) on 2 ranks equals the one-process
 * sweep (sweep.csv without the wall-time column), and resumes as done. */
START_TEST(test_mpi_sweep)
{
    if (!mpi_ready()) return;
    const char *xml = tu_experiment_path("tests/regress/layered-double.xml");
    const char *base = tu_temp_dir();
    char s1[4200], s2[4200], log[4300], args[8192];
    snprintf(s1, sizeof s1, "%s/s1", base);
    snprintf(s2, sizeof s2, "%s/s2", base);
    snprintf(log, sizeof log, "%s/log", base);
    snprintf(args, sizeof args,
             "sweep %s --set learning.momentum=0.5,0.9 --seeds 2 -j 1 -o %s", xml, s1);
    ck_assert_msg(run(0, args, log) == 0, "%s", tu_read_file(log));
    snprintf(args, sizeof args, "sweep %s --set learning.momentum=0.5,0.9 --seeds 2 -o %s", xml,
             s2);
    ck_assert_msg(run(2, args, log) == 0, "%s", tu_read_file(log));
    char *l = tu_read_file(log);
    ck_assert_msg(l && strstr(l, "rank 1 of 2"), "not two ranks: %s", l);
    free(l);
    char *t1 = without_column(s1, "sweep.csv", "wall_s");
    char *t2 = without_column(s2, "sweep.csv", "wall_s");
    ck_assert_msg(!strcmp(t1, t2), "sweep.csv differs:\n%s\n%s", t1, t2);
    ck_assert_msg(strstr(t1, "p001-s1") != NULL, "4 runs expected: %s", t1);
    free(t1);
    free(t2);
    for (int k = 0; k < 2; ++k)
        for (int r = 0; r < 2; ++r) {
            char d1[4300], d2[4300];
            snprintf(d1, sizeof d1, "%s/runs/p%03d-s%d", s1, k, r);
            snprintf(d2, sizeof d2, "%s/runs/p%03d-s%d", s2, k, r);
            same_run(d1, d2);
        }
    /* resumed with everything done: nothing to do, the same table */
    snprintf(args, sizeof args, "sweep --resume %s", s2);
    ck_assert_msg(run(2, args, log) == 0, "%s", tu_read_file(log));
    l = tu_read_file(log);
    ck_assert_msg(l && strstr(l, "0 to do"), "%s", l);
    free(l);
    rm_rf(base);
}
END_TEST

/* Commands without ranks refuse mpirun; more ranks than parts warns. */
START_TEST(test_mpi_refusals)
{
    if (!mpi_ready()) return;
    const char *base = tu_temp_dir();
    char log[4300], args[8192], d[4200];
    snprintf(log, sizeof log, "%s/log", base);
    snprintf(d, sizeof d, "%s/run", base);
    snprintf(args, sizeof args, "op %s", tu_path("netlists/divider.cir"));
    expect_run(2, args, log, 1, "only train and sweep use MPI ranks");
    snprintf(args, sizeof args, "train %s -o %s",
             tu_experiment_path("tests/regress/layered-double.xml"), d);
    expect_run(2, args, log, 0, "training.parts=1: 1 rank(s) wait without work");
    /* parts beyond the batch: refused before anything is written */
    rm_rf(d);
    snprintf(args, sizeof args, "train %s -o %s --set training.parts=17",
             tu_experiment_path("tests/regress/layered-double.xml"), d);
    expect_run(2, args, log, 1, "parts=17: must be between 1 and the batch size (16)");
    ck_assert(access(d, F_OK) != 0);
    rm_rf(base);
}
END_TEST

/* A failure on rank 0 alone (its run directory is locked by another run)
 * stops every rank: exit 1 with rank 0's message, no rank left waiting in
 * a collective (the test case's timeout would catch a hang). */
START_TEST(test_mpi_rank0_failure_stops_all)
{
    if (!mpi_ready()) return;
    const char *base = tu_temp_dir();
    char d[4200], log[4300], lock[4300], args[8192];
    snprintf(d, sizeof d, "%s/run", base);
    snprintf(log, sizeof log, "%s/log", base);
    snprintf(lock, sizeof lock, "%s/eqspice.lock", d);
    const char *xml = tu_experiment_path("tests/regress/layered-double.xml");
    pid_t holder = fork();
    if (holder == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl(cli(), cli(), "train", xml, "-o", d, "--set", "training.epochs=1000000", (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(holder, 0);
    struct timespec ts = {0, 10000000}; /* 10 ms */
    for (int i = 0; i < 3000 && access(lock, F_OK) != 0; ++i) nanosleep(&ts, NULL);
    ck_assert_msg(access(lock, F_OK) == 0, "the holder never locked %s", d);
    snprintf(args, sizeof args, "train %s -o %s --set training.parts=2", xml, d);
    int rc = run(2, args, log);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    ck_assert_int_eq(rc, 1);
    char *l = tu_read_file(log);
    ck_assert_msg(l && strstr(l, "is in use by another eqspice process"), "%s", l);
    free(l);
    rm_rf(base);
}
END_TEST

Suite *suite_mpi(void)
{
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("ranks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mpi_layered_double);
    tcase_add_test(tc, test_mpi_layered_single);
    tcase_add_test(tc, test_mpi_newton);
    tcase_add_test(tc, test_mpi_resume_across_ranks);
    tcase_add_test(tc, test_mpi_sweep);
    tcase_add_test(tc, test_mpi_refusals);
    tcase_add_test(tc, test_mpi_rank0_failure_stops_all);
    suite_add_tcase(s, tc);
    return s;
}
