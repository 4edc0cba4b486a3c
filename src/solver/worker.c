/*
 * worker.c: one helper thread that runs the second half of a split loop
 * beside the caller (the layered solver's two-core training step,
 * docs/solver.md "Two cores").
 *
 * eqs_worker_run(w, fn, arg) calls fn(arg, 0) on the calling thread and
 * fn(arg, 1) on the helper, and returns when both are done.  Without a
 * helper (one core, or creation failed) it calls fn(arg, 0) then
 * fn(arg, 1) itself: the work is always split into the same two parts, so
 * the results do not depend on whether a helper exists or on timing.
 *
 * Hand-off: the caller publishes a new generation number; the helper
 * spins on it for a while (a training step hands work over twice within
 * a few milliseconds) and then sleeps on a condition variable; the caller
 * spins, then yields, until the helper reports the generation done.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "solver.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

/* Spin iterations before the helper sleeps (0.4-1 ms: a pause is 40-140
 * cycles depending on the CPU) and before the waiting caller starts
 * yielding its core. */
#define WK_SPIN_SLEEP 20000
#define WK_SPIN_YIELD 20000

struct eqs_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;  /* posted work */
    atomic_uint done; /* finished work */
    atomic_int quit;
    eqs_worker_fn fn;
    void *arg;
};

static inline void wk_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *wk_main(void *p)
{
    eqs_worker *w = p;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        long spins = 0;
        while ((g = atomic_load_explicit(&w->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&w->quit, memory_order_acquire)) {
            if (++spins < WK_SPIN_SLEEP) {
                wk_relax();
                continue;
            }
            pthread_mutex_lock(&w->mu);
            while (atomic_load_explicit(&w->gen, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&w->quit, memory_order_acquire))
                pthread_cond_wait(&w->cv, &w->mu);
            pthread_mutex_unlock(&w->mu);
            spins = 0;
        }
        if (atomic_load_explicit(&w->quit, memory_order_acquire)) return NULL;
        seen = g;
        w->fn(w->arg, 1);
        atomic_store_explicit(&w->done, g, memory_order_release);
    }
}

eqs_worker *eqs_worker_create(eqs_ctx *ctx)
{
    /* the cores this process may run on (taskset, cgroups), not the machine's */
    cpu_set_t set;
    long cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 2) return NULL;
    eqs_worker *w = eqs_calloc(ctx, 1, sizeof *w);
    if (!w) return NULL;
    atomic_init(&w->gen, 0);
    atomic_init(&w->done, 0);
    atomic_init(&w->quit, 0);
    if (pthread_mutex_init(&w->mu, NULL) != 0) goto fail_mu;
    if (pthread_cond_init(&w->cv, NULL) != 0) goto fail_cv;
    if (pthread_create(&w->thread, NULL, wk_main, w) != 0) goto fail_thread;
    return w;
fail_thread:
    pthread_cond_destroy(&w->cv);
fail_cv:
    pthread_mutex_destroy(&w->mu);
fail_mu:
    eqs_free(ctx, w);
    eqs_log(ctx, EQS_LOG_INFO, "layered solver: no helper thread, one core");
    return NULL;
}

void eqs_worker_run(eqs_worker *w, eqs_worker_fn fn, void *arg)
{
    if (!w) {
        fn(arg, 0);
        fn(arg, 1);
        return;
    }
    w->fn = fn;
    w->arg = arg;
    unsigned g = atomic_load_explicit(&w->gen, memory_order_relaxed) + 1;
    pthread_mutex_lock(&w->mu);
    atomic_store_explicit(&w->gen, g, memory_order_release);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    fn(arg, 0);
    long spins = 0;
    while (atomic_load_explicit(&w->done, memory_order_acquire) != g) {
        if (++spins < WK_SPIN_YIELD) wk_relax();
        else sched_yield();
    }
}

void eqs_worker_destroy(eqs_ctx *ctx, eqs_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    atomic_store_explicit(&w->quit, 1, memory_order_release);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    eqs_free(ctx, w);
}
