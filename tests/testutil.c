/* testutil.c: helpers shared by the test suites (temp files, running the CLI). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char ring[8][4096];
static int ring_i;

static char *ring_next(void)
{
    char *b = ring[ring_i];
    ring_i = (ring_i + 1) % 8;
    return b;
}

const char *tu_path(const char *relpath)
{
    char *b = ring_next();
    char cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, ".");
    snprintf(b, sizeof ring[0], "%s/%s", cwd, relpath);
    return b;
}

const char *tu_temp_dir(void)
{
    char *b = ring_next();
    const char *tmp = getenv("TMPDIR");
    snprintf(b, sizeof ring[0], "%s/eqs-test-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(b)) return NULL;
    return b;
}

const char *tu_write_temp(const char *text, const char *suffix)
{
    const char *dir = tu_temp_dir();
    if (!dir) return NULL;
    char *b = ring_next();
    snprintf(b, sizeof ring[0], "%s/t%s", dir, suffix ? suffix : "");
    FILE *f = fopen(b, "wb");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return b;
}

char *tu_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t k;
    while (s && (k = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            cap *= 2;
            char *t = realloc(s, cap);
            if (!t) { free(s); s = NULL; break; }
            s = t;
        }
    }
    fclose(f);
    if (s) s[n] = '\0';
    return s;
}

int tu_run_cli(const char *const *argv, char **out, char **err, int timeout_s)
{
    const char *cli = getenv("EQS_CLI");
    if (!cli) cli = "build/eqspice";
    const char *dir = tu_temp_dir();
    char opath[4200], epath[4200];
    snprintf(opath, sizeof opath, "%s/stdout", dir);
    snprintf(epath, sizeof epath, "%s/stderr", dir);
    int argc = 0;
    while (argv[argc]) argc++;
    char **av = calloc((size_t)argc + 2, sizeof *av);
    av[0] = (char *)cli;
    for (int i = 0; i < argc; ++i) av[i + 1] = (char *)argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fi = open("/dev/null", O_RDONLY);
        dup2(fo, 1);
        dup2(fe, 2);
        dup2(fi, 0);
        execv(cli, av);
        _exit(127);
    }
    free(av);
    int status = 0, rc = -1;
    double t0 = (double)time(NULL);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if ((double)time(NULL) - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            rc = -2;
            break;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    if (rc != -2) rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (out) *out = tu_read_file(opath);
    if (err) *err = tu_read_file(epath);
    unlink(opath);
    unlink(epath);
    rmdir(dir);
    return rc;
}

#define TU_FMNIST_DIR "/usr/share/datasets/fashion-mnist/"

/* Copy file `from` to `to`; 0 on success. */
static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char buf[4096];
    size_t k;
    while (rc == 0 && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) rc = -1;
    if (in && ferror(in)) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

/* Replace every occurrence of `from` in the malloc'd string s by `to`. */
static char *replace_all(char *s, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + lf, from)) n++;
    char *r = malloc(strlen(s) + n * (lt > lf ? lt - lf : 0) + 1), *w = r;
    ck_assert_ptr_nonnull(r);
    const char *p = s;
    for (const char *q = strstr(p, from); q; q = strstr(p, from)) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, lt);
        w += lt;
        p = q + lf;
    }
    strcpy(w, p);
    free(s);
    return r;
}

const char *tu_experiment_path(const char *relpath)
{
    const char *path = tu_path(relpath);
    char *text = tu_read_file(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    if (!strstr(text, TU_FMNIST_DIR) || access(TU_FMNIST_DIR "train-images-idx3-ubyte.gz", R_OK) == 0) {
        free(text);
        return path;
    }
    static int told;
    if (!told++)
        fprintf(stderr, "note: dataset-fashion-mnist is not installed: experiments that name it "
                        "are checked against stand-in files (tests/data/tiny-*), not the real data\n");
    const char *dir = tu_temp_dir();
    ck_assert_ptr_nonnull(dir);
    static const char *const names[][2] = {
        {"train-images-idx3-ubyte.gz", "tests/data/tiny-images-idx3-ubyte.gz"},
        {"train-labels-idx1-ubyte.gz", "tests/data/tiny-labels-idx1-ubyte.gz"},
        {"t10k-images-idx3-ubyte.gz", "tests/data/tiny-images-idx3-ubyte.gz"},
        {"t10k-labels-idx1-ubyte.gz", "tests/data/tiny-labels-idx1-ubyte.gz"},
    };
    char to[4200];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        snprintf(to, sizeof to, "%s/%s", dir, names[i][0]);
        ck_assert_msg(copy_file(tu_path(names[i][1]), to) == 0, "cannot write %s", to);
    }
    snprintf(to, sizeof to, "%s/", dir);
    text = replace_all(text, TU_FMNIST_DIR, to);
    /* the copy lives elsewhere: a model file named relative to the
     * experiment's folder (device_model="../models/x.xml", the shipped
     * form) must still be found */
    const char *slash = strrchr(relpath, '/');
    {
        char from[64], abs[4200];
        snprintf(from, sizeof from, "device_model=\"../");
        snprintf(abs, sizeof abs, "device_model=\"%s/%.*s/../", tu_path("."),
                 slash ? (int)(slash - relpath) : 1, slash ? relpath : ".");
        text = replace_all(text, from, abs);
    }
    snprintf(to, sizeof to, "%s/%s", dir, slash ? slash + 1 : relpath);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    free(text);
    char *b = ring_next();
    size_t len = strlen(to);
    ck_assert_uint_lt(len, sizeof ring[0]);
    memcpy(b, to, len + 1);
    return b;
}

eqs_ctx *tu_ctx(void)
{
    eqs_ctx *ctx = NULL;
    eqs_ctx_create(&ctx);
    return ctx;
}

char *tu_gen_drn_gain(const int *layers, int n, double gain, uint64_t seed)
{
    eqs_ctx *ctx = tu_ctx();
    eqs_drn_spec sp;
    eqs_drn_spec_defaults(&sp);
    sp.layers = layers;
    sp.n_layers = n;
    sp.seed = seed;
    if (gain > 0) sp.gain = gain;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(eqs_gen_drn(ctx, &sp, f), EQS_OK);
    fclose(f);
    eqs_ctx_free(&ctx);
    return buf;
}

char *tu_gen_drn(const int *layers, int n, uint64_t seed)
{
    return tu_gen_drn_gain(layers, n, 0.0, seed);
}

double tu_cosine(const double *a, const double *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; ++i) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    return (aa > 0 && bb > 0) ? ab / sqrt(aa * bb) : 0.0;
}

double tu_rel_l2(const double *a, const double *b, int n)
{
    double d = 0, r = 0;
    for (int i = 0; i < n; ++i) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        r += b[i] * b[i];
    }
    return sqrt(d / r);
}

double tu_loglog_slope(const double *x, const double *e, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; ++i) {
        double a = log(x[i]), b = log(e[i]);
        sx += a, sy += b, sxx += a * a, sxy += a * b;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

void tu_job_open(tu_job *j, const char *xml, int with_trainer)
{
    memset(j, 0, sizeof *j);
    j->ctx = tu_ctx();
    ck_assert_ptr_nonnull(j->ctx);
    eqs_status st = eqs_experiment_read(j->ctx, xml, &j->exp);
    if (st == EQS_OK) st = eqs_experiment_load_data(j->ctx, j->exp, &j->train, &j->test);
    if (st == EQS_OK) st = eqs_experiment_network(j->ctx, j->exp, &j->nl);
    if (st == EQS_OK) st = eqs_circuit_create(j->ctx, j->nl, &j->c);
    if (st == EQS_OK && with_trainer)
        st = eqs_trainer_create(j->ctx, j->exp, j->c, j->train, NULL, &j->tr);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(j->ctx));
}

void tu_job_close(tu_job *j)
{
    eqs_trainer_free(&j->tr);
    eqs_circuit_free(&j->c);
    eqs_netlist_free(&j->nl);
    eqs_dataset_free(&j->train);
    eqs_dataset_free(&j->test);
    eqs_experiment_free(&j->exp);
    eqs_ctx_free(&j->ctx);
}

double *tu_conductances(const eqs_circuit *c)
{
    int n = eqs_circuit_param_count(c);
    double *g = malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
    ck_assert_ptr_nonnull(g);
    for (int k = 0; k < n; ++k) g[k] = eqs_circuit_param_get(c, k);
    return g;
}

void tu_gfix_close(tu_gfix *f)
{
    eqs_eqprop_free(&f->ep);
    eqs_solver_free(&f->s);
    eqs_circuit_free(&f->c);
    eqs_netlist_free(&f->nl);
    free(f->y);
    free(f->adj);
    free(f->est);
    free(f->ref);
    free(f->fd);
    free(f->g);
    free(f->g0);
    free(f->v0);
    eqs_ctx_free(&f->ctx);
    memset(f, 0, sizeof *f);
}

void tu_gfix_open(tu_gfix *f, const char *text, const char *path, eqs_backend_id backend,
                  int itl1)
{
    memset(f, 0, sizeof *f);
    f->ctx = tu_ctx();
    eqs_status st = text ? eqs_netlist_read_string(f->ctx, text, "test.cir", &f->nl)
                         : eqs_netlist_read(f->ctx, path[0] == '/' ? path : tu_path(path), &f->nl);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
    ck_assert_int_eq(eqs_circuit_create(f->ctx, f->nl, &f->c), EQS_OK);
    eqs_solver_options opt;
    eqs_solver_options_defaults(&opt);
    opt.reltol = 1e-12;
    opt.vntol = 1e-12;
    opt.abstol = 1e-15;
    opt.explicit_mask = EQS_OPT_RELTOL | EQS_OPT_VNTOL | EQS_OPT_ABSTOL;
    if (itl1 > 0) {
        opt.itl1 = itl1;
        opt.gmin_steps = 0;
        opt.source_steps = 0;
    }
    ck_assert_int_eq(eqs_solver_create(f->ctx, f->c, backend, &opt, &f->s), EQS_OK);
    st = eqs_eqprop_create(f->ctx, f->s, &f->ep);
    ck_assert_msg(st == EQS_OK, "%s", eqs_ctx_error(f->ctx));
    f->np = eqs_circuit_param_count(f->c);
    f->nout = eqs_eqprop_output_count(f->ep);
    int nv = eqs_circuit_node_count(f->c);
    size_t np1 = (size_t)f->np + 1;
    f->y = calloc((size_t)f->nout + 1, sizeof *f->y);
    f->adj = calloc(np1, sizeof *f->adj);
    f->est = calloc(np1, sizeof *f->est);
    f->ref = calloc(np1, sizeof *f->ref);
    f->fd = calloc(np1, sizeof *f->fd);
    f->g = calloc(np1, sizeof *f->g);
    f->g0 = calloc(np1, sizeof *f->g0);
    f->v0 = calloc((size_t)nv + 1, sizeof *f->v0);
    ck_assert(f->y && f->adj && f->est && f->ref && f->fd && f->g && f->g0 && f->v0);
    ck_assert_int_eq(eqs_eqprop_set_targets(f->ep, f->y), EQS_OK);
    if (itl1 > 0) return;
    ck_assert_int_eq(eqs_eqprop_free_phase(f->ep, EQS_SOLVE_COLD, NULL), EQS_OK);
    const double *v = eqs_eqprop_voltages(f->ep, 0);
    for (int k = 0; k < f->nout; ++k)
        f->y[k] = v[eqs_eqprop_output_node(f->ep, k)] - v[eqs_eqprop_output_neg(f->ep, k)] +
                  0.05 * (1 + k % 3) * ((k % 2) ? -1.0 : 1.0);
    ck_assert_int_eq(eqs_eqprop_set_targets(f->ep, f->y), EQS_OK);
    ck_assert_int_eq(eqs_eqprop_free_phase(f->ep, EQS_SOLVE_WARM, NULL), EQS_OK);
    for (int k = 0; k < f->np; ++k) f->g0[k] = eqs_circuit_param_get(f->c, k);
    memcpy(f->v0, eqs_solver_voltages(f->s), (size_t)nv * sizeof *f->v0);
}

char **tu_file_lines(const char *path, int *n_out)
{
    char *text = tu_read_file(path);
    ck_assert_ptr_nonnull(text);
    int cap = 16, n = 0;
    char **lines = malloc((size_t)cap * sizeof *lines);
    for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
        if (n + 2 > cap) lines = realloc(lines, (size_t)(cap *= 2) * sizeof *lines);
        lines[n++] = strdup(p);
    }
    lines[n] = NULL;
    free(text);
    if (n_out) *n_out = n;
    return lines;
}

void tu_free_lines(char **lines)
{
    for (char **l = lines; *l; ++l) free(*l);
    free(lines);
}
