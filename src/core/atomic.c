/*
 * atomic.c: the one atomic-write implementation of eqspice (core.h).
 * Every file the library writes (run directory, checkpoints, exports,
 * plots, the experiment copy) and every -o file of the CLI (through the
 * public eqs_output_*) goes through it, so that there is one set of
 * temporary names, "<path>.tmp.<pid>", and one crash cleanup that knows
 * them (eqs_atomic_is_temp, used by the run directory).
 *
 * The FILE handed to writers is a glibc cookie stream (fopencookie) over
 * the temporary file's descriptor, so that the errno of the first failing
 * write(2) (ENOSPC, EFBIG, EIO, ...) is kept: stdio itself drops it, and
 * loses the buffered data too.  After that failure the stream swallows
 * further output and eqs_atomic_commit reports "cannot write '<path>':
 * <strerror>".
 */
#define _GNU_SOURCE /* fopencookie */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int eqs_write_all(int fd, const void *data, size_t n)
{
    const char *buf = data;
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Cookie write: keeps the first error, then reports every byte as written
 * (the stream's error flag stays clear; commit reports a->err). */
static ssize_t cookie_write(void *cookie, const char *buf, size_t n)
{
    eqs_atomic *a = cookie;
    if (!a->err) a->err = eqs_write_all(a->fd, buf, n);
    return (ssize_t)n;
}

static int cookie_close(void *cookie)
{
    eqs_atomic *a = cookie;
    int r = close(a->fd);
    if (r != 0 && !a->err) a->err = errno;
    a->fd = -1;
    return r;
}

eqs_status eqs_atomic_open(eqs_ctx *ctx, const char *path, eqs_atomic *a)
{
    return eqs_atomic_open_flags(ctx, path, 0, a);
}

eqs_status eqs_atomic_open_flags(eqs_ctx *ctx, const char *path, unsigned flags, eqs_atomic *a)
{
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    a->fd = -1;
    if (!path || !*path) return EQS_ERROR(ctx, EQS_ERR_IO, "no output file name");
    a->path = eqs_strdup(ctx, path);
    if (!a->path) return EQS_ERR_NOMEM;
    const char *target = path; /* the file that is replaced */
    char *real = NULL;
    if (flags & EQS_ATOMIC_FOLLOW) {
        struct stat sb;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            /* a device, FIFO or terminal: renaming over it would replace
             * it with a file, so it is written in place */
            a->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
            if (a->fd < 0) goto io_error;
            goto stream;
        }
        real = realpath(path, NULL); /* libc's malloc, outside the hooks */
        if (real) target = real;
    }
    a->target = eqs_strdup(ctx, target);
    size_t n = strlen(target) + 32;
    a->tmp = a->target ? eqs_malloc(ctx, n) : NULL;
    free(real);
    if (!a->tmp) {
        eqs_atomic_abort(a);
        return EQS_ERR_NOMEM;
    }
    snprintf(a->tmp, n, "%s" EQS_ATOMIC_TEMP_INFIX "%ld", a->target, (long)getpid());
    /* mode 0666 & ~umask, like every file of a run directory */
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (a->fd < 0) {
        eqs_free(ctx, a->tmp);
        a->tmp = NULL; /* nothing to remove */
        goto io_error;
    }
stream:;
    static const cookie_io_functions_t io = {.write = cookie_write, .close = cookie_close};
    a->f = fopencookie(a, "wb", io);
    if (!a->f) goto io_error;
    return EQS_OK;

io_error:;
    int e = errno;
    eqs_atomic_abort(a);
    return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(e));
}

int eqs_fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static void release(eqs_atomic *a)
{
    eqs_free(a->ctx, a->tmp);
    eqs_free(a->ctx, a->target);
    eqs_free(a->ctx, a->path);
    a->tmp = a->target = a->path = NULL;
}

eqs_status eqs_atomic_commit(eqs_atomic *a)
{
    eqs_ctx *ctx = a->ctx;
    /* the first error wins: a failed write, then flush, fsync, close, rename
     * (a file written in place, a->tmp NULL, is a device: no fsync, no rename) */
    if (fflush(a->f) != 0 && !a->err) a->err = errno ? errno : EIO;
    if (a->tmp && !a->err && fsync(a->fd) != 0) a->err = errno;
    if (fclose(a->f) != 0 && !a->err) a->err = errno ? errno : EIO; /* closes a->fd */
    a->f = NULL;
    if (a->tmp && !a->err && rename(a->tmp, a->target) != 0) a->err = errno;
    if (a->err) {
        eqs_status st =
            EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", a->path, strerror(a->err));
        eqs_atomic_abort(a);
        return st;
    }
    if (a->tmp) eqs_fsync_dir_of(a->target);
    release(a);
    return EQS_OK;
}

void eqs_atomic_abort(eqs_atomic *a)
{
    if (!a) return;
    if (a->f) fclose(a->f); /* closes a->fd */
    else if (a->fd >= 0) close(a->fd);
    a->f = NULL;
    a->fd = -1;
    if (a->tmp) remove(a->tmp);
    release(a);
}

int eqs_atomic_is_temp(const char *name, const char *base)
{
    size_t n = strlen(base), k = strlen(EQS_ATOMIC_TEMP_INFIX);
    if (strncmp(name, base, n) || strncmp(name + n, EQS_ATOMIC_TEMP_INFIX, k)) {
        /* "<base>.tmpXXXXXX": the mkstemp names of eqs_experiment_write
         * before it used this file, still removed from old run directories */
        const char *s = name + n + 4;
        if (strncmp(name, base, n) || strncmp(name + n, ".tmp", 4) || strlen(s) != 6) return 0;
        for (; *s; ++s)
            if (!isalnum((unsigned char)*s)) return 0;
        return 1;
    }
    const char *s = name + n + k;
    if (!*s) return 0;
    for (; *s; ++s)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* ---- the public face (eqspice.h), for hosts and the CLI ---- */
struct eqs_output {
    eqs_atomic a; /* the stream's cookie: the struct never moves */
};

eqs_status eqs_output_open(eqs_ctx *ctx, const char *path, eqs_output **out)
{
    *out = NULL;
    eqs_output *o = eqs_malloc(ctx, sizeof *o);
    if (!o) return EQS_ERR_NOMEM;
    eqs_status st = eqs_atomic_open_flags(ctx, path, EQS_ATOMIC_FOLLOW, &o->a);
    if (st != EQS_OK) {
        eqs_free(ctx, o);
        return st;
    }
    *out = o;
    return EQS_OK;
}

FILE *eqs_output_stream(eqs_output *o) { return o ? o->a.f : NULL; }

eqs_status eqs_output_commit(eqs_output **o)
{
    if (!o || !*o) return EQS_ERR_INPUT;
    eqs_ctx *ctx = (*o)->a.ctx;
    eqs_status st = eqs_atomic_commit(&(*o)->a);
    eqs_free(ctx, *o);
    *o = NULL;
    return st;
}

void eqs_output_abort(eqs_output **o)
{
    if (!o || !*o) return;
    eqs_ctx *ctx = (*o)->a.ctx;
    eqs_atomic_abort(&(*o)->a);
    eqs_free(ctx, *o);
    *o = NULL;
}
