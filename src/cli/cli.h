/*
 * cli.h: private header of the command-line front end.  Includes only the
 * public eqspice.h.  Exit codes: 0 success, 1 bad input, 2 internal error.
 */
#ifndef EQS_CLI_H
#define EQS_CLI_H

#include <stdio.h>

#include "eqspice.h"

enum { CLI_OK = 0, CLI_USER = 1, CLI_INTERNAL = 2 };

/* Subcommands: argv[0] is the subcommand name. */
int cli_cmd_op(int argc, char **argv);
int cli_cmd_compare(int argc, char **argv);
int cli_cmd_gen(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
/* `bench train` (argv[0] = "bench", argv[1] = "train"). */
int cli_bench_train(int argc, char **argv);
int cli_cmd_grad(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_device(int argc, char **argv);
/* `export` and `import` (cmd_handoff.c). */
int cli_cmd_export(int argc, char **argv);
int cli_cmd_import(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_sweep(int argc, char **argv);

/* A context logging warnings (and more with -v) to stderr. */
eqs_ctx *cli_ctx_create(int verbosity);
/* Print the context's last error to stderr; return the exit code for s. */
int cli_fail(eqs_ctx *ctx, eqs_status s);
/* Print "eqspice: error: <msg>" for a usage error and return CLI_USER. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One option of a subcommand.  A command's tables are the one source of
 * its --help (synopsis and option list, cli_help) and of what it accepts
 * (cli_check_options rejects every other option before the command's own
 * parser runs); tests/test_cli.c checks that the parser handles every
 * entry and that docs/cli.md lists the same options. */
typedef struct {
    const char *names; /* spellings, ", " between them: "-o, --output" */
    const char *arg;   /* placeholder of the value(s), one word per value
                          ("RUNDIR", "IMAGES LABELS", "auto|newton"); NULL: a flag */
    const char *help;  /* one paragraph (cli_help wraps it); never empty */
    int syn;           /* synopsis: CLI_SYN_OPTIONAL "[-o FILE]", CLI_SYN_REQUIRED
                          "--layers L", CLI_SYN_OPERANDS already in the operands */
} cli_opt;
enum { CLI_SYN_OPTIONAL = 0, CLI_SYN_REQUIRED = 1, CLI_SYN_OPERANDS = 2 };
typedef struct {
    const char *name;      /* "op", "bench train" */
    const char *operands;  /* synopsis between the name and the options: "NETLIST" */
    const char *about;     /* text between the synopsis and the options (may be NULL) */
    const cli_opt *opts[3]; /* tables, each ended by an entry with names NULL;
                               unused slots NULL */
    const char *tail;      /* text after the options (may be NULL) */
} cli_command;
/* Shared tables: solver tolerances (--reltol --abstol --vntol --gmin
 * --itl1) and the layered solver's flags (--diodes --bcd-tol
 * --max-sweeps), both parsed by cli_solver_flag. */
extern const cli_opt cli_tol_opts[];
extern const cli_opt cli_layered_opts[];
/* "usage: eqspice NAME OPERANDS [options...]", about, "options:" with every
 * entry (and -h, --help), tail. */
void cli_help(FILE *f, const cli_command *c);
/* 0 when every option in argv[first..] is one of c's (or -h/--help), the
 * values after each skipped; else a usage error "unknown option" and
 * CLI_USER. */
int cli_check_options(const cli_command *c, int argc, char **argv, int first);

/* Strict number parsing for option values; 0 on success. */
int cli_parse_double(const char *s, double *out);
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* --vread V (> 0) or --window GMIN,GMAX (0 <= GMIN < GMAX, S) of `cmd`
 * (opt names which) into t; 0 ok, else the usage error is printed. */
int cli_parse_physical(const char *cmd, const char *opt, const char *s, eqs_physical_target *t);
/* Parse "784,100,10" into a malloc'd array; 0 on success. */
int cli_parse_layers(const char *s, int **layers, int *n);

/* Output file written atomically by the library's writer (eqs_output_*:
 * "<path>.tmp.<pid>", renamed over `path` only on success; symlinks
 * written through, devices in place).  path NULL or "-" means stdout. */
typedef struct {
    FILE *f;
    eqs_ctx *ctx;    /* the writer's own context (its error is printed) */
    eqs_output *out; /* NULL for stdout */
} cli_out;
int cli_out_open(cli_out *o, const char *path);      /* 0 ok, else prints error */
int cli_out_commit(cli_out *o);                      /* 0 ok, else prints error */
void cli_out_abort(cli_out *o);                      /* removes the temp file */

/* Solver-option flags shared by op, compare, bench:
 * --reltol X --abstol X --vntol X --gmin X --itl1 N.  Returns 1 if argv[*i]
 * was one of them (consuming its value), 0 if not, -1 on a bad value. */
int cli_solver_flag(int argc, char **argv, int *i, eqs_solver_options *opt);

/* A netlist read and compiled, with the time each step took. */
typedef struct {
    eqs_netlist *nl;
    eqs_circuit *c;
    double parse_s;
    double compile_s;
} cli_loaded;
/* Read and compile `path`; returns EQS_OK or the failing status (the
 * context holds the message). */
eqs_status cli_load(eqs_ctx *ctx, const char *path, cli_loaded *L);
void cli_unload(cli_loaded *L);
/* CSV "node,voltage_V" with one row per non-ground node, %.17g. */
void cli_write_voltages(FILE *f, const eqs_circuit *c, const double *v);

/* Training progress on stderr (data never goes there), with the time
 * elapsed and the time left for the whole run (every planned epoch and its
 * evaluation, at the rates measured so far in this process).  On a
 * terminal a live bar (epoch, percentage, samples/s, running loss) is
 * redrawn in place at most 1/CLI_PROGRESS_INTERVAL_S times per second;
 * otherwise one line at most every log_s seconds while an epoch trains or
 * is evaluated.  At the end of every epoch one line, on a terminal too.
 * Times are passed in (seconds, any monotonic origin) so that the library
 * measures nothing and the output is testable.  Formats: docs/cli.md. */
#define CLI_PROGRESS_INTERVAL_S 0.1 /* at most 10 redraws per second */
#define CLI_PROGRESS_BAR_WIDTH 16   /* characters of the bar (the line fits 80 columns) */
#define CLI_PROGRESS_LOG_S 10.0     /* default seconds between lines off a terminal */
typedef struct {
    FILE *f;
    int tty;          /* 1: live bar, 0: lines */
    double log_s;     /* not a terminal: seconds between lines */
    int epoch, epochs;
    size_t n_train;   /* samples of a whole epoch */
    size_t n_eval;    /* samples evaluated at each epoch end (train + test set) */
    size_t total;     /* samples trained in the current epoch (fewer when resumed) */
    size_t done;      /* of them so far */
    size_t eval_done; /* samples of this epoch's evaluation so far */
    int evaluating;   /* the epoch's training is over */
    double t_run;     /* cli_progress_init (s) */
    double t_start;   /* start of the epoch (s) */
    double t_eval;    /* start of its evaluation (s) */
    double t_last;    /* last call (s) */
    double t_drawn;   /* last redraw or line (s) */
    double train_s, eval_s;   /* time measured in each phase so far (s) */
    size_t trained, evaluated; /* samples in each phase so far */
    int drawn;        /* a bar is on the terminal line */
} cli_progress;
/* tty < 0: decide with isatty(fileno(f)); log_s < 0: CLI_PROGRESS_LOG_S. */
void cli_progress_init(cli_progress *p, FILE *f, int tty, int epochs, size_t n_train,
                       size_t n_eval, double log_s, double now_s);
/* Epoch `epoch` (1-based) trains `total` samples from now on. */
void cli_progress_epoch_begin(cli_progress *p, int epoch, size_t total, double now_s);
/* `done` samples of the epoch processed, mean loss over them so far:
 * "epoch 3/20: 12800/60000 samples (21%), 416 samples/s, loss 0.0123 | elapsed 0:01:02, eta 1:23:45" */
void cli_progress_update(cli_progress *p, size_t done, double running_loss, double now_s);
/* `done` of the n_eval samples of the epoch-end evaluation:
 * "epoch 3/20: evaluating 20000/70000 samples (29%), 1234 samples/s | elapsed ..., eta ..." */
void cli_progress_eval(cli_progress *p, size_t done, double now_s);
/* Erase the bar and print the epoch's line (m->seconds: its training time):
 * "epoch 3/20: train loss 0.0123 error 12.50% | test loss ... | 512 samples in 1.23 s (416 samples/s) | elapsed 0:00:05, eta 0:01:10"
 * (the test part only when test_loss is finite). */
void cli_progress_epoch_end(cli_progress *p, const eqs_epoch_metrics *m, double now_s);

double cli_now_s(void);
/* Median of n values (sorts in place). */
double cli_median(double *v, int n);
/* Peak resident memory of this process in MiB. */
double cli_maxrss_MiB(void);

#endif
