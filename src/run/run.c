/*
 * run.c: the run directory of a training run (docs/training.md).
 *
 *   <dir>/metrics.csv        one row per epoch, fsync'd row by row
 *   <dir>/experiment.xml     the experiment as run (seed, eqspice version)
 *   <dir>/checkpoint.bin     latest checkpoint (checkpoint.c), atomic
 *   <dir>/trained.cir        trained network for stock ngspice (netlist.c)
 *   <dir>/conductances.csv   element,conductance_S
 *   <dir>/learning_curve.png train/test error against epoch (plot.c)
 *   <dir>/eqspice.lock       while a process has the run open: its PID
 *
 * Every file but metrics.csv is replaced atomically; metrics.csv is
 * appended to, each row written and fsync'd, and cut back on resume to the
 * epochs the checkpoint has completed (rows written after the checkpoint
 * are repeated by the resumed run).
 *
 * The lock is flock(LOCK_EX | LOCK_NB) on eqspice.lock: the kernel drops it
 * when the holder exits or is killed (SIGKILL included), so a stale file
 * never blocks anyone.  eqs_run_close removes the file while still holding
 * the lock; a process that opened the old file in between notices (its
 * descriptor no longer names the path) and opens the new one.
 */
#define _DEFAULT_SOURCE /* realpath, flock */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define METRICS_HEADER "epoch,train_loss,train_error,test_loss,test_error,seconds,warnings"
/* metrics.csv of runs made before the `warnings` column: resumed in that format */
#define METRICS_HEADER_V0 "epoch,train_loss,train_error,test_loss,test_error,seconds"
#define LOCK_NAME "eqspice.lock"
#define LOCK_TRIES 100          /* lock file replaced under us: tries before giving up */
#define LOCK_PID_TRIES 50       /* holder's PID not written yet: reads before "unknown" */
#define LOCK_PID_WAIT_NS 2000000L /* 2 ms between those reads */

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
    char *lock_path;
    int lock_fd;    /* flock'ed while the run is open; -1 none */
    int metrics_fd; /* metrics.csv open for appending; -1 none */
    int no_warnings; /* resumed metrics.csv without the `warnings` column */
    eqs_run_mode mode;
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

/* A temporary file of an atomic write of one of the run's files
 * (eqs_atomic_is_temp: every writer uses core/atomic.c). */
static int is_temp_name(const char *name)
{
    for (int f = 0; f < EQS_RUN_NFILES; ++f)
        if (eqs_atomic_is_temp(name, run_names[f])) return 1;
    return 0;
}

/* What the directory holds, lock file and temporary files aside. */
typedef struct {
    int has[EQS_RUN_NFILES];
    int n_other;        /* entries that are not a run's files */
    char other[NAME_MAX + 1]; /* the first of them */
} dir_scan;

static int scan_dir(const char *dir, dir_scan *sc)
{
    memset(sc, 0, sizeof *sc);
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, LOCK_NAME) || is_temp_name(nm))
            continue;
        int f = 0;
        while (f < EQS_RUN_NFILES && strcmp(nm, run_names[f])) f++;
        if (f < EQS_RUN_NFILES) {
            sc->has[f] = 1;
        } else if (sc->n_other++ == 0) {
            snprintf(sc->other, sizeof sc->other, "%s", nm);
        }
    }
    closedir(d);
    return 0;
}

/* Remove the temporary files that a crashed run left behind (we hold the
 * lock, so nobody is writing them). */
static void remove_stale_temps(eqs_run *r)
{
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temp_name(e->d_name)) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
        if (remove(p) == 0)
            eqs_log(r->ctx, EQS_LOG_INFO, "removed '%s' left by an interrupted run", p);
    }
    closedir(d);
}

/* 1 when `path` is a regular file that starts with our metrics header
 * line, 2 with the header of runs made before the `warnings` column, 0
 * otherwise (core/file.c: never blocks on a FIFO). */
static int metrics_is_ours(eqs_run *r, const char *path)
{
    FILE *f = eqs_file_open(r->ctx, path, "metrics file", EQS_NOLOC, EQS_ERR_INPUT, NULL);
    if (!f) {
        eqs_ctx_clear_error(r->ctx); /* the caller says why it is not ours */
        return 0;
    }
    char line[128] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (ok && strncmp(line, METRICS_HEADER "\n", sizeof METRICS_HEADER) == 0) return 1;
    if (ok && strncmp(line, METRICS_HEADER_V0 "\n", sizeof METRICS_HEADER_V0) == 0) return 2;
    return 0;
}

/* PID written in the lock file another process holds; -1 if unknown. */
static long lock_holder(int fd)
{
    for (int t = 0; t < LOCK_PID_TRIES; ++t) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            char *end = NULL;
            long pid = strtol(buf, &end, 10);
            if (end != buf && *end == '\n' && pid > 0) return pid;
        }
        /* the holder has the lock but has not written its PID yet */
        struct timespec ts = {0, LOCK_PID_WAIT_NS};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static eqs_status lock_acquire(eqs_run *r)
{
    eqs_ctx *ctx = r->ctx;
    const char *p = r->lock_path;
    for (int t = 0; t < LOCK_TRIES; ++t) {
        /* O_NOFOLLOW: a symlink there (a copied run directory) must not
         * make us truncate whatever it points to */
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
        if (fd < 0 && errno == ELOOP)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "lock file '%s' is a symbolic link, not a lock file of eqspice; "
                             "remove it",
                             p);
        if (fd < 0)
            return EQS_ERROR(ctx, EQS_ERR_IO, "cannot create lock file '%s': %s", p,
                             strerror(errno));
        struct stat ls;
        if (fstat(fd, &ls) != 0 || !S_ISREG(ls.st_mode)) {
            close(fd);
            return EQS_ERROR(ctx, EQS_ERR_INPUT, "lock file '%s' is not a regular file; remove it",
                             p);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            if (e == EINTR) {
                close(fd);
                continue;
            }
            if (e != EWOULDBLOCK) {
                close(fd);
                return EQS_ERROR(ctx, EQS_ERR_IO, "cannot lock '%s': %s", p, strerror(e));
            }
            long pid = lock_holder(fd);
            close(fd);
            char who[32] = "PID unknown";
            if (pid > 0) snprintf(who, sizeof who, "PID %ld", pid);
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "run directory '%s' is in use by another eqspice process (%s, "
                             "lock file '%s'); wait for it to end or stop it first",
                             r->dir, who, p);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && lstat(p, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            int e = ftruncate(fd, 0) != 0 ? errno : 0;
            if (!e && lseek(fd, 0, SEEK_SET) < 0) e = errno;
            if (!e) e = eqs_write_all(fd, pid, (size_t)n);
            if (e) {
                unlink(p);
                close(fd);
                return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write lock file '%s': %s", p,
                                 strerror(e));
            }
            r->lock_fd = fd;
            return EQS_OK;
        }
        close(fd); /* the previous holder removed the file as we opened it */
    }
    return EQS_ERROR(ctx, EQS_ERR_IO, "cannot lock '%s': the file keeps being replaced", p);
}

static eqs_status open_metrics_append(eqs_run *r)
{
    const char *p = r->paths[EQS_RUN_METRICS];
    r->metrics_fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (r->metrics_fd < 0)
        return EQS_ERROR(r->ctx, EQS_ERR_IO, "cannot open '%s' for appending: %s", p,
                         strerror(errno));
    return EQS_OK;
}

void eqs_run_close(eqs_run **run)
{
    if (!run || !*run) return;
    eqs_run *r = *run;
    if (r->metrics_fd >= 0) close(r->metrics_fd);
    if (r->lock_fd >= 0) {
        unlink(r->lock_path); /* while still holding the lock (see the top) */
        close(r->lock_fd);
    }
    for (int f = 0; f < EQS_RUN_NFILES; ++f) eqs_free(r->ctx, r->paths[f]);
    eqs_free(r->ctx, r->lock_path);
    eqs_free(r->ctx, r->dir);
    eqs_free(r->ctx, r);
    *run = NULL;
}

/* Decide from what the (locked) directory holds how the run starts; never
 * a mode that would overwrite a checkpoint or a finished run. */
static eqs_status choose_mode(eqs_run *r, int resume)
{
    eqs_ctx *ctx = r->ctx;
    dir_scan sc;
    if (scan_dir(r->dir, &sc) != 0)
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot read run directory '%s': %s", r->dir,
                         strerror(errno));
    const char *results = sc.has[EQS_RUN_NETLIST]        ? run_names[EQS_RUN_NETLIST]
                          : sc.has[EQS_RUN_CONDUCTANCES] ? run_names[EQS_RUN_CONDUCTANCES]
                                                         : NULL;
    if (sc.has[EQS_RUN_CHECKPOINT]) {
        if (resume) {
            if (!sc.has[EQS_RUN_METRICS])
                return EQS_ERROR(ctx, EQS_ERR_INPUT, "cannot resume run '%s': no %s", r->dir,
                                 run_names[EQS_RUN_METRICS]);
            int kind = metrics_is_ours(r, r->paths[EQS_RUN_METRICS]);
            if (!kind)
                return EQS_ERROR(ctx, EQS_ERR_INPUT,
                                 "cannot resume: '%s' is not an eqspice metrics file",
                                 r->paths[EQS_RUN_METRICS]);
            r->no_warnings = kind == 2;
            r->mode = EQS_RUN_MODE_RESUME;
            return EQS_OK;
        }
        uint64_t ep = 0, b = 0;
        char at[96] = "";
        if (eqs_checkpoint_peek(r->paths[EQS_RUN_CHECKPOINT], &ep, &b) == 0)
            snprintf(at, sizeof at, b ? " at epoch %llu, batch %llu" : " after epoch %llu",
                     (unsigned long long)(b ? ep + 1 : ep), (unsigned long long)b);
        if (results)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "run directory '%s' exists and is not empty: it holds a finished "
                             "run (%s, checkpoint%s), which is not overwritten; choose "
                             "another output directory",
                             r->dir, results, at);
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "run directory '%s' exists and is not empty: it holds a run with "
                         "a checkpoint%s; continue it with --resume %s, or choose another "
                         "output directory",
                         r->dir, at, r->dir);
    }
    if (results)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "run directory '%s' exists and is not empty: it holds the results "
                         "of a run (%s, no %s), which are not overwritten; choose another "
                         "output directory",
                         r->dir, results, run_names[EQS_RUN_CHECKPOINT]);
    if (sc.has[EQS_RUN_METRICS]) {
        if (!metrics_is_ours(r, r->paths[EQS_RUN_METRICS]))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "run directory '%s' exists and is not empty: '%s' is not an "
                             "eqspice metrics file; choose another output directory",
                             r->dir, r->paths[EQS_RUN_METRICS]);
        r->mode = EQS_RUN_MODE_RESTART; /* a run stopped before its first checkpoint */
        return EQS_OK;
    }
    int ours = sc.has[EQS_RUN_EXPERIMENT] || sc.has[EQS_RUN_PLOT];
    if (sc.n_other > 0 || (ours && !resume)) {
        if (resume)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "cannot resume: '%s' is not an eqspice run directory (no %s, no "
                             "%s; it holds '%s')",
                             r->dir, run_names[EQS_RUN_CHECKPOINT], run_names[EQS_RUN_METRICS],
                             sc.other);
        const char *what = sc.n_other                    ? sc.other
                           : sc.has[EQS_RUN_EXPERIMENT] ? run_names[EQS_RUN_EXPERIMENT]
                                                        : run_names[EQS_RUN_PLOT];
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "run directory '%s' exists and is not empty, and it holds no "
                         "eqspice run ('%s', no %s); choose another output directory",
                         r->dir, what, run_names[EQS_RUN_METRICS]);
    }
    r->mode = resume ? EQS_RUN_MODE_RESTART : EQS_RUN_MODE_NEW;
    return EQS_OK;
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
    if (!exists && resume)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "cannot resume: run directory '%s' does not exist",
                         dir);
    if (!exists && mkdir_p(dir) != 0)
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot create run directory '%s': %s", dir,
                         strerror(errno));

    eqs_run *r = eqs_calloc(ctx, 1, sizeof *r);
    if (!r) return EQS_ERR_NOMEM;
    r->ctx = ctx;
    r->lock_fd = r->metrics_fd = -1;
    char *abs = realpath(dir, NULL);
    if (!abs) {
        st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot resolve run directory '%s': %s", dir,
                       strerror(errno));
        goto fail;
    }
    r->dir = eqs_strdup(ctx, abs);
    free(abs);
    if (!r->dir) goto nomem;
    for (int f = 0; f <= EQS_RUN_NFILES; ++f) {
        const char *nm = f < EQS_RUN_NFILES ? run_names[f] : LOCK_NAME;
        size_t n = strlen(r->dir) + strlen(nm) + 2;
        char *p = eqs_malloc(ctx, n);
        if (!p) goto nomem;
        snprintf(p, n, "%s/%s", r->dir, nm);
        if (f < EQS_RUN_NFILES) r->paths[f] = p;
        else r->lock_path = p;
    }

    /* lock first: what the directory holds only counts while nobody writes it */
    if ((st = lock_acquire(r)) != EQS_OK) goto fail;
    if ((st = choose_mode(r, resume)) != EQS_OK) goto fail;
    remove_stale_temps(r);
    if (r->mode == EQS_RUN_MODE_RESTART) {
        /* the previous attempt's curve would show epochs that are redone */
        const char *png = r->paths[EQS_RUN_PLOT];
        if (remove(png) != 0 && errno != ENOENT) {
            st = EQS_ERROR(ctx, EQS_ERR_IO, "cannot remove '%s': %s", png, strerror(errno));
            goto fail;
        }
        eqs_log(ctx, EQS_LOG_INFO, "'%s': no checkpoint, the run starts again at epoch 0",
                r->dir);
    }
    if (r->mode != EQS_RUN_MODE_RESUME) {
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

eqs_run_mode eqs_run_get_mode(const eqs_run *run)
{
    return run->mode;
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
    const char *p = run->paths[EQS_RUN_METRICS];
    if (run->metrics_fd < 0)
        return EQS_ERROR(run->ctx, EQS_ERR_INTERNAL, "metrics file '%s' is not open", p);
    char row[384]; /* 5 x %.17g (<= 24 characters each), an int and the warnings */
    char w[128];
    int n = snprintf(row, sizeof row, "%d,%.17g,%.17g,%.17g,%.17g,%.17g%s%s\n", m->epoch,
                     m->train_loss, m->train_error, m->test_loss, m->test_error, m->seconds,
                     run->no_warnings ? "" : ",",
                     run->no_warnings ? "" : eqs_health_format(m->warnings, w, sizeof w));
    if (n < 0 || (size_t)n >= sizeof row)
        return EQS_ERROR(run->ctx, EQS_ERR_INTERNAL, "metrics row too long");
    /* one write(2) per row; a row cut short (full disk) is dropped on resume */
    int e = eqs_write_all(run->metrics_fd, row, (size_t)n);
    if (!e && fsync(run->metrics_fd) != 0) e = errno;
    if (e) return EQS_ERROR(run->ctx, EQS_ERR_IO, "cannot write '%s': %s", p, strerror(e));
    return EQS_OK;
}

eqs_status eqs_run_metrics_truncate(eqs_run *run, int epochs_done)
{
    eqs_ctx *ctx = run->ctx;
    const char *p = run->paths[EQS_RUN_METRICS];
    if (run->metrics_fd >= 0) close(run->metrics_fd);
    run->metrics_fd = -1;
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
