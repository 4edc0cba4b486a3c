/*
 * export.h: private header of the export module (trained netlist,
 * conductance CSV, run directory, checkpoints, plots).
 *
 * Every file the module writes goes through eqs_atomic_*: the data goes to
 * "<path>.tmp.<pid>" in the same directory, is flushed and fsync'd, and is
 * renamed over `path` only when complete; the directory is then fsync'd so
 * that the rename itself survives a crash.  A reader therefore sees either
 * the old file or the new one, never a mixture.  Files are created with
 * mode 0666 & ~umask.
 *
 * Write errors: the first failing write(2) is remembered (a->err) and the
 * stream swallows the rest, so ferror(a->f) stays 0 and writers need not
 * check each call; eqs_atomic_commit then fails with "cannot write
 * '<path>': <strerror>" (ENOSPC, EFBIG, EIO ...) and removes the
 * temporary file.  The eqs_atomic is the stream's cookie: do not copy or
 * move it between open and commit/abort.
 */
#ifndef EQS_EXPORT_H
#define EQS_EXPORT_H

#include "../circuit/circuit.h"

#include <stdio.h>

typedef struct {
    eqs_ctx *ctx;
    FILE *f;    /* the temporary file, open for writing */
    char *path; /* final path (owned) */
    char *tmp;  /* temporary path (owned) */
    int fd;     /* the temporary file's descriptor (f writes to it) */
    int err;    /* errno of the first failed write, 0 if none */
} eqs_atomic;

/* Open "<path>.tmp.<pid>" for writing (binary).  EQS_ERR_IO naming path. */
eqs_status eqs_atomic_open(eqs_ctx *ctx, const char *path, eqs_atomic *a);
/* Flush, fsync, close, rename over the final path, fsync the directory.
 * On any failure the temporary file is removed and EQS_ERR_IO recorded. */
eqs_status eqs_atomic_commit(eqs_atomic *a);
/* Close and remove the temporary file (after a failure); NULL-safe. */
void eqs_atomic_abort(eqs_atomic *a);
/* fsync the directory holding `path` (best effort: 0 ok, -1 failed). */
int eqs_fsync_dir_of(const char *path);
/* write(2) all n bytes (retrying short writes and EINTR): 0 or the errno. */
int eqs_write_all(int fd, const void *buf, size_t n);
/* Epoch and batch of a checkpoint file from its header, without loading it
 * (run directory messages): 0 ok, -1 if unreadable or not a checkpoint. */
int eqs_checkpoint_peek(const char *path, uint64_t *epoch, uint64_t *batch);

#endif /* EQS_EXPORT_H */
