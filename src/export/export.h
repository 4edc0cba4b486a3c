/*
 * export.h: private header of the export module (trained netlist,
 * conductance CSV, run directory, checkpoints, plots).
 *
 * Every file the module writes goes through eqs_atomic_*: the data goes to
 * "<path>.tmp.<pid>" in the same directory, is flushed and fsync'd, and is
 * renamed over `path` only when complete; the directory is then fsync'd so
 * that the rename itself survives a crash.  A reader therefore sees either
 * the old file or the new one, never a mixture.
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

#endif /* EQS_EXPORT_H */
