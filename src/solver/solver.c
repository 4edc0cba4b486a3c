/* solver.c: the generic solver object, option merging and backend dispatch. */
#include "solver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void eqs_solver_options_defaults(eqs_solver_options *opt)
{
    /* 1e-6, not SPICE's 1e-3: at 1e-3 Newton (ours and ngspice's) stops up
     * to 3.3e-5 V short of the operating point on the golden diode cases;
     * at 1e-6 the worst error is 6.7e-12 V for about one more iteration.
     * `.options reltol=1e-3` in a netlist restores SPICE behaviour. */
    opt->reltol = 1e-6;
    opt->abstol = 1e-12;
    opt->vntol = 1e-6;
    opt->gmin = 1e-12;
    opt->itl1 = 100;
    opt->gmin_steps = 10;
    opt->source_steps = 10;
    opt->max_step_V = 10.0;
    opt->use_netlist_options = 1;
    opt->explicit_mask = 0;
    opt->diodes = EQS_DIODES_SHOCKLEY;
    /* 1e-10 V: the layered and Newton solutions agree to ~1e-10 V on the
     * generated DRNs (tests/test_layered.c); training sets its own. */
    opt->bcd_tol_V = 1e-10;
    opt->bcd_max_sweeps = 10000;
    opt->single = 0;
    opt->threads = 2;
    opt->split_min = 1 << 18;
}

int eqs_backend_from_name(const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "newton")) return EQS_BACKEND_NEWTON;
    if (eqs_str_ieq(name, "ngspice")) return EQS_BACKEND_NGSPICE;
    if (eqs_str_ieq(name, "layered")) return EQS_BACKEND_LAYERED;
    if (eqs_str_ieq(name, "auto")) return EQS_BACKEND_AUTO;
    return -1;
}

int eqs_diode_kind_from_name(const char *name)
{
    if (!name) return -1;
    if (eqs_str_ieq(name, "shockley")) return EQS_DIODES_SHOCKLEY;
    if (eqs_str_ieq(name, "ideal")) return EQS_DIODES_IDEAL;
    return -1;
}

const char *eqs_diode_kind_name(eqs_diode_kind k)
{
    return k == EQS_DIODES_IDEAL ? "ideal" : "shockley";
}

eqs_backend_id eqs_solver_backend(const eqs_solver *s) { return s->id; }

int eqs_circuit_is_layered(const eqs_circuit *c, char *why, size_t why_len)
{
    eqs_layers *L = NULL;
    if (eqs_layers_detect(c->ctx, c, &L, why, why_len) != EQS_OK) return -1;
    int ok = L != NULL;
    eqs_layers_free(c->ctx, &L);
    return ok;
}

const char *eqs_backend_name(eqs_backend_id b)
{
    switch (b) {
    case EQS_BACKEND_NEWTON: return "newton";
    case EQS_BACKEND_NGSPICE: return "ngspice";
    case EQS_BACKEND_LAYERED: return "layered";
    case EQS_BACKEND_AUTO: return "auto";
    }
    return "unknown";
}

/* Backend selection (docs/solver.md, "Layered solver"): auto takes the
 * layered solver for a layered circuit, else Newton with one log line. */
static eqs_status select_backend(eqs_ctx *ctx, eqs_circuit *c, eqs_backend_id *backend,
                                 const eqs_solver_options *opt, eqs_layers **layers)
{
    *layers = NULL;
    int ideal = opt && opt->diodes == EQS_DIODES_IDEAL;
    if (*backend != EQS_BACKEND_AUTO && *backend != EQS_BACKEND_LAYERED) {
        if (ideal && c->has_nonlinear)
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "the %s solver cannot model ideal diodes (use the layered solver, "
                             "--solver layered)",
                             eqs_backend_name(*backend));
        return EQS_OK;
    }
    char why[512];
    eqs_status st = eqs_layers_detect(ctx, c, layers, why, sizeof why);
    if (st != EQS_OK) return st;
    if (*layers) {
        *backend = EQS_BACKEND_LAYERED;
        return EQS_OK;
    }
    for (int x = 0; x < c->nl->n_crossbars; ++x) /* wired crossbars (docs/solver.md) */
        if (c->nl->crossbars[x].rwire_ohm > 0) {
            char why2[512];
            if ((st = eqs_layers_detect_wired(ctx, c, layers, why2, sizeof why2))) return st;
            if (*layers) {
                *backend = EQS_BACKEND_LAYERED;
                return EQS_OK;
            }
            snprintf(why, sizeof why, "%s", why2);
            break;
        }
    const char *net = c->nl->path ? c->nl->path : "circuit";
    if (*backend == EQS_BACKEND_LAYERED || ideal)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "%s is not a layered network (%s): %s", net, why,
                         ideal ? "ideal diodes need the layered solver"
                               : "use --solver newton");
    eqs_log(ctx, EQS_LOG_INFO, "solver: %s is not layered (%s): using newton", net, why);
    *backend = EQS_BACKEND_NEWTON;
    return EQS_OK;
}

eqs_status eqs_solver_create(eqs_ctx *ctx, eqs_circuit *c, eqs_backend_id backend,
                             const eqs_solver_options *opt, eqs_solver **out)
{
    *out = NULL;
    const eqs_backend_ops *ops = NULL;
    eqs_layers *layers = NULL;
    const int asked_auto = backend == EQS_BACKEND_AUTO;
    if (backend == EQS_BACKEND_AUTO || backend == EQS_BACKEND_LAYERED ||
        backend == EQS_BACKEND_NEWTON || backend == EQS_BACKEND_NGSPICE) {
        eqs_status st = select_backend(ctx, c, &backend, opt, &layers);
        if (st != EQS_OK) return st;
    }
    switch (backend) {
    case EQS_BACKEND_NEWTON: ops = &eqs_backend_newton; break;
    case EQS_BACKEND_NGSPICE: ops = &eqs_backend_ngspice; break;
    case EQS_BACKEND_LAYERED: ops = &eqs_backend_layered; break;
    case EQS_BACKEND_AUTO: break;
    }
    if (!ops) return EQS_ERROR(ctx, EQS_ERR_INPUT, "unknown solver backend %d", (int)backend);

    eqs_solver *s = eqs_calloc(ctx, 1, sizeof *s);
    if (!s) {
        eqs_layers_free(ctx, &layers);
        return EQS_ERR_NOMEM;
    }
    s->ctx = ctx;
    s->c = c;
    s->ops = ops;
    s->id = backend;
    s->layers = layers;
    s->auto_layered = asked_auto && backend == EQS_BACKEND_LAYERED;
    if (opt) s->opt = *opt;
    else eqs_solver_options_defaults(&s->opt);
    if (s->opt.use_netlist_options) {
        const eqs_netlist_options *no = &c->nl->options;
        unsigned keep = s->opt.explicit_mask;
        if (no->reltol_set && !(keep & EQS_OPT_RELTOL)) s->opt.reltol = no->reltol;
        if (no->abstol_set && !(keep & EQS_OPT_ABSTOL)) s->opt.abstol = no->abstol;
        if (no->vntol_set && !(keep & EQS_OPT_VNTOL)) s->opt.vntol = no->vntol;
        if (no->gmin_set && !(keep & EQS_OPT_GMIN)) s->opt.gmin = no->gmin;
        if (no->itl1_set && !(keep & EQS_OPT_ITL1)) s->opt.itl1 = no->itl1;
    }
    if (!(s->opt.reltol > 0) || !(s->opt.abstol > 0) || !(s->opt.vntol > 0) ||
        !(s->opt.gmin >= 0) || s->opt.itl1 < 1 || !isfinite(s->opt.reltol)) {
        eqs_layers_free(ctx, &s->layers);
        eqs_free(ctx, s);
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "solver options out of range (reltol, abstol, vntol > 0, gmin >= 0, "
                         "itl1 >= 1)");
    }
    s->v = eqs_calloc(ctx, (size_t)c->n_user_nodes, sizeof *s->v);
    if (!s->v) {
        eqs_layers_free(ctx, &s->layers);
        eqs_free(ctx, s);
        return EQS_ERR_NOMEM;
    }
    eqs_status st = ops->create(s);
    if (st != EQS_OK) {
        eqs_solver_free(&s);
        return st;
    }
    *out = s;
    return EQS_OK;
}

void eqs_solver_free(eqs_solver **sp)
{
    if (!sp || !*sp) return;
    eqs_solver *s = *sp;
    if (s->ops && s->ops->destroy) s->ops->destroy(s);
    eqs_free(s->ctx, s->nudge.node);
    eqs_free(s->ctx, s->nudge.g);
    eqs_free(s->ctx, s->nudge.inj);
    eqs_free(s->ctx, s->nudge.pos);
    eqs_free(s->ctx, s->nudge.neg);
    eqs_free(s->ctx, s->nudge.pslot);
    eqs_free(s->ctx, s->nudge.pslot2);
    eqs_free(s->ctx, s->nudge.pg);
    eqs_free(s->ctx, s->nudge.pinj);
    eqs_free(s->ctx, s->v_saved);
    eqs_free(s->ctx, s->v);
    eqs_layers_free(s->ctx, &s->layers);
    eqs_solver_free(&s->fallback);
    eqs_free(s->ctx, s);
    *sp = NULL;
}

int eqs_solver_fallback_applies(const eqs_solver *s, eqs_status st)
{
    return s->auto_layered && s->opt.diodes == EQS_DIODES_SHOCKLEY &&
           (st == EQS_ERR_NOCONV || st == EQS_ERR_UNSUPPORTED);
}

eqs_status eqs_solver_fallback_begin(eqs_solver *s, eqs_status st, eqs_solver **fb)
{
    eqs_ctx *ctx = s->ctx;
    char why[512];
    const char *msg = eqs_ctx_error(ctx);
    if (!msg || !*msg) msg = eqs_strerror(st);
    if (strncmp(msg, "error: ", 7) == 0) msg += 7;
    snprintf(why, sizeof why, "%s", msg);
    s->fallbacks++;
    const char *net = s->c->nl && s->c->nl->path ? s->c->nl->path : "circuit";
    eqs_log(ctx, s->fallbacks == 1 ? EQS_LOG_WARN : EQS_LOG_INFO,
            "solver: %s: the layered solver failed (%s); solving with newton instead "
            "(fallback %ld; --solver layered reports the failure)",
            net, why, s->fallbacks);
    eqs_ctx_clear_error(ctx); /* the first error wins: make room for Newton's */
    if (!s->fallback) {
        eqs_solver_options o = s->opt; /* already merged with the netlist's .options */
        o.use_netlist_options = 0;
        eqs_status cs = eqs_solver_create(ctx, s->c, EQS_BACKEND_NEWTON, &o, &s->fallback);
        if (cs != EQS_OK) return cs;
    }
    *fb = s->fallback;
    return EQS_OK;
}

/* The single-solve fallback: Newton with s's nudge; its voltages into s->v. */
static eqs_status solve_fallback(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info,
                                 eqs_status st)
{
    eqs_solver *fb = NULL;
    eqs_status ns = eqs_solver_fallback_begin(s, st, &fb);
    if (ns != EQS_OK) return ns;
    const eqs_nudge *nu = &s->nudge;
    if (nu->np > 0) ns = eqs_solver_set_nudge_pairs(fb, nu->np, nu->pos, nu->neg, nu->pg, nu->pinj);
    else if (nu->n > 0) ns = eqs_solver_set_nudge(fb, nu->n, nu->node, nu->g, nu->inj);
    else eqs_solver_clear_nudge(fb);
    if (ns != EQS_OK) return ns;
    ns = eqs_solver_solve(fb, mode, info);
    if (ns != EQS_OK) return ns;
    memcpy(s->v, fb->v, (size_t)s->c->n_user_nodes * sizeof *s->v);
    return EQS_OK;
}

eqs_status eqs_solver_solve(eqs_solver *s, eqs_solve_mode mode, eqs_solve_info *info)
{
    eqs_solve_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    if (mode == EQS_SOLVE_WARM && !s->has_solution) mode = EQS_SOLVE_COLD;
    double t0 = eqs_now_s();
    s->last_full_refresh = 0;
    eqs_status st = s->ops->solve(s, mode, info);
    if (st != EQS_OK && eqs_solver_fallback_applies(s, st)) {
        memset(info, 0, sizeof *info);
        st = solve_fallback(s, mode, info, st);
        info->core_s = 0;
    }
    if (info->core_s == 0) info->core_s = eqs_now_s() - t0;
    s->has_solution = (st == EQS_OK);
    return st;
}

const double *eqs_solver_voltages(const eqs_solver *s) { return s->v; }

eqs_status eqs_solver_set_nudge(eqs_solver *s, int n, const int *nodes, const double *g_S,
                                const double *inj_A)
{
    const eqs_circuit *c = s->c;
    eqs_nudge *nu = &s->nudge;
    if (n < 0) return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "negative number of nudged nodes");
    for (int k = 0; k < n; ++k) {
        int nd = nodes[k];
        if (nd <= 0 || nd >= c->n_user_nodes)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "cannot nudge node index %d", nd);
        if (c->node_unknown[nd] < 0)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT,
                             "node '%s' is held by a voltage source and cannot be nudged",
                             c->node_names[nd]);
        if (!isfinite(g_S[k]) || !isfinite(inj_A[k]))
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "non-finite nudge at node '%s'",
                             c->node_names[nd]);
    }
    if (n > nu->cap) { /* setup: grows once, later nudges reuse the arrays */
        int *nn = eqs_malloc(s->ctx, (size_t)n * sizeof *nn);
        double *ng = eqs_malloc(s->ctx, (size_t)n * sizeof *ng);
        double *ni = eqs_malloc(s->ctx, (size_t)n * sizeof *ni);
        if (!nn || !ng || !ni) {
            eqs_free(s->ctx, nn);
            eqs_free(s->ctx, ng);
            eqs_free(s->ctx, ni);
            return EQS_ERR_NOMEM;
        }
        eqs_free(s->ctx, nu->node);
        eqs_free(s->ctx, nu->g);
        eqs_free(s->ctx, nu->inj);
        nu->node = nn;
        nu->g = ng;
        nu->inj = ni;
        nu->cap = n;
    }
    for (int k = 0; k < n; ++k) {
        nu->node[k] = nodes[k];
        nu->g[k] = g_S[k];
        nu->inj[k] = inj_A[k];
    }
    nu->n = n;
    nu->np = 0;
    return EQS_OK;
}

eqs_status eqs_solver_set_nudge_pairs(eqs_solver *s, int n, const int *pos, const int *neg,
                                      const double *g_S, const double *inj_A)
{
    const eqs_circuit *c = s->c;
    eqs_nudge *nu = &s->nudge;
    if (n < 0) return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "negative number of nudged pairs");
    for (int k = 0; k < n; ++k) {
        int p = pos[k], q = neg[k];
        if (p < 0 || p >= c->n_user_nodes || q < 0 || q >= c->n_user_nodes)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "cannot nudge node pair (%d, %d)", p, q);
        if (p == q)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "nudged pair has node '%s' twice",
                             c->node_names[p]);
        int up = c->node_unknown[p], uq = c->node_unknown[q];
        if (up < 0 && uq < 0)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT,
                             "pair '%s' '%s': both nodes are ground or held by voltage sources "
                             "and cannot be nudged",
                             c->node_names[p], c->node_names[q]);
        if (up >= 0 && uq >= 0 && eqs_circuit_find_slot(c, up, uq) < 0)
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT,
                             "pair '%s' '%s' is not an .output_pair of the netlist (its coupling "
                             "is not in the compiled pattern)",
                             c->node_names[p], c->node_names[q]);
        if (!isfinite(g_S[k]) || !isfinite(inj_A[k]))
            return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "non-finite nudge at pair '%s' '%s'",
                             c->node_names[p], c->node_names[q]);
    }
    if (n > nu->pcap) { /* setup: grows once */
        size_t m = (size_t)n;
        int *a = eqs_malloc(s->ctx, m * sizeof *a), *b = eqs_malloc(s->ctx, m * sizeof *b);
        int *sl = eqs_malloc(s->ctx, m * sizeof *sl), *sl2 = eqs_malloc(s->ctx, m * sizeof *sl2);
        double *g = eqs_malloc(s->ctx, m * sizeof *g), *in = eqs_malloc(s->ctx, m * sizeof *in);
        if (!a || !b || !sl || !sl2 || !g || !in) {
            eqs_free(s->ctx, a);
            eqs_free(s->ctx, b);
            eqs_free(s->ctx, sl);
            eqs_free(s->ctx, sl2);
            eqs_free(s->ctx, g);
            eqs_free(s->ctx, in);
            return EQS_ERR_NOMEM;
        }
        eqs_free(s->ctx, nu->pos);
        eqs_free(s->ctx, nu->neg);
        eqs_free(s->ctx, nu->pslot);
        eqs_free(s->ctx, nu->pslot2);
        eqs_free(s->ctx, nu->pg);
        eqs_free(s->ctx, nu->pinj);
        nu->pos = a;
        nu->neg = b;
        nu->pslot = sl;
        nu->pslot2 = sl2;
        nu->pg = g;
        nu->pinj = in;
        nu->pcap = n;
    }
    for (int k = 0; k < n; ++k) {
        int up = c->node_unknown[pos[k]], uq = c->node_unknown[neg[k]];
        nu->pos[k] = pos[k];
        nu->neg[k] = neg[k];
        nu->pg[k] = g_S[k];
        nu->pinj[k] = inj_A[k];
        nu->pslot[k] = (up >= 0 && uq >= 0) ? eqs_circuit_find_slot(c, up, uq) : -1;
        nu->pslot2[k] =
            (up >= 0 && uq >= 0 && !c->reciprocal) ? eqs_circuit_find_slot(c, uq, up) : -1;
    }
    nu->np = n;
    nu->n = 0;
    return EQS_OK;
}

void eqs_solver_clear_nudge(eqs_solver *s)
{
    s->nudge.n = 0;
    s->nudge.np = 0;
}

eqs_status eqs_solver_save_state(eqs_solver *s)
{
    if (!s->has_solution)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "no solution to save: solve first");
    size_t nv = (size_t)s->c->n_user_nodes;
    if (!s->v_saved) {
        s->v_saved = eqs_malloc(s->ctx, nv * sizeof *s->v_saved);
        if (!s->v_saved) return EQS_ERR_NOMEM;
    }
    if (s->ops->save_state) {
        eqs_status st = s->ops->save_state(s);
        if (st != EQS_OK) return st;
    }
    memcpy(s->v_saved, s->v, nv * sizeof *s->v);
    s->has_saved = 1;
    return EQS_OK;
}

eqs_status eqs_solver_restore_state(eqs_solver *s)
{
    if (!s->has_saved)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "no saved solver state to restore");
    if (s->ops->restore_state) {
        eqs_status st = s->ops->restore_state(s);
        if (st != EQS_OK) return st;
    }
    memcpy(s->v, s->v_saved, (size_t)s->c->n_user_nodes * sizeof *s->v);
    s->has_solution = 1;
    return EQS_OK;
}

eqs_status eqs_solver_adjoint(eqs_solver *s, const double *b, double *lambda)
{
    if (!s->ops->adjoint)
        return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                         "the %s solver cannot do adjoint solves (use the newton solver)",
                         s->ops->name);
    if (!s->has_solution)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "adjoint solve needs a solution: solve first");
    return s->ops->adjoint(s, b, lambda);
}

/* ---- non-conservative EqProp (ncep) hooks ---------------------------- */

eqs_status eqs_solver_ncep_capture(eqs_solver *s, double *a_max)
{
    if (!s->ops->ncep_capture)
        return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                         "the %s solver cannot add the ncep correction (use the newton solver)",
                         s->ops->name);
    if (!s->has_solution)
        return EQS_ERROR(s->ctx, EQS_ERR_INPUT, "ncep: solve the free state first");
    return s->ops->ncep_capture(s, a_max);
}

eqs_status eqs_solver_ncep_enable(eqs_solver *s, int on)
{
    if (!s->ops->ncep_enable) {
        if (!on) return EQS_OK;
        return EQS_ERROR(s->ctx, EQS_ERR_UNSUPPORTED,
                         "the %s solver cannot add the ncep correction (use the newton solver)",
                         s->ops->name);
    }
    return s->ops->ncep_enable(s, on);
}

int eqs_solver_full_refresh(const eqs_solver *s) { return s ? s->last_full_refresh : 0; }
