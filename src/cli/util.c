/* util.c: helpers shared by the subcommands (errors, numbers, atomic output). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void log_to_stderr(void *user, eqs_log_level level, const char *msg)
{
    (void)user;
    static const char *const tag[] = {"", "", "info: ", "debug: "};
    /* errors and warnings come pre-formatted with their location */
    if (level <= EQS_LOG_WARN && (strstr(msg, ": error: ") || strstr(msg, ": warning: ") ||
                                  !strncmp(msg, "warning: ", 9) || !strncmp(msg, "error: ", 7)))
        fprintf(stderr, "%s\n", msg);
    else if (level == EQS_LOG_WARN)
        fprintf(stderr, "warning: %s\n", msg);
    else
        fprintf(stderr, "%s%s\n", tag[level], msg);
}

eqs_ctx *cli_ctx_create(int verbosity)
{
    eqs_ctx *ctx = NULL;
    if (eqs_ctx_create(&ctx) != EQS_OK) {
        fprintf(stderr, "eqspice: error: out of memory\n");
        return NULL;
    }
    eqs_log_level lvl = verbosity >= 2 ? EQS_LOG_DEBUG : verbosity == 1 ? EQS_LOG_INFO : EQS_LOG_WARN;
    eqs_ctx_set_log(ctx, log_to_stderr, NULL, lvl);
    return ctx;
}

int cli_fail(eqs_ctx *ctx, eqs_status s)
{
    const char *msg = eqs_ctx_error(ctx);
    if (msg && *msg) fprintf(stderr, "%s\n", msg);
    else fprintf(stderr, "error: %s\n", eqs_strerror(s));
    return eqs_status_is_user_error(s) ? CLI_USER : CLI_INTERNAL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "eqspice %s: error: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'eqspice %s --help')\n", cmd);
    return CLI_USER;
}

int cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_layers(const char *s, int **layers, int *n)
{
    int cap = 8, k = 0;
    int *a = malloc((size_t)cap * sizeof *a);
    if (!a) return -1;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 100000) {
            free(a);
            return -1;
        }
        if (k == cap) {
            int *b = realloc(a, (size_t)(cap *= 2) * sizeof *a);
            if (!b) { free(a); return -1; }
            a = b;
        }
        a[k++] = (int)v;
        p = end;
        if (*p == ',') {
            ++p;
            if (!*p) { free(a); return -1; }
        } else if (*p) {
            free(a);
            return -1;
        }
    }
    if (k < 2) {
        free(a);
        return -1;
    }
    *layers = a;
    *n = k;
    return 0;
}

int cli_out_open(cli_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    /* A path that exists and is not a regular file (/dev/null, a FIFO, a
     * terminal) is written directly: renaming over it would replace the
     * device with a file. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        o->f = fopen(path, "w");
        if (!o->f) {
            fprintf(stderr, "error: cannot write '%s': %s\n", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    /* An existing symlink is written through: the file it names is
     * replaced, the link stays. */
    char *real = realpath(path, NULL);
    o->path = real ? real : strdup(path);
    size_t n = strlen(o->path) + 32;
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {
        fprintf(stderr, "error: out of memory\n");
        cli_out_abort(o);
        return -1;
    }
    snprintf(o->tmp, n, "%s.tmp.%ld", o->path, (long)getpid());
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        fprintf(stderr, "error: cannot write '%s': %s\n", path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        cli_out_abort(o);
        return -1;
    }
    return 0;
}

int cli_out_commit(cli_out *o)
{
    if (!o->f) return -1;
    if (o->f == stdout || !o->tmp) { /* stdout, or a device written in place */
        int bad = ferror(o->f) || (o->f == stdout ? fflush(stdout) : fclose(o->f)) != 0;
        o->f = NULL;
        if (bad) fprintf(stderr, "error: write error on the output\n");
        return bad ? -1 : 0;
    }
    int bad = ferror(o->f);
    if (fclose(o->f) != 0) bad = 1;
    o->f = NULL;
    if (bad || rename(o->tmp, o->path) != 0) {
        fprintf(stderr, "error: cannot write '%s': %s\n", o->path, strerror(errno));
        cli_out_abort(o);
        return -1;
    }
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return 0;
}

void cli_out_abort(cli_out *o)
{
    if (o->f && o->f != stdout) fclose(o->f);
    o->f = NULL;
    if (o->tmp) unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}

int cli_solver_flag(int argc, char **argv, int *i, eqs_solver_options *opt)
{
    const char *a = argv[*i];
    double *dst = NULL;
    unsigned bit = EQS_OPT_ITL1;
    /* layered solver: diode model, sweep tolerance and limit */
    if (!strcmp(a, "--diodes")) {
        int k = *i + 1 < argc ? eqs_diode_kind_from_name(argv[*i + 1]) : -1;
        if (k < 0) return -1;
        opt->diodes = (eqs_diode_kind)k;
        ++*i;
        return 1;
    }
    if (!strcmp(a, "--bcd-tol")) {
        double x;
        if (*i + 1 >= argc || cli_parse_double(argv[*i + 1], &x) || !(x > 0)) return -1;
        opt->bcd_tol_V = x;
        ++*i;
        return 1;
    }
    if (!strcmp(a, "--max-sweeps")) {
        long n;
        if (*i + 1 >= argc || cli_parse_int(argv[*i + 1], 1, 100000000, &n)) return -1;
        opt->bcd_max_sweeps = (int)n;
        ++*i;
        return 1;
    }
    if (!strcmp(a, "--reltol")) dst = &opt->reltol, bit = EQS_OPT_RELTOL;
    else if (!strcmp(a, "--abstol")) dst = &opt->abstol, bit = EQS_OPT_ABSTOL;
    else if (!strcmp(a, "--vntol")) dst = &opt->vntol, bit = EQS_OPT_VNTOL;
    else if (!strcmp(a, "--gmin")) dst = &opt->gmin, bit = EQS_OPT_GMIN;
    else if (strcmp(a, "--itl1") != 0) return 0;
    if (*i + 1 >= argc) return -1;
    const char *v = argv[++*i];
    if (dst) {
        double x;
        if (cli_parse_double(v, &x) || x < 0) return -1;
        *dst = x;
    } else {
        long n;
        if (cli_parse_int(v, 1, 100000, &n)) return -1; /* as .options itl1 */
        opt->itl1 = (int)n;
    }
    /* an explicit flag wins over the netlist's .options */
    opt->explicit_mask |= bit;
    return 1;
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cli_median(double *v, int n)
{
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double cli_maxrss_MiB(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

eqs_status cli_load(eqs_ctx *ctx, const char *path, cli_loaded *L)
{
    L->nl = NULL;
    L->c = NULL;
    double t0 = cli_now_s();
    eqs_status st = eqs_netlist_read(ctx, path, &L->nl);
    double t1 = cli_now_s();
    L->parse_s = t1 - t0;
    if (st != EQS_OK) return st;
    st = eqs_circuit_create(ctx, L->nl, &L->c);
    L->compile_s = cli_now_s() - t1;
    if (st != EQS_OK) eqs_netlist_free(&L->nl);
    return st;
}

void cli_unload(cli_loaded *L)
{
    eqs_circuit_free(&L->c);
    eqs_netlist_free(&L->nl);
}

void cli_write_voltages(FILE *f, const eqs_circuit *c, const double *v)
{
    fprintf(f, "node,voltage_V\n");
    int n = eqs_circuit_node_count(c);
    for (int k = 1; k < n; ++k) fprintf(f, "%s,%.17g\n", eqs_circuit_node_name(c, k), v[k]);
}
