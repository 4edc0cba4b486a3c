/*
 * atomic.c: atomic file writes for the export module (export.h).
 *
 * The FILE handed to writers is a glibc cookie stream (fopencookie) over
 * the temporary file's descriptor, so that the errno of the first failing
 * write(2) (ENOSPC, EFBIG, EIO, ...) is kept: stdio itself drops it, and
 * loses the buffered data too.  After that failure the stream swallows
 * further output and eqs_atomic_commit reports "cannot write '<path>':
 * <strerror>".
 */
#define _GNU_SOURCE /* fopencookie */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    a->fd = -1;
    if (!path || !*path) return EQS_ERROR(ctx, EQS_ERR_IO, "no output file name");
    size_t n = strlen(path) + 32;
    a->path = eqs_strdup(ctx, path);
    a->tmp = eqs_malloc(ctx, n);
    if (!a->path || !a->tmp) {
        eqs_atomic_abort(a);
        return EQS_ERR_NOMEM;
    }
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    /* mode 0666 & ~umask, like every file of a run directory */
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (a->fd < 0) {
        int e = errno;
        eqs_free(ctx, a->tmp);
        a->tmp = NULL; /* nothing to remove */
        eqs_atomic_abort(a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    static const cookie_io_functions_t io = {.write = cookie_write, .close = cookie_close};
    a->f = fopencookie(a, "wb", io);
    if (!a->f) {
        int e = errno;
        eqs_atomic_abort(a);
        return EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", path, strerror(e));
    }
    return EQS_OK;
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

eqs_status eqs_atomic_commit(eqs_atomic *a)
{
    eqs_ctx *ctx = a->ctx;
    /* the first error wins: a failed write, then flush, fsync, close, rename */
    if (fflush(a->f) != 0 && !a->err) a->err = errno ? errno : EIO;
    if (!a->err && fsync(a->fd) != 0) a->err = errno;
    if (fclose(a->f) != 0 && !a->err) a->err = errno ? errno : EIO; /* closes a->fd */
    a->f = NULL;
    if (!a->err && rename(a->tmp, a->path) != 0) a->err = errno;
    if (a->err) {
        eqs_status st =
            EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", a->path, strerror(a->err));
        eqs_atomic_abort(a);
        return st;
    }
    eqs_fsync_dir_of(a->path);
    eqs_free(ctx, a->tmp);
    eqs_free(ctx, a->path);
    a->tmp = a->path = NULL;
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
    eqs_free(a->ctx, a->tmp);
    eqs_free(a->ctx, a->path);
    a->tmp = a->path = NULL;
}
