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

/* ------------------------------------------------------------------ */
/* Progress reporting (src/cli/progress.c is compiled in here: the test */
/* binary links the library, not the CLI objects).  Times are passed   */
/* in, so every line, rate and ETA is a closed form.                   */
/* ------------------------------------------------------------------ */
#include "cli/progress.c"

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; ++s) n += *s == c;
    return n;
}

/* The line of buf (without '\n') that starts with `prefix` and holds
 * `part`, copied to line; 0 if none. */
static int find_line(const char *buf, const char *part, char *line, size_t n)
{
    for (const char *p = buf; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len < n) {
            memcpy(line, p, len);
            line[len] = '\0';
            if (strstr(line, part)) return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Not a terminal: a line every log_s seconds while training and while
 * evaluating, one per epoch; the ETA counts every planned epoch and its
 * evaluation at the rates measured (a guess of 3x the training rate for
 * evaluation until one is measured). */
START_TEST(test_progress_not_a_tty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_progress p;
    /* 2 epochs of 100 samples, 150 evaluated per epoch end, a line every 10 s */
    cli_progress_init(&p, f, -1, 2, 100, 150, 10.0, 0.0); /* a memory stream is not a tty */
    ck_assert_int_eq(p.tty, 0);
    cli_progress_epoch_begin(&p, 1, 100, 0.0);
    /* 2 samples/s: 10 samples every 5 s, lines at t = 10, 20, ..., 50 */
    for (size_t i = 10; i <= 100; i += 10) cli_progress_update(&p, i, 0.5, 0.5 * (double)i);
    fflush(f);
    ck_assert_int_eq(count_char(buf, '\n'), 5);
    char line[512];
    /* t = 10: 80 + 100 samples to train at 2/s (90 s), 2 x 150 to evaluate
     * at the guessed 6/s (50 s) */
    ck_assert(find_line(buf, "20/100", line, sizeof line));
    ck_assert_str_eq(line, "epoch 1/2: 20/100 samples (20%), 2 samples/s, loss 0.5 | "
                           "elapsed 0:00:10, eta 0:02:20");
    /* evaluation: 15 samples every 1.5 s (10/s) from t = 50; a line at t = 60.5 */
    for (size_t k = 1; k <= 10; ++k) cli_progress_eval(&p, 15 * k, 50.0 + 1.5 * (double)k);
    fflush(f);
    ck_assert_int_eq(count_char(buf, '\n'), 6);
    /* 100 samples to train at 2/s (50 s), 45 + 150 to evaluate at 10/s (19.5 s) */
    ck_assert(find_line(buf, "evaluating", line, sizeof line));
    ck_assert_str_eq(line, "epoch 1/2: evaluating 105/150 samples (70%), 10 samples/s | "
                           "elapsed 0:01:01, eta 0:01:10");
    /* epoch end at t = 75: evaluation took 25 s (6/s); left: 100 / 2 + 150 / 6 */
    eqs_epoch_metrics m = {1, 0.0123, 0.125, 0.02, 0.131, 50.0, 0};
    cli_progress_epoch_end(&p, &m, 75.0);
    fflush(f);
    ck_assert(find_line(buf, "train loss", line, sizeof line));
    ck_assert_str_eq(line, "epoch 1/2: train loss 0.0123 error 12.50% | test loss 0.02 error "
                           "13.10% | 100 samples in 50.00 s (2 samples/s) | elapsed 0:01:15, "
                           "eta 0:01:15");
    /* the last epoch: its end leaves nothing, and a run without test set
     * has no test part */
    cli_progress_epoch_begin(&p, 2, 100, 75.0);
    cli_progress_update(&p, 100, 0.25, 125.0);
    cli_progress_eval(&p, 150, 150.0);
    m = (eqs_epoch_metrics){2, 0.01, 0.1, NAN, NAN, 50.0, 0};
    cli_progress_epoch_end(&p, &m, 150.0);
    fclose(f);
    const char *last = strstr(buf, "epoch 2/2: train loss");
    ck_assert_ptr_nonnull(last);
    ck_assert_str_eq(last, "epoch 2/2: train loss 0.01 error 10.00% | 100 samples in 50.00 s "
                           "(2 samples/s) | elapsed 0:02:30, eta 0:00:00\n");
    ck_assert_ptr_null(strchr(buf, '\r'));
    ck_assert_ptr_null(strchr(buf, '\x1b'));
    free(buf);
}
END_TEST

/* A resumed run: the first epoch is the rest of a begun one, and the ETA
 * still covers every planned epoch after it. */
START_TEST(test_progress_eta_resumed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_progress p;
    cli_progress_init(&p, f, 0, 3, 100, 150, 5.0, 0.0);
    cli_progress_epoch_begin(&p, 2, 40, 0.0); /* epoch 2 resumed with 40 samples left */
    cli_progress_update(&p, 20, 0.5, 10.0);
    fclose(f);
    /* 20 + 100 samples at 2/s (60 s), 2 x 150 at the guessed 6/s (50 s) */
    ck_assert_str_eq(buf, "epoch 2/3: 20/40 samples (50%), 2 samples/s, loss 0.5 | "
                          "elapsed 0:00:10, eta 0:01:50\n");
    free(buf);
}
END_TEST

/* The terminal path, forced: at most one redraw per 0.1 s, the last
 * sample always drawn, the bar erased before the epoch line. */
START_TEST(test_progress_tty_rate_limit)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_progress p;
    cli_progress_init(&p, f, 1, 1, 1000, 0, -1, 0.0);
    cli_progress_epoch_begin(&p, 1, 1000, 0.0);
    /* 1000 samples over 1 s: at most 11 redraws (t = 0, 0.1, ..., and the end) */
    for (size_t i = 1; i <= 1000; ++i) cli_progress_update(&p, i, 0.5, 0.001 * (double)i);
    fflush(f);
    int redraws = count_char(buf, '\r');
    ck_assert_int_ge(redraws, 10);
    ck_assert_int_le(redraws, 11);
    ck_assert_ptr_null(strchr(buf, '\n'));
    ck_assert_ptr_nonnull(strstr(buf, "1000/1000"));
    ck_assert_ptr_nonnull(strstr(buf, "100%"));
    ck_assert_ptr_nonnull(strstr(buf, "1000/s"));
    ck_assert_ptr_nonnull(strstr(buf, "loss 0.5"));
    ck_assert_ptr_nonnull(strstr(buf, "eta 0:00:00"));
    eqs_epoch_metrics m = {1, 0.5, 0.25, NAN, NAN, 1.0, 0};
    cli_progress_epoch_end(&p, &m, 1.0);
    fclose(f);
    const char *last = strrchr(buf, '\r');
    ck_assert_str_eq(last, "\r\x1b[Kepoch 1/1: train loss 0.5 error 25.00% | 1000 samples in "
                           "1.00 s (1000 samples/s) | elapsed 0:00:01, eta 0:00:00\n");
    free(buf);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Help text against behaviour and docs/cli.md                        */
/* ------------------------------------------------------------------ */
/* Every subcommand: the words before its options, dummy operands, the
 * heading of its section in docs/cli.md. */
typedef struct {
    const char *words[2]; /* "bench", "train" (second NULL for one word) */
    const char *name;     /* as in the usage line and the docs heading */
} subcommand;
static const subcommand subcommands[] = {
    {{"op", NULL}, "op"},          {{"compare", NULL}, "compare"},
    {{"grad", NULL}, "grad"},      {{"gen", "drn"}, "gen drn"},
    {{"train", NULL}, "train"},    {{"eval", NULL}, "eval"},
    {{"bench", "op"}, "bench op"}, {{"bench", "train"}, "bench train"},
    {{"device", NULL}, "device"},  {{"report", NULL}, "report"},
    {{"sweep", NULL}, "sweep"},
    {{"export", NULL}, "export"},  {{"import", NULL}, "import"},
};

#define MAX_NAMES 128
typedef struct {
    char name[MAX_NAMES][32]; /* every spelling ("-o", "--output") */
    int first[MAX_NAMES];     /* 1: the first spelling of its entry */
    int nvals[MAX_NAMES];     /* values it takes (words of its placeholder) */
    char arg[MAX_NAMES][96];  /* the placeholder ("auto|newton", "FILE") */
    int n;
} optset;

static int optset_has(const optset *s, const char *name)
{
    for (int i = 0; i < s->n; ++i)
        if (!strcmp(s->name[i], name)) return 1;
    return 0;
}

static void optset_add(optset *s, const char *name, size_t len, int first, int nvals)
{
    ck_assert_int_lt(s->n, MAX_NAMES);
    ck_assert_uint_lt(len, sizeof s->name[0]);
    memcpy(s->name[s->n], name, len);
    s->name[s->n][len] = '\0';
    s->first[s->n] = first;
    s->nvals[s->n] = nvals;
    s->arg[s->n][0] = '\0';
    s->n++;
}

/* The option list of a --help text: lines "  -x, --xx ARG  help" after
 * "options:"; every entry must have help text (on its line or the next). */
static void help_options(const char *help, const char *cmd, optset *s)
{
    s->n = 0;
    const char *p = strstr(help, "\noptions:\n");
    ck_assert_msg(p != NULL, "%s --help has no 'options:' section", cmd);
    p += strlen("\noptions:\n");
    while (*p && strncmp(p, "  -", 3) == 0) {
        const char *eol = strchr(p, '\n');
        ck_assert_ptr_nonnull(eol);
        const char *q = p + 2, *gap = strstr(q, "  ");
        const char *end = gap && gap < eol ? gap : eol; /* names and placeholder */
        /* help text: after the gap, else on the next (indented) line */
        int has_help = gap && gap < eol && gap + strspn(gap, " ") < eol;
        if (!has_help) has_help = eol[1] == ' ' && eol[1 + strspn(eol + 1, " ")] != '\n' &&
                                  strncmp(eol + 1, "  -", 3) != 0;
        ck_assert_msg(has_help, "%s --help: option '%.*s' has no help text", cmd,
                      (int)(end - q), q);
        /* "-o, --output RUNDIR": spellings up to the first space not after a comma */
        char entry[256];
        snprintf(entry, sizeof entry, "%.*s", (int)(end - q), q);
        int nvals = 0, first = 1;
        char *names_end = entry;
        for (char *w = entry; *w;) { /* spellings end at the first word without ',' */
            size_t n = strcspn(w, " ");
            int comma = n > 0 && w[n - 1] == ',';
            names_end = w + n;
            if (!comma) break;
            w += n + strspn(w + n, " ");
        }
        for (char *w = names_end; *w;) { /* the placeholder words */
            w += strspn(w, " ");
            if (!*w) break;
            nvals++;
            w += strcspn(w, " ");
        }
        for (char *w = entry; w < names_end;) {
            size_t n = strcspn(w, ", ");
            if (w + n > names_end) n = (size_t)(names_end - w);
            optset_add(s, w, n, first, nvals);
            snprintf(s->arg[s->n - 1], sizeof s->arg[0], "%s", names_end + strspn(names_end, " "));
            first = 0;
            w += n;
            w += strspn(w, ", ");
        }
        p = eol + 1;
        while (*p == ' ' && strncmp(p, "  -", 3) != 0) p = strchr(p, '\n') + 1; /* help lines */
    }
    ck_assert_msg(s->n > 0, "%s --help lists no options", cmd);
}

/* The options docs/cli.md lists for `name`: the backticked words starting
 * with '-' in the first column of the tables of its section ("## `eqspice
 * NAME ..."), up to the next "## ". */
static void doc_options(const char *doc, const char *name, optset *s)
{
    s->n = 0;
    char head[128];
    snprintf(head, sizeof head, "\n## `eqspice %s", name);
    const char *p = doc;
    size_t hl = strlen(head);
    for (;;) { /* the heading followed by ' ' or '`' (not "bench op" for "bench") */
        p = strstr(p, head);
        ck_assert_msg(p != NULL, "docs/cli.md has no section '## `eqspice %s'", name);
        if (p[hl] == ' ' || p[hl] == '`') break;
        p += hl;
    }
    p += hl;
    const char *end = strstr(p, "\n## ");
    if (!end) end = p + strlen(p);
    for (const char *line = strchr(p, '\n'); line && line < end; line = strchr(line + 1, '\n')) {
        if (line[1] != '|') continue;
        const char *cell_end = strchr(line + 2, '|');
        while (cell_end && cell_end[-1] == '\\') cell_end = strchr(cell_end + 1, '|');
        if (!cell_end || cell_end > end) continue;
        for (const char *b = strchr(line + 2, '`'); b && b < cell_end; b = strchr(b + 1, '`')) {
            const char *e = strchr(b + 1, '`');
            if (!e || e > cell_end) break;
            for (const char *w = b + 1; w < e;) {
                size_t n = strcspn(w, " `");
                if (w + n > e) n = (size_t)(e - w);
                if (n > 1 && w[0] == '-' && (w[1] == '-' || (w[1] >= 'a' && w[1] <= 'z')))
                    optset_add(s, w, n, 0, 0);
                w += n;
                w += strspn(w, " ");
            }
            b = e;
        }
    }
}

/* argv of the command, then extra words; returns the count. */
static int build_argv(const char **argv, const subcommand *c, const char *const *extra, int n)
{
    int k = 0;
    argv[k++] = c->words[0];
    if (c->words[1]) argv[k++] = c->words[1];
    for (int i = 0; i < n; ++i) argv[k++] = extra[i];
    argv[k] = NULL;
    return k;
}

/* For every subcommand: its --help lists each option it accepts, with help
 * text, in the option list and (first spelling) in the synopsis; each listed
 * option is accepted (the parser does not call it unknown); an unlisted one
 * is refused (cli_check_options: nothing outside the table gets through);
 * docs/cli.md lists the same options. */
START_TEST(test_help_lists_accepted_options)
{
    char *doc = tu_read_file(tu_path("docs/cli.md"));
    ck_assert_ptr_nonnull(doc);
    for (size_t c = 0; c < sizeof subcommands / sizeof subcommands[0]; ++c) {
        const subcommand *sc = &subcommands[c];
        const char *argv[16];
        const char *const help[] = {"--help"};
        build_argv(argv, sc, help, 1);
        char *out = NULL, *err = NULL;
        int rc = tu_run_cli(argv, &out, &err, 20);
        ck_assert_msg(rc == 0, "%s --help: rc=%d", sc->name, rc);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: eqspice %s", sc->name);
        ck_assert_msg(strncmp(out, usage, strlen(usage)) == 0, "%s --help starts '%.40s'",
                      sc->name, out);
        optset hs, ds;
        help_options(out, sc->name, &hs);
        ck_assert(optset_has(&hs, "--help") && optset_has(&hs, "-h"));
        /* the synopsis: from "usage:" to the first blank line */
        const char *blank = strstr(out, "\n\n");
        ck_assert_ptr_nonnull(blank);
        char syn[4096];
        snprintf(syn, sizeof syn, " %.*s ", (int)(blank - out), out);
        for (char *q = syn; *q; ++q)
            if (*q == '\n' || *q == '[' || *q == ']' || *q == '(' || *q == ')' || *q == '|')
                *q = ' ';
        for (int i = 0; i < hs.n; ++i) {
            if (!strcmp(hs.name[i], "-h") || !strcmp(hs.name[i], "--help")) continue;
            char key[48];
            snprintf(key, sizeof key, " %s ", hs.name[i]);
            if (hs.first[i])
                ck_assert_msg(strstr(syn, key) != NULL, "%s: '%s' missing from the synopsis",
                              sc->name, hs.name[i]);
            /* accepted: with dummy values the complaint is never "unknown option" */
            const char *extra[4] = {hs.name[i], "1", "1", "1"};
            build_argv(argv, sc, extra, 1 + hs.nvals[i]);
            char *o2 = NULL, *e2 = NULL;
            rc = tu_run_cli(argv, &o2, &e2, 20);
            ck_assert_msg(rc >= 0 && rc <= 1, "%s %s: rc=%d", sc->name, hs.name[i], rc);
            ck_assert_msg(strstr(e2, "unknown option") == NULL, "%s refuses its option %s: %s",
                          sc->name, hs.name[i], e2);
            free(o2);
            free(e2);
            /* docs/cli.md lists it */
        }
        doc_options(doc, sc->name, &ds);
        for (int i = 0; i < hs.n; ++i)
            if (strcmp(hs.name[i], "-h") && strcmp(hs.name[i], "--help"))
                ck_assert_msg(optset_has(&ds, hs.name[i]), "docs/cli.md (%s) lacks %s",
                              sc->name, hs.name[i]);
        for (int i = 0; i < ds.n; ++i)
            ck_assert_msg(optset_has(&hs, ds.name[i]),
                          "docs/cli.md (%s) lists %s, which --help does not", sc->name,
                          ds.name[i]);
        /* an option outside the list is refused */
        const char *const bogus[] = {"--no-such-option"};
        build_argv(argv, sc, bogus, 1);
        char *o3 = NULL, *e3 = NULL;
        rc = tu_run_cli(argv, &o3, &e3, 20);
        ck_assert_int_eq(rc, 1);
        ck_assert_ptr_nonnull(strstr(e3, "unknown option '--no-such-option'"));
        free(o3);
        free(e3);
        free(out);
        free(err);
    }
    free(doc);
}
END_TEST

/* The names a library enumeration accepts: k = 0, 1, ... while
 * from_name(name(k)) == k. */
typedef struct {
    const char *option;
    const char *(*name)(int);
    int (*from_name)(const char *);
} enumeration;
static const char *backend_name(int k) { return eqs_backend_name((eqs_backend_id)k); }
static const char *method_name(int k) { return eqs_grad_method_name((eqs_grad_method)k); }
static const char *diode_name(int k) { return eqs_diode_kind_name((eqs_diode_kind)k); }
static const char *nudge_name(int k) { return eqs_nudge_kind_name((eqs_nudge_kind)k); }
static const char *phases_name(int k) { return eqs_aeq_phases_name((eqs_aeq_phases)k); }
static const enumeration enumerations[] = {
    {"--solver", backend_name, eqs_backend_from_name},
    {"--method", method_name, eqs_grad_method_from_name},
    {"--diodes", diode_name, eqs_diode_kind_from_name},
    {"--nudge", nudge_name, eqs_nudge_kind_from_name},
    {"--phases", phases_name, eqs_aeq_phases_from_name},
};

/* Operands that let each command reach its value checks. */
static const char *const *choice_operands(const char *name, int *n)
{
    static const char *const netlist[] = {"no-such.cir"};
    static const char *const eval[] = {"no-such.cir", "--synthetic", "xor"};
    *n = 0;
    if (!strcmp(name, "op") || !strcmp(name, "grad")) return *n = 1, netlist;
    if (!strcmp(name, "eval")) return *n = 3, eval;
    return NULL;
}

/* Options with a list of values (a|b|c in the help): every value listed is
 * accepted, an unlisted one refused, and for --solver, --method, --diodes,
 * --nudge and --phases the list holds every name the library knows. */
START_TEST(test_help_lists_choices)
{
    int checked = 0;
    for (size_t c = 0; c < sizeof subcommands / sizeof subcommands[0]; ++c) {
        const subcommand *sc = &subcommands[c];
        const char *argv[24];
        const char *const help[] = {"--help"};
        build_argv(argv, sc, help, 1);
        char *out = NULL, *err = NULL;
        ck_assert_int_eq(tu_run_cli(argv, &out, &err, 20), 0);
        optset hs;
        help_options(out, sc->name, &hs);
        free(out);
        free(err);
        int nop = 0;
        const char *const *ops = choice_operands(sc->name, &nop);
        for (int i = 0; i < hs.n; ++i) {
            if (!strchr(hs.arg[i], '|') || !hs.first[i]) continue;
            char list[128];
            snprintf(list, sizeof list, "|%s|", hs.arg[i]);
            for (size_t e = 0; e < sizeof enumerations / sizeof enumerations[0]; ++e) {
                if (strcmp(enumerations[e].option, hs.name[i])) continue;
                for (int k = 0; k < 64; ++k) {
                    const char *nm = enumerations[e].name(k);
                    if (!nm || enumerations[e].from_name(nm) != k) break;
                    char key[64];
                    snprintf(key, sizeof key, "|%s|", nm);
                    ck_assert_msg(strstr(list, key) != NULL, "%s %s: '%s' not in the help (%s)",
                                  sc->name, hs.name[i], nm, hs.arg[i]);
                }
            }
            for (const char *v = list + 1; *v;) {
                char value[64];
                size_t n = strcspn(v, "|");
                snprintf(value, sizeof value, "%.*s", (int)n, v);
                v += n + 1;
                if (!*value) break;
                for (int bogus = 0; bogus < 2; ++bogus) {
                    const char *val = bogus ? "nosuchvalue" : value;
                    const char *extra[8];
                    int k = 0;
                    for (int o = 0; o < nop; ++o) extra[k++] = ops[o];
                    extra[k++] = hs.name[i];
                    extra[k++] = val;
                    build_argv(argv, sc, extra, k);
                    char *o2 = NULL, *e2 = NULL;
                    int rc = tu_run_cli(argv, &o2, &e2, 20);
                    char quoted[80], badv[80], needs[80];
                    snprintf(quoted, sizeof quoted, "'%s'", val);
                    snprintf(badv, sizeof badv, "bad value for %s", hs.name[i]);
                    snprintf(needs, sizeof needs, "%s needs", hs.name[i]);
                    int refused = strstr(e2, quoted) || strstr(e2, badv) || strstr(e2, needs);
                    if (bogus)
                        ck_assert_msg(rc == 1 && refused, "%s %s %s accepted: %s", sc->name,
                                      hs.name[i], val, e2);
                    else
                        ck_assert_msg(!refused, "%s %s %s refused: %s", sc->name, hs.name[i],
                                      val, e2);
                    free(o2);
                    free(e2);
                }
                checked++;
            }
        }
    }
    ck_assert_int_ge(checked, 30);
}
END_TEST

/* The top-level help and `bench --help` name every subcommand, and the
 * top-level list names nothing else. */
START_TEST(test_help_lists_subcommands)
{
    const char *const top[] = {"--help", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(tu_run_cli(top, &out, &err, 20), 0);
    const char *p = strstr(out, "\ncommands:\n");
    ck_assert_ptr_nonnull(p);
    p += strlen("\ncommands:\n");
    int listed = 0;
    for (; strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1) {
        int known = 0;
        for (size_t c = 0; c < sizeof subcommands / sizeof subcommands[0]; ++c) {
            size_t n = strlen(subcommands[c].name);
            const char *rest = p + 2 + n;
            if (!strncmp(p + 2, subcommands[c].name, n) && *rest == ' ' &&
                (rest[1] == ' ' || (rest[1] >= 'A' && rest[1] <= 'Z')))
                known = 1;
        }
        ck_assert_msg(known, "top-level help lists an unknown command: %.30s", p);
        listed++;
    }
    ck_assert_int_eq(listed, (int)(sizeof subcommands / sizeof subcommands[0]));
    free(out);
    free(err);
    const char *const bench[] = {"bench", "--help", NULL};
    ck_assert_int_eq(tu_run_cli(bench, &out, &err, 20), 0);
    ck_assert_ptr_nonnull(strstr(out, "eqspice bench op "));
    ck_assert_ptr_nonnull(strstr(out, "eqspice bench train "));
    free(out);
    free(err);
}
END_TEST

/* `shape` of a progress line: every number (digits with . : e + -) as '#'. */
static void shape(const char *line, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = line; *p && k + 2 < n;) {
        if (*p >= '0' && *p <= '9') {
            while ((*p >= '0' && *p <= '9') || *p == '.' || *p == ':' || *p == 'e' ||
                   ((*p == '+' || *p == '-') && p[-1] == 'e'))
                ++p;
            out[k++] = '#';
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
}

/* Shapes of the lines of `text` that start with "epoch " (at most max). */
static int epoch_shapes(const char *text, char shapes[][256], int max)
{
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "epoch ", 6) != 0) continue;
        char line[512];
        size_t len = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        char sh[256];
        shape(line, sh, sizeof sh);
        int seen = 0;
        for (int i = 0; i < n; ++i) seen |= !strcmp(shapes[i], sh);
        if (!seen && n < max) snprintf(shapes[n++], 256, "%s", sh);
    }
    return n;
}

/* A real training run with stderr in a file (not a terminal): with
 * --progress 0 a line after every batch of an epoch and of its evaluation,
 * one per epoch, each with elapsed time and ETA, in exactly the formats
 * docs/cli.md shows; with the default 10 s a short run prints the epoch
 * lines only. */
START_TEST(test_train_progress_lines)
{
    char xml[4096];
    snprintf(xml, sizeof xml,
             "<?xml version=\"1.0\"?>\n<experiment version=\"1\">\n"
             "  <network><drn layers=\"2 4 2\"/></network>\n"
             "  <dataset classes=\"2\"><synthetic task=\"xor\" train_size=\"64\" "
             "test_size=\"32\" noise=\"0.05\"/></dataset>\n"
             "  <input gain_V=\"8\" encoding=\"pair\"/>\n"
             "  <targets on_V=\"0.5\" off_V=\"0\"/>\n"
             "  <algorithm method=\"centered\" beta=\"1e-5\"/>\n"
             "  <learning momentum=\"0.9\" decay=\"0.99\"><rate elements=\"r*\" "
             "value=\"1e-8\"/></learning>\n"
             "  <training epochs=\"2\" batch=\"8\" seed=\"1\"/>\n"
             "  <conductance g_min_S=\"1e-7\" g_max_S=\"1e-3\"/>\n"
             "  <solver backend=\"newton\"/>\n"
             "  <output dir=\"unused\" checkpoint_every=\"0\"/>\n</experiment>\n");
    const char *path = tu_write_temp(xml, ".xml");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/run", tu_temp_dir());
    const char *const argv[] = {"train", path, "-o", dir, "--progress", "0", NULL};
    char *out = NULL, *err = NULL;
    int rc = tu_run_cli(argv, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    /* 8 batches per epoch: a line after each (the last one included), then
     * one per evaluation batch (the trainer reports every sample on the
     * newton path), then the epoch line */
    ck_assert_ptr_nonnull(strstr(err, "epoch 1/2: 8/64 samples (12%), "));
    ck_assert_ptr_nonnull(strstr(err, "epoch 1/2: 64/64 samples (100%), "));
    ck_assert_ptr_nonnull(strstr(err, "epoch 2/2: 32/64 samples (50%), "));
    ck_assert_ptr_nonnull(strstr(err, "epoch 1/2: evaluating 1/96 samples (1%), "));
    ck_assert_ptr_nonnull(strstr(err, "epoch 1/2: evaluating 96/96 samples (100%), "));
    const char *e1 = strstr(err, "epoch 1/2: train loss ");
    const char *e2 = strstr(err, "epoch 2/2: train loss ");
    ck_assert_ptr_nonnull(e1);
    ck_assert_ptr_nonnull(e2);
    ck_assert_ptr_nonnull(strstr(e1, " | test loss "));
    ck_assert_ptr_nonnull(strstr(e1, " | 64 samples in "));
    ck_assert_ptr_nonnull(strstr(e2, ", eta 0:00:00\n"));
    ck_assert_ptr_null(strchr(err, '\r'));
    /* the formats of docs/cli.md, both ways */
    char *doc = tu_read_file(tu_path("docs/cli.md"));
    ck_assert_ptr_nonnull(doc);
    const char *block = strstr(doc, "<!-- progress lines -->");
    ck_assert_msg(block != NULL, "docs/cli.md lacks the marked progress example");
    char dshapes[8][256], rshapes[8][256];
    int nd = epoch_shapes(block, dshapes, 8), nr = epoch_shapes(err, rshapes, 8);
    ck_assert_int_eq(nd, 3); /* training, evaluation, epoch end */
    ck_assert_int_eq(nr, 3);
    for (int i = 0; i < nr; ++i) {
        int found = 0;
        for (int k = 0; k < nd; ++k) found |= !strcmp(rshapes[i], dshapes[k]);
        ck_assert_msg(found, "line shape '%s' is not in docs/cli.md", rshapes[i]);
    }
    free(doc);
    free(out);
    free(err);

    /* default cadence (10 s): this run takes well under that */
    snprintf(dir, sizeof dir, "%s/run", tu_temp_dir());
    const char *const argv2[] = {"train", path, "-o", dir, NULL};
    rc = tu_run_cli(argv2, &out, &err, 60);
    ck_assert_msg(rc == 0, "rc=%d %s", rc, err);
    ck_assert_ptr_null(strstr(err, " samples (")); /* no in-epoch lines */
    ck_assert_ptr_nonnull(strstr(err, "epoch 1/2: train loss "));
    ck_assert_ptr_nonnull(strstr(err, "epoch 2/2: train loss "));
    free(out);
    free(err);
    const char *const bad[] = {"train", path, "--progress", "-1", NULL};
    expect_usage_error(bad, "--progress needs seconds >= 0");
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
    tcase_add_test(tc, test_help_lists_accepted_options);
    tcase_add_test(tc, test_help_lists_subcommands);
    tcase_add_test(tc, test_help_lists_choices);
    tcase_add_test(tc, test_train_progress_lines);
    suite_add_tcase(s, tc);
    tc = tcase_create("progress");
    tcase_add_test(tc, test_progress_not_a_tty);
    tcase_add_test(tc, test_progress_eta_resumed);
    tcase_add_test(tc, test_progress_tty_rate_limit);
    suite_add_tcase(s, tc);
    return s;
}
