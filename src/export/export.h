/*
 * export.h: private header of the export module (trained netlist,
 * conductance CSV, run directory, checkpoints, plots).
 *
 * Every file the module writes goes through eqs_atomic_* (core/atomic.c,
 * described in core/core.h).
 */
#ifndef EQS_EXPORT_H
#define EQS_EXPORT_H

#include "../circuit/circuit.h"

#include <stdio.h>

/* Epoch and batch of a checkpoint file from its header, without loading it
 * (run directory messages): 0 ok, -1 if unreadable or not a checkpoint. */
int eqs_checkpoint_peek(const char *path, uint64_t *epoch, uint64_t *batch);

#endif /* EQS_EXPORT_H */
