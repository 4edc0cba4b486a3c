/* context.c: the eqs_ctx (errors, logging, allocation counters, RNG). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "core.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* The default allocator: libc. */
static void *libc_malloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}
static void *libc_realloc(void *user, void *p, size_t size)
{
    (void)user;
    return realloc(p, size);
}
static void libc_free(void *user, void *p)
{
    (void)user;
    free(p);
}
static const eqs_allocator libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};

eqs_status eqs_ctx_create(eqs_ctx **out)
{
    if (!out) return EQS_ERR_INPUT;
    eqs_ctx *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return EQS_ERR_NOMEM;
    ctx->alloc = libc_allocator;
    ctx->log_max = EQS_LOG_WARN;
    eqs_ctx_seed(ctx, 1);
    return EQS_OK;
}

void eqs_ctx_free(eqs_ctx **ctx)
{
    if (!ctx || !*ctx) return;
    free(*ctx);
    *ctx = NULL;
}

void eqs_ctx_set_log(eqs_ctx *ctx, eqs_log_fn fn, void *user, eqs_log_level max_level)
{
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->log_max = max_level;
}

eqs_status eqs_ctx_status(const eqs_ctx *ctx) { return ctx->status; }
const char *eqs_ctx_error(const eqs_ctx *ctx) { return ctx->message; }
uint64_t eqs_ctx_alloc_count(const eqs_ctx *ctx) { return ctx->n_alloc; }
uint64_t eqs_ctx_free_count(const eqs_ctx *ctx) { return ctx->n_free; }

eqs_status eqs_ctx_set_allocator(eqs_ctx *ctx, const eqs_allocator *a)
{
    if (!a) a = &libc_allocator;
    if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
        return EQS_ERROR(ctx, EQS_ERR_INPUT, "allocator hooks: malloc, realloc and free are "
                                             "all required");
    if (ctx->n_alloc != ctx->n_free)
        return EQS_ERROR(ctx, EQS_ERR_INPUT,
                         "allocator hooks: %llu blocks allocated through the context are still "
                         "alive (install the hooks before allocating)",
                         (unsigned long long)(ctx->n_alloc - ctx->n_free));
    ctx->alloc = *a;
    return EQS_OK;
}

void eqs_ctx_clear_error(eqs_ctx *ctx)
{
    ctx->status = EQS_OK;
    ctx->message[0] = '\0';
    ctx->src_file = NULL;
    ctx->src_line = 0;
}

eqs_status eqs_error_set(eqs_ctx *ctx, eqs_status code, eqs_loc loc, const char *src_file,
                         int src_line, const char *fmt, ...)
{
    if (!ctx || ctx->status != EQS_OK) return code; /* keep the root cause */
    ctx->status = code;
    ctx->src_file = src_file;
    ctx->src_line = src_line;
    int n;
    if (loc.file)
        n = snprintf(ctx->message, sizeof ctx->message, "%s:%d:%d: error: ", loc.file,
                     loc.line, loc.col);
    else
        n = snprintf(ctx->message, sizeof ctx->message, "error: ");
    if (n < 0) n = 0;
    if ((size_t)n < sizeof ctx->message) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->message + n, sizeof ctx->message - (size_t)n, fmt, ap);
        va_end(ap);
    }
    eqs_log(ctx, EQS_LOG_DEBUG, "%s (raised at %s:%d)", ctx->message, src_file, src_line);
    return code;
}

static void vlog(eqs_ctx *ctx, eqs_log_level level, const char *prefix, const char *fmt,
                 va_list ap)
{
    if (!ctx || !ctx->log_fn || level > ctx->log_max) return;
    char buf[EQS_ERRMSG_MAX];
    size_t n = 0;
    if (prefix) {
        snprintf(buf, sizeof buf, "%s", prefix);
        n = strlen(buf);
    }
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    ctx->log_fn(ctx->log_user, level, buf);
}

void eqs_log(eqs_ctx *ctx, eqs_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, NULL, fmt, ap);
    va_end(ap);
}

void eqs_warn_at(eqs_ctx *ctx, eqs_loc loc, const char *fmt, ...)
{
    char prefix[512];
    if (loc.file)
        snprintf(prefix, sizeof prefix, "%s:%d:%d: warning: ", loc.file, loc.line, loc.col);
    else
        snprintf(prefix, sizeof prefix, "warning: ");
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, EQS_LOG_WARN, prefix, fmt, ap);
    va_end(ap);
}

void *eqs_malloc(eqs_ctx *ctx, size_t size)
{
    void *p = ctx->alloc.malloc_fn(ctx->alloc.user, size ? size : 1);
    if (!p) {
        EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
    ctx->n_alloc++;
    return p;
}

void *eqs_calloc(eqs_ctx *ctx, size_t n, size_t size)
{
    if (!n) n = 1;
    if (!size) size = 1;
    /* libc's calloc gets fresh zero pages without touching them; a hook
     * gets malloc + memset. */
    int libc = ctx->alloc.malloc_fn == libc_malloc;
    void *p = n > SIZE_MAX / size ? NULL
              : libc              ? calloc(n, size)
                                  : ctx->alloc.malloc_fn(ctx->alloc.user, n * size);
    if (!p) {
        EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
        return NULL;
    }
    if (!libc) memset(p, 0, n * size);
    ctx->n_alloc++;
    return p;
}

void *eqs_realloc(eqs_ctx *ctx, void *p, size_t size)
{
    if (!size) size = 1;
    void *q = p ? ctx->alloc.realloc_fn(ctx->alloc.user, p, size)
                : ctx->alloc.malloc_fn(ctx->alloc.user, size);
    if (!q) {
        EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory reallocating %zu bytes", size);
        return NULL;
    }
    if (!p) ctx->n_alloc++;
    return q;
}

char *eqs_strndup(eqs_ctx *ctx, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = eqs_malloc(ctx, len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *eqs_strdup(eqs_ctx *ctx, const char *s) { return eqs_strndup(ctx, s, strlen(s)); }

void eqs_free(eqs_ctx *ctx, void *p)
{
    if (!p) return;
    ctx->n_free++;
    ctx->alloc.free_fn(ctx->alloc.user, p);
}

eqs_status eqs_grow(eqs_ctx *ctx, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return EQS_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) ncap *= 2;
    void *p = eqs_realloc(ctx, *arr, ncap * elem);
    if (!p) return EQS_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return EQS_OK;
}

void eqs_advise_huge(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || size < ((size_t)4 << 20)) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t b = ((uintptr_t)p + size) & ~(huge - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

double eqs_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *eqs_str_lower(char *s)
{
    for (char *p = s; *p; ++p) *p = (char)tolower((unsigned char)*p);
    return s;
}

int eqs_str_ieq(const char *a, const char *b)
{
    for (; *a && *b; ++a, ++b)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int eqs_glob_match(const char *p, const char *s)
{
    /* Iterative glob with backtracking to the last '*'. */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '?' || (*p != '*' && tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            ++p;
            ++s;
        } else if (*p == '*') {
            star = p++;
            ss = s;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return 0;
        }
    }
    while (*p == '*') ++p;
    return *p == '\0';
}

/* ---- RNG: xoshiro256** per stream, seeded by splitmix64 ---- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void eqs_ctx_seed(eqs_ctx *ctx, uint64_t seed)
{
    ctx->seed = seed;
    for (int s = 0; s < EQS_RNG_NSTREAMS; ++s) {
        uint64_t x = seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(s + 1));
        for (int k = 0; k < 4; ++k) ctx->rng[s][k] = splitmix64(&x);
    }
}

uint64_t eqs_ctx_get_seed(const eqs_ctx *ctx) { return ctx->seed; }

/* Whole RNG state (checkpoints restore it for bit-identical resumes). */
void eqs_ctx_rng_state_get(const eqs_ctx *ctx, eqs_rng_state *out)
{
    out->seed = ctx->seed;
    memcpy(out->s, ctx->rng, sizeof out->s);
}

eqs_status eqs_ctx_rng_state_set(eqs_ctx *ctx, const eqs_rng_state *st)
{
    for (int s = 0; s < EQS_RNG_NSTREAMS; ++s)
        if (!(st->s[s][0] | st->s[s][1] | st->s[s][2] | st->s[s][3]))
            return EQS_ERROR(ctx, EQS_ERR_INPUT,
                             "RNG stream %d is all zero (not a valid xoshiro256** state)", s);
    ctx->seed = st->seed;
    memcpy(ctx->rng, st->s, sizeof ctx->rng);
    return EQS_OK;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t eqs_rng_u64(eqs_ctx *ctx, eqs_rng_stream stream)
{
    uint64_t *s = ctx->rng[stream];
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double eqs_rng_uniform(eqs_ctx *ctx, eqs_rng_stream stream)
{
    return (double)(eqs_rng_u64(ctx, stream) >> 11) * 0x1.0p-53;
}
