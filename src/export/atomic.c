/*
 * atomic.c: atomic file writes for the export module (export.h).
 */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

eqs_status eqs_atomic_open(eqs_ctx *ctx, const char *path, eqs_atomic *a)
{
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    if (!path || !*path) return EQS_ERROR(ctx, EQS_ERR_IO, "no output file name");
    size_t n = strlen(path) + 32;
    a->path = eqs_strdup(ctx, path);
    a->tmp = eqs_malloc(ctx, n);
    if (!a->path || !a->tmp) {
        eqs_atomic_abort(a);
        return EQS_ERR_NOMEM;
    }
    snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        int e = errno;
        eqs_free(ctx, a->tmp);
        a->tmp = NULL; /* nothing to remove */
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
    int fail = 0, e = 0;
    if (fflush(a->f) != 0) fail = 1, e = errno;
    if (!fail && fsync(fileno(a->f)) != 0) fail = 1, e = errno;
    if (fclose(a->f) != 0 && !fail) fail = 1, e = errno;
    a->f = NULL;
    if (!fail && rename(a->tmp, a->path) != 0) fail = 1, e = errno;
    if (fail) {
        eqs_status st =
            EQS_ERROR(ctx, EQS_ERR_IO, "cannot write '%s': %s", a->path, strerror(e));
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
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp) remove(a->tmp);
    eqs_free(a->ctx, a->tmp);
    eqs_free(a->ctx, a->path);
    a->tmp = a->path = NULL;
}
