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

/* A context logging warnings (and more with -v) to stderr. */
eqs_ctx *cli_ctx_create(int verbosity);
/* Print the context's last error to stderr; return the exit code for s. */
int cli_fail(eqs_ctx *ctx, eqs_status s);
/* Print "eqspice: error: <msg>" for a usage error and return CLI_USER. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing for option values; 0 on success. */
int cli_parse_double(const char *s, double *out);
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* Parse "784,100,10" into a malloc'd array; 0 on success. */
int cli_parse_layers(const char *s, int **layers, int *n);

/* Output file written atomically: data goes to "<path>.tmp.<pid>" and is
 * renamed over `path` only on success.  path NULL or "-" means stdout. */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
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

/* Training progress on stderr (data never goes there).  On a terminal a
 * live bar (epoch, percentage, samples/s, running loss) is redrawn in place
 * at most 1/CLI_PROGRESS_INTERVAL_S times per second; otherwise, and at the
 * end of every epoch on a terminal too, one line per epoch.  Times are
 * passed in (seconds, any monotonic origin) so that the output is testable. */
#define CLI_PROGRESS_INTERVAL_S 0.1 /* at most 10 redraws per second */
#define CLI_PROGRESS_BAR_WIDTH 30   /* characters of the bar */
typedef struct {
    FILE *f;
    int tty;          /* 1: live bar, 0: one line per epoch */
    int epoch, epochs;
    size_t total;     /* samples in the current epoch */
    double t_start;   /* start of the epoch (s) */
    double t_drawn;   /* last redraw (s) */
    int drawn;        /* a bar is on the terminal line */
} cli_progress;
/* tty < 0: decide with isatty(fileno(f)). */
void cli_progress_init(cli_progress *p, FILE *f, int tty, int epochs);
void cli_progress_epoch_begin(cli_progress *p, int epoch, size_t total, double now_s);
/* `done` samples of the epoch processed, mean loss over them so far. */
void cli_progress_update(cli_progress *p, size_t done, double running_loss, double now_s);
/* Erase the bar and print the epoch's line:
 * "epoch 3/20: train loss 0.0123 error 12.50% | test loss ... | 512 samples in 1.23 s (416 samples/s)"
 * (the test part only when test_loss is finite). */
void cli_progress_epoch_end(cli_progress *p, const eqs_epoch_metrics *m, double now_s);

double cli_now_s(void);
/* Median of n values (sorts in place). */
double cli_median(double *v, int n);
/* Peak resident memory of this process in MiB. */
double cli_maxrss_MiB(void);

#endif
