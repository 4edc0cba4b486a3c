/* cmd_sweep.c: `eqspice sweep EXPERIMENT.xml --set PATH=V1,V2,... -o DIR`:
 * train an experiment at every point of a grid (or of zipped lists) of
 * values set by path, several seeds per point, several runs at once, each
 * in its own run directory, and summarise them in sweep.csv and sweep.md
 * (docs/cli.md "sweep").
 *
 * Every run is a child process exec'ing this same binary's `train`
 * (/proc/self/exe) with the point's --set assignments and -o (or --resume)
 * its run directory, so a run is exactly what `eqspice train` does and a
 * crash of one run cannot take the sweep down.  The plan (experiment,
 * assignments, zip, seeds) is stored in DIR/sweep-plan.txt; a re-run with
 * the same command, or `sweep --resume DIR`, skips finished runs and
 * resumes partial ones from their checkpoint. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"

#define SWEEP_MAX_SET 32        /* swept paths */
#define SWEEP_MAX_VALUES 4096   /* values per path */
#define SWEEP_MAX_RUNS 100000   /* points x seeds */
#define SWEEP_PLAN "sweep-plan.txt"
#define SWEEP_PLAN_HEADER "# eqspice sweep plan (docs/cli.md \"sweep\"); do not edit\nversion 1\n"

static const cli_opt sweep_opts[] = {
    {"--set", "PATH=V1,V2,...", "a path of the experiment (docs/experiment.md \"Set by path\") "
                                "and its values (repeatable).  Without --zip the points are the "
                                "cartesian grid of all lists, in the order given, the last "
                                "varying fastest", 0},
    {"--label", "NAME=X1,X2,...", "a column NAME of sweep.csv, sweep.md and the plots holding "
                                  "X_i at point i, not set in the experiment: the number behind "
                                  "a swept model file, say (repeatable; as many values as points, "
                                  "with --zip or beside one --set)", 0},
    {"--sep", "C", "the character between values (default ','), for values that hold commas", 0},
    {"--zip", NULL, "point i takes the i-th value of every list (lists of equal length)", 0},
    {"--seeds", "N", "N runs per point, with training.seed = S + r (r = 0..N-1, S the seed of "
                     "the point's experiment; run r = 0 is the experiment as set).  Default 1", 0},
    {"-j", "N", "runs at once (default: one per online core).  With N > 1 each run gets "
                "solver.threads=1 (results do not depend on the thread count)", 0},
    {"-o, --output", "DIR", "the sweep directory (required unless --resume)", 0},
    {"--resume", "DIR", "continue the sweep in DIR with its stored plan", 0},
    {"-v", NULL, "more messages", 0},
    {NULL, NULL, NULL, 0},
};

static const cli_command sweep_cmd = {
    "sweep", "EXPERIMENT.xml --set PATH=V1,V2,... -o DIR",
    "Train an experiment at every point of a parameter sweep and summarise the\n"
    "runs.  Every point (and every seed) is checked, exactly as `eqspice train`\n"
    "checks its input, before anything is written: a bad path or value is refused\n"
    "with the assignment named, and DIR is not created.  Each run trains in its\n"
    "own run directory DIR/runs/pNNN-sR (point NNN from 000, seed repeat R) as\n"
    "`eqspice train` would, its messages in DIR/logs/pNNN-sR.log.  At the end\n"
    "DIR/sweep.csv holds one row per run (point, the swept values, seed, final\n"
    "and best test error, final test loss, epochs, wall time), DIR/sweep.md a\n"
    "table with one row per point (mean and standard deviation over seeds) and\n"
    "DIR/sweep-COLUMN.png the test error against each swept column.\n",
    {sweep_opts, NULL, NULL},
    "The plan (experiment, assignments, --zip, --seeds) is DIR/sweep-plan.txt.\n"
    "Running the same command again, or `eqspice sweep --resume DIR`, skips\n"
    "finished runs (those with conductances.csv), resumes the others from their\n"
    "checkpoint (`train --resume`) and writes the same sweep.csv (the wall_s\n"
    "column aside).  A DIR whose plan differs is refused.  A failed run is\n"
    "reported and the sweep goes on.\n"
    "\n"
    "Exit status: 0 success, 1 bad input, 2 a run failed or internal error.\n"};

typedef struct {
    char *path; /* or, for a label, its column name */
    int n, label;
    char **values;
} sweep_axis;

typedef struct {
    char *experiment; /* absolute */
    int zip, seeds, n_axes;
    sweep_axis axes[SWEEP_MAX_SET];
} sweep_plan;

typedef struct {
    int point, rep;
    uint64_t seed;
    char name[48];
    pid_t pid;
    int state; /* 0 to do, 1 running, 2 done, 3 failed */
} sweep_run;

static void plan_free(sweep_plan *p)
{
    free(p->experiment);
    for (int a = 0; a < p->n_axes; ++a) {
        for (int i = 0; i < p->axes[a].n; ++i) free(p->axes[a].values[i]);
        free(p->axes[a].values);
        free(p->axes[a].path);
    }
    memset(p, 0, sizeof *p);
}

static int plan_add_value(sweep_axis *ax, const char *s, size_t len)
{
    if (ax->n == SWEEP_MAX_VALUES) return -1;
    char **v = realloc(ax->values, (size_t)(ax->n + 1) * sizeof *v);
    if (!v) return -1;
    ax->values = v;
    if (!(v[ax->n] = strndup(s, len))) return -1;
    ax->n++;
    return 0;
}

/* "PATH=V1<sep>V2..." (a --label: "NAME=X1<sep>X2...") into a new axis;
 * 0 ok, else printed */
static int plan_parse_set(sweep_plan *p, const char *arg, char sep, int label)
{
    const char *opt = label ? "--label" : "--set";
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_usage_error("sweep", "%s needs %s=V1%cV2..., got '%s'", opt,
                               label ? "NAME" : "PATH", sep, arg);
    if (p->n_axes == SWEEP_MAX_SET)
        return cli_usage_error("sweep", "more than %d --set and --label", SWEEP_MAX_SET);
    if (strchr(arg, '\n')) return cli_usage_error("sweep", "%s '%s': a newline", opt, arg);
    sweep_axis *ax = &p->axes[p->n_axes++];
    memset(ax, 0, sizeof *ax);
    ax->label = label;
    if (!(ax->path = strndup(arg, (size_t)(eq - arg)))) return CLI_INTERNAL;
    for (int a = 0; a < p->n_axes - 1; ++a)
        if (!strcmp(p->axes[a].path, ax->path))
            return cli_usage_error("sweep", "%s %s: that name is given twice", opt, ax->path);
    if (label && (!strcmp(ax->path, "point") || !strcmp(ax->path, "seed") ||
                  !strcmp(ax->path, "run") || strpbrk(ax->path, ",\"")))
        return cli_usage_error("sweep", "--label %s: not a usable column name", ax->path);
    const char *s = eq + 1;
    for (;;) {
        const char *e = strchr(s, sep);
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (plan_add_value(ax, s, len))
            return cli_usage_error("sweep", "%s %s: too many values", opt, ax->path);
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

/* the first swept (not label) axis, -1 if none */
static int plan_first_set(const sweep_plan *p)
{
    for (int a = 0; a < p->n_axes; ++a)
        if (!p->axes[a].label) return a;
    return -1;
}

static size_t plan_points(const sweep_plan *p)
{
    if (p->zip && p->n_axes) return (size_t)p->axes[0].n;
    size_t n = 1;
    for (int a = 0; a < p->n_axes; ++a) {
        if (p->axes[a].label) continue;
        n *= (size_t)p->axes[a].n;
        if (n > SWEEP_MAX_RUNS) return SWEEP_MAX_RUNS + 1;
    }
    return n;
}

/* the value index of axis a at point k (grid: the last axis fastest; a
 * label follows the point, or without --zip the one swept axis) */
static int plan_index(const sweep_plan *p, size_t k, int a)
{
    if (p->zip) return (int)k;
    if (p->axes[a].label) {
        int f = plan_first_set(p);
        return f < 0 ? 0 : plan_index(p, k, f);
    }
    for (int b = p->n_axes - 1; b > a; --b)
        if (!p->axes[b].label) k /= (size_t)p->axes[b].n;
    return (int)(k % (size_t)p->axes[a].n);
}

/* The plan as text (the bytes of DIR/sweep-plan.txt); malloc'd. */
static char *plan_text(const sweep_plan *p)
{
    size_t cap = 256 + strlen(p->experiment);
    for (int a = 0; a < p->n_axes; ++a) {
        cap += 16 + strlen(p->axes[a].path);
        for (int i = 0; i < p->axes[a].n; ++i) cap += 16 + strlen(p->axes[a].values[i]);
    }
    char *t = malloc(cap);
    if (!t) return NULL;
    size_t n = (size_t)snprintf(t, cap, SWEEP_PLAN_HEADER "experiment %s\nzip %d\nseeds %d\n",
                                p->experiment, p->zip, p->seeds);
    for (int a = 0; a < p->n_axes; ++a) {
        n += (size_t)snprintf(t + n, cap - n, "%s %s\n", p->axes[a].label ? "label" : "set",
                              p->axes[a].path);
        for (int i = 0; i < p->axes[a].n; ++i)
            n += (size_t)snprintf(t + n, cap - n, "value %s\n", p->axes[a].values[i]);
    }
    return t;
}

/* Parse DIR/sweep-plan.txt text; 0 ok */
static int plan_parse_text(sweep_plan *p, char *t)
{
    memset(p, 0, sizeof *p);
    if (strncmp(t, SWEEP_PLAN_HEADER, strlen(SWEEP_PLAN_HEADER))) return -1;
    char *save = NULL;
    for (char *l = strtok_r(t + strlen(SWEEP_PLAN_HEADER), "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(l, "experiment ", 11)) {
            if (!(p->experiment = strdup(l + 11))) return -1;
        } else if (!strncmp(l, "zip ", 4)) {
            p->zip = atoi(l + 4);
        } else if (!strncmp(l, "seeds ", 6)) {
            p->seeds = atoi(l + 6);
        } else if (!strncmp(l, "set ", 4) || !strncmp(l, "label ", 6)) {
            if (p->n_axes == SWEEP_MAX_SET) return -1;
            sweep_axis *ax = &p->axes[p->n_axes++];
            memset(ax, 0, sizeof *ax);
            ax->label = l[0] == 'l';
            if (!(ax->path = strdup(l + (ax->label ? 6 : 4)))) return -1;
        } else if (!strncmp(l, "value ", 6)) {
            if (p->n_axes == 0 || plan_add_value(&p->axes[p->n_axes - 1], l + 6, strlen(l + 6)))
                return -1;
        } else {
            return -1;
        }
    }
    return p->experiment && p->seeds >= 1 ? 0 : -1;
}

/* The assignments of run (point k, seed repeat r) into paths/values
 * (n_out of them, seed text in seed_buf); base_seed is the point's seed. */
static int run_sets(const sweep_plan *p, size_t k, int r, uint64_t base_seed, int threads1,
                    const char **paths, const char **values, char *seed_buf, size_t seed_cap)
{
    int n = 0;
    for (int a = 0; a < p->n_axes; ++a) {
        if (p->axes[a].label) continue;
        paths[n] = p->axes[a].path;
        values[n++] = p->axes[a].values[plan_index(p, k, a)];
    }
    if (r > 0) {
        snprintf(seed_buf, seed_cap, "%llu", (unsigned long long)(base_seed + (uint64_t)r));
        paths[n] = "training.seed";
        values[n++] = seed_buf;
    }
    if (threads1) {
        paths[n] = "solver.threads";
        values[n++] = "1";
    }
    return n;
}

/* Check run (k, r) exactly as `train` checks its input; *seed_out gets
 * the point's seed (before the repeat's offset).  0 ok, else printed. */
static int check_run(const sweep_plan *p, size_t k, int r, const char *rundir,
                     uint64_t *seed_out, int verbosity)
{
    eqs_ctx *ctx = cli_ctx_create(verbosity);
    if (!ctx) return CLI_INTERNAL;
    eqs_experiment *exp = NULL;
    eqs_job *job = NULL;
    const char *paths[SWEEP_MAX_SET + 2], *values[SWEEP_MAX_SET + 2];
    char seed_buf[32];
    eqs_status st = eqs_experiment_read(ctx, p->experiment, &exp);
    int n = run_sets(p, k, 0, 0, 0, paths, values, seed_buf, sizeof seed_buf);
    if (st == EQS_OK && n > 0) st = eqs_experiment_set_many(exp, n, paths, values);
    if (st == EQS_OK) {
        *seed_out = exp->seed;
        if (r > 0) {
            n = run_sets(p, k, r, exp->seed, 0, paths, values, seed_buf, sizeof seed_buf);
            st = eqs_experiment_set_many(exp, n, paths, values);
        }
    }
    eqs_job_options jo;
    eqs_job_options_defaults(&jo);
    jo.dir = rundir;
    if (st == EQS_OK) st = eqs_job_create(ctx, exp, &jo, &job);
    int rc = st == EQS_OK ? CLI_OK : cli_fail(ctx, st);
    eqs_job_free(&job);
    eqs_experiment_free(&exp);
    eqs_ctx_free(&ctx);
    return rc;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* a whole small text file, malloc'd; NULL if unreadable */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, m;
    char *t = malloc(cap + 1);
    while (t && (m = fread(t + n, 1, cap - n, f)) > 0) {
        n += m;
        if (n == cap) {
            char *u = realloc(t, 2 * cap + 1);
            if (!u) {
                free(t);
                t = NULL;
                break;
            }
            t = u;
            cap *= 2;
        }
    }
    fclose(f);
    if (t) t[n] = 0;
    return t;
}

/* Start run u as a child: eqspice train EXP --set ... (-o|--resume) RUNDIR. */
/* Remove an MPI launcher's variables (OMPI_*, PMIX_*, PMI_*) from the
 * environment: a run the sweep starts must not take itself for a rank. */
extern char **environ;
static void drop_launcher_env(void)
{
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; e && *e; ++e) {
            if (strncmp(*e, "OMPI_", 5) && strncmp(*e, "PMIX_", 5) && strncmp(*e, "PMI_", 4))
                continue;
            char name[256];
            size_t n = strcspn(*e, "=");
            if (n >= sizeof name) continue;
            memcpy(name, *e, n);
            name[n] = '\0';
            unsetenv(name); /* environ changed: scan again */
            again = 1;
            break;
        }
    }
}

static pid_t start_run(const sweep_plan *p, const sweep_run *u, const char *dir, int threads1)
{
    char rundir[PATH_MAX], log[PATH_MAX], seed_buf[32];
    snprintf(rundir, sizeof rundir, "%s/runs/%s", dir, u->name);
    snprintf(log, sizeof log, "%s/logs/%s.log", dir, u->name);
    const char *paths[SWEEP_MAX_SET + 2], *values[SWEEP_MAX_SET + 2];
    int n = run_sets(p, (size_t)u->point, u->rep, u->seed, threads1, paths, values, seed_buf,
                     sizeof seed_buf);
    int resume = exists(rundir);
    /* argv: eqspice train EXP --progress 60 (--set X)*n (-o|--resume) RUNDIR */
    char **argv = calloc((size_t)(2 * n + 8), sizeof *argv);
    char **sets = calloc((size_t)n + 1, sizeof *sets);
    if (!argv || !sets) {
        free(argv);
        free(sets);
        return -1;
    }
    int c = 0;
    argv[c++] = "eqspice";
    argv[c++] = "train";
    argv[c++] = p->experiment;
    argv[c++] = "--progress";
    argv[c++] = "60";
    for (int i = 0; i < n; ++i) {
        size_t len = strlen(paths[i]) + strlen(values[i]) + 2;
        if (!(sets[i] = malloc(len))) break;
        snprintf(sets[i], len, "%s=%s", paths[i], values[i]);
        argv[c++] = "--set";
        argv[c++] = sets[i];
    }
    argv[c++] = resume ? "--resume" : "-o";
    argv[c++] = rundir;
    argv[c] = NULL;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        drop_launcher_env(); /* the run is one process, whatever the sweep's ranks */
        /* the run dies with the sweep (a SIGKILL'd sweep leaves no run behind) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    for (int i = 0; i < n; ++i) free(sets[i]);
    free(sets);
    free(argv);
    return pid;
}

/* One run's summary from its metrics.csv. */
typedef struct {
    double final_err, best_err, final_loss, wall_s;
    int epochs;
} run_summary;

static int read_metrics(const char *path, run_summary *s)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    s->final_err = s->best_err = s->final_loss = NAN;
    s->wall_s = 0;
    s->epochs = 0;
    int rows = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        int ep;
        double trl, tre, tel, tee, sec;
        if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf", &ep, &trl, &tre, &tel, &tee, &sec) != 6)
            continue;
        s->epochs = ep;
        s->final_err = tee;
        s->final_loss = tel;
        if (rows == 0 || tee < s->best_err) s->best_err = tee;
        s->wall_s += sec;
        rows++;
    }
    fclose(f);
    return rows > 0 ? 0 : -1;
}

/* a CSV field, quoted when it holds a comma, quote or newline */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; ++s) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void md_field(FILE *f, const char *s)
{
    for (; *s; ++s) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

static void mean_std(const double *v, int n, double *mean, double *sd)
{
    double m = 0;
    for (int i = 0; i < n; ++i) m += v[i];
    m = n ? m / n : NAN;
    double q = 0;
    for (int i = 0; i < n; ++i) q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* shell-quote for the command line in sweep.md */
static void sh_word(FILE *f, const char *s)
{
    if (*s && !strpbrk(s, " \t'\"\\$`|&;<>()*?[]#~!{}")) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; ++s) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

static int write_outputs(const sweep_plan *p, const sweep_run *runs, size_t n_runs,
                         size_t n_points, const char *dir, char sep)
{
    run_summary *sum = calloc(n_runs, sizeof *sum);
    int *ok = calloc(n_runs, sizeof *ok);
    double *buf = malloc((size_t)p->seeds * 5 * sizeof *buf);
    if (!sum || !ok || !buf) {
        free(sum);
        free(ok);
        free(buf);
        return CLI_INTERNAL;
    }
    char path[PATH_MAX];
    for (size_t i = 0; i < n_runs; ++i) {
        snprintf(path, sizeof path, "%s/runs/%s/metrics.csv", dir, runs[i].name);
        ok[i] = runs[i].state == 2 && read_metrics(path, &sum[i]) == 0;
    }
    int rc = CLI_OK;
    cli_out o;
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    if (cli_out_open(&o, path)) {
        rc = CLI_USER;
        goto out;
    }
    fputs("point", o.f);
    for (int a = 0; a < p->n_axes; ++a) {
        fputc(',', o.f);
        csv_field(o.f, p->axes[a].path);
    }
    fputs(",seed,run,final_test_error,best_test_error,final_test_loss_V2,epochs,wall_s\n", o.f);
    for (size_t i = 0; i < n_runs; ++i) {
        if (!ok[i]) continue;
        fprintf(o.f, "%d", runs[i].point);
        for (int a = 0; a < p->n_axes; ++a) {
            fputc(',', o.f);
            csv_field(o.f, p->axes[a].values[plan_index(p, (size_t)runs[i].point, a)]);
        }
        fprintf(o.f, ",%llu,%s,%.17g,%.17g,%.17g,%d,%.17g\n",
                (unsigned long long)(runs[i].seed + (uint64_t)runs[i].rep), runs[i].name,
                sum[i].final_err, sum[i].best_err, sum[i].final_loss, sum[i].epochs,
                sum[i].wall_s);
    }
    if (cli_out_commit(&o)) {
        rc = CLI_USER;
        goto out;
    }

    snprintf(path, sizeof path, "%s/sweep.md", dir);
    if (cli_out_open(&o, path)) {
        rc = CLI_USER;
        goto out;
    }
    fputs("# Sweep\n\nCommand (the plan of this directory):\n\n```\neqspice sweep ", o.f);
    sh_word(o.f, p->experiment);
    for (int a = 0; a < p->n_axes; ++a) {
        fputs(p->axes[a].label ? " --label " : " --set ", o.f);
        size_t len = strlen(p->axes[a].path) + 2;
        for (int i = 0; i < p->axes[a].n; ++i) len += strlen(p->axes[a].values[i]) + 1;
        char *w = malloc(len);
        if (!w) continue;
        size_t m = (size_t)snprintf(w, len, "%s=", p->axes[a].path);
        for (int i = 0; i < p->axes[a].n; ++i)
            m += (size_t)snprintf(w + m, len - m, "%s%s", i ? (char[]){sep, 0} : "",
                                  p->axes[a].values[i]);
        sh_word(o.f, w);
        free(w);
    }
    if (sep != ',') fprintf(o.f, " --sep '%c'", sep);
    if (p->zip) fputs(" --zip", o.f);
    if (p->seeds > 1) fprintf(o.f, " --seeds %d", p->seeds);
    fputs(" -o ", o.f);
    sh_word(o.f, dir);
    fputs("\n```\n\nMean and sample standard deviation over the finished seeds of each point "
          "(errors in %, loss in V^2, time in s).\n\n| point |",
          o.f);
    for (int a = 0; a < p->n_axes; ++a) {
        fputc(' ', o.f);
        md_field(o.f, p->axes[a].path);
        fputs(" |", o.f);
    }
    fputs(" seeds | final test error | best test error | final test loss | epochs | time |\n|---|",
          o.f);
    for (int a = 0; a < p->n_axes; ++a) fputs("---|", o.f);
    fputs("---|---|---|---|---|---|\n", o.f);
    for (size_t k = 0; k < n_points; ++k) {
        int n = 0;
        for (size_t i = 0; i < n_runs; ++i) {
            if (!ok[i] || (size_t)runs[i].point != k) continue;
            buf[n] = 100 * sum[i].final_err;
            buf[p->seeds + n] = 100 * sum[i].best_err;
            buf[2 * p->seeds + n] = sum[i].final_loss;
            buf[3 * p->seeds + n] = sum[i].epochs;
            buf[4 * p->seeds + n] = sum[i].wall_s;
            n++;
        }
        fprintf(o.f, "| %zu |", k);
        for (int a = 0; a < p->n_axes; ++a) {
            fputc(' ', o.f);
            md_field(o.f, p->axes[a].values[plan_index(p, k, a)]);
            fputs(" |", o.f);
        }
        fprintf(o.f, " %d/%d |", n, p->seeds);
        for (int c = 0; c < 5; ++c) {
            double m, sd;
            mean_std(buf + c * p->seeds, n, &m, &sd);
            if (n == 0) fputs(" - |", o.f);
            else if (c == 2) fprintf(o.f, " %.4g ± %.2g |", m, sd);
            else if (c == 3) fprintf(o.f, " %.3g |", m);
            else fprintf(o.f, " %.2f ± %.2f |", m, sd);
        }
        fputc('\n', o.f);
    }
    if (cli_out_commit(&o)) rc = CLI_USER;
out:
    free(sum);
    free(ok);
    free(buf);
    return rc;
}

/* mkdir -p of one level; 0 ok or exists */
static int mkdir1(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "eqspice sweep: error: cannot create '%s': %s\n", path, strerror(errno));
    return -1;
}

/* write DIR/sweep-plan.txt atomically, or compare with the one there */
static int plan_store(const char *dir, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" SWEEP_PLAN, dir);
    char *old = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t cap = strlen(text) + 2, n;
        old = calloc(1, cap + 1);
        n = old ? fread(old, 1, cap, f) : 0;
        fclose(f);
        int same = old && n == strlen(text) && !memcmp(old, text, n);
        free(old);
        if (!same) {
            fprintf(stderr,
                    "eqspice sweep: error: %s holds a sweep with another plan (%s): use "
                    "another directory, or `eqspice sweep --resume %s` to continue that one\n",
                    dir, path, dir);
            return CLI_USER;
        }
        return CLI_OK;
    }
    cli_out o;
    if (cli_out_open(&o, path)) return CLI_USER;
    fputs(text, o.f);
    return cli_out_commit(&o) ? CLI_USER : CLI_OK;
}

int cli_cmd_sweep(int argc, char **argv)
{
    const char *xml = NULL, *outdir = NULL, *resume = NULL;
    int verbosity = 0, jobs = 0;
    long lv;
    char sep = ',';
    sweep_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.seeds = 1;
    const char *set_args[SWEEP_MAX_SET];
    int set_label[SWEEP_MAX_SET];
    int n_set = 0, rc = CLI_OK;
    if (cli_check_options(&sweep_cmd, argc, argv, 1)) return CLI_USER;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_help(stdout, &sweep_cmd);
            return CLI_OK;
        } else if (!strcmp(a, "--set") || !strcmp(a, "--label")) {
            if (++i >= argc)
                return cli_usage_error("sweep", "%s needs %s=V1,V2,...", a,
                                       a[2] == 's' ? "PATH" : "NAME");
            if (n_set == SWEEP_MAX_SET)
                return cli_usage_error("sweep", "more than %d --set and --label", SWEEP_MAX_SET);
            set_label[n_set] = a[2] == 'l';
            set_args[n_set++] = argv[i];
        } else if (!strcmp(a, "--sep")) {
            if (++i >= argc || strlen(argv[i]) != 1 || argv[i][0] == '=')
                return cli_usage_error("sweep", "--sep needs one character (not '=')");
            sep = argv[i][0];
        } else if (!strcmp(a, "--zip")) {
            plan.zip = 1;
        } else if (!strcmp(a, "--seeds")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 100000, &lv))
                return cli_usage_error("sweep", "--seeds needs a count >= 1");
            plan.seeds = (int)lv;
        } else if (!strcmp(a, "-j")) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 4096, &lv))
                return cli_usage_error("sweep", "-j needs a count >= 1");
            jobs = (int)lv;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("sweep", "%s needs a directory", a);
            outdir = argv[i];
        } else if (!strcmp(a, "--resume")) {
            if (++i >= argc) return cli_usage_error("sweep", "--resume needs a directory");
            resume = argv[i];
        } else if (!strcmp(a, "-v")) {
            verbosity++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("sweep", "unknown option '%s'", a);
        } else if (!xml) {
            xml = a;
        } else {
            return cli_usage_error("sweep", "more than one experiment given ('%s')", a);
        }
    }
    if (resume && (outdir || xml || n_set || plan.zip || plan.seeds != 1))
        return cli_usage_error("sweep", "--resume DIR takes the plan stored in DIR: give only "
                                        "-j and -v with it");
    const char *dir = resume ? resume : outdir;
    if (!resume) {
        if (!xml) return cli_usage_error("sweep", "no experiment file given");
        if (!outdir) return cli_usage_error("sweep", "-o DIR is required");
        char abs[PATH_MAX];
        if (!realpath(xml, abs)) {
            fprintf(stderr, "eqspice sweep: error: %s: %s\n", xml, strerror(errno));
            return CLI_USER;
        }
        if (!(plan.experiment = strdup(abs))) return CLI_INTERNAL;
        for (int s = 0; s < n_set; ++s)
            if ((rc = plan_parse_set(&plan, set_args[s], sep, set_label[s]))) goto out;
    } else {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/" SWEEP_PLAN, resume);
        char *t = read_text(path);
        if (!t || plan_parse_text(&plan, t)) {
            fprintf(stderr, "eqspice sweep: error: cannot resume: %s is %s\n", path,
                    t ? "not a sweep plan" : "unreadable");
            free(t);
            rc = CLI_USER;
            goto out;
        }
        free(t);
    }
    if (plan.zip)
        for (int a = 1; a < plan.n_axes; ++a)
            if (plan.axes[a].n != plan.axes[0].n) {
                rc = cli_usage_error("sweep", "--zip: --set %s has %d values but --set %s has %d",
                                     plan.axes[a].path, plan.axes[a].n, plan.axes[0].path,
                                     plan.axes[0].n);
                goto out;
            }
    if (!plan.zip) {
        int f = plan_first_set(&plan), n_sets = 0;
        for (int a = 0; a < plan.n_axes; ++a) n_sets += !plan.axes[a].label;
        for (int a = 0; a < plan.n_axes; ++a) {
            if (!plan.axes[a].label) continue;
            int want = f < 0 ? 1 : plan.axes[f].n;
            if (n_sets > 1 || plan.axes[a].n != want) {
                rc = cli_usage_error("sweep", n_sets > 1 ? "--label %s: with several --set, use --zip"
                                                         : "--label %s: %d values for %d points",
                                     plan.axes[a].path, plan.axes[a].n, want);
                goto out;
            }
        }
    }
    if (plan.seeds > 1)
        for (int a = 0; a < plan.n_axes; ++a)
            if (!strcmp(plan.axes[a].path, "training.seed")) {
                rc = cli_usage_error("sweep", "--seeds with a swept training.seed: choose one");
                goto out;
            }
    size_t n_points = plan_points(&plan);
    if (n_points * (size_t)plan.seeds > SWEEP_MAX_RUNS) {
        rc = cli_usage_error("sweep", "more than %d runs", SWEEP_MAX_RUNS);
        goto out;
    }
    /* under MPI (docs/cluster.md): rank r runs the runs i with i % ranks ==
     * r; rank 0 alone writes the sweep's own files */
    const int rank = eqs_par_rank(), ranks = eqs_par_size();
    if (jobs == 0) { /* the node's cores shared by its ranks */
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = nc > 0 ? (int)nc : 1;
        jobs = jobs / eqs_par_local_size() > 0 ? jobs / eqs_par_local_size() : 1;
    }
    size_t n_runs = n_points * (size_t)plan.seeds;
    sweep_run *runs = calloc(n_runs, sizeof *runs);
    char *text = plan_text(&plan);
    if (!runs || !text) {
        free(runs);
        free(text);
        rc = CLI_INTERNAL;
        goto out;
    }

    /* 1. every run checked before anything is written */
    for (size_t k = 0, i = 0; k < n_points; ++k)
        for (int r = 0; r < plan.seeds; ++r, ++i) {
            sweep_run *u = &runs[i];
            u->point = (int)k;
            u->rep = r;
            snprintf(u->name, sizeof u->name, "p%03zu-s%d", k, r);
            char rundir[PATH_MAX];
            snprintf(rundir, sizeof rundir, "%s/runs/%s", dir, u->name);
            if ((rc = check_run(&plan, k, r, rundir, &u->seed, verbosity))) {
                fprintf(stderr, "eqspice sweep: error: point %zu (run %s) refused; nothing "
                                "was run\n", k, u->name);
                goto out_runs;
            }
        }

    /* 2. the sweep directory and its plan (rank 0; the others wait for it) */
    char sub[PATH_MAX];
    if (rank == 0) {
        if (mkdir1(dir)) rc = CLI_USER;
        if (rc == CLI_OK) rc = plan_store(dir, text);
        snprintf(sub, sizeof sub, "%s/runs", dir);
        if (rc == CLI_OK && mkdir1(sub)) rc = CLI_USER;
        snprintf(sub, sizeof sub, "%s/logs", dir);
        if (rc == CLI_OK && mkdir1(sub)) rc = CLI_USER;
    }
    if ((rc = eqs_par_agree(rc)) != CLI_OK) goto out_runs;

    /* 3. the runs, up to `jobs` at once */
    size_t todo = 0;
    for (size_t i = 0; i < n_runs; ++i) {
        snprintf(sub, sizeof sub, "%s/runs/%s/conductances.csv", dir, runs[i].name);
        if (exists(sub)) runs[i].state = 2;
        else todo++;
        if (runs[i].state == 0 && (int)(i % (size_t)ranks) != rank) runs[i].state = 4;
    }
    if (ranks > 1)
        fprintf(stderr, "eqspice sweep: rank %d of %d: %zu points x %d seeds = %zu runs, %zu to "
                        "do over the ranks, %d at once on this rank\n",
                rank, ranks, n_points, plan.seeds, n_runs, todo, jobs);
    else
        fprintf(stderr, "eqspice sweep: %zu points x %d seeds = %zu runs, %zu to do, %d at once\n",
                n_points, plan.seeds, n_runs, todo, jobs);
    int running = 0, failed = 0;
    size_t next = 0, finished = n_runs - todo;
    for (;;) {
        while (running < jobs && next < n_runs) {
            sweep_run *u = &runs[next++];
            if (u->state != 0) continue;
            u->pid = start_run(&plan, u, dir, jobs > 1);
            if (u->pid < 0) {
                fprintf(stderr, "eqspice sweep: error: cannot start run %s: %s\n", u->name,
                        strerror(errno));
                u->state = 3;
                failed++;
                continue;
            }
            u->state = 1;
            running++;
        }
        if (running == 0) break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (size_t i = 0; i < n_runs; ++i) {
            sweep_run *u = &runs[i];
            if (u->state != 1 || u->pid != pid) continue;
            running--;
            finished++;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                u->state = 2;
                fprintf(stderr, "eqspice sweep: [%zu/%zu] %s done\n", finished, n_runs,
                        u->name);
            } else {
                u->state = 3;
                failed++;
                if (WIFEXITED(status))
                    fprintf(stderr, "eqspice sweep: [%zu/%zu] %s failed (exit %d): see %s/logs/%s.log\n",
                            finished, n_runs, u->name, WEXITSTATUS(status), dir, u->name);
                else
                    fprintf(stderr, "eqspice sweep: [%zu/%zu] %s failed (signal %d): see %s/logs/%s.log\n",
                            finished, n_runs, u->name, WTERMSIG(status), dir, u->name);
            }
        }
    }

    /* 4. the summary: every rank's run states (a run is another rank's:
     * 4 here; the largest state over the ranks is its own), then rank 0 */
    if (ranks > 1) {
        double *stv = malloc(n_runs * sizeof *stv);
        if (!stv) { /* the other ranks are in the collective below */
            fprintf(stderr, "eqspice sweep: rank %d: out of memory\n", rank);
            eqs_par_abort(CLI_INTERNAL);
        }
        for (size_t i = 0; i < n_runs; ++i) stv[i] = runs[i].state == 4 ? 0 : runs[i].state;
        eqs_par_max(stv, (int)n_runs);
        failed = 0;
        for (size_t i = 0; i < n_runs; ++i) {
            runs[i].state = (int)stv[i];
            failed += runs[i].state == 3;
        }
        free(stv);
        if (rank != 0) goto out_runs;
    }
    rc = write_outputs(&plan, runs, n_runs, n_points, dir, sep);
    if (rc == CLI_OK) {
        eqs_ctx *ctx = cli_ctx_create(verbosity);
        eqs_status pst = ctx ? eqs_sweep_plots(ctx, dir) : EQS_ERR_NOMEM;
        if (pst != EQS_OK) rc = ctx ? cli_fail(ctx, pst) : CLI_INTERNAL;
        eqs_ctx_free(&ctx);
    }
    if (rc == CLI_OK) printf("sweep: %zu runs, %d failed: %s/sweep.csv %s/sweep.md %s/sweep-*.png\n",
                             n_runs, failed, dir, dir, dir);
    if (rc == CLI_OK && failed) rc = CLI_INTERNAL;
out_runs:
    free(runs);
    free(text);
out:
    plan_free(&plan);
    return rc;
}
