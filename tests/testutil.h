/* testutil.h: shared helpers for the Check test suites. */
#ifndef EQS_TESTUTIL_H
#define EQS_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include "eqspice.h"

/* Suites, one per area; each defined in its own tests/test_<area>.c. */
Suite *suite_core(void);
Suite *suite_netlist(void);
Suite *suite_circuit(void);
Suite *suite_devices(void);
Suite *suite_solver(void);
Suite *suite_ngspice(void);
Suite *suite_golden(void);
Suite *suite_gen(void);
Suite *suite_cli(void);
Suite *suite_robust(void);
Suite *suite_dataset(void);
Suite *suite_experiment(void);
Suite *suite_eqprop(void);
Suite *suite_export(void);
Suite *suite_run(void);
Suite *suite_train(void);
Suite *suite_inputs(void);
Suite *suite_aeqprop(void); /* test_aeqprop.c: Agnostic EqProp */
Suite *suite_ncep(void);
Suite *suite_layered(void);
Suite *suite_eval(void); /* test_eval.c: runs describe themselves */
Suite *suite_driver(void); /* test_driver.c: the run driver */
Suite *suite_alloc(void); /* test_alloc.c: allocator hooks, each allocation failed */
Suite *suite_atomic(void); /* test_atomic.c: the one atomic writer, crash leftovers */
Suite *suite_host(void); /* test_host.c: the host's process-wide state left alone */
Suite *suite_update(void); /* test_update.c: update law, counter-based RNG */
Suite *suite_memristor(void); /* test_memristor.c: the memristor element */
Suite *suite_store(void);     /* test_store.c: the parameter store and its blocks */
Suite *suite_crossbar(void); /* test_crossbar.c: .crossbar card, netlist builder, DRN build */
Suite *suite_device(void);   /* test_device.c: pulsed device laws */
Suite *suite_devtrain(void); /* test_devtrain.c: training through a device model */
Suite *suite_memiv(void);    /* test_memiv.c: nonlinear I-V memristors (aiv) */
Suite *suite_report(void);   /* test_report.c: eqspice report (HTML) */
Suite *suite_wire(void);     /* test_wire.c: wired crossbars (rwire) */
Suite *suite_device_plot(void); /* test_device_plot.c: eqspice device --plot */
Suite *suite_team(void); /* test_team.c: the TEAM memristor law (update/team.c) */
Suite *suite_sweep(void);   /* test_sweep.c: eqspice sweep */
Suite *suite_handoff(void); /* test_handoff.c: eqspice export / import (hardware hand-off) */
Suite *suite_physical(void); /* test_physical.c: physical units (--vread, --window) */
Suite *suite_mpi(void);      /* test_mpi.c: training and sweeps under mpirun */

/* Absolute path of a file relative to the repository root (the directory
 * `make check` runs in).  Returns a static buffer (overwritten per call). */
const char *tu_path(const char *relpath);

/* Write `text` to a fresh temporary file with the given suffix; returns its
 * path in a static ring of buffers (valid for the next 8 calls). */
const char *tu_write_temp(const char *text, const char *suffix);

/* Make a fresh temporary directory; returns its path (static ring). */
const char *tu_temp_dir(void);

/* Run the CLI (path from $EQS_CLI, default build/eqspice) with argv
 * (NULL-terminated, without argv[0]); capture stdout and stderr into
 * malloc'd strings (caller frees); returns the exit status (or -1 if the
 * process was killed by a signal).  Times out after `timeout_s` seconds
 * (then returns -2). */
int tu_run_cli(const char *const *argv, char **out, char **err, int timeout_s);

/* Read a whole file into a malloc'd string (NULL if unreadable). */
char *tu_read_file(const char *path);

/* A file split into a NULL-terminated array of malloc'd lines (for
 * ngspice decks); *n_out (may be NULL) gets the count.  The test fails if
 * the file is unreadable.  tu_free_lines frees the array. */
char **tu_file_lines(const char *path, int *n_out);
void tu_free_lines(char **lines);

/* A generated DRN (eqs_gen_drn, default spec but layers and seed) as a
 * malloc'd netlist text; the test fails if generation fails. */
char *tu_gen_drn(const int *layers, int n, uint64_t seed);

/* Same with an input gain (V per unit pixel; the generator's default when
 * gain <= 0). */
char *tu_gen_drn_gain(const int *layers, int n, double gain, uint64_t seed);

/* Vector comparisons for gradient tests: cosine of the angle between a and
 * b, ||a - b||_2 / ||b||_2, and the least-squares slope of log(e) against
 * log(x) (convergence orders). */
double tu_cosine(const double *a, const double *b, int n);
double tu_rel_l2(const double *a, const double *b, int n);
double tu_loglog_slope(const double *x, const double *e, int n);
/* Everything one in-process training run needs: experiment file `xml`
 * read, its data loaded, its network built and compiled and, with
 * with_trainer, a trainer created; the test fails on any error. */
typedef struct {
    eqs_ctx *ctx;
    eqs_experiment *exp;
    eqs_dataset *train, *test;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_trainer *tr;
} tu_job;
void tu_job_open(tu_job *j, const char *xml, int with_trainer);
void tu_job_close(tu_job *j);

/* The experiment file `relpath` (relative to the repository root) as a
 * test can read it on this machine.  Where it names the Fashion-MNIST files
 * of the optional Debian package dataset-fashion-mnist and that package is
 * not installed, the path of a copy whose dataset paths point at stand-ins
 * (copies of tests/data/tiny-*-idx*-ubyte.gz under the Fashion-MNIST file
 * names): everything but the real data is then still checked, and the
 * first such substitution prints why on stderr.  Otherwise tu_path(relpath).
 * Static ring buffer, like tu_path. */
const char *tu_experiment_path(const char *relpath);

/* A context whose log goes nowhere (tests provoke errors on purpose). */
eqs_ctx *tu_ctx(void);

/* The trainable conductances of c (malloc'd, eqs_circuit_param_count entries). */
double *tu_conductances(const eqs_circuit *c);

/* Gradient-test fixture shared by test_eqprop.c, test_aeqprop.c and
 * test_ncep.c: netlist text (or the file `path`, relative to the repository
 * root unless absolute, when text is NULL) compiled, a solver on `backend`
 * with EqProp's tight tolerances (reltol 1e-12, vntol 1e-12 V, abstol
 * 1e-15 A), eqprop with targets 50-150 mV off the free outputs (alternating
 * signs, so every output carries error) and the free phase solved; g0 and v0
 * keep the conductances and the free voltages.  itl1 > 0: that Newton
 * limit without gmin/source stepping, targets 0 and nothing solved (the
 * caller provokes a failure).  Work vectors adj, est, ref, fd, g have
 * np + 1 zeros.  The test fails on any error. */
typedef struct {
    eqs_ctx *ctx;
    eqs_netlist *nl;
    eqs_circuit *c;
    eqs_solver *s;
    eqs_eqprop *ep;
    int np, nout;
    double *y, *adj, *est, *ref, *fd, *g, *g0, *v0;
} tu_gfix;
void tu_gfix_open(tu_gfix *f, const char *text, const char *path, eqs_backend_id backend,
                  int itl1);
void tu_gfix_close(tu_gfix *f);

#endif
