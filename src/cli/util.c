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
    if (eqs_par_rank() != 0) lvl = EQS_LOG_ERROR; /* rank 0 speaks for the run */
    eqs_ctx_set_log(ctx, log_to_stderr, NULL, lvl);
    return ctx;
}

int cli_fail(eqs_ctx *ctx, eqs_status s)
{
    const char *msg = eqs_ctx_error(ctx);
    const int rank = eqs_par_rank();
    /* under MPI: the other ranks name themselves, and stay silent when
     * they only agreed to rank 0's failure (which rank 0 prints) */
    if (rank != 0 && msg && strstr(msg, "another rank stopped the run")) {
    } else if (rank != 0) {
        fprintf(stderr, "rank %d: %s\n", rank, msg && *msg ? msg : eqs_strerror(s));
    } else if (msg && *msg) {
        fprintf(stderr, "%s\n", msg);
    } else {
        fprintf(stderr, "error: %s\n", eqs_strerror(s));
    }
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

int cli_parse_physical(const char *cmd, const char *opt, const char *s, eqs_physical_target *t)
{
    if (!strcmp(opt, "--vread")) {
        double v;
        if (!s || cli_parse_double(s, &v) || !(v > 0))
            return cli_usage_error(cmd, "--vread needs a positive voltage (V), got '%s'",
                                   s ? s : "");
        t->v_read_V = v;
        return 0;
    }
    const char *comma = s ? strchr(s, ',') : NULL;
    double lo, hi;
    char buf[128];
    if (!comma || (size_t)(comma - s) >= sizeof buf)
        return cli_usage_error(cmd, "--window needs GMIN,GMAX in siemens, got '%s'", s ? s : "");
    memcpy(buf, s, (size_t)(comma - s));
    buf[comma - s] = 0;
    if (cli_parse_double(buf, &lo) || cli_parse_double(comma + 1, &hi) || !(lo >= 0) ||
        !(hi > lo))
        return cli_usage_error(cmd, "--window needs 0 <= GMIN < GMAX (siemens), got '%s'", s);
    t->g_min_S = lo;
    t->g_max_S = hi;
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
    if (eqs_ctx_create(&o->ctx) != EQS_OK) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    if (eqs_output_open(o->ctx, path, &o->out) != EQS_OK) {
        fprintf(stderr, "%s\n", eqs_ctx_error(o->ctx));
        eqs_ctx_free(&o->ctx);
        return -1;
    }
    o->f = eqs_output_stream(o->out);
    return 0;
}

int cli_out_commit(cli_out *o)
{
    if (!o->f) return -1;
    if (o->f == stdout) {
        int bad = ferror(stdout) || fflush(stdout) != 0;
        o->f = NULL;
        if (bad) fprintf(stderr, "error: write error on the output\n");
        return bad ? -1 : 0;
    }
    o->f = NULL;
    int bad = eqs_output_commit(&o->out) != EQS_OK;
    if (bad) fprintf(stderr, "%s\n", eqs_ctx_error(o->ctx));
    eqs_ctx_free(&o->ctx);
    return bad ? -1 : 0;
}

void cli_out_abort(cli_out *o)
{
    o->f = NULL;
    eqs_output_abort(&o->out);
    eqs_ctx_free(&o->ctx);
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

const cli_opt cli_tol_opts[] = {
    {"--reltol", "X", "relative tolerance of Newton's convergence test; overrides the "
                      "netlist's .options reltol", 0},
    {"--abstol", "A", "absolute current tolerance (A); overrides .options abstol", 0},
    {"--vntol", "V", "absolute voltage tolerance (V); overrides .options vntol", 0},
    {"--gmin", "S", "conductance added across every junction (S); overrides .options gmin", 0},
    {"--itl1", "N", "Newton iteration limit of a DC solve; overrides .options itl1", 0},
    {NULL, NULL, NULL, 0},
};

const cli_opt cli_layered_opts[] = {
    {"--diodes", "shockley|ideal", "diode model: shockley (default) or ideal (constraints, "
                                   "the DRN model; layered solver only)", 0},
    {"--bcd-tol", "V", "layered solver: stop when a sweep moves no node by more than V "
                       "volts (default 1e-10 V)", 0},
    {"--max-sweeps", "N", "layered solver: sweeps per solve (default 10000)", 0},
    {NULL, NULL, NULL, 0},
};

#define HELP_COL 24   /* column of the option descriptions */
#define HELP_WIDTH 79 /* right margin of the help text */

/* Write `text` word by word from column `col` (the cursor is there) up to
 * HELP_WIDTH, continuing lines at column `indent`; '\n' in text forces a
 * line break. */
static void wrap(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    int at_start = 1;
    while (*p) {
        if (*p == '\n') {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            at_start = 1;
            ++p;
            continue;
        }
        if (*p == ' ') {
            ++p;
            continue;
        }
        size_t n = strcspn(p, " \n");
        if (!at_start && col + 1 + (int)n > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            at_start = 1;
        }
        if (!at_start) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", (int)n, p);
        col += (int)n;
        at_start = 0;
        p += n;
    }
    fputc('\n', f);
}

/* The first spelling of an option's names ("-o" of "-o, --output"). */
static int first_name_len(const char *names)
{
    return (int)strcspn(names, ",");
}

void cli_help(FILE *f, const cli_command *c)
{
    char syn[4096];
    int n = snprintf(syn, sizeof syn, "%s", c->operands ? c->operands : "");
    for (int t = 0; t < 3 && c->opts[t]; ++t)
        for (const cli_opt *o = c->opts[t]; o->names; ++o) {
            if (o->syn == CLI_SYN_OPERANDS || n >= (int)sizeof syn) continue;
            /* '\1': a space wrap does not break at (turned back below) */
            int opt = o->syn == CLI_SYN_OPTIONAL;
            n += snprintf(syn + n, sizeof syn - (size_t)n, " %s%.*s%s%s%s", opt ? "[" : "",
                          first_name_len(o->names), o->names, o->arg ? "\1" : "",
                          o->arg ? o->arg : "", opt ? "]" : "");
        }
    int depth = 0; /* the words of a bracket or parenthesis stay together */
    for (char *q = syn; *q; ++q) {
        depth += (*q == '[' || *q == '(') - (*q == ']' || *q == ')');
        if (*q == ' ' && depth > 0) *q = '\1';
    }
    char head[128];
    int hn = snprintf(head, sizeof head, "usage: eqspice %s", c->name);
    fputs(head, f);
    /* wrap the synopsis, then turn the '\1' back into spaces */
    char *tmp = NULL;
    size_t tlen = 0;
    FILE *m = open_memstream(&tmp, &tlen);
    if (m) {
        if (*syn) fputc(' ', m);
        wrap(m, syn, hn + (*syn ? 1 : 0), hn + 1);
        fclose(m);
        for (char *q = tmp; q && *q; ++q)
            if (*q == '\1') *q = ' ';
        if (tmp) fputs(tmp, f);
        free(tmp);
    } else {
        fputc('\n', f);
    }
    if (c->about) fprintf(f, "\n%s", c->about);
    fputs("\noptions:\n", f);
    for (int t = 0; t < 3 && c->opts[t]; ++t)
        for (const cli_opt *o = c->opts[t]; o->names; ++o) {
            int w = fprintf(f, "  %s%s%s", o->names, o->arg ? " " : "", o->arg ? o->arg : "");
            if (w + 2 > HELP_COL) {
                fprintf(f, "\n%*s", HELP_COL, "");
            } else {
                fprintf(f, "%*s", HELP_COL - w, "");
            }
            wrap(f, o->help, HELP_COL, HELP_COL);
        }
    int w = fprintf(f, "  -h, --help");
    fprintf(f, "%*s", HELP_COL - w, "");
    wrap(f, "print this help and exit", HELP_COL, HELP_COL);
    if (c->tail) fprintf(f, "\n%s", c->tail);
}

/* The entry of `a` in c's tables, NULL if none. */
static const cli_opt *find_option(const cli_command *c, const char *a)
{
    size_t len = strlen(a);
    for (int t = 0; t < 3 && c->opts[t]; ++t)
        for (const cli_opt *o = c->opts[t]; o->names; ++o)
            for (const char *p = o->names; *p;) {
                size_t n = strcspn(p, ",");
                if (n == len && !strncmp(p, a, n)) return o;
                p += n;
                while (*p == ',' || *p == ' ') ++p;
            }
    return NULL;
}

int cli_check_options(const cli_command *c, int argc, char **argv, int first)
{
    for (int i = first; i < argc; ++i) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) continue; /* an operand, or "-" */
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) continue;
        const cli_opt *o = find_option(c, a);
        if (!o) return cli_usage_error(c->name, "unknown option '%s'", a);
        /* skip the values: one per word of the placeholder */
        for (const char *p = o->arg; p && *p; ++i) {
            p += strcspn(p, " ");
            p += strspn(p, " ");
        }
    }
    return 0;
}
