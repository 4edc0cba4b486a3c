/* test_atomic.c: the one atomic-write implementation (core/atomic.c) and
 * the crash cleanup of run directories.
 *
 * A crash is made for real: a child process runs one writer with
 * RLIMIT_FSIZE at 16 bytes and SIGXFSZ at its default action, so the
 * kernel kills it in the middle of its write(2), leaving whatever
 * temporary file that writer makes.  Each writer of a run directory's
 * files (metrics header, experiment copy, checkpoint, trained netlist,
 * conductance CSV, plot) and the CLI's -o writer are crashed this way;
 * then eqs_run_open must find a new run and remove the leftover. */
#define _GNU_SOURCE
#include "testutil.h"
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_temp_names)
{
    ck_assert(eqs_atomic_is_temp("trained.cir.tmp.123", "trained.cir"));
    ck_assert(eqs_atomic_is_temp("experiment.xml.tmpAbC123", "experiment.xml")); /* older */
    ck_assert(!eqs_atomic_is_temp("trained.cir.tmp.", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("trained.cir.tmp.12a", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("trained.cir", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("trained.cir.tmp", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("trained.cir.tmpAbC12", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("trained.cirx.tmp.1", "trained.cir"));
    ck_assert(!eqs_atomic_is_temp("notes.txt.tmp.1", "trained.cir"));
    /* what eqs_atomic_open makes is one of them */
    eqs_ctx *ctx = tu_ctx();
    char path[4200];
    snprintf(path, sizeof path, "%s/out.csv", tu_temp_dir());
    eqs_atomic a;
    ck_assert_int_eq(eqs_atomic_open(ctx, path, &a), EQS_OK);
    const char *slash = strrchr(a.tmp, '/');
    ck_assert(eqs_atomic_is_temp(slash + 1, "out.csv"));
    struct stat sb;
    ck_assert_int_eq(stat(a.tmp, &sb), 0);
    ck_assert_int_ne(stat(path, &sb), 0);
    fputs("x\n", a.f);
    ck_assert_int_eq(eqs_atomic_commit(&a), EQS_OK);
    char *text = tu_read_file(path);
    ck_assert_str_eq(text, "x\n");
    free(text);
    eqs_ctx_free(&ctx);
}
END_TEST

/* eqs_output (the CLI's -o): symlinks written through, devices in place,
 * write errors kept and reported with the path, nothing left behind. */
START_TEST(test_output_special_files)
{
    eqs_ctx *ctx = tu_ctx();
    const char *dir = tu_temp_dir();
    char target[4200], link[4200], full[4200];
    snprintf(target, sizeof target, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    snprintf(full, sizeof full, "%s/full", dir);
    FILE *f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fputs("old\n", f);
    fclose(f);
    ck_assert_int_eq(symlink(target, link), 0);
    eqs_output *o = NULL;
    ck_assert_int_eq(eqs_output_open(ctx, link, &o), EQS_OK);
    fputs("new\n", eqs_output_stream(o));
    ck_assert_int_eq(eqs_output_commit(&o), EQS_OK);
    ck_assert_ptr_null(o);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    char *text = tu_read_file(target);
    ck_assert_str_eq(text, "new\n");
    free(text);
    /* a device (here /dev/full, through a link) is written in place, and
     * its ENOSPC is the commit's error */
    ck_assert_int_eq(symlink("/dev/full", full), 0);
    ck_assert_int_eq(eqs_output_open(ctx, full, &o), EQS_OK);
    fputs("data\n", eqs_output_stream(o));
    ck_assert_int_eq(eqs_output_commit(&o), EQS_ERR_IO);
    char want[4400];
    snprintf(want, sizeof want, "error: cannot write '%s': %s", full, strerror(ENOSPC));
    ck_assert_str_eq(eqs_ctx_error(ctx), want);
    ck_assert_int_eq(lstat(full, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    eqs_ctx_clear_error(ctx);
    /* abort leaves nothing */
    char fresh[4200];
    snprintf(fresh, sizeof fresh, "%s/fresh.txt", dir);
    ck_assert_int_eq(eqs_output_open(ctx, fresh, &o), EQS_OK);
    fputs("half", eqs_output_stream(o));
    eqs_output_abort(&o);
    ck_assert_ptr_null(o);
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(n, 3); /* target, link, full */
    eqs_ctx_free(&ctx);
}
END_TEST

typedef enum {
    W_METRICS,
    W_EXPERIMENT,
    W_CHECKPOINT,
    W_NETLIST,
    W_CONDUCTANCES,
    W_PLOT,
    W_CLI,
    W_COUNT
} writer;

static const char *const writer_file[W_COUNT] = {
    "metrics.csv",  "experiment.xml",    "checkpoint.bin", "trained.cir",
    "conductances.csv", "learning_curve.png", "conductances.csv",
};

/* Run writer w into dir in the calling (child) process; returns only when
 * the writer finished, which the crash should prevent. */
static void run_writer(writer w, const char *dir, tu_job *j, const char *metrics_src)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, writer_file[w]);
    eqs_run *run = NULL;
    switch (w) {
    case W_METRICS: (void)eqs_run_open(j->ctx, dir, 0, &run); break;
    case W_EXPERIMENT: (void)eqs_experiment_write(j->ctx, j->exp, p); break;
    case W_CHECKPOINT: (void)eqs_trainer_checkpoint_write(j->tr, p); break;
    case W_NETLIST: (void)eqs_export_trained_netlist(j->ctx, j->c, j->exp, j->tr, p); break;
    case W_CONDUCTANCES: (void)eqs_export_conductances(j->ctx, j->c, p); break;
    case W_PLOT: (void)eqs_plot_learning_curve(j->ctx, metrics_src, p); break;
    case W_CLI: {
        const char *cli = getenv("EQS_CLI");
        char *argv[] = {(char *)(cli ? cli : "build/eqspice"), "op",
                        (char *)tu_path("netlists/divider.cir"), "-o", p, NULL};
        execv(argv[0], argv);
        break;
    }
    case W_COUNT: break;
    }
}

START_TEST(test_crash_leftovers_removed)
{
    tu_job j;
    tu_job_open(&j, tu_experiment_path("netlists/xor-experiment.xml"), 1);
    const char *metrics_src = tu_write_temp(
        "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings\n"
        "1,0.5,0.25,0.5,0.25,1,\n2,0.25,0.125,0.25,0.125,1,\n3,0.2,0.1,0.2,0.1,1,\n",
        ".csv");
    for (int w = 0; w < W_COUNT; ++w) {
        const char *dir = tu_temp_dir();
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct rlimit rl = {16, 16};
            signal(SIGXFSZ, SIG_DFL);
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
            run_writer((writer)w, dir, &j, metrics_src);
            _exit(4); /* the writer was not killed */
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ,
                      "writer %s: not killed by SIGXFSZ (status 0x%x)", writer_file[w], status);
        /* the leftover: the writer's temporary file, torn, and nothing else
         * (the run's lock file aside) */
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        struct dirent *e;
        int n = 0, temps = 0;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' || !strcmp(e->d_name, "eqspice.lock")) continue;
            n++;
            temps += eqs_atomic_is_temp(e->d_name, writer_file[w]);
        }
        closedir(d);
        ck_assert_msg(n == 1 && temps == 1, "writer %s: %d entries, %d temporary", writer_file[w],
                      n, temps);
        /* the next open of the run directory removes it: a new run */
        eqs_run *run = NULL;
        ck_assert_msg(eqs_run_open(j.ctx, dir, 0, &run) == EQS_OK, "%s", eqs_ctx_error(j.ctx));
        ck_assert_int_eq(eqs_run_get_mode(run), EQS_RUN_MODE_NEW);
        d = opendir(dir);
        n = 0;
        while ((e = readdir(d)) != NULL)
            n += e->d_name[0] != '.' && strstr(e->d_name, ".tmp") != NULL;
        closedir(d);
        ck_assert_msg(n == 0, "writer %s: leftover not removed", writer_file[w]);
        eqs_run_close(&run);
    }
    tu_job_close(&j);
}
END_TEST

Suite *suite_atomic(void)
{
    Suite *s = suite_create("atomic");
    TCase *tc = tcase_create("atomic");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_temp_names);
    tcase_add_test(tc, test_output_special_files);
    tcase_add_test(tc, test_crash_leftovers_removed);
    suite_add_tcase(s, tc);
    return s;
}
