/*
 * ngspice.c: the ngspice backend (the only file that includes sharedspice.h).
 *
 * libngspice (39.x) is loaded at run time with dlopen(RTLD_LOCAL) so that it
 * can be unloaded and loaded again after a fatal error: ngspice then calls
 * the ControlledExit callback and is unusable until re-loaded.  All of
 * ngspice's process-wide state lives here in file-static variables (the one
 * exception to "no mutable globals"), and every use of the library is
 * serialised by one static mutex.
 *
 * One solve: build the deck from the circuit's *current* values
 * (eqs_deck_build), ngSpice_Circ(deck), ngSpice_Command("op"), read every
 * user node with ngGet_Vec_Info (copied, never freed), then "destroy all"
 * and "remcirc" so that plots and circuits do not pile up over thousands of
 * solves.  ngspice's return codes are 0 even when it fails, so failure is
 * read from its messages (SendChar), from the current plot and from the
 * vectors themselves.  Nothing ngspice prints reaches the terminal: every
 * line goes to the context log at DEBUG level.
 */
#include "solver.h"

#include <ctype.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sharedspice.h>

#define NG_LIBNAME "libngspice.so.0"
#define NG_NLINES 6       /* remembered error-ish stderr lines */
#define NG_LINE_MAX 240   /* characters kept per remembered line */

typedef int (*ng_init_fn)(SendChar *, SendStat *, ControlledExit *, SendData *, SendInitData *,
                          BGThreadRunning *, void *);
typedef int (*ng_command_fn)(char *);
typedef int (*ng_circ_fn)(char **);
typedef pvector_info (*ng_vecinfo_fn)(char *);
typedef char *(*ng_curplot_fn)(void);
typedef char **(*ng_allplots_fn)(void);

/* One value of the SendData snapshot of the last analysis point. */
typedef struct {
    char *name;
    double value;
} ng_snap;

/* ---- process-wide ngspice state (guarded by ng_lock) ---- */
static pthread_mutex_t ng_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *handle;            /* dlopen handle, NULL when not loaded */
    ng_init_fn init;
    ng_command_fn command;
    ng_circ_fn circ;
    ng_vecinfo_fn vec_info;
    ng_curplot_fn cur_plot;
    ng_allplots_fn all_plots;
    int dead;                /* ControlledExit was called: reload before use */
    int exit_status;         /* its status */
    int exit_quit;           /* 1: exit upon 'quit', 0: upon an error */
    int loads;               /* how many times the library was loaded */
    char version[64];        /* "ngspice-39" from the banner */
} ng;

/* Per-call state, valid while ng_lock is held. */
static struct {
    eqs_ctx *ctx;            /* receives the log lines */
    int failed;              /* a message said the circuit or the analysis failed */
    int error_lines;         /* stderr lines mentioning "error" */
    double op_s;             /* wall time of the last "op" command (s) */
    char lines[NG_NLINES][NG_LINE_MAX]; /* last significant stderr lines (ring) */
    int n_lines;
    int iterations;          /* parsed from "Total iterations = N", -1 unknown */
    int counting;            /* 1 while "setcirc" lists circuits */
    int n_circuits;
    ng_snap *snap;           /* SendData snapshot (names owned) */
    int n_snap;
    size_t snap_cap;
    int snap_failed;         /* allocation failure while snapshotting */
    char singular[NG_LINE_MAX]; /* first "singular matrix" warning, "" if none */
} call;

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

static int ci_contains(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; ++s) {
        size_t k = 0;
        while (k < n && s[k] && tolower((unsigned char)s[k]) == word[k]) ++k;
        if (k == n) return 1;
    }
    return 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void remember_line(const char *text)
{
    char *dst = call.lines[call.n_lines % NG_NLINES];
    snprintf(dst, NG_LINE_MAX, "%s", text);
    /* strip trailing blanks */
    size_t n = strlen(dst);
    while (n > 0 && isspace((unsigned char)dst[n - 1])) dst[--n] = '\0';
    if (n > 0) call.n_lines++;
}

/* SendChar: every line ngspice prints, prefixed "stdout " or "stderr ". */
static int cb_send_char(char *line, int id, void *user)
{
    (void)id;
    (void)user;
    if (!line) return 0;
    if (call.ctx) eqs_log(call.ctx, EQS_LOG_DEBUG, "ngspice: %s", line);
    int is_err = starts_with(line, "stderr ");
    const char *text = line;
    if (is_err || starts_with(line, "stdout ")) text += 7;

    if (!ng.version[0] && starts_with(text, "** ngspice-")) {
        const char *v = text + 3;
        size_t n = strcspn(v, " \t:");
        if (n >= sizeof ng.version) n = sizeof ng.version - 1;
        memcpy(ng.version, v, n);
        ng.version[n] = '\0';
    }
    if (call.counting) {
        /* "setcirc" lists "<k>\t<title>" or "Current\t<k>\t<title>" */
        const char *p = text;
        if (starts_with(p, "Current")) p += 7;
        while (*p == ' ' || *p == '\t') ++p;
        if (isdigit((unsigned char)*p)) {
            while (isdigit((unsigned char)*p)) ++p;
            if (*p == '\t' || *p == ' ') call.n_circuits++;
        }
        return 0;
    }
    const char *it = strstr(text, "Total iterations =");
    if (it) call.iterations = atoi(it + strlen("Total iterations ="));

    if (ci_contains(text, "simulation(s) aborted") || ci_contains(text, "dc solution failed") ||
        ci_contains(text, "circuit not parsed") || ci_contains(text, "cannot recover"))
        call.failed = 1;
    if (is_err && !call.singular[0] && ci_contains(text, "singular matrix")) {
        snprintf(call.singular, sizeof call.singular, "%s", text);
        size_t n = strlen(call.singular);
        while (n > 0 && isspace((unsigned char)call.singular[n - 1])) call.singular[--n] = '\0';
    }
    if (is_err) {
        if (ci_contains(text, "error")) call.error_lines++;
        /* Remember what explains a failure; skip notes and the
         * gmin/source-stepping chatter. */
        if (!starts_with(text, "Note:") && !starts_with(text, "Trying gmin") &&
            !starts_with(text, "Supplies reduced") && !starts_with(text, "Warning: Further") &&
            !starts_with(text, "Warning: singular") && !starts_with(text, "Warning: Last gmin") &&
            !starts_with(text, "Warning: Dynamic gmin") && !starts_with(text, "Warning: True gmin"))
            remember_line(text);
    }
    return 0;
}

static int cb_send_stat(char *status, int id, void *user)
{
    (void)status;
    (void)id;
    (void)user;
    return 0;
}

/* ControlledExit: ngspice is finished (fatal error or 'quit').  Only mark
 * it; unloading happens on the next use, after ngspice has returned. */
static int cb_exit(int status, NG_BOOL immediate, NG_BOOL quit, int id, void *user)
{
    (void)immediate;
    (void)id;
    (void)user;
    ng.dead = 1;
    ng.exit_status = status;
    ng.exit_quit = quit ? 1 : 0;
    call.failed = 1;
    if (call.ctx)
        eqs_log(call.ctx, EQS_LOG_DEBUG, "ngspice: controlled exit (status %d, %s)", status,
                quit ? "quit" : "error");
    return 0;
}

/* SendData: values of all vectors at the (single) op point.  Kept as a
 * fallback for node names that ngGet_Vec_Info interprets specially
 * (e.g. "all"). */
static int cb_send_data(pvecvaluesall all, int count, int id, void *user)
{
    (void)count;
    (void)id;
    (void)user;
    if (!call.ctx || !all) return 0;
    /* an op has one point; keep only the latest one */
    for (int k = 0; k < call.n_snap; ++k) eqs_free(call.ctx, call.snap[k].name);
    call.n_snap = 0;
    if (all->veccount > 0 &&
        eqs_grow(call.ctx, (void **)&call.snap, &call.snap_cap, (size_t)all->veccount,
                 sizeof *call.snap) != EQS_OK) {
        call.snap_failed = 1;
        return 0;
    }
    for (int i = 0; i < all->veccount; ++i) {
        pvecvalues v = all->vecsa[i];
        if (!v || !v->name) continue;
        char *name = eqs_strdup(call.ctx, v->name);
        if (!name) {
            call.snap_failed = 1;
            return 0;
        }
        call.snap[call.n_snap].name = name;
        call.snap[call.n_snap].value = v->creal;
        call.n_snap++;
    }
    return 0;
}

static int cb_send_init_data(pvecinfoall info, int id, void *user)
{
    (void)info;
    (void)id;
    (void)user;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */
/* ------------------------------------------------------------------ */

static void unload_library(void)
{
    if (ng.handle) dlclose(ng.handle);
    ng.handle = NULL;
    ng.init = NULL;
    ng.command = NULL;
    ng.circ = NULL;
    ng.vec_info = NULL;
    ng.cur_plot = NULL;
    ng.all_plots = NULL;
    ng.dead = 0;
}

/* Make sure a live, initialised library is loaded (lock held). */
static eqs_status ensure_loaded(eqs_ctx *ctx)
{
    if (ng.handle && ng.dead) {
        eqs_log(ctx, EQS_LOG_DEBUG, "ngspice: reloading %s after a controlled exit", NG_LIBNAME);
        unload_library();
        /* dlclose may keep the library mapped (then its state survives) */
        void *still = dlopen(NG_LIBNAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (still) {
            dlclose(still);
            return EQS_ERROR(ctx, EQS_ERR_NGSPICE,
                             "ngspice: the library had a fatal error and cannot be unloaded "
                             "for a fresh start");
        }
    }
    if (ng.handle) return EQS_OK;

    dlerror();
    void *h = dlopen(NG_LIBNAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        /* an installation problem, not the user's circuit: exit 2 */
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL, "ngspice: cannot load %s: %s", NG_LIBNAME,
                         why ? why : "unknown reason");
    }
    ng.handle = h;
    ng.init = (ng_init_fn)dlsym(h, "ngSpice_Init");
    ng.command = (ng_command_fn)dlsym(h, "ngSpice_Command");
    ng.circ = (ng_circ_fn)dlsym(h, "ngSpice_Circ");
    ng.vec_info = (ng_vecinfo_fn)dlsym(h, "ngGet_Vec_Info");
    ng.cur_plot = (ng_curplot_fn)dlsym(h, "ngSpice_CurPlot");
    ng.all_plots = (ng_allplots_fn)dlsym(h, "ngSpice_AllPlots");
    if (!ng.init || !ng.command || !ng.circ || !ng.vec_info || !ng.cur_plot || !ng.all_plots) {
        unload_library();
        return EQS_ERROR(ctx, EQS_ERR_INTERNAL,
                         "ngspice: %s lacks the shared-library API (ngSpice_Init, ...)",
                         NG_LIBNAME);
    }
    ng.dead = 0;
    ng.loads++;
    int rc = ng.init(cb_send_char, cb_send_stat, cb_exit, cb_send_data, cb_send_init_data, NULL,
                     NULL);
    if (rc != 0 || ng.dead) {
        unload_library();
        return EQS_ERROR(ctx, EQS_ERR_NGSPICE, "ngspice: ngSpice_Init failed (%d)", rc);
    }
    eqs_log(ctx, EQS_LOG_DEBUG, "ngspice: loaded %s (%s, load %d)", NG_LIBNAME,
            ng.version[0] ? ng.version : "unknown version", ng.loads);
    return EQS_OK;
}

/* ------------------------------------------------------------------ */
/* One call                                                            */
/* ------------------------------------------------------------------ */

static void call_begin(eqs_ctx *ctx)
{
    call.ctx = ctx;
    call.failed = 0;
    call.error_lines = 0;
    call.n_lines = 0;
    call.iterations = -1;
    call.counting = 0;
    call.n_circuits = 0;
    call.n_snap = 0;
    call.snap_failed = 0;
    call.singular[0] = '\0';
}

static void call_end(void)
{
    if (call.ctx) {
        for (int k = 0; k < call.n_snap; ++k) eqs_free(call.ctx, call.snap[k].name);
        eqs_free(call.ctx, call.snap);
    }
    call.snap = NULL;
    call.snap_cap = 0;
    call.n_snap = 0;
    call.ctx = NULL;
}

/* Join the remembered stderr lines into `buf`, oldest first. */
static const char *call_message(char *buf, size_t size)
{
    buf[0] = '\0';
    int n = call.n_lines < NG_NLINES ? call.n_lines : NG_NLINES;
    size_t used = 0;
    for (int k = call.n_lines - n; k < call.n_lines; ++k) {
        const char *l = call.lines[k % NG_NLINES];
        int w = snprintf(buf + used, size - used, "%s%s", used ? " | " : "", l);
        if (w < 0 || (size_t)w >= size - used) break;
        used += (size_t)w;
    }
    if (!buf[0]) snprintf(buf, size, "no diagnostic message");
    return buf;
}

static eqs_status call_error(eqs_ctx *ctx, const char *what)
{
    char msg[NG_NLINES * (NG_LINE_MAX + 3) + 64];
    call_message(msg, sizeof msg);
    if (ng.dead)
        return EQS_ERROR(ctx, EQS_ERR_NGSPICE,
                         "ngspice: %s: %s (fatal: ngspice exited with status %d and will be "
                         "reloaded)",
                         what, msg, ng.exit_status);
    return EQS_ERROR(ctx, EQS_ERR_NGSPICE, "ngspice: %s: %s", what, msg);
}

/* Remove every plot and circuit (lock held, library alive). */
static void cleanup_ngspice(void)
{
    if (!ng.handle || ng.dead) return;
    int failed = call.failed, errs = call.error_lines, nl = call.n_lines;
    char cmd_destroy[] = "destroy all";
    char cmd_remcirc[] = "remcirc";
    ng.command(cmd_destroy);
    /* One remcirc per circuit; a failed parse may leave one behind too. */
    for (int k = 0; k < 4 && !ng.dead; ++k) {
        char cmd_setcirc[] = "setcirc";
        call.counting = 1;
        call.n_circuits = 0;
        ng.command(cmd_setcirc);
        call.counting = 0;
        if (call.n_circuits == 0) break;
        ng.command(cmd_remcirc);
    }
    /* cleanup chatter ("no circuit loaded") is not the caller's failure */
    call.failed = failed;
    call.error_lines = errs;
    call.n_lines = nl;
}

/* Number of plots other than the permanent "const" plot (lock held). */
static int count_plots(void)
{
    char **pl = ng.all_plots();
    int n = 0;
    for (int i = 0; pl && pl[i]; ++i)
        if (strcmp(pl[i], "const") != 0) n++;
    return n;
}

static int count_circuits(void)
{
    char cmd_setcirc[] = "setcirc";
    call.counting = 1;
    call.n_circuits = 0;
    ng.command(cmd_setcirc);
    call.counting = 0;
    return call.n_circuits;
}

/* 1 when the deck (title first) has at least one element line.  libngspice
 * 39 segfaults in "op" (in its SendData path) on a deck without elements,
 * and on one whose elements touch only ground (no vector at all); the
 * circuit compiler refuses both, this guards raw decks. */
static int deck_has_element(char **deck)
{
    if (!deck || !deck[0]) return 0;
    int in_control = 0; /* .control ... .endc holds commands, not elements */
    for (int k = 1; deck[k]; ++k) {
        const char *p = deck[k];
        while (*p == ' ' || *p == '\t') ++p;
        if (!strncasecmp(p, ".control", 8)) in_control = 1;
        else if (!strncasecmp(p, ".endc", 5)) in_control = 0;
        if (in_control) continue;
        if (!strncasecmp(p, ".end", 4) && (p[4] == '\0' || p[4] == ' ' || p[4] == '\t' ||
                                          p[4] == '\n' || p[4] == '\r'))
            break; /* ngspice reads nothing after .end */
        if (*p && *p != '.' && *p != '*' && *p != '+' && *p != ';') return 1;
        /* a raw deck (eqs_ngspice_run_deck) may take its elements from a
         * file; decks built from a circuit never include one */
        if (!strncasecmp(p, ".inc", 4) || !strncasecmp(p, ".lib", 4)) return 1;
    }
    return 0;
}

/* libngspice 39 segfaults while parsing a deck in which a node or a model
 * is named "temper" (its circuit-temperature variable; any case). */
static const char ng_reserved[] = "temper";

/* 1 when a line of the deck has the token "temper" (delimited by blanks,
 * '=', '(', ')' or ','); comment lines are skipped. */
static int deck_has_reserved(char **deck, int *line)
{
    size_t n = sizeof ng_reserved - 1;
    for (int k = 1; deck && deck[k]; ++k) {
        const char *p = deck[k];
        while (*p == ' ' || *p == '\t') ++p;
        if (*p == '*') continue;
        for (const char *q = p; *q;) {
            size_t len = strcspn(q, " \t=(),");
            if (len == n && !strncasecmp(q, ng_reserved, n)) {
                *line = k + 1;
                return 1;
            }
            q += len;
            while (*q && strchr(" \t=(),", *q)) ++q;
        }
    }
    return 0;
}

/* Load `deck`, run "op", check that it worked (lock held, library loaded). */
static eqs_status run_op(eqs_ctx *ctx, char **deck)
{
    if (!deck_has_element(deck))
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "ngspice: the deck has no element: nothing to simulate (libngspice "
                         "would crash)");
    int bad_line = 0;
    if (deck_has_reserved(deck, &bad_line))
        return EQS_ERROR(ctx, EQS_ERR_UNSUPPORTED,
                         "ngspice: line %d of the deck uses the name '%s', which makes "
                         "libngspice 39 crash (it is ngspice's temperature variable): rename it",
                         bad_line, ng_reserved);
    int rc = ng.circ(deck);
    if (ng.dead || rc != 0 || call.failed || call.error_lines > 0)
        return call_error(ctx, "the circuit was rejected");
    char cmd_op[] = "op";
    double t0 = eqs_now_s();
    rc = ng.command(cmd_op);
    call.op_s = eqs_now_s() - t0;
    if (ng.dead || rc != 0 || call.failed || call.error_lines > 0)
        return call_error(ctx, "the operating point failed");
    const char *plot = ng.cur_plot();
    if (!plot || strncmp(plot, "op", 2) != 0)
        return call_error(ctx, "no operating-point plot was produced");
    /* A singular circuit (a loop of negative and positive resistances
     * summing to zero, E driving its own control, H through its own
     * source) still ends with a plot after gmin stepping, holding
     * voltages of 1e9 V or 0: refuse it, as Newton does. */
    if (call.singular[0])
        return EQS_ERROR(ctx, EQS_ERR_NGSPICE,
                         "ngspice: the circuit has no unique operating point (%s); its answer "
                         "would be meaningless",
                         call.singular);
    return EQS_OK;
}

/* Ask ngGet_Vec_Info for `query`; accept the vector when ngspice names it
 * `name` or `v(name)` (numeric node names such as "2" are only found as
 * "v(2)").  Returns 1 and stores the value, 0 if not found. */
static int query_vector(const char *query, const char *name, const char *vname, double *out)
{
    char buf[600];
    memcpy(buf, query, strlen(query) + 1);
    int errs = call.error_lines, nl = call.n_lines;
    pvector_info v = ng.vec_info(buf);
    call.error_lines = errs; /* "vector not found" is handled by the caller */
    call.n_lines = nl;
    if (v && v->v_name && (eqs_str_ieq(v->v_name, name) || eqs_str_ieq(v->v_name, vname)) &&
        v->v_realdata && v->v_length >= 1) {
        *out = v->v_realdata[0];
        return 1;
    }
    return 0;
}

/* Value of node `name` at the op point (lock held, op succeeded). */
static eqs_status read_vector(eqs_ctx *ctx, const char *name, double *out)
{
    char vname[600];
    if (strlen(name) >= 512)
        return EQS_ERROR(ctx, EQS_ERR_NGSPICE, "ngspice: node name too long: %.40s...", name);
    snprintf(vname, sizeof vname, "v(%s)", name);
    if (!query_vector(name, name, vname, out) && !query_vector(vname, name, vname, out)) {
        /* ngGet_Vec_Info parses its argument ("all", "plot.vec", ...):
         * fall back to the values SendData delivered for the op point. */
        int k;
        for (k = 0; k < call.n_snap; ++k)
            if (eqs_str_ieq(call.snap[k].name, name) || eqs_str_ieq(call.snap[k].name, vname))
                break;
        if (k == call.n_snap && call.snap_failed) return EQS_ERR_NOMEM;
        if (k == call.n_snap)
            return EQS_ERROR(ctx, EQS_ERR_NGSPICE,
                             "ngspice: no result for node '%s' in plot %s", name,
                             ng.cur_plot() ? ng.cur_plot() : "?");
        *out = call.snap[k].value;
    }
    if (!isfinite(*out))
        return EQS_ERROR(ctx, EQS_ERR_NGSPICE, "ngspice: node '%s' has a non-finite voltage",
                         name);
    return EQS_OK;
}

eqs_status eqs_ngspice_run_deck(eqs_ctx *ctx, char **deck, int n, const char *const *names,
                                double *values, int *n_plots, int *n_circuits)
{
    pthread_mutex_lock(&ng_lock);
    call_begin(ctx);
    eqs_status st = ensure_loaded(ctx);
    if (st == EQS_OK && deck) {
        st = run_op(ctx, deck);
        for (int k = 0; st == EQS_OK && k < n; ++k) st = read_vector(ctx, names[k], &values[k]);
    }
    if (ng.handle && !ng.dead) cleanup_ngspice();
    if (st == EQS_OK && ng.handle && !ng.dead) {
        if (n_plots) *n_plots = count_plots();
        if (n_circuits) *n_circuits = count_circuits();
    }
    call_end();
    pthread_mutex_unlock(&ng_lock);
    return st;
}

/* ------------------------------------------------------------------ */
/* Backend                                                             */
/* ------------------------------------------------------------------ */

static eqs_status ng_create(eqs_solver *s)
{
    /* Load the library now so that a missing libngspice shows at once. */
    pthread_mutex_lock(&ng_lock);
    call_begin(s->ctx);
    eqs_status st = ensure_loaded(s->ctx);
    call_end();
    pthread_mutex_unlock(&ng_lock);
    if (st != EQS_OK) return st;
    /* libngspice 39 crashes in "op" when the circuit has no vector (no
     * node but ground); eqs_circuit_create refuses such netlists, this
     * keeps circuits built otherwise away from the library. */
    if (s->c->n_elems == 0 || s->c->n_nodes <= 1)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT,
                         "ngspice: the circuit has no node besides ground: nothing to simulate");
    const eqs_netlist *nl = s->c->nl;
    for (int k = 1; k < s->c->n_user_nodes; ++k)
        if (eqs_str_ieq(s->c->node_names[k], ng_reserved))
            return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                             "ngspice: node '%s' cannot be simulated by ngspice: libngspice 39 "
                             "crashes on a node named '%s' (its temperature variable); rename it",
                             s->c->node_names[k], ng_reserved);
    for (int k = 0; k < nl->n_models; ++k)
        if (eqs_str_ieq(nl->models[k].name, ng_reserved))
            return EQS_ERROR_AT(s->ctx, EQS_ERR_UNSUPPORTED, nl->models[k].loc,
                                "ngspice: libngspice 39 crashes on a model named '%s' (its "
                                "temperature variable); rename it",
                                ng_reserved);
    /* Check that the circuit can be written as a deck. */
    char **deck = NULL;
    st = eqs_deck_build(s->ctx, s->c, &s->opt, 0, &deck);
    eqs_deck_free(s->ctx, &deck);
    s->impl = NULL;
    return st;
}

/* Solve: the deck is built from the circuit's current values each time
 * (conductances and sources change between solves).  ngspice has no warm
 * start across circuits, so `mode` is ignored. */
static eqs_status ng_solve(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info)
{
    (void)mode;
    eqs_ctx *ctx = s->ctx;
    const eqs_circuit *c = s->c;
    char **deck = NULL;
    eqs_status st = eqs_deck_build_nudged(ctx, c, &s->opt, &s->nudge, 0, &deck);
    if (st != EQS_OK) return st;

    pthread_mutex_lock(&ng_lock);
    call_begin(ctx);
    st = ensure_loaded(ctx);
    if (st == EQS_OK) st = run_op(ctx, deck);
    if (st == EQS_OK) {
        s->v[0] = 0.0;
        for (int k = 1; st == EQS_OK && k < c->n_user_nodes; ++k) {
            double val = 0.0;
            st = read_vector(ctx, c->node_names[k], &val);
            if (st == EQS_OK) s->v[k] = val;
        }
    }
    if (st == EQS_OK && !ng.dead) {
        char cmd_rusage[] = "rusage totiter";
        ng.command(cmd_rusage);
    }
    int iterations = call.iterations;
    if (ng.handle && !ng.dead) cleanup_ngspice();
    call_end();
    pthread_mutex_unlock(&ng_lock);
    eqs_deck_free(ctx, &deck);

    if (info) {
        info->backend = "ngspice";
        info->core_s = call.op_s;
        info->iterations = iterations > 0 ? iterations : 0;
        info->residual_A = 0.0;
        info->max_update_V = 0.0;
    }
    return st;
}

static void ng_destroy(eqs_solver *s)
{
    if (s) s->impl = NULL;
}

const eqs_backend_ops eqs_backend_ngspice = {
    .name = "ngspice",
    .create = ng_create,
    .solve = ng_solve,
    .destroy = ng_destroy,
};
