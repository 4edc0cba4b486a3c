/*
 * run.c: the run directory of a training run (docs/training.md).
 *
 *   <dir>/metrics.csv        one row per epoch, fsync'd row by row
 *   <dir>/experiment.xml     the experiment as run (seed, eqspice version)
 *   <dir>/checkpoint.bin     latest checkpoint (checkpoint.c), atomic
 *   <dir>/trained.cir        trained network for stock ngspice (netlist.c)
 *   <dir>/conductances.csv   element,conductance_S
 *   <dir>/learning_curve.png train/test error against epoch (plot.c)
 *
 * Every file but metrics.csv is replaced atomically; metrics.csv is
 * appended to, each row flushed and fsync'd, and cut back on resume to the
 * epochs the checkpoint has completed (rows written after the checkpoint
 * are repeated by the resumed run).
 */
#define _DEFAULT_SOURCE /* realpath */
#include "export.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METRICS_HEADER "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings"
/* metrics.csv of runs made before the `warnings` column: resumed in that format */
#define METRICS_HEADER_V0 "epoch,train_loss,train_error,test_loss,test_error,seconds"

static const char *const run_names[EQS_RUN_NFILES] = {
    [EQS_RUN_METRICS] = "metrics.csv",
    [EQS_RUN_EXPERIMENT] = "experiment.xml",
    [EQS_RUN_CHECKPOINT] = "checkpoint.bin",
    [EQS_RUN_NETLIST] = "trained.cir",
    [EQS_RUN_CONDUCTANCES] = "conductances.csv",
    [EQS_RUN_PLOT] = "learning_curve.png",
};

struct eqs_run {
    eqs_ctx *ctx;
    char *dir; /* absolute */
    char *paths[EQS_RUN_NFILES];
    FILE *metrics; /* open for appending */
    int no_warnings; /* resumed metrics.csv without the `warnings` column */
};

/* mkdir -p: create `path` and missing parents (mode 0777 & ~umask). */
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(buf, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* 1 when the directory has entries besides . and .., 0 if empty, -1 error. */
static int dir_nonempty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int any = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            any = 1;
            break;
        }
    closedir(d);
    return any;
}

/* Remove "<name>.tmp.<pid>" files that a crashed run left behind. */
static void remove_stale_temps(eqs_run *r)
{
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (int f = 0; f < EQS_RUN_NFILES; ++f) {
            size_t n = strlen(run_names[f]);
            if (!strncmp(e->d_name, run_names[f], n) && !strncmp(e->d_name + n, ".tmp.", 5)) {
                char p[PATH_MAX];
                snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
                if (remove(p) == 0)
                    eqs_log(r->ctx, EQS_LOG_INFO, "removed '%s' left by an interrupted run", p);
            }
        }
    }
    closedir(d);
}

static eqs_status open_metrics_append(eqs_run *r)
{
    const char *p = r->paths[EQS_RUN_METRICS];
    r->metrics = fopen(p, "ab");
    if (!r->metrics)
        return EQS_ERROR(r->ctx, EQS_ERR_IO, "cannot open '%s' for appending: %s", p,
                         strerror(errno));
    return EQS_OK;
}

void eqs_run_close(eqs_run **run)
{
    if (!run || !*run) return;
    eqs_run *r = *run;
    if (r->metrics) fclose(r->metrics);
    for (int f = 0; f < EQS_RUN_NFILES; ++f) eqs_free(r->ctx, r->paths[f]);
    eqs_free(r->ctx, r->dir);
    eqs_free(r->ctx, r);
    *run = NULL;
}

eqs_status eqs_run_open(eqs_ctx *ctx, const char *dir, int resume, eqs_run **out)
{
    *out = NULL;
    if (!dir || !*dir) return EQS_ERROR(ctx, EQS_ERR_INPUT, "no run directory given");
    eqs_status st = EQS_OK;
    struct stat sb;
    int exists = stat(dir, &sb) == 0;
    if (exists && !S_ISDIR(sb.st_mode))
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "run directory '%s' exists and is not a directory",
                         dir);
    if (resume) {
        if (!exists)
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "cannot resume: run directory '%s' does not exist",
                             dir);
    } else if (exists) {
        int ne = dir_nonempty(dir);
        if (ne < 0)
            return EQS_ERROR(ctx, EQS_ERR_IO, "cannot read run directory '%s': %s", dir,
                             strerror(errno));
        if (ne)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "run directory '%s' exists and is not empty (resume it with "
                             "--resume, or choose another output directory)",
                             dir);
    } else if (mkdir_p(dir) != 0) {
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot create run directory '%s': %s", dir,
                         strerror(errno));
    }

    eqs_run *r = eqs_calloc(ctx, 1, sizeof *r);
    if (!r) return EQS_ERR_NOMEM;
    r->ctx = ctx;
    char *abs = realpath(dir, NULL);
    if (!abs) {
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot resolve run directory '%s': %s", dir,
                       strerror(errno));
        goto fail;
    }
    r->dir = eqs_strdup(ctx, abs);
    free(abs);
    if (!r->dir) goto nomem;
    for (int f = 0; f < EQS_RUN_NFILES; ++f) {
        size_t n = strlen(r->dir) + strlen(run_names[f]) + 2;
        r->paths[f] = eqs_malloc(ctx, n);
        if (!r->paths[f]) goto nomem;
        snprintf(r->paths[f], n, "%s/%s", r->dir, run_names[f]);
    }

    if (resume) {
        remove_stale_temps(r);
        const int need[] = {EQS_RUN_CHECKPOINT, EQS_RUN_METRICS};
        for (size_t i = 0; i < sizeof need / sizeof *need; ++i)
            if (access(r->paths[need[i]], R_OK) != 0) {
                st = EQS_ERROR(ctx, EQS_ERR_INPUT, "cannot resume run '%s': no %s (%s)", r->dir,
                               run_names[need[i]], strerror(errno));
                goto fail;
            }
        /* the metrics file must be ours */
        FILE *f = eqs_file_open(ctx, r->paths[EQS_RUN_METRICS], "metrics file", EQS_NOLOC,
                                EQS_ERR_INPUT, NULL); /* a regular file only */
        if (!f) {
            st = EQS_ERR_INPUT;
            goto fail;
        }
        char line[128] = "";
        int ok = f && fgets(line, sizeof line, f);
        r->no_warnings = ok && !strncmp(line, METRICS_HEADER_V0 "\n", sizeof METRICS_HEADER_V0);
        if (!ok || (!r->no_warnings &&
                    strncmp(line, METRICS_HEADER "\n", sizeof METRICS_HEADER) != 0)) {
            if (f) fclose(f);
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "cannot resume: '%s' is not an eqspice metrics file",
                           r->paths[EQS_RUN_METRICS]);
            goto fail;
        }
        fclose(f);
    } else {
        eqs_atomic a;
        if ((st = eqs_atomic_open(ctx, r->paths[EQS_RUN_METRICS], &a)) != EQS_OK) goto fail;
        fprintf(a.f, "%s\n", METRICS_HEADER);
        if ((st = eqs_atomic_commit(&a)) != EQS_OK) goto fail;
    }
    if ((st = open_metrics_append(r)) != EQS_OK) goto fail;
    *out = r;
    return EQS_OK;

nomem:
    st = EQS_ERR_NOMEM;
fail:
    eqs_run_close(&r);
    return st;
}

const char *eqs_run_path(const eqs_run *run, eqs_run_file f)
{
    return (f >= 0 && f < EQS_RUN_NFILES) ? run->paths[f] : NULL;
}

eqs_status eqs_run_write_experiment(eqs_run *run, const eqs_experiment *exp)
{
    return eqs_experiment_write(run->ctx, exp, run->paths[EQS_RUN_EXPERIMENT]);
}

eqs_status eqs_run_metrics_append(eqs_run *run, const eqs_epoch_metrics *m)
{
    FILE *f = run->metrics;
    const char *p = run->paths[EQS_RUN_METRICS];
    if (!f) return EQS_ERROR(run->ctx, EQS_ERR_INTERNAL, "metrics file '%s' is not open", p);
    fprintf(f, "%d,%.17g,%.17g,%.17g,%.17g,%.17g", m->epoch, m->train_loss, m->train_error,
            m->test_loss, m->test_error, m->seconds);
    char w[128];
    if (run->no_warnings) fputc('\n', f);
    else fprintf(f, ",%s\n", eqs_health_format(m->warnings, w, sizeof w));
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f))
        return EQS_ERROR(run->ctx, EQS_ERR_IO, "cannot write '%s': %s", p, strerror(errno));
    return EQS_OK;
}

eqs_status eqs_run_metrics_truncate(eqs_run *run, int epochs_done)
{
    eqs_ctx *ctx = run->ctx;
    const char *p = run->paths[EQS_RUN_METRICS];
    if (run->metrics) fclose(run->metrics);
    run->metrics = NULL;
    FILE *in = eqs_file_open(ctx, p, "metrics file", EQS_NOLOC, EQS_ERR_IO, NULL);
    if (!in) return EQS_ERR_IO;
    eqs_atomic a;
    eqs_status st = eqs_atomic_open(ctx, p, &a);
    if (st != EQS_OK) {
        fclose(in);
        return st;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, dropped = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        ++lineno;
        if (lineno == 1) {
            fputs(line, a.f);
            continue;
        }
        char *end = NULL;
        long e = strtol(line, &end, 10);
        if (end == line || *end != ',') {
            st = EQS_ERROR(ctx, EQS_ERR_INPUT, "%s:%d: error: malformed metrics row", p, lineno);
            break;
        }
        if (e <= epochs_done && line[n - 1] == '\n') fputs(line, a.f);
        else dropped++; /* a later epoch, or a row cut short by a crash */
    }
    free(line);
    fclose(in);
    if (st == EQS_OK) st = eqs_atomic_commit(&a);
    else eqs_atomic_abort(&a);
    if (st == EQS_OK && dropped)
        eqs_log(ctx, EQS_LOG_INFO, "'%s': dropped %d row(s) after epoch %d", p, dropped,
                epochs_done);
    eqs_status st2 = open_metrics_append(run);
    return st != EQS_OK ? st : st2;
}
