/* test_cli.c: the command-line front end run as a user runs it (a child
 * process): help and exit codes, CSV output, atomic -o, --stats, the
 * directory of bad netlists, gen and compare. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char divider[] =
    "divider for the cli tests\n"
    "V1 in 0 DC 10\n"
    "R1 in mid 1k\n"
    "R2 mid 0 3kOhm\n"
    ".op\n"
    ".end\n";

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Value of node `name` in CSV text "node,voltage_V\n...", NAN if absent. */
static double csv_value(const char *csv, const char *name)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = strstr(csv, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

START_TEST(test_help_and_usage_errors)
{
    /* each row NULL-terminated (tu_run_cli reads up to the NULL) */
    const char *const cmds[][4] = {{"--help", NULL, NULL, NULL}, {"op", "--help", NULL, NULL},
                                   {"compare", "--help", NULL, NULL}, {"gen", "--help", NULL, NULL},
                                   {"gen", "drn", "--help", NULL}, {"bench", "--help", NULL, NULL},
                                   {"grad", "--help", NULL, NULL}, {"bench", "train", "--help", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; ++i) {
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(cmds[i], &out, &err, 20);
        ck_assert_msg(rc == 0, "%s %s: rc=%d", cmds[i][0], cmds[i][1] ? cmds[i][1] : "", rc);
        ck_assert_ptr_nonnull(strstr(out, "usage: eqspice"));
        free(out);
        free(err);
    }
    /* [5]: every row ends with a NULL (missing initialisers are NULL) */
    const char *const bad[][5] = {{"frobnicate", NULL, NULL, NULL},
                                  {"op", NULL, NULL, NULL},
                                  {"op", "x.cir", "--solver", "spectre"},
                                  {"op", "x.cir", "--repeat", "0"},
                                  {"op", "x.cir", "--reltol", "abc"},
                                  {"op", "x.cir", "--bogus", NULL},
                                  {"gen", "drn", "--layers", "784"},
                                  {"gen", "drn", "--layers", "7,,3"},
                                  {"gen", "nope", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(bad[i], &out, &err, 20);
        ck_assert_msg(rc == 1, "case %zu: rc=%d", i, rc);
        ck_assert_msg(strstr(err, "error:") != NULL, "case %zu: stderr '%s'", i, err);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
}
END_TEST

START_TEST(test_op_divider_csv_and_file)
{
    const char *net = tu_write_temp(divider, ".cir");
    char *out = NULL, *err = NULL;
    const char *const argv[] = {"op", net, NULL};
    int rc = tu_run_cli(argv, &out, &err, 20);
    ck_assert_msg(rc == 0, "rc=%d stderr=%s", rc, err);
    ck_assert_int_eq(strncmp(out, "node,voltage_V\n", 15), 0);
    /* closed form: 10 V * 3k / (1k + 3k) */
    ck_assert_double_eq_tol(csv_value(out, "in"), 10.0, 1e-12);
    ck_assert_double_eq_tol(csv_value(out, "mid"), 7.5, 1e-12);
    ck_assert(isnan(csv_value(out, "0")));

    /* -o FILE: same content, nothing on stdout */
    const char *dir = tu_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/op.csv", dir);
    char *out2 = NULL, *err2 = NULL;
    const char *const argv2[] = {"op", net, "-o", path, "--stats", "--repeat", "3", NULL};
    rc = tu_run_cli(argv2, &out2, &err2, 20);
    ck_assert_msg(rc == 0, "rc=%d stderr=%s", rc, err2);
    ck_assert_str_eq(out2, "");
    char *file = tu_read_file(path);
    ck_assert_ptr_nonnull(file);
    ck_assert_str_eq(file, out);
    /* stats line */
    const char *s = strstr(err2, "stats: parse_s=");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(strstr(s, " compile_s="));
    ck_assert_ptr_nonnull(strstr(s, " solve_s="));
    ck_assert_ptr_nonnull(strstr(s, " iterations="));
    /* a divider is a layered network: the automatic default picks the layered solver */
    ck_assert_ptr_nonnull(strstr(s, " backend=layered"));
    free(file);
    free(out);
    free(err);
    free(out2);
    free(err2);
}
END_TEST

/* -o onto a device (through a symlink in a temp dir, so that a regression
 * replaces only the link) writes in place; -o onto a symlink to a regular
 * file writes through it and keeps the link. */
START_TEST(test_op_output_special_files)
{
    const char *net = tu_write_temp(divider, ".cir");
    const char *dir = tu_temp_dir();
    char devlink[4200], target[4200], filelink[4200];
    snprintf(devlink, sizeof devlink, "%s/devnull", dir);
    snprintf(target, sizeof target, "%s/target.csv", dir);
    snprintf(filelink, sizeof filelink, "%s/link.csv", dir);
    ck_assert_int_eq(symlink("/dev/null", devlink), 0);
    FILE *f = fopen(target, "w");
    fputs("old\n", f);
    fclose(f);
    ck_assert_int_eq(symlink(target, filelink), 0);

    const char *const a1[] = {"op", net, "-o", devlink, NULL};
    ck_assert_int_eq(tu_run_cli(a1, NULL, NULL, 20), 0);
    struct stat sb;
    ck_assert_int_eq(lstat(devlink, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(stat("/dev/null", &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));

    const char *const a2[] = {"op", net, "-o", filelink, NULL};
    ck_assert_int_eq(tu_run_cli(a2, NULL, NULL, 20), 0);
    ck_assert_int_eq(lstat(filelink, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    char *text = tu_read_file(target);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(strncmp(text, "node,voltage_V\n", 15), 0);
    free(text);
}
END_TEST

START_TEST(test_op_missing_file)
{
    const char *dir = tu_temp_dir();
    char path[4200], outp[4200];
    snprintf(path, sizeof path, "%s/does-not-exist.cir", dir);
    snprintf(outp, sizeof outp, "%s/out.csv", dir);
    const char *const argv[] = {"op", path, "-o", outp, NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 20);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(err, "error:"));
    ck_assert_ptr_nonnull(strstr(err, "does-not-exist.cir"));
    ck_assert(!file_exists(outp));
    free(out);
    free(err);
}
END_TEST

/* Every tests/bad/NAME.cir: exit 1, the line in NAME.expect on stderr, no
 * output file, no crash, no hang. */
START_TEST(test_bad_netlists_directory)
{
    DIR *d = opendir("tests/bad");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    const char *dir = tu_temp_dir();
    char outp[4200];
    snprintf(outp, sizeof outp, "%s/out.csv", dir);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cir")) continue;
        char net[1024], exp[1024];
        snprintf(net, sizeof net, "tests/bad/%s", e->d_name);
        snprintf(exp, sizeof exp, "tests/bad/%.*s.expect", (int)(len - 4), e->d_name);
        char *expect = tu_read_file(exp);
        ck_assert_msg(expect != NULL, "%s has no .expect file", net);
        char *nl = strchr(expect, '\n');
        if (nl) *nl = '\0';
        const char *const argv[] = {"op", net, "-o", outp, NULL};
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(argv, &out, &err, 20);
        ck_assert_msg(rc == 1, "%s: exit %d (want 1), stderr: %s", net, rc, err);
        /* the expected line appears as a whole line of stderr */
        int found = 0;
        for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
            if (!strcmp(line, expect)) found = 1;
        ck_assert_msg(found, "%s: expected '%s' on stderr", net, expect);
        ck_assert_msg(!file_exists(outp), "%s: output file written", net);
        free(expect);
        free(out);
        free(err);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 15);
}
END_TEST

START_TEST(test_gen_cli_deterministic)
{
    const char *dir = tu_temp_dir();
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/a.cir", dir);
    snprintf(b, sizeof b, "%s/b.cir", dir);
    const char *const g1[] = {"gen", "drn", "--layers", "8,4,2", "--seed", "5", "-o", a, NULL};
    const char *const g2[] = {"gen", "drn", "--layers", "8,4,2", "--seed", "5", "-o", b, NULL};
    ck_assert_int_eq(tu_run_cli(g1, NULL, NULL, 20), 0);
    ck_assert_int_eq(tu_run_cli(g2, NULL, NULL, 20), 0);
    char *ta = tu_read_file(a), *tb = tu_read_file(b);
    ck_assert_ptr_nonnull(ta);
    ck_assert_str_eq(ta, tb);
    /* and it solves */
    const char *const op[] = {"op", a, NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(op, &out, &err, 20);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    ck_assert(isfinite(csv_value(out, "o1")));
    free(ta);
    free(tb);
    free(out);
    free(err);
}
END_TEST

/* argv is a usage error: exit 1 and `msg` on stderr. */
static void expect_usage_error(const char *const *argv, const char *msg)
{
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 20);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, msg) != NULL, "stderr '%s' lacks '%s'", err, msg);
    free(out);
    free(err);
}

/* bench train runs the real trainer and reports a positive throughput. */
START_TEST(test_bench_train_runs)
{
    const char *const argv[] = {"bench", "train", "--layers", "6,4,3", "--batch", "2",
                                "--seconds", "0.2", NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    const char *p = strstr(out, "samples_per_s=");
    ck_assert_ptr_nonnull(p);
    ck_assert(strtod(p + strlen("samples_per_s="), NULL) > 0);
    /* default solver auto: a DRN is layered */
    ck_assert_ptr_nonnull(strstr(out, "bench: layers=6,4,3 batch=2 solver=layered method=centered"));
    ck_assert_ptr_nonnull(strstr(out, "floor_samples_per_s="));
    ck_assert_ptr_nonnull(strstr(out, "batched=1 precision=double threads=2"));
    free(out);
    free(err);
    /* the two-core split exists only on the batched layered path: no thread count elsewhere */
    const char *const newton[] = {"bench", "train", "--layers", "6,4,3", "--batch", "2",
                                  "--solver", "newton", "--seconds", "0.2", NULL};
    rc = tu_run_cli(newton, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    ck_assert_ptr_nonnull(strstr(out, "solver=newton"));
    ck_assert_ptr_nonnull(strstr(out, "batched=0 precision=double threads=-"));
    free(out);
    free(err);
    expect_usage_error((const char *const[]){"bench", "train", "--layers", "6,4,3", "--method",
                                              "magic", NULL},
                       "--method");
    expect_usage_error((const char *const[]){"bench", "train", "--layers", "6,4,3", "--threads",
                                              "3", NULL},
                       "--threads needs 1 or 2");
    expect_usage_error((const char *const[]){"gen", "drn", "--layers", "4,3,2", "--rails", "-2",
                                              NULL},
                       "--rails needs a positive voltage");
}
END_TEST

START_TEST(test_compare_backends_agree)
{
    const char *dir = tu_temp_dir();
    char a[4200];
    snprintf(a, sizeof a, "%s/a.cir", dir);
    const char *const g[] = {"gen", "drn", "--layers", "6,5,3", "--seed", "2", "-o", a, NULL};
    ck_assert_int_eq(tu_run_cli(g, NULL, NULL, 20), 0);
    const char *const cmp[] = {"compare", a, "--reltol", "1e-9", "--vntol", "1e-12", "--stats", NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(cmp, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    const char *p = strstr(out, "max_abs_dV_V=");
    ck_assert_ptr_nonnull(p);
    double d = strtod(p + strlen("max_abs_dV_V="), NULL);
    ck_assert_msg(d < 1e-6, "newton and ngspice differ by %g V", d);
    ck_assert_ptr_nonnull(strstr(out, " node="));
    ck_assert_ptr_nonnull(strstr(err, "stats: parse_s="));
    ck_assert_ptr_nonnull(strstr(err, " backend=newton-cholmod\n"));
    ck_assert_ptr_nonnull(strstr(err, " backend=ngspice\n"));
    free(out);
    free(err);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_help_and_usage_errors);
    tcase_add_test(tc, test_op_divider_csv_and_file);
    tcase_add_test(tc, test_op_output_special_files);
    tcase_add_test(tc, test_op_missing_file);
    tcase_add_test(tc, test_bad_netlists_directory);
    tcase_add_test(tc, test_gen_cli_deterministic);
    tcase_add_test(tc, test_compare_backends_agree);
    tcase_add_test(tc, test_bench_train_runs);
    suite_add_tcase(s, tc);
    return s;
}
