/*
 * file.c: the one way the library opens a file it reads (netlists,
 * .include files, experiments, datasets, checkpoints, metrics).
 *
 * Only regular files are accepted: /dev/zero would fill memory, a FIFO
 * would block forever, a directory reads as an error much later.  The file
 * is opened with O_NONBLOCK (so that opening a FIFO with no writer returns
 * at once instead of blocking), checked with fstat on the descriptor that
 * is then read (no race between the check and the read), and only then
 * handed to stdio.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a non-regular file is, for the message. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a plain file";
}

int eqs_file_open_fd(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                     eqs_status code, eqs_file_info *info)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        EQS_ERROR_AT(ctx, code, where, "cannot open %s '%s': %s", what, path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        EQS_ERROR_AT(ctx, code, where, "cannot read %s '%s': %s", what, path, strerror(e));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        EQS_ERROR_AT(ctx, code, where, "cannot read %s '%s': not a regular file (%s)", what,
                     path, file_kind(sb.st_mode));
        return -1;
    }
    /* a regular file ignores O_NONBLOCK, but reads should not depend on it */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (info) {
        info->size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
        info->dev = (uint64_t)sb.st_dev;
        info->ino = (uint64_t)sb.st_ino;
    }
    return fd;
}

FILE *eqs_file_open(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                    eqs_status code, eqs_file_info *info)
{
    int fd = eqs_file_open_fd(ctx, path, what, where, code, info);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        EQS_ERROR(ctx, EQS_ERR_NOMEM, "out of memory opening %s '%s'", what, path);
    }
    return f;
}

eqs_status eqs_file_check(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                          eqs_status code)
{
    int fd = eqs_file_open_fd(ctx, path, what, where, code, NULL);
    if (fd < 0) return eqs_ctx_status(ctx) ? eqs_ctx_status(ctx) : code;
    close(fd);
    return EQS_OK;
}

eqs_status eqs_file_read(eqs_ctx *ctx, const char *path, const char *what, eqs_loc where,
                         eqs_status code, char **buf, size_t *len, eqs_file_info *info)
{
    *buf = NULL;
    *len = 0;
    eqs_file_info fi;
    FILE *f = eqs_file_open(ctx, path, what, where, code, &fi);
    if (!f) return eqs_ctx_status(ctx) ? eqs_ctx_status(ctx) : code;
    if (info) *info = fi;
    /* one allocation of the size fstat reported (+1 for the NUL); grow
     * only if the file grew since */
    size_t cap = (size_t)fi.size + 1, n = 0;
    if (cap < 4096) cap = 4096;
    char *b = eqs_malloc(ctx, cap);
    if (!b) {
        fclose(f);
        return EQS_ERR_NOMEM;
    }
    eqs_advise_huge(b, cap);
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = eqs_realloc(ctx, b, cap * 2);
            if (!nb) {
                eqs_free(ctx, b);
                fclose(f);
                return EQS_ERR_NOMEM;
            }
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (bad) {
        eqs_free(ctx, b);
        return EQS_ERROR_AT(ctx, code, where, "cannot read %s '%s': %s", what, path,
                            strerror(bad));
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return EQS_OK;
}
